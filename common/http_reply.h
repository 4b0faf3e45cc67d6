/* http_reply.h - the only libmicrohttpd-aware part of common/: JSON replies and JSON errors of
 * the shape {"error":{"code","message","field"?,"request_id"?}} (DESIGN "Cross-cutting"). */
#ifndef SANDPIT_HTTP_REPLY_H
#define SANDPIT_HTTP_REPLY_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>

#include "err.h"

/* Queues body (borrowed; serialised here) with the given status. Returns MHD_YES/MHD_NO. */
enum MHD_Result http_reply_json(struct MHD_Connection *conn, unsigned int status, json_t *body);
/* Queues body and consumes the reference, even on failure. */
enum MHD_Result http_reply_json_take(struct MHD_Connection *conn, unsigned int status,
                                     json_t *body);
/* Builds the error object {"error":{...}}: new reference, or NULL on OOM. field/req_id may be
 * NULL or "". Callers add dialect fields to the returned object before replying. */
json_t *http_reply_error_body(const char *code, const char *field, const char *req_id,
                              const char *message);
/* Queues a JSON error; 503 replies carry Retry-After: 1. */
enum MHD_Result http_reply_error(struct MHD_Connection *conn, unsigned int status, const char *code,
                                 const char *field, const char *req_id, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Queues pre-serialised bytes (taken: freed with free() by MHD) with a content type. */
enum MHD_Result http_reply_bytes_take(struct MHD_Connection *conn, unsigned int status, char *data,
                                      size_t len, const char *content_type);

/* Starts an HTTP daemon the way both sandpit daemons run: internal poll() threads (a pool of
 * threads), suspend/resume allowed, MHD's own messages relayed to our log, 60 s idle timeout,
 * 8192 connections. host is an IPv4 address; port 0 picks a free one, written to *port_out.
 * Returns the daemon (MHD_stop_daemon it) or NULL with e naming "host" or "port". */
struct MHD_Daemon *http_reply_daemon_start(const char *host, long port, unsigned threads,
                                           MHD_AccessHandlerCallback handler, void *handler_cls,
                                           MHD_RequestCompletedCallback done, void *done_cls,
                                           uint16_t *port_out, struct err *e);

/* Stops accepting connections (existing ones go on, new ones are refused). Returns the listen
 * socket, which the caller closes after MHD_stop_daemon (MHD's threads may still hold it until
 * then), or -1. NULL ok. */
int http_reply_daemon_quiesce(struct MHD_Daemon *d);

/* Stops the daemon (NULL ok), then closes listen_fd (the quiesce's, or -1): in that order. */
void http_reply_daemon_stop(struct MHD_Daemon *d, int listen_fd);

#endif
