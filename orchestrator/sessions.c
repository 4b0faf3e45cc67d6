/* sessions.c - the session table (see sessions.h). A flat array in insertion order: at most
 * SESSIONS_MAX entries, scanned linearly under the mutex (a few thousand at most, each call
 * touching one agent's answer anyway). */
#include "sessions.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ids.h"
#include "strx.h"

#define SESSIONS_PREFIX     "os-"
#define SESSIONS_PREFIX_LEN 3
#define SESSIONS_HEX_LEN    32

struct sessions_slot {
    struct sessions_entry e;
    json_t *last; /* the last object an agent gave for it, or NULL (owned) */
};

struct sessions {
    pthread_mutex_t lock;        /* guards everything below */
    struct sessions_slot *slots; /* [0, n), oldest first */
    size_t n, cap;
};

struct sessions *sessions_new(void)
{
    struct sessions *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void sessions_free(struct sessions *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        json_decref(s->slots[i].last);
    free(s->slots);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

bool sessions_id_valid(const char *id, size_t len)
{
    if (len != SESSIONS_PREFIX_LEN + SESSIONS_HEX_LEN ||
        memcmp(id, SESSIONS_PREFIX, SESSIONS_PREFIX_LEN) != 0)
        return false;
    for (size_t i = SESSIONS_PREFIX_LEN; i < len; i++) {
        if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]))
            return false;
    }
    return true;
}

/* A fresh id into out (SESSIONS_ID_MAX bytes): a UUIDv4's hex digits. 0 or -errno. */
static int sessions_mint(char *out)
{
    char uuid[IDS_UUID_LEN + 1];
    size_t k = SESSIONS_PREFIX_LEN;
    int r = ids_uuid4(uuid);

    if (r < 0)
        return r;
    memcpy(out, SESSIONS_PREFIX, SESSIONS_PREFIX_LEN);
    for (size_t i = 0; i < IDS_UUID_LEN; i++) {
        if (uuid[i] != '-')
            out[k++] = uuid[i];
    }
    out[k] = '\0';
    return 0;
}

static void sessions_remove_locked(struct sessions *s, size_t i)
{
    json_decref(s->slots[i].last);
    memmove(&s->slots[i], &s->slots[i + 1], (s->n - i - 1) * sizeof(s->slots[0]));
    s->n--;
}

/* Drops tombstones past their life; when still full, the one gone longest. */
static void sessions_prune_locked(struct sessions *s, int64_t now_ns)
{
    size_t i = 0;

    while (i < s->n) {
        if (s->slots[i].e.gone && now_ns - s->slots[i].e.gone_ns > SESSIONS_GONE_KEEP_NS)
            sessions_remove_locked(s, i);
        else
            i++;
    }
    if (s->n < SESSIONS_MAX)
        return;
    for (size_t k = 0; k < s->n; k++) {
        if (s->slots[k].e.gone && (i == s->n || s->slots[k].e.gone_ns < s->slots[i].e.gone_ns))
            i = k;
    }
    if (i < s->n)
        sessions_remove_locked(s, i);
}

static struct sessions_slot *sessions_find_locked(struct sessions *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!strcmp(s->slots[i].e.id, id))
            return &s->slots[i];
    }
    return NULL;
}

int sessions_add(struct sessions *s, const struct sessions_entry *tmpl, int64_t now_ns,
                 struct sessions_entry *out)
{
    struct sessions_slot *slot;
    int r = 0;

    pthread_mutex_lock(&s->lock);
    sessions_prune_locked(s, now_ns);
    if (s->n >= SESSIONS_MAX) {
        r = -ERR_BUSY;
        goto out;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct sessions_slot *p = realloc(s->slots, cap * sizeof(*p));

        if (!p) {
            r = -ENOMEM;
            goto out;
        }
        s->slots = p;
        s->cap = cap;
    }
    slot = &s->slots[s->n];
    memset(slot, 0, sizeof(*slot));
    slot->e = *tmpl;
    slot->e.gone = false;
    slot->e.reason[0] = '\0';
    slot->e.gone_ns = 0;
    slot->e.added_ns = now_ns;
    /* 128 random bits: a collision is not a case to handle, but an id is never reused. */
    do {
        r = sessions_mint(slot->e.id);
    } while (r == 0 && sessions_find_locked(s, slot->e.id)); /* slot is past n: not found */
    if (r < 0)
        goto out;
    s->n++;
    *out = slot->e;
out:
    pthread_mutex_unlock(&s->lock);
    return r;
}

int sessions_get(struct sessions *s, const char *id, int owner, struct sessions_entry *out)
{
    struct sessions_slot *slot;
    int r = -ERR_NOT_FOUND;

    pthread_mutex_lock(&s->lock);
    slot = sessions_find_locked(s, id);
    if (slot && slot->e.owner == owner) {
        *out = slot->e;
        r = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

void sessions_mark_gone(struct sessions *s, const char *id, const char *reason, int64_t now_ns)
{
    struct sessions_slot *slot;

    pthread_mutex_lock(&s->lock);
    slot = sessions_find_locked(s, id);
    if (slot && !slot->e.gone) {
        slot->e.gone = true;
        slot->e.gone_ns = now_ns;
        strx_copy(slot->e.reason, sizeof(slot->e.reason), reason);
        json_decref(slot->last);
        slot->last = NULL;
    }
    pthread_mutex_unlock(&s->lock);
}

int sessions_set_last(struct sessions *s, const char *id, json_t *obj)
{
    json_t *copy = json_deep_copy(obj);
    struct sessions_slot *slot;
    int r = 0;

    if (!copy)
        return -ENOMEM;
    pthread_mutex_lock(&s->lock);
    slot = sessions_find_locked(s, id);
    if (slot && !slot->e.gone) {
        json_decref(slot->last);
        slot->last = copy;
        copy = NULL;
    } else {
        r = -ENOENT;
    }
    pthread_mutex_unlock(&s->lock);
    json_decref(copy);
    return r;
}

json_t *sessions_last(struct sessions *s, const char *id)
{
    struct sessions_slot *slot;
    json_t *o = NULL;

    pthread_mutex_lock(&s->lock);
    slot = sessions_find_locked(s, id);
    if (slot && slot->last)
        o = json_deep_copy(slot->last);
    pthread_mutex_unlock(&s->lock);
    return o;
}

struct sessions_entry *sessions_list(struct sessions *s, int owner, size_t *n, bool *oom)
{
    struct sessions_entry *out = NULL;
    size_t k = 0;

    *oom = false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        k += !s->slots[i].e.gone && s->slots[i].e.owner == owner;
    if (k > 0) {
        out = calloc(k, sizeof(*out));
        *oom = !out;
    }
    k = 0;
    for (size_t i = 0; out && i < s->n; i++) {
        if (!s->slots[i].e.gone && s->slots[i].e.owner == owner)
            out[k++] = s->slots[i].e;
    }
    pthread_mutex_unlock(&s->lock);
    *n = k;
    return out;
}

void sessions_count_by_agent(struct sessions *s, int *counts, int n_agents)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        const struct sessions_entry *e = &s->slots[i].e;

        if (!e->gone && e->agent >= 0 && e->agent < n_agents)
            counts[e->agent]++;
    }
    pthread_mutex_unlock(&s->lock);
}

json_t *sessions_stats_json(struct sessions *s)
{
    json_int_t live = 0, gone = 0;

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        if (s->slots[i].e.gone)
            gone++;
        else
            live++;
    }
    pthread_mutex_unlock(&s->lock);
    return json_pack("{s:I, s:I}", "live", live, "gone", gone);
}

int sessions_rewrite(json_t *obj, const struct sessions_entry *e, const char *agent_url)
{
    if (!json_is_object(obj))
        return 0;
    if (json_object_get(obj, "session_id") &&
        json_object_set_new(obj, "session_id", json_string(e->id)) < 0)
        return -ENOMEM;
    if (json_object_get(obj, "parent") &&
        json_object_set_new(obj, "parent", e->parent[0] ? json_string(e->parent) : json_null()) < 0)
        return -ENOMEM;
    if (agent_url && json_object_set_new(obj, "agent", json_string(agent_url)) < 0)
        return -ENOMEM;
    return 0;
}
