"""The routing service: one process owning one :class:`~ccroute.Router`, for a switch to talk to.

A SIP server runs many worker processes, but routing state must live in one place, so
``ccroute serve`` (DESIGN.md §6) holds the router and answers every worker over TCP or a
Unix socket: one JSON object per line each way, one reply per request, in request order.

* **Ops** are rows of one table, :data:`OPS`: each names its fields with their JSON types,
  and every request is checked against its row, in one place, before anything reaches
  the router. A line that is not JSON, not an object, names no known op, lacks a field,
  has one of the wrong type or one the op does not know is answered ``BadRequest``; a
  refusal by the router is answered with the router's exception class name. Either way
  nothing changed (for ``InvalidTransitionError``, except that time passed: the offers of
  the timers that fell due are on the error reply too, so that none is lost).
* **Time.** By default the service stamps each request with its own monotonic clock
  (seconds since it started; a request that sends ``now`` is refused, because silently
  ignoring it would let a replay run on the wrong clock) and fires timers itself at the
  router's ``next_due``. With a manual clock every request carries ``now`` and timers
  fire only when a request's ``now`` passes them.
* **Offers** are listed in the reply of the request that caused them, and pushed to every
  connection that subscribed, whatever caused them: a timer's offers (an escalation, the
  end of a wrap-up, an offer time-out re-offering a call) reach a switch *only* this way.
* **Order.** Every line is handled synchronously in the event loop as it is read, so
  requests from all connections are applied in the order they arrived; a client that
  disconnects loses nothing (its calls stay in the router for any other connection).

The core is :class:`RoutingService`, usable in-process: :meth:`RoutingService.handle_line`
is the whole protocol without a socket, :meth:`RoutingService.serve` adds the sockets.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import os
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

from .errors import ConfigError, InvalidTransitionError, RoutingError, shown
from .types import Config, Decision, Offer

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger("ccroute.service")

MAX_LINE = 1 << 20
"""Longest request line, in bytes without its newline (1 MiB). A longer line is answered
``BadRequest`` as soon as it passes the limit, and discarded up to its newline."""

MAX_BACKLOG = 64 << 20
"""Bytes queued to a connection that does not read (a subscriber that stalled) before it is dropped."""

Push = Callable[[bytes], None]
"""A subscriber: takes one encoded event line (with its newline)."""


class BadRequest(RoutingError, ValueError):
    """A request line the protocol cannot take: not JSON, not an object, an unknown op, a
    missing, unknown or wrong-typed field, or a line longer than :data:`MAX_LINE`."""


# ----------------------------------------------------------------------- the op table

class Kind(NamedTuple):
    """A JSON type a field may have."""

    types: tuple[type, ...]
    description: str


KINDS: dict[str, Kind] = {
    # type(value) is compared exactly: JSON true/false must not pass as the integers 1/0.
    "id": Kind((str, int), "a string or an integer"),
    "number": Kind((int, float), "a number"),
    "int": Kind((int,), "an integer"),
    "str": Kind((str,), "a string"),
    "object": Kind((dict,), "an object"),
    "bool": Kind((bool,), "true or false"),
}

ENVELOPE = ("op", "id", "now")
"""Fields every request may carry besides its op's own."""

PARAMETERS = {"agent": "agent_id", "call": "call_id"}
"""Protocol fields named differently in the Python API (the protocol says ``agent``, not ``agent_id``)."""

Run = Callable[["RoutingService", float, dict, Optional[Push]], tuple[Sequence[Offer], Optional[dict]]]


class Field(NamedTuple):
    name: str
    parameter: str
    kind: Kind
    required: bool


