/* proxy_relay.h - a connection's two directions ("flows") once both ends are connected.
 *
 * Each flow either splices through a pipe (no per-chunk toxic: the fast path) or reads into a
 * queue of timestamped chunks that the latency schedule, token bucket, slicer and data limit
 * (toxics.h) release. Queued bytes are charged by what they cost (allocation and header, not
 * payload: a 1-byte segment is not 1 byte) against a per-flow cap and a per-session cap; at
 * either cap the flow stops reading (TCP backpressure on the sender), it never grows.
 * Epoll thread only. */
#ifndef SANDPIT_PROXY_RELAY_H
#define SANDPIT_PROXY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "toxics.h"

enum { PROXY_CLIENT = 0, PROXY_SERVER = 1 };     /* the sides of a connection */
enum { PROXY_FLOW_UP = 1, PROXY_FLOW_DOWN = 2 }; /* which flows to pump */

struct proxy_chunk; /* queued bytes (proxy_relay.c) */

/* One direction of a connection. */
struct proxy_flow {
    struct proxy_session *s;     /* the owner, whose queue_cost this flow's queue counts in */
    int src, dst;                /* PROXY_CLIENT / PROXY_SERVER */
    bool up;                     /* client -> server (bytes_up) */
    bool shaped;                 /* the per-chunk toxics apply */
    bool no_pipe;                /* the pipe could not be made: read()/send() instead */
    struct proxy_chunk *head;    /* oldest chunk */
    struct proxy_chunk *tail;    /* newest chunk */
    size_t queued;               /* bytes in chunks still to send */
    size_t cost;                 /* what the chunks cost: allocation and headers included */
    bool starved;                /* stopped reading: the session's queue cap was reached */
    int pipe[2];                 /* splice path, -1 until first used */
    size_t in_pipe;              /* bytes in the pipe */
    size_t pipe_cap;             /* the pipe's size */
    bool eof;                    /* src reached EOF */
    bool shut;                   /* dst shut down for writing */
    bool want_in, want_out;      /* blocked on src readable / dst writable */
    int64_t wake_ns;             /* blocked until then (0 = not on time) */
    long limit_left;             /* limit_data bytes still allowed; -1 = no limit */
    struct toxics_sched sched;   /* latency + jitter */
    struct toxics_bucket bucket; /* bandwidth */
    struct toxics_slicer slicer; /* slicer */
};

struct proxy;
struct proxy_conn;
struct proxy_session;

/* Sets up a connection's flow (up = client -> server) from s's toxics, at now. */
void proxy_relay_flow_init(struct proxy_session *s, struct proxy_flow *f, bool up, int64_t now);
/* Frees f's queued chunks and closes its pipe (uncharging the session). */
void proxy_relay_flow_clear(struct proxy_flow *f);
/* When the session's queues have room again, re-arms the flows that stopped reading for the
 * lack of it (no flow of s is being pumped). */
void proxy_relay_wake_starved(struct proxy *p, struct proxy_session *s);
/* Both ends of c are connected: queues what the protocol needs first (the rewritten head, the
 * CONNECT answer, bytes read past a head), then relays. Ends c on failure. */
void proxy_relay_start(struct proxy *p, struct proxy_conn *c, int64_t now);
/* Pumps the flows named by `which` (PROXY_FLOW_*), ends c when it is done, else re-arms it. */
void proxy_relay_run(struct proxy *p, struct proxy_conn *c, int which, int64_t now);

#endif
