#!/usr/bin/env python3
"""The adapter between Kamailio (evapi) and the ccroute routing service (DESIGN.md §6).

    python3 ccroute_kamailio.py --service 127.0.0.1:7700 --kamailio 127.0.0.1:8448

Kamailio (``ccroute.cfg`` beside this file) suspends every INVITE and sends its caller's
attributes over evapi; this process turns Kamailio's events into protocol requests and
the service's offers into evapi messages that continue the suspended transaction to the
offered agent:

=====================================  ==========================================
Kamailio event (netstring JSON)        what the adapter does
=====================================  ==========================================
invite {call, tindex, tlabel, plan…}   ``arrive``; if refused, ``refuse`` the call
rejected {call, agent, code}           ``reject`` (the transaction waits again)
answered {call, agent}                 ``accept``
cancel {call}                          ``abandon``
dropped {call, code}                   ``abandon`` (Kamailio gave up: queue time-out)
gone {call, agent}                     ``abandon`` (an offer found no waiting call)
bye {call}                             ``hangup``
=====================================  ==========================================

and every offer the service pushes (``subscribe``) becomes
``{"op": "offer", "call", "agent", "tindex", "tlabel"}`` to Kamailio.

It is a standalone script on purpose: it needs only the Python standard library and the
protocol, not the ccroute package (no compiled core on the SIP box), and it is the
pattern an adapter for another switch follows (FreeSWITCH's event socket, Asterisk's
ARI): the protocol has nothing Kamailio-specific in it.

Races a real switch produces, and what happens (the router is the judge of every
answer: an accept or reject from an agent who no longer holds the offer is refused and
changes nothing):

* The caller hangs up while queued: Kamailio answers the CANCEL itself (487) and sends
  ``cancel``; an offer already on its way finds no suspended transaction and comes back
  as ``gone``. Whichever arrives first abandons the call, once; the router puts the
  offered agent back to ready.
* The caller hangs up while an agent's phone rings: tm cancels the branch; ``abandon``
  frees the agent; the failure route sees the transaction cancelled and says nothing more.
* An offer pushed while the call still rings another agent (only if the router's own
  ``offer_timeout`` is shorter than Kamailio's ring time-out, which it should not be):
  it is held until Kamailio reports the ringing branch failed, then rung.
* A 200 OK from an agent after the call moved on (it crossed tm's CANCEL at the ring
  time-out, which RFC 3261 makes a proxy relay anyway): the caller is connected to that
  agent whatever the router thinks. ``accept`` is refused; the adapter abandons the call
  in the router (no agent will be offered a caller who is already talking) and logs it.
* An offer for a call this adapter does not know (it restarted while calls waited):
  the call cannot be reached, so it is abandoned and its agent freed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import signal
import socket
import sys
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

log = logging.getLogger("ccroute.kamailio")

TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 0)  # Linux only

QUEUED, RINGING, CONNECTED = "queued", "ringing", "connected"

# Header attributes as Kamailio forwards them (strings) -> the arrive field and its type.
ATTRIBUTES: Dict[str, Callable[[str], Any]] = {
    "plan": str,
    "region": str,
    "language": str,
    "value": float,
    "repeats": int,
    "priority": float,
    "preferred_agent": str,
    "preferred_wait": float,
}

# Errors of an arrive that mean the caller's attributes are wrong (SIP 400), not the service.
CALLER_ERRORS = {"BadRequest", "UnknownIdError", "InvalidArgumentError", "DuplicateIdError"}


class Call:
    """What the adapter knows of one call it routes: where its transaction is and its state."""

    __slots__ = ("call", "tindex", "tlabel", "state", "agent", "pending", "times")

    def __init__(self, call: str, tindex: int, tlabel: int) -> None:
        self.call, self.tindex, self.tlabel = call, tindex, tlabel
        self.state = QUEUED
        self.agent: Optional[Any] = None  # ringing or connected to
        self.pending: Optional[Any] = None  # an offer that came while another agent rang
        self.times: Optional[List[float]] = None  # --timing: invite event in, arrive out


class Netstrings:
    """evapi's framing: ``LENGTH:PAYLOAD,`` (whitespace between frames is allowed)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> List[bytes]:
        self.buffer += data
        frames, buffer, start = [], self.buffer, 0
        while True:
            while start < len(buffer) and buffer[start] in b" \t\r\n":
                start += 1
            colon = buffer.find(b":", start)
            if colon < 0:
                break
            digits = bytes(buffer[start:colon])
            if not digits.isdigit():
                raise ValueError(f"evapi sent a bad netstring length {digits[:20]!r}")
            end = colon + 1 + int(digits)
            if end >= len(buffer):
                break
            if buffer[end] != ord(","):
                raise ValueError(f"evapi netstring of {int(digits)} bytes not followed by ','")
            frames.append(bytes(buffer[colon + 1:end]))
            start = end + 1
        del buffer[:start]
        return frames


