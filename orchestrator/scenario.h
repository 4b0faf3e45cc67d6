/* scenario.h - validation of the `scenario` object (DESIGN "Scenarios"); pure. Applying a
 * scenario is a later issue: every key given is reported back as a warning. */
#ifndef SANDPIT_SCENARIO_H
#define SANDPIT_SCENARIO_H

#include <jansson.h>

#include "err.h"

#define SCENARIO_MAX_HOSTS 64 /* entries of allowHosts */

/* Validates scn (borrowed; must be a JSON object). Keys: numbers >= 0 (networkLatencyMs,
 * jitterMs, timeoutMs, resetAfterMs, crashAfterMs, leakMbPerSec, artificialDelayMs, cpuLimit,
 * memoryLimitMb, pidsLimit, diskLimitMb), bandwidthKbps > 0, booleans simulateCrash,
 * simulateHighCpu, simulateMemoryLeak, upstream "host:port", allowHosts [strings]; a null value
 * counts as absent. On success returns 0 and *warnings is a new array (json_decref) holding one
 * "not applied yet" message per key given. Otherwise -ERR_INVALID with e naming the key as
 * "scenario.<key>", or -ENOMEM. */
int scenario_validate(json_t *scn, json_t **warnings, struct err *e);

#endif
