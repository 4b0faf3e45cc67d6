/* isolate_state.c - the isolation layers as a bitmask with reasons, and their JSON form. */
#include "isolate_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const isolate_state_names[ISOLATE_NLAYERS] = {
    "mount_namespace", "ipc_uts_namespaces", "network_namespace", "network_loopback",
    "cgroup_memory",   "cgroup_pids",        "cgroup_cpu",        "uid_drop",
    "seccomp",         "start_up_self_test"};

const char *isolate_state_name(enum isolate_layer l)
{
    return (unsigned)l < ISOLATE_NLAYERS ? isolate_state_names[l] : "?";
}

bool isolate_state_has(const struct isolate_state *st, enum isolate_layer l)
{
    return (unsigned)l < ISOLATE_NLAYERS && (st->on & (1u << l));
}

void isolate_state_on(struct isolate_state *st, enum isolate_layer l)
{
    st->on |= 1u << l;
    st->refuses &= ~(1u << l);
    st->reason[l][0] = '\0';
}

void isolate_state_off(struct isolate_state *st, enum isolate_layer l, const char *fmt, ...)
{
    va_list ap;

    st->on &= ~(1u << l);
    va_start(ap, fmt);
    vsnprintf(st->reason[l], sizeof(st->reason[l]), fmt, ap);
    va_end(ap);
}

void isolate_state_unknown(struct isolate_state *st, const char *reason)
{
    memset(st, 0, sizeof(*st));
    for (int l = 0; l < ISOLATE_NLAYERS; l++)
        snprintf(st->reason[l], sizeof(st->reason[l]), "%s", reason);
}

json_t *isolate_state_json(const struct isolate_state *st)
{
    json_t *o = json_object();

    for (int l = 0; o && l < ISOLATE_NLAYERS; l++) {
        bool on = isolate_state_has(st, (enum isolate_layer)l);
        json_t *v = json_pack("{s:b}", "on", on);

        if (!v || json_object_set_new(o, isolate_state_names[l], v) < 0)
            goto fail;
        if (!on && json_object_set_new(v, "reason", json_string(st->reason[l])) < 0)
            goto fail;
        /* A layer whose absence makes every execution fail (root that cannot drop to the
         * sandbox user never runs code as root): the agent is not usable, and says so. */
        if (!on && (st->refuses & (1u << l)) &&
            json_object_set_new(v, "refuses_executions", json_true()) < 0)
            goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

int isolate_state_parse(const json_t *o, struct isolate_state *st)
{
    isolate_state_unknown(st, "not in the zygote's report");
    if (!json_is_object(o))
        return -EBADMSG;
    for (int l = 0; l < ISOLATE_NLAYERS; l++) {
        json_t *v = json_object_get(o, isolate_state_names[l]);
        const char *why = json_string_value(json_object_get(v, "reason"));

        if (!v)
            continue;
        if (json_is_true(json_object_get(v, "on"))) {
            isolate_state_on(st, (enum isolate_layer)l);
            continue;
        }
        isolate_state_off(st, (enum isolate_layer)l, "%s", why ? why : "off on this host");
        if (json_is_true(json_object_get(v, "refuses_executions")))
            st->refuses |= 1u << l;
    }
    return 0;
}
