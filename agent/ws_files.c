/* ws_files.c - file operations on a session's workspace (ws_files.h).
 *
 * The agent is root in the host's mount namespace; the workspace belongs to a session that may
 * be racing us with renames, symlinks and hard links. So nothing below the workspace is ever
 * opened by a host path: every name is resolved by openat2 below the workspace's fd with
 * WS_RESOLVE, one atomic walk in which a symlink (ELOOP), a mount (EXDEV) or an escape (EXDEV)
 * fails instead of being followed. A file is opened O_PATH first and only reopened for reading
 * once fstat says it is a regular file, so a FIFO never blocks us and a device is never opened.
 * Writes go to a temp name and are renamed into place; the rename replaces a name, it never
 * writes through an existing inode (a hard link planted at the target is simply unlinked). */
#include "ws_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdio.h"
#include "ids.h"
#include "json_util.h"

#define WS_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

/* openat2 retried on EINTR, and a few times on EAGAIN (the kernel's answer when a rename
 * elsewhere raced a RESOLVE_BENEATH walk). A new fd or -errno. */
static int ws_openat2(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
    struct open_how how = {.flags = (uint64_t)(unsigned)flags, .mode = mode, .resolve = resolve};
    long r;
    int tries = 0;

    do {
        r = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    } while (r < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 8)));
    return r < 0 ? -errno : (int)r;
}

/* The client's reading of a failed resolution, open, mkdir, unlink or rename of path (r is
 * -errno): a symlink or a way out is the client's 400, a missing name 404, a name of the wrong
 * kind 409, a full file system 413; the rest is ours (500). */
static int ws_err(struct err *e, int r, const char *path, const char *what)
{
    static const struct {
        int errnum;
        int code;
        const char *says; /* follows "path '<path>'" */
    } map[] = {
        {ELOOP, ERR_INVALID,
         "goes through a symbolic link (refused: a link could lead out of the workspace)"},
        {EXDEV, ERR_INVALID, "leaves the workspace (a mount or an escape)"},
        {ENOENT, ERR_NOT_FOUND, "does not exist"},
        {ENOTDIR, ERR_NOT_FOUND, "does not exist (a component of it is not a directory)"},
        {ENAMETOOLONG, ERR_INVALID, "is too long"},
        {ENXIO, ERR_INVALID, "is not a regular file"},
        {EISDIR, ERR_CONFLICT, "has a directory in the way"},
        {EEXIST, ERR_CONFLICT, "has a directory in the way"},
        {ENOTEMPTY, ERR_CONFLICT, "has a directory in the way"},
        {EBUSY, ERR_CONFLICT, "is in use (a mount point)"},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].errnum == -r)
            return err_set(e, map[i].code, "path", "path '%.200s' %s", path, map[i].says);
    if (r == -ENOSPC || r == -EDQUOT || r == -EFBIG)
        return err_set(e, ERR_TOO_LARGE, "body", "the workspace's file system is full");
    return err_set(e, ERR_INTERNAL, "path", "%s '%.200s': %s", what, path, strerror(-r));
}

int ws_files_check_path(const char *path, size_t len, bool allow_root, struct err *e)
{
    size_t i, n, start = 0, depth = 0;

    if (!path)
        return err_set(e, ERR_INVALID, "path", "path is missing");
    if (len == 0 || (len == 1 && path[0] == '.'))
        return allow_root ? 0
                          : err_set(e, ERR_INVALID, "path",
                                    "path names the workspace itself, not a file in it");
    if (len > WS_FILES_PATH_MAX)
        return err_set(e, ERR_INVALID, "path", "path is longer than %d bytes", WS_FILES_PATH_MAX);
    if (path[0] == '/')
        return err_set(e, ERR_INVALID, "path",
                       "path must be relative to the workspace (it starts with '/')");
    for (i = 0; i < len; i += n) {
        unsigned char c = (unsigned char)path[i];

        if (c < 0x20 || c == 0x7f)
            return err_set(e, ERR_INVALID, "path", "path holds a control byte 0x%02x at %zu", c, i);
        /* A name we accept must come back out of a listing as the same JSON string. */
        n = json_util_utf8_len((const unsigned char *)path + i, len - i);
        if (n == 0)
            return err_set(e, ERR_INVALID, "path", "path is not valid UTF-8 (at byte %zu)", i);
    }
    for (i = 0; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        n = i - start;
        if (n == 0)
            return err_set(e, ERR_INVALID, "path",
                           "path has an empty component (a '//' or a trailing '/')");
        if (n == 1 && path[start] == '.')
            return err_set(e, ERR_INVALID, "path", "path has a '.' component");
        if (n == 2 && path[start] == '.' && path[start + 1] == '.')
            return err_set(e, ERR_INVALID, "path",
                           "path has a '..' component (refused: it could leave the workspace)");
        if (n > WS_FILES_NAME_MAX)
            return err_set(e, ERR_INVALID, "path", "path has a component longer than %d bytes",
                           WS_FILES_NAME_MAX);
        if (++depth > WS_FILES_DEPTH_MAX)
            return err_set(e, ERR_INVALID, "path", "path is deeper than %d components",
                           WS_FILES_DEPTH_MAX);
        start = i + 1;
    }
    return 0;
}