class Op:
    """One op of the protocol: its fields and what it does.

    ``fields`` maps each field to its kind (a key of :data:`KINDS`), ending in ``?`` when
    the field is optional (a JSON ``null`` then counts as absent). ``run(service, now,
    arguments, subscriber)`` gets the arguments checked and named as the Python API names
    them, and returns the offers made and the reply's other fields (or None). With
    ``advance`` the service first brings the router to ``now`` (its timers' offers head
    the reply): for an op that reads the router or otherwise does not take a time itself.
    Such an op that has fields is first run at the router's own time (``now`` None), so
    that a refusal of its ids or values comes before any time passes: it must only read.
    """

    __slots__ = ("run", "advance", "fields", "required")

    def __init__(self, run: Run, advance: bool = False, **fields: str) -> None:
        self.run, self.advance = run, advance
        self.fields: dict[str, Field] = {}
        for name, spec in fields.items():
            kind = KINDS.get(spec.rstrip("?"))
            if kind is None or name in ENVELOPE:
                raise ValueError(f"field {name!r}: unknown kind {spec!r} or a reserved name")
            self.fields[name] = Field(name, PARAMETERS.get(name, name), kind, not spec.endswith("?"))
        self.required = [f for f in self.fields.values() if f.required]

    def arguments(self, op: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """The request's fields as keyword arguments of the Python API; BadRequest naming
        the first field that is unknown, missing or of the wrong type."""
        arguments = {}
        required = 0
        for name, value in request.items():
            field = self.fields.get(name)
            if field is None:
                if name in ENVELOPE:
                    continue
                raise BadRequest(f"op {op!r} has no field {_json(name)}; its fields: {self.signature()}")
            if value is None and not field.required:
                continue
            if type(value) not in field.kind.types:
                raise BadRequest(f"op {op!r}: {name} must be {field.kind.description}, got {_json(value)}")
            arguments[field.parameter] = value
            required += field.required
        if required < len(self.required):
            missing = next(f for f in self.required if f.parameter not in arguments)
            raise BadRequest(f"op {op!r} needs {missing.name} ({missing.kind.description})")
        return arguments

    def signature(self) -> str:
        return ", ".join(f.name + ("" if f.required else "?") for f in self.fields.values()) or "none"


def routed(method: str, timed: bool = True) -> Run:
    """An op that is the router's method of that name (``timed``: the method takes ``now``)."""
    if timed:
        def run(service: RoutingService, now: float, arguments: dict, subscriber: Optional[Push]):
            return getattr(service.router, method)(now=now, **arguments), None
    else:
        def run(service: RoutingService, now: float, arguments: dict, subscriber: Optional[Push]):
            getattr(service.router, method)(**arguments)
            return (), None
    run.method = method  # type: ignore[attr-defined]
    return run


def read_out(method: str, key: str, timed: bool = True) -> Run:
    """A read-out (an op with ``advance``): the router's method of that name, its result as
    JSON under ``key`` in the reply (``timed``: the method reads at a time, ``now``)."""
    def run(service: RoutingService, now: Optional[float], arguments: dict, subscriber: Optional[Push]):
        if timed and now is not None:
            arguments = {**arguments, "now": now}
        return (), {key: _plain(getattr(service.router, method)(**arguments))}
    run.method = method  # type: ignore[attr-defined]
    return run


def _plain(value: Any) -> Any:
    """A read-out as JSON: named tuples as objects of their fields (nested), lists as arrays,
    dicts (by site) as objects."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {name: _plain(v) for name, v in value._asdict().items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    return value


def _stats(service: RoutingService, now: float, arguments: dict, subscriber: Optional[Push]):
    return (), {"stats": {plan: s._asdict() for plan, s in service.router.stats(now).items()}}


def _subscribe(service: RoutingService, now: float, arguments: dict, subscriber: Optional[Push]):
    if subscriber is None:
        raise BadRequest("subscribe needs a connection to push offers to")
    service.subscribe(subscriber)
    return (), None


def _advance(service: RoutingService, now: float, arguments: dict, subscriber: Optional[Push]):
    return service.router.advance(now), {"next_due": service.router.next_due}


def _reconfigure(service: RoutingService, now: float, arguments: dict, subscriber: Optional[Push]):
    return service.router.reconfigure(config_from_table(arguments["routing"], "routing"), now), None


OPS: dict[str, Op] = {
    # A new agent is offline, outside every decision until it is ready: adding one takes no time.
    "add_agent": Op(routed("add_agent", timed=False), agent="id", site="str", skills="object", wrapup="number?"),
    "ready": Op(routed("ready"), agent="id"),
    "not_ready": Op(routed("not_ready"), agent="id", reason="str?"),
    "logout": Op(routed("logout"), agent="id"),
    "arrive": Op(routed("arrive"), call="id", plan="str", region="str?", language="str?", value="number?",
                 repeats="int?", priority="number?", preferred_agent="id?", preferred_wait="number?"),
    "accept": Op(routed("accept"), call="id", agent="id"),
    "reject": Op(routed("reject"), call="id", agent="id"),
    "abandon": Op(routed("abandon"), call="id"),
    "hangup": Op(routed("hangup"), call="id"),
    "advance": Op(_advance),
    "stats": Op(_stats, advance=True),
    "subscribe": Op(_subscribe, advance=True),
    # Read-outs: named tuples as objects of their fields.
    "explain": Op(read_out("explain", "explanation"), advance=True, call="id", agents="int?"),
    "call": Op(read_out("call_info", "call"), advance=True, call="id"),
    "agent": Op(read_out("agent_info", "agent", timed=False), advance=True, agent="id"),
    "calls": Op(read_out("calls", "calls"), advance=True),
    "agents": Op(read_out("agents", "agents", timed=False), advance=True),
    "site_stats": Op(read_out("site_stats", "site_stats", timed=False), advance=True),
    "expected_wait": Op(read_out("expected_wait", "wait"), advance=True, plan="str", region="str?",
                        language="str?", value="number?", priority="number?", repeats="int?"),
    # Live changes.
    "set_skills": Op(routed("set_skills"), agent="id", skills="object?", site="str?"),
    "remove_agent": Op(routed("remove_agent"), agent="id"),
    "transfer": Op(routed("transfer"), call="id", plan="str"),
    "reprioritize": Op(routed("reprioritize"), call="id", value="number?", priority="number?"),
    "reconfigure": Op(_reconfigure, routing="object"),
}
"""The protocol's ops (DESIGN.md §6, plus ``advance {}``, which fires the timers due by
``now`` and answers ``next_due``: a manual-clock client's way of letting time pass; the
read-outs ``explain {call, agents?}`` → ``explanation``, ``call {call}`` → ``call``,
``agent {agent}`` → ``agent``, ``calls {}`` → ``calls``, ``agents {}`` → ``agents``,
``site_stats {}`` → ``site_stats`` (``{site: {logged_in, ready, …, answered, asa, handled,
mean_handle_time}}``, :class:`~ccroute.SiteStats`) and ``expected_wait {plan, region?, language?, value?, priority?, repeats?}`` → ``wait``
(seconds or null); and the live changes ``set_skills {agent, skills?, site?}``,
``remove_agent {agent}``, ``transfer {call, plan}``, ``reprioritize {call, value?,
priority?}`` and ``reconfigure {routing}``, ``routing`` being a ``[routing]`` table)."""


# ----------------------------------------------------------------------- JSON

def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"{text[:30]} is beyond the range of a double")
    return value


# Strict JSON: NaN and Infinity are refused, and so is a number literal that overflows a double.
_decode = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float).decode
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # ASCII: lone surrogates escaped
_ABSENT = object()


def _json(value: Any) -> str:
    """A bad value as a BadRequest message names it: in JSON's spelling, cut short when long."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):  # handle() called in-process with a non-JSON value
        return shown(value)
    return text if len(text) <= 120 else f"{text[:100]}… ({len(text)} characters)"


