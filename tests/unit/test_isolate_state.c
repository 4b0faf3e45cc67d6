/* test_isolate_state.c - the isolation layers as a bitmask with reasons, and their JSON form
 * (what /health shows and what the agent parses out of the zygote's READY). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../sandbox/isolate_state.c"

static void test_names_follow_the_enum(void **state)
{
    (void)state;
    assert_string_equal(isolate_state_name(ISOLATE_MOUNT_NS), "mount_namespace");
    assert_string_equal(isolate_state_name(ISOLATE_LOOPBACK), "network_loopback");
    assert_string_equal(isolate_state_name(ISOLATE_CGROUP_MEMORY), "cgroup_memory");
    assert_string_equal(isolate_state_name(ISOLATE_UID_DROP), "uid_drop");
    assert_string_equal(isolate_state_name(ISOLATE_SECCOMP), "seccomp");
    assert_string_equal(isolate_state_name(ISOLATE_NLAYERS), "?");
}

static void test_on_off_and_reasons(void **state)
{
    struct isolate_state st;

    (void)state;
    isolate_state_unknown(&st, "not yet");
    for (int l = 0; l < ISOLATE_NLAYERS; l++) {
        assert_false(isolate_state_has(&st, (enum isolate_layer)l));
        assert_string_equal(st.reason[l], "not yet");
    }
    isolate_state_on(&st, ISOLATE_SECCOMP);
    assert_true(isolate_state_has(&st, ISOLATE_SECCOMP));
    assert_int_equal(st.on, 1u << ISOLATE_SECCOMP);
    assert_string_equal(st.reason[ISOLATE_SECCOMP], "");
    isolate_state_off(&st, ISOLATE_SECCOMP, "compiling the filter: %s", "Out of memory");
    assert_false(isolate_state_has(&st, ISOLATE_SECCOMP));
    assert_string_equal(st.reason[ISOLATE_SECCOMP], "compiling the filter: Out of memory");
    assert_false(isolate_state_has(&st, ISOLATE_NLAYERS));
}

static void test_long_reason_is_cut(void **state)
{
    struct isolate_state st;
    char big[600];

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    isolate_state_unknown(&st, "");
    isolate_state_off(&st, ISOLATE_NET_NS, "%s", big);
    assert_int_equal(strlen(st.reason[ISOLATE_NET_NS]), ISOLATE_REASON_MAX - 1);
}

/* The JSON /health has always shown: {layer: {on, reason?, refuses_executions?}}. */
static void test_json_shape(void **state)
{
    struct isolate_state st;
    json_t *o, *v;

    (void)state;
    isolate_state_unknown(&st, "");
    for (int l = 0; l < ISOLATE_NLAYERS; l++)
        isolate_state_on(&st, (enum isolate_layer)l);
    isolate_state_off(&st, ISOLATE_UID_DROP, "dropping to uid 1000: Operation not permitted");
    st.refuses |= 1u << ISOLATE_UID_DROP;
    isolate_state_off(&st, ISOLATE_CGROUP_CPU, "not running as root");
    o = isolate_state_json(&st);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), ISOLATE_NLAYERS);
    v = json_object_get(o, "mount_namespace");
    assert_int_equal(json_object_size(v), 1);
    assert_true(json_is_true(json_object_get(v, "on")));
    v = json_object_get(o, "cgroup_cpu");
    assert_int_equal(json_object_size(v), 2);
    assert_true(json_is_false(json_object_get(v, "on")));
    assert_string_equal(json_string_value(json_object_get(v, "reason")), "not running as root");
    v = json_object_get(o, "uid_drop");
    assert_int_equal(json_object_size(v), 3);
    assert_true(json_is_true(json_object_get(v, "refuses_executions")));
    json_decref(o);
}

static void test_round_trip(void **state)
{
    struct isolate_state st, back;
    json_t *o;

    (void)state;
    isolate_state_unknown(&st, "");
    for (int l = 0; l < ISOLATE_NLAYERS; l += 2)
        isolate_state_on(&st, (enum isolate_layer)l);
    for (int l = 1; l < ISOLATE_NLAYERS; l += 2)
        isolate_state_off(&st, (enum isolate_layer)l, "reason %d", l);
    st.refuses = 1u << ISOLATE_UID_DROP;
    o = isolate_state_json(&st);
    assert_int_equal(isolate_state_parse(o, &back), 0);
    assert_int_equal(back.on, st.on);
    assert_int_equal(back.refuses, st.refuses);
    for (int l = 0; l < ISOLATE_NLAYERS; l++)
        assert_string_equal(back.reason[l], st.reason[l]);
    json_decref(o);
}

static void test_parse_fills_gaps(void **state)
{
    struct isolate_state st;
    json_t *o =
        json_pack("{s:{s:b}, s:{s:b}, s:{s:b, s:b}, s:i}", "seccomp", "on", 1, "cgroup_pids", "on",
                  0, "uid_drop", "on", 0, "refuses_executions", 1, "future_layer", 3);

    (void)state;
    assert_int_equal(isolate_state_parse(o, &st), 0);
    assert_int_equal(st.on, 1u << ISOLATE_SECCOMP);
    /* Off without a reason, and missing: both off, each saying why. */
    assert_string_equal(st.reason[ISOLATE_CGROUP_PIDS], "off on this host");
    assert_string_equal(st.reason[ISOLATE_MOUNT_NS], "not in the zygote's report");
    assert_int_equal(st.refuses, 1u << ISOLATE_UID_DROP);
    json_decref(o);
    /* "on" must be true itself, not merely present. */
    o = json_pack("{s:{s:s}}", "seccomp", "on", "yes");
    assert_int_equal(isolate_state_parse(o, &st), 0);
    assert_false(isolate_state_has(&st, ISOLATE_SECCOMP));
    json_decref(o);
}

static void test_parse_refuses_non_objects(void **state)
{
    struct isolate_state st;
    json_t *a = json_array();

    (void)state;
    assert_int_equal(isolate_state_parse(NULL, &st), -EBADMSG);
    assert_int_equal(st.on, 0);
    assert_int_equal(isolate_state_parse(a, &st), -EBADMSG);
    assert_int_equal(st.on, 0);
    assert_string_equal(st.reason[ISOLATE_SECCOMP], "not in the zygote's report");
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_follow_the_enum),
        cmocka_unit_test(test_on_off_and_reasons),
        cmocka_unit_test(test_long_reason_is_cut),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_fills_gaps),
        cmocka_unit_test(test_parse_refuses_non_objects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
