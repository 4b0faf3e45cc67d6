/* test_toxics.c - the shaping proxy's pure logic (token bucket, latency schedule, slicer, head
 * parser and rewrite, queue costs) table-driven, plus the proxy's session API over loopback:
 * the channel protocol, counters, and that closing a session leaves no fd behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../netshape/toxics.c"
#include "../../netshape/proxy_resolver.c"
#include "../../netshape/proxy_engine.c"
#include "../../netshape/proxy_listen.c"
#include "../../netshape/proxy_conn.c"
#include "../../netshape/proxy_http.c"
#include "../../netshape/proxy_relay.c"
#include "../../netshape/proxy.c"
#include "../../netshape/proxy_guard.c"

#include <dirent.h>
#include <sys/time.h>

#define MS 1000000LL

/* -- token bucket --------------------------------------------------------------------------- */

static void test_bucket_rate(void **state)
{
    struct toxics_bucket b;
    int64_t t = 1000 * MS, wake = 0, start = t;
    size_t sent = 0;

    (void)state;
    toxics_bucket_init(&b, 100000, t); /* 800 kbit/s: burst 2000 bytes (20 ms) */
    assert_int_equal(toxics_bucket_avail(&b, 5000, t, &wake), 2000);
    toxics_bucket_consume(&b, 2000);
    assert_int_equal(toxics_bucket_avail(&b, 5000, t, &wake), 0);
    assert_true(wake == t + 20 * MS);
    /* Half-way there is not enough for a full burst: still wait, same wake-up. */
    assert_int_equal(toxics_bucket_avail(&b, 5000, t + 10 * MS, &wake), 0);
    assert_true(wake == t + 20 * MS);
    /* A small want is served as soon as it is covered. */
    assert_int_equal(toxics_bucket_avail(&b, 500, t + 10 * MS, &wake), 500);
    /* 200 000 bytes through the bucket take 2 s minus the initial burst. */
    toxics_bucket_init(&b, 100000, t);
    while (sent < 200000) {
        size_t n = toxics_bucket_avail(&b, 200000 - sent, t, &wake);

        if (n == 0) {
            assert_true(wake > t);
            t = wake;
            continue;
        }
        toxics_bucket_consume(&b, n);
        sent += n;
    }
    assert_true(t - start >= 1970 * MS && t - start <= 2000 * MS);
}

static void test_bucket_edges(void **state)
{
    struct toxics_bucket b;
    int64_t wake = 0;

    (void)state;
    toxics_bucket_init(&b, 0, 0); /* unlimited */
    assert_int_equal(toxics_bucket_avail(&b, 1 << 30, 0, &wake), 1 << 30);
    /* Hours idle at a huge rate: no overflow, capped at the burst. */
    toxics_bucket_init(&b, 12500000000LL, 0);
    toxics_bucket_consume(&b, (size_t)b.burst);
    assert_int_equal(toxics_bucket_avail(&b, SIZE_MAX / 2, 3600000 * MS, &wake), b.burst);
    /* Tiny rates still have a usable burst. */
    toxics_bucket_init(&b, 10, 0);
    assert_int_equal(b.burst, 256);
    assert_int_equal(toxics_bucket_avail(&b, 1000, 0, &wake), 256);
    toxics_bucket_consume(&b, 256);
    assert_int_equal(toxics_bucket_avail(&b, 1, 0, &wake), 0);
    assert_true(wake == 100 * MS); /* 1 byte at 10 B/s */
}

/* -- latency and jitter --------------------------------------------------------------------- */

struct fake_rng {
    const uint64_t *v;
    size_t n, i;
};

static uint64_t fake_rng_next(void *ctx)
{
    struct fake_rng *r = ctx;

    return r->v[r->i++ % r->n];
}

