"""The domain vocabulary: configuration (Config, Plan, Step, Weights) and results.

Configuration objects are frozen and validated on construction, in this one place,
so that both routers (native and reference) receive a configuration already known
to be sound. Skill levels are integers 1–10; distances are small integer tiers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence, Union

from .errors import ConfigError, shown

Id = Union[str, int]
"""Agent and call ids: any str or int chosen by the switch."""

MAX_LEVEL = 10
AGENT_STATES = ("offline", "ready", "reserved", "busy", "wrapup", "not_ready", "removed")
CALL_STATES = ("waiting", "offered", "connected")
MAX_TIER = 2**31 - 1
"""Distance tiers are small integers; the core keeps them (and step limits) as 32-bit ints."""
MAX_REPEATS = 2**32 - 1
"""A caller's repeat count: the core keeps it as a 32-bit unsigned int (a snapshot and the
journal as a 64-bit int)."""
MAX_STEPS = 2**15 - 1
"""Steps of a plan: the core keeps a call's step as a 16-bit int."""


class Offer(NamedTuple):
    """A match made by the router: ``agent_id`` is reserved for ``call_id`` at ``time``.

    The switch rings the agent and answers with ``accept`` or ``reject``. ``time`` is the
    moment the match was made, which for an offer made by a timer (an escalation, the end
    of a wrap-up) is that timer's due time, not the ``now`` of the operation.
    """

    call_id: Id
    agent_id: Id
    time: float


class CallInfo(NamedTuple):
    """A live call as a wallboard shows it (:meth:`Router.call_info`, :meth:`Router.calls`)."""

    call_id: Id
    plan: str
    state: str
    """``"waiting"``, ``"offered"`` or ``"connected"``."""
    since: float
    """When it entered that state."""
    step: Optional[int]
    """The plan's step it is in (the one its offer was made in); None while only its preferred agent may take it."""
    arrival: float
    wait: float
    """Seconds since arrival, at the time asked about."""
    agent_id: Optional[Id]
    """The agent holding its offer or connection; None while it waits."""


class AgentInfo(NamedTuple):
    """An agent as a wallboard shows it (:meth:`Router.agent_info`, :meth:`Router.agents`)."""

    agent_id: Id
    site: str
    state: str
    """``"offline"``, ``"ready"``, ``"reserved"``, ``"busy"``, ``"wrapup"`` or ``"not_ready"``."""
    since: float
    """When it entered that state."""
    reason: Optional[str]
    """Why it is not ready (``"rejected"``, ``"no answer"`` or the reason given); None otherwise."""
    call_id: Optional[Id]
    """The call it holds (reserved for it or connected); None otherwise."""


class PriorityTerms(NamedTuple):
    """A call's priority at a time, term by term (DESIGN.md §4.1), and their sum in this order."""

    base: float
    value: float
    """value_weight × customer value"""
    repeats: float
    """repeat_weight × repeat calls"""
    extra: float
    aging: float
    """aging × seconds waited"""
    total: float


class ScoreTerms(NamedTuple):
    """An agent's score for a call, term by term (DESIGN.md §4.2), and their sum in this order."""

    proficiency: float
    distance: float
    breadth: float
    idle: float
    total: float


class AgentScore(NamedTuple):
    """A ready agent a call's step admits, with its score terms."""

    agent_id: Id
    ready_since: float
    score: ScoreTerms


class Explanation(NamedTuple):
    """Why a call stands where it does (:meth:`Router.explain`)."""

    call: CallInfo
    next_step_at: Optional[float]
    """When its wait reaches its plan's next step (or its preferred agent's time ends); None at the last."""
    priority: PriorityTerms
    rank: Optional[int]
    """1 = the next to be taken among the waiting calls it competes with; None unless waiting."""
    competing: int
    """Waiting calls that some agent admitted for it would also take."""
    agents: list[AgentScore]
    """The best ready agents its step admits, best first (rule 2's order)."""
    unmet: list[str]
    """When no ready agent is admitted: which of the step's requirements none meets."""


class Decision(NamedTuple):
    """An offer as the decision log records it (:meth:`Router.log_decisions`)."""

    call_id: Id
    agent_id: Id
    time: float
    plan: str
    step: Optional[int]
    """The step the call was in; None when it went to its preferred agent."""
    rule: str
    """``"agent"``: an agent was chosen for the call (rule 2); ``"call"``: a call for the agent (rule 1)."""
    wait: float
    priority: PriorityTerms
    score: ScoreTerms


