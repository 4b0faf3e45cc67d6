/* main.c - sandpit-agent: option table, start-up order, signals, shutdown.
 *
 * Order matters (STYLE §7): the zygote is started before any thread exists; then the execution
 * manager and the HTTP threads. The same binary re-executed with --zygote-fd is the zygote. */
#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_cfg.h"
#include "cfg.h"
#include "daemon.h"
#include "exec_mgr.h"
#include "fdio.h"
#include "log.h"
#include "outbox.h"
#include "runtime.h"
#include "token.h"
#include "api.h"
#include "sess_mgr.h"
#include "ws_mgr.h"
#include "zyg_client.h"
#include "zygote.h"

#define OPT(...) CFG_OPT(struct agent_cfg, __VA_ARGS__)

static const struct cfg_opt agent_opts[] = {
    OPT("host", CFG_STR, 0, 0, "127.0.0.1", host, "IPv4 address to listen on"),
    OPT("port", CFG_INT, 0, 65535, "8001", port, "TCP port; 0 picks a free one"),
    OPT("port-file", CFG_STR, 0, 0, NULL, port_file, "write the bound port to this file"),
    OPT("max-concurrent", CFG_INT, 1, 4096, "256", max_concurrent, "executions running at once"),
    OPT("max-queue", CFG_INT, 0, 100000, "1024", max_queue,
        "executions waiting for a slot before new ones get 503"),
    OPT("default-timeout", CFG_DOUBLE, 0.001, 86400, "30", default_timeout,
        "seconds, when a request gives no timeout"),
    OPT("max-timeout", CFG_DOUBLE, 0.001, 86400, "300", max_timeout,
        "seconds, the largest timeout a request may ask for"),
    OPT("max-output-bytes", CFG_INT, 1, 1L << 30, "1048576", max_output_bytes,
        "bytes kept per output stream (default and upper bound)"),
    OPT("preload", CFG_STR, 0, 0, "numpy,pandas,matplotlib", preload,
        "modules the zygote imports once (each only if installed)"),
    OPT("history", CFG_INT, 1, 1000000, "1000", history, "finished results kept; oldest evicted"),
    OPT("history-bytes", CFG_INT, 1L << 20, 1L << 40, "268435456", history_bytes,
        "bytes the kept results may take (output as captured); oldest evicted"),
    OPT("work-dir", CFG_STR, 0, 0, "/tmp/sandpit-work", work_dir,
        "root of the per-execution working directories"),
    OPT("harness-dir", CFG_STR, 0, 0, "", harness_dir,
        "directory holding the harness/ package (default: found next to the binary)"),
    OPT("memory-mb", CFG_INT, 64, 1 << 20, "4096", memory_mb,
        "address-space limit per execution, MiB"),
    OPT("file-size-mb", CFG_INT, 1, 1 << 20, "1024", file_size_mb,
        "largest file an execution may write, MiB"),
    OPT("open-files", CFG_INT, 16, 1 << 20, "1024", open_files, "open files per execution"),
    OPT("languages", CFG_STR, 0, 0, "", languages,
        "comma-separated runtimes to offer (e.g. python,c,java); default: every one installed"),
    OPT("tools-dir", CFG_STR, 0, 0, "", tools_dir,
        "extra directory searched for runtime tools (default: runtimes/node_modules/.bin of the "
        "install)"),
    OPT("egress-proxy", CFG_STR, 0, 0, "", egress_proxy,
        "host:port of a CONNECT proxy the network scenarios' proxy reaches the outside through"),
    OPT("protect-hosts", CFG_STR, 0, 0, "", protect_hosts,
        "host[:port],... of our own services (the orchestrator) that a wildcard allowHosts entry "
        "never reaches, on top of private/special ranges and this host's own addresses"),
    OPT("agent-token", CFG_STR, 0, 0, "", agent_token,
        "shared secret every request but /health must carry in X-Sandpit-Token (prefer "
        "--agent-token-file or $SANDPIT_AGENT_TOKEN: argv is visible in ps)"),
    OPT("agent-token-file", CFG_STR, 0, 0, "", agent_token_file,
        "file whose first line is the shared secret (see --agent-token)"),
    OPT("threads", CFG_INT, 1, 64, "2", threads, "HTTP threads"),
    OPT("log-level", CFG_STR, 0, 0, "info", log_level, "debug, info, warn or error"),
    OPT("state-dir", CFG_STR, 0, 0, "/tmp/sandpit-state", state_dir,
        "durable state (the adjustments outbox)"),
    OPT("backend-url", CFG_STR, 0, 0, "", backend_url,
        "processor adjustments go to <url>/api/v1/processors/{id}/adjust (also $BACKEND_URL)"),
    OPT("policy", CFG_STR, 0, 0, "standard", policy,
        "default execution policy: standard or restricted"),
    OPT("allow-policy-override", CFG_BOOL, 0, 0, "0", allow_override,
        "let a request ask for policy \"standard\" when the default is restricted"),
    OPT("restricted-imports", CFG_STR, 0, 0, "", restricted_imports,
        "modules restricted code may import, comma-separated (default: the harness's list)"),
    OPT("pids-limit", CFG_INT, 8, 1 << 20, "256", pids_limit,
        "processes and threads per execution (cgroup pids.max)"),
    OPT("disk-mb", CFG_INT, 1, 1 << 20, "512", disk_mb,
        "size of each execution's private /tmp, which holds its working dir, MiB"),
    OPT("sandbox-user", CFG_STR, 0, 0, "nobody", sandbox_user,
        "user executions run as when the agent runs as root and --sandbox-uid-base is 0"),
    OPT("sandbox-uid-base", CFG_INT, 0, 2000000000, "2000000", sandbox_uid_base,
        "first uid executions run as when the agent runs as root: each slot has its own uid "
        "(base + agent range * 8192 + slot; no passwd entry needed), so per-user kernel limits "
        "are not shared; 0 = every execution runs as --sandbox-user"),
    OPT("max-sessions", CFG_INT, 0, 1024, "16", max_sessions,
        "live sessions at once (POST /sessions; 0 = sessions off)"),
    OPT("drain-s", CFG_INT, 0, 3600, "30", drain_s,
        "on SIGTERM, new executions get 503 while those running may finish for this long; then "
        "they are cancelled (a second signal ends the wait)"),
    OPT("session-idle-s", CFG_INT, 1, 86400, "600", session_idle_s,
        "a session idle this long is ended (its default; a session may ask for less or more up "
        "to a day)"),
    OPT("max-workspaces", CFG_INT, 0, 4096, "64", max_workspaces,
        "named workspaces at once (\"workspace\" on POST /execute; 0 = workspaces off)"),
    OPT("workspace-mb", CFG_INT, 1, 1 << 20, "256", workspace_mb,
        "size of each workspace (a tmpfs: a program that fills it gets ENOSPC), MiB"),
    OPT("files-mb", CFG_INT, 0, 1 << 24, "2048", files_mb,
        "collected files (\"collect\") kept for download in --state-dir/files, MiB"),
    OPT("seccomp", CFG_BOOL, 0, 0, "1", seccomp, "load the seccomp filter in each execution"),
    OPT("warm-pool", CFG_INT, 0, 64, "4", warm_pool,
        "children forked and isolated ahead of need (0 = fork per request)"),
    OPT("prefault", CFG_BOOL, 0, 0, "1", prefault,
        "copy the zygote's pages every child writes in one pass after each fork (learned at "
        "start)"),
    OPT("prewarm", CFG_BOOL, 0, 0, "1", prewarm,
        "run a throwaway execution in each warm child before its job (docs/performance.md)"),
    OPT("timeline", CFG_STR, 0, 0, "", timeline,
        "append where each execution's time went, one JSON line each, to this file (bench)"),
    OPT("zygote-fd", CFG_INT, 0, 1024, "0", zygote_fd, "internal: run as the zygote on this fd"),
};

