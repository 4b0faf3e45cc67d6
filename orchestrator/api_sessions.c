/* api_sessions.c - sessions in the /api/v1 dialect (docs/orchestrator.md "Sessions"): each
 * route is proxied to the agent holding the session (sessions.c maps our ids to it), the
 * agent's status and body passed through with its session ids replaced by ours; our own
 * errors (unknown id, a gone agent) in the orchestrator's error shape.
 *
 * A request hands its agent call(s) to the dispatcher and suspends; the completion (upstream
 * loop thread) only wakes it, and api_sess_resume builds the reply on an MHD thread, so file
 * downloads go back as raw bytes with the agent's Content-Type. */
#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_client.h"
#include "api_int.h"
#include "clock.h"
#include "log.h"
#include "sessions_route.h"
#include "strx.h"

#define API_SESS_CALL_MS 60000 /* an agent call but a cell: create, fork, files, ... */
#define API_SESS_LIST_MS 10000 /* one agent's GET /sessions for a listing */
#define API_SESS_LANG    "python"

#define API_SESS_GONE_RESTARTED "the agent holding this session restarted: its state is gone"
#define API_SESS_GONE_REPLACED                                                                     \
    "the agent holding this session was restarted or stopped: its state is gone"
#define API_SESS_GONE_SILENT                                                                       \
    "the agent holding this session no longer listens (its process is gone): its state is gone"
#define API_SESS_GONE_UNKNOWN                                                                      \
    "the agent holding this session no longer knows it (it restarted or ended it): its state "     \
    "is gone"

/* One request on a session route (attached to it). */
struct api_sess {
    struct api *a;
    struct http_req *r;
    struct sessions_route rt;
    struct sessions_entry e; /* the session addressed (not for create and list) */
    int owner;               /* api_owner of r */
    struct dcall *dc;        /* the answered call (all but list) */
    /* list: one GET /sessions per agent holding one of the caller's sessions */
    struct sessions_entry *list; /* the caller's live sessions (owned) */
    size_t n_list;
    struct dcall **calls; /* [n_calls], owned */
    int n_calls;
    atomic_int pending; /* calls not answered yet */
    int64_t started_ns; /* monotonic: before the listing's calls went out */
};

static void api_sess_free(struct http_req *r, void *data)
{
    struct api_sess *s = data;

    (void)r;
    dcall_free(s->dc);
    for (int i = 0; i < s->n_calls; i++)
        dcall_free(s->calls[i]);
    free(s->calls);
    free(s->list);
    free(s);
}

/* 410 gone for session id, reason in the message and as "reason". */
static enum MHD_Result api_sess_gone_reply(struct http_req *r, const char *id, const char *reason)
{
    char msg[SESSIONS_REASON_MAX + 64];
    json_t *b;

    snprintf(msg, sizeof(msg), "session '%s' is gone: %s", id, reason);
    b = http_req_error_body(r, ERR_GONE, "session_id", msg);
    if (b && (json_object_set_new(b, "session_id", json_string(id)) < 0 ||
              json_object_set_new(b, "reason", json_string(reason)) < 0)) {
        json_decref(b);
        b = NULL;
    }
    return http_req_json_take(r, err_http_status(ERR_GONE), b);
}

/* Marks the addressed session gone and answers 410. */
static enum MHD_Result api_sess_gone(struct api_sess *s, const char *reason)
{
    sessions_mark_gone(s->a->sessions, s->e.id, reason, clock_mono_ns());
    log_msg(LOG_INFO, http_req_id(s->r), "session %s on agent %d is gone: %s", s->e.id, s->e.agent,
            reason);
    return api_sess_gone_reply(s->r, s->e.id, reason);
}

/* Whether e's agent is still the process that made it: true with its URL in url; else false
 * with why (static). */
static bool api_sess_holder(struct api *a, const struct sessions_entry *e, char *url, size_t cap,
                            const char **why)
{
    struct registry *reg = a->reg;
    bool ok = false;

    pthread_mutex_lock(&reg->lock);
    if (e->agent < 0 || e->agent >= reg->n || reg->agents[e->agent].gen != e->gen ||
        !reg->agents[e->agent].url[0] || reg->agents[e->agent].state == AGENT_STOPPED) {
        *why = API_SESS_GONE_REPLACED;
    } else if (reg->agents[e->agent].epoch != e->epoch) {
        *why = API_SESS_GONE_RESTARTED;
    } else {
        strx_copy(url, cap, reg->agents[e->agent].url);
        ok = true;
    }
    pthread_mutex_unlock(&reg->lock);
    return ok;
}

