"""Test harness for sysfeed: runs the real daemon and talks to it over real sockets.

Pure parts (ChunkedDecoder, SSEParser) take bytes and return values, so they can be
checked against hand-made byte strings (see test_harness_selftest.py). The rest is a
raw HTTP/1.1 client (http_request), a streaming SSE client (SSEClient, usable one at a
time with a deadline or many at once with pump_many) and a daemon runner (Daemon).

Nothing here sleeps to stand in for synchronisation: every wait is for a condition
with a deadline, and a timeout names what was awaited.
"""

import json
import os
import re
import select
import selectors
import signal
import socket
import struct
import subprocess
import threading
import time
import zlib

# Sanitized builds are slower: deadlines (not measured timings) are scaled by this.
SANITIZE = bool(os.environ.get("SYSFEED_SANITIZE"))
SLOW = 4 if SANITIZE else 1
# A config line for tests that count every frame, fill a small ring or watch
# the heap: the daemon follows a unit that never logs, so another program's
# journal flood (a CI host's journal is shared) is not copied into the stream.
QUIET_JOURNAL = "log-units = sysfeed-test-quiet.service\n"

LISTEN_RE = re.compile(r"listening on http://(127\.0\.0\.1|\[::1\]):(\d+)/")
ID_RE = re.compile(r"^([0-9a-f]{16})-(0|[1-9][0-9]*)$")
INSTANCE_RE = re.compile(r"^[0-9a-f]{16}$")
BASE_TOPICS = ("cpu", "mem", "load")


class ProtocolError(Exception):
    """The peer broke HTTP/1.1 or SSE framing."""


class Timeout(AssertionError):
    """A condition was not reached before its deadline."""


def deadline_after(seconds):
    return time.monotonic() + seconds * SLOW


def remaining(deadline):
    return deadline - time.monotonic()


def wait_for(cond, timeout, what, every=0.02):
    """For when no stream is open: cond() every `every` seconds until it
    returns something true, which is returned; Timeout after timeout s."""
    deadline = deadline_after(timeout)
    while True:
        v = cond()
        if v:
            return v
        if remaining(deadline) <= 0:
            raise Timeout("timed out after %.1fs waiting for %s" % (timeout * SLOW, what))
        time.sleep(every)


