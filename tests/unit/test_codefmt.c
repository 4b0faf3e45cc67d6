/* test_codefmt.c - table-driven tests of codefmt_normalise (STYLE §13: includes the .c). */
#include <assert.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Allocation failure injection: the module's malloc calls go through this hook. */
static long test_malloc_budget = -1; /* successful mallocs left; -1 = unlimited */
static void *test_malloc_hook(size_t n);
#define malloc(n) test_malloc_hook(n)
#include "../../orchestrator/codefmt.c"
#include "../../orchestrator/codefmt_dict.c"
#undef malloc

static void *test_malloc_hook(size_t n)
{
    if (test_malloc_budget == 0)
        return NULL;
    if (test_malloc_budget > 0)
        test_malloc_budget--;
    return malloc(n);
}

struct codefmt_case {
    const char *name;
    const char *in;
    size_t in_len;
    const char *lang;
    const char *want;
    size_t want_len;
    enum codefmt_kind kind;
};

/* Cases use string literals so that sizeof gives lengths with embedded NUL bytes. */
/* clang-format off */
#define T(name, in, lang, want, kind) {name, in, sizeof(in) - 1, lang, want, sizeof(want) - 1, kind}
/* clang-format on */
#define RAW(name, in, lang) T(name, in, lang, in, CODEFMT_RAW)
#define MD                  CODEFMT_MARKDOWN
#define DICT                CODEFMT_DICT
#define MARK                CODEFMT_MARKERS

