"""Event streams over plain TCP go out through the stream writers: one
writev per stream and wake-up, straight from the pieces the hub holds,
libmicrohttpd keeping the connection suspended meanwhile. What that changes
on the wire, and what must hold all the same (a socket that takes little,
a stop with streams open, HTTP/1.0)."""

import json
import re
import signal
import socket

from sysfeed_harness import (
    SSEEvent,
    SSEParser,
    Timeout,
    check_consecutive,
    deadline_after,
    pump_many,
    remaining,
)

# periodic topics only (no event topic adds frames between ticks); their
# frames make a tick of several times libmicrohttpd's 5 KiB buffer here
TOPICS = "cpu,mem,load,net,disk,fs,psi,proc"


def raw_get(port, path, version="HTTP/1.1", rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.sendall(("GET %s %s\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path, version, port)).encode())
    s.settimeout(0.5)
    return s


class Chunks:
    """The chunks of a chunked body as they come, each kept whole."""

    def __init__(self):
        self.buf = b""
        self.head = None
        self.chunks = []

    def feed(self, data):
        self.buf += data
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head, self.buf = self.buf[:end].decode(), self.buf[end + 4:]
            assert re.search(r"(?im)^transfer-encoding: *chunked", self.head), self.head
        while True:
            line_end = self.buf.find(b"\r\n")
            if line_end < 0:
                return
            size = int(self.buf[:line_end], 16)
            assert size > 0, "the stream's body ended"
            if len(self.buf) < line_end + 2 + size + 2:
                return
            data = self.buf[line_end + 2:line_end + 2 + size]
            assert self.buf[line_end + 2 + size:line_end + 4 + size] == b"\r\n"
            self.chunks.append(data)
            self.buf = self.buf[line_end + 4 + size:]


def read_until(s, sink, cond, timeout, what):
    deadline = deadline_after(timeout)
    while not cond():
        if remaining(deadline) <= 0:
            raise Timeout("no %s in %s s" % (what, timeout))
        try:
            data = s.recv(262144)
        except socket.timeout:
            continue
        assert data, "the daemon closed the stream"
        sink(data)


def test_a_tick_goes_out_in_one_chunk(start_daemon):
    """The frames of one tick reach a plain stream in one HTTP chunk (one
    writev), not cut to the size of libmicrohttpd's buffer; every chunk
    holds whole frames."""
    d = start_daemon(interval=250)
    s = raw_get(d.port, "/events?topics=" + TOPICS)
    ch = Chunks()
    try:
        read_until(s, ch.feed, lambda: len(ch.chunks) >= 14, 30, "14 chunks")
    finally:
        s.close()
    parser = SSEParser()
    tick_chunks, tick_bytes, sizes = {}, {}, []
    live = False  # past the snapshot, which may take several chunks
    for i, data in enumerate(ch.chunks):
        assert not live or data.endswith(b"\n\n"), "chunk %d ends inside a frame: %r" % (
            i, data[-40:])
        for item in parser.feed(data):
            if not isinstance(item, SSEEvent) or item.type in ("hello", "snapshot"):
                live = live or (isinstance(item, SSEEvent) and item.type == "snapshot")
                continue
            t = json.loads(item.data)["t"]
            tick_chunks.setdefault(t, set()).add(i)
            tick_bytes[t] = tick_bytes.get(t, 0) + len(item.data)
        sizes.append(len(data))
    # the first and last ticks seen may be cut by the window
    ticks = sorted(tick_chunks)[1:-1]
    assert len(ticks) >= 8, tick_chunks
    for t in ticks:
        assert len(tick_chunks[t]) == 1, "tick %d in chunks %s (chunk sizes %s)" % (
            t, sorted(tick_chunks[t]), sizes)
    assert max(tick_bytes[t] for t in ticks) > 8192, tick_bytes


def test_a_socket_that_takes_little_gets_every_frame(start_daemon):
    """A client that stops reading while MBs are published (its socket
    fills: the writer keeps what the socket did not take and waits for
    room), then reads again, gets every frame a client reading all along
    gets, once and in order, with no second snapshot."""
    d = start_daemon(interval=100, config="stall-timeout = 120\nring-bytes = 64M\n")
    ref = d.sse("/events?topics=" + TOPICS)
    slow = d.sse("/events?topics=" + TOPICS, rcvbuf=4096)
    pump_many([ref, slow], lambda: len(ref.live_events()) >= 3 and len(slow.live_events()) >= 3,
              10, "live events")
    start = max(ref.live_events()[0].seq, slow.live_events()[0].seq)
    sent0, ref0 = d.healthz()["bytes_sent"], ref.body_bytes
    # only ref reads while far more than both of slow's socket buffers goes
    # by: 600 of these topics' frames (other topics' frames, a journal burst
    # on a busy host, take sequence numbers too)
    pump_many([ref], lambda: sum(e.seq >= start for e in ref.live_events()) >= 600, 120,
              "600 more frames")
    to_ref = ref.body_bytes - ref0
    to_slow = d.healthz()["bytes_sent"] - sent0 - to_ref
    assert to_ref - to_slow > 200000, "nothing held back for the slow client: %d, %d" % (
        to_ref, to_slow)
    target = ref.last_seq()
    pump_many([ref, slow], lambda: slow.last_seq() >= target, 60, "the slow client caught up")
    want = [(e.seq, e.type, e.data) for e in ref.live_events() if start <= e.seq <= target]
    got = [(e.seq, e.type, e.data) for e in slow.live_events() if start <= e.seq <= target]
    assert len(want) > 500
    assert got == want
    assert [e.type for e in slow.events].count("snapshot") == 1
    assert d.healthz()["resyncs"] == 0


def test_stop_with_streams_open(start_daemon):
    """SIGTERM with a stream reading, one whose socket is full and one
    parked on a quiet topic: every stream ends and the daemon exits 0."""
    d = start_daemon(interval=100)
    reading = d.sse()
    quiet = d.sse("/events?topics=file")
    full = raw_get(d.port, "/events", rcvbuf=4096)
    try:
        reading.wait_hello_snapshot()
        quiet.wait_hello_snapshot()
        last = d.healthz()["ring"]["last"]
        d.wait_healthz(lambda h: h["ring"]["last"] >= last + 300, 60, "300 more frames")
        pump_many([reading], lambda: (reading.last_seq() or 0) >= last, 10, "reading caught up")
        d.signal(signal.SIGTERM)
        pump_many([reading, quiet], lambda: reading.closed and quiet.closed, 20,
                  "the streams' end")
        assert d.wait_exit(20) == 0, d.stderr_text()
    finally:
        full.close()


def test_http10_stream_is_not_chunked(start_daemon):
    """An HTTP/1.0 client gets the raw event stream, no chunk framing."""
    d = start_daemon(interval=100)
    s = raw_get(d.port, "/events", version="HTTP/1.0")
    buf = [b""]
    try:
        read_until(s, lambda data: buf.__setitem__(0, buf[0] + data),
                   lambda: buf[0].count(b"\nid: ") >= 20, 20, "20 frames")
    finally:
        s.close()
    head, _, body = buf[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head
    assert b"chunked" not in head.lower(), head
    assert body.startswith(b"retry: 2000\nevent: hello\n"), body[:60]
    events = [i for i in SSEParser().feed(body) if isinstance(i, SSEEvent)]
    assert [e.type for e in events[:2]] == ["hello", "snapshot"]
    check_consecutive(events[2:], start_seq=events[1].seq + 1)
