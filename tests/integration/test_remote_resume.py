"""Resume over TLS with HTTP Basic: a proxy cuts the TCP connection under
TLS at chosen bytes of what the daemon sends (inside the handshake, a TLS
record, the snapshot, live frames); the client reconnects with the same
credentials and the Last-Event-ID of the last event it dispatched, and ends
up with every id exactly once, in order."""

import base64
import random
import select
import socket
import ssl
import threading

from remote_pki import HOST, client_context, crypt_hash, make_ca, make_cert, write_secret
from sysfeed_harness import SSEEvent, SSEParser, _Reader, check_consecutive, deadline_after, \
    remaining

PASSWORD = "resume-pw"
SEED = 15  # the cut points (byte counts) come from this seed; the bytes they fall in vary
CUTS = 12


class CutProxy:
    """TCP relay from 127.0.0.1:port to the daemon's TLS port, one thread per
    connection. A connection is closed on both sides once .budget (as it was
    when the connection came) bytes came from the daemon, only those passed
    on; a budget of None relays it whole. .cut counts the connections cut."""

    def __init__(self, target):
        self.target = target
        self.budget = None
        self.cut = 0
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stop.is_set():
            if not select.select([self.lsock], [], [], 0.2)[0]:
                continue
            c, _ = self.lsock.accept()
            t = threading.Thread(target=self._relay, args=(c, self.budget), daemon=True)
            self.threads.append(t)
            t.start()

    def _relay(self, c, budget):
        s = socket.create_connection(("127.0.0.1", self.target), timeout=5)
        try:
            while not self.stop.is_set():
                for r in select.select([c, s], [], [], 0.2)[0]:
                    data = r.recv(65536)
                    if not data:
                        return
                    if r is c:
                        s.sendall(data)
                        continue
                    if budget is not None and len(data) >= budget:
                        c.sendall(data[:budget])
                        self.cut += 1
                        return
                    c.sendall(data)
                    if budget is not None:
                        budget -= len(data)
        except OSError:
            return
        finally:
            c.close()
            s.close()

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(5)
        self.lsock.close()


def basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


class Attempt:
    """One GET /events over TLS through the proxy: the response head and the
    events dispatched until the connection broke (or the deadline)."""

    def __init__(self, port, ca, auth, last_event_id=None):
        self.response = None
        self.events = []
        self.broke = None  # what ended it: an exception, or "eof"
        self._reader = _Reader("GET")
        self._parser = SSEParser()
        lines = ["GET /events HTTP/1.1", "Host: %s:%d" % (HOST, port),
                 "Accept: text/event-stream", "Authorization: " + auth]
        if last_event_id is not None:
            lines.append("Last-Event-ID: " + last_event_id)
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.port, self.ca = port, ca

    def run(self, until, timeout):
        """Reads until until(self) holds, the connection breaks or timeout."""
        deadline = deadline_after(timeout)
        try:
            raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock = client_context(self.ca).wrap_socket(raw, server_hostname=HOST)
            sock.sendall(self.request)
            while not until(self) and remaining(deadline) > 0:
                sock.settimeout(max(0.05, remaining(deadline)))
                try:
                    data = sock.recv(65536)
                except socket.timeout:
                    break
                if not data:
                    self.broke = "eof"
                    break
                body = self._reader.feed(data)
                self.response = self._reader.response
                if self.response and self.response.status != 200:
                    self.response.body += body
                    continue
                self.events += [e for e in self._parser.feed(body) if isinstance(e, SSEEvent)]
            sock.close()
        except (ssl.SSLError, OSError) as e:
            self.broke = e
        return self


