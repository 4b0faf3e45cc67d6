/* store.c - id table, history and eviction shared by the agent's executions and the
 * orchestrator's jobs (see store.h). */
#include "store.h"

#include <assert.h>
#include <string.h>

/* FNV-1a: ids are random UUIDs, anything cheap spreads them. */
static unsigned store_hash(const char *id)
{
    unsigned h = 2166136261u;

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % STORE_BUCKETS;
}

void store_init(struct store *s, const struct store_ops *ops)
{
    memset(s, 0, sizeof(*s));
    s->ops = ops;
}

void store_done(struct store *s)
{
    while (s->newest) {
        struct store_node *n = s->newest;

        store_remove(s, n);
        s->ops->release(n);
    }
}

void store_insert(struct store *s, struct store_node *n, const char *id)
{
    unsigned h = store_hash(id);

    n->id = id;
    n->hnext = s->buckets[h];
    s->buckets[h] = n;
    n->newer = NULL;
    n->older = s->newest;
    if (s->newest)
        s->newest->newer = n;
    s->newest = n;
    if (!s->oldest)
        s->oldest = n;
    s->count++;
}

struct store_node *store_find(const struct store *s, const char *id)
{
    for (struct store_node *n = s->buckets[store_hash(id)]; n; n = n->hnext) {
        if (!strcmp(n->id, id))
            return n;
    }
    return NULL;
}

void store_remove(struct store *s, struct store_node *n)
{
    struct store_node **pp = &s->buckets[store_hash(n->id)];

    while (*pp && *pp != n)
        pp = &(*pp)->hnext;
    assert(*pp); /* removing an entry that is not listed is a programmer error */
    if (!*pp)
        return;
    *pp = n->hnext;
    if (n->newer)
        n->newer->older = n->older;
    else
        s->newest = n->older;
    if (n->older)
        n->older->newer = n->newer;
    else
        s->oldest = n->newer;
    n->hnext = n->newer = n->older = NULL;
    s->count--;
}

size_t store_evict_if(struct store *s, store_pick_fn pick, void *arg)
{
    struct store_node *n = s->oldest;
    size_t evicted = 0;

    while (n) {
        struct store_node *newer = n->newer; /* n may be freed by release */

        if (s->ops->may_evict(n)) {
            enum store_pick p = pick(n, arg);

            if (p == STORE_STOP)
                break;
            if (p == STORE_EVICT) {
                store_remove(s, n);
                s->ops->release(n);
                evicted++;
            }
        }
        n = newer;
    }
    return evicted;
}

/* store_evict's count: evicts while more than cap remain of what it counts. */
struct store_count_cap {
    size_t left; /* what the cap counts, minus what was evicted so far */
    size_t cap;
};

static enum store_pick store_pick_count(const struct store_node *n, void *arg)
{
    struct store_count_cap *c = arg;

    (void)n;
    if (c->left <= c->cap)
        return STORE_STOP;
    c->left--;
    return STORE_EVICT;
}

size_t store_evict(struct store *s, size_t kept, size_t cap)
{
    struct store_count_cap c = {kept, cap};

    return store_evict_if(s, store_pick_count, &c);
}

size_t store_page(struct store *s, size_t offset, size_t limit, store_match_fn match,
                  store_visit_fn visit, void *arg)
{
    size_t seen = 0;

    STORE_FOREACH(s, n)
    {
        if (match && !match(n, arg))
            continue;
        if (seen >= offset && seen - offset < limit)
            visit(n, arg);
        seen++;
    }
    return seen;
}
