"""What the daemon tells its service manager through $NOTIFY_SOCKET: READY=1
once it serves, WATCHDOG=1 once per half period while the loop runs (and
not more: systemd handles every message, so a flood costs PID 1 a core),
STOPPING=1 on the way out. A real datagram socket stands in for systemd's
notify socket; the daemon's own libsystemd writes to it."""

import os
import select
import signal
import socket
import time

from sysfeed_harness import deadline_after, remaining

PERIOD_S = 0.1  # WATCHDOG_USEC=200000: a ping every 100 ms


class Notify:
    """The service manager's end: a datagram socket and what came in."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.messages = []  # (monotonic time, text)

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if select.select([self.sock], [], [], left)[0]:
                self.messages.append((time.monotonic(), self.sock.recv(4096).decode()))

    def pump_until(self, cond, timeout, what):
        deadline = deadline_after(timeout)
        while not cond():
            assert remaining(deadline) > 0, "no %s in %s s: %r" % (what, timeout,
                                                                   self.messages[-5:])
            self.pump(0.05)

    def count(self, word, since=0.0):
        return sum(1 for t, m in self.messages if t >= since and word in m.split("\n"))


def test_ready_watchdog_once_a_period_and_stopping(start_daemon, tmp_path):
    path = str(tmp_path / "notify")
    n = Notify(path)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(int(PERIOD_S * 2e6)))
    env.pop("WATCHDOG_PID", None)
    d = start_daemon(env=env)
    n.pump_until(lambda: n.count("READY=1"), 10, "READY=1")
    # the pings come: a few periods' worth, however late a busy machine
    # runs the loop
    n.pump_until(lambda: n.count("WATCHDOG=1") >= 5, 10, "five WATCHDOG=1")
    t0 = time.monotonic()
    n.pump(1.0)
    took = time.monotonic() - t0
    pings = n.count("WATCHDOG=1", since=t0)
    # one per period at most (a late timer coalesces, never adds): a loop
    # that left the timer unread sent thousands here
    assert pings <= took / PERIOD_S + 3, "%d pings in %.2f s" % (pings, took)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(10) == 0
    n.pump_until(lambda: n.count("STOPPING=1"), 5, "STOPPING=1")
    n.sock.close()
