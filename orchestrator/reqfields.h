/* reqfields.h - the request fields every dialect shares: language, timeout, scenario (pure). */
#ifndef SANDPIT_REQFIELDS_H
#define SANDPIT_REQFIELDS_H

#include <jansson.h>

#include "err.h"
#include "lang.h"

/* Reads "language" (default python) into language as its canonical name, "timeout" (seconds,
 * > 0 and <= max_timeout; *timeout untouched when absent) and validates "scenario"
 * (scenario_parse). *scenario is the scenario object, borrowed from root, or NULL when absent
 * or null; the agent applies it, so it is passed on unchanged. *delay_s is the time the
 * scenario adds before the code runs (artificialDelayMs, in seconds; 0 when none). root is
 * borrowed. 0, or -ERR_INVALID with e naming the field. */
int reqfields_parse(json_t *root, double max_timeout, char language[LANG_NAME_MAX], double *timeout,
                    json_t **scenario, double *delay_s, struct err *e);

#endif
