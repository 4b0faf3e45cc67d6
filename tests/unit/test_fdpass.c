/* test_fdpass.c - SCM_RIGHTS round trips over a socketpair. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/fdpass.c"

static void test_fdpass_round_trip(void **state)
{
    int sv[2], p[2], got[FDPASS_MAX], n = -1;
    char buf[16];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fdpass_send(sv[0], "job", 3, p, 2), 0);
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got, FDPASS_MAX, &n, 0), 3);
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "job", 3);
    /* The received descriptors are the pipe's ends, close-on-exec. */
    assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(got[1], "x", 1), 1);
    assert_int_equal(read(p[0], buf, 1), 1);
    for (int i = 0; i < 2; i++) {
        close(got[i]);
        close(p[i]);
        close(sv[i]);
    }
}

static void test_fdpass_extra_fds_are_closed(void **state)
{
    int sv[2], p[2], got[1], n = -1;
    char buf[4];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fdpass_send(sv[0], "a", 1, p, 2), 0);
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got, 1, &n, 0), 1);
    assert_int_equal(n, 1);
    close(got[0]);
    close(p[1]);
    /* Only p[0] and the received (closed) copy of p[1] ever existed: EOF now. */
    assert_int_equal(read(p[0], buf, 1), 0);
    close(p[0]);
    close(sv[0]);
    close(sv[1]);
}

static void test_fdpass_truncated_and_eof(void **state)
{
    int sv[2], p[2], got[2], n = -1;
    char buf[2];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fdpass_send(sv[0], "long message", 12, p, 1), 0);
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got, 2, &n, 0), -EMSGSIZE);
    assert_int_equal(n, 0);
    assert_int_equal(fdpass_send(sv[0], "x", 1, p, FDPASS_MAX + 1), -EINVAL);
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got, 2, &n, MSG_DONTWAIT), -EAGAIN);
    close(sv[0]);
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got, 2, &n, 0), 0);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fdpass_round_trip),
        cmocka_unit_test(test_fdpass_extra_fds_are_closed),
        cmocka_unit_test(test_fdpass_truncated_and_eof),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
