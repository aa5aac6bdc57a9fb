"""A day to simulate: the routing configuration, the calls that arrive and the agents on shift.

A :class:`Scenario` is built in Python or loaded from TOML (:meth:`Scenario.load`); the
TOML layout is documented in ``examples/bank_day.toml``. Rates are calls per second and
times seconds, except the ``shift_hours`` table of a TOML file, which is in hours of
the day because that is how rosters are written.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from .errors import ConfigError
from .types import Config, Plan, Step, Weights

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DAY = 86_400.0


def _number(what: str, value: Any, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"{what} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Callers:
    """One kind of caller of a plan: region and language, in proportion ``weight``."""

    weight: float = 1.0
    region: Optional[str] = None
    language: Optional[str] = None

    def __post_init__(self) -> None:
        if not _number("Callers.weight", self.weight) > 0:
            raise ConfigError(f"Callers.weight must be > 0, got {self.weight!r}")


@dataclass(frozen=True)
class HandleTime:
    """Talk time: exponential with ``mean``, or lognormal with ``mean`` and coefficient of variation ``cv``."""

    mean: float
    cv: float = 1.0
    distribution: str = "exponential"

    def __post_init__(self) -> None:
        if not _number("HandleTime.mean", self.mean) > 0 or not _number("HandleTime.cv", self.cv) > 0:
            raise ConfigError(f"handle time mean and cv must be > 0, got {self.mean!r}, {self.cv!r}")
        if self.distribution not in ("exponential", "lognormal"):
            raise ConfigError(f"distribution must be exponential or lognormal, got {self.distribution!r}")
        if self.distribution == "exponential" and self.cv != 1.0:
            raise ConfigError(f"an exponential handle time has cv 1, got {self.cv!r}")


@dataclass(frozen=True)
class Demand:
    """The calls of one plan: Poisson arrivals at ``rates[k]`` calls/s in interval k.

    ``value`` is the range customer values are drawn from (uniformly); ``repeat_share`` the
    chance that a caller has called before (and again for each further earlier call);
    ``patience`` the mean of an exponential patience (None: callers never hang up);
    ``case_owner_share`` of the callers ask for their case owner (an agent holding the
    plan's first-step skills), who alone may take the call for ``case_owner_wait`` s.
    """

    plan: str
    rates: Sequence[float]
    callers: Sequence[Callers] = (Callers(),)
    handle: HandleTime = HandleTime(180.0)
    patience: Optional[float] = None
    value: tuple[float, float] = (0.0, 0.0)
    repeat_share: float = 0.0
    case_owner_share: float = 0.0
    case_owner_wait: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates", tuple(_number(f"{self.plan} rate", r, 0.0) for r in self.rates))
        object.__setattr__(self, "callers", tuple(self.callers))
        low, high = (_number(f"{self.plan} value", v) for v in self.value)
        if low > high:
            raise ConfigError(f"{self.plan}: value range {self.value!r} is empty")
        object.__setattr__(self, "value", (low, high))
        if self.patience is not None and not _number(f"{self.plan} patience", self.patience) > 0:
            raise ConfigError(f"{self.plan}: patience must be > 0 or None, got {self.patience!r}")
        _number(f"{self.plan} repeat_share", self.repeat_share, 0.0, 0.99)
        _number(f"{self.plan} case_owner_share", self.case_owner_share, 0.0, 1.0)
        _number(f"{self.plan} case_owner_wait", self.case_owner_wait, 0.0)


@dataclass(frozen=True)
class AgentGroup:
    """``count`` agents alike: same site, skills ``{name: level}`` and shifts ``[(start, end)]`` in seconds."""

    name: str
    site: str
    skills: Mapping[str, int]
    count: int
    shifts: Sequence[tuple[float, float]] = ((0.0, DAY),)
    wrapup: Optional[float] = None
    no_answer: float = 0.0
    """Probability that an offer rings unanswered (the router's offer_timeout then re-offers)."""

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0:
            raise ConfigError(f"agent group {self.name!r}: count must be an integer >= 0, got {self.count!r}")
        shifts = tuple((float(a), float(b)) for a, b in self.shifts)
        if any(not a < b for a, b in shifts):
            raise ConfigError(f"agent group {self.name!r}: a shift must end after it starts, got {self.shifts!r}")
        object.__setattr__(self, "shifts", shifts)
        object.__setattr__(self, "skills", dict(self.skills))
        _number(f"agent group {self.name!r} no_answer", self.no_answer, 0.0, 1.0)


@dataclass(frozen=True)
class Scenario:
    """A day (``intervals`` × ``interval`` seconds) of demand and staff, routed by ``routing``."""

    routing: Config
    demand: Sequence[Demand]
    agents: Sequence[AgentGroup]
    interval: float = 1800.0
    intervals: int = 48
    answer_delay: float = 0.0
    """Seconds an agent's phone rings before it is answered."""
    no_answer_pause: float = 30.0
    """Seconds an agent who missed an offer stays not ready."""
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "demand", tuple(self.demand))
        object.__setattr__(self, "agents", tuple(self.agents))
        plans = {p.name for p in self.routing.plans}
        seen = set()
        for d in self.demand:
            if d.plan not in plans:
                raise ConfigError(f"demand for unknown plan {d.plan!r}")
            if d.plan in seen:
                raise ConfigError(f"two demands for plan {d.plan!r}")
            seen.add(d.plan)
            if len(d.rates) != self.intervals:
                raise ConfigError(f"plan {d.plan!r}: {len(d.rates)} rates for {self.intervals} intervals")
            for c in d.callers:
                if c.region is not None and c.region not in self.routing.regions:
                    raise ConfigError(f"plan {d.plan!r}: unknown region {c.region!r}")
        for g in self.agents:
            if g.site not in self.routing.sites:
                raise ConfigError(f"agent group {g.name!r}: unknown site {g.site!r}")
        if any(g.no_answer > 0 for g in self.agents) and self.routing.offer_timeout is None:
            raise ConfigError("agents that miss offers need routing.offer_timeout")

    @property
    def horizon(self) -> float:
        return self.interval * self.intervals

    def demand_for(self, plan: str) -> Optional[Demand]:
        return next((d for d in self.demand if d.plan == plan), None)

    def with_routing(self, routing: Config) -> "Scenario":
        """The same calls and staff under another routing configuration (plans by the same names)."""
        return replace(self, routing=routing)

    def scaled(self, agents: Optional[Mapping[str, float]] = None, demand: float = 1.0) -> "Scenario":
        """Staff of each site scaled by ``agents[site]`` (rounded), demand by ``demand``."""
        agents = agents or {}
        for site in agents:
            if site not in self.routing.sites:
                raise ConfigError(f"unknown site {site!r}")
        groups = [replace(g, count=round(g.count * agents.get(g.site, 1.0))) for g in self.agents]
        calls = [replace(d, rates=[r * demand for r in d.rates]) for d in self.demand]
        return replace(self, agents=groups, demand=calls)

    # ---------------------------------------------------------------- TOML

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Scenario":
        """Reads a scenario from a TOML file (see ``examples/bank_day.toml``)."""
        with open(path, "rb") as f:
            return cls.from_dict(tomllib.load(f), name=Path(path).stem)

    @classmethod
    def load_variant(cls, base: Union[str, Path], variant: Union[str, Path]) -> "Scenario":
        """The base scenario with a variant file laid over it.

        A variant lists only what changes: its tables update the base's (so a variant with
        just ``[[routing.plans]]`` keeps the base's sites, regions, demand and staff).
        """
        with open(base, "rb") as f, open(variant, "rb") as g:
            data = _merged(tomllib.load(f), tomllib.load(g))
        return cls.from_dict({**data, "name": Path(variant).stem}, name=Path(variant).stem)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "") -> "Scenario":
        """Builds a scenario from parsed TOML (``Scenario.load`` documents the layout)."""
        try:
            interval = float(data.get("interval", 1800.0))
            intervals = int(data.get("intervals", 48))
            routing = routing_from_dict(data["routing"])
            curves = {k: [float(x) for x in v] for k, v in data.get("curves", {}).items()}
            mixes = {k: [Callers(**c) for c in v] for k, v in data.get("callers", {}).items()}
            demand = [_demand(d, curves, mixes, interval, intervals) for d in data.get("demand", [])]
            shifts = {k: _shift_hours(k, v) for k, v in data.get("shift_hours", {}).items()}
            rosters = data.get("rosters", {})
            agents = [g for a in data.get("agents", []) for g in _agent_groups(a, shifts, rosters)]
            return cls(routing, demand, agents, interval=interval, intervals=intervals,
                       answer_delay=float(data.get("answer_delay", 0.0)),
                       no_answer_pause=float(data.get("no_answer_pause", 30.0)),
                       name=str(data.get("name", name)))
        except KeyError as missing:
            raise ConfigError(f"scenario: missing or unknown {missing}") from None
        except TypeError as error:
            raise ConfigError(f"scenario: {error}") from None


