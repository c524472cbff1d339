r"""`make check-docs`: docs/events.md and docs/metrics.md against what the
daemon writes, both ways.

Payload fields. A topic's section of docs/events.md (`## \`topic\``) lists
its fields in tables whose first column is headed `field`: each cell holds
one or more full paths in backquotes (`interfaces[].rx_bytes_per_s`;
`{cpu,memory,io}.{some,full}.avg10` stands for six). The reference is
every path of the topic's golden payloads (tests/fixtures/*/expected/
<topic>[.N].json) and, for the topics with field tables, every field
build/fields lists. A path in the reference that the doc does not name
fails (a container counts as named when a field below it is), and so does
a path the doc names that the reference lacks. Topics without golden
payloads (log, file, units) are checked one way only: every documented
field must be a string literal in their collector's sources.

Families. Every table of docs/metrics.md whose first column is headed
`metric` names families (braces expand as above), with their type in the
second column. The reference is every `# TYPE` of the golden .prom files,
every family build/fields lists, and every full family name written as a
string literal in collectors/, daemon/ and lib/ (the families with no
golden: fs, proc, svc, log, file, units and the daemon's own). Both ways
again, and a documented type must be the one the goldens, build/fields or
the source beside the name state.

Each failure lists every difference, not just the first. The tests at the
bottom run the same comparison on a copy of the docs with one field
removed and one added, and show that both are found."""

import glob
import json
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
DOCS = os.path.join(ROOT, "docs")

# The topics whose payloads have goldens; the others are checked against
# their sources. hello and snapshot are described in prose.
SOURCE_ONLY = {
    "log": "collectors/journal*.c",
    "file": "collectors/file*.c",
    "units": "collectors/units*.c",
    "alert": "daemon/alert*.c",
}


