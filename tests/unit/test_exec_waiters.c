/* test_exec_waiters.c - the waiters of one execution: added, removed by their request, expired
 * at their deadline (the earliest left reported), all called when it finishes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../agent/exec_waiters.c"

static void test_waiters_count(void *arg)
{
    (*(int *)arg)++;
}

static void test_waiters_expire_and_clear(void **state)
{
    struct exec_waiter *list = NULL;
    int a = 0, b = 0, c = 0, d = 0;

    (void)state;
    assert_int_equal(exec_waiters_add(&list, test_waiters_count, &a, 0), 0);
    assert_int_equal(exec_waiters_add(&list, test_waiters_count, &b, 100), 0);
    assert_int_equal(exec_waiters_add(&list, test_waiters_count, &c, 300), 0);
    assert_int_equal(exec_waiters_add(&list, test_waiters_count, &d, 200), 0);
    /* Before any deadline: nobody called, the earliest is reported. */
    assert_int_equal(exec_waiters_expire(&list, 50, 0), 100);
    assert_int_equal(a + b + c + d, 0);
    /* At 200: b and d go (each once), c is next; a sooner outside deadline wins. */
    assert_int_equal(exec_waiters_expire(&list, 200, 0), 300);
    assert_int_equal(exec_waiters_expire(&list, 200, 250), 250);
    assert_int_equal(b, 1);
    assert_int_equal(d, 1);
    /* A request that went away is never called. */
    exec_waiters_remove(&list, &c);
    exec_waiters_remove(&list, &c);
    assert_int_equal(exec_waiters_expire(&list, 1000, 0), 0);
    assert_int_equal(c, 0);
    /* The end: everyone left (a) is called once. */
    exec_waiters_clear(&list, true);
    assert_int_equal(a, 1);
    assert_null(list);
}

static void test_waiters_clear_without_calling(void **state)
{
    struct exec_waiter *list = NULL;
    int a = 0;

    (void)state;
    assert_int_equal(exec_waiters_add(&list, test_waiters_count, &a, 10), 0);
    exec_waiters_clear(&list, false);
    assert_int_equal(a, 0);
    assert_null(list);
}

/* Live-output watchers: told of every new chunk and kept, until the end calls them once more. */
static void test_waiters_notify_keeps(void **state)
{
    struct exec_waiter *list = NULL;
    int a = 0, b = 0;

    (void)state;
    assert_int_equal(exec_waiters_add(&list, test_waiters_count, &a, 0), 0);
    assert_int_equal(exec_waiters_add(&list, test_waiters_count, &b, 0), 0);
    exec_waiters_notify(list);
    exec_waiters_notify(list);
    assert_int_equal(a, 2);
    assert_int_equal(b, 2);
    exec_waiters_remove(&list, &b);
    exec_waiters_notify(list);
    exec_waiters_clear(&list, true);
    assert_int_equal(a, 4);
    assert_int_equal(b, 2);
    assert_null(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waiters_expire_and_clear),
        cmocka_unit_test(test_waiters_clear_without_calling),
        cmocka_unit_test(test_waiters_notify_keeps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
