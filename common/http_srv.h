/* http_srv.h - the one HTTP server core both daemons use (the only libmicrohttpd-aware part of
 * common/): per-request state, the capped body upload, request ids, suspend/resume/complete,
 * quiesce/drain/stop, JSON replies and JSON errors of the shape
 * {"error":{"code","message","field"?,"request_id"}} with the status from err.h's one table,
 * 405 with Allow, 413/414 as JSON, and the counters /health and /metrics show.
 *
 * Threads: MHD's poll() threads call the route function; no handler may block. Work that takes
 * time is handed to another thread, the request suspends (http_req_suspend), and that thread
 * wakes it (http_req_wake: the resume function builds the reply on an MHD thread) or completes
 * it with a ready reply (http_req_complete_take). */
#ifndef SANDPIT_HTTP_SRV_H
#define SANDPIT_HTTP_SRV_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "route_table.h"

#define HTTP_SRV_MAX_URL 8192 /* bytes of a URL (path + query) before 414 */

struct http_srv;
struct http_req;

/* Answers a request whose body is in (MHD thread): replies, or suspends. */
typedef enum MHD_Result (*http_srv_route_fn)(void *app, struct http_req *r);
/* Builds the reply of a request woken by http_req_wake (MHD thread). */
typedef enum MHD_Result (*http_req_resume_fn)(struct http_req *r);
/* Frees what a request attached with http_req_set_data, when the request is over (MHD thread).
 * It runs before the core waits out any waker, so it must first stop further wakes. */
typedef void (*http_req_data_free_fn)(struct http_req *r, void *data);
/* Adds a dialect's fields to an error body (the {"error":{...}} object, borrowed) built for this
 * request; msg is the error's message. Returns 0 or -ENOMEM. */
typedef int (*http_req_decorate_fn)(json_t *body, const char *msg);

struct http_srv_opts {
    const char *host;        /* IPv4 address to listen on */
    long port;               /* 0 picks a free one (http_srv_port tells which) */
    unsigned threads;        /* MHD poll() threads */
    size_t max_body;         /* bytes of an upload before 413 */
    const char *metrics_ns;  /* metric name prefix ("sandpit", "sandpit_orch") */
    http_srv_route_fn route; /* the daemon's router */
    void *app;               /* for route, borrowed for the server's life */
    const char *token;       /* NULL/"" = none; else every request but token_open carries it
                              * in TOKEN_HEADER (token.h) or gets 401 (borrowed) */
    const char *token_open;  /* the path served without the token, with those under it
                              * ("/health": also "/health/live", "/health/ready") */
    const char *token_kg;    /* paths under it also take the token as Jupyter Kernel Gateway
                              * clients send it: "Authorization: token T" or "?token=T" */
};

/* Starts listening. NULL with e naming "host" or "port" when the address cannot be used. */
struct http_srv *http_srv_start(const struct http_srv_opts *o, struct err *e);
/* The bound port. */
uint16_t http_srv_port(const struct http_srv *s);
/* Stops accepting connections; existing ones go on. */
void http_srv_quiesce(struct http_srv *s);
/* Waits (at most timeout_ms) until no request is in progress. */
void http_srv_drain(struct http_srv *s, int timeout_ms);
/* Stops the threads and frees; every suspended request must have been woken. NULL ok. */
void http_srv_free(struct http_srv *s);
/* {"<code>": count, ...} for every error code: new reference or NULL. */
json_t *http_srv_errors_json(const struct http_srv *s);
/* Seconds since the server started. */
double http_srv_uptime_s(const struct http_srv *s);
/* Requests received since start. */
unsigned long http_srv_requests(const struct http_srv *s);
/* SIGTERM: from now on http_srv_draining is true (readiness answers 503, routes refuse new
 * work with ERR_SHUTTING_DOWN); everything else is served as before. Any thread. */
void http_srv_set_draining(struct http_srv *s);
bool http_srv_draining(const struct http_srv *s);
/* Requests being answered now (suspended ones included, idle keep-alive connections not). */
long http_srv_in_flight(const struct http_srv *s);
/* Appends the core's metrics (requests, errors per code) in Prometheus text. 0 or -ENOMEM. */
int http_srv_metrics(const struct http_srv *s, struct buf *b);

/* The request's method, URL path (no query), X-Request-Id (a client's UUID kept, else minted):
 * borrowed, valid until the request is over. */
const char *http_req_method(const struct http_req *r);
const char *http_req_url(const struct http_req *r);
const char *http_req_id(const struct http_req *r);
/* Monotonic arrival time. */
int64_t http_req_start_ns(const struct http_req *r);
/* A query argument or header, or NULL: borrowed, valid until the request is over. */
const char *http_req_query(const struct http_req *r, const char *key);
const char *http_req_header(const struct http_req *r, const char *key);
/* The query argument key as an integer in [min, max] (def when absent). 0, or -ERR_INVALID
 * with e naming the argument. */
