/* test_nadoo.c - the Nadoo dialect (/api/v1): request and batch parsing, the agent body, the
 * replies from an ExecutionResult and from a job; table-driven (STYLE §13:
 * includes the .c files under test). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../orchestrator/reqfields.c"
#include "../../orchestrator/job_req.c"
#include "../../orchestrator/nadoo.c"

struct parse_case {
    const char *body;
    int rc;
    const char *field;      /* on error: e.field; on success: the code */
    const char *has;        /* on error: substring of e.msg; on success: the canonical language */
    double timeout;         /* on success */
    const char *stdin_text; /* on success: expected stdin, NULL = none */
    bool scenario, env;     /* on success: passed on */
};

#define OK(b, code, lang, t, in, sc, env)                                                          \
    {                                                                                              \
        b, 0, code, lang, t, in, sc, env                                                           \
    }
#define BAD(b, field, has)                                                                         \
    {                                                                                              \
        b, -ERR_INVALID, field, has, 0, NULL, false, false                                         \
    }

static const struct parse_case parse_cases[] = {
    OK("{\"code\":\"print(1)\",\"language\":\"python\"}", "print(1)", "python", 0, NULL, false,
       false),
    OK("{\"code\":\"x\"}", "x", "python", 0, NULL, false, false),
    OK("{\"generated_code\":\"g\",\"language\":\"JS\"}", "g", "javascript", 0, NULL, false, false),
    /* One precedence in every dialect: generated_code wins, wherever it stands. */
    OK("{\"code\":\"c\",\"generated_code\":\"g\"}", "g", "python", 0, NULL, false, false),
    OK("{\"generated_code\":\"g\",\"code\":\"c\"}", "g", "python", 0, NULL, false, false),
    OK("{\"generated_code\":null,\"code\":\"c\"}", "c", "python", 0, NULL, false, false),
    OK("{\"code\":\"x\",\"language\":\"sh\",\"timeout\":2.5}", "x", "sh", 2.5, NULL, false, false),
    OK("{\"code\":\"x\",\"stdin\":\"in\\n\"}", "x", "python", 0, "in\n", false, false),
    OK("{\"code\":\"x\",\"input\":\"alias\"}", "x", "python", 0, "alias", false, false),
    OK("{\"code\":\"x\",\"stdin\":\"a\",\"input\":null}", "x", "python", 0, "a", false, false),
    OK("{\"code\":\"x\",\"stdin\":null}", "x", "python", 0, NULL, false, false),
    OK("{\"code\":\"x\",\"env\":{\"A\":\"1\",\"B\":\"\"}}", "x", "python", 0, NULL, false, true),
    OK("{\"code\":\"x\",\"env\":{}}", "x", "python", 0, NULL, false, true),
    OK("{\"code\":\"x\",\"scenario\":{\"artificialDelayMs\":300}}", "x", "python", 0, NULL, true,
       false),
    OK("{\"code\":\"x\",\"scenario\":null,\"policy\":\"restricted\",\"debug_mode\":true}", "x",
       "python", 0, NULL, false, false),
    /* A field this dialect does not read is a 400 naming it (issue 13 item 4). */
    BAD("{\"code\":\"x\",\"scenario\":null,\"extra\":[1]}", "extra", "unknown field 'extra'"),
    BAD("{\"code\":\"x\",\"lang\":\"js\"}", "lang", "did you mean 'language'?"),
    BAD("{\"code\":\"x\",\"Timeout\":3}", "Timeout", "did you mean 'timeout'?"),
    BAD("{\"code\":\"x\",\"async\":true}", "async", "unknown field 'async'"),
    BAD("{\"code\":\"x\",\"trace\":1}", "trace", "boolean"),
    BAD("", "body", "empty"),
    BAD("{", "body", "not valid JSON"),
    BAD("[1]", "body", "must be a JSON object"),
    BAD("{}", "code", "missing field 'code'"),
    BAD("{\"code\":5}", "code", "must be a string"),
    BAD("{\"code\":\"x\",\"generated_code\":5}", "generated_code", "must be a string"),
    BAD("{\"code\":\"x\",\"language\":7}", "language", "must be a string"),
    BAD("{\"code\":\"x\",\"language\":\"a b\"}", "language", "character"),
    BAD("{\"code\":\"x\",\"timeout\":0}", "timeout", "> 0"),
    BAD("{\"code\":\"x\",\"timeout\":301}", "timeout", "<= 300"),
    BAD("{\"code\":\"x\",\"stdin\":1}", "stdin", "must be a string"),
    BAD("{\"code\":\"x\",\"input\":{}}", "input", "must be a string"),
    BAD("{\"code\":\"x\",\"stdin\":\"a\",\"input\":\"b\"}", "input", "not both"),
    BAD("{\"code\":\"x\",\"env\":[]}", "env", "must be an object"),
    BAD("{\"code\":\"x\",\"env\":{\"A\":1}}", "env", "'A' must be a string"),
    /* env as the agent reads it (reqbody_env). */
    BAD("{\"code\":\"x\",\"env\":{\"1A\":\"v\"}}", "env", "must match"),
    BAD("{\"code\":\"x\",\"env\":{\"A\":\"a\\u0000b\"}}", "env", "NUL"),
    BAD("{\"code\":\"x\",\"scenario\":[]}", "scenario", "must be an object"),
    BAD("{\"code\":\"x\",\"scenario\":{\"nope\":1}}", "scenario.nope",
        "unknown scenario key 'nope'"),
    BAD("{\"code\":\"x\",\"scenario\":{\"cpuLimit\":-1}}", "scenario.cpuLimit", ">= 0"),
};

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *t = &parse_cases[i];
        struct job_req req;
        struct err e = {0};
        int rc = nadoo_parse(t->body, strlen(t->body), 300, &req, &e);

        if (rc != t->rc)
            fail_msg("case %zu %s: rc %d (%s: %s)", i, t->body, rc, e.field, e.msg);
        if (rc < 0) {
            if (strcmp(e.field, t->field) != 0 || !strstr(e.msg, t->has))
                fail_msg("case %zu %s: field '%s' msg '%s'", i, t->body, e.field, e.msg);
            assert_null(req.root);
            continue;
        }
        if (req.code_len != strlen(t->field) || memcmp(req.code, t->field, req.code_len) ||
            strcmp(req.language, t->has) || req.timeout != t->timeout ||
            (req.stdin_text == NULL) != (t->stdin_text == NULL) ||
            (t->stdin_text && strcmp(json_string_value(req.stdin_text), t->stdin_text)) ||
            (req.scenario != NULL) != t->scenario || (req.env != NULL) != t->env)
            fail_msg("case %zu %s: wrong result", i, t->body);
        job_req_done(&req);
    }
}

