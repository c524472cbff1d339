"""The packaged service on cgroup v2, where systemd runs the services: the
booted Debian 12 container of machine.py (systemd-nspawn with the unified
hierarchy, systemd as PID 1), the .deb installed with apt-get, a transient
service with a busy loop started with systemd-run, and the `svc` and
`containers` topics read from /api/snapshot inside the container.

Its own copy of the cached root (SYSTEM_CACHE/work-cgroup2, removed at the
end), so that it never meets test_boot.py's container.

The controllers a service's cgroup has are what the kernel gives the
unified hierarchy: on a host that binds cpu, memory and pids to cgroup v1
(hybrid), the container's cgroup2 has none of them, and only CPU time
(cpu.stat's usage_usec, kept for every cgroup) can be read: then memory and
tasks must be null, never a guess. On a v2 host they must be plausible."""
import json
import os
import shutil
import time

import pytest

import machine
from machine import Container, chroot, log, wait_for

CACHE = os.environ.get("SYSTEM_CACHE", "/var/cache/sysfeed-test")
DEB = os.environ.get("SYSFEED_DEB", "")
URL = "http://127.0.0.1:8390"
UNIT = "sysfeed-burn.service"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap and nspawn need root"),
]



@pytest.fixture(scope="module")
def box():
    if not os.path.exists(DEB):
        pytest.fail("SYSFEED_DEB must name a .deb: run `make check-system`")
    base = machine.base_root(CACHE, machine.deb_depends(DEB))
    root = os.path.join(CACHE, "work-cgroup2")
    shutil.rmtree(root, ignore_errors=True)
    machine.run(["cp", "-a", "--reflink=auto", base, root], timeout=300)
    c = None
    try:
        deps = " ".join(machine.deb_depends(DEB))
        chroot(root, f"dpkg -s {deps} >/dev/null 2>&1 || apt-get install -y -q {deps}")
        shutil.copy(DEB, os.path.join(root, "root"))
        chroot(root, "apt-get install -y -q /root/" + os.path.basename(DEB))
        c = Container(root)
        c.boot()
        yield c
    finally:
        if c:
            c.kill()
        shutil.rmtree(root, ignore_errors=True)
        if os.path.exists(root + ".console.log"):
            os.unlink(root + ".console.log")


def snapshot(c):
    out = c.sh(f"curl -sS -m 5 --fail-with-body '{URL}/api/snapshot'", check=False).stdout
    try:
        return json.loads(out)
    except ValueError:
        return None


def hello(c):
    out = c.sh(f"curl -sS -N -m 2 '{URL}/events' || true", timeout=15).stdout
    for block in out.split("\n\n"):
        if "event: hello" in block:
            return json.loads(block.split("data: ", 1)[1])
    raise AssertionError(f"no hello event in:\n{out[:2000]}")


def burn_row(c):
    """The burning service's top_cpu row once it has a CPU rate."""
    snap = snapshot(c)
    svc = (snap or {}).get("topics", {}).get("svc") or {}
    for row in svc.get("top_cpu", []):
        if row["unit"] == UNIT and row["cpu_pct"] is not None and row["cpu_pct"] > 20:
            return row, svc
    return None


def test_the_container_runs_systemd_on_cgroup_v2(box):
    """The premise: the unified hierarchy at /sys/fs/cgroup, systemd's
    system.slice in it, the daemon running."""
    assert box.sh("stat -fc %T /sys/fs/cgroup").stdout.strip() == "cgroup2fs"
    assert box.sh("test -d /sys/fs/cgroup/system.slice && echo ok").stdout.strip() == "ok"
    wait_for("sysfeed active", lambda: box.sh("systemctl is-active sysfeed.service",
                                              check=False).stdout.strip() == "active", 30)


def test_svc_is_on_with_the_services_of_systemd(box):
    """svc is on (the v2 layout found), and lists systemd's own services."""
    h = wait_for("a hello", lambda: hello(box), 30)
    assert "svc" in h["topics"], h["off"]

    def listed():
        snap = snapshot(box)
        svc = (snap or {}).get("topics", {}).get("svc") or {}
        units = {r["unit"] for r in svc.get("top_mem", []) + svc.get("top_cpu", [])}
        return svc if svc.get("services", 0) >= 3 and "sysfeed.service" in units else None

    svc = wait_for("systemd's services in svc", listed, 30)
    # as many as systemd has cgroups for under system.slice (give or take
    # a unit that started or stopped meanwhile)
    n = int(box.sh("find /sys/fs/cgroup/system.slice -name '*.service' -type d | wc -l")
            .stdout)
    assert abs(svc["services"] - n) <= 2, (svc["services"], n)


def test_a_busy_transient_service_has_its_cpu(box):
    """A transient unit with a busy loop: in top_cpu with a plausible CPU
    rate (one loop: 20 to 105 % of a core); memory and tasks plausible where
    the cgroup has those controllers, null where it has not."""
    # half a core at most: a whole one starved the container's systemd on
    # this 2-core machine (its `systemctl stop` timed out)
    box.sh(f"systemd-run --unit={UNIT} --property=RuntimeMaxSec=120 --property=CPUQuota=50% "
           "/bin/sh -c 'while :; do :; done'")
    row, svc = wait_for("the busy unit in top_cpu with its CPU", lambda: burn_row(box), 30)
    log(f"{UNIT}: {row}")
    assert 20 < row["cpu_pct"] <= 105, row
    ctl = box.sh(f"cat /sys/fs/cgroup/system.slice/{UNIT}/cgroup.controllers").stdout.split()
    if "memory" in ctl:
        assert row["mem_bytes"] is not None and 4096 <= row["mem_bytes"] < 512 << 20, row
    else:
        assert row["mem_bytes"] is None, row
    if "pids" in ctl:
        assert row["tasks"] is not None and 1 <= row["tasks"] <= 4, row
    else:
        assert row["tasks"] is None, row
    # it is not the daemon's guess: cpu.stat moves as the row says
    usage = lambda: int(box.sh(f"grep ^usage_usec /sys/fs/cgroup/system.slice/{UNIT}/cpu.stat")
                        .stdout.split()[1])
    a = usage()
    time.sleep(1)
    assert usage() - a > 150000  # over 15 % of a core in that second


def test_a_stopped_service_leaves_svc(box):
    box.sh(f"systemctl kill --signal=KILL {UNIT}; systemctl stop {UNIT}", check=False, timeout=60)

    def gone():
        snap = snapshot(box)
        svc = (snap or {}).get("topics", {}).get("svc") or {}
        rows = svc.get("top_cpu", []) + svc.get("top_mem", [])
        return svc and all(r["unit"] != UNIT for r in rows)

    wait_for(f"{UNIT} gone from svc", gone, 20)


def test_containers_is_on_with_none_or_off_with_a_reason(box):
    """The containers topic inside the container: on (the unified hierarchy
    to find containers in) with no container, as nothing runs one there;
    were it off, the reason would say why."""
    h = hello(box)
    off = dict(h["off"])
    if "containers" in off:
        assert off["containers"].startswith("/sys/fs/cgroup"), off
        return
    assert "containers" in h["topics"]
    snap = wait_for("a containers payload",
                    lambda: (snapshot(box) or {}).get("topics", {}).get("containers"), 20)
    assert snap["containers"] == 0 and snap["running"] == 0, snap
