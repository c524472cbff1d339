"""Debian's Prometheus scrapes sysfeed over TLS with a bearer token (the
scrape config of docs/remote.md): `up` is 1 with the token and 0 with a
wrong one, and sysfeed's own families arrive."""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from remote_pki import make_ca, make_cert, write_secret
from sysfeed_harness import stop_process
from test_remote import HTTPS_RE

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (port, urllib.parse.quote(q))
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)["data"]["result"]


def test_prometheus_scrapes_over_tls_with_a_token(start_daemon, tmp_path, sysfeed_bin):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("no prometheus binary (Debian package prometheus)")
    d = str(tmp_path)
    make_ca(d)
    cert, key = make_cert(d, "srv", "sysfeed")
    tokens = str(tmp_path / "tokens")
    token = subprocess.run([sysfeed_bin, "token", "--file", tokens, "add", "prometheus"],
                           capture_output=True, text=True, check=True).stdout.strip()
    write_secret(tmp_path / "prom.token", token + "\n")
    write_secret(tmp_path / "bad.token", "sysfeed_" + "0" * 64 + "\n")
    daemon = start_daemon(config="listen = https://0.0.0.0:0, 127.0.0.1:0\ntls-cert = %s\n"
                          "tls-key = %s\nauth-tokens = %s\n" % (cert, key, tokens), listen=False)
    port = int(daemon.wait_stderr(HTTPS_RE, 5).group(2))
    job = """  - job_name: %s
    scheme: https
    authorization:
      credentials_file: %s
    tls_config:
      ca_file: %s
      server_name: sysfeed.test
    static_configs:
      - targets: ["127.0.0.1:%d"]
"""
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
        + job % ("sysfeed", tmp_path / "prom.token", os.path.join(d, "ca.crt"), port)
        + job % ("wrong", tmp_path / "bad.token", os.path.join(d, "ca.crt"), port))
    web = free_port()
    prom = subprocess.Popen([PROMETHEUS, "--config.file", str(tmp_path / "prometheus.yml"),
                             "--storage.tsdb.path", str(tmp_path / "data"),
                             "--web.listen-address", "127.0.0.1:%d" % web],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        ups = {}
        while time.monotonic() < deadline:
            try:
                ups = {r["metric"]["job"]: r["value"][1] for r in query(web, "up")}
            except OSError:
                ups = {}
            if ups.get("sysfeed") == "1" and ups.get("wrong") == "0":
                break
            time.sleep(0.5)
        assert ups == {"sysfeed": "1", "wrong": "0"}, ups
        deadline = time.monotonic() + 30
        while not query(web, 'sysfeed_build_info{job="sysfeed"}'):
            assert time.monotonic() < deadline, "no sysfeed_build_info scraped"
            time.sleep(0.5)
        assert not query(web, 'sysfeed_build_info{job="wrong"}')
    finally:
        stop_process(prom, 20)
    text = daemon.stderr_text()
    assert "logged in as prometheus (token)" in text
    assert token not in text
