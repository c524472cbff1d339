"""Resuming with Last-Event-ID (header or ?lastEventId=): exact replay from the
ring, or a snapshot for an id that cannot be replayed."""

import time
import urllib.parse

import pytest

from sysfeed_checks import check_snapshot_event
from sysfeed_harness import QUIET_JOURNAL, SSERetry, check_consecutive


@pytest.fixture
def daemon(start_daemon):
    """Resumes are counted frame by frame: the daemon follows a quiet journal."""
    return start_daemon(config=QUIET_JOURNAL)


def with_query(path, key, value):
    return path + ("&" if "?" in path else "?") + key + "=" + urllib.parse.quote(value, safe="")


def connect_with_id(d, path, event_id, form):
    if form == "header":
        return d.sse(path, last_event_id=event_id)
    return d.sse(with_query(path, "lastEventId", event_id))


def live_id(c):
    """The id of the last live event the client has read so far."""
    c.wait_event(lambda e: e.type not in ("hello", "snapshot"), 5, "a live event")
    c.read_available()
    return c.live_events()[-1]


def frames(events):
    return [(e.id, e.type, e.data) for e in events]


@pytest.mark.parametrize("topics", [None, "mem", "cpu,load"])
@pytest.mark.parametrize("form", ["header", "query"])
def test_resume_replays_exactly_the_missed_frames(daemon, form, topics):
    wanted = topics.split(",") if topics else None
    path = "/events" + ("?topics=" + topics if topics else "")
    # b sees everything, connected throughout.
    b = daemon.sse()
    b.wait_hello_snapshot()
    a = daemon.sse(path)
    a.wait_hello_snapshot()
    last = live_id(a)
    a.close()
    # Missed while away: 10 frames, and 3 of each wanted topic.
    b.wait_until(lambda: (b.last_seq() or 0) >= last.seq + 10 and all(
        sum(e.type == t and e.seq > last.seq for e in b.events) >= 3 for t in (wanted or ["mem"])),
        10, "10 frames and 3 of each topic after seq %d" % last.seq)
    assert daemon.healthz()["ring"]["last"] >= last.seq + 10

    a2 = connect_with_id(daemon, path, last.id, form)
    assert a2.wait_response().status == 200
    hello = a2.wait_type("hello")
    # Catch up past what the ring held at reconnect, into live frames.
    target = b.last_seq() + 4
    a2.wait_until(lambda: (a2.last_seq() or 0) >= target, 10, "replay up to seq %d" % target)
    b.wait_seq(a2.last_seq())
    got = a2.events[a2.events.index(hello) + 1 :]
    assert not [e for e in got if e.type == "snapshot"], "resume sent a snapshot"
    assert isinstance(a2.items[0], SSERetry) and a2.items[1] is hello
    upto = got[-1].seq
    expected = [
        e
        for e in b.events
        if e.type not in ("hello", "snapshot")
        and last.seq < e.seq <= upto
        and (wanted is None or e.type in wanted)
    ]
    assert len(expected) >= (10 if wanted is None else 3), expected
    assert frames(got) == frames(expected)
    if wanted is None:
        check_consecutive(got, start_seq=last.seq + 1)


def assert_fresh_start(d, c, instance):
    """retry, hello, then a snapshot of this instance, then consecutive live frames."""
    assert c.wait_response().status == 200, c.response
    hello, snap = c.wait_hello_snapshot()
    assert isinstance(c.items[0], SSERetry) and c.items[1] is hello and c.items[2] is snap, c.items[:3]
    s = check_snapshot_event(snap, instance, topics=None)
    c.wait_until(lambda: len(c.live_events()) >= 4, 5, "4 live events")
    check_consecutive(c.live_events(), start_seq=s["seq"] + 1)


BAD_IDS = {
    "other-instance": lambda inst, seq: "".join("1" if ch == "0" else "0" for ch in inst) + "-%d" % seq,
    "garbage": lambda inst, seq: "garbage",
    "empty": lambda inst, seq: "",
    "no-seq": lambda inst, seq: inst + "-",
    "non-numeric-seq": lambda inst, seq: inst + "-abc",
    "negative-seq": lambda inst, seq: inst + "--1",
    "future-seq": lambda inst, seq: inst + "-%d" % (seq + 1000000),
    "overflowing-seq": lambda inst, seq: inst + "-18446744073709551616",
    "trailing-junk": lambda inst, seq: inst + "-%d;x" % seq,
    "long": lambda inst, seq: "x" * 600,
}


@pytest.mark.parametrize("form", ["header", "query"])
@pytest.mark.parametrize("kind", sorted(BAD_IDS))
def test_unusable_id_gets_a_snapshot(daemon, kind, form):
    b = daemon.sse()
    b.wait_hello_snapshot()
    last = live_id(b)
    event_id = BAD_IDS[kind](last.instance, last.seq)
    assert event_id != last.id
    c = connect_with_id(daemon, "/events", event_id, form)
    assert_fresh_start(daemon, c, last.instance)


