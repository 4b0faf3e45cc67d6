/* test_json_out.c - the JSON writer: shortest round-trip reals (as Python's repr), escapes,
 * key order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/json_out.c"

static const struct {
    double d;
    const char *want; /* Python 3.11's repr(d) and json.dumps(d) */
} real_cases[] = {
    {0.1, "0.1"},
    {0.2, "0.2"},
    {1.0 / 3.0, "0.3333333333333333"},
    {0.1 + 0.2, "0.30000000000000004"},
    {1e300, "1e+300"},
    {5e-324, "5e-324"},
    {1.5e-323, "1.5e-323"},
    {-0.0, "-0.0"},
    {0.0, "0.0"},
    {1.0, "1.0"},
    {100.0, "100.0"},
    {-1.5, "-1.5"},
    {1234.5678, "1234.5678"},
    {123456789012345678.0, "1.2345678901234568e+17"},
    {1e16, "1e+16"},
    {1e15, "1000000000000000.0"},
    {9007199254740993.0, "9007199254740992.0"},
    {1e-4, "0.0001"},
    {1e-5, "1e-05"},
    {0.00012345, "0.00012345"},
    {2.5e-7, "2.5e-07"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
};

static void test_json_out_real_table(void **state)
{
    char out[JSON_OUT_REAL_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(real_cases) / sizeof(real_cases[0]); i++) {
        size_t n = json_out_real(real_cases[i].d, out);

        assert_string_equal(out, real_cases[i].want);
        assert_int_equal(n, strlen(real_cases[i].want));
    }
    /* jansson refuses to hold them; the writer maps them to null should one ever reach it. */
    assert_null(json_real(NAN));
    assert_null(json_real(INFINITY));
    json_out_real(NAN, out);
    assert_string_equal(out, "null");
    json_out_real(-INFINITY, out);
    assert_string_equal(out, "null");
}

/* Every double reads back exactly, with at most 17 digits and still a real. */
static void test_json_out_real_round_trips(void **state)
{
    char out[JSON_OUT_REAL_MAX];
    uint64_t x = 0x9e3779b97f4a7c15ull;

    (void)state;
    for (int i = 0; i < 200000; i++) {
        double d;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(&d, &x, sizeof(d));
        if (!isfinite(d))
            continue;
        json_out_real(d, out);
        assert_true(strtod(out, NULL) == d);
        assert_true(strpbrk(out, ".e") != NULL);
    }
}

static void test_json_out_dumps_document(void **state)
{
    json_t *o = json_object();
    size_t len = 0;
    char *text;

    (void)state;
    json_object_set_new(o, "z", json_real(0.2));
    json_object_set_new(o, "a", json_stringn("a\0b\"\\\n\x01\xc3\xa9", 9));
    json_object_set_new(
        o, "l", json_pack("[i, I, b, b, n, f]", -3, (json_int_t)INT64_MAX, 1, 0, 1.0 / 3.0));
    json_object_set_new(o, "e", json_object());
    /* Insertion order by default, as jansson's json_dumps. */
    text = json_out_dumps(o, 0, &len);
    assert_string_equal(text, "{\"z\":0.2,\"a\":\"a\\u0000b\\\"\\\\\\n\\u0001\xc3\xa9\",\"l\":[-3,"
                              "9223372036854775807,true,false,null,0.3333333333333333],\"e\":{}}");
    assert_int_equal(len, strlen(text));
    free(text);
    text = json_out_dumps(o, JSON_OUT_SORT_KEYS, NULL);
    assert_true(strncmp(text, "{\"a\":", 5) == 0);
    assert_non_null(strstr(text, "\"e\":{},\"l\":"));
    free(text);
    json_decref(o);
    assert_null(json_out_dumps(NULL, 0, NULL));
}

/* What jansson's reader gives back is what went in, NUL and all. */
static void test_json_out_reads_back(void **state)
{
    json_t *o = json_pack("{s:s#, s:f}", "s", "x\0\x7f\t\r\b\f", (size_t)7, "r", 5e-324), *back;
    char *text;

    (void)state;
    text = json_out_dumps(o, 0, NULL);
    back = json_loads(text, JSON_ALLOW_NUL, NULL);
    assert_non_null(back);
    assert_true(json_equal(o, back));
    json_decref(back);
    json_decref(o);
    free(text);
}

/* A string built without a check (json_stringn_nocheck) may hold invalid UTF-8: it becomes
 * U+FFFD so the reply stays valid JSON. */
static void test_json_out_invalid_utf8(void **state)
{
    json_t *s = json_stringn_nocheck("a\xff"
                                     "b\xe2\x82",
                                     5);
    char *text;

    (void)state;
    text = json_out_dumps(s, 0, NULL);
    assert_string_equal(text, "\"a\xef\xbf\xbd"
                              "b\xef\xbf\xbd\xef\xbf\xbd\"");
    free(text);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_out_real_table),
        cmocka_unit_test(test_json_out_real_round_trips),
        cmocka_unit_test(test_json_out_dumps_document),
        cmocka_unit_test(test_json_out_reads_back),
        cmocka_unit_test(test_json_out_invalid_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
