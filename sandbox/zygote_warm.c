/* zygote_warm.c - the warm pool's bookkeeping. */
#include "zygote_warm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "clock.h"
#include "fdio.h"
#include "log.h"

int zygote_warm_init(struct zygote_warm *p, size_t size)
{
    memset(p, 0, sizeof(*p));
    p->size = size;
    p->c = calloc(size + 1, sizeof(*p->c));
    return p->c ? 0 : -ENOMEM;
}

void zygote_warm_done(struct zygote_warm *p)
{
    free(p->c);
    p->c = NULL;
    p->n = 0;
}

bool zygote_warm_is_short(const struct zygote_warm *p, int64_t now)
{
    return p->n < p->size && now >= p->refill_after_ns;
}

void zygote_warm_add(struct zygote_warm *p, const struct zygote_warm_child *c)
{
    if (p->n < p->size)
        p->c[p->n++] = *c;
}

/* Reads child i's "ready" byte when it has come; true when it is ready. */
static bool zygote_warm_poll_ready(struct zygote_warm *p, size_t i)
{
    char b;

    if (!p->c[i].ready && recv(p->c[i].ctl, &b, 1, MSG_DONTWAIT) == 1)
        p->c[i].ready = true;
    return p->c[i].ready;
}

/* Removes child i, keeping the age order. */
static void zygote_warm_remove(struct zygote_warm *p, size_t i)
{
    memmove(&p->c[i], &p->c[i + 1], (p->n - i - 1) * sizeof(p->c[0]));
    p->n--;
}

struct zygote_warm_child zygote_warm_take(struct zygote_warm *p)
{
    struct zygote_warm_child c;
    size_t pick = 0;

    /* A child forked a moment ago may still be joining its cgroup (milliseconds), while older
     * ones are waiting. */
    for (size_t i = 0; i < p->n; i++) {
        if (zygote_warm_poll_ready(p, i)) {
            pick = i;
            break;
        }
    }
    c = p->c[pick];
    zygote_warm_remove(p, pick);
    p->hits++;
    return c;
}

void zygote_warm_discard(struct zygote_warm_child *c)
{
    if (c->init_pid > 0)
        (void)kill(c->init_pid, SIGKILL);
    if (c->pid > 0)
        (void)kill(c->pid, SIGKILL);
    fdio_close(&c->ctl);
}

void zygote_warm_discard_all(struct zygote_warm *p)
{
    for (size_t i = 0; i < p->n; i++)
        zygote_warm_discard(&p->c[i]);
}

void zygote_warm_backoff(struct zygote_warm *p)
{
    p->refill_after_ns = clock_mono_ns() + 1000000000;
}

bool zygote_warm_reaped(struct zygote_warm *p, struct isolate *iso, pid_t pid, int status)
{
    for (size_t i = 0; i < p->n; i++) {
        struct zygote_warm_child *c = &p->c[i];

        if (c->pid != pid)
            continue;
        /* A warm child died before its job: set-up failed or someone killed it. Back off
         * before forking more, so a broken layer cannot make us fork in a loop. */
        log_warn("warm child %d died during set-up (%s %d), ignoring", (int)pid,
                 WIFSIGNALED(status) ? "signal" : "exit code",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        c->pid = 0;
        zygote_warm_discard(c);
        isolate_slot_give(iso, c->slot);
        zygote_warm_remove(p, i);
        p->setup_deaths++;
        zygote_warm_backoff(p);
        return true;
    }
    return false;
}

int zygote_warm_stats(struct zygote_warm *p, size_t running, char *out, size_t size)
{
    size_t ready = 0;
    int n;

    for (size_t i = 0; i < p->n; i++)
        ready += zygote_warm_poll_ready(p, i);
    n = snprintf(out, size,
                 "{\"size\":%zu,\"waiting\":%zu,\"ready\":%zu,\"hits\":%llu,\"misses\":%llu,"
                 "\"setup_deaths\":%llu,\"running\":%zu}",
                 p->size, p->n, ready, (unsigned long long)p->hits, (unsigned long long)p->misses,
                 (unsigned long long)p->setup_deaths, running);
    return n < 0 || (size_t)n >= size ? -1 : n;
}
