"""A host that refuses one of the isolation steps (here: the agent lacks CAP_SETUID, as in a
container started with too few capabilities) must not look like a program that failed: every
execution answers with an AgentError naming the set-up, and the agent log says which layer."""
import json
import shutil
import subprocess
import time
import urllib.request

import pytest

from conftest import AGENT_BIN, DEFAULT_HARNESS


@pytest.mark.skipif(not shutil.which("capsh"), reason="capsh (libcap2-bin) is not installed")
def test_setup_failure_is_reported_as_such(tmp_path):
    port_file = tmp_path / "port"
    log = open(tmp_path / "agent.log", "wb")
    args = [str(AGENT_BIN), "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
            "--work-dir", str(tmp_path / "work"), "--state-dir", str(tmp_path / "state"),
            "--harness-dir", DEFAULT_HARNESS, "--preload", "", "--warm-pool", "1",
            "--languages", "python,sh"]
    proc = subprocess.Popen(["capsh", "--drop=cap_setuid", "--", "-c", 'exec "$0" "$@"'] + args,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None and time.time() < deadline, "agent did not start"
            time.sleep(0.05)
        url = "http://127.0.0.1:%s/execute" % port_file.read_text().strip()
        for lang, code in (("python", "print(1)"), ("sh", "echo 1")):
            req = urllib.request.Request(url, json.dumps({"code": code, "language": lang}).encode(),
                                         {"Content-Type": "application/json"})
            res = json.load(urllib.request.urlopen(req, timeout=30))
            assert res["status"] == "failed", res
            assert res["exit_reason"] == "internal", res
            assert "set-up failed" in res["error"], res
            assert res["stdout"] == "" and res["exit_code"] is None, res
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
    assert b"dropping to uid" in (tmp_path / "agent.log").read_bytes()
