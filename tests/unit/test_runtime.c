/* test_runtime.c - the runtime table: Java class names, resolution, the child's spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../sandbox/runtime.c"

static void check_class(const char *code, const char *want)
{
    char out[128];

    runtime_java_class(code, strlen(code), out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_java_class(void **state)
{
    (void)state;
    check_class("public class Hello { public static void main(String[] a) {} }", "Hello");
    check_class("import java.util.*;\nclass Helper {}\npublic final class App {}", "App");
    check_class("class Only { }", "Only");
    check_class("", "Main");
    /* Words in comments and strings are not declarations. */
    check_class("// public class Fake\n/* public class Nope */\npublic class Real {}", "Real");
    check_class("class A { String s = \"public class B\"; }", "A");
    /* A nested public class is not the file's class. */
    check_class("class Outer { public class Inner {} }\npublic class Top {}", "Top");
    check_class("public interface Shape {}", "Shape");
    check_class("public record Point(int x, int y) {}", "Point");
    check_class("public abstract class Base {}", "Base");
    /* "public static void" at depth 0 is not a class; no class at all -> Main. */
    check_class("public static void main", "Main");
}

static void test_unknown_language_in_list(void **state)
{
    struct err e = {0};

    (void)state;
    assert_null(runtimes_new("", "python,klingon", &e));
    assert_string_equal(e.field, "languages");
    assert_non_null(strstr(e.msg, "klingon"));
}

static void test_only_and_aliases(void **state)
{
    struct err e = {0};
    struct runtimes *rts = runtimes_new("", "python,sh", &e);
    char list[128];

    (void)state;
    assert_non_null(rts);
    assert_non_null(runtimes_find(rts, "PY"));
    assert_string_equal(runtime_name(runtimes_find(rts, "python3")), "python");
    assert_true(runtime_is_embedded(runtimes_find(rts, "python")));
    /* sh is /bin/sh, always installed on Debian. */
    assert_non_null(runtimes_find(rts, "dash"));
    assert_null(runtimes_find(rts, "bash")); /* installed but not listed */
    assert_null(runtimes_find(rts, "nonsense"));
    runtimes_list(rts, list, sizeof(list));
    assert_string_equal(list, "python, sh");
    runtimes_free(rts);
    /* The list may name runtimes by any alias of the language table, in any case. */
    rts = runtimes_new("", "PY3, posix-sh", &e);
    assert_non_null(rts);
    runtimes_list(rts, list, sizeof(list));
    assert_string_equal(list, "python, sh");
    runtimes_free(rts);
}

/* /languages lists each runtime's aliases from the language table, canonical name apart. */
static void test_describe_aliases(void **state)
{
    struct err e = {0};
    struct runtimes *rts = runtimes_new("", "python,sh", &e);
    json_t *o, *langs, *al;

    (void)state;
    assert_non_null(rts);
    o = runtimes_describe(rts);
    langs = json_object_get(o, "languages");
    assert_int_equal(json_array_size(langs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(langs, 0), "name")),
                        "python");
    al = json_object_get(json_array_get(langs, 0), "aliases");
    assert_int_equal(json_array_size(al), 3);
    assert_string_equal(json_string_value(json_array_get(al, 0)), "py");
    assert_string_equal(json_string_value(json_array_get(al, 1)), "python3");
    assert_string_equal(json_string_value(json_array_get(al, 2)), "py3");
    al = json_object_get(json_array_get(langs, 1), "aliases");
    assert_int_equal(json_array_size(al), 2);
    assert_string_equal(json_string_value(json_array_get(al, 0)), "dash");
    json_decref(o);
    runtimes_free(rts);
}

static void test_spec_substitutes(void **state)
{
    struct err e = {0};
    struct runtimes *rts = runtimes_new("", "c,java", &e);
    const struct runtime_def *c, *java;
    json_t *spec;

    (void)state;
    assert_non_null(rts);
    c = runtimes_find(rts, "gcc");
    if (!c) {
        runtimes_free(rts);
        skip();
    }
    assert_int_equal(runtime_compile_ms(c), 30000);
    spec = runtimes_spec(rts, c, "int main(){}", 12, "/tmp/w/x");
    assert_non_null(spec);
    assert_string_equal(json_string_value(json_object_get(spec, "file")), "main.c");
    /* The tool is resolved to an absolute path; {main} and {src} are filled in. */
    assert_int_equal(json_string_value(json_array_get(json_object_get(spec, "compile"), 0))[0],
                     '/');
    assert_string_equal(json_string_value(json_array_get(json_object_get(spec, "run"), 0)),
                        "./main");
    json_decref(spec);
    java = runtimes_find(rts, "java");
    if (java) {
        const char *src = "public class Greeter { }";

        spec = runtimes_spec(rts, java, src, strlen(src), "/tmp/w/x");
        assert_string_equal(json_string_value(json_object_get(spec, "file")), "Greeter.java");
        assert_true(json_is_true(json_object_get(spec, "big_vm")));
        json_decref(spec);
    }
    runtimes_free(rts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_java_class),       cmocka_unit_test(test_unknown_language_in_list),
        cmocka_unit_test(test_only_and_aliases), cmocka_unit_test(test_describe_aliases),
        cmocka_unit_test(test_spec_substitutes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