static void test_sched_latency_and_order(void **state)
{
    /* span = 2 * 50 ms + 1 ns: 0 -> -50 ms, span-1 -> +50 ms. */
    const uint64_t span = 2 * 50 * MS + 1;
    const uint64_t seq[] = {span - 1, 0, 50 * MS};
    struct fake_rng r = {.v = seq, .n = 3};
    struct toxics_sched s;

    (void)state;
    toxics_sched_init(&s, 200, 0, NULL, NULL);
    assert_true(toxics_sched_due(&s, 1000 * MS) == 1200 * MS);
    assert_true(toxics_sched_due(&s, 1001 * MS) == 1201 * MS);

    toxics_sched_init(&s, 200, 50, fake_rng_next, &r);
    assert_true(toxics_sched_due(&s, 0) == 250 * MS); /* +50 */
    /* -50 would be 160 ms, before the previous chunk: held to 250 (order kept). */
    assert_true(toxics_sched_due(&s, 10 * MS) == 250 * MS);
    assert_true(toxics_sched_due(&s, 100 * MS) == 300 * MS); /* +0 */

    /* Jitter larger than the latency never delivers before arrival. */
    r.i = 1;
    toxics_sched_init(&s, 10, 50, fake_rng_next, &r);
    assert_true(toxics_sched_due(&s, 5000 * MS) == 5000 * MS);
}

static void test_sched_jitter_spread(void **state)
{
    uint64_t seed = 42;
    struct toxics_sched s;
    int64_t lo = INT64_MAX, hi = 0, sum = 0;
    const int n = 10000;

    (void)state;
    toxics_sched_init(&s, 100, 40, toxics_rng_splitmix, &seed);
    for (int i = 0; i < n; i++) {
        int64_t arrival = (int64_t)i * 1000 * MS; /* far apart: ordering never interferes */
        int64_t d = toxics_sched_due(&s, arrival) - arrival;

        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        sum += d;
    }
    assert_true(lo >= 60 * MS && lo < 62 * MS);
    assert_true(hi <= 140 * MS && hi > 138 * MS);
    assert_true(sum / n > 98 * MS && sum / n < 102 * MS);
}

/* -- slicer --------------------------------------------------------------------------------- */

static void test_slicer(void **state)
{
    struct toxics_slicer s;
    int64_t wake = 0;

    (void)state;
    toxics_slicer_init(&s, 0, 10);
    assert_true(toxics_slicer_avail(&s, 0, &wake) == SIZE_MAX);
    toxics_slicer_init(&s, 100, 10);
    assert_int_equal(toxics_slicer_avail(&s, 0, &wake), 100);
    toxics_slicer_consume(&s, 60, 0); /* a short write: the segment goes on */
    assert_int_equal(toxics_slicer_avail(&s, 1 * MS, &wake), 40);
    toxics_slicer_consume(&s, 40, 2 * MS);
    assert_int_equal(toxics_slicer_avail(&s, 5 * MS, &wake), 0);
    assert_true(wake == 12 * MS);
    assert_int_equal(toxics_slicer_avail(&s, 12 * MS, &wake), 100);
}

/* -- request head --------------------------------------------------------------------------- */

struct head_case {
    const char *in;
    int rc;
    enum toxics_head_kind kind;
    const char *host;
    int port;
    const char *path; /* as found in the request, NULL = not checked */
};

