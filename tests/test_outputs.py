"""Outputs of a simulated day: the per-call CSV (numpy and pyarrow writers), Parquet, KPI tables, plots.

About 4 s in all (the hypothesis tests run 150 + 100 examples of up to 60 rows).
"""

from __future__ import annotations

import csv
import io
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import Config, Plan, Step
from ccroute.cli import main
from ccroute.export import Column, csv_field, csv_text, write_csv
from ccroute.sim import ABANDONED, ANSWERED, IN_SYSTEM, AgentGroup, Callers, Demand, HandleTime, Result, Scenario, run

pytest.importorskip("ccroute._core", reason="the simulator runs in the native extension, which is not built")

try:
    import pyarrow  # noqa: F401
    PYARROW_MISSING: Optional[str] = None
except ImportError:
    PYARROW_MISSING = 'pyarrow is not installed (pip install "ccroute[parquet]")'


def need_pyarrow() -> None:
    if PYARROW_MISSING:
        print(f"skipped: {PYARROW_MISSING}")
        pytest.skip(PYARROW_MISSING)


def small_day(plan: str = "card", site: str = "suzhou") -> Scenario:
    """Two sites, a region served from one of them, two languages, impatient callers, a queue at the end."""
    routing = Config(sites=[site, "shanghai"], regions={"jiangsu": {site: 0, "shanghai": 1}},
                     plans=[Plan(plan, steps=[Step(require={"card": 3}, max_distance=0),
                                              Step(after=20, require={"card": 1})]),
                            Plan("vip", steps=[Step(require={"vip": 1})])])
    demand = [Demand(plan, [0.5, 1.2, 2.0], [Callers(3, "jiangsu", "lang:cmn"), Callers(1, None, "lang:yue"),
                                             Callers(1, "jiangsu")],
                     HandleTime(150, cv=0.8, distribution="lognormal"), patience=90, value=(-1.0, 1.0)),
              Demand("vip", [0.05, 0.1, 0.1])]
    agents = [AgentGroup("a", site, {"card": 5, "lang:cmn": 5}, 60, [(0.0, 1800.0)]),
              AgentGroup("b", "shanghai", {"card": 3, "lang:yue": 5, "vip": 2}, 40, [(0.0, 3600.0)])]
    return Scenario(routing, demand, agents, interval=600.0, intervals=3)


@pytest.fixture(scope="module")
def day() -> Result:
    return run(small_day(), seed=7)


# ------------------------------------------------------------------ the CSV's rules, row by row

def spec_csv(columns: list[Column]) -> str:
    """The CSV text as the module's docstring states it, one cell at a time."""
    lines = [",".join(c.name for c in columns)]
    for i in range(len(columns[0].values)):
        cells = []
        for c in columns:
            v = c.values[i]
            if c.labels is not None:
                cells.append(csv_field(c.labels[v]) if v >= 0 else "")
            elif c.values.dtype == bool:
                cells.append(str(int(v)))
            elif c.values.dtype.kind == "f":
                cells.append("%.3f" % v)
            else:
                cells.append(str(int(v)))
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e5, 1e5),
                   st.integers(-10**6, 10**6).map(lambda k: k / 16),                 # ties: 0.0625 → "0.062"
                   st.integers(-10**7, 10**7).map(lambda k: k / 1000 + 0.0005),      # near ties
                   st.sampled_from([0.0, -0.0, -0.0004, 2.0**53 / 1000, 1e300, 5e-324]))
NAMES = st.lists(st.one_of(st.text(max_size=8), st.sampled_from(["card", "a,b", 'say "hi"', "上海", "x\ny", ""])),
                 min_size=1, max_size=6)


@st.composite
def tables(draw: Any) -> list[Column]:
    n = draw(st.integers(1, 60))
    columns = []
    for j in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["float", "int", "bool", "named"]))
        name = f"c{j}"
        if kind == "float":
            values = np.array(draw(st.lists(FLOATS, min_size=n, max_size=n)), dtype=np.float64)
            columns.append(Column(name, values))
        elif kind == "int":
            dtype = draw(st.sampled_from([np.int8, np.int32, np.int64, np.uint64]))
            info = np.iinfo(dtype)
            ints = st.integers(int(info.min), int(info.max)) | st.integers(max(-1, int(info.min)), min(1000, int(info.max)))
            columns.append(Column(name, np.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype=dtype)))
        elif kind == "bool":
            columns.append(Column(name, np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))))
        else:
            labels = draw(NAMES)
            codes = st.integers(-1, len(labels) - 1)
            columns.append(Column(name, np.array(draw(st.lists(codes, min_size=n, max_size=n)), np.int32), labels))
    return columns


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_the_numpy_writer_writes_what_the_rules_say(columns: list[Column]) -> None:
    assert csv_text(columns).decode("utf-8") == spec_csv(columns)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_the_pyarrow_writer_writes_the_numpy_writers_text(tmp_path_factory: Any, columns: list[Column]) -> None:
    need_pyarrow()
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    write_csv(path, columns, engine="pyarrow")
    assert path.read_bytes() == csv_text(columns)


