/* test_scenario.c - scenario_parse (common/scenario.c) and the job API's request body,
 * table-driven (language names: test_lang.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../orchestrator/job_req.c"
#include "../../common/scenario.c"
#include "../../orchestrator/reqfields.c"

struct scn_case {
    const char *json; /* the scenario value */
    int rc;
    const char *field; /* on error */
    const char *has;   /* on error: substring of the message */
    bool network;      /* on success: scenario_has_network */
};

static const struct scn_case scn_cases[] = {
    {"{}", 0, NULL, NULL, false},
    {"{\"networkLatencyMs\":100}", 0, NULL, NULL, true},
    {"{\"networkLatencyMs\":0,\"jitterMs\":1.5,\"bandwidthKbps\":0.5,\"timeoutMs\":1,"
     "\"resetAfterMs\":2,\"sliceBytes\":10,\"sliceDelayMs\":5,\"limitDataBytes\":1000,"
     "\"toxicDirection\":\"both\",\"upstream\":\"example.com:443\","
     "\"allowHosts\":[\"a.b\",\"*.c\",\"*\",\"h:8080\"],"
     "\"simulateCrash\":true,\"crashAfterMs\":3,\"simulateHighCpu\":false,"
     "\"simulateMemoryLeak\":true,\"leakMbPerSec\":4,\"artificialDelayMs\":5,\"cpuLimit\":0.5,"
     "\"memoryLimitMb\":256,\"pidsLimit\":64,\"diskLimitMb\":10}",
     0, NULL, NULL, true},
    {"{\"jitterMs\":null}", 0, NULL, NULL, false},
    {"{\"simulateCrash\":true,\"artificialDelayMs\":300,\"cpuLimit\":1}", 0, NULL, NULL, false},
    {"{\"toxicDirection\":\"upstream\"}", 0, NULL, NULL, false},
    {"{\"sliceDelayMs\":5}", 0, NULL, NULL, false},
    {"{\"sliceBytes\":5}", 0, NULL, NULL, true},
    {"{\"limitDataBytes\":1}", 0, NULL, NULL, true},
    {"{\"upstream\":\"[::1]:8080\"}", 0, NULL, NULL, true},
    {"{\"allowHosts\":[]}", 0, NULL, NULL, false},
    {"{\"allowHosts\":[\"*.example.com\"]}", 0, NULL, NULL, true},
    {"[]", -ERR_INVALID, "scenario", "must be an object", false},
    {"{\"latency\":5}", -ERR_INVALID, "scenario.latency", "unknown scenario key 'latency'", false},
    {"{\"jitterMs\":1,\"NetworkLatencyMs\":5}", -ERR_INVALID, "scenario.NetworkLatencyMs",
     "unknown scenario key 'NetworkLatencyMs'", false},
    /* An unknown key is named even when another key is also wrong. */
    {"{\"jitterMs\":-1,\"bogus\":5}", -ERR_INVALID, "scenario.bogus", "'bogus'", false},
    {"{\"networkLatencyMs\":-1}", -ERR_INVALID, "scenario.networkLatencyMs", ">= 0", false},
    {"{\"networkLatencyMs\":\"5\"}", -ERR_INVALID, "scenario.networkLatencyMs", "number", false},
    {"{\"networkLatencyMs\":true}", -ERR_INVALID, "scenario.networkLatencyMs", "number", false},
    {"{\"networkLatencyMs\":1e12}", -ERR_INVALID, "scenario.networkLatencyMs", "<=", false},
    {"{\"bandwidthKbps\":0}", -ERR_INVALID, "scenario.bandwidthKbps", "> 0", false},
    {"{\"bandwidthKbps\":-3}", -ERR_INVALID, "scenario.bandwidthKbps", "> 0", false},
    {"{\"cpuLimit\":-0.5}", -ERR_INVALID, "scenario.cpuLimit", ">= 0", false},
    {"{\"sliceBytes\":-1}", -ERR_INVALID, "scenario.sliceBytes", ">= 0", false},
    {"{\"sliceBytes\":2000000}", -ERR_INVALID, "scenario.sliceBytes", "<=", false},
    {"{\"sliceDelayMs\":60001}", -ERR_INVALID, "scenario.sliceDelayMs", "<=", false},
    {"{\"limitDataBytes\":\"1k\"}", -ERR_INVALID, "scenario.limitDataBytes", "number", false},
    {"{\"artificialDelayMs\":3600001}", -ERR_INVALID, "scenario.artificialDelayMs", "<=", false},
    {"{\"toxicDirection\":\"sideways\"}", -ERR_INVALID, "scenario.toxicDirection", "downstream",
     false},
    {"{\"toxicDirection\":1}", -ERR_INVALID, "scenario.toxicDirection", "both", false},
    {"{\"simulateCrash\":1}", -ERR_INVALID, "scenario.simulateCrash", "boolean", false},
    {"{\"simulateHighCpu\":\"yes\"}", -ERR_INVALID, "scenario.simulateHighCpu", "boolean", false},
    {"{\"upstream\":\"nohost\"}", -ERR_INVALID, "scenario.upstream", "host:port", false},
    {"{\"upstream\":\"h:0\"}", -ERR_INVALID, "scenario.upstream", "host:port", false},
    {"{\"upstream\":\"h:65536\"}", -ERR_INVALID, "scenario.upstream", "host:port", false},
    {"{\"upstream\":\":80\"}", -ERR_INVALID, "scenario.upstream", "host:port", false},
    {"{\"upstream\":\"h:\"}", -ERR_INVALID, "scenario.upstream", "host:port", false},
    {"{\"upstream\":\"a b:80\"}", -ERR_INVALID, "scenario.upstream", "host:port", false},
    {"{\"upstream\":\"*.a:80\"}", -ERR_INVALID, "scenario.upstream", "host:port", false},
    {"{\"upstream\":80}", -ERR_INVALID, "scenario.upstream", "host:port", false},
    {"{\"allowHosts\":\"a.b\"}", -ERR_INVALID, "scenario.allowHosts", "array", false},
    {"{\"allowHosts\":[\"ok\",5]}", -ERR_INVALID, "scenario.allowHosts", "allowHosts[1]", false},
    {"{\"allowHosts\":[\"\"]}", -ERR_INVALID, "scenario.allowHosts", "allowHosts[0]", false},
    {"{\"allowHosts\":[\"a/b\"]}", -ERR_INVALID, "scenario.allowHosts", "allowHosts[0]", false},
};

