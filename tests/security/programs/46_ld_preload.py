"""Attacks: LD_PRELOAD given in the request's `env`, pointing at a shared object the code
itself writes (bytes in input_data, built by the test with gcc): a hijack of every dynamic
executable started afterwards.

Expected containment: the preload can only affect the execution's own subprocesses (its
constructor prints "PRELOAD-HIJACK" there, which is allowed); the agent, the zygote and later
executions never see it (the test runs a second execution and checks the host processes'
environments).
"""
import base64
import os
import subprocess

I = globals().get("input_data") or {}
path = os.environ.get("LD_PRELOAD", "")
so = I.get("preload_so_b64")
if path and so:
    with open(path, "wb") as f:
        f.write(base64.b64decode(so))
    print("wrote", path, flush=True)
r = subprocess.run(["/bin/echo", "child ran"], capture_output=True, text=True)
print("child:", (r.stdout + r.stderr).strip(), flush=True)
