/* files_spec.c - "files" and "collect" of an execution request (files_spec.h). */
#include "files_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "ids.h"

int files_spec_check_path(const char *path, size_t len, const char *field, struct err *e)
{
    size_t comp = 0, depth = 0;

    if (len == 0)
        return err_set(e, ERR_INVALID, field, "%s is empty", field);
    if (len > FILES_SPEC_PATH_MAX)
        return err_set(e, ERR_INVALID, field, "%s is longer than %d bytes", field,
                       FILES_SPEC_PATH_MAX);
    if (path[0] == '/')
        return err_set(e, ERR_INVALID, field, "%s must be relative to the working directory",
                       field);
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)path[i] : '/';

        if (c == '/') {
            const char *p = path + i - comp;

            if (comp == 0 || (comp == 1 && p[0] == '.') || (comp == 2 && !memcmp(p, "..", 2)))
                return err_set(e, ERR_INVALID, field,
                               "%s has an empty, '.' or '..' component: paths stay inside the "
                               "working directory",
                               field);
            if (comp > FILES_SPEC_NAME_MAX)
                return err_set(e, ERR_INVALID, field, "%s has a component over %d bytes", field,
                               FILES_SPEC_NAME_MAX);
            if (++depth > FILES_SPEC_DEPTH_MAX)
                return err_set(e, ERR_INVALID, field, "%s has more than %d components", field,
                               FILES_SPEC_DEPTH_MAX);
            comp = 0;
        } else if (c < 0x20 || c == 0x7f) {
            return err_set(e, ERR_INVALID, field, "%s holds a NUL or control byte", field);
        } else {
            comp++;
        }
    }
    return 0;
}

/* The content of entry i as bytes into ent: "utf-8" borrows the string, "base64" decodes it. */
static int files_spec_content(json_t *item, size_t i, struct files_spec_entry *ent, struct err *e)
{
    json_t *c = json_object_get(item, "content"), *enc = json_object_get(item, "encoding");
    const char *how = "utf-8";
    char field[48];
    long long n;

    snprintf(field, sizeof(field), "files[%zu].encoding", i);
    if (enc && !json_is_null(enc)) {
        if (!json_is_string(enc))
            return err_set(e, ERR_INVALID, field, "%s must be \"utf-8\" or \"base64\"", field);
        how = json_string_value(enc);
        if (strcmp(how, "utf-8") != 0 && strcmp(how, "base64") != 0)
            return err_set(e, ERR_INVALID, field, "%s must be \"utf-8\" or \"base64\"", field);
    }
    snprintf(field, sizeof(field), "files[%zu].content", i);
    if (!json_is_string(c))
        return err_set(e, ERR_INVALID, field, "%s must be a string", field);
    if (!strcmp(how, "utf-8")) {
        ent->data = json_string_value(c);
        ent->len = json_string_length(c);
        return 0;
    }
    if (json_string_length(c) / 4 * 3 > FILES_SPEC_MAX_FILE + 3)
        return err_set(e, ERR_INVALID, field, "%s decodes to more than %u bytes", field,
                       FILES_SPEC_MAX_FILE);
    ent->data_owned = malloc(json_string_length(c) / 4 * 3 + 3);
    if (!ent->data_owned)
        return err_set(e, ERR_BUSY, field, "out of memory");
    n = b64_decode(json_string_value(c), json_string_length(c), ent->data_owned);
    if (n < 0)
        return err_set(e, ERR_INVALID, field, "%s is not base64 (RFC 4648, no whitespace)", field);
    ent->data = ent->data_owned;
    ent->len = (size_t)n;
    return 0;
}

