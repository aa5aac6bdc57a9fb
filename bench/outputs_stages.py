"""Where the time of ``ccroute simulate examples/bank_day.toml --out DIR`` goes, stage by stage.

    python bench/outputs_stages.py            # CPU seconds (time.process_time), median of 5 fresh processes
    python bench/outputs_stages.py --wall     # wall seconds instead
    PYTHONPATH=old/src python bench/outputs_stages.py   # another version of ccroute

Each run is a fresh interpreter doing what the command does, one stage after the other
(here the matplotlib import is not overlapped with the simulation, so that each stage is
seen alone): import numpy and ccroute, read the TOML, simulate, compute the KPI tables,
write them and ``calls.csv``, import matplotlib, draw the two plots.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STAGES = r'''
import json, sys, time
clock = time.process_time if sys.argv[2] == "cpu" else time.perf_counter
seconds, started = {}, clock()
def stage(name):
    global started
    now = clock()
    seconds[name] = seconds.get(name, 0.0) + now - started
    started = now
from pathlib import Path
import numpy
from ccroute.sim import Scenario, run
out = Path(sys.argv[1])
scenario = Scenario.load(sys.argv[3]); stage("import numpy, ccroute; read the TOML")
result = run(scenario, seed=1); stage("simulation")
tables = {name: getattr(result, name)() for name in ("by_plan", "by_site", "by_interval")}
str(tables["by_plan"]), str(tables["by_site"]); stage("KPI tables")
for name, table in tables.items():
    table.to_csv(out / f"{name}.csv")
result.to_csv(out / "calls.csv"); stage("write the tables and calls.csv")
import inspect, ccroute.plots; stage("import matplotlib")
# plot_day before the column-wise outputs computed by_interval itself: so can be timed too
shared = {"by_interval": tables["by_interval"]} if "by_interval" in inspect.signature(ccroute.plots.plot_day).parameters else {}
ccroute.plots.plot_day(result, out, **shared); stage("two plots")
print(json.dumps(seconds))
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wall", action="store_true", help="wall-clock seconds rather than CPU seconds")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", default=str(ROOT / "examples" / "bank_day.toml"))
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.runs):
            done = subprocess.run([sys.executable, "-c", STAGES, out, "wall" if args.wall else "cpu", args.scenario],
                                  capture_output=True, text=True, check=True, timeout=300)
            runs.append(json.loads(done.stdout))
    unit = "wall s" if args.wall else "CPU s"
    print(f"| stage | median {unit} | min | max |\n|---|---:|---:|---:|")
    for name in runs[0]:
        values = [r[name] for r in runs]
        print(f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")
    totals = [sum(r.values()) for r in runs]
    print(f"| all, one after the other | {statistics.median(totals):.3f} | {min(totals):.3f} | {max(totals):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
