/* proxy_http.c - the HTTP side of a connection (see proxy_http.h). */
#include "proxy_http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "proxy_conn.h"
#include "toxics.h"

#define PROXY_EGRESS_MAX 4096 /* an egress proxy's reply head */

/* "host:port", with brackets for IPv6, for messages. */
void proxy_http_hostport(char *out, size_t size, const char *host, int port)
{
    bool v6 = strchr(host, ':') != NULL;

    snprintf(out, size, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* Answers an HTTP proxy client with a short text/plain error and closes it. */
void proxy_http_reply(struct proxy *p, struct proxy_conn *c, int status, const char *tag,
                      const char *fmt, ...)
{
    const char *text = status == 400   ? "Bad Request"
                       : status == 403 ? "Forbidden"
                       : status == 431 ? "Request Header Fields Too Large"
                       : status == 504 ? "Gateway Timeout"
                                       : "Bad Gateway";
    char body[512], msg[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(body))
        n = (int)sizeof(body) - 1;
    n = snprintf(msg, sizeof(msg),
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                 "Connection: close\r\nX-Sandpit-Proxy: %s\r\n\r\n%s",
                 status, text, n, tag, body);
    if (n > 0 && c->fd[PROXY_CLIENT] >= 0)
        (void)!send(c->fd[PROXY_CLIENT], msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1,
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    proxy_conn_end(p, c, false);
}

/* Sends the 403 for a destination the allow-list refuses. */
static void proxy_http_deny(struct proxy *p, struct proxy_conn *c, const char *why)
{
    char hp[TOXICS_HOST_MAX + 16];

    c->s->c.denied++;
    proxy_http_hostport(hp, sizeof(hp), c->host, c->port);
    log_debug("proxy session %llu: denied '%s'", (unsigned long long)c->s->id, hp);
    proxy_http_reply(p, c, 403, "denied", "sandpit proxy: %s %s\n", hp, why);
}

/* Wildcard entries reach public addresses only: both the literal-address check before resolving
 * and the filter after it refuse with this one message; what names the range. */
void proxy_http_deny_internal(struct proxy *p, struct proxy_conn *c, const char *verb,
                              const char *what)
{
    char why[256];

    snprintf(why, sizeof(why),
             "%s an internal address (%s), which only an exact allowHosts entry may reach", verb,
             what);
    proxy_http_deny(p, c, why);
}

/* Judges the destination against the allow-list and the upstream. */
static void proxy_http_check(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    const struct proxy_conf *cf = &c->s->conf;
    enum toxics_allow best = TOXICS_DENY;

    if (cf->upstream_port && c->port == cf->upstream_port &&
        toxics_allow_match(cf->upstream_host, c->host, c->port) == TOXICS_ALLOW_EXACT)
        best = TOXICS_ALLOW_EXACT;
    for (int i = 0; i < cf->n_allow && best != TOXICS_ALLOW_EXACT; i++) {
        enum toxics_allow a = toxics_allow_match(cf->allow[i], c->host, c->port);

        if (a > best)
            best = a;
    }
    if (best == TOXICS_DENY) {
        proxy_http_deny(p, c, "is not in allowHosts");
        return;
    }
    c->wildcard = best == TOXICS_ALLOW_WILDCARD;
    if (c->wildcard && proxy_guard_name(&p->guard, c->host, c->port)) {
        proxy_http_deny_internal(p, c, "is", "one of sandpit's own services");
        return;
    }
    if (c->wildcard && proxy_conn_numeric(c, c->host, c->port)) {
        const char *what = proxy_guard_addr_why(&p->guard, (const struct sockaddr *)&c->addr[0]);

        if (what) {
            proxy_http_deny_internal(p, c, "is", what);
            return;
        }
    }
    proxy_conn_resolve(p, c, now);
}

/* HEAD: reads the request head, answers errors, or moves on to connecting. */
void proxy_http_head(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    const char *why = "";
    ssize_t n =
        recv(c->fd[PROXY_CLIENT], c->buf + c->buf_len, TOXICS_HEAD_MAX - c->buf_len, MSG_DONTWAIT);
    int r;

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        proxy_conn_end(p, c, n < 0);
        return;
    }
    if (n < 0)
        return;
    c->buf_len += (size_t)n;
    r = toxics_head_parse(c->buf, c->buf_len, &c->head, &why);
    if (r == -EAGAIN)
        return;
    if (r == -E2BIG) {
        proxy_http_reply(p, c, 431, "bad-request", "sandpit proxy: %s\n", why);
        return;
    }
    if (r < 0) {
        proxy_http_reply(p, c, 400, "bad-request", "sandpit proxy: %s\n", why);
        return;
    }
    c->forward = c->head.kind == TOXICS_HEAD_FORWARD;
    snprintf(c->host, sizeof(c->host), "%s", c->head.host);
    c->port = c->head.port;
    proxy_http_check(p, c, now);
}

/* Sends CONNECT to the egress proxy; its answer is read in EGRESS. */
void proxy_http_egress_connect(struct proxy *p, struct proxy_conn *c)
{
    char req[2 * TOXICS_HOST_MAX + 96], hp[TOXICS_HOST_MAX + 16];
    int n;

    proxy_http_hostport(hp, sizeof(hp), c->host, c->port);
    n = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", hp, hp);
    c->ebuf = malloc(PROXY_EGRESS_MAX);
    if (!c->ebuf || send(c->fd[PROXY_SERVER], req, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
        proxy_conn_fail(p, c, false, "cannot talk to the egress proxy");
        return;
    }
    c->ebuf_len = 0;
    c->state = PROXY_C_EGRESS;
    proxy_conn_sync(p, c);
}

/* EGRESS: reads the egress proxy's answer to our CONNECT. */
void proxy_http_egress_read(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    ssize_t n = recv(c->fd[PROXY_SERVER], c->ebuf + c->ebuf_len, PROXY_EGRESS_MAX - c->ebuf_len,
                     MSG_DONTWAIT);
    size_t head_len = 0;
    int status = 0, r;
    char why[64];

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        proxy_conn_fail(p, c, false, "the egress proxy closed the connection");
        return;
    }
    c->ebuf_len += (size_t)n;
    r = toxics_reply_parse(c->ebuf, c->ebuf_len, &status, &head_len);
    if (r == -EAGAIN && c->ebuf_len < PROXY_EGRESS_MAX)
        return;
    if (r < 0 || status != 200) {
        if (r < 0)
            snprintf(why, sizeof(why), "the egress proxy's answer is not HTTP");
        else
            snprintf(why, sizeof(why), "the egress proxy answered %d", status);
        proxy_conn_fail(p, c, false, why);
        return;
    }
    c->ebuf_len -= head_len;
    memmove(c->ebuf, c->ebuf + head_len, c->ebuf_len);
    proxy_relay_start(p, c, now);
}
