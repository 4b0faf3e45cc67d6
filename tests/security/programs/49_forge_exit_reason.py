"""Attacks: forging the outcome kind: a fake frame on fd 3 claiming the execution ran out of
memory (exit_reason "oom", error "MemoryError: ...") and then os._exit(3). A caller would
believe a limit was hit and, say, retry with more memory.

Expected containment: exit_reason reports what really happened (the process exited with 3:
"exited"); only the zygote's status record may say "oom", "timeout", "signaled",
"cancelled". exit_code 3, status "failed".
"""
import json
import os

fake = {"exit_code": 3, "error": "MemoryError: the execution ran out of memory (limit 1 MiB) and was killed",
        "error_type": "MemoryError", "exit_reason": "oom", "result": None, "result_type": None,
        "debug_info": None}
os.write(3, json.dumps(fake).encode())
os._exit(3)
