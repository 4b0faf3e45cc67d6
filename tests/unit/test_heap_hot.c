/* test_heap_hot.c - the pages every child copies (issue 18): a probe reports exactly the pages it
 * wrote after the fork, the report survives the pipe, populate copies them so a child's writes
 * no longer fault, with the zygote's content, and a broken report is not trusted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../sandbox/heap_hot.c"

#include <sys/resource.h>

#define BUF_PAGES 16

static unsigned char *test_buf;               /* BUF_PAGES pages, all populated before the fork */
static const int test_written[] = {3, 4, 10}; /* the pages the fake pre-warm writes */

/* heap_hot_learn's interpreter: a plain fork, a pre-warm writing the pages above, a run doing
 * nothing. */
int pyrt_fork(struct pyrt *rt)
{
    (void)rt;
    return fork();
}
void pyrt_prewarm(struct pyrt *rt)
{
    (void)rt;
    for (size_t i = 0; i < sizeof(test_written) / sizeof(test_written[0]); i++)
        test_buf[(size_t)test_written[i] * HEAP_HOT_PAGE + 7] ^= 1;
}

int pyrt_run(struct pyrt *rt, const char *spec, size_t len, int result_fd)
{
    (void)rt, (void)spec, (void)len, (void)result_fd;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    test_buf = mmap(NULL, BUF_PAGES * HEAP_HOT_PAGE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (test_buf == MAP_FAILED)
        return -1;
    for (size_t i = 0; i < BUF_PAGES; i++)
        memset(test_buf + i * HEAP_HOT_PAGE, (int)i, HEAP_HOT_PAGE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    munmap(test_buf, BUF_PAGES * HEAP_HOT_PAGE);
    return 0;
}

/* Whether h covers page i of test_buf. */
static int covers(const struct heap_hot *h, int i)
{
    uintptr_t p = (uintptr_t)test_buf + (uintptr_t)i * HEAP_HOT_PAGE;

    for (size_t k = 0; k < h->n; k++)
        if (p >= h->ranges[k].start && p < h->ranges[k].start + h->ranges[k].len)
            return 1;
    return 0;
}

static void test_mappings_include_private_writable_memory(void **state)
{
    struct heap_hot h;

    (void)state;
    assert_int_equal(heap_hot_mappings(&h), 0);
    for (int i = 0; i < BUF_PAGES; i++)
        assert_true(covers(&h, i));
    heap_hot_done(&h);
}

static void test_learn_reports_the_pages_the_probe_wrote(void **state)
{
    struct heap_hot h;

    (void)state;
    assert_int_equal(heap_hot_learn(&h, NULL, "/"), 0);
    for (int i = 0; i < BUF_PAGES; i++)
        assert_int_equal(covers(&h, i), i == 3 || i == 4 || i == 10);
    assert_true(h.pages >= 3);
    heap_hot_done(&h);
}

/* In a child (populated from h unless NULL): the faults its writes to the written pages take,
 * or -1 when a page lost the zygote's content. */
static long touch_faults(const struct heap_hot *h)
{
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        struct rusage a, b;
        int ok = 1;

        if (h)
            heap_hot_populate(h);
        getrusage(RUSAGE_SELF, &a);
        for (size_t i = 0; i < 3; i++) {
            unsigned char *p = test_buf + (size_t)test_written[i] * HEAP_HOT_PAGE;

            ok &= p[0] == (unsigned char)test_written[i];
            p[100] ^= 1;
        }
        getrusage(RUSAGE_SELF, &b);
        _exit(ok ? (int)(b.ru_minflt - a.ru_minflt) & 0x7f : 0xff);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -2;
    return WEXITSTATUS(status) == 0xff ? -1 : WEXITSTATUS(status);
}

static void test_populate_copies_them_with_their_content(void **state)
{
    struct heap_hot h;
    long cold, hot;

    (void)state;
    assert_int_equal(heap_hot_learn(&h, NULL, "/"), 0);
    cold = touch_faults(NULL);
    hot = touch_faults(&h);
    assert_true(cold >= 3); /* each write copies its page... */
    assert_true(hot >= 0);
    assert_true(hot <= cold - 3); /* ...unless populate copied them, content and all */
    heap_hot_done(&h);
}

static void test_collect_skips_misaligned_and_refuses_a_torn_record(void **state)
{
    struct heap_hot_range recs[3] = {
        {0x10000, 2 * HEAP_HOT_PAGE}, {0x10001, HEAP_HOT_PAGE}, {0x20000, 100}};
    struct heap_hot h = {0};
    int fds[2];

    (void)state;
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fdio_write_all(fds[1], recs, sizeof(recs)), 0);
    close(fds[1]);
    assert_int_equal(heap_hot_collect(&h, fds[0]), 0);
    close(fds[0]);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.pages, 2);

    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fdio_write_all(fds[1], recs, sizeof(recs[0]) + 3), 0);
    close(fds[1]);
    assert_int_equal(heap_hot_collect(&h, fds[0]), -EIO);
    close(fds[0]);
    heap_hot_done(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mappings_include_private_writable_memory),
        cmocka_unit_test(test_learn_reports_the_pages_the_probe_wrote),
        cmocka_unit_test(test_populate_copies_them_with_their_content),
        cmocka_unit_test(test_collect_skips_misaligned_and_refuses_a_torn_record),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