def test_numbers_are_rounded_as_printf_rounds_them() -> None:
    x = np.array([0.0625, 0.1875, 1.0005, 2.675, 0.0005, -0.0, -0.0004, -1.5, 1e300, math.nan, -math.inf,
                  86396.0244998, 2.0**53 / 1000 - 1])
    lines = csv_text([Column("x", x)]).decode().splitlines()[1:]
    assert lines == ["%.3f" % v for v in x.tolist()]
    assert lines[:7] == ["0.062", "0.188", "1.000", "2.675", "0.001", "-0.000", "-0.000"]  # half to even, exactly


def test_columns_of_unequal_length_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'b'"):
        csv_text([Column("a", np.arange(3)), Column("b", np.arange(4))])


def test_a_name_with_a_comma_or_quote_is_quoted() -> None:
    columns = [Column("plan", np.array([0, 1, -1, 2], np.int32), ["a,b", 'say "hi"', "上海"]),
               Column("n", np.arange(4))]
    rows = list(csv.reader(io.StringIO(csv_text(columns).decode())))
    assert rows == [["plan", "n"], ["a,b", "0"], ['say "hi"', "1"], ["", "2"], ["上海", "3"]]


# ------------------------------------------------------------------ a simulated day

def test_both_writers_write_the_same_day(day: Result, tmp_path: Path) -> None:
    need_pyarrow()
    day.to_csv(tmp_path / "numpy.csv", engine="numpy")
    day.to_csv(tmp_path / "pyarrow.csv", engine="pyarrow")
    text = (tmp_path / "numpy.csv").read_bytes()
    assert text == (tmp_path / "pyarrow.csv").read_bytes()
    assert text.decode() == spec_csv(day.output_columns())


def test_the_day_has_every_kind_of_cell(day: Result) -> None:
    c = day.calls
    assert {IN_SYSTEM, ANSWERED, ABANDONED} <= set(c["outcome"].tolist())
    assert (c["region"] < 0).any() and (c["site"] < 0).any() and (c["value"] < 0).any()
    assert c["home"].any() and not c["home"].all()


