/* zygote_sess.c - sessions in the zygote (docs/sessions.md): long-lived children that run one
 * cell after another, forks of them, checkpoint cells, their deadlines and their ends.
 *
 * A session's process is spawned like a warm child (its own PID namespace and init, mount,
 * network, IPC namespaces, a cgroup slot whose uid it runs as, seccomp) but runs sess_child.c.
 * A fork is a clone of that process made by the process itself between cells (CLONE_PARENT:
 * we are its parent, so we reap it and it outlives the original); it stays in the family's
 * namespaces and uid and is moved into a cgroup slot of its own. The family's init and its uid
 * slot live until its last member is gone.
 *
 * What a session's process says ("U", "D") is not trusted: a cell's end is checked here (its
 * leftover processes killed, none of its streams still held) before its status goes out, and
 * the deadline, interrupts and kills come from us. Zygote only, single-threaded. */
#include "zygote_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "fdio.h"
#include "fdpass.h"
#include "log.h"

/* A Python cell past its deadline gets SIGUSR2 (the harness raises in the cell); a cell that
 * has not ended this much later is killed with its session. */
#define ZS_GRACE_NS (1000 * 1000000LL)
/* A session or fork that has not said "U" by then is killed. */
#define ZS_UP_NS (30 * 1000000000LL)

enum zs_state { ZS_STARTING, ZS_IDLE, ZS_BUSY };

struct zs_family {
    pid_t init_pid; /* the PID namespace's init; 0 when none or reaped */
    int uid_slot;   /* the slot whose uid the family runs as: given back when the family ends */
    uid_t uid;
    size_t members; /* processes of the family not yet reaped */
};

struct zs_cell {
    uint64_t job_id;
    int status_fd;
    bool python;
    uint32_t flags;         /* ZYG_ST_* so far */
    int64_t start_ns;       /* monotonic, when it was handed over */
    int64_t deadline_ns;    /* monotonic */
    int64_t kill_ns;        /* past the deadline or a cancel: SIGKILL then; 0 = none */
    int64_t cpu_before_ns;  /* of the session's process and its reaped children */
    uint64_t oom_before;    /* the slot's OOM-kill count */
    ino_t ino[3];           /* the cell's stdout, stderr, result pipes */
    bool started;           /* it said "S": its handlers are in place, signals reach it */
    bool int_pending;       /* an interrupt (or a cancel) waits for "S" */
    bool report_pending;    /* the deadline came before "S": SIGUSR2 on "S" */
    struct zyg_job pending; /* a cell waiting for this process to be up */
    int fds[ZYG_JOB_NFDS];  /* its fds while pending */
    bool has_pending;
};

struct zs_member {
    uint64_t no;           /* the agent's session number; 0 for a checkpoint copy */
    uint64_t ckpt_of;      /* a checkpoint copy: the session it runs a cell for */
    struct zs_family *fam; /* shared with the other members (counted) */
    pid_t pid;             /* in our PID namespace; 0 until a fork says "U" */
    int ctl;               /* our end of its control socket (SO_PASSCRED) */
    int slot;              /* its cgroup slot (the family's uid slot for the first member) */
    enum zs_state state;
    uint32_t flags;       /* enum zyg_sess_flag */
    int64_t up_by_ns;     /* STARTING: killed when not up by then */
    bool silent;          /* its end is not reported (a replaced head, a discarded copy) */
    bool slot_shared;     /* still in its parent's cgroup: killed by pid only */
    uint64_t int_for_job; /* an interrupt for a cell not here yet: its job id */
    uint32_t dead_flags;  /* why it is being killed: ZYG_ST_* */
    struct zs_cell cell;  /* while BUSY (and a pending one while STARTING) */
};

struct zygote_sess {
    struct zs_member **m; /* n used of cap */
    size_t n, cap;
};

struct zygote_sess *zygote_sess_new(void)
{
    return calloc(1, sizeof(struct zygote_sess));
}

void zygote_sess_free(struct zygote_sess *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        fdio_close(&s->m[i]->ctl);
        free(s->m[i]);
    }
    free(s->m);
    free(s);
}

size_t zygote_sess_count(const struct zygote *z)
{
    size_t n = 0;

    for (size_t i = 0; z->sess && i < z->sess->n; i++)
        n += z->sess->m[i]->no != 0;
    return n;
}

