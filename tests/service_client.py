"""Test harness for the routing service: a service on an event loop in a background thread,
and a blocking line-protocol client with a time limit on every read.

The service runs as it does in ``ccroute serve`` (asyncio, real sockets), while the test
talks to it from the main thread like a switch would. Every wait is bounded by TIMEOUT.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from ccroute.service import RoutingService

TIMEOUT = 10.0
"""Seconds any single wait on the service may take before the test fails."""


class LoopThread:
    """An asyncio loop running in a daemon thread; the service lives on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="service-loop", daemon=True)
        self.thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(TIMEOUT)

    def call(self, function: Any, *args: Any) -> Any:
        """``function(*args)`` on the loop's thread (the service is not thread-safe)."""
        async def call() -> Any:
            return function(*args)
        return self.run(call())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()


@contextmanager
def serving(loop: LoopThread, router: Any, manual_clock: bool = True, listen: str = "127.0.0.1:0",
            **options: Any) -> Iterator[tuple[RoutingService, str]]:
    """A service for ``router`` listening on ``listen``; yields it and its address, stops it after."""
    service = RoutingService(router, manual_clock=manual_clock, **options)
    address = loop.run(service.start(listen))[0]
    try:
        yield service, address
    finally:
        loop.call(service.stop)
        loop.run(service.closed())


class Client:
    """One connection speaking the protocol; events pushed to it are kept in ``events``."""

    def __init__(self, address: str) -> None:
        if address.startswith("unix:"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(TIMEOUT)
            self.sock.connect(address[5:])
        else:
            host, _, port = address.rpartition(":")
            self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=TIMEOUT)
        self.reader = self.sock.makefile("rb")
        self.events: list[dict[str, Any]] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> dict[str, Any]:
        raw = self.reader.readline()
        if not raw.endswith(b"\n"):
            raise ConnectionError(f"the service closed the connection (read {raw!r})")
        return json.loads(raw)

    def reply(self) -> dict[str, Any]:
        """The next reply; event lines met on the way are kept in ``events``."""
        while True:
            message = self.line()
            if "event" in message:
                self.events.append(message)
            else:
                return message

    def event(self) -> dict[str, Any]:
        """The next offer event (waiting for it at most TIMEOUT)."""
        while not self.events:
            message = self.line()
            if "event" not in message:
                raise AssertionError(f"a reply where an event was expected: {message}")
            self.events.append(message)
        return self.events.pop(0)

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        self.send(json.dumps({"op": op, **fields}).encode() + b"\n")
        return self.reply()

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def offers_of(reply: dict[str, Any]) -> list[tuple[Any, Any, float]]:
    return [(o["call"], o["agent"], o["time"]) for o in reply.get("offers", [])]


def stats_of(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A router's stats() as the protocol sends them."""
    return {plan: s._asdict() for plan, s in stats.items()}


def first_line_with(path: Any, text: str, deadline: float) -> Optional[str]:
    """The first line of a log file containing ``text`` once it appears (None at ``deadline``, a monotonic time)."""
    import time

    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if text in line:
                        return line
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    return None
