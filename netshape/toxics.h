/* toxics.h - the pure half of the shaping proxy (see proxy.h and docs/proxy.md): the token
 * bucket, the latency/jitter schedule, the slicer, the HTTP proxy request-head parser and its
 * origin-form rewrite, the egress reply parser and allow-list matching.
 *
 * No I/O, no clock reads, no allocation, no globals: every time is passed in (CLOCK_MONOTONIC
 * nanoseconds) and randomness comes from an injected function, so unit tests and the fuzzer
 * drive all of it directly. Safe to call from any thread on distinct objects. */
#ifndef SANDPIT_TOXICS_H
#define SANDPIT_TOXICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TOXICS_HEAD_MAX  16384 /* request/reply head cap, bytes, blank line included (431) */
#define TOXICS_HOST_MAX  256   /* host buffer incl. NUL (a DNS name is at most 253) */
#define TOXICS_ENTRY_MAX 260   /* allow-list entry buffer incl. NUL */
/* Room for any rewrite of an accepted head: bare-LF lines become CRLF (at most x4/3) and the
 * Host and Connection lines are added. */
#define TOXICS_REWRITE_MAX (2 * TOXICS_HEAD_MAX + 512)

/* -- token bucket (bandwidth) -------------------------------------------------------------- */

struct toxics_bucket {
    int64_t rate;    /* bytes per second; 0 = unlimited */
    int64_t burst;   /* bucket size, bytes */
    int64_t tokens;  /* bytes * 1e9 held now (nano-byte resolution, no drift) */
    int64_t last_ns; /* time of the last refill */
};

/* Starts a full bucket for bytes_per_s (0 = unlimited) at now_ns; the burst is 20 ms of
 * traffic (at least 256 bytes), so the rate holds over any window longer than that. */
void toxics_bucket_init(struct toxics_bucket *b, int64_t bytes_per_s, int64_t now_ns);
/* Bytes that may be sent now, at most want. Returns 0 (with *wake_ns = when enough tokens for
 * min(want, burst) will be there) rather than dribbling out tiny pieces. */
size_t toxics_bucket_avail(struct toxics_bucket *b, size_t want, int64_t now_ns, int64_t *wake_ns);
/* Takes n sent bytes out of the bucket (n at most what toxics_bucket_avail returned). */
void toxics_bucket_consume(struct toxics_bucket *b, size_t n);

/* -- latency and jitter --------------------------------------------------------------------- */

/* Returns 64 random bits; ctx is the caller's state. */
typedef uint64_t (*toxics_rng_fn)(void *ctx);

struct toxics_sched {
    int64_t latency_ns;  /* added to every chunk */
    int64_t jitter_ns;   /* +- uniform spread around latency_ns */
    int64_t last_due_ns; /* due time of the previous chunk (order is kept) */
    toxics_rng_fn rng;   /* randomness for the jitter */
    void *rng_ctx;       /* its state (borrowed) */
};

/* splitmix64 over *(uint64_t *)state: the default toxics_rng_fn. */
uint64_t toxics_rng_splitmix(void *state);
/* Sets up a schedule; rng (with rng_ctx) is only called when jitter_ms > 0. */
void toxics_sched_init(struct toxics_sched *s, int latency_ms, int jitter_ms, toxics_rng_fn rng,
                       void *rng_ctx);
/* Due time of a chunk that arrived at arrival_ns: arrival + latency + uniform(-jitter,
 * +jitter), never before its arrival nor before the previous chunk's due time. */
int64_t toxics_sched_due(struct toxics_sched *s, int64_t arrival_ns);

/* -- slicer --------------------------------------------------------------------------------- */

struct toxics_slicer {
    size_t size;      /* segment size, bytes; 0 = off */
    int64_t delay_ns; /* pause between segments */
    size_t left;      /* bytes still allowed in the current segment */
    int64_t next_ns;  /* earliest start of the next segment */
};

