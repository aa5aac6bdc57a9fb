"""Garbage between valid events changes nothing (the hardening part of issue 7).

Hypothesis drives each router (native and reference) with the equivalence suite's switch
events (tests/test_equivalence.py) and, between them, garbage: wrong types, NaN and infinite
times and values, time going backwards, huge and negative ids, unknown names, 1 MB strings,
calls that do not fit the signature. Every piece of garbage must be refused — with a
RoutingError, or a TypeError when the call does not fit the method's signature — and the
router must then show exactly what it showed before: every agent and call, the read-outs,
statistics, next timer, decision log and the state its snapshot holds. A twin router that never saw the garbage gets
every valid event too and must decide exactly alike all along.

One refusal may let time pass: an answer (accept, reject) for a call the router does not know
is a refused transition, checked after the timers due by its ``now`` fired (documented). The
twin then gets ``advance(now)``, and the error must carry the offers the twin's advance made.
Native and reference routers get the same garbage and must refuse it with the same class.

About 20 s (``python -m pytest tests/test_garbage.py``).
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import InvalidTransitionError, RoutingError
from ccroute import snapshot as snapshots
from ccroute.errors import shown
from ccroute.reference import ReferenceRouter
from conftest import NativeRouter
from test_equivalence import AGENTS, CALLS, apply, draw_centre, draw_event, observe

MB = "長" * (1 << 20)  # a 1 MB-plus string (3 bytes a character in UTF-8)


class Huge:
    """Stands for 10**5000 in hypothesis's draws, which it must print: repr() refuses that int."""

    def __repr__(self) -> str:
        return "10**5000"


HUGE = Huge()


def real(value):
    return 10**5000 if isinstance(value, Huge) else value
NEW_AGENT, NEW_CALL = "g-agent", "g-call"  # ids no valid event uses: garbage around them must not add them

WRONG_TYPES = [None, 1.5, math.nan, b"a0", bytearray(b"c0"), ["a0"], ("c0",), {"a0": 1}, True, False, 2j]
UNKNOWN_IDS = ["g-nobody", "", MB, -1, -(2**63), 2**64, 10**30, HUGE, "a0 ", "\x00", "\ud800"]
NUMBERS = [math.nan, math.inf, -math.inf, "1.0", None, b"1", [1.0], True, 10**400, -(10**400), 2j]
NAMES = ["nope", "", MB, 0, 1.5, b"p0", ["p0"], ("p0",), True, "\ud800"]
LEVELS = [0, 11, -1, 1.5, True, "5", 2**70, None, math.nan]


def wrong_id():
    return st.sampled_from(WRONG_TYPES)


def unknown_id():
    return st.sampled_from(UNKNOWN_IDS + WRONG_TYPES)


def bad_time(last: float):
    """A `now` every router must refuse: not a number, not finite, or before the last operation."""
    earlier = [] if last == -math.inf else [math.nextafter(last, -math.inf), last - 1.0, -1e300]
    return st.sampled_from(NUMBERS + earlier)


def bad_skills(config):
    closed = config.skills is not None
    names = ["", 5, None, b"card", 1.5] + (["typo", MB] if closed else [])
    return st.one_of(
        st.sampled_from([["card"], "card", 5, None, b"card", 2.5]),
        st.sampled_from(LEVELS).map(lambda level: {"card": level}),
        st.sampled_from(names).map(lambda name: {name: 3}),
    )


def bad_language(config):
    return st.sampled_from(["", 5, b"lang:en", 1.5, ["lang:en"], True] + (["lang:tlh", MB] if config.skills else []))