/* The agent for a new session: the healthy python agent holding the fewest of our sessions,
 * then the least loaded; -1 when none is up (the dispatcher then waits for one). */
static int api_sess_pick(struct api *a, unsigned *gen)
{
    int counts[REGISTRY_MAX_AGENTS] = {0}, best = -1;
    struct registry *reg = a->reg;

    sessions_count_by_agent(a->sessions, counts, REGISTRY_MAX_AGENTS);
    pthread_mutex_lock(&reg->lock);
    for (int i = 0; i < reg->n; i++) {
        const struct agent *ag = &reg->agents[i];

        if (ag->state != AGENT_UP || !ag->url[0] || !registry_agent_serves(ag, API_SESS_LANG))
            continue;
        if (best < 0 || counts[i] < counts[best] ||
            (counts[i] == counts[best] && ag->in_flight < reg->agents[best].in_flight))
            best = i;
    }
    if (best >= 0)
        *gen = reg->agents[best].gen;
    pthread_mutex_unlock(&reg->lock);
    return best;
}

static void api_sess_done(struct dcall *dc)
{
    struct api_sess *s = dc->arg;

    s->dc = dc;
    http_req_wake(s->r);
}

static void api_sess_list_done(struct dcall *dc)
{
    struct api_sess *s = dc->arg;

    if (atomic_fetch_sub(&s->pending, 1) == 1)
        http_req_wake(s->r);
}

/* A call to the session's agent (or, agent < 0, to any python agent). New, or NULL on OOM. */
static struct dcall *api_sess_dcall(struct api_sess *s, int agent, unsigned gen, const char *method,
                                    long timeout_ms, dcall_done_fn done)
{
    struct dcall *dc = dcall_new();

    if (!dc)
        return NULL;
    strx_copy(dc->lang, sizeof(dc->lang), API_SESS_LANG);
    dc->agent = agent;
    dc->agent_gen = gen;
    dc->may_wait = agent < 0;
    dc->method = method;
    dc->timeout_ms = timeout_ms;
    strx_copy(dc->req_id, sizeof(dc->req_id), http_req_id(s->r));
    dc->owner = s->owner;
    dc->done = done;
    dc->arg = s;
    return dc;
}

/* Copies the request body into dc (POST: "{}" when empty; PUT: raw, with its Content-Type).
 * 0, -ENOMEM, or -E2BIG when it went past the cap. */
static int api_sess_body(struct api_sess *s, struct dcall *dc)
{
    size_t len = 0;
    const char *body = http_req_body(s->r, &len), *ctype;

    if (!body)
        return -E2BIG;
    if (!strcmp(dc->method, "POST") && len == 0) {
        body = "{}";
        len = 2;
    }
    if (!strcmp(dc->method, "PUT")) {
        ctype = http_req_header(s->r, "Content-Type");
        strx_copy(dc->body_type, sizeof(dc->body_type),
                  ctype && *ctype ? ctype : "application/octet-stream");
    }
    dc->body = malloc(len + 1);
    if (!dc->body)
        return -ENOMEM;
    memcpy(dc->body, body, len);
    dc->body[len] = '\0';
    dc->body_len = len;
    return 0;
}

/* How long a cell may keep its agent: the body's timeout (when it has one) plus a margin. */
static long api_sess_exec_ms(struct api_sess *s, const struct dcall *dc)
{
    json_t *o = json_loadb(dc->body, dc->body_len, JSON_ALLOW_NUL, NULL);
    json_t *t = json_object_get(o, "timeout");
    double timeout = json_is_number(t) ? json_number_value(t) : 0;

    json_decref(o);
    return agent_client_wait_ms(s->a->cfg, timeout, 0);
}

static enum MHD_Result api_sess_resume(struct http_req *r);

