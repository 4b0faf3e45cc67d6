/* proxy_conn.c - a connection's life: accept, connect, the state machine's events and timers,
 * and its end (see proxy_conn.h). */
#include "proxy_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proxy_http.h"

#define PROXY_CONNECT_MS 10000 /* resolve + connect + egress handshake */
#define PROXY_HEAD_MS    30000 /* for the client's request head */

static int64_t proxy_conn_min_time(int64_t a, int64_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

static void proxy_conn_nodelay(int fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Reads and drops what is waiting on fd (bounded), so a close that follows sends FIN, not RST. */
static void proxy_conn_drain(struct proxy *p, int fd)
{
    for (int i = 0; i < 4; i++) {
        if (recv(fd, p->scratch, sizeof(p->scratch), MSG_DONTWAIT) <= 0)
            return;
    }
}

/* Makes c's side watch exactly `want` events (0 = out of the epoll set, which also silences
 * EPOLLHUP/EPOLLERR on a socket we have nothing to do with any more). 0 or -errno. */
static int proxy_conn_watch(struct proxy *p, struct proxy_conn *c, int side, uint32_t want)
{
    struct epoll_event ev = {.events = want, .data.ptr = &c->w[side]};
    int op;

    if (c->fd[side] < 0 || want == c->ev[side])
        return 0;
    op = !c->ev[side] ? EPOLL_CTL_ADD : !want ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(p->ep, op, c->fd[side], &ev) < 0)
        return -errno;
    c->ev[side] = want;
    return 0;
}

/* Closes one side: reset (SO_LINGER 0 -> RST) or orderly (FIN after a drain). */
static void proxy_conn_close_fd(struct proxy *p, struct proxy_conn *c, int side, bool reset)
{
    if (c->fd[side] < 0)
        return;
    (void)proxy_conn_watch(p, c, side, 0);
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};

        (void)setsockopt(c->fd[side], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    } else {
        (void)shutdown(c->fd[side], SHUT_WR);
        proxy_conn_drain(p, c->fd[side]);
    }
    close(c->fd[side]);
    c->fd[side] = -1;
}

/* Ends a connection: every fd closed now (reset = RST both sides), memory after the batch. */
void proxy_conn_end(struct proxy *p, struct proxy_conn *c, bool reset)
{
    struct proxy_session *s = c->s;

    if (c->state == PROXY_C_DEAD)
        return;
    proxy_conn_close_fd(p, c, PROXY_CLIENT, reset);
    proxy_conn_close_fd(p, c, PROXY_SERVER, reset);
    if (c->rjob) {
        proxy_resolver_cancel(&p->res, c->rjob);
        c->rjob = NULL;
    }
    proxy_relay_flow_clear(&c->up);
    proxy_relay_flow_clear(&c->down);
    proxy_engine_wake(p, c, 0);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    p->n_conns--;
    c->state = PROXY_C_DEAD;
    c->dead_next = p->dead;
    p->dead = c;
    proxy_relay_wake_starved(p, s); /* its queues' room goes to the others */
}

/* Dead connections outlive proxy_conn_end until their batch is over (see proxy_engine.h). */
void proxy_conn_free(struct proxy_conn *c)
{
    free(c->buf);
    free(c->ebuf);
    free(c);
}

/* The destination could not be reached: 502 for an HTTP client, RST for a TCP forward. */
void proxy_conn_fail(struct proxy *p, struct proxy_conn *c, bool timed_out, const char *why)
{
    char hp[TOXICS_HOST_MAX + 16];

    c->s->c.failed++;
    proxy_http_hostport(hp, sizeof(hp), c->host, c->port);
    log_debug("proxy session %llu: cannot reach '%s': %s", (unsigned long long)c->s->id, hp, why);
    if (c->kind == 'H')
        proxy_http_reply(p, c, timed_out ? 504 : 502, "upstream-failed",
                         "sandpit proxy: cannot reach %s: %s\n", hp, why);
    else
        proxy_conn_end(p, c, true);
}

/* Registers the events c's state waits for and its next wake-up. Resets c on failure. */
void proxy_conn_sync(struct proxy *p, struct proxy_conn *c)
{
    uint32_t want[2] = {0, 0};
    int64_t wake = proxy_conn_min_time(c->reset_ns, c->timeout_ns);

    if (c->state == PROXY_C_DEAD)
        return;
    switch (c->state) {
    case PROXY_C_HEAD:
    case PROXY_C_STALL:
        want[PROXY_CLIENT] = EPOLLIN;
        break;
    case PROXY_C_CONNECT:
        want[PROXY_SERVER] = EPOLLOUT;
        break;
    case PROXY_C_EGRESS:
        want[PROXY_SERVER] = EPOLLIN;
        break;
    case PROXY_C_RELAY:
        want[PROXY_CLIENT] = (c->up.want_in ? EPOLLIN : 0) | (c->down.want_out ? EPOLLOUT : 0);
        want[PROXY_SERVER] = (c->down.want_in ? EPOLLIN : 0) | (c->up.want_out ? EPOLLOUT : 0);
        wake = proxy_conn_min_time(wake, proxy_conn_min_time(c->up.wake_ns, c->down.wake_ns));
        break;
    default:
        break;
    }
    if (c->state != PROXY_C_RELAY)
        wake = proxy_conn_min_time(wake, c->deadline_ns);
    if (proxy_conn_watch(p, c, PROXY_CLIENT, want[PROXY_CLIENT]) < 0 ||
        proxy_conn_watch(p, c, PROXY_SERVER, want[PROXY_SERVER]) < 0) {
        log_warn("proxy: cannot watch a connection's sockets, resetting it");
        proxy_conn_end(p, c, true);
        return;
    }
    proxy_engine_wake(p, c, wake);
}

