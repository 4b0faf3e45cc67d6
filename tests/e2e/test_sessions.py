"""Sessions at the agent (issue 14, docs/sessions.md): live interpreters whose state persists
from cell to cell, forks, interrupts and timeouts, checkpoint cells, limits and reaping.

Files, other languages, leftovers of a cell and the agent's bookkeeping are in
test_sessions_files.py. Every wait is bounded; nothing here asserts how fast anything is."""
import os
import signal
import threading
import time
import uuid

import pytest

from conftest import Agent, pids_with_marker, wait_until

C_LOOP = ("import ctypes, mmap\n"
          "m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
          "m.write(b'\\xeb\\xfe')  # jmp $: never back to Python\n"
          "ctypes.CFUNCTYPE(None)(ctypes.addressof(ctypes.c_char.from_buffer(m)))()\n")

# A cell that waits (bounded) for the test to PUT `go` into its workspace: lets the test hold
# cells running at the same time without guessing how long they take to start.
WAIT_GO = ("import os, time\n"
           "_t = time.time() + 60\n"
           "while not os.path.exists({name!r}) and time.time() < _t:\n"
           "    time.sleep(0.02)\n"
           "assert os.path.exists({name!r}), 'no go file'\n")


# -- helpers ------------------------------------------------------------------------------------

class Sessions:
    """Creates sessions on an agent and deletes those still live at the end of the test."""

    def __init__(self, ag):
        self.ag = ag
        self.ids = []

    def create(self, expect=201, **fields):
        st, body, hdrs = self.ag.post("/sessions", fields)
        assert st == expect, (st, body)
        if st == 201:
            assert body["session_id"].startswith("s-") and body["state"] == "idle", body
            self.ids.append(body["session_id"])
        return body if expect == 201 else (body, hdrs)

    def fork(self, sid, expect=201):
        st, body, _ = self.ag.post(f"/sessions/{sid}/fork", {})
        assert st == expect, (st, body)
        if st == 201:
            self.ids.append(body["session_id"])
        return body

    def cell(self, sid, code, expect=200, timeout_http=90, **fields):
        st, body, _ = self.ag.post(f"/sessions/{sid}/execute", {"code": code, **fields},
                                   timeout=timeout_http)
        assert st == expect, (st, body)
        return body

    def ok(self, sid, code, **fields):
        """A cell that must complete; returns its stdout."""
        res = self.cell(sid, code, **fields)
        assert res["status"] == "completed", res
        return res["stdout"]

    def get(self, sid):
        return self.ag.get(f"/sessions/{sid}")

    def put(self, sid, path, data):
        st, body, _ = self.ag.request("PUT", f"/sessions/{sid}/files/{path}", body=data)
        assert st == 201, (st, body)
        return body

    def state(self, sid):
        st, body, _ = self.get(sid)
        return body.get("state") if st == 200 else ("gone" if st == 410 else st)

    def wait_state(self, sid, want, timeout=30):
        got = wait_until(lambda: self.state(sid) == want, timeout, 0.05)
        assert got, f"session {sid} never {want}: {self.get(sid)}"

    def cleanup(self):
        for sid in self.ids:
            try:
                self.ag.delete(f"/sessions/{sid}", timeout=30)
            except OSError:
                pass


@pytest.fixture
def sessions(agent):
    s = Sessions(agent)
    yield s
    s.cleanup()


@pytest.fixture
def sessions_on(make_agent):
    """sessions_on(**flags): a Sessions helper on a fresh agent started with flags."""
    made = []

    def make(**flags):
        s = Sessions(make_agent(**flags))
        made.append(s)
        return s

    yield make
    for s in made:
        s.cleanup()


def assert_gone(s, sid, *words):
    """The session answers 410 `gone` to a cell and to GET, with a reason holding every word."""
    st, body, _ = s.ag.post(f"/sessions/{sid}/execute", {"code": "print(1)"})
    assert st == 410 and body["error"]["code"] == "gone", (st, body)
    reason = body["error"]["message"]  # "reason" too: checked in test_delete_waits_until_gone
    for w in words:
        assert w in reason, (w, body)
    st, body, _ = s.get(sid)
    assert st == 410 or (st == 200 and body["state"] == "dead"), (st, body)
    return reason