def test_id_of_a_previous_daemon_gets_a_snapshot(start_daemon):
    """The daemon restarted: the old id's seq exists in the new ring, but it
    names another instance."""
    d1 = start_daemon(interval=100, config=QUIET_JOURNAL)
    a = d1.sse()
    a.wait_hello_snapshot()
    old = live_id(a)
    d1.stop()
    d2 = start_daemon(interval=100, config=QUIET_JOURNAL)
    new_inst = d2.healthz()["instance"]
    assert new_inst != old.instance
    d2.wait_healthz(lambda h: h["ring"]["last"] > old.seq, 20, "the new ring to pass seq %d" % old.seq)
    c = connect_with_id(d2, "/events", old.id, "header")
    assert_fresh_start(d2, c, new_inst)


def test_expired_id_gets_a_snapshot(start_daemon):
    d = start_daemon(interval=100, config=QUIET_JOURNAL + "ring-bytes = 65536\n")
    h = d.healthz()
    assert h["ring"]["capacity"] == 65536
    a = d.sse()
    a.wait_hello_snapshot()
    old = live_id(a)
    a.close()
    # Expired: the frame right after the id is gone (an id just below the
    # oldest frame can still be replayed without a gap, and may be).
    h = d.wait_healthz(lambda h: h["ring"]["first"] > old.seq + 1, 60,
                       "the ring's oldest frame to pass seq %d" % (old.seq + 1))
    assert h["ring"]["bytes"] <= h["ring"]["capacity"]
    for form in ("header", "query"):
        c = connect_with_id(d, "/events", old.id, form)
        assert_fresh_start(d, c, old.instance)
        c.close()


def test_id_still_in_a_small_ring_is_replayed(start_daemon):
    """The edge before expiry: with a 64 KiB ring, an id a few ticks old is replayed."""
    d = start_daemon(interval=100, config=QUIET_JOURNAL + "ring-bytes = 65536\n")
    a = d.sse()
    a.wait_hello_snapshot()
    old = live_id(a)
    a.close()
    d.wait_healthz(lambda h: h["ring"]["last"] >= old.seq + 9, 10, "9 more frames")
    c = d.sse(last_event_id=old.id)
    c.wait_type("hello")
    c.wait_until(lambda: len(c.live_events()) >= 9, 5, "the replay")
    assert "snapshot" not in [e.type for e in c.events]
    check_consecutive(c.live_events(), start_seq=old.seq + 1)


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_resume_from_each_id_of_compacted_batches(start_daemon, gzip):
    """Frames older than 3 s are kept compressed, those of one tick as one
    part: a resume from each id of several ticks' batches (inside a part,
    at its start, at its end) replays exactly what a client connected
    throughout read, plain or gzip."""
    d = start_daemon(interval=250, config=QUIET_JOURNAL)
    b = d.sse()
    b.wait_hello_snapshot()
    b.wait_until(lambda: len(b.live_events()) >= 40, 20, "40 live events")
    ids = b.live_events()[:40]
    seen = time.monotonic()
    # older than the compaction age (3 s) by a tick or more: compact now
    b.wait_until(lambda: time.monotonic() - seen > 4, 10, "4 s more of the stream")
    assert d.healthz()["ring"]["first"] <= ids[0].seq
    for last in ids:
        c = d.sse(last_event_id=last.id, gzip=gzip)
        hello = c.wait_type("hello")
        target = b.last_seq()
        c.wait_until(lambda: (c.last_seq() or 0) >= target, 10, "replay up to seq %d" % target)
        got = c.events[c.events.index(hello) + 1:]
        c.close()
        assert got and got[0].type != "snapshot", "resume from %s sent a snapshot" % last.id
        b.wait_seq(got[-1].seq)
        expected = [e for e in b.live_events() if last.seq < e.seq <= got[-1].seq]
        assert frames(got) == frames(expected), last.id
        check_consecutive(got, start_seq=last.seq + 1)


def test_frames_compressed_only_for_resumes(start_daemon):
    """Frames older than 3 s are compressed while a client is connected (it
    may drop and resume), and stay plain while nobody could ask for them:
    the ring's bytes per frame then, over a window past the compaction age,
    are several times those with a client connected."""
    d = start_daemon(interval=250, config=QUIET_JOURNAL + "ring-bytes = 64M\n")

    def bytes_per_frame(what):
        a = d.wait_healthz(lambda h: h["ring"]["last"] > 0, 10, "a frame")
        b = d.wait_healthz(lambda h: h["ring"]["last"] >= a["ring"]["last"] + 200, 30,
                           "200 frames more (%s)" % what)
        return (b["ring"]["bytes"] - a["ring"]["bytes"]) / (b["ring"]["last"] - a["ring"]["last"])

    start = d.wait_healthz(lambda h: h["ring"]["last"] > 0, 10, "a frame")["ring"]["last"]
    d.wait_healthz(lambda h: h["ring"]["last"] >= start + 300, 30, "300 frames: past 3 s")
    alone = bytes_per_frame("no client")
    c = d.sse()
    c.wait_hello_snapshot()
    seen = d.healthz()["ring"]["last"]
    d.wait_healthz(lambda h: h["ring"]["last"] >= seen + 300, 30, "300 frames with a client")
    read = bytes_per_frame("a client")
    c.close()
    assert alone > 2.5 * read, (alone, read)
