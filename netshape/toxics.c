/* toxics.c - token bucket, latency schedule, slicer, proxy head parsing and allow-list matching
 * (see toxics.h). Pure functions over caller-owned memory: no I/O, no clock, no allocation. */
#include "toxics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TOXICS_NS_PER_S  1000000000LL
#define TOXICS_NS_PER_MS 1000000LL

/* -- token bucket --------------------------------------------------------------------------- */

void toxics_bucket_init(struct toxics_bucket *b, int64_t bytes_per_s, int64_t now_ns)
{
    b->rate = bytes_per_s > 0 ? bytes_per_s : 0;
    b->burst = b->rate / 50 > 256 ? b->rate / 50 : 256;
    b->tokens = b->burst * TOXICS_NS_PER_S;
    b->last_ns = now_ns;
}

/* Adds the tokens earned since the last refill, up to the burst. */
static void toxics_bucket_refill(struct toxics_bucket *b, int64_t now_ns)
{
    int64_t full = b->burst * TOXICS_NS_PER_S, dt = now_ns - b->last_ns;

    if (dt <= 0)
        return;
    b->last_ns = now_ns;
    /* Compare times before multiplying: a long idle gap times the rate would overflow. */
    if (dt >= (full - b->tokens) / b->rate + 1)
        b->tokens = full;
    else
        b->tokens += dt * b->rate;
}

size_t toxics_bucket_avail(struct toxics_bucket *b, size_t want, int64_t now_ns, int64_t *wake_ns)
{
    int64_t have, need;

    if (b->rate == 0 || want == 0)
        return want;
    toxics_bucket_refill(b, now_ns);
    have = b->tokens / TOXICS_NS_PER_S;
    need = (int64_t)want < b->burst ? (int64_t)want : b->burst;
    if (have >= need)
        return (int64_t)want < have ? want : (size_t)have;
    *wake_ns = now_ns + (need * TOXICS_NS_PER_S - b->tokens + b->rate - 1) / b->rate;
    return 0;
}

void toxics_bucket_consume(struct toxics_bucket *b, size_t n)
{
    if (b->rate == 0)
        return;
    b->tokens -= (int64_t)n * TOXICS_NS_PER_S;
    if (b->tokens < 0)
        b->tokens = 0;
}

/* -- latency and jitter --------------------------------------------------------------------- */

uint64_t toxics_rng_splitmix(void *state)
{
    uint64_t *s = state, z;

    z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void toxics_sched_init(struct toxics_sched *s, int latency_ms, int jitter_ms, toxics_rng_fn rng,
                       void *rng_ctx)
{
    s->latency_ns = latency_ms > 0 ? latency_ms * TOXICS_NS_PER_MS : 0;
    s->jitter_ns = jitter_ms > 0 ? jitter_ms * TOXICS_NS_PER_MS : 0;
    s->last_due_ns = 0;
    s->rng = rng;
    s->rng_ctx = rng_ctx;
}

int64_t toxics_sched_due(struct toxics_sched *s, int64_t arrival_ns)
{
    int64_t due = arrival_ns + s->latency_ns;

    if (s->jitter_ns > 0 && s->rng) {
        uint64_t span = 2 * (uint64_t)s->jitter_ns + 1;

        due += (int64_t)(s->rng(s->rng_ctx) % span) - s->jitter_ns;
    }
    if (due < arrival_ns)
        due = arrival_ns;
    if (due < s->last_due_ns)
        due = s->last_due_ns;
    s->last_due_ns = due;
    return due;
}

/* -- slicer --------------------------------------------------------------------------------- */

void toxics_slicer_init(struct toxics_slicer *s, int slice_bytes, int delay_ms)
{
    s->size = slice_bytes > 0 ? (size_t)slice_bytes : 0;
    s->delay_ns = delay_ms > 0 ? delay_ms * TOXICS_NS_PER_MS : 0;
    s->left = 0;
    s->next_ns = 0;
}

size_t toxics_slicer_avail(struct toxics_slicer *s, int64_t now_ns, int64_t *wake_ns)
{
    if (s->size == 0)
        return SIZE_MAX;
    if (s->left > 0)
        return s->left;
    if (now_ns < s->next_ns) {
        *wake_ns = s->next_ns;
        return 0;
    }
    s->left = s->size;
    return s->left;
}

void toxics_slicer_consume(struct toxics_slicer *s, size_t n, int64_t now_ns)
{
    if (s->size == 0)
        return;
    s->left = n < s->left ? s->left - n : 0;
    if (s->left == 0)
        s->next_ns = now_ns + s->delay_ns;
}

/* -- HTTP head ------------------------------------------------------------------------------ */

/* RFC 9110 tchar. */
static bool toxics_is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Characters of a DNS name or IPv4 literal as we accept them. */
static bool toxics_is_hostchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '.' || c == '_';
}

