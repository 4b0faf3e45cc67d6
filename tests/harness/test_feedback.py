"""Feedback a regeneration loop acts on: stderr exactly as CPython prints it (suggestions and
compile errors included), frame locals in the exception record, hints for typos, pandas
columns and habits from other languages, big integers, the trace's last events."""

import os
import subprocess
import tempfile
import textwrap

import pytest

from conftest import execute

PYTHON = "/usr/bin/python3.11"


def code(text):
    return textwrap.dedent(text).lstrip("\n")


def cpython_stderr(source):
    """stderr of `python3.11 <code>` for the program saved in a file named `<code>`: what
    CPython prints when it can read the source lines, as the harness can."""
    with tempfile.TemporaryDirectory() as where:
        with open(os.path.join(where, "<code>"), "w") as f:
            f.write(source)
        run = subprocess.run([PYTHON, "<code>"], capture_output=True, text=True, cwd=where,
                             timeout=60)
    return run.stderr.replace(os.path.join(where, "<code>"), "<code>")


def cpython_c_stderr(source):
    """stderr of `python3.11 -c source`, with its file name spelled as the harness's."""
    run = subprocess.run([PYTHON, "-c", source], capture_output=True, text=True, timeout=60,
                         cwd=tempfile.gettempdir())
    return run.stderr.replace('"<string>"', '"<code>"')


# -- item 5: compile errors print what CPython prints, once

SYNTAX_ERRORS = [
    "print(1 +)\n",
    "x = 1\ny = 2\nz = (1,\n",
    'print "hello"\n',
    "def f(:\n    pass\n",
    "if True:\nprint(1)\n",
    "x = 1\n  y = 2\n",
    "for x in range(3):\n\tif x:\n        pass\n",
    'a = "abc\n',
    'f"{x!}"\n',
    "f(**k, *a)\n",
    "if x > 1\n    pass\n",
]


@pytest.mark.parametrize("source", SYNTAX_ERRORS)
def test_syntax_error_stderr_is_what_python_c_prints(source):
    out = execute(source)
    assert out.stderr == cpython_c_stderr(source)
    assert out.stderr == cpython_stderr(source)
    # `error` is the last line, once: a client that adds `error` to stderr unless stderr holds it
    # already adds nothing.
    assert out.result["error"] == out.stderr.splitlines()[-1]
    assert out.stderr.count(out.result["error"]) == 1


@pytest.mark.parametrize("source", ["x = 1\nreturn x\n", "nonlocal x\n",
                                    "def f():\n    yield 1\n    return 2\nawait f()\n"])
def test_compiler_errors_print_like_python_on_a_file(source):
    out = execute(source)
    assert out.stderr == cpython_stderr(source)
    assert out.result["error"] == out.stderr.splitlines()[-1]


# -- item 12: CPython's own "Did you mean" stays in stderr

SUGGESTED = [
    "total = 1\nprint(totl)\n",
    "def f():\n    total = 1\n    return totl\nf()\n",
    "import os\nos.pathh\n",
    "class A:\n    def __init__(self):\n        self.value = 1\nA().valeu\n",
    "items = [1, 2]\nitems.apend(3)\n",
    "from os import pathh\n",
    "import collectionz\n",
    "def g():\n    raise KeyError('k')\ntry:\n    g()\nexcept KeyError:\n    print(totl)\n",
    "counter = 0\ntry:\n    1/0\nexcept ZeroDivisionError as e:\n"
    "    raise ValueError('bad') from e\n",
]


@pytest.mark.parametrize("source", SUGGESTED)
def test_runtime_stderr_is_what_python_prints(source):
    out = execute(source)
    assert out.stderr == cpython_stderr(source)
    # The exception line is the one `python3.11 -c` ends with, suggestion included.
    assert out.stderr.splitlines()[-1] == cpython_c_stderr(source).splitlines()[-1]


def test_did_you_mean_is_in_stderr_and_the_hint_stays():
    out = execute("total = 1\nprint(totl)\n")
    assert out.stderr.endswith("NameError: name 'totl' is not defined. Did you mean: 'total'?\n")
    assert out.result["error"] == "NameError: name 'totl' is not defined"
    assert out.debug["hints"] == ["`totl` is not defined; did you mean `total`?"]


# -- item 3: integers outside int64 (the agent's reader refuses them) never cost the report

INT64_MAX = (1 << 63) - 1


def _ints_in(data):
    """Every int (not bool) anywhere in decoded JSON data."""
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


def test_big_integers_in_globals_keep_the_report_and_the_codes_error():
    out = execute("x = 10**20\nsmall = -2**63\nnested = {'n': [2**64]}\n"
                  "import numpy as np\nwide = np.array([2**64 - 1], dtype=np.uint64)\n1/0\n")
    assert out.result["error"] == "ZeroDivisionError: division by zero"
    variables = out.debug["variables_after"]
    assert variables["x"] == {"type": "int", "repr": "100000000000000000000",
                              "value": "100000000000000000000"}
    assert variables["small"]["value"] == -2**63  # int64 still travels as a number
    assert variables["nested"]["repr"] == "{'n': [18446744073709551616]}"
    assert "value" not in variables["nested"]  # not JSON data the reader holds: no value
    assert variables["wide"]["repr"] == "array([18446744073709551615], dtype=uint64)"
    assert out.debug["hints"]
    assert all(-2**63 <= n <= INT64_MAX for n in _ints_in(out.result))


@pytest.mark.parametrize("source, result", [
    ("10**20", "100000000000000000000"),
    ("-2**63 - 1", "-9223372036854775809"),
    ("2**63 - 1", INT64_MAX),
    ("[10**19, 1]", "[10000000000000000000, 1]"),
    ("10**5000", "<int of 16610 bits>"),  # past CPython's 4300-digit limit on int-to-text
])
def test_a_big_trailing_integer_is_sent_as_its_text(source, result):
    out = execute(source)
    assert out.result["result"] == result
    assert out.result["result_type"] == source.startswith("[") and "list" or "int"


def test_any_other_big_integer_in_the_report_becomes_text():
    # A user-raised SyntaxError about <code> puts its own lineno/offset into the record.
    out = execute('raise SyntaxError("odd", ("<code>", 10**30, 10**20, "t"))')
    entry = out.debug["exceptions"][0]
    assert entry["lineno"] == str(10**30) and entry["offset"] == str(10**20)
    assert out.result["error_type"] == "SyntaxError"


def test_a_report_that_cannot_be_built_keeps_the_codes_own_error(monkeypatch):
    from harness import debuginfo

    def broken(*args, **kwargs):
        raise RuntimeError("report bug")

    monkeypatch.setattr(debuginfo, "build", broken)
    out = execute("def f(d):\n    return d['k']\nf({})\n")
    assert out.result["error"] == "KeyError: 'k'"
    assert out.result["error_type"] == "KeyError"
    assert out.result["exit_code"] == out.exit_code == 1
    assert out.debug["report_error"] == "InternalError: RuntimeError: report bug"
    assert "Traceback" in out.debug["internal_traceback"]
    assert out.stderr.splitlines()[-1] == "KeyError: 'k'"
    assert "line 2, in f" in out.stderr


def test_a_program_that_succeeds_still_reports_a_harness_failure(monkeypatch):
    from harness import debuginfo
    monkeypatch.setattr(debuginfo, "build", lambda *a, **k: 1 / 0)
    out = execute("print('ran')")
    assert out.stdout == "ran\n"
    assert out.result["error"] == "InternalError: ZeroDivisionError: division by zero"
