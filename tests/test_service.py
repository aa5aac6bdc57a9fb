"""The routing service (``ccroute serve``) through real sockets, against the router itself.

* Hypothesis draws a centre and a random event sequence (the strategies of
  test_equivalence.py, live changes included), sends it over the protocol to a service
  with a manual clock, one request at a time or all at once, with read-outs in between,
  and requires the replies to carry exactly the offers, errors, statistics, read-outs and
  next due time that the same sequence gives when applied to a ``ccroute.Router`` directly.
* Garbage of every kind (not JSON, not UTF-8, not an object, no or unknown op, missing,
  unknown or wrong-typed fields, unknown ids, time going back, impossible transitions,
  a line over 1 MiB) inserted anywhere into a session is refused with the right error
  name and leaves every following reply, and every event pushed, exactly as without it.
* Several clients at once are each answered in order; a client that disconnects loses
  no call; with the real clock, timers fire by themselves and reach subscribers.

About 15 s (``python -m pytest tests/test_service.py``).
"""

from __future__ import annotations

import inspect
import json
import math
import socket
import struct
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import Config, InvalidTransitionError, Plan, RoutingError, Step
from ccroute.reference import ReferenceRouter
from ccroute.service import MAX_LINE, OPS, PARAMETERS, BadRequest, Op, RoutingService, routed
from conftest import NATIVE_MISSING, NativeRouter
from service_client import Client, LoopThread, offers_of, serving, stats_of
from test_equivalence import AGENTS, CALLS, FITTING_STATE, draw_centre, events, with_absolute_time

pytestmark = pytest.mark.skipif(NativeRouter is None, reason=str(NATIVE_MISSING))
Router = NativeRouter


@pytest.fixture(scope="module")
def loop():
    thread = LoopThread()
    yield thread
    thread.close()


# ----------------------------------------------------------------------- the op table

def test_every_field_of_a_routed_op_or_read_out_is_a_parameter_of_its_router_method():
    checked = set()
    for name, op in OPS.items():
        method = getattr(op.run, "method", None)  # routed() and read_out() ops
        if method is not None:
            checked.add(name)
            parameters = inspect.signature(getattr(ReferenceRouter, method)).parameters
            for field in op.fields.values():
                assert field.parameter in parameters, (name, field)
            required = {p.name for p in parameters.values() if p.default is inspect.Parameter.empty}
            # The protocol may require more (DESIGN.md §6 requires add_agent's skills), never less.
            assert required - {"self", "now"} <= {f.parameter for f in op.required}, name
    assert set(OPS) - checked == {"advance", "stats", "subscribe", "reconfigure"}


def test_an_op_with_an_unknown_kind_or_a_reserved_field_name_is_refused_when_the_table_is_built():
    with pytest.raises(ValueError, match="unknown kind"):
        Op(routed("ready"), agent="float")
    with pytest.raises(ValueError, match="reserved"):
        Op(routed("ready"), now="number")


def test_without_a_socket_handle_line_is_the_whole_protocol():
    service = RoutingService(Router(Config(sites=["s"], plans=[Plan("p")])), manual_clock=True)
    assert service.handle_line(b'{"id":1,"op":"subscribe","now":0}') == \
        b'{"id":1,"ok":false,"error":"BadRequest","message":"subscribe needs a connection to push offers to"}\n'
    pushed = []
    assert json.loads(service.handle_line('{"op":"subscribe","now":0}', pushed.append))["ok"]
    service.handle_line(b'{"op":"add_agent","agent":"a","site":"s","skills":{"p":1},"now":0}')
    service.handle_line(b'{"op":"ready","agent":"a","now":1}')
    reply = json.loads(service.handle_line(b'{"op":"arrive","call":"c","plan":"p","now":2}'))
    assert reply == {"ok": True, "offers": [{"call": "c", "agent": "a", "time": 2}]}
    assert pushed == [b'{"event":"offer","call":"c","agent":"a","time":2.0}\n']
    assert service.requests["arrive", "ok"] == 1 and service.offers_made == 1


def test_the_docstring_session_runs_as_written():
    import doctest

    import ccroute.service

    assert doctest.testmod(ccroute.service).failed == 0


@pytest.mark.parametrize("ident", ["x", 7, -1.5, True, None, 10**30])
def test_any_json_scalar_id_is_echoed(ident):
    service = RoutingService(Router(Config(sites=["s"], plans=[Plan("p")])), manual_clock=True)
    for line in (json.dumps({"id": ident, "op": "stats", "now": 0}), json.dumps({"id": ident, "op": "nope"})):
        reply = json.loads(service.handle_line(line))
        assert list(reply)[0] == "id" and reply["id"] == ident


def test_with_the_real_clock_a_request_may_not_send_now():
    service = RoutingService(Router(Config(sites=["s"], plans=[Plan("p")])))
    reply = json.loads(service.handle_line(b'{"op":"advance","now":5}'))
    assert reply["error"] == "BadRequest" and "--manual-clock" in reply["message"]
    assert json.loads(service.handle_line(b'{"op":"advance"}'))["ok"]


