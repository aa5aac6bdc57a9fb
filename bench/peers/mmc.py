"""One M/M/c queue, simulated by ccroute, by SimPy and by Ciw.

The scenario (all times in seconds):

* Poisson arrivals at ``RATE`` calls/s from t = 0 (the system starts empty) until the
  horizon ``HORIZON``; no arrival at or after the horizon;
* ``AGENTS`` identical agents on duty over the whole horizon, one skill, no wrap-up, no
  ring time, no missed offers;
* exponential handling times of mean ``AHT``;
* infinitely patient callers (nobody abandons), first come first served.

KPIs, with one definition shared by the three (:func:`kpis` computes them from the same
three per-call arrays of each simulator, so they cannot drift apart):

* ``calls``: arrivals in [0, HORIZON);
* ``answered``: of those, the calls whose service started before HORIZON; a call still
  queued at the horizon is left out of the KPIs (with patience None there are no
  abandoned calls, so "answered + abandoned" is just "answered");
* ``service_level``: share of the answered calls with wait <= ``SL_THRESHOLD`` (20 s);
* ``asa``: mean wait of the answered calls, where wait = answer time − arrival time.

No warm-up is discarded: every run starts empty at t = 0 and every arrival counts. The
empty start biases the KPIs a little towards a better service than the steady state
(Erlang C); over ``HORIZON`` that bias is far below the run's sampling error (see
test_peers.py, which checks it).

Each ``run_*(seed)`` builds the model, simulates it and returns the KPI dict; that whole
path is what the benchmark times. ``events`` is the event count of the run where the
simulator reports one (ccroute), else None.
"""

from __future__ import annotations

import math
import random
from typing import Any, NamedTuple, Optional

import numpy as np

AGENTS = 50
AHT = 180.0
OCCUPANCY = 0.9
RATE = OCCUPANCY * AGENTS / AHT  # 0.25 calls/s: offered load 45 Erlangs on 50 agents
INTERVAL = 3600.0
INTERVALS = 80
HORIZON = INTERVAL * INTERVALS  # 80 h: about 72,000 calls
SL_THRESHOLD = 20.0
BATCHES = 10  # batches of 8 h for the standard errors (batch means)

PARAMETERS = dict(agents=AGENTS, aht=AHT, rate=RATE, occupancy=OCCUPANCY, horizon=HORIZON,
                  sl_threshold=SL_THRESHOLD)


class Calls(NamedTuple):
    """Per-call data of one run, every arrival in [0, HORIZON): arrival time, answered flag, wait.

    ``wait`` is only meaningful where ``answered`` is true.
    """

    arrival: np.ndarray
    answered: np.ndarray
    wait: np.ndarray
    events: Optional[int] = None


def kpis(calls: Calls) -> dict[str, Any]:
    """The KPIs of one run (the module docstring defines them), with batch-means standard errors."""
    batch, wait, within = answered_by_batch(calls)
    sl, asa = batch_means(batch, wait, within)
    return {
        "calls": int(len(calls.arrival)),
        "answered": int(len(wait)),
        "service_level": float(np.mean(within)) if len(wait) else math.nan,
        "asa": float(np.mean(wait)) if len(wait) else math.nan,
        "service_level_se": float(np.std(sl, ddof=1) / math.sqrt(len(sl))),
        "asa_se": float(np.std(asa, ddof=1) / math.sqrt(len(asa))),
        "events": calls.events,
    }


def batch_values(calls: Calls, batches: int = BATCHES) -> tuple[np.ndarray, np.ndarray]:
    """Service level and ASA of the calls arriving in each of ``batches`` equal slices of [0, HORIZON).

    Batches of hours are much longer than the queue's memory (minutes at this load), so
    their values are close to independent and their spread estimates the sampling error
    of the run: standard error = std(batch values) / sqrt(batches).
    """
    return batch_means(*answered_by_batch(calls, batches), batches)


