"""The fs topic with hung FUSE mounts (issue 3, acceptance 4).

The daemon runs in a private mount namespace (unshare -m) where a shell first
mounts a tmpfs and two hangfs filesystems (tests/fuse/hangfs: statfs is read
from the kernel and never answered, so the caller waits uninterruptibly),
then execs the daemon: no other process on the machine sees these mounts.
With a 200 ms tick and fs-timeout-ms = 300:

- cpu and mem events keep arriving every tick, before, while and after the
  mounts hang (no gap over 2 ticks, in "t" and in arrival time);
- the fs topic reports both hangfs mounts "responding": false within a
  bounded time, while "/" and the tmpfs keep fresh values (a file written
  into the tmpfs shows in the next ticks);
- each hung mount is asked once; the daemon's children are its statfs worker
  (only when a mount not asked on the loop thread is shown: "/" and the
  tmpfs are, ext4 or xfs and tmpfs) and one worker per hung mount, stuck in
  D state; no zombie;
- killing one hangfs aborts its connection: its stuck worker ends and is
  reaped, the mount is asked again and answers "Transport endpoint is not
  connected" ("responding": true with that error);
- the stock alert rule fs-not-responding fires for each hung mount;
- SIGTERM, with a worker still stuck, makes the daemon exit 0 within 1 s
  (plus sanitizer slack), leaving the stuck worker behind.

Needs root (a mount namespace, FUSE mounts) and /dev/fuse; hangfs comes from
$SYSFEED_HANGFS (the Makefile builds build/tests/hangfs). Every hangfs is
killed at the end, which releases the stuck worker; the mounts go away with
the namespace.
"""

import os
import shutil
import signal
import tempfile
import time

import pytest

from sysfeed_harness import SANITIZE, SLOW, pump_for, wait_for

INTERVAL = 200
# Asked on the loop thread, without a worker (collectors/fs_select.c)
LOCAL_TYPES = {"btrfs", "exfat", "ext2", "ext3", "ext4", "f2fs", "tmpfs", "vfat", "xfs"}
TIMEOUT_MS = 300
RETRY_S = 10 * TIMEOUT_MS / 1000.0  # the collector asks a hung mount again after 10 timeouts
STOP_LIMIT = 1.0 + (2.0 if SANITIZE else 0.0)
MIB = 1 << 20

# Runs inside the new mount namespace, then becomes the daemon ("$@").
# hangfs is started from a subshell, so that it is not the daemon's child.
NS_SCRIPT = r"""
set -e
mount -t tmpfs -o size=64m sysfeed-fresh "$SF_FRESH"
i=0
for m in $SF_HANG; do
    ( "$SF_HANGFS" -f -o fsname=hangfs,subtype=hangfs "$m" </dev/null >/dev/null \
        2>"$SF_STATE/hang$i.log" & echo $! >"$SF_STATE/hang$i.pid" )
    i=$((i + 1))
done
for m in $SF_HANG; do
    n=0
    until grep -q " $m fuse.hangfs " /proc/self/mounts; do
        n=$((n + 1))
        if [ $n -gt 200 ]; then
            echo "test_fs_hang: hangfs did not mount $m" >&2
            exit 1
        fi
        sleep 0.05
    done
done
exec "$@"
"""


@pytest.fixture
def hangfs():
    if os.geteuid() != 0:
        pytest.skip("needs root: a private mount namespace and FUSE mounts")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse")
    if not shutil.which("unshare"):
        pytest.fail("unshare not found: apt-get install util-linux")
    path = os.path.abspath(os.environ.get("SYSFEED_HANGFS", "build/tests/hangfs"))
    if not os.access(path, os.X_OK):
        pytest.fail("%s not found: run `make build/tests/hangfs` or set SYSFEED_HANGFS" % path)
    return path


