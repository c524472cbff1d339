"""build/fields (tools/fields.c) against the golden outputs: every field
of the golden payloads of a topic with field tables is in its listing, and
everything listed is in some golden (or under an object a golden has as
null); every family of the golden .prom files is listed with the same
type and # HELP text."""

import glob
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


@pytest.fixture(scope="module")
def listing(fields_run):
    assert fields_run.stderr == ""
    rows = {}
    for line in fields_run.stdout.splitlines():
        if line.startswith("#"):
            continue
        kind, topic, name, type_, unit, labels, source, help_ = line.split("\t")
        rows.setdefault((kind, topic), {})[name] = (type_, help_)
    return rows


def flatten(value, prefix, paths, nulls):
    """Paths of an event payload as the listing names them: "tcp.inuse",
    "interfaces[].name"; containers too; keys whose value is null in nulls."""
    if isinstance(value, dict):
        for k, v in value.items():
            path = prefix + "." + k if prefix else k
            if isinstance(v, list):
                paths.add(path)
                for item in v:
                    flatten(item, path + "[]", paths, nulls)
            else:
                paths.add(path)
                if v is None:
                    nulls.add(path)
                flatten(v, path, paths, nulls)


def test_listing_matches_golden_payloads(listing):
    topics = sorted(t for (k, t) in listing if k == "json")
    assert topics == ["disk", "gpu", "health", "load", "mem", "net", "psi", "temp"]
    # health's tables describe its counters; its names, states and SMART
    # details are written beside them (checked against docs/events.md)
    for topic in [t for t in topics if t != "health"]:
        listed = set(listing[("json", topic)])
        paths, nulls = set(), set()
        files = glob.glob(os.path.join(FIXTURES, "*", "expected", topic + ".json")) + glob.glob(
            os.path.join(FIXTURES, "*", "expected", topic + ".*.json"))
        assert files, topic
        for path in files:
            with open(path) as f:
                flatten(json.load(f), "", paths, nulls)
        assert paths - listed == set(), "%s: in the payloads, not in the tables" % topic
        unseen = {p for p in listed - paths
                  if not any(p.startswith(n + ".") for n in nulls)}
        assert unseen == set(), "%s: in the tables, in no golden payload" % topic


def written_by(topic, family):
    """Whether a collector source of the topic names the family."""
    for path in glob.glob(os.path.join(ROOT, "collectors", "*.c")):
        with open(path) as f:
            text = f.read()
        if '.name = "%s"' % topic in text or os.path.basename(path).startswith(topic):
            if '"%s"' % family in text:
                return True
    return False


def test_listing_matches_golden_families(listing):
    seen = set()
    for path in glob.glob(os.path.join(FIXTURES, "*", "expected", "*.prom")):
        topic = os.path.basename(path).split(".")[0]
        if ("prom", topic) not in listing:
            continue
        listed = listing[("prom", topic)]
        helps = {}
        with open(path) as f:
            for line in f:
                if line.startswith("# HELP "):
                    name, text = line[7:].rstrip("\n").split(" ", 1)
                    helps[name] = text
                elif line.startswith("# TYPE "):
                    name, type_ = line[7:].split()
                    if name not in listed:
                        # a family the collector writes beside its tables
                        # (node_md_*: labels per array state) is in its code
                        assert written_by(topic, name), \
                            "%s: %s is in neither the tables nor the code" % (path, name)
                        continue
                    assert listed[name] == (type_, helps[name]), name
                    seen.add(name)
    # families no fixture has: irq pressure (6.1+), thermal zones
    assert len(seen) >= 40
