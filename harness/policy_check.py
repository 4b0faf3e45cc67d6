"""The restricted policy at compile time: check() finds every rule broken
in a program's AST; transform() inserts the run-time guards (format loads,
attribute writes, positional class patterns), with the match-pattern guard
(MatchGuard, vet_match_class) those patterns go through.
"""

import ast
import builtins

from .policy_rules import (
    DEFAULT_ALLOWED_IMPORTS, FORBIDDEN_NAMES, FORMAT_METHODS, PolicyViolation,
    attribute_problem, denied, import_hint, module_allowed, name_problem)

GETATTR_GUARD = "_sandpit_getattr_"
WRITE_GUARD = "_sandpit_write_"
MATCH_GUARD = "_sandpit_match_"

_real_getattr = builtins.getattr
_real_type = builtins.type


class _Checker:
    """Collects every violation in a tree, each located at its node.

    `found` holds (sort key, violation); the key orders by start, then end,
    so in `a.__x__.__y__` the inner (first evaluated) attribute comes first.
    """

    def __init__(self, allowed):
        self.allowed = allowed
        self.found = []

    def report(self, node, what, kind):
        key = (node.lineno, node.col_offset, node.end_lineno or 0, node.end_col_offset or 0)
        self.found.append((key, PolicyViolation(what, kind, node.lineno, node.col_offset + 1)))

    def name(self, node, name):
        problem = name and name_problem(name)
        if problem:
            self.report(node, problem, "builtin" if name in FORBIDDEN_NAMES else "name")

    def attribute(self, node, name):
        problem = attribute_problem(name)
        if problem:
            self.report(node, problem, "attribute")

    def module(self, node, name):
        if not module_allowed(name, self.allowed):
            self.report(node, "import of '%s' is not allowed" % name, "import")
            self.found[-1][1].hint = import_hint(self.allowed)

    def visit(self, node):
        kind = type(node)
        if kind is ast.Name:
            self.name(node, node.id)
        elif kind is ast.Attribute:
            self.attribute(node, node.attr)
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            self.name(node, node.name)
        elif kind is ast.arg:
            self.name(node, node.arg)
        elif kind is ast.keyword:
            self.name(node, node.arg)
        elif kind is ast.ExceptHandler:
            self.name(node, node.name)
        elif kind in (ast.Global, ast.Nonlocal):
            for name in node.names:
                self.name(node, name)
        elif kind in (ast.MatchAs, ast.MatchStar):
            self.name(node, node.name)
        elif kind is ast.MatchMapping:
            self.name(node, node.rest)
        elif kind is ast.MatchClass:
            for attr in node.kwd_attrs:
                self.attribute(node, attr)
                if attr in FORMAT_METHODS:  # pattern reads bypass the format guard
                    self.report(node, "attribute pattern '%s' is not allowed" % attr,
                                "attribute")
        elif kind is ast.Import:
            for alias in node.names:
                self.module(alias, alias.name)
                self.name(alias, alias.asname)
        elif kind is ast.ImportFrom:
            self.import_from(node)

    def import_from(self, node):
        if node.level:
            self.report(node, "relative imports are not allowed", "import")
            return
        self.module(node, node.module)
        for alias in node.names:
            if alias.name == "*":
                self.report(alias, "'from %s import *' is not allowed: import the names you use"
                            % node.module, "import")
                continue
            self.name(alias, alias.name)
            self.name(alias, alias.asname)
            full = "%s.%s" % (node.module, alias.name)
            if denied(full):
                self.report(alias, "import of '%s' is not allowed" % full, "import")


def _positional_class_patterns(pattern):
    """The class patterns with positional sub-patterns in a case pattern:
    each reads the attributes its class's __match_args__ names."""
    return [node for node in ast.walk(pattern)
            if isinstance(node, ast.MatchClass) and node.patterns]


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _class_body_matches(body):
    """Match statements run directly by a class body (not in its methods)."""
    pending = [node for node in body if not isinstance(node, _SCOPES)]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Match):
            yield node
        pending.extend(child for child in ast.iter_child_nodes(node)
                       if not isinstance(child, _SCOPES))


def check(tree, allowed=DEFAULT_ALLOWED_IMPORTS):
    """All policy violations in `tree`, in source order (empty when clean)."""
    checker = _Checker(tuple(allowed))
    for node in ast.walk(tree):
        checker.visit(node)
        if isinstance(node, ast.ClassDef):
            # the run-time vetting of positional patterns (transform) needs a
            # function scope: a class body's names are not visible to it
            for match in _class_body_matches(node.body):
                for case in match.cases:
                    for pattern in _positional_class_patterns(case.pattern):
                        checker.report(pattern, "positional class patterns are not allowed "
                                       "directly in a class body: use keyword patterns "
                                       "(C(x=v)) or match inside a method", "attribute")
    return [violation for _, violation in sorted(checker.found, key=lambda item: item[0])]


