"""Alerts with the real daemon (docs/alerts.md): local webhook and ntfy-like
receivers (http.server on ephemeral ports) that answer, answer 500, or
never answer; a command that writes its environment; the entries read back
from the real journald with journalctl; a bad rule; reloads; --test-alert;
the Prometheus rules under promtool."""

import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid

import pytest

from conftest_events import journal_send, journald  # noqa: F401  (fixtures)
from sysfeed_harness import deadline_after, get_json, http_request, remaining

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Receiver:
    """An HTTP server on 127.0.0.1:0 keeping every POST; `mode` says how
    it answers: "ok" (200), "500", "never" (holds the request until
    closed), or a list of those, one per request, the last repeating."""

    def __init__(self, mode="ok"):
        self.requests = []
        self.modes = mode if isinstance(mode, list) else [mode]
        self.cond = threading.Condition()
        self.release = threading.Event()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with rec.cond:
                    n = len(rec.requests)
                    rec.requests.append((self.path, dict(self.headers), body, time.monotonic()))
                    rec.cond.notify_all()
                mode = rec.modes[min(n, len(rec.modes) - 1)]
                if mode == "never":
                    rec.release.wait(60)
                    return
                self.send_response(500 if mode == "500" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, pred, timeout=15, what="a request"):
        deadline = deadline_after(timeout)
        with self.cond:
            while True:
                found = [r for r in self.requests if pred(r)]
                if found:
                    return found
                left = remaining(deadline)
                if left <= 0:
                    raise AssertionError("no %s in %r" % (what, self.requests))
                self.cond.wait(left)

    def json_where(self, name, state, timeout=15):
        def pred(r):
            try:
                j = json.loads(r[2])
            except ValueError:
                return False
            return j.get("name") == name and j.get("state") == state
        return [json.loads(r[2]) for r in self.wait(pred, timeout, "%s %s" % (name, state))]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(mode="ok"):
        r = Receiver(mode)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def metric(d, name, **labels):
    r = http_request(d.port, "GET", "/metrics")
    for line in r.text.splitlines():
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        if m and m.group(1) == name and all(
                '%s="%s"' % kv in (m.group(2) or "") for kv in labels.items()):
            return float(m.group(3))
    return None


def wait_for(cond, timeout, what):
    deadline = deadline_after(timeout)
    while not cond():
        if remaining(deadline) <= 0:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def journal_entries(name, since_cursor_token):
    out = subprocess.run(["journalctl", "-o", "json", "--no-pager", "SYSFEED_ALERT=" + name],
                         capture_output=True, text=True, timeout=30)
    return [json.loads(l) for l in out.stdout.splitlines()
            if since_cursor_token in l]