def _offer(offer: Offer) -> dict[str, Any]:
    return {"call": offer.call_id, "agent": offer.agent_id, "time": offer.time}


# ----------------------------------------------------------------------- the service

class RoutingService:
    """The protocol of DESIGN.md §6 around one router.

    >>> from ccroute import Config, Plan, Router
    >>> service = RoutingService(Router(Config(sites=["shanghai"], plans=[Plan("card")])), manual_clock=True)
    >>> service.handle_line(b'{"op": "add_agent", "agent": "a1", "site": "shanghai", "skills": {"card": 5}, "now": 0}')
    b'{"ok":true,"offers":[]}\\n'
    >>> service.handle_line(b'{"op": "ready", "agent": "a1", "now": 0}')
    b'{"ok":true,"offers":[]}\\n'
    >>> service.handle_line(b'{"id": 7, "op": "arrive", "call": "c1", "plan": "card", "now": 1.5}')
    b'{"id":7,"ok":true,"offers":[{"call":"c1","agent":"a1","time":1.5}]}\\n'
    >>> service.handle_line(b'{"id": 8, "op": "accept", "call": "c1", "agent": "a2", "now": 2}')
    b'{"id":8,"ok":false,"error":"UnknownIdError","message":"unknown agent \\'a2\\'"}\\n'

    ``decision_log``: one INFO line per offer on the ``ccroute.service`` logger (through the
    router's decision callback, so that it names the plan, step and wait the decision saw).
    """

    def __init__(self, router: Any, manual_clock: bool = False, decision_log: bool = True) -> None:
        self.router = router
        self.manual_clock = manual_clock
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()
        """Requests answered, by (op, outcome): ``"ok"`` or the error's name (op ``"invalid"``
        when the line named no known op)."""
        self.offers_made = 0
        self.connections_served = 0
        self._subscribers: list[Push] = []
        self._epoch = time.monotonic()
        self._now = 0.0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_due: Optional[float] = None
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[_Connection] = set()
        self._dirty: set[_Connection] = set()
        self._unix_path: Optional[str] = None
        self._stopping = False
        self._stopped: Optional[asyncio.Event] = None
        self._drained: Optional[asyncio.Event] = None
        self.addresses: list[str] = []
        """Where it listens, once started (``HOST:PORT`` or ``unix:PATH``; the metrics endpoint as a URL)."""
        if decision_log and log.isEnabledFor(logging.INFO):
            router.log_decisions(None, callback=_log_decision)

    # ------------------------------------------------------------------- protocol

    def handle_line(self, line: Union[bytes, str], subscriber: Optional[Push] = None) -> bytes:
        """The reply line (with its newline) to one request line. ``subscriber`` receives the
        event lines of every later offer if the request is a ``subscribe``."""
        try:
            request = _decode(line.decode() if isinstance(line, bytes) else line)
        except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, an int of too many digits
            self.requests["invalid", "BadRequest"] += 1
            reply = {"ok": False, "error": "BadRequest", "message": f"not a JSON line: {error}"}
        else:
            reply = self.handle(request, subscriber)
        return _encode(reply).encode() + b"\n"

    def handle(self, request: Any, subscriber: Optional[Push] = None) -> dict[str, Any]:
        """The reply to one decoded request (see :meth:`handle_line`)."""
        reply: dict[str, Any] = {}
        op_name, offers = "invalid", []
        try:
            if type(request) is not dict:
                raise BadRequest(f"a request must be a JSON object, got {_json(request)}")
            ident = request.get("id", _ABSENT)
            if ident is not _ABSENT:
                if isinstance(ident, (dict, list)):
                    raise BadRequest(f"id must be a JSON scalar, got {_json(ident)}")
                reply["id"] = ident
            name = request.get("op")
            op = OPS.get(name) if type(name) is str else None
            if op is None:
                raise BadRequest(f"unknown op {_json(name)}; the ops: {', '.join(OPS)}")
            op_name = name
            arguments = op.arguments(name, request)
            now = self._time_of(request)
            if op.advance:
                if op.fields:  # a read-out refused for its ids or values: refused before time passes
                    op.run(self, None, arguments, subscriber)
                offers = self.router.advance(now)
            made, result = op.run(self, now, arguments, subscriber)
            if made:
                offers = [*offers, *made] if offers else made
        except RoutingError as error:
            if isinstance(error, InvalidTransitionError) and error.offers:
                offers = [*offers, *error.offers]
            self._refused(reply, op_name, error)
            result = None
        except Exception as error:  # a bug: answer it, keep serving the other requests
            log.exception("op %s failed on %s", op_name, shown(request))
            self._refused(reply, op_name, error)
            result = None
        else:
            self.requests[op_name, "ok"] += 1
            reply["ok"] = True
        if offers or reply["ok"]:  # a refusal lists offers only when timers made some before it
            reply["offers"] = [_offer(o) for o in offers]
        if result:
            reply.update(result)
        if offers:
            self._publish(offers)
        if self._loop is not None and not self.manual_clock:
            self._arm()
        return reply

    def _refused(self, reply: dict[str, Any], op: str, error: Exception) -> None:
        name = type(error).__name__
        self.requests[op, name] += 1
        reply["ok"], reply["error"], reply["message"] = False, name, str(error)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("refused op=%s error=%s message=%s", op, name, _logfmt(str(error)))

    def _time_of(self, request: Mapping[str, Any]) -> float:
        now = request.get("now", _ABSENT)
        if self.manual_clock:
            if now is _ABSENT or type(now) not in (int, float):
                raise BadRequest(f"with a manual clock every request carries now (a number), got "
                                 f"{'none' if now is _ABSENT else _json(now)}")
            return now
        if now is not _ABSENT:
            raise BadRequest("now is the service's own clock; start it with --manual-clock to send now")
        return self.clock()

    def clock(self) -> float:
        """The service's time: seconds since it started, never decreasing."""
        now = time.monotonic() - self._epoch
        if now > self._now:
            self._now = now
        return self._now

    # ------------------------------------------------------------------- offers to subscribers

    def subscribe(self, push: Push) -> None:
        """``push`` receives ``{"event": "offer", ...}`` lines for every offer from now on."""
        if push not in self._subscribers:
            self._subscribers.append(push)

    def unsubscribe(self, push: Push) -> None:
        if push in self._subscribers:
            self._subscribers.remove(push)

    def _publish(self, offers: Iterable[Offer]) -> None:
        count = 0
        for offer in offers:
            count += 1
            if self._subscribers:
                event = _encode({"event": "offer", "call": offer.call_id, "agent": offer.agent_id,
                                 "time": offer.time}).encode() + b"\n"
                for push in self._subscribers:
                    push(event)
        self.offers_made += count

    # ------------------------------------------------------------------- the real clock's timer

    def _arm(self) -> None:
        """Keeps one loop timer at the router's next due time."""
        due = self.router.next_due
        if due == self._timer_due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = None if due is None else self._loop.call_later(max(0.0, due - self.clock()), self._fire)

    def _fire(self) -> None:
        self._timer = self._timer_due = None
        due = self.router.next_due
        if due is not None:
            # The loop may wake a hair before the due time; the router must see it due.
            self._now = max(self.clock(), due)
            try:
                offers = self.router.advance(self._now)
            except Exception:  # pragma: no cover - the router refusing its own due time is a bug
                log.exception("advance(%r) failed", self._now)
                return
            self._publish(offers)
            self._flush()
        self._arm()

    # ------------------------------------------------------------------- sockets

    async def start(self, listen: str, metrics: Optional[str] = None) -> list[str]:
        """Listens on ``listen`` (``HOST:PORT`` or ``unix:PATH``; port 0 picks one) and, with
        ``metrics`` (``HOST:PORT``), serves Prometheus text at ``/metrics``. Returns the
        addresses bound (also in :attr:`addresses`)."""
        self._loop = asyncio.get_running_loop()
        self._stopped, self._drained = asyncio.Event(), asyncio.Event()
        self._drained.set()
        kind, host, port = parse_listen(listen)
        if kind == "unix":
            _refuse_live_socket(host)
            server = await self._loop.create_unix_server(lambda: _Connection(self), host)
            self._unix_path = host
            self.addresses.append(f"unix:{host}")
        else:
            server = await self._loop.create_server(lambda: _Connection(self), host, port, reuse_address=True)
            self.addresses.append(_address(server))
        self._servers.append(server)
        if metrics is not None:
            _, host, port = parse_listen(metrics, unix=False)
            server = await asyncio.start_server(self._serve_metrics, host, port, reuse_address=True)
            self._servers.append(server)
            self.addresses.append(f"http://{_address(server)}/metrics")
        if not self.manual_clock:
            self._arm()
        log.info("listening on %s (%s clock)", self.addresses[0], "manual" if self.manual_clock else "real")
        if metrics is not None:
            log.info("metrics on %s", self.addresses[-1])
        return self.addresses

    async def serve(self, listen: str, metrics: Optional[str] = None) -> None:
        """:meth:`start`, then serve until :meth:`stop` (SIGTERM in ``ccroute serve``) and close."""
        try:
            await self.start(listen, metrics)
        except BaseException:  # e.g. the metrics port is taken: undo what did start
            self.stop()
            await self.closed()
            raise
        await self.closed()

    def stop(self) -> None:
        """Stops accepting, answers what was already read, closes every connection (the rest
        happens in :meth:`closed`). Safe to call from a signal handler, more than once."""
        if self._stopping:
            return
        self._stopping = True
        for server in self._servers:
            server.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_due = None
        self._flush()
        for connection in list(self._connections):
            connection.transport.close()  # sends what is queued, then closes
        if self._stopped is not None:
            self._stopped.set()

    async def closed(self, timeout: float = 5.0) -> None:
        """Waits for :meth:`stop`, then for the connections to finish sending (at most
        ``timeout`` s before cutting them), and removes the Unix socket file."""
        if self._stopped is None or self._drained is None:
            return  # never started
        await self._stopped.wait()
        try:
            await asyncio.wait_for(self._drained.wait(), timeout)
        except asyncio.TimeoutError:
            for connection in list(self._connections):
                connection.transport.abort()
        for server in self._servers:
            await server.wait_closed()
        if self._unix_path is not None:
            try:
                os.unlink(self._unix_path)
            except FileNotFoundError:
                pass
        answered = sum(self.requests.values())
        log.info("stopped: %d requests answered, %d offers made, %d connections served",
                 answered, self.offers_made, self.connections_served)

    def _flush(self) -> None:
        for connection in self._dirty:
            connection.send()
        self._dirty.clear()

    # ------------------------------------------------------------------- metrics

    def metrics_text(self) -> str:
        """The counters in the Prometheus text exposition format (version 0.0.4)."""
        lines = ["# HELP ccroute_requests_total Requests answered, by op and outcome (ok or the error's name).",
                 "# TYPE ccroute_requests_total counter"]
        lines += [f'ccroute_requests_total{{op="{_label(op)}",outcome="{outcome}"}} {n}'
                  for (op, outcome), n in sorted(self.requests.items())]
        lines += ["# HELP ccroute_offers_total Offers made (calls matched to agents), timers' included.",
                  "# TYPE ccroute_offers_total counter", f"ccroute_offers_total {self.offers_made}",
                  "# HELP ccroute_connections Open client connections.",
                  "# TYPE ccroute_connections gauge", f"ccroute_connections {len(self._connections)}",
                  "# HELP ccroute_subscribers Connections receiving offer events.",
                  "# TYPE ccroute_subscribers gauge", f"ccroute_subscribers {len(self._subscribers)}"]
        # A read-out, not a request: the router's time is not moved (the real clock's timer keeps it current).
        stats = self.router.stats(None if self.manual_clock else self.clock())
        for field, kind, help_text in _PLAN_METRICS:
            metric = f"ccroute_plan_{field}" + ("_total" if kind == "counter" else "")
            lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} {kind}"]
            for plan, s in stats.items():
                value = getattr(s, field)
                lines.append(f'{metric}{{plan="{_label(plan)}"}} {_sample(value, field)}')
        return "\n".join(lines) + "\n"

    async def _serve_metrics(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            target = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
            if head.startswith(b"GET ") and target.split(b"?")[0] in (b"/metrics", b"/"):
                status, body = "200 OK", self.metrics_text().encode()
            else:
                status, body = "404 Not Found", b"only GET /metrics here\n"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()


_PLAN_METRICS = [
    ("arrived", "counter", "Calls that arrived, by plan."),
    ("answered", "counter", "Offers accepted, by plan."),
    ("abandoned", "counter", "Calls abandoned, by plan."),
    ("answered_within", "counter", "Calls answered within the plan's service-level threshold."),
    ("service_level", "gauge", "answered_within / (answered + abandoned); NaN before the first."),
    ("asa", "gauge", "Average speed of answer in seconds; NaN before the first answer."),
    ("waiting", "gauge", "Calls waiting now."),
    ("oldest_wait", "gauge", "Seconds the longest-waiting call has waited (0 when none waits)."),
]


def _sample(value: Optional[float], field: str) -> str:
    if value is None:
        return "0" if field == "oldest_wait" else "NaN"
    return repr(float(value)) if isinstance(value, float) else str(value)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_LONG_LINE = _encode({"ok": False, "error": "BadRequest",
                      "message": f"line longer than {MAX_LINE} bytes: discarded"}).encode() + b"\n"


class _Connection(asyncio.Protocol):
    """One client: splits its bytes into lines, queues replies and events, and sends them
    with one write per batch of lines read."""

    def __init__(self, service: RoutingService) -> None:
        self.service = service
        self.transport: Any = None
        self.peer = "?"
        self.out: list[bytes] = []
        self.buffer = bytearray()
        self.discarding = False  # inside a line longer than MAX_LINE, until its newline
        self.push: Push = self._push  # one bound method: the subscriber's identity

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "unix"
        self.service._connections.add(self)
        self.service._drained.clear()
        self.service.connections_served += 1
        log.info("connected peer=%s", self.peer)

    def data_received(self, data: bytes) -> None:
        service = self.service
        if service._stopping:  # read in the same loop turn as the stop: not applied, like unread bytes
            return
        if self.discarding:
            cut = data.find(b"\n")
            if cut < 0:
                return
            data, self.discarding = data[cut + 1:], False
        if b"\n" not in data:  # no line ends here: keep it (without copying what came before)
            self.buffer += data
            if len(self.buffer) > MAX_LINE:
                self._refuse_long_line()
                self.buffer.clear()
                self.discarding = True
                self._queue()
                service._flush()
            return
        if self.buffer:
            self.buffer += data
            data = bytes(self.buffer)
            self.buffer.clear()
        lines = data.split(b"\n")
        rest = lines.pop()
        out, handle, push = self.out, service.handle_line, self.push
        for line in lines:
            if len(line) > MAX_LINE:
                self._refuse_long_line()
            elif line.strip():  # blank lines are no requests
                out.append(handle(line, push))
        if rest:
            self.buffer += rest
            if len(self.buffer) > MAX_LINE:
                self._refuse_long_line()
                self.buffer.clear()
                self.discarding = True  # the rest of it, up to its newline, is dropped unread
        self._queue()
        service._flush()

    def _refuse_long_line(self) -> None:
        self.service.requests["invalid", "BadRequest"] += 1
        self.out.append(_LONG_LINE)

    def _push(self, event: bytes) -> None:
        self.out.append(event)
        self._queue()

    def _queue(self) -> None:
        if self.out:
            self.service._dirty.add(self)

    def send(self) -> None:
        if not self.out:
            return
        data = self.out[0] if len(self.out) == 1 else b"".join(self.out)
        self.out.clear()
        if self.transport.is_closing():
            return
        self.transport.write(data)
        if self.transport.get_write_buffer_size() > MAX_BACKLOG:
            log.warning("dropped peer=%s: %d bytes unread", self.peer, self.transport.get_write_buffer_size())
            self.transport.abort()

    def pause_writing(self) -> None:  # the client reads its replies slower than it sends requests
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        service = self.service
        service.unsubscribe(self.push)
        service._connections.discard(self)
        service._dirty.discard(self)
        if not service._connections:
            service._drained.set()
        log.info("disconnected peer=%s%s", self.peer,
                 f" (an unfinished line of {len(self.buffer)} bytes dropped)" if self.buffer else "")


# ----------------------------------------------------------------------- logging

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:@/+")


def _logfmt(value: Any) -> str:
    """A value for a key=value log line: plain ids as they are, anything else quoted (and cut when long)."""
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else shown(value)
    if isinstance(value, str) and value and len(value) <= 64 and all(c in _PLAIN for c in value):
        return value
    text = str(value)
    return json.dumps(text if len(text) <= 100 else f"{text[:100]}… ({len(text)} characters)")


def _log_decision(decision: Decision) -> None:
    log.info("offer call=%s agent=%s time=%.3f plan=%s step=%s wait=%.3f rule=%s",
             _logfmt(decision.call_id), _logfmt(decision.agent_id), decision.time, _logfmt(decision.plan),
             "preferred" if decision.step is None else decision.step, decision.wait, decision.rule)


# ----------------------------------------------------------------------- addresses, configuration

def parse_listen(listen: str, unix: bool = True) -> tuple[str, str, int]:
    """``("unix", path, 0)`` for ``unix:PATH``, ``("tcp", host, port)`` for ``HOST:PORT``
    (``[::1]:PORT`` for IPv6); ConfigError naming the address otherwise."""
    if unix and listen.startswith("unix:") and len(listen) > 5:
        return "unix", listen[5:], 0
    host, sep, port = listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"listen address must be HOST:PORT{' or unix:PATH' if unix else ''}, got {listen!r}")
    return "tcp", host, int(port)


