"""Feedback through a real agent (issue 13, items 3, 5, 12, 14-18): what a regeneration loop
reads in the ExecutionResult. stderr is compared with what /usr/bin/python3.11 prints for the
same program."""

import os
import subprocess
import tempfile
import textwrap

import pytest

PYTHON = "/usr/bin/python3.11"


def code(text):
    return textwrap.dedent(text).lstrip("\n")


def python_stderr(source, as_file=False):
    """stderr of `python3.11 -c source` (as_file: of the program saved as a file named `<code>`,
    so CPython shows source lines as the harness does), file names spelled `<code>`."""
    with tempfile.TemporaryDirectory() as where:
        path = os.path.join(where, "<code>")
        with open(path, "w") as f:
            f.write(source)
        argv = [PYTHON, "<code>"] if as_file else [PYTHON, "-c", source]
        run = subprocess.run(argv, capture_output=True, text=True, cwd=where, timeout=60)
    return run.stderr.replace(path, "<code>").replace('"<string>"', '"<code>"')


# -- item 5

@pytest.mark.parametrize("source", ["print(1 +)\n", "if True:\nprint(1)\n",
                                    "total = (1,\nprint(total)\n"])
def test_syntax_error_stderr_is_python_c_and_error_is_its_last_line(agent, source):
    res = agent.execute(source)
    assert res["status"] == "failed"
    assert res["stderr"] == python_stderr(source)
    assert res["error"] == res["stderr"].splitlines()[-1]
    assert res["stderr"].count(res["error"]) == 1
    assert res["debug_info"]["exceptions"][0]["type"] == res["error_type"]


# -- item 12

@pytest.mark.parametrize("source, last", [
    ("total = 3\nprint(totl)\n", "NameError: name 'totl' is not defined. Did you mean: 'total'?"),
    ("import math\nmath.sqr(4)\n",
     "AttributeError: module 'math' has no attribute 'sqr'. Did you mean: 'sqrt'?"),
    ("def f(values):\n    count = len(values)\n    return cont\nf([1])\n",
     "NameError: name 'cont' is not defined. Did you mean: 'count'?"),
])
def test_stderr_keeps_cpythons_suggestion_and_hints_stay(agent, source, last):
    res = agent.execute(source)
    assert res["stderr"] == python_stderr(source, as_file=True)
    assert res["stderr"].splitlines()[-1] == last == python_stderr(source).splitlines()[-1]
    suggested = last.rsplit("'", 2)[1]
    assert any("`%s`" % suggested in h for h in res["debug_info"]["hints"]), res["debug_info"]


# -- item 3

def test_a_big_integer_in_the_globals_keeps_the_codes_error_and_debug_info(agent):
    res = agent.execute("x = 10**20\ndef f(n):\n    big = n * 10**30\n    return big / 0\nf(x)\n")
    assert res["error"] == "ZeroDivisionError: division by zero", res
    assert res["error_type"] == "ZeroDivisionError"
    assert res["stderr"] == python_stderr(
        "x = 10**20\ndef f(n):\n    big = n * 10**30\n    return big / 0\nf(x)\n", as_file=True)
    info = res["debug_info"]
    assert info["variables_after"]["x"]["value"] == "100000000000000000000"
    assert info["variables_after"]["x"]["type"] == "int"
    assert info["hints"]


@pytest.mark.parametrize("source, result, result_type", [
    ("10**20", "100000000000000000000", "int"),
    ("-(2**63) - 1", "-9223372036854775809", "int"),
    ("2**63 - 1", 2**63 - 1, "int"),
    ("{'a': 2**64}", "{'a': 18446744073709551616}", "dict"),
])
def test_a_big_trailing_integer_arrives_exact_as_text(agent, source, result, result_type):
    res = agent.execute(source)
    assert res["status"] == "completed", res
    assert res["result"] == result
    assert res["result_type"] == result_type


# -- item 14

def test_exception_record_carries_frame_locals(agent):
    res = agent.execute(code("""
        def mean(values):
            count = len(values) - 2
            return sum(values) / count
        def summary(data):
            label = "avg"
            return mean(data)
        summary([4, 6])
    """))
    frames = res["debug_info"]["exceptions"][0]["traceback"]
    assert [f["name"] for f in frames] == ["<module>", "summary", "mean"]
    assert frames[-1]["locals"]["count"] == {"type": "int", "repr": "0", "value": 0}
    assert frames[-2]["locals"]["label"]["value"] == "avg"
    assert "locals" not in frames[0]


# -- item 15

def test_pandas_column_not_found_suggests_close_columns(agent):
    res = agent.execute(code("""
        import pandas as pd
        def by_region(frame):
            return frame.groupby("region")["revenu"].sum()
        by_region(pd.DataFrame({"region": ["a", "b"], "revenue": [1, 2]}))
    """))
    assert res["error"] == "KeyError: 'Column not found: revenu'"
    assert res["debug_info"]["hints"][0] == (
        "'revenu' is not among the columns of `frame`; closest: `revenue`")


# -- item 16

def test_unbound_local_typo_and_module_level_typo(agent):
    res = agent.execute("def f(xs):\n    total = 0\n    for x in xs:\n        totl += x\n"
                        "    return total\nf([1])\n")
    assert res["error_type"] == "UnboundLocalError"
    assert res["debug_info"]["hints"][0] == (
        "`totl` has no value yet in this function; did you mean `total`?")
    res = agent.execute("total = 0\nfor x in [1]:\n    totl += x\n")
    hints = res["debug_info"]["hints"]
    assert hints[0] == "`totl` is not defined; did you mean `total`?"
    assert not any("did not run" in h for h in hints), hints


# -- item 17

@pytest.mark.parametrize("source, fragment", [
    ("data = [1]\ndata.push(2)\n", "`lst.append(x)`"),
    ("name = 'ab'\nprint(name.length)\n", "`len(x)`"),
    ("if 1 && 2:\n    pass\n", "use `and` / `or`"),
    ("import sklearn\n", "numpy.linalg.lstsq"),
])
def test_habits_and_missing_modules_name_the_python_way(agent, source, fragment):
    res = agent.execute(source)
    assert any(fragment in h for h in res["debug_info"]["hints"]), res["debug_info"]["hints"]


# -- item 18

def test_trace_keeps_the_last_events_of_a_long_run(agent):
    res = agent.execute("acc = 0\nfor i in range(500):\n    acc += i\nraise RuntimeError(acc)\n",
                        trace=True, trace_limit=20)
    d = res["debug_info"]
    assert len(d["trace"]) == 20 and d["trace_truncated"] is True and d["trace_dropped"] > 900
    assert any(ev["lineno"] == 4 for ev in d["trace"])  # the line that failed
    st, body, _ = agent.get("/debug/" + res["execution_id"])
    assert st == 200 and body["detailed_trace"][-1] == d["trace"][-1]
