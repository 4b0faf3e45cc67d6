/* ws_proxy.h - the orchestrator's WebSocket pass-through (docs/kernels.md "Through the
 * orchestrator"): the agent's half of an upgrade (dial: connect, send the client's upgrade
 * request with the agent token, read the agent's answer), then bytes copied both ways between
 * the client's upgraded socket and the agent's, unchanged (the agent frames; we do not).
 *
 * Threads: ws_proxy_dial blocks (bounded) and runs on a thread of its own; the pairs live on
 * one hub thread (ws_conn.h's, watches only). Each direction holds at most WS_PROXY_BUF bytes:
 * a side that does not read stops the other side's reading, nothing grows. */
#ifndef SANDPIT_WS_PROXY_H
#define SANDPIT_WS_PROXY_H

#include <stddef.h>

#include "err.h"
#include "http_srv.h"

#define WS_PROXY_BUF     (1u << 20)
#define WS_PROXY_HEAD    16384 /* bytes of the agent's answer head */
#define WS_PROXY_DIAL_MS 30000 /* connect + answer */

struct ws_proxy;

/* One dial: inputs set by the caller, results by ws_proxy_dial. */
struct ws_proxy_dial {
    char url[256];   /* the agent: "http://host:port" */
    char path[512];  /* "/api/kernels/<id>/channels" */
    char key[64];    /* the client's Sec-WebSocket-Key */
    char token[300]; /* the agent token, "" when none */
    int status;      /* the agent's HTTP status, 0 when it could not be reached */
    int fd;          /* with 101: the connected socket (owned), else -1 */
    char *extra;     /* with 101: bytes the agent sent past its head (owned) */
    size_t extra_len;
    char err[160]; /* why, when status is not 101 */
};

/* New pass-through and its thread. NULL with e set. */
struct ws_proxy *ws_proxy_new(struct err *e);
/* Closes every pair, stops, frees (before the HTTP server). NULL ok. */
void ws_proxy_free(struct ws_proxy *p);
/* Connects and asks the agent to upgrade (blocking, WS_PROXY_DIAL_MS at most). */
void ws_proxy_dial(struct ws_proxy_dial *d);
/* Joins the client's upgraded socket (cfd, u) to the agent's (d's fd and extra, taken). Any
 * thread. */
void ws_proxy_join(struct ws_proxy *p, struct http_upgraded *u, int cfd, struct ws_proxy_dial *d);
/* Pairs open (for /health). */
size_t ws_proxy_count(struct ws_proxy *p);

#endif
