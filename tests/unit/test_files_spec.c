/* test_files_spec.c - "files" and "collect" of a request: every refused entry kind names its
 * field; base64 both ways; SHA-256 vectors; glob matching with '*', '?' and "**". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/b64.c"
#include "../../common/files_spec.c"
#include "../../common/sha256.c"

/* Parses text; returns the result and leaves the field of a refusal in e. */
static int parse(const char *text, struct files_spec *s, struct err *e)
{
    json_error_t je;
    json_t *root = json_loads(text, JSON_ALLOW_NUL, &je);
    int r;

    assert_non_null(root);
    memset(e, 0, sizeof(*e));
    r = files_spec_parse(root, s, e);
    if (r == 0) {
        /* The entries borrow root: check what the tests need, then let go. */
        for (size_t i = 0; i < s->n_files; i++)
            assert_true(s->files[i].len <= FILES_SPEC_MAX_FILE);
    }
    json_decref(root);
    return r;
}

static void refused(const char *text, const char *field)
{
    struct files_spec s;
    struct err e;

    assert_int_equal(parse(text, &s, &e), -ERR_INVALID);
    assert_string_equal(e.field, field);
    assert_int_equal(e.code, ERR_INVALID);
}

static void test_ok(void **state)
{
    json_error_t je;
    json_t *root = json_loads("{\"files\": [{\"path\": \"a.txt\", \"content\": \"hi\"},"
                              "{\"path\": \"d/b.bin\", \"content\": \"AAEC/w==\", \"encoding\": "
                              "\"base64\"}], \"collect\": [\"*.csv\", \"out/**\"]}",
                              0, &je);
    struct files_spec s;
    struct err e = {0};

    (void)state;
    assert_int_equal(files_spec_parse(root, &s, &e), 0);
    assert_true(s.present);
    assert_int_equal(s.n_files, 2);
    assert_string_equal(s.files[0].path, "a.txt");
    assert_int_equal(s.files[0].len, 2);
    assert_memory_equal(s.files[0].data, "hi", 2);
    assert_int_equal(s.files[1].len, 4);
    assert_memory_equal(s.files[1].data, "\x00\x01\x02\xff", 4);
    assert_int_equal(s.total, 6);
    assert_int_equal(s.n_collect, 2);
    assert_string_equal(s.collect[1], "out/**");
    files_spec_done(&s);
    json_decref(root);
    /* Absent and null are nothing. */
    assert_int_equal(parse("{\"files\": null}", &s, &e), 0);
    assert_false(s.present);
    files_spec_done(&s);
    assert_int_equal(parse("{}", &s, &e), 0);
    files_spec_done(&s);
}

static void test_refused(void **state)
{
    char *big, *many;
    size_t n = 0;

    (void)state;
    refused("{\"files\": {}}", "files");
    refused("{\"files\": [1]}", "files[0]");
    refused("{\"files\": [{\"path\": \"/etc/passwd\", \"content\": \"\"}]}", "files[0].path");
    refused("{\"files\": [{\"path\": \"ok\", \"content\": \"\"}, {\"path\": \"../x\", \"content\": "
            "\"\"}]}",
            "files[1].path");
    refused("{\"files\": [{\"path\": \"a/../b\", \"content\": \"\"}]}", "files[0].path");
    refused("{\"files\": [{\"path\": \"a//b\", \"content\": \"\"}]}", "files[0].path");
    refused("{\"files\": [{\"path\": \"a/./b\", \"content\": \"\"}]}", "files[0].path");
    refused("{\"files\": [{\"path\": \"\", \"content\": \"\"}]}", "files[0].path");
    refused("{\"files\": [{\"path\": \"a\\u0000b\", \"content\": \"\"}]}", "files[0].path");
    refused("{\"files\": [{\"path\": \"a\\nb\", \"content\": \"\"}]}", "files[0].path");
    refused("{\"files\": [{\"path\": 3, \"content\": \"\"}]}", "files[0].path");
    refused("{\"files\": [{\"content\": \"\"}]}", "files[0].path");
    refused("{\"files\": [{\"path\": \"a\"}]}", "files[0].content");
    refused("{\"files\": [{\"path\": \"a\", \"content\": 5}]}", "files[0].content");
    refused("{\"files\": [{\"path\": \"a\", \"content\": \"@@@@\", \"encoding\": \"base64\"}]}",
            "files[0].content");
    refused("{\"files\": [{\"path\": \"a\", \"content\": \"QQ=\", \"encoding\": \"base64\"}]}",
            "files[0].content");
    refused("{\"files\": [{\"path\": \"a\", \"content\": \"QR==\", \"encoding\": \"base64\"}]}",
            "files[0].content");
    refused("{\"files\": [{\"path\": \"a\", \"content\": \"\", \"encoding\": \"latin-1\"}]}",
            "files[0].encoding");
    refused("{\"files\": [{\"path\": \"a\", \"content\": \"\", \"encoding\": 1}]}",
            "files[0].encoding");
    refused("{\"files\": [{\"path\": \"a\", \"content\": \"\"}, {\"path\": \"b\", \"content\": "
            "\"\"}, {\"path\": \"a\", \"content\": \"x\"}]}",
            "files[2].path");
    refused("{\"collect\": \"*.csv\"}", "collect");
    refused("{\"collect\": [\"ok\", \"/abs/*\"]}", "collect[1]");
    refused("{\"collect\": [\"../*\"]}", "collect[0]");
    refused("{\"collect\": [7]}", "collect[0]");
    refused("{\"collect\": [\"\"]}", "collect[0]");

    /* Too many entries. */
    many = malloc(64 * (FILES_SPEC_MAX_ENTRIES + 2));
    assert_non_null(many);
    n += (size_t)sprintf(many, "{\"files\": [");
    for (int i = 0; i <= FILES_SPEC_MAX_ENTRIES; i++)
        n += (size_t)sprintf(many + n, "%s{\"path\": \"f%d\", \"content\": \"\"}", i ? "," : "", i);
    sprintf(many + n, "]}");
    refused(many, "files");
    free(many);
    /* One entry over its cap; then two under it but over the total. */
    big = malloc(FILES_SPEC_MAX_FILE + 256);
    assert_non_null(big);
    n = (size_t)sprintf(big, "{\"files\": [{\"path\": \"big\", \"content\": \"");
    memset(big + n, 'x', FILES_SPEC_MAX_FILE + 1);
    sprintf(big + n + FILES_SPEC_MAX_FILE + 1, "\"}]}");
    refused(big, "files[0].content");
    free(big);
    big = malloc(3 * (FILES_SPEC_MAX_TOTAL / 2) + 256);
    assert_non_null(big);
    n = (size_t)sprintf(big, "{\"files\": [");
    for (int i = 0; i < 3; i++) {
        n += (size_t)sprintf(big + n, "%s{\"path\": \"p%d\", \"content\": \"", i ? "," : "", i);
        memset(big + n, 'y', FILES_SPEC_MAX_TOTAL / 2 - 8);
        n += FILES_SPEC_MAX_TOTAL / 2 - 8;
        n += (size_t)sprintf(big + n, "\"}");
    }
    sprintf(big + n, "]}");
    refused(big, "files[2].content");
    free(big);
}