def garbage(data, config, twin, now: float, last: float):
    """One refused call: (method, args, kwargs). Exactly one argument is bad, the rest valid."""
    draw = data.draw
    agent = draw(st.sampled_from(AGENTS), label="agent")
    call = draw(st.sampled_from(CALLS), label="call")
    plan = config.plans[0].name
    site = config.sites[0]
    valid_arrive = {"region": None, "language": None, "value": 0.0, "priority": 0.0, "repeats": 0,
                    "preferred_agent": None, "preferred_wait": 0.0}
    kind = draw(st.sampled_from([
        "add_agent", "agent_op", "arrive", "answer", "leave", "advance", "query", "live", "signature"]),
        label="garbage")
    if kind == "add_agent":
        slot = draw(st.sampled_from(["id", "duplicate", "site", "skills", "wrapup"]), label="slot")
        args: list[Any] = [NEW_AGENT, site, {}]
        kwargs: dict[str, Any] = {}
        if slot == "id":
            args[0] = draw(wrong_id())
        elif slot == "duplicate":
            present = [a.agent_id for a in twin.agents() if a.state != "removed"]
            args[0] = draw(st.sampled_from(present)) if present else draw(wrong_id())
        elif slot == "site":
            args[1] = draw(st.sampled_from(NAMES + [None, "a0"]))
        elif slot == "skills":
            args[2] = draw(bad_skills(config))
        else:
            kwargs["wrapup"] = draw(st.sampled_from(NUMBERS[:-1] + [-1.0, -(10**400)]).filter(lambda x: x is not None))
        return "add_agent", tuple(args), kwargs
    if kind == "agent_op":
        name = draw(st.sampled_from(["ready", "logout", "not_ready"]))
        if draw(st.booleans(), label="bad agent"):
            return name, (draw(unknown_id()), now), {}
        return name, (agent, draw(bad_time(last))), {}
    if kind == "arrive":
        slot = draw(st.sampled_from(["id", "duplicate", "plan", "now", *valid_arrive]), label="slot")
        args = [NEW_CALL, plan, now]
        kwargs = dict(valid_arrive)
        if config.skills is None and draw(st.booleans(), label="new language"):
            kwargs["language"] = "lang:new"  # valid in an open skill list: refused all the same
        if slot == "id":
            args[0] = draw(wrong_id())
        elif slot == "duplicate":
            live = [c.call_id for c in twin.calls(now)]
            if not live:
                return "arrive", (NEW_CALL, "no-such-plan", now), {}
            args[0] = draw(st.sampled_from(live))
        elif slot == "plan":
            args[1] = draw(st.sampled_from(NAMES + [None]))
        elif slot == "now":
            args[2] = draw(bad_time(last))
        elif slot == "region":
            kwargs["region"] = draw(st.sampled_from(NAMES))
        elif slot == "language":
            kwargs["language"] = draw(bad_language(config))
        elif slot in ("value", "priority"):
            kwargs[slot] = draw(st.sampled_from(NUMBERS))
        elif slot == "repeats":
            kwargs["repeats"] = draw(st.sampled_from([-1, 1.5, True, "1", None, 2**32, 2**63, 10**400, math.nan]))
        elif slot == "preferred_agent":
            kwargs["preferred_agent"] = draw(unknown_id().filter(lambda x: x is not None))
        else:
            kwargs["preferred_wait"] = draw(st.sampled_from(NUMBERS + [-1.0, -0.5]))
        return "arrive", tuple(args), kwargs
    if kind == "answer":  # an unknown call is a refused transition: the timers due by now fire
        name = draw(st.sampled_from(["accept", "reject"]))
        slot = draw(st.sampled_from(["call", "agent", "now"]), label="slot")
        args = [call, agent, now]
        args[{"call": 0, "agent": 1, "now": 2}[slot]] = draw(
            {"call": unknown_id(), "agent": unknown_id(), "now": bad_time(last)}[slot])
        return name, tuple(args), {}
    if kind == "leave":
        name = draw(st.sampled_from(["abandon", "hangup"]))
        if draw(st.booleans(), label="bad call"):
            return name, (draw(unknown_id()), now), {}
        return name, (call, draw(bad_time(last))), {}
    if kind == "advance":
        return "advance", (draw(bad_time(last)),), {}
    if kind == "live":  # a supervisor's changes, each with one bad argument
        name = draw(st.sampled_from(["set_skills", "remove_agent", "transfer", "reprioritize", "reconfigure"]))
        slot = draw(st.sampled_from(["who", "now", "what"]), label="slot")
        who = draw(unknown_id()) if slot == "who" else (config if name == "reconfigure" else
                                                       agent if name in ("set_skills", "remove_agent") else call)
        when = draw(bad_time(last)) if slot == "now" else now
        if name == "reconfigure":
            return name, (draw(st.sampled_from([5, None, "config", {}, [config]])) if slot != "now" else config,
                          when), {}
        if name == "remove_agent":  # its "what" is a bad time too
            return name, (who, when if slot != "what" else draw(bad_time(last))), {}
        if name == "set_skills":
            what = {"skills": draw(bad_skills(config).filter(lambda x: x is not None))} if draw(  # None: keep
                st.booleans(), label="skills") else {
                "site": draw(st.sampled_from(NAMES))}
            return name, (who, when), what if slot == "what" else {"skills": {}}
        if name == "transfer":
            return name, (who, draw(st.sampled_from(NAMES + [None])) if slot == "what" else plan, when), {}
        bad = draw(st.sampled_from(NUMBERS).filter(lambda x: x is not None))
        return name, (who, when), ({draw(st.sampled_from(["value", "priority"])): bad} if slot == "what" else {})
    if kind == "query":
        name = draw(st.sampled_from(["call_state", "agent_state", "agent_reason", "agent_info", "call_info",
                                     "stats", "calls", "explain", "log_decisions"]))
        live = [c.call_id for c in twin.calls(now)]
        if name == "explain" and live and draw(st.booleans(), label="bad count"):
            return name, (draw(st.sampled_from(live)), None, draw(st.sampled_from([-1, 1.5, True, "3", None, 2j]))), {}
        if name == "log_decisions":  # refused: the log stays as it was
            return name, (draw(st.sampled_from([0, -1, 1.5, True, "10", 2**63, 10**400])),), {}
        if name in ("stats", "calls"):
            return name, (draw(bad_time(last).filter(lambda x: x is not None)),), {}
        if name == "call_info" and draw(st.booleans(), label="bad time"):
            return name, (call, draw(bad_time(last).filter(lambda x: x is not None))), {}
        return name, (draw(unknown_id()),), {}
    # A call that does not fit the signature: Python's TypeError, and nothing happens.
    return draw(st.sampled_from([
        ("arrive", (NEW_CALL, plan), {}),
        ("arrive", (NEW_CALL, plan, now), {"colour": "red"}),
        ("ready", (agent, now, now), {}),
        ("accept", (call,), {"now": now}),
        ("add_agent", (), {"site": site}),
        ("advance", (), {}),
    ]), label="signature")


