"""Red team of files in and out (docs/agent.md "Files in and out"): names the runtime must take
as they are, patterns and URLs that try to leave the working directory, and a program that
makes the collector's work huge for free (sparse files)."""
import urllib.parse

import pytest


def run(agent, code, files=None, collect=None):
    body = {"code": code}
    if files is not None:
        body["files"] = files
    if collect is not None:
        body["collect"] = collect
    return agent.post("/execute", body, timeout=120)


def test_utf8_content_and_names_work_in_python(agent):
    """A UTF-8 file sent in `files` is read by plain open(), and a non-ASCII name is opened,
    collected and downloaded (it was: the embedded interpreter's locale was ASCII)."""
    code = ("print(open('in.txt').read())\n"
            "print(open('é/ü.txt').read())\n"
            "open('é/out-ß.txt', 'w').write('grüße')\n")
    st, res, _ = run(agent, code, [{"path": "in.txt", "content": "café"},
                                   {"path": "é/ü.txt", "content": "naïve"}], ["**/*.txt"])
    assert st == 200 and res["stdout"] == "café\nnaïve\n", res
    assert [f["path"] for f in res["files"]] == ["é/out-ß.txt"], res
    url = res["files"][0]["url"]
    assert url.endswith("/files/" + urllib.parse.quote("é/out-ß.txt")), url
    st, body, _ = agent.get(url)
    assert st == 200 and body == "grüße", (st, body)


@pytest.mark.parametrize("path", ["./a", "a//b", "a/", "a/./b", ".", "..", "/etc/x", "a/../b",
                                  "a\x00b", "a\nb", "x" * 256, "/".join(["d"] * 33)])
def test_bad_paths_are_refused_before_the_run(agent, path):
    st, res, _ = run(agent, "open('/tmp/ran', 'w')", [{"path": path, "content": "x"}])
    assert st == 400 and res["error"]["field"] == "files[0].path", (path, st, res)


@pytest.mark.parametrize("pattern", ["../*", "/etc/*", "**/../*", "a/../../*", "*/..", ""])
def test_escaping_patterns_are_refused(agent, pattern):
    st, res, _ = run(agent, "print(1)", collect=[pattern])
    assert st == 400 and res["error"]["field"] == "collect[0]", (pattern, st, res)


def test_names_the_runtime_uses_are_the_users(agent):
    """main.py / main.sh in `files` are plain files: the code that runs is the request's."""
    st, res, _ = run(agent, "print(open('main.py').read())",
                     [{"path": "main.py", "content": "print('hijacked')"},
                      {"path": "main.sh", "content": "echo hijacked"}])
    assert st == 200 and res["stdout"] == "print('hijacked')\n", res


def test_links_and_fifos_are_not_read(agent):
    code = ("import os\nos.symlink('/etc/passwd', 'p.txt')\nos.mkfifo('f.txt')\n"
            "open('ok.txt', 'w').write('ok')\nos.link('ok.txt', 'hard.txt')\n"
            "open('real.txt', 'w').write('r')\n")
    st, res, _ = run(agent, code, collect=["*.txt"])
    assert st == 200, res
    assert [f["path"] for f in res["files"]] == ["real.txt"], res
    assert "root:" not in str(res)
    assert {s["path"] for s in res["files_skipped"]} == {"p.txt", "ok.txt", "hard.txt"}, res


@pytest.mark.parametrize("suffix", ["..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd",
                                    "a%00b", "real.txt/", "./real.txt", "REAL.txt", "real.txt%20"])
def test_download_url_tricks(agent, suffix):
    st, res, _ = run(agent, "open('real.txt', 'w').write('r')", collect=["*.txt"])
    assert st == 200 and res["files"][0]["url"], res
    base = res["files"][0]["url"].rsplit("/", 1)[0] + "/"
    st, body, _ = agent.get(base + suffix)
    assert st in (400, 404), (suffix, st, body)
    assert "root:" not in str(body)


def test_sparse_files_cost_the_collector_a_bounded_read(agent):
    """Two 400 MiB sparse files (nothing to their program): the first is read, the second is
    skipped over the collection's 512 MiB (it was: every byte of up to 1000 such files read
    and hashed on the agent's I/O thread, stalling every other execution)."""
    code = ("for n in ('a.bin', 'b.bin'):\n"
            "    f = open(n, 'wb'); f.truncate(400 << 20); f.close()\n")
    st, res, _ = run(agent, code, collect=["*.bin"])
    assert st == 200, res
    assert len(res["files"]) == 1 and res["files"][0]["size"] == 400 << 20, res["files"]
    assert len(res["files_skipped"]) == 1 and "512 MiB" in res["files_skipped"][0]["reason"], res
