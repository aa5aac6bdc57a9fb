"""The journal: a router rebuilt from its journal (and last snapshot) continues identically.

Hypothesis draws a centre and an event sequence (as the equivalence suite does), journals
it from the start, takes a snapshot at a random point, and at another random point
recovers — from the journal alone and from the snapshot plus the journal, into the same
implementation or the other — requiring every following event to decide exactly as in the
run that was never interrupted. Damaged journals are refused or, when only their last
record is torn, recovered without it and with a warning.
"""

from __future__ import annotations

import os
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import Config, Offer, Plan, RestoreError, Step
from ccroute import journal as journals
from ccroute.journal import JournalWarning
from ccroute.reference import ReferenceRouter
from test_equivalence import continue_alike, draw_centre, observe


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_router_recovered_anywhere_continues_identically(router_pair, tmp_path_factory, data):
    writer, recoverer = router_pair
    path = str(tmp_path_factory.mktemp("journal") / "router.journal")
    config, staff = draw_centre(data)
    driver, uninterrupted = ReferenceRouter(config), writer(config)
    journaled = writer(config, journal=path, sync=data.draw(st.sampled_from(["every", "batch", "none"])))
    length = data.draw(st.integers(1, 40), label="length")
    snapshot_at = data.draw(st.integers(0, length), label="snapshot at")
    crash_at = data.draw(st.integers(snapshot_at, length), label="recover at")
    use_snapshot = data.draw(st.booleans(), label="recover from the snapshot")
    for r in (driver, uninterrupted, journaled):
        for agent_id, site, skills in staff:
            r.add_agent(agent_id, site, skills)
    now, blob, config_then = 0.0, None, config
    for i in range(length + 1):
        if i == snapshot_at:
            blob, config_then = journaled.snapshot(), journaled.config
        if i == crash_at:
            journaled.stop_journal()  # what the process's death leaves: the file as written
            # the configuration the snapshot was taken under, or the journal began with
            journaled = recoverer.recover(config_then if use_snapshot else config, path,
                                          snapshot=blob if use_snapshot else None)
            assert observe(journaled, now) == observe(uninterrupted, now)
        if i == length:
            break
        now = continue_alike(data, driver, uninterrupted, journaled, now, i)
    journaled.stop_journal()
    # and what it journaled after recovering recovers too
    again = recoverer.recover(config_then if use_snapshot else config, path, snapshot=blob if use_snapshot else None)
    assert observe(again, now) == observe(uninterrupted, now)
    again.stop_journal()


CONFIG = Config(sites=["shanghai", "nanning"], regions={"guangdong": {"nanning": 0}},
                plans=[Plan("card", steps=[Step(require={"card": 1}, max_distance=0),
                                           Step(after=15, require={"card": 1})])],
                offer_timeout=10.0)


def day(Router, path, **kwargs):
    r = Router(CONFIG, journal=str(path), **kwargs)
    r.add_agent("a1", "shanghai", {"card": 5})
    r.add_agent(2, "nanning", {"card": 3, "lang:yue": 9})
    r.ready("a1", 0.0)
    r.arrive("c1", "card", 1.0, region="guangdong", language="lang:yue")
    r.arrive(7, "card", 2.0, value=3.5)
    r.accept(7, "a1", 3.0)
    return r


def test_recovery_restores_ids_timers_and_stats(Router, tmp_path):
    path = tmp_path / "j"
    r = day(Router, path)
    r.stop_journal()
    twin = type(r).recover(CONFIG, str(path))
    assert (twin.calls(), twin.agents(), twin.stats(), twin.next_due) == (r.calls(), r.agents(), r.stats(), r.next_due)
    for router in (twin, r):
        assert router.hangup(7, 5.0) == []
        assert router.advance(16.0) == [Offer("c1", "a1", 16.0)]
    twin.stop_journal()


def test_records_too_big_for_the_room_ahead_and_a_growing_file_recover_whole(Router, tmp_path):
    # The core encodes a record in place, in the room it keeps mapped after the last one
    # (64 KiB); a bigger one takes the copying way. 200 KB ids, between small records,
    # also make the file outgrow its first mapping (1 MiB) more than once.
    path = tmp_path / "j"
    r = day(Router, path, sync="batch")
    big = [f"{i}-" + "x" * 200_000 for i in range(12)]
    for i, call_id in enumerate(big):
        r.arrive(call_id, "card", 4.0 + i)
        r.advance(4.5 + i)
    r.stop_journal()
    assert path.stat().st_size > 12 * 200_000
    twin = type(r).recover(CONFIG, str(path))
    assert [c.call_id for c in twin.calls()] == [c.call_id for c in r.calls()]
    assert set(big) <= {c.call_id for c in twin.calls()}
    assert twin.stats() == r.stats()
    twin.stop_journal()