def tell(callback: Callable[[Decision], Any], decisions: list[Decision]) -> None:
    """Hands decisions to a decision-log callback: one that raises is reported as a
    RuntimeWarning, never raised, because the operation it follows has happened."""
    for decision in decisions:
        try:
            callback(decision)
        except Exception as error:  # noqa: BLE001
            warnings.warn(f"the decision callback raised {error!r}", RuntimeWarning, stacklevel=4)


def describe_unmet(requirement: str, name: Any, level: int) -> str:
    """The words for a requirement of a step that no ready agent meets (Explanation.unmet)."""
    return {
        "skill": f"no ready agent holds {name} at level {level} or more",
        "language": f"no ready agent speaks {name} at level {level} or more",
        "distance": f"no ready agent works at a site within distance {level} of {name}",
        "preferred_agent": f"its preferred agent {name!r} is not ready",
        "all_at_once": "no ready agent meets all of the step's requirements at once",
        "any_ready_agent": "no agent is ready",
    }[requirement]


class PlanStats(NamedTuple):
    """Service statistics of one plan (DESIGN.md §4.7)."""

    arrived: int
    answered: int
    abandoned: int
    answered_within: int
    service_level: Optional[float]
    """answered_within / (answered + abandoned); None while both are 0."""
    asa: Optional[float]
    """Average speed of answer: mean (accept − arrival) over answered calls; None before the first."""
    waiting: int
    oldest_wait: Optional[float]
    """Longest current wait among waiting calls; None when none waits."""
    handle_time: Optional[float] = None
    """Recent average handle time (talk + wrap-up) of answered calls, weighting the newest by
    1/20 (exponentially); None before the first ends."""
    answer_time: Optional[float] = None
    """Recent average time from offer to accept (ring time) of answered calls; None before the first."""

    @classmethod
    def from_tallies(cls, arrived: int, answered: int, abandoned: int, answered_within: int,
                     wait_sum: float, waiting: int, oldest_wait: Optional[float],
                     handle_time: Optional[float], answer_time: Optional[float]) -> "PlanStats":
        """The statistics from a router's running tallies (``wait_sum``: Σ accept − arrival)."""
        decided = answered + abandoned
        return cls(arrived, answered, abandoned, answered_within,
                   answered_within / decided if decided else None,
                   wait_sum / answered if answered else None,
                   waiting, oldest_wait, handle_time, answer_time)


class SiteStats(NamedTuple):
    """A site as a multi-site wallboard shows it (:meth:`Router.site_stats`).

    The agent counts are of the agents at the site now (removed ones left out), by state;
    they come from a scan of the agents, O(agents), a read-out off the decision path. The
    call counts are running tallies: a call counts at the site of the agent who accepted
    it (``answered``) and of the agent who hung up (``handled``), that agent's site at that
    moment (it may have moved since: :meth:`Router.set_skills`). A reconfiguration keeps
    the tallies of the sites it keeps (by name); a site it drops loses them.
    """

    logged_in: int
    """Agents not offline: ready + reserved + busy + wrapup + not_ready."""
    ready: int
    reserved: int
    """Agents holding an offer that rings."""
    busy: int
    wrapup: int
    not_ready: int
    offline: int
    answered: int
    """Offers accepted by the site's agents."""
    answered_within: int
    """Of those, accepted within their plan's service-level threshold (accept − arrival ≤ sl_threshold)."""
    answered_within_share: Optional[float]
    """answered_within / answered; None before the first answer. (A plan's service level also
    counts abandoned calls, which belong to no site.)"""
    asa: Optional[float]
    """Average speed of answer: mean (accept − arrival) over the calls answered; None before the first."""
    handled: int
    """Connected calls the site's agents ended (hang-ups)."""
    mean_handle_time: Optional[float]
    """Mean (hang-up − accept + wrap-up seconds) over the calls handled, the wrap-up being the
    agent's or plan's setting (as in PlanStats.handle_time, there as a recent average); None before the first."""

    @classmethod
    def from_tallies(cls, agents: Mapping[str, int], answered: int, answered_within: int, wait_sum: float,
                     handled: int, handle_sum: float) -> "SiteStats":
        """The statistics from a router's agent counts (by state name) and running tallies
        (``wait_sum``: Σ accept − arrival; ``handle_sum``: Σ hang-up − accept + wrap-up)."""
        staffed = ("ready", "reserved", "busy", "wrapup", "not_ready")
        return cls(sum(agents.get(state, 0) for state in staffed), *(agents.get(state, 0) for state in staffed),
                   agents.get("offline", 0), answered, answered_within,
                   answered_within / answered if answered else None, wait_sum / answered if answered else None,
                   handled, handle_sum / handled if handled else None)


def _finite(what: str, value: Any) -> float:
    try:
        finite = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    except OverflowError:  # an int beyond every double
        finite = False
    if not finite:
        raise ConfigError(f"{what} must be a finite number, got {shown(value)}")
    return float(value)


