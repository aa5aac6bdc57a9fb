"""The journal: every operation that changed a router, appended as it returns (format version 3).

``Router(config, journal=path, sync=...)`` writes it; ``Router.recover(config, journal=path,
snapshot=blob)`` rebuilds the router from its last snapshot (if any) and the operations
journaled since. Both routers write and read this format: the native core in
``csrc/journal.cpp``, the reference model through this module, which is also its readable
statement. Little-endian. In the header, ``bytes`` is a u32 length and the data; in the
records, integers are varints (``v``: LEB128, 7 bits a byte, the lowest first, the high bit
set on all bytes but the last; ``z``: signed, zigzag-mapped, 0, -1, 1, -2, ... as 0, 1, 2,
3, ...) and ``bytes`` is a ``v`` length and the data: a record is as short as it can be
cheaply, for its bytes are what the writer pays for (fresh memory and pages of the file).

file     header, then records, each starting at a multiple of 8 bytes
header   magic b"CCRJRNL\\0" | u32 version | u32 CRC-32C of the rest of the header
         | u64 event number of the first record | bytes config tag | zeros to a multiple of 8
record   u32 payload size | u32 CRC-32C of the payload | payload | zeros to a multiple of 8
payload  u8 operation (| 0x80: an event number follows) | [v event number] | f64 time
         | the operation's fields; or, not an event, u8 skill_name (16) | v number | bytes name
         add_agent  bytes agent id | v site | v n, n × (skill, u8 level) | u8 has wrap-up, f64 wrap-up
         ready, logout   v agent          not_ready  v agent | bytes reason
         arrive     bytes call id | v plan | z region (-1: none) | u8 fields given (1 language,
                    2 value, 4 extra priority, 8 preferred wait) | [skill language] | [f64 value]
                    | [f64 extra priority] | z repeats | z preferred agent (-1: none) | [f64 preferred wait]
         accept, reject  v call | v agent     abandon, hangup  v call     advance  (none)
         set_skills  v agent | z site | v n, n × (skill, u8 level)      remove_agent  v agent
         transfer   v call | v plan
         reprioritize  v call | u8 has value, f64 value | u8 has priority, f64 priority
         reconfigure   bytes configuration (:meth:`~ccroute.Config.to_document`: canonical JSON)
         skill = v number: the writer's, named by the last skill_name record for it (matched by
         name), or, none before (the C API's unnamed skills), the reader's own

Agents are numbered in the order added, calls by creation order (their n-th arrival: an
arrive record's call is the next), regions and plans in configuration order; ids are
encoded as in :mod:`ccroute.snapshot`. An arrive record leaves out the value, priority and
preferred wait that are +0.0 (their defaults) and the language a call has not. A writer
names each skill (a ``skill_name`` record) just before the first record of its that uses it,
and again after a reconfiguration (which may number the skills anew).
The checksum is CRC-32C (Castagnoli), which x86-64 computes by instruction (the native
writer's per-record cost). Versions 1 (zlib's CRC-32) and 2 (fixed-width fields, every
record's event number) are refused, naming their version.
Every operation that changed the router is one event, numbered from 0 since the router
was built: an operation refused as an impossible transition is journaled as an ``advance``
to its time (the timers due by then did fire). A record's event number is the previous
record's plus one (the header's for the first record), unless it says its own: a writer
continuing a journal after a recovery does so in its first record. A snapshot records the
number of the next event, so recovery replays the journal from there.

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
VERSION = 3
NUMBERED_EVENT = 0x80  # in a record's operation byte: the event number follows
HAS_LANGUAGE, HAS_VALUE, HAS_PRIORITY, HAS_PREFERRED_WAIT = 1, 2, 4, 8  # an arrive record's optional fields
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
    SKILL_NAME = 16  # not an event: what the writer's skill number means in the records after it


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


def varint(x: int) -> bytes:
    out = bytearray()
    while x >= 0x80:
        out.append(x & 0x7F | 0x80)
        x >>= 7
    out.append(x)
    return bytes(out)


def zigzag(x: int) -> bytes:
    return varint((x << 1) ^ (x >> 63))


def record(event: Optional[int], op: Op, now: float, fields: bytes = b"") -> bytes:
    """A record; its event number said only when given (else it is the previous record's + 1)."""
    payload = (struct.pack("<B", op) if event is None else struct.pack("<B", op | NUMBERED_EVENT) + varint(event))
    return _framed(payload + struct.pack("<d", now) + fields)


def _framed(payload: bytes) -> bytes:
    return (struct.pack("<II", len(payload), crc32c(payload)) + payload
            + bytes(_padded(len(payload)) - len(payload)))


class JournalFile:
    """Appends records to a journal file (the reference router's writer)."""

    def __init__(self, path: str, sync: str, config_tag: bytes, first_event: int, end: int = 0) -> None:
        self.path, self.sync_policy = os.fspath(path), check_sync(sync)
        self._synced_at = time.monotonic()
        self._next_event = first_event if end == 0 else None  # a continued journal's: unknown
        self._named: set[int] = set()  # skill numbers named in this journal (since the last reconfiguration)
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

    def append(self, event: int, op: Op, now: float, fields: bytes, skills: list[tuple[int, str]] = ()) -> None:
        """Writes the event's record, after the names of the ``skills`` (number, name) it uses for the first time."""
        for number, name in skills:
            if number not in self._named:
                self._named.add(number)
                payload = struct.pack("<B", Op.SKILL_NAME) + varint(number) + _bytes(name.encode("utf-8", "surrogatepass"))
                self._write(_framed(payload))
        self._write(record(None if event == self._next_event else event, op, now, fields))
        self._next_event = event + 1
        if op is Op.RECONFIGURE:
            self._named.clear()  # the skills may be numbered anew

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
    at, next_event = start, first_event
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
        op = payload.get("B")
        event = payload.varint() if op & NUMBERED_EVENT else next_event
        try:
            kind = Op(op & ~NUMBERED_EVENT)
        except ValueError:
            raise payload.fail(f"unknown operation {op & ~NUMBERED_EVENT}") from None
        if kind is Op.SKILL_NAME:  # a skill's name, before the event using it
            if op & NUMBERED_EVENT:
                raise payload.fail("a numbered skill name")
            contents.records.append(Record(event, kind, 0.0, payload))
        else:
            contents.records.append(Record(event, kind, payload.get("d"), payload))
            next_event = event + 1
        at += 8 + _padded(size)
    if at + 8 > len(data) and any(data[at:]):
        contents.warnings.append(f"journal {path}: a torn last record at byte {at} was dropped")
    contents.end = at
    return contents


# The fields of each operation, as the reference router writes them.

def _bytes(data: bytes) -> bytes:
    return varint(len(data)) + data


def _skills(skills: list[tuple[int, str, int]]) -> bytes:
    return varint(len(skills)) + b"".join(varint(number) + struct.pack("<B", level) for number, _, level in skills)


def add_agent_fields(key: bytes, site: int, skills: list[tuple[int, str, int]], wrapup: Optional[float]) -> bytes:
    return _bytes(key) + varint(site) + _skills(skills) + struct.pack("<?d", wrapup is not None, wrapup or 0.0)


def set_skills_fields(agent: int, site: int, skills: list[tuple[int, str, int]]) -> bytes:
    return varint(agent) + zigzag(site) + _skills(skills)


def reprioritize_fields(order: int, value: Optional[float], priority: Optional[float]) -> bytes:
    return varint(order) + struct.pack("<?d?d", value is not None, value or 0.0, priority is not None, priority or 0.0)


def reconfigure_fields(document: bytes) -> bytes:
    return _bytes(document)


def read_reconfigure(r: Reader) -> bytes:
    return r.varint_bytes()


def read_skills(r: Reader, names: dict[int, str]) -> dict[str, int]:
    return {read_skill(r, names): r.get("B") for _ in range(r.varint_count(2))}


def agent_fields(agent: int, reason: Optional[str] = None) -> bytes:
    return varint(agent) + (b"" if reason is None else _bytes(reason.encode("utf-8", "surrogatepass")))


def _given(x: float) -> bool:
    """Not +0.0, the default an arrive record leaves out (a -0.0 is kept as given)."""
    return struct.pack("<d", x) != bytes(8)


def arrive_fields(key: bytes, plan: int, region: int, language: Optional[int],
                  value: float, priority: float, repeats: int, preferred_agent: int, preferred_wait: float) -> bytes:
    given = ((HAS_LANGUAGE if language is not None else 0) | (HAS_VALUE if _given(value) else 0)
             | (HAS_PRIORITY if _given(priority) else 0) | (HAS_PREFERRED_WAIT if _given(preferred_wait) else 0))
    return (_bytes(key) + varint(plan) + zigzag(region) + struct.pack("<B", given)
            + (b"" if language is None else varint(language))
            + (struct.pack("<d", value) if given & HAS_VALUE else b"")
            + (struct.pack("<d", priority) if given & HAS_PRIORITY else b"")
            + zigzag(repeats) + zigzag(preferred_agent)
            + (struct.pack("<d", preferred_wait) if given & HAS_PREFERRED_WAIT else b""))


def read_arrive(r: Reader, names: dict[int, str]) -> tuple[bytes, int, int, Optional[str], float, float, int, int, float]:
    """An arrive record's fields, as arrive_fields takes them (the language by name, 0.0 for those left out)."""
    key, plan, region, given = r.varint_bytes(), r.varint(), r.zigzag(), r.get("B")
    if given & ~(HAS_LANGUAGE | HAS_VALUE | HAS_PRIORITY | HAS_PREFERRED_WAIT):
        raise r.fail("unknown arrive fields")
    language = read_skill(r, names) if given & HAS_LANGUAGE else None
    value = r.get("d") if given & HAS_VALUE else 0.0
    priority = r.get("d") if given & HAS_PRIORITY else 0.0
    repeats, preferred_agent = r.zigzag(), r.zigzag()
    preferred_wait = r.get("d") if given & HAS_PREFERRED_WAIT else 0.0
    return key, plan, region, language, value, priority, repeats, preferred_agent, preferred_wait


def call_fields(order: int, agent_or_plan: Optional[int] = None) -> bytes:
    return varint(order) + (b"" if agent_or_plan is None else varint(agent_or_plan))


def read_skill_name(r: Reader) -> tuple[int, str]:
    """A skill_name record's fields: the writer's number and the name."""
    number, name = r.varint(), r.varint_bytes().decode("utf-8", "surrogatepass")
    if not name:
        raise r.fail("a skill name that is empty")
    return number, name


def read_skill(r: Reader, names: dict[int, str]) -> str:
    """A skill a record names, by the writer's number (``names``: its skill_name records so far)."""
    name = names.get(r.varint())
    if name is None:
        raise r.fail("a skill without a name (journaled through the C API)")
    return name
