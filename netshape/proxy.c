/* proxy.c - the shaping proxy (see proxy.h and docs/proxy.md).
 *
 * Threads: one epoll thread owns every session, listener and connection; callers talk to it
 * through a command list (mutex + eventfd) and wait for the answer, so nothing but that list
 * is shared. getaddrinfo runs on PROXY_RESOLVERS resolver threads fed by a queue; results come
 * back through a second eventfd. No global mutable state.
 *
 * A connection moves HEAD (reading an HTTP proxy request) -> RESOLVE -> CONNECT -> EGRESS (the
 * CONNECT handshake with an egress proxy, when one is configured) -> RELAY, or goes straight to
 * STALL when the timeout toxic is on. In RELAY each direction ("flow") either splices through a
 * pipe (no per-chunk toxic: the fast path) or reads into a queue of timestamped chunks that the
 * latency schedule, token bucket, slicer and data limit release. Every wait on time goes
 * through one min-heap of connections, whose earliest wake-up is the epoll_pwait2 timeout.
 *
 * Objects closed while a batch of epoll events is being handled may still be named by a later
 * event of that batch: connections are therefore marked dead and freed after the batch, and
 * commands (which close sessions) run after it too. */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "toxics.h"

#define PROXY_QUEUE_MAX     (1 << 20) /* bytes pending per direction before we stop reading */
#define PROXY_PIPE_SIZE     (1 << 20) /* splice pipe asked for (the kernel may give less) */
#define PROXY_READ_MAX      65536     /* one read into a chunk */
#define PROXY_LISTENERS_MAX 16        /* listeners per session */
#define PROXY_ADDRS_MAX     8         /* addresses tried per destination */
#define PROXY_RESOLVERS     2         /* getaddrinfo threads */
#define PROXY_EGRESS_MAX    4096      /* an egress proxy's reply head */
#define PROXY_CONNECT_MS    10000     /* resolve + connect + egress handshake */
#define PROXY_HEAD_MS       30000     /* for the client's request head */
#define PROXY_EVENTS        64        /* epoll events per wait */
#define PROXY_ROUNDS        16        /* read/write rounds per flow per wake-up */
#define PROXY_MS            1000000LL /* ns */

_Static_assert(PROXY_ALLOW_LEN == TOXICS_ENTRY_MAX, "allow-list entry sizes differ");
_Static_assert(sizeof(((struct proxy_conf *)0)->upstream_host) == TOXICS_HOST_MAX,
               "host buffer sizes differ");

enum { PROXY_CLIENT = 0, PROXY_SERVER = 1 };
enum { PROXY_FLOW_UP = 1, PROXY_FLOW_DOWN = 2 };

enum proxy_watch_kind {
    PROXY_W_CMD,      /* the command eventfd */
    PROXY_W_RESOLVED, /* the resolver's eventfd */
    PROXY_W_CHAN,     /* a session's channel */
    PROXY_W_LISTEN,   /* a listener */
    PROXY_W_CONN,     /* one side of a connection */
};

/* What an epoll event points at. */
struct proxy_watch {
    enum proxy_watch_kind kind; /* which object obj is */
    int side;                   /* PROXY_CLIENT or PROXY_SERVER for PROXY_W_CONN */
    void *obj;                  /* the session, listener or connection */
};

/* Bytes waiting in a direction, released no earlier than due_ns. */
struct proxy_chunk {
    struct proxy_chunk *next; /* FIFO */
    int64_t due_ns;           /* from the latency schedule; 0 = now */
    size_t len, off;          /* data[off, len) still to send */
    bool counted;             /* payload (counters, limit_data), not a reply of ours */
    char data[];              /* the bytes */
};

/* One direction of a connection. */
struct proxy_flow {
    int src, dst;                /* PROXY_CLIENT / PROXY_SERVER */
    bool up;                     /* client -> server (bytes_up) */
    bool shaped;                 /* the per-chunk toxics apply */
    bool no_pipe;                /* the pipe could not be made: read()/send() instead */
    struct proxy_chunk *head;    /* oldest chunk */
    struct proxy_chunk *tail;    /* newest chunk */
    size_t queued;               /* bytes in chunks */
    int pipe[2];                 /* splice path, -1 until first used */
    size_t in_pipe;              /* bytes in the pipe */
    size_t pipe_cap;             /* the pipe's size */
    bool eof;                    /* src reached EOF */
    bool shut;                   /* dst shut down for writing */
    bool want_in, want_out;      /* blocked on src readable / dst writable */
    int64_t wake_ns;             /* blocked until then (0 = not on time) */
    long limit_left;             /* limit_data bytes still allowed; -1 = no limit */
    struct toxics_sched sched;   /* latency + jitter */
    struct toxics_bucket bucket; /* bandwidth */
    struct toxics_slicer slicer; /* slicer */
};

enum proxy_conn_state {
    PROXY_C_HEAD,    /* reading the HTTP proxy request head */
    PROXY_C_RESOLVE, /* waiting for the resolver */
    PROXY_C_CONNECT, /* non-blocking connect in progress */
    PROXY_C_EGRESS,  /* waiting for the egress proxy's answer to CONNECT */
    PROXY_C_RELAY,   /* forwarding both ways */
    PROXY_C_STALL,   /* timeout toxic: nothing passes until the connection is closed */
    PROXY_C_DEAD,    /* closed, freed after the current batch */
};

struct proxy_rjob;
struct proxy_session;

