/* sess_child.c - a session's process: isolated like an execution's child, then one cell after
 * another in the same interpreter until the zygote closes its control socket.
 *
 * Nothing here is trusted by the zygote: user code runs in this process between our steps and
 * may write on the control socket itself. The zygote judges a cell's end by its own checks
 * (zygote_sess.c); what we send is a claim about our own cell, worth what printing it is. */
#include <Python.h>

#include "sess_child.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "fdpass.h"
#include "runexec.h"

#define SESS_SPEC_MAX  (64u << 20)
#define SESS_RESULT_FD 3
#define SESS_CTL_FD    4

/* Sends a one-letter message with a 32-bit value, with our credentials (the zygote learns our
 * pid in its own namespace from them). */
static void sess_child_say(char what, uint32_t v)
{
    uint8_t msg[5] = {(uint8_t)what, (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                      (uint8_t)(v >> 24)};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } u = {0};
    struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    struct ucred cr = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
    struct cmsghdr *c;

    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof(u.buf);
    c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(cr));
    memcpy(CMSG_DATA(c), &cr, sizeof(cr));
    (void)sendmsg(SESS_CTL_FD, &mh, MSG_NOSIGNAL);
}

/* The cell's stdio back to /dev/null and its result fd closed, so the agent sees EOF on every
 * stream of the cell once we are done with it. */
static void sess_child_unwire(void)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    for (int fd = 0; fd < 3 && null >= 0; fd++)
        (void)dup2(null, fd);
    if (null >= 0)
        close(null);
    close(SESS_RESULT_FD);
    /* Anything a cell opened and left (files, sockets) stays: it is the session's state. */
}

/* Puts the cell's fds on 0-3 (the result fd close-on-exec); the proxy channel is not used by
 * sessions. 0 or -errno. */
static int sess_child_wire(int fds[CHILD_JOB_NFDS])
{
    const int want[4] = {fds[ZYG_FD_STDIN], fds[ZYG_FD_STDOUT], fds[ZYG_FD_STDERR],
                         fds[ZYG_FD_RESULT]};

    for (int i = 0; i < 4; i++) {
        if ((i < 3 ? dup2(want[i], i) : dup3(want[i], i, O_CLOEXEC)) < 0)
            return -errno;
    }
    return 0;
}

/* The scratch directory of an exec cell's source and build (outside the workspace, so a cell
 * never overwrites the user's main.sh; removed after the cell). */
static void sess_child_scratch(pid_t pid, char *out, size_t size)
{
    snprintf(out, size, "/tmp/.sandpit-cell-%d", (int)pid);
}

/* In the cell's process: source and build in the scratch directory, then the program runs with
 * the workspace as its cwd (arguments naming a file of the build made absolute). Never returns. */
static __attribute__((noreturn)) void sess_child_exec_run(const char *spec, size_t spec_len)
{
    char ws[512], scratch[64], why[256];
    struct runexec rx;
    int r;

    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    sess_child_scratch(getpid(), scratch, sizeof(scratch));
    if (!getcwd(ws, sizeof(ws)) || mkdir(scratch, 0700) < 0 || chdir(scratch) < 0) {
        dprintf(2, "sandpit: cell set-up failed: scratch directory: %s\n", strerror(errno));
        _exit(71);
    }
    if (runexec_prepare(spec, spec_len, &rx, why, sizeof(why)) < 0) {
        dprintf(2, "sandpit: cell set-up failed: %s\n", why);
        _exit(71);
    }
    if ((r = runexec_compile(&rx, SESS_RESULT_FD)) != 0)
        _exit(r);
    close(SESS_RESULT_FD);
    runexec_absolute(&rx, scratch);
    if (chdir(ws) < 0)
        _exit(71);
    r = runexec_exec(&rx);
    dprintf(2, "sandpit: cannot run %s: %s\n", rx.run[0], strerror(-r));
    _exit(127);
}

