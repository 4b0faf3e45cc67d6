/* ids.h - random identifiers. */
#ifndef SANDPIT_IDS_H
#define SANDPIT_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define IDS_UUID_LEN 36

/* Writes a random (version 4) UUID, 36 chars + NUL, into out (>= 37 bytes); 0 or -errno. */
int ids_uuid4(char *out);
/* True when s is a canonical lower- or upper-case UUID string of exactly 36 characters. */
bool ids_is_uuid(const char *s, size_t len);

#endif