def netstring(payload: bytes) -> bytes:
    return b"%d:%s," % (len(payload), payload)


def parse_address(address: str) -> Tuple[str, Any]:
    """``("unix", path)`` or ``(host, port)``."""
    if address.startswith("unix:"):
        return "unix", address[5:]
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SystemExit(f"address must be HOST:PORT or unix:PATH, got {address!r}")
    return host.strip("[]"), int(port)


async def connect(address: str, timeout: float) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connects, retrying for ``timeout`` seconds (Kamailio or the service may still be starting)."""
    host, port = parse_address(address)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if host == "unix":
                return await asyncio.open_unix_connection(port, limit=1 << 22)
            return await asyncio.open_connection(host, port, limit=1 << 22)
        except OSError as error:
            if loop.time() >= deadline:
                raise SystemExit(f"cannot connect to {address}: {error}") from None
            await asyncio.sleep(0.1)


class Adapter:
    """Routes Kamailio's calls through the service: one instance per Kamailio."""

    def __init__(self, service: asyncio.StreamWriter, kamailio: asyncio.StreamWriter,
                 timing: Optional[Any] = None) -> None:
        self.service = service
        self.kamailio = kamailio
        self.timing = timing  # a file: one line per first offer, for bench/kamailio
        self.read_at = 0.0  # --timing: when the chunk being handled was read
        self.to_service: List[bytes] = []
        self.to_kamailio_out: List[bytes] = []
        self.calls: Dict[str, Call] = {}
        self.replies: Deque[Optional[Callable[[dict], None]]] = collections.deque()
        self.counts: collections.Counter = collections.Counter()
        self.handlers = {
            "invite": self.on_invite,
            "rejected": self.on_rejected,
            "answered": self.on_answered,
            "cancel": self.on_cancel,
            "dropped": self.on_dropped,
            "gone": self.on_gone,
            "bye": self.on_bye,
        }

    # ------------------------------------------------------------------ to the service

    def request(self, message: Dict[str, Any], done: Optional[Callable[[dict], None]] = None) -> None:
        """Sends one request; ``done`` gets its reply (replies come in request order)."""
        self.replies.append(done)
        self.to_service.append(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    def on_service_line(self, line: bytes) -> None:
        message = json.loads(line)
        if "event" in message:
            if message["event"] == "offer":
                self.on_offer(message["call"], message["agent"])
            return
        done = self.replies.popleft()
        if done is not None:
            done(message)
        elif not message.get("ok"):
            self.counts["refused"] += 1
            log.info("refused error=%s message=%s", message.get("error"), json.dumps(message.get("message")))

    # ------------------------------------------------------------------ to Kamailio

    def to_kamailio(self, message: Dict[str, Any]) -> None:
        self.to_kamailio_out.append(netstring(json.dumps(message, separators=(",", ":")).encode()))

    def flush(self) -> None:
        """Sends what handling one read produced: one write (one system call) each way."""
        if self.to_service:
            self.service.write(b"".join(self.to_service))
            self.to_service.clear()
        if self.to_kamailio_out:
            self.kamailio.write(b"".join(self.to_kamailio_out))
            self.to_kamailio_out.clear()

    def ring(self, call: Call, agent: Any) -> None:
        log.debug("ring call=%s agent=%s", call.call, agent)
        call.state, call.agent = RINGING, agent
        self.to_kamailio({"op": "offer", "call": call.call, "agent": agent, "tindex": call.tindex,
                          "tlabel": call.tlabel})

    def refuse(self, call: Call, code: int, reason: str) -> None:
        self.calls.pop(call.call, None)
        self.to_kamailio({"op": "refuse", "call": call.call, "code": code, "reason": reason,
                          "tindex": call.tindex, "tlabel": call.tlabel})

    # ------------------------------------------------------------------ offers

    def on_offer(self, call_id: Any, agent: Any) -> None:
        self.counts["offer"] += 1
        call = self.calls.get(call_id) if isinstance(call_id, str) else None
        if call is None:
            # Not ours to ring: the transaction is unknown here (the caller already left, or
            # this adapter restarted while the call waited). Free the agent.
            log.info("offer for an unknown call=%s agent=%s: abandoning it", call_id, agent)
            self.request({"op": "abandon", "call": call_id})
            return
        if call.state == QUEUED:
            offer_in = self.read_at
            self.ring(call, agent)
            if call.times is not None:
                # Wall clock, as Kamailio's $TV: the legs of the decision round trip line up.
                self.timing.write(f"{call.call} {call.times[0]:.6f} {call.times[1]:.6f} {offer_in:.6f} "
                                  f"{time.time():.6f}\n")
                call.times = None
        elif call.state == RINGING:
            # The router re-offered while Kamailio still rings (its offer_timeout is shorter
            # than Kamailio's ring time-out): ring this agent once that branch has failed.
            log.warning("offer call=%s agent=%s while %s still rings: held", call_id, agent, call.agent)
            call.pending = agent
        else:
            log.warning("offer call=%s agent=%s for a connected call: ignored", call_id, agent)

    # ------------------------------------------------------------------ Kamailio's events

    def on_kamailio_frame(self, frame: bytes) -> None:
        try:
            event = json.loads(frame)
            handler = self.handlers.get(event.get("event"))
            if handler is None:
                raise ValueError("unknown event")
            self.counts[event["event"]] += 1
            handler(event)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            # A field missing (Kamailio out of shared memory drops xavps) or a script edited
            # wrong: one call is lost, not every call.
            self.counts["bad_event"] += 1
            log.error("bad event from Kamailio (%s: %s): %s", type(error).__name__, error, frame[:300])

    def on_invite(self, event: Dict[str, Any]) -> None:
        event_in = self.read_at
        call = Call(event["call"], event["tindex"], event["tlabel"])
        request: Dict[str, Any] = {"op": "arrive", "call": call.call}
        for field, convert in ATTRIBUTES.items():
            text = event.get(field)
            if text is None or text == "":
                continue
            try:
                request[field] = convert(str(text).strip())
            except ValueError:
                log.info("refused call=%s: X-CC-%s %r is not a %s", call.call, field, text, convert.__name__)
                self.refuse(call, 400, "Bad Routing Attributes")
                return
        self.calls[call.call] = call
        if log.isEnabledFor(logging.DEBUG):
            log.debug("arrive %s", " ".join(f"{k}={v}" for k, v in request.items() if k != "op"))

        def arrived(reply: dict) -> None:
            if not reply.get("ok") and self.calls.get(call.call) is call:
                log.info("refused call=%s error=%s message=%s", call.call, reply.get("error"),
                         json.dumps(reply.get("message")))
                if call.state == QUEUED:
                    caller = reply.get("error") in CALLER_ERRORS
                    self.refuse(call, 400 if caller else 500,
                                "Bad Routing Attributes" if caller else "Routing Service Error")
                else:
                    self.calls.pop(call.call, None)

        self.request(request, arrived)
        if self.timing is not None:
            call.times = [event_in, time.time()]

    def on_rejected(self, event: Dict[str, Any]) -> None:
        call = self.calls.get(event["call"])
        agent = event.get("agent")
        log.info("rejected call=%s agent=%s code=%s", event["call"], agent, event.get("code"))
        if call is None:
            return
        call.state, call.agent = QUEUED, None
        call.tindex, call.tlabel = event.get("tindex", call.tindex), event.get("tlabel", call.tlabel)
        self.request({"op": "reject", "call": call.call, "agent": agent})
        if call.pending is not None:
            agent, call.pending = call.pending, None
            self.ring(call, agent)

    def on_answered(self, event: Dict[str, Any]) -> None:
        call = self.calls.get(event["call"])
        agent = event.get("agent")
        if call is None:
            log.info("answered call=%s agent=%s: not a call in the router (the caller hung up)",
                     event["call"], agent)
            return
        if call.state == CONNECTED and call.agent == agent:
            return  # a retransmitted 200 OK
        on_time = call.state == RINGING and call.agent == agent
        call.state, call.agent, call.pending = CONNECTED, agent, None

        def accepted(reply: dict) -> None:
            if reply.get("ok"):
                return
            # Connected to an agent the router did not offer the call to (a late 200 OK):
            # nobody else should be offered this caller.
            log.warning("late answer call=%s agent=%s refused (%s: %s): abandoning the call in the router",
                        call.call, agent, reply.get("error"), reply.get("message"))
            self.counts["late_answer"] += 1
            if self.calls.get(call.call) is call:
                del self.calls[call.call]  # its BYE is no hang-up for the router
            self.request({"op": "abandon", "call": call.call})

        if not on_time:
            log.info("answered call=%s agent=%s after the call moved on", call.call, agent)
        else:
            log.debug("answered call=%s agent=%s", call.call, agent)
        self.request({"op": "accept", "call": call.call, "agent": agent}, accepted)

    def on_cancel(self, event: Dict[str, Any]) -> None:
        self.end(event["call"], "abandon", "cancel")

    def on_dropped(self, event: Dict[str, Any]) -> None:
        self.end(event["call"], "abandon", f"dropped by Kamailio ({event.get('code')})")

    def on_gone(self, event: Dict[str, Any]) -> None:
        self.end(event["call"], "abandon", f"offer to {event.get('agent')} found no waiting transaction")

    def on_bye(self, event: Dict[str, Any]) -> None:
        call = self.calls.get(event["call"])
        if call is not None and call.state == CONNECTED:
            self.end(call.call, "hangup", "bye")

    def end(self, call_id: str, op: str, why: str) -> None:
        call = self.calls.pop(call_id, None)
        if call is None:
            return
        log.debug("%s call=%s: %s", op, call_id, why)
        self.request({"op": op, "call": call_id})


async def pump(reader: asyncio.StreamReader, handle: Callable[[bytes], None], flush: Callable[[], None],
               what: str, quickack: Optional[socket.socket] = None) -> None:
    """Feeds each chunk read to ``handle``, then ``flush``es, until the peer closes."""
    while True:
        data = await reader.read(1 << 16)
        if not data:
            raise ConnectionError(f"{what} closed the connection")
        if quickack is not None:
            # evapi's sockets keep Nagle's algorithm on: Kamailio holds an event back while
            # the previous one is unacknowledged, and a delayed ACK makes that up to 40 ms.
            # Acknowledging at once lets every event leave Kamailio as soon as it is written.
            # (Linux resets quick-ACK mode by itself, hence after every read.)
            quickack.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)
        handle(data)
        flush()