def maps_libcurl(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libcurl" in f.read()


def test_libcurl_not_mapped_without_a_delivery(start_daemon, receivers):
    """A daemon with no webhook, or one that has sent nothing yet, does not
    map libcurl and the libraries it pulls in (about 5 MB resident)."""
    d = start_daemon()
    wait_for(lambda: metric(d, "sysfeed_ticks_total") >= 2, 10, "two ticks")
    assert not maps_libcurl(d.pid)
    hook = receivers()
    d2 = start_daemon(config="alert-stock = 0\nalert-webhook = %s\n" % hook.url)
    wait_for(lambda: metric(d2, "sysfeed_ticks_total") >= 2, 10, "two ticks")
    assert not maps_libcurl(d2.pid)


def test_issue_rules_reach_every_receiver_with_context(start_daemon, receivers, journal_send,
                                                       journald, tmp_path):
    hook, ntfy = receivers(), receivers()
    tok = "BADTOKEN" + uuid.uuid4().hex[:8]
    script = tmp_path / "exec.sh"
    envfile = tmp_path / "env.out"
    script.write_text("#!/bin/sh\nenv | grep ^SYSFEED_ALERT_ | grep -v _JSON= >> %s\n" % envfile)
    script.chmod(0o755)
    name = "always" + uuid.uuid4().hex[:6]
    conf = ("alert-stock = 0\n"
            "alert = root-full: fs.filesystems[].used_percent > 90 for 5m clear 85 severity critical\n"
            "alert = mem-low: mem.available < 268435456 for 1m\n"
            "alert = app-errors: log priority <= err unit nginx.service\n"
            "alert = token-seen: log priority <= err match %s\n"
            "alert = passwd-changed: file path /etc/passwd\n"
            "alert = %s: mem.used > 0\n"
            "alert-webhook = %s\nalert-ntfy = %s\nalert-exec = %s\n"
            % (tok, name, hook.url, ntfy.url, script))
    d = start_daemon(config=conf)
    fired = hook.json_where(name, "firing")[0]
    # libcurl is loaded for the first delivery (daemon/curl_dl.c)
    assert maps_libcurl(d.pid)
    for k in ("name", "state", "severity", "value", "t", "host", "context"):
        assert k in fired, k
    assert fired["severity"] == "warning" and fired["value"] > 0 and fired["threshold"] == 0
    assert fired["host"] == os.uname().nodename
    assert len(fired["context"]["top_cpu"]) <= 3 and len(fired["context"]["top_mem"]) == 3
    assert {"pid", "comm", "rss_bytes"} <= set(fired["context"]["top_mem"][0])
    # ntfy: text body, title and priority headers
    n = ntfy.wait(lambda r: name.encode() in r[2])[0]
    assert n[1]["Title"].endswith("%s firing" % name) and n[1]["Priority"] == "high"
    assert n[2].decode().startswith("%s firing: mem.used > 0" % name)
    assert "Top memory: " in n[2].decode()
    # the command, given the alert in its environment
    wait_for(lambda: envfile.exists() and ("SYSFEED_ALERT_NAME=%s" % name) in envfile.read_text(),
             15, "the command's environment")
    env = envfile.read_text()
    assert "SYSFEED_ALERT_STATE=firing" in env and "SYSFEED_ALERT_SEVERITY=warning" in env
    # the journal: one structured entry, read back from journald
    wait_for(lambda: journal_entries(name, "SYSFEED"), 15, "the journal entry")
    e = journal_entries(name, "SYSFEED")[-1]
    assert e["SYSFEED_ALERT_STATE"] == "firing" and e["PRIORITY"] == "4"
    assert e["SYSLOG_IDENTIFIER"] == "sysfeed-alert" and float(e["SYSFEED_ALERT_VALUE"]) > 0
    # an event rule: a journal line, with the unit's last lines as context
    journal_send("MESSAGE=x %s y" % tok, "PRIORITY=3", "SYSLOG_IDENTIFIER=alerttest")
    ev = hook.json_where("token-seen", "firing")[0]
    assert ev["instance"] == "alerttest" and tok in ev["message"]
    assert any(tok in l for l in ev["context"]["journal"])
    # /metrics
    assert metric(d, "sysfeed_alert_firing", rule=name) == 1
    assert metric(d, "sysfeed_alert_firing", rule="root-full") == 0
    wait_for(lambda: metric(d, "sysfeed_alert_notifications_total", sender="webhook") >= 2, 10,
             "the webhook counter")
    # /events: the topic, and the firing alerts in snapshot
    c = d.sse("/events?topics=alert")
    hello, snap = c.wait_hello_snapshot()
    active = snap.json["topics"]["alert"]["active"]
    assert any(a["name"] == name and a["state"] == "firing" for a in active)


def test_a_dead_or_failing_webhook_delays_no_other(start_daemon, receivers):
    good, bad, dead = receivers(), receivers("500"), receivers("never")
    name = "al" + uuid.uuid4().hex[:6]
    d = start_daemon(config="alert-stock = 0\nalert = %s: mem.used > 0\n"
                     "alert-webhook = %s\nalert-webhook = %s\nalert-webhook = %s\n"
                     "alert-retries = 1\nalert-timeout-ms = 1500\n"
                     % (name, dead.url, bad.url, good.url))
    t_good = good.json_where(name, "firing") and good.requests[0][3]
    # the 500 is tried again, once, about a second later
    tries = bad.wait(lambda r: True, 15)
    wait_for(lambda: len(bad.requests) == 2, 15, "the retry")
    assert bad.requests[1][3] - bad.requests[0][3] >= 0.9
    # the dead one times out: two attempts, then counted as failed
    wait_for(lambda: metric(d, "sysfeed_alert_notifications_failed_total", sender="webhook") == 2,
             20, "both failures counted")
    assert len(dead.requests) == 2 and t_good < dead.requests[0][3] + 1.4
    assert metric(d, "sysfeed_alert_notifications_total", sender="webhook") == 1


def test_shutdown_gives_deliveries_a_grace_and_says_what_it_dropped(start_daemon, receivers):
    """At SIGTERM a retry due within the grace (ALERT_SEND_GRACE_MS, 2 s) is
    still made; a receiver that never answers is dropped after it, and one
    journal entry names it."""
    flaky, dead = receivers(["500", "ok"]), receivers("never")
    name = "gr" + uuid.uuid4().hex[:6]
    d = start_daemon(config="alert-stock = 0\nalert = %s: mem.used > 0\n"
                     "alert-webhook = %s\nalert-webhook = %s\n"
                     "alert-retries = 1\nalert-timeout-ms = 60000\n"
                     % (name, flaky.url, dead.url))
    flaky.json_where(name, "firing")
    dead.json_where(name, "firing")
    rc = d.stop(timeout=15)[0]
    assert rc == 0
    # the retry, a second after the 500, came during the grace
    assert len(flaky.requests) == 2, flaky.requests
    want = "webhook %s (%s firing)" % (dead.url, name)

    def entries():
        out = subprocess.run(["journalctl", "-o", "json", "--no-pager",
                              "SYSLOG_IDENTIFIER=sysfeed-alert", "SYSFEED_ALERT_DROPPED=1"],
                             capture_output=True, text=True, timeout=30)
        return [json.loads(l) for l in out.stdout.splitlines() if want in l]

    wait_for(entries, 15, "the journal entry about the dropped delivery")
    e = entries()[-1]
    assert e["PRIORITY"] == "4" and "1 alert delivery dropped after 2000 ms" in e["MESSAGE"]


# Runs in a private mount namespace, then becomes the daemon ("$@"): a tmpfs
# filled to 94 %, one with 93 % of its inodes used, and a writable one.
FS_SCRIPT = r"""
set -e
mount -t tmpfs -o size=1m sf-full "$SF_DIR/full"
dd if=/dev/zero of="$SF_DIR/full/blob" bs=1k count=960 2>/dev/null
mount -t tmpfs -o size=1m,nr_inodes=30 sf-inodes "$SF_DIR/inodes"
i=0
while [ $i -lt 27 ]; do : >"$SF_DIR/inodes/f$i"; i=$((i + 1)); done
mount -t tmpfs -o size=1m sf-ro "$SF_DIR/ro"
exec "$@"
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"),
                    reason="needs root, unshare and nsenter (a private mount namespace)")
def test_stock_fs_rules_on_real_mounts(start_daemon, receivers, tmp_path):
    """fs-full, fs-inodes-full and, after a remount, fs-read-only fire on
    real tmpfs mounts that only the daemon's mount namespace sees; the
    mounts that are fine do not."""
    for sub in ("full", "inodes", "ro"):
        (tmp_path / sub).mkdir()
    hook = receivers()
    wrapper = ["unshare", "-m", "--propagation", "private", "sh", "-c", FS_SCRIPT, "sh"]
    d = start_daemon(config="alert-webhook = %s\n" % hook.url, wrapper=wrapper,
                     env=dict(os.environ, SF_DIR=str(tmp_path)))
    full = hook.json_where("fs-full", "firing")
    assert [a["instance"] for a in full] == [str(tmp_path / "full")]
    assert full[0]["value"] >= 90 and full[0]["severity"] == "critical"
    inodes = hook.json_where("fs-inodes-full", "firing")
    assert [a["instance"] for a in inodes] == [str(tmp_path / "inodes")]
    # writable until now: a remount read-only fires (an edge rule)
    subprocess.run(["nsenter", "-t", str(d.pid), "-m", "mount", "-o", "remount,ro",
                    str(tmp_path / "ro")], check=True, timeout=30)
    ro = hook.json_where("fs-read-only", "firing")
    assert [a["instance"] for a in ro] == [str(tmp_path / "ro")]
    assert not [r for r in hook.requests if str(tmp_path / "ro").encode() in r[2]
                and b'"fs-full"' in r[2]]


def test_stock_journal_rules_oom_kill_and_crit(start_daemon, receivers, journal_send, journald):
    """oom-kill fires on the kernel's OOM-killer line (its text as
    mm/oom_kill.c prints it, at err, SYSLOG_IDENTIFIER=kernel) and
    journal-crit on an entry at crit; each notification names its source."""
    hook = receivers()
    d = start_daemon(config="alert-webhook = %s\n" % hook.url)
    comm = "sf" + uuid.uuid4().hex[:10]
    oom = ("Out of memory: Killed process 4242 (%s) total-vm:1048576kB, anon-rss:524288kB, "
           "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1100kB oom_score_adj:0" % comm)
    journal_send("MESSAGE=" + oom, "PRIORITY=3", "SYSLOG_IDENTIFIER=kernel")
    fired = [a for a in hook.json_where("oom-kill", "firing") if comm in a["message"]]
    assert fired and fired[0]["instance"] == "kernel" and fired[0]["severity"] == "critical"
    assert any(comm in l for l in fired[0]["context"]["journal"])
    ident = "crit" + uuid.uuid4().hex[:8]
    journal_send("MESSAGE=the array is degraded", "PRIORITY=2", "SYSLOG_IDENTIFIER=" + ident)

    def crit():
        got = [a for a in hook.json_where("journal-crit", "firing") if a["instance"] == ident]
        return got or None

    wait_for(crit, 15, "journal-crit for " + ident)
    assert crit()[0]["severity"] == "critical"
    # the OOM line is at err: not journal-crit
    assert not [a for a in hook.json_where("journal-crit", "firing", timeout=0)
                if comm in a["message"]]


def test_log_rules_see_what_the_rate_limit_drops(start_daemon, receivers, journal_send, journald):
    """log-rate = 1: an info entry takes the second's one place, so the err
    entries right behind it are left out of the stream, yet every one
    reaches the rules that look at err (an OOM kill amid a flood), stock
    journal-crit too; the stream counts them as dropped."""
    hook = receivers()
    ident = "rl" + uuid.uuid4().hex[:10]
    d = start_daemon(config="log-rate = 1\nlog-units = %s\nalert-webhook = %s\n"
                            "alert = rl-err: log priority <= err\n" % (ident, hook.url))
    c = d.sse("/events?topics=log")
    c.wait_hello_snapshot()
    journal_send("MESSAGE=first", "PRIORITY=6", "SYSLOG_IDENTIFIER=" + ident)
    journal_send("MESSAGE=bad {i}", "PRIORITY=3", "SYSLOG_IDENTIFIER=" + ident, n=5)
    journal_send("MESSAGE=worse", "PRIORITY=2", "SYSLOG_IDENTIFIER=" + ident)

    def counted():
        snap = get_json(d.port, "/api/snapshot")["topics"]["alert"]["active"]
        return [a for a in snap if a["name"] == "rl-err" and a["instance"] == ident]

    wait_for(lambda: counted() and counted()[0]["count"] >= 6, 15, "6 entries counted by rl-err")
    assert counted()[0]["count"] == 6
    fired = hook.json_where("rl-err", "firing")
    assert fired[0]["instance"] == ident
    crit = [a for a in hook.json_where("journal-crit", "firing") if a["instance"] == ident]
    assert crit and "worse" in crit[0]["message"], crit

    def stream():
        got = [e for e in c.events if e.type == "log"]
        return (sum(len(e.json["entries"]) for e in got), sum(e.json["dropped"] for e in got))

    c.wait_until(lambda: sum(stream()) == 7, 15, "7 entries published or counted as dropped")
    published, dropped = stream()
    assert dropped >= 1, "nothing was dropped: the test did not reach the rate limit"
    print("log-rate 1: %d published, %d dropped; rl-err counted 6" % (published, dropped))


FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def write_smart(path, when, sdb_realloc=1872, nvme_media=0, nvme_crit=0):
    """nas's sysfeed-smart file with its time, sdb's reallocated sectors
    (attribute 5 raw) and nvme0's media errors and critical warning set,
    renamed into place as sysfeed-smart does."""
    with open(os.path.join(FIXTURES, "nas", "smart", "smart.json")) as f:
        smart = json.load(f)
    smart["time"] = when
    for dev in smart["devices"]:
        if dev["device"]["name"] == "/dev/sdb":
            for attr in dev["ata_smart_attributes"]["table"]:
                if attr["id"] == 5:
                    attr["raw"]["value"] = sdb_realloc
        if dev["device"]["name"] == "/dev/nvme0":
            dev["nvme_smart_health_information_log"]["media_errors"] = nvme_media
            dev["nvme_smart_health_information_log"]["critical_warning"] = nvme_crit
    with open(str(path) + ".tmp", "w") as f:
        json.dump(smart, f)
    os.rename(str(path) + ".tmp", str(path))


def test_stock_health_and_gpu_rules_on_fixture_trees(start_daemon, receivers, tmp_path):
    """The stock rules of disk health and GPUs on the nas and workstation
    fixture trees (one sys tree holding both): md-degraded for md1 only,
    smart-failed for sdb only (sdc, which smartctl could not open, has no
    verdict), gpu-slowdown for the amdgpu card at its crit mark; then
    sysfeed-smart's next runs: the same numbers fire nothing, sdb's
    reallocated sectors growing fire smart-reallocated (sda's steady ones
    do not), nvme0's media errors and critical warning fire theirs."""
    proc, sysd = tmp_path / "proc", tmp_path / "sys"
    shutil.copytree(os.path.join(FIXTURES, "nas", "proc"), proc)
    shutil.copytree(os.path.join(FIXTURES, "nas", "sys"), sysd, symlinks=True)
    shutil.copytree(os.path.join(FIXTURES, "workstation", "sys"), sysd, symlinks=True,
                    dirs_exist_ok=True)
    temp = sysd / "class" / "drm" / "card0" / "device" / "hwmon" / "hwmon4" / "temp1_input"
    temp.write_text("100000\n")
    smart = tmp_path / "smart.json"
    write_smart(smart, 1700000000)
    hook = receivers()
    d = start_daemon(config="alert-webhook = %s\nsmart-file = %s\nnvml-library = %s\n"
                     % (hook.url, smart, tmp_path / "no-nvml.so"),
                     args=["--proc-root", str(proc), "--sys-root", str(sysd)])

    def fired(name):
        return sorted(a["instance"] for a in hook.json_where(name, "firing"))

    def read_smart(when):
        wait_for(lambda: get_json(d.port, "/api/snapshot")["topics"]["health"]["smart"]
                 .get("updated_ms") == when * 1000, 15, "the SMART file of %d read" % when)

    assert fired("md-degraded") == ["md1"]
    assert fired("smart-failed") == ["sdb"]
    slow = hook.json_where("gpu-slowdown", "firing")
    assert [a["instance"] for a in slow] == ["card0"]
    assert slow[0]["value"] == 100 and slow[0]["threshold"] == 100
    # the helper's next run, the same numbers: no rise
    write_smart(smart, 1700003600)
    read_smart(1700003600)
    # and the one after: sdb reallocated 8 more sectors; nvme0 media errors, a warning
    write_smart(smart, 1700007200, sdb_realloc=1880, nvme_media=2, nvme_crit=4)
    grew = hook.json_where("smart-reallocated", "firing")
    assert [(a["instance"], a["value"], a["threshold"]) for a in grew] == [("sdb", 1880, 1872)]
    assert "rose from 1872" in grew[0]["message"] and grew[0]["severity"] == "warning"
    media = hook.json_where("smart-media-errors", "firing")
    assert [(a["instance"], a["value"], a["threshold"]) for a in media] == [("nvme0", 2, 0)]
    assert media[0]["severity"] == "critical"
    crit = hook.json_where("nvme-critical-warning", "firing")
    assert [(a["instance"], a["value"]) for a in crit] == [("nvme0", 4)]
    # the card cools below its mark less 5: resolved
    temp.write_text("94000\n")
    hook.json_where("gpu-slowdown", "resolved")
    read_smart(1700007200)
    for name in ("md-degraded", "smart-failed", "smart-reallocated", "smart-media-errors",
                 "nvme-critical-warning", "gpu-slowdown"):
        assert len(hook.json_where(name, "firing", timeout=0)) == 1, name


