/* proxy.c - the shaping proxy's public API (see proxy.h and docs/proxy.md): starting and
 * stopping its threads, validating a session's configuration, and the calls other threads make
 * into the epoll thread (proxy_engine.h), which does all the I/O. The modules below it:
 * proxy_engine (event loop, timers, sessions), proxy_listen (listeners and the child's channel),
 * proxy_conn (a connection's states), proxy_http (request head, allow-list, egress CONNECT),
 * proxy_relay (the relay and its toxics), proxy_resolver (getaddrinfo threads). No global
 * mutable state. */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fdpass.h"
#include "log.h"
#include "proxy_engine.h"
#include "toxics.h"

_Static_assert(PROXY_ALLOW_LEN == TOXICS_ENTRY_MAX, "allow-list entry sizes differ");
_Static_assert(sizeof(((struct proxy_conf *)0)->upstream_host) == TOXICS_HOST_MAX,
               "host buffer sizes differ");

/* Hands cmd to the epoll thread and waits for its answer. */
static int proxy_call(struct proxy *p, struct proxy_cmd *cmd)
{
    uint64_t one = 1;

    cmd->done = false;
    pthread_mutex_lock(&p->lock);
    cmd->next = p->cmds;
    p->cmds = cmd;
    pthread_mutex_unlock(&p->lock);
    if (write(p->cmd_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_errno(errno, NULL, "proxy: cannot wake the proxy thread");
    pthread_mutex_lock(&p->lock);
    while (!cmd->done)
        pthread_cond_wait(&p->cmd_cond, &p->lock);
    pthread_mutex_unlock(&p->lock);
    return cmd->rc;
}

/* Starts a thread with every signal blocked (signals belong to main's signalfd). */
static int proxy_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    int r;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -r;
}

struct proxy *proxy_new(const char *egress, const char *protect, struct err *e)
{
    struct proxy *p = calloc(1, sizeof(*p));
    struct epoll_event ev = {.events = EPOLLIN};
    int r;

    if (!p) {
        err_set(e, ERR_UNAVAILABLE, "", "out of memory");
        return NULL;
    }
    p->ep = p->cmd_fd = p->reserve_fd = -1;
    p->pwait2 = true;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cmd_cond, NULL);
    r = proxy_resolver_init(&p->res);
    if (egress && *egress &&
        toxics_hostport_parse(egress, strlen(egress), p->egress_host, sizeof(p->egress_host),
                              &p->egress_port, -1) < 0) {
        err_set(e, ERR_INVALID, "egress", "egress '%s' is not host:port", egress);
        goto fail;
    }
    if (proxy_guard_add(&p->guard, protect, "protect", e) < 0 ||
        (egress && proxy_guard_add(&p->guard, egress, "egress", e) < 0))
        goto fail;
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->cmd_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (p->ep < 0 || p->cmd_fd < 0 || r < 0) {
        err_set(e, ERR_UNAVAILABLE, "", "proxy: %s", strerror(r < 0 ? -r : errno));
        goto fail;
    }
    p->cmd_w = (struct proxy_watch){.kind = PROXY_W_CMD};
    p->res_w = (struct proxy_watch){.kind = PROXY_W_RESOLVED};
    ev.data.ptr = &p->cmd_w;
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->cmd_fd, &ev) < 0)
        goto fail_errno;
    ev.data.ptr = &p->res_w;
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->res.fd, &ev) < 0)
        goto fail_errno;
    for (; p->n_resolvers < PROXY_RESOLVERS; p->n_resolvers++) {
        if ((r = proxy_thread(&p->resolver[p->n_resolvers], proxy_resolver_main, &p->res)) < 0) {
            errno = -r;
            goto fail_errno;
        }
    }
    if ((r = proxy_thread(&p->thread, proxy_engine_main, p)) < 0) {
        errno = -r;
        goto fail_errno;
    }
    p->started = true;
    return p;

fail_errno:
    err_set(e, ERR_UNAVAILABLE, "", "proxy: cannot start: %s", strerror(errno));
fail:
    proxy_free(p);
    return NULL;
}

