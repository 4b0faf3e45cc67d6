"""Attacks: raw device access: /dev/mem, /dev/kmem, /dev/port, the disks (/dev/vda, /dev/sda,
/dev/nvme0n1), /dev/kmsg (read the kernel log / write into it), /dev/tty, /dev/console;
mknod of a memory and a disk device node in the working directory.

Expected containment: open fails (EACCES/EPERM/ENOENT/ENXIO); mknod fails with EPERM (no
CAP_MKNOD); even a node would be useless on the nodev tmpfs.
"""
import errno
import os
import stat

for p, mode in (("/dev/mem", os.O_RDONLY), ("/dev/kmem", os.O_RDONLY), ("/dev/port", os.O_RDONLY),
                ("/dev/vda", os.O_RDONLY), ("/dev/vda", os.O_WRONLY), ("/dev/sda", os.O_RDONLY),
                ("/dev/nvme0n1", os.O_RDONLY), ("/dev/kmsg", os.O_WRONLY), ("/dev/console", os.O_WRONLY),
                ("/dev/tty", os.O_RDWR), ("/dev/tty0", os.O_WRONLY), ("/dev/loop-control", os.O_RDWR),
                ("/dev/fuse", os.O_RDWR), ("/dev/net/tun", os.O_RDWR), ("/dev/kvm", os.O_RDWR),
                ("/dev/vsock", os.O_RDWR)):
    try:
        fd = os.open(p, mode)
    except OSError as e:
        print("CONTAINED: open %s: %s" % (p, errno.errorcode.get(e.errno)))
    else:
        os.close(fd)
        print("BREACH: opened %s" % p)
for name, kind, dev in (("mem", stat.S_IFCHR, os.makedev(1, 1)), ("disk", stat.S_IFBLK, os.makedev(254, 0)),
                        ("kmsg", stat.S_IFCHR, os.makedev(1, 11))):
    try:
        os.mknod(name, kind | 0o666, dev)
    except OSError as e:
        print("CONTAINED: mknod %s: %s" % (name, errno.errorcode.get(e.errno)))
    else:
        print("BREACH: mknod %s created" % name)
print("done", flush=True)
