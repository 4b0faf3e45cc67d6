/* isolate_selftest.c - one execution's whole set-up, run once at start (see isolate_selftest.h). */
#include <Python.h>

#include "isolate_selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "fdio.h"
#include "isolate_int.h"
#include "log.h"

#define SELFTEST_TIMEOUT_MS 30000
#define SELFTEST_ATTEMPTS   2
#define SELFTEST_ID_FMT     "start-up-self-test-%d"

/* The mount ids listed in text (field 1), and whether id is one of them. */
static bool isolate_selftest_listed(const char *text, long id)
{
    for (const char *line = text; line && *line;) {
        if (strtol(line, NULL, 10) == id)
            return true;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return false;
}

void isolate_selftest_mountinfo(const char *text, bool *found, bool *shared)
{
    bool orphan_shared = false;

    *found = *shared = false;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024], *save = NULL, *f;
        int field = 0;
        long parent = -1;
        bool root = false, sh = false;

        snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), line);
        /* id parent maj:min root mount-point options [optional fields...] - fstype source opts */
        for (f = strtok_r(buf, " ", &save); f; f = strtok_r(NULL, " ", &save), field++) {
            if (field == 1)
                parent = strtol(f, NULL, 10);
            else if (field == 4)
                root = !strcmp(f, "/");
            else if (field >= 6 && !strcmp(f, "-"))
                break;
            else if (field >= 6 && !strncmp(f, "shared:", 7))
                sh = true;
        }
        /* Stacked mounts at "/": the last one listed is on top. */
        if (root) {
            *found = true;
            *shared = sh;
        } else if (sh && !isolate_selftest_listed(text, parent)) {
            /* A child of the mount holding a chroot (unlisted: it lies outside) that is shared:
             * a mount made under a shared parent becomes shared, so that parent likely is. */
            orphan_shared = true;
        }
        line = end ? end + 1 : NULL;
    }
    if (!*found)
        *shared = orphan_shared;
}

/* /proc/self/mountinfo as text (free()), or NULL without /proc. */
static char *isolate_selftest_read_mountinfo(void)
{
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    char *text = NULL;
    size_t len = 0;

    if (fd < 0)
        return NULL;
    if (fdio_read_all(fd, 4u << 20, &text, &len) < 0) {
        free(text);
        text = NULL;
    }
    close(fd);
    return text;
}

static int isolate_selftest_root_state(bool *found, bool *shared)
{
    char *text = isolate_selftest_read_mountinfo();

    if (!text)
        return -ENOENT;
    isolate_selftest_mountinfo(text, found, shared);
    free(text);
    return 0;
}

void isolate_selftest_root(struct isolate *iso)
{
    char *note = iso->st.reason[ISOLATE_SELFTEST], cwd[PATH_MAX];
    bool found, shared;

    if (isolate_selftest_root_state(&found, &shared) < 0 || found || geteuid() != 0)
        return;
    /* A chroot: "/" is a directory of some mount, so an execution can neither make its mounts
     * private nor remount "/" read-only. A bind of / onto itself, in a mount namespace of the
     * zygote's own, is a mount at "/"; "/.." steps onto it (the walk follows mounts there). */
    /* Nothing may be mounted under a parent shared with the host's namespace: the mount would
     * appear there too, and unmounting it would propagate to every peer (the chroot's own
     * mounts among them). Shared children of that parent say it is shared itself. */
    if (shared) {
        snprintf(note, ISOLATE_REASON_MAX,
                 "/ is not a mount point (a chroot?) and the mount holding it looks shared with "
                 "the host: make it one before entering (mount --bind R R; mount --make-rprivate "
                 "R) or start the agent under unshare -m");
        log_warn("%s", note);
        return;
    }
    if (!getcwd(cwd, sizeof(cwd)))
        snprintf(cwd, sizeof(cwd), "/");
    if (unshare(CLONE_NEWNS) < 0 || mount("/", "/", NULL, MS_BIND | MS_REC, NULL) < 0 ||
        chdir("/..") < 0 || chroot(".") < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        snprintf(note, ISOLATE_REASON_MAX,
                 "/ is not a mount point (a chroot?) and a bind of it onto itself failed: %s",
                 strerror(errno));
        log_warn("%s", note);
    } else {
        snprintf(note, ISOLATE_REASON_MAX,
                 "/ is not a mount point (a chroot?): executions start from a bind of / onto "
                 "itself");
        log_info("%s", note);
    }
    (void)!chdir(cwd);
}

/* After EACCES entering path as the sandbox user: appends to why the first directory on the way
 * that this user cannot traverse, with its mode and owner (e.g. /root, 0700 on Debian). */
static void isolate_selftest_blocker(const char *path, char *why, size_t why_len)
{
    char prefix[PATH_MAX];
    size_t len = strlen(why);
    struct stat sb;
    int n;

    snprintf(prefix, sizeof(prefix), "%s", path);
    for (char *p = prefix + 1;; p++) {
        char c = *p;

        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (access(prefix, X_OK) < 0 && errno == EACCES && stat(prefix, &sb) == 0) {
            n = snprintf(why + len, why_len - len,
                         " (uid %d cannot traverse %.64s: mode %04o, "
                         "owner uid %d; choose a --work-dir it can reach, e.g. under /tmp)",
                         (int)geteuid(), prefix, (unsigned)(sb.st_mode & 07777), (int)sb.st_uid);
            (void)n;
            return;
        }
        if (c == '\0')
            return;
        *p = c;
    }
}

