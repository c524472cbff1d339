"""The harness's pure parts against hand-made bytes, and its clients against a
canned server: a failure here is a test-suite bug, not a daemon bug."""

import random
import socket
import threading
import time

import pytest

from sysfeed_harness import (
    ChunkedDecoder,
    ProtocolError,
    SSEClient,
    SSEComment,
    SSEEvent,
    SSEParser,
    SSERetry,
    check_consecutive,
    http_request,
    parse_head,
    parse_id,
)


def decode_all(pieces):
    d = ChunkedDecoder()
    out = b"".join(d.feed(p) for p in pieces)
    return out, d


def bytewise(b):
    return [b[i : i + 1] for i in range(len(b))]


CHUNKED = b"5\r\nhello\r\nA;name=val\r\n0123456789\r\n1\r\n!\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT"


def test_chunked_whole_and_bytewise():
    for pieces in ([CHUNKED], bytewise(CHUNKED)):
        out, d = decode_all(pieces)
        assert out == b"hello0123456789!"
        assert d.done
        assert d.chunks == 3
        assert d.rest == b"NEXT"


def test_chunked_incomplete_is_not_done():
    out, d = decode_all([b"5\r\nhel"])
    assert out == b"hel" and not d.done
    assert d.feed(b"lo\r\n0\r\n\r\n") == b"lo" and d.done


@pytest.mark.parametrize(
    "bad",
    [b"zz\r\n", b"5\r\nhelloXX", b"-1\r\n", b"5 5\r\nhello\r\n", b"\r\n"],
)
def test_chunked_rejects_malformed(bad):
    with pytest.raises(ProtocolError):
        ChunkedDecoder().feed(bad)


def sse(pieces):
    p = SSEParser()
    out = []
    for piece in pieces:
        out.extend(p.feed(piece))
    return out, p


STREAM = (
    b"retry: 2000\n\n"
    b'event: hello\ndata: {"a":1}\n\n'
    b"id: 0123456789abcdef-7\nevent: cpu\ndata: {\"t\":1}\n\n"
    b": keepalive\n\n"
    b"data: line1\ndata: line2\n\n"
)


def kinds(items):
    out = []
    for i in items:
        if isinstance(i, SSEEvent):
            out.append(("event", i.type, i.id, i.data))
        elif isinstance(i, SSEComment):
            out.append(("comment", i.text))
        else:
            out.append(("retry", i.ms))
    return out


EXPECTED = [
    ("retry", 2000),
    ("event", "hello", None, '{"a":1}'),
    ("event", "cpu", "0123456789abcdef-7", '{"t":1}'),
    ("comment", "keepalive"),
    ("event", "message", None, "line1\nline2"),
]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_sse_line_endings_and_splits(eol):
    stream = STREAM.replace(b"\n", eol)
    assert kinds(sse([stream])[0]) == EXPECTED
    assert kinds(sse(bytewise(stream))[0]) == EXPECTED
    rnd = random.Random(len(stream))
    for _ in range(50):
        cuts = sorted(rnd.sample(range(1, len(stream)), 6))
        pieces = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)])]
        assert kinds(sse(pieces)[0]) == EXPECTED


def test_sse_last_event_id_carries_over_and_hello_has_no_id():
    items, p = sse([b"id: a-1\ndata: x\n\nevent: hello\ndata: y\n\nid\ndata: z\n\n"])
    assert [(e.id, e.last_event_id) for e in items] == [("a-1", "a-1"), (None, "a-1"), ("", "")]


def test_sse_field_rules():
    items, p = sse(
        [
            b"\xef\xbb\xbfdata:x\n\n"  # BOM, no space after colon
            b"data:  two\n\n"  # only one space is removed
            b"data\n\n"  # no colon: empty value, still an event
            b"id: 5\n\n"  # no data: nothing dispatched, id kept
            b"id: bad\x00id\nfoo: bar\ndata: q\n\n"  # NUL id ignored, unknown field ignored
            b"retry: abc\nretry: 12x\n\n"  # not digits: ignored
            b"data: unterminated"  # no blank line: never dispatched
        ]
    )
    evs = [i for i in items if isinstance(i, SSEEvent)]
    assert [e.data for e in evs] == ["x", " two", "", "q"]
    assert evs[3].id is None and evs[3].last_event_id == "5"
    assert not [i for i in items if isinstance(i, SSERetry)]
    assert p.retry is None


