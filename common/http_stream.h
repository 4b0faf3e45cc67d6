/* http_stream.h - a server-sent events (text/event-stream) response over http_srv, for both
 * daemons: a queue of encoded events that a libmicrohttpd callback response sends; when the queue
 * is empty the connection is suspended (no thread, no busy loop) until the producer wakes it;
 * ": keep-alive" comments go out during long silences; the end closes the chunked body.
 *
 * Two kinds of producer:
 * - pull: ops.pull runs on the MHD thread whenever the queue is empty and adds what is new (the
 *   agent reads an execution's output there); another thread only calls http_stream_wake.
 * - push: another thread adds bytes (http_stream_push_raw), bounded: a full queue refuses them
 *   and ops.drained tells when there is room again (the orchestrator pauses its agent transfer).
 *
 * Threads: http_stream_event, _comment, _push_raw, _end and _wake from any thread (each takes the
 * stream's lock); ops callbacks never run with that lock held. */
#ifndef SANDPIT_HTTP_STREAM_H
#define SANDPIT_HTTP_STREAM_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "http_srv.h"

#define HTTP_STREAM_KEEPALIVE_MS 15000        /* default silence before a ": keep-alive" comment */
#define HTTP_STREAM_QUEUE_MAX    (256u << 10) /* bytes queued before push_raw refuses more */
#define HTTP_STREAM_TEXT_MAX     (16u << 10)  /* bytes of output per stdout/stderr event */

struct http_stream;
struct http_stream_hub;

struct http_stream_ops {
    /* MHD thread, queue empty: adds what is new, or nothing (the stream then sleeps until
     * http_stream_wake), or ends the stream. NULL for a push producer. */
    void (*pull)(void *arg, struct http_stream *s);
    /* A push that was refused can be retried: the queue drained to half (MHD thread). NULL ok. */
    void (*drained)(void *arg);
    /* The response is over (sent, or the client went away): the producer must stop using s
     * before returning (no wake after) and frees arg. Runs exactly once. */
    void (*close)(void *arg);
};

/* Queues a 200 text/event-stream response on r whose events come from ops/arg. *out is the
 * stream (borrowed until ops.close). On failure ops.close(arg) has already run, *out is NULL,
 * and the result is MHD's (MHD_NO closes the connection). keepalive_ms 0 = the default. */
enum MHD_Result http_stream_start(struct http_req *r, const struct http_stream_ops *ops, void *arg,
                                  long keepalive_ms, struct http_stream **out);

/* Whether r asks for a stream (Accept names text/event-stream): 1 yes, 0 no, or -ERR_INVALID
 * with e set when its ?keepalive= (seconds in [1, 300]) is bad. *keepalive_ms gets the silence
 * before a keep-alive comment. */
int http_stream_wanted(const struct http_req *r, long *keepalive_ms, struct err *e);

/* Appends an event: "event: <name>" and the data as "data:" lines (split at CR, LF, CRLF as a
 * client joins them back with LF). 0 or -ENOMEM. Any thread; the stream is woken. */
int http_stream_event(struct http_stream *s, const char *name, const char *data, size_t len);
/* Appends the event name with data {"text": "<p as a JSON string>"}: at most n bytes of p,
 * stopping before a UTF-8 sequence cut at the end (unless final) and after
 * HTTP_STREAM_TEXT_MAX bytes; *used says how many were taken. 0 or -ENOMEM. */
int http_stream_text(struct http_stream *s, const char *name, const char *p, size_t n, bool final,
                     size_t *used);
/* Appends raw, already encoded bytes (a passthrough). true when taken; false when the queue is
 * full (nothing taken: ops.drained says when to retry) or on OOM (then the stream is ended). */
bool http_stream_push_raw(struct http_stream *s, const char *p, size_t n);
/* No more events: the body ends once the queue is sent. Any thread. */
void http_stream_end(struct http_stream *s);
/* Makes the MHD thread look again (pull, or send what was queued). Any thread. */
void http_stream_wake(struct http_stream *s);

/* The encoders, pure (unit-tested): append to b. 0 or -ENOMEM. */
int http_stream_encode(struct buf *b, const char *name, const char *data, size_t len);
/* {"text": ...} of the bytes taken (see http_stream_text); *used as there. */
int http_stream_encode_text(struct buf *b, const char *name, const char *p, size_t n, bool final,
                            size_t *used);
/* The length of p's first n bytes without a trailing UTF-8 sequence that more bytes could
 * complete. */
size_t http_stream_utf8_whole(const char *p, size_t n);

/* The server's list of open streams and the thread that sends keep-alives. http_srv owns one. */
/* New hub with its thread started (free with http_stream_hub_free), or NULL. */
struct http_stream_hub *http_stream_hub_new(void);
/* Ends every open stream and wakes it, so no connection stays suspended (before
 * MHD_stop_daemon). */
void http_stream_hub_close_all(struct http_stream_hub *h);
/* Stops the thread and frees; every stream must be closed. NULL ok. */
void http_stream_hub_free(struct http_stream_hub *h);

#endif
