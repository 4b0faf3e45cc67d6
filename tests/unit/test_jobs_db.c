/* test_jobs_db.c - the jobs' database: the row<->record mapping, the schema migration, and
 * writes read back, on ":memory:". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../orchestrator/jobs_db.c"

#define ID1 "11111111-2222-4333-8444-555555555555"
#define ID2 "66666666-7777-4888-9999-aaaaaaaaaaaa"

static json_t *test_record(const char *id, const char *status)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:[s,s], s:{s:s, "
                     "s:i}}",
                     "id", id, "owner", "sha256:abcd", "status", status, "language", "python",
                     "req_id", "req-1", "execution_id", "exec-1", "agent", "http://127.0.0.1:1",
                     "created_ns", (json_int_t)1000, "started_ns", (json_int_t)2000, "finished_ns",
                     (json_int_t)3000, "error", "exit code 3", "logs", "[t] queued",
                     "[t] caf\xc3\xa9", "result", "stdout", "hi\n", "exitCode", 3);
}

static void test_jobs_db_row_round_trip(void **state)
{
    json_t *rec = test_record(ID1, "failed"), *back;
    struct jobs_db_row row;
    struct err e = {0};

    (void)state;
    assert_int_equal(jobs_db_row_from_json(rec, &row, &e), 0);
    assert_string_equal(row.id, ID1);
    assert_string_equal(row.owner, "sha256:abcd");
    assert_string_equal(row.exec_id, "exec-1");
    assert_int_equal(row.created_ns, 1000);
    assert_int_equal(row.finished_ns, 3000);
    assert_string_equal(row.error, "exit code 3");
    assert_string_equal(row.logs, "[\"[t] queued\",\"[t] caf\xc3\xa9\"]");
    assert_non_null(row.result);
    back = jobs_db_row_to_json(&row, &e);
    assert_non_null(back);
    assert_true(json_equal(back, rec));
    jobs_db_row_done(&row);
    json_decref(back);
    json_decref(rec);
}

static void test_jobs_db_row_without_result_or_error(void **state)
{
    json_t *rec = test_record(ID1, "queued"), *back;
    struct jobs_db_row row;
    struct err e = {0};

    (void)state;
    json_object_set_new(rec, "result", json_null());
    json_object_del(rec, "error");
    assert_int_equal(jobs_db_row_from_json(rec, &row, &e), 0);
    assert_null(row.result);
    assert_null(row.error);
    back = jobs_db_row_to_json(&row, &e);
    assert_true(json_is_null(json_object_get(back, "result")));
    assert_null(json_object_get(back, "error"));
    jobs_db_row_done(&row);
    json_decref(back);
    json_decref(rec);
}

static void test_jobs_db_row_refuses_bad_records(void **state)
{
    json_t *rec = test_record(ID1, "finished");
    struct jobs_db_row row;
    struct err e = {0};

    (void)state;
    /* Not a status of ours. */
    assert_int_equal(jobs_db_row_from_json(rec, &row, &e), -ERR_INVALID);
    assert_string_equal(e.field, "status");
    json_object_set_new(rec, "status", json_string("completed"));
    json_object_del(rec, "owner");
    assert_int_equal(jobs_db_row_from_json(rec, &row, &e), -ERR_INVALID);
    assert_string_equal(e.field, "owner");
    json_object_set_new(rec, "owner", json_string(""));
    json_object_set_new(rec, "logs", json_string("not a list"));
    assert_int_equal(jobs_db_row_from_json(rec, &row, &e), -ERR_INVALID);
    assert_string_equal(e.field, "logs");
    json_decref(rec);
}

