/* zyg_client.c - zygote lifecycle on the server side. */
#include "zyg_client.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "fdio.h"
#include "fdpass.h"
#include "log.h"

enum zyg_state { ZYG_DOWN, ZYG_STARTING, ZYG_READY, ZYG_STOPPING };

static const char *const zyg_state_names[] = {"down", "starting", "ready", "stopping"};

#define ZYG_CLIENT_ISO_UNKNOWN "the isolation report is not available yet"

struct zyg_client {
    char **child_argv;    /* owned array (strings borrowed): argv + --zygote-fd=3 */
    char **envp;          /* borrowed: the zygote's whole environment */
    pthread_mutex_t lock; /* guards everything below */
    pthread_t monitor;    /* reads READY, detects death */
    bool monitor_running;
    int sock;    /* our end of the socketpair; -1 when down */
    int wake[2]; /* pipe that stops the monitor */
    pid_t pid;   /* the zygote, 0 when none */
    enum zyg_state state;
    unsigned restarts;          /* how many times it was restarted */
    int64_t started_ns;         /* monotonic time of the last start */
    json_t *info;               /* the last READY report but its isolation, or NULL */
    struct isolate_state iso;   /* the isolation in READY, parsed once; unknown while none */
    json_t *stats;              /* the last STATS report (warm pool), or NULL */
    json_t *cpu;                /* its CPU per execution (zygote_cpu.h), or NULL */
    char last_exit[96];         /* how the previous zygote ended */
    zyg_client_sess_fn on_sess; /* session events (set before the monitor starts) */
    void *sess_arg;
};

struct zyg_client *zyg_client_new(char **argv, char **envp)
{
    struct zyg_client *zc = calloc(1, sizeof(*zc));
    int argc = 0;

    if (!zc)
        return NULL;
    while (argv[argc])
        argc++;
    zc->child_argv = calloc((size_t)argc + 2, sizeof(char *));
    if (!zc->child_argv || pipe2(zc->wake, O_CLOEXEC) < 0) {
        free(zc->child_argv);
        free(zc);
        return NULL;
    }
    memcpy(zc->child_argv, argv, (size_t)argc * sizeof(char *));
    zc->child_argv[argc] = (char *)"--zygote-fd=3";
    zc->envp = envp;
    zc->sock = -1;
    isolate_state_unknown(&zc->iso, ZYG_CLIENT_ISO_UNKNOWN);
    pthread_mutex_init(&zc->lock, NULL);
    return zc;
}

/* fork+exec: safe from a threaded process because the child only calls async-signal-safe
 * functions before execv. Caller holds the lock (or no thread exists yet). */
