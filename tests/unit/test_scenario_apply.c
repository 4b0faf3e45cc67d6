/* test_scenario_apply.c - scenario -> job fields, proxy configuration and warnings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../agent/scenario_apply.c"
#include "../../sandbox/isolate_state.c"

static const struct agent_cfg cfg = {.memory_mb = 4096, .pids_limit = 256, .disk_mb = 512};

/* Every layer on, or every layer off with the cpu cgroup saying why. */
static void layers(struct isolate_state *st, bool on)
{
    isolate_state_unknown(st, "off on this host");
    for (int l = 0; on && l < ISOLATE_NLAYERS; l++)
        isolate_state_on(st, (enum isolate_layer)l);
    if (!on)
        isolate_state_off(st, ISOLATE_CGROUP_CPU, "read-only cgroupfs");
}

static json_t *apply(const char *text, struct zyg_job *job, bool on)
{
    json_t *scn = json_loads(text, 0, NULL), *w = json_array();
    struct isolate_state iso;
    struct scenario s;
    struct err e = {0};

    layers(&iso, on);
    assert_non_null(scn);
    assert_int_equal(scenario_parse(scn, &s, &e), 0);
    memset(job, 0, sizeof(*job));
    assert_int_equal(scenario_apply_job(&s, &cfg, &iso, job, w), 0);
    json_decref(scn);
    return w;
}

static bool has_warning(json_t *w, const char *part)
{
    size_t i;
    json_t *v;

    json_array_foreach(w, i, v)
    {
        if (strstr(json_string_value(v), part))
            return true;
    }
    return false;
}

static void test_resource_fields(void **state)
{
    struct zyg_job job;
    json_t *w;

    (void)state;
    w = apply("{\"cpuLimit\":0.5,\"memoryLimitMb\":200,\"pidsLimit\":32,\"diskLimitMb\":16,"
              "\"artificialDelayMs\":250,\"simulateCrash\":true,\"crashAfterMs\":100,"
              "\"simulateMemoryLeak\":true}",
              &job, true);
    assert_int_equal(job.cpu_millis, 500);
    assert_int_equal(job.memory_mb, 200);
    assert_int_equal(job.pids, 32);
    assert_int_equal(job.disk_mb, 16);
    assert_int_equal(job.delay_ms, 250);
    assert_int_equal(job.crash_after_ms, 100);
    assert_int_equal(job.leak_mb_s, 100); /* the default rate */
    assert_true(job.flags & ZYG_JOB_CRASH);
    assert_true(job.flags & ZYG_JOB_LEAK);
    assert_false(job.flags & ZYG_JOB_NETWORK);
    assert_int_equal(json_array_size(w), 0);
    json_decref(w);
}

static void test_caps_and_fallbacks_warn(void **state)
{
    struct zyg_job job;
    json_t *w;

    (void)state;
    w = apply("{\"memoryLimitMb\":999999,\"pidsLimit\":100000}", &job, true);
    assert_int_equal(job.memory_mb, 4096);
    assert_int_equal(job.pids, 256);
    assert_true(has_warning(w, "memoryLimitMb 999999 exceeds"));
    assert_true(has_warning(w, "pidsLimit 100000 exceeds"));
    json_decref(w);
    /* Without the cgroups: nothing dropped silently. */
    w = apply("{\"cpuLimit\":1,\"memoryLimitMb\":100,\"pidsLimit\":8}", &job, false);
    assert_int_equal(job.cpu_millis, 0);
    assert_int_equal(job.memory_mb, 100); /* still the RLIMIT_AS fallback */
    assert_true(has_warning(w, "cpuLimit not applied"));
    assert_true(has_warning(w, "read-only cgroupfs"));
    assert_true(has_warning(w, "RLIMIT_AS"));
    assert_true(has_warning(w, "pidsLimit not applied"));
    json_decref(w);
    w = apply("{\"simulateHighCpu\":true,\"crashAfterMs\":5}", &job, true);
    assert_true(job.flags & ZYG_JOB_HIGH_CPU);
    assert_false(job.flags & ZYG_JOB_CRASH);
    assert_true(has_warning(w, "without cpuLimit"));
    assert_true(has_warning(w, "crashAfterMs ignored"));
    json_decref(w);
}