def stop_process(proc, timeout):
    """SIGTERM to proc if it still runs, SIGKILL when it has not exited
    timeout seconds later."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def parse_id(event_id):
    """'<16 hex>-<seq>' -> (instance, seq), or None for anything else."""
    if event_id is None:
        return None
    m = ID_RE.match(event_id)
    if not m:
        return None
    return m.group(1), int(m.group(2))


# --------------------------------------------------------------------------
# Chunked transfer coding (RFC 9112 section 7.1), incremental.
# --------------------------------------------------------------------------


class ChunkedDecoder:
    """feed(bytes) -> decoded bytes; .done once the last chunk and trailers ended.
    Bytes after the end stay in .rest. Strict: CRLF only, hex sizes only."""

    MAX_LINE = 8192

    def __init__(self):
        self._buf = bytearray()
        self._state = "size"
        self._left = 0
        self.done = False
        self.chunks = 0

    @property
    def rest(self):
        return bytes(self._buf) if self.done else b""

    def _line(self, what):
        """The next line off the buffer without its CRLF, or None while it is
        incomplete."""
        buf = self._buf
        i = buf.find(b"\r\n")
        if i < 0:
            if len(buf) > self.MAX_LINE:
                raise ProtocolError("%s line too long" % what)
            return None
        line = bytes(buf[:i])
        del buf[: i + 2]
        return line

    def feed(self, data):
        if self.done:
            self._buf += data
            return b""
        self._buf += data
        out = bytearray()
        buf = self._buf
        while not self.done:
            if self._state == "size":
                line = self._line("chunk-size")
                if line is None:
                    break
                size = line.split(b";", 1)[0].strip(b" \t")
                if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size):
                    raise ProtocolError("bad chunk-size line %r" % line[:80])
                self._left = int(size, 16)
                self._state = "data" if self._left else "trailer"
            elif self._state == "data":
                if not buf:
                    break
                n = min(len(buf), self._left)
                out += buf[:n]
                del buf[:n]
                self._left -= n
                if self._left == 0:
                    self._state = "crlf"
                    self.chunks += 1
            elif self._state == "crlf":
                if len(buf) < 2:
                    break
                if buf[:2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF: %r" % bytes(buf[:8]))
                del buf[:2]
                self._state = "size"
            elif self._state == "trailer":
                line = self._line("trailer")
                if line is None:
                    break
                if not line:
                    self.done = True
        return bytes(out)


# --------------------------------------------------------------------------
# Server-Sent Events, parsed per the WHATWG HTML standard, section 9.2.6.
# --------------------------------------------------------------------------


class SSEEvent:
    """A dispatched event. `id` is the id field of this very frame (None when the
    frame had none); `last_event_id` is the EventSource's last event ID buffer as
    the standard defines it (it carries over from earlier frames)."""

    __slots__ = ("type", "data", "id", "last_event_id", "received", "wall_ms", "_json")

    def __init__(self, type_, data, id_, last_event_id, received):
        self.type = type_
        self.data = data
        self.id = id_
        self.last_event_id = last_event_id
        self.received = received  # time.monotonic() when parsed
        self.wall_ms = None  # time.time() in ms when parsed (set by SSEClient)
        self._json = None

    @property
    def json(self):
        if self._json is None:
            self._json = json.loads(self.data)
        return self._json

    @property
    def seq(self):
        p = parse_id(self.id)
        return p[1] if p else None

    @property
    def instance(self):
        p = parse_id(self.id)
        return p[0] if p else None

    def __repr__(self):
        data = self.data if len(self.data) < 80 else self.data[:77] + "..."
        return "SSEEvent(%s, id=%r, %r)" % (self.type, self.id, data)


class SSEComment:
    __slots__ = ("text", "received")

    def __init__(self, text, received):
        self.text = text  # after ':' with one leading space removed
        self.received = received

    def __repr__(self):
        return "SSEComment(%r)" % self.text


class SSERetry:
    __slots__ = ("ms", "received")

    def __init__(self, ms, received):
        self.ms = ms
        self.received = received

    def __repr__(self):
        return "SSERetry(%d)" % self.ms


_EOL = re.compile(rb"\r\n|\r|\n")


class SSEParser:
    """feed(bytes) -> list of SSEEvent / SSEComment / SSERetry in stream order.

    Lines end with CRLF, LF or CR (a CR at the end of one feed and an LF at the
    start of the next are one line end); a leading BOM is dropped; a line starting
    with ':' is a comment; 'field: value' loses one space after the colon; a line
    without a colon is a field with an empty value; a blank line dispatches; a
    block without data dispatches nothing; an id containing NUL is ignored;
    retry takes ASCII digits only; unknown fields are ignored."""

    def __init__(self):
        self._pending = b""
        self._skip_lf = False
        self._first = True
        self._data = []
        self._type = ""
        self._frame_id = None
        self.last_event_id = ""
        self.retry = None

    def feed(self, data, now=None):
        now = time.monotonic() if now is None else now
        out = []
        buf = self._pending + data if self._pending else bytes(data)
        pos = 0
        if self._skip_lf and buf:
            if buf[:1] == b"\n":
                pos = 1
            self._skip_lf = False
        while True:
            m = _EOL.search(buf, pos)
            if not m:
                break
            self._line(buf[pos : m.start()], out, now)
            pos = m.end()
            if m.group() == b"\r" and pos == len(buf):
                self._skip_lf = True
        self._pending = buf[pos:]
        return out

    def _line(self, raw, out, now):
        line = raw.decode("utf-8", "replace")
        if self._first:
            self._first = False
            if line.startswith("\ufeff"):
                line = line[1:]
        if line == "":
            self._dispatch(out, now)
            return
        if line.startswith(":"):
            text = line[1:]
            out.append(SSEComment(text[1:] if text.startswith(" ") else text, now))
            return
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._type = value
        elif field == "data":
            self._data.append(value)
        elif field == "id":
            if "\0" not in value:
                self.last_event_id = value
                self._frame_id = value
        elif field == "retry":
            if value and value.isascii() and value.isdigit():
                self.retry = int(value)
                out.append(SSERetry(self.retry, now))

    def _dispatch(self, out, now):
        if self._data:
            out.append(
                SSEEvent(
                    self._type or "message",
                    "\n".join(self._data),
                    self._frame_id,
                    self.last_event_id,
                    now,
                )
            )
        self._data = []
        self._type = ""
        self._frame_id = None


# --------------------------------------------------------------------------
# HTTP/1.1 responses.
# --------------------------------------------------------------------------


class Response:
    def __init__(self, version, status, reason, headers):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) in order
        self.body = b""
        self.chunked = False
        self.complete = False  # the body's end was seen (length, last chunk)

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d %s, %r, %r)" % (self.status, self.reason, self.headers, self.body[:200])


def parse_head(head):
    """Status line and header fields of one response head (without the blank line)."""
    lines = head.split(b"\r\n")
    m = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
    if not m:
        raise ProtocolError("bad status line %r" % lines[0][:100])
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise ProtocolError("bad header line %r" % line[:100])
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    reason = (m.group(3) or b"").decode("latin-1")
    return Response(m.group(1).decode(), int(m.group(2)), reason, headers)


def _connect(port, host="127.0.0.1", source=None, rcvbuf=None, timeout=5.0):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:
            s.bind((source, 0))
        s.settimeout(timeout * SLOW)
        s.connect((host, port))
        s.setblocking(False)
    except BaseException:
        s.close()
        raise
    return s


def _abort(sock):
    """Close with an RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


