"""Issue 14, the NVIDIA dialect's shared working directory: tool calls (POST /execute) share a
workspace, so a file one call writes is there for the next (--toolcall-workspace NAME|none, an
optional "workspace" field); calls of one workspace go to the same agent."""
import uuid

import pytest

from orch_fixtures import AGENT_BIN, agents_started, orch_maker

FAST_AGENT = "--spawn-arg=--preload="
WRITE = "open('shared.txt', 'w').write('from call one')\nprint('written')"
READ = "print(open('shared.txt').read())"


@pytest.fixture
def make_orch(tmp_path):
    if not AGENT_BIN.exists():
        pytest.fail("build/sandpit-agent missing: run `make`")
    yield from orch_maker(tmp_path)


def test_calls_share_the_default_workspace(make_orch):
    o = make_orch(FAST_AGENT)
    res = o.run_ok(WRITE)
    assert res["process_status"] == "completed" and res["workspace"] == "toolcall", res
    res = o.run_ok(READ)
    assert res["process_status"] == "completed", res
    assert res["stdout"] == "from call one\n", res
    # Another language, same directory.
    st, res, _ = o.execute("cat shared.txt", language="bash")
    if st == 200:
        assert res["process_status"] == "completed" and res["stdout"] == "from call one", res
    # Another workspace, named in the request, is another directory; "none" is a fresh one.
    ws = "w-" + uuid.uuid4().hex[:8]
    res = o.run_ok(READ, workspace=ws)
    assert res["process_status"] == "error" and "FileNotFoundError" in res["stderr"], res
    assert res["workspace"] == ws and res.get("warnings") in (None, []), res
    res = o.run_ok(READ, workspace="none")
    assert res["process_status"] == "error" and "workspace" not in res, res
    # A bad name is the contract's 400, naming the field.
    st, body, _ = o.execute("1", workspace="../etc")
    assert st == 400 and body["error"]["field"] == "workspace", body
    assert body["process_status"] == "error", body


def test_toolcall_workspace_none_turns_sharing_off(make_orch):
    o = make_orch(FAST_AGENT, "--toolcall-workspace", "none")
    assert o.run_ok(WRITE)["stdout"] == "written\n"
    res = o.run_ok(READ)
    assert res["process_status"] == "error" and "FileNotFoundError" in res["stderr"], res
    assert "workspace" not in res, res


def test_a_named_default(make_orch):
    o = make_orch(FAST_AGENT, "--toolcall-workspace", "team-a")
    assert o.run_ok(WRITE)["workspace"] == "team-a"
    assert o.run_ok(READ, workspace="team-a")["stdout"] == "from call one\n"


@pytest.fixture
def two_agents(tmp_path):
    started = agents_started(tmp_path)
    yield started
    for ag in started:
        ag.stop()


def test_a_workspace_sticks_to_one_agent(two_agents, make_orch):
    a, b = two_agents
    o = make_orch("--agent", f"python={a.url}", "--agent", f"python={b.url}",
                  "--health-interval", "30")
    homes = {}
    for i in range(16):
        ws = f"conv-{i}"
        res = o.run_ok(f"open('mine', 'w').write({ws!r})", workspace=ws)
        assert res["process_status"] == "completed", res
        homes[ws] = res["agent"]
    # Both agents hold some of the 16, and every later call finds its file where it wrote it.
    assert set(homes.values()) == {a.url, b.url}, homes
    for _ in range(2):
        for ws, home in homes.items():
            res = o.run_ok("print(open('mine').read())", workspace=ws)
            assert res["agent"] == home and res["stdout"] == ws + "\n", (ws, res)
    # That agent dies: its workspaces' calls go to the other one, in a fresh workspace there
    # (the files were the dead agent's); the others stay where they are.
    victim = a
    victim.proc.kill()
    victim.proc.wait()
    for ws, home in homes.items():
        res = o.run_ok("import os\nprint(os.path.exists('mine'))", workspace=ws)
        assert res["process_status"] == "completed" and res["agent"] == b.url, (ws, res)
        assert res["stdout"] == ("True\n" if home == b.url else "False\n"), (ws, res)
