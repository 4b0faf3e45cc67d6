"""A regeneration loop of our own: can a fixer repair typical buggy programs from our answers?

Each seeded bug is a mistake models make, with the stdout its correct version prints. The
scripted fixer (regen_fixer.py) edits the program from one run's feedback and re-runs it, at
most 3 rounds, reading either
  full     the agent's whole ExecutionResult (stderr, error, error_type, debug_info),
  stderr   the agent's stderr only (what an NVIDIA-dialect client sees),
  bare     the stderr of `/usr/bin/python3.11 -c` on the same program (the baseline).
Every bug must converge from the full response; from stderr alone at least as many as from the
bare interpreter. See docs/regen.md.
"""
import os
import subprocess

import pytest

import regen_fixer

BARE_PYTHON = "/usr/bin/python3.11"
TIMEOUT_S = 5
ROUNDS = 3

# (name, program, the stdout of its correct version)
BUGS = [
    ("name_typo_module", """\
scores = [70, 85, 90]
total = 0
for s in scores:
    total += s
print(totl)
""", "245\n"),
    ("name_typo_in_function", """\
def mean(values):
    count = len(values)
    return sum(values) / cout

print(mean([2, 4, 9]))
""", "5.0\n"),
    ("name_typo_augassign_module", """\
total = 0
for x in [3, 4, 5]:
    totl += x
print(total)
""", "12\n"),
    ("unbound_local_typo", """\
def total_of(xs):
    total = 0
    for x in xs:
        totl += x
    return total

print(total_of([1, 2, 3]))
""", "6\n"),
    ("attribute_typo_object", """\
class Item:
    def __init__(self, name, price):
        self.name = name
        self.price = price

item = Item("pen", 1.5)
print(item.name, item.prise)
""", "pen 1.5\n"),
    ("attribute_typo_module", """\
import math
print(math.sqroot(16))
""", "4.0\n"),
    ("method_typo_str", """\
def comments(lines):
    return [l for l in lines if l.startwith("#")]

print(comments(["# a", "b", "# c"]))
""", "['# a', '# c']\n"),
    ("missing_import", """\
values = [1, 2, 3, 4]
print(np.mean(values))
""", "2.5\n"),
    ("pandas_column_typo", """\
import pandas as pd
df = pd.DataFrame({"region": ["north", "south", "north"], "revenue": [10, 20, 30]})
print(df["revenu"].sum())
""", "60\n"),
    ("pandas_groupby_column_typo", """\
import pandas as pd

def revenue_by_region(rows):
    df = pd.DataFrame(rows)
    return df.groupby("region")["revenu"].sum().to_dict()

rows = [("north", 10), ("south", 20), ("north", 30)]
print(revenue_by_region([{"region": r, "revenue": v} for r, v in rows]))
""", "{'north': 40, 'south': 20}\n"),
    ("dict_key_typo", """\
prices = {"apple": 1.25, "pear": 0.75}

def cost(fruit, n):
    return prices[fruit] * n

print(cost("aple", 2))
""", "2.5\n"),
    ("index_off_by_one", """\
temps = [21, 23, 22, 25]
changes = []
for i in range(1, len(temps) + 1):
    changes.append(temps[i] - temps[i - 1])
print(changes)
""", "[2, -1, 3]\n"),
    ("str_plus_int", """\
count = 3
print("items: " + count)
""", "items: 3\n"),
    ("average_of_empty_list", """\
def average(xs):
    return sum(xs) / len(xs)

print(average([4, 8]))
print(average([]))
""", "6.0\n0\n"),
    ("syntax_missing_colon", """\
for i in range(3)
    print(i * i)
""", "0\n1\n4\n"),
    ("syntax_unclosed_bracket", """\
values = [1, 2, 3]
print(max(values)
print(min(values))
""", "3\n1\n"),
    ("indentation_missing", """\
def square(x):
return x * x

print(square(7))
""", "49\n"),
    ("habit_list_push", """\
stack = []
for word in ["a", "b", "c"]:
    stack.push(word)
print(stack)
""", "['a', 'b', 'c']\n"),
    ("habit_str_length", """\
name = "sandpit"
print(name.length)
""", "7\n"),
    ("habit_str_contains", """\
text = "the cat sat"
print(text.contains("cat"))
""", "True\n"),
    ("missing_module_sklearn", """\
from sklearn.linear_model import LinearRegression
X = [[1], [2], [3], [4]]
y = [3, 5, 7, 9]
model = LinearRegression().fit(X, y)
print(round(float(model.coef_[0]), 2), round(float(model.intercept_), 2))
""", "2.0 1.0\n"),
    ("timeout_no_increment", """\
nums = [3, 1, 4, 1, 5]
i = 0
total = 0
while i < len(nums):
    total += nums[i]
print(total)
""", "14\n"),
]

