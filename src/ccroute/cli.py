"""``ccroute simulate`` and ``ccroute compare``: the simulator from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from .errors import RoutingError
from .sim import Result, Scenario, compare, run


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="ccroute", description="Simulate a contact centre routed by ccroute.")
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="simulate one day and report its KPIs")
    simulate.add_argument("scenario", type=Path, help="scenario TOML file (see examples/bank_day.toml)")
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--out", type=Path, help="directory for the per-call CSV, KPI tables and plots")
    simulate.add_argument("--no-progress", action="store_true", help="no progress bar")

    comparison = commands.add_parser("compare", help="the same day (same seed, same callers) under other routings")
    comparison.add_argument("scenario", type=Path)
    comparison.add_argument("variants", type=Path, nargs="+", help="TOML files laid over the scenario")
    comparison.add_argument("--seed", type=int, default=1)

    args = parser.parse_args(argv)
    try:
        if args.command == "simulate":
            return _simulate(args.scenario, args.seed, args.out, progress=not args.no_progress)
        return _compare(args.scenario, args.variants, args.seed)
    except (RoutingError, OSError) as error:
        print(f"ccroute: {error}", file=sys.stderr)
        return 2


def _simulate(path: Path, seed: int, out: Optional[Path], progress: bool) -> int:
    scenario = Scenario.load(path)
    result = run(scenario, seed=seed, progress=progress and sys.stderr.isatty())
    agents = sum(g.count for g in scenario.agents)
    print(f"{scenario.name}: {len(result):,} calls, {agents:,} agents, seed {seed}; "
          f"{result.events:,} events in {result.seconds:.2f} s ({result.events_per_second / 1e6:.1f} M events/s)\n")
    print(result.by_plan(), end="\n\n")
    print(result.by_site())
    if out is not None:
        written = write_outputs(result, out)
        print(f"\nwrote {', '.join(str(p) for p in written)}")
    return 0


def write_outputs(result: Result, out: Path) -> list[Path]:
    """Per-call CSV, KPI tables as CSV and, with matplotlib, the plots; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in (("by_plan", result.by_plan()), ("by_site", result.by_site()),
                        ("by_interval", result.by_interval())):
        table.to_csv(out / f"{name}.csv")
        written.append(out / f"{name}.csv")
    result.to_csv(out / "calls.csv")
    written.append(out / "calls.csv")
    try:
        from .plots import plot_day
    except ImportError:
        print("no plots: pip install 'ccroute[plot]' for matplotlib", file=sys.stderr)
        return written
    return written + plot_day(result, out)


def _compare(path: Path, variants: Sequence[Path], seed: int) -> int:
    base = Scenario.load(path)
    others = {v.stem: Scenario.load_variant(path, v) for v in variants}
    comparison = compare(base, others, seed=seed)
    print(f"{base.name}: the same {len(comparison.results[0]):,} callers (seed {seed}) under "
          f"{len(comparison.names)} routings\n")
    print(comparison.table(), end="\n\n")
    print("service level by plan")
    print(comparison.service_levels(), end="\n\n")
    if len(comparison.names) > 1:
        print(f"differences from {comparison.names[0]} (pp: percentage points; ASA in seconds)")
        print(comparison.differences())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