int http_req_query_long(const struct http_req *r, const char *key, long min, long max, long def,
                        long *out, struct err *e);
/* The uploaded body (borrowed, NUL-terminated, "" when none), or NULL when it went past the
 * cap: the caller then answers http_req_too_large. */
const char *http_req_body(const struct http_req *r, size_t *len);
/* Attaches data to the request; free_fn (may be NULL) runs when the request is over. */
void http_req_set_data(struct http_req *r, void *data, http_req_data_free_fn free_fn);
void *http_req_data(const struct http_req *r);
/* Every error body built for this request from now on goes through fn (a dialect's fields). */
void http_req_set_decorator(struct http_req *r, http_req_decorate_fn fn);

/* Queues body (taken, even on failure; NULL = out of memory: 503 busy) as JSON. */
enum MHD_Result http_req_json_take(struct http_req *r, unsigned status, json_t *body);
/* Queues data (taken, freed with free(); NULL = out of memory) with a content type. */
enum MHD_Result http_req_bytes_take(struct http_req *r, unsigned status, char *data, size_t len,
                                    const char *content_type);
/* Replies with size bytes read from fd (taken: closed when sent), a file download: with
 * nosniff, and as an attachment when HTML or SVG. */
enum MHD_Result http_req_fd_take(struct http_req *r, unsigned status, int fd, uint64_t size,
                                 const char *content_type);
/* The error body for code (err.h) with this request's id and decorator, counted: new reference,
 * or NULL on OOM. The message may quote client text cut anywhere (kept as valid UTF-8). */
json_t *http_req_error_body(struct http_req *r, int code, const char *field, const char *msg);
/* Queues an error reply; status from err_http_status(code); 503 carries Retry-After. */
enum MHD_Result http_req_error(struct http_req *r, int code, const char *field, const char *fmt,
                               ...) __attribute__((format(printf, 4, 5)));
/* Queues e as an error reply (code, field, message). */
enum MHD_Result http_req_err(struct http_req *r, const struct err *e);
/* 429 rate_limited: the error body also names the limit ("rps", "concurrent", "sessions") and
 * retry_after_s, and Retry-After says the whole seconds to wait (at least 1). */
enum MHD_Result http_req_rate_limited(struct http_req *r, const char *field, const char *limit,
                                      double retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* 413 for a body past the cap. */
enum MHD_Result http_req_too_large(struct http_req *r);
/* The reply to a route_table_match failure: 404 (ENOENT) or 405 with Allow (EPERM). Other
 * codes (EINVAL: a bad {id}) are the daemon's to answer. */
enum MHD_Result http_req_unrouted(struct http_req *r, int rc, const struct route_match *m);

/* After handing work to another thread: suspends the request until http_req_wake (then
 * resume(r) builds the reply) or http_req_complete_take (its reply is sent; resume may be NULL when
 * only complete is used). Answers at once when that already happened. MHD thread. */
enum MHD_Result http_req_suspend(struct http_req *r, http_req_resume_fn resume);
/* Wakes a suspended (or about to suspend) request. Any thread. */
void http_req_wake(struct http_req *r);
/* Wakes the request with its reply: body taken (NULL = out of memory: 503). Any thread. */
void http_req_complete_take(struct http_req *r, unsigned status, json_t *body);

/* For http_stream.c: the request's connection and the server's stream hub (borrowed, valid
 * until the request is over; the hub may be NULL). */
struct http_stream_hub;
struct MHD_Connection *http_req_conn(const struct http_req *r);
struct http_stream_hub *http_req_stream_hub(const struct http_req *r);
/* WebSocket and other protocol upgrades (MHD_ALLOW_UPGRADE). An upgraded connection's socket
 * is its owner's until http_upgraded_close; the server must not be freed before every one is
 * closed. */
struct http_upgraded;
/* Takes over an upgraded connection (MHD thread): fd, the bytes the client sent past the
 * request (extra, borrowed for the call), and r's data (http_req_data) still attached. */
typedef void (*http_upgrade_fn)(struct http_req *r, struct http_upgraded *u, int fd,
                                const char *extra, size_t extra_len);
/* Answers 101 Switching Protocols with headers (name, value pairs, NULL-terminated; borrowed
 * for the call) and hands the connection to fn once the reply is out. */
enum MHD_Result http_req_upgrade(struct http_req *r, const char *const *headers,
                                 http_upgrade_fn fn);
/* Closes an upgraded connection (any thread, once). */
void http_upgraded_close(struct http_upgraded *u);

#endif
