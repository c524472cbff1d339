"""The pure parts of tests/bench/wire: what it takes for the page's assets
(every file the page loads, found from / through the module imports) and
where it cuts the gzip stream after the opening snapshot. A failure here
means the bench would print a wrong first-load or stream figure."""

import importlib.machinery
import importlib.util
import os
import sys
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
WEB = os.path.join(ROOT, "web")


def load_wire():
    sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
    path = os.path.join(ROOT, "tests", "bench", "wire")
    loader = importlib.machinery.SourceFileLoader("bench_wire", path)
    spec = importlib.util.spec_from_loader("bench_wire", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


wire = load_wire()


def test_references_reach_every_page_file():
    """From / through link, script, modulepreload, static imports and the
    worker's new URL(..., import.meta.url): every .js and .css the page
    ships, the vendored uPlot included, and nothing else."""
    seen, todo = set(), ["/"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        with open(os.path.join(WEB, "index.html" if path == "/" else path[1:]),
                  encoding="utf-8") as f:
            todo.extend(wire.references(path, f.read()))
    shipped = {"/" + n for n in os.listdir(WEB) if n.endswith((".js", ".css"))}
    shipped |= {"/panels/" + n for n in os.listdir(os.path.join(WEB, "panels"))
                if n.endswith(".js")}
    shipped |= {"/vendor/uPlot.js", "/vendor/uPlot.min.css"}
    assert seen - {"/"} == shipped


def test_references_skip_other_origins_and_bare_names():
    html = ('<link rel="icon" href="data:,"><script src="https://cdn.example/x.js"></script>'
            '<link rel="stylesheet" href="a/b.css"><script type="module" src="/m.js"></script>')
    assert wire.references("/", html) == ["/a/b.css", "/m.js"]
    js = ("import x from 'lodash';\nimport { y } from '../up.js';\nimport './side.js';\n"
          "const w = new URL('w.js', import.meta.url); import('./lazy.js');")
    assert wire.references("/sub/m.js", js) == ["/up.js", "/sub/side.js", "/sub/lazy.js",
                                                 "/sub/w.js"]


def test_gzip_boundary_is_the_flush_after_the_snapshot():
    """hello + snapshot, a sync flush, then a tick and another flush: the cut
    is the end of the first flush, the gzip header included."""
    head = b"retry: 2000\nevent: hello\ndata: {}\n\nevent: snapshot\ndata: {\"x\":1}\nid: a-1\n\n"
    tick = b"event: cpu\ndata: {\"t\":1}\nid: a-2\n\n"
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = z.compress(head) + z.flush(zlib.Z_SYNC_FLUSH)
    body = first + z.compress(tick) + z.flush(zlib.Z_SYNC_FLUSH)
    assert wire.gzip_boundary(bytearray(body), len(head)) == len(first)
    # Without a flush point by then, all of it counts.
    assert wire.gzip_boundary(bytearray(first[:-4]), len(head)) == len(first) - 4