/* The self-test process: never returns. Failures are written to fd as text. */
static __attribute__((noreturn)) void isolate_selftest_child(struct isolate *iso, struct pyrt *rt,
                                                             int slot, int fd)
{
    static const char spec[] = "{\"code\": \"x = 1 + 1\\nx\", \"base_env\": {}}";
    struct child_ctx cc = {
        .cfg = iso->cfg, .rt = rt, .iso = iso, .slot = slot, .ctl = -1, .zygote_pid = getppid()};
    char why[ISOLATE_REASON_MAX] = "", id[64], frame[160] = "";
    int res[2], code, st = 0;
    sigset_t none;
    ssize_t n;
    pid_t sh;

    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* The zygote's signals go to its signalfd; a warm child unblocks them too. */
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    if (child_isolate(&cc, why, sizeof(why)) < 0)
        goto fail;
    /* As a warm child does, then as a job does: its own directory under the work root. */
    (void)!chdir(iso->cfg->work_dir);
    snprintf(id, sizeof(id), SELFTEST_ID_FMT, (int)getpid());
    if ((code = child_enter_workdir(iso->cfg, id, why, sizeof(why))) < 0) {
        if (code == -EACCES)
            isolate_selftest_blocker(iso->cfg->work_dir, why, sizeof(why));
        goto fail;
    }
    if (pipe2(res, O_CLOEXEC) < 0) {
        snprintf(why, sizeof(why), "a pipe: %s", strerror(errno));
        goto fail;
    }
    code = pyrt_run(rt, spec, sizeof(spec) - 1, res[1]);
    close(res[1]);
    n = read(res[0], frame, sizeof(frame) - 1);
    frame[n > 0 ? n : 0] = '\0';
    if (code != 0) {
        snprintf(why, sizeof(why), "a trivial Python run exited %d: %s", code, frame);
        goto fail;
    }
    /* What an exec runtime does: a program started under no_new_privs and the filter. */
    sh = fork();
    if (sh == 0) {
        execl("/bin/sh", "sh", "-c", "exit 0", (char *)NULL);
        _exit(127);
    }
    while (sh > 0 && waitpid(sh, &st, 0) < 0 && errno == EINTR)
        ;
    if (sh < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(why, sizeof(why), "running /bin/sh -c 'exit 0': %s",
                 sh < 0          ? strerror(errno)
                 : WIFEXITED(st) ? "exit status not 0"
                                 : "killed");
        goto fail;
    }
    _exit(0);
fail:
    (void)!write(fd, why, strlen(why));
    _exit(1);
}

/* One attempt: 0, or -1 with why filled. */
static int isolate_selftest_once(struct isolate *iso, struct pyrt *rt, char *why, size_t why_len)
{
    int p[2], slot, st = 0;
    int64_t give_up = clock_mono_ns() + (int64_t)SELFTEST_TIMEOUT_MS * 1000000;
    size_t got = 0;
    char dir[PATH_MAX];
    pid_t pid;

    why[0] = '\0';
    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(why, why_len, "a pipe: %s", strerror(errno));
        return -1;
    }
    slot = isolate_slot_take(iso);
    if (slot >= 0)
        (void)isolate_slot_limits(iso, slot, 0, 0, 0);
    pid = pyrt_fork(rt);
    if (pid == 0) {
        close(p[0]);
        isolate_selftest_child(iso, rt, slot, p[1]);
    }
    close(p[1]);
    if (pid < 0)
        snprintf(why, why_len, "fork: %s", strerror(errno));
    while (pid > 0) {
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        int64_t left = (give_up - clock_mono_ns()) / 1000000;
        ssize_t n;

        if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
            (void)kill(pid, SIGKILL);
            snprintf(why, why_len, "no answer within %d s", SELFTEST_TIMEOUT_MS / 1000);
            break;
        }
        n = read(p[0], why + got, why_len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        why[got] = '\0';
        if (got >= why_len - 1)
            break;
    }
    close(p[0]);
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    isolate_slot_give(iso, slot);
    /* Without a mount namespace the directory is on the host. */
    snprintf(dir, sizeof(dir), "%s/" SELFTEST_ID_FMT, iso->cfg->work_dir, (int)pid);
    (void)rmdir(dir);
    if (pid > 0 && !why[0] && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        snprintf(why, why_len, "the self-test process ended by %s %d",
                 WIFSIGNALED(st) ? "signal" : "exit status",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    return why[0] ? -1 : 0;
}

void isolate_selftest_run(struct isolate *iso, struct pyrt *rt)
{
    char why[ISOLATE_REASON_MAX], note[ISOLATE_REASON_MAX];
    int r = -1;

    snprintf(note, sizeof(note), "%s", iso->st.reason[ISOLATE_SELFTEST]);
    for (int attempt = 0; attempt < SELFTEST_ATTEMPTS && r < 0; attempt++)
        r = isolate_selftest_once(iso, rt, why, sizeof(why));
    if (r == 0) {
        isolate_state_on(&iso->st, ISOLATE_SELFTEST);
        return;
    }
    isolate_state_off(&iso->st, ISOLATE_SELFTEST, "%s%s%s%s", why, note[0] ? " (" : "", note,
                      note[0] ? ")" : "");
    iso->st.refuses |= 1u << ISOLATE_SELFTEST;
    log_error("start-up self-test: an execution's set-up fails on this host, so every execution "
              "is refused: %s",
              iso->st.reason[ISOLATE_SELFTEST]);
}
