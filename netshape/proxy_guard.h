/* proxy_guard.h - what a wildcard allow-list entry may never reach (see docs/proxy.md):
 * special-purpose address ranges (toxics_addr_internal_why), any address of this host (where
 * the agent and, when local, the orchestrator listen), and the operator's list of our own
 * services ("host[:port]": the orchestrator, the egress proxy, the adjustments backend).
 *
 * Filled once before the proxy's threads start, read-only afterwards: safe from any thread. */
#ifndef SANDPIT_PROXY_GUARD_H
#define SANDPIT_PROXY_GUARD_H

#include <stdbool.h>
#include <sys/socket.h>

#include "err.h"
#include "toxics.h"

#define PROXY_GUARD_MAX 32 /* protected endpoints (names and addresses each) */

struct proxy_guard_ep {
    struct sockaddr_storage addr; /* a resolved address of a protected service */
    int port;                     /* 0 = every port */
};

struct proxy_guard {
    int n_names, n_addrs;
    char names[PROXY_GUARD_MAX][TOXICS_HOST_MAX]; /* as given (lower-cased) */
    int name_port[PROXY_GUARD_MAX];               /* 0 = every port */
    struct proxy_guard_ep addrs[PROXY_GUARD_MAX];
};

/* Adds the comma-separated "host[:port]" entries of list (NULL or "" = none): names are kept
 * and resolved now (blocking; one that does not resolve is kept by name only, with a warning).
 * 0, or -EINVAL with e naming field for an entry that is not host[:port] or one too many. */
int proxy_guard_add(struct proxy_guard *g, const char *list, const char *field, struct err *e);
/* Why a wildcard may not connect to sa (port included), or NULL when it may. */
const char *proxy_guard_addr_why(const struct proxy_guard *g, const struct sockaddr *sa);
/* True when host:port names a protected service by name. */
bool proxy_guard_name(const struct proxy_guard *g, const char *host, int port);

#endif