/* A cell in another language runs in a child of ours; we wait. Returns its wait status. */
static int sess_child_exec_cell(const char *spec, size_t spec_len)
{
    char scratch[64];
    pid_t pid = fork();
    int st = 0;

    if (pid == 0)
        sess_child_exec_run(spec, spec_len);
    if (pid < 0) {
        dprintf(2, "sandpit: cannot start the cell: %s\n", strerror(errno));
        return 71 << 8;
    }
    sess_child_say('S', 0); /* its process exists: an interrupt can reach it now */
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            st = 71 << 8;
            break;
        }
    }
    sess_child_scratch(pid, scratch, sizeof(scratch));
    fdio_rm_tree(scratch);
    return st;
}

/* Runs one cell whose message carried fds; answers "D" with its wait status. */
static void sess_child_cell(const struct child_ctx *c, const struct zyg_job *job,
                            int fds[CHILD_JOB_NFDS])
{
    char *spec = NULL;
    size_t spec_len = 0;
    int st, r;

    if (lseek(fds[ZYG_FD_SPEC], 0, SEEK_SET) < 0 ||
        fdio_read_all(fds[ZYG_FD_SPEC], SESS_SPEC_MAX, &spec, &spec_len) < 0) {
        dprintf(fds[ZYG_FD_STDERR], "sandpit: cell set-up failed: reading the spec\n");
        st = 71 << 8;
        goto done;
    }
    if ((r = sess_child_wire(fds)) < 0) {
        dprintf(fds[ZYG_FD_STDERR], "sandpit: cell set-up failed: %s\n", strerror(-r));
        st = 71 << 8;
        goto done;
    }
    if (job->flags & ZYG_JOB_EXEC)
        st = sess_child_exec_cell(spec, spec_len);
    else
        st = pyrt_run_cell(c->rt, spec, spec_len, SESS_RESULT_FD, SESS_CTL_FD) << 8;
done:
    free(spec);
    for (int i = 0; i < CHILD_JOB_NFDS; i++)
        fdio_close(&fds[i]);
    sess_child_unwire();
    sess_child_say('D', (uint32_t)st);
}

static int sess_child_copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), out = -1, r = 0;
    struct stat st;

    if (in < 0)
        return -errno;
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return 0; /* only regular files are copied */
    }
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
    if (out < 0) {
        r = -errno;
    } else {
        for (;;) {
            ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 20, 0);

            if (n == 0)
                break;
            if (n < 0) {
                r = -errno;
                break;
            }
        }
        close(out);
    }
    close(in);
    return r;
}

/* The workspace copy for a fork: regular files, directories and symlinks (as links); anything
 * else is skipped, and so is what lies deeper than SESS_COPY_DEPTH. Bounded by the family's /tmp
 * size: the copy runs as the sandbox user inside the sandbox, so it reaches nothing the session's
 * code could not. 0 or -errno. */
#define SESS_COPY_DEPTH 64

