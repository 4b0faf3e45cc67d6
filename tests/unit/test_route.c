/* test_route.c - table-driven tests of route_parse (STYLE §13: includes the .c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../orchestrator/route.c"

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

struct route_case {
    const char *method;
    const char *path;
    int rc;
    enum route_id id;
    const char *arg;   /* expected m.arg, NULL = "" */
    const char *allow; /* expected m.allow on -EPERM, NULL = don't care */
};

static const struct route_case route_cases[] = {
    {"GET", "/", 0, ROUTE_ROOT, NULL, NULL},
    {"HEAD", "/", 0, ROUTE_ROOT, NULL, NULL},
    {"POST", "/execute", 0, ROUTE_EXECUTE, NULL, NULL},
    {"POST", "/execute/", 0, ROUTE_EXECUTE, NULL, NULL},
    {"GET", "/execute", -EPERM, ROUTE_EXECUTE, NULL, "POST"},
    {"PUT", "/execute", -EPERM, ROUTE_EXECUTE, NULL, "POST"},
    {"GET", "/health", 0, ROUTE_HEALTH, NULL, NULL},
    {"HEAD", "/health", 0, ROUTE_HEALTH, NULL, NULL},
    {"POST", "/health", -EPERM, ROUTE_HEALTH, NULL, "GET"},
    {"GET", "/languages", 0, ROUTE_LANGUAGES, NULL, NULL},
    {"GET", "/metrics", 0, ROUTE_METRICS, NULL, NULL},
    {"POST", "/api/run", 0, ROUTE_JOB_RUN, NULL, NULL},
    {"GET", "/api/run", -EPERM, ROUTE_JOB_RUN, NULL, "POST"},
    {"GET", "/api/jobs", 0, ROUTE_JOB_LIST, NULL, NULL},
    {"GET", "/api/jobs/", 0, ROUTE_JOB_LIST, NULL, NULL},
    {"GET", "/api/logs/" UUID, 0, ROUTE_JOB_LOGS, UUID, NULL},
    {"GET", "/api/logs/" UUID "/", 0, ROUTE_JOB_LOGS, UUID, NULL},
    {"GET", "/api/status/" UUID, 0, ROUTE_JOB_STATUS, UUID, NULL},
    {"POST", "/api/cancel/" UUID, 0, ROUTE_JOB_CANCEL, UUID, NULL},
    {"GET", "/api/cancel/" UUID, -EPERM, ROUTE_JOB_CANCEL, UUID, "POST"},
    {"DELETE", "/api/logs/" UUID, -EPERM, ROUTE_JOB_LOGS, UUID, "GET"},
    {"GET", "/api/logs/not-a-uuid", -EINVAL, ROUTE_JOB_LOGS, "not-a-uuid", NULL},
    {"GET", "/api/status/" UUID "0", -EINVAL, ROUTE_JOB_STATUS, UUID "0", NULL},
    {"GET", "/api/logs/", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "/api/logs", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "/api/logs/" UUID "/x", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "/api/logs//" UUID, -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "/api", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "/nope", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"POST", "/executex", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"POST", "/EXECUTE", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "//", 0, ROUTE_ROOT, NULL, NULL},
    {"POST", "/execute//", -ENOENT, ROUTE_NONE, NULL, NULL},
    /* the Nadoo dialect */
    {"POST", "/api/v1/execute", 0, ROUTE_V1_EXECUTE, NULL, NULL},
    {"POST", "/api/v1/execute/", 0, ROUTE_V1_EXECUTE, NULL, NULL},
    {"GET", "/api/v1/execute", -EPERM, ROUTE_V1_EXECUTE, NULL, "POST"},
    {"POST", "/api/v1/execute/async", 0, ROUTE_V1_ASYNC, NULL, NULL},
    {"POST", "/api/v1/execute/async/", 0, ROUTE_V1_ASYNC, NULL, NULL},
    {"GET", "/api/v1/status/" UUID, 0, ROUTE_V1_STATUS, UUID, NULL},
    {"GET", "/api/v1/execute/status/" UUID, 0, ROUTE_V1_STATUS, UUID, NULL},
    {"POST", "/api/v1/status/" UUID, -EPERM, ROUTE_V1_STATUS, UUID, "GET"},
    {"GET", "/api/v1/status/nope", -EINVAL, ROUTE_V1_STATUS, "nope", NULL},
    {"GET", "/api/v1/status/", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"POST", "/api/v1/batch", 0, ROUTE_V1_BATCH, NULL, NULL},
    {"GET", "/api/v1/languages", 0, ROUTE_V1_LANGS, NULL, NULL},
    {"GET", "/api/v1/language/python/info", 0, ROUTE_V1_LANG, "python", NULL},
    {"GET", "/api/v1/language/C++/info/", 0, ROUTE_V1_LANG, "C++", NULL},
    {"GET", "/api/v1/language/c#/info", 0, ROUTE_V1_LANG, "c#", NULL},
    {"POST", "/api/v1/language/python/info", -EPERM, ROUTE_V1_LANG, "python", "GET"},
    {"GET", "/api/v1/language/py%20x/info", -EINVAL, ROUTE_V1_LANG, "py%20x", NULL},
    {"GET", "/api/v1/language//info", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "/api/v1/language/info", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "/api/v1/language/a/b/info", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "/api/v1/language/python", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "/api/v1/health", 0, ROUTE_V1_HEALTH, NULL, NULL},
    {"GET", "/api/v1", -ENOENT, ROUTE_NONE, NULL, NULL},
    {"GET", "/api/v1/nope", -ENOENT, ROUTE_NONE, NULL, NULL},
};