static const struct codefmt_case codefmt_cases[] = {
    /* raw */
    RAW("raw_simple", "print(1)\n", "python"),
    RAW("raw_no_newline", "x = 1", "python"),
    RAW("raw_crlf_kept", "a = 1\r\nprint(a)\r\n", "python"),
    RAW("empty", "", "python"),
    RAW("whitespace_only", " \n\t \r\n", "python"),
    RAW("nul_byte_raw", "a = 1\0b\n", "python"),
    RAW("backticks_in_strings", "print(\"```\")\nx = '```python'\ny = \"~~~\"\n", "python"),
    RAW("code_with_dict_inside", "d = {'code': 1}\nprint(d)\n", "python"),
    RAW("hash_comment_not_marker", "# START PYTHON CODE\nprint(1)\n", "python"),
    RAW("marker_needs_code_word", "### START PYTHON ###\nprint(1)\n", "python"),
    /* markdown */
    T("md_prose_around", "Here is the code:\n\n```python\nprint(1)\n```\n\nThis prints 1.\n",
      "python", "print(1)\n", MD),
    T("md_blocks_joined", "First:\n```python\na = 1\n```\nThen:\n```py\nprint(a)\n```\n", "python",
      "a = 1\nprint(a)\n", MD),
    T("md_other_languages_skipped",
      "```bash\npip install x\n```\n```python\nimport x\n```\n```text\noutput\n```\n", "python",
      "import x\n", MD),
    T("md_untagged_fallback", "Run:\n```\nprint(2)\n```\nthen\n```\nprint(3)\n```", "python",
      "print(2)\nprint(3)\n", MD),
    T("md_tagged_beats_untagged", "```\n$ python a.py\n```\n```python\nx = 1\n```\n", "python",
      "x = 1\n", MD),
    T("md_tilde", "~~~python\nprint(3)\n~~~\n", "python", "print(3)\n", MD),
    T("md_long_fence", "````python\nprint(\"```\")\n```\nstill = 1\n````\nafter\n", "python",
      "print(\"```\")\n```\nstill = 1\n", MD),
    T("md_close_longer_than_open", "```python\nx = 1\n`````\nprose\n", "python", "x = 1\n", MD),
    T("md_close_needs_same_char", "~~~python\nx = 1\n```\ny = 2\n~~~\n", "python",
      "x = 1\n```\ny = 2\n", MD),
    T("md_close_with_info_is_content", "```python\nx = 1\n```python\n```\n", "python",
      "x = 1\n```python\n", MD),
    T("md_crlf", "Text\r\n```python\r\na = 1\r\nprint(a)\r\n```\r\nbye\r\n", "python",
      "a = 1\nprint(a)\n", MD),
    T("md_indented_fence", "  ```python\n  if x:\n      y()\n  ```\n", "python", "if x:\n    y()\n",
      MD),
    T("md_indent3_close_any", "```python\nx = 1\n   ```\nz\n", "python", "x = 1\n", MD),
    RAW("md_indent4_not_fence", "    ```python\n    x = 1\n    ```\n", "python"),
    RAW("md_tab_indent_not_fence", "\t```python\nx = 1\n\t```\n", "python"),
    T("md_unclosed", "```python\nprint(1)\nprint(2)\n", "python", "print(1)\nprint(2)\n", MD),
    T("md_unclosed_no_newline", "Sure:\n```python\nprint(1)", "python", "print(1)\n", MD),
    T("md_backticks_inside_block", "```python\nprint(\"```\")\ns = '~~~'\n```\n", "python",
      "print(\"```\")\ns = '~~~'\n", MD),
    RAW("md_only_other_language", "Install it:\n```bash\nls -l\n```\n", "python"),
    T("md_javascript", "```python\nprint(1)\n```\n```js\nconsole.log(1)\n```\n", "javascript",
      "console.log(1)\n", MD),
    T("md_alias_case_insensitive", "```Python3\nx = 1\n```\n", "PY", "x = 1\n", MD),
    T("md_language_null_is_python", "```py\nx = 1\n```", NULL, "x = 1\n", MD),
    T("md_language_empty_is_python", "```sh\nls\n```\n```python\nx = 1\n```", "", "x = 1\n", MD),
    T("md_cpp_alias", "```c\nint c;\n```\n```c++\nint main() {}\n```\n", "cpp", "int main() {}\n",
      MD),
    T("md_c_not_cpp", "```c\nint c;\n```\n```c++\nint main() {}\n```\n", "c", "int c;\n", MD),
    T("md_csharp_alias", "```C#\nConsole.WriteLine(1);\n```", "csharp", "Console.WriteLine(1);\n",
      MD),
    T("md_golang_alias", "```golang\npackage main\n```", "go", "package main\n", MD),
    T("md_unknown_language_exact", "```COBOL\nDISPLAY 'X'.\n```\n", "cobol", "DISPLAY 'X'.\n", MD),
    RAW("md_inline_triple_backticks", "```print(1)```\n", "python"),
    T("md_info_attributes", "```{python}\nx = 1\n```\n```python title=\"b.py\"\ny = 2\n```\n",
      "python", "x = 1\ny = 2\n", MD),
    T("md_trailing_blank_lines", "```python\nx = 1\n\n\n```\n", "python", "x = 1\n", MD),
    T("md_leading_blank_kept", "```python\n\nx = 1\n```\n", "python", "\nx = 1\n", MD),
    T("md_empty_block", "```python\n```\n", "python", "", MD),
    T("md_indent4_close_is_content", "```python\nx = 1\n    ```\ny\n```\n", "python",
      "x = 1\n    ```\ny\n", MD),
    RAW("md_stray_closing_fence", "print(1)\n```", "python"),
    RAW("md_stray_fence_then_blank", "print(1)\n```\n\n", "python"),
    RAW("md_nested_markdown_block", "````markdown\n```python\nx\n```\n````\n", "python"),
    T("md_nul_in_block", "```python\nx = '\0'\n```\n", "python", "x = '\0'\n", MD),
    /* dict */
    T("dict_json", "{\"code\": \"print(1)\\nprint(2)\"}", "python", "print(1)\nprint(2)", DICT),
    T("dict_json_escaped_quotes", "{\"code\": \"print(\\\"hi\\\")\\tx\\\\y\"}", "python",
      "print(\"hi\")\tx\\y", DICT),
    T("dict_python_escaped_quotes", "{'generated_code': 'print(\\'hi\\')\\nprint(\"a\\\"b\")'}",
      "python", "print('hi')\nprint(\"a\"b\")", DICT),
    T("dict_triple_single", "{'code': '''\nimport os\nprint(\"a\", 'b')\n'''}", "python",
      "\nimport os\nprint(\"a\", 'b')\n", DICT),
    T("dict_triple_double", "{\"code\": \"\"\"x = 'a'\ny = \"b\"\n\"\"\", \"n\": 1}", "python",
      "x = 'a'\ny = \"b\"\n", DICT),
    T("dict_json_unicode", "{\"code\": \"print(\\\"\\u00e9\\u4E2D\\ud83d\\ude00\\\")\"}", "python",
      "print(\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\")", DICT),
    T("dict_hex_escape", "{'code': 'print(\"\\xe9\\x41\\r\")'}", "python",
      "print(\"\xc3\xa9"
      "A\r\")",
      DICT),
    T("dict_raw_string", "{'code': r'print(\"\\n\")\\''}", "python", "print(\"\\n\")\\'", DICT),
    T("dict_both_keys_generated_wins", "{\"code\": \"a = 1\", \"generated_code\": \"b = 2\"}",
      "python", "b = 2", DICT),
    T("dict_both_keys_generated_first", "{'generated_code': 'b', 'code': 'a'}", "python", "b",
      DICT),
    T("dict_nested_values",
      "{\"meta\": {\"a\": [1, 2.5e-3, -3, {\"b\": null}], \"t\": (1,), \"s\": {1, 2}, \"e\": {},"
      " \"l\": [], \"g\": (\"x\")},\n \"ok\": True, \"no\": None, \"f\": false, \"inf\": -Infinity,"
      " 1: 0x1F,\n \"code\": \"x = 1\",}",
      "python", "x = 1", DICT),
    RAW("non_dict_list", "[1, 2, 3]\n", "python"),
    RAW("dict_without_code_key", "{\"a\": 1}", "python"),
    RAW("dict_empty", "{}", "python"),
    RAW("dict_comprehension", "{k: v for k, v in x.items()}", "python"),
    RAW("dict_with_names", "{'code': code}", "python"),
    RAW("set_literal", "{1, 2}", "python"),
    RAW("set_of_strings", "{'code', 'x'}", "python"),
    RAW("dict_code_number", "{\"code\": 123}", "python"),
    RAW("dict_code_list", "{\"code\": [\"x\"]}", "python"),
    RAW("dict_code_bytes", "{'code': b'x'}", "python"),
    RAW("dict_code_fstring", "{'code': f'{x}'}", "python"),
    RAW("dict_code_tuple", "{'code': ('a', 'b')}", "python"),
    T("dict_generated_not_str_uses_code", "{\"generated_code\": null, \"code\": \"y = 2\"}",
      "python", "y = 2", DICT),
    T("dict_value_fenced", "{\"code\": \"```python\\nprint(1)\\n```\"}", "python", "print(1)\n",
      DICT),
    T("dict_value_fenced_other_language", "{\"code\": \"```bash\\nls\\n```\"}", "python",
      "```bash\nls\n```", DICT),
    T("dict_surrounding_whitespace", "\n  {'code': 'x = 1'}  \n", "python", "x = 1", DICT),
    T("dict_bom", "\xef\xbb\xbf{\"code\": \"x = 1\"}", "python", "x = 1", DICT),
    RAW("dict_followed_by_code", "{'code': 'x'}\nprint(1)\n", "python"),
    T("dict_comments_concat_parens",
      "{\n  # the program\n  'code': ('import os\\n'\n           'print(os.getcwd())'),  # "
      "done\n}\n",
      "python", "import os\nprint(os.getcwd())", DICT),
    T("dict_last_duplicate_wins", "{'code': 'a', 'code': 'b'}", "python", "b", DICT),
    T("dict_escaped_key", "{\"\\u0063ode\": \"x\"}", "python", "x", DICT),
    RAW("dict_unterminated_string", "{\"code\": \"print(1)}", "python"),
    RAW("dict_unclosed_brace", "{\"code\": \"print(1)\"", "python"),
    RAW("dict_bad_unicode_escape", "{\"code\": \"\\u12G4\"}", "python"),
    RAW("dict_bad_hex_escape", "{\"code\": \"\\x4\"}", "python"),
    RAW("dict_missing_colon", "{\"code\" \"x\"}", "python"),
    RAW("dict_missing_comma", "{\"a\": 1 \"code\": \"x\"}", "python"),
    T("dict_nul_escape", "{\"code\": \"a\\u0000b\"}", "python", "a\0b", DICT),
    T("dict_nul_byte_in_string", "{\"code\": \"a\0b\"}", "python", "a\0b", DICT),
    T("dict_raw_newline_in_string", "{\"code\": \"print(1)\nprint(2)\"}", "python",
      "print(1)\nprint(2)", DICT),
    T("dict_lone_surrogate", "{\"code\": \"\\ud800x\"}", "python", "\xef\xbf\xbdx", DICT),
    T("dict_octal_unknown_escapes", "{'code': '\\101\\q\\N{DASH}\\0'}", "python", "A\\q\\N{DASH}\0",
      DICT),
    T("dict_line_continuation", "{'code': 'a\\\nb\\\r\nc'}", "python", "abc", DICT),
    T("dict_json_slash", "{\"code\": \"a\\/b\"}", "python", "a/b", DICT),
    T("dict_u_prefix_big_u_escape", "{u'code': U'\\U0001F600'}", "python", "\xf0\x9f\x98\x80",
      DICT),
    RAW("dict_big_u_out_of_range", "{'code': '\\U00110000'}", "python"),
    T("dict_control_escapes", "{'code': '\\a\\b\\f\\v'}", "python", "\a\b\f\v", DICT),
    T("dict_comment_between_strings", "{'code': ('a'  # first\n 'b')}", "python", "ab", DICT),
    T("dict_empty_tuple_value", "{'code': 'x', 't': ()}", "python", "x", DICT),
    RAW("dict_signed_word", "{'code': 'x', 'b': -True}", "python"),
    RAW("dict_paren_unclosed", "{'code': ('x'}", "python"),
    /* markers */
    T("markers_basic", "### START PYTHON CODE ###\nprint(1)\n### END PYTHON CODE ###\n", "python",
      "print(1)\n", MARK),
    T("markers_prose_case_crlf",
      "Sure!\n### start javascript code ###\r\nconsole.log(1)\r\n### End JavaScript Code "
      "###\nDone.\n",
      "javascript", "console.log(1)\n", MARK),
    T("markers_no_end", "### START PYTHON CODE ###\nx = 1\n", "python", "x = 1\n", MARK),
    T("markers_wrapping_fence",
      "### START PYTHON CODE ###\n```python\nx = 1\n```\n### END PYTHON CODE ###", "python",
      "x = 1\n", MARK),
    T("markers_inline", "### START C++ CODE ###  int x;  ### END C++ CODE ###", "cpp", "int x;\n",
      MARK),
    T("markers_without_language", "###START CODE###\nx\n### END CODE ###", "python", "x\n", MARK),
    T("markers_two_pairs",
      "### START PYTHON CODE ###\na = 1\n### END PYTHON CODE ###\ntext\n"
      "### START PYTHON CODE ###\nprint(a)\n### END PYTHON CODE ###\n",
      "python", "a = 1\nprint(a)\n", MARK),
    T("markers_start_only", "### START PYTHON CODE ###", "python", "", MARK),
    T("markers_empty", "### START PYTHON CODE ###\n### END PYTHON CODE ###", "python", "", MARK),
    T("dict_value_markers",
      "{'code': '### START PYTHON CODE ###\\nx = 1\\n### END PYTHON CODE ###'}", "python",
      "x = 1\n", DICT),
};

