"""The `file` topic against real inotify and the real daemon: changes in a
temporary tree (create, modify, attributes, delete, rename, nested new
directories), coalescing, latency, an overflow of the inotify queue, and the
watch limit (in a user namespace of its own, so the host's limit is not
touched)."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest_events import file_events, wait_file  # noqa: F401
from sysfeed_harness import SLOW, get_json, pump_for


def watching(start_daemon, tree, coalesce=100, extra="", **kw):
    d = start_daemon(config="watch = %s\nfile-coalesce-ms = %d\n%s" % (tree, coalesce, extra), **kw)
    c = d.sse("/events?topics=file")
    hello, snap = c.wait_hello_snapshot()
    assert "file" in hello.json["topics"], hello.json["off"]
    return d, c, snap.json["topics"]["file"]


def test_changes_arrive(start_daemon, tmp_path):
    tree = tmp_path / "w"
    (tree / "sub").mkdir(parents=True)
    d, c, state = watching(start_daemon, tree)
    assert state["paths"] == [str(tree)] and state["watched"] == 2 and state["unwatched"] == []

    t0 = time.time() * 1000
    (tree / "a.conf").write_text("x=1\n")
    ev = wait_file(c, str(tree / "a.conf"))
    assert ev["actions"][0] == "created" and ev["dir"] is False and ev["count"] >= 1
    arrived = [e for e in c.events if e.type == "file"][-1].wall_ms
    assert arrived - t0 < (100 + 100) * SLOW + 100, "took %d ms" % (arrived - t0)

    os.chmod(tree / "a.conf", 0o600)
    wait_file(c, str(tree / "a.conf"), "attrib")
    os.rename(tree / "a.conf", tree / "sub" / "b.conf")
    mv = wait_file(c, str(tree / "sub" / "b.conf"), "moved")
    assert mv["from"] == str(tree / "a.conf") and mv["to"] == str(tree / "sub" / "b.conf")
    os.unlink(tree / "sub" / "b.conf")
    wait_file(c, str(tree / "sub" / "b.conf"), "deleted")

    # nested new directories are watched as they appear
    os.makedirs(tree / "n1" / "n2" / "n3")
    (tree / "n1" / "n2" / "n3" / "deep").write_text("z")
    for p in ("n1", "n1/n2", "n1/n2/n3"):
        assert wait_file(c, str(tree / p), "created")["dir"] is True
    wait_file(c, str(tree / "n1/n2/n3/deep"))
    time.sleep(0.2)  # let the scan of n3 and the watch's own events settle
    with open(tree / "n1" / "n2" / "n3" / "deep", "a") as f:
        f.write("more")
    c.wait_until(lambda: any(e["action"] == "modified" for e in
                             file_events(c, str(tree / "n1/n2/n3/deep"))), 10,
                 "a modification deep in the new tree")
    # a moved directory keeps its watches under the new name
    os.rename(tree / "n1", tree / "m1")
    assert wait_file(c, str(tree / "m1"), "moved")["from"] == str(tree / "n1")
    os.utime(tree / "m1" / "n2" / "n3" / "deep")
    wait_file(c, str(tree / "m1/n2/n3/deep"), "attrib")
    shutil.rmtree(tree / "m1")
    wait_file(c, str(tree / "m1"), "deleted")

    # the snapshot carries the recent events and what is watched
    snap = get_json(d.port, "/api/snapshot")["topics"]["file"]
    assert snap["watched"] == 2 and snap["overflows"] == 0
    paths = [e["path"] for e in snap["events"]]
    assert str(tree / "sub" / "b.conf") in paths and len(snap["events"]) <= 100


def test_coalescing(start_daemon, tmp_path):
    tree = tmp_path / "w"
    tree.mkdir()
    d, c, _ = watching(start_daemon, tree, coalesce=300)
    t0 = time.monotonic()
    with open(tree / "burst", "w") as f:
        for i in range(50):
            f.write("line %d\n" % i)
            f.flush()
            os.fchmod(f.fileno(), 0o600 if i % 2 else 0o644)  # distinct events, not merged by the kernel
    ev = wait_file(c, str(tree / "burst"))
    took = time.monotonic() - t0
    pump_for([c], 0.6)
    evs = file_events(c, str(tree / "burst"))
    assert len(evs) == 1, evs
    assert evs[0]["count"] >= 50 and evs[0]["actions"][:2] == ["created", "modified"]
    assert set(evs[0]["actions"]) == {"created", "modified", "attrib"}
    assert took >= 0.3, "the window is 300 ms, the event came after %.3fs" % took


def test_overflow(start_daemon, tmp_path):
    """The daemon is stopped while 20,000 changes pile up in a queue of
    16,384 (the default fs.inotify.max_queued_events): the kernel drops
    events and says so with IN_Q_OVERFLOW."""
    tree = tmp_path / "w"
    tree.mkdir()
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        queue = int(f.read())
    if queue > 100000:
        pytest.skip("max_queued_events is %d: too large to overflow quickly" % queue)
    d, c, _ = watching(start_daemon, tree, coalesce=20)
    d.signal(signal.SIGSTOP)
    try:
        for i in range(queue + 4000):
            os.close(os.open(tree / ("f%d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
    finally:
        d.signal(signal.SIGCONT)
    c.wait_until(lambda: any(e["action"] == "overflow" for e in file_events(c)), 30,
                 "an overflow event")
    ov = [e for e in file_events(c) if e["action"] == "overflow"][0]
    assert ov["path"] is None and "max_queued_events" in ov["message"]
    snap = get_json(d.port, "/api/snapshot")["topics"]["file"]
    assert snap["overflows"] >= 1
    # still working
    (tree / "after").write_text("y")
    wait_file(c, str(tree / "after"), timeout=30)


def test_watch_limit(start_daemon, tmp_path):
    """fs.inotify.max_user_watches is per user namespace (/proc/sys/user/
    max_inotify_watches): the daemon runs in one of its own with a limit of
    12, over a tree of 20 directories."""
    if not shutil.which("unshare"):
        pytest.skip("unshare not installed")
    probe = subprocess.run(["unshare", "-U", "-r", "sh", "-c",
                            "echo 5 > /proc/sys/user/max_inotify_watches"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no user namespaces here: %s" % probe.stderr.decode().strip())
    tree = tmp_path / "w"
    for i in range(20):
        (tree / ("d%02d" % i)).mkdir(parents=True)
    wrapper = ["unshare", "-U", "-r", "sh", "-c",
               'echo 12 > /proc/sys/user/max_inotify_watches && exec "$@"', "sh"]
    d, c, state = watching(start_daemon, tree, wrapper=wrapper,
                           extra="log-backlog = 0\n")
    assert state["watched"] < 21 and state["unwatched_count"] >= 1, state
    assert all(u["error"] == "watch limit reached" for u in state["unwatched"]), state
    # a new directory that cannot be watched is reported as it appears
    (tree / "late").mkdir()
    ev = c.wait_until(lambda: [e for e in file_events(c) if e["action"] == "watch_limit"], 10,
                      "a watch_limit event")[0]
    assert "max_user_watches" in ev["message"] and ev["count"] >= 1
    snap = get_json(d.port, "/api/snapshot")["topics"]["file"]
    assert str(tree / "late") in [u["path"] for u in snap["unwatched"]]


def test_nothing_to_watch_turns_the_topic_off(start_daemon, tmp_path):
    d = start_daemon(config="watch = %s\n" % (tmp_path / "missing"))
    hello, snap = d.sse().wait_hello_snapshot()
    assert "file" not in hello.json["topics"]
    assert hello.json["off"]["file"].startswith("nothing to watch: %s" % (tmp_path / "missing"))
