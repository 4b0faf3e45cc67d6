/* test_kernel_msg.c - Jupyter messages: parsing a client's, building ours, and the mapping of an
 * ExecutionResult onto iopub and execute_reply (agent/kernel_msg.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../agent/kernel_msg.c"

static const char EXEC[] =
    "{\"header\":{\"msg_id\":\"m1\",\"msg_type\":\"execute_request\",\"session\":\"s\"},"
    "\"parent_header\":{},\"metadata\":{},\"channel\":\"shell\","
    "\"content\":{\"code\":\"print(1)\",\"silent\":false,\"allow_stdin\":true}}";

#define TXT(s) s, strlen(s)

static void test_parse(void **state)
{
    struct kmsg_in m;
    struct kmsg_exec ef;
    struct err e = {0};

    (void)state;
    assert_int_equal(kmsg_parse(EXEC, strlen(EXEC), &m, &e), 0);
    assert_string_equal(m.type, "execute_request");
    assert_string_equal(m.channel, "shell");
    assert_int_equal(kmsg_execute_fields(&m, &ef, &e), 0);
    assert_string_equal(ef.code, "print(1)");
    assert_true(ef.allow_stdin && ef.store_history && ef.stop_on_error && !ef.silent);
    kmsg_in_done(&m);
    /* no channel: shell; no content: {} */
    assert_int_equal(kmsg_parse(TXT("{\"header\":{\"msg_type\":\"kernel_info_request\"}}"), &m, &e),
                     0);
    assert_string_equal(m.channel, "shell");
    assert_true(json_is_object(m.content));
    kmsg_in_done(&m);
    /* refused: not an object, no msg_type, iopub from a client, content of another type */
    assert_int_equal(kmsg_parse(TXT("[1]"), &m, &e), -ERR_INVALID);
    assert_int_equal(kmsg_parse(TXT("{\"header\":{}}"), &m, &e), -ERR_INVALID);
    assert_string_equal(e.field, "header");
    assert_int_equal(
        kmsg_parse(TXT("{\"header\":{\"msg_type\":\"x\"},\"channel\":\"iopub\"}"), &m, &e),
        -ERR_INVALID);
    assert_string_equal(e.field, "channel");
    assert_int_equal(kmsg_parse(TXT("{\"header\":{\"msg_type\":\"x\"},\"content\":3}"), &m, &e),
                     -ERR_INVALID);
    /* an execute_request without code, a silent one (not in history) and a wrong flag type */
    assert_int_equal(kmsg_parse(TXT("{\"header\":{\"msg_type\":\"execute_request\"},\"content\":"
                                    "{\"silent\":true,\"code\":\"\"}}"),
                                &m, &e),
                     0);
    assert_int_equal(kmsg_execute_fields(&m, &ef, &e), 0);
    assert_true(ef.silent && !ef.store_history);
    json_object_set_new(m.content, "allow_stdin", json_string("yes"));
    assert_int_equal(kmsg_execute_fields(&m, &ef, &e), -ERR_INVALID);
    assert_string_equal(e.field, "allow_stdin");
    json_object_del(m.content, "code");
    assert_int_equal(kmsg_execute_fields(&m, &ef, &e), -ERR_INVALID);
    kmsg_in_done(&m);
}

static void test_new(void **state)
{
    json_t *parent = json_pack("{s:s}", "msg_id", "p1");
    json_t *m = kmsg_new("status", "iopub", parent, kmsg_status("busy"), "sess");
    json_t *h = json_object_get(m, "header");

    (void)state;
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(h, "msg_type")), "status");
    assert_string_equal(json_string_value(json_object_get(h, "version")), "5.3");
    assert_string_equal(json_string_value(json_object_get(h, "session")), "sess");
    assert_int_equal(strlen(json_string_value(json_object_get(h, "msg_id"))), 36);
    assert_true(json_object_get(m, "parent_header") == parent);
    assert_string_equal(json_string_value(json_object_get(m, "channel")), "iopub");
    assert_true(json_is_array(json_object_get(m, "buffers")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m, "content"), "execution_state")),
        "busy");
    json_decref(m);
    m = kmsg_new("status", "iopub", NULL, NULL, "s");
    assert_int_equal(json_object_size(json_object_get(m, "parent_header")), 0);
    json_decref(m);
    json_decref(parent);
    m = kmsg_kernel_info("3.11");
    assert_string_equal(json_string_value(json_object_get(m, "protocol_version")), "5.3");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m, "language_info"), "name")), "python");
    json_decref(m);
}

/* The msg_type of pair i of arr. */
static const char *type_at(json_t *arr, size_t i)
{
    return json_string_value(json_array_get(json_array_get(arr, i), 0));
}

