/* zygote_warm.h - the warm pool: children forked and isolated ahead of need, each waiting on
 * its control socket for one job. The zygote forks them (zygote.c); this keeps them in age
 * order, hands out the readiest, notices deaths during set-up and backs refills off after one.
 * Zygote only, single-threaded. */
#ifndef SANDPIT_ZYGOTE_WARM_H
#define SANDPIT_ZYGOTE_WARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "isolate.h"
#include "timeline.h"

/* A child forked and isolated ahead of need, waiting on ctl for its job. */
struct zygote_warm_child {
    pid_t pid;           /* the waiting child */
    pid_t init_pid;      /* its namespace's init, 0 when none */
    int ctl;             /* our end of its control socket */
    int slot;            /* cgroup slot it joined, -1 = none */
    uint64_t oom_before; /* the slot's OOM-kill count when it was taken */
    bool ready;          /* it said so on ctl: its set-up is done */
    /* Its timestamps (--timeline), NULL when off. */
    struct timeline_rec *tl;
};

struct zygote_warm {
    struct zygote_warm_child *c; /* size entries, the first n waiting, oldest first (owned) */
    size_t n, size;
    int64_t refill_after_ns;             /* backoff after a warm child died during set-up */
    uint64_t hits, misses, setup_deaths; /* for /health */
};

/* Room for size children. 0 or -ENOMEM. */
int zygote_warm_init(struct zygote_warm *p, size_t size);
/* Frees the table (the children are the caller's to stop first: zygote_warm_discard_all). */
void zygote_warm_done(struct zygote_warm *p);
/* True when the pool is short and no backoff holds refills back at now (monotonic ns). */
bool zygote_warm_is_short(const struct zygote_warm *p, int64_t now);
/* Adds a child just forked (the pool is short). */
void zygote_warm_add(struct zygote_warm *p, const struct zygote_warm_child *c);
/* Takes the oldest child that finished its set-up, else the oldest (n > 0); counts a hit. */
struct zygote_warm_child zygote_warm_take(struct zygote_warm *p);
/* Kills a child taken out of the pool and closes its socket; its slot is given back when it is
 * reaped. */
void zygote_warm_discard(struct zygote_warm_child *c);
/* Kills every waiting child (the zygote is stopping). */
void zygote_warm_discard_all(struct zygote_warm *p);
/* A process was reaped: when it is a waiting child (it died during set-up), drops it, gives its
 * slot back to iso, logs and backs refills off. True when it was one. */
bool zygote_warm_reaped(struct zygote_warm *p, struct isolate *iso, pid_t pid, int status);
/* Backs refills off for a second (a fork failed, or a child died during set-up). */
void zygote_warm_backoff(struct zygote_warm *p);
/* The pool's state as JSON text for /health into out; running = jobs in flight. Returns the
 * length, or -1 when it does not fit. */
int zygote_warm_stats(struct zygote_warm *p, size_t running, char *out, size_t size);

#endif
