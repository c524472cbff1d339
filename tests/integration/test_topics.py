"""?topics= filters the stream and the snapshot; an unknown topic is a 400.
The files collectors watch through the daemon's one poll a tick (the host
name, the mount table) still show their changes."""

import os
import shutil
import subprocess
import tempfile

import pytest

from sysfeed_checks import check_snapshot_event
from sysfeed_harness import BASE_TOPICS


@pytest.mark.parametrize("topics", ["mem", "cpu,mem", "load,cpu", "cpu,mem,load"])
def test_topics_filter_stream_and_snapshot(daemon, topics):
    wanted = set(topics.split(","))
    observer = daemon.sse()
    observer.wait_hello_snapshot()
    observer.wait_type("cpu", 10)  # every base topic now has a value
    c = daemon.sse("/events?topics=" + topics)
    hello, snap = c.wait_hello_snapshot()
    assert wanted <= set(hello.json["topics"])
    s = check_snapshot_event(snap, hello.json["instance"], topics=wanted)
    assert set(s["topics"]) == wanted, "snapshot topics %r for ?topics=%s" % (sorted(s["topics"]), topics)
    # Three ticks' worth of events, all of the wanted topics only.
    c.wait_until(lambda: all(sum(e.type == t for e in c.live_events()) >= 3 for t in wanted),
                 10, "3 events of each of %s" % topics)
    live = c.live_events()
    assert {e.type for e in live} == wanted
    seqs = [e.seq for e in live]
    assert seqs == sorted(set(seqs)) and seqs[0] > s["seq"], seqs
    # The filtered stream is the unfiltered one minus the other topics.
    observer.wait_seq(seqs[-1])
    same = [(e.id, e.type, e.data) for e in observer.live_events()
            if s["seq"] < e.seq <= seqs[-1] and e.type in wanted]
    assert [(e.id, e.type, e.data) for e in live] == same


@pytest.mark.parametrize("query", ["topics=bogus", "topics=mem,bogus", "topics=mem%0D%0Adata:x"])
def test_unknown_topic_is_400(daemon, query):
    r = daemon.request("GET", "/events?" + query)
    assert r.status == 400, r
    assert (r.header("Content-Type") or "").startswith("text/plain"), r.headers
    body = r.text
    assert body.strip() and "\n" not in body.rstrip("\n"), "error body is not one line: %r" % body
    # Still serving.
    assert daemon.healthz()["status"] == "ok"


def test_all_base_topics_are_known(daemon):
    for t in BASE_TOPICS:
        c = daemon.sse("/events?topics=" + t)
        assert c.wait_response().status == 200
        c.close()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nsenter"),
                    reason="needs root (its own UTS and mount namespaces) and nsenter")
def test_watched_files_changes_show(start_daemon):
    """The daemon in namespaces of its own: a new host name shows in a
    `host` event, a new tmpfs in an `fs` event, each within a few ticks
    (the one poll() a tick over both files, whose readers read them only
    when it says they changed)."""
    d = start_daemon(interval=200, config="fs-types = tmpfs\n",
                     wrapper=["unshare", "-u", "-m", "--propagation", "private"])
    c = d.sse("/events?topics=host,fs")
    c.wait_hello_snapshot()
    c.wait_type("fs", 10)
    with tempfile.TemporaryDirectory(prefix="sysfeed-watch-") as mnt:
        def ns(*cmd):
            subprocess.run(["nsenter", "-t", str(d.proc.pid), "-u", "-m"] + list(cmd),
                           check=True, timeout=10)

        ns("hostname", "sysfeed-watched")
        c.wait_until(lambda: any(e.type == "host" and e.json.get("hostname") == "sysfeed-watched"
                                 for e in c.live_events()), 5, "a host event with the new name")
        ns("mount", "-t", "tmpfs", "-o", "size=1m", "sysfeed-watch", mnt)
        c.wait_until(lambda: any(e.type == "fs" and any(f["mount"] == mnt
                                                        for f in e.json["filesystems"])
                                 for e in c.live_events()), 5, "an fs event with the new mount")
