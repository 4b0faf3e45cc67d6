/* fdio.c - fd helpers. */
#include "fdio.h"

#include <errno.h>
#include <stdio.h>
#include <ftw.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int fdio_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int fdio_read_all(int fd, size_t max, char **out, size_t *out_len)
{
    size_t cap = 4096, len = 0;
    char *p = malloc(cap), *q;
    int r = 0;

    if (!p)
        return -ENOMEM;
    for (;;) {
        ssize_t n;

        if (len + 1 >= cap) {
            if (cap > max) {
                r = -E2BIG;
                goto fail;
            }
            q = realloc(p, cap * 2);
            if (!q) {
                r = -ENOMEM;
                goto fail;
            }
            p = q;
            cap *= 2;
        }
        n = read(fd, p + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            r = -E2BIG;
            goto fail;
        }
    }
    p[len] = '\0';
    *out = p;
    *out_len = len;
    return 0;
fail:
    free(p);
    return r;
}

int fdio_set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -errno;
    fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

void fdio_close(int *fd)
{
    int saved = errno;

    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    errno = saved;
}

/* nftw's callback for fdio_rm_tree: each entry after what it holds (FTW_DEPTH). */
static int fdio_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0;
}

void fdio_rm_tree(const char *path)
{
    (void)nftw(path, fdio_rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
