/* kernel_mgr.c - kernels and their REST endpoints (see kernel_mgr.h): the table, sessions,
 * create, restart, delete, interrupt, and the hand-over of HTTP requests to the hub thread. */
#include "kernel_mgr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_util.h"
#include "kernel_int.h"
#include "kernel_route.h"
#include "sess_opts.h"
#include "ws_handshake.h"

#define KERNEL_NAME "python3"

struct kernel *kernel_find(struct kernel_mgr *km, const char *id)
{
    for (struct kernel *k = km->kernels; k; k = k->next) {
        if (!strcmp(k->id, id))
            return k;
    }
    return NULL;
}

static const char *kernel_state_name(enum kernel_state s)
{
    static const char *const names[] = {"starting", "idle", "busy", "dead"};

    return names[s];
}

/* The Kernel Gateway's kernel model: new reference. */
static json_t *kernel_model(const struct kernel *k)
{
    char when[32];
    struct tm tm;

    gmtime_r(&k->last_activity, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", k->id, "name", KERNEL_NAME, "last_activity",
                     when, "execution_state", kernel_state_name(k->state), "connections",
                     (json_int_t)k->nconns);
}

/* GET /api/kernelspecs's python3 entry: new reference. */
static json_t *kernel_spec(void)
{
    return json_pack("{s:s, s:{s:s, s:s, s:[s, s, s, s, s], s:{}, s:s, s:{}}, s:{}}", "name",
                     KERNEL_NAME, "spec", "display_name", "Python 3 (sandpit)", "language",
                     "python", "argv", "python3", "-m", "ipykernel_launcher", "-f",
                     "{connection_file}", "env", "interrupt_mode", "signal", "metadata",
                     "resources");
}

/* ---------------------------------------------------------------- the hub thread's side */

static void kernel_call_done(struct kcall *c)
{
    http_req_wake(c->r);
}

static void kernel_call_fail(struct kcall *c, int code, const char *what, const char *arg)
{
    err_set(&c->err, code, code == ERR_NOT_FOUND ? "kernel_id" : NULL, "%s%s", what, arg);
    c->status = 0;
    kernel_call_done(c);
}

void kernel_maybe_free(struct kernel *k)
{
    if (!k->deleted || k->pending > 0 || k->ex || atomic_load(&k->live_posted))
        return;
    kernel_chan_done(k);
    free(k);
}

/* Answers the calls waiting for k's session: up (201 create, 200 restart) or not. */
static void kernel_answer_waiting(struct kernel *k, const char *failed)
{
    while (k->waiting) {
        struct kcall *c = k->waiting;

        k->waiting = c->next;
        if (failed) {
            kernel_call_fail(c, ERR_UNAVAILABLE, "the kernel could not start: ", failed);
            continue;
        }
        c->status = c->op == KR_CREATE ? 201 : 200;
        c->reply = kernel_model(k);
        kernel_call_done(c);
    }
}

static void kernel_up_task(void *arg)
{
    struct kernel *k = arg;
    struct err e = {0};
    json_t *o;
    const char *state;

    k->pending--;
    if (k->deleted) {
        kernel_maybe_free(k);
        return;
    }
    o = sess_mgr_get(k->km->sm, k->sess, &e);
    state = json_string_value(json_object_get(o, "state"));
    if (state && !strcmp(state, "starting")) { /* an earlier session's news */
        json_decref(o);
        return;
    }
    if (!o || !strcmp(state, "dead")) {
        const char *why = o ? json_string_value(json_object_get(o, "reason")) : e.msg;

        k->state = KS_DEAD;
        kernel_answer_waiting(k, why ? why : "its session ended");
        kernel_iopub(k, "status", NULL, kmsg_status("dead"));
        kernel_abort_queue(k);
        json_decref(o);
        return;
    }
    json_decref(o);
    if (k->state == KS_STARTING)
        k->state = KS_IDLE;
    kernel_answer_waiting(k, NULL);
    kernel_iopub(k, "status", NULL, kmsg_status("idle"));
    kernel_pump(k);
}