/* Offset just past the blank line that ends a head within buf[0, len), or 0 when none. Lines
 * end in CRLF or a bare LF. */
static size_t toxics_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Length of the line starting at buf[off] (before CRLF/LF) and the offset of the next one. */
static size_t toxics_line(const char *buf, size_t end, size_t off, size_t *next)
{
    const char *lf = memchr(buf + off, '\n', end - off);
    size_t n = lf ? (size_t)(lf - (buf + off)) : end - off;

    *next = off + n + (lf ? 1 : 0);
    if (n > 0 && buf[off + n - 1] == '\r')
        n--;
    return n;
}

static int toxics_port_parse(const char *s, size_t n, int *port)
{
    long v = 0;

    if (n == 0 || n > 5)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -EINVAL;
    *port = (int)v;
    return 0;
}

int toxics_hostport_parse(const char *s, size_t n, char *host, size_t host_size, int *port,
                          int default_port)
{
    const char *hs = s, *rest;
    size_t hn;
    char v6[64];
    struct in6_addr a6;

    if (n == 0)
        return -EINVAL;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);

        if (!close)
            return -EINVAL;
        hs = s + 1;
        hn = (size_t)(close - hs);
        if (hn < 2 || hn >= sizeof(v6))
            return -EINVAL;
        memcpy(v6, hs, hn);
        v6[hn] = '\0';
        if (inet_pton(AF_INET6, v6, &a6) != 1)
            return -EINVAL;
        rest = close + 1;
    } else {
        const char *colon = memchr(s, ':', n);

        hn = colon ? (size_t)(colon - s) : n;
        if (hn == 0)
            return -EINVAL;
        for (size_t i = 0; i < hn; i++) {
            if (!toxics_is_hostchar((unsigned char)s[i]))
                return -EINVAL;
        }
        rest = s + hn;
    }
    if (hn + 1 > host_size || hn > TOXICS_HOST_MAX - 3)
        return -EINVAL;
    if (rest == s + n) {
        if (default_port < 0)
            return -EINVAL;
        *port = default_port;
    } else if (*rest != ':' || toxics_port_parse(rest + 1, (size_t)(s + n - rest - 1), port) < 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < hn; i++)
        host[i] = (char)((hs[i] >= 'A' && hs[i] <= 'Z') ? hs[i] + 32 : hs[i]);
    host[hn] = '\0';
    return 0;
}

/* Checks every header line of buf[off, end): "name: value", name a token, no obs-fold, no
 * control bytes but HT. */
static int toxics_headers_check(const char *buf, size_t off, size_t end, const char **why)
{
    while (off < end) {
        size_t next, n = toxics_line(buf, end, off, &next);
        const char *line = buf + off, *colon;

        if (n == 0)
            break; /* the blank line */
        if (line[0] == ' ' || line[0] == '\t') {
            *why = "folded header lines are not accepted";
            return -EINVAL;
        }
        colon = memchr(line, ':', n);
        if (!colon || colon == line) {
            *why = "a header line has no name";
            return -EINVAL;
        }
        for (const char *c = line; c < colon; c++) {
            if (!toxics_is_tchar((unsigned char)*c)) {
                *why = "a header name holds a character not allowed there";
                return -EINVAL;
            }
        }
        for (const char *c = colon + 1; c < line + n; c++) {
            unsigned char u = (unsigned char)*c;

            if ((u < 0x20 && u != '\t') || u == 0x7f) {
                *why = "a header value holds a control character";
                return -EINVAL;
            }
        }
        off = next;
    }
    return 0;
}

