"""Attacks: the agent's memory through what it keeps of each result. 1 MiB of b"\x01" on each
stream becomes 6 MiB of JSON per stream (\u0001), and a forged result frame of ~2 MiB holding a
list of a million zeros becomes a JSON tree many times that size; a kept history of such results,
listed with GET /executions, grew the agent by hundreds of MB.

Expected containment: the streams are kept once, raw and capped (--max-output-bytes), encoded
only in each reply; the frame's parts are kept as compact text; the kept results are bounded in
bytes (--history-bytes) and listings carry no output unless asked (?output=1). The agent's RSS
stays flat; status "completed" (the forged frame cannot change the outcome), exit code 0.
"""
import os

I = globals().get("input_data") or {}
size = int(I.get("stream_bytes", 1 << 20))
head = b"CONTAINED: writing %d bytes on each stream, \\x01 but this line\n" % size
for fd, data in ((1, head + b"\x01" * (size - len(head))), (2, b"\x01" * size)):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
# A valid frame: result is a list of ~a million small integers (just under the 2 MiB cap).
frame = b'{"result":[' + b"0," * 1000000 + b'0],"result_type":"list","debug_info":null}'
try:
    os.write(3, frame)
except OSError as e:
    print("result pipe: %s" % e)
os._exit(0)
