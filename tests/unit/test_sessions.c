/* test_sessions.c - the orchestrator's session table (ids, owners, tombstones, bounds), the
 * /api/v1/sessions URL space and the agent paths it maps to, and the rewriting of agent
 * answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../orchestrator/sessions.c"
#include "../../orchestrator/sessions_route.c"

#define ID_A "os-0123456789abcdef0123456789abcdef"

static struct sessions_entry tmpl(int agent, int owner, const char *sid)
{
    struct sessions_entry t;

    memset(&t, 0, sizeof(t));
    t.agent = agent;
    t.gen = 3;
    t.epoch = 1;
    t.owner = owner;
    strcpy(t.agent_sid, sid);
    strcpy(t.id, "ignored");
    t.gone = true; /* ignored too: a new entry is live */
    return t;
}

static void test_ids(void **state)
{
    (void)state;
    assert_true(sessions_id_valid(ID_A, strlen(ID_A)));
    assert_false(sessions_id_valid(ID_A, strlen(ID_A) - 1));
    assert_false(sessions_id_valid("os-0123456789ABCDEF0123456789abcdef", 35));
    assert_false(sessions_id_valid("s-0123456789abcdef0123456789abcdef0", 35));
    assert_false(sessions_id_valid("os-0123456789abcdef0123456789abcdeg", 35));
}

static void test_add_get_owner(void **state)
{
    struct sessions *s = sessions_new();
    struct sessions_entry t = tmpl(1, 2, "s-aa"), a, b, got;

    (void)state;
    assert_int_equal(sessions_add(s, &t, 10, &a), 0);
    assert_int_equal(sessions_add(s, &t, 11, &b), 0);
    assert_true(sessions_id_valid(a.id, strlen(a.id)));
    assert_string_not_equal(a.id, b.id);
    assert_false(a.gone);
    assert_int_equal(a.added_ns, 10);
    assert_int_equal(sessions_get(s, a.id, 2, &got), 0);
    assert_string_equal(got.agent_sid, "s-aa");
    assert_int_equal(got.agent, 1);
    assert_int_equal(got.gen, 3);
    assert_int_equal(got.epoch, 1);
    /* Another key's session is not found, exactly like an unknown one. */
    assert_int_equal(sessions_get(s, a.id, 1, &got), -ERR_NOT_FOUND);
    assert_int_equal(sessions_get(s, ID_A, 2, &got), -ERR_NOT_FOUND);
    sessions_free(s);
}

static void test_gone_and_list(void **state)
{
    struct sessions *s = sessions_new();
    struct sessions_entry t = tmpl(0, 1, "s-1"), a, b, c, got, *list;
    int counts[4] = {0};
    json_t *last, *stats;
    size_t n;
    bool oom;

    (void)state;
    assert_int_equal(sessions_add(s, &t, 1, &a), 0);
    t.agent = 2;
    assert_int_equal(sessions_add(s, &t, 2, &b), 0);
    t.owner = 5;
    assert_int_equal(sessions_add(s, &t, 3, &c), 0);
    last = json_pack("{s:s}", "state", "idle");
    assert_int_equal(sessions_set_last(s, a.id, last), 0);
    json_object_set_new(last, "state", json_string("busy")); /* the table kept its own copy */
    json_decref(last);
    last = sessions_last(s, a.id);
    assert_string_equal(json_string_value(json_object_get(last, "state")), "idle");
    json_decref(last);
    sessions_mark_gone(s, a.id, "first reason", 50);
    sessions_mark_gone(s, a.id, "second reason", 60);
    assert_int_equal(sessions_get(s, a.id, 1, &got), 0);
    assert_true(got.gone);
    assert_string_equal(got.reason, "first reason");
    assert_int_equal(got.gone_ns, 50);
    assert_null(sessions_last(s, a.id));
    last = json_object();
    assert_int_equal(sessions_set_last(s, a.id, last), -ENOENT);
    json_decref(last);
    list = sessions_list(s, 1, &n, &oom);
    assert_false(oom);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, b.id);
    free(list);
    assert_null(sessions_list(s, 9, &n, &oom));
    assert_int_equal(n, 0);
    assert_false(oom);
    sessions_count_by_agent(s, counts, 4);
    assert_int_equal(counts[0], 0);
    assert_int_equal(counts[2], 2);
    stats = sessions_stats_json(s);
    assert_int_equal(json_integer_value(json_object_get(stats, "live")), 2);
    assert_int_equal(json_integer_value(json_object_get(stats, "gone")), 1);
    json_decref(stats);
    sessions_free(s);
}

