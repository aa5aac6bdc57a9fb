"""The simulator: queueing theory, conservation, replay through the Router, reproducibility."""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import Config, ConfigError, Plan, ReferenceRouter, Step, Weights
from ccroute.sim import (ABANDONED, ANSWERED, IN_SYSTEM, AgentGroup, Callers, Demand, HandleTime,
                         Scenario, run)
from ccroute.staffing import erlang_a, erlang_c

pytest.importorskip("ccroute._core", reason="the simulator runs in the native extension, which is not built")


def single_queue(agents: int, rate: float, aht: float, patience: Optional[float], hours: int) -> Scenario:
    """M/M/c (patience None) or M/M/c+M: one plan, one site, ``agents`` on all day."""
    routing = Config(sites=["s"], plans=[Plan("q", steps=[Step(require={"x": 1})], sl_threshold=20.0)])
    return Scenario(routing, [Demand("q", [rate] * hours, handle=HandleTime(aht), patience=patience)],
                    [AgentGroup("all", "s", {"x": 5}, agents, [(0.0, 3600.0 * hours)])],
                    interval=3600.0, intervals=hours)


def batch_means(result: Any, statistic: Callable[[dict[str, np.ndarray]], float],
                batches: int = 20) -> tuple[float, float]:
    """Mean and standard error of ``statistic`` over equal time batches (the first dropped as warm-up).

    Batches of many hours are close to independent, so their spread gives the error that
    the run's length leaves, and the tolerance follows from it.
    """
    calls = result.calls
    edges = np.linspace(0.0, result.scenario.horizon, batches + 2)[1:]
    values = []
    for lo, hi in zip(edges, edges[1:]):
        keep = (calls["arrival"] >= lo) & (calls["arrival"] < hi)
        values.append(statistic({k: v[keep] for k, v in calls.items()}))
    return float(np.mean(values)), float(np.std(values, ddof=1) / math.sqrt(len(values)))


def service_level(c: dict[str, np.ndarray]) -> float:
    decided = np.isin(c["outcome"], (ANSWERED, ABANDONED))
    return float(((c["outcome"] == ANSWERED) & (c["wait"] <= 20.0)).sum() / decided.sum())


def asa(c: dict[str, np.ndarray]) -> float:
    return float(c["wait"][c["outcome"] == ANSWERED].mean())


def abandon_rate(c: dict[str, np.ndarray]) -> float:
    decided = np.isin(c["outcome"], (ANSWERED, ABANDONED))
    return float((c["outcome"] == ABANDONED).sum() / decided.sum())


def assert_close(measured: tuple[float, float], expected: float, what: str) -> None:
    mean, se = measured
    assert abs(mean - expected) <= 4.5 * se, f"{what}: simulated {mean:.4f} ± {se:.4f}, theory {expected:.4f}"


# ---------------------------------------------------------------- queueing theory

def test_mmc_matches_erlang_c() -> None:
    agents, aht, rate = 20, 180.0, 17.0 / 180.0  # 85 % occupancy
    result = run(single_queue(agents, rate, aht, None, hours=500), seed=11)
    theory = erlang_c(rate, aht, agents)
    assert len(result) > 150_000
    assert_close(batch_means(result, service_level), theory.service_level(20.0), "service level")
    # ASA over answered calls; with no abandonment that is Erlang C's ASA
    assert_close(batch_means(result, asa), theory.asa, "ASA")
    occupancy = result.busy.sum() / result.staffed.sum()
    assert occupancy == pytest.approx(theory.occupancy, abs=0.01)


def test_mmc_plus_m_matches_erlang_a() -> None:
    agents, aht, rate, patience = 20, 180.0, 21.0 / 180.0, 90.0  # overloaded: only patience keeps it stable
    result = run(single_queue(agents, rate, aht, patience, hours=400), seed=12)
    theory = erlang_a(rate, aht, patience, agents)
    assert_close(batch_means(result, service_level), theory.service_level(20.0), "service level")
    assert_close(batch_means(result, abandon_rate), theory.p_abandon, "abandonment")
    assert_close(batch_means(result, asa), theory.asa_answered, "ASA of answered calls")


