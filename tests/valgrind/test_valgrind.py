"""The daemon under valgrind memcheck: every route, SSE clients that finish,
reset, resume, filter and never read, a ring that wraps, two reloads, then
SIGTERM. It must exit 0 with no memcheck error and no definite leak."""

import re
import shutil
import signal

import pytest

from sysfeed_harness import (
    SANITIZE,
    Daemon,
    ProtocolError,
    check_consecutive,
    raise_nofile,
    sysfeed_binary,
)

T = 60  # seconds: valgrind runs the daemon some 20-50 times slower


@pytest.fixture(scope="module")
def sysfeed_bin():
    return sysfeed_binary()


@pytest.fixture(scope="module")
def valgrind():
    vg = shutil.which("valgrind")
    if not vg:
        pytest.fail("valgrind not found: apt-get install valgrind")
    if SANITIZE:
        pytest.skip("SYSFEED_SANITIZE is set: valgrind cannot run a sanitizer build; "
                    "memcheck runs on the plain build")
    return vg


def test_memcheck_clean_after_a_busy_session(sysfeed_bin, valgrind, tmp_path):
    raise_nofile(1024)
    log = tmp_path / "memcheck.log"
    wrapper = [valgrind, "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--show-leak-kinds=definite", "--error-exitcode=99", "--num-callers=40",
               "--log-file=%s" % log]
    config = "interval = 100\nring-bytes = 65536\nkeepalive = 1\n"
    d = Daemon(sysfeed_bin, tmp_path, config=config, wrapper=wrapper, start_timeout=120)
    try:
        d.start()
        session(d)
        rc, took = d.stop(timeout=120)
    finally:
        problems = d.finish()
    report = log.read_text(errors="replace") if log.exists() else "(no memcheck log)"
    assert not problems, "\n".join(problems) + "\n" + report[-6000:]
    assert rc == 0, "exit status %d (99: memcheck found errors)\n%s" % (rc, report[-6000:])
    assert re.search(r"ERROR SUMMARY: 0 errors", report), report[-6000:]
    assert ("All heap blocks were freed" in report
            or re.search(r"definitely lost: 0 bytes in 0 blocks", report)), report[-6000:]


def session(d):
    req = d.request

    # Every route, and the error paths.
    assert req("GET", "/", timeout=T).status == 200
    etag = req("GET", "/", timeout=T).header("ETag")
    assert req("GET", "/", headers=[("If-None-Match", etag)], timeout=T).status == 304
    assert req("HEAD", "/", timeout=T).status == 200
    assert req("GET", "/healthz", timeout=T).status == 200
    assert req("HEAD", "/healthz", timeout=T).status == 200
    assert req("GET", "/api/snapshot", timeout=T).status == 200
    assert req("GET", "/nope", timeout=T).status == 404
    assert req("POST", "/events", body=b"x=1", timeout=T).status == 405
    assert req("DELETE", "/healthz", timeout=T).status == 405
    assert req("GET", "/healthz", host="evil.example", timeout=T).status == 403
    assert req("GET", "/events?topics=bogus", timeout=T).status == 400
    assert req("HEAD", "/events", timeout=T).status == 200
    for raw in (b"GARBAGE\r\n\r\n",
                b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"A" * 100000 + b"\r\n\r\n"):
        try:
            r = req(raw=raw, timeout=T)
        except (ConnectionError, ProtocolError):
            continue  # closed without an answer: allowed
        assert 400 <= r.status < 500, r

    # A client that reads some frames and leaves (FIN).
    a = d.sse()
    a.wait_hello_snapshot(T)
    a.wait_until(lambda: len(a.live_events()) >= 4, T, "4 live events")
    last = a.live_events()[-1]
    a.close()
    # One that resets (RST) right after hello.
    b = d.sse()
    b.wait_type("hello", T)
    b.abort()
    # One that never reads, open until SIGTERM.
    d.sse(rcvbuf=4096)
    # A filtered one, open until SIGTERM.
    c = d.sse("/events?topics=mem,cpu")
    c.wait_hello_snapshot(T)
    # A resume from the ring, and one with a foreign id.
    r = d.sse(last_event_id=last.id)
    r.wait_type("hello", T)
    r.wait_until(lambda: len(r.live_events()) >= 3, T, "the replay")
    check_consecutive(r.live_events(), start_seq=last.seq + 1)
    r.close()
    f = d.sse("/events?lastEventId=ffffffffffffffff-1")
    f.wait_hello_snapshot(T)
    f.close()

    # The 64 KiB ring wraps: the frame after `last` is evicted.
    d.wait_healthz(lambda h: h["ring"]["first"] > last.seq + 1, 4 * T, "the ring to wrap",
                   request_timeout=T)
    # An expired id now gets a snapshot.
    e = d.sse(last_event_id=last.id)
    e.wait_hello_snapshot(T)
    e.close()

    # Reload: a broken config (kept the old), then a good one.
    d.write_config("interval = abc\n")
    mark = len(d.stderr_lines)
    d.signal(signal.SIGHUP)
    d.wait_stderr(re.escape(d.config_path) + r":1: ", T, start=mark)
    d.write_config("interval = 200\nring-bytes = 65536\nkeepalive = 1\nallowed-hosts = x.example\n")
    d.signal(signal.SIGHUP)

    def mem_at_200():
        ts = [e.json["t"] for e in c.live_events() if e.type == "mem"]
        diffs = [y - x for x, y in zip(ts, ts[1:])]
        return len(diffs) >= 3 and all(abs(x - 200) <= 50 for x in diffs[-3:])

    c.wait_until(mem_at_200, 2 * T, "the new 200 ms interval")
    n = d.sse()
    hello, _ = n.wait_hello_snapshot(T)
    assert hello.json["interval_ms"] == 200
    assert d.request("GET", "/healthz", host="x.example", timeout=T).status == 200
