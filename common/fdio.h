/* fdio.h - file-descriptor helpers that retry EINTR and short transfers. */
#ifndef SANDPIT_FDIO_H
#define SANDPIT_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all n bytes (blocking fd); 0 or -errno. */
int fdio_write_all(int fd, const void *p, size_t n);
/* Reads until EOF into a new buffer (free with free()), at most max bytes; 0, -E2BIG, -errno. */
int fdio_read_all(int fd, size_t max, char **out, size_t *out_len);
/* Sets or clears O_NONBLOCK; 0 or -errno. */
int fdio_set_nonblock(int fd, int on);
/* Closes *fd when >= 0 and sets it to -1, keeping errno. */
void fdio_close(int *fd);
/* Removes path and everything beneath it, best effort: no symlink is followed and no other
 * file system entered (nftw FTW_PHYS | FTW_MOUNT). */
void fdio_rm_tree(const char *path);

#endif
