/* jobs_db.c - the job store on disk: SQLite, one writer thread (see jobs_db.h). */
#include "jobs_db.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_util.h"
#include "log.h"
#include "strx.h"

static const char *const jobs_db_statuses[] = {"queued", "running", "completed", "failed",
                                               "cancelled"};

/* Migration n (1-based) takes the schema from version n - 1 to n; never edit a shipped one. */
static const char *const jobs_db_migrations[] = {
    "CREATE TABLE jobs ("
    " id TEXT PRIMARY KEY,"
    " owner TEXT NOT NULL,"  /* "" or "sha256:HEX" of the API key */
    " status TEXT NOT NULL," /* queued running completed failed cancelled */
    " language TEXT NOT NULL,"
    " req_id TEXT NOT NULL,"
    " execution_id TEXT NOT NULL,"
    " agent TEXT NOT NULL,"
    " created_ns INTEGER NOT NULL,"
    " started_ns INTEGER NOT NULL,"
    " finished_ns INTEGER NOT NULL,"
    " error TEXT,"
    " logs TEXT NOT NULL," /* JSON array */
    " result TEXT"         /* JSON object */
    ");"
    "CREATE INDEX jobs_by_created ON jobs(created_ns);",
};

#define JOBS_DB_N_MIGRATIONS (int)(sizeof(jobs_db_migrations) / sizeof(jobs_db_migrations[0]))
_Static_assert(JOBS_DB_N_MIGRATIONS == JOBS_DB_SCHEMA, "one migration per schema version");

enum jobs_db_op_kind { JOBS_DB_UPSERT, JOBS_DB_DELETE };

struct jobs_db_op {
    enum jobs_db_op_kind kind;
    uint64_t seq;
    json_t *rec; /* owned (upsert) */
    char id[64]; /* delete */
    struct jobs_db_op *next;
};

struct jobs_db {
    sqlite3 *db;
    sqlite3_stmt *upsert, *del;
    char path[4096];
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards the queue and the counters below */
    pthread_cond_t wake;  /* the writer: work or stop */
    pthread_cond_t idle;  /* flushers: a batch is done */
    struct jobs_db_op *head, *tail;
    size_t queued;
    bool stop, busy;
    uint64_t next_seq;
    uint64_t done_seq; /* atomics: read without the lock */
    unsigned long written, dropped, errors;
};

bool jobs_db_is_status(const char *name)
{
    for (size_t i = 0; i < sizeof(jobs_db_statuses) / sizeof(jobs_db_statuses[0]); i++) {
        if (name && !strcmp(name, jobs_db_statuses[i]))
            return true;
    }
    return false;
}

/* rec's string member key, or NULL. */
static const char *jobs_db_str(const json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

int jobs_db_row_from_json(const json_t *rec, struct jobs_db_row *row, struct err *e)
{
    static const char *const keys[] = {"id",     "owner",        "status", "language",
                                       "req_id", "execution_id", "agent"};
    const char **dst[] = {&row->id,     &row->owner,   &row->status, &row->language,
                          &row->req_id, &row->exec_id, &row->agent};
    json_t *logs = json_object_get(rec, "logs"), *res = json_object_get(rec, "result");

    memset(row, 0, sizeof(*row));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!(*dst[i] = jobs_db_str(rec, keys[i])))
            return err_set(e, ERR_INVALID, keys[i], "a job record needs the string '%s'", keys[i]);
    }
    if (!jobs_db_is_status(row->status))
        return err_set(e, ERR_INVALID, "status", "unknown job status '%.40s'", row->status);
    if (!json_is_array(logs))
        return err_set(e, ERR_INVALID, "logs", "a job record needs the array 'logs'");
    if (res && !json_is_null(res) && !json_is_object(res))
        return err_set(e, ERR_INVALID, "result", "a job's 'result' is an object or null");
    row->created_ns = json_integer_value(json_object_get(rec, "created_ns"));
    row->started_ns = json_integer_value(json_object_get(rec, "started_ns"));
    row->finished_ns = json_integer_value(json_object_get(rec, "finished_ns"));
    row->error = jobs_db_str(rec, "error");
    row->logs = json_dumps(logs, JSON_COMPACT);
    row->result = json_is_object(res) ? json_dumps(res, JSON_COMPACT) : NULL;
    if (!row->logs || (json_is_object(res) && !row->result)) {
        jobs_db_row_done(row);
        return err_set(e, ENOMEM, "", "out of memory");
    }
    return 0;
}

