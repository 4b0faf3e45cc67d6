/* proxy_cli.c - sandpit-proxy: the shaping proxy (agent/proxy.c) as a standalone process, for
 * tests, benchmarks and deployment as an egress service.
 *
 * It binds --listen itself, opens one session with the toxics from its options and adds the
 * listener with proxy_session_add_listener. On SIGTERM/SIGINT it closes the session, prints the
 * counters as one JSON line on stderr and exits 0. See docs/proxy.md. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy.h"
#include "toxics.h"
#include "cfg.h"
#include "daemon.h"
#include "log.h"

struct proxy_cli_cfg {
    const char *listen;    /* HOST:PORT to bind */
    const char *mode;      /* "http" or "tcp" */
    const char *upstream;  /* host:port for tcp mode (and always allowed) */
    struct cfg_list allow; /* allow-list entries, each may hold several comma-separated */
    long latency_ms;       /* toxics, see struct proxy_conf */
    long jitter_ms;
    long bandwidth_kbps;
    long timeout_ms;
    long reset_after_ms;
    long slice_bytes;
    long slice_delay_ms;
    long limit_data_bytes;
    long max_connections;  /* open at once */
    const char *direction; /* down, up or both */
    const char *egress;    /* host:port of an HTTP proxy every outgoing connection uses */
    const char *protect;   /* host[:port],... a wildcard never reaches (proxy_new) */
    const char *port_file; /* where to write the bound port */
    const char *log_level; /* debug, info, warn, error */
};

#define OPT(...) CFG_OPT(struct proxy_cli_cfg, __VA_ARGS__)

static const struct cfg_opt cli_opts[] = {
    OPT("listen", CFG_STR, 0, 0, "127.0.0.1:0", listen,
        "HOST:PORT to listen on ([v6]:port for IPv6); port 0 picks a free one"),
    OPT("mode", CFG_STR, 0, 0, "http", mode,
        "http: an HTTP forward proxy (absolute-form and CONNECT); tcp: forward to --upstream"),
    OPT("upstream", CFG_STR, 0, 0, "", upstream,
        "host:port connections go to in tcp mode; always an allowed destination"),
    OPT("allow", CFG_LIST, 0, 0, NULL, allow,
        "allowed destinations, comma-separated and repeatable: host, host:port, *.suffix, * "
        "(at most 64)"),
    OPT("latency-ms", CFG_INT, 0, 3600000, "0", latency_ms, "delay added to every chunk"),
    OPT("jitter-ms", CFG_INT, 0, 3600000, "0", jitter_ms, "+- uniform spread of the latency"),
    OPT("bandwidth-kbps", CFG_INT, 0, 100000000, "0", bandwidth_kbps,
        "kilobits per second per connection and direction; 0 = unlimited"),
    OPT("timeout-ms", CFG_INT, 0, 86400000, "0", timeout_ms,
        "stall every connection (no data passes) and close it this long after accept"),
    OPT("reset-after-ms", CFG_INT, 0, 86400000, "0", reset_after_ms,
        "reset (RST) both sides this long after accept"),
    OPT("slice-bytes", CFG_INT, 0, 1 << 24, "0", slice_bytes, "forward in segments this large"),
    OPT("slice-delay-ms", CFG_INT, 0, 3600000, "0", slice_delay_ms, "pause between segments"),
    OPT("limit-data-bytes", CFG_INT, 0, 1e15, "0", limit_data_bytes,
        "close a connection after this many bytes in a shaped direction"),
    OPT("max-connections", CFG_INT, 1, PROXY_CONNS_LIMIT, "1024", max_connections,
        "connections open at once; more are reset at accept"),
    OPT("direction", CFG_STR, 0, 0, "down", direction,
        "where latency, jitter, bandwidth, slicer and limit apply: down (server to client), up "
        "or both"),
    OPT("egress", CFG_STR, 0, 0, "", egress,
        "host:port of an HTTP proxy: every outgoing connection is a CONNECT through it"),
    OPT("protect", CFG_STR, 0, 0, "", protect,
        "host[:port],... of our own services a wildcard allow entry never reaches (on top of "
        "private/special ranges and this host's addresses)"),
    OPT("port-file", CFG_STR, 0, 0, NULL, port_file, "write the bound port to this file"),
    OPT("log-level", CFG_STR, 0, 0, "info", log_level, "debug, info, warn or error"),
};

#define CLI_N_OPTS (sizeof(cli_opts) / sizeof(cli_opts[0]))

static const char cli_usage[] =
    "usage: sandpit-proxy --listen HOST:PORT [--mode http|tcp] [--upstream HOST:PORT] [options]\n"
    "A TCP/HTTP proxy that applies network toxics (latency, jitter, bandwidth, timeout, reset,\n"
    "slicer, data limit); see docs/proxy.md. On SIGTERM/SIGINT it prints its counters as one\n"
    "JSON line on stderr and exits 0.";

