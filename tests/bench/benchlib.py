"""Helpers shared by tests/bench/abuse and tests/bench/soak: the daemon as a
child (through tests/integration/sysfeed_harness.py), what /proc says about
it, /healthz and /metrics, knobs from the environment, and cleanup of every
child process even on Ctrl-C or SIGTERM. Python 3 standard library only."""

import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import sysfeed_harness as harness  # noqa: E402
from sysfeed_harness import (Daemon, DaemonError, ProtocolError, SSEClient, Timeout,  # noqa: E402,F401
                             http_request)

PROG = os.path.basename(sys.argv[0])
_children = []  # Popen or Daemon objects to stop at exit
bad_exits = []  # how each daemon that did not exit 0 on SIGTERM ended


class BenchError(Exception):
    """A failure that ends the run with a one-line message."""


def die(msg, status=2):
    print("%s: %s" % (PROG, msg), file=sys.stderr, flush=True)
    sys.exit(status)


def note(msg):
    """Progress, on stderr."""
    print("%s: %s" % (PROG, msg), file=sys.stderr, flush=True)


def knob(name, default, cast=int):
    """The environment variable `name`, or default."""
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        return cast(v)
    except ValueError:
        die("%s=%r is not a %s" % (name, v, cast.__name__))


def paths():
    """(daemon binary, bench helper directory) from SYSFEED_BIN, SYSFEED_BENCH."""
    binary = os.path.abspath(os.environ.get("SYSFEED_BIN", "build/sysfeed"))
    bench = os.path.abspath(os.environ.get("SYSFEED_BENCH", "build/bench"))
    if not os.access(binary, os.X_OK):
        die("no daemon at %s (run make tests, or set SYSFEED_BIN)" % binary)
    return binary, bench


def helper(bench, name):
    path = os.path.join(bench, name)
    if not os.access(path, os.X_OK):
        die("no %s at %s (run make tests, or set SYSFEED_BENCH)" % (name, path))
    return path


def _on_term(signo, frame):
    raise KeyboardInterrupt


def install_cleanup():
    """SIGTERM and SIGHUP end the run like Ctrl-C: through the finally blocks
    and stop_children()."""
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)


def spawn(cmd, **kw):
    """Popen that stop_children() ends."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)
    _children.append(p)
    return p


def terminate(p, timeout=10):
    """SIGTERM to a Popen, SIGKILL if it still runs timeout seconds later."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def reap(p, timeout=10):
    """Stops one child started by spawn()."""
    terminate(p, timeout)
    if p in _children:
        _children.remove(p)


def stop_children():
    for c in list(reversed(_children)):
        try:
            if isinstance(c, Daemon):
                stop_daemon(c)
            else:
                reap(c, 5)
        except Exception as e:  # cleanup goes on whatever one child did
            note("cleanup: %s" % e)
    del _children[:]


