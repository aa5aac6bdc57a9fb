"""The bank day's routing frontier: service level against keeping callers home and in their language.

    python examples/frontier.py                  # the study: docs/frontier.csv and docs/frontier.png
    python examples/frontier.py --plot-only      # redraw the figure and the report from docs/frontier.csv

A planner's sweep of the routing of ``examples/bank_day.toml`` on its own callers and
staff (``ccroute.sweep``): when card and loan calls leave the home site (the neighbour
step, then the any-site step that also admits the outbound agents), when VIP callers
leave the VIP-skilled agents of their own site, when the plans whose service level is
measured at 30 s open their second step, and how steps rank the agents they admit
(ordinary calls sparing the broadly skilled experts; steps open to any site still
preferring the home site). Then one change at a time around the chosen routing: the
language on the first step, VIPs to any card-skilled agent, the value weights…

Every cell runs the same seeds (common random numbers) and reports means with 95 %
confidence half-widths (Student t), and each KPI's difference from the FIFO pool taken
seed by seed, whose interval is the one that says whether a routing beats the pool.
The FIFO pool and the value-blind ``region_first`` run on the same seeds as references;
the routing ``bank_day.toml`` had before this study (``late_overflow.toml``) and the one
it has now are cells of the grid.

Needs matplotlib (``pip install "ccroute[plot]"``). 210 routings × 3 seeds plus the
pool's baseline days, 642 simulated days of 0.5–1 CPU-second each: 824 s on a two-core
machine shared with other work (the script prints its time).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ccroute.scenario import Scenario
from ccroute.sweep import sweep
from ccroute.table import Table

HERE = Path(__file__).resolve().parent
BANK = HERE / "bank_day.toml"
DOCS = HERE.parent / "docs"

# The settings a planner moves (ccroute.sweep grid keys) and their short names.
NEIGHBOUR = "step.card+loan.1.after"      # home site only until then; then the neighbouring sites
ANY_SITE = "step.card+loan.2.after"       # then any site, and the outbound agents
VIP_WIDE = "step.vip.1.after"             # VIP-skilled agents of any site
VIP_CARD = "step.vip.2.after"             # senior card agents (card >= 7) of any site
SECOND = "step.english+dispute+retention.1.after"        # their second step: wider skills, any language
SPARE = "step.card+loan+limit.*.weights.breadth"         # -1: ordinary calls prefer agents with fewer skills
NEAR = "step.limit+fraud+dispute+english+vip.*.weights.distance"  # -5: steps open to any site prefer home
SHORT = {NEIGHBOUR: "neighbour", ANY_SITE: "any_site", VIP_WIDE: "vip_wide", VIP_CARD: "vip_card",
         SECOND: "second", SPARE: "spare", NEAR: "near"}
SETTINGS = tuple(SHORT)

BEFORE = {NEIGHBOUR: 15.0, ANY_SITE: 40.0, VIP_WIDE: 8.0, VIP_CARD: 25.0, SECOND: 30.0, SPARE: 0.0, NEAR: -1.0}
"""The routing of bank_day.toml before this study (issue 9), kept as examples/late_overflow.toml."""

CHOSEN = {NEIGHBOUR: 12.0, ANY_SITE: 15.0, VIP_WIDE: 3.0, VIP_CARD: 5.0, SECOND: 15.0, SPARE: -1.0, NEAR: -5.0}
"""The routing chosen from the frontier (see :func:`pick`): bank_day.toml since issue 9."""

MARKED = ("fifo", "region_first", "late_overflow", "bank_day")
TARGET_HOME, TARGET_LANGUAGE = 0.80, 0.99


def grid() -> list[dict[str, list[Any]]]:
    """Every combination of the overflow timings, late or early VIP and 30 s-plan steps, and the
    two ranking weights (a union of grids: a step may not start before the one it follows)."""
    timings = [(n, a) for n in (5.0, 8.0, 10.0, 12.0, 15.0) for a in (10.0, 12.0, 15.0, 20.0, 30.0, 40.0) if a > n]
    pace = ({VIP_WIDE: [8.0], VIP_CARD: [25.0], SECOND: [30.0]}, {VIP_WIDE: [3.0], VIP_CARD: [5.0], SECOND: [15.0]})
    return [{NEIGHBOUR: [n], ANY_SITE: [a], **p, SPARE: [0.0, -1.0], NEAR: [-1.0, -5.0]}
            for n, a in timings for p in pace]


def variations() -> list[dict[str, list[Any]]]:
    """One change at a time from the chosen routing."""
    around = {k: [v] for k, v in CHOSEN.items()}
    return [{**around, VIP_WIDE: [v1], VIP_CARD: [v2]} for v1, v2 in ((2.0, 4.0), (3.0, 8.0), (5.0, 12.0), (8.0, 25.0))
            ] + [{**around, SECOND: [10.0, 20.0, 30.0]}] + [{**around, k: v} for k, v in (
                ("step.card+loan.0.language_level", [0]),                # the first step ignores the language
                ("step.vip.2.require.card", [2]),                         # VIPs to any card-skilled agent
                ("step.card+loan+limit.*.weights.proficiency", [0.0]),    # ordinary calls ranked by breadth alone
                ("step.retention.0.require.retention", [5]),              # Cantonese retention callers: seniors at once
                ("plan.card+loan.value_weight", [0.0, 40.0]),
                ("plan.vip.value_weight", [0.0, 80.0]),
                ("plan.vip.base_priority", [50.0]),
            )]


def study(replications: int, seed: int, workers: Optional[int]) -> list[dict[str, Any]]:
    """Runs the references, the grid and the variations; one row per routing, references first.
    Each row also has every KPI's difference from the FIFO pool, paired seed by seed (``<kpi>_diff``)."""
    base = Scenario.load(BANK)
    fifo = Scenario.load_variant(BANK, HERE / "fifo.toml")
    references = {"fifo": fifo, "region_first": Scenario.load_variant(BANK, HERE / "region_first.toml")}
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        def measure(scenario: Scenario, grids: Any) -> Table:
            return sweep(scenario, grids, replications, pool, seed, plans=["vip"], baseline=fifo)

        for name, scenario in references.items():
            rows += _rows(measure(scenario, {}), replications, "reference", name)
        rows += _rows(measure(base, grid()), replications, "grid")
        rows += _rows(measure(base, variations()), replications, "variation")
    return rows


