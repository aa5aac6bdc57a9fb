"""Sweeps: grid × replications on any executor, with the same numbers whatever runs them."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from ccroute import Config, ConfigError, Plan, Step
from ccroute.sim import AgentGroup, Callers, Demand, HandleTime, Scenario
from ccroute.sweep import apply, apply_settings, sweep

pytest.importorskip("ccroute._core", reason="the simulator runs in the native extension, which is not built")


def two_sites() -> Scenario:
    routing = Config(sites=["north", "south"], regions={"n": {"north": 0}},
                     plans=[Plan("q", steps=[Step(require={"x": 1}, max_distance=0), Step(after=20.0, require={"x": 1})],
                                 value_weight=5.0)])
    return Scenario(routing, [Demand("q", [0.1] * 6, handle=HandleTime(180.0), patience=120.0, value=(0.0, 1.0))],
                    [AgentGroup("n", "north", {"x": 5}, 10, [(0.0, 6 * 3600.0)]),
                     AgentGroup("s", "south", {"x": 5}, 10, [(0.0, 6 * 3600.0)])],
                    interval=3600.0, intervals=6)


GRID = {"agents.north": [0.8, 1.2], "step.q.1.after": [10.0, 60.0]}


def test_a_grid_gives_one_row_per_combination_with_confidence_intervals() -> None:
    table = sweep(two_sites(), GRID, replications=4, seed=3)
    assert len(table) == 4
    assert table.index[0] == "agents.north=0.8, step.q.1.after=10.0"
    assert (table["service_level_ci"] > 0).all() and (table["service_level_ci"] < 0.2).all()
    low, high = table["agents.north"] == 0.8, table["agents.north"] == 1.2
    # the same callers in every cell: more agents in the north is better, cell for cell
    assert (table["service_level"][high] > table["service_level"][low]).all()
    assert (table["abandon_rate"][high] < table["abandon_rate"][low]).all()


def test_a_process_pool_gives_exactly_the_serial_numbers() -> None:
    serial = sweep(two_sites(), GRID, replications=2)
    with ProcessPoolExecutor(max_workers=2) as pool:
        parallel = sweep(two_sites(), GRID, replications=2, executor=pool)
    for column in serial.columns:
        np.testing.assert_array_equal(serial[column], parallel[column])


def test_a_dask_cluster_gives_exactly_the_serial_numbers() -> None:
    distributed = pytest.importorskip("distributed", reason="Dask is the optional extra ccroute[dask]")
    serial = sweep(two_sites(), GRID, replications=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = sweep(two_sites(), GRID, replications=2, executor=client.get_executor())
    for column in serial.columns:
        np.testing.assert_array_equal(serial[column], remote[column])


def test_grid_keys_change_what_they_name() -> None:
    s = two_sites()
    assert sum(g.count for g in apply(s, "agents", 0.5).agents) == 10
    assert [g.count for g in apply(s, "agents.south", 2).agents] == [10, 20]
    assert apply(s, "demand", 2).demand[0].rates[0] == pytest.approx(0.2)
    assert apply(s, "plan.q.value_weight", 40.0).routing.plans[0].value_weight == 40.0
    assert apply(s, "step.q.1.after", 45.0).routing.plans[0].steps[1].after == 45.0


@pytest.mark.parametrize("key, word", [("plan.nope.aging", "nope"), ("plan.q.colour", "colour"),
                                       ("step.q.5.after", "2 steps"), ("staff", "staff"),
                                       ("agents.mars", "mars")])
def test_bad_grid_keys_are_named(key: str, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        sweep(two_sites(), {key: [1]}, replications=2)


def test_one_replication_is_refused() -> None:
    with pytest.raises(ConfigError, match="replications"):
        sweep(two_sites(), GRID, replications=1)


def test_step_keys_set_any_field_of_one_step_or_every_step_of_several_plans() -> None:
    s = two_sites()
    q = apply(s, "step.q.0.language_level", 4).routing.plans[0]
    assert q.steps[0].language_level == 4 and q.steps[1].language_level == 0
    assert apply(s, "step.q.0.max_distance", None).routing.plans[0].steps[0].max_distance is None
    assert apply(s, "step.q.1.max_distance", 1).routing.plans[0].steps[1].max_distance == 1
    assert apply(s, "step.q.1.require.x", 3).routing.plans[0].steps[1].require == {"x": 3}
    assert apply(s, "step.q.1.require.y", 2).routing.plans[0].steps[1].require == {"x": 1, "y": 2}
    assert apply(s, "step.q.1.require.x", 0).routing.plans[0].steps[1].require == {}  # 0: no longer required
    every = apply(s, "step.q.*.weights.breadth", -1.0).routing.plans[0]
    assert [st.weights.breadth for st in every.steps] == [-1.0, -1.0]
    assert [st.weights.proficiency for st in every.steps] == [1.0, 1.0]  # the other terms stay

    two = Scenario(Config(sites=["north"], plans=[Plan("a", steps=[Step(), Step(after=20.0)]),
                                                   Plan("b", steps=[Step(), Step(after=30.0)])]),
                   [], [], interval=3600.0, intervals=1)
    moved = apply(two, "step.a+b.1.after", 5.0).routing.plans
    assert [p.steps[1].after for p in moved] == [5.0, 5.0]
    assert [p.aging for p in apply(two, "plan.a+b.aging", 0.0).routing.plans] == [0.0, 0.0]


def test_the_settings_of_a_cell_apply_together_so_steps_may_pass_each_other() -> None:
    early = Scenario(Config(sites=["north"], plans=[Plan("v", steps=[Step(), Step(after=3.0), Step(after=5.0)])]),
                     [], [], interval=3600.0, intervals=1)
    late = apply_settings(early, {"step.v.1.after": 8.0, "step.v.2.after": 25.0})
    assert [s.after for s in late.routing.plans[0].steps] == [0.0, 8.0, 25.0]
    with pytest.raises(ConfigError, match="step times must increase"):
        apply(early, "step.v.1.after", 8.0)  # alone, the step would start after the next one
    with pytest.raises(ConfigError, match="'step.v.1.after' = 8.0, 'step.v.2.after' = 6.0"):
        apply_settings(early, {"step.v.1.after": 8.0, "step.v.2.after": 6.0})
    assert apply_settings(early, {}) == early


def test_a_step_key_changes_what_the_router_does() -> None:
    # the first step keeps northern callers in the north (the second comes too late for
    # anyone's patience); opening it to every site sends some south, on the same callers
    s = two_sites()
    northern = replace(s, demand=[replace(s.demand[0], callers=[Callers(region="n")])])
    table = sweep(northern, {"step.q.1.after": [3000.0], "step.q.0.max_distance": [0, None]}, replications=2)
    assert table.index[1] == "step.q.1.after=3000.0, step.q.0.max_distance=None"
    assert np.isnan(table["step.q.0.max_distance"][1])
    home, level = table["home_share"], table["service_level"]
    assert home[0] == 1.0 and home[1] < 0.95
    assert level[1] > level[0]


def test_a_list_of_grids_is_their_union() -> None:
    grids = [{"step.q.1.after": [10.0, 60.0]}, {"agents.north": [0.5], "step.q.1.after": [30.0]}]
    table = sweep(two_sites(), grids, replications=2, plans=["q"])
    assert table.index == ["step.q.1.after=10.0", "step.q.1.after=60.0", "agents.north=0.5, step.q.1.after=30.0"]
    np.testing.assert_array_equal(table["step.q.1.after"], [10.0, 60.0, 30.0])
    assert np.isnan(table["agents.north"][:2]).all() and table["agents.north"][2] == 0.5
    # one plan: its own service level is the centre's
    np.testing.assert_allclose(table["q_sl"], table["service_level"])
    np.testing.assert_allclose(table["q_sl_ci"], table["service_level_ci"])


@pytest.mark.parametrize("grid, words", [
    ({"step.q.1.after": [-1.0]}, ["step.q.1.after", "-1.0", "Step.after"]),
    ({"step.q.0.language_level": [11]}, ["step.q.0.language_level", "11"]),
    ({"step.q.0.weights.charm": [1.0]}, ["weights.charm"]),
    ({"step.q.0.colour": [1]}, ["step.q.0.colour"]),
    ({"step.q+r.0.after": [0.0]}, ["unknown plan 'r'"]),
    ({"step.q.x.after": [0.0]}, ["2 steps"]),
    ({"step.q.1.after": ["soon"]}, ["numbers", "soon"]),
    ([{"step.q.1.after": [10.0]}, 3], ["maps keys"]),
])
def test_bad_settings_are_named_by_their_key(grid: object, words: list[str]) -> None:
    with pytest.raises(ConfigError) as refused:
        sweep(two_sites(), grid, replications=2)
    for word in words:
        assert word in str(refused.value)


def test_an_unknown_plan_for_its_service_level_is_refused() -> None:
    with pytest.raises(ConfigError, match="nope"):
        sweep(two_sites(), GRID, replications=2, plans=["nope"])


def test_a_baseline_gives_differences_paired_by_seed() -> None:
    s = two_sites()
    table = sweep(s, {"agents.north": [1.0, 1.5]}, replications=3, baseline=s, seed=11)
    # the cell that is the baseline differs from it by nothing, day for day
    for kpi in ("service_level", "asa", "home_share"):
        assert table[f"{kpi}_diff"][0] == 0.0 or (np.isnan(table[kpi][0]) and np.isnan(table[f"{kpi}_diff"][0]))
    assert table["service_level_diff_ci"][0] == 0.0
    # more staff: better on the same callers, and the paired interval is the narrower one
    assert table["service_level_diff"][1] == pytest.approx(table["service_level"][1] - table["service_level"][0])
    assert table["service_level_diff"][1] - table["service_level_diff_ci"][1] > 0
    assert table["service_level_diff_ci"][1] < table["service_level_ci"][1]