/* Entry i of "files" into s->files[i]: an object {path, content, encoding?}, its path unique. */
static int files_spec_entry(json_t *item, size_t i, struct files_spec *s, struct err *e)
{
    struct files_spec_entry *ent = &s->files[i];
    json_t *p = json_object_get(item, "path");
    char field[48];
    int r;

    snprintf(field, sizeof(field), "files[%zu]", i);
    if (!json_is_object(item))
        return err_set(e, ERR_INVALID, field, "%s must be an object {path, content, encoding}",
                       field);
    snprintf(field, sizeof(field), "files[%zu].path", i);
    if (!json_is_string(p))
        return err_set(e, ERR_INVALID, field, "%s must be a string", field);
    if ((r = files_spec_check_path(json_string_value(p), json_string_length(p), field, e)) < 0)
        return r;
    ent->path = json_string_value(p);
    for (size_t k = 0; k < i; k++) {
        if (!strcmp(s->files[k].path, ent->path))
            return err_set(e, ERR_INVALID, field, "%s repeats files[%zu].path '%.200s'", field, k,
                           ent->path);
    }
    if ((r = files_spec_content(item, i, ent, e)) < 0)
        return r;
    snprintf(field, sizeof(field), "files[%zu].content", i);
    if (ent->len > FILES_SPEC_MAX_FILE)
        return err_set(e, ERR_INVALID, field, "%s is %zu bytes, over the cap of %u", field,
                       ent->len, FILES_SPEC_MAX_FILE);
    s->total += ent->len;
    if (s->total > FILES_SPEC_MAX_TOTAL)
        return err_set(e, ERR_INVALID, field,
                       "the files up to %s are over the total cap of %u bytes", field,
                       FILES_SPEC_MAX_TOTAL);
    return 0;
}

static int files_spec_files(json_t *arr, struct files_spec *s, struct err *e)
{
    int r;

    if (!json_is_array(arr))
        return err_set(e, ERR_INVALID, "files",
                       "field 'files' must be an array of {path, content, encoding}");
    if (json_array_size(arr) > FILES_SPEC_MAX_ENTRIES)
        return err_set(e, ERR_INVALID, "files", "field 'files' has more than %d entries",
                       FILES_SPEC_MAX_ENTRIES);
    if (json_array_size(arr) == 0)
        return 0;
    s->files = calloc(json_array_size(arr), sizeof(*s->files));
    if (!s->files)
        return err_set(e, ERR_BUSY, "files", "out of memory");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        s->n_files = i + 1; /* what files_spec_done frees */
        if ((r = files_spec_entry(json_array_get(arr, i), i, s, e)) < 0)
            return r;
    }
    return 0;
}

static int files_spec_collect(json_t *arr, struct files_spec *s, struct err *e)
{
    char field[48];
    int r;

    if (!json_is_array(arr))
        return err_set(e, ERR_INVALID, "collect",
                       "field 'collect' must be an array of glob patterns");
    if (json_array_size(arr) > FILES_SPEC_MAX_PATTERNS)
        return err_set(e, ERR_INVALID, "collect", "field 'collect' has more than %d patterns",
                       FILES_SPEC_MAX_PATTERNS);
    if (json_array_size(arr) == 0)
        return 0;
    s->collect = calloc(json_array_size(arr), sizeof(*s->collect));
    if (!s->collect)
        return err_set(e, ERR_BUSY, "collect", "out of memory");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *p = json_array_get(arr, i);

        snprintf(field, sizeof(field), "collect[%zu]", i);
        if (!json_is_string(p))
            return err_set(e, ERR_INVALID, field, "%s must be a string (a glob pattern)", field);
        if ((r = files_spec_check_path(json_string_value(p), json_string_length(p), field, e)) < 0)
            return r;
        s->collect[s->n_collect++] = json_string_value(p);
    }
    return 0;
}

int files_spec_parse(json_t *root, struct files_spec *out, struct err *e)
{
    json_t *files = json_object_get(root, "files"), *collect = json_object_get(root, "collect");
    struct files_spec s = {0};

    if (files && !json_is_null(files)) {
        s.present = true;
        if (files_spec_files(files, &s, e) < 0)
            goto fail;
    }
    if (collect && !json_is_null(collect)) {
        s.present = true;
        if (files_spec_collect(collect, &s, e) < 0)
            goto fail;
    }
    *out = s;
    return 0;
fail:
    files_spec_done(&s);
    return -e->code;
}

void files_spec_done(struct files_spec *s)
{
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i].data_owned);
    free(s->files);
    free(s->collect);
    memset(s, 0, sizeof(*s));
}

/* One component: '*' any run, '?' one character; greedy with the last '*' as the backtrack
 * point, O(len(p) * len(s)) at worst. */
static bool files_spec_glob_comp(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;

    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && (p[pi] == '?' || p[pi] == s[si])) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

