/* zygote.c - init CPython once, preload, then fork per job and enforce deadlines (STYLE §7).
 *
 * Per job: unshare(CLONE_NEWPID) so the next processes start a new PID namespace; spawn
 * sandpit-init (vfork+exec, cheap) as its pid 1; fork the user process (pid 2); setns back
 * (zygote_pidns.c). Children are forked ahead of need into a warm pool (zygote_warm.c).
 * The user process is our child, so wait4 gives its true status and rusage. When it exits, or
 * at the deadline, or on cancel, init is SIGKILLed and the kernel kills the whole namespace.
 * Only when both are reaped does the status record go out: at that point no process of the
 * execution exists any more. Without PID namespaces (an unprivileged host) the process group is
 * killed instead, which a setsid() escapes; /health says which is in force. */
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

/* Starts the clock of the phase beginning at t0 with limit_ms (and the crash timer). */
static void zygote_run_clock(struct zjob *j, int64_t t0, uint32_t limit_ms)
{
    j->deadline_ns = t0 + (int64_t)limit_ms * 1000000;
    if (j->crash_ms && !(j->flags & ZYG_ST_COMPILING))
        j->crash_ns = t0 + (int64_t)j->crash_ms * 1000000;
}

void zygote_write_status(int status_fd, const struct zyg_status *st, uint64_t job_id)
{
    uint8_t rec[ZYG_STATUS_SIZE];

    zyg_proto_encode_status(st, rec, sizeof(rec));
    /* The pipe is empty and the record is far below PIPE_BUF: this never blocks. */
    if (fdio_write_all(status_fd, rec, sizeof(rec)) < 0)
        log_warn("job %llu: status record not delivered, ignoring", (unsigned long long)job_id);
}

static void zygote_job_finish(struct zygote *z, size_t i)
{
    struct zjob *j = &z->jobs[i];
    struct zyg_status st = {0};

    st.wait_status = j->wait_status;
    st.flags = j->flags;
    st.cpu_us = (int64_t)j->ru.ru_utime.tv_sec * 1000000 + j->ru.ru_utime.tv_usec +
                (int64_t)j->ru.ru_stime.tv_sec * 1000000 + j->ru.ru_stime.tv_usec;
    st.max_rss_kb = j->ru.ru_maxrss;
    st.wall_us = j->wall_us;
    if (j->slot >= 0) {
        if (isolate_slot_oom_kills(z->iso, j->slot) != j->oom_before)
            st.flags |= ZYG_ST_OOM;
        isolate_slot_give(z->iso, j->slot);
        j->slot = -1;
    }
    /* The working dir goes first: when the client reads the result it is gone. */
    if (j->workdir[0])
        fdio_rm_tree(j->workdir);
    zygote_write_status(j->status_fd, &st, j->id);
    timeline_mark(j->tl, TL_DONE);
    timeline_write(&z->tl, j->tl, &j->ru);
    z->cpu.executions++;
    z->stats_dirty = true;
    fdio_close(&j->status_fd);
    fdio_close(&j->ctl);
    z->jobs[i] = z->jobs[--z->n_jobs];
}

/* Kills everything of job j: init takes the namespace with it; without one, the group. */
static void zygote_job_kill(struct zygote *z, struct zjob *j, uint32_t why)
{
    j->flags |= why;
    if (j->init_pid > 0)
        (void)kill(j->init_pid, SIGKILL);
    if (j->pid > 0)
        (void)kill(z->pidns.on ? j->pid : -j->pid, SIGKILL);
}

