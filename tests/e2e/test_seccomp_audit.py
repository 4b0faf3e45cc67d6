"""The seccomp audit (issue 17 item 4): scripts/seccomp_audit.py against a live agent, and its
drift detection against a filter dumped from that agent (a table missing a refused syscall, or
listing one the filter allows, must fail)."""
import os
import subprocess
import sys

import pytest

from conftest import AGENT_BIN, ROOT

SCRIPT = ROOT / "scripts" / "seccomp_audit.py"
TABLE = ROOT / "scripts" / "seccomp_reviewed.tsv"


def _audit(*args):
    return subprocess.run([sys.executable, str(SCRIPT), "--agent", str(AGENT_BIN), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def live_bpf(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the audit needs root (it starts a privileged agent and reads its filter)")
    out = tmp_path_factory.mktemp("seccomp") / "filter.bpf"
    r = _audit("--dump-bpf", str(out))
    return r, out


def test_live_filter_matches_the_reviewed_table(live_bpf):
    r, _ = live_bpf
    assert r.returncode == 0, r.stdout + r.stderr
    assert "seccomp audit: OK" in r.stdout
    for name in ("io_setup=EPERM", "io_submit=EPERM", "keyctl=EPERM", "memfd_secret=EPERM",
                 "clone3=ENOSYS", "socket=cond"):
        assert name in r.stdout, r.stdout


def _table_with(tmp_path, drop=None, add=None):
    lines = [l for l in TABLE.read_text().splitlines()
             if not (drop and l.startswith(drop + "\t"))]
    if add:
        lines.append(add)
    p = tmp_path / "table.tsv"
    p.write_text("\n".join(lines) + "\n")
    return p


DRIFTS = [
    # a refused syscall without a reviewed line
    ("io_setup", None, "io_setup: the filter refuses it (EPERM) but it has no reviewed line"),
    # a reviewed refusal the filter lacks
    ("inotify_init", "inotify_init\tEPERM\twhy",
     "inotify_init: the reviewed table says EPERM, the filter allows it"),
    # a changed action
    ("clone3", "clone3\tEPERM\twhy", "clone3: the filter says ENOSYS, the reviewed table EPERM"),
]


@pytest.mark.parametrize("drop,add,message", DRIFTS, ids=[d[0] for d in DRIFTS])
def test_drift_from_the_reviewed_table_fails(live_bpf, tmp_path, drop, add, message):
    _, bpf = live_bpf
    r = _audit("--bpf", str(bpf), "--table", str(_table_with(tmp_path, drop=drop, add=add)))
    assert r.returncode == 1, r.stdout
    assert "DRIFT: " + message in r.stdout, r.stdout
