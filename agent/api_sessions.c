/* api_sessions.c - the agent's /sessions endpoints (docs/sessions.md) on the shared server core.
 * Nothing blocks an HTTP thread: a create, fork or delete suspends until the zygote reports
 * the session up or gone (sess_mgr), a cell until its execution finishes (exec_mgr). */
#include "api_sessions.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec_sse.h"
#include "http_stream.h"
#include "json_util.h"
#include "sess_route.h"
#include "ws_files.h"

/* A workspace's size: the family's private /tmp (--disk-mb) bounds it anyway; this is the cap a
 * PUT checks first, so an oversize upload is a 413 naming the path, not a half-written file. */
#define API_SESS_WS_BYTES(cfg) ((long long)(cfg)->disk_mb << 20)

/* What a session request keeps while it waits (http_req_set_data). */
struct api_sess_req {
    struct api_sess *as;
    char id[SESS_ID_MAX];
    bool waits_sess;  /* a waiter registered with the session manager */
    struct exec *ex;  /* a cell: its execution (a reference) */
    unsigned created; /* 201 or 200 for the answer once up */
};

static void api_sess_req_free(struct http_req *r, void *data)
{
    struct api_sess_req *q = data;

    if (q->waits_sess)
        sess_mgr_clear_waiter(q->as->sm, q->id, r);
    if (q->ex) {
        exec_mgr_clear_waiter(q->as->mgr, q->ex, r);
        exec_unref(q->ex);
    }
    free(q);
}

static struct api_sess_req *api_sess_attach(struct api_sess *as, struct http_req *r, const char *id)
{
    struct api_sess_req *q = calloc(1, sizeof(*q));

    if (q) {
        q->as = as;
        snprintf(q->id, sizeof(q->id), "%s", id);
        http_req_set_data(r, q, api_sess_req_free);
    }
    return q;
}

/* An error of a session call: a 410 also carries "session_id" and "reason" (the contract), so a
 * client need not parse the message. */
static enum MHD_Result api_sess_err(struct api_sess *as, struct http_req *r, const char *id,
                                    const struct err *e)
{
    char reason[200];
    json_t *o;

    if (e->code != ERR_GONE || !id)
        return http_req_err(r, e);
    sess_mgr_reason(as->sm, id, reason, sizeof(reason));
    o = http_req_error_body(r, ERR_GONE, e->field[0] ? e->field : NULL, e->msg);
    if (o) {
        json_object_set_new(o, "session_id", json_string(id));
        json_object_set_new(o, "reason", json_string(reason));
    }
    return http_req_json_take(r, err_http_status(ERR_GONE), o);
}

static void api_sess_wake(void *arg)
{
    http_req_wake(arg);
}

/* The body as a JSON object; an empty body is {} when empty_ok. NULL with e set. */
static json_t *api_sess_body(struct http_req *r, bool empty_ok, struct err *e)
{
    size_t len = 0;
    const char *body = http_req_body(r, &len);

    if (!body) {
        err_set(e, ERR_TOO_LARGE, NULL, "the body exceeds its cap");
        return NULL;
    }
    if (len == 0 && empty_ok)
        return json_object();
    return json_util_parse_object(body, len, e);
}

/* After a create or fork: the session up (201) or why it could not start. */
static enum MHD_Result api_sess_reply_up(struct http_req *r)
{
    struct api_sess_req *q = http_req_data(r);
    struct err e = {0};
    json_t *o = sess_mgr_get(q->as->sm, q->id, &e);
    const char *state = json_string_value(json_object_get(o, "state"));
    char msg[300];

    q->waits_sess = false;
    if (!o)
        return http_req_err(r, &e);
    if (state && !strcmp(state, "dead")) {
        snprintf(msg, sizeof(msg), "the session could not start: %s",
                 json_string_value(json_object_get(o, "reason")));
        json_decref(o);
        return http_req_error(r, ERR_UNAVAILABLE, NULL, "%s", msg);
    }
    return http_req_json_take(r, q->created, o);
}

