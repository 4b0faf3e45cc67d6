/* exec_result.h - the ExecutionResult of a finished execution (DESIGN "Agent API"), built from
 * the zygote's status record, the harness's result frame and the captured streams.
 *
 * Pure: no locks, no I/O, no exec_mgr, so a table of cases can test it. The outcome (status,
 * exit code, signal, exit_reason) comes from the status record alone: the frame is written by
 * the program's own process, so it may only add its error text, result and debug_info, and
 * label a failure as "policy" or "compile_error". */
#ifndef SANDPIT_EXEC_RESULT_H
#define SANDPIT_EXEC_RESULT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "zyg_proto.h"

#define EXEC_RESULT_OUTPUT_CUT "\n<output cut>" /* ends a stream cut at max_output_bytes */
#define EXEC_RESULT_ERROR_MAX  4096 /* bytes of a program's own error text kept in "error" */
/* The frame's rich outputs (harness/display.py; docs/agent.md "Rich output"): what the builder
 * passes on at most, after checking each item's shape. */
#define EXEC_RESULT_OUTPUTS_MAX       100         /* items */
#define EXEC_RESULT_OUTPUTS_MAX_BYTES (32u << 20) /* their data strings together */
#define EXEC_RESULT_MIME_MAX          127         /* bytes of a mime type */
#define EXEC_RESULT_BUNDLE_MAX        32          /* mime types in one item's data or metadata */
#define EXEC_RESULT_DIMENSION_MAX     (1 << 20)   /* a width or height in metadata */

/* One captured stream: its bytes (borrowed) and whether output past the cap was dropped. */
struct exec_result_text {
    const char *data; /* may be NULL when len is 0; any bytes, not NUL-terminated */
    size_t len;       /* bytes kept */
    bool cut;         /* more was written than kept */
};

/* What the builder reads; every pointer is borrowed for the call. */
struct exec_result_in {
    const char *id;              /* execution_id */
    const char *language;        /* canonical language name */
    const char *processor_id;    /* or NULL */
    const struct zyg_status *st; /* the zygote's record, NULL when none came */
    bool cancel_requested;       /* a client cancelled it */
    bool shutting_down;          /* the agent stopped it (its drain grace had passed) */
    const char *frame;           /* the harness's result frame (JSON), or NULL */
    size_t frame_len;            /* bytes of frame */
    struct exec_result_text out; /* stdout */
    struct exec_result_text err; /* stderr */
    double timeout_s;            /* the run's limit */
    unsigned compile_ms;         /* the compile phase's limit, 0 = none */
    long memory_mb;              /* the memory limit in force */
    int64_t created_real_ns;     /* submitted (CLOCK_REALTIME) */
    int64_t start_real_ns;       /* started (CLOCK_REALTIME), 0 = never started */
    int64_t end_real_ns;         /* end_time (CLOCK_REALTIME) */
    json_t *scenario;            /* the request's scenario object, or NULL */
    double delay_ms;             /* the scenario's artificial delay, 0 = none */
    json_t *warnings;            /* the scenario's parts not applied as asked, or NULL */
    json_t *network;             /* the proxy session's counters, or NULL */
    bool streams_apart;          /* leave stdout/stderr text out (only the *_truncated flags):
                                    the caller keeps the raw bytes (exec_result_view) */
};

/* What the caller counts, set even when building the JSON fails. */
struct exec_result_outcome {
    const char *status; /* static: completed, failed, timeout or cancelled */
    bool lost_zygote;   /* no status record and no cancel: the zygote died under it */
};

/* The ExecutionResult: new reference (json_decref), NULL on out of memory (oc still set).
 * outputs, outputs_truncated and outputs_dropped are always set: the frame's items that have
 * the shape of a mime bundle of strings, copied member by member (nothing else of an item is
 * passed on), within EXEC_RESULT_OUTPUTS_MAX(_BYTES); every other item is dropped and
 * counted. */
json_t *exec_result_build(const struct exec_result_in *in, struct exec_result_outcome *oc);
/* Sets stdout (and its alias output), stderr, their *_replaced and *_truncated flags and
 * truncated on o from the captured bytes (borrowed): the finished result and a running
 * execution's output so far. 0 or -ENOMEM. */
int exec_result_set_streams(json_t *o, const struct exec_result_text *out,
                            const struct exec_result_text *err);
/* Moves the frame's parts out of a built result: result, result_type, debug_info, outputs (up to
 * the frame's 2 MiB, forged or not, and a JSON tree costs many times its text) become compact
 * JSON text kept apart, *extras (new, free()) of *len bytes, NULL when there are none. 0, or
 * -ENOMEM with res unchanged. */
int exec_result_detach(json_t *res, char **extras, size_t *len);
/* debug_info from what a finished result keeps (exec_result_detach; borrowed): new reference,
 * NULL when there is none. */
json_t *exec_result_debug_info(json_t *kept, const char *extras, size_t extras_len);
/* The full result's JSON appended to b without building it as a tree: member for member the
 * result exec_result_build makes without streams_apart. kept's fields (borrowed), the frame's
 * parts spliced from their text, each stream escaped from its raw bytes. 0, or -ENOMEM (b then
 * holds a part). */
int exec_result_encode(json_t *kept, const char *extras, size_t extras_len,
                       const struct exec_result_text *out, const struct exec_result_text *err,
                       struct buf *b);
/* The placeholder of an execution still pending or running (processor_id may be NULL; since:
 * its start, else its submission): new reference, NULL on out of memory. */
json_t *exec_result_pending(const char *id, const char *language, const char *processor_id,
                            bool running, int64_t since_real_ns);

#endif
