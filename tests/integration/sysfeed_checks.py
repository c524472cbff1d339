"""Shape checks for the event contract's payloads (DESIGN.md, "The event contract")."""

import os
import time

from sysfeed_harness import BASE_TOPICS, INSTANCE_RE, parse_id

CPU_FIELDS = ("user", "nice", "system", "iowait", "irq", "softirq", "steal", "idle", "busy")
MEM_FIELDS = ("total", "free", "available", "used", "buffers", "cached", "swap_total",
              "swap_free", "swap_used", "dirty")


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_t(p, slack_ms=30000):
    assert is_int(p.get("t")), "payload without an integer \"t\": %r" % p
    now = time.time() * 1000
    assert abs(p["t"] - now) < slack_ms, "t=%d is %d ms away from now" % (p["t"], p["t"] - now)


def check_hello(ev, interval_ms=None):
    assert ev.type == "hello"
    assert ev.id is None, "hello must carry no id, got %r" % ev.id
    h = ev.json
    for k in ("t", "host", "kernel", "version", "instance", "interval_ms", "topics", "off"):
        assert k in h, "hello lacks %r: %r" % (k, h)
    check_t(h)
    assert INSTANCE_RE.match(h["instance"]), h["instance"]
    assert h["host"] == os.uname().nodename
    assert h["kernel"] == os.uname().release
    assert isinstance(h["version"], str) and h["version"]
    if interval_ms is not None:
        assert h["interval_ms"] == interval_ms
    assert isinstance(h["topics"], list) and all(isinstance(t, str) for t in h["topics"])
    assert isinstance(h["off"], dict)
    assert all(isinstance(v, str) and v for v in h["off"].values()), h["off"]
    assert not set(h["topics"]) & set(h["off"]), "a topic both on and off: %r" % h
    return h


def check_snapshot_event(ev, instance, topics=BASE_TOPICS):
    """A snapshot event: its id is <instance>-<seq> and its data says the same."""
    assert ev.type == "snapshot"
    p = parse_id(ev.id)
    assert p, "snapshot id %r is not <instance>-<seq>" % ev.id
    s = ev.json
    for k in ("t", "instance", "seq", "topics"):
        assert k in s, "snapshot lacks %r" % k
    assert p == (instance, s["seq"]) and s["instance"] == instance, (ev.id, s["instance"], s["seq"])
    assert isinstance(s["topics"], dict)
    if topics is not None:
        for name in topics:
            assert name in s["topics"], "snapshot lacks topic %r: %r" % (name, sorted(s["topics"]))
    return s


def proc_cpu_count():
    with open("/proc/stat") as f:
        return sum(1 for line in f if line.startswith("cpu") and line[3].isdigit())


def proc_meminfo_kb(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _check_cpu_set(d, where):
    for f in CPU_FIELDS:
        assert f in d, "%s lacks %r" % (where, f)
        assert is_num(d[f]) and 0 <= d[f] <= 100, "%s.%s = %r not a percent" % (where, f, d[f])
    parts = sum(d[f] for f in CPU_FIELDS if f != "busy")
    # The eight states add up to 100 % (each may be rounded: allow 8 x 0.5).
    assert parts == 0 or 96 <= parts <= 104, "%s states add up to %r" % (where, parts)
    # busy is at least user+system and at most what is not idle.
    assert d["busy"] >= d["user"] + d["system"] - 1.0, "%s busy %r" % (where, d)
    assert d["busy"] <= 100 - d["idle"] + 1.0, "%s busy %r" % (where, d)


def check_cpu(p, ncpu=None):
    check_t(p)
    ncpu = proc_cpu_count() if ncpu is None else ncpu
    assert p.get("ncpu") == ncpu, "ncpu %r, /proc/stat has %d" % (p.get("ncpu"), ncpu)
    _check_cpu_set(p["total"], "total")
    cores = p["cores"]
    assert isinstance(cores, list) and len(cores) == ncpu
    ids = [c.get("cpu") for c in cores]
    assert all(is_int(i) for i in ids) and len(set(ids)) == len(ids), ids
    for c in cores:
        _check_cpu_set(c, "cores[cpu=%s]" % c["cpu"])


def check_mem(p):
    check_t(p)
    for f in MEM_FIELDS:
        assert is_int(p.get(f)) and p[f] >= 0, "mem.%s = %r" % (f, p.get(f))
    assert p["total"] == proc_meminfo_kb("MemTotal") * 1024, "mem.total is not MemTotal in bytes"
    assert p["swap_total"] == proc_meminfo_kb("SwapTotal") * 1024
    for f in ("free", "available", "used", "buffers", "cached"):
        assert p[f] <= p["total"], "mem.%s > total" % f
    assert p["swap_free"] <= p["swap_total"]
    assert p["swap_used"] == p["swap_total"] - p["swap_free"]


def check_load(p):
    check_t(p)
    for f in ("load1", "load5", "load15"):
        assert is_num(p.get(f)) and p[f] >= 0, "load.%s = %r" % (f, p.get(f))
    assert is_int(p.get("running")) and is_int(p.get("tasks"))
    assert 0 <= p["running"] <= p["tasks"] and p["tasks"] >= 1
    with open("/proc/uptime") as f:
        up = float(f.read().split()[0])
    assert is_num(p.get("uptime")) and abs(p["uptime"] - up) < 60, (p.get("uptime"), up)


CHECKS = {"cpu": check_cpu, "mem": check_mem, "load": check_load}
