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

def _ints_in(data):
    pending, found = [data], []
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
        elif type(node) is int:
            found.append(node)
    return found


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
