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

import collections
import math
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, NoReturn, Optional

from . import journal as journals
from . import snapshot as snapshots
from .errors import (ConfigError, DuplicateIdError, InvalidArgumentError, InvalidTransitionError, RestoreError,
                     RoutingError, TimeOrderError, UnknownIdError, shown)
from .journal import Op
from .types import (MAX_LEVEL, MAX_REPEATS, AgentInfo, AgentScore, CallInfo, Config, Decision, Explanation, Id,
                    Offer, Plan, PlanStats, PriorityTerms, ScoreTerms, SiteStats, describe_unmet, skill_numbering, tell)

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
    since: float = 0.0  # when it entered its state
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
    preferred: Optional[_Agent]
    preferred_until: Optional[float]
    arrival: float
    order: int
    since: float
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
    handle_time: Optional[float] = None  # recent average talk + wrap-up of its answered calls
    answer_time: Optional[float] = None  # recent average offer → accept


@dataclass
class _SiteTally:
    answered: int = 0  # by the site's agents, at the accept
    answered_within: int = 0
    wait_sum: float = 0.0
    handled: int = 0  # hung up by the site's agents
    handle_sum: float = 0.0  # Σ talk + wrap-up


RECENT_WEIGHT = 0.05  # of the newest observation in a recent average (about the last 20 count)


def _recent(average: Optional[float], x: float) -> float:
    return x if average is None else average + RECENT_WEIGHT * (x - average)


def _check_id(what: str, value: Any) -> Id:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidArgumentError(f"{what} id must be a str or int, got {shown(value)}")
    return value


def _finite(value: Any) -> bool:
    """A number a router takes: an int or float (not a bool) that is a finite double."""
    try:
        return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    except OverflowError:  # an int beyond every double
        return False


def _known(names: Mapping[Any, Any], key: Any) -> bool:
    """Whether ``key`` names an entry; a key that cannot (an unhashable list) names none."""
    try:
        return key in names
    except TypeError:
        return False


def _check_number(what: str, value: Any, minimum: float = -math.inf) -> float:
    if not _finite(value) or value < minimum:
        bound = "" if minimum == -math.inf else f" >= {minimum:g}"
        raise InvalidArgumentError(f"{what} must be a finite number{bound}, got {shown(value)}")
    return float(value)