/* Checks a C-string path and splits a copy of it in buf: *name the last component, *parent the
 * rest or NULL (both point into buf). 0 or -ERR_INVALID. */
static int ws_split(const char *path, char buf[WS_FILES_PATH_MAX + 1], char **parent, char **name,
                    struct err *e)
{
    size_t len = path ? strlen(path) : 0;
    char *slash;
    int r;

    if ((r = ws_files_check_path(path, len, false, e)) < 0)
        return r;
    memcpy(buf, path, len + 1);
    slash = strrchr(buf, '/');
    if (!slash) {
        *parent = NULL;
        *name = buf;
    } else {
        *slash = '\0';
        *parent = buf;
        *name = slash + 1;
    }
    return 0;
}

/* Opens the directory parent below root (NULL: root itself) as a new O_PATH fd in *out. */
static int ws_open_parent(int root, const char *parent, const char *path, int *out, struct err *e)
{
    /* Root itself is re-resolved as ".", not dup'ed: the same checks, an O_PATH fd either way. */
    int fd =
        ws_openat2(root, parent ? parent : ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, WS_RESOLVE);

    if (fd < 0)
        return ws_err(e, fd, path, "open");
    *out = fd;
    return 0;
}

/* Opens workdir below dirfd with resolve (never through a symlink) and checks its owner. */
static int ws_open_checked(int dirfd, const char *workdir, uint64_t resolve, uid_t expect_uid,
                           int *out_fd, struct err *e)
{
    int fd, r;
    struct stat st;

    fd = ws_openat2(dirfd, workdir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                    resolve | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (fd < 0) {
        if (fd == -ELOOP)
            return err_set(e, ERR_INVALID, "workspace",
                           "workspace '%.200s' goes through a symbolic link (refused)", workdir);
        if (fd == -ENOENT || fd == -ENOTDIR)
            return err_set(e, ERR_NOT_FOUND, "workspace",
                           "workspace '%.200s' is not a directory that exists", workdir);
        return err_set(e, ERR_INTERNAL, "workspace", "open workspace '%.200s': %s", workdir,
                       strerror(-fd));
    }
    if (fstat(fd, &st) < 0) {
        r = err_set(e, ERR_INTERNAL, "workspace", "stat workspace: %s", strerror(errno));
        close(fd);
        return r;
    }
    if (st.st_uid != expect_uid) {
        close(fd);
        return err_set(e, ERR_CONFLICT, "workspace",
                       "workspace '%.200s' is owned by uid %u, not by the session's uid %u",
                       workdir, (unsigned)st.st_uid, (unsigned)expect_uid);
    }
    *out_fd = fd;
    return 0;
}

int ws_files_open_root(pid_t pid, const char *workdir, uid_t expect_uid, int *out_fd, struct err *e)
{
    char proc[48];
    int rootfd, r;

    *out_fd = -1;
    if (!workdir || workdir[0] != '/')
        return err_set(e, ERR_INVALID, "workspace", "workspace must be an absolute path");
    snprintf(proc, sizeof(proc), "/proc/%d/root", (int)pid);
    /* The one magic link we follow on purpose: the session's root, in its mount namespace. */
    rootfd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return err_set(e, ERR_NOT_FOUND, "workspace", "the session's process %d is gone: %s",
                       (int)pid, strerror(errno));
    /* RESOLVE_IN_ROOT: "/" and ".." stop at the session's root, and with no symlink allowed
     * an absolute link (which the agent would resolve in the HOST's root) cannot exist. */
    r = ws_open_checked(rootfd, workdir, RESOLVE_IN_ROOT, expect_uid, out_fd, e);
    close(rootfd);
    return r;
}

int ws_files_open_dir(const char *path, uid_t expect_uid, int *out_fd, struct err *e)
{
    *out_fd = -1;
    if (!path || path[0] != '/')
        return err_set(e, ERR_INVALID, "workspace", "workspace must be an absolute path");
    return ws_open_checked(AT_FDCWD, path, 0, expect_uid, out_fd, e);
}

/* One directory of the usage walk: adds its regular files' sizes, descends into directories.
 * fd is taken (closed). Entries that vanish, symlinks and mounts are skipped, never followed. */
static int ws_walk(int fd, int depth, long long *bytes, long *entries, struct err *e)
{
    DIR *d = fdopendir(fd);
    struct dirent *de;
    struct stat st;
    int r = 0, sub;

    if (!d) {
        r = err_set(e, ERR_INTERNAL, "path", "read the workspace: %s", strerror(errno));
        close(fd);
        return r;
    }
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (++*entries > WS_FILES_WALK_MAX || depth >= WS_FILES_WALK_DEPTH) {
            r = err_set(e, ERR_TOO_LARGE, "path",
                        "the workspace holds more than %d entries or %d levels: its size "
                        "cannot be checked (remove some files)",
                        WS_FILES_WALK_MAX, WS_FILES_WALK_DEPTH);
            break;
        }
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* gone meanwhile */
        if (S_ISREG(st.st_mode)) {
            *bytes += st.st_size;
        } else if (S_ISDIR(st.st_mode)) {
            sub =
                ws_openat2(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, WS_RESOLVE);
            if (sub < 0)
                continue; /* replaced by a link, gone, or a mount: not the workspace's bytes */
            if ((r = ws_walk(sub, depth + 1, bytes, entries, e)) < 0)
                break;
        }
    }
    closedir(d);
    return r;
}

