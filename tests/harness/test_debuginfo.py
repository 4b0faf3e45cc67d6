"""debug_info: variables, definitions, imports, exceptions, resources, trace."""

import textwrap
import time

import pytest

from conftest import execute


def code(text):
    return textwrap.dedent(text).lstrip("\n")


def test_variables_after_describes_plain_values():
    out = execute(code("""
        import math
        from math import sqrt
        count = 3
        names = ["a", "b"]
        config = {"k": 1.5, "on": True}
        text = "hello"
        nothing = None
        def helper():
            pass
        class Box:
            pass
        box = Box()
    """))
    variables = out.debug["variables_after"]
    assert list(variables) == ["count", "names", "config", "text", "nothing", "box"]
    assert variables["count"] == {"type": "int", "repr": "3", "value": 3}
    assert variables["names"] == {"type": "list", "repr": "['a', 'b']", "value": ["a", "b"],
                                  "len": 2}
    assert variables["config"]["value"] == {"k": 1.5, "on": True}
    assert variables["config"]["len"] == 2
    assert variables["text"] == {"type": "str", "repr": "'hello'", "value": "hello", "len": 5}
    assert variables["nothing"] == {"type": "NoneType", "repr": "None", "value": None}
    assert variables["box"]["type"] == "Box"
    assert variables["box"]["repr"].startswith("<__main__.Box object at 0x")
    assert "value" not in variables["box"]


def test_long_reprs_are_cut_with_marker_and_big_values_have_no_value():
    out = execute("big = list(range(5000))\nlong_text = 'x' * 1000", repr_limit=50)
    big = out.debug["variables_after"]["big"]
    assert big["len"] == 5000
    assert "value" not in big
    assert big["repr"].endswith("...") and len(big["repr"]) == 53
    text = out.debug["variables_after"]["long_text"]
    assert text["repr"] == "'" + "x" * 49 + "..."
    assert "value" not in text and text["len"] == 1000


def test_values_json_cannot_hold_never_break_the_frame():
    out = execute(code("""
        inf = float("inf")
        pair = (1, float("nan"))
        mixed_keys = {1: "a", (1, 2): "b"}
        number = 1 + 2j
    """))
    variables = out.debug["variables_after"]
    assert variables["inf"] == {"type": "float", "repr": "inf"}
    assert variables["pair"] == {"type": "tuple", "repr": "(1, nan)", "len": 2}
    assert variables["mixed_keys"] == {"type": "dict", "repr": "{1: 'a', (1, 2): 'b'}", "len": 2}
    assert variables["number"] == {"type": "complex", "repr": "(1+2j)"}


def test_pandas_series_with_nan_name():
    pytest.importorskip("pandas")
    out = execute("import pandas as pd\ns = pd.Series([1.5], name=float('nan'))")
    assert out.result["exit_code"] == 0
    assert out.debug["variables_after"]["s"]["name"] == "nan"


def test_huge_containers_are_summarised_in_their_own_order():
    started = time.monotonic()
    out = execute("desc = {i: i for i in range(300000, 0, -1)}\nbig_set = set(range(300000))\n"
                  "text = 'y' * 20_000_000\n")
    report_time = time.monotonic() - started - out.debug["resources"]["wall_time_s"]
    variables = out.debug["variables_after"]
    assert variables["desc"]["repr"].startswith("{300000: 300000, 299999: 299999, ")
    assert variables["desc"]["repr"].endswith("...}") and variables["desc"]["len"] == 300000
    assert variables["big_set"]["len"] == 300000 and "value" not in variables["big_set"]
    assert variables["text"]["len"] == 20_000_000 and "value" not in variables["text"]
    assert report_time < 5


def test_input_data_hidden_unless_rebound():
    out = execute("n = len(input_data)", input_data=[1, 2, 3])
    assert "input_data" not in out.debug["variables_after"]
    out = execute("input_data = 'replaced'", input_data=[1, 2, 3])
    assert out.debug["variables_after"]["input_data"]["value"] == "replaced"


def test_repr_that_raises_is_reported_not_fatal():
    out = execute(code("""
        class Broken:
            def __repr__(self):
                raise RuntimeError("no repr for you")
        obj = Broken()
        ok = 1
    """))
    variables = out.debug["variables_after"]
    assert variables["obj"] == {"type": "Broken", "repr": "<repr failed: RuntimeError>"}
    assert variables["ok"]["value"] == 1
    assert out.result["exit_code"] == 0


def test_repr_that_hangs_is_bounded():
    started = time.monotonic()
    out = execute(code("""
        class Slow:
            def __repr__(self):
                while True:
                    try:
                        pass
                    except Exception:
                        pass
        slow = Slow()
        fine = [1, 2]
    """), timeout=20)
    elapsed = time.monotonic() - started
    variables = out.debug["variables_after"]
    assert variables["slow"]["repr"] == "<repr timed out>"
    assert variables["fine"]["value"] == [1, 2]
    assert elapsed < 5