def answered_by_batch(calls: Calls, batches: int = BATCHES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of the answered calls: batch numbers (0 .. batches − 1, by arrival), waits, and 1.0 where
    the wait is within ``SL_THRESHOLD`` (else 0.0).

    Three arrays as long as the answered calls, made once and worked on in place: each
    ~0.5 MB temporary is fresh memory whose pages fault at their first write (the KPIs of
    ccroute's run took 2.6 ms, 774 page faults, when every step made its own arrays and
    picked the answered calls anew). The KPIs are the same to the bit.
    """
    scratch = calls.arrival[calls.answered]  # a copy: arrival times, then the within flags
    scratch *= batches / HORIZON
    batch = scratch.astype(np.int64)
    np.minimum(batch, batches - 1, out=batch)
    wait = calls.wait[calls.answered]
    within = np.less_equal(wait, SL_THRESHOLD, out=scratch)
    return batch, wait, within


def batch_means(batch: np.ndarray, wait: np.ndarray, within: np.ndarray,
                batches: int = BATCHES) -> tuple[np.ndarray, np.ndarray]:
    """Per batch: the share of calls ``within`` the threshold and the mean wait."""
    n = np.bincount(batch, minlength=batches).astype(float)
    answered_within = np.bincount(batch, weights=within, minlength=batches)
    total_wait = np.bincount(batch, weights=wait, minlength=batches)
    with np.errstate(invalid="ignore", divide="ignore"):
        return answered_within / n, total_wait / n


# ---------------------------------------------------------------- ccroute

def ccroute_scenario() -> Any:
    from ccroute import Config, Plan, Step
    from ccroute.sim import AgentGroup, Demand, HandleTime, Scenario

    routing = Config(sites=["s"], plans=[Plan("q", steps=[Step(require={"x": 1})], sl_threshold=SL_THRESHOLD)])
    return Scenario(routing, [Demand("q", [RATE] * INTERVALS, handle=HandleTime(AHT), patience=None)],
                    [AgentGroup("g", "s", {"x": 5}, AGENTS, [(0.0, HORIZON)])],
                    interval=INTERVAL, intervals=INTERVALS)


def simulate_ccroute(seed: int) -> Calls:
    from ccroute.sim import ANSWERED, run

    r = run(ccroute_scenario(), seed=seed)
    c = r.calls
    return Calls(c["arrival"], c["outcome"] == ANSWERED, c["wait"], r.events)


def run_ccroute(seed: int) -> dict[str, Any]:
    return kpis(simulate_ccroute(seed))


# ---------------------------------------------------------------- SimPy

def simulate_simpy(seed: int) -> Calls:
    """The textbook SimPy model: the agents are a ``simpy.Resource``, each caller a process."""
    import simpy

    rng = random.Random(seed)
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=AGENTS)
    arrivals: list[float] = []
    waits: list[float] = []  # by caller number; nan until answered

    def caller(env: simpy.Environment, number: int) -> Any:
        arrived = env.now
        with agents.request() as request:
            yield request
            waits[number] = env.now - arrived
            yield env.timeout(rng.expovariate(1.0 / AHT))

    def source(env: simpy.Environment) -> Any:
        while True:
            yield env.timeout(rng.expovariate(RATE))
            if env.now >= HORIZON:
                return
            arrivals.append(env.now)
            waits.append(math.nan)
            env.process(caller(env, len(arrivals) - 1))

    env.process(source(env))
    env.run(until=HORIZON)  # events at HORIZON or later are not processed
    wait = np.array(waits)
    return Calls(np.array(arrivals), ~np.isnan(wait), wait)


def run_simpy(seed: int) -> dict[str, Any]:
    return kpis(simulate_simpy(seed))


# ---------------------------------------------------------------- Ciw

def simulate_ciw(seed: int) -> Calls:
    """``ciw.create_network`` with one node of AGENTS servers; the data records give the waits.

    Ciw writes a ``service`` record when a customer leaves; the customers still in the
    node at the horizon get an ``incomplete`` record (``include_incomplete=True``), whose
    ``waiting_time`` is set when their service had started (answered) and None when they
    are still queued.
    """
    import ciw

    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=RATE)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / AHT)],
        number_of_servers=[AGENTS],
    )
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(HORIZON)
    records = simulation.get_all_records(only=["service"], include_incomplete=True)
    records.sort(key=lambda rec: rec.arrival_date)
    arrival = np.array([rec.arrival_date for rec in records], dtype=float)
    wait = np.array([math.nan if rec.waiting_time is None else rec.waiting_time for rec in records], dtype=float)
    return Calls(arrival, ~np.isnan(wait), wait)


def run_ciw(seed: int) -> dict[str, Any]:
    return kpis(simulate_ciw(seed))


RUNNERS = {"ccroute": run_ccroute, "simpy": run_simpy, "ciw": run_ciw}
SIMULATORS = {"ccroute": simulate_ccroute, "simpy": simulate_simpy, "ciw": simulate_ciw}


if __name__ == "__main__":
    import sys
    import time

    from ccroute.staffing import erlang_c

    theory = erlang_c(RATE, AHT, AGENTS)
    print(f"Erlang C: SL {theory.service_level(SL_THRESHOLD):.4f}, ASA {theory.asa:.2f} s")
    for name in sys.argv[1:] or list(RUNNERS):
        started = time.perf_counter()
        result = RUNNERS[name](1)
        print(f"{name:8s} {time.perf_counter() - started:8.3f} s  {result}")
