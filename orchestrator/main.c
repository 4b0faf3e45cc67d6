/* main.c - sandpit-orchestrator: option table, start-up order, signals, shutdown.
 *
 * Start-up: signals blocked before any thread (SIGCHLD is read by the supervisor, the others
 * here through a signalfd); the agent table from --agent and the spawned runtimes; libcurl's
 * global init (before threads); the upstream loop and its dispatcher; the supervisor, which
 * spawns local agents; the job store; the HTTP threads. The port file is written once every
 * agent has been checked (or --start-timeout has passed), so whoever waits for it can send
 * requests at once.
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting; stop the upstream loop, which completes every
 * pending call (waking every suspended connection); stop the local agents (SIGTERM, up to 5 s,
 * SIGKILL); stop the HTTP threads; exit 0. */
#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "clock.h"
#include "daemon.h"
#include "dispatch.h"
#include "fdio.h"
#include "jobs.h"
#include "keys.h"
#include "log.h"
#include "nadoo.h"
#include "orch_cfg.h"
#include "registry.h"
#include "api.h"
#include "supervisor.h"
#include "token.h"
#include "upstream.h"
#include "ws_name.h"
#include "strx.h"

#define OPT(...) CFG_OPT(struct orch_cfg, __VA_ARGS__)

static const struct cfg_opt orch_opts[] = {
    OPT("host", CFG_STR, 0, 0, "127.0.0.1", host, "IPv4 address to listen on"),
    OPT("port", CFG_INT, 0, 65535, "6000", port, "TCP port; 0 picks a free one"),
    OPT("port-file", CFG_STR, 0, 0, NULL, port_file,
        "write the bound port to this file once the agents are checked"),
    OPT("agent", CFG_LIST, 0, 0, NULL, agents,
        "an agent: LANG[,LANG...]=URL, or a bare URL whose languages come from its /health "
        "(repeatable; env: comma-separated URLs)"),
    OPT("spawn-agents", CFG_BOOL, 0, 0, "0", spawn_agents,
        "start local agents (one per runtime on this machine); the default when no --agent is "
        "given"),
    OPT("spawn-count", CFG_INT, 1, 16, "1", spawn_count, "local agents per runtime"),
    OPT("agent-bin", CFG_STR, 0, 0, "", agent_bin,
        "sandpit-agent binary to spawn (default: next to this binary)"),
    OPT("spawn-arg", CFG_LIST, 0, 0, NULL, spawn_args,
        "extra argument for every spawned agent, e.g. --spawn-arg=--max-concurrent=64 "
        "(repeatable)"),
    OPT("spawn-state-dir", CFG_STR, 0, 0, "/tmp/sandpit-state", spawn_state_dir,
        "spawned agent N keeps its durable state (the adjustments outbox) in DIR/agent-N"),
    OPT("drain-s", CFG_INT, 0, 3600, "30", drain_s,
        "on SIGTERM, new work gets 503 while runs, jobs and calls in flight may finish for this "
        "long; then they end with status shutting_down (a second signal ends the wait)"),
    OPT("health-interval", CFG_DOUBLE, 0.1, 3600, "2", health_interval,
        "seconds between health checks of a healthy agent"),
    OPT("request-timeout", CFG_DOUBLE, 1, 86400, "330", request_timeout,
        "seconds: the longest wait for an agent's answer"),
    OPT("agent-wait", CFG_DOUBLE, 0, 3600, "30", agent_wait,
        "seconds a request waits for a starting or restarting agent of its language"),
    OPT("start-timeout", CFG_DOUBLE, 0, 3600, "30", start_timeout,
        "seconds to wait for the agents at start-up before writing --port-file"),
    OPT("max-timeout", CFG_DOUBLE, 0.001, 86400, "300", max_timeout,
        "seconds: the largest code timeout a request may ask for"),
    OPT("max-jobs", CFG_INT, 1, 10000000, "1000", max_jobs,
        "jobs kept (in memory and in --db); past it the oldest finished ones are evicted"),
    OPT("job-retention-s", CFG_INT, 0, 315360000, "0", job_retention_s,
        "seconds a finished job is kept (in memory and in --db); 0 = no age limit"),
    OPT("db", CFG_STR, 0, 0, "", db,
        "SQLite database keeping the jobs across restarts (default: "
        "<spawn-state-dir>/orchestrator.db; :memory: = none kept)"),
    OPT("job-workers", CFG_INT, 1, 4096, "16", job_workers, "jobs running at once"),
    OPT("job-queue", CFG_INT, 0, 1000000, "1000", job_queue,
        "jobs waiting for a worker before POST /api/run answers 503"),
    OPT("http-threads", CFG_INT, 1, 64, "4", http_threads, "HTTP threads"),
    OPT("log-level", CFG_STR, 0, 0, "info", log_level, "debug, info, warn or error"),
    OPT("api-keys", CFG_STR, 0, 0, "", api_keys,
        "comma-separated API keys; when set (or --api-keys-file), every request but the health "
        "probes, / and /metrics needs one in X-API-Key or Authorization: Bearer (prefer the "
        "environment variable: flags show in ps)"),
    OPT("api-keys-file", CFG_STR, 0, 0, "", api_keys_file,
        "file of API keys, one per line with its limits: KEY|sha256:HEX [name=N] [rps=R] "
        "[burst=B] [concurrent=C] [max_timeout=S] [sessions=N] (mode 600; docs/operations.md)"),
    OPT("metrics-need-key", CFG_BOOL, 0, 0, "0", metrics_need_key,
        "with API keys, /metrics needs one too"),
    OPT("agent-token", CFG_STR, 0, 0, "", agent_token,
        "shared secret sent to every agent in X-Sandpit-Token (prefer --agent-token-file or "
        "$SANDPIT_AGENT_TOKEN); when spawning agents without one, a random one is made"),
    OPT("agent-token-file", CFG_STR, 0, 0, "", agent_token_file,
        "file whose first line is the agents' shared secret"),
    OPT("toolcall-workspace", CFG_STR, 0, 0, "toolcall", toolcall_workspace,
        "workspace the NVIDIA tool calls (POST /execute) share, so a file one writes is there for "
        "the next (routed to one agent by name, run one at a time); \"none\" = each call in a "
        "fresh directory"),
};

