"""GET /metrics against the tools of the Prometheus project: promtool's
checker on the exposition, a real Prometheus server scraping the daemon on
loopback and answering PromQL, and label values that a host can make hostile
(a process name with a quote and a newline, a mount point with a space).

Needs /usr/bin/promtool and /usr/bin/prometheus (Debian package `prometheus`).
The hostile-label test needs root (it mounts a tmpfs)."""

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from sysfeed_harness import (QUIET_JOURNAL, SANITIZE, Daemon, SSEClient, Timeout, deadline_after,
                             http_request, pump_many, remaining, stop_process, wait_for)

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

# Lines of `promtool check metrics` output tolerated. Empty: promtool must
# print nothing and exit 0 (docs/metrics.md, "Choices": memory is exported
# as sysfeed_memory_*, not node_exporter's camelCase node_memory_* names, so
# nothing needs tolerating). Put exact lines here if a deliberate exception
# comes back.
ACCEPTED_LINT = set()

# Candidate names of the memory total family, first present wins.
MEM_TOTAL_NAMES = ("sysfeed_memory_total_bytes", "node_memory_MemTotal_bytes")


def need(path):
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("%s not found: apt-get install prometheus" % path)


# --------------------------------------------------------------------------
# A small parser of the text format (0.0.4), strict about escapes.
# --------------------------------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(r"^(%s)(\{.*\})? (\S+)( -?\d+)?$" % NAME)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], v)


def parse_labels(text):
    """'{a="x",b="y"}' -> {a: x, b: y}; AssertionError on anything malformed."""
    assert text.startswith("{") and text.endswith("}"), text
    body, pos, out = text[1:-1], 0, {}
    while pos < len(body):
        m = LABEL_RE.match(body, pos)
        assert m, "bad label set at %r in %r" % (body[pos:], text)
        assert m.group(1) not in out, "label %s twice in %r" % (m.group(1), text)
        out[m.group(1)] = unescape(m.group(2))
        pos = m.end()
    return out


def parse_exposition(text, openmetrics=False):
    """-> (families {name: {"help":..., "type":...}}, samples [(name, labels, value)])."""
    families, samples = {}, []
    lines = text.split("\n")
    assert lines[-1] == "", "exposition does not end with a newline"
    lines = lines[:-1]
    if openmetrics:
        assert lines and lines[-1] == "# EOF", "OpenMetrics text does not end with '# EOF': %r" % lines[-3:]
        lines = lines[:-1]
    for line in lines:
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, parts = line[2:6].lower(), line[7:].split(" ", 1)
            families.setdefault(parts[0], {})[kind] = parts[1] if len(parts) > 1 else ""
            continue
        assert not line.startswith("#"), "unexpected comment line %r" % line
        m = SAMPLE_RE.match(line)
        assert m, "malformed sample line %r" % line
        labels = parse_labels(m.group(2)) if m.group(2) else {}
        float(m.group(3))
        samples.append((m.group(1), labels, m.group(3)))
    return families, samples


def family_of(sample_name, families):
    if sample_name in families:
        return sample_name
    for suffix in ("_total", "_created", "_bucket", "_sum", "_count", "_info"):
        if sample_name.endswith(suffix) and sample_name[: -len(suffix)] in families:
            return sample_name[: -len(suffix)]
    return None


def promtool_check(text):
    """Runs `promtool check metrics` on text -> (status, output lines that are not accepted)."""
    need(PROMTOOL)
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True,
                       timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace").splitlines()
    unexpected = [l for l in out if l.strip() and l.strip() not in ACCEPTED_LINT]
    return p.returncode, out, unexpected


def assert_promtool_clean(text):
    rc, out, unexpected = promtool_check(text)
    assert not unexpected, "promtool check metrics said:\n" + "\n".join(out)
    # promtool exits 3 for lint problems only; with only the accepted lint
    # lines present that is the expected status, otherwise 0.
    expected_rc = 3 if any(l.strip() in ACCEPTED_LINT for l in out) else 0
    assert rc == expected_rc, "promtool exited %d:\n%s" % (rc, "\n".join(out))