struct proxy_conn {
    struct proxy_session *s;        /* owner */
    struct proxy_conn *prev, *next; /* the session's connections */
    struct proxy_conn *dead_next;   /* the dead list */
    enum proxy_conn_state state;    /* see above */
    char kind;                      /* 'H' or 'U' */
    bool forward;                   /* absolute-form request: ends with the response */
    bool wildcard;                  /* allowed by "*" or "*.x" only: public addresses */
    int fd[2];                      /* client, server; -1 = none */
    uint32_t ev[2];                 /* events registered; 0 = not in the epoll set */
    struct proxy_watch w[2];        /* epoll data for each side */
    struct proxy_flow up, down;     /* client -> server, server -> client */
    char *buf;                      /* HEAD: the request read so far (TOXICS_HEAD_MAX) */
    size_t buf_len;                 /* bytes in buf */
    char *ebuf;                     /* EGRESS: the egress proxy's reply (PROXY_EGRESS_MAX) */
    size_t ebuf_len;                /* bytes in ebuf */
    struct toxics_head head;        /* the parsed request (kind 'H') */
    char host[TOXICS_HOST_MAX];     /* destination */
    int port;                       /* destination port */
    struct sockaddr_storage addr[PROXY_ADDRS_MAX]; /* where to connect (destination or egress) */
    socklen_t addr_len[PROXY_ADDRS_MAX];
    int n_addr, next_addr;   /* addresses known, next one to try */
    int last_err;            /* errno of the last failed connect */
    struct proxy_rjob *rjob; /* pending resolution, or NULL */
    int64_t deadline_ns;     /* HEAD / RESOLVE..EGRESS give-up time; 0 = none */
    int64_t reset_ns;        /* reset_after toxic; 0 = none */
    int64_t timeout_ns;      /* timeout toxic; 0 = none */
    int64_t wake_ns;         /* key in the heap */
    size_t heap_idx;         /* SIZE_MAX = not in the heap */
};

struct proxy_listener {
    struct proxy_session *s;     /* owner */
    struct proxy_listener *next; /* the session's listeners */
    int fd;                      /* listening socket (ours) */
    char kind;                   /* 'H' or 'U' */
    bool edge;                   /* EPOLLET after a failed accept (see proxy_accept) */
    struct proxy_watch w;        /* epoll data */
};

struct proxy_session {
    struct proxy *p;                  /* owner */
    struct proxy_session *next;       /* the proxy's sessions */
    uint64_t id;                      /* handed to the caller */
    struct proxy_conf conf;           /* copied at open */
    struct proxy_counters c;          /* totals */
    int chan;                         /* our end of the channel; -1 after EOF */
    struct proxy_watch chan_w;        /* epoll data */
    struct proxy_listener *listeners; /* accepting */
    int n_listeners;
    struct proxy_conn *conns; /* open connections */
    int n_conns;
    uint64_t rng; /* jitter randomness (splitmix64 state) */
};

/* A name to resolve; owned by the queue, then by the done list, freed by the epoll thread. */
struct proxy_rjob {
    struct proxy_rjob *next;
    struct proxy_conn *conn; /* who waits; NULL once that connection is gone (under lock) */
    char host[TOXICS_HOST_MAX];
    int port;
    int rc; /* 0 or an EAI_* code */
    int n;  /* addresses found */
    struct sockaddr_storage addr[PROXY_ADDRS_MAX];
    socklen_t addr_len[PROXY_ADDRS_MAX];
};

enum proxy_cmd_kind { PROXY_CMD_OPEN, PROXY_CMD_ADD, PROXY_CMD_COUNTERS, PROXY_CMD_CLOSE };

/* A call from another thread; lives on the caller's stack until done. */
struct proxy_cmd {
    struct proxy_cmd *next;
    enum proxy_cmd_kind kind;
    struct proxy_session *s;    /* OPEN: the new session (ownership passes to the thread) */
    uint64_t sid;               /* ADD, COUNTERS, CLOSE; OPEN: the id given */
    char lkind;                 /* ADD */
    int fd;                     /* ADD (ownership passes) */
    struct proxy_counters *out; /* COUNTERS, CLOSE; may be NULL */
    int rc;                     /* the answer */
    bool done;                  /* set (under lock) when rc is final */
};

struct proxy {
    int ep;           /* epoll */
    int cmd_fd;       /* eventfd: commands queued */
    int res_fd;       /* eventfd: resolutions done */
    int reserve_fd;   /* spare fd given up to shed a connection at EMFILE */
    bool pwait2;      /* epoll_pwait2 works (else epoll_wait, ms) */
    pthread_t thread; /* the epoll thread */
    bool started;     /* thread runs */
    pthread_t resolver[PROXY_RESOLVERS];
    int n_resolvers;
    pthread_mutex_t lock;       /* guards the fields down to rdone */
    pthread_cond_t cmd_cond;    /* a command is done */
    pthread_cond_t res_cond;    /* a name is queued, or stop */
    struct proxy_cmd *cmds;     /* queued commands */
    bool stop;                  /* proxy_free was called */
    struct proxy_rjob *rq_head; /* names to resolve */
    struct proxy_rjob *rq_tail;
    struct proxy_rjob *rdone; /* resolved, for the epoll thread */
    /* Below: the epoll thread's alone (and proxy_free's, once the thread has ended). */
    struct proxy_session *sessions;    /* open sessions */
    uint64_t next_sid;                 /* last id given */
    struct proxy_conn **heap;          /* connections by wake_ns */
    size_t heap_n, heap_cap;           /* heap_cap >= every open connection */
    size_t n_conns;                    /* open connections, all sessions */
    struct proxy_conn *dead;           /* closed this batch, freed after it */
    char egress_host[TOXICS_HOST_MAX]; /* "" = no egress proxy */
    int egress_port;
    struct proxy_watch cmd_w, res_w; /* epoll data */
    char scratch[PROXY_READ_MAX];    /* read buffer */
};

