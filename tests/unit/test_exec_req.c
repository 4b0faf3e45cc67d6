/* test_exec_req.c - the /execute body parser: every field, every error names its field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../agent/exec_req.c"
#include "buf.h"

static const struct exec_limits lim = {.default_timeout = 30,
                                       .max_timeout = 300,
                                       .max_output_bytes = 1 << 20,
                                       .policy = "standard",
                                       .allow_override = true};

static int parse(const char *body, struct exec_req *r, struct err *e)
{
    return exec_req_parse(body, strlen(body), &lim, r, e);
}

static void test_minimal(void **state)
{
    struct exec_req r;
    struct err e = {0};

    (void)state;
    assert_int_equal(parse("{\"code\":\"print(1)\"}", &r, &e), 0);
    assert_string_equal(r.code, "print(1)");
    assert_string_equal(r.language, "python");
    assert_true(r.timeout_s == 30);
    assert_true(r.debug_mode);
    assert_false(r.async);
    assert_false(r.trace);
    assert_null(r.processor_id);
    assert_null(r.input_data);
    assert_string_equal(r.policy, "standard");
    assert_int_equal(r.max_output_bytes, 1 << 20);
    exec_req_done(&r);
}

static void test_all_fields(void **state)
{
    struct exec_req r;
    struct err e = {0};
    const char *body =
        "{\"generated_code\":\"x\",\"language\":\"Python3\",\"timeout\":2.5,"
        "\"processor_id\":\"p1\",\"input_data\":{\"a\":[1,2]},\"env\":{\"A_1\":\"v\"},"
        "\"stdin\":\"in\",\"debug_mode\":false,\"trace\":true,\"async\":true,"
        "\"max_output_bytes\":100,\"policy\":\"restricted\",\"extra\":1}";

    (void)state;
    assert_int_equal(parse(body, &r, &e), 0);
    assert_string_equal(r.code, "x");
    assert_string_equal(r.language, "python");
    assert_true(r.timeout_s == 2.5);
    assert_string_equal(r.processor_id, "p1");
    assert_true(json_is_object(r.input_data));
    assert_true(json_is_object(r.env));
    assert_string_equal(r.stdin_data, "in");
    assert_int_equal(r.stdin_len, 2);
    assert_false(r.debug_mode);
    assert_true(r.trace);
    assert_true(r.async);
    assert_int_equal(r.max_output_bytes, 100);
    assert_string_equal(r.policy, "restricted");
    exec_req_done(&r);
}

static void test_code_keeps_nul_and_length(void **state)
{
    struct exec_req r;
    struct err e = {0};

    (void)state;
    assert_int_equal(parse("{\"code\":\"a\\u0000b\"}", &r, &e), 0);
    assert_int_equal(r.code_len, 3);
    exec_req_done(&r);
}

/* One precedence in every dialect: generated_code wins over code, wherever it stands. */
static void test_code_precedence(void **state)
{
    static const char *const bodies[] = {
        "{\"code\":\"c\",\"generated_code\":\"g\"}",
        "{\"generated_code\":\"g\",\"code\":\"c\"}",
        "{\"generated_code\":\"g\",\"code\":5}",
    };
    struct exec_req r;
    struct err e = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(parse(bodies[i], &r, &e), 0);
        assert_string_equal(r.code, "g");
        exec_req_done(&r);
    }
    assert_int_equal(parse("{\"generated_code\":null,\"code\":\"c\"}", &r, &e), 0);
    assert_string_equal(r.code, "c");
    exec_req_done(&r);
    assert_int_equal(parse("{\"code\":\"c\",\"generated_code\":5}", &r, &e), -ERR_INVALID);
    assert_string_equal(e.field, "generated_code");
}

/* Without a runtime table only the embedded Python answers, under each of its names. */
static void test_python_names(void **state)
{
    static const char *const names[] = {"python", "PY", "python3", "Py3"};
    struct exec_req r;
    struct err e = {0};
    char body[96];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(body, sizeof(body), "{\"code\":\"x\",\"language\":\"%s\"}", names[i]);
        assert_int_equal(parse(body, &r, &e), 0);
        assert_string_equal(r.language, "python");
        exec_req_done(&r);
    }
    assert_int_equal(parse("{\"code\":\"x\",\"language\":\"node\"}", &r, &e), -ERR_INVALID);
    assert_string_equal(e.msg, "language 'node' is not available here; available: python");
}

