/* exec_io.c - the executions' I/O thread (see exec_io.h). */
#include "exec_io.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "fdio.h"
#include "log.h"

#define EXEC_IO_READ_CHUNK 65536
#define EXEC_IO_EVENTS     256

struct exec_io {
    const struct exec_io_ops *ops; /* static */
    void *arg;                     /* the ops' argument */
    pthread_t thread;
    int epfd;
    int evfd; /* wakes the thread */
};

void exec_io_streams_init(struct exec_io_streams *s, size_t max_output, size_t max_frame)
{
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < EXEC_IO_NSTREAMS; i++) {
        s->fds[i].s = s;
        s->fds[i].fd = -1;
        s->fds[i].which = i;
    }
    /* A default mutex needs no pthread_mutex_destroy on Linux: streams are embedded and may be
     * torn down twice (exec_io_streams_done after a failed start, then the exec's free). */
    pthread_mutex_init(&s->lock, NULL);
    buf_init(&s->out, max_output);
    buf_init(&s->err, max_output);
    buf_init(&s->res, max_frame);
}

int exec_io_streams_pipes(struct exec_io_streams *s, int child[EXEC_IO_NSTREAMS])
{
    int p[2];

    for (int i = 0; i < EXEC_IO_NSTREAMS; i++) {
        if (pipe2(p, O_CLOEXEC) < 0)
            return -errno;
        (void)fdio_set_nonblock(p[0], 1);
        s->fds[i].fd = p[0];
        child[i] = p[1];
    }
    /* Bigger pipes mean fewer wake-ups for chatty programs (best effort). */
    (void)fcntl(s->fds[EXEC_IO_OUT].fd, F_SETPIPE_SZ, 1 << 20);
    return 0;
}