/* -- timers --------------------------------------------------------------------------------- */

static void proxy_heap_place(struct proxy *p, size_t i, struct proxy_conn *c)
{
    p->heap[i] = c;
    c->heap_idx = i;
}

static void proxy_heap_up(struct proxy *p, size_t i)
{
    struct proxy_conn *c = p->heap[i];

    while (i > 0 && p->heap[(i - 1) / 2]->wake_ns > c->wake_ns) {
        proxy_heap_place(p, i, p->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    proxy_heap_place(p, i, c);
}

static void proxy_heap_down(struct proxy *p, size_t i)
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
        proxy_heap_place(p, i, p->heap[k]);
        i = k;
    }
    proxy_heap_place(p, i, c);
}

static void proxy_heap_remove(struct proxy *p, struct proxy_conn *c)
{
    size_t i = c->heap_idx;
    struct proxy_conn *last;

    if (i == SIZE_MAX)
        return;
    c->heap_idx = SIZE_MAX;
    last = p->heap[--p->heap_n];
    if (last == c)
        return;
    proxy_heap_place(p, i, last);
    proxy_heap_up(p, i);
    proxy_heap_down(p, last->heap_idx);
}

/* Wakes c at when (0 = never). Never fails: heap_cap covers every open connection. */
static void proxy_heap_set(struct proxy *p, struct proxy_conn *c, int64_t when)
{
    if (when == 0) {
        proxy_heap_remove(p, c);
        return;
    }
    if (c->heap_idx == SIZE_MAX) {
        c->wake_ns = when;
        proxy_heap_place(p, p->heap_n++, c);
        proxy_heap_up(p, c->heap_idx);
    } else if (when != c->wake_ns) {
        c->wake_ns = when;
        proxy_heap_up(p, c->heap_idx);
        proxy_heap_down(p, c->heap_idx);
    }
}

/* -- small helpers -------------------------------------------------------------------------- */