int toxics_head_parse(const char *buf, size_t len, struct toxics_head *h, const char **why)
{
    static const char http_v[] = "HTTP/1.";
    size_t end, next, n, sp1, sp2, tlen;
    const char *line, *target, *ver;

    memset(h, 0, sizeof(*h));
    *why = "";
    /* Refuse what cannot become a request (e.g. a TLS ClientHello) without waiting for more. */
    for (size_t i = 0; i < len && buf[i] != ' '; i++) {
        if (i >= 32 || !toxics_is_tchar((unsigned char)buf[i]))
            goto bad_line;
    }
    end = toxics_head_end(buf, len < TOXICS_HEAD_MAX ? len : TOXICS_HEAD_MAX);
    if (end == 0) {
        if (len >= TOXICS_HEAD_MAX) {
            *why = "the request head is larger than 16 KiB";
            return -E2BIG;
        }
        return -EAGAIN;
    }
    if (memchr(buf, '\0', end)) {
        *why = "the request head holds a NUL byte";
        return -EINVAL;
    }
    h->head_len = end;
    line = buf;
    n = toxics_line(buf, end, 0, &next);
    h->headers_off = next;
    for (sp1 = 0; sp1 < n && line[sp1] != ' '; sp1++) {
        if (!toxics_is_tchar((unsigned char)line[sp1]))
            goto bad_line;
    }
    if (sp1 == 0 || sp1 >= n || sp1 > 32)
        goto bad_line;
    for (sp2 = sp1 + 1; sp2 < n && line[sp2] != ' '; sp2++) {
        unsigned char c = (unsigned char)line[sp2];

        if (c <= 0x20 || c == 0x7f)
            goto bad_line;
    }
    if (sp2 == sp1 + 1 || sp2 >= n)
        goto bad_line;
    ver = line + sp2 + 1;
    if (n - sp2 - 1 != sizeof(http_v) || memcmp(ver, http_v, sizeof(http_v) - 1) != 0 ||
        (ver[7] != '0' && ver[7] != '1'))
        goto bad_line;
    h->http_minor = ver[7] - '0';
    h->method_len = sp1;
    target = line + sp1 + 1;
    tlen = sp2 - sp1 - 1;

    if (sp1 == 7 && !memcmp(line, "CONNECT", 7)) {
        h->kind = TOXICS_HEAD_CONNECT;
        if (toxics_hostport_parse(target, tlen, h->host, sizeof(h->host), &h->port, -1) < 0) {
            *why = "CONNECT needs host:port";
            return -EINVAL;
        }
    } else if (tlen > 7 && !strncasecmp(target, "http://", 7)) {
        const char *auth = target + 7, *stop = auth;

        while (stop < target + tlen && *stop != '/' && *stop != '?' && *stop != '#')
            stop++;
        if (memchr(auth, '@', (size_t)(stop - auth))) {
            *why = "credentials in the URL are not supported";
            return -EINVAL;
        }
        if (toxics_hostport_parse(auth, (size_t)(stop - auth), h->host, sizeof(h->host), &h->port,
                                  80) < 0) {
            *why = "the URL's host[:port] is not valid";
            return -EINVAL;
        }
        h->kind = TOXICS_HEAD_FORWARD;
        h->path_off = (size_t)(stop - buf);
        {
            const char *hash = memchr(stop, '#', (size_t)(target + tlen - stop));

            h->path_len = (size_t)((hash ? hash : target + tlen) - stop);
        }
    } else if (tlen >= 8 && !strncasecmp(target, "https://", 8)) {
        *why = "https:// URLs go through CONNECT (set HTTPS_PROXY to this proxy)";
        return -EINVAL;
    } else if (target[0] == '/' || target[0] == '*') {
        *why = "this is a proxy: send the absolute URL (GET http://host/path) or CONNECT";
        return -EINVAL;
    } else {
        goto bad_line;
    }
    return toxics_headers_check(buf, h->headers_off, end, why);

bad_line:
    *why = "the request line is not METHOD TARGET HTTP/1.x";
    return -EINVAL;
}