static void test_head_parse_table(void **state)
{
    static const struct head_case cases[] = {
        {"GET http://example.com/a/b?c=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", 0,
         TOXICS_HEAD_FORWARD, "example.com", 80, "/a/b?c=1"},
        {"GET http://Example.COM:8080 HTTP/1.0\r\n\r\n", 0, TOXICS_HEAD_FORWARD, "example.com",
         8080, ""},
        {"POST HTTP://h/x#frag HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 0, TOXICS_HEAD_FORWARD,
         "h", 80, "/x"},
        {"GET http://h?q HTTP/1.1\n\n", 0, TOXICS_HEAD_FORWARD, "h", 80, "?q"},
        {"GET http://[::1]:81/ HTTP/1.1\r\n\r\n", 0, TOXICS_HEAD_FORWARD, "::1", 81, "/"},
        {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 0,
         TOXICS_HEAD_CONNECT, "example.com", 443, NULL},
        {"CONNECT [2001:DB8::1]:8443 HTTP/1.1\r\n\r\n", 0, TOXICS_HEAD_CONNECT, "2001:db8::1", 8443,
         NULL},
        {"GET http://example.com/ HTTP/1.1\r\nHost: x\r\n", -EAGAIN},
        {"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", -EINVAL},
        {"GET * HTTP/1.1\r\n\r\n", -EINVAL},
        {"GET https://example.com/ HTTP/1.1\r\n\r\n", -EINVAL},
        {"GET ftp://example.com/ HTTP/1.1\r\n\r\n", -EINVAL},
        {"GET http://example.com/ HTTP/2.0\r\n\r\n", -EINVAL},
        {"GET http://example.com/ HTTP/1.1 x\r\n\r\n", -EINVAL},
        {"GET  http://example.com/ HTTP/1.1\r\n\r\n", -EINVAL},
        {"G(T http://example.com/ HTTP/1.1\r\n\r\n", -EINVAL},
        {"\x16\x03\x01\x02\x01\x01\xfc\x03\x03", -EINVAL}, /* TLS: refused at once */
        {"GET\x01", -EINVAL},
        {"GET http://a/", -EAGAIN},
        {"CONNECT example.com HTTP/1.1\r\n\r\n", -EINVAL},
        {"CONNECT example.com:0 HTTP/1.1\r\n\r\n", -EINVAL},
        {"CONNECT example.com:65536 HTTP/1.1\r\n\r\n", -EINVAL},
        {"CONNECT [::1 HTTP/1.1\r\n\r\n", -EINVAL},
        {"CONNECT ::1:80 HTTP/1.1\r\n\r\n", -EINVAL},
        {"GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n", -EINVAL},
        {"GET http://exa mple.com/ HTTP/1.1\r\n\r\n", -EINVAL},
        {"GET http://ex%41mple.com/ HTTP/1.1\r\n\r\n", -EINVAL},
        {"GET http:/// HTTP/1.1\r\n\r\n", -EINVAL},
        {"GET http://example.com/ HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", -EINVAL},
        {"GET http://example.com/ HTTP/1.1\r\nno colon\r\n\r\n", -EINVAL},
        {"GET http://example.com/ HTTP/1.1\r\nBad Name: 1\r\n\r\n", -EINVAL},
        {"GET http://example.com/ HTTP/1.1\r\n: empty\r\n\r\n", -EINVAL},
        {"GET http://example.com/ HTTP/1.1\r\nX: a\x01z\r\n\r\n", -EINVAL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct head_case *t = &cases[i];
        struct toxics_head h;
        const char *why = NULL;
        int rc = toxics_head_parse(t->in, strlen(t->in), &h, &why);

        if (rc != t->rc)
            fail_msg("case %zu '%s': rc %d, want %d (%s)", i, t->in, rc, t->rc, why);
        assert_non_null(why);
        if (rc == -EINVAL && !*why)
            fail_msg("case %zu: no reason given", i);
        if (rc != 0)
            continue;
        assert_int_equal(h.kind, t->kind);
        assert_string_equal(h.host, t->host);
        assert_int_equal(h.port, t->port);
        if (t->path &&
            (h.path_len != strlen(t->path) || memcmp(t->in + h.path_off, t->path, h.path_len) != 0))
            fail_msg("case %zu: path '%.*s', want '%s'", i, (int)h.path_len, t->in + h.path_off,
                     t->path);
    }
}

static void test_head_reasons_and_sizes(void **state)
{
    char *big = malloc(TOXICS_HEAD_MAX + 10);
    struct toxics_head h;
    const char *why;
    static const char https[] = "GET https://example.com/ HTTP/1.1\r\n\r\n";
    static const char nul[] = "GET http://a/ HTTP/1.1\r\nX: a\0b\r\n\r\n";

    (void)state;
    assert_int_equal(toxics_head_parse(https, strlen(https), &h, &why), -EINVAL);
    assert_non_null(strstr(why, "CONNECT"));
    assert_int_equal(toxics_head_parse(nul, sizeof(nul) - 1, &h, &why), -EINVAL);
    /* No end of head within 16 KiB: 431; just under and unfinished: wait for more. */
    memset(big, 'a', TOXICS_HEAD_MAX + 10);
    memcpy(big, "GET http://a/ HTTP/1.1\r\nX: ", 27);
    assert_int_equal(toxics_head_parse(big, TOXICS_HEAD_MAX + 10, &h, &why), -E2BIG);
    assert_int_equal(toxics_head_parse(big, TOXICS_HEAD_MAX - 1, &h, &why), -EAGAIN);
    /* A head that ends exactly at the cap is fine; the body after it is not part of it. */
    memcpy(big + TOXICS_HEAD_MAX - 4, "\r\n\r\nBODY", 8);
    assert_int_equal(toxics_head_parse(big, TOXICS_HEAD_MAX + 4, &h, &why), 0);
    assert_int_equal(h.head_len, TOXICS_HEAD_MAX);
    free(big);
}

static void test_head_rewrite(void **state)
{
    static const char in[] = "POST http://Example.com:8080/up?x=1#f HTTP/1.1\r\n"
                             "Host: evil.example\r\n"
                             "Proxy-Connection: keep-alive\r\n"
                             "proxy-authorization: Basic Zm9vOmJhcg==\r\n"
                             "Connection: keep-alive\r\n"
                             "Keep-Alive: timeout=5\r\n"
                             "Content-Length: 4\n"
                             "X-Connection-Id: 7\r\n"
                             "\r\n"
                             "body";
    static const char want[] = "POST /up?x=1 HTTP/1.1\r\n"
                               "Content-Length: 4\r\n"
                               "X-Connection-Id: 7\r\n"
                               "Host: example.com:8080\r\n"
                               "Connection: close\r\n\r\n";
    static const char in2[] = "GET http://[::1] HTTP/1.0\r\n\r\n";
    static const char want2[] = "GET / HTTP/1.0\r\nHost: [::1]\r\nConnection: close\r\n\r\n";
    static const char in3[] = "GET http://h?q=1 HTTP/1.1\r\n\r\n";
    static const char want3[] = "GET /?q=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    struct toxics_head h;
    const char *why;
    char out[1024];
    long n;

    (void)state;
    assert_int_equal(toxics_head_parse(in, sizeof(in) - 1, &h, &why), 0);
    n = toxics_head_rewrite(in, &h, out, sizeof(out));
    assert_int_equal(n, (long)strlen(want));
    assert_memory_equal(out, want, (size_t)n);
    assert_int_equal(toxics_head_rewrite(in, &h, out, 20), -ENOBUFS);
    assert_int_equal(toxics_head_rewrite(in, &h, out, (size_t)n - 1), -ENOBUFS);
    assert_int_equal(toxics_head_parse(in2, sizeof(in2) - 1, &h, &why), 0);
    n = toxics_head_rewrite(in2, &h, out, sizeof(out));
    assert_int_equal(n, (long)strlen(want2));
    assert_memory_equal(out, want2, (size_t)n);
    assert_int_equal(toxics_head_parse(in3, sizeof(in3) - 1, &h, &why), 0);
    n = toxics_head_rewrite(in3, &h, out, sizeof(out));
    assert_int_equal(n, (long)strlen(want3));
    assert_memory_equal(out, want3, (size_t)n);
}

/* The worst case for the rewrite's size: a 16 KiB head of minimal bare-LF header lines, each
 * of which grows by a CR. TOXICS_REWRITE_MAX must hold it. */
static void test_head_rewrite_worst_case(void **state)
{
    static char in[TOXICS_HEAD_MAX], out[TOXICS_REWRITE_MAX];
    static const char line0[] = "GET http://h HTTP/1.1\n";
    struct toxics_head h;
    const char *why;
    size_t n = sizeof(line0) - 1;
    long w;

    (void)state;
    memcpy(in, line0, n);
    while (n + 4 <= TOXICS_HEAD_MAX - 1) {
        memcpy(in + n, "a:\n", 3);
        n += 3;
    }
    in[n++] = '\n';
    assert_int_equal(toxics_head_parse(in, n, &h, &why), 0);
    w = toxics_head_rewrite(in, &h, out, sizeof(out));
    assert_true(w > (long)n);
    assert_memory_equal(out + w - 21, "Connection: close\r\n\r\n", 21);
}

static void test_reply_parse(void **state)
{
    static const struct {
        const char *in;
        int rc, status;
        size_t head_len;
    } cases[] = {
        {"HTTP/1.1 200 Connection established\r\n\r\nxyz", 0, 200, 39},
        {"HTTP/1.0 200\r\n\r\n", 0, 200, 16},
        {"HTTP/1.1 403 Forbidden\r\nX: y\r\n\r\n", 0, 403, 32},
        {"HTTP/1.1 200 OK\r\n", -EAGAIN, 0, 0},
        {"HTTP/2 200 OK\r\n\r\n", -EINVAL, 0, 0},
        {"HTTP/1.1 2x0 OK\r\n\r\n", -EINVAL, 0, 0},
        {"HTTP/1.1 2000 OK\r\n\r\n", -EINVAL, 0, 0},
        {"SSH-2.0-OpenSSH\r\n\r\n", -EINVAL, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int status = 0, rc;
        size_t hl = 0;

        rc = toxics_reply_parse(cases[i].in, strlen(cases[i].in), &status, &hl);
        if (rc != cases[i].rc ||
            (rc == 0 && (status != cases[i].status || hl != cases[i].head_len)))
            fail_msg("case %zu: rc %d status %d len %zu", i, rc, status, hl);
    }
}

/* Queued bytes are charged by what they cost, small segments share chunks, and the flow and
 * session caps stop reading instead of growing. */
static void test_relay_cost(void **state)
{
    struct proxy_session s = {0};
    struct proxy_flow f = {0}, g = {0};
    size_t one = proxy_chunk_cost(PROXY_CHUNK_MIN), n = 0;

    (void)state;
    /* Unshaped: everything is due now, so 1-byte pushes fill 512-byte chunks. */
    proxy_relay_flow_init(&s, &f, false, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(proxy_relay_push(&f, "x", 1, true, i * 1000), 0);
    assert_int_equal(f.queued, 1000);
    assert_int_equal(f.cost, 2 * one);
    assert_int_equal(s.queue_cost, 2 * one);
    proxy_relay_flow_clear(&f);
    assert_int_equal(s.queue_cost, 0);
    /* An hour of latency, 1-byte segments 2 ms apart: each is its own chunk and costs it. */
    s.conf.latency_ms = 3600000;
    proxy_relay_flow_init(&s, &f, false, 0);
    assert_true(f.shaped);
    while (proxy_relay_room(&f) > 0 && n < 100000)
        assert_int_equal(proxy_relay_push(&f, "x", 1, true, (int64_t)(n++) * 2000000), 0);
    assert_int_equal(f.queued, n);
    assert_true(n < PROXY_QUEUE_MAX / one + 2);
    assert_true(f.cost >= PROXY_QUEUE_MAX && f.cost < PROXY_QUEUE_MAX + one);
    assert_false(f.starved);
    /* The session cap: other flows fill the rest, then every one of them is starved. */
    proxy_relay_flow_init(&s, &g, false, 0);
    s.queue_cost = PROXY_SESSION_MAX;
    assert_int_equal(proxy_relay_room(&g), 0);
    assert_true(g.starved && s.starved);
    s.queue_cost = f.cost;
    proxy_relay_flow_clear(&f);
    proxy_relay_flow_clear(&g);
    assert_int_equal(s.queue_cost, 0);
}

static void test_hostport_parse(void **state)
{
    char host[TOXICS_HOST_MAX], small[4];
    int port = -5;

    (void)state;
    assert_int_equal(toxics_hostport_parse("a.b:1", 5, host, sizeof(host), &port, -1), 0);
    assert_string_equal(host, "a.b");
    assert_int_equal(port, 1);
    assert_int_equal(toxics_hostport_parse("a.b", 3, host, sizeof(host), &port, -1), -EINVAL);
    assert_int_equal(toxics_hostport_parse("a.b", 3, host, sizeof(host), &port, 0), 0);
    assert_int_equal(port, 0);
    assert_int_equal(toxics_hostport_parse("[::1]:+80", 9, host, sizeof(host), &port, 0), -EINVAL);
    assert_int_equal(toxics_hostport_parse("abcdef", 6, small, sizeof(small), &port, 0), -EINVAL);
    /* Only the first n bytes count. */
    assert_int_equal(toxics_hostport_parse("a.b:80xyz", 6, host, sizeof(host), &port, -1), 0);
    assert_int_equal(port, 80);
}

/* -- the proxy over loopback ---------------------------------------------------------------- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

/* A listening socket on 127.0.0.1, any port; returns the fd and sets *port. */
static int tcp_listen(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int tcp_accept(int lfd)
{
    struct timeval tv = {.tv_sec = 5};
    int fd;

    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Sends one TCP forward through a 'U' listener handed over the channel, as a child does;
 * malformed channel messages are dropped with their fds (count_fds at the end). */
static void test_proxy_channel_forward(void **state)
{
    struct proxy_conf conf = {0};
    struct proxy_counters c = {0};
    struct err e = {0};
    struct proxy *p;
    uint64_t sid = 0, sid2 = 0;
    int up_port, l_port, fds_before = count_fds(), child = -1, child2 = -1;
    int up = tcp_listen(&up_port), lfd, cli, srv, sv[2];
    char buf[16];

    (void)state;
    p = proxy_new(NULL, NULL, &e);
    assert_non_null(p);
    snprintf(conf.upstream_host, sizeof(conf.upstream_host), "127.0.0.1");
    conf.upstream_port = up_port;
    assert_int_equal(proxy_session_open(p, &conf, &sid, &child), 0);
    assert_true(fcntl(child, F_GETFD) & FD_CLOEXEC);
    /* A second session: its counters stay apart. */
    assert_int_equal(proxy_session_open(p, &conf, &sid2, &child2), 0);
    assert_true(sid != sid2);

    lfd = tcp_listen(&l_port);
    assert_int_equal(proxy_send_listener(child, 'U', lfd), 0);
    close(lfd); /* the proxy holds its own copy now */
    /* Malformed messages are dropped: a non-listening socket, a bad kind, no fd at all. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(proxy_send_listener(child, 'U', sv[0]), 0);
    assert_int_equal(proxy_send_listener(child, 'X', sv[1]), 0);
    assert_int_equal(send(child, "U", 1, 0), 1);
    /* Two fds in one message, and a message longer than a kind: dropped, their fds closed. */
    assert_int_equal(fdpass_send(child, "U", 1, sv, 2), 0);
    assert_int_equal(fdpass_send(child, "UUUUUUUUU", 9, sv, 1), 0);
    close(sv[0]);
    close(sv[1]);

    cli = tcp_connect(l_port);
    srv = tcp_accept(up);
    assert_int_equal(send(cli, "ping", 4, 0), 4);
    assert_int_equal(recv(srv, buf, sizeof(buf), MSG_WAITALL), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(send(srv, "pong!", 5, 0), 5);
    assert_int_equal(recv(cli, buf, 5, MSG_WAITALL), 5);
    assert_memory_equal(buf, "pong!", 5);
    /* Half-close travels: client EOF reaches the server, which can still answer. */
    shutdown(cli, SHUT_WR);
    assert_int_equal(recv(srv, buf, sizeof(buf), 0), 0);
    assert_int_equal(send(srv, "bye", 3, 0), 3);
    close(srv);
    assert_int_equal(recv(cli, buf, 3, MSG_WAITALL), 3);
    assert_int_equal(recv(cli, buf, sizeof(buf), 0), 0);
    close(cli);

    /* Closing the channel does not end the session. */
    close(child);
    cli = tcp_connect(l_port);
    srv = tcp_accept(up);
    assert_int_equal(send(cli, "x", 1, 0), 1);
    assert_int_equal(recv(srv, buf, 1, MSG_WAITALL), 1);

    assert_int_equal(proxy_session_counters(p, sid, &c), 0);
    assert_true(c.connections == 2 && c.bytes_up == 5 && c.bytes_down == 8);
    assert_int_equal(proxy_session_counters(p, sid2, &c), 0);
    assert_true(c.connections == 0 && c.bytes_up == 0);
    /* Closing the session with a connection open resets it; the listener is gone too. */
    assert_int_equal(proxy_session_close(p, sid, &c), 0);
    assert_true(c.connections == 2 && c.bytes_up == 5 && c.bytes_down == 8 && c.failed == 0);
    assert_true(recv(cli, buf, 1, 0) <= 0);
    close(cli);
    close(srv);
    assert_int_equal(proxy_session_close(p, sid, NULL), -ENOENT);
    assert_int_equal(proxy_session_counters(p, sid, &c), -ENOENT);
    assert_int_equal(proxy_session_close(p, sid2, NULL), 0);
    close(child2);
    proxy_free(p);
    close(up);
    assert_int_equal(count_fds(), fds_before);
}

static void test_proxy_api_rejects(void **state)
{
    static struct proxy_conf conf;
    struct err e = {0};
    struct proxy *p;
    uint64_t sid = 0;
    int child = -1, sv[2], port;

    (void)state;
    assert_null(proxy_new("no-port", NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    p = proxy_new("", NULL, &e);
    assert_non_null(p);
    conf.latency_ms = -1;
    assert_int_equal(proxy_session_open(p, &conf, &sid, &child), -EINVAL);
    conf.latency_ms = 0;
    conf.n_allow = 1;
    snprintf(conf.allow[0], sizeof(conf.allow[0]), "bad entry");
    assert_int_equal(proxy_session_open(p, &conf, &sid, &child), -EINVAL);
    snprintf(conf.allow[0], sizeof(conf.allow[0]), "*.example.com");
    conf.upstream_port = 80;
    snprintf(conf.upstream_host, sizeof(conf.upstream_host), "h:80");
    assert_int_equal(proxy_session_open(p, &conf, &sid, &child), -EINVAL);
    conf.upstream_port = 0;
    assert_int_equal(proxy_session_open(p, &conf, &sid, &child), 0);
    /* No upstream: a 'U' listener is refused (and its fd closed); so is a non-listener. */
    assert_int_equal(proxy_session_add_listener(p, sid, 'U', tcp_listen(&port)), -EINVAL);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(proxy_session_add_listener(p, sid, 'H', sv[0]), -EINVAL);
    assert_int_equal(fcntl(sv[0], F_GETFD), -1);
    close(sv[1]);
    assert_int_equal(proxy_session_add_listener(p, sid + 100, 'H', tcp_listen(&port)), -ENOENT);
    assert_int_equal(proxy_session_add_listener(p, sid, 'H', tcp_listen(&port)), 0);
    close(child);
    proxy_free(p); /* with the session still open */
    proxy_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_rate),
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_sched_latency_and_order),
        cmocka_unit_test(test_sched_jitter_spread),
        cmocka_unit_test(test_slicer),
        cmocka_unit_test(test_head_parse_table),
        cmocka_unit_test(test_head_reasons_and_sizes),
        cmocka_unit_test(test_head_rewrite),
        cmocka_unit_test(test_head_rewrite_worst_case),
        cmocka_unit_test(test_reply_parse),
        cmocka_unit_test(test_relay_cost),
        cmocka_unit_test(test_hostport_parse),
        cmocka_unit_test(test_proxy_channel_forward),
        cmocka_unit_test(test_proxy_api_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
