"""Issue 17 item 1: the restricted policy escaped through allowed library functions that load
code or start programs, through positional `match` patterns and through namespaces that show a
check one thing and the library another. Each class is tested by the red team's example and by
variants of it; none may print ESCAPED (the full-Python / shell / __globals__ marker)."""

import os
import textwrap

import pytest

from conftest import execute
from harness import policy, policy_hook
from test_policy import (assert_refused, needs_matplotlib, needs_numpy, needs_pandas,
                         restricted)


def code(text):
    return textwrap.dedent(text).lstrip("\n")


WRITE_MODULE = ("with open('m.py', 'w') as fh:\n"
                "    fh.write('import builtins\\nprint(\"ESCAPED\", builtins.exec)\\n')\n")
WRITE_SCRIPT = ("with open('rawvideo', 'w') as fh:\n"
                "    fh.write('echo ESCAPED shell\\n')\n")

# (id, code, fragment of the violation)
LOADERS = [
    pytest.param("npy_load_module", WRITE_MODULE + "import numpy\n"
                 "numpy.compat.py3k.npy_load_module('m', 'm.py')", "'numpy.compat'",
                 marks=needs_numpy),
    pytest.param("npy_load_module_from_import", "from numpy.compat.py3k import npy_load_module",
                 "'numpy.compat", marks=needs_numpy),
    pytest.param("npy_load_module_getattr", WRITE_MODULE + "import numpy\n"
                 "getattr(numpy, 'com' + 'pat')", "'numpy.compat'", marks=needs_numpy),
]

PROGRAMS = [
    pytest.param("ffmpeg_path", WRITE_SCRIPT + code("""
        import matplotlib
        import matplotlib.pyplot as plt
        from matplotlib.animation import FFMpegWriter
        matplotlib.rcParams["animation.ffmpeg_path"] = "/bin/sh"
        with FFMpegWriter().saving(plt.figure(), "out.mp4", 10):
            pass
    """), "rcParams['animation.ffmpeg_path'] cannot be changed", marks=needs_matplotlib),
    pytest.param("rcparams_update", "import matplotlib\n"
                 "matplotlib.rcParams.update({'animation.convert_path': '/bin/sh'})",
                 "cannot be changed", marks=needs_matplotlib),
    pytest.param("rc_function", "import matplotlib\n"
                 "matplotlib.rc('animation', ffmpeg_args=['-c', 'id'])",
                 "cannot be changed", marks=needs_matplotlib),
    # the validator is bypassed; the program start itself is refused
    pytest.param("rcparams_dict_setitem", WRITE_SCRIPT + code("""
        import matplotlib
        import matplotlib.pyplot as plt
        from matplotlib.animation import FFMpegWriter
        dict.__setitem__(matplotlib.rcParams, "animation.ffmpeg_path", "/bin/sh")
        with FFMpegWriter().saving(plt.figure(), "out.mp4", 10):
            pass
    """), "subprocess.Popen is not allowed", marks=needs_matplotlib),
    pytest.param("module_backend", "import matplotlib.pyplot as plt\n"
                 "plt.switch_backend('module://antigravity')", "'module://' backends",
                 marks=needs_matplotlib),
    pytest.param("module_backend_rcparams", "import matplotlib\n"
                 "matplotlib.rcParams['backend'] = 'module://this'", "'module://' backends",
                 marks=needs_matplotlib),
    pytest.param("pandas_eval_by_name", "import pandas as pd\n"
                 "pd.DataFrame({'a': [1]}).apply('eval', args=('@x.__class__.__mro__',), "
                 "local_dict={'x': 1}, engine='python')", "pandas expression evaluation",
                 marks=needs_pandas),
]