def expand(pattern):
    """`{a,b}.{c,d}` to its four paths (as build/fields writes them)."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    out = []
    for alt in m.group(1).split(","):
        out += expand(pattern[:m.start()] + alt + pattern[m.end():])
    return out


def split_row(line):
    cells = line.strip().strip("|").split("|")
    return [c.strip() for c in cells]


def tables(text):
    """(header cells, [row cells]) of each markdown table in text, code
    blocks skipped. A `\\|` inside a cell is kept in the cell."""
    out, rows, fenced = [], None, False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced or not line.startswith("|"):
            rows = None
            continue
        line = line.replace("\\|", "\x00")
        cells = [c.replace("\x00", "|") for c in split_row(line)]
        if rows is None:
            rows = []
            out.append((cells, rows))
        elif not set("".join(cells)) <= set("-: "):
            rows.append(cells)
    return out


def names_in(cell):
    """The backquoted names of a cell, braces expanded; `a[]` is `a`."""
    out = []
    for raw in re.findall(r"`([^`]+)`", cell):
        for name in expand(raw):
            out.append(name[:-2] if name.endswith("[]") else name)
    return out


def sections(text):
    """{topic: its text} of docs/events.md, one per `## \\`topic\\`` heading."""
    parts = re.split(r"^## `([a-z]+)`.*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def documented_fields(text):
    """{topic: set of documented paths} from the `field` tables."""
    out = {}
    for topic, body in sections(text).items():
        paths = out.setdefault(topic, set())
        for header, rows in tables(body):
            if header[0] != "field":
                continue
            for row in rows:
                paths.update(names_in(row[0]))
    return out


def documented_families(text):
    """{family: documented type} from the `metric` tables."""
    out = {}
    for header, rows in tables(text):
        if header[0] != "metric":
            continue
        for row in rows:
            for name in names_in(row[0]):
                out[name] = row[1] if len(row) > 1 else ""
    return out


def flatten(value, prefix, paths):
    """Every path of a payload, containers too: "tcp.inuse",
    "interfaces[].name" (written "interfaces.name" here: `[]` is dropped,
    as names_in drops it)."""
    if isinstance(value, dict):
        for k, v in value.items():
            path = prefix + "." + k if prefix else k
            paths.add(path)
            flatten(v, path, paths)
    elif isinstance(value, list):
        for item in value:
            flatten(item, prefix, paths)


def plain(path):
    return path.replace("[]", "")


def golden_fields():
    """{topic: paths of its golden payloads}."""
    out = {}
    for path in glob.glob(os.path.join(FIXTURES, "*", "expected", "*.json")):
        topic = os.path.basename(path).split(".")[0]
        with open(path) as f:
            flatten(json.load(f), "", out.setdefault(topic, set()))
    return out


def golden_families():
    out = {}
    for path in glob.glob(os.path.join(FIXTURES, "*", "expected", "*.prom")):
        with open(path) as f:
            for line in f:
                if line.startswith("# TYPE "):
                    _, _, name, type_ = line.split()
                    out[name] = type_
    return out


def source_families():
    """{family: type} of the full family names written as string literals
    in the C sources; the type where the source states it beside the name
    (`metrics_family(m, "name", "type", ...)` or `# TYPE name type`), else ""."""
    out = {}
    for path in glob.glob(os.path.join(ROOT, "*", "*.c")):
        if os.path.basename(os.path.dirname(path)) not in ("collectors", "daemon", "lib"):
            continue
        with open(path, errors="replace") as f:
            text = f.read()
        for name in re.findall(r'"((?:node|sysfeed)_[a-z0-9_]+)', text):
            if not name.endswith("_"):
                out.setdefault(name, "")
        for name, type_ in re.findall(r'"((?:node|sysfeed)_[a-z0-9_]+)",\s*"(gauge|counter)"', text):
            out[name] = type_
        for name, type_ in re.findall(r"# TYPE ((?:node|sysfeed)_[a-z0-9_]+) (gauge|counter)", text):
            out[name] = type_
    return out


def source_literals(pattern):
    out = set()
    for path in glob.glob(os.path.join(ROOT, pattern)):
        with open(path, errors="replace") as f:
            out.update(re.findall(r'"([a-z_][a-z0-9_]*)"', f.read()))
    return out


@pytest.fixture(scope="module")
def listing(fields_run):
    """{("json"|"prom", topic): {name: type}} from build/fields."""
    rows = {}
    for line in fields_run.stdout.splitlines():
        if not line.startswith("#"):
            kind, topic, name, type_ = line.split("\t")[:4]
            rows.setdefault((kind, topic), {})[name] = type_
    return rows


@pytest.fixture(scope="module")
def reference_fields(listing):
    ref = golden_fields()
    ref.pop("stat", None)  # a parse of /proc/stat (test_cpu_stat), not a topic
    for (kind, topic), names in listing.items():
        if kind == "json":
            ref.setdefault(topic, set()).update(plain(n) for n in names)
    return ref


@pytest.fixture(scope="module")
def reference_families(listing):
    """{family: type}: the sources', build/fields' and the goldens' (the
    last one known wins; test_family_types_agree checks they agree)."""
    ref = source_families()
    for (kind, _), names in listing.items():
        if kind == "prom":
            ref.update(names)
    ref.update(golden_families())
    return ref


def read(name):
    with open(os.path.join(DOCS, name)) as f:
        return f.read()


def field_differences(doc_text, ref):
    """Lines saying what differs between the doc's fields and ref."""
    doc = {t: {plain(p) for p in paths} for t, paths in documented_fields(doc_text).items()}
    diff = []
    for topic in sorted(set(ref) | set(doc)):
        if topic in SOURCE_ONLY or topic in ("hello", "snapshot"):
            continue
        named = doc.get(topic, set())
        if topic not in doc:
            diff.append("%s: no `## `%s`` section in docs/events.md" % (topic, topic))
            continue
        implied = {p.rsplit(".", k)[0] for p in named for k in range(p.count(".") + 1)}
        for p in sorted(ref.get(topic, set()) - implied):
            diff.append("%s: `%s` is in the payloads, not in docs/events.md" % (topic, p))
        for p in sorted(named - ref.get(topic, set())):
            diff.append("%s: `%s` is in docs/events.md, in no golden payload or field table"
                        % (topic, p))
    for topic, pattern in sorted(SOURCE_ONLY.items()):
        literals = source_literals(pattern)
        for p in sorted(doc.get(topic, set())):
            if p.split(".")[-1] not in literals:
                diff.append("%s: `%s` is in docs/events.md, not in %s" % (topic, p, pattern))
    return diff


def family_differences(doc_text, ref):
    doc = documented_families(doc_text)
    diff = ["`%s` is in the goldens, field tables or sources, not in docs/metrics.md" % n
            for n in sorted(set(ref) - set(doc))]
    diff += ["`%s` is in docs/metrics.md, in no golden, field table or source" % n
             for n in sorted(set(doc) - set(ref))]
    diff += ["`%s` is a %s in docs/metrics.md, a %s in the code" % (n, doc[n], ref[n])
             for n in sorted(set(doc) & set(ref)) if ref[n] and doc[n] != ref[n]]
    return diff