class ReferenceRouter:
    """Same API as :class:`ccroute.Router`; see there for the documentation."""

    def __init__(self, config: Config, journal: Optional[str] = None, sync: str = "batch") -> None:
        if not isinstance(config, Config):
            raise InvalidArgumentError(f"Router needs a ccroute.Config, got {config!r}")
        self.config = config
        self._plans = {plan.name: plan for plan in config.plans}
        self._agents: dict[Id, _Agent] = {}  # by id, those not removed
        self._all_agents: list[_Agent] = []   # every agent ever added, in that order: their numbers
        self._calls: dict[Id, _Call] = {}
        self._tallies = {plan.name: _Tally() for plan in config.plans}
        self._site_tallies = {site: _SiteTally() for site in config.sites}
        self._now = -math.inf
        self._calls_created = 0
        self._timers_created = 0
        self._offers: list[Offer] = []
        self._events = 0  # operations that changed the router: the journal's event numbers
        self._decisions: Optional[collections.deque[Decision]] = None
        self._on_decision: Optional[Callable[[Decision], Any]] = None
        self._journal: Optional[journals.JournalFile] = None
        self._skill_numbers = {name: i for i, name in enumerate(skill_numbering(config))}
        if journal is not None:
            self.start_journal(journal, sync)

    # ----------------------------------------------------------------- agents

    def add_agent(self, agent_id: Id, site: str, skills: Mapping[str, int] = {},
                  wrapup: Optional[float] = None) -> None:
        _check_id("agent", agent_id)
        if agent_id in self._agents:
            raise DuplicateIdError(f"agent {shown(agent_id)} already exists")
        self._check_site(site)
        self._check_skills(skills)
        if wrapup is not None:
            wrapup = _check_number("wrapup", wrapup, 0.0)
        agent = _Agent(agent_id, site, dict(skills), wrapup, len(self._all_agents))
        self._agents[agent_id] = agent
        self._all_agents.append(agent)
        self._log(Op.ADD_AGENT, self._now, lambda: journals.add_agent_fields(
            snapshots.encode_id(agent_id), self.config.sites.index(site), self._numbered(agent.skills), wrapup),
            lambda: self._named(agent.skills))

    def set_skills(self, agent_id: Id, now: float, skills: Optional[Mapping[str, int]] = None,
                   site: Optional[str] = None) -> list[Offer]:
        agent = self._agent(agent_id)
        if site is not None:
            self._check_site(site)
        if skills is not None:
            self._check_skills(skills)
        now = self._begin(now)
        agent.site = agent.site if site is None else site
        agent.skills = agent.skills if skills is None else dict(skills)
        if agent.state == "ready":  # routed as if it had just become ready, keeping its times
            since = agent.since
            self._make_ready(agent, now)
            if agent.state == "ready":
                agent.since = since
        return self._end(Op.SET_SKILLS, lambda: journals.set_skills_fields(
            agent.order, self.config.sites.index(agent.site), self._numbered(agent.skills)),
            lambda: self._named(agent.skills))

    def remove_agent(self, agent_id: Id, now: float) -> list[Offer]:
        agent = self._agent(agent_id)
        now = self._begin(now)
        held = [c for c in self._calls.values() if c.agent is agent]
        self._require(not held, f"agent {shown(agent_id)} is {agent.state} with call "
                                f"{shown(held[0].id) if held else None}; remove it once the call has ended")
        del self._agents[agent_id]
        agent.state, agent.reason, agent.since, agent.timer = "removed", None, now, None
        return self._end(Op.REMOVE_AGENT, lambda: journals.agent_fields(agent.order))

    def ready(self, agent_id: Id, now: float) -> list[Offer]:
        agent = self._agent(agent_id)
        now = self._begin(now)
        self._require(agent.state in ("offline", "not_ready", "wrapup"), f"agent {shown(agent_id)} is {agent.state}")
        agent.timer = None
        agent.ready_since = now
        self._make_ready(agent, now)
        return self._end(Op.READY, lambda: journals.agent_fields(agent.order))

    def not_ready(self, agent_id: Id, now: float, reason: str = "") -> list[Offer]:
        agent = self._agent(agent_id)
        if not isinstance(reason, str):
            raise InvalidArgumentError(f"reason must be a str, got {shown(reason)}")
        now = self._begin(now)
        self._require(agent.state in ("offline", "ready", "not_ready", "wrapup"),
                      f"agent {shown(agent_id)} is {agent.state}")
        agent.timer = None
        agent.state, agent.reason, agent.since = "not_ready", reason, now
        return self._end(Op.NOT_READY, lambda: journals.agent_fields(agent.order, reason))

    def logout(self, agent_id: Id, now: float) -> list[Offer]:
        agent = self._agent(agent_id)
        now = self._begin(now)
        self._require(agent.state in ("ready", "not_ready", "wrapup"), f"agent {shown(agent_id)} is {agent.state}")
        agent.timer = None
        agent.state, agent.reason, agent.since = "offline", None, now
        return self._end(Op.LOGOUT, lambda: journals.agent_fields(agent.order))

    # ------------------------------------------------------------------ calls

    def arrive(self, call_id: Id, plan: str, now: float, region: Optional[str] = None,
               language: Optional[str] = None, value: float = 0.0, priority: float = 0.0,
               repeats: int = 0, preferred_agent: Optional[Id] = None,
               preferred_wait: float = 0.0) -> list[Offer]:
        _check_id("call", call_id)
        if call_id in self._calls:
            raise DuplicateIdError(f"call {shown(call_id)} is already in the router")
        value, priority = self._check_caller(plan, region, language, value, priority, repeats, preferred_agent)
        preferred_wait = _check_number("preferred_wait", preferred_wait, 0.0)
        now = self._begin(now)
        waits_for_preferred = (preferred_agent is not None and preferred_wait > 0
                               and self._agents[preferred_agent].state != "offline")
        call = _Call(call_id, self._plans[plan], region, language, value, priority, repeats,
                     None if preferred_agent is None else self._agents[preferred_agent],
                     now + preferred_wait if waits_for_preferred else None,
                     now, self._calls_created, now)
        self._calls_created += 1
        self._calls[call_id] = call
        self._tallies[plan].arrived += 1
        self._enqueue(call, now)
        return self._end(Op.ARRIVE, lambda: journals.arrive_fields(
            snapshots.encode_id(call_id), list(self._plans).index(plan),
            -1 if region is None else list(self.config.regions).index(region),
            None if language is None else self._skill_number(language), value, priority, repeats,
            -1 if call.preferred is None else call.preferred.order, preferred_wait),
            lambda: self._named([] if language is None else [language]))

    def accept(self, call_id: Id, agent_id: Id, now: float) -> list[Offer]:
        agent = self._agent(agent_id)
        _check_id("call", call_id)
        now = self._begin(now)
        call = self._offered_to(call_id, agent)
        tally = self._tallies[call.plan.name]
        tally.answer_time = _recent(tally.answer_time, now - call.since)
        call.state, call.timer, agent.state = "connected", None, "busy"
        call.since = agent.since = now
        wait = now - call.arrival
        within = wait <= call.plan.sl_threshold
        for counted in (tally, self._site_tallies[agent.site]):  # its plan's and its agent's site's
            counted.answered += 1
            counted.wait_sum += wait
            counted.answered_within += within
        return self._end(Op.ACCEPT, lambda: journals.call_fields(call.order, agent.order))

    def reject(self, call_id: Id, agent_id: Id, now: float) -> list[Offer]:
        agent = self._agent(agent_id)
        _check_id("call", call_id)
        now = self._begin(now)
        call = self._offered_to(call_id, agent)
        self._unoffer(call, now, "rejected")
        return self._end(Op.REJECT, lambda: journals.call_fields(call.order, agent.order))

    def abandon(self, call_id: Id, now: float) -> list[Offer]:
        call = self._call(call_id)
        now = self._begin(now)
        self._require(call.state in ("waiting", "offered"), f"call {shown(call_id)} is {call.state}; use hangup")
        del self._calls[call_id]
        self._tallies[call.plan.name].abandoned += 1
        if call.state == "offered":
            assert call.agent is not None
            self._make_ready(call.agent, now)  # keeps its ready_since: the agent got no work
        return self._end(Op.ABANDON, lambda: journals.call_fields(call.order))

    def hangup(self, call_id: Id, now: float) -> list[Offer]:
        call = self._call(call_id)
        now = self._begin(now)
        self._require(call.state == "connected", f"call {shown(call_id)} is {call.state}, not connected")
        del self._calls[call_id]
        agent = call.agent
        assert agent is not None
        wrapup = call.plan.wrapup if agent.wrapup is None else agent.wrapup
        tally = self._tallies[call.plan.name]
        handle_time = (now - call.since) + wrapup
        tally.handle_time = _recent(tally.handle_time, handle_time)
        site = self._site_tallies[agent.site]
        site.handled += 1
        site.handle_sum += handle_time
        if wrapup > 0:
            agent.state, agent.since, agent.timer = "wrapup", now, self._timer(now + wrapup)
        else:
            agent.ready_since = now
            self._make_ready(agent, now)
        return self._end(Op.HANGUP, lambda: journals.call_fields(call.order))

    def transfer(self, call_id: Id, plan: str, now: float) -> list[Offer]:
        call = self._call(call_id)
        if not _known(self._plans, plan):
            raise UnknownIdError(f"unknown plan {shown(plan)}")
        now = self._begin(now)
        self._require(call.state == "waiting",
                      f"call {shown(call_id)} is {call.state}; only a waiting call is transferred")
        self._tallies[call.plan.name].arrived -= 1  # a transferred call counts for the plan it is in
        self._tallies[plan].arrived += 1
        call.plan = self._plans[plan]
        self._enqueue(call, now)
        return self._end(Op.TRANSFER, lambda: journals.call_fields(call.order, list(self._plans).index(plan)))

    def reprioritize(self, call_id: Id, now: float, value: Optional[float] = None,
                     priority: Optional[float] = None) -> list[Offer]:
        call = self._call(call_id)
        value = None if value is None else _check_number("value", value)
        priority = None if priority is None else _check_number("priority", priority)
        now = self._begin(now)
        self._require(call.state != "connected", f"call {shown(call_id)} is connected; its priority no longer matters")
        call.value = call.value if value is None else value
        call.extra = call.extra if priority is None else priority
        return self._end(Op.REPRIORITIZE, lambda: journals.reprioritize_fields(call.order, value, priority))

    def reconfigure(self, config: Config, now: float) -> list[Offer]:
        if not isinstance(config, Config):
            raise InvalidArgumentError(f"reconfigure needs a ccroute.Config, got {shown(config)}")
        for call in self._calls.values():
            if not any(p.name == call.plan.name for p in config.plans):
                raise ConfigError(f"plan {shown(call.plan.name)} of call {shown(call.id)} is not in the new configuration")
            if call.region is not None and call.region not in config.regions:
                raise ConfigError(f"region {shown(call.region)} of call {shown(call.id)} is not in the new configuration")
        for agent in self._agents.values():
            if agent.site not in config.sites:
                raise ConfigError(f"site {shown(agent.site)} of agent {shown(agent.id)} is not in the new configuration")
        in_use = [*(s for a in self._agents.values() for s in a.skills),
                  *(c.language for c in self._calls.values() if c.language is not None)]
        for skill in in_use:
            if config.skills is not None and skill not in config.skills:
                raise ConfigError(f"skill {shown(skill)} is in use: the new configuration's skills must list it")
        now = self._begin(now)  # the timers due by now fire under the old plans
        self.config, self._plans = config, {plan.name: plan for plan in config.plans}
        self._tallies = {name: self._tallies.get(name, _Tally()) for name in self._plans}
        self._site_tallies = {name: self._site_tallies.get(name, _SiteTally()) for name in config.sites}
        for call in self._calls.values():
            call.plan = self._plans[call.plan.name]
            if call.state != "waiting":  # an offered call keeps its step while it rings
                call.phase = min(call.phase, len(call.plan.steps) - 1)
        # Rule 1's order: the most urgent call first takes the agent that fits it best.
        for call in sorted((c for c in self._calls.values() if c.state == "waiting"),
                           key=lambda c: (-self._priority(c, now).total, c.arrival, c.order)):
            self._enqueue(call, now)
        return self._end(Op.RECONFIGURE, lambda: journals.reconfigure_fields(config.to_document()))

    def advance(self, now: float) -> list[Offer]:
        self._begin(now)
        return self._end(Op.ADVANCE)

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

    def call_info(self, call_id: Id, now: Optional[float] = None) -> CallInfo:
        return self._call_info(self._call(call_id), self._query_time(now))

    def agent_info(self, agent_id: Id) -> AgentInfo:
        return self._agent_info(self._agent(agent_id))

    def calls(self, now: Optional[float] = None) -> list[CallInfo]:
        now = self._query_time(now)
        return [self._call_info(call, now) for call in self._calls.values()]  # in arrival order

    def agents(self) -> list[AgentInfo]:
        return [self._agent_info(agent) for agent in self._agents.values()]

    def _call_info(self, call: _Call, now: float) -> CallInfo:
        return CallInfo(call.id, call.plan.name, call.state, call.since,
                        None if call.phase == PREFERRED else call.phase, call.arrival, now - call.arrival,
                        None if call.agent is None else call.agent.id)

    def _agent_info(self, agent: _Agent) -> AgentInfo:
        held = [c.id for c in self._calls.values() if c.agent is agent]
        return AgentInfo(agent.id, agent.site, agent.state, agent.since, agent.reason, held[0] if held else None)

    def explain(self, call_id: Id, now: Optional[float] = None, agents: int = 3) -> Explanation:
        call, now = self._call(call_id), self._query_time(now)
        if isinstance(agents, bool) or not isinstance(agents, int) or agents < 0:
            raise InvalidArgumentError(f"agents must be an integer >= 0, got {shown(agents)}")
        priority = self._priority(call, now)
        rank, competing = None, 0
        if call.state == "waiting":  # rule 1's order among the calls some agent could take instead
            competitors = [c for c in self._calls.values() if c is not call and c.state == "waiting" and any(
                self._admits(call, a) and self._admits(c, a) for a in self._agents.values())]
            competing = len(competitors)
            ahead = (priority.total, -call.arrival, -call.order)
            rank = 1 + sum((self._priority(c, now).total, -c.arrival, -c.order) > ahead for c in competitors)
        admitted = [a for a in self._agents.values() if a.state == "ready" and self._admits(call, a)]
        best = sorted(admitted, key=lambda a: (-self._score(call, a, now).total, a.ready_since, a.order))[:agents]
        return Explanation(self._call_info(call, now), self._next_step_at(call), priority, rank, competing,
                           [AgentScore(a.id, a.ready_since, self._score(call, a, now)) for a in best],
                           [] if best or agents == 0 else self._unmet(call))

    def expected_wait(self, plan: str, now: Optional[float] = None, region: Optional[str] = None,
                      language: Optional[str] = None, value: float = 0.0, priority: float = 0.0,
                      repeats: int = 0) -> Optional[float]:
        value, priority = self._check_caller(plan, region, language, value, priority, repeats, None)
        now = self._query_time(now)
        caller = _Call(None, self._plans[plan], region, language, value, priority, repeats, None, None,
                       now, self._calls_created, now)
        own = self._priority(caller, now).total
        tally = self._tallies[plan]
        staffed = [a for a in self._agents.values() if a.state in ("ready", "reserved", "busy", "wrapup")]
        waits = []
        for caller.phase, step in enumerate(caller.plan.steps):
            pool = [a for a in staffed if self._admits(caller, a)]
            if any(a.state == "ready" for a in pool):
                waits.append(step.after)
            elif pool and tally.handle_time is not None:
                ahead = sum(1 for c in self._calls.values() if c.state == "waiting"
                            and self._priority(c, now).total >= own and any(self._admits(c, a) for a in pool))
                waits.append(max(step.after, (ahead + 1) * tally.handle_time / len(pool)))
        return min(waits) + (tally.answer_time or 0.0) if waits else None

    def _unmet(self, call: _Call) -> list[str]:
        """The requirements of the call's step that no ready agent meets (when none is admitted)."""
        ready = [a for a in self._agents.values() if a.state == "ready"]
        if call.phase == PREFERRED:
            assert call.preferred is not None
            return [describe_unmet("preferred_agent", call.preferred.id, 0)]
        if not ready:
            return [describe_unmet("any_ready_agent", None, 0)]
        step, unmet = call.plan.steps[call.phase], []
        for skill, level in step.require.items():
            if not any(a.skills.get(skill, 0) >= level for a in ready):
                unmet.append(describe_unmet("skill", skill, level))
        if step.language_level > 0 and call.language is not None and not any(
                a.skills.get(call.language, 0) >= step.language_level for a in ready):
            unmet.append(describe_unmet("language", call.language, step.language_level))
        if step.max_distance is not None and not any(self._distance(call, a) <= step.max_distance for a in ready):
            unmet.append(describe_unmet("distance", call.region, step.max_distance))
        return unmet or [describe_unmet("all_at_once", None, 0)]

    def log_decisions(self, capacity: Optional[int] = 1000,
                      callback: Optional[Callable[[Decision], Any]] = None) -> None:
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= sys.maxsize):
            raise InvalidArgumentError(f"capacity must be an integer >= 1 or None, got {shown(capacity)}")
        if callback is not None and not callable(callback):
            raise InvalidArgumentError(f"callback must be callable, got {callback!r}")
        on = capacity is not None or callback is not None
        self._decisions = collections.deque(maxlen=None if callback else capacity) if on else None
        self._on_decision = callback

    def decisions(self) -> list[Decision]:
        return [] if self._decisions is None else list(self._decisions)

    def stats(self, now: Optional[float] = None) -> dict[str, PlanStats]:
        now = self._query_time(now)
        result = {}
        for name, t in self._tallies.items():
            waits = [now - c.arrival for c in self._calls.values()
                     if c.plan.name == name and c.state == "waiting"]
            result[name] = PlanStats.from_tallies(t.arrived, t.answered, t.abandoned, t.answered_within,
                                                  t.wait_sum, len(waits), max(waits) if waits else None,
                                                  t.handle_time, t.answer_time)
        return result

    def site_stats(self) -> dict[str, SiteStats]:
        result = {}
        for name, t in self._site_tallies.items():
            agents = collections.Counter(a.state for a in self._agents.values() if a.site == name)
            result[name] = SiteStats.from_tallies(agents, t.answered, t.answered_within, t.wait_sum,
                                                  t.handled, t.handle_sum)
        return result

    # -------------------------------------------------------------- snapshots

    def snapshot(self) -> bytes:
        return snapshots.encode(self._state())

    @classmethod
    def restore(cls, config: Config, blob: bytes) -> "ReferenceRouter":
        router = cls(config)
        state = snapshots.decode(blob)
        if state.tag != snapshots.config_fingerprint(config):
            raise RestoreError("snapshot: taken under another configuration")
        try:
            router._load(state)
        except (IndexError, KeyError, AssertionError, RoutingError) as error:
            raise RestoreError(f"snapshot: inconsistent state ({error!r})") from None
        return router

    # ---------------------------------------------------------------- journal

    @property
    def events(self) -> int:
        return self._events

    def start_journal(self, path: str, sync: str = "batch") -> None:
        self.stop_journal()
        self._journal = journals.JournalFile(path, sync, snapshots.config_fingerprint(self.config), self._events)

    def stop_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def sync_journal(self) -> None:
        if self._journal is not None:
            self._journal.sync()

    @classmethod
    def recover(cls, config: Config, journal: str, snapshot: Optional[bytes] = None,
                sync: str = "batch") -> "ReferenceRouter":
        journals.check_sync(sync)
        router = cls(config) if snapshot is None else cls.restore(config, snapshot)
        contents = journals.read(journal)
        # The journal's configuration is the one it began with; a snapshot taken after a
        # reconfiguration the journal holds is under the newer one.
        if router._events <= contents.first_event and contents.config_tag != snapshots.config_fingerprint(config):
            raise RestoreError("journal: written under another configuration")
        for message in contents.warnings:
            warnings.warn(message, journals.JournalWarning, stacklevel=2)
        router._replay(contents)
        router._journal = journals.JournalFile(journal, sync, contents.config_tag, router._events, contents.end)
        return router

    def _replay(self, contents: journals.Contents) -> None:
        """Applies the journal's operations from this router's event count on."""
        agents = self._all_agents  # the journal numbers agents in the order added
        calls = {c.order: c.id for c in self._calls.values()}  # and calls by creation order
        plans, regions = list(self._plans), list(self.config.regions)
        skills: dict[int, str] = {}  # the writer's skill numbers, named by its skill_name records
        for record in contents.records:
            if record.op is Op.SKILL_NAME:  # read even before the snapshot's events: the records after may use it
                number, name = journals.read_skill_name(record.fields)
                skills[number] = name
                continue
            if record.op is Op.RECONFIGURE:
                skills.clear()  # the writer names its skills anew
            if record.event < self._events:
                continue  # in the snapshot already
            if record.event > self._events:
                raise RestoreError(f"journal: events {self._events} to {record.event - 1} are missing "
                                   "(a snapshot taken after them is needed)")
            f, op, now = record.fields, record.op, record.now
            try:
                if op is Op.ADD_AGENT:
                    key, site = f.varint_bytes(), f.varint()
                    held = journals.read_skills(f, skills)
                    has_wrapup, wrapup = f.get("?d")
                    self.add_agent(snapshots.decode_id(key), self.config.sites[site], held,
                                   wrapup if has_wrapup else None)
                elif op in (Op.READY, Op.LOGOUT):
                    getattr(self, op.name.lower())(agents[f.varint()].id, now)
                elif op is Op.NOT_READY:
                    agent = f.varint()
                    self.not_ready(agents[agent].id, now, f.varint_bytes().decode("utf-8", "surrogatepass"))
                elif op is Op.ARRIVE:
                    key, plan, region, language, value, priority, repeats, preferred, preferred_wait = (
                        journals.read_arrive(f, skills))
                    call_id = snapshots.decode_id(key)
                    self.arrive(call_id, plans[plan], now, regions[region] if region >= 0 else None, language, value,
                                priority, repeats, agents[preferred].id if preferred >= 0 else None, preferred_wait)
                    calls[self._calls[call_id].order] = call_id  # the journal names it by its order from now on
                elif op in (Op.ACCEPT, Op.REJECT):
                    order, agent = f.varint(), f.varint()
                    getattr(self, op.name.lower())(calls[order], agents[agent].id, now)
                elif op in (Op.ABANDON, Op.HANGUP):
                    getattr(self, op.name.lower())(calls.pop(f.varint()), now)
                elif op is Op.SET_SKILLS:
                    agent, site = f.varint(), f.zigzag()
                    self.set_skills(agents[agent].id, now, journals.read_skills(f, skills), self.config.sites[site])
                elif op is Op.REMOVE_AGENT:
                    self.remove_agent(agents[f.varint()].id, now)
                elif op is Op.TRANSFER:
                    order, plan = f.varint(), f.varint()
                    self.transfer(calls[order], plans[plan], now)
                elif op is Op.REPRIORITIZE:
                    order = f.varint()
                    has_value, value, has_priority, priority = f.get("?d?d")
                    self.reprioritize(calls[order], now, value if has_value else None,
                                      priority if has_priority else None)
                elif op is Op.RECONFIGURE:
                    self.reconfigure(Config.from_document(journals.read_reconfigure(f)), now)
                    plans, regions = list(self._plans), list(self.config.regions)
                else:
                    self.advance(now)
            except RestoreError:
                raise
            except (RoutingError, IndexError, KeyError, AssertionError, UnicodeDecodeError) as error:
                raise RestoreError(f"journal: event {record.event} does not replay ({error})") from None

    def _state(self) -> snapshots.State:
        skills = dict.fromkeys(skill_numbering(self.config))
        for agent in self._all_agents:
            skills.update(dict.fromkeys(agent.skills))
        skills.update(dict.fromkeys(c.language for c in self._calls.values() if c.language is not None))
        skill = {name: i for i, name in enumerate(skills)}
        site = {name: i for i, name in enumerate(self.config.sites)}
        region = {name: i for i, name in enumerate(self.config.regions)}
        plan = {p.name: i for i, p in enumerate(self.config.plans)}

        def timer(t: Optional[tuple[float, int]]) -> tuple[int, float]:
            return (0, 0.0) if t is None else (t[1], t[0])

        return snapshots.State(
            snapshots.config_fingerprint(self.config), self._now, self._calls_created, self._timers_created,
            self._events, list(skills),
            [snapshots.AgentRecord(a.id, site.get(a.site, 0), [(skill[s], level) for s, level in a.skills.items()],
                                   a.wrapup, a.state, a.reason or "", a.ready_since, a.since, timer(a.timer))
             for a in self._all_agents],
            [(t.arrived, t.answered, t.abandoned, t.answered_within, t.wait_sum, t.handle_time, t.answer_time)
             for t in self._tallies.values()],
            [(t.answered, t.answered_within, t.wait_sum, t.handled, t.handle_sum) for t in self._site_tallies.values()],
            [snapshots.CallRecord(
                handle, c.order, c.id, plan[c.plan.name], region.get(c.region, -1), skill.get(c.language, -1),
                c.value, c.extra, c.repeats, -1 if c.preferred is None else c.preferred.order,
                0.0 if c.preferred_until is None else c.preferred_until - c.arrival, c.preferred_until,
                c.arrival, c.since, c.state, c.phase, 0 if c.agent is None else c.agent.order, timer(c.timer))
             for handle, c in enumerate(self._calls.values())])

    def _load(self, state: snapshots.State) -> None:
        """Rebuilds the router from a decoded snapshot, checking it against the configuration."""
        assert len(state.tallies) == len(self.config.plans), "another number of plans"
        regions, plans = list(self.config.regions), self.config.plans
        for a in state.agents:
            skills, removed = {state.skills[s]: level for s, level in a.levels}, a.state == "removed"
            # A reconfiguration checks the skills of the agents in the router only: a removed
            # agent may hold one the configuration no longer lists, and keeps it.
            self.add_agent(a.id, self.config.sites[a.site], {} if removed else skills, a.wrapup)
            agent = self._all_agents[-1]
            if removed:
                self._check_skills(skills, listed=False)
                agent.skills = skills
                del self._agents[a.id]
            agent.state, agent.ready_since, agent.since = a.state, a.ready_since, a.since
            agent.reason = a.reason if a.state == "not_ready" else None
            agent.timer = self._restored_timer(state, a.timer)
            assert (agent.timer is not None) <= (a.state == "wrapup"), "a timer on an agent not in wrap-up"
        agents = self._all_agents
        last_arrival = -math.inf
        for c in sorted(state.calls, key=lambda c: c.order):
            assert c.id not in self._calls and c.order < state.calls_created, "a call twice"
            assert c.arrival >= last_arrival, "a call arrived before one created earlier"  # as no router makes them
            last_arrival = c.arrival
            assert 0 <= c.plan < len(plans) and -1 <= c.region < len(regions), "unknown plan or region"
            assert c.preferred_until is None or (c.arrival <= c.preferred_until
                                                 and math.isfinite(c.preferred_until - c.arrival)), "bad preferred turn"
            assert 0 <= c.repeats <= MAX_REPEATS and c.arrival <= state.now and -1 <= c.preferred_agent < len(agents), "bad call"
            plan = plans[c.plan]
            assert PREFERRED <= c.step < len(plan.steps) and (c.step != PREFERRED or c.preferred_until is not None)
            if c.language >= 0:
                self._check_skill(state.skills[c.language])
            call = _Call(c.id, plan, regions[c.region] if c.region >= 0 else None,
                         state.skills[c.language] if c.language >= 0 else None, c.value, c.priority, c.repeats,
                         agents[c.preferred_agent] if c.preferred_agent >= 0 else None, c.preferred_until,
                         c.arrival, c.order, c.since, c.state, c.step,
                         None if c.state == "waiting" else agents[c.agent],
                         self._restored_timer(state, c.timer))
            self._calls[c.id] = call
        for plan, tally in zip(plans, state.tallies):
            arrived, answered, abandoned, within, wait_sum, *averages = tally
            unanswered = sum(c.plan is plan and c.state != "connected" for c in self._calls.values())
            assert all(a is None or (math.isfinite(a) and a >= 0) for a in averages), "a recent average out of range"
            assert 0 <= within <= answered and abandoned >= 0 and math.isfinite(wait_sum) and wait_sum >= 0 \
                and arrived == unanswered + answered + abandoned, "a plan's statistics do not add up"
            self._tallies[plan.name] = _Tally(*tally)
        if state.site_tallies is not None:  # None: a version 1 snapshot, taken before there were any
            assert len(state.site_tallies) == len(self.config.sites), "another number of sites"
            for site, (answered, within, wait_sum, handled, handle_sum) in zip(self.config.sites, state.site_tallies):
                assert 0 <= within <= answered and handled >= 0 and all(
                    math.isfinite(x) and x >= 0 for x in (wait_sum, handle_sum)), "a site's statistics out of range"
                self._site_tallies[site] = _SiteTally(answered, within, wait_sum, handled, handle_sum)
        self._now, self._calls_created, self._timers_created = state.now, state.calls_created, state.timers_created
        self._events = state.events
        for agent in agents:  # one call per agent, in step with its state (DESIGN.md §4.6)
            held = [c.state for c in self._calls.values() if c.agent is agent]
            assert held == {"reserved": ["offered"], "busy": ["connected"]}.get(agent.state, []), "agent and call disagree"
        for call in self._calls.values():
            assert call.state != "waiting" or not any(
                a.state == "ready" and self._admits(call, a) for a in agents), "a waiting call admits a ready agent"

    @staticmethod
    def _restored_timer(state: snapshots.State, timer: tuple[int, float]) -> Optional[tuple[float, int]]:
        seq, due = timer
        if seq == 0:
            return None
        assert seq <= state.timers_created and math.isfinite(due) and due >= state.now, "a timer out of its range"
        return (due, seq)

    # ------------------------------------------------------------------ rules

    def _enqueue(self, call: _Call, t: float) -> None:
        """The call waits from t in the phase it has reached; it takes an agent if one fits."""
        call.state, call.agent = "waiting", None
        call.phase = self._phase(call, t)
        admitted = [a for a in self._agents.values() if a.state == "ready" and self._admits(call, a)]
        if admitted:
            best = max(admitted, key=lambda a: (self._score(call, a, t).total, -a.ready_since, -a.order))
            self._offer(call, best, t, "agent")
        else:
            due = self._next_step_at(call)
            call.timer = None if due is None else self._timer(due)

    def _make_ready(self, agent: _Agent, t: float) -> None:
        """The agent is ready at t; it takes the most urgent waiting call that admits it."""
        agent.state, agent.reason, agent.since = "ready", None, t
        waiting = [c for c in self._calls.values() if c.state == "waiting" and self._admits(c, agent)]
        if waiting:
            best = max(waiting, key=lambda c: (self._priority(c, t).total, -c.arrival, -c.order))
            self._offer(best, agent, t, "call")

    def _offer(self, call: _Call, agent: _Agent, t: float, rule: str) -> None:
        if self._decisions is not None:
            self._decisions.append(Decision(
                call.id, agent.id, t, call.plan.name, None if call.phase == PREFERRED else call.phase, rule,
                t - call.arrival, self._priority(call, t), self._score(call, agent, t)))
        call.state, call.agent, agent.state = "offered", agent, "reserved"
        call.since = agent.since = t
        timeout = self.config.offer_timeout
        call.timer = None if timeout is None else self._timer(t + timeout)
        self._offers.append(Offer(call.id, agent.id, t))

    def _unoffer(self, call: _Call, t: float, reason: str) -> None:
        """A rejected or unanswered offer: the agent steps out, the call keeps its place."""
        assert call.agent is not None
        call.agent.state, call.agent.reason = "not_ready", reason
        call.since = call.agent.since = t
        self._enqueue(call, t)

    def _phase(self, call: _Call, t: float) -> int:
        if call.preferred_until is not None and t < call.preferred_until:
            return PREFERRED
        return max(i for i, step in enumerate(call.plan.steps) if call.arrival + step.after <= t)

    def _next_step_at(self, call: _Call) -> Optional[float]:
        if call.phase == PREFERRED:
            return call.preferred_until
        if call.phase + 1 < len(call.plan.steps):
            return call.arrival + call.plan.steps[call.phase + 1].after
        return None

    def _admits(self, call: _Call, agent: _Agent) -> bool:
        if call.phase == PREFERRED:
            return agent is call.preferred
        step = call.plan.steps[call.phase]
        return (all(agent.skills.get(skill, 0) >= level for skill, level in step.require.items())
                and (step.language_level == 0 or call.language is None
                     or agent.skills.get(call.language, 0) >= step.language_level)
                and (step.max_distance is None or self._distance(call, agent) <= step.max_distance))

    def _distance(self, call: _Call, agent: _Agent) -> int:
        if call.region is None:
            return 0
        return self.config.regions[call.region].get(agent.site, self.config.default_distance)

    def _score(self, call: _Call, agent: _Agent, t: float) -> ScoreTerms:
        if call.phase == PREFERRED:
            return ScoreTerms(0.0, 0.0, 0.0, 0.0, 0.0)  # a single candidate: nothing to rank
        step = call.plan.steps[call.phase]
        skills = set(step.require)
        if step.language_level > 0 and call.language is not None:
            skills.add(call.language)
        w = step.weights
        terms = (w.proficiency * sum(agent.skills.get(s, 0) for s in skills),
                 w.distance * self._distance(call, agent),
                 w.breadth * len(agent.skills),
                 w.idle * (t - agent.ready_since))
        return ScoreTerms(*terms, terms[0] + terms[1] + terms[2] + terms[3])

    @staticmethod
    def _priority(call: _Call, t: float) -> PriorityTerms:
        plan = call.plan
        terms = (plan.base_priority, plan.value_weight * call.value, plan.repeat_weight * call.repeats,
                 call.extra, plan.aging * (t - call.arrival))
        return PriorityTerms(*terms, terms[0] + terms[1] + terms[2] + terms[3] + terms[4])

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
        if not _finite(now):
            raise InvalidArgumentError(f"now must be a finite number, got {shown(now)}")
        if float(now) < self._now:  # as a double, like every time kept: 2**63 - 1 is 2.0**63
            raise TimeOrderError(f"time went backwards: now={shown(now)} is before {shown(self._now)}")
        return float(now)

    def _query_time(self, now: Any) -> float:
        """A read-out's time: ``now``, or by default the last operation's."""
        return self._check_time(max(self._now, 0.0) if now is None else now)

    def _begin(self, now: Any) -> float:
        """Checks now, then lets time pass up to it (the arguments were checked before)."""
        self._now = self._check_time(now)
        self._offers = []
        self._fire_timers(self._now)
        return self._now

    def _require(self, allowed: bool, message: str) -> None:
        if not allowed:
            self._refuse(message)

    def _refuse(self, message: str) -> NoReturn:
        """An impossible transition, after the timers due by now fired: journaled as an advance."""
        self._log(Op.ADVANCE, self._now)
        raise InvalidTransitionError(message, self._hand_over())

    def _log(self, op: Op, now: float, fields: Callable[[], bytes] = bytes,
             skills: Callable[[], list[tuple[int, str]]] = list) -> None:
        """Counts an operation that changed the router and journals it (``skills``: the skills its record numbers)."""
        if self._journal is not None:
            self._journal.append(self._events, op, now, fields(), skills())
        self._events += 1

    def _skill_number(self, name: str) -> int:
        return self._skill_numbers.setdefault(name, len(self._skill_numbers))

    def _end(self, op: Op, fields: Callable[[], bytes] = bytes,
             skills: Callable[[], list[tuple[int, str]]] = list) -> list[Offer]:
        self._log(op, self._now, fields, skills)
        return self._hand_over()

    def _hand_over(self) -> list[Offer]:
        """The operation's offers (and, to a decision callback, their decisions)."""
        offers, self._offers = self._offers, []
        if self._on_decision is not None and self._decisions:
            decisions, self._decisions = list(self._decisions), collections.deque(maxlen=None)
            tell(self._on_decision, decisions)
        return offers

    def _offered_to(self, call_id: Id, agent: _Agent) -> _Call:
        """The call, if ``agent`` holds its current offer (rule 3); refused otherwise."""
        call = self._calls.get(call_id)
        if call is not None and call.state == "offered" and call.agent is agent:
            return call
        why = ("the call is not in the router (abandoned, ended or never arrived)" if call is None
               else "the call is waiting, offered to no agent" if call.agent is None
               else f"the call is {call.state} to agent {shown(call.agent.id)}")
        self._refuse(f"agent {shown(agent.id)} holds no offer of call {shown(call_id)}: {why}")

    def _agent(self, agent_id: Id) -> _Agent:
        try:
            return self._agents[agent_id]
        except (KeyError, TypeError):
            raise UnknownIdError(f"unknown agent {shown(agent_id)}") from None

    def _call(self, call_id: Id) -> _Call:
        try:
            return self._calls[call_id]
        except (KeyError, TypeError):
            raise UnknownIdError(f"unknown call {shown(call_id)}") from None

    def _check_caller(self, plan: Any, region: Any, language: Any, value: Any, priority: Any,
                      repeats: Any, preferred_agent: Any) -> tuple[float, float]:
        """What arrive and expected_wait refuse of a caller's attributes; its value and priority."""
        if not _known(self._plans, plan):
            raise UnknownIdError(f"unknown plan {shown(plan)}")
        if region is not None and not _known(self.config.regions, region):
            raise UnknownIdError(f"unknown region {shown(region)}")
        if language is not None:
            self._check_skill(language)
        if preferred_agent is not None and not _known(self._agents, preferred_agent):
            raise UnknownIdError(f"unknown preferred agent {shown(preferred_agent)}")
        value, priority = _check_number("value", value), _check_number("priority", priority)
        if isinstance(repeats, bool) or not isinstance(repeats, int) or not 0 <= repeats <= MAX_REPEATS:
            raise InvalidArgumentError(f"repeats must be an integer 0–{MAX_REPEATS}, got {shown(repeats)}")
        return value, priority

    def _check_skill(self, skill: Any, listed: bool = True) -> None:
        """Refuses a bad skill name, or one the configuration does not list (unless not ``listed``)."""
        if not isinstance(skill, str) or not skill:
            raise InvalidArgumentError(f"skill names must be non-empty strings, got {shown(skill)}")
        if listed and self.config.skills is not None and skill not in self.config.skills:
            raise UnknownIdError(f"unknown skill {shown(skill)}")
        self._skill_number(skill)  # a name the router knows from now on (as the native core does)

    def _check_site(self, site: Any) -> None:
        if site not in self.config.sites:
            raise UnknownIdError(f"unknown site {shown(site)}")

    def _check_skills(self, skills: Any, listed: bool = True) -> None:
        if not isinstance(skills, Mapping):
            raise InvalidArgumentError(f"skills must map skill names to levels, got {shown(skills)}")
        for skill in skills:  # names first, then levels: the order both routers check in
            self._check_skill(skill, listed)
        for skill, level in skills.items():
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_LEVEL:
                raise InvalidArgumentError(f"level of skill {shown(skill)} must be an integer 1–10, got {shown(level)}")

    def _named(self, skills: Iterable[str]) -> list[tuple[int, str]]:
        return [(self._skill_number(skill), skill) for skill in skills]

    def _numbered(self, skills: Mapping[str, int]) -> list[tuple[int, str, int]]:
        return [(self._skill_number(skill), skill, level) for skill, level in skills.items()]
