/* isolate_mount.c - the private view of the file system an execution gets in its own mount
 * namespace: everything private; tmpfs on /tmp (the working directory is created inside it, so
 * no other execution's files are visible and nothing outlives the namespace); tmpfs on the work
 * root when it is not under /tmp; an empty tmpfs over the state dir and over our own files; our
 * tools back at their path; a fresh /dev/shm; /proc of the execution's own PID namespace; /
 * read-only. */
#include "isolate_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The new mount API (Linux 5.2); glibc 2.36 has no wrappers for these two. */
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/* Directories that must stay visible: covering one of them would hide the system. */
static bool isolate_mount_is_system_dir(const char *d)
{
    static const char *const sys[] = {"/",          "/usr", "/usr/lib", "/usr/local", "/usr/bin",
                                      "/usr/share", "/opt", "/lib",     "/bin",       "/etc",
                                      "/tmp",       "/var", "/home",    "/root",      NULL};

    for (int i = 0; sys[i]; i++) {
        if (!strcmp(d, sys[i]))
            return true;
    }
    return !strncmp(d, "/usr/lib/python", 15) || !strncmp(d, "/proc", 5) || !strncmp(d, "/sys", 4);
}

/* Records the directories to hide (our own, never a system one; nested ones merged) and the
 * tools directory to keep visible, as real paths, and the size of the private /tmp. */
void isolate_mount_init(struct isolate *iso, const char *const hide[], const char *expose)
{
    char real[PATH_MAX];
    bool covered;

    snprintf(iso->tmp_size, sizeof(iso->tmp_size), "size=%ldm", iso->cfg->disk_mb);
    for (int i = 0; hide && hide[i] && iso->n_hide < ISOLATE_MAX_HIDE; i++) {
        if (!realpath(hide[i], real) || isolate_mount_is_system_dir(real))
            continue;
        /* Inside a directory already hidden: covered (and no longer a mount point we can
         * reach). A parent of one already listed replaces it. */
        covered = false;
        for (int k = 0; k < iso->n_hide; k++) {
            size_t lk = strlen(iso->hide[k]), lr = strlen(real);

            if (!strncmp(real, iso->hide[k], lk) && (real[lk] == '/' || real[lk] == '\0'))
                covered = true;
            else if (!strncmp(iso->hide[k], real, lr) && iso->hide[k][lr] == '/') {
                snprintf(iso->hide[k], sizeof(iso->hide[0]), "%s", real);
                covered = true;
            }
        }
        if (!covered)
            snprintf(iso->hide[iso->n_hide++], sizeof(iso->hide[0]), "%s", real);
    }
    /* Only a directory under /tmp or under one we hide needs it: elsewhere the read-only root
     * shows it. */
    if (!expose || !*expose || !realpath(expose, real))
        return;
    covered = !strncmp(real, "/tmp/", 5);
    for (int k = 0; k < iso->n_hide; k++) {
        size_t lk = strlen(iso->hide[k]);

        if (!strncmp(real, iso->hide[k], lk) && real[lk] == '/')
            covered = true;
    }
    if (covered)
        snprintf(iso->expose, sizeof(iso->expose), "%s", real);
}

/* Creates every missing directory of dir inside the fresh tmpfs (best effort: the mount or
 * chown that follows reports a failure). */
static void isolate_mount_mkdirs(const char *dir)
{
    char path[PATH_MAX + 2];

    snprintf(path, sizeof(path), "%s/", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            (void)mkdir(path, 0755);
            *p = '/';
        }
    }
}

/* Child step 3: the mounts of the private view, inside the new mount namespace (no-op without
 * one). /tmp is disk_mb MiB, or the agent's --disk-mb when 0. 0 or -errno with why filled. */
