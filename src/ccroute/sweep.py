"""Staffing and routing studies: a grid of scenario variants × replications, on any executor.

    from concurrent.futures import ProcessPoolExecutor
    from ccroute.sweep import sweep
    table = sweep(scenario, {"agents.suzhou": [0.9, 1.0, 1.1], "plan.vip.value_weight": [0, 40]},
                  replications=10, executor=ProcessPoolExecutor())

Each cell of the grid runs ``replications`` days with seeds ``seed, seed+1, …``: the same
seeds in every cell, so the cells see the same callers and their differences are not
noise between days. ``executor`` is any ``concurrent.futures.Executor``: a process pool
on one machine, or ``distributed.Client(...).get_executor()`` to spread a large study
over a Dask cluster. A replication ships the scenario and a seed and returns a handful
of numbers, so little crosses the wire.

Grid keys (each a list of values):

* ``agents`` / ``agents.<site>``: multiply the staff (of a site), rounding per team;
* ``demand``: multiply every arrival rate;
* ``plan.<plan>.<field>``: set a plan field (``base_priority``, ``value_weight``, ``aging``…);
* ``step.<plan>.<k>.<field>``: set a field of step ``k`` of a plan: ``after`` (seconds),
  ``language_level``, ``max_distance`` (None: any site);
* ``step.<plan>.<k>.require.<skill>``: the level of ``skill`` the step requires (0: none);
* ``step.<plan>.<k>.weights.<term>``: a weight of the step's agent score (``proficiency``,
  ``distance``, ``breadth``, ``idle``).

``<plan>`` may name several plans joined by ``+`` (``step.card+loan.1.after``: the
neighbour step of both plans moves together) and ``<k>`` may be ``*`` (every step of the
plan). ``grid`` may also be a list of such mappings: the study is then the union of
their grids (as scikit-learn's ``ParameterGrid``), for settings that are not a full
product — a step may not start before the one it follows.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import Executor
from dataclasses import fields, replace
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from .errors import ConfigError
from .scenario import Scenario
from .sim import mean_ci, run
from .table import Table
from .types import Plan, Step, Weights

__all__ = ["sweep", "apply", "apply_settings", "KPIS"]

KPIS = ("service_level", "abandon_rate", "asa", "home_share", "language_share", "occupancy")

Grid = Mapping[str, Sequence[Any]]

_PLAN_FIELDS = tuple(f.name for f in fields(Plan) if f.name not in ("name", "steps"))
_STEP_FIELDS = ("after", "language_level", "max_distance")
_WEIGHT_TERMS = tuple(f.name for f in fields(Weights))


def apply(scenario: Scenario, key: str, value: Any) -> Scenario:
    """The scenario with one grid setting applied (see the module docs for the keys)."""
    return apply_settings(scenario, {key: value})


def apply_settings(scenario: Scenario, settings: Mapping[str, Any]) -> Scenario:
    """The scenario with the settings of one grid cell applied together.

    A plan is checked once all its settings are in, so steps may move past each other
    (from steps at 3 s and 5 s to 8 s and 25 s, whichever key comes first).
    """
    for key, value in settings.items():  # staff and demand first: they multiply, in any order
        parts = key.split(".")
        if parts[0] == "agents" and len(parts) <= 2:
            sites = scenario.routing.sites if len(parts) == 1 else [parts[1]]
            scenario = scenario.scaled(agents={site: float(value) for site in sites})
        elif parts == ["demand"]:
            scenario = scenario.scaled(demand=float(value))
    plans = {p.name: p for p in scenario.routing.plans}
    drafts: dict[str, dict[str, Any]] = {}
    for key, value in settings.items():
        if key.split(".")[0] in ("plan", "step"):
            names, step, path = _routing_key(key, plans)
            for name in names:
                _set(drafts.setdefault(name, _draft(plans[name])), step, path, value)
        elif not (key == "demand" or key == "agents" or key.startswith("agents.") and key.count(".") == 1):
            raise ConfigError(f"unknown sweep key {key!r}")
    if not drafts:
        return scenario
    try:
        changed = {name: _plan(name, draft) for name, draft in drafts.items()}
        routing = replace(scenario.routing, plans=[changed.get(p.name, p) for p in scenario.routing.plans])
    except ConfigError as error:  # a plan or step refused a value: say which settings gave them
        keys = [k for k in settings if k.split(".")[0] in ("plan", "step")]
        named = ", ".join(f"{k!r} = {settings[k]!r}" for k in keys)
        raise ConfigError(f"sweep key{'s' if len(keys) > 1 else ''} {named}: {error}") from None
    return scenario.with_routing(routing)


def _routing_key(key: str, plans: Mapping[str, Plan]) -> tuple[list[str], Optional[str], tuple[str, ...]]:
    """A ``plan.…`` or ``step.…`` key as (plan names, step number or "*" or None for a plan field, field path)."""
    parts = key.split(".")
    if len(parts) < 3:
        raise ConfigError(f"unknown sweep key {key!r}")
    names = parts[1].split("+")
    for name in names:
        if name not in plans:
            raise ConfigError(f"sweep key {key!r}: unknown plan {name!r}")
    if parts[0] == "plan":
        if len(parts) != 3 or parts[2] not in _PLAN_FIELDS:
            raise ConfigError(f"sweep key {key!r}: a plan has no field {'.'.join(parts[2:])!r}")
        return names, None, (parts[2],)
    step, path = parts[2], tuple(parts[3:])
    if not ((len(path) == 1 and path[0] in _STEP_FIELDS) or (len(path) == 2 and path[0] == "require")
            or (len(path) == 2 and path[0] == "weights" and path[1] in _WEIGHT_TERMS)):
        raise ConfigError(f"unknown sweep key {key!r}")
    for name in names:
        if step != "*" and not (step.isdigit() and int(step) < len(plans[name].steps)):
            raise ConfigError(f"sweep key {key!r}: plan {name!r} has {len(plans[name].steps)} steps")
    return names, step, path


def _draft(plan: Plan) -> dict[str, Any]:
    """A plan's fields as plain, editable data (steps as dicts, their weights as dicts)."""
    steps = [{**{f.name: getattr(s, f.name) for f in fields(Step)}, "require": dict(s.require),
              "weights": {t: getattr(s.weights, t) for t in _WEIGHT_TERMS}} for s in plan.steps]
    return {**{f: getattr(plan, f) for f in _PLAN_FIELDS}, "steps": steps}