def test_metrics_text_counts_requests_offers_and_plans():
    service = RoutingService(Router(Config(sites=["s"], plans=[Plan("p"), Plan('q"x')])), manual_clock=True)
    for line in (b'{"op":"add_agent","agent":"a","site":"s","skills":{"p":1},"now":0}',
                 b'{"op":"ready","agent":"a","now":0}', b'{"op":"arrive","call":"c","plan":"p","now":1}',
                 b'{"op":"arrive","call":"d","plan":"p","now":2}', b'{"op":"ready","agent":"zz","now":3}', b"{"):
        service.handle_line(line)
    text = service.metrics_text()
    assert 'ccroute_requests_total{op="arrive",outcome="ok"} 2' in text
    assert 'ccroute_requests_total{op="ready",outcome="UnknownIdError"} 1' in text
    assert 'ccroute_requests_total{op="invalid",outcome="BadRequest"} 1' in text
    assert "ccroute_offers_total 1\n" in text
    assert 'ccroute_plan_arrived_total{plan="p"} 2' in text and 'ccroute_plan_waiting{plan="p"} 1' in text
    assert 'ccroute_plan_oldest_wait{plan="p"} 0.0' in text  # read at the router's time (2): d just arrived
    assert 'ccroute_plan_asa{plan="q\\"x"} NaN' in text


# ----------------------------------------------------------------------- protocol ≡ router

POSITIONAL = {"add_agent": ("agent", "site", "skills"), "ready": ("agent",), "logout": ("agent",),
              "not_ready": ("agent", "reason"), "arrive": ("call", "plan"), "accept": ("call", "agent"),
              "reject": ("call", "agent"), "abandon": ("call",), "hangup": ("call",), "advance": (),
              "set_skills": ("agent",), "remove_agent": ("agent",), "transfer": ("call", "plan"),
              "reprioritize": ("call",), "reconfigure": ("routing",)}
SUPPORTED = set(POSITIONAL)
NOW_AT = {"add_agent": None, "advance": 0, "arrive": 2, "accept": 2, "reject": 2, "transfer": 2}  # else 1
READ_OUTS = {"explain": ("explain", "explanation"), "call": ("call_info", "call"), "agent": ("agent_info", "agent"),
             "calls": ("calls", "calls"), "agents": ("agents", "agents"), "expected_wait": ("expected_wait", "wait"),
             "site_stats": ("site_stats", "site_stats")}
"""op: (router method, key of the reply)."""
UNTIMED = {"agent_info", "agents", "site_stats"}


def as_request(name, args, kwargs, now):
    """The protocol request for a router call drawn by test_equivalence's strategies."""
    args = [a.to_dict() if isinstance(a, Config) else a for a in args]  # reconfigure: the [routing] table
    index = NOW_AT.get(name, 1)
    t = now if index is None else args.pop(index)
    return {"op": name, **dict(zip(POSITIONAL[name], args)), **kwargs, "now": t}


