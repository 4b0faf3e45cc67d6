"""What an execution can see of the host: nothing of the agent's own files."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_agent_files_are_hidden(agent):
    probe = (f"import os, json\n"
             f"root = {str(ROOT)!r}\n"
             f"print(json.dumps({{'root': os.listdir(root) if os.path.isdir(root) else None,\n"
             f"  'runner': os.path.exists(root + '/harness/runner.py'),\n"
             f"  'binary': os.path.exists(root + '/build/sandpit-agent'),\n"
             f"  'tmp': sorted(os.listdir('/tmp'))}}))")
    res = agent.execute(probe)
    assert res["status"] == "completed", res
    seen = json.loads(res["stdout"])
    # The repository: an empty directory at most, but for the runtimes' tools (TypeScript's
    # compiler), shown read-only at their own path.
    assert seen["root"] in ([], ["runtimes"], None), seen
    assert seen["runner"] is False and seen["binary"] is False, seen
    # A private /tmp holding only the path to the agent's work root: no state, no host files.
    work = Path(agent.work_dir)
    expect = {work.relative_to("/tmp").parts[0]} if work.is_relative_to("/tmp") else set()
    if ROOT.resolve().is_relative_to("/tmp"):  # a checkout under /tmp: the path to its tools
        expect.add(ROOT.resolve().relative_to("/tmp").parts[0])
    assert seen["tmp"] == sorted(expect), (seen, str(work))
    # ... and the harness still works behind it (it was imported before the files were hidden).
    res = agent.execute("x = [1, 2]\nx[5]")
    assert res["error"].startswith("IndexError") and res["debug_info"]["hints"], res
