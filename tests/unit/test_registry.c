/* test_registry.c - --agent parsing, least-loaded picking, availability and /health parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../orchestrator/registry.c"

struct spec_case {
    const char *spec;
    int rc;
    const char *url;
    const char *langs; /* comma-joined canonical languages */
};

static const struct spec_case spec_cases[] = {
    {"python=http://127.0.0.1:8001", 0, "http://127.0.0.1:8001", "python"},
    {"python,py=http://127.0.0.1:8001/", 0, "http://127.0.0.1:8001", "python"},
    {"python,js=http://h:1", 0, "http://h:1", "python,javascript"},
    {"http://agent.local:8001", 0, "http://agent.local:8001", ""},
    {"https://gw.example/sandbox//", 0, "https://gw.example/sandbox", ""},
    {"PY3=http://[::1]:8001", 0, "http://[::1]:8001", "python"},
    {"python=ftp://x", -ERR_INVALID, NULL, NULL},
    {"python=", -ERR_INVALID, NULL, NULL},
    {"=http://x:1", -ERR_INVALID, NULL, NULL},
    {"python,,js=http://x:1", -ERR_INVALID, NULL, NULL},
    {"py thon=http://x:1", -ERR_INVALID, NULL, NULL},
    {"http://", -ERR_INVALID, NULL, NULL},
    {"http://:80", -ERR_INVALID, NULL, NULL},
    {"http://ho st:80", -ERR_INVALID, NULL, NULL},
    {"http://h:80/a b", -ERR_INVALID, NULL, NULL},
    {"http://h:80/?q", -ERR_INVALID, NULL, NULL},
    {"localhost:8001", -ERR_INVALID, NULL, NULL},
};

static void test_parse_spec(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(spec_cases) / sizeof(spec_cases[0]); i++) {
        const struct spec_case *t = &spec_cases[i];
        struct agent_spec s;
        struct err e = {0};
        char joined[256] = "";
        int rc = registry_parse_spec(t->spec, &s, &e);

        if (rc != t->rc)
            fail_msg("case %zu '%s': rc %d (%s)", i, t->spec, rc, e.msg);
        if (rc < 0) {
            assert_string_equal(e.field, "agent");
            continue;
        }
        for (int k = 0; k < s.n_langs; k++)
            snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s", k ? "," : "",
                     s.langs[k]);
        if (strcmp(s.url, t->url) || strcmp(joined, t->langs))
            fail_msg("case %zu '%s': url '%s' langs '%s'", i, t->spec, s.url, joined);
    }
}

static struct registry *test_reg(int n)
{
    struct registry *r = registry_new();

    for (int i = 0; i < n; i++) {
        struct agent_spec s;
        char spec[64];

        snprintf(spec, sizeof(spec), "python=http://127.0.0.1:%d", 9000 + i);
        assert_int_equal(registry_parse_spec(spec, &s, NULL), 0);
        assert_int_equal(registry_add(r, &s, false, NULL), i);
        r->agents[i].state = AGENT_UP;
    }
    return r;
}

static void test_pick_least_loaded(void **state)
{
    struct registry *r = test_reg(3);

    (void)state;
    r->agents[0].in_flight = 2;
    r->agents[1].in_flight = 0;
    r->agents[2].in_flight = 1;
    assert_int_equal(registry_pick_locked(r, "python", -1), 1);
    assert_int_equal(registry_pick_locked(r, "python", 1), 2);
    r->agents[1].state = AGENT_DOWN;
    assert_int_equal(registry_pick_locked(r, "python", -1), 2);
    r->agents[2].url[0] = '\0';
    assert_int_equal(registry_pick_locked(r, "python", -1), 0);
    assert_int_equal(registry_pick_locked(r, "python", 0), -1);
    assert_int_equal(registry_pick_locked(r, "javascript", -1), -1);
    registry_free(r);
}

