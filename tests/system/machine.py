"""A Debian 12 root made with debootstrap and booted with systemd-nspawn.

The pristine root is built once into SYSTEM_CACHE/bookworm and reused; each
run copies it to SYSTEM_CACHE/work and boots the copy, so the cache never
sees a test. The mirror is read from this machine's apt sources at run time.
Every command is bounded in time; the container is stopped on any failure.
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import time

SUITE = "bookworm"
# systemd as PID 1 with dbus; curl and setpriv (util-linux) drive the checks.
INCLUDE = ["systemd", "systemd-sysv", "dbus", "curl"]
MACHINE = "sysfeed-systest"


def log(msg):
    print(f"[system] {msg}", flush=True)


def run(cmd, timeout=60, check=True, **kw):
    """Runs cmd (a list), returns the CompletedProcess with text output."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}")
    return r


def wait_for(what, fn, timeout, step=0.5):
    """Polls fn until it returns a true value; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def apt_mirror(suite=SUITE):
    """The first URI of this machine's apt sources that serves `suite`
    (deb822 *.sources and one-line *.list files)."""
    found = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            for stanza in re.split(r"\n\s*\n", f.read()):
                fields = {}
                for line in stanza.splitlines():
                    m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                    if m and not line.startswith("#"):
                        fields[m.group(1).lower()] = m.group(2).split()
                if fields.get("enabled", ["yes"])[0].lower() == "no":
                    continue
                if "deb" in fields.get("types", []) and suite in fields.get("suites", []):
                    found += fields.get("uris", [])
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(line) >= 3 and line[0] == "deb" and line[2] == suite:
                    found.append(line[1])
    if not found:
        raise AssertionError(f"no apt source for {suite} in /etc/apt: cannot debootstrap")
    return found[0]


def deb_depends(deb):
    """Package names in the .deb's Depends (alternatives: the first)."""
    dep = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    return [re.split(r"[\s(]", d.split("|")[0].strip())[0] for d in dep.split(",") if d.strip()]


def base_root(cache, extra):
    """The pristine root, built once: debootstrap, then one boot so that
    first-boot work (machine-id, presets) is not mistaken for the package's."""
    base = os.path.join(cache, SUITE)
    if os.path.exists(os.path.join(base, ".sysfeed-complete")):
        return base
    tmp = base + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(cache, exist_ok=True)
    mirror = apt_mirror()
    log(f"debootstrap --variant=minbase {SUITE} (mirror from /etc/apt) into {tmp}")
    t0 = time.monotonic()
    run(["debootstrap", "--variant=minbase", "--include=" + ",".join(INCLUDE + extra),
         SUITE, tmp, mirror], timeout=900)
    log(f"debootstrap took {time.monotonic() - t0:.0f}s")
    # The container reaches no network: no apt timers, nothing to download.
    for unit in ["apt-daily.timer", "apt-daily-upgrade.timer"]:
        run(["chroot", tmp, "systemctl", "mask", unit])
    c = Container(tmp)
    c.boot()
    c.poweroff()
    open(os.path.join(tmp, ".sysfeed-complete"), "w").close()
    os.rename(tmp, base)
    return base


def work_root(cache, base, name="work"):
    """A copy of the pristine root to boot, CACHE/NAME (replaced if there)."""
    work = os.path.join(cache, name)
    shutil.rmtree(work, ignore_errors=True)
    run(["cp", "-a", "--reflink=auto", base, work], timeout=300)
    return work


def stale_nspawn(root):
    """Pids of systemd-nspawn processes left on root by an earlier run."""
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"systemd-nspawn") and root.encode() in argv:
            pids.append(int(d[6:]))
    return pids


# The hierarchies a container's cgroups go in: systemd's own (name=systemd
# on a v1 or hybrid host), the unified one of a hybrid host, or the v2 root.
CGROUP_MOUNTS = ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
CGROUP_PREFIX = "sysfeed-systest."


