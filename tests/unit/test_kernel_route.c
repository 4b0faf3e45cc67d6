/* test_kernel_route.c - the Kernel Gateway URL space (common/kernel_route.c), the WebSocket
 * handshake's checks (common/ws_handshake.c) and the orchestrator's kernel table
 * (orchestrator/kernels.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/kernel_route.c"
#include "../../common/ws_handshake.c"
#include "../../orchestrator/kernels.c"

#define KID "0b9a1f4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

static int parse(const char *method, const char *path, struct route_match *m)
{
    return kernel_route_parse(method, path, strlen(path), m);
}

static void test_routes(void **state)
{
    static const struct {
        const char *method, *path;
        int id;
    } ok[] = {
        {"GET", "/api/kernelspecs", KR_SPECS},
        {"GET", "/api/kernelspecs/python3", KR_SPEC},
        {"GET", "/api/kernels", KR_LIST},
        {"POST", "/api/kernels/", KR_CREATE},
        {"GET", "/api/kernels/" KID, KR_GET},
        {"DELETE", "/api/kernels/" KID, KR_DELETE},
        {"POST", "/api/kernels/" KID "/interrupt", KR_INTERRUPT},
        {"POST", "/api/kernels/" KID "/restart", KR_RESTART},
        {"GET", "/api/kernels/" KID "/channels", KR_CHANNELS},
    };
    struct route_match m;
    char ep[128];

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(parse(ok[i].method, ok[i].path, &m), 0);
        assert_int_equal(m.id, ok[i].id);
    }
    assert_string_equal(m.arg, KID);
    assert_true(kernel_route_is("/api/kernels", 12));
    assert_true(kernel_route_is("/api/kernelspecs/x", 18));
    assert_false(kernel_route_is("/api/kernelsx", 13));
    assert_false(kernel_route_is("/api/v1/sessions", 16));
    assert_int_equal(parse("PUT", "/api/kernels", &m), -EPERM);
    assert_string_equal(m.allow, "GET, POST");
    assert_int_equal(parse("GET", "/api/kernels/" KID "/restart", &m), -EPERM);
    assert_int_equal(parse("GET", "/api/kernels/nope", &m), -EINVAL);
    assert_true(m.method_ok);
    assert_int_equal(parse("GET", "/api/kernels/" KID "/other", &m), -ENOENT);
    assert_int_equal(parse("GET", "/api/kernelspecs/a/b", &m), -ENOENT);
    assert_int_equal(kernel_route_endpoint(8, ep, sizeof(ep)), 1);
    assert_string_equal(ep, "GET /api/kernels/{id}/channels");
    assert_int_equal(kernel_route_endpoint(9, ep, sizeof(ep)), 0);
}

static void test_handshake(void **state)
{
    const char *why = NULL;
    char out[WS_HANDSHAKE_ACCEPT_LEN + 1];

    (void)state;
    /* RFC 6455's own example */
    assert_int_equal(ws_handshake_accept("dGhlIHNhbXBsZSBub25jZQ==", out, sizeof(out)), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(ws_handshake_check("GET", "websocket", "keep-alive, Upgrade", "13",
                                        "dGhlIHNhbXBsZSBub25jZQ==", &why),
                     0);
    assert_int_equal(
        ws_handshake_check("POST", "websocket", "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", &why),
        -EINVAL);
    assert_int_equal(
        ws_handshake_check("GET", NULL, "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", &why),
        -EINVAL);
    assert_int_equal(
        ws_handshake_check("GET", "WebSocket", "upgrade", "8", "dGhlIHNhbXBsZSBub25jZQ==", &why),
        -EPROTONOSUPPORT);
    assert_int_equal(ws_handshake_check("GET", "websocket", "Upgrade", "13", "c2hvcnQ=", &why),
                     -EINVAL);
    assert_int_equal(
        ws_handshake_check("GET", "websocket", "Upgrade", "13", "!!!!!!!!!!!!!!!!!!!!!!==", &why),
        -EINVAL);
    assert_int_equal(ws_handshake_accept("short", out, sizeof(out)), -EINVAL);
    assert_true(ws_handshake_has_token(" a , Upgrade ", "upgrade"));
    assert_false(ws_handshake_has_token("upgrades", "upgrade"));
    assert_false(ws_handshake_has_token(NULL, "upgrade"));
}

static void test_table(void **state)
{
    struct kernels *k = kernels_new();
    struct kernels_entry e = {.id = KID, .agent = 1, .gen = 2, .owner = 1}, got;
    struct kernels_entry *list;
    size_t n;

    (void)state;
    assert_int_equal(kernels_add(k, &e), 0);
    assert_int_equal(kernels_add(k, &e), -EEXIST);
    assert_int_equal(kernels_get(k, KID, 1, &got), 0);
    assert_int_equal(got.agent, 1);
    assert_int_equal(kernels_get(k, KID, 2, &got), -ENOENT); /* another key's */
    list = kernels_list(k, 2, &n);
    assert_null(list);
    assert_int_equal(n, 0);
    list = kernels_list(k, 1, &n);
    assert_int_equal(n, 1);
    free(list);
    kernels_remove(k, KID);
    assert_int_equal(kernels_get(k, KID, 1, &got), -ENOENT);
    assert_int_equal(kernels_count(k), 0);
    kernels_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
