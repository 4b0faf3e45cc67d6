/* isolate_mount.c - the private view of the file system an execution gets in its own mount
 * namespace: everything private and read-only; one tmpfs of the disk limit holding /tmp (the
 * working directory is created inside it, so no other execution's files are visible and
 * nothing outlives the namespace), the work root when it is not under /tmp and /dev/shm; a named
 * workspace's copy on the working directory (its files the slot user's); an
 * empty tmpfs over the state dir and over our own files; our tools back at their path; a devpts
 * instance of its own; /proc of the execution's own PID namespace. */
#include "isolate_int.h"

#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdio.h"

/* The new mount API (Linux 5.2); glibc 2.36 has no wrappers for these two. */
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/* The ptys one execution may open (its devpts instance's max=). */
#define ISOLATE_PTY_MAX_S "16"

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

/* Every mount of the copied tree read-only and nosuid at once (mount_setattr, Linux 5.12),
 * before our own mounts go on top: a host file system mounted elsewhere than / (a tmpfs on
 * /run or /var/tmp, a data disk) must not stay a writable place outside the disk limit, nor one
 * shared with the host and other executions. /dev keeps its device nodes (nodev on / only). 0, or
 * -errno when the kernel cannot (the caller falls back to remounting / alone). */
static int isolate_mount_readonly_all(void)
{
    struct {
        uint64_t attr_set, attr_clr, propagation, userns_fd;
    } attr = {.attr_set = 0x1 /* MOUNT_ATTR_RDONLY */ | 0x2 /* MOUNT_ATTR_NOSUID */};

    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof(attr)) < 0)
        return -errno;
    /* The root itself nodev as well, as the remount it replaces made it. */
    attr.attr_set |= 0x4; /* MOUNT_ATTR_NODEV */
    return syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof(attr)) < 0 ? -errno : 0;
}