/* The server socket is connected: to the destination, or to the egress proxy (send CONNECT). */
static void proxy_conn_connected(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    if (p->egress_host[0])
        proxy_http_egress_connect(p, c);
    else
        proxy_relay_start(p, c, now);
}

/* Starts a non-blocking connect to the next known address; fails c when none is left. */
static void proxy_conn_try_connect(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    while (c->next_addr < c->n_addr) {
        int i = c->next_addr++, fd;

        proxy_conn_close_fd(p, c, PROXY_SERVER, true);
        fd = socket(c->addr[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            c->last_err = errno;
            continue;
        }
        proxy_conn_nodelay(fd);
        c->fd[PROXY_SERVER] = fd;
        if (connect(fd, (struct sockaddr *)&c->addr[i], c->addr_len[i]) == 0) {
            proxy_conn_connected(p, c, now);
            return;
        }
        if (errno == EINPROGRESS) {
            c->state = PROXY_C_CONNECT;
            proxy_conn_sync(p, c);
            return;
        }
        c->last_err = errno;
    }
    proxy_conn_close_fd(p, c, PROXY_SERVER, true);
    proxy_conn_fail(p, c, false, strerror(c->last_err ? c->last_err : ECONNREFUSED));
}

/* The connect finished one way or the other. */
static void proxy_conn_connect_done(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd[PROXY_SERVER], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0) {
        proxy_conn_connected(p, c, now);
        return;
    }
    c->last_err = err;
    proxy_conn_try_connect(p, c, now);
}

/* Fills c->addr from a numeric host; false when host is a name. */
bool proxy_conn_numeric(struct proxy_conn *c, const char *host, int port)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)&c->addr[0];
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&c->addr[0];

    memset(&c->addr[0], 0, sizeof(c->addr[0]));
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        c->addr_len[0] = sizeof(*a4);
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        c->addr_len[0] = sizeof(*a6);
    } else {
        return false;
    }
    c->n_addr = 1;
    c->next_addr = 0;
    return true;
}

/* Resolves (off-thread unless numeric) and connects to the destination or the egress proxy. */
void proxy_conn_resolve(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    const char *host = p->egress_host[0] ? p->egress_host : c->host;
    int port = p->egress_host[0] ? p->egress_port : c->port;
    struct proxy_rjob *j;

    c->deadline_ns = now + PROXY_CONNECT_MS * PROXY_MS;
    if (proxy_conn_numeric(c, host, port)) {
        proxy_conn_try_connect(p, c, now);
        return;
    }
    j = proxy_resolver_submit(&p->res, c, host, port);
    if (!j) {
        proxy_conn_fail(p, c, false, "out of memory");
        return;
    }
    c->rjob = j;
    c->state = PROXY_C_RESOLVE;
    proxy_conn_sync(p, c);
}

/* A resolution for c came back (c is alive and waiting). */
void proxy_conn_resolved(struct proxy *p, struct proxy_conn *c, struct proxy_rjob *j, int64_t now)
{
    const char *filtered = NULL;

    c->rjob = NULL;
    if (j->rc != 0) {
        proxy_conn_fail(p, c, false, gai_strerror(j->rc));
        return;
    }
    c->n_addr = 0;
    c->next_addr = 0;
    for (int i = 0; i < j->n; i++) {
        /* A wildcard entry reaches public addresses only (the egress proxy judges its own).
         * What is judged is what gets connected: no second lookup a rebinding DNS could
         * answer differently. */
        const char *what =
            c->wildcard && !p->egress_host[0]
                ? proxy_guard_addr_why(&p->guard, (const struct sockaddr *)&j->addr[i])
                : NULL;

        if (what) {
            filtered = filtered ? filtered : what;
            continue;
        }
        c->addr[c->n_addr] = j->addr[i];
        c->addr_len[c->n_addr++] = j->addr_len[i];
    }
    if (c->n_addr == 0 && filtered) {
        proxy_http_deny_internal(p, c, "resolves to", filtered);
        return;
    }
    proxy_conn_try_connect(p, c, now);
}

