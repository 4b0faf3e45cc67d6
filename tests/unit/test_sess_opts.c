/* test_sess_opts.c - POST /sessions bodies: defaults, limits, every refused field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../agent/sess_opts.c"

static const struct agent_cfg cfg = {
    .memory_mb = 4096, .pids_limit = 256, .session_idle_s = 600, .policy = "standard"};

static int parse(const char *text, struct sess_opts *o, struct err *e)
{
    json_t *body = json_loads(text, 0, NULL);
    int r;

    assert_non_null(body);
    r = sess_opts_parse(&cfg, body, o, e);
    json_decref(body); /* o->env borrowed it: not used after this */
    return r;
}

static void test_defaults_and_values(void **state)
{
    struct sess_opts o;
    struct err e = {0};

    (void)state;
    assert_int_equal(parse("{}", &o, &e), 0);
    assert_int_equal(o.idle_timeout_s, 600);
    assert_int_equal(o.memory_mb, 0);
    assert_int_equal(o.pids, 0);
    assert_false(o.checkpoint);
    assert_string_equal(o.policy, "standard");
    assert_null(o.env);
    assert_int_equal(parse("{\"language\": \"python\", \"idle_timeout_s\": 5, \"memory_mb\": 300, "
                           "\"pids\": 32, \"checkpoint\": true, \"policy\": \"restricted\", "
                           "\"env\": {\"A\": \"1\"}}",
                           &o, &e),
                     0);
    assert_int_equal(o.idle_timeout_s, 5);
    assert_int_equal(o.memory_mb, 300);
    assert_int_equal(o.pids, 32);
    assert_true(o.checkpoint);
    assert_string_equal(o.policy, "restricted");
}

static void test_refused_fields_are_named(void **state)
{
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"language\": \"bash\"}", "language"},
        {"{\"language\": 3}", "language"},
        {"{\"idle_timeout_s\": 0}", "idle_timeout_s"},
        {"{\"idle_timeout_s\": 86401}", "idle_timeout_s"},
        {"{\"idle_timeout_s\": 1.5}", "idle_timeout_s"},
        {"{\"memory_mb\": 4097}", "memory_mb"},
        {"{\"memory_mb\": 8}", "memory_mb"},
        {"{\"pids\": 257}", "pids"},
        {"{\"pids\": \"32\"}", "pids"},
        {"{\"checkpoint\": 1}", "checkpoint"},
        {"{\"policy\": \"open\"}", "policy"},
        {"{\"env\": []}", "env"},
        {"{\"env\": {\"A\": 1}}", "env"},
        {"{\"env\": {\"A=B\": \"x\"}}", "env"},
        {"{\"env\": {\"\": \"x\"}}", "env"},
        {"{\"timeout\": 5}", "timeout"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sess_opts o;
        struct err e = {0};

        assert_int_equal(parse(bad[i].body, &o, &e), -ERR_INVALID);
        assert_string_equal(e.field, bad[i].field);
        assert_true(e.msg[0] != '\0');
    }
}

static void test_restricted_agent_keeps_its_policy(void **state)
{
    struct agent_cfg r = cfg;
    struct sess_opts o;
    struct err e = {0};
    json_t *body = json_loads("{\"policy\": \"standard\"}", 0, NULL);

    (void)state;
    r.policy = "restricted";
    assert_int_equal(sess_opts_parse(&r, body, &o, &e), -ERR_INVALID);
    assert_string_equal(e.field, "policy");
    r.allow_override = 1;
    assert_int_equal(sess_opts_parse(&r, body, &o, &e), 0);
    assert_string_equal(o.policy, "standard");
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_defaults_and_values),
                                       cmocka_unit_test(test_refused_fields_are_named),
                                       cmocka_unit_test(test_restricted_agent_keeps_its_policy)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