/* Creates dir with exactly mode (no umask) and binds it onto target. 0 or -errno. */
static int isolate_mount_bind_new(const char *dir, mode_t mode, const char *target)
{
    if ((mkdir(dir, mode) < 0 && errno != EEXIST) || chmod(dir, mode) < 0)
        return -errno;
    return mount(dir, target, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
}

/* Writes a copy of the host's /etc/<name> with line appended into dir (on the execution's
 * tmpfs, where its root directory is covered later) and binds it read-only over the original.
 * 0 or -errno. */
static int isolate_mount_etc_copy(const char *dir, const char *name, const char *line)
{
    char src[64], dst[PATH_MAX];
    char *text = NULL;
    size_t len = 0;
    int in, out = -1, r = 0;

    snprintf(src, sizeof(src), "/etc/%s", name);
    snprintf(dst, sizeof(dst), "%s/%s", dir, name);
    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : -errno;
    r = fdio_read_all(in, 4 << 20, &text, &len);
    close(in);
    if (r < 0)
        goto out;
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0 || fdio_write_all(out, text, len) < 0 ||
        (len && text[len - 1] != '\n' && fdio_write_all(out, "\n", 1) < 0) ||
        fdio_write_all(out, line, strlen(line)) < 0 || fchmod(out, 0644) < 0 ||
        mount(dst, src, NULL, MS_BIND, NULL) < 0 ||
        mount(NULL, src, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        r = -errno;
out:
    if (out >= 0)
        close(out);
    free(text);
    return r;
}

/* A slot's uid has no passwd entry on the host: getpwuid() (whoami, getpass.getuser(), ssh,
 * git, Java's user.name) would fail. The execution sees /etc/passwd and /etc/group with a
 * "sandbox" entry of its own uid added. 0 or -errno. */
static int isolate_mount_passwd(const struct isolate *iso, int slot, const struct isolate_ws *ws)
{
    uid_t uid = isolate_cred_uid_of(iso, slot, ws);
    char line[PATH_MAX + 96];
    int r;

    if (!iso->drop_uid || !iso->uid_per_slot || slot < 0)
        return 0;
    if (mkdir("/tmp/etc", 0755) < 0 && errno != EEXIST)
        return -errno;
    snprintf(line, sizeof(line), "sandbox:x:%u:%u:sandpit execution:%s:/usr/sbin/nologin\n",
             (unsigned)uid, (unsigned)uid, iso->cfg->work_dir);
    if ((r = isolate_mount_etc_copy("/tmp/etc", "passwd", line)) < 0)
        return r;
    snprintf(line, sizeof(line), "sandbox:x:%u:\n", (unsigned)uid);
    return isolate_mount_etc_copy("/tmp/etc", "group", line);
}

/* One tmpfs of the disk limit for every writable place: /tmp (which holds the work root by
 * default), the work root elsewhere and /dev/shm are directories of it, bound in place, so
 * what an execution writes is bounded by the limit in sum, not per place. The tmpfs is first
 * mounted on /tmp and its own /tmp directory bound over it last (the others are bound before
 * its root is covered). 0 or -errno with what filled. */
static int isolate_mount_disk(const struct isolate *iso, int slot, long disk_mb,
                              const struct isolate_ws *ws, const char **what)
{
    const char *work_root = iso->cfg->work_dir;
    char opts[64];
    int r;

    if (disk_mb > 0)
        snprintf(opts, sizeof(opts), "size=%ldm,mode=0755", disk_mb);
    else
        snprintf(opts, sizeof(opts), "%s,mode=0755", iso->tmp_size);
    *what = "tmpfs on /tmp";
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        return -errno;
    *what = "/dev/shm on the execution's tmpfs";
    if (access("/dev/shm", F_OK) == 0 && isolate_mount_bind_new("/tmp/shm", 01777, "/dev/shm") < 0)
        return -errno;
    *what = "the work root on the execution's tmpfs";
    if (strncmp(work_root, "/tmp/", 5) != 0 &&
        isolate_mount_bind_new("/tmp/work", 0755, work_root) < 0)
        return -errno;
    *what = "the sandbox user in /etc/passwd";
    if ((r = isolate_mount_passwd(iso, slot, ws)) < 0) {
        errno = -r;
        return r;
    }
    *what = "/tmp on the execution's tmpfs";
    return isolate_mount_bind_new("/tmp/tmp", 01777, "/tmp");
}

/* A devpts instance of the execution's own on /dev/pts, /dev/ptmx bound to its ptmx: no
 * other execution's or the host's terminals are visible, and at most ISOLATE_PTY_MAX ptys
 * exist, out of a host-wide kernel.pty.max. Skipped where the host has no /dev/pts. 0 or
 * -errno with what filled. */
static int isolate_mount_pts(const char **what)
{
    struct stat st;

    if (access("/dev/pts", F_OK) != 0)
        return 0;
    *what = "devpts on /dev/pts";
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620,max=" ISOLATE_PTY_MAX_S) < 0)
        return -errno;
    /* A symlink to pts/ptmx (as in containers) already leads to ours. */
    *what = "/dev/ptmx";
    if (lstat("/dev/ptmx", &st) == 0 && !S_ISLNK(st.st_mode) &&
        mount("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL) < 0)
        return -errno;
    return 0;
}

/* Gives every file of the workspace at dir to uid:gid (the previous execution ran as another
 * slot's uid): only what another owns, no symlink followed (lchown), no other mount entered.
 * The root directory goes last and only when all the rest did: a root that is ours already
 * means everything is (the last walk was ours and complete, and only we have written since), so
 * the walk is skipped. Bounded by the workspace's inodes (agent/ws_mgr.c); no process of the
 * last execution is left to race it (its result, which frees the workspace, comes after all of
 * them are gone). 0 or -errno (what failed is left as it was). */
static int isolate_mount_ws_chown(const char *dir, uid_t uid, gid_t gid)
{
    char *const paths[] = {(char *)dir, NULL};
    struct stat st;
    FTS *fts;
    FTSENT *en;
    int r = 0;

    if (lstat(dir, &st) < 0)
        return -errno;
    if (st.st_uid == uid && st.st_gid == gid)
        return 0;
    if (!(fts = fts_open(paths, FTS_PHYSICAL | FTS_XDEV, NULL)))
        return -errno;
    while ((en = fts_read(fts))) {
        if (en->fts_info == FTS_NS || en->fts_info == FTS_ERR || en->fts_info == FTS_DNR) {
            r = r ? r : -(en->fts_errno ? en->fts_errno : EIO);
            continue;
        }
        /* Directories once, after their contents; the root only when all went well. */
        if (en->fts_info == FTS_D || (en->fts_level == 0 && r < 0))
            continue;
        if (en->fts_statp->st_uid == uid && en->fts_statp->st_gid == gid)
            continue;
        if (lchown(en->fts_accpath, uid, gid) < 0 && r == 0)
            r = -errno;
    }
    fts_close(fts);
    return r;
}

/* A copy of the workspace's detached mount at ws->at (a directory of the work root, on the
 * execution's tmpfs), its files given to the slot's user. -1 with errno on failure. */
static int isolate_mount_ws(const struct isolate *iso, int slot, const struct isolate_ws *ws)
{
    uid_t uid = isolate_cred_uid_of(iso, slot, ws);
    int copy, r = 0;

    copy = (int)syscall(SYS_open_tree, ws->fd, "",
                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (copy < 0)
        return -1;
    if ((mkdir(ws->at, 0700) < 0 && errno != EEXIST) ||
        syscall(SYS_move_mount, copy, "", AT_FDCWD, ws->at, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        r = -errno;
    close(copy);
    if (r == 0 && iso->drop_uid)
        r = isolate_mount_ws_chown(ws->at, uid, iso->uid_per_slot ? (gid_t)uid : iso->gid);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return 0;
}

/* Child step 3: the mounts of the private view, inside the new mount namespace (no-op without
 * one). The execution's tmpfs is disk_mb MiB, or the agent's --disk-mb when 0; the work root
 * belongs to the slot's user, and so does workspace ws (NULL = none) bound at ws->at. 0 or -errno
 * with why filled. */
int isolate_mount_view(const struct isolate *iso, int slot, long disk_mb,
                       const struct isolate_ws *ws, char *why, size_t why_len)
{
    const char *work_root = iso->cfg->work_dir, *state = iso->cfg->state_dir, *what = "";
    const unsigned long nsd = MS_NOSUID | MS_NODEV;
    int tools = -1, r;
    bool hidden[ISOLATE_MAX_HIDE] = {false}, all_ro;

    if (!isolate_state_has(&iso->st, ISOLATE_MOUNT_NS)) {
        if (!ws)
            return 0;
        snprintf(why, why_len, "a workspace needs the mount namespace layer, which is off");
        return -EOPNOTSUPP;
    }
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
    all_ro = isolate_mount_readonly_all() == 0;
    if ((r = isolate_mount_disk(iso, slot, disk_mb, ws, &what)) < 0 ||
        (r = isolate_mount_pts(&what)) < 0) {
        if (tools >= 0)
            close(tools);
        snprintf(why, why_len, "%s: %s", what, strerror(-r));
        return r;
    }
    if (state && *state && strncmp(state, "/tmp/", 5) != 0 && access(state, F_OK) == 0)
        ISOLATE_TRY(mount("tmpfs", state, "tmpfs", nsd | MS_RDONLY, "size=4k,mode=0"),
                    "hiding the state dir");
    /* The work root inside the fresh tmpfs, owned by the sandbox user, who creates the
     * working directory in it once the job is known: nothing of other executions is visible,
     * and it all disappears with the namespace. */
    isolate_mount_mkdirs(work_root);
    if (iso->drop_uid)
        ISOLATE_TRY(chown(work_root, isolate_cred_uid_of(iso, slot, ws),
                          iso->uid_per_slot ? (gid_t)isolate_cred_uid_of(iso, slot, ws) : iso->gid),
                    "chown of the work root");
    if (ws)
        ISOLATE_TRY(isolate_mount_ws(iso, slot, ws), "attaching the workspace");
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
    /* /proc of our own PID namespace (we are pid 2 there): no other process is visible. */
    ISOLATE_TRY(mount("proc", "/proc", "proc", nsd | MS_NOEXEC, NULL), "/proc");
    /* Without mount_setattr: at least the root read-only, a remount of the root bind in this
     * namespace only. */
    if (!all_ro)
        ISOLATE_TRY(mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | nsd, NULL),
                    "read-only root");
#undef ISOLATE_TRY
    return 0;
}
