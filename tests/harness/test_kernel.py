"""harness.kernel (docs/kernels.md): IPython's `!command` found at statement level only, and
rewritten into a call that keeps every other line (and line numbers) as they were."""

import textwrap

from harness import kernel


def src(text):
    return textwrap.dedent(text).lstrip("\n")


def test_statement_level_lines_only():
    code = src("""
        !echo one
        x = 1 != 2
        s = '!not me'
        t = '''
        !inside a string
        '''
        y = [
        !inside brackets
        ]
        z = 1 + \\
        !continued
        if x:
            !echo indented  # a comment after
        # !a comment
        !echo two
        """)
    assert kernel.shell_lines(code) == [1, 13, 15]


def test_transform_keeps_other_lines():
    code = src("""
        a = 1
        !echo "it's" {a} > out.txt
        b = '!x'
        """)
    out = kernel.transform(code)
    lines = out.split("\n")
    assert lines[0] == "a = 1" and lines[2] == "b = '!x'"
    assert lines[1] == "%s(%r)" % (kernel.SHELL_NAME, 'echo "it\'s" {a} > out.txt')
    compile(out, "<cell>", "exec")
    assert kernel.transform("print(1)\n") == "print(1)\n"


def test_broken_source_is_left_to_the_compiler():
    code = "!echo a\nx = (\n!echo b\n"
    assert kernel.shell_lines(code) == [1]  # the unclosed bracket: b is inside it
    assert kernel.transform("!=\n") == "!=\n"
