"""The built packages and the files they carry, without booting anything.

`make check-system` builds the .deb and .rpm first and names them in
SYSFEED_DEB and SYSFEED_PKGDIR.
"""
import glob
import gzip
import os
import re
import subprocess
import tempfile

import pytest

from machine import run

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEB = os.environ.get("SYSFEED_DEB", "")
PKGDIR = os.environ.get("SYSFEED_PKGDIR", os.path.join(TOP, "build", "pkg"))
VERSION = os.environ.get("SYSFEED_VERSION", "")

# Each format keeps the package's own metadata in its own place: Debian the
# copyright file, its changelog and lintian overrides under /usr/share; RPM
# the license under /usr/share/licenses (its changelog is in the header).
DEB_ONLY = {"/usr/share/doc/sysfeed/copyright", "/usr/share/doc/sysfeed/changelog.Debian.gz",
            "/usr/share/lintian/overrides/sysfeed"}
RPM_ONLY = {"/usr/share/licenses/sysfeed/LICENSE"}
# README.md and docs/*.md, in both packages.
DOCDIR = "/usr/share/doc/sysfeed"
# Debian 12's debhelper installs units under /lib, RPM under %{_unitdir}.
DEB_UNITDIR, RPM_UNITDIR = "/lib/systemd/system/", "/usr/lib/systemd/system/"


def print_config():
    """`sysfeed --print-config`: every key (the daemon's and each
    collector's), one line each, as `key = value  # owners, restart`."""
    binary = os.environ.get("SYSFEED_BIN", os.path.join(TOP, "build", "sysfeed"))
    r = run([binary, "--print-config"])
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    assert len(lines) > 10, r.stdout
    return lines


def config_keys():
    return [re.match(r"^(?:# )?([a-z][a-z0-9-]*) =", l).group(1) for l in print_config()]


def test_config_page_says_which_keys_need_a_restart():
    """The keys the table marks `restart` are the ones sysfeed.conf(5) lists
    as taking effect at the next start, and no others."""
    restart = sorted(re.match(r"^(?:# )?([a-z][a-z0-9-]*) =", l).group(1)
                     for l in print_config() if re.search(r"#.*\brestart\b", l))
    with open(os.path.join(TOP, "packaging", "man", "sysfeed.conf.5")) as f:
        text = f.read()
    m = re.search(r"take effect at the next start:(.*?)\n\.PP", text, re.S)
    assert m, "sysfeed.conf(5) lacks the sentence listing the keys that need a restart"
    listed = sorted(k.replace("\\-", "-") for k in re.findall(r"^\.BR? ([a-z\\-]+)", m.group(1), re.M))
    assert listed == restart, (listed, restart)


def deb_entries(deb):
    """{path: (type, mode)} of a .deb's data: 'd' directories, 'f' files, 'l' links."""
    out = {}
    for line in run(["dpkg-deb", "-c", deb]).stdout.splitlines():
        perms, path = line.split()[0], line.split()[5]
        path = "/" + path.lstrip("./") if path != "./" else "/"
        out[path.rstrip("/") or "/"] = ({"d": "d", "l": "l"}.get(perms[0], "f"), perms)
    return out


def rpm_entries(rpm):
    out = {}
    q = run(["rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]", rpm]).stdout
    for line in q.splitlines():
        perms, path = line.split(" ", 1)
        out[path] = ({"d": "d", "l": "l"}.get(perms[0], "f"), perms)
    return out


@pytest.fixture(scope="module")
def deb():
    if not DEB or not os.path.exists(DEB):
        pytest.fail("SYSFEED_DEB names no .deb: run `make check-system`")
    return DEB


@pytest.fixture(scope="module")
def rpm():
    found = sorted(glob.glob(os.path.join(PKGDIR, f"sysfeed-{VERSION or '*'}-1.*.rpm")))
    if not found:
        pytest.fail(f"no sysfeed .rpm in {PKGDIR}: run `make check-system`")
    return found[-1]


@pytest.fixture(scope="module")
def deb_tree(deb, tmp_path_factory):
    d = tmp_path_factory.mktemp("deb")
    run(["dpkg-deb", "-x", deb, str(d)])
    return str(d)