MODES = ("full", "stderr", "bare")


def _agent_runner(agent, mode):
    def run(code):
        res = agent.execute(code, timeout=TIMEOUT_S)
        if mode == "full":
            fb = regen_fixer.feedback_from_response(res)
        else:
            fb = regen_fixer.feedback_from_stderr(res.get("stderr") or "")
        return res.get("status") == "completed", res.get("stdout") or "", fb
    return run


def _text(data):
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


def _bare_runner(work_dir):
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(work_dir),
           "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}

    def run(code):
        try:
            p = subprocess.run([BARE_PYTHON, "-c", code], capture_output=True, text=True,
                               timeout=TIMEOUT_S, cwd=work_dir, env=env)
        except subprocess.TimeoutExpired as e:
            return False, _text(e.stdout), regen_fixer.feedback_from_stderr(_text(e.stderr))
        return p.returncode == 0, p.stdout, regen_fixer.feedback_from_stderr(p.stderr)
    return run


def _table(outcomes):
    rows = ["%-28s %-7s %-7s %-7s" % ("bug", *MODES)]
    for name, _, _ in BUGS:
        cells = []
        for mode in MODES:
            ok, runs, _ = outcomes[name][mode]
            cells.append(("yes/%d" if ok else "no/%d") % runs)
        rows.append("%-28s %-7s %-7s %-7s" % (name, *cells))
    totals = [sum(outcomes[n][m][0] for n, _, _ in BUGS) for m in MODES]
    rows.append("%-28s %-7s %-7s %-7s" % ("converged (of %d)" % len(BUGS), *totals))
    return "\n".join(rows) + "\n(yes/no: converged; /n: runs used)"


@pytest.fixture(scope="module")
def outcomes(agent, tmp_path_factory):
    if not os.access(BARE_PYTHON, os.X_OK):
        pytest.fail(f"{BARE_PYTHON} not found: the baseline needs Debian's python3.11")
    work_dir = tmp_path_factory.mktemp("bare")
    runners = {"full": _agent_runner(agent, "full"), "stderr": _agent_runner(agent, "stderr"),
               "bare": _bare_runner(work_dir)}
    out = {}
    for name, code, expected in BUGS:
        out[name] = {m: regen_fixer.converge(code, expected, runners[m], ROUNDS) for m in MODES}
    print("\n" + _table(out))
    return out


def test_bugs_are_many_and_fail_as_seeded(outcomes):
    """The seeds are real bugs: none prints the expected output unchanged, in any mode."""
    assert len(BUGS) >= 15
    first_try = [n for n, _, _ in BUGS if any(outcomes[n][m][1] == 1 and outcomes[n][m][0]
                                               for m in MODES)]
    assert not first_try, f"seeded programs that were right as written: {first_try}"


def test_full_response_converges_on_every_bug(outcomes):
    failed = [n for n, _, _ in BUGS if not outcomes[n]["full"][0]]
    detail = "".join(f"\n--- {n}: last program\n{outcomes[n]['full'][2]}" for n in failed)
    assert not failed, f"not converged from the full response: {failed}\n{_table(outcomes)}" \
        + detail


def test_stderr_alone_converges_as_often_as_bare_interpreter(outcomes):
    ours = sum(outcomes[n]["stderr"][0] for n, _, _ in BUGS)
    bare = sum(outcomes[n]["bare"][0] for n, _, _ in BUGS)
    assert ours >= bare, f"stderr alone {ours} < bare python3.11 {bare}\n{_table(outcomes)}"
