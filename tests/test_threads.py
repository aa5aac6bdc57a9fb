"""Threads: one router shared under the user's lock, and native work that releases the GIL.

A router is not thread-safe (like a dict being mutated, it needs the caller's lock); with
that lock, threads driving one router must see exactly what one thread making the same calls
in the same order would see. Several threads drive one native router, each with its own
agents and calls and a log of every call in the order the lock let it through; afterwards a
fresh router of each implementation replays the log serially and must give every same
result, the threaded router's indexes must be intact, its statistics must count every call
that arrived, and every call offered at the end must have been offered to some thread.

The simulator, snapshots and restores release the GIL around their native work: a Python
thread that keeps counting must make progress while one of them runs (a count, not a time),
and two simulations in threads must give the results of two serial runs.

About 5 s (``python -m pytest tests/test_threads.py``).
"""

from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ccroute import Config, InvalidTransitionError, Plan, RoutingError, Step
from ccroute.reference import ReferenceRouter
from conftest import NATIVE_MISSING, NativeRouter
from test_equivalence import observe

pytestmark = pytest.mark.skipif(NativeRouter is None, reason=str(NATIVE_MISSING))

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
THREADS, OPS = 4, 1500


def centre() -> Config:
    """Two sites, a card line that widens after 10 s and a VIP line; unanswered offers time out."""
    return Config(sites=["north", "south"], regions={"east": {"north": 0, "south": 1}},
                  plans=[Plan("card", steps=[Step(require={"card": 3}), Step(after=10, require={"card": 1})],
                              wrapup=2.0),
                         Plan("vip", steps=[Step(require={"vip": 1}, max_distance=0)], base_priority=50.0)],
                  offer_timeout=15.0)


class SharedRouter:
    """The user's side: one router, one lock, one clock, and the log of calls in lock order."""

    def __init__(self, router) -> None:
        self.router = router
        self.lock = threading.Lock()
        self.now = 0.0
        self.log: list[tuple[str, tuple, object]] = []

    def call(self, rng: random.Random, name: str, *args):
        with self.lock:
            if name not in ("add_agent", "snapshot", "stats"):
                self.now += rng.choice([0.0, 0.0, 0.5, 1.0, 3.0])
                args = (*args, self.now)
            outcome = run(self.router, name, args)
            self.log.append((name, args, outcome))
        return outcome


def run(router, name, args):
    """("ok", result) or (error class, the offers a refused transition carries)."""
    try:
        return ("ok", getattr(router, name)(*args))
    except InvalidTransitionError as error:
        return (InvalidTransitionError, error.offers)
    except RoutingError as error:
        return (type(error), None)


def switch(shared: SharedRouter, index: int) -> None:
    """One thread: its own agents and calls; it answers the offers its calls returned to it."""
    rng = random.Random(index)
    agents = [f"t{index}-a{k}" for k in range(6)]
    offered: list = []   # offers returned to this thread, not yet answered
    connected: list = []  # calls this thread's answers connected
    created = 0
    for agent in agents:
        skills = rng.choice([{"card": 5}, {"card": 2}, {"card": 5, "vip": 3}, {"vip": 8}])
        shared.call(rng, "add_agent", agent, rng.choice(["north", "south"]), skills)
    for _ in range(OPS):
        op = rng.choice(["ready", "ready", "arrive", "arrive", "answer", "answer", "hangup", "not_ready",
                         "logout", "abandon", "advance", "snapshot", "stats"])
        if op == "arrive":
            created += 1
            outcome = shared.call(rng, "arrive", f"t{index}-c{created}", rng.choice(["card", "vip"]),
                                  rng.choice([None, "east"]))
        elif op == "answer" and offered:
            offer = offered.pop(rng.randrange(len(offered)))
            name = "accept" if rng.random() < 0.8 else "reject"
            outcome = shared.call(rng, name, offer.call_id, offer.agent_id)
            if name == "accept" and outcome[0] == "ok":
                connected.append(offer.call_id)
        elif op == "hangup" and connected:
            outcome = shared.call(rng, "hangup", connected.pop(rng.randrange(len(connected))))
        elif op == "abandon":
            outcome = shared.call(rng, "abandon", f"t{index}-c{rng.randint(1, max(created, 1))}")
        elif op in ("ready", "not_ready", "logout"):
            outcome = shared.call(rng, op, rng.choice(agents))
        elif op in ("snapshot", "stats"):
            outcome = shared.call(rng, op)  # snapshot releases the GIL while holding the user's lock
        else:
            outcome = shared.call(rng, "advance")
        if outcome[0] == "ok" and isinstance(outcome[1], list):
            offered.extend(outcome[1])
        elif outcome[0] is InvalidTransitionError:
            offered.extend(outcome[1])
        if rng.random() < 0.1:
            time.sleep(0)  # let another thread take the lock


