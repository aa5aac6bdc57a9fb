"""The journal: every operation that changed a router, appended as it returns (format version 2).

``Router(config, journal=path, sync=...)`` writes it; ``Router.recover(config, journal=path,
snapshot=blob)`` rebuilds the router from its last snapshot (if any) and the operations
journaled since. Both routers write and read this format: the native core in
``csrc/journal.cpp``, the reference model through this module, which is also its readable
statement. Little-endian; ``bytes`` is a u32 length and the data.

file     header, then records, each starting at a multiple of 8 bytes
header   magic b"CCRJRNL\\0" | u32 version | u32 CRC-32C of the rest of the header
         | u64 event number of the first record | bytes config tag | zeros to a multiple of 8
record   u32 payload size | u32 CRC-32C of the payload | payload | zeros to a multiple of 8
payload  u64 event number | u8 operation | f64 time | the operation's fields:
         add_agent  bytes agent id | u32 site | u32 n, n × (skill, u8 level) | u8 has wrap-up, f64 wrap-up
         ready, logout   u32 agent          not_ready  u32 agent | bytes reason
         arrive     u64 call | bytes call id | u32 plan | i32 region | u8 has language, [skill]
                    | f64 value | f64 extra priority | i64 repeats | i64 preferred agent | f64 preferred wait
         accept, reject  u64 call | u32 agent     abandon, hangup  u64 call     advance  (none)
         set_skills  u32 agent | i32 site | u32 n, n × (skill, u8 level)      remove_agent  u32 agent
         transfer   u64 call | u32 plan
         reprioritize  u64 call | u8 has value, f64 value | u8 has priority, f64 priority
         reconfigure   bytes configuration (:meth:`~ccroute.Config.to_document`: canonical JSON)
         skill = u16 number | bytes name (matched by name when it has one)

Agents are numbered in the order added, calls by creation order (their n-th arrival),
regions and plans in configuration order; ids are encoded as in :mod:`ccroute.snapshot`.
The checksum is CRC-32C (Castagnoli), which x86-64 computes by instruction (the native
writer's per-record cost); version 1 had zlib's CRC-32 and is refused, naming its version.
Every operation that changed the router is one event, numbered from 0 since the router
was built: an operation refused as an impossible transition is journaled as an ``advance``
to its time (the timers due by then did fire). A snapshot records the number of the next
event, so recovery replays the journal from there.

A record is whole or absent after a crash: the native writer stores its header last, in
one aligned write; a record whose checksum fails at the end of the file (torn by a crash
while being written: its operation had not returned) is dropped with a
:class:`JournalWarning`; one followed by valid records is corruption and raises
:class:`~ccroute.RestoreError`.

``sync`` says when records reach the disk (every write reaches the kernel before the
operation returns, so a process crash loses nothing acknowledged): ``"every"`` after each
record, ``"batch"`` every 100 ms, ``"none"`` when the kernel writes back.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Optional

from ._codec import Reader, Writer
from .errors import RestoreError

MAGIC = b"CCRJRNL\0"
VERSION = 2
SYNC_POLICIES = ("every", "batch", "none")
_BATCH_SECONDS = 0.1


class JournalWarning(UserWarning):
    """A journal's torn last record was dropped on recovery."""


class Op(IntEnum):
    ADD_AGENT = 1
    READY = 2
    NOT_READY = 3
    LOGOUT = 4
    ARRIVE = 5
    ACCEPT = 6
    REJECT = 7
    ABANDON = 8
    HANGUP = 9
    ADVANCE = 10
    SET_SKILLS = 11
    REMOVE_AGENT = 12
    TRANSFER = 13
    REPRIORITIZE = 14
    RECONFIGURE = 15


@dataclass
class Record:
    event: int
    op: Op
    now: float
    fields: Reader


