/* json_util.h - typed field access for request bodies, each failure naming the field. */
#ifndef SANDPIT_JSON_UTIL_H
#define SANDPIT_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

/* Parses a request body that must be a JSON object. Returns a new reference (json_decref) or
 * NULL with e saying "body is not valid JSON: ... at line L column C" or "must be an object". */
json_t *json_util_parse_object(const char *data, size_t len, struct err *e);

/* Each getter: 0 when present and of the right type (out set, borrowed from o), 1 when absent
 * or null (out untouched), -ERR_INVALID with e naming the field when the type is wrong. */
int json_util_get_str(json_t *o, const char *key, const char **out, size_t *len, struct err *e);
int json_util_get_bool(json_t *o, const char *key, bool *out, struct err *e);
int json_util_get_number(json_t *o, const char *key, double *out, struct err *e);
int json_util_get_int(json_t *o, const char *key, long long min, long long max, long long *out,
                      struct err *e);
int json_util_get_object(json_t *o, const char *key, json_t **out, struct err *e);

/* Length of the valid UTF-8 sequence at p (1-4 of n > 0 bytes), or 0 when invalid. */
size_t json_util_utf8_len(const unsigned char *p, size_t n);

/* Sets key to a string built from n bytes that may hold invalid UTF-8 (replaced by U+FFFD), so
 * program output always yields valid JSON. Returns how many bytes were replaced (0 for valid
 * text), or -ENOMEM. */
int json_util_set_text(json_t *o, const char *key, const char *p, size_t n);

#endif
