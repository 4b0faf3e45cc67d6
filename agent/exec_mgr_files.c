/* exec_mgr_files.c - files in and out on the execution manager's side (exec_files.h does the
 * file work): which directory an execution's files go to and come from, and the anonymous
 * workspace a stateless execution gets for them.
 *
 * The working directory is reached by an fd the agent holds, never by a host path: a named
 * workspace's detached tmpfs (ws_mgr_fd), a session's workspace through /proc/<pid>/root
 * (ws_files_open_root), or, for a stateless execution, an anonymous tmpfs of --workspace-mb
 * made for it alone (ws_mgr_anon) and bound on its working directory as a named workspace is
 * (ZYG_JOB_WORKSPACE). It runs as that tmpfs's own uid, distinct from every other running
 * execution's. The tmpfs goes when the execution ends: what collect keeps is in the store. */
#include "exec_mgr.h"
#include "exec_mgr_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "sess_mgr.h"
#include "ws_files.h"

/* A session's workspace: its fd and owner. */
static int exec_mgr_files_sess_root(struct exec_mgr *m, struct exec *ex, int *root, uid_t *uid)
{
    char ws[SESS_ID_MAX], dir[512];
    pid_t pid;
    int r;

    if (!m->sm)
        return err_set(&ex->start_err, ERR_UNAVAILABLE, "files", "sessions are off");
    if ((r = sess_mgr_workspace(m->sm, ex->req.session_id, &pid, ws, uid, &ex->start_err)) < 0)
        return r;
    snprintf(dir, sizeof(dir), "%s/%s", m->cfg->work_dir, ws);
    return ws_files_open_root(pid, dir, *uid, root, &ex->start_err);
}

/* A stateless execution's own tmpfs, as its working directory. */
static int exec_mgr_files_anon(struct exec_mgr *m, struct exec *ex, struct zyg_job *job,
                               int child[ZYG_JOB_NFDS], int *root)
{
    struct isolate_state iso;
    int k;

    if (zyg_client_isolation(m->zc, &iso) == 0 && !isolate_state_has(&iso, ISOLATE_MOUNT_NS))
        return err_set(&ex->start_err, ERR_INVALID, "files",
                       "files in and out need the mount namespace layer, off on this agent: %s",
                       iso.reason[ISOLATE_MOUNT_NS]);
    if (!m->ws)
        return err_set(&ex->start_err, ERR_UNAVAILABLE, "files", "workspaces are not set up");
    if ((k = ws_mgr_anon(m->ws, root, &ex->start_err)) < 0)
        return k;
    ex->anon_uid = k;
    fdio_close(&child[ZYG_FD_WS]);
    if ((child[ZYG_FD_WS] = fcntl(*root, F_DUPFD_CLOEXEC, 3)) < 0)
        return err_set(&ex->start_err, ERR_INTERNAL, "files", "dup: %s", strerror(errno));
    job->flags |= ZYG_JOB_WORKSPACE;
    job->ws_uid = (uint32_t)k;
    return 0;
}

int exec_mgr_files_start(struct exec_mgr *m, struct exec *ex, struct zyg_job *job,
                         int child[ZYG_JOB_NFDS])
{
    int root = -1, r;
    uid_t uid = 0;
    gid_t gid = 0;
    struct stat st;

    if (!ex->req.files.present)
        return 0;
    if (ex->req.files.n_collect && !(ex->files = exec_files_new(&m->files, ex->id, &ex->req.files)))
        return err_set(&ex->start_err, ERR_BUSY, "files", "out of memory");
    if (ex->req.session_no) {
        r = exec_mgr_files_sess_root(m, ex, &root, &uid);
        gid = (gid_t)uid; /* as PUT /sessions/{id}/files writes them */
    } else if (ex->req.workspace[0]) {
        r = root = ws_mgr_fd(m->ws, ex->req.workspace);
        if (r < 0)
            r = err_set(&ex->start_err, ERR_INTERNAL, "workspace", "workspace fd: %s",
                        strerror(-r));
        /* Its files are its uid's once an execution has run in it (isolate_mount.c gives them
         * over); before, root's, and the first execution's walk gives ours over too. */
        else if (fstat(root, &st) == 0)
            uid = st.st_uid, gid = st.st_gid;
    } else {
        r = exec_mgr_files_anon(m, ex, job, child, &root);
    }
    if (r < 0)
        goto fail;
    if ((r = exec_files_write(&ex->req.files, root, uid, gid, &ex->start_err)) < 0)
        goto fail;
    if (ex->files && exec_files_snapshot(ex->files, root) < 0) {
        r = err_set(&ex->start_err, ERR_BUSY, "collect", "out of memory");
        goto fail;
    }
    ex->files_root = root;
    return 0;
fail:
    fdio_close(&root);
    return r;
}

json_t *exec_mgr_files_end(struct exec_mgr *m, struct exec *ex)
{
    json_t *o = NULL;

    if (ex->files && ex->files_root >= 0) {
        o = exec_files_collect(ex->files, ex->files_root);
        if (!o)
            log_msg(LOG_WARN, ex->id, "out of memory: no files collected");
    }
    exec_mgr_files_release(m, ex);
    if (ex->start_err.code) {
        json_t *err =
            json_pack("{s:s, s:s}", "field", ex->start_err.field, "message", ex->start_err.msg);

        if (!o)
            o = json_object();
        if (o)
            json_object_set_new(o, "files_error", err);
        else
            json_decref(err);
    }
    return o;
}

void exec_mgr_files_release(struct exec_mgr *m, struct exec *ex)
{
    fdio_close(&ex->files_root);
    if (ex->anon_uid >= 0) {
        ws_mgr_anon_done(m->ws, ex->anon_uid);
        ex->anon_uid = -1;
    }
}

int exec_mgr_file_open(struct exec_mgr *m, struct exec *ex, const char *path, int *fd,
                       struct stat *st, struct err *e)
{
    if (!exec_is_done(m, ex))
        return err_set(e, ERR_CONFLICT, "execution_id",
                       "the execution has not finished: its files are collected at its end");
    /* Done: ex->files is fixed and ours while referenced. */
    return exec_files_open(ex->files, path, fd, st, e);
}

void exec_mgr_set_sessions(struct exec_mgr *m, struct sess_mgr *sm)
{
    m->sm = sm;
}
