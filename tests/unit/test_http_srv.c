/* test_http_srv.c - the server core's contract, over a real loopback socket: replies and their
 * headers, the capped body, errors with a dialect's decorator, suspend answered by a wake or a
 * complete from another thread (also when the answer comes before the suspend), and the request's
 * data freed exactly once. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http_srv.h"

struct test_app {
    atomic_int freed; /* data_free calls */
};

static void test_data_free(struct http_req *r, void *data)
{
    struct test_app *app = data;

    (void)r;
    atomic_fetch_add(&app->freed, 1);
}

static int test_decorate(json_t *body, const char *msg)
{
    return json_object_set_new(body, "dialect_echo", json_string(msg));
}

static enum MHD_Result test_resume(struct http_req *r)
{
    return http_req_json_take(r, 200, json_pack("{s:s}", "woken", "yes"));
}

/* Another thread answers: a wake, or a complete with a ready body. */
struct test_later {
    struct http_req *r;
    bool complete;
};

static void *test_later_main(void *arg)
{
    struct test_later *l = arg;
    struct timespec ts = {.tv_nsec = 20 * 1000000};

    nanosleep(&ts, NULL);
    if (l->complete)
        http_req_complete_take(l->r, 201, json_pack("{s:s}", "completed", "later"));
    else
        http_req_wake(l->r);
    free(l);
    return NULL;
}

static enum MHD_Result test_route(void *appv, struct http_req *r)
{
    struct test_app *app = appv;
    const char *url = http_req_url(r);
    const char *body;
    size_t len;

    http_req_set_data(r, app, test_data_free);
    if (!strcmp(url, "/echo")) {
        if (!(body = http_req_body(r, &len)))
            return http_req_too_large(r);
        return http_req_json_take(r, 200, json_pack("{s:s%}", "body", body, len));
    }
    if (!strcmp(url, "/error")) {
        http_req_set_decorator(r, test_decorate);
        return http_req_error(r, ERR_INVALID, "field_x", "bad %s", "thing");
    }
    if (!strcmp(url, "/complete-first")) {
        http_req_complete_take(r, 202, json_pack("{s:s}", "completed", "first"));
        return http_req_suspend(r, NULL);
    }
    if (!strcmp(url, "/wake-first")) {
        http_req_wake(r);
        return http_req_suspend(r, test_resume);
    }
    if (!strcmp(url, "/wake-later") || !strcmp(url, "/complete-later")) {
        struct test_later *l = calloc(1, sizeof(*l));
        pthread_t t;

        assert_non_null(l);
        l->r = r;
        l->complete = !strcmp(url, "/complete-later");
        assert_int_equal(pthread_create(&t, NULL, test_later_main, l), 0);
        pthread_detach(t);
        return http_req_suspend(r, test_resume);
    }
    if (!strcmp(url, "/oom"))
        return http_req_json_take(r, 200, NULL);
    return http_req_unrouted(r, -ENOENT, NULL);
}

/* One request over a fresh connection; returns the whole answer (new, NUL-terminated). */
static char *test_http(uint16_t port, const char *req, size_t req_len)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ssize_t n;

    assert_non_null(out);
    /* A request the server never answers fails the test instead of hanging it. */
    struct timeval tv = {.tv_sec = 10};

    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    for (size_t off = 0; off < req_len; off += (size_t)n) {
        n = send(fd, req + off, req_len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may answer (413) and close before reading it all */
    }
    while ((n = recv(fd, out + len, cap - len - 1, 0)) > 0)
        len += (size_t)n;
    close(fd);
    out[len] = '\0';
    return out;
}

static char *test_get(uint16_t port, const char *path)
{
    char req[512];
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);

    return test_http(port, req, (size_t)n);
}

struct test_ctx {
    struct test_app app;
    struct http_srv *srv;
};

static int test_setup(void **state)
{
    struct test_ctx *c = calloc(1, sizeof(*c));
    struct http_srv_opts o = {.host = "127.0.0.1",
                              .port = 0,
                              .threads = 2,
                              .max_body = 1000,
                              .metrics_ns = "t",
                              .route = test_route,
                              .app = &c->app};
    struct err e = {0};

    c->srv = http_srv_start(&o, &e);
    assert_non_null(c->srv);
    *state = c;
    return 0;
}

