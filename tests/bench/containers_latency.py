"""Container start and stop to the stream: how long from a container's
cgroup being made (or removed) to the `containers` change event a client
reads, through the real daemon.

1. BENCH_CTR_CGROUPS (50) cgroups named like Docker's cgroupfs containers
   (docker/ID) made and removed in this host's hierarchy (the unified one
   on cgroup v2, memory's on v1): the time from just before mkdir/rmdir to
   the parsed event: sysfeed's share alone (inotify, the walk, the hub).
2. BENCH_CTR_PODMAN (5) real Podman containers (an image imported from
   busybox-static): from just before `podman run -d` to the `started`
   event, and how long `podman run -d` itself took; then `podman rm -f`.
   Skipped without podman, runc or busybox.

Prints p50 and max of each in ms; the issue's bound is 1 s. Needs root.
Python 3 standard library only."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib as b

V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
ROOT = "/sys/fs/cgroup" if V2 else "/sys/fs/cgroup/memory"


def quantile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def wait_change(c, what, pred, timeout=10):
    """The arrival time (monotonic) of the change event pred accepts."""
    ev = c.wait_event(lambda e: e.type == "containers" and any(
        x["change"] == what and pred(x) for x in e.json.get("changes", [])), timeout,
        "a %s change" % what)
    return ev.received


def cgroups(c, n):
    made, gone = [], []
    parent = os.path.join(ROOT, "docker")
    fresh = not os.path.isdir(parent)
    if fresh:
        os.mkdir(parent)
    try:
        for i in range(n):
            cid = "%064x" % (0x5f5eed0000 + i * 7919 + os.getpid())
            path = os.path.join(parent, cid)
            t0 = time.monotonic()
            os.mkdir(path)
            made.append(wait_change(c, "started", lambda x: x["id"] == cid) - t0)
            t0 = time.monotonic()
            os.rmdir(path)
            gone.append(wait_change(c, "stopped", lambda x: x["id"] == cid) - t0)
    finally:
        if fresh:
            os.rmdir(parent)
    return made, gone


def podman(c, n):
    tmp = tempfile.mkdtemp()
    image = "localhost/sysfeed-busybox:bench"
    try:
        os.makedirs(os.path.join(tmp, "img", "bin"))
        shutil.copy("/bin/busybox", os.path.join(tmp, "img", "bin", "busybox"))
        os.symlink("busybox", os.path.join(tmp, "img", "bin", "sleep"))
        subprocess.run(["tar", "-C", os.path.join(tmp, "img"), "-cf",
                        os.path.join(tmp, "img.tar"), "."], check=True)
        subprocess.run(["podman", "import", os.path.join(tmp, "img.tar"), image], check=True,
                       capture_output=True, timeout=120)
    finally:
        shutil.rmtree(tmp)
    seen, own = [], []
    cmd = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
    for i in range(n):
        name = "sysfeed-bench-%d-%d" % (os.getpid(), i)
        t0 = time.monotonic()
        run = subprocess.run(cmd + ["run", "-d", "--name", name, "--ulimit", "nofile=1024:1024",
                                    "--ulimit", "nproc=1024:1024", image, "/bin/sleep", "600"],
                             check=True, capture_output=True, text=True, timeout=120)
        own.append(time.monotonic() - t0)
        seen.append(wait_change(c, "started", lambda x: x["name"] == name, 30) - t0)
        subprocess.run(cmd + ["rm", "-f", "-t", "0", name], check=True, capture_output=True,
                       timeout=120)
        wait_change(c, "stopped", lambda x: x["id"] == run.stdout.strip(), 30)
    return seen, own


def show(label, v):
    print("containers_latency: %s n %d p50_ms %.1f max_ms %.1f" % (
        label, len(v), quantile(v, 0.5) * 1e3, max(v) * 1e3), flush=True)


def main():
    if os.geteuid() != 0:
        b.die("needs root (it makes cgroups)")
    binary, _ = b.paths()
    b.install_cleanup()
    tmp = tempfile.mkdtemp()
    d = b.start_daemon(binary, tmp)
    c = b.SSEClient(d.port, "/events?topics=containers")
    c.wait_hello_snapshot(10)
    # the daemon looks about once a second whether someone follows
    # `containers`, and only then walks cgroups as they change (before, at
    # the tick): the figure is that of a client already there
    time.sleep(1.5)
    try:
        made, gone = cgroups(c, b.knob("BENCH_CTR_CGROUPS", 50))
        show("cgroup made -> started", made)
        show("cgroup removed -> stopped", gone)
        if shutil.which("podman") and shutil.which("runc") and os.path.exists("/bin/busybox"):
            seen, own = podman(c, b.knob("BENCH_CTR_PODMAN", 5))
            show("podman run -> started", seen)
            show("podman run -d itself", own)
        else:
            b.note("podman, runc or busybox missing: no real containers")
    finally:
        c.close()
        b.stop_daemon(d)
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
