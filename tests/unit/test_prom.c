/* test_prom.c - the Prometheus text writer: HELP/TYPE once per family, escaped label values,
 * cumulative histogram buckets ending in +Inf equal to _count, and the "other" series once a
 * vector holds PROM_MAX_SERIES label sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../common/prom.c"

static void test_prom_family_and_escapes(void **state)
{
    static const char *const names[] = {"url", "state"};
    const char *values[] = {"http://a/\"x\"\\y\nz", "up"};
    struct buf b;

    (void)state;
    buf_init(&b, 0);
    assert_int_equal(prom_family(&b, "x_up", "gauge", "Is it up.\nSecond line \\ done"), 0);
    assert_int_equal(prom_sample(&b, "x_up", 2, names, values, 1), 0);
    assert_int_equal(prom_single(&b, "x_total", "counter", "Things.", 0.25), 0);
    assert_string_equal(buf_cstr(&b), "# HELP x_up Is it up.\\nSecond line \\\\ done\n"
                                      "# TYPE x_up gauge\n"
                                      "x_up{url=\"http://a/\\\"x\\\"\\\\y\\nz\",state=\"up\"} 1\n"
                                      "# HELP x_total Things.\n"
                                      "# TYPE x_total counter\n"
                                      "x_total 0.25\n");
    buf_done(&b);
}

static void test_prom_histogram(void **state)
{
    static const char *const names[] = {"language", "outcome"};
    static const double bounds[] = {0.01, 0.1, 1};
    const char *py_ok[] = {"python", "completed"}, *sh_to[] = {"bash", "timeout"};
    struct prom_hist_vec v;
    struct buf b;

    (void)state;
    prom_hist_vec_init(&v, 2, names, 3, bounds);
    assert_int_equal(prom_hist_vec_observe(&v, py_ok, 0.005), 0);
    assert_int_equal(prom_hist_vec_observe(&v, py_ok, 0.01), 0); /* le is inclusive */
    assert_int_equal(prom_hist_vec_observe(&v, py_ok, 0.5), 0);
    assert_int_equal(prom_hist_vec_observe(&v, sh_to, 7), 0);
    buf_init(&b, 0);
    assert_int_equal(prom_hist_vec_write(&v, &b, "t_seconds", "Time."), 0);
    assert_string_equal(
        buf_cstr(&b), "# HELP t_seconds Time.\n# TYPE t_seconds histogram\n"
                      "t_seconds_bucket{language=\"python\",outcome=\"completed\",le=\"0.01\"} 2\n"
                      "t_seconds_bucket{language=\"python\",outcome=\"completed\",le=\"0.1\"} 2\n"
                      "t_seconds_bucket{language=\"python\",outcome=\"completed\",le=\"1\"} 3\n"
                      "t_seconds_bucket{language=\"python\",outcome=\"completed\",le=\"+Inf\"} 3\n"
                      "t_seconds_sum{language=\"python\",outcome=\"completed\"} 0.515\n"
                      "t_seconds_count{language=\"python\",outcome=\"completed\"} 3\n"
                      "t_seconds_bucket{language=\"bash\",outcome=\"timeout\",le=\"0.01\"} 0\n"
                      "t_seconds_bucket{language=\"bash\",outcome=\"timeout\",le=\"0.1\"} 0\n"
                      "t_seconds_bucket{language=\"bash\",outcome=\"timeout\",le=\"1\"} 0\n"
                      "t_seconds_bucket{language=\"bash\",outcome=\"timeout\",le=\"+Inf\"} 1\n"
                      "t_seconds_sum{language=\"bash\",outcome=\"timeout\"} 7\n"
                      "t_seconds_count{language=\"bash\",outcome=\"timeout\"} 1\n");
    assert_int_equal(prom_hist_vec_count(&v, "python"), 3);
    assert_int_equal(prom_hist_vec_count(&v, NULL), 4);
    buf_done(&b);
    prom_hist_vec_done(&v);
}

static void test_prom_histogram_other(void **state)
{
    static const char *const names[] = {"k"};
    static const double bounds[] = {1};
    struct prom_hist_vec v;
    char val[32];
    const char *vals[1] = {val};

    (void)state;
    prom_hist_vec_init(&v, 1, names, 1, bounds);
    for (int i = 0; i < PROM_MAX_SERIES + 10; i++) {
        snprintf(val, sizeof(val), "v%d", i);
        assert_int_equal(prom_hist_vec_observe(&v, vals, 0), 0);
    }
    /* A known series still counts as itself once the vector is full. */
    snprintf(val, sizeof(val), "v0");
    assert_int_equal(prom_hist_vec_observe(&v, vals, 0), 0);
    assert_int_equal(v.n_series, PROM_MAX_SERIES + 1);
    assert_int_equal(prom_hist_vec_count(&v, "v0"), 2);
    assert_int_equal(prom_hist_vec_count(&v, "other"), 10);
    prom_hist_vec_done(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_family_and_escapes),
        cmocka_unit_test(test_prom_histogram),
        cmocka_unit_test(test_prom_histogram_other),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
