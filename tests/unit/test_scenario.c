/* test_scenario.c - scenario validation and the job API's request body, table-driven. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../orchestrator/job_req.c"
#include "../../orchestrator/lang.c"
#include "../../orchestrator/scenario.c"
#include "../../orchestrator/reqfields.c"

struct scn_case {
    const char *json; /* the scenario value */
    int rc;
    const char *field; /* on error */
    const char *has;   /* on error: substring of the message; on success: of the first warning */
    int warnings;      /* on success */
};

static const struct scn_case scn_cases[] = {
    {"{}", 0, NULL, NULL, 0},
    {"{\"networkLatencyMs\":100}", 0, NULL, "'networkLatencyMs' is accepted but not applied yet",
     1},
    {"{\"networkLatencyMs\":0,\"jitterMs\":1.5,\"bandwidthKbps\":0.5,\"timeoutMs\":1,"
     "\"resetAfterMs\":2,\"upstream\":\"example.com:443\",\"allowHosts\":[\"a.b\",\"*.c\"],"
     "\"simulateCrash\":true,\"crashAfterMs\":3,\"simulateHighCpu\":false,"
     "\"simulateMemoryLeak\":true,\"leakMbPerSec\":4,\"artificialDelayMs\":5,\"cpuLimit\":0.5,"
     "\"memoryLimitMb\":256,\"pidsLimit\":64,\"diskLimitMb\":10}",
     0, NULL, "networkLatencyMs", 17},
    {"{\"jitterMs\":null}", 0, NULL, NULL, 0},
    {"{\"upstream\":\"[::1]:8080\"}", 0, NULL, "upstream", 1},
    {"{\"allowHosts\":[]}", 0, NULL, "allowHosts", 1},
    {"[]", -ERR_INVALID, "scenario", "must be an object", 0},
    {"{\"latency\":5}", -ERR_INVALID, "scenario", "unknown scenario key 'latency'", 0},
    {"{\"jitterMs\":1,\"NetworkLatencyMs\":5}", -ERR_INVALID, "scenario",
     "unknown scenario key 'NetworkLatencyMs'", 0},
    {"{\"networkLatencyMs\":-1}", -ERR_INVALID, "scenario.networkLatencyMs", ">= 0", 0},
    {"{\"networkLatencyMs\":\"5\"}", -ERR_INVALID, "scenario.networkLatencyMs", "number", 0},
    {"{\"networkLatencyMs\":true}", -ERR_INVALID, "scenario.networkLatencyMs", "number", 0},
    {"{\"networkLatencyMs\":1e12}", -ERR_INVALID, "scenario.networkLatencyMs", "<=", 0},
    {"{\"bandwidthKbps\":0}", -ERR_INVALID, "scenario.bandwidthKbps", "> 0", 0},
    {"{\"bandwidthKbps\":-3}", -ERR_INVALID, "scenario.bandwidthKbps", "> 0", 0},
    {"{\"cpuLimit\":-0.5}", -ERR_INVALID, "scenario.cpuLimit", ">= 0", 0},
    {"{\"simulateCrash\":1}", -ERR_INVALID, "scenario.simulateCrash", "boolean", 0},
    {"{\"simulateHighCpu\":\"yes\"}", -ERR_INVALID, "scenario.simulateHighCpu", "boolean", 0},
    {"{\"upstream\":\"nohost\"}", -ERR_INVALID, "scenario.upstream", "host:port", 0},
    {"{\"upstream\":\"h:0\"}", -ERR_INVALID, "scenario.upstream", "host:port", 0},
    {"{\"upstream\":\"h:65536\"}", -ERR_INVALID, "scenario.upstream", "host:port", 0},
    {"{\"upstream\":\":80\"}", -ERR_INVALID, "scenario.upstream", "host:port", 0},
    {"{\"upstream\":\"h:\"}", -ERR_INVALID, "scenario.upstream", "host:port", 0},
    {"{\"upstream\":\"a b:80\"}", -ERR_INVALID, "scenario.upstream", "host:port", 0},
    {"{\"upstream\":80}", -ERR_INVALID, "scenario.upstream", "host:port", 0},
    {"{\"allowHosts\":\"a.b\"}", -ERR_INVALID, "scenario.allowHosts", "array", 0},
    {"{\"allowHosts\":[\"ok\",5]}", -ERR_INVALID, "scenario.allowHosts", "allowHosts[1]", 0},
    {"{\"allowHosts\":[\"\"]}", -ERR_INVALID, "scenario.allowHosts", "allowHosts[0]", 0},
    {"{\"allowHosts\":[\"a/b\"]}", -ERR_INVALID, "scenario.allowHosts", "allowHosts[0]", 0},
};

static void test_scenario_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(scn_cases) / sizeof(scn_cases[0]); i++) {
        const struct scn_case *t = &scn_cases[i];
        json_t *v = json_loads(t->json, 0, NULL), *w = NULL;
        struct err e = {0};
        int rc;

        assert_non_null(v);
        rc = scenario_validate(v, &w, &e);
        if (rc != t->rc)
            fail_msg("case %zu %s: rc %d (%s)", i, t->json, rc, e.msg);
        if (rc < 0) {
            if (strcmp(e.field, t->field) != 0 || !strstr(e.msg, t->has))
                fail_msg("case %zu %s: field '%s' msg '%s'", i, t->json, e.field, e.msg);
        } else {
            if ((int)json_array_size(w) != t->warnings ||
                (t->has && !strstr(json_string_value(json_array_get(w, 0)), t->has)))
                fail_msg("case %zu %s: %zu warnings", i, t->json, json_array_size(w));
            json_decref(w);
        }
        json_decref(v);
    }
}