def test_threads_sharing_a_router_under_a_lock_see_what_one_thread_would():
    config = centre()
    shared = SharedRouter(NativeRouter(config))
    threads = [threading.Thread(target=switch, args=(shared, i)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    router, log = shared.router, shared.log
    router._check_invariants()
    assert len(log) == THREADS * (OPS + 6)
    threads_of = {name: {a[0].split("-")[0] for n, a, _ in log if n == name} for name in ("arrive", "accept")}
    assert threads_of["arrive"] == {f"t{i}" for i in range(THREADS)}, "every thread got its turn"

    # The same calls in the same order, from one thread, give every same result.
    for Router in (NativeRouter, ReferenceRouter):
        replay = Router(config)
        for i, (name, args, outcome) in enumerate(log):
            again = run(replay, name, args)
            if name == "snapshot" and Router is ReferenceRouter:
                continue  # the reference numbers its skills its own way: same state, other bytes
            assert again == outcome, (Router.__name__, i, name, args)
        assert observe(replay, shared.now) == observe(router, shared.now)

    # Every call that arrived is waiting, offered, answered or abandoned.
    arrived = {p.name: 0 for p in config.plans}
    for name, args, outcome in log:
        if name == "arrive" and outcome[0] == "ok":
            arrived[args[1]] += 1
    calls = router.calls()
    for plan, stats in router.stats().items():
        offered_now = sum(c.plan == plan and c.state == "offered" for c in calls)
        assert stats.arrived == arrived[plan]
        assert stats.arrived == stats.waiting + offered_now + stats.answered + stats.abandoned

    # No offer was lost: each call offered now was last offered, to its holder, in a result
    # returned to some thread; and each answer that connected a call answered such an offer.
    latest = {}
    for name, args, outcome in log:
        if name == "accept" and outcome[0] == "ok":
            assert latest.get(args[0]) == args[1], ("accepted without an offer", args)
        offers = outcome[1] if outcome[0] is InvalidTransitionError or (
            outcome[0] == "ok" and isinstance(outcome[1], list)) else []
        for offer in offers:
            latest[offer.call_id] = offer.agent_id
    for call in calls:
        if call.state == "offered":
            assert latest.get(call.call_id) == call.agent_id, call


# ------------------------------------------------------------------------ GIL


class Counter(threading.Thread):
    """Counts in Python until stopped: its count moves only while it holds the GIL."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.count = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.count += 1
            time.sleep(0)  # hands the GIL back at once when the native thread wants it


def counted_while(work):
    """How far a counting Python thread got while ``work()`` ran in this one.

    With a switch interval of 5 s, the interpreter does not take the GIL from this thread
    during ``work``: the counter moves only if ``work`` releases the GIL itself.
    """
    counter = Counter()
    interval = sys.getswitchinterval()
    counter.start()
    while counter.count == 0:  # the counter is running
        time.sleep(0.001)
    sys.setswitchinterval(5.0)
    try:
        before = counter.count
        result = work()
        progress = counter.count - before
    finally:
        sys.setswitchinterval(interval)
        counter.stop.set()
        counter.join()
    return progress, result


def test_the_simulator_releases_the_gil(monkeypatch):
    import ccroute.sim as sim

    day = sim.Scenario.load(EXAMPLES / "bank_day.toml")
    progress = []
    core = sim._core

    class Witness:  # counts around the native call alone, not sim.run's Python around it
        def __getattr__(self, name):
            return getattr(core, name)

        @staticmethod
        def simulate(*args):
            moved, raw = counted_while(lambda: core.simulate(*args))
            progress.append(moved)
            return raw

    monkeypatch.setattr(sim, "_core", Witness())
    result = sim.run(day, seed=1)
    assert result.calls["arrival"].size > 100_000
    assert progress[0] > 0, "a Python thread made no progress while the simulator ran"


def test_two_simulations_in_threads_give_the_results_of_serial_runs():
    import ccroute.sim as sim

    day = sim.Scenario.load(EXAMPLES / "bank_day.toml")
    serial = [sim.run(day, seed=s).calls for s in (1, 2)]
    threaded: dict[int, dict] = {}
    threads = [threading.Thread(target=lambda s=s: threaded.__setitem__(s, sim.run(day, seed=s).calls))
               for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s, calls in zip((1, 2), serial):
        assert threaded[s].keys() == calls.keys()
        for column in calls:
            np.testing.assert_array_equal(threaded[s][column], calls[column], err_msg=column)


def big_router(calls: int):
    """A router holding many waiting calls, so that a snapshot takes a while."""
    config = Config(sites=["s"], plans=[Plan("p", steps=[Step(require={"x": 1}), Step(after=30.0)])])
    router = NativeRouter(config)
    for i in range(calls):
        router.arrive(i, "p", i * 1e-3, value=float(i % 7))
    return config, router


def test_snapshot_and_restore_release_the_gil():
    config, router = big_router(200_000)
    moved, blob = counted_while(router.snapshot)
    assert moved > 0, "a Python thread made no progress while the snapshot was written"
    moved, restored = counted_while(lambda: NativeRouter.restore(config, blob))
    assert moved > 0, "a Python thread made no progress while the snapshot was restored"
    assert restored.snapshot() == blob


def test_recovering_from_a_journal_releases_the_gil(tmp_path):
    journal = str(tmp_path / "journal")
    config = Config(sites=["s"], plans=[Plan("p", steps=[Step(require={"x": 1}), Step(after=30.0)])])
    router = NativeRouter(config, journal=journal, sync="none")
    for i in range(100_000):
        router.arrive(i, "p", i * 1e-3)
    router.stop_journal()
    moved, recovered = counted_while(lambda: NativeRouter.recover(config, journal, sync="none"))
    assert moved > 0, "a Python thread made no progress while the journal was replayed"
    assert recovered.snapshot() == router.snapshot()
    recovered.stop_journal()
