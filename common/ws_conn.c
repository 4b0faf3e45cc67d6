/* ws_conn.c - the WebSocket hub: one epoll thread, libwslay per connection (see ws_conn.h). */
#include "ws_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "clock.h"

/* What an epoll entry points at: the first field of each kind. */
enum ws_kind { WS_KIND_WAKE, WS_KIND_CONN, WS_KIND_WATCH };

struct ws_task {
    ws_task_fn fn;
    void *arg;
    struct ws_task *next;
};

struct ws_watch {
    enum ws_kind kind;
    int fd;
    ws_watch_fn fn;
    void *arg;
    struct ws_watch *next;
};

struct ws_conn {
    enum ws_kind kind;
    struct ws_hub *h;
    int fd;
    struct http_upgraded *u; /* closes the socket (MHD's) */
    wslay_event_context_ptr ctx;
    const struct ws_conn_ops *ops;
    void *data;
    char *extra; /* bytes the client sent with its upgrade request, read first (owned) */
    size_t extra_len, extra_off;
    size_t queued;        /* bytes queued and not yet written */
    int64_t close_by;     /* monotonic ns: past it a started close drops the socket; 0 none */
    uint32_t events;      /* registered with epoll */
    bool dead, dirty;     /* on_close ran (freed at the loop's end); has messages to write */
    bool draining;        /* our close is out: what still comes is read and dropped */
    struct ws_conn *next; /* the hub's list */
    struct ws_conn *next_dirty;
};

/* A connection handed over by an MHD thread, waiting for the hub thread. */
struct ws_attach {
    struct ws_hub *h;
    struct http_upgraded *u;
    int fd;
    char *extra;
    size_t extra_len;
    const struct ws_conn_ops *ops;
    void *arg;
};

struct ws_hub {
    enum ws_kind kind; /* WS_KIND_WAKE: the eventfd's entry */
    int ep, wake;
    size_t max_msg, max_queued;
    pthread_t thread;
    pthread_mutex_t lock;         /* guards tasks and stopping */
    struct ws_task *tasks, *tail; /* guarded by lock */
    bool stopping;                /* guarded by lock */
    struct ws_conn *conns;        /* hub thread only */
    struct ws_conn *dirty;        /* hub thread only */
    struct ws_watch *watches;     /* hub thread only */
    atomic_size_t count;
};

static ssize_t ws_conn_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                               void *user)
{
    struct ws_conn *c = user;
    ssize_t n;

    (void)flags;
    if (c->extra_off < c->extra_len) {
        n = (ssize_t)(c->extra_len - c->extra_off < len ? c->extra_len - c->extra_off : len);
        memcpy(buf, c->extra + c->extra_off, (size_t)n);
        c->extra_off += (size_t)n;
        return n;
    }
    n = recv(c->fd, buf, len, 0);
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE); /* EOF or reset */
    return -1;
}

static ssize_t ws_conn_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                               int flags, void *user)
{
    struct ws_conn *c = user;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | (flags & WSLAY_MSG_MORE ? MSG_MORE : 0));

    if (n >= 0) {
        c->queued = (size_t)n < c->queued ? c->queued - (size_t)n : 0;
        return n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static void ws_conn_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                           void *user)
{
    struct ws_conn *c = user;

    (void)ctx;
    if (c->dead)
        return;
    if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME)
        c->ops->on_message(c, (const char *)a->msg, a->msg_length, a->opcode == WSLAY_BINARY_FRAME);
    else if (a->opcode == WSLAY_CONNECTION_CLOSE && !c->close_by)
        c->close_by = clock_mono_ns() + (int64_t)WS_CONN_CLOSE_GRACE_S * 1000000000;
}

static const struct wslay_event_callbacks ws_conn_callbacks = {
    .recv_callback = ws_conn_recv_cb,
    .send_callback = ws_conn_send_cb,
    .on_msg_recv_callback = ws_conn_msg_cb,
};

