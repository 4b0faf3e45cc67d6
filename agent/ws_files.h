/* ws_files.h - file operations on a session's workspace, done by the root agent while the
 * session (another uid, its own mount namespace) may be running hostile code that races us.
 * Every name is resolved below the workspace's directory fd with openat2 and
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV, so no
 * symlink, magic link, mount or ".." can take a path out of it; nothing is ever opened by a host
 * path below the workspace. Pure enough to test on a temp dir: no MHD, no logging, no globals.
 * Each function returns 0 (or a value) or -ERR_* with e naming the field "path" (or "body"). */
#ifndef SANDPIT_WS_FILES_H
#define SANDPIT_WS_FILES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "err.h"

#define WS_FILES_PATH_MAX   4095    /* bytes of a relative path (PATH_MAX with its NUL) */
#define WS_FILES_NAME_MAX   255     /* bytes of one component */
#define WS_FILES_DEPTH_MAX  32      /* components of a path */
#define WS_FILES_WALK_MAX   100000  /* entries the size walk visits before it gives up */
#define WS_FILES_WALK_DEPTH 64      /* directory levels the size walk descends */
#define WS_FILES_LIST_MAX   10000   /* entries a listing returns at most */
#define WS_FILES_LIST_SCAN  1000000 /* entries a listing reads from one directory at most */
#define WS_FILES_TMP_PREFIX ".sandpit-put-"

/* Checks a client's relative path of len bytes (it may hold a NUL a C string would hide):
 * not absolute, no empty, "." or ".." component, no control byte, valid UTF-8, at most
 * WS_FILES_PATH_MAX bytes, WS_FILES_NAME_MAX per component and WS_FILES_DEPTH_MAX components.
 * allow_root accepts "" and "." as the workspace itself (listings). 0 or -ERR_INVALID. */
int ws_files_check_path(const char *path, size_t len, bool allow_root, struct err *e);

/* Opens the directory workdir (absolute, as the session sees it) inside the mount namespace of
 * process pid, through /proc/<pid>/root with RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS, and checks it is a directory owned by expect_uid. *out_fd: new
 * O_PATH fd (close it). The caller makes sure pid is the session (a child not yet reaped cannot
 * be reused). 0, -ERR_NOT_FOUND (no such process or directory), -ERR_INVALID, -ERR_CONFLICT. */
int ws_files_open_root(pid_t pid, const char *workdir, uid_t expect_uid, int *out_fd,
                       struct err *e);
/* The same for a directory of the agent's own namespace (named workspaces, tests): path is
 * absolute and has no symlink anywhere. */
int ws_files_open_dir(const char *path, uid_t expect_uid, int *out_fd, struct err *e);

/* Writes len bytes as the file path below root: creates missing parents (0755, uid:gid), writes
 * a temp file in the target directory and renames it into place (a reader never sees half a
 * file), 0644 uid:gid. Refuses a target that is not a regular file (409 for a directory, 400 for
 * the rest) and a workspace whose size would pass limit_bytes (0: no limit; 413). */
int ws_files_put(int root, const char *path, const void *data, size_t len, uid_t uid, gid_t gid,
                 long long limit_bytes, struct err *e);

/* Opens the regular file path below root for reading: *out_fd a new O_RDONLY fd (close it) and
 * *st its stat. Refuses anything but a regular file with one link. 0, -ERR_NOT_FOUND,
 * -ERR_INVALID. */
int ws_files_get(int root, const char *path, int *out_fd, struct stat *st, struct err *e);

/* Removes path below root: a file (a symlink or special file is removed, never followed) or an
 * empty directory; a directory with entries is 409 (never recursive: see ws_files.c). */
int ws_files_delete(int root, const char *path, struct err *e);

/* Lists one directory (dir "" or "." is the workspace): {"path", "entries": [{"name", "type":
 * "file"|"dir"|"symlink"|"other", "size", "mtime"}], "truncated"}, sorted by name, at most
 * max_entries (clamped to 1..WS_FILES_LIST_MAX). New reference (json_decref), or NULL with e set.
 */
json_t *ws_files_list(int root, const char *dir, size_t max_entries, struct err *e);

/* The bytes of the regular files below root (a bounded walk that follows no symlink and crosses
 * no mount) into *bytes. 0, or -ERR_TOO_LARGE when the tree passes WS_FILES_WALK_MAX entries or
 * WS_FILES_WALK_DEPTH levels (it cannot be measured), or -ERR_INTERNAL. */
int ws_files_usage(int root, long long *bytes, struct err *e);

/* The Content-Type of path by its extension: static, "application/octet-stream" by default. */
const char *ws_files_mime(const char *path);

#endif