def pad_journal(bench, tag):
    """Writes 200 short journal entries: the journal's tail, which a daemon
    starts with as its log backlog, is then the same whatever ran before.
    A journald that takes no entry (its socket refuses) is said once and
    the run goes on: the daemon still reads the journal's files."""
    p = subprocess.run([helper(bench, "journal_send"), "-n", "200", "MESSAGE=%s pad {i}" % tag,
                        "PRIORITY=6", "SYSLOG_IDENTIFIER=%s" % tag],
                       stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
    if p.returncode != 0:
        if not getattr(pad_journal, "said", False):
            note("journal not padded (%s): the daemons start with its tail as it is"
                 % (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1])
        pad_journal.said = True


def raise_nofile(n):
    """Soft (and, as root, hard) RLIMIT_NOFILE to at least n: the daemon and
    the helpers inherit it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= n:
        return soft
    if hard != resource.RLIM_INFINITY and hard < n:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
            return n
        except (ValueError, OSError):
            n = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
    return n


def exit_text(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit status %d" % rc


def start_daemon(binary, tmpdir, config=None):
    """A started Daemon on 127.0.0.1:<ephemeral>; a daemon that does not get
    to its listening line ends the run with one line."""
    d = Daemon(binary, tmpdir, config=config, start_timeout=20)
    _children.append(d)
    try:
        d.start()
    except (DaemonError, Timeout, OSError):
        rc = d.proc.poll() if d.proc else None
        last = [line for line in (d.stderr_lines if d.proc else []) if line.strip()]
        stop_daemon(d)
        die("the daemon did not start (%s)%s" % (exit_text(rc), ": " + last[-1] if last else ""))
    return d


def stop_daemon(d):
    """SIGTERM, then SIGKILL after 10 s -> its exit status (anything but 0 is
    also added to bad_exits)."""
    if d in _children:
        _children.remove(d)
    if d.proc is None:
        return None
    d.expected_exit = True
    terminate(d.proc)
    d._err.join(5)
    d._out.join(5)
    if d.proc.returncode != 0:
        bad_exits.append(exit_text(d.proc.returncode))
    return d.proc.returncode


def check_alive(d, during):
    """Raises BenchError naming how the daemon ended if it is gone."""
    rc = d.proc.poll()
    if rc is not None:
        d.expected_exit = True
        last = [line for line in d.stderr_lines if line.strip()][-3:]
        raise BenchError("the daemon died during %s (%s)%s" % (
            during, exit_text(rc), "; its last lines: " + " | ".join(last) if last else ""))


def proc_status(pid):
    """/proc/PID/status as {field: first value as int (kB for Vm*)}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            parts = v.split()
            if parts and parts[0].isdigit():
                out[k] = int(parts[0])
    return out


def rss_kb(d):
    try:
        return proc_status(d.pid)["VmRSS"]
    except (OSError, KeyError):
        check_alive(d, "a measurement")
        raise


def hwm_kb(d):
    return proc_status(d.pid)["VmHWM"]


def reset_hwm(d):
    """Sets VmHWM back to the current RSS (/proc/PID/clear_refs, 5) -> whether
    it could."""
    try:
        with open("/proc/%d/clear_refs" % d.pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid):
    """utime + stime of PID: fields 14 and 15 of /proc/PID/stat, counted after
    the ')' that ends the command name."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def mib(kb):
    return kb / 1024.0


def healthz(d, timeout=5):
    """/healthz as a dict, or None when it does not answer 200 in time."""
    try:
        r = http_request(d.port, "GET", "/healthz", timeout=timeout)
        if r.status == 200:
            return r.json
    except (Timeout, ProtocolError, OSError, ValueError):
        pass
    return None


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def metrics(d, timeout=5):
    """/metrics as {family: sum of its samples, 'family{labels}': that sample},
    or {} when it does not answer."""
    try:
        r = http_request(d.port, "GET", "/metrics", timeout=timeout)
    except (Timeout, ProtocolError, OSError):
        return {}
    out = {}
    if r.status != 200:
        return out
    for line in r.text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            try:
                v = float(m.group(3))
            except ValueError:
                continue
            out[m.group(1)] = out.get(m.group(1), 0.0) + v
            if m.group(2):
                out[m.group(1) + m.group(2)] = v
    return out


def topics_up(d):
    """The topics /metrics reports up (sysfeed_topic_up 1), in its order."""
    try:
        r = http_request(d.port, "GET", "/metrics", timeout=5)
    except (Timeout, ProtocolError, OSError):
        return []
    return re.findall(r'^sysfeed_topic_up\{topic="([a-z_]+)"\} 1$', r.text, re.M)


def wait_for(cond, timeout, step=0.1):
    """Polls cond() until true or timeout -> its last value."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


def median(values):
    v = sorted(values)
    n = len(v)
    if not n:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


# --------------------------------------------------------------------------
# CPU of a process: every thread, and its child processes'.
# --------------------------------------------------------------------------

def _child_pids(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(rest[1]) == pid:
            out.append(int(d))
    return out


def task_ns(pid):
    """{(pid, tid): ns on a CPU} for every thread of pid and of its children."""
    out = {}
    for p in [pid] + _child_pids(pid):
        try:
            tids = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for t in tids:
            try:
                with open("/proc/%d/task/%s/schedstat" % (p, t)) as f:
                    out[(p, t)] = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return out


class CpuWindow:
    """CPU % of one core used by a process tree from now until percent()."""

    def __init__(self, pid):
        self.pid = pid
        self.a = task_ns(pid)
        self.t = time.monotonic_ns()

    def percent(self):
        b = task_ns(self.pid)
        dt = time.monotonic_ns() - self.t
        ran = sum(v - self.a.get(k, 0) for k, v in b.items())
        return ran / dt * 100.0 if dt > 0 else 0.0

    def cpu_ns(self):
        b = task_ns(self.pid)
        return sum(v - self.a.get(k, 0) for k, v in b.items())


def count_pids():
    return sum(1 for d in os.listdir("/proc") if d.isdigit())