def get_metrics(port, headers=()):
    r = http_request(port, "GET", "/metrics", headers=headers, timeout=10)
    assert r.status == 200, r
    return r


def meminfo_kb(key):
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k == key:
                return int(v.split()[0])
    raise AssertionError("%s not in /proc/meminfo" % key)


def ncpu_proc_stat():
    with open("/proc/stat") as f:
        return sum(1 for l in f if re.match(r"cpu\d+ ", l))


def df_size(path):
    out = subprocess.run(["df", "-B1", "--output=size", path], check=True, capture_output=True,
                         text=True, timeout=30).stdout.split()
    return int(out[-1])


# --------------------------------------------------------------------------
# 1. The exposition itself.
# --------------------------------------------------------------------------


def test_promtool_check_metrics_plain(start_daemon):
    d = start_daemon(interval=200)
    r = get_metrics(d.port)
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r.header("Content-Type")
    assert_promtool_clean(r.text)


def test_every_family_has_help_and_type(start_daemon):
    d = start_daemon(interval=200)
    text = get_metrics(d.port).text
    families, samples = parse_exposition(text)
    assert samples, "no samples"
    for name, f in families.items():
        assert "help" in f and f["help"].strip(), "family %s has no HELP" % name
        assert f.get("type") in ("counter", "gauge", "untyped", "summary", "histogram"), \
            "family %s: TYPE %r" % (name, f.get("type"))
    for name, labels, _ in samples:
        assert family_of(name, families), "sample %s%r without HELP/TYPE" % (name, labels)
    # one series per label set
    keys = [(n, tuple(sorted(l.items()))) for n, l, _ in samples]
    assert len(keys) == len(set(keys)), "duplicate series"


def test_heap_bytes(start_daemon):
    """malloc's heap, for memory work (tests/bench/soak prints it): what is
    allocated is some of the resident set, the free part is not negative."""
    d = start_daemon(interval=200)
    d.wait_healthz(lambda h: h.get("events", 0) > 0, 10, "a tick published")
    _, samples = parse_exposition(get_metrics(d.port).text)
    heap = {l["state"]: float(v) for n, l, v in samples if n == "sysfeed_heap_bytes"}
    assert set(heap) == {"in_use", "free"}
    assert heap["free"] >= 0
    if SANITIZE:  # ASan's allocator replaces malloc: glibc's mallinfo2 says 0
        return
    assert 100 * 1024 < heap["in_use"] < d.rss_kb() * 1024, (heap, d.rss_kb())


def test_written_on_demand(start_daemon):
    """The ticks write no metrics text (a sixth of an idle tick's
    instructions went into it): each scrape has it written from the latest
    tick."""
    def scrape():
        _, samples = parse_exposition(get_metrics(d.port).text)
        return {n: float(v) for n, l, v in samples if not l}

    d = start_daemon(interval=100)
    d.wait_healthz(lambda h: h["uptime"] >= 1.0, 10, "ten intervals")
    first = scrape()
    assert first["sysfeed_ticks_total"] >= 5, first["sysfeed_ticks_total"]
    assert first["sysfeed_metrics_writes_total"] == 1, first["sysfeed_metrics_writes_total"]
    up = d.healthz()["uptime"]
    d.wait_healthz(lambda h: h["uptime"] >= up + 1.0, 10, "ten more intervals")
    second = scrape()
    assert second["sysfeed_ticks_total"] - first["sysfeed_ticks_total"] >= 3, (first, second)
    assert second["sysfeed_metrics_writes_total"] == 2, second["sysfeed_metrics_writes_total"]


