/* registry.h - the table of agents the orchestrator routes to: where each one is, which
 * languages it serves, its state and load.
 *
 * Threads: one mutex guards the table. The upstream thread (dispatch) changes states and
 * in-flight counts, the supervisor thread pids and URLs of spawned agents, HTTP threads read.
 * Functions ending in _locked expect the caller to hold r->lock; the others take it. Agents are
 * never removed, so an index stays valid for the registry's life; `gen` changes whenever a
 * spawned agent is replaced by a new process, so work pinned to the old one can tell. */
#ifndef SANDPIT_REGISTRY_H
#define SANDPIT_REGISTRY_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "lang.h"

#define REGISTRY_MAX_AGENTS  64
#define REGISTRY_MAX_LANGS   32
#define REGISTRY_VERSION_MAX 64 /* bytes of a runtime version string, NUL included */
#define REGISTRY_URL_MAX     128

enum agent_state {
    AGENT_UNKNOWN,  /* configured, not checked yet */
    AGENT_STARTING, /* spawned, its process is (re)starting */
    AGENT_UP,       /* healthy: takes requests */
    AGENT_DOWN,     /* failed a request or a health check */
    AGENT_STOPPED,  /* spawned and stopped for good (shutdown) */
};

/* What --agent says: "lang[,lang...]=URL" or a bare "URL" (languages learned from /health). */
struct agent_spec {
    char url[REGISTRY_URL_MAX];                    /* "http://host:port", no trailing '/' */
    char langs[REGISTRY_MAX_LANGS][LANG_NAME_MAX]; /* canonical names */
    int n_langs;                                   /* 0 for a bare URL */
};

struct agent {
    char url[REGISTRY_URL_MAX];                    /* "" while a spawned agent has no port yet */
    char langs[REGISTRY_MAX_LANGS][LANG_NAME_MAX]; /* canonical names it serves */
    int n_langs;                                   /* entries in langs */
    char versions[REGISTRY_MAX_LANGS][REGISTRY_VERSION_MAX]; /* of langs[i] per /health, or "" */
    bool langs_fixed;       /* given on the command line: kept as is */
    bool langs_learned;     /* a passed health check reported its languages */
    bool spawned;           /* a local process we supervise */
    enum agent_state state; /* see enum agent_state */
    unsigned gen;           /* bumped when a spawned process is replaced */
    int in_flight;          /* requests and jobs routed here, running */
    unsigned long requests; /* requests routed here */
    unsigned long failures; /* transport failures, 5xx, failed checks */
    char last_error[160];   /* why it was last marked down, or "" */
    bool checked;           /* a health check has answered (either way) */
    bool probing;           /* a health check is in flight */
    int64_t next_check_ns;  /* monotonic time of the next health check */
    int64_t last_ok_ns;     /* monotonic time of the last good check */
    int64_t state_since_ns; /* monotonic time of the last state change */
    pid_t pid;              /* spawned: the process, 0 when none */
    unsigned restarts;      /* spawned: processes started after the first */
    /* Its identity per /health, so a restart behind the same URL is noticed: what lives in
     * its memory (sessions) ended with the old process. */
    unsigned epoch;       /* bumped when the agent or its zygote is seen restarted */
    bool ident_known;     /* a check has reported the fields below */
    int64_t started_ns;   /* monotonic start estimated from its uptime_s */
    long zygote_pid;      /* its zygote's pid (last non-zero seen) */
    long zygote_restarts; /* its zygote's restart count */
};

struct registry {
    pthread_mutex_t lock;                     /* guards everything below */
    struct agent agents[REGISTRY_MAX_AGENTS]; /* [0, n) in use */
    int n;                                    /* agents configured or spawned */
    unsigned rr;                              /* round-robin start among equally loaded */
};

/* How a language can be served right now. */
enum registry_avail {
    REGISTRY_LANG_UP,      /* an agent serving it is up */
    REGISTRY_LANG_COMING,  /* none is up, one is starting or not checked yet: worth a wait */
    REGISTRY_LANG_DOWN,    /* agents serve it (or may: languages unknown) but all are down */
    REGISTRY_LANG_UNKNOWN, /* no agent serves it */
};