/* True when the header line starts with name followed by ':' (case-insensitive). */
static bool toxics_is_header(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);

    return n > k && line[k] == ':' && !strncasecmp(line, name, k);
}

/* Appends n bytes at *pos; false when out is full. */
static bool toxics_put(char *out, size_t size, size_t *pos, const char *s, size_t n)
{
    if (n > size - *pos)
        return false;
    memcpy(out + *pos, s, n);
    *pos += n;
    return true;
}

long toxics_head_rewrite(const char *buf, const struct toxics_head *h, char *out, size_t size)
{
    static const char *const drop[] = {"host", "proxy-connection", "proxy-authorization",
                                       "connection", "keep-alive"};
    char tail[TOXICS_HOST_MAX + 64], ver[16];
    const char *path = buf + h->path_off;
    size_t pos = 0, off = h->headers_off;
    bool v6 = strchr(h->host, ':') != NULL;
    int n;

    if (h->kind != TOXICS_HEAD_FORWARD)
        return -EINVAL;
    if (!toxics_put(out, size, &pos, buf, h->method_len) || !toxics_put(out, size, &pos, " ", 1))
        return -ENOBUFS;
    if ((h->path_len == 0 || path[0] == '?') && !toxics_put(out, size, &pos, "/", 1))
        return -ENOBUFS;
    n = snprintf(ver, sizeof(ver), " HTTP/1.%d\r\n", h->http_minor);
    if (!toxics_put(out, size, &pos, path, h->path_len) ||
        !toxics_put(out, size, &pos, ver, (size_t)n))
        return -ENOBUFS;
    while (off < h->head_len) {
        size_t next, len = toxics_line(buf, h->head_len, off, &next);
        bool skip = false;

        if (len == 0)
            break;
        for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
            skip = skip || toxics_is_header(buf + off, len, drop[i]);
        if (!skip && (!toxics_put(out, size, &pos, buf + off, len) ||
                      !toxics_put(out, size, &pos, "\r\n", 2)))
            return -ENOBUFS;
        off = next;
    }
    /* RFC 9112 3.2.2: a proxy replaces Host with the target URI's authority. */
    if (h->port == 80)
        n = snprintf(tail, sizeof(tail), "Host: %s%s%s\r\nConnection: close\r\n\r\n", v6 ? "[" : "",
                     h->host, v6 ? "]" : "");
    else
        n = snprintf(tail, sizeof(tail), "Host: %s%s%s:%d\r\nConnection: close\r\n\r\n",
                     v6 ? "[" : "", h->host, v6 ? "]" : "", h->port);
    if (n < 0 || (size_t)n >= sizeof(tail) || !toxics_put(out, size, &pos, tail, (size_t)n))
        return -ENOBUFS;
    return (long)pos;
}

int toxics_reply_parse(const char *buf, size_t len, int *status, size_t *head_len)
{
    size_t end = toxics_head_end(buf, len < TOXICS_HEAD_MAX ? len : TOXICS_HEAD_MAX), next, n;

    if (end == 0)
        return len >= TOXICS_HEAD_MAX ? -E2BIG : -EAGAIN;
    n = toxics_line(buf, end, 0, &next);
    if (n < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
        buf[8] != ' ' || (n > 12 && buf[12] != ' '))
        return -EINVAL;
    *status = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -EINVAL;
        *status = *status * 10 + (buf[i] - '0');
    }
    *head_len = end;
    return 0;
}

/* -- allow-list ----------------------------------------------------------------------------- */

enum toxics_entry_kind { TOXICS_ENTRY_HOST, TOXICS_ENTRY_ANY, TOXICS_ENTRY_SUFFIX };

/* Splits an entry into its kind, host part (lower-cased; the suffix for "*.x") and port
 * (0 = any). 0 or -EINVAL. */