DEFAULT_HOST = object()


def build_request(method, path, host_header, headers=(), body=b"", close=True):
    lines = ["%s %s HTTP/1.1" % (method, path)]
    if host_header is not None:
        lines.append("Host: %s" % host_header)
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    if body:
        lines.append("Content-Length: %d" % len(body))
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Reader:
    """Incremental response reader shared by http_request and SSEClient."""

    MAX_HEAD = 65536

    def __init__(self, method):
        self.method = method
        self.head_buf = bytearray()
        self.response = None
        self.chunked = None
        self.length = None
        self.eof = False

    def feed(self, data):
        """Returns body bytes decoded so far from this piece."""
        if self.response is None:
            self.head_buf += data
            i = self.head_buf.find(b"\r\n\r\n")
            if i < 0:
                if len(self.head_buf) > self.MAX_HEAD:
                    raise ProtocolError("response head too long")
                return b""
            self.response = parse_head(bytes(self.head_buf[:i]))
            data = bytes(self.head_buf[i + 4 :])
            self.head_buf = bytearray()
            r = self.response
            te = (r.header("Transfer-Encoding") or "").lower()
            no_body = (
                self.method == "HEAD" or r.status in (204, 304) or 100 <= r.status < 200
            )
            if no_body:
                r.complete = True
                r.extra = bytearray()
            elif "chunked" in te:
                r.chunked = True
                self.chunked = ChunkedDecoder()
            elif r.header("Content-Length") is not None:
                self.length = int(r.header("Content-Length"))
                if self.length == 0:
                    r.complete = True
        r = self.response
        if r.complete:
            # Anything after a complete response on a Connection: close request
            # is a protocol violation the tests want to see.
            if hasattr(r, "extra"):
                r.extra += data
            return b""
        if self.chunked is not None:
            out = self.chunked.feed(data)
            if self.chunked.done:
                r.complete = True
            return out
        if self.length is not None:
            out = data[: self.length - len(r.body)]
            if len(r.body) + len(out) >= self.length:
                r.complete = True
            return out
        return data