/* SANDPIT_<NAME> as common/cfg reads it, and our own SANDPIT_PROXY_<NAME>. */
static void cli_env_names(const char *name, char *plain, char *ours, size_t size)
{
    size_t j = 0;
    char up[64];

    for (; name[j] && j + 1 < sizeof(up); j++)
        up[j] = name[j] == '-' ? '_'
                               : (char)(name[j] >= 'a' && name[j] <= 'z' ? name[j] - 32 : name[j]);
    up[j] = '\0';
    snprintf(plain, size, "SANDPIT_%s", up);
    snprintf(ours, size, "SANDPIT_PROXY_%s", up);
}

/* The proxy's environment fallback is SANDPIT_PROXY_<NAME>, so it never picks up a variable
 * meant for the agent or orchestrator (SANDPIT_PORT_FILE, SANDPIT_LOG_LEVEL...) running in the
 * same environment. common/cfg reads SANDPIT_<NAME>: copy ours over those before it runs
 * (single-threaded, at start). 0 or -errno. */
static int cli_env_map(void)
{
    char plain[96], ours[96];

    for (size_t i = 0; i < CLI_N_OPTS; i++) {
        const char *v;

        cli_env_names(cli_opts[i].name, plain, ours, sizeof(plain));
        v = getenv(ours);
        if ((v ? setenv(plain, v, 1) : unsetenv(plain)) < 0)
            return -errno;
    }
    return 0;
}

/* --help: cfg's text with our variable names. */
static void cli_help(void)
{
    char *text = NULL, *line, *nl = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f) {
        cfg_usage(cli_opts, CLI_N_OPTS, cli_usage, stdout);
        return;
    }
    cfg_usage(cli_opts, CLI_N_OPTS, cli_usage, f);
    fclose(f);
    for (line = text; line && *line; line = nl ? nl + 1 : NULL) {
        char *dollar;

        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        dollar = strstr(line, "$SANDPIT_");
        if (dollar) {
            *dollar = '\0';
            printf("%s$SANDPIT_PROXY_%s\n", line, dollar + 9);
        } else {
            printf("%s\n", line);
        }
    }
    free(text);
}

/* Fills conf from the options; 0 or -1 with a message on stderr. */
static int cli_conf(const struct proxy_cli_cfg *cfg, struct proxy_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->latency_ms = (int)cfg->latency_ms;
    conf->jitter_ms = (int)cfg->jitter_ms;
    conf->bandwidth_kbps = cfg->bandwidth_kbps;
    conf->timeout_ms = (int)cfg->timeout_ms;
    conf->reset_after_ms = (int)cfg->reset_after_ms;
    conf->slice_bytes = (int)cfg->slice_bytes;
    conf->slice_delay_ms = (int)cfg->slice_delay_ms;
    conf->limit_data_bytes = cfg->limit_data_bytes;
    conf->max_connections = (int)cfg->max_connections;
    if (!strcmp(cfg->direction, "down")) {
        conf->direction = PROXY_DIR_DOWN;
    } else if (!strcmp(cfg->direction, "up")) {
        conf->direction = PROXY_DIR_UP;
    } else if (!strcmp(cfg->direction, "both")) {
        conf->direction = PROXY_DIR_BOTH;
    } else {
        fprintf(stderr, "sandpit-proxy: --direction must be down, up or both\n");
        return -1;
    }
    if (cfg->upstream[0] &&
        toxics_hostport_parse(cfg->upstream, strlen(cfg->upstream), conf->upstream_host,
                              sizeof(conf->upstream_host), &conf->upstream_port, -1) < 0) {
        fprintf(stderr, "sandpit-proxy: --upstream '%s' is not host:port\n", cfg->upstream);
        return -1;
    }
    for (int i = 0; i < cfg->allow.n; i++) {
        const char *s = cfg->allow.items[i];

        while (*s) {
            size_t n = strcspn(s, ",");

            if (n > 0) {
                if (conf->n_allow == PROXY_ALLOW_MAX || n >= PROXY_ALLOW_LEN) {
                    fprintf(stderr,
                            "sandpit-proxy: --allow: more than %d entries or one too "
                            "long\n",
                            PROXY_ALLOW_MAX);
                    return -1;
                }
                memcpy(conf->allow[conf->n_allow], s, n);
                conf->allow[conf->n_allow][n] = '\0';
                if (!toxics_allow_is_valid(conf->allow[conf->n_allow])) {
                    fprintf(stderr, "sandpit-proxy: --allow entry '%s' is not valid\n",
                            conf->allow[conf->n_allow]);
                    return -1;
                }
                conf->n_allow++;
            }
            s += n + (s[n] == ',');
        }
    }
    return 0;
}