/* Full of live sessions: 503; tombstones make room, the oldest first, and expire. */
static void test_bounds(void **state)
{
    struct sessions *s = sessions_new();
    struct sessions_entry t = tmpl(0, 0, "s-x"), first, second, e, got;

    (void)state;
    assert_int_equal(sessions_add(s, &t, 1, &first), 0);
    assert_int_equal(sessions_add(s, &t, 1, &second), 0);
    for (int i = 2; i < SESSIONS_MAX; i++)
        assert_int_equal(sessions_add(s, &t, 1, &e), 0);
    assert_int_equal(sessions_add(s, &t, 2, &e), -ERR_BUSY);
    sessions_mark_gone(s, second.id, "b", 5);
    sessions_mark_gone(s, first.id, "a", 6);
    assert_int_equal(sessions_add(s, &t, 7, &e), 0); /* drops the one gone longest */
    assert_int_equal(sessions_get(s, first.id, 0, &got), 0);
    assert_int_equal(sessions_get(s, second.id, 0, &got), -ERR_NOT_FOUND);
    /* Past its life a tombstone goes on the next add. */
    sessions_mark_gone(s, e.id, "c", 8);
    assert_int_equal(sessions_add(s, &t, 8 + SESSIONS_GONE_KEEP_NS + 1, &e), 0);
    assert_int_equal(sessions_get(s, first.id, 0, &got), -ERR_NOT_FOUND);
    sessions_free(s);
}

static void test_rewrite(void **state)
{
    struct sessions_entry e;
    json_t *o;

    (void)state;
    memset(&e, 0, sizeof(e));
    strcpy(e.id, ID_A);
    o = json_pack("{s:s, s:s, s:i}", "session_id", "s-agent", "parent", "s-other", "executions", 2);
    assert_int_equal(sessions_rewrite(o, &e, "http://a:1"), 0);
    assert_string_equal(json_string_value(json_object_get(o, "session_id")), ID_A);
    assert_true(json_is_null(json_object_get(o, "parent")));
    assert_string_equal(json_string_value(json_object_get(o, "agent")), "http://a:1");
    json_decref(o);
    strcpy(e.parent, "os-ffffffffffffffffffffffffffffffff");
    o = json_pack("{s:s, s:n}", "session_id", "s-agent", "parent");
    assert_int_equal(sessions_rewrite(o, &e, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(o, "parent")), e.parent);
    assert_null(json_object_get(o, "agent"));
    json_decref(o);
    /* No session_id in the answer (a file's {path, size}): none is added. */
    o = json_pack("{s:s}", "path", "a.txt");
    assert_int_equal(sessions_rewrite(o, &e, NULL), 0);
    assert_null(json_object_get(o, "session_id"));
    json_decref(o);
    assert_int_equal(sessions_rewrite(NULL, &e, NULL), 0);
}

struct route_case {
    const char *method;
    const char *path;
    int rc;
    enum sessions_op op;
    const char *id;
    const char *file; /* NULL when none */
};

static const struct route_case route_cases[] = {
    {"POST", "/api/v1/sessions", 0, SESSIONS_OP_CREATE, "", NULL},
    {"GET", "/api/v1/sessions/", 0, SESSIONS_OP_LIST, "", NULL},
    {"HEAD", "/api/v1/sessions", 0, SESSIONS_OP_LIST, "", NULL},
    {"DELETE", "/api/v1/sessions", -EPERM, SESSIONS_OP_NONE, "", NULL},
    {"GET", "/api/v1/sessionsx", -ENOENT, SESSIONS_OP_NONE, "", NULL},
    {"GET", "/api/v1/session", -ENOENT, SESSIONS_OP_NONE, "", NULL},
    {"GET", "/api/v1/sessions/" ID_A, 0, SESSIONS_OP_GET, ID_A, NULL},
    {"DELETE", "/api/v1/sessions/" ID_A "/", 0, SESSIONS_OP_DELETE, ID_A, NULL},
    {"POST", "/api/v1/sessions/" ID_A, -EPERM, SESSIONS_OP_NONE, ID_A, NULL},
    {"POST", "/api/v1/sessions/" ID_A "/execute", 0, SESSIONS_OP_EXECUTE, ID_A, NULL},
    {"GET", "/api/v1/sessions/" ID_A "/execute", -EPERM, SESSIONS_OP_NONE, ID_A, NULL},
    {"POST", "/api/v1/sessions/" ID_A "/fork/", 0, SESSIONS_OP_FORK, ID_A, NULL},
    {"POST", "/api/v1/sessions/" ID_A "/interrupt", 0, SESSIONS_OP_INTERRUPT, ID_A, NULL},
    {"POST", "/api/v1/sessions/" ID_A "/explode", -ENOENT, SESSIONS_OP_NONE, ID_A, NULL},
    {"GET", "/api/v1/sessions/" ID_A "/files", 0, SESSIONS_OP_FILE_LIST, ID_A, NULL},
    {"GET", "/api/v1/sessions/" ID_A "/files/", 0, SESSIONS_OP_FILE_LIST, ID_A, NULL},
    {"PUT", "/api/v1/sessions/" ID_A "/files", -EPERM, SESSIONS_OP_NONE, ID_A, NULL},
    {"PUT", "/api/v1/sessions/" ID_A "/files/a/b c.csv", 0, SESSIONS_OP_FILE_PUT, ID_A,
     "a/b c.csv"},
    {"GET", "/api/v1/sessions/" ID_A "/files/x", 0, SESSIONS_OP_FILE_GET, ID_A, "x"},
    {"DELETE", "/api/v1/sessions/" ID_A "/files/d/", 0, SESSIONS_OP_FILE_DELETE, ID_A, "d/"},
    {"POST", "/api/v1/sessions/" ID_A "/files/x", -EPERM, SESSIONS_OP_NONE, ID_A, "x"},
    {"GET", "/api/v1/sessions/s-123", -EINVAL, SESSIONS_OP_NONE, "s-123", NULL},
    {"POST", "/api/v1/sessions/nope/execute", -EINVAL, SESSIONS_OP_NONE, "nope", NULL},
    {"POST", "/api/v1/sessions/nope/explode", -ENOENT, SESSIONS_OP_NONE, "nope", NULL},
};

