"""The core holds under abuse from a local user with ordinary tools: memory
stays bounded, the next client always gets an answer, logs do not flood.
Each test would fail on the daemon before these limits existed (see the
issue's table); figures and timings are for `make bench` (tests/bench/abuse),
here only conditions with generous deadlines."""

import os
import re
import select
import socket
import subprocess
import time

import pytest

from conftest_events import journal_send, journald  # noqa: F401 (fixtures)
from sysfeed_harness import QUIET_JOURNAL, SANITIZE, SLOW, Timeout, deadline_after, pump_for, pump_many, remaining

FIXTURES = os.path.abspath(os.environ.get("SYSFEED_FIXTURES", "tests/fixtures"))


def metric(d, name, labels=""):
    text = d.request("GET", "/metrics").text
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    assert m, "no %s%s in /metrics" % (name, labels)
    return float(m.group(1))


def connect(port, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def masks(topics, n):
    """n different non-empty `topics=` lists."""
    out = []
    for bits in range(1, 1 << len(topics)):
        if len(out) == n:
            break
        out.append(",".join(t for i, t in enumerate(topics) if bits & (1 << i)))
    assert len(out) == n
    return out


@pytest.mark.skipif(SANITIZE, reason="RSS under ASan is its quarantine, not the daemon's")
def test_stalled_clients_with_many_masks_share_the_snapshot(start_daemon, journald, journal_send):
    """200 journal entries of 4,096 control characters (6 bytes each once
    escaped), then 100 streams with 100 different masks that never read:
    each used to hold its own copy of a multi-MB snapshot."""
    journal_send("MESSAGE=" + "\\x01" * 4096, "SYSLOG_IDENTIFIER=sysfeed-abuse", n=200, escapes=True)
    d = start_daemon(interval=200, config="ring-bytes = 1M\n")
    reader = d.sse()
    _, snap = reader.wait_hello_snapshot(10)
    topics = sorted(snap.json["topics"])
    pump_for([reader], 1.0)
    base = d.rss_kb()
    stuck = [d.sse("/events?topics=" + m, rcvbuf=4096) for m in masks(topics, 100)]
    d.wait_healthz(lambda h: h["clients"] == 101, 20, "101 clients")
    pump_for([reader], 2.0)
    samples = []
    for _ in range(4):
        pump_for([reader], 0.5)
        samples.append(d.rss_kb())
    growth = max(samples) - base
    print("RSS %d KiB, with 100 stalled masks %r KiB" % (base, samples))
    assert growth <= 8 * 1024, "100 stalled clients cost %d KiB" % growth
    for c in stuck:
        c.abort()


def test_header_trickle_does_not_lock_out(start_daemon):
    """Hundreds of connections that never finish their request, from the
    address every legitimate client shares and from others: a fresh request
    from 127.0.0.1 still gets its answer (the oldest waiting one makes room)."""
    d = start_daemon(interval=200)
    held = []
    for i in range(600):
        s = connect(d.port, "127.0.0.1" if i < 300 else "127.0.0.%d" % (2 + i % 5))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHo")
        held.append(s)
    deadline = deadline_after(20)
    while True:
        try:
            h = d.healthz(timeout=2)
            break
        except (Timeout, OSError):
            assert remaining(deadline) > 0, "no answer from 127.0.0.1 behind 600 trickling connections"
    assert h["status"] == "ok"
    assert metric(d, "sysfeed_http_closed_total", '{reason="waiting_evicted"}') > 0
    for s in held:
        s.close()


def test_header_deadline(start_daemon):
    """A request must be whole within 10 s of the accept, however slowly its
    bytes come."""
    d = start_daemon(interval=200)
    s = connect(d.port)
    s.setblocking(False)
    deadline = deadline_after(30)
    closed = False
    for b in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 100:
        try:
            s.send(bytes([b]))
        except OSError:
            closed = True
            break
        r, _, _ = select.select([s], [], [], 0.5)
        if r and not s.recv(100):
            closed = True
            break
        assert remaining(deadline) > 0
    assert closed, "a request trickled for %d s was not cut" % 30
    assert metric(d, "sysfeed_http_closed_total", '{reason="header_timeout"}') >= 1


def test_closed_quiet_streams_free_their_slots(start_daemon):
    """Streams on a quiet topic opened, read and closed: their slots come
    back at once, not at the next write (a keepalive, 15 s later)."""
    d = start_daemon(interval=200, config="max-clients = 20\n")
    refused = 0
    for _ in range(60):
        deadline = deadline_after(2)
        while True:  # a slot freed a moment ago may not be seen yet: retry briefly
            c = d.sse("/events?topics=file")
            r = c.wait_response()
            if r.status == 200:
                break
            refused += 1
            c.close()
            assert remaining(deadline) > 0, "20 closed streams kept their slots for 2 s"
            time.sleep(0.01)
        c.wait_hello_snapshot()
        c.close()
    print("%d refusals in 60 cycles" % refused)
    d.wait_healthz(lambda h: h["clients"] == 0, 5, "every closed stream gone")
    c = d.sse("/events?topics=file")
    c.wait_hello_snapshot()
    assert metric(d, "sysfeed_http_closed_total", '{reason="peer_gone"}') >= 1


def test_too_many_query_arguments_get_414(start_daemon):
    d = start_daemon(interval=200)
    r = d.request("GET", "/healthz?" + "&".join(["a"] * 300), timeout=5)
    assert r.status == 414, r
    assert r.text.count("\n") == 1 and "query arguments" in r.text, r.text
    r = d.request("GET", "/healthz?" + "&".join("a%d=1" % i for i in range(32)))
    assert r.status == 200, r
    assert metric(d, "sysfeed_http_refused_total", '{reason="too_many_arguments"}') == 1


def test_http11_without_host_is_400(start_daemon):
    d = start_daemon(interval=200)
    r = d.request(raw=b"GET /healthz HTTP/1.1\r\n\r\n")
    assert r.status == 400 and "Host" in r.text, r
    r = d.request(raw=b"GET /healthz HTTP/1.0\r\n\r\n")
    assert r.status == 200, r


def test_connection_churn_logs_little(start_daemon):
    """Connections opened and dropped, some mid-request, some reset: counted
    in /metrics, and at most a few lines a minute on stderr."""
    d = start_daemon(interval=200)
    d.healthz()
    before = len(d.stderr_lines)
    for i in range(2000):
        s = connect(d.port)
        if i % 3 == 1:
            s.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        elif i % 3 == 2:
            s.sendall(b"GET /heal")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    d.wait_healthz(lambda h: h["clients"] == 0, 10, "the churned streams gone")
    lines = d.stderr_lines[before:]
    assert len(lines) <= 20, "%d lines for 2,000 connections:\n%s" % (len(lines), "\n".join(lines[:30]))
    assert metric(d, "sysfeed_http_accepted_total") >= 2000


def test_web_root_stays_inside(start_daemon, tmp_path):
    root = tmp_path / "web"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<p>index</p>")
    (root / "sub" / "x.txt").write_text("inside")
    (root / ".env").write_text("SECRET=1")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]")
    os.symlink("/etc", root / "etc")
    os.symlink("sub", root / "inner")
    os.symlink("../../..", root / "up")
    d = start_daemon(interval=200, args=["--web-root", str(root)])
    assert d.request("GET", "/").status == 200
    for path in ("/etc/passwd", "/etc/hostname", "/.env", "/.git/config", "/up/etc/passwd"):
        r = d.request("GET", path)
        assert r.status == 404, "%s: %r" % (path, r)
    r = d.request("GET", "/inner/x.txt")
    assert r.status == 200 and r.text == "inside", r