static int sess_child_copy_tree(const char *from, const char *to, mode_t mode, int depth)
{
    DIR *d;
    struct dirent *de;
    int r = 0;

    if (depth > SESS_COPY_DEPTH)
        return 0;
    if (mkdir(to, mode & 0777) < 0)
        return -errno;
    if (!(d = opendir(from)))
        return -errno;
    while (r == 0 && (de = readdir(d))) {
        char src[4096], dst[4096], target[4096];
        struct stat st;
        ssize_t k;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if ((size_t)snprintf(src, sizeof(src), "%s/%s", from, de->d_name) >= sizeof(src) ||
            (size_t)snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name) >= sizeof(dst) ||
            lstat(src, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            r = sess_child_copy_tree(src, dst, st.st_mode, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            r = sess_child_copy_file(src, dst, st.st_mode);
        } else if (S_ISLNK(st.st_mode) && (k = readlink(src, target, sizeof(target) - 1)) >= 0) {
            target[k] = '\0';
            (void)!symlink(target, dst);
        }
    }
    closedir(d);
    return r;
}

/* FORK: a copy of this process (a sibling: the zygote is its parent) takes the new control
 * socket, re-seeds the random generators, copies the workspace to its own and says "U". */
static void sess_child_fork(const struct child_ctx *c, const struct zyg_sess_cmd *cmd, int ctl)
{
    const char *name = cmd->name;
    bool share = cmd->flags & ZYG_SESS_SHARE_WS;
    char from[512], to[512];
    pid_t pid;

    if (!getcwd(from, sizeof(from)) ||
        zyg_proto_workdir(c->cfg->work_dir, name, to, sizeof(to)) < 0) {
        close(ctl);
        return;
    }
    pid = pyrt_fork_sibling(c->rt);
    if (pid != 0) {
        close(ctl); /* ours, or the copy failed to start: the zygote sees EOF */
        return;
    }
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (dup3(ctl, SESS_CTL_FD, O_CLOEXEC) < 0)
        _exit(71);
    close(ctl);
    {
        /* A checkpoint copy continues the session (a seeded generator must keep its draws); a
         * fork is a branch, re-seeded so branches differ. */
        unsigned bits = share ? 0 : pyrt_session_after_fork(c->rt);
        int r = share ? 0 : sess_child_copy_tree(from, to, 0700, 0);

        if (r < 0 || (!share && chdir(to) < 0)) {
            dprintf(2, "sandpit: fork: copying the workspace: %s\n", strerror(r < 0 ? -r : errno));
            _exit(71);
        }
        sess_child_say('U', bits);
    }
}

/* Receives the next message on the control socket: a cell (JOB with its fds) or a session
 * command (FORK with one fd). Returns the message type, or -1 when the zygote is gone. */
/* The processes a cell left are killed by the zygote once the cell is over; those that were
 * ours stay our zombies (counted by the pids cgroup) until reaped. Between cells no child of
 * ours is anyone else's to wait for: all are reaped here. */
static void sess_child_reap(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static void sess_child_on_sigchld(int sig)
{
    (void)sig; /* only interrupts the wait for the next message */
}

static int sess_child_next(struct zyg_job *job, struct zyg_sess_cmd *cmd, int fds[CHILD_JOB_NFDS],
                           int *nfds)
{
    uint8_t buf[256];
    const uint8_t *body;
    size_t blen;
    ssize_t n;
    int type;

    for (;;) {
        struct pollfd pf = {.fd = SESS_CTL_FD, .events = POLLIN};

        /* poll, unlike the receive, returns on SIGCHLD: the zombies are reaped at once. */
        sess_child_reap();
        if (poll(&pf, 1, -1) < 0)
            continue;
        n = fdpass_recv(SESS_CTL_FD, buf, sizeof(buf), fds, CHILD_JOB_NFDS + 1, nfds, 0);
        if (n == -EINTR)
            continue;
        if (n <= 0)
            return -1;
        type = zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen);
        if (type == ZYG_MSG_JOB && *nfds == CHILD_JOB_NFDS &&
            zyg_proto_decode_job(body, blen, job) == 0)
            return type;
        if (type == ZYG_MSG_SESS && *nfds == 1 && zyg_proto_decode_sess_cmd(body, blen, cmd) == 0 &&
            cmd->op == ZYG_SESS_FORK)
            return type;
        for (int i = 0; i < *nfds; i++)
            close(fds[i]);
    }
}

void sess_child_run(const struct child_ctx *c)
{
    char why[256];
    int fds[CHILD_JOB_NFDS + 1], nfds;
    struct zyg_job job;
    struct zyg_sess_cmd cmd;

    child_prepare(c);
    if (dup3(3, SESS_CTL_FD, O_CLOEXEC) < 0)
        _exit(71);
    close(3);
    if (child_enter_workdir(c->cfg, c->session, why, sizeof(why)) < 0) {
        dprintf(2, "{\"level\":\"error\",\"comp\":\"session\",\"msg\":\"%s\"}\n", why);
        _exit(71);
    }
    if (child_session_limits(c) < 0 || pyrt_session_start(c->rt) < 0) {
        dprintf(2, "{\"level\":\"error\",\"comp\":\"session\",\"msg\":\"limits or "
                   "harness.session.start() failed\"}\n");
        _exit(71);
    }
    sess_child_unwire();
    {
        struct sigaction sa = {.sa_handler = sess_child_on_sigchld}; /* no SA_RESTART */

        sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGCHLD, &sa, NULL);
    }
    sess_child_say('U', 0);
    for (;;) {
        int type = sess_child_next(&job, &cmd, fds, &nfds);

        if (type < 0)
            _exit(0);
        if (type == ZYG_MSG_JOB)
            sess_child_cell(c, &job, fds);
        else
            sess_child_fork(c, &cmd, fds[0]);
    }
}
