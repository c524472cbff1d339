"""The `containers` and `svc` topics of the real daemon against an
independent reader (tests/fixtures/expected_containers.py, Python) on the
ctr-v2, ctr-v1 and ctr-hybrid fixture trees and on this host (the
containers as a client keeps them: the snapshot's list, then each tick's
changed rows); a real Podman
container (Debian's podman and runc, an image made here from busybox-static)
that appears by name with its CPU while it spins and leaves when stopped,
both pushed at once; and real cgroup v1 services: cgroups named like
services in this host's own v1 hierarchies with a busy process moved in."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from sysfeed_harness import SSEClient, get_json

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
sys.path.insert(0, FIXTURES)
import expected_containers as reader  # noqa: E402

SLACK = 4 if os.environ.get("SYSFEED_SANITIZE") else 1
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def stream(daemon, topics):
    c = SSEClient(daemon.port, "/events?topics=" + topics)
    _, c.snap = c.wait_hello_snapshot(10 * SLACK)
    return c


def tick(c, topic, pred=lambda p: True, timeout=10):
    """The next tick payload of topic (not a change event) that pred accepts."""
    return c.wait_event(lambda e: e.type == topic and "changes" not in e.json and pred(e.json),
                        timeout * SLACK, "a %s tick" % topic).json


class Containers:
    """The containers as a client keeps them (docs/events.md): the
    snapshot's `list`, then each tick's `rows` (whole rows, by cgroup) and
    counts, and each change event's stops."""

    def __init__(self, c):
        state = c.snap.json["topics"].get("containers") or {"list": []}
        self.c, self.pos, self.ticks = c, c.cursor, []
        self.counts = {k: v for k, v in state.items() if k != "list"}
        self.rows = {r["cgroup"]: r for r in state["list"]}

    def apply(self, p):
        if "changes" in p:
            for x in p["changes"]:
                if x["change"] == "stopped":
                    self.rows.pop(x["cgroup"], None)
            return False
        self.ticks.append(p)
        for r in p["rows"]:
            self.rows[r["cgroup"]] = r
        self.counts = {k: v for k, v in p.items() if k != "rows"}
        return True

    def state(self):
        """As the daemon's state: counts and the list by name."""
        return dict(self.counts, list=sorted(self.rows.values(), key=lambda r: (
            r["name"].encode(), r["cgroup"].encode())))

    def upto(self, event):
        """Applies the events up to and including event."""
        while self.pos < len(self.c.events):
            e = self.c.events[self.pos]
            self.pos += 1
            if e.type == "containers":
                self.apply(e.json)
            if e is event:
                return
        raise AssertionError("the event is not in the stream")

    def tick(self, pred=lambda p: True, timeout=10):
        """The state after the next tick after which pred accepts it."""
        def step():
            while self.pos < len(self.c.events):
                e = self.c.events[self.pos]
                self.pos += 1
                if e.type == "containers" and self.apply(e.json) and pred(self.state()):
                    return self.state()
            return None
        return self.c.wait_until(step, timeout * SLACK, "a containers tick")


@pytest.mark.parametrize("machine", ["ctr-v2", "ctr-v1", "ctr-hybrid"])
def test_fixture_machines_against_reader(start_daemon, machine):
    """Every field of every container, and the services on v1 and hybrid,
    as the Python reader sees the same tree (static: rates 0)."""
    m = os.path.join(FIXTURES, machine)
    d = start_daemon(interval=200, args=("--proc-root", os.path.join(m, "proc"),
                                         "--sys-root", os.path.join(m, "sys")))
    c = stream(d, "containers,svc")
    view = Containers(c)
    # from the second tick on (rates then: 0 on a static tree)
    ours = view.tick(lambda p: all(r["cpu_pct"] is not None for r in p["list"]))
    a = reader.sample(os.path.join(m, "sys"), os.path.join(m, "proc"), m)
    want = reader.payload(a, a, ours["t"])
    assert ours == want
    assert ours["containers"] >= 3
    # then nothing changes: ticks carry no row, and the snapshot has them all
    view.tick(lambda p: view.ticks[-1]["rows"] == [])
    snap = get_json(d.port, "/api/snapshot")["topics"]["containers"]
    assert {k: v for k, v in snap.items() if k != "t"} == \
        {k: v for k, v in want.items() if k != "t"}
    if machine != "ctr-v2":
        svc = tick(c, "svc", lambda p: p["top_cpu"])
        s = reader.services(os.path.join(m, "sys"))
        assert svc == reader.svc_payload(s, s, svc["t"])
    c.close()


def test_live_host_against_reader(start_daemon):
    """This host's containers (none, or whatever runs) found alike."""
    d = start_daemon(interval=500)
    c = stream(d, "containers")
    ours = Containers(c).tick()
    theirs = reader.sample("/sys", "/proc", "/")
    assert {r["cgroup"][1:] for r in ours["list"]} == set(theirs), (ours, theirs)
    for r in ours["list"]:
        t = theirs[r["cgroup"][1:]]
        assert (r["name"], r["image"], r["engine"]) == (t["name"], t["image"], t["engine"])
    c.close()


# --- a real Podman container ---------------------------------------------------

def podman_ready():
    return os.geteuid() == 0 and shutil.which("podman") and shutil.which("runc") and \
        os.path.exists("/bin/busybox")


