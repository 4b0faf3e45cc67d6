/* outbox.h - processor adjustments: written to disk (fsync'd) before anything else, then
 * delivered to $BACKEND_URL/api/v1/processors/{id}/adjust by one thread with libcurl, retried
 * with exponential backoff until the backend answers 2xx; a 4xx (but 408/429) marks the item
 * rejected. Items left pending are resent after a restart. One agent owns a state directory:
 * outbox_new takes an exclusive flock on <dir>/.lock and fails while another agent holds it. */
#ifndef SANDPIT_OUTBOX_H
#define SANDPIT_OUTBOX_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

#define OUTBOX_MAX_ITEMS 100000

struct outbox;

/* last_error of an item that waits because no backend is configured. */
#define OUTBOX_NO_BACKEND                                                                          \
    "no backend is configured (--backend-url or BACKEND_URL): the adjustment is kept in the "      \
    "outbox and sent once an agent with a backend runs on this state directory"

/* Called once after the first delivery attempt of a new item (or at once when no backend is
 * configured), from the outbox thread, its lock held: item is a new copy of the item (its
 * state "delivered", "rejected" or "pending", http_status, last_error) the callee owns (free
 * with json_decref), NULL when out of memory. Keep it short. */
typedef void (*outbox_first_fn)(void *arg, json_t *item);

/* Opens (creating) dir, takes its lock and loads every item in it; no thread yet (call it
 * before the zygote starts). backend_url may be NULL or "" (items stay queued, saying so).
 * NULL with e set on failure: e->code EBUSY when another agent holds the directory. */
struct outbox *outbox_new(const char *dir, const char *backend_url, struct err *e);
/* Starts the delivery thread. 0, or -errno with e set. */
int outbox_start(struct outbox *o, struct err *e);
/* Stops the thread, releases the lock and frees; items stay on disk. */
void outbox_free(struct outbox *o);
/* Validates body {processor_id, adjustments, reason?, execution_id?}, persists it and queues it.
 * Returns 0 with *id (>= 37 bytes) set and fn registered, or -ERR_INVALID (e names the field),
 * -ERR_BUSY when the outbox is full, -errno on a disk failure. */
int outbox_add(struct outbox *o, json_t *body, char *id, outbox_first_fn fn, void *arg,
               struct err *e);
/* Items, newest first, optionally for one processor: new reference. */
json_t *outbox_list(struct outbox *o, const char *processor_id);
/* {pending, delivered, rejected, backend}: new reference. */
json_t *outbox_health(struct outbox *o);

#endif
