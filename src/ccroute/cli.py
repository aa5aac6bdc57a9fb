"""``ccroute simulate`` and ``ccroute compare``: the simulator from the command line;
``ccroute serve``: the routing service (:mod:`ccroute.service`)."""

from __future__ import annotations

import argparse
import importlib
import sys
import threading
from pathlib import Path
from typing import Mapping, Optional, Sequence

from .errors import RoutingError
from .export import PARQUET_INSTALL, require_pyarrow
from .sim import Result, Scenario, compare, run
from .table import Table

FORMATS = ("csv", "parquet")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="ccroute", description="Simulate a contact centre routed by ccroute.")
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="simulate one day and report its KPIs")
    simulate.add_argument("scenario", type=Path, help="scenario TOML file (see examples/bank_day.toml)")
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--out", type=Path, help="directory for the per-call table, KPI tables and plots")
    simulate.add_argument("--format", choices=FORMATS, default="csv",
                          help=f"of the tables in --out (default csv; parquet needs pyarrow: {PARQUET_INSTALL})")
    simulate.add_argument("--no-progress", action="store_true", help="no progress bar")

    comparison = commands.add_parser("compare", help="the same day (same seed, same callers) under other routings")
    comparison.add_argument("scenario", type=Path)
    comparison.add_argument("variants", type=Path, nargs="+", help="TOML files laid over the scenario")
    comparison.add_argument("--seed", type=int, default=1)
    comparison.add_argument("--seeds", type=int, default=1, metavar="N",
                            help="N days per routing (seeds SEED, SEED+1, ...): means with 95%% confidence "
                                 "intervals (_ci), differences paired day by day")

    serve = commands.add_parser("serve", help="route a switch's calls over a socket (line-delimited JSON)")
    serve.add_argument("--config", type=Path, required=True,
                       help="TOML file with a [routing] table (a scenario file works), optionally [[service.agents]]")
    serve.add_argument("--listen", required=True, metavar="HOST:PORT|unix:PATH", help="where switches connect")
    serve.add_argument("--manual-clock", action="store_true",
                       help="every request carries now; timers fire only when a request's now passes them")
    serve.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus text at http://HOST:PORT/metrics")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                       help="INFO logs one line per offer (default)")

    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "simulate":
            return _simulate(args.scenario, args.seed, args.out, progress=not args.no_progress, format=args.format)
        return _compare(args.scenario, args.variants, args.seed, args.seeds)
    except (RoutingError, OSError) as error:
        print(f"ccroute: {error}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from .service import run as serve

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(args.config, args.listen, manual_clock=args.manual_clock, metrics=args.metrics))
    return 0


def _simulate(path: Path, seed: int, out: Optional[Path], progress: bool, format: str = "csv") -> int:
    if out is not None and format == "parquet":
        try:
            require_pyarrow("--format parquet")
        except ImportError as error:
            print(f"ccroute: {error}", file=sys.stderr)
            return 2
    # matplotlib takes longer to import than the day takes to simulate; the simulator
    # releases the GIL, so the import runs meanwhile (the later `import` finds it done)
    preload = _import_in_background("ccroute.plots") if out is not None else None
    try:
        scenario = Scenario.load(path)
        result = run(scenario, seed=seed, progress=progress and sys.stderr.isatty())
    finally:
        if preload is not None:
            preload.join()
    agents = sum(g.count for g in scenario.agents)
    print(f"{scenario.name}: {len(result):,} calls, {agents:,} agents, seed {seed}; "
          f"{result.events:,} events in {result.seconds:.2f} s ({result.events_per_second / 1e6:.1f} M events/s)\n")
    tables = {"by_plan": result.by_plan(), "by_site": result.by_site()}
    print(tables["by_plan"], end="\n\n")
    print(tables["by_site"])
    if out is not None:
        written = write_outputs(result, out, format, tables)
        print(f"\nwrote {', '.join(str(p) for p in written)}")
    return 0


def _import_in_background(module: str) -> threading.Thread:
    def load() -> None:
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # reported where the module is used

    thread = threading.Thread(target=load, name=f"import {module}", daemon=True)
    thread.start()
    return thread


def write_outputs(result: Result, out: Path, format: str = "csv",
                  tables: Optional[Mapping[str, Table]] = None) -> list[Path]:
    """The per-call table, the KPI tables (as CSV or Parquet) and, with matplotlib, the plots.

    ``tables``: KPI tables already computed (by name: by_plan, by_site, by_interval), not
    computed again. Returns the files written.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    out.mkdir(parents=True, exist_ok=True)
    tables = dict(tables or {})
    for name in ("by_plan", "by_site", "by_interval"):
        if name not in tables:
            tables[name] = getattr(result, name)()
    written = []
    for name, table in [*tables.items(), ("calls", result)]:
        path = out / f"{name}.{format}"
        if format == "parquet":
            table.to_parquet(path)
        else:
            table.to_csv(path)
        written.append(path)
    try:
        from .plots import plot_day
    except ImportError:
        print("no plots: pip install 'ccroute[plot]' for matplotlib", file=sys.stderr)
        return written
    return written + plot_day(result, out, tables["by_interval"])


def _compare(path: Path, variants: Sequence[Path], seed: int, seeds: int = 1) -> int:
    base = Scenario.load(path)
    others = {v.stem: Scenario.load_variant(path, v) for v in variants}
    comparison = compare(base, others, seed=seed, seeds=seeds)
    if seeds == 1:
        days = f"the same {len(comparison.results[0]):,} callers (seed {seed})"
    else:
        days = (f"the same callers on {seeds} days (seeds {seed}-{seed + seeds - 1}: means per day and 95% "
                f"confidence half-widths, _ci)")
    print(f"{base.name}: {days} under {len(comparison.names)} routings\n")
    print(comparison.table(), end="\n\n")
    print("service level by plan")
    print(comparison.service_levels(), end="\n\n")
    if len(comparison.names) > 1:
        print(f"differences from {comparison.names[0]} (pp: percentage points; ASA in seconds)")
        print(comparison.differences())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
