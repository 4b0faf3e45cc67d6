/* test_jobs_result.c - a job's result object from the agent's ExecutionResult. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../orchestrator/jobs_result.c"

static void test_jobs_result_from_an_execution(void **state)
{
    json_t *res =
        json_pack("{s:s, s:s, s:i, s:f, s:s, s:[s], s:{s:i}, s:{s:i}, s:f, s:s}", "stdout", "hi\n",
                  "stderr", "warn\n", "exit_code", 3, "execution_time", 0.25, "exit_reason",
                  "exited", "warnings", "w1", "scenario", "cpuLimit", 1, "network", "bytes_up", 5,
                  "artificial_delay_s", 0.5, "language", "python");
    json_t *o;

    (void)state;
    o = jobs_result_new(res, "exit code 3", "exec-1", "http://127.0.0.1:8001", 999);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "output")), "hi\n");
    assert_string_equal(json_string_value(json_object_get(o, "stdout")), "hi\n");
    assert_string_equal(json_string_value(json_object_get(o, "stderr")), "warn\n");
    assert_int_equal(json_integer_value(json_object_get(o, "exitCode")), 3);
    assert_string_equal(json_string_value(json_object_get(o, "error")), "exit code 3");
    /* The agent's execution_time wins over the job's own clock. */
    assert_true(json_real_value(json_object_get(o, "durationMs")) == 250.0);
    assert_true(json_equal(json_object_get(o, "warnings"), json_object_get(res, "warnings")));
    assert_string_equal(json_string_value(json_object_get(o, "executionId")), "exec-1");
    assert_string_equal(json_string_value(json_object_get(o, "exitReason")), "exited");
    assert_string_equal(json_string_value(json_object_get(o, "agent")), "http://127.0.0.1:8001");
    assert_true(json_equal(json_object_get(o, "scenario"), json_object_get(res, "scenario")));
    assert_true(json_equal(json_object_get(o, "network"), json_object_get(res, "network")));
    assert_true(json_real_value(json_object_get(o, "artificial_delay_s")) == 0.5);
    assert_null(json_object_get(o, "language"));
    json_decref(o);
    json_decref(res);
}

static void test_jobs_result_without_an_execution(void **state)
{
    json_t *o;

    (void)state;
    /* The run ended before the agent had a result: empty streams, nulls, the job's clock. */
    o = jobs_result_new(NULL, "bad \xff byte", "", "", 12.3456789);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "stdout")), "");
    assert_string_equal(json_string_value(json_object_get(o, "stderr")), "");
    assert_true(json_is_null(json_object_get(o, "exitCode")));
    assert_string_equal(json_string_value(json_object_get(o, "error")), "bad \xef\xbf\xbd byte");
    assert_true(json_real_value(json_object_get(o, "durationMs")) == 12.345);
    assert_int_equal(json_array_size(json_object_get(o, "warnings")), 0);
    assert_true(json_is_null(json_object_get(o, "executionId")));
    assert_true(json_is_null(json_object_get(o, "exitReason")));
    assert_true(json_is_null(json_object_get(o, "agent")));
    assert_null(json_object_get(o, "scenario"));
    json_decref(o);
    /* Completed: no error. */
    o = jobs_result_new(NULL, NULL, "", "", 0);
    assert_true(json_is_null(json_object_get(o, "error")));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_result_from_an_execution),
        cmocka_unit_test(test_jobs_result_without_an_execution),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
