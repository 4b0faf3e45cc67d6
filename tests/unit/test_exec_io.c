/* test_exec_io.c - what a live-output reader takes of an execution's streams: each read gives
 * the bytes since its cursor and advances it, the cap's cut is reported, two readers keep their
 * own cursors, and the whole-output snapshot is the same bytes; a whole status record ends the
 * execution even while a copy of the status pipe's write end is still open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <poll.h>

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

struct test_exec_io_loop {
    int done_fd; /* written once by ops->done */
    bool stop;
};

static int test_exec_io_tick(void *arg)
{
    (void)arg;
    return 100;
}

static void test_exec_io_progress(struct exec_io_streams *s, void *arg)
{
    (void)s;
    (void)arg;
}

static void test_exec_io_done(struct exec_io_streams *s, void *arg)
{
    struct test_exec_io_loop *l = arg;

    (void)s;
    assert_int_equal(write(l->done_fd, "D", 1), 1);
}

static bool test_exec_io_should_exit(void *arg)
{
    return ((struct test_exec_io_loop *)arg)->stop;
}

static const struct exec_io_ops test_exec_io_ops = {
    .tick = test_exec_io_tick,
    .progress = test_exec_io_progress,
    .done = test_exec_io_done,
    .should_exit = test_exec_io_should_exit,
};

/* The zygote forks warm children while a job runs; one holds the status pipe's write end until
 * it drops its inherited fds. The record, whole, must end the execution without that EOF. */
static void test_exec_io_status_record_ends(void **state)
{
    struct exec_io_streams s;
    struct test_exec_io_loop l = {0};
    int child[EXEC_IO_NSTREAMS], done[2], held;
    uint8_t rec[ZYG_STATUS_SIZE] = {0};
    struct pollfd pf;
    struct err e = {0};
    struct exec_io *io;
    char c;

    (void)state;
    assert_int_equal(pipe(done), 0);
    l.done_fd = done[1];
    io = exec_io_new(&test_exec_io_ops, &l, &e);
    assert_non_null(io);
    exec_io_streams_init(&s, 100, 100);
    assert_int_equal(exec_io_streams_pipes(&s, child), 0);
    held = dup(child[EXEC_IO_STATUS]); /* the other holder */
    assert_true(held >= 0);
    assert_int_equal(exec_io_watch(io, &s), 0);
    for (int i = 0; i < EXEC_IO_NSTREAMS; i++) {
        if (i == EXEC_IO_STATUS)
            assert_int_equal(write(child[i], rec, sizeof(rec) - 1), (ssize_t)sizeof(rec) - 1);
        close(child[i]);
    }
    /* One byte short: not over (poll returns 0 after 200 ms; not a timing assertion, a
     * bounded wait for an event that must not come). */
    pf = (struct pollfd){.fd = done[0], .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 200), 0);
    assert_int_equal(write(held, rec, 1), 1);
    assert_int_equal(poll(&pf, 1, 10000), 1);
    assert_int_equal(read(done[0], &c, 1), 1);
    assert_int_equal(s.status_len, sizeof(rec));
    l.stop = true;
    exec_io_join(io);
    exec_io_free(io);
    exec_io_streams_done(&s);
    close(held);
    close(done[0]);
    close(done[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_io_since_cursor),
        cmocka_unit_test(test_exec_io_status_record_ends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