static void zs_event(struct zygote *z, uint32_t kind, uint64_t no, const struct zs_member *m,
                     uint32_t flags, int wait_status, int err)
{
    struct zyg_sess_event ev = {
        .kind = kind, .flags = flags, .sess_no = no, .wait_status = wait_status, .err = err};
    uint8_t msg[64];
    int n;

    if (m) {
        ev.pid = m->pid;
        ev.uid = m->fam ? (uint32_t)m->fam->uid : 0;
    }
    n = zyg_proto_encode_sess_event(&ev, msg, sizeof(msg));
    if (n > 0 && send(z->sock, msg, (size_t)n, MSG_NOSIGNAL) < 0)
        log_warn("session %llu: event not delivered: %s", (unsigned long long)no, strerror(errno));
}

static struct zs_member *zs_add(struct zygote *z)
{
    struct zygote_sess *s = z->sess;
    struct zs_member *m;

    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct zs_member **p = realloc(s->m, cap * sizeof(*p));

        if (!p)
            return NULL;
        s->m = p;
        s->cap = cap;
    }
    if (!(m = calloc(1, sizeof(*m))))
        return NULL;
    m->ctl = -1;
    m->slot = -1;
    m->cell.status_fd = -1;
    for (int i = 0; i < ZYG_JOB_NFDS; i++)
        m->cell.fds[i] = -1;
    s->m[s->n++] = m;
    return m;
}

/* The head of session no (the process its cells go to), or NULL. */
static struct zs_member *zs_find(struct zygote *z, uint64_t no)
{
    for (size_t i = 0; i < z->sess->n; i++) {
        if (z->sess->m[i]->no == no)
            return z->sess->m[i];
    }
    return NULL;
}

/* The checkpoint copy running a cell for session no, or NULL. */
static struct zs_member *zs_find_copy(struct zygote *z, uint64_t no)
{
    for (size_t i = 0; i < z->sess->n; i++) {
        if (z->sess->m[i]->ckpt_of == no)
            return z->sess->m[i];
    }
    return NULL;
}

/* True when the process still holds one of the cell's pipes (its threads share the table). */
static bool zs_holds_cell_fds(pid_t pid, const ino_t ino[3])
{
    char path[64], fp[384];
    DIR *d;
    struct dirent *de;
    bool held = false;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    if (!(d = opendir(path)))
        return false; /* it is gone: nothing held */
    while (!held && (de = readdir(d))) {
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        snprintf(fp, sizeof(fp), "%s/%s", path, de->d_name);
        if (stat(fp, &st) == 0 && S_ISFIFO(st.st_mode))
            held = st.st_ino == ino[0] || st.st_ino == ino[1] || st.st_ino == ino[2];
    }
    closedir(d);
    return held;
}

/* Kills a member's processes; its reaping reports it. */
static void zs_kill(struct zygote *z, struct zs_member *m, uint32_t why)
{
    m->dead_flags |= why;
    if (m->pid > 0)
        (void)kill(m->pid, SIGKILL);
    if (m->slot >= 0 && !m->slot_shared)
        (void)isolate_slot_kill_others(z->iso, m->slot, 0, SIGKILL);
    if (m->pid <= 0)
        fdio_close(&m->ctl); /* a fork not up yet: EOF makes it exit */
}

static void zs_close_pending(struct zs_cell *c)
{
    for (int i = 0; i < ZYG_JOB_NFDS; i++)
        fdio_close(&c->fds[i]);
    c->has_pending = false;
}

/* A cell that cannot run: its status says why (err), and its streams close with it. */
static void zs_refuse(const struct zyg_job *job, int fds[ZYG_JOB_NFDS], int err)
{
    struct zyg_status st = {.flags = ZYG_ST_SPAWN_FAILED, .err = err};

    zygote_write_status(fds[ZYG_FD_STATUS], &st, job->job_id);
    for (int i = 0; i < ZYG_JOB_NFDS; i++)
        fdio_close(&fds[i]);
}

