"""Load client for the routing service: a switch's calls at a paced, open-loop rate.

Each run starts ``ccroute serve`` (real clock, INFO decision log to a file) as its own
process, adds enough agents (the teams of the config's scenario, in proportion) that
calls are mostly offered at once, then drives calls through the protocol as a switch
with several worker processes would: ``arrive`` → (the offer, in the reply or pushed to a
subscriber connection) → ``accept`` after the ring time → ``hangup`` after the talk
time; the agent wraps up and goes ready by the service's own timer, which may hand it a
waiting call (pushed to the subscriber). Arrivals are Poisson at the target rate and are
sent on schedule whether or not earlier replies came back (open loop), so a slow service
shows as latency, not as a lower rate.

Every request's round trip is measured from just before its write to the read that
brought its reply (``perf_counter_ns``, in this process). Only requests sent after the
warm-up count. The decision round trip is ``arrive``'s. With ``--peer`` each rate also
runs against ``floor.py`` (a bare asyncio JSON-lines server answering at once) with the
same flow: the ratio is what routing costs over the protocol's own floor.

    python bench/service/load.py --rates 100 500 2000 --peer --json bench/service/results.json
    python bench/service/report.py bench/service/results.json

``--connect ADDR`` drives a service already running (the Kamailio/SIPp bench reuses this
client that way); then nothing is started or stopped, and service CPU is not measured
unless ``--service-pid`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[2]
FLOOR = Path(__file__).resolve().parent / "floor.py"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------- the centre

@dataclass
class Centre:
    """Who calls and who answers: from a scenario file's demand mix and agent teams."""

    plans: list[tuple[str, float, list[tuple[Optional[str], Optional[str], float]], tuple[float, float]]]
    teams: list[tuple[str, dict[str, int], float]]  # (site, skills, share of the agents)

    @classmethod
    def load(cls, path: Path) -> "Centre":
        from ccroute.sim import Scenario

        scenario = Scenario.load(path)
        plans = [(d.plan, sum(d.rates), [(c.region, c.language, c.weight) for c in d.callers], d.value)
                 for d in scenario.demand]
        teams: dict[tuple[str, tuple], float] = collections.Counter()
        for group in scenario.agents:
            teams[group.site, tuple(sorted(group.skills.items()))] += group.count
        total = sum(teams.values())
        return cls(plans, [(site, dict(skills), n / total) for (site, skills), n in teams.items()])

    def agents(self, count: int) -> list[tuple[str, dict[str, int]]]:
        """``count`` agents spread over the teams by their shares (largest remainders)."""
        exact = [share * count for _, _, share in self.teams]
        sizes = [math.floor(x) for x in exact]
        for k in sorted(range(len(exact)), key=lambda k: sizes[k] - exact[k])[:count - sum(sizes)]:
            sizes[k] += 1
        return [(site, skills) for (site, skills, _), n in zip(self.teams, sizes) for _ in range(n)]

    def caller(self, rng: random.Random) -> dict[str, Any]:
        plan, _, callers, (low, high) = rng.choices(self.plans, weights=[p[1] for p in self.plans])[0]
        region, language, _ = rng.choices(callers, weights=[c[2] for c in callers])[0]
        fields: dict[str, Any] = {"plan": plan, "value": round(rng.uniform(low, high), 3)}
        if region is not None:
            fields["region"] = region
        if language is not None:
            fields["language"] = language
        return fields


# ----------------------------------------------------------------------- connections