def _rows(table: Table, seeds: int, group: str, name: str = "") -> list[dict[str, Any]]:
    out = []
    for i in range(len(table)):
        row = {k: v[i].item() for k, v in table.columns.items()}
        settings = {k: row.pop(k) for k in list(row) if "." in k}
        out.append({"routing": name or _name(group, settings), "group": group, "seeds": seeds, **row,
                    **{k: settings.get(k, math.nan) for k in SETTINGS}, "change": _change(group, settings)})
    return out


def _name(group: str, settings: Mapping[str, float]) -> str:
    if group == "grid" and _is(settings, BEFORE):
        return "late_overflow"
    if group == "grid" and _is(settings, CHOSEN):
        return "bank_day"
    return ""


def _change(group: str, settings: Mapping[str, float]) -> str:
    """What a variation changes from the chosen routing ("" for other rows)."""
    if group != "variation":
        return ""
    return "; ".join(f"{SHORT.get(k, k)}={v:g}" for k, v in settings.items()
                     if not math.isnan(v) and CHOSEN.get(k) != v)


def _is(settings: Mapping[str, float], routing: Mapping[str, float]) -> bool:
    return set(settings) == set(routing) and all(settings[k] == v for k, v in routing.items())


def save(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def load(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: v if k in ("routing", "group", "change") else float(v) for k, v in row.items()}
                for row in csv.DictReader(f)]