/* A memfd holding data (the spec, or stdin), rewound; -errno on failure. */
static int exec_io_memfd(const char *name, const char *data, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC);

    if (fd < 0)
        return -errno;
    if (fdio_write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

int exec_io_child_fds(struct exec_io_streams *s, const char *spec, size_t spec_len,
                      const char *stdin_data, size_t stdin_len, int stdin_sock,
                      int child[ZYG_JOB_NFDS])
{
    static const int map[EXEC_IO_NSTREAMS] = {ZYG_FD_STDOUT, ZYG_FD_STDERR, ZYG_FD_RESULT,
                                              ZYG_FD_STATUS};
    int ends[EXEC_IO_NSTREAMS] = {-1, -1, -1, -1}, r;

    if ((child[ZYG_FD_SPEC] = exec_io_memfd("spec", spec, spec_len)) < 0)
        return child[ZYG_FD_SPEC];
    if (stdin_sock > 0)
        child[ZYG_FD_STDIN] = fcntl(stdin_sock, F_DUPFD_CLOEXEC, 3);
    else if (stdin_data)
        child[ZYG_FD_STDIN] = exec_io_memfd("stdin", stdin_data, stdin_len);
    else
        child[ZYG_FD_STDIN] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (child[ZYG_FD_STDIN] < 0)
        return child[ZYG_FD_STDIN] == -1 ? -errno : child[ZYG_FD_STDIN];
    r = exec_io_streams_pipes(s, ends);
    for (int i = 0; i < EXEC_IO_NSTREAMS; i++)
        child[map[i]] = ends[i];
    return r;
}

void exec_io_streams_drop_buffers(struct exec_io_streams *s)
{
    pthread_mutex_lock(&s->lock);
    buf_done(&s->out);
    buf_done(&s->err);
    pthread_mutex_unlock(&s->lock);
    buf_done(&s->res);
}

/* Reallocates b to its bytes (and the NUL): a buffer grows by doubling. */
static void exec_io_shrink(struct buf *b)
{
    char *p;

    if (!b->data || b->cap <= b->len + 1)
        return;
    if ((p = realloc(b->data, b->len + 1))) {
        b->data = p;
        b->cap = b->len + 1;
    }
}

size_t exec_io_streams_keep_output(struct exec_io_streams *s)
{
    size_t kept;

    buf_done(&s->res);
    pthread_mutex_lock(&s->lock);
    exec_io_shrink(&s->out);
    exec_io_shrink(&s->err);
    kept = s->out.cap + s->err.cap;
    pthread_mutex_unlock(&s->lock);
    return kept;
}

/* A copy of b's bytes past off: new (free), NULL when none or out of memory (-ENOMEM in *r).
 * *len gets the bytes copied. */
static char *exec_io_copy(const struct buf *b, size_t off, size_t *len, int *r)
{
    size_t n = b->len > off ? b->len - off : 0;
    char *p = n ? malloc(n) : NULL;

    *len = 0;
    if (n && !p)
        *r = -ENOMEM;
    else if (p) {
        memcpy(p, b->data + off, n);
        *len = n;
    }
    return p;
}

int exec_io_streams_snapshot(struct exec_io_streams *s, struct exec_io_snapshot *snap)
{
    size_t out_off = 0, err_off = 0;

    return exec_io_streams_since(s, &out_off, &err_off, snap);
}

int exec_io_streams_since(struct exec_io_streams *s, size_t *out_off, size_t *err_off,
                          struct exec_io_snapshot *snap)
{
    int r = 0;

    memset(snap, 0, sizeof(*snap));
    pthread_mutex_lock(&s->lock);
    snap->out = exec_io_copy(&s->out, *out_off, &snap->out_len, &r);
    snap->err = exec_io_copy(&s->err, *err_off, &snap->err_len, &r);
    snap->out_cut = s->out_cut;
    snap->err_cut = s->err_cut;
    pthread_mutex_unlock(&s->lock);
    if (r < 0) {
        exec_io_snapshot_done(snap);
        return r;
    }
    *out_off += snap->out_len;
    *err_off += snap->err_len;
    return 0;
}

void exec_io_snapshot_done(struct exec_io_snapshot *snap)
{
    free(snap->out);
    free(snap->err);
    memset(snap, 0, sizeof(*snap));
}

void exec_io_streams_done(struct exec_io_streams *s)
{
    for (int i = 0; i < EXEC_IO_NSTREAMS; i++)
        fdio_close(&s->fds[i].fd);
    exec_io_streams_drop_buffers(s);
}

/* Keeps a chunk of one stream. */
static void exec_io_keep(struct exec_io_fd *f, const char *chunk, size_t n)
{
    struct exec_io_streams *s = f->s;

    switch (f->which) {
    case EXEC_IO_OUT:
    case EXEC_IO_ERR: {
        struct buf *b = f->which == EXEC_IO_OUT ? &s->out : &s->err;
        long kept;

        pthread_mutex_lock(&s->lock);
        kept = buf_append_upto(b, chunk, n);
        /* Beyond the cap we keep reading (the program must never block on a full pipe) and
         * drop the bytes. */
        if (kept < (long)n) {
            if (f->which == EXEC_IO_OUT)
                s->out_cut = true;
            else
                s->err_cut = true;
        }
        pthread_mutex_unlock(&s->lock);
        break;
    }
    case EXEC_IO_RES:
        (void)buf_append_upto(&s->res, chunk, n);
        break;
    case EXEC_IO_STATUS: {
        size_t room = sizeof(s->status_rec) - s->status_len;
        size_t take = n < room ? n : room;

        memcpy(s->status_rec + s->status_len, chunk, take);
        s->status_len += take;
        break;
    }
    }
}

/* Reads what is available on one stream; returns true at EOF. *got is set when bytes came. */
static bool exec_io_drain(struct exec_io_fd *f, bool *got)
{
    char chunk[EXEC_IO_READ_CHUNK];

    for (;;) {
        ssize_t n = read(f->fd, chunk, sizeof(chunk));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno != EAGAIN;
        }
        if (n == 0)
            return true;
        *got = true;
        exec_io_keep(f, chunk, (size_t)n);
    }
}

static void exec_io_close_stream(struct exec_io *io, struct exec_io_fd *f)
{
    (void)epoll_ctl(io->epfd, EPOLL_CTL_DEL, f->fd, NULL);
    fdio_close(&f->fd);
    f->s->open_fds--;
}