/* Hands a cell to an idle member. The status fd is kept; the others go with the message. */
static void zs_dispatch(struct zygote *z, struct zs_member *m, const struct zyg_job *job,
                        int fds[ZYG_JOB_NFDS])
{
    struct zs_cell *c = &m->cell;
    const int which[3] = {ZYG_FD_STDOUT, ZYG_FD_STDERR, ZYG_FD_RESULT};
    uint8_t msg[128];
    int n = zyg_proto_encode_job(job, msg, sizeof(msg));
    int64_t limit_ms = (int64_t)job->timeout_ms + job->compile_ms;

    for (int i = 0; i < 3; i++) {
        struct stat st;

        c->ino[i] = fstat(fds[which[i]], &st) == 0 ? st.st_ino : 0;
    }
    c->job_id = job->job_id;
    c->python = !(job->flags & ZYG_JOB_EXEC);
    c->flags = 0;
    c->kill_ns = 0;
    c->started = c->report_pending = false;
    c->int_pending = m->int_for_job == job->job_id; /* asked for before it came */
    c->cpu_before_ns = zygote_cpu_of(m->pid);
    c->oom_before = isolate_slot_oom_kills(z->iso, m->slot);
    c->start_ns = clock_mono_ns();
    c->deadline_ns = c->start_ns + limit_ms * 1000000;
    if (n < 0 || fdpass_send(m->ctl, msg, (size_t)n, fds, CHILD_JOB_NFDS) < 0) {
        zs_refuse(job, fds, n < 0 ? -n : EPIPE);
        return;
    }
    c->status_fd = fds[ZYG_FD_STATUS];
    fds[ZYG_FD_STATUS] = -1;
    for (int i = 0; i < ZYG_JOB_NFDS; i++)
        fdio_close(&fds[i]);
    m->state = ZS_BUSY;
}

/* SIGINT to a running cell: the Python cell's process (KeyboardInterrupt), or an exec cell's
 * processes; held until the cell says "S" (before, the signal would be ignored and lost). */
static void zs_interrupt(struct zygote *z, struct zs_member *m)
{
    if (!m->cell.started) {
        m->cell.int_pending = true;
        return;
    }
    if (m->cell.python)
        (void)kill(m->pid, SIGINT);
    else
        (void)isolate_slot_kill_others(z->iso, m->slot, m->pid, SIGINT);
}

/* Starts a fork of m (idle) into a new member (number no, workspace name): sends FORK with the
 * copy's control socket. The copy says "U" when it is up. NULL when it could not start. */
