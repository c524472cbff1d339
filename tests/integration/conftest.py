"""Fixtures: the daemon binary, build/fields run once, a daemon factory
that always stops what it started, and a daemon on an ephemeral port with
a 200 ms tick."""

import os
import subprocess

import pytest

from sysfeed_harness import Daemon, raise_nofile, sysfeed_binary


@pytest.fixture(scope="session")
def sysfeed_bin():
    return sysfeed_binary()


@pytest.fixture(scope="session")
def fields_run(sysfeed_bin):
    """build/fields (tools/fields.c, beside the daemon binary) run without
    arguments: its subprocess.CompletedProcess, which exited 0."""
    tool = os.path.join(os.path.dirname(sysfeed_bin), "fields")
    if not os.access(tool, os.X_OK):
        pytest.fail("%s not found: run `make`" % tool)
    out = subprocess.run([tool], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="session")
def bench_dir():
    path = os.path.abspath(os.environ.get("SYSFEED_BENCH", "build/bench"))
    if not os.path.isdir(path):
        pytest.fail("bench binaries not found in %s: run `make tests` or set SYSFEED_BENCH" % path)
    return path


@pytest.fixture(scope="session", autouse=True)
def _enough_fds():
    # The many-clients tests hold a few hundred sockets; the daemon inherits this.
    raise_nofile(4096)


@pytest.fixture
def start_daemon(sysfeed_bin, tmp_path):
    """start_daemon(interval=200, config=None, args=(), ...) -> a started Daemon.
    `interval=None` passes no --interval (so the config file's applies).
    At teardown every daemon is stopped with SIGTERM and must exit 0; one that
    died during the test, or exits otherwise, is reported as an error."""
    daemons = []

    def start(interval=200, config=None, args=(), **kw):
        d = Daemon(sysfeed_bin, tmp_path, interval=interval, config=config, args=args, **kw)
        daemons.append(d)
        return d.start()

    yield start
    problems = []
    for d in daemons:
        problems += d.finish()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def daemon(start_daemon):
    return start_daemon()
