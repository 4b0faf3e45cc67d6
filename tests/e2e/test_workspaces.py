"""Issue 14, named workspaces for stateless executions: "workspace" on POST /execute attaches a
persistent, size-limited directory as the working directory (files survive, variables do not);
GET /workspaces lists them, DELETE /workspaces/{name} deletes them (409 while in use)."""
import os
import time
import uuid

import pytest

from conftest import AGENT_BIN, Agent, _stop_and_check

WS_MB = 16


@pytest.fixture(scope="module")
def wsa(tmp_path_factory):
    """An agent with small workspaces (a fill test stays cheap) and room for a few."""
    if not AGENT_BIN.exists():
        pytest.fail(f"{AGENT_BIN} not found: run `make`")
    ag = Agent(tmp_path_factory.mktemp("wsagent"),
               {"workspace_mb": WS_MB, "max_workspaces": 6, "warm_pool": 2, "preload": ""})
    yield ag
    _stop_and_check(ag)


@pytest.fixture(autouse=True)
def _clean(request):
    """Each test starts with no workspace (the agent holds at most --max-workspaces)."""
    yield
    if "wsa" in request.fixturenames:
        ag = request.getfixturevalue("wsa")
        for w in listing(ag):
            ag.delete(f"/workspaces/{w}")


def name():
    return "t-" + uuid.uuid4().hex[:10]


def run(ag, code, **fields):
    res = ag.execute(code, **fields)
    assert res["status"] == "completed", res
    return res


def listing(ag):
    st, body, _ = ag.get("/workspaces")
    assert st == 200, body
    return {w["name"]: w for w in body["workspaces"]}


def test_a_file_written_in_one_execution_is_read_in_the_next(wsa):
    ws = name()
    res = run(wsa, "import os\nopen('notes.txt', 'w').write('first')\nx = 41\nprint(os.getcwd())",
              workspace=ws)
    assert res["workspace"] == ws
    cwd1 = res["stdout"].strip()
    res = run(wsa, "import os\nprint(open('notes.txt').read())\nprint('x' in globals())\n"
                   "print(os.getcwd())", workspace=ws)
    out = res["stdout"].split()
    # Files survive, variables do not; each execution has its own working-directory path.
    assert out[:2] == ["first", "False"], res
    assert out[2] != cwd1


def test_two_workspaces_are_isolated_and_an_execution_without_one_sees_neither(wsa):
    a, b = name(), name()
    run(wsa, "open('f', 'w').write('A')", workspace=a)
    res = run(wsa, "import os\nprint(sorted(os.listdir('.')))\nopen('f', 'w').write('B')",
              workspace=b)
    assert res["stdout"].strip() == "[]", res
    assert run(wsa, "print(open('f').read())", workspace=a)["stdout"] == "A\n"
    assert run(wsa, "print(open('f').read())", workspace=b)["stdout"] == "B\n"
    res = run(wsa, "import os\nprint(sorted(os.listdir('.')))")
    assert res["stdout"].strip() == "[]", res


def test_no_host_path_leads_to_a_workspace(wsa):
    """Security: an execution without workspace X (or with another one) finds X's files nowhere
    in its view of the file system, and the host has no path to them either: a workspace is a
    detached mount the agent holds by an fd."""
    ws, other, marker = name(), name(), "m-" + uuid.uuid4().hex
    run(wsa, f"open('{marker}', 'w').write('secret')", workspace=ws)
    hunt = f"""
import os
found = []
for top in ('/tmp', '/run', '/var/tmp', '/dev/shm', '/home', '/root', '/srv', '/mnt', '/opt',
            {str(wsa.tmp_dir)!r}, '/proc/self/root/tmp'):
    for d, dirs, files in os.walk(top, onerror=lambda e: None):
        if '{marker}' in files:
            found.append(d)
        dirs[:] = [x for x in dirs if not os.path.ismount(os.path.join(d, x)) or d == top]
print('FOUND' if found else 'NONE', found)
print(sum(' sandpit-ws ' in l for l in open('/proc/self/mountinfo')))
"""
    for fields in ({}, {"workspace": other}):
        res = run(wsa, hunt, **fields)
        lines = res["stdout"].splitlines()
        assert lines[0].startswith("NONE"), res
        # Its own workspace is the only such mount it sees.
        assert lines[1] == ("1" if fields else "0"), res
    # The host side: no file of the workspace under the agent's directories, no mount of it.
    for d, _, files in os.walk(wsa.tmp_dir):
        assert marker not in files, d
    with open("/proc/self/mountinfo") as f:
        assert str(wsa.tmp_dir) not in f.read()