def _tier(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TIER:
        raise ConfigError(f"{what} must be an integer 0–{MAX_TIER}, got {shown(value)}")
    return value


def _level(what: str, value: Any, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= MAX_LEVEL:
        raise ConfigError(f"{what} must be an integer {lowest}–{MAX_LEVEL}, got {shown(value)}")
    return value


def _items(what: str, value: Any) -> tuple:
    """The items of a list (or any iterable) given for ``what``; ConfigError if it is none."""
    try:
        return tuple(value)
    except TypeError:
        raise ConfigError(f"{what} must be a list, got {shown(value)}") from None


def _mapping(what: str, value: Any) -> dict:
    """A dict of what was given for ``what`` (a mapping or pairs); ConfigError if it is none."""
    try:
        return dict(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must map names to values, got {shown(value)}") from None


@dataclass(frozen=True)
class Weights:
    """How a step ranks the agents it admits (DESIGN.md §4.2).

    score = proficiency·Σ levels of the required skills (and the call's language when the
    step requires it) + distance·tier + breadth·(skills held) + idle·(seconds ready).
    The default prefers proficient agents at the nearest site.
    """

    proficiency: float = 1.0
    distance: float = -1.0
    breadth: float = 0.0
    idle: float = 0.0

    def __post_init__(self) -> None:
        for name in ("proficiency", "distance", "breadth", "idle"):
            object.__setattr__(self, name, _finite(f"Weights.{name}", getattr(self, name)))


@dataclass(frozen=True)
class Step:
    """One stage of a plan, in force from ``after`` seconds of waiting.

    ``require`` maps skill names to the minimum level (1–10) an agent needs;
    ``language_level`` (when > 0) requires the call's language skill at that level;
    ``max_distance`` (when set) admits only agents whose site is within that tier of the
    caller's region; ``weights`` ranks the admitted agents.
    """

    after: float = 0.0
    require: Mapping[str, int] = field(default_factory=dict)
    language_level: int = 0
    max_distance: Optional[int] = None
    weights: Weights = field(default_factory=Weights)

    def __post_init__(self) -> None:
        after = _finite("Step.after", self.after)
        if after < 0:
            raise ConfigError(f"Step.after must be >= 0, got {self.after!r}")
        object.__setattr__(self, "after", after)
        if not isinstance(self.require, Mapping):
            raise ConfigError(f"Step.require must map skill names to levels, got {self.require!r}")
        for skill, level in self.require.items():
            if not isinstance(skill, str) or not skill:
                raise ConfigError(f"skill names must be non-empty strings, got {skill!r}")
            _level(f"level of required skill {skill!r}", level, 1)
        object.__setattr__(self, "require", dict(self.require))
        _level("Step.language_level", self.language_level, 0)
        if self.max_distance is not None:
            _tier("Step.max_distance", self.max_distance)
        if not isinstance(self.weights, Weights):
            raise ConfigError(f"Step.weights must be a Weights, got {self.weights!r}")


@dataclass(frozen=True)
class Plan:
    """A queue: how its calls are prioritised, escalated through steps, and measured.

    priority(now) = base_priority + value_weight·value + repeat_weight·repeats + extra
    + aging·(now − arrival). ``sl_threshold``/``sl_target`` state the service level
    ("85 % within 20 s"); ``wrapup`` is the agents' after-call work in seconds.
    """

    name: str
    steps: Sequence[Step] = field(default_factory=lambda: (Step(),))
    base_priority: float = 0.0
    value_weight: float = 0.0
    repeat_weight: float = 0.0
    aging: float = 1.0
    sl_threshold: float = 20.0
    sl_target: float = 0.85
    wrapup: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"Plan.name must be a non-empty string, got {self.name!r}")
        steps = _items(f"plan {self.name!r} steps", self.steps)
        if not steps or not all(isinstance(s, Step) for s in steps):
            raise ConfigError(f"plan {self.name!r} needs a non-empty list of Step, got {self.steps!r}")
        if len(steps) > MAX_STEPS:
            raise ConfigError(f"plan {self.name!r}: at most {MAX_STEPS} steps, got {len(steps)}")
        if steps[0].after != 0.0:
            raise ConfigError(f"plan {self.name!r}: the first step must start after 0 s, got {steps[0].after!r}")
        for before, step in zip(steps, steps[1:]):
            if step.after <= before.after:
                raise ConfigError(
                    f"plan {self.name!r}: step times must increase, got {step.after!r} after {before.after!r}")
        object.__setattr__(self, "steps", steps)
        for name in ("base_priority", "value_weight", "repeat_weight", "aging", "sl_threshold", "wrapup"):
            object.__setattr__(self, name, _finite(f"plan {self.name!r} {name}", getattr(self, name)))
        if self.sl_threshold < 0 or self.wrapup < 0:
            raise ConfigError(f"plan {self.name!r}: sl_threshold and wrapup must be >= 0")
        target = _finite(f"plan {self.name!r} sl_target", self.sl_target)
        if not 0.0 < target <= 1.0:
            raise ConfigError(f"plan {self.name!r}: sl_target must be in (0, 1], got {self.sl_target!r}")
        object.__setattr__(self, "sl_target", target)


@dataclass(frozen=True)
class Config:
    """Everything a router needs to know before the first call.

    ``regions`` maps a caller's region to ``{site: distance tier}``; a pair not listed is
    at ``default_distance``. ``skills``, when given, is the closed list of skill names
    (a name outside it is an error, which catches typos); when None any name is accepted.
    ``offer_timeout`` (seconds) makes the router time out unanswered offers itself.
    """

    sites: Sequence[str]
    plans: Sequence[Plan]
    regions: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    default_distance: int = 3
    offer_timeout: Optional[float] = None
    skills: Optional[Sequence[str]] = None

    def __post_init__(self) -> None:
        sites = _items("sites", self.sites)
        if not sites or not all(isinstance(s, str) and s for s in sites):
            raise ConfigError(f"sites must be a non-empty list of names, got {self.sites!r}")
        if len(set(sites)) != len(sites):
            raise ConfigError(f"site names must be unique, got {list(sites)!r}")
        object.__setattr__(self, "sites", sites)
        plans = _items("plans", self.plans)
        if not plans or not all(isinstance(p, Plan) for p in plans):
            raise ConfigError(f"plans must be a non-empty list of Plan, got {self.plans!r}")
        names = [p.name for p in plans]
        if len(set(names)) != len(names):
            raise ConfigError(f"plan names must be unique, got {names!r}")
        object.__setattr__(self, "plans", plans)
        regions: dict[str, dict[str, int]] = {}
        for region, tiers in _mapping("regions", self.regions).items():
            if not isinstance(region, str) or not region:
                raise ConfigError(f"region names must be non-empty strings, got {region!r}")
            tiers = _mapping(f"region {region!r}", tiers)
            for site, tier in tiers.items():
                if site not in sites:
                    raise ConfigError(f"region {region!r} names unknown site {site!r}")
                _tier(f"distance of ({region!r}, {site!r})", tier)
            regions[region] = tiers
        object.__setattr__(self, "regions", regions)
        _tier("default_distance", self.default_distance)
        if self.offer_timeout is not None:
            timeout = _finite("offer_timeout", self.offer_timeout)
            if timeout <= 0:
                raise ConfigError(f"offer_timeout must be > 0 or None, got {self.offer_timeout!r}")
            object.__setattr__(self, "offer_timeout", timeout)
        if self.skills is not None:
            skills = _items("skills", self.skills)
            if not all(isinstance(s, str) and s for s in skills) or len(set(skills)) != len(skills):
                raise ConfigError(f"skills must be unique non-empty names, got {self.skills!r}")
            for plan in plans:
                for step in plan.steps:
                    for skill in step.require:
                        if skill not in skills:
                            raise ConfigError(f"plan {plan.name!r} requires unknown skill {skill!r}")
            object.__setattr__(self, "skills", skills)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Config":
        """A configuration from its table (the ``[routing]`` table of a TOML file, with
        ``[[routing.plans]]`` and their ``steps``), as :meth:`to_dict` gives it back."""
        plans = []
        for p in _items("plans", data["plans"]):
            p = dict(_mapping("a plan", p))
            steps = [Step(**{**s, "weights": Weights(**s.get("weights", {}))}) for s in p.pop("steps", [{}])]
            plans.append(Plan(steps=steps, **p))
        return cls(sites=data["sites"], plans=plans, regions=data.get("regions", {}),
                   default_distance=data.get("default_distance", 3),
                   offer_timeout=data.get("offer_timeout"), skills=data.get("skills"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_document(self) -> bytes:
        """The configuration as JSON, its tables in their order (regions, like sites and plans,
        are numbered in it): the journal's record of a reconfiguration, a snapshot's tag."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_document(cls, document: bytes) -> "Config":
        return cls.from_dict(json.loads(document))


def skill_numbering(config: Config) -> list[str]:
    """The skills in the order the native core numbers them: the config's list, or the
    skills its steps require in order of appearance (names first seen later follow)."""
    named = config.skills if config.skills is not None else [
        skill for plan in config.plans for step in plan.steps for skill in step.require]
    return list(dict.fromkeys(named))
