"""The routing frontier study (examples/frontier.py) and the bank day's routing chosen from it."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from ccroute.scenario import Scenario
from ccroute.sim import run
from ccroute.sweep import _cells, apply_settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BANK = EXAMPLES / "bank_day.toml"


def _study():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("frontier", EXAMPLES / "frontier.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


frontier = _study()


def test_every_cell_of_the_study_is_a_valid_routing_of_the_bank_day() -> None:
    # built, not run: a bad cell would otherwise fail minutes into the study
    base = Scenario.load(BANK)
    for grids in (frontier.grid(), frontier.variations()):
        keys, cells = _cells(grids)
        assert cells
        for cell in cells:
            apply_settings(base, dict(cell))
    assert len(_cells(frontier.grid())[1]) == 192 and len(_cells(frontier.variations())[1]) == 16


def test_the_files_are_the_cells_the_study_names() -> None:
    # the study marks the routing before (late_overflow.toml) and now (bank_day.toml) as grid
    # cells: they must be exactly those routings, or the figure would mark something else
    base = Scenario.load(BANK)
    before = Scenario.load_variant(BANK, EXAMPLES / "late_overflow.toml")
    assert apply_settings(base, frontier.BEFORE).routing == before.routing
    assert apply_settings(base, frontier.CHOSEN).routing == base.routing
    assert apply_settings(before, frontier.CHOSEN).routing == base.routing
    cells = [dict(c) for c in _cells(frontier.grid())[1]]
    assert frontier.BEFORE in cells and frontier.CHOSEN in cells


def test_region_first_is_the_bank_day_blind_to_value() -> None:
    base = Scenario.load(BANK)
    blind = Scenario.load_variant(BANK, EXAMPLES / "region_first.toml")
    for p, q in zip(base.routing.plans, blind.routing.plans):
        assert (p.name, p.steps, p.wrapup, p.sl_threshold) == (q.name, q.steps, q.wrapup, q.sl_threshold)
        assert (q.base_priority, q.value_weight, q.repeat_weight, q.aging) == (0.0, 0.0, 0.0, 1.0)


def test_the_frontier_keeps_the_points_nothing_beats() -> None:
    x = np.array([1.0, 2.0, 3.0, 2.0, 0.5, 3.0])
    y = np.array([5.0, 4.0, 1.0, 3.0, 4.0, 0.5])
    assert list(frontier.pareto(x, y)) == [0, 1, 2]


def test_the_pick_is_the_most_home_among_routings_surely_as_fast_as_the_pool() -> None:
    def row(home: float, sl: float, ci: float, language: float = 0.995) -> dict:
        return {"group": "grid", "home_share": home, "language_share": language, "service_level": 0.9 + sl,
                "service_level_diff": sl, "service_level_diff_ci": ci, "vip_sl_diff": 0.1, "vip_sl_diff_ci": 0.02}

    rows = [row(0.85, 0.01, 0.02), row(0.83, 0.01, 0.005), row(0.81, 0.02, 0.01), row(0.90, 0.02, 0.01, 0.98),
            row(0.79, 0.03, 0.01)]
    assert frontier.pick(rows) is rows[1]
    assert frontier.pick(rows[:1]) is None


def test_a_report_and_a_figure_from_a_table(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the figure needs the optional extra ccroute[plot]")
    rng = np.random.default_rng(9)
    kpis = ("service_level", "abandon_rate", "asa", "home_share", "language_share", "occupancy", "vip_sl")

    def row(name: str, group: str, settings: dict, home: float) -> dict:
        values = {k: float(rng.uniform(0.85, 0.95)) for k in kpis} | {"home_share": home}
        values |= {f"{k}_ci": 0.01 for k in kpis} | {f"{k}_diff": float(rng.uniform(-0.02, 0.02)) for k in kpis}
        values |= {f"{k}_diff_ci": 0.005 for k in kpis}
        return {"routing": name, "group": group, "seeds": 3.0, **values,
                **{k: settings.get(k, math.nan) for k in frontier.SETTINGS}, "change": ""}

    rows = [row("fifo", "reference", {}, 0.21), row("region_first", "reference", {}, 0.83),
            row("late_overflow", "grid", frontier.BEFORE, 0.835), row("bank_day", "grid", frontier.CHOSEN, 0.82),
            row("", "grid", {**frontier.CHOSEN, frontier.SPARE: 0.0}, 0.80)]
    frontier.save(rows, tmp_path / "frontier.csv")
    again = frontier.load(tmp_path / "frontier.csv")
    assert again[3]["routing"] == "bank_day" and again[3]["home_share"] == 0.82
    text = frontier.report(again)
    assert "late_overflow" in text and "bank_day" in text and "the frontier" in text
    png = frontier.plot(again, tmp_path / "frontier.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(importlib.util.find_spec("ccroute._core") is None, reason="the simulator needs the native core")
def test_the_bank_day_routing_beats_the_pool_and_keeps_callers_home_and_in_language() -> None:
    # issue 9's bar on one day (the README's table has three): at least the FIFO pool's
    # service level and VIP service level on the same callers, 80 % home, 99 % in language
    base = Scenario.load(BANK)
    day = run(base, seed=1).by_plan()
    pool = run(Scenario.load_variant(BANK, EXAMPLES / "fifo.toml"), seed=1).by_plan()
    assert day.row("all")["service_level"] >= pool.row("all")["service_level"]
    assert day.row("vip")["service_level"] >= pool.row("vip")["service_level"]
    assert day.row("all")["home_share"] >= 0.80 and day.row("all")["language_share"] >= 0.99
