"""History on disk (issue 13): the real daemon writing real SQLite files in
temporary directories, read back through /api/history after a restart and
after a kill -9 in the middle of a batch; consolidation checked against a
Python oracle; faults (a read-only directory, a full disk, a garbage and a
truncated file) turning history off or pausing it with a reason in
hello.off.history while the stream goes on, and history resuming; the API's
errors and CSV; the sysfeed_history_* metrics."""

import math
import os
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

import sysfeed_harness

FLUSH = 1  # history-flush-seconds in these tests


def wait_for(cond, timeout, what):
    """sysfeed_harness.wait_for, a look every 100 ms: each is a history query."""
    return sysfeed_harness.wait_for(cond, timeout, what, every=0.1)


def config(state_dir, extra=""):
    return "state-dir = %s\nhistory-flush-seconds = %d\n%s" % (state_dir, FLUSH, extra)


def api(d, **params):
    q = "&".join("%s=%s" % kv for kv in params.items())
    return d.request(path="/api/history?" + q, timeout=10)


def rows_since(d, t0, topic="cpu", **kw):
    r = api(d, topics=topic, **{"from": t0}, tops="0", events="0", **kw)
    if r.status != 200:
        return []
    return r.json["history"][topic]["rows"]


def hello(d):
    c = d.sse("/events?topics=cpu")
    ev = c.wait_event(lambda e: e.type == "hello", timeout=5)
    c.close()
    return ev.json


def stream_flows(d):
    """Two cpu events arrive: the live view goes on."""
    c = d.sse("/events?topics=cpu")
    c.wait_event(lambda e: e.type == "cpu", timeout=5)
    c.wait_event(lambda e: e.type == "cpu", timeout=5)
    c.close()


def now_ms():
    return int(time.time() * 1000)


def metric(d, name):
    text = d.request(path="/metrics").text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_restart_keeps_history_and_marks_the_gap(start_daemon, tmp_path):
    state = tmp_path / "state"
    t0 = now_ms()
    d = start_daemon(config=config(state))
    assert "history" not in hello(d).get("off", {})
    before = wait_for(lambda: len(rows_since(d, t0)) >= 10 and rows_since(d, t0), 20,
                      "ten rows on disk")
    assert d.stop()[0] == 0
    stopped = now_ms()
    assert (state / "history.db").exists()
    # down for two seconds: ten ticks missing
    wait_for(lambda: now_ms() > stopped + 2000, 5, "two seconds down")
    d = start_daemon(config=config(state))
    after = wait_for(lambda: [r for r in rows_since(d, t0) if r[0] > stopped] and
                     rows_since(d, t0), 20, "rows after the restart")
    times = [r[0] for r in after]
    # every row read before the restart is still there, with its values
    for row in before:
        assert row in after
    assert times == sorted(times)
    # the gap while it was down: a row of nulls between the two runs
    gap = [r for r in after if r[1:] == [None] * (len(r) - 1)]
    first_after = min(r[0] for r in after if r[0] > stopped and r[1] is not None)
    assert len(gap) == 1 and before[-1][0] < gap[0][0] < first_after, (gap, before[-1])


def test_kill9_loses_at_most_the_last_batch(start_daemon, tmp_path):
    state = tmp_path / "state"
    t0 = now_ms()
    d = start_daemon(config=config(state))
    wait_for(lambda: (metric(d, "sysfeed_history_commits_total") or 0) >= 3, 20,
             "three commits")
    seen = rows_since(d, t0)
    d.proc.kill()  # SIGKILL, in the middle of whatever batch
    d.proc.wait()
    d.expected_exit = True
    killed = now_ms()
    db = sqlite3.connect("file:%s?mode=ro" % (state / "history.db"), uri=True)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    d = start_daemon(config=config(state))
    rows = rows_since(d, t0, to=killed)
    for row in seen:  # what was committed before the kill survived it
        assert row in rows
    # at most one batch (a flush period, plus the tick in flight) is gone
    assert rows and rows[-1][0] >= killed - (FLUSH + 1) * 1000 - 1000, (rows[-1][0], killed)


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def test_first_format_chunks_read_and_written_again(start_daemon, tmp_path):
    """A file from before the second chunk format (an upgrade in place):
    the rows of a first-format ("SFC1") chunk are served as they were, and
    still after the writer merged their hour into a chunk of the second
    format. The chunk is tests/fixtures/history/chunk-sfc1.bin, the rows of
    fill_old() in tests/unit/test_store_codec.c."""
    state = tmp_path / "state"
    t_first = 1700000000000
    times = [t_first + i * 1000 + (30000 if i >= 60 else 0) + (i % 7 == 3) for i in range(120)]
    x, load = 13, []
    for i in range(120):
        x = (x * 1103515245 + 12345) & 0xffffffff
        load.append((400 + (x >> 20) % 7) / 1000)
    d = start_daemon(config=config(state))
    wait_for(lambda: (metric(d, "sysfeed_history_commits_total") or 0) >= 1, 20, "a commit")
    assert d.stop()[0] == 0
    with open(os.path.join(FIXTURES, "history", "chunk-sfc1.bin"), "rb") as f:
        blob = f.read()
    db = sqlite3.connect(str(state / "history.db"))
    db.execute("INSERT INTO chunk (tier, t0, t1, rows, merged, data) VALUES (0, ?, ?, 120, 0, ?)",
               (times[0], times[-1], blob))
    db.commit()
    db.close()

    def rows():
        r = api(d, topics="mem,load", **{"from": t_first, "to": times[-1]}, events="0")
        assert r.status == 200, r.text
        assert r.json["tier"] == 0 and not r.json["consolidated"]
        mem, ld = r.json["history"]["mem"], r.json["history"]["load"]
        used, load1 = mem["fields"].index("used"), ld["fields"].index("load1")
        tops = {row[0]: row for row in r.json["tops"]["rows"]}
        return ([(row[0], row[used]) for row in mem["rows"] if row[used] is not None],
                [(row[0], row[load1]) for row in ld["rows"] if row[load1] is not None],
                [[e[1] for e in tops[t][1]] for t in times[:3]])

    def fmt():
        db = sqlite3.connect("file:%s?mode=ro" % (state / "history.db"), uri=True)
        magic = db.execute("SELECT substr(data, 1, 4) FROM chunk WHERE tier = 0 AND t0 = ?",
                           (t_first,)).fetchone()[0]
        db.close()
        return magic

    expected = ([(t, 1e9 + 2e6 * i) for i, t in enumerate(times)],
                [(t, load[i]) for i, t in enumerate(times)],
                [["cc1"], ["cc1", "stress"], ["cc1", "stress", "cc1"]])
    d = start_daemon(config=config(state))
    assert "history" not in hello(d).get("off", {})
    assert rows() == expected
    # its closed hour is merged at the next transaction: the same rows
    wait_for(lambda: fmt() == b"SFC2", 20, "the hour written in the second format")
    assert rows() == expected


def stats(xs):
    """Average, minimum and maximum of the numbers of xs; a null (a tick
    with no value, e.g. CPU shares over two ticks within one jiffy) counts
    for nothing, and a bucket of nulls only is null."""
    xs = [x for x in xs if x is not None]
    return (sum(xs) / len(xs), min(xs), max(xs)) if xs else (None, None, None)


