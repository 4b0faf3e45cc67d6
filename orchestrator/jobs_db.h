/* jobs_db.h - the job store on disk (docs/operations.md "Persistence"): one SQLite table of
 * jobs, written by a thread of its own so that no HTTP request and no upstream callback waits
 * on the disk.
 *
 * A job travels as a record: a JSON object {id, owner, status, language, req_id, execution_id,
 * agent, created_ns, started_ns, finished_ns, error?, logs, result} (owner: "" without API
 * keys, else "sha256:HEX" of the key; logs an array of strings; result an object or null).
 * The row<->record helpers are pure (no database).
 *
 * The database: WAL with synchronous=NORMAL (a commit is one write(2) to the WAL, no fsync:
 * it survives the process being killed, only an OS crash or power loss may lose the last
 * commits; fsync happens at checkpoints), a busy timeout, and a schema_version table read by
 * jobs_db_migrate.
 *
 * Threads: open, load and start from main before the HTTP threads; upsert, delete and
 * done_seq from any thread; close once nothing else calls. */
#ifndef SANDPIT_JOBS_DB_H
#define SANDPIT_JOBS_DB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define JOBS_DB_SCHEMA 1 /* the schema this build writes */
#define JOBS_DB_QUEUE_MAX                                                                          \
    8192                         /* writes waiting for the writer thread; past it they are dropped \
                                  */
#define JOBS_DB_BUSY_MS     5000 /* how long a write waits for another connection's lock */
#define JOBS_DB_MEMORY      ":memory:"
#define JOBS_DB_INTERRUPTED "interrupted by a restart"

/* One row's columns. The strings are borrowed (from a record or a statement); logs and result
 * are JSON text, owned by the row when it was made by jobs_db_row_from_json. */
struct jobs_db_row {
    const char *id, *owner, *status, *language, *req_id, *exec_id, *agent;
    int64_t created_ns, started_ns, finished_ns;
    const char *error; /* NULL = none */
    char *logs;        /* a JSON array */
    char *result;      /* a JSON object, or NULL */
};

/* The row of rec (borrowed; the row's strings point into it, its JSON text is new: free with
 * jobs_db_row_done). 0, or -ERR_INVALID (e says which field is missing) or -ENOMEM. */
int jobs_db_row_from_json(const json_t *rec, struct jobs_db_row *row, struct err *e);
void jobs_db_row_done(struct jobs_db_row *row);
/* The record of a row read back: new reference, or NULL with e set (a corrupt row: unknown
 * status, logs or result that do not parse, text that is not UTF-8). */
json_t *jobs_db_row_to_json(const struct jobs_db_row *row, struct err *e);
/* True when name is a job status the store knows. */
bool jobs_db_is_status(const char *name);

struct jobs_db;

/* Opens (creating a file with mode 0600) and migrates path, or ":memory:". New (free with
 * jobs_db_close), or NULL with e set. */
struct jobs_db *jobs_db_open(const char *path, struct err *e);
/* The schema version in the database (JOBS_DB_SCHEMA after a successful open). */
int jobs_db_schema_version(struct jobs_db *db);
/* Calls fn(arg, rec) for each stored job, oldest first; rec is new and fn's to release. Rows
 * that do not read back are skipped with a warning. Returns how many were passed, or -errno.
 * Before jobs_db_start. */
typedef void (*jobs_db_load_fn)(void *arg, json_t *rec);
int jobs_db_load(struct jobs_db *db, jobs_db_load_fn fn, void *arg);
/* Starts the writer thread. 0 or -errno. */
int jobs_db_start(struct jobs_db *db);
/* Queues the write of rec (taken, even on failure; db NULL is fine: nothing is written).
 * Returns the write's sequence number (> 0), or 0 when nothing was queued (no db, a full queue,
 * OOM: counted as dropped). */
uint64_t jobs_db_upsert_take(struct jobs_db *db, json_t *rec);
/* Queues the delete of job id (db NULL is fine). */
void jobs_db_delete(struct jobs_db *db, const char *id);
/* The highest sequence number the writer has finished with (committed, or failed and counted):
 * a write seq <= this is on disk or will never be. */
uint64_t jobs_db_done_seq(struct jobs_db *db);
/* True when db keeps nothing across a restart (":memory:"). */
bool jobs_db_is_memory(const struct jobs_db *db);
/* Waits until every queued write is done (tests; the writer must be started). */
void jobs_db_flush(struct jobs_db *db);
/* {path, schema, written, dropped, errors}: new reference (NULL db: null). */
json_t *jobs_db_stats_json(struct jobs_db *db);
/* Writes what is queued, stops the writer, closes. NULL is fine. */
void jobs_db_close(struct jobs_db *db);

#endif