static enum MHD_Result api_sess_wait_up(struct api_sess *as, struct http_req *r, const char *id,
                                        unsigned status)
{
    struct api_sess_req *q = api_sess_attach(as, r, id);

    if (!q)
        return http_req_json_take(r, 0, NULL);
    q->created = status;
    q->waits_sess = true;
    if (sess_mgr_wait(as->sm, id, false, api_sess_wake, r))
        return api_sess_reply_up(r);
    return http_req_suspend(r, api_sess_reply_up);
}

static enum MHD_Result api_sess_create(struct api_sess *as, struct http_req *r)
{
    struct sess_opts o;
    struct err e = {0};
    char id[SESS_ID_MAX];
    json_t *body = api_sess_body(r, true, &e);
    int rc = body ? sess_opts_parse(as->cfg, body, &o, &e) : -1;

    if (rc == 0)
        rc = sess_mgr_create(as->sm, &o, id, &e);
    json_decref(body);
    if (rc < 0)
        return http_req_err(r, &e);
    return api_sess_wait_up(as, r, id, MHD_HTTP_CREATED);
}

static enum MHD_Result api_sess_fork(struct api_sess *as, struct http_req *r, const char *parent)
{
    struct err e = {0};
    char id[SESS_ID_MAX];
    json_t *body = api_sess_body(r, true, &e);
    int rc = -1;

    if (body && json_object_size(body) > 0)
        err_set(&e, ERR_INVALID, json_object_iter_key(json_object_iter(body)),
                "a fork takes no fields: it copies its parent");
    else if (body)
        rc = sess_mgr_fork(as->sm, parent, id, &e);
    json_decref(body);
    if (rc < 0)
        return api_sess_err(as, r, parent, &e);
    return api_sess_wait_up(as, r, id, MHD_HTTP_CREATED);
}

static enum MHD_Result api_sess_reply_deleted(struct http_req *r)
{
    struct api_sess_req *q = http_req_data(r);

    q->waits_sess = false;
    return http_req_json_take(r, MHD_HTTP_OK,
                              json_pack("{s:s, s:b}", "session_id", q->id, "deleted", 1));
}

static enum MHD_Result api_sess_delete(struct api_sess *as, struct http_req *r, const char *id)
{
    struct err e = {0};
    struct api_sess_req *q;
    int rc = sess_mgr_kill(as->sm, id, &e);

    if (rc < 0)
        return api_sess_err(as, r, id, &e);
    if (!(q = api_sess_attach(as, r, id)))
        return http_req_json_take(r, 0, NULL);
    if (rc == 1)
        return api_sess_reply_deleted(r);
    q->waits_sess = true;
    if (sess_mgr_wait(as->sm, id, true, api_sess_wake, r))
        return api_sess_reply_deleted(r);
    return http_req_suspend(r, api_sess_reply_deleted);
}

/* A cell's result: the ExecutionResult with session_id and execution_count (exec_mgr adds
 * them), or 410 when the zygote died under it (the session with it). */
static enum MHD_Result api_sess_reply_cell(struct http_req *r)
{
    struct api_sess_req *q = http_req_data(r);
    size_t len = 0;
    char *text;

    if (exec_lost_zygote(q->ex))
        return http_req_error(r, ERR_GONE, "session_id",
                              "the Python zygote died during this cell: session %s is gone", q->id);
    text = exec_result_text(q->as->mgr, q->ex, true, &len);
    return http_req_bytes_take(r, MHD_HTTP_OK, text, len, "application/json");
}

/* The request's fields that a cell cannot take, checked before the session is marked busy. */
static int api_sess_cell_check(const struct exec_req *req, struct err *e)
{
    if (req->async)
        return err_set(e, ERR_INVALID, "async",
                       "a session's cell answers when it is done (no async): the session is "
                       "busy until then");
    if (req->scenario_json)
        return err_set(e, ERR_INVALID, "scenario",
                       "a cell takes no scenario: a session's limits are set when it is created "
                       "(memory_mb, pids)");
    return 0;
}

/* The session's environment under the cell's own. 0 or -ENOMEM. */
static int api_sess_cell_env(struct exec_req *req, json_t *sess_env)
{
    json_t *merged;

    if (!sess_env)
        return 0;
    merged = json_deep_copy(sess_env);
    if (!merged || (req->env && json_object_update(merged, req->env) < 0) ||
        json_object_set_new(req->root, "env", merged) < 0)
        return -ENOMEM;
    req->env = merged;
    return 0;
}