/* Hands dc to the dispatcher and suspends the request. */
static enum MHD_Result api_sess_submit(struct api_sess *s, struct dcall *dc)
{
    if (dispatch_submit(s->a->d, dc) < 0) {
        s->dc = NULL;
        dcall_free(dc);
        return http_req_error(s->r, ERR_SHUTTING_DOWN, NULL, "the orchestrator is shutting down");
    }
    return http_req_suspend(s->r, api_sess_resume);
}

/* Every route but list: one call to the agent. */
static enum MHD_Result api_sess_call(struct api_sess *s)
{
    static const char *const methods[] = {
        [SESSIONS_OP_CREATE] = "POST",        [SESSIONS_OP_GET] = "GET",
        [SESSIONS_OP_DELETE] = "DELETE",      [SESSIONS_OP_EXECUTE] = "POST",
        [SESSIONS_OP_FORK] = "POST",          [SESSIONS_OP_INTERRUPT] = "POST",
        [SESSIONS_OP_FILE_PUT] = "PUT",       [SESSIONS_OP_FILE_GET] = "GET",
        [SESSIONS_OP_FILE_DELETE] = "DELETE", [SESSIONS_OP_FILE_LIST] = "GET",
    };
    const char *method = methods[s->rt.op], *why = NULL;
    char url[REGISTRY_URL_MAX];
    struct dcall *dc;
    unsigned gen = 0;
    int agent, rc = 0;

    if (s->rt.file && !sessions_route_file_ok(s->rt.file, s->rt.file_len))
        return http_req_error(s->r, ERR_INVALID, "path",
                              "the path must stay inside the workspace ('..' is refused)");
    if (s->rt.op == SESSIONS_OP_CREATE) {
        agent = api_sess_pick(s->a, &gen);
    } else {
        if (sessions_get(s->a->sessions, s->rt.id, s->owner, &s->e) < 0)
            return http_req_error(s->r, ERR_NOT_FOUND, "session_id", "no session '%s'", s->rt.id);
        if (s->e.gone)
            return api_sess_gone_reply(s->r, s->e.id, s->e.reason);
        if (!api_sess_holder(s->a, &s->e, url, sizeof(url), &why))
            return api_sess_gone(s, why);
        agent = s->e.agent;
        gen = s->e.gen;
    }
    dc = api_sess_dcall(s, agent, gen, method, API_SESS_CALL_MS, api_sess_done);
    if (!dc)
        return http_req_error(s->r, ERR_BUSY, NULL, "out of memory, retry");
    s->dc = dc; /* freed with s until submitted */
    rc = sessions_route_agent_path(&s->rt, s->e.agent_sid, http_req_query(s->r, "path"), dc->path,
                                   sizeof(dc->path));
    if (rc < 0)
        return http_req_error(s->r, ERR_INVALID, "path", "the file path is too long");
    if (!strcmp(method, "POST") || !strcmp(method, "PUT"))
        rc = api_sess_body(s, dc);
    if (rc == -E2BIG)
        return http_req_too_large(s->r);
    if (rc < 0)
        return http_req_error(s->r, ERR_BUSY, NULL, "out of memory, retry");
    if (s->rt.op == SESSIONS_OP_EXECUTE)
        dc->timeout_ms = api_sess_exec_ms(s, dc);
    s->dc = NULL; /* the dispatcher's until done hands it back */
    return api_sess_submit(s, dc);
}

/* Records the session a create or fork answered (obj: the agent's object, borrowed) and
 * rewrites obj. 0, or -code with e set. */
