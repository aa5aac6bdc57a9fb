"""The routing decision round trip through Kamailio: switch -> service -> switch.

    python bench/kamailio/run_bench.py                      # 100, 500 and 2,000 calls/s
    python bench/kamailio/run_bench.py --rates 500 --seconds 20 --json out.json

Real processes on 127.0.0.1 (integrations/kamailio/stack.py): ``ccroute serve``, Kamailio
5.6 with ``ccroute.cfg -A WITH_TIMING``, the adapter (``--timing``), one SIPp UAS answering
for every agent (each agent registered to it) and one SIPp UAC placing calls at a fixed
rate; each call is answered at once and hung up at once, so that agents are always free
and every call is offered on arrival: what is measured is the decision, not a queue.

For each call Kamailio logs when the INVITE entered its request route (t0) and when the
INVITE to the offered agent left (t1, after ``t_relay``); t1 - t0 is the round trip. The
same load is also sent through Kamailio alone (the peer, in the same run and the same
Kamailio: an ``X-CC-Direct`` header makes it relay the INVITE at once to a registered
agent), so the table shows what the routing service adds. The adapter's timestamps split
the round trip into legs (Kamailio in, adapter, service, adapter, Kamailio out), and the
CPU each process used during the run shows which one runs out first.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
KAMAILIO = ROOT / "integrations" / "kamailio"
_spec = importlib.util.spec_from_file_location("ccroute_kamailio_stack", KAMAILIO / "stack.py")
stack = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stack)  # type: ignore[union-attr]

TIMING = re.compile(r"ccr-timing(-direct)? call=(\S+) t0=(\d+\.\d+) t1=(\d+\.\d+)")
TICKS = os.sysconf("SC_CLK_TCK")


def routing_file(path: Path, agents: int) -> None:
    """One plan admitting every agent, no wrap-up: every call is offered on arrival."""
    lines = ['[routing]', 'sites = ["centre"]', '', '[[routing.plans]]', 'name = "bench"', 'wrapup = 0.0',
             'steps = [{ after = 0, require = { card = 1 } }]', '']
    for n in range(agents):
        lines += ['[[service.agents]]', f'agent = "b{n:05d}"', 'site = "centre"', 'skills = { card = 5 }',
                  'ready = true', '']
    path.write_text("\n".join(lines))


def direct_scenario(path: Path) -> None:
    """caller.xml with an X-CC-Direct header: the peer's calls."""
    text = (KAMAILIO / "sipp" / "caller.xml").read_text()
    plan = "      X-CC-Plan: [field1]\n"
    path.write_text(text.replace(plan, "      X-CC-Direct: b00000\n" + plan, 1))


