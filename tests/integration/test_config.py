"""Command line and config file: errors are `FILE:LINE: reason` with exit 2,
--check-config, --version, --help, --listen rules, precedence."""

import os
import re
import signal
import socket

import pytest

from sysfeed_harness import (
    LISTEN_RE,
    check_consecutive,
    free_port_bound,
    ipv6_loopback,
    run_sysfeed,
)


def write(tmp_path, text, name="sysfeed.conf"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def assert_config_error(proc, path, line):
    assert proc.returncode == 2, "exit %d, stderr: %s" % (proc.returncode, proc.stderr)
    m = re.search(re.escape(path) + r":(\d+): (\S.*)$", proc.stderr, re.M)
    assert m, "no `%s:LINE: reason` line on stderr: %r" % (path, proc.stderr)
    assert int(m.group(1)) == line, "error reported at line %s, expected %d: %r" % (m.group(1), line, m.group(0))


BAD_LINES = {
    "unknown-key": "frobnicate = 1",
    "interval-too-small": "interval = 5",
    "interval-below-min": "interval = 99",
    "interval-above-max": "interval = 60001",
    "interval-not-a-number": "interval = abc",
    "interval-trailing-junk": "interval = 200ms",
    "interval-empty": "interval =",
    "interval-negative": "interval = -200",
    "interval-overflow": "interval = 99999999999999999999999",
    "no-equals": "interval 200",
    "ring-bytes-below-min": "ring-bytes = 65535",
    "ring-bytes-not-a-number": "ring-bytes = lots",
    "keepalive-zero": "keepalive = 0",
    "keepalive-too-big": "keepalive = 3601",
    "max-clients-not-a-number": "max-clients = many",
    "max-clients-per-address-not-a-number": "max-clients-per-address = -",
    "listen-garbage": "listen = not an address",
    "listen-bad-port": "listen = 127.0.0.1:99999",
}


@pytest.mark.parametrize("check", [False, True], ids=["run", "check-config"])
@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_bad_config_line_exits_2_with_file_and_line(sysfeed_bin, tmp_path, kind, check):
    # The bad line is line 4: comments and blank lines count.
    path = write(tmp_path, "# sysfeed test config\n\ninterval = 200\n%s\nkeepalive = 15\n" % BAD_LINES[kind])
    args = ["--config", path, "--listen", "127.0.0.1:0"] + (["--check-config"] if check else [])
    assert_config_error(run_sysfeed(sysfeed_bin, args), path, 4)


@pytest.mark.parametrize("check", [False, True], ids=["run", "check-config"])
def test_missing_config_file_is_line_0(sysfeed_bin, tmp_path, check):
    path = str(tmp_path / "does-not-exist.conf")
    args = ["--config", path, "--listen", "127.0.0.1:0"] + (["--check-config"] if check else [])
    assert_config_error(run_sysfeed(sysfeed_bin, args), path, 0)


def test_directory_as_config_file_is_line_0(sysfeed_bin, tmp_path):
    path = str(tmp_path)
    assert_config_error(run_sysfeed(sysfeed_bin, ["--config", path, "--check-config"]), path, 0)


@pytest.mark.parametrize("check", [False, True], ids=["run", "check-config"])
def test_fifo_as_config_file_is_refused_at_once(sysfeed_bin, tmp_path, check):
    """A FIFO with no writer: opening it for reading used to block for ever."""
    path = str(tmp_path / "fifo.conf")
    os.mkfifo(path)
    args = ["--config", path, "--listen", "127.0.0.1:0"] + (["--check-config"] if check else [])
    p = run_sysfeed(sysfeed_bin, args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.splitlines() == ["sysfeed: %s:0: not a regular file" % path], p.stderr
    assert_config_error(p, path, 0)


def test_fifo_swapped_in_at_sighup_keeps_the_running_config(start_daemon):
    d = start_daemon(interval=None, config="interval = 200\nkeepalive = 7\n")
    c = d.sse()
    hello, snap = c.wait_hello_snapshot()
    c.wait_type("cpu", 5)
    os.unlink(d.config_path)
    os.mkfifo(d.config_path)
    mark = len(d.stderr_lines)
    d.signal(signal.SIGHUP)
    line = d.wait_stderr(re.escape(d.config_path) + r":0: not a regular file; keeping the "
                         r"running configuration$", 5, start=mark, what="the reload error")
    assert line
    # The loop is not stuck: still answering, still ticking at 200 ms.
    h = d.healthz()
    assert h["status"] == "ok" and h["instance"] == hello.json["instance"]
    n = sum(e.type == "cpu" for e in c.live_events())
    c.wait_until(lambda: sum(e.type == "cpu" for e in c.live_events()) >= n + 5, 10,
                 "5 more cpu events")
    check_consecutive([snap] + c.live_events())
    c2 = d.sse()
    assert c2.wait_hello_snapshot()[0].json["interval_ms"] == 200
    # A second HUP on the same FIFO is refused the same way.
    mark = len(d.stderr_lines)
    d.signal(signal.SIGHUP)
    d.wait_stderr(re.escape(d.config_path) + r":0: not a regular file", 5, start=mark,
                  what="the second reload error")
    assert d.healthz()["status"] == "ok"


GOOD_CONFIG = """\
# every key, with comments and blank lines

listen = 127.0.0.1:0
interval = 250
proc-root = /proc
sys-root = /sys
ring-bytes = 65536
max-clients = 10
max-clients-per-address = 5
allowed-hosts = a.example, b.example
allowed-hosts = c.example
   keepalive   =   7
"""


def test_check_config_accepts_a_good_file(sysfeed_bin, tmp_path):
    path = write(tmp_path, GOOD_CONFIG)
    p = run_sysfeed(sysfeed_bin, ["--config", path, "--check-config"])
    assert p.returncode == 0, p.stderr
    assert not LISTEN_RE.search(p.stderr), "--check-config started serving"


def test_good_config_is_applied(start_daemon, tmp_path):
    d = start_daemon(interval=None, config=GOOD_CONFIG.replace("listen = 127.0.0.1:0\n", ""))
    c = d.sse()
    hello, _ = c.wait_hello_snapshot()
    assert hello.json["interval_ms"] == 250
    assert d.healthz()["ring"]["capacity"] == 65536
    assert d.request("GET", "/healthz", host="c.example").status == 200


def test_listen_from_config_file(start_daemon):
    d = start_daemon(interval=None, listen=False, config="listen = 127.0.0.1:0\n")
    assert d.healthz()["status"] == "ok"


def test_command_line_overrides_config_file(start_daemon):
    d = start_daemon(interval=300, config="interval = 500\n")
    c = d.sse()
    hello, _ = c.wait_hello_snapshot()
    assert hello.json["interval_ms"] == 300


@pytest.mark.parametrize("args", [
    ["--bogus"],
    ["--interval"],
    ["--interval", "5"],
    ["--interval", "abc"],
    ["--interval", "60001"],
    ["--listen"],
    ["--listen", "nonsense"],
    ["--config"],
    ["unexpected-positional"],
], ids=lambda a: " ".join(a) or "none")
def test_bad_usage_exits_2(sysfeed_bin, args):
    p = run_sysfeed(sysfeed_bin, ["--listen", "127.0.0.1:0"] + args)
    assert p.returncode == 2, "exit %d for %r, stderr %r" % (p.returncode, args, p.stderr)
    assert p.stderr.strip(), "no message on stderr"
    assert not LISTEN_RE.search(p.stderr)


def test_version(sysfeed_bin, start_daemon):
    p = run_sysfeed(sysfeed_bin, ["--version"])
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    assert "sysfeed" in out.lower() and re.search(r"\d+\.\d+", out), out
    assert len(out.strip().splitlines()) <= 5
    assert start_daemon().healthz()["version"] in out


def test_help(sysfeed_bin):
    p = run_sysfeed(sysfeed_bin, ["--help"])
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    for opt in ("--listen", "--interval", "--config", "--check-config", "--version"):
        assert opt in out, "--help does not mention %s" % opt
    assert not LISTEN_RE.search(out)


def test_unbindable_explicit_listen_exits_2(sysfeed_bin):
    sock, port = free_port_bound()
    try:
        p = run_sysfeed(sysfeed_bin, ["--listen", "127.0.0.1:%d" % port])
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert p.stderr.strip()
        # One bad address among good ones is still fatal when given explicitly.
        p = run_sysfeed(sysfeed_bin, ["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:%d" % port])
        assert p.returncode == 2, (p.returncode, p.stderr)
    finally:
        sock.close()


@pytest.mark.parametrize("addr", ["0.0.0.0:0", "[::]:0", "192.0.2.1:0", "10.0.0.1:0"])
def test_non_loopback_listen_is_refused(sysfeed_bin, tmp_path, addr):
    p = run_sysfeed(sysfeed_bin, ["--listen", addr])
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.strip()
    assert not LISTEN_RE.search(p.stderr)
    path = write(tmp_path, "listen = %s\n" % addr)
    p = run_sysfeed(sysfeed_bin, ["--config", path])
    assert p.returncode == 2, (p.returncode, p.stderr)


def test_listen_on_ipv6_loopback_and_two_addresses(start_daemon):
    if not ipv6_loopback():
        pytest.skip("this machine has no ::1")
    d = start_daemon(args=["--listen", "[::1]:0"])
    m6 = d.wait_stderr(r"listening on http://\[::1\]:(\d+)/", 5)
    port6 = int(m6.group(1))
    s = socket.create_connection(("::1", port6), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: [::1]:%d\r\nConnection: close\r\n\r\n" % port6)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:100]
    lines = [l for l in d.stderr_lines if LISTEN_RE.search(l)]
    assert len(lines) == 2, lines


def test_proc_root_fixture_tree(start_daemon):
    """--proc-root points the collectors at another tree (a fixture here)."""
    root = os.path.join(os.path.dirname(__file__), "..", "fixtures", "vm2", "proc")
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        pytest.fail("fixture tree %s missing" % root)
    d = start_daemon(args=["--proc-root", root])
    c = d.sse()
    c.wait_hello_snapshot()
    mem = c.wait_type("mem", 5).json
    with open(os.path.join(root, "meminfo")) as f:
        total_kb = int(next(l for l in f if l.startswith("MemTotal:")).split()[1])
    assert mem["total"] == total_kb * 1024