static void test_pick_rotates_ties(void **state)
{
    struct registry *r = test_reg(3);
    int seen[3] = {0};

    (void)state;
    for (int i = 0; i < 9; i++)
        seen[registry_pick_locked(r, "python", -1)]++;
    assert_int_equal(seen[0], 3);
    assert_int_equal(seen[1], 3);
    assert_int_equal(seen[2], 3);
    registry_free(r);
}

/* A key goes to one agent while it is up; when it is down only its keys move (to the next
 * in the key's ranking, also the retry's choice), and they come back with it. */
static void test_pick_sticky(void **state)
{
    struct registry *r = test_reg(4);
    int home[64], moved = 0, used[4] = {0};
    char key[16];

    (void)state;
    for (int k = 0; k < 64; k++) {
        snprintf(key, sizeof(key), "ws-%d", k);
        home[k] = registry_pick_sticky_locked(r, "python", key, -1);
        assert_true(home[k] >= 0 && home[k] < 4);
        used[home[k]]++;
        /* Load does not move it. */
        r->agents[home[k]].in_flight += 5;
        assert_int_equal(registry_pick_sticky_locked(r, "python", key, -1), home[k]);
    }
    for (int i = 0; i < 4; i++)
        assert_true(used[i] > 0); /* 64 keys spread over all four */
    r->agents[1].state = AGENT_DOWN;
    for (int k = 0; k < 64; k++) {
        int now;

        snprintf(key, sizeof(key), "ws-%d", k);
        now = registry_pick_sticky_locked(r, "python", key, -1);
        assert_true(now != 1);
        if (home[k] != 1)
            assert_int_equal(now, home[k]);
        else
            moved++;
        if (home[k] != 1 && k < 8) /* the retry after a failure: the next one, never the same */
            assert_true(registry_pick_sticky_locked(r, "python", key, home[k]) != home[k]);
    }
    assert_int_equal(moved, used[1]);
    r->agents[1].state = AGENT_UP;
    for (int k = 0; k < 64; k++) {
        snprintf(key, sizeof(key), "ws-%d", k);
        assert_int_equal(registry_pick_sticky_locked(r, "python", key, -1), home[k]);
    }
    assert_int_equal(registry_pick_sticky_locked(r, "javascript", "ws-0", -1), -1);
    registry_free(r);
}

static void test_add_merges_url(void **state)
{
    struct registry *r = registry_new();
    struct agent_spec a, b, spawn = {.n_langs = 1};

    (void)state;
    assert_int_equal(registry_parse_spec("python=http://h:1", &a, NULL), 0);
    assert_int_equal(registry_parse_spec("js=http://h:1", &b, NULL), 0);
    assert_int_equal(registry_add(r, &a, false, NULL), 0);
    assert_int_equal(registry_add(r, &b, false, NULL), 0);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->agents[0].n_langs, 2);
    assert_true(r->agents[0].langs_fixed);
    assert_int_equal(r->agents[0].state, AGENT_UNKNOWN);
    strcpy(spawn.langs[0], "python");
    assert_int_equal(registry_add(r, &spawn, true, NULL), 1);
    assert_int_equal(registry_add(r, &spawn, true, NULL), 2);
    assert_int_equal(r->agents[1].state, AGENT_STARTING);
    assert_string_equal(r->agents[1].url, "");
    assert_false(r->agents[1].langs_fixed);
    registry_free(r);
}