static void test_jobs_db_row_read_back_checks_columns(void **state)
{
    struct jobs_db_row row = {ID1,  "",         "completed",          "python", "", "", "", 1, 2, 3,
                              NULL, "[\"ok\"]", "{\"stdout\": \"x\"}"};
    struct err e = {0};
    json_t *rec;

    (void)state;
    rec = jobs_db_row_to_json(&row, &e);
    assert_non_null(rec);
    json_decref(rec);
    row.logs = "[\"cut";
    assert_null(jobs_db_row_to_json(&row, &e));
    assert_string_equal(e.field, "logs");
    row.logs = "[]";
    row.result = "[1]";
    assert_null(jobs_db_row_to_json(&row, &e));
    assert_string_equal(e.field, "result");
    row.result = NULL;
    row.status = "lost";
    assert_null(jobs_db_row_to_json(&row, &e));
    row.status = "failed";
    row.error = "bad \xff byte";
    rec = jobs_db_row_to_json(&row, &e);
    assert_non_null(rec);
    assert_string_equal(json_string_value(json_object_get(rec, "error")), "bad \xef\xbf\xbd byte");
    json_decref(rec);
    row.error = NULL;
    row.agent = "not \xff utf-8";
    assert_null(jobs_db_row_to_json(&row, &e));
}

static void test_jobs_db_migration(void **state)
{
    struct err e = {0};
    struct jobs_db *db = jobs_db_open(JOBS_DB_MEMORY, &e);

    (void)state;
    assert_non_null(db);
    assert_int_equal(jobs_db_schema_version(db), JOBS_DB_SCHEMA);
    /* Again on the same database: nothing to do, still one version row. */
    assert_int_equal(jobs_db_migrate(db->db, &e), 0);
    assert_int_equal(jobs_db_schema_version(db), JOBS_DB_SCHEMA);
    assert_int_equal(jobs_db_exec(db->db, "UPDATE schema_version SET version = 99", &e), 0);
    /* A schema from a later build is refused, not guessed at. */
    assert_int_equal(jobs_db_migrate(db->db, &e), -ERR_INTERNAL);
    assert_non_null(strstr(e.msg, "newer"));
    jobs_db_close(db);
}

struct test_loaded {
    int n;
    json_t *recs[4];
};

static void test_collect(void *arg, json_t *rec)
{
    struct test_loaded *l = arg;

    if (l->n < 4)
        l->recs[l->n++] = rec;
    else
        json_decref(rec);
}

static void test_jobs_db_write_and_load(void **state)
{
    struct err e = {0};
    struct jobs_db *db = jobs_db_open(JOBS_DB_MEMORY, &e);
    struct test_loaded l = {0};
    json_t *later = test_record(ID2, "running"), *first = test_record(ID1, "queued");
    uint64_t s1, s2, s3;

    (void)state;
    assert_non_null(db);
    assert_int_equal(jobs_db_start(db), 0);
    json_object_set_new(later, "created_ns", json_integer(5000));
    s1 = jobs_db_upsert_take(db, json_incref(later));
    s2 = jobs_db_upsert_take(db, json_incref(first));
    /* The same job again: replaced, not added. */
    json_object_set_new(first, "status", json_string("completed"));
    s3 = jobs_db_upsert_take(db, json_incref(first));
    assert_true(s1 > 0 && s2 > s1 && s3 > s2);
    jobs_db_flush(db);
    assert_true(jobs_db_done_seq(db) >= s3);
    /* jobs_db_load is for start-up, before the writer; the flush made it idle. */
    assert_int_equal(jobs_db_load(db, test_collect, &l), 2);
    /* Oldest first. */
    assert_true(json_equal(l.recs[0], first));
    assert_true(json_equal(l.recs[1], later));
    for (int i = 0; i < l.n; i++)
        json_decref(l.recs[i]);
    jobs_db_delete(db, ID2);
    jobs_db_flush(db);
    l.n = 0;
    assert_int_equal(jobs_db_load(db, test_collect, &l), 1);
    assert_string_equal(json_string_value(json_object_get(l.recs[0], "id")), ID1);
    json_decref(l.recs[0]);
    /* NULL db: nothing written, the record released. */
    assert_int_equal(jobs_db_upsert_take(NULL, json_incref(first)), 0);
    assert_int_equal(jobs_db_done_seq(NULL), 0);
    json_decref(first);
    json_decref(later);
    jobs_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_db_row_round_trip),
        cmocka_unit_test(test_jobs_db_row_without_result_or_error),
        cmocka_unit_test(test_jobs_db_row_refuses_bad_records),
        cmocka_unit_test(test_jobs_db_row_read_back_checks_columns),
        cmocka_unit_test(test_jobs_db_migration),
        cmocka_unit_test(test_jobs_db_write_and_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