routing_from_dict = Config.from_dict  # a scenario's [routing] table


def _demand(d: Mapping[str, Any], curves: Mapping[str, list[float]], mixes: Mapping[str, list[Callers]],
            interval: float, intervals: int) -> Demand:
    """``calls`` per day spread by ``curve`` (relative weights per interval), or explicit ``rates``."""
    d = dict(d)
    if "calls" in d:
        curve = curves[d.pop("curve")] if "curve" in d else [1.0] * intervals
        if len(curve) != intervals or sum(curve) <= 0:
            raise ConfigError(f"plan {d.get('plan')!r}: its curve needs {intervals} weights with a positive sum")
        calls = _number(f"{d.get('plan')} calls", d.pop("calls"), 0.0)
        d["rates"] = [calls * w / sum(curve) / interval for w in curve]
    callers = d.pop("callers", None)
    d["callers"] = mixes[callers] if isinstance(callers, str) else [Callers(**c) for c in callers or [{}]]
    if "handle" in d:
        d["handle"] = HandleTime(**d["handle"])
    if "value" in d:
        d["value"] = tuple(d["value"])
    return Demand(**d)


def _shift_hours(name: str, value: Any) -> list[tuple[float, float]]:
    pairs = value if value and isinstance(value[0], list) else [value]
    if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise ConfigError(f"shift {name!r} must be [start, end] or a list of them, in hours, got {value!r}")
    return [(3600.0 * a, 3600.0 * b) for a, b in pairs]


