/* ws_mgr.c - named workspaces: the table and their detached tmpfs mounts. */
#include "ws_mgr.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "fdio.h"
#include "log.h"
#include "ws_name.h"

/* The new mount API (Linux 5.2); glibc 2.36 has no wrappers. */
#define WS_FSOPEN_CLOEXEC    0x1
#define WS_FSCONFIG_SET_STR  1
#define WS_FSCONFIG_CREATE   6
#define WS_FSMOUNT_CLOEXEC   0x1
#define WS_MOUNT_ATTR_NOSUID 0x2
#define WS_MOUNT_ATTR_NODEV  0x4

/* Inodes of a workspace's tmpfs per MiB of its size: bounds its file count, so the walk that
 * gives the files to the next execution's uid (isolate_mount.c) is bounded too. */
#define WS_FILES_PER_MB 64
#define WS_FILES_MIN    1024

struct ws_entry {
    char name[WS_NAME_MAX];
    int fd;                    /* the detached mount */
    double created, last_used; /* unix seconds */
    int users;                 /* executions queued or running with it */
    int running;               /* how many of them run (ws_mgr_try_run) */
    int uid_index; /* its executions' uid (isolate_cred_uid_ws), unique while it lives */
};

struct ws_mgr {
    const struct agent_cfg *cfg;
    pthread_mutex_t lock;
    bool on;             /* a tmpfs can be made */
    char reason[200];    /* why workspaces are off */
    struct ws_entry *ws; /* cfg->max_workspaces entries, [0, n) in use */
    size_t n;
    bool tmpfs; /* a detached tmpfs can be made (anonymous workspaces need no name) */
    bool *anon; /* cfg->max_concurrent: anonymous uid index max_workspaces + k taken */
};

static double ws_now(void)
{
    return (double)clock_real_ns() / 1e9;
}

/* A new detached tmpfs of size_mb MiB with at most files inodes, its root 0700 root's. The fd,
 * or -errno. */
static int ws_tmpfs(long size_mb, long files)
{
    char size[32], inodes[32];
    int fs, m = -1, r;

    snprintf(size, sizeof(size), "%ldm", size_mb);
    snprintf(inodes, sizeof(inodes), "%ld", files);
    fs = (int)syscall(SYS_fsopen, "tmpfs", WS_FSOPEN_CLOEXEC);
    if (fs < 0)
        return -errno;
    /* "sandpit-ws" names it in an execution's /proc/self/mountinfo. */
    if (syscall(SYS_fsconfig, fs, WS_FSCONFIG_SET_STR, "source", "sandpit-ws", 0) < 0 ||
        syscall(SYS_fsconfig, fs, WS_FSCONFIG_SET_STR, "size", size, 0) < 0 ||
        syscall(SYS_fsconfig, fs, WS_FSCONFIG_SET_STR, "nr_inodes", inodes, 0) < 0 ||
        syscall(SYS_fsconfig, fs, WS_FSCONFIG_SET_STR, "mode", "0700", 0) < 0 ||
        syscall(SYS_fsconfig, fs, WS_FSCONFIG_CREATE, NULL, NULL, 0) < 0 ||
        (m = (int)syscall(SYS_fsmount, fs, WS_FSMOUNT_CLOEXEC,
                          WS_MOUNT_ATTR_NOSUID | WS_MOUNT_ATTR_NODEV)) < 0) {
        r = -errno;
        close(fs);
        return r;
    }
    close(fs);
    return m;
}

struct ws_mgr *ws_mgr_new(const struct agent_cfg *cfg)
{
    struct ws_mgr *w = calloc(1, sizeof(*w));
    int fd;

    if (!w)
        return NULL;
    w->cfg = cfg;
    pthread_mutex_init(&w->lock, NULL);
    if ((cfg->max_workspaces > 0 &&
         !(w->ws = calloc((size_t)cfg->max_workspaces, sizeof(*w->ws)))) ||
        !(w->anon = calloc((size_t)cfg->max_concurrent, sizeof(*w->anon)))) {
        ws_mgr_free(w);
        return NULL;
    }
    if ((fd = ws_tmpfs(1, 16)) < 0) {
        snprintf(w->reason, sizeof(w->reason), "cannot create a tmpfs (fsopen/fsmount): %s%s",
                 strerror(-fd), geteuid() != 0 ? " (the agent does not run as root)" : "");
        log_warn("workspaces are off: %s", w->reason);
    } else {
        close(fd);
        w->tmpfs = true;
        w->on = cfg->max_workspaces > 0;
        if (!w->on)
            snprintf(w->reason, sizeof(w->reason), "--max-workspaces is 0");
    }
    return w;
}

