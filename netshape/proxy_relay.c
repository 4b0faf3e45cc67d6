/* proxy_relay.c - the relay and where the per-chunk toxics apply (see proxy_relay.h). */
#include "proxy_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proxy_conn.h"
#include "proxy_engine.h"

#define PROXY_QUEUE_MAX   (1 << 20) /* cost pending per direction before we stop reading */
#define PROXY_SESSION_MAX (4 << 20) /* cost pending in all of a session's flows (docs/proxy.md) */
#define PROXY_RESUME_ROOM (1 << 20) /* starved flows read again once this much room is back */
#define PROXY_PIPE_SIZE   (1 << 20) /* splice pipe asked for (the kernel may give less) */
#define PROXY_ROUNDS      16        /* read/write rounds per flow per wake-up */
#define PROXY_CHUNK_MIN   512       /* a new chunk's room: later small reads may join it */
#define PROXY_COALESCE_NS 1000000   /* reads due within 1 ms of the tail's due time join it */
#define PROXY_MALLOC_SLOP 16        /* malloc's header and alignment, charged per chunk */

_Static_assert(PROXY_SESSION_MAX >= PROXY_QUEUE_MAX, "a session holds at least one full flow");

/* Bytes waiting in a direction, released no earlier than due_ns. */
struct proxy_chunk {
    struct proxy_chunk *next; /* FIFO */
    int64_t due_ns;           /* from the latency schedule; 0 = now */
    size_t len, off;          /* data[off, len) still to send */
    size_t cap;               /* room in data[] */
    bool counted;             /* payload (counters, limit_data), not a reply of ours */
    char data[];              /* the bytes */
};

/* What a chunk with cap bytes of room costs in memory. */
static size_t proxy_chunk_cost(size_t cap)
{
    return (sizeof(struct proxy_chunk) + cap + PROXY_MALLOC_SLOP + 15) & ~(size_t)15;
}

/* Charges (n > 0) or refunds (n < 0) a flow and its session. */
static void proxy_relay_charge(struct proxy_flow *f, long n)
{
    f->cost = (size_t)((long)f->cost + n);
    f->s->queue_cost = (size_t)((long)f->s->queue_cost + n);
}

/* Bytes the flow may still take in: the smaller of its own and its session's room (0 at a
 * cap). Marks the flow starved when the session is what stops it. */
static size_t proxy_relay_room(struct proxy_flow *f)
{
    size_t used = f->cost + f->in_pipe, sused = f->s->queue_cost;
    size_t room = used < PROXY_QUEUE_MAX ? PROXY_QUEUE_MAX - used : 0;
    size_t sroom = sused < PROXY_SESSION_MAX ? PROXY_SESSION_MAX - sused : 0;

    if (room > 0 && sroom == 0) {
        f->starved = true;
        f->s->starved = true;
    }
    return room < sroom ? room : sroom;
}

void proxy_relay_flow_init(struct proxy_session *s, struct proxy_flow *f, bool up, int64_t now)
{
    const struct proxy_conf *cf = &s->conf;
    bool selected = cf->direction == PROXY_DIR_BOTH ||
                    (up ? cf->direction == PROXY_DIR_UP : cf->direction == PROXY_DIR_DOWN);

    f->s = s;
    f->up = up;
    f->src = up ? PROXY_CLIENT : PROXY_SERVER;
    f->dst = up ? PROXY_SERVER : PROXY_CLIENT;
    f->pipe[0] = f->pipe[1] = -1;
    f->shaped = selected && (cf->latency_ms > 0 || cf->jitter_ms > 0 || cf->bandwidth_kbps > 0 ||
                             cf->slice_bytes > 0 || cf->limit_data_bytes > 0);
    f->limit_left = selected && cf->limit_data_bytes > 0 ? cf->limit_data_bytes : -1;
    toxics_sched_init(&f->sched, cf->latency_ms, cf->jitter_ms, toxics_rng_splitmix, &s->rng);
    toxics_bucket_init(&f->bucket, selected ? cf->bandwidth_kbps * 1000 / 8 : 0, now);
    toxics_slicer_init(&f->slicer, cf->slice_bytes, cf->slice_delay_ms);
}

void proxy_relay_flow_clear(struct proxy_flow *f)
{
    while (f->head) {
        struct proxy_chunk *ch = f->head;

        f->head = ch->next;
        free(ch);
    }
    f->tail = NULL;
    f->queued = 0;
    for (int i = 0; i < 2; i++) {
        if (f->pipe[i] >= 0)
            close(f->pipe[i]);
        f->pipe[i] = -1;
    }
    if (f->s)
        proxy_relay_charge(f, -(long)(f->cost + f->in_pipe));
    f->in_pipe = 0;
}

/* Queues n bytes that arrived at now; the flow's latency schedule (if shaped) sets their due
 * time. Bytes due within PROXY_COALESCE_NS of the tail's join it (released with it, at most
 * that much early), so a stream of tiny segments costs one allocation per chunk, not one per
 * segment. 0 or -ENOMEM. */
