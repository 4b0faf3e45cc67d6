/* test_lang.c - the language table both daemons share (common/lang.c): every name and alias
 * resolves to its canonical name in any case, bad names fail with their messages, and every
 * runtime of the agent's table (sandbox/runtime.c) has a row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/lang.c"
#include "../../sandbox/runtime.c"

#define LANG_GROUPS (sizeof(lang_groups) / sizeof(lang_groups[0]))

/* s with its ASCII letters upper-cased (or mixed: every other letter), into out. */
static void test_case_of(const char *s, char *out, size_t size, bool mixed)
{
    size_t i;

    for (i = 0; s[i] && i + 1 < size; i++)
        out[i] = (!mixed || i % 2 == 0) && s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 32) : s[i];
    out[i] = '\0';
}

static void check_canon(const char *name, const char *want)
{
    char out[LANG_NAME_MAX];
    struct err e = {0};

    if (lang_canon(name, strlen(name), out, &e) != 0)
        fail_msg("'%s': %s", name, e.msg);
    if (strcmp(out, want) != 0)
        fail_msg("'%s' -> '%s', want '%s'", name, out, want);
    if (strcmp(lang_lookup(name, strlen(name)) ?: "(null)", want) != 0)
        fail_msg("lang_lookup('%s') is not '%s'", name, want);
    if (lang_aliases(name, strlen(name))[0] != lang_lookup(name, strlen(name)))
        fail_msg("lang_aliases('%s') does not start with its canonical name", name);
}

static void test_every_alias_resolves(void **state)
{
    char up[LANG_NAME_MAX], mixed[LANG_NAME_MAX];
    size_t names = 0;

    (void)state;
    for (size_t g = 0; g < LANG_GROUPS; g++) {
        for (size_t k = 0; lang_groups[g][k]; k++) {
            test_case_of(lang_groups[g][k], up, sizeof(up), false);
            test_case_of(lang_groups[g][k], mixed, sizeof(mixed), true);
            check_canon(lang_groups[g][k], lang_groups[g][0]);
            check_canon(up, lang_groups[g][0]);
            check_canon(mixed, lang_groups[g][0]);
            names++;
        }
        /* A row is NULL-terminated inside its fixed width. */
        assert_null(lang_groups[g][sizeof(lang_groups[g]) / sizeof(lang_groups[g][0]) - 1]);
    }
    assert_true(names > LANG_GROUPS);
}

/* No name belongs to two groups (the first would silently win). */
static void test_names_are_unique(void **state)
{
    (void)state;
    for (size_t g = 0; g < LANG_GROUPS; g++) {
        for (size_t k = 0; lang_groups[g][k]; k++) {
            const char *n = lang_groups[g][k];

            if (lang_aliases(n, strlen(n)) != lang_groups[g])
                fail_msg("'%s' is in two groups", n);
        }
    }
}

static void test_known_pairs(void **state)
{
    static const char *const ok[][2] = {
        {"python", "python"},   {"Python3", "python"}, {"py", "python"},  {"PY3", "python"},
        {"node", "javascript"}, {"JS", "javascript"},  {"c#", "csharp"},  {"C++", "cpp"},
        {"sh", "sh"},           {"dash", "sh"},        {"shell", "bash"}, {"Golang", "go"},
        {"SQLite3", "sql"},     {"RScript", "r"},      {"lua5.4", "lua"}};

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        check_canon(ok[i][0], ok[i][1]);
}

/* A well-formed name the table does not know passes through lower-cased (an agent may serve
 * it), lang_lookup and lang_aliases do not know it. */
static void test_unknown_names(void **state)
{
    char out[LANG_NAME_MAX];

    (void)state;
    assert_int_equal(lang_canon("Brainf_ck-2.0", 13, out, NULL), 0);
    assert_string_equal(out, "brainf_ck-2.0");
    assert_null(lang_lookup("cobol", 5));
    assert_null(lang_aliases("cobol", 5));
    assert_null(lang_lookup("pytho", 5));
    assert_null(lang_lookup("python", 5)); /* a prefix is not the name */
    assert_null(lang_lookup(NULL, 0));
    assert_null(lang_lookup("", 0));
    assert_int_equal(lang_canon("abcdefghijklmnopqrstuvwxyz01234", 31, out, NULL), 0);
}

static void test_bad_names(void **state)
{
    static const struct {
        const char *name;
        size_t len;
        const char *msg;
    } bad[] = {
        {"", 0, "field 'language' must not be empty"},
        {NULL, 0, "field 'language' must not be empty"},
        {"abcdefghijklmnopqrstuvwxyz012345", 32, "field 'language' is longer than 31 characters"},
        {"py thon", 7, "field 'language' holds a character outside [A-Za-z0-9+#._-]"},
        {"p\xc3\xa9", 3, "field 'language' holds a character outside [A-Za-z0-9+#._-]"},
        {"a/b", 3, "field 'language' holds a character outside [A-Za-z0-9+#._-]"},
        {"x\n", 2, "field 'language' holds a character outside [A-Za-z0-9+#._-]"},
        {"py\0x", 4, "field 'language' holds a character outside [A-Za-z0-9+#._-]"},
    };
    char out[LANG_NAME_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct err e = {0};

        assert_int_equal(lang_canon(bad[i].name, bad[i].len, out, &e), -ERR_INVALID);
        assert_int_equal(e.code, ERR_INVALID);
        assert_string_equal(e.field, "language");
        assert_string_equal(e.msg, bad[i].msg);
    }
}

/* Every runtime the agent can run is keyed by a canonical name of the table: one added without
 * a row here could never be asked for. */
static void test_every_runtime_has_a_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < RT_COUNT; i++) {
        const char *name = runtime_table[i].name;
        const char *canon = lang_lookup(name, strlen(name));

        if (!canon || strcmp(canon, name) != 0)
            fail_msg("runtime '%s' has no row of its own in common/lang.c", name);
        if (runtime_table_find(name) != &runtime_table[i])
            fail_msg("runtime '%s' is not found by its name", name);
    }
}

/* Every alias of a runtime's row finds that runtime. */
static void test_runtime_aliases_from_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < RT_COUNT; i++) {
        const char *const *group =
            lang_aliases(runtime_table[i].name, strlen(runtime_table[i].name));

        for (size_t k = 0; group && group[k]; k++) {
            if (runtime_table_find(group[k]) != &runtime_table[i])
                fail_msg("alias '%s' does not find runtime '%s'", group[k], runtime_table[i].name);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_alias_resolves),
        cmocka_unit_test(test_names_are_unique),
        cmocka_unit_test(test_known_pairs),
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_every_runtime_has_a_row),
        cmocka_unit_test(test_runtime_aliases_from_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