def _agent_groups(a: Mapping[str, Any], shifts: Mapping[str, list[tuple[float, float]]],
                  rosters: Mapping[str, Mapping[str, float]]) -> list[AgentGroup]:
    """One ``[[agents]]`` entry: one group per shift, from ``counts = {shift: n}`` or ``count`` and ``roster``."""
    a = dict(a)
    name = a.pop("name")
    if "roster" in a:
        roster = rosters[a.pop("roster")]
        counts = _split(a.pop("count"), roster)
    elif "counts" in a:
        counts = a.pop("counts")
    else:
        return [AgentGroup(name=name, **a)]
    return [AgentGroup(name=f"{name}/{shift}", shifts=shifts[shift], count=n, **a) for shift, n in counts.items()]


def _split(count: int, shares: Mapping[str, float]) -> dict[str, int]:
    """``count`` agents over the shifts in proportion to ``shares``, summing exactly to ``count``."""
    total = sum(shares.values())
    exact = {k: count * v / total for k, v in shares.items()}
    counts = {k: math.floor(x) for k, x in exact.items()}
    by_remainder = sorted(exact, key=lambda k: counts[k] - exact[k])  # largest remainder first
    for k in by_remainder[:count - sum(counts.values())]:
        counts[k] += 1
    return counts


def _merged(base: Mapping[str, Any], variant: Mapping[str, Any]) -> dict[str, Any]:
    """``variant`` over ``base``: its tables update the base's tables, other values replace."""
    merged = dict(base)
    for key, value in variant.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged
