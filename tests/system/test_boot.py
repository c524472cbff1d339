"""The .deb on a booted Debian 12: systemd is PID 1 in a systemd-nspawn
container, the package installed with apt-get, the service checked through
systemctl, curl and /proc inside the container.

The tests run in file order and share one container: install, boot, checks,
watchdog, socket activation, upgrade, purge. The container is stopped
whatever happens (module fixture).
"""
import glob
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import uuid

import pytest

import machine
from machine import Container, chroot, log, wait_for

CACHE = os.environ.get("SYSTEM_CACHE", "/var/cache/sysfeed-test")
DEB = os.environ.get("SYSFEED_DEB", "")
DEB_NEW = os.environ.get("SYSFEED_DEB_NEW", "")
URL = "http://127.0.0.1:8390"
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")

# Paths whose contents change by booting and by apt itself, whatever the
# package does: the purge comparison leaves them out (and nothing else).
VOLATILE = re.compile(r"^/(run|tmp|var/tmp|var/log|var/cache/(apt|debconf|ldconfig)"
                      r"|var/lib/apt|var/lib/dpkg/(status|available|lock|triggers|updates)"
                      r"|var/lib/systemd/(random-seed|timers|catalog)|var/lib/dbus)(/|-old$|$)")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap and nspawn need root")


class State:
    pass


@pytest.fixture(scope="module")
def box():
    if not (os.path.exists(DEB) and os.path.exists(DEB_NEW)):
        pytest.fail("SYSFEED_DEB and SYSFEED_DEB_NEW must name .debs: run `make check-system`")
    t0 = time.monotonic()
    base = machine.base_root(CACHE, machine.deb_depends(DEB))
    root = machine.work_root(CACHE, base)
    # Dependencies first (already in the cached root unless they changed), so
    # that the file list taken before the install is what purge must restore.
    deps = " ".join(machine.deb_depends(DEB))
    chroot(root, f"dpkg -s {deps} >/dev/null 2>&1 || apt-get install -y -q {deps}")
    st = State()
    st.root = root
    st.before = machine.file_list(root)
    for deb in (DEB, DEB_NEW):
        shutil.copy(deb, os.path.join(root, "root"))
    log("apt-get install ./" + os.path.basename(DEB) + " in the chroot")
    # without Recommends (smartmontools): purge must leave what was there
    chroot(root, "apt-get install -y -q --no-install-recommends /root/" + os.path.basename(DEB))
    st.c = Container(root)
    try:
        st.booted_ms = int(time.time() * 1000)
        st.c.boot()
        log(f"installed and booted in {time.monotonic() - t0:.0f}s")
        yield st
    finally:
        st.c.kill()


def sh(st, script, **kw):
    return st.c.sh(script, **kw).stdout


def show(st, prop):
    return sh(st, f"systemctl show sysfeed.service -p {prop} --value").strip()


def curl(st, path, url=URL):
    return sh(st, f"curl -sS -m 5 --fail-with-body '{url}{path}'")


def hello(st):
    """The first event of /events: who the daemon is and which topics are on."""
    out = sh(st, f"curl -sS -N -m 2 '{URL}/events' || true", timeout=15)
    for block in out.split("\n\n"):
        if "event: hello" in block:
            return json.loads(block.split("data: ", 1)[1])
    raise AssertionError(f"no hello event in:\n{out[:2000]}")


def main_pid(st):
    return int(show(st, "MainPID"))


class Stream:
    """An /events client inside the container (curl -N, bounded by
    --max-time), its frames parsed on the host as they arrive."""

    def __init__(self, st, path, max_time=90):
        self.path = path
        self.proc = st.c.popen(f"exec curl -sS -N --max-time {max_time} '{URL}{path}'")
        self.buf = b""
        self.events = []  # (event name, data as parsed JSON), in order

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        Container.stop(self.proc)

    def _read(self, timeout):
        """Parses what arrives within timeout seconds (at most one read)."""
        ready, _, _ = select.select([self.proc.stdout], [], [], max(timeout, 0))
        if not ready:
            return
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            self.proc.wait(timeout=10)
            raise AssertionError(f"{self.path}: the stream ended (curl exited "
                                 f"{self.proc.returncode}: {self.proc.stderr.read().decode()!r})")
        self.buf += chunk
        while b"\n\n" in self.buf:
            block, self.buf = self.buf.split(b"\n\n", 1)
            name, data = "message", None
            for line in block.decode().split("\n"):
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
            if data is not None:
                self.events.append((name, data))

    def wait(self, what, pred, timeout, start=0):
        """The first event from index start on for which pred(name, data) is
        true, reading the stream for at most timeout seconds."""
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.events):
                if pred(*self.events[i]):
                    return i, self.events[i][1]
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [(n, json.dumps(d)[:300]) for n, d in self.events[start:]][-10:]
                raise AssertionError(f"{self.path}: timed out after {timeout}s waiting for "
                                     f"{what}; last events: {seen}")
            self._read(left)


def test_service_is_active_after_the_notify_handshake(box):
    st = box
    wait_for("sysfeed active", lambda: sh(st, "systemctl is-active sysfeed", check=False).strip()
             == "active", 30)
    assert show(st, "Type") == "notify"
    # READY=1 carried a status line: systemd got the notification
    assert show(st, "StatusText").startswith("serving ")
    assert sh(st, "systemctl is-enabled sysfeed.service").strip() == "enabled"
    assert sh(st, "systemctl is-enabled sysfeed.socket", check=False).strip() == "disabled"
    out = sh(st, "systemd-analyze verify --man=no sysfeed.service sysfeed.socket 2>&1 || echo FAILED")
    assert "FAILED" not in out and out.strip() == "", out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_the_watchdog_pings_leave_pid1_idle(box):
    """WatchdogSec=10s: the daemon pings every 5 s, and systemd notes each
    ping. Two pings seen, PID 1 of the container then uses a small part
    of a core (a loop that left its ping timer unread sent 200,000 a second
    and kept PID 1 at a whole core: `systemctl` in the container stopped
    answering)."""
    st = box
    stamps = set()

    def two_pings():
        stamps.add(show(st, "WatchdogTimestampMonotonic"))
        return len(stamps - {"0", ""}) >= 2

    wait_for("two watchdog pings", two_pings, 30, step=1)
    hz = os.sysconf("SC_CLK_TCK")
    a, t0 = cpu_ticks(st.c.leader), time.monotonic()
    time.sleep(2)
    used = (cpu_ticks(st.c.leader) - a) / hz
    took = time.monotonic() - t0
    log(f"PID 1 of the container: {used:.2f} s of CPU in {took:.2f} s")
    assert used < 0.25 * took, (used, took)


def test_healthz_answers(box):
    h = json.loads(curl(box, "/healthz"))
    assert h["status"] == "ok"
    assert h["version"] == machine.run(["dpkg-deb", "-f", DEB, "Version"]).stdout.strip().rsplit(
        "-", 1)[0]
    assert json.loads(curl(box, "/healthz", "http://[::1]:8390"))["status"] == "ok"


def test_runs_as_the_sysfeed_system_user_not_root(box):
    """The static system user from sysusers.d (D-Bus resolves it; a dynamic
    user it cannot), with DynamicUser='s sandbox still on."""
    st = box
    pid = main_pid(st)
    status = sh(st, f"cat /proc/{pid}/status")
    uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
    gid = int(re.search(r"^Gid:\s+(\d+)", status, re.M).group(1))
    pw = sh(st, "getent passwd sysfeed").strip().split(":")
    gr = sh(st, "getent group sysfeed").strip().split(":")
    log(f"service runs as uid {uid} gid {gid}; passwd: {pw}")
    assert uid != 0 and gid != 0
    assert (int(pw[2]), int(pw[3]), int(gr[2])) == (uid, gid, gid), (pw, gr, uid, gid)
    assert 1 <= uid <= 999, f"uid {uid} is not in the system range"
    assert pw[5:] == ["/nonexistent", "/usr/sbin/nologin"], pw
    assert sh(st, "grep -c '^sysfeed:' /etc/passwd").strip() == "1"
    assert (show(st, "DynamicUser"), show(st, "User"), show(st, "Group")) == (
        "yes", "sysfeed", "sysfeed")
    assert re.search(r"^CapEff:\s+0+$", status, re.M) and re.search(r"^NoNewPrivs:\s+1$", status,
                                                                       re.M)
    assert re.search(r"^Seccomp:\s+2$", status, re.M)


def test_every_topic_is_on_under_the_sandbox(box):
    """The hardening leaves every collector working: hello.off is empty."""
    h = hello(box)
    log(f"topics on: {h['topics']}, off: {h['off']}")
    # The container sees the host's /sys: a host without any temperature
    # sensor (a VM) has nothing for `temp` to read, sandbox or not.
    off = dict(h["off"])
    if not (glob.glob("/sys/class/hwmon/*/temp*_input")
            or glob.glob("/sys/class/thermal/thermal_zone*")):
        assert off.pop("temp", "").startswith("no temperature sensors"), h["off"]
    # nor a GPU (no amdgpu, i915 or xe card; no NVML)
    if not any(os.path.basename(os.path.realpath(d + "/device/driver")) in ("amdgpu", "i915", "xe")
               for d in glob.glob("/sys/class/drm/card[0-9]*")):
        assert off.pop("gpu", "").startswith("no GPU"), h["off"]
    assert h["topics"] and off == {}


def test_the_service_user_reads_the_journal(box):
    """systemd-cat writes a line with a unique token; journalctl run with the
    service's own uid, groups and mount namespace finds it."""
    st = box
    token = "sysfeed-systest-" + uuid.uuid4().hex
    sh(st, f"echo {token} | systemd-cat -t sysfeed-systest -p notice")
    pid = main_pid(st)
    status = sh(st, f"cat /proc/{pid}/status")
    uid = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
    gid = re.search(r"^Gid:\s+(\d+)", status, re.M).group(1)
    groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
    journal_gid = sh(st, "getent group systemd-journal | cut -d: -f3").strip()
    assert journal_gid in groups, f"Groups {groups} lack systemd-journal ({journal_gid})"
    cmd = (f"nsenter -t {pid} -m -- setpriv --reuid={uid} --regid={gid} "
           f"--groups={','.join(groups)} journalctl -q --no-pager -t sysfeed-systest -o cat")
    wait_for("the token in the journal, as the service's user",
             lambda: token in sh(st, cmd, check=False), 10)


def test_a_journal_line_arrives_on_the_log_stream(box):
    """A line written with systemd-cat after the stream opened is a `log`
    event: its message, priority and identifier as written."""
    st = box
    token = "sysfeed-systest-log-" + uuid.uuid4().hex
    with Stream(st, "/events?topics=log") as s:
        # the snapshot comes once the client is registered: what follows is live
        start, _ = s.wait("the snapshot", lambda n, d: n == "snapshot", 15)
        t0 = time.monotonic()
        sh(st, f"echo 'hello {token}' | systemd-cat -t sysfeed-systest-log -p warning")
        _, ev = s.wait("the token in a log event",
                       lambda n, d: n == "log" and any(token in e["message"]
                                                       for e in d["entries"]), 15, start)
        log(f"journal line on the log stream after {time.monotonic() - t0:.2f}s")
    assert set(ev) >= {"t", "entries", "dropped"}, ev
    e = next(e for e in ev["entries"] if token in e["message"])
    assert set(e) >= {"ts", "priority", "priority_name", "unit", "identifier", "pid",
                      "transport", "message", "cursor"}, e
    assert e["message"] == f"hello {token}"
    assert (e["priority"], e["priority_name"]) == (4, "warning"), e
    assert e["identifier"] == "sysfeed-systest-log", e
    assert e["transport"] == "stdout", e  # systemd-cat writes through a stdout stream
    assert isinstance(e["pid"], int) and e["pid"] > 0, e
    # the cursor is the journal's own: journalctl finds the very entry by it
    found = sh(st, f"journalctl -q --no-pager -o cat --cursor '{e['cursor']}' | head -n 1").strip()
    assert found == f"hello {token}", found


def test_a_failed_unit_shows_in_the_units_topic(box):
    """A unit that fails shows in `units`: in the snapshot's failed list and
    counts, as a change in the stream; reset-failed takes it out again. The
    stock alert rule unit-failed fires for it (in the journal with
    SYSFEED_ALERT=unit-failed) and resolves after reset-failed."""
    st = box
    unit = "sysfeed-systest-fail.service"
    last = {}

    def snap_units():
        last["units"] = json.loads(curl(st, "/api/snapshot"))["topics"]["units"]
        return last["units"]

    def listed(units):
        return [f for f in units.get("failed", []) if f["unit"] == unit]

    def change(d):
        return [c for c in d.get("changes", []) if c["unit"] == unit]

    try:
        wait_for("the units topic connected, with counts",
                 lambda: (lambda u: u.get("connected") and "counts" in u)(snap_units()), 15)
    except AssertionError:
        raise AssertionError(f"the units topic has no data from systemd after 15 s: "
                             f"{last['units']}") from None
    before = last["units"]
    assert not listed(before), before
    try:
        with Stream(st, "/events?topics=units") as s:
            start, _ = s.wait("the snapshot", lambda n, d: n == "snapshot", 15)
            t0 = time.monotonic()
            sh(st, f"systemd-run -q --unit={unit} /bin/false")
            wait_for(f"{unit} in the snapshot's failed units",
                     lambda: listed(snap_units()), 15)
            log(f"{unit} failed in the snapshot after {time.monotonic() - t0:.2f}s")
            failed = last["units"]
            f = listed(failed)[0]
            assert f["result"] == "exit-code" and f["sub_state"] == "failed", f
            assert isinstance(f["since"], (int, float)) and f["since"] > 0, f
            assert failed["counts"]["failed"] >= 1, failed
            assert failed["counts"]["failed"] == len(failed["failed"]), failed
            _, ev = s.wait(f"a units event with {unit} failed in its changes",
                           lambda n, d: n == "units" and any(
                               c["active_state"] == "failed" for c in change(d)), 15, start)
            assert ev["counts"]["failed"] >= 1 and ev["changes_more"] == 0, ev
            s.wait(f"a units event listing {unit} failed with exit-code",
                   lambda n, d: n == "units" and [x["result"] for x in listed(d)] == [
                       "exit-code"], 15, start)
            alert = wait_for(f"unit-failed firing for {unit}",
                             lambda: unit_alert(st, unit), 15)
            assert alert["state"] == "firing" and alert["unit"] == unit, alert
            assert f"{unit} failed (exit-code)" in alert["message"], alert
            entry = wait_for(f"the journal entry of unit-failed for {unit}",
                             lambda: alert_entry(st, unit, "firing"), 15)
            assert entry["PRIORITY"] == "4" and entry["SYSLOG_IDENTIFIER"] == "sysfeed-alert"

            # the first units event about the unit after reset-failed (events
            # about other units that were on their way meanwhile do not count)
            mark = len(s.events)
            sh(st, f"systemctl reset-failed {unit}")
            _, ev = s.wait(f"a units event with {unit} in its changes after reset-failed",
                           lambda n, d: n == "units" and change(d), 15, mark)
            assert not listed(ev), ev
            assert [c["active_state"] for c in change(ev)] == ["inactive"], ev
            assert ev["counts"]["failed"] == failed["counts"]["failed"] - 1, (failed, ev)
        after = snap_units()
        assert not listed(after), after
        wait_for(f"unit-failed resolved for {unit}",
                 lambda: alert_entry(st, unit, "resolved"), 15)
        assert not unit_alert(st, unit)
        assert after["counts"]["failed"] == failed["counts"]["failed"] - 1, (failed, after)
    finally:
        sh(st, f"systemctl reset-failed {unit} 2>/dev/null; true")


def unit_alert(st, unit):
    """The active unit-failed alert of unit in the snapshot, or None."""
    active = json.loads(curl(st, "/api/snapshot"))["topics"]["alert"]["active"]
    return next((a for a in active if a["name"] == "unit-failed" and a["instance"] == unit), None)


def alert_entry(st, unit, state):
    """The journal entry of unit-failed for unit in state, or None."""
    out = sh(st, "journalctl -q --no-pager -o json SYSFEED_ALERT=unit-failed "
                 f"SYSFEED_ALERT_INSTANCE={unit} SYSFEED_ALERT_STATE={state}", check=False)
    return next((json.loads(l) for l in out.splitlines()[::-1] if l.strip()), None)


def test_exposure_is_2_or_lower(box):
    score, out = machine.exposure(box.c)
    print(f"\nsystemd-analyze security sysfeed.service: exposure {score}")
    log(f"exposure level {score}")
    assert score <= 2.0, out


def test_ip_firewall_is_enforced(box):
    """IPAddressDeny=any + IPAddressAllow=localhost is live in this systemd
    (BPF), so the unit's allow list is enforced, not just parsed."""
    st = box
    assert set(show(st, "IPAddressDeny").split()) == {"0.0.0.0/0", "::/0"}
    assert set(show(st, "IPAddressAllow").split()) == {"127.0.0.0/8", "::1/128"}
    probe = ("systemd-run --wait --pipe -q -p IPAddressDeny=any curl -sS -m 2 -o /dev/null "
             f"{URL}/healthz")
    assert st.c.sh(probe, check=False).returncode != 0, "BPF firewalling is not in effect"


WEBHOOK_ADDR = "192.0.2.10"  # TEST-NET-1, added to the container's own lo (not "localhost")
WEBHOOK_PORT = 8399

# An HTTP receiver run by the host's python in the container's network
# namespace: prints "POST <alert name>" for each request, answers 200.
RECEIVER = r"""
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        print("POST", json.loads(body).get("name"), flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), H)
s.timeout = 1
print("READY", flush=True)
import time
end = time.monotonic() + 300
while time.monotonic() < end:
    s.handle_request()
"""


def test_a_webhook_beyond_loopback_needs_the_drop_in(box):
    """The unit lets only loopback traffic out: a webhook to another address
    fails (the same address answers curl run outside the unit); with the
    drop-in of docs/alerts.md (IPAddressAllow=) it is delivered."""
    st = box
    name = "systest-" + uuid.uuid4().hex[:8]
    conf = "/etc/sysfeed/sysfeed.conf"
    dropin = "/etc/systemd/system/sysfeed.service.d"
    net = ["nsenter", "-t", str(st.c.leader), "-n"]
    machine.run(net + ["ip", "addr", "add", WEBHOOK_ADDR + "/32", "dev", "lo"])
    rec = subprocess.Popen(net + [sys.executable, "-c", RECEIVER, WEBHOOK_ADDR, str(WEBHOOK_PORT)],
                           stdout=subprocess.PIPE, text=True)
    assert select.select([rec.stdout], [], [], 30)[0] and rec.stdout.readline() == "READY\n"
    got = []

    def posts():
        while select.select([rec.stdout], [], [], 0)[0]:
            line = rec.stdout.readline()
            if not line:
                break
            got.append(line.split())
        return [g for g in got if g == ["POST", name]]

    def failed():
        m = re.search(r'^sysfeed_alert_notifications_failed_total\{sender="webhook"\} (\d+)',
                      curl(st, "/metrics"), re.M)
        return m and int(m.group(1)) >= 1

    sh(st, f"cp -p {conf} /root/sysfeed.conf.orig && printf '%s\\n' "
           f"'alert = {name}: mem.used > 0' 'alert-webhook = http://{WEBHOOK_ADDR}:{WEBHOOK_PORT}/' "
           f"'alert-retries = 0' 'alert-timeout-ms = 2000' >> {conf}")
    try:
        # reachable from the container, outside the unit's sandbox
        sh(st, f"curl -sS -m 5 -o /dev/null -d '{{\"name\": \"{name}\"}}' "
               f"http://{WEBHOOK_ADDR}:{WEBHOOK_PORT}/")
        wait_for("curl's request at the receiver", posts, 15)
        got.clear()
        sh(st, "systemctl restart sysfeed")
        wait_for("the webhook counted as failed", failed, 30)
        assert not posts(), got
        sh(st, f"mkdir -p {dropin} && printf '[Service]\\nIPAddressAllow={WEBHOOK_ADDR}\\n' "
               f"> {dropin}/webhook.conf && systemctl daemon-reload && systemctl restart sysfeed")
        assert WEBHOOK_ADDR + "/32" in show(st, "IPAddressAllow").split()
        wait_for("the alert at the receiver through the drop-in", posts, 30)
    finally:
        sh(st, f"rm -rf {dropin} && mv /root/sysfeed.conf.orig {conf} && "
               "systemctl daemon-reload && systemctl restart sysfeed", check=False)
        rec.kill()
        rec.wait()
        machine.run(net + ["ip", "addr", "del", WEBHOOK_ADDR + "/32", "dev", "lo"], check=False)


def test_reload_rereads_the_config(box):
    st = box
    pid = main_pid(st)
    sh(st, "echo 'interval = 2000' >> /etc/sysfeed/sysfeed.conf && systemctl reload sysfeed")
    wait_for("interval 2000 after reload", lambda: hello(st)["interval_ms"] == 2000, 10)
    assert main_pid(st) == pid
    sh(st, "sed -i '/^interval = 2000$/d' /etc/sysfeed/sysfeed.conf && systemctl reload sysfeed")
    wait_for("interval back to 1000", lambda: hello(st)["interval_ms"] == 1000, 10)