def test_bad_rule_exits_2_with_file_and_line(sysfeed_bin, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("interval = 500\n\nalert = x: mem.used > 0 fore 5m\n")
    r = subprocess.run([sysfeed_bin, "--config", str(conf), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "%s:3: alert x: unexpected 'fore'" % conf in r.stderr
    # a field the topic's field tables do not know
    conf.write_text("alert = x: mem.usd > 0\n")
    r = subprocess.run([sysfeed_bin, "--config", str(conf), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "%s:1: alert x: 'mem.usd': mem payloads have no field 'usd'" % conf in r.stderr


def test_hello_lists_alert_and_rules_that_never_fire(start_daemon):
    """`alert` is in hello.topics; a field missing from its topic's payloads
    (a topic without field tables: known at its first payload) is a warning
    on stderr, in hello.alert_errors and in /metrics."""
    d = start_daemon(config="alert-stock = 0\nalert = bad-cpu: cpu.totl.steal > 1\n"
                     "alert = good: cpu.total.steal > 1000\n")
    why = "alert bad-cpu: no field 'cpu.totl.steal' in the cpu payloads: it never fires"
    d.wait_stderr(re.escape(why), 10)
    seen = []

    def hello_says():
        c = d.sse("/events?topics=alert")
        seen[:] = c.wait_hello_snapshot()
        c.close()
        return "alert_errors" in seen[0].json  # hello is set just after the log line

    wait_for(hello_says, 10, "hello.alert_errors")
    hello, snap = seen
    assert "alert" in hello.json["topics"] and "alert" in snap.json["topics"]
    assert hello.json["alert_errors"] == {"bad-cpu": why}
    assert metric(d, "sysfeed_alert_rule_invalid", rule="bad-cpu") == 1
    assert metric(d, "sysfeed_alert_rule_invalid", rule="good") == 0


def test_reload_keeps_rules_on_error_and_resolves_removed(start_daemon, receivers):
    hook = receivers()
    a, b = "ra" + uuid.uuid4().hex[:6], "rb" + uuid.uuid4().hex[:6]
    base = "alert-stock = 0\nalert-webhook = %s\n" % hook.url
    d = start_daemon(config=base + "alert = %s: mem.used > 0\nalert = %s: mem.used > 0\n" % (a, b))
    hook.json_where(a, "firing")
    hook.json_where(b, "firing")
    # a bad file: the error, and both rules keep running
    d.write_config(base + "alert = %s: mem.used >\n" % a)
    mark = len(d.stderr_lines)
    d.signal(signal.SIGHUP)
    d.wait_stderr(re.escape(d.config_path) + r":3: alert %s: " % a, 10, start=mark)
    assert metric(d, "sysfeed_alert_firing", rule=b) == 1
    # b removed: its alert resolves; a keeps firing without a new notification
    d.write_config(base + "alert = %s: mem.used > 0\n" % a)
    d.signal(signal.SIGHUP)
    res = hook.json_where(b, "resolved")[0]
    assert "rule removed or changed" in res["message"]
    wait_for(lambda: metric(d, "sysfeed_alert_firing", rule=b) is None, 10, "b gone from /metrics")
    assert len([r for r in hook.requests if a.encode() in r[2]]) == 1


def test_test_alert_says_what_each_answered(sysfeed_bin, receivers, tmp_path):
    ok, bad = receivers(), receivers("500")
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(0o755)
    conf = tmp_path / "t.conf"
    conf.write_text("alert-webhook = %s\nalert-ntfy = %s\nalert-exec = %s\n"
                    % (ok.url, bad.url, script))
    r = subprocess.run([sysfeed_bin, "--config", str(conf), "--test-alert"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "webhook %s: ok (HTTP 200)" % ok.url in r.stdout
    assert "ntfy %s: FAILED (HTTP 500)" % bad.url in r.stdout
    assert "exec %s: FAILED (exit 3)" % script in r.stdout
    assert "journal journal: ok (written)" in r.stdout
    assert json.loads(ok.requests[0][2])["name"] == "sysfeed-test"
    assert len(bad.requests) == 1  # one attempt, no retries


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool (Debian prometheus) missing")
def test_prometheus_rules_check_and_unit_tests():
    d = os.path.join(ROOT, "packaging", "prometheus")
    r = subprocess.run(["promtool", "check", "rules", "sysfeed-rules.yml"], cwd=d,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS: 5 rules found" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(["promtool", "test", "rules", "sysfeed-rules.test.yml"], cwd=d,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr
