/* codefmt.c - code format normalisation (DESIGN "Code formats"); pure, no I/O, no globals.
 *
 * Order of recognition: a whole-text dict literal with a generated_code/code string value, then
 * ### START x CODE ### markers, then markdown fences; anything else runs as sent. Every scan is
 * linear in the input and the only recursion (nested dict/list literals) stops at
 * CODEFMT_MAX_DEPTH. Output buffers are sized up front from bounds proven where they are made,
 * and every write is still checked against the buffer's capacity. */
#include "codefmt.h"
#include "codefmt_int.h"
#include "lang.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CODEFMT_MAX_WORD  32 /* longest language word inside a START/END marker */
#define CODEFMT_MAX_BLANK 64 /* longest run of spaces/tabs between marker words */

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

static bool codefmt_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

bool codefmt_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool codefmt_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool codefmt_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

char codefmt_lower(char c)
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

void codefmt_put(struct codefmt_out *o, const char *s, size_t n)
{
    size_t room = o->cap - o->len;
    size_t k = n < room ? n : room;

    assert(o->len <= o->cap);
    if (k > 0 && o->buf)
        memcpy(o->buf + o->len, s, k);
    o->len += k;
    o->total += n;
}

void codefmt_put1(struct codefmt_out *o, char c)
{
    codefmt_put(o, &c, 1);
}

void codefmt_put_utf8(struct codefmt_out *o, uint32_t cp)
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
int codefmt_out_alloc(struct codefmt_out *o, size_t cap)
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

    r = codefmt_dict_parse(text, len, &val, &val_len);
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
