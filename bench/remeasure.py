"""Re-measure every figure of the README in one run, each with its own command.

    python bench/remeasure.py --out bench/results/new [--against bench/results/old] [--only core outputs ...]

Runs the README's measurement commands one after the other (so that they share the machine's
conditions), keeps each one's output and JSON in ``--out``, and with ``--against`` compares
the pytest-benchmark medians and the instruction counts with an earlier run's, flagging
what got slower. Timings on a shared machine move by ±30 %: a flag asks for a rerun, the
instruction counts (callgrind) are the steady witness. Needs what the README's commands
need (the ``peers`` and ``kamailio`` extras, hyperfine, valgrind); a step whose tool is
missing is reported as skipped, with the reason.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple, Optional

SLOWER = 1.15  # a median this much above the earlier run's is flagged


class Step(NamedTuple):
    name: str
    commands: list[str]  # shell commands, run from the repository root; {out} is the results directory
    needs: tuple[str, ...] = ()  # programs or Python modules that must be present


STEPS = [
    Step("core", ["cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j >/dev/null",
                  "build/bench_decisions",
                  "python bench/cpp/callgrind.py --json {out}/instructions.json",
                  "python bench/cpp/before_after.py --base dcf5d20 --json {out}/before_after.json"],
         needs=("cmake", "valgrind")),
    Step("memory", ["build/bench_memory", "python bench/memory.py"]),
    Step("python", ["python -m pytest -q bench/test_router_bench.py --benchmark-json={out}/router.json",
                    "python bench/report.py {out}/router.json"]),
    Step("binding", ["python -m pytest -q bench/binding --benchmark-json={out}/binding.json"], needs=("pybind11",)),
    Step("peers", ["python -m pytest -q bench/peers --benchmark-json={out}/peers.json",
                   "python bench/peers/report.py {out}/peers.json"], needs=("simpy", "ciw")),
    Step("outputs", ["python -m pytest -q bench/test_outputs_bench.py --benchmark-json={out}/outputs.json",
                     "python bench/outputs_report.py {out}/outputs.json",
                     "python bench/outputs_stages.py",
                     "hyperfine -N --warmup 1 --runs 10 --export-json {out}/main_job.json"
                     " 'ccroute simulate examples/bank_day.toml --out /tmp/ccroute-main-job'"
                     " 'ccroute simulate examples/bank_day.toml'"], needs=("hyperfine",)),
    Step("operability", [f"python -m pytest -q bench/test_operability_bench.py --benchmark-json={{out}}/ops{i}.json"
                         for i in range(1, 6)] + ["python bench/test_operability_bench.py {out}/ops*.json"]),
    # Seeded, so these repeat exactly unless the routing changed: the README's KPI tables.
    Step("bank_day", ["ccroute compare examples/bank_day.toml examples/fifo.toml examples/region_first.toml"
                      " examples/late_overflow.toml --seeds 3",
                      "python examples/expected_wait.py examples/bank_day.toml --seed 1"]),
    Step("frontier", ["python examples/frontier.py --out {out}/frontier"]),
    Step("service", ["python bench/service/load.py --rates 100 500 2000 --peer --json {out}/service.json",
                     "python bench/service/report.py {out}/service.json"]),
    Step("kamailio", ["python bench/kamailio/run_bench.py"], needs=("kamailio", "sipp")),
]


def missing(step: Step) -> Optional[str]:
    for need in step.needs:
        if shutil.which(need) is None and importlib.util.find_spec(need) is None:
            return need
    return None


def medians(path: Path) -> dict[str, float]:
    """Median seconds of each benchmark of a pytest-benchmark JSON file, by full name."""
    return {b["fullname"]: b["stats"]["median"] for b in json.loads(path.read_text())["benchmarks"]}


def compare(out: Path, against: Path) -> list[str]:
    """Lines naming what is slower (or costs more instructions) than in the earlier run."""
    flagged = []
    for new_file in sorted(out.glob("*.json")):
        old_file = against / new_file.name
        if not old_file.exists():
            continue
        if new_file.name == "instructions.json":
            new, old = json.loads(new_file.read_text()), json.loads(old_file.read_text())
            threshold = 1.01  # counts are deterministic: any growth is real
        elif new_file.name in ("main_job.json", "service.json", "before_after.json"):
            continue  # hyperfine's and the service bench's own formats: read their reports
        else:
            new, old = medians(new_file), medians(old_file)
            threshold = SLOWER
        for key in sorted(new.keys() & old.keys()):
            if old[key] > 0 and new[key] / old[key] > threshold:
                flagged.append(f"{new_file.name}: {key}: {new[key] / old[key]:.2f}x the earlier run")
    return flagged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="directory for this run's outputs")
    parser.add_argument("--against", type=Path, help="an earlier run's directory, to compare with")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in STEPS], help="these steps only")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out.resolve()
    load = os.getloadavg()
    print(f"# remeasure {time.strftime('%Y-%m-%d %H:%M')}, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    failed = []
    for step in STEPS:
        if args.only and step.name not in args.only:
            continue
        need = missing(step)
        if need:
            print(f"\n## {step.name}: skipped, {need} is not installed")
            continue
        print(f"\n## {step.name}", flush=True)
        with open(out / f"{step.name}.log", "w") as log:
            for command in step.commands:
                command = command.format(out=out)
                print(f"$ {command}", flush=True)
                started = time.monotonic()
                run = subprocess.run(command, shell=True, cwd=root, text=True, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
                log.write(f"$ {command}\n{run.stdout}")
                print(run.stdout, end="")
                print(f"({time.monotonic() - started:.0f} s, exit {run.returncode})", flush=True)
                if run.returncode != 0:
                    failed.append(f"{step.name}: {command}")
                    break
    if args.against:
        flagged = compare(out, args.against)
        print(f"\n## against {args.against}: " + ("nothing slower" if not flagged else f"{len(flagged)} slower"))
        for line in flagged:
            print(f"  {line}")
    for line in failed:
        print(f"FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
