"""What may wake a daemon nobody watches: the tick. Cgroups made and
removed (every unit, scope and session on a busy host), the journal's
writes and the housekeeping wait for the tick while no stream client or
alert rule needs them sooner; with a client on `containers` and `log`, their
fds are watched again. Read from the kernel's own account of the loop's
epoll sets and timers (/proc/PID/fdinfo), not from timings."""

import os
import re
import shutil
import time

import pytest

from sysfeed_harness import deadline_after, remaining, wait_for

FIXTURES = os.path.abspath(os.environ.get("SYSFEED_FIXTURES", "tests/fixtures"))
JOURNAL_DIRS = ("/run/log/journal", "/var/log/journal")


def fdinfo(pid, fd):
    try:
        with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
            return f.read()
    except OSError:
        return ""


def fd_kind(pid, fd):
    try:
        return os.readlink("/proc/%d/fd/%s" % (pid, fd))
    except OSError:
        return ""


def loop_fds(pid):
    """The fds the loop waits on: those in its epoll set (the one holding
    the signalfd) and, through the collectors' own epoll sets in it, theirs."""
    fds = os.listdir("/proc/%d/fd" % pid)
    polls = {fd: [int(t) for t in re.findall(r"^tfd:\s*(\d+)", fdinfo(pid, fd), re.M)]
             for fd in fds if fd_kind(pid, fd) == "anon_inode:[eventpoll]"}
    sigfd = [int(fd) for fd in fds if fd_kind(pid, fd) == "anon_inode:[signalfd]"]
    assert len(sigfd) == 1, sigfd
    loop = [fd for fd, tfds in polls.items() if sigfd[0] in tfds]
    assert len(loop) == 1, polls
    seen, todo = set(), list(polls[loop[0]])
    while todo:
        fd = todo.pop()
        if fd in seen:
            continue
        seen.add(fd)
        todo.extend(polls.get(str(fd), []))
    return seen


def inodes(top):
    """(device, inode) of every file and directory under top."""
    out = set()
    for d, dirs, files in os.walk(top):
        for name in [""] + dirs + files:
            try:
                st = os.lstat(os.path.join(d, name))
            except OSError:
                continue
            out.add((st.st_dev, st.st_ino))
    return out


def watching(pid, fds, where):
    """The inotify fds among fds with a watch on one of the inodes `where`."""
    found = set()
    for fd in fds:
        for ino, sdev in re.findall(r"^inotify wd:\S+ ino:([0-9a-f]+) sdev:([0-9a-f]+)",
                                    fdinfo(pid, fd), re.M):
            major, minor = int(sdev, 16) >> 20, int(sdev, 16) & 0xFFFFF
            if (os.makedev(major, minor), int(ino, 16)) in where:
                found.add(fd)
    return found


def wait_for(cond, timeout, what):
    deadline = deadline_after(timeout)
    while not cond():
        assert remaining(deadline) > 0, "no %s in %s s" % (what, timeout)
        time.sleep(0.05)


def test_cgroups_and_journal_wake_the_loop_only_for_a_client(start_daemon, tmp_path):
    """No client: neither the cgroup watches (svc, containers) nor the
    journal are in the loop's epoll sets (the tick looks at them). A client
    of `containers` and `log` brings the containers' and the journal's in
    within about a second; when it leaves they go again. svc's never: only
    its tick reads the slices."""
    journal = set()
    for d in JOURNAL_DIRS:
        journal |= inodes(d)
    if not journal:
        pytest.skip("no journal directory on this host")
    root = tmp_path / "m"
    shutil.copytree(os.path.join(FIXTURES, "ctr-hybrid"), root, symlinks=True)
    cgroups = inodes(str(root / "sys" / "fs" / "cgroup"))
    d = start_daemon(interval=1000, args=("--proc-root", str(root / "proc"),
                                          "--sys-root", str(root / "sys")))
    pid = d.pid
    first = d.sse("/events?topics=cpu")
    hello = first.wait_hello_snapshot()[0].json
    first.close()
    for topic in ("containers", "svc", "log"):
        assert topic not in hello.get("off", {}), hello["off"]
    everything = set(int(fd) for fd in os.listdir("/proc/%d/fd" % pid))
    assert watching(pid, everything, cgroups), "no cgroup watch at all"
    assert watching(pid, everything, journal), "no journal watch at all"

    def idle():
        fds = loop_fds(pid)
        return not watching(pid, fds, cgroups) and not watching(pid, fds, journal)

    for _ in range(2):  # a client comes and goes, twice
        c = d.sse("/events?topics=containers,log")
        c.wait_hello_snapshot()
        wait_for(lambda: watching(pid, loop_fds(pid), cgroups) and
                 watching(pid, loop_fds(pid), journal), 10, "the watches of a followed topic")
        # containers' alone: svc's inotify stays out
        followed = watching(pid, loop_fds(pid), cgroups)
        assert len(followed) == 1, followed
        c.close()
        wait_for(idle, 10, "an idle loop without cgroup and journal fds")


