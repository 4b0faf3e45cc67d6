"""Sessions (issue 14), continued: the workspace's files API (a 5 MB round trip, traversal,
links and special files refused), cells in other languages, what a cell leaves behind (killed at
its end), and cells that tamper with their fds. Helpers in test_sessions.py."""
import hashlib
import os
import random

import pytest

from conftest import pids_with_marker, wait_until
from test_sessions import Sessions


@pytest.fixture
def sessions(agent):
    s = Sessions(agent)
    yield s
    s.cleanup()


def refused_path(res, what):
    st, body, _ = res
    assert 400 <= st < 500 and st != 410, (what, st, body)
    assert isinstance(body, dict) and body["error"].get("field") == "path", (what, st, body)


# -- files ----------------------------------------------------------------------------------------

def test_five_mb_random_file_round_trip(sessions):
    sid = sessions.create()["session_id"]
    data = os.urandom(5 * 1024 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    put = sessions.put(sid, "in/blob.bin", data)
    assert put["size"] == len(data) and put["path"].endswith("blob.bin"), put
    out = sessions.ok(sid, "import hashlib\n"
                           "print(hashlib.sha256(open('in/blob.bin', 'rb').read()).hexdigest())")
    assert out == digest + "\n"
    st, got, hdrs = sessions.ag.request("GET", f"/sessions/{sid}/files/in/blob.bin", timeout=120)
    assert st == 200 and not hdrs["content-type"].startswith("application/json"), hdrs
    # The fixture decodes text: compare the bytes the raw way.
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", sessions.ag.port, timeout=120)
    try:
        conn.request("GET", f"/sessions/{sid}/files/in/blob.bin")
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    assert resp.status == 200 and hashlib.sha256(raw).hexdigest() == digest
    # A file a cell wrote, typed by its extension; the listing; DELETE.
    sessions.ok(sid, "import json\njson.dump({'a': 1}, open('out.json', 'w'))\n"
                     "open('in/note.txt', 'w').write('hi')")
    st, body, hdrs = sessions.ag.get(f"/sessions/{sid}/files/out.json")
    assert st == 200 and body == {"a": 1} and hdrs["content-type"].startswith("application/json")
    st, listing, _ = sessions.ag.get(f"/sessions/{sid}/files?path=in")
    assert st == 200, listing
    entries = {e["name"]: e for e in listing["entries"]}
    assert entries["blob.bin"]["size"] == len(data) and entries["blob.bin"]["type"] == "file"
    assert entries["note.txt"]["size"] == 2 and entries["note.txt"]["mtime"] > 0, entries
    st, listing, _ = sessions.ag.get(f"/sessions/{sid}/files?path=")
    assert st == 200 and {"in", "out.json"} <= {e["name"] for e in listing["entries"]}, listing
    assert {e["name"]: e["type"] for e in listing["entries"]}["in"] == "dir", listing
    st, body, _ = sessions.ag.delete(f"/sessions/{sid}/files/in/blob.bin")
    assert st == 200, body
    assert sessions.ok(sid, "import os\nprint(os.path.exists('in/blob.bin'))") == "False\n"
    st, body, _ = sessions.ag.get(f"/sessions/{sid}/files/in/blob.bin")
    assert st == 404 and body["error"]["field"] == "path", (st, body)


def test_file_over_the_body_cap_is_refused(sessions):
    sid = sessions.create()["session_id"]
    st, body, _ = sessions.ag.request("PUT", f"/sessions/{sid}/files/big.bin",
                                      body=b"\0" * (11 * 1024 * 1024), timeout=120)
    assert st == 413, (st, body)
    assert sessions.ok(sid, "import os\nprint(os.path.exists('big.bin'))") == "False\n"


def test_traversal_links_and_special_files_refused(sessions, agent):
    sid = sessions.create()["session_id"]
    other = sessions.create()["session_id"]
    sessions.put(other, "secret.txt", b"other's")
    sessions.put(sid, "ok.txt", b"fine")
    base = f"/sessions/{sid}/files"
    for bad in ("..%2F..%2Fetc%2Fpasswd", "a/..%2F..%2Fx", "%2Fetc%2Fpasswd",
                "..%2F" + other + "%2Fsecret.txt", "../x"):
        refused_path(agent.get(f"{base}/{bad}"), ("GET", bad))
        refused_path(agent.request("PUT", f"{base}/{bad}", body=b"evil"), ("PUT", bad))
        refused_path(agent.delete(f"{base}/{bad}"), ("DELETE", bad))
    refused_path(agent.get(f"{base}?path=..%2F"), "listing ..")
    # Links and a FIFO made by a cell: refused, and the FIFO's GET does not hang.
    sessions.ok(sid, "import os\nos.symlink('/etc/passwd', 'pw')\nos.symlink('..', 'up')\n"
                     f"os.symlink('../{other}', 'sib')\nos.mkfifo('pipe')\n"
                     "os.mkdir('d')\nos.symlink('/etc', 'd/etc')")
    for name in ("pw", "up", "up/" + other + "/secret.txt", "sib/secret.txt", "d/etc/passwd",
                 "pipe"):
        res = agent.request("GET", f"{base}/{name}", timeout=20)
        refused_path(res, ("GET", name))
        assert "root:" not in str(res.body) and "other's" not in str(res.body), res
    for name in ("pw", "up/evil.txt", "d/etc/evil", "pipe"):
        refused_path(agent.request("PUT", f"{base}/{name}", body=b"evil", timeout=20),
                     ("PUT", name))
    refused_path(agent.get(f"{base}?path=up"), "listing up")
    listing = agent.get(f"{base}?path=")[1]
    types = {e["name"]: e["type"] for e in listing["entries"]}
    assert types["pipe"] == "other" and types["ok.txt"] == "file", types
    # Nothing was written outside: the agent's work directory holds only the sessions'.
    assert not (agent.work_dir / "evil.txt").exists()
    st, body, _ = agent.get(f"/sessions/{other}/files?path=")
    assert st == 200 and [e["name"] for e in body["entries"]] == ["secret.txt"], body
    assert sessions.ok(sid, "print(open('ok.txt').read(), open('/etc/passwd').read()[:5])") \
        == "fine root:\n"


# -- other languages ------------------------------------------------------------------------------

def test_bash_cell_reads_a_python_cells_csv(sessions):
    sid = sessions.create()["session_id"]
    sessions.ok(sid, "import csv\nw = csv.writer(open('data.csv', 'w', newline=''))\n"
                     "w.writerow(['i', 'sq'])\nfor i in range(100):\n    w.writerow([i, i * i])\n"
                     "del w")
    res = sessions.cell(sid, "wc -l < data.csv", language="bash")
    assert res["status"] == "completed" and res["stdout"].strip() == "101", res
    assert res["session_id"] == sid and res["execution_count"] == 2, res
    # Python's variables are still there after the bash cell; bash's are not kept.
    assert sessions.ok(sid, "print(type(csv).__name__)") == "module\n"


def test_two_bash_cells_in_a_row(sessions):
    sid = sessions.create()["session_id"]
    # The user's own main.sh (the file name a bash source would take) is theirs.
    sessions.ok(sid, "open('main.sh', 'w').write('USER\\n')")
    a = sessions.cell(sid, "V=1\necho one > a.txt\ncat a.txt main.sh", language="bash")
    assert a["status"] == "completed" and a["stdout"] == "one\nUSER\n", a
    b = sessions.cell(sid, 'echo "two ${V:-unset}" >> a.txt\ncat a.txt\nls', language="bash")
    assert b["status"] == "completed", b
    lines = b["stdout"].splitlines()
    assert lines[:2] == ["one", "two unset"], b
    assert sorted(lines[2:]) == ["a.txt", "main.sh"], b  # no source or build left behind
    assert sessions.ok(sid, "print(open('main.sh').read(), end='')") == "USER\n"
    c = sessions.cell(sid, "exit 3", language="bash")
    assert c["status"] == "failed" and c["exit_code"] == 3, c
    assert sessions.ok(sid, "print('py ok')") == "py ok\n"


def test_bash_cell_timeout_and_interrupt_keep_the_session(sessions):
    sid = sessions.create()["session_id"]
    sessions.ok(sid, "x = 3")
    res = sessions.cell(sid, "sleep 100", language="bash", timeout=1)
    assert res["status"] == "timeout", res
    assert sessions.ok(sid, "print(x)") == "3\n"


# -- what a cell leaves behind -------------------------------------------------------------------

LEFTOVERS = '''
import os, subprocess, time
a = subprocess.Popen(['sleep', {arg!r}])
b = subprocess.Popen(['sleep', {arg!r}], start_new_session=True)
pid = os.fork()
if pid == 0:  # a double fork: the grandchild belongs to the namespace's init
    os.setsid()
    if os.fork() == 0:
        os.execvp('sleep', ['sleep', {arg!r}])
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.2)
kept = [a, b]
print('started')
'''

COUNT = '''
import os
def alive(arg):
    n = 0
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            argv = open('/proc/%s/cmdline' % d, 'rb').read().split(b'\\0')
            state = open('/proc/%s/stat' % d).read().rsplit(')', 1)[1].split()[0]
        except OSError:
            continue
        if arg.encode() in argv and state not in 'ZX':
            n += 1
    return n
print(alive({arg!r}), [p.poll() is not None for p in kept])
'''


def test_background_processes_end_with_the_cell(sessions):
    sid = sessions.create()["session_id"]
    arg = "%d.%06d" % (random.randint(100, 199), random.randint(0, 999999))
    assert sessions.ok(sid, LEFTOVERS.format(arg=arg)) == "started\n"
    assert pids_with_marker(arg) == [], "a process the cell started outlived it"
    assert sessions.ok(sid, COUNT.format(arg=arg)) == "0 [True, True]\n"
    # Within one cell they run (the count sees them), so the check above can fail.
    out = sessions.ok(sid, LEFTOVERS.format(arg=arg) + COUNT.format(arg=arg))
    assert out == "started\n3 [False, False]\n", out
    assert wait_until(lambda: pids_with_marker(arg) == [], 10), pids_with_marker(arg)


def test_killed_children_do_not_use_up_the_pids_limit(sessions):
    """Each cell forks children that outlive it (killed at its end); the session's pids limit
    is 32: the killed ones must not keep counting, so every cell can fork again."""
    sid = sessions.create(pids=32)["session_id"]
    code = ("import os, time\nfor _ in range(12):\n    if os.fork() == 0:\n"
            "        time.sleep(100)\n        os._exit(0)\nprint('forked')")
    for i in range(5):
        res = sessions.cell(sid, code)
        assert res["status"] == "completed" and res["stdout"] == "forked\n", (i, res)


# -- fd tampering ---------------------------------------------------------------------------------

FD_TAMPER = {
    "close_1_2": "import os\nprint('x', flush=True)\nos.close(1)\nos.close(2)",
    "dup_over_1_2": "import os\nfd = os.open('/dev/null', os.O_WRONLY)\nos.dup2(fd, 1)\n"
                    "os.dup2(fd, 2)",
    "keep_copies_of_1_2": "import os\nheld = [os.dup(1), os.dup(2), os.dup(3)]",
    "write_fake_done_on_4": "import os, struct, time\n"
                            "for _ in range(3):\n"
                            "    try:\n        os.write(4, b'D' + struct.pack('<I', 0))\n"
                            "    except OSError as e:\n        print('fd 4:', e)\n"
                            "time.sleep(1.5)\nprint('after the fake')",
    "close_4": "import os\nos.close(4)",
    "close_3": "import os\nos.close(3)",
    "garbage_on_3_and_4": "import os\nfor fd in (3, 4):\n    try:\n"
                          "        os.write(fd, b'\\xff' * 4096)\n    except OSError:\n"
                          "        pass",
}


@pytest.mark.parametrize("kind", sorted(FD_TAMPER))
def test_fd_tampering_cannot_break_the_session(sessions, kind):
    sid = sessions.create()["session_id"]
    sessions.ok(sid, "x = 9")
    res = sessions.cell(sid, FD_TAMPER[kind], timeout=10, timeout_http=60)
    if kind == "write_fake_done_on_4":
        # A fake end is not the end: either the cell ran on (its output is there) or the zygote
        # saw through it and killed the session; never a "completed" cut short.
        assert ("after the fake" in res["stdout"] if res["status"] == "completed"
                else sessions.state(sid) in ("dead", "gone")), res
    st, body, _ = sessions.ag.post(f"/sessions/{sid}/execute", {"code": "print(x)", "timeout": 10},
                                   timeout=60)
    if st == 200:
        assert body["status"] == "completed" and body["stdout"] == "9\n", body
        assert body["execution_count"] == 3, body
    else:
        assert st == 410 and body["error"]["code"] == "gone", (st, body)
        assert "is gone: " in body["error"]["message"], body  # with its reason
    # Never left busy: the agent's count of busy sessions is back to none of ours.
    assert wait_until(lambda: sessions.state(sid) in ("idle", "dead", "gone"), 10), \
        sessions.get(sid)
    st, again, _ = sessions.ag.post(f"/sessions/{sid}/execute", {"code": "print(x)",
                                                                 "timeout": 10}, timeout=60)
    assert st == 410 or again["stdout"] == "9\n", (st, again)
    if kind in ("close_1_2", "dup_over_1_2"):
        assert st == 200, "a cell's own stdio is its business: the session lives"