static int64_t proxy_min_time(int64_t a, int64_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

static void proxy_nodelay(int fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Reads and drops what is waiting on fd (bounded), so a close that follows sends FIN, not RST. */
static void proxy_drain(struct proxy *p, int fd)
{
    for (int i = 0; i < 4; i++) {
        if (recv(fd, p->scratch, sizeof(p->scratch), MSG_DONTWAIT) <= 0)
            return;
    }
}

/* "host:port", with brackets for IPv6, for messages. */
static void proxy_hostport(char *out, size_t size, const char *host, int port)
{
    bool v6 = strchr(host, ':') != NULL;

    snprintf(out, size, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
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
        proxy_drain(p, c->fd[side]);
    }
    close(c->fd[side]);
    c->fd[side] = -1;
}

static void proxy_flow_clear(struct proxy_flow *f)
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
    f->in_pipe = 0;
}

/* Ends a connection: every fd closed now (reset = RST both sides), memory after the batch. */
static void proxy_conn_end(struct proxy *p, struct proxy_conn *c, bool reset)
{
    struct proxy_session *s = c->s;

    if (c->state == PROXY_C_DEAD)
        return;
    proxy_conn_close_fd(p, c, PROXY_CLIENT, reset);
    proxy_conn_close_fd(p, c, PROXY_SERVER, reset);
    if (c->rjob) {
        pthread_mutex_lock(&p->lock);
        c->rjob->conn = NULL;
        pthread_mutex_unlock(&p->lock);
        c->rjob = NULL;
    }
    proxy_flow_clear(&c->up);
    proxy_flow_clear(&c->down);
    proxy_heap_remove(p, c);
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
}

/* Answers an HTTP proxy client with a short text/plain error and closes it. */
static void proxy_conn_reply(struct proxy *p, struct proxy_conn *c, int status, const char *tag,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void proxy_conn_reply(struct proxy *p, struct proxy_conn *c, int status, const char *tag,
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

/* The destination could not be reached: 502 for an HTTP client, RST for a TCP forward. */
static void proxy_conn_fail(struct proxy *p, struct proxy_conn *c, bool timed_out, const char *why)
{
    char hp[TOXICS_HOST_MAX + 16];

    c->s->c.failed++;
    proxy_hostport(hp, sizeof(hp), c->host, c->port);
    log_debug("proxy session %llu: cannot reach '%s': %s", (unsigned long long)c->s->id, hp, why);
    if (c->kind == 'H')
        proxy_conn_reply(p, c, timed_out ? 504 : 502, "upstream-failed",
                         "sandpit proxy: cannot reach %s: %s\n", hp, why);
    else
        proxy_conn_end(p, c, true);
}

/* -- chunks --------------------------------------------------------------------------------- */

/* Queues n bytes that arrived at now; the flow's latency schedule (if shaped) sets their due
 * time. 0 or -ENOMEM. */
static int proxy_flow_push(struct proxy_flow *f, const void *data, size_t n, bool counted,
                           int64_t now)
{
    struct proxy_chunk *ch;

    if (n == 0)
        return 0;
    ch = malloc(sizeof(*ch) + n);
    if (!ch)
        return -ENOMEM;
    memcpy(ch->data, data, n);
    ch->next = NULL;
    ch->len = n;
    ch->off = 0;
    ch->counted = counted;
    ch->due_ns = f->shaped ? toxics_sched_due(&f->sched, now) : 0;
    if (f->tail)
        f->tail->next = ch;
    else
        f->head = ch;
    f->tail = ch;
    f->queued += n;
    return 0;
}

static void proxy_flow_count(struct proxy_conn *c, struct proxy_flow *f, size_t n)
{
    if (f->up)
        c->s->c.bytes_up += n;
    else
        c->s->c.bytes_down += n;
}

/* Sends from the oldest chunk what the toxics allow now. Returns bytes sent, 0 when blocked
 * (f->want_out or f->wake_ns says on what), or -errno. */
static ssize_t proxy_flow_send(struct proxy_conn *c, struct proxy_flow *f, int dst, int64_t now)
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
        proxy_flow_count(c, f, (size_t)w);
        if (f->limit_left >= 0)
            f->limit_left -= (long)w;
    }
    if (ch->off == ch->len) {
        f->head = ch->next;
        if (!f->head)
            f->tail = NULL;
        free(ch);
    }
    return w;
}

/* Sets up the splice pipe on first use; false (and read()/send() from then on) if it cannot. */
static bool proxy_flow_pipe(struct proxy_flow *f)
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
static int proxy_flow_pump(struct proxy *p, struct proxy_conn *c, struct proxy_flow *f, int64_t now)
{
    int src = c->fd[f->src], dst = c->fd[f->dst], round;
    bool moved = true;

    f->want_in = f->want_out = false;
    f->wake_ns = 0;
    for (round = 0; moved && round < PROXY_ROUNDS; round++) {
        size_t used = f->queued + f->in_pipe;
        size_t room = used < PROXY_QUEUE_MAX ? PROXY_QUEUE_MAX - used : 0;
        ssize_t n;

        moved = false;
        f->want_in = f->want_out = false;
        f->wake_ns = 0;
        if (f->limit_left == 0)
            return 1;
        if (f->head) {
            n = proxy_flow_send(c, f, dst, now);
            if (n < 0)
                return (int)n;
            moved = n > 0;
        } else if (f->in_pipe > 0) {
            n = splice(f->pipe[0], NULL, dst, NULL, f->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                f->in_pipe -= (size_t)n;
                proxy_flow_count(c, f, (size_t)n);
                moved = true;
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                f->want_out = true;
            } else {
                return n < 0 ? -errno : -EPIPE;
            }
        }
        if (f->eof || room == 0)
            continue;
        /* Unshaped with an empty queue: splice (the queue keeps order until it drains). */
        if (!f->shaped && !f->head && proxy_flow_pipe(f)) {
            size_t space = f->pipe_cap > f->in_pipe ? f->pipe_cap - f->in_pipe : 0;

            if (space == 0)
                continue;
            n = splice(src, NULL, f->pipe[1], NULL, space < room ? space : room,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                f->in_pipe += (size_t)n;
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
                if (proxy_flow_push(f, p->scratch, (size_t)n, true, now) < 0)
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
        f->want_in = !f->eof && f->queued + f->in_pipe < PROXY_QUEUE_MAX;
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

/* -- connection state machine --------------------------------------------------------------- */

/* Registers the events c's state waits for and its next wake-up. Resets c on failure. */
static void proxy_conn_sync(struct proxy *p, struct proxy_conn *c)
{
    uint32_t want[2] = {0, 0};
    int64_t wake = proxy_min_time(c->reset_ns, c->timeout_ns);

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
        wake = proxy_min_time(wake, proxy_min_time(c->up.wake_ns, c->down.wake_ns));
        break;
    default:
        break;
    }
    if (c->state != PROXY_C_RELAY)
        wake = proxy_min_time(wake, c->deadline_ns);
    if (proxy_conn_watch(p, c, PROXY_CLIENT, want[PROXY_CLIENT]) < 0 ||
        proxy_conn_watch(p, c, PROXY_SERVER, want[PROXY_SERVER]) < 0) {
        log_warn("proxy: cannot watch a connection's sockets, resetting it");
        proxy_conn_end(p, c, true);
        return;
    }
    proxy_heap_set(p, c, wake);
}

/* Pumps the flows named by `which` (PROXY_FLOW_*) and ends the connection when it is done. */
static void proxy_conn_relay(struct proxy *p, struct proxy_conn *c, int which, int64_t now)
{
    int r = 0;

    if (which & PROXY_FLOW_UP)
        r = proxy_flow_pump(p, c, &c->up, now);
    if (r == 0 && (which & PROXY_FLOW_DOWN))
        r = proxy_flow_pump(p, c, &c->down, now);
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

/* Both ends are connected: queue what the protocol needs first, then relay. */
static void proxy_conn_start_relay(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    int r = 0;

    if (c->kind == 'H' && c->forward) {
        char *out = malloc(TOXICS_REWRITE_MAX);
        long n = out ? toxics_head_rewrite(c->buf, &c->head, out, TOXICS_REWRITE_MAX) : -ENOMEM;

        r = n < 0 ? (int)n : proxy_flow_push(&c->up, out, (size_t)n, true, now);
        free(out);
    } else if (c->kind == 'H') {
        r = proxy_flow_push(&c->down, established, sizeof(established) - 1, false, now);
    }
    if (r == 0 && c->kind == 'H')
        r = proxy_flow_push(&c->up, c->buf + c->head.head_len, c->buf_len - c->head.head_len, true,
                            now);
    if (r == 0 && c->ebuf)
        r = proxy_flow_push(&c->down, c->ebuf, c->ebuf_len, true, now);
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
    proxy_conn_relay(p, c, PROXY_FLOW_UP | PROXY_FLOW_DOWN, now);
}

/* The server socket is connected: to the destination, or to the egress proxy (send CONNECT). */
static void proxy_conn_connected(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    char req[2 * TOXICS_HOST_MAX + 96], hp[TOXICS_HOST_MAX + 16];
    int n;

    if (!p->egress_host[0]) {
        proxy_conn_start_relay(p, c, now);
        return;
    }
    proxy_hostport(hp, sizeof(hp), c->host, c->port);
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
        proxy_nodelay(fd);
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
static bool proxy_conn_numeric(struct proxy_conn *c, const char *host, int port)
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

/* Sends the 403 for a destination the allow-list refuses. */
static void proxy_conn_deny(struct proxy *p, struct proxy_conn *c, const char *why)
{
    char hp[TOXICS_HOST_MAX + 16];

    c->s->c.denied++;
    proxy_hostport(hp, sizeof(hp), c->host, c->port);
    log_debug("proxy session %llu: denied '%s'", (unsigned long long)c->s->id, hp);
    proxy_conn_reply(p, c, 403, "denied", "sandpit proxy: %s %s\n", hp, why);
}

/* Resolves (off-thread unless numeric) and connects to the destination or the egress proxy. */
static void proxy_conn_resolve(struct proxy *p, struct proxy_conn *c, int64_t now)
{
    const char *host = p->egress_host[0] ? p->egress_host : c->host;
    int port = p->egress_host[0] ? p->egress_port : c->port;
    struct proxy_rjob *j;

    c->deadline_ns = now + PROXY_CONNECT_MS * PROXY_MS;
    if (proxy_conn_numeric(c, host, port)) {
        proxy_conn_try_connect(p, c, now);
        return;
    }
    j = calloc(1, sizeof(*j));
    if (!j) {
        proxy_conn_fail(p, c, false, "out of memory");
        return;
    }
    snprintf(j->host, sizeof(j->host), "%s", host);
    j->port = port;
    j->conn = c;
    c->rjob = j;
    c->state = PROXY_C_RESOLVE;
    pthread_mutex_lock(&p->lock);
    if (p->rq_tail)
        p->rq_tail->next = j;
    else
        p->rq_head = j;
    p->rq_tail = j;
    pthread_cond_signal(&p->res_cond);
    pthread_mutex_unlock(&p->lock);
    proxy_conn_sync(p, c);
}

/* A resolution for c came back (c is alive and waiting). */
static void proxy_conn_resolved(struct proxy *p, struct proxy_conn *c, struct proxy_rjob *j,
                                int64_t now)
{
    bool filtered = false;

    c->rjob = NULL;
    if (j->rc != 0) {
        proxy_conn_fail(p, c, false, gai_strerror(j->rc));
        return;
    }
    c->n_addr = 0;
    c->next_addr = 0;
    for (int i = 0; i < j->n; i++) {
        /* A wildcard entry reaches public addresses only (the egress proxy judges its own). */
        if (c->wildcard && !p->egress_host[0] &&
            toxics_addr_is_internal((const struct sockaddr *)&j->addr[i])) {
            filtered = true;
            continue;
        }
        c->addr[c->n_addr] = j->addr[i];
        c->addr_len[c->n_addr++] = j->addr_len[i];
    }
    if (c->n_addr == 0 && filtered) {
        proxy_conn_deny(p, c,
                        "resolves to an internal address (loopback, link-local), which only an "
                        "exact allowHosts entry may reach");
        return;
    }
    proxy_conn_try_connect(p, c, now);
}

/* Judges the destination against the allow-list and the upstream. */
static void proxy_conn_check(struct proxy *p, struct proxy_conn *c, int64_t now)
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
        proxy_conn_deny(p, c, "is not in allowHosts");
        return;
    }
    c->wildcard = best == TOXICS_ALLOW_WILDCARD;
    if (c->wildcard && proxy_conn_numeric(c, c->host, c->port) &&
        toxics_addr_is_internal((const struct sockaddr *)&c->addr[0])) {
        proxy_conn_deny(p, c,
                        "is an internal address (loopback, link-local), which only an exact "
                        "allowHosts entry may reach");
        return;
    }
    proxy_conn_resolve(p, c, now);
}

/* HEAD: reads the request head, answers errors, or moves on to connecting. */
static void proxy_conn_head(struct proxy *p, struct proxy_conn *c, int64_t now)
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
        proxy_conn_reply(p, c, 431, "bad-request", "sandpit proxy: %s\n", why);
        return;
    }
    if (r < 0) {
        proxy_conn_reply(p, c, 400, "bad-request", "sandpit proxy: %s\n", why);
        return;
    }
    c->forward = c->head.kind == TOXICS_HEAD_FORWARD;
    snprintf(c->host, sizeof(c->host), "%s", c->head.host);
    c->port = c->head.port;
    proxy_conn_check(p, c, now);
}

/* EGRESS: reads the egress proxy's answer to our CONNECT. */
static void proxy_conn_egress(struct proxy *p, struct proxy_conn *c, int64_t now)
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
    proxy_conn_start_relay(p, c, now);
}

/* STALL: the timeout toxic reads and drops everything until the deadline. */
static void proxy_conn_stall(struct proxy *p, struct proxy_conn *c)
{
    ssize_t n = recv(c->fd[PROXY_CLIENT], p->scratch, sizeof(p->scratch), MSG_DONTWAIT);

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        proxy_conn_end(p, c, n < 0);
}

/* Timers of c that are due. */
static void proxy_conn_timer(struct proxy *p, struct proxy_conn *c, int64_t now)
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
            proxy_conn_relay(p, c, which, now);
            return;
        }
    }
    proxy_conn_sync(p, c);
}

