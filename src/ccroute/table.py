"""A small labelled table of numpy columns: what the simulator's KPIs come back as.

Deliberately not a DataFrame (pandas would be a heavy dependency for a few dozen rows);
``to_pandas`` converts when pandas is at hand.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from .export import csv_field, require_pyarrow

SHARES = ("service_level", "abandon_rate", "home_share", "language_share", "occupancy")


class Table:
    """Rows labelled by ``index`` (named ``index_name``), columns of equal length."""

    def __init__(self, index_name: str, index: Sequence[str], columns: Mapping[str, Any],
                 shares: Sequence[str] = SHARES, differences: bool = False) -> None:
        self.index_name, self.index, self.shares = index_name, list(index), tuple(shares)
        self.differences = differences  # values are differences: signed, shares in percentage points
        self.columns = {k: np.asarray(v) for k, v in columns.items()}
        for name, column in self.columns.items():
            if len(column) != len(self.index):
                raise ValueError(f"column {name!r} has {len(column)} rows, the index {len(self.index)}")

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    def __len__(self) -> int:
        return len(self.index)

    def row(self, label: str) -> dict[str, float]:
        """One row as ``{column: value}``."""
        i = self.index.index(label)
        return {k: v[i].item() for k, v in self.columns.items()}

    def with_total(self, label: str, totals: Mapping[str, Any]) -> "Table":
        """This table with one more row (e.g. the whole centre)."""
        columns = {k: np.concatenate([v, np.asarray(totals[k])]) for k, v in self.columns.items()}
        return Table(self.index_name, [*self.index, label], columns, self.shares, self.differences)

    def __str__(self) -> str:
        header = [self.index_name, *self.columns]
        body = [[label, *(_cell(col[i], name in self.shares, self.differences, name.endswith("_ci"))
                          for name, col in self.columns.items())]
                for i, label in enumerate(self.index)]
        widths = [max(len(str(x)) for x in column) for column in zip(header, *body)]
        lines = ["  ".join(h.ljust(w) if j == 0 else h.rjust(w) for j, (h, w) in enumerate(zip(header, widths)))]
        for row in body:
            lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        return "\n".join(lines)

    def to_csv(self, path: Any) -> None:
        """Writes the table as CSV: the index, then every value in full (``repr``)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(",".join([self.index_name, *self.columns]) + "\n")
            for i, label in enumerate(self.index):
                f.write(",".join([csv_field(label), *(repr(col[i].item()) for col in self.columns.values())]) + "\n")

    def to_arrow(self) -> Any:
        """The table as a ``pyarrow.Table``: the index as a string column, then the columns as they are."""
        pa = require_pyarrow("an Arrow table")
        return pa.table({self.index_name: pa.array(self.index, pa.string()),
                         **{name: pa.array(column) for name, column in self.columns.items()}})

    def to_parquet(self, path: Any) -> None:
        """Writes :meth:`to_arrow` as Parquet (needs pyarrow: ``pip install "ccroute[parquet]"``)."""
        require_pyarrow("Parquet output")
        import pyarrow.parquet as pq

        pq.write_table(self.to_arrow(), path)

    def to_pandas(self) -> Any:
        import pandas as pd  # type: ignore[import-untyped]

        return pd.DataFrame(self.columns, index=pd.Index(self.index, name=self.index_name))


def _cell(value: Any, share: bool, difference: bool, half_width: bool = False) -> str:
    sign = "+" if difference and not half_width else ""
    if isinstance(value, (np.integer, int)):
        return f"{int(value):{sign},}"
    value = float(value)
    if math.isnan(value):
        return "—"
    if share:
        text = f"{100 * value:{sign}.1f} pp" if difference else f"{100 * value:.1f}%"
    else:
        text = f"{value:{sign},.1f}"
    return "±" + text if half_width else text  # a confidence interval's half-width
