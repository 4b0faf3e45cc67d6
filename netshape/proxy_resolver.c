/* proxy_resolver.c - getaddrinfo off the epoll thread (see proxy_resolver.h). */
#include "proxy_resolver.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int proxy_resolver_init(struct proxy_resolver *r)
{
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return r->fd < 0 ? -errno : 0;
}

void proxy_resolver_stop(struct proxy_resolver *r)
{
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void proxy_resolver_free_list(struct proxy_rjob *j)
{
    while (j) {
        struct proxy_rjob *next = j->next;

        free(j);
        j = next;
    }
}

void proxy_resolver_done(struct proxy_resolver *r)
{
    proxy_resolver_free_list(r->q_head);
    proxy_resolver_free_list(r->done);
    r->q_head = r->q_tail = r->done = NULL;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
}

/* Resolves j's name into j->addr (called without the lock). */
static void proxy_resolver_run(struct proxy_rjob *j)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port[8];

    snprintf(port, sizeof(port), "%d", j->port);
    j->rc = getaddrinfo(j->host, port, &hints, &res);
    for (struct addrinfo *a = j->rc == 0 ? res : NULL; a && j->n < PROXY_ADDRS_MAX;
         a = a->ai_next) {
        if (a->ai_addrlen > sizeof(j->addr[0]))
            continue;
        memcpy(&j->addr[j->n], a->ai_addr, a->ai_addrlen);
        j->addr_len[j->n++] = a->ai_addrlen;
    }
    if (j->rc == 0 && j->n == 0)
        j->rc = EAI_NONAME;
    if (res)
        freeaddrinfo(res);
}

void *proxy_resolver_main(void *arg)
{
    struct proxy_resolver *r = arg;
    uint64_t one = 1;

    pthread_mutex_lock(&r->lock);
    for (;;) {
        struct proxy_rjob *j;

        while (!r->stop && !r->q_head)
            pthread_cond_wait(&r->cond, &r->lock);
        if (r->stop)
            break;
        j = r->q_head;
        r->q_head = j->next;
        if (!r->q_head)
            r->q_tail = NULL;
        /* A job whose connection is already gone goes straight back to be freed. */
        if (j->conn) {
            pthread_mutex_unlock(&r->lock);
            proxy_resolver_run(j);
            pthread_mutex_lock(&r->lock);
        }
        j->next = r->done;
        r->done = j;
        (void)!write(r->fd, &one, sizeof(one));
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

struct proxy_rjob *proxy_resolver_submit(struct proxy_resolver *r, struct proxy_conn *conn,
                                         const char *host, int port)
{
    struct proxy_rjob *j = calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    snprintf(j->host, sizeof(j->host), "%s", host);
    j->port = port;
    j->conn = conn;
    pthread_mutex_lock(&r->lock);
    if (r->q_tail)
        r->q_tail->next = j;
    else
        r->q_head = j;
    r->q_tail = j;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return j;
}

void proxy_resolver_cancel(struct proxy_resolver *r, struct proxy_rjob *j)
{
    pthread_mutex_lock(&r->lock);
    j->conn = NULL;
    pthread_mutex_unlock(&r->lock);
}

struct proxy_rjob *proxy_resolver_take(struct proxy_resolver *r)
{
    struct proxy_rjob *list;

    pthread_mutex_lock(&r->lock);
    list = r->done;
    r->done = NULL;
    pthread_mutex_unlock(&r->lock);
    return list;
}
