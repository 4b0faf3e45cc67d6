/* proxy_conn.h - one connection accepted from a sandboxed program, through its states:
 * HEAD (reading an HTTP proxy request, proxy_http.h) -> RESOLVE -> CONNECT -> EGRESS (the
 * CONNECT handshake with an egress proxy, when one is configured) -> RELAY (proxy_relay.h), or
 * straight to STALL when the timeout toxic is on. Epoll thread only. */
#ifndef SANDPIT_PROXY_CONN_H
#define SANDPIT_PROXY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy_engine.h"
#include "proxy_relay.h"
#include "proxy_resolver.h"
#include "toxics.h"

enum proxy_conn_state {
    PROXY_C_HEAD,    /* reading the HTTP proxy request head */
    PROXY_C_RESOLVE, /* waiting for the resolver */
    PROXY_C_CONNECT, /* non-blocking connect in progress */
    PROXY_C_EGRESS,  /* waiting for the egress proxy's answer to CONNECT */
    PROXY_C_RELAY,   /* forwarding both ways */
    PROXY_C_STALL,   /* timeout toxic: nothing passes until the connection is closed */
    PROXY_C_DEAD,    /* closed, freed after the current batch */
};

struct proxy_conn {
    struct proxy_session *s;        /* owner */
    struct proxy_conn *prev, *next; /* the session's connections */
    struct proxy_conn *dead_next;   /* the dead list */
    enum proxy_conn_state state;    /* see above */
    char kind;                      /* 'H' or 'U' */
    bool forward;                   /* absolute-form request: ends with the response */
    bool wildcard;                  /* allowed by "*" or "*.x" only: public addresses */
    int fd[2];                      /* client, server; -1 = none */
    uint32_t ev[2];                 /* events registered; 0 = not in the epoll set */
    struct proxy_watch w[2];        /* epoll data for each side */
    struct proxy_flow up, down;     /* client -> server, server -> client */
    char *buf;                      /* HEAD: the request read so far (TOXICS_HEAD_MAX) */
    size_t buf_len;                 /* bytes in buf */
    char *ebuf;                     /* EGRESS: the egress proxy's reply (PROXY_EGRESS_MAX) */
    size_t ebuf_len;                /* bytes in ebuf */
    struct toxics_head head;        /* the parsed request (kind 'H') */
    char host[TOXICS_HOST_MAX];     /* destination */
    int port;                       /* destination port */
    struct sockaddr_storage addr[PROXY_ADDRS_MAX]; /* where to connect (destination or egress) */
    socklen_t addr_len[PROXY_ADDRS_MAX];
    int n_addr, next_addr;   /* addresses known, next one to try */
    int last_err;            /* errno of the last failed connect */
    struct proxy_rjob *rjob; /* pending resolution, or NULL */
    int64_t deadline_ns;     /* HEAD / RESOLVE..EGRESS give-up time; 0 = none */
    int64_t reset_ns;        /* reset_after toxic; 0 = none */
    int64_t timeout_ns;      /* timeout toxic; 0 = none */
    int64_t wake_ns;         /* key in the heap */
    size_t heap_idx;         /* SIZE_MAX = not in the heap */
};

/* A connection accepted on one of s's listeners. Takes fd, even on failure. */
void proxy_conn_accepted(struct proxy *p, struct proxy_session *s, char kind, int fd);
/* An epoll event on one side of c. */
void proxy_conn_event(struct proxy *p, struct proxy_conn *c, int side, uint32_t events);
/* c's wake-up time has come (it is out of the heap). */
void proxy_conn_timer(struct proxy *p, struct proxy_conn *c, int64_t now);
/* A resolution for c came back (c is alive and waiting); j stays the caller's. */
void proxy_conn_resolved(struct proxy *p, struct proxy_conn *c, struct proxy_rjob *j, int64_t now);
/* Registers the events c's state waits for and its next wake-up. Resets c on failure. */
void proxy_conn_sync(struct proxy *p, struct proxy_conn *c);
/* Ends a connection: every fd closed now (reset = RST both sides), memory after the batch. */
void proxy_conn_end(struct proxy *p, struct proxy_conn *c, bool reset);
/* Frees a dead connection (proxy_conn_end was called) and what it still holds. */
void proxy_conn_free(struct proxy_conn *c);
/* The destination could not be reached: 502 (504 timed out) for an HTTP client, RST for a TCP
 * forward. why is a short reason for the body. */
void proxy_conn_fail(struct proxy *p, struct proxy_conn *c, bool timed_out, const char *why);
/* Resolves (off-thread unless numeric) and connects to the destination or the egress proxy. */
void proxy_conn_resolve(struct proxy *p, struct proxy_conn *c, int64_t now);
/* Fills c->addr from a numeric host; false when host is a name. */
bool proxy_conn_numeric(struct proxy_conn *c, const char *host, int port);

#endif
