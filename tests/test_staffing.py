"""ccroute.staffing against oracles written here, each by a different route than the module:

* Erlang C: exact rational arithmetic (fractions) on the defining sum of a^k/k!, the waiting
  time as a mixture of Erlang distributions, M/M/1 closed forms, pyworkforce, a published
  worked example, and for 10,000 agents the Poisson form through scipy's incomplete gamma.
* Erlang A: the birth-death chain solved by brute force (numpy, every state from 0), Little's
  law on its queue, and a seeded Monte-Carlo simulation of M/M/c+M for the service level.

Rates are calls per second and times seconds, as in the module.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from fractions import Fraction

import numpy as np
import pytest

from ccroute.errors import InvalidArgumentError
from ccroute.staffing import _overload_service_bound, agents_for, erlang_a, erlang_c

AHT = 180.0  # seconds; most cases are phrased as a load, rate = load / AHT


# ---------------------------------------------------------------- oracles

def exact_p_wait(load: Fraction, c: int) -> Fraction:
    """Erlang C from its definition, in exact rationals: no rounding, no recursion."""
    terms = [Fraction(1)]
    for k in range(1, c + 1):
        terms.append(terms[-1] * load / k)
    queued = terms[c] * c / (c - load)
    return queued / (sum(terms[:c]) + queued)


def mixture_service_level(p_wait: float, load: float, c: int, aht: float, t: float) -> float:
    """P(W <= t) for M/M/c, not from the closed form: a caller who queues finds k ahead with
    probability (1 - rho) rho^k and then waits for k + 1 departures at rate c/aht, an
    Erlang(k + 1) time, so P(W > t) = p_wait * sum_k (1 - rho) rho^k P(Poisson(c t / aht) <= k)."""
    rho, x = load / c, c * t / aht
    if x == 0:
        return 1.0 - p_wait
    k = np.arange(int(60 / -math.log(rho)) + 10, dtype=float)  # rho^k below e^-60 at the end
    log_pmf = k * math.log(x) - x - np.array([math.lgamma(i + 1.0) for i in k])
    return 1.0 - p_wait * float(((1 - rho) * rho ** k) @ np.cumsum(np.exp(log_pmf)))


def chain(rate: float, aht: float, patience: float, c: int) -> dict:
    """M/M/c+M by brute force: the stationary distribution of the whole birth-death chain
    (n = 0, 1, ..., N; death rate n/aht up to c, then c/aht + (n - c)/patience), normalised in
    log space, N doubled until the last state is negligible. Abandonment and wait then come from
    the mean queue: abandonment rate E[Q]/patience, and Little's law E[W] = E[Q] / rate."""
    size = c + 256
    while True:
        n = np.arange(1, size + 1, dtype=float)
        death = np.where(n <= c, n / aht, c / aht + (n - c) / patience)
        log_p = np.concatenate(([0.0], np.cumsum(np.log(rate / death))))
        log_p -= log_p.max()
        p = np.exp(log_p)
        p /= p.sum()
        if p[-1] < 1e-30 and p[-2] < 1e-30:
            break
        size *= 2
    queue = np.maximum(np.arange(size + 1) - c, 0)
    mean_queue = float(p @ queue)
    return {"p_wait": float(p[c:].sum()), "p_abandon": mean_queue / patience / rate,
            "asa": mean_queue / rate, "p": p}


def chain_service_level(rate: float, aht: float, patience: float, c: int, t: float) -> float:
    """P(answered within t) from the chain's distribution and order statistics. A caller who
    finds k queued is answered with probability c / (c + (k + 1) r), r = aht / patience (it must
    outlast k + 1 exits, each won by its own hang-up with chance r / (c + j r)), and then waits
    the sum of exponentials of rates (c + j r)/aht, j = 1..k+1: the time until k + 1 of
    y + k + 1 independent Exp(1/patience) clocks ring, y = c·patience/aht. For an integer y,
    P(wait <= t) = P(Binomial(y + k + 1, 1 - exp(-t/patience)) >= k + 1), from scipy."""
    stats = pytest.importorskip("scipy.stats", reason="scipy is not installed")
    y = round(c * patience / aht)
    assert y == c * patience / aht, "choose patience so that y is an integer"
    p = chain(rate, aht, patience, c)["p"]
    k = np.arange(p.size - c)
    r = aht / patience
    within = stats.binom.sf(k, y + k + 1, -math.expm1(-t / patience))
    return float(p[:c].sum() + (p[c:] * c / (c + (k + 1) * r)) @ within)