def test_openmetrics_form(start_daemon):
    d = start_daemon(interval=200)
    r = get_metrics(d.port, headers=[("Accept", "application/openmetrics-text; version=1.0.0")])
    ct = r.header("Content-Type")
    assert ct.startswith("application/openmetrics-text"), ct
    assert r.text.endswith("# EOF\n"), r.text[-40:]
    om_fams, om_samples = parse_exposition(r.text, openmetrics=True)
    plain_fams, _ = parse_exposition(get_metrics(d.port).text)
    # OpenMetrics names a counter family without its _total (the samples keep
    # it) and calls untyped "unknown"; otherwise the same families and types.
    expected = {}
    for name, f in plain_fams.items():
        if f["type"] == "counter" and name.endswith("_total"):
            name = name[: -len("_total")]
        expected[name] = "unknown" if f["type"] == "untyped" else f["type"]
    assert {n: f.get("type") for n, f in om_fams.items()} == expected
    for name, f in om_fams.items():
        assert "help" in f and "type" in f, name
        if f["type"] == "counter":
            # OpenMetrics: counter samples are <family>_total
            for n, _, _ in om_samples:
                if family_of(n, om_fams) == name:
                    assert n in (name + "_total", name + "_created"), (name, n)


def test_gzip_same_families(start_daemon):
    d = start_daemon(interval=200)
    z = get_metrics(d.port, headers=[("Accept-Encoding", "gzip")])
    assert (z.header("Content-Encoding") or "").lower() == "gzip", z.headers
    text = gzip.decompress(z.body).decode()
    plain = get_metrics(d.port).text
    zf, zs = parse_exposition(text)
    pf, ps = parse_exposition(plain)
    assert zf == pf  # same names, HELP and TYPE
    # the same series (values may move between the two requests)
    assert {(n, tuple(sorted(l.items()))) for n, l, _ in zs} == \
           {(n, tuple(sorted(l.items()))) for n, l, _ in ps}
    assert_promtool_clean(text)


# --------------------------------------------------------------------------
# 2. A real Prometheus scraping the daemon.
# --------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, workdir, target_port):
        need(PROMETHEUS)
        self.workdir = workdir
        self.target_port = target_port
        self.proc = None
        self.log = os.path.join(workdir, "prometheus.log")

    def start(self, timeout=60):
        config = os.path.join(self.workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(
                "global:\n"
                # 1 s: several scrapes land in a few seconds, so rate() over a
                # 5 s window has 4-5 points and the test stays short.
                "  scrape_interval: 1s\n"
                # 1 s: may not exceed the interval; a loopback scrape of a few
                # KB of pre-rendered text takes milliseconds.
                "  scrape_timeout: 1s\n"
                "  evaluation_interval: 1s\n"
                "scrape_configs:\n"
                "  - job_name: sysfeed\n"
                "    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % self.target_port
            )
        # Prometheus has no telemetry or update check to turn off; it talks
        # only to its scrape targets (loopback here). No remote_write, no
        # alertmanagers, no service discovery beyond the static target.
        for _ in range(5):  # the free port may be taken between probe and bind
            self.port = free_port()
            cmd = [
                PROMETHEUS,
                "--config.file=" + config,
                "--storage.tsdb.path=" + os.path.join(self.workdir, "tsdb"),
                "--web.listen-address=127.0.0.1:%d" % self.port,
                "--storage.tsdb.retention.time=1h",
                "--log.level=info",
            ]
            self.logf = open(self.log, "ab")
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
            deadline = deadline_after(timeout)
            while True:
                if self.proc.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port,
                                                timeout=2) as r:
                        if r.status == 200:
                            return self
                except OSError:
                    pass
                if remaining(deadline) <= 0:
                    self.stop()
                    raise Timeout("prometheus not ready within %ds; log:\n%s" % (timeout, self.tail()))
                time.sleep(0.1)  # poll interval for /-/ready, not a stand-in for it
            self.logf.close()
            if "address already in use" not in self.tail():
                raise AssertionError("prometheus exited with %s; log:\n%s"
                                     % (self.proc.returncode, self.tail()))
        raise AssertionError("prometheus could not bind a port; log:\n" + self.tail())

    def tail(self, n=40):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        stop_process(self.proc, 15)
        self.logf.close()

    def query(self, expr):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, expr):
        """The single value of an instant vector query, or None when it is empty."""
        res = self.query(expr)
        assert len(res) <= 1, "%s: %d series: %r" % (expr, len(res), res)
        return float(res[0]["value"][1]) if res else None

    def wait_for(self, expr, pred, timeout, what):
        deadline = deadline_after(timeout)
        last = None
        while True:
            last = self.value(expr)
            if last is not None and pred(last):
                return last
            if remaining(deadline) <= 0:
                raise Timeout("timed out waiting for %s (%s); last value %r; prometheus log:\n%s"
                              % (what, expr, last, self.tail(15)))
            time.sleep(0.25)  # poll interval of the query API (scrapes come every 1 s)