/* The session manager's callback (its thread): on to the hub. */
static void kernel_sess_cb(void *arg)
{
    struct kernel *k = arg;

    if (ws_hub_post(k->km->hub, kernel_up_task, k) < 0)
        k->pending--; /* the hub is stopping: nobody will look at k again but its free */
}

int kernel_start_session(struct kernel *k, struct err *e)
{
    struct sess_opts o = {0};
    json_t *empty = json_object();
    int rc = empty ? sess_opts_parse(k->km->cfg, empty, &o, e) : -ENOMEM;

    if (rc == 0)
        rc = sess_mgr_create(k->km->sm, &o, k->sess, e);
    json_decref(empty);
    if (rc < 0)
        return rc;
    k->state = KS_STARTING;
    k->count = 0;
    k->pending++;
    if (sess_mgr_wait(k->km->sm, k->sess, false, kernel_sess_cb, k)) {
        k->pending--;
        return ws_hub_post(k->km->hub, kernel_up_task, k) == 0 ? (k->pending++, 0) : -ESHUTDOWN;
    }
    return 0;
}

static void kernel_create(struct kernel_mgr *km, struct kcall *c)
{
    const char *name = json_string_value(json_object_get(c->body, "name"));
    struct kernel *k;

    if (json_object_get(c->body, "name") && (!name || strcmp(name, KERNEL_NAME) != 0)) {
        kernel_call_fail(c, ERR_NOT_FOUND, "no such kernel spec (there is python3): ",
                         name ? name : "(not a string)");
        return;
    }
    k = calloc(1, sizeof(*k));
    if (!k || ids_uuid4(k->id) < 0 || ids_uuid4(k->session) < 0) {
        free(k);
        kernel_call_fail(c, ERR_BUSY, "out of memory", "");
        return;
    }
    k->km = km;
    k->sock = k->child_sock = -1;
    k->last_activity = time(NULL);
    buf_init(&k->rec, KERNEL_REC_MAX + 5);
    if (kernel_start_session(k, &c->err) < 0) {
        buf_done(&k->rec);
        free(k);
        c->status = 0;
        kernel_call_done(c);
        return;
    }
    k->next = km->kernels;
    km->kernels = k;
    atomic_fetch_add(&km->live, 1);
    c->next = k->waiting;
    k->waiting = c;
}