def history_times(st, topic="mem"):
    """The times (ms) of the rows of topic that /api/history reads from
    history.db since the container booted (gaps' rows of nulls left out)."""
    h = json.loads(curl(st, f"/api/history?topics={topic}&from={st.booted_ms}"
                            "&tops=0&events=0"))
    return [r[0] for r in h["history"][topic]["rows"] if any(v is not None for v in r[1:])]


def test_history_survives_a_restart(box):
    """The packaged unit keeps its history in StateDirectory= (the file
    under /var/lib/private/sysfeed, DynamicUser=): the rows of the stopped
    daemon (its last batch flushed at the stop) are read back by the next."""
    st = box
    assert os.path.islink(os.path.join(st.root, "var/lib/sysfeed"))
    db = os.path.join(st.root, "var/lib/private/sysfeed/history.db")
    wait_for("history.db made", lambda: os.path.exists(db), 30)
    stop_ms = int(time.time() * 1000)
    sh(st, "systemctl restart sysfeed")
    rows = wait_for("rows from before the restart in /api/history",
                    lambda: [t for t in history_times(st) if t < stop_ms], 30)
    log(f"{len(rows)} mem rows from before the restart read back")
    st.history_first = rows[0]


def test_smart_helper_runs_under_its_unit(box):
    """sysfeed-smart.service is skipped in a container (no drives:
    ConditionVirtualization=!container); with that condition reset and the
    fixtures' smartctl stand-in, it runs under its own sandbox as root,
    writes /var/lib/sysfeed-smart/smart.json, and the unprivileged daemon
    shows the drives in the health topic."""
    st = box
    assert sh(st, "systemctl is-enabled sysfeed-smart.timer").strip() == "enabled"
    sh(st, "systemctl start sysfeed-smart.service")
    assert show_unit(st, "sysfeed-smart.service", "ConditionResult") == "no"
    fake = "/usr/local/lib/sysfeed-test-smart"
    shutil.copytree(os.path.join(FIXTURES, "nas", "smart"), st.root + fake, dirs_exist_ok=True)
    dropin = "/etc/systemd/system/sysfeed-smart.service.d"
    sh(st, f"mkdir -p {dropin} && printf '[Unit]\\nConditionVirtualization=\\n"
           f"[Service]\\nEnvironment=SYSFEED_SMARTCTL={fake}/fake-smartctl\\n' "
           f"> {dropin}/test.conf && systemctl daemon-reload")
    try:
        sh(st, "systemctl start sysfeed-smart.service", timeout=60)
        assert show_unit(st, "sysfeed-smart.service", "Result") == "success"
        with open(os.path.join(st.root, "var/lib/sysfeed-smart/smart.json")) as f:
            written = json.load(f)
        assert [d["device"]["name"] for d in written["devices"]] == [
            "/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/nvme0"], written

        def smart():
            h = json.loads(curl(st, "/api/snapshot"))["topics"]["health"]["smart"]
            return h if h["devices"] else None

        h = wait_for("the drives in the health topic", smart, 30)
        assert h["error"] is None and h["updated_ms"] == written["time"] * 1000, h
        by = {d["device"]: d for d in h["devices"]}
        assert by["sda"]["passed"] is True and by["sdb"]["passed"] is False, by
    finally:
        sh(st, f"rm -rf {dropin} {fake} && systemctl daemon-reload", check=False)


def show_unit(st, unit, prop):
    return sh(st, f"systemctl show {unit} -p {prop} --value").strip()


def test_a_stopped_loop_is_restarted_by_the_watchdog(box):
    st = box
    pid = main_pid(st)
    restarts = int(show(st, "NRestarts"))
    t0 = time.monotonic()
    sh(st, "systemctl kill --kill-who=main -s STOP sysfeed")
    wait_for("a new MainPID, active", lambda: main_pid(st) not in (0, pid) and sh(
        st, "systemctl is-active sysfeed", check=False).strip() == "active", 45)
    log(f"watchdog restart after {time.monotonic() - t0:.1f}s")
    assert int(show(st, "NRestarts")) == restarts + 1
    assert "Watchdog timeout" in sh(st, "journalctl -q --no-pager -u sysfeed -o cat")
    assert json.loads(curl(st, "/healthz"))["status"] == "ok"