static const char agent_usage[] =
    "usage: sandpit-agent [options]\n"
    "Runs code for AI agents over HTTP: Python, and every other installed runtime (see\n"
    "--languages and GET /languages); see README.md.";

/* Options the zygote must not see: every execution is a copy of the zygote's memory, argv and
 * environment strings included, so a secret there is readable by user code. */
static bool main_zygote_hidden(const char *name)
{
    return !strcmp(name, "backend-url") || !strcmp(name, "agent-token") ||
           !strcmp(name, "agent-token-file");
}

/* The zygote's argv: ours without the hidden options. New array (strings borrowed). */
static char **main_zygote_argv(int argc, char **argv)
{
    char **out = calloc((size_t)argc + 1, sizeof(char *));
    int n = 0;

    if (!out)
        return NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool hide = false;

        for (size_t k = 0; i > 0 && k < sizeof(agent_opts) / sizeof(agent_opts[0]); k++) {
            size_t len = strlen(agent_opts[k].name);

            if (main_zygote_hidden(agent_opts[k].name) && !strncmp(a, "--", 2) &&
                !strncmp(a + 2, agent_opts[k].name, len) &&
                (a[2 + len] == '\0' || a[2 + len] == '='))
                hide = true;
        }
        if (!hide) {
            out[n++] = argv[i];
            continue;
        }
        if (!strchr(a, '=') && i + 1 < argc)
            i++; /* the value was the next argument */
    }
    return out;
}