def _address(server: asyncio.AbstractServer) -> str:
    host, port = server.sockets[0].getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _refuse_live_socket(path: str) -> None:
    """asyncio replaces a Unix socket file left at ``path``; make sure no service still listens there."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return
    except FileNotFoundError:
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return  # a stale file: nobody listens
    finally:
        probe.close()
    raise OSError(f"{path}: another process is listening on this socket")


def load_config(path: Union[str, Path]) -> tuple[Config, list[dict[str, Any]]]:
    """The ``[routing]`` table of a TOML file (a scenario file works as it is) and the agents
    listed in its optional ``[[service.agents]]`` tables."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    if not isinstance(data.get("routing"), dict):
        raise ConfigError(f"{path}: no [routing] table")
    config = config_from_table(data["routing"], f"{path}: [routing]")
    service = data.get("service", {})
    if not isinstance(service, dict) or set(service) - {"agents"}:
        raise ConfigError(f"{path}: [service] may only hold [[service.agents]], got {shown(service)}")
    agents = service.get("agents", [])
    if not isinstance(agents, list) or not all(isinstance(a, dict) for a in agents):
        raise ConfigError(f"{path}: [[service.agents]] must be tables, got {shown(agents)}")
    return config, agents


def config_from_table(table: Mapping[str, Any], where: str) -> Config:
    """The configuration of a ``[routing]`` table (of a file, or of a ``reconfigure``
    request); ConfigError naming ``where`` when it is not one."""
    from .scenario import routing_from_dict  # the one parser of a [routing] table

    try:
        return routing_from_dict(table)
    except RoutingError:
        raise
    except KeyError as missing:
        raise ConfigError(f"{where} lacks {missing}") from None
    except (TypeError, AttributeError) as error:
        raise ConfigError(f"{where}: {error}") from None