static void check_case(const struct codefmt_case *c)
{
    char *out = NULL;
    size_t out_len = 12345;
    enum codefmt_kind kind = CODEFMT_MARKERS + 1;
    int r;

    r = codefmt_normalise(c->in, c->in_len, c->lang, &out, &out_len, &kind);
    if (r != 0 || out_len != c->want_len || memcmp(out, c->want, c->want_len) != 0 ||
        kind != c->kind)
        print_error("case %s: r=%d kind=%s (want %s) len=%zu (want %zu) out='%.*s'\n", c->name, r,
                    codefmt_kind_name(kind), codefmt_kind_name(c->kind), out_len, c->want_len,
                    out ? (int)out_len : 0, out ? out : "");
    assert_int_equal(r, 0);
    assert_non_null(out);
    assert_int_equal(out_len, c->want_len);
    assert_memory_equal(out, c->want, c->want_len);
    assert_int_equal(out[out_len], '\0');
    assert_int_equal(kind, c->kind);
    free(out);
}

static void test_case(void **state)
{
    check_case(*state);
}

/* Every allocation failure gives -ENOMEM with outputs untouched, or the full right answer. */
static void test_oom(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(codefmt_cases) / sizeof(codefmt_cases[0]); i++) {
        const struct codefmt_case *c = &codefmt_cases[i];
        long budget;

        for (budget = 0; budget < 8; budget++) {
            char *out = (char *)&budget;
            size_t out_len = 777;
            enum codefmt_kind kind = CODEFMT_MARKERS;
            int r;

            test_malloc_budget = budget;
            r = codefmt_normalise(c->in, c->in_len, c->lang, &out, &out_len, &kind);
            test_malloc_budget = -1;
            if (r == -ENOMEM) {
                assert_ptr_equal(out, (char *)&budget);
                assert_int_equal(out_len, 777);
                assert_int_equal(kind, CODEFMT_MARKERS);
                continue;
            }
            assert_int_equal(r, 0);
            assert_int_equal(out_len, c->want_len);
            assert_memory_equal(out, c->want, c->want_len);
            assert_int_equal(kind, c->kind);
            free(out);
            break;
        }
        assert_true(budget < 8);
    }
}