/* Parses one --agent value into out. 0 or -ERR_INVALID with e saying what is wrong. Pure. */
int registry_parse_spec(const char *spec, struct agent_spec *out, struct err *e);

/* New empty registry (free with registry_free), or NULL on OOM. */
struct registry *registry_new(void);
/* Frees r; NULL is fine. */
void registry_free(struct registry *r);
/* Adds an agent (before threads start, or with the lock held by nobody). A spec whose URL is
 * already present merges its languages into that agent. spawned agents start in
 * AGENT_STARTING without a URL. Returns the index, or -ERR_INVALID (table full) with e. */
int registry_add(struct registry *r, const struct agent_spec *spec, bool spawned, struct err *e);

/* True when a serves lang (canonical). */
bool registry_agent_serves(const struct agent *a, const char *lang);
/* Index of the up agent serving lang with the fewest in flight (ties rotate), skipping
 * `exclude` (-1 for none); -1 when there is none. */
int registry_pick_locked(struct registry *r, const char *lang, int exclude);
/* Index of the up agent serving lang that key ranks first (rendezvous hashing of key and each
 * agent's URL), skipping `exclude`; -1 when there is none. The same key goes to the same agent
 * while it is up; when it goes, only its keys move, and they come back with it. */
int registry_pick_sticky_locked(const struct registry *r, const char *lang, const char *key,
                                int exclude);
/* How lang can be served now (see enum registry_avail). */
enum registry_avail registry_avail_locked(const struct registry *r, const char *lang);
/* Changes a's state; returns true when it changed. */
bool registry_set_state_locked(struct agent *a, enum agent_state st, int64_t now_ns);
/* Static lower-case name of a state ("up", "down", ...). */
const char *registry_state_name(enum agent_state st);

/* The result of parsing an agent's /health body. */
struct registry_health {
    bool ok;                                       /* status "ok": takes work */
    char reason[120];                              /* why not, when !ok */
    char langs[REGISTRY_MAX_LANGS][LANG_NAME_MAX]; /* languages it reports, canonical */
    int n_langs;
    char versions[REGISTRY_MAX_LANGS][REGISTRY_VERSION_MAX]; /* "runtimes" {name: version} */
    bool has_ident;       /* uptime_s and the zygote's pid/restarts were reported */
    double uptime_s;      /* the agent process's */
    long zygote_pid;      /* 0 while its zygote is down */
    long zygote_restarts; /* zygotes started after the first */
};
/* Parses an agent /health answer (HTTP status + body). Pure. */
void registry_parse_health(long status, const char *body, size_t len, struct registry_health *h);

/* Takes a passed health check's languages (unless fixed on the command line) and versions. */
void registry_apply_health_locked(struct agent *a, const struct registry_health *h);

/* Takes an answered health check's identity (any status: a degraded agent reports one too),
 * observed at now_ns; returns true (and bumps a->epoch) when it shows another agent process
 * (started later than the one seen before, by more than a clock's slack) or another zygote
 * (pid or restart count changed). Pure but for a. */
bool registry_note_ident_locked(struct agent *a, const struct registry_health *h, int64_t now_ns);

/* Every agent for GET /health: new JSON array, or NULL on OOM. Takes the lock. */
json_t *registry_agents_json(struct registry *r, int64_t now_ns);
/* Sorted, unique languages with an agent up: new JSON array. Takes the lock. */
json_t *registry_languages_json(struct registry *r);
/* A language as the Nadoo dialect shows it: {name, aliases, version, available, agents_up,
 * agents: [URL]} over every agent serving lang (canonical); version is the first one an agent
 * reported, or null. New reference; NULL when no agent serves lang (or on OOM, *oom set).
 * Takes the lock. */
json_t *registry_language_json(struct registry *r, const char *lang, bool *oom);
/* registry_language_json for every language with an agent up, sorted: new JSON array, or NULL
 * on OOM. Takes the lock. */
json_t *registry_languages_detail_json(struct registry *r);
/* Counts agents up (with a URL) and in total. Takes the lock. */
void registry_counts(struct registry *r, int *up, int *total);
/* True when some agent is not checked yet or its process is starting. Takes the lock. */
bool registry_any_starting(struct registry *r);

#endif
