/* kernel_msg.h - Jupyter messaging 5.3 in the single-socket JSON form jupyter_server speaks
 * ({"header", "parent_header", "metadata", "content", "channel", "buffers"}): reading a client's
 * message, building ours, and mapping a cell's ExecutionResult onto iopub and shell messages
 * (docs/kernels.md). Pure: no I/O, no MHD; the clock and ids come from common/. */
#ifndef SANDPIT_KERNEL_MSG_H
#define SANDPIT_KERNEL_MSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define KMSG_PROTOCOL_VERSION "5.3"
#define KMSG_PROMPT_MAX       4096 /* bytes of an input() prompt shown to the client */

/* A client's message. */
struct kmsg_in {
    json_t *root;        /* owned; the pointers below point into it */
    const char *type;    /* header.msg_type */
    const char *channel; /* "shell", "control", "stdin" ("shell" when absent) */
    json_t *header;      /* borrowed from root: parent_header of our answers */
    json_t *content;     /* an object ({} when absent) */
};

/* An execute_request's fields. */
struct kmsg_exec {
    const char *code; /* borrowed from the message */
    bool silent, store_history, allow_stdin, stop_on_error;
};

/* Parses a text message. 0, or -ERR_INVALID with e naming the field. */
int kmsg_parse(const char *data, size_t len, struct kmsg_in *out, struct err *e);
void kmsg_in_done(struct kmsg_in *m);
/* An execute_request's content. 0, or -ERR_INVALID (e names the field). */
int kmsg_execute_fields(const struct kmsg_in *m, struct kmsg_exec *out, struct err *e);

/* A message of ours: new reference (NULL on OOM). content is taken (NULL: {}); parent is
 * borrowed (NULL: {}); session is the kernel's session id for the header. */
json_t *kmsg_new(const char *type, const char *channel, json_t *parent, json_t *content,
                 const char *session);
/* kernel_info_reply's content: new reference. */
json_t *kmsg_kernel_info(const char *python_version);
/* {"execution_state": state}: new reference. */
json_t *kmsg_status(const char *state);

/* What a cell's ExecutionResult (result, borrowed) shows on iopub, in order: an array of
 * [msg_type, content] pairs (new reference): stream stdout and stderr unless streamed already
 * (streamed), a display_data per outputs item of that type, execute_result for the trailing
 * value's item (with count), and error when the cell failed (err: the harness's record
 * {"ename","evalue","traceback"}, borrowed, or NULL: made from the result). */
json_t *kmsg_result_iopub(const json_t *result, long count, const json_t *err, bool streamed);
/* execute_reply's content for the same cell: ok or error (with ename, evalue, traceback). */
json_t *kmsg_execute_reply(const json_t *result, long count, const json_t *err);
/* execute_reply's content for a request not run (stop_on_error after a failure, a dead
 * kernel): {"status": "aborted", "execution_count": count}. */
json_t *kmsg_aborted(long count);
/* The error record of a failed cell (new reference) from its result, when the harness sent
 * none: ename from error_type, evalue the rest of "error", traceback the error line. */
json_t *kmsg_error_of(const json_t *result);
/* How many of p's n bytes end on a whole UTF-8 character: the rest (at most 3 bytes of a
 * character cut by a read) waits for the next chunk. Invalid bytes count as whole. */
size_t kmsg_utf8_whole(const char *p, size_t n);
/* A stream message's content {"name", "text"} from n bytes of output: new reference. */
json_t *kmsg_stream(const char *name, const char *p, size_t n);
/* An input request record from a cell (data, len bytes: JSON {"prompt", "password"}) checked
 * and cut: input_request's content (new reference) or NULL when it is not one. */
json_t *kmsg_input_request(const char *data, size_t len);

#endif
