"""Prints the load client's results (``load.py --json``) as a markdown table.

    python bench/service/report.py bench/service/results.json

Round trips in microseconds, from just before a request's write to the read that brought
its reply, over the requests sent after the warm-up. "decision" is ``arrive`` (the reply
carries the offer, or none when the call must wait). A run is said to be limited by the
client when it could not send on schedule (achieved rate under 95 % of the target, or
arrivals late by more than 10 ms at p99, or the client's CPU at 85 % of a core or more),
by the service when the service's CPU reached 85 % of a core.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional


def bottleneck(run: dict[str, Any]) -> str:
    late = (run.get("lateness_ms") or {}).get("p99", 0.0)
    if run.get("service_cpu") is not None and run["service_cpu"] >= 0.85:
        return "service"
    if run["achieved_rate"] < 0.95 * run["rate"] or late > 10 or run["client_cpu"] >= 0.85:
        return f"client (late {late:.0f} ms p99)"
    return "neither"


def us(value: Optional[float]) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} µs" if value < 10_000 else f"{value / 1000:,.0f} ms"


def table(results: dict[str, Any]) -> str:
    runs = results["runs"]
    floors = {run["rate"]: run for run in runs if run["target"] == "floor"}
    head = ["calls/s: target → sent", "requests/s", "decision p50", "decision p99", "decision max",
            "all requests p99", "floor p50 / p99", "p99 / floor p99", "offered at once",
            "CPU service / client", "limited by"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for run in runs:
        if run["target"] != "service":
            continue
        decision = run["rtt_us"].get("arrive") or {}
        floor = (floors.get(run["rate"]) or {}).get("rtt_us", {}).get("arrive")
        ratio = f"{decision['p99'] / floor['p99']:.1f}×" if floor and decision else "–"
        cpu = (f"{run['service_cpu']:.0%}" if run["service_cpu"] is not None else "–") + f" / {run['client_cpu']:.0%}"
        lines.append("| " + " | ".join([
            f"{run['rate']:,.0f} → {run['achieved_rate']:,.0f}", f"{run['requests'] / run['seconds']:,.0f}",
            us(decision.get("p50")), us(decision.get("p99")), us(decision.get("max")), us(run["all_us"]["p99"]),
            f"{us(floor['p50'])} / {us(floor['p99'])}" if floor else "–", ratio,
            f"{run['offered_at_once']:.0%}" if run["offered_at_once"] is not None else "–", cpu,
            bottleneck(run)]) + " |")
    machine = results["machine"]
    errors = {f"{run['rate']:g}": run["errors"] for run in runs if run["errors"] or run["unanswered_requests"]}
    notes = [f"Machine: {machine['cpu']}, {machine['cores']} cores (service and client share them), "
             f"Python {machine['python']}, {machine['implementation']} router.",
             f"Command: `{results['command']}`."]
    loads = [x for run in runs for x in run.get("load_average", ())]
    if loads:
        notes.append(f"Load average (1 min) before and after the runs: {min(loads):.1f}–{max(loads):.1f} "
                     f"on {machine['cores']} cores{' (other work was running: rerun on a quiet machine)' if max(loads) > 1.5 else ''}.")
    if errors:
        notes.append(f"Refused or unanswered requests: {errors}.")
    return "\n".join(lines) + "\n\n" + "\n".join(notes)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    print(table(json.loads(Path(argv[0]).read_text())))


if __name__ == "__main__":
    main(sys.argv[1:])
