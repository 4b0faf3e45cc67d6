/* json_out.c - compact JSON with shortest round-trip reals (see json_out.h). */
#include "json_out.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_util.h"

/* Python's repr switches to an exponent outside [1e-4, 1e16). */
#define JSON_OUT_EXP_LOW  -4
#define JSON_OUT_EXP_HIGH 16

size_t json_out_real(double d, char out[JSON_OUT_REAL_MAX])
{
    char sci[JSON_OUT_REAL_MAX], digits[20];
    const char *p;
    size_t nd = 0, n = 0;
    int exp;

    if (!isfinite(d)) {
        memcpy(out, "null", 5);
        return 4;
    }
    /* The fewest significant digits that read back as d: at most 17 for any double. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof(sci), "%.*e", prec - 1, d);
        if (strtod(sci, NULL) == d)
            break;
    }
    /* sci is [-]d[.ddd]e(+|-)xx: split into its digits and its decimal exponent. */
    p = sci;
    if (*p == '-')
        out[n++] = *p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (exp < JSON_OUT_EXP_LOW || exp >= JSON_OUT_EXP_HIGH) {
        out[n++] = digits[0];
        if (nd > 1) {
            out[n++] = '.';
            memcpy(out + n, digits + 1, nd - 1);
            n += nd - 1;
        }
        n += (size_t)snprintf(out + n, JSON_OUT_REAL_MAX - n, "e%c%02d", exp < 0 ? '-' : '+',
                              abs(exp));
        return n;
    }
    if (exp < 0) {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = -1; i > exp; i--)
            out[n++] = '0';
        memcpy(out + n, digits, nd);
        n += nd;
    } else {
        for (int i = 0; i <= exp; i++)
            out[n++] = (size_t)i < nd ? digits[i] : '0';
        out[n++] = '.';
        if (nd > (size_t)exp + 1) {
            memcpy(out + n, digits + exp + 1, nd - (size_t)exp - 1);
            n += nd - (size_t)exp - 1;
        } else {
            out[n++] = '0';
        }
    }
    out[n] = '\0';
    return n;
}

int json_out_append_chars(struct buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    int r = 0;

    while (r == 0 && i < n) {
        size_t l = json_util_utf8_len(u + i, n - i);
        const char *esc = NULL;
        char hex[8];

        if (l == 1 && u[i] >= 0x20 && u[i] != '"' && u[i] != '\\') {
            i++;
            continue;
        }
        if (l > 1) {
            i += l;
            continue;
        }
        /* Flush the plain run before u[i], then write its escape. */
        r = buf_append(b, s + run, i - run);
        if (!l)
            esc = "\xef\xbf\xbd";
        else if (u[i] == '"')
            esc = "\\\"";
        else if (u[i] == '\\')
            esc = "\\\\";
        else if (u[i] == '\n')
            esc = "\\n";
        else if (u[i] == '\r')
            esc = "\\r";
        else if (u[i] == '\t')
            esc = "\\t";
        else if (u[i] == '\b')
            esc = "\\b";
        else if (u[i] == '\f')
            esc = "\\f";
        else {
            snprintf(hex, sizeof(hex), "\\u%04x", u[i]);
            esc = hex;
        }
        if (r == 0)
            r = buf_append(b, esc, strlen(esc));
        run = ++i;
    }
    return r == 0 ? buf_append(b, s + run, i - run) : r;
}

/* A JSON string literal of n bytes; invalid UTF-8 (possible through json_stringn_nocheck)
 * becomes U+FFFD so the output is always valid JSON. */
static int json_out_string(struct buf *b, const char *s, size_t n)
{
    int r = buf_append(b, "\"", 1);

    if (r == 0)
        r = json_out_append_chars(b, s, n);
    return r == 0 ? buf_append(b, "\"", 1) : r;
}

struct json_out_key {
    const char *key;
    size_t len;
    json_t *value;
};

static int json_out_key_cmp(const void *a, const void *b)
{
    const struct json_out_key *x = a, *y = b;
    int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int json_out_value(struct buf *b, const json_t *v, unsigned flags);

static int json_out_object(struct buf *b, const json_t *o, unsigned flags)
{
    size_t n = json_object_size(o), i = 0;
    struct json_out_key *keys = calloc(n ? n : 1, sizeof(*keys));
    int r;

    if (!keys)
        return -ENOMEM;
    for (void *it = json_object_iter((json_t *)o); it && i < n;
         it = json_object_iter_next((json_t *)o, it), i++) {
        keys[i].key = json_object_iter_key(it);
        keys[i].len = json_object_iter_key_len(it);
        keys[i].value = json_object_iter_value(it);
    }
    if (flags & JSON_OUT_SORT_KEYS)
        qsort(keys, i, sizeof(*keys), json_out_key_cmp);
    r = buf_append(b, "{", 1);
    for (size_t k = 0; r == 0 && k < i; k++) {
        if (k)
            r = buf_append(b, ",", 1);
        if (r == 0)
            r = json_out_string(b, keys[k].key, keys[k].len);
        if (r == 0)
            r = buf_append(b, ":", 1);
        if (r == 0)
            r = json_out_value(b, keys[k].value, flags);
    }
    free(keys);
    return r == 0 ? buf_append(b, "}", 1) : r;
}

static int json_out_value(struct buf *b, const json_t *v, unsigned flags)
{
    char num[JSON_OUT_REAL_MAX];
    size_t n;
    int r;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return json_out_object(b, v, flags);
    case JSON_ARRAY:
        r = buf_append(b, "[", 1);
        for (size_t i = 0; r == 0 && i < json_array_size(v); i++) {
            if (i)
                r = buf_append(b, ",", 1);
            if (r == 0)
                r = json_out_value(b, json_array_get(v, i), flags);
        }
        return r == 0 ? buf_append(b, "]", 1) : r;
    case JSON_STRING:
        return json_out_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        n = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf_append(b, num, n);
    case JSON_REAL:
        n = json_out_real(json_real_value(v), num);
        return buf_append(b, num, n);
    case JSON_TRUE:
        return buf_append(b, "true", 4);
    case JSON_FALSE:
        return buf_append(b, "false", 5);
    case JSON_NULL:
        break;
    }
    return buf_append(b, "null", 4);
}

int json_out_append(struct buf *b, const json_t *v, unsigned flags)
{
    return v ? json_out_value(b, v, flags) : -ENOMEM;
}

char *json_out_dumps(const json_t *v, unsigned flags, size_t *len)
{
    struct buf b;
    size_t n = 0;
    char *text;

    if (!v)
        return NULL;
    buf_init(&b, 0);
    if (json_out_value(&b, v, flags) < 0) {
        buf_done(&b);
        return NULL;
    }
    text = buf_steal(&b, &n);
    if (len)
        *len = n;
    return text;
}
