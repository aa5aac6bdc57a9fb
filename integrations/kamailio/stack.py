"""The routing service, Kamailio and the adapter on 127.0.0.1, started and stopped by PID.

Used by the end-to-end test (``tests/test_kamailio_e2e.py``) and the latency benchmark
(``bench/kamailio/``): both run real processes, each in its own directory under one work
directory, on free loopback ports, and stop every one of them by its PID (Kamailio's
worker processes included) whatever happens::

    with Stack(workdir, routing="routing.toml") as stack:
        stack.phone("nn-yue", answer_ms=0)                # a SIPp UAS per agent
        stack.sipp("register.xml", "-inf", csv, "-m", "5").check()
        stack.request({"op": "ready", "agent": "nn-yue"})
        ...

Nothing here stands in for a component: it only starts them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "sipp"
TOOLS = ("kamailio", "sipp")


def missing_tools() -> List[str]:
    """The programs of this stack not on PATH (Debian: kamailio, kamailio-extra-modules,
    kamailio-json-modules, sip-tester)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if "kamailio" not in missing:
        found = _kamailio_modules()
        missing += [f"kamailio module {m}" for m in ("evapi.so", "jansson.so") if found and not (found / m).exists()]
    return missing


def _kamailio_modules() -> Optional[Path]:
    """Kamailio's module directory (the -L default it prints)."""
    try:
        text = subprocess.run(["kamailio", "-h"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in text.splitlines():
        if "Modules search path" in line and "default:" in line:
            return Path(line.split("default:")[1].strip(" )"))
    return None


def free_ports(count: int, kind: int) -> List[int]:
    """``count`` distinct free ports on 127.0.0.1 (``socket.SOCK_DGRAM`` or ``SOCK_STREAM``)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Process:
    """A process this stack started: its command, directory, output files and PID."""

    def __init__(self, name: str, command: Sequence[str], cwd: Path, env: Optional[Dict[str, str]] = None) -> None:
        self.name, self.command, self.cwd = name, [str(c) for c in command], cwd
        cwd.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = cwd / f"{name}.out", cwd / f"{name}.err"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(self.command, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                          env=env)
        self.pid = self.popen.pid

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds, by PID; reaps it."""
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(grace)

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def check(self, timeout: float = 60.0) -> "Process":
        """Waits for it to end and requires exit status 0."""
        status = self.wait(timeout)
        if status != 0:
            raise AssertionError(f"{self.name} exited {status}: {' '.join(self.command)}\n{self.output()[-3000:]}")
        return self

    def files(self, pattern: str) -> List[Path]:
        """Files it wrote in its directory, e.g. SIPp's ``*_<pid>_logs.log``."""
        return sorted(self.cwd.glob(pattern.replace("<pid>", str(self.pid))))


def children_of(pid: int) -> List[int]:
    """PIDs whose parent is ``pid`` (Kamailio's workers), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: the fields after it are fixed.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return found


class Stack:
    """``ccroute serve`` + Kamailio with ``ccroute.cfg`` + the adapter, on free loopback ports."""

    def __init__(self, workdir: Union[str, Path], routing: Union[str, Path] = HERE / "routing.toml",
                 ring_timeout_ms: int = 15000, phone_timeout_ms: int = 4000, queue_timeout_ms: int = 600000,
                 kamailio_children: int = 4, kamailio_shm_mb: int = 128, timing: bool = False,
                 service_log_level: str = "INFO",
                 adapter_log_level: str = "INFO", service_command: Optional[Sequence[str]] = None,
                 adapter_args: Sequence[Any] = ()) -> None:
        self.workdir = Path(workdir)
        self.routing = Path(routing)
        self.ring_timeout_ms, self.phone_timeout_ms, self.queue_timeout_ms = (
            ring_timeout_ms, phone_timeout_ms, queue_timeout_ms)
        self.kamailio_children, self.kamailio_shm_mb, self.timing = kamailio_children, kamailio_shm_mb, timing
        self.service_log_level, self.adapter_log_level = service_log_level, adapter_log_level
        self.adapter_args = [str(a) for a in adapter_args]
        self.service_command = list(service_command) if service_command else [
            sys.executable, "-c", "import sys; from ccroute.cli import main; sys.exit(main())"]
        self.processes: List[Process] = []
        self.kamailio_workers: List[int] = []
        self.service_port, self.evapi_port = free_ports(2, socket.SOCK_STREAM)
        (self.sip_port,) = free_ports(1, socket.SOCK_DGRAM)
        self._client: Optional[socket.socket] = None
        self._client_file: Any = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "Stack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self, timeout: float = 20.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.service = self._start("service", [
            *self.service_command, "serve", "--config", self.routing,
            "--listen", f"127.0.0.1:{self.service_port}", "--log-level", self.service_log_level])
        self._wait_for(lambda: self._connectable(self.service_port), "the service to listen", timeout)
        defines = [f'EVAPI_ADDR="127.0.0.1:{self.evapi_port}"', f"RING_TIMEOUT={self.ring_timeout_ms}",
                   f"PHONE_TIMEOUT={self.phone_timeout_ms}", f"QUEUE_TIMEOUT={self.queue_timeout_ms}"]
        if self.timing:
            defines.append("WITH_TIMING")
        rundir = self.workdir / "kamailio"
        rundir.mkdir(parents=True, exist_ok=True)
        self.kamailio = self._start("kamailio", [
            "kamailio", "-f", HERE / "ccroute.cfg", "-DD", "-E", "-T", "-S", "-n", str(self.kamailio_children),
            "-l", f"udp:127.0.0.1:{self.sip_port}", "-Y", rundir, "-w", rundir,
            "-m", str(self.kamailio_shm_mb), "-M", "16",
            *[arg for define in defines for arg in ("-A", define)]])
        # The adapter retries until evapi listens (a probe connection would look like an adapter to Kamailio).
        self.adapter = self._start("adapter", [
            sys.executable, HERE / "ccroute_kamailio.py", "--service", f"127.0.0.1:{self.service_port}",
            "--kamailio", f"127.0.0.1:{self.evapi_port}", "--log-level", self.adapter_log_level,
            *self.adapter_args])
        # New calls are refused (503) until Kamailio has counted the adapter in (the only
        # evapi client here: nothing probes the evapi port).
        self._wait_for(lambda: "ccroute: adapter connected from" in self.kamailio.output(),
                       "the adapter to connect to Kamailio", timeout)
        self.kamailio_workers = children_of(self.kamailio.pid)

    def _start(self, name: str, command: Sequence[Any], cwd: Optional[Path] = None) -> Process:
        process = Process(name, command, cwd or self.workdir / name)
        self.processes.append(process)
        return process

    def _wait_for(self, condition: Any, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for process in self.processes:
                if not process.running():
                    raise RuntimeError(f"{process.name} exited {process.popen.returncode} while waiting for "
                                       f"{what}:\n{process.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {what}")
            time.sleep(0.05)

    @staticmethod
    def _connectable(port: int) -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        """Stops every process started, last first, by PID; then any Kamailio worker left."""
        if self._client is not None:
            self._client.close()
            self._client = None
        for process in reversed(self.processes):
            process.stop()
        for pid in self.kamailio_workers:
            try:
                os.kill(pid, signal.SIGKILL)  # the main process ends its workers; this is a backstop
            except ProcessLookupError:
                pass

    def leftovers(self) -> List[int]:
        """PIDs started here that still run (none after :meth:`stop`)."""
        alive = [p.pid for p in self.processes if p.running()]
        for pid in self.kamailio_workers:
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
                if state != b"Z":
                    alive.append(pid)
            except OSError:
                pass
        return alive

    # ------------------------------------------------------------------ SIPp

    def sipp(self, scenario: str, *args: Any, name: Optional[str] = None, to_kamailio: bool = True) -> Process:
        """Starts SIPp with a scenario of ``sipp/`` on 127.0.0.1 (a UAC aimed at Kamailio
        unless ``to_kamailio`` is false), in its own directory; traces land there."""
        name = name or f"{Path(scenario).stem}-{len(self.processes)}"
        target = [f"127.0.0.1:{self.sip_port}"] if to_kamailio else []
        return self._start(name, ["sipp", *target, "-sf", SCENARIOS / scenario, "-i", "127.0.0.1", "-nostdin",
                                  *[str(a) for a in args]], cwd=self.workdir / name)

    def phone(self, agent: str, answer_ms: int, *args: Any, port: Optional[int] = None) -> Process:
        """An agent's phone: SIPp UAS running ``agent.xml``, answering after ``answer_ms``."""
        port = port or free_ports(1, socket.SOCK_DGRAM)[0]
        process = self.sipp("agent.xml", "-p", port, "-d", answer_ms, "-trace_logs", "-trace_err", *args,
                            name=f"phone-{agent}", to_kamailio=False)
        process.port = port  # type: ignore[attr-defined]
        return process

    # ------------------------------------------------------------------ the protocol

    def request(self, message: Dict[str, Any]) -> Dict[str, Any]:
        """One request to the service on this stack's own connection; its reply."""
        if self._client is None:
            self._client = socket.create_connection(("127.0.0.1", self.service_port), timeout=10)
            self._client_file = self._client.makefile("rwb")
        self._client_file.write(json.dumps(message).encode() + b"\n")
        self._client_file.flush()
        return json.loads(self._client_file.readline())


def sipp_stats(process: Process) -> Dict[str, str]:
    """The last row of SIPp's ``-trace_stat`` file (cumulative counters such as
    ``SuccessfulCall(C)``, ``FailedCall(C)``, ``OutgoingCall(C)``)."""
    files = process.files("*_<pid>_.csv")
    if not files:
        raise AssertionError(f"{process.name}: no -trace_stat file in {process.cwd}")
    rows = [line.rstrip(";\n").split(";") for line in files[0].read_text().splitlines() if line.strip()]
    return dict(zip(rows[0], rows[-1]))


def sipp_logs(process: Process) -> List[List[str]]:
    """The ``<log>`` lines of a SIPp run with ``-trace_logs``, split on spaces."""
    return [line.split() for path in process.files("*_<pid>_logs.log")
            for line in path.read_text().splitlines() if line.strip()]
