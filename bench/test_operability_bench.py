"""What the operability features cost on the decision path (issue 7): the journal and the decision log.

Native core only, through the Python API, on the centre of bench/centre.py and with the
very scenarios of bench/test_router_bench.py (same states, same calls, same untimed
restore between rounds, K = 1,000 operations per round). Each group holds the peers
measured one after the other in the same run:

* ``journal-arrive_match`` / ``journal-arrive_enqueue`` — ``arrive`` of a call offered at
  once (5,000 ready agents) / of a call that must wait (10,000 waiting), by a router
  built as ``Router(config)`` (no journal) and as ``Router(config, journal=path, sync=…)``
  with ``sync="none"``, ``"batch"`` and ``"every"`` (the journal in pytest's ``tmp_path``,
  written from construction on, so it already holds the centre's set-up when the rounds
  start). The goal: ``batch`` at most 20 % over no journal.
* ``decision_log-arrive_match`` / ``decision_log-ready_pick`` — a decision each operation
  (an offer made on ``arrive`` / an agent becoming ready picking a waiting call) with the
  decision log off (the default) and on (``r.log_decisions(capacity=1000)``).

Each router is built for its test and dropped after it (its journal stopped: a ``batch``
journal's syncing thread must not run on into the next benchmark). Nothing is asserted
about time. The summary, as ratios to the peer without the feature (round medians), does
not import ccroute (it reads the JSON files only):

    python -m pytest bench/test_operability_bench.py --benchmark-json=ops.json
    python bench/test_operability_bench.py ops.json [more.json ...]

With several files (repeated runs: the machine's noise moves a single run's ratios by tens
of per cent), each figure is the median of the runs' figures, with their range.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import statistics
import sys
from typing import Any, Callable, Optional

import pytest

JOURNAL_PEERS = ("no journal", "sync=none", "sync=batch", "sync=every")
LOG_PEERS = ("log off", "log on")
GROUPS = {
    "journal-arrive_match": ("`arrive`, offered at once (5,000 ready agents)", JOURNAL_PEERS),
    "journal-arrive_enqueue": ("`arrive`, enqueued (10,000 waiting calls)", JOURNAL_PEERS),
    "decision_log-arrive_match": ("`arrive`, offered at once (5,000 ready agents)", LOG_PEERS),
    "decision_log-ready_pick": ("`ready`, picks a waiting call (10,000 waiting)", LOG_PEERS),
}
ROUNDS = 30  # per peer (the router suite's 20, and a few more: the ratios are of medians)
LOG_CAPACITY = 1000


# ------------------------------------------------------------------ benchmarks
# The scenarios are bench/test_router_bench.py's, imported when a test runs, so that the
# report at the bottom needs neither ccroute nor its native core.

class _OneTest:
    """The ``states`` cache of the router suite (conftest.StateCache), for one test only:
    its centre, router, journal and log are dropped with it."""

    def __init__(self) -> None:
        self.centres: dict[Any, Any] = {}

    def get(self, key: Any, build: Callable[[], Any]) -> Any:
        if key not in self.centres:
            self.centres[key] = build()
            gc.collect()
            gc.freeze()  # as StateCache does: no full collection walks the centre in a round
        return self.centres[key]

    def drop(self, key: Any) -> None:
        self.centres.pop(key, None)

    def router(self) -> Any:
        (centre,) = self.centres.values()
        return centre.router


def _run(benchmark: Any, native: Any, op: str, peer: str, make: Callable[[Any], Any], cache: _OneTest) -> None:
    """Router suite's scenario ``op`` at its main size, for a router made by ``make(config)``."""
    import test_router_bench as suite

    size = suite.MAIN_AGENTS if op == "arrive_match" else suite.MAIN_CALLS
    impl = dataclasses.replace(native, name=peer, cls=make, rounds=ROUNDS)
    getattr(suite, f"run_{op}")(benchmark, impl, cache, size, impl.ops)
    benchmark.extra_info.update(peer=peer)


def _ids(peers: tuple[str, ...]) -> list[str]:
    return [p.replace(" ", "_").replace("=", "_") for p in peers]


