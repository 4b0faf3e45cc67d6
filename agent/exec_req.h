/* exec_req.h - parsing and validation of POST /execute bodies (pure: no I/O, no MHD). */
#ifndef SANDPIT_EXEC_REQ_H
#define SANDPIT_EXEC_REQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "files_spec.h"
#include "scenario.h"
#include "ws_name.h"

#define EXEC_REQ_MAX_ID 128

struct exec_limits {
    double default_timeout;         /* seconds */
    double max_timeout;             /* seconds */
    long max_output_bytes;          /* per stream: default and cap */
    long memory_mb, pids, disk_mb;  /* the agent's per-execution limits: a scenario's caps */
    const char *policy;             /* the agent's default policy */
    bool allow_override;            /* may a request relax the policy to "standard"? */
    const char *restricted_imports; /* comma-separated allow-list for the harness, or "" */
    /* The canonical name of an available runtime answering to name, or NULL; NULL function:
     * only the embedded Python. available: their names, for the error message. */
    const char *(*language)(void *ctx, const char *name);
    void *language_ctx;
    const char *available;
};

struct exec_req {
    json_t *root;     /* owned: every borrowed pointer below points into it */
    const char *code; /* the program text */
    size_t code_len;
    const char *language;     /* canonical name, e.g. "python" */
    double timeout_s;         /* validated: 0 < t <= max */
    const char *processor_id; /* or NULL */
    json_t *input_data;       /* any JSON value, or NULL */
    json_t *env;              /* object of string -> string, or NULL */
    const char *stdin_data;   /* or NULL */
    size_t stdin_len;
    const char *policy;    /* "standard" | "restricted" */
    bool debug_mode;       /* default true */
    bool trace;            /* line trace in debug_info */
    long trace_limit;      /* trace events kept (0..100000), -1: the harness default */
    long repr_limit;       /* characters per variable repr (10..100000), -1: default */
    long figure_dpi;       /* rich output: dpi of captured figures (10..1000), -1: theirs */
    bool async;            /* reply 202 at once */
    long max_output_bytes; /* per stream */
    const char *restricted_imports; /* borrowed from the limits, passed on in the spec */
    json_t *scenario_json;          /* the request's scenario object, or NULL */
    struct scenario scenario;       /* validated; zero when absent */
    bool network;                   /* the scenario asks for network */
    char workspace[WS_NAME_MAX];    /* the named workspace as working directory, "" = none */
    bool workspace_optional;        /* run without it where workspaces are off (orchestrator) */
    /* A session's cell (agent/sess_mgr.h), set by the caller after parsing; 0 = an execution. */
    uint64_t session_no;
    char session_id[32]; /* also the name of its workspace under --work-dir */
    long execution_count;
    long session_memory_mb; /* its memory limit (for the result's words), 0 = the agent's */
    /* A Jupyter kernel's cell (agent/kernel_mgr.c): the cell's end of its side channel, given
     * as its stdin (borrowed: the kernel closes it after the cell; the manager sends a copy);
     * the spec says "kernel": true. 0 = none (the agent's own fd 0 is never one). */
    int kernel_sock;
    struct files_spec files; /* "files" and "collect" (files_spec.h): borrowed from root */
};

/* Parses body (len bytes, not necessarily NUL-terminated) into out; the program, timeout and
 * env are read as in every dialect (reqbody.h: generated_code wins over code). Returns 0, or
 * -ERR_INVALID with e naming the field. On success the caller owns out (exec_req_done). */
int exec_req_parse(const char *body, size_t len, const struct exec_limits *lim,
                   struct exec_req *out, struct err *e);
/* The execution is over: drops what only its start needed (the program, input_data, env,
 * stdin, any other key of the body: up to the body's cap) and keeps processor_id, policy and
 * the scenario, which stay valid. Best effort: on out of memory everything stays. */
void exec_req_shed(struct exec_req *r);
/* Releases what exec_req_parse allocated; safe on a zeroed struct. */
void exec_req_done(struct exec_req *r);
/* Serialises the spec the harness (or the child, for an exec runtime) reads (DESIGN "Harness").
 * runtime: the exec runtime's description (runtimes_spec, borrowed) or NULL for Python.
 * Returns new text (free()) or NULL on OOM; *len gets its length. workdir becomes HOME and
 * TMPDIR; with network the proxy variables point at the execution's loopback listeners. */
char *exec_req_spec(const struct exec_req *r, const char *exec_id, const char *workdir,
                    json_t *runtime, size_t *len);

#endif