@pytest.mark.parametrize("page", ["sysfeed.8", "sysfeed.conf.5"])
def test_man_page_has_no_warnings(page):
    path = os.path.join(TOP, "packaging", "man", page)
    r = run(["man", "--warnings", "-E", "UTF-8", "-l", path],
            env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"))
    assert r.stderr == "", f"man --warnings {page}:\n{r.stderr}"
    assert "SEE ALSO" in r.stdout


def test_default_config_lists_every_key_with_its_default():
    with open(os.path.join(TOP, "packaging", "sysfeed.conf")) as f:
        text = f.read()
    missing = [k for k in config_keys() if not re.search(rf"^# {re.escape(k)} =", text, re.M)]
    assert not missing, f"packaging/sysfeed.conf lacks keys of daemon/config.c: {missing}"
    # Nothing is set: the file as shipped means the built-in defaults.
    assert not [l for l in text.splitlines() if l.strip() and not l.startswith("#")]


def test_config_page_documents_every_key():
    with open(os.path.join(TOP, "packaging", "man", "sysfeed.conf.5")) as f:
        text = f.read()
    missing = [k for k in config_keys() if f'.BI "{k.replace("-", chr(92) + "-")} = "' not in text]
    assert not missing, f"sysfeed.conf(5) does not document: {missing}"


def test_uncommented_defaults_are_accepted(deb_tree):
    """Every `# key = value` line, uncommented, passes --check-config."""
    with open(os.path.join(deb_tree, "etc", "sysfeed", "sysfeed.conf")) as f:
        lines = [l[2:] for l in f if re.match(r"^# [a-z][a-z0-9-]* = \S", l)]
    assert len(lines) > 10
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
        conf.write("".join(lines))
        conf.flush()
        r = run([os.path.join(deb_tree, "usr", "sbin", "sysfeed"), "--check-config",
                 "--config", conf.name], check=False)
    assert r.returncode == 0, f"{''.join(lines)}\n{r.stdout}{r.stderr}"


def test_build_dependencies_cover_every_library():
    """Each pkg-config module the Makefile links (PKGS) or loads with
    dlopen() (DL_PKGS: its header at build time) is in debian/control's
    Build-Depends (as the -dev package shipping its .pc) and in the spec."""
    with open(os.path.join(TOP, "Makefile")) as f:
        make = f.read()
    mods = [m for var in ("PKGS", "DL_PKGS")
            for m in re.search(r"^%s\s*:?=\s*(.*)$" % var, make, re.M).group(1).split()]
    assert "sqlite3" in mods and "libcrypt" in mods
    with open(os.path.join(TOP, "packaging", "debian", "control")) as f:
        control = f.read()
    build_deps = re.search(r"^Build-Depends:(.*?)^\S", control, re.M | re.S).group(1)
    with open(os.path.join(TOP, "packaging", "rpm", "sysfeed.spec")) as f:
        spec = f.read()
    for mod in mods:
        pc = os.path.join(run(["pkg-config", "--variable=pcfiledir", mod]).stdout.strip(),
                          mod + ".pc")
        pkg = run(["dpkg", "-S", pc]).stdout.split(":")[0]
        assert re.search(rf"\b{re.escape(pkg)}\b", build_deps), f"{pkg} ({mod}) not in Build-Depends"
        assert f"BuildRequires:  pkgconfig({mod})" in spec, f"pkgconfig({mod}) not in the spec"


def test_libraries_loaded_at_run_time_are_in_depends():
    """The libraries the daemon loads with dlopen() on first need (libcurl,
    SQLite, libcrypt) are not in its DT_NEEDED, so shlibs cannot name them:
    debian/control's Depends and the spec's Requires do."""
    with open(os.path.join(TOP, "packaging", "debian", "control")) as f:
        depends = re.search(r"^Depends:(.*)$", f.read(), re.M).group(1)
    with open(os.path.join(TOP, "packaging", "rpm", "sysfeed.spec")) as f:
        spec = f.read()
    for soname, rpm_name in (("libcurl-gnutls.so.4", "libcurl"),
                             ("libsqlite3.so.0", "sqlite-libs"),
                             ("libcrypt.so.1", "libxcrypt")):
        pkg = run(["dpkg", "-S", "*/" + soname]).stdout.split(":")[0]
        assert re.search(rf"\b{re.escape(pkg)}\b", depends), f"{pkg} ({soname}) not in Depends"
        assert re.search(rf"^Requires:\s+{re.escape(rpm_name)}$", spec, re.M), rpm_name


def test_deb_and_rpm_hold_the_same_files(deb, rpm):
    """Files and links compared exactly, with their modes. Directories are
    not: dpkg-deb -c lists every directory in the archive (/usr, /usr/share,
    ...), rpm -qlp only those the package owns; so only the directory that is
    sysfeed's own, /etc/sysfeed, is required in both."""
    d, r = deb_entries(deb), rpm_entries(rpm)
    dfiles = {p.replace(DEB_UNITDIR, RPM_UNITDIR, 1) if p.startswith(DEB_UNITDIR) else p: v
              for p, v in d.items() if v[0] != "d" and p not in DEB_ONLY}
    rfiles = {p: v for p, v in r.items() if v[0] != "d" and p not in RPM_ONLY}
    print("\n".join(f"{v[1]} {p}" for p, v in sorted(dfiles.items())))
    assert dfiles == rfiles
    assert DEB_ONLY <= set(d) and RPM_ONLY <= set(r)
    assert d["/etc/sysfeed"][0] == "d" and r["/etc/sysfeed"][0] == "d"
    # what the .rpm owns beyond that is its license and doc directories
    assert {p for p, v in r.items() if v[0] == "d"} == {
        "/etc/sysfeed", "/usr/share/licenses/sysfeed", DOCDIR, DOCDIR + "/docs"}


def test_packages_hold_the_docs(deb, rpm):
    """README.md and every docs/*.md of the tree, under /usr/share/doc/sysfeed,
    uncompressed (the docs link to each other by these names)."""
    want = {DOCDIR + "/README.md"} | {
        DOCDIR + "/docs/" + os.path.basename(p) for p in glob.glob(os.path.join(TOP, "docs", "*.md"))}
    assert len(want) >= 9
    for entries in (deb_entries(deb), rpm_entries(rpm)):
        docs = {p for p, v in entries.items() if v[0] == "f" and p.startswith(DOCDIR + "/")}
        assert want <= docs, sorted(want - docs)
        assert {p for p in docs if p.startswith(DOCDIR + "/docs/")} == {
            p for p in want if "/docs/" in p}


def test_rpm_marks_the_config_noreplace(rpm):
    q = run(["rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", rpm]).stdout
    assert "cn /etc/sysfeed/sysfeed.conf" in q


def test_deb_conffile_and_units(deb):
    with tempfile.TemporaryDirectory() as ctl:
        run(["dpkg-deb", "-e", deb, ctl])
        with open(os.path.join(ctl, "conffiles")) as f:
            assert f.read().split() == ["/etc/sysfeed/sysfeed.conf"]
        with open(os.path.join(ctl, "postinst")) as f:
            postinst = f.read()
    # the service is enabled and started; the socket is enabled only where
    # the admin had enabled it, and never started (the boot test checks both)
    assert "deb-systemd-helper enable 'sysfeed.service'" in postinst
    assert "deb-systemd-invoke $_dh_action 'sysfeed.service'" in postinst
    assert "deb-systemd-invoke $_dh_action 'sysfeed.socket'" not in postinst
    # the service's user exists before the service starts
    users = postinst.find("systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} sysfeed.conf")
    assert 0 <= users < postinst.find("deb-systemd-invoke $_dh_action 'sysfeed.service'"), postinst


def test_make_install_installs_what_the_deb_holds(deb, tmp_path):
    """`make install` with the package's paths lays down the .deb's files (the
    .deb's man pages are compressed by dh_compress); an existing config file
    is kept."""
    dest = str(tmp_path / "root")
    args = ["make", "-s", "-C", TOP, "install", f"DESTDIR={dest}", "PREFIX=/usr",
            "UNITDIR=/lib/systemd/system"]
    run(args, timeout=600)
    installed = {"/" + os.path.relpath(os.path.join(dp, n), dest)
                 for dp, dn, fn in os.walk(dest) for n in fn}
    packaged = {p[:-3] if p.startswith("/usr/share/man/") else p
                for p, v in deb_entries(deb).items() if v[0] != "d" and p not in DEB_ONLY}
    assert installed == packaged
    conf = os.path.join(dest, "etc", "sysfeed", "sysfeed.conf")
    with open(conf, "a") as f:
        f.write("interval = 2000\n")
    out = run(args, timeout=600).stdout
    assert "keeping" in out
    with open(conf) as f:
        assert f.read().endswith("interval = 2000\n")
    with open(os.path.join(dest, "lib", "systemd", "system", "sysfeed.service")) as f:
        assert "ExecStart=/usr/sbin/sysfeed --config /etc/sysfeed/sysfeed.conf\n" in f.read()


def test_make_install_honours_prefix(tmp_path):
    """With PREFIX=/usr/local the unit starts the binary where it went."""
    dest = str(tmp_path / "root")
    run(["make", "-s", "-C", TOP, "install", f"DESTDIR={dest}", "PREFIX=/usr/local"], timeout=600)
    assert os.access(os.path.join(dest, "usr/local/sbin/sysfeed"), os.X_OK)
    for page in ["man5/sysfeed.conf.5", "man8/sysfeed.8"]:
        assert os.path.exists(os.path.join(dest, "usr/local/share/man", page))
    with open(os.path.join(dest, "usr/local/lib/systemd/system/sysfeed.service")) as f:
        assert "ExecStart=/usr/local/sbin/sysfeed --config /etc/sysfeed/sysfeed.conf\n" in f.read()
    assert os.path.exists(os.path.join(dest, "etc/sysfeed/sysfeed.conf"))
    assert os.path.exists(os.path.join(dest, "usr/local/lib/sysusers.d/sysfeed.conf"))
