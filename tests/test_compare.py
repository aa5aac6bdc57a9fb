"""``compare`` over several days: means with confidence intervals, differences paired day by day."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ccroute import Config, ConfigError, Plan, Step
from ccroute.cli import main
from ccroute.sim import AgentGroup, Callers, Demand, HandleTime, Scenario, compare, mean_ci, run

pytest.importorskip("ccroute._core", reason="the simulator runs in the native extension, which is not built")


def small() -> Scenario:
    routing = Config(sites=["north", "south"], regions={"n": {"north": 0}},
                     plans=[Plan("q", steps=[Step(require={"x": 1}, max_distance=0),
                                             Step(after=20.0, require={"x": 1})])])
    return Scenario(routing, [Demand("q", [0.12] * 4, callers=[Callers(region="n")], handle=HandleTime(180.0),
                                     patience=120.0)],
                    [AgentGroup("n", "north", {"x": 5}, 14, [(0.0, 4 * 3600.0)]),
                     AgentGroup("s", "south", {"x": 5}, 10, [(0.0, 4 * 3600.0)])],
                    interval=3600.0, intervals=4, name="small")


def pooled(s: Scenario) -> Scenario:
    return s.with_routing(replace(s.routing, plans=[Plan("q", steps=[Step(require={"x": 1})])]))


def test_several_days_give_the_mean_and_interval_of_the_days() -> None:
    s = small()
    comparison = compare(s, {"pool": pooled(s)}, seed=2, seeds=3)
    assert comparison.seeds == 3 and len(comparison.results) == 2 and comparison.results[0].seed == 2
    days = [[run(c, seed=k).summary() for k in (2, 3, 4)] for c in (s, pooled(s))]
    table = comparison.table()
    for i in range(2):
        for kpi in ("service_level", "home_share", "asa"):
            mean, ci = mean_ci([d[kpi] for d in days[i]])
            assert table[kpi][i] == pytest.approx(mean) and table[f"{kpi}_ci"][i] == pytest.approx(ci)
        assert table["arrived"][i] == round(np.mean([d["arrived"] for d in days[i]]))
    diff = comparison.differences()
    mean, ci = mean_ci([b["service_level"] - a["service_level"] for a, b in zip(*days)])
    assert diff["service_level"][0] == pytest.approx(mean) and diff["service_level_ci"][0] == pytest.approx(ci)
    # the pool sends callers south at once: fewer at home, seed after seed
    assert diff["home_share"][0] + diff["home_share_ci"][0] < 0
    assert comparison.service_levels()["q"][1] == pytest.approx(table["service_level"][1])


def test_the_same_routing_differs_from_itself_by_nothing() -> None:
    s = small()
    diff = compare(s, {"again": s}, seed=5, seeds=2).differences()
    for column in ("service_level", "service_level_ci", "asa", "home_share", "q_sl", "q_sl_ci"):
        assert diff[column][0] == 0.0


def test_one_day_keeps_the_one_day_tables() -> None:
    s = small()
    one = compare(s, {"pool": pooled(s)}, seed=3)
    assert one.seeds == 1 and "service_level_ci" not in one.table().columns
    assert one.table()["arrived"].dtype.kind == "i"
    assert one.table()["service_level"][1] == run(pooled(s), seed=3).summary()["service_level"]


@pytest.mark.parametrize("seeds", [0, -1, 1.5, True])
def test_a_bad_number_of_days_is_refused(seeds: object) -> None:
    with pytest.raises(ConfigError, match="seeds"):
        compare(small(), {}, seeds=seeds)  # type: ignore[arg-type]


def test_the_command_prints_intervals(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = tmp_path / "small.toml"
    base.write_text(SMALL)
    pool = tmp_path / "pool.toml"
    pool.write_text('[routing]\nplans = [{ name = "q", steps = [{ require = { x = 1 } }] }]\n')
    assert main(["compare", str(base), str(pool), "--seed", "2", "--seeds", "3"]) == 0
    printed = capsys.readouterr().out
    assert "3 days (seeds 2-4" in printed and "service_level_ci" in printed and "home_share_ci" in printed
    assert "±" in printed and "differences from small" in printed
    assert main(["compare", str(base), str(pool), "--seeds", "0"]) == 2
    assert "seeds" in capsys.readouterr().err


SMALL = """
name = "small"
interval = 3600
intervals = 2

[routing]
sites = ["north", "south"]
regions = { n = { north = 0 } }
[[routing.plans]]
name = "q"
steps = [{ require = { x = 1 }, max_distance = 0 }, { after = 20, require = { x = 1 } }]

[[demand]]
plan = "q"
calls = 600
callers = [{ region = "n", weight = 1 }]
handle = { mean = 120 }
patience = 60

[[agents]]
name = "n"
site = "north"
skills = { x = 5 }
count = 8

[[agents]]
name = "s"
site = "south"
skills = { x = 5 }
count = 6
"""
