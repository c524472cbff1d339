"""The `units` topic's degraded path: no system bus (containers, CI) turns
it off with a reason at once, and the other topics carry on. The path with
systemd as PID 1 runs in the packaging test's systemd-nspawn container."""

import os
import time

from sysfeed_harness import get_json


def test_no_system_bus_turns_units_off(start_daemon):
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/sysfeed-bus")
    t0 = time.monotonic()
    d = start_daemon(env=env)
    c = d.sse()
    hello, snap = c.wait_hello_snapshot()
    assert time.monotonic() - t0 < 5
    h = hello.json
    assert "units" not in h["topics"]
    assert h["off"]["units"] == "no system bus: No such file or directory"
    assert "units" not in snap.json["topics"]
    assert "units" not in get_json(d.port, "/api/snapshot")["topics"]
    # the rest streams on
    c.wait_until(lambda: sum(e.type == "cpu" for e in c.events) >= 2, 10, "cpu events")
    # asking for it is not an error: the stream says why it is off
    u = d.sse("/events?topics=units")
    h2, _ = u.wait_hello_snapshot()
    assert h2.json["off"]["units"] == h["off"]["units"]