def test_lognormal_handle_times_keep_their_mean_and_cv() -> None:
    s = single_queue(200, 0.05, 300.0, None, hours=100)  # ample staff: handle times as drawn
    s = Scenario(s.routing, [Demand("q", [0.05] * 100, handle=HandleTime(300.0, cv=0.5, distribution="lognormal"))],
                 s.agents, interval=3600.0, intervals=100)
    h = run(s, seed=3).calls["handle"]
    se = 300.0 * 0.5 / math.sqrt(len(h))
    assert abs(h.mean() - 300.0) < 5 * se
    assert h.std() / h.mean() == pytest.approx(0.5, rel=0.05)


# ---------------------------------------------------------------- random scenarios

SITES = ["north", "south"]
REGIONS = {"n": {"north": 0, "south": 1}, "s": {"south": 0}}


@st.composite
def scenarios(draw: Any) -> Scenario:
    """Small random centres: 1–3 plans with 1–2 steps, a few agent groups with shifts."""
    hours = draw(st.integers(1, 3))
    plans, demand = [], []
    for p in range(draw(st.integers(1, 3))):
        skill = f"p{p}"
        steps = [Step(require={skill: draw(st.integers(1, 6))}, language_level=draw(st.sampled_from([0, 3])),
                      max_distance=draw(st.sampled_from([None, 0])),
                      weights=Weights(idle=draw(st.sampled_from([0.0, 0.01]))))]
        if draw(st.booleans()):
            steps.append(Step(after=draw(st.sampled_from([5.0, 30.0])), require={skill: 1}))
        plans.append(Plan(f"plan{p}", steps=steps, base_priority=draw(st.sampled_from([0.0, 50.0])),
                          value_weight=draw(st.sampled_from([0.0, 10.0])), wrapup=draw(st.sampled_from([0.0, 7.5]))))
        demand.append(Demand(
            f"plan{p}", [draw(st.sampled_from([0.0, 0.01, 0.05])) for _ in range(hours)],
            callers=[Callers(2.0, "n", "cmn"), Callers(1.0, "s", "yue"), Callers(1.0)],
            handle=HandleTime(draw(st.sampled_from([60.0, 200.0]))),
            patience=draw(st.sampled_from([None, 30.0, 120.0])), value=(0.0, 1.0),
            repeat_share=draw(st.sampled_from([0.0, 0.3])),
            case_owner_share=draw(st.sampled_from([0.0, 0.3])), case_owner_wait=20.0))
    groups = []
    for g in range(draw(st.integers(1, 4))):
        skills = {f"p{p}": draw(st.integers(1, 8)) for p in range(len(plans)) if draw(st.booleans())}
        skills.update({lang: 5 for lang in ("cmn", "yue") if draw(st.booleans())})
        start = draw(st.sampled_from([0.0, 1800.0]))
        groups.append(AgentGroup(f"g{g}", draw(st.sampled_from(SITES)), skills, draw(st.integers(0, 4)),
                                 [(start, start + draw(st.sampled_from([1800.0, 3600.0 * hours])))],
                                 wrapup=draw(st.sampled_from([None, 0.0, 12.0])),
                                 no_answer=draw(st.sampled_from([0.0, 0.2]))))
    routing = Config(sites=SITES, plans=plans, regions=REGIONS, default_distance=2,
                     offer_timeout=draw(st.sampled_from([8.0, 25.0])))
    return Scenario(routing, demand, groups, interval=3600.0, intervals=hours,
                    answer_delay=draw(st.sampled_from([0.0, 3.0])), no_answer_pause=10.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(0, 2**32))
