"""Each routing rule of DESIGN.md §4, told as a contact-centre story, on both routers."""

from __future__ import annotations

import pytest

from ccroute import (AgentInfo, CallInfo, Config, ConfigError, DuplicateIdError,
                     InvalidArgumentError, InvalidTransitionError, Offer, Plan, RoutingError, Step,
                     TimeOrderError, UnknownIdError, Weights)
from ccroute.types import MAX_REPEATS, MAX_STEPS

SITES = ["shanghai", "suzhou", "tianjin", "nanning", "lanzhou"]
REGIONS = {
    "guangdong": {"nanning": 0, "shanghai": 1},
    "jiangsu": {"suzhou": 0, "shanghai": 0},
    "beijing": {"tianjin": 0},
}


def bank(**overrides) -> Config:
    """A small bank centre: a VIP line (Cantonese, local first), a card line, a dispute line."""
    plans = [
        Plan("vip", steps=[
            Step(after=0, require={"vip": 5}, language_level=5, max_distance=0,
                 weights=Weights(proficiency=2.0, distance=-1.0)),
            Step(after=15, require={"vip": 1}),
        ], base_priority=100.0, value_weight=10.0, repeat_weight=5.0, aging=1.0,
            sl_threshold=20.0, wrapup=5.0),
        Plan("card", steps=[Step(require={"card": 1})], aging=1.0, wrapup=0.0),
        Plan("dispute", steps=[Step(require={"dispute": 3})], aging=1.0, wrapup=0.0),
    ]
    return Config(**{"sites": SITES, "regions": REGIONS, "default_distance": 3, "plans": plans,
                     **overrides})


def snapshot(router, agents=(), calls=(), now=3.0):
    """What an integrator can observe: states, stats, next timer."""
    return ({a: router.agent_state(a) for a in agents}, {c: router.call_state(c) for c in calls},
            router.stats(now), router.next_due)


def test_cantonese_vip_from_guangdong_goes_to_the_nanning_speaker(Router):
    r = Router(bank())
    r.add_agent("sh", site="shanghai", skills={"vip": 9, "lang:yue": 9})
    r.add_agent("nn", site="nanning", skills={"vip": 6, "lang:yue": 9})
    r.add_agent("nn-mandarin", site="nanning", skills={"vip": 10, "lang:cmn": 9})
    for agent in ("sh", "nn", "nn-mandarin"):
        assert r.ready(agent, now=0.0) == []
    offers = r.arrive("c1", plan="vip", now=1.0, region="guangdong", language="lang:yue", value=0.9)
    assert offers == [Offer("c1", "nn", 1.0)]
    assert (r.call_state("c1"), r.agent_state("nn")) == ("offered", "reserved")


def test_vip_escalates_to_the_other_sites_at_the_step_time(Router):
    r = Router(bank())
    r.add_agent("sh", site="shanghai", skills={"vip": 9, "lang:yue": 9})
    r.ready("sh", now=0.0)
    assert r.arrive("c1", plan="vip", now=2.0, region="guangdong", language="lang:yue") == []
    assert r.next_due == 17.0
    # The switch calls late; the offer still carries the escalation's own time.
    assert r.advance(30.0) == [Offer("c1", "sh", 17.0)]


def test_most_proficient_agent_wins_and_ties_go_to_the_longest_idle(Router):
    r = Router(bank())
    r.add_agent("junior", site="shanghai", skills={"card": 2})
    r.add_agent("senior", site="shanghai", skills={"card": 8})
    r.add_agent("senior2", site="shanghai", skills={"card": 8})
    r.ready("senior2", now=0.0)
    r.ready("junior", now=0.0)
    r.ready("senior", now=1.0)
    assert r.arrive("c1", plan="card", now=2.0) == [Offer("c1", "senior2", 2.0)]
    assert r.arrive("c2", plan="card", now=2.0) == [Offer("c2", "senior", 2.0)]
    assert r.arrive("c3", plan="card", now=2.0) == [Offer("c3", "junior", 2.0)]


def test_equal_agents_go_in_the_order_they_were_added(Router):
    r = Router(bank())
    r.add_agent("b", site="suzhou", skills={"card": 5})
    r.add_agent("a", site="suzhou", skills={"card": 5})
    r.ready("a", now=0.0)
    r.ready("b", now=0.0)
    assert r.arrive("c1", plan="card", now=1.0) == [Offer("c1", "b", 1.0)]