static void kernel_delete(struct kernel_mgr *km, struct kernel *k)
{
    for (struct kernel **pp = &km->kernels; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    atomic_fetch_sub(&km->live, 1);
    k->deleted = true;
    kernel_answer_waiting(k, "the kernel was deleted");
    kernel_close_conns(k, "the kernel was deleted");
    (void)sess_mgr_kill(km->sm, k->sess, NULL);
    kernel_maybe_free(k);
}

/* POST .../restart: a fresh session under the same id; the WebSockets stay open. */
static void kernel_restart(struct kernel *k, struct kcall *c)
{
    (void)sess_mgr_kill(k->km->sm, k->sess, NULL);
    kernel_iopub(k, "status", NULL, kmsg_status("restarting"));
    if (kernel_start_session(k, &c->err) < 0) {
        k->state = KS_DEAD;
        c->status = 0;
        kernel_call_done(c);
        return;
    }
    c->next = k->waiting;
    k->waiting = c;
}

static void kernel_call_task(void *arg)
{
    struct kcall *c = arg;
    struct kernel_mgr *km = c->km;
    struct kernel *k = c->op == KR_LIST || c->op == KR_CREATE ? NULL : kernel_find(km, c->id);
    json_t *list;

    if (c->op != KR_LIST && c->op != KR_CREATE && !k) {
        kernel_call_fail(c, ERR_NOT_FOUND, "no kernel ", c->id);
        return;
    }
    switch (c->op) {
    case KR_LIST:
        list = json_array();
        for (k = km->kernels; k && list; k = k->next)
            json_array_append_new(list, kernel_model(k));
        c->status = 200;
        c->reply = list;
        break;
    case KR_CREATE:
        kernel_create(km, c);
        return;
    case KR_GET:
        c->status = 200;
        c->reply = kernel_model(k);
        break;
    case KR_DELETE:
        kernel_delete(km, k);
        c->status = 204;
        break;
    case KR_INTERRUPT:
        (void)sess_mgr_interrupt(km->sm, k->sess, NULL);
        c->status = 204;
        break;
    case KR_RESTART:
        kernel_restart(k, c);
        return;
    case KR_CHANNELS:
        c->status = k->state == KS_DEAD ? 0 : 101;
        if (!c->status)
            err_set(&c->err, ERR_GONE, NULL, "kernel %s is dead: restart or delete it", k->id);
        break;
    }
    kernel_call_done(c);
}

/* ---------------------------------------------------------------- the HTTP threads' side */

static void kernel_call_free(struct http_req *r, void *data)
{
    struct kcall *c = data;

    (void)r;
    json_decref(c->body);
    json_decref(c->reply);
    free(c);
}

/* The upgraded channel: over to the hub (MHD thread). */
static void kernel_upgraded(struct http_req *r, struct http_upgraded *u, int fd, const char *extra,
                            size_t extra_len)
{
    struct kcall *c = http_req_data(r);
    void *arg = kernel_open_arg(c->km, c->id);

    if (!arg) {
        http_upgraded_close(u);
        return;
    }
    ws_hub_attach(c->km->hub, u, fd, extra, extra_len, &kernel_chan_ops, arg);
}

static enum MHD_Result kernel_upgrade(struct http_req *r)
{
    char accept[WS_HANDSHAKE_ACCEPT_LEN + 1];
    const char *headers[] = {
        "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", accept, NULL};

    if (ws_handshake_accept(http_req_header(r, "Sec-WebSocket-Key"), accept, sizeof(accept)) < 0)
        return http_req_error(r, ERR_INVALID, "Sec-WebSocket-Key", "a bad WebSocket key");
    return http_req_upgrade(r, headers, kernel_upgraded);
}

static enum MHD_Result kernel_call_reply(struct http_req *r)
{
    struct kcall *c = http_req_data(r);
    json_t *reply = c->reply;
    char *none;

    c->reply = NULL;
    if (c->status == 101)
        return kernel_upgrade(r);
    if (c->status == 204) {
        none = malloc(1);
        return http_req_bytes_take(r, 204, none, 0, "application/json");
    }
    if (c->status)
        return http_req_json_take(r, c->status, reply);
    json_decref(reply);
    return http_req_err(r, &c->err);
}

/* The WebSocket handshake's checks before anything is looked up. */
static enum MHD_Result kernel_check_upgrade(struct http_req *r, bool *ok)
{
    const char *why = NULL;
    int rc = ws_handshake_check(
        http_req_method(r), http_req_header(r, "Upgrade"), http_req_header(r, "Connection"),
        http_req_header(r, "Sec-WebSocket-Version"), http_req_header(r, "Sec-WebSocket-Key"), &why);

    *ok = rc == 0;
    if (rc == 0)
        return MHD_YES;
    return http_req_error(r, ERR_INVALID, rc == -EPROTONOSUPPORT ? "Sec-WebSocket-Version" : NULL,
                          "%s", why);
}

/* Hands the request to the hub thread and suspends it. */
static enum MHD_Result kernel_call(struct kernel_mgr *km, struct http_req *r, int op,
                                   const char *id, json_t *body)
{
    struct kcall *c = calloc(1, sizeof(*c));

    if (!c) {
        json_decref(body);
        return http_req_json_take(r, 0, NULL);
    }
    *c = (struct kcall){.km = km, .r = r, .op = op, .body = body};
    snprintf(c->id, sizeof(c->id), "%.36s", id); /* a UUID (route_table checked) or "" */
    http_req_set_data(r, c, kernel_call_free);
    if (ws_hub_post(km->hub, kernel_call_task, c) < 0)
        return http_req_error(r, ERR_UNAVAILABLE, NULL, "the agent is stopping");
    return http_req_suspend(r, kernel_call_reply);
}

static enum MHD_Result kernel_specs(struct http_req *r, int op, const char *name)
{
    json_t *spec = kernel_spec();

    if (op == KR_SPEC && strcmp(name, KERNEL_NAME) != 0) {
        json_decref(spec);
        return http_req_error(r, ERR_NOT_FOUND, "kernel_name",
                              "no kernel spec '%s' (there is python3)", name);
    }
    if (op == KR_SPEC)
        return http_req_json_take(r, 200, spec);
    return http_req_json_take(
        r, 200,
        spec ? json_pack("{s:s, s:{s:o}}", "default", KERNEL_NAME, "kernelspecs", KERNEL_NAME, spec)
             : NULL);
}

enum MHD_Result kernel_mgr_route(struct kernel_mgr *km, struct http_req *r)
{
    const char *url = http_req_url(r);
    struct route_match m;
    struct err e = {0};
    json_t *body = NULL;
    const char *text;
    size_t len = 0;
    int rc = kernel_route_parse(http_req_method(r), url, strlen(url), &m);
    bool ok;

    if (rc == -EINVAL && m.method_ok)
        return m.id == KR_SPEC
                   ? http_req_error(r, ERR_NOT_FOUND, "kernel_name",
                                    "no kernel spec '%s' (there is python3)", m.arg)
                   : http_req_error(r, ERR_NOT_FOUND, "kernel_id", "no kernel %s", m.arg);
    if (rc < 0)
        return http_req_unrouted(r, rc == -EINVAL ? -EPERM : rc, &m);
    if (m.id == KR_SPECS || m.id == KR_SPEC)
        return kernel_specs(r, m.id, m.arg);
    if (m.id == KR_CHANNELS) {
        enum MHD_Result res = kernel_check_upgrade(r, &ok);

        if (!ok)
            return res;
    }
    if (m.id == KR_CREATE) {
        if (!(text = http_req_body(r, &len)))
            return http_req_too_large(r);
        body = len ? json_util_parse_object(text, len, &e) : json_object();
        if (!body)
            return http_req_err(r, &e);
    }
    return kernel_call(km, r, m.id, m.arg, body);
}

json_t *kernel_mgr_health(struct kernel_mgr *km)
{
    return json_pack("{s:I, s:I}", "live", (json_int_t)atomic_load(&km->live), "connections",
                     (json_int_t)ws_hub_count(km->hub));
}

struct kernel_mgr *kernel_mgr_new(const struct agent_cfg *cfg, struct exec_mgr *mgr,
                                  struct sess_mgr *sm, const struct exec_limits *lim, struct err *e)
{
    struct kernel_mgr *km = calloc(1, sizeof(*km));

    if (!km) {
        err_set(e, ERR_BUSY, "", "out of memory");
        return NULL;
    }
    *km = (struct kernel_mgr){.cfg = cfg, .mgr = mgr, .sm = sm, .lim = lim};
    snprintf(km->python, sizeof(km->python), "3.11");
    km->hub = ws_hub_new(KERNEL_MAX_MSG, KERNEL_MAX_QUEUED, e);
    if (!km->hub) {
        free(km);
        return NULL;
    }
    return km;
}

void kernel_mgr_free(struct kernel_mgr *km)
{
    if (!km)
        return;
    ws_hub_free(km->hub); /* the channels' on_close run, the posted tasks too */
    while (km->kernels) {
        struct kernel *k = km->kernels;

        km->kernels = k->next;
        if (k->ex) {
            exec_mgr_clear_waiter(km->mgr, k->ex, k);
            exec_unref(k->ex);
            k->ex = NULL;
        }
        kernel_chan_done(k);
        free(k);
    }
    free(km);
}
