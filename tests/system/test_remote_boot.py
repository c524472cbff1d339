"""Remote access on a booted Debian 12: the packaged service listening on a
non-loopback address of the container with TLS, a users file and a tokens
file, reached from the host side over a veth pair.

Set up as docs/remote.md says, with its own snippets taken from the page
(addresses replaced by the test's): the sysfeed.conf lines, the CA and
certificate commands and their install line, the install lines of the users
and tokens files, `sysfeed token add`, and the unit drop-in. The tests run in
file order on one container of their own (a copy of the cached root, deleted
afterwards): first without the drop-in (the sandbox drops the LAN), then
with it.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

import machine
from machine import Container, chroot, log, wait_for

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from remote_pki import crypt_hash  # noqa: E402  (libcrypt through ctypes)

CACHE = os.environ.get("SYSTEM_CACHE", "/var/cache/sysfeed-test")
DEB = os.environ.get("SYSFEED_DEB", "")
DOC = os.path.join(TOP, "docs", "remote.md")

# TEST-NET-2 on a veth pair: the host side .1, the container's host0 .2.
HOST_ADDR, BOX_ADDR, PREFIX = "198.51.100.1", "198.51.100.2", 24
NET = "198.51.100.0/24"
HOST_IF = "sfremote%d" % (os.getpid() % 10000)
NAME, PORT = "monitor.lan", 8443
URL = f"https://{NAME}:{PORT}"
DROPIN = "/etc/systemd/system/sysfeed.service.d/override.conf"  # what `systemctl edit` writes

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap and nspawn need root"),
]


def doc_block(heading, lang):
    """The first ```lang block after the line `heading` of docs/remote.md,
    its documentation addresses replaced by the test's."""
    with open(DOC) as f:
        text = f.read()
    at = text.index("\n" + heading + "\n")
    m = re.compile(r"^```" + lang + r"\n(.*?)^```", re.S | re.M).search(text, at)
    assert m, f"no ```{lang} block after {heading!r} in docs/remote.md"
    return m.group(1).replace("192.0.2.0/24", NET).replace("192.0.2.10", BOX_ADDR)


