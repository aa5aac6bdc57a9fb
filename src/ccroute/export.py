"""Tables of numpy columns written column-wise: CSV text built by numpy or by pyarrow, Parquet.

A simulated day has a quarter of a million calls; formatting them row by row in Python
took several times as long as simulating them. Here every column is formatted once, as
a whole array, and the rows are assembled by numpy (or, on request, by Arrow's C++ CSV
writer), with the same text either way:

* a float has three decimals, rounded as ``"%.3f" % x`` rounds (half to even on the
  exact binary value, ``-0.000`` for a negative value that rounds to zero, ``nan``,
  ``inf``);
* an integer is written in full, a flag as ``0``/``1``;
* a coded column (plan, region, site, outcome…) is written by name, and an empty field
  where the code is −1; a name holding a comma, a quote or a line break is quoted as
  RFC 4180 says.

Parquet (through pyarrow, ``pip install "ccroute[parquet]"``) keeps the values as they
are: float64 in full precision, coded columns dictionary-encoded (nulls for −1), flags as
booleans — what pandas, polars and DuckDB load without parsing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal, Optional, Sequence, Union

import numpy as np

__all__ = ["Column", "csv_text", "write_csv", "arrow_table", "write_parquet", "require_pyarrow", "PARQUET_INSTALL"]

PARQUET_INSTALL = 'pip install "ccroute[parquet]"'
Engine = Literal["auto", "numpy", "pyarrow"]
PathLike = Union[str, "os.PathLike[str]"]

_QUOTED = (",", '"', "\r", "\n")
# Beyond this magnitude x * 1000 no longer fits the int64 arithmetic of _thousandths; such
# values (and nan, inf) are formatted one by one by Python, which is what they would get anyway.
_EXACT_LIMIT = 2.0**53 / 1000


@dataclass(frozen=True)
class Column:
    """One output column: ``values`` (1-D numpy), written by name through ``labels`` when given.

    With ``labels``, ``values`` are codes: ``labels[code]``, or empty/null for −1.
    """

    name: str
    values: np.ndarray
    labels: Optional[Sequence[str]] = None


def _rows(columns: Sequence[Column]) -> int:
    """The number of rows, once every column is checked to have it."""
    n = len(columns[0].values) if columns else 0
    for c in columns:
        if np.ndim(c.values) != 1 or len(c.values) != n:
            raise ValueError(f"column {c.name!r} has shape {np.shape(c.values)}, the table {n} rows")
    return n


# --------------------------------------------------------------------------- numpy CSV

def csv_field(text: str) -> str:
    """A name as a CSV field (RFC 4180: quoted only when it must be)."""
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in _QUOTED) else text


# A column's text, for a block of m rows, is a list of parts: w×m uint8 arrays of characters
# (w×1: the same in every row), where _HIDDEN stands for "nothing here" (the leading zeros
# of a number, the padding after a short name). Stacked one above the other, read row by
# row of the table (column by column of the stack), with every _HIDDEN byte deleted, the
# parts are the CSV text: no loop over rows. The stack lies transposed so that each part is
# copied in contiguously; rows go in blocks that keep it in cache.
_HIDDEN = 0xFF  # never a byte of UTF-8 text
_BLOCK = 1 << 13


def _chars(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8)


def _triples() -> np.ndarray:
    """Three-character columns: 0–999 with their zeros ("007"), without ("  7"), and nothing."""
    i = np.arange(1000)[:, None]
    full = (i // [100, 10, 1] % 10 + ord("0")).astype(np.uint8)
    leading = np.where(i >= [100, 10, 0], full, _HIDDEN).astype(np.uint8)  # "0" itself stays
    nothing = np.full((1000, 3), _HIDDEN, dtype=np.uint8)
    return np.ascontiguousarray(np.vstack([full, leading, nothing]).T)


# Decimal digits are looked up three at a time (one division per three digits): entry
# i + 1000·s of _TRIPLES is i written with its zeros (s = 0), as the leading group (s = 1)
# or not at all (s = 2).
_TRIPLES = _triples()


def _digits(q: np.ndarray) -> list[np.ndarray]:
    """Non-negative integers in decimal, without leading zeros."""
    groups = max(1, -(-len(str(int(q.max()))) // 3))
    parts = []
    for g in range(groups - 1, -1, -1):
        unit = 1000**g  # at most 10**18: the top group's bound 1000**groups is never compared
        state = (q < unit * 1000).astype(np.int64) if g < groups - 1 else np.ones(len(q), dtype=np.int64)
        if g:
            state += q < unit
        parts.append(_TRIPLES.take((q // unit % 1000).astype(np.int64) + 1000 * state, axis=1))
    return parts


def _signed(negative: np.ndarray, parts: list[np.ndarray]) -> list[np.ndarray]:
    if not negative.any():
        return parts
    return [np.where(negative, np.uint8(ord("-")), np.uint8(_HIDDEN))[None, :], *parts]


def _integers(values: np.ndarray) -> list[np.ndarray]:
    if values.dtype.kind == "u":
        return _digits(values.astype(np.uint64))
    v = values.astype(np.int64)
    negative = v < 0
    magnitude = v.astype(np.uint64)
    magnitude[negative] = ~magnitude[negative] + np.uint64(1)  # two's complement: |−2**63| too
    return _signed(negative, _digits(magnitude))


def _thousandths(x: np.ndarray) -> np.ndarray:
    """|x| × 1000 rounded to an integer half to even, exactly (as printf rounds the binary value).

    For |x| < 2**53 / 1000: |x| = m·2**e with an integer m < 2**53, so m·1000 < 2**63 and
    |x|·1000 = (m·1000) / 2**(53−e) is rounded by an integer shift.
    """
    fraction, exponent = np.frexp(np.abs(x))
    scaled = (fraction * 2.0**53).astype(np.int64) * 1000
    shift = (53 - exponent).astype(np.int64)
    below_half = shift >= 64  # |x|·1000 < 2**63 / 2**64 = 0.5
    shift = np.minimum(shift, 63)
    whole = scaled >> shift
    rest = scaled - (whole << shift)
    half = np.int64(1) << (shift - 1)
    whole += (rest > half) | ((rest == half) & (whole % 2 == 1))
    whole[below_half] = 0
    return whole


def _text(texts: Sequence[str]) -> np.ndarray:
    """Arbitrary strings (UTF-8), one per column of the result."""
    encoded = [t.encode("utf-8") for t in texts]
    width = max((len(e) for e in encoded), default=0)
    padded = b"".join(e.ljust(width, bytes([_HIDDEN])) for e in encoded)
    return np.frombuffer(padded, dtype=np.uint8).reshape(len(encoded), width).T.copy()


def _exact(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & (np.abs(x) < _EXACT_LIMIT)


def _floats(values: np.ndarray) -> list[np.ndarray]:
    x = values.astype(np.float64)
    exact = _exact(x)
    k = _thousandths(np.where(exact, x, 0.0))
    point = _chars(".")[:, None]
    parts = _signed(np.signbit(x) & exact, [*_digits(k // 1000), point, _TRIPLES.take(k % 1000, axis=1)])
    if exact.all():
        return parts
    # nan, inf, huge: as Python prints them, in place of the regular text of those rows
    regular, odd = _stack(len(x), parts), np.flatnonzero(~exact)
    other = _text(["%.3f" % v for v in x[odd].tolist()])
    chars = np.full((max(len(regular), len(other)), len(x)), _HIDDEN, dtype=np.uint8)
    chars[:len(regular)] = regular
    chars[:, odd] = _HIDDEN
    chars[:len(other), odd] = other
    return [chars]


def _stack(m: int, parts: Sequence[np.ndarray]) -> np.ndarray:
    """The parts one above the other (W×m)."""
    stack = np.empty((sum(len(p) for p in parts), m), dtype=np.uint8)
    at = 0
    for part in parts:
        stack[at:at + len(part)] = part
        at += len(part)
    return stack


Formatter = Callable[[np.ndarray], list[np.ndarray]]


def _formatter(column: Column) -> Formatter:
    """How to turn a block of the column's values into parts."""
    if column.labels is not None:
        names = _text([csv_field(label) for label in column.labels] + [""])
        none = len(column.labels)
        return lambda codes: [names.take(np.where(codes >= 0, codes, none), axis=1)]
    kind = column.values.dtype.kind
    if kind == "b":
        return lambda flags: [(flags.astype(np.uint8) + ord("0"))[None, :]]
    if kind == "f":
        return _floats
    if kind in "iu":
        return _integers
    raise TypeError(f"column {column.name!r}: cannot write dtype {column.values.dtype}")


