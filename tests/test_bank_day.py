"""The bank-day demo, the TOML scenario format and the command line."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ccroute import ConfigError
from ccroute.cli import main
from ccroute.scenario import Scenario
from ccroute.sim import ANSWERED, run

pytest.importorskip("ccroute._core", reason="the simulator runs in the native extension, which is not built")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BANK = EXAMPLES / "bank_day.toml"


@pytest.fixture(scope="module")
def bank_day() -> object:
    return run(Scenario.load(BANK), seed=1)


def test_the_bank_day_is_the_centre_the_issue_describes(bank_day: object) -> None:
    s = bank_day.scenario
    assert s.routing.sites == ("shanghai", "suzhou", "tianjin", "nanning", "lanzhou")
    assert len(s.routing.regions) == 34
    assert 3_800 <= sum(g.count for g in s.agents) <= 4_300
    assert 240_000 <= len(bank_day) <= 260_000
    plans = [p.name for p in s.routing.plans]
    vip = bank_day.calls["plan"] == plans.index("vip")
    assert vip.mean() == pytest.approx(0.08, abs=0.01)
    yue = bank_day.calls["language"] == bank_day.skills["lang:yue"]
    regions = list(s.routing.regions)
    assert set(np.array(regions)[np.unique(bank_day.calls["region"][yue])]) <= {"guangdong", "guangxi", "hongkong",
                                                                                 "macau"}
    assert (bank_day.calls["preferred_agent"][bank_day.calls["plan"] == plans.index("dispute")] >= 0).mean() > 0.3


def test_outbound_agents_take_only_calls_that_waited_past_the_last_step(bank_day: object) -> None:
    s = bank_day.scenario
    outbound = np.array([g.name.startswith("collections") for g in s.agents])
    answered = bank_day.calls["outcome"] == ANSWERED
    by_outbound = answered & outbound[bank_day.agent_group[np.maximum(bank_day.calls["agent"], 0)]]
    assert by_outbound.sum() > 0
    last_step = {p: plan.steps[-1].after for p, plan in enumerate(s.routing.plans)}
    assert all(w >= last_step[p] for w, p in zip(bank_day.calls["wait"][by_outbound],
                                                  bank_day.calls["plan"][by_outbound]))


def test_the_bank_day_meets_the_bar_and_keeps_callers_home(bank_day: object) -> None:
    day = bank_day.summary()
    assert day["service_level"] >= 0.85
    assert day["home_share"] > 0.8 and day["language_share"] > 0.95


def test_the_bank_day_is_reproducible(bank_day: object) -> None:
    again = run(Scenario.load(BANK), seed=1)
    for column in ("arrival", "wait", "agent", "outcome"):
        np.testing.assert_array_equal(bank_day.calls[column], again.calls[column])


def test_variants_change_only_the_routing() -> None:
    base = Scenario.load(BANK)
    fifo = Scenario.load_variant(BANK, EXAMPLES / "fifo.toml")
    assert fifo.name == "fifo"
    assert fifo.agents == base.agents and fifo.demand == base.demand
    assert fifo.routing.regions == base.routing.regions
    assert [p.name for p in fifo.routing.plans] == [p.name for p in base.routing.plans]
    assert all(len(p.steps) == 1 for p in fifo.routing.plans)


def test_simulate_prints_the_kpis_and_writes_csv_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("matplotlib", reason="plots are the optional extra ccroute[plot]")
    small = tmp_path / "small.toml"
    small.write_text(SMALL)
    assert main(["simulate", str(small), "--seed", "3", "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "service_level" in printed and "shanghai" in printed
    with open(tmp_path / "out" / "calls.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows and {"arrival", "plan", "region", "wait", "site", "outcome"} <= set(rows[0])
    assert {r["outcome"] for r in rows} <= {"answered", "abandoned", "in_system"}
    for png in ("service_level.png", "occupancy.png"):
        assert (tmp_path / "out" / png).read_bytes()[:4] == b"\x89PNG"


def test_compare_runs_the_same_callers_under_each_routing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    small = tmp_path / "small.toml"
    small.write_text(SMALL)
    pool = tmp_path / "pool.toml"
    pool.write_text('[routing]\nplans = [{ name = "card", steps = [{ require = { card = 1 } }] }]\n')
    assert main(["compare", str(small), str(pool), "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    assert "small" in printed and "pool" in printed and "home_share" in printed
    assert "differences from small" in printed and " pp" in printed


def test_a_bad_scenario_file_is_reported_by_name(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace('site = "suzhou"', 'site = "paris"'))
    assert main(["simulate", str(bad), "--no-progress"]) == 2
    assert "paris" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown"):
        Scenario.from_dict({"routing": {"sites": ["a"], "plans": [{"name": "p"}]}, "intervals": 1,
                            "demand": [{"plan": "p", "calls": 10, "curve": "nope"}]})


SMALL = """
name = "small"
interval = 1800
intervals = 4

[routing]
sites = ["shanghai", "suzhou"]
regions = { jiangsu = { suzhou = 0, shanghai = 1 } }
[[routing.plans]]
name = "card"
steps = [{ require = { card = 3 }, max_distance = 0 }, { after = 20, require = { card = 1 } }]

[curves]
flat = [1, 1, 1, 1]

[[demand]]
plan = "card"
calls = 400
curve = "flat"
callers = [{ region = "jiangsu", weight = 1 }]
handle = { mean = 120 }
patience = 60

[shift_hours]
all = [0, 2]

[rosters]
one = { all = 1.0 }

[[agents]]
name = "sz"
site = "suzhou"
skills = { card = 5 }
count = 4
roster = "one"

[[agents]]
name = "sh"
site = "shanghai"
skills = { card = 5 }
counts = { all = 3 }
"""