def armed_timers(pid):
    """(clockid, interval in ms) of every armed timerfd the loop waits on."""
    out = []
    for fd in loop_fds(pid):
        if fd_kind(pid, fd) != "anon_inode:[timerfd]":
            continue
        info = fdinfo(pid, fd)
        value = [int(x) for x in re.search(r"it_value: \((\d+), (\d+)\)", info).groups()]
        every = [int(x) for x in re.search(r"it_interval: \((\d+), (\d+)\)", info).groups()]
        if any(value) or any(every):
            clock = int(re.search(r"clockid: (\d+)", info).group(1))
            out.append((clock, every[0] * 1000 + every[1] // 1000000))
    return sorted(out)


@pytest.mark.parametrize("interval", [1000, 250])
def test_idle_loop_has_the_tick_alone(start_daemon, interval):
    """With nobody watching, the tick is the only timer of the loop: the
    housekeeping (keepalives, stalled streams, deadlines, the heap) rides
    on it, about once a second, instead of a second wake-up of its own."""
    d = start_daemon(interval=interval)
    d.wait_healthz(lambda h: h["tick_age_ms"] is not None, 10, "a tick")
    # the first tick and the listening line come before the loop's fds
    # are made (a loaded machine listed them before the signalfd was there)
    want = [(0, interval)]
    wait_for(lambda: loop_timers(d.pid) == want, 10, "the tick as the loop's one timer")
    assert armed_timers(d.pid) == want  # CLOCK_REALTIME, the tick's period


def test_slow_ticks_keep_a_housekeeping_timer(start_daemon):
    """At an interval above a second the housekeeping keeps its own timer
    of one second (keepalives and stalled streams need it)."""
    d = start_daemon(interval=5000)
    want = [(0, 5000), (1, 1000)]
    # the listening line comes before the loop's fds are made (a slow start
    # under ASan listed them before the signalfd was there)
    wait_for(lambda: loop_timers(d.pid) == want, 10, "the loop's timers")
    assert armed_timers(d.pid) == want


def loop_timers(pid):
    """armed_timers(pid), or None while the loop is being set up."""
    try:
        return armed_timers(pid)
    except AssertionError:
        return None


def test_idle_senders_thread_sleeps_until_woken(start_daemon):
    """The alert senders thread with nothing to deliver waits for a job
    with no timeout (it woke every second to find nothing)."""
    d = start_daemon(interval=1000)
    d.wait_healthz(lambda h: h["tick_age_ms"] is not None, 10, "a tick")
    waits = []
    for tid in os.listdir("/proc/%d/task" % d.pid):
        try:
            with open("/proc/%d/task/%s/syscall" % (d.pid, tid)) as f:
                words = f.read().split()
        except OSError:
            continue
        if words and words[0] == "7":  # poll(fds, nfds, timeout): the senders' alone
            waits.append(int(words[3], 16))
    assert len(waits) == 1, waits
    assert waits[0] > 24 * 3600 * 1000, "poll timeout %d ms" % waits[0]
