"""How `arrive` takes its arguments: the native binding parses them and looks its names up by
hand (for speed), so both routers must take every way of passing them alike."""

from __future__ import annotations

import math

import pytest

from ccroute import Config, DuplicateIdError, Offer, Plan, RoutingError, Step, UnknownIdError
from test_rules import bank


def centre(Router):
    r = Router(bank())
    r.add_agent("a", site="nanning", skills={"vip": 9, "lang:yue": 9})
    r.ready("a", now=0.0)
    return r


def _fresh(text: str) -> str:
    """An str equal to ``text`` but another object (neither interned nor hashed yet)."""
    return "".join(list(text))


class Name(str):
    pass


ARGUMENTS = {
    "positional": (("c", "vip", 1.0, "guangdong", "lang:yue", 0.5, 0.0, 2), {}),
    "keywords in order": (("c",), dict(plan="vip", now=1.0, region="guangdong", language="lang:yue", value=0.5,
                                       repeats=2)),
    "keywords out of order": ((), dict(repeats=2, language="lang:yue", now=1.0, call_id="c", value=0.5,
                                       region="guangdong", plan="vip")),
    "keywords not interned": ((), {_fresh(k): v for k, v in dict(call_id="c", plan="vip", now=1.0,
                                                                region="guangdong", language="lang:yue",
                                                                value=0.5, repeats=2).items()}),
    "names equal, not the same objects": (("c", _fresh("vip"), 1.0, _fresh("guangdong"), _fresh("lang:yue"), 0.5,
                                           0.0, 2), {}),
    "names of a str subclass": (("c", Name("vip"), 1.0, Name("guangdong"), Name("lang:yue"), 0.5, 0.0, 2), {}),
}


@pytest.mark.parametrize("how", ARGUMENTS)
def test_every_way_of_passing_arrives_arguments_routes_alike(Router, how):
    r = centre(Router)
    args, kwargs = ARGUMENTS[how]
    assert r.arrive(*args, **kwargs) == [Offer("c", "a", 1.0)]
    info = r.explain("c", now=1.0)
    assert (info.call.plan, info.priority.repeats) == ("vip", 2 * bank().plans[0].repeat_weight)


@pytest.mark.parametrize("args, kwargs, named", [
    (("c", "vip"), {}, "now"),
    ((), {"plan": "vip", "now": 1.0}, "call_id"),
    (("c", "vip", 1.0), {"colour": "red"}, "colour"),
    (("c", "vip", 1.0), {"plan": "card"}, "plan"),
    (("c", "vip", 1.0), {_fresh("now"): 2.0}, "now"),
])
def test_a_call_that_does_not_fit_the_signature_is_a_type_error_naming_the_argument(Router, args, kwargs, named):
    r = centre(Router)
    with pytest.raises(TypeError, match=named):
        r.arrive(*args, **kwargs)
    assert r.calls() == [] and r.agent_info("a").state == "ready"


def test_too_many_arguments_is_a_type_error(Router):
    r = centre(Router)
    with pytest.raises(TypeError):
        r.arrive("c", "vip", 1.0, None, None, 0.0, 0.0, 0, None, 0.0, "one too many")
    assert r.calls() == []


def test_a_name_the_configuration_dropped_is_unknown_after_a_reconfiguration(Router):
    r = centre(Router)
    plan = "card"
    r.arrive("c1", plan=plan, now=1.0, region="guangdong")  # the binding has now seen these very objects
    r.abandon("c1", now=1.0)
    regions = {name: sites for name, sites in bank().regions.items() if name != "guangdong"}
    r.reconfigure(Config(sites=bank().sites, regions=regions, plans=[p for p in bank().plans if p.name != plan]),
                  now=2.0)
    with pytest.raises(UnknownIdError, match="plan 'card'"):
        r.arrive("c2", plan=plan, now=3.0)
    with pytest.raises(UnknownIdError, match="region 'guangdong'"):
        r.arrive("c2", plan="vip", now=3.0, region="guangdong")
    assert r.arrive("c2", plan="vip", now=3.0, region="jiangsu") == []  # no vip agent near Jiangsu
    assert r.call_state("c2") == "waiting"