void proxy_free(struct proxy *p)
{
    uint64_t one = 1;

    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_mutex_unlock(&p->lock);
    proxy_resolver_stop(&p->res);
    if (p->started) {
        (void)!write(p->cmd_fd, &one, sizeof(one));
        pthread_join(p->thread, NULL);
    }
    /* A resolver inside getaddrinfo finishes that call first (bounded by resolv.conf). */
    for (int i = 0; i < p->n_resolvers; i++)
        pthread_join(p->resolver[i], NULL);
    proxy_engine_done(p);
    proxy_resolver_done(&p->res);
    free(p->heap);
    if (p->reserve_fd >= 0)
        close(p->reserve_fd);
    if (p->cmd_fd >= 0)
        close(p->cmd_fd);
    if (p->ep >= 0)
        close(p->ep);
    pthread_cond_destroy(&p->cmd_cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* A host as configured ("name", "1.2.3.4", "::1" or "[::1]", no port) into its bare, lower-case
 * form. 0 or -EINVAL. */
static int proxy_host_norm(const char *in, char *out, size_t size)
{
    struct in6_addr a6;
    size_t n = strnlen(in, TOXICS_HOST_MAX);
    int port = 0;

    if (n == TOXICS_HOST_MAX || n >= size)
        return -EINVAL;
    if (inet_pton(AF_INET6, in, &a6) == 1) {
        for (size_t i = 0; i <= n; i++)
            out[i] = (char)((in[i] >= 'A' && in[i] <= 'Z') ? in[i] + 32 : in[i]);
        return 0;
    }
    if (toxics_hostport_parse(in, n, out, size, &port, 0) < 0 || port != 0)
        return -EINVAL;
    return 0;
}

/* Bounds of every numeric field; strings and the allow-list must parse. */
static bool proxy_conf_is_valid(const struct proxy_conf *c)
{
    const int day_ms = 86400000;

    if (c->latency_ms < 0 || c->latency_ms > 3600000 || c->jitter_ms < 0 ||
        c->jitter_ms > 3600000 || c->bandwidth_kbps < 0 || c->bandwidth_kbps > 100000000L ||
        c->timeout_ms < 0 || c->timeout_ms > day_ms || c->reset_after_ms < 0 ||
        c->reset_after_ms > day_ms || c->slice_bytes < 0 || c->slice_bytes > (1 << 24) ||
        c->slice_delay_ms < 0 || c->slice_delay_ms > 3600000 || c->limit_data_bytes < 0 ||
        (c->direction != PROXY_DIR_DOWN && c->direction != PROXY_DIR_UP &&
         c->direction != PROXY_DIR_BOTH) ||
        c->upstream_port < 0 || c->upstream_port > 65535 || c->max_connections < 0 ||
        c->max_connections > PROXY_CONNS_LIMIT || c->n_allow < 0 || c->n_allow > PROXY_ALLOW_MAX)
        return false;
    if (c->upstream_port) {
        char host[TOXICS_HOST_MAX];

        if (c->upstream_port < 1 || proxy_host_norm(c->upstream_host, host, sizeof(host)) < 0)
            return false;
    }
    for (int i = 0; i < c->n_allow; i++) {
        if (strnlen(c->allow[i], PROXY_ALLOW_LEN) == PROXY_ALLOW_LEN ||
            !toxics_allow_is_valid(c->allow[i]))
            return false;
    }
    return true;
}

int proxy_session_open(struct proxy *p, const struct proxy_conf *conf, uint64_t *sid, int *child_fd)
{
    struct proxy_cmd cmd = {.kind = PROXY_CMD_OPEN};
    struct proxy_session *s;
    int sv[2], r;

    if (!proxy_conf_is_valid(conf))
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->conf = *conf;
    /* Stored bare (no brackets, lower case), as destinations are compared. */
    if (s->conf.upstream_port)
        (void)proxy_host_norm(conf->upstream_host, s->conf.upstream_host,
                              sizeof(s->conf.upstream_host));
    if (getrandom(&s->rng, sizeof(s->rng), GRND_NONBLOCK) != sizeof(s->rng))
        s->rng = (uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)s;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        r = -errno;
        free(s);
        return r;
    }
    (void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
    s->chan = sv[0];
    cmd.s = s;
    r = proxy_call(p, &cmd);
    if (r < 0) {
        close(sv[0]);
        close(sv[1]);
        free(s);
        return r;
    }
    *sid = cmd.sid;
    *child_fd = sv[1];
    return 0;
}

/* fdpass_send is a bare sendmsg: safe in a forked child of a threaded process. */
int proxy_send_listener(int chan_fd, char kind, int listen_fd)
{
    return fdpass_send(chan_fd, &kind, 1, &listen_fd, 1);
}

int proxy_session_add_listener(struct proxy *p, uint64_t sid, char kind, int listen_fd)
{
    struct proxy_cmd cmd = {.kind = PROXY_CMD_ADD, .sid = sid, .lkind = kind, .fd = listen_fd};

    return proxy_call(p, &cmd);
}

int proxy_session_counters(struct proxy *p, uint64_t sid, struct proxy_counters *out)
{
    struct proxy_cmd cmd = {.kind = PROXY_CMD_COUNTERS, .sid = sid, .out = out};

    return proxy_call(p, &cmd);
}

int proxy_session_close(struct proxy *p, uint64_t sid, struct proxy_counters *out)
{
    struct proxy_cmd cmd = {.kind = PROXY_CMD_CLOSE, .sid = sid, .out = out};

    return proxy_call(p, &cmd);
}