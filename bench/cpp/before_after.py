"""The C++ core of an earlier commit against this tree's, on this tree's benchmark, in one run.

    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j
    python bench/cpp/before_after.py --base dcf5d20 [--runs 3] [--json before_after.json]

Checks the earlier commit out beside this one (a git worktree in a temporary directory),
builds its core with this tree's bench/cpp sources (the benchmark must not differ between
the two), then runs both binaries alternately, ``--runs`` times each, and prints per decision
the median ns of each and the instructions per decision of each (callgrind.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind import SCENARIOS, instructions_per_decision  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def build_base(commit: str, scratch: Path) -> Path:
    tree = scratch / "base"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True,
                   capture_output=True)
    for source in (ROOT / "bench" / "cpp").glob("*.[ch]pp"):
        shutil.copy(source, tree / "bench" / "cpp" / source.name)
    build = tree / "build"
    subprocess.run(["cmake", "-S", str(tree), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j", "--target", "bench_decisions"], check=True,
                   capture_output=True)
    return build / "bench_decisions"


def ns_table(binary: Path) -> dict[str, float]:
    run = subprocess.run([str(binary)], check=True, capture_output=True, text=True)
    rows = [line.split() for line in run.stdout.splitlines() if line.split() and line.split()[0] in SCENARIOS]
    return {f"{row[0]} {row[1]}": float(row[-1]) for row in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="dcf5d20", help="the earlier commit")
    parser.add_argument("--binary", type=Path, default=ROOT / "build" / "bench_decisions", help="this tree's")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="save the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        try:
            base = build_base(args.base, Path(scratch))
            ns: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
            for _ in range(args.runs):  # alternately, so that both see the same machine
                for label, binary in (("before", base), ("after", args.binary)):
                    for key, value in ns_table(binary).items():
                        ns[label].setdefault(key, []).append(value)
            figures = {}
            print(f"{'decision':<18} {'size':>7} {'ns before':>10} {'ns after':>9} {'instr before':>13} "
                  f"{'instr after':>12}")
            for scenario, sizes in SCENARIOS.items():
                for size in sizes:
                    key = f"{scenario} {size}"
                    row = {
                        "ns_before": statistics.median(ns["before"][key]),
                        "ns_after": statistics.median(ns["after"][key]),
                        "instructions_before": instructions_per_decision(base, scenario, size, 2),
                        "instructions_after": instructions_per_decision(args.binary, scenario, size, 2),
                    }
                    figures[key] = row
                    print(f"{scenario:<18} {size:>7} {row['ns_before']:>10.0f} {row['ns_after']:>9.0f} "
                          f"{row['instructions_before']:>13,.0f} {row['instructions_after']:>12,.0f}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(Path(scratch) / "base")],
                           capture_output=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