static void test_route_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
        const struct route_case *c = &route_cases[i];
        struct sessions_route rt;
        int rc = sessions_route_parse(c->method, c->path, strlen(c->path), &rt);

        if (rc != c->rc || rt.op != c->op || strcmp(rt.id, c->id))
            fail_msg("case %zu %s %s: rc %d op %d id '%s'", i, c->method, c->path, rc, rt.op,
                     rt.id);
        if (c->file &&
            (!rt.file || rt.file_len != strlen(c->file) || memcmp(rt.file, c->file, rt.file_len)))
            fail_msg("case %zu: file '%.*s'", i, (int)rt.file_len, rt.file ? rt.file : "");
        if (rc == -EPERM && !rt.allow[0])
            fail_msg("case %zu: 405 without Allow", i);
    }
}

static void test_agent_path(void **state)
{
    const char *p = "/api/v1/sessions/" ID_A "/files/d ir/b%x?.bin";
    struct sessions_route rt;
    char out[64];

    (void)state;
    assert_int_equal(sessions_route_parse("PUT", p, strlen(p), &rt), 0);
    assert_int_equal(sessions_route_agent_path(&rt, "s-ab", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "/sessions/s-ab/files/d%20ir/b%25x%3F.bin");
    rt.op = SESSIONS_OP_FILE_LIST;
    rt.file = NULL;
    assert_int_equal(sessions_route_agent_path(&rt, "s-ab", "a b/&c", out, sizeof(out)), 0);
    assert_string_equal(out, "/sessions/s-ab/files?path=a%20b/%26c");
    rt.op = SESSIONS_OP_FORK;
    assert_int_equal(sessions_route_agent_path(&rt, "s-ab", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "/sessions/s-ab/fork");
    rt.op = SESSIONS_OP_DELETE;
    assert_int_equal(sessions_route_agent_path(&rt, "s-ab", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "/sessions/s-ab");
    rt.op = SESSIONS_OP_CREATE;
    assert_int_equal(sessions_route_agent_path(&rt, NULL, NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "/sessions");
    /* Too long once encoded: refused, never cut. */
    rt.op = SESSIONS_OP_FILE_GET;
    rt.file = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e";
    rt.file_len = 14; /* 63 bytes encoded: just fits */
    assert_int_equal(sessions_route_agent_path(&rt, "s-ab", NULL, out, sizeof(out)), 0);
    assert_int_equal(strlen(out), 63);
    rt.file = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f";
    rt.file_len = 15;
    assert_int_equal(sessions_route_agent_path(&rt, "s-ab", NULL, out, sizeof(out)), -ENAMETOOLONG);
}

static void test_file_ok(void **state)
{
    static const struct {
        const char *path;
        bool ok;
    } cases[] = {
        {"a.txt", true},
        {"d/e/f", true},
        {"..a", true},
        {"a../b", true},
        {"...", true},
        {"./x", true},
        {"..", false},
        {"../x", false},
        {"a/..", false},
        {"a/../b", false},
        {"a/b/../../../etc/passwd", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (sessions_route_file_ok(cases[i].path, strlen(cases[i].path)) != cases[i].ok)
            fail_msg("'%s' should be %s", cases[i].path, cases[i].ok ? "ok" : "refused");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),           cmocka_unit_test(test_add_get_owner),
        cmocka_unit_test(test_gone_and_list), cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_rewrite),       cmocka_unit_test(test_route_parse),
        cmocka_unit_test(test_agent_path),    cmocka_unit_test(test_file_ok),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