@dataclass
class Contents:
    config_tag: bytes
    first_event: int
    records: list[Record] = field(default_factory=list)
    end: int = 0
    warnings: list[str] = field(default_factory=list)


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), a byte at a time."""
    table, crc = _CRC32C_TABLE, 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _padded(n: int) -> int:
    return (n + 7) & ~7


def check_sync(sync: object) -> str:
    if sync not in SYNC_POLICIES:
        raise ValueError(f"sync must be one of {', '.join(SYNC_POLICIES)}, got {sync!r}")
    return str(sync)


def header(config_tag: bytes, first_event: int) -> bytes:
    w = Writer()
    w.put("Q", first_event)
    w.bytes(config_tag)
    rest = w.getvalue()
    rest += bytes(_padded(len(rest)) - len(rest))
    return MAGIC + struct.pack("<II", VERSION, crc32c(rest)) + rest


def record(event: int, op: Op, now: float, fields: bytes = b"") -> bytes:
    payload = struct.pack("<QBd", event, op, now) + fields
    return (struct.pack("<II", len(payload), crc32c(payload)) + payload
            + bytes(_padded(len(payload)) - len(payload)))


class JournalFile:
    """Appends records to a journal file (the reference router's writer)."""

    def __init__(self, path: str, sync: str, config_tag: bytes, first_event: int, end: int = 0) -> None:
        self.path, self.sync_policy = os.fspath(path), check_sync(sync)
        self._synced_at = time.monotonic()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if end == 0 and os.fstat(self._fd).st_size > 0:
                raise ValueError(f"journal {self.path} exists and holds a history: "
                                 "recover from it, or remove it to start anew")
            os.ftruncate(self._fd, end)  # drops a torn record after the last valid one
            os.lseek(self._fd, end, os.SEEK_SET)
            if end == 0:
                self._write(header(config_tag, first_event))
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            raise

    def append(self, data: bytes) -> None:
        self._write(data)

    def _write(self, data: bytes) -> None:
        os.write(self._fd, data)  # one write: in the kernel before the operation returns
        if self.sync_policy == "every" or (
                self.sync_policy == "batch" and time.monotonic() - self._synced_at >= _BATCH_SECONDS):
            self.sync()

    def sync(self) -> None:
        os.fsync(self._fd)
        self._synced_at = time.monotonic()

    def close(self) -> None:
        if self._fd >= 0:
            if self.sync_policy != "none":
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            self.close()


def _whole_record_at(data: bytes, at: int) -> bool:
    if at + 8 > len(data):
        return False
    size, crc = struct.unpack_from("<II", data, at)
    return 0 < size <= len(data) - at - 8 and crc32c(data[at + 8:at + 8 + size]) == crc


def read(path: str) -> Contents:
    """The records of a journal; a torn last record is dropped with a warning (in ``warnings``)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise RestoreError(f"journal {path}: cannot open: {error.strerror}") from None
    r = Reader(data, f"journal {path}")
    if not data:
        raise r.fail("empty")
    if len(data) < 16 or data[:8] != MAGIC:
        raise r.fail("not a ccroute journal")
    r.at = 8
    version, crc = r.get("II")
    if version != VERSION:
        raise r.fail(f"format version {version}, this ccroute reads version {VERSION}")
    first_event = r.get("Q")
    tag = r.bytes()
    start = _padded(r.at)
    if start > len(data) or crc32c(data[16:start]) != crc:
        raise r.fail("damaged header")
    contents = Contents(tag, first_event)
    at = start
    while at + 8 <= len(data):
        size = struct.unpack_from("<I", data, at)[0]
        if not _whole_record_at(data, at):
            # The end: a zero header, or a record torn while being written. Either is last.
            if any(_whole_record_at(data, later) for later in range(at + 8, len(data) - 7, 8)):
                raise r.fail(f"damaged record at byte {at} before valid ones (corrupted, not torn)")
            if size:
                contents.warnings.append(f"journal {path}: a torn last record at byte {at} was dropped "
                                         "(the operation it held had not returned)")
            break
        payload = Reader(data[at + 8:at + 8 + size], "journal record")
        event, op, now = payload.get("QBd")
        try:
            contents.records.append(Record(event, Op(op), now, payload))
        except ValueError:
            raise payload.fail(f"unknown operation {op}") from None
        at += 8 + _padded(size)
    if at + 8 > len(data) and any(data[at:]):
        contents.warnings.append(f"journal {path}: a torn last record at byte {at} was dropped")
    contents.end = at
    return contents


# The fields of each operation, as the reference router writes them.

def _bytes(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def _skill(number: int, name: str) -> bytes:
    return struct.pack("<H", number) + _bytes(name.encode("utf-8", "surrogatepass"))


def _skills(skills: list[tuple[int, str, int]]) -> bytes:
    return struct.pack("<I", len(skills)) + b"".join(
        _skill(number, name) + struct.pack("<B", level) for number, name, level in skills)


def add_agent_fields(key: bytes, site: int, skills: list[tuple[int, str, int]], wrapup: Optional[float]) -> bytes:
    return _bytes(key) + struct.pack("<I", site) + _skills(skills) + struct.pack("<?d", wrapup is not None, wrapup or 0.0)


def set_skills_fields(agent: int, site: int, skills: list[tuple[int, str, int]]) -> bytes:
    return struct.pack("<Ii", agent, site) + _skills(skills)


def reprioritize_fields(order: int, value: Optional[float], priority: Optional[float]) -> bytes:
    return struct.pack("<Q?d?d", order, value is not None, value or 0.0, priority is not None, priority or 0.0)


def reconfigure_fields(document: bytes) -> bytes:
    return _bytes(document)


def read_skills(r: Reader) -> dict[str, int]:
    return {read_skill(r): r.get("B") for _ in range(r.count(7))}


def agent_fields(agent: int, reason: Optional[str] = None) -> bytes:
    return struct.pack("<I", agent) + (b"" if reason is None else _bytes(reason.encode("utf-8", "surrogatepass")))


def arrive_fields(order: int, key: bytes, plan: int, region: int, language: Optional[tuple[int, str]],
                  value: float, priority: float, repeats: int, preferred_agent: int, preferred_wait: float) -> bytes:
    return (struct.pack("<Q", order) + _bytes(key) + struct.pack("<Ii?", plan, region, language is not None)
            + (b"" if language is None else _skill(*language))
            + struct.pack("<ddqqd", value, priority, repeats, preferred_agent, preferred_wait))


def call_fields(order: int, agent_or_plan: Optional[int] = None) -> bytes:
    return struct.pack("<Q", order) + (b"" if agent_or_plan is None else struct.pack("<I", agent_or_plan))


def read_skill(r: Reader) -> str:
    r.get("H")
    name = r.bytes().decode("utf-8", "surrogatepass")
    if not name:
        raise r.fail("a skill without a name (journaled through the C API)")
    return name