def test_filling_a_workspace_is_enospc_in_the_program(wsa):
    ws = name()
    code = f"""
import errno
n = 0
try:
    with open('big', 'wb') as f:
        for _ in range({WS_MB * 2}):
            f.write(b'x' * (1 << 20))
            f.flush()
            n += 1
    print('NO LIMIT')
except OSError as e:
    print('ENOSPC' if e.errno == errno.ENOSPC else 'OTHER', e.errno, n)
"""
    res = run(wsa, code, workspace=ws)
    word, _, n = res["stdout"].split()
    assert word == "ENOSPC", res
    assert int(n) <= WS_MB
    w = listing(wsa)[ws]
    assert 0 < w["size_bytes"] <= WS_MB << 20, w
    # The host's disk did not take it: nothing of that size under the agent's directories.
    for d, _, files in os.walk(wsa.tmp_dir):
        for f in files:
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                assert os.path.getsize(p) < (1 << 20), p
    # The space comes back when the file goes.
    run(wsa, "import os\nos.remove('big')\nopen('small', 'w').write('ok')", workspace=ws)


def _uid_in(ag, ws, code):
    res = run(ag, "import os\nprint(os.getuid())\n" + code, workspace=ws)
    return int(res["stdout"].split()[0]), res


def test_executions_of_one_workspace_share_its_uid_whatever_their_slot(wsa):
    """A workspace's executions run as its own uid (not their slot's), so a 0600 file one wrote
    is the next one's; another workspace and no workspace are other uids."""
    ws = name()
    uid_a, _ = _uid_in(wsa, ws, """
os.mkdir('d', 0o700)
open('d/inner', 'w').write('a')
fd = os.open('private', os.O_CREAT | os.O_WRONLY, 0o600)
os.write(fd, b'a')
os.close(fd)
""")
    blockers = []
    try:
        for _ in range(3):  # other executions hold slots: the next one gets another slot
            st, body, _ = wsa.post("/execute", {"code": "import time\ntime.sleep(20)",
                                               "async": True})
            assert st == 202, body
            blockers.append(body["execution_id"])
        uid_b, res = _uid_in(wsa, ws, """
import shutil
with open('private', 'a') as f:
    f.write('b')
print(open('private').read())
shutil.rmtree('d')
print(sorted(os.listdir('.')), os.stat('.').st_uid == os.getuid())
""")
        assert uid_b == uid_a, (uid_a, uid_b)
        lines = res["stdout"].splitlines()
        assert lines[1] == "ab", res
        assert lines[2] == "['private'] True", res
        other, _ = _uid_in(wsa, name(), "")
        plain = int(run(wsa, "import os\nprint(os.getuid())")["stdout"])
        assert len({uid_a, other, plain}) == 3, (uid_a, other, plain)
    finally:
        for b in blockers:
            wsa.delete(f"/execution/{b}")


def test_executions_of_one_workspace_run_at_once(wsa):
    """Each waits (bounded) for the other's mark in the shared directory: only executions that
    run at the same time both see it."""
    ws = name()
    code = ("import os, time\n"
            "open('mark-%s' % me, 'w').write('x')\n"
            "t = time.monotonic()\n"
            "while not os.path.exists('mark-%s' % other) and time.monotonic() - t < 40:\n"
            "    time.sleep(0.05)\n"
            "print('saw' if os.path.exists('mark-%s' % other) else 'alone')\n")
    ids = []
    for me, other in (("a", "b"), ("b", "a")):
        st, body, _ = wsa.post("/execute", {"code": f"me, other = {me!r}, {other!r}\n" + code,
                                           "async": True, "workspace": ws, "timeout": 60})
        assert st == 202, body
        ids.append(body["execution_id"])
    for i in ids:
        st, body, _ = wsa.get(f"/execution/{i}?wait=90", timeout=100)
        assert st == 200 and body["status"] == "completed", body
        assert body["stdout"] == "saw\n", body


