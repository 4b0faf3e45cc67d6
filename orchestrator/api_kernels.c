/* api_kernels.c - the Kernel Gateway subset through the orchestrator (docs/kernels.md "Through
 * the orchestrator"): /api/kernelspecs and /api/kernels REST proxied to the agent holding the
 * kernel (a new kernel goes where the dispatcher sends a python call: the least loaded healthy
 * agent), the agent's status and body passed through; kernels keep their agent's ids (UUIDs),
 * owned by the API key that made them (another key gets 404). The channels' WebSocket upgrade
 * is forwarded to that agent (ws_proxy.c) and the bytes copied both ways unchanged. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "dispatch.h"
#include "kernel_route.h"
#include "kernels.h"
#include "registry.h"
#include "strx.h"
#include "ws_handshake.h"
#include "ws_proxy.h"

#define API_KERN_LANG    "python"
#define API_KERN_CALL_MS 120000 /* a create or restart waits for a session to start */

/* One request on a kernel route (attached to it). */
struct api_kern {
    struct api *a;
    struct http_req *r;
    int op; /* kernel_route_id */
    char id[IDS_UUID_LEN + 1];
    int owner;
    struct kernels_entry e;
    struct dcall *dc;
    struct dcall *calls[REGISTRY_MAX_AGENTS]; /* list: one per agent holding the caller's */
    int n_calls;
    atomic_int pending;
    struct kernels_entry *list; /* the caller's kernels (owned) */
    size_t n_list;
    struct ws_proxy_dial dial; /* channels */
};

static void api_kern_free(struct http_req *r, void *data)
{
    struct api_kern *s = data;

    (void)r;
    dcall_free(s->dc);
    for (int i = 0; i < s->n_calls; i++)
        dcall_free(s->calls[i]);
    free(s->list);
    if (s->dial.fd >= 0)
        close(s->dial.fd);
    free(s->dial.extra);
    free(s);
}

static void api_kern_done(struct dcall *dc)
{
    struct api_kern *s = dc->arg;

    if (atomic_fetch_sub(&s->pending, 1) == 1)
        http_req_wake(s->r);
}

static struct dcall *api_kern_dcall(struct api_kern *s, int agent, unsigned gen, const char *method,
                                    const char *path)
{
    struct dcall *dc = dcall_new();

    if (!dc)
        return NULL;
    strx_copy(dc->lang, sizeof(dc->lang), API_KERN_LANG);
    dc->agent = agent;
    dc->agent_gen = gen;
    dc->may_wait = agent < 0;
    dc->method = method;
    dc->timeout_ms = API_KERN_CALL_MS;
    strx_copy(dc->path, sizeof(dc->path), path);
    strx_copy(dc->req_id, sizeof(dc->req_id), http_req_id(s->r));
    dc->done = api_kern_done;
    dc->arg = s;
    return dc;
}

/* The agent's answer to one call, passed through; the table kept in step. */
static enum MHD_Result api_kern_reply(struct http_req *r)
{
    struct api_kern *s = http_req_data(r);
    struct dcall *dc = s->dc;
    struct kernels_entry e = {0};
    json_t *o;
    char *bytes;
    size_t len;

    if (dc->outcome != DCALL_OK) {
        if (s->e.id[0] && (dc->outcome == DCALL_AGENT_GONE || dc->outcome == DCALL_AGENT_FAILED)) {
            kernels_remove(s->a->kernels, s->e.id);
            return http_req_error(r, ERR_NOT_FOUND, "kernel_id",
                                  "kernel %s is gone: its agent restarted or stopped", s->e.id);
        }
        return http_req_error(r, ERR_AGENT_FAILED, NULL, "%s", dc->err);
    }
    if (s->op == KR_CREATE && dc->status == 201) {
        o = json_loadb(dc->resp ? dc->resp : "", dc->resp_len, 0, NULL);
        strx_copy(e.id, sizeof(e.id), json_string_value(json_object_get(o, "id")) ?: "");
        e.agent = dc->answered_by;
        e.gen = dc->answered_gen;
        e.owner = s->owner;
        json_decref(o);
        if (!e.id[0] || kernels_add(s->a->kernels, &e) < 0)
            return http_req_error(r, ERR_BUSY, NULL, "cannot record the new kernel");
    }
    if (s->e.id[0] && (dc->status == 404 || (s->op == KR_DELETE && dc->status == 204)))
        kernels_remove(s->a->kernels, s->e.id);
    bytes = dc->resp ? dc->resp : strdup("");
    len = dc->resp ? dc->resp_len : 0;
    dc->resp = NULL;
    return http_req_bytes_take(r, (unsigned)dc->status, bytes, len,
                               dc->resp_type[0] ? dc->resp_type : "application/json");
}