def test_the_csv_reads_back_to_the_arrays(day: Result, tmp_path: Path) -> None:
    day.to_csv(tmp_path / "calls.csv")
    with open(tmp_path / "calls.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(Result.OUTPUT_COLUMNS) and len(rows) == len(day)
    for column in day.output_columns():
        text = [r[column.name] for r in rows]
        v = column.values
        if column.labels is not None:
            codes = {name: i for i, name in enumerate(column.labels)} | {"": -1}
            np.testing.assert_array_equal([codes[t] for t in text], v)
        elif v.dtype.kind == "f":
            back = np.array(text, dtype=float)
            assert np.all(np.abs(back - v) <= 0.0005 + 1e-9 * np.abs(v)), column.name
        else:
            np.testing.assert_array_equal(np.array(text, dtype=np.int64), v.astype(np.int64))


def test_parquet_keeps_the_values_as_they_are(day: Result, tmp_path: Path) -> None:
    need_pyarrow()
    import pyarrow.parquet as pq

    day.to_parquet(tmp_path / "calls.parquet")
    table = pq.read_table(tmp_path / "calls.parquet")
    assert table.column_names == list(Result.OUTPUT_COLUMNS) and table.num_rows == len(day)
    for column in day.output_columns():
        back = table[column.name]
        if column.labels is not None:
            assert str(back.type).startswith("dictionary")
            names = back.to_pylist()
            expected = [column.labels[k] if k >= 0 else None for k in column.values.tolist()]
            assert names == expected, column.name
        else:
            np.testing.assert_array_equal(back.to_numpy(), column.values)  # float64 bit for bit, bools as bools
            assert back.type.to_pandas_dtype() == column.values.dtype


def test_kpi_tables_write_to_parquet(day: Result, tmp_path: Path) -> None:
    need_pyarrow()
    import pyarrow.parquet as pq

    kpis = day.by_plan()
    kpis.to_parquet(tmp_path / "by_plan.parquet")
    back = pq.read_table(tmp_path / "by_plan.parquet")
    assert back["plan"].to_pylist() == kpis.index
    for name, column in kpis.columns.items():
        np.testing.assert_array_equal(back[name].to_numpy(), column)


def mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else math.nan


def test_kpi_tables_count_what_their_names_say(day: Result) -> None:
    c, s = day.calls, day.scenario
    threshold = np.array([p.sl_threshold for p in s.routing.plans])[c["plan"]]
    interval = np.minimum((c["arrival"] // s.interval).astype(int), s.intervals - 1)
    for table, groups in ((day.by_plan(), [c["plan"] == k for k in range(len(s.routing.plans))]),
                          (day.by_interval(), [interval == k for k in range(s.intervals)]),
                          (day.by_site(), [c["site"] == k for k in range(len(s.routing.sites))])):
        for row, calls in enumerate(groups):
            answered, abandoned = calls & (c["outcome"] == ANSWERED), calls & (c["outcome"] == ABANDONED)
            expected = {"arrived": calls.sum(), "answered": answered.sum(), "abandoned": abandoned.sum(),
                        "service_level": (answered & (c["wait"] <= threshold)).sum() / (answered | abandoned).sum(),
                        "asa": mean(c["wait"][answered]), "abandon_rate": abandoned.sum() / (answered | abandoned).sum(),
                        "home_share": mean(c["home"][answered & (c["region"] >= 0)]),
                        "language_share": mean(c["in_language"][answered & (c["language"] >= 0)])}
            for name, value in expected.items():
                if name in table.columns:
                    assert table[name][row] == pytest.approx(value, rel=1e-12, nan_ok=True), (table.index[row], name)
    assert day.by_plan()["arrived"][-1] == len(day)  # the "all" row


def test_queue_length_is_the_time_average_of_callers_waiting(day: Result) -> None:
    # the definition, written plainly: the caller-seconds waited before each bound
    s, start = day.scenario, day.calls["arrival"]
    end = start + day.calls["wait"]
    bounds = np.arange(s.intervals + 1) * s.interval
    waited_by = np.array([np.clip(b - start, 0.0, end - start).sum() for b in bounds])
    np.testing.assert_array_equal(day.queue_length(), np.diff(waited_by) / s.interval)  # to the last bit
    assert day.queue_length().max() > 1.0  # the day ends with a queue: the test sees one


# ------------------------------------------------------------------ the command line

SCENARIO = """
name = "outputs"
interval = 600
intervals = 3
[routing]
sites = ["suzhou", "shanghai"]
regions = { jiangsu = { suzhou = 0, shanghai = 1 } }
plans = [{ name = "card", steps = [{ require = { card = 1 } }] }]
[curves]
flat = [1, 1, 1]
[[demand]]
plan = "card"
calls = 900
curve = "flat"
callers = [{ region = "jiangsu", weight = 1 }]
handle = { mean = 100 }
patience = 60
[shift_hours]
all = [0, 1]
[rosters]
one = { all = 1.0 }
[[agents]]
name = "sz"
site = "suzhou"
skills = { card = 5 }
count = 40
roster = "one"
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.toml"
    path.write_text(SCENARIO)
    return path


def test_simulate_writes_parquet_when_asked(scenario_file: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    need_pyarrow()
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    assert main(["simulate", str(scenario_file), "--out", str(out), "--format", "parquet", "--no-progress"]) == 0
    for name in ("calls", "by_plan", "by_site", "by_interval"):
        assert pq.read_table(out / f"{name}.parquet").num_rows > 0
        assert not (out / f"{name}.csv").exists()
    assert "calls.parquet" in capsys.readouterr().out


def test_simulate_writes_csv_by_default(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["simulate", str(scenario_file), "--out", str(out), "--no-progress"]) == 0
    assert {p.name for p in out.glob("*.csv")} == {"calls.csv", "by_plan.csv", "by_site.csv", "by_interval.csv"}
    assert not list(out.glob("*.parquet"))


def test_parquet_without_pyarrow_says_how_to_install_it(scenario_file: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what `import pyarrow` meets when it is not installed
    out = tmp_path / "out"
    assert main(["simulate", str(scenario_file), "--out", str(out), "--format", "parquet", "--no-progress"]) == 2
    assert 'pip install "ccroute[parquet]"' in capsys.readouterr().err
    assert not out.exists()  # refused before simulating, nothing written


def test_an_unknown_format_is_refused(scenario_file: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", str(scenario_file), "--format", "xlsx"])
    assert "xlsx" in capsys.readouterr().err


# ------------------------------------------------------------------ plots

def test_plots_leave_matplotlib_as_they_found_it(day: Result, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="plots are the optional extra ccroute[plot]")
    code = ("import matplotlib, sys; before = matplotlib.get_backend(); "
            "import ccroute.plots, ccroute.sim as s; from pathlib import Path; "
            "r = s.run(s.Scenario.load(sys.argv[1]), seed=1); "
            "written = ccroute.plots.plot_day(r, Path(sys.argv[2])); "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'; "
            "assert matplotlib.get_backend() == before, (before, matplotlib.get_backend()); "
            "print(len(written))")
    path = tmp_path / "outputs.toml"
    path.write_text(SCENARIO)
    done = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MPLBACKEND": "pdf"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"
    for png in ("service_level.png", "occupancy.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
