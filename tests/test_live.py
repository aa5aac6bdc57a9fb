"""Live changes, as supervisors make them during the day: skills, removals, transfers, priorities, plans."""

from __future__ import annotations

import pytest

from ccroute import (Config, ConfigError, InvalidTransitionError, Offer, Plan, Step,
                     UnknownIdError)
from test_rules import bank


def test_a_new_skill_lets_a_ready_agent_take_a_waiting_call_at_once(Router):
    r = Router(bank())
    r.add_agent("a", site="tianjin", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("d", plan="dispute", now=1.0)  # no dispute agent
    assert r.set_skills("a", now=2.0, skills={"card": 5, "dispute": 4}) == [Offer("d", "a", 2.0)]
    assert r.agent_info("a").state == "reserved"


def test_a_ready_agent_whose_skills_change_keeps_its_idle_time(Router):
    r = Router(bank())
    for agent, at in (("a", 0.0), ("b", 5.0)):
        r.add_agent(agent, site="shanghai", skills={"card": 5})
        r.ready(agent, now=at)
    r.set_skills("a", now=6.0, skills={"card": 5, "dispute": 1})  # nothing waits: still ready...
    assert r.agent_info("a").since == 0.0  # ...since 0.0, and still the longest idle
    assert r.arrive("c", plan="card", now=7.0) == [Offer("c", "a", 7.0)]


def test_moving_an_agent_to_another_site(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"vip": 9, "lang:yue": 9})
    r.ready("a", now=0.0)
    r.arrive("c", plan="vip", now=1.0, region="guangdong", language="lang:yue")  # waits for Nanning
    assert r.set_skills("a", now=2.0, site="nanning") == [Offer("c", "a", 2.0)]
    assert r.agent_info("a").site == "nanning"


def test_an_agent_holding_a_call_keeps_it_while_its_skills_change(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("c", plan="card", now=1.0)
    r.set_skills("a", now=2.0, skills={"dispute": 5})
    assert r.accept("c", "a", now=3.0) == []


def test_removing_an_agent(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("c", plan="card", now=1.0)
    with pytest.raises(InvalidTransitionError, match="'a' is reserved with call 'c'"):
        r.remove_agent("a", now=2.0)
    r.abandon("c", now=3.0)
    assert r.remove_agent("a", now=4.0) == []
    with pytest.raises(UnknownIdError):
        r.agent_info("a")
    assert r.agents() == []
    r.add_agent("a", site="nanning", skills={"vip": 3})  # the id may come back, as a new agent
    assert r.agent_info("a").site == "nanning"


def test_an_ivr_transfer_keeps_the_callers_place(Router):
    r = Router(bank())
    r.add_agent("a", site="tianjin", skills={"dispute": 5})
    r.arrive("early", plan="card", now=0.0)   # in the wrong queue for two minutes
    r.arrive("late", plan="dispute", now=60.0)
    assert r.transfer("early", "dispute", now=120.0) == []
    assert r.ready("a", now=121.0) == [Offer("early", "a", 121.0)]  # older than "late"
    stats = r.stats()
    assert (stats["card"].arrived, stats["dispute"].arrived) == (0, 2)


def test_only_a_waiting_call_is_transferred(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("c", plan="card", now=1.0)
    with pytest.raises(InvalidTransitionError, match="only a waiting call"):
        r.transfer("c", "dispute", now=2.0)
    with pytest.raises(UnknownIdError, match="'mortgage'"):
        r.transfer("c", "mortgage", now=2.0)


def test_raising_a_callers_value_moves_it_up(Router):
    r = Router(bank())
    r.add_agent("a", site="nanning", skills={"vip": 6, "lang:yue": 9})
    r.arrive("c1", plan="vip", now=0.0, region="guangdong", language="lang:yue")
    r.arrive("c2", plan="vip", now=1.0, region="guangdong", language="lang:yue")
    r.reprioritize("c2", now=2.0, value=0.5)  # +5 with the VIP plan's value weight of 10
    assert r.explain("c2").rank == 1
    assert r.ready("a", now=3.0) == [Offer("c2", "a", 3.0)]
    r.accept("c2", "a", now=4.0)
    with pytest.raises(InvalidTransitionError, match="connected"):
        r.reprioritize("c2", now=5.0, priority=9.0)


def test_reconfigure_moves_waiting_calls_to_the_new_steps(Router):
    r = Router(bank())
    r.add_agent("sh", site="shanghai", skills={"vip": 9, "lang:yue": 9})
    r.ready("sh", now=0.0)
    r.arrive("c", plan="vip", now=0.0, region="guangdong", language="lang:yue")  # Nanning only for 15 s
    quicker = [Plan("vip", steps=[Step(require={"vip": 5}, language_level=5, max_distance=0),
                                  Step(after=5, require={"vip": 1})], base_priority=100.0),
               *bank().plans[1:]]
    new = Config(sites=bank().sites, regions=bank().regions, plans=quicker)
    assert r.reconfigure(new, now=6.0) == [Offer("c", "sh", 6.0)]  # already past the new 5 s step
    assert r.config is new and r.stats()["vip"].arrived == 1


def test_reconfigure_refuses_to_drop_a_plan_a_call_is_in_and_changes_nothing(Router):
    r = Router(bank())
    r.arrive("d", plan="dispute", now=0.0)
    before = (r.calls(), r.stats(), r.next_due)
    no_disputes = Config(sites=bank().sites, regions=bank().regions, plans=bank().plans[:2])
    with pytest.raises(ConfigError, match="plan 'dispute' of call 'd' is not in the new configuration"):
        r.reconfigure(no_disputes, now=1.0)
    assert (r.calls(), r.stats(), r.next_due) == before and r.config == bank()
    r.abandon("d", now=2.0)
    r.reconfigure(no_disputes, now=3.0)
    assert list(r.stats()) == ["vip", "card"]


def test_site_tallies_follow_an_agent_that_moves_and_sites_that_are_renamed_or_dropped(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("c", plan="card", now=0.0)
    r.accept("c", "a", now=1.0)                 # answered in Shanghai
    r.set_skills("a", now=2.0, site="suzhou")   # moves during the call
    r.hangup("c", now=3.0)                      # handled in Suzhou
    sites = r.site_stats()
    assert (sites["shanghai"].answered, sites["shanghai"].handled, sites["shanghai"].logged_in) == (1, 0, 0)
    assert (sites["suzhou"].answered, sites["suzhou"].handled, sites["suzhou"].ready) == (0, 1, 1)
    # Sites kept keep their tallies whatever their new order; a site dropped loses them.
    regions = {"jiangsu": {"suzhou": 0}}
    fewer = Config(sites=["lanzhou", "suzhou"], regions=regions, plans=bank().plans)
    r.reconfigure(fewer, now=4.0)
    assert list(r.site_stats()) == ["lanzhou", "suzhou"]
    assert (r.site_stats()["suzhou"].handled, r.site_stats()["suzhou"].ready) == (1, 1)
    r.reconfigure(Config(sites=["shanghai", "suzhou"], regions=regions, plans=bank().plans), now=5.0)
    assert r.site_stats()["shanghai"].answered == 0  # back, but counting from the reconfiguration
    assert r.stats()["card"].answered == 1          # the plan's tallies do not depend on sites