@pytest.fixture(scope="module")
def scraped(sysfeed_bin, tmp_path_factory):
    """(daemon, prometheus) with at least 6 scrapes of the daemon stored."""
    tmp = tmp_path_factory.mktemp("prom")
    d = Daemon(sysfeed_bin, tmp, interval=200)
    prom = None
    try:
        d.start()
        prom = Prometheus(str(tmp), d.port).start()
        prom.wait_for('up{job="sysfeed"}', lambda v: v == 1, 30, "the first successful scrape")
        # a 5 s rate window wants at least 5 points inside it
        prom.wait_for('count_over_time(up{job="sysfeed"}[6s])', lambda v: v >= 6, 30,
                      "six scrapes")
        yield d, prom
    finally:
        if prom is not None:
            prom.stop()
        problems = d.finish()
    assert not problems, "\n".join(problems)


def test_prometheus_up(scraped):
    d, prom = scraped
    assert prom.value('up{job="sysfeed"}') == 1
    # Prometheus' own view of the scrape: no samples dropped or out of order
    assert prom.value('scrape_samples_scraped{job="sysfeed"}') > 0
    targets = json.load(urllib.request.urlopen(
        "http://127.0.0.1:%d/api/v1/targets" % prom.port, timeout=5))
    active = targets["data"]["activeTargets"]
    assert [t["health"] for t in active] == ["up"], active
    assert all(not t["lastError"] for t in active), active


def test_prometheus_cpu_rate(scraped):
    d, prom = scraped
    n = ncpu_proc_stat()
    assert prom.value("count(count by (cpu) (node_cpu_seconds_total))") == n
    v = prom.value("sum(rate(node_cpu_seconds_total[5s]))")
    assert v is not None, "sum(rate(node_cpu_seconds_total[5s])) is empty"
    assert abs(v - n) <= 0.3 * n, "CPU seconds per second %.3f, expected %d +- %.1f" % (v, n, 0.3 * n)


def test_prometheus_mem_total(scraped):
    d, prom = scraped
    families, _ = parse_exposition(get_metrics(d.port).text)
    names = [n for n in MEM_TOTAL_NAMES if n in families]
    assert names, "none of %s in /metrics" % (MEM_TOTAL_NAMES,)
    v = prom.value(names[0])
    assert v == meminfo_kb("MemTotal") * 1024, (names[0], v)


def test_prometheus_root_filesystem_size(scraped):
    d, prom = scraped
    families, _ = parse_exposition(get_metrics(d.port).text)
    assert "node_filesystem_size_bytes" in families, \
        "node_filesystem_size_bytes is not in /metrics (fs topic not exported yet)"
    v = prom.value('node_filesystem_size_bytes{mountpoint="/"}')
    assert v == df_size("/"), v


# --------------------------------------------------------------------------
# 3. Hostile label values.
# --------------------------------------------------------------------------

HOSTILE_COMM = 'a"b\nc'
CHILD = r"""
import sys
with open('/proc/self/comm', 'w') as f:
    f.write(%r)
buf = b'\x5a' * (300 << 20)   # written, so resident
sys.stdout.write('ready\n'); sys.stdout.flush()
sys.stdin.read()              # until the test closes our stdin
""" % HOSTILE_COMM