def refusal(router, name, args, kwargs):
    """(exception class, offers of a refused transition); fails if the garbage was accepted."""
    args, kwargs = tuple(map(real, args)), {k: real(v) for k, v in kwargs.items()}
    try:
        result = getattr(router, name)(*args, **kwargs)
    except InvalidTransitionError as error:
        return InvalidTransitionError, error.offers
    except RoutingError as error:
        return type(error), None
    except TypeError as error:  # only for a call that does not fit the signature
        return TypeError, str(error)
    raise AssertionError(f"{type(router).__name__}.{name} accepted garbage {shown(args)} {shown(kwargs)}: {shown(result)}")


def state(blob: bytes) -> snapshots.State:
    """The state a snapshot holds, skills by name: how a router numbers its skill names is not
    part of its state (an open skill list numbers a name when it first sees it, even in a call
    it then refuses; no decision depends on the numbering)."""
    s = snapshots.decode(blob)
    for agent in s.agents:
        agent.levels = sorted((s.skills[skill], level) for skill, level in agent.levels)
    for call in s.calls:
        call.language = None if call.language < 0 else s.skills[call.language]
    s.skills = []
    return s


def seen(router, now):
    return observe(router, now), state(router.snapshot()), router.decisions()


def drive(data, implementations):
    config, staff = draw_centre(data)
    pairs = [(cls(config), cls(config)) for cls in implementations]  # (sees garbage, never does)
    for pair in pairs:
        for r in pair:
            r.log_decisions(capacity=20)
            for agent_id, site, skills in staff:
                r.add_agent(agent_id, site, skills)
    driver = pairs[0][1]  # the reference twin: draw_event aims events at calls it holds
    now, last = 0.0, -math.inf
    for _ in range(data.draw(st.integers(1, 40), label="length")):
        if data.draw(st.integers(0, 2), label="garbage next") == 0:
            name, args, kwargs = garbage(data, driver.config, driver, now, last)  # as reconfigured
            befores = [seen(r, now) for r, _ in pairs]
            refusals = [refusal(r, name, args, kwargs) for r, _ in pairs]
            classes = [cls for cls, _ in refusals]
            assert all(c is classes[0] for c in classes), (name, args, kwargs, classes)
            if classes[0] is InvalidTransitionError:  # time passed: the twins catch up
                t = args[2]
                for (_, twin), (_, offers) in zip(pairs, refusals):
                    assert twin.advance(t) == offers, (name, args)
                last = driver._now
            else:
                for (r, _), before in zip(pairs, befores):
                    assert seen(r, now) == before, (name, args, kwargs)
        else:
            name, args, kwargs, now = draw_event(data, driver, now)
            results = [apply(r, name, args, kwargs) for pair in pairs for r in pair]
            assert all(res == results[0] for res in results), (name, args, kwargs, results)
            last = driver._now  # the last time an operation passed its time check
        for r, twin in pairs:
            assert seen(r, now) == seen(twin, now)
            if not isinstance(r, ReferenceRouter):
                r._check_invariants()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_garbage_is_refused_and_changes_nothing(data):
    drive(data, [ReferenceRouter] + ([NativeRouter] if NativeRouter is not None else []))