/* Binds and listens on HOST:PORT; returns the fd (new) or -1 with a message on stderr. */
static int cli_listen(const char *spec, int *port_out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[TOXICS_HOST_MAX], port_s[8];
    int port, fd = -1, one = 1, r;

    if (toxics_hostport_parse(spec, strlen(spec), host, sizeof(host), &port, -1) < 0 &&
        !(strlen(spec) > 2 && !strcmp(spec + strlen(spec) - 2, ":0") &&
          toxics_hostport_parse(spec, strlen(spec) - 2, host, sizeof(host), &port, 0) == 0)) {
        fprintf(stderr, "sandpit-proxy: --listen '%s' is not HOST:PORT\n", spec);
        return -1;
    }
    snprintf(port_s, sizeof(port_s), "%d", port);
    if ((r = getaddrinfo(host, port_s, &hints, &res)) != 0) {
        fprintf(stderr, "sandpit-proxy: --listen '%s': %s\n", spec, gai_strerror(r));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        fprintf(stderr, "sandpit-proxy: cannot listen on '%s': %s\n", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* The listener's kind for --mode: 'H' or 'U', or 0 with a message on stderr. */
static char cli_kind(const char *mode, const struct proxy_conf *conf)
{
    if (!strcmp(mode, "http"))
        return 'H';
    if (strcmp(mode, "tcp")) {
        fprintf(stderr, "sandpit-proxy: --mode must be http or tcp\n");
        return 0;
    }
    if (!conf->upstream_port) {
        fprintf(stderr, "sandpit-proxy: --mode tcp needs --upstream host:port\n");
        return 0;
    }
    return 'U';
}

int main(int argc, char **argv)
{
    static struct proxy_cli_cfg cfg;
    static struct proxy_conf conf;
    struct proxy_counters c = {0};
    struct proxy *p = NULL;
    struct err e = {0};
    char desc[2048];
    uint64_t sid = 0;
    enum log_level lvl = LOG_INFO;
    int r, lfd = -1, sfd = -1, child_fd = -1, port = 0, rc = 1;
    char kind;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cli_help();
            return 0;
        }
    }
    if (cli_env_map() < 0) {
        fprintf(stderr, "sandpit-proxy: cannot read the environment\n");
        return 2;
    }
    if ((r = daemon_args("sandpit-proxy", cli_opts, CLI_N_OPTS, &cfg, argc, argv, cli_usage,
                         &cfg.log_level, &lvl)) >= 0)
        return r;
    log_init("proxy", (enum log_level)lvl);
    if (cli_conf(&cfg, &conf) < 0)
        return 2;
    kind = cli_kind(cfg.mode, &conf);
    if (!kind)
        return 2;

    /* Before any thread: signals go to a signalfd. */
    sfd = daemon_signals(false);
    if (sfd < 0) {
        log_errno(-sfd, NULL, "signalfd");
        goto out;
    }
    lfd = cli_listen(cfg.listen, &port);
    if (lfd < 0) {
        rc = 2;
        goto out;
    }
    p = proxy_new(cfg.egress, cfg.protect, &e);
    if (!p) {
        log_error("%s", e.msg);
        rc = 2;
        goto out;
    }
    if ((r = proxy_session_open(p, &conf, &sid, &child_fd)) < 0) {
        log_errno(-r, NULL, "cannot open a proxy session");
        goto out;
    }
    close(child_fd); /* listeners are added directly, not over the channel */
    r = proxy_session_add_listener(p, sid, kind, lfd);
    lfd = -1; /* taken, even on failure */
    if (r < 0) {
        log_errno(-r, NULL, "cannot add the listener");
        goto out;
    }
    cfg_describe(cli_opts, CLI_N_OPTS, &cfg, desc, sizeof(desc));
    log_info("listening on port %d: %s", port, desc);
    if (cfg.port_file && (r = daemon_write_port_file(cfg.port_file, (unsigned)port)) < 0) {
        log_errno(-r, NULL, "cannot write --port-file '%s'", cfg.port_file);
        goto out;
    }
    if ((r = daemon_wait_signal(sfd, true)) < 0) {
        log_errno(-r, NULL, "signalfd read");
        goto out;
    }
    (void)proxy_session_close(p, sid, &c);
    sid = 0;
    fprintf(stderr,
            "{\"bytes_up\":%llu,\"bytes_down\":%llu,\"connections\":%llu,\"denied\":%llu,"
            "\"failed\":%llu}\n",
            (unsigned long long)c.bytes_up, (unsigned long long)c.bytes_down,
            (unsigned long long)c.connections, (unsigned long long)c.denied,
            (unsigned long long)c.failed);
    rc = 0;
out:
    if (p && sid)
        (void)proxy_session_close(p, sid, NULL);
    proxy_free(p);
    if (lfd >= 0)
        close(lfd);
    if (sfd >= 0)
        close(sfd);
    cfg_list_done(&cfg.allow);
    return rc;
}
