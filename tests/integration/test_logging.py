"""Log lines carry their level: with stderr on the journal (JOURNAL_STREAM
names it), each line starts with the sd-daemon prefix of its priority, so
that `journalctl -p warning` finds the warnings; on a pipe, "sysfeed: "."""

import os
import subprocess

from sysfeed_harness import SLOW


def run_with_stderr_file(binary, tmp_path, env_extra, args):
    err = tmp_path / "stderr"
    with open(err, "wb") as f:
        st = os.fstat(f.fileno())
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env.update({k: v.format(dev=st.st_dev, ino=st.st_ino) for k, v in env_extra.items()})
        p = subprocess.run([binary] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=f, env=env, timeout=30 * SLOW)
    return p.returncode, err.read_text()


def test_levels_on_the_journal(sysfeed_bin, tmp_path):
    rc, text = run_with_stderr_file(sysfeed_bin, tmp_path, {"JOURNAL_STREAM": "{dev}:{ino}"},
                                    ["--listen", "127.0.0.1:0", "--interval", "5",
                                     "--check-config"])
    assert rc == 2
    assert text.startswith("<3>--interval: bad value '5'"), text
    rc, text = run_with_stderr_file(sysfeed_bin, tmp_path, {"JOURNAL_STREAM": "{dev}:{ino}"},
                                    ["--listen", "8.8.8.8:80"])
    assert rc == 2
    lines = text.splitlines()
    assert lines and all(l[:3] in ("<3>", "<4>", "<6>") for l in lines), lines
    assert lines[-1].startswith("<3>refusing to listen on 8.8.8.8:80"), lines


def test_plain_on_a_terminal_or_pipe(sysfeed_bin, tmp_path):
    # a JOURNAL_STREAM naming another file is not this stderr
    rc, text = run_with_stderr_file(sysfeed_bin, tmp_path, {"JOURNAL_STREAM": "1:2"},
                                    ["--interval", "5", "--check-config"])
    assert rc == 2 and text.startswith("sysfeed: --interval: bad value"), text
