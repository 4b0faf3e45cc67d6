"""Attacks: predictable randomness across executions forked from one zygote: prints what the
random module, numpy's global generator, uuid4, tempfile's names, os.urandom and str hashing
give in this execution, so that a test can compare two executions (another tenant's "random"
tokens or temp names would be predictable if they repeated).

Expected containment: random, numpy.random, uuid4, tempfile names and os.urandom differ
between executions (each is re-seeded after the fork or reads the kernel); str hashes repeat
within one zygote's life (documented in docs/harness.md: the hash secret cannot be changed
after the zygote's dicts exist). Alone, the program only reports.
"""
import json
import os
import random
import tempfile
import uuid

out = {"random": random.random(), "randbytes": random.getrandbits(64), "uuid4": str(uuid.uuid4()),
       "tempfile": os.path.basename(tempfile.mktemp()), "urandom": os.urandom(8).hex(),
       "hash": hash("abc")}
try:
    import numpy
    out["numpy"] = float(numpy.random.random())
except ImportError:
    out["numpy"] = None
print("RNG " + json.dumps(out), flush=True)