static void test_agent_body(void **state)
{
    static const char body[] = "{\"code\":\"```python\\nprint(1)\\n```\",\"language\":\"py\","
                               "\"timeout\":3,\"input\":\"in\",\"env\":{\"K\":\"v\"},"
                               "\"scenario\":{\"simulateCrash\":true,\"artificialDelayMs\":250}}";
    json_t *root = json_loads(body, 0, NULL), *o;
    struct job_req req;

    (void)state;
    assert_int_equal(nadoo_parse(body, sizeof(body) - 1, 300, &req, NULL), 0);
    assert_true(req.delay_s == 0.25);
    o = job_req_agent_body(&req, "print(1)\n", 9, false);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "print(1)\n");
    assert_string_equal(json_string_value(json_object_get(o, "language")), "python");
    assert_true(json_number_value(json_object_get(o, "timeout")) == 3);
    assert_string_equal(json_string_value(json_object_get(o, "stdin")), "in");
    assert_true(json_equal(json_object_get(o, "env"), json_object_get(root, "env")));
    assert_true(json_equal(json_object_get(o, "scenario"), json_object_get(root, "scenario")));
    assert_null(json_object_get(o, "async"));
    assert_null(json_object_get(o, "input"));
    json_decref(o);
    o = job_req_agent_body(&req, "x", 1, true);
    assert_true(json_is_true(json_object_get(o, "async")));
    json_decref(o);
    job_req_done(&req);
    json_decref(root);
}

