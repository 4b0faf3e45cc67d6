/* token.h - the shared secret between the orchestrator and its agents (docs/agent.md "Agent
 * token"): loading it from an option or a file, generating one, and comparing in constant time.
 * Pure functions over caller memory; thread-safe. */
#ifndef SANDPIT_TOKEN_H
#define SANDPIT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define TOKEN_HEADER "X-Sandpit-Token" /* the request header that carries it */
#define TOKEN_MIN    16                /* characters */
#define TOKEN_MAX    256               /* characters */

/* The token from value (used when non-empty) or else the first line of the file at path (when
 * non-empty), into out (size > TOKEN_MAX): printable ASCII without spaces, TOKEN_MIN..TOKEN_MAX
 * characters. 1 when a token was loaded, 0 when neither is given (out = ""), or -EINVAL with e
 * naming field_value or field_file. */
int token_load(const char *value, const char *path, char *out, size_t size, const char *field_value,
               const char *field_file, struct err *e);
/* Fills out (size >= 65) with 64 hex characters from getrandom(). 0 or -errno. */
int token_generate(char *out, size_t size);
/* Writes token to path with mode 0600 (replacing it). 0 or -errno. */
int token_write(const char *path, const char *token);
/* got == want, in time that depends on want's length only. got may be NULL (false). */
bool token_equal(const char *got, const char *want);

#endif
