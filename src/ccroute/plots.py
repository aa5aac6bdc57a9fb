"""Plots of a simulated day (needs matplotlib: ``pip install 'ccroute[plot]'``).

Figures are built with matplotlib's object API on the Agg canvas: no pyplot, so no
interactive backend is chosen behind the caller's back (importing this module leaves
``matplotlib.use`` alone), no figure stays registered anywhere, and nothing leaks into a
notebook's own plots. Margins are fixed rather than fitted by ``tight_layout``, which
draws a whole figure to measure it: each figure is drawn once, when it is saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .sim import Result
from .table import Table

DPI = 100
"""Resolution of the PNGs: 1,000 pixels across, enough for 48 intervals and five sites."""

_WIDTH = 10.0  # inches, both figures: their hour axes line up when shown one above the other
_MARGINS = dict(left=0.07, right=0.98, bottom=0.1, hspace=0.08)


def plot_day(result: Result, out: Path, by_interval: Optional[Table] = None) -> list[Path]:
    """Service level and queue length by interval, occupancy by site; returns the PNG paths.

    ``by_interval``: the result's :meth:`~ccroute.sim.Result.by_interval` table when the
    caller already has it (it is not computed twice).
    """
    s = result.scenario
    hours = (np.arange(s.intervals) + 0.5) * s.interval / 3600
    day = s.name or "scenario"
    if by_interval is None:
        by_interval = result.by_interval()

    fig = _figure(6.0)
    top, bottom = fig.subplots(2, 1, sharex=True)
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
    fig.suptitle(f"{day}: service level and queue by interval (seed {result.seed})")
    fig.subplots_adjust(top=0.93, **_MARGINS)
    written = [_save(fig, out / "service_level.png")]

    fig = _figure(4.0)
    ax = fig.subplots()
    with np.errstate(invalid="ignore", divide="ignore"):
        occupancy = result.busy / result.staffed
    for k, site in enumerate(s.routing.sites):
        ax.plot(hours, 100 * occupancy[:, k], marker=".", label=site)
    ax.set_ylabel("occupancy %")
    ax.set_xlabel("hour of day")
    ax.set_ylim(0, 100)
    ax.legend(ncol=len(s.routing.sites), loc="lower center")
    ax.set_title(f"{day}: occupancy by site")
    fig.subplots_adjust(top=0.92, **{**_MARGINS, "bottom": 0.14})
    written.append(_save(fig, out / "occupancy.png"))
    return written


def _figure(height: float) -> Figure:
    fig = Figure(figsize=(_WIDTH, height), dpi=DPI)
    FigureCanvasAgg(fig)  # the figure draws on Agg: files only, whatever backend the session uses
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return path
