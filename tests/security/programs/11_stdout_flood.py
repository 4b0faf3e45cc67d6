"""Attacks: an endless stdout flood (print in a loop).

Expected containment: the agent keeps at most max_output_bytes of stdout, ends it with
"<output cut>" and sets truncated/stdout_truncated; its memory stays bounded; the deadline
stops the program (status "timeout", or "failed" if the program dies on the closed pipe).
"""
line = "flood " * 20
while True:
    print(line)