def http_request(
    port,
    method="GET",
    path="/",
    headers=(),
    body=b"",
    host=DEFAULT_HOST,
    timeout=5.0,
    source=None,
    addr="127.0.0.1",
    raw=None,
):
    """One request on a fresh connection (Connection: close) -> Response with the
    whole body. `host=None` sends no Host header; `raw` sends those bytes as is."""
    if host is DEFAULT_HOST:
        host = "%s:%d" % ("[%s]" % addr if ":" in addr else addr, port)
    req = raw if raw is not None else build_request(method, path, host, headers, body)
    sock = _connect(port, addr, source=source, timeout=timeout)
    reader = _Reader(method)
    deadline = deadline_after(timeout)
    try:
        sock.setblocking(True)
        sock.settimeout(max(0.01, remaining(deadline)))
        sock.sendall(req)
        while True:
            left = remaining(deadline)
            if left <= 0:
                raise Timeout("%s %s: no complete response within %.1fs" % (method, path, timeout))
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            body = reader.feed(data)
            if reader.response is not None:
                reader.response.body += body
                if reader.response.complete and method != "HEAD":
                    if reader.response.status not in (204, 304):
                        break
    finally:
        sock.close()
    if reader.response is None:
        raise ProtocolError("connection closed before a response head (%r)" % bytes(reader.head_buf[:200]))
    r = reader.response
    if not r.complete and r.chunked:
        raise ProtocolError("chunked body ended early")
    if not r.complete and reader.length is not None:
        raise ProtocolError("body shorter than Content-Length")
    return r


def get_json(port, path, **kw):
    r = http_request(port, "GET", path, **kw)
    assert r.status == 200, "GET %s: %r" % (path, r)
    return r.json


# --------------------------------------------------------------------------
# Streaming SSE client.
# --------------------------------------------------------------------------


