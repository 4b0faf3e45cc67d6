/* dispatch.c - routing, failover, waiting for starting agents, health checks. Everything but
 * dispatch_submit/dispatch_release runs on the upstream loop thread, so the parked list needs
 * no lock; the registry has its own. */
#include "dispatch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_client.h"
#include "clock.h"
#include "log.h"
#include "prom.h"
#include "strx.h"

#define DISPATCH_TICK_MS      50  /* health scheduling and parked-call resolution */
#define DISPATCH_RECHECK_MS   250 /* health-check period of an agent that is not up */
#define DISPATCH_PROBE_MIN_MS 1000
#define DISPATCH_PROBE_MAX_MS 5000

struct dispatch {
    struct registry *reg;
    struct upstream *up;
    const struct orch_cfg *cfg;
    struct dcall *parked;           /* loop thread only: calls waiting for an agent, oldest first */
    struct prom_hist_vec call_hist; /* call time by endpoint and outcome */
    struct prom_hist_vec wait_hist; /* time until a call went to an agent, by language */
};

static const char *const dispatch_call_labels[] = {"endpoint", "outcome"};
static const char *const dispatch_wait_labels[] = {"language"};
static const double dispatch_call_s[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                         1,     2.5,  5,     10,   30,  60,   300};
static const double dispatch_wait_s[] = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};

/* One health check in flight. */
struct dispatch_probe {
    struct dispatch *d;
    int idx;
    unsigned gen;
};

static const char *const dcall_outcome_names[] = {"ok",       "agent_failed", "agent_timeout",
                                                  "no_agent", "agent_gone",   "shutdown"};

const char *dcall_outcome_name(enum dcall_outcome o)
{
    if ((unsigned)o < sizeof(dcall_outcome_names) / sizeof(dcall_outcome_names[0]))
        return dcall_outcome_names[o];
    return "invalid";
}

struct dcall *dcall_new(void)
{
    struct dcall *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->agent = -1;
    c->answered_by = -1;
    c->method = "GET";
    c->timeout_ms = 30000;
    return c;
}

void dcall_free(struct dcall *c)
{
    if (!c)
        return;
    free(c->body);
    free(c->resp);
    free(c);
}

struct dispatch *dispatch_new(struct registry *reg, struct upstream *up, const struct orch_cfg *cfg)
{
    struct dispatch *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    d->reg = reg;
    d->up = up;
    d->cfg = cfg;
    prom_hist_vec_init(&d->call_hist, 2, dispatch_call_labels,
                       sizeof(dispatch_call_s) / sizeof(double), dispatch_call_s);
    prom_hist_vec_init(&d->wait_hist, 1, dispatch_wait_labels,
                       sizeof(dispatch_wait_s) / sizeof(double), dispatch_wait_s);
    return d;
}

void dispatch_free(struct dispatch *d)
{
    if (!d)
        return;
    prom_hist_vec_done(&d->call_hist);
    prom_hist_vec_done(&d->wait_hist);
    free(d);
}

/* The endpoint a call's path names, for the metrics: its first segment ("execute",
 * "execution", "sessions", ...), or "other". */
static void dispatch_endpoint(const char *path, char *out, size_t size)
{
    size_t n = 0;

    if (*path == '/')
        path++;
    while (path[n] && path[n] != '/' && path[n] != '?' && n + 1 < size)
        n++;
    if (n == 0 || !strchr("abcdefghijklmnopqrstuvwxyz", path[0]))
        n = (size_t)snprintf(out, size, "other");
    else
        memcpy(out, path, n);
    out[n] = 0;
}

int dispatch_metrics(struct dispatch *d, struct buf *b)
{
    int r = prom_hist_vec_write(&d->call_hist, b, "sandpit_orch_agent_call_duration_seconds",
                                "Time from taking a call to its answer (failover and waiting for "
                                "an agent included), by the agent endpoint and the outcome.");

    return r ? r
             : prom_hist_vec_write(&d->wait_hist, b, "sandpit_orch_dispatch_wait_seconds",
                                   "Time a call waited before it went to an agent (parked while "
                                   "none was up), by language.");
}

