"""Expected wait (README, "Expected wait"), in both routers: what a caller about to join would wait.

At each step: 0 past the step's start if an admitted agent is ready, else (calls ahead + 1)
handle times shared by the staffed agents it admits; the smallest, plus the ring time.
"""

from __future__ import annotations

import pytest

from ccroute import Config, InvalidArgumentError, Plan, Step, TimeOrderError, UnknownIdError

CONFIG = Config(sites=["shanghai", "nanning"], regions={"guangdong": {"nanning": 0, "shanghai": 2}},
                plans=[Plan("card", steps=[Step(require={"card": 1}, max_distance=0),
                                           Step(after=30, require={"card": 1})], wrapup=10.0),
                       Plan("vip", steps=[Step(require={"vip": 1})], base_priority=100)],
                offer_timeout=20.0)


def centre(Router):
    r = Router(CONFIG)
    r.add_agent("sh1", "shanghai", {"card": 5})
    r.add_agent("nn1", "nanning", {"card": 5, "vip": 3})
    return r


def one_handled_call(r, call="h", agent="nn1", start=0.0):
    """A card call answered after 2 s of ringing and talked 88 s: handle time 88 + the wrap-up."""
    if r.agent_state(agent) != "ready":
        r.ready(agent, start)
    r.arrive(call, "card", start)
    r.accept(call, agent, start + 2)
    r.hangup(call, start + 90)


def test_nothing_known_before_anyone_is_staffed_or_any_call_ends(Router):
    r = centre(Router)
    assert r.expected_wait("card", 0.0) is None  # nobody logged in
    r.ready("sh1", 0.0)
    assert r.expected_wait("card", 0.0) == 0.0  # a ready agent takes it at once; no ring time known yet
    r.arrive("c1", "card", 0.0)
    assert r.expected_wait("card", 0.0) is None  # all busy and no handle time observed yet


def test_recent_handle_and_answer_times_are_in_the_stats(Router):
    r = centre(Router)
    one_handled_call(r)
    stats = r.stats(100.0)["card"]
    assert (stats.handle_time, stats.answer_time) == (98.0, 2.0)
    r.advance(100.0)  # nn1 ready after wrap-up
    one_handled_call(r, "h2", start=100.0)  # the same again: the average stays
    assert r.stats(200.0)["card"].handle_time == 98.0
    r.advance(200.0)
    r.arrive("h3", "card", 200.0)
    r.accept("h3", "nn1", 210.0)
    r.hangup("h3", 310.0)
    assert r.stats(310.0)["card"].handle_time == pytest.approx(98.0 + 0.05 * (110.0 - 98.0))
    assert r.stats(310.0)["card"].answer_time == pytest.approx(2.0 + 0.05 * (10.0 - 2.0))
    assert r.stats(310.0)["vip"].handle_time is None


def test_a_ready_admitted_agent_means_only_the_ring(Router):
    r = centre(Router)
    one_handled_call(r)
    r.advance(100.0)
    assert r.expected_wait("card", 100.0, region="guangdong") == 2.0


def test_waits_for_the_calls_ahead_served_by_the_staffed_agents(Router):
    r = centre(Router)
    one_handled_call(r)  # handle time 98, ring 2
    r.ready("sh1", 100.0)
    r.advance(100.0)
    for i in range(4):  # two connect at once, two wait
        r.arrive(f"c{i}", "card", 100.0)
    assert [c.state for c in r.calls()] == ["offered", "offered", "waiting", "waiting"]
    # Two calls ahead, two staffed agents: (2 + 1) * 98 / 2 = 147, plus the ring.
    assert r.expected_wait("card", 101.0) == 147.0 + 2.0
    # A valued VIP caller is ahead of them, but the vip plan knows no handle time yet.
    assert r.expected_wait("vip", 101.0) is None


