/* proxy_resolver.h - the shaping proxy's name resolution: getaddrinfo on resolver threads fed by
 * a queue, results handed back to the epoll thread through an eventfd (see proxy_engine.h).
 *
 * The queue, the done list and the stop flag are guarded by the resolver's own lock; a job's
 * conn is written under it too, and only ever cleared by the epoll thread. */
#ifndef SANDPIT_PROXY_RESOLVER_H
#define SANDPIT_PROXY_RESOLVER_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "toxics.h"

#define PROXY_ADDRS_MAX 8 /* addresses tried per destination */

struct proxy_conn;

/* A name to resolve; owned by the queue, then by the done list, freed by the epoll thread. */
struct proxy_rjob {
    struct proxy_rjob *next;
    struct proxy_conn *conn; /* who waits; NULL once that connection is gone (under lock) */
    char host[TOXICS_HOST_MAX];
    int port;
    int rc; /* 0 or an EAI_* code */
    int n;  /* addresses found */
    struct sockaddr_storage addr[PROXY_ADDRS_MAX];
    socklen_t addr_len[PROXY_ADDRS_MAX];
};

/* Embedded in struct proxy; its threads are started and joined by proxy.c. */
struct proxy_resolver {
    int fd;                    /* eventfd: resolutions done (the epoll thread watches it) */
    pthread_mutex_t lock;      /* guards the fields below */
    pthread_cond_t cond;       /* a name is queued, or stop */
    bool stop;                 /* the threads are to end */
    struct proxy_rjob *q_head; /* names to resolve */
    struct proxy_rjob *q_tail;
    struct proxy_rjob *done; /* resolved, for the epoll thread */
};

/* Sets up r (lock, condition, eventfd). proxy_resolver_done is safe after it, even on failure.
 * 0 or -errno (the eventfd). */
int proxy_resolver_init(struct proxy_resolver *r);
/* Tells every resolver thread to end (a thread inside getaddrinfo finishes that call first). */
void proxy_resolver_stop(struct proxy_resolver *r);
/* Frees every job left and closes the eventfd; the threads must have been joined. */
void proxy_resolver_done(struct proxy_resolver *r);
/* A resolver thread's body; arg is the struct proxy_resolver. Returns NULL after stop. */
void *proxy_resolver_main(void *arg);
/* Queues host:port for conn. Returns the job (borrowed: valid until the epoll thread frees it
 * after proxy_resolver_take) or NULL when out of memory. Epoll thread only. */
struct proxy_rjob *proxy_resolver_submit(struct proxy_resolver *r, struct proxy_conn *conn,
                                         const char *host, int port);
/* Forgets the connection waiting on j (it is gone); the job is freed when it comes back. */
void proxy_resolver_cancel(struct proxy_resolver *r, struct proxy_rjob *j);
/* Takes the finished jobs: a list (new: free each with free()) linked by next, or NULL. */
struct proxy_rjob *proxy_resolver_take(struct proxy_resolver *r);

#endif
