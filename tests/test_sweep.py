"""Sweeps: grid × replications on any executor, with the same numbers whatever runs them."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from ccroute import Config, ConfigError, Plan, Step
from ccroute.sim import AgentGroup, Demand, HandleTime, Scenario
from ccroute.sweep import apply, sweep

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
