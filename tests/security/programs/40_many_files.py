"""Attacks: file-descriptor exhaustion (opening 100000 files) and raising the open-files
limit; then 20000 files created in the working directory.

Expected containment: open fails with EMFILE at RLIMIT_NOFILE; raising the hard limit fails
(ValueError / EPERM); status "completed".
"""
import errno
import os
import resource

fds = []
try:
    for i in range(100000):
        fds.append(os.open("/dev/null", os.O_RDONLY))
    print("BREACH: 100000 fds open")
except OSError as e:
    print("CONTAINED: %s after %d fds" % (errno.errorcode.get(e.errno), len(fds)))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard * 4, hard * 4))
    print("BREACH: RLIMIT_NOFILE raised above %d" % hard)
except (ValueError, OSError) as e:
    print("CONTAINED: raise RLIMIT_NOFILE: %s" % e)
for fd in fds:
    os.close(fd)
n = 0
try:
    for n in range(20000):
        open("f%05d" % n, "w").close()
    n += 1
except OSError as e:
    print("files stopped at %d: %s" % (n, e))
print("created %d files" % n, flush=True)