struct batch_case {
    const char *body;
    int rc;
    size_t n;          /* on success */
    const char *field; /* on error */
    const char *has;   /* on error */
};

static const struct batch_case batch_cases[] = {
    {"{\"executions\":[{\"code\":\"a\"},{\"code\":\"b\",\"language\":\"sh\"},{\"code\":\"c\"}]}", 0,
     3, NULL, NULL},
    {"{\"executions\":[{\"code\":\"a\"}]}", 0, 1, NULL, NULL},
    {"{}", -ERR_INVALID, 0, "executions", "must be an array"},
    {"{\"executions\":{}}", -ERR_INVALID, 0, "executions", "must be an array"},
    {"{\"executions\":[]}", -ERR_INVALID, 0, "executions", "1 to 32"},
    {"{\"executions\":[{\"code\":\"a\"},{\"language\":\"python\"}]}", -ERR_INVALID, 0,
     "executions[1].code", "missing field 'code'"},
    {"{\"executions\":[5]}", -ERR_INVALID, 0, "executions[0]", "must be a JSON object"},
    {"{\"executions\":[{\"code\":\"a\",\"scenario\":{\"jitterMs\":-1}}]}", -ERR_INVALID, 0,
     "executions[0].scenario.jitterMs", ">= 0"},
    {"[]", -ERR_INVALID, 0, "body", "must be a JSON object"},
};

static void test_batch_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(batch_cases) / sizeof(batch_cases[0]); i++) {
        const struct batch_case *t = &batch_cases[i];
        struct job_req reqs[NADOO_BATCH_MAX];
        struct err e = {0};
        size_t n = 99;
        int rc = nadoo_batch_parse(t->body, strlen(t->body), 300, reqs, &n, &e);

        if (rc != t->rc)
            fail_msg("case %zu %s: rc %d (%s: %s)", i, t->body, rc, e.field, e.msg);
        if (rc < 0) {
            if (n != 0 || strcmp(e.field, t->field) != 0 || !strstr(e.msg, t->has))
                fail_msg("case %zu %s: n %zu field '%s' msg '%s'", i, t->body, n, e.field, e.msg);
            continue;
        }
        assert_int_equal(n, t->n);
        for (size_t k = 0; k < n; k++)
            job_req_done(&reqs[k]);
    }
}

static void test_batch_bound(void **state)
{
    json_t *o = json_pack("{s:[]}", "executions");
    struct job_req reqs[NADOO_BATCH_MAX];
    struct err e = {0};
    size_t n;
    char *text;

    (void)state;
    for (int i = 0; i < NADOO_BATCH_MAX; i++)
        json_array_append_new(json_object_get(o, "executions"), json_pack("{s:s}", "code", "1"));
    text = json_dumps(o, 0);
    assert_int_equal(nadoo_batch_parse(text, strlen(text), 300, reqs, &n, &e), 0);
    assert_int_equal(n, NADOO_BATCH_MAX);
    for (size_t k = 0; k < n; k++)
        job_req_done(&reqs[k]);
    free(text);
    json_array_append_new(json_object_get(o, "executions"), json_pack("{s:s}", "code", "1"));
    text = json_dumps(o, 0);
    assert_int_equal(nadoo_batch_parse(text, strlen(text), 300, reqs, &n, &e), -ERR_INVALID);
    assert_string_equal(e.field, "executions");
    assert_non_null(strstr(e.msg, "got 33"));
    free(text);
    json_decref(o);
}

