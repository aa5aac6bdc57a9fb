"""Simulate a contact-centre day with the routing engine, and read its KPIs.

The event loop, the random streams and the router all run in the native core
(``csrc/sim.cpp`` drives the same ``Router`` as :class:`ccroute.Router`); this module
turns a :class:`~ccroute.scenario.Scenario` into numbers for it and its arrays into
tables::

    from ccroute.sim import Scenario, run
    result = run(Scenario.load("examples/bank_day.toml"), seed=1)
    print(result.by_plan())

The same scenario and seed give bit-identical results. Calls of a plan draw their times
and attributes from the plan's own random stream, so two routing configurations run
with one seed see the very same callers (common random numbers), which is what makes
:func:`compare` meaningful.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from .errors import ConfigError
from .export import Column, Engine, arrow_table, write_csv, write_parquet
from .scenario import AgentGroup, Callers, Demand, HandleTime, Scenario
from .table import SHARES, Table
from .types import skill_numbering

try:
    from . import _core
except ImportError:  # pragma: no cover - reported when a simulation is asked for
    _core = None  # type: ignore[assignment]

__all__ = ["Scenario", "Demand", "Callers", "HandleTime", "AgentGroup", "Result", "run", "compare", "Comparison",
           "mean_ci", "IN_SYSTEM", "ANSWERED", "ABANDONED"]

IN_SYSTEM, ANSWERED, ABANDONED = 0, 1, 2
"""Outcome codes of ``Result.calls["outcome"]``: still queued or ringing at the horizon, answered, abandoned."""

Progress = Union[None, bool, Callable[[float], Any]]


def _skill_numbers(scenario: Scenario) -> dict[str, int]:
    """Skill names to numbers, in the order the router numbers them (config first)."""
    routing = scenario.routing
    numbers = {name: i for i, name in enumerate(skill_numbering(routing))}
    extra = [s for g in scenario.agents for s in g.skills] + [
        c.language for d in scenario.demand for c in d.callers if c.language is not None]
    for name in extra:
        if name not in numbers:
            if routing.skills is not None:
                raise ConfigError(f"unknown skill {name!r} (not in routing.skills)")
            numbers[name] = len(numbers)
    return numbers


def _core_arguments(scenario: Scenario) -> tuple[dict[str, int], list[tuple], list[tuple]]:
    skills = _skill_numbers(scenario)
    regions = {name: i for i, name in enumerate(scenario.routing.regions)}
    sites = {name: i for i, name in enumerate(scenario.routing.sites)}
    demand = []
    for plan in scenario.routing.plans:
        d = scenario.demand_for(plan.name) or Demand(plan.name, [0.0] * scenario.intervals)
        segments = [(c.weight, regions[c.region] if c.region is not None else -1,
                     skills[c.language] if c.language is not None else -1, *d.value) for c in d.callers]
        demand.append((list(d.rates), segments, d.repeat_share, d.handle.mean, d.handle.cv,
                       d.handle.distribution == "lognormal", d.patience or math.inf,
                       d.case_owner_share, d.case_owner_wait))
    groups = []
    for g in scenario.agents:
        for skill, level in g.skills.items():
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 10:
                raise ConfigError(f"agent group {g.name!r}: level of {skill!r} must be an integer 1–10, got {level!r}")
        groups.append((sites[g.site], [(skills[s], lvl) for s, lvl in g.skills.items()], g.count,
                       list(g.shifts), g.wrapup, g.no_answer))
    return skills, demand, groups


def _progress_callback(progress: Progress) -> Optional[Callable[[float], Any]]:
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    try:
        from tqdm import tqdm  # type: ignore[import-untyped]
    except ImportError:
        print("ccroute: no progress bar (pip install 'ccroute[progress]' for tqdm)")
        return None
    bar = tqdm(total=1000, desc="simulating", unit="‰", leave=False)

    def update(share: float) -> None:
        bar.update(round(1000 * share) - bar.n)
        if share >= 1.0:
            bar.close()

    return update


def run(scenario: Scenario, seed: int = 0, progress: Progress = None, record_events: bool = False,
        predict_waits: bool = False) -> "Result":
    """Simulates the scenario's day with the routing engine.

    ``progress``: True for a progress bar (tqdm), or a callable given the share of the
    day done. ``record_events`` keeps the log of every router call and the offers it
    returned (``Result.events_log``), for replaying the day through :class:`ccroute.Router`.
    ``predict_waits`` asks the router each caller's expected wait as it arrives (column
    ``predicted_wait``, NaN where it could not tell), for measuring its accuracy.
    """
    if _core is None:
        raise ImportError("the simulator needs the native extension ccroute._core; reinstall ccroute")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ConfigError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    skills, demand, groups = _core_arguments(scenario)
    started = time.perf_counter()
    raw = _core.simulate(scenario.routing, skills, demand, groups, scenario.interval, scenario.intervals,
                         scenario.answer_delay, scenario.no_answer_pause, record_events, seed,
                         _progress_callback(progress), predict_waits)
    return Result(scenario, seed, raw, skills, time.perf_counter() - started)


class Result:
    """One simulated day: per-call arrays and KPI tables.

    ``calls`` maps a column to a numpy array with one entry per arrival, in arrival
    order: ``arrival``, ``plan`` / ``region`` / ``language`` (indices into the scenario's
    plans, regions and skills, −1 for none), ``value``, ``repeats``, ``wait`` (to answer,
    to abandon, or to the horizon), ``handle``, ``agent`` / ``site`` (−1 unless answered),
    ``outcome`` (:data:`ANSWERED`, :data:`ABANDONED`, :data:`IN_SYSTEM`), ``home`` (answered
    at a site at distance 0 from the caller's region) and ``in_language`` (answered by an
    agent holding the caller's language).
    """

    def __init__(self, scenario: Scenario, seed: int, raw: dict[str, Any], skills: Mapping[str, int],
                 seconds: float) -> None:
        self.scenario, self.seed, self.seconds = scenario, seed, seconds
        self.events: int = raw.pop("events")
        """Simulator events plus router timers fired."""
        self.skills = dict(skills)
        routing = scenario.routing
        n_sites = len(routing.sites)
        self.busy = raw.pop("busy").reshape(scenario.intervals, n_sites)
        """Agent-seconds talking or in wrap-up, per [interval, site]."""
        self.staffed = raw.pop("logged_in").reshape(scenario.intervals, n_sites)
        """Agent-seconds logged in, per [interval, site]: the roster, plus calls finished after a shift's end."""
        self.agent_group = raw.pop("agent_group")
        self.events_log = {k: raw.pop(k) for k in list(raw) if k.startswith(("op", "offer_"))}
        calls = raw  # site, home and in_language come from the simulator, which knows who answered
        self.calls: dict[str, np.ndarray] = calls

    def __repr__(self) -> str:
        return (f"<Result {self.scenario.name or 'scenario'} seed={self.seed}: {len(self)} calls, "
                f"{self.events} events in {self.seconds:.2f} s>")

    def __len__(self) -> int:
        return len(self.calls["arrival"])

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else math.inf

    # ------------------------------------------------------------ KPI tables

    def _threshold(self) -> np.ndarray:
        thresholds = np.array([p.sl_threshold for p in self.scenario.routing.plans])
        return thresholds[self.calls["plan"]]

    def _kpis(self, key: np.ndarray, n: int) -> dict[str, np.ndarray]:
        """Service KPIs of the calls grouped by ``key`` (0..n−1; −1 leaves a call out)."""
        c = self.calls
        keep = key >= 0
        key = key[keep]

        def count(flags: Any = None) -> np.ndarray:
            if flags is None:
                return np.bincount(key, minlength=n)[:n]
            flags = np.asarray(flags)[keep]
            if flags.dtype == bool:  # counting the flagged calls gives the sum of 1.0 weights exactly
                return np.bincount(key[flags], minlength=n)[:n].astype(float)
            return np.bincount(key, weights=flags.astype(float), minlength=n)[:n]

        answered = c["outcome"] == ANSWERED
        abandoned = c["outcome"] == ABANDONED
        n_answered, n_abandoned = count(answered), count(abandoned)
        within = count(answered & (c["wait"] <= self._threshold()))
        decided = n_answered + n_abandoned
        with np.errstate(invalid="ignore", divide="ignore"):
            return {
                "arrived": count().astype(np.int64),
                "answered": n_answered.astype(np.int64),
                "abandoned": n_abandoned.astype(np.int64),
                "service_level": within / decided,
                "asa": count(np.where(answered, c["wait"], 0.0)) / n_answered,
                "abandon_rate": n_abandoned / decided,
                "home_share": count(c["home"]) / count(answered & (c["region"] >= 0)),
                "language_share": count(c["in_language"]) / count(answered & (c["language"] >= 0)),
            }

    def by_plan(self) -> Table:
        """Per plan (and all): arrived, answered, abandoned, service level, ASA, abandon rate, home and language shares."""
        plans = [p.name for p in self.scenario.routing.plans]
        table = Table("plan", plans, self._kpis(self.calls["plan"], len(plans)))
        return table.with_total("all", self._kpis(np.zeros(len(self), dtype=np.int64), 1))

    def by_site(self) -> Table:
        """Per answering site: the calls it answered and its agents' occupancy."""
        sites = list(self.scenario.routing.sites)
        k = self._kpis(self.calls["site"], len(sites))
        columns = {name: k[name] for name in ("answered", "asa", "home_share", "language_share")}
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["agents_avg"] = self.staffed.sum(axis=0) / self.scenario.horizon
            columns["occupancy"] = self.busy.sum(axis=0) / self.staffed.sum(axis=0)
        return Table("site", sites, columns)

    def by_interval(self) -> Table:
        """Per interval of arrival: service KPIs, mean queue length, agents and occupancy."""
        s = self.scenario
        key = np.minimum((self.calls["arrival"] // s.interval).astype(np.int64), s.intervals - 1)
        columns = self._kpis(key, s.intervals)
        columns["queue_avg"] = self.queue_length()
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["agents_avg"] = self.staffed.sum(axis=1) / s.interval
            columns["occupancy"] = self.busy.sum(axis=1) / self.staffed.sum(axis=1)
        labels = [f"{int(k * s.interval // 3600):02d}:{int(k * s.interval % 3600 // 60):02d}" for k in range(s.intervals)]
        return Table("interval", labels, columns)

    def queue_length(self) -> np.ndarray:
        """Time-average number of callers waiting (queued or ringing) in each interval."""
        s = self.scenario
        start = self.calls["arrival"]
        span = (start + self.calls["wait"]) - start  # the waiting span as the clock sees it
        bounds = np.arange(s.intervals + 1) * s.interval
        waited_by = np.empty(len(bounds))  # caller-seconds waited before each bound
        part = np.empty_like(start)
        for i, bound in enumerate(bounds):
            # clip(bound − start, 0, span), in place: np.clip's allocations cost 5× more
            np.minimum(np.maximum(np.subtract(bound, start, out=part), 0.0, out=part), span, out=part)
            waited_by[i] = part.sum()
        return np.diff(waited_by) / s.interval

    def summary(self) -> dict[str, float]:
        """Headline figures of the day (the "all" row of :meth:`by_plan`)."""
        return self.by_plan().row("all")

    # ------------------------------------------------------------ per-call output

    OUTPUT_COLUMNS = ("arrival", "plan", "region", "language", "value", "repeats", "wait", "handle", "agent",
                      "site", "outcome", "home", "in_language")
    """The per-call columns written by :meth:`to_csv` and :meth:`to_parquet`, in order."""

    OUTCOMES = ("in_system", "answered", "abandoned")
    """Names of the outcome codes :data:`IN_SYSTEM`, :data:`ANSWERED`, :data:`ABANDONED`."""

    def output_columns(self) -> list[Column]:
        """The per-call table as :class:`~ccroute.export.Column` s: codes with their names."""
        r = self.scenario.routing
        labels: dict[str, Sequence[str]] = {
            "plan": [p.name for p in r.plans], "region": list(r.regions), "language": list(self.skills),
            "site": list(r.sites), "outcome": self.OUTCOMES}
        return [Column(name, self.calls[name], labels.get(name)) for name in self.OUTPUT_COLUMNS]

    def to_csv(self, path: Any, engine: Engine = "auto") -> None:
        """Writes the per-call data, one row per call, with names instead of indices.

        Columns :attr:`OUTPUT_COLUMNS`; times and values with three decimals, flags as 0/1,
        an empty field for no region, language or site. Written column-wise (numpy, or
        ``engine="pyarrow"``): the same text either way.
        """
        write_csv(path, self.output_columns(), engine)

    def to_parquet(self, path: Any) -> None:
        """Writes the per-call data as Parquet (needs pyarrow: ``pip install "ccroute[parquet]"``).

        The values as they are (float64 in full precision, unlike the CSV's three decimals);
        plan, region, language, site and outcome dictionary-encoded by name, null for none;
        ``home`` and ``in_language`` as booleans.
        """
        write_parquet(path, self.output_columns())

    def to_arrow(self) -> Any:
        """The per-call data as a ``pyarrow.Table`` (the columns of :meth:`to_parquet`), for polars or DuckDB."""
        return arrow_table(self.output_columns())


# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom; beyond, the normal's.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042)


def mean_ci(sample: Sequence[float]) -> tuple[float, float]:
    """The mean of ``sample`` (NaNs left out) and the half-width of its Student-t 95 % confidence
    interval (NaN with fewer than two values)."""
    values = [float(x) for x in sample if not math.isnan(x)]
    if not values:
        return math.nan, math.nan
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan
    df = len(values) - 1
    return mean, (_T95[df - 1] if df <= len(_T95) else 1.960) * statistics.stdev(values) / math.sqrt(len(values))


@dataclass(frozen=True)
class Comparison:
    """KPIs of the same days under several routing configurations (same callers, same seeds).

    ``results`` holds each configuration's day of the first seed, ``days`` the KPI tables
    (:meth:`Result.by_plan`) of each seed's day, per configuration. With several seeds the
    tables give means over the days and, as ``<column>_ci``, the half-width of a 95 %
    confidence interval; differences are taken seed by seed (the same callers under two
    routings) before they are averaged, so their interval measures the routing, not the day.
    """

    names: Sequence[str]
    results: Sequence[Result]
    days: Sequence[Sequence[Table]] = ()

    def __post_init__(self) -> None:
        if not self.days:
            object.__setattr__(self, "days", tuple((r.by_plan(),) for r in self.results))

    @property
    def seeds(self) -> int:
        """Days simulated per configuration."""
        return len(self.days[0])

    def _values(self, row: str, kpi: str) -> np.ndarray:
        """One KPI of one row ("all" or a plan) of every day: [configuration, seed]."""
        return np.array([[t.row(row)[kpi] for t in days] for days in self.days], dtype=float)

    def _summary(self, index_name: str, labels: Sequence[str], values: Mapping[str, np.ndarray],
                 shares: Sequence[str], counts: Sequence[str] = (), differences: bool = False) -> Table:
        """A table of ``values[column]`` ([row, seed]): the means, and with several seeds their ``_ci``."""
        columns: dict[str, np.ndarray] = {}
        for name, v in values.items():
            if self.seeds == 1:
                columns[name] = v[:, 0].astype(np.int64) if name in counts else v[:, 0]
                continue
            stats = [mean_ci(row) for row in v]
            columns[name] = np.array([m for m, _ in stats])
            if name in counts:  # a count per day: its mean, to the call
                columns[name] = np.rint(columns[name]).astype(np.int64)
            else:
                columns[f"{name}_ci"] = np.array([c for _, c in stats])
        return Table(index_name, list(labels), columns, shares=[*shares, *(f"{k}_ci" for k in shares)],
                     differences=differences)

    def table(self) -> Table:
        """One row per configuration: the centre's headline KPIs."""
        kpis = list(self.days[0][0].columns)
        counts = [k for k in kpis if self.days[0][0][k].dtype.kind in "iu"]
        values = {k: self._values("all", k) for k in kpis}
        return self._summary("routing", self.names, values, [k for k in kpis if k in SHARES], counts)

    def differences(self) -> Table:
        """Each other configuration minus the first, KPI by KPI (shares in points of 1), seed by seed."""
        kpis = ("service_level", "abandon_rate", "asa", "home_share", "language_share")
        values = {k: self._values("all", k) for k in kpis}
        values.update({f"{plan}_sl": self._values(plan, "service_level") for plan in self._plans()})
        values = {k: v[1:] - v[0] for k, v in values.items()}
        return self._summary(f"minus {self.names[0]}", self.names[1:], values, [k for k in values if k != "asa"],
                             differences=True)

    def service_levels(self) -> Table:
        """One row per configuration, one column per plan: its service level."""
        plans = self._plans()
        return self._summary("routing", self.names, {p: self._values(p, "service_level") for p in plans}, plans)

    def _plans(self) -> list[str]:
        return [p.name for p in self.results[0].scenario.routing.plans]


def compare(scenario: Scenario, variants: Mapping[str, Scenario], seed: int = 0,
            progress: Progress = None, seeds: int = 1) -> Comparison:
    """Runs the scenario and each variant on the days of seeds ``seed … seed + seeds − 1``; their KPIs side by side."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds must be an integer >= 1, got {seeds!r}")
    names = [scenario.name or "base", *variants]
    results, days = [], []
    for s in (scenario, *variants.values()):
        first = run(s, seed=seed, progress=progress)
        results.append(first)
        # only the first day's calls are kept: the others leave their KPI tables
        days.append((first.by_plan(), *(run(s, seed=seed + k, progress=progress).by_plan() for k in range(1, seeds))))
    return Comparison(names, results, days)
