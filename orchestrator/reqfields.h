/* reqfields.h - the request fields every dialect shares: language, timeout, scenario (pure). */
#ifndef SANDPIT_REQFIELDS_H
#define SANDPIT_REQFIELDS_H

#include <jansson.h>

#include "err.h"
#include "lang.h"

/* Reads "language" (default python) into language as its canonical name, "timeout" (seconds,
 * > 0 and <= max_timeout; *timeout untouched when absent) and validates "scenario", whose
 * warnings go to *warnings (new reference; NULL when there is no scenario). root is borrowed.
 * 0, or -ERR_INVALID with e naming the field, or -ENOMEM. */
int reqfields_parse(json_t *root, double max_timeout, char language[LANG_NAME_MAX], double *timeout,
                    json_t **warnings, struct err *e);

#endif
