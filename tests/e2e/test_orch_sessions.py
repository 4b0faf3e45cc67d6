"""Sessions through sandpit-orchestrator (/api/v1/sessions) with two explicitly started agents:
our own ids, state kept between cells, a fork staying on its agent, a 5 MB file round trip,
sessions spread over both agents, 410 for the sessions of an agent killed or restarted while the
other's keep working, and API-key isolation."""
import hashlib
import http.client
import os
import re
import signal
import threading

import pytest

from orch_fixtures import AGENT_BIN, ORCH_BIN, Agent, agents_started, orch_maker, wait_until

KEYS = ("k-one", "k-two")
H1 = {"X-API-Key": KEYS[0]}
H2 = {"X-API-Key": KEYS[1]}
ID_RE = r"^os-[0-9a-f]{32}$"
BASE = "/api/v1/sessions"


def start_agents(base, n=2):
    return agents_started(base, ("a", "b")[:n])


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    if not (ORCH_BIN.exists() and AGENT_BIN.exists()):
        pytest.fail("build/sandpit-orchestrator or build/sandpit-agent missing: run `make`")
    started = start_agents(tmp_path_factory.mktemp("sess_agents"))
    yield started
    for ag in started:
        ag.stop()


@pytest.fixture
def make_orch(tmp_path):
    def args_of(agent_list, *extra):
        args = []
        for ag in agent_list:
            args += ["--agent", f"python={ag.url}"]
        return [*args, "--health-interval", "0.5", *extra]

    yield from orch_maker(tmp_path, args_of, env_extra={"SANDPIT_API_KEYS": ",".join(KEYS)})


@pytest.fixture
def orch(agents, make_orch):
    return make_orch(agents)


def create(o, headers=H1, **fields):
    st, body, _ = o.post(BASE, fields, headers=headers)
    assert st == 201, (st, body)
    assert re.match(ID_RE, body["session_id"]), body
    return body


def cell(o, sid, code, headers=H1, expect=200, **fields):
    st, body, _ = o.post(f"{BASE}/{sid}/execute", {"code": code, **fields}, headers=headers)
    assert st == expect, (st, body)
    return body


def test_two_cells_keep_state(orch):
    s = create(orch)
    sid = s["session_id"]
    assert s["state"] == "idle" and s["parent"] is None, s
    assert s["agent"] in [ag["url"] for ag in orch.health()["agents"]], s
    first = cell(orch, sid, "import math\nx = 41")
    assert first["session_id"] == sid and first["execution_count"] == 1, first
    second = cell(orch, sid, "x += 1\nprint(x, math.floor(2.5))")
    assert second["status"] == "completed", second
    assert second["stdout"] == "42 2\n", second
    assert second["session_id"] == sid and second["execution_count"] == 2, second
    st, got, _ = orch.get(f"{BASE}/{sid}", headers=H1)
    assert st == 200 and got["session_id"] == sid and got["executions"] == 2, got
    st, res, _ = orch.post(f"{BASE}/{sid}/interrupt", headers=H1)
    assert st == 200 and res["session_id"] == sid and res["interrupted"] is False, res


def test_fork_stays_on_its_agent(orch):
    parent = create(orch)
    pid = parent["session_id"]
    cell(orch, pid, "x = 1")
    st, fork, _ = orch.post(f"{BASE}/{pid}/fork", {}, headers=H1)
    assert st == 201, (st, fork)
    fid = fork["session_id"]
    assert re.match(ID_RE, fid) and fid != pid, fork
    assert fork["parent"] == pid, fork
    assert fork["agent"] == parent["agent"], (parent, fork)
    assert "random" in fork.get("reseeded", []), fork
    # Isolation both ways.
    assert cell(orch, fid, "x += 10\nprint(x)")["stdout"] == "11\n"
    assert cell(orch, pid, "print(x)")["stdout"] == "1\n"
    st, got, _ = orch.get(f"{BASE}/{fid}", headers=H1)
    assert st == 200 and got["parent"] == pid and got["session_id"] == fid, got
    st, lst, _ = orch.get(BASE, headers=H1)
    assert st == 200, lst
    ids = {x["session_id"]: x for x in lst["sessions"]}
    assert pid in ids and fid in ids and ids[fid]["parent"] == pid, lst
    assert lst["total"] == len(lst["sessions"]), lst


