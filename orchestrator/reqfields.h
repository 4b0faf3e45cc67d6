/* reqfields.h - the request fields every orchestrator dialect shares (NVIDIA /execute, the job
 * API, Nadoo), read by one function the same way: the program, language, timeout, stdin, env
 * and scenario. Pure: no I/O, no MHD. */
#ifndef SANDPIT_REQFIELDS_H
#define SANDPIT_REQFIELDS_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "lang.h"

/* Optional fields a dialect reads; what it does not read it ignores (as it always has). */
enum reqfields_opt {
    REQFIELDS_STDIN = 1u << 0, /* "stdin": a string */
    REQFIELDS_INPUT = 1u << 1, /* "input" is an alias of "stdin"; both given is a 400 */
    REQFIELDS_ENV = 1u << 2,   /* "env": an object checked by reqbody_env */
};

/* What reqfields_read found; json_t and char pointers are borrowed from the root it read. */
struct reqfields {
    const char *code;             /* the program, before code-format normalisation */
    size_t code_len;              /* bytes of code (it may hold NUL) */
    char language[LANG_NAME_MAX]; /* canonical; "python" when not given */
    double timeout;               /* seconds; 0 when not given (the agent's default) */
    json_t *stdin_text;           /* a string, or NULL */
    json_t *env;                  /* an object of strings, or NULL */
    json_t *scenario;             /* the validated scenario object, or NULL */
    double delay_s;               /* seconds the scenario adds before the run (artificialDelayMs) */
};

/* Reads root (borrowed) into out, in this order: the program ("generated_code" wins over
 * "code" when both are given, as everywhere: reqbody_code), "language" (default python,
 * canonicalised with lang_canon), "timeout" (> 0 and <= max_timeout), "scenario" (validated
 * with scenario_parse and passed on unchanged: the agent applies it), then "stdin" and "env"
 * when opts ask for them. code_field is the dialect's name for the program, named when it is
 * missing. 0, or -ERR_INVALID with e naming the field. */
int reqfields_read(json_t *root, const char *code_field, unsigned opts, double max_timeout,
                   struct reqfields *out, struct err *e);

#endif
