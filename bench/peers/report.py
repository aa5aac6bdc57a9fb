"""Markdown table of the peers benchmarks (bench/peers/test_peers.py) from a pytest-benchmark JSON file.

    python -m pytest bench/peers -q --benchmark-json=/tmp/peers.json
    python bench/peers/report.py /tmp/peers.json

One row per implementation: median seconds of one whole run (build, simulate, KPIs),
arrivals simulated per second, the speed-up of ccroute over it (its median / ccroute's
median, both from the same pytest run), and the KPIs of the timed run (one seed, so each
differs from Erlang C by sampling error: ± one batch-means standard error is shown).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional

GROUP = "peers-mmc"
ORDER = ("ccroute", "simpy", "ciw")
LABELS = {"ccroute": "ccroute (native core)", "simpy": "SimPy", "ciw": "Ciw"}


def _erlang_c(info: dict[str, Any]) -> Optional[tuple[float, float]]:
    try:
        from ccroute.staffing import erlang_c
    except ImportError:
        return None
    theory = erlang_c(info["param_rate"], info["param_aht"], info["param_agents"])
    return theory.service_level(info["param_sl_threshold"]), theory.asa


def report(data: dict[str, Any]) -> str:
    benches = {b["extra_info"]["impl"]: b for b in data["benchmarks"]
               if b.get("group") == GROUP and "impl" in b.get("extra_info", {})}
    if not benches:
        return f"no benchmark of group {GROUP!r} in this file"
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw") or machine.get("processor") or "?"
    python = f"{machine.get('python_implementation', 'Python')} {machine.get('python_version', '?')}"
    info = next(iter(benches.values()))["extra_info"]
    out = [f"M/M/c peers — {cpu}, {python}, {data.get('datetime', '')[:19]}", "",
           f"{info['param_agents']} agents, AHT {info['param_aht']:g} s, {info['param_rate']:g} calls/s "
           f"({info['param_occupancy']:.0%} occupancy), {info['param_horizon'] / 3600:g} h, patience ∞; "
           f"seed {info['seed']}; service level = answered within {info['param_sl_threshold']:g} s / answered.", "",
           "| implementation | median s | rounds | calls | calls/s | speed-up of ccroute | SL (20 s) | ASA s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    ours = benches.get("ccroute")
    for impl in sorted(benches, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER)):
        b = benches[impl]
        e, median = b["extra_info"], b["stats"]["median"]
        speedup = f"{median / ours['stats']['median']:,.1f}×" if ours and impl != "ccroute" else "—"
        out.append(f"| {LABELS.get(impl, impl)} | {median:.4f} | {b['stats']['rounds']} | {e['calls']:,} "
                   f"| {e['calls'] / median:,.0f} | {speedup} "
                   f"| {e['service_level']:.4f} ± {e['service_level_se']:.4f} | {e['asa']:.2f} ± {e['asa_se']:.2f} |")
    theory = _erlang_c(info)
    if theory:
        out.append(f"| Erlang C (exact) | | | | | | {theory[0]:.4f} | {theory[1]:.2f} |")
    missing = [LABELS[k] for k in ORDER if k not in benches]
    if missing:
        out += ["", f"Not measured (skipped): {', '.join(missing)}."]
    if ours and ours["extra_info"].get("events"):
        e = ours["extra_info"]
        out += ["", f"ccroute: {e['events']:,} events per run, "
                    f"{e['events'] / ours['stats']['median'] / 1e6:.2f} M events/s end to end."]
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
