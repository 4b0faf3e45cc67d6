"""scripts/policy_audit.py walks what restricted code can reach and fails on a new dangerous
path (issue 17 item 1). It runs here, so `make test` fails when a library upgrade or a policy
change opens one."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AUDIT = os.path.join(ROOT, "scripts", "policy_audit.py")


def audit(*args):
    return subprocess.run(["/usr/bin/python3", AUDIT, *args], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


def test_the_policy_audit_finds_nothing_new():
    run = audit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 new" in run.stdout, run.stdout


def test_the_policy_audit_finds_a_planted_hole():
    """A loader bound as a public attribute of an allowed module must be reported."""
    run = audit("--plant", "json.helper")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "NEW: importlib.util.spec_from_file_location" in run.stdout, run.stdout
    assert "json.helper" in run.stdout
