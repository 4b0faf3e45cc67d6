/* test_sess_route.c - the URL space of sessions: every route, methods, ids, file paths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../agent/sess_route.c"

#define ID "s-0011aabb-0123456789ab"

static int parse(const char *method, const char *path, struct sess_route *r)
{
    return sess_route_parse(method, path, strlen(path), r);
}

static void test_routes(void **state)
{
    static const struct {
        const char *method, *path;
        enum sess_route_op op;
        const char *file;
    } ok[] = {
        {"GET", "/sessions", SESS_R_LIST, ""},
        {"HEAD", "/sessions/", SESS_R_LIST, ""},
        {"POST", "/sessions", SESS_R_CREATE, ""},
        {"GET", "/sessions/" ID, SESS_R_GET, ""},
        {"DELETE", "/sessions/" ID "/", SESS_R_DELETE, ""},
        {"POST", "/sessions/" ID "/execute", SESS_R_EXECUTE, ""},
        {"POST", "/sessions/" ID "/fork/", SESS_R_FORK, ""},
        {"POST", "/sessions/" ID "/interrupt", SESS_R_INTERRUPT, ""},
        {"GET", "/sessions/" ID "/files", SESS_R_FILES, ""},
        {"GET", "/sessions/" ID "/files/a/b c.csv", SESS_R_FILE_GET, "a/b c.csv"},
        {"PUT", "/sessions/" ID "/files/x", SESS_R_FILE_PUT, "x"},
        {"DELETE", "/sessions/" ID "/files/../../etc", SESS_R_FILE_DELETE, "../../etc"},
    };
    struct sess_route r;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(parse(ok[i].method, ok[i].path, &r), 0);
        assert_int_equal(r.op, ok[i].op);
        assert_string_equal(r.path, ok[i].file); /* file paths are judged by ws_files */
        if (strlen(ok[i].path) > 10)
            assert_string_equal(r.id, ID);
    }
}

static void test_refused(void **state)
{
    struct sess_route r;
    char longp[SESS_ROUTE_PATH_MAX + 64];

    (void)state;
    assert_int_equal(parse("GET", "/sessionsx", &r), -ENOENT);
    assert_int_equal(parse("GET", "/executions", &r), -ENOENT);
    assert_int_equal(parse("GET", "/sessions/" ID "/nope", &r), -ENOENT);
    assert_int_equal(parse("GET", "/sessions/" ID "/executex", &r), -ENOENT);
    assert_int_equal(parse("GET", "/sessions/" ID "/files/", &r), 0); /* the listing */
    assert_int_equal(r.op, SESS_R_FILES);
    assert_int_equal(parse("PUT", "/sessions", &r), -EPERM);
    assert_string_equal(r.allow, "GET, POST");
    assert_int_equal(parse("GET", "/sessions/" ID "/execute", &r), -EPERM);
    assert_string_equal(r.allow, "POST");
    assert_int_equal(parse("POST", "/sessions/" ID "/files/x", &r), -EPERM);
    assert_string_equal(r.allow, "GET, PUT, DELETE");
    /* Ids: the exact shape sess_mgr makes, lower-case hex. */
    assert_int_equal(parse("GET", "/sessions/s-0011AABB-0123456789ab", &r), -EINVAL);
    assert_int_equal(parse("GET", "/sessions/s-0011aabb-0123456789a", &r), -EINVAL);
    assert_int_equal(parse("GET", "/sessions/x-0011aabb-0123456789ab", &r), -EINVAL);
    assert_int_equal(parse("GET", "/sessions/..", &r), -EINVAL);
    memset(longp, 'a', sizeof(longp));
    memcpy(longp, "/sessions/" ID "/files/", strlen("/sessions/" ID "/files/"));
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(parse("GET", longp, &r), -ENAMETOOLONG);
}

/* Every endpoint GET / lists parses to a route (ids and paths filled in). */
static void test_endpoints_parse(void **state)
{
    char ep[128], path[256], *sp, *q;
    struct sess_route r;
    size_t i;

    (void)state;
    for (i = 0; sess_route_endpoint(i, ep, sizeof(ep)); i++) {
        const char *p;
        size_t n = 0;

        sp = strchr(ep, ' ');
        assert_non_null(sp);
        *sp = '\0';
        if ((q = strchr(sp + 1, '?')))
            *q = '\0';
        for (p = sp + 1; *p && n + 32 < sizeof(path);) {
            if (!strncmp(p, "{id}", 4)) {
                n += (size_t)sprintf(path + n, "%s", ID);
                p += 4;
            } else if (!strncmp(p, "{path}", 6)) {
                n += (size_t)sprintf(path + n, "a/b.txt");
                p += 6;
            } else {
                path[n++] = *p++;
            }
        }
        path[n] = '\0';
        assert_int_equal(parse(ep, path, &r), 0);
    }
    assert_int_equal(i, 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_routes),
                                       cmocka_unit_test(test_refused),
                                       cmocka_unit_test(test_endpoints_parse)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