static int proxy_relay_push(struct proxy_flow *f, const void *data, size_t n, bool counted,
                            int64_t now)
{
    struct proxy_chunk *ch = f->tail;
    int64_t due;
    size_t cap;

    if (n == 0)
        return 0;
    due = f->shaped ? toxics_sched_due(&f->sched, now) : 0;
    if (ch && ch->counted == counted && ch->cap - ch->len >= n &&
        due - ch->due_ns <= PROXY_COALESCE_NS) {
        memcpy(ch->data + ch->len, data, n);
        ch->len += n;
        f->queued += n;
        return 0;
    }
    cap = n < PROXY_CHUNK_MIN ? PROXY_CHUNK_MIN : n;
    ch = malloc(sizeof(*ch) + cap);
    if (!ch)
        return -ENOMEM;
    memcpy(ch->data, data, n);
    ch->next = NULL;
    ch->len = n;
    ch->cap = cap;
    ch->off = 0;
    ch->counted = counted;
    ch->due_ns = due;
    proxy_relay_charge(f, (long)proxy_chunk_cost(cap));
    if (f->tail)
        f->tail->next = ch;
    else
        f->head = ch;
    f->tail = ch;
    f->queued += n;
    return 0;
}

static void proxy_relay_count(struct proxy_conn *c, struct proxy_flow *f, size_t n)
{
    if (f->up)
        c->s->c.bytes_up += n;
    else
        c->s->c.bytes_down += n;
}

/* Sends from the oldest chunk what the toxics allow now. Returns bytes sent, 0 when blocked
 * (f->want_out or f->wake_ns says on what), or -errno. */
static ssize_t proxy_relay_send(struct proxy_conn *c, struct proxy_flow *f, int dst, int64_t now)
{
    struct proxy_chunk *ch = f->head;
    size_t n = ch->len - ch->off;
    int64_t wake = 0;
    ssize_t w;

    if (ch->due_ns > now) {
        f->wake_ns = ch->due_ns;
        return 0;
    }
    if (f->shaped) {
        size_t a = toxics_bucket_avail(&f->bucket, n, now, &wake), b;

        if (a > 0) {
            b = toxics_slicer_avail(&f->slicer, now, &wake);
            a = b < a ? b : a;
        }
        if (a == 0) {
            f->wake_ns = wake;
            return 0;
        }
        if (ch->counted && f->limit_left >= 0 && a > (size_t)f->limit_left)
            a = (size_t)f->limit_left;
        n = a;
    }
    w = send(dst, ch->data + ch->off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            f->want_out = true;
            return 0;
        }
        return -errno;
    }
    if (f->shaped) {
        toxics_bucket_consume(&f->bucket, (size_t)w);
        toxics_slicer_consume(&f->slicer, (size_t)w, now);
    }
    ch->off += (size_t)w;
    f->queued -= (size_t)w;
    if (ch->counted) {
        proxy_relay_count(c, f, (size_t)w);
        if (f->limit_left >= 0)
            f->limit_left -= (long)w;
    }
    if (ch->off == ch->len) {
        f->head = ch->next;
        if (!f->head)
            f->tail = NULL;
        proxy_relay_charge(f, -(long)proxy_chunk_cost(ch->cap));
        free(ch);
    }
    return w;
}

