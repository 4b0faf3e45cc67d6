"""Attacks: a crash of the interpreter (NULL dereference through ctypes).

Expected containment: only the program dies: status "failed", exit_reason "signaled",
signal 11 (SIGSEGV); no core file (RLIMIT_CORE 0); the agent and zygote live.
"""
import ctypes

print("crashing", flush=True)
ctypes.string_at(0)
