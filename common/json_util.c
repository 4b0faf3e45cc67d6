/* json_util.c - request-field helpers over jansson. */
#include "json_util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

json_t *json_util_parse_object(const char *data, size_t len, struct err *e)
{
    json_error_t je;
    json_t *o;

    if (len == 0) {
        err_set(e, ERR_INVALID, "body", "request body is empty; expected a JSON object");
        return NULL;
    }
    /* DECODE_ANY so a bare scalar gets "must be an object" rather than a parse error; ALLOW_NUL
     * so code holding a NUL reaches Python, which explains the problem better than we can. */
    o = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!o) {
        err_set(e, ERR_INVALID, "body", "body is not valid JSON: %s at line %d column %d", je.text,
                je.line, je.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        err_set(e, ERR_INVALID, "body", "body must be a JSON object");
        return NULL;
    }
    return o;
}

static const char *json_util_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static json_t *json_util_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return v && !json_is_null(v) ? v : NULL;
}

int json_util_get_str(json_t *o, const char *key, const char **out, size_t *len, struct err *e)
{
    json_t *v = json_util_field(o, key);

    if (!v)
        return 1;
    if (!json_is_string(v))
        return err_set(e, ERR_INVALID, key, "field '%s' must be a string, got %s", key,
                       json_util_type_name(v));
    *out = json_string_value(v);
    if (len)
        *len = json_string_length(v);
    return 0;
}

int json_util_get_bool(json_t *o, const char *key, bool *out, struct err *e)
{
    json_t *v = json_util_field(o, key);

    if (!v)
        return 1;
    if (!json_is_boolean(v))
        return err_set(e, ERR_INVALID, key, "field '%s' must be a boolean, got %s", key,
                       json_util_type_name(v));
    *out = json_is_true(v);
    return 0;
}

int json_util_get_number(json_t *o, const char *key, double *out, struct err *e)
{
    json_t *v = json_util_field(o, key);

    if (!v)
        return 1;
    if (!json_is_number(v))
        return err_set(e, ERR_INVALID, key, "field '%s' must be a number, got %s", key,
                       json_util_type_name(v));
    *out = json_number_value(v);
    return 0;
}

int json_util_get_int(json_t *o, const char *key, long long min, long long max, long long *out,
                      struct err *e)
{
    json_t *v = json_util_field(o, key);
    long long x;

    if (!v)
        return 1;
    if (!json_is_integer(v))
        return err_set(e, ERR_INVALID, key, "field '%s' must be an integer, got %s", key,
                       json_util_type_name(v));
    x = json_integer_value(v);
    if (x < min || x > max)
        return err_set(e, ERR_INVALID, key, "field '%s' must be between %lld and %lld, got %lld",
                       key, min, max, x);
    *out = x;
    return 0;
}

int json_util_get_object(json_t *o, const char *key, json_t **out, struct err *e)
{
    json_t *v = json_util_field(o, key);

    if (!v)
        return 1;
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, key, "field '%s' must be an object, got %s", key,
                       json_util_type_name(v));
    *out = v;
    return 0;
}

size_t json_util_utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned cp;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int json_util_set_text(json_t *o, const char *key, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0, out = 0, bad = 0;
    char *copy = NULL;
    json_t *s;

    /* The common case is valid UTF-8: validate once and hand jansson the bytes unchanged. */
    while (i < n) {
        size_t l = json_util_utf8_len(u + i, n - i);
        if (!l) {
            bad++;
            i++;
        } else {
            i += l;
        }
    }
    if (!bad) {
        s = json_stringn_nocheck(p, n);
    } else {
        copy = malloc(n + bad * 2 + 1);
        if (!copy)
            return -ENOMEM;
        for (i = 0; i < n;) {
            size_t l = json_util_utf8_len(u + i, n - i);
            if (!l) {
                memcpy(copy + out, "\xef\xbf\xbd", 3);
                out += 3;
                i++;
            } else {
                memcpy(copy + out, p + i, l);
                out += l;
                i += l;
            }
        }
        s = json_stringn_nocheck(copy, out);
        free(copy);
    }
    if (!s || json_object_set_new(o, key, s) < 0)
        return -ENOMEM;
    return bad > INT32_MAX ? INT32_MAX : (int)bad;
}
