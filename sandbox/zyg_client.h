/* zyg_client.h - the HTTP process's handle on its zygote: start it (re-exec of our own binary
 * with --zygote-fd), hand it jobs, watch it, and restart it with backoff when it dies. */
#ifndef SANDPIT_ZYG_CLIENT_H
#define SANDPIT_ZYG_CLIENT_H

#include <jansson.h>
#include <stdint.h>

#include "isolate_state.h"
#include "zyg_proto.h"

struct zyg_client;

/* Creates the client. argv and envp (borrowed for the process lifetime) are what the zygote is
 * executed with, "--zygote-fd=3" appended to argv. Every child of the zygote is a copy of its
 * memory, so neither may hold anything user code must not read. Does not start anything.
 * NULL on OOM. */
struct zyg_client *zyg_client_new(char **argv, char **envp);
/* Forks and execs the zygote. Call it first in main, before any thread exists; 0 or -errno. */
int zyg_client_start(struct zyg_client *zc);
/* Starts the monitor thread (READY messages, death, restart). 0 or -errno. */
int zyg_client_run_monitor(struct zyg_client *zc);
/* Sends a job with its fds (borrowed; the kernel duplicates them). 0, -ERR_UNAVAILABLE while
 * the zygote is down, or -errno. Thread-safe. */
int zyg_client_send_job(struct zyg_client *zc, const struct zyg_job *job,
                        const int fds[ZYG_JOB_NFDS]);
/* Session events from the zygote (monitor thread). A DEAD event with sess_no 0 means every
 * session is gone (the zygote died). */
typedef void (*zyg_client_sess_fn)(void *arg, const struct zyg_sess_event *ev);
/* Sets the session event handler; call before zyg_client_run_monitor. */
void zyg_client_on_session(struct zyg_client *zc, zyg_client_sess_fn fn, void *arg);
/* Sends a session command. Thread-safe; 0, -ERR_UNAVAILABLE or -errno. */
int zyg_client_send_sess(struct zyg_client *zc, const struct zyg_sess_cmd *cmd);
/* Asks the zygote to kill a job. Thread-safe; 0 or -errno. */
int zyg_client_cancel(struct zyg_client *zc, uint64_t job_id);
/* Health snapshot {state, pid, restarts, ...info}: new reference. Thread-safe. */
json_t *zyg_client_health(struct zyg_client *zc);
/* Copies the isolation layers the zygote reported in its last READY into out. 0, or
 * -ERR_UNAVAILABLE before the first READY (out then has every layer off, saying why).
 * Thread-safe. */
int zyg_client_isolation(struct zyg_client *zc, struct isolate_state *out);
/* True once the zygote has sent READY and is alive. */
int zyg_client_is_ready(struct zyg_client *zc);
/* Stops the monitor, closes the socket (the zygote exits and kills its jobs) and reaps it. */
void zyg_client_free(struct zyg_client *zc);

#endif
