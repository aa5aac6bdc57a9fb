"""The native core and the reference model decide identically on random event sequences.

Hypothesis draws a centre (sites, regions, plans with steps, weights) and a sequence of
switch events, valid and invalid, and feeds the same sequence to both routers. After
every event they must return the same offers or raise the same error class, and show
the same agent and call states, read-outs, explanations, decision logs, statistics (per
plan and per site) and next timer (and a refused transition the same message). Accepts
and rejects come mostly from the agent holding the offer, sometimes from another (a late
answer): both must refuse those alike. The reference's internal state is also checked
against the invariants of DESIGN.md §4.6.

Numbers are dyadic (multiples of 1/4, small): all arithmetic is then exact, so the
native core's precomputed orderings must equal the reference's per-decision evaluation.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import Config, InvalidTransitionError, Plan, RoutingError, Step, Weights
from ccroute.reference import ReferenceRouter
from conftest import NATIVE_MISSING, NativeRouter

SKILLS = ["card", "vip", "lang:yue", "lang:en"]
SITES = ["shanghai", "nanning", "tianjin"]
REGIONS = ["guangdong", "jiangsu", "beijing"]
AGENTS = ["a0", "a1", "a2", 3, 4, "a5"]
CALLS = ["c0", "c1", "c2", 3, 4, "c5"]

dyadic = st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0])
level = st.integers(1, 10)


@st.composite
def steps(draw):
    afters = sorted(draw(st.sets(st.sampled_from([5.0, 10.0, 15.0, 30.0]), max_size=2)))
    return [Step(after=after,
                 require=draw(st.dictionaries(st.sampled_from(SKILLS[:2]), st.integers(1, 6), max_size=2)),
                 language_level=draw(st.sampled_from([0, 0, 3, 6])),
                 max_distance=draw(st.sampled_from([None, None, 0, 1, 2])),
                 weights=Weights(*(draw(dyadic) for _ in range(4))))
            for after in [0.0, *afters]]


@st.composite
def configs(draw):
    plans = [Plan(f"p{i}", steps=draw(steps()), base_priority=draw(dyadic), value_weight=draw(dyadic),
                  repeat_weight=draw(dyadic), aging=draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])),
                  sl_threshold=draw(st.sampled_from([0.0, 10.0, 20.0])),
                  wrapup=draw(st.sampled_from([0.0, 0.0, 2.5, 5.0])))
             for i in range(draw(st.integers(1, 3)))]
    regions = {r: draw(st.dictionaries(st.sampled_from(SITES), st.integers(0, 3), max_size=3))
               for r in REGIONS[:draw(st.integers(0, 3))]}
    return Config(sites=SITES[:draw(st.integers(1, 3))] if not regions else SITES,
                  plans=plans, regions=regions, default_distance=draw(st.integers(0, 3)),
                  offer_timeout=draw(st.sampled_from([None, None, 5.0, 10.0])),
                  skills=draw(st.sampled_from([None, SKILLS])))


def mostly(valid, *faults):
    """Valid values, with a fault about one time in ten."""
    return st.sampled_from([True] * 9 + [False]).flatmap(lambda ok: valid if ok else st.sampled_from(faults))


def agent_skills(config: Config, faulty: bool):
    names = st.sampled_from(SKILLS + (["typo"] if faulty else []))
    levels = mostly(level, 0, 11) if faulty else level
    return st.dictionaries(names, levels, max_size=4)


def events(config: Config):
    """One switch event: (method name, positional args, keyword args); times are deltas."""
    agent, call = mostly(st.sampled_from(AGENTS), "nobody"), st.sampled_from(CALLS)
    dt = mostly(st.sampled_from([0.0, 0.0, 0.25, 1.0, 2.5, 5.0, 12.5, 30.0]), -1.0)  # -1: time goes back
    plan = mostly(st.sampled_from([p.name for p in config.plans]), "no-such-plan")
    region = mostly(st.sampled_from([None, *config.regions]), "atlantis")
    language = mostly(st.sampled_from([None, "lang:yue", "lang:en"]), "lang:klingon")
    site = mostly(st.sampled_from(config.sites), "paris")
    kinds = {
        "add_agent": st.tuples(agent, site, agent_skills(config, True)),
        "ready": st.tuples(agent, dt),
        "logout": st.tuples(agent, dt),
        "not_ready": st.tuples(agent, dt, st.sampled_from(["", "lunch"])),
        "arrive": st.tuples(call, plan, dt),
        "accept": st.tuples(call, agent, dt),
        "reject": st.tuples(call, agent, dt),
        "abandon": st.tuples(call, dt),
        "hangup": st.tuples(call, dt),
        "advance": st.tuples(dt),
        "set_skills": st.tuples(agent, dt),
        "remove_agent": st.tuples(agent, dt),
        "transfer": st.tuples(call, plan, dt),
        "reprioritize": st.tuples(call, dt),
        "reconfigure": st.tuples(configs(), dt),
    }
    keywords = {
        "add_agent": st.fixed_dictionaries({}, optional={"wrapup": mostly(st.sampled_from([0.0, 1.0, 7.5]), -1.0)}),
        "arrive": st.fixed_dictionaries({
            "region": region, "language": language, "value": dyadic,
            "priority": mostly(st.sampled_from([0.0, 0.0, 1.0, 4.0]), math.nan),
            "repeats": mostly(st.sampled_from([0, 0, 1, 3]), -1),
            "preferred_agent": mostly(st.sampled_from([None, None, *AGENTS[:3]]), "nobody"),
            "preferred_wait": st.sampled_from([0.0, 5.0, 20.0])}),
        "set_skills": st.fixed_dictionaries({}, optional={"skills": agent_skills(config, True), "site": site}),
        "reprioritize": st.fixed_dictionaries({}, optional={"value": mostly(dyadic, math.inf),
                                                           "priority": dyadic}),
    }
    weighted = ["add_agent", "logout", "not_ready", "reject", "abandon", "advance",
                "set_skills", "remove_agent", "transfer", "reprioritize", "reconfigure",
                *["ready", "arrive", "accept", "hangup"] * 3]
    return st.sampled_from(weighted).flatmap(
        lambda name: st.tuples(st.just(name), kinds[name], keywords.get(name, st.just({}))))


def with_absolute_time(name, args, now):
    """Replaces the time delta in args by an absolute time; returns (args, new now)."""
    if name == "add_agent":
        return args, now
    index = {"advance": 0, "arrive": 2, "accept": 2, "reject": 2, "transfer": 2}.get(name, 1)
    t = now + args[index] if args[index] >= 0 else now - 1.0
    return (*args[:index], t, *args[index + 1:]), max(now, t)


def apply(router, name, args, kwargs):
    try:
        return ("ok", getattr(router, name)(*args, **kwargs))
    except InvalidTransitionError as error:
        return (type(error), error.offers, str(error))
    except RoutingError as error:
        return (type(error), None)


def observe(router, now):
    def state(query, ident):
        try:
            return query(ident)
        except RoutingError as error:
            return type(error)
    return ([state(router.agent_state, a) for a in AGENTS], [state(router.agent_reason, a) for a in AGENTS],
            [state(router.call_state, c) for c in CALLS], router.next_due, router.stats(now), router.site_stats(),
            router.calls(now), router.agents(), [state(router.agent_info, a) for a in AGENTS],
            [state(lambda c: router.explain(c, now, agents=2), c) for c in CALLS], router.decisions(),
            forecasts(router, now))


def forecasts(router, now):
    """Expected waits of a plain caller and of a valued one with a region and language, per plan.
    (A language only where the skills are listed: in an open universe a new name is numbered.)"""
    config = router.config
    region = next(iter(config.regions), None)
    language = "lang:yue" if config.skills is not None else None
    return [(router.expected_wait(plan.name, now),
             router.expected_wait(plan.name, now, region=region, language=language, value=3.0, repeats=1))
            for plan in config.plans]


def check_invariants(ref: ReferenceRouter) -> None:
    calls = list(ref._calls.values())
    for plan in ref.config.plans:
        tally, live = ref._tallies[plan.name], [c for c in calls if c.plan is plan]
        unanswered = sum(c.state in ("waiting", "offered") for c in live)
        assert tally.arrived == unanswered + tally.answered + tally.abandoned  # nothing is lost
    for agent in ref._agents.values():
        held = [c for c in calls if c.agent is agent and c.state != "waiting"]
        expected = {"reserved": ["offered"], "busy": ["connected"]}.get(agent.state, [])
        assert [c.state for c in held] == expected, (agent, held)  # one call at most, in step
    for call in calls:  # (an offered call's agent need not be admitted now: a live change may follow the offer)
        if call.state == "waiting":
            assert not any(a.state == "ready" and ref._admits(call, a) for a in ref._agents.values())


FITTING_STATE = {"accept": ("offered",), "reject": ("offered",), "hangup": ("connected",),
                 "abandon": ("waiting", "offered"), "transfer": ("waiting",), "reprioritize": ("waiting", "offered")}


def draw_centre(data):
    """A configuration and its staff: (config, [(agent id, site, skills)])."""
    config = data.draw(configs(), label="config")
    staff = data.draw(st.lists(st.tuples(st.sampled_from(config.sites), agent_skills(config, False)),
                               min_size=2, max_size=len(AGENTS)), label="staff")
    return config, [(agent_id, site, skills) for agent_id, (site, skills) in zip(AGENTS, staff)]


def draw_event(data, reference: ReferenceRouter, now: float):
    """The next switch event, often aimed at a call in a state it fits (read off ``reference``,
    whose configuration, which a reconfiguration may have changed, the event is drawn for)."""
    name, args, kwargs = data.draw(events(reference.config), label="event")
    fitting = [c for c in reference._calls.values() if c.state in FITTING_STATE.get(name, ())]
    if fitting and data.draw(st.booleans(), label="pick a call in a fitting state"):
        call = data.draw(st.sampled_from(fitting), label="call")
        args = (call.id, *args[1:])
        if name in ("accept", "reject") and data.draw(st.integers(0, 3), label="stale answer") > 0:
            args = (call.id, call.agent.id, *args[2:])  # mostly the holder; else a stale answer
    args, now = with_absolute_time(name, args, now)
    return name, args, kwargs, now


def continue_alike(data, driver: ReferenceRouter, uninterrupted, continued, now: float, i: int) -> float:
    """One more event for a router that was interrupted (snapshot, journal) and one that was
    not: both must answer it alike and then look alike. Returns the event's time."""
    name, args, kwargs, now = draw_event(data, driver, now)
    apply(driver, name, args, kwargs)
    expected = apply(uninterrupted, name, args, kwargs)
    assert apply(continued, name, args, kwargs) == expected, (i, name, args)
    assert observe(continued, now) == observe(uninterrupted, now), (i, name, args)
    return now


def drive(data, implementations) -> None:
    config, staff = draw_centre(data)
    routers = [cls(config) for cls in implementations]
    for r in routers:
        r.log_decisions(capacity=50)
        for agent_id, site, skills in staff:
            r.add_agent(agent_id, site, skills)
    now = 0.0
    for _ in range(data.draw(st.integers(1, 60), label="length")):
        name, args, kwargs, now = draw_event(data, routers[0], now)
        results = [apply(r, name, args, kwargs) for r in routers]
        assert all(res == results[0] for res in results), (name, args, kwargs, results)
        check_invariants(routers[0])
        for r in routers[1:]:
            r._check_invariants()
        views = [observe(r, now) for r in routers]
        assert all(view == views[0] for view in views), (name, args, views)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_reference_keeps_the_invariants(data):
    drive(data, [ReferenceRouter])


@pytest.mark.skipif(NativeRouter is None, reason=str(NATIVE_MISSING))
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_native_and_reference_decide_identically(data):
    drive(data, [ReferenceRouter, NativeRouter])
