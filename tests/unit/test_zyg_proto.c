/* test_zyg_proto.c - the zygote wire format: round trips and rejection of malformed input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../sandbox/zyg_proto.c"

static void test_job_round_trip(void **state)
{
    struct zyg_job in = {.job_id = 0x1122334455667788ull,
                         .timeout_ms = 1500,
                         .flags = ZYG_JOB_EXEC | ZYG_JOB_CRASH,
                         .compile_ms = 30000,
                         .disk_mb = 64,
                         .cpu_millis = 500},
                   out;
    uint8_t buf[256];
    const uint8_t *body;
    size_t blen;
    int n;

    (void)state;
    strcpy(in.exec_id, "0f8e3c1a-1d2b-4c3d-8e4f-5a6b7c8d9e0f");
    n = zyg_proto_encode_job(&in, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen), ZYG_MSG_JOB);
    assert_int_equal(zyg_proto_decode_job(body, blen, &out), 0);
    assert_true(out.job_id == in.job_id);
    assert_int_equal(out.timeout_ms, 1500);
    assert_int_equal(out.flags, ZYG_JOB_EXEC | ZYG_JOB_CRASH);
    assert_int_equal(out.compile_ms, 30000);
    assert_int_equal(out.disk_mb, 64);
    assert_int_equal(out.cpu_millis, 500);
    assert_int_equal(out.memory_mb, 0);
    assert_string_equal(out.exec_id, in.exec_id);
    assert_true(out.session_no == 0);
    in.session_no = 77;
    n = zyg_proto_encode_job(&in, buf, sizeof(buf));
    assert_int_equal(zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen), ZYG_MSG_JOB);
    assert_int_equal(zyg_proto_decode_job(body, blen, &out), 0);
    assert_true(out.session_no == 77);
}

static void test_sess_cmd(void **state)
{
    struct zyg_sess_cmd in = {.op = ZYG_SESS_FORK,
                              .flags = ZYG_SESS_SHARE_WS,
                              .sess_no = 5,
                              .new_no = 9,
                              .memory_mb = 256,
                              .pids = 32,
                              .disk_mb = 64},
                        out;
    uint8_t buf[256];
    const uint8_t *body;
    size_t blen;
    int n;

    (void)state;
    strcpy(in.name, "s-0011aabb-0123456789ab");
    n = zyg_proto_encode_sess_cmd(&in, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen), ZYG_MSG_SESS);
    assert_int_equal(zyg_proto_decode_sess_cmd(body, blen, &out), 0);
    assert_int_equal(out.op, ZYG_SESS_FORK);
    assert_int_equal(out.flags, ZYG_SESS_SHARE_WS);
    assert_true(out.sess_no == 5 && out.new_no == 9);
    assert_int_equal(out.memory_mb, 256);
    assert_int_equal(out.pids, 32);
    assert_int_equal(out.disk_mb, 64);
    assert_string_equal(out.name, in.name);
    /* A name that could walk out of the work root, an unknown op, session 0, a cut body. */
    strcpy(in.name, "../etc");
    n = zyg_proto_encode_sess_cmd(&in, buf, sizeof(buf));
    (void)zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen);
    assert_int_equal(zyg_proto_decode_sess_cmd(body, blen, &out), -EBADMSG);
    in.op = ZYG_SESS_KILL; /* KILL carries no name: not checked */
    n = zyg_proto_encode_sess_cmd(&in, buf, sizeof(buf));
    (void)zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen);
    assert_int_equal(zyg_proto_decode_sess_cmd(body, blen, &out), 0);
    assert_string_equal(out.name, "");
    in.op = 99;
    n = zyg_proto_encode_sess_cmd(&in, buf, sizeof(buf));
    (void)zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen);
    assert_int_equal(zyg_proto_decode_sess_cmd(body, blen, &out), -EBADMSG);
    in.op = ZYG_SESS_KILL;
    in.sess_no = 0;
    n = zyg_proto_encode_sess_cmd(&in, buf, sizeof(buf));
    (void)zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen);
    assert_int_equal(zyg_proto_decode_sess_cmd(body, blen, &out), -EBADMSG);
    assert_int_equal(zyg_proto_decode_sess_cmd(body, blen - 1, &out), -EBADMSG);
}

static void test_sess_event(void **state)
{
    struct zyg_sess_event in = {.kind = ZYG_SEV_DEAD,
                                .flags = ZYG_ST_OOM,
                                .sess_no = 3,
                                .pid = 4242,
                                .uid = 2000007,
                                .wait_status = 9,
                                .err = 0},
                          out;
    uint8_t buf[64];
    const uint8_t *body;
    size_t blen;
    int n;

    (void)state;
    n = zyg_proto_encode_sess_event(&in, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen), ZYG_MSG_SESS_EVENT);
    assert_int_equal(zyg_proto_decode_sess_event(body, blen, &out), 0);
    assert_memory_equal(&in, &out, sizeof(in));
    in.kind = 0;
    n = zyg_proto_encode_sess_event(&in, buf, sizeof(buf));
    (void)zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen);
    assert_int_equal(zyg_proto_decode_sess_event(body, blen, &out), -EBADMSG);
    assert_int_equal(zyg_proto_encode_sess_event(&in, buf, 8), -ENOBUFS);
}

