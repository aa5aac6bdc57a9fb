"""The domain vocabulary: configuration (Config, Plan, Step, Weights) and results.

Configuration objects are frozen and validated on construction, in this one place,
so that both routers (native and reference) receive a configuration already known
to be sound. Skill levels are integers 1–10; distances are small integer tiers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, Optional, Sequence, Union

from .errors import ConfigError

Id = Union[str, int]
"""Agent and call ids: any str or int chosen by the switch."""

MAX_LEVEL = 10


class Offer(NamedTuple):
    """A match made by the router: ``agent_id`` is reserved for ``call_id`` at ``time``.

    The switch rings the agent and answers with ``accept`` or ``reject``. ``time`` is the
    moment the match was made, which for an offer made by a timer (an escalation, the end
    of a wrap-up) is that timer's due time, not the ``now`` of the operation.
    """

    call_id: Id
    agent_id: Id
    time: float


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

    @classmethod
    def from_tallies(cls, arrived: int, answered: int, abandoned: int, answered_within: int,
                     wait_sum: float, waiting: int, oldest_wait: Optional[float]) -> "PlanStats":
        """The statistics from a router's running tallies (``wait_sum``: Σ accept − arrival)."""
        decided = answered + abandoned
        return cls(arrived, answered, abandoned, answered_within,
                   answered_within / decided if decided else None,
                   wait_sum / answered if answered else None,
                   waiting, oldest_wait)


def _finite(what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _tier(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{what} must be an integer >= 0, got {value!r}")
    return value


def _level(what: str, value: Any, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= MAX_LEVEL:
        raise ConfigError(f"{what} must be an integer {lowest}–{MAX_LEVEL}, got {value!r}")
    return value


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
        steps = tuple(self.steps)
        if not steps or not all(isinstance(s, Step) for s in steps):
            raise ConfigError(f"plan {self.name!r} needs a non-empty list of Step, got {self.steps!r}")
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
        sites = tuple(self.sites)
        if not sites or not all(isinstance(s, str) and s for s in sites):
            raise ConfigError(f"sites must be a non-empty list of names, got {self.sites!r}")
        if len(set(sites)) != len(sites):
            raise ConfigError(f"site names must be unique, got {list(sites)!r}")
        object.__setattr__(self, "sites", sites)
        plans = tuple(self.plans)
        if not plans or not all(isinstance(p, Plan) for p in plans):
            raise ConfigError(f"plans must be a non-empty list of Plan, got {self.plans!r}")
        names = [p.name for p in plans]
        if len(set(names)) != len(names):
            raise ConfigError(f"plan names must be unique, got {names!r}")
        object.__setattr__(self, "plans", plans)
        regions: dict[str, dict[str, int]] = {}
        for region, tiers in dict(self.regions).items():
            if not isinstance(region, str) or not region:
                raise ConfigError(f"region names must be non-empty strings, got {region!r}")
            for site, tier in dict(tiers).items():
                if site not in sites:
                    raise ConfigError(f"region {region!r} names unknown site {site!r}")
                _tier(f"distance of ({region!r}, {site!r})", tier)
            regions[region] = dict(tiers)
        object.__setattr__(self, "regions", regions)
        _tier("default_distance", self.default_distance)
        if self.offer_timeout is not None:
            timeout = _finite("offer_timeout", self.offer_timeout)
            if timeout <= 0:
                raise ConfigError(f"offer_timeout must be > 0 or None, got {self.offer_timeout!r}")
            object.__setattr__(self, "offer_timeout", timeout)
        if self.skills is not None:
            skills = tuple(self.skills)
            if not all(isinstance(s, str) and s for s in skills) or len(set(skills)) != len(skills):
                raise ConfigError(f"skills must be unique non-empty names, got {self.skills!r}")
            for plan in plans:
                for step in plan.steps:
                    for skill in step.require:
                        if skill not in skills:
                            raise ConfigError(f"plan {plan.name!r} requires unknown skill {skill!r}")
            object.__setattr__(self, "skills", skills)
