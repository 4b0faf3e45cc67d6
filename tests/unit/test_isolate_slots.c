/* test_isolate_slots.c - a slot is a uid of its own (issue 17 item 5): slots are handed out
 * with or without cgroups when uids are per slot, each maps to base + slot, a child without a
 * slot is refused rather than given a shared uid, and /health's sandbox_uids says which. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../sandbox/isolate.c"
#include "../../sandbox/isolate_cgroup.c"
#include "../../sandbox/isolate_cred.c"
#include "../../sandbox/isolate_state.c"
#include "../../sandbox/timeline.c"

/* The other concerns' steps are not under test here. */
void isolate_mount_init(struct isolate *iso, const char *const hide[], const char *expose)
{
    (void)iso, (void)hide, (void)expose;
}
void isolate_ns_probe(struct isolate *iso)
{
    (void)iso;
}
int isolate_ns_unshare(const struct isolate *iso, char *why, size_t why_len)
{
    (void)iso, (void)why, (void)why_len;
    return 0;
}
void isolate_ns_settle(const struct isolate *iso)
{
    (void)iso;
}
int isolate_mount_view(const struct isolate *iso, int slot, long disk_mb,
                       const struct isolate_ws *ws, char *why, size_t why_len)
{
    (void)iso, (void)slot, (void)disk_mb, (void)ws, (void)why, (void)why_len;
    return 0;
}
void isolate_seccomp_probe(struct isolate *iso)
{
    (void)iso;
}
void isolate_selftest_root(struct isolate *iso)
{
    (void)iso;
}

/* An isolate with n slots, cgroups off, uid drop on from base (per slot or not). */
static struct isolate *slots_new(int n, uid_t base, bool per_slot)
{
    static const struct agent_cfg cfg = {.memory_mb = 256, .pids_limit = 64};
    struct isolate *iso = calloc(1, sizeof(*iso));

    assert_non_null(iso);
    iso->cfg = &cfg;
    iso->n_slots = n;
    iso->slot_used = calloc((size_t)n, 1);
    iso->slot_lim = calloc((size_t)n, sizeof(*iso->slot_lim));
    iso->uid = base;
    iso->gid = per_slot ? base : 65534;
    iso->uid_lock = -1;
    iso->drop_uid = true;
    iso->uid_per_slot = per_slot;
    isolate_state_on(&iso->st, ISOLATE_UID_DROP);
    return iso;
}

static void slots_free(struct isolate *iso)
{
    free(iso->slot_used);
    free(iso->slot_lim);
    free(iso);
}

static void test_per_slot_uids_without_cgroups(void **state)
{
    struct isolate *iso = slots_new(3, 2000000, true);
    int a, b, c;

    (void)state;
    a = isolate_slot_take(iso);
    b = isolate_slot_take(iso);
    c = isolate_slot_take(iso);
    assert_true(a >= 0 && b >= 0 && c >= 0 && a != b && b != c && a != c);
    assert_int_equal(isolate_slot_take(iso), -1); /* every slot taken */
    assert_int_equal(isolate_cred_uid(iso, a), 2000000 + a);
    assert_int_equal(isolate_cred_uid(iso, c), 2000000 + c);
    isolate_slot_give(iso, b);
    assert_int_equal(isolate_slot_take(iso), b); /* given back, taken again */
    slots_free(iso);
}

static void test_shared_user_takes_no_slot_without_cgroups(void **state)
{
    struct isolate *iso = slots_new(2, 65534, false);

    (void)state;
    assert_int_equal(isolate_slot_take(iso), -1);
    assert_int_equal(isolate_cred_uid(iso, -1), 65534);
    assert_int_equal(isolate_cred_uid(iso, 1), 65534);
    slots_free(iso);
}

static void test_no_slot_no_shared_uid(void **state)
{
    struct isolate *iso = slots_new(1, 2000000, true);
    char why[128] = "";

    (void)state;
    assert_int_equal(isolate_cred_drop(iso, -1, NULL, why, sizeof(why)), -EAGAIN);
    /* A workspace's uid is its own, at the top of the range, whatever the slot. */
    {
        struct isolate_ws ws = {.fd = -1, .at = "/x", .uid_index = 2};

        assert_true(isolate_cred_uid_of(iso, 0, &ws) == isolate_cred_uid_of(iso, 5, &ws));
        assert_true(isolate_cred_uid_of(iso, 0, &ws) != isolate_cred_uid(iso, 0));
        assert_true(isolate_cred_uid_ws(iso, 0) != isolate_cred_uid_ws(iso, 1));
        assert_true(isolate_cred_uid_ws(iso, 0) > isolate_cred_uid(iso, iso->n_slots - 1) ||
                    !iso->uid_per_slot);
    }
    assert_non_null(strstr(why, "no free slot"));
    slots_free(iso);
}

static void test_health_names_the_range(void **state)
{
    struct isolate *iso = slots_new(5, 2008192, true);
    json_t *j = isolate_uids_json(iso);

    (void)state;
    assert_int_equal(json_integer_value(json_object_get(j, "first")), 2008192);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 5);
    assert_true(json_is_true(json_object_get(j, "per_slot")));
    json_decref(j);
    iso->uid_per_slot = false;
    j = isolate_uids_json(iso);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 1);
    json_decref(j);
    isolate_state_off(&iso->st, ISOLATE_UID_DROP, "not root");
    j = isolate_uids_json(iso);
    assert_true(json_is_null(j));
    json_decref(j);
    slots_free(iso);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_slot_uids_without_cgroups),
        cmocka_unit_test(test_shared_user_takes_no_slot_without_cgroups),
        cmocka_unit_test(test_no_slot_no_shared_uid),
        cmocka_unit_test(test_health_names_the_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
