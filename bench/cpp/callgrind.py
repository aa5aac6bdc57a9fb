"""Instructions per routing decision in the C++ core, counted by valgrind's callgrind.

Nanoseconds move by ±30 % on a shared machine; instruction counts of the same binary on the
same inputs do not, so a regression shows here first. Each scenario of bench_decisions runs
under callgrind, which counts only the timed batches (inside ``ccroute_measured_batch``):

    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j
    python bench/cpp/callgrind.py --json after.json [--against before.json]

bench/cpp/before_after.py counts an earlier commit's core beside this one's.

With ``--against``, a column gives the ratio of this build's count to the saved one.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SCENARIOS = {
    "arrive_match": [500, 5000, 20000],
    "arrive_enqueue": [1000, 10000, 100000],
    "ready_pick": [1000, 10000, 100000],
    "advance_escalate": [1000, 10000, 100000],
}


def instructions_per_decision(binary: Path, scenario: str, size: int, rounds: int) -> float:
    """Counted instructions over the decisions of the measured batches (not the warm-up one)."""
    with tempfile.TemporaryDirectory() as scratch:
        out_file = Path(scratch) / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=ccroute_measured_batch",
             f"--callgrind-out-file={out_file}", str(binary), "--rounds", str(rounds), scenario, str(size)],
            capture_output=True, text=True, check=True)
        row = next(line.split() for line in run.stdout.splitlines() if line.startswith(scenario))
        batch = int(row[3])
        totals = re.search(r"^(?:totals|summary): (\d+)", out_file.read_text(), re.MULTILINE)
        if totals is None:
            raise RuntimeError(f"no instruction total in callgrind's output for {scenario} {size}")
        return int(totals.group(1)) / (batch * rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, default=Path("build/bench_decisions"))
    parser.add_argument("--rounds", type=int, default=2, help="measured batches after the warm-up one")
    parser.add_argument("--json", type=Path, help="save the counts here")
    parser.add_argument("--against", type=Path, help="counts saved by an earlier build, for a ratio column")
    parser.add_argument("scenario", nargs="?", choices=sorted(SCENARIOS))
    args = parser.parse_args()

    before = json.loads(args.against.read_text()) if args.against else {}
    counts: dict[str, float] = {}
    print(f"{'decision':<18} {'size':>7} {'instructions':>13}" + (f" {'vs before':>10}" if before else ""))
    for scenario, sizes in SCENARIOS.items():
        if args.scenario and scenario != args.scenario:
            continue
        for size in sizes:
            key = f"{scenario} {size}"
            counts[key] = instructions_per_decision(args.binary, scenario, size, args.rounds)
            line = f"{scenario:<18} {size:>7} {counts[key]:>13,.0f}"
            if key in before:
                line += f" {counts[key] / before[key]:>9.2f}x"
            print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps(counts, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
