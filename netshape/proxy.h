/* proxy.h - the per-execution TCP/HTTP shaping proxy: Toxiproxy's toxics without Toxiproxy.
 *
 * A sandboxed program lives in an empty network namespace. When its execution asks for network,
 * the sandbox child creates listening TCP sockets on 127.0.0.1 inside that namespace and hands
 * them over a channel (SCM_RIGHTS) to this proxy, which runs in the host namespace: accepted
 * connections come from the program, outgoing ones leave from the host (a socket keeps the
 * namespace it was created in). The proxy never binds ports itself in agent use.
 *
 * One epoll thread does all the I/O (plus resolver threads for getaddrinfo); every function
 * here is thread-safe and may be called from any thread but the proxy's own. Sessions never
 * share state: each has its own configuration, counters, toxics and token buckets. The process
 * should ignore SIGPIPE (splice() into a reset socket can raise it; the proxy's threads block
 * every signal). docs/proxy.md has the toxics' exact semantics, the channel protocol and the
 * limits. */
#ifndef SANDPIT_PROXY_H
#define SANDPIT_PROXY_H

#include <stdint.h>

#include "err.h"

#define PROXY_ALLOW_MAX     64    /* allow-list entries per session */
#define PROXY_ALLOW_LEN     260   /* bytes per entry, NUL included */
#define PROXY_CONNS_DEFAULT 256   /* connections open at once per session, by default */
#define PROXY_CONNS_LIMIT   65536 /* the most a session may ask for */

/* Which traffic the per-chunk toxics (latency, jitter, bandwidth, slicer, limit_data) shape. */
enum proxy_dir {
    PROXY_DIR_DOWN = 0, /* server -> client (the default, as in Toxiproxy) */
    PROXY_DIR_UP,       /* client -> server */
    PROXY_DIR_BOTH,     /* both, each direction with its own state */
};

/* A session's configuration: plain data, copied at proxy_session_open. 0 turns a toxic off. */
struct proxy_conf {
    int latency_ms;                               /* added to every chunk */
    int jitter_ms;                                /* +- uniform around latency_ms */
    long bandwidth_kbps;                          /* kilobits/s per connection and direction */
    int timeout_ms;                               /* stall, then close at this time after accept */
    int reset_after_ms;                           /* RST both sides at this time after accept */
    int slice_bytes;                              /* forward in segments of this size ... */
    int slice_delay_ms;                           /* ... with this pause between them */
    long limit_data_bytes;                        /* close after this many bytes in a direction */
    enum proxy_dir direction;                     /* where the per-chunk toxics apply */
    char upstream_host[256];                      /* 'U' listeners forward here ("" = none) */
    int upstream_port;                            /* 0 = none */
    int max_connections;                          /* open at once; 0 = PROXY_CONNS_DEFAULT */
    int n_allow;                                  /* entries used in allow[] */
    char allow[PROXY_ALLOW_MAX][PROXY_ALLOW_LEN]; /* "host", "host:port", "*.suffix", "*" */
};

/* Per-session totals. */
struct proxy_counters {
    uint64_t bytes_up;    /* client -> server payload forwarded */
    uint64_t bytes_down;  /* server -> client payload forwarded */
    uint64_t connections; /* connections accepted from the program */
    uint64_t denied;      /* requests refused by the allow-list */
    uint64_t failed;      /* upstream resolve/connect failures (incl. the egress proxy's) */
};

struct proxy;

/* Starts the proxy thread. egress "host:port" (NULL or "" = none) makes every outgoing
 * connection a CONNECT through that HTTP proxy. protect: comma-separated "host[:port]" of our
 * own services (NULL or "" = none) that a wildcard allow-list entry never reaches, on top of
 * the special ranges and this host's own addresses (proxy_guard.h; the egress proxy is added
 * to them). New (free with proxy_free); NULL with e set. */
struct proxy *proxy_new(const char *egress, const char *protect, struct err *e);
/* Closes every session and stops the threads; NULL is fine. Not from the proxy's thread. */
void proxy_free(struct proxy *p);
/* Creates a session from conf and its channel: *child_fd (new, the caller owns it, O_CLOEXEC)
 * is the child's end of an AF_UNIX SOCK_SEQPACKET pair. 0, -EINVAL (bad conf), -errno. */
int proxy_session_open(struct proxy *p, const struct proxy_conf *conf, uint64_t *sid,
                       int *child_fd);
/* Child side: sends one listener (kind 'H' = HTTP proxy, 'U' = TCP forward to the upstream)
 * over chan_fd. Only sendmsg: safe in a forked child of a threaded process. 0 or -errno. */
int proxy_send_listener(int chan_fd, char kind, int listen_fd);
/* Adds a listener to a session directly. Takes ownership of listen_fd, even on failure.
 * 0, -ENOENT (no such session), -EINVAL (not a listening TCP socket, bad kind), -EMFILE. */
int proxy_session_add_listener(struct proxy *p, uint64_t sid, char kind, int listen_fd);
/* Copies the session's counters so far into *out. 0 or -ENOENT. */
int proxy_session_counters(struct proxy *p, uint64_t sid, struct proxy_counters *out);
/* Ends a session: when it returns, none of its fds is open. Fills *out (may be NULL) with the
 * final counters. 0 or -ENOENT. */
int proxy_session_close(struct proxy *p, uint64_t sid, struct proxy_counters *out);

#endif