int ws_files_usage(int root, long long *bytes, struct err *e)
{
    long entries = 0;
    int fd = ws_openat2(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, WS_RESOLVE);

    *bytes = 0;
    if (fd < 0)
        return ws_err(e, fd, ".", "open");
    return ws_walk(fd, 0, bytes, &entries, e);
}

/* Refuses a workspace that would pass limit bytes once path holds len bytes (what path holds
 * now, when a regular file, is replaced and not counted). Checked before anything is created. */
static int ws_check_limit(int root, const char *path, size_t len, long long limit, struct err *e)
{
    long long used = 0, old = 0;
    struct stat st;
    int fd, r;

    if (limit <= 0)
        return 0;
    if (len > (unsigned long long)limit)
        return err_set(e, ERR_TOO_LARGE, "body",
                       "the file (%zu bytes) is larger than the workspace limit (%lld bytes)", len,
                       limit);
    if ((r = ws_files_usage(root, &used, e)) < 0)
        return r;
    fd = ws_openat2(root, path, O_PATH | O_CLOEXEC, 0, WS_RESOLVE);
    if (fd >= 0) {
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
            old = st.st_size;
        close(fd);
    }
    if (used - old + (long long)len > limit)
        return err_set(e, ERR_TOO_LARGE, "body",
                       "the workspace would hold %lld bytes, over its limit of %lld bytes",
                       used - old + (long long)len, limit);
    return 0;
}

/* Opens (creating what is missing, 0755 uid:gid) each directory of parent below root, one
 * component at a time, each step resolved with WS_RESOLVE. *out: new fd of the last one. */
static int ws_mkparents(int root, char *parent, uid_t uid, gid_t gid, const char *path, int *out,
                        struct err *e)
{
    char *comp, *save = NULL;
    int dfd = -1, nfd, r;
    bool made;