def simulate(rate: float, aht: float, patience: float, c: int, calls: int, seed: int):
    """FCFS M/M/c+M, one caller at a time in arrival order: the caller takes the agent that
    frees first if it frees before the caller's patience runs out (callers ahead who hung up
    took no agent), else hangs up. Yields (answered, wait) per caller."""
    rng = random.Random(seed)
    free = [0.0] * c  # heap of the times agents become free
    now = 0.0
    for _ in range(calls):
        now += rng.expovariate(rate)
        patience_i, handle = rng.expovariate(1 / patience), rng.expovariate(1 / aht)
        start = max(now, free[0])
        if start - now <= patience_i:
            heapq.heapreplace(free, start + handle)
            yield True, start - now
        else:
            yield False, patience_i


def batch_mean(values: list[float], batches: int = 40) -> tuple[float, float]:
    """Mean and its standard error by batch means: successive callers' waits are correlated,
    so the error is taken from the spread of means over long batches, not from sqrt(p(1-p)/n)."""
    size = len(values) // batches
    means = [statistics.fmean(values[i * size:(i + 1) * size]) for i in range(batches)]
    return statistics.fmean(means), statistics.stdev(means) / math.sqrt(batches)


# ---------------------------------------------------------------- Erlang C

@pytest.mark.parametrize("rho", [0.01, 0.3, 0.7, 0.9, 0.99])
def test_erlang_c_matches_exact_rational_sum(rho):
    for c in range(1, 31):
        rate = rho * c / AHT
        r = erlang_c(rate, AHT, c)
        assert r.load == rate * AHT
        load = Fraction(r.load)  # the double the module got, exactly
        p = exact_p_wait(load, c)
        assert r.p_wait == pytest.approx(float(p), rel=1e-12, abs=0), (c, rho)
        assert r.asa == pytest.approx(float(p * Fraction(AHT) / (c - load)), rel=1e-12), (c, rho)
        assert r.occupancy == pytest.approx(rho, rel=1e-15)
        for t in (0.0, 5.0, 20.0, 120.0):
            expected = mixture_service_level(float(p), r.load, c, AHT, t)
            assert r.service_level(t) == pytest.approx(expected, abs=1e-12), (c, rho, t)
        assert r.service_level(math.inf) == 1.0


@pytest.mark.parametrize("rho", [0.01, 0.5, 0.9, 0.999])
def test_mm1_closed_forms(rho):
    mu = 1 / AHT
    lam = rho * mu
    r = erlang_c(lam, AHT, 1)
    assert r.p_wait == pytest.approx(rho, rel=1e-13)
    assert r.asa == pytest.approx(rho / (mu - lam), rel=1e-12)
    for t in (0.0, 10.0, 60.0, 1000.0):
        assert r.service_level(t) == pytest.approx(1 - rho * math.exp(-(mu - lam) * t), rel=1e-12)


def test_erlang_c_against_pyworkforce():
    pw = pytest.importorskip("pyworkforce.queuing", reason="pyworkforce is not installed")
    # pyworkforce units: `transactions` per `interval` minutes, aht in minutes, and its `asa`
    # argument is the service-level threshold in minutes (see pyworkforce/queuing/erlang.py).
    cases = [(100, 30, 3.0, 20.0), (360, 30, 4.0, 15.0), (20, 60, 6.0, 30.0), (1000, 15, 2.5, 10.0)]
    compared = 0
    for calls, interval, aht_min, threshold in cases:
        model = pw.ErlangC(transactions=calls, aht=aht_min, asa=threshold / 60, interval=interval)
        rate, aht = calls / (interval * 60), aht_min * 60
        stable = math.floor(rate * aht) + 1
        for c in range(stable, stable + 12):
            r = erlang_c(rate, aht, c)
            assert r.p_wait == pytest.approx(model.waiting_probability(c), rel=1e-10), (calls, c)
            assert r.service_level(threshold) == pytest.approx(model.service_level(c),
                                                               rel=1e-10, abs=1e-13)
            compared += 1
    assert compared == 48


