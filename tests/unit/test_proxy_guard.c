/* test_proxy_guard.c - where the shaping proxy may connect: the allow-list's matching and
 * validation, the special address ranges a wildcard never reaches (issue 17 item 2), and the
 * guard over the proxy's own host and the protected services. Table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../netshape/toxics.c"
#include "../../netshape/proxy_resolver.c"
#include "../../netshape/proxy_engine.c"
#include "../../netshape/proxy_listen.c"
#include "../../netshape/proxy_conn.c"
#include "../../netshape/proxy_http.c"
#include "../../netshape/proxy_relay.c"
#include "../../netshape/proxy.c"
#include "../../netshape/proxy_guard.c"

/* -- allow-list ----------------------------------------------------------------------------- */

static void test_allow_match_table(void **state)
{
    static const struct {
        const char *entry, *host;
        int port;
        enum toxics_allow want;
    } cases[] = {
        {"example.com", "example.com", 80, TOXICS_ALLOW_EXACT},
        {"example.com", "EXAMPLE.com", 443, TOXICS_ALLOW_EXACT},
        {"Example.COM", "example.com.", 443, TOXICS_ALLOW_EXACT},
        {"example.com.", "example.com", 1, TOXICS_ALLOW_EXACT},
        {"example.com", "www.example.com", 80, TOXICS_DENY},
        {"example.com", "example.com.evil", 80, TOXICS_DENY},
        {"example.com", "xexample.com", 80, TOXICS_DENY},
        {"example.com:443", "example.com", 443, TOXICS_ALLOW_EXACT},
        {"example.com:443", "example.com", 80, TOXICS_DENY},
        {"*.example.com", "www.example.com", 80, TOXICS_ALLOW_WILDCARD},
        {"*.example.com", "a.b.example.com", 8080, TOXICS_ALLOW_WILDCARD},
        {"*.example.com", "example.com", 80, TOXICS_DENY},
        {"*.example.com", "badexample.com", 80, TOXICS_DENY},
        {"*.example.com", "www.example.com.", 80, TOXICS_ALLOW_WILDCARD},
        {"*.example.com:443", "www.example.com", 443, TOXICS_ALLOW_WILDCARD},
        {"*.example.com:443", "www.example.com", 80, TOXICS_DENY},
        {"*", "anything.at.all", 1, TOXICS_ALLOW_WILDCARD},
        {"*", "10.0.0.1", 22, TOXICS_ALLOW_WILDCARD},
        {"*:443", "x.y", 443, TOXICS_ALLOW_WILDCARD},
        {"*:443", "x.y", 80, TOXICS_DENY},
        {"127.0.0.1", "127.0.0.1", 9000, TOXICS_ALLOW_EXACT},
        {"127.0.0.1:9000", "127.0.0.1", 9001, TOXICS_DENY},
        {"[::1]:80", "::1", 80, TOXICS_ALLOW_EXACT},
        {"[::1]:80", "0:0::1", 80, TOXICS_ALLOW_EXACT},
        {"[::1]:80", "::1", 81, TOXICS_DENY},
        {"::1", "::1", 5, TOXICS_ALLOW_EXACT},
        {"2001:DB8::1", "2001:db8:0::1", 5, TOXICS_ALLOW_EXACT},
        {"::1", "::2", 5, TOXICS_DENY},
        {"", "example.com", 80, TOXICS_DENY},
        {"*.", "example.com", 80, TOXICS_DENY},
        {"**", "example.com", 80, TOXICS_DENY},
        {"exa*.com", "example.com", 80, TOXICS_DENY},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum toxics_allow got = toxics_allow_match(cases[i].entry, cases[i].host, cases[i].port);

        if (got != cases[i].want)
            fail_msg("case %zu: '%s' vs %s:%d gave %d, want %d", i, cases[i].entry, cases[i].host,
                     cases[i].port, got, cases[i].want);
    }
}

static void test_allow_valid(void **state)
{
    static const char *const good[] = {
        "example.com", "example.com:443", "*.example.com", "*.example.com:8443", "*",
        "*:80",        "1.2.3.4",         "[::1]",         "[::1]:80",           "::1",
        "fe80::1:2",   "a_b.local"};
    static const char *const bad[] = {"",
                                      "*.",
                                      "*x",
                                      "**",
                                      "*.[::1]",
                                      "example.com:",
                                      "example.com:0",
                                      "example.com:99999",
                                      "exa mple.com",
                                      "[::1",
                                      "[nothex]:80",
                                      "a:b:c",
                                      "http://example.com",
                                      "example.com/path",
                                      "x:80:90"};
    char longest[TOXICS_ENTRY_MAX + 4];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!toxics_allow_is_valid(good[i]))
            fail_msg("'%s' refused", good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (toxics_allow_is_valid(bad[i]))
            fail_msg("'%s' accepted", bad[i]);
    }
    memset(longest, 'a', sizeof(longest));
    longest[sizeof(longest) - 1] = '\0';
    assert_false(toxics_allow_is_valid(longest));
}

