"""The start-up self-test (issue 17, item 9): before it says READY the zygote runs one
execution's whole set-up, as an execution does it, and /health never shows every layer on while
every execution fails.

- on this host it passes: `start_up_self_test` is on and executions run;
- a work dir behind a directory the sandbox user cannot traverse (0700, as /root on Debian):
  the layer is off naming that directory, /health says "degraded", executions are refused at
  their set-up (never run somewhere else);
- an agent in a chroot, where / is not a mount point (as in many CI and build systems): the
  zygote binds / onto itself in a mount namespace of its own and executions run; when the
  mount holding the chroot is shared with the namespace outside (a mount there would appear
  there too), it does not, and says so."""
import ast
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import AGENT_BIN, DEFAULT_HARNESS, ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the self-test's layers need root")


def _get(url, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data, {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=60))


def _wait_ready(proc, port_file, log_path):
    deadline = time.time() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
        assert time.time() < deadline, "agent did not start"
        time.sleep(0.05)
    url = "http://127.0.0.1:%s" % port_file.read_text().strip()
    while True:  # the isolation report arrives with the zygote's READY
        h = _get(url, "/health")
        if "start_up_self_test" in h.get("isolation", {}) or time.time() > deadline:
            return url, h
        time.sleep(0.1)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


AGENT_ARGS = ["--host", "127.0.0.1", "--port", "0", "--preload", "", "--warm-pool", "1",
              "--languages", "python,sh", "--harness-dir", DEFAULT_HARNESS]


def test_the_self_test_passes_here(agent):
    h = agent.health()
    assert h["isolation"]["start_up_self_test"] == {"on": True}, h["isolation"]
    res = agent.execute("print(1 + 1)")
    assert res["status"] == "completed" and res["stdout"] == "2\n", res


@pytest.fixture
def closed_dir():
    # Outside /tmp: under /tmp the work root is created inside each execution's private /tmp.
    d = Path("/var/tmp") / f"sandpit-closed-{uuid.uuid4().hex[:8]}"
    (d / "inner").mkdir(parents=True)
    d.chmod(0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_a_work_dir_the_sandbox_user_cannot_reach(tmp_path, closed_dir):
    log_path = tmp_path / "agent.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(AGENT_BIN), *AGENT_ARGS, "--port-file", str(tmp_path / "port"),
             "--work-dir", str(closed_dir / "inner" / "work"), "--state-dir",
             str(tmp_path / "state")], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        url, h = _wait_ready(proc, tmp_path / "port", log_path)
        layer = h["isolation"]["start_up_self_test"]
        assert layer["on"] is False, layer
        assert "entering the working directory: Permission denied" in layer["reason"], layer
        assert f"cannot traverse {closed_dir}: mode 0700" in layer["reason"], layer
        assert layer["refuses_executions"] is True, layer
        assert h["status"] == "degraded", h
        # Every other layer probed fine on its own: this is what the self-test adds.
        assert all(v["on"] for k, v in h["isolation"].items() if k != "start_up_self_test"), h
        for lang, code in (("python", "print(1)"), ("sh", "echo 1")):
            res = _get(url, "/execute", {"code": code, "language": lang})
            assert res["status"] == "failed" and res["exit_reason"] == "internal", res
            assert "set-up failed" in res["error"] and res["stdout"] == "", res
    finally:
        _stop(proc)
    text = log_path.read_text(errors="replace")
    assert "start-up self-test: an execution's set-up fails" in text, text[-3000:]
    assert str(closed_dir) in text


# A root for chroot made of the host's own directories (bound read-only where they are system
# ones), inside a mount namespace of the test's own (unshare -m): nothing is left behind when
# its last process exits. The root itself is a plain directory, so / is not a mount point there.
CHROOT_SH = r'''
set -e
R=$1; PROP=$2; shift 2
mount --make-rprivate /
[ "$PROP" = shared ] && mount --make-rshared /
mkdir -p "$R/tmp" "$R/proc" "$R/sys" "$R/dev" "$R/usr" "$R/etc" "$R/var/tmp" "$R/$REPO"
chmod 1777 "$R/tmp" "$R/var/tmp"
for d in usr etc; do mount --rbind "/$d" "$R/$d"; done
for l in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$R/$l"; elif [ -d "/$l" ]; then
    mkdir -p "$R/$l"; mount --rbind "/$l" "$R/$l"; fi
done
mount --rbind "$REPO" "$R/$REPO"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --rbind /dev "$R/dev"
exec chroot "$R" "$@"
'''


def _root_is_a_mount_point():
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == "/" for line in f)


# The test makes its own root's mounts private first (so that nothing it mounts reaches the
# host), which needs / to be a mount point: not so when the suite itself runs in a chroot
# (make freshroot), whose every execution goes through the adaptation anyway.
needs_a_mount_point = pytest.mark.skipif(
    not shutil.which("unshare") or not _root_is_a_mount_point(),
    reason="needs unshare (util-linux) and / a mount point (the suite runs in a chroot?)")


def _chroot_agent(tmp_path, propagation):
    root = tmp_path / "root"
    log_path = tmp_path / "agent.log"
    env = dict(os.environ, REPO=str(ROOT))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "unchanged", "sh", "-c", CHROOT_SH, "sh",
             str(root), propagation, str(AGENT_BIN), *AGENT_ARGS, "--port-file", "/tmp/port",
             "--work-dir", "/tmp/work", "--state-dir", "/tmp/state"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc, root / "tmp" / "port", log_path


@needs_a_mount_point
def test_in_a_chroot_the_root_is_bound_onto_itself(tmp_path):
    proc, port, log_path = _chroot_agent(tmp_path, "private")
    try:
        url, h = _wait_ready(proc, port, log_path)
        assert all(v["on"] for v in h["isolation"].values()), h["isolation"]
        assert h["status"] == "ok", h
        res = _get(url, "/execute", {"code": "print(1 + 1)"})
        assert res["status"] == "completed" and res["stdout"] == "2\n", res
        # ... with its private view: / read-only, its own /tmp.
        res = _get(url, "/execute", {"code": "import os\nprint(os.listdir('/tmp'))\n"
                                             "open('/var/tmp/sandpit-probe', 'w')"})
        # Its own /tmp: the work root, and (when the checkout lives under /tmp, as a CI clone in
        # a mktemp directory does) the empty cover hiding the checkout, nothing of the host's.
        seen = set(ast.literal_eval(res["stdout"]))
        cover = {ROOT.parts[2]} if ROOT.parts[:2] == ("/", "tmp") and len(ROOT.parts) > 2 else set()
        assert "work" in seen and seen <= {"work"} | cover, res
        assert "Read-only file system" in (res["error"] or ""), res
    finally:
        _stop(proc)
    text = log_path.read_text(errors="replace")
    assert "executions start from a bind of / onto itself" in text, text[-3000:]


@needs_a_mount_point
def test_in_a_chroot_on_a_shared_mount_it_says_why(tmp_path):
    proc, port, log_path = _chroot_agent(tmp_path, "shared")
    try:
        url, h = _wait_ready(proc, port, log_path)
        layer = h["isolation"]["start_up_self_test"]
        assert layer["on"] is False and layer["refuses_executions"] is True, layer
        assert "making mounts private" in layer["reason"], layer
        assert "shared with the host" in layer["reason"], layer
        assert h["status"] == "degraded", h
    finally:
        _stop(proc)
