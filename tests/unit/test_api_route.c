/* test_api_route.c - the agent's endpoint table (agent/api_route.c) over common/route_table.c:
 * every endpoint, the methods each path takes (405 Allow lists), bad ids, odd paths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../agent/api_route.c"

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

struct api_route_case {
    const char *method;
    const char *path;
    int rc;
    enum api_route_id id;
    const char *arg;   /* expected m.arg, NULL = "" */
    const char *allow; /* expected m.allow, NULL = don't care */
};

static const struct api_route_case api_route_cases[] = {
    {"GET", "/", 0, API_ROOT, NULL, "GET"},
    {"HEAD", "/", 0, API_ROOT, NULL, NULL},
    {"POST", "/execute", 0, API_EXECUTE, NULL, "POST"},
    {"POST", "/execute/", 0, API_EXECUTE, NULL, NULL},
    {"GET", "/execute", -EPERM, API_EXECUTE, NULL, "POST"},
    {"GET", "/health", 0, API_HEALTH, NULL, NULL},
    {"DELETE", "/health", -EPERM, API_HEALTH, NULL, "GET"},
    {"GET", "/metrics", 0, API_METRICS, NULL, NULL},
    {"GET", "/languages", 0, API_LANGUAGES, NULL, NULL},
    {"POST", "/adjust-processor", 0, API_ADJUST, NULL, NULL},
    {"GET", "/adjust-processor", -EPERM, API_ADJUST, NULL, "POST"},
    {"GET", "/adjustments", 0, API_ADJUSTMENTS, NULL, NULL},
    {"GET", "/executions", 0, API_EXECUTIONS, NULL, NULL},
    {"POST", "/executions", -EPERM, API_EXECUTIONS, NULL, "GET"},
    /* one path, two methods: both rows answer, and a third method is told both */
    {"GET", "/execution/" UUID, 0, API_EXECUTION_GET, UUID, "GET, DELETE"},
    {"HEAD", "/execution/" UUID, 0, API_EXECUTION_GET, UUID, NULL},
    {"DELETE", "/execution/" UUID, 0, API_EXECUTION_DELETE, UUID, "GET, DELETE"},
    {"POST", "/execution/" UUID, -EPERM, API_EXECUTION_GET, UUID, "GET, DELETE"},
    {"PUT", "/execution/" UUID "/", -EPERM, API_EXECUTION_GET, UUID, "GET, DELETE"},
    {"GET", "/execution/nope", -EINVAL, API_EXECUTION_GET, "nope", NULL},
    {"DELETE", "/execution/" UUID "0", -EINVAL, API_EXECUTION_DELETE, UUID "0", NULL},
    {"GET", "/execution/", -ENOENT, API_NONE, NULL, ""},
    {"GET", "/execution", -ENOENT, API_NONE, NULL, ""},
    {"GET", "/execution/" UUID "/x", -ENOENT, API_NONE, NULL, ""},
    {"GET", "/debug/" UUID, 0, API_DEBUG, UUID, "GET"},
    {"DELETE", "/debug/" UUID, -EPERM, API_DEBUG, UUID, "GET"},
    {"GET", "/debug/x", -EINVAL, API_DEBUG, "x", NULL},
    {"GET", "/nope", -ENOENT, API_NONE, NULL, ""},
    {"GET", "", -ENOENT, API_NONE, NULL, ""},
    {"POST", "/EXECUTE", -ENOENT, API_NONE, NULL, ""},
};

static void test_api_route_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(api_route_cases) / sizeof(api_route_cases[0]); i++) {
        const struct api_route_case *t = &api_route_cases[i];
        struct route_match m;
        int rc = api_route_parse(t->method, t->path, strlen(t->path), &m);

        if (rc != t->rc || m.id != (int)t->id || strcmp(m.arg, t->arg ? t->arg : "") != 0 ||
            (t->allow && strcmp(m.allow, t->allow) != 0))
            fail_msg("case %zu %s %s: rc %d id %d arg '%s' allow '%s'", i, t->method, t->path, rc,
                     m.id, m.arg, m.allow);
    }
}