NAMESPACES = [
    ("make_dataclass_dict_subclass", code("""
        import dataclasses, numbers
        class NS(dict):
            def __iter__(self):
                return iter(())
        def always(cls, other):
            return True
        ns = NS()
        ns["__match_args__"] = ("__globals__",)
        ns["__subclasshook__"] = classmethod(always)
        Any = dataclasses.make_dataclass("Any", [], namespace=ns, bases=(numbers.Number,))
        match dataclasses.fields:
            case Any(g):
                print("ESCAPED", g["__builtins__"])
    """), "may not define '__match_args__'"),
    ("make_dataclass_keys_lie", code("""
        import dataclasses
        class NS(dict):
            def keys(self):
                return ["ok"]
        dataclasses.make_dataclass("D", [], namespace=NS({"__array_interface__": {}}))
    """), "may not define '__array_interface__'"),
    ("make_dataclass_field_tuple_lies", code("""
        import dataclasses
        class Spec(tuple):
            def __getitem__(self, i):
                return "ok"
        dataclasses.make_dataclass("D", [Spec(("__array_interface__", dict))])
    """), "may not define '__array_interface__'"),
    ("make_dataclass_field_str_lies", code("""
        import dataclasses
        class Name(str):
            def startswith(self, prefix):
                return False
        dataclasses.make_dataclass("D", [Name("__array_interface__")])
    """), "may not define '__array_interface__'"),
    ("enum_str_subclass_lies", code("""
        import enum
        class Names(str):
            def replace(self, a, b):
                return "ok"
        enum.Enum("E", Names("__array_interface__ a"))
    """), "may not define '__array_interface__'"),
    ("enum_member_tuple_lies", code("""
        import enum
        class Pair(tuple):
            def __getitem__(self, i):
                return "ok"
        enum.Enum("E", [Pair(("__array_interface__", {})), ("a", 1)])
    """), "may not define '__array_interface__'"),
    ("getattr_str_subclass", code("""
        class Name(str):
            def startswith(self, prefix):
                return False
        print("ESCAPED", getattr(1, Name("__class__")))
    """), "'__class__'"),
    ("attrgetter_str_subclass", code("""
        import operator
        class Name(str):
            def startswith(self, prefix):
                return False
            def split(self, sep):
                return ["real"]
        print("ESCAPED", operator.attrgetter(Name("__class__"))(1))
    """), "'__class__'"),
]

MATCHES = [
    ("match_dataclass_field_frame", code("""
        import collections.abc, dataclasses
        @dataclasses.dataclass
        class Frame(collections.abc.Hashable):
            gi_frame: int
            def __hash__(self):
                return 0
        def gen():
            yield 1
        g = gen()
        Frame.register(type(g))
        match g:
            case Frame(fr):
                print("ESCAPED", fr)
    """), "class pattern Frame(...) reads attribute 'gi_frame'"),
    ("match_namedtuple_field", code("""
        import collections
        P = collections.namedtuple("P", "tb_frame")
        match P(1):
            case P(x):
                print("ESCAPED", x)
    """), "reads attribute 'tb_frame'"),
    ("match_in_function_nested", code("""
        import collections.abc, dataclasses
        @dataclasses.dataclass
        class Frame(collections.abc.Hashable):
            cr_frame: int
            def __hash__(self):
                return 0
        async def co():
            pass
        c = co()
        Frame.register(type(c))
        def look(v):
            match [v]:
                case [Frame(fr)] | [Frame(fr)]:
                    return fr
        print("ESCAPED", look(c))
    """), "reads attribute 'cr_frame'"),
    ("match_class_body", "class A:\n    match 1:\n        case int(x):\n            pass",
     "positional class patterns are not allowed directly in a class body"),
    ("match_keyword_frame", "def gen():\n    yield 1\nmatch gen():\n"
     "    case object(gi_frame=f):\n        print('ESCAPED', f)", "'gi_frame'"),
]


@pytest.mark.parametrize("name, source, fragment", LOADERS + PROGRAMS + NAMESPACES + MATCHES,
                         ids=[p.values[0] if hasattr(p, "values") else p[0]
                              for p in LOADERS + PROGRAMS + NAMESPACES + MATCHES])
def test_issue17_escape_is_refused(name, source, fragment):
    out = restricted(source + "\nprint('ESCAPED')")
    assert "ESCAPED" not in out.stdout, out
    assert_refused(out, fragment)


def test_wrapper_names_are_read_once(tmp_path):
    """What update_wrapper copies is what was vetted: names iterated once."""
    import functools

    class Twice:
        def __init__(self):
            self.n = 0

        def __iter__(self):
            self.n += 1
            return iter(["__doc__"] if self.n == 1 else ["__globals__"])

    class Target:
        pass

    def wrapped():
        pass
    names = Twice()
    policy.RestrictedPolicy(str(tmp_path)).update_wrapper(
        functools.update_wrapper, Target, wrapped, assigned=names, updated=())
    assert names.n == 1
    assert "__globals__" not in vars(Target)


MATCH_ORDINARY = code("""
    import collections, dataclasses
    @dataclasses.dataclass
    class Point:
        x: int
        y: int
    P = collections.namedtuple("P", "a b")
    def where(v):
        match v:
            case Point(0, y):
                return f"on y at {y}"
            case Point(x, y=0):
                return f"on x at {x}"
            case P(a, b) if a == b:
                return "diagonal"
            case [int(n), str(s)]:
                return f"pair {n} {s}"
            case Point():
                return "elsewhere"
            case _:
                return "?"
    print([where(v) for v in (Point(0, 5), Point(3, 0), P(2, 2), [1, "a"], Point(1, 1), 7)])
    class Shape:
        def kind(self, v):
            match v:
                case Point(x, y):
                    return x + y
    print(Shape().kind(Point(2, 3)))
""")


