/* proxy_engine.c - the shaping proxy's epoll thread (see proxy_engine.h): the event loop, the
 * timer heap, sessions and the commands that open and close them. */
#include "proxy_engine.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proxy_conn.h"
#include "proxy_listen.h"

#define PROXY_EVENTS 64 /* epoll events per wait */

/* -- timers --------------------------------------------------------------------------------- */

static void proxy_engine_heap_place(struct proxy *p, size_t i, struct proxy_conn *c)
{
    p->heap[i] = c;
    c->heap_idx = i;
}

static void proxy_engine_heap_up(struct proxy *p, size_t i)
{
    struct proxy_conn *c = p->heap[i];

    while (i > 0 && p->heap[(i - 1) / 2]->wake_ns > c->wake_ns) {
        proxy_engine_heap_place(p, i, p->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    proxy_engine_heap_place(p, i, c);
}

static void proxy_engine_heap_down(struct proxy *p, size_t i)
{
    struct proxy_conn *c = p->heap[i];

    for (;;) {
        size_t k = 2 * i + 1;

        if (k >= p->heap_n)
            break;
        if (k + 1 < p->heap_n && p->heap[k + 1]->wake_ns < p->heap[k]->wake_ns)
            k++;
        if (p->heap[k]->wake_ns >= c->wake_ns)
            break;
        proxy_engine_heap_place(p, i, p->heap[k]);
        i = k;
    }
    proxy_engine_heap_place(p, i, c);
}

int proxy_engine_reserve(struct proxy *p)
{
    size_t cap = p->heap_cap ? p->heap_cap * 2 : 64;
    struct proxy_conn **h;

    if (p->heap_cap > p->n_conns)
        return 0;
    h = realloc(p->heap, cap * sizeof(*h));
    if (!h)
        return -ENOMEM;
    p->heap = h;
    p->heap_cap = cap;
    return 0;
}

static void proxy_engine_heap_remove(struct proxy *p, struct proxy_conn *c)
{
    size_t i = c->heap_idx;
    struct proxy_conn *last;

    if (i == SIZE_MAX)
        return;
    c->heap_idx = SIZE_MAX;
    last = p->heap[--p->heap_n];
    if (last == c)
        return;
    proxy_engine_heap_place(p, i, last);
    proxy_engine_heap_up(p, i);
    proxy_engine_heap_down(p, last->heap_idx);
}

/* Never fails: proxy_engine_reserve keeps heap_cap above every open connection. */
void proxy_engine_wake(struct proxy *p, struct proxy_conn *c, int64_t when)
{
    if (when == 0) {
        proxy_engine_heap_remove(p, c);
        return;
    }
    if (c->heap_idx == SIZE_MAX) {
        c->wake_ns = when;
        proxy_engine_heap_place(p, p->heap_n++, c);
        proxy_engine_heap_up(p, c->heap_idx);
    } else if (when != c->wake_ns) {
        c->wake_ns = when;
        proxy_engine_heap_up(p, c->heap_idx);
        proxy_engine_heap_down(p, c->heap_idx);
    }
}

/* -- sessions and commands ----------------------------------------------------------------- */

static struct proxy_session *proxy_engine_session_find(struct proxy *p, uint64_t sid)
{
    for (struct proxy_session *s = p->sessions; s; s = s->next) {
        if (s->id == sid)
            return s;
    }
    return NULL;
}

/* Closes everything of s and frees it (its connections' memory goes with the dead list). */
static void proxy_engine_session_destroy(struct proxy *p, struct proxy_session *s)
{
    struct proxy_session **pp = &p->sessions;

    while (s->conns)
        proxy_conn_end(p, s->conns, true);
    proxy_listen_close_all(p, s);
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
    free(s);
}

static void proxy_engine_cmd_run(struct proxy *p, struct proxy_cmd *cmd)
{
    struct proxy_session *s = NULL;
    struct epoll_event ev = {.events = EPOLLIN};

    if (cmd->kind != PROXY_CMD_OPEN) {
        s = proxy_engine_session_find(p, cmd->sid);
        if (!s) {
            if (cmd->kind == PROXY_CMD_ADD)
                close(cmd->fd);
            cmd->rc = -ENOENT;
            return;
        }
    }
    switch (cmd->kind) {
    case PROXY_CMD_OPEN:
        s = cmd->s;
        s->id = ++p->next_sid;
        s->chan_w = (struct proxy_watch){.kind = PROXY_W_CHAN, .obj = s};
        ev.data.ptr = &s->chan_w;
        if (epoll_ctl(p->ep, EPOLL_CTL_ADD, s->chan, &ev) < 0) {
            cmd->rc = -errno;
            return; /* the caller still owns s */
        }
        s->next = p->sessions;
        p->sessions = s;
        cmd->sid = s->id;
        cmd->rc = 0;
        return;
    case PROXY_CMD_ADD:
        cmd->rc = proxy_listen_add(p, s, cmd->lkind, cmd->fd);
        return;
    case PROXY_CMD_COUNTERS:
        if (cmd->out)
            *cmd->out = s->c;
        cmd->rc = 0;
        return;
    case PROXY_CMD_CLOSE:
        if (cmd->out)
            *cmd->out = s->c;
        proxy_engine_session_destroy(p, s);
        cmd->rc = 0;
        return;
    }
}

/* Runs the queued commands; returns true when the proxy is stopping. */
static bool proxy_engine_cmds(struct proxy *p)
{
    struct proxy_cmd *list;
    bool stop;

    pthread_mutex_lock(&p->lock);
    list = p->cmds;
    p->cmds = NULL;
    stop = p->stop;
    pthread_mutex_unlock(&p->lock);
    while (list) {
        struct proxy_cmd *next = list->next;

        proxy_engine_cmd_run(p, list);
        /* After done is set the caller may return and its stack frame (list) is gone. */
        pthread_mutex_lock(&p->lock);
        list->done = true;
        pthread_cond_broadcast(&p->cmd_cond);
        pthread_mutex_unlock(&p->lock);
        list = next;
    }
    return stop;
}

/* Hands finished resolutions to their connections. */
static void proxy_engine_resolutions(struct proxy *p)
{
    struct proxy_rjob *list = proxy_resolver_take(&p->res);
    int64_t now = clock_mono_ns();

    while (list) {
        struct proxy_rjob *j = list;

        list = j->next;
        /* conn is only cleared by this thread, so reading it here needs no lock. */
        if (j->conn && j->conn->state == PROXY_C_RESOLVE) {
            struct proxy_conn *c = j->conn;

            proxy_conn_resolved(p, c, j, now);
        }
        free(j);
    }
}

/* -- the epoll thread ----------------------------------------------------------------------- */

static void proxy_engine_timers(struct proxy *p)
{
    int64_t now = clock_mono_ns();

    /* Bounded, in case a connection keeps asking to be woken in the past. */
    for (int i = 0; i < 4096 && p->heap_n > 0 && p->heap[0]->wake_ns <= now; i++) {
        struct proxy_conn *c = p->heap[0];

        proxy_engine_heap_remove(p, c);
        proxy_conn_timer(p, c, now);
    }
}

static void proxy_engine_reap(struct proxy *p)
{
    while (p->dead) {
        struct proxy_conn *c = p->dead;

        p->dead = c->dead_next;
        proxy_conn_free(c);
    }
}

static int proxy_engine_wait(struct proxy *p, struct epoll_event *ev)
{
    int64_t d = -1;

    if (p->heap_n > 0) {
        d = p->heap[0]->wake_ns - clock_mono_ns();
        if (d < 0)
            d = 0;
    }
    if (p->pwait2) {
        struct timespec ts = {.tv_sec = d / 1000000000, .tv_nsec = d % 1000000000};
        int n = epoll_pwait2(p->ep, ev, PROXY_EVENTS, d < 0 ? NULL : &ts, NULL);

        if (n >= 0 || errno != ENOSYS)
            return n;
        p->pwait2 = false;
    }
    return epoll_wait(p->ep, ev, PROXY_EVENTS, d < 0 ? -1 : (int)((d + PROXY_MS - 1) / PROXY_MS));
}

void *proxy_engine_main(void *arg)
{
    struct proxy *p = arg;
    struct epoll_event ev[PROXY_EVENTS];
    bool stop = false;

    while (!stop) {
        bool cmds = false;
        uint64_t v;
        int n = proxy_engine_wait(p, ev);

        if (n < 0 && errno != EINTR) {
            log_errno(errno, NULL, "proxy: epoll_wait");
            usleep(10000);
        }
        for (int i = 0; i < n; i++) {
            struct proxy_watch *w = ev[i].data.ptr;

            switch (w->kind) {
            case PROXY_W_CMD:
                (void)!read(p->cmd_fd, &v, sizeof(v));
                cmds = true;
                break;
            case PROXY_W_RESOLVED:
                (void)!read(p->res.fd, &v, sizeof(v));
                proxy_engine_resolutions(p);
                break;
            case PROXY_W_CHAN:
                proxy_listen_chan_read(p, w->obj);
                break;
            case PROXY_W_LISTEN:
                proxy_listen_accept(p, w->obj);
                break;
            case PROXY_W_CONN:
                proxy_conn_event(p, w->obj, w->side, ev[i].events);
                break;
            }
        }
        proxy_engine_timers(p);
        if (cmds)
            stop = proxy_engine_cmds(p);
        proxy_engine_reap(p);
    }
    /* Answer whatever was queued meanwhile, so no caller waits forever. */
    proxy_engine_cmds(p);
    proxy_engine_reap(p);
    return NULL;
}

void proxy_engine_done(struct proxy *p)
{
    while (p->sessions)
        proxy_engine_session_destroy(p, p->sessions);
    proxy_engine_reap(p);
}
