/* isolate.c - the layers around one execution, in order; each concern lives in its own file.
 *
 * Zygote, at start (isolate_new): probe every layer the host may refuse, switching it off with
 * the reason (isolate_state.h), compile the seccomp filter, prepare the cgroup instance.
 * Child, before any user code (isolate_enter), each step needing the privileges the next one
 * drops, as nsjail's containProc:
 *   1. join the slot's cgroups                        isolate_cgroup.c
 *   2. unshare mount, IPC, UTS and network namespaces isolate_ns.c
 *   3. the private view of the file system            isolate_mount.c
 *   4. loopback up, hostname "sandpit"                isolate_ns.c
 *   5. drop to the sandbox user, no capabilities      isolate_cred.c
 * and, after no_new_privs, the seccomp filter (isolate_seccomp.c). */
#include "isolate_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "isolate_selftest.h"
#include "log.h"

void isolate_probed(struct isolate *iso, enum isolate_layer l, const char *what, int err)
{
    char eb[64];

    if (!err) {
        isolate_state_on(&iso->st, l);
        return;
    }
    isolate_state_off(&iso->st, l, "%.180s: %s", what, strerror_r(err, eb, sizeof(eb)));
}

int isolate_probe_child(int (*fn)(const struct isolate *, int), const struct isolate *iso, int arg)
{
    int st = 0;
    pid_t pid = fork();

    if (pid == 0)
        _exit(-fn(iso, arg));
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
}

struct isolate *isolate_new(const struct agent_cfg *cfg, const char *const hide[],
                            const char *expose)
{
    struct isolate *iso = calloc(1, sizeof(*iso));

    if (!iso)
        return NULL;
    iso->cfg = cfg;
    iso->uid_lock = -1;
    /* Warm children hold a slot while they wait. */
    /* A session holds a slot, a checkpoint cell a second one for its copy, and a family its uid
     * slot until its last fork is gone. */
    /* An execution answered before its teardown holds its slot until it is reaped: up to
     * max_concurrent of those (zygote.c) beside the running ones. */
    iso->n_slots = (int)(2 * cfg->max_concurrent + cfg->warm_pool + 3 * cfg->max_sessions);
    iso->slot_used = calloc((size_t)iso->n_slots, 1);
    iso->slot_lim = calloc((size_t)iso->n_slots, sizeof(*iso->slot_lim));
    if (!iso->slot_used || !iso->slot_lim) {
        free(iso->slot_used);
        free(iso->slot_lim);
        free(iso);
        return NULL;
    }
    snprintf(iso->inst, sizeof(iso->inst), "z%d", (int)getpid());
    isolate_selftest_root(iso);
    isolate_mount_init(iso, hide, expose);
    isolate_ns_probe(iso);
    isolate_cgroup_probe(iso);
    isolate_cred_probe(iso);
    isolate_seccomp_probe(iso);
    for (int l = 0; l < ISOLATE_SELFTEST; l++) {
        if (!isolate_state_has(&iso->st, (enum isolate_layer)l))
            log_warn("isolation layer %s is OFF: %s", isolate_state_name((enum isolate_layer)l),
                     iso->st.reason[l]);
    }
    return iso;
}

void isolate_free(struct isolate *iso)
{
    if (!iso)
        return;
    isolate_cgroup_remove_all(iso);
    if (iso->uid_lock >= 0)
        close(iso->uid_lock);
    free(iso->prog.filter);
    free(iso->slot_used);
    free(iso->slot_lim);
    free(iso);
}

const struct isolate_state *isolate_layers(const struct isolate *iso)
{
    return &iso->st;
}

bool isolate_has_mount_ns(const struct isolate *iso)
{
    return isolate_state_has(&iso->st, ISOLATE_MOUNT_NS);
}

void isolate_chown_sandbox(const struct isolate *iso, int slot, const char *path)
{
    uid_t uid = isolate_cred_uid(iso, slot);

    if (iso->drop_uid && (slot >= 0 || !iso->uid_per_slot))
        (void)!chown(path, uid, iso->uid_per_slot ? (gid_t)uid : iso->gid);
}

json_t *isolate_uids_json(const struct isolate *iso)
{
    if (!isolate_state_has(&iso->st, ISOLATE_UID_DROP))
        return json_null();
    return json_pack("{s:i, s:i, s:b}", "first", (int)iso->uid, "count",
                     iso->uid_per_slot ? iso->n_slots : 1, "per_slot", iso->uid_per_slot);
}

int isolate_enter(const struct isolate *iso, int slot, long disk_mb, const struct isolate_ws *ws,
                  struct timeline_rec *tl, char *why, size_t why_len)
{
    int r;

    /* The start-up self-test failed: every execution would fail somewhere, say where. */
    if (iso->st.refuses & (1u << ISOLATE_SELFTEST)) {
        snprintf(why, why_len, "start-up self-test: %s", iso->st.reason[ISOLATE_SELFTEST]);
        return -EIO;
    }
    if ((r = isolate_cgroup_join(iso, slot, why, why_len)) < 0)
        return r;
    timeline_mark(tl, TL_CGROUP);
    if ((r = isolate_ns_unshare(iso, why, why_len)) < 0)
        return r;
    timeline_mark(tl, TL_NS);
    if ((r = isolate_mount_view(iso, slot, disk_mb, ws, why, why_len)) < 0)
        return r;
    timeline_mark(tl, TL_MOUNT);
    isolate_ns_settle(iso);
    r = isolate_cred_drop(iso, slot, ws, why, why_len);
    timeline_mark(tl, TL_CRED);
    return r;
}
