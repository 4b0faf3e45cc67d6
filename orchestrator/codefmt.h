/* codefmt.h - normalises code as LLMs and tool callers send it (raw, markdown fences, dict
 * literals, START/END markers) into the program text to run; pure, no I/O, no globals. */
#ifndef SANDPIT_CODEFMT_H
#define SANDPIT_CODEFMT_H

#include <stddef.h>

#define CODEFMT_MAX_INPUT (10u * 1024u * 1024u) /* longest text codefmt_normalise accepts */

enum codefmt_kind {
    CODEFMT_RAW,      /* run as sent */
    CODEFMT_MARKDOWN, /* fenced blocks extracted */
    CODEFMT_DICT,     /* value of a generated_code / code key */
    CODEFMT_MARKERS,  /* text between ### START <LANG> CODE ### and ### END <LANG> CODE ### */
};

/* Normalise code as sent by an LLM/tool caller into the program text to run.
 * text/len: the submitted text (not NUL-terminated necessarily; may contain NUL bytes).
 * language: the requested language name (e.g. "python", "javascript"; may be NULL = python).
 * On success returns 0, *out is new (free with free()), NUL-terminated, *out_len its length,
 * *kind what was recognised. Returns -ENOMEM on allocation failure, -EINVAL if an argument is
 * NULL, -E2BIG if len > CODEFMT_MAX_INPUT; outputs untouched on any error. Any thread. */
int codefmt_normalise(const char *text, size_t len, const char *language, char **out,
                      size_t *out_len, enum codefmt_kind *kind);
/* Name of a kind: static string "raw" "markdown" "dict" "markers" ("unknown" out of range). */
const char *codefmt_kind_name(enum codefmt_kind kind);

#endif