def test_resume_over_tls_after_cuts_below_tls(start_daemon, tmp_path):
    d = str(tmp_path)
    make_ca(d)
    cert, key = make_cert(d, "srv", HOST)
    users = write_secret(tmp_path / "users", "alice:%s\n" % crypt_hash(PASSWORD))
    daemon = start_daemon(config="listen = https://127.0.0.1:0, 127.0.0.1:0\ntls-cert = %s\ntls-key = %s\n"
                          "auth-users = %s\nauth-loopback = yes\nallowed-hosts = %s\n"
                          % (cert, key, users, HOST), listen=False)
    tls_port = int(daemon.wait_stderr(r"listening on https://127\.0\.0\.1:(\d+)/", 5).group(1))
    ca = str(tmp_path / "ca.crt")
    auth = basic("alice", PASSWORD)

    # the snapshot's size, from a connection of its own
    first = Attempt(tls_port, ca, auth).run(lambda a: [e for e in a.events
                                                      if e.type == "snapshot"], 15)
    snap = [e for e in first.events if e.type == "snapshot"]
    assert snap, first.events
    snap_bytes = len(snap[0].data)
    assert snap_bytes > 4000, snap_bytes

    # cut points, drawn from SEED: the first two in the TLS handshake or the
    # response head, the third inside the snapshot, then one past the snapshot
    # (until one got through whole); then on the resumed streams every fourth
    # before the first replayed frame, the others in the first 150 KB of the
    # replay and live frames (large ones, such as proc and containers, too)
    rng = random.Random(SEED)
    proxy = CutProxy(tls_port)
    try:
        got = []  # the events that count: from the last snapshot on
        last_id = None
        attempts = resumed = 0
        while proxy.cut < CUTS:
            attempts += 1
            assert attempts <= CUTS + 4, "more connections than cuts: %d, %d cut" % (
                attempts, proxy.cut)
            if attempts <= 2:
                proxy.budget = rng.randrange(1, 1500)
            elif attempts == 3:
                # a quarter: the host's snapshot may shrink meanwhile (its
                # processes, containers and journal come and go)
                proxy.budget = rng.randrange(3000, 3000 + snap_bytes // 4)
            elif last_id is None:
                proxy.budget = 2 * snap_bytes + 20000
            elif attempts % 4 == 0:
                proxy.budget = rng.randrange(1500, 4000)  # the handshake, head or hello
            else:
                # past the largest frame so far: one complete frame at least
                # (a host with many processes or containers has big ones)
                big = max([len(e.data) for e in got if e.type != "snapshot"] or [0])
                proxy.budget = rng.randrange(20000, 150000) + 2 * big
            a = Attempt(proxy.port, ca, auth, last_id).run(lambda a: False, 30)
            assert a.broke, "connection %d was not cut in 30 s" % attempts
            if a.response:
                assert a.response.status == 200, a.response
            new = [e for e in a.events if e.type != "hello"]
            if attempts <= 3:
                assert not new, (attempts, proxy.budget, new[:2])
            if any(e.type == "snapshot" for e in new):
                # only a stream without an id to resume from starts over
                assert last_id is None, (last_id, new[:3])
                got = new[[e.type for e in new].index("snapshot"):]
            elif new:
                assert last_id is not None, new[:2]
                resumed += 1
                got += new
            if got:
                last_id = got[-1].id
        proxy.budget = None
        assert resumed >= 4, (resumed, attempts)
        # past the cuts: the stream goes on whole, a few live frames more
        target = got[-1].seq + 5
        a = Attempt(proxy.port, ca, auth, last_id).run(
            lambda a: a.events and (a.events[-1].seq or 0) >= target, 15)
        assert a.response.status == 200 and not [e for e in a.events if e.type == "snapshot"]
        got += [e for e in a.events if e.type != "hello"]
        seqs = check_consecutive(got)
        assert got[0].type == "snapshot" and seqs[-1] >= target, (got[:2], seqs[-3:])

        # the same resume with a wrong password gets 401 and no event
        a = Attempt(proxy.port, ca, basic("alice", "wrong"), last_id).run(
            lambda a: a.response is not None and a.response.complete, 10)
        assert a.response.status == 401 and not a.events, a.response
    finally:
        proxy.close()
