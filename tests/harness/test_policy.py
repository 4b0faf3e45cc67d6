"""The restricted policy: escapes are refused, ordinary programs run unchanged."""

import ast
import os
import re
import textwrap
import uuid

import pytest

from conftest import execute
from harness import policy


def code(text):
    return textwrap.dedent(text).lstrip("\n")


def restricted(source, **spec):
    return execute(source, policy="restricted", **spec)


def has(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


needs_numpy = pytest.mark.skipif(not has("numpy"), reason="numpy not importable")
needs_pandas = pytest.mark.skipif(not has("pandas"), reason="pandas not importable")
needs_matplotlib = pytest.mark.skipif(not has("matplotlib"), reason="matplotlib not importable")

# (id, code, fragment of the violation message). Each program prints ESCAPED
# last: it must never get that far.
ESCAPES = [
    ("class_hierarchy_walk", "().__class__.__mro__[1].__subclasses__()", "'__class__'"),
    ("base_subclasses", "[].__class__.__base__.__subclasses__()", "'__class__'"),
    ("getattr_concatenated_globals", "def f():\n    pass\ng = getattr(f, '__glob' + 'als__')",
     "'__globals__'"),
    ("getattr_class", "c = getattr((), '__class__')", "'__class__'"),
    ("hasattr_dunder", "hasattr(1, '__class__')", "'__class__'"),
    ("getattr_frame_attribute", "getattr(1, 'f_back')", "'f_back'"),
    ("format_attribute_walk", "'{0.__class__}'.format(1)", "format field '0.__class__'"),
    ("format_map_walk", "'{x.__class__.__mro__}'.format_map({'x': 1})", "format field"),
    ("format_index_walk", "'{0[__builtins__]}'.format({'__builtins__': 1})", "format field"),
    ("format_nested_spec_walk", "'{0:{1.__class__}}'.format(1, 2)", "'1.__class__'"),
    ("format_bound_method_alias", "f = '{0.__init__.__globals__}'.format\nf(len)",
     "'__globals__'"),
    ("str_format_unbound", "str.format('{0.__class__}', 1)", "format field"),
    ("format_frame_walk", "def g():\n    yield 1\n'{0.gi_frame}'.format(g())", "'gi_frame'"),
    ("string_formatter", "import string\nstring.Formatter().format('{0.__class__}', 1)",
     "format field"),
    ("string_formatter_get_field",
     "import string\nstring.Formatter().get_field('0.__class__', (1,), {})", "format field"),
    ("operator_attrgetter", "import operator\noperator.attrgetter('__class__')(1)",
     "'__class__'"),
    ("operator_attrgetter_alias",
     "from operator import attrgetter\nattrgetter('real.__class__')(1)", "'__class__'"),
    ("operator_methodcaller_format",
     "import operator\noperator.methodcaller('format', 1)('{0.__class__}')", "format field"),
    ("update_wrapper_globals",
     "import functools\ndef f():\n    pass\ndef w():\n    pass\n"
     "functools.update_wrapper(w, f, assigned=('__globals__',))", "'__globals__'"),
    ("generator_frame", "def g():\n    yield 1\ngen = g()\nprint(gen.gi_frame.f_globals)",
     "'gi_frame'"),
    ("generator_frame_getattr", "def g():\n    yield 1\nframe = getattr(g(), 'gi_frame')",
     "'gi_frame'"),
    ("generator_code", "def g():\n    yield 1\ng().gi_code.co_code", "'gi_code'"),
    ("coroutine_frame", "async def c():\n    pass\nco = c()\nco.cr_frame.f_back", "'cr_frame'"),
    ("traceback_attribute", "try:\n    1/0\nexcept Exception as e:\n    e.__traceback__.tb_frame",
     "'__traceback__'"),
    ("exit_traceback_frame",
     "class C:\n    def __enter__(self):\n        return self\n"
     "    def __exit__(self, kind, value, tb):\n        print(tb.tb_frame.f_builtins)\n"
     "with C():\n    1/0", "'tb_frame'"),
    ("builtins_name", "__builtins__['open']", "'__builtins__'"),
    ("import_builtins", "import builtins", "import of 'builtins'"),
    ("import_os", "import os\nos.system('echo pwned')", "import of 'os'"),
    ("import_sys", "import sys", "import of 'sys'"),
    ("import_subprocess", "import subprocess", "import of 'subprocess'"),
    ("import_ctypes", "import ctypes", "import of 'ctypes'"),
    ("import_importlib", "import importlib", "import of 'importlib'"),
    ("import_socket", "import socket", "import of 'socket'"),
    ("import_gc", "import gc\ngc.get_objects()", "import of 'gc'"),
    ("import_inspect", "import inspect", "import of 'inspect'"),
    ("from_os_import_system", "from os import system", "import of 'os'"),
    ("import_os_path", "import os.path", "import of 'os.path'"),
    ("type_three_arguments", "type('X', (), {})", "type() with three arguments"),
    ("type_of_type", "type(type(int))('X', (), {'__getattr__': print})",
     "type() with three arguments"),
    ("open_etc_passwd", "print(open('/etc/passwd').read())", "resolves outside"),
    ("open_file_descriptor", "open(2, 'w').write('x')", "not a file descriptor"),
    ("open_with_opener", "open('x', 'w', opener=lambda p, f: 2)", "opener"),
    ("decorator_smuggles_globals", "@(lambda f: f.__globals__)\ndef g():\n    pass",
     "'__globals__'"),
    ("lambda_smuggles_eval", "run = (lambda: eval)()\nrun('1')", "'eval' is not available"),
    ("lambda_smuggles_getattr", "(lambda o: getattr(o, '__cl' + 'ass__'))(1)", "'__class__'"),
    ("vars", "print(vars())", "'vars' is not available"),
    ("globals", "globals()['x'] = 1", "'globals' is not available"),
    ("locals", "locals()", "'locals' is not available"),
    ("eval", "eval('1 + 1')", "'eval' is not available"),
    ("exec", "exec('x = 1')", "'exec' is not available"),
    ("compile", "compile('1', '<s>', 'eval')", "'compile' is not available"),
    ("dunder_import", "__import__('os')", "'__import__'"),
    ("breakpoint", "breakpoint()", "'breakpoint' is not available"),
    ("private_name", "_secret = 1", "name '_secret'"),
    ("private_parameter", "def f(_x):\n    return _x", "name '_x'"),
    ("private_keyword", "dict(_x=1)", "name '_x'"),
    ("private_import_alias", "import math as _m", "name '_m'"),
    ("match_class_attribute", "match 1:\n    case int(__class__=c):\n        pass",
     "'__class__'"),
    ("match_pattern_reads_format",
     "match '{0.__class__}':\n    case str(format=f):\n        print(f(1))",
     "attribute pattern 'format'"),
    ("star_import", "from math import *", "import *"),
    ("relative_import", "from . import thing", "relative imports"),
    ("fstring_walk", "print(f'{().__class__}')", "'__class__'"),
    ("mro_method", "int.mro()", "'mro'"),
    ("datetime_sys_module", "import datetime\ndatetime.sys.modules['os']", "module 'sys'"),
    ("stdlib_module_reexport", "import dataclasses\ndataclasses.inspect.getsource", "module"),
    ("typing_sys_via_getattr", "import typing\ngetattr(typing, 'sys').modules",
     "module 'sys'"),
    ("typing_forward_ref_walk",
     "import typing\ndef f(x: '().__class__'):\n    pass\ntyping.get_type_hints(f)",
     "in the annotation"),
    ("typing_forward_ref_open",
     "import typing\ndef f(x: \"open('/etc/passwd')\"):\n    pass\n"
     "typing.get_type_hints(f, globalns={})", "resolves outside"),
    ("monkeypatch_library_class", "import json\njson.JSONEncoder.default = print",
     "cannot be changed"),
    ("setattr_library_class", "import json\nsetattr(json.JSONDecoder, 'decode', print)",
     "cannot be changed"),
    ("metaclass_from_module", "import numbers\nnumbers.ABCMeta('X', (), {'__len__': len})",
     "is a metaclass"),
    ("metaclass_via_type", "import numbers\nmeta = type(numbers.Number)\n"
     "meta('X', (), {'__array_interface__': {}})", "type() with three arguments"),
    ("make_dataclass_namespace",
     "import dataclasses\n"
     "dataclasses.make_dataclass('D', [], namespace={'__array_interface__': {}})",
     "may not define '__array_interface__'"),
    ("make_dataclass_field",
     "from dataclasses import make_dataclass\nmake_dataclass('D', [('__array_interface__', dict)])",
     "may not define '__array_interface__'"),
    ("enum_functional_dunder",
     "import enum\nenum.Enum('E', [('__array_interface__', {}), ('a', 1)])",
     "may not define '__array_interface__'"),
]

NUMPY_ESCAPES = [
    ("numpy_ctypeslib", "import numpy as np\nnp.ctypeslib.load_library('libc.so.6', '/lib')",
     "'ctypeslib'"),
    ("numpy_ctypeslib_getattr", "import numpy\ngetattr(numpy, 'ctypes' + 'lib')", "'ctypeslib'"),
    ("numpy_ctypeslib_import", "from numpy import ctypeslib", "'numpy.ctypeslib'"),
    ("numpy_array_ctypes", "import numpy as np\nnp.zeros(1).ctypes.data", "'ctypes'"),
    ("numpy_load_pickle", "import numpy as np\nnp.load('x.npy', allow_pickle=True)",
     "allow_pickle=True"),
    ("numpy_test_suite", "import numpy\nnumpy.test()", "runs the test suite"),
    ("numpy_npz_pickle", "import numpy as np\n"
     "np.lib.npyio.NpzFile(open('x.npz', 'rb'), allow_pickle=True)", "'numpy.lib.npyio'"),
    ("numpy_stride_tricks", "import numpy as np\n"
     "np.lib.stride_tricks.as_strided(np.zeros(1), shape=(10**6,))",
     "module 'numpy.lib.stride_tricks'"),
    ("numpy_array_interface_via_metaclass",
     "import numbers, numpy as np\n"
     "iface = {'data': (id(1), False), 'shape': (3,), 'typestr': '<u8', 'version': 3}\n"
     "np.asarray(numbers.ABCMeta('X', (), {'__array_interface__': iface})())",
     "is a metaclass"),
]

PANDAS_ESCAPES = [
    ("pandas_read_pickle", "import pandas as pd\npd.read_pickle('x.pkl')", "unpickling"),
    ("pandas_eval", "import pandas as pd\npd.eval('1 + 1')", "'eval'"),
    ("pandas_query", "import pandas as pd\npd.DataFrame({'a': [1]}).query('a > 0')",
     "'query'"),
    ("pandas_accessor_registration",
     "import pandas as pd\npd.core.accessor.register_dataframe_accessor('__array_interface__')",
     "sets attributes of any name"),
    ("pandas_extensions_module", "import pandas as pd\npd.api.extensions",
     "module 'pandas.api.extensions'"),
    ("pandas_pickle_compat", "from pandas.compat import pickle_compat",
     "'pandas.compat.pickle_compat'"),
    ("pandas_expression_engine", "import pandas as pd\n"
     "pd.core.computation.expr.Expr('a.__class__')", "'pandas.core.computation'"),
]

LOCATION = re.compile(r" \(line \d+, col \d+\)$")


def assert_refused(out, fragment):
    result = out.result
    assert result["error_type"] == "PolicyViolation", out
    assert result["exit_reason"] == "policy"
    assert result["exit_code"] == 1 == out.exit_code
    assert result["error"].startswith("PolicyViolation: ")
    assert LOCATION.search(result["error"]), result["error"]
    if fragment:
        assert fragment in result["error"], result["error"]
    assert out.stderr.splitlines()[-1].startswith("PolicyViolation: ")
    assert "ESCAPED" not in out.stdout
    assert "harness" not in out.stderr
    assert out.debug["hints"], "a violation always carries a hint"


@pytest.mark.parametrize("name, source, fragment", ESCAPES, ids=[e[0] for e in ESCAPES])
def test_escape_is_refused(name, source, fragment):
    assert_refused(restricted(source + "\nprint('ESCAPED')"), fragment)


@needs_numpy
@pytest.mark.parametrize("name, source, fragment", NUMPY_ESCAPES,
                         ids=[e[0] for e in NUMPY_ESCAPES])
def test_numpy_escape_is_refused(name, source, fragment):
    assert_refused(restricted(source + "\nprint('ESCAPED')"), fragment)


@needs_pandas
@pytest.mark.parametrize("name, source, fragment", PANDAS_ESCAPES,
                         ids=[e[0] for e in PANDAS_ESCAPES])
def test_pandas_escape_is_refused(name, source, fragment):
    assert_refused(restricted(source + "\nprint('ESCAPED')"), fragment)


def test_open_parent_directory_refused_and_nothing_written():
    name = "escaped-%s.txt" % uuid.uuid4().hex
    out = restricted("open('../%s', 'w').write('x')\nprint('ESCAPED')" % name)
    assert_refused(out, "resolves outside")
    assert not os.path.exists(os.path.join(os.path.dirname(out.cwd), name))


def test_symlink_escape_refused():
    def setup(cwd):
        os.symlink("/etc/passwd", os.path.join(cwd, "passwd_link"))
        os.symlink("/etc", os.path.join(cwd, "etc_link"))
    out = restricted("open('passwd_link').read()\nprint('ESCAPED')", setup=setup)
    assert_refused(out, "resolves outside")
    out = restricted("open('etc_link/hostname').read()\nprint('ESCAPED')", setup=setup)
    assert_refused(out, "resolves outside")


def test_compile_time_violation_runs_nothing():
    out = restricted("print('side effect')\nimport os\n")
    assert out.stdout == ""
    assert out.result["error"] == "PolicyViolation: import of 'os' is not allowed (line 2, col 8)"
    assert out.stderr == ('  File "<code>", line 2\n'
                          '    import os\n'
                          '           ^\n'
                          "PolicyViolation: import of 'os' is not allowed (line 2, col 8)\n")


def test_runtime_violation_reports_the_runtime_line():
    out = restricted("x = 1\nprint('ran')\nname = '__cla' + 'ss__'\ny = getattr(x, name)\n")
    assert out.stdout == "ran\n"
    assert out.result["error"].endswith("(line 4, col 5)")
    assert '  File "<code>", line 4, in <module>' in out.stderr
    assert "policy.py" not in out.stderr
    assert out.debug["exceptions"][0]["type"] == "PolicyViolation"
    assert out.debug["exceptions"][0]["lineno"] == 4


def test_all_violations_listed_in_debug_info():
    out = restricted("import os\nx = ().__class__\neval('1')\n")
    entries = out.debug["exceptions"]
    assert [(e["lineno"], e["col"]) for e in entries] == [(1, 8), (2, 5), (3, 1)]
    assert all(e["type"] == "PolicyViolation" for e in entries)
    assert len(out.debug["hints"]) == 3


def test_restricted_imports_override():
    out = restricted("import math", restricted_imports=["json"])
    assert_refused(out, "import of 'math'")
    assert "allowed imports under the restricted policy: json" in out.debug["hints"][0]
    out = restricted("import json\nprint(json.dumps([1]))", restricted_imports=["json"])
    assert out.stdout == "[1]\n"


# (id, code, expected stdout). Each runs under both policies with the same output.
ORDINARY = [
    ("comprehensions", "print([x * x for x in range(5) if x % 2], {k: v for k, v in "
     "zip('ab', [1, 2])}, {c for c in 'aab'} == {'a', 'b'}, sum(x for x in range(4)))",
     "[1, 9] {'a': 1, 'b': 2} True 6\n"),
    ("fstrings", "name = 'pi'\nvalue = 3.14159\nprint(f'{name}={value:.2f} {42:>5} {name!r} "
     "{value * 2:.1f}')", "pi=3.14    42 'pi' 6.3\n"),
    ("class_methods_property", code("""
        class Rect:
            def __init__(self, w, h):
                self.w, self.h = w, h
            @property
            def area(self):
                return self.w * self.h
            def scale(self, k):
                return Rect(self.w * k, self.h * k)
            def __repr__(self):
                return f"Rect({self.w}, {self.h})"
            def __eq__(self, other):
                return (self.w, self.h) == (other.w, other.h)
        r = Rect(2, 3).scale(2)
        print(r, r.area, r == Rect(4, 6))
    """), "Rect(4, 6) 24 True\n"),
    ("inheritance_super", code("""
        class Base:
            def __init__(self, name):
                self.name = name
            def describe(self):
                return "base " + self.name
        class Child(Base):
            def __init__(self, name, age):
                super().__init__(name)
                self.age = age
            def describe(self):
                return super().describe() + f" age {self.age}"
        print(Child("ann", 7).describe(), isinstance(Child("b", 1), Base))
    """), "base ann age 7 True\n"),
    ("generators", code("""
        def countdown(n):
            while n > 0:
                yield n
                n -= 1
        def pipeline():
            total = yield
            while True:
                total += yield total
        gen = pipeline()
        next(gen)
        gen.send(5)
        print(list(countdown(3)), gen.send(10))
    """), "[3, 2, 1] 15\n"),
    ("try_except_finally", code("""
        class AppError(Exception):
            pass
        def risky(x):
            if x < 0:
                raise AppError(f"negative: {x}")
            return x
        for value in (1, -1):
            try:
                risky(value)
            except AppError as exc:
                print("caught", exc)
            else:
                print("ok", value)
            finally:
                print("done", value)
    """), "ok 1\ndone 1\ncaught negative: -1\ndone -1\n"),
    ("dataclasses", code("""
        from dataclasses import dataclass, field, asdict
        @dataclass
        class Item:
            name: str
            tags: list = field(default_factory=list)
            qty: int = 1
        item = Item("pen", ["blue"])
        item.qty += 2
        print(item, asdict(item))
    """), "Item(name='pen', tags=['blue'], qty=3) {'name': 'pen', 'tags': ['blue'], 'qty': 3}\n"),
    ("json_round_trip", "import json\ndata = {'a': [1, 2.5, None], 'b': True}\n"
     "text = json.dumps(data, sort_keys=True)\nprint(text, json.loads(text) == data)",
     '{"a": [1, 2.5, null], "b": true} True\n'),
    ("math", "import math\nprint(math.sqrt(16), math.floor(2.7), round(math.pi, 3), "
     "math.gcd(12, 18), math.factorial(5))", "4.0 2 3.142 6 120\n"),
    ("itertools", code("""
        import itertools
        print(list(itertools.combinations("abc", 2)))
        print([(k, len(list(g))) for k, g in itertools.groupby("aabccc")])
        print(list(itertools.accumulate([1, 2, 3])), list(itertools.chain([1], [2])))
    """), "[('a', 'b'), ('a', 'c'), ('b', 'c')]\n[('a', 2), ('b', 1), ('c', 3)]\n"
          "[1, 3, 6] [1, 2]\n"),
    ("sorting_key_lambda", "people = [('bob', 30), ('amy', 25), ('cat', 30)]\n"
     "print(sorted(people, key=lambda p: (-p[1], p[0])))\n"
     "print(max(people, key=lambda p: p[1])[0], sorted('cba', reverse=True))",
     "[('bob', 30), ('cat', 30), ('amy', 25)]\nbob ['c', 'b', 'a']\n"),
    ("closures_nonlocal", code("""
        def make_counter():
            count = 0
            def bump():
                nonlocal count
                count += 1
                return count
            return bump
        counter = make_counter()
        counter(); counter()
        print(counter())
    """), "3\n"),
    ("recursion", "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
     "def fact(n):\n    return 1 if n == 0 else n * fact(n - 1)\nprint(fib(15), fact(10))",
     "610 3628800\n"),
    ("string_methods", "s = '  Hello, World  '\nt = s.strip()\nprint(t.upper(), t.split(', '), "
     "'-'.join(['a', 'b']), t.replace('World', 'You'), t.startswith('He'), t.count('l'))",
     "HELLO, WORLD ['Hello', 'World'] a-b Hello, You True 3\n"),
    ("format_plain_fields", "print('{} + {} = {total}'.format(1, 2, total=3), "
     "'{0:>4}|{1:.1f}'.format('ab', 2.25), '{x}'.format_map({'x': 5}), "
     "'{0[1]}'.format([7, 8]))", "1 + 2 = 3   ab|2.2 5 8\n"),
    ("enumerate_zip", "for i, (a, b) in enumerate(zip('xy', [1, 2]), start=1):\n"
     "    print(i, a, b)", "1 x 1\n2 y 2\n"),
    ("dict_set_ops", code("""
        a, b = {1, 2, 3}, {2, 3, 4}
        print(sorted(a | b), sorted(a & b), sorted(a - b))
        d = {}
        d.setdefault("k", []).append(1)
        d.update(z=2)
        print(d, d.get("missing", "dflt"), sorted(d.items()))
    """), "[1, 2, 3, 4] [2, 3] [1]\n{'k': [1], 'z': 2} dflt [('k', [1]), ('z', 2)]\n"),
    ("decimal_fractions", "from decimal import Decimal\nfrom fractions import Fraction\n"
     "print(Decimal('0.1') + Decimal('0.2'), Fraction(1, 3) + Fraction(1, 6))", "0.3 1/2\n"),
    ("datetime", code("""
        from datetime import date, datetime, timedelta
        d = date(2024, 2, 28) + timedelta(days=2)
        print(d.isoformat(), d.strftime("%A"), datetime(2024, 1, 1, 12).hour)
    """), "2024-03-01 Friday 12\n"),
    ("collections", code("""
        from collections import Counter, defaultdict, deque, namedtuple
        counts = Counter("mississippi")
        groups = defaultdict(list)
        for word in ["apple", "avocado", "banana"]:
            groups[word[0]].append(word)
        q = deque([1, 2]); q.appendleft(0); q.rotate(1)
        P = namedtuple("P", "x y")
        p = P(1, 2)
        print(counts.most_common(2), dict(groups), list(q), p._replace(x=5), p._asdict())
    """), "[('i', 4), ('s', 4)] {'a': ['apple', 'avocado'], 'b': ['banana']} [2, 0, 1] "
          "P(x=5, y=2) {'x': 1, 'y': 2}\n"),
    ("statistics", "import statistics as st\ndata = [2, 4, 4, 4, 5, 5, 7, 9]\n"
     "print(st.mean(data), st.median(data), st.pstdev(data), st.mode(data))",
     "5 4.5 2.0 4\n"),
    ("functools", code("""
        from functools import reduce, lru_cache, partial, wraps
        @lru_cache(maxsize=None)
        def steps(n):
            return 0 if n == 1 else 1 + steps(n // 2 if n % 2 == 0 else 3 * n + 1)
        def logged(fn):
            @wraps(fn)
            def inner(*args):
                return fn(*args)
            return inner
        @logged
        def add(a, b):
            return a + b
        print(reduce(lambda a, b: a * b, [1, 2, 3, 4]), steps(27), partial(add, 10)(5),
              add.__name__)
    """), "24 111 15 add\n"),
    ("heapq_bisect", "import heapq, bisect\nh = [5, 1, 4]\nheapq.heapify(h)\n"
     "print(heapq.heappop(h), heapq.nsmallest(2, [9, 3, 7]), bisect.bisect([1, 3, 5], 4))",
     "1 [3, 7] 2\n"),
    ("enum", "from enum import Enum, auto\n"
     "class Color(Enum):\n    RED = auto()\n    BLUE = auto()\n"
     "print(Color.RED.name, Color(2), [c.value for c in Color])",
     "RED Color.BLUE [1, 2]\n"),
    ("typing_annotations", code("""
        import typing
        from typing import Dict, List, Optional
        def total(values: List[int], scale: Optional[float] = None) -> Dict[str, float]:
            return {"sum": sum(values) * (scale or 1)}
        print(total([1, 2], 2.0), typing.get_type_hints(total)["return"])
    """), "{'sum': 6.0} typing.Dict[str, float]\n"),
    ("random_seeded", "import random\nrandom.seed(7)\nprint(random.randint(1, 100), "
     "random.choice('abc'))", None),
    ("files_in_working_directory", code("""
        with open("notes.txt", "w") as fh:
            fh.write("line one\\nline two\\n")
        with open("notes.txt") as fh:
            print([l.strip() for l in fh])
    """), "['line one', 'line two']\n"),
    ("regex", "import re\nprint(re.findall(r'\\d+', 'a1b22c333'), "
     "re.sub(r'(\\w+)@', r'<\\1>', 'me@x'), bool(re.match('^a', 'abc')))",
     "['1', '22', '333'] <me>x True\n"),
    ("string_module", "import string\nprint(string.ascii_lowercase[:5], "
     "string.Template('$who likes $what').substitute(who='tim', what='tea'), "
     "string.capwords('hello world'))", "abcde tim likes tea Hello World\n"),
    ("textwrap_copy", "import textwrap, copy\nnested = [[1], [2]]\nclone = copy.deepcopy(nested)\n"
     "clone[0].append(9)\nprint(textwrap.shorten('a b c d e f', width=7), nested, clone)",
     "a [...] [[1], [2]] [[1, 9], [2]]\n"),
    ("main_guard", "def main():\n    print('main ran')\nif __name__ == '__main__':\n    main()",
     "main ran\n"),
    ("match_statement", code("""
        def kind(v):
            match v:
                case {"type": t}:
                    return f"dict {t}"
                case [x, y]:
                    return f"pair {x},{y}"
                case int() if v > 0:
                    return "positive"
                case _:
                    return "other"
        print(kind({"type": "a"}), kind([1, 2]), kind(3), kind("s"))
    """), "dict a pair 1,2 positive other\n"),
    ("walrus_unpacking", "first, *rest = [1, 2, 3]\nif (n := len(rest)) > 1:\n"
     "    print(first, rest, n, [*rest, *'ab'], {**{'a': 1}, 'b': 2})",
     "1 [2, 3] 2 [2, 3, 'a', 'b'] {'a': 1, 'b': 2}\n"),
    ("operator_module", "import operator\nrows = [{'n': 2}, {'n': 1}]\n"
     "print(sorted(rows, key=operator.itemgetter('n')), operator.attrgetter('real')(3), "
     "operator.methodcaller('upper')('x'), operator.add(2, 3))",
     "[{'n': 1}, {'n': 2}] 3 X 5\n"),
    ("type_checks", "x = 3\nprint(type(x).__name__, type(x) is int, isinstance(int, type), "
     "type(int) is type, issubclass(bool, int))", "int True True True True\n"),
    ("global_statement", "total = 0\ndef add(n):\n    global total\n    total += n\n"
     "add(2); add(3)\nprint(total)", "5\n"),
    ("coroutine_manual", code("""
        async def compute():
            return 42
        co = compute()
        try:
            co.send(None)
        except StopIteration as stop:
            print(stop.value)
    """), "42\n"),
    ("class_factories", code("""
        import dataclasses, enum
        Point = dataclasses.make_dataclass("Point", ["x", ("y", int, dataclasses.field(default=0))],
                                           namespace={"norm": lambda self: self.x + self.y})
        Level = enum.Enum("Level", "LOW HIGH")
        Mode = enum.Enum("Mode", {"FAST": 1, "SLOW": 2})
        print(Point(1, 2), Point(3).norm(), Level.HIGH.value, Mode(2).name, isinstance(Level, type))
    """), "Point(x=1, y=2) 3 2 SLOW True\n"),
    ("future_annotations", code("""
        from __future__ import annotations
        from dataclasses import dataclass
        @dataclass
        class Node:
            value: int
            child: Node | None = None
        print(Node(1, Node(2)).child.value, Node.__name__)
    """), "2 Node\n"),
    ("print_options_and_exit", "print('a', 'b', sep='-', end='!\\n')\nexit(0)\nprint('no')",
     "a-b!\n"),
]

NUMERIC = [
    pytest.param("numpy", code("""
        import numpy as np
        a = np.arange(6).reshape(2, 3)
        print(a.sum(), a.mean(axis=0).tolist(), (a * 2).max(), np.linalg.det(np.eye(2)))
    """), "15 [1.5, 2.5, 3.5] 10 1.0\n", marks=needs_numpy),
    pytest.param("pandas", code("""
        import pandas as pd
        df = pd.DataFrame({"team": ["a", "b", "a"], "score": [1, 2, 3]})
        df.columns = ["team", "points"]
        print(df.groupby("team")["points"].sum().to_dict(), df[df.points > 1].shape)
    """), "{'a': 4, 'b': 2} (2, 2)\n", marks=needs_pandas),
    pytest.param("matplotlib", code("""
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [3, 1, 2])
        fig.savefig("plot.png")
        with open("plot.png", "rb") as fh:
            print(fh.read(4) == b"\\x89PNG")
    """), "True\n", marks=needs_matplotlib),
]


@pytest.mark.parametrize("name, source, expected",
                         ORDINARY + NUMERIC, ids=[o[0] for o in ORDINARY] + [
                             p.values[0] for p in NUMERIC])
def test_ordinary_program_runs_unchanged(name, source, expected):
    standard = execute(source)
    limited = restricted(source)
    assert standard.result["error"] is None, standard
    assert limited.result["error"] is None, limited
    assert limited.exit_code == 0
    assert limited.stdout == standard.stdout
    if expected is not None:
        assert limited.stdout == expected


def test_trailing_expression_and_input_data_under_restricted_policy():
    out = restricted("total = sum(input_data['values'])\ntotal * 2",
                     input_data={"values": [1, 2, 3]})
    assert out.result["result"] == 12
    assert out.debug["variables_after"]["total"]["value"] == 6


def test_module_proxy_class_cannot_be_instantiated_by_user_code():
    out = restricted("import math\nproxy_class = type(math)\nproxy_class(math, math)")
    assert out.result["error"] == "TypeError: ModuleProxy is created by the restricted policy only"


def test_module_proxy_writes_stay_local():
    out = restricted("import math\nmath.pi = 3\nimport math as m2\nprint(m2.pi)")
    assert out.stdout == "3\n"


# ---------------------------------------------------------------- in-process units

def violations(source):
    return [(v.lineno, v.col, v.kind) for v in policy.check(ast.parse(source))]


def test_check_reports_positions_in_source_order():
    assert violations("x = 1\ny = x.__dict__\nimport os\n") == [
        (2, 5, "attribute"), (3, 8, "import")]


def test_check_accepts_allowed_underscore_names():
    source = code("""
        class A:
            def __init__(self):
                self.x = 1
            def __repr__(self):
                return type(self).__name__
        for _ in range(3):
            pass
    """)
    assert violations(source) == []


def test_check_format_string_rules():
    policy.check_format_string("{} {0} {name} {0[1]} {x.real} {0:>{width}}")
    for bad in ("{0.__class__}", "{0[_x]}", "{_private}", "{0:{1.__dict__}}", "{0.gi_frame}"):
        with pytest.raises(policy.PolicyViolation):
            policy.check_format_string(bad)


def test_safe_type_behaves_like_type_for_checks():
    assert isinstance(int, policy.SafeType)
    assert not isinstance(3, policy.SafeType)
    assert issubclass(type, policy.SafeType)
    assert policy.SafeType(3) is int
    assert policy.SafeType(int) is policy.SafeType
    with pytest.raises(policy.PolicyViolation):
        policy.SafeType("X", (), {})


def test_module_allowed():
    allowed = policy.DEFAULT_ALLOWED_IMPORTS
    assert policy.module_allowed("json", allowed)
    assert policy.module_allowed("numpy.linalg", allowed)
    assert policy.module_allowed("matplotlib.pyplot", allowed)
    assert not policy.module_allowed("os", allowed)
    assert not policy.module_allowed("numpy.ctypeslib", allowed)
    assert not policy.module_allowed("json._private", allowed)
    assert not policy.module_allowed("jsonx", allowed)


def test_violation_location_text():
    violation = policy.PolicyViolation("bad thing", "name", 3, 7)
    assert violation.located() == "bad thing (line 3, col 7)"
    assert str(violation) == "bad thing"
