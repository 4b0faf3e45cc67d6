/* test_exec_io.c - what a live-output reader takes of an execution's streams: each read gives
 * the bytes since its cursor and advances it, the cap's cut is reported, two readers keep their
 * own cursors, and the whole-output snapshot is the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../agent/exec_io.c"

static void test_exec_io_feed(struct exec_io_streams *s, int which, const char *text)
{
    exec_io_keep(&s->fds[which], text, strlen(text));
}

static void test_exec_io_since_cursor(void **state)
{
    struct exec_io_streams s;
    struct exec_io_snapshot snap;
    size_t out = 0, err = 0, out2 = 0, err2 = 0;

    (void)state;
    exec_io_streams_init(&s, 10, 100);
    assert_int_equal(exec_io_streams_since(&s, &out, &err, &snap), 0);
    assert_null(snap.out);
    assert_null(snap.err);
    exec_io_snapshot_done(&snap);

    test_exec_io_feed(&s, EXEC_IO_OUT, "abc");
    test_exec_io_feed(&s, EXEC_IO_ERR, "E1");
    assert_int_equal(exec_io_streams_since(&s, &out, &err, &snap), 0);
    assert_int_equal(snap.out_len, 3);
    assert_memory_equal(snap.out, "abc", 3);
    assert_int_equal(snap.err_len, 2);
    assert_memory_equal(snap.err, "E1", 2);
    assert_false(snap.out_cut);
    exec_io_snapshot_done(&snap);
    assert_int_equal(out, 3);
    assert_int_equal(err, 2);

    /* Nothing new: nothing copied. Then only the new bytes, up to the cap of 10. */
    assert_int_equal(exec_io_streams_since(&s, &out, &err, &snap), 0);
    assert_null(snap.out);
    exec_io_snapshot_done(&snap);
    test_exec_io_feed(&s, EXEC_IO_OUT, "defghijklmn");
    assert_int_equal(exec_io_streams_since(&s, &out, &err, &snap), 0);
    assert_int_equal(snap.out_len, 7);
    assert_memory_equal(snap.out, "defghij", 7);
    assert_null(snap.err);
    assert_true(snap.out_cut);
    assert_false(snap.err_cut);
    exec_io_snapshot_done(&snap);

    /* A second reader starting late gets everything kept; the snapshot is the same. */
    assert_int_equal(exec_io_streams_since(&s, &out2, &err2, &snap), 0);
    assert_int_equal(snap.out_len, 10);
    assert_memory_equal(snap.out, "abcdefghij", 10);
    exec_io_snapshot_done(&snap);
    assert_int_equal(exec_io_streams_snapshot(&s, &snap), 0);
    assert_int_equal(snap.out_len, 10);
    assert_int_equal(snap.err_len, 2);
    exec_io_snapshot_done(&snap);
    exec_io_streams_done(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_io_since_cursor),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