def test_the_home_site_step_then_the_wider_step(Router):
    r = centre(Router)
    one_handled_call(r)  # nn1 in wrap-up until 100; sh1 is the only other card agent
    r.ready("sh1", 95.0)
    r.arrive("c1", "card", 95.0)  # sh1 takes it
    # A Guangdong caller: its home step admits only nn1 (wrap-up: staffed, (0 + 1) * 98 / 1);
    # from 30 s any site, two staffed agents: max(30, 98 / 2).
    assert r.expected_wait("card", 96.0, region="guangdong") == 49.0 + 2.0
    r.advance(100.0)
    assert r.expected_wait("card", 100.0, region="guangdong") == 0.0 + 2.0  # nn1 ready again
    r.not_ready("nn1", 100.0, "lunch")
    # nn1 gone: the home step has nobody; the wider step: sh1 alone, max(30, (0 + 1) * 98).
    assert r.expected_wait("card", 100.0, region="guangdong") == 98.0 + 2.0


def test_higher_priority_callers_go_ahead_of_waiting_calls(Router):
    config = Config(sites=["s"], plans=[Plan("card", steps=[Step(require={"card": 1})], value_weight=10.0)])
    r = Router(config)
    r.add_agent("a", "s", {"card": 1})
    one_handled_call(r, agent="a")  # handle 88 (no wrap-up), ring 2; a is ready again at 90
    r.arrive("busy", "card", 90.0)
    r.arrive("w1", "card", 91.0, value=1.0)
    r.arrive("w2", "card", 92.0, value=1.0)
    assert r.expected_wait("card", 93.0) == 3 * 88.0 + 2.0  # behind both (their aging counts too)
    assert r.expected_wait("card", 93.0, value=5.0) == 88.0 + 2.0  # ahead of both


def test_bad_questions_are_refused_and_change_nothing(Router):
    r = centre(Router)
    one_handled_call(r)
    before = (r.calls(), r.agents(), r.stats(90.0), r.next_due)
    with pytest.raises(UnknownIdError, match="atlantis"):
        r.expected_wait("card", 90.0, region="atlantis")
    with pytest.raises(UnknownIdError, match="mortgage"):
        r.expected_wait("mortgage", 90.0)
    with pytest.raises(InvalidArgumentError, match="value"):
        r.expected_wait("card", 90.0, value=float("nan"))
    with pytest.raises(InvalidArgumentError, match="repeats"):
        r.expected_wait("card", 90.0, repeats=-1)
    with pytest.raises(TimeOrderError):
        r.expected_wait("card", 10.0)
    assert (r.calls(), r.agents(), r.stats(90.0), r.next_due) == before


def test_the_accuracy_study_sets_predictions_against_real_waits():
    """examples/expected_wait.py on a busy single queue: its predictors and their errors."""
    import importlib.util
    from pathlib import Path

    from ccroute.sim import ANSWERED, run
    from test_sim import single_queue

    spec = importlib.util.spec_from_file_location("expected_wait", Path(__file__).parents[1] / "examples" / "expected_wait.py")
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    result = run(single_queue(6, 0.045, 120.0, None, hours=3), seed=3, predict_waits=True)
    table = study.accuracy(result)
    answered = result.calls["outcome"] == ANSWERED
    assert table["answered"][0] == answered.sum() and table["mean wait"][0] == result.calls["wait"][answered].mean()
    # A queue that forms: the router's prediction is informative, and beats announcing the naive
    # figure over the answered callers of six days (not on every single day: on a few days
    # of this small, busy queue the naive figure happens to be closer).
    days = [table] + [study.accuracy(run(single_queue(6, 0.045, 120.0, None, hours=3), seed=seed, predict_waits=True))
                      for seed in (1, 2, 4, 5, 6)]
    pooled = {k: sum(t[k][0] * t["answered"][0] for t in days) / sum(t["answered"][0] for t in days)
              for k in ("ccroute MAE", "naive MAE")}
    assert pooled["ccroute MAE"] < pooled["naive MAE"]
    assert 0 < table["ccroute ±30%"][0] <= 1
    # Asterisk's holdtime is the running (3 h + w) / 4 of answered waits: never above the longest.
    assert study.asterisk(result, 0).max() <= result.calls["wait"][answered].max()
