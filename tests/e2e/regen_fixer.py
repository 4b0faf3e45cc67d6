"""A scripted fixer for the regeneration-loop test (test_regen_loop.py; docs/regen.md).

It stands in for a model that repairs its program from what an execution answered. It is
deterministic and generic: every edit is chosen from the error's type, its line, the name at
fault and the suggestions found in the feedback, never from the text of a particular program.
Where a suggestion comes from is the point of the test, so the fixer invents none: names come
from CPython's "Did you mean" in stderr, from our hints, or from the variables and locals the
response shows; an import comes from a hint; a timeout is only mended at a line the feedback
names. `Feedback` is built either from a whole ExecutionResult or from stderr alone.
"""
import ast
import builtins
import difflib
import re
from dataclasses import dataclass, field

# debug_info keys that hold definitions or data, not where the code failed or was stopped.
_NOT_LOCATIONS = {"functions_defined", "classes_defined", "variables_after", "trace",
                  "detailed_trace", "resources", "imports", "hints"}
# keys under which a report may list variables by name.
_VARIABLE_KEYS = {"variables_after", "locals", "variables", "frame_locals", "f_locals"}

# What a model knows of a missing package's common API in an installed one: used only when
# the feedback names that installed module as doing the job. Keyed on (module, name).
_SHIMS = {
    ("sklearn", "LinearRegression"): ("numpy", '''\
import numpy
class {alias}:  # least squares with numpy in place of sklearn's
    def fit(self, X, y):
        X = numpy.asarray(X, dtype=float).reshape(len(X), -1)
        A = numpy.column_stack([X, numpy.ones(len(X))])
        sol = numpy.linalg.lstsq(A, numpy.asarray(y, dtype=float), rcond=None)[0]
        self.coef_, self.intercept_ = sol[:-1], sol[-1]
        return self
    def predict(self, X):
        return numpy.asarray(X, dtype=float).reshape(len(X), -1) @ self.coef_ + self.intercept_'''),
    ("sklearn", "mean_squared_error"): ("numpy", '''\
import numpy
def {alias}(y_true, y_pred):  # numpy in place of sklearn's
    return float(numpy.mean((numpy.asarray(y_true) - numpy.asarray(y_pred)) ** 2))'''),
}

_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*): ?(.*)$")
_FRAME_LINE = re.compile(r'^\s*File "(<[^"]*>)", line (\d+)')
_DID_YOU_MEAN = re.compile(r"Did you mean:? '([\w.]+)'\?")
_FORGOT_IMPORT = re.compile(r"Did you forget to import '(\w+)'\?")
_BACKTICKS = re.compile(r"`([^`]+)`")
_QUOTED = re.compile(r"'([^']+)'")


@dataclass
class Feedback:
    """What the fixer knows about one failed run."""
    error_type: str = ""
    message: str = ""
    lines: list = field(default_factory=list)        # located lines, innermost first
    did_you_mean: list = field(default_factory=list)  # CPython's own suggestions
    suggestions: list = field(default_factory=list)  # names CPython or a hint proposed
    imports: list = field(default_factory=list)      # import statements a hint proposed
    hints: list = field(default_factory=list)
    known_names: list = field(default_factory=list)  # variables, locals, columns, keys


def _add(seq, item):
    if item is not None and item not in seq:
        seq.append(item)


def feedback_from_stderr(stderr):
    """Feedback from the text of stderr only (our stderr, or a bare interpreter's)."""
    fb = Feedback()
    lines = (stderr or "").splitlines()
    for ln in lines:
        m = _ERROR_LINE.match(ln)
        if m and not ln.startswith(" "):
            fb.error_type, fb.message = m.group(1).rsplit(".", 1)[-1], m.group(2)
    frames = [int(m.group(2)) for m in map(_FRAME_LINE.match, lines) if m]
    for n in reversed(frames):
        _add(fb.lines, n)
    if not frames:  # e.g. a one-line timeout summary: "... line 5 ..."
        for m in re.finditer(r"\bline (\d+)|<code>:(\d+)", stderr or ""):
            _add(fb.lines, int(m.group(1) or m.group(2)))
    for m in _DID_YOU_MEAN.finditer(stderr or ""):
        _add(fb.did_you_mean, m.group(1).rsplit(".", 1)[-1])
        _add(fb.suggestions, m.group(1).rsplit(".", 1)[-1])
    for m in _FORGOT_IMPORT.finditer(stderr or ""):
        _add(fb.imports, "import " + m.group(1))
    if not fb.error_type and re.search(r"timed? ?out", stderr or "", re.I):
        fb.error_type = "TimeoutError"
    return fb


