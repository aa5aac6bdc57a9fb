"""``ccroute serve`` as a real process: a Unix socket with the real clock, TCP with a manual
clock and the Prometheus endpoint, SIGTERM and SIGINT shutdowns, configuration errors.

Each test starts the service by its PID and stops it in a ``finally`` (SIGKILL by PID if it
did not stop), and logs go to a file in the test's tmp_path, read back to find the
addresses it bound. About 5 s (``python -m pytest tests/test_service_cli.py``).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from ccroute.cli import main
from conftest import NATIVE_MISSING, NativeRouter
from service_client import TIMEOUT, Client, first_line_with, offers_of

pytestmark = pytest.mark.skipif(NativeRouter is None, reason=str(NATIVE_MISSING))

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CENTRE = """
[routing]
sites = ["north", "south"]
offer_timeout = 2.0
[[routing.plans]]
name = "card"
wrapup = 0.2
steps = [{ after = 0, require = { card = 5 } }, { after = 0.2, require = { card = 1 } }]

[[service.agents]]
agent = "a1"
site = "north"
skills = { card = 3 }
ready = true

[[service.agents]]
agent = 2
site = "south"
skills = { card = 7 }
"""


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ccroute.cli", "serve", *args]


@contextmanager
def service_process(tmp_path: Path, *args: str):
    """``ccroute serve ARGS``, logging to tmp_path/serve.log; yields (process, log path)."""
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(serve_command(*args), stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.kill()  # by its PID: the test failed before stopping it
        process.wait(TIMEOUT)


def bound(log: Path, process: subprocess.Popen, what: str) -> str:
    line = first_line_with(log, what, time.monotonic() + TIMEOUT)
    assert line is not None, f"no {what!r} in the log (exit code {process.poll()}): {log.read_text()}"
    return line.split(what, 1)[1].split()[0]


def stop(process: subprocess.Popen, signum: int) -> int:
    process.send_signal(signum)
    return process.wait(TIMEOUT)


def test_serve_on_a_unix_socket_with_the_real_clock_and_stop_on_sigterm(tmp_path):
    config, path = tmp_path / "centre.toml", tmp_path / "ccroute.sock"
    config.write_text(CENTRE)
    with service_process(tmp_path, "--config", str(config), "--listen", f"unix:{path}") as (process, log):
        assert bound(log, process, "listening on ") == f"unix:{path}"
        with Client(f"unix:{path}") as watcher, Client(f"unix:{path}") as switch:
            watcher.request("subscribe")
            assert switch.request("arrive", call="c1", plan="card")["offers"] == []  # a1 holds card at 3 only
            escalated = watcher.event()  # 0.2 s later the second step admits a1: pushed by the timer
            assert (escalated["call"], escalated["agent"]) == ("c1", "a1")
            assert switch.request("accept", call="c1", agent="a1")["ok"]
            switch.request("arrive", call="c2", plan="card")
            assert switch.request("hangup", call="c1")["ok"]  # a1 wraps up for 0.2 s
            after_wrapup = watcher.event()  # then is ready again and takes c2, by itself
            assert (after_wrapup["call"], after_wrapup["agent"]) == ("c2", "a1")
            assert after_wrapup["time"] >= escalated["time"] + 0.2
            switch.request("ready", agent=2)
            unanswered = watcher.event()  # a1 does not answer: after 2 s the call goes to agent 2
            assert (unanswered["call"], unanswered["agent"], unanswered["time"]) == \
                ("c2", 2, after_wrapup["time"] + 2.0)
            stats = switch.request("stats")["stats"]["card"]
            assert (stats["arrived"], stats["answered"]) == (2, 1)
        assert stop(process, signal.SIGTERM) == 0
    text = log.read_text()
    assert not path.exists(), "the socket file outlived the service"
    assert "SIGTERM: stopping" in text and re.search(r"stopped: \d+ requests answered, 3 offers made", text)
    assert "offer call=c1 agent=a1" in text and "plan=card step=1" in text and "offer call=c2 agent=2" in text


def test_serve_on_tcp_with_a_manual_clock_and_metrics_and_stop_on_sigint(tmp_path):
    args = ["--config", str(EXAMPLES / "bank_day.toml"), "--listen", "127.0.0.1:0", "--manual-clock",
            "--metrics", "127.0.0.1:0"]
    with service_process(tmp_path, *args) as (process, log):
        address = bound(log, process, "listening on ")
        metrics = bound(log, process, "metrics on ")
        with Client(address) as switch:
            assert switch.request("add_agent", agent="a1", site="nanning", skills={"card": 7, "lang:yue": 9},
                                  now=0)["ok"]
            assert switch.request("ready", agent="a1", now=0)["ok"]
            reply = switch.request("arrive", call="c1", plan="card", region="guangdong", language="lang:yue",
                                   value=0.5, now=1)
            assert offers_of(reply) == [("c1", "a1", 1)]
            assert switch.request("arrive", call="c1", plan="card", now=2)["error"] == "DuplicateIdError"
            assert switch.request("stats")["error"] == "BadRequest"  # a manual clock needs now
            with urllib.request.urlopen(metrics, timeout=TIMEOUT) as response:
                assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = response.read().decode()
        assert 'ccroute_requests_total{op="arrive",outcome="ok"} 1' in text
        assert 'ccroute_requests_total{op="arrive",outcome="DuplicateIdError"} 1' in text
        assert 'ccroute_requests_total{op="stats",outcome="BadRequest"} 1' in text
        assert 'ccroute_plan_arrived_total{plan="card"} 1' in text and "ccroute_offers_total 1" in text
        assert stop(process, signal.SIGINT) == 0
    assert "SIGINT: stopping" in log.read_text()


def test_requests_read_before_sigterm_are_answered_then_the_connection_closes(tmp_path):
    path = tmp_path / "s.sock"
    args = ["--config", str(EXAMPLES / "bank_day.toml"), "--listen", f"unix:{path}", "--manual-clock"]
    with service_process(tmp_path, *args) as (process, log):
        bound(log, process, "listening on ")
        with Client(f"unix:{path}") as client:
            client.send(b"".join(json.dumps({"id": n, "op": "stats", "now": n}).encode() + b"\n" for n in range(200)))
            assert client.reply()["id"] == 0  # the service is reading them
            process.send_signal(signal.SIGTERM)
            answered = [0]
            while (line := client.reader.readline()).endswith(b"\n"):
                answered.append(json.loads(line)["id"])
            assert line == b""  # then a clean end of stream, no torn reply
        assert process.wait(TIMEOUT) == 0
    assert answered == list(range(len(answered)))  # every line read was answered, in order


@pytest.mark.parametrize("content, listen, message", [
    ("[other]\nx = 1\n", "127.0.0.1:0", "no [routing] table"),
    ('[routing]\nsites = ["s"]\n', "127.0.0.1:0", "[routing] lacks 'plans'"),
    ('[routing]\nsites = ["s"]\nplans = [{name = "p", colour = 1}]\n', "127.0.0.1:0", "colour"),
    ('[routing]\nsites = ["s"]\nplans = [{name = "p"}]\n', "localhost", "HOST:PORT or unix:PATH"),
    ('[routing]\nsites = ["s"]\nplans = [{name = "p"}]\n[[service.agents]]\nagent = "a"\nsite = "t"\nskills = {}\n',
     "127.0.0.1:0", "[[service.agents]] #1: UnknownIdError"),
    ('[routing]\nsites = ["s"]\nplans = [{name = "p"}]\n[[service.agents]]\nagent = 1.5\nsite = "s"\nskills = {}\n',
     "127.0.0.1:0", "agent must be a string or an integer"),
    ('[routing]\nsites = ["s"]\nplans = [{name = "p"}]\n[service]\nagent = 1\n', "127.0.0.1:0", "[service] may only"),
    ("[routing\n", "127.0.0.1:0", "centre.toml"),
    ('[routing]\nsites = ["s"]\nplans = [{name = "p"}]\n', "unix:", "HOST:PORT or unix:PATH"),
    ('[routing]\nsites = ["s"]\nplans = [{name = "p"}]\n', "127.0.0.1:99999", "HOST:PORT or unix:PATH"),
])
def test_a_bad_configuration_or_address_exits_2_naming_it(tmp_path, capsys, content, listen, message):
    config = tmp_path / "centre.toml"
    config.write_text(content)
    assert main(["serve", "--config", str(config), "--listen", listen]) == 2
    assert message in capsys.readouterr().err


def test_the_real_command_exits_2_on_a_file_without_routing(tmp_path):
    config = tmp_path / "centre.toml"
    config.write_text("[other]\nx = 1\n")
    result = subprocess.run(serve_command("--config", str(config), "--listen", "127.0.0.1:0"),
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2 and "no [routing] table" in result.stderr, result.stderr


def test_the_load_client_of_the_latency_bench_runs_a_real_service_without_a_refusal(tmp_path):
    """bench/service/load.py (the README's latency figures) at a low rate: a smoke test of
    the client and of the call flow it drives, not a timing (none is asserted)."""
    out = tmp_path / "load.json"
    subprocess.run([sys.executable, str(EXAMPLES.parent / "bench" / "service" / "load.py"), "--rates", "40",
                    "--seconds", "2", "--warmup", "0.5", "--talk", "0.5", "--json", str(out)],
                   timeout=120, check=True, capture_output=True)
    run = json.loads(out.read_text())["runs"][0]
    assert run["exit_code"] == 0 and run["errors"] == {} and run["unanswered_requests"] == 0
    assert run["arrivals"] > 0 and run["rtt_us"]["arrive"]["n"] == run["arrivals"] and run["answered"] > 0
    assert run["rtt_us"]["hangup"]["n"] > 0  # calls went the whole way: arrive, accept, hang-up
    assert sum(plan["arrived"] for plan in run["stats"].values()) >= run["arrivals"]


def test_a_metrics_port_in_use_exits_2_and_leaves_no_socket_file(tmp_path, capsys):
    path = tmp_path / "s.sock"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--config", str(EXAMPLES / "bank_day.toml"), "--listen", f"unix:{path}",
                     "--metrics", f"127.0.0.1:{port}"])
    assert code == 2 and "address already in use" in capsys.readouterr().err.lower()
    assert not path.exists()
