/* exec_files.c - files in and out of an execution (exec_files.h).
 *
 * The walks never resolve a path: each directory is opened relative to its parent's fd with
 * O_NOFOLLOW and checked to be on the root's file system, each file relative to its
 * directory's fd with O_NOFOLLOW | O_NONBLOCK (a FIFO raced in cannot block us) and kept only
 * when fstat says it is the regular file (same inode, one link) the listing showed. A file
 * that changes while it is read is reported in files_skipped, never returned half. */
#include "exec_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "fdio.h"
#include "sha256.h"
#include "ws_files.h"

#define EXEC_FILES_CHUNK       (64u << 10)
#define EXEC_FILES_MAX_SKIPPED 100

struct exec_files_snap {
    char *path;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

/* One walk: the callback sees each regular file or symlink whose path matches a pattern. */
struct exec_files_walk {
    struct exec_files *f;
    dev_t dev;      /* the root's file system: never left */
    size_t entries; /* visited, at most WS_FILES_WALK_MAX */
    char path[WS_FILES_PATH_MAX + 1];
    int (*visit)(struct exec_files_walk *w, int dfd, const char *name, const struct stat *st);
    json_t *files, *skipped; /* collect's lists */
    size_t inlined;          /* bytes inlined so far */
    unsigned long long read; /* bytes read so far (EXEC_FILES_READ_MAX) */
    bool truncated_walk;     /* the tree was too big to walk whole */
};

int exec_files_store_init(struct exec_files_store *s, const char *state_dir, long long cap)
{
    memset(s, 0, sizeof(*s));
    s->cap = cap;
    atomic_init(&s->used, 0);
    if (snprintf(s->dir, sizeof(s->dir), "%s/files", state_dir) >= (int)sizeof(s->dir))
        return -ENAMETOOLONG;
    if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    /* What an earlier agent kept: its results are gone with it. */
    fdio_rm_tree(s->dir);
    if (mkdir(s->dir, 0700) < 0)
        return -errno;
    return 0;
}

struct exec_files *exec_files_new(struct exec_files_store *store, const char *exec_id,
                                  const struct files_spec *spec)
{
    struct exec_files *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->store = store;
    snprintf(f->exec_id, sizeof(f->exec_id), "%s", exec_id);
    if (spec->n_collect && !(f->collect = calloc(spec->n_collect, sizeof(char *))))
        goto fail;
    for (size_t i = 0; i < spec->n_collect; i++) {
        if (!(f->collect[i] = strdup(spec->collect[i])))
            goto fail;
        f->n_collect++;
    }
    return f;
fail:
    exec_files_free(f);
    return NULL;
}

void exec_files_free(struct exec_files *f)
{
    char p[640];

    if (!f)
        return;
    for (size_t i = 0; i < f->n_stored; i++) {
        snprintf(p, sizeof(p), "%s/%s/%zu", f->store->dir, f->exec_id, i);
        (void)unlink(p);
        free(f->stored[i]);
    }
    if (f->n_stored) {
        snprintf(p, sizeof(p), "%s/%s", f->store->dir, f->exec_id);
        (void)rmdir(p);
        atomic_fetch_sub(&f->store->used, f->stored_bytes);
    }
    for (size_t i = 0; i < f->n_snap; i++)
        free(f->snap[i].path);
    for (size_t i = 0; i < f->n_collect; i++)
        free(f->collect[i]);
    free(f->snap);
    free(f->stored);
    free(f->collect);
    free(f);
}

int exec_files_write(const struct files_spec *spec, int root, uid_t uid, gid_t gid, struct err *e)
{
    for (size_t i = 0; i < spec->n_files; i++) {
        const struct files_spec_entry *ent = &spec->files[i];
        int r = ws_files_put(root, ent->path, ent->data, ent->len, uid, gid, 0, e);

        if (r < 0) {
            /* ws_files_put names "path" or "body": name the entry. */
            snprintf(e->field, sizeof(e->field), "files[%zu].%s", i,
                     strcmp(e->field, "path") ? "content" : "path");
            return r;
        }
    }
    return 0;
}

static bool exec_files_match(const struct exec_files *f, const char *path)
{
    for (size_t i = 0; i < f->n_collect; i++) {
        if (files_spec_glob(f->collect[i], path))
            return true;
    }
    return false;
}

/* Walks the directory dfd (taken: closed here) whose path is w->path[0..plen). */
static int exec_files_walk_dir(struct exec_files_walk *w, int dfd, size_t plen, int depth)
{
    DIR *d = fdopendir(dfd);
    struct dirent *de;
    int r = 0;

    if (!d) {
        close(dfd);
        return 0;
    }
    while (r == 0 && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        struct stat st;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (++w->entries > WS_FILES_WALK_MAX) {
            w->truncated_walk = true;
            break;
        }
        if (plen + n + 2 > sizeof(w->path) ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (plen)
            w->path[plen] = '/';
        memcpy(w->path + plen + (plen ? 1 : 0), de->d_name, n + 1);
        if (S_ISDIR(st.st_mode) && st.st_dev == w->dev) {
            int sub;
            struct stat sst;

            if (depth >= WS_FILES_WALK_DEPTH) {
                w->truncated_walk = true;
                continue;
            }
            sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                continue;
            /* The name may have been swapped since the listing: only the same directory. */
            if (fstat(sub, &sst) < 0 || sst.st_ino != st.st_ino || sst.st_dev != w->dev) {
                close(sub);
                continue;
            }
            r = exec_files_walk_dir(w, sub, plen + (plen ? 1 : 0) + n, depth + 1);
        } else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) &&
                   exec_files_match(w->f, w->path)) {
            r = w->visit(w, dirfd(d), de->d_name, &st);
        }
        w->path[plen] = '\0';
    }
    closedir(d);
    return r;
}

