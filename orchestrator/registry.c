/* registry.c - the agent table. */
#include "registry.h"
#include "json_util.h"
#include "strx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const registry_state_names[] = {"unknown", "starting", "up", "down", "stopped"};

const char *registry_state_name(enum agent_state st)
{
    if ((unsigned)st < sizeof(registry_state_names) / sizeof(registry_state_names[0]))
        return registry_state_names[st];
    return "invalid";
}

/* Adds lang to a language list unless present; false when the list is full. */
static bool registry_lang_add(char langs[][LANG_NAME_MAX], int *n, const char *lang)
{
    for (int i = 0; i < *n; i++) {
        if (!strcmp(langs[i], lang))
            return true;
    }
    if (*n == REGISTRY_MAX_LANGS)
        return false;
    strx_copy(langs[(*n)++], LANG_NAME_MAX, lang);
    return true;
}

/* http://host[:port] or https://...; host made of [A-Za-z0-9.-_] or a bracketed IPv6 literal;
 * an optional path prefix is kept ("http://gw/sandbox"). */
static int registry_check_url(const char *url, size_t len, struct err *e)
{
    size_t start, i;

    if (len >= REGISTRY_URL_MAX)
        return err_set(e, ERR_INVALID, "agent", "agent URL is longer than %d bytes",
                       REGISTRY_URL_MAX - 1);
    if (len > 7 && !strncmp(url, "http://", 7))
        start = 7;
    else if (len > 8 && !strncmp(url, "https://", 8))
        start = 8;
    else
        return err_set(e, ERR_INVALID, "agent", "agent URL '%.*s' must start with http://",
                       (int)len, url);
    for (i = start; i < len && url[i] != '/'; i++) {
        char c = url[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']'))
            return err_set(e, ERR_INVALID, "agent", "agent URL '%.*s' has a bad host", (int)len,
                           url);
    }
    if (i == start || url[start] == ':')
        return err_set(e, ERR_INVALID, "agent", "agent URL '%.*s' has no host", (int)len, url);
    for (; i < len; i++) {
        if ((unsigned char)url[i] <= ' ' || url[i] == '?' || url[i] == '#')
            return err_set(e, ERR_INVALID, "agent", "agent URL '%.*s' has a bad path", (int)len,
                           url);
    }
    return 0;
}

int registry_parse_spec(const char *spec, struct agent_spec *out, struct err *e)
{
    const char *eq = strchr(spec, '=');
    const char *url = eq ? eq + 1 : spec;
    size_t ulen = strlen(url);
    int r;

    memset(out, 0, sizeof(*out));
    while (ulen > 0 && url[ulen - 1] == '/')
        ulen--;
    if ((r = registry_check_url(url, ulen, e)) < 0)
        return r;
    memcpy(out->url, url, ulen);
    out->url[ulen] = '\0';
    if (!eq)
        return 0;
    /* Every comma-separated piece before '=' must be a language, so "=URL" and "a,,b=URL"
     * are refused rather than read as a bare URL. */
    for (const char *p = spec; p <= eq;) {
        const char *end = memchr(p, ',', (size_t)(eq - p));
        char canon[LANG_NAME_MAX];
        struct err le;

        if (!end)
            end = eq;
        if (lang_canon(p, (size_t)(end - p), canon, &le) < 0)
            return err_set(e, ERR_INVALID, "agent", "--agent '%s': bad language '%.*s'", spec,
                           (int)(end - p), p);
        if (!registry_lang_add(out->langs, &out->n_langs, canon))
            return err_set(e, ERR_INVALID, "agent", "--agent '%s': more than %d languages", spec,
                           REGISTRY_MAX_LANGS);
        p = end + 1;
    }
    return 0;
}

