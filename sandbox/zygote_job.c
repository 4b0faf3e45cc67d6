/* zygote_job.c - one stateless execution in the zygote, from the hand-over to the status
 * record: which warm child gets it, its control socket (ready, compile over, its end), the
 * deadline, the early answer on its end message, the reap and the record (zygote_int.h). */
#include <Python.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "fdio.h"
#include "fdpass.h"
#include "log.h"
#include "zyg_proto.h"
#include "zygote_int.h"

/* Starts the clock of the phase beginning at t0 with limit_ms (and the crash timer). */
static void zygote_job_clock(struct zjob *j, int64_t t0, uint32_t limit_ms)
{
    j->deadline_ns = t0 + (int64_t)limit_ms * 1000000;
    if (j->crash_ms && !(j->flags & ZYG_ST_COMPILING))
        j->crash_ns = t0 + (int64_t)j->crash_ms * 1000000;
}

/* Every process of job i is gone: its status record goes out (unless it was answered before),
 * its slot is free again. */
static void zygote_job_finish(struct zygote *z, size_t i)
{
    struct zjob *j = &z->jobs[i];
    struct zyg_status st = {0};

    st.wait_status = j->wait_status;
    st.flags = j->flags;
    st.cpu_us = zygote_cpu_ru_us(&j->ru) - j->cpu0_ns / 1000;
    st.cpu_us = st.cpu_us > 0 ? st.cpu_us : 0;
    st.max_rss_kb = j->ru.ru_maxrss;
    st.wall_us = j->wall_us;
    if (j->slot >= 0) {
        if (!j->answered && isolate_slot_oom_kills(z->iso, j->slot) != j->oom_before)
            st.flags |= ZYG_ST_OOM;
        isolate_slot_give(z->iso, j->slot);
        j->slot = -1;
    }
    /* The working dir goes first: when the client reads the result it is gone. */
    if (j->workdir[0])
        fdio_rm_tree(j->workdir);
    if (j->answered)
        z->n_answered--;
    else
        zygote_write_status(j->status_fd, &st, j->id);
    timeline_mark(j->tl, TL_DONE);
    timeline_write(&z->tl, j->tl, &j->ru);
    z->cpu.executions++;
    z->stats_dirty = true;
    fdio_close(&j->status_fd);
    fdio_close(&j->ctl);
    z->jobs[i] = z->jobs[--z->n_jobs];
}

/* Job j's child said it ended ("E" + its exit code, after closing its streams): the status goes
 * out now, before the address-space teardown (~10 ms of wall time here), and the child and its
 * namespace are killed, so nothing of the program runs after its claim. The claim is the
 * program's own, as an exit would be: a program can send it early, but all it can claim is an
 * exit code it could have exited with (docs/performance.md "Answering before the exit"). What
 * only the zygote knows is read here: deadline and cancel (then the claim is ignored and the
 * reap decides), OOM kills, CPU, peak RSS. */
static void zygote_job_answer(struct zygote *z, struct zjob *j, uint8_t code)
{
    struct zyg_status st = {0};

    if (j->flags & (ZYG_ST_TIMED_OUT | ZYG_ST_CANCELLED | ZYG_ST_PROTOCOL))
        return;
    /* Stopped, not killed, while it is measured: a dying process has no memory to show. */
    (void)kill(j->pid, SIGSTOP);
    st.cpu_us = (zygote_cpu_of(j->pid) - j->cpu0_ns) / 1000;
    st.cpu_us = st.cpu_us > 0 ? st.cpu_us : 0;
    st.max_rss_kb = zygote_cpu_hwm_kb(j->pid);
    (void)kill(j->init_pid, SIGKILL);
    (void)kill(j->pid, SIGKILL);
    st.wait_status = (int)code << 8; /* W_EXITCODE(code, 0) */
    st.flags = j->flags | ZYG_ST_EARLY;
    if (j->slot >= 0 && isolate_slot_oom_kills(z->iso, j->slot) != j->oom_before)
        st.flags |= ZYG_ST_OOM;
    st.wall_us = (clock_mono_ns() - j->start_ns) / 1000;
    zygote_write_status(j->status_fd, &st, j->id);
    fdio_close(&j->status_fd);
    timeline_mark(j->tl, TL_ANSWERED);
    j->answered = true;
    z->n_answered++;
    z->stats_dirty = true;
}

/* Kills everything of job j: init takes the namespace with it; without one, the group. */
void zygote_job_kill(struct zygote *z, struct zjob *j, uint32_t why)
{
    j->flags |= why;
    if (j->init_pid > 0)
        (void)kill(j->init_pid, SIGKILL);
    if (j->pid > 0)
        (void)kill(z->pidns.on ? j->pid : -j->pid, SIGKILL);
}

static int zygote_job_add(struct zygote *z, struct zjob **out)
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