/* Each bad body must fail with ERR_INVALID and name the field. */
static void test_errors(void **state)
{
    static const struct {
        const char *body;
        const char *field;
        const char *needle;
    } cases[] = {
        {"", "body", "empty"},
        {"not json", "body", "not valid JSON"},
        {"{\"code\":", "body", "not valid JSON"},
        {"[1,2]", "body", "must be a JSON object"},
        {"\"code\"", "body", "must be a JSON object"},
        {"{\"code\":1,\"code\":2}", "body", "not valid JSON"},
        {"{}", "code", "required"},
        {"{\"code\":null}", "code", "required"},
        {"{\"code\":5}", "code", "must be a string"},
        {"{\"code\":\"x\",\"language\":7}", "language", "must be a string"},
        {"{\"code\":\"x\",\"language\":\"cobol\"}", "language", "available: python"},
        {"{\"code\":\"x\",\"timeout\":0}", "timeout", "> 0"},
        {"{\"code\":\"x\",\"timeout\":-1}", "timeout", "> 0"},
        {"{\"code\":\"x\",\"timeout\":301}", "timeout", "<= 300"},
        {"{\"code\":\"x\",\"timeout\":\"5\"}", "timeout", "must be a number"},
        {"{\"code\":\"x\",\"debug_mode\":\"yes\"}", "debug_mode", "must be a boolean"},
        {"{\"code\":\"x\",\"async\":1}", "async", "must be a boolean"},
        {"{\"code\":\"x\",\"env\":[]}", "env", "must be an object"},
        {"{\"code\":\"x\",\"env\":{\"A\":1}}", "env", "must be a string"},
        {"{\"code\":\"x\",\"env\":{\"1A\":\"v\"}}", "env", "must match"},
        {"{\"code\":\"x\",\"env\":{\"A=B\":\"v\"}}", "env", "must match"},
        {"{\"code\":\"x\",\"env\":{\"A\":\"a\\u0000b\"}}", "env", "NUL"},
        {"{\"code\":\"x\",\"stdin\":3}", "stdin", "must be a string"},
        {"{\"code\":\"x\",\"max_output_bytes\":0}", "max_output_bytes", "between"},
        {"{\"code\":\"x\",\"max_output_bytes\":99999999999}", "max_output_bytes", "between"},
        {"{\"code\":\"x\",\"max_output_bytes\":1.5}", "max_output_bytes", "integer"},
        {"{\"code\":\"x\",\"policy\":\"loose\"}", "policy", "standard"},
        {"{\"code\":\"x\",\"processor_id\":[]}", "processor_id", "must be a string"},
        {"{\"code\":\"x\",\"trace_limit\":-1}", "trace_limit", "between"},
        {"{\"code\":\"x\",\"trace_limit\":100001}", "trace_limit", "between"},
        {"{\"code\":\"x\",\"repr_limit\":9}", "repr_limit", "between"},
        {"{\"code\":\"x\",\"repr_limit\":\"200\"}", "repr_limit", "integer"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct exec_req r;
        struct err e = {0};

        if (parse(cases[i].body, &r, &e) != -ERR_INVALID)
            fail_msg("case %zu (%s) was accepted", i, cases[i].body);
        if (strcmp(e.field, cases[i].field) != 0)
            fail_msg("case %zu: field '%s', want '%s' (%s)", i, e.field, cases[i].field, e.msg);
        if (!strstr(e.msg, cases[i].needle))
            fail_msg("case %zu: message '%s' lacks '%s'", i, e.msg, cases[i].needle);
    }
}

static void test_env_limits(void **state)
{
    struct exec_req r;
    struct err e = {0};
    struct buf b;

    (void)state;
    buf_init(&b, 0);
    buf_printf(&b, "{\"code\":\"x\",\"env\":{");
    for (int i = 0; i <= REQBODY_MAX_ENV; i++)
        buf_printf(&b, "%s\"V%d\":\"x\"", i ? "," : "", i);
    buf_printf(&b, "}}");
    assert_int_equal(exec_req_parse(b.data, b.len, &lim, &r, &e), -ERR_INVALID);
    assert_string_equal(e.field, "env");
    buf_done(&b);
}

static void test_policy_override(void **state)
{
    struct exec_limits strict = lim;
    struct exec_req r;
    struct err e = {0};
    const char *body = "{\"code\":\"x\",\"policy\":\"standard\"}";

    (void)state;
    strict.policy = "restricted";
    strict.allow_override = false;
    assert_int_equal(exec_req_parse(body, strlen(body), &strict, &r, &e), -ERR_INVALID);
    assert_string_equal(e.field, "policy");
    strict.allow_override = true;
    assert_int_equal(exec_req_parse(body, strlen(body), &strict, &r, &e), 0);
    exec_req_done(&r);
    /* Without a policy field the agent's default applies. */
    assert_int_equal(exec_req_parse("{\"code\":\"x\"}", 12, &strict, &r, &e), 0);
    assert_string_equal(r.policy, "restricted");
    exec_req_done(&r);
}

static void test_spec(void **state)
{
    struct exec_req r;
    struct err e = {0};
    size_t len = 0;
    char *spec;
    json_t *o;

    (void)state;
    assert_int_equal(
        parse("{\"code\":\"print(1)\",\"input_data\":[1],\"env\":{\"K\":\"v\"}}", &r, &e), 0);
    spec = exec_req_spec(&r, "id-1", "/w/id-1", NULL, &len);
    assert_non_null(spec);
    assert_int_equal(len, strlen(spec));
    o = json_loads(spec, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "print(1)");
    assert_string_equal(json_string_value(json_object_get(o, "execution_id")), "id-1");
    assert_true(json_is_array(json_object_get(o, "input_data")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "env"), "K")), "v");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "base_env"), "HOME")),
                        "/w/id-1");
    /* The agent's own environment never reaches user code. */
    assert_null(json_object_get(json_object_get(o, "base_env"), "SANDPIT_SECRET"));
    /* Limits not asked for are left to the harness's defaults. */
    assert_null(json_object_get(o, "trace_limit"));
    assert_null(json_object_get(o, "repr_limit"));
    json_decref(o);
    free(spec);
    exec_req_done(&r);
    assert_int_equal(parse("{\"code\":\"x\",\"trace_limit\":0,\"repr_limit\":500}", &r, &e), 0);
    spec = exec_req_spec(&r, "id-2", "/w/id-2", NULL, &len);
    o = json_loads(spec, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(o, "trace_limit")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "repr_limit")), 500);
    json_decref(o);
    free(spec);
    exec_req_done(&r);
}

