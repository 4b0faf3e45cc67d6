/* supervisor.c - spawn, watch, restart and stop local agents. */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "fdio.h"
#include "log.h"
#include "strx.h"
#include "token.h"

#define SUPERVISOR_BACKOFF_MIN_MS 100
#define SUPERVISOR_BACKOFF_MAX_MS 5000
#define SUPERVISOR_STABLE_MS      10000 /* up this long: the next crash restarts at once */
#define SUPERVISOR_PORT_POLL_MS   20
#define SUPERVISOR_LISTEN_S       60 /* a spawned agent that has not listened by then is killed */
#define SUPERVISOR_MAX_ARGS       (CFG_LIST_MAX + 16)

struct supervisor_slot {
    int idx;                   /* registry index */
    pid_t pid;                 /* running process, 0 when none */
    bool have_port;            /* its port file was read */
    bool killed;               /* SIGKILLed for not listening in time */
    int64_t started_ns;        /* when the process was spawned */
    int64_t restart_at_ns;     /* when to spawn next (pid == 0) */
    long backoff_ms;           /* delay before the next restart */
    bool ever_started;         /* a process was spawned for this slot before */
    char port_path[PATH_MAX];  /* its --port-file */
    char state_path[PATH_MAX]; /* its --state-dir: each agent its own outbox */
};

struct supervisor {
    struct registry *reg;
    const struct orch_cfg *cfg;
    const char *agent_bin;
    char dir[PATH_MAX - 64];   /* private directory of port files and the token file */
    char token_path[PATH_MAX]; /* the agents' shared secret (0600), "" = none */
    struct supervisor_slot slots[REGISTRY_MAX_AGENTS];
    int n;
    int sfd; /* signalfd for SIGCHLD */
    int efd; /* eventfd: stop */
    pthread_t thread;
    bool started;
};