def test_a_torn_last_record_is_dropped_with_a_warning(Router, tmp_path):
    path = tmp_path / "j"
    r = day(Router, path)
    r.stop_journal()
    data = path.read_bytes()
    path.write_bytes(data[:-12])  # the accept's record (24 bytes), cut short as by a crash mid-write
    with pytest.warns(JournalWarning, match="torn last record"):
        twin = type(r).recover(CONFIG, str(path))
    assert twin.call_info(7).state == "offered"  # the accept had not returned
    assert twin.accept(7, "a1", 3.0) == []       # and the router takes it again, journaling it
    twin.stop_journal()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert type(r).recover(CONFIG, str(path)).call_info(7).state == "connected"


def test_skills_are_named_once_and_anew_after_a_reconfiguration_or_a_recovery(router_pair, tmp_path):
    """Format 3 numbers a record's skills, naming each (a skill_name record) before its first
    use: the numbering may change with a reconfiguration, and the writer after a recovery is
    another router, with its own numbering."""
    writer, recoverer = router_pair
    path = str(tmp_path / "j")
    closed = Config(sites=CONFIG.sites, regions=CONFIG.regions, plans=CONFIG.plans, offer_timeout=10.0,
                    skills=["lang:cmn", "lang:yue", "card"])  # numbered anew

    def first_part(r):
        r.reconfigure(closed, 4.0)
        r.arrive("c2", "card", 5.0, language="lang:yue")

    def second_part(r):
        r.arrive("c3", "card", 6.0, language="lang:yue")
        r.set_skills(2, 7.0, {"card": 4, "lang:cmn": 2})

    uninterrupted = day(writer, tmp_path / "u")
    first_part(uninterrupted)
    second_part(uninterrupted)
    r = day(writer, path)  # lang:yue, used by an agent and a call: named once
    named = [journals.read_skill_name(rec.fields)[1]
             for rec in journals.read(path).records if rec.op is journals.Op.SKILL_NAME]
    assert sorted(named) == ["card", "lang:yue"]
    first_part(r)
    r.stop_journal()
    twin = recoverer.recover(CONFIG, path)  # another router: it names the skills again
    second_part(twin)
    twin.stop_journal()
    again = writer.recover(CONFIG, path)
    assert observe(again, 8.0) == observe(uninterrupted, 8.0)
    assert again.snapshot() == uninterrupted.snapshot()
    for router in (again, uninterrupted):
        router.stop_journal()


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b"", "empty"),
    (lambda b: b"CCRSNAP\0" + b[8:], "not a ccroute journal"),
    (lambda b: b[:8] + bytes([9]) + b[9:], "version 9"),
    # Versions 1 (zlib's CRC-32) and 2 (fixed-width fields) are refused, naming both versions.
    (lambda b: b[:8] + bytes([1]) + b[9:], "format version 1, this ccroute reads version 3"),
    (lambda b: b[:8] + bytes([2]) + b[9:], "format version 2, this ccroute reads version 3"),
    (lambda b: b[:20] + bytes([b[20] ^ 1]) + b[21:], "damaged header"),
    (lambda b: b[:60] + bytes([b[60] ^ 1]) + b[61:], "damaged record at byte 48 before valid ones"),
])
def test_a_damaged_journal_is_refused_naming_why(Router, tmp_path, damage, reason):
    path = tmp_path / "j"
    r = day(Router, path)
    r.stop_journal()
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(RestoreError, match=reason):
        type(r).recover(CONFIG, str(path))


def test_a_journal_of_another_configuration_is_refused(Router, tmp_path):
    path = tmp_path / "j"
    day(Router, path).stop_journal()
    other = Config(sites=CONFIG.sites, regions=CONFIG.regions, plans=CONFIG.plans, offer_timeout=5.0)
    with pytest.raises(RestoreError, match="another configuration"):
        Router.recover(other, str(path))


def test_events_missing_between_snapshot_and_journal_are_refused(Router, tmp_path):
    r = day(Router, tmp_path / "old")
    r.stop_journal()
    r.arrive("c3", "card", 4.0)  # never journaled
    r.start_journal(str(tmp_path / "new"))
    r.arrive("c4", "card", 5.0)
    r.stop_journal()
    with pytest.raises(RestoreError, match="events 0 to 6 are missing"):
        Router.recover(CONFIG, str(tmp_path / "new"))
    blob = r.snapshot()  # a snapshot taken after them closes the gap
    assert [c.call_id for c in Router.recover(CONFIG, str(tmp_path / "new"), snapshot=blob).calls()] == [
        "c1", 7, "c3", "c4"]


def test_a_new_journal_does_not_overwrite_a_history(Router, tmp_path):
    path = tmp_path / "j"
    day(Router, path).stop_journal()
    size = os.path.getsize(path)
    with pytest.raises(ValueError, match="holds a history"):
        Router(CONFIG, journal=str(path))
    assert os.path.getsize(path) == size
    with pytest.raises(ValueError, match="sync"):
        Router(CONFIG, journal=str(tmp_path / "k"), sync="sometimes")