#define ORCH_N_OPTS (sizeof(orch_opts) / sizeof(orch_opts[0]))

static const char orch_usage[] =
    "usage: sandpit-orchestrator [options]\n"
    "Routes code-execution requests (the NVIDIA tool-call contract on POST /execute, the job API "
    "on /api/*,\nthe Nadoo dialect on /api/v1/*) to sandpit agents; see docs/orchestrator.md.";

/* Runtimes a spawned agent provides: today the agent embeds Python only. */
static const char *const orch_runtimes[] = {"python"};

/* Finds sandpit-agent next to our own binary (or takes --agent-bin). */
static int main_agent_bin(const char *opt, char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n;

    if (opt && *opt) {
        snprintf(out, size, "%s", opt);
    } else {
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
            return -errno;
        exe[n] = '\0';
        if (snprintf(out, size, "%s/sandpit-agent", dirname(exe)) >= (int)size)
            return -ENAMETOOLONG;
    }
    return access(out, X_OK) < 0 ? -errno : 0;
}

/* Loads the agents' shared secret into cfg->agent_token; spawned agents always get one (a
 * random one when none is configured). 0, or -1 with the reason on stderr. */
static int main_agent_token(struct orch_cfg *cfg, bool spawn)
{
    static char token[TOKEN_MAX + 1];
    struct err e = {0};
    int r = token_load(cfg->agent_token, cfg->agent_token_file, token, sizeof(token), "agent-token",
                       "agent-token-file", &e);

    if (r < 0) {
        fprintf(stderr, "sandpit-orchestrator: --%s: %s\n", e.field, e.msg);
        return -1;
    }
    if (r == 0 && spawn && (r = token_generate(token, sizeof(token))) < 0) {
        fprintf(stderr, "sandpit-orchestrator: cannot make an agent token: %s\n", strerror(-r));
        return -1;
    }
    if (!*token)
        log_warn("no --agent-token: agents are called without X-Sandpit-Token (an agent started "
                 "with a token will answer 401)");
    cfg->agent_token = token;
    return 0;
}

/* True once every spawned agent is up and every configured one has answered a check. */
static bool main_agents_settled(struct registry *reg)
{
    bool settled = true;

    pthread_mutex_lock(&reg->lock);
    for (int i = 0; i < reg->n; i++) {
        const struct agent *a = &reg->agents[i];

        if (a->spawned ? a->state != AGENT_UP : !a->checked)
            settled = false;
    }
    pthread_mutex_unlock(&reg->lock);
    return settled;
}

/* Waits for the agents (bounded by --start-timeout) or a signal; returns the signal number
 * when one arrived, else 0. */
static int main_wait_agents(struct registry *reg, int sfd, double timeout_s)
{
    int64_t deadline = clock_mono_ns() + (int64_t)(timeout_s * 1e9);

    while (!main_agents_settled(reg)) {
        struct pollfd pfd = {.fd = sfd, .events = POLLIN};

        if (clock_mono_ns() >= deadline) {
            log_warn("not every agent is ready after %g s (see GET /health); serving anyway",
                     timeout_s);
            return 0;
        }
        if (poll(&pfd, 1, 20) > 0) {
            struct signalfd_siginfo si;

            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                return (int)si.ssi_signo;
        }
    }
    return 0;
}