static struct zs_member *zs_fork(struct zygote *z, struct zs_member *m, uint64_t no,
                                 const char *name)
{
    /* A checkpoint copy (no 0) keeps working in the session's workspace. */
    struct zyg_sess_cmd cmd = {.op = ZYG_SESS_FORK,
                               .sess_no = m->no ? m->no : m->ckpt_of,
                               .new_no = no ? no : 1,
                               .flags = no ? 0 : ZYG_SESS_SHARE_WS};
    struct zs_member *c;
    uint8_t msg[128];
    int sv[2], one = 1, n;

    snprintf(cmd.name, sizeof(cmd.name), "%s", name);
    if (m->state != ZS_IDLE || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return NULL;
    (void)setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    n = zyg_proto_encode_sess_cmd(&cmd, msg, sizeof(msg));
    if (n < 0 || !(c = zs_add(z))) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    if (fdpass_send(m->ctl, msg, (size_t)n, &sv[1], 1) < 0) {
        close(sv[0]);
        close(sv[1]);
        z->sess->n--;
        free(c);
        return NULL;
    }
    close(sv[1]);
    c->no = no;
    c->ctl = sv[0];
    c->fam = m->fam;
    c->fam->members++;
    c->flags = m->flags;
    c->state = ZS_STARTING;
    c->up_by_ns = clock_mono_ns() + ZS_UP_NS;
    c->slot = isolate_slot_take(z->iso);
    if (c->slot >= 0 && m->slot >= 0)
        isolate_slot_copy_limits(z->iso, m->slot, c->slot);
    else if (m->slot >= 0)
        zs_kill(z, c, ZYG_ST_SPAWN_FAILED); /* sharing its parent's cgroup, a kill of either
                                               would take both: no copy without a slot */
    return c;
}

static void zs_new(struct zygote *z, const struct zyg_sess_cmd *cmd)
{
    struct zygote_warm_child w;
    struct zs_member *m = NULL;
    struct zs_family *f = calloc(1, sizeof(*f));
    int r = -ENOMEM, one = 1;

    if (!f || zs_find(z, cmd->sess_no) || !(m = zs_add(z)))
        goto fail;
    if ((r = zygote_spawn_child(z, &w, (long)cmd->disk_mb, cmd->name, (long)cmd->memory_mb)) < 0) {
        z->sess->n--;
        free(m);
        m = NULL;
        goto fail;
    }
    (void)setsockopt(w.ctl, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    if (w.slot >= 0 &&
        isolate_slot_limits(z->iso, w.slot, (long)cmd->memory_mb, (long)cmd->pids, 0) < 0)
        log_warn("session %llu: a cgroup refused its limits", (unsigned long long)cmd->sess_no);
    f->init_pid = w.init_pid;
    f->uid_slot = w.slot;
    f->uid = isolate_cred_uid(z->iso, w.slot);
    f->members = 1;
    m->no = cmd->sess_no;
    m->fam = f;
    m->pid = w.pid;
    m->ctl = w.ctl;
    m->slot = w.slot;
    m->flags = cmd->flags;
    m->state = ZS_STARTING;
    m->up_by_ns = clock_mono_ns() + ZS_UP_NS;
    return;
fail:
    free(f);
    log_errno(-r, NULL, "session %llu: cannot start it", (unsigned long long)cmd->sess_no);
    zs_event(z, ZYG_SEV_DEAD, cmd->sess_no, NULL, ZYG_ST_SPAWN_FAILED, 0, -r);
}

void zygote_sess_command(struct zygote *z, const struct zyg_sess_cmd *cmd, int fd)
{
    struct zs_member *m = zs_find(z, cmd->sess_no), *c;

    fdio_close(&fd);
    switch (cmd->op) {
    case ZYG_SESS_NEW:
        zs_new(z, cmd);
        return;
    case ZYG_SESS_FORK:
        if (!m || !cmd->new_no || zs_find(z, cmd->new_no) || !zs_fork(z, m, cmd->new_no, cmd->name))
            zs_event(z, ZYG_SEV_DEAD, cmd->new_no, NULL, ZYG_ST_SPAWN_FAILED, 0,
                     m && m->state != ZS_IDLE ? EBUSY : ESRCH);
        return;
    case ZYG_SESS_KILL:
        if ((c = zs_find_copy(z, cmd->sess_no)))
            zs_kill(z, c, ZYG_ST_CANCELLED);
        if (m)
            zs_kill(z, m, ZYG_ST_CANCELLED);
        else
            zs_event(z, ZYG_SEV_DEAD, cmd->sess_no, NULL, ZYG_ST_CANCELLED, 0, ESRCH);
        return;
    case ZYG_SESS_INTERRUPT:
        if ((c = zs_find_copy(z, cmd->sess_no)))
            m = c;
        if (m && m->state == ZS_BUSY && m->pid > 0 && m->cell.job_id == cmd->new_no)
            zs_interrupt(z, m);
        else if (m && m->state != ZS_BUSY)
            m->int_for_job = cmd->new_no; /* its cell is still on its way */
        return;
    default:
        return;
    }
}

void zygote_sess_cell(struct zygote *z, const struct zyg_job *job, int fds[ZYG_JOB_NFDS])
{
    struct zs_member *m = zs_find(z, job->session_no), *c;

    if (!m || m->dead_flags) {
        zs_refuse(job, fds, ESRCH);
        return;
    }
    if (m->state == ZS_BUSY || m->cell.has_pending || zs_find_copy(z, m->no)) {
        zs_refuse(job, fds, EBUSY);
        return;
    }
    /* A checkpoint session runs the cell in a copy, made now; the head waits, unchanged. */
    if ((m->flags & ZYG_SESS_CHECKPOINT) && m->state == ZS_IDLE) {
        char name[ZYG_EXEC_ID_MAX];

        snprintf(name, sizeof(name), "%s", job->exec_id);
        if (!(c = zs_fork(z, m, 0, name))) {
            zs_refuse(job, fds, EAGAIN);
            return;
        }
        c->ckpt_of = m->no;
        c->int_for_job = m->int_for_job;
        m->state = ZS_BUSY; /* until the copy's cell ends */
        m = c;
    }
    if (m->state == ZS_STARTING) {
        m->cell.pending = *job;
        memcpy(m->cell.fds, fds, sizeof(m->cell.fds));
        m->cell.has_pending = true;
        for (int i = 0; i < ZYG_JOB_NFDS; i++)
            fds[i] = -1;
        return;
    }
    zs_dispatch(z, m, job, fds);
}

/* The cell of m ended: "D" (alive, wait status ws) or m died (dead, ws its wait status). */
static void zs_cell_end(struct zygote *z, struct zs_member *m, int ws, bool dead,
                        const struct rusage *ru)
{
    struct zs_cell *c = &m->cell;
    struct zyg_status st = {.wait_status = ws, .flags = c->flags};
    struct zs_member *head;

    if (!dead) {
        /* Its leftovers go with the cell; only the interpreter's state persists. */
        (void)isolate_slot_kill_others(z->iso, m->slot, m->pid, SIGKILL);
        if (zs_holds_cell_fds(m->pid, c->ino)) {
            log_warn("session %llu: it said its cell ended but holds its streams: killed",
                     (unsigned long long)(m->no ? m->no : m->ckpt_of));
            zs_kill(z, m, ZYG_ST_PROTOCOL);
            return; /* the cell ends when it is reaped */
        }
        st.cpu_us = (zygote_cpu_of(m->pid) - c->cpu_before_ns) / 1000;
    } else if (ru) {
        st.cpu_us = zygote_cpu_ru_us(ru) - c->cpu_before_ns / 1000;
        st.max_rss_kb = ru->ru_maxrss;
    }
    if (st.cpu_us < 0)
        st.cpu_us = 0;
    if (isolate_slot_oom_kills(z->iso, m->slot) != c->oom_before)
        st.flags |= ZYG_ST_OOM;
    st.flags |= m->dead_flags & ZYG_ST_CANCELLED;
    st.wall_us = (clock_mono_ns() - c->start_ns) / 1000;
    zygote_write_status(c->status_fd, &st, c->job_id);
    fdio_close(&c->status_fd);
    m->state = ZS_IDLE;
    if (!m->ckpt_of || !(head = zs_find(z, m->ckpt_of)))
        return;
    head->state = ZS_IDLE;
    if (!dead && !(st.flags & (ZYG_ST_TIMED_OUT | ZYG_ST_CANCELLED | ZYG_ST_OOM))) {
        /* Completed: the copy becomes the session; the old head goes quietly. */
        head->silent = true;
        head->no = 0;
        zs_kill(z, head, 0);
        m->no = m->ckpt_of;
        m->ckpt_of = 0;
        zs_event(z, ZYG_SEV_HEAD, m->no, m, 0, 0, 0);
    } else {
        /* Thrown away; a dead one is already reaped (its pid may be another's by now). */
        m->silent = true;
        m->ckpt_of = 0;
        if (!dead)
            zs_kill(z, m, 0);
    }
}

/* Reads what a member said: "U" (up) or "D" (its cell is over), each with credentials. */
static void zs_on_ctl(struct zygote *z, struct zs_member *m)
{
    for (;;) {
        uint8_t b[8];
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(struct ucred))];
        } u;
        struct iovec iov = {.iov_base = b, .iov_len = sizeof(b)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = u.buf,
                            .msg_controllen = sizeof(u.buf)};
        struct cmsghdr *cm;
        struct ucred cr = {0};
        ssize_t n = recvmsg(m->ctl, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        uint32_t v;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            /* EOF: it is exiting (its reaping reports it), or a fork never came up. */
            fdio_close(&m->ctl);
            if (m->pid <= 0)
                zs_kill(z, m, ZYG_ST_SETUP_FAILED);
            return;
        }
        for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
                memcpy(&cr, CMSG_DATA(cm), sizeof(cr));
        }
        if (n != 5)
            continue;
        v = (uint32_t)b[1] | (uint32_t)b[2] << 8 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 24;
        if (b[0] == 'U' && m->state == ZS_STARTING) {
            if (m->pid <= 0) {
                /* A fork: its pid as the kernel vouches for it, into its own cgroup. */
                if (cr.pid <= 0) {
                    zs_kill(z, m, ZYG_ST_SETUP_FAILED);
                    return;
                }
                m->pid = cr.pid;
                if (m->slot >= 0 && isolate_slot_move(z->iso, m->slot, m->pid) < 0) {
                    /* Left in its parent's cgroup, its kill would take the parent too. */
                    log_warn("session fork %d: not moved into its cgroup: ended", (int)m->pid);
                    m->slot_shared = true;
                    zs_kill(z, m, ZYG_ST_SETUP_FAILED);
                    return;
                }
            }
            m->state = ZS_IDLE;
            if (m->no)
                zs_event(z, ZYG_SEV_UP, m->no, m, v, 0, 0);
            if (m->cell.has_pending) {
                m->cell.has_pending = false;
                zs_dispatch(z, m, &m->cell.pending, m->cell.fds);
            }
        } else if (b[0] == 'S' && m->state == ZS_BUSY && cr.pid == m->pid && !m->cell.started) {
            m->cell.started = true;
            if (m->cell.report_pending) {
                m->cell.report_pending = false;
                m->cell.kill_ns = clock_mono_ns() + ZS_GRACE_NS;
                (void)kill(m->pid, ZYGOTE_REPORT_SIGNAL);
            }
            if (m->cell.int_pending) {
                m->cell.int_pending = false;
                zs_interrupt(z, m);
            }
        } else if (b[0] == 'D' && m->state == ZS_BUSY && cr.pid == m->pid) {
            zs_cell_end(z, m, (int)v, false, NULL);
        }
    }
}

