"""A test CA, server certificates, users and tokens files for the remote
access tests (TLS and authentication), made with openssl and libcrypt in
a temporary directory."""

import ctypes
import os
import socket
import ssl
import subprocess
import time

HOST = "sysfeed.test"


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_ca(d):
    """CA in d/ca.crt and d/ca.key (EC P-256)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=sysfeed test CA",
            cwd=d)


def make_cert(d, name, cn, rsa=False):
    """A server certificate signed by the CA: d/NAME.crt, d/NAME.key (0600)."""
    key = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt",
                                                "ec_paramgen_curve:P-256"]
    openssl("req", *key, "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/CN=" + cn, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\n" % HOST)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "30", "-extfile", name + ".ext",
            cwd=d)
    os.chmod(os.path.join(d, name + ".key"), 0o600)
    return os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")


_libcrypt = ctypes.CDLL("libcrypt.so.1")
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]


def crypt_hash(password, prefix="$y$"):
    """yescrypt ($y$), bcrypt ($2b$) or sha512crypt ($6$) of password."""
    salt = _libcrypt.crypt_gensalt(prefix.encode(), 0, None, 0)
    return _libcrypt.crypt(password.encode(), salt).decode()


def write_secret(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


def client_context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def tls_connect(port, ca, host=HOST, timeout=5):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return client_context(ca).wrap_socket(raw, server_hostname=host)


def request(port, ca, path="/healthz", headers=None, host=HOST, timeout=5):
    """One GET over TLS with Connection: close -> (status, headers dict of
    lists (lowercase names), body bytes)."""
    s = tls_connect(port, ca, timeout=timeout)  # SNI: always HOST
    lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Connection: close"]
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except (ssl.SSLError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    first, *rest = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in rest:
        k, _, v = line.partition(":")
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    if hdrs.get("transfer-encoding") == ["chunked"]:
        out, pos = b"", 0
        while True:
            nl = body.index(b"\r\n", pos)
            n = int(body[pos:nl], 16)
            if n == 0:
                break
            out += body[nl + 2:nl + 2 + n]
            pos = nl + 2 + n + 2
        body = out
    return int(first.split()[1]), hdrs, body


class TLSStream:
    """An event stream over TLS, read line by line with deadlines."""

    def __init__(self, port, ca, headers, path="/events?topics=load"):
        self.sock = tls_connect(port, ca)
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (HOST, port)]
        lines += ["%s: %s" % kv for kv in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        self.ids = []
        head = self._until(b"\r\n\r\n", 5)
        self.status = int(head.split()[1])

    def _until(self, sep, timeout):
        deadline = time.monotonic() + timeout
        while sep not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %r within %ss" % (sep, timeout))
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("stream closed")
            self.buf += chunk
        out, _, self.buf = self.buf.partition(sep)
        return out

    def wait_ids(self, n, timeout=10):
        """Reads until n more `id:` lines arrived -> the new ids."""
        want = len(self.ids) + n
        deadline = time.monotonic() + timeout
        while len(self.ids) < want:
            line = self._until(b"\n", max(0.1, deadline - time.monotonic()))
            if line.startswith(b"id:"):
                self.ids.append(line[3:].strip().decode())
        return self.ids[want - n:]

    def close(self):
        self.sock.close()


def peer_cert_serial(port, ca):
    s = tls_connect(port, ca)
    der = s.getpeercert(binary_form=True)
    s.close()
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                         capture_output=True, check=True)
    return out.stdout.decode().strip()
