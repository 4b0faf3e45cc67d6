/* files_spec.h - the "files" (files in) and "collect" (files out) fields of an execution request
 * (docs/agent.md "Files in and out"), read and checked the same way by the agent and the
 * orchestrator, and the glob matching of collect patterns. Pure: no I/O, no MHD. */
#ifndef SANDPIT_FILES_SPEC_H
#define SANDPIT_FILES_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define FILES_SPEC_MAX_ENTRIES  256        /* entries of "files" */
#define FILES_SPEC_MAX_FILE     (4u << 20) /* decoded bytes of one entry */
#define FILES_SPEC_MAX_TOTAL    (8u << 20) /* decoded bytes of all entries */
#define FILES_SPEC_PATH_MAX     1024       /* bytes of a path or a pattern */
#define FILES_SPEC_NAME_MAX     255        /* bytes of one component */
#define FILES_SPEC_DEPTH_MAX    32         /* components of a path or a pattern */
#define FILES_SPEC_MAX_PATTERNS 32         /* entries of "collect" */

struct files_spec_entry {
    const char *path;          /* borrowed from the request's JSON, NUL-free, checked */
    const void *data;          /* the bytes: borrowed (utf-8) or owned (base64: data_owned) */
    size_t len;                /* bytes of data */
    unsigned char *data_owned; /* malloc'd decoding, or NULL */
};

struct files_spec {
    struct files_spec_entry *files; /* owned array of n_files */
    size_t n_files;
    size_t total;         /* decoded bytes of all files */
    const char **collect; /* owned array of borrowed patterns */
    size_t n_collect;
    bool present; /* "files" or "collect" was given */
};

/* Reads "files" and "collect" of root (borrowed: the spec points into it, keep it alive).
 * Either may be absent or null. Refuses a bad entry with e->field naming it ("files[2].path",
 * "files[0].content", "files[1].encoding", "collect[3]", "files" for too many or too much). 0 or
 * -ERR_INVALID (a 400, also for the size caps); on success free with files_spec_done. */
int files_spec_parse(json_t *root, struct files_spec *out, struct err *e);
void files_spec_done(struct files_spec *s);

/* Checks a relative path of len bytes: not empty, not absolute, no NUL or control byte, no
 * empty, "." or ".." component, within FILES_SPEC_PATH_MAX, _NAME_MAX and _DEPTH_MAX. field
 * names it in e. 0 or -ERR_INVALID. */
int files_spec_check_path(const char *path, size_t len, const char *field, struct err *e);

/* True when the relative path matches pattern: components are split on '/'; in a component
 * '*' matches any run of characters and '?' one character (neither crosses '/'); a component
 * that is exactly "**" matches zero or more whole components (pattern out/STARSTAR is everything
 * below out, STARSTAR/STAR.csv every .csv at any depth). No brackets or escapes. Greedy with one
 * backtrack point per level, no recursion: quadratic at worst, never exponential. */
bool files_spec_glob(const char *pattern, const char *path);

/* The download URL prefix + id + "/files/" + path into out, path percent-encoded but for its
 * '/' and unreserved characters (cut at size, NUL-terminated). */
void files_spec_url(const char *prefix, const char *id, const char *path, char *out, size_t size);

/* Copies the files fields of an agent's result src ("files", "files_skipped", "files_error")
 * into dst (a dialect's reply), each file's "url" rewritten from the agent's "/execution/..." to
 * prefix + "..." (the orchestrator's route). Returns 1 when some file has such a url (the agent
 * holds files to download), 0 when none, -1 on out of memory. */
int files_spec_copy(json_t *src, json_t *dst, const char *prefix);

/* Matches a download URL prefix + "<uuid>/files/<path>" (len bytes, query removed, already
 * percent-decoded). 0 with id (37 bytes) and path (FILES_SPEC_PATH_MAX + 1 bytes) filled;
 * -ENOENT when url is not such a URL; -EINVAL when it is one with a bad id or path (e says
 * which). */
int files_spec_route(const char *url, size_t len, const char *prefix, char *id, char *path,
                     struct err *e);

#endif