size_t zygote_sess_nfds(const struct zygote *z)
{
    return z->sess ? z->sess->n : 0;
}

void zygote_sess_pollfds(struct zygote *z, struct pollfd *pf, size_t *n, size_t cap)
{
    for (size_t i = 0; i < z->sess->n && *n < cap; i++) {
        if (z->sess->m[i]->ctl >= 0)
            pf[(*n)++] = (struct pollfd){.fd = z->sess->m[i]->ctl, .events = POLLIN};
    }
}

bool zygote_sess_on_fd(struct zygote *z, int fd)
{
    for (size_t i = 0; i < z->sess->n; i++) {
        if (z->sess->m[i]->ctl == fd) {
            zs_on_ctl(z, z->sess->m[i]);
            return true;
        }
    }
    return false;
}

bool zygote_sess_cancel(struct zygote *z, uint64_t job_id)
{
    for (size_t i = 0; i < z->sess->n; i++) {
        struct zs_member *m = z->sess->m[i];

        if (m->state != ZS_BUSY || m->cell.job_id != job_id || m->pid <= 0)
            continue;
        m->cell.flags |= ZYG_ST_CANCELLED;
        if (m->cell.python)
            zs_interrupt(z, m);
        else
            (void)isolate_slot_kill_others(z->iso, m->slot, m->pid, SIGKILL);
        if (!m->cell.kill_ns)
            m->cell.kill_ns = clock_mono_ns() + ZS_GRACE_NS;
        return true;
    }
    return false;
}