static void test_job_rejects_bad_ids(void **state)
{
    static const char *const bad[] = {"", "../etc", "a/b", "a b", "a.b", "x\n"};
    struct zyg_job in = {.job_id = 1, .timeout_ms = 1}, out;
    uint8_t buf[256];
    const uint8_t *body;
    size_t blen;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int n;

        memset(in.exec_id, 0, sizeof(in.exec_id));
        strcpy(in.exec_id, bad[i]);
        n = zyg_proto_encode_job(&in, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen), ZYG_MSG_JOB);
        if (zyg_proto_decode_job(body, blen, &out) != -EBADMSG)
            fail_msg("exec id '%s' was accepted", bad[i]);
    }
}

static void test_cancel_and_ready(void **state)
{
    uint8_t buf[128];
    const uint8_t *body;
    size_t blen;
    uint64_t id = 0;
    int n;

    (void)state;
    n = zyg_proto_encode_cancel(42, buf, sizeof(buf));
    assert_int_equal(zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen), ZYG_MSG_CANCEL);
    assert_int_equal(zyg_proto_decode_cancel(body, blen, &id), 0);
    assert_true(id == 42);
    n = zyg_proto_encode_ready("{}", 2, buf, sizeof(buf));
    assert_int_equal(zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen), ZYG_MSG_READY);
    assert_int_equal(blen, 2);
    assert_memory_equal(body, "{}", 2);
    /* Too small an output buffer is refused, never overrun. */
    assert_int_equal(zyg_proto_encode_ready("{}", 2, buf, 13), -ENOBUFS);
}

static void test_hdr_rejects(void **state)
{
    uint8_t buf[64];
    const uint8_t *body;
    size_t blen;
    int n;

    (void)state;
    n = zyg_proto_encode_cancel(7, buf, sizeof(buf));
    assert_int_equal(zyg_proto_decode_hdr(buf, 0, &body, &blen), -EBADMSG);
    assert_int_equal(zyg_proto_decode_hdr(buf, 11, &body, &blen), -EBADMSG);
    assert_int_equal(zyg_proto_decode_hdr(buf, (size_t)n - 1, &body, &blen), -EBADMSG);
    buf[0] ^= 1;
    assert_int_equal(zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen), -EBADMSG);
    buf[0] ^= 1;
    buf[4] = 99;
    assert_int_equal(zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen), -EBADMSG);
    assert_int_equal(zyg_proto_decode_cancel(buf, 7, &(uint64_t){0}), -EBADMSG);
}

static void test_status_round_trip(void **state)
{
    struct zyg_status in = {.wait_status = 0x8b00,
                            .flags = ZYG_ST_TIMED_OUT,
                            .err = 0,
                            .cpu_us = 123456789,
                            .max_rss_kb = 65536,
                            .wall_us = -1},
                      out;
    uint8_t rec[ZYG_STATUS_SIZE];

    (void)state;
    assert_int_equal(zyg_proto_encode_status(&in, rec, sizeof(rec)), ZYG_STATUS_SIZE);
    assert_int_equal(zyg_proto_decode_status(rec, sizeof(rec), &out), 0);
    assert_int_equal(out.wait_status, in.wait_status);
    assert_int_equal(out.flags, in.flags);
    assert_int_equal(out.err, in.err);
    assert_true(out.cpu_us == in.cpu_us && out.max_rss_kb == in.max_rss_kb);
    assert_true(out.wall_us == in.wall_us);
    assert_int_equal(zyg_proto_decode_status(rec, sizeof(rec) - 1, &out), -EBADMSG);
    rec[1] ^= 0xff;
    assert_int_equal(zyg_proto_decode_status(rec, sizeof(rec), &out), -EBADMSG);
}

/* The per-execution work directory, one function for the agent, the zygote and the child. */
static void test_workdir(void **state)
{
    char out[64], tiny[9]; /* "/tmp/w/a" and its NUL, exactly */
    /* Not constants, so the compiler does not refuse the truncation the test asks for. */
    volatile size_t tiny_size = sizeof(tiny);
    const char *volatile abc = "abc", *volatile a = "a";

    (void)state;
    assert_int_equal(zyg_proto_workdir("/tmp/w", "abc", out, sizeof(out)), 0);
    assert_string_equal(out, "/tmp/w/abc");
    /* Cut would name another directory: refused instead. */
    assert_int_equal(zyg_proto_workdir("/tmp/w", abc, tiny, tiny_size), -ENAMETOOLONG);
    assert_int_equal(zyg_proto_workdir("/tmp/w", a, tiny, tiny_size), 0);
    assert_string_equal(tiny, "/tmp/w/a");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_round_trip),    cmocka_unit_test(test_job_rejects_bad_ids),
        cmocka_unit_test(test_cancel_and_ready),  cmocka_unit_test(test_hdr_rejects),
        cmocka_unit_test(test_status_round_trip), cmocka_unit_test(test_workdir),
        cmocka_unit_test(test_sess_cmd),          cmocka_unit_test(test_sess_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
