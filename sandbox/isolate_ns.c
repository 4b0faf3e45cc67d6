/* isolate_ns.c - the mount, IPC+UTS and network namespaces of an execution, and lo inside the
 * last (the PID namespace is the zygote's: zygote_pidns.c). */
#include "isolate_int.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int isolate_ns_try_unshare(const struct isolate *iso, int flags)
{
    (void)iso;
    return unshare(flags) < 0 ? -errno : 0;
}

/* Brings up lo in the current network namespace: 0 or -errno (EPERM without NET_ADMIN). */
static int isolate_ns_loopback_up(void)
{
    struct ifreq ifr = {0};
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

    if (s < 0)
        return -errno;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        r = -errno;
    } else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
            r = -errno;
    }
    close(s);
    return r;
}

static int isolate_ns_try_loopback(const struct isolate *iso, int unused)
{
    (void)unused;
    return isolate_ns_try_unshare(iso, CLONE_NEWNET) < 0 ? -errno : isolate_ns_loopback_up();
}

/* The namespaces, and lo in a new network namespace (needs NET_ADMIN: without it executions
 * have no 127.0.0.1, and network scenarios no way to their proxy). */
void isolate_ns_probe(struct isolate *iso)
{
    static const struct {
        enum isolate_layer l;
        int flags;
    } probes[] = {{ISOLATE_MOUNT_NS, CLONE_NEWNS},
                  {ISOLATE_IPC_UTS_NS, CLONE_NEWIPC | CLONE_NEWUTS},
                  {ISOLATE_NET_NS, CLONE_NEWNET}};
    int err;

    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        err = isolate_probe_child(isolate_ns_try_unshare, iso, probes[i].flags);
        isolate_probed(iso, probes[i].l, "unshare", err);
    }
    if (!isolate_state_has(&iso->st, ISOLATE_NET_NS)) {
        isolate_state_off(&iso->st, ISOLATE_LOOPBACK,
                          "no network namespace: executions share the agent's network");
        return;
    }
    err = isolate_probe_child(isolate_ns_try_loopback, iso, 0);
    isolate_probed(iso, ISOLATE_LOOPBACK,
                   "bringing lo up in an execution's network namespace (127.0.0.1 is unreachable "
                   "there, network scenarios cannot reach their proxy)",
                   err);
}

/* Child step 2: leaves the agent's namespaces for the layers that are on. 0 or -errno with why
 * filled. */
int isolate_ns_unshare(const struct isolate *iso, char *why, size_t why_len)
{
    int flags = 0, r;

    if (isolate_state_has(&iso->st, ISOLATE_MOUNT_NS))
        flags |= CLONE_NEWNS;
    if (isolate_state_has(&iso->st, ISOLATE_IPC_UTS_NS))
        flags |= CLONE_NEWIPC | CLONE_NEWUTS;
    if (isolate_state_has(&iso->st, ISOLATE_NET_NS))
        flags |= CLONE_NEWNET;
    if (flags && unshare(flags) < 0) {
        r = -errno;
        snprintf(why, why_len, "unshare: %s", strerror(errno));
        return r;
    }
    return 0;
}

/* Child step 4: lo up and the hostname, inside the new namespaces; best effort (the probes
 * report what fails here). */
void isolate_ns_settle(const struct isolate *iso)
{
    if (isolate_state_has(&iso->st, ISOLATE_NET_NS))
        (void)isolate_ns_loopback_up();
    if (isolate_state_has(&iso->st, ISOLATE_IPC_UTS_NS))
        (void)!sethostname("sandpit", 7);
}
