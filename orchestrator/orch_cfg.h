/* orch_cfg.h - the orchestrator's configuration, filled once in main from the option table
 * and read-only afterwards. */
#ifndef SANDPIT_ORCH_CFG_H
#define SANDPIT_ORCH_CFG_H

#include "cfg.h"

struct orch_cfg {
    const char *host;               /* listen address */
    long port;                      /* listen port; 0 = any free one */
    const char *port_file;          /* where to write the bound port, or NULL */
    struct cfg_list agents;         /* --agent values: "lang[,lang]=URL" or "URL" */
    int spawn_agents;               /* start local agents (also when no --agent is given) */
    long spawn_count;               /* local agents per runtime */
    const char *agent_bin;          /* sandpit-agent to spawn; "" = next to this binary */
    struct cfg_list spawn_args;     /* extra arguments for every spawned agent */
    const char *spawn_state_dir;    /* spawned agent n gets --state-dir <this>/agent-<n> */
    long drain_s;                   /* SIGTERM: grace for what is in flight */
    double health_interval;         /* seconds between health checks of a healthy agent */
    double request_timeout;         /* seconds: the longest wait for an agent */
    double agent_wait;              /* seconds a request waits for a (re)starting agent */
    double start_timeout;           /* seconds to wait for the agents before writing port-file */
    double max_timeout;             /* seconds: the largest `timeout` a request may ask for */
    long max_jobs;                  /* jobs kept in memory; oldest finished evicted */
    long job_retention_s;           /* finished jobs older than this are evicted; 0 = no age */
    const char *db;                 /* the jobs' SQLite database; "" = in spawn_state_dir */
    long job_workers;               /* jobs running at once */
    long job_queue;                 /* jobs waiting for a worker before 503 */
    long http_threads;              /* libmicrohttpd threads */
    const char *log_level;          /* debug | info | warn | error */
    const char *api_keys_file;      /* keys with limits (keys.h), "" = none */
    int metrics_need_key;           /* /metrics behind the keys too */
    const char *api_keys;           /* comma-separated X-API-Key values for /api/v1; "" = none */
    const char *agent_token;        /* the agents' shared secret (after main: the loaded one) */
    const char *agent_token_file;   /* file holding it */
    const char *toolcall_workspace; /* NVIDIA tool calls' shared workspace name; "none" = none */
};

#endif