@pytest.mark.parametrize("peer", JOURNAL_PEERS, ids=_ids(JOURNAL_PEERS))
@pytest.mark.parametrize("op", ["arrive_match", "arrive_enqueue"])
def test_journal(benchmark: Any, native: Any, tmp_path: Any, op: str, peer: str) -> None:
    benchmark.group = f"journal-{op}"
    path = os.fspath(tmp_path / "ccroute.journal")
    sync = None if peer == "no journal" else peer.removeprefix("sync=")

    def make(config: Any) -> Any:
        return native.cls(config) if sync is None else native.cls(config, journal=path, sync=sync)

    cache = _OneTest()
    try:
        _run(benchmark, native, op, peer, make, cache)
    finally:
        for centre in cache.centres.values():
            centre.router.stop_journal()  # a no-op without a journal
    if sync is not None:  # stopped, the file holds its records only
        benchmark.extra_info.update(journal_events=cache.router().events, journal_bytes=os.path.getsize(path))


@pytest.mark.parametrize("peer", LOG_PEERS, ids=_ids(LOG_PEERS))
@pytest.mark.parametrize("op", ["arrive_match", "ready_pick"])
def test_decision_log(benchmark: Any, native: Any, op: str, peer: str) -> None:
    benchmark.group = f"decision_log-{op}"
    on = peer == "log on"

    def make(config: Any) -> Any:
        router = native.cls(config)
        if on:
            router.log_decisions(capacity=LOG_CAPACITY)
        return router

    cache = _OneTest()
    _run(benchmark, native, op, peer, make, cache)
    logged = len(cache.router().decisions())
    assert logged == (LOG_CAPACITY if on else 0), logged  # the log did fill (or stayed off)
    benchmark.extra_info.update(logged=logged)


# ------------------------------------------------------------------ report

def ns_per_op(bench: dict[str, Any]) -> float:
    return bench["stats"]["median"] / bench["extra_info"]["ops"] * 1e9


def _peers(data: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for b in data["benchmarks"]:
        if b.get("group") in GROUPS and "peer" in b.get("extra_info", {}):
            found.setdefault(b["group"], {})[b["extra_info"]["peer"]] = b
    return found


def _range(values: list[float], fmt: str, unit: str = "") -> str:
    mid = format(statistics.median(values), fmt) + unit
    return mid if len(values) == 1 else f"{mid} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def report(runs: list[dict[str, Any]]) -> str:
    """Per group: the base peer's ns/op and each other peer's median / the base's median,
    each from one run; over several runs, the median of the runs (their range in brackets)."""
    machine = runs[0].get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw") or machine.get("processor") or "?"
    python = f"{machine.get('python_implementation', 'Python')} {machine.get('python_version', '?')}"
    per_run = [_peers(d) for d in runs]
    out = [f"Operability overhead — {cpu}, {python}, {len(runs)} run(s) from "
           f"{runs[0].get('datetime', '')[:19]} to {runs[-1].get('datetime', '')[:19]}", "",
           "Each peer's round median / the first peer's, in the same run"
           + ("; median of the runs (min–max)" if len(runs) > 1 else "") + ":", ""]
    for kind, peers in (("journal", JOURNAL_PEERS), ("decision_log", LOG_PEERS)):
        out += [f"| operation | {peers[0]}, ns/op | " + " | ".join(peers[1:]) + " |",
                "|---|---:|" + "---:|" * (len(peers) - 1)]
        for group, (label, _) in GROUPS.items():
            if not group.startswith(kind + "-"):
                continue
            found = [p[group] for p in per_run if group in p and peers[0] in p[group]]
            if not found:
                continue
            cells = [_range([ns_per_op(g[peers[0]]) for g in found], ",.0f")]
            for peer in peers[1:]:
                ratios = [ns_per_op(g[peer]) / ns_per_op(g[peers[0]]) for g in found if peer in g]
                cells.append(_range(ratios, ".2f" if max(ratios) < 10 else ",.0f", "×") if ratios else "—")
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    # A/A: the same plain router and scenario measured twice in each run (the journal
    # group's first peer and the decision-log group's): how far apart identical peers land.
    twins = [ns_per_op(p["journal-arrive_match"]["no journal"]) / ns_per_op(p["decision_log-arrive_match"]["log off"])
             for p in per_run if "no journal" in p.get("journal-arrive_match", {})
             and "log off" in p.get("decision_log-arrive_match", {})]
    if twins:
        out.append("Noise: the same plain router on the same scenario, measured twice in a run "
                   f"(`arrive`, offered at once: no journal / log off): {_range(twins, '.2f', '×')}")
    return "\n".join(out)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", nargs="+", help="files written by pytest --benchmark-json")
    args = parser.parse_args(argv)
    runs = []
    for name in args.json:
        with open(name, encoding="utf-8") as f:
            runs.append(json.load(f))
    print(report(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
