/* keys.h - the orchestrator's API keys (docs/operations.md "API keys"): who may call, kept only
 * as SHA-256 digests, and each key's limits: requests per second (a token bucket), executions
 * at once, the largest timeout, live sessions.
 *
 * Sources: --api-keys (comma-separated keys, no limits) and --api-keys-file (one key per line:
 * `KEY|sha256:HEX [name=N] [rps=R] [burst=B] [concurrent=C] [max_timeout=S] [sessions=N]`, `#`
 * comments), both optional; with neither, nothing is guarded.
 *
 * Threads: parsing happens before any thread; keys_which, keys_take_token and the concurrency
 * counters may then be called from any thread (one mutex). */
#ifndef SANDPIT_KEYS_H
#define SANDPIT_KEYS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define KEYS_MAX      64  /* keys in all */
#define KEYS_KEY_MAX  256 /* bytes of one key */
#define KEYS_NAME_MAX 64  /* bytes of a key's name (logs, metrics) */

struct keys_limits {
    double rps;         /* requests per second refilled, 0 = no limit */
    double burst;       /* bucket size (default: max(1, rps)) */
    long concurrent;    /* executions in flight at once, 0 = no limit */
    double max_timeout; /* seconds a request may ask for, 0 = the server's */
    long sessions;      /* live sessions, 0 = no limit */
};

struct keys_entry {
    uint8_t digest[32]; /* SHA-256 of the key */
    char name[KEYS_NAME_MAX];
    struct keys_limits lim;
    double tokens;          /* the bucket now (under keys.lock) */
    int64_t refilled_ns;    /* when tokens was computed */
    long in_flight;         /* executions now (under keys.lock) */
    unsigned long rejected; /* 429s and refused timeouts */
};

struct keys {
    pthread_mutex_t lock;
    struct keys_entry e[KEYS_MAX];
    int n; /* 0 = no authentication */
};

/* Empty set (nothing guarded); keys_done frees nothing but the lock. */
void keys_init(struct keys *k);
void keys_done(struct keys *k);
/* Adds the comma-separated keys of csv (spaces around each ignored), without limits, named
 * "key1", "key2"... 0 or -ERR_INVALID (field "api-keys"). */
int keys_add_list(struct keys *k, const char *csv, struct err *e);
/* Adds the keys of a keys file's text (see above). -ERR_INVALID names the line in e. */
int keys_add_text(struct keys *k, const char *text, struct err *e);
/* Reads path and adds its keys; refuses a file others may read or write (it holds secrets). */
int keys_add_file(struct keys *k, const char *path, struct err *e);

/* The index of the key given (NULL: none), or -1. Every digest is compared in full. */
int keys_which(const struct keys *k, const char *given);
/* Takes a token from key idx's bucket at monotonic time now_ns: 0, or -ERR_RATE_LIMITED with
 * *retry_after_s set (the seconds until the next token). */
int keys_take_token(struct keys *k, int idx, int64_t now_ns, double *retry_after_s);
/* Counts an execution in flight for key idx: 0, or -ERR_RATE_LIMITED when it has `concurrent`
 * already. keys_end gives it back. */
int keys_begin(struct keys *k, int idx);
void keys_end(struct keys *k, int idx);
/* How many more executions key idx may begin now (its limit less those in flight). */
long keys_room(struct keys *k, int idx);
/* Counts a refusal of key idx (for /metrics). */
void keys_count_rejected(struct keys *k, int idx);
/* The family sandpit_orch_key_rejections_total{key=NAME} (none without keys). 0 or -ENOMEM. */
int keys_metrics(struct keys *k, struct buf *b);

#endif
