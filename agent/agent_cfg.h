/* agent_cfg.h - the agent's configuration, filled once in main from the option table and
 * read-only afterwards (shared by the HTTP process and the zygote, which re-parses argv). */
#ifndef SANDPIT_AGENT_CFG_H
#define SANDPIT_AGENT_CFG_H

struct agent_cfg {
    const char *host;               /* listen address */
    long port;                      /* listen port; 0 = any free one */
    const char *port_file;          /* where to write the bound port, or NULL */
    long max_concurrent;            /* executions running at once */
    long max_queue;                 /* executions waiting for a slot before 503 */
    double default_timeout;         /* seconds, when the request gives none */
    double max_timeout;             /* seconds, upper bound for a request */
    long max_output_bytes;          /* per stream, default and upper bound */
    const char *preload;            /* comma-separated modules imported by the zygote */
    long history;                   /* finished results kept */
    long history_bytes;             /* bytes the kept finished results may take together */
    const char *work_dir;           /* root of the per-execution working directories */
    const char *harness_dir;        /* directory holding harness/; "" = next to the binary */
    long memory_mb;                 /* RLIMIT_AS per execution */
    long file_size_mb;              /* RLIMIT_FSIZE per execution */
    long open_files;                /* RLIMIT_NOFILE per execution */
    long threads;                   /* HTTP worker threads */
    const char *log_level;          /* debug | info | warn | error */
    const char *state_dir;          /* durable state: the adjustments outbox */
    const char *backend_url;        /* where adjustments go; "" = keep them queued */
    const char *policy;             /* default policy: standard | restricted */
    int allow_override;             /* may a request ask for "standard" when the default is not? */
    const char *restricted_imports; /* comma-separated allow-list, "" = the harness default */
    long pids_limit;                /* processes per execution (cgroup pids.max) */
    long disk_mb;                   /* size of the execution's private /tmp (its working dir) */
    const char *sandbox_user;       /* uid/gid executions drop to when the agent runs as root */
    long sandbox_uid_base;          /* first uid of the per-slot range; 0 = sandbox_user for all */
    int seccomp;                    /* load the seccomp filter */
    long warm_pool;                 /* children forked and isolated ahead of need */
    int prefault;                   /* copy the pages every child copies at once (heap_hot.h) */
    int prewarm;                    /* a throwaway run in each warm child before its job */
    const char *timeline;           /* bench: one JSON line of timestamps per execution here */
    long max_sessions;              /* live sessions at once */
    long drain_s;                   /* SIGTERM: grace for what runs before it is cancelled */
    long session_idle_s;            /* default idle timeout of a session */
    long max_workspaces;            /* named workspaces at once (POST /execute "workspace") */
    long workspace_mb;              /* size of each workspace's tmpfs */
    long files_mb;                  /* bytes of collected files kept for download (state dir) */
    const char *languages;          /* comma-separated runtimes to offer; "" = all installed */
    const char *tools_dir;          /* extra tool directory (TypeScript's tsc); "" = default */
    const char *egress_proxy;       /* host:port the proxy connects through; "" = direct */
    const char *protect_hosts;      /* host[:port],... a wildcard allowHosts never reaches */
    const char *agent_token;        /* shared secret every request must carry; "" = none */
    const char *agent_token_file;   /* file holding it (first line) */
    long zygote_fd;                 /* internal: set when this process is the zygote */
};

#endif
