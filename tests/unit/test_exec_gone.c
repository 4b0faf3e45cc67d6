/* test_exec_gone.c - the ring of evicted result ids: remembered, the oldest forgotten first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../agent/exec_gone.c"

static void test_exec_gone_ring(void **state)
{
    struct exec_gone g;
    char id[IDS_UUID_LEN + 1];

    (void)state;
    assert_int_equal(exec_gone_init(&g, 3), 0);
    assert_false(exec_gone_has(&g, "a"));
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        exec_gone_add(&g, id);
        assert_true(exec_gone_has(&g, id));
    }
    /* Room for 3: id-0 and id-1 are forgotten. */
    assert_false(exec_gone_has(&g, "id-0"));
    assert_false(exec_gone_has(&g, "id-1"));
    assert_true(exec_gone_has(&g, "id-2") && exec_gone_has(&g, "id-4"));
    assert_false(exec_gone_has(&g, "id-")); /* whole ids only */
    exec_gone_done(&g);
    /* Without a ring (as after out of memory) nothing is remembered and nothing breaks. */
    exec_gone_add(&g, "x");
    assert_false(exec_gone_has(&g, "x"));
}

/* A full UUID is kept whole. */
static void test_exec_gone_uuid(void **state)
{
    static const char u[] = "0123abcd-0123-4567-89ab-0123456789ab";
    struct exec_gone g;

    (void)state;
    assert_int_equal(sizeof(u) - 1, IDS_UUID_LEN);
    assert_int_equal(exec_gone_init(&g, EXEC_GONE_MAX), 0);
    exec_gone_add(&g, u);
    assert_true(exec_gone_has(&g, u));
    exec_gone_done(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_gone_ring),
        cmocka_unit_test(test_exec_gone_uuid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