def add_agents(service: RoutingService, agents: Sequence[Mapping[str, Any]]) -> None:
    """Adds the agents of ``[[service.agents]]`` (the fields of ``add_agent``, and ``ready =
    true`` to make one ready at once) through the protocol's own checks, at time 0."""
    clock = {"now": 0.0} if service.manual_clock else {}
    for number, entry in enumerate(agents, 1):
        entry = dict(entry)
        ready = entry.pop("ready", False)
        requests = [{**entry, **clock, "op": "add_agent"}]
        if type(ready) is not bool:
            raise ConfigError(f"[[service.agents]] #{number}: ready must be true or false, got {shown(ready)}")
        if ready:
            requests.append({"op": "ready", "agent": entry.get("agent"), **clock})
        for request in requests:
            reply = service.handle(request)
            if not reply["ok"]:
                raise ConfigError(f"[[service.agents]] #{number}: {reply['error']}: {reply['message']}")


async def run(config_path: Union[str, Path], listen: str, manual_clock: bool = False,
              metrics: Optional[str] = None) -> None:
    """``ccroute serve``: builds the router from the file, serves until SIGTERM or SIGINT."""
    import signal

    from .router import IMPLEMENTATION, Router

    config, agents = load_config(config_path)
    service = RoutingService(Router(config), manual_clock=manual_clock)
    add_agents(service, agents)
    log.info("routing %d plans over %d sites with %d agents from %s (%s router)",
             len(config.plans), len(config.sites), len(agents), config_path, IMPLEMENTATION)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stop_on_signal, service, signum)
    await service.serve(listen, metrics)


def _stop_on_signal(service: RoutingService, signum: int) -> None:
    import signal

    log.info("%s: stopping", signal.Signals(signum).name)
    service.stop()


__all__ = ["RoutingService", "BadRequest", "OPS", "Op", "KINDS", "MAX_LINE", "load_config", "config_from_table",
           "add_agents", "parse_listen", "run"]