/* The connection is over for its owner: on_close now, freed at the loop's end. */
static void ws_conn_drop(struct ws_conn *c, uint16_t code)
{
    if (c->dead)
        return;
    c->dead = true;
    (void)epoll_ctl(c->h->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->ops->on_close(c, code);
}

static void ws_conn_free(struct ws_conn *c)
{
    wslay_event_context_free(c->ctx);
    http_upgraded_close(c->u);
    free(c->extra);
    atomic_fetch_sub(&c->h->count, 1);
    free(c);
}

/* Writes what wslay holds and sets the epoll interest from what it wants next. */
static void ws_conn_update(struct ws_conn *c)
{
    struct epoll_event ev = {.data.ptr = c};
    int want_r, want_w;

    if (c->dead)
        return;
    if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0) {
        ws_conn_drop(c, WSLAY_CODE_ABNORMAL_CLOSURE);
        return;
    }
    want_r = wslay_event_want_read(c->ctx);
    want_w = wslay_event_want_write(c->ctx);
    if (!want_r && !want_w && !wslay_event_get_close_received(c->ctx) && !c->draining) {
        /* We closed (a message past the cap, a protocol error) while the client may still be
         * sending: closing the socket now would reset it before it reads our close frame. */
        c->draining = true;
        if (!c->close_by)
            c->close_by = clock_mono_ns() + (int64_t)WS_CONN_CLOSE_GRACE_S * 1000000000;
    }
    if (c->draining)
        want_r = 1;
    else if (!want_r && !want_w) {
        ws_conn_drop(c, (uint16_t)wslay_event_get_status_code_received(c->ctx));
        return;
    }
    ev.events = (want_r ? EPOLLIN : 0) | (want_w ? EPOLLOUT : 0) | EPOLLRDHUP;
    if (ev.events != c->events && epoll_ctl(c->h->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = ev.events;
}

/* Reads and drops what a client sends after our close, until it closes too. */
static void ws_conn_drain(struct ws_conn *c)
{
    char sink[65536];
    ssize_t n;

    while ((n = recv(c->fd, sink, sizeof(sink), 0)) > 0)
        ;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        ws_conn_drop(c, (uint16_t)wslay_event_get_status_code_sent(c->ctx));
}

static void ws_conn_io(struct ws_conn *c, uint32_t events)
{
    if (c->draining) {
        ws_conn_drain(c);
        return;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) && wslay_event_want_read(c->ctx) &&
        wslay_event_recv(c->ctx) != 0) {
        ws_conn_drop(c, WSLAY_CODE_ABNORMAL_CLOSURE);
        return;
    }
    if ((events & (EPOLLHUP | EPOLLERR)) && !wslay_event_want_write(c->ctx)) {
        ws_conn_drop(c, WSLAY_CODE_ABNORMAL_CLOSURE);
        return;
    }
    ws_conn_update(c);
}

int ws_conn_send_text(struct ws_conn *c, const char *data, size_t len)
{
    struct wslay_event_msg m = {
        .opcode = WSLAY_TEXT_FRAME, .msg = (const uint8_t *)data, .msg_length = len};

    if (c->dead || wslay_event_get_close_sent(c->ctx))
        return -EPIPE;
    if (c->queued + len > c->h->max_queued) {
        ws_conn_close(c, WSLAY_CODE_POLICY_VIOLATION, "the client reads too slowly");
        return -ENOBUFS;
    }
    if (wslay_event_queue_msg(c->ctx, &m) != 0)
        return -ENOMEM;
    c->queued += len;
    if (!c->dirty) {
        c->dirty = true;
        c->next_dirty = c->h->dirty;
        c->h->dirty = c;
    }
    return 0;
}

void ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason)
{
    size_t n = reason ? strnlen(reason, 123) : 0;

    if (c->dead || wslay_event_get_close_sent(c->ctx))
        return;
    (void)wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason, n);
    c->close_by = clock_mono_ns() + (int64_t)WS_CONN_CLOSE_GRACE_S * 1000000000;
    if (!c->dirty) {
        c->dirty = true;
        c->next_dirty = c->h->dirty;
        c->h->dirty = c;
    }
}

void ws_conn_set_data(struct ws_conn *c, void *data)
{
    c->data = data;
}

void *ws_conn_data(const struct ws_conn *c)
{
    return c->data;
}

size_t ws_hub_count(const struct ws_hub *h)
{
    return atomic_load(&h->count);
}

/* Writes out what tasks and callbacks queued. */
static void ws_hub_flush(struct ws_hub *h)
{
    while (h->dirty) {
        struct ws_conn *c = h->dirty;

        h->dirty = c->next_dirty;
        c->dirty = false;
        ws_conn_update(c);
    }
}