void jobs_db_row_done(struct jobs_db_row *row)
{
    free(row->logs);
    free(row->result);
    row->logs = row->result = NULL;
}

json_t *jobs_db_row_to_json(const struct jobs_db_row *row, struct err *e)
{
    json_t *logs = NULL, *res = NULL, *rec;

    if (!jobs_db_is_status(row->status)) {
        err_set(e, ERR_INVALID, "status", "unknown job status '%.40s'",
                row->status ? row->status : "(null)");
        return NULL;
    }
    logs = json_loads(row->logs ? row->logs : "", 0, NULL);
    res = row->result ? json_loads(row->result, 0, NULL) : json_null();
    if (!json_is_array(logs) || !(json_is_object(res) || json_is_null(res))) {
        err_set(e, ERR_INVALID, json_is_array(logs) ? "result" : "logs", "does not parse");
        json_decref(logs);
        json_decref(res);
        return NULL;
    }
    /* 's' fails on text that is not UTF-8: such a row was not written by us. */
    rec = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "id",
        row->id ? row->id : "", "owner", row->owner ? row->owner : "", "status", row->status,
        "language", row->language ? row->language : "", "req_id", row->req_id ? row->req_id : "",
        "execution_id", row->exec_id ? row->exec_id : "", "agent", row->agent ? row->agent : "",
        "created_ns", (json_int_t)row->created_ns, "started_ns", (json_int_t)row->started_ns,
        "finished_ns", (json_int_t)row->finished_ns, "logs", logs, "result", res);
    if (rec && row->error && json_util_set_text(rec, "error", row->error, strlen(row->error)) < 0)
        json_decref(rec), rec = NULL;
    if (!rec)
        err_set(e, ERR_INVALID, "", "a text column is not UTF-8, or out of memory");
    return rec;
}

/* Runs sql (one or more statements). 0, or -ERR_INTERNAL with e set. */
static int jobs_db_exec(sqlite3 *db, const char *sql, struct err *e)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    err_set(e, ERR_INTERNAL, "db", "%s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -ERR_INTERNAL;
}

/* The version in schema_version (0 for a new database), or -1. */
static int jobs_db_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;

    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Brings the schema to JOBS_DB_SCHEMA in one transaction; a newer schema (a later sandpit wrote
 * it) is refused rather than guessed at. 0 or -ERR_INTERNAL with e set. */
static int jobs_db_migrate(sqlite3 *db, struct err *e)
{
    char sql[96];
    int v, r;

    if ((r = jobs_db_exec(db,
                          "BEGIN IMMEDIATE;"
                          "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);",
                          e)) < 0)
        return r;
    v = jobs_db_version(db);
    if (v < 0 || v > JOBS_DB_SCHEMA) {
        (void)jobs_db_exec(db, "ROLLBACK", NULL);
        return err_set(e, ERR_INTERNAL, "db",
                       v < 0 ? "cannot read schema_version"
                             : "schema version %d is newer than this build's (%d)",
                       v, JOBS_DB_SCHEMA);
    }
    for (; v < JOBS_DB_SCHEMA; v++) {
        if ((r = jobs_db_exec(db, jobs_db_migrations[v], e)) < 0) {
            (void)jobs_db_exec(db, "ROLLBACK", NULL);
            return r;
        }
    }
    snprintf(sql, sizeof(sql), "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)",
             JOBS_DB_SCHEMA);
    if ((r = jobs_db_exec(db, sql, e)) < 0 || (r = jobs_db_exec(db, "COMMIT", e)) < 0) {
        (void)jobs_db_exec(db, "ROLLBACK", NULL);
        return r;
    }
    return 0;
}