/* Fills the registry with the --agent URLs and, when spawning, one entry per runtime and
 * --spawn-count (agent_bin gets the binary's path). Errors go to stderr; 0 or -1. */
static int main_add_agents(const struct orch_cfg *cfg, struct registry *reg, bool spawn,
                           char *agent_bin, size_t bin_size)
{
    struct err e = {0};
    int r;

    for (int i = 0; i < cfg->agents.n; i++) {
        struct agent_spec spec;

        if (registry_parse_spec(cfg->agents.items[i], &spec, &e) < 0 ||
            registry_add(reg, &spec, false, &e) < 0) {
            fprintf(stderr, "sandpit-orchestrator: --agent '%s': %s\n", cfg->agents.items[i],
                    e.msg);
            return -1;
        }
    }
    if (!spawn)
        return 0;
    if ((r = main_agent_bin(cfg->agent_bin, agent_bin, bin_size)) < 0) {
        fprintf(stderr, "sandpit-orchestrator: cannot run the agent binary '%s': %s\n", agent_bin,
                strerror(-r));
        return -1;
    }
    for (size_t k = 0; k < sizeof(orch_runtimes) / sizeof(orch_runtimes[0]); k++) {
        for (long n = 0; n < cfg->spawn_count; n++) {
            struct agent_spec spec = {.n_langs = 1};

            strx_copy(spec.langs[0], sizeof(spec.langs[0]), orch_runtimes[k]);
            if (registry_add(reg, &spec, true, &e) < 0) {
                fprintf(stderr, "sandpit-orchestrator: %s\n", e.msg);
                return -1;
            }
        }
    }
    return 0;
}

/* Opens the jobs' database: --db, else orchestrator.db in --spawn-state-dir (made when
 * missing). 0, or -1 with the reason logged. */
static int main_open_db(const struct orch_cfg *cfg, struct jobs *jobs, const struct keys *keys)
{
    char path[PATH_MAX];
    struct err e = {0};

    if (*cfg->db) {
        strx_copy(path, sizeof(path), cfg->db);
    } else {
        if (mkdir(cfg->spawn_state_dir, 0700) < 0 && errno != EEXIST) {
            log_errno(errno, NULL, "cannot make --spawn-state-dir '%s' for the jobs db",
                      cfg->spawn_state_dir);
            return -1;
        }
        if (snprintf(path, sizeof(path), "%s/orchestrator.db", cfg->spawn_state_dir) >=
            (int)sizeof(path)) {
            log_error("--spawn-state-dir '%s' is too long", cfg->spawn_state_dir);
            return -1;
        }
    }
    if (jobs_open_db(jobs, path, keys, &e) < 0) {
        log_error("jobs db '%s': %s", path, e.msg);
        return -1;
    }
    return 0;
}

/* What the drain waits for: jobs queued or running, and requests being answered. */
struct orch_busy {
    struct api *api;
    struct jobs *jobs;
};

static size_t orch_busy(void *arg)
{
    struct orch_busy *b = arg;
    json_t *st = jobs_stats_json(b->jobs);
    long n = http_srv_in_flight(api_http(b->api));

    n += (long)json_integer_value(json_object_get(st, "queued")) +
         (long)json_integer_value(json_object_get(st, "running"));
    json_decref(st);
    return n > 0 ? (size_t)n : 0;
}

/* SIGTERM: /health/ready says 503 and new work gets 503 while what is in flight may finish for
 * --drain-s; then the upstream loop's stop ends the rest with status shutting_down. */
static void orch_drain(const struct orch_cfg *cfg, struct api *api, struct jobs *jobs, int sfd,
                       int sig)
{
    struct orch_busy b = {api, jobs};
    size_t n;

    http_srv_set_draining(api_http(api));
    n = orch_busy(&b);
    log_info("signal %d received: draining (%zu jobs and requests in flight, up to %ld s)", sig, n,
             cfg->drain_s);
    if (n && (n = daemon_drain(sfd, cfg->drain_s * 1000, orch_busy, &b)) > 0)
        log_warn("drain over with %zu jobs and requests in flight: they end as shutting_down", n);
    log_info("shutting down");
}

