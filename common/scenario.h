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
/* True when the scenario asks for network (any network key given). */
bool scenario_has_network(const struct scenario *s);

#endif
