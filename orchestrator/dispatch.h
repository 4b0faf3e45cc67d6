/* dispatch.h - sends calls to agents: picks the least-loaded healthy agent of the language (a
 * call with a sticky key: the agent the key hashes to, registry_pick_sticky_locked), fails over
 * once to another when an agent fails, waits a bounded time for an agent that is (re)starting, and
 * runs the periodic health checks that bring agents back.
 *
 * Threads: dispatch_submit from any thread; everything else happens on the upstream loop
 * thread, including every call's completion callback. */
#ifndef SANDPIT_DISPATCH_H
#define SANDPIT_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "lang.h"
#include "orch_cfg.h"
#include "registry.h"
#include "ids.h"
#include "upstream.h"

enum dcall_outcome {
    DCALL_OK,            /* an agent answered (any HTTP status below 500, or a 503 "busy") */
    DCALL_AGENT_FAILED,  /* the agent failed (transport error or 5xx), and the retry too */
    DCALL_AGENT_TIMEOUT, /* the agent did not answer within the call's timeout */
    DCALL_NO_AGENT,      /* no healthy agent serves the language */
    DCALL_AGENT_GONE,    /* a pinned call's agent was replaced by a new process */
    DCALL_SHUTDOWN,      /* the orchestrator is stopping */
};

/* Bytes of an agent path with its query, NUL included: room for a session file path of 4095
 * bytes (the agent's limit) with every byte percent-encoded, after "/sessions/<id>/files/". */
#define DCALL_PATH_MAX (3 * 4096 + 256)

struct dispatch;
struct dcall;

/* Runs once per call on the loop thread; owns the call afterwards (dcall_free). */
typedef void (*dcall_done_fn)(struct dcall *c);

struct dcall {
    /* set by the caller */
    char lang[LANG_NAME_MAX];      /* route to an agent serving this (when agent < 0) */
    int agent;                     /* pinned agent index (follow-up calls), or -1 */
    unsigned agent_gen;            /* the pinned agent's generation */
    const char *method;            /* static: "GET", "POST", "PUT", "DELETE" */
    char path[DCALL_PATH_MAX];     /* "/execute", "/execution/<id>?wait=30", ... */
    char *body;                    /* owned request body, or NULL */
    size_t body_len;               /* bytes of body */
    char body_type[96];            /* body's Content-Type; "" = application/json */
    long timeout_ms;               /* for the whole transfer */
    bool retry;                    /* may go to a second agent after a failure */
    bool may_wait;                 /* may wait (up to --agent-wait) for a starting agent */
    bool keep_slot;                /* on success keep the in-flight slot (dispatch_release later) */
    char sticky[64];               /* "" or a key (a workspace): same key, same agent while up */
    char req_id[IDS_UUID_LEN + 1]; /* X-Request-Id for logs on both sides */
    int owner;                     /* the API key (api_owner) whose request made the call */
    dcall_done_fn done;            /* completion callback */
    void *arg;                     /* for the callback */
    upstream_data_fn on_data;      /* NULL, or the body streamed (upstream_req.on_data) */
    void *data_arg;                /* for on_data: names the transfer to upstream_unpause */

    /* results, valid in the callback */
    enum dcall_outcome outcome;       /* see enum dcall_outcome */
    long status;                      /* the agent's HTTP status (DCALL_OK) */
    char *resp;                       /* owned response body (NUL-terminated), or NULL */
    size_t resp_len;                  /* bytes of resp */
    char resp_type[128];              /* its Content-Type, "" when none */
    int curl_code;                    /* the last transfer's libcurl code (0: it answered) */
    int answered_by;                  /* index of the last agent tried, or -1 */
    unsigned answered_gen;            /* its generation */
    char agent_url[REGISTRY_URL_MAX]; /* its URL */
    char err[320];                    /* why, when outcome != DCALL_OK */
    int attempts;                     /* agents tried */

    /* private to dispatch.c */
    struct dispatch *d;
    int64_t wait_until_ns; /* parked: give up at this monotonic time; 0 = not parked yet */
    int64_t submit_ns;     /* monotonic: dispatch_submit (the metrics' start) */
    bool sent;             /* went to an agent at least once (its wait was counted) */
    bool slot;             /* holds an in-flight slot on answered_by */
    struct dcall *next;    /* in the parked list */
};

/* New call with defaults (agent -1, GET, 30 s): free with dcall_free. NULL on OOM. */
struct dcall *dcall_new(void);
/* Frees c and its bodies; NULL is fine. */
void dcall_free(struct dcall *c);

/* New dispatcher over the registry and upstream loop (both borrowed for its life). */
struct dispatch *dispatch_new(struct registry *reg, struct upstream *up,
                              const struct orch_cfg *cfg);
/* Arms the health checks; call once after upstream_start. 0 or -errno. */
int dispatch_start(struct dispatch *d);
/* Frees d (after upstream_stop); NULL is fine. */
void dispatch_free(struct dispatch *d);

/* Hands c to the loop thread; c->done runs exactly once there. Any thread. 0, or -ESHUTDOWN /
 * -ENOMEM (c->done will not run; the caller still owns c). */
int dispatch_submit(struct dispatch *d, struct dcall *c);
/* Gives back an in-flight slot kept with keep_slot. Any thread. */
void dispatch_release(struct dispatch *d, int agent, unsigned gen);
/* The dispatcher's /metrics families (agent calls by endpoint and outcome, the wait for an
 * agent by language) in Prometheus text. 0 or -ENOMEM. Any thread. */
int dispatch_metrics(struct dispatch *d, struct buf *b);
/* The upstream loop the calls go through (borrowed), for upstream_post and upstream_unpause. */
struct upstream *dispatch_upstream(struct dispatch *d);
/* Static HTTP-ish name of an outcome for logs ("agent_failed", ...). */
const char *dcall_outcome_name(enum dcall_outcome o);

#endif