class SSEClient:
    """One GET on a non-blocking socket; everything read is decoded into
    .items (events, comments, retry fields in order) and .events.

    Use wait_event()/wait_until() for one client, pump_many() for many."""

    def __init__(
        self,
        port,
        path="/events",
        headers=(),
        host=DEFAULT_HOST,
        last_event_id=None,
        source=None,
        rcvbuf=None,
        addr="127.0.0.1",
        keep_body=65536,
        gzip=False,
    ):
        if host is DEFAULT_HOST:
            host = "%s:%d" % ("[%s]" % addr if ":" in addr else addr, port)
        hdrs = [("Accept", "text/event-stream"), ("Cache-Control", "no-cache")]
        if last_event_id is not None:
            hdrs.append(("Last-Event-ID", last_event_id))
        if gzip:
            hdrs.append(("Accept-Encoding", "gzip"))
        hdrs.extend(headers)
        self._unzip = None  # a zlib decompressor once the answer says gzip
        self.wire_bytes = 0  # body bytes as received (compressed or not)
        self.path = path
        self.sock = _connect(port, addr, source=source, rcvbuf=rcvbuf)
        self._fd = self.sock.fileno()
        self._reader = _Reader("GET")
        self._parser = SSEParser()
        self.items = []
        self.events = []
        self.comments = []
        self.body_prefix = bytearray()  # first keep_body bytes of the decoded body
        self.body_tail = b""  # last 4 KiB of the decoded body
        self._keep = keep_body
        self.body_bytes = 0
        self.closed = False  # EOF or reset seen
        self.close_error = None
        self.cursor = 0  # index into .events for wait_event()
        self._out = build_request("GET", path, host, hdrs, close=False)
        self._flush()

    # -- i/o ---------------------------------------------------------------

    def fileno(self):
        return self._fd

    @property
    def response(self):
        return self._reader.response

    def _flush(self):
        while self._out:
            try:
                n = self.sock.send(self._out)
            except BlockingIOError:
                self.wait_writable(5)
                continue
            self._out = self._out[n:]

    def wait_writable(self, timeout):
        p = select.poll()
        p.register(self._fd, select.POLLOUT)
        if not p.poll(timeout * 1000 * SLOW):
            raise Timeout("socket not writable")

    def read_available(self):
        """Reads what the socket holds now without blocking. Returns bytes read."""
        total = 0
        while not self.closed:
            try:
                data = self.sock.recv(262144)
            except BlockingIOError:
                break
            except (ConnectionResetError, BrokenPipeError) as e:
                self.closed = True
                self.close_error = e
                break
            if not data:
                self.closed = True
                break
            total += len(data)
            self._on_data(data)
        return total

    def _on_data(self, data):
        body = self._reader.feed(data)
        if not body:
            return
        self.wire_bytes += len(body)
        r = self._reader.response
        if self._unzip is None and (r.header("Content-Encoding") or "") == "gzip":
            self._unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._unzip is not None:
            # every flush point of the stream must give its bytes at once
            body = self._unzip.decompress(body)
            if not body:
                return
        self.body_bytes += len(body)
        if len(self.body_prefix) < self._keep:
            self.body_prefix += body[: self._keep - len(self.body_prefix)]
        self.body_tail = (self.body_tail + body)[-4096:]
        r = self._reader.response
        ctype = (r.header("Content-Type") or "").lower()
        if r.status != 200 or not ctype.startswith("text/event-stream"):
            r.body += body
            return
        wall_ms = time.time() * 1000.0
        for item in self._parser.feed(body):
            self.items.append(item)
            if isinstance(item, SSEEvent):
                item.wall_ms = wall_ms
                self.events.append(item)
            elif isinstance(item, SSEComment):
                self.comments.append(item)

    def pump(self, timeout):
        """Waits up to timeout (seconds, unscaled) for data and reads it.
        Returns True if anything was read or the peer closed."""
        if self.closed:
            return False
        p = select.poll()
        p.register(self._fd, select.POLLIN | select.POLLPRI)
        if p.poll(max(0, timeout) * 1000):
            return self.read_available() > 0 or self.closed
        return False

    # -- waiting -----------------------------------------------------------

    def wait_until(self, cond, timeout, what="condition"):
        deadline = deadline_after(timeout)
        while True:
            v = cond()
            if v:
                return v
            left = remaining(deadline)
            if left <= 0:
                raise Timeout("%s: timed out after %.1fs waiting for %s; last items: %r"
                              % (self.path, timeout * SLOW, what, self.items[-6:]))
            if self.closed:
                v = cond()
                if v:
                    return v
                raise Timeout("%s: connection closed (%r) while waiting for %s; response %r; "
                              "last items %r" % (self.path, self.close_error, what,
                                                 self.response, self.items[-6:]))
            self.pump(min(left, 0.5))

    def wait_response(self, timeout=5):
        return self.wait_until(lambda: self.response, timeout, "the response head")

    def wait_event(self, pred=None, timeout=5, what=None):
        """The next event at or after .cursor matching pred; advances .cursor past it."""
        pred = pred or (lambda e: True)

        def find():
            for i in range(self.cursor, len(self.events)):
                if pred(self.events[i]):
                    self.cursor = i + 1
                    return self.events[i]
            return None

        return self.wait_until(find, timeout, what or "an event")

    def wait_type(self, type_, timeout=5):
        return self.wait_event(lambda e: e.type == type_, timeout, "a %r event" % type_)

    def wait_seq(self, seq, timeout=5):
        """Until an event with seq >= seq arrived (any cursor)."""
        return self.wait_until(
            lambda: self.events and (self.last_seq() or -1) >= seq, timeout, "seq >= %d" % seq
        )

    def last_seq(self):
        for e in reversed(self.events):
            if e.seq is not None:
                return e.seq
        return None

    def wait_hello_snapshot(self, timeout=5):
        """Waits for retry, hello and snapshot; returns (hello, snapshot)."""
        r = self.wait_response(timeout)
        assert r.status == 200, "%s: %r" % (self.path, r)
        hello = self.wait_type("hello", timeout)
        snap = self.wait_type("snapshot", timeout)
        return hello, snap

    def live_events(self):
        return [e for e in self.events if e.type not in ("hello", "snapshot")]

    def close(self):
        if not self.closed:
            self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        self.closed = True
        _abort(self.sock)