static void test_b64(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[32];
    unsigned char dec[32];

    (void)state;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        assert_int_equal(b64_encode(plain[i], strlen(plain[i]), out), strlen(enc[i]));
        assert_string_equal(out, enc[i]);
        assert_int_equal(b64_decode(enc[i], strlen(enc[i]), dec), strlen(plain[i]));
        assert_memory_equal(dec, plain[i], strlen(plain[i]));
    }
    assert_int_equal(b64_decode("Zm9vYg", 6, dec), 4); /* padding left out */
    assert_int_equal(b64_decode("Zm9v\n", 5, dec), -1);
    assert_int_equal(b64_decode("Z", 1, dec), -1);
    assert_int_equal(b64_decode("Zm=v", 4, dec), -1);
    assert_int_equal(b64_decode("Zm9v-_==", 8, dec), -1);
}

static void test_sha256(void **state)
{
    struct sha256 s;
    char hex[SHA256_HEX_LEN];
    static char million[1000000];

    (void)state;
    sha256_init(&s);
    sha256_hex(&s, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_init(&s);
    sha256_update(&s, "abc", 3);
    sha256_hex(&s, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_init(&s);
    sha256_update(&s, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
    sha256_hex(&s, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* A million 'a' in uneven pieces (the block boundary handling). */
    memset(million, 'a', sizeof(million));
    sha256_init(&s);
    for (size_t off = 0, step = 1; off < sizeof(million); off += step, step = step * 3 % 1000 + 1)
        sha256_update(&s, million + off,
                      off + step > sizeof(million) ? sizeof(million) - off : step);
    sha256_hex(&s, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_glob(void **state)
{
    static const struct {
        const char *pat, *path;
        bool match;
    } cases[] = {
        {"*.csv", "a.csv", true},         {"*.csv", "d/a.csv", false},
        {"*.csv", ".csv", true},          {"*.csv", "a.csvx", false},
        {"out/**", "out/a", true},        {"out/**", "out/a/b/c.txt", true},
        {"out/**", "outx/a", false},      {"out/**", "a/out/b", false},
        {"**/*.csv", "a.csv", true},      {"**/*.csv", "x/y/z.csv", true},
        {"**/*.csv", "x/y/z.txt", false}, {"**", "anything/at/all", true},
        {"a/**/b", "a/b", true},          {"a/**/b", "a/x/y/b", true},
        {"a/**/b", "a/x/y/c", false},     {"a/**/b/*.txt", "a/b/b/q.txt", true},
        {"?.txt", "a.txt", true},         {"?.txt", "ab.txt", false},
        {"d?r/*", "dir/f", true},         {"a*b*c", "aXbYc", true},
        {"a*b*c", "aXbY", false},         {"*", "a/b", false},
        {"a**b", "aXXb", true},           {"a**b", "a/b", false},
        {"exact.txt", "exact.txt", true}, {"exact.txt", "exact.tx", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (files_spec_glob(cases[i].pat, cases[i].path) != cases[i].match)
            fail_msg("'%s' vs '%s' should be %d", cases[i].pat, cases[i].path, cases[i].match);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),     cmocka_unit_test(test_refused), cmocka_unit_test(test_b64),
        cmocka_unit_test(test_sha256), cmocka_unit_test(test_glob),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
