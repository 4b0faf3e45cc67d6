"""Turn submitted source into code objects, the way a notebook cell runs.

The source is parsed once; when its last statement is an expression, that
expression is compiled separately so its value can be returned as `result`.
Both halves come from the same AST, so every line number stays the one the
user wrote, and tracebacks name the file CODE_FILENAME.
"""

import ast
import linecache

CODE_FILENAME = "<code>"


class Program:
    """Parsed and compiled user code.

    `tree` is the (possibly policy-transformed) module AST, `body` the code
    object for every statement but a trailing expression, `tail` that
    expression's code object or None.
    """

    __slots__ = ("source", "tree", "body", "tail")

    def __init__(self, source, tree, body, tail):
        self.source = source
        self.tree = tree
        self.body = body
        self.tail = tail


def register_source(source):
    """Make `source` visible to linecache under CODE_FILENAME.

    Tracebacks, inspect.getsource and the debug report read lines through
    linecache; a None mtime keeps linecache.checkcache from evicting it.
    """
    lines = source.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[CODE_FILENAME] = (len(source), None, lines, CODE_FILENAME)


def source_line(lineno):
    """Line `lineno` of the registered source, without its newline ("" if none)."""
    return linecache.getline(CODE_FILENAME, lineno).rstrip("\n") if lineno else ""


def parse(source):
    """Parse `source` as a module; raises SyntaxError like the compiler would."""
    return ast.parse(source, CODE_FILENAME, "exec")


def compile_tree(source, tree):
    """Compile a module AST into a Program, splitting off a trailing expression.

    Errors the compiler only finds on the AST ('return' outside function,
    nonlocal at module level...) come without source text; it is filled in
    so they print like any other SyntaxError.
    """
    statements = tree.body
    tail_node = None
    if statements and isinstance(statements[-1], ast.Expr):
        tail_node = ast.Expression(statements[-1].value)
        statements = statements[:-1]
    body_tree = ast.Module(statements, tree.type_ignores)
    try:
        body = compile(body_tree, CODE_FILENAME, "exec", dont_inherit=True)
        tail = None
        if tail_node is not None:
            tail = compile(tail_node, CODE_FILENAME, "eval", dont_inherit=True)
    except SyntaxError as exc:
        fill_syntax_error_text(exc, source)
        raise
    return Program(source, tree, body, tail)


def fill_syntax_error_text(exc, source):
    """Give a SyntaxError about CODE_FILENAME its offending source line."""
    if exc.text is None and exc.filename == CODE_FILENAME and exc.lineno:
        lines = source.splitlines()
        if 0 < exc.lineno <= len(lines):
            exc.text = lines[exc.lineno - 1] + "\n"