int main(int argc, char **argv)
{
    static struct orch_cfg cfg;
    static struct keys keys;
    struct orch_cfg shown;
    char agent_bin[PATH_MAX], desc[4096];
    struct registry *reg = NULL;
    struct upstream *up = NULL;
    struct dispatch *d = NULL;
    struct supervisor *sup = NULL;
    struct jobs *jobs = NULL;
    struct api *api = NULL;
    struct err e = {0};
    bool curl_ready = false, spawn;
    enum log_level lvl = LOG_INFO;
    int sfd = -1, rc = 1, r, sig = 0;

    if ((r = daemon_args("sandpit-orchestrator", orch_opts, ORCH_N_OPTS, &cfg, argc, argv,
                         orch_usage, &cfg.log_level, &lvl)) >= 0)
        return r;
    keys_init(&keys);
    if (keys_add_list(&keys, cfg.api_keys, &e) < 0 ||
        (*cfg.api_keys_file && keys_add_file(&keys, cfg.api_keys_file, &e) < 0)) {
        fprintf(stderr, "sandpit-orchestrator: --%s: %s\n", e.field, e.msg);
        return 2;
    }
    if (strcmp(cfg.toolcall_workspace, "none") != 0 && !ws_name_ok(cfg.toolcall_workspace)) {
        fprintf(stderr, "sandpit-orchestrator: --toolcall-workspace: \"none\" or a name matching "
                        "[a-z0-9][a-z0-9_.-]{0,62}\n");
        return 2;
    }
    log_init("orchestrator", (enum log_level)lvl);
    if (main_agent_token(&cfg, cfg.spawn_agents || cfg.agents.n == 0) < 0)
        return 2;
    reg = registry_new();
    if (!reg) {
        fprintf(stderr, "sandpit-orchestrator: out of memory\n");
        return 1;
    }
    spawn = cfg.spawn_agents || cfg.agents.n == 0;
    if (main_add_agents(&cfg, reg, spawn, agent_bin, sizeof(agent_bin)) < 0) {
        rc = 2;
        goto out;
    }

    /* Before any thread: signals go to signalfds (SIGCHLD to the supervisor's). */
    sfd = daemon_signals(true);
    if (sfd < 0) {
        log_errno(-sfd, NULL, "signalfd");
        goto out;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("curl_global_init failed");
        goto out;
    }
    curl_ready = true;
    up = upstream_new(cfg.agent_token, &e);
    if (!up) {
        log_error("%s", e.msg);
        goto out;
    }
    d = dispatch_new(reg, up, &cfg);
    jobs = d ? jobs_new(&cfg, d, up) : NULL;
    if (!d || !jobs) {
        log_error("out of memory");
        goto out;
    }
    if (main_open_db(&cfg, jobs, &keys) < 0)
        goto out;
    if ((r = upstream_start(up)) < 0 || (r = dispatch_start(d)) < 0) {
        log_errno(-r, NULL, "cannot start the upstream thread");
        goto out;
    }
    if (spawn) {
        sup = supervisor_new(reg, &cfg, agent_bin, &e);
        if (!sup) {
            log_error("%s", e.msg);
            goto out;
        }
        if ((r = supervisor_start(sup)) < 0) {
            log_errno(-r, NULL, "cannot start the supervisor thread");
            goto out;
        }
    }
    api = api_new(&cfg, reg, d, jobs, &keys, &e);
    if (!api) {
        log_error("%s", e.msg);
        goto out;
    }
    /* The keys are secrets: the start-up line only says how many there are. */
    shown = cfg;
    shown.api_keys = keys.n ? "(set)" : "";
    shown.agent_token = *cfg.agent_token ? "(set)" : "";
    /* The line shows what is done: spawning without --agent is not the flag's default. */
    shown.spawn_agents = spawn;
    cfg_describe(orch_opts, ORCH_N_OPTS, &shown, desc, sizeof(desc));
    log_info("listening on http://%s:%u config: %s", cfg.host,
             (unsigned)http_srv_port(api_http(api)), desc);
    if (spawn)
        log_info("spawning %ld local agent(s) from '%s': %s", cfg.spawn_count, agent_bin,
                 cfg.spawn_agents ? "--spawn-agents is set" : "no --agent was given");
    sig = main_wait_agents(reg, sfd, cfg.start_timeout);
    if (!sig && cfg.port_file &&
        (r = daemon_write_port_file(cfg.port_file, http_srv_port(api_http(api)))) < 0) {
        log_errno(-r, NULL, "cannot write --port-file '%s'", cfg.port_file);
        goto out;
    }
    if (!sig)
        log_info("ready");
    if (!sig && (sig = daemon_wait_signal(sfd, false)) < 0) {
        log_errno(-sig, NULL, "signalfd read");
        goto out;
    }
    orch_drain(&cfg, api, jobs, sfd, sig);
    rc = 0;
out:
    if (api)
        http_srv_quiesce(api_http(api));
    upstream_stop(up);
    supervisor_free(sup);
    api_free(api);
    jobs_free(jobs);
    dispatch_free(d);
    upstream_free(up);
    registry_free(reg);
    cfg_list_done(&cfg.agents);
    cfg_list_done(&cfg.spawn_args);
    if (curl_ready)
        curl_global_cleanup();
    fdio_close(&sfd);
    if (rc == 0)
        log_info("stopped");
    return rc;
}
