"""Attacks: a pure-Python busy loop that never ends.

Expected containment: the deadline set by the request kills it (status "timeout",
exit_reason "timeout"); output written before is kept.
"""
print("looping", flush=True)
while True:
    pass
