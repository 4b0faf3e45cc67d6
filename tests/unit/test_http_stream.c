/* test_http_stream.c - the SSE encoders: data lines split at every line end a client knows, the
 * {"text"} event escaped as JSON, a UTF-8 character cut at a chunk's end held back, the chunk
 * cap. (The streaming itself is tested end to end: tests/e2e/test_sse.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/http_stream.c"

/* Encodes with http_stream_encode and compares the whole text. */
static void check_event(const char *name, const char *data, size_t len, const char *want)
{
    struct buf b;

    buf_init(&b, 0);
    assert_int_equal(http_stream_encode(&b, name, data, len), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_done(&b);
}

static void test_http_stream_encode_lines(void **state)
{
    (void)state;
    check_event("result", "{}", 2, "event: result\ndata: {}\n\n");
    check_event("x", "", 0, "event: x\ndata: \n\n");
    check_event("x", "a\nb", 3, "event: x\ndata: a\ndata: b\n\n");
    check_event("x", "a\r\nb\rc", 6, "event: x\ndata: a\ndata: b\ndata: c\n\n");
    /* A trailing line end is an empty last line: the client's data ends with "\n". */
    check_event("x", "a\n", 2, "event: x\ndata: a\ndata: \n\n");
    check_event("x", "a\r\n", 3, "event: x\ndata: a\ndata: \n\n");
    check_event("x", "\n\n", 2, "event: x\ndata: \ndata: \ndata: \n\n");
}

static void test_http_stream_utf8_whole(void **state)
{
    (void)state;
    assert_int_equal(http_stream_utf8_whole("abc", 3), 3);
    assert_int_equal(http_stream_utf8_whole("", 0), 0);
    assert_int_equal(http_stream_utf8_whole("a\xc3", 2), 1);         /* é's lead */
    assert_int_equal(http_stream_utf8_whole("a\xc3\xa9", 3), 3);     /* é whole */
    assert_int_equal(http_stream_utf8_whole("a\xe2\x82", 3), 1);     /* € cut after 2 */
    assert_int_equal(http_stream_utf8_whole("a\xe2\x82\xac", 4), 4); /* € whole */
    assert_int_equal(http_stream_utf8_whole("\xf0\x9f\x98", 3), 0);  /* 😀 cut after 3 */
    assert_int_equal(http_stream_utf8_whole("a\xf0\x9f\x98\x80", 5), 5);
    /* Bytes no more bytes can complete are not held: invalid now, invalid later. */
    assert_int_equal(http_stream_utf8_whole("a\xff", 2), 2);
    assert_int_equal(http_stream_utf8_whole("a\xc0", 2), 2);
    assert_int_equal(http_stream_utf8_whole("a\x80\x80\x80", 4), 4);
}

static void test_http_stream_encode_text(void **state)
{
    struct buf b;
    size_t used = 99;
    const char *want;

    (void)state;
    buf_init(&b, 0);
    assert_int_equal(http_stream_encode_text(&b, "stdout", "a\"b\\\n\x01", 6, false, &used), 0);
    assert_int_equal(used, 6);
    want = "event: stdout\ndata: {\"text\":\"a\\\"b\\\\\\n\\u0001\"}\n\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);

    /* A cut character waits for its next bytes... */
    b.len = 0;
    assert_int_equal(http_stream_encode_text(&b, "stdout", "x\xc3", 2, false, &used), 0);
    assert_int_equal(used, 1);
    want = "event: stdout\ndata: {\"text\":\"x\"}\n\n";
    assert_memory_equal(b.data, want, strlen(want));
    /* ...alone, nothing is sent... */
    b.len = 0;
    assert_int_equal(http_stream_encode_text(&b, "stdout", "\xc3", 1, false, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(b.len, 0);
    /* ...unless it is the last: then it is U+FFFD, as in the result. */
    assert_int_equal(http_stream_encode_text(&b, "stderr", "\xc3", 1, true, &used), 0);
    assert_int_equal(used, 1);
    want = "event: stderr\ndata: {\"text\":\"\xef\xbf\xbd\"}\n\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_done(&b);
}

static void test_http_stream_text_cap(void **state)
{
    size_t n = HTTP_STREAM_TEXT_MAX + 100, used = 0;
    char *p = malloc(n);
    struct buf b;

    (void)state;
    assert_non_null(p);
    memset(p, 'a', n);
    /* An é straddling the cap goes whole into the next event, even when final. */
    p[HTTP_STREAM_TEXT_MAX - 1] = '\xc3';
    p[HTTP_STREAM_TEXT_MAX] = '\xa9';
    buf_init(&b, 0);
    assert_int_equal(http_stream_encode_text(&b, "stdout", p, n, true, &used), 0);
    assert_int_equal(used, HTTP_STREAM_TEXT_MAX - 1);
    b.len = 0;
    assert_int_equal(http_stream_encode_text(&b, "stdout", p + used, n - used, true, &used), 0);
    assert_int_equal(used, 101);
    assert_non_null(memmem(b.data, b.len, "\xc3\xa9", 2));
    buf_done(&b);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_stream_encode_lines),
        cmocka_unit_test(test_http_stream_utf8_whole),
        cmocka_unit_test(test_http_stream_encode_text),
        cmocka_unit_test(test_http_stream_text_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