def pump_many(clients, cond, timeout, what="condition"):
    """Reads from every client with one epoll loop until cond() is true."""
    sel = selectors.DefaultSelector()
    try:
        for c in clients:
            if not c.closed:
                sel.register(c.fileno(), selectors.EVENT_READ, c)
        deadline = deadline_after(timeout)
        while True:
            if cond():
                return
            left = remaining(deadline)
            if left <= 0:
                raise Timeout("timed out after %.1fs waiting for %s" % (timeout * SLOW, what))
            for key, _ in sel.select(min(left, 0.5)):
                c = key.data
                c.read_available()
                if c.closed:
                    sel.unregister(key.fd)
    finally:
        sel.close()


def pump_for(clients, seconds):
    """Keeps reading from every client for `seconds` of wall time (this is
    the length of an observation window, not a synchronisation)."""
    end = time.monotonic() + seconds
    pump_many(clients, lambda: time.monotonic() >= end, seconds + 5)


def check_consecutive(events, start_seq=None):
    """Asserts that the ids of events are <same instance>-<consecutive seqs>.
    Returns the list of seqs."""
    seqs = []
    inst = None
    for e in events:
        p = parse_id(e.id)
        assert p, "event without a valid id: %r" % e
        if inst is None:
            inst = p[0]
        assert p[0] == inst, "instance changed mid-stream: %r" % e
        seqs.append(p[1])
    if start_seq is not None and seqs:
        assert seqs[0] == start_seq, "stream starts at seq %d, expected %d" % (seqs[0], start_seq)
    for a, b in zip(seqs, seqs[1:]):
        assert b == a + 1, "seq %d followed by %d (gap or duplicate)" % (a, b)
    return seqs


# --------------------------------------------------------------------------
# The daemon.
# --------------------------------------------------------------------------


class DaemonError(AssertionError):
    pass


class _LineSink:
    def __init__(self, stream, cond):
        self.lines = []
        self._cond = cond
        self._t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._t.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        stream.close()
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout):
        self._t.join(timeout)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise DaemonError("no VmRSS for pid %d" % pid)


