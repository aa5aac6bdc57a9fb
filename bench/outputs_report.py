"""Markdown table of the output benchmarks (bench/test_outputs_bench.py) from a pytest-benchmark JSON file.

    python -m pytest bench/test_outputs_bench.py --benchmark-json=outputs.json
    python bench/outputs_report.py outputs.json

One row per writer of the bank day's per-call table: median seconds, the file's size,
and the speed-up over the row-by-row writer (its median / the writer's, both from the
same pytest run).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional

GROUP = "outputs-calls"
ORDER = ("row-by-row", "numpy", "pyarrow-csv", "parquet")
LABELS = {"row-by-row": "row by row (before)", "numpy": "numpy (`to_csv`, default)",
          "pyarrow-csv": "pyarrow CSV (`to_csv(engine=\"pyarrow\")`)", "parquet": "Parquet (`to_parquet`)"}


def report(data: dict[str, Any]) -> str:
    benches = {b["extra_info"]["writer"]: b for b in data["benchmarks"]
               if b.get("group") == GROUP and "writer" in b.get("extra_info", {})}
    if not benches:
        return f"no benchmark of group {GROUP!r} in this file"
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw") or machine.get("processor") or "?"
    python = f"{machine.get('python_implementation', 'Python')} {machine.get('python_version', '?')}"
    info = next(iter(benches.values()))["extra_info"]
    out = [f"Writing the bank day's calls — {cpu}, {python}, {data.get('datetime', '')[:19]}", "",
           f"{info['calls']:,} calls; the simulation itself took {info['simulate_seconds']:.2f} s.", "",
           "| writer | median s | min s | max s | rounds | MB | speed-up over row by row |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    peer = benches.get("row-by-row")
    for writer in sorted(benches, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER)):
        b = benches[writer]
        s = b["stats"]
        speedup = f"{peer['stats']['median'] / s['median']:,.1f}×" if peer and writer != "row-by-row" else "—"
        out.append(f"| {LABELS.get(writer, writer)} | {s['median']:.3f} | {s['min']:.3f} | {s['max']:.3f} "
                   f"| {s['rounds']} | {b['extra_info']['bytes'] / 1e6:.1f} | {speedup} |")
    missing = [LABELS[k] for k in ORDER if k not in benches]
    if missing:
        out += ["", f"Not measured (skipped): {', '.join(missing)}."]
    return "\n".join(out)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", help="file written by pytest --benchmark-json")
    args = parser.parse_args(argv)
    with open(args.json, encoding="utf-8") as f:
        print(report(json.load(f)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