static int toxics_entry_split(const char *entry, enum toxics_entry_kind *kind, char *host,
                              size_t host_size, int *port)
{
    size_t n = strnlen(entry, TOXICS_ENTRY_MAX), colons = 0;
    struct in6_addr a6;

    if (n == 0 || n >= TOXICS_ENTRY_MAX)
        return -EINVAL;
    *port = 0;
    if (entry[0] == '*') {
        if (n == 1 || entry[1] == ':') {
            *kind = TOXICS_ENTRY_ANY;
            host[0] = '\0';
            return n == 1 ? 0 : toxics_port_parse(entry + 2, n - 2, port);
        }
        if (entry[1] != '.' || n < 3 || entry[2] == '[')
            return -EINVAL;
        *kind = TOXICS_ENTRY_SUFFIX;
        return toxics_hostport_parse(entry + 2, n - 2, host, host_size, port, 0);
    }
    *kind = TOXICS_ENTRY_HOST;
    for (size_t i = 0; i < n; i++)
        colons += entry[i] == ':';
    if (entry[0] != '[' && colons > 1) {
        /* A bare IPv6 address: any port. */
        if (n >= host_size || inet_pton(AF_INET6, entry, &a6) != 1)
            return -EINVAL;
        for (size_t i = 0; i <= n; i++)
            host[i] = (char)((entry[i] >= 'A' && entry[i] <= 'Z') ? entry[i] + 32 : entry[i]);
        return 0;
    }
    return toxics_hostport_parse(entry, n, host, host_size, port, 0);
}

bool toxics_allow_is_valid(const char *entry)
{
    enum toxics_entry_kind kind;
    char host[TOXICS_HOST_MAX];
    int port;

    return toxics_entry_split(entry, &kind, host, sizeof(host), &port) == 0;
}

/* Length of s without one trailing dot (an absolute DNS name is the same name). */
static size_t toxics_name_len(const char *s)
{
    size_t n = strlen(s);

    return n > 1 && s[n - 1] == '.' ? n - 1 : n;
}

enum toxics_allow toxics_allow_match(const char *entry, const char *host, int port)
{
    enum toxics_entry_kind kind;
    char ehost[TOXICS_HOST_MAX];
    struct in6_addr a, b;
    size_t hn, en;
    int eport;

    if (toxics_entry_split(entry, &kind, ehost, sizeof(ehost), &eport) < 0)
        return TOXICS_DENY;
    if (eport != 0 && eport != port)
        return TOXICS_DENY;
    if (kind == TOXICS_ENTRY_ANY)
        return TOXICS_ALLOW_WILDCARD;
    hn = toxics_name_len(host);
    en = toxics_name_len(ehost);
    if (kind == TOXICS_ENTRY_SUFFIX) {
        if (hn > en + 1 && host[hn - en - 1] == '.' && !strncasecmp(host + hn - en, ehost, en))
            return TOXICS_ALLOW_WILDCARD;
        return TOXICS_DENY;
    }
    if (strchr(host, ':') && strchr(ehost, ':'))
        return inet_pton(AF_INET6, host, &a) == 1 && inet_pton(AF_INET6, ehost, &b) == 1 &&
                       !memcmp(&a, &b, sizeof(a))
                   ? TOXICS_ALLOW_EXACT
                   : TOXICS_DENY;
    return hn == en && !strncasecmp(host, ehost, hn) ? TOXICS_ALLOW_EXACT : TOXICS_DENY;
}

/* Ranges a wildcard entry never reaches (IANA special-purpose registries, RFC 6890 and later):
 * prefix bits of a network-order address. */
struct toxics_range {
    sa_family_t family;
    uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
    int bits;         /* prefix length */
    const char *what; /* for the 403 message */
};

#define V4(a, b, c, d)                                                                             \
    {                                                                                              \
        a, b, c, d                                                                                 \
    }
