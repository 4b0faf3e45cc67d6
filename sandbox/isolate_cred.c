/* isolate_cred.c - the sandbox user: executions drop to it with no supplementary groups and no
 * capabilities, when the agent runs as root. */
#include "isolate_int.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Changes every id to the sandbox user's: 0 or -errno. */
static int isolate_cred_setids(const struct isolate *iso, int unused)
{
    (void)unused;
    if (setgroups(0, NULL) < 0 || setresgid(iso->gid, iso->gid, iso->gid) < 0 ||
        setresuid(iso->uid, iso->uid, iso->uid) < 0)
        return -errno;
    return 0;
}

/* Finds the sandbox user and checks, in a throwaway child, that this process may become it. */
void isolate_cred_probe(struct isolate *iso)
{
    const char *user = iso->cfg->sandbox_user;
    struct passwd *pw;
    char what[96];
    int err;

    if (geteuid() != 0) {
        isolate_state_off(&iso->st, ISOLATE_UID_DROP,
                          "the agent does not run as root: executions keep its uid %d",
                          (int)geteuid());
        return;
    }
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
    iso->drop_uid = true;
    /* Root without CAP_SETUID/SETGID (a container started with too few capabilities) cannot
     * drop: executions are refused at their set-up rather than run as root, and /health says
     * so (refuses_executions). */
    err = isolate_probe_child(isolate_cred_setids, iso, 0);
    snprintf(what, sizeof(what), "dropping to uid %d", (int)iso->uid);
    isolate_probed(iso, ISOLATE_UID_DROP, what, err);
    if (err)
        iso->st.refuses |= 1u << ISOLATE_UID_DROP;
}

/* Child step 5, the last as root: empties the capability bounding set while it may, then
 * changes ids (setuid from root to a non-root uid clears the permitted and effective sets).
 * No-op when not dropping. 0 or -errno with why filled. */
int isolate_cred_drop(const struct isolate *iso, char *why, size_t why_len)
{
    int r;

    if (!iso->drop_uid)
        return 0;
    for (int cap = 0; cap <= 63; cap++)
        (void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    if ((r = isolate_cred_setids(iso, 0)) < 0) {
        snprintf(why, why_len, "dropping to uid %d: %s", (int)iso->uid, strerror(-r));
        return r;
    }
    return 0;
}