class Worker(asyncio.Protocol):
    """One switch worker's connection: requests pipelined, replies matched in order."""

    def __init__(self, on_line: Callable[[Any, dict, int, int], None]) -> None:
        self.on_line = on_line
        self.pending: collections.deque = collections.deque()
        self.rest = b""
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self, context: Any, request: dict[str, Any]) -> None:
        if self.transport.is_closing():  # a hang-up still scheduled when the run ended
            return
        self.pending.append((context, time.perf_counter_ns()))
        self.transport.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")

    def data_received(self, data: bytes) -> None:
        received = time.perf_counter_ns()
        *lines, self.rest = (self.rest + data).split(b"\n")
        for line in lines:
            message = json.loads(line)
            if "event" in message:
                self.on_line(None, message, 0, received)
                continue
            context, sent = self.pending.popleft()
            self.on_line(context, message, sent, received)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)


async def connect(address: str, on_line: Callable[[Any, dict, int, int], None]) -> Worker:
    loop = asyncio.get_running_loop()
    if address.startswith("unix:"):
        _, worker = await loop.create_unix_connection(lambda: Worker(on_line), address[5:])
    else:
        host, _, port = address.rpartition(":")
        _, worker = await loop.create_connection(lambda: Worker(on_line), host.strip("[]"), int(port))
    return worker


# ----------------------------------------------------------------------- one run