struct registry *registry_new(void)
{
    struct registry *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void registry_free(struct registry *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int registry_add(struct registry *r, const struct agent_spec *spec, bool spawned, struct err *e)
{
    struct agent *a = NULL;
    int idx = -1;

    if (!spawned) {
        for (int i = 0; i < r->n; i++) {
            if (!r->agents[i].spawned && !strcmp(r->agents[i].url, spec->url)) {
                a = &r->agents[i];
                idx = i;
                break;
            }
        }
    }
    if (!a) {
        if (r->n == REGISTRY_MAX_AGENTS)
            return err_set(e, ERR_INVALID, "agent", "more than %d agents", REGISTRY_MAX_AGENTS);
        idx = r->n++;
        a = &r->agents[idx];
        memset(a, 0, sizeof(*a));
        a->spawned = spawned;
        a->state = spawned ? AGENT_STARTING : AGENT_UNKNOWN;
        if (!spawned)
            strx_copy(a->url, sizeof(a->url), spec->url);
    }
    for (int i = 0; i < spec->n_langs; i++) {
        if (!registry_lang_add(a->langs, &a->n_langs, spec->langs[i]))
            return err_set(e, ERR_INVALID, "agent", "agent %s: more than %d languages", a->url,
                           REGISTRY_MAX_LANGS);
    }
    /* Languages named on the command line are the operator's word; a spawned agent's come
     * from its runtime table and may be completed by /health. */
    if (spec->n_langs > 0 && !spawned)
        a->langs_fixed = true;
    return idx;
}

bool registry_agent_serves(const struct agent *a, const char *lang)
{
    for (int i = 0; i < a->n_langs; i++) {
        if (!strcmp(a->langs[i], lang))
            return true;
    }
    return false;
}

int registry_pick_locked(struct registry *r, const char *lang, int exclude)
{
    int best = -1;

    if (r->n == 0)
        return -1;
    for (int k = 0; k < r->n; k++) {
        int i = (int)((r->rr + (unsigned)k) % (unsigned)r->n);
        const struct agent *a = &r->agents[i];

        if (i == exclude || a->state != AGENT_UP || !a->url[0] || !registry_agent_serves(a, lang))
            continue;
        if (best < 0 || a->in_flight < r->agents[best].in_flight)
            best = i;
    }
    if (best >= 0)
        r->rr = (unsigned)best + 1;
    return best;
}

/* FNV-1a over key, a 0 byte and url: one agent's score for key. */
static uint64_t registry_score(const char *key, const char *url)
{
    uint64_t h = 14695981039346656037ull;

    for (const char *p = key;; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
        if (!*p)
            break;
    }
    for (const char *p = url; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    /* A last mix so URLs differing in their last byte spread over the whole range. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

int registry_pick_sticky_locked(const struct registry *r, const char *lang, const char *key,
                                int exclude)
{
    uint64_t best_score = 0;
    int best = -1;

    for (int i = 0; i < r->n; i++) {
        const struct agent *a = &r->agents[i];
        uint64_t sc;

        if (i == exclude || a->state != AGENT_UP || !a->url[0] || !registry_agent_serves(a, lang))
            continue;
        sc = registry_score(key, a->url);
        if (best < 0 || sc > best_score) {
            best = i;
            best_score = sc;
        }
    }
    return best;
}

enum registry_avail registry_avail_locked(const struct registry *r, const char *lang)
{
    bool coming = false, known = false, unlearned_coming = false, unlearned = false;

    for (int i = 0; i < r->n; i++) {
        const struct agent *a = &r->agents[i];

        /* An agent that has not reported its languages yet (a bare URL, or a spawned agent
         * that serves whatever runtimes its host has) may serve any language: not the
         * client's mistake. */
        if (!a->langs_fixed && !a->langs_learned) {
            unlearned = true;
            if (a->state == AGENT_UNKNOWN || a->state == AGENT_STARTING ||
                (a->spawned && a->state != AGENT_STOPPED))
                unlearned_coming = true;
        }
        if (!registry_agent_serves(a, lang))
            continue;
        known = true;
        if (a->state == AGENT_UP && a->url[0])
            return REGISTRY_LANG_UP;
        if (a->state == AGENT_STARTING || a->state == AGENT_UNKNOWN ||
            (a->spawned && a->state == AGENT_DOWN) || (a->state == AGENT_UP && !a->url[0]))
            coming = true;
    }
    if (coming || (!known && unlearned_coming))
        return REGISTRY_LANG_COMING;
    return known || unlearned ? REGISTRY_LANG_DOWN : REGISTRY_LANG_UNKNOWN;
}

bool registry_set_state_locked(struct agent *a, enum agent_state st, int64_t now_ns)
{
    if (a->state == st)
        return false;
    a->state = st;
    a->state_since_ns = now_ns;
    return true;
}

/* The agent's identity in its /health object o (borrowed): uptime_s and zygote {pid,
 * restarts}; h->has_ident stays false when any is missing. */
static void registry_parse_ident(json_t *o, struct registry_health *h)
{
    json_t *z = json_object_get(o, "zygote");
    json_t *up = json_object_get(o, "uptime_s"), *pid = json_object_get(z, "pid"),
           *rs = json_object_get(z, "restarts");

    if (!json_is_number(up) || !json_is_integer(pid) || !json_is_integer(rs))
        return;
    h->has_ident = true;
    h->uptime_s = json_number_value(up);
    h->zygote_pid = (long)json_integer_value(pid);
    h->zygote_restarts = (long)json_integer_value(rs);
}

void registry_parse_health(long status, const char *body, size_t len, struct registry_health *h)
{
    json_t *o = NULL, *langs, *v;
    const char *st, *zst;
    size_t i;

    memset(h, 0, sizeof(*h));
    if (status != 200) {
        snprintf(h->reason, sizeof(h->reason), "GET /health answered HTTP %ld", status);
        return;
    }
    o = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
    if (!json_is_object(o)) {
        snprintf(h->reason, sizeof(h->reason), "GET /health answered something not JSON");
        goto out;
    }
    langs = json_object_get(o, "languages");
    json_array_foreach(langs, i, v)
    {
        char canon[LANG_NAME_MAX];

        if (json_is_string(v) &&
            lang_canon(json_string_value(v), json_string_length(v), canon, NULL) == 0)
            (void)registry_lang_add(h->langs, &h->n_langs, canon);
    }
    {
        const char *k;

        json_object_foreach(json_object_get(o, "runtimes"), k, v)
        {
            char canon[LANG_NAME_MAX];

            if (!json_is_string(v) || lang_canon(k, strlen(k), canon, NULL) < 0)
                continue;
            for (int n = 0; n < h->n_langs; n++) {
                if (!strcmp(h->langs[n], canon))
                    strx_copy(h->versions[n], sizeof(h->versions[n]), json_string_value(v));
            }
        }
    }
    registry_parse_ident(o, h);
    st = json_string_value(json_object_get(o, "status"));
    if (st && !strcmp(st, "ok")) {
        h->ok = true;
        goto out;
    }
    zst = json_string_value(json_object_get(json_object_get(o, "zygote"), "state"));
    snprintf(h->reason, sizeof(h->reason), "agent reports status '%.20s'%s%.20s%s",
             st ? st : "(none)", zst ? " (zygote " : "", zst ? zst : "", zst ? ")" : "");
out:
    json_decref(o);
}

void registry_apply_health_locked(struct agent *a, const struct registry_health *h)
{
    if (!a->langs_fixed && h->n_langs > 0) {
        memcpy(a->langs, h->langs, sizeof(h->langs));
        a->n_langs = h->n_langs;
        a->langs_learned = true;
    }
    for (int i = 0; i < a->n_langs; i++) {
        a->versions[i][0] = '\0';
        for (int k = 0; k < h->n_langs; k++) {
            if (!strcmp(a->langs[i], h->langs[k]))
                strx_copy(a->versions[i], sizeof(a->versions[i]), h->versions[k]);
        }
    }
}

/* Slack on the start time estimated from uptime_s: the check's own latency and a loaded
 * machine's scheduling move it by a little. */
#define REGISTRY_START_SLACK_NS (2 * 1000000000LL)

bool registry_note_ident_locked(struct agent *a, const struct registry_health *h, int64_t now_ns)
{
    int64_t started;
    bool changed = false;

    if (!h->has_ident)
        return false;
    started = now_ns - (int64_t)(h->uptime_s * 1e9);
    if (a->ident_known) {
        changed = started > a->started_ns + REGISTRY_START_SLACK_NS ||
                  h->zygote_restarts != a->zygote_restarts ||
                  (h->zygote_pid > 0 && a->zygote_pid > 0 && h->zygote_pid != a->zygote_pid);
    }
    if (!a->ident_known || changed || started < a->started_ns)
        a->started_ns = started;
    /* A new process forgets the old zygote's pid even while its own is not up yet (pid 0):
     * its first zygote must not count as a second restart. */
    if (h->zygote_pid > 0 || changed)
        a->zygote_pid = h->zygote_pid;
    a->zygote_restarts = h->zygote_restarts;
    a->ident_known = true;
    if (changed)
        a->epoch++;
    return changed;
}

json_t *registry_agents_json(struct registry *r, int64_t now_ns)
{
    json_t *arr = json_array();

    if (!arr)
        return NULL;
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n; i++) {
        const struct agent *a = &r->agents[i];
        json_t *langs = json_array(), *o;

        for (int k = 0; langs && k < a->n_langs; k++)
            json_array_append_new(langs, json_string(a->langs[k]));
        o = json_pack("{s:s?, s:o, s:s, s:i, s:I, s:I, s:s?, s:b, s:f}", "url",
                      a->url[0] ? a->url : NULL, "languages", langs ? langs : json_array(), "state",
                      registry_state_name(a->state), "in_flight", a->in_flight, "requests",
                      (json_int_t)a->requests, "failures", (json_int_t)a->failures, "last_error",
                      a->last_error[0] ? a->last_error : NULL, "spawned", a->spawned, "state_for_s",
                      (double)(now_ns - a->state_since_ns) / 1e9);
        if (o && a->spawned) {
            json_object_set_new(o, "pid", a->pid > 0 ? json_integer(a->pid) : json_null());
            json_object_set_new(o, "restarts", json_integer(a->restarts));
        }
        if (o)
            json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&r->lock);
    return arr;
}

static int registry_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *registry_languages_json(struct registry *r)
{
    const char *names[REGISTRY_MAX_AGENTS * REGISTRY_MAX_LANGS];
    size_t n = 0;
    json_t *arr = json_array();

    if (!arr)
        return NULL;
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n; i++) {
        const struct agent *a = &r->agents[i];

        if (a->state != AGENT_UP || !a->url[0])
            continue;
        for (int k = 0; k < a->n_langs; k++)
            names[n++] = a->langs[k];
    }
    qsort(names, n, sizeof(names[0]), registry_cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(names[i], names[i - 1]))
            json_array_append_new(arr, json_string(names[i]));
    }
    pthread_mutex_unlock(&r->lock);
    return arr;
}

