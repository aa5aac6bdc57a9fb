"""Explanations and the decision log, told as a supervisor would ask: why is this caller still waiting?"""

from __future__ import annotations

import pytest

from ccroute import InvalidArgumentError, Offer, UnknownIdError
from ccroute.types import AgentScore, Decision, PriorityTerms, ScoreTerms
from test_rules import bank


def test_a_waiting_vip_explained_term_by_term(Router):
    r = Router(bank())
    r.add_agent("sh", site="shanghai", skills={"vip": 9, "lang:yue": 9})
    r.add_agent("nn", site="nanning", skills={"vip": 6, "lang:yue": 9})  # on a break: still a shared pool
    r.arrive("old", plan="vip", now=0.0, region="guangdong", language="lang:yue")
    r.arrive("rich", plan="vip", now=4.0, region="guangdong", language="lang:yue", value=0.5, repeats=1)
    r.arrive("card", plan="card", now=5.0)  # competes for no agent the VIP line could take
    e = r.explain("rich", now=10.0)
    assert e.call.step == 0 and e.next_step_at == 19.0  # the second step, 15 s after arrival
    assert e.priority == PriorityTerms(base=100.0, value=5.0, repeats=5.0, extra=0.0, aging=6.0, total=116.0)
    assert (e.rank, e.competing) == (1, 1)  # "old" has 110: "rich" goes first
    assert r.explain("old", now=10.0).rank == 2
    assert e.agents == []  # nobody is ready
    assert e.unmet == ["no agent is ready"]
    r.ready("sh", now=11.0)
    assert r.explain("rich", now=11.0).unmet == ["no ready agent works at a site within distance 0 of guangdong"]


def test_the_best_admitted_agents_with_their_score_terms(Router):
    r = Router(bank())
    for agent, skills, at in (("senior", {"card": 8}, 0.0), ("junior", {"card": 2}, 0.0), ("other", {"card": 8}, 1.0)):
        r.add_agent(agent, site="shanghai", skills=skills)
        r.ready(agent, now=at)
    r.add_agent("remote", site="nanning", skills={"card": 9})
    r.arrive("c", plan="card", now=2.0)  # offered at once to "senior": explain the alternatives
    e = r.explain("c", now=2.0, agents=2)
    assert (e.call.state, e.call.agent_id, e.rank) == ("offered", "senior", None)
    assert e.agents == [AgentScore("other", 1.0, ScoreTerms(8.0, -0.0, 0.0, 0.0, 8.0)),
                        AgentScore("junior", 0.0, ScoreTerms(2.0, -0.0, 0.0, 0.0, 2.0))]


def test_what_no_ready_agent_meets(Router):
    r = Router(bank())
    r.add_agent("mandarin", site="nanning", skills={"vip": 9})
    r.add_agent("cantonese", site="nanning", skills={"vip": 2, "lang:yue": 9})
    r.ready("mandarin", now=0.0)
    r.ready("cantonese", now=0.0)
    r.arrive("c", plan="vip", now=1.0, region="guangdong", language="lang:yue")
    # each requirement alone is met by someone, never all by one agent
    assert r.explain("c").unmet == ["no ready agent meets all of the step's requirements at once"]
    r.not_ready("cantonese", now=2.0)
    assert r.explain("c").unmet == ["no ready agent speaks lang:yue at level 5 or more"]
    r.ready("cantonese", now=2.0)
    r.not_ready("mandarin", now=2.0)
    assert r.explain("c").unmet == ["no ready agent holds vip at level 5 or more"]


def test_a_call_waiting_for_its_case_owner(Router):
    r = Router(bank())
    r.add_agent("owner", site="tianjin", skills={"dispute": 5})
    r.add_agent("other", site="tianjin", skills={"dispute": 9})
    r.not_ready("owner", now=0.0, reason="training")
    r.ready("other", now=0.0)
    r.arrive("c", plan="dispute", now=1.0, preferred_agent="owner", preferred_wait=20.0)
    e = r.explain("c")
    assert (e.call.step, e.next_step_at, e.unmet) == (None, 21.0, ["its preferred agent 'owner' is not ready"])


def test_explain_refuses_bad_input(Router):
    r = Router(bank())
    r.arrive("c", plan="card", now=5.0)
    with pytest.raises(UnknownIdError, match="'nobody'"):
        r.explain("nobody")
    with pytest.raises(InvalidArgumentError, match="-1"):
        r.explain("c", agents=-1)


def test_the_decision_log_is_off_until_asked_and_keeps_the_last(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("c0", plan="card", now=1.0)
    assert r.decisions() == []
    r.log_decisions(capacity=2)
    for i in range(1, 4):
        r.arrive(f"w{i}", plan="card", now=1.0 + i)
    r.accept("c0", "a", now=5.0)
    r.hangup("c0", now=6.0)  # zero wrap-up: "a" picks the oldest waiting call (rule 1)
    assert r.decisions() == [Decision("w1", "a", 6.0, "card", 0, "call", 4.0,
                                      PriorityTerms(0.0, 0.0, 0.0, 0.0, 4.0, 4.0), ScoreTerms(5.0, -0.0, 0.0, 0.0, 5.0))]
    r.accept("w1", "a", now=7.0)
    r.hangup("w1", now=8.0)
    r.accept("w2", "a", now=9.0)
    r.hangup("w2", now=10.0)
    assert [d.call_id for d in r.decisions()] == ["w2", "w3"]  # the ring keeps the last two
    r.log_decisions(None)
    assert r.decisions() == []


def test_a_decision_callback_sees_every_offer_and_cannot_lose_one(Router):
    r = Router(bank(offer_timeout=5.0))
    seen = []
    r.log_decisions(callback=seen.append)
    r.add_agent("a1", site="shanghai", skills={"card": 5})
    r.add_agent("a2", site="shanghai", skills={"card": 5})
    r.ready("a1", now=0.0)
    r.arrive("c", plan="card", now=1.0)
    r.ready("a2", now=2.0)
    assert r.advance(7.0) == [Offer("c", "a2", 6.0)]  # the time-out re-offered it
    assert [(d.agent_id, d.time, d.rule) for d in seen] == [("a1", 1.0, "agent"), ("a2", 6.0, "agent")]

    def broken(decision):
        raise RuntimeError("log server down")

    r.log_decisions(callback=broken)
    r.ready("a1", now=8.0)
    with pytest.warns(RuntimeWarning, match="log server down"):
        assert r.advance(12.0) == [Offer("c", "a1", 11.0)]  # the offers are not lost
