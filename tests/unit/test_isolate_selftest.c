/* test_isolate_selftest.c - the start-up self-test's pure part: is there a mount at "/" in
 * /proc/self/mountinfo, and does it propagate to another namespace (a chroot is not a mount
 * point; a bind of it onto itself under a shared parent would appear on the host too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../sandbox/isolate_selftest.c"
#include "../../sandbox/isolate_state.c"

/* The rest of the zygote, never reached by these tests. */
int child_isolate(const struct child_ctx *c, char *why, size_t why_len)
{
    (void)c, (void)why, (void)why_len;
    return -ENOSYS;
}
int child_enter_workdir(const struct agent_cfg *cfg, const char *exec_id, char *why, size_t why_len)
{
    (void)cfg, (void)exec_id, (void)why, (void)why_len;
    return -ENOSYS;
}
int pyrt_run(struct pyrt *rt, const char *spec, size_t len, int result_fd)
{
    (void)rt, (void)spec, (void)len, (void)result_fd;
    return 70;
}
int pyrt_fork(struct pyrt *rt)
{
    (void)rt;
    return -1;
}
int isolate_slot_take(struct isolate *iso)
{
    (void)iso;
    return -1;
}
void isolate_slot_give(struct isolate *iso, int slot)
{
    (void)iso, (void)slot;
}
int isolate_slot_limits(struct isolate *iso, int slot, long memory_mb, long pids, long cpu_millis)
{
    (void)iso, (void)slot, (void)memory_mb, (void)pids, (void)cpu_millis;
    return 0;
}

static void test_a_host_root_is_found(void **state)
{
    static const char text[] = "21 26 0:20 / /proc rw,relatime - proc proc rw\n"
                               "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n";
    bool found, shared;

    (void)state;
    isolate_selftest_mountinfo(text, &found, &shared);
    assert_true(found);
    assert_false(shared);
}

static void test_a_shared_root_is_shared(void **state)
{
    static const char text[] = "29 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n"
                               "30 29 0:5 / /dev rw shared:2 - devtmpfs udev rw\n";
    bool found, shared;

    (void)state;
    isolate_selftest_mountinfo(text, &found, &shared);
    assert_true(found);
    assert_true(shared);
}

static void test_a_chroot_has_no_root_mount(void **state)
{
    /* The mount holding the chroot lies outside it: only the mounts inside are listed. */
    static const char text[] = "412 26 0:20 / /proc rw - proc proc rw\n"
                               "413 26 0:21 / /sys rw master:7 - sysfs sysfs rw\n"
                               "414 26 0:6 / /dev rw shared:3 - devtmpfs udev rw";
    bool found, shared;

    (void)state;
    isolate_selftest_mountinfo(text, &found, &shared);
    assert_false(found);
    assert_true(shared); /* /dev, under the unseen parent 26, is shared: so is 26, likely */
}

static void test_a_chroot_on_a_private_mount(void **state)
{
    /* Children of the unseen parent are private or slaves; a shared grandchild says nothing. */
    static const char text[] = "412 26 0:20 / /proc rw - proc proc rw\n"
                               "413 26 0:21 / /sys rw master:7 - sysfs sysfs rw\n"
                               "415 413 0:30 / /sys/fs/cgroup rw shared:9 - tmpfs tmpfs rw\n";
    bool found, shared;

    (void)state;
    isolate_selftest_mountinfo(text, &found, &shared);
    assert_false(found);
    assert_false(shared);
}

static void test_the_top_of_stacked_roots_counts(void **state)
{
    /* A bind of / onto itself on top of a shared one: the last line is the one in force; a
     * source path with "shared:" after the separator is not a propagation tag. */
    static const char text[] = "26 1 254:0 / / rw shared:1 - ext4 /dev/vda rw\n"
                               "500 26 254:0 / / rw - ext4 shared:9 rw\n";
    bool found, shared;

    (void)state;
    isolate_selftest_mountinfo(text, &found, &shared);
    assert_true(found);
    assert_false(shared);
    isolate_selftest_mountinfo("", &found, &shared);
    assert_false(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_host_root_is_found),
        cmocka_unit_test(test_a_shared_root_is_shared),
        cmocka_unit_test(test_a_chroot_has_no_root_mount),
        cmocka_unit_test(test_a_chroot_on_a_private_mount),
        cmocka_unit_test(test_the_top_of_stacked_roots_counts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