/* registry_language_json with the lock held. */
static json_t *registry_language_json_locked(struct registry *r, const char *lang, bool *oom)
{
    const char *version = NULL;
    const char *const *aliases = lang_aliases(lang, strlen(lang));
    json_t *agents = json_array(), *al = json_array(), *o;
    bool known = false;
    int up = 0;

    *oom = false;
    for (int i = 0; agents && i < r->n; i++) {
        const struct agent *a = &r->agents[i];

        for (int k = 0; k < a->n_langs; k++) {
            if (strcmp(a->langs[k], lang))
                continue;
            known = true;
            if (a->state == AGENT_UP && a->url[0]) {
                up++;
                json_array_append_new(agents, json_string(a->url));
                if (!version && a->versions[k][0])
                    version = a->versions[k];
            }
        }
    }
    for (size_t k = 1; al && aliases && aliases[k]; k++)
        json_array_append_new(al, json_string(aliases[k]));
    if (!known || !agents || !al) {
        *oom = known;
        json_decref(agents);
        json_decref(al);
        return NULL;
    }
    o = json_pack("{s:s, s:o, s:n, s:b, s:i, s:o}", "name", lang, "aliases", al, "version",
                  "available", up > 0, "agents_up", up, "agents", agents);
    /* A version string may have been cut mid-character: set_text keeps the JSON valid. */
    if (o && version && json_util_set_text(o, "version", version, strlen(version)) < 0) {
        json_decref(o);
        o = NULL;
    }
    *oom = !o;
    return o;
}

