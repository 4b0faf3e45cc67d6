/* exec_waiters.c - the list of clients waiting for one execution. */
#include "exec_waiters.h"

#include <errno.h>
#include <stdlib.h>

int exec_waiters_add(struct exec_waiter **list, exec_done_fn fn, void *arg, int64_t deadline_ns)
{
    struct exec_waiter *w = malloc(sizeof(*w));

    if (!w)
        return -ENOMEM;
    w->fn = fn;
    w->arg = arg;
    w->deadline_ns = deadline_ns;
    w->next = *list;
    *list = w;
    return 0;
}

void exec_waiters_remove(struct exec_waiter **list, void *arg)
{
    for (struct exec_waiter **pp = list; *pp; pp = &(*pp)->next) {
        if ((*pp)->arg == arg) {
            struct exec_waiter *w = *pp;

            *pp = w->next;
            free(w);
            return;
        }
    }
}

int64_t exec_waiters_expire(struct exec_waiter **list, int64_t now, int64_t earliest)
{
    struct exec_waiter **pp = list;

    while (*pp) {
        struct exec_waiter *w = *pp;

        if (w->deadline_ns && now >= w->deadline_ns) {
            *pp = w->next;
            w->fn(w->arg);
            free(w);
            continue;
        }
        if (w->deadline_ns && (!earliest || w->deadline_ns < earliest))
            earliest = w->deadline_ns;
        pp = &w->next;
    }
    return earliest;
}

void exec_waiters_notify(struct exec_waiter *list)
{
    for (; list; list = list->next)
        list->fn(list->arg);
}

void exec_waiters_clear(struct exec_waiter **list, bool call)
{
    while (*list) {
        struct exec_waiter *w = *list;

        *list = w->next;
        if (call)
            w->fn(w->arg);
        free(w);
    }
}