def test_hanging_len_and_iteration_are_bounded():
    out = execute(code("""
        class Endless(list):
            def __len__(self):
                while True:
                    pass
        endless = Endless()
    """), timeout=20)
    entry = out.debug["variables_after"]["endless"]
    assert entry["type"] == "Endless"
    assert "len" not in entry


def test_variables_are_capped_at_200():
    out = execute("for i in range(500):\n    globals()['v%d' % i] = i\n")
    assert len(out.debug["variables_after"]) == 200
    assert out.debug["variables_truncated"] is True


def test_numpy_array_description():
    pytest.importorskip("numpy")
    out = execute("import numpy as np\narr = np.arange(6, dtype=np.float32).reshape(2, 3)\n"
                  "big = np.zeros((100, 100))")
    arr = out.debug["variables_after"]["arr"]
    assert arr["type"] == "numpy.ndarray"
    assert arr["shape"] == [2, 3] and arr["dtype"] == "float32" and arr["size"] == 6
    assert arr["value"] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    big = out.debug["variables_after"]["big"]
    assert big["shape"] == [100, 100] and "value" not in big


def test_pandas_dataframe_and_series_description():
    pytest.importorskip("pandas")
    out = execute(code("""
        import pandas as pd
        df = pd.DataFrame({"name": list("abcdefg"), "price": [1.5, None, 3, 4, 5, 6, 7],
                           "when": pd.to_datetime(["2024-01-0%d" % d for d in range(1, 8)])})
        s = pd.Series([10, 20, 30], name="qty")
    """))
    df = out.debug["variables_after"]["df"]
    assert df["type"] == "pandas.DataFrame"
    assert df["shape"] == [7, 3]
    assert df["columns"] == ["name", "price", "when"]
    assert df["dtypes"] == {"name": "object", "price": "float64", "when": "datetime64[ns]"}
    assert len(df["head"]) == 5
    assert df["head"][0]["name"] == "a" and df["head"][0]["price"] == 1.5
    assert df["head"][1]["price"] is None
    assert df["head"][0]["when"].startswith("2024-01-01T")
    series = out.debug["variables_after"]["s"]
    assert series["name"] == "qty" and series["dtype"] == "int64" and series["len"] == 3
    assert series["head"] == [10, 20, 30]


def test_functions_defined_with_lines_and_signatures():
    out = execute(code("""
        import functools

        def add(a, b=2, *rest, key=None):
            return a + b

        @functools.lru_cache(maxsize=None)
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)

        square = lambda x: x * x
        from math import sqrt
    """))
    functions = {f["name"]: f for f in out.debug["functions_defined"]}
    assert set(functions) == {"add", "fib", "square"}
    assert functions["add"] == {"name": "add", "lineno": 3,
                                "signature": "(a, b=2, *rest, key=None)"}
    assert functions["fib"]["lineno"] == 6 and functions["fib"]["signature"] == "(n)"
    assert functions["square"]["lineno"] == 10
    assert "add" not in out.debug["variables_after"]


def test_classes_defined_with_bases_methods_and_fields():
    out = execute(code("""
        from dataclasses import dataclass

        class Animal:
            def speak(self):
                return "..."

        class Dog(Animal):
            def speak(self):
                return "woof"
            @property
            def legs(self):
                return 4

        @dataclass
        class Point:
            x: int
            y: int = 0
    """))
    classes = {c["name"]: c for c in out.debug["classes_defined"]}
    assert set(classes) == {"Animal", "Dog", "Point"}
    assert classes["Dog"]["lineno"] == 7
    assert classes["Dog"]["bases"] == ["Animal"]
    assert classes["Dog"]["methods"] == ["legs", "speak"]
    assert classes["Point"]["fields"] == ["x", "y"]
    assert "dataclass" not in {c["name"] for c in out.debug["classes_defined"]}


def test_imports_lists_top_level_modules_that_loaded():
    out = execute(code("""
        import os.path
        import json as j
        from collections import Counter
        def never_called():
            import tabnanny
        try:
            import no_such_module_here
        except ImportError:
            pass
    """))
    assert out.debug["imports"] == ["os", "json", "collections"]
    assert out.debug["variables_after"] == {}


def test_exceptions_entry_has_user_frames_and_source_lines():
    out = execute(code("""
        def divide(a, b):
            return a / b

        total = divide(1, 0)
    """))
    (entry,) = out.debug["exceptions"]
    assert entry["type"] == "ZeroDivisionError"
    assert entry["message"] == "division by zero"
    assert entry["lineno"] == 2 and entry["line"] == "return a / b"
    assert entry["traceback"] == [
        {"filename": "<code>", "lineno": 4, "name": "<module>", "line": "total = divide(1, 0)"},
        {"filename": "<code>", "lineno": 2, "name": "divide", "line": "return a / b",
         "locals": {"a": {"type": "int", "repr": "1", "value": 1},
                    "b": {"type": "int", "repr": "0", "value": 0}}},
    ]