class Daemon:
    """The daemon as a child process. start() returns once it printed its
    listening line; stderr and stdout are drained by threads and kept."""

    def __init__(self, binary, tmpdir, interval=None, config=None, args=(), listen=True,
                 wrapper=(), env=None, start_timeout=10):
        self.binary = binary
        self.tmpdir = str(tmpdir)
        self.interval = interval
        self.args = list(args)
        self.listen = listen
        self.wrapper = list(wrapper)
        self.env = env
        self.start_timeout = start_timeout
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(self.tmpdir, "sysfeed-%d.conf" % id(self))
            self.write_config(config)
        self.proc = None
        self.port = None
        self.clients = []
        self.expected_exit = False
        self._cond = threading.Condition()

    def write_config(self, text):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.config_path)

    @property
    def command(self):
        cmd = self.wrapper + [self.binary]
        if self.listen:
            cmd += ["--listen", "127.0.0.1:0"]
        if self.interval is not None:
            cmd += ["--interval", str(self.interval)]
        if self.config_path:
            cmd += ["--config", self.config_path]
        return cmd + self.args

    def start(self):
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        self.pid = self.proc.pid
        self._err = _LineSink(self.proc.stderr, self._cond)
        self._out = _LineSink(self.proc.stdout, self._cond)
        m = self.wait_stderr(LISTEN_RE, self.start_timeout, what="the listening line")
        self.port = int(m.group(2))
        return self

    @property
    def stderr_lines(self):
        with self._cond:
            return list(self._err.lines)

    def stderr_text(self):
        return "\n".join(self.stderr_lines)

    def wait_stderr(self, regex, timeout, start=0, what=None):
        """First stderr line at index >= start matching regex -> match object."""
        if isinstance(regex, str):
            regex = re.compile(regex)
        deadline = deadline_after(timeout)
        with self._cond:
            while True:
                for line in self._err.lines[start:]:
                    m = regex.search(line)
                    if m:
                        return m
                if self.proc.poll() is not None and not self._err._t.is_alive():
                    self.expected_exit = True
                    raise DaemonError("daemon exited (status %s) before printing %s; stderr:\n%s"
                                      % (self.proc.returncode, what or regex.pattern,
                                         "\n".join(self._err.lines[-40:])))
                left = remaining(deadline)
                if left <= 0:
                    raise Timeout("no stderr line matching %r within %.1fs; stderr:\n%s"
                                  % (regex.pattern, timeout * SLOW,
                                     "\n".join(self._err.lines[-40:])))
                self._cond.wait(min(left, 0.2))

    # -- clients -------------------------------------------------------------

    def sse(self, path="/events", **kw):
        c = SSEClient(self.port, path, **kw)
        self.clients.append(c)
        return c

    def request(self, method="GET", path="/", **kw):
        return http_request(self.port, method, path, **kw)

    def healthz(self, **kw):
        return get_json(self.port, "/healthz", **kw)

    def wait_healthz(self, pred, timeout, what="a /healthz condition", request_timeout=5.0):
        """Polls /healthz until pred(json) holds. Polling is the only way to
        observe this state from outside; each round is one request."""
        deadline = deadline_after(timeout)
        last = None
        while True:
            last = self.healthz(timeout=request_timeout)
            if pred(last):
                return last
            if remaining(deadline) <= 0:
                raise Timeout("timed out waiting for %s; last /healthz: %r" % (what, last))
            # One poll per 50 ms: below a tick (>= 100 ms), far above a busy loop.
            time.sleep(0.05)

    def rss_kb(self):
        return rss_kb(self.pid)

    def maps(self, library):
        """Whether a library whose file name starts with `library` (say
        "libsqlite3.so") is mapped into the daemon."""
        with open("/proc/%d/maps" % self.pid) as f:
            return any(os.path.basename(line.split()[-1]).startswith(library)
                       for line in f if "/" in line)

    # -- lifecycle -----------------------------------------------------------

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        self.expected_exit = True
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            raise Timeout("daemon still running %.1fs later" % (timeout * SLOW))

    def stop(self, timeout=5):
        """SIGTERM; returns (status, seconds it took)."""
        self.expected_exit = True
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        return rc, time.monotonic() - t0

    def finish(self):
        """Teardown: closes clients, stops the daemon if it still runs, and
        returns a list of problems (unexpected death, unclean exit)."""
        problems = []
        for c in self.clients:
            c.close()
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(10 * SLOW)
                if rc != 0:
                    problems.append("daemon exited with status %d on SIGTERM at teardown" % rc)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("daemon ignored SIGTERM at teardown (killed)")
        elif not self.expected_exit:
            problems.append("daemon died during the test with status %s" % self.proc.returncode)
        self._err.join(5)
        self._out.join(5)
        if problems:
            problems.append("stderr tail:\n" + "\n".join(self.stderr_lines[-40:]))
        return problems


def run_sysfeed(binary, args, timeout=10, env=None):
    """Runs the binary to completion -> CompletedProcess (text). A run that does
    not end within timeout is killed and fails the test."""
    try:
        return subprocess.run([binary] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace",
                              timeout=timeout * SLOW, env=env)
    except subprocess.TimeoutExpired as e:
        raise DaemonError("%s %s did not exit within %.0fs; stderr: %s"
                          % (binary, " ".join(args), timeout * SLOW, e.stderr))


def free_port_bound():
    """A listening socket on 127.0.0.1 with a kernel-chosen port -> (sock, port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


def ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def raise_nofile(n):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= n:
        return
    if hard != resource.RLIM_INFINITY and hard < n:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
            return
        except (ValueError, OSError):
            n = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))



def sysfeed_binary():
    """The daemon under test: $SYSFEED_BIN (default build/sysfeed) made
    absolute; the test fails where it is no executable file. For the suites'
    sysfeed_bin fixtures."""
    import pytest

    path = os.path.abspath(os.environ.get("SYSFEED_BIN", "build/sysfeed"))
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("daemon binary %s not found: run `make` or set SYSFEED_BIN" % path)
    return path
