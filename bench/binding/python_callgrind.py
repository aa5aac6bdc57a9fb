"""Instructions per routing decision through the Python API, counted by valgrind's callgrind.

The decisions of bench/test_router_bench.py's main table (the same centre, calls and
agents), made K at a time from a Python loop like the benchmark's, with everything the
loop costs counted: the interpreter's call, the binding and the core. Only the measured
round is counted: it runs inside libc's ``qsort`` (a comparison callback through ctypes,
which CPython itself never calls), and callgrind collects inside glibc's ``qsort_r`` (which ``qsort`` calls) alone.

    python setup.py build_ext --inplace && PYTHONPATH=src python bench/binding/python_callgrind.py

``--functions`` adds the costliest functions (inclusive) of one scenario's round.
``--journal none|batch|every`` counts a router journaling (to a temporary file) instead:
the difference to the plain count is what a record costs through Python.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import functools
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

K = 1000
SCENARIOS = ("arrive_match", "arrive_enqueue", "ready_pick", "agent_state")


def _rounds(scenario: str, journal: Optional[str]):
    """(round, restore): one measured round of K decisions and what undoes it."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import centre as bank  # noqa: PLC0415  (bench/centre.py)
    from ccroute import Router  # noqa: PLC0415

    if journal is not None:
        path = os.path.join(tempfile.mkdtemp(), "ccroute.journal")  # left to the system's cleaning of /tmp
        Router = functools.partial(Router, journal=path, sync=journal)  # noqa: N806

    if scenario in ("arrive_match", "agent_state"):
        c = bank.agent_surplus(Router, 5000)
        if scenario == "agent_state":
            ids = [a.id for a in c.agents[:K]]
            return (lambda: [c.router.agent_state(i) for i in ids]), (lambda _: None)
        pool = bank.first_step_pool(c.agents)
        specs = [s for s in bank.calls(20 * K, seed=bank.SEED + 7) if pool(s) >= 100][:K]
        prefix = "m"
    else:
        c = bank.call_surplus(Router, 10_000, n_agents=5000, span=60.0)
        specs = bank.calls(K, seed=bank.SEED + 11)
        prefix = "q"
    router, t = c.router, c.now
    if scenario == "ready_pick":
        sample = [a.id for a in random.Random(bank.SEED + 13).sample(c.agents, K)]
        ready = router.ready
        return (lambda: [ready(agent_id, t) for agent_id in sample]), (
            lambda results: bank.undo_readies(router, sample, results, t))
    rows = bank.call_rows(prefix, specs)
    arrive = router.arrive
    clock = [t]  # offered at once: each round a second later, as the benchmark's

    def run():
        if scenario == "arrive_match":
            clock[0] += 1.0
        t = clock[0]
        return [arrive(cid, plan=plan, now=t, region=region, language=language, value=value, repeats=repeats)
                for cid, plan, region, language, value, repeats in rows]

    return run, (lambda results: bank.undo_arrivals(router, rows, results, clock[0]))


def child(scenario: str, journal: Optional[str]) -> None:
    """Runs under callgrind: warm-up rounds, then the measured one inside qsort."""
    run, restore = _rounds(scenario, journal)
    for _ in range(2):
        restore(run())
    kept = []
    compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(
        lambda a, b: kept.append(run()) or 0)
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    items = (ctypes.c_int * 2)(0, 1)
    libc.qsort(items, 2, ctypes.sizeof(ctypes.c_int), compare)
    assert len(kept) == 1, "qsort compared more than once"


def count(scenario: str, functions: int, journal: Optional[str]) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=qsort_r",
                        f"--callgrind-out-file={out}", sys.executable, __file__, "--child", scenario,
                        *(["--journal", journal] if journal else [])],
                       env=env, check=True, capture_output=True)
        total = int(re.search(r"^(?:totals|summary): (\d+)", out.read_text(), re.MULTILINE).group(1))
        if functions:
            report = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=99", str(out)],
                                    capture_output=True, text=True, check=True).stdout
            print(report[:200 * functions])
        return total / K


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], help="default: all")
    parser.add_argument("--functions", type=int, default=0, help="print about this many function lines")
    parser.add_argument("--journal", choices=["none", "batch", "every"], help="the router journals, with this sync")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.journal)
        return 0
    for scenario in args.scenarios or SCENARIOS:
        per_decision = count(scenario, args.functions, args.journal)
        print(f"{scenario:<16} {per_decision:>8.0f} instructions per decision", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