static void test_scenario_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(scn_cases) / sizeof(scn_cases[0]); i++) {
        const struct scn_case *t = &scn_cases[i];
        json_t *v = json_loads(t->json, 0, NULL);
        struct scenario s;
        struct err e = {0};
        int rc;

        assert_non_null(v);
        memset(&s, 0xa5, sizeof(s));
        rc = scenario_parse(v, &s, &e);
        if (rc != t->rc)
            fail_msg("case %zu %s: rc %d (%s)", i, t->json, rc, e.msg);
        if (rc < 0) {
            if (strcmp(e.field, t->field) != 0 || !strstr(e.msg, t->has))
                fail_msg("case %zu %s: field '%s' msg '%s'", i, t->json, e.field, e.msg);
        } else if (scenario_has_network(&s) != t->network) {
            fail_msg("case %zu %s: has_network %d", i, t->json, scenario_has_network(&s));
        }
        /* Validation alone (out NULL) agrees. */
        assert_int_equal(scenario_parse(v, NULL, NULL), t->rc);
        json_decref(v);
    }
}

/* Every key lands in its field; absent and null keys read as 0 / false / NULL. */
static void test_scenario_values(void **state)
{
    json_t *v = json_loads(
        "{\"networkLatencyMs\":10,\"jitterMs\":1.5,\"bandwidthKbps\":64,\"timeoutMs\":7,"
        "\"resetAfterMs\":8,\"sliceBytes\":16,\"sliceDelayMs\":2,\"limitDataBytes\":4096,"
        "\"toxicDirection\":\"upstream\",\"upstream\":\"db.local:5432\","
        "\"allowHosts\":[\"*.example.com\",\"*\"],\"simulateCrash\":true,\"crashAfterMs\":30,"
        "\"simulateHighCpu\":true,\"simulateMemoryLeak\":false,\"leakMbPerSec\":5,"
        "\"artificialDelayMs\":300,\"cpuLimit\":0.5,\"memoryLimitMb\":128,\"pidsLimit\":32,"
        "\"diskLimitMb\":9}",
        0, NULL);
    json_t *empty = json_loads("{\"jitterMs\":null,\"upstream\":null}", 0, NULL);
    struct scenario s;

    (void)state;
    assert_int_equal(scenario_parse(v, &s, NULL), 0);
    assert_true(s.latency_ms == 10 && s.jitter_ms == 1.5 && s.bandwidth_kbps == 64);
    assert_true(s.timeout_ms == 7 && s.reset_after_ms == 8);
    assert_true(s.slice_bytes == 16 && s.slice_delay_ms == 2 && s.limit_data_bytes == 4096);
    assert_int_equal(s.direction, SCENARIO_UP);
    assert_string_equal(s.upstream, "db.local:5432");
    assert_ptr_equal(s.allow_hosts, json_object_get(v, "allowHosts"));
    assert_true(s.crash && s.high_cpu && !s.leak);
    assert_true(s.crash_after_ms == 30 && s.leak_mb_per_sec == 5 && s.delay_ms == 300);
    assert_true(s.cpu_limit == 0.5 && s.memory_limit_mb == 128 && s.pids_limit == 32 &&
                s.disk_limit_mb == 9);
    assert_true(scenario_has_network(&s));

    assert_int_equal(scenario_parse(empty, &s, NULL), 0);
    assert_true(s.jitter_ms == 0 && s.upstream == NULL && s.allow_hosts == NULL);
    assert_int_equal(s.direction, SCENARIO_DOWN);
    assert_false(scenario_has_network(&s));

    /* A failed parse leaves out alone. */
    memset(&s, 0, sizeof(s));
    s.delay_ms = 42;
    json_object_set_new(empty, "cpuLimit", json_integer(-1));
    assert_int_equal(scenario_parse(empty, &s, NULL), -ERR_INVALID);
    assert_true(s.delay_ms == 42);
    json_decref(v);
    json_decref(empty);
}

