"""Snapshots: a router's whole state as bytes, and back (format version 2).

Both routers write and read this format: the native core in ``csrc/snapshot.cpp``, the
reference model through :func:`encode` and :func:`decode` below, which are also its
readable statement. A snapshot of one restores into the other.

The format is logical (agents, calls, timers and tallies as the rules see them), not a
memory image, so the engine's indexes can change without a new version. Little-endian;
``bytes`` is a u32 length and the data; counts are u32.

header   magic b"CCRSNAP\\0" | u32 version | u32 CRC-32 (zlib) of the payload | u64 payload size
payload  bytes config tag (:func:`config_fingerprint`) | f64 now | u64 calls created | u64 timers created
         | u64 events (operations applied: the journal's event number of the next one)
         u32 n, n × bytes skill name                       (the numbering used below)
         u32 n, n × agent, in the order added:
             bytes id | u32 site | u32 n, n × (u16 skill, u8 level) | u8 has wrap-up, f64 wrap-up
             | u8 state | bytes not-ready reason | f64 ready since | f64 since | u64 timer | f64 due
         u32 n, n × plan tallies, in plan order:
             i64 arrived | i64 answered | i64 abandoned | i64 answered within | f64 Σ waits
             | u8 handle time known | f64 recent handle time | u8 answer time known | f64 recent answer time
         u32 n, n × site tallies, in site order (from version 2):
             i64 answered | i64 answered within | f64 Σ waits | i64 handled | f64 Σ handle times
         u32 n, n × call, in arrival order:
             u32 handle | u64 creation order | bytes id | u32 plan | i32 region | i32 language
             | f64 value | f64 extra priority | i64 repeats | i64 preferred agent | f64 preferred wait
             | u8 has preferred-until, f64 preferred until | f64 arrival | f64 since | u8 state
             | i32 step (−1: waiting for the preferred agent) | u32 agent | u64 timer | f64 due
         u32 n, n × u32 free call handle (the native core's, reused last first)

A call's preferred wait is written as its preferred until − arrival (0 without a preferred
turn): neither router keeps the wait itself, and restore reads the preferred until.

Version 1 is version 2 without the site tallies; it is still read, its site tallies restored as
zero (they count from the restore on).

A timer is its creation number (0: none) and due time. Regions, sites and plans are
numbered in configuration order, agents in the order added; −1 is "none". Handles are the
native core's call slots (the reference numbers its calls in arrival order).

Ids are a kind byte and data (:func:`encode_id`), so that a str id and an int id that look
alike stay apart: 1 + UTF-8 for a str, 2 + i64 for an int that fits, 3 + little-endian two's
complement for a larger one. The native binding encodes them the same way for its journal.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from ._codec import Reader, Writer
from .errors import RestoreError
from .types import AGENT_STATES, CALL_STATES, Config, Id

MAGIC = b"CCRSNAP\0"
VERSION = 2
OLDEST_VERSION = 1
"""The oldest format version still read (version 1 has no site tallies)."""
_HEADER = struct.Struct("<8sIIQ")


_STR, _INT, _BIG_INT = 1, 2, 3


def config_fingerprint(config: Config) -> bytes:
    """16 bytes that differ for configurations that route differently (a snapshot's tag)."""
    return hashlib.sha256(config.to_document()).digest()[:16]


def encode_id(ident: Id) -> bytes:
    """An agent or call id as bytes: a kind byte, then the str's UTF-8 or the int."""
    if isinstance(ident, str):
        return bytes([_STR]) + ident.encode("utf-8", "surrogatepass")
    if -2**63 <= ident < 2**63:
        return bytes([_INT]) + struct.pack("<q", ident)
    # Bytes, not decimal digits: str() refuses ints beyond 4,300 digits, and is quadratic.
    return bytes([_BIG_INT]) + ident.to_bytes(ident.bit_length() // 8 + 1, "little", signed=True)


def decode_id(key: bytes) -> Id:
    """The id :func:`encode_id` encoded; RestoreError for anything else."""
    kind, data = key[:1], key[1:]
    try:
        if kind == bytes([_STR]):
            return data.decode("utf-8", "surrogatepass")
        if kind == bytes([_INT]) and len(data) == 8:
            return int(struct.unpack("<q", data)[0])
        if kind == bytes([_BIG_INT]) and data:
            return int.from_bytes(data, "little", signed=True)
    except UnicodeDecodeError:
        pass
    raise RestoreError(f"snapshot: not an id: {key!r}" if key else
                       "snapshot: no ids (taken through the C API, which knows calls by handle)")


# A plan's tallies: arrived, answered, abandoned, answered within, Σ waits, recent handle time,
# recent answer time (None until known).
Tally = tuple[int, int, int, int, float, Optional[float], Optional[float]]


def _tally(arrived: int, answered: int, abandoned: int, within: int, wait_sum: float,
           handle_known: bool, handle_time: float, answer_known: bool, answer_time: float) -> Tally:
    return (arrived, answered, abandoned, within, wait_sum, handle_time if handle_known else None,
            answer_time if answer_known else None)


# A site's tallies: answered, answered within, Σ waits, handled, Σ handle times.
SiteTally = tuple[int, int, float, int, float]


@dataclass
class AgentRecord:
    id: Id
    site: int
    levels: list[tuple[int, int]]
    wrapup: Optional[float]
    state: str
    reason: str
    ready_since: float
    since: float
    timer: tuple[int, float]


@dataclass
class CallRecord:
    handle: int
    order: int
    id: Id
    plan: int
    region: int
    language: int
    value: float
    priority: float
    repeats: int
    preferred_agent: int
    preferred_wait: float
    preferred_until: Optional[float]
    arrival: float
    since: float
    state: str
    step: int
    agent: int
    timer: tuple[int, float]


@dataclass
class State:
    """A router's state as a snapshot holds it."""

    tag: bytes
    now: float
    calls_created: int
    timers_created: int
    events: int
    skills: list[str]
    agents: list[AgentRecord]
    tallies: list[Tally]
    site_tallies: Optional[list[SiteTally]]
    """None in a version 1 snapshot, which has none."""
    calls: list[CallRecord]
    free: list[int] = field(default_factory=list)


def encode(state: State) -> bytes:
    """The snapshot bytes of ``state``."""
    w = Writer()
    w.bytes(state.tag)
    w.put("dQQQ", state.now, state.calls_created, state.timers_created, state.events)
    w.put("I", len(state.skills))
    for name in state.skills:
        w.bytes(name.encode("utf-8", "surrogatepass"))
    w.put("I", len(state.agents))
    for a in state.agents:
        w.bytes(encode_id(a.id))
        w.put("II", a.site, len(a.levels))
        for skill, level in a.levels:
            w.put("HB", skill, level)
        w.put("?dB", a.wrapup is not None, a.wrapup or 0.0, AGENT_STATES.index(a.state))
        w.bytes(a.reason.encode("utf-8", "surrogatepass") if a.state == "not_ready" else b"")
        w.put("ddQd", a.ready_since, a.since, *a.timer)
    w.put("I", len(state.tallies))
    for *counts, handle_time, answer_time in state.tallies:
        w.put("qqqqd?d?d", *counts, handle_time is not None, handle_time or 0.0,
              answer_time is not None, answer_time or 0.0)
    assert state.site_tallies is not None, "a snapshot is written with its site tallies"
    w.put("I", len(state.site_tallies))
    for site in state.site_tallies:
        w.put("qqdqd", *site)
    w.put("I", len(state.calls))
    for c in state.calls:
        w.put("IQ", c.handle, c.order)
        w.bytes(encode_id(c.id))
        w.put("IiiddqqdBdddBiIQd", c.plan, c.region, c.language, c.value, c.priority, c.repeats,
              c.preferred_agent, c.preferred_wait, c.preferred_until is not None, c.preferred_until or 0.0,
              c.arrival, c.since, CALL_STATES.index(c.state), c.step, c.agent, *c.timer)
    w.put("I", len(state.free))
    for handle in state.free:
        w.put("I", handle)
    payload = w.getvalue()
    return _HEADER.pack(MAGIC, VERSION, zlib.crc32(payload), len(payload)) + payload


def decode(blob: bytes) -> State:
    """The state in ``blob``; RestoreError naming the reason if it cannot be read.

    Checks the frame (magic, version, size, checksum) and the domain of every field; the
    caller checks what needs the configuration (tag, plans, steps, sites, regions).
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise RestoreError(f"a snapshot is bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if not blob:
        raise RestoreError("snapshot: empty")
    if len(blob) < _HEADER.size or blob[:8] != MAGIC:
        raise RestoreError("snapshot: not a ccroute snapshot")
    _, version, crc, size = _HEADER.unpack_from(blob)
    if not OLDEST_VERSION <= version <= VERSION:
        raise RestoreError(f"snapshot: format version {version}, this ccroute reads versions {OLDEST_VERSION} to {VERSION}")
    payload = blob[_HEADER.size:]
    if size != len(payload):
        raise RestoreError("snapshot: truncated" if size > len(payload) else "snapshot: trailing bytes after the payload")
    if zlib.crc32(payload) != crc:
        raise RestoreError("snapshot: checksum mismatch (corrupted)")
    r = Reader(payload, "snapshot")
    try:
        state = _decode_payload(r, version)
    except (UnicodeDecodeError, ValueError, IndexError) as error:
        if isinstance(error, RestoreError):
            raise
        raise RestoreError(f"snapshot: a value out of its domain ({error})") from None
    if r.at != len(payload):
        raise RestoreError("snapshot: trailing bytes")
    return state


def _decode_payload(r: Reader, version: int) -> State:
    tag = r.bytes()
    now, calls_created, timers_created, events = r.get("dQQQ")
    skills = [r.bytes().decode("utf-8", "surrogatepass") for _ in range(r.count(4))]
    agents = []
    for _ in range(r.count(40)):
        ident, site, n = decode_id(r.bytes()), *r.get("II")
        levels = [r.get("HB") for _ in range(n)]
        has_wrapup, wrapup, state = r.get("?dB")
        reason = r.bytes().decode("utf-8", "surrogatepass")
        ready_since, since, seq, due = r.get("ddQd")
        agents.append(AgentRecord(ident, site, levels, wrapup if has_wrapup else None, AGENT_STATES[state],
                                  reason, ready_since, since, (seq, due)))
    tallies = [_tally(*r.get("qqqqd?d?d")) for _ in range(r.count(58))]
    site_tallies = [r.get("qqdqd") for _ in range(r.count(40))] if version >= 2 else None
    calls = []
    for _ in range(r.count(100)):
        handle, order = r.get("IQ")
        ident = decode_id(r.bytes())
        (plan, region, language, value, priority, repeats, preferred, preferred_wait, has_until, until,
         arrival, since, state, step, agent, seq, due) = r.get("IiiddqqdBdddBiIQd")
        calls.append(CallRecord(handle, order, ident, plan, region, language, value, priority, repeats, preferred,
                                preferred_wait, until if has_until else None, arrival, since, CALL_STATES[state],
                                step, agent, (seq, due)))
    free = [r.get("I") for _ in range(r.count(4))]
    for a in agents:
        if any(not 0 <= skill < len(skills) or not 1 <= level <= 10 for skill, level in a.levels):
            raise RestoreError("snapshot: an agent's skill out of its domain")
    numbers = [now, *(x for a in agents for x in (a.ready_since, a.since)),
               *(x for c in calls for x in (c.value, c.priority, c.preferred_wait, c.arrival, c.since))]
    if math.isnan(now) or now == math.inf or not all(math.isfinite(x) for x in numbers[1:]):
        raise RestoreError("snapshot: a non-finite time or value")
    return State(tag, now, calls_created, timers_created, events, skills, agents, tallies, site_tallies, calls, free)
