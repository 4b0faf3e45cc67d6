/* outbox.c - durable delivery of processor adjustments (see outbox.h).
 *
 * Each item is one file <dir>/<id>.json, replaced atomically (write tmp, fsync, rename, fsync
 * dir) whenever its state changes, so a crash at any point leaves either the old or the new
 * state. The in-memory list mirrors the files; one thread delivers. */
#include "outbox.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "fdio.h"
#include "ids.h"
#include "json_out.h"
#include "json_util.h"
#include "log.h"

#define OUTBOX_TIMEOUT_MS    5000
#define OUTBOX_BACKOFF_MIN_S 0.5
#define OUTBOX_BACKOFF_MAX_S 60.0

struct outbox_item {
    json_t *doc; /* the persisted document (owned) */
    char id[IDS_UUID_LEN + 1];
    int64_t next_ns;          /* monotonic time of the next attempt; 0 = now */
    outbox_first_fn first_fn; /* called after the first attempt, then cleared */
    void *first_arg;
    struct outbox_item *next; /* newest first */
};

struct outbox {
    char dir[512];
    char backend[512]; /* "" = none configured */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    int lock_fd; /* <dir>/.lock, flock'd for the outbox's lifetime */
    bool stop;
    struct outbox_item *items;
    size_t n_items;
};

/* Atomically replaces <dir>/<id>.json with doc. Caller holds the lock. */
static int outbox_persist(struct outbox *o, struct outbox_item *it)
{
    char path[600], tmp[620];
    char *text = json_out_dumps(it->doc, JSON_OUT_SORT_KEYS, NULL);
    int fd = -1, dfd = -1, r = 0;

    if (!text)
        return -ENOMEM;
    snprintf(path, sizeof(path), "%s/%s.json", o->dir, it->id);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fdio_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0 ||
        rename(tmp, path) < 0) {
        r = -errno;
        goto out;
    }
    dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0)
        r = -errno;
out:
    fdio_close(&fd);
    fdio_close(&dfd);
    free(text);
    return r;
}

static const char *outbox_state(const struct outbox_item *it)
{
    return json_string_value(json_object_get(it->doc, "state"));
}

/* Tells the request waiting for its first attempt (if any) how it went. Lock held. */
static void outbox_tell_first(struct outbox_item *it)
{
    if (it->first_fn) {
        it->first_fn(it->first_arg, json_deep_copy(it->doc));
        it->first_fn = NULL;
    }
}

/* No backend: a pending item says why it waits (persisted once). Lock held. */
static void outbox_mark_no_backend(struct outbox *o, struct outbox_item *it)
{
    const char *le = json_string_value(json_object_get(it->doc, "last_error"));

    if (le && !strcmp(le, OUTBOX_NO_BACKEND))
        return;
    json_object_set_new(it->doc, "last_error", json_string(OUTBOX_NO_BACKEND));
    if (outbox_persist(o, it) < 0)
        log_warn("adjustment %s: cannot persist its state, ignoring", it->id);
}

static size_t outbox_discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* One POST. Returns the HTTP status, or 0 with errbuf set when nothing was answered. */
static long outbox_post(const char *url, const char *body, char *errbuf)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = curl_easy_init();
    long status = 0;
    CURLcode rc;

    errbuf[0] = '\0';
    if (!c || !h) {
        snprintf(errbuf, CURL_ERROR_SIZE, "out of memory");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)OUTBOX_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    /* The answer body is not needed (libcurl would print it to stdout by default). */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, outbox_discard);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else if (!errbuf[0])
        snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