/* An epoll event on one side of c. */
static void proxy_conn_event(struct proxy *p, struct proxy_conn *c, int side, uint32_t events)
{
    int64_t now;

    if (c->state == PROXY_C_DEAD)
        return;
    now = clock_mono_ns();
    switch (c->state) {
    case PROXY_C_HEAD:
        proxy_conn_head(p, c, now);
        break;
    case PROXY_C_STALL:
        proxy_conn_stall(p, c);
        break;
    case PROXY_C_CONNECT:
        proxy_conn_connect_done(p, c, now);
        return;
    case PROXY_C_EGRESS:
        proxy_conn_egress(p, c, now);
        break;
    case PROXY_C_RELAY: {
        int which = 0;

        if (events & (EPOLLERR | EPOLLHUP))
            which = PROXY_FLOW_UP | PROXY_FLOW_DOWN;
        if (events & EPOLLIN)
            which |= side == PROXY_CLIENT ? PROXY_FLOW_UP : PROXY_FLOW_DOWN;
        if (events & EPOLLOUT)
            which |= side == PROXY_CLIENT ? PROXY_FLOW_DOWN : PROXY_FLOW_UP;
        proxy_conn_relay(p, c, which, now);
        return;
    }
    default:
        break;
    }
    proxy_conn_sync(p, c);
}