def run(*argv, timeout=120):
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def busybox_image(tmp_path):
    """localhost/sysfeed-busybox:test, imported from a tar of busybox-static."""
    if not podman_ready():
        pytest.skip("needs root, podman, runc and busybox-static (make deps-containers)")
    root = tmp_path / "img"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    for tool in ("sh", "sleep"):
        os.symlink("busybox", root / "bin" / tool)
    run("tar", "-C", str(root), "-cf", str(tmp_path / "img.tar"), ".")
    name = "localhost/sysfeed-busybox:test"
    run("podman", "import", str(tmp_path / "img.tar"), name)
    return name


def test_podman_container(start_daemon, busybox_image):
    d = start_daemon(interval=500)
    c = stream(d, "containers")
    view = Containers(c)
    view.tick()
    name = "sysfeed-test-%d" % os.getpid()
    subprocess.run(PODMAN + ["rm", "-f", "-t", "0", name], capture_output=True, timeout=120)
    try:
        cid = run(*PODMAN, "run", "-d", "--name", name, *LIMITS, busybox_image,
                  "/bin/sh", "-c", "while :; do :; done").stdout.strip()
        # pushed when its cgroup appears, named from Podman's containers.json
        ev = c.wait_event(lambda e: e.type == "containers" and any(
            x["change"] == "started" and x["name"] == name for x in e.json.get("changes", [])),
            30 * SLACK, "the started change").json
        # (a new client's snapshot has it, with the row the ticks update)
        assert any(r["id"] == cid for r in
                   get_json(d.port, "/api/snapshot")["topics"]["containers"]["list"])
        started = [x for x in ev["changes"] if x["name"] == name][0]
        assert started["id"] == cid and started["engine"] == "podman"
        assert started["image"] == busybox_image
        # by name with its CPU while it spins (one core at most; the machine is shared)
        row = None

        def spinning(p):
            nonlocal row
            row = next((r for r in p["list"] if r["name"] == name), None)
            return row is not None and row["cpu_pct"] is not None and row["cpu_pct"] > 10
        view.tick(spinning, 30)
        assert row["cpu_pct"] < 100 * os.cpu_count() + 5, row
        assert row["state"] == "running" and row["tasks"] >= 1 and row["mem_bytes"] > 0, row
        assert row["id"] == cid and row["cgroup"].endswith(cid) and row["image"] == busybox_image
        theirs = reader.sample("/sys", "/proc", "/")[row["cgroup"][1:]]
        assert (theirs["name"], theirs["engine"]) == (name, "podman")
        # stopped: pushed at once, then gone from the list
        run(*PODMAN, "rm", "-f", "-t", "0", name)
        stop = c.wait_event(lambda e: e.type == "containers" and any(
            x["change"] == "stopped" and x["id"] == cid for x in e.json.get("changes", [])),
            30 * SLACK, "the stopped change")
        # the view up to the stop (ticks while `podman rm` ran still had
        # it), then the first tick after it
        view.upto(stop)
        after = view.tick()
        assert all(r["id"] != cid for r in after["list"])
        assert after["containers"] == len(after["list"])
        assert all(r["id"] != cid for r in
                   get_json(d.port, "/api/snapshot")["topics"]["containers"]["list"])
    finally:
        subprocess.run(PODMAN + ["rm", "-f", "-t", "0", name], capture_output=True, timeout=120)
    c.close()


# --- real cgroup v1 services ---------------------------------------------------

V1 = ["cpuacct", "memory", "pids"]


def v1_host():
    return os.geteuid() == 0 and not os.path.exists("/sys/fs/cgroup/cgroup.controllers") and \
        all(os.path.isdir("/sys/fs/cgroup/" + h) for h in V1)


@pytest.fixture
def v1_service():
    """system.slice/sysfeed-test-PID.service in cpuacct, memory and pids,
    with a busy process holding 64 MiB moved in; removed afterwards."""
    if not v1_host():
        pytest.skip("needs root on a cgroup v1 or hybrid host")
    unit = "sysfeed-test-%d.service" % os.getpid()
    made = []
    for h in V1:
        for rel in ("system.slice", "system.slice/" + unit):
            p = os.path.join("/sys/fs/cgroup", h, rel)
            if not os.path.isdir(p):
                os.mkdir(p)
                made.append(p)
    # it touches its pages once moved in (v1 charges a page to the cgroup
    # that was the process's when it was first touched)
    busy = subprocess.Popen([sys.executable, "-c",
                             "import sys\nsys.stdin.readline()\nb = bytearray(64 << 20)\n"
                             "for i in range(0, len(b), 4096): b[i] = 1\n"
                             "print('ready', flush=True)\nwhile True: pass\n"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        for h in V1:
            with open(os.path.join("/sys/fs/cgroup", h, "system.slice", unit, "cgroup.procs"),
                      "w") as f:
                f.write("%d\n" % busy.pid)
        busy.stdin.write("go\n")
        busy.stdin.flush()
        assert busy.stdout.readline().strip() == "ready"
        yield unit
    finally:
        busy.kill()
        busy.wait()
        for p in reversed(made):
            deadline = time.monotonic() + 10
            while True:
                try:
                    os.rmdir(p)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)


def test_v1_service(start_daemon, v1_service):
    d = start_daemon(interval=500)
    c = stream(d, "svc")
    row = None

    def found(p):
        nonlocal row
        row = next((r for r in p["top_cpu"] if r["unit"] == v1_service), None)
        return row is not None and row["cpu_pct"] > 10
    tick(c, "svc", found, 30)
    assert row["cpu_pct"] < 100 * os.cpu_count() + 5, row
    assert row["mem_bytes"] >= 64 << 20, row    # charged when it touched the pages
    assert row["mem_bytes"] < 1 << 30, row
    assert row["tasks"] == 1, row
    assert row["io_read_bytes_per_s"] is None   # no blkio cgroup made for it: null
    c.close()
