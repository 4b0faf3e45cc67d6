/* store.h - objects keyed by an id string: a hash table for lookups, a history list newest
 * first for listings, and eviction of the oldest finished entries past a cap.
 *
 * Intrusive, like the kernel's list_head: the owner embeds a struct store_node in its own
 * struct and gets back to it with STORE_ENTRY. The store never allocates and takes no lock:
 * the owner calls it under its own. Two callbacks tell the store whether an entry may be
 * evicted (finished, nobody pointing at it) and how to release one it dropped. */
#ifndef SANDPIT_STORE_H
#define SANDPIT_STORE_H

#include <stdbool.h>
#include <stddef.h>

#define STORE_BUCKETS 4096 /* hash buckets; ids are random, so chains stay short */

/* The owner's struct holding the node n as its member (like the kernel's container_of). */
#define STORE_ENTRY(n, type, member) ((type *)((char *)(n)-offsetof(type, member)))

struct store_node {
    const char *id;           /* borrowed from the owner: fixed while listed */
    struct store_node *hnext; /* hash chain */
    struct store_node *newer; /* history: toward the newest */
    struct store_node *older; /* history: toward the oldest */
};

struct store_ops {
    bool (*may_evict)(const struct store_node *n); /* finished and free to go */
    void (*release)(struct store_node *n);         /* the store dropped n: the owner's ref */
};

struct store {
    const struct store_ops *ops;               /* static */
    struct store_node *buckets[STORE_BUCKETS]; /* hash chains */
    struct store_node *newest;                 /* history head */
    struct store_node *oldest;                 /* history tail */
    size_t count;                              /* entries listed */
};

/* What store_evict_if does with an evictable entry (store_pick_fn's answer). */
enum store_pick { STORE_KEEP, STORE_EVICT, STORE_STOP };
/* Decides on an evictable entry, oldest first; the owner subtracts what n counted when it
 * answers STORE_EVICT. */
typedef enum store_pick (*store_pick_fn)(const struct store_node *n, void *arg);
/* Filters a listing: true when n is wanted. */
typedef bool (*store_match_fn)(const struct store_node *n, void *arg);
/* Receives one entry of a listing's page. */
typedef void (*store_visit_fn)(struct store_node *n, void *arg);

/* Visits the history newest first; n must not be removed inside the loop. */
#define STORE_FOREACH(s, n) for (struct store_node *n = (s)->newest; n; n = n->older)

/* Empties s; ops (static) gives its callbacks. */
void store_init(struct store *s, const struct store_ops *ops);
/* Removes and releases every entry, newest first. */
void store_done(struct store *s);
/* Lists n, keyed by id (borrowed, must outlive the listing), as the newest entry. The id
 * must not be listed already. */
void store_insert(struct store *s, struct store_node *n, const char *id);
/* The entry listed with id, or NULL: borrowed, valid while listed under the owner's lock. */
struct store_node *store_find(const struct store *s, const char *id);
/* Unlists n without releasing it (the caller now owns the store's reference). */
void store_remove(struct store *s, struct store_node *n);
/* Evicts the oldest entries that may_evict allows until kept - evicted <= cap, where kept is
 * what the cap counts (the store's count, or only the finished ones). Entries still running
 * are skipped, never evicted. Returns how many were evicted (removed and released). */
size_t store_evict(struct store *s, size_t kept, size_t cap);
/* Offers the entries that may_evict allows to pick, oldest first, evicting (removing and
 * releasing) those it answers STORE_EVICT for, until it answers STORE_STOP or none is left:
 * for caps the count alone cannot express (bytes). Returns how many were evicted. */
size_t store_evict_if(struct store *s, store_pick_fn pick, void *arg);
/* Pages through the history newest first: visits the entries that match (NULL: every one)
 * from the offset-th to at most limit of them. Returns how many match in all. */
size_t store_page(struct store *s, size_t offset, size_t limit, store_match_fn match,
                  store_visit_fn visit, void *arg);

#endif
