"""Writing the bank day's per-call table (250,838 calls): the column-wise writers against the row-by-row one.

    python -m pytest bench/test_outputs_bench.py --benchmark-json=outputs.json
    python bench/outputs_report.py outputs.json

Group ``outputs-calls``, one benchmark per writer, each writing ``calls`` of the same
simulated day (seed 1) to a file, with the same text for every CSV writer (checked once,
outside the timing):

* ``row-by-row`` — the writer ccroute had before (a Python ``join`` per row), kept here
  only as the peer the others are measured against;
* ``numpy`` — :meth:`Result.to_csv` (the default, ``engine="auto"``);
* ``pyarrow-csv`` — the same text through Arrow's CSV writer (``engine="pyarrow"``);
* ``parquet`` — :meth:`Result.to_parquet` (typed columns, so not the same bytes).

Nothing here asserts a timing. The pyarrow benchmarks are skipped, with the reason, when
pyarrow is not installed (``pip install "ccroute[parquet]"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

pytest.importorskip("ccroute._core", reason="the simulator runs in the native extension, which is not built")

from ccroute.sim import Result, Scenario, run  # noqa: E402

BANK = Path(__file__).resolve().parent.parent / "examples" / "bank_day.toml"
ROUNDS = {"row-by-row": 3, "numpy": 10, "pyarrow-csv": 10, "parquet": 10}


def row_by_row_csv(result: Result, path: Path) -> None:
    """The per-call CSV as ccroute wrote it before the column-wise writers (the peer)."""
    r = result.scenario.routing
    names = {"plan": [p.name for p in r.plans], "region": list(r.regions),
             "language": list(result.skills), "site": list(r.sites)}
    outcome = np.array(["in_system", "answered", "abandoned"])
    columns = ["arrival", "plan", "region", "language", "value", "repeats", "wait", "handle", "agent",
               "site", "outcome", "home", "in_language"]
    rows: list[Any] = []
    for col in columns:
        data = result.calls[col]
        if col in names:
            labels = np.array(names[col] + [""], dtype=object)
            rows.append(labels[np.where(data >= 0, data, len(names[col]))])
        elif col == "outcome":
            rows.append(outcome[data])
        elif data.dtype == bool:
            rows.append(data.astype(int))
        elif data.dtype.kind == "f":
            rows.append(np.char.mod("%.3f", data))
        else:
            rows.append(data)
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(columns) + "\n")
        for row in zip(*rows):
            f.write(",".join(str(x) for x in row) + "\n")


WRITERS: dict[str, Callable[[Result, Path], None]] = {
    "row-by-row": row_by_row_csv,
    "numpy": lambda result, path: result.to_csv(path, engine="numpy"),
    "pyarrow-csv": lambda result, path: result.to_csv(path, engine="pyarrow"),
    "parquet": lambda result, path: result.to_parquet(path),
}


@pytest.fixture(scope="module")
def bank_day() -> Result:
    return run(Scenario.load(BANK), seed=1)


@pytest.fixture(scope="module")
def row_by_row_text(bank_day: Result, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("peer") / "calls.csv"
    row_by_row_csv(bank_day, path)
    return path.read_bytes()


@pytest.mark.benchmark(group="outputs-calls")
@pytest.mark.parametrize("writer", list(WRITERS))
def test_write_calls(benchmark: Any, writer: str, bank_day: Result, row_by_row_text: bytes, tmp_path: Path) -> None:
    if writer in ("pyarrow-csv", "parquet"):
        pytest.importorskip("pyarrow", reason='pyarrow is not installed (pip install "ccroute[parquet]")')
    path = tmp_path / ("calls.parquet" if writer == "parquet" else "calls.csv")
    write = WRITERS[writer]
    benchmark.pedantic(write, args=(bank_day, path), rounds=ROUNDS[writer], iterations=1, warmup_rounds=1)
    size = path.stat().st_size
    benchmark.extra_info.update(writer=writer, calls=len(bank_day), bytes=size,
                                simulate_seconds=bank_day.seconds)
    if writer != "parquet":  # not a timing check: the timed writer wrote the peer's text
        assert path.read_bytes() == row_by_row_text
