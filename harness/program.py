"""Turn submitted source into code objects, the way a notebook cell runs.

The source is parsed once; when its last statement is an expression, that
expression is compiled separately so its value can be returned as `result`.
Both halves come from the same AST, so every line number stays the one the
user wrote, and tracebacks name the file CODE_FILENAME. A session's cell N is
named cell_filename(N) instead: a function from an earlier cell keeps its own
source lines in later tracebacks. is_code_file() tells either from the rest.
"""

import ast
import linecache

CODE_FILENAME = "<code>"
_CELL_PREFIX = "<cell "


def cell_filename(number):
    """The file name of a session's cell `number` (1, 2, ...)."""
    return "%s%d>" % (_CELL_PREFIX, number)


def is_code_file(filename):
    """True for the submitted code's file names: CODE_FILENAME or a session cell's."""
    return filename == CODE_FILENAME or (
        type(filename) is str and filename.startswith(_CELL_PREFIX) and filename.endswith(">"))


class Program:
    """Parsed and compiled user code.

    `tree` is the (possibly policy-transformed) module AST, `body` the code
    object for every statement but a trailing expression, `tail` that
    expression's code object or None.
    """

    __slots__ = ("source", "tree", "body", "tail", "filename")

    def __init__(self, source, tree, body, tail, filename=CODE_FILENAME):
        self.filename = filename
        self.source = source
        self.tree = tree
        self.body = body
        self.tail = tail


def register_source(source, filename=CODE_FILENAME):
    """Make `source` visible to linecache under `filename`.

    Tracebacks, inspect.getsource and the debug report read lines through
    linecache; a None mtime keeps linecache.checkcache from evicting it.
    """
    lines = source.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[filename] = (len(source), None, lines, filename)


def source_line(lineno, filename=CODE_FILENAME):
    """Line `lineno` of the registered source, without its newline ("" if none)."""
    return linecache.getline(filename, lineno).rstrip("\n") if lineno else ""


def parse(source, filename=CODE_FILENAME):
    """Parse `source` as a module; raises SyntaxError like the compiler would."""
    return ast.parse(source, filename, "exec")


def compile_tree(source, tree, filename=CODE_FILENAME):
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
        body = compile(body_tree, filename, "exec", dont_inherit=True)
        tail = None
        if tail_node is not None:
            tail = compile(tail_node, filename, "eval", dont_inherit=True)
    except SyntaxError as exc:
        fill_syntax_error_text(exc, source)
        raise
    return Program(source, tree, body, tail, filename)


def fill_syntax_error_text(exc, source):
    """Give a SyntaxError about the submitted code its offending source line."""
    if exc.text is None and is_code_file(exc.filename) and exc.lineno:
        lines = source.splitlines()
        if 0 < exc.lineno <= len(lines):
            exc.text = lines[exc.lineno - 1] + "\n"