/* GET /api/kernels: the caller's kernels, as their agents describe them now. */
static enum MHD_Result api_kern_list_reply(struct http_req *r)
{
    struct api_kern *s = http_req_data(r);
    json_t *out = json_array(), *arr, *k;
    size_t i;

    for (int c = 0; out && c < s->n_calls; c++) {
        arr = s->calls[c]->outcome == DCALL_OK && s->calls[c]->status == 200
                  ? json_loadb(s->calls[c]->resp ? s->calls[c]->resp : "", s->calls[c]->resp_len, 0,
                               NULL)
                  : NULL;
        json_array_foreach(arr, i, k)
        {
            const char *id = json_string_value(json_object_get(k, "id"));

            for (size_t j = 0; id && j < s->n_list; j++) {
                if (!strcmp(s->list[j].id, id) && s->list[j].agent == s->calls[c]->agent)
                    json_array_append(out, k);
            }
        }
        json_decref(arr);
    }
    return http_req_json_take(r, 200, out);
}

static enum MHD_Result api_kern_list(struct api_kern *s)
{
    s->list = kernels_list(s->a->kernels, s->owner, &s->n_list);
    for (size_t i = 0; i < s->n_list; i++) {
        bool seen = false;

        for (int c = 0; c < s->n_calls; c++)
            seen = seen || s->calls[c]->agent == s->list[i].agent;
        if (seen || s->n_calls >= REGISTRY_MAX_AGENTS)
            continue;
        s->calls[s->n_calls] =
            api_kern_dcall(s, s->list[i].agent, s->list[i].gen, "GET", "/api/kernels");
        if (!s->calls[s->n_calls])
            return http_req_json_take(s->r, 0, NULL);
        s->calls[s->n_calls++]->timeout_ms = 10000;
    }
    if (s->n_calls == 0)
        return http_req_json_take(s->r, 200, json_array());
    atomic_store(&s->pending, s->n_calls);
    for (int c = 0; c < s->n_calls; c++) {
        if (dispatch_submit(s->a->d, s->calls[c]) < 0) {
            /* already submitted calls still complete; this one never will */
            s->calls[c]->outcome = DCALL_SHUTDOWN;
            api_kern_done(s->calls[c]);
        }
    }
    return http_req_suspend(s->r, api_kern_list_reply);
}

/* One call to the agent (pinned when the kernel is known), the body passed on. */
static enum MHD_Result api_kern_call(struct api_kern *s, const char *method)
{
    size_t len = 0;
    const char *body = http_req_body(s->r, &len);

    if (!body)
        return http_req_too_large(s->r);
    s->dc = api_kern_dcall(s, s->e.id[0] ? s->e.agent : -1, s->e.gen, method, http_req_url(s->r));
    if (!s->dc ||
        (!strcmp(method, "POST") && !(s->dc->body = strndup(len ? body : "{}", len ? len : 2))))
        return http_req_json_take(s->r, 0, NULL);
    s->dc->body_len = s->dc->body ? strlen(s->dc->body) : 0;
    atomic_store(&s->pending, 1);
    if (dispatch_submit(s->a->d, s->dc) < 0) {
        dcall_free(s->dc);
        s->dc = NULL;
        return http_req_error(s->r, ERR_SHUTTING_DOWN, NULL, "the orchestrator is shutting down");
    }
    return http_req_suspend(s->r, api_kern_reply);
}

/* ---------------------------------------------------------------- the channels */

static void api_kern_upgraded(struct http_req *r, struct http_upgraded *u, int fd,
                              const char *extra, size_t extra_len)
{
    struct api_kern *s = http_req_data(r);

    (void)extra; /* a client sends nothing before our 101 */
    (void)extra_len;
    ws_proxy_join(s->a->wsp, u, fd, &s->dial);
}

static enum MHD_Result api_kern_ws_reply(struct http_req *r)
{
    struct api_kern *s = http_req_data(r);
    char accept[WS_HANDSHAKE_ACCEPT_LEN + 1];
    const char *headers[] = {
        "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", accept, NULL};