void zygote_job_start(struct zygote *z, const struct zyg_job *job, int fds[ZYG_JOB_NFDS])
{
    uint8_t msg[128];
    struct zjob *j = NULL;
    int r, n;

    if ((r = zygote_job_add(z, &j)) < 0)
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
         * kernel report ECONNRESET to the child (it retries, see child.c). "R" is the only
         * message before the job. */
        {
            char b;

            j->ready = w.ready;
            if (!j->ready && recv(w.ctl, &b, 1, MSG_DONTWAIT) == 1)
                j->ready = b == 'R';
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
        /* The clock alone: a warm child has reaped no children, and /proc is not read here. */
        j->cpu0_ns = zygote_cpu_clock_ns(w.pid);
        /* Answered on its end message when killing its namespace ends every process of it
         * and nothing outlives it that the next user of its state would see: no host working
         * dir, no workspace (its files are collected or kept), not a simulated crash (whose
         * signal is the outcome). At most max_concurrent answered jobs wait to be reaped, so
         * the slots their teardowns hold stay bounded. */
        j->early_ok = j->python && w.init_pid > 0 && !j->workdir[0] &&
                      !(job->flags & (ZYG_JOB_WORKSPACE | ZYG_JOB_CRASH)) &&
                      z->n_answered < (size_t)z->cfg->max_concurrent;
        /* A compile phase has its own limit; the child says "C" on ctl when it is over and the
         * run's clock starts then. A child forked for this job may still be isolating itself:
         * its "R" tells it got through; one that dies without saying it failed its set-up, not
         * the program (zygote_on_ctl). */
        if (job->compile_ms || !j->ready || j->early_ok) {
            j->ctl = w.ctl;
            w.ctl = -1;
        }
        if (job->compile_ms)
            j->flags |= ZYG_ST_COMPILING;
        fdio_close(&w.ctl);
        zygote_job_clock(j, j->start_ns + (int64_t)job->delay_ms * 1000000,
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

/* The child's control socket spoke (zygote_int.h): "R" (its set-up is done), "C" (the compile phase
 * is over: the run's clock starts), "E" + exit code (it ended: zygote_job_answer), or EOF (it
 * exec'd or died). Once the program runs it holds the socket too: the first message then ends the
 * job (an "E" is answered, anything else is killed as a protocol breach), so a program flooding it
 * costs the zygote one read. Closed once nothing more is expected. */
void zygote_job_on_ctl(struct zygote *z, struct zjob *j)
{
    char buf[8];
    ssize_t n = -1;

    for (int k = 0; k < 4 && j->ctl >= 0; k++) {
        bool running;

        if ((n = recv(j->ctl, buf, sizeof(buf), MSG_DONTWAIT)) <= 0)
            break;
        running = j->ready && !(j->flags & ZYG_ST_COMPILING);
        if (n == 1 && buf[0] == 'R' && !j->ready) {
            j->ready = true;
        } else if (n == 1 && buf[0] == 'C' && (j->flags & ZYG_ST_COMPILING) &&
                   !(j->flags & (ZYG_ST_TIMED_OUT | ZYG_ST_CANCELLED))) {
            j->flags &= ~(uint32_t)ZYG_ST_COMPILING;
            zygote_job_clock(j, clock_mono_ns(), j->timeout_ms);
        } else if (running && j->early_ok && !j->answered) {
            if (n == 2 && buf[0] == 'E')
                zygote_job_answer(z, j, (uint8_t)buf[1]);
            else
                zygote_job_kill(z, j, ZYG_ST_PROTOCOL);
            fdio_close(&j->ctl); /* the child waits for this (or its kill) to exit */
        }
    }
    if (j->ctl >= 0 && ((n < 0 && errno != EAGAIN && errno != EINTR) || n == 0 ||
                        (j->ready && !(j->flags & ZYG_ST_COMPILING) && !j->early_ok)))
        fdio_close(&j->ctl);
}

bool zygote_job_reaped(struct zygote *z, pid_t pid, int st, const struct rusage *ru)
{
    for (size_t i = 0; i < z->n_jobs; i++) {
        struct zjob *j = &z->jobs[i];

        if (j->pid == pid) {
            /* Its last words first: a "R" still unread means it did get through set-up. */
            if (j->ctl >= 0)
                zygote_job_on_ctl(z, j);
            if (!j->ready)
                j->flags |= ZYG_ST_SETUP_FAILED;
            timeline_mark(j->tl, TL_REAPED);
            j->pid = 0;
            j->wait_status = st;
            j->ru = *ru;
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
        return true;
    }
    return false;
}

int64_t zygote_job_next_deadline(const struct zygote *z)
{
    int64_t next = -1;

    for (size_t i = 0; i < z->n_jobs; i++) {
        const struct zjob *j = &z->jobs[i];

        if (j->answered)
            continue; /* killed already: only its reap is left */
        if (j->pid > 0 && !(j->flags & (ZYG_ST_TIMED_OUT | ZYG_ST_CANCELLED)) &&
            (next < 0 || j->deadline_ns < next))
            next = j->deadline_ns;
        if (j->pid > 0 && j->crash_ns && (next < 0 || j->crash_ns < next))
            next = j->crash_ns;
        if (j->pid > 0 && j->kill_ns && (next < 0 || j->kill_ns < next))
            next = j->kill_ns;
    }
    return next;
}

void zygote_job_check(struct zygote *z, int64_t now)
{
    for (size_t i = 0; i < z->n_jobs; i++) {
        struct zjob *j = &z->jobs[i];

        if (j->answered)
            continue;
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
