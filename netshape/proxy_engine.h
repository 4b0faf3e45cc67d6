/* proxy_engine.h - the shaping proxy's epoll thread and the state it owns (see proxy.h).
 *
 * Threads: one epoll thread owns every session, listener and connection; callers talk to it
 * through a command list (mutex + eventfd, proxy.c) and wait for the answer, so nothing but
 * that list and the resolver's queue is shared. Every wait on time goes through one min-heap of
 * connections, whose earliest wake-up is the epoll timeout.
 *
 * Objects closed while a batch of epoll events is being handled may still be named by a later
 * event of that batch: connections are therefore marked dead and freed after the batch, and
 * commands (which close sessions) run after it too. */
#ifndef SANDPIT_PROXY_ENGINE_H
#define SANDPIT_PROXY_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy.h"
#include "proxy_guard.h"
#include "proxy_resolver.h"
#include "toxics.h"

#define PROXY_READ_MAX  65536     /* one read into a chunk (the scratch buffer) */
#define PROXY_RESOLVERS 2         /* getaddrinfo threads */
#define PROXY_MS        1000000LL /* ns */

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

struct proxy_conn;
struct proxy_listener;

struct proxy_session {
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
    uint64_t rng;      /* jitter randomness (splitmix64 state) */
    size_t queue_cost; /* what every flow's queue and pipe hold, charged as in proxy_relay.c */
    bool starved;      /* a flow stopped reading because queue_cost reached the session cap */
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
    int reserve_fd;   /* spare fd given up to shed a connection at EMFILE */
    bool pwait2;      /* epoll_pwait2 works (else epoll_wait, ms) */
    pthread_t thread; /* the epoll thread */
    bool started;     /* thread runs */
    pthread_t resolver[PROXY_RESOLVERS];
    int n_resolvers;
    struct proxy_resolver res; /* the resolvers' queue (its own lock) */
    pthread_mutex_t lock;      /* guards cmds and stop */
    pthread_cond_t cmd_cond;   /* a command is done */
    struct proxy_cmd *cmds;    /* queued commands */
    bool stop;                 /* proxy_free was called */
    /* Below: the epoll thread's alone (and proxy_free's, once the thread has ended). */
    struct proxy_session *sessions;    /* open sessions */
    uint64_t next_sid;                 /* last id given */
    struct proxy_conn **heap;          /* connections by wake_ns */
    size_t heap_n, heap_cap;           /* heap_cap >= every open connection */
    size_t n_conns;                    /* open connections, all sessions */
    struct proxy_conn *dead;           /* closed this batch, freed after it */
    char egress_host[TOXICS_HOST_MAX]; /* "" = no egress proxy */
    int egress_port;
    struct proxy_guard guard;        /* what a wildcard never reaches (read-only) */
    struct proxy_watch cmd_w, res_w; /* epoll data */
    char scratch[PROXY_READ_MAX];    /* read buffer */
};

/* The epoll thread's body; arg is the struct proxy. Returns once stop is seen, after answering
 * every queued command. */
void *proxy_engine_main(void *arg);
/* After the epoll thread has ended: closes every session and frees what they held. */
void proxy_engine_done(struct proxy *p);
/* Makes room in the timer heap for one more connection. 0 or -ENOMEM. */
int proxy_engine_reserve(struct proxy *p);
/* Wakes c at when (0 = never). Never fails: the heap has room for every open connection. */
void proxy_engine_wake(struct proxy *p, struct proxy_conn *c, int64_t when);

#endif
