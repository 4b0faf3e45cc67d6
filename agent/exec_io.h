/* exec_io.h - the I/O thread of the executions: one epoll loop that drains every running
 * execution's stdout, stderr, result frame and status record, and says when all four are
 * closed.
 *
 * Threads: exec_io_new starts the thread; it alone reads a watched execution's fds and buffers
 * until ops->done. Only stdout and stderr are also read by others while running (the output so
 * far, exec_io_streams_snapshot), under the streams' own lock. The ops run on that thread. */
#ifndef SANDPIT_EXEC_IO_H
#define SANDPIT_EXEC_IO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "zyg_proto.h"

enum exec_io_stream { EXEC_IO_OUT, EXEC_IO_ERR, EXEC_IO_RES, EXEC_IO_STATUS, EXEC_IO_NSTREAMS };

struct exec_io_streams;

/* One stream's read end, as epoll reports it. */
struct exec_io_fd {
    struct exec_io_streams *s; /* back pointer for epoll events */
    int fd;                    /* read end, -1 once at EOF */
    int which;                 /* enum exec_io_stream */
};

/* An execution's streams and what came through them; embedded in the execution. */
struct exec_io_streams {
    struct exec_io_fd fds[EXEC_IO_NSTREAMS];
    int open_fds;             /* streams not yet at EOF */
    pthread_mutex_t lock;     /* guards out, err, out_cut, err_cut against snapshots */
    struct buf out, err, res; /* stdout, stderr, harness result frame */
    bool out_cut, err_cut;    /* output beyond the cap was dropped */
    uint8_t status_rec[ZYG_STATUS_SIZE];
    size_t status_len; /* bytes of status_rec received */
};

/* A copy of the output so far (exec_io_streams_snapshot); free with exec_io_snapshot_done. */
struct exec_io_snapshot {
    char *out, *err;         /* owned copies, NULL when empty */
    size_t out_len, err_len; /* bytes */
    bool out_cut, err_cut;   /* bytes beyond the cap were dropped */
};

struct exec_io_ops {
    /* Before each wait: handles what is due, returns the wait's timeout in ms. */
    int (*tick)(void *arg);
    /* New stdout or stderr bytes were read for s (live output): wake its readers. */
    void (*progress)(struct exec_io_streams *s, void *arg);
    /* Every stream of s is closed: the execution is over. */
    void (*done)(struct exec_io_streams *s, void *arg);
    /* After each round: true ends the thread. */
    bool (*should_exit)(void *arg);
};

struct exec_io;

/* No fds, empty buffers capped at max_output (stdout, stderr) and max_frame bytes. */
void exec_io_streams_init(struct exec_io_streams *s, size_t max_output, size_t max_frame);
/* Creates the four pipes: keeps the read ends (non-blocking) in s and stores the write ends,
 * for the child, in child[EXEC_IO_OUT..EXEC_IO_STATUS] (new fds, the caller closes them). 0 or
 * -errno; on failure the fds created so far stay in s and child for the caller to close. */
int exec_io_streams_pipes(struct exec_io_streams *s, int child[EXEC_IO_NSTREAMS]);
/* Every fd the child gets (zyg_proto.h's ZYG_FD_*) but the network one, as new fds into child
 * (the caller closes them): the spec and stdin (NULL: /dev/null) in memfds, or as stdin a copy
 * of stdin_sock when > 0 (a kernel cell's side channel), and the write ends of the four pipes,
 * whose read ends go into s. 0 or -errno; on failure what was created stays in child and s for
 * the caller to close. */
int exec_io_child_fds(struct exec_io_streams *s, const char *spec, size_t spec_len,
                      const char *stdin_data, size_t stdin_len, int stdin_sock,
                      int child[ZYG_JOB_NFDS]);
/* Copies stdout and stderr as captured so far into snap (bounded by the cap). 0 or -ENOMEM
 * (snap then empty). Any thread, while s is alive. */
int exec_io_streams_snapshot(struct exec_io_streams *s, struct exec_io_snapshot *snap);
/* Copies the bytes of stdout and stderr past *out_off and *err_off into snap and advances
 * both offsets (live output: a reader's cursor). 0 or -ENOMEM (snap then empty, offsets kept).
 * Any thread, while s is alive. */
int exec_io_streams_since(struct exec_io_streams *s, size_t *out_off, size_t *err_off,
                          struct exec_io_snapshot *snap);
/* Frees a snapshot's copies. */
void exec_io_snapshot_done(struct exec_io_snapshot *snap);
/* Frees the buffers; the fds stay. */
void exec_io_streams_drop_buffers(struct exec_io_streams *s);
/* The execution is over and its output is kept as captured: frees the result frame's buffer
 * and gives back the room stdout and stderr grew beyond their bytes. Returns the bytes kept. */
size_t exec_io_streams_keep_output(struct exec_io_streams *s);
/* Closes the fds not yet closed and frees the buffers. s must not be watched. */
void exec_io_streams_done(struct exec_io_streams *s);

/* New I/O loop (free with exec_io_free) running ops with arg on its own thread. NULL with e
 * set on failure. ops (static) and arg must outlive it. */
struct exec_io *exec_io_new(const struct exec_io_ops *ops, void *arg, struct err *e);
/* Watches every fd of s until each is at EOF, then calls ops->done(s). 0, or -errno when a
 * stream could not be watched (that fd is closed and counted as done). Any thread. */
int exec_io_watch(struct exec_io *io, struct exec_io_streams *s);
/* Makes the thread run a round now (ops->tick, ops->should_exit). Any thread. */
void exec_io_wake(struct exec_io *io);
/* Wakes the thread and waits until ops->should_exit has ended it. */
void exec_io_join(struct exec_io *io);
/* Frees io; its thread must have been joined (or never started). NULL is fine. */
void exec_io_free(struct exec_io *io);

#endif