def test_events_doc_matches_payloads(reference_fields):
    diff = field_differences(read("events.md"), reference_fields)
    assert diff == [], "\n" + "\n".join(diff)


def test_metrics_doc_matches_families(reference_families):
    diff = family_differences(read("metrics.md"), reference_families)
    assert diff == [], "\n" + "\n".join(diff)


def test_family_types_agree(listing):
    """The goldens, build/fields and the sources never give one family two
    types (so that the reference's type is the type)."""
    seen = {}
    sources = [source_families(), golden_families()]
    sources += [names for (kind, _), names in listing.items() if kind == "prom"]
    for types in sources:
        for name, type_ in types.items():
            if type_:
                assert seen.setdefault(name, type_) == type_, name


def test_every_goldens_topic_is_checked(reference_fields):
    """The goldens cover the sampled topics; were one to lose its goldens,
    the check would silently shrink."""
    assert {"cpu", "mem", "load", "psi", "net", "disk", "fs", "temp", "host", "proc",
            "svc"} <= set(reference_fields)


def test_layout_names_every_source_file():
    """docs/development.md's layout has a line for every source file of the
    floors and the page (a .c and its .h share one), and none that is gone."""
    with open(os.path.join(DOCS, "development.md")) as f:
        text = f.read()
    layout = text[text.index("## Layout"):]
    layout = layout[layout.index("```") + 3:]
    layout = layout[:layout.index("```")]
    listed, where = set(), None
    for line in layout.splitlines():
        m = re.match(r"^(\S+/)(\s|$)", line)
        if m:
            where = m.group(1)
            continue
        m = re.match(r"^  (\S+\.(?:c|h|js|html|css))\s", line)
        if m and where:
            listed.add(where + m.group(1))
    files = set()
    for d in ("lib", "collectors", "daemon", "tools", "web", "web/panels"):
        for path in glob.glob(os.path.join(ROOT, d, "*")):
            name = os.path.relpath(path, ROOT)
            if re.search(r"\.(c|js|html|css)$", name):
                files.add(name)
            elif name.endswith(".h") and not os.path.exists(path[:-2] + ".c"):
                files.add(name)
    missing = sorted(files - listed)
    gone = sorted(listed - files)
    assert (missing, gone) == ([], []), "layout of docs/development.md: missing %s, gone %s" % (
        missing, gone)


# The check itself: a field or family removed from the docs, or one added,
# is reported by name.

def test_a_removed_field_is_reported(reference_fields):
    text = read("events.md")
    line = next(l for l in text.splitlines() if l.startswith("| `tcp.orphan`"))
    diff = field_differences(text.replace(line + "\n", ""), reference_fields)
    assert diff == ["net: `tcp.orphan` is in the payloads, not in docs/events.md"]


def test_an_added_field_is_reported(reference_fields):
    text = read("events.md").replace(
        "| `load1`, ", "| `load1`, `load42`, ", 1)
    diff = field_differences(text, reference_fields)
    assert diff == ["load: `load42` is in docs/events.md, in no golden payload or field table"]


def test_a_field_gone_from_the_payloads_is_reported(reference_fields):
    ref = {t: set(p) for t, p in reference_fields.items()}
    ref["mem"].discard("dirty")
    diff = field_differences(read("events.md"), ref)
    assert diff == ["mem: `dirty` is in docs/events.md, in no golden payload or field table"]


def test_a_removed_family_is_reported(reference_families):
    text = read("metrics.md")
    line = next(l for l in text.splitlines() if l.startswith("| `node_intr_total`"))
    diff = family_differences(text.replace(line + "\n", ""), reference_families)
    assert diff == ["`node_intr_total` is in the goldens, field tables or sources, "
                    "not in docs/metrics.md"]


def test_an_added_family_and_a_wrong_type_are_reported(reference_families):
    text = read("metrics.md").replace("| `node_load1` | gauge |",
                                      "| `node_load1` | counter |", 1)
    text += "\n| metric | type |\n|---|---|\n| `sysfeed_nothing_total` | counter |\n"
    diff = family_differences(text, reference_families)
    assert diff == ["`sysfeed_nothing_total` is in docs/metrics.md, in no golden, "
                    "field table or source",
                    "`node_load1` is a counter in docs/metrics.md, a gauge in the code"]