static void dispatch_finish(struct dcall *c, enum dcall_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ends c with outcome o; fmt (or NULL to keep c->err) says why. */
static void dispatch_finish(struct dcall *c, enum dcall_outcome o, const char *fmt, ...)
{
    char endpoint[32];
    const char *values[2] = {endpoint, dcall_outcome_name(o)};
    va_list ap;

    dispatch_endpoint(c->path, endpoint, sizeof(endpoint));
    (void)prom_hist_vec_observe(&c->d->call_hist, values,
                                (double)(clock_mono_ns() - c->submit_ns) / 1e9);
    c->outcome = o;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(c->err, sizeof(c->err), fmt, ap);
        va_end(ap);
    }
    c->done(c);
}

void dispatch_release(struct dispatch *d, int agent, unsigned gen)
{
    struct agent *a;

    if (agent < 0)
        return;
    pthread_mutex_lock(&d->reg->lock);
    a = &d->reg->agents[agent];
    if (a->gen == gen && a->in_flight > 0)
        a->in_flight--;
    pthread_mutex_unlock(&d->reg->lock);
}

/* Marks an agent down after a failed request (unless it was replaced or is still booting). */
static void dispatch_mark_down(struct dispatch *d, int idx, unsigned gen, const char *why,
                               const char *req_id)
{
    struct agent *a = &d->reg->agents[idx];
    char url[REGISTRY_URL_MAX];
    bool changed = false;
    int64_t now = clock_mono_ns();

    pthread_mutex_lock(&d->reg->lock);
    a->failures++;
    if (a->gen == gen && (a->state == AGENT_UP || a->state == AGENT_UNKNOWN)) {
        changed = registry_set_state_locked(a, AGENT_DOWN, now);
        strx_copy(a->last_error, sizeof(a->last_error), why);
        a->next_check_ns = now + DISPATCH_RECHECK_MS * 1000000LL;
    }
    strx_copy(url, sizeof(url), a->url);
    pthread_mutex_unlock(&d->reg->lock);
    if (changed)
        log_msg(LOG_WARN, req_id, "agent %s marked down: %s", url, why);
}

static void dispatch_on_done(void *arg, struct upstream_resp *r);

/* Sends c to agent idx (its URL and generation copied under the lock by the caller). */
static void dispatch_start_on(struct dcall *c, int idx, unsigned gen, const char *url, bool slot)
{
    struct dispatch *d = c->d;
    struct upstream_req req = {.method = c->method,
                               .body = c->body,
                               .body_len = c->body_len,
                               .content_type = c->body_type[0] ? c->body_type : NULL,
                               .req_id = c->req_id[0] ? c->req_id : NULL,
                               .timeout_ms = c->timeout_ms};
    char full[REGISTRY_URL_MAX + sizeof(c->path)];
    int r;

    if (!c->sent) {
        const char *lang = c->lang[0] ? c->lang : "pinned";

        c->sent = true;
        (void)prom_hist_vec_observe(&d->wait_hist, &lang,
                                    (double)(clock_mono_ns() - c->submit_ns) / 1e9);
    }
    c->answered_by = idx;
    c->answered_gen = gen;
    c->slot = slot;
    strx_copy(c->agent_url, sizeof(c->agent_url), url);
    snprintf(full, sizeof(full), "%s%s", url, c->path);
    req.url = full;
    r = upstream_fetch(d->up, &req, dispatch_on_done, c);
    if (r < 0) {
        if (slot)
            dispatch_release(d, idx, gen);
        c->slot = false;
        if (r == -ESHUTDOWN)
            dispatch_finish(c, DCALL_SHUTDOWN, "the orchestrator is shutting down");
        else
            dispatch_finish(c, DCALL_AGENT_FAILED, "cannot start a request to %s: %s", url,
                            strerror(-r));
    }
}