def commands(block):
    """The shell commands of a block, continuation lines joined, comments dropped."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


class State:
    pass


@pytest.fixture(scope="module")
def box():
    if not os.path.exists(DEB):
        pytest.fail("SYSFEED_DEB must name the .deb: run `make check-system`")
    base = machine.base_root(CACHE, machine.deb_depends(DEB))
    st = State()
    st.root = machine.work_root(CACHE, base, "work-remote")
    st.pki = tempfile.mkdtemp(prefix="sysfeed-remote-")
    st.c = Container(st.root)
    try:
        deps = " ".join(machine.deb_depends(DEB))
        chroot(st.root, f"dpkg -s {deps} >/dev/null 2>&1 || apt-get install -y -q {deps}")
        shutil.copy(DEB, os.path.join(st.root, "root"))
        chroot(st.root, "apt-get install -y -q /root/" + os.path.basename(DEB))
        st.c.boot()
        # The veth pair: one end stays on the host, the other goes into the
        # container's network namespace as host0.
        net = ["nsenter", "-t", str(st.c.leader), "-n"]
        machine.run(["ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", "host0",
                     "netns", str(st.c.leader)])
        machine.run(["ip", "addr", "add", f"{HOST_ADDR}/{PREFIX}", "dev", HOST_IF])
        machine.run(["ip", "link", "set", HOST_IF, "up"])
        machine.run(net + ["ip", "addr", "add", f"{BOX_ADDR}/{PREFIX}", "dev", "host0"])
        machine.run(net + ["ip", "link", "set", "host0", "up"])
        configure(st)
        yield st
    finally:
        st.c.kill()
        machine.run(["ip", "link", "del", HOST_IF], check=False)
        shutil.rmtree(st.pki, ignore_errors=True)
        shutil.rmtree(st.root, ignore_errors=True)
        if os.path.exists(st.c.logpath):
            os.unlink(st.c.logpath)


def sh(st, script, **kw):
    return st.c.sh(script, **kw).stdout


def configure(st):
    """docs/remote.md, step by step, without the unit drop-in."""
    # the CA and the server certificate: openssl on the host (the container
    # has none), the install line in the container
    ca_cmds = commands(doc_block("### A self-signed CA for a LAN, in four commands", "sh"))
    assert [c.split()[0] for c in ca_cmds] == ["openssl", "openssl", "openssl", "install"], ca_cmds
    for c in ca_cmds[:3]:
        machine.run(["bash", "-c", c], cwd=st.pki)
    tls_in = os.path.join(st.root, "root", "tls")
    os.makedirs(tls_in)
    for f in ("server.crt", "server.key"):
        shutil.copy(os.path.join(st.pki, f), tls_in)
    sh(st, "cd /root/tls && " + ca_cmds[3])
    st.ca = os.path.join(st.pki, "ca.crt")

    # users: the install line of the page, then alice (yescrypt, as mkpasswd
    # makes it) and bob (sha512crypt from `openssl passwd -6`)
    users = commands(doc_block("### Users (HTTP Basic)", "sh"))
    assert users[0].startswith("install ") and users[0].endswith(" /etc/sysfeed/users"), users
    sh(st, users[0])
    st.pw = {"alice": "alice-lan-pw", "bob": "bob-lan-pw"}
    bob = machine.run(["openssl", "passwd", "-6", "-stdin"], input=st.pw["bob"]).stdout.strip()
    assert bob.startswith("$6$"), bob
    sh(st, f"printf '%s\\n' 'alice:{crypt_hash(st.pw['alice'])}' 'bob:{bob}' "
           ">> /etc/sysfeed/users")

    # tokens: the install line and `sysfeed token add` (to /root, not /etc/prometheus)
    tokens = commands(doc_block("### Tokens (scripts and Prometheus)", "sh"))
    assert tokens[0].startswith("install ") and tokens[0].endswith(" /etc/sysfeed/tokens"), tokens
    sh(st, tokens[0])

    # sysfeed.conf: the page's lines appended to the packaged file (all comments)
    conf = doc_block("## TLS and users on the LAN", "ini")
    assert "https://" + BOX_ADDR in conf, conf
    assert re.search(r"^# /etc/sysfeed/sysfeed.conf\n", conf), conf
    sh(st, "cat >> /etc/sysfeed/sysfeed.conf <<'EOF'\n" + conf + "EOF")
    add = tokens[1].replace("/etc/prometheus/sysfeed.token", "/root/prometheus.token")
    assert add.startswith("sysfeed token add prometheus > "), tokens
    sh(st, add)
    st.token = sh(st, "cat /root/prometheus.token").strip()
    assert sh(st, "sysfeed token list").split() == ["prometheus"]
    # the modes the page gives are the ones the service accepts
    modes = sh(st, "stat -c '%n %U %G %a' /etc/sysfeed/users /etc/sysfeed/tokens "
                   "/etc/sysfeed/tls/server.key").splitlines()
    assert all(m.split()[1:] == ["root", "sysfeed", "640"] for m in modes), modes
    sh(st, "systemctl restart sysfeed")
    wait_for("sysfeed active", lambda: active(st), 30)


def active(st):
    return sh(st, "systemctl is-active sysfeed", check=False).strip() == "active"


def curl(st, path, *args, timeout=5, url=URL):
    """curl on the host, to the container's address, trusting the test CA:
    (exit status, HTTP status, body)."""
    cmd = ["curl", "-sS", "-m", str(timeout), "--cacert", st.ca, "--resolve",
           f"{NAME}:{PORT}:{BOX_ADDR}", "-o", "-", "-w", "\n%{http_code}", *args, url + path]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10)
    body, _, code = r.stdout.rpartition("\n")
    return r.returncode, int(code or 0), body


def user(st, name="alice"):
    return ["-u", f"{name}:{st.pw[name]}"]


def test_the_service_listens_on_the_lan_address(box):
    st = box
    text = sh(st, "journalctl -q --no-pager -o cat -u sysfeed")
    assert f"listening on https://{BOX_ADDR}:{PORT}/" in text, text[-3000:]
    assert "listening on http://127.0.0.1:8390/" in text, text[-3000:]


def test_without_the_drop_in_the_sandbox_drops_the_lan(box):
    """The packaged unit allows loopback only: the host's SYN never reaches
    the listening socket, so curl times out (where a closed port would be
    refused at once)."""
    st = box
    assert set(sh(st, "systemctl show sysfeed -p IPAddressAllow --value").split()) == {
        "127.0.0.0/8", "::1/128"}
    rc, code, _ = curl(st, "/healthz", *user(st), "--connect-timeout", "3", timeout=4)
    assert (rc, code) == (28, 0), (rc, code)


def test_with_the_drop_in_the_host_gets_in(box):
    st = box
    dropin = doc_block("## The unit's sandbox", "ini")
    assert dropin == f"[Service]\nIPAddressAllow={NET}\n", dropin
    sh(st, f"mkdir -p {os.path.dirname(DROPIN)} && cat > {DROPIN} <<'EOF'\n{dropin}EOF\n"
           "systemctl daemon-reload && systemctl restart sysfeed")
    wait_for("sysfeed active", lambda: active(st), 30)
    assert NET in sh(st, "systemctl show sysfeed -p IPAddressAllow --value").split()
    rc, code, body = wait_for("the host's curl answered", lambda: (
        lambda r: r if r[0] == 0 else None)(curl(st, "/healthz", *user(st))), 30)
    assert code == 200 and '"status":"ok"' in body.replace(" ", ""), (code, body)


def test_events_with_credentials(box):
    """The stream's first bytes from the host: retry, then hello; alice
    (yescrypt) and bob (sha512crypt) both; HSTS on the answer."""
    st = box
    for who in ("alice", "bob"):
        rc, code, body = curl(st, "/events", *user(st, who), "-N", "-D", "/dev/stderr",
                              timeout=3)
        assert rc == 28 and code == 200, (who, rc, code, body[:300])  # a stream: cut by -m
        assert body.startswith("retry:"), body[:300]
        assert "\nevent: hello\n" in body, body[:600]
    r = subprocess.run(["curl", "-sS", "-m", "5", "--cacert", st.ca, "--resolve",
                        f"{NAME}:{PORT}:{BOX_ADDR}", "-u", f"alice:{st.pw['alice']}", "-o",
                        "/dev/null", "-D", "-", URL + "/healthz"], capture_output=True, text=True)
    assert re.search(r"^strict-transport-security: max-age=31536000", r.stdout, re.I | re.M), \
        r.stdout


def test_metrics_with_a_user_and_with_the_token(box):
    st = box
    rc, code, body = curl(st, "/metrics", *user(st))
    assert (rc, code) == (0, 200), (rc, code, body[:300])
    assert re.search(r"^sysfeed_http_auth_logins_total\b.* [1-9]", body, re.M), body[:2000]
    rc, code, body = curl(st, "/metrics", "-H", f"Authorization: Bearer {st.token}")
    assert (rc, code) == (0, 200) and "sysfeed_tls_certificate_expiry_seconds" in body, \
        (rc, code, body[:300])


def test_without_credentials_401(box):
    st = box
    for path in ("/events", "/metrics", "/api/snapshot", "/"):
        rc, code, _ = curl(st, path)
        assert (rc, code) == (0, 401), (path, rc, code)
    rc, code, _ = curl(st, "/metrics", "-u", "alice:wrong")
    assert code == 401, code
    rc, code, _ = curl(st, "/metrics", "-H", "Authorization: Bearer " + "0" * 43)
    assert code == 401, code
    # /healthz says it is up and nothing more
    rc, code, body = curl(st, "/healthz")
    assert code == 200 and body.replace(" ", "").strip() == '{"status":"ok"}', (code, body)


def test_host_check_on_the_lan(box):
    """By the address (in allowed-hosts and the certificate) it answers; a
    name not in allowed-hosts (a rebinding page's) gets 403 even with the
    right credentials."""
    st = box
    rc, code, body = curl(st, "/healthz", *user(st), url=f"https://{BOX_ADDR}:{PORT}")
    assert (rc, code) == (0, 200) and '"version"' in body, (rc, code, body[:300])
    rc, code, _ = curl(st, "/healthz", *user(st), "--resolve", f"rebind.example:{PORT}:{BOX_ADDR}",
                       "--insecure", url=f"https://rebind.example:{PORT}")
    assert (rc, code) == (0, 403), (rc, code)


def test_plain_http_refused(box):
    """Plain HTTP to the TLS port gets no HTTP answer; the plain port is on
    loopback only."""
    st = box
    rc, code, body = curl(st, "/healthz", *user(st), url=f"http://{BOX_ADDR}:{PORT}")
    assert rc != 0 and code == 0 and body == "", (rc, code, body)
    rc, code, _ = curl(st, "/healthz", url=f"http://{BOX_ADDR}:8390")
    assert (rc, code) == (7, 0), (rc, code)  # connection refused: nothing listens there


def test_exposure_with_the_drop_in_is_2_or_lower(box):
    score, out = machine.exposure(box.c)
    assert os.path.basename(DROPIN) in sh(box, "systemctl cat sysfeed")
    print(f"\nsystemd-analyze security sysfeed.service with the LAN drop-in: exposure {score}")
    log(f"exposure level with the drop-in {score}")
    assert score <= 2.0, out


def test_socket_activation_on_the_lan(box):
    """With sysfeed.socket the socket unit needs the LAN address and the same
    allow list in a drop-in of its own (the page's); the service takes the
    sockets, and the one beyond loopback is TLS with the same users."""
    st = box
    sock_dropin = "/etc/systemd/system/sysfeed.socket.d/override.conf"
    text = doc_block("### With socket activation", "ini")
    assert text == f"[Socket]\nListenStream={BOX_ADDR}:{PORT}\nIPAddressAllow={NET}\n", text
    sh(st, f"mkdir -p {os.path.dirname(sock_dropin)} && cat > {sock_dropin} <<'EOF'\n{text}EOF\n"
           "systemctl daemon-reload && systemctl disable --now sysfeed.service && "
           "systemctl enable --now sysfeed.socket")
    try:
        assert sh(st, "systemctl is-active sysfeed.service", check=False).strip() == "inactive"
        rc, code, body = curl(st, "/metrics", *user(st), timeout=15)
        assert (rc, code) == (0, 200) and "sysfeed_tls_certificate_expiry_seconds" in body, \
            (rc, code, body[:300])
        assert active(st)
        rc, code, _ = curl(st, "/metrics")
        assert (rc, code) == (0, 401), (rc, code)
        pid = sh(st, "systemctl show sysfeed -p MainPID --value").strip()
        text = sh(st, f"journalctl -q --no-pager -o cat _PID={pid}")
        assert "using 3 socket(s) from the service manager" in text, text
    finally:
        sh(st, f"systemctl disable --now sysfeed.socket; systemctl stop sysfeed.service; "
               f"rm -rf {os.path.dirname(sock_dropin)}; systemctl daemon-reload; "
               "systemctl enable --now sysfeed.service", check=False)
