"""Crash test: a switch process killed with SIGKILL at random moments loses nothing it acknowledged.

A child process (tests/crash_child.py) routes a stream of random events with the journal
on, acknowledging each operation once it returned, and snapshotting now and then; the
test kills it with SIGKILL at a random moment, 24 times over all three sync policies.
Each time the router recovered from the last snapshot and the journal must hold every
acknowledged operation, be in the state the same stream gives an uninterrupted router at
that point, and continue identically for a few hundred more events.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ccroute import Router
from crash_child import CONFIG, apply, operations

CHILD = Path(__file__).with_name("crash_child.py")
KILLS = 24


def observe(router):
    return router.calls(), router.agents(), router.stats(), router.next_due


def run_and_kill(tmp: Path, seed: int, sync: str, after: float) -> tuple[int, Path, Path]:
    """Starts the child, SIGKILLs it `after` seconds into its run; returns its last acknowledgement."""
    journal, snapshot = tmp / "router.journal", tmp / "router.snapshot"
    child = subprocess.Popen([sys.executable, str(CHILD), str(journal), str(snapshot), str(seed), sync],
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    acks: list[str] = []
    reader = threading.Thread(target=lambda: acks.extend(child.stdout), daemon=True)  # type: ignore[arg-type]
    try:
        reader.start()
        started = threading.Event()
        while not acks and child.poll() is None:  # time it from its first operation, not its imports
            started.wait(0.01)
        started.wait(after)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        reader.join(timeout=10)
    assert child.returncode == -signal.SIGKILL, "the child died before it was killed"
    return (int(acks[-1]) if acks else -1), journal, snapshot


@pytest.mark.parametrize("kill", range(KILLS))
def test_a_killed_router_recovers_every_acknowledged_event(tmp_path, kill):
    rng = random.Random(kill)
    sync = ["batch", "none", "every"][kill % 3]
    last_ack, journal, snapshot = run_and_kill(tmp_path, seed=kill, sync=sync, after=rng.uniform(0.02, 0.6))
    blob = snapshot.read_bytes() if snapshot.exists() else None
    recovered = Router.recover(CONFIG, str(journal), snapshot=blob)

    # The same stream through a router never interrupted, up to the recovered router's event.
    twin = Router(CONFIG)
    twin_ops = operations(twin, random.Random(kill))
    applied = -1
    while twin.events < recovered.events:
        applied += 1
        apply(twin, *next(twin_ops))
    assert applied >= last_ack, f"acknowledged operation {last_ack} lost (recovered up to {applied})"
    assert observe(recovered) == observe(twin)

    # Both go on alike (the stream reads the twin's state, which is the recovered one's);
    # the recovered router journals again, so it recovers again.
    for _ in range(300):
        name, args, kwargs = next(twin_ops)
        assert apply(recovered, name, args, kwargs) == apply(twin, name, args, kwargs)
    recovered.stop_journal()
    assert observe(Router.recover(CONFIG, str(journal), snapshot=blob)) == observe(twin)
