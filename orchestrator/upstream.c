/* upstream.c - libcurl multi loop on one thread (see upstream.h). */
#include "upstream.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "token.h"

#define UPSTREAM_MAX_CONNECTS  256  /* idle keep-alive connections the cache holds */
#define UPSTREAM_CONNECT_MS    3000 /* connect timeout: agents are near */
#define UPSTREAM_MAX_WAIT_MS   1000 /* longest sleep without a timer due */
#define UPSTREAM_DRAIN_ROUNDS  1000 /* bound on stop-time draining */
#define UPSTREAM_SHUTDOWN_TEXT "the orchestrator is shutting down"

struct upstream_task {
    upstream_fn fn;
    void *arg;
    struct upstream_task *next;
};

struct upstream_timer {
    int64_t due_ns;
    upstream_fn fn;
    void *arg;
    struct upstream_timer *next; /* sorted by due_ns */
};

struct upstream_xfer {
    CURL *easy;
    struct curl_slist *headers;
    struct buf body;
    char errbuf[CURL_ERROR_SIZE];
    upstream_done_fn done;
    void *arg;
    upstream_data_fn on_data; /* a streamed body, or NULL */
    void *data_arg;
    struct upstream_xfer *prev, *next; /* every running transfer */
};

struct upstream {
    CURLM *multi;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;        /* guards tasks, stopping, dead */
    struct upstream_task *tasks; /* posted, newest last */
    struct upstream_task **tasks_tail;
    bool stopping;                 /* upstream_stop was called */
    bool dead;                     /* the loop has exited: posts are refused */
    struct upstream_timer *timers; /* loop thread only */
    struct upstream_xfer *xfers;   /* loop thread only */
    const char *token;             /* the agents' shared secret, or NULL (borrowed) */
};

struct upstream *upstream_new(const char *token, struct err *e)
{
    struct upstream *u = calloc(1, sizeof(*u));

    if (!u) {
        err_set(e, ENOMEM, "", "out of memory");
        return NULL;
    }
    u->token = token && *token ? token : NULL;
    u->multi = curl_multi_init();
    if (!u->multi) {
        free(u);
        err_set(e, ENOMEM, "", "curl_multi_init failed");
        return NULL;
    }
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, (long)UPSTREAM_MAX_CONNECTS);
    pthread_mutex_init(&u->lock, NULL);
    u->tasks_tail = &u->tasks;
    return u;
}

bool upstream_stopping(struct upstream *u)
{
    bool s;

    pthread_mutex_lock(&u->lock);
    s = u->stopping;
    pthread_mutex_unlock(&u->lock);
    return s;
}

int upstream_post(struct upstream *u, upstream_fn fn, void *arg)
{
    struct upstream_task *t = malloc(sizeof(*t));

    if (!t)
        return -ENOMEM;
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&u->lock);
    if (u->dead) {
        pthread_mutex_unlock(&u->lock);
        free(t);
        return -ESHUTDOWN;
    }
    *u->tasks_tail = t;
    u->tasks_tail = &t->next;
    pthread_mutex_unlock(&u->lock);
    curl_multi_wakeup(u->multi);
    return 0;
}

int upstream_after(struct upstream *u, long delay_ms, upstream_fn fn, void *arg)
{
    struct upstream_timer *t = malloc(sizeof(*t)), **pp;

    if (!t)
        return -ENOMEM;
    t->due_ns = clock_mono_ns() + (int64_t)(delay_ms > 0 ? delay_ms : 0) * 1000000;
    t->fn = fn;
    t->arg = arg;
    for (pp = &u->timers; *pp && (*pp)->due_ns <= t->due_ns; pp = &(*pp)->next)
        ;
    t->next = *pp;
    *pp = t;
    return 0;
}

/* A streamed body's bytes go to the caller, who may keep them for resp->body after all. */
static size_t upstream_on_stream(struct upstream_xfer *x, char *p, size_t n)
{
    const char *ctype = NULL;
    long status = 0;

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype);
    switch (x->on_data(x->data_arg, status, ctype, p, n)) {
    case UPSTREAM_DATA_TAKEN:
        return n;
    case UPSTREAM_DATA_PAUSE:
        return CURL_WRITEFUNC_PAUSE;
    case UPSTREAM_DATA_ABORT:
        return 0;
    case UPSTREAM_DATA_KEEP:
        break;
    }
    return buf_append(&x->body, p, n) < 0 ? 0 : n;
}

