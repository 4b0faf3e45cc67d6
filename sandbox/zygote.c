/* zygote.c - init CPython once, preload, then fork per job and enforce deadlines (STYLE §7).
 *
 * Per job: unshare(CLONE_NEWPID) so the next processes start a new PID namespace; spawn
 * sandpit-init (vfork+exec, cheap) as its pid 1; fork the user process (pid 2); setns back
 * (zygote_pidns.c). Children are forked ahead of need into a warm pool (zygote_warm.c).
 * The user process is our child, so wait4 gives its true status and rusage. When it exits, or
 * at the deadline, or on cancel, init is SIGKILLed and the kernel kills the whole namespace.
 * Only when both are reaped does the status record go out: at that point no process of the
 * execution exists any more; except when a Python run's child says it ended, where the record
 * goes out then and the namespace is killed (zygote_job.c, "answered before the teardown").
 * Without PID namespaces (an unprivileged host) the process group is killed instead, which a
 * setsid() escapes; /health says which is in force. This file: the loop, the pool, the forks;
 * zygote_job.c: one execution; zygote_sess.c: sessions. */
#include <Python.h>

#include "zygote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "child.h"
#include "clock.h"
#include "fdio.h"
#include "fdpass.h"
#include "heap_thp.h"
#include "isolate.h"
#include "isolate_selftest.h"
#include "log.h"
#include "pyrt.h"
#include "zyg_proto.h"
#include "zygote_int.h"
#include "zygote_pidns.h"
#include "zygote_warm.h"

void zygote_write_status(int status_fd, const struct zyg_status *st, uint64_t job_id)
{
    uint8_t rec[ZYG_STATUS_SIZE];

    zyg_proto_encode_status(st, rec, sizeof(rec));
    /* The pipe is empty and the record is far below PIPE_BUF: this never blocks. */
    if (fdio_write_all(status_fd, rec, sizeof(rec)) < 0)
        log_warn("job %llu: status record not delivered, ignoring", (unsigned long long)job_id);
}

/* Forks one child with cc's job-specific fields (disk_mb, session, memory_mb, workspace); the
 * rest is filled here. 0 or -errno. */
static int zygote_fork_child(struct zygote *z, struct zygote_warm_child *w, struct child_ctx cc)
{
    int sv[2] = {-1, -1}, r;
    pid_t pid;

    memset(w, 0, sizeof(*w));
    w->ctl = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    w->slot = isolate_slot_take(z->iso);
    if (w->slot >= 0)
        w->oom_before = isolate_slot_oom_kills(z->iso, w->slot);
    w->tl = cc.session ? NULL : timeline_take(&z->tl);
    timeline_mark(w->tl, TL_FORK_START);
    if ((r = zygote_pidns_enter(&z->pidns, &w->init_pid)) < 0)
        goto fail;
    timeline_mark(w->tl, TL_INIT);
    cc.cfg = z->cfg;
    cc.rt = z->rt;
    cc.iso = z->iso;
    cc.slot = w->slot;
    cc.ctl = sv[1];
    cc.zygote_pid = getpid();
    cc.in_pidns = z->pidns.on;
    cc.tl = w->tl;
    pid = pyrt_fork(z->rt);
    if (pid == 0) {
        timeline_mark(cc.tl, TL_CHILD);
        child_run(&cc);
    }
    r = -errno;
    timeline_mark(w->tl, TL_FORKED);
    zygote_pidns_leave(&z->pidns);
    if (pid < 0)
        goto fail;
    close(sv[1]);
    w->ctl = sv[0];
    w->pid = pid;
    return 0;
fail:
    if (w->init_pid > 0) {
        (void)kill(w->init_pid, SIGKILL);
        (void)waitpid(w->init_pid, NULL, 0);
    }
    isolate_slot_give(z->iso, w->slot);
    fdio_close(&sv[0]);
    fdio_close(&sv[1]);
    return r;
}

int zygote_spawn_child(struct zygote *z, struct zygote_warm_child *w, long disk_mb,
                       const char *session, long memory_mb)
{
    return zygote_fork_child(
        z, w, (struct child_ctx){.disk_mb = disk_mb, .session = session, .memory_mb = memory_mb});
}