int jobs_db_schema_version(struct jobs_db *db)
{
    return jobs_db_version(db->db);
}

struct jobs_db *jobs_db_open(const char *path, struct err *e)
{
    struct jobs_db *db = calloc(1, sizeof(*db));
    bool memory = !strcmp(path, JOBS_DB_MEMORY);
    int fd;

    if (!db) {
        err_set(e, ENOMEM, "", "out of memory");
        return NULL;
    }
    pthread_mutex_init(&db->lock, NULL);
    pthread_cond_init(&db->wake, NULL);
    pthread_cond_init(&db->idle, NULL);
    strx_copy(db->path, sizeof(db->path), path);
    /* Logs and results may be private: the file (and so its -wal and -shm) is the owner's. */
    if (!memory) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            err_set(e, ERR_INTERNAL, "db", "cannot open '%s': %s", path, strerror(errno));
            goto fail;
        }
        close(fd);
    }
    if (sqlite3_open_v2(path, &db->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
                            SQLITE_OPEN_EXRESCODE,
                        NULL) != SQLITE_OK) {
        err_set(e, ERR_INTERNAL, "db", "cannot open '%s': %s", path,
                db->db ? sqlite3_errmsg(db->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(db->db, JOBS_DB_BUSY_MS);
    /* WAL: readers (a backup) never block the writer. NORMAL: see jobs_db.h. */
    if (jobs_db_exec(db->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", e) < 0 ||
        jobs_db_migrate(db->db, e) < 0)
        goto fail;
    if (sqlite3_prepare_v2(db->db,
                           "INSERT OR REPLACE INTO jobs (id, owner, status, language, req_id, "
                           "execution_id, agent, created_ns, started_ns, finished_ns, error, "
                           "logs, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                           "?12, ?13)",
                           -1, &db->upsert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db, "DELETE FROM jobs WHERE id = ?1", -1, &db->del, NULL) !=
            SQLITE_OK) {
        err_set(e, ERR_INTERNAL, "db", "%s", sqlite3_errmsg(db->db));
        goto fail;
    }
    return db;
fail:
    jobs_db_close(db);
    return NULL;
}

int jobs_db_load(struct jobs_db *db, jobs_db_load_fn fn, void *arg)
{
    sqlite3_stmt *st = NULL;
    int n = 0, rc;

    if (sqlite3_prepare_v2(db->db,
                           "SELECT id, owner, status, language, req_id, execution_id, agent, "
                           "created_ns, started_ns, finished_ns, error, logs, result FROM jobs "
                           "ORDER BY created_ns, id",
                           -1, &st, NULL) != SQLITE_OK) {
        log_error("jobs db: %s", sqlite3_errmsg(db->db));
        return -EIO;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *c[13];
        struct jobs_db_row row;
        struct err e = {0};
        json_t *rec;

        for (int i = 0; i < 13; i++)
            c[i] = (const char *)sqlite3_column_text(st, i);
        /* The statement owns the text: the row only borrows it (logs and result too). */
        row = (struct jobs_db_row){.id = c[0],
                                   .owner = c[1],
                                   .status = c[2],
                                   .language = c[3],
                                   .req_id = c[4],
                                   .exec_id = c[5],
                                   .agent = c[6],
                                   .error = c[10],
                                   .logs = (char *)c[11],
                                   .result = (char *)c[12]};
        row.created_ns = sqlite3_column_int64(st, 7);
        row.started_ns = sqlite3_column_int64(st, 8);
        row.finished_ns = sqlite3_column_int64(st, 9);
        rec = jobs_db_row_to_json(&row, &e);
        if (!rec) {
            log_warn("jobs db: row '%.64s' skipped: %s %s", c[0] ? c[0] : "", e.field, e.msg);
            continue;
        }
        fn(arg, rec);
        n++;
    }
    if (rc != SQLITE_DONE)
        log_error("jobs db: reading the jobs stopped: %s", sqlite3_errmsg(db->db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -EIO;
}

/* Writes one op inside the writer's transaction. 0 or -1. */
static int jobs_db_apply(struct jobs_db *db, struct jobs_db_op *op)
{
    sqlite3_stmt *st = op->kind == JOBS_DB_UPSERT ? db->upsert : db->del;
    struct jobs_db_row row;
    struct err e = {0};
    int rc;

    if (op->kind == JOBS_DB_DELETE) {
        sqlite3_bind_text(st, 1, op->id, -1, SQLITE_STATIC);
    } else {
        if (jobs_db_row_from_json(op->rec, &row, &e) < 0) {
            log_error("jobs db: a job record is not written: %s", e.msg);
            return -1;
        }
        const char *text[] = {row.id,     row.owner,   row.status, row.language,
                              row.req_id, row.exec_id, row.agent};
        for (int i = 0; i < 7; i++)
            sqlite3_bind_text(st, i + 1, text[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, row.created_ns);
        sqlite3_bind_int64(st, 9, row.started_ns);
        sqlite3_bind_int64(st, 10, row.finished_ns);
        sqlite3_bind_text(st, 11, row.error, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, row.logs, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 13, row.result, -1, SQLITE_STATIC);
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (op->kind == JOBS_DB_UPSERT)
        jobs_db_row_done(&row);
    if (rc != SQLITE_DONE) {
        log_error("jobs db: writing job '%.64s' failed: %s",
                  op->kind == JOBS_DB_DELETE ? op->id : jobs_db_str(op->rec, "id"),
                  sqlite3_errmsg(db->db));
        return -1;
    }
    return 0;
}

static void jobs_db_free_ops(struct jobs_db_op *op)
{
    while (op) {
        struct jobs_db_op *next = op->next;

        json_decref(op->rec);
        free(op);
        op = next;
    }
}

/* The writer: takes every queued op, writes them in one transaction, publishes done_seq. */
static void *jobs_db_writer(void *arg)
{
    struct jobs_db *db = arg;

    pthread_mutex_lock(&db->lock);
    for (;;) {
        struct jobs_db_op *batch, *last = NULL;
        unsigned long ok = 0, bad = 0;

        while (!db->head && !db->stop)
            pthread_cond_wait(&db->wake, &db->lock);
        if (!db->head)
            break;
        batch = db->head;
        db->head = db->tail = NULL;
        db->queued = 0;
        db->busy = true;
        pthread_mutex_unlock(&db->lock);
        if (jobs_db_exec(db->db, "BEGIN", NULL) < 0)
            log_error("jobs db: BEGIN failed: %s", sqlite3_errmsg(db->db));
        for (struct jobs_db_op *op = batch; op; op = op->next) {
            last = op;
            if (jobs_db_apply(db, op) < 0)
                bad++;
            else
                ok++;
        }
        if (jobs_db_exec(db->db, "COMMIT", NULL) < 0) {
            log_error("jobs db: COMMIT failed: %s", sqlite3_errmsg(db->db));
            (void)jobs_db_exec(db->db, "ROLLBACK", NULL);
            bad += ok;
            ok = 0;
        }
        pthread_mutex_lock(&db->lock);
        db->written += ok;
        db->errors += bad;
        db->busy = false;
        __atomic_store_n(&db->done_seq, last->seq, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&db->idle);
        pthread_mutex_unlock(&db->lock);
        jobs_db_free_ops(batch);
        pthread_mutex_lock(&db->lock);
    }
    pthread_mutex_unlock(&db->lock);
    return NULL;
}

int jobs_db_start(struct jobs_db *db)
{
    int r = pthread_create(&db->thread, NULL, jobs_db_writer, db);

    if (r)
        return -r;
    db->started = true;
    return 0;
}

/* Queues op (taken). Its seq, or 0 when dropped. */
static uint64_t jobs_db_queue_take(struct jobs_db *db, struct jobs_db_op *op)
{
    uint64_t seq = 0;

    pthread_mutex_lock(&db->lock);
    if (db->queued >= JOBS_DB_QUEUE_MAX || db->stop) {
        /* The disk stalls: dropping keeps requests moving; /health counts what was lost. */
        if (db->dropped++ % 1000 == 0)
            log_error("jobs db: the write queue is full (%d): job writes are dropped",
                      JOBS_DB_QUEUE_MAX);
        pthread_mutex_unlock(&db->lock);
        jobs_db_free_ops(op);
        return 0;
    }
    op->seq = seq = ++db->next_seq;
    if (db->tail)
        db->tail->next = op;
    else
        db->head = op;
    db->tail = op;
    db->queued++;
    pthread_cond_signal(&db->wake);
    pthread_mutex_unlock(&db->lock);
    return seq;
}

uint64_t jobs_db_upsert_take(struct jobs_db *db, json_t *rec)
{
    struct jobs_db_op *op = NULL;

    if (db && rec && (op = calloc(1, sizeof(*op)))) {
        op->kind = JOBS_DB_UPSERT;
        op->rec = rec;
        return jobs_db_queue_take(db, op);
    }
    json_decref(rec);
    if (db) {
        pthread_mutex_lock(&db->lock);
        db->dropped++;
        pthread_mutex_unlock(&db->lock);
    }
    return 0;
}

void jobs_db_delete(struct jobs_db *db, const char *id)
{
    struct jobs_db_op *op = db ? calloc(1, sizeof(*op)) : NULL;

    if (!op)
        return;
    op->kind = JOBS_DB_DELETE;
    strx_copy(op->id, sizeof(op->id), id);
    (void)jobs_db_queue_take(db, op);
}

uint64_t jobs_db_done_seq(struct jobs_db *db)
{
    return db ? __atomic_load_n(&db->done_seq, __ATOMIC_ACQUIRE) : 0;
}

bool jobs_db_is_memory(const struct jobs_db *db)
{
    return !strcmp(db->path, JOBS_DB_MEMORY);
}

void jobs_db_flush(struct jobs_db *db)
{
    if (!db || !db->started)
        return;
    pthread_mutex_lock(&db->lock);
    while (db->head || db->busy)
        pthread_cond_wait(&db->idle, &db->lock);
    pthread_mutex_unlock(&db->lock);
}

json_t *jobs_db_stats_json(struct jobs_db *db)
{
    json_t *o;

    if (!db)
        return json_null();
    pthread_mutex_lock(&db->lock);
    o = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "path", db->path, "schema", JOBS_DB_SCHEMA,
                  "queued", (json_int_t)db->queued, "written", (json_int_t)db->written, "dropped",
                  (json_int_t)db->dropped, "errors", (json_int_t)db->errors);
    pthread_mutex_unlock(&db->lock);
    return o;
}

void jobs_db_close(struct jobs_db *db)
{
    if (!db)
        return;
    if (db->started) {
        pthread_mutex_lock(&db->lock);
        db->stop = true;
        pthread_cond_signal(&db->wake);
        pthread_mutex_unlock(&db->lock);
        pthread_join(db->thread, NULL);
    }
    jobs_db_free_ops(db->head);
    sqlite3_finalize(db->upsert);
    sqlite3_finalize(db->del);
    if (db->db && sqlite3_close(db->db) != SQLITE_OK)
        log_error("jobs db: close: %s", sqlite3_errmsg(db->db));
    pthread_cond_destroy(&db->wake);
    pthread_cond_destroy(&db->idle);
    pthread_mutex_destroy(&db->lock);
    free(db);
}
