"""HTTP surface: routes, methods, the Host check, ETag/304, HEAD, no CORS,
/healthz, and malformed requests."""

import socket
import time

import pytest

from sysfeed_checks import is_int, is_num
from sysfeed_harness import (
    INSTANCE_RE,
    SLOW,
    Timeout,
    _connect,
    check_consecutive,
    http_request,
    parse_head,
)

ROUTES = ["/", "/events", "/api/snapshot", "/healthz"]
FINITE_ROUTES = ["/", "/api/snapshot", "/healthz"]


def assert_one_line_text(r):
    ctype = (r.header("Content-Type") or "").lower()
    assert ctype.startswith("text/plain"), "error %d has Content-Type %r" % (r.status, ctype)
    body = r.text
    assert body.strip(), "error %d has an empty body" % r.status
    assert "\n" not in body.rstrip("\n") and "\r" not in body, "error body is not one line: %r" % body


def assert_no_cors(r):
    cors = [(k, v) for k, v in r.headers if k.lower().startswith("access-control-")]
    assert not cors, "CORS headers in %d response: %r" % (r.status, cors)


@pytest.mark.parametrize("path", ["/nope", "/nope.js", "/events/x", "/api", "/api/nope",
                                  "/api/snapshot/x", "/healthz/x", "/../etc/passwd",
                                  "/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd"])
def test_unknown_path_is_404(daemon, path):
    r = daemon.request("GET", path)
    assert r.status == 404, r
    assert_one_line_text(r)
    assert b"root:" not in r.body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ROUTES)
def test_other_methods_are_405_with_allow(daemon, method, path):
    body = b"x=1" if method in ("POST", "PUT", "PATCH") else b""
    r = daemon.request(method, path, body=body, headers=[("Origin", "http://evil.example")])
    assert r.status == 405, r
    allow = {m.strip().upper() for m in (r.header("Allow") or "").split(",")}
    assert allow == {"GET", "HEAD"}, "Allow: %r" % r.header("Allow")
    assert_one_line_text(r)
    assert_no_cors(r)


BAD_HOSTS = ["evil.example", "evil.example:{port}", "localhost.evil.example",
             "127.0.0.1.evil.example", "evil.example:80", "localhost:{port}.evil.example"]


@pytest.mark.parametrize("host", BAD_HOSTS)
@pytest.mark.parametrize("path", ROUTES)
def test_foreign_host_is_403(daemon, path, host):
    r = daemon.request("GET", path, host=host.format(port=daemon.port))
    assert r.status == 403, r
    assert_one_line_text(r)
    assert_no_cors(r)


def test_empty_host_is_refused(daemon):
    r = daemon.request("GET", "/healthz", host="")
    assert r.status in (400, 403), r


GOOD_HOSTS = ["localhost", "localhost:{port}", "127.0.0.1", "127.0.0.1:{port}", "[::1]",
              "[::1]:{port}"]


@pytest.mark.parametrize("host", GOOD_HOSTS)
def test_loopback_hosts_are_served(daemon, host):
    r = daemon.request("GET", "/healthz", host=host.format(port=daemon.port))
    assert r.status == 200, r
    c = daemon.sse(host=host.format(port=daemon.port))
    assert c.wait_response().status == 200
    c.wait_type("hello")


def test_allowed_hosts_admits_listed_names(start_daemon):
    d = start_daemon(config="allowed-hosts = monitor.example, box.lan\n")
    for host in ("monitor.example", "monitor.example:8390", "box.lan", "localhost"):
        r = d.request("GET", "/healthz", host=host)
        assert r.status == 200, (host, r)
    c = d.sse(host="monitor.example:%d" % d.port)
    assert c.wait_response().status == 200
    for host in ("evil.example", "sub.monitor.example", "monitor.example.evil"):
        assert d.request("GET", "/healthz", host=host).status == 403, host