/* The family lost a member; the last one takes the namespace (init: the kernel kills what is
 * left in it) and gives the uid slot back (its processes were killed with their cgroups). */
static void zs_family_drop(struct zygote *z, struct zs_family *f)
{
    if (--f->members > 0)
        return;
    if (f->init_pid > 0)
        (void)kill(f->init_pid, SIGKILL); /* reaped as an unknown child */
    isolate_slot_give(z->iso, f->uid_slot);
    free(f);
}

/* Member i is gone (reaped with status, or a fork that never came up): its cell and pending
 * cell end, the session's end is reported, its slot and family share are given back. */
static void zs_drop(struct zygote *z, size_t i, int status, const struct rusage *ru)
{
    struct zygote_sess *s = z->sess;
    struct zs_member *m = s->m[i];
    struct zs_family *f = m->fam;

    if (m->state == ZS_BUSY && m->cell.status_fd >= 0)
        zs_cell_end(z, m, status, true, ru);
    if (m->cell.has_pending) {
        struct zyg_status st = {.flags = ZYG_ST_SETUP_FAILED | m->dead_flags};

        zygote_write_status(m->cell.fds[ZYG_FD_STATUS], &st, m->cell.pending.job_id);
        zs_close_pending(&m->cell);
    }
    if (m->ckpt_of) {
        struct zs_member *head = zs_find(z, m->ckpt_of);

        if (head && head->state == ZS_BUSY)
            head->state = ZS_IDLE; /* the copy died before its cell: nothing changed */
    }
    if (m->no && !m->silent) {
        uint32_t why = m->dead_flags | m->cell.flags;

        if (m->slot >= 0 && isolate_slot_oom_kills(z->iso, m->slot) != m->cell.oom_before)
            why |= ZYG_ST_OOM;
        zs_event(z, ZYG_SEV_DEAD, m->no, m, why, status, 0);
    }
    if (m->pid > 0)
        (void)isolate_slot_kill_others(z->iso, m->slot, 0, SIGKILL);
    if (m->slot >= 0 && m->slot != f->uid_slot)
        isolate_slot_give(z->iso, m->slot);
    fdio_close(&m->ctl);
    s->m[i] = s->m[--s->n];
    free(m);
    zs_family_drop(z, f);
}