def _csv_blocks(columns: Sequence[Column]) -> Iterator[bytes]:
    """The CSV text in pieces: the header line, then blocks of rows."""
    yield (",".join(c.name for c in columns) + "\n").encode("utf-8")
    n = _rows(columns)
    formatters = [_formatter(c) for c in columns]
    comma, newline, hidden = _chars(",")[:, None], _chars("\n")[:, None], bytes([_HIDDEN])
    for start in range(0, n, _BLOCK):
        block = [c.values[start:start + _BLOCK] for c in columns]
        parts: list[np.ndarray] = []
        for values, format_block in zip(block, formatters):
            parts += [*format_block(values), comma]
        parts[-1] = newline  # the last separator ends the line
        yield _stack(len(block[0]), parts).T.tobytes().translate(None, hidden)


def csv_text(columns: Sequence[Column]) -> bytes:
    """The CSV text of ``columns`` (header line, then one line per row), built by numpy."""
    return b"".join(_csv_blocks(columns))


# --------------------------------------------------------------------------- pyarrow

def require_pyarrow(what: str) -> Any:
    try:
        import pyarrow
    except ImportError:
        raise ImportError(f"{what} needs pyarrow: {PARQUET_INSTALL}") from None
    return pyarrow


def _dictionary(pa: Any, codes: np.ndarray, labels: Sequence[str]) -> Any:
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(labels), pa.string()))