/* Splits path on '/' into at most max components (offsets and lengths); -1 past max. */
static int files_spec_split(const char *path, size_t off[], size_t len[], int max)
{
    int n = 0;
    size_t start = 0;

    for (size_t i = 0;; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            if (n == max)
                return -1;
            off[n] = start;
            len[n++] = i - start;
            start = i + 1;
            if (path[i] == '\0')
                return n;
        }
    }
}

bool files_spec_glob(const char *pattern, const char *path)
{
    enum { MAXC = 2 * FILES_SPEC_DEPTH_MAX + 32 };
    size_t po[MAXC], pl[MAXC], so[MAXC], sl[MAXC];
    int np = files_spec_split(pattern, po, pl, MAXC), ns = files_spec_split(path, so, sl, MAXC);
    int pi = 0, si = 0, star = -1, mark = 0;

    if (np < 0 || ns < 0)
        return false;
    /* The same greedy walk one level up: "**" is the star, a component the character. */
    while (si < ns) {
        if (pi < np && pl[pi] == 2 && !memcmp(pattern + po[pi], "**", 2)) {
            star = pi++;
            mark = si;
        } else if (pi < np &&
                   files_spec_glob_comp(pattern + po[pi], pl[pi], path + so[si], sl[si])) {
            pi++;
            si++;
        } else if (star >= 0) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < np && pl[pi] == 2 && !memcmp(pattern + po[pi], "**", 2))
        pi++;
    return pi == np;
}

int files_spec_route(const char *url, size_t len, const char *prefix, char *id, char *path,
                     struct err *e)
{
    size_t pn = strlen(prefix);

    /* prefix, 36 characters of id, "/files/", at least one byte of path */
    if (len < pn + 36 + 8 || memcmp(url, prefix, pn) != 0 || memcmp(url + pn + 36, "/files/", 7))
        return -ENOENT;
    if (!ids_is_uuid(url + pn, 36)) {
        err_set(e, ERR_INVALID, "execution_id", "not an execution id");
        return -EINVAL;
    }
    url += pn + 36 + 7;
    len -= pn + 36 + 7;
    if (files_spec_check_path(url, len, "path", e) < 0)
        return -EINVAL;
    memcpy(id, url - 43, 36);
    id[36] = '\0';
    memcpy(path, url, len);
    path[len] = '\0';
    return 0;
}

void files_spec_url(const char *prefix, const char *id, const char *path, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    int n = snprintf(out, size, "%s%s/files/", prefix, id);
    size_t o = n < 0 ? 0 : (size_t)n;

    for (const unsigned char *p = (const unsigned char *)path; *p && o + 4 < size; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p)) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (size)
        out[o < size ? o : size - 1] = '\0';
}

/* A copy of one file entry with its url under prefix. */
static json_t *files_spec_entry_copy(json_t *f, const char *prefix, int *urls)
{
    json_t *c = json_deep_copy(f);
    const char *url = json_string_value(json_object_get(f, "url"));
    static const char agent_prefix[] = "/execution/";
    char *ours;
    size_t n;

    if (!c || !url || strncmp(url, agent_prefix, sizeof(agent_prefix) - 1) != 0)
        return c;
    n = strlen(prefix) + strlen(url);
    if (!(ours = malloc(n + 1))) {
        json_decref(c);
        return NULL;
    }
    strcpy(ours, prefix);
    strcat(ours, url + sizeof(agent_prefix) - 1);
    json_object_set_new(c, "url", json_string(ours));
    free(ours);
    (*urls)++;
    return c;
}

int files_spec_copy(json_t *src, json_t *dst, const char *prefix)
{
    json_t *files = json_object_get(src, "files"), *list, *f;
    int urls = 0;
    size_t i;

    if (json_object_get(src, "files_skipped") &&
        json_object_set(dst, "files_skipped", json_object_get(src, "files_skipped")) < 0)
        return -1;
    if (json_object_get(src, "files_error") &&
        json_object_set(dst, "files_error", json_object_get(src, "files_error")) < 0)
        return -1;
    if (!json_is_array(files))
        return 0;
    if (!(list = json_array()))
        return -1;
    json_array_foreach(files, i, f)
    {
        if (json_array_append_new(list, files_spec_entry_copy(f, prefix, &urls)) < 0) {
            json_decref(list);
            return -1;
        }
    }
    if (json_object_set_new(dst, "files", list) < 0)
        return -1;
    return urls > 0;
}