/* -- sessions, listeners, channel ----------------------------------------------------------- */

static void proxy_flow_init(struct proxy_session *s, struct proxy_flow *f, bool up, int64_t now)
{
    const struct proxy_conf *cf = &s->conf;
    bool selected = cf->direction == PROXY_DIR_BOTH ||
                    (up ? cf->direction == PROXY_DIR_UP : cf->direction == PROXY_DIR_DOWN);

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

/* A connection accepted on one of s's listeners. Takes fd. */
static void proxy_conn_accepted(struct proxy *p, struct proxy_session *s, char kind, int fd)
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
    if (p->heap_cap <= p->n_conns) {
        size_t cap = p->heap_cap ? p->heap_cap * 2 : 64;
        struct proxy_conn **h = realloc(p->heap, cap * sizeof(*h));

        if (!h)
            goto fail_oom;
        p->heap = h;
        p->heap_cap = cap;
    }
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
    proxy_flow_init(s, &c->up, true, now);
    proxy_flow_init(s, &c->down, false, now);
    if (cf->reset_after_ms > 0)
        c->reset_ns = now + cf->reset_after_ms * PROXY_MS;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    p->n_conns++;
    proxy_nodelay(fd);
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

/* Switches l between level- and edge-triggered. */
static void proxy_listener_edge(struct proxy *p, struct proxy_listener *l, bool edge)
{
    struct epoll_event ev = {.events = EPOLLIN | (edge ? EPOLLET : 0), .data.ptr = &l->w};

    if (epoll_ctl(p->ep, EPOLL_CTL_MOD, l->fd, &ev) == 0)
        l->edge = edge;
}

/* Accepts what is waiting on l. */
static void proxy_accept(struct proxy *p, struct proxy_listener *l)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), err = errno;

        if (fd >= 0) {
            if (l->edge)
                proxy_listener_edge(p, l, false);
            proxy_conn_accepted(p, l->s, l->kind, fd);
            continue;
        }
        if (err == EINTR || err == ECONNABORTED)
            continue;
        if (err == EAGAIN)
            return;
        if ((err == EMFILE || err == ENFILE) && p->reserve_fd >= 0) {
            /* Out of fds: the spare one takes the connection off the backlog to close it. */
            close(p->reserve_fd);
            fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                close(fd);
            p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        /* Level-triggered, a listener we cannot accept from would spin: until an accept
         * works again only new connections wake us. */
        if (!l->edge) {
            log_errno(err, NULL, "proxy session %llu: accept failed, dropping connections",
                      (unsigned long long)l->s->id);
            proxy_listener_edge(p, l, true);
        }
        return;
    }
}

/* Validates and starts watching a listener for s. Takes fd, even on failure. */
static int proxy_session_listen(struct proxy *p, struct proxy_session *s, char kind, int fd)
{
    struct proxy_listener *l = NULL;
    struct epoll_event ev = {.events = EPOLLIN};
    int acc = 0, type = 0, dom = 0, r = -EINVAL;
    socklen_t len = sizeof(int);

    if ((kind != 'H' && kind != 'U') || (kind == 'U' && !s->conf.upstream_port))
        goto fail;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) < 0 ||
        (dom != AF_INET && dom != AF_INET6))
        goto fail;
    r = -EMFILE;
    if (s->n_listeners >= PROXY_LISTENERS_MAX)
        goto fail;
    r = -ENOMEM;
    l = calloc(1, sizeof(*l));
    if (!l)
        goto fail;
    l->s = s;
    l->fd = fd;
    l->kind = kind;
    l->w = (struct proxy_watch){.kind = PROXY_W_LISTEN, .obj = l};
    ev.data.ptr = &l->w;
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
        epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        r = -errno;
        goto fail;
    }
    l->next = s->listeners;
    s->listeners = l;
    s->n_listeners++;
    return 0;

