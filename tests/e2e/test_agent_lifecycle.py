"""Process lifecycle: the zygote dying under a request, and the agent shutting down."""
import os
import signal
import threading
import time

from conftest import ROOT, child_pids, pid_alive, pids_with_marker, spawn_code, wait_until


def _describe(pids):
    out = []
    for p in pids:
        try:
            with open(f"/proc/{p}/comm") as f:
                out.append(f"{p}:{f.read().strip()}")
        except OSError:
            out.append(f"{p}:gone")
    return out


def _wait_running(ag, n=1, timeout=5):
    return wait_until(lambda: ag.health()["executions"]["running"] >= n, timeout, 0.02)


def test_zygote_death_fails_the_request_and_recovers(make_agent):
    ag = make_agent()
    h = ag.health()
    zpid = h["zygote"]["pid"]
    restarts0 = h["zygote"]["restarts"]
    assert isinstance(zpid, int) and zpid > 0 and pid_alive(zpid), h
    code, marker, sleep_arg = spawn_code("time.sleep(5)")
    out = {}

    def run():
        t0 = time.monotonic()
        out["r"] = ag.post("/execute", {"code": code, "timeout": 30}, timeout=30)
        out["t"] = time.monotonic() - t0

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert _wait_running(ag), "the execution never started"
    assert wait_until(lambda: len(pids_with_marker(marker)) >= 3, 5), "code never got going"
    os.kill(zpid, signal.SIGKILL)
    t.join(10)
    assert not t.is_alive(), "the request hung after the zygote died"
    st, body, _ = out["r"]
    assert st == 503, (st, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    assert body["error"].get("code") and body["error"].get("message"), body
    assert out["t"] < 5, f"503 took {out['t']:.2f}s"
    # Nothing of the lost execution survives its zygote.
    assert wait_until(lambda: not (pids_with_marker(marker) or pids_with_marker(sleep_arg)), 2), \
        f"processes of the lost execution survived: {pids_with_marker(marker)}"

    h = ag.wait_ready(timeout=15)
    assert h["zygote"]["restarts"] >= restarts0 + 1, h
    assert h["zygote"]["pid"] != zpid, h
    assert h["status"] == "ok", h
    res = ag.execute("import numpy\nprint('back')")
    assert res["status"] == "completed" and res["stdout"] == "back\n", res


def test_zygote_death_while_idle_recovers(make_agent):
    ag = make_agent()
    zpid = ag.health()["zygote"]["pid"]
    os.kill(zpid, signal.SIGKILL)
    # Requests during the restart get 503 (never 500, never a hang); afterwards they work.
    deadline = time.monotonic() + 15
    statuses = set()
    while time.monotonic() < deadline:
        st, body, _ = ag.post("/execute", {"code": "print('up')"}, timeout=10)
        statuses.add(st)
        assert st in (200, 503), (st, body)
        if st == 200 and body["status"] == "completed" and body["stdout"] == "up\n":
            break
        if st == 503:
            assert isinstance(body, dict) and body.get("error"), body
        time.sleep(0.05)
    else:
        raise AssertionError(f"no successful execution after the zygote restart: {statuses}")
    h = ag.health()
    assert h["zygote"]["restarts"] >= 1 and h["zygote"]["pid"] != zpid, h


def test_sigterm_with_running_execution_leaves_nothing(make_agent):
    ag = make_agent()
    zpid = ag.health()["zygote"]["pid"]
    code, marker, sleep_arg = spawn_code("time.sleep(30)")
    out = {}

    def run():
        try:
            out["r"] = ag.post("/execute", {"code": code, "timeout": 60}, timeout=30)
        except OSError as e:  # the server may close the connection while stopping
            out["r"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert _wait_running(ag), "the execution never started"
    assert wait_until(lambda: len(pids_with_marker(marker)) >= 3, 5), "code never got going"
    tracked = {zpid} | set(child_pids(zpid)) | set(pids_with_marker(marker)) \
        | set(pids_with_marker(sleep_arg))
    assert len(tracked) >= 4, tracked

    t0 = time.monotonic()
    rc = ag.terminate(timeout=10)
    elapsed = time.monotonic() - t0
    assert rc is not None, "agent did not exit within 10 s of SIGTERM"
    assert rc == 0, f"agent exited with {rc}"
    assert elapsed < 5, f"shutdown took {elapsed:.2f}s"
    t.join(5)
    assert not t.is_alive(), "the client of the running execution was never answered"
    left = [p for p in tracked if pid_alive(p)]
    assert not left, f"processes left after the agent exited: {_describe(left)}"
    assert not pids_with_marker(marker) and not pids_with_marker(sleep_arg)


def test_sigterm_idle_exits_zero_and_stops_zygote(make_agent):
    ag = make_agent()
    zpid = ag.health()["zygote"]["pid"]
    time.sleep(0.3)  # lets a warm pool, if any, fill up
    tracked = {zpid} | set(child_pids(zpid))
    rc = ag.terminate(timeout=10)
    assert rc == 0, rc
    assert not pid_alive(zpid), f"zygote {zpid} outlived the agent"
    left = [p for p in tracked if pid_alive(p)]
    assert not left, f"children of the zygote outlived the agent: {_describe(left)}"


def test_sigterm_answers_every_waiting_client(make_agent):
    ag = make_agent()
    n = 4
    outs = [{} for _ in range(n)]

    def run(o):
        try:
            o["r"] = ag.post("/execute", {"code": "import time\ntime.sleep(30)", "timeout": 60},
                             timeout=20)
        except OSError as e:
            o["r"] = e

    threads = [threading.Thread(target=run, args=(o,), daemon=True) for o in outs]
    for t in threads:
        t.start()
    assert _wait_running(ag, n), "the executions never started"
    rc = ag.terminate(timeout=10)
    assert rc == 0, rc
    for t in threads:
        t.join(5)
    for o in outs:
        r = o.get("r")
        assert not isinstance(r, Exception), f"a waiting client got no HTTP response: {r!r}"
        st, body, _ = r
        assert (st == 200 and body["status"] == "cancelled") or \
            (st == 503 and isinstance(body, dict) and body.get("error")), (st, body)


def test_agent_sigkill_takes_the_zygote_and_executions_down(make_agent):
    """If the agent itself dies hard, the zygote and every execution go with it."""
    ag = make_agent()
    zpid = ag.health()["zygote"]["pid"]
    code, marker, sleep_arg = spawn_code("time.sleep(30)")
    st, body, _ = ag.post("/execute", {"code": code, "timeout": 60, "async": True})
    assert st == 202, (st, body)
    assert wait_until(lambda: len(pids_with_marker(marker)) >= 3, 5), "code never got going"
    ag.proc.kill()
    ag.proc.wait(5)
    ag.stopped_rc = ag.proc.returncode  # stopped by the test; the fixture must not SIGTERM
    gone = wait_until(lambda: not pid_alive(zpid) and not pids_with_marker(marker)
                      and not pids_with_marker(sleep_arg), 5)
    assert gone, (f"after SIGKILL of the agent: zygote alive={pid_alive(zpid)}, "
                  f"left={pids_with_marker(marker) + pids_with_marker(sleep_arg)}")


def test_finds_the_harness_without_harness_dir(make_agent):
    """build/sandpit-agent finds <repo>/harness by itself (`make run` passes no flag)."""
    ag = make_agent(harness_dir=None)
    assert f"harness={ROOT}" in ag.log_text(), ag.log_text()
    res = ag.execute("print('found')")
    assert res["status"] == "completed" and res["stdout"] == "found\n", res