int isolate_mount_view(const struct isolate *iso, long disk_mb, char *why, size_t why_len)
{
    const char *work_root = iso->cfg->work_dir, *state = iso->cfg->state_dir;
    const unsigned long nsd = MS_NOSUID | MS_NODEV;
    char opts[64];
    int tools = -1, r;
    bool hidden[ISOLATE_MAX_HIDE] = {false};

    if (!isolate_state_has(&iso->st, ISOLATE_MOUNT_NS))
        return 0;
#define ISOLATE_TRY(call, what)                                                                    \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            int e_ = errno;                                                                        \
            snprintf(why, why_len, "%s: %s", what, strerror(e_));                                  \
            return -e_;                                                                            \
        }                                                                                          \
    } while (0)

    ISOLATE_TRY(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "making mounts private");
    /* A detached copy of our tools directory, taken before /tmp is covered, attached again at
     * the same path inside the private /tmp below. */
    if (iso->expose[0])
        ISOLATE_TRY(tools = (int)syscall(SYS_open_tree, AT_FDCWD, iso->expose,
                                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE),
                    "copying the tools directory");
    if (disk_mb > 0)
        snprintf(opts, sizeof(opts), "size=%ldm,mode=1777", disk_mb);
    else
        snprintf(opts, sizeof(opts), "%s,mode=1777", iso->tmp_size);
    ISOLATE_TRY(mount("tmpfs", "/tmp", "tmpfs", nsd, opts), "tmpfs on /tmp");
    if (strncmp(work_root, "/tmp/", 5) != 0)
        ISOLATE_TRY(mount("tmpfs", work_root, "tmpfs", nsd, opts), "tmpfs on the work root");
    if (state && *state && strncmp(state, "/tmp/", 5) != 0 && access(state, F_OK) == 0)
        ISOLATE_TRY(mount("tmpfs", state, "tmpfs", nsd | MS_RDONLY, "size=4k,mode=0"),
                    "hiding the state dir");
    /* The work root inside the fresh tmpfs, owned by the sandbox user, who creates the
     * working directory in it once the job is known: nothing of other executions is visible,
     * and it all disappears with the namespace. */
    isolate_mount_mkdirs(work_root);
    if (iso->drop_uid)
        ISOLATE_TRY(chown(work_root, iso->uid, iso->gid), "chown of the work root");
    /* Nothing of the agent's own files: the harness (already imported by the zygote) and the
     * binaries disappear under empty read-only tmpfs mounts. */
    for (int i = 0; i < iso->n_hide; i++) {
        /* Gone already (e.g. under /tmp, which is a fresh tmpfs now): nothing to cover. */
        if (access(iso->hide[i], F_OK) != 0)
            continue;
        ISOLATE_TRY(mount("tmpfs", iso->hide[i], "tmpfs", nsd, "size=4k,mode=0555"),
                    "hiding the agent's files");
        hidden[i] = true;
    }
    /* Our tools, back at their own path inside whatever covered them. */
    if (tools >= 0) {
        isolate_mount_mkdirs(iso->expose);
        r = (int)syscall(SYS_move_mount, tools, "", AT_FDCWD, iso->expose, MOVE_MOUNT_F_EMPTY_PATH);
        close(tools);
        ISOLATE_TRY(r, "attaching the tools directory");
        ISOLATE_TRY(mount(NULL, iso->expose, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | nsd, NULL),
                    "making the tools directory read-only");
    }
    for (int i = 0; i < iso->n_hide; i++) {
        if (hidden[i])
            ISOLATE_TRY(mount(NULL, iso->hide[i], NULL, MS_REMOUNT | MS_RDONLY | nsd, NULL),
                        "making the hidden directories read-only");
    }
    if (access("/dev/shm", F_OK) == 0)
        ISOLATE_TRY(mount("tmpfs", "/dev/shm", "tmpfs", nsd, "size=64m,mode=1777"), "/dev/shm");
    /* /proc of our own PID namespace (we are pid 2 there): no other process is visible. */
    ISOLATE_TRY(mount("proc", "/proc", "proc", nsd | MS_NOEXEC, NULL), "/proc");
    /* System directories read-only: a remount of the root bind in this namespace only. */
    ISOLATE_TRY(mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | nsd, NULL),
                "read-only root");
#undef ISOLATE_TRY
    return 0;
}
