"""Attacks: the agent's own HTTP API reached through the proxy with an exact allowHosts entry
(run with allowHosts ["127.0.0.1"]): listing other executions, reading one, running code,
cancelling, metrics, with no token and with guessed ones.

Expected containment: the agent requires the orchestrator's shared secret: every route but
/health answers 401 (field X-Sandpit-Token) without it ("CONTAINED" for each); /health says
auth "token" and reveals no output.
"""
import json
import urllib.error
import urllib.request

I = globals().get("input_data") or {}
port = int(I.get("agent_port", 8001))
opener = urllib.request.build_opener(urllib.request.ProxyHandler(
    {"http": "http://127.0.0.1:3128"}))
base = "http://127.0.0.1:%d" % port
calls = [("GET", "/executions", None), ("GET", "/executions?limit=1000&output=1", None),
         ("GET", "/execution/00000000-0000-4000-8000-000000000000", None),
         ("POST", "/execute", {"code": "print('from inside')"}),
         ("DELETE", "/execution/00000000-0000-4000-8000-000000000000", None),
         ("GET", "/metrics", None), ("GET", "/", None)]
for method, path, body in calls:
    for token in (None, "guess", "0" * 64):
        req = urllib.request.Request(base + path, method=method,
                                     data=json.dumps(body).encode() if body else None)
        if token is not None:
            req.add_header("X-Sandpit-Token", token)
        try:
            with opener.open(req, timeout=10) as r:
                print("BREACH: %s %s (token %r) answered %d" % (method, path, token, r.status))
        except urllib.error.HTTPError as e:
            text = e.read(300).decode(errors="replace")
            ok = e.code == 401 and "X-Sandpit-Token" in text
            print("%s: %s %s (token %r): %d" % ("CONTAINED" if ok else "BREACH", method, path,
                                                token, e.code))
        except OSError as e:
            print("BREACH: %s %s: not answered by the agent: %s" % (method, path, e))
with opener.open(base + "/health", timeout=10) as r:
    h = json.loads(r.read())
print("health open, auth %s" % h.get("auth"))
print("done", flush=True)
