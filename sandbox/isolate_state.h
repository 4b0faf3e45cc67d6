/* isolate_state.h - which isolation layers are in force, and why each one that is not is off.
 *
 * The zygote fills it while probing (isolate.c), sends it to the agent in READY as the JSON
 * object /health shows ({layer: {on, reason?, refuses_executions?}}), and the agent parses it
 * back once per READY (zyg_client.c); scenarios then look layers up by enum, not by name. Pure:
 * no I/O. */
#ifndef SANDPIT_ISOLATE_STATE_H
#define SANDPIT_ISOLATE_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define ISOLATE_REASON_MAX 256

/* The layers, in /health's order; bit l of isolate_state.on is layer l. */
enum isolate_layer {
    ISOLATE_MOUNT_NS,      /* mount_namespace */
    ISOLATE_IPC_UTS_NS,    /* ipc_uts_namespaces */
    ISOLATE_NET_NS,        /* network_namespace */
    ISOLATE_LOOPBACK,      /* network_loopback */
    ISOLATE_CGROUP_MEMORY, /* cgroup_memory */
    ISOLATE_CGROUP_PIDS,   /* cgroup_pids */
    ISOLATE_CGROUP_CPU,    /* cgroup_cpu */
    ISOLATE_UID_DROP,      /* uid_drop */
    ISOLATE_SECCOMP,       /* seccomp */
    ISOLATE_SELFTEST,      /* start_up_self_test: all of them together (isolate_selftest.h) */
    ISOLATE_NLAYERS
};

struct isolate_state {
    uint32_t on;                                      /* bit per enum isolate_layer */
    uint32_t refuses;                                 /* off layers that refuse every execution */
    char reason[ISOLATE_NLAYERS][ISOLATE_REASON_MAX]; /* why a layer is off; "" when on */
};

/* The layer's name in /health ("cgroup_memory"): static. */
const char *isolate_state_name(enum isolate_layer l);
/* True when layer l is on. */
bool isolate_state_has(const struct isolate_state *st, enum isolate_layer l);
/* Switches layer l on (reason cleared). */
void isolate_state_on(struct isolate_state *st, enum isolate_layer l);
/* Switches layer l off with a printf-style reason (cut at ISOLATE_REASON_MAX). */
void isolate_state_off(struct isolate_state *st, enum isolate_layer l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Every layer off with the same reason: the state while no report is known. */
void isolate_state_unknown(struct isolate_state *st, const char *reason);
/* {layer: {on, reason?, refuses_executions?}}: new reference (NULL on OOM). */
json_t *isolate_state_json(const struct isolate_state *st);
/* Parses what isolate_state_json wrote (o borrowed). A layer missing or off without a reason
 * is off, with a reason saying so. 0, or -EBADMSG when o is not an object (st is then
 * unknown). */
int isolate_state_parse(const json_t *o, struct isolate_state *st);

#endif
