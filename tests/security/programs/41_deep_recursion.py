"""Attacks: unbounded recursion with the recursion limit lifted, so the C stack overflows.

Expected containment: RecursionError, or a crash of the program only (SIGSEGV: status
"failed", exit_reason "signaled"); the agent and zygote are unaffected.
"""
import sys

sys.setrecursionlimit(10 ** 8)


def down():
    # each level goes through C (list, map) and back: the C stack grows, not just the heap
    return list(map(lambda _: down(), [0]))


down()