async def run(args: argparse.Namespace) -> int:
    service_reader, service_writer = await connect(args.service, args.connect_timeout)
    # Offers reach us only as pushed events (a timer's offers have no request to reply to),
    # so the offers listed in replies are ignored: each offer is handled once.
    service_writer.write(b'{"op":"subscribe"}\n')
    reply = json.loads(await service_reader.readline() or b"{}")
    if not reply.get("ok"):
        raise SystemExit(f"the service refused subscribe: {reply}")
    log.info("subscribed to %s", args.service)
    kamailio_reader, kamailio_writer = await connect(args.kamailio, args.connect_timeout)
    local = kamailio_writer.get_extra_info("sockname")
    log.info("connected to Kamailio's evapi at %s from %s:%s", args.kamailio, *local[:2])
    evapi_socket = kamailio_writer.get_extra_info("socket") if TCP_QUICKACK else None
    timing = open(args.timing, "w", buffering=1 << 16) if args.timing else None
    adapter = Adapter(service_writer, kamailio_writer, timing)

    lines = bytearray()

    def service_data(data: bytes) -> None:
        if timing is not None:
            adapter.read_at = time.time()
        lines.extend(data)
        end = lines.rfind(b"\n")
        if end < 0:
            return
        complete = bytes(lines[:end])
        del lines[:end + 1]
        for line in complete.split(b"\n"):
            if line:
                adapter.on_service_line(line)

    frames = Netstrings()

    def kamailio_data(data: bytes) -> None:
        if timing is not None:
            adapter.read_at = time.time()
        for frame in frames.feed(data):
            adapter.on_kamailio_frame(frame)

    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    tasks = [asyncio.ensure_future(pump(service_reader, service_data, adapter.flush, "the service")),
             asyncio.ensure_future(pump(kamailio_reader, kamailio_data, adapter.flush, "Kamailio", evapi_socket)),
             stop]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    status = 0
    for task in done:
        if task is not stop and not task.cancelled() and task.exception() is not None:
            log.error("%s", task.exception())
            status = 1
    kamailio_writer.close()
    service_writer.close()
    if timing is not None:
        timing.close()
    log.info("stopped: %s", " ".join(f"{k}={v}" for k, v in sorted(adapter.counts.items())) or "no events")
    return status


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", required=True, metavar="HOST:PORT|unix:PATH",
                        help="the routing service (ccroute serve --listen)")
    parser.add_argument("--kamailio", default="127.0.0.1:8448", metavar="HOST:PORT",
                        help="Kamailio's evapi bind_addr (default 127.0.0.1:8448)")
    parser.add_argument("--connect-timeout", type=float, default=10.0,
                        help="seconds to keep retrying either connection at start (default 10)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--timing", metavar="FILE",
                        help="write, per call offered at once, when its invite event came in, arrive was sent, "
                             "the offer came in and was passed on to Kamailio (wall clock; bench/kamailio)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
