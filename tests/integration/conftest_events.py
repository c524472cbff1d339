"""Shared fixtures and helpers of the event topics' tests (log, file, units).
pytest loads only conftest.py by itself: test files import this module
(`from conftest_events import *`), which brings the fixtures into scope.

journald: a real systemd-journald. When none runs, one is started here (as
root; it makes its own sockets under /run/systemd/journal when it is not
socket-activated) and stopped at the end of the session."""

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from sysfeed_harness import SLOW, Timeout, deadline_after, remaining, stop_process

JOURNALD = "/lib/systemd/systemd-journald"
JOURNAL_SOCKET = "/run/systemd/journal/socket"


def journald_running():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect(JOURNAL_SOCKET)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Journald:
    """The journald the tests write to; `owned` when this session started it
    (then it may be restarted)."""

    def __init__(self):
        self.proc = None
        self.owned = False

    def start(self):
        self.proc = subprocess.Popen([JOURNALD], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.owned = True
        deadline = deadline_after(10)
        while not journald_running():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with status %s" % (JOURNALD, self.proc.returncode))
            if remaining(deadline) <= 0:
                raise Timeout("%s did not open %s" % (JOURNALD, JOURNAL_SOCKET))
            time.sleep(0.02)

    def stop(self):
        if self.proc:
            stop_process(self.proc, 10)
        self.proc = None

    def restart(self):
        assert self.owned, "only a journald this session started may be restarted"
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def journald():
    j = Journald()
    if not journald_running():
        if os.geteuid() != 0 or not os.access(JOURNALD, os.X_OK):
            pytest.skip("no journald runs and this user cannot start %s" % JOURNALD)
        j.start()
    yield j
    if j.owned:
        j.stop()


@pytest.fixture(scope="session")
def journal_send(bench_dir):
    """journal_send(*fields, n=1, interval_us=0, escapes=False): writes entries
    with sd_journal_sendv() through tests/bench/journal_send."""
    path = os.path.join(bench_dir, "journal_send")
    if not os.access(path, os.X_OK):
        pytest.fail("%s not built: run `make tests`" % path)

    def send(*fields, n=1, interval_us=0, escapes=False):
        cmd = [path, "-n", str(n), "-i", str(interval_us)]
        if escapes:
            cmd.append("-e")
        subprocess.run(cmd + [f.encode() if isinstance(f, str) else f for f in fields],
                       check=True, timeout=120 * SLOW)

    return send


def token():
    return "tok" + uuid.uuid4().hex[:16]


def log_entries(client, tok=None):
    """Every entry of the client's `log` events (with tok in the message)."""
    out = []
    for e in client.events:
        if e.type != "log":
            continue
        for entry in e.json["entries"]:
            if tok is None or tok in entry["message"]:
                out.append(entry)
    return out


def log_dropped(client):
    return sum(e.json["dropped"] for e in client.events if e.type == "log")


def wait_log(client, tok, count=1, timeout=10):
    return client.wait_until(lambda: len(log_entries(client, tok)) >= count and log_entries(client, tok),
                             timeout, "%d log entries with %s" % (count, tok))


def file_events(client, path=None):
    return [e.json for e in client.events
            if e.type == "file" and (path is None or e.json.get("path") == path)]


def wait_file(client, path, action=None, timeout=10):
    def found():
        for ev in file_events(client, path):
            if action is None or ev["action"] == action:
                return ev
        return None

    return client.wait_until(found, timeout, "a file event %s on %s" % (action or "", path))


def have(cmd):
    return shutil.which(cmd) is not None