static int zyg_client_spawn(struct zyg_client *zc)
{
    int sv[2];
    sigset_t none;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    sigemptyset(&none);
    pid = fork();
    if (pid < 0) {
        int r = -errno;
        close(sv[0]);
        close(sv[1]);
        return r;
    }
    if (pid == 0) {
        /* dup2 onto 3 clears close-on-exec; everything else is closed by execve. */
        if (dup2(sv[1], 3) < 0)
            _exit(127);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve("/proc/self/exe", zc->child_argv, zc->envp);
        _exit(127);
    }
    close(sv[1]);
    {
        /* A wedged zygote must not hold the send lock forever. */
        struct timeval tv = {.tv_sec = 5};
        (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    zc->sock = sv[0];
    zc->pid = pid;
    zc->state = ZYG_STARTING;
    zc->started_ns = clock_mono_ns();
    json_decref(zc->info);
    zc->info = NULL;
    isolate_state_unknown(&zc->iso, ZYG_CLIENT_ISO_UNKNOWN);
    return 0;
}

int zyg_client_start(struct zyg_client *zc)
{
    int r;

    pthread_mutex_lock(&zc->lock);
    r = zyg_client_spawn(zc);
    pthread_mutex_unlock(&zc->lock);
    return r;
}

/* Reaps the dead zygote and records how it ended. Caller holds the lock. */
static void zyg_client_reap(struct zyg_client *zc)
{
    int st = 0;

    fdio_close(&zc->sock);
    if (zc->pid > 0) {
        /* The socket closes at death; the zombie follows within microseconds. */
        (void)kill(zc->pid, SIGKILL);
        if (waitpid(zc->pid, &st, 0) == zc->pid) {
            if (WIFSIGNALED(st))
                snprintf(zc->last_exit, sizeof(zc->last_exit), "killed by signal %d", WTERMSIG(st));
            else
                snprintf(zc->last_exit, sizeof(zc->last_exit), "exited with code %d",
                         WEXITSTATUS(st));
        }
    }
    zc->pid = 0;
    zc->state = ZYG_DOWN;
}

/* Keeps the zygote's READY report: its isolation layers parsed once into zc->iso (what
 * scenarios and /health read), the rest as JSON for /health. Monitor thread. */
static void zyg_client_on_ready(struct zyg_client *zc, const uint8_t *body, size_t blen)
{
    json_t *info = json_loadb((const char *)body, blen, 0, NULL);
    struct isolate_state iso;

    if (isolate_state_parse(json_object_get(info, "isolation"), &iso) < 0) {
        log_warn("zygote READY without an isolation report, ignoring");
        isolate_state_unknown(&iso, ZYG_CLIENT_ISO_UNKNOWN);
    }
    (void)json_object_del(info, "isolation");
    pthread_mutex_lock(&zc->lock);
    json_decref(zc->info);
    zc->info = info;
    zc->iso = iso;
    zc->state = ZYG_READY;
    pthread_mutex_unlock(&zc->lock);
    log_info("zygote ready: %.*s", (int)(blen > 900 ? 900 : blen), (const char *)body);
}

static void *zyg_client_monitor(void *arg)
{
    struct zyg_client *zc = arg;
    unsigned backoff_ms = 100;

    for (;;) {
        struct pollfd pf[2] = {{.fd = -1, .events = POLLIN}, {.fd = zc->wake[0], .events = POLLIN}};
        uint8_t buf[ZYG_MAX_MSG];
        const uint8_t *body;
        size_t blen;
        ssize_t n;
        int type;

        pthread_mutex_lock(&zc->lock);
        pf[0].fd = zc->sock;
        pthread_mutex_unlock(&zc->lock);
        if (pf[0].fd < 0) {
            /* Down: wait out the backoff (or a stop request), then restart. */
            if (poll(&pf[1], 1, (int)backoff_ms) > 0)
                return NULL;
            pthread_mutex_lock(&zc->lock);
            if (zyg_client_spawn(zc) == 0) {
                zc->restarts++;
                log_warn("zygote restarted (pid %d) after it %s", (int)zc->pid, zc->last_exit);
            }
            pthread_mutex_unlock(&zc->lock);
            backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
            continue;
        }
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_errno(errno, NULL, "zygote monitor poll");
            return NULL;
        }
        if (pf[1].revents)
            return NULL;
        n = recv(pf[0].fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            pthread_mutex_lock(&zc->lock);
            zyg_client_reap(zc);
            log_error("zygote died (%s); executions in flight fail with 503", zc->last_exit);
            pthread_mutex_unlock(&zc->lock);
            if (zc->on_sess) {
                /* Every session was a child of that zygote: all gone. */
                struct zyg_sess_event all = {.kind = ZYG_SEV_DEAD, .sess_no = 0};

                zc->on_sess(zc->sess_arg, &all);
            }
            continue;
        }
        type = zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen);
        if (type == ZYG_MSG_READY) {
            zyg_client_on_ready(zc, body, blen);
            backoff_ms = 100;
        } else if (type == ZYG_MSG_SESS_EVENT) {
            struct zyg_sess_event ev;

            if (zyg_proto_decode_sess_event(body, blen, &ev) == 0 && ev.sess_no && zc->on_sess)
                zc->on_sess(zc->sess_arg, &ev);
        } else if (type == ZYG_MSG_STATS) {
            json_t *st = json_loadb((const char *)body, blen, 0, NULL);
            json_t *cpu = json_incref(json_object_get(st, "cpu"));

            (void)json_object_del(st, "cpu");
            pthread_mutex_lock(&zc->lock);
            json_decref(zc->stats);
            zc->stats = st;
            json_decref(zc->cpu);
            zc->cpu = cpu;
            pthread_mutex_unlock(&zc->lock);
        } else {
            log_warn("unexpected message from the zygote (type %d), ignoring", type);
        }
    }
}

int zyg_client_run_monitor(struct zyg_client *zc)
{
    int r = pthread_create(&zc->monitor, NULL, zyg_client_monitor, zc);

    if (r)
        return -r;
    zc->monitor_running = true;
    return 0;
}

