/* toolcall.h - the NVIDIA tool-call contract of POST /execute (DESIGN "Orchestrator API"):
 * request parsing, the body sent to the agent, and the reply built from an ExecutionResult.
 * Pure: no I/O, no MHD, no libcurl. */
#ifndef SANDPIT_TOOLCALL_H
#define SANDPIT_TOOLCALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "lang.h"

#define TOOLCALL_CUT_MARK  "<output cut>"
#define TOOLCALL_TIMED_OUT "Timed out\n"
#define TOOLCALL_TRACEBACK "Traceback (most recent call last):\n"
#define TOOLCALL_MAX_CHARS 1000000000LL /* upper bound of max_output_characters */

struct toolcall_req {
    json_t *root;     /* owned: the parsed body; every borrowed pointer points into it */
    const char *code; /* generated_code (or its alias code), before format normalisation */
    size_t code_len;
    char language[LANG_NAME_MAX]; /* canonical; "python" when not given */
    double timeout;               /* seconds; 0 = the agent's default */
    long long max_chars;          /* max_output_characters; -1 = no cut */
    json_t *scenario;             /* the validated scenario object (in root), or NULL */
    double delay_s;               /* seconds the scenario delays the run (artificialDelayMs) */
    json_t *warnings;             /* owned: array of "unknown field ..." strings, maybe empty */
    const char *workspace;        /* the request's workspace name or "none"; NULL = not given */
};

/* Parses body (len bytes): the fields every dialect shares (reqfields_read: generated_code or
 * code, required, generated_code winning when both are given; language; timeout, required as
 * the reference server requires it; stdin; env; scenario; the agent's REQFIELDS_EXEC fields)
 * and max_output_characters integer >= 0, workspace (a name, common/ws_name.h, or "none");
 * any other field is named in req->warnings and ignored. Returns 0 (release with
 * toolcall_req_done), -ERR_INVALID with e naming the field, or -ENOMEM. */
int toolcall_parse(const char *body, size_t len, double max_timeout, struct toolcall_req *req,
                   struct err *e);
/* Releases what toolcall_parse allocated; safe on a zeroed struct. */
void toolcall_req_done(struct toolcall_req *req);

/* The agent's POST /execute body for req with the normalised code (borrowed): new reference,
 * or NULL on OOM. stdin, env and the REQFIELDS_EXEC fields are passed through (for the agent to
 * apply its own limits), the scenario unchanged for the agent to apply. */
json_t *toolcall_agent_body(const struct toolcall_req *req, const char *code, size_t code_len);

/* Where the call works: the request's workspace, else default_ws (--toolcall-workspace);
 * "none" (or NULL) is none. Sets "workspace" on the agent's body (and "workspace_optional" for
 * the default, which an agent without workspaces skips) and *name to the workspace (borrowed
 * from req or default_ws) or NULL. 0 or -ENOMEM. */
int toolcall_set_workspace(const struct toolcall_req *req, const char *default_ws, json_t *body,
                           const char **name);

/* The contract's reply for an agent ExecutionResult (borrowed): {process_status, stdout,
 * stderr} plus execution_id, language, exit_code, signal, exit_reason, execution_time, result,
 * truncated, and the agent's scenario, warnings, network and artificial_delay_s when present.
 * Streams are cut to max_chars characters (when >= 0) followed by "<output cut>"; a timeout's
 * stderr ends with "Timed out\n"; a failure whose error is not in stderr gets it as the last line;
 * a Python error report without the traceback header (a compile error) gets it first;
 * debug_info when the agent sent one.
 * New reference, or NULL on OOM. */
json_t *toolcall_reply(json_t *res, long long max_chars);

/* Bytes taken by the first max_chars UTF-8 characters of s (len bytes); len when s is shorter.
 * A byte that does not start a character never counts as one. */
size_t toolcall_char_prefix(const char *s, size_t len, long long max_chars);

/* Maps an agent status (completed|failed|timeout|cancelled|...) to completed|error|timeout. */
const char *toolcall_process_status(const char *agent_status);

#endif
