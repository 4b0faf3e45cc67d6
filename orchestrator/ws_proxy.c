/* ws_proxy.c - WebSocket pass-through to an agent (see ws_proxy.h). */
#include "ws_proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "fdio.h"
#include "ws_conn.h"

/* A client joined to its agent. Side 0 is the client, side 1 the agent; out[s] holds what
 * goes to side s. */
struct wsp_pair {
    struct ws_proxy *p;
    struct http_upgraded *u;
    int fd[2];
    struct buf out[2];
    struct wsp_pair *next;
};

struct ws_proxy {
    struct ws_hub *hub;
    struct wsp_pair *pairs; /* hub thread */
    atomic_size_t count;
};

/* ---------------------------------------------------------------- dial (its own thread) */

/* Waits for fd to be ready for events until the monotonic deadline. */
static int wsp_wait(int fd, short events, int64_t deadline)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int64_t left = (deadline - clock_mono_ns()) / 1000000;

    if (left <= 0)
        return -ETIMEDOUT;
    if (poll(&pfd, 1, (int)left) <= 0)
        return -ETIMEDOUT;
    return 0;
}

static int wsp_connect(const char *url, char *host, size_t hsize, int64_t deadline)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    const char *h = strncmp(url, "http://", 7) ? url : url + 7;
    const char *colon = strrchr(h, ':');
    char port[8];
    int fd = -1, err = 0;
    socklen_t len = sizeof(err);

    if (!colon || (size_t)(colon - h) >= hsize)
        return -EINVAL;
    snprintf(host, hsize, "%.*s", (int)(colon - h), h);
    snprintf(port, sizeof(port), "%.6s", colon + 1);
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return -EHOSTUNREACH;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -ECONNREFUSED;
    if (wsp_wait(fd, POLLOUT, deadline) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        close(fd);
        return -ECONNREFUSED;
    }
    return fd;
}

/* Sends all of data before the deadline. */
static int wsp_send_all(int fd, const char *data, size_t len, int64_t deadline)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wsp_wait(fd, POLLOUT, deadline) < 0)
                return -ETIMEDOUT;
            continue;
        }
        if (n < 0)
            return -errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

void ws_proxy_dial(struct ws_proxy_dial *d)
{
    int64_t deadline = clock_mono_ns() + (int64_t)WS_PROXY_DIAL_MS * 1000000;
    char host[200], req[2048], *head = malloc(WS_PROXY_HEAD + 1), *end = NULL;
    size_t got = 0;
    int fd;

    d->status = 0;
    d->fd = -1;
    if (!head) {
        snprintf(d->err, sizeof(d->err), "out of memory");
        return;
    }
    fd = wsp_connect(d->url, host, sizeof(host), deadline);
    if (fd < 0) {
        snprintf(d->err, sizeof(d->err), "cannot reach the agent at %.100s", d->url);
        free(head);
        return;
    }
    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n%s%s%s\r\n",
             d->path, host, d->key, d->token[0] ? "X-Sandpit-Token: " : "", d->token,
             d->token[0] ? "\r\n" : "");
    if (wsp_send_all(fd, req, strlen(req), deadline) < 0)
        goto fail;
    while (!end && got < WS_PROXY_HEAD) {
        ssize_t n = recv(fd, head + got, WS_PROXY_HEAD - got, 0);

        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wsp_wait(fd, POLLIN, deadline) < 0)
                goto fail;
            continue;
        }
        if (n <= 0)
            goto fail;
        got += (size_t)n;
        head[got] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (!end || sscanf(head, "HTTP/1.%*d %d", &d->status) != 1)
        goto fail;
    if (d->status != 101) {
        snprintf(d->err, sizeof(d->err), "the agent answered %d", d->status);
        close(fd);
        free(head);
        return;
    }
    d->extra_len = got - (size_t)(end + 4 - head);
    d->extra = d->extra_len ? malloc(d->extra_len) : NULL;
    if (d->extra_len && !d->extra)
        goto fail;
    memcpy(d->extra ? d->extra : head, end + 4, d->extra_len);
    d->fd = fd;
    free(head);
    return;
fail:
    d->status = 0;
    snprintf(d->err, sizeof(d->err), "the agent at %.100s did not complete the upgrade", d->url);
    close(fd);
    free(head);
}

/* ---------------------------------------------------------------- the pairs (hub thread) */