void upstream_unpause(struct upstream *u, void *data_arg)
{
    for (struct upstream_xfer *x = u->xfers; x; x = x->next) {
        if (x->on_data && x->data_arg == data_arg) {
            curl_easy_pause(x->easy, CURLPAUSE_CONT);
            return;
        }
    }
}

static size_t upstream_on_data(char *p, size_t size, size_t n, void *arg)
{
    struct upstream_xfer *x = arg;

    if (x->on_data)
        return upstream_on_stream(x, p, size * n);
    if (buf_append(&x->body, p, size * n) < 0)
        return 0; /* over the cap or OOM: curl ends the transfer with CURLE_WRITE_ERROR */
    return size * n;
}

static void upstream_xfer_free(struct upstream *u, struct upstream_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        u->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    curl_multi_remove_handle(u->multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    buf_done(&x->body);
    free(x);
}

int upstream_fetch(struct upstream *u, const struct upstream_req *req, upstream_done_fn done,
                   void *arg)
{
    struct upstream_xfer *x;
    char hdr[TOKEN_MAX + 32];
    CURL *h;

    if (upstream_stopping(u))
        return -ESHUTDOWN;
    x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    buf_init(&x->body, UPSTREAM_MAX_RESPONSE);
    x->done = done;
    x->arg = arg;
    x->on_data = req->on_data;
    x->data_arg = req->data_arg;
    h = x->easy = curl_easy_init();
    if (!h)
        goto fail;
    /* "Expect:" stops curl from waiting for 100-continue on bodies over 1 KiB. */
    x->headers = curl_slist_append(NULL, "Expect:");
    if (x->headers && req->body) {
        snprintf(hdr, sizeof(hdr), "Content-Type: %.100s",
                 req->content_type ? req->content_type : "application/json");
        x->headers = curl_slist_append(x->headers, hdr);
    }
    if (x->headers && req->req_id) {
        snprintf(hdr, sizeof(hdr), "X-Request-Id: %s", req->req_id);
        x->headers = curl_slist_append(x->headers, hdr);
    }
    if (x->headers && req->accept) {
        snprintf(hdr, sizeof(hdr), "Accept: %.100s", req->accept);
        x->headers = curl_slist_append(x->headers, hdr);
    }
    if (x->headers && u->token) {
        snprintf(hdr, sizeof(hdr), "%s: %s", TOKEN_HEADER, u->token);
        x->headers = curl_slist_append(x->headers, hdr);
        explicit_bzero(hdr, sizeof(hdr));
    }
    if (!x->headers)
        goto fail;
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     req->timeout_ms < UPSTREAM_CONNECT_MS ? req->timeout_ms
                                                           : (long)UPSTREAM_CONNECT_MS);
    /* The path as built: a session file path's "../" must reach the agent (which refuses
     * it), not be folded by libcurl into another agent route. */
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    /* Agents are reached directly, whatever http_proxy the environment holds. */
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, upstream_on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    if (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT")) {
        /* PUT as a POST with another verb: the body goes from memory the same way. */
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        if (req->method[1] == 'U')
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    } else if (!strcmp(req->method, "DELETE")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else if (!strcmp(req->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        goto fail;
    }
    if (curl_multi_add_handle(u->multi, h) != CURLM_OK)
        goto fail;
    x->next = u->xfers;
    if (u->xfers)
        u->xfers->prev = x;
    u->xfers = x;
    return 0;
fail:
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    buf_done(&x->body);
    free(x);
    return strcmp(req->method, "POST") && strcmp(req->method, "GET") &&
                   strcmp(req->method, "DELETE") && strcmp(req->method, "PUT")
               ? -EINVAL
               : -ENOMEM;
}

/* Ends x: runs its callback with the outcome, then frees it. */
static void upstream_finish(struct upstream *u, struct upstream_xfer *x, CURLcode code,
                            bool shutdown)
{
    struct upstream_resp r = {.curl_code = (int)code, .err = "", .shutdown = shutdown};
    double secs = 0;

    r.body = x->body;
    buf_init(&x->body, 0);
    if (!shutdown) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &secs);
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &r.content_type);
    }
    r.seconds = secs;
    if (shutdown)
        r.err = UPSTREAM_SHUTDOWN_TEXT;
    else if (code == CURLE_WRITE_ERROR)
        r.err = "the agent's response is too large";
    else if (code != CURLE_OK)
        r.err = x->errbuf[0] ? x->errbuf : curl_easy_strerror(code);
    r.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    x->done(x->arg, &r);
    buf_done(&r.body);
    upstream_xfer_free(u, x);
}

/* Runs every posted task; returns how many ran. */
static int upstream_run_tasks(struct upstream *u)
{
    struct upstream_task *t, *next;
    int n = 0;

    pthread_mutex_lock(&u->lock);
    t = u->tasks;
    u->tasks = NULL;
    u->tasks_tail = &u->tasks;
    pthread_mutex_unlock(&u->lock);
    for (; t; t = next) {
        next = t->next;
        t->fn(t->arg);
        free(t);
        n++;
    }
    return n;
}

/* Runs timers due by now (all of them when now < 0); returns how many ran. */
static int upstream_run_timers(struct upstream *u, int64_t now)
{
    int n = 0;

    while (u->timers && (now < 0 || u->timers->due_ns <= now)) {
        struct upstream_timer *t = u->timers;

        u->timers = t->next;
        t->fn(t->arg);
        free(t);
        n++;
    }
    return n;
}

/* Completes finished transfers; returns how many. */
static int upstream_reap(struct upstream *u)
{
    CURLMsg *m;
    int left, n = 0;

    while ((m = curl_multi_info_read(u->multi, &left))) {
        struct upstream_xfer *x = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x) {
            upstream_finish(u, x, m->data.result, false);
            n++;
        }
    }
    return n;
}

static void upstream_drain(struct upstream *u)
{
    for (int round = 0; round < UPSTREAM_DRAIN_ROUNDS; round++) {
        int n = upstream_run_tasks(u) + upstream_run_timers(u, -1);

        while (u->xfers) {
            upstream_finish(u, u->xfers, CURLE_ABORTED_BY_CALLBACK, true);
            n++;
        }
        if (n == 0) {
            pthread_mutex_lock(&u->lock);
            if (!u->tasks) {
                u->dead = true;
                pthread_mutex_unlock(&u->lock);
                return;
            }
            pthread_mutex_unlock(&u->lock);
        }
    }
    pthread_mutex_lock(&u->lock);
    u->dead = true;
    pthread_mutex_unlock(&u->lock);
}

static void *upstream_loop(void *arg)
{
    struct upstream *u = arg;

    for (;;) {
        int running = 0, n;
        int64_t now;
        long wait_ms = UPSTREAM_MAX_WAIT_MS;

        if (upstream_stopping(u)) {
            upstream_drain(u);
            return NULL;
        }
        n = upstream_run_tasks(u);
        n += upstream_run_timers(u, clock_mono_ns());
        curl_multi_perform(u->multi, &running);
        n += upstream_reap(u);
        now = clock_mono_ns();
        if (n > 0) {
            wait_ms = 0; /* callbacks may have started transfers or armed timers */
        } else if (u->timers) {
            int64_t d = (u->timers->due_ns - now) / 1000000;
            if (d < wait_ms)
                wait_ms = d > 0 ? (long)d : 0;
        }
        if (wait_ms > 0)
            curl_multi_poll(u->multi, NULL, 0, (int)wait_ms, NULL);
    }
}

int upstream_start(struct upstream *u)
{
    int r = pthread_create(&u->thread, NULL, upstream_loop, u);

    if (r)
        return -r;
    u->started = true;
    return 0;
}

void upstream_stop(struct upstream *u)
{
    if (!u)
        return;
    pthread_mutex_lock(&u->lock);
    u->stopping = true;
    pthread_mutex_unlock(&u->lock);
    if (!u->started) {
        upstream_drain(u);
        return;
    }
    curl_multi_wakeup(u->multi);
    pthread_join(u->thread, NULL);
    u->started = false;
}

void upstream_free(struct upstream *u)
{
    if (!u)
        return;
    if (!upstream_stopping(u) || u->started)
        upstream_stop(u);
    while (u->xfers)
        upstream_xfer_free(u, u->xfers);
    while (u->timers) {
        struct upstream_timer *t = u->timers;
        u->timers = t->next;
        free(t);
    }
    while (u->tasks) {
        struct upstream_task *t = u->tasks;
        u->tasks = t->next;
        free(t);
    }
    curl_multi_cleanup(u->multi);
    pthread_mutex_destroy(&u->lock);
    free(u);
}