static void test_scenario_directions(void **state)
{
    static const char *const names[] = {"downstream", "upstream", "both"};
    static const enum scenario_dir dirs[] = {SCENARIO_DOWN, SCENARIO_UP, SCENARIO_BOTH};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_pack("{s:s}", "toxicDirection", names[i]);
        struct scenario s;

        assert_int_equal(scenario_parse(v, &s, NULL), 0);
        assert_int_equal(s.direction, dirs[i]);
        json_decref(v);
    }
}

static void test_scenario_many_hosts(void **state)
{
    json_t *v = json_pack("{s:[]}", "allowHosts");
    struct err e = {0};

    (void)state;
    for (int i = 0; i < SCENARIO_MAX_HOSTS; i++)
        json_array_append_new(json_object_get(v, "allowHosts"), json_string("h"));
    assert_int_equal(scenario_parse(v, NULL, &e), 0);
    json_array_append_new(json_object_get(v, "allowHosts"), json_string("h"));
    assert_int_equal(scenario_parse(v, NULL, &e), -ERR_INVALID);
    assert_string_equal(e.field, "scenario.allowHosts");
    assert_non_null(strstr(e.msg, "more than"));
    json_decref(v);
}

/* Every numeric key of the table is bounded by one of the agent's limits, or is named here as
 * one that only throttles (a new key must pick one: this test fails otherwise). */
static const char *const uncapped[] = {"bandwidthKbps", "sliceBytes", "limitDataBytes", "cpuLimit"};

static bool scn_uncapped(const char *name)
{
    for (size_t i = 0; i < sizeof(uncapped) / sizeof(uncapped[0]); i++)
        if (!strcmp(uncapped[i], name))
            return true;
    return false;
}

/* Each capped key: at its cap accepted, just above refused naming the key and the option. */
static void test_scenario_caps_table(void **state)
{
    const struct scenario_caps caps = {
        .max_timeout_s = 2, .timeout_s = 0.5, .memory_mb = 256, .pids = 32, .disk_mb = 64};

    (void)state;
    for (size_t i = 0; i < sizeof(scenario_keys) / sizeof(scenario_keys[0]); i++) {
        const struct scenario_key *k = &scenario_keys[i];
        struct scenario s = {0};
        const char *flag, *unit;
        double cap = scenario_cap_of(k->cap, &caps, &flag, &unit);
        double *f = (double *)((char *)&s + k->offset);
        struct err e = {0};
        char field[64];

        if (k->type != SCENARIO_NUM && k->type != SCENARIO_POS) {
            assert_int_equal(k->cap, SCENARIO_CAP_NONE);
            continue;
        }
        if (k->cap == SCENARIO_CAP_NONE) {
            if (!scn_uncapped(k->name))
                fail_msg("scenario key %s has no agent limit and is not listed as uncapped",
                         k->name);
            *f = k->max;
            assert_int_equal(scenario_check_caps(&s, &caps, &e), 0);
            continue;
        }
        assert_false(scn_uncapped(k->name));
        if (k->cap == SCENARIO_CAP_DELAY)
            cap -= caps.timeout_s * 1000.0; /* the delay and the timeout share --max-timeout */
        *f = cap;
        if (scenario_check_caps(&s, &caps, &e) != 0)
            fail_msg("%s at its cap %g refused: %s", k->name, cap, e.msg);
        *f = cap + 1;
        if (scenario_check_caps(&s, &caps, &e) != -ERR_INVALID)
            fail_msg("%s at %g above its cap accepted", k->name, cap + 1);
        snprintf(field, sizeof(field), "scenario.%s", k->name);
        assert_string_equal(e.field, field);
        if (!strstr(e.msg, flag) || !strstr(e.msg, k->name))
            fail_msg("%s: message does not name the key and %s: %s", k->name, flag, e.msg);
    }
}

