/* http_stream.c - server-sent events over a suspended libmicrohttpd callback response. */
#include "http_stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "json_out.h"

#define HTTP_STREAM_BLOCK   (16u << 10) /* bytes MHD asks for at most per call */
#define HTTP_STREAM_TICK_MS 250         /* how often the hub looks for silent streams */

static const char http_stream_ping[] = ": keep-alive\n\n";

struct http_stream {
    struct MHD_Connection *conn;
    const struct http_stream_ops *ops;
    void *arg;
    struct http_stream_hub *hub;
    int64_t keepalive_ns;
    pthread_mutex_t lock;
    struct buf q;    /* guarded by lock: encoded bytes not yet given to MHD, from head */
    size_t head;     /* guarded by lock */
    bool ended;      /* guarded by lock: no event after the queue */
    bool suspended;  /* guarded by lock: we suspended the connection */
    bool woken;      /* guarded by lock: a wake came since the last pull */
    bool ping;       /* guarded by lock: a keep-alive is due */
    bool refused;    /* guarded by lock: a push was refused (ops.drained owed) */
    int64_t last_ns; /* guarded by lock: when bytes last went to MHD */
    struct http_stream *prev, *next; /* in the hub, guarded by the hub's lock */
};

struct http_stream_hub {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool stop;                 /* guarded by lock */
    struct http_stream *items; /* guarded by lock */
};

/* ---- encoders (pure) ---- */

int http_stream_encode(struct buf *b, const char *name, const char *data, size_t len)
{
    size_t i = 0;
    int rc = buf_printf(b, "event: %s\n", name);

    /* A data line ends at CR, LF or CRLF; the client joins the lines with LF. */
    while (rc == 0) {
        size_t j = i;

        while (j < len && data[j] != '\n' && data[j] != '\r')
            j++;
        rc = buf_append(b, "data: ", 6);
        if (rc == 0)
            rc = buf_append(b, data + i, j - i);
        if (rc == 0)
            rc = buf_append(b, "\n", 1);
        if (j >= len)
            break;
        i = j + (data[j] == '\r' && j + 1 < len && data[j + 1] == '\n' ? 2 : 1);
        if (i == len && rc == 0) {
            rc = buf_append(b, "data: \n", 7); /* the trailing empty line */
            break;
        }
    }
    return rc == 0 ? buf_append(b, "\n", 1) : rc;
}

size_t http_stream_utf8_whole(const char *p, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)p[n - back];
        size_t need;

        if ((c & 0xC0) == 0x80)
            continue; /* a continuation byte: look for its lead */
        need = c >= 0xF0 && c <= 0xF4  ? 4
               : c >= 0xE0 && c < 0xF0 ? 3
               : c >= 0xC2 && c < 0xE0 ? 2
                                       : 1;
        return need > back ? n - back : n;
    }
    return n;
}

int http_stream_encode_text(struct buf *b, const char *name, const char *p, size_t n, bool final,
                            size_t *used)
{
    size_t take = n < HTTP_STREAM_TEXT_MAX ? n : HTTP_STREAM_TEXT_MAX;
    int rc;

    /* Hold back a character cut by the chunk's end: the next chunk completes it, so the text
     * does not get a U+FFFD the result's stdout does not have. */
    if (!final || take < n) {
        size_t whole = http_stream_utf8_whole(p, take);

        if (whole > 0 || take < 4)
            take = whole;
    }
    *used = take;
    if (take == 0)
        return 0;
    rc = buf_printf(b, "event: %s\ndata: {\"text\":\"", name);
    if (rc == 0)
        rc = json_out_append_chars(b, p, take);
    return rc == 0 ? buf_append(b, "\"}\n\n", 4) : rc;
}

/* ---- the stream ---- */

int http_stream_wanted(const struct http_req *r, long *keepalive_ms, struct err *e)
{
    const char *accept = http_req_header(r, MHD_HTTP_HEADER_ACCEPT);
    long secs;

    *keepalive_ms = HTTP_STREAM_KEEPALIVE_MS;
    if (!accept || !strcasestr(accept, "text/event-stream"))
        return 0;
    if (http_req_query_long(r, "keepalive", 1, 300, HTTP_STREAM_KEEPALIVE_MS / 1000, &secs, e) < 0)
        return -ERR_INVALID;
    *keepalive_ms = secs * 1000;
    return 1;
}

/* Wakes s's connection if we suspended it. s->lock held. */
static void http_stream_resume_locked(struct http_stream *s)
{
    s->woken = true;
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

void http_stream_wake(struct http_stream *s)
{
    pthread_mutex_lock(&s->lock);
    http_stream_resume_locked(s);
    pthread_mutex_unlock(&s->lock);
}

/* Appends to the queue under the lock and wakes. rc of the append. */
static int http_stream_append(struct http_stream *s, const char *p, size_t n)
{
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = s->ended ? 0 : buf_append(&s->q, p, n);
    http_stream_resume_locked(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int http_stream_event(struct http_stream *s, const char *name, const char *data, size_t len)
{
    struct buf b;
    int rc;

    buf_init(&b, 0);
    rc = http_stream_encode(&b, name, data, len);
    if (rc == 0)
        rc = http_stream_append(s, b.data, b.len);
    buf_done(&b);
    return rc;
}

int http_stream_text(struct http_stream *s, const char *name, const char *p, size_t n, bool final,
                     size_t *used)
{
    struct buf b;
    int rc;

    buf_init(&b, 0);
    rc = http_stream_encode_text(&b, name, p, n, final, used);
    if (rc == 0 && b.len)
        rc = http_stream_append(s, b.data, b.len);
    buf_done(&b);
    return rc;
}

bool http_stream_push_raw(struct http_stream *s, const char *p, size_t n)
{
    bool taken = true;

    pthread_mutex_lock(&s->lock);
    if (!s->ended) {
        if (s->q.len - s->head > 0 && s->q.len - s->head + n > HTTP_STREAM_QUEUE_MAX) {
            s->refused = true;
            taken = false;
        } else if (buf_append(&s->q, p, n) < 0) {
            s->ended = true; /* out of memory: what is queued goes, then the end */
        }
    }
    http_stream_resume_locked(s);
    pthread_mutex_unlock(&s->lock);
    return taken;
}

void http_stream_end(struct http_stream *s)
{
    pthread_mutex_lock(&s->lock);
    s->ended = true;
    http_stream_resume_locked(s);
    pthread_mutex_unlock(&s->lock);
}

/* Moves up to max queued bytes to out. s->lock held. Returns how many; *drained when a refused
 * push may now be retried. */
static size_t http_stream_take(struct http_stream *s, char *out, size_t max, bool *drained)
{
    size_t n = s->q.len - s->head;

    if (n > max)
        n = max;
    memcpy(out, s->q.data + s->head, n);
    s->head += n;
    if (s->head == s->q.len) {
        s->q.len = s->head = 0;
    } else if (s->head > s->q.len / 2) {
        memmove(s->q.data, s->q.data + s->head, s->q.len - s->head);
        s->q.len -= s->head;
        s->head = 0;
    }
    if (s->refused && s->q.len - s->head <= HTTP_STREAM_QUEUE_MAX / 2) {
        s->refused = false;
        *drained = true;
    }
    s->last_ns = clock_mono_ns();
    return n;
}

/* MHD's content reader: queued bytes, else a pull, else a keep-alive, else sleep. */
static ssize_t http_stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct http_stream *s = cls;
    bool drained = false;
    ssize_t n = 0;

    (void)pos;
    pthread_mutex_lock(&s->lock);
    for (bool first = true;; first = false) {
        if (s->q.len > s->head) {
            n = (ssize_t)http_stream_take(s, out, max, &drained);
            break;
        }
        if (s->ended) {
            n = MHD_CONTENT_READER_END_OF_STREAM;
            break;
        }
        /* Pull again while wakes come in during a pull: each says there is more. */
        if (s->ops->pull && (first || s->woken)) {
            s->woken = false;
            pthread_mutex_unlock(&s->lock);
            s->ops->pull(s->arg, s);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        if (s->ping) {
            s->ping = false;
            n = (ssize_t)(sizeof(http_stream_ping) - 1);
            memcpy(out, http_stream_ping, (size_t)n);
            s->last_ns = clock_mono_ns();
            break;
        }
        /* Nothing to send: sleep until a wake. MHD allows suspending from a content reader;
         * returning 0 without it would spin the poll thread. */
        s->woken = false;
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        break;
    }
    pthread_mutex_unlock(&s->lock);
    if (drained && s->ops->drained)
        s->ops->drained(s->arg);
    return n;
}

static void http_stream_hub_add(struct http_stream_hub *h, struct http_stream *s)
{
    pthread_mutex_lock(&h->lock);
    s->next = h->items;
    if (h->items)
        h->items->prev = s;
    h->items = s;
    pthread_mutex_unlock(&h->lock);
}

static void http_stream_hub_remove(struct http_stream_hub *h, struct http_stream *s)
{
    pthread_mutex_lock(&h->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->items = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&h->lock);
}

/* MHD frees the response: the connection is over. The producer lets go first, then the hub, so
 * nothing can wake s once it is freed. */
static void http_stream_free(void *cls)
{
    struct http_stream *s = cls;

    s->ops->close(s->arg);
    if (s->hub)
        http_stream_hub_remove(s->hub, s);
    pthread_mutex_destroy(&s->lock);
    buf_done(&s->q);
    free(s);
}

enum MHD_Result http_stream_start(struct http_req *r, const struct http_stream_ops *ops, void *arg,
                                  long keepalive_ms, struct http_stream **out)
{
    struct http_stream *s = calloc(1, sizeof(*s));
    struct MHD_Response *resp;
    enum MHD_Result res;

    *out = NULL;
    if (!s) {
        ops->close(arg);
        return http_req_json_take(r, 0, NULL); /* 503 */
    }
    s->conn = http_req_conn(r);
    s->ops = ops;
    s->arg = arg;
    s->keepalive_ns = (keepalive_ms > 0 ? keepalive_ms : HTTP_STREAM_KEEPALIVE_MS) * 1000000LL;
    s->last_ns = clock_mono_ns();
    buf_init(&s->q, 0);
    pthread_mutex_init(&s->lock, NULL);
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_STREAM_BLOCK, http_stream_read,
                                             s, http_stream_free);
    if (!resp) {
        http_stream_free(s);
        return http_req_json_take(r, 0, NULL);
    }
    s->hub = http_req_stream_hub(r);
    if (s->hub)
        http_stream_hub_add(s->hub, s);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* nginx: do not buffer */
    MHD_add_response_header(resp, "X-Request-Id", http_req_id(r));
    *out = s;
    res = MHD_queue_response(http_req_conn(r), MHD_HTTP_OK, resp);
    if (res != MHD_YES)
        *out = NULL;
    MHD_destroy_response(resp); /* on failure this frees s, closing the producer */
    return res;
}

/* ---- the hub: keep-alives and shutdown ---- */

static void *http_stream_hub_loop(void *arg)
{
    struct http_stream_hub *h = arg;

    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        struct timespec until;
        int64_t now;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += HTTP_STREAM_TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->cond, &h->lock, &until);
        now = clock_mono_ns();
        for (struct http_stream *s = h->items; s && !h->stop; s = s->next) {
            pthread_mutex_lock(&s->lock);
            if (s->suspended && now - s->last_ns >= s->keepalive_ns) {
                s->ping = true;
                s->last_ns = now;
                s->suspended = false;
                MHD_resume_connection(s->conn);
            }
            pthread_mutex_unlock(&s->lock);
        }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

struct http_stream_hub *http_stream_hub_new(void)
{
    struct http_stream_hub *h = calloc(1, sizeof(*h));
    pthread_condattr_t ca;

    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&h->thread, NULL, http_stream_hub_loop, h) != 0) {
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

void http_stream_hub_close_all(struct http_stream_hub *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    for (struct http_stream *s = h->items; s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        s->ended = true;
        http_stream_resume_locked(s);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&h->lock);
}

void http_stream_hub_free(struct http_stream_hub *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