def test_file_round_trip(orch):
    s = create(orch)
    sid = s["session_id"]
    data = os.urandom(5 * 1024 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    st, put, _ = orch.request("PUT", f"{BASE}/{sid}/files/data/blob%20one.bin", body=data,
                              headers={**H1, "Content-Type": "application/octet-stream"},
                              timeout=120)
    assert st == 201, (st, put)
    assert put["size"] == len(data), put
    # A cell sees it in its workspace.
    res = cell(orch, sid, "import hashlib\nprint(hashlib.sha256(open('data/blob one.bin', "
                          "'rb').read()).hexdigest())")
    assert res["stdout"] == digest + "\n", res
    # Downloaded as raw bytes, not JSON.
    conn = http.client.HTTPConnection("127.0.0.1", orch.port, timeout=120)
    try:
        conn.request("GET", f"{BASE}/{sid}/files/data/blob%20one.bin", headers=H1)
        resp = conn.getresponse()
        got = resp.read()
        assert resp.status == 200, (resp.status, got[:200])
        assert not resp.getheader("Content-Type", "").startswith("application/json")
    finally:
        conn.close()
    assert hashlib.sha256(got).hexdigest() == digest
    # A file written by a cell, with a Content-Type by extension.
    cell(orch, sid, "open('out.json', 'w').write('{\"a\": 1}')")
    st, body, hdrs = orch.get(f"{BASE}/{sid}/files/out.json", headers=H1)
    assert st == 200 and body == {"a": 1}, (st, body)
    assert hdrs["content-type"].startswith("application/json"), hdrs
    st, listing, _ = orch.get(f"{BASE}/{sid}/files?path=data", headers=H1)
    assert st == 200, listing
    names = {e["name"]: e for e in listing["entries"]}
    assert names["blob one.bin"]["size"] == len(data), listing
    st, body, _ = orch.delete(f"{BASE}/{sid}/files/data/blob%20one.bin", headers=H1)
    assert st == 200, body
    # A missing file is the agent's 404 naming the path, not a gone session.
    st, body, _ = orch.get(f"{BASE}/{sid}/files/data/blob%20one.bin", headers=H1)
    assert st == 404 and body["error"]["field"] == "path", body
    # A traversal is refused (by the orchestrator for '..', by the agent for the rest), and
    # costs the session nothing.
    for bad in ("..%2F..%2Fetc%2Fpasswd", "a/..%2F..%2F..%2Fexecute", "%2Fetc%2Fpasswd"):
        st, body, _ = orch.get(f"{BASE}/{sid}/files/{bad}", headers=H1)
        assert 400 <= st < 500 and st != 410, (bad, st, body)
        assert body["error"].get("field") == "path", (bad, body)
    assert cell(orch, sid, "print('alive')")["stdout"] == "alive\n"


def test_busy_session_passes_the_agents_409(orch):
    sid = create(orch)["session_id"]
    slow = {}
    t = threading.Thread(target=lambda: slow.update(res=cell(orch, sid, "import time\n"
                                                                         "time.sleep(3)\nprint(1)")))
    t.start()
    try:
        assert wait_until(lambda: orch.get(f"{BASE}/{sid}", headers=H1)[1].get("state") == "busy",
                          30), "the session never showed busy"
        st, body, _ = orch.post(f"{BASE}/{sid}/execute", {"code": "print(2)"}, headers=H1)
        assert st == 409 and body["error"]["code"] == "conflict", (st, body)
    finally:
        t.join(60)
    assert slow["res"]["stdout"] == "1\n", slow


def test_delete_then_gone(orch):
    sid = create(orch)["session_id"]
    st, body, _ = orch.delete(f"{BASE}/{sid}", headers=H1)
    assert st == 200 and body["session_id"] == sid and body["deleted"] is True, body
    st, body, _ = orch.get(f"{BASE}/{sid}", headers=H1)
    assert st == 410 and body["error"]["code"] == "gone", body
    assert body["session_id"] == sid and "deleted" in body["reason"], body
    st, lst, _ = orch.get(BASE, headers=H1)
    assert sid not in [x["session_id"] for x in lst["sessions"]], lst


def test_unknown_ids_and_methods(orch):
    st, body, _ = orch.get(f"{BASE}/os-{'0' * 32}", headers=H1)
    assert st == 404 and body["error"]["field"] == "session_id", body
    st, body, _ = orch.post(f"{BASE}/s-123/execute", {"code": "1"}, headers=H1)
    assert st == 404 and body["error"]["field"] == "session_id", body
    st, body, hdrs = orch.request("PUT", BASE, body=b"{}", headers=H1)
    assert st == 405 and hdrs["allow"] == "GET, POST", (st, hdrs)
    st, body, _ = orch.post(f"{BASE}/os-{'0' * 32}/explode", {}, headers=H1)
    assert st == 404, body


def test_key_isolation(orch):
    s = create(orch, headers=H1)
    sid = s["session_id"]
    for method, path in (("GET", f"{BASE}/{sid}"), ("POST", f"{BASE}/{sid}/execute"),
                         ("POST", f"{BASE}/{sid}/fork"), ("DELETE", f"{BASE}/{sid}"),
                         ("GET", f"{BASE}/{sid}/files?path=")):
        st, body, _ = orch.request(method, path, body={"code": "1"} if method == "POST" else None,
                                   headers=H2)
        assert st == 404 and body["error"]["code"] == "not_found", (method, path, st, body)
    st, lst, _ = orch.get(BASE, headers=H2)
    assert st == 200 and sid not in [x["session_id"] for x in lst["sessions"]], lst
    st, body, _ = orch.get(f"{BASE}/{sid}")
    assert st == 401, body
    # The owner still has it, untouched.
    assert cell(orch, sid, "print('mine')")["stdout"] == "mine\n"


def test_sessions_spread_and_killed_agent(tmp_path, make_orch):
    """A session on each agent; the one agent killed: 410 for its sessions (then and later), the
    other's keep working; new sessions go to the survivor."""
    pair = start_agents(tmp_path / "agents")
    try:
        o = make_orch(pair)
        s1, s2 = create(o), create(o)
        assert {s1["agent"], s2["agent"]} == {pair[0].url, pair[1].url}, (s1, s2)
        on_a = s1 if s1["agent"] == pair[0].url else s2
        on_b = s2 if on_a is s1 else s1
        cell(o, on_a["session_id"], "v = 'a'")
        cell(o, on_b["session_id"], "v = 'b'")
        os.killpg(pair[0].pid, signal.SIGKILL)
        pair[0].wait_exit(30)
        st, body, _ = o.post(f"{BASE}/{on_a['session_id']}/execute", {"code": "print(v)"},
                             headers=H1)
        assert st == 410 and body["error"]["code"] == "gone", (st, body)
        assert body["session_id"] == on_a["session_id"] and "gone" in body["reason"], body
        st, body, _ = o.get(f"{BASE}/{on_a['session_id']}", headers=H1)
        assert st == 410, body
        assert cell(o, on_b["session_id"], "print(v)")["stdout"] == "b\n"
        s3 = create(o)
        assert s3["agent"] == pair[1].url, s3
        st, lst, _ = o.get(BASE, headers=H1)
        listed = {x["session_id"]: x for x in lst["sessions"]}
        assert on_b["session_id"] in listed and s3["session_id"] in listed, lst
        assert listed.get(on_a["session_id"], {"state": "dead"})["state"] == "dead", lst
    finally:
        for ag in pair:
            ag.stop()


def test_restarted_agent_same_url_gives_410(tmp_path, make_orch):
    """An agent restarted behind the same URL: its sessions are gone (410 naming the restart),
    and new sessions work on the new process."""
    pair = start_agents(tmp_path / "agents", n=1)
    new = None
    try:
        a = pair[0]
        o = make_orch([a])
        sid = create(o)["session_id"]
        cell(o, sid, "v = 1")
        port = a.port
        os.killpg(a.pid, signal.SIGKILL)
        a.wait_exit(30)
        new = Agent(tmp_path / "a2", "--preload=", port=port)
        # The orchestrator sees it up again (a health check passed).
        assert wait_until(lambda: o.health()["agents"][0]["state"] == "up", 30), o.health()
        st, body, _ = o.post(f"{BASE}/{sid}/execute", {"code": "print(v)"}, headers=H1)
        assert st == 410 and body["error"]["code"] == "gone", (st, body)
        assert "restarted" in body["reason"] or "no longer" in body["reason"], body
        s2 = create(o)
        assert cell(o, s2["session_id"], "print(2)")["stdout"] == "2\n"
    finally:
        if new is not None:
            new.stop()
        for ag in pair:
            ag.stop()