static void test_avail(void **state)
{
    struct registry *r = test_reg(2);
    struct agent_spec bare, spawn = {.n_langs = 1};
    struct registry_health py = {.ok = true, .n_langs = 1, .langs = {"python"}};

    (void)state;
    assert_int_equal(registry_avail_locked(r, "python"), REGISTRY_LANG_UP);
    assert_int_equal(registry_avail_locked(r, "cobol"), REGISTRY_LANG_UNKNOWN);
    r->agents[0].state = AGENT_DOWN;
    r->agents[1].state = AGENT_DOWN;
    assert_int_equal(registry_avail_locked(r, "python"), REGISTRY_LANG_DOWN);
    r->agents[1].state = AGENT_UNKNOWN;
    assert_int_equal(registry_avail_locked(r, "python"), REGISTRY_LANG_COMING);
    r->agents[1].state = AGENT_DOWN;
    /* A spawned agent that is down will be restarted: worth waiting for. */
    strcpy(spawn.langs[0], "python");
    assert_int_equal(registry_add(r, &spawn, true, NULL), 2);
    r->agents[2].state = AGENT_DOWN;
    assert_int_equal(registry_avail_locked(r, "python"), REGISTRY_LANG_COMING);
    /* Until it has reported its runtimes it may serve any language (issue 13 item 9). */
    assert_int_equal(registry_avail_locked(r, "javascript"), REGISTRY_LANG_COMING);
    registry_apply_health_locked(&r->agents[2], &py);
    assert_int_equal(registry_avail_locked(r, "javascript"), REGISTRY_LANG_UNKNOWN);
    /* A bare URL not yet checked may serve any language. */
    assert_int_equal(registry_parse_spec("http://bare:1", &bare, NULL), 0);
    assert_int_equal(registry_add(r, &bare, false, NULL), 3);
    assert_int_equal(registry_avail_locked(r, "cobol"), REGISTRY_LANG_COMING);
    r->agents[3].checked = true;
    r->agents[3].state = AGENT_DOWN;
    assert_int_equal(registry_avail_locked(r, "cobol"), REGISTRY_LANG_DOWN);
    /* Once it reports its languages, the others are unknown again. */
    r->agents[3].state = AGENT_UP;
    registry_apply_health_locked(&r->agents[3], &py);
    assert_int_equal(registry_avail_locked(r, "cobol"), REGISTRY_LANG_UNKNOWN);
    registry_free(r);
}

static void test_parse_health(void **state)
{
    static const char ok[] =
        "{\"status\":\"ok\",\"zygote\":{\"state\":\"ready\"},\"languages\":[\"python\",\"py\","
        "\"node\",7,\"bad lang\"]}";
    static const char degraded[] =
        "{\"status\":\"degraded\",\"zygote\":{\"state\":\"restarting\"},\"languages\":[]}";
    struct registry_health h;

    (void)state;
    registry_parse_health(200, ok, sizeof(ok) - 1, &h);
    assert_true(h.ok);
    assert_int_equal(h.n_langs, 2);
    assert_string_equal(h.langs[0], "python");
    assert_string_equal(h.langs[1], "javascript");
    registry_parse_health(200, degraded, sizeof(degraded) - 1, &h);
    assert_false(h.ok);
    assert_non_null(strstr(h.reason, "degraded"));
    assert_non_null(strstr(h.reason, "restarting"));
    registry_parse_health(503, ok, sizeof(ok) - 1, &h);
    assert_false(h.ok);
    assert_non_null(strstr(h.reason, "503"));
    registry_parse_health(200, "<html>", 6, &h);
    assert_false(h.ok);
    registry_parse_health(200, "{}", 2, &h);
    assert_false(h.ok);
}