static int exec_files_walk(struct exec_files_walk *w, int root)
{
    struct stat st;
    int d = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (d < 0)
        return -errno;
    if (fstat(d, &st) < 0) {
        close(d);
        return -errno;
    }
    w->dev = st.st_dev;
    w->path[0] = '\0';
    return exec_files_walk_dir(w, d, 0, 0);
}

static int exec_files_snap_visit(struct exec_files_walk *w, int dfd, const char *name,
                                 const struct stat *st)
{
    struct exec_files *f = w->f;
    struct exec_files_snap *s;

    (void)dfd;
    (void)name;
    if (!S_ISREG(st->st_mode))
        return 0;
    if ((f->n_snap & (f->n_snap - 1)) == 0) { /* 0, 1, 2, 4, ...: grow to the next power */
        s = realloc(f->snap, (f->n_snap ? 2 * f->n_snap : 1) * sizeof(*s));
        if (!s)
            return -ENOMEM;
        f->snap = s;
    }
    s = &f->snap[f->n_snap];
    if (!(s->path = strdup(w->path)))
        return -ENOMEM;
    s->ino = st->st_ino;
    s->size = st->st_size;
    s->mtime = st->st_mtim;
    f->n_snap++;
    return 0;
}

static int exec_files_snap_cmp(const void *a, const void *b)
{
    return strcmp(((const struct exec_files_snap *)a)->path,
                  ((const struct exec_files_snap *)b)->path);
}

int exec_files_snapshot(struct exec_files *f, int root)
{
    struct exec_files_walk *w;
    int r;

    if (!f->n_collect)
        return 0;
    if (!(w = calloc(1, sizeof(*w))))
        return -ENOMEM;
    w->f = f;
    w->visit = exec_files_snap_visit;
    r = exec_files_walk(w, root);
    free(w);
    if (r == 0 && f->n_snap > 1)
        qsort(f->snap, f->n_snap, sizeof(*f->snap), exec_files_snap_cmp);
    return r == -ENOMEM ? r : 0;
}

/* True when path is in the snapshot as st has it now: same inode, size and mtime (to the ns).
 * Not ctime: the start gives the files to the execution's uid (isolate_mount.c), which changes
 * it. A program that rewrites a file in place to the same size and sets its mtime back is not
 * seen; that is a program hiding its own output, nothing to protect against. */
