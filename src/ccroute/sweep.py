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
* ``step.<plan>.<k>.after``: move step ``k`` of a plan (in seconds).
"""

from __future__ import annotations

import itertools
import math
import statistics
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .errors import ConfigError
from .scenario import Scenario
from .sim import run
from .table import Table

__all__ = ["sweep", "apply", "KPIS"]

KPIS = ("service_level", "abandon_rate", "asa", "home_share", "language_share", "occupancy")

# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom; beyond, the normal's.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042)


def _t95(df: int) -> float:
    return _T95[df - 1] if df <= len(_T95) else 1.960


def apply(scenario: Scenario, key: str, value: Any) -> Scenario:
    """The scenario with one grid setting applied (see the module docs for the keys)."""
    parts = key.split(".")
    if parts[0] == "agents" and len(parts) <= 2:
        sites = scenario.routing.sites if len(parts) == 1 else [parts[1]]
        return scenario.scaled(agents={site: float(value) for site in sites})
    if parts == ["demand"]:
        return scenario.scaled(demand=float(value))
    plans = {p.name: p for p in scenario.routing.plans}
    if parts[0] in ("plan", "step") and len(parts) >= 3 and parts[1] not in plans:
        raise ConfigError(f"sweep key {key!r}: unknown plan {parts[1]!r}")
    if parts[0] == "plan" and len(parts) == 3:
        try:
            plan = replace(plans[parts[1]], **{parts[2]: value})
        except TypeError:
            raise ConfigError(f"sweep key {key!r}: a plan has no field {parts[2]!r}") from None
    elif parts[0] == "step" and len(parts) == 4 and parts[3] == "after":
        steps = list(plans[parts[1]].steps)
        k = int(parts[2])
        if not 0 <= k < len(steps):
            raise ConfigError(f"sweep key {key!r}: plan {parts[1]!r} has {len(steps)} steps")
        steps[k] = replace(steps[k], after=float(value))
        plan = replace(plans[parts[1]], steps=steps)
    else:
        raise ConfigError(f"unknown sweep key {key!r}")
    routing = replace(scenario.routing, plans=[plan if p.name == plan.name else p for p in plans.values()])
    return scenario.with_routing(routing)


def _replicate(scenario: Scenario, seed: int) -> dict[str, float]:
    """One day's KPIs (runs in a worker: takes and returns plain, picklable data)."""
    result = run(scenario, seed=seed)
    kpis = result.summary()
    kpis["occupancy"] = float(result.busy.sum() / result.staffed.sum())
    return {k: float(kpis[k]) for k in KPIS}


def sweep(scenario: Scenario, grid: Mapping[str, Sequence[Any]], replications: int = 5,
          executor: Optional[Executor] = None, seed: int = 0) -> Table:
    """Runs every combination of ``grid`` values ``replications`` times; mean and 95 % CI half-width per KPI.

    Returns a :class:`~ccroute.table.Table` with one row per combination (labelled
    ``key=value, …``): the grid values, then for each KPI its mean and ``<kpi>_ci``, the
    half-width of a Student-t 95 % confidence interval over the replications.
    """
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 2:
        raise ConfigError(f"a confidence interval needs replications >= 2, got {replications!r}")
    keys = list(grid)
    cells = list(itertools.product(*(grid[k] for k in keys)))
    variants = []
    for values in cells:
        variant = scenario
        for key, value in zip(keys, values):
            variant = apply(variant, key, value)
        variants.append(variant)

    jobs = [(v, seed + r) for v in variants for r in range(replications)]
    if executor is None:
        outcomes = [_replicate(v, s) for v, s in jobs]
    else:
        futures = [executor.submit(_replicate, v, s) for v, s in jobs]
        outcomes = [f.result() for f in futures]

    columns: dict[str, list[float]] = {k: [] for k in keys}
    for kpi in KPIS:
        columns[kpi], columns[f"{kpi}_ci"] = [], []
    for i, values in enumerate(cells):
        for key, value in zip(keys, values):
            columns[key].append(float(value))
        runs = outcomes[i * replications:(i + 1) * replications]
        for kpi in KPIS:
            sample = [r[kpi] for r in runs if not math.isnan(r[kpi])]
            columns[kpi].append(statistics.fmean(sample) if sample else math.nan)
            columns[f"{kpi}_ci"].append(_t95(len(sample) - 1) * statistics.stdev(sample) / math.sqrt(len(sample))
                                        if len(sample) >= 2 else math.nan)
    labels = [", ".join(f"{k}={v}" for k, v in zip(keys, values)) for values in cells]
    shares = [c for kpi in KPIS if kpi != "asa" for c in (kpi, f"{kpi}_ci")]
    return Table("variant", labels, {k: np.array(v) for k, v in columns.items()}, shares=shares)