static int api_sess_record(struct api_sess *s, json_t *obj, struct err *e)
{
    const char *sid = json_string_value(json_object_get(obj, "session_id"));
    struct sessions_entry t = {0}, made;
    struct registry *reg = s->a->reg;
    int rc;

    if (!sid || !*sid || strlen(sid) >= sizeof(t.agent_sid))
        return err_set(e, ERR_AGENT_FAILED, "", "agent %s answered a session without a usable id",
                       s->dc->agent_url);
    strx_copy(t.agent_sid, sizeof(t.agent_sid), sid);
    if (s->rt.op == SESSIONS_OP_FORK)
        strx_copy(t.parent, sizeof(t.parent), s->e.id);
    t.agent = s->dc->answered_by;
    t.gen = s->dc->answered_gen;
    t.owner = s->owner;
    pthread_mutex_lock(&reg->lock);
    t.epoch = reg->agents[t.agent].epoch;
    pthread_mutex_unlock(&reg->lock);
    rc = sessions_add(s->a->sessions, &t, clock_mono_ns(), &made);
    if (rc < 0) {
        /* The agent holds a session nobody can reach: its idle timeout will end it. */
        log_msg(LOG_WARN, http_req_id(s->r), "session %s on %s not recorded (%d), left to idle out",
                sid, s->dc->agent_url, rc);
        if (rc == -ERR_BUSY)
            return err_set(e, ERR_BUSY, "", "the orchestrator holds %d sessions already",
                           SESSIONS_MAX);
        return err_set(e, ERR_BUSY, "", "out of memory, retry");
    }
    log_msg(LOG_INFO, http_req_id(s->r), "session %s is %s on agent %s", made.id, sid,
            s->dc->agent_url);
    s->e = made;
    if (sessions_rewrite(obj, &made, s->dc->agent_url) < 0)
        return err_set(e, ERR_BUSY, "", "out of memory, retry");
    (void)sessions_set_last(s->a->sessions, made.id, obj);
    return 0;
}

/* The reply to an agent's answer of status 2xx/4xx whose body is a JSON object (taken). */
static enum MHD_Result api_sess_object_reply(struct api_sess *s, json_t *obj)
{
    struct dcall *dc = s->dc;
    bool made =
        dc->status == 201 && (s->rt.op == SESSIONS_OP_CREATE || s->rt.op == SESSIONS_OP_FORK);
    const char *state = json_string_value(json_object_get(obj, "state"));
    const char *reason = json_string_value(json_object_get(obj, "reason"));
    struct err e = {0};

    if (made && api_sess_record(s, obj, &e) < 0) {
        json_decref(obj);
        return http_req_err(s->r, &e);
    }
    if (made)
        return http_req_json_take(s->r, (unsigned)dc->status, obj);
    /* A cell's collected files: our download URLs, and who holds them. */
    if (s->rt.op == SESSIONS_OP_EXECUTE)
        api_files_note(s->a, dc, obj, obj);
    /* An object about this session (not the new one a fork made): ids are ours. */
    if (sessions_rewrite(obj, &s->e, dc->status < 300 ? dc->agent_url : NULL) < 0) {
        json_decref(obj);
        return http_req_error(s->r, ERR_BUSY, NULL, "out of memory, retry");
    }
    if (dc->status == 410) {
        sessions_mark_gone(s->a->sessions, s->e.id,
                           reason ? reason : "the agent says the session is gone", clock_mono_ns());
    } else if (s->rt.op == SESSIONS_OP_DELETE && dc->status == 200) {
        sessions_mark_gone(s->a->sessions, s->e.id, "the session was deleted", clock_mono_ns());
    } else if (s->rt.op == SESSIONS_OP_GET && dc->status == 200) {
        if (state && !strcmp(state, "dead"))
            sessions_mark_gone(s->a->sessions, s->e.id, reason ? reason : "the session died",
                               clock_mono_ns());
        else
            (void)sessions_set_last(s->a->sessions, s->e.id, obj);
    }
    return http_req_json_take(s->r, (unsigned)dc->status, obj);
}

/* True when a 404 of the agent is about a file of the session, not the session itself. */
static bool api_sess_file_404(const struct api_sess *s)
{
    struct agent_client_error ae;

    if (s->rt.op < SESSIONS_OP_FILE_PUT)
        return false;
    agent_client_error_read(s->dc->resp, s->dc->resp_len, &ae);
    return !strcmp(ae.field, "path");
}

/* Builds the reply of a single-call route from its answered call. MHD thread. */
static enum MHD_Result api_sess_reply(struct api_sess *s)
{
    struct dcall *dc = s->dc;
    bool pinned = s->rt.op != SESSIONS_OP_CREATE;
    struct err e = {0};
    json_t *obj;
    char *bytes;
    size_t len;

