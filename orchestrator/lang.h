/* lang.h - language names: the canonical name of a name or alias ("py" -> "python"); pure. */
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

#endif