def test_quiet_topic_keeps_its_place(start_daemon):
    """A stream of `file` only, while other topics wrap a small ring many
    times: keepalives, never a snapshot or a resync."""
    d = start_daemon(interval=100, config="ring-bytes = 64K\nkeepalive = 1\n")
    c = d.sse("/events?topics=file")
    c.wait_hello_snapshot()
    h0 = d.healthz()
    c.wait_until(lambda: len(c.comments) >= 2, 10, "two keepalives")
    h1 = d.healthz()
    assert h1["ring"]["first"] > h0["ring"]["last"], "the ring did not wrap: %r %r" % (h0, h1)
    assert [e.type for e in c.events] == ["hello", "snapshot"], [e.type for e in c.events]
    assert h1["resyncs"] == 0


def test_stalled_stream_is_closed(start_daemon, tmp_path):
    """A client that stops reading is closed once its oldest unsent event is
    older than stall-timeout, and counted."""
    d = start_daemon(interval=100, config="stall-timeout = 2\n")
    s = connect(d.port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    d.wait_healthz(lambda h: h["stalled"] >= 1 and h["clients"] == 0, 60,
                   "the stalled stream closed")
    assert metric(d, "sysfeed_stalled_streams_total") >= 1
    s.close()


def test_healthz_says_when_the_loop_is_stuck(start_daemon, tmp_path):
    """/healthz answers from the HTTP threads; when the loop has not ticked
    for three intervals it says so with 503 (here the load collector blocks
    opening a FIFO in the proc root)."""
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", os.path.join(FIXTURES, "vm2"), str(root)], check=True)
    d = start_daemon(interval=100, args=["--proc-root", str(root / "proc"),
                                         "--sys-root", str(root / "sys")])
    r = d.request("GET", "/healthz")
    assert r.status == 200 and r.json["tick_age_ms"] <= 2000, (r, d.stderr_text())
    fifo = root / "proc" / "loadavg"
    os.unlink(fifo)
    os.mkfifo(fifo)
    deadline = deadline_after(10)
    while True:
        r = d.request("GET", "/healthz")
        if r.status == 503:
            break
        assert remaining(deadline) > 0, "still %r" % r
        time.sleep(0.1)
    assert r.json["status"] == "stalled" and r.json["tick_age_ms"] > 2000, r.json
    # unblock the loop (a regular file in the FIFO's place first, so that
    # the next tick cannot block again): it ticks again
    fd = os.open(fifo, os.O_WRONLY)
    (root / "proc" / "loadavg.new").write_text("0.00 0.01 0.05 1/100 1234\n")
    os.rename(root / "proc" / "loadavg.new", fifo)
    os.write(fd, b"0.00 0.01 0.05 1/100 1234\n")
    os.close(fd)
    deadline = deadline_after(10)
    while d.request("GET", "/healthz").status != 200:
        assert remaining(deadline) > 0, "the loop does not tick again"
        time.sleep(0.1)


def test_gzip_stream_decodes_at_each_tick(start_daemon):
    """A client that accepts gzip gets the same events compressed, each tick
    decodable as it arrives; /api/snapshot gzip'd is one whole gzip file."""
    d = start_daemon(interval=200, config=QUIET_JOURNAL)
    plain = d.sse()
    z = d.sse(gzip=True)
    z.wait_hello_snapshot()
    plain.wait_hello_snapshot()
    assert z.response.header("Content-Encoding") == "gzip"
    assert plain.response.header("Content-Encoding") is None
    first = z.events[-1].seq
    z.wait_seq(first + 30, 10)
    pump_many([plain], lambda: (plain.last_seq() or 0) >= first + 30, 10, "plain too")
    zs = {e.seq: (e.type, e.data) for e in z.live_events()}
    ps = {e.seq: (e.type, e.data) for e in plain.live_events()}
    common = sorted(set(zs) & set(ps))
    assert len(common) >= 20 and all(zs[s] == ps[s] for s in common)
    assert z.wire_bytes * 3 < z.body_bytes, (z.wire_bytes, z.body_bytes)
    r = d.request("GET", "/api/snapshot", headers=[("Accept-Encoding", "gzip")])
    assert r.header("Content-Encoding") == "gzip"
    import gzip
    import json
    snap = json.loads(gzip.decompress(r.body))
    assert set(snap["topics"]) >= {"cpu", "mem"}
    assert d.healthz()["gzip_clients"] == 1
