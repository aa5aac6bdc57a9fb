"""The journal's cost on ``arrive``, robust to a shared machine: peers interleaved round by round, CPU time.

bench/test_operability_bench.py measures each peer's 30 rounds one peer after the other, in
wall-clock time: on a loaded 2-core machine a peer whose rounds fall in a busy spell looks
slower (its A/A check then lands 0.65-1.5x apart). This script builds the three routers
(no journal, ``sync="none"``, ``sync="batch"``) on the same centre and calls as that
benchmark (bench/centre.py), then measures them in turn each round, in random order, with
the calling thread's CPU time (``time.thread_time_ns``): being descheduled does not count,
nor does the batch thread's work on the other core (it is off the operation's path). What
load still does (shared caches, a slower plain router) it does to the peers alike.

    PYTHONPATH=src python bench/journal_cpu.py [--rounds 150] [--scenario match|enqueue] [--wall]

Prints each peer's median ns per ``arrive`` and its ratios to the plain router's: the ratio
of medians and the median of the per-round ratios. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

K = 1000  # arrivals per round, as in the benchmark
WARMUP = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--scenario", choices=["match", "enqueue"], default="match")
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of the thread's CPU time")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import centre as bank  # noqa: PLC0415  (bench/centre.py)
    from ccroute import Router  # noqa: PLC0415

    clock = time.perf_counter_ns if args.wall else time.thread_time_ns
    scratch = tempfile.mkdtemp()
    peers = {"no journal": Router}
    for sync in ("none", "batch"):
        peers[f"sync={sync}"] = functools.partial(Router, journal=os.path.join(scratch, sync), sync=sync)
    state = {}
    for name, cls in peers.items():
        if args.scenario == "match":  # offered at once: 5,000 ready agents
            c = bank.agent_surplus(cls, 5000)
            pool = bank.first_step_pool(c.agents)
            rows = bank.call_rows("m", [s for s in bank.calls(20 * K, seed=bank.SEED + 7) if pool(s) >= 100][:K])
        else:  # enqueued: 10,000 waiting calls
            c = bank.call_surplus(cls, 10_000, n_agents=5000, span=60.0)
            rows = bank.call_rows("q", bank.calls(K, seed=bank.SEED + 11))
        state[name] = {"centre": c, "rows": rows, "last": None}
    gc.collect()
    gc.freeze()
    times: dict[str, list[float]] = {name: [] for name in peers}
    for round_ in range(WARMUP + args.rounds):
        order = list(peers)
        random.shuffle(order)
        for name in order:
            s = state[name]
            c, rows = s["centre"], s["rows"]
            if s["last"] is not None:
                bank.undo_arrivals(c.router, rows, s["last"], c.now)
            if args.scenario == "match":
                c.now += 1.0  # each round a second later, as the benchmark's
            t, arrive = c.now, c.router.arrive
            start = clock()
            s["last"] = [arrive(cid, plan=plan, now=t, region=region, language=language, value=value, repeats=repeats)
                         for cid, plan, region, language, value, repeats in rows]
            if round_ >= WARMUP:
                times[name].append((clock() - start) / K)
    for s in state.values():
        s["centre"].router.stop_journal()
    plain = times["no journal"]
    print(f"{args.scenario}, {args.rounds} rounds, {'wall-clock' if args.wall else 'CPU'} time, "
          f"load {os.getloadavg()[0]:.1f}")
    for name, ts in times.items():
        print(f"  {name:<11} {statistics.median(ts):7.0f} ns/op  ratio of medians "
              f"{statistics.median(ts) / statistics.median(plain):.3f}  median per-round ratio "
              f"{statistics.median(a / b for a, b in zip(ts, plain)):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