json_t *registry_language_json(struct registry *r, const char *lang, bool *oom)
{
    json_t *o;

    pthread_mutex_lock(&r->lock);
    o = registry_language_json_locked(r, lang, oom);
    pthread_mutex_unlock(&r->lock);
    return o;
}

json_t *registry_languages_detail_json(struct registry *r)
{
    json_t *names = registry_languages_json(r), *arr = json_array(), *v;
    size_t i;

    if (!names || !arr) {
        json_decref(names);
        json_decref(arr);
        return NULL;
    }
    pthread_mutex_lock(&r->lock);
    json_array_foreach(names, i, v)
    {
        bool oom;
        json_t *o = registry_language_json_locked(r, json_string_value(v), &oom);

        if (o)
            json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&r->lock);
    json_decref(names);
    return arr;
}

void registry_counts(struct registry *r, int *up, int *total)
{
    pthread_mutex_lock(&r->lock);
    *up = 0;
    for (int i = 0; i < r->n; i++)
        *up += r->agents[i].state == AGENT_UP && r->agents[i].url[0];
    *total = r->n;
    pthread_mutex_unlock(&r->lock);
}

bool registry_any_starting(struct registry *r)
{
    bool starting = false;

    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n; i++) {
        const struct agent *a = &r->agents[i];

        /* Not checked yet, or a process being started: none of these has failed. */
        if (a->state == AGENT_UNKNOWN || a->state == AGENT_STARTING ||
            (a->state == AGENT_UP && !a->url[0]))
            starting = true;
    }
    pthread_mutex_unlock(&r->lock);
    return starting;
}
