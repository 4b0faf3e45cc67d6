/* exec_files.h - files in and files out of one execution (docs/agent.md "Files in and out"),
 * done by the root agent beneath the directory fd of the execution's working directory (its
 * tmpfs, a named workspace or a session's workspace), while the program, another uid, may race
 * it: files in are written with ws_files_put (openat2 beneath, temp + rename); the walks that
 * snapshot and collect open every directory and file relative to its parent with O_NOFOLLOW,
 * cross no mount, read only regular files with one link, and never block on a FIFO.
 *
 * What is collected is copied into the agent's file store (<state-dir>/files/<exec-id>/, 0700,
 * counted against --files-mb) so the tmpfs can go at once; small files are also inlined in the
 * result. The store directory of an execution goes when its result is freed (evicted from the
 * history, or the agent stops) and the whole store is wiped when the agent starts.
 *
 * Threads: a struct exec_files is used by one thread at a time (the submitter, then the I/O
 * thread at the end, then readers once the result is published, when it is immutable); the
 * store's byte count is atomic. */
#ifndef SANDPIT_EXEC_FILES_H
#define SANDPIT_EXEC_FILES_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "err.h"
#include "files_spec.h"

#define EXEC_FILES_INLINE_FILE  (1u << 20) /* bytes of one file inlined as base64 */
#define EXEC_FILES_INLINE_TOTAL (4u << 20) /* bytes inlined per execution */
#define EXEC_FILES_MAX_COLLECT  1000       /* files one execution collects */
/* Bytes one execution's collection reads: the read and hash run on the agent's I/O thread, and
 * a sparse file costs its program nothing to make (1000 of 1 GiB stalled every execution). */
#define EXEC_FILES_READ_MAX (512ull << 20)

/* The agent's file store: <state-dir>/files. */
struct exec_files_store {
    char dir[512];
    long long cap;     /* bytes for every kept execution together (--files-mb) */
    atomic_llong used; /* bytes held now */
};

struct exec_files_snap; /* exec_files.c */

struct exec_files {
    struct exec_files_store *store; /* borrowed: outlives every execution */
    char exec_id[40];
    char **collect; /* owned copies of the patterns */
    size_t n_collect;
    struct exec_files_snap *snap; /* the matching files before the run, sorted by path */
    size_t n_snap;
    char **stored; /* paths kept in the store, index = the file's name there */
    size_t n_stored;
    long long stored_bytes;
};

/* Prepares the store at <state_dir>/files (made 0700, emptied of what an earlier agent left).
 * 0 or -errno. */
int exec_files_store_init(struct exec_files_store *s, const char *state_dir, long long cap);

/* New files-out state for exec_id with spec's patterns copied (the request can go). NULL on
 * out of memory. */
struct exec_files *exec_files_new(struct exec_files_store *store, const char *exec_id,
                                  const struct files_spec *spec);
/* Removes what the execution holds in the store and frees. NULL is fine. */
void exec_files_free(struct exec_files *f);

/* Writes spec's files beneath root as uid:gid (ws_files_put). e names the entry
 * ("files[2].path"). 0 or -ERR_*. */
int exec_files_write(const struct files_spec *spec, int root, uid_t uid, gid_t gid, struct err *e);
/* Notes every regular file beneath root that matches a pattern (path, inode, size, mtime),
 * to tell later what the run created or changed. 0 or -ENOMEM. */
int exec_files_snapshot(struct exec_files *f, int root);
/* After the run: every regular file beneath root matching a pattern, new or changed since the
 * snapshot, hashed, copied into the store when it fits and inlined when small. Returns
 * {"files": [{path, size, sha256, content|null, truncated, url}...], "files_skipped":
 * [{path, reason}...] (only when some)}: new reference, NULL on out of memory. */
json_t *exec_files_collect(struct exec_files *f, int root);
/* Opens the stored copy of path (collected by this execution) for reading: 0 with *fd (close
 * it) and *st, -ERR_NOT_FOUND (never collected, or not stored: e says which). */
int exec_files_open(const struct exec_files *f, const char *path, int *fd, struct stat *st,
                    struct err *e);

/* The download URL of path for execution exec_id into out ("/execution/<id>/files/<path>",
 * the path percent-encoded but for '/'). */
void exec_files_url(const char *exec_id, const char *path, char *out, size_t size);

#endif
