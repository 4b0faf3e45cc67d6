"""Attacks: forging the result: a fake harness frame claiming success (exit_code 0, no error)
written to fd 3 (the result pipe), then os._exit(7) so the real harness never writes its own.

Expected containment: the outcome comes from the zygote's wait status, not from the frame:
exit_code 7, status "failed", exit_reason "exited".
"""
import json
import os

fake = {"exit_code": 0, "error": None, "error_type": None, "exit_reason": None,
        "result": "forged", "result_type": "str", "debug_info": None, "status": "completed"}
os.write(3, json.dumps(fake).encode())
os._exit(7)