def plain(value):
    """A read-out as JSON gives it: named tuples as objects of their fields, dicts as objects."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {name: plain(v) for name, v in value._asdict().items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {key: plain(v) for key, v in value.items()}
    return value


def read_outs(config, live):
    """(op, fields) of a read-out, often of a live call (ids in ``live``), sometimes of an
    unknown id or with a bad value."""
    call, agent = st.sampled_from([*CALLS, *live, *live]), st.sampled_from([*AGENTS, "nobody"])
    caller = {"region": st.sampled_from([None, None, *config.regions, "atlantis"]),
              "value": st.sampled_from([0.0, 2.0, -1.0]), "priority": st.sampled_from([0.0, 4.0]),
              "repeats": st.sampled_from([0, 2, -1])}
    if config.skills is not None:  # in an open universe a new language name would be numbered
        caller["language"] = st.sampled_from(["lang:yue", "lang:klingon"])
    fields = {
        "explain": st.fixed_dictionaries({"call": call}, optional={"agents": st.sampled_from([0, 1, 3, -1])}),
        "call": st.fixed_dictionaries({"call": call}),
        "agent": st.fixed_dictionaries({"agent": agent}),
        "calls": st.just({}),
        "agents": st.just({}),
        "site_stats": st.just({}),
        "expected_wait": st.fixed_dictionaries(
            {"plan": st.sampled_from([*(p.name for p in config.plans), "no-such-plan"])}, optional=caller),
    }
    return st.sampled_from(sorted(fields)).flatmap(lambda name: fields[name].map(lambda f: (name, f)))


def read_outcome(router, name, fields, now):
    """(outcome, offers, message) and the reply's other fields of a read-out on the router itself:
    refused before time passes, else read after the timers due by ``now`` fired."""
    method, key = READ_OUTS[name]
    read = getattr(router, method)
    arguments = {PARAMETERS.get(k, k): v for k, v in fields.items()}
    try:
        read(**arguments)  # at the router's own time: nothing changes
    except RoutingError as error:
        return (type(error).__name__, [], str(error)), {}
    offers = [tuple(o) for o in router.advance(now)]
    result = read(**arguments) if method in UNTIMED else read(**arguments, now=now)
    return ("ok", offers, None), {key: plain(result)}


def outcome(router, name, args, kwargs):
    """(outcome, offers, message) of the call on the router itself."""
    try:
        offers = getattr(router, name)(*args, **kwargs) or []
        return "ok", [tuple(o) for o in offers], None
    except InvalidTransitionError as error:
        return "InvalidTransitionError", [tuple(o) for o in error.offers], str(error)
    except RoutingError as error:
        return type(error).__name__, [], str(error)


def finite(value):
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(finite(v) for v in value)
    return True


def draw_session(data):
    """(config, [(request, expected)]): the expected outcome, offers, message and other reply fields."""
    config, staff = draw_centre(data)
    direct = Router(config)
    script = []
    for agent_id, site, skills in staff:
        direct.add_agent(agent_id, site, skills)
        script.append(({"op": "add_agent", "agent": agent_id, "site": site, "skills": skills, "now": 0.0},
                       ("ok", [], None), {}))
    now = 0.0
    for _ in range(data.draw(st.integers(1, 40), label="length")):
        name, args, kwargs = data.draw(events(direct.config).filter(lambda e: e[0] in SUPPORTED), label="event")
        fitting = [c for c in direct.calls() if c.state in FITTING_STATE.get(name, ())]
        if fitting and data.draw(st.booleans(), label="pick a call in a fitting state"):
            call = data.draw(st.sampled_from(fitting), label="call")
            args = (call.call_id, *args[1:])
            if name in ("accept", "reject") and data.draw(st.integers(0, 3), label="stale answer") > 0:
                args = (call.call_id, call.agent_id, *args[2:])
        args, now = with_absolute_time(name, args, now)
        request = as_request(name, args, kwargs, now)
        expected = outcome(direct, name, args, kwargs)
        if not finite(request):  # JSON has no NaN: the line is refused before the router sees it
            assert expected[0] != "ok" and expected[1] == []
            expected = ("BadRequest", [], None)
        script.append((request, expected, {"next_due": direct.next_due} if name == "advance" else {}))
        if data.draw(st.integers(0, 3), label="read the stats") == 0:
            offers = [tuple(o) for o in direct.advance(now)]
            script.append(({"op": "stats", "now": now}, ("ok", offers, None), {"stats": stats_of(direct.stats(now))}))
        if data.draw(st.integers(0, 2), label="a read-out") == 0:
            live = [c.call_id for c in direct.calls()]
            read, fields = data.draw(read_outs(direct.config, live), label="read-out")
            script.append(({"op": read, **fields, "now": now}, *read_outcome(direct, read, fields, now)))
    return config, script


def check_reply(number, request, expected, extra, reply):
    got = ("ok" if reply["ok"] else reply["error"], offers_of(reply), None if reply["ok"] else reply["message"])
    if expected[0] == "BadRequest":  # a line with NaN is not JSON: no id can be read from it
        assert "id" not in reply and got[:2] == expected[:2], (request, reply)
        return
    assert reply["id"] == number
    assert got == expected, (request, reply)
    if reply["ok"]:
        for key, value in extra.items():
            assert reply[key] == value, (request, reply)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_protocol_decides_as_the_router_itself(loop, data):
    config, script = draw_session(data)
    pipelined = data.draw(st.booleans(), label="pipelined")
    lines = [json.dumps({"id": number, **request}).encode() + b"\n" for number, (request, *_) in enumerate(script)]
    with serving(loop, Router(config)) as (_, address), Client(address) as client:
        if pipelined:  # all at once: the service reads them in batches and answers each in order
            client.send(b"".join(lines))
        for number, (line, (request, expected, extra)) in enumerate(zip(lines, script)):
            if not pipelined:
                client.send(line)
            check_reply(number, request, expected, extra, client.reply())


# ----------------------------------------------------------------------- read-outs and live changes

def test_read_outs_and_live_changes_over_a_socket(loop):
    config = Config(sites=["north", "south"], plans=[
        Plan("card", steps=[Step(require={"card": 5}), Step(after=10, require={"card": 1})]),
        Plan("vip", steps=[Step(require={"vip": 1})])])
    direct = Router(config)  # the same requests, for the explanation and the expected wait
    with serving(loop, Router(config)) as (_, address), Client(address) as client:
        def both(op, method, *args, **fields):
            reply = client.request(op, **fields)
            getattr(direct, method)(*args)
            return reply
        both("add_agent", "add_agent", "a", "north", {"card": 2}, agent="a", site="north", skills={"card": 2}, now=0)
        both("add_agent", "add_agent", "b", "south", {"card": 2}, agent="b", site="south", skills={"card": 2}, now=0)
        both("ready", "ready", "a", 0, agent="a", now=0)
        assert both("arrive", "arrive", "x", "card", 1, call="x", plan="card", now=1)["offers"] == []

        explained = client.request("explain", call="x", agents=2, now=2)
        assert explained == {"ok": True, "offers": [], "explanation": plain(direct.explain("x", 2, agents=2))}
        explanation = explained["explanation"]
        assert explanation["call"]["state"] == "waiting" and explanation["next_step_at"] == 11
        assert explanation["agents"] == [] and explanation["unmet"] and explanation["rank"] == 1
        assert client.request("call", call="x", now=2)["call"] == {
            "call_id": "x", "plan": "card", "state": "waiting", "since": 1, "step": 0, "arrival": 1, "wait": 1,
            "agent_id": None}
        assert client.request("agent", agent="a", now=2)["agent"] == {
            "agent_id": "a", "site": "north", "state": "ready", "since": 0, "reason": None, "call_id": None}
        assert [c["call_id"] for c in client.request("calls", now=2)["calls"]] == ["x"]
        assert [(a["agent_id"], a["state"]) for a in client.request("agents", now=2)["agents"]] == [
            ("a", "ready"), ("b", "offline")]
        wait = client.request("expected_wait", plan="card", value=1, now=2)
        assert wait == {"ok": True, "offers": [], "wait": direct.expected_wait("card", 2, value=1)}
        assert isinstance(wait["wait"], float)
        assert client.request("expected_wait", plan="vip", now=2)["wait"] is None  # nobody holds vip

        # Refused read-outs change nothing, even at a later now: x's escalation at 11 has not fired.
        for op, fields, error in [("explain", {"call": "ghost"}, "UnknownIdError"),
                                  ("explain", {"call": "x", "agents": -1}, "InvalidArgumentError"),
                                  ("call", {"call": "ghost"}, "UnknownIdError"),
                                  ("agent", {"agent": "ghost"}, "UnknownIdError"),
                                  ("expected_wait", {"plan": "nope"}, "UnknownIdError"),
                                  ("expected_wait", {"plan": "card", "region": "mars"}, "UnknownIdError")]:
            reply = client.request(op, **fields, now=50)
            assert (reply["ok"], reply["error"], "offers" in reply) == (False, error, False), reply
        assert client.request("call", call="x", now=3) == {"ok": True, "offers": [], "call": {
            "call_id": "x", "plan": "card", "state": "waiting", "since": 1, "step": 0, "arrival": 1, "wait": 2,
            "agent_id": None}}

        assert client.request("reprioritize", call="x", value=3, priority=1.5, now=3) == {"ok": True, "offers": []}
        assert client.request("explain", call="x", now=3)["explanation"]["priority"]["extra"] == 1.5
        # a now holds card 5: the waiting call goes to it at once.
        assert offers_of(client.request("set_skills", agent="a", skills={"card": 5}, now=4)) == [("x", "a", 4)]
        assert client.request("arrive", call="y", plan="card", now=5)["offers"] == []
        assert client.request("transfer", call="y", plan="vip", now=6) == {"ok": True, "offers": []}
        assert client.request("call", call="y", now=6)["call"]["plan"] == "vip"
        assert client.request("transfer", call="x", plan="vip", now=6)["error"] == "InvalidTransitionError"
        assert client.request("ready", agent="b", now=7)["offers"] == []  # card 2 only: not for vip
        assert offers_of(client.request("set_skills", agent="b", skills={"vip": 1}, site="north", now=8)) == [
            ("y", "b", 8)]
        assert client.request("agent", agent="b", now=8)["agent"]["site"] == "north"

        refused = client.request("remove_agent", agent="a", now=9)  # it holds x
        assert (refused["error"], "offers" in refused) == ("InvalidTransitionError", False)
        client.request("accept", call="x", agent="a", now=9)
        client.request("hangup", call="x", now=10)
        assert client.request("remove_agent", agent="a", now=10) == {"ok": True, "offers": []}
        assert client.request("agent", agent="a", now=10)["error"] == "UnknownIdError"

        client.request("add_agent", agent="c", site="south", skills={"card": 1}, now=10)
        client.request("ready", agent="c", now=10)
        assert client.request("arrive", call="z", plan="card", now=12)["offers"] == []  # card 5 until 22
        table = config.to_dict()
        for bad in ({"sites": ["north"]}, {**table, "plans": [{"name": "card", "stepz": []}]},
                    {**table, "plans": [{"name": "card"}]},  # y's plan vip is gone
                    {**table, "sites": ["north"]}):  # c's site is gone
            reply = client.request("reconfigure", routing=bad, now=13)
            assert (reply["error"], "offers" in reply) == ("ConfigError", False), reply
        table["plans"][0]["steps"] = [{"require": {"card": 1}}]
        assert offers_of(client.request("reconfigure", routing=table, now=14)) == [("z", "c", 14)]
        assert client.request("reconfigure", routing=[table], now=14)["error"] == "BadRequest"


# ----------------------------------------------------------------------- garbage changes nothing

GARBAGE_CONFIG = Config(
    sites=["north", "south"], regions={"r1": {"north": 0, "south": 1}}, default_distance=2, offer_timeout=15.0,
    plans=[Plan("card", steps=[Step(require={"card": 5}, max_distance=0), Step(after=10, require={"card": 1})],
                wrapup=5.0),
           Plan("vip", steps=[Step(require={"vip": 3})], base_priority=100.0)])


def valid_session():
    """A session with escalations, an offer time-out, wrap-ups ending and a refused late answer."""
    r = [{"op": "subscribe", "now": 0},
         {"op": "add_agent", "agent": "a1", "site": "north", "skills": {"card": 6}, "now": 0},
         {"op": "add_agent", "agent": "a2", "site": "south", "skills": {"card": 3}, "wrapup": 2.5, "now": 0},
         {"op": "add_agent", "agent": 3, "site": "north", "skills": {"card": 2, "vip": 5}, "now": 0},
         {"op": "ready", "agent": "a1", "now": 0}, {"op": "ready", "agent": "a2", "now": 0.5},
         {"op": "arrive", "call": "c1", "plan": "card", "region": "r1", "now": 1},
         {"op": "arrive", "call": "c2", "plan": "card", "region": "r1", "value": 2, "now": 2},
         {"op": "arrive", "call": 3, "plan": "vip", "now": 2.5},
         {"op": "accept", "call": "c1", "agent": "a1", "now": 3},
         {"op": "ready", "agent": 3, "now": 4},
         {"op": "arrive", "call": "c4", "plan": "card", "now": 5},
         {"op": "accept", "call": 3, "agent": 3, "now": 6},
         {"op": "stats", "now": 11},  # nothing due yet: c2 reaches its second step at 12
         {"op": "advance", "now": 12.5},  # c2 reaches step 1 and goes to a2
         {"op": "hangup", "call": "c1", "now": 20},  # a1 wraps up until 25
         {"op": "accept", "call": "c2", "agent": "a1", "now": 21},  # a late answer from the wrong agent
         {"op": "advance", "now": 26},  # a1 ready again: c4 goes to it; c2's offer to a2 still rings
         {"op": "stats", "now": 28},  # c2's offer to a2 timed out at 27.5: a2 not ready, c2 waits
         {"op": "ready", "agent": "a2", "now": 29},
         {"op": "reject", "call": "c4", "agent": "a1", "now": 30},
         {"op": "hangup", "call": 3, "now": 31},
         {"op": "ready", "agent": "a1", "now": 32},
         {"op": "abandon", "call": "c2", "now": 33},
         {"op": "stats", "now": 40}]
    return [{"id": f"v{i}", **request} for i, request in enumerate(r)]


def garbage(previous_now):
    """(line, error name or None for no reply): every kind of bad line, at the last valid time."""
    t = json.dumps(previous_now)
    later = json.dumps(previous_now + 100).encode()
    huge = b'{"op":"ready","agent":"' + b"x" * MAX_LINE + b'","now":' + t.encode() + b"}"
    return [
        (b"hello", "BadRequest"), (b"\xff\xfe{}", "BadRequest"), (b'{"op":"ready",', "BadRequest"),
        (b'{"op":"ready","agent":"a1","now":NaN}', "BadRequest"), (b'{"op":"stats","now":1e999}', "BadRequest"),
        (b'{"op":"stats","now":' + t.encode() + b'} {"op":"stats"}', "BadRequest"),
        (b"[1, 2]", "BadRequest"), (b"42", "BadRequest"), (b"null", "BadRequest"), (b'"ready"', "BadRequest"),
        (b'{"agent":"a1","now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":5,"now":' + t.encode() + b"}", "BadRequest"),
        (b'{"id":"g","op":"fly","now":' + t.encode() + b"}", "BadRequest"),
        (b'{"id":{"a":1},"op":"stats","now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"ready","now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"ready","agent":1.5,"now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"ready","agent":true,"now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"ready","agent":["a1"],"now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"arrive","call":"z","plan":3,"now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"arrive","call":"z","plan":"card","repeats":1.5,"now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"add_agent","agent":"z","site":"north","skills":[1],"now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"ready","agent":"a1","now":"soon"}', "BadRequest"),
        (b'{"op":"ready","agent":"a1"}', "BadRequest"),
        (b'{"op":"ready","agent":"a1","colour":"red","now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"arrive","call":"z","plan":"card","region":"r1","prefered_agent":"a1","now":' + t.encode() + b"}",
         "BadRequest"),
        (huge, "BadRequest"), (huge + b"x" * (2 * MAX_LINE), "BadRequest"),
        # Refused by the router: it checks ids and values before letting time pass, so even a
        # later now changes nothing.
        (b'{"op":"ready","agent":"ghost","now":' + json.dumps(previous_now + 100).encode() + b"}", "UnknownIdError"),
        (b'{"op":"arrive","call":"z","plan":"nope","now":' + json.dumps(previous_now + 100).encode() + b"}",
         "UnknownIdError"),
        (b'{"op":"arrive","call":"z","plan":"card","region":"mars","now":' + t.encode() + b"}", "UnknownIdError"),
        (b'{"op":"hangup","call":"ghost","now":' + t.encode() + b"}", "UnknownIdError"),
        (b'{"op":"add_agent","agent":"a1","site":"north","skills":{},"now":' + t.encode() + b"}", "DuplicateIdError"),
        (b'{"op":"add_agent","agent":"z","site":"north","skills":{"card":11},"now":' + t.encode() + b"}",
         "InvalidArgumentError"),
        (b'{"op":"arrive","call":"z","plan":"card","repeats":-1,"now":' + t.encode() + b"}", "InvalidArgumentError"),
        (b'{"op":"advance","now":' + json.dumps(previous_now - 0.5).encode() + b"}", "TimeOrderError"),
        # Read-outs and live changes refused: nothing changes, even at a later now.
        (b'{"op":"explain","call":"ghost","now":' + later + b"}", "UnknownIdError"),
        (b'{"op":"explain","call":"c1","agents":true,"now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"call","call":"ghost","now":' + later + b"}", "UnknownIdError"),
        (b'{"op":"agent","agent":"ghost","now":' + later + b"}", "UnknownIdError"),
        (b'{"op":"calls","now":' + json.dumps(previous_now - 0.5).encode() + b"}", "TimeOrderError"),
        (b'{"op":"agents","call":"c1","now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"expected_wait","plan":"nope","now":' + later + b"}", "UnknownIdError"),
        (b'{"op":"expected_wait","plan":"card","repeats":-1,"now":' + later + b"}", "InvalidArgumentError"),
        (b'{"op":"set_skills","agent":"a1","skills":{"card":11},"now":' + later + b"}", "InvalidArgumentError"),
        (b'{"op":"set_skills","agent":"a1","site":"mars","now":' + later + b"}", "UnknownIdError"),
        (b'{"op":"set_skills","agent":"a1","skills":[],"now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"remove_agent","agent":"ghost","now":' + later + b"}", "UnknownIdError"),
        (b'{"op":"transfer","call":"ghost","plan":"vip","now":' + later + b"}", "UnknownIdError"),
        (b'{"op":"reprioritize","call":"ghost","value":1,"now":' + later + b"}", "UnknownIdError"),
        (b'{"op":"reconfigure","routing":"card","now":' + t.encode() + b"}", "BadRequest"),
        (b'{"op":"reconfigure","routing":{"sites":["north"]},"now":' + later + b"}", "ConfigError"),
        (b'{"op":"reconfigure","routing":{"sites":["north"],"plans":[{"name":"card","steps":[{"afterwards":1}]}]},'
         b'"now":' + later + b"}", "ConfigError"),
        (b'{"op":"reconfigure","routing":{"sites":["north"],"plans":[{"name":"card"},{"name":"vip"}],'
         b'"regions":{"r1":{"north":0}}},"now":' + later + b"}", "ConfigError"),  # agent a2 is in the south
        # Impossible transitions are checked after the timers due by now fired; at the last
        # valid time none is left to fire, so nothing changes.
        (b'{"op":"accept","call":"ghost","agent":"a1","now":' + t.encode() + b"}", "InvalidTransitionError"),
        (b"", None), (b"  \t", None),  # blank lines are no requests: no reply
    ]


GARBAGE_KINDS = len(garbage(0.0))


def run_session(loop, stream, chunk):
    """Sends the byte lines in chunks of ``chunk`` bytes; returns the replies and events, in order."""
    data = b"".join(line + b"\n" for line in stream)
    expected_replies = sum(1 for line in stream if line.strip())
    with serving(loop, Router(GARBAGE_CONFIG)) as (_, address), Client(address) as client:
        done = threading.Event()

        def send():
            try:
                for start in range(0, len(data), chunk):
                    client.send(data[start:start + chunk])
            finally:
                done.set()
        sender = threading.Thread(target=send)
        sender.start()
        replies = [client.reply() for _ in range(expected_replies)]
        sender.join(10)
        # A request's events come before its reply: all are in now. Then one more request,
        # late enough to fire every timer left.
        client.send(b'{"op":"stats","now":1000}\n')
        last = client.reply()
    return replies, client.events, last


@pytest.fixture(scope="module")
def clean_session(loop):
    valid = valid_session()
    return run_session(loop, [json.dumps(r).encode() for r in valid], 1 << 30)


def test_the_valid_session_does_what_its_comments_say(clean_session):
    replies, events, last = clean_session
    by_id = {r["id"]: r for r in replies}
    assert all(r["ok"] for r in replies if r["id"] != "v16"), replies
    assert by_id["v16"]["error"] == "InvalidTransitionError"
    assert offers_of(by_id["v14"]) == [("c2", "a2", 12.0)]
    assert offers_of(by_id["v17"]) == [("c4", "a1", 25.0)]
    assert by_id["v18"]["stats"]["card"]["waiting"] == 1 and offers_of(by_id["v18"]) == []
    offers = [o for r in replies for o in r.get("offers", [])] + last["offers"]
    assert [{"event": "offer", **o} for o in offers] == events and len(events) == 8


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(insertions=st.lists(st.tuples(st.integers(4, len(valid_session()) - 1), st.integers(0, GARBAGE_KINDS - 1)),
                           min_size=1, max_size=12),
       chunk=st.sampled_from([4096, 65536, 1 << 30]))
def test_garbage_anywhere_is_refused_and_changes_nothing(loop, clean_session, insertions, chunk):
    valid = valid_session()
    stream, expected_garbage = [], []
    for position, request in enumerate(valid):
        previous_now = valid[position - 1]["now"]
        for _, kind in sorted(k for k in insertions if k[0] == position):
            line, error = garbage(previous_now)[kind]
            stream.append(line)
            if error is not None:
                expected_garbage.append(error)
        stream.append(json.dumps(request).encode())
    replies, events, last = run_session(loop, stream, chunk)
    clean_replies, clean_events, clean_last = clean_session
    assert [r for r in replies if str(r.get("id", "")).startswith("v")] == clean_replies
    refused = [r for r in replies if not str(r.get("id", "")).startswith("v")]
    assert [r["error"] for r in refused] == expected_garbage
    assert all(not r["ok"] and r["message"] and "offers" not in r for r in refused)
    assert events == clean_events
    assert last == clean_last


def test_a_line_sent_a_byte_at_a_time_and_one_over_the_limit_in_small_pieces(loop):
    with serving(loop, Router(GARBAGE_CONFIG)) as (_, address), Client(address) as client:
        for byte in b'{"id":1,"op":"stats","now":0}\n':
            client.send(bytes([byte]))
        assert client.reply()["id"] == 1
        client.send(b'{"id":2,"op":"stats","now":0}\n{"op":"ready","agent":"')
        assert client.reply()["id"] == 2
        for _ in range(MAX_LINE // 4096):
            client.send(b"y" * 4096)
        client.send(b"y" * 4096)  # past the limit: refused at once, before the line ends
        refusal = client.reply()
        assert refusal == {"ok": False, "error": "BadRequest",
                           "message": f"line longer than {MAX_LINE} bytes: discarded"}
        client.send(b"y" * 100 + b'"}\n{"id":3,"op":"stats","now":0}\n')
        assert client.reply()["id"] == 3


# ----------------------------------------------------------------------- connections

def centre(agents: int):
    config = Config(sites=["s"], plans=[Plan("p", steps=[Step(require={"p": 1})])])
    return config, [{"op": "add_agent", "agent": f"a{i}", "site": "s", "skills": {"p": 1}, "now": 0}
                    for i in range(agents)] + [{"op": "ready", "agent": f"a{i}", "now": 0} for i in range(agents)]


def test_several_clients_at_once_are_each_answered_in_order_and_served_in_arrival_order(loop):
    config, setup = centre(agents=30)
    clients, calls = 4, 60
    with serving(loop, Router(config)) as (_, address):
        with Client(address) as admin:
            for request in setup:
                assert admin.request(**request)["ok"]
        replies = {}
        barrier = threading.Barrier(clients)

        def client_session(k):
            with Client(address) as client:
                lines = b"".join(json.dumps({"id": n, "op": "arrive", "call": f"k{k}c{n}", "plan": "p", "now": 1})
                                 .encode() + b"\n" for n in range(calls))
                barrier.wait(10)
                client.send(lines)
                replies[k] = [client.reply() for _ in range(calls)]
        threads = [threading.Thread(target=client_session, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        with Client(address) as admin:
            stats = admin.request("stats", now=2)["stats"]["p"]
    assert sorted(replies) == list(range(clients))
    offered = []
    for k, answers in replies.items():
        assert [r["id"] for r in answers] == list(range(calls)) and all(r["ok"] for r in answers)
        got = [bool(r["offers"]) for r in answers]
        # Equal priority: calls are offered in the order the service applied them, so on each
        # connection the offered calls are the first ones sent.
        assert got == sorted(got, reverse=True), (k, got)
        offered += [(o["call"], o["agent"]) for r in answers for o in r["offers"]]
    assert len(offered) == 30 and len({a for _, a in offered}) == 30 and len({c for c, _ in offered}) == 30
    assert stats["arrived"] == clients * calls and stats["waiting"] == clients * calls - 30


def test_site_stats_over_a_socket(loop):
    config = Config(sites=["north", "south"], plans=[Plan("card", sl_threshold=10, wrapup=3)])
    with serving(loop, Router(config)) as (_, address), Client(address) as client:
        for agent, site in (("a", "north"), ("b", "south"), ("c", "south")):
            client.request("add_agent", agent=agent, site=site, skills={"card": 1}, now=0)
        client.request("ready", agent="a", now=0)
        client.request("not_ready", agent="b", reason="training", now=0)
        assert offers_of(client.request("arrive", call="x", plan="card", now=1)) == [("x", "a", 1)]
        client.request("arrive", call="y", plan="card", now=2)
        client.request("accept", call="x", agent="a", now=5)    # waited 4 s: within 10
        client.request("hangup", call="x", now=20)              # a: wrap-up until 23, then takes y
        reply = client.request("site_stats", now=21)
        assert reply["ok"] and reply["offers"] == [] and list(reply["site_stats"]) == ["north", "south"]
        north, south = reply["site_stats"]["north"], reply["site_stats"]["south"]
        assert north == {"logged_in": 1, "ready": 0, "reserved": 0, "busy": 0, "wrapup": 1, "not_ready": 0,
                         "offline": 0, "answered": 1, "answered_within": 1, "answered_within_share": 1.0,
                         "asa": 4.0, "handled": 1, "mean_handle_time": 15.0 + 3.0}
        assert (south["logged_in"], south["not_ready"], south["offline"], south["answered"], south["asa"]) == (
            1, 1, 1, 0, None)
        # A read-out lets time pass first: a's wrap-up ends at 23 and y is offered to it.
        later = client.request("site_stats", now=24)
        assert offers_of(later) == [("y", "a", 23)] and later["site_stats"]["north"]["reserved"] == 1
        refused = client.request("site_stats", site="north", now=24)
        assert refused["error"] == "BadRequest" and "site_stats" in refused["message"]


def test_a_client_that_disconnects_loses_no_call(loop):
    config, setup = centre(agents=1)
    with serving(loop, Router(config)) as (service, address):
        with Client(address) as first:
            for request in setup:
                first.request(**request)
            assert offers_of(first.request("arrive", call="c1", plan="p", now=1)) == [("c1", "a0", 1)]
            first.request("arrive", call="c2", plan="p", now=1)
            first.send(b'{"op":"hangup","call":"c1","now":2')  # cut off mid-line: never applied
        # Abrupt close with requests in flight and replies unread.
        abrupt = Client(address)
        abrupt.send(b'{"op":"stats","now":1}\n' * 100)
        abrupt.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        abrupt.close()
        with Client(address) as second:
            stats = second.request("stats", now=2)["stats"]["p"]
            assert (stats["arrived"], stats["waiting"]) == (2, 1)
            assert second.request("accept", call="c1", agent="a0", now=3)["ok"]
            assert second.request("hangup", call="c1", now=4) == {"ok": True, "offers": [
                {"call": "c2", "agent": "a0", "time": 4}]}  # no wrap-up: a0 takes the waiting call


def test_a_subscriber_gets_every_offer_whatever_made_it(loop):
    config = Config(sites=["s"], offer_timeout=10.0,
                    plans=[Plan("p", steps=[Step(require={"p": 5}), Step(after=5, require={"p": 1})])])
    with serving(loop, Router(config)) as (_, address), Client(address) as watcher, Client(address) as switch:
        assert watcher.request("subscribe", now=0) == {"ok": True, "offers": []}
        switch.request("add_agent", agent="a", site="s", skills={"p": 1}, now=0)
        switch.request("add_agent", agent="b", site="s", skills={"p": 1}, now=0)
        switch.request("ready", agent="a", now=0)
        switch.request("arrive", call="c", plan="p", now=1)  # waits: nobody holds p at 5
        assert offers_of(switch.request("advance", now=7)) == [("c", "a", 6)]  # escalation at 6
        switch.request("ready", agent="b", now=8)
        assert offers_of(switch.request("stats", now=20)) == [("c", "b", 16)]  # a's offer timed out at 16
        assert watcher.event() == {"event": "offer", "call": "c", "agent": "a", "time": 6}
        assert watcher.event() == {"event": "offer", "call": "c", "agent": "b", "time": 16}
        assert switch.events == []  # only subscribers get events


def test_the_real_clock_fires_timers_by_itself(loop):
    config = Config(sites=["s"], offer_timeout=1.0,
                    plans=[Plan("p", steps=[Step(require={"p": 5}), Step(after=0.2, require={"p": 1})])])
    with serving(loop, Router(config), manual_clock=False) as (_, address), Client(address) as client:
        client.request("subscribe")
        for agent in ("a", "b", "c"):
            client.request("add_agent", agent=agent, site="s", skills={"p": 1})
        client.request("ready", agent="a")
        assert client.request("arrive", call="c1", plan="p")["offers"] == []  # nobody holds p at 5
        escalated = client.event()  # 0.2 s later, with no request made: step 2 admits a
        assert (escalated["call"], escalated["agent"]) == ("c1", "a")
        assert client.request("accept", call="c1", agent="a")["ok"]  # within the 1 s offer time-out
        client.request("ready", agent="b")
        client.request("ready", agent="c")
        client.request("arrive", call="c2", plan="p")
        offered = client.event()  # at step 2 0.2 s later: b, ready longer than c
        assert (offered["call"], offered["agent"]) == ("c2", "b")
        again = client.event()  # b does not answer: 1 s later the time-out re-offers the call to c
        assert (again["call"], again["agent"], again["time"]) == ("c2", "c", offered["time"] + 1.0)
        late = client.request("accept", call="c2", agent="b")
        assert late["error"] == "InvalidTransitionError" and "'b'" in late["message"]


def test_a_unix_socket_is_removed_when_the_service_stops(loop, tmp_path):
    path = tmp_path / "ccroute.sock"
    config, _ = centre(agents=0)
    with serving(loop, Router(config), listen=f"unix:{path}") as (_, address), Client(address) as client:
        assert address == f"unix:{path}" and path.exists()
        assert client.request("stats", now=0)["ok"]
        with pytest.raises(OSError, match="another process is listening"):
            loop.run(RoutingService(Router(config)).start(f"unix:{path}"))
    assert not path.exists()


def test_bad_request_is_a_routing_error_and_a_value_error():
    assert issubclass(BadRequest, RoutingError) and issubclass(BadRequest, ValueError)
    assert set(PARAMETERS) == {"agent", "call"}