def test_list_and_delete(wsa):
    ws = name()
    run(wsa, "open('a', 'w').write('x' * 5000)\nopen('b', 'w').write('y')", workspace=ws)
    w = listing(wsa)[ws]
    assert w["files"] == 2 and w["size_bytes"] >= 5000 and w["in_use"] is False, w
    assert w["last_used"] >= w["created"] > 0, w
    # In use: 409, then deletable once the execution is over.
    st, body, _ = wsa.post("/execute", {"code": "import time\ntime.sleep(2)", "async": True,
                                       "workspace": ws})
    assert st == 202, body
    st, err, _ = wsa.delete(f"/workspaces/{ws}")
    assert st == 409 and err["error"]["code"] == "conflict", err
    st, _, _ = wsa.get(f"/execution/{body['execution_id']}?wait=30", timeout=40)
    st, body, _ = wsa.delete(f"/workspaces/{ws}")
    assert st == 200 and body == {"workspace": ws, "deleted": True}, body
    assert ws not in listing(wsa)
    st, body, _ = wsa.delete(f"/workspaces/{ws}")
    assert st == 404, body
    # The same name again is a fresh, empty workspace.
    assert run(wsa, "import os\nprint(os.listdir('.'))", workspace=ws)["stdout"] == "[]\n"
    assert wsa.delete(f"/workspaces/{ws}").status == 200


@pytest.mark.parametrize("bad", ["", "UPPER", "../x", "a/b", ".hidden", "-x", "x" * 64, 5, "a b"])
def test_a_bad_name_is_400_naming_workspace(wsa, bad):
    st, body, _ = wsa.post("/execute", {"code": "1", "workspace": bad})
    assert st == 400 and body["error"]["field"] == "workspace", body


def test_delete_of_a_bad_name_is_400(wsa):
    st, body, _ = wsa.delete("/workspaces/Bad")
    assert st == 400 and body["error"]["field"] == "workspace", body


def test_max_workspaces_then_room_after_a_delete(make_agent):
    ag = make_agent(max_workspaces=2, workspace_mb=4, preload="")
    run(ag, "1", workspace="one")
    run(ag, "1", workspace="two")
    st, body, hdrs = ag.post("/execute", {"code": "1", "workspace": "three"})
    assert st == 503 and body["error"]["field"] == "workspace", body
    assert "--max-workspaces" in body["error"]["message"]
    assert ag.delete("/workspaces/one").status == 200
    run(ag, "1", workspace="three")
    h = ag.health()["workspaces"]
    assert h == {"enabled": True, "count": 2, "max": 2, "size_mb": 4}, h


OTHER_LANGS = {
    "bash": "wc -l < data.csv; ls",
    "sql": ".once out.txt\nSELECT 3;\n.shell ls",
    "c": ('#include <stdio.h>\n#include <stdlib.h>\nint main(void){int n=0,c;FILE*f=fopen("data.csv","r");'
          'while((c=fgetc(f))!=EOF)n+=c==10;printf("%d\\n",n);fflush(stdout);return system("ls");}'),
}


@pytest.mark.parametrize("lang", sorted(OTHER_LANGS))
def test_other_languages_work_in_the_workspace_without_leaving_their_build(wsa, lang):
    ws = name()
    run(wsa, "open('data.csv', 'w').write('a\\nb\\nc\\n')\nopen('main.sh', 'w').write('mine')",
        workspace=ws)
    st, res, _ = wsa.post("/execute", {"code": OTHER_LANGS[lang], "language": lang,
                                       "workspace": ws, "timeout": 60}, timeout=90)
    if st == 400 and "not available" in str(res):
        pytest.skip(f"no {lang} runtime")
    assert st == 200 and res["status"] == "completed", res
    words = res["stdout"].split()
    if lang == "sql":
        assert words == ["data.csv", "main.sh", "out.txt"], res
    else:
        assert words == ["3", "data.csv", "main.sh"], res
    assert run(wsa, "print(open('main.sh').read())", workspace=ws)["stdout"] == "mine\n"


def test_a_session_cell_refuses_a_workspace(wsa):
    st, body, _ = wsa.post("/sessions", {})
    if st != 201:
        pytest.skip(f"sessions unavailable: {body}")
    sid = body["session_id"]
    try:
        st, body, _ = wsa.post(f"/sessions/{sid}/execute", {"code": "1", "workspace": "x"})
        assert st == 400 and body["error"]["field"] == "workspace", body
    finally:
        wsa.delete(f"/sessions/{sid}")