static bool exec_files_unchanged(const struct exec_files *f, const char *path,
                                 const struct stat *st)
{
    struct exec_files_snap key = {.path = (char *)path}, *s;

    s = f->n_snap ? bsearch(&key, f->snap, f->n_snap, sizeof(*f->snap), exec_files_snap_cmp) : NULL;
    return s && s->ino == st->st_ino && s->size == st->st_size &&
           s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Notes that path is not returned, and why (the first EXEC_FILES_MAX_SKIPPED of them). */
static int exec_files_skip(struct exec_files_walk *w, const char *reason)
{
    if (json_array_size(w->skipped) >= EXEC_FILES_MAX_SKIPPED)
        return 0;
    return json_array_append_new(w->skipped,
                                 json_pack("{s:s, s:s}", "path", w->path, "reason", reason)) < 0
               ? -ENOMEM
               : 0;
}

void exec_files_url(const char *exec_id, const char *path, char *out, size_t size)
{
    files_spec_url("/execution/", exec_id, path, out, size);
}

/* A file in the store for the next collected one: its fd, or -1 when the store is full (the
 * bytes are reserved: give them back with exec_files_unstore). */
static int exec_files_store_open(struct exec_files *f, off_t size)
{
    struct exec_files_store *s = f->store;
    char p[640];
    int fd;

    if (atomic_fetch_add(&s->used, (long long)size) + (long long)size > s->cap) {
        atomic_fetch_sub(&s->used, (long long)size);
        return -1;
    }
    snprintf(p, sizeof(p), "%s/%s", s->dir, f->exec_id);
    if (f->n_stored == 0 && mkdir(p, 0700) < 0 && errno != EEXIST)
        goto fail;
    snprintf(p, sizeof(p), "%s/%s/%zu", s->dir, f->exec_id, f->n_stored);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    return fd;
fail:
    atomic_fetch_sub(&s->used, (long long)size);
    return -1;
}

static void exec_files_unstore(struct exec_files *f, int *fd, off_t size)
{
    char p[640];

    if (*fd < 0)
        return;
    fdio_close(fd);
    snprintf(p, sizeof(p), "%s/%s/%zu", f->store->dir, f->exec_id, f->n_stored);
    (void)unlink(p);
    atomic_fetch_sub(&f->store->used, (long long)size);
    if (f->n_stored == 0) {
        snprintf(p, sizeof(p), "%s/%s", f->store->dir, f->exec_id);
        (void)rmdir(p);
    }
}

/* Reads fd (st->st_size bytes expected) into the hash, the store file sfd (or -1) and, when
 * mem, memory. 0, 1 when the file is not what st said (it changed), or -errno. */
static int exec_files_copy(int fd, const struct stat *st, struct sha256 *h, int sfd,
                           unsigned char *mem)
{
    unsigned char *buf = malloc(EXEC_FILES_CHUNK);
    long long got = 0;
    struct stat after;
    int r = 0;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n = read(fd, buf, EXEC_FILES_CHUNK);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        if (got + n > (long long)st->st_size) {
            r = 1; /* it grew */
            break;
        }
        sha256_update(h, buf, (size_t)n);
        if (mem)
            memcpy(mem + got, buf, (size_t)n);
        if (sfd >= 0 && (r = fdio_write_all(sfd, buf, (size_t)n)) < 0)
            break;
        got += n;
    }
    free(buf);
    if (r == 0 && (got != (long long)st->st_size || fstat(fd, &after) < 0 ||
                   after.st_size != st->st_size || after.st_mtim.tv_sec != st->st_mtim.tv_sec ||
                   after.st_mtim.tv_nsec != st->st_mtim.tv_nsec))
        r = 1;
    return r;
}

/* The result's entry of the file just read. NULL on out of memory. */
static json_t *exec_files_entry(struct exec_files_walk *w, const struct stat *st, const char *hex,
                                const unsigned char *mem, bool stored)
{
    json_t *o = json_pack("{s:s, s:I, s:s}", "path", w->path, "size", (json_int_t)st->st_size,
                          "sha256", hex);
    char url[WS_FILES_PATH_MAX * 3 + 64];

    if (!o)
        return NULL;
    if (mem) {
        char *text = malloc(B64_ENCODED_LEN((size_t)st->st_size));

        if (!text) {
            json_decref(o);
            return NULL;
        }
        b64_encode(mem, (size_t)st->st_size, text);
        json_object_set_new(o, "content", json_string(text));
        free(text);
    } else {
        json_object_set_new(o, "content", json_null());
    }
    json_object_set_new(o, "truncated", json_boolean(!mem));
    if (stored) {
        exec_files_url(w->f->exec_id, w->path, url, sizeof(url));
        json_object_set_new(o, "url", json_string(url));
    } else if (!mem) {
        json_object_set_new(o, "url", json_null());
        json_object_set_new(o, "reason",
                            json_string("not kept: the agent's file store is full (--files-mb)"));
    }
    return o;
}

/* The copy just written to the store (sfd, taken) becomes the next stored file of path: true,
 * or false (given back) on out of memory. */