    if (dc->outcome == DCALL_AGENT_GONE && pinned)
        return api_sess_gone(s, API_SESS_GONE_REPLACED);
    if (dc->outcome == DCALL_AGENT_FAILED && pinned && dc->curl_code == CURLE_COULDNT_CONNECT)
        return api_sess_gone(s, API_SESS_GONE_SILENT);
    if (dc->outcome != DCALL_OK) {
        json_t *res = NULL;

        (void)agent_client_result(dc, &res, &e);
        json_decref(res);
        return http_req_err(s->r, &e);
    }
    if (pinned && dc->status == 404 && !api_sess_file_404(s))
        return api_sess_gone(s, API_SESS_GONE_UNKNOWN);
    obj = dc->status == 200 && s->rt.op == SESSIONS_OP_FILE_GET
              ? NULL
              : json_loadb(dc->resp ? dc->resp : "", dc->resp_len, JSON_ALLOW_NUL, NULL);
    if (json_is_object(obj))
        return api_sess_object_reply(s, obj);
    json_decref(obj);
    /* A download (or anything else that is not a JSON object): the agent's bytes as they are. */
    bytes = dc->resp ? dc->resp : strdup("");
    len = dc->resp ? dc->resp_len : 0;
    dc->resp = NULL;
    return http_req_bytes_take(s->r, (unsigned)dc->status, bytes, len,
                               dc->resp_type[0] ? dc->resp_type : "application/octet-stream");
}

/* The listing's object for one of the caller's sessions e, given its agent's answered
 * GET /sessions (call, NULL when none was made). New reference, or NULL on OOM. */