static const struct toxics_range toxics_ranges[] = {
    {AF_INET, V4(0, 0, 0, 0), 8, "unspecified/this-network (0/8)"},
    {AF_INET, V4(10, 0, 0, 0), 8, "private (10/8)"},
    {AF_INET, V4(100, 64, 0, 0), 10, "carrier-grade NAT (100.64/10)"},
    {AF_INET, V4(127, 0, 0, 0), 8, "loopback (127/8)"},
    {AF_INET, V4(169, 254, 0, 0), 16, "link-local (169.254/16)"},
    {AF_INET, V4(172, 16, 0, 0), 12, "private (172.16/12)"},
    {AF_INET, V4(192, 0, 0, 0), 24, "IETF protocol assignments (192.0.0/24)"},
    {AF_INET, V4(192, 0, 2, 0), 24, "documentation (192.0.2/24)"},
    {AF_INET, V4(192, 88, 99, 0), 24, "6to4 relay anycast (192.88.99/24)"},
    {AF_INET, V4(192, 168, 0, 0), 16, "private (192.168/16)"},
    {AF_INET, V4(198, 18, 0, 0), 15, "benchmarking (198.18/15)"},
    {AF_INET, V4(198, 51, 100, 0), 24, "documentation (198.51.100/24)"},
    {AF_INET, V4(203, 0, 113, 0), 24, "documentation (203.0.113/24)"},
    {AF_INET, V4(224, 0, 0, 0), 4, "multicast (224/4)"},
    {AF_INET, V4(240, 0, 0, 0), 4, "reserved/broadcast (240/4)"},
    {AF_INET6, {0}, 128, "unspecified (::)"},
    {AF_INET6, {[15] = 1}, 128, "loopback (::1)"},
    {AF_INET6, {0}, 96, "IPv4-compatible (::/96)"},
    {AF_INET6, {0x01, 0x00}, 64, "discard-only (100::/64)"},
    {AF_INET6, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "local NAT64 (64:ff9b:1::/48)"},
    {AF_INET6, {0x20, 0x01, 0x0d, 0xb8}, 32, "documentation (2001:db8::/32)"},
    {AF_INET6, {0x20, 0x01}, 23, "IETF protocol assignments, Teredo (2001::/23)"},
    {AF_INET6, {0x3f, 0xff}, 20, "documentation (3fff::/20)"},
    {AF_INET6, {0xfc}, 7, "unique local (fc00::/7)"},
    {AF_INET6, {0xfe, 0x80}, 10, "link-local (fe80::/10)"},
    {AF_INET6, {0xfe, 0xc0}, 10, "site-local (fec0::/10)"},
    {AF_INET6, {0xff}, 8, "multicast (ff00::/8)"},
};
#undef V4

/* True when the first bits of a and prefix (network order) agree. */
static bool toxics_prefix_eq(const uint8_t *a, const uint8_t *prefix, int bits)
{
    int whole = bits / 8, rest = bits % 8;

    if (memcmp(a, prefix, (size_t)whole) != 0)
        return false;
    return rest == 0 || ((a[whole] ^ prefix[whole]) & (0xff << (8 - rest))) == 0;
}

static const char *toxics_range_of(sa_family_t family, const uint8_t *a)
{
    for (size_t i = 0; i < sizeof(toxics_ranges) / sizeof(toxics_ranges[0]); i++) {
        const struct toxics_range *r = &toxics_ranges[i];

        if (r->family == family && toxics_prefix_eq(a, r->addr, r->bits))
            return r->what;
    }
    return NULL;
}

const char *toxics_addr_internal_why(const struct sockaddr *sa)
{
    const uint8_t *a6;
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};

    if (sa->sa_family == AF_INET)
        return toxics_range_of(AF_INET,
                               (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family != AF_INET6)
        return "not an IP address";
    a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    /* Addresses that carry an IPv4 address reach it (mapped, NAT64, 6to4): judge that. */
    if (!memcmp(a6, mapped, sizeof(mapped)) || !memcmp(a6, nat64, sizeof(nat64)))
        return toxics_range_of(AF_INET, a6 + 12);
    if (a6[0] == 0x20 && a6[1] == 0x02)
        return toxics_range_of(AF_INET, a6 + 2);
    return toxics_range_of(AF_INET6, a6);
}

bool toxics_addr_is_internal(const struct sockaddr *sa)
{
    return toxics_addr_internal_why(sa) != NULL;
}