static void dispatch_park(struct dcall *c)
{
    struct dcall **pp = &c->d->parked;

    while (*pp)
        pp = &(*pp)->next;
    c->next = NULL;
    *pp = c;
}

/* Picks an agent for c and starts it, parks c, or ends it. Loop thread. */
static void dispatch_route(struct dcall *c)
{
    struct dispatch *d = c->d;
    struct registry *reg = d->reg;
    char url[REGISTRY_URL_MAX];
    enum registry_avail avail;
    unsigned gen;
    int idx;
    int64_t now;

    if (upstream_stopping(d->up)) {
        dispatch_finish(c, DCALL_SHUTDOWN, "the orchestrator is shutting down");
        return;
    }
    pthread_mutex_lock(&reg->lock);
    if (c->agent >= 0) {
        struct agent *a = &reg->agents[c->agent];

        if (c->agent >= reg->n || a->gen != c->agent_gen || !a->url[0] ||
            a->state == AGENT_STOPPED) {
            pthread_mutex_unlock(&reg->lock);
            dispatch_finish(
                c, DCALL_AGENT_GONE,
                "the agent that ran this was restarted or stopped; what it ran is gone");
            return;
        }
        strx_copy(url, sizeof(url), a->url);
        gen = a->gen;
        pthread_mutex_unlock(&reg->lock);
        dispatch_start_on(c, c->agent, gen, url, false);
        return;
    }
    idx = c->sticky[0] ? registry_pick_sticky_locked(reg, c->lang, c->sticky,
                                                     c->attempts > 0 ? c->answered_by : -1)
                       : registry_pick_locked(reg, c->lang, c->attempts > 0 ? c->answered_by : -1);
    if (idx >= 0) {
        struct agent *a = &reg->agents[idx];

        a->in_flight++;
        a->requests++;
        strx_copy(url, sizeof(url), a->url);
        gen = a->gen;
        pthread_mutex_unlock(&reg->lock);
        if (c->attempts > 0)
            log_msg(LOG_INFO, c->req_id[0] ? c->req_id : NULL, "retrying on agent %s after: %s",
                    url, c->err);
        dispatch_start_on(c, idx, gen, url, true);
        return;
    }
    avail = registry_avail_locked(reg, c->lang);
    pthread_mutex_unlock(&reg->lock);
    if (c->attempts > 0) {
        char first[sizeof(c->err)];

        strx_copy(first, sizeof(first), c->err);
        dispatch_finish(c, DCALL_AGENT_FAILED, "%.250s; no other healthy agent for language '%s'",
                        first, c->lang);
        return;
    }
    now = clock_mono_ns();
    if (c->may_wait && avail == REGISTRY_LANG_COMING) {
        if (!c->wait_until_ns)
            c->wait_until_ns = now + (int64_t)(d->cfg->agent_wait * 1e9);
        if (now < c->wait_until_ns) {
            dispatch_park(c);
            return;
        }
        dispatch_finish(c, DCALL_NO_AGENT,
                        "no healthy agent for language '%s' (waited %g s for one to start)",
                        c->lang, d->cfg->agent_wait);
        return;
    }
    dispatch_finish(c, DCALL_NO_AGENT, "no healthy agent for language '%s'%s", c->lang,
                    avail == REGISTRY_LANG_UNKNOWN ? " (no agent serves it)"
                                                   : " (every agent serving it is down)");
}

static void dispatch_task(void *arg)
{
    dispatch_route(arg);
}

int dispatch_submit(struct dispatch *d, struct dcall *c)
{
    c->d = d;
    c->submit_ns = clock_mono_ns();
    c->sent = false;
    c->attempts = 0;
    c->answered_by = -1;
    c->wait_until_ns = 0;
    return upstream_post(d->up, dispatch_task, c);
}