/* Sends one datagram with optional fds under the lock (the socket may be swapped). */
static int zyg_client_send(struct zyg_client *zc, const uint8_t *msg, size_t len, const int *fds,
                           int nfds)
{
    int r;

    pthread_mutex_lock(&zc->lock);
    if (zc->sock < 0 || zc->state == ZYG_DOWN || zc->state == ZYG_STOPPING) {
        r = -ERR_UNAVAILABLE;
    } else {
        /* Blocking send: the zygote drains its socket between forks, so this waits at most
         * for one fork when the socket buffer is full. */
        r = fdpass_send(zc->sock, msg, len, fds, nfds);
        if (r == -EPIPE || r == -ECONNRESET)
            r = -ERR_UNAVAILABLE;
    }
    pthread_mutex_unlock(&zc->lock);
    return r;
}

int zyg_client_send_job(struct zyg_client *zc, const struct zyg_job *job,
                        const int fds[ZYG_JOB_NFDS])
{
    uint8_t msg[128];
    int n = zyg_proto_encode_job(job, msg, sizeof(msg));

    if (n < 0)
        return n;
    return zyg_client_send(zc, msg, (size_t)n, fds, ZYG_JOB_NFDS);
}

void zyg_client_on_session(struct zyg_client *zc, zyg_client_sess_fn fn, void *arg)
{
    zc->on_sess = fn;
    zc->sess_arg = arg;
}

int zyg_client_send_sess(struct zyg_client *zc, const struct zyg_sess_cmd *cmd)
{
    uint8_t msg[128];
    int n = zyg_proto_encode_sess_cmd(cmd, msg, sizeof(msg));

    if (n < 0)
        return n;
    return zyg_client_send(zc, msg, (size_t)n, NULL, 0);
}

int zyg_client_cancel(struct zyg_client *zc, uint64_t job_id)
{
    uint8_t msg[32];
    int n = zyg_proto_encode_cancel(job_id, msg, sizeof(msg));

    if (n < 0)
        return n;
    return zyg_client_send(zc, msg, (size_t)n, NULL, 0);
}

json_t *zyg_client_health(struct zyg_client *zc)
{
    json_t *o;

    pthread_mutex_lock(&zc->lock);
    o = json_pack("{s:s, s:i, s:i, s:f}", "state", zyg_state_names[zc->state], "pid", (int)zc->pid,
                  "restarts", (int)zc->restarts, "uptime_s",
                  zc->pid ? (double)(clock_mono_ns() - zc->started_ns) / 1e9 : 0.0);
    if (o && zc->info) {
        json_object_update_missing(o, zc->info);
        json_object_set_new(o, "isolation", isolate_state_json(&zc->iso));
    }
    if (o && zc->last_exit[0])
        json_object_set_new(o, "last_exit", json_string(zc->last_exit));
    if (o && zc->stats)
        json_object_set(o, "warm_pool", zc->stats);
    if (o && zc->cpu)
        json_object_set(o, "cpu", zc->cpu);
    pthread_mutex_unlock(&zc->lock);
    return o;
}

int zyg_client_isolation(struct zyg_client *zc, struct isolate_state *out)
{
    int r;

    pthread_mutex_lock(&zc->lock);
    *out = zc->iso;
    r = zc->info ? 0 : -ERR_UNAVAILABLE;
    pthread_mutex_unlock(&zc->lock);
    return r;
}

int zyg_client_is_ready(struct zyg_client *zc)
{
    int r;

    pthread_mutex_lock(&zc->lock);
    r = zc->state == ZYG_READY;
    pthread_mutex_unlock(&zc->lock);
    return r;
}

void zyg_client_free(struct zyg_client *zc)
{
    if (!zc)
        return;
    if (zc->monitor_running) {
        (void)!write(zc->wake[1], "x", 1);
        pthread_join(zc->monitor, NULL);
    }
    pthread_mutex_lock(&zc->lock);
    zc->state = ZYG_STOPPING;
    fdio_close(&zc->sock);
    if (zc->pid > 0) {
        /* Closing the socket makes the zygote kill its jobs and exit; wait for that. */
        int st;
        (void)waitpid(zc->pid, &st, 0);
    }
    pthread_mutex_unlock(&zc->lock);
    json_decref(zc->info);
    json_decref(zc->stats);
    json_decref(zc->cpu);
    close(zc->wake[0]);
    close(zc->wake[1]);
    free(zc->child_argv);
    pthread_mutex_destroy(&zc->lock);
    free(zc);
}