def _walk(node):
    """Yields (key, value) for every dict entry below node, depth first, traces left out."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            if k not in ("trace", "detailed_trace"):
                yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _locations(debug_info):
    """Line numbers where the run failed or was stopped, innermost first."""
    out = []
    for exc in debug_info.get("exceptions") or []:
        _add(out, exc.get("lineno"))
        for fr in reversed(exc.get("traceback") or []):
            _add(out, fr.get("lineno"))
    for k, v in debug_info.items():  # e.g. the frames running at a timeout
        if k in _NOT_LOCATIONS or k == "exceptions":
            continue
        frames = [d for _, d in _walk({k: v}) if isinstance(d, dict)]
        for d in reversed(frames):
            if isinstance(d.get("lineno"), int):
                _add(out, d["lineno"])
    return [n for n in out if isinstance(n, int)]


def _names_of(description):
    """Names a variable's description shows besides its own: columns, dict keys."""
    out = []
    if isinstance(description, dict):
        for c in description.get("columns") or []:
            _add(out, str(c))
        if isinstance(description.get("value"), dict):
            for c in description["value"]:
                _add(out, str(c))
    return out


def feedback_from_response(res):
    """Feedback from a whole ExecutionResult: stderr, error, error_type, debug_info."""
    fb = feedback_from_stderr(res.get("stderr") or "")
    error = res.get("error") or ""
    if res.get("error_type"):
        fb.error_type = res["error_type"]
    if error.startswith(fb.error_type + ":"):
        fb.message = re.sub(r" \(line \d+\)$", "", error[len(fb.error_type) + 1:].strip())
    if res.get("status") == "timeout" or res.get("exit_reason") == "timeout":
        fb.error_type = "TimeoutError"
    di = res.get("debug_info") or {}
    excs = di.get("exceptions") or []
    if excs and excs[0].get("message") is not None and fb.error_type != "TimeoutError":
        fb.message = excs[0]["message"]
    located = _locations(di)
    fb.lines = located + [n for n in fb.lines if n not in located]
    m = re.search(r"\(line (\d+)\)$", error)
    if m:
        _add(fb.lines, int(m.group(1)))
    fb.hints = [h for h in di.get("hints") or [] if isinstance(h, str)]
    for h in fb.hints:
        for snippet in _BACKTICKS.findall(h):
            if re.match(r"(import|from) \w", snippet):
                _add(fb.imports, snippet)
            elif snippet.isidentifier():
                _add(fb.suggestions, snippet)
    for k, v in _walk(di):
        if k not in _VARIABLE_KEYS:
            continue
        if isinstance(v, list):  # [{name, repr...}] rather than {name: description}
            v = {d["name"]: d for d in v if isinstance(d, dict) and isinstance(d.get("name"), str)}
        for name, desc in (v.items() if isinstance(v, dict) else ()):
            _add(fb.known_names, name)
            for n in _names_of(desc):
                _add(fb.known_names, n)
    return fb


# -- edits ---------------------------------------------------------------------------------

def _closest(name, fb):
    """The suggestion, else the known name, closest to name (None when none is close)."""
    for pool in (fb.suggestions, fb.known_names):
        cands = [c for c in pool if c != name]
        best = difflib.get_close_matches(name, cands, n=1, cutoff=0.6)
        if best:
            return best[0]
    return None