def test_sse_utf8_split_inside_character():
    data = 'data: {"host":"h\u00e9\u20ac"}\n\n'.encode()
    items, _ = sse(bytewise(data))
    assert items[0].json == {"host": "h\u00e9\u20ac"}


def test_parse_id():
    assert parse_id("0123456789abcdef-0") == ("0123456789abcdef", 0)
    assert parse_id("0123456789abcdef-42") == ("0123456789abcdef", 42)
    for bad in (None, "", "x-1", "0123456789ABCDEF-1", "0123456789abcdef-", "0123456789abcdef-01",
                "0123456789abcdef--1", "0123456789abcdef-1 "):
        assert parse_id(bad) is None


def test_check_consecutive():
    mk = lambda s: SSEEvent("mem", "{}", "0123456789abcdef-%d" % s, "", 0)
    assert check_consecutive([mk(3), mk(4), mk(5)], 3) == [3, 4, 5]
    with pytest.raises(AssertionError):
        check_consecutive([mk(3), mk(5)])
    with pytest.raises(AssertionError):
        check_consecutive([mk(3), mk(3)])


def test_parse_head():
    r = parse_head(b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nX-Empty:\r\n")
    assert (r.status, r.reason, r.header("allow"), r.header("x-empty")) == (
        405, "Method Not Allowed", "GET, HEAD", "")
    with pytest.raises(ProtocolError):
        parse_head(b"HTTP/1.1 2000 OK")
    with pytest.raises(ProtocolError):
        parse_head(b"HTTP/1.1 200 OK\r\nno colon here")


class CannedServer:
    """Accepts one connection, reads the request head, writes `reply` in pieces."""

    def __init__(self, reply, piece=7, close=True, pause_at=None, pause=0.0):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.request = b""
        self._reply, self._piece, self._close = reply, piece, close
        self._pause_at, self._pause = pause_at, pause
        self.done = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        c, _ = self.sock.accept()
        while b"\r\n\r\n" not in self.request:
            self.request += c.recv(4096)
        for i in range(0, len(self._reply), self._piece):
            if self._pause_at is not None and i <= self._pause_at < i + self._piece:
                c.sendall(self._reply[i : self._pause_at])
                # Lets the client see the first part alone (a slow stream).
                time.sleep(self._pause)
                c.sendall(self._reply[self._pause_at : i + self._piece])
                continue
            c.sendall(self._reply[i : i + self._piece])
        if self._close:
            c.close()
        else:
            self.done.wait(10)
            c.close()
        self.sock.close()


def test_http_request_chunked_and_length():
    body = b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"
    srv = CannedServer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    r = http_request(srv.port, "GET", "/x")
    assert r.status == 200 and r.body == b"abcdefg" and r.chunked
    assert srv.request.startswith(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % srv.port)
    srv = CannedServer(b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n")
    r = http_request(srv.port, "GET", "/y", host="evil.example")
    assert r.status == 404 and r.text == "not found\n"
    assert b"\r\nHost: evil.example\r\n" in srv.request


def test_http_request_head_keeps_extra_bytes():
    srv = CannedServer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nLEAK!")
    r = http_request(srv.port, "HEAD", "/")
    assert r.status == 200 and bytes(r.extra) == b"LEAK!"


def test_sse_client_against_canned_stream():
    stream = (b"retry: 2000\n\nevent: hello\ndata: {}\n\n"
              b"id: 0123456789abcdef-1\nevent: snapshot\ndata: {\"seq\":1}\n\n"
              b"id: 0123456789abcdef-2\nevent: mem\ndata: {\"t\":5}\n\n: keepalive\n\n")
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(stream[i:i + 9]), stream[i:i + 9])
                       for i in range(0, len(stream), 9))
    srv = CannedServer(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n" + chunked, piece=5, close=False)
    c = SSEClient(srv.port, "/events", last_event_id="abc")
    try:
        hello, snap = c.wait_hello_snapshot(5)
        assert hello.id is None and snap.seq == 1
        mem = c.wait_type("mem")
        assert mem.json == {"t": 5} and mem.seq == 2
        c.wait_until(lambda: c.comments, 5, "keepalive")
        assert c.comments[0].text == "keepalive"
        assert bytes(c.body_prefix).startswith(b"retry: 2000\n\n")
        assert b"\r\nLast-Event-ID: abc\r\n" in srv.request
    finally:
        srv.done.set()
        c.close()


@pytest.mark.parametrize("gzip", [False, True])
def test_sseload_counts_against_a_canned_stream(bench_dir, gzip):
    """The bench client's decoder and counters on a stream with known faults:
    one gap of 2, one duplicate, one fresh snapshot; CRLF and CR line ends;
    chunks split inside lines; latency only from live events' "t". With
    --gzip the same stream comes gzip'd, a sync flush after each frame (as
    the daemon flushes at each tick), in two gzip members, and sseload
    inflates it."""
    import json
    import os
    import subprocess
    import time as _time
    import zlib

    exe = os.path.join(bench_dir, "sseload")
    now = int(_time.time() * 1000)
    inst = "0123456789abcdef"

    def frame(seq, topic, t, eol="\n"):
        return ("id: %s-%d%sevent: %s%sdata: {\"t\":%d,\"x\":1}%s%s"
                % (inst, seq, eol, topic, eol, t, eol, eol))

    stream = "retry: 2000\n\nevent: hello\ndata: {\"t\":1}\n\n"
    stream += "id: %s-10\nevent: snapshot\ndata: {\"t\":1,\"seq\":10}\n\n" % inst
    stream += frame(11, "cpu", now) + frame(12, "mem", now, "\r\n") + frame(15, "load", now, "\r")
    stream += frame(15, "load", now) + ": keepalive\n\n"
    stream += "id: %s-40\nevent: snapshot\ndata: {\"t\":1}\n\n" % inst + frame(41, "cpu", now)
    plain = stream.encode()
    data = plain
    if gzip:  # two gzip members, as `gzip -d` takes them: the second after a reset
        frames = [f.encode() + b"\n\n" for f in stream.split("\n\n")[:-1]]
        data = b""
        for part in (frames[:4], frames[4:]):
            z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            data += b"".join(z.compress(f) + z.flush(zlib.Z_SYNC_FLUSH) for f in part) + z.flush()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 13]), data[i:i + 13])
                       for i in range(0, len(data), 13))
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            + (b"Content-Encoding: gzip\r\n" if gzip else b"")
            + b"Transfer-Encoding: chunked\r\n\r\n")
    # The frames come 0.3 s after the head: inside the measuring window.
    srv = CannedServer(head + chunked, piece=5, close=False, pause_at=len(head) + 20, pause=0.3)
    try:
        p = subprocess.run([exe, "--port", str(srv.port), "--clients", "1", "--seconds", "1"]
                           + (["--gzip"] if gzip else []),
                           capture_output=True, text=True, timeout=20)
    finally:
        srv.done.set()
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["body_bytes"] == len(data) and r["bytes"] == len(head) + len(chunked), r
    assert r["gzip"] is gzip and r["gzip_streams"] == int(gzip), r
    assert r["inflated_bytes"] == (len(plain) if gzip else 0), r
    assert r["decoded"] == 1 and r["decode_sample"] == 1, r
    assert (b"\r\nAccept-Encoding: gzip" in srv.request) is gzip
    assert r["connected"] == 1 and r["complete"] == 0
    assert r["events"] == 5 and r["missed"] == 2 and r["duplicates"] == 1, r
    assert r["resyncs"] == 1 and r["keepalives"] == 1 and r["bad_ids"] == 0, r
    assert r["latency_samples"] == 5 and 0 <= r["latency_max_ms"] < 60000, r
    assert r["continuity"] is True
    assert b"GET /events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % srv.port in srv.request