static int test_teardown(void **state)
{
    struct test_ctx *c = *state;

    http_srv_quiesce(c->srv);
    http_srv_drain(c->srv, 2000);
    http_srv_free(c->srv);
    free(c);
    return 0;
}

static void test_http_srv_reply_and_headers(void **state)
{
    struct test_ctx *c = *state;
    const char req[] = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                       "X-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e\r\n"
                       "Connection: close\r\n\r\nhello";
    char *out = test_http(http_srv_port(c->srv), req, sizeof(req) - 1);

    assert_non_null(strstr(out, "HTTP/1.1 200"));
    assert_non_null(strstr(out, "Content-Type: application/json"));
    assert_non_null(strstr(out, "X-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e"));
    assert_non_null(strstr(out, "{\"body\":\"hello\"}"));
    free(out);
}

static void test_http_srv_body_cap(void **state)
{
    struct test_ctx *c = *state;
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n"
                     "Connection: close\r\n\r\n");
    char *out;

    memset(req + n, 'x', 1001);
    out = test_http(http_srv_port(c->srv), req, (size_t)n + 1001);
    assert_non_null(strstr(out, "HTTP/1.1 413"));
    assert_non_null(strstr(out, "\"code\":\"too_large\""));
    assert_non_null(strstr(out, "\"field\":\"body\""));
    free(out);
}

static void test_http_srv_error_decorated_and_counted(void **state)
{
    struct test_ctx *c = *state;
    json_t *errs;
    char *out = test_get(http_srv_port(c->srv), "/error");

    assert_non_null(strstr(out, "HTTP/1.1 400"));
    assert_non_null(strstr(out, "\"code\":\"invalid_request\""));
    assert_non_null(strstr(out, "\"field\":\"field_x\""));
    assert_non_null(strstr(out, "\"dialect_echo\":\"bad thing\""));
    assert_non_null(strstr(out, "\"request_id\":\""));
    free(out);
    errs = http_srv_errors_json(c->srv);
    assert_int_equal(json_integer_value(json_object_get(errs, "invalid_request")), 1);
    json_decref(errs);
}

static void test_http_srv_suspend_paths(void **state)
{
    static const struct {
        const char *path;
        const char *status;
        const char *body;
    } cases[] = {
        {"/complete-first", "HTTP/1.1 202", "\"completed\":\"first\""},
        {"/wake-first", "HTTP/1.1 200", "\"woken\":\"yes\""},
        {"/wake-later", "HTTP/1.1 200", "\"woken\":\"yes\""},
        {"/complete-later", "HTTP/1.1 201", "\"completed\":\"later\""},
    };
    struct test_ctx *c = *state;

    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            char *out = test_get(http_srv_port(c->srv), cases[i].path);

            if (!strstr(out, cases[i].status) || !strstr(out, cases[i].body))
                fail_msg("%s: %s", cases[i].path, out);
            free(out);
        }
    }
}

static void test_http_srv_oom_and_unknown(void **state)
{
    struct test_ctx *c = *state;
    char *out = test_get(http_srv_port(c->srv), "/oom");

    assert_non_null(strstr(out, "HTTP/1.1 503"));
    assert_non_null(strstr(out, "Retry-After: 1"));
    assert_non_null(strstr(out, "\"code\":\"busy\""));
    free(out);
    out = test_get(http_srv_port(c->srv), "/nope");
    assert_non_null(strstr(out, "HTTP/1.1 404"));
    assert_non_null(strstr(out, "no such endpoint: GET /nope"));
    free(out);
}

static void test_http_srv_data_freed_once_per_request(void **state)
{
    struct test_ctx *c = *state;
    int before = atomic_load(&c->app.freed);

    for (int i = 0; i < 10; i++)
        free(test_get(http_srv_port(c->srv), i % 2 ? "/wake-later" : "/complete-first"));
    http_srv_drain(c->srv, 2000);
    assert_int_equal(atomic_load(&c->app.freed) - before, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_srv_reply_and_headers),
        cmocka_unit_test(test_http_srv_body_cap),
        cmocka_unit_test(test_http_srv_error_decorated_and_counted),
        cmocka_unit_test(test_http_srv_suspend_paths),
        cmocka_unit_test(test_http_srv_oom_and_unknown),
        cmocka_unit_test(test_http_srv_data_freed_once_per_request),
    };

    return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
