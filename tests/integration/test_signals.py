"""Signals (TERM/INT stop, HUP reloads) and keepalive comments."""

import re
import signal
import statistics
import time

import pytest

from sysfeed_harness import SANITIZE, check_consecutive

# The exit itself must take under 1 s; a sanitized build also runs its leak
# check at exit, which is not the daemon's time.
STOP_LIMIT = 1.0 + (2.0 if SANITIZE else 0.0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_stop_signal_exits_0_quickly(start_daemon, sig):
    d = start_daemon()
    c = d.sse()
    c.wait_hello_snapshot()
    t0 = time.monotonic()
    d.signal(sig)
    rc = d.wait_exit(5)
    took = time.monotonic() - t0
    assert rc == 0, "exit status %d; stderr:\n%s" % (rc, d.stderr_text())
    assert took <= STOP_LIMIT, "took %.2fs to exit" % took
    c.wait_until(lambda: c.closed, 2, "the stream to end")


def mem_ts(c):
    return [e.json["t"] for e in c.live_events() if e.type == "mem"]


def test_sighup_with_broken_config_keeps_serving_the_old_one(start_daemon):
    d = start_daemon(interval=None, config="# sysfeed\ninterval = 200\n")
    c = d.sse()
    hello, snap = c.wait_hello_snapshot()
    inst = hello.json["instance"]
    d.write_config("# sysfeed\n\ninterval = abc\n")
    mark = len(d.stderr_lines)
    d.signal(signal.SIGHUP)
    d.wait_stderr(re.escape(d.config_path) + r":3: \S", 5, start=mark, what="the reload error")
    assert d.alive()
    # Still the same daemon, still ticking at 200 ms, the stream unbroken.
    n = len(mem_ts(c))
    c.wait_until(lambda: len(mem_ts(c)) >= n + 6, 10, "6 more mem events")
    diffs = [b - a for a, b in zip(mem_ts(c)[n:], mem_ts(c)[n + 1 :])]
    assert abs(statistics.median(diffs) - 200) <= 20, diffs
    check_consecutive([snap] + c.live_events())
    h = d.healthz()
    assert h["status"] == "ok" and h["instance"] == inst
    c2 = d.sse()
    assert c2.wait_hello_snapshot()[0].json["interval_ms"] == 200


def test_sighup_with_vanished_config_keeps_serving(start_daemon):
    d = start_daemon(interval=None, config="interval = 200\n")
    import os

    os.unlink(d.config_path)
    mark = len(d.stderr_lines)
    d.signal(signal.SIGHUP)
    d.wait_stderr(re.escape(d.config_path) + r":0: \S", 5, start=mark, what="the reload error")
    assert d.healthz()["status"] == "ok"


def test_sighup_applies_a_new_interval(start_daemon):
    d = start_daemon(interval=None, config="interval = 200\n")
    c = d.sse()
    hello, snap = c.wait_hello_snapshot()
    c.wait_until(lambda: len(mem_ts(c)) >= 2, 5, "2 mem events")
    d.write_config("# slower\ninterval = 500\n")
    d.signal(signal.SIGHUP)

    def three_at_500():
        ts = mem_ts(c)
        diffs = [b - a for a, b in zip(ts, ts[1:])]
        return len(diffs) >= 3 and all(abs(x - 500) <= 50 for x in diffs[-3:])

    c.wait_until(three_at_500, 10, "3 mem events 500 ms apart")
    assert all(e.json["t"] % 500 < 125 for e in c.live_events()[-3:]), "not aligned to 500 ms"
    check_consecutive([snap] + c.live_events())
    c2 = d.sse()
    h2, _ = c2.wait_hello_snapshot()
    assert h2.json["interval_ms"] == 500
    assert h2.json["instance"] == hello.json["instance"]
    assert d.alive()


# With a 60 s tick, a stream of `load` only has nothing to send for up to a
# minute (unfiltered, event-driven topics such as `log` could write anytime).
QUIET = "/events?topics=load"


def test_keepalive_comment_after_idle(start_daemon):
    d = start_daemon(interval=None, config="interval = 60000\nkeepalive = 1\n")
    c = d.sse(QUIET)
    c.wait_hello_snapshot()
    c.wait_until(lambda: len(c.comments) >= 2, 6, "two keepalive comments")
    for k in c.comments[:2]:
        assert k.text == "keepalive", k
    assert c.body_tail.endswith(b"\n: keepalive\n\n"), c.body_tail[-100:]
    # Each comes about 1 s after the previous write (an item of any kind).
    for k in c.comments[:2]:
        i = c.items.index(k)
        gap = k.received - c.items[i - 1].received
        assert 0.5 <= gap <= 3.0, "keepalive %.2fs after the previous write" % gap


def test_no_keepalive_while_events_flow(start_daemon):
    d = start_daemon(interval=None, config="interval = 200\nkeepalive = 1\n")
    c = d.sse()
    hello, _ = c.wait_hello_snapshot()
    n = 12 * len(hello.json["topics"])
    c.wait_until(lambda: len(c.live_events()) >= n, 10, "12 ticks of events")
    assert not c.comments, c.comments


def test_keepalive_notices_a_dead_peer(start_daemon):
    """With no ticks for a minute, the keepalive write is what finds a closed client."""
    d = start_daemon(interval=None, config="interval = 60000\nkeepalive = 1\n")
    c = d.sse(QUIET)
    c.wait_hello_snapshot()
    d.wait_healthz(lambda h: h["clients"] == 1, 5, "clients == 1")
    c.close()
    d.wait_healthz(lambda h: h["clients"] == 0, 6, "the closed client to be noticed")