static int zygote_add_job(struct zygote *z, struct zjob **out)
{
    if (z->n_jobs == z->cap_jobs) {
        size_t cap = z->cap_jobs ? z->cap_jobs * 2 : 64;
        struct zjob *p = realloc(z->jobs, cap * sizeof(*p));

        if (!p)
            return -ENOMEM;
        z->jobs = p;
        z->cap_jobs = cap;
    }
    *out = &z->jobs[z->n_jobs++];
    memset(*out, 0, sizeof(**out));
    (*out)->status_fd = -1;
    (*out)->ctl = -1;
    (*out)->slot = -1;
    return 0;
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
static int zygote_spawn_for(struct zygote *z, struct zygote_warm_child *w,
                            const struct zyg_job *job, const int fds[ZYG_JOB_NFDS])
{
    bool ws = job->flags & ZYG_JOB_WORKSPACE;

    return zygote_fork_child(z, w,
                             (struct child_ctx){.disk_mb = (long)job->disk_mb,
                                                .has_ws = ws,
                                                .ws_fd = ws ? fds[ZYG_FD_WS] : -1,
                                                .ws_uid = (int)job->ws_uid,
                                                .exec_id = job->exec_id});
}

/* Hands a job to a warm child (or one forked now when the pool is empty). */
static void zygote_start_job(struct zygote *z, const struct zyg_job *job, int fds[ZYG_JOB_NFDS])
{
    uint8_t msg[128];
    struct zjob *j = NULL;
    int r, n;

    if ((r = zygote_add_job(z, &j)) < 0)
        goto fail;
    j->id = job->job_id;
    j->status_fd = fds[ZYG_FD_STATUS];
    fds[ZYG_FD_STATUS] = -1;
    /* With a mount namespace the child creates the working dir in its private /tmp; without,
     * it lives on the host: create it here and remove it when the job ends. */
    if (!isolate_has_mount_ns(z->iso)) {
        r = zyg_proto_workdir(z->cfg->work_dir, job->exec_id, j->workdir, sizeof(j->workdir));
        if (r < 0 || mkdir(j->workdir, 0700) < 0) {
            r = r < 0 ? r : -errno;
            j->workdir[0] = '\0';
            goto fail;
        }
    }
    n = zyg_proto_encode_job(job, msg, sizeof(msg));
    for (int attempt = 0; attempt < 3; attempt++) {
        struct zygote_warm_child w;

        /* A scenario's disk size is a mount option of the child's private /tmp, and a
         * workspace a mount in its namespace, both fixed when it isolates itself: such a job
         * gets a child of its own. */
        if (z->warm.n > 0 && !job->disk_mb && !(job->flags & ZYG_JOB_WORKSPACE)) {
            w = zygote_warm_take(&z->warm);
        } else {
            z->warm.misses++;
            if ((r = zygote_spawn_for(z, &w, job, fds)) < 0)
                goto fail;
        }
        /* Given to the uid of the child's slot (the dir is on the host here). */
        if (j->workdir[0])
            isolate_chown_sandbox(z->iso, w.slot, j->workdir);
        if (w.slot >= 0 && isolate_slot_limits(z->iso, w.slot, (long)job->memory_mb,
                                               (long)job->pids, (long)job->cpu_millis) < 0)
            log_warn("job %llu: a cgroup refused the scenario's limits",
                     (unsigned long long)job->job_id);
        /* Marked before the send: the child may stamp "job" before this process runs again. */
        timeline_mark(w.tl, TL_HANDED);
        if ((r = fdpass_send(w.ctl, msg, (size_t)n, fds, CHILD_JOB_NFDS)) < 0) {
            /* That child died while waiting; its reaping cleans up. Try another. */
            zygote_warm_discard(&w);
            continue;
        }
        /* Read the child's "ready" byte before closing: closing with unread data makes the
         * kernel report ECONNRESET to the child (it retries, see child.c). */
        {
            char b;

            j->ready = w.ready;
            while (recv(w.ctl, &b, 1, MSG_DONTWAIT) > 0)
                j->ready = j->ready || b == 'R';
        }
        j->pid = w.pid;
        j->init_pid = w.init_pid;
        j->slot = w.slot;
        j->oom_before = w.oom_before;
        j->tl = w.tl;
        j->start_ns = clock_mono_ns();
        j->timeout_ms = job->timeout_ms;
        j->crash_ms = (job->flags & ZYG_JOB_CRASH) ? job->crash_after_ms : 0;
        j->python = !(job->flags & ZYG_JOB_EXEC);
        /* A compile phase has its own limit; the child says "C" on ctl when it is over and the
         * run's clock starts then. A child forked for this job may still be isolating itself:
         * its "R" tells it got through; one that dies without saying it failed its set-up, not
         * the program (zygote_on_ctl). */
        if (job->compile_ms || !j->ready) {
            j->ctl = w.ctl;
            w.ctl = -1;
        }
        if (job->compile_ms)
            j->flags |= ZYG_ST_COMPILING;
        fdio_close(&w.ctl);
        zygote_run_clock(j, j->start_ns + (int64_t)job->delay_ms * 1000000,
                         job->compile_ms ? job->compile_ms : job->timeout_ms);
        return;
    }
fail:
    log_errno(-r, NULL, "job %llu: cannot start the execution", (unsigned long long)job->job_id);
    if (j) {
        j->flags |= ZYG_ST_SPAWN_FAILED;
        zygote_job_finish(z, (size_t)(j - z->jobs));
    }
}

/* The child's control socket spoke: "R" (its set-up is done), "C" (the compile phase is over:
 * the run's clock starts), or EOF (it exec'd or died). Closed once nothing more is expected. */
static void zygote_on_ctl(struct zjob *j)
{
    char buf[8];
    ssize_t n;

    while ((n = recv(j->ctl, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == 'R') {
                j->ready = true;
            } else if (buf[i] == 'C' && (j->flags & ZYG_ST_COMPILING) &&
                       !(j->flags & (ZYG_ST_TIMED_OUT | ZYG_ST_CANCELLED))) {
                j->flags &= ~(uint32_t)ZYG_ST_COMPILING;
                zygote_run_clock(j, clock_mono_ns(), j->timeout_ms);
            }
        }
    }
    if ((n < 0 && errno != EAGAIN && errno != EINTR) || n == 0 ||
        (j->ready && !(j->flags & ZYG_ST_COMPILING)))
        fdio_close(&j->ctl);
}

/* Tells the agent the warm pool's state (for /health), at most every 100 ms. */
static void zygote_send_stats(struct zygote *z)
{
    uint8_t msg[1024];
    char json[768];
    int n, m = -1;

    if (!z->stats_dirty || clock_mono_ns() - z->stats_sent_ns < 100000000)
        return;
    n = zygote_warm_stats(&z->warm, z->n_jobs, json, sizeof(json));
    n = zygote_cpu_append_json(&z->cpu, json, n, sizeof(json));
    if (n > 0)
        m = zyg_proto_encode_text(ZYG_MSG_STATS, json, (size_t)n, msg, sizeof(msg));
    if (m > 0 && send(z->sock, msg, (size_t)m, MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
        z->stats_sent_ns = clock_mono_ns();
        z->stats_dirty = false;
    }
}

/* Tops the warm pool up by one child when it is short and no message is waiting. Returns
 * true when it forked one (the caller loops back to poll first). */
static bool zygote_refill_one(struct zygote *z)
{
    struct pollfd pf = {.fd = z->sock, .events = POLLIN};
    struct zygote_warm_child w;

    if (!zygote_warm_is_short(&z->warm, clock_mono_ns()))
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
                zygote_start_job(z, &job, fds);
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
        for (size_t i = 0; i < z->n_jobs; i++) {
            struct zjob *j = &z->jobs[i];

            if (j->pid == pid) {
                /* Its last words first: a "R" still unread means it did get through set-up. */
                if (j->ctl >= 0)
                    zygote_on_ctl(j);
                if (!j->ready)
                    j->flags |= ZYG_ST_SETUP_FAILED;
                timeline_mark(j->tl, TL_REAPED);
                j->pid = 0;
                j->wait_status = st;
                j->ru = ru;
                j->wall_us = (clock_mono_ns() - j->start_ns) / 1000;
                if (j->init_pid > 0)
                    (void)kill(j->init_pid, SIGKILL);
                else if (!z->pidns.on)
                    (void)kill(-pid, SIGKILL);
            } else if (j->init_pid == pid) {
                j->init_pid = 0;
            } else {
                continue;
            }
            if (j->pid == 0 && j->init_pid == 0)
                zygote_job_finish(z, i);
            break;
        }
    }
}

static int zygote_poll_timeout(struct zygote *z, int64_t now)
{
    int64_t next = -1;

    for (size_t i = 0; i < z->n_jobs; i++) {
        const struct zjob *j = &z->jobs[i];

        if (j->pid > 0 && !(j->flags & (ZYG_ST_TIMED_OUT | ZYG_ST_CANCELLED)) &&
            (next < 0 || j->deadline_ns < next))
            next = j->deadline_ns;
        if (j->pid > 0 && j->crash_ns && (next < 0 || j->crash_ns < next))
            next = j->crash_ns;
        if (j->pid > 0 && j->kill_ns && (next < 0 || j->kill_ns < next))
            next = j->kill_ns;
    }
    {
        int64_t s = zygote_sess_next_deadline(z);

        if (s >= 0 && (next < 0 || s < next))
            next = s;
    }
    /* Wake up to send a pending pool report. */
    if (z->stats_dirty && (next < 0 || z->stats_sent_ns + 100000000 < next))
        next = z->stats_sent_ns + 100000000;
    /* Wake up to refill the warm pool once a set-up backoff is over. */
    if (z->warm.n < z->warm.size && (next < 0 || z->warm.refill_after_ns < next))
        next = z->warm.refill_after_ns > now ? z->warm.refill_after_ns : now;
    if (next < 0)
        return -1;
    return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

static void zygote_check_deadlines(struct zygote *z, int64_t now)
{
    zygote_sess_check(z, now);
    for (size_t i = 0; i < z->n_jobs; i++) {
        struct zjob *j = &z->jobs[i];

        if (j->pid > 0 && !(j->flags & (ZYG_ST_TIMED_OUT | ZYG_ST_CANCELLED)) &&
            now >= j->deadline_ns) {
            if (j->python && !(j->flags & ZYG_ST_COMPILING)) {
                j->flags |= ZYG_ST_TIMED_OUT;
                j->kill_ns = now + ZYGOTE_REPORT_GRACE_NS;
                (void)kill(j->pid, ZYGOTE_REPORT_SIGNAL);
            } else {
                zygote_job_kill(z, j, ZYG_ST_TIMED_OUT);
            }
        }
        if (j->pid > 0 && j->kill_ns && now >= j->kill_ns) {
            j->kill_ns = 0;
            zygote_job_kill(z, j, ZYG_ST_TIMED_OUT);
        }
        if (j->pid > 0 && j->crash_ns && now >= j->crash_ns) {
            /* simulateCrash at crashAfterMs: the program dies as a segfault would end it. */
            j->crash_ns = 0;
            (void)kill(j->pid, SIGSEGV);
        }
    }
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
                    zygote_on_ctl(&z->jobs[i]);
            }
        }
        if (n > 0 && (z->pf[1].revents & POLLIN))
            zygote_reap(z);
        zygote_check_deadlines(z, clock_mono_ns());
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
