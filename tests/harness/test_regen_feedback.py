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


# -- item 14: the failing frame's locals and its callers' in the exception record

def test_exception_record_has_the_failing_frames_and_callers_locals():
    out = execute(code("""
        rows = [1, 2, 3]
        def mean(values, scale):
            count = len(values) - 3
            return sum(values) / count * scale
        def report(data):
            label = "mean"
            return mean(data, 2)
        report(rows)
    """))
    module, report, mean = out.debug["exceptions"][0]["traceback"]
    assert "locals" not in module  # its locals are the globals, in variables_after
    assert report["locals"] == {
        "data": {"type": "list", "repr": "[1, 2, 3]", "value": [1, 2, 3], "len": 3},
        "label": {"type": "str", "repr": "'mean'", "value": "mean", "len": 4}}
    assert mean["locals"]["count"] == {"type": "int", "repr": "0", "value": 0}
    assert set(mean["locals"]) == {"values", "scale", "count"}


def test_frame_locals_are_bounded_in_count_frames_and_repr():
    out = execute(code("""
        def deep(n, **wide):
            if n == 0:
                raise ValueError("bottom")
            return deep(n - 1, **wide)
        deep(8, **{"v%d" % i: "x" * 1000 for i in range(30)})
    """), repr_limit=50)
    frames = out.debug["exceptions"][0]["traceback"]
    with_locals = [f for f in frames if "locals" in f]
    assert len(with_locals) == 5 and with_locals == frames[-5:]
    innermost = frames[-1]
    assert len(innermost["locals"]) == 2 and "locals_truncated" not in innermost  # n, wide
    assert len(innermost["locals"]["wide"]["repr"]) <= 53
    out = execute("def f():\n" + "".join("    v%d = %d\n" % (i, i) for i in range(30))
                  + "    1/0\nf()\n")
    innermost = out.debug["exceptions"][0]["traceback"][-1]
    assert len(innermost["locals"]) == 20 and innermost["locals_truncated"] is True


def test_frame_locals_do_not_hang_on_a_hostile_repr():
    out = execute(code("""
        class Slow:
            def __repr__(self):
                while True:
                    pass
        def f():
            s = Slow()
            1/0
        f()
    """), timeout=30)
    assert out.debug["exceptions"][0]["traceback"][-1]["locals"]["s"]["repr"] == \
        "<repr timed out>"


# -- item 15: pandas KeyErrors name close columns

PANDAS_FRAME = "import pandas as pd\ndf = pd.DataFrame({'region': ['a'], 'revenue': [1], 'cost': [2]})\n"


@pytest.mark.parametrize("expression", [
    "df['revenu']",
    "df.groupby('region')['revenu'].sum()",
    "df.groupby('region').agg({'revenu': 'sum'})",
    "df[['revenu', 'cost']]",
    "df.drop(columns=['revenu'])",
    "df.set_index('revenu')",
    "df.groupby('region')[['revenu']].sum()",
])
def test_pandas_keyerror_unwraps_the_column_and_suggests_close_ones(expression):
    out = execute(PANDAS_FRAME + expression + "\n")
    assert out.result["error_type"] == "KeyError"
    assert out.debug["hints"][0] == ("'revenu' is not among the columns of `df`; closest: "
                                     "`revenue`"), out.debug["hints"]


def test_pandas_keyerror_finds_frames_in_the_failing_function_and_its_callers():
    out = execute(code("""
        import pandas as pd
        def total(frame, column):
            return frame[column].sum()
        def run():
            sales = pd.DataFrame({"units_sold": [1, 2]})
            return total(sales, "unit_sold")
        run()
    """))
    assert out.debug["hints"][0] == ("'unit_sold' is not among the columns of `frame`; "
                                     "closest: `units_sold`")


# -- item 16: UnboundLocalError and module-level NameError hints

def test_unbound_local_typo_suggests_the_close_name():
    out = execute(code("""
        def add_all(items):
            total = 0
            for x in items:
                totl += x
            return total
        add_all([1, 2])
    """))
    hints = out.debug["hints"]
    assert hints[0] == "`totl` has no value yet in this function; did you mean `total`?"
    assert not any("global" in h for h in hints)  # there is no module-level `totl`