static void dispatch_on_done(void *arg, struct upstream_resp *r)
{
    struct dcall *c = arg;
    struct dispatch *d = c->d;
    struct agent_client_error ae = {{0}};
    char why[sizeof(c->err)];
    bool busy = false, failed;

    c->attempts++;
    c->curl_code = r->curl_code;
    if (r->status >= 500 && r->body.len)
        agent_client_error_read(r->body.data, r->body.len, &ae);
    busy = r->status == 503 && !strcmp(ae.code, "busy");
    failed = r->curl_code != 0 || (r->status >= 500 && !busy);
    if (c->slot && (failed || busy || !c->keep_slot)) {
        dispatch_release(d, c->answered_by, c->answered_gen);
        c->slot = false;
    }
    if (r->shutdown) {
        dispatch_finish(c, DCALL_SHUTDOWN, "%s", r->err);
        return;
    }
    if (!failed) {
        if (busy && c->retry && c->agent < 0 && c->attempts < 2) {
            pthread_mutex_lock(&d->reg->lock);
            if (registry_pick_locked(d->reg, c->lang, c->answered_by) >= 0) {
                pthread_mutex_unlock(&d->reg->lock);
                snprintf(c->err, sizeof(c->err), "agent %s is busy", c->agent_url);
                dispatch_route(c);
                return;
            }
            pthread_mutex_unlock(&d->reg->lock);
        }
        c->status = r->status;
        free(c->resp);
        c->resp = buf_steal(&r->body, &c->resp_len);
        strx_copy(c->resp_type, sizeof(c->resp_type), r->content_type ? r->content_type : "");
        dispatch_finish(c, DCALL_OK, NULL);
        return;
    }
    if (r->curl_code != 0)
        strx_printf(why, sizeof(why), "agent %s failed: %s", c->agent_url, r->err);
    else
        strx_printf(why, sizeof(why), "agent %s answered HTTP %ld%s%.200s", c->agent_url, r->status,
                    ae.msg[0] ? ": " : "", ae.msg);
    /* A pinned call (a long-poll, a cancel) that runs out of time says more about the call
     * than about the agent; every other failure takes the agent out until a check passes. */
    if (!(r->timed_out && c->agent >= 0))
        dispatch_mark_down(d, c->answered_by, c->answered_gen, why, c->req_id);
    strx_copy(c->err, sizeof(c->err), why);
    if (r->timed_out) {
        dispatch_finish(c, DCALL_AGENT_TIMEOUT, "agent %s did not answer within %.0f s",
                        c->agent_url, (double)c->timeout_ms / 1000);
        return;
    }
    if (c->retry && c->agent < 0 && c->attempts < 2) {
        dispatch_route(c);
        return;
    }
    dispatch_finish(c, DCALL_AGENT_FAILED, NULL);
}

/* Re-routes every parked call: some agent may be up now, or a wait may have run out. */
static void dispatch_kick(struct dispatch *d)
{
    struct dcall *list = d->parked, *next;

    d->parked = NULL;
    for (; list; list = next) {
        next = list->next;
        list->next = NULL;
        dispatch_route(list);
    }
}

