"""What may wake a daemon nobody watches: the tick. Cgroups made and
removed (every unit, scope and session on a busy host), the journal's
writes and the housekeeping wait for the tick while no stream client or
alert rule needs them sooner; with a client on `containers` and `log`, their
fds are watched again. Read from the kernel's own account of the loop's
epoll sets and timers (/proc/PID/fdinfo), not from timings."""

import os
import re
import shutil
import signal
import subprocess
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


TICK_POLL = re.compile(r"poll\(\[.*\], \d+, 0\) = ")


def loop_trace(pid, path, ticks):
    """The loop thread's system calls (strace -y: fds with their paths)
    over at least `ticks` ticks, as lines; None when strace cannot attach
    here. A tick is told by its one poll() of the watched files and fds,
    with a timeout of 0."""
    p = subprocess.Popen(["strace", "-qq", "-y", "-o", path, "-p", str(pid)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)

    def lines():
        try:
            with open(path) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def polls():
        if p.poll() is not None:
            return True
        return sum(1 for line in lines() if TICK_POLL.match(line)) >= ticks + 1

    try:
        wait_for(polls, 30, "%d ticks under strace" % ticks)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=30)[1].decode(errors="replace")
    if p.returncode not in (0, -signal.SIGINT) and not lines():
        return None  # no ptrace here (a container without CAP_SYS_PTRACE)
    assert lines(), err
    out = lines()
    first = next(i for i, line in enumerate(out) if TICK_POLL.match(line))
    return out[first:]


def test_idle_tick_looks_only_at_what_is_ready(start_daemon, tmp_path):
    """An idle tick makes no system call that finds nothing: the fds the
    collectors drain themselves (the link messages' socket, the journal's
    sources, the pidfds' epoll set, the cgroups' inotify) join the tick's one
    poll(), and each is looked at only when that found it readable (each
    look cost a recv, read or epoll_wait a tick, mostly answering EAGAIN or
    0); uptime comes from the clock, not from /proc/uptime, and the
    collectors that read /proc/loadavg (load, proc) share one read a tick;
    /etc/passwd is looked at when inotify says its directory changed.
    Counted from the loop thread's own calls under strace."""
    if not shutil.which("strace"):
        pytest.skip("no strace")
    d = start_daemon(interval=200)
    d.wait_healthz(lambda h: h["tick_age_ms"] is not None, 10, "a tick")
    out = loop_trace(d.pid, str(tmp_path / "strace.txt"), 10)
    if out is None:
        pytest.skip("strace cannot attach here")
    ticks = sum(1 for line in out if TICK_POLL.match(line))
    empty = [line for line in out
             if re.match(r"(read|recvfrom|recvmsg|recv)\(.* = -1 EAGAIN", line)
             or re.match(r"epoll_wait\(.*, 0\) = 0$", line)]
    # a look that found something ends with one that finds nothing (a
    # drain reads to EAGAIN): cgroups made by other work on this host may
    # come now and then, not at every tick
    assert len(empty) < ticks, "\n".join(empty[:20])
    assert not [line for line in out if "</proc/uptime>" in line]
    # load's payload and proc's last pid, from one read a tick (the trace
    # starts at a tick's poll: its last tick may be cut short)
    loadavg = [line for line in out if re.match(r"p?read(64)?\(\d+</proc/loadavg>", line)]
    assert ticks - 1 <= len(loadavg) <= ticks, "%d ticks:\n%s" % (ticks, "\n".join(loadavg))
    held = [fd for fd in os.listdir("/proc/%d/fd" % d.pid)
            if fd_kind(d.pid, fd) == "/proc/loadavg"]
    assert len(held) == 1, held
    # passwd (the rows' user names) is looked at when its directory's
    # inotify says something changed there, not stat'ed every tick
    passwd = [line for line in out if re.match(r'(newfstatat|statx|stat)\(.*"\.\./etc/passwd"', line)]
    assert len(passwd) < ticks // 2, "%d ticks:\n%s" % (ticks, "\n".join(passwd))
