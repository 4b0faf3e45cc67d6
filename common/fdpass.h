/* fdpass.h - one datagram with file descriptors attached (SCM_RIGHTS), both ways: the agent
 * hands pipes to the zygote, the zygote to a child, a child its listeners to the proxy. */
#ifndef SANDPIT_FDPASS_H
#define SANDPIT_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define FDPASS_MAX 8 /* descriptors in one message */

/* Sends len bytes with nfds (<= FDPASS_MAX) descriptors (borrowed: still the caller's to
 * close). Retries EINTR; never raises SIGPIPE. Returns 0 or -errno. */
int fdpass_send(int sock, const void *msg, size_t len, const int *fds, int nfds);

/* Receives one datagram into buf (size bytes); every descriptor that came along is received
 * close-on-exec into fds (room for max), and any beyond max is closed. flags go to recvmsg
 * (MSG_DONTWAIT, ...). Returns the bytes received (0 = EOF) with *nfds set, or -errno;
 * -EMSGSIZE when the datagram or its descriptors were cut (those received are closed). */
ssize_t fdpass_recv(int sock, void *buf, size_t size, int *fds, int max, int *nfds, int flags);

#endif