def test_every_arrival_is_answered_abandoned_or_still_in_the_system(scenario: Scenario, seed: int) -> None:
    result = run(scenario, seed=seed)
    c = result.calls
    outcome = c["outcome"]
    assert np.isin(outcome, (ANSWERED, ABANDONED, IN_SYSTEM)).all()
    assert len(outcome) == (outcome == ANSWERED).sum() + (outcome == ABANDONED).sum() + (outcome == IN_SYSTEM).sum()
    assert (c["wait"] >= 0).all() and (c["arrival"] + c["wait"] <= scenario.horizon + 1e-9).all()
    assert ((c["agent"] >= 0) == (outcome == ANSWERED)).all()
    in_system = outcome == IN_SYSTEM
    assert np.allclose(c["arrival"][in_system] + c["wait"][in_system], scenario.horizon)
    patience = np.array([(scenario.demand_for(p.name) or Demand(p.name, [])).patience or math.inf
                         for p in scenario.routing.plans])
    assert (c["wait"][outcome == ABANDONED] > 0).all()
    assert np.isfinite(patience[c["plan"][outcome == ABANDONED]]).all()  # only impatient callers abandon
    assert (result.busy <= result.staffed + 1e-6).all()


OPS = ("ready", "logout", "arrive", "accept", "reject", "abandon", "hangup", "advance")


def replay(result: Any, router: Any) -> None:
    """Feeds the simulator's log of router calls to ``router``; each must return the logged offers,
    and each caller's expected wait (if the simulator predicted them) must be the router's."""
    s, c, log = result.scenario, result.calls, result.events_log
    plans, regions, skills = s.routing.plans, list(s.routing.regions), list(result.skills)
    for agent, group in enumerate(result.agent_group):
        g = s.agents[group]
        router.add_agent(agent, site=g.site, skills=g.skills, wrapup=g.wrapup)
    offers_of: dict[int, list[tuple[int, int, float]]] = {}
    for op, call, agent, time in zip(log["offer_op"], log["offer_call"], log["offer_agent"], log["offer_time"]):
        offers_of.setdefault(int(op), []).append((int(call), int(agent), float(time)))
    for i, (op, t, call, agent) in enumerate(zip(log["op"], log["op_time"], log["op_call"], log["op_agent"])):
        t, call, agent = float(t), int(call), int(agent)
        name = OPS[op]
        if name == "arrive":
            plan = plans[c["plan"][call]]
            owner = int(c["preferred_agent"][call])
            demand = s.demand_for(plan.name)
            caller = dict(region=regions[c["region"][call]] if c["region"][call] >= 0 else None,
                          language=skills[c["language"][call]] if c["language"][call] >= 0 else None,
                          value=float(c["value"][call]), repeats=int(c["repeats"][call]))
            if "predicted_wait" in c:
                predicted = router.expected_wait(plan.name, t, **caller)
                assert (math.nan if predicted is None else predicted) == pytest.approx(
                    float(c["predicted_wait"][call]), rel=0, abs=0, nan_ok=True), f"call {call} at {t}"
            got = router.arrive(call, plan=plan.name, now=t, **caller,
                                preferred_agent=owner if owner >= 0 else None,
                                preferred_wait=demand.case_owner_wait if owner >= 0 and demand else 0.0)
        elif name in ("ready", "logout"):
            got = getattr(router, name)(agent, t)
        elif name == "advance":
            got = router.advance(t)
        elif name in ("accept", "reject"):
            got = getattr(router, name)(call, agent, t)
        else:
            got = getattr(router, name)(call, t)
        assert [(o.call_id, o.agent_id, o.time) for o in got] == offers_of.get(i, []), f"op {i}: {name} at {t}"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenarios(), st.integers(0, 2**32))
def test_a_simulated_day_replayed_through_the_router_makes_the_same_decisions(Router: Any, scenario: Scenario,
                                                                              seed: int) -> None:
    result = run(scenario, seed=seed, record_events=True, predict_waits=True)
    replay(result, Router(scenario.routing))


def test_replay_of_a_busy_day_through_the_reference_model() -> None:
    s = single_queue(6, 0.04, 120.0, 60.0, hours=2)
    result = run(s, seed=5, record_events=True, predict_waits=True)
    assert (result.calls["outcome"] == ABANDONED).any() and len(result.events_log["offer_op"]) > 100
    assert (result.calls["predicted_wait"] > 0).sum() > 50  # it had queues to predict
    replay(result, ReferenceRouter(s.routing))


