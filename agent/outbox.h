/* outbox.h - processor adjustments: written to disk (fsync'd) before anything else, then
 * delivered to $BACKEND_URL/api/v1/processors/{id}/adjust by one thread with libcurl, retried
 * with exponential backoff until the backend answers 2xx; a 4xx (but 408/429) marks the item
 * rejected. Items left pending are resent after a restart. */
#ifndef SANDPIT_OUTBOX_H
#define SANDPIT_OUTBOX_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

#define OUTBOX_MAX_ITEMS 100000

struct outbox;

/* Called once after the first delivery attempt of a new item, from the outbox thread:
 * delivered is true when the backend took it. Keep it short. */
typedef void (*outbox_first_fn)(void *arg, bool delivered);

/* Opens (creating) dir, loads every item in it and starts the delivery thread. backend_url may
 * be NULL or "" (items stay queued). NULL with e set on failure. */
struct outbox *outbox_new(const char *dir, const char *backend_url, struct err *e);
/* Stops the thread and frees; items stay on disk. */
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
