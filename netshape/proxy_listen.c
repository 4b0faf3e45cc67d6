/* proxy_listen.c - a session's listeners and the channel that brings them (see
 * proxy_listen.h). */
#include "proxy_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"
#include "log.h"
#include "proxy_conn.h"

#define PROXY_LISTENERS_MAX 16 /* listeners per session */

struct proxy_listener {
    struct proxy_session *s;     /* owner */
    struct proxy_listener *next; /* the session's listeners */
    int fd;                      /* listening socket (ours) */
    char kind;                   /* 'H' or 'U' */
    bool edge;                   /* EPOLLET after a failed accept (see proxy_listen_accept) */
    struct proxy_watch w;        /* epoll data */
};

/* Switches l between level- and edge-triggered. */
static void proxy_listen_edge(struct proxy *p, struct proxy_listener *l, bool edge)
{
    struct epoll_event ev = {.events = EPOLLIN | (edge ? EPOLLET : 0), .data.ptr = &l->w};

    if (epoll_ctl(p->ep, EPOLL_CTL_MOD, l->fd, &ev) == 0)
        l->edge = edge;
}

/* Accepts what is waiting on l. */
void proxy_listen_accept(struct proxy *p, struct proxy_listener *l)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), err = errno;

        if (fd >= 0) {
            if (l->edge)
                proxy_listen_edge(p, l, false);
            proxy_conn_accepted(p, l->s, l->kind, fd);
            continue;
        }
        if (err == EINTR || err == ECONNABORTED)
            continue;
        if (err == EAGAIN)
            return;
        if ((err == EMFILE || err == ENFILE) && p->reserve_fd >= 0) {
            /* Out of fds: the spare one takes the connection off the backlog to close it. */
            close(p->reserve_fd);
            fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                close(fd);
            p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        /* Level-triggered, a listener we cannot accept from would spin: until an accept
         * works again only new connections wake us. */
        if (!l->edge) {
            log_errno(err, NULL, "proxy session %llu: accept failed, dropping connections",
                      (unsigned long long)l->s->id);
            proxy_listen_edge(p, l, true);
        }
        return;
    }
}

/* Validates and starts watching a listener for s. Takes fd, even on failure. */
int proxy_listen_add(struct proxy *p, struct proxy_session *s, char kind, int fd)
{
    struct proxy_listener *l = NULL;
    struct epoll_event ev = {.events = EPOLLIN};
    int acc = 0, type = 0, dom = 0, r = -EINVAL;
    socklen_t len = sizeof(int);

    if ((kind != 'H' && kind != 'U') || (kind == 'U' && !s->conf.upstream_port))
        goto fail;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) < 0 ||
        (dom != AF_INET && dom != AF_INET6))
        goto fail;
    r = -EMFILE;
    if (s->n_listeners >= PROXY_LISTENERS_MAX)
        goto fail;
    r = -ENOMEM;
    l = calloc(1, sizeof(*l));
    if (!l)
        goto fail;
    l->s = s;
    l->fd = fd;
    l->kind = kind;
    l->w = (struct proxy_watch){.kind = PROXY_W_LISTEN, .obj = l};
    ev.data.ptr = &l->w;
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
        epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        r = -errno;
        goto fail;
    }
    l->next = s->listeners;
    s->listeners = l;
    s->n_listeners++;
    return 0;

fail:
    free(l);
    close(fd);
    return r;
}

/* Stops watching and closes the channel (EOF, error, or session end). */
static void proxy_listen_chan_close(struct proxy *p, struct proxy_session *s)
{
    if (s->chan < 0)
        return;
    (void)epoll_ctl(p->ep, EPOLL_CTL_DEL, s->chan, NULL);
    close(s->chan);
    s->chan = -1;
}

/* Reads listener messages from s's channel: 1 byte kind + exactly one fd each. Bounded per
 * wake-up; level-triggered epoll brings us back for the rest. */
void proxy_listen_chan_read(struct proxy *p, struct proxy_session *s)
{
    for (int k = 0; k < 16 && s->chan >= 0; k++) {
        char kind[8];
        int fds[FDPASS_MAX], nfds = 0, r;
        ssize_t n = fdpass_recv(s->chan, kind, sizeof(kind), fds, FDPASS_MAX, &nfds, MSG_DONTWAIT);

        if (n == -EAGAIN)
            return;
        if (n == -EMSGSIZE) {
            /* Cut (too long or too many fds): what came along is closed already. */
            log_debug("proxy session %llu: channel message too long, dropped",
                      (unsigned long long)s->id);
            continue;
        }
        if (n < 0 || (n == 0 && nfds == 0)) {
            /* EOF: the child is done sending; the session goes on. */
            proxy_listen_chan_close(p, s);
            return;
        }
        if (n != 1 || nfds != 1) {
            log_debug("proxy session %llu: malformed channel message (%zd bytes, %d fds)",
                      (unsigned long long)s->id, n, nfds);
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            continue;
        }
        if ((r = proxy_listen_add(p, s, kind[0], fds[0])) < 0)
            log_debug("proxy session %llu: refused a listener: %s", (unsigned long long)s->id,
                      strerror(-r));
    }
}

/* The session ends: nothing of its listeners or channel stays open. */
void proxy_listen_close_all(struct proxy *p, struct proxy_session *s)
{
    while (s->listeners) {
        struct proxy_listener *l = s->listeners;

        s->listeners = l->next;
        (void)epoll_ctl(p->ep, EPOLL_CTL_DEL, l->fd, NULL);
        close(l->fd);
        free(l);
    }
    proxy_listen_chan_close(p, s);
}
