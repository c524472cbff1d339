#!/usr/bin/python3
"""A plain Python SSE client, as a script would write one: http.client, the
parsing rules of the HTML spec (the id of a frame counts once the frame is
dispatched at its blank line), and reconnection with Last-Event-ID after
`retry` milliseconds whenever the connection breaks or ends.

usage: sse_client.py URL

Prints one JSON object per line: {"open": status} for each response, then
{"type", "id", "len"} for each event dispatched (hello with "json":
whether its data is one JSON document). Runs until killed.
"""

import http.client
import json
import sys
import time
import urllib.parse


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def is_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def main():
    url = urllib.parse.urlsplit(sys.argv[1])
    path = url.path + ("?" + url.query if url.query else "")
    last_id = ""
    retry_ms = 3000
    while True:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        try:
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
            if last_id:
                headers["Last-Event-ID"] = last_id
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            out({"open": resp.status})
            if resp.status != 200:
                return 1
            # Per-connection state: the spec resets these on reconnect.
            pending = b""
            ev_type, data, id_buf = "", [], last_id
            first = True
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8")
                    if first:
                        line = line.lstrip("\ufeff")
                        first = False
                    if line.endswith("\r"):
                        line = line[:-1]
                    if line == "":
                        last_id = id_buf
                        if data:
                            text = "\n".join(data)
                            ev = {"type": ev_type or "message", "id": last_id, "len": len(text)}
                            if ev_type == "hello":
                                ev["json"] = is_json(text)
                            out(ev)
                        ev_type, data = "", []
                        continue
                    if line.startswith(":"):
                        continue
                    field, _, value = line.partition(":")
                    if value.startswith(" "):
                        value = value[1:]
                    if field == "event":
                        ev_type = value
                    elif field == "data":
                        data.append(value)
                    elif field == "id" and "\0" not in value:
                        id_buf = value
                    elif field == "retry" and value.isdigit():
                        retry_ms = int(value)
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(retry_ms / 1000)


if __name__ == "__main__":
    sys.exit(main())