static void dispatch_on_probe(void *arg, struct upstream_resp *r)
{
    struct dispatch_probe *p = arg;
    struct dispatch *d = p->d;
    struct agent *a = &d->reg->agents[p->idx];
    struct registry_health h;
    char url[REGISTRY_URL_MAX], langs[160] = "";
    bool up = false, down = false, restarted = false;
    int64_t now = clock_mono_ns();

    if (r->curl_code != 0) {
        memset(&h, 0, sizeof(h));
        strx_printf(h.reason, sizeof(h.reason), "health check failed: %.100s", r->err);
    } else {
        registry_parse_health(r->status, r->body.data ? r->body.data : "", r->body.len, &h);
    }
    pthread_mutex_lock(&d->reg->lock);
    a->probing = false;
    if (a->gen != p->gen || a->state == AGENT_STOPPED || r->shutdown) {
        pthread_mutex_unlock(&d->reg->lock);
        free(p);
        return;
    }
    a->checked = true;
    restarted = r->curl_code == 0 && registry_note_ident_locked(a, &h, now);
    if (h.ok) {
        registry_apply_health_locked(a, &h);
        up = registry_set_state_locked(a, AGENT_UP, now);
        a->last_error[0] = '\0';
        a->last_ok_ns = now;
        a->next_check_ns = now + (int64_t)(d->cfg->health_interval * 1e9);
    } else {
        if (a->state == AGENT_UP || a->state == AGENT_UNKNOWN) {
            down = registry_set_state_locked(a, AGENT_DOWN, now);
            a->failures++;
        }
        strx_copy(a->last_error, sizeof(a->last_error), h.reason);
        /* A booting agent is probed every tick: requests may be waiting for it. */
        a->next_check_ns =
            now + (a->state == AGENT_STARTING ? DISPATCH_TICK_MS : DISPATCH_RECHECK_MS) * 1000000LL;
    }
    strx_copy(url, sizeof(url), a->url);
    for (int i = 0; i < a->n_langs; i++)
        snprintf(langs + strlen(langs), sizeof(langs) - strlen(langs), "%s%s", i ? "," : "",
                 a->langs[i]);
    pthread_mutex_unlock(&d->reg->lock);
    if (restarted)
        log_warn("agent %s restarted (its process or zygote is new): what lived in its memory "
                 "is gone",
                 url);
    if (up)
        log_info("agent %s is up (languages: %s)", url, langs[0] ? langs : "none reported");
    if (down)
        log_warn("agent %s is down: %s", url, h.reason);
    free(p);
    if (up)
        dispatch_kick(d);
}

static void dispatch_tick(void *arg)
{
    struct dispatch *d = arg;
    struct {
        int idx;
        unsigned gen;
        char url[REGISTRY_URL_MAX + 8];
    } due[REGISTRY_MAX_AGENTS];
    int n = 0;
    long probe_ms = (long)(d->cfg->health_interval * 1000);
    int64_t now = clock_mono_ns();

    if (upstream_stopping(d->up)) {
        dispatch_kick(d); /* ends every parked call with DCALL_SHUTDOWN */
        return;
    }
    if (probe_ms < DISPATCH_PROBE_MIN_MS)
        probe_ms = DISPATCH_PROBE_MIN_MS;
    if (probe_ms > DISPATCH_PROBE_MAX_MS)
        probe_ms = DISPATCH_PROBE_MAX_MS;
    pthread_mutex_lock(&d->reg->lock);
    for (int i = 0; i < d->reg->n; i++) {
        struct agent *a = &d->reg->agents[i];

        if (!a->url[0] || a->probing || a->state == AGENT_STOPPED || now < a->next_check_ns)
            continue;
        a->probing = true;
        due[n].idx = i;
        due[n].gen = a->gen;
        snprintf(due[n].url, sizeof(due[n].url), "%s/health", a->url);
        n++;
    }
    pthread_mutex_unlock(&d->reg->lock);
    for (int k = 0; k < n; k++) {
        struct dispatch_probe *p = malloc(sizeof(*p));
        struct upstream_req req = {.method = "GET", .url = due[k].url, .timeout_ms = probe_ms};

        if (p) {
            p->d = d;
            p->idx = due[k].idx;
            p->gen = due[k].gen;
        }
        if (!p || upstream_fetch(d->up, &req, dispatch_on_probe, p) < 0) {
            free(p);
            pthread_mutex_lock(&d->reg->lock);
            d->reg->agents[due[k].idx].probing = false;
            pthread_mutex_unlock(&d->reg->lock);
        }
    }
    if (d->parked)
        dispatch_kick(d);
    if (upstream_after(d->up, DISPATCH_TICK_MS, dispatch_tick, d) < 0)
        log_error("cannot re-arm the health-check timer; health checks stop");
}

int dispatch_start(struct dispatch *d)
{
    return upstream_post(d->up, dispatch_tick, d);
}
