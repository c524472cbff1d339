"""The `file` topic against real inotify and the real daemon: changes in a
temporary tree (create, modify, attributes, delete, rename, nested new
directories), coalescing, latency, an overflow of the inotify queue, the
watch limit (in a user namespace of its own, so the host's limit is not
touched), names that are not UTF-8, and trees deeper than PATH_MAX."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest_events import file_events, wait_file  # noqa: F401
from sysfeed_harness import SLOW, get_json, pump_for

FFFD = "\ufffd"


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
    # Live, or, when the burst (5 MB of events) overtook this reader in the
    # ring, in the fresh snapshot it was sent: the topic's recent events.
    def overflow_seen():
        snaps = [e.json["topics"].get("file", {}).get("events", [])
                 for e in c.events[2:] if e.type == "snapshot"]
        seen = [e for e in file_events(c) + sum(snaps, []) if e.get("action") == "overflow"]
        return seen and seen[0]

    ov = c.wait_until(overflow_seen, 30, "an overflow event")
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


def test_names_that_are_not_utf8(start_daemon, tmp_path):
    """File names are bytes: what is not UTF-8 reaches every JSON the daemon
    serves as U+FFFD, in the stream, the snapshot and /api/snapshot."""
    tree = tmp_path / "w"
    tree.mkdir()
    missing = os.fsencode(tmp_path) + b"/gone\xff\xc0"
    conf = tmp_path / "bytes.conf"
    conf.write_bytes(b"watch = %s\nwatch = %s\nfile-coalesce-ms = 0\n"
                     % (os.fsencode(tree), missing))
    d = start_daemon(args=["--config", str(conf)])
    c = d.sse("/events?topics=file", keep_body=1 << 20)
    hello, snap = c.wait_hello_snapshot()
    assert "file" in hello.json["topics"], hello.json["off"]
    bad = os.fsencode(tree) + b"/bad\xff\xfe-\xe2\x82.conf"
    os.close(os.open(bad, os.O_CREAT | os.O_WRONLY, 0o644))
    shown = str(tree) + "/bad" + FFFD * 2 + "-" + FFFD + ".conf"
    ev = wait_file(c, shown, "created")
    assert ev["dir"] is False
    raw = bytes(c.body_prefix)
    raw.decode("utf-8")  # strict: raises on any invalid sequence
    assert ("/bad" + FFFD * 2 + "-" + FFFD + ".conf").encode() in raw
    # /api/snapshot: the recent events, the paths and what is not watched
    r = d.request("GET", "/api/snapshot")
    assert r.status == 200
    state = json.loads(r.body.decode("utf-8"))["topics"]["file"]  # strict
    assert shown in [e["path"] for e in state["events"]]
    gone = str(tmp_path) + "/gone" + FFFD * 2
    assert state["paths"] == [str(tree), gone], state["paths"]
    assert {"path": gone, "error": "No such file or directory"} in state["unwatched"]
    # a new stream's snapshot too
    s2 = d.sse("/events?topics=file", keep_body=1 << 20)
    s2.wait_hello_snapshot()
    bytes(s2.body_prefix).decode("utf-8")
    assert shown.encode() in bytes(s2.body_prefix)


def nest(c, tree, comp, room):
    """Nests directories named comp under tree while one more (and room
    bytes after it) fits in PATH_MAX (4,096 bytes with the NUL), each
    watched as it appears (its creation is reported). Returns the deepest
    path and an fd on it (paths this long only work relative to an fd)."""
    path = str(tree)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    while len(path) + 1 + len(comp) + room < 4096:
        os.mkdir(comp, dir_fd=fd)
        path += "/" + comp
        wait_file(c, path, "created")
        nfd = os.open(comp, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    return path, fd


def test_deeper_than_path_max_is_reported(start_daemon, tmp_path):
    """Directories nested until the next name no longer fits in PATH_MAX
    (4,096 bytes with its NUL): the deepest watched one is reported as
    `unwatched`, with the reason, instead of its changes vanishing."""
    tree = tmp_path / "w"
    tree.mkdir()
    d, c, _ = watching(start_daemon, tree, coalesce=0)
    comp = "d" * 250
    boundary, fd = nest(c, tree, comp, 0)
    try:
        # a short name still fits and is reported as usual
        if len(boundary) + 2 < 4096:
            os.close(os.open("x", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
            wait_file(c, boundary + "/x", "created")
        # this one does not: not silently lost, reported
        os.mkdir(comp, dir_fd=fd)
        ev = c.wait_until(lambda: [e for e in file_events(c) if e["action"] == "unwatched"], 10,
                          "an unwatched event")[0]
        assert ev["path"] == boundary and ev["count"] >= 1, ev
        assert "PATH_MAX" in ev["message"] and ev["message"].startswith(boundary), ev["message"]
        # changes below it are not reported, and it is listed once
        nfd = os.open(comp, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(os.open("deep", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=nfd))
        os.close(nfd)
        os.rename(comp, comp[:-1], src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        os.close(fd)
    pump_for([c], 0.5)
    assert len([e for e in file_events(c) if e["action"] == "unwatched"]) == 1
    state = get_json(d.port, "/api/snapshot")["topics"]["file"]
    listed = [u for u in state["unwatched"] if u["path"] == boundary]
    assert listed and "PATH_MAX" in listed[0]["error"], state["unwatched"]
    assert state["unwatched_count"] == len(state["unwatched"]) == 1
    # the rest of the tree is still watched
    (tree / "after").write_text("y")
    wait_file(c, str(tree / "after"))


def test_snapshot_stays_small_with_hostile_names(start_daemon, tmp_path):
    """Names of control characters, nested near PATH_MAX: each event's path
    takes about 24 KB escaped, but the events the snapshot keeps stay
    within 256 KiB of JSON."""
    tree = tmp_path / "w"
    tree.mkdir()
    d, c, _ = watching(start_daemon, tree, coalesce=0)
    path, fd = nest(c, tree, "\x01" * 250, 40)
    try:
        for i in range(30):
            os.close(os.open("%s%02d" % ("\x02" * 30, i), os.O_CREAT | os.O_WRONLY, 0o644,
                             dir_fd=fd))
    finally:
        os.close(fd)
    last = path + "/" + "\x02" * 30 + "29"
    wait_file(c, last, "created")
    r = d.request("GET", "/api/snapshot")
    state = json.loads(r.body.decode("utf-8"))["topics"]["file"]
    size = len(json.dumps(state["events"], ensure_ascii=False, separators=(",", ":")).encode())
    print("file snapshot: %d events, %d bytes" % (len(state["events"]), size))
    assert size <= 256 * 1024 + 2, size
    assert state["events"][-1]["path"] == last  # the newest are kept
