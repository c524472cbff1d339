"""A proc tree for --proc-root whose /proc/stat has as many CPUs as asked and
moving counters: a way to make the daemon publish large frames (a 512-CPU host
gives ~64 KB cpu frames) so that back-pressure is reached within seconds."""

import os
import shutil
import threading

# Files copied from the live /proc once (static is fine for them).
COPIED = ["meminfo", "loadavg", "vmstat", "diskstats", "net/dev", "net/snmp", "net/netstat",
          "net/sockstat", "sys/kernel/hostname",
          "sys/kernel/osrelease", "sys/kernel/ostype", "pressure/cpu", "pressure/memory",
          "pressure/io", "swaps", "cpuinfo"]


def _copy_text(src, dst):
    try:
        with open(src, "rb") as f:
            data = f.read()
    except OSError:
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "wb") as f:
        f.write(data)


class FakeProc:
    def __init__(self, root, ncpu, period=0.05):
        self.root = str(root)
        self.ncpu = ncpu
        self.period = period
        os.makedirs(self.root, exist_ok=True)
        for name in COPIED:
            _copy_text(os.path.join("/proc", name), os.path.join(self.root, name))
        with open("/proc/stat") as f:
            self._tail = [l for l in f.read().splitlines() if not l.startswith("cpu")]
        with open("/proc/uptime") as f:
            self._uptime = float(f.read().split()[0])
        self._n = 0
        self._stop = threading.Event()
        self._write()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _write(self):
        n = self._n
        # Per CPU and step: 2 user, 1 system, 2 idle jiffies (100 Hz, 50 ms).
        per = [(1000 + 2 * n + (i % 3), 0, 500 + n, 10000 + 2 * n, 0, 0, 0, 0, 0, 0)
               for i in range(self.ncpu)]
        total = [sum(col) for col in zip(*per)]
        lines = ["cpu  " + " ".join(map(str, total))]
        lines += ["cpu%d %s" % (i, " ".join(map(str, p))) for i, p in enumerate(per)]
        self._atomic("stat", "\n".join(lines + self._tail) + "\n")
        up = self._uptime + n * self.period
        self._atomic("uptime", "%.2f %.2f\n" % (up, up * self.ncpu * 0.9))

    def _atomic(self, name, text):
        path = os.path.join(self.root, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)

    def _run(self):
        # Simulates a live /proc: the counters move with time.
        while not self._stop.wait(self.period):
            self._n += 1
            self._write()

    def close(self):
        self._stop.set()
        self._t.join(2)
        shutil.rmtree(self.root, ignore_errors=True)