    if ((r = ws_open_parent(root, NULL, path, &dfd, e)) < 0)
        return r;
    for (comp = parent ? strtok_r(parent, "/", &save) : NULL; comp;
         comp = strtok_r(NULL, "/", &save)) {
        made = mkdirat(dfd, comp, 0755) == 0;
        if (!made && errno != EEXIST) {
            r = ws_err(e, -errno, path, "mkdir");
            goto fail;
        }
        nfd = ws_openat2(dfd, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, WS_RESOLVE);
        if (nfd == -ENOTDIR) {
            r = err_set(e, ERR_CONFLICT, "path",
                        "path '%.200s': '%.100s' is a file, not a directory", path, comp);
            goto fail;
        }
        if (nfd < 0) {
            r = ws_err(e, nfd, path, "open");
            goto fail;
        }
        close(dfd);
        dfd = nfd;
        if (made && (fchown(dfd, uid, gid) < 0 || fchmod(dfd, 0755) < 0)) {
            r = ws_err(e, -errno, path, "chown");
            goto fail;
        }
    }
    *out = dfd;
    return 0;
fail:
    close(dfd);
    return r;
}

int ws_files_put(int root, const char *path, const void *data, size_t len, uid_t uid, gid_t gid,
                 long long limit_bytes, struct err *e)
{
    char buf[WS_FILES_PATH_MAX + 1], tmp[sizeof(WS_FILES_TMP_PREFIX) + IDS_UUID_LEN];
    char *parent, *name;
    int dfd = -1, fd = -1, r;
    bool tmp_made = false;
    struct stat st;

    if ((r = ws_split(path, buf, &parent, &name, e)) < 0)
        return r;
    if ((r = ws_check_limit(root, path, len, limit_bytes, e)) < 0)
        return r;
    if ((r = ws_mkparents(root, parent, uid, gid, path, &dfd, e)) < 0)
        return r;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode)) {
            r = err_set(e, ERR_CONFLICT, "path", "path '%.200s' is a directory", path);
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            r = err_set(e, ERR_INVALID, "path",
                        "path '%.200s' is a symbolic link or a special file (not replaced)", path);
            goto out;
        }
    } else if (errno != ENOENT) {
        r = ws_err(e, -errno, path, "stat");
        goto out;
    }
    memcpy(tmp, WS_FILES_TMP_PREFIX, sizeof(WS_FILES_TMP_PREFIX) - 1);
    if ((r = ids_uuid4(tmp + sizeof(WS_FILES_TMP_PREFIX) - 1)) < 0) {
        r = ws_err(e, r, path, "random name");
        goto out;
    }
    /* Root-owned 0600 while it fills: the session cannot open it before it is whole. */
    fd = ws_openat2(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600,
                    WS_RESOLVE);
    if (fd < 0) {
        r = ws_err(e, fd, path, "create");
        goto out;
    }
    tmp_made = true;
    if ((r = fdio_write_all(fd, data, len)) < 0) {
        r = ws_err(e, r, path, "write");
        goto out;
    }
    if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0644) < 0) {
        r = ws_err(e, -errno, path, "chown");
        goto out;
    }
    /* Atomic: a directory raced into the name makes it fail (EISDIR), never merges. */
    if (renameat(dfd, tmp, dfd, name) < 0) {
        r = ws_err(e, -errno, path, "rename");
        goto out;
    }
    tmp_made = false;
    r = 0;
out:
    if (tmp_made)
        (void)unlinkat(dfd, tmp, 0);
    fdio_close(&fd);
    fdio_close(&dfd);
    return r;
}

/* Refuses what the agent must not read for the session (st of the file, owner: the workspace's
 * owner). A hard link (st_nlink > 1) could be a second name for an inode the session could not
 * otherwise reach: with fs.protected_hardlinks off, or on a named workspace on a host file
 * system, it can link a root-only file it can name but not read, and root would serve it.
 * Likewise a file of another owner that the owner could not read by its mode (moved in from a
 * directory the session can write): the agent never serves bytes the session could not read. */
static int ws_check_readable(const struct stat *st, uid_t owner, const char *path, struct err *e)
{
    if (S_ISDIR(st->st_mode))
        return err_set(e, ERR_INVALID, "path", "path '%.200s' is a directory", path);
    if (!S_ISREG(st->st_mode))
        return err_set(e, ERR_INVALID, "path",
                       "path '%.200s' is not a regular file (a FIFO, socket or device)", path);
    if (st->st_nlink > 1)
        return err_set(e, ERR_INVALID, "path",
                       "path '%.200s' has %lu hard links (refused: a link may name a file "
                       "from outside the workspace)",
                       path, (unsigned long)st->st_nlink);
    if (st->st_uid != owner && !(st->st_mode & S_IROTH))
        return err_set(e, ERR_INVALID, "path",
                       "path '%.200s' belongs to uid %u and the session may not read it", path,
                       (unsigned)st->st_uid);
    return 0;
}