static void test_status_map(void **state)
{
    static const char *const map[][2] = {
        {"pending", "queued"}, {"running", "running"}, {"completed", "success"},
        {"failed", "error"},   {"timeout", "timeout"}, {"cancelled", "cancelled"},
        {"whatever", "error"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        assert_string_equal(nadoo_status(map[i][0]), map[i][1]);
    assert_string_equal(nadoo_status(NULL), "error");
}

struct reply_case {
    const char *result;
    const char *status;
    const char *error; /* NULL = JSON null */
};

static const struct reply_case reply_cases[] = {
    {"{\"status\":\"completed\",\"stdout\":\"a\",\"stderr\":\"\",\"exit_code\":0,\"error\":null}",
     "success", NULL},
    {"{\"status\":\"completed\",\"error\":\"ignored\"}", "success", NULL},
    {"{\"status\":\"failed\",\"error\":\"ZeroDivisionError: division by zero\"}", "error",
     "ZeroDivisionError: division by zero"},
    {"{\"status\":\"failed\"}", "error", "Execution failed"},
    {"{\"status\":\"timeout\",\"error\":null}", "timeout", "Timed out"},
    {"{\"status\":\"cancelled\"}", "cancelled", "Cancelled"},
    {"{}", "error", "Execution failed"},
};

static void test_reply_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
        json_t *res = json_loads(reply_cases[i].result, 0, NULL), *o;
        const char *err;

        assert_non_null(res);
        o = nadoo_reply(res);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "status")), reply_cases[i].status);
        err = json_string_value(json_object_get(o, "error"));
        if (reply_cases[i].error ? !err || strcmp(err, reply_cases[i].error) : err != NULL)
            fail_msg("case %zu: error '%s'", i, err ? err : "(null)");
        /* Every field of the contract is always there. */
        for (size_t k = 0; k < 8; k++) {
            static const char *const keys[] = {"execution_id",   "status", "language",
                                               "stdout",         "stderr", "exit_code",
                                               "execution_time", "error"};
            if (!json_object_get(o, keys[k]))
                fail_msg("case %zu: no %s", i, keys[k]);
        }
        assert_true(json_is_string(json_object_get(o, "stdout")));
        json_decref(o);
        json_decref(res);
    }
}

static void test_reply_fields(void **state)
{
    json_t *res = json_loads(
        "{\"execution_id\":\"e1\",\"status\":\"failed\",\"language\":\"python\",\"stdout\":\"o\","
        "\"stderr\":\"Segmentation fault\",\"exit_code\":139,\"execution_time\":0.5,"
        "\"exit_reason\":\"signaled\",\"error\":\"Signal: SIGSEGV\","
        "\"scenario\":{\"simulateCrash\":true},\"warnings\":[],\"artificial_delay_s\":0,"
        "\"network\":{\"bytes_up\":0},\"debug_info\":null}",
        0, NULL);
    json_t *o = nadoo_reply(res);

    (void)state;
    assert_string_equal(json_string_value(json_object_get(o, "execution_id")), "e1");
    assert_string_equal(json_string_value(json_object_get(o, "language")), "python");
    assert_string_equal(json_string_value(json_object_get(o, "stdout")), "o");
    assert_int_equal(json_integer_value(json_object_get(o, "exit_code")), 139);
    assert_true(json_number_value(json_object_get(o, "execution_time")) == 0.5);
    assert_string_equal(json_string_value(json_object_get(o, "exit_reason")), "signaled");
    assert_true(json_equal(json_object_get(o, "scenario"), json_object_get(res, "scenario")));
    assert_true(json_is_array(json_object_get(o, "warnings")));
    assert_true(json_equal(json_object_get(o, "network"), json_object_get(res, "network")));
    assert_non_null(json_object_get(o, "artificial_delay_s"));
    assert_null(json_object_get(o, "debug_info"));
    json_decref(o);
    json_decref(res);

    /* No scenario: none of its fields. */
    res = json_loads("{\"status\":\"completed\"}", 0, NULL);
    o = nadoo_reply(res);
    assert_null(json_object_get(o, "warnings"));
    assert_null(json_object_get(o, "scenario"));
    assert_true(json_is_null(json_object_get(o, "exit_code")));
    assert_string_equal(json_string_value(json_object_get(o, "stdout")), "");
    json_decref(o);
    json_decref(res);

    o = nadoo_failure("python", "no healthy agent for language 'python'");
    assert_string_equal(json_string_value(json_object_get(o, "status")), "error");
    assert_string_equal(json_string_value(json_object_get(o, "language")), "python");
    assert_non_null(strstr(json_string_value(json_object_get(o, "error")), "no healthy agent"));
    assert_true(json_is_null(json_object_get(o, "execution_id")));
    json_decref(o);
}