    if (s->dial.status == 404)
        return http_req_error(r, ERR_NOT_FOUND, "kernel_id", "no kernel %s", s->id);
    if (s->dial.status != 101)
        return http_req_error(r, ERR_AGENT_FAILED, NULL, "%s", s->dial.err);
    if (ws_handshake_accept(s->dial.key, accept, sizeof(accept)) < 0)
        return http_req_error(r, ERR_INVALID, "Sec-WebSocket-Key", "a bad WebSocket key");
    return http_req_upgrade(r, headers, api_kern_upgraded);
}

static void *api_kern_dial_main(void *arg)
{
    struct api_kern *s = arg;

    ws_proxy_dial(&s->dial);
    http_req_wake(s->r);
    return NULL;
}

static enum MHD_Result api_kern_channels(struct api_kern *s)
{
    const char *why = NULL, *key = http_req_header(s->r, "Sec-WebSocket-Key");
    int rc = ws_handshake_check(http_req_method(s->r), http_req_header(s->r, "Upgrade"),
                                http_req_header(s->r, "Connection"),
                                http_req_header(s->r, "Sec-WebSocket-Version"), key, &why);
    struct registry *reg = s->a->reg;
    pthread_attr_t attr;
    pthread_t t;
    bool up;

    if (rc < 0)
        return http_req_error(s->r, ERR_INVALID,
                              rc == -EPROTONOSUPPORT ? "Sec-WebSocket-Version" : NULL, "%s", why);
    pthread_mutex_lock(&reg->lock);
    up = s->e.agent < reg->n && reg->agents[s->e.agent].gen == s->e.gen;
    if (up)
        strx_copy(s->dial.url, sizeof(s->dial.url), reg->agents[s->e.agent].url);
    pthread_mutex_unlock(&reg->lock);
    if (!up) {
        kernels_remove(s->a->kernels, s->e.id);
        return http_req_error(s->r, ERR_NOT_FOUND, "kernel_id",
                              "kernel %s is gone: its agent restarted or stopped", s->e.id);
    }
    snprintf(s->dial.path, sizeof(s->dial.path), "/api/kernels/%s/channels", s->e.id);
    strx_copy(s->dial.key, sizeof(s->dial.key), key);
    strx_copy(s->dial.token, sizeof(s->dial.token),
              s->a->cfg->agent_token ? s->a->cfg->agent_token : "");
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, api_kern_dial_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return http_req_error(s->r, ERR_BUSY, NULL, "cannot start the upgrade");
    return http_req_suspend(s->r, api_kern_ws_reply);
}

enum MHD_Result api_kernels(struct api *a, struct http_req *r)
{
    const char *url = http_req_url(r);
    struct route_match m;
    struct api_kern *s;
    enum MHD_Result rc2;
    int rc = kernel_route_parse(http_req_method(r), url, strlen(url), &m);

    if (rc == -EINVAL && m.method_ok)
        return http_req_error(r, ERR_NOT_FOUND, "kernel_id", "no kernel %s", m.arg);
    if (rc < 0)
        return http_req_unrouted(r, rc == -EINVAL ? -EPERM : rc, &m);
    s = calloc(1, sizeof(*s));
    if (!s)
        return http_req_json_take(r, 0, NULL);
    *s = (struct api_kern){.a = a, .r = r, .op = m.id, .owner = api_owner(a, r)};
    s->dial.fd = -1;
    strx_copy(s->id, sizeof(s->id), m.arg);
    http_req_set_data(r, s, api_kern_free);
    switch (m.id) {
    case KR_SPECS:
    case KR_SPEC:
        return api_kern_call(s, "GET");
    case KR_LIST:
        return api_kern_list(s);
    case KR_CREATE:
        return api_key_session_ok(a, r, s->owner, &rc2) ? api_kern_call(s, "POST") : rc2;
    default:
        break;
    }
    if (kernels_get(a->kernels, s->id, s->owner, &s->e) < 0)
        return http_req_error(r, ERR_NOT_FOUND, "kernel_id", "no kernel %s", s->id);
    if (m.id == KR_CHANNELS)
        return api_kern_channels(s);
    return api_kern_call(s, m.id == KR_GET ? "GET" : m.id == KR_DELETE ? "DELETE" : "POST");
}