def _plan(name: str, draft: Mapping[str, Any]) -> Plan:
    steps = [Step(**{**s, "weights": Weights(**s["weights"])}) for s in draft["steps"]]
    return Plan(name=name, **{**draft, "steps": steps})


def _set(draft: dict[str, Any], step: Optional[str], path: Sequence[str], value: Any) -> None:
    """Sets a plan field (``step`` None) or a field of step ``step`` ("*": each) of a draft."""
    if step is None:
        draft[path[0]] = value
        return
    for s in draft["steps"] if step == "*" else [draft["steps"][int(step)]]:
        if path[0] == "require":
            if isinstance(value, int) and not isinstance(value, bool) and value == 0:
                s["require"].pop(path[1], None)  # level 0: the step no longer requires the skill
            else:
                s["require"][path[1]] = value
        elif path[0] == "weights":
            s["weights"][path[1]] = value
        else:
            s[path[0]] = value


def _replicate(scenario: Scenario, seed: int, plans: Sequence[str] = ()) -> dict[str, float]:
    """One day's KPIs (runs in a worker: takes and returns plain, picklable data)."""
    result = run(scenario, seed=seed)
    by_plan = result.by_plan()
    kpis = by_plan.row("all")
    kpis["occupancy"] = float(result.busy.sum() / result.staffed.sum())
    for plan in plans:
        kpis[f"{plan}_sl"] = by_plan.row(plan)["service_level"]
    return {k: float(kpis[k]) for k in (*KPIS, *(f"{p}_sl" for p in plans))}