/* With a bad id, method_ok still tells a 405 from a 404. */
static void test_api_route_method_ok(void **state)
{
    struct route_match m;

    (void)state;
    assert_int_equal(api_route_parse("POST", "/execution/nope", 15, &m), -EINVAL);
    assert_false(m.method_ok);
    assert_string_equal(m.allow, "GET, DELETE");
    assert_int_equal(api_route_parse("DELETE", "/execution/nope", 15, &m), -EINVAL);
    assert_true(m.method_ok);
    assert_int_equal(api_route_parse("GET", "/health", 7, &m), 0);
    assert_true(m.method_ok);
    assert_int_equal(api_route_parse("POST", "/health", 7, &m), -EPERM);
    assert_false(m.method_ok);
}

static void test_api_route_nul_and_long(void **state)
{
    static const char with_nul[] = "/health\0x";
    char long_path[600];
    struct route_match m;

    (void)state;
    assert_int_equal(api_route_parse("GET", with_nul, sizeof(with_nul) - 1, &m), -ENOENT);
    assert_int_equal(api_route_parse("GET", "/healthy", 7, &m), 0);
    assert_int_equal(m.id, API_HEALTH);
    assert_string_equal(m.name, "health");
    memset(long_path, 'a', sizeof(long_path));
    memcpy(long_path, "/execution/", 11);
    assert_int_equal(api_route_parse("GET", long_path, sizeof(long_path), &m), -EINVAL);
    assert_int_equal(strlen(m.arg), ROUTE_ARG_MAX - 1);
}

/* GET / lists every row, and each listed endpoint routes back to that row. */
static void test_api_route_endpoint_list(void **state)
{
    bool adjust = false, adjustments = false;
    char ep[128], path[160];
    size_t i;

    (void)state;
    for (i = 0; api_route_endpoint(i, ep, sizeof(ep)); i++) {
        const char *sp = strchr(ep, ' '), *id = strstr(ep, "{id}"), *nm = strstr(ep, "{name}");
        struct route_match m;
        char method[16];

        assert_non_null(sp);
        snprintf(method, sizeof(method), "%.*s", (int)(sp - ep), ep);
        if (id)
            snprintf(path, sizeof(path), "%.*s%s%s", (int)(id - sp - 1), sp + 1, UUID, id + 4);
        else if (nm)
            snprintf(path, sizeof(path), "%.*sws-1%s", (int)(nm - sp - 1), sp + 1, nm + 6);
        else
            snprintf(path, sizeof(path), "%s", sp + 1);
        if (api_route_parse(method, path, strlen(path), &m) != 0 || m.id != api_route_rows[i].id)
            fail_msg("endpoint %zu '%s' does not route to its row", i, ep);
        adjust = adjust || !strcmp(ep, "POST /adjust-processor");
        adjustments = adjustments || !strcmp(ep, "GET /adjustments");
    }
    assert_int_equal(i, sizeof(api_route_rows) / sizeof(api_route_rows[0]));
    assert_true(adjust && adjustments);
    assert_int_equal(api_route_endpoint(i, ep, sizeof(ep)), 0);
}

static void test_route_table_under(void **state)
{
    (void)state;
    assert_true(route_table_under("/api/v1", 7, "/api/v1"));
    assert_true(route_table_under("/api/v1/x", 9, "/api/v1"));
    assert_false(route_table_under("/api/v10", 8, "/api/v1"));
    assert_false(route_table_under("/api", 4, "/api/v1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_route_table),
        cmocka_unit_test(test_api_route_method_ok),
        cmocka_unit_test(test_api_route_nul_and_long),
        cmocka_unit_test(test_api_route_endpoint_list),
        cmocka_unit_test(test_route_table_under),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