/* One epoll event: the wake-up, or data or EOF on a stream. Returns true when that ended an
 * execution. */
static bool exec_io_event(struct exec_io *io, struct exec_io_fd *f)
{
    struct exec_io_streams *s;
    bool got = false;

    if (!f) {
        uint64_t v;

        (void)!read(io->evfd, &v, sizeof(v));
        return false;
    }
    s = f->s;
    if (f->fd < 0)
        return false;
    /* A whole status record ends its stream: the zygote writes it once, in one write, and a
     * child it forked meanwhile may hold the pipe's write end until it drops inherited fds. */
    if (exec_io_drain(f, &got) ||
        (f->which == EXEC_IO_STATUS && s->status_len == sizeof(s->status_rec)))
        exec_io_close_stream(io, f);
    if (got && (f->which == EXEC_IO_OUT || f->which == EXEC_IO_ERR))
        io->ops->progress(s, io->arg);
    if (s->open_fds > 0)
        return false;
    io->ops->done(s, io->arg);
    return true;
}

static void *exec_io_thread(void *arg)
{
    struct exec_io *io = arg;
    struct epoll_event evs[EXEC_IO_EVENTS];
    int64_t last_trim_ns = 0;
    unsigned long finished_since_trim = 0;

    for (;;) {
        int n = epoll_wait(io->epfd, evs, EXEC_IO_EVENTS, io->ops->tick(io->arg));
        int64_t now = clock_mono_ns();

        /* Results come and go (--history): give freed memory back to the kernel now and then, so
         * the agent's RSS reflects what it holds rather than its high-water mark. */
        if (finished_since_trim && now - last_trim_ns > 1000000000) {
            (void)malloc_trim(0);
            last_trim_ns = now;
            finished_since_trim = 0;
        }
        if (n < 0 && errno != EINTR) {
            log_errno(errno, NULL, "exec epoll_wait");
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            if (exec_io_event(io, evs[i].data.ptr))
                finished_since_trim++;
        }
        if (io->ops->should_exit(io->arg))
            return NULL;
    }
}

struct exec_io *exec_io_new(const struct exec_io_ops *ops, void *arg, struct err *e)
{
    struct exec_io *io = calloc(1, sizeof(*io));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    int r;

    if (!io) {
        err_set(e, ENOMEM, "", "out of memory");
        return NULL;
    }
    io->ops = ops;
    io->arg = arg;
    io->epfd = epoll_create1(EPOLL_CLOEXEC);
    io->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (io->epfd < 0 || io->evfd < 0 || epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->evfd, &ev) < 0) {
        err_set(e, errno, "", "epoll set-up: %s", strerror(errno));
        goto fail;
    }
    r = pthread_create(&io->thread, NULL, exec_io_thread, io);
    if (r) {
        err_set(e, r, "", "cannot start the I/O thread: %s", strerror(r));
        goto fail;
    }
    return io;
fail:
    exec_io_free(io);
    return NULL;
}

int exec_io_watch(struct exec_io *io, struct exec_io_streams *s)
{
    int r = 0;

    s->open_fds = EXEC_IO_NSTREAMS;
    for (int i = 0; i < EXEC_IO_NSTREAMS; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &s->fds[i]};

        if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, s->fds[i].fd, &ev) < 0) {
            /* Cannot happen short of ENOMEM: the stream counts as closed, so the others
             * still finish the execution. */
            r = -errno;
            fdio_close(&s->fds[i].fd);
            s->open_fds--;
        }
    }
    return r;
}

void exec_io_wake(struct exec_io *io)
{
    uint64_t one = 1;

    (void)!write(io->evfd, &one, sizeof(one));
}

void exec_io_join(struct exec_io *io)
{
    exec_io_wake(io);
    pthread_join(io->thread, NULL);
}

void exec_io_free(struct exec_io *io)
{
    if (!io)
        return;
    if (io->epfd >= 0)
        close(io->epfd);
    if (io->evfd >= 0)
        close(io->evfd);
    free(io);
}
