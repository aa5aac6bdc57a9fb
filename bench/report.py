"""Summarise a pytest-benchmark JSON file of bench/ as Markdown tables.

    pytest bench/ --benchmark-json=bench/results.json
    python bench/report.py bench/results.json

Prints, per operation, the median cost of one operation (the round's median time divided
by the K operations it performed) for the native core and the reference model, and their
ratio measured in the same run; then the scaling table (native only).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from typing import Any, Optional

OPERATIONS = {
    "arrive_match": "`arrive`, offered at once (5,000 ready agents)",
    "arrive_enqueue": "`arrive`, enqueued (10,000 waiting calls)",
    "ready_pick": "`ready`, picks a waiting call (10,000 waiting calls)",
    "advance_escalate": "`advance`, fires step escalations (10,000 waiting calls)",
    "agent_state": "`agent_state` (binding floor: a lookup, no decision)",
}
QUALITY = {  # extra_info keys that say whether the rounds did what they were meant to
    "arrive_match": ("matched", "offered at once"),
    "arrive_enqueue": ("enqueued", "enqueued"),
    "ready_pick": ("picked", "picked a call"),
    "advance_escalate": ("escalations_per_op", "escalations per advance"),
}


def ns_per_op(bench: dict[str, Any]) -> float:
    return bench["stats"]["median"] / bench["extra_info"]["ops"] * 1e9


def _fmt_ns(ns: Optional[float]) -> str:
    if ns is None:
        return "—"
    return f"{ns:,.0f}" if ns < 1e5 else f"{ns / 1e3:,.0f} µs"


def _quality(bench: dict[str, Any]) -> str:
    key, label = QUALITY.get(bench["extra_info"]["op"], (None, None))
    if key is None or key not in bench["extra_info"]:
        return ""
    value = bench["extra_info"][key]
    return f"{value:.2f} {label}" if key == "escalations_per_op" else f"{value:.0%} {label}"


def ours(bench: dict[str, Any]) -> bool:
    """A benchmark of bench/test_router_bench.py (others may share the run)."""
    return "op" in bench.get("extra_info", {}) and "impl" in bench["extra_info"]


def main_table(benches: list[dict[str, Any]]) -> list[str]:
    by_op: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for b in benches:
        if ours(b) and b["group"] == "router":
            by_op[b["extra_info"]["op"]][b["extra_info"]["impl"]] = b
    lines = ["| operation | native ns/op | reference ns/op | reference / native | K native / reference | check |",
             "|---|---:|---:|---:|---:|---|"]
    for op, label in OPERATIONS.items():
        impls = by_op.get(op)
        if not impls:
            continue
        nat, ref = impls.get("native"), impls.get("reference")
        n = ns_per_op(nat) if nat else None
        r = ns_per_op(ref) if ref else None
        ratio = f"{r / n:,.0f}×" if n and r else "—"
        ks = " / ".join(str(b["extra_info"]["ops"]) if b else "—" for b in (nat, ref))
        check = "; ".join(q for q in (_quality(nat) if nat else "", ) if q)
        lines.append(f"| {label} | {_fmt_ns(n)} | {_fmt_ns(r)} | {ratio} | {ks} | {check} |")
    return lines


def scaling_table(benches: list[dict[str, Any]]) -> list[str]:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in benches:
        if ours(b) and (b["group"] or "").startswith("scaling-"):
            rows[b["extra_info"]["op"]].append(b)
    if not rows:
        return []
    lines = ["| operation (native) | size → ns/op | growth of ns/op | growth of size |",
             "|---|---|---:|---:|"]
    for op in OPERATIONS:
        if op not in rows:
            continue
        series = sorted(rows[op], key=lambda b: b["extra_info"]["size"])
        kind = series[0]["extra_info"]["size_kind"]
        cells = ", ".join(f"{b['extra_info']['size']:,} → {ns_per_op(b):,.0f}" for b in series)
        growth = ns_per_op(series[-1]) / ns_per_op(series[0])
        size_growth = series[-1]["extra_info"]["size"] / series[0]["extra_info"]["size"]
        lines.append(f"| `{op}` ({kind}) | {cells} | {growth:.2f}× | {size_growth:,.0f}× |")
    return lines


def other_table(benches: list[dict[str, Any]]) -> list[str]:
    """Benchmarks of other suites in the same run (e.g. bench/binding/), as they are."""
    others = [b for b in benches if not ours(b)]
    if not others:
        return []
    lines = ["| benchmark | median per round | ns/op (when it records `ops`) |", "|---|---:|---:|"]
    for b in others:
        ops = b.get("extra_info", {}).get("ops")
        per_op = f"{ns_per_op(b):,.0f}" if ops else "—"
        lines.append(f"| `{b['fullname']}` | {b['stats']['median'] * 1e6:,.1f} µs | {per_op} |")
    return lines


def report(data: dict[str, Any]) -> str:
    benches = data["benchmarks"]
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw") or machine.get("processor") or "?"
    python = f"{machine.get('python_implementation', 'Python')} {machine.get('python_version', '?')}"
    out = [f"ccroute benchmark — {cpu}, {python}, {data.get('datetime', '')[:19]}", "",
           "Median cost of one operation through the Python API (round median / K operations):", ""]
    out += main_table(benches)
    scaling = scaling_table(benches)
    if scaling:
        out += ["", "Scaling (native; the cost of a decision should stay flat as the centre grows):", ""]
        out += scaling
    other = other_table(benches)
    if other:
        out += ["", "Other benchmarks in this run:", ""]
        out += other
    return "\n".join(out)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", help="file written by pytest --benchmark-json")
    args = parser.parse_args(argv)
    with open(args.json, encoding="utf-8") as f:
        data = json.load(f)
    print(report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
