/* reqbody.h - the fields of an execution request both daemons read the same way, in every
 * dialect: the program (generated_code before code), the timeout and the environment. Pure:
 * no I/O, no state; any thread. */
#ifndef SANDPIT_REQBODY_H
#define SANDPIT_REQBODY_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#define REQBODY_MAX_ENV       256          /* entries of env */
#define REQBODY_MAX_ENV_NAME  128          /* bytes of one env name */
#define REQBODY_MAX_ENV_BYTES (256 * 1024) /* names + values + 2 bytes per entry */

/* The program of root (borrowed): "generated_code" when present and not null, else "code" (one
 * precedence everywhere: docs/languages.md "Request fields every dialect shares"). 0 with
 * *code and *len borrowed from root, 1 when neither is given (callers word the "missing" error
 * in their dialect), or -ERR_INVALID with e naming the field that is not a string. */
int reqbody_code(json_t *root, const char **code, size_t *len, struct err *e);
/* "timeout" of root: 0 with *timeout set (seconds, finite, > 0 and <= max_timeout), 1 when
 * absent or null (*timeout untouched), or -ERR_INVALID with e naming "timeout". */
int reqbody_timeout(json_t *root, double max_timeout, double *timeout, struct err *e);
/* Checks an env object (borrowed): at most REQBODY_MAX_ENV entries, names
 * [A-Za-z_][A-Za-z0-9_]* of at most REQBODY_MAX_ENV_NAME bytes, string values without NUL,
 * REQBODY_MAX_ENV_BYTES in all. 0, or -ERR_INVALID with e naming "env". */
int reqbody_env(json_t *env, struct err *e);

#endif