/* STALL: the timeout toxic reads and drops everything until the deadline. */
static void proxy_conn_stall(struct proxy *p, struct proxy_conn *c)
{
    ssize_t n = recv(c->fd[PROXY_CLIENT], p->scratch, sizeof(p->scratch), MSG_DONTWAIT);

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        proxy_conn_end(p, c, n < 0);
}

/* Timers of c that are due. */
void proxy_conn_timer(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    if (c->reset_ns && now >= c->reset_ns) {
        proxy_conn_end(p, c, true);
        return;
    }
    if (c->timeout_ns && now >= c->timeout_ns) {
        proxy_conn_end(p, c, false);
        return;
    }
    if (c->state != PROXY_C_RELAY && c->deadline_ns && now >= c->deadline_ns) {
        if (c->state == PROXY_C_HEAD)
            proxy_conn_end(p, c, false);
        else
            proxy_conn_fail(p, c, true, "timed out");
        return;
    }
    if (c->state == PROXY_C_RELAY) {
        int which = 0;

        which |= c->up.wake_ns && now >= c->up.wake_ns ? PROXY_FLOW_UP : 0;
        which |= c->down.wake_ns && now >= c->down.wake_ns ? PROXY_FLOW_DOWN : 0;
        if (which) {
            proxy_relay_run(p, c, which, now);
            return;
        }
    }
    proxy_conn_sync(p, c);
}

/* An epoll event on one side of c. */
void proxy_conn_event(struct proxy *p, struct proxy_conn *c, int side, uint32_t events)
{
    int64_t now;

    if (c->state == PROXY_C_DEAD)
        return;
    now = clock_mono_ns();
    switch (c->state) {
    case PROXY_C_HEAD:
        proxy_http_head(p, c, now);
        break;
    case PROXY_C_STALL:
        proxy_conn_stall(p, c);
        break;
    case PROXY_C_CONNECT:
        proxy_conn_connect_done(p, c, now);
        return;
    case PROXY_C_EGRESS:
        proxy_http_egress_read(p, c, now);
        break;
    case PROXY_C_RELAY: {
        int which = 0;

        if (events & (EPOLLERR | EPOLLHUP))
            which = PROXY_FLOW_UP | PROXY_FLOW_DOWN;
        if (events & EPOLLIN)
            which |= side == PROXY_CLIENT ? PROXY_FLOW_UP : PROXY_FLOW_DOWN;
        if (events & EPOLLOUT)
            which |= side == PROXY_CLIENT ? PROXY_FLOW_DOWN : PROXY_FLOW_UP;
        proxy_relay_run(p, c, which, now);
        return;
    }
    default:
        break;
    }
    proxy_conn_sync(p, c);
}

/* A connection accepted on one of s's listeners. Takes fd. */
void proxy_conn_accepted(struct proxy *p, struct proxy_session *s, char kind, int fd)
{
    const struct proxy_conf *cf = &s->conf;
    int64_t now = clock_mono_ns();
    struct proxy_conn *c = NULL;

    s->c.connections++;
    if (s->n_conns >= (cf->max_connections ? cf->max_connections : PROXY_CONNS_DEFAULT)) {
        log_debug("proxy session %llu: %d connections open, refusing one more",
                  (unsigned long long)s->id, s->n_conns);
        goto fail_close;
    }
    if (proxy_engine_reserve(p) < 0)
        goto fail_oom;
    c = calloc(1, sizeof(*c));
    if (!c || (kind == 'H' && cf->timeout_ms == 0 && !(c->buf = malloc(TOXICS_HEAD_MAX))))
        goto fail_oom;
    c->s = s;
    c->kind = kind;
    c->fd[PROXY_CLIENT] = fd;
    c->fd[PROXY_SERVER] = -1;
    c->heap_idx = SIZE_MAX;
    for (int i = 0; i < 2; i++)
        c->w[i] = (struct proxy_watch){.kind = PROXY_W_CONN, .side = i, .obj = c};
    proxy_relay_flow_init(s, &c->up, true, now);
    proxy_relay_flow_init(s, &c->down, false, now);
    if (cf->reset_after_ms > 0)
        c->reset_ns = now + cf->reset_after_ms * PROXY_MS;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    p->n_conns++;
    proxy_conn_nodelay(fd);
    if (cf->timeout_ms > 0) {
        c->timeout_ns = now + cf->timeout_ms * PROXY_MS;
        c->state = PROXY_C_STALL;
    } else if (kind == 'H') {
        c->state = PROXY_C_HEAD;
        c->deadline_ns = now + PROXY_HEAD_MS * PROXY_MS;
    } else {
        snprintf(c->host, sizeof(c->host), "%s", cf->upstream_host);
        c->port = cf->upstream_port;
        proxy_conn_resolve(p, c, now);
        return;
    }
    proxy_conn_sync(p, c);
    return;

fail_oom:
    log_warn("proxy session %llu: out of memory accepting a connection", (unsigned long long)s->id);
    if (c)
        free(c->buf);
    free(c);
fail_close : {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}
}