def _cells(grid: Union[Grid, Sequence[Grid]]) -> tuple[list[str], list[list[tuple[str, Any]]]]:
    """The keys of a grid (or a union of grids) in order of appearance, and its cells as (key, value) lists."""
    grids = [grid] if isinstance(grid, Mapping) else list(grid)
    keys: list[str] = []
    cells = []
    for g in grids:
        if not isinstance(g, Mapping):
            raise ConfigError(f"a sweep grid maps keys to lists of values, got {g!r}")
        keys += [k for k in g if k not in keys]
        for values in itertools.product(*(g[k] for k in g)):
            for k, v in zip(g, values):
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    raise ConfigError(f"sweep key {k!r}: values must be numbers (or None), got {v!r}")
            cells.append(list(zip(g, values)))
    return keys, cells


def sweep(scenario: Scenario, grid: Union[Grid, Sequence[Grid]], replications: int = 5,
          executor: Optional[Executor] = None, seed: int = 0, plans: Sequence[str] = (),
          baseline: Optional[Scenario] = None) -> Table:
    """Runs every combination of ``grid`` values ``replications`` times; mean and 95 % CI half-width per KPI.

    Returns a :class:`~ccroute.table.Table` with one row per combination (labelled
    ``key=value, …``): the grid values (NaN where a cell of a union of grids does not set
    a key, or sets it to None), then for each KPI its mean and ``<kpi>_ci``, the
    half-width of a Student-t 95 % confidence interval over the replications. Each plan
    named in ``plans`` adds its own service level, ``<plan>_sl`` (and ``<plan>_sl_ci``).

    With a ``baseline`` scenario (today's routing, say), it runs on the same seeds and each
    KPI also comes as ``<kpi>_diff``, the cell minus the baseline taken seed by seed, with
    ``<kpi>_diff_ci``: the same callers on both sides, so this interval is far narrower
    than the levels' and tells whether a setting beats the baseline.
    """
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 2:
        raise ConfigError(f"a confidence interval needs replications >= 2, got {replications!r}")
    for plan in plans:
        if plan not in {p.name for p in scenario.routing.plans}:
            raise ConfigError(f"unknown plan {plan!r}")
    keys, cells = _cells(grid)
    variants = []
    for cell in cells:  # every cell is built before the first day runs: a bad one fails at once
        variants.append(apply_settings(scenario, dict(cell)))
    if baseline is not None:
        variants.append(baseline)

    plans = tuple(plans)
    jobs = [(v, seed + r) for v in variants for r in range(replications)]
    if executor is None:
        outcomes = [_replicate(v, s, plans) for v, s in jobs]
    else:
        futures = [executor.submit(_replicate, v, s, plans) for v, s in jobs]
        outcomes = [f.result() for f in futures]
    runs = [outcomes[i * replications:(i + 1) * replications] for i in range(len(variants))]

    kpis = (*KPIS, *(f"{p}_sl" for p in plans))
    columns: dict[str, list[float]] = {k: [] for k in keys}
    for i, cell in enumerate(cells):
        settings = dict(cell)
        for key in keys:
            value = settings.get(key)
            columns[key].append(math.nan if value is None else float(value))
        samples = {kpi: [r[kpi] for r in runs[i]] for kpi in kpis}
        if baseline is not None:
            samples.update({f"{kpi}_diff": [r[kpi] - b[kpi] for r, b in zip(runs[i], runs[-1])] for kpi in kpis})
        for name, sample in samples.items():
            mean, ci = mean_ci(sample)
            columns.setdefault(name, []).append(mean)
            columns.setdefault(f"{name}_ci", []).append(ci)
    labels = [", ".join(f"{k}={v}" for k, v in cell) for cell in cells]
    shares = [c for c in columns if c not in keys and not c.startswith("asa")]
    return Table("variant", labels, {k: np.array(v) for k, v in columns.items()}, shares=shares)