class Setup:
    """The temporary directories and the hangfs processes (by pid file)."""

    def __init__(self, n_hang):
        self.state = tempfile.mkdtemp(prefix="sysfeed-hangstate-")
        self.fresh = tempfile.mkdtemp(prefix="sysfeed-fresh-")
        self.hang = [tempfile.mkdtemp(prefix="sysfeed-hang-") for _ in range(n_hang)]

    def pid(self, i):
        try:
            with open(os.path.join(self.state, "hang%d.pid" % i)) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def statfs_lines(self, i):
        """Requests the kernel delivered to hangfs i."""
        try:
            with open(os.path.join(self.state, "hang%d.log" % i)) as f:
                return sum(1 for line in f if line.strip() == "statfs")
        except OSError:
            return 0

    def kill(self, i):
        pid = self.pid(i)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def cleanup(self):
        for i in range(len(self.hang)):
            self.kill(i)
        # The mount points are plain directories out here.
        for d in self.hang + [self.fresh]:
            try:
                os.rmdir(d)
            except OSError:
                pass
        shutil.rmtree(self.state, ignore_errors=True)


def proc_stat(pid):
    """(state, ppid) of a process, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    # field 2 (comm) may hold anything: 3 state and 4 ppid follow its last ')'
    rest = data[data.rindex(")") + 2 :].split()
    return rest[0], int(rest[1])


def children(pid):
    """{child pid: state} of a process."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st and st[1] == pid:
                out[int(name)] = st[0]
    return out


def mount_entry(ev, mount):
    for fs in ev.json["filesystems"]:
        if fs["mount"] == mount:
            return fs
    return None


def check_every_tick(events, what):
    """No gap over 2 ticks between consecutive events, in "t" and on arrival."""
    assert len(events) >= 2, "too few %s events: %r" % (what, events)
    ts = [e.json["t"] for e in events]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    assert max(gaps) <= 2 * INTERVAL, "%s: a gap of %d ms in t: %r" % (what, max(gaps), gaps)
    arr = [e.received for e in events]
    agaps = [(b - a) * 1000 for a, b in zip(arr, arr[1:])]
    assert max(agaps) <= 2 * INTERVAL, "%s: a gap of %.0f ms in arrival: %r" % (
        what, max(agaps), [round(g) for g in agaps])


def test_hung_fuse_mounts(start_daemon, hangfs):
    s = Setup(2)
    try:
        run(start_daemon, hangfs, s)
    finally:
        s.cleanup()


