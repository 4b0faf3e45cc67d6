/* token.c - the orchestrator/agent shared secret (see token.h). */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "fdio.h"

/* Checks the token's characters and length. */
static int token_check(const char *t, size_t n)
{
    if (n < TOKEN_MIN || n > TOKEN_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (t[i] <= 0x20 || t[i] >= 0x7f)
            return -EINVAL;
    }
    return 0;
}

int token_load(const char *value, const char *path, char *out, size_t size, const char *field_value,
               const char *field_file, struct err *e)
{
    char *buf = NULL;
    size_t n = 0, len;
    int fd, r = 0;

    out[0] = '\0';
    if (value && *value) {
        if (token_check(value, strlen(value)) < 0 || strlen(value) >= size) {
            err_set(e, ERR_INVALID, field_value,
                    "the token must be %d to %d printable characters without spaces", TOKEN_MIN,
                    TOKEN_MAX);
            return -EINVAL;
        }
        memcpy(out, value, strlen(value) + 1);
        return 1;
    }
    if (!path || !*path)
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || (r = fdio_read_all(fd, 4096, &buf, &n)) < 0) {
        err_set(e, ERR_INVALID, field_file, "cannot read '%s': %s", path,
                strerror(fd < 0 ? errno : -r));
        if (fd >= 0)
            close(fd);
        return -EINVAL;
    }
    close(fd);
    len = strcspn(buf, "\r\n"); /* fdio_read_all NUL-terminates */
    if (token_check(buf, len) < 0 || len >= size) {
        err_set(e, ERR_INVALID, field_file,
                "'%s' must hold one line of %d to %d printable characters without spaces", path,
                TOKEN_MIN, TOKEN_MAX);
        free(buf);
        return -EINVAL;
    }
    memcpy(out, buf, len);
    out[len] = '\0';
    explicit_bzero(buf, n);
    free(buf);
    return 1;
}

int token_generate(char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];

    if (size < 2 * sizeof(raw) + 1)
        return -ENOBUFS;
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -EIO;
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * sizeof(raw)] = '\0';
    return 0;
}

int token_write(const char *path, const char *token)
{
    int fd, r = 0;

    (void)unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if (fdio_write_all(fd, token, strlen(token)) < 0 || fdio_write_all(fd, "\n", 1) < 0)
        r = -EIO;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    return r;
}

bool token_equal(const char *got, const char *want)
{
    size_t n, m = strlen(want);
    unsigned char d;

    if (!got)
        return false;
    n = strnlen(got, m + 1);
    d = n != m;
    for (size_t i = 0; i < m; i++)
        d |= (unsigned char)want[i] ^ (unsigned char)(i < n ? got[i] : 0);
    return d == 0 && m > 0;
}