def _guard_call(guard, args, at):
    """`guard(*args)` as an AST call located at node `at` (for tracebacks)."""
    name = ast.copy_location(ast.Name(guard, ast.Load()), at)
    return ast.copy_location(ast.Call(name, args, []), at)


class _Rewriter(ast.NodeTransformer):
    """Routes `.format`/`.format_map` loads and attribute writes to guards,
    and the class of every positional class pattern through the match guard.

    `case C(p, q)` reads the attributes named by C.__match_args__, which no
    compile-time rule can see. It becomes
        __sandpit_match_N__ = _sandpit_match_(lambda: C, 2)   # before the match
        case __sandpit_match_N__.cls(p, q):
    where `.cls` evaluates C when the case is tried (as the pattern would)
    and vets the first two names of its __match_args__ as attributes.
    """

    def __init__(self):
        self.matches = 0

    def visit_Match(self, node):
        self.generic_visit(node)
        prelude = []
        for case in node.cases:
            for pattern in _positional_class_patterns(case.pattern):
                self.matches += 1
                name = "__sandpit_match_%d__" % self.matches
                at = pattern.cls
                thunk = ast.Lambda(ast.arguments([], [], None, [], [], None, []), at)
                count = ast.Constant(len(pattern.patterns))
                call = _guard_call(MATCH_GUARD, [ast.copy_location(thunk, at), count], at)
                target = ast.copy_location(ast.Name(name, ast.Store()), at)
                prelude.append(ast.copy_location(ast.Assign([target], call), node))
                pattern.cls = ast.copy_location(
                    ast.Attribute(ast.copy_location(ast.Name(name, ast.Load()), at), "cls",
                                  ast.Load()), at)
        return prelude + [node] if prelude else node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            if node.attr not in FORMAT_METHODS:
                return node
            method = ast.copy_location(ast.Constant(node.attr), node)
            return _guard_call(GETATTR_GUARD, [node.value, method], node)
        node.value = _guard_call(WRITE_GUARD, [node.value], node.value)
        return node


def transform(tree):
    """Insert the runtime guards into a checked tree (in place; returned)."""
    return ast.fix_missing_locations(_Rewriter().visit(tree))


def check_source(text, allowed=DEFAULT_ALLOWED_IMPORTS):
    """Violations in an expression string (empty if clean or unparsable)."""
    try:
        tree = ast.parse(text, "<string>", "eval")
    except (SyntaxError, ValueError):
        return []
    return check(tree, allowed)


def vet_match_class(cls, count):
    """Refuse a class pattern with `count` positional sub-patterns when the
    attributes it would read (the first `count` names of cls.__match_args__)
    break the attribute rules. Anything CPython itself rejects (not a class,
    __match_args__ not a tuple, too many patterns) is left to CPython."""
    if not isinstance(cls, _real_type):
        return
    for klass in _real_type.__getattribute__(_real_type(cls), "__mro__"):
        if "__match_args__" in _real_type.__getattribute__(klass, "__dict__"):
            raise PolicyViolation("class patterns on a class whose metaclass defines "
                                  "__match_args__ are not allowed", "attribute")
    try:
        names = _real_getattr(cls, "__match_args__")
    except AttributeError:
        return  # int(x), str(x)...: the subject itself, no attribute read
    if _real_type(names) is not tuple:
        return
    for name in names[:count]:
        if _real_type(name) is not str:
            raise PolicyViolation("class pattern: __match_args__ of '%s' holds a %s, not a "
                                  "plain str" % (cls.__name__, _real_type(name).__name__),
                                  "attribute")
        problem = attribute_problem(name)
        if problem:
            raise PolicyViolation("class pattern %s(...) reads %s" % (cls.__name__, problem),
                                  "attribute")


class MatchGuard:
    """`__sandpit_match_N__` of a rewritten class pattern (see _Rewriter):
    `.cls` is the pattern's class, vetted when the case is tried."""

    __slots__ = ("thunk", "count")

    def __init__(self, thunk, count):
        self.thunk = thunk
        self.count = count

    @property
    def cls(self):
        cls = self.thunk()
        vet_match_class(cls, self.count)
        return cls