def in_thread(fn, *args, **kw):
    out = {}

    def run():
        try:
            out["res"] = fn(*args, **kw)
        except BaseException as e:  # re-raised by the test through join_result
            out["exc"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def join_result(t, out, timeout=120):
    t.join(timeout)
    assert not t.is_alive(), "a cell did not answer in time"
    if "exc" in out:
        raise out["exc"]
    return out["res"]


# -- state ----------------------------------------------------------------------------------

def test_state_persists_across_cells(sessions):
    s = sessions.create()
    sid = s["session_id"]
    assert s["executions"] == 0 and s["parent"] is None and s["checkpoint"] is False, s
    r1 = sessions.cell(sid, "import math\nx = 41\n"
                            "def double(v):\n    return v * 2\n"
                            "class Box:\n    k = 3\n")
    r2 = sessions.cell(sid, "x += 1\ny = double(x)\nb = Box()")
    r3 = sessions.cell(sid, "print(x, y, b.k, math.floor(2.5), type(b).__name__)")
    assert [r["execution_count"] for r in (r1, r2, r3)] == [1, 2, 3], (r1, r2, r3)
    for r in (r1, r2, r3):
        assert r["status"] == "completed" and r["session_id"] == sid, r
    assert r3["stdout"] == "42 84 3 2 Box\n", r3
    r4 = sessions.cell(sid, "y + 1")  # a trailing expression is the result
    assert r4["result"] == 85 and r4["execution_count"] == 4, r4
    # An exception in a cell keeps what ran before it.
    r5 = sessions.cell(sid, "z = 7\nraise ValueError('boom')")
    assert r5["status"] == "failed" and "ValueError" in r5["error"], r5
    assert sessions.ok(sid, "print(z)") == "7\n"
    st, got, _ = sessions.get(sid)
    assert st == 200 and got["executions"] == 6 and got["state"] == "idle", got
    assert got["memory_bytes"] > 0, got


def test_execution_lookup_of_a_cell(sessions):
    sid = sessions.create()["session_id"]
    res = sessions.cell(sid, "print('looked up')")
    st, body, _ = sessions.ag.get(f"/execution/{res['execution_id']}")
    assert st == 200, (st, body)
    assert body["status"] == "completed" and body["stdout"] == "looked up\n", body
    assert body["session_id"] == sid, body


def test_env_at_create_and_per_cell(sessions):
    sid = sessions.create(env={"FOO": "session", "BAR": "b"})["session_id"]
    show = "import os\nprint(os.environ.get('FOO'), os.environ.get('BAR'), os.environ.get('NEW'))"
    assert sessions.ok(sid, show) == "session b None\n"
    assert sessions.ok(sid, show, env={"FOO": "cell", "NEW": "n"}) == "cell b n\n"
    # The override was the cell's: the next cell has the session's environment again.
    assert sessions.ok(sid, show) == "session b None\n"
    out = sessions.ok(sid, 'echo "$FOO $BAR"', language="bash", env={"BAR": "x"})
    assert out == "session x\n"


def test_restricted_session_stays_restricted(sessions):
    s = sessions.create(policy="restricted")
    sid = s["session_id"]
    assert s["policy"] == "restricted", s
    assert sessions.ok(sid, "x = sum(range(10))\nprint(x)") == "45\n"
    for _ in range(2):  # the first refusal does not lift the policy for the next cell
        res = sessions.cell(sid, "import os\nprint(os.getcwd())")
        assert res["status"] == "failed" and "os" in (res["error"] or ""), res
        assert res["stdout"] == "", res
    res = sessions.cell(sid, "y = ().__class__.__mro__[1].__subclasses__()")
    assert res["status"] == "failed", res
    assert sessions.ok(sid, "print(x)") == "45\n"
    # A standard session of the same agent is not restricted.
    other = sessions.create()["session_id"]
    assert sessions.ok(other, "import os\nprint(os.path.isabs(os.getcwd()))") == "True\n"


# -- forks --------------------------------------------------------------------------------------

def test_fork_isolation_both_ways_at_once(sessions):
    parent = sessions.create()["session_id"]
    sessions.ok(parent, "x = 1\nopen('shared.txt', 'w').write('before')")
    fork = sessions.fork(parent)
    child = fork["session_id"]
    assert fork["parent"] == parent and child != parent, fork
    assert sessions.ok(child, "print(x, open('shared.txt').read())") == "1 before\n"
    work = (WAIT_GO.format(name="go") +
            "x += {add}\nopen('shared.txt', 'w').write({tag!r})\n"
            "open({tag!r} + '_only', 'w').write('1')\nprint(x)\n")
    tp, op = in_thread(sessions.cell, parent, work.format(add=100, tag="P"))
    tc, oc = in_thread(sessions.cell, child, work.format(add=10, tag="F"))
    try:
        # Both cells are running at once before either may go on.
        sessions.wait_state(parent, "busy")
        sessions.wait_state(child, "busy")
    finally:
        for sid in (parent, child):
            sessions.put(sid, "go", b"")
    rp, rc = join_result(tp, op), join_result(tc, oc)
    assert rp["stdout"] == "101\n" and rc["stdout"] == "11\n", (rp, rc)
    check = ("import os\nprint(x, open('shared.txt').read(), os.path.exists('P_only'), "
             "os.path.exists('F_only'))")
    assert sessions.ok(parent, check) == "101 P True False\n"
    assert sessions.ok(child, check) == "11 F False True\n"
    st, body, _ = sessions.ag.get(f"/sessions/{child}/files/shared.txt")
    assert st == 200 and body == "F", (st, body)
    st, body, _ = sessions.ag.get(f"/sessions/{parent}/files/shared.txt")
    assert st == 200 and body == "P", (st, body)
    # Ending one leaves the other.
    assert sessions.ag.delete(f"/sessions/{parent}")[0] == 200
    assert sessions.ok(child, "print(x)") == "11\n"


def test_forks_draw_different_random_numbers(sessions):
    parent = sessions.create()["session_id"]
    sessions.ok(parent, "import random\nimport numpy as np\nrandom.seed(1)\nnp.random.seed(1)")
    draw = "print(random.random(), float(np.random.rand()))"
    forks = [sessions.fork(parent) for _ in range(2)]
    for f in forks:
        assert "random" in f["reseeded"] and "numpy" in f["reseeded"], f
    outs = [sessions.ok(f["session_id"], draw) for f in forks]
    mine = sessions.ok(parent, draw)
    assert len({outs[0], outs[1], mine}) == 3, (outs, mine)
    # A generator the code made itself is its own state: copied as it is.
    sessions.ok(parent, "rng = random.Random(5)")
    f3 = sessions.fork(parent)["session_id"]
    assert sessions.ok(f3, "print(rng.random())") == sessions.ok(parent, "print(rng.random())")


def test_busy_session_refuses_cells_and_forks(sessions):
    sid = sessions.create()["session_id"]
    t, out = in_thread(sessions.cell, sid, WAIT_GO.format(name="go") + "print('slow done')")
    try:
        sessions.wait_state(sid, "busy")
        st, body, _ = sessions.ag.post(f"/sessions/{sid}/execute", {"code": "print(2)"})
        assert st == 409 and body["error"]["code"] == "conflict", (st, body)
        st, body, _ = sessions.ag.post(f"/sessions/{sid}/fork", {})
        assert st == 409 and body["error"]["code"] == "conflict", (st, body)
    finally:
        sessions.put(sid, "go", b"")
    assert join_result(t, out)["stdout"] == "slow done\n"
    res = sessions.cell(sid, "print(2)")
    assert res["stdout"] == "2\n" and res["execution_count"] == 2, res  # the 409 ran nothing


# -- interrupts, timeouts -------------------------------------------------------------------------

def test_interrupt_keeps_the_session(sessions):
    sid = sessions.create()["session_id"]
    st, body, _ = sessions.ag.post(f"/sessions/{sid}/interrupt", {})
    assert st == 200 and body == {"session_id": sid, "interrupted": False}, body
    sessions.ok(sid, "x = 5")
    t, out = in_thread(sessions.cell, sid, "import time\nstarted = True\n"
                                           "open('running', 'w').close()\n"
                                           "while True:\n    time.sleep(0.05)", timeout=60)
    # Interrupted once the code runs (the file it writes is there).
    assert wait_until(lambda: sessions.ag.get(f"/sessions/{sid}/files/running")[0] == 200, 30)
    st, body, _ = sessions.ag.post(f"/sessions/{sid}/interrupt", {})
    assert st == 200 and body["interrupted"] is True, body
    res = join_result(t, out)
    assert res["status"] == "failed" and "KeyboardInterrupt" in res["error"], res
    assert sessions.state(sid) == "idle"
    assert sessions.ok(sid, "print(x, started)") == "5 True\n"


def test_interrupt_right_after_the_cell_starts_is_not_lost(sessions):
    """An interrupt sent as soon as the agent takes it (interrupted: true; the cell may still
    be on its way to the interpreter) must end the cell, not let it run on to its timeout."""
    sid = sessions.create()["session_id"]
    lost, tries = 0, 25
    for _ in range(tries):
        t, out = in_thread(sessions.cell, sid, "import time\nwhile True:\n    time.sleep(0.05)",
                           timeout=1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st, body, _ = sessions.ag.post(f"/sessions/{sid}/interrupt", {})
            assert st == 200, body
            if body["interrupted"]:
                break
        res = join_result(t, out)
        assert res["status"] in ("failed", "timeout"), res
        if res["status"] == "timeout":
            lost += 1
        else:
            assert "KeyboardInterrupt" in res["error"], res
    assert lost == 0, f"{lost} of {tries} interrupts answered interrupted=true were lost"
    assert sessions.ok(sid, "print('alive')") == "alive\n"


def test_timeout_interrupts_but_session_lives(sessions):
    sid = sessions.create()["session_id"]
    sessions.ok(sid, "x = 1")
    res = sessions.cell(sid, "x = 2\nwhile True:\n    pass", timeout=1)
    assert res["status"] == "timeout", res
    assert sessions.state(sid) == "idle"
    # `except Exception` does not swallow the timeout either.
    res = sessions.cell(sid, "try:\n    while True:\n        pass\nexcept Exception:\n"
                             "    print('swallowed')", timeout=1)
    assert res["status"] == "timeout" and "swallowed" not in res["stdout"], res
    assert sessions.ok(sid, "print(x)") == "2\n"


def test_stuck_in_c_timeout_kills_the_session(sessions):
    sid = sessions.create()["session_id"]
    sessions.ok(sid, "x = 1")
    res = sessions.cell(sid, C_LOOP, timeout=1)
    assert res["status"] in ("timeout", "failed"), res
    reason = assert_gone(sessions, sid, "state is gone")
    assert "timeout" in reason or "timed out" in reason, reason
    st, body, _ = sessions.get(sid)
    if st == 200:
        assert body["state"] == "dead" and body["reason"], body
    st, body, _ = sessions.ag.post(f"/sessions/{sid}/fork", {})
    assert st == 410, (st, body)


# -- checkpoint sessions -------------------------------------------------------------------------

CKPT_FAILURES = {
    "timeout": ("while True:\n    pass", dict(timeout=1)),
    "stuck_in_c": (C_LOOP, dict(timeout=1)),
    "os_exit": ("import os\nos._exit(3)", {}),
    "sigsegv": ("import ctypes\nctypes.string_at(0)", {}),
    "memory": ("b = b'x' * (400 << 20)\nprint(len(b))", {}),
}


@pytest.mark.parametrize("kind", sorted(CKPT_FAILURES))
def test_checkpoint_failed_cell_leaves_state(sessions, kind):
    s = sessions.create(checkpoint=True, memory_mb=200)
    sid = s["session_id"]
    assert s["checkpoint"] is True, s
    sessions.ok(sid, "n = 0\nitems = []")
    sessions.ok(sid, "n += 1\nitems.append('ok')")
    code, fields = CKPT_FAILURES[kind]
    res = sessions.cell(sid, "n += 100\nitems.append('bad')\n"
                             f"open('{kind}.txt', 'w').write('kept')\n" + code, **fields)
    assert res["status"] != "completed", res
    assert sessions.state(sid) == "idle", sessions.get(sid)
    assert sessions.ok(sid, "print(n, items)") == "1 ['ok']\n"
    # Files are not rolled back: what the cell wrote is there.
    assert sessions.ok(sid, f"print(open('{kind}.txt').read())") == "kept\n"
    # A completing cell moves on.
    sessions.ok(sid, "n += 1")
    assert sessions.ok(sid, "print(n)") == "2\n"
    st, got, _ = sessions.get(sid)
    assert st == 200 and got["state"] == "idle", got


def test_checkpoint_cell_with_exception_keeps_its_changes(sessions):
    """A cell that raises has completed (it ran to its end): its state is the new head, as in a
    session without checkpoints."""
    sid = sessions.create(checkpoint=True)["session_id"]
    sessions.ok(sid, "n = 1")
    res = sessions.cell(sid, "n = 2\nraise KeyError('k')")
    assert res["status"] == "failed" and "KeyError" in res["error"], res
    assert sessions.ok(sid, "print(n)") == "2\n"
    assert sessions.state(sid) == "idle"


# -- limits ---------------------------------------------------------------------------------------

def test_memory_limit_kills_the_session(sessions):
    s = sessions.create(memory_mb=200)
    sid = s["session_id"]
    assert s["memory_mb"] == 200, s
    sessions.ok(sid, "x = 1")
    res = sessions.cell(sid, "b = b'x' * (400 << 20)\nprint(len(b))")
    assert res["status"] != "completed", res
    assert "out of memory" in (res["error"] or "") or res["exit_reason"] in ("oom", "signaled"), res
    assert_gone(sessions, sid, "out of memory", "state is gone")
    st, body, _ = sessions.ag.post("/sessions", {"memory_mb": 1 << 30})
    assert st == 400 and body["error"]["field"] == "memory_mb", body


def test_idle_session_is_reaped(sessions):
    s = sessions.create(idle_timeout_s=2)
    sid = s["session_id"]
    assert s["idle_timeout_s"] == 2, s
    sessions.ok(sid, "x = 1")
    assert wait_until(lambda: sessions.state(sid) in ("dead", "gone"), 20, 0.2), sessions.get(sid)
    reason = assert_gone(sessions, sid, "idle")
    assert "idle_timeout_s" in reason or "idle for" in reason, reason
    for bad in (0, 86401, "x"):
        st, body, _ = sessions.ag.post("/sessions", {"idle_timeout_s": bad})
        assert st == 400 and body["error"]["field"] == "idle_timeout_s", body


def test_busy_session_is_not_reaped(sessions):
    sid = sessions.create(idle_timeout_s=1)["session_id"]
    res = sessions.cell(sid, "import time\ntime.sleep(3)\nprint('still here')")
    assert res["status"] == "completed" and res["stdout"] == "still here\n", res


def test_max_sessions(sessions_on):
    s = sessions_on(max_sessions=2)
    a = s.create()["session_id"]
    s.create()
    body, hdrs = s.create(expect=503)
    assert body["error"]["code"] == "busy", body
    assert int(hdrs["retry-after"]) >= 1, hdrs
    assert s.ag.health()["sessions"]["live"] == 2
    st, body, _ = s.ag.delete(f"/sessions/{a}")
    assert st == 200, body
    c = s.create()["session_id"]
    assert s.ok(c, "print('third')") == "third\n"
    # A fork counts as a session too.
    st, body, _ = s.ag.post(f"/sessions/{c}/fork", {})
    assert st == 503 and body["error"]["code"] == "busy", (st, body)


def test_sessions_off(sessions_on):
    s = sessions_on(max_sessions=0)
    st, body, _ = s.ag.post("/sessions", {})
    assert st == 503, (st, body)
    assert s.ag.execute("print(1)")["stdout"] == "1\n"


# -- lifecycle -------------------------------------------------------------------------------------

def test_delete_waits_until_gone(sessions):
    sid = sessions.create()["session_id"]
    marker = "sd" + uuid.uuid4().hex[:10]
    # The session's own process carries the marker in its comm from now on.
    sessions.ok(sid, f"import ctypes\nctypes.CDLL(None).prctl(15, {marker!r}.encode(), 0, 0, 0)")
    assert pids_with_marker(marker), "the marker is not on the session's process"
    st, body, _ = sessions.ag.delete(f"/sessions/{sid}")
    assert st == 200 and body == {"session_id": sid, "deleted": True}, body
    assert pids_with_marker(marker) == [], "DELETE answered before the process was gone"
    # Known as ended: 410, or the object shown dead (GET keeps showing an ended session).
    st, body, _ = sessions.get(sid)
    assert (st == 410 and body["error"]["code"] == "gone" and "deleted" in body["reason"]
            or st == 200 and body["state"] == "dead" and body.get("reason") == "deleted"), (st, body)
    st, body, _ = sessions.ag.post(f"/sessions/{sid}/execute", {"code": "1"})
    assert st == 410 and "deleted" in body["error"]["message"], (st, body)
    st, body, _ = sessions.ag.delete(f"/sessions/{sid}")
    assert st in (200, 410), (st, body)
    st, body, _ = sessions.ag.get("/sessions/s-00000000-000000000000")
    assert st in (404, 410), (st, body)
    st, body, _ = sessions.ag.get("/sessions/nonsense")
    assert st == 404 and body["error"]["code"] == "not_found", (st, body)


def test_gone_answer_names_its_reason(sessions):
    """410 `gone` with the reason in the message and as "reason" in the body (the contract)."""
    sid = sessions.create()["session_id"]
    assert sessions.ag.delete(f"/sessions/{sid}")[0] == 200
    st, body, _ = sessions.ag.post(f"/sessions/{sid}/execute", {"code": "1"})
    assert st == 410 and body["error"]["code"] == "gone", (st, body)
    assert body.get("reason") == "deleted" and body.get("session_id") == sid, body


def test_list_sessions(sessions):
    a = sessions.create()["session_id"]
    b = sessions.fork(a)["session_id"]
    st, body, _ = sessions.ag.get("/sessions")
    assert st == 200 and body["total"] == len(body["sessions"]), body
    listed = {x["session_id"]: x for x in body["sessions"]}
    assert a in listed and b in listed, body
    assert listed[b]["parent"] == a and listed[a]["state"] == "idle", listed
    sessions.ag.delete(f"/sessions/{a}")
    st, body, _ = sessions.ag.get("/sessions")
    live = [x["session_id"] for x in body["sessions"] if x["state"] != "dead"]
    assert a not in live and b in live, body


def test_health_counts_sessions(sessions_on):
    s = sessions_on(max_sessions=5)
    h = s.ag.health()["sessions"]
    assert h.pop("memory_bytes") == 0, h
    assert h == {"live": 0, "max": 5, "busy": 0, "created": 0, "ended": 0}, h
    a = s.create()["session_id"]
    b = s.fork(a)["session_id"]
    t, out = in_thread(s.cell, a, WAIT_GO.format(name="go"))
    try:
        s.wait_state(a, "busy")
        h = s.ag.health()["sessions"]
        assert h["live"] == 2 and h["busy"] == 1 and h["created"] == 2 and h["ended"] == 0, h
    finally:
        s.put(a, "go", b"")
    join_result(t, out)
    assert s.ag.delete(f"/sessions/{b}")[0] == 200
    h = s.ag.health()["sessions"]
    assert h["live"] == 1 and h["busy"] == 0 and h["created"] == 2 and h["ended"] == 1, h


def test_agent_killed_and_restarted_gives_410(make_agent):
    ag = make_agent()
    st, s, _ = ag.post("/sessions", {})
    assert st == 201, s
    sid = s["session_id"]
    st, res, _ = ag.post(f"/sessions/{sid}/execute", {"code": "v = 1"})
    assert st == 200 and res["status"] == "completed", res
    os.killpg(ag.pid, signal.SIGKILL)
    ag.stopped_rc = ag.proc.wait(30)
    ag.kill()
    # The same work directory (and state directory), a new process (its port file anew: the
    # fixture reads the first port it finds there).
    ag.port_file.unlink()
    again = Agent(ag.tmp_dir, ag.flags)
    try:
        st, body, _ = again.post(f"/sessions/{sid}/execute", {"code": "print(v)"})
        assert st == 410 and body["error"]["code"] == "gone", (st, body)
        assert "restarted" in body["error"]["message"], body
        st, body, _ = again.get(f"/sessions/{sid}")
        assert st == 410, (st, body)
        st, s2, _ = again.post("/sessions", {})
        assert st == 201 and s2["session_id"] != sid, s2
        st, res, _ = again.post(f"/sessions/{s2['session_id']}/execute", {"code": "print(2)"})
        assert st == 200 and res["stdout"] == "2\n", res
    finally:
        rc = again.terminate()
        again.kill()
        assert rc == 0, rc


def test_create_refuses_bad_fields(sessions):
    for body, field in (({"language": "bash"}, "language"), ({"policy": "lax"}, "policy"),
                        ({"checkpoint": "yes"}, "checkpoint"), ({"env": {"A": 1}}, "env"),
                        ({"pids": 1}, "pids"), ({"bogus": 1}, "bogus")):
        st, res, _ = sessions.ag.post("/sessions", body)
        assert st == 400 and res["error"]["field"] == field, (body, st, res)
    sid = sessions.create()["session_id"]
    st, res, _ = sessions.ag.post(f"/sessions/{sid}/execute", {"code": "1", "async": True})
    assert st == 400 and res["error"]["field"] == "async", res
    st, res, _ = sessions.ag.post(f"/sessions/{sid}/fork", {"memory_mb": 10})
    assert st == 400, res