# ---------------------------------------------------------------- reproducibility

def test_same_seed_same_day_other_seed_other_day() -> None:
    s = single_queue(10, 0.05, 180.0, 60.0, hours=4)
    a, b, c = run(s, seed=1), run(s, seed=1), run(s, seed=2)
    for column in a.calls:
        assert np.array_equal(a.calls[column], b.calls[column])
    assert not np.array_equal(a.calls["arrival"][:10], c.calls["arrival"][:10])


def xoshiro_uniforms(seed: int, stream: int, n: int) -> list[float]:
    """splitmix64-seeded xoshiro256** written out in Python: the specified generator."""
    mask = 2**64 - 1
    x = seed ^ ((stream * 0xD1B54A32D192ED03) & mask)
    state = []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & mask
        z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        state.append(z ^ (z >> 31))
    rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & mask  # noqa: E731
    out = []
    for _ in range(n):
        s0, s1, s2, s3 = state
        result = (rotl((s1 * 5) & mask, 7) * 9) & mask
        t = (s1 << 17) & mask
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        state = [s0, s1, s2, s3]
        out.append((result >> 11) * 2.0**-53)
    return out


def exponential(u: float, mean: float) -> float:
    """The specified exponential draw of mean ``mean`` from the uniform ``u``."""
    return -mean * math.log(1.0 - u)


def test_arrivals_follow_the_specified_generator_so_any_machine_gets_the_same_day() -> None:
    rate = 0.05
    s = single_queue(1000, rate, 60.0, None, hours=1)
    u = xoshiro_uniforms(seed=7, stream=1, n=1)  # plan 0 draws from stream 1; its first draw is the first gap
    first = run(s, seed=7).calls["arrival"][0]
    assert first == exponential(u[0], 1.0 / rate)


def test_every_caller_follows_the_specified_draws_however_many_are_drawn_ahead() -> None:
    """A plan's stream draw by draw: the gap to its next caller (one more for each interval
    it crosses), then seven draws per caller (segment, value, repeats, handle time, patience,
    case owner share, case owner), whatever the simulator's events in between. 360 callers:
    several of the simulator's batches of callers drawn ahead."""
    rate, aht, hours, interval = 0.05, 60.0, 2, 3600.0
    calls = run(single_queue(1000, rate, aht, None, hours=hours), seed=7).calls
    draws = iter(xoshiro_uniforms(seed=7, stream=1, n=8 * len(calls["arrival"]) + 100))

    def next_arrival(t: float) -> Optional[float]:
        while int(t / interval) < hours:
            end = (int(t / interval) + 1) * interval
            candidate = t + exponential(next(draws), 1.0 / rate)
            if candidate < end:
                return candidate
            t = end
        return None

    arrival, handle = [], []
    t = next_arrival(0.0)
    while t is not None:
        arrival.append(t)
        for _ in range(3):  # segment (of one), value, repeats (repeat share 0: one draw)
            next(draws)
        handle.append(exponential(next(draws), aht))
        for _ in range(3):  # patience (none), case owner share, case owner
            next(draws)
        t = next_arrival(t)
    assert len(arrival) > 300
    assert calls["arrival"].tolist() == arrival
    assert calls["handle"].tolist() == handle


def test_other_routing_same_callers() -> None:
    s = single_queue(5, 0.05, 180.0, 60.0, hours=3)
    fifo = s.with_routing(Config(sites=["s"], plans=[Plan("q", steps=[Step(require={"x": 9})])]))
    a, b = run(s, seed=4), run(fifo, seed=4)
    for column in ("arrival", "value", "handle", "region"):
        assert np.array_equal(a.calls[column], b.calls[column])
    assert (b.calls["outcome"] != ANSWERED).all()  # nobody holds x at 9