static void test_result_ok(void **state)
{
    json_t *res = json_loads(
        "{\"status\":\"completed\",\"error\":null,\"stdout\":\"hi\\n\",\"stderr\":\"\","
        "\"outputs\":[{\"type\":\"display_data\",\"data\":{\"image/png\":\"AA\",\"text/plain\":"
        "\"<Figure>\"},\"metadata\":{\"image/png\":{\"width\":2}}},"
        "{\"type\":\"execute_result\",\"data\":{\"text/plain\":\"42\"}},{\"type\":\"bogus\"}]}",
        0, NULL);
    json_t *arr = kmsg_result_iopub(res, 7, NULL, false), *reply;

    (void)state;
    assert_int_equal(json_array_size(arr), 3);
    assert_string_equal(type_at(arr, 0), "stream");
    assert_string_equal(type_at(arr, 1), "display_data");
    assert_string_equal(type_at(arr, 2), "execute_result");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_array_get(arr, 2), 1),
                                                        "execution_count")),
                     7);
    json_decref(arr);
    arr = kmsg_result_iopub(res, 7, NULL, true); /* streamed live: no stream messages */
    assert_int_equal(json_array_size(arr), 2);
    json_decref(arr);
    reply = kmsg_execute_reply(res, 7, NULL);
    assert_string_equal(json_string_value(json_object_get(reply, "status")), "ok");
    json_decref(reply);
    json_decref(res);
}

static void test_result_error(void **state)
{
    json_t *res = json_loads("{\"status\":\"failed\",\"error\":\"ValueError: bad thing\","
                             "\"error_type\":\"ValueError\"}",
                             0, NULL);
    json_t *arr = kmsg_result_iopub(res, 2, NULL, false), *c, *reply, *rec;

    (void)state;
    assert_int_equal(json_array_size(arr), 1);
    assert_string_equal(type_at(arr, 0), "error");
    c = json_array_get(json_array_get(arr, 0), 1);
    assert_string_equal(json_string_value(json_object_get(c, "ename")), "ValueError");
    assert_string_equal(json_string_value(json_object_get(c, "evalue")), "bad thing");
    assert_int_equal(json_array_size(json_object_get(c, "traceback")), 1);
    json_decref(arr);
    /* the harness's record wins */
    rec = json_pack("{s:s, s:s, s:[s, s]}", "ename", "KeyError", "evalue", "'k'", "traceback",
                    "Traceback (most recent call last):", "KeyError: 'k'");
    reply = kmsg_execute_reply(res, 2, rec);
    assert_string_equal(json_string_value(json_object_get(reply, "status")), "error");
    assert_string_equal(json_string_value(json_object_get(reply, "ename")), "KeyError");
    assert_int_equal(json_array_size(json_object_get(reply, "traceback")), 2);
    json_decref(reply);
    json_decref(rec);
    json_decref(res);
    /* a timeout: no error_type, the status names it */
    res = json_loads("{\"status\":\"timeout\",\"error\":null}", 0, NULL);
    rec = kmsg_error_of(res);
    assert_string_equal(json_string_value(json_object_get(rec, "ename")), "timeout");
    json_decref(rec);
    json_decref(res);
    reply = kmsg_aborted(5);
    assert_string_equal(json_string_value(json_object_get(reply, "status")), "aborted");
    json_decref(reply);
}

static void test_utf8_and_input(void **state)
{
    const char euro[] = "a\xe2\x82\xac"; /* a + EUR sign (3 bytes) */
    json_t *o;
    char big[6000];

    (void)state;
    assert_int_equal(kmsg_utf8_whole(euro, 4), 4);
    assert_int_equal(kmsg_utf8_whole(euro, 3), 1); /* the sign cut after 2 bytes */
    assert_int_equal(kmsg_utf8_whole(euro, 2), 1);
    assert_int_equal(kmsg_utf8_whole("\xff", 1), 1); /* invalid: counts as whole */
    assert_int_equal(kmsg_utf8_whole("", 0), 0);
    o = kmsg_stream("stdout", "x\xff", 2); /* invalid bytes become U+FFFD: still JSON */
    assert_non_null(o);
    json_decref(o);
    o = kmsg_input_request(TXT("{\"prompt\":\"name? \"}"));
    assert_string_equal(json_string_value(json_object_get(o, "prompt")), "name? ");
    assert_false(json_is_true(json_object_get(o, "password")));
    json_decref(o);
    assert_null(kmsg_input_request(TXT("{\"prompt\":3}")));
    assert_null(kmsg_input_request(TXT("{\"prompt\":\"a\",\"password\":1}")));
    assert_null(kmsg_input_request(TXT("nope")));
    memcpy(big, "{\"prompt\":\"", 11);
    memset(big + 11, 'p', sizeof(big) - 14);
    memcpy(big + sizeof(big) - 3, "\"}", 3);
    o = kmsg_input_request(big, strlen(big));
    assert_int_equal(strlen(json_string_value(json_object_get(o, "prompt"))), KMSG_PROMPT_MAX);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),          cmocka_unit_test(test_new),
        cmocka_unit_test(test_result_ok),      cmocka_unit_test(test_result_error),
        cmocka_unit_test(test_utf8_and_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
