"""Remote access: TLS listeners (https://), HTTP Basic against a users file,
bearer tokens, a trusted proxy's header, the listen rules, failure budgets,
audit lines, and reloads of the certificate, users and tokens under live
streams. A test CA made with openssl; real clients (Python ssl, curl,
openssl s_client)."""

import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest

from remote_pki import (
    HOST,
    TLSStream,
    crypt_hash,
    make_ca,
    make_cert,
    peer_cert_serial,
    request,
    tls_connect,
    write_secret,
)
from sysfeed_harness import run_sysfeed

HTTPS_RE = re.compile(r"listening on https://(127\.0\.0\.1|0\.0\.0\.0):(\d+)/")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    make_ca(d)
    cert, key = make_cert(d, "srv", "first")
    cert2, key2 = make_cert(d, "srv2", "second", rsa=True)
    return {"dir": d, "ca": os.path.join(d, "ca.crt"), "cert": cert, "key": key,
            "cert2": cert2, "key2": key2}


@pytest.fixture
def files(tmp_path, pki, sysfeed_bin):
    """Users (alice: yescrypt, bob: sha512crypt, carol: bcrypt), a tokens file
    with one token made by `sysfeed token add`, and a copy of the cert."""
    users = write_secret(tmp_path / "users", "# who may log in\nalice:%s\nbob:%s\n\ncarol:%s\n"
                         % (crypt_hash("alice-pw"), crypt_hash("bob-pw", "$6$"),
                            crypt_hash("carol-pw", "$2b$")))
    tokens = str(tmp_path / "tokens")
    p = subprocess.run([sysfeed_bin, "token", "--file", tokens, "add", "prom"],
                       capture_output=True, text=True, check=True)
    token = p.stdout.strip()
    cert = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    cert.write_bytes(open(pki["cert"], "rb").read())
    write_secret(key, open(pki["key"]).read())
    return {"users": users, "tokens": tokens, "token": token, "cert": str(cert),
            "key": str(key), "ca": pki["ca"]}


def conf(files, extra="", listen="https://127.0.0.1:0"):
    return ("listen = %s, 127.0.0.1:0\ntls-cert = %s\ntls-key = %s\nauth-users = %s\n"
            "auth-tokens = %s\nallowed-hosts = %s\n%s"
            % (listen, files["cert"], files["key"], files["users"], files["tokens"], HOST,
               extra))


def start(start_daemon, files, extra="", listen="https://127.0.0.1:0"):
    d = start_daemon(config=conf(files, extra, listen), listen=False)
    d.tls_port = int(d.wait_stderr(HTTPS_RE, 5).group(2))
    return d


def basic(user, pw):
    import base64

    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}


def bearer(token):
    return {"Authorization": "Bearer " + token}


# -- TLS ----------------------------------------------------------------------


def test_tls_listener_beside_a_plain_loopback_one(start_daemon, files):
    d = start(start_daemon, files)
    # The plain loopback listener needs no credentials (auth-loopback = no).
    assert d.request("GET", "/healthz").status == 200
    # The TLS one on 127.0.0.1 is loopback too: no auth either, but TLS.
    st, h, body = request(d.tls_port, files["ca"])
    assert st == 200 and b'"version"' in body
    assert h["strict-transport-security"] == ["max-age=31536000"]
    # No HSTS when reached by a loopback name: it would pin the plain port too.
    st, h, _ = request(d.tls_port, files["ca"], host="localhost")
    assert st == 200 and "strict-transport-security" not in h
    assert d.request("GET", "/healthz").header("Strict-Transport-Security") is None