fail:
    free(l);
    close(fd);
    return r;
}

/* Stops watching and closes the channel (EOF, error, or session end). */
static void proxy_chan_close(struct proxy *p, struct proxy_session *s)
{
    if (s->chan < 0)
        return;
    (void)epoll_ctl(p->ep, EPOLL_CTL_DEL, s->chan, NULL);
    close(s->chan);
    s->chan = -1;
}

/* Reads listener messages from s's channel: 1 byte kind + exactly one fd each. */
static void proxy_chan_read(struct proxy *p, struct proxy_session *s)
{
    for (int k = 0; k < 16 && s->chan >= 0; k++) {
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int) * 8)];
        } cm;
        char kind[8];
        struct iovec iov = {.iov_base = kind, .iov_len = sizeof(kind)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = cm.buf,
                            .msg_controllen = sizeof(cm.buf)};
        int fds[8], nfds = 0, r;
        ssize_t n = recvmsg(s->chan, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        for (struct cmsghdr *h = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; h; h = CMSG_NXTHDR(&mh, h)) {
            if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
                continue;
            for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nfds < 8; i++)
                memcpy(&fds[nfds++], CMSG_DATA(h) + i * sizeof(int), sizeof(int));
        }
        if (n < 0 || (n == 0 && nfds == 0)) {
            /* EOF: the child is done sending; the session goes on. */
            proxy_chan_close(p, s);
            return;
        }
        if (n != 1 || nfds != 1 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
            log_debug("proxy session %llu: malformed channel message (%zd bytes, %d fds)",
                      (unsigned long long)s->id, n, nfds);
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            continue;
        }
        if ((r = proxy_session_listen(p, s, kind[0], fds[0])) < 0)
            log_debug("proxy session %llu: refused a listener: %s", (unsigned long long)s->id,
                      strerror(-r));
    }
}

static struct proxy_session *proxy_session_find(struct proxy *p, uint64_t sid)
{
    for (struct proxy_session *s = p->sessions; s; s = s->next) {
        if (s->id == sid)
            return s;
    }
    return NULL;
}

/* Closes everything of s and frees it (its connections' memory goes with the dead list). */
static void proxy_session_destroy(struct proxy *p, struct proxy_session *s)
{
    struct proxy_session **pp = &p->sessions;

    while (s->conns)
        proxy_conn_end(p, s->conns, true);
    while (s->listeners) {
        struct proxy_listener *l = s->listeners;

        s->listeners = l->next;
        (void)epoll_ctl(p->ep, EPOLL_CTL_DEL, l->fd, NULL);
        close(l->fd);
        free(l);
    }
    proxy_chan_close(p, s);
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
    free(s);
}

/* -- commands and resolutions --------------------------------------------------------------- */

static void proxy_cmd_run(struct proxy *p, struct proxy_cmd *cmd)
{
    struct proxy_session *s = NULL;
    struct epoll_event ev = {.events = EPOLLIN};

    if (cmd->kind != PROXY_CMD_OPEN) {
        s = proxy_session_find(p, cmd->sid);
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
        s->p = p;
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
        cmd->rc = proxy_session_listen(p, s, cmd->lkind, cmd->fd);
        return;
    case PROXY_CMD_COUNTERS:
        if (cmd->out)
            *cmd->out = s->c;
        cmd->rc = 0;
        return;
    case PROXY_CMD_CLOSE:
        if (cmd->out)
            *cmd->out = s->c;
        proxy_session_destroy(p, s);
        cmd->rc = 0;
        return;
    }
}

