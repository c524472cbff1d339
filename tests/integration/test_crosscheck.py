"""The live machine seen by sysfeed against independent tools: free, df, ip,
ps, vmstat and /proc/loadavg, each within a stated tolerance."""

import json
import os
import subprocess
import sys
import time

from sysfeed_harness import SSEClient

SLACK = 4 if os.environ.get("SYSFEED_SANITIZE") else 1


def tool(*argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout


def next_payload(client, topic, timeout=10):
    return client.wait_event(lambda e: e.type == topic, timeout * SLACK).json


def stream(daemon, topics):
    c = SSEClient(daemon.port, "/events?topics=" + topics)
    c.wait_hello_snapshot(10 * SLACK)
    return c


def test_mem_against_free(start_daemon):
    d = start_daemon(interval=500)
    c = stream(d, "mem")
    mem = next_payload(c, "mem")
    lines = {l.split(":")[0]: l.split()[1:] for l in tool("free", "-b").splitlines()[1:]}
    total, used, free_, shared, buffcache, available = map(int, lines["Mem"])
    swap_total, swap_used, swap_free = map(int, lines["Swap"])
    # totals are exact; what moves between the two reads within 64 MiB
    assert mem["total"] == total
    assert mem["swap_total"] == swap_total
    tol = 64 << 20
    assert abs(mem["used"] - used) < tol, (mem["used"], used)
    assert abs(mem["available"] - available) < tol, (mem["available"], available)
    assert abs(mem["buffers"] + mem["cached"] - buffcache) < tol, (mem, buffcache)
    assert abs(mem["swap_used"] - swap_used) < tol
    c.close()


def test_load_against_proc_loadavg(start_daemon):
    d = start_daemon(interval=200)
    c = stream(d, "load")
    # the kernel updates the averages every 5 s: a few samples find one
    # that no update fell between
    for _ in range(10):
        load = next_payload(c, "load")
        with open("/proc/loadavg") as f:
            fields = f.read().split()
        ours = [load["load1"], load["load5"], load["load15"]]
        if ours == [float(x) for x in fields[:3]]:
            break
    else:
        raise AssertionError("load never matched /proc/loadavg: %r vs %r" % (ours, fields))
    running, tasks = map(int, fields[3].split("/"))
    assert abs(load["tasks"] - tasks) <= max(20, tasks // 10)
    c.close()


def df():
    out = {}
    for line in tool("df", "-B1", "--output=target,size,used,avail").splitlines()[1:]:
        target, size, used, avail = line.rsplit(None, 3)
        out[target] = (int(size), int(used), int(avail))
    return out


def test_fs_against_df(start_daemon):
    """Each mount against df read just before and just after the sample:
    within what df saw in that window (other programs write meanwhile),
    give or take rounding."""
    d = start_daemon(interval=500)
    c = stream(d, "fs")
    before = df()
    next_payload(c, "fs")
    fs = next_payload(c, "fs")  # the second round: every mount answered
    after = df()
    ours = {f["mount"]: f for f in fs["filesystems"]}
    checked = 0
    for target, (size, used, avail) in after.items():
        if target not in ours or not ours[target]["responding"] or target not in before:
            continue
        f = ours[target]
        assert f["size"] == size, (target, f, size)
        tol = max(1 << 20, size // 1000)
        for key, k in (("used", 1), ("available", 2)):
            lo = min(before[target][k], after[target][k]) - tol
            hi = max(before[target][k], after[target][k]) + tol
            assert lo <= f[key] <= hi, (target, key, before[target][k], f[key], after[target][k])
        checked += 1
    assert "/" in ours, sorted(ours)
    assert checked >= 1


def test_net_against_ip(start_daemon):
    d = start_daemon(interval=200)
    c = stream(d, "net")
    next_payload(c, "net")
    before = {l["ifname"]: l["stats64"] for l in json.loads(tool("ip", "-s", "-j", "link"))}
    net = next_payload(c, "net")
    after = {l["ifname"]: l["stats64"] for l in json.loads(tool("ip", "-s", "-j", "link"))}
    seen = 0
    for iface in net["interfaces"]:
        name = iface["name"]
        if name not in before or name not in after:
            continue
        for ours, theirs in (("rx_bytes", ("rx", "bytes")), ("tx_bytes", ("tx", "bytes")),
                             ("rx_packets", ("rx", "packets")), ("tx_packets", ("tx", "packets"))):
            lo = before[name][theirs[0]][theirs[1]]
            hi = after[name][theirs[0]][theirs[1]]
            # the sample was taken between the two ip reads (allow one tick early)
            assert lo - (1 << 20) <= iface[ours] <= hi, (name, ours, lo, iface[ours], hi)
        assert iface["loopback"] == (name == "lo")
        seen += 1
    assert seen == len(before), (sorted(before), [i["name"] for i in net["interfaces"]])


def test_proc_against_ps(start_daemon):
    # a process of our own that holds 200 MiB resident: it must top top_mem
    hog = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time; b=bytearray(200<<20); [b.__setitem__(i,1) for i in range(0,len(b),4096)];"
         " print('ready',flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert hog.stdout.readline().strip() == "ready"
        d = start_daemon(interval=200)
        c = stream(d, "proc")
        for _ in range(20):
            proc = next_payload(c, "proc")
            rows = [r for r in proc["top_mem"] if r["pid"] == hog.pid]
            if rows:
                break
        else:
            raise AssertionError("pid %d not in top_mem: %r" % (hog.pid, proc["top_mem"][:3]))
        row = rows[0]
        ps = tool("ps", "-o", "pid=,comm=,rss=,nlwp=", "-p", str(hog.pid)).split()
        assert int(ps[0]) == hog.pid
        assert row["comm"] == ps[1]
        rss = int(ps[2]) * 1024
        assert abs(row["rss_bytes"] - rss) <= rss // 20, (row["rss_bytes"], rss)
        assert row["threads"] == int(ps[3])
        assert row["user"] == tool("ps", "-o", "user=", "-p", str(hog.pid)).strip()
        count = len(tool("ps", "-e", "-o", "pid=").split())
        assert abs(proc["processes"] - count) <= max(10, count // 20), (proc["processes"], count)
        c.close()
    finally:
        hog.kill()
        hog.wait()


def test_cpu_against_vmstat(start_daemon):
    # one core busy: about 50 % busy on two cores, whatever else runs
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        d = start_daemon(interval=1000)
        c = stream(d, "cpu")
        next_payload(c, "cpu", 15)  # just after a tick: vmstat's second line covers the next
        vm = tool("vmstat", "-n", "1", "2").splitlines()
        cpu = next_payload(c, "cpu", 15)
        cols = vm[1].split()
        vals = dict(zip(cols, map(int, vm[3].split())))
        total = cpu["total"]
        # vmstat prints integer percentages over a second offset from ours
        assert abs(total["idle"] - vals["id"]) <= 15, (total, vals)
        assert abs(total["user"] + total["nice"] - vals["us"]) <= 15, (total, vals)
        assert abs(total["system"] + total["irq"] + total["softirq"] - vals["sy"]) <= 15
        assert total["busy"] >= 100 / os.cpu_count() - 15, total
        c.close()
    finally:
        spin.kill()
        spin.wait()