void ws_mgr_free(struct ws_mgr *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        fdio_close(&w->ws[i].fd);
    pthread_mutex_destroy(&w->lock);
    free(w->ws);
    free(w->anon);
    free(w);
}

static struct ws_entry *ws_find(struct ws_mgr *w, const char *name)
{
    for (size_t i = 0; i < w->n; i++) {
        if (!strcmp(w->ws[i].name, name))
            return &w->ws[i];
    }
    return NULL;
}

/* The smallest uid index no live workspace has (at most max_workspaces of them). Lock held. */
static int ws_free_uid_index(const struct ws_mgr *w)
{
    for (int k = 0;; k++) {
        size_t i = 0;

        while (i < w->n && w->ws[i].uid_index != k)
            i++;
        if (i == w->n)
            return k;
    }
}

/* Creates workspace name into *out. Lock held. 0 or -code with e. */
static int ws_create(struct ws_mgr *w, const char *name, struct ws_entry **out, struct err *e)
{
    long files = w->cfg->workspace_mb * WS_FILES_PER_MB;
    struct ws_entry *ws;
    int fd;

    if (w->n >= (size_t)w->cfg->max_workspaces)
        return err_set(e, ERR_BUSY, "workspace",
                       "%ld workspaces exist (--max-workspaces): delete one (DELETE "
                       "/workspaces/{name})",
                       w->cfg->max_workspaces);
    fd = ws_tmpfs(w->cfg->workspace_mb, files < WS_FILES_MIN ? WS_FILES_MIN : files);
    if (fd < 0) {
        log_errno(-fd, NULL, "creating workspace '%s'", name);
        return err_set(e, ERR_UNAVAILABLE, "workspace", "cannot create workspace '%s': %s", name,
                       strerror(-fd));
    }
    ws = &w->ws[w->n++];
    memset(ws, 0, sizeof(*ws));
    ws->uid_index = ws_free_uid_index(w);
    snprintf(ws->name, sizeof(ws->name), "%s", name);
    ws->fd = fd;
    ws->created = ws->last_used = ws_now();
    *out = ws;
    return 0;
}

int ws_mgr_use(struct ws_mgr *w, const char *name, struct err *e)
{
    struct ws_entry *ws = NULL;
    int r = 0;

    pthread_mutex_lock(&w->lock);
    if (!w->on)
        r = err_set(e, ERR_INVALID, "workspace", "workspaces are off on this agent: %s", w->reason);
    else if (!(ws = ws_find(w, name)))
        r = ws_create(w, name, &ws, e);
    if (r == 0)
        ws->users++;
    pthread_mutex_unlock(&w->lock);
    return r;
}

bool ws_mgr_try_run(struct ws_mgr *w, const char *name)
{
    struct ws_entry *ws;
    bool ok = false;

    pthread_mutex_lock(&w->lock);
    ws = ws_find(w, name);
    /* Executions of one workspace run at once: they share its uid (isolate_cred_uid_ws), so
     * each can change what another wrote, as one user's processes can. */
    if (ws) {
        ws->running++;
        ok = true;
    }
    pthread_mutex_unlock(&w->lock);
    return ok;
}

int ws_mgr_uid_index(struct ws_mgr *w, const char *name)
{
    struct ws_entry *ws;
    int k = -ENOENT;

    pthread_mutex_lock(&w->lock);
    if ((ws = ws_find(w, name)))
        k = ws->uid_index;
    pthread_mutex_unlock(&w->lock);
    return k;
}

int ws_mgr_fd(struct ws_mgr *w, const char *name)
{
    struct ws_entry *ws;
    int fd = -ENOENT;

    pthread_mutex_lock(&w->lock);
    if ((ws = ws_find(w, name)) && (fd = fcntl(ws->fd, F_DUPFD_CLOEXEC, 3)) < 0)
        fd = -errno;
    pthread_mutex_unlock(&w->lock);
    return fd;
}

void ws_mgr_done(struct ws_mgr *w, const char *name, bool ran)
{
    struct ws_entry *ws;

    pthread_mutex_lock(&w->lock);
    if ((ws = ws_find(w, name))) {
        if (ran && ws->running > 0)
            ws->running--;
        if (ws->users > 0)
            ws->users--;
        ws->last_used = ws_now();
    }
    pthread_mutex_unlock(&w->lock);
}