def pareto(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both x and y (higher is better), by x."""
    order = np.lexsort((-y, -x))  # x descending, then y descending
    best, keep = -math.inf, []
    for i in order:
        if y[i] > best:
            keep.append(i)
            best = y[i]
    return np.array(keep[::-1], dtype=int)


def meets_targets(row: Mapping[str, Any]) -> bool:
    """The issue's bar, on the means: at least the FIFO pool's service level and VIP service
    level (on the same callers), at least 80 % answered at home and 99 % in language."""
    return (row["service_level_diff"] >= 0 and row["vip_sl_diff"] >= 0
            and row["home_share"] >= TARGET_HOME and row["language_share"] >= TARGET_LANGUAGE)


def pick(rows: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The routing to ship: among the cells meeting the bar whose service levels are not below
    the pool's even at the low end of the paired 95 % interval, the one keeping most callers home."""
    sure = [r for r in rows if r["group"] == "grid" and meets_targets(r)
            and r["service_level_diff"] - r["service_level_diff_ci"] >= 0
            and r["vip_sl_diff"] - r["vip_sl_diff_ci"] >= 0]
    return max(sure, key=lambda r: (round(r["home_share"], 3), r["service_level"]), default=None)


def _short(r: Mapping[str, Any]) -> str:
    return " ".join(f"{SHORT[k]}={r[k]:g}" for k in SETTINGS if not math.isnan(r[k]))


def report(rows: Sequence[Mapping[str, Any]]) -> str:
    """The marked routings, the frontier, the cells meeting the bar and the variations, as text."""
    cells = [r for r in rows if r["group"] != "reference"]

    def line(r: Mapping[str, Any], label: str) -> str:
        def cell(k: str) -> str:
            return f"{100 * r[k]:{'+' if k.endswith('_diff') else ''}6.1f} ±{100 * r[f'{k}_ci']:4.1f}"
        keys = ("service_level", "service_level_diff", "vip_sl", "vip_sl_diff", "home_share", "language_share")
        return f"{label[:14]:14}" + " ".join(cell(k) for k in keys)

    lines = [f"{'':14}{'SL':>12}{'- FIFO':>13}{'VIP SL':>13}{'- FIFO':>13}{'home':>13}{'language':>13}"
             "   (means ± 95 % CI; '- FIFO' paired seed by seed)"]
    lines += [line(r, r["routing"]) for name in MARKED for r in rows if r["routing"] == name]
    x, y = np.array([r["home_share"] for r in cells]), np.array([r["service_level"] for r in cells])
    lines += ["", "the frontier of service level against home-site share:"]
    lines += [line(cells[i], "") + "  " + (cells[i]["change"] or _short(cells[i])) for i in pareto(x, y)[::-1]]
    meeting = sorted((r for r in cells if meets_targets(r)), key=lambda r: -r["home_share"])
    lines += ["", f"{len(meeting)} of {len(cells)} routings reach the FIFO pool's service levels with >= "
                  f"{100 * TARGET_HOME:.0f} % home and >= {100 * TARGET_LANGUAGE:.0f} % in language; "
                  "the ten keeping most callers home:"]
    lines += [line(r, "") + "  " + (r["change"] or _short(r)) for r in meeting[:10]]
    chosen = pick(rows)
    lines += ["", "picked (most callers home among those not below the pool even at the low end of the paired "
                  f"interval): {_short(chosen) if chosen else 'none'}"]
    lines += ["", "one change from bank_day now:"]
    lines += [line(r, "") + "  " + r["change"] for r in rows if r["group"] == "variation"]
    lines += ["", "settings: " + "; ".join(f"{v} = {k}" for k, v in SHORT.items())]
    return "\n".join(lines)


def plot(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Service level and VIP service level against home-site and in-language shares."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    cells = [r for r in rows if r["group"] != "reference"]
    named = {r["routing"]: r for r in rows if r["routing"] in MARKED}
    fifo = named["fifo"]
    families = {  # (spare the experts, prefer home) -> colour, label
        (0.0, -1.0): ("#a6a6a6", "agents ranked as before"),
        (-1.0, -1.0): ("#85c1e9", "ordinary calls spare the experts"),
        (0.0, -5.0): ("#f0b27a", "open steps prefer home"),
        (-1.0, -5.0): ("#1f618d", "both"),
    }
    marks = {"late_overflow": ("s", "black", "bank_day before (home 15 s, any site 40 s, VIP 8/25 s)"),
             "bank_day": ("*", "#1e8449", "bank_day now (home 12 s, any site 15 s, VIP 3/5 s)"),
             "region_first": ("^", "#ca6f1e", "region_first now (value-blind)"),
             "fifo": ("X", "#c0392b", "one FIFO pool")}
    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    ys = (("service_level", "service level (20 s; VIP 10 s, some plans 30 s), %"),
          ("vip_sl", "VIP service level (10 s), %"))
    xs = (("home_share", "answered at the home site, %"), ("language_share", "answered in the caller's language, %"))
    for row, col in ((0, 0), (0, 1), (1, 0), (1, 1)):
        (ykey, ylabel), (xkey, xlabel) = ys[row], xs[col]
        ax = axes[row][col]
        x, y = np.array([100 * c[xkey] for c in cells]), np.array([100 * c[ykey] for c in cells])
        for (spare, near), (colour, label) in families.items():
            for early, fill in ((False, "none"), (True, colour)):
                chosen = np.array([c["group"] == "grid" and c[SPARE] == spare and c[NEAR] == near
                                   and (c[VIP_WIDE] < 8.0) == early for c in cells])
                ax.scatter(x[chosen], y[chosen], s=16, facecolors=fill, edgecolors=colour, linewidths=0.8, zorder=2,
                           label=f"{label}, VIP and 30 s plans {'early' if early else 'late'}")
        varied = np.array([c["group"] == "variation" for c in cells])
        ax.scatter(x[varied], y[varied], s=16, color="#8e44ad", zorder=2, label="one change from bank_day now")
        front = pareto(x, y)
        # a staircase: between two frontier points only the worse of the two is sure to be reachable
        ax.plot(x[front], y[front], color="#1f618d", linewidth=1, zorder=1, drawstyle="steps-pre", label="frontier")
        target = TARGET_HOME if xkey == "home_share" else TARGET_LANGUAGE
        lo = min(x.min(), 100 * target) - 1.5 if xkey == "home_share" else 95.0
        hi = x.max() + 1.0 if xkey == "home_share" else 100.0
        ax.axvspan(100 * target, hi, color="#d5f5e3", zorder=0)
        ax.axhline(100 * fifo[ykey], color="#c0392b", linestyle="--", linewidth=1, zorder=1)
        ax.set_xlim(lo, hi)
        for name, (marker, colour, label) in marks.items():
            r = named[name]
            px, py = 100 * r[xkey], 100 * r[ykey]
            if px < lo:  # the FIFO pool keeps a fifth of callers home: off the left edge, its level dashed
                ax.annotate(f"\u2190 FIFO pool ({px:.0f} % home)", (lo, py), xytext=(3, 3), textcoords="offset points",
                            color=colour, fontsize=8)
                continue
            # the intervals of the differences from the pool, paired seed by seed: the day-to-day
            # swing of the levels themselves is common to every routing and would hide what differs
            ax.errorbar(px, py, xerr=100 * r[f"{xkey}_diff_ci"], yerr=100 * r[f"{ykey}_diff_ci"], fmt=marker,
                        color=colour, markersize=13 if marker == "*" else 8, markeredgecolor="white", capsize=2, zorder=3,
                        label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"examples/bank_day.toml: {len(cells)} routings of the same callers and staff, means over "
                 f"{rows[0]['seeds']:g} seeds\nbars: 95 % CI of a marked routing's difference from the pool, paired "
                 "seed by seed; green: the bar for home-site and in-language shares; dashed: the pool's level",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=3, help="seeds per routing (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="the first seed (default 1, as ccroute compare's)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    parser.add_argument("--out", type=Path, default=DOCS, help="where frontier.csv and frontier.png go")
    parser.add_argument("--plot-only", action="store_true", help="redraw from OUT/frontier.csv")
    args = parser.parse_args(argv)
    table = args.out / "frontier.csv"
    if args.plot_only:
        rows = load(table)
    else:
        started = time.perf_counter()
        rows = study(args.replications, args.seed, args.workers)
        save(rows, table)
        print(f"{len(rows)} routings x {args.replications} seeds in {time.perf_counter() - started:.0f} s "
              f"on {args.workers or os.cpu_count()} processes; wrote {table}\n")
    print(report(rows))
    print(f"\nwrote {plot(rows, args.out / 'frontier.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