/* The delay holds the slot on top of the timeout: both together within --max-timeout. */
static void test_scenario_delay_counts_with_the_timeout(void **state)
{
    struct scenario_caps caps = {
        .max_timeout_s = 300, .timeout_s = 30, .memory_mb = 1, .pids = 1, .disk_mb = 1};
    struct scenario s = {.delay_ms = 3600000};
    struct err e = {0};

    (void)state;
    assert_int_equal(scenario_check_caps(&s, &caps, &e), -ERR_INVALID);
    assert_string_equal(e.field, "scenario.artificialDelayMs");
    assert_non_null(strstr(e.msg, "--max-timeout 300 s"));
    assert_non_null(strstr(e.msg, "270000 ms"));
    s.delay_ms = 270000;
    assert_int_equal(scenario_check_caps(&s, &caps, &e), 0);
    caps.timeout_s = 300; /* no room left for any delay */
    s.delay_ms = 1;
    assert_int_equal(scenario_check_caps(&s, &caps, &e), -ERR_INVALID);
    s.delay_ms = 0;
    assert_int_equal(scenario_check_caps(&s, &caps, &e), 0);
}

struct job_case {
    const char *body;
    int rc;
    const char *field;
    const char *has;
    const char *code;
    const char *lang;
    double timeout;
    bool scenario; /* a scenario is left for the agent */
};

static const struct job_case job_cases[] = {
    {"{\"code\":\"print(1)\"}", 0, NULL, NULL, "print(1)", "python", 0, 0},
    {"{\"language\":\"python\",\"code\":\"x\",\"scenario\":{\"cpuLimit\":1}}", 0, NULL, NULL, "x",
     "python", 0, true},
    {"{\"language\":\"js\",\"code\":\"x\",\"timeout\":2.5}", 0, NULL, NULL, "x", "javascript", 2.5,
     0},
    {"{\"generated_code\":\"y\"}", 0, NULL, NULL, "y", "python", 0, 0},
    /* One precedence in every dialect: generated_code wins, wherever it stands. */
    {"{\"code\":\"x\",\"generated_code\":\"y\"}", 0, NULL, NULL, "y", "python", 0, 0},
    {"{\"generated_code\":\"y\",\"code\":\"x\"}", 0, NULL, NULL, "y", "python", 0, 0},
    {"{\"generated_code\":null,\"code\":\"x\"}", 0, NULL, NULL, "x", "python", 0, 0},
    /* The job API reads stdin and env (issue 13): checked like every dialect's. */
    {"{\"code\":\"x\",\"stdin\":5}", -ERR_INVALID, "stdin", "must be a string", NULL, NULL, 0, 0},
    {"{\"code\":\"x\",\"env\":{\"A\":1}}", -ERR_INVALID, "env", "", NULL, NULL, 0, 0},
    {"{\"code\":\"x\",\"generated_code\":[]}", -ERR_INVALID, "generated_code", "must be a string",
     NULL, NULL, 0, 0},
    {"{\"code\":\"x\",\"scenario\":null}", 0, NULL, NULL, "x", "python", 0, 0},
    /* An empty key is unknown like any other and still named (found by fuzz_job_req). */
    {"{\"code\":\"x\",\"\":\"print(2)\"}", -ERR_INVALID, "\"\"", "unknown field ''", NULL, NULL, 0,
     0},
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
    {"{\"code\":\"x\",\"scenario\":{\"foo\":1}}", -ERR_INVALID, "scenario.foo", "'foo'", NULL, NULL,
     0, 0},
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
            (req.scenario != NULL) != t->scenario ||
            (req.scenario && req.scenario != json_object_get(req.root, "scenario")) ||
            req.stdin_text || req.env)
            fail_msg("case %zu %s: wrong result", i, t->body);
        job_req_done(&req);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenario_table),
        cmocka_unit_test(test_scenario_values),
        cmocka_unit_test(test_scenario_directions),
        cmocka_unit_test(test_scenario_many_hosts),
        cmocka_unit_test(test_scenario_caps_table),
        cmocka_unit_test(test_scenario_delay_counts_with_the_timeout),
        cmocka_unit_test(test_job_req_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
