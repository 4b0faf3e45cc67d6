/* ws_conn.h - WebSocket connections after the HTTP upgrade (http_req_upgrade): one hub thread
 * with epoll over every upgraded socket, each with a libwslay event context (framing, masking,
 * fragments, ping/pong, close codes). The hub also runs tasks posted from other threads and
 * watches other descriptors for its owner, so an owner's state can live on this one thread.
 *
 * Threads: ws_hub_post and ws_hub_attach from any thread; everything else on the hub thread
 * (inside a task or a callback). Limits: a message over max_msg bytes closes its connection
 * with 1009; a connection whose unsent replies pass max_queued bytes is closed with 1008; a
 * close handshake the peer does not finish within WS_CONN_CLOSE_GRACE_S drops the socket. */
#ifndef SANDPIT_WS_CONN_H
#define SANDPIT_WS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "http_srv.h"

#define WS_CONN_CLOSE_GRACE_S 5

struct ws_hub;
struct ws_conn;

/* A task or a watch callback (hub thread). */
typedef void (*ws_task_fn)(void *arg);
typedef void (*ws_watch_fn)(void *arg, uint32_t events);

/* What a connection's owner hears (hub thread). */
struct ws_conn_ops {
    /* The connection is up; arg is ws_hub_attach's. */
    void (*on_open)(void *arg, struct ws_conn *c);
    /* A whole message (data borrowed for the call, not NUL-terminated; binary when not text). */
    void (*on_message)(struct ws_conn *c, const char *data, size_t len, bool binary);
    /* The connection is gone (code: the close code, 1006 when the socket just ended); c is
     * freed right after: drop every pointer to it. */
    void (*on_close)(struct ws_conn *c, uint16_t code);
};

/* New hub and its thread. NULL with e set. */
struct ws_hub *ws_hub_new(size_t max_msg, size_t max_queued, struct err *e);
/* Runs the tasks posted so far, closes every connection (1001, their on_close run), stops the
 * thread and frees. Posts after this starts are refused. NULL ok. */
void ws_hub_free(struct ws_hub *h);
/* Runs fn(arg) on the hub thread. 0, or -ENOMEM / -ESHUTDOWN (not queued). Any thread. */
int ws_hub_post(struct ws_hub *h, ws_task_fn fn, void *arg);
/* Takes over an upgraded connection (any thread): ops->on_open(arg, c) runs on the hub
 * thread; on failure (0 is returned anyway) the socket is closed and on_open gets c NULL. */
void ws_hub_attach(struct ws_hub *h, struct http_upgraded *u, int fd, const char *extra,
                   size_t extra_len, const struct ws_conn_ops *ops, void *arg);
/* Calls fn(arg, epoll events) when fd is ready for events (EPOLLIN...). 0 or -errno. */
int ws_hub_watch(struct ws_hub *h, int fd, uint32_t events, ws_watch_fn fn, void *arg);
/* Changes what fd is watched for. 0 or -errno. */
int ws_hub_rewatch(struct ws_hub *h, int fd, uint32_t events);
/* Stops watching fd (before closing it). */
void ws_hub_unwatch(struct ws_hub *h, int fd);
/* Live connections. */
size_t ws_hub_count(const struct ws_hub *h);

/* Queues a text message (copied). 0, or -EPIPE (closing), -ENOBUFS (over max_queued: the
 * connection is being closed with 1008), -ENOMEM. */
int ws_conn_send_text(struct ws_conn *c, const char *data, size_t len);
/* Starts the close handshake with code and reason (cut to 123 bytes). */
void ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason);
/* The owner's pointer. */
void ws_conn_set_data(struct ws_conn *c, void *data);
void *ws_conn_data(const struct ws_conn *c);

#endif
