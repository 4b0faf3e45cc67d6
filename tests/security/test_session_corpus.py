"""The hostile-code corpus's session programs (issue 14): each program of EXPECT marked
`session` runs as the cells of a session on the corpus's agent, beside two other sessions of the
same agent: a witness holding a variable and a file, and the "other" session whose workspace
(secret.txt) and family /tmp the program may go after.

Judged: no "BREACH" in any cell's output; each cell's status; the required lines; the attacking
session's state afterwards (alive, or "either": dead with a reason is containment too); no
process with the marker left after any cell; the witness's state and the other session's files
intact; then, with every session deleted, the corpus's four post-conditions (check_after: the
agent and its zygote unharmed, the zygote's tree back to its warm pool, the host unchanged, an
ordinary execution correct)."""
import uuid

import pytest

from sec_helpers import load_program, new_marker, pids_with_marker, wait_until
from test_corpus import EXPECT, T_RUN, Ctx, base_input, check_after

SESSION_PROGRAMS = sorted(n for n, e in EXPECT.items() if e.get("session"))


@pytest.fixture(scope="module")
def zygote_baseline(small_agent):
    h = small_agent.health()
    return h["zygote"]["pid"], h["zygote"]["restarts"]


class Sess:
    def __init__(self, ag):
        self.ag = ag
        self.ids = []

    def create(self):
        st, body, _ = self.ag.post("/sessions", {})
        assert st == 201, (st, body)
        self.ids.append(body["session_id"])
        return body["session_id"]

    def cell(self, sid, code, timeout=T_RUN, **fields):
        st, body, _ = self.ag.post(f"/sessions/{sid}/execute",
                                   {"code": code, "timeout": timeout, "debug_mode": False,
                                    **fields}, timeout=timeout + 60)
        return st, body

    def ok(self, sid, code, **fields):
        st, body = self.cell(sid, code, **fields)
        assert st == 200 and body["status"] == "completed", (st, body)
        return body["stdout"]

    def state(self, sid):
        st, body, _ = self.ag.get(f"/sessions/{sid}")
        return body.get("state") if st == 200 else ("gone" if st == 410 else st)

    def delete_all(self):
        for sid in self.ids:
            st, body, _ = self.ag.delete(f"/sessions/{sid}", timeout=60)
            assert st in (200, 410), (sid, st, body)


def test_session_programs_are_listed():
    assert SESSION_PROGRAMS == ["90_session_other_workspace", "91_session_lingering_process",
                                "92_session_fake_done", "93_session_kill_init",
                                "94_session_fork_bomb", "95_session_write_outside",
                                "96_session_signal_family"]
    for n in SESSION_PROGRAMS:
        e = EXPECT[n]
        assert e["cells"] and e["after"] in ("alive", "either"), n


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=EXPECT[n]["xfail"]))
    if EXPECT[n].get("xfail") else n for n in SESSION_PROGRAMS])
def test_hostile_session_program(name, small_agent, host, zygote_baseline):
    h = small_agent.health()
    if any(not v.get("on") for v in h["isolation"].values()) or not h["zygote"].get("pid_namespace"):
        pytest.fail(f"isolation incomplete, hostile program not run: {h['isolation']}")
    exp = EXPECT[name]
    marker = new_marker()
    secret = "secret-" + uuid.uuid4().hex
    s = Sess(small_agent)
    try:
        witness = s.create()
        s.ok(witness, f"w = 'intact-{marker}'\nopen('w.txt', 'w').write(w)")
        other = s.create()
        st, body, _ = small_agent.request("PUT", f"/sessions/{other}/files/secret.txt",
                                          body=secret.encode())
        assert st == 201, (st, body)
        s.ok(other, "import os\n"
                    f"for d in ('/tmp', '/dev/shm'):\n"
                    f"    open(os.path.join(d, {marker + '-other'!r}), 'w').write({secret!r})")
        if exp.get("attack_from") == "fork":
            st, body, _ = small_agent.post(f"/sessions/{other}/fork", {})
            assert st == 201, (st, body)
            attacker = body["session_id"]
            s.ids.append(attacker)
        else:
            attacker = s.create()
        data = base_input(small_agent, host, marker)
        data.update(other_session=other, work_dir=str(small_agent.work_dir), secret=secret)
        program = load_program(name)
        results = []
        for spec in exp["cells"]:
            if s.state(attacker) != "idle":
                assert exp["after"] == "either", (name, s.state(attacker), results)
                break
            inp = dict(data, **({"role": spec["role"]} if "role" in spec else {}))
            st, res = s.cell(attacker, program, timeout=spec.get("timeout", T_RUN),
                             input_data=inp)
            if st == 410:
                assert exp["after"] == "either" and res["error"]["code"] == "gone", (st, res)
                break
            assert st == 200, (name, st, res)
            results.append(res)
            out, err = res.get("stdout") or "", res.get("stderr") or ""
            assert "BREACH" not in out and "BREACH" not in err, \
                f"{name}: containment failure:\n{out[-3000:]}\n{err[-2000:]}"
            want = spec["status"]
            want = (want,) if isinstance(want, str) else want
            assert res["status"] in want, (name, spec, res["status"], res["error"], out[-500:],
                                           err[-500:])
            assert wait_until(lambda: not pids_with_marker(marker), 10), \
                f"{name}: processes of the cell outlived it: {pids_with_marker(marker)}"
        assert results, f"{name}: no cell ran"
        joined = "".join(r["stdout"] for r in results)
        for line in exp.get("stdout", []):
            assert line in joined, (name, line, joined[-2000:])
        state = s.state(attacker)
        if exp["after"] == "alive":
            assert state == "idle", (name, state)
            assert s.ok(attacker, "print('next')") == "next\n"
        else:
            assert state in ("idle", "dead", "gone"), (name, state)
        if exp.get("check"):
            exp["check"](results, Ctx(agent=small_agent, other=other, attacker=attacker,
                                      marker=marker, secret=secret))
        # Beside it: the witness's state and files, the other's files and process.
        assert s.ok(other, "print('other alive')") == "other alive\n"
        assert s.ok(witness, "print(w, open('w.txt').read())") == \
            f"intact-{marker} intact-{marker}\n"
        st, body, _ = small_agent.get(f"/sessions/{other}/files/secret.txt")
        assert st == 200 and body == secret, (st, body)
    finally:
        s.delete_all()
    check_after(small_agent, host, marker, *zygote_baseline)


def test_session_programs_in_one_session_then_a_fork(small_agent, host, zygote_baseline):
    """The lingering-process program in a session, then a fork of it: the fork's first cell
    sees nothing the parent's cell started, and both keep the parent's state."""
    marker = new_marker()
    s = Sess(small_agent)
    try:
        sid = s.create()
        data = base_input(small_agent, host, marker)
        s.ok(sid, load_program("91_session_lingering_process"), input_data=dict(data,
                                                                               role="spawn"))
        s.ok(sid, "state = 'parent'")
        st, fork, _ = small_agent.post(f"/sessions/{sid}/fork", {})
        assert st == 201, (st, fork)
        s.ids.append(fork["session_id"])
        out = s.ok(fork["session_id"], load_program("91_session_lingering_process"),
                   input_data=dict(data, role="check"))
        assert "CONTAINED: nothing the last cell started runs" in out, out
        assert s.ok(sid, "print(state)") == "parent\n"
        assert s.ok(fork["session_id"], "print(state)") == "parent\n"
    finally:
        s.delete_all()
    check_after(small_agent, host, marker, *zygote_baseline)
