/* isolate_int.h - what the isolate_*.c files share; nothing outside sandbox/isolate*.c includes
 * it (the zygote and the child use isolate.h).
 *
 * Each concern has a probe (zygote, at start, switches its layers on or off with the reason)
 * and a step of isolate_enter (child, as root, in order). */
#ifndef SANDPIT_ISOLATE_INT_H
#define SANDPIT_ISOLATE_INT_H

#include <limits.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "isolate.h"

#define ISOLATE_MAX_HIDE 4

struct isolate {
    const struct agent_cfg *cfg;
    struct isolate_state st;               /* the layers in force, with the reasons */
    char hide[ISOLATE_MAX_HIDE][PATH_MAX]; /* our directories, covered inside executions */
    int n_hide;
    char inst[24]; /* this zygote's cgroup instance, "z<pid>" */
    uid_t uid;     /* sandbox user when dropping; with uid_per_slot, slot 0's */
    gid_t gid;
    bool drop_uid;          /* root with a sandbox user: executions drop, or fail if they cannot */
    bool uid_per_slot;      /* each slot its own uid and gid, uid + slot (isolate_cred.c) */
    int uid_lock;           /* holds this zygote's uid range (flock), or -1 */
    struct sock_fprog prog; /* the seccomp filter as BPF (filter owned) */
    unsigned char *slot_used; /* n_slots entries: 0 never used, 1 prepared and free, 2 taken */
    long (*slot_lim)[3];      /* per slot: memory MiB, pids, CPU millis as last written */
    int n_slots;
    char tmp_size[32];     /* tmpfs size= option for /tmp */
    char expose[PATH_MAX]; /* our tools under /tmp, kept visible in the private /tmp, or "" */
};

/* Records a probe's outcome (isolate.c): layer l on when err is 0, else off with the reason
 * "<what>: <strerror(err)>". */
void isolate_probed(struct isolate *iso, enum isolate_layer l, const char *what, int err);
/* Runs fn(iso, arg) in a throwaway child (the zygote is still small at probe time): 0, or the
 * errno fn failed with (isolate.c). */
int isolate_probe_child(int (*fn)(const struct isolate *, int), const struct isolate *iso, int arg);

/* isolate_ns.c: mount, IPC+UTS and network namespaces, and lo inside the last. */
void isolate_ns_probe(struct isolate *iso);
int isolate_ns_unshare(const struct isolate *iso, char *why, size_t why_len);
void isolate_ns_settle(const struct isolate *iso);

/* isolate_mount.c: the private view of the file system. */
void isolate_mount_init(struct isolate *iso, const char *const hide[], const char *expose);
int isolate_mount_view(const struct isolate *iso, int slot, long disk_mb,
                       const struct isolate_ws *ws, char *why, size_t why_len);

/* isolate_cgroup.c: per-slot memory, pids and cpu cgroups (the slot API is in isolate.h). */
void isolate_cgroup_probe(struct isolate *iso);
int isolate_cgroup_join(const struct isolate *iso, int slot, char *why, size_t why_len);
void isolate_cgroup_remove_all(const struct isolate *iso);

/* isolate_cred.c: the sandbox users. */
void isolate_cred_probe(struct isolate *iso);
int isolate_cred_drop(const struct isolate *iso, int slot, const struct isolate_ws *ws, char *why,
                      size_t why_len);

/* isolate_seccomp.c: the filter, compiled once (isolate_seccomp loads it, isolate.h). */
void isolate_seccomp_probe(struct isolate *iso);

#endif