struct job_case {
    const char *job; /* a JOBS_VIEW_LOGS object */
    const char *status;
    bool has_error;
};

static const struct job_case job_cases[] = {
    {"{\"jobId\":\"j\",\"status\":\"queued\",\"language\":\"python\",\"result\":null}", "queued",
     false},
    {"{\"jobId\":\"j\",\"status\":\"running\",\"language\":\"python\",\"result\":null}", "running",
     false},
    {"{\"jobId\":\"j\",\"status\":\"completed\",\"language\":\"python\",\"result\":{\"stdout\":"
     "\"1\\n\",\"stderr\":\"\",\"exitCode\":0,\"error\":null,\"durationMs\":12.5,"
     "\"warnings\":[],\"exitReason\":\"exited\"}}",
     "success", false},
    {"{\"jobId\":\"j\",\"status\":\"failed\",\"language\":\"python\",\"result\":{\"stdout\":\"\","
     "\"stderr\":\"\",\"exitCode\":null,\"error\":\"Timed out: x\",\"exitReason\":\"timeout\"}}",
     "timeout", true},
    {"{\"jobId\":\"j\",\"status\":\"failed\",\"language\":\"python\",\"result\":{\"error\":"
     "\"boom\","
     "\"exitReason\":\"exited\",\"exitCode\":1}}",
     "error", true},
    {"{\"jobId\":\"j\",\"status\":\"cancelled\",\"language\":\"python\",\"result\":{\"error\":"
     "\"cancelled\"}}",
     "cancelled", true},
    /* fuzz_nadoo found an unknown status passed through as it was. */
    {"{\"jobId\":\"j\",\"status\":\"failgd\",\"language\":\"python\",\"result\":null}", "error",
     false},
};

static void test_job_view(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(job_cases) / sizeof(job_cases[0]); i++) {
        json_t *job = json_loads(job_cases[i].job, 0, NULL), *o;

        assert_non_null(job);
        o = nadoo_job_view(job);
        assert_non_null(o);
        if (strcmp(json_string_value(json_object_get(o, "status")), job_cases[i].status) ||
            json_is_string(json_object_get(o, "error")) != job_cases[i].has_error)
            fail_msg("case %zu: status %s", i, json_string_value(json_object_get(o, "status")));
        assert_string_equal(json_string_value(json_object_get(o, "execution_id")), "j");
        assert_string_equal(json_string_value(json_object_get(o, "language")), "python");
        assert_true(json_is_string(json_object_get(o, "stdout")));
        json_decref(o);
        json_decref(job);
    }
    {
        json_t *job = json_loads(job_cases[2].job, 0, NULL), *o = nadoo_job_view(job);

        assert_true(json_number_value(json_object_get(o, "execution_time")) == 0.0125);
        assert_int_equal(json_integer_value(json_object_get(o, "exit_code")), 0);
        assert_string_equal(json_string_value(json_object_get(o, "stdout")), "1\n");
        /* A job without a scenario: no warnings, as a synchronous reply (issue 13 item 11). */
        assert_null(json_object_get(o, "warnings"));
        json_decref(o);
        json_decref(job);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),  cmocka_unit_test(test_agent_body),
        cmocka_unit_test(test_batch_table),  cmocka_unit_test(test_batch_bound),
        cmocka_unit_test(test_status_map),   cmocka_unit_test(test_reply_table),
        cmocka_unit_test(test_reply_fields), cmocka_unit_test(test_job_view),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