/* A runtime table stand-in: "c" and "gcc" are c. */
static const char *fake_language(void *ctx, const char *name)
{
    (void)ctx;
    return !strcmp(name, "c") || !strcmp(name, "gcc") ? "c" : NULL;
}

static void test_language_and_scenario(void **state)
{
    struct exec_limits l2 = lim;
    struct exec_req r;
    struct err e = {0};
    const char *body;
    char *spec;
    size_t len;

    (void)state;
    l2.language = fake_language;
    l2.available = "python, c";
    body = "{\"code\":\"int main(){}\",\"language\":\"gcc\"}";
    assert_int_equal(exec_req_parse(body, strlen(body), &l2, &r, &e), 0);
    assert_string_equal(r.language, "c");
    assert_false(r.network);
    exec_req_done(&r);
    body = "{\"code\":\"x\",\"language\":\"c\",\"policy\":\"restricted\"}";
    assert_int_equal(exec_req_parse(body, strlen(body), &l2, &r, &e), -ERR_INVALID);
    assert_string_equal(e.field, "policy");
    assert_non_null(strstr(e.msg, "Python only"));
    body = "{\"code\":\"x\",\"language\":\"cobol\"}";
    assert_int_equal(exec_req_parse(body, strlen(body), &l2, &r, &e), -ERR_INVALID);
    assert_string_equal(e.field, "language");
    assert_non_null(strstr(e.msg, "available: python, c"));
    /* A scenario: validated, parsed, and its network keys turn the proxy variables on. */
    body = "{\"code\":\"x\",\"scenario\":{\"networkLatencyMs\":50,"
           "\"upstream\":\"db:5432\",\"simulateMemoryLeak\":true}}";
    assert_int_equal(exec_req_parse(body, strlen(body), &lim, &r, &e), 0);
    assert_true(r.network);
    assert_true(r.scenario.latency_ms == 50);
    assert_true(r.scenario.leak_mb_per_sec == 100); /* the documented default */
    spec = exec_req_spec(&r, "id-2", "/w/id-2", NULL, &len);
    assert_non_null(strstr(spec, "\"HTTP_PROXY\":\"http://127.0.0.1:3128\""));
    assert_non_null(strstr(spec, "\"SANDPIT_UPSTREAM\":\"127.0.0.1:3129\""));
    free(spec);
    exec_req_done(&r);
    body = "{\"code\":\"x\",\"scenario\":{\"bandwidthKbps\":0}}";
    assert_int_equal(exec_req_parse(body, strlen(body), &lim, &r, &e), -ERR_INVALID);
    assert_string_equal(e.field, "scenario.bandwidthKbps");
    /* Within the agent's limits, else 400 naming the key (limits of 0 bound nothing). */
    {
        struct exec_limits capped = lim;

        capped.memory_mb = 256;
        capped.max_timeout = 2;
        capped.default_timeout = 1;
        body = "{\"code\":\"x\",\"scenario\":{\"memoryLimitMb\":257}}";
        assert_int_equal(exec_req_parse(body, strlen(body), &capped, &r, &e), -ERR_INVALID);
        assert_string_equal(e.field, "scenario.memoryLimitMb");
        assert_non_null(strstr(e.msg, "--memory-mb 256"));
        body = "{\"code\":\"x\",\"scenario\":{\"artificialDelayMs\":1500}}";
        assert_int_equal(exec_req_parse(body, strlen(body), &capped, &r, &e), -ERR_INVALID);
        assert_string_equal(e.field, "scenario.artificialDelayMs");
        body = "{\"code\":\"x\",\"timeout\":0.5,\"scenario\":{\"artificialDelayMs\":1500}}";
        assert_int_equal(exec_req_parse(body, strlen(body), &capped, &r, &e), 0);
        exec_req_done(&r);
        /* The leak's default rate is the agent's: not refused for a small --memory-mb. */
        capped.memory_mb = 64;
        body = "{\"code\":\"x\",\"scenario\":{\"simulateMemoryLeak\":true}}";
        assert_int_equal(exec_req_parse(body, strlen(body), &capped, &r, &e), 0);
        exec_req_done(&r);
    }
    body = "{\"code\":\"x\",\"scenario\":[1]}";
    assert_int_equal(exec_req_parse(body, strlen(body), &lim, &r, &e), -ERR_INVALID);
    assert_string_equal(e.field, "scenario");
}

