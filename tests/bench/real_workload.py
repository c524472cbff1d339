"""The tick cost of `svc` plus `containers` on this host's real cgroupfs.

workload_cost's generated tree lives on tmpfs, whose reads cost what
tmpfs costs; this makes the same host in the kernel's own cgroup
hierarchies, runs `workload_cost -r` over the live /sys and /proc, and
removes it all again:

- BENCH_REAL_CONTAINERS (200) cgroups machine.slice/libpod-ID.scope (as
  Podman's systemd driver names them), BENCH_REAL_SERVICES (50)
  system.slice/sysfeed-benchN.service, in every hierarchy that the host
  has of the unified one (v2), or cpu, cpuacct, memory, pids, blkio,
  freezer and name=systemd (v1, hybrid);
- one process in each, in a network namespace of its own for containers
  (`unshare -n`): BENCH_REAL_BUSY (20) containers and
  BENCH_REAL_BUSY_SERVICES (every) services run a Perl loop that wakes 20
  times a second (their counters move between ticks, at little CPU), the
  others sleep. `make bench` runs it twice as root: the host with 200
  containers and its own services (BENCH_REAL_SERVICES=0), and the stress
  case of the defaults (70 units whose counters move every tick).

Prints workload_cost's lines; BENCH_REAL_TICKS (100) ticks
BENCH_REAL_INTERVAL_MS (200) apart after BENCH_REAL_WARMUP (5). BENCH_REAL_WRAP prefixes workload_cost's command line
("strace -c -o FILE"). BENCH_REAL_AGAINST names another build's bench
directory: its workload_cost runs at the same time over the same tree,
half an interval apart, and its lines are printed after ours prefixed
"against:" (an A/B pair that shares the host's noise). Needs root and
Perl. Python 3 standard library only."""

import os
import signal
import subprocess
import sys
import time

N_CTR = int(os.environ.get("BENCH_REAL_CONTAINERS", "200"))
N_BUSY = int(os.environ.get("BENCH_REAL_BUSY", "20"))
N_SVC = int(os.environ.get("BENCH_REAL_SERVICES", "50"))
N_SVC_BUSY = int(os.environ.get("BENCH_REAL_BUSY_SERVICES", str(N_SVC)))
TICKS = int(os.environ.get("BENCH_REAL_TICKS", "100"))
WARMUP = int(os.environ.get("BENCH_REAL_WARMUP", "5"))
INTERVAL = int(os.environ.get("BENCH_REAL_INTERVAL_MS", "200"))
BENCH = os.environ.get("SYSFEED_BENCH", "build/bench")
WRAP = os.environ.get("BENCH_REAL_WRAP", "").split()  # "strace -c -o FILE"
AGAINST = os.environ.get("BENCH_REAL_AGAINST", "")
CG = "/sys/fs/cgroup"
V2 = os.path.exists(CG + "/cgroup.controllers")
HIERS = [""] if V2 else [h for h in ("cpu", "cpuacct", "memory", "pids", "blkio", "freezer",
                                     "systemd") if os.path.isfile(f"{CG}/{h}/cgroup.procs")]
BUSY = "$|=1; while (1) { select(undef, undef, undef, 0.05); my $x = 0; $x += $_ for 1..2000 }"


def spawn(argv, cgroup):
    """Starts argv and moves it into cgroup in every hierarchy."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    for h in HIERS:
        with open(os.path.join(CG, h, cgroup, "cgroup.procs"), "w") as f:
            f.write(str(p.pid))
    return p


def main():
    if os.geteuid() != 0:
        print("real_workload: needs root (it makes cgroups): skipped")
        return 0
    made, procs = [], []
    try:
        for slice_ in ("machine.slice", "system.slice"):
            for h in HIERS:
                d = os.path.join(CG, h, slice_)
                if not os.path.isdir(d):
                    os.mkdir(d)
                    made.append(d)
        if V2:
            with open(CG + "/cgroup.controllers") as f:
                ctl = f.read().split()
            for d in (CG, CG + "/machine.slice", CG + "/system.slice"):
                for c in ("cpu", "memory", "pids", "io"):
                    if c in ctl:
                        with open(d + "/cgroup.subtree_control", "w") as f:
                            f.write("+" + c)
        for i in range(N_CTR):
            rel = "machine.slice/libpod-%064x.scope" % (0xbe7c0000 + i * 7919)
            for h in HIERS:
                os.mkdir(os.path.join(CG, h, rel))
                made.append(os.path.join(CG, h, rel))
            argv = ["perl", "-e", BUSY] if i < N_BUSY else ["sleep", "3600"]
            procs.append(spawn(["unshare", "-n"] + argv, rel))
        for i in range(N_SVC):
            rel = "system.slice/sysfeed-bench%03d.service" % i
            for h in HIERS:
                os.mkdir(os.path.join(CG, h, rel))
                made.append(os.path.join(CG, h, rel))
            argv = ["perl", "-e", BUSY] if i < N_SVC_BUSY else ["sleep", "3600"]
            procs.append(spawn(argv, rel))
        layout = "v2" if V2 else "v1"
        print(f"real_workload: {N_CTR} containers ({min(N_BUSY, N_CTR)} busy), {N_SVC} services "
              f"({min(N_SVC_BUSY, N_SVC)} busy) made beside the host's own", flush=True)
        args = ["-r", "-l", layout, "-c", str(N_CTR), "-b", str(N_BUSY), "-s", str(N_SVC),
                "-t", str(TICKS), "-w", str(WARMUP), "-i", str(INTERVAL)]
        other = None
        if AGAINST:
            other = subprocess.Popen([os.path.join(AGAINST, "workload_cost")] + args,
                                     stdout=subprocess.PIPE, text=True)
            procs.append(other)
            time.sleep(INTERVAL / 2000)
        r = subprocess.run(WRAP + [os.path.join(BENCH, "workload_cost")] + args, timeout=600)
        if other:
            out, _ = other.communicate(timeout=600)
            for line in out.splitlines():
                print("against: " + line)
            return r.returncode or other.returncode
        return r.returncode
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
        for p in procs:
            p.wait()
        for d in reversed(made):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)  # the last task is still leaving
            else:
                print(f"real_workload: could not remove {d}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