def test_page_has_etag_and_304(daemon):
    r = daemon.request("GET", "/")
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").lower().startswith("text/html"), r.headers
    assert b"<" in r.body and len(r.body) > 0
    etag = r.header("ETag")
    assert etag and etag.strip('W/"'), "no ETag on /: %r" % r.headers
    r2 = daemon.request("GET", "/", headers=[("If-None-Match", etag)])
    assert r2.status == 304, r2
    assert r2.body == b"" and not r2.extra, "304 with a body"
    assert r2.header("ETag") in (None, etag)
    r3 = daemon.request("GET", "/", headers=[("If-None-Match", '"not-the-etag"')])
    assert r3.status == 200 and r3.body == r.body
    # Stable across requests.
    assert daemon.request("GET", "/").header("ETag") == etag


@pytest.mark.parametrize("path", FINITE_ROUTES + ["/nope"])
def test_head_has_headers_and_no_body(daemon, path):
    g = daemon.request("GET", path)
    h = daemon.request("HEAD", path)
    assert h.status == g.status, (g, h)
    assert not h.extra, "HEAD %s sent a body: %r" % (path, bytes(h.extra[:100]))
    assert (h.header("Content-Type") or "").split(";")[0] == (g.header("Content-Type") or "").split(";")[0]
    if path == "/":
        assert h.header("ETag") == g.header("ETag")
        if h.header("Content-Length") is not None:
            assert int(h.header("Content-Length")) == len(g.body)


def test_head_events(daemon):
    r = daemon.request("HEAD", "/events")
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").startswith("text/event-stream")
    assert not r.extra, "HEAD /events sent a body: %r" % bytes(r.extra[:100])


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST"])
@pytest.mark.parametrize("path", FINITE_ROUTES + ["/nope", "/events?topics=bogus"])
def test_no_cors_headers(daemon, method, path):
    r = daemon.request(method, path, headers=[("Origin", "http://evil.example"),
                                              ("Access-Control-Request-Method", "GET")])
    assert_no_cors(r)


def test_no_cors_headers_on_the_stream(daemon):
    c = daemon.sse(headers=[("Origin", "http://evil.example")])
    r = c.wait_response()
    assert r.status == 200
    assert_no_cors(r)


def test_healthz_fields(daemon):
    c = daemon.sse()
    hello, _ = c.wait_hello_snapshot()
    c.wait_type("mem", 5)
    c.read_available()
    seen = c.last_seq()
    r = daemon.request("GET", "/healthz")
    assert r.status == 200
    assert (r.header("Content-Type") or "").split(";")[0].strip() == "application/json"
    h = r.json
    assert h["status"] == "ok"
    assert h["version"] == hello.json["version"]
    assert INSTANCE_RE.match(h["instance"]) and h["instance"] == hello.json["instance"]
    assert is_num(h["uptime"]) and 0 <= h["uptime"] < 60
    assert is_int(h["clients"]) and h["clients"] == 1
    assert is_int(h["events"]) and h["events"] >= 2
    ring = h["ring"]
    for k in ("first", "last", "bytes", "capacity"):
        assert is_int(ring[k]) and ring[k] >= 0, (k, ring)
    assert ring["capacity"] == 1048576
    assert 0 < ring["bytes"] <= ring["capacity"]
    assert ring["first"] <= ring["last"]
    assert ring["last"] - ring["first"] + 1 <= h["events"]
    assert ring["last"] >= seen, "ring.last %d is behind what a client got (%d)" % (ring["last"], seen)
    # events and ring.last move with the ticks; uptime moves with time.
    c.wait_seq(ring["last"] + 6, 5)
    h2 = daemon.healthz()
    assert h2["events"] >= h["events"] + 6 and h2["ring"]["last"] >= ring["last"] + 6
    assert h2["uptime"] >= h["uptime"]
    assert h2["instance"] == h["instance"]


def test_healthz_counts_connected_sse_clients(daemon):
    assert daemon.healthz()["clients"] == 0
    cs = [daemon.sse() for _ in range(4)]
    for c in cs:
        c.wait_hello_snapshot()
    daemon.wait_healthz(lambda h: h["clients"] == 4, 5, "clients == 4")
    # Plain requests are not SSE clients.
    assert daemon.request("GET", "/api/snapshot").status == 200
    assert daemon.healthz()["clients"] == 4
    cs[0].close()  # FIN
    cs[1].abort()  # RST
    # A closed peer is noticed at the next write (a tick away).
    daemon.wait_healthz(lambda h: h["clients"] == 2, 5, "clients == 2")
    c = daemon.sse("/events?topics=mem")
    c.wait_hello_snapshot()
    daemon.wait_healthz(lambda h: h["clients"] == 3, 5, "clients == 3")
    for x in cs[2:] + [c]:
        x.close()
    daemon.wait_healthz(lambda h: h["clients"] == 0, 5, "clients == 0")