/* Frees the dropped connections; drops those whose close took too long. */
static void ws_hub_sweep(struct ws_hub *h, bool all)
{
    int64_t now = clock_mono_ns();

    for (struct ws_conn *c = h->conns; c; c = c->next) {
        if (!c->dead && (all || (c->close_by && now > c->close_by)))
            ws_conn_drop(c, all ? WSLAY_CODE_GOING_AWAY : WSLAY_CODE_ABNORMAL_CLOSURE);
    }
    for (struct ws_watch **pp = &h->watches; *pp;) {
        struct ws_watch *w = *pp;

        if (!w->fn) {
            *pp = w->next;
            free(w);
        } else {
            pp = &w->next;
        }
    }
    for (struct ws_conn **pp = &h->conns; *pp;) {
        struct ws_conn *c = *pp;

        if (c->dead && !c->dirty) {
            *pp = c->next;
            ws_conn_free(c);
        } else {
            pp = &c->next;
        }
    }
}

/* Runs the queued tasks; false when the hub is stopping. */
static bool ws_hub_run_tasks(struct ws_hub *h)
{
    struct ws_task *t;
    uint64_t v;
    bool stopping;

    (void)!read(h->wake, &v, sizeof(v));
    pthread_mutex_lock(&h->lock);
    t = h->tasks;
    h->tasks = h->tail = NULL;
    stopping = h->stopping;
    pthread_mutex_unlock(&h->lock);
    while (t) {
        struct ws_task *next = t->next;

        t->fn(t->arg);
        free(t);
        t = next;
        ws_hub_flush(h);
    }
    return !stopping;
}

static void *ws_hub_main(void *arg)
{
    struct ws_hub *h = arg;
    struct epoll_event evs[64];
    bool running = true;

    while (running) {
        int n = epoll_wait(h->ep, evs, 64, 1000);

        for (int i = 0; i < n; i++) {
            enum ws_kind *k = evs[i].data.ptr;

            if (*k == WS_KIND_CONN) {
                struct ws_conn *c = (struct ws_conn *)k;

                if (!c->dead)
                    ws_conn_io(c, evs[i].events);
            } else if (*k == WS_KIND_WATCH) {
                struct ws_watch *w = (struct ws_watch *)k;

                if (w->fn)
                    w->fn(w->arg, evs[i].events);
            }
            ws_hub_flush(h);
        }
        running = ws_hub_run_tasks(h);
        ws_hub_sweep(h, false);
    }
    ws_hub_run_tasks(h);
    ws_hub_sweep(h, true);
    ws_hub_flush(h);
    ws_hub_sweep(h, true);
    return NULL;
}

struct ws_hub *ws_hub_new(size_t max_msg, size_t max_queued, struct err *e)
{
    struct ws_hub *h = calloc(1, sizeof(*h));
    struct epoll_event ev = {.events = EPOLLIN};

