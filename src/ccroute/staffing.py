"""Staffing formulas: how many agents a queue needs for a service-level target.

Rates are calls per second and times are seconds throughout. Two models:

* **Erlang C** (M/M/c): Poisson arrivals, exponential handling, callers wait forever.
* **Erlang A** (M/M/c+M, Palm; Garnett, Mandelbaum & Reiman 2002): the same, but a
  waiting caller hangs up after an exponential patience, so the queue is always stable.

Both are computed from exact formulas, in log space where the terms could overflow, so
they stay sound for tens of thousands of agents and loads close to the agent count.
Bad inputs raise :class:`~ccroute.errors.InvalidArgumentError` (a ``ValueError``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Callable, Optional

import numpy as np

from .errors import InvalidArgumentError

__all__ = ["ErlangC", "ErlangA", "erlang_c", "erlang_a", "agents_for"]

# Queue states whose probability is below exp(-_CUTOFF) times the largest one are dropped:
# e^-40 is about 4e-18, beneath double rounding of the sums they would join.
_CUTOFF = 40.0
# Only an overloaded queue with a patience thousands of times the handling time needs more
# queue states than this; refusing it beats silently allocating gigabytes.
_MAX_QUEUE_STATES = 1 << 22


def _bad(name: str, rule: str, value: object) -> InvalidArgumentError:
    return InvalidArgumentError(f"{name} must be {rule}, got {value!r}")


def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _bad(name, "a real number", value)
    try:
        return float(value)
    except OverflowError:  # an int or Fraction beyond the doubles: the range checks say so
        return -math.inf if value < 0 else math.inf


def _rate(rate: float) -> float:
    x = _real("rate", rate)
    if not (math.isfinite(x) and x >= 0):
        raise _bad("rate", "finite and >= 0", rate)
    return x


def _positive(name: str, value: float) -> float:
    x = _real(name, value)
    if not (math.isfinite(x) and x > 0):
        raise _bad(name, "finite and > 0", value)
    return x


def _time(name: str, value: float) -> float:
    x = _real(name, value)
    if not x >= 0:  # also rejects NaN; +inf is allowed and means "eventually"
        raise _bad(name, ">= 0", value)
    return x


def _load(rate: float, aht: float) -> float:
    load = rate * aht
    if not math.isfinite(load):  # each finite, the product not: no model has an answer
        raise _bad("rate × aht", "finite", load)
    return load


def _agents(agents: int) -> int:
    if isinstance(agents, bool) or not isinstance(agents, Integral) or agents < 1:
        raise _bad("agents", "a positive int", agents)
    return int(agents)


def _log_erlang_b(load: float, agents: int) -> float:
    """log B(agents, load) by the recursion B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)).

    The recursion is stable for any number of agents; keeping it in log space lets B fall far
    below the smallest double (many agents, light load) and still be divided by.
    """
    log_a, log_b = math.log(load), 0.0
    for k in range(1, agents + 1):
        log_b += log_a - math.log(k + load * math.exp(log_b))
    return log_b


@dataclass(frozen=True)
class ErlangC:
    """Steady state of an M/M/c queue (Erlang C), as returned by :func:`erlang_c`.

    ``load`` is the offered load in Erlangs (rate × aht). When ``load >= agents`` the queue
    is unstable: ``p_wait`` is 1, ``asa`` is infinite and ``occupancy`` is at least 1.
    """

    rate: float
    aht: float
    agents: int
    load: float
    p_wait: float
    """Probability that an arrival waits (the Erlang C formula)."""
    asa: float
    """Mean wait in seconds over all calls, including those answered at once."""
    occupancy: float
    """load / agents: the share of agent time spent handling calls (when stable)."""

    def service_level(self, t: float) -> float:
        """P(wait <= t): the share of calls answered within ``t`` seconds (0 when unstable)."""
        t = _time("t", t)
        if self.load >= self.agents:
            return 0.0
        return 1.0 - self.p_wait * math.exp(-(self.agents - self.load) * t / self.aht)


def erlang_c(rate: float, aht: float, agents: int) -> ErlangC:
    """Erlang C for ``rate`` calls per second, ``aht`` seconds mean handling time, ``agents``."""
    rate, aht, agents = _rate(rate), _positive("aht", aht), _agents(agents)
    load = _load(rate, aht)
    if load >= agents:
        p_wait, asa = 1.0, math.inf
    elif load == 0:
        p_wait, asa = 0.0, 0.0
    else:
        b = math.exp(_log_erlang_b(load, agents))
        p_wait = min(1.0, agents * b / (agents - load * (1.0 - b)))
        asa = p_wait * aht / (agents - load)
    return ErlangC(rate, aht, agents, load, p_wait, asa, load / agents)


@dataclass(frozen=True)
class ErlangA:
    """Steady state of an M/M/c+M queue (Erlang A), as returned by :func:`erlang_a`.

    "Wait" is time spent in the queue: until answered, or until hanging up for a caller who
    abandons; callers answered at once wait 0. ``load`` is the offered load (rate × aht).
    """

    rate: float
    aht: float
    patience: float
    agents: int
    load: float
    p_wait: float
    """Probability that an arrival finds every agent busy and has to queue."""
    p_abandon: float
    """Probability that an arrival hangs up before being answered."""
    asa: float
    """Mean wait over ALL arrivals: answered at once (wait 0), answered after queueing, and
    abandoned (wait = time until hanging up). Equals patience × p_abandon."""
    asa_answered: float
    """Mean wait over answered calls only (including those answered at once)."""
    occupancy: float
    """Share of agent time spent handling calls: load × (1 - p_abandon) / agents."""
    _p_immediate: float = field(repr=False)
    # P(an arrival finds k callers queued ahead and is eventually answered), k = 0, 1, ...
    _answered: np.ndarray = field(repr=False, compare=False)

    def service_level(self, t: float) -> float:
        """P(answered and wait <= t): the share of ALL arrivals answered within ``t`` seconds.

        Abandoned calls count as failures, so this tends to 1 - p_abandon as t grows.
        """
        t = _time("t", t)
        n = self._answered.size
        log_x = -t / self.patience
        if log_x == 0 or n == 0:  # t == 0, or too small against patience to answer anyone queued
            return self._p_immediate
        if math.isinf(t):
            return min(1.0, self._p_immediate + float(self._answered.sum()))
        # Why this form: with k ahead, the wait of a caller who is answered is a sum of
        # exponentials with rates c·mu + j·theta, j = 1..k+1, and
        #   P(wait <= t | answered, k ahead) = P(J > k),  J ~ NegBinomial(y + 1, x),
        # with y = c·mu/theta and x = exp(-theta·t) (the incomplete-beta form of Mandelbaum &
        # Zeltyn's M/M/n+M summary at integer order). Its pmf is one vectorised recurrence of
        # positive terms: exact, no scipy, unlike uniformising the queue-position chain, which
        # needs a matrix exponential per queue length.
        y = self.agents * self.patience / self.aht
        below = np.cumsum(np.exp(_log_wait_pmf(y, log_x, n)))  # P(J <= k)
        beyond = 1.0 - below  # P(J > k): exact enough while it is >= 1/2
        if below[-1] > 0.5:
            # Small upper tails would be lost to cancellation in 1 - P(J <= k): sum them from the
            # right instead, over a pmf extended past n until the rest is below exp(-_CUTOFF) of
            # them (term ratios (y + m)/m·(1 - x) fall with m, so the rest is geometric).
            size = 2 * n
            while True:
                log_q = _log_wait_pmf(y, log_x, size)
                ratio = math.exp(math.log((y + size) / size) + math.log(-math.expm1(log_x)))
                if ratio < 1 and (log_q[-1] + math.log(ratio) - math.log1p(-ratio)
                                  < float(log_q[n:].max()) - _CUTOFF):
                    break
                size *= 2
            above = np.cumsum(np.exp(log_q)[::-1])[::-1]  # P(J >= m)
            beyond = np.where(below <= 0.5, beyond, above[1:n + 1])
        return min(1.0, self._p_immediate + float(self._answered @ np.clip(beyond, 0.0, 1.0)))

    def service_level_answered(self, t: float) -> float:
        """P(wait <= t | answered): the share of answered calls answered within ``t`` seconds."""
        return min(1.0, self.service_level(t) / (1.0 - self.p_abandon))


def _log_wait_pmf(y: float, log_x: float, size: int) -> np.ndarray:
    """log P(J = m) for m < size, J ~ NegBinomial(y + 1, x): C(m + y, m) x^(y+1) (1 - x)^m."""
    m = np.arange(1, size, dtype=float)
    return ((y + 1.0) * log_x + np.concatenate(([0.0], np.cumsum(np.log((y + m) / m))))
            + np.arange(size) * math.log(-math.expm1(log_x)))


def _log_queue_states(load: float, agents: int, r: float) -> np.ndarray:
    """log(pi[c+k] / pi[c]) for k = 0..K of the Erlang A chain (r = theta / mu).

    pi[c+k] / pi[c] = prod_{j=1..k} load / (c + j·r): the terms rise while c + j·r < load and
    then fall; K is where the rest of the tail is below exp(-_CUTOFF) of the largest term.
    """
    log_a, parts = math.log(load), [np.zeros(1)]
    last = peak = 0.0
    start, size = 1, 256
    while True:
        j = np.arange(start, start + size, dtype=float)
        chunk = last + np.cumsum(log_a - np.log(agents + j * r))
        parts.append(chunk)
        last, peak = float(chunk[-1]), max(peak, float(chunk.max()))
        start += size
        ratio = load / (agents + start * r)  # every later term ratio is smaller
        # the remaining terms sum to at most last_term * ratio / (1 - ratio)
        if ratio < 1 and last + math.log(ratio) - math.log1p(-ratio) < peak - _CUTOFF:
            return np.concatenate(parts)
        if start > _MAX_QUEUE_STATES:
            raise InvalidArgumentError(
                f"a patience of {1 / r if r else math.inf:g} × aht is too long for a load of"
                f" {load:g} on {agents} agents: over {_MAX_QUEUE_STATES} queue states; use erlang_c"
                f" for a stable queue")
        size *= 2


def erlang_a(rate: float, aht: float, patience: float, agents: int) -> ErlangA:
    """Erlang A for ``rate`` calls per second, ``aht`` and mean ``patience`` in seconds, ``agents``.

    Exact birth-death stationary distribution (death rate n·mu up to c agents, then
    c·mu + (n-c)·theta with theta = 1/patience), truncated where terms are negligible.
    """
    rate, aht = _rate(rate), _positive("aht", aht)
    patience, agents = _positive("patience", patience), _agents(agents)
    load = _load(rate, aht)
    if load == 0:
        return ErlangA(rate, aht, patience, agents, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, np.zeros(0))
    c, r = agents, aht / patience
    log_tail = _log_queue_states(load, c, r)
    # sum_{n<c} pi[n] / pi[c] = c / (a·B(c-1)) by the Erlang B recursion: no cancellation
    log_head = math.log(c / load) - _log_erlang_b(load, c - 1)
    shift = max(log_head, float(log_tail.max()))
    tail, head = np.exp(log_tail - shift), math.exp(log_head - shift)
    z = head + float(tail.sum())
    pi = tail / z  # P(an arrival finds k queued), by PASTA
    k = np.arange(pi.size, dtype=float)
    stay = c + (k + 1.0) * r  # total exit rate, in units of mu, of a caller with k ahead
    answered = pi * (c / stay)
    p_abandon = float(pi @ ((k + 1.0) * r / stay))
    # mean answered wait with k ahead: sum_{j=1..k+1} aht / (c + j·r)
    asa_answered = aht * float(answered @ np.cumsum(1.0 / (c + (k + 1.0) * r))) / (1.0 - p_abandon)
    asa = aht * float(pi @ k) / load  # Little's law on the queue: E[W] = E[Q] / rate
    return ErlangA(rate, aht, patience, agents, load,
                   p_wait=min(1.0, float(pi.sum())), p_abandon=min(1.0, p_abandon), asa=asa,
                   asa_answered=asa_answered, occupancy=load * (1.0 - p_abandon) / c,
                   _p_immediate=head / z, _answered=answered)


def _overload_service_bound(load: float, aht: float, patience: float, agents: int,
                            t: float) -> float:
    """An upper bound on the Erlang A service level within ``t`` for ``agents`` < ``load``.

    Why: with a patience far above aht, the exact chain of an overloaded queue has millions of
    states, and agents_for probes such counts on its way to the answer. For agents < load the
    state probabilities rise up to a queue of top = (load - agents) × patience / aht, so
    P(queue <= K) <= (agents + K + 1) / (top - K); a caller with more than K ahead is answered
    within t with probability P(J > K) <= E[J] / (K + 1) (Markov; J as in ErlangA.service_level).
    Returns 1 (no information) when the bound says nothing.
    """
    top = (load - agents) * patience / aht
    mean_j = (agents * patience / aht + 1.0) * math.expm1(t / patience)
    if not (top >= 1 and math.isfinite(mean_j * top)):
        return 1.0
    k = min(math.floor(math.sqrt(mean_j * top)), math.floor(top - 1.0))  # about the sum's minimum
    return min(1.0, (agents + k + 1) / (top - k) + mean_j / (k + 1))


def agents_for(rate: float, aht: float, threshold: float, target: float,
               patience: Optional[float] = None) -> int:
    """Smallest number of agents for which the share of calls answered within ``threshold``
    seconds is at least ``target`` (e.g. 0.8 for "80 % in 20 s").

    Erlang C when ``patience`` is None (the answer is always a stable count, > rate × aht);
    Erlang A otherwise, where the share is over all arrivals, abandoned ones included.
    """
    rate, aht, threshold = _rate(rate), _positive("aht", aht), _time("threshold", threshold)
    target = _real("target", target)
    if not 0 < target < 1:
        raise _bad("target", "in (0, 1)", target)
    load = _load(rate, aht)
    meets: Callable[[int], bool]
    if patience is None:
        lo = math.floor(load) + 1
        def meets(c: int) -> bool:
            return erlang_c(rate, aht, c).service_level(threshold) >= target
    else:
        patience = _positive("patience", patience)
        # at most c·mu calls per second are answered, so the share is below c / load
        lo = max(1, math.floor(target * load))
        def meets(c: int) -> bool:
            if c < load and _overload_service_bound(load, aht, patience, c, threshold) < target:
                return False
            return erlang_a(rate, aht, patience, c).service_level(threshold) >= target
    # the service level rises with the agent count: double, then bisect
    hi = lo
    while not meets(hi):
        lo, hi = hi + 1, 2 * hi
    while lo < hi:
        mid = (lo + hi) // 2
        if meets(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi
