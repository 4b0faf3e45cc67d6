/* http_srv.c - the HTTP server core over libmicrohttpd (poll() threads, suspend/resume). */
#include "http_srv.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "http_stream.h"
#include "ids.h"
#include "json_out.h"
#include "json_util.h"
#include "log.h"
#include "prom.h"
#include "token.h"

struct http_srv {
    struct http_srv_opts o; /* strings borrowed */
    struct MHD_Daemon *daemon;
    int listen_fd; /* after http_srv_quiesce: closed after MHD_stop_daemon; else -1 */
    uint16_t port;
    int64_t started_ns; /* monotonic, for uptime */
    atomic_ulong requests;
    atomic_long in_flight; /* requests not yet completed (idle keep-alive connections excluded) */
    atomic_ulong err_counts[ERR_COUNT];
    atomic_bool draining;            /* http_srv_set_draining: readiness says no */
    struct http_stream_hub *streams; /* open event streams, their keep-alives (http_stream.c) */
};

struct http_req {
    struct http_srv *srv;
    struct MHD_Connection *conn;
    const char *method;              /* MHD's, valid for the request */
    const char *url;                 /* MHD's, valid for the request */
    char id[IDS_UUID_LEN + 1];       /* X-Request-Id */
    unsigned retry_after_s;          /* Retry-After of a 429 or 503 (0: 1 s) */
    int64_t start_ns;                /* monotonic arrival */
    struct buf body;                 /* the upload, capped at max_body */
    bool too_large;                  /* the upload went past the cap (rest discarded) */
    void *data;                      /* the daemon's, see http_req_set_data */
    http_req_data_free_fn data_free; /* frees data */
    http_req_decorate_fn decorate;   /* a dialect's error fields, or NULL */
    http_req_resume_fn resume;       /* builds the reply after a wake */
    http_upgrade_fn upgrade;         /* takes the connection over after a 101 */
    bool waiting;                    /* suspended once: the next call is a resume */
    pthread_mutex_t lock;            /* orders suspend against wake/complete */
    bool suspended;                  /* guarded by lock */
    bool done;                       /* guarded by lock: woken or completed */
    bool has_reply;                  /* guarded by lock: complete stored a reply */
    unsigned reply_status;           /* guarded by lock */
    json_t *reply;                   /* guarded by lock: owned */
};

/* The reply when even the error cannot be built: static, so it needs no memory. */
static const char http_srv_oom[] =
    "{\"error\":{\"code\":\"busy\",\"message\":\"out of memory, retry\"}}";

/* Queues a response with our headers. data is taken when must_free (freed by MHD), static
 * otherwise; NULL data = out of memory: the static 503 instead. */
static enum MHD_Result http_req_queue(struct http_req *r, unsigned status, char *data, size_t len,
                                      const char *ctype, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result res;

    if (data) {
        resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(data);
    } else {
        status = MHD_HTTP_SERVICE_UNAVAILABLE;
        ctype = "application/json";
        allow = NULL;
        atomic_fetch_add(&r->srv->err_counts[err_index(ERR_BUSY)], 1);
        resp = MHD_create_response_from_buffer(sizeof(http_srv_oom) - 1, (void *)http_srv_oom,
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE || status == MHD_HTTP_TOO_MANY_REQUESTS) {
        char secs[16];

        snprintf(secs, sizeof(secs), "%u", r->retry_after_s ? r->retry_after_s : 1);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    res = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return res;
}

enum MHD_Result http_req_bytes_take(struct http_req *r, unsigned status, char *data, size_t len,
                                    const char *content_type)
{
    return http_req_queue(r, status, data, len, content_type, NULL);
}

enum MHD_Result http_req_fd_take(struct http_req *r, unsigned status, int fd, uint64_t size,
                                 const char *content_type)
{
    struct MHD_Response *resp = MHD_create_response_from_fd((size_t)size, fd);
    enum MHD_Result res;

    if (!resp) {
        close(fd);
        return http_req_queue(r, status, NULL, 0, NULL, NULL); /* 503 */
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    /* Bytes a program wrote: a browser must not sniff them into something else, nor run a
     * page or an SVG's scripts in the API's origin. */
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (!strncmp(content_type, "text/html", 9) || !strncmp(content_type, "image/svg", 9))
        MHD_add_response_header(resp, "Content-Disposition", "attachment");
    res = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return res;
}

/* Serialises body (taken) and queues it, with an Allow header when allow is set. */
static enum MHD_Result http_req_json_allow(struct http_req *r, unsigned status, json_t *body,
                                           const char *allow)
{
    /* Shortest round-trip reals: a program's 1/3 stays 0.3333333333333333, a timing 0.25. */
    size_t len = 0;
    char *text = json_out_dumps(body, 0, &len);

    json_decref(body);
    return http_req_queue(r, status, text, len, "application/json", allow);
}

enum MHD_Result http_req_json_take(struct http_req *r, unsigned status, json_t *body)
{
    return http_req_json_allow(r, status, body, NULL);
}

json_t *http_req_error_body(struct http_req *r, int code, const char *field, const char *msg)
{
    json_t *inner = json_object(), *o = NULL;

    if (!inner)
        return NULL;
    if (json_object_set_new(inner, "code", json_string(err_name(code))) < 0 ||
        json_util_set_text(inner, "message", msg, strlen(msg)) < 0 ||
        (field && *field && json_util_set_text(inner, "field", field, strlen(field)) < 0) ||
        json_object_set_new(inner, "request_id", json_string(r->id)) < 0)
        goto fail;
    o = json_object();
    if (!o || json_object_set_new(o, "error", inner) < 0) {
        inner = NULL;
        goto fail;
    }
    if (r->decorate && r->decorate(o, msg) < 0) {
        inner = NULL;
        goto fail;
    }
    atomic_fetch_add(&r->srv->err_counts[err_index(code)], 1);
    return o;
fail:
    json_decref(inner);
    json_decref(o);
    return NULL;
}

/* Queues an error with an optional Allow header. */
static enum MHD_Result http_req_error_allow(struct http_req *r, int code, const char *field,
                                            const char *msg, const char *allow)
{
    return http_req_json_allow(r, err_http_status(code), http_req_error_body(r, code, field, msg),
                               allow);
}

enum MHD_Result http_req_error(struct http_req *r, int code, const char *field, const char *fmt,
                               ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return http_req_error_allow(r, code, field, msg, NULL);
}

enum MHD_Result http_req_rate_limited(struct http_req *r, const char *field, const char *limit,
                                      double retry_after_s, const char *fmt, ...)
{
    char msg[512];
    json_t *body;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->retry_after_s = retry_after_s < 1 ? 1 : (unsigned)ceil(retry_after_s);
    body = http_req_error_body(r, ERR_RATE_LIMITED, field, msg);
    if (body &&
        (json_object_set_new(json_object_get(body, "error"), "limit", json_string(limit)) < 0 ||
         json_object_set_new(json_object_get(body, "error"), "retry_after_s",
                             json_integer(r->retry_after_s)) < 0)) {
        json_decref(body);
        body = NULL;
    }
    return http_req_json_take(r, err_http_status(ERR_RATE_LIMITED), body);
}

enum MHD_Result http_req_err(struct http_req *r, const struct err *e)
{
    return http_req_error_allow(r, e->code ? e->code : ERR_INTERNAL, e->field, e->msg, NULL);
}

enum MHD_Result http_req_too_large(struct http_req *r)
{
    return http_req_error(r, ERR_TOO_LARGE, "body", "request body exceeds %zu bytes",
                          r->srv->o.max_body);
}

enum MHD_Result http_req_unrouted(struct http_req *r, int rc, const struct route_match *m)
{
    char msg[256];

    if (rc == -EPERM) {
        snprintf(msg, sizeof(msg), "method %.16s is not allowed on %.100s; allowed: %s", r->method,
                 r->url, m->allow);
        return http_req_error_allow(r, ERR_METHOD, NULL, msg, m->allow);
    }
    return http_req_error(r, ERR_NOT_FOUND, NULL, "no such endpoint: %.16s %.200s", r->method,
                          r->url);
}

const char *http_req_method(const struct http_req *r)
{
    return r->method;
}

const char *http_req_url(const struct http_req *r)
{
    return r->url;
}

const char *http_req_id(const struct http_req *r)
{
    return r->id;
}

int64_t http_req_start_ns(const struct http_req *r)
{
    return r->start_ns;
}

const char *http_req_query(const struct http_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_req_header(const struct http_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

int http_req_query_long(const struct http_req *r, const char *key, long min, long max, long def,
                        long *out, struct err *e)
{
    const char *s = http_req_query(r, key);
    char *end;
    long v;

    *out = def;
    if (!s)
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (*s == '\0' || *end || errno || v < min || v > max) {
        if (max == LONG_MAX)
            return err_set(e, ERR_INVALID, key, "query '%s' must be an integer >= %ld", key, min);
        return err_set(e, ERR_INVALID, key, "query '%s' must be an integer in [%ld, %ld]", key, min,
                       max);
    }
    *out = v;
    return 0;
}

const char *http_req_body(const struct http_req *r, size_t *len)
{
    if (r->too_large)
        return NULL;
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

void http_req_set_data(struct http_req *r, void *data, http_req_data_free_fn free_fn)
{
    assert(!r->data); /* one owner per request: a second would leak the first */
    r->data = data;
    r->data_free = free_fn;
}

void *http_req_data(const struct http_req *r)
{
    return r->data;
}

void http_req_set_decorator(struct http_req *r, http_req_decorate_fn fn)
{
    r->decorate = fn;
}

/* Sends what a wake or complete left: the stored reply, or the resume function's. */
static enum MHD_Result http_req_answer(struct http_req *r)
{
    json_t *reply;
    unsigned status;
    bool has;

    pthread_mutex_lock(&r->lock);
    has = r->has_reply;
    reply = r->reply;
    status = r->reply_status;
    r->reply = NULL;
    r->has_reply = false;
    pthread_mutex_unlock(&r->lock);
    if (has)
        return http_req_json_take(r, status, reply);
    if (!r->resume)
        return http_req_error(r, ERR_INTERNAL, NULL, "woken without a reply (a bug)");
    return r->resume(r);
}

enum MHD_Result http_req_suspend(struct http_req *r, http_req_resume_fn resume)
{
    bool done;

    r->resume = resume;
    r->waiting = true;
    pthread_mutex_lock(&r->lock);
    done = r->done;
    if (!done) {
        r->suspended = true;
        MHD_suspend_connection(r->conn);
    }
    pthread_mutex_unlock(&r->lock);
    return done ? http_req_answer(r) : MHD_YES;
}

void http_req_wake(struct http_req *r)
{
    pthread_mutex_lock(&r->lock);
    r->done = true;
    if (r->suspended) {
        r->suspended = false;
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&r->lock);
}

void http_req_complete_take(struct http_req *r, unsigned status, json_t *body)
{
    pthread_mutex_lock(&r->lock);
    json_decref(r->reply);
    r->reply = body;
    r->reply_status = status;
    r->has_reply = true;
    pthread_mutex_unlock(&r->lock);
    http_req_wake(r);
}

static struct http_req *http_req_new(struct http_srv *s, struct MHD_Connection *conn,
                                     const char *method, const char *url)
{
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    struct http_req *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->srv = s;
    r->conn = conn;
    r->method = method;
    r->url = url;
    r->start_ns = clock_mono_ns();
    buf_init(&r->body, s->o.max_body);
    pthread_mutex_init(&r->lock, NULL);
    /* A client's own UUID is kept so its logs and ours line up; anything else is replaced
     * rather than echoed. */
    if (rid && ids_is_uuid(rid, strlen(rid)))
        memcpy(r->id, rid, IDS_UUID_LEN + 1);
    else if (ids_uuid4(r->id) < 0)
        snprintf(r->id, sizeof(r->id), "00000000-0000-4000-8000-000000000000");
    return r;
}

/* MHD's percent-decoding of the path and arguments, except that "%00" is kept as sent: a
 * decoded NUL would cut the C string short, so "/api/status/%00%ff" would route as
 * "/api/status/" and the bad id could not be named. */
static size_t http_srv_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *w = s;

    (void)cls;
    (void)conn;
    for (const char *p = s; *p; p++) {
        const char *hi = p[0] == '%' && p[1] ? strchr(hex, tolower((unsigned char)p[1])) : NULL;
        const char *lo = hi && p[2] ? strchr(hex, tolower((unsigned char)p[2])) : NULL;

        if (lo && (hi != hex || lo != hex)) {
            *w++ = (char)((hi - hex) << 4 | (lo - hex));
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* True for the paths served without the token: token_open itself and what lies under it
 * ("/health" opens "/health/live" and "/health/ready" for probes). */
static bool http_srv_open_path(const struct http_srv *s, const char *url)
{
    size_t n = s->o.token_open ? strlen(s->o.token_open) : 0;

    return n && !strncmp(url, s->o.token_open, n) && (url[n] == 0 || url[n] == '/');
}

/* The request carries the token: in TOKEN_HEADER, or under token_kg as Jupyter Kernel Gateway
 * clients send it ("Authorization: token T", "?token=T"). */
static bool http_srv_token_ok(const struct http_srv *s, struct http_req *r)
{
    const char *auth;

    if (token_equal(http_req_header(r, TOKEN_HEADER), s->o.token))
        return true;
    if (!s->o.token_kg || strncmp(r->url, s->o.token_kg, strlen(s->o.token_kg)) != 0)
        return false;
    auth = http_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && !strncasecmp(auth, "token ", 6) && token_equal(auth + 6, s->o.token))
        return true;
    return token_equal(http_req_query(r, "token"), s->o.token);
}

static enum MHD_Result http_srv_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **con_cls)
{
    struct http_srv *s = cls;
    struct http_req *r = *con_cls;

    (void)version;
    if (!r) {
        r = http_req_new(s, conn, method, url);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&s->requests, 1);
        atomic_fetch_add(&s->in_flight, 1);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->too_large && buf_append(&r->body, upload_data, *upload_data_size) < 0)
            r->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->waiting)
        return http_req_answer(r);
    if (strlen(url) > HTTP_SRV_MAX_URL)
        return http_req_error(r, ERR_URI_TOO_LONG, "url", "the URL exceeds %d bytes",
                              HTTP_SRV_MAX_URL);
    if (s->o.token && *s->o.token && !http_srv_open_path(s, url) && !http_srv_token_ok(s, r))
        return http_req_error(r, ERR_UNAUTHORIZED, TOKEN_HEADER,
                              "this server requires the shared secret in the %s header",
                              TOKEN_HEADER);
    return s->o.route(s->o.app, r);
}

static void http_srv_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                  enum MHD_RequestTerminationCode toe)
{
    struct http_srv *s = cls;
    struct http_req *r = *con_cls;

    (void)conn;
    (void)toe;
    if (!r)
        return;
    if (r->data_free)
        r->data_free(r, r->data);
    /* A waker may still be inside r->lock: wait for it before freeing. */
    pthread_mutex_lock(&r->lock);
    pthread_mutex_unlock(&r->lock);
    pthread_mutex_destroy(&r->lock);
    json_decref(r->reply);
    buf_done(&r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

/* MHD's own diagnostics: relayed, not decided here, hence the one log call in common/. */
static void http_srv_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("libmicrohttpd: %s", msg);
}

struct http_srv *http_srv_start(const struct http_srv_opts *o, struct err *e)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    const union MHD_DaemonInfo *info;
    struct sockaddr_in bound;
    socklen_t blen = sizeof(bound);
    struct http_srv *s;

    if (inet_pton(AF_INET, o->host, &sa.sin_addr) != 1) {
        err_set(e, ERR_INVALID, "host", "--host '%s' is not an IPv4 address", o->host);
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        err_set(e, ERR_BUSY, "", "out of memory");
        return NULL;
    }
    s->o = *o;
    s->listen_fd = -1;
    s->started_ns = clock_mono_ns();
    /* The logger goes first: options before it would log through MHD's default logger.
     * poll(), not epoll: MHD 0.9.75 quiescing an epoll daemon races its own threads removing the
     * listen socket from their epoll sets and aborts the process (MHD_PANIC on ENOENT, seen
     * on SIGTERM in CI); its poll() threads learn of the quiesce through their ITC instead.
     * 64 KiB per connection lets a URL up to HTTP_SRV_MAX_URL and past it reach us, so the 414
     * is ours (JSON); only a request line past ~60 KiB gets MHD's own HTML 414. */
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG,
        (uint16_t)o->port, NULL, NULL, http_srv_handler, s, MHD_OPTION_EXTERNAL_LOGGER,
        http_srv_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE, o->threads,
        MHD_OPTION_NOTIFY_COMPLETED, http_srv_on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK,
        http_srv_unescape, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)8192, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 * 1024), MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    if (!s->daemon) {
        err_set(e, ERR_UNAVAILABLE, "port", "cannot listen on %s:%ld (in use?)", o->host, o->port);
        free(s);
        return NULL;
    }
    s->port = (uint16_t)o->port;
    s->streams = http_stream_hub_new(); /* NULL: streams go without keep-alives */
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
        s->port = ntohs(bound.sin_port);
    return s;
}

/* MHD's upgrade handler: con_cls is our request, still attached. */
static void http_srv_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
                              const char *extra, size_t extra_len, MHD_socket sock,
                              struct MHD_UpgradeResponseHandle *urh)
{
    struct http_req *r = con_cls;

    (void)cls;
    (void)conn;
    r->upgrade(r, (struct http_upgraded *)urh, sock, extra, extra_len);
}

enum MHD_Result http_req_upgrade(struct http_req *r, const char *const *headers, http_upgrade_fn fn)
{
    struct MHD_Response *resp = MHD_create_response_for_upgrade(http_srv_upgraded, NULL);
    enum MHD_Result res;

    if (!resp)
        return http_req_queue(r, 0, NULL, 0, NULL, NULL); /* 503 */
    r->upgrade = fn;
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    res = MHD_queue_response(r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    return res;
}

void http_upgraded_close(struct http_upgraded *u)
{
    (void)MHD_upgrade_action((struct MHD_UpgradeResponseHandle *)u, MHD_UPGRADE_ACTION_CLOSE);
}

uint16_t http_srv_port(const struct http_srv *s)
{
    return s->port;
}

void http_srv_quiesce(struct http_srv *s)
{
    MHD_socket fd;

    if (!s || s->listen_fd >= 0)
        return;
    fd = MHD_quiesce_daemon(s->daemon);
    if (fd == MHD_INVALID_SOCKET)
        return;
    /* New connections are refused from now on (a listening socket shut down stops listening),
     * while the fd number stays taken until MHD is done with it. */
    (void)shutdown(fd, SHUT_RDWR);
    s->listen_fd = fd;
}

void http_srv_drain(struct http_srv *s, int timeout_ms)
{
    const struct timespec tick = {.tv_nsec = 5 * 1000000};

    for (int waited = 0; s && atomic_load(&s->in_flight) > 0 && waited < timeout_ms; waited += 5)
        nanosleep(&tick, NULL);
}

void http_srv_free(struct http_srv *s)
{
    if (!s)
        return;
    http_stream_hub_close_all(s->streams); /* MHD must not stop with a suspended stream */
    MHD_stop_daemon(s->daemon);
    http_stream_hub_free(s->streams);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    free(s);
}

json_t *http_srv_errors_json(const struct http_srv *s)
{
    json_t *o = json_object();

    for (int i = 0; o && i < ERR_COUNT; i++)
        json_object_set_new(o, err_name(ERR_INVALID + i),
                            json_integer((json_int_t)atomic_load(&s->err_counts[i])));
    return o;
}

double http_srv_uptime_s(const struct http_srv *s)
{
    return (double)(clock_mono_ns() - s->started_ns) / 1e9;
}

unsigned long http_srv_requests(const struct http_srv *s)
{
    return atomic_load(&s->requests);
}

void http_srv_set_draining(struct http_srv *s)
{
    atomic_store(&s->draining, true);
}

bool http_srv_draining(const struct http_srv *s)
{
    return atomic_load(&s->draining);
}

long http_srv_in_flight(const struct http_srv *s)
{
    return atomic_load(&s->in_flight);
}

int http_srv_metrics(const struct http_srv *s, struct buf *b)
{
    static const char *const code_label[] = {"code"};
    char name[96];
    int r;

    snprintf(name, sizeof(name), "%s_requests_total", s->o.metrics_ns);
    r = prom_single(b, name, "counter", "HTTP requests received.",
                    (double)atomic_load(&s->requests));
    snprintf(name, sizeof(name), "%s_http_errors_total", s->o.metrics_ns);
    if (r == 0)
        r = prom_family(b, name, "counter", "HTTP error replies, by the error body's code.");
    for (int i = 0; r == 0 && i < ERR_COUNT; i++) {
        const char *code = err_name(ERR_INVALID + i);

        r = prom_sample(b, name, 1, code_label, &code, (double)atomic_load(&s->err_counts[i]));
    }
    if (r == 0) {
        snprintf(name, sizeof(name), "%s_uptime_seconds", s->o.metrics_ns);
        r = prom_single(b, name, "gauge", "Seconds since the server started.",
                        http_srv_uptime_s(s));
    }
    return r;
}

/* Hooks for http_stream.c, the one other file that speaks MHD. */
struct MHD_Connection *http_req_conn(const struct http_req *r)
{
    return r->conn;
}

struct http_stream_hub *http_req_stream_hub(const struct http_req *r)
{
    return r->srv->streams;
}
