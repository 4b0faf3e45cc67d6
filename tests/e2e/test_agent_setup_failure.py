"""A host that refuses one of the isolation steps (the agent lacks a capability, as in a container
started with too few) must say so in /health, and must not look like a program that failed.

- without CAP_SETUID, every execution answers with an AgentError naming the set-up (never runs
  as root instead), and /health shows `uid_drop` off with the reason;
- without CAP_NET_ADMIN, executions run, /health shows `network_loopback` off, and a network
  scenario's result warns that the program cannot reach its proxy."""
import json
import shutil
import subprocess
import time
import urllib.request

import pytest

from conftest import AGENT_BIN, DEFAULT_HARNESS

pytestmark = pytest.mark.skipif(not shutil.which("capsh"),
                                reason="capsh (libcap2-bin) is not installed")


class CappedAgent:
    """An agent started through capsh with one capability dropped."""

    def __init__(self, tmp_path, cap):
        self.log_path = tmp_path / "agent.log"
        port_file = tmp_path / "port"
        self.log = open(self.log_path, "wb")
        args = [str(AGENT_BIN), "--host", "127.0.0.1", "--port", "0", "--port-file",
                str(port_file), "--work-dir", str(tmp_path / "work"), "--state-dir",
                str(tmp_path / "state"), "--harness-dir", DEFAULT_HARNESS, "--preload", "",
                "--warm-pool", "1", "--languages", "python,sh"]
        self.proc = subprocess.Popen(
            ["capsh", "--drop=" + cap, "--", "-c", 'exec "$0" "$@"'] + args,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            assert self.proc.poll() is None and time.time() < deadline, "agent did not start"
            time.sleep(0.05)
        self.url = "http://127.0.0.1:%s" % port_file.read_text().strip()

    def execute(self, body):
        req = urllib.request.Request(self.url + "/execute", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        return json.load(urllib.request.urlopen(req, timeout=30))

    def health(self):
        return json.load(urllib.request.urlopen(self.url + "/health", timeout=10))

    def isolation(self):
        """The layers, once the zygote has reported them."""
        deadline = time.time() + 20
        while True:
            h = json.load(urllib.request.urlopen(self.url + "/health", timeout=10))
            if "isolation" in h or time.time() > deadline:
                return h["isolation"]
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        self.log.close()


@pytest.fixture
def capped(tmp_path):
    made = []

    def make(cap):
        (tmp_path / cap).mkdir()
        made.append(CappedAgent(tmp_path / cap, cap))
        return made[-1]

    yield make
    for ag in made:
        ag.stop()


def test_full_isolation_reports_every_layer_on(agent):
    h = json.load(urllib.request.urlopen(agent.url + "/health", timeout=10))
    assert h["isolation"]["network_loopback"] == {"on": True}, h["isolation"]
    assert h["isolation"]["uid_drop"] == {"on": True}, h["isolation"]


def test_without_setuid_executions_fail_their_set_up(capped):
    ag = capped("cap_setuid")
    layer = ag.isolation()["uid_drop"]
    assert layer["on"] is False and "dropping to uid" in layer["reason"], layer
    assert "Operation not permitted" in layer["reason"], layer
    assert layer["refuses_executions"] is True, layer
    # Unusable, and saying so: an orchestrator routes nothing to a degraded agent.
    assert ag.health()["status"] == "degraded"
    for lang, code in (("python", "print(1)"), ("sh", "echo 1")):
        res = ag.execute({"code": code, "language": lang})
        assert res["status"] == "failed", res
        assert res["exit_reason"] == "internal", res
        assert "set-up failed" in res["error"], res
        assert res["stdout"] == "" and res["exit_code"] is None, res
    ag.stop()
    assert b"dropping to uid" in ag.log_path.read_bytes()


def test_without_net_admin_the_loopback_is_reported_down(capped):
    ag = capped("cap_net_admin")
    iso = ag.isolation()
    assert iso["network_namespace"] == {"on": True}, iso
    layer = iso["network_loopback"]
    assert layer["on"] is False and "bringing lo up" in layer["reason"], layer
    assert "Operation not permitted" in layer["reason"], layer
    assert ag.health()["status"] == "ok"  # executions run; only their loopback is down
    # The execution itself runs; its 127.0.0.1 is unreachable, as /health said.
    res = ag.execute({"code": "import socket\ns = socket.socket()\n"
                              "print(s.connect_ex(('127.0.0.1', 9)))"})
    assert res["status"] == "completed", res
    assert res["stdout"].strip() == "101", res  # ENETUNREACH
    res = ag.execute({"code": "print(1)", "scenario": {"networkLatencyMs": 5}})
    assert any("loopback is down" in w for w in res.get("warnings", [])), (res.get("warnings"), res)