static enum MHD_Result api_sess_execute(struct api_sess *as, struct http_req *r, const char *id)
{
    struct exec_req req;
    struct sess_cell c = {0};
    struct api_sess_req *q;
    struct err e = {0};
    const char *body;
    long keepalive_ms;
    size_t len;
    int sse;

    if (!(body = http_req_body(r, &len)))
        return http_req_too_large(r);
    if ((sse = http_stream_wanted(r, &keepalive_ms, &e)) < 0 ||
        exec_req_parse(body, len, as->lim, &req, &e) < 0)
        return http_req_err(r, &e);
    if (api_sess_cell_check(&req, &e) < 0 || sess_mgr_begin_cell(as->sm, id, &c, &e) < 0) {
        exec_req_done(&req);
        return api_sess_err(as, r, id, &e);
    }
    req.session_no = c.no;
    snprintf(req.session_id, sizeof(req.session_id), "%s", c.workspace);
    req.execution_count = c.execution_count;
    req.session_memory_mb = c.memory_mb;
    req.policy = c.policy;
    if (api_sess_cell_env(&req, c.env) < 0 || !(q = api_sess_attach(as, r, id))) {
        json_decref(c.env);
        exec_req_done(&req);
        sess_mgr_end_cell(as->sm, id);
        return http_req_json_take(r, 0, NULL);
    }
    json_decref(c.env);
    if (exec_mgr_submit_take(as->mgr, &req, &q->ex, &e) < 0) {
        sess_mgr_end_cell(as->sm, id);
        return http_req_err(r, &e);
    }
    sess_mgr_cell_started(as->sm, id, exec_seq(q->ex));
    if (sse)
        return exec_sse_start(as->mgr, r, q->ex, id, keepalive_ms);
    if (exec_mgr_set_waiter(as->mgr, q->ex, api_sess_wake, r, 0))
        return api_sess_reply_cell(r);
    return http_req_suspend(r, api_sess_reply_cell);
}

static enum MHD_Result api_sess_interrupt(struct api_sess *as, struct http_req *r, const char *id)
{
    struct err e = {0};
    int rc = sess_mgr_interrupt(as->sm, id, &e);

    if (rc < 0)
        return api_sess_err(as, r, id, &e);
    return http_req_json_take(r, MHD_HTTP_OK,
                              json_pack("{s:s, s:b}", "session_id", id, "interrupted", rc == 1));
}

/* Opens the session's workspace for a file operation: its directory fd and owner. */
static int api_sess_ws(struct api_sess *as, const char *id, int *root, uid_t *uid, struct err *e)
{
    char ws[SESS_ID_MAX], dir[512];
    pid_t pid;
    int rc = sess_mgr_workspace(as->sm, id, &pid, ws, uid, e);

    if (rc < 0)
        return rc;
    snprintf(dir, sizeof(dir), "%s/%s", as->cfg->work_dir, ws);
    return ws_files_open_root(pid, dir, *uid, root, e);
}

static enum MHD_Result api_sess_file_get(struct api_sess *as, struct http_req *r,
                                         const struct sess_route *rt)
{
    struct err e = {0};
    struct stat st;
    int root = -1, fd = -1;
    uid_t uid;
    enum MHD_Result res;

    if (api_sess_ws(as, rt->id, &root, &uid, &e) < 0 ||
        ws_files_get(root, rt->path, &fd, &st, &e) < 0) {
        if (root >= 0)
            close(root);
        return api_sess_err(as, r, rt->id, &e);
    }
    close(root);
    res = http_req_fd_take(r, MHD_HTTP_OK, fd, (uint64_t)st.st_size, ws_files_mime(rt->path));
    return res;
}

static enum MHD_Result api_sess_file_put(struct api_sess *as, struct http_req *r,
                                         const struct sess_route *rt)
{
    struct err e = {0};
    const char *body;
    size_t len = 0;
    int root = -1, rc;
    uid_t uid;

    if (!(body = http_req_body(r, &len)))
        return http_req_too_large(r);
    if ((rc = api_sess_ws(as, rt->id, &root, &uid, &e)) == 0)
        rc = ws_files_put(root, rt->path, body, len, uid, uid, API_SESS_WS_BYTES(as->cfg), &e);
    if (root >= 0)
        close(root);
    if (rc < 0)
        return api_sess_err(as, r, rt->id, &e);
    return http_req_json_take(r, MHD_HTTP_CREATED,
                              json_pack("{s:s, s:I}", "path", rt->path, "size", (json_int_t)len));
}