static void test_route_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
        const struct route_case *t = &route_cases[i];
        struct route_match m;
        int rc = route_parse(t->method, t->path, strlen(t->path), &m);

        if (rc != t->rc || m.id != (int)t->id || strcmp(m.arg, t->arg ? t->arg : "") != 0 ||
            (t->allow && strcmp(m.allow, t->allow) != 0))
            fail_msg("case %zu %s %s: rc %d id %d arg '%s' allow %s", i, t->method, t->path, rc,
                     m.id, m.arg, m.allow);
    }
}

static void test_route_nul_and_long(void **state)
{
    static const char with_nul[] = "/health\0x";
    char long_path[600];
    struct route_match m;

    (void)state;
    assert_int_equal(route_parse("GET", with_nul, sizeof(with_nul) - 1, &m), -ENOENT);
    /* Only the first len bytes count: "/health" within a longer buffer. */
    assert_int_equal(route_parse("GET", "/healthy", 7, &m), 0);
    assert_int_equal(m.id, ROUTE_HEALTH);
    memset(long_path, 'a', sizeof(long_path));
    memcpy(long_path, "/api/logs/", 10);
    assert_int_equal(route_parse("GET", long_path, sizeof(long_path), &m), -EINVAL);
    assert_int_equal(strlen(m.arg), ROUTE_ARG_MAX - 1);
}

/* route_is_v1 marks the whole /api/v1 family (X-API-Key applies), known path or not. */
static void test_route_v1_flag(void **state)
{
    static const char *const v1[] = {"/api/v1", "/api/v1/", "/api/v1/execute", "/api/v1/nope",
                                     "/api/v1/status/x"};
    static const char *const not_v1[] = {"/api/v10", "/api/v", "/api/run", "/execute", "/"};

    (void)state;
    for (size_t i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
        if (!route_is_v1(v1[i], strlen(v1[i])))
            fail_msg("%s: not v1", v1[i]);
    }
    for (size_t i = 0; i < sizeof(not_v1) / sizeof(not_v1[0]); i++) {
        if (route_is_v1(not_v1[i], strlen(not_v1[i])))
            fail_msg("%s: v1", not_v1[i]);
    }
}

static void test_route_names(void **state)
{
    (void)state;
    assert_string_equal(route_name(ROUTE_EXECUTE), "execute");
    assert_string_equal(route_name(ROUTE_JOB_CANCEL), "job_cancel");
    assert_string_equal(route_name(ROUTE_V1_STATUS), "v1_status");
    assert_string_equal(route_name(ROUTE_NONE), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_table),
        cmocka_unit_test(test_route_nul_and_long),
        cmocka_unit_test(test_route_v1_flag),
        cmocka_unit_test(test_route_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
