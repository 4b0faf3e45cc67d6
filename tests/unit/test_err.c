/* test_err.c - the one error vocabulary: every code has a status and a distinct name, errno
 * values fold into codes, err_set fills and returns -code. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/err.c"

static void test_err_table_complete(void **state)
{
    (void)state;
    for (int c = ERR_INVALID; c < ERR_END; c++) {
        unsigned st = err_http_status(c);

        if (st < 400 || st > 599 || !err_name(c) || !*err_name(c))
            fail_msg("code %d: status %u name '%s'", c, st, err_name(c) ? err_name(c) : "(null)");
        for (int d = ERR_INVALID; d < c; d++) {
            if (!strcmp(err_name(c), err_name(d)))
                fail_msg("codes %d and %d share the name '%s'", c, d, err_name(c));
        }
        assert_int_equal(err_index(c), c - ERR_INVALID);
        assert_int_equal(err_code_of(-c), c);
    }
}

static void test_err_statuses(void **state)
{
    static const struct {
        int code;
        unsigned status;
        const char *name;
    } cases[] = {
        {ERR_INVALID, 400, "invalid_request"},     {ERR_UNAUTHORIZED, 401, "unauthorized"},
        {ERR_NOT_FOUND, 404, "not_found"},         {ERR_METHOD, 405, "method_not_allowed"},
        {ERR_CONFLICT, 409, "conflict"},           {ERR_TOO_LARGE, 413, "too_large"},
        {ERR_URI_TOO_LONG, 414, "uri_too_long"},   {ERR_BUSY, 503, "busy"},
        {ERR_ZYGOTE_DIED, 503, "zygote_died"},     {ERR_NO_AGENT, 503, "no_healthy_agent"},
        {ERR_AGENT_FAILED, 502, "agent_failed"},   {ERR_AGENT_TIMEOUT, 504, "agent_timeout"},
        {ERR_SHUTTING_DOWN, 503, "shutting_down"}, {ERR_INTERNAL, 500, "internal"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(err_http_status(cases[i].code), cases[i].status);
        assert_string_equal(err_name(cases[i].code), cases[i].name);
    }
}

static void test_err_from_errno(void **state)
{
    (void)state;
    assert_int_equal(err_code_of(-ENOMEM), ERR_BUSY);
    assert_int_equal(err_http_status(-ENOMEM), 503);
    /* A disk or syscall failure is ours, never the client's "not found" or "invalid". */
    assert_int_equal(err_code_of(-ENOENT), ERR_INTERNAL);
    assert_int_equal(err_code_of(-EINVAL), ERR_INTERNAL);
    assert_int_equal(err_code_of(-E2BIG), ERR_INTERNAL);
    assert_int_equal(err_code_of(-ESHUTDOWN), ERR_SHUTTING_DOWN);
    assert_int_equal(err_code_of(-ETIMEDOUT), ERR_AGENT_TIMEOUT);
    assert_int_equal(err_code_of(ENOMEM), ERR_BUSY);
    assert_int_equal(err_code_of(-EIO), ERR_INTERNAL);
    assert_int_equal(err_code_of(0), ERR_INTERNAL);
    assert_int_equal(err_code_of(-ERR_END), ERR_INTERNAL);
    assert_string_equal(err_name(-EIO), "internal");
}

static void test_err_set(void **state)
{
    struct err e = {0};
    char big[600];

    (void)state;
    assert_int_equal(err_set(&e, ERR_INVALID, "timeout", "bad %d", 3), -ERR_INVALID);
    assert_int_equal(e.code, ERR_INVALID);
    assert_string_equal(e.field, "timeout");
    assert_string_equal(e.msg, "bad 3");
    assert_int_equal(err_set(NULL, ERR_BUSY, NULL, "x"), -ERR_BUSY);
    assert_int_equal(err_set(&e, ERR_BUSY, NULL, "x"), -ERR_BUSY);
    assert_string_equal(e.field, "");
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    err_set(&e, ERR_INVALID, big, "%s", big);
    assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
    assert_int_equal(strlen(e.field), sizeof(e.field) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_table_complete),
        cmocka_unit_test(test_err_statuses),
        cmocka_unit_test(test_err_from_errno),
        cmocka_unit_test(test_err_set),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