def arrow_table(columns: Sequence[Column]) -> Any:
    """A ``pyarrow.Table`` of the columns, values as they are: float64 in full, coded columns
    dictionary-encoded (null for −1), flags as booleans."""
    pa = require_pyarrow("an Arrow table")
    _rows(columns)
    arrays = [_dictionary(pa, c.values, c.labels) if c.labels is not None else pa.array(c.values)
              for c in columns]
    return pa.Table.from_arrays(arrays, names=[c.name for c in columns])


def _arrow_csv_array(pa: Any, column: Column) -> Any:
    """The column as pyarrow's CSV writer should print it to give :func:`csv_text`'s text."""
    v = column.values
    if column.labels is not None:
        return _dictionary(pa, v, column.labels)
    if v.dtype == bool:
        return pa.array(v.astype(np.uint8))
    if v.dtype.kind == "f":
        x = v.astype(np.float64)
        exact = _exact(x)
        k = _thousandths(np.where(exact, x, 0.0))
        negative = np.signbit(x)
        if not exact.all() or (negative & (k == 0)).any():
            # a decimal has no nan, inf nor -0.000: the column goes as numpy's text
            text = csv_text([column]).split(b"\n", 1)[1].rstrip(b"\n").split(b"\n")
            return pa.array(text, pa.binary())
        # k thousandths as a decimal with three places: the writer prints exactly "%.3f"
        words = np.empty(2 * len(k), dtype=np.int64)
        words[0::2] = np.where(negative, -k, k)
        words[1::2] = words[0::2] >> 63  # the high word of the 128-bit two's complement
        return pa.Array.from_buffers(pa.decimal128(18, 3), len(k), [None, pa.py_buffer(words)])
    return pa.array(v)


def _arrow_can_write(column: Column) -> bool:
    # Arrow's writer quotes every string unless told never to quote, and then refuses a
    # comma or quote inside one: names that need quotes go through numpy instead.
    return column.labels is None or not any(ch in label for label in column.labels for ch in _QUOTED)


def _write_arrow_csv(path: PathLike, columns: Sequence[Column]) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_arrays([_arrow_csv_array(pa, c) for c in columns], names=[c.name for c in columns])
    with open(path, "wb") as f:
        f.write((",".join(c.name for c in columns) + "\n").encode("utf-8"))
        pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, quoting_style="none"))


def write_csv(path: PathLike, columns: Sequence[Column], engine: Engine = "auto") -> None:
    """Writes the columns as CSV (the text of :func:`csv_text`).

    ``engine``: ``"numpy"``, ``"pyarrow"``, or ``"auto"`` (numpy: see the README's
    measurements; pyarrow adds its import and gains little on this table's width).
    """
    if engine not in ("auto", "numpy", "pyarrow"):
        raise ValueError(f"engine must be 'auto', 'numpy' or 'pyarrow', got {engine!r}")
    if engine == "pyarrow":
        require_pyarrow("the pyarrow CSV engine")
        if all(_arrow_can_write(c) for c in columns) and _rows(columns):
            _write_arrow_csv(path, columns)
            return
    with open(path, "wb") as f:
        f.writelines(_csv_blocks(columns))


def write_parquet(path: PathLike, columns: Sequence[Column]) -> None:
    """Writes the columns as a Parquet file (needs pyarrow: ``pip install "ccroute[parquet]"``)."""
    require_pyarrow("Parquet output")
    import pyarrow.parquet as pq

    pq.write_table(arrow_table(columns), path)
