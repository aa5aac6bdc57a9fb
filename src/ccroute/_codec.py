"""Little-endian fields and length-prefixed bytes: the encoding of snapshots and journals."""

from __future__ import annotations

import struct
from typing import Any

from .errors import RestoreError


class Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def put(self, fmt: str, *values: Any) -> None:
        self.parts.append(struct.pack("<" + fmt, *values))

    def bytes(self, data: bytes) -> None:
        self.put("I", len(data))
        self.parts.append(data)

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


class Reader:
    """Reads what a Writer wrote; reading past the end raises RestoreError naming ``what``."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.at, self.what = data, 0, what

    def fail(self, why: str) -> RestoreError:
        return RestoreError(f"{self.what}: {why}")

    def get(self, fmt: str) -> Any:
        s = struct.Struct("<" + fmt)
        if self.at + s.size > len(self.data):
            raise self.fail("truncated")
        values = s.unpack_from(self.data, self.at)
        self.at += s.size
        return values if len(values) > 1 else values[0]

    def bytes(self) -> bytes:
        return self._take(self.get("I"))

    def varint(self) -> int:
        """An unsigned LEB128 varint (the journal's integers): 7 bits a byte, the lowest first."""
        x = shift = 0
        while shift < 64:
            if self.at >= len(self.data):
                raise self.fail("truncated")
            byte = self.data[self.at]
            self.at += 1
            x |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if x >> 64:
                    break
                return x
            shift += 7
        raise self.fail("a number out of range")

    def zigzag(self) -> int:
        """A signed varint, zigzag-mapped (0, -1, 1, -2, ... written as 0, 1, 2, 3, ...)."""
        x = self.varint()
        return (x >> 1) ^ -(x & 1)

    def varint_bytes(self) -> bytes:
        return self._take(self.varint())

    def varint_count(self, min_item_size: int) -> int:
        """As :meth:`count`, the count a varint."""
        n = self.varint()
        if n > 0xFFFFFFFF:
            raise self.fail("a count larger than the data")
        return self._bounded(n, min_item_size)

    def count(self, min_item_size: int) -> int:
        """A count of items of at least ``min_item_size`` bytes: never more than the data holds."""
        return self._bounded(self.get("I"), min_item_size)

    def _take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise self.fail("truncated")
        self.at += n
        return self.data[self.at - n:self.at]

    def _bounded(self, n: int, min_item_size: int) -> int:
        if n * min_item_size > len(self.data) - self.at:
            raise self.fail("a count larger than the data")
        return int(n)
