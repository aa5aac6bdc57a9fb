"""Plots of a simulated day (needs matplotlib: ``pip install 'ccroute[plot]'``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .sim import Result  # noqa: E402


def plot_day(result: Result, out: Path) -> list[Path]:
    """Service level and queue length by interval, occupancy by site; returns the PNG paths."""
    s = result.scenario
    hours = (np.arange(s.intervals) + 0.5) * s.interval / 3600
    by_interval = result.by_interval()
    written = []

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    top.plot(hours, 100 * by_interval["service_level"], marker=".", label="service level")
    targets = {p.sl_target for p in s.routing.plans}
    if len(targets) == 1:
        top.axhline(100 * targets.pop(), color="grey", linestyle="--", label="target")
    top.set_ylabel("% answered in threshold")
    top.set_ylim(0, 100)
    top.legend(loc="lower right")
    bottom.bar(hours, by_interval["queue_avg"], width=0.8 * s.interval / 3600, label="callers waiting (mean)")
    bottom.set_ylabel("callers waiting")
    bottom.set_xlabel("hour of day")
    fig.suptitle(f"{s.name or 'scenario'}: service level and queue by interval (seed {result.seed})")
    written.append(_save(fig, out / "service_level.png"))

    fig, ax = plt.subplots(figsize=(10, 4))
    with np.errstate(invalid="ignore", divide="ignore"):
        occupancy = result.busy / result.staffed
    for k, site in enumerate(s.routing.sites):
        ax.plot(hours, 100 * occupancy[:, k], marker=".", label=site)
    ax.set_ylabel("occupancy %")
    ax.set_xlabel("hour of day")
    ax.set_ylim(0, 100)
    ax.legend(ncol=len(s.routing.sites), loc="lower center")
    ax.set_title(f"{s.name or 'scenario'}: occupancy by site")
    written.append(_save(fig, out / "occupancy.png"))
    return written


def _save(fig: "plt.Figure", path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