/* A child for the job alone: its disk size or its workspace is fixed when it isolates itself
 * (the workspace's mount, fds[ZYG_FD_WS], is inherited and bound on its working directory). */
int zygote_spawn_for(struct zygote *z, struct zygote_warm_child *w, const struct zyg_job *job,
                     const int fds[ZYG_JOB_NFDS])
{
    bool ws = job->flags & ZYG_JOB_WORKSPACE;

    return zygote_fork_child(z, w,
                             (struct child_ctx){.disk_mb = (long)job->disk_mb,
                                                .has_ws = ws,
                                                .ws_fd = ws ? fds[ZYG_FD_WS] : -1,
                                                .ws_uid = (int)job->ws_uid,
                                                .exec_id = job->exec_id});
}

/* Tells the agent the warm pool's state (for /health), at most every ZYGOTE_STATS_EVERY_NS. */
static void zygote_send_stats(struct zygote *z)
{
    uint8_t msg[1024];
    char json[768];
    int n, m = -1;

    if (!z->stats_dirty || clock_mono_ns() - z->stats_sent_ns < ZYGOTE_STATS_EVERY_NS)
        return;
    n = zygote_warm_stats(&z->warm, z->n_jobs - z->n_answered, json, sizeof(json));
    n = zygote_cpu_append_json(&z->cpu, json, n, sizeof(json));
    if (n > 0)
        m = zyg_proto_encode_text(ZYG_MSG_STATS, json, (size_t)n, msg, sizeof(msg));
    if (m > 0 && send(z->sock, msg, (size_t)m, MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
        z->stats_sent_ns = clock_mono_ns();
        z->stats_dirty = false;
    }
}

/* Until when the pool's refill waits: a fork blocks this loop (~10 ms for the preloaded
 * interpreter on a VM whose page-table work traps), and a job ending meanwhile waits that long
 * for its answer. So while a job started in the last ZYGOTE_REFILL_DEFER_NS runs, and the pool
 * is at least half full, the fork waits for its end (or for that time: a long job does not
 * hold the pool back). 0 = no wait. */
static int64_t zygote_refill_wait_until(const struct zygote *z)
{
    int64_t until = 0;

    if (z->warm.n * 2 < z->warm.size)
        return 0;
    for (size_t i = 0; i < z->n_jobs; i++) {
        const struct zjob *j = &z->jobs[i];

        if (j->pid > 0 && !j->answered && j->start_ns + ZYGOTE_REFILL_DEFER_NS > until)
            until = j->start_ns + ZYGOTE_REFILL_DEFER_NS;
    }
    return until;
}

/* Tops the warm pool up by one child when it is short, no message is waiting and no young job
 * runs (zygote_refill_wait_until). Returns true when it forked one (the caller loops back to
 * poll first). */
static bool zygote_refill_one(struct zygote *z)
{
    struct pollfd pf = {.fd = z->sock, .events = POLLIN};
    struct zygote_warm_child w;
    int64_t now = clock_mono_ns();

    if (!zygote_warm_is_short(&z->warm, now) || zygote_refill_wait_until(z) > now)
        return false;
    if (poll(&pf, 1, 0) > 0)
        return false; /* a job is waiting: it goes first */
    if (zygote_spawn_child(z, &w, 0, NULL, 0) < 0) {
        zygote_warm_backoff(&z->warm);
        return false;
    }
    zygote_warm_add(&z->warm, &w);
    return true;
}

/* Receives one message with its fds; dispatches JOB and CANCEL. Returns -1 when the agent has
 * gone (EOF), 0 otherwise. */
static int zygote_on_message(struct zygote *z)
{
    uint8_t buf[ZYG_MAX_MSG];
    int fds[ZYG_JOB_NFDS], nfds = 0, type;
    const uint8_t *body;
    size_t body_len;
    ssize_t n;

    /* Descriptors beyond a job's are closed; a cut datagram is refused with its fds closed. */
    n = fdpass_recv(z->sock, buf, sizeof(buf), fds, ZYG_JOB_NFDS, &nfds, MSG_DONTWAIT);
    if (n == -EAGAIN)
        return 0;
    if (n <= 0 && n != -EMSGSIZE)
        return -1; /* EOF: the agent has gone */
    type = n > 0 ? zyg_proto_decode_hdr(buf, (size_t)n, &body, &body_len) : (int)n;
    if (type == ZYG_MSG_JOB && nfds == ZYG_JOB_NFDS) {
        struct zyg_job job;

        if (zyg_proto_decode_job(body, body_len, &job) == 0) {
            if (job.session_no)
                zygote_sess_cell(z, &job, fds);
            else
                zygote_job_start(z, &job, fds);
            for (int i = 0; i < ZYG_JOB_NFDS; i++)
                fdio_close(&fds[i]);
            return 0;
        }
    } else if (type == ZYG_MSG_CANCEL) {
        uint64_t id;

        if (zyg_proto_decode_cancel(body, body_len, &id) == 0 && !zygote_sess_cancel(z, id)) {
            for (size_t i = 0; i < z->n_jobs; i++) {
                if (z->jobs[i].id == id)
                    zygote_job_kill(z, &z->jobs[i], ZYG_ST_CANCELLED);
            }
        }
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return 0;
    } else if (type == ZYG_MSG_SESS && nfds == 0) {
        struct zyg_sess_cmd cmd;

        if (zyg_proto_decode_sess_cmd(body, body_len, &cmd) == 0) {
            zygote_sess_command(z, &cmd, -1);
            return 0;
        }
    }
    log_warn("malformed message from the agent (type %d, %d fds), ignoring", type, nfds);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    return 0;
}

static void zygote_drain_sigfd(struct zygote *z)
{
    struct signalfd_siginfo si;

    while (read(z->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
}

static void zygote_reap(struct zygote *z)
{
    struct rusage ru;
    int st;
    pid_t pid;

    zygote_drain_sigfd(z);
    while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0) {
        if (zygote_warm_reaped(&z->warm, z->iso, pid, st) || zygote_sess_reaped(z, pid, st, &ru))
            continue;
        (void)zygote_job_reaped(z, pid, st, &ru);
    }
}

static int zygote_poll_timeout(struct zygote *z, int64_t now)
{
    int64_t next = -1;

    next = zygote_job_next_deadline(z);
    {
        int64_t s = zygote_sess_next_deadline(z);

        if (s >= 0 && (next < 0 || s < next))
            next = s;
    }
    /* Wake up to send a pending pool report. */
    if (z->stats_dirty && (next < 0 || z->stats_sent_ns + ZYGOTE_STATS_EVERY_NS < next))
        next = z->stats_sent_ns + ZYGOTE_STATS_EVERY_NS;
    /* Wake up to refill the warm pool once a set-up backoff, or a young job's grace, is over. */
    if (z->warm.n < z->warm.size) {
        int64_t at = z->warm.refill_after_ns, young = zygote_refill_wait_until(z);

        at = young > at ? young : at;
        at = at > now ? at : now;
        if (next < 0 || at < next)
            next = at;
    }
    if (next < 0)
        return -1;
    return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

static int zygote_count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Sends READY with the preload report and what isolation is in force. */
static int zygote_send_ready(struct zygote *z, const char *preload_json, int64_t init_us)
{
    uint8_t msg[ZYG_MAX_MSG];
    json_t *o, *pre;
    char *text = NULL;
    int m = -ENOMEM;

    pre = preload_json ? json_loads(preload_json, 0, NULL) : NULL;
    o = json_pack("{s:i, s:s, s:f, s:i, s:b, s:s, s:o, s:o, s:i, s:i}", "pid", (int)getpid(),
                  "python", Py_GetVersion(), "init_ms", (double)init_us / 1000.0, "threads",
                  zygote_count_threads(), "pid_namespace", z->pidns.on, "pid_namespace_reason",
                  z->pidns.reason, "preload", pre ? pre : json_null(), "isolation",
                  isolate_state_json(isolate_layers(z->iso)), "heap_huge_pages_mib",
                  (int)z->thp_mib, "prefault_pages", (int)z->hot.pages);
    if (o)
        (void)json_object_set_new(o, "sandbox_uids", isolate_uids_json(z->iso));
    if (o)
        text = json_dumps(o, JSON_COMPACT);
    if (text)
        m = zyg_proto_encode_ready(text, strlen(text), msg, sizeof(msg));
    if (m >= 0)
        m = send(z->sock, msg, (size_t)m, MSG_NOSIGNAL) < 0 ? -errno : 0;
    free(text);
    json_decref(o);
    return m;
}

/* The layers, probed now while probe forks are cheap (before Python makes us large). The
 * harness root and the directory of our binaries are ours: hidden inside executions; the
 * runtimes' tools (runtimes/node_modules/.bin) stay visible, the whole runtimes directory. */
static struct isolate *zygote_isolate_new(const struct agent_cfg *cfg, const char *harness_root,
                                          const char *init_path)
{
    static const char bin_suffix[] = "/node_modules/.bin";
    char bindir[PATH_MAX], expose[PATH_MAX];
    const char *hide[3] = {harness_root, bindir, NULL};
    size_t tl = strlen(cfg->tools_dir), sl = sizeof(bin_suffix) - 1;

    snprintf(bindir, sizeof(bindir), "%s", init_path);
    if (strrchr(bindir, '/'))
        *strrchr(bindir, '/') = '\0';
    if (tl > sl && !strcmp(cfg->tools_dir + tl - sl, bin_suffix))
        tl -= sl;
    snprintf(expose, sizeof(expose), "%.*s", (int)tl, cfg->tools_dir);
    return isolate_new(cfg, hide, expose);
}

/* Everything before the interpreter: thread variables, signals, the PID namespace and the
 * isolation probes, the warm pool. 0, or -1 (logged). */
static int zygote_setup(struct zygote *z, const char *harness_root, const char *init_path)
{
    sigset_t mask;
    int r;

    /* Native libraries must not start threads in the zygote: fork() copies only one. */
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("MKL_NUM_THREADS", "1", 1);
    setenv("NUMEXPR_NUM_THREADS", "1", 1);
    setenv("MPLBACKEND", "Agg", 1);
    if (!getenv("MPLCONFIGDIR"))
        setenv("MPLCONFIGDIR", "/tmp/sandpit-matplotlib", 1);

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    z->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (z->sigfd < 0) {
        log_errno(errno, NULL, "zygote set-up");
        return -1;
    }
    if ((r = zygote_pidns_init(&z->pidns, init_path)) < 0) {
        log_errno(-r, NULL, "zygote set-up");
        return -1;
    }
    z->iso = zygote_warm_init(&z->warm, (size_t)z->cfg->warm_pool) == 0
                 ? zygote_isolate_new(z->cfg, harness_root, init_path)
                 : NULL;
    if (!z->iso) {
        log_error("zygote: out of memory probing the isolation layers");
        return -1;
    }
    if (!z->pidns.on)
        log_warn("PID namespaces unavailable (%s): descendants are killed by process group",
                 z->pidns.reason);
    return 0;
}

/* The poll loop: jobs and cancels from the agent, children's control sockets, reaping,
 * deadlines, the warm pool. Returns 0 when the agent has gone, 1 on an internal failure. */
static int zygote_serve(struct zygote *z)
{
    for (;;) {
        int64_t now = clock_mono_ns();
        size_t npf = 2;
        int n;

        /* The agent, signals, and the control sockets of jobs still compiling. */
        size_t want = z->n_jobs + zygote_sess_nfds(z) + 2;

        if (z->cap_pf < want) {
            struct pollfd *p = realloc(z->pf, want * 2 * sizeof(*p));

            if (p) {
                z->pf = p;
                z->cap_pf = want * 2;
            }
        }
        if (!z->pf) {
            log_error("zygote: out of memory");
            return 1;
        }
        z->pf[0] = (struct pollfd){.fd = z->sock, .events = POLLIN};
        z->pf[1] = (struct pollfd){.fd = z->sigfd, .events = POLLIN};
        for (size_t i = 0; i < z->n_jobs && npf < z->cap_pf; i++) {
            if (z->jobs[i].ctl >= 0)
                z->pf[npf++] = (struct pollfd){.fd = z->jobs[i].ctl, .events = POLLIN};
        }
        zygote_sess_pollfds(z, z->pf, &npf, z->cap_pf);
        n = poll(z->pf, (nfds_t)npf, zygote_poll_timeout(z, now));
        if (n < 0 && errno != EINTR) {
            log_errno(errno, NULL, "zygote poll");
            return 1;
        }
        for (size_t k = 2; n > 0 && k < npf; k++) {
            if (!z->pf[k].revents || zygote_sess_on_fd(z, z->pf[k].fd))
                continue;
            for (size_t i = 0; i < z->n_jobs; i++) {
                if (z->jobs[i].ctl == z->pf[k].fd)
                    zygote_job_on_ctl(z, &z->jobs[i]);
            }
        }
        if (n > 0 && (z->pf[1].revents & POLLIN))
            zygote_reap(z);
        {
            int64_t now2 = clock_mono_ns();

            zygote_sess_check(z, now2);
            zygote_job_check(z, now2);
        }
        if (n > 0 && (z->pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (zygote_on_message(z) < 0)
                return 0;
            z->stats_dirty = true;
            continue; /* drain pending jobs before spending a fork on the pool */
        }
        if (zygote_refill_one(z))
            z->stats_dirty = true;
        zygote_send_stats(z);
    }
}

/* The agent is gone: nothing may outlive it. Kills every job and warm child, then reaps until
 * none is left (5 s at most), so that when the agent sees us exit, everything is gone. */
static void zygote_stop_all(struct zygote *z)
{
    int64_t give_up = clock_mono_ns() + 5 * (int64_t)1000000000;

    for (size_t i = 0; i < z->n_jobs; i++)
        zygote_job_kill(z, &z->jobs[i], ZYG_ST_CANCELLED);
    zygote_sess_kill_all(z);
    zygote_warm_discard_all(&z->warm);
    while (clock_mono_ns() < give_up) {
        pid_t p = waitpid(-1, NULL, WNOHANG);

        if (p < 0)
            break; /* ECHILD: none left */
        if (p == 0) {
            struct pollfd pf = {.fd = z->sigfd, .events = POLLIN};

            (void)poll(&pf, 1, 50);
            zygote_drain_sigfd(z);
        }
    }
}

int zygote_main(const struct agent_cfg *cfg, int sock_fd, const char *harness_root,
                const char *init_path)
{
    struct zygote z = {.cfg = cfg,
                       .sock = sock_fd,
                       .sigfd = -1,
                       .tl = {.fd = -1},
                       .pidns = {.ns_fd = -1, .init_pipe = {-1, -1}, .devnull = -1}};
    struct err e = {0};
    char *preload = NULL;
    int64_t t0 = clock_mono_ns();
    int rc = 1, threads, r;

    if (!(z.sess = zygote_sess_new()) || zygote_setup(&z, harness_root, init_path) < 0)
        goto out;
    if ((r = timeline_init(&z.tl, cfg->timeline)) < 0) {
        log_errno(-r, NULL, "zygote: --timeline '%s'", cfg->timeline);
        goto out;
    }
    z.rt = pyrt_new(harness_root, &e);
    if (!z.rt) {
        log_error("zygote: %s", e.msg);
        goto out;
    }
    preload = pyrt_preload(z.rt, cfg->preload);
    isolate_selftest_run(z.iso, z.rt);
    z.thp_mib = heap_thp_collapse();
    if (cfg->prefault && (r = heap_hot_learn(&z.hot, z.rt, cfg->work_dir)) < 0)
        log_errno(-r, NULL, "zygote: learning the pages children copy (they fault as before)");
    pyrt_set_prefault(z.rt, z.hot.n ? &z.hot : NULL);
    threads = zygote_count_threads();
    if (threads != 1) {
        log_error("zygote has %d threads after preload; refusing to fork (set the preloads' "
                  "thread variables or drop the module that starts threads)",
                  threads);
        goto out;
    }
    if (zygote_send_ready(&z, preload, (clock_mono_ns() - t0) / 1000) < 0) {
        log_errno(errno, NULL, "zygote: sending READY");
        goto out;
    }
    zygote_cpu_start(&z.cpu);
    rc = zygote_serve(&z);
    zygote_stop_all(&z);
out:
    isolate_free(z.iso);
    heap_hot_done(&z.hot);
    timeline_done(&z.tl);
    zygote_pidns_done(&z.pidns);
    zygote_warm_done(&z.warm);
    zygote_sess_free(z.sess);
    free(z.jobs);
    free(z.pf);
    free(preload);
    _exit(rc);
}