/* mkdir -p with mode 0700 for the last component; -1 with errno. */
static int supervisor_mkdirs(const char *path)
{
    char tmp[PATH_MAX];

    strx_copy(tmp, sizeof(tmp), path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

struct supervisor *supervisor_new(struct registry *reg, const struct orch_cfg *cfg,
                                  const char *agent_bin, struct err *e)
{
    struct supervisor *s = calloc(1, sizeof(*s));
    const char *tmp = getenv("TMPDIR");
    sigset_t mask;

    if (!s) {
        err_set(e, ENOMEM, "", "out of memory");
        return NULL;
    }
    s->reg = reg;
    s->cfg = cfg;
    s->agent_bin = agent_bin;
    s->sfd = s->efd = -1;
    snprintf(s->dir, sizeof(s->dir), "%s/sandpit-orch-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        err_set(e, ERR_UNAVAILABLE, "", "cannot create a directory for port files in %s: %s",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        s->dir[0] = '\0';
        goto fail;
    }
    for (int i = 0; i < reg->n; i++) {
        struct supervisor_slot *sl;

        if (!reg->agents[i].spawned)
            continue;
        sl = &s->slots[s->n];
        sl->idx = i;
        snprintf(sl->port_path, sizeof(sl->port_path), "%s/agent-%d.port", s->dir, i);
        /* Stable across restarts (an outbox survives a crash), distinct per agent (two agents
         * must never resend the same outbox). */
        strx_printf(sl->state_path, sizeof(sl->state_path), "%s/agent-%d", cfg->spawn_state_dir,
                    s->n);
        s->n++;
    }
    /* The secret goes by a 0600 file in our 0700 directory: argv and environ show in ps. */
    if (cfg->agent_token && *cfg->agent_token) {
        int r;

        snprintf(s->token_path, sizeof(s->token_path), "%s/agent-token", s->dir);
        if ((r = token_write(s->token_path, cfg->agent_token)) < 0) {
            err_set(e, ERR_UNAVAILABLE, "", "cannot write '%s': %s", s->token_path, strerror(-r));
            s->token_path[0] = '\0';
            goto fail;
        }
    }
    if (s->n > 0 && supervisor_mkdirs(cfg->spawn_state_dir) < 0) {
        err_set(e, ERR_UNAVAILABLE, "spawn-state-dir", "cannot create '%s': %s",
                cfg->spawn_state_dir, strerror(errno));
        goto fail;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    s->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->sfd < 0 || s->efd < 0) {
        err_set(e, ERR_UNAVAILABLE, "", "signalfd/eventfd: %s", strerror(errno));
        goto fail;
    }
    return s;
fail:
    supervisor_free(s);
    return NULL;
}

/* fork + exec one agent for sl. Supervisor thread. */
static void supervisor_spawn(struct supervisor *s, struct supervisor_slot *sl)
{
    const char *argv[SUPERVISOR_MAX_ARGS];
    const struct cfg_list *extra = &s->cfg->spawn_args;
    struct agent *a = &s->reg->agents[sl->idx];
    pid_t ppid = getpid(), pid;
    int n = 0, devnull;
    int64_t now = clock_mono_ns();

    (void)unlink(sl->port_path);
    argv[n++] = s->agent_bin;
    argv[n++] = "--host";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = sl->port_path;
    argv[n++] = "--state-dir";
    argv[n++] = sl->state_path;
    /* The orchestrator drains before it stops its agents (their work has ended or been given up
     * by then): their own drain stays inside SUPERVISOR_STOP_WAIT_MS. */
    argv[n++] = "--drain-s";
    argv[n++] = "2";
    if (s->token_path[0]) {
        argv[n++] = "--agent-token-file";
        argv[n++] = s->token_path;
    }
    for (int i = 0; i < extra->n && n < SUPERVISOR_MAX_ARGS - 1; i++)
        argv[n++] = extra->items[i];
    argv[n] = NULL;
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid = fork();
    if (pid == 0) {
        sigset_t none;

        /* Only async-signal-safe calls from here to exec: other threads hold locks. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != ppid)
            _exit(126);
        /* Its own process group: a terminal's Ctrl-C reaches only the orchestrator, which
         * then stops the agents in order. */
        (void)setpgid(0, 0);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        close_range(3, ~0U, 0);
        execv(s->agent_bin, (char *const *)argv);
        _exit(127);
    }
    fdio_close(&devnull);
    if (pid < 0) {
        log_errno(errno, NULL, "cannot fork a local agent; retrying in %ld ms", sl->backoff_ms);
        sl->restart_at_ns = now + (int64_t)SUPERVISOR_BACKOFF_MAX_MS * 1000000;
        return;
    }
    sl->pid = pid;
    sl->have_port = false;
    sl->killed = false;
    sl->started_ns = now;
    pthread_mutex_lock(&s->reg->lock);
    a->pid = pid;
    a->url[0] = '\0';
    if (sl->ever_started)
        a->restarts++;
    registry_set_state_locked(a, AGENT_STARTING, now);
    pthread_mutex_unlock(&s->reg->lock);
    sl->ever_started = true;
    log_info("spawned local agent pid %d: %s", (int)pid, s->agent_bin);
}

/* Reads a finished port file ("12345\n"); 0 when not there yet. */
static int supervisor_read_port(const char *path)
{
    char b[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC), port = 0;
    ssize_t n;

    if (fd < 0)
        return 0;
    n = read(fd, b, sizeof(b) - 1);
    close(fd);
    if (n <= 1 || b[n - 1] != '\n')
        return 0;
    for (ssize_t i = 0; i < n - 1; i++) {
        if (b[i] < '0' || b[i] > '9')
            return 0;
        port = port * 10 + (b[i] - '0');
        if (port > 65535)
            return 0;
    }
    return port;
}

static void supervisor_check_port(struct supervisor *s, struct supervisor_slot *sl)
{
    struct agent *a = &s->reg->agents[sl->idx];
    int port = supervisor_read_port(sl->port_path);
    char url[REGISTRY_URL_MAX];

    if (port <= 0) {
        if (!sl->killed &&
            clock_mono_ns() - sl->started_ns > (int64_t)SUPERVISOR_LISTEN_S * 1000000000 &&
            kill(sl->pid, SIGKILL) == 0) {
            sl->killed = true;
            log_warn("local agent pid %d did not listen within %d s; killed (it restarts)",
                     (int)sl->pid, SUPERVISOR_LISTEN_S);
        }
        return;
    }
    sl->have_port = true;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    pthread_mutex_lock(&s->reg->lock);
    strx_copy(a->url, sizeof(a->url), url);
    a->next_check_ns = 0; /* probe it at the next tick */
    pthread_mutex_unlock(&s->reg->lock);
    log_info("local agent pid %d listens on %s", (int)sl->pid, url);
}

static struct supervisor_slot *supervisor_find(struct supervisor *s, pid_t pid)
{
    for (int i = 0; i < s->n; i++) {
        if (s->slots[i].pid == pid)
            return &s->slots[i];
    }
    return NULL;
}

/* Reaps every exited child; schedules restarts unless stopping. */
static void supervisor_reap(struct supervisor *s, bool stopping)
{
    struct signalfd_siginfo si;
    int status;
    pid_t pid;

    while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct supervisor_slot *sl = supervisor_find(s, pid);
        struct agent *a;
        char how[64];
        int64_t now = clock_mono_ns();

        if (!sl)
            continue;
        a = &s->reg->agents[sl->idx];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
        else
            snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
        if (now - sl->started_ns > (int64_t)SUPERVISOR_STABLE_MS * 1000000)
            sl->backoff_ms = 0;
        sl->restart_at_ns = now + (int64_t)sl->backoff_ms * 1000000;
        pthread_mutex_lock(&s->reg->lock);
        a->pid = 0;
        a->url[0] = '\0';
        a->gen++;
        a->ident_known = false; /* the next process's identity starts afresh (gen tells) */
        a->in_flight = 0;
        a->probing = false;
        registry_set_state_locked(a, stopping ? AGENT_STOPPED : AGENT_STARTING, now);
        snprintf(a->last_error, sizeof(a->last_error), "local agent pid %d %s", (int)pid, how);
        pthread_mutex_unlock(&s->reg->lock);
        if (stopping)
            log_info("local agent pid %d %s", (int)pid, how);
        else
            log_warn("local agent pid %d %s; restarting in %ld ms", (int)pid, how, sl->backoff_ms);
        sl->pid = 0;
        sl->have_port = false;
        sl->backoff_ms = sl->backoff_ms ? sl->backoff_ms * 2 : SUPERVISOR_BACKOFF_MIN_MS;
        if (sl->backoff_ms > SUPERVISOR_BACKOFF_MAX_MS)
            sl->backoff_ms = SUPERVISOR_BACKOFF_MAX_MS;
    }
}

/* SIGTERM, wait, SIGKILL, reap. */
static void supervisor_shutdown(struct supervisor *s)
{
    int64_t deadline = clock_mono_ns() + (int64_t)SUPERVISOR_STOP_WAIT_MS * 1000000;
    bool alive;

    pthread_mutex_lock(&s->reg->lock);
    for (int i = 0; i < s->n; i++)
        registry_set_state_locked(&s->reg->agents[s->slots[i].idx], AGENT_STOPPED, clock_mono_ns());
    pthread_mutex_unlock(&s->reg->lock);
    for (int i = 0; i < s->n; i++) {
        if (s->slots[i].pid > 0)
            (void)kill(s->slots[i].pid, SIGTERM);
    }
    for (;;) {
        struct pollfd pfd = {.fd = s->sfd, .events = POLLIN};

        supervisor_reap(s, true);
        alive = false;
        for (int i = 0; i < s->n; i++)
            alive |= s->slots[i].pid > 0;
        if (!alive || clock_mono_ns() >= deadline)
            break;
        (void)poll(&pfd, 1, 50);
    }
    for (int i = 0; i < s->n; i++) {
        struct supervisor_slot *sl = &s->slots[i];
        int status;

        if (sl->pid <= 0)
            continue;
        log_warn("local agent pid %d ignored SIGTERM for %d ms; sending SIGKILL", (int)sl->pid,
                 SUPERVISOR_STOP_WAIT_MS);
        (void)kill(sl->pid, SIGKILL);
        while (waitpid(sl->pid, &status, 0) < 0 && errno == EINTR)
            ;
        pthread_mutex_lock(&s->reg->lock);
        s->reg->agents[sl->idx].pid = 0;
        s->reg->agents[sl->idx].url[0] = '\0';
        pthread_mutex_unlock(&s->reg->lock);
        sl->pid = 0;
    }
}

static void *supervisor_main(void *arg)
{
    struct supervisor *s = arg;

    for (;;) {
        struct pollfd pfd[2] = {{.fd = s->sfd, .events = POLLIN}, {.fd = s->efd, .events = POLLIN}};
        int64_t now = clock_mono_ns(), wait_ms = 1000;

        for (int i = 0; i < s->n; i++) {
            struct supervisor_slot *sl = &s->slots[i];

            if (sl->pid == 0 && now >= sl->restart_at_ns)
                supervisor_spawn(s, sl);
            if (sl->pid > 0 && !sl->have_port)
                supervisor_check_port(s, sl);
            if (sl->pid > 0 && !sl->have_port)
                wait_ms = SUPERVISOR_PORT_POLL_MS;
            else if (sl->pid == 0 && (sl->restart_at_ns - now) / 1000000 < wait_ms)
                wait_ms = (sl->restart_at_ns - now) / 1000000;
        }
        if (wait_ms < 0)
            wait_ms = 0;
        (void)poll(pfd, 2, (int)wait_ms);
        if (pfd[1].revents & POLLIN)
            break;
        if (pfd[0].revents & POLLIN)
            supervisor_reap(s, false);
    }
    supervisor_shutdown(s);
    return NULL;
}

int supervisor_start(struct supervisor *s)
{
    int r = pthread_create(&s->thread, NULL, supervisor_main, s);

    if (r)
        return -r;
    s->started = true;
    return 0;
}

void supervisor_stop(struct supervisor *s)
{
    uint64_t one = 1;

    if (!s || !s->started)
        return;
    (void)!write(s->efd, &one, sizeof(one));
    pthread_join(s->thread, NULL);
    s->started = false;
}

void supervisor_free(struct supervisor *s)
{
    if (!s)
        return;
    supervisor_stop(s);
    for (int i = 0; i < s->n; i++)
        (void)unlink(s->slots[i].port_path);
    if (s->token_path[0])
        (void)unlink(s->token_path);
    if (s->dir[0])
        (void)rmdir(s->dir);
    fdio_close(&s->sfd);
    fdio_close(&s->efd);
    free(s);
}
