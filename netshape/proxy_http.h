/* proxy_http.h - the HTTP side of a connection: the client's proxy request head and the
 * allow-list decision on its destination, the proxy's own error replies, and the CONNECT
 * handshake with an egress proxy. The parsing itself is pure (toxics.h); this is where its
 * results meet the sockets. Epoll thread only. */
#ifndef SANDPIT_PROXY_HTTP_H
#define SANDPIT_PROXY_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct proxy;
struct proxy_conn;

/* "host:port", with brackets for IPv6, for messages. */
void proxy_http_hostport(char *out, size_t size, const char *host, int port);
/* Answers an HTTP proxy client with a short text/plain error (X-Sandpit-Proxy: tag) and ends c. */
void proxy_http_reply(struct proxy *p, struct proxy_conn *c, int status, const char *tag,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Refuses c's destination (403), which is (verb "is") or resolves to ("resolves to") an
 * internal address (what: which range, proxy_guard.h) its wildcard entry may not reach. */
void proxy_http_deny_internal(struct proxy *p, struct proxy_conn *c, const char *verb,
                              const char *what);
/* HEAD: reads the request head; answers errors, or judges the destination and moves on to
 * resolving it. */
void proxy_http_head(struct proxy *p, struct proxy_conn *c, int64_t now);
/* The server socket is connected to the egress proxy: sends CONNECT for c's destination and
 * waits for the answer (EGRESS), or fails c. */
void proxy_http_egress_connect(struct proxy *p, struct proxy_conn *c);
/* EGRESS: reads the egress proxy's answer to our CONNECT; a 200 starts the relay. */
void proxy_http_egress_read(struct proxy *p, struct proxy_conn *c, int64_t now);

#endif