static bool exec_files_kept(struct exec_files *f, int *sfd, const char *path, off_t size)
{
    char **grown = realloc(f->stored, (f->n_stored + 1) * sizeof(*grown));

    if (grown)
        f->stored = grown;
    if (!grown || !(grown[f->n_stored] = strdup(path))) {
        exec_files_unstore(f, sfd, size);
        return false;
    }
    fdio_close(sfd);
    f->n_stored++;
    f->stored_bytes += size;
    return true;
}

static int exec_files_collect_visit(struct exec_files_walk *w, int dfd, const char *name,
                                    const struct stat *lst)
{
    struct exec_files *f = w->f;
    struct stat st;
    struct sha256 h;
    char hex[SHA256_HEX_LEN];
    unsigned char *mem = NULL;
    int fd, sfd, r;
    bool stored;
    json_t *o;

    if (S_ISLNK(lst->st_mode))
        return exec_files_skip(w, "a symbolic link (never followed)");
    if (exec_files_unchanged(f, w->path, lst))
        return 0;
    if (json_array_size(w->files) >= EXEC_FILES_MAX_COLLECT)
        return exec_files_skip(w, "over the limit of files one execution collects (1000)");
    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return exec_files_skip(w, "cannot be opened (it changed while being collected)");
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_ino != lst->st_ino) {
        fdio_close(&fd);
        return exec_files_skip(w, "changed while being collected");
    }
    if (st.st_nlink != 1) {
        fdio_close(&fd);
        return exec_files_skip(w, "has more than one hard link (not read)");
    }
    if ((unsigned long long)st.st_size > EXEC_FILES_READ_MAX - w->read) {
        fdio_close(&fd);
        return exec_files_skip(w, "over the 512 MiB one execution's collection reads (not read)");
    }
    w->read += (unsigned long long)st.st_size;
    if (st.st_size <= (off_t)EXEC_FILES_INLINE_FILE &&
        w->inlined + (size_t)st.st_size <= EXEC_FILES_INLINE_TOTAL &&
        !(mem = malloc((size_t)st.st_size + 1))) {
        fdio_close(&fd);
        return -ENOMEM;
    }
    sfd = exec_files_store_open(f, st.st_size);
    sha256_init(&h);
    r = exec_files_copy(fd, &st, &h, sfd, mem);
    fdio_close(&fd);
    if (r != 0) {
        exec_files_unstore(f, &sfd, st.st_size);
        free(mem);
        if (r == -ENOMEM)
            return r;
        return exec_files_skip(w, r == 1 ? "changed while being read (not returned)"
                                         : "could not be read or kept");
    }
    sha256_hex(&h, hex);
    stored = sfd >= 0 && exec_files_kept(f, &sfd, w->path, st.st_size);
    if (mem)
        w->inlined += (size_t)st.st_size;
    o = exec_files_entry(w, &st, hex, mem, stored);
    free(mem);
    return json_array_append_new(w->files, o) < 0 ? -ENOMEM : 0;
}

json_t *exec_files_collect(struct exec_files *f, int root)
{
    struct exec_files_walk *w = calloc(1, sizeof(*w));
    json_t *res = NULL;
    int r;

    if (!w)
        return NULL;
    w->f = f;
    w->visit = exec_files_collect_visit;
    w->files = json_array();
    w->skipped = json_array();
    if (!w->files || !w->skipped)
        goto out;
    r = exec_files_walk(w, root);
    if (r == -ENOMEM)
        goto out;
    if (r < 0)
        (void)exec_files_skip(w, "the working directory could not be read");
    if (w->truncated_walk)
        (void)exec_files_skip(w, "the tree is too big or too deep to walk whole (100000 "
                                 "entries, 64 levels): some files were not looked at");
    res = json_pack("{s:O}", "files", w->files);
    if (res && json_array_size(w->skipped))
        json_object_set(res, "files_skipped", w->skipped);
out:
    json_decref(w->files);
    json_decref(w->skipped);
    free(w);
    return res;
}

int exec_files_open(const struct exec_files *f, const char *path, int *fd, struct stat *st,
                    struct err *e)
{
    char p[640];

    for (size_t i = 0; f && i < f->n_stored; i++) {
        if (strcmp(f->stored[i], path) != 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s/%zu", f->store->dir, f->exec_id, i);
        *fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (*fd < 0 || fstat(*fd, st) < 0) {
            fdio_close(fd);
            return err_set(e, ERR_NOT_FOUND, "path", "the kept copy of '%.200s' is gone", path);
        }
        return 0;
    }
    return err_set(e, ERR_NOT_FOUND, "path",
                   "this execution collected no file '%.200s' that was kept (see its result's "
                   "files list)",
                   path);
}