def test_tls_versions_and_ciphers(start_daemon, files):
    d = start(start_daemon, files)
    port = str(d.tls_port)

    def s_client(*args):
        return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:" + port,
                               "-servername", HOST] + list(args), input=b"",
                              capture_output=True, timeout=20)

    for v in ("-tls1_2", "-tls1_3"):
        p = s_client(v, "-CAfile", files["ca"])
        assert b"Verify return code: 0 (ok)" in p.stdout, p.stdout[-600:]
    for args in (["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
                 ["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
                 ["-tls1_2", "-cipher", "AES128-SHA"],          # no forward secrecy
                 ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"]):  # CBC
        p = s_client(*args)
        out = p.stdout.decode(errors="replace")
        assert "Cipher is (NONE)" in out or p.returncode != 0, (args, out[-600:])
        assert "BEGIN CERTIFICATE" not in out, (args, out[-600:])
    # curl and Python's ssl both verify the chain and get TLS 1.2 or 1.3.
    p = subprocess.run(["curl", "-sS", "--cacert", files["ca"], "--resolve",
                        "%s:%s:127.0.0.1" % (HOST, port), "-w", "%{http_code}", "-o",
                        "/dev/null", "https://%s:%s/healthz" % (HOST, port)],
                       capture_output=True, text=True, timeout=20)
    assert p.stdout == "200", p.stderr
    s = tls_connect(d.tls_port, files["ca"])
    assert s.version() in ("TLSv1.2", "TLSv1.3")
    s.close()
    # A client that does not trust the CA fails the handshake.
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(
            socket.create_connection(("127.0.0.1", d.tls_port), timeout=5),
            server_hostname=HOST)


def test_plain_http_on_the_tls_port_is_closed(start_daemon, files):
    d = start(start_daemon, files)
    s = socket.create_connection(("127.0.0.1", d.tls_port), timeout=10)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: sysfeed.test\r\n\r\n")
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    s.close()
    # No HTTP answer and no event in the clear: closed (at most a TLS alert).
    assert not data.startswith(b"HTTP/") and b"event:" not in data, data[:80]
    assert request(d.tls_port, files["ca"])[0] == 200
    assert d.alive()


# -- the rules ----------------------------------------------------------------


@pytest.mark.parametrize("addr", ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"])
def test_beyond_loopback_without_tls_names_what_to_set(sysfeed_bin, addr):
    p = run_sysfeed(sysfeed_bin, ["--listen", addr])
    assert p.returncode == 2
    line = [l for l in p.stderr.splitlines() if "refusing" in l]
    assert len(line) == 1 and "https://" in line[0] and "tls-cert" in line[0] \
        and "auth-users" in line[0], p.stderr


def test_rules_exit_2_with_one_line(sysfeed_bin, tmp_path, files):
    def run(text):
        path = tmp_path / "c.conf"
        path.write_text(text)
        return run_sysfeed(sysfeed_bin, ["--config", str(path)])

    cases = [
        ("listen = https://0.0.0.0:0\n", "set tls-cert and tls-key"),
        ("listen = https://0.0.0.0:0\ntls-cert = %s\ntls-key = %s\n" % (files["cert"], files["key"]),
         "set auth-users, auth-tokens or trusted-proxy"),
        ("listen = 127.0.0.1:0\nauth-loopback = yes\n", "auth-loopback = yes on 127.0.0.1:0 needs"),
    ]
    for text, want in cases:
        p = run(text)
        assert p.returncode == 2 and want in p.stderr, (text, p.stderr)
        c = run_sysfeed(sysfeed_bin, ["--config", str(tmp_path / "c.conf"), "--check-config"])
        assert c.returncode == 2 and want in c.stderr, (text, c.stderr)
    good = conf(files, listen="https://0.0.0.0:0")
    (tmp_path / "c.conf").write_text(good)
    c = run_sysfeed(sysfeed_bin, ["--config", str(tmp_path / "c.conf"), "--check-config"])
    assert c.returncode == 0, c.stderr


def test_secret_files_readable_by_others_are_refused(sysfeed_bin, tmp_path, files):
    path = tmp_path / "c.conf"
    path.write_text(conf(files))
    for name in ("users", "tokens", "key"):
        os.chmod(files[name], 0o644)
        p = run_sysfeed(sysfeed_bin, ["--config", str(path)])
        assert p.returncode == 2, p.stderr
        assert "%s: others may read or write it (mode 0644)" % files[name] in p.stderr, p.stderr
        os.chmod(files[name], 0o640)
    p = run_sysfeed(sysfeed_bin, ["--config", str(path), "--check-config"])
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("line,reason", [
    ("dave:hunter2", "not a crypt(3) hash (a plain password?)"),
    ("dave:$1$abc$def", "hash method too weak"),
    ("dave", "expected USER:HASH"),
    ("da ve:$6$x$y", "bad user name"),
    ("alice:$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/"
     "cZ/1GM/O6IND4WQhG.", "alice: listed twice"),
])
def test_bad_users_file_says_file_and_line(sysfeed_bin, tmp_path, files, line, reason):
    with open(files["users"], "a") as f:
        f.write(line + "\n")
    path = tmp_path / "c.conf"
    path.write_text(conf(files))
    p = run_sysfeed(sysfeed_bin, ["--config", str(path)])
    assert p.returncode == 2
    assert "%s:6: " % files["users"] in p.stderr and reason in p.stderr, p.stderr
    assert "hunter2" not in p.stderr


# -- authentication -------------------------------------------------------------


def test_every_endpoint_needs_credentials_beyond_loopback(start_daemon, files):
    d = start(start_daemon, files, listen="https://0.0.0.0:0")
    port, ca = d.tls_port, files["ca"]
    for path in ("/", "/events", "/api/snapshot", "/metrics", "/app.js", "/nope"):
        st, h, body = request(port, ca, path)
        assert st == 401, (path, st)
        assert 'Basic realm="sysfeed", charset="UTF-8"' in h["www-authenticate"]
        assert 'Bearer realm="sysfeed"' in h["www-authenticate"]
        assert b"authentication required" in body
    # /healthz says ok and nothing more without credentials.
    st, _, body = request(port, ca, "/healthz")
    assert st == 200 and body == b'{"status":"ok"}\n'
    for user in ("alice", "bob", "carol"):
        st, _, body = request(port, ca, "/healthz", basic(user, user + "-pw"))
        assert st == 200 and b'"instance"' in body, user
    st, _, body = request(port, ca, "/metrics", bearer(files["token"]))
    assert st == 200 and b"sysfeed_http_auth_logins_total" in body
    assert re.search(rb'sysfeed_http_auth_logins_total\{method="password"\} 3', body)
    assert re.search(rb"sysfeed_tls_certificate_expiry_seconds \d{10}", body)
    # Wrong ones: 401; a token in the URL is not a credential.
    assert request(port, ca, "/", basic("alice", "nope"))[0] == 401
    assert request(port, ca, "/", bearer("sysfeed_" + "0" * 64))[0] == 401
    assert request(port, ca, "/events?access_token=" + files["token"])[0] == 401
    assert request(port, ca, "/", {"Authorization": "Digest x"})[0] == 401
    # The page and a stream with Basic.
    st, h, body = request(port, ca, "/", basic("alice", "alice-pw"))
    assert st == 200 and b"<html" in body.lower()
    s = TLSStream(port, ca, basic("alice", "alice-pw"))
    assert s.status == 200 and len(s.wait_ids(2)) == 2
    s.close()
    # Audit: logins once per user and address, failures, never a password.
    text = d.stderr_text()
    assert re.search(r"auth: 127\.0\.0\.1 logged in as alice \(password\)", text)
    assert re.search(r"auth: 127\.0\.0\.1 logged in as prom \(token\)", text)
    assert len(re.findall(r"logged in as alice", text)) == 1
    assert "wrong password for user alice" in text
    for secret in ("alice-pw", "nope", files["token"], "0" * 64):
        assert secret not in text


def test_auth_loopback_asks_on_loopback_too(start_daemon, files):
    d = start_daemon(config="listen = 127.0.0.1:0\nauth-loopback = yes\nauth-users = %s\n"
                     % files["users"], listen=False)
    r = d.request("GET", "/api/snapshot")
    assert r.status == 401 and "Basic" in r.header("WWW-Authenticate")
    assert d.request("GET", "/api/snapshot", headers=list(basic("bob", "bob-pw").items())).status \
        == 200


def test_libcrypt_is_loaded_for_a_users_file_only(start_daemon, files):
    """crypt(3) is loaded with dlopen() when a users file is read
    (daemon/auth.c): a daemon with tokens only, or no authentication,
    does not map libcrypt."""
    d = start_daemon(config="listen = 127.0.0.1:0\n", listen=False)
    t = start_daemon(config="listen = 127.0.0.1:0\nauth-loopback = yes\nauth-tokens = %s\n"
                     % files["tokens"], listen=False)
    assert t.request("GET", "/api/snapshot",
                     headers=list(bearer(files["token"]).items())).status == 200
    assert not d.maps("libcrypt.so") and not t.maps("libcrypt.so")
    u = start_daemon(config="listen = 127.0.0.1:0\nauth-loopback = yes\nauth-users = %s\n"
                     % files["users"], listen=False)
    assert u.request("GET", "/api/snapshot",
                     headers=list(basic("carol", "carol-pw").items())).status == 200
    assert u.maps("libcrypt.so")


def test_wrong_passwords_until_429_without_locking_out_logged_in_users(start_daemon, files):
    d = start(start_daemon, files, listen="https://0.0.0.0:0")
    port, ca = d.tls_port, files["ca"]
    # alice logs in first: her password is then known good.
    assert request(port, ca, "/healthz", basic("alice", "alice-pw"))[0] == 200
    statuses = [request(port, ca, "/", basic("bob", "guess%d" % i))[0] for i in range(10)]
    assert statuses == [401] * 9 + [429], statuses
    st, h, body = request(port, ca, "/", basic("bob", "bob-pw"))
    assert st == 429, "a password never seen is not checked while over the budget"
    assert 1 <= int(h["retry-after"][0]) <= 61 and b"too many failed logins" in body
    # Logged-in users and token holders behind the same address go on.
    assert request(port, ca, "/healthz", basic("alice", "alice-pw"))[0] == 200
    assert request(port, ca, "/healthz", bearer(files["token"]))[0] == 200
    assert request(port, ca, "/", bearer("sysfeed_bad"))[0] == 429
    st, _, body = request(port, ca, "/metrics", bearer(files["token"]))
    assert re.search(rb'sysfeed_http_auth_refused_total\{reason="throttled"\} [2-9]', body), body
    d.wait_stderr(r"auth: 127\.0\.0\.1: 10 failures within a minute", 5)
    # Audit lines are bounded: 40 more failures add at most the budget.
    for i in range(40):
        request(port, ca, "/", bearer("sysfeed_x%d" % i))
    assert len([l for l in d.stderr_lines if "auth: " in l]) <= 20 + 2


def test_trusted_proxy_header(start_daemon, files):
    d = start_daemon(config="listen = 127.0.0.1:0\nauth-loopback = yes\ntrusted-proxy = 127.0.0.1\n"
                     "trusted-proxy-header = X-Remote-User\n", listen=False)
    assert d.request("GET", "/api/snapshot").status == 401
    ok = d.request("GET", "/api/snapshot", headers=[("X-Remote-User", "erin@example.org")])
    assert ok.status == 200
    assert d.request("GET", "/", headers=[("X-Remote-User", "a b\x01")]).status == 400
    d.wait_stderr(r"auth: 127\.0\.0\.1 logged in as erin@example\.org \(proxy header\)", 5)
    # From another address the header means nothing.
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5, source_address=("127.0.0.2", 0))
    s.sendall(b"GET /api/snapshot HTTP/1.1\r\nHost: localhost\r\nX-Remote-User: erin\r\n"
              b"Connection: close\r\n\r\n")
    data = s.recv(200)
    s.close()
    assert data.startswith(b"HTTP/1.1 401"), data


def test_host_and_cors_checks_hold_on_tls(start_daemon, files):
    d = start(start_daemon, files, listen="https://0.0.0.0:0")
    port, ca = d.tls_port, files["ca"]
    cred = basic("alice", "alice-pw")
    st, _, body = request(port, ca, "/healthz", cred, host="evil.example")
    assert st == 403 and b"not allowed" in body
    st, h, _ = request(port, ca, "/api/snapshot", dict(cred, Origin="https://evil.example"))
    assert st == 200 and not any(k.startswith("access-control") for k in h)
    # A header injection attempt through the user name stays one line.
    st, h, body = request(port, ca, "/", basic("x\r\nSet-Cookie: a=b", "y"))
    assert st == 401 and "set-cookie" not in h


# -- tokens ----------------------------------------------------------------------


def test_token_subcommands(sysfeed_bin, tmp_path):
    path = str(tmp_path / "tokens")
    run = lambda *a: subprocess.run([sysfeed_bin, "token", "--file", path] + list(a),
                                    capture_output=True, text=True)
    a = run("add", "prom")
    assert a.returncode == 0 and re.fullmatch(r"sysfeed_[0-9a-f]{64}\n", a.stdout)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert a.stdout.strip() not in open(path).read()
    assert run("add", "prom").returncode == 1
    assert run("add", "ci").returncode == 0
    assert run("list").stdout == "prom\nci\n"
    assert run("remove", "prom").returncode == 0
    assert run("list").stdout == "ci\n"
    assert run("remove", "prom").returncode == 1
    assert run("add", "bad name").returncode == 2
    os.chmod(path, 0o644)
    r = run("list")
    assert r.returncode == 1 and "others may read" in r.stderr
    # Through the config file's auth-tokens.
    os.chmod(path, 0o600)
    cfg = tmp_path / "c.conf"
    cfg.write_text("auth-tokens = %s\n" % path)
    r = subprocess.run([sysfeed_bin, "token", "--config", str(cfg), "list"],
                       capture_output=True, text=True)
    assert r.stdout == "ci\n", r.stderr


# -- reloads -------------------------------------------------------------------------


def test_reload_swaps_cert_users_and_tokens_under_live_streams(start_daemon, files, pki):
    d = start(start_daemon, files, listen="https://0.0.0.0:0")
    port, ca = d.tls_port, files["ca"]
    first = peer_cert_serial(port, ca)
    s1 = TLSStream(port, ca, basic("alice", "alice-pw"))
    s2 = TLSStream(port, ca, bearer(files["token"]))
    assert s1.status == 200 and s2.status == 200
    s1.wait_ids(1)
    s2.wait_ids(1)
    # certbot-style renewal, a changed password, a revoked token
    open(files["cert"], "wb").write(open(pki["cert2"], "rb").read())
    write_secret(files["key"], open(pki["key2"]).read())
    write_secret(files["users"], "alice:%s\n" % crypt_hash("new-pw"))
    subprocess.run([d.binary, "token", "--file", files["tokens"], "remove", "prom"], check=True,
                   capture_output=True)
    mark = len(d.stderr_lines)
    d.signal(signal.SIGHUP)
    d.wait_stderr(r"reloaded", 10, start=mark)
    assert peer_cert_serial(port, ca) != first
    # The streams opened before go on, over their old sessions.
    for s in (s1, s2):
        before = list(s.ids)
        new = s.wait_ids(3)
        assert new and new[0] != before[-1]
        s.close()
    assert request(port, ca, "/healthz", basic("alice", "alice-pw"))[0] == 401
    assert request(port, ca, "/healthz", basic("alice", "new-pw"))[0] == 200
    assert request(port, ca, "/healthz", basic("bob", "bob-pw"))[0] == 401
    assert request(port, ca, "/healthz", bearer(files["token"]))[0] == 401
    # A broken users file keeps the running credentials.
    write_secret(files["users"], "alice:plain\n")
    mark = len(d.stderr_lines)
    d.signal(signal.SIGHUP)
    d.wait_stderr(r"users:1: user alice: not a crypt\(3\) hash.*keeping the running", 10,
                  start=mark)
    assert request(port, ca, "/healthz", basic("alice", "new-pw"))[0] == 200
    # So does a key that others may read.
    os.chmod(files["key"], 0o644)
    write_secret(files["users"], "alice:%s\n" % crypt_hash("new-pw"))
    mark = len(d.stderr_lines)
    d.signal(signal.SIGHUP)
    d.wait_stderr(r"others may read.*keeping the running", 10, start=mark)
    assert request(port, ca, "/healthz", basic("alice", "new-pw"))[0] == 200


def test_idle_and_half_handshakes_do_not_lock_out(start_daemon, files):
    d = start(start_daemon, files, listen="https://0.0.0.0:0")
    port, ca = d.tls_port, files["ca"]
    # 140 connections that never finish a handshake (over the 128 waiting):
    # some send half a ClientHello, most nothing.
    idle = []
    for i in range(140):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 4 == 0:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        idle.append(s)
    # A real client still gets through (the oldest waiting one made room).
    assert request(port, ca, "/healthz", bearer(files["token"]))[0] == 200
    # And the idle ones are closed by the request deadline.
    first = idle[-1]
    first.settimeout(30)
    try:
        assert first.recv(100) == b""
    except ConnectionResetError:
        pass
    for s in idle:
        s.close()
    assert d.alive()