static void test_scenario_many_hosts(void **state)
{
    json_t *v = json_pack("{s:[]}", "allowHosts"), *w = NULL;
    struct err e = {0};

    (void)state;
    for (int i = 0; i <= SCENARIO_MAX_HOSTS; i++)
        json_array_append_new(json_object_get(v, "allowHosts"), json_string("h"));
    assert_int_equal(scenario_validate(v, &w, &e), -ERR_INVALID);
    assert_non_null(strstr(e.msg, "more than"));
    json_decref(v);
}

struct job_case {
    const char *body;
    int rc;
    const char *field;
    const char *has;
    const char *code;
    const char *lang;
    double timeout;
    int warnings;
};

static const struct job_case job_cases[] = {
    {"{\"code\":\"print(1)\"}", 0, NULL, NULL, "print(1)", "python", 0, 0},
    {"{\"language\":\"python\",\"code\":\"x\",\"scenario\":{\"cpuLimit\":1}}", 0, NULL, NULL, "x",
     "python", 0, 1},
    {"{\"language\":\"js\",\"code\":\"x\",\"timeout\":2.5}", 0, NULL, NULL, "x", "javascript", 2.5,
     0},
    {"{\"generated_code\":\"y\"}", 0, NULL, NULL, "y", "python", 0, 0},
    {"{\"code\":\"x\",\"scenario\":null}", 0, NULL, NULL, "x", "python", 0, 0},
    {"", -ERR_INVALID, "body", "empty", NULL, NULL, 0, 0},
    {"nope", -ERR_INVALID, "body", "not valid JSON", NULL, NULL, 0, 0},
    {"[1]", -ERR_INVALID, "body", "must be a JSON object", NULL, NULL, 0, 0},
    {"{\"language\":\"python\"}", -ERR_INVALID, "code", "missing field 'code'", NULL, NULL, 0, 0},
    {"{\"code\":1}", -ERR_INVALID, "code", "must be a string", NULL, NULL, 0, 0},
    {"{\"code\":\"x\",\"language\":[]}", -ERR_INVALID, "language", "must be a string", NULL, NULL,
     0, 0},
    {"{\"code\":\"x\",\"timeout\":0}", -ERR_INVALID, "timeout", "> 0", NULL, NULL, 0, 0},
    {"{\"code\":\"x\",\"scenario\":5}", -ERR_INVALID, "scenario", "must be an object", NULL, NULL,
     0, 0},
    {"{\"code\":\"x\",\"scenario\":{\"foo\":1}}", -ERR_INVALID, "scenario", "'foo'", NULL, NULL, 0,
     0},
};

static void test_job_req_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(job_cases) / sizeof(job_cases[0]); i++) {
        const struct job_case *t = &job_cases[i];
        struct job_req req;
        struct err e = {0};
        int rc = job_req_parse(t->body, strlen(t->body), 300, &req, &e);

        if (rc != t->rc)
            fail_msg("case %zu %s: rc %d (%s)", i, t->body, rc, e.msg);
        if (rc < 0) {
            if (strcmp(e.field, t->field) != 0 || !strstr(e.msg, t->has))
                fail_msg("case %zu %s: field '%s' msg '%s'", i, t->body, e.field, e.msg);
            assert_null(req.root);
            continue;
        }
        if (req.code_len != strlen(t->code) || memcmp(req.code, t->code, req.code_len) ||
            strcmp(req.language, t->lang) || req.timeout != t->timeout ||
            (int)json_array_size(req.warnings) != t->warnings)
            fail_msg("case %zu %s: wrong result", i, t->body);
        job_req_done(&req);
    }
}

static void test_lang_canon(void **state)
{
    static const char *const ok[][2] = {{"python", "python"},   {"Python3", "python"},
                                        {"py", "python"},       {"PY3", "python"},
                                        {"node", "javascript"}, {"JS", "javascript"},
                                        {"c#", "csharp"},       {"C++", "cpp"},
                                        {"sh", "bash"},         {"brainf_ck-2.0", "brainf_ck-2.0"}};
    static const char *const bad[] = {"", "py thon", "p\xc3\xa9", "a/b", "x\n"};
    char out[LANG_NAME_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(lang_canon(ok[i][0], strlen(ok[i][0]), out, NULL), 0);
        assert_string_equal(out, ok[i][1]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(lang_canon(bad[i], strlen(bad[i]), out, NULL), -ERR_INVALID);
    assert_int_equal(lang_canon("abcdefghijklmnopqrstuvwxyz01234", 31, out, NULL), 0);
    assert_int_equal(lang_canon("abcdefghijklmnopqrstuvwxyz012345", 32, out, NULL), -ERR_INVALID);
    assert_int_equal(lang_canon(NULL, 0, out, NULL), -ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenario_table),
        cmocka_unit_test(test_scenario_many_hosts),
        cmocka_unit_test(test_job_req_table),
        cmocka_unit_test(test_lang_canon),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
