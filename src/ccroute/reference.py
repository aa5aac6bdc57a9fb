"""The reference router: the rules of DESIGN.md §4 in plain Python.

This is the readable statement of the routing rules. It scans every agent and call on
each decision, so it is slow by design; the native core indexes the same decisions and
must agree with this model decision for decision (tests/test_equivalence.py).

Rules beyond DESIGN.md that both implementations follow:

* A call's *phase* at time t is "preferred" while t < arrival + preferred_wait (only when
  the preferred agent was logged in at arrival), else the last step i with
  arrival + after_i <= t. A waiting call holds one timer: the start of its next phase.
* An offered call holds the offer time-out timer instead. A rejected or timed-out call
  re-enters the queue in the phase its wait has reached, keeping arrival and creation order.
* Arithmetic is done in the order written here (left to right), in doubles.
* A bad argument raises before anything changes. A state that forbids the operation is
  checked after the timers due by ``now`` fired (time passed all the same); the error
  then carries their offers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .errors import (DuplicateIdError, InvalidArgumentError, InvalidTransitionError,
                     TimeOrderError, UnknownIdError)
from .types import MAX_LEVEL, Config, Id, Offer, Plan, PlanStats

PREFERRED = -1  # phase of a call waiting for its preferred agent only


@dataclass(eq=False)
class _Agent:
    id: Id
    site: str
    skills: dict[str, int]
    wrapup: Optional[float]
    order: int
    state: str = "offline"
    reason: Optional[str] = None
    ready_since: float = 0.0
    timer: Optional[tuple[float, int]] = None  # end of wrap-up: (due, creation order)


@dataclass(eq=False)
class _Call:
    id: Id
    plan: Plan
    region: Optional[str]
    language: Optional[str]
    value: float
    extra: float
    repeats: int
    preferred: Optional[Id]
    preferred_until: Optional[float]
    arrival: float
    order: int
    state: str = "waiting"
    phase: int = 0
    agent: Optional[_Agent] = None
    timer: Optional[tuple[float, int]] = None  # next phase while waiting, time-out while offered


@dataclass
class _Tally:
    arrived: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_within: int = 0
    wait_sum: float = 0.0


def _check_id(what: str, value: Any) -> Id:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidArgumentError(f"{what} id must be a str or int, got {value!r}")
    return value


def _check_number(what: str, value: Any, minimum: float = -math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < minimum:
        bound = "" if minimum == -math.inf else f" >= {minimum:g}"
        raise InvalidArgumentError(f"{what} must be a finite number{bound}, got {value!r}")
    return float(value)


class ReferenceRouter:
    """Same API as :class:`ccroute.Router`; see there for the documentation."""

    def __init__(self, config: Config) -> None:
        if not isinstance(config, Config):
            raise InvalidArgumentError(f"Router needs a ccroute.Config, got {config!r}")
        self.config = config
        self._plans = {plan.name: plan for plan in config.plans}
        self._agents: dict[Id, _Agent] = {}
        self._calls: dict[Id, _Call] = {}
        self._tallies = {plan.name: _Tally() for plan in config.plans}
        self._now = -math.inf
        self._calls_created = 0
        self._timers_created = 0
        self._offers: list[Offer] = []

    # ----------------------------------------------------------------- agents

    def add_agent(self, agent_id: Id, site: str, skills: Mapping[str, int] = {},
                  wrapup: Optional[float] = None) -> None:
        _check_id("agent", agent_id)
        if agent_id in self._agents:
            raise DuplicateIdError(f"agent {agent_id!r} already exists")
        if site not in self.config.sites:
            raise UnknownIdError(f"unknown site {site!r}")
        if not isinstance(skills, Mapping):
            raise InvalidArgumentError(f"skills must map skill names to levels, got {skills!r}")
        for skill in skills:  # names first, then levels: the order both routers check in
            self._check_skill(skill)
        for skill, level in skills.items():
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_LEVEL:
                raise InvalidArgumentError(f"level of skill {skill!r} must be an integer 1–10, got {level!r}")
        if wrapup is not None:
            wrapup = _check_number("wrapup", wrapup, 0.0)
        self._agents[agent_id] = _Agent(agent_id, site, dict(skills), wrapup, len(self._agents))

    def ready(self, agent_id: Id, now: float) -> list[Offer]:
        agent = self._agent(agent_id)
        now = self._begin(now)
        self._require(agent.state in ("offline", "not_ready", "wrapup"), f"agent {agent_id!r} is {agent.state}")
        agent.timer = None
        agent.ready_since = now
        self._make_ready(agent, now)
        return self._end()

    def not_ready(self, agent_id: Id, now: float, reason: str = "") -> list[Offer]:
        agent = self._agent(agent_id)
        now = self._begin(now)
        self._require(agent.state in ("offline", "ready", "not_ready", "wrapup"),
                      f"agent {agent_id!r} is {agent.state}")
        agent.timer = None
        agent.state, agent.reason = "not_ready", str(reason)
        return self._end()

    def logout(self, agent_id: Id, now: float) -> list[Offer]:
        agent = self._agent(agent_id)
        now = self._begin(now)
        self._require(agent.state in ("ready", "not_ready", "wrapup"), f"agent {agent_id!r} is {agent.state}")
        agent.timer = None
        agent.state, agent.reason = "offline", None
        return self._end()

    # ------------------------------------------------------------------ calls

    def arrive(self, call_id: Id, plan: str, now: float, region: Optional[str] = None,
               language: Optional[str] = None, value: float = 0.0, priority: float = 0.0,
               repeats: int = 0, preferred_agent: Optional[Id] = None,
               preferred_wait: float = 0.0) -> list[Offer]:
        _check_id("call", call_id)
        if call_id in self._calls:
            raise DuplicateIdError(f"call {call_id!r} is already in the router")
        if plan not in self._plans:
            raise UnknownIdError(f"unknown plan {plan!r}")
        if region is not None and region not in self.config.regions:
            raise UnknownIdError(f"unknown region {region!r}")
        if language is not None:
            self._check_skill(language)
        if preferred_agent is not None and preferred_agent not in self._agents:
            raise UnknownIdError(f"unknown preferred agent {preferred_agent!r}")
        value = _check_number("value", value)
        priority = _check_number("priority", priority)
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 0:
            raise InvalidArgumentError(f"repeats must be an integer >= 0, got {repeats!r}")
        preferred_wait = _check_number("preferred_wait", preferred_wait, 0.0)
        now = self._begin(now)
        waits_for_preferred = (preferred_agent is not None and preferred_wait > 0
                               and self._agents[preferred_agent].state != "offline")
        call = _Call(call_id, self._plans[plan], region, language, value, priority, repeats,
                     preferred_agent, now + preferred_wait if waits_for_preferred else None,
                     now, self._calls_created)
        self._calls_created += 1
        self._calls[call_id] = call
        self._tallies[plan].arrived += 1
        self._enqueue(call, now)
        return self._end()

    def accept(self, call_id: Id, now: float) -> list[Offer]:
        call = self._call(call_id)
        now = self._begin(now)
        self._require(call.state == "offered", f"call {call_id!r} is {call.state}, not offered")
        assert call.agent is not None
        call.state, call.timer, call.agent.state = "connected", None, "busy"
        tally = self._tallies[call.plan.name]
        wait = now - call.arrival
        tally.answered += 1
        tally.wait_sum += wait
        tally.answered_within += wait <= call.plan.sl_threshold
        return self._end()

    def reject(self, call_id: Id, now: float) -> list[Offer]:
        call = self._call(call_id)
        now = self._begin(now)
        self._require(call.state == "offered", f"call {call_id!r} is {call.state}, not offered")
        self._unoffer(call, now, "rejected")
        return self._end()

    def abandon(self, call_id: Id, now: float) -> list[Offer]:
        call = self._call(call_id)
        now = self._begin(now)
        self._require(call.state in ("waiting", "offered"), f"call {call_id!r} is {call.state}; use hangup")
        del self._calls[call_id]
        self._tallies[call.plan.name].abandoned += 1
        if call.state == "offered":
            assert call.agent is not None
            self._make_ready(call.agent, now)  # keeps its ready_since: the agent got no work
        return self._end()

    def hangup(self, call_id: Id, now: float) -> list[Offer]:
        call = self._call(call_id)
        now = self._begin(now)
        self._require(call.state == "connected", f"call {call_id!r} is {call.state}, not connected")
        del self._calls[call_id]
        agent = call.agent
        assert agent is not None
        wrapup = call.plan.wrapup if agent.wrapup is None else agent.wrapup
        if wrapup > 0:
            agent.state, agent.timer = "wrapup", self._timer(now + wrapup)
        else:
            agent.ready_since = now
            self._make_ready(agent, now)
        return self._end()

    def advance(self, now: float) -> list[Offer]:
        self._begin(now)
        return self._end()

    # ---------------------------------------------------------------- queries

    @property
    def next_due(self) -> Optional[float]:
        timers = self._all_timers()
        return min(t[:2] for t in timers)[0] if timers else None

    def call_state(self, call_id: Id) -> str:
        return self._call(call_id).state

    def agent_state(self, agent_id: Id) -> str:
        return self._agent(agent_id).state

    def agent_reason(self, agent_id: Id) -> Optional[str]:
        return self._agent(agent_id).reason

    def stats(self, now: Optional[float] = None) -> dict[str, PlanStats]:
        if now is None:
            now = max(self._now, 0.0)
        self._check_time(now)
        result = {}
        for name, t in self._tallies.items():
            waits = [now - c.arrival for c in self._calls.values()
                     if c.plan.name == name and c.state == "waiting"]
            result[name] = PlanStats.from_tallies(t.arrived, t.answered, t.abandoned, t.answered_within,
                                                  t.wait_sum, len(waits), max(waits) if waits else None)
        return result

    # ------------------------------------------------------------------ rules

    def _enqueue(self, call: _Call, t: float) -> None:
        """The call waits from t in the phase it has reached; it takes an agent if one fits."""
        call.state, call.agent = "waiting", None
        call.phase = self._phase(call, t)
        admitted = [a for a in self._agents.values() if a.state == "ready" and self._admits(call, a)]
        if admitted:
            best = max(admitted, key=lambda a: (self._score(call, a, t), -a.ready_since, -a.order))
            self._offer(call, best, t)
        else:
            call.timer = self._next_phase_timer(call)

    def _make_ready(self, agent: _Agent, t: float) -> None:
        """The agent is ready at t; it takes the most urgent waiting call that admits it."""
        agent.state, agent.reason = "ready", None
        waiting = [c for c in self._calls.values() if c.state == "waiting" and self._admits(c, agent)]
        if waiting:
            best = max(waiting, key=lambda c: (self._priority(c, t), -c.arrival, -c.order))
            self._offer(best, agent, t)

    def _offer(self, call: _Call, agent: _Agent, t: float) -> None:
        call.state, call.agent, agent.state = "offered", agent, "reserved"
        timeout = self.config.offer_timeout
        call.timer = None if timeout is None else self._timer(t + timeout)
        self._offers.append(Offer(call.id, agent.id, t))

    def _unoffer(self, call: _Call, t: float, reason: str) -> None:
        """A rejected or unanswered offer: the agent steps out, the call keeps its place."""
        assert call.agent is not None
        call.agent.state, call.agent.reason = "not_ready", reason
        self._enqueue(call, t)

    def _phase(self, call: _Call, t: float) -> int:
        if call.preferred_until is not None and t < call.preferred_until:
            return PREFERRED
        return max(i for i, step in enumerate(call.plan.steps) if call.arrival + step.after <= t)

    def _next_phase_timer(self, call: _Call) -> Optional[tuple[float, int]]:
        if call.phase == PREFERRED:
            assert call.preferred_until is not None
            return self._timer(call.preferred_until)
        if call.phase + 1 < len(call.plan.steps):
            return self._timer(call.arrival + call.plan.steps[call.phase + 1].after)
        return None

    def _admits(self, call: _Call, agent: _Agent) -> bool:
        if call.phase == PREFERRED:
            return agent.id == call.preferred
        step = call.plan.steps[call.phase]
        return (all(agent.skills.get(skill, 0) >= level for skill, level in step.require.items())
                and (step.language_level == 0 or call.language is None
                     or agent.skills.get(call.language, 0) >= step.language_level)
                and (step.max_distance is None or self._distance(call, agent) <= step.max_distance))

    def _distance(self, call: _Call, agent: _Agent) -> int:
        if call.region is None:
            return 0
        return self.config.regions[call.region].get(agent.site, self.config.default_distance)

    def _score(self, call: _Call, agent: _Agent, t: float) -> float:
        if call.phase == PREFERRED:
            return 0.0  # a single candidate: nothing to rank
        step = call.plan.steps[call.phase]
        skills = set(step.require)
        if step.language_level > 0 and call.language is not None:
            skills.add(call.language)
        w = step.weights
        return (w.proficiency * sum(agent.skills.get(s, 0) for s in skills)
                + w.distance * self._distance(call, agent)
                + w.breadth * len(agent.skills)
                + w.idle * (t - agent.ready_since))

    @staticmethod
    def _priority(call: _Call, t: float) -> float:
        plan = call.plan
        return (plan.base_priority + plan.value_weight * call.value + plan.repeat_weight * call.repeats
                + call.extra + plan.aging * (t - call.arrival))

    # ----------------------------------------------------------- time, timers

    def _timer(self, due: float) -> tuple[float, int]:
        self._timers_created += 1
        return (due, self._timers_created)

    def _all_timers(self) -> list[tuple[float, int, Any]]:
        owners: list[_Agent | _Call] = [*self._agents.values(), *self._calls.values()]
        return [(*x.timer, x) for x in owners if x.timer is not None]

    def _fire_timers(self, now: float) -> None:
        while True:
            due_timers = [t for t in self._all_timers() if t[0] <= now]
            if not due_timers:
                return
            due, _, owner = min(due_timers, key=lambda t: t[:2])
            owner.timer = None
            if isinstance(owner, _Agent):  # end of wrap-up
                owner.ready_since = due
                self._make_ready(owner, due)
            elif owner.state == "offered":  # ring-no-answer
                self._unoffer(owner, due, "no answer")
            else:  # the call reaches its next phase
                self._enqueue(owner, due)

    def _check_time(self, now: Any) -> float:
        if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
            raise InvalidArgumentError(f"now must be a finite number, got {now!r}")
        if now < self._now:
            raise TimeOrderError(f"time went backwards: now={now!r} is before {self._now!r}")
        return float(now)

    def _begin(self, now: Any) -> float:
        """Checks now, then lets time pass up to it (the arguments were checked before)."""
        self._now = self._check_time(now)
        self._offers = []
        self._fire_timers(self._now)
        return self._now

    def _require(self, allowed: bool, message: str) -> None:
        if not allowed:
            offers, self._offers = self._offers, []
            raise InvalidTransitionError(message, offers)

    def _end(self) -> list[Offer]:
        offers, self._offers = self._offers, []
        return offers

    def _agent(self, agent_id: Id) -> _Agent:
        try:
            return self._agents[agent_id]
        except (KeyError, TypeError):
            raise UnknownIdError(f"unknown agent {agent_id!r}") from None

    def _call(self, call_id: Id) -> _Call:
        try:
            return self._calls[call_id]
        except (KeyError, TypeError):
            raise UnknownIdError(f"unknown call {call_id!r}") from None

    def _check_skill(self, skill: Any) -> None:
        if not isinstance(skill, str) or not skill:
            raise InvalidArgumentError(f"skill names must be non-empty strings, got {skill!r}")
        if self.config.skills is not None and skill not in self.config.skills:
            raise UnknownIdError(f"unknown skill {skill!r}")
