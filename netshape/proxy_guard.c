/* proxy_guard.c - what a wildcard may never reach (see proxy_guard.h). */
#include "proxy_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

/* Resolves host into g's addresses (best effort: a name that does not resolve now stays
 * protected by name). */
static void proxy_guard_resolve(struct proxy_guard *g, const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);

    if (rc != 0) {
        log_warn("proxy: protected host '%s' does not resolve now (%s): kept by name only", host,
                 gai_strerror(rc));
        return;
    }
    for (struct addrinfo *a = res; a && g->n_addrs < PROXY_GUARD_MAX; a = a->ai_next) {
        if (a->ai_addrlen > sizeof(g->addrs[0].addr))
            continue;
        memcpy(&g->addrs[g->n_addrs].addr, a->ai_addr, a->ai_addrlen);
        g->addrs[g->n_addrs++].port = port;
    }
    freeaddrinfo(res);
}

int proxy_guard_add(struct proxy_guard *g, const char *list, const char *field, struct err *e)
{
    const char *s = list ? list : "";

    while (*s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        int port = 0;

        if (n > 0) {
            if (g->n_names >= PROXY_GUARD_MAX) {
                err_set(e, ERR_INVALID, field, "more than %d protected hosts", PROXY_GUARD_MAX);
                return -EINVAL;
            }
            if (toxics_hostport_parse(s, n, g->names[g->n_names], TOXICS_HOST_MAX, &port, 0) < 0) {
                err_set(e, ERR_INVALID, field, "'%.*s' is not host[:port]", (int)n, s);
                return -EINVAL;
            }
            g->name_port[g->n_names] = port;
            proxy_guard_resolve(g, g->names[g->n_names], port);
            g->n_names++;
        }
        s += n + (comma ? 1 : 0);
    }
    return 0;
}

static bool proxy_guard_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                   &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

static int proxy_guard_port(const struct sockaddr *sa)
{
    return ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                          : ((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* True when sa is an address of this host (in the proxy's network namespace): binding to it
 * works. Any local address is where our own daemons may listen (0.0.0.0 binds them all). */
static bool proxy_guard_is_local(const struct sockaddr *sa)
{
    struct sockaddr_storage ss;
    socklen_t len =
        sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

    if (fd < 0)
        return true; /* cannot tell: refuse */
    memcpy(&ss, sa, len);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
    r = bind(fd, (struct sockaddr *)&ss, len);
    close(fd);
    return r == 0;
}

const char *proxy_guard_addr_why(const struct proxy_guard *g, const struct sockaddr *sa)
{
    const char *why = toxics_addr_internal_why(sa);
    int port;

    if (why)
        return why;
    port = proxy_guard_port(sa);
    for (int i = 0; i < g->n_addrs; i++) {
        if ((g->addrs[i].port == 0 || g->addrs[i].port == port) &&
            proxy_guard_same_addr(sa, (const struct sockaddr *)&g->addrs[i].addr))
            return "one of sandpit's own services";
    }
    if (proxy_guard_is_local(sa))
        return "an address of the agent's own host";
    return NULL;
}

bool proxy_guard_name(const struct proxy_guard *g, const char *host, int port)
{
    size_t hn = strlen(host);

    if (hn > 1 && host[hn - 1] == '.')
        hn--;
    for (int i = 0; i < g->n_names; i++) {
        if ((g->name_port[i] == 0 || g->name_port[i] == port) && strlen(g->names[i]) == hn &&
            !strncasecmp(g->names[i], host, hn))
            return true;
    }
    return false;
}