static json_t *api_sess_list_item(struct api_sess *s, const struct sessions_entry *e,
                                  const struct dcall *call, json_t *agent_list)
{
    char url[REGISTRY_URL_MAX] = "";
    const char *why = NULL;
    json_t *o = NULL, *v;
    size_t i;

    bool held = api_sess_holder(s->a, e, url, sizeof(url), &why);

    if (held && call && call->outcome == DCALL_OK && call->status == 200) {
        json_array_foreach(json_object_get(agent_list, "sessions"), i, v)
        {
            const char *sid = json_string_value(json_object_get(v, "session_id"));

            if (sid && !strcmp(sid, e->agent_sid)) {
                o = json_deep_copy(v);
                break;
            }
        }
        if (!o && e->added_ns < s->started_ns)
            why = "the agent no longer has this session (it ended or idled out): its state is "
                  "gone";
    } else if (held && call && call->outcome == DCALL_AGENT_GONE) {
        why = API_SESS_GONE_REPLACED;
    } else if (held && call && call->outcome == DCALL_AGENT_FAILED &&
               call->curl_code == CURLE_COULDNT_CONNECT) {
        why = API_SESS_GONE_SILENT;
    }
    if (o) {
        const char *st = json_string_value(json_object_get(o, "state"));

        if (st && !strcmp(st, "dead"))
            sessions_mark_gone(s->a->sessions, e->id,
                               json_string_value(json_object_get(o, "reason"))
                                   ?: "the session died",
                               clock_mono_ns());
        else
            (void)sessions_set_last(s->a->sessions, e->id, o);
    } else {
        /* Gone, or its agent could not say: the last known object, marked as such. */
        o = sessions_last(s->a->sessions, e->id);
        if (!o)
            o = json_pack("{s:s, s:o}", "session_id", e->agent_sid, "parent", json_null());
        if (o && why) {
            sessions_mark_gone(s->a->sessions, e->id, why, clock_mono_ns());
            json_object_set_new(o, "state", json_string("dead"));
            json_object_set_new(o, "reason", json_string(why));
        } else if (o) {
            json_object_set_new(o, "stale", json_true());
        }
    }
    if (o && sessions_rewrite(o, e, url[0] ? url : NULL) < 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Builds the listing once every agent answered. MHD thread. */
static enum MHD_Result api_sess_list_reply(struct api_sess *s)
{
    json_t *lists[REGISTRY_MAX_AGENTS] = {NULL}, *arr = json_array(), *out = NULL;

    for (int k = 0; k < s->n_calls; k++) {
        const struct dcall *c = s->calls[k];

        if (c->outcome == DCALL_OK && c->status == 200)
            lists[k] = json_loadb(c->resp ? c->resp : "", c->resp_len, JSON_ALLOW_NUL, NULL);
    }
    for (size_t i = 0; arr && i < s->n_list; i++) {
        const struct dcall *call = NULL;
        json_t *agent_list = NULL;

        for (int k = 0; k < s->n_calls; k++) {
            if (s->calls[k]->agent == s->list[i].agent &&
                s->calls[k]->agent_gen == s->list[i].gen) {
                call = s->calls[k];
                agent_list = lists[k];
            }
        }
        if (json_array_append_new(arr, api_sess_list_item(s, &s->list[i], call, agent_list)) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    for (int k = 0; k < s->n_calls; k++)
        json_decref(lists[k]);
    if (arr)
        out = json_pack("{s:o, s:I}", "sessions", arr, "total", (json_int_t)json_array_size(arr));
    return http_req_json_take(s->r, MHD_HTTP_OK, out);
}

/* GET /api/v1/sessions: the caller's sessions, each as its agent reports it now. */
static enum MHD_Result api_sess_list(struct api_sess *s)
{
    bool oom = false;
    int n = 0;

    s->list = sessions_list(s->a->sessions, s->owner, &s->n_list, &oom);
    if (oom)
        return http_req_error(s->r, ERR_BUSY, NULL, "out of memory, retry");
    s->calls = calloc(REGISTRY_MAX_AGENTS, sizeof(*s->calls));
    if (!s->calls)
        return http_req_error(s->r, ERR_BUSY, NULL, "out of memory, retry");
    for (size_t i = 0; i < s->n_list; i++) {
        bool have = false;

        for (int k = 0; k < n; k++)
            have |=
                s->calls[k]->agent == s->list[i].agent && s->calls[k]->agent_gen == s->list[i].gen;
        if (have || n == REGISTRY_MAX_AGENTS)
            continue;
        s->calls[n] = api_sess_dcall(s, s->list[i].agent, s->list[i].gen, "GET", API_SESS_LIST_MS,
                                     api_sess_list_done);
        if (!s->calls[n])
            return http_req_error(s->r, ERR_BUSY, NULL, "out of memory, retry");
        snprintf(s->calls[n]->path, sizeof(s->calls[n]->path), "/sessions");
        s->n_calls = ++n;
    }
    if (n == 0)
        return api_sess_list_reply(s);
    s->started_ns = clock_mono_ns();
    atomic_store(&s->pending, n);
    for (int k = 0; k < n; k++) {
        if (dispatch_submit(s->a->d, s->calls[k]) < 0) {
            s->calls[k]->outcome = DCALL_SHUTDOWN;
            if (atomic_fetch_sub(&s->pending, 1) == 1)
                http_req_wake(s->r);
        }
    }
    return http_req_suspend(s->r, api_sess_resume);
}

static enum MHD_Result api_sess_resume(struct http_req *r)
{
    struct api_sess *s = http_req_data(r);

    if (s->rt.op == SESSIONS_OP_LIST)
        return api_sess_list_reply(s);
    return api_sess_reply(s);
}

enum MHD_Result api_sessions(struct api *a, struct http_req *r)
{
    const char *url = http_req_url(r);
    struct route_match m = {0};
    struct sessions_route rt;
    struct api_sess *s;
    enum MHD_Result res;
    int rc = sessions_route_parse(http_req_method(r), url, strlen(url), &rt);

    if (rc == -EINVAL)
        return http_req_error(r, ERR_NOT_FOUND, "session_id",
                              "no session '%s' (session ids look like os-<32 hex digits>)", rt.id);
    if (rc < 0) {
        strx_copy(m.allow, sizeof(m.allow), rt.allow);
        return http_req_unrouted(r, rc, &m);
    }
    s = calloc(1, sizeof(*s));
    if (!s)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    s->a = a;
    s->r = r;
    s->rt = rt;
    s->owner = api_owner(a, r);
    http_req_set_data(r, s, api_sess_free);
    if ((rt.op == SESSIONS_OP_CREATE || rt.op == SESSIONS_OP_FORK) &&
        !api_key_session_ok(a, r, s->owner, &res))
        return res;
    if (rt.op == SESSIONS_OP_LIST)
        return api_sess_list(s);
    return api_sess_call(s);
}
