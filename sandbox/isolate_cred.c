/* isolate_cred.c - the sandbox users: executions drop to a uid of their own slot with no
 * supplementary groups and no capabilities, when the agent runs as root.
 *
 * Per-user kernel limits (inotify instances, epoll watches, pending signals, POSIX message
 * queue bytes, pipe pages, processes) are counted by uid across the whole host: executions
 * sharing one uid share them, and one can starve the next. So each slot (isolate_cgroup.c:
 * held by one child from its fork to the end of its execution) has its own uid and gid,
 * <base> + <range> * ISOLATE_UID_STRIDE + <slot>; <range> is the first of ISOLATE_UID_RANGES
 * whose lock file this zygote can flock, so two agents on one host never share a uid. The
 * uids need no passwd entry. --sandbox-uid-base 0 keeps the old behaviour: every execution
 * runs as --sandbox-user. */
#include "isolate_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define ISOLATE_UID_STRIDE   8192 /* uids per agent: more than --max-concurrent + --warm-pool */
#define ISOLATE_UID_RANGES   256  /* agents on one host with uid ranges of their own */
#define ISOLATE_UID_LOCK_DIR "/run/sandpit"

uid_t isolate_cred_uid(const struct isolate *iso, int slot)
{
    return iso->uid_per_slot ? iso->uid + (uid_t)slot : iso->uid;
}

uid_t isolate_cred_uid_ws(const struct isolate *iso, int k)
{
    return iso->uid_per_slot ? iso->uid + (uid_t)(ISOLATE_UID_STRIDE - 1 - k) : iso->uid;
}

uid_t isolate_cred_uid_of(const struct isolate *iso, int slot, const struct isolate_ws *ws)
{
    return ws ? isolate_cred_uid_ws(iso, ws->uid_index) : isolate_cred_uid(iso, slot);
}

/* Changes every id to uid (its own group, or the sandbox user's): 0 or -errno. */
static int isolate_cred_setids(const struct isolate *iso, uid_t uid)
{
    gid_t gid = iso->uid_per_slot ? (gid_t)uid : iso->gid;

    if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
        return -errno;
    return 0;
}

/* isolate_probe_child's shape: drops to slot 0's uid. */
static int isolate_cred_probe_setids(const struct isolate *iso, int slot)
{
    return isolate_cred_setids(iso, isolate_cred_uid(iso, slot));
}

/* Reserves this zygote's range of uids: the first free lock of ISOLATE_UID_LOCK_DIR, held
 * (the fd is close-on-exec, and children close it at once) until the zygote exits. Without
 * the directory every agent takes range 0, with a warning. Returns the range's first uid. */
static uid_t isolate_cred_reserve(struct isolate *iso, uid_t base)
{
    char path[64];

    if (mkdir(ISOLATE_UID_LOCK_DIR, 0700) < 0 && errno != EEXIST) {
        log_warn("%s: %s: the uid range of executions is not reserved (agents on this host may "
                 "share uids)",
                 ISOLATE_UID_LOCK_DIR, strerror(errno));
        return base;
    }
    for (int k = 0; k < ISOLATE_UID_RANGES; k++) {
        int fd;

        snprintf(path, sizeof(path), ISOLATE_UID_LOCK_DIR "/uids.%d.lock", k);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            break;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            iso->uid_lock = fd;
            return base + (uid_t)k * ISOLATE_UID_STRIDE;
        }
        close(fd);
    }
    log_warn("no free uid range in %s: executions share range 0 with another agent",
             ISOLATE_UID_LOCK_DIR);
    return base;
}

/* Finds the sandbox users and checks, in a throwaway child, that this process may become
 * them. */
void isolate_cred_probe(struct isolate *iso)
{
    const char *user = iso->cfg->sandbox_user;
    long base = iso->cfg->sandbox_uid_base;
    struct passwd *pw;
    char what[96];
    int err;

    iso->uid_lock = -1;
    if (geteuid() != 0) {
        isolate_state_off(&iso->st, ISOLATE_UID_DROP,
                          "the agent does not run as root: executions keep its uid %d",
                          (int)geteuid());
        return;
    }
    if (base > 0) {
        iso->uid = isolate_cred_reserve(iso, (uid_t)base);
        iso->gid = (gid_t)iso->uid;
        iso->uid_per_slot = true;
    } else {
        pw = getpwnam(user);
        if (!pw) {
            isolate_state_off(&iso->st, ISOLATE_UID_DROP, "user '%s' does not exist", user);
            return;
        }
        if (pw->pw_uid == 0) {
            isolate_state_off(&iso->st, ISOLATE_UID_DROP, "--sandbox-user '%s' is root", user);
            return;
        }
        iso->uid = pw->pw_uid;
        iso->gid = pw->pw_gid;
    }
    iso->drop_uid = true;
    /* Root without CAP_SETUID/SETGID (a container started with too few capabilities) cannot
     * drop: executions are refused at their set-up rather than run as root, and /health says
     * so (refuses_executions). */
    err = isolate_probe_child(isolate_cred_probe_setids, iso, 0);
    snprintf(what, sizeof(what), "dropping to uid %d", (int)iso->uid);
    isolate_probed(iso, ISOLATE_UID_DROP, what, err);
    if (err)
        iso->st.refuses |= 1u << ISOLATE_UID_DROP;
    else if (iso->uid_per_slot)
        log_info("executions run as uids %d..%d, one per slot", (int)iso->uid,
                 (int)iso->uid + iso->n_slots - 1);
}

/* Child step 5, the last as root: empties the capability bounding set while it may, then
 * changes ids (setuid from root to a non-root uid clears the permitted and effective sets).
 * A per-slot uid needs the slot. No-op when not dropping. 0 or -errno with why filled. */
int isolate_cred_drop(const struct isolate *iso, int slot, const struct isolate_ws *ws, char *why,
                      size_t why_len)
{
    uid_t uid = isolate_cred_uid_of(iso, slot, ws);
    int r;

    if (!iso->drop_uid)
        return 0;
    if (iso->uid_per_slot && slot < 0) {
        snprintf(why, why_len, "no free slot, so no uid of its own");
        return -EAGAIN;
    }
    for (int cap = 0; cap <= 63; cap++)
        (void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    if ((r = isolate_cred_setids(iso, uid)) < 0) {
        snprintf(why, why_len, "dropping to uid %d: %s", (int)uid, strerror(-r));
        return r;
    }
    return 0;
}