@dataclass
class Run:
    """Calls at ``rate`` per second for ``seconds`` against ``address``."""

    address: str
    centre: Centre
    rate: float
    seconds: float
    warmup: float
    workers: int
    agents: int
    ring: float
    talk: float
    wrapup: float
    seed: int
    service_pid: Optional[int] = None
    rtt: dict[str, list[int]] = field(default_factory=lambda: collections.defaultdict(list))
    errors: collections.Counter = field(default_factory=collections.Counter)
    lateness: list[float] = field(default_factory=list)
    arrivals: int = 0
    offered_at_once: int = 0
    answered: int = 0

    async def go(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        rng = random.Random(self.seed)
        self.connections = [await connect(self.address, self.on_line) for _ in range(self.workers)]
        watcher = await connect(self.address, self.on_line)
        self.offers: dict[Any, tuple] = {}  # call -> the offer being rung
        self.window = (math.inf, math.inf)  # perf_counter_ns span whose requests count

        # Agents: added and made ready, pipelined over the workers; wait for every reply.
        self.setup_left = 1
        self.setup_done = loop.create_future()
        watcher.send(("setup", None), {"op": "subscribe"})
        for n, (site, skills) in enumerate(self.centre.agents(self.agents)):
            worker = self.connections[n % self.workers]
            self.setup_left += 2
            worker.send(("setup", None), {"op": "add_agent", "agent": f"a{n}", "site": site, "skills": skills,
                                          "wrapup": self.wrapup})
            worker.send(("setup", None), {"op": "ready", "agent": f"a{n}"})
        await asyncio.wait_for(self.setup_done, 120)

        # Poisson arrivals, scheduled up front on the loop's clock (open loop).
        self.talk_rng = random.Random(self.seed + 1)
        start = loop.time() + 0.2
        t, n = 0.0, 0
        while True:
            t += rng.expovariate(self.rate)
            if t >= self.seconds:
                break
            loop.call_at(start + t, self.arrive, n, start + t, self.centre.caller(rng))
            n += 1
        ns_start = time.perf_counter_ns() + int((start - loop.time()) * 1e9)
        self.window = (ns_start + int(self.warmup * 1e9), ns_start + int(self.seconds * 1e9))
        await asyncio.sleep(start + self.warmup - loop.time())
        cpu0 = (time.process_time(), service_cpu(self.service_pid), time.perf_counter())
        await asyncio.sleep(start + self.seconds - loop.time())
        cpu1 = (time.process_time(), service_cpu(self.service_pid), time.perf_counter())
        # Let the replies to the window's requests come in (they are counted only if they do).
        deadline = loop.time() + 5.0
        while any(w.pending for w in self.connections) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        unanswered = sum(len(w.pending) for w in self.connections)
        stats = await self.request_once({"op": "stats"})
        for w in [*self.connections, watcher]:
            w.transport.close()
        wall = cpu1[2] - cpu0[2]
        measured = self.seconds - self.warmup
        return {
            "rate": self.rate, "seconds": measured, "agents": self.agents, "workers": self.workers,
            "arrivals": self.arrivals, "achieved_rate": self.arrivals / measured,
            "requests": sum(len(v) for v in self.rtt.values()),
            "offered_at_once": self.offered_at_once / self.arrivals if self.arrivals else None,
            "answered": self.answered, "unanswered_requests": unanswered, "errors": dict(self.errors),
            "rtt_us": {kind: summary(values) for kind, values in sorted(self.rtt.items())},
            "all_us": summary([v for values in self.rtt.values() for v in values]),
            "lateness_ms": {"p50": percentile(sorted(self.lateness), 50) * 1e3,
                            "p99": percentile(sorted(self.lateness), 99) * 1e3} if self.lateness else None,
            "client_cpu": (cpu1[0] - cpu0[0]) / wall,
            "service_cpu": (cpu1[1] - cpu0[1]) / wall if cpu0[1] is not None and cpu1[1] is not None else None,
            "stats": stats.get("stats"),
        }

    async def request_once(self, request: dict[str, Any]) -> dict[str, Any]:
        future = asyncio.get_running_loop().create_future()
        self.connections[0].send(("once", future), request)
        return await asyncio.wait_for(future, 10)

    def counted(self, sent: int) -> bool:
        return self.window[0] <= sent < self.window[1]

    # -- the call flow

    def arrive(self, n: int, due: float, caller: dict[str, Any]) -> None:
        call = f"c{n}"
        sent = time.perf_counter_ns()
        if self.counted(sent):
            self.arrivals += 1
            self.lateness.append(asyncio.get_running_loop().time() - due)
        self.worker(n).send(("arrive", call), {"op": "arrive", "call": call, **caller})

    def accept(self, call: str, agent: Any) -> None:
        self.worker(int(call[1:])).send(("accept", call), {"op": "accept", "call": call, "agent": agent})

    def hangup(self, call: str) -> None:
        self.worker(int(call[1:])).send(("hangup", call), {"op": "hangup", "call": call})

    def worker(self, n: int) -> Worker:
        return self.connections[n % self.workers]  # a call's requests from one worker, as a dialog would

    def on_line(self, context: Any, message: dict[str, Any], sent: int, received: int) -> None:
        if context is None:  # an offer event pushed to the subscriber
            self.offer(message)
            return
        kind, call = context
        if kind == "setup":
            if not message["ok"]:
                raise SystemExit(f"setup refused: {message}")
            self.setup_left -= 1
            if self.setup_left == 0:
                self.setup_done.set_result(None)
            return
        if kind == "once":
            call.set_result(message)
            return
        counted = self.counted(sent)
        if counted:
            self.rtt[kind].append(received - sent)
        if not message["ok"]:
            self.errors[f"{kind}: {message['error']}"] += 1
        offers = message.get("offers", ())
        for offer in offers:
            self.offer(offer)
        if kind == "arrive" and counted and any(o["call"] == call for o in offers):
            self.offered_at_once += 1
        elif kind == "accept" and message["ok"]:
            self.answered += counted
            asyncio.get_running_loop().call_later(self.talk_rng.expovariate(1 / self.talk), self.hangup, call)

    def offer(self, offer: dict[str, Any]) -> None:
        """An offer, from a reply or the subscriber (the same offer comes both ways): ring, then answer."""
        key = (offer["agent"], offer["time"])
        if self.offers.get(offer["call"]) == key:
            return
        self.offers[offer["call"]] = key
        asyncio.get_running_loop().call_later(self.ring, self.accept, offer["call"], offer["agent"])


def summary(values: list[int]) -> Optional[dict[str, float]]:
    if not values:
        return None
    values = sorted(values)
    return {"n": len(values), "p50": percentile(values, 50) / 1e3, "p99": percentile(values, 99) / 1e3,
            "max": values[-1] / 1e3}


def percentile(values: list, q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return values[max(0, math.ceil(q / 100 * len(values)) - 1)]


def service_cpu(pid: Optional[int]) -> Optional[float]:
    """CPU seconds (user + system) the process has used so far."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


# ----------------------------------------------------------------------- processes

class Server:
    """A server process (``ccroute serve`` or the floor) on an ephemeral port, stopped by its PID."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if "listening on " in text:
                self.address = text.split("listening on ", 1)[1].split()[0]
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise SystemExit(f"{command[:4]} did not start: {log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    import ccroute
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "implementation": ccroute.IMPLEMENTATION, "ccroute": ccroute.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[100, 500, 2000], help="calls per second")
    parser.add_argument("--seconds", type=float, default=13.0, help="arrivals per run (warm-up included)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before requests count")
    parser.add_argument("--workers", type=int, default=4, help="request connections (a switch's worker processes)")
    parser.add_argument("--ring", type=float, default=0.5, help="seconds from offer to accept")
    parser.add_argument("--talk", type=float, default=2.0, help="mean talk seconds (exponential)")
    parser.add_argument("--wrapup", type=float, default=1.0, help="agents' wrap-up seconds")
    parser.add_argument("--occupancy", type=float, default=0.5, help="agents = rate × busy seconds / occupancy")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "bank_day.toml",
                        help="scenario TOML: the service's [routing], and the callers and teams to imitate")
    parser.add_argument("--listen", default="127.0.0.1:0", help="where the started service listens")
    parser.add_argument("--log-level", default="INFO", help="of the started service (INFO: a line per offer)")
    parser.add_argument("--connect", help="drive a service already running there instead of starting one")
    parser.add_argument("--service-pid", type=int, help="with --connect: its PID, to measure its CPU")
    parser.add_argument("--peer", action="store_true", help="also run each rate against floor.py")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    centre = Centre.load(args.config)
    busy = args.ring + args.talk + args.wrapup
    results: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv), "runs": []}
    logs = Path(tempfile.mkdtemp(prefix="ccroute-load-"))
    for rate in args.rates:
        targets = [("service", None)] + ([("floor", None)] if args.peer and not args.connect else [])
        for target, _ in targets:
            server = None
            if args.connect:
                address, pid = args.connect, args.service_pid
            else:
                command = ([sys.executable, "-m", "ccroute.cli", "serve", "--config", str(args.config),
                            "--listen", args.listen, "--log-level", args.log_level] if target == "service"
                           else [sys.executable, str(FLOOR), "--listen", "127.0.0.1:0"])
                server = Server(command, logs / f"{target}-{rate:g}.log")
                address, pid = server.address, server.process.pid
            run = Run(address, centre, rate, args.seconds, args.warmup, args.workers,
                      agents=math.ceil(rate * busy / args.occupancy), ring=args.ring, talk=args.talk,
                      wrapup=args.wrapup, seed=args.seed, service_pid=pid)
            load_before = os.getloadavg()[0]
            try:
                result = asyncio.run(run.go())
            finally:
                code = server.stop() if server is not None else None
            result.update(target=target, exit_code=code, log=str(server.log) if server else None,
                          load_average=(load_before, os.getloadavg()[0]))  # other work on the machine
            results["runs"].append(result)
            arrive = result["rtt_us"].get("arrive") or {}
            print(f"{target:7} {rate:6g}/s: achieved {result['achieved_rate']:.0f}/s, arrive p50 "
                  f"{arrive.get('p50', math.nan):.0f} µs p99 {arrive.get('p99', math.nan):.0f} µs max "
                  f"{arrive.get('max', math.nan):.0f} µs; offered at once {result['offered_at_once'] or 0:.1%}; "
                  f"CPU service {result['service_cpu'] or 0:.0%} client {result['client_cpu']:.0%}; "
                  f"errors {result['errors'] or 'none'}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
