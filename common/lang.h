/* lang.h - the language names both daemons know: one table (lang.c) of canonical names and
 * their aliases. The orchestrator canonicalises request and agent names with it, the agent's
 * runtime table (sandbox/runtime.c) is keyed by its canonical names and takes its aliases from
 * it. Pure: no state, any thread. */
#ifndef SANDPIT_LANG_H
#define SANDPIT_LANG_H

#include <stddef.h>

#include "err.h"

#define LANG_NAME_MAX 32 /* bytes of a language name, NUL included */

/* Writes into out the canonical name of the language called name (len bytes): an alias maps to
 * its group's first name, an unknown but well-formed name passes through lower-cased. Returns 0,
 * or -ERR_INVALID with e (field "language") when the name is empty, longer than
 * LANG_NAME_MAX - 1 bytes or holds a byte outside [A-Za-z0-9+#._-]. Any thread. */
int lang_canon(const char *name, size_t len, char out[LANG_NAME_MAX], struct err *e);
/* The alias group holding name (len bytes, any case): static, NULL-terminated, canonical name
 * first; NULL when the name is not a known language. */
const char *const *lang_aliases(const char *name, size_t len);
/* The canonical name of a known language called name (len bytes, canonical or alias, any
 * case): static; NULL when the table does not know it. */
const char *lang_lookup(const char *name, size_t len);

#endif