def cgroup_roots():
    """The mount points of CGROUP_MOUNTS that are cgroup file systems (the v2
    root only when it is the whole tree)."""
    with open("/proc/self/mountinfo") as f:
        mounts = {line.split(" - ")[0].split()[4]: line.split(" - ")[1].split()[0]
                  for line in f}
    roots = [m for m in CGROUP_MOUNTS[:2] if mounts.get(m) in ("cgroup", "cgroup2")]
    if not roots and mounts.get(CGROUP_MOUNTS[2]) == "cgroup2":
        roots = [CGROUP_MOUNTS[2]]
    return roots


def cgroup_remove(path, timeout=15):
    """Kills what is left in the cgroup tree at path and removes it, bottom up."""
    deadline = time.monotonic() + timeout
    while os.path.isdir(path) and time.monotonic() < deadline:
        for d, _, _ in os.walk(path, topdown=False):
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                os.rmdir(d)
            except OSError:
                pass
        if os.path.isdir(path):
            time.sleep(0.1)
    if os.path.isdir(path):
        log(f"cgroup {path} still there after {timeout}s")


class Container:
    """systemd-nspawn -b on root: systemd is PID 1. The container has its own
    network namespace with only loopback (so its port 8390 never meets the
    host's), and commands run inside through nsenter into PID 1's namespaces.

    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 gives it the cgroup v2 tree a Debian 12
    host has, and --system-call-filter=bpf lets its systemd load the BPF
    programs behind IPAddressDeny= and DevicePolicy= (nspawn's default seccomp
    filter refuses bpf(), which would leave them silently unenforced)."""

    def __init__(self, root, logpath=None):
        self.root = os.path.abspath(root)
        self.logpath = logpath or self.root.rstrip("/") + ".console.log"
        self.proc = None
        self.leader = None
        self.cgroups = []

    def boot(self, timeout=90):
        for pid in stale_nspawn(self.root):
            log(f"stopping a systemd-nspawn (pid {pid}) left by an earlier run")
            os.kill(pid, signal.SIGKILL)
        # A cgroup of its own in each hierarchy, made before nspawn starts and
        # removed after: nspawn --keep-unit on a host without systemd puts the
        # container's payload/ and supervisor/ below the caller's cgroup, so
        # without this every container of a run (and of earlier runs) shared
        # the hierarchy's root and a container's systemd met the cgroups the
        # one before left (it spun and systemctl timed out).
        for r in cgroup_roots():
            for old in glob.glob(os.path.join(r, CGROUP_PREFIX + "*")):
                if not os.path.exists(f"/proc/{old.rsplit('.', 2)[1]}"):
                    cgroup_remove(old)
        self.cgroups = [os.path.join(r, f"{CGROUP_PREFIX}{os.getpid()}.{id(self)}")
                        for r in cgroup_roots()]
        for cg in self.cgroups:
            os.makedirs(cg, exist_ok=True)

        def enter():
            for cg in self.cgroups:
                with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))

        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        cmd = ["systemd-nspawn", "--boot", "--directory", self.root, "--machine", MACHINE,
               "--register=no", "--keep-unit", "--private-network", "--console=read-only",
               "--system-call-filter=bpf"]
        self.console = open(self.logpath, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.console,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                     preexec_fn=enter)
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"systemd-nspawn exited {self.proc.returncode}:\n"
                                     + self.console_text())
            if self.leader is None:
                self.leader = self._find_leader()
            if self.leader is not None:
                r = self.sh("systemctl is-system-running", check=False, timeout=10)
                state = r.stdout.strip()
                if state in ("running", "degraded"):
                    break
            time.sleep(0.5)
        else:
            self.kill()
            raise AssertionError(f"the container did not boot in {timeout}s (state "
                                 f"'{state}'):\n" + self.console_text())
        if state == "degraded":
            failed = self.sh("systemctl --failed --no-legend", check=False).stdout
            log(f"container degraded; failed units:\n{failed}")
        log(f"booted {self.root} (PID 1 is host pid {self.leader}, state {state})")

    def _find_leader(self):
        """The container's PID 1: the child of systemd-nspawn that runs systemd."""
        for d in glob.glob("/proc/[0-9]*"):
            try:
                with open(d + "/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold blanks, so split after ')'
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid == self.proc.pid and comm == "systemd":
                return int(d[6:])
        return None

    def console_text(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def sh(self, script, timeout=60, check=True):
        """Runs a shell script inside the container as root; one that runs
        out of time fails with what the container's processes were doing."""
        assert self.leader, "container not booted"
        try:
            return run(["nsenter", "-t", str(self.leader), "-a", "--", "/bin/sh", "-c", script],
                       timeout=timeout, check=check)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{script!r} in the container ran over {timeout}s\n"
                                 + self.diagnosis()) from None

    def diagnosis(self):
        """What each process of the container is doing (host pid, state,
        CPU ticks over half a second, kernel wait channel, command line),
        the host's load, and the console's tail: for a command that hung."""
        def procs():
            out = {}
            for d in glob.glob("/proc/[0-9]*"):
                try:
                    with open(d + "/stat") as f:
                        stat = f.read()
                    if os.readlink(d + "/ns/pid") != pidns:
                        continue
                    with open(d + "/wchan") as f:
                        wchan = f.read()
                    with open(d + "/cmdline", "rb") as f:
                        cmd = f.read(200).replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                f = stat[stat.rindex(")") + 2:].split()
                out[int(d[6:])] = (f[0], int(f[11]) + int(f[12]), wchan, cmd.strip())
            return out

        try:
            pidns = os.readlink(f"/proc/{self.leader}/ns/pid")
        except OSError as e:
            return f"the container's PID 1 is gone ({e})\n" + self.console_text()
        before = procs()
        time.sleep(0.5)
        after = procs()
        lines = [f"{pid} {st} +{t - before.get(pid, (0, t))[1]} ticks {wchan or '-'}: {cmd}"
                 for pid, (st, t, wchan, cmd) in sorted(after.items())]
        with open("/proc/loadavg") as f:
            load = f.read().strip()
        return ("--- the container's processes (host pid, state, CPU ticks in 0.5 s, wait "
                "channel, command)\n" + "\n".join(lines) + f"\n--- host load {load}\n"
                "--- console\n" + self.console_text())

    def popen(self, script):
        """Starts a shell script inside the container as root without waiting
        for it: stdout is a pipe. It runs in a session of its own, so that
        stop() reaches the processes nsenter forked into the container too
        (nsenter forwards no signal); the script must bound its own run time."""
        assert self.leader, "container not booted"
        return subprocess.Popen(["nsenter", "-t", str(self.leader), "-a", "--", "/bin/sh", "-c",
                                 script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)

    @staticmethod
    def stop(proc, timeout=10):
        """Ends a process of popen() and everything of its session."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()

    def poweroff(self, timeout=60):
        if not self.proc or self.proc.poll() is not None:
            return
        if self.leader:
            self.sh("systemctl poweroff --no-block", check=False, timeout=10)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log("container did not power off in time; killing systemd-nspawn")
            self.kill()
        self.console.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # nspawn stops the container on SIGTERM
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        # a SIGKILLed nspawn leaves the container's init running: end it too,
        # so that no container outlives its test and slows the next one
        if self.leader:
            try:
                os.kill(self.leader, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for cg in self.cgroups:
            cgroup_remove(cg)


def exposure(container, unit="sysfeed.service"):
    """The overall exposure level `systemd-analyze security` gives unit in
    the booted container, and the analysis text."""
    out = container.sh(f"systemd-analyze security --no-pager {unit}").stdout
    m = re.search(rf"Overall exposure level for {re.escape(unit)}: ([\d.]+)", out)
    assert m, out
    return float(m.group(1)), out


def chroot(root, script, timeout=300):
    """Runs a shell script in root with chroot (the container not booted)."""
    return run(["chroot", root, "/bin/sh", "-c", script], timeout=timeout,
               env=dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8"))


def file_list(root):
    """Every path under root (one file system), relative, with its type."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            kind = "l" if os.path.islink(p) else ("d" if os.path.isdir(p) else "f")
            out.add(("/" + os.path.normpath(os.path.join(rel, name)), kind))
    return out
