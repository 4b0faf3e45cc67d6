/* scenario.h - the `scenario` object (DESIGN "Scenarios", issue 6): validation and reading;
 * pure. The agent applies it; the orchestrator validates it and passes it on. */
#ifndef SANDPIT_SCENARIO_H
#define SANDPIT_SCENARIO_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

#define SCENARIO_MAX_HOSTS 64 /* entries of allowHosts */

enum scenario_dir { SCENARIO_DOWN, SCENARIO_UP, SCENARIO_BOTH };

/* A validated scenario; 0 / false / NULL = not given. Strings and allow_hosts borrow the JSON. */
struct scenario {
    double latency_ms, jitter_ms, bandwidth_kbps, timeout_ms, reset_after_ms;
    double slice_bytes, slice_delay_ms, limit_data_bytes;
    enum scenario_dir direction;
    const char *upstream; /* "host:port" */
    json_t *allow_hosts;  /* array of strings */
    bool crash, high_cpu, leak;
    double crash_after_ms, leak_mb_per_sec, delay_ms;
    double cpu_limit, memory_limit_mb, pids_limit, disk_limit_mb;
};

/* Validates scn (borrowed; must be a JSON object). Keys: numbers >= 0 (networkLatencyMs,
 * jitterMs, timeoutMs, resetAfterMs, sliceBytes, sliceDelayMs, limitDataBytes, crashAfterMs,
 * leakMbPerSec, artificialDelayMs, cpuLimit, memoryLimitMb, pidsLimit, diskLimitMb),
 * bandwidthKbps > 0, booleans simulateCrash, simulateHighCpu, simulateMemoryLeak, upstream
 * "host:port", allowHosts [host or host:port, "*" and "*.suffix" allowed], toxicDirection
 * "downstream" | "upstream" | "both"; a null value counts as absent. Returns 0 with out filled
 * (out may be NULL), else -ERR_INVALID with e naming the key as "scenario.<key>". */
int scenario_parse(json_t *scn, struct scenario *out, struct err *e);
/* The agent's limits a scenario may not exceed; each is > 0. */
struct scenario_caps {
    double max_timeout_s; /* --max-timeout: every duration, and the delay plus the timeout */
    double timeout_s;     /* the execution's own timeout: the delay holds the slot on top of it */
    double memory_mb; /* --memory-mb: memoryLimitMb, and leakMbPerSec (the whole limit in 1 s) */
    double pids;      /* --pids-limit: pidsLimit */
    double disk_mb;   /* --disk-mb: diskLimitMb */
};

/* Checks a parsed scenario against the agent's limits, key by key in table order: a duration
 * (networkLatencyMs, jitterMs, timeoutMs, resetAfterMs, sliceDelayMs, crashAfterMs) above
 * --max-timeout, artificialDelayMs plus the timeout above --max-timeout, a memory, pids or disk
 * value above the agent's own. 0, or -ERR_INVALID with e naming "scenario.<key>" and the limit.
 * Keys that only throttle or flag (bandwidthKbps, sliceBytes, limitDataBytes, cpuLimit, the
 * booleans, the hosts) have no agent limit to exceed. */
int scenario_check_caps(const struct scenario *s, const struct scenario_caps *caps, struct err *e);
/* True when the scenario asks for network (any network key given). */
bool scenario_has_network(const struct scenario *s);

#endif
