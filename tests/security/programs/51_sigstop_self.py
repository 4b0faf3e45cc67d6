"""Attacks: stopping itself (SIGSTOP) and its whole process group, so that nothing runs and a
naive wait would hang.

Expected containment: the deadline still kills the stopped namespace: status "timeout".
"""
import os
import signal

print("stopping", flush=True)
os.kill(0, signal.SIGSTOP)
print("BREACH: resumed", flush=True)
