/* sessions.h - the orchestrator's session table: its own opaque session ids ("os-<32 hex>")
 * mapped to the agent that holds each session (index, generation, epoch: registry.h), the
 * agent's own id, the API key it was made under and its last known object; and ids that are
 * gone (deleted, their agent restarted or lost them) kept a while as tombstones so they answer
 * 410 rather than 404.
 *
 * Threads: one mutex inside; every function takes it. Entries are handed out as copies. No I/O,
 * no MHD: unit-tested alone (tests/unit/test_sessions.c). */
#ifndef SANDPIT_SESSIONS_H
#define SANDPIT_SESSIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSIONS_MAX          4096 /* entries, tombstones included */
#define SESSIONS_ID_MAX       36   /* "os-" + 32 hex + NUL */
#define SESSIONS_SID_MAX      64   /* bytes of an agent's session id, NUL included */
#define SESSIONS_REASON_MAX   200
#define SESSIONS_GONE_KEEP_NS (3600 * 1000000000LL) /* a tombstone's life */

struct sessions;

/* One session as the table knows it (a copy). */
struct sessions_entry {
    char id[SESSIONS_ID_MAX];         /* ours: "os-<32 hex>" */
    char agent_sid[SESSIONS_SID_MAX]; /* the agent's ("s-<hex>") */
    char parent[SESSIONS_ID_MAX];     /* ours, for a fork; "" otherwise */
    int agent;                        /* registry index of the agent holding it */
    unsigned gen;                     /* that agent's generation when created */
    unsigned epoch;                   /* that agent's identity epoch when created */
    int owner;                        /* api_owner of the creating request */
    int64_t added_ns;                 /* monotonic time it was recorded */
    bool gone;                        /* deleted or lost: later calls answer 410 */
    char reason[SESSIONS_REASON_MAX]; /* why it is gone */
    int64_t gone_ns;                  /* monotonic time it went */
};

/* New empty table (free with sessions_free), or NULL on OOM. */
struct sessions *sessions_new(void);
/* Frees s; NULL is fine. */
void sessions_free(struct sessions *s);

/* True when id (len bytes) has the shape of one of our ids. Pure. */
bool sessions_id_valid(const char *id, size_t len);

/* Records a new live session from tmpl (its id, gone and reason fields ignored) with a fresh
 * id, copied into *out. Makes room by dropping expired tombstones, then the one gone longest.
 * 0, -ENOMEM (no memory or randomness), or -ERR_BUSY when SESSIONS_MAX live sessions exist. */
int sessions_add(struct sessions *s, const struct sessions_entry *tmpl, int64_t now_ns,
                 struct sessions_entry *out);
/* Copies the entry id into *out when owner may see it (its own). 0, or -ERR_NOT_FOUND when
 * there is none (or it is another owner's: the same answer, so ids reveal nothing). A gone
 * entry is found, with gone set. */
int sessions_get(struct sessions *s, const char *id, int owner, struct sessions_entry *out);
/* Marks id gone with reason (a first reason is kept); no-op when unknown. */
void sessions_mark_gone(struct sessions *s, const char *id, const char *reason, int64_t now_ns);
/* Stores a copy of obj (borrowed) as id's last known object. 0 or -ENOMEM (-ENOENT: unknown). */
int sessions_set_last(struct sessions *s, const char *id, json_t *obj);
/* id's last known object: new reference (a copy), or NULL when none. */
json_t *sessions_last(struct sessions *s, const char *id);
/* The live entries of owner, oldest first: new array (free()) of *n entries; NULL with *n 0
 * when none (or on OOM: *oom set). */
struct sessions_entry *sessions_list(struct sessions *s, int owner, size_t *n, bool *oom);
/* Adds the live sessions held by each agent (index < n_agents) to counts[index]. */
void sessions_count_by_agent(struct sessions *s, int *counts, int n_agents);
/* Live and gone entries for /health: new {"live": N, "gone": N}, or NULL on OOM. */
json_t *sessions_stats_json(struct sessions *s);

/* Rewrites an agent's answer object (borrowed) for the client: "session_id" and "parent" (each
 * when present) become e's id and e's parent (or null); "agent" is set to agent_url unless it
 * is NULL. 0 or -ENOMEM. Pure. */
int sessions_rewrite(json_t *obj, const struct sessions_entry *e, const char *agent_url);

#endif