def test_consolidation_matches_python(start_daemon, tmp_path):
    """Buckets of 1 s over 100 ms rows: min, average and max of each number,
    and the top processes averaged over the bucket, computed again here."""
    state = tmp_path / "state"
    d = start_daemon(interval=100, config=config(state))
    t0 = now_ms()
    wait_for(lambda: len(rows_since(d, t0)) >= 60, 30, "six seconds of rows")
    to = rows_since(d, t0)[-1][0]
    frm = (t0 // 1000 + 1) * 1000
    raw = api(d, topics="cpu,mem", **{"from": frm, "to": to}).json
    assert raw["consolidated"] is False and raw["tier"] == 0
    cons = api(d, topics="cpu,mem", step="1", **{"from": frm, "to": to}).json
    assert cons["consolidated"] is True and cons["step"] == 1
    for topic in ("cpu", "mem"):
        fields = raw["history"][topic]["fields"]
        cfields = cons["history"][topic]["fields"]
        assert cfields[:len(fields)] == fields
        buckets = {}
        for row in raw["history"][topic]["rows"]:
            buckets.setdefault(row[0] // 1000 * 1000, []).append(row)
        got = {r[0]: r for r in cons["history"][topic]["rows"]}
        assert sorted(got) == sorted(buckets)
        for b, rows in buckets.items():
            for i, f in enumerate(fields[1:], 1):
                if f.endswith("[].busy"):  # arrays: each element
                    cols = list(zip(*[r[i] for r in rows]))
                    want = [stats(c) for c in cols]
                    have = list(zip(got[b][i], got[b][cfields.index(f + ":min")],
                                    got[b][cfields.index(f + ":max")]))
                else:
                    vals = [r[i] for r in rows]
                    want = [stats(vals)]
                    have = [(got[b][i], got[b][cfields.index(f + ":min")],
                             got[b][cfields.index(f + ":max")])]
                for w, h in zip(want, have):
                    assert all(x is None and y is None or x is not None and y is not None
                               and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
                               for x, y in zip(w, h)), (topic, f, b, w, h)
    # tops: each process's CPU averaged over the bucket's rows, absent = 0
    rt, ct = raw["tops"], cons["tops"]
    li = rt["fields"].index("proc.top_cpu")
    per = {}
    for row in rt["rows"]:
        per.setdefault(row[0] // 1000 * 1000, []).append(row)
    for row in ct["rows"]:
        rows = per[row[0]]
        n = len([r for r in raw["history"]["cpu"]["rows"] if r[0] // 1000 * 1000 == row[0]])
        sums = {}
        for r in rows:
            for e in r[li]:
                sums[(e[0], e[1])] = sums.get((e[0], e[1]), 0) + (e[2] or 0)
        best = sorted(sums.items(), key=lambda kv: (-kv[1] / n, kv[0][1], kv[0][0]))[:5]
        have = row[ct["fields"].index("proc.top_cpu")]
        assert [(e[0], e[1]) for e in have] == [k for k, _ in best], (have, best)
        for e, (_, s) in zip(have, best):
            assert math.isclose(e[2], s / n, rel_tol=1e-9, abs_tol=1e-9)


def test_api_errors_and_csv(start_daemon, tmp_path):
    d = start_daemon(config=config(tmp_path / "state"))
    t0 = now_ms()
    wait_for(lambda: len(rows_since(d, t0)) >= 5, 20, "rows")
    for params, says in [
        ({"from": "10", "to": "5"}, "from must be before to"),
        ({"from": "abc"}, "from: expected"),
        ({"topics": "nope"}, "unknown topic 'nope'"),
        ({"topics": "log"}, "no chart history"),
        ({"step": "-1"}, "step:"),
        ({"format": "xml"}, "format:"),
    ]:
        r = api(d, **params)
        assert r.status == 400, (params, r)
        assert says in r.text and r.text.count("\n") == 1, r.text
        assert r.header("Content-Type").startswith("text/plain")
    r = api(d, topics="cpu,net", format="csv", **{"from": t0})
    assert r.status == 200 and r.header("Content-Type") == "text/csv; charset=utf-8"
    lines = r.text.split("\r\n")
    head = lines[0].split(",")
    assert head[:3] == ["t", "time", "cpu.total.user"]
    assert "cpu.cores[0].busy" in head
    assert any(h.startswith("net.interfaces[lo].") for h in head)
    body = [l.split(",") for l in lines[1:] if l]
    assert len(body) >= 5 and all(len(l) == len(head) for l in body)
    assert body[0][1].endswith("Z") and int(body[0][0]) >= t0
    # gzip when the client takes it
    r = d.request(path="/api/history?topics=cpu", headers=[("Accept-Encoding", "gzip")])
    assert r.status == 200 and r.header("Content-Encoding") == "gzip"


def test_metrics(start_daemon, tmp_path):
    d = start_daemon(config=config(tmp_path / "state"))
    wait_for(lambda: (metric(d, "sysfeed_history_commits_total") or 0) >= 2, 20, "commits")
    assert metric(d, "sysfeed_history_up") == 1
    assert metric(d, "sysfeed_history_rows_written_total") > 0
    assert metric(d, "sysfeed_history_bytes") > 0
    assert metric(d, "sysfeed_history_errors_total") == 0
    # SQLite is loaded when history opens its file (daemon/store_db.c)
    assert d.maps("libsqlite3.so")


def test_state_dir_through_a_symlink(start_daemon, tmp_path):
    """systemd's StateDirectory= under DynamicUser= is a symlink
    (/var/lib/sysfeed -> private/sysfeed); the file itself is opened without
    following symlinks, the directory is resolved first."""
    real = tmp_path / "private" / "sysfeed"
    real.mkdir(parents=True)
    link = tmp_path / "sysfeed"
    link.symlink_to(real)
    d = start_daemon(config=config(link))
    wait_for(lambda: (metric(d, "sysfeed_history_commits_total") or 0) >= 1, 20, "a commit")
    assert metric(d, "sysfeed_history_up") == 1 and "history" not in hello(d)["off"]
    assert (real / "history.db").exists()


def test_no_state_dir(start_daemon):
    d = start_daemon(env={k: v for k, v in os.environ.items() if k != "STATE_DIRECTORY"})
    assert "no state-dir" in hello(d)["off"]["history"]
    r = api(d, topics="cpu")
    assert r.status == 503 and "no state-dir" in r.text
    assert metric(d, "sysfeed_history_up") == 0
    # no history, no SQLite in memory (about 0.3 MB resident)
    assert not d.maps("libsqlite3.so")


def test_garbage_file_is_left_alone(start_daemon, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    junk = os.urandom(8192)
    (state / "history.db").write_bytes(junk)
    d = start_daemon(config=config(state))
    off = wait_for(lambda: hello(d).get("off", {}).get("history"), 10, "off.history")
    assert "not a SQLite database" in off, off
    d.wait_stderr(r"history: off: .*not a SQLite database", 5)
    stream_flows(d)
    assert api(d, topics="cpu").status == 503
    assert (state / "history.db").read_bytes() == junk
    # moved away by the admin: a new file at the next flush
    os.rename(state / "history.db", tmp_path / "moved.db")
    wait_for(lambda: "history" not in hello(d).get("off", {}), 10, "history back on")
    wait_for(lambda: rows_since(d, now_ms() - 60000), 10, "rows in the new file")


def test_truncated_file_is_moved_aside(start_daemon, tmp_path):
    state = tmp_path / "state"
    t0 = now_ms()
    d = start_daemon(interval=100, config=config(state))
    wait_for(lambda: len(rows_since(d, t0)) >= 50, 20, "rows")
    assert d.stop()[0] == 0
    db = state / "history.db"
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.truncate(size // 2)
    d = start_daemon(config=config(state))
    d.wait_stderr(r"history: .*moved to .*history\.db\.corrupt", 10)
    assert (state / "history.db.corrupt").exists()
    stream_flows(d)
    wait_for(lambda: rows_since(d, now_ms() - 60000), 10, "rows in the new file")
    assert "history" not in hello(d).get("off", {})


def need_root_mounts():
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs the test mounts, unmounted at the end."""
    need_root_mounts()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = []

    def mount(opts):
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "sysfeed-test", str(mnt)],
                       check=True)
        mounted.append(mnt)
        return mnt

    yield mount
    for m in mounted:
        subprocess.run(["umount", "-l", str(m)], check=False)


def remount(mnt, opts):
    subprocess.run(["mount", "-o", "remount," + opts, str(mnt)], check=True)


def test_read_only_dir_then_writable(start_daemon, tmpfs):
    mnt = tmpfs("size=8m,mode=0755")
    remount(mnt, "ro")
    d = start_daemon(config=config(mnt / "state"))
    off = wait_for(lambda: hello(d).get("off", {}).get("history"), 10, "off.history")
    assert "Read-only file system" in off, off
    stream_flows(d)
    assert api(d, topics="cpu").status == 503
    remount(mnt, "rw")
    wait_for(lambda: "history" not in hello(d).get("off", {}), 15, "history back on")
    t = now_ms()
    wait_for(lambda: rows_since(d, t - 5000), 10, "rows once writable")


def test_full_disk_pauses_and_resumes(start_daemon, tmpfs):
    mnt = tmpfs("size=4m")
    state = mnt / "state"
    t0 = now_ms()
    d = start_daemon(config=config(state))
    wait_for(lambda: (metric(d, "sysfeed_history_commits_total") or 0) >= 2, 20, "commits")
    filler = mnt / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    full_at = now_ms()
    off = wait_for(lambda: hello(d).get("off", {}).get("history"), 15, "off.history")
    assert "full" in off, off
    stream_flows(d)
    # what was written stays readable while paused
    assert api(d, topics="cpu", **{"from": t0}).status == 200
    filler.unlink()
    wait_for(lambda: "history" not in hello(d).get("off", {}), 15, "history back on")
    # the rows of the paused seconds waited in memory: no hole
    wait_for(lambda: [r for r in rows_since(d, t0) if r[0] > now_ms() - 3000], 10,
             "new rows")
    rows = rows_since(d, full_at - 1000)
    times = [r[0] for r in rows if r[1] is not None]
    assert times and max(b - a for a, b in zip(times, times[1:])) <= 1000, times


def test_state_directory_from_systemd_and_flag(start_daemon, sysfeed_bin, tmp_path):
    """systemd's $STATE_DIRECTORY (the first of a list) is the default;
    --state-dir wins over it."""
    env = dict(os.environ, STATE_DIRECTORY="%s:%s" % (tmp_path / "a", tmp_path / "b"))
    out = subprocess.run([sysfeed_bin, "--print-config"], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert "state-dir = %s  # restart" % (tmp_path / "a") in out
    d = start_daemon(env=env, config="history-flush-seconds = 1\n")
    wait_for(lambda: (tmp_path / "a" / "history.db").exists(), 10, "the file in a")
    assert not (tmp_path / "b").exists()
    d = start_daemon(env=env, args=["--state-dir", str(tmp_path / "c")])
    wait_for(lambda: (tmp_path / "c" / "history.db").exists(), 10, "the file in c")


FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def test_clock_steps_back(start_daemon, tmp_path):
    """The daemon's wall clock goes back 10 minutes (libfaketime, Debian's
    faketime, reading its offset from a file at every call): history pauses
    with the reason, the stream goes on, nothing is written out of order;
    the clock comes forward and history resumes."""
    if not os.path.exists(FAKETIME):
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    offset = tmp_path / "offset"

    def set_offset(text):
        (tmp_path / "offset.tmp").write_text(text + "\n")
        os.rename(tmp_path / "offset.tmp", offset)

    set_offset("+0")
    env = dict(os.environ, LD_PRELOAD=FAKETIME, FAKETIME_TIMESTAMP_FILE=str(offset),
               FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1")
    # under AddressSanitizer the preloaded library comes before its runtime
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "verify_asan_link_order=0"
    t0 = now_ms()
    d = start_daemon(env=env, config=config(tmp_path / "state"))
    wait_for(lambda: (metric(d, "sysfeed_history_commits_total") or 0) >= 2, 20, "commits")
    set_offset("-10m")
    off = wait_for(lambda: hello(d).get("off", {}).get("history"), 15, "off.history")
    assert "clock is behind" in off, off
    d.wait_stderr(r"history: paused: the clock is behind", 5)
    stream_flows(d)
    set_offset("+0")
    wait_for(lambda: "history" not in hello(d).get("off", {}), 15, "history back on")
    back = now_ms()
    rows = wait_for(lambda: [r for r in rows_since(d, t0, to=now_ms())
                             if r[0] > back] and rows_since(d, t0, to=now_ms()), 15,
                    "rows after the clock came back")
    times = [r[0] for r in rows]
    assert times == sorted(set(times))  # in order, none twice
    assert all(t >= t0 for t in times)  # none of the 10 minutes back