def test_a_ready_agent_takes_the_vip_before_an_older_ordinary_call(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5, "vip": 9})
    r.arrive("ordinary", plan="card", now=0.0)
    r.arrive("vip", plan="vip", now=10.0, value=1.0)
    assert r.ready("a", now=11.0) == [Offer("vip", "a", 11.0)]


def test_aging_lets_an_old_call_overtake(Router):
    plans = [Plan("low", steps=[Step()], base_priority=0.0, aging=1.0),
             Plan("high", steps=[Step()], base_priority=30.0, aging=1.0)]
    r = Router(Config(sites=["s"], plans=plans))
    r.add_agent("a", site="s")
    r.arrive("old", plan="low", now=0.0)
    r.arrive("new", plan="high", now=40.0)
    assert r.ready("a", now=45.0) == [Offer("old", "a", 45.0)]  # 45 > 30 + 5


def test_equal_priority_goes_to_the_earlier_arrival_then_the_earlier_creation(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.add_agent("b", site="shanghai", skills={"card": 5})
    r.arrive("first", plan="card", now=5.0)
    r.arrive("second", plan="card", now=5.0)
    assert r.ready("b", now=6.0) == [Offer("first", "b", 6.0)]
    assert r.ready("a", now=6.0) == [Offer("second", "a", 6.0)]


def test_a_rejected_offer_keeps_the_calls_place(Router):
    r = Router(bank())
    r.add_agent("a1", site="shanghai", skills={"card": 5})
    r.add_agent("a2", site="shanghai", skills={"card": 5})
    r.ready("a1", now=0.0)
    r.arrive("older", plan="card", now=1.0)
    r.arrive("newer", plan="card", now=2.0)
    assert r.reject("older", "a1", now=3.0) == []
    assert (r.agent_state("a1"), r.agent_reason("a1")) == ("not_ready", "rejected")
    assert r.ready("a2", now=4.0) == [Offer("older", "a2", 4.0)]
    assert r.stats()["card"].waiting == 1


def test_ring_no_answer_times_out_to_the_next_agent(Router):
    r = Router(bank(offer_timeout=8.0))
    r.add_agent("a1", site="shanghai", skills={"card": 5})
    r.add_agent("a2", site="shanghai", skills={"card": 5})
    r.ready("a1", now=0.0)
    assert r.arrive("c", plan="card", now=1.0) == [Offer("c", "a1", 1.0)]
    r.ready("a2", now=2.0)
    assert r.next_due == 9.0
    assert r.advance(10.0) == [Offer("c", "a2", 9.0)]
    assert (r.agent_state("a1"), r.agent_reason("a1")) == ("not_ready", "no answer")
    assert r.next_due == 17.0  # the new offer's own time-out


def test_a_late_answer_after_the_time_out_does_not_steal_the_reoffered_call(Router):
    r = Router(bank(offer_timeout=8.0))
    r.add_agent("a1", site="shanghai", skills={"card": 5})
    r.add_agent("a2", site="shanghai", skills={"card": 5})
    r.ready("a1", now=0.0)
    r.arrive("c", plan="card", now=1.0)
    r.ready("a2", now=2.0)
    assert r.advance(9.0) == [Offer("c", "a2", 9.0)]
    # a1's 200 OK crosses the time-out: refused, naming the call, the agent and the holder.
    with pytest.raises(InvalidTransitionError,
                       match="agent 'a1' holds no offer of call 'c': the call is offered to agent 'a2'"):
        r.accept("c", "a1", now=9.5)
    with pytest.raises(InvalidTransitionError, match="offered to agent 'a2'"):
        r.reject("c", "a1", now=9.5)
    assert (r.call_state("c"), r.agent_state("a1"), r.agent_state("a2")) == ("offered", "not_ready", "reserved")
    assert r.accept("c", "a2", now=10.0) == []
    assert r.stats()["card"].answered == 1
    with pytest.raises(InvalidTransitionError, match="connected to agent 'a2'"):
        r.accept("c", "a2", now=10.5)  # a retransmitted 200 OK


def test_an_answer_after_the_caller_hung_up_is_refused_and_changes_nothing(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("c", plan="card", now=1.0)
    r.abandon("c", now=2.0)  # the CANCEL crossed the agent's 200 OK
    with pytest.raises(InvalidTransitionError, match="call 'c': the call is not in the router"):
        r.accept("c", "a", now=2.5)
    assert r.agent_state("a") == "ready"
    assert r.stats()["card"][:3] == (1, 0, 1)


def test_wallboard_read_outs(Router):
    r = Router(bank(offer_timeout=8.0))
    r.add_agent("a1", site="shanghai", skills={"card": 5})
    r.add_agent("a2", site="nanning", skills={"vip": 6, "lang:yue": 9})
    r.ready("a1", now=0.0)
    r.arrive("c1", plan="card", now=1.0)
    r.arrive("c2", plan="vip", now=2.0, region="guangdong", language="lang:yue")
    r.accept("c1", "a1", now=3.0)
    assert r.calls(now=4.0) == [
        CallInfo("c1", "card", "connected", 3.0, 0, 1.0, 3.0, "a1"),
        CallInfo("c2", "vip", "waiting", 2.0, 0, 2.0, 2.0, None)]
    assert r.advance(20.0) == []  # c2 escalated to step 1 at 17.0: still nobody
    assert r.call_info("c2") == CallInfo("c2", "vip", "waiting", 2.0, 1, 2.0, 18.0, None)
    assert r.agents() == [AgentInfo("a1", "shanghai", "busy", 3.0, None, "c1"),
                          AgentInfo("a2", "nanning", "offline", 0.0, None, None)]
    r.not_ready("a2", now=21.0, reason="training")
    assert r.agent_info("a2") == AgentInfo("a2", "nanning", "not_ready", 21.0, "training", None)
    with pytest.raises(TimeOrderError):
        r.calls(now=5.0)


def test_a_dispute_waits_for_its_case_owner_then_anyone(Router):
    r = Router(bank())
    r.add_agent("owner", site="tianjin", skills={"dispute": 5})
    r.add_agent("other", site="tianjin", skills={"dispute": 9})
    r.ready("owner", now=0.0)
    r.arrive("first-case", plan="dispute", now=0.0, preferred_agent="owner", preferred_wait=60.0)
    r.accept("first-case", "owner", now=1.0)
    r.ready("other", now=1.0)
    # The customer calls back while the owner is still on the first call.
    assert r.arrive("callback", plan="dispute", now=10.0, preferred_agent="owner",
                    preferred_wait=60.0) == []
    assert r.hangup("first-case", now=30.0) == [Offer("callback", "owner", 30.0)]


def test_a_dispute_goes_to_anyone_once_the_owners_time_is_up(Router):
    r = Router(bank())
    r.add_agent("owner", site="tianjin", skills={"dispute": 5})
    r.add_agent("other", site="tianjin", skills={"dispute": 9})
    r.not_ready("owner", now=0.0, reason="training")
    r.ready("other", now=0.0)
    assert r.arrive("c", plan="dispute", now=1.0, preferred_agent="owner", preferred_wait=20.0) == []
    assert r.advance(25.0) == [Offer("c", "other", 21.0)]


def test_an_offline_case_owner_is_not_waited_for(Router):
    r = Router(bank())
    r.add_agent("owner", site="tianjin", skills={"dispute": 5})
    r.add_agent("other", site="tianjin", skills={"dispute": 9})
    r.ready("other", now=0.0)
    assert r.arrive("c", plan="dispute", now=1.0, preferred_agent="owner", preferred_wait=20.0) == [
        Offer("c", "other", 1.0)]


def test_wrapup_then_ready_by_itself_taking_the_next_call_at_its_end(Router):
    r = Router(bank())
    r.add_agent("a", site="nanning", skills={"vip": 6, "lang:yue": 9})
    r.ready("a", now=0.0)
    r.arrive("c1", plan="vip", now=1.0, region="guangdong", language="lang:yue")
    r.accept("c1", "a", now=2.0)
    r.arrive("c2", plan="vip", now=50.0, region="guangdong", language="lang:yue")
    assert r.hangup("c1", now=100.0) == []
    assert r.agent_state("a") == "wrapup"
    assert r.advance(200.0) == [Offer("c2", "a", 105.0)]


def test_zero_wrapup_hangup_returns_the_next_offer(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("c1", plan="card", now=1.0)
    r.accept("c1", "a", now=2.0)
    r.arrive("c2", plan="card", now=3.0)
    assert r.hangup("c1", now=10.0) == [Offer("c2", "a", 10.0)]


def test_an_agents_own_wrapup_overrides_the_plans(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5}, wrapup=12.0)
    r.ready("a", now=0.0)
    r.arrive("c1", plan="card", now=1.0)
    r.accept("c1", "a", now=2.0)
    r.hangup("c1", now=10.0)
    assert (r.agent_state("a"), r.next_due) == ("wrapup", 22.0)


def test_abandon_during_an_offer_frees_the_agent_for_the_next_call(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("c1", plan="card", now=1.0)
    r.arrive("c2", plan="card", now=2.0)
    assert r.abandon("c1", now=3.0) == [Offer("c2", "a", 3.0)]
    with pytest.raises(UnknownIdError):
        r.call_state("c1")
    assert r.stats()["card"].abandoned == 1


def test_service_level_and_asa(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"vip": 9, "lang:yue": 9})
    r.ready("a", now=0.0)
    r.arrive("fast", plan="vip", now=0.0)
    r.arrive("slow", plan="vip", now=0.0)
    r.arrive("gone", plan="vip", now=0.0)
    r.accept("fast", "a", now=4.0)
    r.abandon("gone", now=10.0)
    r.hangup("fast", now=20.0)
    r.advance(25.0)  # wrap-up ends, "slow" is offered
    r.accept("slow", "a", now=30.0)
    s = r.stats()["vip"]
    assert (s.arrived, s.answered, s.abandoned, s.answered_within) == (3, 2, 1, 1)
    assert s.service_level == pytest.approx(1 / 3)
    assert s.asa == 17.0
    assert (s.waiting, s.oldest_wait) == (0, None)


def test_site_stats_count_agents_by_state_and_calls_by_the_answering_site(Router):
    r = Router(bank())
    r.add_agent("nn", site="nanning", skills={"vip": 9, "lang:yue": 9})
    r.add_agent("sh", site="shanghai", skills={"vip": 9}, wrapup=2.0)
    r.add_agent("sh2", site="shanghai", skills={"card": 1})
    r.add_agent("gone", site="shanghai", skills={"card": 1})
    r.remove_agent("gone", now=0.0)
    r.ready("nn", now=0.0)
    r.not_ready("sh2", now=0.0, reason="training")
    r.arrive("local", plan="vip", now=0.0, region="guangdong", language="lang:yue")  # to Nanning
    r.accept("local", "nn", now=4.0)
    r.ready("sh", now=5.0)
    r.arrive("far", plan="vip", now=5.0)  # no region: any site; nn is busy
    r.accept("far", "sh", now=30.0)       # waited 25 s: beyond the 20 s threshold
    r.hangup("far", now=40.0)             # 10 s talk + sh's own 2 s wrap-up
    sites = r.site_stats()
    assert list(sites) == SITES
    nn, sh = sites["nanning"], sites["shanghai"]
    assert (nn.logged_in, nn.busy, nn.ready, nn.offline) == (1, 1, 0, 0)
    assert (nn.answered, nn.answered_within, nn.answered_within_share, nn.asa) == (1, 1, 1.0, 4.0)
    assert (nn.handled, nn.mean_handle_time) == (0, None)
    assert (sh.logged_in, sh.wrapup, sh.not_ready, sh.ready, sh.offline) == (2, 1, 1, 0, 0)  # "gone" not counted
    assert (sh.answered, sh.answered_within, sh.answered_within_share, sh.asa) == (1, 0, 0.0, 25.0)
    assert (sh.handled, sh.mean_handle_time) == (1, 12.0)
    quiet = sites["lanzhou"]
    assert quiet.logged_in == quiet.offline == quiet.answered == quiet.handled == 0
    assert (quiet.answered_within_share, quiet.asa, quiet.mean_handle_time) == (None, None, None)
    # The per-plan figures count the same answers.
    assert r.stats()["vip"].answered == nn.answered + sh.answered


def test_stats_before_anything(Router):
    s = Router(bank()).stats()["card"]
    assert (s.service_level, s.asa, s.waiting, s.oldest_wait) == (None, None, 0, None)


def test_oldest_wait(Router):
    r = Router(bank())
    r.arrive("c1", plan="card", now=5.0)
    r.arrive("c2", plan="card", now=7.0)
    assert r.stats(now=12.0)["card"].oldest_wait == 7.0


def test_integer_and_string_ids(Router):
    r = Router(bank())
    r.add_agent(7, site="shanghai", skills={"card": 5})
    r.ready(7, now=0.0)
    assert r.arrive(123456789012, plan="card", now=1.0) == [Offer(123456789012, 7, 1.0)]


def test_an_id_that_holds_its_own_offers_is_still_collected(Router):
    """Ids may be str subclasses carrying attributes; a cycle through an Offer is garbage like any other
    (the native binding leaves the garbage collector out only of Offers whose ids cannot hold one)."""
    import gc

    collected = []

    class CallId(str):
        def __del__(self) -> None:
            collected.append(str(self))

    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    call = CallId("c1")
    call.offers = r.arrive(call, plan="card", now=1.0)  # a cycle: id -> its offers -> the Offer -> id
    assert call.offers == [Offer("c1", "a", 1.0)]
    r.accept(call, "a", now=2.0)
    r.hangup(call, now=3.0)  # the router forgets the id
    del call
    gc.collect()
    assert collected == ["c1"]


def test_ended_calls_leave_and_their_id_can_come_back(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("c", plan="card", now=1.0)
    r.accept("c", "a", now=2.0)
    r.hangup("c", now=3.0)
    assert r.arrive("c", plan="card", now=4.0) == [Offer("c", "a", 4.0)]


# ---------------------------------------------------------------- bad input


def centre(Router):
    r = Router(bank())
    r.add_agent("a", site="shanghai", skills={"card": 5})
    r.add_agent("b", site="shanghai", skills={"card": 5})
    r.ready("a", now=0.0)
    r.arrive("c", plan="card", now=1.0)       # offered to a
    r.arrive("w", plan="card", now=2.0)       # waiting
    return r


def test_repeats_up_to_the_limit_count_in_full(Router):
    # The core keeps a caller's repeats in 32 bits: the largest accepted still counts exactly.
    r = Router(bank())
    r.arrive("loyal", plan="vip", now=1.0, repeats=MAX_REPEATS)
    assert r.explain("loyal", now=1.0).priority.repeats == 5.0 * MAX_REPEATS


def test_a_plan_has_at_most_max_steps_steps():
    steps = [Step(after=float(i)) for i in range(MAX_STEPS + 1)]
    with pytest.raises(ConfigError, match=f"at most {MAX_STEPS} steps, got {MAX_STEPS + 1}"):
        Plan("long", steps=steps)
    assert len(Plan("long", steps=steps[:-1]).steps) == MAX_STEPS


@pytest.mark.parametrize("operation, error, named", [
    (lambda r: r.add_agent("a", site="shanghai"), DuplicateIdError, "'a'"),
    (lambda r: r.add_agent("x", site="paris"), UnknownIdError, "'paris'"),
    (lambda r: r.add_agent("x", site="shanghai", skills={"card": 11}), InvalidArgumentError, "11"),
    (lambda r: r.add_agent("x", site="shanghai", skills={"card": 0}), InvalidArgumentError, "0"),
    (lambda r: r.add_agent(None, site="shanghai"), InvalidArgumentError, "None"),
    (lambda r: r.arrive("c", plan="card", now=3.0), DuplicateIdError, "'c'"),
    (lambda r: r.arrive("n", plan="mortgage", now=3.0), UnknownIdError, "'mortgage'"),
    (lambda r: r.arrive("n", plan="card", now=3.0, region="mars"), UnknownIdError, "'mars'"),
    (lambda r: r.arrive("n", plan="card", now=3.0, value=float("nan")), InvalidArgumentError, "nan"),
    (lambda r: r.arrive("n", plan="card", now=3.0, repeats=-1), InvalidArgumentError, "-1"),
    (lambda r: r.arrive("n", plan="card", now=3.0, repeats=2**32), InvalidArgumentError, "4294967296"),
    (lambda r: r.arrive("n", plan="card", now=3.0, preferred_agent="zz"), UnknownIdError, "'zz'"),
    (lambda r: r.arrive("n", plan="card", now=1.5), TimeOrderError, "1.5"),
    (lambda r: r.ready("nobody", now=3.0), UnknownIdError, "'nobody'"),
    (lambda r: r.ready("a", now=3.0), InvalidTransitionError, "'a'"),
    (lambda r: r.accept("w", "b", now=3.0), InvalidTransitionError, "'w'"),
    (lambda r: r.accept("c", "b", now=3.0), InvalidTransitionError, "agent 'a'"),
    (lambda r: r.accept("c", "nobody", now=3.0), UnknownIdError, "'nobody'"),
    (lambda r: r.accept(["c"], "a", now=3.0), InvalidArgumentError, "['c']"),
    (lambda r: r.hangup("c", now=3.0), InvalidTransitionError, "'c'"),
    (lambda r: r.logout("a", now=3.0), InvalidTransitionError, "'a'"),
    (lambda r: r.reject("ghost", "a", now=3.0), InvalidTransitionError, "'ghost'"),
    (lambda r: r.advance(0.5), TimeOrderError, "0.5"),
    (lambda r: r.advance(float("inf")), InvalidArgumentError, "inf"),
])
def test_bad_input_names_the_value_and_changes_nothing(Router, operation, error, named):
    r = centre(Router)
    before = snapshot(r, agents=("a", "b"), calls=("c", "w"))
    with pytest.raises(error) as raised:
        operation(r)
    assert isinstance(raised.value, RoutingError)
    assert named in str(raised.value)
    assert snapshot(r, agents=("a", "b"), calls=("c", "w")) == before


def test_unknown_ids_are_key_errors_and_bad_values_are_value_errors(Router):
    r = centre(Router)
    with pytest.raises(KeyError):
        r.agent_state("nobody")
    with pytest.raises(ValueError):
        r.add_agent("x", site="shanghai", skills={"card": 99})


@pytest.mark.parametrize("refused", [
    lambda r: r.accept("c", "a1", now=7.0),  # an answer after the time-out at 6.0
    lambda r: r.hangup("c", now=6.0),  # the offer timed out at 6.0 and went to a2: not connected
], ids=["accept", "hangup"])
def test_a_refused_operation_still_hands_over_the_offers_of_timers_that_fired(Router, refused):
    r = Router(bank(offer_timeout=5.0))
    r.add_agent("a1", site="shanghai", skills={"card": 5})
    r.add_agent("a2", site="shanghai", skills={"card": 5})
    r.ready("a1", now=0.0)
    r.arrive("c", plan="card", now=1.0)
    r.ready("a2", now=2.0)
    with pytest.raises(InvalidTransitionError) as raised:
        refused(r)
    assert raised.value.offers == [Offer("c", "a2", 6.0)]
    assert (r.call_state("c"), r.agent_state("a2")) == ("offered", "reserved")


def test_skills_outside_a_closed_list_are_unknown(Router):
    r = Router(bank(skills=["vip", "card", "dispute", "lang:yue"]))
    with pytest.raises(UnknownIdError, match="lang:yeu"):
        r.add_agent("x", site="shanghai", skills={"lang:yeu": 5})
    with pytest.raises(UnknownIdError, match="lang:xx"):
        r.arrive("c", plan="card", now=0.0, language="lang:xx")


@pytest.mark.parametrize("build, named", [
    (lambda: Config(sites=[], plans=[Plan("p")]), "sites"),
    (lambda: Config(sites=["a", "a"], plans=[Plan("p")]), "'a'"),
    (lambda: Config(sites=["a"], plans=[Plan("p"), Plan("p")]), "'p'"),
    (lambda: Config(sites=["a"], plans=[Plan("p")], regions={"r": {"b": 0}}), "'b'"),
    (lambda: Config(sites=["a"], plans=[Plan("p")], regions={"r": {"a": -1}}), "-1"),
    (lambda: Config(sites=["a"], plans=[Plan("p")], offer_timeout=0.0), "0.0"),
    (lambda: Plan("p", steps=[]), "'p'"),
    (lambda: Plan("p", steps=[Step(after=5)]), "5"),
    (lambda: Plan("p", steps=[Step(), Step(after=10), Step(after=10)]), "10"),
    (lambda: Plan("p", sl_target=1.5), "1.5"),
    (lambda: Step(require={"card": 11}), "11"),
    (lambda: Step(language_level=-1), "-1"),
    (lambda: Step(max_distance=-2), "-2"),
    (lambda: Weights(idle=float("nan")), "nan"),
])
def test_a_malformed_config_is_refused_naming_the_value(build, named):
    with pytest.raises(ConfigError) as raised:
        build()
    assert named in str(raised.value)