# ---------------------------------------------------------------- interface

def test_progress_is_reported_and_a_raising_callback_stops_the_run() -> None:
    seen: list[float] = []
    run(single_queue(10, 0.05, 180.0, None, hours=2), progress=seen.append)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)

    def stop(share: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(single_queue(10, 0.05, 180.0, None, hours=2), progress=stop)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(0, 2**32))
def test_where_each_call_was_answered_follows_from_its_agent(scenario: Scenario, seed: int) -> None:
    """site / home / in_language, which the simulator fills in, read call by call from the scenario."""
    r = run(scenario, seed=seed)
    routing, c = scenario.routing, r.calls
    regions, skills = list(routing.regions), {number: name for name, number in r.skills.items()}
    for i in range(len(r)):
        agent = int(c["agent"][i])
        group = scenario.agents[int(r.agent_group[agent])] if agent >= 0 else None
        site = routing.sites.index(group.site) if group else -1
        region, language = int(c["region"][i]), int(c["language"][i])
        home = bool(group and region >= 0 and routing.regions[regions[region]].get(group.site,
                                                                                    routing.default_distance) == 0)
        in_language = bool(group and language >= 0 and skills[language] in group.skills)
        assert (c["site"][i], c["home"][i], c["in_language"][i]) == (site, home, in_language)
    assert c["home"].dtype == c["in_language"].dtype == np.bool_ and c["site"].dtype == np.int32


def test_kpi_tables_agree_with_the_calls() -> None:
    result = run(single_queue(10, 0.05, 180.0, 60.0, hours=6), seed=9)
    by_plan, by_interval = result.by_plan(), result.by_interval()
    assert by_plan.row("all")["arrived"] == len(result) == by_interval["arrived"].sum()
    assert by_plan.row("all")["answered"] == by_interval["answered"].sum() == result.by_site()["answered"].sum()
    assert by_plan.row("q")["service_level"] == pytest.approx(service_level(result.calls))
    assert len(by_interval) == 6 and (by_interval["queue_avg"] >= 0).all()
    assert "service_level" in str(by_plan)


@pytest.mark.parametrize("bad, word", [
    (lambda s: Scenario(s.routing, [Demand("nope", [0.1])], s.agents, interval=3600.0, intervals=1), "nope"),
    (lambda s: Scenario(s.routing, [Demand("q", [0.1, 0.1])], s.agents, interval=3600.0, intervals=1), "2 rates"),
    (lambda s: Scenario(s.routing, s.demand, [AgentGroup("g", "mars", {"x": 1}, 1)], interval=3600.0, intervals=1),
     "mars"),
    (lambda s: Scenario(s.routing, s.demand, [AgentGroup("g", "s", {"x": 1}, 1, no_answer=0.5)],
                        interval=3600.0, intervals=1), "offer_timeout"),
    (lambda s: Scenario(s.routing, s.demand, [AgentGroup("g", "s", {"x": 11}, 1)], interval=3600.0,
                        intervals=1), "11"),
])
def test_bad_scenarios_are_refused_naming_the_value(bad: Callable[[Scenario], Scenario], word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        run(bad(single_queue(1, 0.1, 60.0, None, hours=1)))


def test_bad_seed() -> None:
    with pytest.raises(ConfigError, match="-1"):
        run(single_queue(1, 0.1, 60.0, None, hours=1), seed=-1)


def test_columns_outlive_their_result() -> None:
    """The columns are numpy views of the core's result (no copy): they keep it alive."""
    import gc

    s = single_queue(10, 0.05, 180.0, 60.0, hours=4)
    r = run(s, seed=1)
    arrival, outcome = r.calls["arrival"], r.calls["outcome"]
    expected = arrival.copy(), outcome.copy()
    del r
    gc.collect()
    run(s, seed=2)  # reuses whatever memory was freed
    assert np.array_equal(arrival, expected[0]) and np.array_equal(outcome, expected[1])
    assert arrival.flags.writeable and arrival.dtype == np.float64 and outcome.dtype == np.int8