/* After the run only processor_id, policy and the scenario stay, still valid; the rest of the
 * body (the program, inputs, any other key) is gone. */
static void test_shed(void **state)
{
    struct exec_req r;
    struct err e = {0};
    const char *body = "{\"code\":\"print(1)\",\"processor_id\":\"p9\",\"policy\":\"restricted\","
                       "\"stdin\":\"in\",\"input_data\":[1],\"env\":{\"A\":\"b\"},\"junk\":\"x\","
                       "\"scenario\":{\"upstream\":\"db:5432\",\"artificialDelayMs\":5}}";

    (void)state;
    assert_int_equal(parse(body, &r, &e), 0);
    exec_req_shed(&r);
    assert_null(r.code);
    assert_null(r.stdin_data);
    assert_null(r.input_data);
    assert_null(r.env);
    assert_string_equal(r.processor_id, "p9");
    assert_string_equal(r.policy, "restricted");
    assert_string_equal(r.scenario.upstream, "db:5432");
    assert_true(r.scenario.delay_ms == 5);
    assert_int_equal(json_object_size(r.root), 3);
    assert_ptr_equal(json_object_get(r.root, "scenario"), r.scenario_json);
    exec_req_shed(&r); /* twice is harmless */
    assert_string_equal(r.processor_id, "p9");
    exec_req_done(&r);
}

/* "workspace": a name kept past the shed, every other shape refused naming the field. */
static void test_workspace(void **state)
{
    static const char *const bad[] = {
        "\"\"",          "\"..\"",
        "\".x\"",        "\"A\"",
        "\"a/b\"",       "\"a b\"",
        "\"_x\"",        "1",
        "\"a\\u0000b\"", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""};
    char body[256];
    struct exec_req r;
    struct err e = {0};

    (void)state;
    assert_int_equal(parse("{\"code\":\"1\",\"workspace\":\"my-ws_1.0\"}", &r, &e), 0);
    assert_string_equal(r.workspace, "my-ws_1.0");
    exec_req_shed(&r);
    assert_string_equal(r.workspace, "my-ws_1.0");
    exec_req_done(&r);
    assert_int_equal(parse("{\"code\":\"1\",\"workspace\":null}", &r, &e), 0);
    assert_string_equal(r.workspace, "");
    exec_req_done(&r);
    /* 63 characters is the longest name. */
    assert_int_equal(parse("{\"code\":\"1\",\"workspace\":"
                           "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                           &r, &e),
                     0);
    exec_req_done(&r);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), "{\"code\":\"1\",\"workspace\":%s}", bad[i]);
        memset(&e, 0, sizeof(e));
        assert_int_equal(parse(body, &r, &e), -ERR_INVALID);
        assert_string_equal(e.field, "workspace");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_all_fields),
        cmocka_unit_test(test_code_keeps_nul_and_length),
        cmocka_unit_test(test_code_precedence),
        cmocka_unit_test(test_python_names),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_env_limits),
        cmocka_unit_test(test_policy_override),
        cmocka_unit_test(test_spec),
        cmocka_unit_test(test_language_and_scenario),
        cmocka_unit_test(test_shed),
        cmocka_unit_test(test_workspace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
