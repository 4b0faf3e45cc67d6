"""The harness through the agent: the restricted policy and its flags, debug info, the trace."""
import re


def test_restricted_refuses_an_import(agent):
    res = agent.execute("import os\nprint(os.getcwd())", policy="restricted")
    assert res["status"] == "failed", res
    assert res["exit_reason"] == "policy", res
    assert res["error"].startswith("PolicyViolation:"), res
    assert re.search(r"\(line 1, col \d+\)", res["error"]), res["error"]
    assert res["stdout"] == ""
    assert "PolicyViolation" in res["stderr"]


def test_restricted_refuses_a_class_hierarchy_walk(agent):
    res = agent.execute("x = 1\ny = ().__class__.__mro__[1].__subclasses__()", policy="restricted")
    assert res["status"] == "failed" and res["exit_reason"] == "policy", res
    assert "line 2" in res["error"], res["error"]


def test_restricted_runs_ordinary_code(agent):
    code = ("import math, json\n"
            "squares = [i * i for i in range(5)]\n"
            "print(json.dumps({'sum': sum(squares), 'root': math.isqrt(16)}))\n"
            "f'{squares[-1]:>4}'")
    res = agent.execute(code, policy="restricted")
    assert res["status"] == "completed", res
    assert res["stdout"] == '{"sum": 30, "root": 4}\n'
    assert res["result"] == "  16"


def test_agent_default_restricted_and_override(make_agent):
    strict = make_agent(policy="restricted")
    res = strict.execute("import os")
    assert res["exit_reason"] == "policy", res
    st, body, _ = strict.post("/execute", {"code": "print(1)", "policy": "standard"})
    assert st == 400 and body["error"]["field"] == "policy", body
    lax = make_agent(env_extra={"SANDPIT_ALLOW_POLICY_OVERRIDE": "1"}, policy="restricted")
    res = lax.execute("import os\nprint(os.sep)", policy="standard")
    assert res["status"] == "completed" and res["stdout"] == "/\n", res
    assert lax.execute("import os")["exit_reason"] == "policy"


def test_restricted_imports_flag(make_agent):
    ag = make_agent(restricted_imports="math")
    assert ag.execute("import math\nprint(math.pi > 3)", policy="restricted")["stdout"] == "True\n"
    res = ag.execute("import json", policy="restricted")
    assert res["exit_reason"] == "policy" and "json" in res["error"], res


def test_debug_info_for_a_regeneration_loop(agent):
    res = agent.execute("import numpy as np\nx = np.arange(6).reshape(2, 3)\nn = 3\ny = pd.DataFrame()")
    assert res["status"] == "failed" and res["error"].startswith("NameError"), res
    d = res["debug_info"]
    assert d["variables_after"]["x"]["shape"] == [2, 3]
    assert d["variables_after"]["n"]["value"] == 3
    assert "numpy" in d["imports"]
    (exc,) = [e for e in d["exceptions"] if e["type"] == "NameError"]
    assert exc["lineno"] == 4 and exc["line"].startswith("y = pd.DataFrame")
    assert any("import pandas as pd" in h for h in d["hints"]), d["hints"]
    assert d["resources"]["max_rss_kb"] > 0


def test_debug_mode_off(agent):
    assert agent.execute("x = 1", debug_mode=False)["debug_info"] is None


def test_trace_served_by_debug_endpoint(agent):
    res = agent.execute("total = 0\nfor i in range(3):\n    total += i\nprint(total)", trace=True)
    assert res["stdout"] == "3\n", res
    st, body, _ = agent.get(f"/debug/{res['execution_id']}")
    assert st == 200, body
    trace = body["detailed_trace"]
    assert isinstance(trace, list) and trace, body
    assert {ev["lineno"] for ev in trace} >= {1, 2, 3, 4}
    assert any(ev.get("locals", {}).get("total") == "3" for ev in trace), trace[-3:]


def test_trace_without_debug_mode_is_still_served(agent):
    res = agent.execute("a = 1\nb = a + 1", trace=True, debug_mode=False)
    assert set(res["debug_info"]) == {"trace", "trace_truncated", "trace_dropped"}, res["debug_info"]
    st, body, _ = agent.get(f"/debug/{res['execution_id']}")
    assert st == 200 and [ev["lineno"] for ev in body["detailed_trace"]
                          if ev["event"] == "line"] == [1, 2], body


def test_trace_and_repr_limits_reach_the_harness(agent):
    res = agent.execute("s = 'x' * 500\nfor i in range(50):\n    pass", trace=True,
                        trace_limit=3, repr_limit=20)
    d = res["debug_info"]
    assert len(d["trace"]) == 3 and d["trace_truncated"] is True, d["trace"]
    assert d["variables_after"]["s"]["repr"] == "'" + "x" * 19 + "...", d["variables_after"]["s"]
    st, body, _ = agent.post("/execute", {"code": "1", "repr_limit": 5})
    assert st == 400 and body["error"]["field"] == "repr_limit", body


def test_a_trace_too_large_for_the_result_frame_is_cut_not_lost(agent):
    # 50,000 traced lines would make a ~10 MB frame: the harness cuts the trace to fit, and the
    # error and the rest of debug_info arrive.
    res = agent.execute("for i in range(50000):\n    x = i\nraise ValueError('boom')",
                        trace=True, trace_limit=100000, timeout=60)
    assert res["error"] == "ValueError: boom", res["error"]
    d = res["debug_info"]
    assert d["trace_truncated"] is True and 1000 < len(d["trace"]) < 100000
    assert d["exceptions"][0]["type"] == "ValueError"
