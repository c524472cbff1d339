#!/usr/bin/env python3
"""Latency of the event topics, end to end: a journal entry written with
sd_journal_send() (tests/bench/journal_send) or a file written in a watched
directory, to the parsed SSE event of a real client of the real daemon.
1,000 of each, spaced out (a flood is batched by design and measured by the
flood test). Prints p50/p99/max; exits 1 when a p99 exceeds its bound:
100 ms for the journal, 100 ms + file-coalesce-ms for files.

    SYSFEED_BIN=build/sysfeed SYSFEED_BENCH=build/bench tests/bench/events_latency.py [-n 1000]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from conftest_events import Journald, journald_running  # noqa: E402
from sysfeed_harness import Daemon, SSEClient, pump_many  # noqa: E402

COALESCE_MS = 100


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def summary(name, lat, bound):
    p50, p99 = pct(lat, 50), pct(lat, 99)
    ok = p99 <= bound
    print("%-8s n=%d  p50 %.1f ms  p99 %.1f ms  max %.1f ms  mean %.1f ms  (bound p99 <= %d ms: %s)"
          % (name, len(lat), p50, p99, max(lat), statistics.mean(lat), bound, "ok" if ok else "FAIL"))
    return ok, {"n": len(lat), "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
                "max_ms": round(max(lat), 1), "bound_ms": bound}


def bench_journal(client, journal_send, n, gap_us):
    tok = "bench%d" % os.getpid()
    import subprocess
    p = subprocess.Popen([journal_send, "-n", str(n), "-i", str(gap_us),
                          "MESSAGE=%s {i} {us}" % tok, "SYSLOG_IDENTIFIER=sysfeed-bench"])
    seen = {}

    def done():
        for e in client.events[done.pos:]:
            if e.type == "log":
                for entry in e.json["entries"]:
                    parts = entry["message"].split()
                    if len(parts) == 3 and parts[0] == tok:
                        seen[int(parts[1])] = e.wall_ms - int(parts[2]) / 1000.0
        done.pos = len(client.events)
        return len(seen) >= n
    done.pos = 0
    pump_many([client], done, n * gap_us / 1e6 + 60, "%d journal entries" % n)
    p.wait()
    return list(seen.values())


def bench_files(client, tree, n, gap_s):
    written = {}

    def writer():
        for i in range(n):
            path = os.path.join(tree, "f%04d" % i)
            written[path] = time.time() * 1000.0
            with open(path, "w") as f:
                f.write("x")
            time.sleep(gap_s)

    t = threading.Thread(target=writer)
    t.start()
    lat = {}

    def done():
        for e in client.events[done.pos:]:
            if e.type == "file" and e.json.get("path") in written and e.json["path"] not in lat:
                lat[e.json["path"]] = e.wall_ms - written[e.json["path"]]
        done.pos = len(client.events)
        return len(lat) >= n
    done.pos = 0
    pump_many([client], done, n * gap_s + 60, "%d file events" % n)
    t.join()
    return list(lat.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    binary = os.path.abspath(os.environ.get("SYSFEED_BIN", "build/sysfeed"))
    bench = os.path.abspath(os.environ.get("SYSFEED_BENCH", "build/bench"))
    journal_send = os.path.join(bench, "journal_send")
    jd = Journald()
    if not journald_running():
        if os.geteuid() != 0:
            print("events_latency: no journald runs and this user cannot start one", file=sys.stderr)
            return 2
        jd.start()
    ok = True
    figures = {}
    with tempfile.TemporaryDirectory(prefix="sysfeed-bench-") as tmp:
        tree = os.path.join(tmp, "watched")
        os.mkdir(tree)
        d = Daemon(binary, tmp, interval=1000,
                   config="watch = %s\nfile-coalesce-ms = %d\n" % (tree, COALESCE_MS))
        try:
            d.start()
            c = SSEClient(d.port, "/events?topics=log,file")
            pump_many([c], lambda: any(e.type == "snapshot" for e in c.events), 10, "the snapshot")
            ok1, figures["journal"] = summary("journal", bench_journal(c, journal_send, args.n, 10000), 100)
            ok2, figures["file"] = summary("file", bench_files(c, tree, args.n, 0.01), 100 + COALESCE_MS)
            ok = ok1 and ok2
            c.close()
        finally:
            problems = d.finish()
            jd.stop() if jd.owned else None
        if problems:
            print("\n".join(problems), file=sys.stderr)
            ok = False
    figures["file"]["coalesce_ms"] = COALESCE_MS
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
