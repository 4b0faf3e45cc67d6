/* kernel_int.h - what kernel_mgr.c (kernels, REST) and kernel_chan.c (channels, cells) share.
 * Everything here is touched on the hub thread only. */
#ifndef SANDPIT_KERNEL_INT_H
#define SANDPIT_KERNEL_INT_H

#include <stdatomic.h>
#include <time.h>

#include "buf.h"
#include "ids.h"
#include "kernel_mgr.h"
#include "kernel_msg.h"
#include "ws_conn.h"

#define KERNEL_QUEUE_MAX 256          /* shell requests waiting behind a cell */
#define KERNEL_REC_MAX   (256u << 10) /* bytes of one record a cell sends on its side channel */
#define KERNEL_INPUT_MAX (64u << 10)  /* bytes of an input_reply's value given to the cell */

struct kernel_mgr {
    const struct agent_cfg *cfg;
    struct exec_mgr *mgr;
    struct sess_mgr *sm;
    const struct exec_limits *lim;
    struct ws_hub *hub;
    struct kernel *kernels; /* hub thread */
    atomic_long live;       /* kernels in the table, for /health */
    char python[16];        /* language_info.version */
};

enum kernel_state { KS_STARTING, KS_IDLE, KS_BUSY, KS_DEAD };

/* One WebSocket of a kernel. */
struct kconn {
    struct ws_conn *c;
    struct kernel *k;
    struct kconn *next;
};

/* A shell request waiting for the kernel. */
struct kqueued {
    struct kmsg_in m;     /* owned */
    struct kconn *origin; /* its WebSocket, NULL once gone */
    struct kqueued *next;
};

/* An HTTP request handed to the hub thread (the request's data). */
struct kcall {
    struct kernel_mgr *km;
    struct http_req *r;
    int op;                    /* kernel_route_id */
    char id[IDS_UUID_LEN + 1]; /* the kernel's */
    json_t *body;              /* create's, owned */
    unsigned status;           /* the answer: 0 = an error (err) */
    json_t *reply;             /* owned */
    struct err err;
    struct kcall *next; /* waiting for its kernel's session */
};

struct kernel {
    struct kernel_mgr *km;
    char id[IDS_UUID_LEN + 1];
    char session[IDS_UUID_LEN + 1]; /* our messages' header.session */
    char sess[SESS_ID_MAX];         /* the session behind it */
    enum kernel_state state;
    time_t last_activity;
    struct kconn *conns;
    unsigned nconns;
    struct kqueued *queue, *tail;
    unsigned queued;
    struct kcall *waiting; /* create and restart calls waiting for the session */
    int pending;           /* callbacks that will still post this kernel (free at 0) */
    bool deleted;          /* out of the table; freed once nothing is pending */
    /* The running cell. */
    struct exec *ex;      /* a reference, NULL when none */
    struct kqueued *cell; /* its request */
    struct kmsg_exec ef;
    long count;                /* its execution_count */
    int sock, child_sock;      /* the side channel: ours (watched) and the cell's stdin; -1 */
    struct buf rec;            /* what the cell sent and we did not handle yet */
    json_t *err_rec;           /* the harness's error record, owned */
    bool input_wait;           /* an input_request is out */
    struct exec_cursor cursor; /* the cell's output streamed so far */
    char carry[2][4];          /* stdout's, stderr's cut UTF-8 character */
    size_t carry_len[2];
    atomic_bool live_posted; /* a live-output task is queued (keeps k alive) */
    struct kernel *next;     /* the manager's table */
};

/* kernel_mgr.c */
struct kernel *kernel_find(struct kernel_mgr *km, const char *id);
/* Starts a new session for k (create, restart, after a death). 0 or -ERR_*. */
int kernel_start_session(struct kernel *k, struct err *e);
/* Frees k when it is deleted and nothing will post it any more. */
void kernel_maybe_free(struct kernel *k);

/* kernel_chan.c */
extern const struct ws_conn_ops kernel_chan_ops;
/* kernel_chan_ops' on_open argument for kernel id (new: on_open frees it), NULL on OOM. */
void *kernel_open_arg(struct kernel_mgr *km, const char *id);
/* Sends a message (taken) to one connection (NULL: none) or, with kc NULL and all, to all. */
void kernel_send(struct kernel *k, struct kconn *kc, json_t *msg);
void kernel_iopub(struct kernel *k, const char *type, json_t *parent, json_t *content);
/* Runs the next queued request when the kernel is idle. */
void kernel_pump(struct kernel *k);
/* Replies aborted to every queued execute_request. */
void kernel_abort_queue(struct kernel *k);
/* The kernel is going away: its WebSockets closed (code 1000). */
void kernel_close_conns(struct kernel *k, const char *why);
/* Frees the channel-side state (queue, side channel). */
void kernel_chan_done(struct kernel *k);

#endif