static void test_network_and_proxy_conf(void **state)
{
    json_t *scn = json_loads("{\"networkLatencyMs\":200,\"jitterMs\":20,\"bandwidthKbps\":800,"
                             "\"upstream\":\"[::1]:8080\",\"allowHosts\":[\"a.example\","
                             "\"*.b.example\",\"127.0.0.1:9\"],\"toxicDirection\":\"both\"}",
                             0, NULL);
    struct scenario s;
    struct proxy_conf pc;
    struct zyg_job job = {0};
    struct err e = {0};
    struct isolate_state iso;
    json_t *w = json_array();

    (void)state;
    layers(&iso, true);
    assert_int_equal(scenario_parse(scn, &s, &e), 0);
    scenario_apply_job(&s, &cfg, &iso, &job, w);
    assert_true(job.flags & ZYG_JOB_NETWORK);
    scenario_apply_proxy(&s, &pc);
    assert_int_equal(pc.latency_ms, 200);
    assert_int_equal(pc.jitter_ms, 20);
    assert_int_equal(pc.bandwidth_kbps, 800);
    assert_string_equal(pc.upstream_host, "::1");
    assert_int_equal(pc.upstream_port, 8080);
    assert_int_equal(pc.n_allow, 3);
    assert_string_equal(pc.allow[1], "*.b.example");
    assert_int_equal(pc.direction, PROXY_DIR_BOTH);
    json_decref(w);
    json_decref(scn);
}

static void test_network_without_loopback_warns(void **state)
{
    struct zyg_job job;
    json_t *w = json_array(), *scn = json_loads("{\"networkLatencyMs\":5}", 0, NULL);
    struct isolate_state iso;
    struct scenario s;
    struct err e = {0};

    (void)state;
    layers(&iso, true);
    isolate_state_off(&iso, ISOLATE_LOOPBACK, "Operation not permitted");
    assert_int_equal(scenario_parse(scn, &s, &e), 0);
    memset(&job, 0, sizeof(job));
    assert_int_equal(scenario_apply_job(&s, &cfg, &iso, &job, w), 0);
    assert_true(job.flags & ZYG_JOB_NETWORK);
    assert_true(has_warning(w, "loopback is down (Operation not permitted)"));
    json_decref(w);
    /* Without a network namespace that is the warning, not the loopback. */
    w = apply("{\"networkLatencyMs\":5}", &job, false);
    assert_true(has_warning(w, "no network namespace"));
    assert_false(has_warning(w, "loopback"));
    json_decref(w);
    json_decref(scn);
}

static void test_unknown_isolation_warns_with_its_reason(void **state)
{
    struct zyg_job job = {0};
    json_t *w = json_array(), *scn = json_loads("{\"cpuLimit\":1,\"pidsLimit\":4}", 0, NULL);
    struct isolate_state iso;
    struct scenario s;
    struct err e = {0};

    (void)state;
    /* Before the zygote's first READY, as zyg_client_isolation hands it out. */
    isolate_state_unknown(&iso, "the isolation report is not available yet");
    assert_int_equal(scenario_parse(scn, &s, &e), 0);
    assert_int_equal(scenario_apply_job(&s, &cfg, &iso, &job, w), 0);
    assert_int_equal(job.cpu_millis, 0);
    assert_int_equal(job.pids, 0);
    assert_true(has_warning(w, "cpuLimit not applied: no cpu cgroup (the isolation report is not "
                               "available yet)"));
    assert_true(has_warning(w, "pidsLimit not applied"));
    json_decref(w);
    json_decref(scn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resource_fields),
        cmocka_unit_test(test_caps_and_fallbacks_warn),
        cmocka_unit_test(test_network_and_proxy_conf),
        cmocka_unit_test(test_network_without_loopback_warns),
        cmocka_unit_test(test_unknown_isolation_warns_with_its_reason),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