int ws_mgr_anon(struct ws_mgr *w, int *fd, struct err *e)
{
    long files = w->cfg->workspace_mb * WS_FILES_PER_MB;
    long k;

    if (!w->tmpfs)
        return err_set(e, ERR_UNAVAILABLE, "files",
                       "files in and out need a tmpfs of their own, which this agent cannot make: "
                       "%s",
                       w->reason);
    pthread_mutex_lock(&w->lock);
    for (k = 0; k < w->cfg->max_concurrent && w->anon[k]; k++)
        ;
    if (k < w->cfg->max_concurrent)
        w->anon[k] = true;
    pthread_mutex_unlock(&w->lock);
    if (k == w->cfg->max_concurrent)
        return err_set(e, ERR_BUSY, "files", "every anonymous workspace is taken; retry later");
    *fd = ws_tmpfs(w->cfg->workspace_mb, files < WS_FILES_MIN ? WS_FILES_MIN : files);
    if (*fd < 0) {
        ws_mgr_anon_done(w, (int)(w->cfg->max_workspaces + k));
        return err_set(e, ERR_UNAVAILABLE, "files", "cannot create the execution's tmpfs: %s",
                       strerror(-*fd));
    }
    return (int)(w->cfg->max_workspaces + k);
}

void ws_mgr_anon_done(struct ws_mgr *w, int uid_index)
{
    long k = uid_index - w->cfg->max_workspaces;

    pthread_mutex_lock(&w->lock);
    if (k >= 0 && k < w->cfg->max_concurrent)
        w->anon[k] = false;
    pthread_mutex_unlock(&w->lock);
}

/* One workspace's listing entry, its use of the tmpfs from statfs. Lock held. */
static json_t *ws_entry_json(const struct ws_entry *ws)
{
    struct statfs sf;
    json_int_t bytes = 0, files = 0;

    if (fstatfs(ws->fd, &sf) == 0) {
        bytes = (json_int_t)((sf.f_blocks - sf.f_bfree) * (unsigned long long)sf.f_bsize);
        /* The root directory is an inode too. */
        files = sf.f_files > sf.f_ffree ? (json_int_t)(sf.f_files - sf.f_ffree) - 1 : 0;
    }
    return json_pack("{s:s, s:I, s:I, s:f, s:f, s:b}", "name", ws->name, "size_bytes", bytes,
                     "files", files, "created", ws->created, "last_used", ws->last_used, "in_use",
                     ws->users > 0);
}

json_t *ws_mgr_list(struct ws_mgr *w)
{
    json_t *list = json_array();

    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; list && i < w->n; i++) {
        if (json_array_append_new(list, ws_entry_json(&w->ws[i])) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    pthread_mutex_unlock(&w->lock);
    if (!list)
        return NULL;
    return json_pack("{s:o, s:I, s:I, s:I}", "workspaces", list, "total",
                     (json_int_t)json_array_size(list), "max", (json_int_t)w->cfg->max_workspaces,
                     "size_mb", (json_int_t)w->cfg->workspace_mb);
}

int ws_mgr_delete(struct ws_mgr *w, const char *name, struct err *e)
{
    struct ws_entry *ws;
    int r = 0;

    pthread_mutex_lock(&w->lock);
    ws = ws_find(w, name);
    if (!ws) {
        r = err_set(e, ERR_NOT_FOUND, "workspace", "no workspace '%s'", name);
    } else if (ws->users > 0) {
        r = err_set(e, ERR_CONFLICT, "workspace",
                    "workspace '%s' is in use by %d execution(s); retry when they are over", name,
                    ws->users);
    } else {
        /* The last reference: the tmpfs and its files go with it (an execution's copy went
         * with its mount namespace before its result was published). */
        fdio_close(&ws->fd);
        *ws = w->ws[--w->n];
    }
    pthread_mutex_unlock(&w->lock);
    return r;
}

json_t *ws_mgr_health(struct ws_mgr *w)
{
    json_t *o;

    pthread_mutex_lock(&w->lock);
    o = json_pack("{s:b, s:I, s:I, s:I}", "enabled", w->on, "count", (json_int_t)w->n, "max",
                  (json_int_t)w->cfg->max_workspaces, "size_mb", (json_int_t)w->cfg->workspace_mb);
    if (o && !w->on)
        json_object_set_new(o, "reason", json_string(w->reason));
    pthread_mutex_unlock(&w->lock);
    return o;
}