def test_a_skill_named_after_the_router_was_built_is_a_language_at_once(Router):
    r = Router(Config(sites=["s"], plans=[Plan("p", steps=[Step(language_level=5)])]))  # an open skill list
    r.add_agent("a", site="s", skills={"lang:fr": 6})
    r.ready("a", now=0.0)
    assert r.arrive("c", plan="p", now=1.0, language=_fresh("lang:fr")) == [Offer("c", "a", 1.0)]


def test_a_call_site_passes_its_keywords_alike_every_time(Router):
    """The native parser remembers a call site's keyword names once they proved valid: calls
    from one site (one tuple of names) after the first route as the first did, with the
    values of each call, and a site whose names do not fit is refused every time."""
    r = centre(Router)
    for i, (plan, repeats) in enumerate([("vip", 2), ("card", 0), ("vip", 1)]):
        r.arrive(f"c{i}", plan=plan, now=1.0 + i, repeats=repeats)  # one site: the same names each time
    assert [(c.call_id, c.plan, c.arrival) for c in r.calls(now=3.0)] == [
        ("c0", "vip", 1.0), ("c1", "card", 2.0), ("c2", "vip", 3.0)]
    assert [r.explain(f"c{i}", now=3.0).priority.repeats for i in (0, 2)] == [
        2 * bank().plans[0].repeat_weight, 1 * bank().plans[0].repeat_weight]
    for _ in range(2):
        with pytest.raises(TypeError, match="colour"):
            r.arrive("c9", plan="vip", now=4.0, colour="red")
    assert len(r.calls()) == 3


def test_the_same_keywords_with_fewer_positional_arguments_are_checked_again(Router):
    r = centre(Router)

    def arrive(*args):
        return r.arrive(*args, plan="vip", now=1.0)  # one tuple of names, whatever the positional ones

    assert arrive("c1") == [Offer("c1", "a", 1.0)]
    with pytest.raises(TypeError, match="call_id"):
        arrive()
    with pytest.raises(TypeError, match="plan"):
        arrive("c2", "card")
    assert [c.call_id for c in r.calls()] == ["c1"]


@pytest.mark.parametrize("bad", [
    dict(plan="nope"), dict(region="nowhere"), dict(language=""), dict(preferred_agent="nobody"),
    dict(value=math.nan), dict(priority="high"), dict(repeats=-1), dict(preferred_wait=math.inf),
    dict(now=-1.0),  # before the router's last time: refused by the core itself
])
def test_an_arrival_refused_leaves_its_id_free(Router, bad):
    """The native binding files a new call's id before the checks (one probe of its id map):
    a refusal, by the binding or the core, takes it out again."""
    r = centre(Router)
    with pytest.raises(RoutingError):
        r.arrive("c", **{"plan": "vip", "now": 1.0, **bad})
    with pytest.raises(UnknownIdError):
        r.call_state("c")
    assert r.arrive("c", plan="vip", now=1.0) == [Offer("c", "a", 1.0)]
    with pytest.raises(DuplicateIdError):
        r.arrive("c", plan="card", now=1.0)
    assert r.call_state("c") == "offered"


def test_an_arrival_made_while_another_converts_its_arguments_keeps_both_ids(Router):
    """An int subclass's ``__float__`` runs inside ``arrive`` (converting ``value``), after the
    native binding filed the id under the handle the core was to give: a call arriving from
    there takes that handle, and the outer call's id must follow the handle it got."""
    r = centre(Router)  # one ready agent: the inner call takes it, the outer one waits

    inner: list[list[Offer]] = []

    class Reentrant(int):
        def __float__(self) -> float:  # (a router may convert more than once: the inner call comes once)
            if not inner:
                inner.append(r.arrive("inner", plan="vip", now=1.0))
            return 0.5

    assert r.arrive("outer", plan="vip", now=1.0, value=Reentrant(0)) == []
    assert inner == [[Offer("inner", "a", 1.0)]]
    assert (r.call_state("inner"), r.call_state("outer")) == ("offered", "waiting")
    assert r.abandon("inner", now=2.0) == [Offer("outer", "a", 2.0)]  # its agent, free again, takes the other
    assert r.call_state("outer") == "offered"
    with pytest.raises(UnknownIdError):
        r.call_state("inner")