def run(start_daemon, hangfs, s):
    env = dict(os.environ, SF_HANGFS=hangfs, SF_HANG=" ".join(s.hang), SF_FRESH=s.fresh,
               SF_STATE=s.state)
    wrapper = ["unshare", "-m", "--propagation", "private", "sh", "-c", NS_SCRIPT, "sh"]
    d = start_daemon(interval=INTERVAL, config="fs-timeout-ms = %d\n" % TIMEOUT_MS,
                     wrapper=wrapper, env=env)
    c = d.sse("/events?topics=cpu,mem,fs,alert")
    snap = c.wait_hello_snapshot()[1]
    t_connected = time.monotonic()

    def of(type_):
        return [e for e in c.live_events() if e.type == type_]

    def last_fs():
        fs = of("fs")
        return fs[-1] if fs else None

    # Both hang, one after the other: at most about 2 timeouts and 2 ticks.
    def both_hung():
        ev = last_fs()
        if not ev:
            return None
        hs = [mount_entry(ev, m) for m in s.hang]
        assert all(hs), "a hangfs mount is missing from %r" % ev.data
        return ev if not any(h["responding"] for h in hs) else None

    hung = c.wait_until(both_hung, 2 * TIMEOUT_MS / 1000.0 + 1.5, "both hangfs mounts to stop responding")
    assert hung.received - t_connected <= (2 * TIMEOUT_MS + 3 * INTERVAL) / 1000.0 * SLOW + 0.5

    # the stock rule fires for each (before the client came: in snapshot)
    def not_responding():
        got = {e.json["instance"] for e in of("alert")
               if e.json["name"] == "fs-not-responding" and e.json["state"] == "firing"}
        got |= {a["instance"] for a in snap.json["topics"]["alert"]["active"]
                if a["name"] == "fs-not-responding" and a["state"] == "firing"}
        return got if got >= set(s.hang) else None

    fired = c.wait_until(not_responding, 2, "fs-not-responding to fire for both mounts")
    assert "/" not in fired and s.fresh not in fired

    # The others keep fresh values: a file written into the tmpfs (reached
    # through the daemon's root, in its namespace) shows within 3 ticks.
    pump_for([c], 0.6)
    with open("/proc/%d/root%s/data" % (d.pid, s.fresh), "wb") as f:
        f.write(b"x" * (8 * MIB))
    t_written = time.monotonic()
    n = len(of("fs"))
    seen = c.wait_until(lambda: next((e for e in of("fs")[n:]
                                      if mount_entry(e, s.fresh)["used"] >= 8 * MIB), None),
                        3, "the tmpfs to show the 8 MiB written")
    assert seen.received - t_written <= 3 * INTERVAL / 1000.0 * SLOW + 0.1
    pump_for([c], 2.0)

    after = [e for e in of("fs") if e.seq > hung.seq]
    assert len(after) >= 10, after
    for ev in after:
        for m in s.hang:
            h = mount_entry(ev, m)
            assert h["fstype"] == "fuse.hangfs" and h["responding"] is False, ev.data
            assert h["size"] is None and h["error"] is None, ev.data
        for m in ("/", s.fresh):
            fs = mount_entry(ev, m)
            assert fs and fs["responding"] is True and fs["error"] is None, ev.data
            assert isinstance(fs["size"], int) and fs["size"] > 0, ev.data
    check_every_tick(of("fs"), "fs")
    check_every_tick(of("cpu"), "cpu")
    check_every_tick(of("mem"), "mem")

    # Each hung mount was asked once; the daemon's children: its worker
    # (when a mount other than the hung ones is of a type not asked on the
    # loop thread) and one stuck worker per hung mount, waiting
    # uninterruptibly. No zombie.
    assert [s.statfs_lines(i) for i in range(2)] == [1, 1]
    main = int(any(fs["fstype"] not in LOCAL_TYPES
                   for fs in of("fs")[-1].json["filesystems"] if fs["mount"] not in s.hang))
    kids = children(d.pid)
    assert sorted(kids.values()) in (["D", "D"] + ["S"] * main, ["D", "D"] + ["R"] * main), kids
    stuck = [p for p, st in kids.items() if st == "D"]

    # hangfs 1 dies: its stuck worker ends and is reaped within a few ticks;
    # the mount is asked again (after 10 timeouts) and answers ENOTCONN.
    s.kill(1)
    # (waits through the client, which keeps reading the stream, so that
    # arrival times stay true)
    c.wait_until(lambda: sum(p in children(d.pid) for p in stuck) == 1, 5 * INTERVAL / 1000.0 + 0.5,
                 "the released worker to be reaped")
    n = len(of("fs"))

    def answered():
        for e in of("fs")[n:]:
            h = mount_entry(e, s.hang[1])
            if h["responding"]:
                return h
        return None

    h = c.wait_until(answered, RETRY_S + 3, "hangfs mount 1 to answer again")
    assert h["error"] == "Transport endpoint is not connected", h
    assert mount_entry(of("fs")[-1], s.hang[0])["responding"] is False
    c.wait_until(lambda: sorted(children(d.pid).values()) in (["D", "S"], ["D", "R"]), 2,
                 "the worker and the one stuck worker, no zombie")
    assert s.statfs_lines(0) == 1
    pump_for([c], 0.6)
    check_every_tick(of("cpu"), "cpu")
    check_every_tick(of("mem"), "mem")
    check_every_tick(of("fs"), "fs")

    # SIGTERM with a worker stuck in D state: the daemon exits 0 at once.
    stuck0 = [p for p in stuck if p in children(d.pid)]
    assert len(stuck0) == 1, (stuck, children(d.pid))
    rc, took = d.stop(timeout=10)
    assert rc == 0, "exit status %d; stderr:\n%s" % (rc, d.stderr_text())
    assert took <= STOP_LIMIT, "took %.2fs to exit" % took
    st = proc_stat(stuck0[0])
    assert st and st[0] == "D", "the stuck worker: %r" % (st,)  # left behind, still stuck
    assert "fs:" not in d.stderr_text(), d.stderr_text()

    # Killing hangfs 0 releases it.
    s.kill(0)
    wait_for(lambda: (proc_stat(stuck0[0]) or ("gone",))[0] in ("gone", "Z"), 5,
             "the last stuck worker to end")