def test_healthz_capacity_follows_config(start_daemon):
    d = start_daemon(config="ring-bytes = 65536\n")
    assert d.healthz()["ring"]["capacity"] == 65536


BIG = 100 * 1024
MALFORMED = {
    "garbage-line": b"GARBAGE\r\n\r\n",
    "binary": b"\xff\xfe\x01\x02 \x03 \x04\r\n\r\n",
    "no-method": b" /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "no-colon-header": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColonHere\r\n\r\n",
    "huge-header": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"A" * BIG + b"\r\n\r\n",
    "huge-url": b"GET /healthz?" + b"a" * BIG + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "many-headers": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n",
    "huge-last-event-id": b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: "
    + b"9" * BIG + b"\r\n\r\n",
    "bad-chunked-body": b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    "huge-content-length": b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Length: 99999999999999999999\r\n\r\n",
}


def send_raw(port, data, timeout=5.0):
    """Sends data and reads what comes back until the peer closes, a status line
    is read, or timeout. Returns ('status', code), ('closed', None) or raises Timeout."""
    s = _connect(port)
    s.setblocking(True)
    got = b""
    try:
        try:
            s.settimeout(timeout * SLOW)
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon gave up on us while we were still sending: fine
        deadline = time.monotonic() + timeout * SLOW
        while True:
            if b"\r\n\r\n" in got:
                return ("status", parse_head(got.split(b"\r\n\r\n")[0]).status)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("neither an answer nor a close within %.0fs (got %r)" % (timeout * SLOW, got[:200]))
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            except socket.timeout:
                continue
            if not chunk:
                if got:
                    return ("status", parse_head(got.split(b"\r\n\r\n")[0]).status)
                return ("closed", None)
            got += chunk
    finally:
        s.close()


@pytest.fixture
def observed_daemon(daemon):
    """A daemon with a client that must keep receiving every event meanwhile."""
    c = daemon.sse()
    _, snap = c.wait_hello_snapshot()
    yield daemon
    c.wait_until(lambda: len(c.live_events()) >= 3, 5, "live events after the abuse")
    check_consecutive([snap] + c.live_events())
    assert daemon.healthz()["status"] == "ok"


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_request_gets_4xx_or_close(observed_daemon, kind):
    outcome, status = send_raw(observed_daemon.port, MALFORMED[kind])
    if outcome == "status":
        assert 400 <= status < 500, "%s answered %d" % (kind, status)


def test_idle_and_half_sent_connections_do_not_block_others(observed_daemon):
    d = observed_daemon
    idle = _connect(d.port)
    half = _connect(d.port)
    half.setblocking(True)
    half.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Par")
    try:
        assert d.healthz()["status"] == "ok"
        c = d.sse()
        c.wait_hello_snapshot()
    finally:
        half.close()
        idle.close()
    assert d.healthz()["status"] == "ok"


def test_persistent_connection_serves_two_requests(daemon):
    """HTTP/1.1 keep-alive: two requests one after the other on one connection."""
    s = _connect(daemon.port)
    s.setblocking(True)
    s.settimeout(5 * SLOW)
    try:
        for _ in range(2):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                assert chunk, "closed after %r" % data
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            r = parse_head(head)
            assert r.status == 200
            n = int(r.header("Content-Length"))
            while len(body) < n:
                chunk = s.recv(65536)
                assert chunk
                body += chunk
            assert len(body) == n
    finally:
        s.close()


def test_request_via_http_request_helper_matches_curl(daemon):
    """Cross-checks the raw client against curl on one route."""
    import json
    import subprocess

    out = subprocess.run(["curl", "-sS", "--max-time", str(5 * SLOW),
                          "http://127.0.0.1:%d/healthz" % daemon.port],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["instance"] == http_request(daemon.port, "GET", "/healthz").json["instance"]