def test_positional_match_patterns_still_work():
    standard, limited = execute(MATCH_ORDINARY), restricted(MATCH_ORDINARY)
    assert limited.result["error"] is None, limited
    assert limited.stdout == standard.stdout == (
        "['on y at 5', 'on x at 3', 'diagonal', 'pair 1 a', 'elsewhere', '?']\n5\n")
    assert not any(k.startswith("__sandpit") for k in limited.debug["variables_after"])


def test_match_guard_evaluates_the_class_only_when_the_case_is_tried():
    out = restricted(code("""
        match 1:
            case int(x):
                print("int", x)
            case Undefined(y):
                print("never")
    """))
    assert out.result["error"] is None and out.stdout == "int 1\n", out


@needs_matplotlib
def test_matplotlib_settings_that_name_no_program_still_change():
    out = restricted(code("""
        import matplotlib
        import matplotlib.pyplot as plt
        matplotlib.rcParams["lines.linewidth"] = 3
        matplotlib.rcParams["animation.ffmpeg_path"] = matplotlib.rcParams["animation.ffmpeg_path"]
        with matplotlib.rc_context({"font.size": 5}):
            plt.plot([1, 2])
        matplotlib.style.use("ggplot")
        print(matplotlib.rcParams["lines.linewidth"])
    """))
    assert out.result["error"] is None, out
    assert out.stderr == "", out.stderr


# ---------------------------------------------------------------- the audit hook, in-process

@pytest.fixture
def guard(tmp_path):
    return policy_hook.AuditGuard(str(tmp_path), policy.PolicyViolation)


@pytest.mark.parametrize("event, args", [
    ("subprocess.Popen", ("/bin/sh", ["/bin/sh"], None, None)),
    ("os.system", (b"id",)),
    ("os.exec", ("/bin/sh", ["sh"], None)),
    ("os.posix_spawn", ("/bin/sh", ["sh"], {})),
    ("os.fork", ()),
    ("pickle.find_class", ("os", "system")),
    ("ctypes.dlopen", ("libc.so.6",)),
    ("ctypes.call_function", (0, ())),
])
def test_hook_refuses_programs_native_code_and_unpickling(guard, event, args):
    with pytest.raises(policy.PolicyViolation) as info:
        guard(event, args)
    assert info.value.kind == "process"


def test_hook_refuses_code_from_the_working_directory(guard, tmp_path):
    (tmp_path / "m.py").write_text("x = 1\n")
    (tmp_path / "<string>").write_text("")
    user_code = compile("x = 1", str(tmp_path / "m.py"), "exec")
    for event, args in [("exec", (user_code,)), ("compile", (b"x", "m.py")),
                        ("compile", (b"x", str(tmp_path / "m.py"))),
                        ("import", ("m", str(tmp_path / "m.so"), [], [], [])),
                        ("compile", (b"x", "<string>"))]:  # a real file of that name
        with pytest.raises(policy.PolicyViolation):
            guard(event, args)


def test_hook_allows_the_program_and_the_libraries(guard):
    guard("compile", (b"x", "<code>"))
    guard("exec", (compile("x = 1", "<code>", "exec"),))
    guard("exec", (compile("x = 1", "<decorator-gen-3>", "exec"),))
    guard("exec", (textwrap.dedent.__code__,))
    guard("import", ("json", None, [], [], []))
    guard("ctypes.dlopen", (None,))
    guard("open", (os.__file__, "r", 0))
    guard("marshal.loads", (b"",))


def test_hook_refuses_bytecode_read_from_outside_the_libraries(guard, tmp_path):
    guard("open", (str(tmp_path / "m.pyc"), "r", 0))
    with pytest.raises(policy.PolicyViolation):
        guard("marshal.loads", (b"",))


def test_guarded_functions_do_not_hand_out_the_original():
    """functools.partial substitutes exposed .func/.args: the unguarded attrgetter."""
    out = restricted("import operator\nprint('ESCAPED', operator.attrgetter.args)")
    assert "ESCAPED" not in out.stdout, out
    assert out.result["error"].startswith("AttributeError"), out.result["error"]


@needs_matplotlib
def test_replaced_validator_cannot_smuggle_a_program_path():
    out = restricted(code("""
        import matplotlib
        answers = iter(["ffmpeg", "/bin/sh"])
        def twice(value):
            return next(answers)
        matplotlib.RcParams.validate["animation.ffmpeg_path"] = twice
        matplotlib.rcParams["animation.ffmpeg_path"] = "/bin/sh"
        print("value", matplotlib.rcParams["animation.ffmpeg_path"])
    """))
    assert out.stdout in ("", "value ffmpeg\n"), out  # refused, or the first answer kept
    assert "/bin/sh" not in out.stdout
