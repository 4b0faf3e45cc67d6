/* proxy_listen.h - a session's listening sockets: those a sandboxed child hands over the
 * session's channel (1 byte kind + one fd, SCM_RIGHTS) and those added through the API, and
 * accepting from them. Epoll thread only. */
#ifndef SANDPIT_PROXY_LISTEN_H
#define SANDPIT_PROXY_LISTEN_H

#include "proxy_engine.h"

/* Validates and starts watching a listener for s. Takes fd, even on failure. 0, -EINVAL (not
 * a listening TCP socket, bad kind), -EMFILE (too many), -ENOMEM, -errno. */
int proxy_listen_add(struct proxy *p, struct proxy_session *s, char kind, int fd);
/* Accepts what is waiting on l. */
void proxy_listen_accept(struct proxy *p, struct proxy_listener *l);
/* Reads listener messages from s's channel; malformed ones are dropped, EOF closes it. */
void proxy_listen_chan_read(struct proxy *p, struct proxy_session *s);
/* Stops watching and closes s's channel and every listener (the session ends). */
void proxy_listen_close_all(struct proxy *p, struct proxy_session *s);

#endif