/* Sets up the splice pipe on first use; false (and read()/send() from then on) if it cannot. */
static bool proxy_relay_pipe(struct proxy_flow *f)
{
    int sz;

    if (f->pipe[0] >= 0)
        return true;
    if (f->no_pipe || pipe2(f->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        f->no_pipe = true;
        f->pipe[0] = f->pipe[1] = -1;
        return false;
    }
    /* Best effort: past the per-user pipe quota the kernel keeps its default size. */
    (void)fcntl(f->pipe[1], F_SETPIPE_SZ, PROXY_PIPE_SIZE);
    sz = fcntl(f->pipe[1], F_GETPIPE_SZ);
    f->pipe_cap = sz > 0 ? (size_t)sz : 65536;
    return true;
}

/* Moves what it can through one direction: delivers (queue first, then the pipe), then takes
 * in while there is room. Returns 0, 1 when limit_data is used up, or -errno (a socket error:
 * the connection is reset). Sets want_in / want_out / wake_ns to what it now waits for. */
static int proxy_relay_pump(struct proxy *p, struct proxy_conn *c, struct proxy_flow *f,
                            int64_t now)
{
    int src = c->fd[f->src], dst = c->fd[f->dst], round;
    bool moved = true;

    f->want_in = f->want_out = false;
    f->wake_ns = 0;
    f->starved = false;
    for (round = 0; moved && round < PROXY_ROUNDS; round++) {
        size_t room;
        ssize_t n;

        moved = false;
        f->want_in = f->want_out = false;
        f->wake_ns = 0;
        if (f->limit_left == 0)
            return 1;
        if (f->head) {
            n = proxy_relay_send(c, f, dst, now);
            if (n < 0)
                return (int)n;
            moved = n > 0;
        } else if (f->in_pipe > 0) {
            n = splice(f->pipe[0], NULL, dst, NULL, f->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                f->in_pipe -= (size_t)n;
                f->s->queue_cost -= (size_t)n;
                proxy_relay_count(c, f, (size_t)n);
                moved = true;
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                f->want_out = true;
            } else {
                return n < 0 ? -errno : -EPIPE;
            }
        }
        room = f->eof ? 0 : proxy_relay_room(f);
        if (room == 0)
            continue;
        /* Unshaped with an empty queue: splice (the queue keeps order until it drains). */
        if (!f->shaped && !f->head && proxy_relay_pipe(f)) {
            size_t space = f->pipe_cap > f->in_pipe ? f->pipe_cap - f->in_pipe : 0;

            if (space == 0)
                continue;
            n = splice(src, NULL, f->pipe[1], NULL, space < room ? space : room,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                f->in_pipe += (size_t)n;
                f->s->queue_cost += (size_t)n;
                moved = true;
            } else if (n == 0) {
                f->eof = true;
                moved = true;
            } else if (errno == EAGAIN || errno == EINTR) {
                /* With bytes in the pipe, EAGAIN may mean the pipe's slots are full rather
                 * than an empty socket: wait for the drain, not for readable. */
                f->want_in = f->in_pipe == 0;
            } else {
                return -errno;
            }
        } else {
            n = recv(src, p->scratch, room < sizeof(p->scratch) ? room : sizeof(p->scratch),
                     MSG_DONTWAIT);
            if (n > 0) {
                if (proxy_relay_push(f, p->scratch, (size_t)n, true, now) < 0)
                    return -ENOMEM;
                moved = true;
            } else if (n == 0) {
                f->eof = true;
                moved = true;
            } else if (errno == EAGAIN || errno == EINTR) {
                f->want_in = true;
            } else {
                return -errno;
            }
        }
    }
    if (moved) {
        /* Out of rounds with work left: level-triggered epoll calls us again. */
        f->want_in = !f->eof && proxy_relay_room(f) > 0;
        f->want_out = f->wake_ns == 0 && (f->head || f->in_pipe > 0);
    }
    if (f->limit_left == 0)
        return 1;
    if (f->eof && !f->head && f->in_pipe == 0 && !f->shut) {
        (void)shutdown(dst, SHUT_WR);
        f->shut = true;
    }
    return 0;
}

void proxy_relay_wake_starved(struct proxy *p, struct proxy_session *s)
{
    if (!s->starved || s->queue_cost + PROXY_RESUME_ROOM > PROXY_SESSION_MAX)
        return;
    s->starved = false;
    for (struct proxy_conn *c = s->conns; c; c = c->next) {
        bool any = c->up.starved || c->down.starved;

        if (c->state != PROXY_C_RELAY || !any)
            continue;
        /* Level-triggered: a socket with bytes waiting reports at once. */
        c->up.want_in = c->up.want_in || c->up.starved;
        c->down.want_in = c->down.want_in || c->down.starved;
        c->up.starved = c->down.starved = false;
        proxy_conn_sync(p, c);
    }
}

void proxy_relay_run(struct proxy *p, struct proxy_conn *c, int which, int64_t now)
{
    int r = 0;

    if (which & PROXY_FLOW_UP)
        r = proxy_relay_pump(p, c, &c->up, now);
    if (r == 0 && (which & PROXY_FLOW_DOWN))
        r = proxy_relay_pump(p, c, &c->down, now);
    proxy_relay_wake_starved(p, c->s);
    if (r < 0) {
        /* A reset or error on one side is passed on as a reset of the other. */
        proxy_conn_end(p, c, true);
        return;
    }
    if (r == 1 || (c->up.shut && c->down.shut) || (c->forward && c->down.shut)) {
        proxy_conn_end(p, c, false);
        return;
    }
    proxy_conn_sync(p, c);
}

void proxy_relay_start(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    int r = 0;

    if (c->kind == 'H' && c->forward) {
        char *out = malloc(TOXICS_REWRITE_MAX);
        long n = out ? toxics_head_rewrite(c->buf, &c->head, out, TOXICS_REWRITE_MAX) : -ENOMEM;

        r = n < 0 ? (int)n : proxy_relay_push(&c->up, out, (size_t)n, true, now);
        free(out);
    } else if (c->kind == 'H') {
        r = proxy_relay_push(&c->down, established, sizeof(established) - 1, false, now);
    }
    if (r == 0 && c->kind == 'H')
        r = proxy_relay_push(&c->up, c->buf + c->head.head_len, c->buf_len - c->head.head_len, true,
                             now);
    if (r == 0 && c->ebuf)
        r = proxy_relay_push(&c->down, c->ebuf, c->ebuf_len, true, now);
    free(c->buf);
    free(c->ebuf);
    c->buf = c->ebuf = NULL;
    if (r < 0) {
        log_warn("proxy session %llu: out of memory starting a relay",
                 (unsigned long long)c->s->id);
        proxy_conn_end(p, c, true);
        return;
    }
    c->state = PROXY_C_RELAY;
    c->deadline_ns = 0;
    proxy_relay_run(p, c, PROXY_FLOW_UP | PROXY_FLOW_DOWN, now);
}