/* Runs the queued commands; returns true when the proxy is stopping. */
static bool proxy_cmds(struct proxy *p)
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

        proxy_cmd_run(p, list);
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
static void proxy_resolutions(struct proxy *p)
{
    struct proxy_rjob *list;
    int64_t now = clock_mono_ns();

    pthread_mutex_lock(&p->lock);
    list = p->rdone;
    p->rdone = NULL;
    pthread_mutex_unlock(&p->lock);
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

static void *proxy_resolver_main(void *arg)
{
    struct proxy *p = arg;
    uint64_t one = 1;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct proxy_rjob *j;

        while (!p->stop && !p->rq_head)
            pthread_cond_wait(&p->res_cond, &p->lock);
        if (p->stop)
            break;
        j = p->rq_head;
        p->rq_head = j->next;
        if (!p->rq_head)
            p->rq_tail = NULL;
        if (j->conn) {
            struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
            struct addrinfo *res = NULL;
            char port[8];

            pthread_mutex_unlock(&p->lock);
            snprintf(port, sizeof(port), "%d", j->port);
            j->rc = getaddrinfo(j->host, port, &hints, &res);
            for (struct addrinfo *a = j->rc == 0 ? res : NULL; a && j->n < PROXY_ADDRS_MAX;
                 a = a->ai_next) {
                if (a->ai_addrlen > sizeof(j->addr[0]))
                    continue;
                memcpy(&j->addr[j->n], a->ai_addr, a->ai_addrlen);
                j->addr_len[j->n++] = a->ai_addrlen;
            }
            if (j->rc == 0 && j->n == 0)
                j->rc = EAI_NONAME;
            if (res)
                freeaddrinfo(res);
            pthread_mutex_lock(&p->lock);
        }
        j->next = p->rdone;
        p->rdone = j;
        (void)!write(p->res_fd, &one, sizeof(one));
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* -- the epoll thread ----------------------------------------------------------------------- */

static void proxy_timers(struct proxy *p)
{
    int64_t now = clock_mono_ns();

    /* Bounded, in case a connection keeps asking to be woken in the past. */
    for (int i = 0; i < 4096 && p->heap_n > 0 && p->heap[0]->wake_ns <= now; i++) {
        struct proxy_conn *c = p->heap[0];

        proxy_heap_remove(p, c);
        proxy_conn_timer(p, c, now);
    }
}

static void proxy_reap(struct proxy *p)
{
    while (p->dead) {
        struct proxy_conn *c = p->dead;

        p->dead = c->dead_next;
        free(c->buf);
        free(c->ebuf);
        free(c);
    }
}

static int proxy_wait(struct proxy *p, struct epoll_event *ev)
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

static void *proxy_main(void *arg)
{
    struct proxy *p = arg;
    struct epoll_event ev[PROXY_EVENTS];
    bool stop = false;

    while (!stop) {
        bool cmds = false;
        uint64_t v;
        int n = proxy_wait(p, ev);

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
                (void)!read(p->res_fd, &v, sizeof(v));
                proxy_resolutions(p);
                break;
            case PROXY_W_CHAN:
                proxy_chan_read(p, w->obj);
                break;
            case PROXY_W_LISTEN:
                proxy_accept(p, w->obj);
                break;
            case PROXY_W_CONN:
                proxy_conn_event(p, w->obj, w->side, ev[i].events);
                break;
            }
        }
        proxy_timers(p);
        if (cmds)
            stop = proxy_cmds(p);
        proxy_reap(p);
    }
    /* Answer whatever was queued meanwhile, so no caller waits forever. */
    proxy_cmds(p);
    proxy_reap(p);
    return NULL;
}

/* -- public API ----------------------------------------------------------------------------- */

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

struct proxy *proxy_new(const char *egress, struct err *e)
{
    struct proxy *p = calloc(1, sizeof(*p));
    struct epoll_event ev = {.events = EPOLLIN};
    int r;

    if (!p) {
        err_set(e, ERR_UNAVAILABLE, "", "out of memory");
        return NULL;
    }
    p->ep = p->cmd_fd = p->res_fd = p->reserve_fd = -1;
    p->pwait2 = true;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cmd_cond, NULL);
    pthread_cond_init(&p->res_cond, NULL);
    if (egress && *egress &&
        toxics_hostport_parse(egress, strlen(egress), p->egress_host, sizeof(p->egress_host),
                              &p->egress_port, -1) < 0) {
        err_set(e, ERR_INVALID, "egress", "egress '%s' is not host:port", egress);
        goto fail;
    }
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->cmd_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->res_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (p->ep < 0 || p->cmd_fd < 0 || p->res_fd < 0) {
        err_set(e, ERR_UNAVAILABLE, "", "proxy: %s", strerror(errno));
        goto fail;
    }
    p->cmd_w = (struct proxy_watch){.kind = PROXY_W_CMD};
    p->res_w = (struct proxy_watch){.kind = PROXY_W_RESOLVED};
    ev.data.ptr = &p->cmd_w;
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->cmd_fd, &ev) < 0)
        goto fail_errno;
    ev.data.ptr = &p->res_w;
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->res_fd, &ev) < 0)
        goto fail_errno;
    for (; p->n_resolvers < PROXY_RESOLVERS; p->n_resolvers++) {
        if ((r = proxy_thread(&p->resolver[p->n_resolvers], proxy_resolver_main, p)) < 0) {
            errno = -r;
            goto fail_errno;
        }
    }
    if ((r = proxy_thread(&p->thread, proxy_main, p)) < 0) {
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
    pthread_cond_broadcast(&p->res_cond);
    pthread_mutex_unlock(&p->lock);
    if (p->started) {
        (void)!write(p->cmd_fd, &one, sizeof(one));
        pthread_join(p->thread, NULL);
    }
    /* A resolver inside getaddrinfo finishes that call first (bounded by resolv.conf). */
    for (int i = 0; i < p->n_resolvers; i++)
        pthread_join(p->resolver[i], NULL);
    while (p->sessions)
        proxy_session_destroy(p, p->sessions);
    proxy_reap(p);
    while (p->rq_head) {
        struct proxy_rjob *j = p->rq_head;

        p->rq_head = j->next;
        free(j);
    }
    while (p->rdone) {
        struct proxy_rjob *j = p->rdone;

        p->rdone = j->next;
        free(j);
    }
    free(p->heap);
    if (p->reserve_fd >= 0)
        close(p->reserve_fd);
    if (p->res_fd >= 0)
        close(p->res_fd);
    if (p->cmd_fd >= 0)
        close(p->cmd_fd);
    if (p->ep >= 0)
        close(p->ep);
    pthread_cond_destroy(&p->res_cond);
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

int proxy_send_listener(int chan_fd, char kind, int listen_fd)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = {.iov_base = &kind, .iov_len = 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf)};
    struct cmsghdr *h;

    memset(&cm, 0, sizeof(cm));
    h = CMSG_FIRSTHDR(&mh);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &listen_fd, sizeof(int));
    for (;;) {
        if (sendmsg(chan_fd, &mh, MSG_NOSIGNAL) == 1)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
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