def test_exception_chain_is_reported_cause_and_context():
    out = execute(code("""
        try:
            int("x")
        except ValueError as exc:
            raise RuntimeError("conversion failed") from exc
    """))
    first, second = out.debug["exceptions"]
    assert first["type"] == "RuntimeError" and "chain" not in first and first["lineno"] == 4
    assert second["type"] == "ValueError" and second["chain"] == "cause"
    assert second["lineno"] == 2
    out = execute("try:\n    [][1]\nexcept IndexError:\n    {}['k']\n")
    first, second = out.debug["exceptions"]
    assert first["type"] == "KeyError" and second["type"] == "IndexError"
    assert second["chain"] == "context"


def test_syntax_error_entry_has_lineno_offset_line():
    out = execute("x = 1\nif x\n    pass\n")
    (entry,) = out.debug["exceptions"]
    assert entry["type"] == "SyntaxError"
    assert entry["lineno"] == 2 and entry["offset"] == 5 and entry["line"] == "if x"
    assert entry["message"] == "expected ':'"


def test_recursion_error_frames_are_capped():
    out = execute("def f(n):\n    return f(n + 1)\nf(0)\n")
    (entry,) = out.debug["exceptions"]
    assert entry["type"] == "RecursionError"
    assert len(entry["traceback"]) == 50
    assert entry["frames_omitted"] > 900
    assert "[Previous line repeated" in out.stderr


def test_resources_are_measured():
    out = execute("total = sum(i * i for i in range(2_000_000))")
    resources = out.debug["resources"]
    assert set(resources) == {"cpu_time_s", "max_rss_kb", "wall_time_s"}
    assert 0.01 < resources["cpu_time_s"] < 30
    assert 0.01 < resources["wall_time_s"] < 30
    assert resources["max_rss_kb"] > 1000


def test_trace_records_user_lines_with_locals():
    out = execute(code("""
        def double(v):
            w = v * 2
            return w

        result = double(4)
    """), trace=True)
    events = out.debug["trace"]
    assert out.debug["trace_truncated"] is False
    assert [(e["event"], e["lineno"], e["func"]) for e in events] == [
        ("call", 1, "<module>"), ("line", 1, "<module>"), ("line", 5, "<module>"),
        ("call", 1, "double"), ("line", 2, "double"), ("line", 3, "double"),
        ("return", 3, "double"), ("return", 5, "<module>")]
    assert events[5]["locals"] == {"v": "4", "w": "8"}
    assert events[6]["value"] == "8"
    assert all("double" not in e["locals"] for e in events)  # functions are skipped
    assert all(not any(k.startswith("__") for k in e["locals"]) for e in events)


def test_trace_is_bounded_and_skips_library_frames():
    out = execute("import json\nfor i in range(10000):\n    json.dumps(i)\n",
                  trace=True, trace_limit=25)
    assert len(out.debug["trace"]) == 25
    assert out.debug["trace_truncated"] is True
    assert {e["func"] for e in out.debug["trace"]} == {"<module>"}


def test_trace_does_not_call_user_reprs():
    out = execute(code("""
        class Loud:
            def __repr__(self):
                print("repr called")
                return "Loud"
        x = Loud()
        y = 1
    """), trace=True)
    assert "repr called" not in out.stdout
    assert any(e["locals"].get("x") == "<Loud object>" for e in out.debug["trace"])


def test_reporting_does_not_add_to_the_programs_output():
    out = execute(code("""
        import sys
        class Loud:
            def __repr__(self):
                print("repr called")
                print("repr called", file=sys.stderr)
                return "Loud"
        x = Loud()
        print("program output")
        x
    """))
    assert out.stdout == "program output\n"
    assert out.stderr == ""
    assert out.result["result"] == "Loud"
    assert out.debug["variables_after"]["x"]["repr"] == "Loud"


def test_no_trace_key_without_trace():
    out = execute("x = 1")
    assert "trace" not in out.debug


def test_trace_without_debug_mode_is_the_trace_alone():
    out = execute("x = 1\ny = x + 1\n", trace=True, debug_mode=False)
    assert out.debug == {"trace": out.debug["trace"], "trace_truncated": False,
                         "trace_dropped": 0}
    assert [e["lineno"] for e in out.debug["trace"] if e["event"] == "line"] == [1, 2]
    out = execute("x = (\n", trace=True, debug_mode=False)  # does not compile
    assert out.debug == {"trace": [], "trace_truncated": False, "trace_dropped": 0}
    assert execute("x = 1", debug_mode=False).debug is None