static void test_invalid_args(void **state)
{
    char *out = NULL;
    size_t len = 0;
    enum codefmt_kind kind = CODEFMT_RAW;

    (void)state;
    assert_int_equal(codefmt_normalise(NULL, 0, "python", &out, &len, &kind), -EINVAL);
    assert_int_equal(codefmt_normalise("x", 1, "python", NULL, &len, &kind), -EINVAL);
    assert_int_equal(codefmt_normalise("x", 1, "python", &out, NULL, &kind), -EINVAL);
    assert_int_equal(codefmt_normalise("x", 1, "python", &out, &len, NULL), -EINVAL);
    assert_null(out);
    assert_int_equal(
        codefmt_normalise("x", (size_t)CODEFMT_MAX_INPUT + 1, "python", &out, &len, &kind), -E2BIG);
    assert_null(out);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(codefmt_kind_name(CODEFMT_RAW), "raw");
    assert_string_equal(codefmt_kind_name(CODEFMT_MARKDOWN), "markdown");
    assert_string_equal(codefmt_kind_name(CODEFMT_DICT), "dict");
    assert_string_equal(codefmt_kind_name(CODEFMT_MARKERS), "markers");
    assert_string_equal(codefmt_kind_name((enum codefmt_kind)42), "unknown");
}