def _replace_on_lines(code, lines, pattern, repl):
    """Applies a regex substitution to the first located line where it matches."""
    src = code.split("\n")
    for n in lines:
        if 1 <= n <= len(src):
            new = re.sub(pattern, repl, src[n - 1])
            if new != src[n - 1]:
                src[n - 1] = new
                return "\n".join(src)
    return None


def _splice(code, edits):
    """Replaces (lineno, col, end_lineno, end_col, text) spans of code, last first; columns
    are the AST's, in UTF-8 bytes."""
    src = code.split("\n")
    for ln, col, eln, ecol, text in sorted(edits, reverse=True):
        head = src[ln - 1].encode()[:col].decode()
        tail = src[eln - 1].encode()[ecol:].decode()
        src[ln - 1:eln] = (head + text + tail).split("\n")
    return "\n".join(src)


def _seg(code, node):
    return ast.get_source_segment(code, node)


def _nodes_on(code, lines, kind):
    """AST nodes of a kind that sit on the first located line holding any (innermost first)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    for n in lines:
        found = [x for x in ast.walk(tree) if isinstance(x, kind)
                 and getattr(x, "lineno", None) == n]
        if found:
            return sorted(found, key=lambda x: x.col_offset, reverse=True)
    return []


def _span(node, text):
    return (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, text)


def _fix_name(code, fb, name):
    binding = [i for i in fb.imports if re.search(r"(import|as) " + re.escape(name) + r"\b", i)]
    if binding:
        return binding[0] + "\n" + code
    better = _closest(name, fb)
    if better:
        return _replace_on_lines(code, fb.lines, r"(?<![\w.'\"])" + re.escape(name) + r"\b",
                                 better)
    return None


def _attr_snippets(fb, attr, obj_type):
    """(snippet, its leading `.name` or bare name) of the hints about attr, in their order."""
    out = []
    for hint in [h for h in fb.hints if attr in h]:
        for snippet in _BACKTICKS.findall(hint):
            s = snippet.strip()
            m = re.match(r"^[\w\]\)'\"]*\.(\w+)", s) or re.fullmatch(r"(\w+)(\(.*\))?", s)
            name = m.group(1) if m else None
            if s not in (attr, obj_type) and name != attr:
                out.append((s, name))
    return out


def _spell_python(code, fb, attr, snippets):
    """An attribute from another language (`s.contains(x)`, `s.length`) rewritten as a hint's
    expression proposes: a membership test or a builtin call."""
    calls = _nodes_on(code, fb.lines, ast.Call)
    attrs = _nodes_on(code, fb.lines, ast.Attribute)
    for s, _ in snippets:
        if re.search(r"\S \bin\b \S", s):  # `sub in text`
            for c in calls:
                if isinstance(c.func, ast.Attribute) and c.func.attr == attr and c.args:
                    return _splice(code, [_span(c, "(%s in %s)" % (
                        _seg(code, c.args[0]), _seg(code, c.func.value)))])
        f = re.fullmatch(r"(\w+)\(.*\)", s)
        if f and callable(getattr(builtins, f.group(1), None)):  # `len(s)`
            for c in calls:  # `s.length()` as a call goes whole
                if isinstance(c.func, ast.Attribute) and c.func.attr == attr and not c.args:
                    return _splice(code, [_span(c, "%s(%s)" % (
                        f.group(1), _seg(code, c.func.value)))])
            for a in attrs:
                if a.attr == attr:
                    return _splice(code, [_span(a, "%s(%s)" % (f.group(1),
                                                               _seg(code, a.value)))])
    return None


def _fix_attribute(code, fb):
    """CPython's suggestion, else a hint's Python spelling, else the closest name, else the
    first method a hint about the attribute names."""
    m = re.search(r"has no attribute '(\w+)'", fb.message)
    if not m or "'NoneType'" in fb.message:
        return None
    attr = m.group(1)
    t = re.match(r"(?:module )?'([\w.]+)'", fb.message)
    snippets = _attr_snippets(fb, attr, t.group(1) if t else "")
    name = (difflib.get_close_matches(attr, fb.did_you_mean, n=1, cutoff=0) or [None])[0]
    if not name:
        new = _spell_python(code, fb, attr, snippets)
        if new:
            return new
        methods = [n for _, n in snippets if n and n.isidentifier()]
        name = _closest(attr, fb) or (methods[0] if methods else None)
    if not name:
        return None
    return _replace_on_lines(code, fb.lines, r"\." + attr + r"\b", "." + name)


def _fix_key(code, fb):
    keys = []
    for k in [fb.message] + [q for h in fb.hints for q in _QUOTED.findall(h)]:
        k = k.strip("'\"")
        _add(keys, k)
        if ": " in k:  # pandas: 'Column not found: revenu'
            _add(keys, k.rsplit(": ", 1)[1])
    for k in keys:
        better = _closest(k, fb)
        if better:
            new = _replace_on_lines(code, fb.lines, r"(['\"])" + re.escape(k) + r"\1",
                                    lambda mm, b=better: mm.group(1) + b + mm.group(1))
            if new:
                return new
    return None


def _is_text(node):
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in ("str", "repr", "format")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_text(node.left) or _is_text(node.right)
    return False


def _fix_concat(code, fb):
    """str + number: the number goes through str()."""
    if "str" not in fb.message or ("+" not in fb.message and "concatenate" not in fb.message):
        return None
    edits = []
    for op in _nodes_on(code, fb.lines, ast.BinOp):
        if not isinstance(op.op, ast.Add):
            continue
        for a, b in ((op.left, op.right), (op.right, op.left)):
            if _is_text(a) and not _is_text(b) and not isinstance(b, ast.BinOp):
                edits.append(_span(b, "str(%s)" % _seg(code, b)))
    return _splice(code, set(edits)) if edits else None


def _fix_zero_division(code, fb):
    """a / b on the line: 0 when b is falsy (an empty list's length)."""
    for op in _nodes_on(code, fb.lines, ast.BinOp):
        if isinstance(op.op, (ast.Div, ast.FloorDiv, ast.Mod)):
            return _splice(code, [_span(op, "(%s if %s else 0)" % (
                _seg(code, op), _seg(code, op.right)))])
    return None


def _fix_index(code, fb):
    """One past the end: `[len(x)]` or a `range(..., len(x) + 1)` of an enclosing loop."""
    src = code.split("\n")
    for n in fb.lines:
        if not 1 <= n <= len(src):
            continue
        indent = len(src[n - 1]) - len(src[n - 1].lstrip())
        cands = [n]
        for k in range(n - 1, 0, -1):  # the for headers around line n
            s = src[k - 1]
            ind = len(s) - len(s.lstrip())
            if s.strip() and ind < indent:
                indent = ind
                if s.lstrip().startswith("for "):
                    cands.append(k)
        new = (_replace_on_lines(code, cands, r"\[len\((\w+)\)\]", r"[len(\1) - 1]")
               or _replace_on_lines(code, cands, r"len\(([\w.]+)\)\s*\+\s*1\b", r"len(\1)"))
        if new:
            return new
    return None


_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def _fix_syntax(code, fb):
    src = code.split("\n")
    n = fb.lines[0] if fb.lines else 0
    if not 1 <= n <= len(src):
        return None
    line, msg = src[n - 1], fb.message
    indent = len(line) - len(line.lstrip())
    if "expected ':'" in msg:
        src[n - 1] = line.rstrip() + ":"
    elif re.search(r"'(.)' was never closed", msg):
        src[n - 1] = line.rstrip() + _CLOSERS.get(re.search(r"'(.)'", msg).group(1), "")
    elif re.match(r"unmatched '(.)'", msg):
        ch = re.match(r"unmatched '(.)'", msg).group(1)
        i = line.rfind(ch)
        src[n - 1] = line[:i] + line[i + 1:]
    elif re.search(r"expected an indented block after .* on line (\d+)", msg):
        h = src[int(re.search(r"on line (\d+)", msg).group(1)) - 1]
        src[n - 1] = " " * (len(h) - len(h.lstrip()) + 4) + line.lstrip()
    elif "unexpected indent" in msg or "unindent does not match" in msg:
        prev = next((s for s in reversed(src[:n - 1]) if s.strip()), "")
        want = len(prev) - len(prev.lstrip())
        if want >= indent and "unindent" not in msg:
            return None
        src[n - 1] = " " * want + line.lstrip()
    else:
        return None
    return "\n".join(src)


def _fix_module(code, fb):
    """A missing module replaced by what the feedback names as installed and doing its job."""
    m = re.search(r"No module named '([\w.]+)'", fb.message)
    if not m:
        return None
    top = m.group(1).split(".")[0]
    about = "\n".join([fb.message] + fb.hints) if any(top in h for h in fb.hints) else ""
    for node in _nodes_on(code, fb.lines, (ast.Import, ast.ImportFrom)):
        mod = getattr(node, "module", None) or node.names[0].name
        if mod.split(".")[0] != top or not isinstance(node, ast.ImportFrom):
            continue
        shims = [_SHIMS.get((top, a.name)) for a in node.names]
        if all(s and re.search(r"\b%s\b" % s[0], about) for s in shims):
            text = "\n".join(s[1].format(alias=a.asname or a.name)
                             for s, a in zip(shims, node.names))
            return _splice(code, [_span(node, text)])
    return None


def _fix_timeout(code, fb):
    """A while loop at a located line whose condition's variable never changes in its body."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    for n in fb.lines:
        loops = [w for w in ast.walk(tree) if isinstance(w, ast.While)
                 and w.lineno <= n <= w.end_lineno]
        for w in sorted(loops, key=lambda w: w.lineno, reverse=True):
            t = w.test
            if not (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name)
                    and len(t.ops) == 1):
                continue
            var = t.left.id
            stored = [x for s in w.body for x in ast.walk(s)
                      if isinstance(x, ast.Name) and x.id == var
                      and isinstance(x.ctx, ast.Store)]
            step = {ast.Lt: "+=", ast.LtE: "+=", ast.Gt: "-=", ast.GtE: "-="}.get(type(t.ops[0]))
            if stored or not step:
                continue
            last = w.body[-1]
            src = code.split("\n")
            src.insert(last.end_lineno, " " * w.body[0].col_offset + "%s %s 1" % (var, step))
            return "\n".join(src)
    return None


def fix(code, fb):
    """The program edited after one failed run, or None when the feedback suggests nothing."""
    t = fb.error_type
    name = re.search(r"(?:name|local variable) '(\w+)'", fb.message)
    if t in ("NameError", "UnboundLocalError") and name:
        new = _fix_name(code, fb, name.group(1))
    elif t == "AttributeError":
        new = _fix_attribute(code, fb)
    elif t == "KeyError":
        new = _fix_key(code, fb)
    elif t == "TypeError":
        new = _fix_concat(code, fb)
    elif t == "ZeroDivisionError":
        new = _fix_zero_division(code, fb)
    elif t == "IndexError":
        new = _fix_index(code, fb)
    elif t in ("SyntaxError", "IndentationError", "TabError"):
        new = _fix_syntax(code, fb)
    elif t in ("ModuleNotFoundError", "ImportError"):
        new = _fix_module(code, fb)
    elif t == "TimeoutError":
        new = _fix_timeout(code, fb)
    else:
        new = None
    return new if new != code else None


def converge(code, expected, run, rounds=3):
    """Runs, fixes and re-runs at most `rounds` times.

    run(code) -> (ok, stdout, feedback). Returns (converged, runs, last code)."""
    for attempt in range(rounds + 1):
        ok, stdout, fb = run(code)
        if ok and stdout == expected:
            return True, attempt + 1, code
        new = fix(code, fb) if attempt < rounds else None
        if new is None:
            return False, attempt + 1, code
        code = new
    return False, rounds + 1, code
