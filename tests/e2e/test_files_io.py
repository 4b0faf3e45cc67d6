"""Files in and files out (issue 16, docs/agent.md "Files in and out"): `files` written to the
working directory before the code runs (Python and bash), every refused entry kind named by its
field, `collect` returning what the run created or changed (not what it left alone), `**`,
inline content against a download URL, the 50 MB done-when download checked by sha256, links,
FIFOs and hard links a program plants never followed or read, a session cell, named workspaces,
and the download after the result was evicted (410)."""
import base64
import hashlib
import http.client

import pytest

from test_sessions import Sessions


def raw_get(ag, path, timeout=120):
    """GET path as bytes: (status, body, headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", ag.port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def by_path(res):
    return {f["path"]: f for f in res.get("files") or []}


def test_files_in_python_text_and_base64(agent):
    blob = bytes(range(256)) * 4
    res = agent.execute(
        "import hashlib, os\n"
        "print(open('notes/a.txt', encoding='utf-8').read())\n"
        "print(hashlib.sha256(open('data/b.bin', 'rb').read()).hexdigest())\n"
        "print(os.path.abspath('notes/a.txt').startswith(os.getcwd()))",
        files=[{"path": "notes/a.txt", "content": "héllo\nworld", "encoding": "utf-8"},
               {"path": "data/b.bin", "content": base64.b64encode(blob).decode(),
                "encoding": "base64"}])
    assert res["status"] == "completed", res
    assert res["stdout"] == "héllo\nworld\n%s\nTrue\n" % hashlib.sha256(blob).hexdigest(), res
    assert "files" not in res  # nothing asked to be collected


def test_files_in_and_out_bash(agent):
    res = agent.execute("cat in.txt; tr a-z A-Z < in.txt > out/up.txt; wc -c < in.txt",
                        language="bash", policy="standard",
                        files=[{"path": "in.txt", "content": "shout"},
                               {"path": "out/.keep", "content": ""}],
                        collect=["out/**"])
    assert res["status"] == "completed", res
    assert res["stdout"] == "shout5\n", res
    files = by_path(res)
    assert set(files) == {"out/up.txt"}, files  # out/.keep was not changed by the run
    assert base64.b64decode(files["out/up.txt"]["content"]) == b"SHOUT"
    assert files["out/up.txt"]["sha256"] == hashlib.sha256(b"SHOUT").hexdigest()


BAD_ENTRIES = [
    ({"files": [{"path": "/etc/passwd", "content": "x"}]}, "files[0].path"),
    ({"files": [{"path": "ok", "content": ""}, {"path": "../up", "content": "x"}]},
     "files[1].path"),
    ({"files": [{"path": "a/../../b", "content": "x"}]}, "files[0].path"),
    ({"files": [{"path": "", "content": "x"}]}, "files[0].path"),
    ({"files": [{"path": "a\u0000b", "content": "x"}]}, "files[0].path"),
    ({"files": [{"path": "a", "content": "%%%", "encoding": "base64"}]}, "files[0].content"),
    ({"files": [{"path": "a", "content": "x", "encoding": "utf-16"}]}, "files[0].encoding"),
    ({"files": [{"path": "a", "content": "1"}, {"path": "b", "content": "2"},
                {"path": "a", "content": "3"}]}, "files[2].path"),
    ({"files": [{"path": "f%d" % i, "content": ""} for i in range(257)]}, "files"),
    ({"files": [{"path": "big", "content": "x" * (4 * 1024 * 1024 + 1)}]}, "files[0].content"),
    ({"files": [{"path": "p%d" % i, "content": "y" * (3 * 1024 * 1024)} for i in range(3)]},
     "files[2].content"),
    ({"files": [{"path": "a"}]}, "files[0].content"),
    ({"files": "a.txt"}, "files"),
    ({"collect": ["ok/*", "/abs/*"]}, "collect[1]"),
    ({"collect": ["../*"]}, "collect[0]"),
]


@pytest.mark.parametrize("fields,field", BAD_ENTRIES, ids=[f for _, f in BAD_ENTRIES])
def test_bad_entry_refused_naming_it(agent, fields, field):
    st, body, _ = agent.post("/execute", {"code": "print(1)", **fields}, timeout=60)
    assert st == 400, (st, body)
    assert body["error"]["field"] == field, body
    assert body["error"]["code"] == "invalid_request", body


def test_entry_in_the_way_of_another_refused_before_the_run(agent):
    # "a" is a file, so "a/b" cannot be made: refused with its entry named, nothing runs.
    st, body, _ = agent.post("/execute", {
        "code": "open('/tmp/ran', 'w')",
        "files": [{"path": "a", "content": "1"}, {"path": "a/b", "content": "2"}]})
    assert 400 <= st < 500, (st, body)
    assert body["error"]["field"] == "files[1].path", body


def test_collect_created_and_changed_not_unchanged(agent):
    res = agent.execute(
        "import os\n"
        "open('new.csv', 'w').write('n')\n"
        "open('changed.csv', 'a').write('+more')\n"
        "open('note.txt', 'w').write('not matched')\n"
        "os.makedirs('deep/er/est')\n"
        "open('deep/er/est/x.csv', 'w').write('deep')\n",
        files=[{"path": "changed.csv", "content": "old"},
               {"path": "same.csv", "content": "untouched"}],
        collect=["*.csv"])
    assert res["status"] == "completed", res
    files = by_path(res)
    assert set(files) == {"new.csv", "changed.csv"}, files
    assert base64.b64decode(files["changed.csv"]["content"]) == b"old+more"
    assert files["new.csv"]["size"] == 1 and files["new.csv"]["truncated"] is False
    # "**" crosses directories.
    res = agent.execute("import os\nos.makedirs('o/p/q')\n"
                        "for p in ('top.csv', 'o/a.csv', 'o/p/q/b.csv', 'o/p/q/c.txt'):\n"
                        "    open(p, 'w').write(p)\n",
                        collect=["**/*.csv", "o/**/c.txt"])
    assert set(by_path(res)) == {"top.csv", "o/a.csv", "o/p/q/b.csv", "o/p/q/c.txt"}, res


def test_inline_and_url_and_the_50_mb_download(agent):
    res = agent.execute(
        "import os\n"
        "open('small.bin', 'wb').write(b'\\x00\\x01' * 1000)\n"
        "open('two mb.bin', 'wb').write(os.urandom(2 * 1024 * 1024))\n"
        "with open('big.bin', 'wb') as f:\n"
        "    for i in range(50):\n"
        "        f.write(os.urandom(1024 * 1024))\n",
        collect=["*.bin"], timeout=120, timeout_http=180)
    assert res["status"] == "completed", res
    files = by_path(res)
    small = files["small.bin"]
    assert base64.b64decode(small["content"]) == b"\x00\x01" * 1000
    assert small["truncated"] is False and small["size"] == 2000
    for name, size in (("two mb.bin", 2 * 1024 * 1024), ("big.bin", 50 * 1024 * 1024)):
        f = files[name]
        assert f["content"] is None and f["truncated"] is True and f["size"] == size, f
        assert f["url"].startswith("/execution/%s/files/" % res["execution_id"]), f
        st, body, hdrs = raw_get(agent, f["url"])
        assert st == 200, (st, body[:200])
        assert int(hdrs["content-length"]) == size and len(body) == size
        assert hdrs["x-content-type-options"] == "nosniff"
        assert hashlib.sha256(body).hexdigest() == f["sha256"]
    assert "%20" in files["two mb.bin"]["url"]
    # The small one is downloadable too; a path it did not collect is 404.
    st, body, _ = raw_get(agent, small["url"])
    assert st == 200 and body == b"\x00\x01" * 1000
    st, body, _ = raw_get(agent, "/execution/%s/files/nope.bin" % res["execution_id"])
    assert st == 404, (st, body)
    st, body, _ = raw_get(agent, "/execution/%s/files/../../etc/passwd" % res["execution_id"])
    assert st in (400, 404) and b"root:" not in body


def test_links_fifos_and_hard_links_planted_by_the_program(agent):
    res = agent.execute(
        "import os\n"
        "os.symlink('/etc/passwd', 'passwd.csv')\n"
        "os.symlink('/etc', 'etc')\n"
        "os.mkfifo('pipe.csv')\n"
        "open('real.csv', 'w').write('real')\n"
        "os.link('real.csv', 'hard.csv')\n",
        collect=["*.csv", "etc/**"], timeout=30)
    assert res["status"] == "completed", res
    files = by_path(res)
    assert set(files) == set(), files  # real.csv has two links now: not read either
    skipped = {s["path"]: s["reason"] for s in res["files_skipped"]}
    assert "symbolic link" in skipped["passwd.csv"], skipped
    assert "hard link" in skipped["real.csv"] and "hard link" in skipped["hard.csv"], skipped
    assert "pipe.csv" not in files
    text = repr(res)
    assert "root:x:0:0" not in text and base64.b64encode(b"root:x:0:0").decode() not in text


def test_session_cell_with_files_and_collect(agent):
    s = Sessions(agent)
    try:
        sid = s.create()["session_id"]
        res = s.cell(sid, "x = open('in.txt').read()\nopen('out.csv', 'w').write(x * 2)",
                     files=[{"path": "in.txt", "content": "ab"}], collect=["*.csv", "*.txt"])
        assert res["status"] == "completed", res
        files = by_path(res)
        assert set(files) == {"out.csv"}, files
        assert base64.b64decode(files["out.csv"]["content"]) == b"abab"
        # The next cell: out.csv is unchanged now, so nothing comes back; the state stays.
        res = s.cell(sid, "open('in.txt', 'a').write('c')", collect=["*.csv", "*.txt"])
        assert set(by_path(res)) == {"in.txt"}, res
        st, body, _ = raw_get(agent, by_path(res)["in.txt"]["url"])
        assert st == 200 and body == b"abc"
    finally:
        s.cleanup()


def test_named_workspace_files_in_and_collect(agent):
    ws = "files-io-ws"
    try:
        res = agent.execute("open('o.csv', 'w').write('1')", workspace=ws,
                            files=[{"path": "i.csv", "content": "x"}], collect=["*.csv"])
        assert res["status"] == "completed", res
        assert set(by_path(res)) == {"o.csv"}, res
        # Files in go to the workspace as its own files: the program may change them.
        res = agent.execute("import os\nprint(sorted(os.listdir()))\n"
                            "open('j.csv', 'a').write('y')", workspace=ws,
                            files=[{"path": "j.csv", "content": "x"}], collect=["*.csv"])
        assert res["status"] == "completed", res
        assert res["stdout"] == "['i.csv', 'j.csv', 'o.csv']\n", res
        assert set(by_path(res)) == {"j.csv"}, res
        assert base64.b64decode(by_path(res)["j.csv"]["content"]) == b"xy"
    finally:
        agent.delete("/workspaces/" + ws)


def test_download_after_eviction_is_gone(make_agent):
    ag = make_agent(history=2)
    res = ag.execute("open('o.txt', 'w').write('x' * 3000000)", collect=["o.txt"])
    url = by_path(res)["o.txt"]["url"]
    st, body, _ = raw_get(ag, url)
    assert st == 200 and body == b"x" * 3000000
    st, _, _ = raw_get(ag, "/execution/%s" % res["execution_id"])
    for _ in range(3):
        ag.execute("print(1)")
    st, body, hdrs = ag.get(url)
    assert st == 410, (st, body)
    assert hdrs["content-type"].startswith("application/json")
    assert body["evicted"] is True and body["error"]["field"] == "execution_id", body
    # Its kept copy is gone from the state directory too.
    assert list((ag.tmp_dir / "state" / "files").iterdir()) == []