/* A restart behind the same URL shows in /health: a later start, a new zygote. */
static void test_ident(void **state)
{
    static const char first[] = "{\"status\":\"ok\",\"uptime_s\":10.0,"
                                "\"zygote\":{\"state\":\"ready\",\"pid\":100,\"restarts\":0}}";
    static const char zyg_new[] = "{\"status\":\"ok\",\"uptime_s\":30.0,"
                                  "\"zygote\":{\"state\":\"ready\",\"pid\":200,\"restarts\":1}}";
    static const char zyg_down[] = "{\"status\":\"degraded\",\"uptime_s\":31.0,"
                                   "\"zygote\":{\"state\":\"restarting\",\"pid\":0,"
                                   "\"restarts\":1}}";
    static const char agent_new[] = "{\"status\":\"ok\",\"uptime_s\":1.0,"
                                    "\"zygote\":{\"state\":\"ready\",\"pid\":200,\"restarts\":1}}";
    const int64_t s = 1000000000LL;
    struct registry_health h;
    struct agent a;

    (void)state;
    memset(&a, 0, sizeof(a));
    registry_parse_health(200, first, sizeof(first) - 1, &h);
    assert_true(h.has_ident);
    assert_int_equal(h.zygote_pid, 100);
    assert_false(registry_note_ident_locked(&a, &h, 100 * s)); /* the first sighting */
    /* The same process 20 s later, with a little jitter in its uptime: no change. */
    registry_parse_health(200, first, sizeof(first) - 1, &h);
    h.uptime_s = 29.5;
    assert_false(registry_note_ident_locked(&a, &h, 120 * s));
    assert_int_equal(a.epoch, 0);
    /* A new zygote (pid and count changed). */
    registry_parse_health(200, zyg_new, sizeof(zyg_new) - 1, &h);
    assert_true(registry_note_ident_locked(&a, &h, 120 * s));
    assert_int_equal(a.epoch, 1);
    /* A zygote being restarted reports pid 0: nothing to compare until the next one. */
    registry_parse_health(200, zyg_down, sizeof(zyg_down) - 1, &h);
    assert_true(h.has_ident);
    assert_false(registry_note_ident_locked(&a, &h, 121 * s));
    /* The agent process restarted: it started 120 s after the first one did. */
    registry_parse_health(200, agent_new, sizeof(agent_new) - 1, &h);
    assert_true(registry_note_ident_locked(&a, &h, 211 * s));
    assert_int_equal(a.epoch, 2);
    /* Another restart seen while its zygote is still starting (pid 0), then its zygote up: one
     * restart, not two (a session made in between stays valid). */
    h.has_ident = true;
    h.uptime_s = 1;
    h.zygote_pid = 0;
    h.zygote_restarts = 0;
    assert_true(registry_note_ident_locked(&a, &h, 300 * s));
    assert_int_equal(a.epoch, 3);
    h.uptime_s = 3;
    h.zygote_pid = 777;
    assert_false(registry_note_ident_locked(&a, &h, 302 * s));
    assert_int_equal(a.epoch, 3);
    /* No identity in the answer (an older agent): nothing concluded. */
    registry_parse_health(200, "{\"status\":\"ok\"}", 15, &h);
    assert_false(h.has_ident);
    assert_false(registry_note_ident_locked(&a, &h, 400 * s));
    assert_int_equal(a.epoch, 3);
}

static void test_json_views(void **state)
{
    struct registry *r = test_reg(2);
    json_t *agents, *langs;
    int up, total;

    (void)state;
    r->agents[1].state = AGENT_DOWN;
    strcpy(r->agents[1].last_error, "boom");
    agents = registry_agents_json(r, 0);
    assert_int_equal(json_array_size(agents), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(agents, 1), "state")),
                        "down");
    assert_string_equal(json_string_value(json_object_get(json_array_get(agents, 1), "last_error")),
                        "boom");
    langs = registry_languages_json(r);
    assert_int_equal(json_array_size(langs), 1);
    registry_counts(r, &up, &total);
    assert_int_equal(up, 1);
    assert_int_equal(total, 2);
    json_decref(agents);
    json_decref(langs);
    registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_spec),        cmocka_unit_test(test_pick_least_loaded),
        cmocka_unit_test(test_pick_rotates_ties), cmocka_unit_test(test_pick_sticky),
        cmocka_unit_test(test_add_merges_url),    cmocka_unit_test(test_avail),
        cmocka_unit_test(test_parse_health),      cmocka_unit_test(test_ident),
        cmocka_unit_test(test_json_views),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