def test_published_worked_example():
    # Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example": 100 calls
    # per 30 minutes, AHT 180 s, target 80 % answered in 20 s. The same example, run through
    # pyworkforce, is printed in pyworkforce's README (v0.5.1, "ErlangC" section):
    #   raw_positions 14, service_level 0.8883500191794669, occupancy 0.7142857142857143,
    #   waiting_probability 0.1741319335950498
    rate = 100 / 1800
    assert agents_for(rate, 180, 20, 0.8) == 14
    r = erlang_c(rate, 180, 14)
    assert r.service_level(20) == pytest.approx(0.8883500191794669, rel=1e-12)
    assert r.p_wait == pytest.approx(0.1741319335950498, rel=1e-12)
    assert r.occupancy == pytest.approx(0.7142857142857143, rel=1e-15)
    assert erlang_c(rate, 180, 13).service_level(20) < 0.8


@pytest.mark.parametrize("load", [10.0, 10.5, 11.0, 1e4])
def test_erlang_c_unstable_queue(load):
    # load >= agents: the queue grows without bound, every call waits, nobody is served in time
    c = math.floor(load)  # the largest unstable count
    for agents in {c, c - 1, max(1, c // 2)}:
        r = erlang_c(load / AHT, AHT, agents)
        assert r.p_wait == 1.0
        assert r.asa == math.inf
        assert r.occupancy >= 1.0
        for t in (0.0, 20.0, 1e9, math.inf):
            assert r.service_level(t) == 0.0


def test_erlang_c_no_traffic():
    r = erlang_c(0.0, AHT, 3)
    assert (r.p_wait, r.asa, r.service_level(0.0)) == (0.0, 0.0, 1.0)


# ---------------------------------------------------------------- 10,000 agents

def poisson_p_wait(load: float, c: int) -> float:
    """Erlang C as Poisson probabilities (multiply the definition through by e^-a):
    P(N = c) c/(c - a) / (P(N <= c - 1) + P(N = c) c/(c - a)), N ~ Poisson(a), with the cdf from
    scipy's regularised upper incomplete gamma and the pmf from lgamma."""
    special = pytest.importorskip("scipy.special", reason="scipy is not installed")
    pmf = math.exp(c * math.log(load) - load - math.lgamma(c + 1))
    queued = pmf * c / (c - load)
    return queued / (float(special.gammaincc(c, load)) + queued)


@pytest.mark.parametrize("occupancy", [0.95, 0.98, 0.99, 0.995, 0.999])
def test_erlang_c_ten_thousand_agents(occupancy):
    c = 10_000
    rate = occupancy * c / AHT
    big, less = erlang_c(rate, AHT, c), erlang_c(rate, AHT, c - 1)
    for r in (big, less):
        assert 0 < r.p_wait < 1 and math.isfinite(r.asa)
        assert r.p_wait == pytest.approx(poisson_p_wait(r.load, r.agents), rel=1e-9)
        assert 0 <= r.service_level(20) <= 1
    # continuous in the agent count: one agent fewer waits a little more, not wildly more
    assert 1 < less.p_wait / big.p_wait < 1.1
    assert big.asa < less.asa < 1.5 * big.asa
    assert less.service_level(20) <= big.service_level(20)


def test_erlang_c_many_agents_light_load():
    # the terms a^k/k! underflow long before 10,000 agents; the answer must stay a probability
    r = erlang_c(1 / AHT, AHT, 10_000)
    assert 0 <= r.p_wait < 1e-300 and r.asa >= 0 and r.service_level(0) == 1.0


@pytest.mark.parametrize("occupancy", [0.99, 1.05])
def test_erlang_a_ten_thousand_agents(occupancy):
    c, patience = 10_000, 300.0
    rate = occupancy * c / AHT
    r = erlang_a(rate, AHT, patience, c)
    oracle = chain(rate, AHT, patience, c)
    for key in ("p_wait", "p_abandon", "asa"):
        assert getattr(r, key) == pytest.approx(oracle[key], rel=1e-8), key
    sl = [r.service_level(t) for t in (0, 10, 20, 60, math.inf)]
    assert all(0 <= x <= 1 for x in sl) and sl == sorted(sl)
    assert sl[-1] == pytest.approx(1 - r.p_abandon, rel=1e-12)
    fewer = erlang_a(rate, AHT, patience, c - 1)
    assert r.p_abandon < fewer.p_abandon < r.p_abandon * 1.2 + 1e-6


# ---------------------------------------------------------------- Erlang A

@pytest.mark.parametrize("c", [1, 2, 5, 20, 60])
@pytest.mark.parametrize("rho", [0.3, 0.9, 1.0, 1.3, 3.0])
@pytest.mark.parametrize("patience_over_aht", [0.1, 1.0, 10.0, 200.0])
def test_erlang_a_matches_birth_death_chain(c, rho, patience_over_aht):
    rate, patience = rho * c / AHT, patience_over_aht * AHT
    r = erlang_a(rate, AHT, patience, c)
    oracle = chain(rate, AHT, patience, c)
    for key in ("p_wait", "p_abandon", "asa"):
        assert getattr(r, key) == pytest.approx(oracle[key], rel=1e-9, abs=1e-300), key
    assert r.asa == pytest.approx(patience * r.p_abandon, rel=1e-9)
    assert r.occupancy == pytest.approx(r.load * (1 - r.p_abandon) / c, rel=1e-12)
    assert r.occupancy <= 1 + 1e-12
    assert r.service_level(0) == pytest.approx(1 - r.p_wait, abs=1e-12)
    assert r.service_level(math.inf) == pytest.approx(1 - r.p_abandon, abs=1e-12)
    sl = [r.service_level(t) for t in (0, 1, 10, 60, 600, 1e6)]
    assert sl == sorted(sl) and 0 <= sl[0] and sl[-1] <= 1


@pytest.mark.parametrize("c, rho, patience_over_aht", [
    (1, 0.5, 1.0), (5, 0.9, 1.0), (20, 0.95, 10.0), (5, 3.0, 200.0), (20, 1.3, 200.0),
    (4, 1.0, 0.5)])
def test_erlang_a_service_level_matches_order_statistics(c, rho, patience_over_aht):
    rate, patience = rho * c / AHT, patience_over_aht * AHT
    r = erlang_a(rate, AHT, patience, c)
    for t in (0.0, 1.0, 10.0, 60.0, 600.0, 6000.0):
        expected = chain_service_level(rate, AHT, patience, c, t)
        # relative: in an overloaded queue with patient callers the share is astronomically small
        assert r.service_level(t) == pytest.approx(expected, rel=1e-8, abs=1e-300), (t, expected)


def test_erlang_a_against_simulation():
    # 3 agents at 90 % offered load, patience 2 × aht: a fair share of callers wait and abandon
    rate, aht, patience, c = 2.7 / 60, 60.0, 120.0, 3
    r = erlang_a(rate, aht, patience, c)
    calls = list(simulate(rate, aht, patience, c, calls=410_000, seed=20240611))[10_000:]  # warm-up
    for t in (0.0, 15.0, 60.0, 180.0):
        mean, se = batch_mean([1.0 if answered and wait <= t else 0.0 for answered, wait in calls])
        assert abs(mean - r.service_level(t)) <= 5 * se, (t, mean, r.service_level(t), se)
    mean, se = batch_mean([0.0 if answered else 1.0 for answered, _ in calls])
    assert abs(mean - r.p_abandon) <= 5 * se
    mean, se = batch_mean([wait for _, wait in calls])
    assert abs(mean - r.asa) <= 5 * se
    # the tolerance is meaningful: the Erlang C answer for the same load is far outside it
    sl_c = erlang_c(rate, aht, c).service_level(60.0)
    mean, se = batch_mean([1.0 if answered and wait <= 60.0 else 0.0 for answered, wait in calls])
    assert abs(mean - sl_c) > 5 * se


@pytest.mark.parametrize("c, rho", [(1, 0.5), (10, 0.8), (50, 0.95)])
def test_erlang_a_tends_to_erlang_c(c, rho):
    rate = rho * c / AHT
    ec = erlang_c(rate, AHT, c)
    errors = []
    for ratio in (10.0, 1e2, 1e3, 1e4, 1e6):
        ea = erlang_a(rate, AHT, ratio * AHT, c)
        sl_error = max(abs(ea.service_level(t) - ec.service_level(t)) for t in (0, 20, 120))
        errors.append(max(abs(ea.p_wait - ec.p_wait) / ec.p_wait, abs(ea.asa - ec.asa) / ec.asa,
                          sl_error))
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-4
    assert erlang_a(rate, AHT, 1e6 * AHT, c).p_abandon < 1e-5


def test_erlang_a_no_traffic():
    r = erlang_a(0.0, AHT, 60.0, 4)
    assert (r.p_wait, r.p_abandon, r.asa, r.service_level(20)) == (0.0, 0.0, 0.0, 1.0)


def test_erlang_a_tiny_threshold():
    # t so small against the patience that exp(-t/patience) rounds to 1
    r = erlang_a(1 / AHT, AHT, 1e10, 1)
    assert r.service_level(1e-320) == pytest.approx(1 - r.p_wait, abs=1e-15)


# ---------------------------------------------------------------- agents_for

def service(rate, aht, c, threshold, patience):
    model = erlang_c(rate, aht, c) if patience is None else erlang_a(rate, aht, patience, c)
    return model.service_level(threshold)


STAFFING = [(load, threshold, target, patience)
            for load in (0.3, 4.0, 10.0, 47.5, 300.0)
            for threshold, target in ((20.0, 0.8), (0.0, 0.5), (60.0, 0.95), (5.0, 0.2))
            for patience in (None, 30.0, 600.0)]


@pytest.mark.parametrize("load, threshold, target, patience", STAFFING)
def test_agents_for_is_minimal(load, threshold, target, patience):
    rate = load / AHT
    c = agents_for(rate, AHT, threshold, target, patience)
    assert service(rate, AHT, c, threshold, patience) >= target
    if c > 1:
        assert service(rate, AHT, c - 1, threshold, patience) < target
    if patience is None:
        assert c > load


@pytest.mark.parametrize("patience", [None, 60.0, 600.0])
def test_agents_for_monotone_in_rate(patience):
    counts = [agents_for(load / AHT, AHT, 20, 0.8, patience) for load in np.linspace(0.1, 120, 60)]
    assert counts == sorted(counts) and counts[0] >= 1 and counts[-1] > counts[0]


@pytest.mark.parametrize("load, threshold, target", [(0.3, 20, 0.8), (10, 20, 0.8), (47.5, 15, 0.9),
                                                     (300, 30, 0.95), (10_000, 20, 0.8)])
def test_agents_for_long_patience_is_erlang_c(load, threshold, target):
    rate = load / AHT
    c = agents_for(rate, AHT, threshold, target)
    assert agents_for(rate, AHT, threshold, target, patience=1e6 * AHT) == c


def test_agents_for_ten_thousand_agents():
    rate = 10_000 / AHT  # 10,000 Erlangs
    c = agents_for(rate, AHT, 20, 0.8)
    assert 10_000 < c < 10_100  # square-root staffing: a small margin on a big centre
    assert erlang_c(rate, AHT, c).service_level(20) >= 0.8
    assert erlang_c(rate, AHT, c - 1).service_level(20) < 0.8
    assert erlang_c(rate, AHT, c).occupancy > 0.99
    # with impatient callers some hang up, so fewer agents reach the same share... of a smaller
    # answered total, since abandoned calls count as failures
    ca = agents_for(rate, AHT, 20, 0.8, patience=120)
    assert 8_000 <= ca < c
    assert erlang_a(rate, AHT, 120, ca).service_level(20) >= 0.8
    assert erlang_a(rate, AHT, 120, ca - 1).service_level(20) < 0.8


def test_agents_for_edges():
    assert agents_for(0.0, AHT, 20, 0.99) == 1
    assert agents_for(0.0, AHT, 20, 0.99, patience=60) == 1
    # any stable count answers everyone eventually
    assert agents_for(12.5 / AHT, AHT, math.inf, 0.99) == 13


def test_overload_bound_is_an_upper_bound():
    # agents_for rejects overloaded counts with this bound before solving their chain
    informative = 0
    for c in (1, 5, 20, 100):
        for rho in (1.01, 1.1, 1.5, 3.0):
            for ratio in (0.3, 1.0, 10.0, 100.0, 1000.0):
                rate, patience = rho * c / AHT, ratio * AHT
                model = erlang_a(rate, AHT, patience, c)
                for t in (0.0, 10.0, 60.0, 180.0, 900.0):
                    bound = _overload_service_bound(model.load, AHT, patience, c, t)
                    assert model.service_level(t) <= bound + 1e-12, (c, rho, ratio, t)
                    informative += bound < 0.5
    assert informative > 50


# ---------------------------------------------------------------- bad input

BAD = [
    (lambda: erlang_c(-1.0, AHT, 10), "rate", "-1.0"),
    (lambda: erlang_c(math.nan, AHT, 10), "rate", "nan"),
    (lambda: erlang_c(math.inf, AHT, 10), "rate", "inf"),
    (lambda: erlang_c(True, AHT, 10), "rate", "True"),
    (lambda: erlang_c("0.1", AHT, 10), "rate", "'0.1'"),
    (lambda: erlang_c(10 ** 400, AHT, 10), "rate", "1000000"),
    (lambda: erlang_c(0.1, 0, 10), "aht", "got 0"),
    (lambda: erlang_c(0.1, -3.0, 10), "aht", "-3.0"),
    (lambda: erlang_c(0.1, math.nan, 10), "aht", "nan"),
    (lambda: erlang_c(1e300, 1e10, 10), "rate × aht", "inf"),
    (lambda: erlang_c(0.1, AHT, 0), "agents", "got 0"),
    (lambda: erlang_c(0.1, AHT, -4), "agents", "-4"),
    (lambda: erlang_c(0.1, AHT, 2.5), "agents", "2.5"),
    (lambda: erlang_c(0.1, AHT, 10.0), "agents", "10.0"),
    (lambda: erlang_c(0.1, AHT, True), "agents", "True"),
    (lambda: erlang_c(0.01, AHT, 10).service_level(-1.0), "t", "-1.0"),
    (lambda: erlang_c(0.01, AHT, 10).service_level(math.nan), "t", "nan"),
    (lambda: erlang_a(0.01, AHT, 0.0, 10), "patience", "0.0"),
    (lambda: erlang_a(0.01, AHT, math.inf, 10), "patience", "inf"),
    (lambda: erlang_a(0.01, AHT, math.nan, 10), "patience", "nan"),
    (lambda: erlang_a(0.01, AHT, 60.0, 2.5), "agents", "2.5"),
    (lambda: erlang_a(-0.01, AHT, 60.0, 2), "rate", "-0.01"),
    (lambda: erlang_a(1e300, 1e10, 60.0, 2), "rate × aht", "inf"),
    (lambda: erlang_a(0.01, AHT, 60.0, 3).service_level(-2.0), "t", "-2.0"),
    (lambda: agents_for(0.1, AHT, 20, 0.0), "target", "0.0"),
    (lambda: agents_for(0.1, AHT, 20, 1.0), "target", "1.0"),
    (lambda: agents_for(0.1, AHT, 20, 1.5), "target", "1.5"),
    (lambda: agents_for(0.1, AHT, 20, -0.2), "target", "-0.2"),
    (lambda: agents_for(0.1, AHT, 20, math.nan), "target", "nan"),
    (lambda: agents_for(0.1, AHT, 20, True), "target", "True"),
    (lambda: agents_for(0.1, AHT, -1, 0.8), "threshold", "-1"),
    (lambda: agents_for(0.1, AHT, math.nan, 0.8), "threshold", "nan"),
    (lambda: agents_for(0.1, AHT, 20, 0.8, patience=0), "patience", "got 0"),
    (lambda: agents_for(0.1, AHT, 20, 0.8, patience=-1.0), "patience", "-1.0"),
    (lambda: agents_for(-0.1, AHT, 20, 0.8), "rate", "-0.1"),
    (lambda: agents_for(0.1, 0.0, 20, 0.8), "aht", "0.0"),
    (lambda: agents_for(1e300, 1e10, 20, 0.8), "rate × aht", "inf"),
]


@pytest.mark.parametrize("call, name, shown", BAD, ids=[f"{n}={s}" for _, n, s in BAD])
def test_bad_input(call, name, shown):
    with pytest.raises(InvalidArgumentError) as info:
        call()
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert message.startswith(name + " must") and shown in message, message
