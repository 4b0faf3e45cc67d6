/* test_keys.c - the orchestrator's API keys: lists and files parsed (every refused line named),
 * only digests kept, a key matched exactly, the token bucket's refusals and refill, and the
 * concurrency count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../orchestrator/keys.c"

static void test_keys_list(void **state)
{
    static struct keys k;
    char big[KEYS_KEY_MAX + 2], many[KEYS_MAX * 3 + 8] = "";
    struct err e = {0};

    (void)state;
    keys_init(&k);
    assert_int_equal(keys_add_list(&k, "", &e), 0);
    assert_int_equal(keys_add_list(&k, NULL, &e), 0);
    assert_int_equal(keys_add_list(&k, " , ,", &e), 0);
    assert_int_equal(k.n, 0);
    assert_int_equal(keys_which(&k, "anything"), -1);

    assert_int_equal(keys_add_list(&k, "alpha, beta-2 ,,gamma", &e), 0);
    assert_int_equal(k.n, 3);
    assert_int_equal(keys_which(&k, "alpha"), 0);
    assert_int_equal(keys_which(&k, "beta-2"), 1);
    assert_int_equal(keys_which(&k, "gamma"), 2);
    assert_string_equal(k.e[1].name, "key2");
    assert_int_equal(keys_which(&k, NULL), -1);
    assert_int_equal(keys_which(&k, ""), -1);
    assert_int_equal(keys_which(&k, "alph"), -1);
    assert_int_equal(keys_which(&k, "alphaa"), -1);
    assert_int_equal(keys_which(&k, "Alpha"), -1);
    assert_int_equal(keys_which(&k, "beta-2 "), -1);
    /* Only the digest is kept: no byte of the key's text is in the entry. */
    assert_null(memmem(&k.e[0], sizeof(k.e[0]), "alpha", 5));

    memset(big, 'k', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(keys_add_list(&k, big, &e), -ERR_INVALID);
    assert_non_null(strstr(e.msg, "longer"));
    for (int i = 0; i <= KEYS_MAX; i++)
        strcat(many, "a,");
    assert_int_equal(keys_add_list(&k, many, &e), -ERR_INVALID);
    assert_non_null(strstr(e.msg, "more than"));
    keys_done(&k);
}

static void test_keys_file_text(void **state)
{
    static struct keys k;
    struct err e = {0};
    /* A digest line holds any 64 hex digits (test_keys_sha256_line_matches_its_key checks one). */
    const char *text =
        "# tenants\n"
        "\n"
        "plain-key name=team-a rps=2 burst=3 concurrent=1 max_timeout=10 "
        "sessions=2\n"
        "sha256:"
        "b9a9e4f4b8c6b5d7a1a0b0fd6e1b47c1a1c81c3c8c1c40f2f4b5f1a3d9a0e3c1 name=hashed\r\n"
        "bare   # trailing comment\n";

    (void)state;
    keys_init(&k);
    assert_int_equal(keys_add_text(&k, text, &e), 0);
    assert_int_equal(k.n, 3);
    assert_string_equal(k.e[0].name, "team-a");
    assert_true(k.e[0].lim.rps == 2 && k.e[0].lim.burst == 3);
    assert_int_equal(k.e[0].lim.concurrent, 1);
    assert_true(k.e[0].lim.max_timeout == 10);
    assert_int_equal(k.e[0].lim.sessions, 2);
    assert_int_equal(keys_which(&k, "plain-key"), 0);
    assert_string_equal(k.e[1].name, "hashed");
    assert_int_equal(keys_which(&k, "bare"), 2);
    assert_int_equal(keys_which(&k, "# trailing comment"), -1);
    keys_done(&k);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"k rps=-1\n", "line 1"},   {"\n\nk colour=red\n", "line 3"}, {"k rps=\n", "line 1"},
        {"sha256:abc\n", "64 hex"}, {"k name=\n", "line 1"},          {"k name=a\"b\n", "line 1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        keys_init(&k);
        assert_int_equal(keys_add_text(&k, bad[i].text, &e), -ERR_INVALID);
        if (!strstr(e.msg, bad[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].want);
        assert_string_equal(e.field, "api-keys-file");
        keys_done(&k);
    }
}

static void test_keys_sha256_line_matches_its_key(void **state)
{
    static struct keys k;
    struct err e = {0};
    char line[128], hex[SHA256_HEX_LEN];
    struct sha256 h;

    (void)state;
    sha256_init(&h);
    sha256_update(&h, "s3cret", 6);
    sha256_hex(&h, hex);
    snprintf(line, sizeof(line), "sha256:%s\n", hex);
    keys_init(&k);
    assert_int_equal(keys_add_text(&k, line, &e), 0);
    assert_int_equal(keys_which(&k, "s3cret"), 0);
    assert_int_equal(keys_which(&k, "s3cre"), -1);
    keys_done(&k);
}

static void test_keys_bucket_and_concurrency(void **state)
{
    static struct keys k;
    struct err e = {0};
    double retry = 0;
    int64_t t = 1000000000;

    (void)state;
    keys_init(&k);
    assert_int_equal(
        keys_add_text(&k, "a rps=2 burst=2 concurrent=2\nfree\ntiny rps=5 burst=0.2\n", &e), 0);
    /* A bucket smaller than one request is raised to one: the key can still send. */
    assert_true(k.e[2].lim.burst == 1);
    assert_int_equal(keys_take_token(&k, 2, t, &retry), 0);
    /* A full bucket of 2, then refused with the time to the next token. */
    assert_int_equal(keys_take_token(&k, 0, t, &retry), 0);
    assert_int_equal(keys_take_token(&k, 0, t, &retry), 0);
    assert_int_equal(keys_take_token(&k, 0, t, &retry), -ERR_RATE_LIMITED);
    assert_true(retry > 0.49 && retry <= 0.5);
    /* Half a second later one token is back, and only one. */
    t += 500000000;
    assert_int_equal(keys_take_token(&k, 0, t, &retry), 0);
    assert_int_equal(keys_take_token(&k, 0, t, &retry), -ERR_RATE_LIMITED);
    /* A long pause refills to the burst, not beyond. */
    t += 60LL * 1000000000;
    for (int i = 0; i < 2; i++)
        assert_int_equal(keys_take_token(&k, 0, t, &retry), 0);
    assert_int_equal(keys_take_token(&k, 0, t, &retry), -ERR_RATE_LIMITED);
    /* No limit, no refusal; no key (-1) is never limited. */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(keys_take_token(&k, 1, t, &retry), 0);
        assert_int_equal(keys_take_token(&k, -1, t, &retry), 0);
    }
    assert_int_equal(keys_begin(&k, 0), 0);
    assert_int_equal(keys_begin(&k, 0), 0);
    assert_int_equal(keys_begin(&k, 0), -ERR_RATE_LIMITED);
    keys_end(&k, 0);
    assert_int_equal(keys_begin(&k, 0), 0);
    assert_int_equal(k.e[0].rejected, 4);
    keys_done(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_list),
        cmocka_unit_test(test_keys_file_text),
        cmocka_unit_test(test_keys_sha256_line_matches_its_key),
        cmocka_unit_test(test_keys_bucket_and_concurrency),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
