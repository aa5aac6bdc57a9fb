"""Cost of a routing decision through the Python API: native core vs reference model.

The centre (bench/centre.py): 5 sites, 34 regions, 60 plans of 3 steps, 24 skills,
agents from 20 skill templates. Four operations, each measured for both implementations
in the same run (group ``router``):

* ``arrive_match``   — ``arrive`` of a call that is offered at once (5,000 ready agents);
* ``arrive_enqueue`` — ``arrive`` of a call that must wait (10,000 waiting, none ready);
* ``ready_pick``     — ``ready`` of an agent that picks a waiting call (10,000 waiting);
* ``advance_escalate`` — ``advance`` that fires about one step escalation (10,000 waiting
  calls with staggered arrivals);

plus ``agent_state`` as the floor of one binding call (a lookup, no decision). The
``scaling-*`` groups (native only) repeat the decisions at 1k/10k/100k waiting calls and
500/5,000/20,000 agents.

Each timed round performs K operations (``extra_info["ops"]``); the untimed setup before
each round undoes the previous one (rejects, abandons, accept + hang-up) so that every
round starts from the same state. Nothing is asserted about time.
"""

from __future__ import annotations

import bisect
import random
from typing import Any

import pytest

import centre as bank
from conftest import Impl, StateCache

MAIN_AGENTS = 5_000
MAIN_CALLS = 10_000
SPAN = 60.0  # the waiting calls arrived evenly over the last minute
ESCALATIONS = tuple(step.after for step in bank.config().plans[0].steps[1:])  # 15 s, 40 s

def _info(benchmark: Any, impl: Impl, op: str, size_kind: str, size: int, ops: int, **extra: Any) -> None:
    benchmark.extra_info.update(op=op, impl=impl.name, size_kind=size_kind, size=size, ops=ops, **extra)


# ------------------------------------------------------------------ scenarios

