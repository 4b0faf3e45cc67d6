"""Attacks: the outside network: TCP to 1.1.1.1:53 and 8.8.8.8:443, UDP to 1.1.1.1:53, a raw
AF_PACKET socket, netlink (to reconfigure interfaces), and socketpair-free AF_VSOCK.

Expected containment: no network: inet sockets exist but the namespace has only its loopback
(ENETUNREACH); packet, netlink and vsock sockets fail with EAFNOSUPPORT (seccomp); raw ICMP
needs a capability the execution has not (EPERM); nothing is sent.
"""
import errno
import socket

attempts = [("tcp 1.1.1.1:53", socket.AF_INET, socket.SOCK_STREAM, ("1.1.1.1", 53)),
            ("tcp 8.8.8.8:443", socket.AF_INET, socket.SOCK_STREAM, ("8.8.8.8", 443)),
            ("udp 1.1.1.1:53", socket.AF_INET, socket.SOCK_DGRAM, ("1.1.1.1", 53)),
            ("tcp6 2606:4700:4700::1111", socket.AF_INET6, socket.SOCK_STREAM, ("2606:4700:4700::1111", 53))]
for what, fam, typ, addr in attempts:
    try:
        s = socket.socket(fam, typ)
        s.settimeout(2)
        if typ == socket.SOCK_DGRAM:
            s.sendto(b"\x00" * 12, addr)
            print("BREACH: %s: datagram sent" % what)
        else:
            s.connect(addr)
            print("BREACH: %s connected" % what)
    except OSError as e:
        print("CONTAINED: %s: %s" % (what, errno.errorcode.get(e.errno, e)))
for what, fam, typ, proto in (("AF_PACKET raw", 17, socket.SOCK_RAW, 0x0300),
                              ("AF_NETLINK route", 16, socket.SOCK_RAW, 0),
                              ("AF_VSOCK", 40, socket.SOCK_STREAM, 0),
                              ("raw ICMP", socket.AF_INET, socket.SOCK_RAW, 1)):
    try:
        socket.socket(fam, typ, proto)
        print("BREACH: %s socket created" % what)
    except OSError as e:
        print("CONTAINED: %s: %s" % (what, errno.errorcode.get(e.errno, e)))
print("done", flush=True)