out:
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* Attempts delivery of it (lock held on entry and exit; released around the POST). */
static void outbox_attempt(struct outbox *o, struct outbox_item *it)
{
    char url[1024], errbuf[CURL_ERROR_SIZE], when[40];
    json_t *payload;
    char *body;
    long status;
    json_int_t attempts;
    bool first = it->first_fn != NULL;

    payload =
        json_pack("{s:O, s:O, s:s, s:O}", "adjustments", json_object_get(it->doc, "adjustments"),
                  "reason", json_object_get(it->doc, "reason"), "source", "sandbox", "execution_id",
                  json_object_get(it->doc, "execution_id"));
    /* The adjustments as the client wrote them: 0.2 stays 0.2. */
    body = json_out_dumps(payload, 0, NULL);
    json_decref(payload);
    snprintf(url, sizeof(url), "%s/api/v1/processors/%s/adjust", o->backend,
             json_string_value(json_object_get(it->doc, "processor_id")));
    pthread_mutex_unlock(&o->lock);
    status = body ? outbox_post(url, body, errbuf) : 0;
    if (!body)
        snprintf(errbuf, sizeof(errbuf), "out of memory");
    free(body);
    pthread_mutex_lock(&o->lock);

    attempts = json_integer_value(json_object_get(it->doc, "attempts")) + 1;
    clock_iso(clock_real_ns(), when, sizeof(when));
    json_object_set_new(it->doc, "attempts", json_integer(attempts));
    json_object_set_new(it->doc, "last_attempt_at", json_string(when));
    json_object_set_new(it->doc, "http_status", status ? json_integer(status) : json_null());
    if (status >= 200 && status < 300) {
        json_object_set_new(it->doc, "state", json_string("delivered"));
        json_object_set_new(it->doc, "delivered_at", json_string(when));
        json_object_set_new(it->doc, "last_error", json_null());
    } else if (status >= 400 && status < 500 && status != 408 && status != 429) {
        /* The backend refused this item for good: keep it, never resend it. */
        json_object_set_new(it->doc, "state", json_string("rejected"));
        json_object_set_new(it->doc, "last_error",
                            json_sprintf("backend answered HTTP %ld", status));
    } else {
        double backoff = OUTBOX_BACKOFF_MIN_S;

        for (json_int_t i = 1; i < attempts && backoff < OUTBOX_BACKOFF_MAX_S; i++)
            backoff *= 2;
        if (backoff > OUTBOX_BACKOFF_MAX_S)
            backoff = OUTBOX_BACKOFF_MAX_S;
        it->next_ns = clock_mono_ns() + (int64_t)(backoff * 1e9);
        json_object_set_new(it->doc, "last_error",
                            status ? json_sprintf("backend answered HTTP %ld", status)
                                   : json_string(errbuf));
    }
    if (outbox_persist(o, it) < 0)
        log_warn("adjustment %s: cannot persist its state, ignoring", it->id);
    if (first)
        outbox_tell_first(it);
}

static void *outbox_thread(void *arg)
{
    struct outbox *o = arg;

    pthread_mutex_lock(&o->lock);
    while (!o->stop) {
        int64_t now = clock_mono_ns(), next = 0;
        struct outbox_item *due = NULL;

        for (struct outbox_item *it = o->items; it; it = it->next) {
            if (strcmp(outbox_state(it), "pending") != 0)
                continue;
            if (!o->backend[0]) {
                /* No backend: the first waiter hears so at once. */
                outbox_mark_no_backend(o, it);
                outbox_tell_first(it);
                continue;
            }
            if (it->next_ns <= now) {
                due = it;
                break;
            }
            if (!next || it->next_ns < next)
                next = it->next_ns;
        }
        if (due) {
            outbox_attempt(o, due);
            continue;
        }
        if (next) {
            struct timespec ts;
            int64_t wait_ns = next - now;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += (time_t)(wait_ns / 1000000000);
            ts.tv_nsec += (long)(wait_ns % 1000000000);
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&o->cond, &o->lock, &ts);
        } else {
            pthread_cond_wait(&o->cond, &o->lock);
        }
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

static int outbox_push(struct outbox *o, json_t *doc)
{
    struct outbox_item *it = calloc(1, sizeof(*it));
    const char *id = json_string_value(json_object_get(doc, "id"));

    if (!it)
        return -ENOMEM;
    it->doc = doc;
    snprintf(it->id, sizeof(it->id), "%s", id ? id : "");
    it->next = o->items;
    o->items = it;
    o->n_items++;
    return 0;
}

/* Loads every <dir>/<uuid>.json; a file that does not parse is skipped with a warning. */
static void outbox_load(struct outbox *o)
{
    DIR *d = opendir(o->dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        char path[800];
        json_t *doc;
        const char *id;

        if (n != IDS_UUID_LEN + 5 || strcmp(de->d_name + IDS_UUID_LEN, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", o->dir, de->d_name);
        doc = json_load_file(path, JSON_ALLOW_NUL, NULL);
        id = doc ? json_string_value(json_object_get(doc, "id")) : NULL;
        if (!doc || !id || !ids_is_uuid(id, strlen(id)) ||
            !json_is_string(json_object_get(doc, "state")) || outbox_push(o, doc) < 0) {
            log_warn("outbox: '%s' is not a valid item, ignoring", path);
            json_decref(doc);
        }
    }
    closedir(d);
}

/* Takes <dir>/.lock: two agents on one directory would both deliver every item. */
static int outbox_lock_dir(struct outbox *o, struct err *e)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/.lock", o->dir);
    o->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (o->lock_fd < 0)
        return err_set(e, errno, "state-dir", "cannot open '%s': %s", path, strerror(errno));
    if (flock(o->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        int r = errno;

        fdio_close(&o->lock_fd);
        if (r == EWOULDBLOCK)
            return err_set(e, EBUSY, "state-dir",
                           "state directory '%s' is in use by another agent (it holds '%s'); "
                           "give each agent its own --state-dir",
                           o->dir, path);
        return err_set(e, r, "state-dir", "cannot lock '%s': %s", path, strerror(r));
    }
    return 0;
}

struct outbox *outbox_new(const char *dir, const char *backend_url, struct err *e)
{
    struct outbox *o = calloc(1, sizeof(*o));
    size_t pending = 0;

    if (!o) {
        err_set(e, ENOMEM, "", "out of memory");
        return NULL;
    }
    o->lock_fd = -1;
    snprintf(o->dir, sizeof(o->dir), "%s", dir);
    snprintf(o->backend, sizeof(o->backend), "%s", backend_url ? backend_url : "");
    /* "http://host:port/" and "http://host:port" name the same backend. */
    while (o->backend[0] && o->backend[strlen(o->backend) - 1] == '/')
        o->backend[strlen(o->backend) - 1] = '\0';
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        err_set(e, errno, "state-dir", "cannot create '%s': %s", dir, strerror(errno));
        free(o);
        return NULL;
    }
    if (outbox_lock_dir(o, e) < 0) {
        free(o);
        return NULL;
    }
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    outbox_load(o);
    for (struct outbox_item *it = o->items; it; it = it->next)
        pending += !strcmp(outbox_state(it), "pending");
    if (pending)
        log_info("outbox: %zu undelivered adjustments will be resent", pending);
    return o;
}

int outbox_start(struct outbox *o, struct err *e)
{
    int r = pthread_create(&o->thread, NULL, outbox_thread, o);

    if (r) {
        o->thread = 0;
        return err_set(e, r, "", "cannot start the outbox thread: %s", strerror(r));
    }
    return 0;
}

void outbox_free(struct outbox *o)
{
    if (!o)
        return;
    if (o->thread) {
        pthread_mutex_lock(&o->lock);
        o->stop = true;
        pthread_cond_signal(&o->cond);
        pthread_mutex_unlock(&o->lock);
        pthread_join(o->thread, NULL);
    }
    /* Requests still waiting for a first attempt get "queued": the item is on disk and will be
     * sent after the restart. */
    for (struct outbox_item *it = o->items; it; it = it->next)
        outbox_tell_first(it);
    while (o->items) {
        struct outbox_item *it = o->items;

        o->items = it->next;
        json_decref(it->doc);
        free(it);
    }
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
    fdio_close(&o->lock_fd); /* releases the flock */
    free(o);
}

/* processor_id must be safe inside a URL path segment. */
static bool outbox_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int outbox_add(struct outbox *o, json_t *body, char *id, outbox_first_fn fn, void *arg,
               struct err *e)
{
    const char *pid = NULL, *reason = NULL, *exec_id = NULL;
    json_t *adj = NULL, *doc;
    char when[40];
    int r;

    if ((r = json_util_get_str(body, "processor_id", &pid, NULL, e)) < 0)
        return r;
    if (r == 1 || !outbox_id_ok(pid))
        return err_set(e, ERR_INVALID, "processor_id",
                       "field 'processor_id' is required: 1-128 of [A-Za-z0-9._:-]");
    if ((r = json_util_get_object(body, "adjustments", &adj, e)) < 0)
        return r;
    if (r == 1)
        return err_set(e, ERR_INVALID, "adjustments",
                       "field 'adjustments' (an object) is required");
    if (json_util_get_str(body, "reason", &reason, NULL, e) < 0 ||
        json_util_get_str(body, "execution_id", &exec_id, NULL, e) < 0)
        return -ERR_INVALID;
    if ((r = ids_uuid4(id)) < 0)
        return err_set(e, ERR_UNAVAILABLE, "", "cannot create an id: %s", strerror(-r));
    clock_iso(clock_real_ns(), when, sizeof(when));
    doc =
        json_pack("{s:s, s:s, s:O, s:s?, s:s?, s:s, s:s, s:i, s:n, s:n}", "id", id, "processor_id",
                  pid, "adjustments", adj, "reason", reason, "execution_id", exec_id, "state",
                  "pending", "created_at", when, "attempts", 0, "last_error", "http_status");
    if (!doc)
        return err_set(e, ENOMEM, "", "out of memory");
    if (!json_object_get(doc, "reason"))
        json_object_set_new(doc, "reason", json_null());
    if (!json_object_get(doc, "execution_id"))
        json_object_set_new(doc, "execution_id", json_null());
    if (!o->backend[0])
        json_object_set_new(doc, "last_error", json_string(OUTBOX_NO_BACKEND));

    pthread_mutex_lock(&o->lock);
    if (o->n_items >= OUTBOX_MAX_ITEMS) {
        pthread_mutex_unlock(&o->lock);
        json_decref(doc);
        return err_set(e, ERR_BUSY, "", "the outbox holds %d items", OUTBOX_MAX_ITEMS);
    }
    if ((r = outbox_push(o, doc)) < 0) {
        pthread_mutex_unlock(&o->lock);
        json_decref(doc);
        return err_set(e, ENOMEM, "", "out of memory");
    }
    if ((r = outbox_persist(o, o->items)) < 0) {
        /* Not on disk means not accepted: undo the push (the head is ours). */
        struct outbox_item *it = o->items;

        o->items = it->next;
        o->n_items--;
        pthread_mutex_unlock(&o->lock);
        json_decref(it->doc);
        free(it);
        return err_set(e, ERR_INTERNAL, "", "cannot write the outbox: %s", strerror(-r));
    }
    o->items->first_fn = fn;
    o->items->first_arg = arg;
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->lock);
    return 0;
}

json_t *outbox_list(struct outbox *o, const char *processor_id)
{
    json_t *arr = json_array();

    pthread_mutex_lock(&o->lock);
    for (struct outbox_item *it = o->items; it && arr; it = it->next) {
        const char *p = json_string_value(json_object_get(it->doc, "processor_id"));

        if (!processor_id || (p && !strcmp(p, processor_id)))
            json_array_append_new(arr, json_deep_copy(it->doc));
    }
    pthread_mutex_unlock(&o->lock);
    return arr;
}

json_t *outbox_health(struct outbox *o)
{
    size_t pending = 0, delivered = 0, rejected = 0;

    pthread_mutex_lock(&o->lock);
    for (struct outbox_item *it = o->items; it; it = it->next) {
        const char *s = outbox_state(it);

        pending += !strcmp(s, "pending");
        delivered += !strcmp(s, "delivered");
        rejected += !strcmp(s, "rejected");
    }
    pthread_mutex_unlock(&o->lock);
    return json_pack("{s:I, s:I, s:I, s:s?}", "pending", (json_int_t)pending, "delivered",
                     (json_int_t)delivered, "rejected", (json_int_t)rejected, "backend",
                     o->backend[0] ? o->backend : NULL);
}