static void wsp_close(struct wsp_pair *w)
{
    struct ws_proxy *p = w->p;

    for (struct wsp_pair **pp = &p->pairs; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    ws_hub_unwatch(p->hub, w->fd[0]);
    ws_hub_unwatch(p->hub, w->fd[1]);
    close(w->fd[1]);
    http_upgraded_close(w->u); /* the client's socket is MHD's to close */
    buf_done(&w->out[0]);
    buf_done(&w->out[1]);
    atomic_fetch_sub(&p->count, 1);
    free(w);
}

/* Writes what waits for side s. False on a write error. */
static bool wsp_flush(struct wsp_pair *w, int s)
{
    size_t off = 0;

    while (off < w->out[s].len) {
        ssize_t n =
            send(w->fd[s], w->out[s].data + off, w->out[s].len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0)
            return false;
        off += (size_t)n;
    }
    if (off) {
        memmove(w->out[s].data, w->out[s].data + off, w->out[s].len - off);
        w->out[s].len -= off;
    }
    return true;
}

/* Reads side s into what goes to the other side. -1 error, 0 EOF, 1 fine. */
static int wsp_fill(struct wsp_pair *w, int s)
{
    struct buf *b = &w->out[!s];
    char chunk[65536];

    while (b->len < WS_PROXY_BUF) {
        size_t room = WS_PROXY_BUF - b->len;
        ssize_t n =
            recv(w->fd[s], chunk, room < sizeof(chunk) ? room : sizeof(chunk), MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        if (n <= 0)
            return n == 0 ? 0 : -1;
        if (buf_append(b, chunk, (size_t)n) < 0)
            return -1;
    }
    return 1;
}

static void wsp_interest(struct wsp_pair *w)
{
    for (int s = 0; s < 2; s++) {
        uint32_t ev = (w->out[!s].len < WS_PROXY_BUF ? EPOLLIN : 0) |
                      (w->out[s].len ? EPOLLOUT : 0) | EPOLLRDHUP;

        (void)ws_hub_rewatch(w->p->hub, w->fd[s], ev);
    }
}

static void wsp_io(struct wsp_pair *w, int s, uint32_t events)
{
    int rc = 1;

    if ((events & EPOLLOUT) && !wsp_flush(w, s)) {
        wsp_close(w);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
        rc = wsp_fill(w, s);
    if (!wsp_flush(w, !s) || rc < 0) {
        wsp_close(w);
        return;
    }
    if (rc == 0) { /* one side ended: what it said is passed on (best effort), then both go */
        wsp_close(w);
        return;
    }
    wsp_interest(w);
}

static void wsp_io_client(void *arg, uint32_t events)
{
    wsp_io(arg, 0, events);
}

static void wsp_io_agent(void *arg, uint32_t events)
{
    wsp_io(arg, 1, events);
}

static void wsp_start_task(void *arg)
{
    struct wsp_pair *w = arg;
    struct ws_proxy *p = w->p;

    if (ws_hub_watch(p->hub, w->fd[0], EPOLLIN | EPOLLRDHUP, wsp_io_client, w) < 0) {
        close(w->fd[1]);
        http_upgraded_close(w->u);
        buf_done(&w->out[0]);
        buf_done(&w->out[1]);
        atomic_fetch_sub(&p->count, 1);
        free(w);
        return;
    }
    w->next = p->pairs;
    p->pairs = w;
    if (ws_hub_watch(p->hub, w->fd[1], EPOLLIN | EPOLLRDHUP, wsp_io_agent, w) < 0) {
        wsp_close(w);
        return;
    }
    wsp_io(w, 1, EPOLLOUT); /* bytes that came with either side's handshake */
}

void ws_proxy_join(struct ws_proxy *p, struct http_upgraded *u, int cfd, struct ws_proxy_dial *d)
{
    struct wsp_pair *w = calloc(1, sizeof(*w));

    if (w) {
        *w = (struct wsp_pair){.p = p, .u = u, .fd = {cfd, d->fd}};
        buf_init(&w->out[0], 0);
        buf_init(&w->out[1], 0);
        if (d->extra_len && buf_append(&w->out[0], d->extra, d->extra_len) < 0) {
            buf_done(&w->out[0]);
            free(w);
            w = NULL;
        }
    }
    free(d->extra);
    d->extra = NULL;
    (void)fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) | O_NONBLOCK);
    if (w) {
        atomic_fetch_add(&p->count, 1);
        if (ws_hub_post(p->hub, wsp_start_task, w) == 0) {
            d->fd = -1;
            return;
        }
        atomic_fetch_sub(&p->count, 1);
        buf_done(&w->out[0]);
        free(w);
    }
    close(d->fd);
    d->fd = -1;
    http_upgraded_close(u);
}

size_t ws_proxy_count(struct ws_proxy *p)
{
    return atomic_load(&p->count);
}

struct ws_proxy *ws_proxy_new(struct err *e)
{
    struct ws_proxy *p = calloc(1, sizeof(*p));

    if (!p) {
        err_set(e, ERR_BUSY, "", "out of memory");
        return NULL;
    }
    p->hub = ws_hub_new(1, 1, e); /* no WebSocket of its own: watches only */
    if (!p->hub) {
        free(p);
        return NULL;
    }
    return p;
}

static void wsp_close_all_task(void *arg)
{
    struct ws_proxy *p = arg;

    while (p->pairs)
        wsp_close(p->pairs);
}

void ws_proxy_free(struct ws_proxy *p)
{
    if (!p)
        return;
    (void)ws_hub_post(p->hub, wsp_close_all_task, p);
    ws_hub_free(p->hub);
    free(p);
}