    if (!h) {
        err_set(e, ERR_BUSY, "", "out of memory");
        return NULL;
    }
    h->kind = WS_KIND_WAKE;
    h->max_msg = max_msg;
    h->max_queued = max_queued;
    h->ep = epoll_create1(EPOLL_CLOEXEC);
    h->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ev.data.ptr = h;
    pthread_mutex_init(&h->lock, NULL);
    if (h->ep < 0 || h->wake < 0 || epoll_ctl(h->ep, EPOLL_CTL_ADD, h->wake, &ev) < 0 ||
        pthread_create(&h->thread, NULL, ws_hub_main, h) != 0) {
        err_set(e, ERR_INTERNAL, "", "cannot start the WebSocket thread: %s", strerror(errno));
        if (h->ep >= 0)
            close(h->ep);
        if (h->wake >= 0)
            close(h->wake);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

void ws_hub_free(struct ws_hub *h)
{
    uint64_t one = 1;

    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    pthread_mutex_unlock(&h->lock);
    (void)!write(h->wake, &one, sizeof(one));
    pthread_join(h->thread, NULL);
    while (h->watches) {
        struct ws_watch *w = h->watches;

        h->watches = w->next;
        free(w);
    }
    close(h->ep);
    close(h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int ws_hub_post(struct ws_hub *h, ws_task_fn fn, void *arg)
{
    struct ws_task *t = malloc(sizeof(*t));
    uint64_t one = 1;
    int r = 0;

    if (!t)
        return -ENOMEM;
    *t = (struct ws_task){.fn = fn, .arg = arg};
    pthread_mutex_lock(&h->lock);
    if (h->stopping) {
        r = -ESHUTDOWN;
    } else if (h->tail) {
        h->tail->next = t;
        h->tail = t;
    } else {
        h->tasks = h->tail = t;
    }
    pthread_mutex_unlock(&h->lock);
    if (r < 0)
        free(t);
    else
        (void)!write(h->wake, &one, sizeof(one));
    return r;
}

/* The hub thread's half of ws_hub_attach. */
static void ws_hub_attach_task(void *arg)
{
    struct ws_attach *a = arg;
    struct ws_hub *h = a->h;
    struct ws_conn *c = calloc(1, sizeof(*c));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};

    if (!c || wslay_event_context_server_init(&c->ctx, &ws_conn_callbacks, c) != 0) {
        free(c);
        goto fail;
    }
    c->kind = WS_KIND_CONN;
    c->h = h;
    c->fd = a->fd;
    c->u = a->u;
    c->ops = a->ops;
    c->extra = a->extra;
    c->extra_len = a->extra_len;
    c->events = ev.events;
    wslay_event_config_set_max_recv_msg_length(c->ctx, h->max_msg);
    ev.data.ptr = c;
    (void)fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    if (epoll_ctl(h->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        wslay_event_context_free(c->ctx);
        free(c);
        goto fail;
    }
    atomic_fetch_add(&h->count, 1);
    c->next = h->conns;
    h->conns = c;
    c->ops->on_open(a->arg, c);
    free(a);
    if (c->extra_len && !c->dead) /* the client's first frames came with its request */
        ws_conn_io(c, EPOLLIN);
    return;
fail:
    http_upgraded_close(a->u);
    free(a->extra);
    a->ops->on_open(a->arg, NULL);
    free(a);
}

void ws_hub_attach(struct ws_hub *h, struct http_upgraded *u, int fd, const char *extra,
                   size_t extra_len, const struct ws_conn_ops *ops, void *arg)
{
    struct ws_attach *a = calloc(1, sizeof(*a));

    if (a && extra_len && !(a->extra = malloc(extra_len))) {
        free(a);
        a = NULL;
    }
    if (a) {
        *a = (struct ws_attach){.h = h,
                                .u = u,
                                .fd = fd,
                                .extra = a->extra,
                                .extra_len = extra_len,
                                .ops = ops,
                                .arg = arg};
        if (extra_len)
            memcpy(a->extra, extra, extra_len);
        if (ws_hub_post(h, ws_hub_attach_task, a) == 0)
            return;
        free(a->extra);
        free(a);
    }
    http_upgraded_close(u);
    ops->on_open(arg, NULL);
}

int ws_hub_watch(struct ws_hub *h, int fd, uint32_t events, ws_watch_fn fn, void *arg)
{
    struct ws_watch *w = calloc(1, sizeof(*w));
    struct epoll_event ev = {.events = events};

    if (!w)
        return -ENOMEM;
    *w = (struct ws_watch){.kind = WS_KIND_WATCH, .fd = fd, .fn = fn, .arg = arg};
    ev.data.ptr = w;
    if (epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int r = -errno;

        free(w);
        return r;
    }
    w->next = h->watches;
    h->watches = w;
    return 0;
}

int ws_hub_rewatch(struct ws_hub *h, int fd, uint32_t events)
{
    for (struct ws_watch *w = h->watches; w; w = w->next) {
        if (w->fd == fd && w->fn) {
            struct epoll_event ev = {.events = events, .data.ptr = w};

            return epoll_ctl(h->ep, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
        }
    }
    return -ENOENT;
}

void ws_hub_unwatch(struct ws_hub *h, int fd)
{
    for (struct ws_watch **pp = &h->watches; *pp; pp = &(*pp)->next) {
        struct ws_watch *w = *pp;

        if (w->fd == fd && w->fn) { /* freed by the sweep: an event of this round may name it */
            (void)epoll_ctl(h->ep, EPOLL_CTL_DEL, fd, NULL);
            w->fn = NULL;
            return;
        }
    }
}