def cpu_seconds(pids: List[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError):
            pass
    return total / TICKS


def listener_pid(port: int, pids: List[int]) -> Optional[int]:
    """Which of ``pids`` holds the TCP socket listening on ``port`` (Kamailio's evapi
    dispatcher: the one process every offer and event goes through)."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
        except OSError:
            continue
    return None


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(values: List[float]) -> Dict[str, float]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_ms": percentile(values, 0.5) * 1e3, "p99_ms": percentile(values, 0.99) * 1e3,
            "max_ms": max(values) * 1e3, "mean_ms": statistics.fmean(values) * 1e3}


def run(rates: List[int], seconds: float, agents: int, workdir: Path, warmup: float) -> Dict[str, Any]:
    routing_file(workdir / "bench.toml", agents)
    direct_scenario(workdir / "caller_direct.xml")
    (workdir / "callers.csv").write_text("SEQUENTIAL\n" + "".join(f"b{n};bench;;;0;0;0\n" for n in range(100)))
    (workdir / "agents.csv").write_text(
        "SEQUENTIAL\n" + "".join(f"b{n:05d};127.0.0.1;{{port}}\n" for n in range(agents)))
    results: Dict[str, Any] = {"rates": {}, "agents": agents, "seconds": seconds}
    timing_path = workdir / "adapter-timing.txt"
    # Shared memory: a call holds ~35 KB until tm's wait timer (5 s) after it ends.
    rig = stack.Stack(workdir / "run", routing=workdir / "bench.toml", timing=True, adapter_log_level="WARNING",
                      service_log_level="INFO", adapter_args=["--timing", timing_path],
                      kamailio_shm_mb=max(128, int(0.25 * max(rates)) + 64))
    try:
        rig.start()
        phone_port = stack.free_ports(1, stack.socket.SOCK_DGRAM)[0]
        phone = rig.sipp("agent.xml", "-p", phone_port, "-d", "0", "-l", "100000", name="phones", to_kamailio=False)
        csv = workdir / "agents-registered.csv"
        csv.write_text((workdir / "agents.csv").read_text().replace("{port}", str(phone_port)))
        rig.sipp("register.xml", "-inf", csv, "-m", agents, "-r", "500", "-timeout", "30s", "-timeout_error",
                 name="register").check(60)
        kamailio_pids = [rig.kamailio.pid, *rig.kamailio_workers]
        dispatcher = listener_pid(rig.evapi_port, kamailio_pids)
        groups = {"kamailio": kamailio_pids, "dispatcher": [dispatcher] if dispatcher else [],
                  "adapter": [rig.adapter.pid], "service": [rig.service.pid], "sipp": [phone.pid]}
        for rate in rates:
            for path, scenario in (("kamailio alone", workdir / "caller_direct.xml"),
                                   ("through ccroute", KAMAILIO / "sipp" / "caller.xml")):
                calls = int(rate * (seconds + warmup))
                log_from = len(rig.kamailio.output())
                before = {g: cpu_seconds(p) for g, p in groups.items()}
                before["sipp"] += children_cpu()
                began = time.time()
                uac = rig.sipp(scenario, "-inf", workdir / "callers.csv", "-m", calls, "-r", rate, "-l", "100000",
                               "-trace_stat", "-fd", "1", "-recv_timeout", "20000", "-timeout", f"{seconds * 4 + 60}s",
                               name=f"uac-{rate}-{'direct' if 'alone' in path else 'ccroute'}")
                uac.wait(seconds * 4 + 90)
                wall = time.time() - began
                after = {g: cpu_seconds(p) for g, p in groups.items()}
                after["sipp"] += children_cpu()  # the UAC, reaped by now: its CPU is in our children's
                stats = stack.sipp_stats(uac)
                # Drop the warm-up: calls whose INVITE entered before it ended.
                timed = [(float(m[3]), float(m[4]) - float(m[3]), m[2])
                         for m in TIMING.finditer(rig.kamailio.output()[log_from:])]
                cut = began + warmup
                latencies = [d for t0, d, _ in timed if t0 >= cut]
                calls_timed = {cid for t0, _, cid in timed if t0 >= cut}
                results["rates"].setdefault(str(rate), {})[path] = {
                    "calls": int(stats.get("OutgoingCall(C)", 0)), "failed": int(stats.get("FailedCall(C)", 0)),
                    "successful": int(stats.get("SuccessfulCall(C)", 0)), "wall_s": wall,
                    "round_trip": summary(latencies), "call_ids": sorted(calls_timed) if "ccroute" in path else None,
                    "cpu_percent": {g: 100 * (after[g] - before[g]) / wall for g in groups},
                    "cpu_us_per_call": {g: 1e6 * (after[g] - before[g]) / max(1, calls) for g in groups},
                    "load_average": os.getloadavg()[0]}
                time.sleep(1.0)
    finally:
        rig.stop()
    # The legs of the ccroute path, from the adapter's timestamps.
    legs: Dict[str, List[float]] = {}
    kamailio_times = {m[2]: (float(m[3]), float(m[4])) for m in TIMING.finditer(rig.kamailio.output()) if not m[1]}
    adapter_times = {}
    if timing_path.exists():
        for line in timing_path.read_text().splitlines():
            cid, *stamps = line.split()
            adapter_times[cid] = [float(s) for s in stamps]
    for rate, paths in results["rates"].items():
        through = paths["through ccroute"]
        rows = {"kamailio in": [], "adapter in": [], "service": [], "adapter out": [], "kamailio out": []}
        for cid in through.pop("call_ids") or []:
            if cid in adapter_times and cid in kamailio_times:
                t0, t1 = kamailio_times[cid]
                event_in, arrive_out, offer_in, offer_out = adapter_times[cid]
                rows["kamailio in"].append(event_in - t0)
                rows["adapter in"].append(arrive_out - event_in)
                rows["service"].append(offer_in - arrive_out)
                rows["adapter out"].append(offer_out - offer_in)
                rows["kamailio out"].append(t1 - offer_out)
        through["legs"] = {leg: summary(values) for leg, values in rows.items()}
        paths["kamailio alone"].pop("call_ids", None)
    return results


def table(results: Dict[str, Any]) -> str:
    lines = ["| calls/s | path | calls (failed) | p50 | p99 | max | CPU µs per call: Kamailio (its evapi "
             "process) / adapter / service / SIPp | load |", "|---:|---|---:|---:|---:|---:|---|---:|"]
    for rate, paths in results["rates"].items():
        for path, r in paths.items():
            rt, cpu = r["round_trip"], r["cpu_us_per_call"]
            cpu_text = f"{cpu['kamailio']:.0f} ({cpu['dispatcher']:.0f}) / " + " / ".join(
                f"{cpu[g]:.0f}" for g in ("adapter", "service", "sipp"))
            if not rt.get("n"):
                lines.append(f"| {int(rate):,} | {path} | {r['calls']:,} ({r['failed']:,}) | – | – | – | "
                             f"{cpu_text} | {r['load_average']:.1f} |")
                continue
            lines.append(f"| {int(rate):,} | {path} | {r['calls']:,} ({r['failed']:,}) | {rt['p50_ms']:.2f} ms | "
                         f"{rt['p99_ms']:.2f} ms | {rt['max_ms']:.1f} ms | {cpu_text} | {r['load_average']:.1f} |")
    lines += ["", "| calls/s | Kamailio in | adapter | service (protocol + decision) | adapter | Kamailio out |",
              "|---:|---:|---:|---:|---:|---:|"]
    for rate, paths in results["rates"].items():
        legs = paths["through ccroute"].get("legs", {})
        cells = [f"{legs[leg]['p50_ms']:.3f} / {legs[leg]['p99_ms']:.3f}" if legs.get(leg, {}).get("n") else "–"
                 for leg in ("kamailio in", "adapter in", "service", "adapter out", "kamailio out")]
        lines.append(f"| {int(rate):,} | " + " | ".join(cells) + " |")
    lines.append("(legs: p50 / p99 in ms)")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per rate and path")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of calls not measured first")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--workdir", type=Path, help="keep the processes' files here (default: a temporary one)")
    args = parser.parse_args(argv)
    missing = stack.missing_tools()
    if missing:
        print(f"needs {', '.join(missing)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ccroute-bench-kamailio-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        results = run(args.rates, args.seconds, args.agents, workdir, args.warmup)
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
