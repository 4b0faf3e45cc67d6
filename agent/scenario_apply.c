/* scenario_apply.c - scenario -> zygote job, proxy configuration and warnings. */
#include "scenario_apply.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether layer l is on; *reason (borrowed from iso) says why not. */
static bool scenario_apply_layer(const struct isolate_state *iso, enum isolate_layer l,
                                 const char **reason)
{
    *reason = iso->reason[l];
    return isolate_state_has(iso, l);
}

static __attribute__((format(printf, 2, 3))) int scenario_apply_warn(json_t *w, const char *fmt,
                                                                     ...)
{
    char msg[320];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_array_append_new(w, json_string(msg)) < 0 ? -ENOMEM : 0;
}

/* A limit asked for, capped by the agent's own bound (operators set the ceiling). exec_req
 * already refused a value above it (scenario_check_caps): this is only the backstop. */
static uint32_t scenario_apply_cap(double want, long cap, const char *key, const char *flag,
                                   json_t *w)
{
    if (want > (double)cap) {
        scenario_apply_warn(w, "%s %.0f exceeds this agent's %s %ld: %ld applied", key, want, flag,
                            cap, cap);
        return (uint32_t)cap;
    }
    return (uint32_t)ceil(want);
}

int scenario_apply_job(const struct scenario *s, const struct agent_cfg *cfg,
                       const struct isolate_state *isolation, struct zyg_job *job, json_t *warnings)
{
    const char *why;

    job->delay_ms = (uint32_t)ceil(s->delay_ms);
    if (s->crash) {
        job->flags |= ZYG_JOB_CRASH;
        job->crash_after_ms = (uint32_t)ceil(s->crash_after_ms);
    } else if (s->crash_after_ms > 0) {
        scenario_apply_warn(warnings, "crashAfterMs ignored: simulateCrash is not true");
    }
    if (s->high_cpu) {
        job->flags |= ZYG_JOB_HIGH_CPU;
        if (s->cpu_limit <= 0)
            scenario_apply_warn(warnings,
                                "simulateHighCpu without cpuLimit: the busy companion competes for "
                                "the host's cores, not for a fixed budget");
    }
    if (s->leak) {
        job->flags |= ZYG_JOB_LEAK;
        job->leak_mb_s = (uint32_t)ceil(s->leak_mb_per_sec > 0 ? s->leak_mb_per_sec : 100);
        if (!scenario_apply_layer(isolation, ISOLATE_CGROUP_MEMORY, &why))
            scenario_apply_warn(warnings,
                                "simulateMemoryLeak: no memory cgroup (%s); the leak ends at its "
                                "own address-space limit and the program is then killed "
                                "(SIGKILL, reported as signaled, not oom)",
                                why);
    }
    if (s->cpu_limit > 0) {
        if (scenario_apply_layer(isolation, ISOLATE_CGROUP_CPU, &why))
            job->cpu_millis = (uint32_t)ceil(s->cpu_limit * 1000.0);
        else
            scenario_apply_warn(warnings, "cpuLimit not applied: no cpu cgroup (%s)", why);
    }
    if (s->memory_limit_mb > 0) {
        job->memory_mb = scenario_apply_cap(s->memory_limit_mb, cfg->memory_mb, "memoryLimitMb",
                                            "--memory-mb", warnings);
        if (!scenario_apply_layer(isolation, ISOLATE_CGROUP_MEMORY, &why))
            scenario_apply_warn(warnings,
                                "memoryLimitMb applied as an address-space limit (RLIMIT_AS) per "
                                "process: no memory cgroup (%s)",
                                why);
    }
    if (s->pids_limit > 0) {
        if (scenario_apply_layer(isolation, ISOLATE_CGROUP_PIDS, &why))
            job->pids = scenario_apply_cap(s->pids_limit, cfg->pids_limit, "pidsLimit",
                                           "--pids-limit", warnings);
        else
            scenario_apply_warn(warnings, "pidsLimit not applied: no pids cgroup (%s)", why);
    }
    if (s->disk_limit_mb > 0) {
        if (scenario_apply_layer(isolation, ISOLATE_MOUNT_NS, &why))
            job->disk_mb = scenario_apply_cap(s->disk_limit_mb, cfg->disk_mb, "diskLimitMb",
                                              "--disk-mb", warnings);
        else
            scenario_apply_warn(warnings,
                                "diskLimitMb not applied: no private /tmp (%s); files are bounded "
                                "by --file-size-mb each",
                                why);
    }
    if (scenario_has_network(s)) {
        job->flags |= ZYG_JOB_NETWORK;
        if (!scenario_apply_layer(isolation, ISOLATE_NET_NS, &why))
            scenario_apply_warn(warnings,
                                "network: no network namespace (%s); the program is not confined "
                                "to the proxy",
                                why);
        else if (!scenario_apply_layer(isolation, ISOLATE_LOOPBACK, &why))
            scenario_apply_warn(warnings,
                                "network: the execution's loopback is down (%s); the program "
                                "cannot reach the proxy",
                                why);
        if (s->jitter_ms > 0 && s->latency_ms <= 0)
            scenario_apply_warn(warnings, "jitterMs without networkLatencyMs: each delay is "
                                          "0 +- jitterMs cut at 0, so about half the data is "
                                          "not delayed");
        if (s->slice_delay_ms > 0 && s->slice_bytes <= 0)
            scenario_apply_warn(warnings, "sliceDelayMs ignored: sliceBytes is not set");
    }
    return 0;
}

void scenario_apply_proxy(const struct scenario *s, struct proxy_conf *pc)
{
    size_t i;
    json_t *h;

    memset(pc, 0, sizeof(*pc));
    pc->latency_ms = (int)ceil(s->latency_ms);
    pc->jitter_ms = (int)ceil(s->jitter_ms);
    pc->bandwidth_kbps = (long)ceil(s->bandwidth_kbps);
    pc->timeout_ms = (int)ceil(s->timeout_ms);
    pc->reset_after_ms = (int)ceil(s->reset_after_ms);
    pc->slice_bytes = (int)ceil(s->slice_bytes);
    pc->slice_delay_ms = pc->slice_bytes ? (int)ceil(s->slice_delay_ms) : 0;
    pc->limit_data_bytes = (long)ceil(s->limit_data_bytes);
    pc->direction = s->direction == SCENARIO_UP     ? PROXY_DIR_UP
                    : s->direction == SCENARIO_BOTH ? PROXY_DIR_BOTH
                                                    : PROXY_DIR_DOWN;
    if (s->upstream) {
        const char *colon = strrchr(s->upstream, ':');
        size_t hl = colon ? (size_t)(colon - s->upstream) : 0;

        /* "[v6]:port": the brackets are not part of the address. */
        if (hl >= 2 && s->upstream[0] == '[')
            snprintf(pc->upstream_host, sizeof(pc->upstream_host), "%.*s", (int)(hl - 2),
                     s->upstream + 1);
        else
            snprintf(pc->upstream_host, sizeof(pc->upstream_host), "%.*s", (int)hl, s->upstream);
        pc->upstream_port = colon ? atoi(colon + 1) : 0;
    }
    json_array_foreach(s->allow_hosts, i, h)
    {
        if (i >= PROXY_ALLOW_MAX)
            break;
        snprintf(pc->allow[i], sizeof(pc->allow[i]), "%s", json_string_value(h));
        pc->n_allow = (int)i + 1;
    }
}