bool zygote_sess_reaped(struct zygote *z, pid_t pid, int status, const struct rusage *ru)
{
    for (size_t i = 0; i < z->sess->n; i++) {
        if (z->sess->m[i]->pid == pid) {
            zs_drop(z, i, status, ru);
            return true;
        }
    }
    return false;
}

int64_t zygote_sess_next_deadline(const struct zygote *z)
{
    int64_t next = -1;

    for (size_t i = 0; i < z->sess->n; i++) {
        const struct zs_member *m = z->sess->m[i];
        int64_t t = m->state == ZS_STARTING              ? m->up_by_ns
                    : m->state != ZS_BUSY                ? -1
                    : m->cell.kill_ns                    ? m->cell.kill_ns
                    : (m->cell.flags & ZYG_ST_TIMED_OUT) ? -1
                                                         : m->cell.deadline_ns;

        if (t >= 0 && (next < 0 || t < next))
            next = t;
    }
    return next;
}

void zygote_sess_check(struct zygote *z, int64_t now)
{
    /* Forks that never came up have no process to reap: dropped here. */
    for (size_t i = 0; i < z->sess->n;) {
        if (z->sess->m[i]->pid <= 0 && z->sess->m[i]->ctl < 0)
            zs_drop(z, i, 0, NULL);
        else
            i++;
    }
    for (size_t i = 0; i < z->sess->n; i++) {
        struct zs_member *m = z->sess->m[i];
        struct zs_cell *c = &m->cell;

        if (m->state == ZS_STARTING && now >= m->up_by_ns && !m->dead_flags) {
            zs_kill(z, m, ZYG_ST_SETUP_FAILED);
            continue;
        }
        if (m->state != ZS_BUSY || m->pid <= 0)
            continue;
        if (!(c->flags & ZYG_ST_TIMED_OUT) && !c->kill_ns && now >= c->deadline_ns) {
            /* Python: the harness raises in the cell; exec: its program is killed. Either way
             * the session lives if the cell ends within the grace. */
            c->flags |= ZYG_ST_TIMED_OUT;
            c->kill_ns = now + ZS_GRACE_NS;
            if (c->python && !c->started) {
                /* Not in the harness yet (a loaded machine, a tiny timeout): the signal goes
                 * when it says "S"; the kill still comes if it never does. */
                c->report_pending = true;
                c->kill_ns = now + 2 * ZS_GRACE_NS;
            } else if (c->python) {
                (void)kill(m->pid, ZYGOTE_REPORT_SIGNAL);
            } else {
                (void)isolate_slot_kill_others(z->iso, m->slot, m->pid, SIGKILL);
            }
        } else if (c->kill_ns && now >= c->kill_ns && !m->dead_flags) {
            zs_kill(z, m, c->flags & (ZYG_ST_TIMED_OUT | ZYG_ST_CANCELLED));
        }
    }
}

void zygote_sess_kill_all(struct zygote *z)
{
    for (size_t i = 0; z->sess && i < z->sess->n; i++) {
        struct zs_member *m = z->sess->m[i];

        zs_kill(z, m, ZYG_ST_CANCELLED);
        if (m->fam && m->fam->init_pid > 0)
            (void)kill(m->fam->init_pid, SIGKILL);
    }
}