static enum MHD_Result api_sess_file_delete(struct api_sess *as, struct http_req *r,
                                            const struct sess_route *rt)
{
    struct err e = {0};
    int root = -1, rc;
    uid_t uid;

    if ((rc = api_sess_ws(as, rt->id, &root, &uid, &e)) == 0)
        rc = ws_files_delete(root, rt->path, &e);
    if (root >= 0)
        close(root);
    if (rc < 0)
        return api_sess_err(as, r, rt->id, &e);
    return http_req_json_take(r, MHD_HTTP_OK,
                              json_pack("{s:s, s:b}", "path", rt->path, "deleted", 1));
}

static enum MHD_Result api_sess_files(struct api_sess *as, struct http_req *r, const char *id)
{
    const char *dir = http_req_query(r, "path");
    struct err e = {0};
    json_t *o = NULL;
    int root = -1;
    uid_t uid;

    if (api_sess_ws(as, id, &root, &uid, &e) == 0)
        o = ws_files_list(root, dir && dir[0] ? dir : ".", 10000, &e);
    if (root >= 0)
        close(root);
    if (!o)
        return api_sess_err(as, r, id, &e);
    return http_req_json_take(r, MHD_HTTP_OK, o);
}

enum MHD_Result api_sess_route(struct api_sess *as, struct http_req *r)
{
    const char *url = http_req_url(r);
    struct sess_route *rt = malloc(sizeof(*rt));
    struct err e = {0};
    enum MHD_Result res;
    json_t *o;
    int rc;

    if (!rt)
        return http_req_json_take(r, 0, NULL);
    rc = sess_route_parse(http_req_method(r), url, strlen(url), rt);
    if (rc == -EPERM) {
        struct route_match m = {0};

        snprintf(m.allow, sizeof(m.allow), "%s", rt->allow);
        m.method_ok = false;
        free(rt);
        return http_req_unrouted(r, -EPERM, &m);
    }
    if (rc == -EINVAL || rc == -ENOENT || rc == -ENAMETOOLONG) {
        res = rc == -ENAMETOOLONG
                  ? http_req_error(r, ERR_INVALID, "path", "the file path is too long")
              : rc == -EINVAL
                  ? http_req_error(r, ERR_NOT_FOUND, "session_id", "no session %s on this agent",
                                   rt->id)
                  : http_req_error(r, ERR_NOT_FOUND, NULL, "no such endpoint under /sessions");
        free(rt);
        return res;
    }
    switch (rt->op) {
    case SESS_R_LIST:
        res = http_req_json_take(r, MHD_HTTP_OK, sess_mgr_list(as->sm));
        break;
    case SESS_R_CREATE:
        res = api_sess_create(as, r);
        break;
    case SESS_R_GET:
        o = sess_mgr_get(as->sm, rt->id, &e);
        res = o ? http_req_json_take(r, MHD_HTTP_OK, o) : api_sess_err(as, r, rt->id, &e);
        break;
    case SESS_R_DELETE:
        res = api_sess_delete(as, r, rt->id);
        break;
    case SESS_R_EXECUTE:
        res = api_sess_execute(as, r, rt->id);
        break;
    case SESS_R_FORK:
        res = api_sess_fork(as, r, rt->id);
        break;
    case SESS_R_INTERRUPT:
        res = api_sess_interrupt(as, r, rt->id);
        break;
    case SESS_R_FILES:
        res = api_sess_files(as, r, rt->id);
        break;
    case SESS_R_FILE_GET:
        res = api_sess_file_get(as, r, rt);
        break;
    case SESS_R_FILE_PUT:
        res = api_sess_file_put(as, r, rt);
        break;
    case SESS_R_FILE_DELETE:
        res = api_sess_file_delete(as, r, rt);
        break;
    default:
        res = http_req_error(r, ERR_NOT_FOUND, NULL, "no such endpoint under /sessions");
        break;
    }
    free(rt);
    return res;
}