def test_unbound_local_of_a_global_suggests_global_first():
    hints = execute("count = 0\ndef bump():\n    count += 1\nbump()\n").debug["hints"]
    assert "declare `global count`" in hints[0]


def test_module_level_augmented_typo_does_not_claim_a_line_did_not_run():
    out = execute("total = 0\nfor x in [1, 2]:\n    totl += x\n")
    hints = out.debug["hints"]
    assert not any("did not run" in h for h in hints), hints
    assert hints[0] == "`totl` is not defined; did you mean `total`?"
    assert hints[1].startswith("`totl` is read on line 3 by the statement that assigns it")


def test_name_only_assigned_inside_a_function_says_so():
    hints = execute("def f():\n    result = 1\nf()\nprint(result)\n").debug["hints"]
    assert hints[0] == ("`result` is assigned on line 2 inside `f`, where it is local: return "
                        "it from there and assign the result, or declare `global result` in it")


def test_name_used_in_a_function_called_before_the_module_assigns_it():
    hints = execute("def f():\n    return limit\nf()\nlimit = 3\n").debug["hints"]
    assert hints[0].startswith("`limit` is assigned on line 4, after it is first used")


# -- item 17: habits from other languages, installed alternatives to missing modules

@pytest.mark.parametrize("source, fragment", [
    ("items = [1]\nitems.push(2)\n", "Python lists use `lst.append(x)`"),
    ("items = [1]\nitems.length\n", "use `len(x)`"),
    ("text = 'abc'\ntext.contains('a')\n", "`sub in text`"),
    ("items = [1]\nitems.size()\n", "use `len(x)`"),
    ("items = [1]\nitems.forEach(print)\n", "`for item in items:`"),
    ("'a'.toUpperCase()\n", "`text.upper()`"),
    ("[1, 2].join(',')\n", "join is a str method"),
    ("import numpy as np\nnp.zeros(3).size()\n", "`.size` is an attribute, not a method"),
    ("print(null)\n", "`null` is not Python: use `None`"),
    ("console.log(1)\n", "use `print(...)`"),
    ("if a && b:\n    pass\n", "use `and` / `or`"),
    ("i = 0\ni++\n", "use `x += 1`"),
    ("if x:\n    pass\nelse if y:\n    pass\n", "use `elif`"),
    ("// comment\n", "comments start with `#`"),
    ("function f(a) {\n  return a\n}\n", "def name(args):"),
    ("let x = 5\n", "without a declaration keyword"),
    ("y = a > b ? a : b\n", "`a if condition else b`"),
])
def test_habits_from_other_languages_get_the_python_spelling(source, fragment):
    hints = execute(source).debug["hints"]
    assert any(fragment in h for h in hints), hints


@pytest.mark.parametrize("module, installed", [
    ("sklearn", "numpy.linalg.lstsq"), ("torch", "numpy"), ("seaborn", "matplotlib.pyplot"),
    ("statsmodels", "scipy.stats"), ("polars", "pandas"),
])
def test_missing_module_names_what_is_installed_for_the_job(module, installed):
    hints = execute("import %s\n" % module).debug["hints"]
    assert hints[0].startswith("module `%s` is not installed here" % module)
    assert hints[1].startswith("installed here and doing the job of `%s`: " % module)
    assert installed in hints[1]


def test_alternatives_name_only_importable_modules():
    from harness import hints
    assert hints._importable("numpy") and not hints._importable("sklearn")
    for options in hints.ALTERNATIVES.values():
        assert options and all(isinstance(use, str) for _, use in options)


# -- item 18: the trace keeps the last events

def test_trace_keeps_the_last_events_and_counts_the_dropped():
    out = execute("total = 0\nfor i in range(100):\n    total += i\nraise ValueError(total)\n",
                  trace=True, trace_limit=10)
    debug = out.debug
    assert len(debug["trace"]) == 10 and debug["trace_truncated"] is True
    assert debug["trace_dropped"] > 190
    assert debug["trace"][-1]["event"] in ("exception", "return")
    assert any(e["lineno"] == 4 for e in debug["trace"])  # the failing line is kept
    assert debug["trace"][-3]["locals"]["total"] == "4950"


def test_trace_that_fits_drops_nothing():
    debug = execute("a = 1\nb = 2\n", trace=True).debug
    assert debug["trace_dropped"] == 0 and debug["trace_truncated"] is False
