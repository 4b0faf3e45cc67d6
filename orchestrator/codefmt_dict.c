/* codefmt_dict.c - the dict-literal code format: a Python/JSON dict literal whose generated_code
 * or code key holds the program (DESIGN "Code formats"). Pure; the only recursion (nested
 * literals) stops at CODEFMT_MAX_DEPTH. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codefmt_int.h"

#define CODEFMT_MAX_DEPTH 64 /* nesting of dict/list/tuple literals before we call it raw */

#define CODEFMT_STR_RAW   1u /* r prefix: backslashes kept */
#define CODEFMT_STR_BYTES 2u /* b prefix: not a str */
#define CODEFMT_STR_F     4u /* f prefix: not a literal */
#define CODEFMT_STR_U     8u /* u prefix: a plain str */

/* A string literal token: optional prefix, quotes, body. */
struct codefmt_tok {
    size_t body;     /* first byte inside the quotes */
    size_t body_end; /* the closing quote */
    size_t end;      /* one past the closing quote(s) */
    unsigned flags;  /* CODEFMT_STR_* */
};

/* Where a top-level key's value sits in the text. */
struct codefmt_span {
    size_t start;
    size_t end;
    bool present;
    bool is_str; /* str literal(s) only: "..", '..', r"..", implicit concatenation, parentheses */
};

/* Dict literal parser state. */
struct codefmt_dp {
    const char *t;
    size_t n;
    size_t p;
    struct codefmt_span gen;  /* last top-level "generated_code" value */
    struct codefmt_span code; /* last top-level "code" value */
};

/* Words a literal may use besides numbers and strings (Python and JSON spellings). */
static const char *const codefmt_dict_words[] = {"True",  "False", "None",     "null", "true",
                                                 "false", "NaN",   "Infinity", NULL};

/* ---- dict literals ---- */

/* 1: a string literal starts at p and ends before n (*k filled); 0: none starts at p;
 * -1: one starts but is unterminated. Newlines inside '..' are accepted (LLMs emit them). */
static int codefmt_dict_lex_str(const char *t, size_t n, size_t p, struct codefmt_tok *k)
{
    unsigned fl = 0;
    size_t q = p, i, ql = 1;
    char qc;

    while (q < n && q - p < 3) {
        unsigned bit;

        switch (t[q]) {
        case 'r':
        case 'R':
            bit = CODEFMT_STR_RAW;
            break;
        case 'b':
        case 'B':
            bit = CODEFMT_STR_BYTES;
            break;
        case 'f':
        case 'F':
            bit = CODEFMT_STR_F;
            break;
        case 'u':
        case 'U':
            bit = CODEFMT_STR_U;
            break;
        default:
            bit = 0;
            break;
        }
        if (!bit || (fl & bit))
            break;
        fl |= bit;
        q++;
    }
    if (q >= n || q - p > 2 || (t[q] != '\'' && t[q] != '"'))
        return 0;
    if (((fl & CODEFMT_STR_U) && fl != CODEFMT_STR_U) ||
        ((fl & CODEFMT_STR_BYTES) && (fl & CODEFMT_STR_F)))
        return 0;
    qc = t[q];
    if (n - q >= 3 && t[q + 1] == qc && t[q + 2] == qc)
        ql = 3;
    for (i = q + ql; i < n; i++) {
        if (t[i] == '\\') {
            i++;
            continue;
        }
        if (t[i] != qc)
            continue;
        if (ql == 1 || (n - i >= 3 && t[i + 1] == qc && t[i + 2] == qc)) {
            k->body = q + ql;
            k->body_end = i;
            k->end = i + ql;
            k->flags = fl;
            return 1;
        }
    }
    return -1;
}

static int codefmt_dict_hex(const char *t, size_t e, size_t p, size_t digits, uint32_t *v)
{
    size_t i;

    *v = 0;
    if (e - p < digits)
        return -1;
    for (i = p; i < p + digits; i++) {
        char c = codefmt_lower(t[i]);

        if (codefmt_is_digit(c))
            *v = (*v << 4) | (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *v = (*v << 4) | (uint32_t)(c - 'a' + 10);
        else
            return -1;
    }
    return 0;
}

static bool codefmt_dict_is_surrogate(uint32_t cp)
{
    return cp >= 0xD800 && cp <= 0xDFFF;
}

/* Decodes a str token's body (Python and JSON escapes). Never writes more bytes than the body
 * has: every escape decodes to no more bytes than it is spelled with. 0, or -1 for a malformed
 * \x, \u or \U escape. */
static int codefmt_dict_tok_decode(const char *t, const struct codefmt_tok *k,
                                   struct codefmt_out *o)
{
    size_t i = k->body, e = k->body_end;

    if (k->flags & CODEFMT_STR_RAW) {
        codefmt_put(o, t + i, e - i);
        return 0;
    }
    while (i < e) {
        const char *bs = memchr(t + i, '\\', e - i);
        size_t stop = bs ? (size_t)(bs - t) : e;
        uint32_t cp, lo;
        char c;

        codefmt_put(o, t + i, stop - i);
        if (stop >= e)
            break;
        i = stop + 1;
        if (i >= e)
            return -1;
        c = t[i++];
        switch (c) {
        case '\n':
            break;
        case '\r':
            if (i < e && t[i] == '\n')
                i++;
            break;
        case '\\':
        case '\'':
        case '"':
        case '/': /* JSON's "\/"; Python would keep the backslash */
            codefmt_put1(o, c);
            break;
        case 'a':
            codefmt_put1(o, '\a');
            break;
        case 'b':
            codefmt_put1(o, '\b');
            break;
        case 'f':
            codefmt_put1(o, '\f');
            break;
        case 'n':
            codefmt_put1(o, '\n');
            break;
        case 'r':
            codefmt_put1(o, '\r');
            break;
        case 't':
            codefmt_put1(o, '\t');
            break;
        case 'v':
            codefmt_put1(o, '\v');
            break;
        case 'x':
            if (codefmt_dict_hex(t, e, i, 2, &cp) < 0)
                return -1;
            i += 2;
            codefmt_put_utf8(o, cp);
            break;
        case 'u':
            if (codefmt_dict_hex(t, e, i, 4, &cp) < 0)
                return -1;
            i += 4;
            /* JSON spells astral characters as a surrogate pair; a lone half becomes U+FFFD. */
            if (cp >= 0xD800 && cp <= 0xDBFF && e - i >= 6 && t[i] == '\\' && t[i + 1] == 'u' &&
                codefmt_dict_hex(t, e, i + 2, 4, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            codefmt_put_utf8(o, codefmt_dict_is_surrogate(cp) ? 0xFFFD : cp);
            break;
        case 'U':
            if (codefmt_dict_hex(t, e, i, 8, &cp) < 0 || cp > 0x10FFFF)
                return -1;
            i += 8;
            codefmt_put_utf8(o, codefmt_dict_is_surrogate(cp) ? 0xFFFD : cp);
            break;
        default:
            if (c >= '0' && c <= '7') {
                size_t d;

                cp = (uint32_t)(c - '0');
                for (d = 0; d < 2 && i < e && t[i] >= '0' && t[i] <= '7'; d++)
                    cp = cp * 8 + (uint32_t)(t[i++] - '0');
                codefmt_put_utf8(o, cp);
            } else {
                /* Python keeps unknown escapes (and \N{...}, which we cannot resolve). */
                codefmt_put1(o, '\\');
                codefmt_put1(o, c);
            }
            break;
        }
    }
    return 0;
}

/* Decodes a value span the parser proved to hold only str literals, parentheses, whitespace
 * and comments, concatenating the literals. 0, or -1 for a malformed escape. */
static int codefmt_dict_span_decode(const char *t, size_t s, size_t e, struct codefmt_out *o)
{
    struct codefmt_tok k;

    while (s < e) {
        if (codefmt_is_space(t[s]) || t[s] == '(' || t[s] == ')') {
            s++;
        } else if (t[s] == '#') {
            const char *nl = memchr(t + s, '\n', e - s);

            s = nl ? (size_t)(nl - t) + 1 : e;
        } else {
            if (codefmt_dict_lex_str(t, e, s, &k) != 1 || codefmt_dict_tok_decode(t, &k, o) < 0)
                return -1;
            s = k.end;
        }
    }
    return 0;
}

/* Skips whitespace and Python comments. */
static void codefmt_dict_dp_skip(struct codefmt_dp *d)
{
    while (d->p < d->n) {
        if (codefmt_is_space(d->t[d->p])) {
            d->p++;
        } else if (d->t[d->p] == '#') {
            const char *nl = memchr(d->t + d->p, '\n', d->n - d->p);

            d->p = nl ? (size_t)(nl - d->t) + 1 : d->n;
        } else {
            break;
        }
    }
}

static bool codefmt_dict_dp_peek(struct codefmt_dp *d, char c)
{
    codefmt_dict_dp_skip(d);
    return d->p < d->n && d->t[d->p] == c;
}

static int codefmt_dict_dp_value(struct codefmt_dp *d, int depth, bool *is_str);

/* Items up to close: value (',' value)* [','] close; the opener is already consumed. */
static int codefmt_dict_dp_items(struct codefmt_dp *d, int depth, char close)
{
    bool s;

    for (;;) {
        if (codefmt_dict_dp_peek(d, close)) {
            d->p++;
            return 0;
        }
        if (codefmt_dict_dp_value(d, depth, &s) < 0)
            return -1;
        if (codefmt_dict_dp_peek(d, ',')) {
            d->p++;
        } else if (codefmt_dict_dp_peek(d, close)) {
            d->p++;
            return 0;
        } else {
            return -1;
        }
    }
}

/* Records a top-level key's value when the key is the str "generated_code" or "code". */
static void codefmt_dict_dp_record(struct codefmt_dp *d, size_t ks, size_t ke, size_t vs, size_t ve,
                                   bool v_str)
{
    char kb[16];
    struct codefmt_out o = {kb, 0, 0, sizeof(kb)};
    struct codefmt_span *dst = NULL;

    if (codefmt_dict_span_decode(d->t, ks, ke, &o) < 0 || o.total != o.len)
        return;
    if (o.len == 14 && memcmp(kb, "generated_code", 14) == 0)
        dst = &d->gen;
    else if (o.len == 4 && memcmp(kb, "code", 4) == 0)
        dst = &d->code;
    if (!dst)
        return;
    dst->start = vs;
    dst->end = ve;
    dst->present = true;
    dst->is_str = v_str;
}

/* A '{...}' at d->p: a dict, or (when not top) a set. top records the code keys and refuses
 * sets. 0, or -1 if it is not a literal. */
static int codefmt_dict_dp_brace(struct codefmt_dp *d, int depth, bool top)
{
    bool is_dict = false, first = true, k_str, v_str;

    if (depth > CODEFMT_MAX_DEPTH)
        return -1;
    d->p++;
    for (;;) {
        size_t ks, ke, vs;

        if (codefmt_dict_dp_peek(d, '}')) {
            d->p++;
            return 0;
        }
        ks = d->p;
        if (codefmt_dict_dp_value(d, depth, &k_str) < 0)
            return -1;
        ke = d->p;
        if (first) {
            is_dict = codefmt_dict_dp_peek(d, ':');
            if (!is_dict && top)
                return -1;
            first = false;
        }
        if (is_dict) {
            if (!codefmt_dict_dp_peek(d, ':'))
                return -1;
            d->p++;
            codefmt_dict_dp_skip(d);
            vs = d->p;
            if (codefmt_dict_dp_value(d, depth, &v_str) < 0)
                return -1;
            if (top && k_str)
                codefmt_dict_dp_record(d, ks, ke, vs, d->p, v_str);
        }
        if (codefmt_dict_dp_peek(d, ',')) {
            d->p++;
        } else if (codefmt_dict_dp_peek(d, '}')) {
            d->p++;
            return 0;
        } else {
            return -1;
        }
    }
}

/* A number, or one of codefmt_dict_words, optionally signed (JSON -Infinity too). */
static int codefmt_dict_dp_scalar(struct codefmt_dp *d)
{
    const char *t = d->t;
    size_t q = d->p, s, i;
    bool sign = false;

    if (q < d->n && (t[q] == '+' || t[q] == '-')) {
        sign = true;
        q++;
    }
    if (q < d->n &&
        (codefmt_is_digit(t[q]) || (t[q] == '.' && q + 1 < d->n && codefmt_is_digit(t[q + 1])))) {
        for (q++; q < d->n; q++) {
            char c = t[q];

            if (!(codefmt_is_alpha(c) || codefmt_is_digit(c) || c == '.' ||
                  ((c == '+' || c == '-') && (t[q - 1] == 'e' || t[q - 1] == 'E'))))
                break;
        }
        d->p = q;
        return 0;
    }
    s = q;
    while (q < d->n && (codefmt_is_alpha(t[q]) || codefmt_is_digit(t[q])))
        q++;
    for (i = 0; codefmt_dict_words[i]; i++) {
        size_t wl = strlen(codefmt_dict_words[i]);

        if (q - s == wl && memcmp(t + s, codefmt_dict_words[i], wl) == 0) {
            if (sign && codefmt_dict_words[i][0] != 'N' && codefmt_dict_words[i][0] != 'I')
                return -1;
            d->p = q;
            return 0;
        }
    }
    return -1;
}

/* One literal at d->p (after whitespace). *is_str: it is a str, possibly several adjacent
 * literals or parenthesised. d->p ends right after the value. 0, or -1. */
static int codefmt_dict_dp_value(struct codefmt_dp *d, int depth, bool *is_str)
{
    struct codefmt_tok k;
    bool str = true;
    int r;

    *is_str = false;
    codefmt_dict_dp_skip(d);
    if (d->p >= d->n)
        return -1;
    switch (d->t[d->p]) {
    case '{':
        return codefmt_dict_dp_brace(d, depth + 1, false);
    case '[':
        if (depth + 1 > CODEFMT_MAX_DEPTH)
            return -1;
        d->p++;
        return codefmt_dict_dp_items(d, depth + 1, ']');
    case '(':
        if (depth + 1 > CODEFMT_MAX_DEPTH)
            return -1;
        d->p++;
        if (codefmt_dict_dp_peek(d, ')')) {
            d->p++;
            return 0;
        }
        if (codefmt_dict_dp_value(d, depth + 1, &str) < 0)
            return -1;
        if (codefmt_dict_dp_peek(d, ')')) {
            /* A parenthesised expression keeps its type: ("a" "b") is a str. */
            d->p++;
            *is_str = str;
            return 0;
        }
        if (!codefmt_dict_dp_peek(d, ','))
            return -1;
        d->p++;
        return codefmt_dict_dp_items(d, depth + 1, ')');
    default:
        break;
    }
    r = codefmt_dict_lex_str(d->t, d->n, d->p, &k);
    if (r < 0)
        return -1;
    if (r == 0)
        return codefmt_dict_dp_scalar(d);
    for (;;) {
        size_t after;

        if (k.flags & (CODEFMT_STR_BYTES | CODEFMT_STR_F))
            str = false;
        d->p = k.end;
        after = d->p;
        codefmt_dict_dp_skip(d);
        r = codefmt_dict_lex_str(d->t, d->n, d->p, &k);
        if (r < 0)
            return -1;
        if (r == 0) {
            d->p = after;
            break;
        }
    }
    *is_str = str;
    return 0;
}

/* 1 and *val new when the whole of t is a dict literal whose generated_code (preferred) or code
 * key holds a str; 0 when it is anything else; -ENOMEM. */
int codefmt_dict_parse(const char *t, size_t n, char **val, size_t *val_len)
{
    struct codefmt_dp d = {.t = t, .n = n};
    struct codefmt_out o = {0};
    const struct codefmt_span *pick;

    codefmt_dict_dp_skip(&d);
    if (n - d.p >= 3 && memcmp(t + d.p, "\xEF\xBB\xBF", 3) == 0) {
        d.p += 3;
        codefmt_dict_dp_skip(&d);
    }
    if (d.p >= n || t[d.p] != '{')
        return 0;
    if (codefmt_dict_dp_brace(&d, 1, true) < 0)
        return 0;
    codefmt_dict_dp_skip(&d);
    if (d.p != n)
        return 0;
    if (d.gen.present && d.gen.is_str)
        pick = &d.gen;
    else if (d.code.present && d.code.is_str)
        pick = &d.code;
    else
        return 0;
    if (codefmt_out_alloc(&o, pick->end - pick->start) < 0)
        return -ENOMEM;
    if (codefmt_dict_span_decode(t, pick->start, pick->end, &o) < 0) {
        free(o.buf);
        return 0;
    }
    assert(o.total == o.len);
    o.buf[o.len] = '\0';
    *val = o.buf;
    *val_len = o.len;
    return 1;
}