/* Builds {"code": "x", "d": <levels nested lists>} and checks it is a dict up to depth 64. */
static void check_depth(size_t levels, enum codefmt_kind want)
{
    size_t n = 0, i, cap = 2 * levels + 64;
    char *in = malloc(cap), *out = NULL;
    size_t out_len = 0;
    enum codefmt_kind kind = CODEFMT_MARKDOWN;

    assert_non_null(in);
    n += (size_t)snprintf(in, cap, "{\"code\": \"x\", \"d\": ");
    for (i = 0; i < levels; i++)
        in[n++] = '[';
    for (i = 0; i < levels; i++)
        in[n++] = ']';
    in[n++] = '}';
    assert_int_equal(codefmt_normalise(in, n, "python", &out, &out_len, &kind), 0);
    assert_int_equal(kind, want);
    if (want == CODEFMT_DICT) {
        assert_int_equal(out_len, 1);
        assert_string_equal(out, "x");
    } else {
        assert_int_equal(out_len, n);
        assert_memory_equal(out, in, n);
    }
    free(out);
    free(in);
}

static void test_depth(void **state)
{
    (void)state;
    check_depth(63, CODEFMT_DICT); /* 64 levels counting the outer dict */
    check_depth(64, CODEFMT_RAW);
    check_depth(1000000, CODEFMT_RAW);
}

/* Big adversarial inputs run in linear time (the suite would time out otherwise). */
static void test_big_inputs(void **state)
{
    static const char *const units[] = {"```\n", "#",   "### START ",  "{'code': '",
                                        "\\",    "{[(", "~~~python\n", "```python\n```\n",
                                        "\r\n",  "'''"};
    size_t n = CODEFMT_MAX_INPUT, i, u;

    (void)state;
    for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        size_t ul = strlen(units[u]);
        char *in = malloc(n), *out = NULL;
        size_t out_len = 0;
        enum codefmt_kind kind;

        assert_non_null(in);
        for (i = 0; i < n; i++)
            in[i] = units[u][i % ul];
        assert_int_equal(codefmt_normalise(in, n, "python", &out, &out_len, &kind), 0);
        assert_true(out_len <= n + 1);
        free(out);
        free(in);
    }
}

int main(void)
{
    size_t nc = sizeof(codefmt_cases) / sizeof(codefmt_cases[0]), i, nt = 0;
    struct CMUnitTest *tests = calloc(nc + 8, sizeof(*tests));
    int r;

    if (!tests)
        return 1;
    for (i = 0; i < nc; i++) {
        tests[nt].name = codefmt_cases[i].name;
        tests[nt].test_func = test_case;
        tests[nt].initial_state = (void *)&codefmt_cases[i];
        nt++;
    }
    tests[nt++] = (struct CMUnitTest)cmocka_unit_test(test_oom);
    tests[nt++] = (struct CMUnitTest)cmocka_unit_test(test_invalid_args);
    tests[nt++] = (struct CMUnitTest)cmocka_unit_test(test_kind_names);
    tests[nt++] = (struct CMUnitTest)cmocka_unit_test(test_depth);
    tests[nt++] = (struct CMUnitTest)cmocka_unit_test(test_big_inputs);
    r = _cmocka_run_group_tests("codefmt", tests, nt, NULL, NULL);
    free(tests);
    return r;
}