def run_arrive_match(benchmark: Any, impl: Impl, states: StateCache, n_agents: int, k: int) -> None:
    """K arrivals, each offered at once to one of ``n_agents`` ready agents.

    The calls are drawn from the centre's mix, keeping those whose first step admits at
    least 2 % of the staff (so that K arrivals in a row do not exhaust their pool). The
    setup then abandons any call that had to wait and accepts + hangs up (zero wrap-up)
    the offered ones, so every agent is ready again for the next round.
    """
    c = states.get(("agents", impl.name, n_agents), lambda: bank.agent_surplus(impl.cls, n_agents))
    router = c.router
    need = max(3, n_agents // 50)
    pool = bank.first_step_pool(c.agents)
    specs = [s for s in bank.calls(20 * k, seed=bank.SEED + 7) if pool(s) >= need][:k]
    assert len(specs) == k, "not enough matchable calls in the mix"
    rows = bank.call_rows("m", specs)
    arrive = router.arrive
    last: list[list[Any]] = []
    matched: list[float] = []

    def restore() -> None:
        if not last:
            return
        results = last.pop()
        matched.append(sum(1 for r in results if r) / len(results))
        bank.undo_arrivals(router, rows, results, c.now)

    def setup() -> tuple[tuple, dict]:
        restore()
        c.now += 1.0  # each round a second later; no timer is pending between rounds
        return (c.now,), {}

    def target(t: float) -> None:
        last.append([arrive(cid, plan=plan, now=t, region=region, language=language, value=value,
                            repeats=repeats)
                     for cid, plan, region, language, value, repeats in rows])

    benchmark.pedantic(target, setup=setup, rounds=impl.rounds, warmup_rounds=impl.warmup, iterations=1)
    restore()
    _info(benchmark, impl, "arrive_match", "agents", n_agents, k, matched=min(matched))


def _call_surplus(impl: Impl, states: StateCache, n_calls: int) -> bank.Centre:
    return states.get(("calls", impl.name, n_calls),
                      lambda: bank.call_surplus(impl.cls, n_calls, n_agents=MAIN_AGENTS, span=SPAN))


def run_arrive_enqueue(benchmark: Any, impl: Impl, states: StateCache, n_calls: int, k: int) -> None:
    """K arrivals that find no ready agent and join the ``n_calls`` already waiting.

    All at the same instant (no timer fires); the setup abandons them again.
    """
    c = _call_surplus(impl, states, n_calls)
    router = c.router
    rows = bank.call_rows("q", bank.calls(k, seed=bank.SEED + 11))
    arrive, t = router.arrive, c.now
    last: list[list[Any]] = []
    enqueued: list[float] = []

    def restore() -> None:
        if last:
            results = last.pop()
            enqueued.append(sum(1 for r in results if not r) / len(results))
            for row in rows:
                router.abandon(row[0], t)

    def setup() -> None:
        restore()

    def target() -> None:
        last.append([arrive(cid, plan=plan, now=t, region=region, language=language, value=value,
                            repeats=repeats)
                     for cid, plan, region, language, value, repeats in rows])

    benchmark.pedantic(target, setup=setup, rounds=impl.rounds, warmup_rounds=impl.warmup, iterations=1)
    restore()
    _info(benchmark, impl, "arrive_enqueue", "waiting calls", n_calls, k, enqueued=min(enqueued))


def run_ready_pick(benchmark: Any, impl: Impl, states: StateCache, n_calls: int, k: int) -> None:
    """K agents (a fixed random sample) become ready, each picking one of ``n_calls`` waiting calls.

    The setup rejects each offer, which puts the call back in its place and the agent in
    not-ready, so the next round makes the same decisions.
    """
    c = _call_surplus(impl, states, n_calls)
    router = c.router
    sample = [a.id for a in random.Random(bank.SEED + 13).sample(c.agents, k)]
    ready, t = router.ready, c.now
    last: list[list[Any]] = []
    picked: list[float] = []

    def restore() -> None:
        if last:
            results = last.pop()
            picked.append(sum(1 for r in results if r) / len(results))
            bank.undo_readies(router, sample, results, t)

    def setup() -> None:
        restore()

    def target() -> None:
        last.append([ready(agent_id, t) for agent_id in sample])

    benchmark.pedantic(target, setup=setup, rounds=impl.rounds, warmup_rounds=impl.warmup, iterations=1)
    restore()
    _info(benchmark, impl, "ready_pick", "waiting calls", n_calls, k, picked=min(picked))


def run_advance_escalate(benchmark: Any, impl: Impl, states: StateCache, n_calls: int, k: int) -> None:
    """K calls of ``advance``, each moving time on by half the arrival gap.

    The ``n_calls`` waiting calls arrived one gap apart over the last minute, so in the
    next 15 s one step escalation falls due per half gap: each ``advance`` fires about
    one (the exact count is in ``extra_info``), with no agent ready to take the call.
    When a round would run past that window the state is rebuilt (untimed).
    """
    key = ("escalate", impl.name, n_calls)

    def build() -> bank.Centre:
        return bank.call_surplus(impl.cls, n_calls, n_agents=MAIN_AGENTS, span=SPAN)

    holder = {"c": states.get(key, build)}
    gap = SPAN / n_calls
    delta = gap / 2
    window_end = SPAN + min(ESCALATIONS)
    fired: list[float] = []

    def due_between(arrivals: list[float], t0: float, t1: float) -> int:
        return sum(bisect.bisect_right(arrivals, t1 - e) - bisect.bisect_right(arrivals, t0 - e)
                   for e in ESCALATIONS)

    def setup() -> tuple[tuple, dict]:
        c = holder["c"]
        if c.now + k * delta > window_end:
            states.drop(key)
            c = holder["c"] = states.get(key, build)
        times = [c.now + delta * (j + 1) for j in range(k)]
        fired.append(due_between(c.arrivals, c.now, times[-1]) / k)
        c.now = times[-1]
        return (c.router.advance, times), {}

    def target(advance: Any, times: list[float]) -> None:
        for t in times:
            advance(t)

    benchmark.pedantic(target, setup=setup, rounds=impl.rounds, warmup_rounds=impl.warmup, iterations=1)
    _info(benchmark, impl, "advance_escalate", "waiting calls", n_calls, k,
          escalations_per_op=round(sum(fired) / len(fired), 3))


def run_agent_state(benchmark: Any, impl: Impl, states: StateCache, n_agents: int, k: int) -> None:
    """K ``agent_state`` queries: the cost of crossing the binding with no decision made."""
    c = states.get(("agents", impl.name, n_agents), lambda: bank.agent_surplus(impl.cls, n_agents))
    ids = [a.id for a in c.agents[:k]]
    agent_state = c.router.agent_state

    def target() -> None:
        for agent_id in ids:
            agent_state(agent_id)

    benchmark.pedantic(target, rounds=impl.rounds, warmup_rounds=impl.warmup, iterations=1)
    _info(benchmark, impl, "agent_state", "agents", n_agents, k)


# ------------------------------------------------------------------ the main table

@pytest.mark.benchmark(group="router")
def test_arrive_match(benchmark: Any, impl: Impl, states: StateCache) -> None:
    run_arrive_match(benchmark, impl, states, MAIN_AGENTS, impl.ops)


@pytest.mark.benchmark(group="router")
def test_arrive_enqueue(benchmark: Any, impl: Impl, states: StateCache) -> None:
    run_arrive_enqueue(benchmark, impl, states, MAIN_CALLS, impl.ops)


@pytest.mark.benchmark(group="router")
def test_ready_pick(benchmark: Any, impl: Impl, states: StateCache) -> None:
    run_ready_pick(benchmark, impl, states, MAIN_CALLS, impl.ops)


@pytest.mark.benchmark(group="router")
def test_advance_escalate(benchmark: Any, impl: Impl, states: StateCache) -> None:
    run_advance_escalate(benchmark, impl, states, MAIN_CALLS, impl.ops)


@pytest.mark.benchmark(group="router")
def test_agent_state(benchmark: Any, impl: Impl, states: StateCache) -> None:
    run_agent_state(benchmark, impl, states, MAIN_AGENTS, impl.ops)


# ------------------------------------------------------------------ scaling (native only)

@pytest.mark.benchmark(group="scaling-arrive_match")
@pytest.mark.parametrize("n_agents", [500, 5_000, 20_000])
def test_scaling_arrive_match(benchmark: Any, native: Impl, states: StateCache, n_agents: int) -> None:
    # K at most a tenth of the staff, so the round does not run out of agents.
    run_arrive_match(benchmark, native, states, n_agents, min(native.ops, n_agents // 10))


@pytest.mark.benchmark(group="scaling-arrive_enqueue")
@pytest.mark.parametrize("n_calls", [1_000, 10_000, 100_000])
def test_scaling_arrive_enqueue(benchmark: Any, native: Impl, states: StateCache, n_calls: int) -> None:
    run_arrive_enqueue(benchmark, native, states, n_calls, native.ops)


@pytest.mark.benchmark(group="scaling-ready_pick")
@pytest.mark.parametrize("n_calls", [1_000, 10_000, 100_000])
def test_scaling_ready_pick(benchmark: Any, native: Impl, states: StateCache, n_calls: int) -> None:
    # K at most a tenth of the waiting calls, so the round does not drain the queues.
    run_ready_pick(benchmark, native, states, n_calls, min(native.ops, n_calls // 10))