def series(samples, name, **match):
    return [l for n, l, _ in samples if n == name and all(l.get(k) == v for k, v in match.items())]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_hostile_label_values(start_daemon):
    d = start_daemon(interval=200)
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    base = tempfile.mkdtemp(prefix="sysfeed-metrics-")
    mnt = os.path.join(base, "mnt with space")
    mounted = False
    try:
        assert child.stdout.readline() == b"ready\n"
        with open("/proc/%d/comm" % child.pid) as f:
            assert f.read() == HOSTILE_COMM + "\n"
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "sysfeedtest", mnt],
                       check=True, timeout=30)
        mounted = True

        # Both show up within a few ticks; each round is one scrape.
        deadline = deadline_after(15)
        while True:
            text = get_metrics(d.port).text
            families, samples = parse_exposition(text)
            procs = series(samples, "sysfeed_top_process_resident_memory_bytes", pid=str(child.pid))
            mounts = series(samples, "node_filesystem_size_bytes", mountpoint=mnt)
            if procs and mounts:
                break
            if remaining(deadline) <= 0:
                missing = [f for f in ("sysfeed_top_process_resident_memory_bytes",
                                       "node_filesystem_size_bytes") if f not in families]
                raise Timeout("within 15s /metrics had: process %d: %r, mount %r: %r; "
                              "families missing altogether: %s"
                              % (child.pid, procs, mnt, mounts, missing))
            time.sleep(0.2)  # one tick between scrapes

        # the parsed (unescaped) values are the host's own strings
        assert procs[0]["comm"] == HOSTILE_COMM, procs
        assert mounts[0]["fstype"] == "tmpfs", mounts
        assert mounts[0]["device"] == "sysfeedtest", mounts
        # and on the wire they are escaped as the text format says: \" and \n
        assert 'comm="a\\"b\\nc"' in text
        assert 'mountpoint="%s"' % mnt in text
        # no line of the exposition was split by the newline
        for line in text.splitlines():
            assert line.startswith("#") or SAMPLE_RE.match(line), line
        assert_promtool_clean(text)

        om = get_metrics(d.port, headers=[("Accept", "application/openmetrics-text")]).text
        _, om_samples = parse_exposition(om, openmetrics=True)
        assert 'comm="a\\"b\\nc"' in om
        assert series(om_samples, "node_filesystem_size_bytes", mountpoint=mnt)
    finally:
        if mounted:
            subprocess.run(["umount", mnt], timeout=30)
        if os.path.isdir(mnt):
            os.rmdir(mnt)
        os.rmdir(base)
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def test_heap_trimmed_after_growth_only(start_daemon):
    """The free heap goes back to the system when the daemon's memory grew
    (here: snapshots for many topic masks), not every second: trimming at
    each housekeeping gave back the pages every tick uses again, which the
    next tick faulted in (~50 page faults and 6 madvise calls a second)."""
    def scrape():
        _, samples = parse_exposition(get_metrics(d.port).text)
        return {n: float(v) for n, l, v in samples if not l}

    if SANITIZE:
        pytest.skip("ASan's allocator replaces malloc: no malloc_trim")
    # a small ring, full at once: the daemon's memory stops growing early
    d = start_daemon(interval=100, config=QUIET_JOURNAL + "ring-bytes = 64K\n")
    d.wait_healthz(lambda h: h["uptime"] >= 4.0, 15, "four housekeepings")
    m0 = scrape()
    assert "sysfeed_heap_trims_total" in m0
    up0 = d.healthz()["uptime"]
    # ten housekeepings of an idle daemon: its ticks' churn is not trimmed
    d.wait_healthz(lambda h: h["uptime"] >= up0 + 10.0, 30, "ten more housekeepings")
    m1 = scrape()
    assert m1["sysfeed_heap_trims_total"] - m0["sysfeed_heap_trims_total"] <= 1, (m0, m1)
    # a burst: a snapshot for each of 60 topic masks, then the clients go
    names = ["cpu", "mem", "load", "net", "disk", "proc", "psi", "fs", "host", "svc"]
    masks = [",".join(names[i:i + 3] + names[:j]) for i in range(len(names)) for j in range(6)][:60]
    clients = [SSEClient(d.port, "/events?topics=" + m, keep_body=1 << 20) for m in masks]
    try:
        pump_many(clients, lambda: all(any(e.type == "snapshot" for e in c.events) for c in clients),
                  30, "every client's snapshot")
    finally:
        for c in clients:
            c.close()
    wait_for(lambda: scrape()["sysfeed_heap_trims_total"] > m1["sysfeed_heap_trims_total"], 15,
             "a trim after the burst")