int ws_files_get(int root, const char *path, int *out_fd, struct stat *st, struct err *e)
{
    char buf[WS_FILES_PATH_MAX + 1], proc[48], *parent, *name;
    int pfd = -1, fd = -1, r;
    struct stat rst, st2;

    *out_fd = -1;
    if ((r = ws_split(path, buf, &parent, &name, e)) < 0)
        return r;
    if (fstat(root, &rst) < 0)
        return ws_err(e, -errno, ".", "stat");
    /* O_PATH opens nothing: no FIFO blocks, no device's open runs, before the checks. */
    pfd = ws_openat2(root, path, O_PATH | O_CLOEXEC, 0, WS_RESOLVE);
    if (pfd < 0)
        return ws_err(e, pfd, path, "open");
    if (fstat(pfd, st) < 0) {
        r = ws_err(e, -errno, path, "stat");
        goto out;
    }
    if ((r = ws_check_readable(st, rst.st_uid, path, e)) < 0)
        goto out;
    /* Reopening the O_PATH fd through /proc reads the very inode checked, whatever the
     * session renames meanwhile. */
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
    fd = open(proc, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        r = ws_err(e, -errno, path, "reopen");
        goto out;
    }
    if (fstat(fd, &st2) < 0 || st2.st_ino != st->st_ino || st2.st_dev != st->st_dev) {
        r = err_set(e, ERR_INTERNAL, "path", "path '%.200s' changed while opened", path);
        goto out;
    }
    if ((r = ws_check_readable(&st2, rst.st_uid, path, e)) < 0)
        goto out;
    *st = st2;
    *out_fd = fd;
    fd = -1;
    r = 0;
out:
    fdio_close(&fd);
    fdio_close(&pfd);
    return r;
}

/* Not recursive, on purpose: a recursive delete by root over a tree the session is changing is
 * the classic rm -rf race; `shutil.rmtree` in a cell does it as the session's own uid. */
int ws_files_delete(int root, const char *path, struct err *e)
{
    char buf[WS_FILES_PATH_MAX + 1], *parent, *name;
    int dfd = -1, r;

    if ((r = ws_split(path, buf, &parent, &name, e)) < 0)
        return r;
    if ((r = ws_open_parent(root, parent, path, &dfd, e)) < 0)
        return r;
    /* unlinkat removes a symlink or special file itself, never what it names. */
    r = unlinkat(dfd, name, 0) < 0 ? -errno : 0;
    if (r == -EISDIR)
        r = unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
    if (r == -ENOTEMPTY || r == -EEXIST)
        r = err_set(e, ERR_CONFLICT, "path",
                    "path '%.200s' is a directory that is not empty (delete its files first)",
                    path);
    else if (r < 0)
        r = ws_err(e, r, path, "delete");
    close(dfd);
    return r;
}

/* A max-heap by name of the smallest names seen, so a listing keeps max_entries of them whatever
 * the directory holds. */
