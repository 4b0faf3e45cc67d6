/* kernels.c - the orchestrator's kernel table (see kernels.h). */
#include "kernels.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct kernels {
    pthread_mutex_t lock;
    struct kernels_entry *e; /* [0, n) */
    size_t n;
};

struct kernels *kernels_new(void)
{
    struct kernels *k = calloc(1, sizeof(*k));

    if (k)
        pthread_mutex_init(&k->lock, NULL);
    return k;
}

void kernels_free(struct kernels *k)
{
    if (!k)
        return;
    pthread_mutex_destroy(&k->lock);
    free(k->e);
    free(k);
}

/* Index of id, or -1. Lock held. */
static long kernels_find_locked(const struct kernels *k, const char *id)
{
    for (size_t i = 0; i < k->n; i++) {
        if (!strcmp(k->e[i].id, id))
            return (long)i;
    }
    return -1;
}

int kernels_add(struct kernels *k, const struct kernels_entry *e)
{
    struct kernels_entry *grown;
    int r = 0;

    pthread_mutex_lock(&k->lock);
    if (kernels_find_locked(k, e->id) >= 0)
        r = -EEXIST;
    else if (k->n >= KERNELS_MAX)
        r = -ERR_BUSY;
    else if (!(grown = realloc(k->e, (k->n + 1) * sizeof(*grown))))
        r = -ENOMEM;
    else {
        k->e = grown;
        k->e[k->n++] = *e;
    }
    pthread_mutex_unlock(&k->lock);
    return r;
}

int kernels_get(struct kernels *k, const char *id, int owner, struct kernels_entry *out)
{
    long i;
    int r = -ENOENT;

    pthread_mutex_lock(&k->lock);
    i = kernels_find_locked(k, id);
    if (i >= 0 && k->e[i].owner == owner) {
        *out = k->e[i];
        r = 0;
    }
    pthread_mutex_unlock(&k->lock);
    return r;
}

void kernels_remove(struct kernels *k, const char *id)
{
    long i;

    pthread_mutex_lock(&k->lock);
    i = kernels_find_locked(k, id);
    if (i >= 0)
        k->e[i] = k->e[--k->n];
    pthread_mutex_unlock(&k->lock);
}

struct kernels_entry *kernels_list(struct kernels *k, int owner, size_t *n)
{
    struct kernels_entry *out;

    *n = 0;
    pthread_mutex_lock(&k->lock);
    out = k->n ? malloc(k->n * sizeof(*out)) : NULL;
    for (size_t i = 0; out && i < k->n; i++) {
        if (k->e[i].owner == owner)
            out[(*n)++] = k->e[i];
    }
    pthread_mutex_unlock(&k->lock);
    if (!*n) {
        free(out);
        out = NULL;
    }
    return out;
}

size_t kernels_count(struct kernels *k)
{
    size_t n;

    pthread_mutex_lock(&k->lock);
    n = k->n;
    pthread_mutex_unlock(&k->lock);
    return n;
}