def test_socket_activation(box):
    """With sysfeed.socket, systemd owns the sockets and the first connection
    starts the service, which takes them; then back to the plain service."""
    st = box
    sh(st, "systemctl disable --now sysfeed.service && systemctl enable --now sysfeed.socket")
    try:
        assert sh(st, "systemctl is-active sysfeed.service", check=False).strip() == "inactive"
        assert json.loads(curl(st, "/healthz"))["status"] == "ok"
        assert json.loads(curl(st, "/healthz", "http://[::1]:8390"))["status"] == "ok"
        assert sh(st, "systemctl is-active sysfeed.service").strip() == "active"
        log_text = sh(st, f"journalctl -q --no-pager -o cat _PID={main_pid(st)}")
        assert "using 2 socket(s) from the service manager" in log_text, log_text
    finally:
        sh(st, "systemctl disable --now sysfeed.socket; systemctl stop sysfeed.service; "
               "systemctl enable --now sysfeed.service")
    wait_for("sysfeed active again", lambda: sh(st, "systemctl is-active sysfeed",
                                                check=False).strip() == "active", 30)


def test_upgrade_keeps_the_edited_config(box):
    st = box
    sh(st, "echo 'interval = 2000  # edited by the system test' >> /etc/sysfeed/sysfeed.conf")
    before = sh(st, "cat /etc/sysfeed/sysfeed.conf")
    pid = main_pid(st)
    new = os.path.basename(DEB_NEW)
    sh(st, f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /root/{new}", timeout=120)
    new_version = machine.run(["dpkg-deb", "-f", DEB_NEW, "Version"]).stdout.strip()
    assert sh(st, "dpkg-query -W -f '${Version}' sysfeed") == new_version
    assert sh(st, "cat /etc/sysfeed/sysfeed.conf") == before
    wait_for("active after the upgrade", lambda: sh(st, "systemctl is-active sysfeed",
                                                    check=False).strip() == "active", 30)
    assert main_pid(st) != pid
    assert json.loads(curl(st, "/healthz"))["version"] == new_version.rsplit("-", 1)[0]
    assert hello(st)["interval_ms"] == 2000
    # the history of the daemons before the upgrade is read by the new one
    assert st.history_first in history_times(st), "history lost in the upgrade"


def test_purge_removes_everything_the_package_added(box):
    st = box
    sh(st, "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q sysfeed", timeout=120)
    assert sh(st, "systemctl is-active sysfeed", check=False).strip() == "inactive"
    assert "sysfeed" not in sh(st, "ps -e -o comm= 2>/dev/null || ls /proc", check=False)
    assert st.c.sh(f"curl -sS -m 2 {URL}/healthz", check=False).returncode != 0
    for d in ("var/lib/sysfeed", "var/lib/private/sysfeed", "var/lib/sysfeed-smart"):
        assert not os.path.lexists(os.path.join(st.root, d)), f"/{d} left after purge"
    st.c.poweroff()
    for deb in (DEB, DEB_NEW):
        os.unlink(os.path.join(st.root, "root", os.path.basename(deb)))
    after = machine.file_list(st.root)
    changed = sorted(p for p, _ in after ^ st.before if VOLATILE.match(p))
    log(f"{len(changed)} paths changed only where booting and apt write: "
        f"{sorted({'/'.join(p.split('/')[:4]) for p in changed})}")
    added = sorted(p for p in after - st.before if not VOLATILE.match(p[0]))
    removed = sorted(p for p in st.before - after if not VOLATILE.match(p[0]))
    assert not added, f"left behind after purge: {added}"
    assert not removed, f"missing after purge: {removed}"
    # As Debian does for system users, purge keeps the sysfeed user and group
    # (lines in /etc/passwd, /etc/shadow, /etc/group and /etc/gshadow, whose
    # backups with a "-" already exist in the root: no path differs).
    with open(os.path.join(st.root, "etc", "passwd")) as f:
        assert [l for l in f if l.startswith("sysfeed:")], "the sysfeed user is gone"
    with open(os.path.join(st.root, "etc", "group")) as f:
        assert [l for l in f if l.startswith("sysfeed:")], "the sysfeed group is gone"