/* Sets up a slicer: segments of slice_bytes with delay_ms between them (0 bytes = off). */
void toxics_slicer_init(struct toxics_slicer *s, int slice_bytes, int delay_ms);
/* Bytes allowed now (SIZE_MAX when off); 0 with *wake_ns set while between segments. */
size_t toxics_slicer_avail(struct toxics_slicer *s, int64_t now_ns, int64_t *wake_ns);
/* Records n bytes sent at now_ns; finishing a segment starts the pause. */
void toxics_slicer_consume(struct toxics_slicer *s, size_t n, int64_t now_ns);

/* -- HTTP proxy request head ---------------------------------------------------------------- */

enum toxics_head_kind {
    TOXICS_HEAD_FORWARD = 1, /* METHOD http://host[:port]/path HTTP/1.x */
    TOXICS_HEAD_CONNECT,     /* CONNECT host:port HTTP/1.x */
};

struct toxics_head {
    enum toxics_head_kind kind; /* which form */
    char host[TOXICS_HOST_MAX]; /* lower-cased, without IPv6 brackets */
    int port;                   /* 1..65535 (80 when a URL gives none) */
    int http_minor;             /* the x of HTTP/1.x */
    size_t head_len;            /* bytes of the head, blank line included */
    size_t method_len;          /* the method is buf[0, method_len) */
    size_t path_off, path_len;  /* FORWARD: path and query within buf (0 length = "/") */
    size_t headers_off;         /* first header line within buf */
};

/* Parses a proxy request head at the start of buf (which may hold body bytes after it).
 * Returns 0 with h filled; -EAGAIN when the head is not complete yet; -E2BIG when no head ends
 * within TOXICS_HEAD_MAX bytes (431); -EINVAL for anything else (400) with *why set to a
 * static one-line reason (origin-form, https:// URLs, bad syntax). */
int toxics_head_parse(const char *buf, size_t len, struct toxics_head *h, const char **why);
/* Writes the origin-form head for a parsed FORWARD head: "METHOD /path HTTP/1.x", the request's
 * headers minus Host, Proxy-Connection, Proxy-Authorization, Connection and Keep-Alive, then
 * "Host: <the URL's authority>" and "Connection: close". Returns its length or -ENOBUFS. */
long toxics_head_rewrite(const char *buf, const struct toxics_head *h, char *out, size_t size);
/* Parses "host[:port]" / "[v6][:port]" of n bytes into host (lower-cased, no brackets) and
 * *port (default_port when absent; -1 = a port is required). 0 or -EINVAL. */
int toxics_hostport_parse(const char *s, size_t n, char *host, size_t host_size, int *port,
                          int default_port);
/* Parses the status line of a reply head ("HTTP/1.x NNN ..." up to the blank line), e.g. an
 * egress proxy's answer to CONNECT: 0 with *status and *head_len; -EAGAIN; -E2BIG; -EINVAL. */
int toxics_reply_parse(const char *buf, size_t len, int *status, size_t *head_len);

/* -- allow-list ----------------------------------------------------------------------------- */

enum toxics_allow {
    TOXICS_DENY = 0,       /* the entry does not match */
    TOXICS_ALLOW_EXACT,    /* a named host (or address) matched: any address it resolves to */
    TOXICS_ALLOW_WILDCARD, /* "*" or "*.suffix" matched: public addresses only */
};

/* True when entry is a well-formed allow-list entry: "host", "host:port", "*.suffix[:port]",
 * "*[:port]", "[v6][:port]" or a bare IPv6 address. */
bool toxics_allow_is_valid(const char *entry);
/* Matches one entry against a destination (host as toxics_head_parse gives it; case and one
 * trailing dot are ignored, IPv6 addresses compare by value). */
enum toxics_allow toxics_allow_match(const char *entry, const char *host, int port);
/* What makes an address one a wildcard entry must not reach, or NULL for a public address:
 * unspecified, loopback, private (RFC 1918), carrier-grade NAT, link-local (cloud metadata
 * lives there), unique-local, site-local, multicast, broadcast/reserved, benchmarking,
 * documentation and IETF special ranges. IPv6 forms that carry an IPv4 address (IPv4-mapped,
 * NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that IPv4 address. A static string. */
const char *toxics_addr_internal_why(const struct sockaddr *sa);
/* toxics_addr_internal_why(sa) != NULL. */
bool toxics_addr_is_internal(const struct sockaddr *sa);

#endif
