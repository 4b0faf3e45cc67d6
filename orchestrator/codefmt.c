/* codefmt.c - code format normalisation (DESIGN "Code formats"); pure, no I/O, no globals.
 *
 * Order of recognition: a whole-text dict literal with a generated_code/code string value, then
 * ### START x CODE ### markers, then markdown fences; anything else runs as sent. Every scan is
 * linear in the input and the only recursion (nested dict/list literals) stops at
 * CODEFMT_MAX_DEPTH. Output buffers are sized up front from bounds proven where they are made,
 * and every write is still checked against the buffer's capacity. */
#include "codefmt.h"
#include "lang.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CODEFMT_MAX_DEPTH 64 /* nesting of dict/list/tuple literals before we call it raw */
#define CODEFMT_MAX_WORD  32 /* longest language word inside a START/END marker */
#define CODEFMT_MAX_BLANK 64 /* longest run of spaces/tabs between marker words */

#define CODEFMT_STR_RAW   1u /* r prefix: backslashes kept */
#define CODEFMT_STR_BYTES 2u /* b prefix: not a str */
#define CODEFMT_STR_F     4u /* f prefix: not a literal */
#define CODEFMT_STR_U     8u /* u prefix: a plain str */

/* Output under construction: capacity fixed when allocated (one byte more is kept for the NUL). */
struct codefmt_out {
    char *buf;    /* owned by whoever allocated it; NULL only for counting */
    size_t len;   /* bytes stored, never above cap */
    size_t total; /* bytes that were asked to be stored, may exceed cap (key comparison) */
    size_t cap;   /* bytes buf can hold before its NUL */
};

/* One line of a text: [start, end) holds neither its "\n" nor a "\r" right before it. */
struct codefmt_line {
    size_t start; /* first byte */
    size_t end;   /* one past the last byte kept */
    size_t next;  /* where the following line starts */
};

/* An opening fence. */
struct codefmt_fence {
    char ch;       /* '`' or '~' */
    size_t len;    /* number of fence characters, >= 3 */
    size_t indent; /* spaces before the fence, <= 3; stripped from content lines */
    size_t tag;    /* language tag start */
    size_t tag_end;
};

/* Class of a fenced block relative to the requested language. */
enum codefmt_cls {
    CODEFMT_CLS_UNTAGGED,
    CODEFMT_CLS_MATCH,
    CODEFMT_CLS_OTHER,
};

/* The requested language: its alias group (lang.c) when known, else just its name. */
struct codefmt_lang {
    const char *const *aliases; /* static, NULL-terminated, or NULL */
    const char *name;           /* borrowed from the caller */
};

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
static const char *const codefmt_words[] = {"True",  "False", "None",     "null", "true",
                                            "false", "NaN",   "Infinity", NULL};

static bool codefmt_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool codefmt_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool codefmt_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool codefmt_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static char codefmt_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive comparison of s[0..n) with the C string z (locale-independent). */
static bool codefmt_span_ieq(const char *s, size_t n, const char *z)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (z[i] == '\0' || codefmt_lower(s[i]) != codefmt_lower(z[i]))
            return false;
    return z[n] == '\0';
}

/* Whether t[p..n) starts with the C string z, case-insensitively. */
static bool codefmt_starts_ieq(const char *t, size_t n, size_t p, const char *z)
{
    size_t zl = strlen(z);

    return p <= n && n - p >= zl && codefmt_span_ieq(t + p, zl, z);
}

static void codefmt_put(struct codefmt_out *o, const char *s, size_t n)
{
    size_t room = o->cap - o->len;
    size_t k = n < room ? n : room;

    assert(o->len <= o->cap);
    if (k > 0 && o->buf)
        memcpy(o->buf + o->len, s, k);
    o->len += k;
    o->total += n;
}

static void codefmt_put1(struct codefmt_out *o, char c)
{
    codefmt_put(o, &c, 1);
}

static void codefmt_put_utf8(struct codefmt_out *o, uint32_t cp)
{
    char b[4];

    if (cp < 0x80) {
        codefmt_put1(o, (char)cp);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        codefmt_put(o, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        codefmt_put(o, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        codefmt_put(o, b, 4);
    }
}

/* Allocates an output able to hold cap bytes plus the NUL. */
static int codefmt_out_alloc(struct codefmt_out *o, size_t cap)
{
    o->buf = malloc(cap + 1);
    if (!o->buf)
        return -ENOMEM;
    o->len = 0;
    o->total = 0;
    o->cap = cap;
    return 0;
}

/* Extracted code ends with exactly one "\n" when it has content, and is NUL-terminated. */
static void codefmt_finish(struct codefmt_out *o)
{
    assert(o->total == o->len);
    while (o->len > 0 && o->buf[o->len - 1] == '\n')
        o->len--;
    if (o->len > 0)
        codefmt_put1(o, '\n');
    o->buf[o->len] = '\0';
}

static void codefmt_line_at(const char *t, size_t n, size_t pos, struct codefmt_line *l)
{
    const char *nl = memchr(t + pos, '\n', n - pos);
    size_t e = nl ? (size_t)(nl - t) : n;

    l->start = pos;
    l->next = nl ? e + 1 : n;
    if (e > pos && t[e - 1] == '\r')
        e--;
    l->end = e;
}

/* Appends the lines of t[s..e), each ending in "\n" (CRLF becomes LF), dropping up to strip
 * leading spaces of each. Writes at most (e - s) + 1 bytes. */
static void codefmt_put_lines(struct codefmt_out *o, const char *t, size_t s, size_t e,
                              size_t strip)
{
    struct codefmt_line l;

    while (s < e) {
        size_t k = 0, b;

        codefmt_line_at(t, e, s, &l);
        b = l.start;
        while (k < strip && b < l.end && t[b] == ' ') {
            b++;
            k++;
        }
        codefmt_put(o, t + b, l.end - b);
        codefmt_put1(o, '\n');
        s = l.next;
    }
}

static void codefmt_lang_init(struct codefmt_lang *lg, const char *language)
{
    size_t n;

    if (!language || !*language)
        language = "python";
    lg->name = language;
    lg->aliases = NULL;
    n = strlen(language);
    lg->aliases = lang_aliases(language, n);
}

static bool codefmt_lang_match(const struct codefmt_lang *lg, const char *tag, size_t n)
{
    size_t j;

    if (!lg->aliases)
        return codefmt_span_ieq(tag, n, lg->name);
    for (j = 0; lg->aliases[j]; j++)
        if (codefmt_span_ieq(tag, n, lg->aliases[j]))
            return true;
    return false;
}

/* ---- markdown fences ---- */

/* Whether the line opens a fence: <= 3 spaces, >= 3 backticks or tildes, an info string (no
 * backtick in it after backticks, as in CommonMark, so ```x``` inline is not a fence). */
static bool codefmt_fence_open(const char *t, const struct codefmt_line *l, struct codefmt_fence *f)
{
    size_t p = l->start, q, e = l->end;

    while (p < e && t[p] == ' ' && p - l->start < 4)
        p++;
    if (p - l->start > 3 || p >= e || (t[p] != '`' && t[p] != '~'))
        return false;
    f->ch = t[p];
    f->indent = p - l->start;
    for (q = p; q < e && t[q] == f->ch; q++)
        ;
    if (q - p < 3)
        return false;
    f->len = q - p;
    if (f->ch == '`' && memchr(t + q, '`', e - q))
        return false;
    /* The tag is the info string's first word; pandoc's {.python} and R's {r, echo=F} too. */
    while (q < e && (codefmt_is_space(t[q]) || t[q] == '{' || t[q] == '.'))
        q++;
    f->tag = q;
    while (q < e && !codefmt_is_space(t[q]) && t[q] != ',' && t[q] != '{' && t[q] != '}' &&
           t[q] != ':')
        q++;
    f->tag_end = q;
    return true;
}

/* Whether the line closes fence f: <= 3 spaces, at least f->len of f->ch, then blanks only. */
static bool codefmt_fence_close(const char *t, const struct codefmt_line *l,
                                const struct codefmt_fence *f)
{
    size_t p = l->start, q, e = l->end;

    while (p < e && t[p] == ' ' && p - l->start < 4)
        p++;
    if (p - l->start > 3)
        return false;
    for (q = p; q < e && t[q] == f->ch; q++)
        ;
    if (q - p < f->len)
        return false;
    while (q < e && codefmt_is_blank(t[q]))
        q++;
    return q == e;
}

/* Walks the fenced blocks of t[0..n): counts them by class into cnt[], and when o is non-NULL
 * appends the content lines of the blocks of class want. Writes at most n + 1 bytes. */
static void codefmt_md_walk(const char *t, size_t n, const struct codefmt_lang *lg, size_t cnt[3],
                            int want, struct codefmt_out *o)
{
    struct codefmt_line l;
    struct codefmt_fence f;
    size_t pos = 0;

    while (pos < n) {
        enum codefmt_cls cls;
        bool closed = false, content = false;

        codefmt_line_at(t, n, pos, &l);
        pos = l.next;
        if (!codefmt_fence_open(t, &l, &f))
            continue;
        if (f.tag == f.tag_end)
            cls = CODEFMT_CLS_UNTAGGED;
        else if (codefmt_lang_match(lg, t + f.tag, f.tag_end - f.tag))
            cls = CODEFMT_CLS_MATCH;
        else
            cls = CODEFMT_CLS_OTHER;
        while (pos < n) {
            size_t i;

            codefmt_line_at(t, n, pos, &l);
            pos = l.next;
            if (codefmt_fence_close(t, &l, &f)) {
                closed = true;
                break;
            }
            for (i = l.start; i < l.end && !content; i++)
                content = !codefmt_is_space(t[i]);
            if (o && (int)cls == want)
                codefmt_put_lines(o, t, l.start, l.next, f.indent);
        }
        /* An unclosed fence runs to the end, but a lone fence with nothing after it is a stray
         * closing fence (code followed by ```), not an empty program. Only blank lines were
         * emitted for it, which codefmt_finish drops as it is the last block. */
        if (!closed && !content)
            continue;
        cnt[cls]++;
    }
}

/* 1 and *res new when t has fenced blocks for the language (or untagged ones); 0 when it has
 * none of those (no fences, or only other languages' blocks); -ENOMEM. */
static int codefmt_markdown(const char *t, size_t n, const struct codefmt_lang *lg, char **res,
                            size_t *res_len)
{
    struct codefmt_out o = {0};
    size_t cnt[3] = {0, 0, 0};
    int want;

    codefmt_md_walk(t, n, lg, cnt, -1, NULL);
    if (cnt[CODEFMT_CLS_MATCH])
        want = CODEFMT_CLS_MATCH;
    else if (cnt[CODEFMT_CLS_UNTAGGED])
        want = CODEFMT_CLS_UNTAGGED;
    else
        return 0;
    if (codefmt_out_alloc(&o, n + 1) < 0)
        return -ENOMEM;
    codefmt_md_walk(t, n, lg, cnt, want, &o);
    codefmt_finish(&o);
    *res = o.buf;
    *res_len = o.len;
    return 1;
}

/* ---- ### START <LANG> CODE ### markers ---- */

static size_t codefmt_blanks(const char *t, size_t n, size_t p)
{
    size_t s = p;

    while (p < n && codefmt_is_blank(t[p]) && p - s < CODEFMT_MAX_BLANK)
        p++;
    return p;
}

/* Matches "CODE" blanks "###" at p; returns the offset past it, or 0. */
static size_t codefmt_marker_tail(const char *t, size_t n, size_t p)
{
    if (!codefmt_starts_ieq(t, n, p, "CODE"))
        return 0;
    p = codefmt_blanks(t, n, p + 4);
    if (n - p < 3 || memcmp(t + p, "###", 3) != 0)
        return 0;
    return p + 3;
}

/* Matches "###" blanks kw blanks [word blanks] "CODE" blanks "###" at p (case-insensitive, the
 * word any language name); returns the offset past it, or 0. Constant work per call. */
static size_t codefmt_marker_at(const char *t, size_t n, size_t p, const char *kw)
{
    size_t q, w, e;

    if (n - p < 3 || memcmp(t + p, "###", 3) != 0)
        return 0;
    q = codefmt_blanks(t, n, p + 3);
    if (!codefmt_starts_ieq(t, n, q, kw))
        return 0;
    q += strlen(kw);
    w = codefmt_blanks(t, n, q);
    if (w == q)
        return 0;
    e = codefmt_marker_tail(t, n, w);
    if (e)
        return e;
    for (q = w; q < n && !codefmt_is_space(t[q]) && q - w <= CODEFMT_MAX_WORD; q++)
        ;
    if (q - w > CODEFMT_MAX_WORD)
        return 0;
    w = codefmt_blanks(t, n, q);
    if (w == q)
        return 0;
    return codefmt_marker_tail(t, n, w);
}

/* First marker with keyword kw at or after from: its offset (and *end past it), or SIZE_MAX. */
static size_t codefmt_marker_find(const char *t, size_t n, size_t from, const char *kw, size_t *end)
{
    size_t p = from;

    while (p < n) {
        const char *h = memchr(t + p, '#', n - p);
        size_t e;

        if (!h)
            break;
        p = (size_t)(h - t);
        e = codefmt_marker_at(t, n, p, kw);
        if (e) {
            *end = e;
            return p;
        }
        p++;
    }
    return SIZE_MAX;
}

/* 1 and *res new (the text of every START..END pair, joined) when t has a START marker;
 * 0 when it has none; -ENOMEM. */
static int codefmt_markers(const char *t, size_t n, char **res, size_t *res_len)
{
    struct codefmt_out o = {0};
    size_t s, e, p = 0;

    while ((s = codefmt_marker_find(t, n, p, "START", &e)) != SIZE_MAX) {
        size_t cs, ce, es, ee, q;

        if (!o.buf && codefmt_out_alloc(&o, n + 1) < 0)
            return -ENOMEM;
        /* Code starts on the next line, or right after the marker if the line goes on. */
        for (cs = e; cs < n && codefmt_is_blank(t[cs]); cs++)
            ;
        q = (cs < n && t[cs] == '\r') ? cs + 1 : cs;
        if (q >= n)
            cs = n;
        else if (t[q] == '\n')
            cs = q + 1;
        es = codefmt_marker_find(t, n, cs, "END", &ee);
        if (es == SIZE_MAX) {
            ce = n;
            p = n;
        } else {
            /* Blanks before the end marker go (all of its line when it stands alone). */
            for (ce = es; ce > cs && codefmt_is_blank(t[ce - 1]); ce--)
                ;
            p = ee;
        }
        /* Segments are disjoint and separated by markers, so n + 1 bytes hold them all. */
        codefmt_put_lines(&o, t, cs, ce, 0);
    }
    if (!o.buf)
        return 0;
    codefmt_finish(&o);
    *res = o.buf;
    *res_len = o.len;
    return 1;
}

/* Markers, then fences (inside the markers' text too). Sets *res (new) and *kind when either is
 * found; leaves *res NULL when neither is. 0 or -ENOMEM. */
static int codefmt_doc(const char *t, size_t n, const struct codefmt_lang *lg, char **res,
                       size_t *res_len, enum codefmt_kind *kind)
{
    char *mk = NULL;
    size_t mk_len = 0;
    int r;

    *res = NULL;
    r = codefmt_markers(t, n, &mk, &mk_len);
    if (r < 0)
        return r;
    if (r > 0) {
        r = codefmt_markdown(mk, mk_len, lg, res, res_len);
        if (r < 0)
            goto out;
        if (r == 0) {
            *res = mk;
            *res_len = mk_len;
            mk = NULL;
        }
        *kind = CODEFMT_MARKERS;
        r = 0;
        goto out;
    }
    r = codefmt_markdown(t, n, lg, res, res_len);
    if (r < 0)
        goto out;
    if (r > 0)
        *kind = CODEFMT_MARKDOWN;
    r = 0;
out:
    free(mk);
    return r;
}

/* ---- dict literals ---- */

/* 1: a string literal starts at p and ends before n (*k filled); 0: none starts at p;
 * -1: one starts but is unterminated. Newlines inside '..' are accepted (LLMs emit them). */
static int codefmt_lex_str(const char *t, size_t n, size_t p, struct codefmt_tok *k)
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

static int codefmt_hex(const char *t, size_t e, size_t p, size_t digits, uint32_t *v)
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

static bool codefmt_is_surrogate(uint32_t cp)
{
    return cp >= 0xD800 && cp <= 0xDFFF;
}

/* Decodes a str token's body (Python and JSON escapes). Never writes more bytes than the body
 * has: every escape decodes to no more bytes than it is spelled with. 0, or -1 for a malformed
 * \x, \u or \U escape. */
static int codefmt_tok_decode(const char *t, const struct codefmt_tok *k, struct codefmt_out *o)
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
            if (codefmt_hex(t, e, i, 2, &cp) < 0)
                return -1;
            i += 2;
            codefmt_put_utf8(o, cp);
            break;
        case 'u':
            if (codefmt_hex(t, e, i, 4, &cp) < 0)
                return -1;
            i += 4;
            /* JSON spells astral characters as a surrogate pair; a lone half becomes U+FFFD. */
            if (cp >= 0xD800 && cp <= 0xDBFF && e - i >= 6 && t[i] == '\\' && t[i + 1] == 'u' &&
                codefmt_hex(t, e, i + 2, 4, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            codefmt_put_utf8(o, codefmt_is_surrogate(cp) ? 0xFFFD : cp);
            break;
        case 'U':
            if (codefmt_hex(t, e, i, 8, &cp) < 0 || cp > 0x10FFFF)
                return -1;
            i += 8;
            codefmt_put_utf8(o, codefmt_is_surrogate(cp) ? 0xFFFD : cp);
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
static int codefmt_span_decode(const char *t, size_t s, size_t e, struct codefmt_out *o)
{
    struct codefmt_tok k;

    while (s < e) {
        if (codefmt_is_space(t[s]) || t[s] == '(' || t[s] == ')') {
            s++;
        } else if (t[s] == '#') {
            const char *nl = memchr(t + s, '\n', e - s);

            s = nl ? (size_t)(nl - t) + 1 : e;
        } else {
            if (codefmt_lex_str(t, e, s, &k) != 1 || codefmt_tok_decode(t, &k, o) < 0)
                return -1;
            s = k.end;
        }
    }
    return 0;
}

/* Skips whitespace and Python comments. */
static void codefmt_dp_skip(struct codefmt_dp *d)
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

static bool codefmt_dp_peek(struct codefmt_dp *d, char c)
{
    codefmt_dp_skip(d);
    return d->p < d->n && d->t[d->p] == c;
}

static int codefmt_dp_value(struct codefmt_dp *d, int depth, bool *is_str);

/* Items up to close: value (',' value)* [','] close; the opener is already consumed. */
static int codefmt_dp_items(struct codefmt_dp *d, int depth, char close)
{
    bool s;

    for (;;) {
        if (codefmt_dp_peek(d, close)) {
            d->p++;
            return 0;
        }
        if (codefmt_dp_value(d, depth, &s) < 0)
            return -1;
        if (codefmt_dp_peek(d, ',')) {
            d->p++;
        } else if (codefmt_dp_peek(d, close)) {
            d->p++;
            return 0;
        } else {
            return -1;
        }
    }
}

/* Records a top-level key's value when the key is the str "generated_code" or "code". */
static void codefmt_dp_record(struct codefmt_dp *d, size_t ks, size_t ke, size_t vs, size_t ve,
                              bool v_str)
{
    char kb[16];
    struct codefmt_out o = {kb, 0, 0, sizeof(kb)};
    struct codefmt_span *dst = NULL;

    if (codefmt_span_decode(d->t, ks, ke, &o) < 0 || o.total != o.len)
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
static int codefmt_dp_brace(struct codefmt_dp *d, int depth, bool top)
{
    bool is_dict = false, first = true, k_str, v_str;

    if (depth > CODEFMT_MAX_DEPTH)
        return -1;
    d->p++;
    for (;;) {
        size_t ks, ke, vs;

        if (codefmt_dp_peek(d, '}')) {
            d->p++;
            return 0;
        }
        ks = d->p;
        if (codefmt_dp_value(d, depth, &k_str) < 0)
            return -1;
        ke = d->p;
        if (first) {
            is_dict = codefmt_dp_peek(d, ':');
            if (!is_dict && top)
                return -1;
            first = false;
        }
        if (is_dict) {
            if (!codefmt_dp_peek(d, ':'))
                return -1;
            d->p++;
            codefmt_dp_skip(d);
            vs = d->p;
            if (codefmt_dp_value(d, depth, &v_str) < 0)
                return -1;
            if (top && k_str)
                codefmt_dp_record(d, ks, ke, vs, d->p, v_str);
        }
        if (codefmt_dp_peek(d, ',')) {
            d->p++;
        } else if (codefmt_dp_peek(d, '}')) {
            d->p++;
            return 0;
        } else {
            return -1;
        }
    }
}

/* A number, or one of codefmt_words, optionally signed (JSON -Infinity too). */
static int codefmt_dp_scalar(struct codefmt_dp *d)
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
    for (i = 0; codefmt_words[i]; i++) {
        size_t wl = strlen(codefmt_words[i]);

        if (q - s == wl && memcmp(t + s, codefmt_words[i], wl) == 0) {
            if (sign && codefmt_words[i][0] != 'N' && codefmt_words[i][0] != 'I')
                return -1;
            d->p = q;
            return 0;
        }
    }
    return -1;
}

/* One literal at d->p (after whitespace). *is_str: it is a str, possibly several adjacent
 * literals or parenthesised. d->p ends right after the value. 0, or -1. */
static int codefmt_dp_value(struct codefmt_dp *d, int depth, bool *is_str)
{
    struct codefmt_tok k;
    bool str = true;
    int r;

    *is_str = false;
    codefmt_dp_skip(d);
    if (d->p >= d->n)
        return -1;
    switch (d->t[d->p]) {
    case '{':
        return codefmt_dp_brace(d, depth + 1, false);
    case '[':
        if (depth + 1 > CODEFMT_MAX_DEPTH)
            return -1;
        d->p++;
        return codefmt_dp_items(d, depth + 1, ']');
    case '(':
        if (depth + 1 > CODEFMT_MAX_DEPTH)
            return -1;
        d->p++;
        if (codefmt_dp_peek(d, ')')) {
            d->p++;
            return 0;
        }
        if (codefmt_dp_value(d, depth + 1, &str) < 0)
            return -1;
        if (codefmt_dp_peek(d, ')')) {
            /* A parenthesised expression keeps its type: ("a" "b") is a str. */
            d->p++;
            *is_str = str;
            return 0;
        }
        if (!codefmt_dp_peek(d, ','))
            return -1;
        d->p++;
        return codefmt_dp_items(d, depth + 1, ')');
    default:
        break;
    }
    r = codefmt_lex_str(d->t, d->n, d->p, &k);
    if (r < 0)
        return -1;
    if (r == 0)
        return codefmt_dp_scalar(d);
    for (;;) {
        size_t after;

        if (k.flags & (CODEFMT_STR_BYTES | CODEFMT_STR_F))
            str = false;
        d->p = k.end;
        after = d->p;
        codefmt_dp_skip(d);
        r = codefmt_lex_str(d->t, d->n, d->p, &k);
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
static int codefmt_dict(const char *t, size_t n, char **val, size_t *val_len)
{
    struct codefmt_dp d = {.t = t, .n = n};
    struct codefmt_out o = {0};
    const struct codefmt_span *pick;

    codefmt_dp_skip(&d);
    if (n - d.p >= 3 && memcmp(t + d.p, "\xEF\xBB\xBF", 3) == 0) {
        d.p += 3;
        codefmt_dp_skip(&d);
    }
    if (d.p >= n || t[d.p] != '{')
        return 0;
    if (codefmt_dp_brace(&d, 1, true) < 0)
        return 0;
    codefmt_dp_skip(&d);
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
    if (codefmt_span_decode(t, pick->start, pick->end, &o) < 0) {
        free(o.buf);
        return 0;
    }
    assert(o.total == o.len);
    o.buf[o.len] = '\0';
    *val = o.buf;
    *val_len = o.len;
    return 1;
}

int codefmt_normalise(const char *text, size_t len, const char *language, char **out,
                      size_t *out_len, enum codefmt_kind *kind)
{
    struct codefmt_lang lg;
    enum codefmt_kind k = CODEFMT_RAW;
    char *res = NULL, *val = NULL;
    size_t res_len = 0, val_len = 0;
    int r;

    if (!text || !out || !out_len || !kind)
        return -EINVAL;
    if (len > CODEFMT_MAX_INPUT)
        return -E2BIG;
    codefmt_lang_init(&lg, language);

    r = codefmt_dict(text, len, &val, &val_len);
    if (r < 0)
        goto out;
    if (r > 0) {
        enum codefmt_kind inner = CODEFMT_RAW;

        /* The value may itself be fenced (or marked); its own text if it is neither. */
        r = codefmt_doc(val, val_len, &lg, &res, &res_len, &inner);
        if (r < 0)
            goto out;
        if (!res) {
            res = val;
            res_len = val_len;
            val = NULL;
        }
        k = CODEFMT_DICT;
    } else {
        r = codefmt_doc(text, len, &lg, &res, &res_len, &k);
        if (r < 0)
            goto out;
        if (!res) {
            res = malloc(len + 1);
            if (!res) {
                r = -ENOMEM;
                goto out;
            }
            if (len > 0)
                memcpy(res, text, len);
            res[len] = '\0';
            res_len = len;
            k = CODEFMT_RAW;
        }
    }
    *out = res;
    *out_len = res_len;
    *kind = k;
    res = NULL;
    r = 0;
out:
    free(val);
    free(res);
    return r;
}

const char *codefmt_kind_name(enum codefmt_kind kind)
{
    switch (kind) {
    case CODEFMT_RAW:
        return "raw";
    case CODEFMT_MARKDOWN:
        return "markdown";
    case CODEFMT_DICT:
        return "dict";
    case CODEFMT_MARKERS:
        return "markers";
    }
    return "unknown";
}
