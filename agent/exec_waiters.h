/* exec_waiters.h - the clients waiting for one execution (a sync POST, a DELETE, long-polls):
 * a list, each with an optional deadline. No locks: the execution manager calls these with its
 * lock held, and every callback runs under it. */
#ifndef SANDPIT_EXEC_WAITERS_H
#define SANDPIT_EXEC_WAITERS_H

#include <stdbool.h>
#include <stdint.h>

/* Called once when the execution finishes or the waiter's deadline passes: keep it short and
 * never call back into exec_mgr. */
typedef void (*exec_done_fn)(void *arg);

struct exec_waiter {
    exec_done_fn fn;     /* called once */
    void *arg;           /* identifies the waiter (the request) */
    int64_t deadline_ns; /* monotonic; 0 = until the execution finishes */
    struct exec_waiter *next;
};

/* Adds a waiter to *list: 0, or -ENOMEM. */
int exec_waiters_add(struct exec_waiter **list, exec_done_fn fn, void *arg, int64_t deadline_ns);
/* Removes the waiter registered with arg, if still there; it is not called. */
void exec_waiters_remove(struct exec_waiter **list, void *arg);
/* Calls and removes the waiters whose deadline is at or before now; returns the earliest
 * deadline left, or earliest when that is sooner (0 = none). */
int64_t exec_waiters_expire(struct exec_waiter **list, int64_t now, int64_t earliest);
/* Calls every waiter and keeps them all (live-output watchers: new bytes came). */
void exec_waiters_notify(struct exec_waiter *list);
/* Removes every waiter, calling each when call is true (the execution finished). */
void exec_waiters_clear(struct exec_waiter **list, bool call);

#endif