static void ws_heap_sift_down(char **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        char *t;

        if (l < n && strcmp(h[l], h[m]) > 0)
            m = l;
        if (l + 1 < n && strcmp(h[l + 1], h[m]) > 0)
            m = l + 1;
        if (m == i)
            return;
        t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void ws_heap_push(char **h, size_t n, char *s)
{
    size_t i = n;

    h[i] = s;
    while (i > 0 && strcmp(h[(i - 1) / 2], h[i]) < 0) {
        char *t = h[(i - 1) / 2];

        h[(i - 1) / 2] = h[i];
        h[i] = t;
        i = (i - 1) / 2;
    }
}

static int ws_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entry object of name in dfd, NULL when it vanished meanwhile; *oom on allocation failure. */
static json_t *ws_entry(int dfd, const char *name, bool *oom)
{
    struct stat st;
    json_t *o;
    const char *type = "other";

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return NULL;
    if (S_ISREG(st.st_mode))
        type = "file";
    else if (S_ISDIR(st.st_mode))
        type = "dir";
    else if (S_ISLNK(st.st_mode))
        type = "symlink";
    o = json_pack("{s:s, s:I, s:f}", "type", type, "size", (json_int_t)st.st_size, "mtime",
                  (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9);
    /* The session names its files: invalid UTF-8 shows as U+FFFD rather than failing. */
    if (!o || json_util_set_text(o, "name", name, strlen(name)) < 0) {
        json_decref(o);
        *oom = true;
        return NULL;
    }
    return o;
}

json_t *ws_files_list(int root, const char *dir, size_t max_entries, struct err *e)
{
    DIR *d = NULL;
    struct dirent *de;
    char **names = NULL, *s;
    size_t n = 0, scanned = 0;
    bool truncated = false, oom = false;
    json_t *out = NULL, *arr, *o;
    int fd;

    if (ws_files_check_path(dir, dir ? strlen(dir) : 0, true, e) < 0)
        return NULL;
    max_entries = max_entries < 1 ? 1 : max_entries;
    max_entries = max_entries > WS_FILES_LIST_MAX ? WS_FILES_LIST_MAX : max_entries;
    fd = ws_openat2(root, dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, WS_RESOLVE);
    if (fd == -ENOTDIR) {
        err_set(e, ERR_INVALID, "path", "path '%.200s' is not a directory", dir);
        return NULL;
    }
    if (fd < 0) {
        ws_err(e, fd, dir, "open");
        return NULL;
    }
    if (!(d = fdopendir(fd))) {
        ws_err(e, -errno, dir, "read");
        close(fd);
        return NULL;
    }
    if (!(names = calloc(max_entries, sizeof(*names))))
        goto oom;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (++scanned > WS_FILES_LIST_SCAN) {
            truncated = true; /* a session's million files: the smallest names of those read */
            break;
        }
        if (n == max_entries) {
            truncated = true;
            if (strcmp(de->d_name, names[0]) >= 0)
                continue;
            free(names[0]);
            if (!(names[0] = strdup(de->d_name))) {
                names[0] = names[--n];
                goto oom;
            }
            ws_heap_sift_down(names, n, 0);
        } else {
            if (!(s = strdup(de->d_name)))
                goto oom;
            ws_heap_push(names, n++, s);
        }
    }
    qsort(names, n, sizeof(*names), ws_name_cmp);
    out = json_pack("{s:s, s:[], s:b}", "path", dir, "entries", "truncated", truncated);
    if (!out)
        goto oom;
    arr = json_object_get(out, "entries");
    for (size_t i = 0; i < n; i++) {
        o = ws_entry(dirfd(d), names[i], &oom);
        if (oom || (o && json_array_append_new(arr, o) < 0))
            goto oom;
    }
    goto done;
oom:
    json_decref(out);
    out = NULL;
    err_set(e, ERR_BUSY, "path", "out of memory listing '%.200s'", dir);
done:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return out;
}

const char *ws_files_mime(const char *path)
{
    static const struct {
        const char *ext;
        const char *type;
    } table[] = {
        {"txt", "text/plain; charset=utf-8"},
        {"log", "text/plain; charset=utf-8"},
        {"csv", "text/csv; charset=utf-8"},
        {"tsv", "text/tab-separated-values; charset=utf-8"},
        {"json", "application/json"},
        {"jsonl", "application/x-ndjson"},
        {"ndjson", "application/x-ndjson"},
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"xml", "application/xml"},
        {"yaml", "application/yaml"},
        {"yml", "application/yaml"},
        {"md", "text/markdown; charset=utf-8"},
        {"py", "text/x-python; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"sh", "text/x-shellscript; charset=utf-8"},
        {"ipynb", "application/x-ipynb+json"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"svg", "image/svg+xml"},
        {"pdf", "application/pdf"},
        {"parquet", "application/vnd.apache.parquet"},
        {"npy", "application/x-npy"},
        {"npz", "application/zip"},
        {"zip", "application/zip"},
        {"gz", "application/gzip"},
        {"tgz", "application/gzip"},
        {"bz2", "application/x-bzip2"},
        {"xz", "application/x-xz"},
        {"tar", "application/x-tar"},
    };
    const char *base, *dot;

    if (!path)
        return "application/octet-stream";
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    if (!dot || dot == base)
        return "application/octet-stream"; /* no extension, or a dotfile such as ".bashrc" */
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (!strcasecmp(dot + 1, table[i].ext))
            return table[i].type;
    return "application/octet-stream";
}