/* The zygote's environment: only our own SANDPIT_* options (so it parses the same config),
 * never anything else of ours. New array of new strings. */
static char **main_zygote_env(void)
{
    size_t n_opts = sizeof(agent_opts) / sizeof(agent_opts[0]), n = 0;
    char **env = calloc(n_opts + 3, sizeof(char *));

    if (!env)
        return NULL;
    env[n++] = strdup("PATH=/usr/local/bin:/usr/bin:/bin");
    env[n++] = strdup("LANG=C.UTF-8");
    for (size_t k = 0; k < n_opts; k++) {
        char var[64];
        const char *v;
        size_t j = (size_t)snprintf(var, sizeof(var), "SANDPIT_");

        for (const char *c = agent_opts[k].name; *c && j + 1 < sizeof(var); c++)
            var[j++] = *c == '-' ? '_' : (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        var[j] = '\0';
        v = getenv(var);
        if (v && !main_zygote_hidden(agent_opts[k].name) && asprintf(&env[n], "%s=%s", var, v) > 0)
            n++;
    }
    return env;
}

/* Finds the directory holding harness/runner.py: the option, else up to three levels above
 * the binary (build/, build/san/, an install prefix). */
static int main_find_paths(const char *opt, char *harness, size_t hsize, char *init, size_t isize)
{
    char exe[PATH_MAX], dir[PATH_MAX - 32], probe[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n < 0)
        return -errno;
    exe[n] = '\0';
    if (snprintf(dir, sizeof(dir), "%s", dirname(exe)) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    snprintf(init, isize, "%s/sandpit-init", dir);
    if (opt && *opt) {
        snprintf(harness, hsize, "%s", opt);
        snprintf(probe, sizeof(probe), "%s/harness/runner.py", harness);
        return access(probe, R_OK) < 0 ? -ENOENT : 0;
    }
    for (int up = 0; up < 4; up++) {
        snprintf(probe, sizeof(probe), "%s/harness/runner.py", dir);
        if (access(probe, R_OK) == 0) {
            snprintf(harness, hsize, "%s", dir);
            return 0;
        }
        {
            /* dirname() edits its argument and may return a static string: call it once. */
            char *up_dir = dirname(dir);
            memmove(dir, up_dir, strlen(up_dir) + 1);
        }
    }
    return -ENOENT;
}

/* mkdir -p for the work root; private to us (0711: others may traverse, not list). */
static int main_mkdirs(const char *path)
{
    char tmp[PATH_MAX];

    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0711) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void main_raise_nofile(void)
{
    struct rlimit rl;

    /* Each running execution holds four pipes and its client a socket. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* host[:port] of a URL ("http://user@host:port/path" -> "host:port"), into out; "" if none. */
static void main_url_hostport(const char *url, char *out, size_t size)
{
    const char *s = strstr(url, "://"), *end, *at;

    out[0] = '\0';
    if (!s)
        return;
    s += 3;
    end = s + strcspn(s, "/?#");
    at = memchr(s, '@', (size_t)(end - s));
    if (at)
        s = at + 1;
    if (end > s && (size_t)(end - s) < size)
        snprintf(out, size, "%.*s", (int)(end - s), s);
}

/* The HTTP process's secrets and protected hosts: loads the agent token (never in the
 * zygote: executions are copies of its memory) and adds the adjustments backend to the hosts
 * a wildcard never reaches. 0, or -1 with the reason on stderr. */
static int main_security_cfg(struct agent_cfg *cfg)
{
    static char token[TOKEN_MAX + 1], protect[2048];
    char backend[300];
    struct err e = {0};
    const char *env = secure_getenv("BACKEND_URL");

    if (token_load(cfg->agent_token, cfg->agent_token_file, token, sizeof(token), "agent-token",
                   "agent-token-file", &e) < 0) {
        fprintf(stderr, "sandpit-agent: --%s: %s\n", e.field, e.msg);
        return -1;
    }
    cfg->agent_token = token;
    main_url_hostport(*cfg->backend_url ? cfg->backend_url
                      : env             ? env
                                        : "",
                      backend, sizeof(backend));
    if (*backend) {
        snprintf(protect, sizeof(protect), "%s%s%s", cfg->protect_hosts,
                 *cfg->protect_hosts ? "," : "", backend);
        cfg->protect_hosts = protect;
    }
    return 0;
}

/* Checks what the option table cannot (policy, timeouts) and finds the harness, sandpit-init
 * and the tools: 0, or -1 with the reason on stderr. */
static int main_check_cfg(struct agent_cfg *cfg, char *harness, size_t hsize, char *init,
                          size_t isize)
{
    int r;

    if (strcmp(cfg->policy, "standard") != 0 && strcmp(cfg->policy, "restricted") != 0) {
        fprintf(stderr, "sandpit-agent: --policy must be standard or restricted\n");
        return -1;
    }
    /* DESIGN names the variable BACKEND_URL; SANDPIT_BACKEND_URL and the flag win over it. */
    if (!*cfg->backend_url && secure_getenv("BACKEND_URL"))
        cfg->backend_url = secure_getenv("BACKEND_URL");
    if (cfg->default_timeout > cfg->max_timeout) {
        fprintf(stderr, "sandpit-agent: --default-timeout exceeds --max-timeout\n");
        return -1;
    }
    /* Each agent has 8192 uids (isolate_cred.c): a slot's from the bottom, a workspace's from
     * the top; a session and its copies hold up to three slots, an execution answered before
     * its teardown its slot until reaped (isolate.c); an execution with files in or out may
     * hold an anonymous workspace's uid too (ws_mgr_anon). */
    if (3 * cfg->max_concurrent + cfg->warm_pool + 3 * cfg->max_sessions + cfg->max_workspaces >
        8192) {
        fprintf(stderr, "sandpit-agent: 3 x --max-concurrent + --warm-pool + 3 x --max-sessions + "
                        "--max-workspaces must not exceed 8192 (the uids of one agent)\n");
        return -1;
    }
    if (cfg->zygote_fd == 0 && main_security_cfg(cfg) < 0)
        return -1;
    if ((r = main_find_paths(cfg->harness_dir, harness, hsize, init, isize)) < 0) {
        fprintf(stderr, "sandpit-agent: cannot find harness/runner.py (use --harness-dir)\n");
        return -1;
    }
    if (!*cfg->tools_dir) {
        static char tools[PATH_MAX + 32];

        snprintf(tools, sizeof(tools), "%s/runtimes/node_modules/.bin", harness);
        cfg->tools_dir = tools;
    }
    return 0;
}

/* What the drain waits for: executions running or queued, and session cells running. */
struct agent_busy {
    struct exec_mgr *mgr;
    struct sess_mgr *sm;
};

static size_t agent_busy(void *arg)
{
    struct agent_busy *b = arg;

    return exec_mgr_drain(b->mgr) + sess_mgr_drain(b->sm);
}

/* SIGTERM: /health/ready says 503 and new work gets 503 while what runs may finish for
 * --drain-s (docs/operations.md "Start and stop"). */
static void agent_drain(const struct agent_cfg *cfg, struct api *api, struct exec_mgr *mgr,
                        struct sess_mgr *sm, int sfd, int sig)
{
    struct agent_busy b = {mgr, sm};
    size_t n;

    http_srv_set_draining(api_http(api));
    n = agent_busy(&b);
    log_info("signal %d received: draining (%zu running or queued, up to %ld s)", sig, n,
             cfg->drain_s);
    if (n && (n = daemon_drain(sfd, cfg->drain_s * 1000, agent_busy, &b)) > 0)
        log_warn("drain over with %zu still running or queued: they are cancelled", n);
    log_info("shutting down");
}

int main(int argc, char **argv)
{
    static struct agent_cfg cfg;
    char harness[PATH_MAX], init[PATH_MAX], desc[2048];
    struct zyg_client *zc = NULL;
    struct sess_mgr *sm = NULL;
    struct ws_mgr *ws = NULL;
    struct exec_mgr *mgr = NULL;
    struct outbox *ob = NULL;
    struct runtimes *rts = NULL;
    char **zargv = NULL, **zenv = NULL;
    struct api *api = NULL;
    struct err e = {0};
    enum log_level lvl = LOG_INFO;
    int sfd = -1, rc = 1, r;

    if ((r = daemon_args("sandpit-agent", agent_opts, sizeof(agent_opts) / sizeof(agent_opts[0]),
                         &cfg, argc, argv, agent_usage, &cfg.log_level, &lvl)) >= 0)
        return r;
    if (main_check_cfg(&cfg, harness, sizeof(harness), init, sizeof(init)) < 0)
        return 2;
    if (cfg.zygote_fd > 0) {
        log_init("zygote", (enum log_level)lvl);
        return zygote_main(&cfg, (int)cfg.zygote_fd, harness, init);
    }
    log_init("agent", (enum log_level)lvl);
    rts = runtimes_new(cfg.tools_dir, cfg.languages, &e);
    if (!rts) {
        fprintf(stderr, "sandpit-agent: %s\n", e.msg);
        return 2;
    }
    /* The state directory is ours alone (its lock), or we do not start; no thread yet. */
    ob = outbox_new(cfg.state_dir, cfg.backend_url, &e);
    if (!ob) {
        fprintf(stderr, "sandpit-agent: %s\n", e.msg);
        runtimes_free(rts);
        return 2;
    }

    /* Before any thread: signals go to the signalfd, and the zygote starts now. */
    sfd = daemon_signals(false);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sfd < 0 || (r = main_mkdirs(cfg.work_dir)) < 0) {
        log_errno(sfd < 0 ? -sfd : -r, NULL, "start-up (work dir '%s')", cfg.work_dir);
        goto out;
    }
    main_raise_nofile();
    zargv = main_zygote_argv(argc, argv);
    zenv = main_zygote_env();
    zc = zargv && zenv ? zyg_client_new(zargv, zenv) : NULL;
    if (!zc || (r = zyg_client_start(zc)) < 0) {
        log_errno(zc ? -r : ENOMEM, NULL, "cannot start the zygote");
        goto out;
    }
    if ((r = runtimes_probe_versions(rts)) < 0)
        log_errno(-r, NULL, "cannot start the runtime version probe (versions stay null)");
    mgr = exec_mgr_new(&cfg, zc, rts, &e);
    if (!mgr) {
        log_error("%s", e.msg);
        goto out;
    }
    if (!(sm = sess_mgr_new(&cfg, zc))) {
        log_error("out of memory (sessions)");
        goto out;
    }
    exec_mgr_on_cell_end(mgr, sess_mgr_cell_end, sm);
    exec_mgr_set_sessions(mgr, sm);
    if (!(ws = ws_mgr_new(&cfg))) {
        log_error("out of memory (workspaces)");
        goto out;
    }
    exec_mgr_set_workspaces(mgr, ws);
    if (outbox_start(ob, &e) < 0) {
        log_error("outbox: %s", e.msg);
        goto out;
    }
    api = api_new(&cfg, mgr, sm, ws, zc, ob, rts, &e);
    if (!api) {
        log_error("%s", e.msg);
        goto out;
    }
    if ((r = zyg_client_run_monitor(zc)) < 0) {
        log_errno(-r, NULL, "cannot start the zygote monitor");
        goto out;
    }
    {
        struct agent_cfg shown = cfg; /* the token is a secret: the line only says if it is set */

        shown.agent_token = *cfg.agent_token ? "(set)" : "";
        cfg_describe(agent_opts, sizeof(agent_opts) / sizeof(agent_opts[0]), &shown, desc,
                     sizeof(desc));
    }
    if (!*cfg.agent_token)
        log_warn("no --agent-token: every route is open to whoever reaches %s:%u (development "
                 "only; the orchestrator and docker-compose always set one)",
                 cfg.host, (unsigned)http_srv_port(api_http(api)));
    log_info("listening on http://%s:%u harness=%s config: %s", cfg.host,
             (unsigned)http_srv_port(api_http(api)), harness, desc);
    if (cfg.port_file &&
        (r = daemon_write_port_file(cfg.port_file, http_srv_port(api_http(api)))) < 0) {
        log_errno(-r, NULL, "cannot write --port-file '%s'", cfg.port_file);
        goto out;
    }
    r = daemon_wait_signal(sfd, false);
    if (r < 0)
        log_errno(-r, NULL, "signalfd read");
    else
        agent_drain(&cfg, api, mgr, sm, sfd, r);
    rc = 0;
out:
    /* Stop taking work, end what runs and wake every waiting client, let their answers go out,
     * then stop HTTP, then the zygote. */
    if (api)
        http_srv_quiesce(api_http(api));
    exec_mgr_stop(mgr);
    sess_mgr_stop(sm);
    outbox_free(ob);
    if (api)
        http_srv_drain(api_http(api), 3000);
    api_free(api);
    exec_mgr_free(mgr);
    zyg_client_free(zc);
    sess_mgr_free(sm);
    /* Last: no execution holds a copy of a workspace any more. */
    ws_mgr_free(ws);
    runtimes_free(rts);
    free(zargv);
    for (char **e2 = zenv; e2 && *e2; e2++)
        free(*e2);
    free(zenv);
    fdio_close(&sfd);
    if (rc == 0)
        log_info("stopped");
    return rc;
}
