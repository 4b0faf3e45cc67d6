/* reqfields.h - the request fields every orchestrator dialect shares (NVIDIA /execute, the job
 * API, Nadoo), read by one function the same way: the program, language, timeout, stdin, env
 * and scenario. Pure: no I/O, no MHD. */
#ifndef SANDPIT_REQFIELDS_H
#define SANDPIT_REQFIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "lang.h"

/* Optional fields a dialect reads; what it does not read it ignores (as it always has). */
enum reqfields_opt {
    REQFIELDS_STDIN = 1u << 0,     /* "stdin": a string */
    REQFIELDS_INPUT = 1u << 1,     /* "input" is an alias of "stdin"; both given is a 400 */
    REQFIELDS_ENV = 1u << 2,       /* "env": an object checked by reqbody_env */
    REQFIELDS_EXEC = 1u << 3,      /* the agent's other execution fields (REQFIELDS_EXEC_NAMES) */
    REQFIELDS_MAX_CHARS = 1u << 4, /* "max_output_characters" is the dialect's own (read by it) */
    REQFIELDS_STRICT = 1u << 5,    /* a field no option names is a 400 (else listed in unknown) */
};

/* The agent's execution fields (docs/agent.md) a dialect with REQFIELDS_EXEC passes on as sent,
 * after checking their types here so a mistake is a 400 before any job is queued. */
#define REQFIELDS_EXEC_NAMES                                                                       \
    "policy", "debug_mode", "trace", "trace_limit", "repr_limit", "max_output_bytes",              \
        "input_data", "processor_id", "files", "collect"
#define REQFIELDS_MAX_ID      128 /* bytes of processor_id, as the agent (EXEC_REQ_MAX_ID) */
#define REQFIELDS_MAX_UNKNOWN 8   /* unknown fields listed; more are counted in n_unknown only */

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
    const char *unknown[REQFIELDS_MAX_UNKNOWN]; /* names no option reads (not with STRICT) */
    int n_unknown;                              /* how many there were */
};

/* Reads root (borrowed) into out, in this order: the program ("generated_code" wins over
 * "code" when both are given, as everywhere: reqbody_code), "language" (default python,
 * canonicalised with lang_canon), "timeout" (> 0 and <= max_timeout), "scenario" (validated
 * with scenario_parse and passed on unchanged: the agent applies it), then "stdin", "env" and
 * the REQFIELDS_EXEC fields when opts ask for them; a member no option names is a 400 with
 * REQFIELDS_STRICT, else listed in out->unknown. code_field is the dialect's name for the program,
 * named when it is missing. 0, or -ERR_INVALID with e naming the field. */
int reqfields_read(json_t *root, const char *code_field, unsigned opts, double max_timeout,
                   struct reqfields *out, struct err *e);
/* Copies the REQFIELDS_EXEC fields root (borrowed) holds, not null, into body (the agent's
 * request). 0 or -ENOMEM. */
int reqfields_copy_exec(json_t *root, json_t *body);
/* Writes "unknown field 'name' ignored/refused ..." for an unknown field into out, with the
 * closest known field name (opts as given to reqfields_read) when one is close. */
void reqfields_unknown_msg(const char *name, unsigned opts, bool ignored, char *out, size_t size);

#endif
