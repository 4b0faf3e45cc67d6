/* upstream.h - the orchestrator's one HTTP client thread: a libcurl multi handle driven by
 * curl_multi_poll, plus tasks posted from other threads and one-shot timers.
 *
 * Every agent call of the process goes through this thread, so the multi handle's connection
 * cache keeps one pool of keep-alive connections per agent (no TCP handshake per request).
 * Callbacks (tasks, timers, transfer completions) run on the loop thread, one at a time: they
 * must not block. Functions marked "loop thread" may only be called from such callbacks. */
#ifndef SANDPIT_UPSTREAM_H
#define SANDPIT_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define UPSTREAM_MAX_RESPONSE (256u << 20) /* bytes of one response body before we give up */

struct upstream;

/* What a transfer produced. */
struct upstream_resp {
    int curl_code;            /* CURLE_OK, or why the transfer failed */
    const char *err;          /* "" on success, else a message (borrowed for the callback) */
    long status;              /* HTTP status, 0 when no answer arrived */
    struct buf body;          /* the response body; the callback may buf_steal it */
    const char *content_type; /* its Content-Type, or NULL (borrowed for the callback) */
    double seconds;           /* transfer time */
    bool timed_out;           /* the transfer hit its timeout */
    bool shutdown;            /* aborted because the loop is stopping */
};

/* A streamed body's bytes (see upstream_req.on_data): what to do with them. */
enum upstream_data {
    UPSTREAM_DATA_TAKEN, /* consumed */
    UPSTREAM_DATA_KEEP,  /* not streamed after all (an error reply): into resp->body as usual */
    UPSTREAM_DATA_PAUSE, /* not consumed: pause the transfer until upstream_unpause */
    UPSTREAM_DATA_ABORT, /* end the transfer (CURLE_WRITE_ERROR) */
};
/* status and content_type (or NULL) are the response's. Loop thread. */
typedef enum upstream_data (*upstream_data_fn)(void *arg, long status, const char *content_type,
                                               const char *p, size_t n);

/* One request. Pointers are borrowed until the completion callback has run. */
struct upstream_req {
    const char *method;       /* "GET", "POST", "PUT" or "DELETE" */
    const char *url;          /* absolute */
    const char *body;         /* request body for POST and PUT, or NULL */
    size_t body_len;          /* bytes of body */
    const char *content_type; /* of body; NULL: application/json */
    const char *req_id;       /* sent as X-Request-Id, or NULL */
    long timeout_ms;          /* whole transfer */
    const char *accept;       /* sent as Accept, or NULL */
    upstream_data_fn on_data; /* NULL, or the body's bytes go here as they arrive */
    void *data_arg;           /* for on_data; also names the transfer to upstream_unpause */
};

typedef void (*upstream_fn)(void *arg);
typedef void (*upstream_done_fn)(void *arg, struct upstream_resp *resp);

/* New client (free with upstream_free); NULL with e set. curl_global_init must have run.
 * token (borrowed for the client's life; NULL or "" = none) goes with every request in the
 * X-Sandpit-Token header: the agents' shared secret. */
struct upstream *upstream_new(const char *token, struct err *e);
/* Starts the loop thread; 0 or -errno. */
int upstream_start(struct upstream *u);
/* Stops the loop: posted tasks still run, every timer fires at once, every transfer completes
 * with resp->shutdown, and new transfers are refused; returns when the thread has exited.
 * Posting afterwards fails. Any thread but the loop's. */
void upstream_stop(struct upstream *u);
/* Stops if needed and frees; NULL is fine. */
void upstream_free(struct upstream *u);

/* Runs fn(arg) on the loop thread soon. Any thread. 0, -ENOMEM, or -ESHUTDOWN once the loop
 * has exited (fn will not run). */
int upstream_post(struct upstream *u, upstream_fn fn, void *arg);
/* Starts a transfer; done(arg, resp) runs once when it ends. Loop thread. 0, or -ENOMEM /
 * -ESHUTDOWN / -EINVAL (done will not run). */
int upstream_fetch(struct upstream *u, const struct upstream_req *req, upstream_done_fn done,
                   void *arg);
/* Runs fn(arg) after delay_ms (or at once while stopping). Loop thread. 0 or -ENOMEM. */
int upstream_after(struct upstream *u, long delay_ms, upstream_fn fn, void *arg);
/* Resumes the transfer whose on_data paused it (its data_arg), if it still runs: on_data then
 * gets the held bytes again. Loop thread. */
void upstream_unpause(struct upstream *u, void *data_arg);
/* True once upstream_stop was called. Any thread. */
bool upstream_stopping(struct upstream *u);

#endif