static void test_addr_internal(void **state)
{
    static const struct {
        const char *addr;
        bool internal;
    } cases[] = {
        {"127.0.0.1", true},
        {"127.255.0.9", true},
        {"0.0.0.0", true},
        {"169.254.169.254", true},
        {"224.0.0.1", true},
        {"255.255.255.255", true},
        {"8.8.8.8", false},
        {"1.1.1.1", false},
        {"9.255.255.255", false},
        {"10.0.0.0", true},
        {"10.1.2.3", true},
        {"10.255.255.255", true},
        {"11.0.0.0", false},
        {"100.63.255.255", false},
        {"100.64.0.1", true},
        {"100.127.255.255", true},
        {"100.128.0.0", false},
        {"172.15.255.255", false},
        {"172.16.0.1", true},
        {"172.31.255.255", true},
        {"172.32.0.0", false},
        {"192.0.0.8", true},
        {"192.0.2.1", true},
        {"192.88.99.1", true},
        {"192.167.255.255", false},
        {"192.168.1.1", true},
        {"192.169.0.0", false},
        {"198.17.255.255", false},
        {"198.18.0.1", true},
        {"198.19.255.255", true},
        {"198.20.0.0", false},
        {"198.51.100.7", true},
        {"203.0.113.9", true},
        {"239.255.255.250", true},
        {"240.0.0.1", true},
        {"223.255.255.255", false},
        {"::1", true},
        {"::", true},
        {"::0.0.0.2", true},
        {"100::1", true},
        {"fe80::1", true},
        {"febf::1", true},
        {"fec0::1", true},
        {"fc00::1", true},
        {"fd12:3456::1", true},
        {"fe00::1", false},
        {"ff02::1", true},
        {"2001:db8::1", true},
        {"2001::1", true},
        {"2001:1ff::1", true},
        {"2001:200::1", false},
        {"3fff::1", true},
        {"::ffff:127.0.0.1", true},
        {"::ffff:10.0.0.1", true},
        {"::ffff:100.64.0.1", true},
        {"::ffff:0.0.0.0", true},
        {"::ffff:8.8.8.8", false},
        {"64:ff9b::a00:1", true},
        {"64:ff9b::808:808", false},
        {"64:ff9b:1::1", true},
        {"2002:c0a8:101::1", true},
        {"2002:808:808::1", false},
        {"2001:4860::8888", false},
        {"2606:4700::1111", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss = {0};

        if (strchr(cases[i].addr, ':')) {
            ss.ss_family = AF_INET6;
            assert_int_equal(
                inet_pton(AF_INET6, cases[i].addr, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
        } else {
            ss.ss_family = AF_INET;
            assert_int_equal(
                inet_pton(AF_INET, cases[i].addr, &((struct sockaddr_in *)&ss)->sin_addr), 1);
        }
        if (toxics_addr_is_internal((struct sockaddr *)&ss) != cases[i].internal)
            fail_msg("%s: want internal=%d", cases[i].addr, cases[i].internal);
    }
}

static void test_guard(void **state)
{
    struct proxy_guard g = {0};
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct err e = {0};

    (void)state;
    assert_int_equal(proxy_guard_add(&g, "8.8.8.8:53,Orch.Example:6000,,[2606:4700::1]", "x", &e),
                     0);
    assert_int_equal(g.n_names, 3);
    assert_true(proxy_guard_name(&g, "orch.example", 6000));
    assert_true(proxy_guard_name(&g, "ORCH.example.", 6000));
    assert_false(proxy_guard_name(&g, "orch.example", 6001));
    assert_true(proxy_guard_name(&g, "2606:4700::1", 443));
    inet_pton(AF_INET, "8.8.8.8", &a.sin_addr);
    a.sin_port = htons(53);
    assert_non_null(proxy_guard_addr_why(&g, (struct sockaddr *)&a));
    a.sin_port = htons(80);
    assert_null(proxy_guard_addr_why(&g, (struct sockaddr *)&a)); /* not ours, not local */
    inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
    assert_string_equal(proxy_guard_addr_why(&g, (struct sockaddr *)&a), "private (10/8)");
    assert_int_equal(proxy_guard_add(&g, "bad host", "protect", &e), -EINVAL);
    assert_string_equal(e.field, "protect");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allow_match_table),
        cmocka_unit_test(test_allow_valid),
        cmocka_unit_test(test_addr_internal),
        cmocka_unit_test(test_guard),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
