/* test_ws_files.c - a session's workspace files on a temp dir: path validation, round trips,
 * symlinks (relative and absolute, in the middle and at the end), FIFOs, sockets, hard links,
 * mounts, kinds in the way, the size limit, listings and deletes. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../agent/ws_files.c"

struct fx {
    char top[64];     /* the temp dir */
    char ws[96];      /* top/ws: the workspace */
    char secret[160]; /* top/outside/secret: a file the workspace must not reach */
    int root;         /* fd of the workspace */
    pid_t racer;      /* a child racing us, killed by the teardown even when a test fails */
};

static int fx_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct err e = {0};
    char dir[128];
    int fd;

    assert_non_null(f);
    snprintf(f->top, sizeof(f->top), "/tmp/test-ws-files-XXXXXX");
    assert_non_null(mkdtemp(f->top));
    snprintf(f->ws, sizeof(f->ws), "%s/ws", f->top);
    snprintf(dir, sizeof(dir), "%s/outside", f->top);
    snprintf(f->secret, sizeof(f->secret), "%s/secret", dir);
    assert_int_equal(mkdir(f->ws, 0755), 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    fd = open(f->secret, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "SECRET", 6), 6);
    close(fd);
    assert_int_equal(ws_files_open_dir(f->ws, getuid(), &f->root, &e), 0);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    if (f->racer > 0) {
        (void)kill(f->racer, SIGKILL);
        (void)waitpid(f->racer, NULL, 0);
    }
    close(f->root);
    (void)nftw(f->top, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A host path below the workspace, for setting up what a hostile session would leave. */
static const char *fx_path(struct fx *f, const char *rel)
{
    static char p[512];

    snprintf(p, sizeof(p), "%s/%s", f->ws, rel);
    return p;
}

static void fx_write(struct fx *f, const char *rel, const char *s)
{
    int fd = open(fx_path(f, rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    close(fd);
}

/* GETs rel and returns its bytes (new, free()), asserting success. */
static char *fx_get(struct fx *f, const char *rel, size_t *len)
{
    struct err e = {0};
    struct stat st;
    char *data = NULL;
    int fd = -1;

    assert_int_equal(ws_files_get(f->root, rel, &fd, &st, &e), 0);
    assert_int_equal(fdio_read_all(fd, 1 << 20, &data, len), 0);
    assert_int_equal((long long)*len, (long long)st.st_size);
    close(fd);
    return data;
}

static void test_check_path_table(void **state)
{
    char longname[300], longpath[WS_FILES_PATH_MAX + 8], deep[200];
    struct {
        const char *p;
        size_t len; /* 0: strlen */
    } bad[] = {
        {"/etc/passwd", 0},
        {"/", 0},
        {"..", 0},
        {"../x", 0},
        {"a/..", 0},
        {"a/../b", 0},
        {"a/../../etc/passwd", 0},
        {"./a", 0},
        {"a/./b", 0},
        {"a/.", 0},
        {"a//b", 0},
        {"a/", 0},
        {"//a", 0},
        {"a\nb", 0},
        {"a\rb", 0},
        {"a\tb", 0},
        {"\x1b[31m", 0},
        {"a\x7f", 0},
        {"a\0b", 3},
        {"\0", 1},
        {"\xff", 0},
        {"a\xc3", 0},
        {"\xc0\xaf", 0},
        {"\xed\xa0\x80", 0}, /* a UTF-16 surrogate */
        {"a/\x80/b", 0},
        {longname, 0},
        {longpath, 0},
        {deep, 0},
        {"", 0},
        {".", 0},
    };
    const char *good[] = {"a",           "a/b/c.txt",       ".bashrc", "...",  "..a",      "a..",
                          "dir/.hidden", "caf\xc3\xa9.csv", "a b",     "a\\b", "x-y_z+1=2"};
    struct err e = {0};

    (void)state;
    memset(longname, 'n', 256);
    longname[256] = '\0';
    for (size_t i = 0; i < sizeof(longpath) - 1; i++)
        longpath[i] = i % 100 == 99 ? '/' : 'p';
    longpath[sizeof(longpath) - 1] = '\0';
    deep[0] = '\0';
    for (int i = 0; i <= WS_FILES_DEPTH_MAX; i++)
        strcat(deep, i ? "/d" : "d");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].p);

        memset(&e, 0, sizeof(e));
        if (ws_files_check_path(bad[i].p, len, false, &e) != -ERR_INVALID)
            fail_msg("bad path #%zu accepted", i);
        assert_string_equal(e.field, "path");
        assert_true(e.msg[0] != '\0');
    }
    assert_true(sizeof(bad) / sizeof(bad[0]) >= 25);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (ws_files_check_path(good[i], strlen(good[i]), false, &e) != 0)
            fail_msg("good path '%s' refused: %s", good[i], e.msg);
    /* Limits are inclusive; the root is a path only for listings. */
    longname[255] = '\0';
    assert_int_equal(ws_files_check_path(longname, 255, false, &e), 0);
    deep[strlen(deep) - 2] = '\0';
    assert_int_equal(ws_files_check_path(deep, strlen(deep), false, &e), 0);
    assert_int_equal(ws_files_check_path("", 0, true, &e), 0);
    assert_int_equal(ws_files_check_path(".", 1, true, &e), 0);
    assert_int_equal(ws_files_check_path(NULL, 0, true, &e), -ERR_INVALID);
    assert_int_equal(ws_files_check_path("../x", 4, true, &e), -ERR_INVALID);
}

static void test_put_get_round_trip_binary(void **state)
{
    struct fx *f = *state;
    unsigned char data[4096];
    struct err e = {0};
    struct stat st;
    size_t len;
    char *got;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7); /* NULs and every byte value */
    assert_int_equal(
        ws_files_put(f->root, "deep/er/data.bin", data, sizeof(data), 4242, 4343, 0, &e), 0);
    got = fx_get(f, "deep/er/data.bin", &len);
    assert_int_equal(len, sizeof(data));
    assert_memory_equal(got, data, sizeof(data));
    free(got);
    /* The file and the parents it made belong to the session, with plain modes. */
    assert_int_equal(stat(fx_path(f, "deep/er/data.bin"), &st), 0);
    assert_int_equal(st.st_uid, 4242);
    assert_int_equal(st.st_gid, 4343);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(stat(fx_path(f, "deep/er"), &st), 0);
    assert_int_equal(st.st_uid, 4242);
    assert_int_equal(st.st_mode & 07777, 0755);
    /* Replacing keeps one file and leaves no temp name behind; an empty file is a file. */
    assert_int_equal(ws_files_put(f->root, "deep/er/data.bin", "x", 1, 4242, 4343, 0, &e), 0);
    got = fx_get(f, "deep/er/data.bin", &len);
    assert_int_equal(len, 1);
    free(got);
    assert_int_equal(ws_files_put(f->root, "empty", "", 0, 0, 0, 0, &e), 0);
    got = fx_get(f, "empty", &len);
    assert_int_equal(len, 0);
    free(got);
    json_t *l = ws_files_list(f->root, "deep/er", 100, &e);
    assert_non_null(l);
    assert_int_equal(json_array_size(json_object_get(l, "entries")), 1);
    json_decref(l);
}

/* Symlinks a hostile session leaves: in the middle and at the end, relative and absolute, all
 * pointing out. Every operation refuses with 400 "path" and the outside is untouched. */
static void test_symlinks_refused(void **state)
{
    struct fx *f = *state;
    const char *through[] = {"mid_rel/secret", "mid_abs/secret",  "end_rel",
                             "end_abs",        "mid_rel/new.txt", "mid_abs/new/x.txt"};
    struct err e = {0};
    struct stat st;
    char abs_dir[128];
    int fd = -1;

    snprintf(abs_dir, sizeof(abs_dir), "%s/outside", f->top);
    assert_int_equal(symlink("../outside", fx_path(f, "mid_rel")), 0);
    assert_int_equal(symlink(abs_dir, fx_path(f, "mid_abs")), 0);
    assert_int_equal(symlink("../outside/secret", fx_path(f, "end_rel")), 0);
    assert_int_equal(symlink(f->secret, fx_path(f, "end_abs")), 0);
    for (size_t i = 0; i < sizeof(through) / sizeof(through[0]); i++) {
        memset(&e, 0, sizeof(e));
        if (i < 4) {
            assert_int_equal(ws_files_get(f->root, through[i], &fd, &st, &e), -ERR_INVALID);
            assert_int_equal(fd, -1);
            assert_string_equal(e.field, "path");
            assert_non_null(strstr(e.msg, "symbolic link"));
        }
        assert_int_equal(ws_files_put(f->root, through[i], "pwned", 5, 0, 0, 0, &e), -ERR_INVALID);
        assert_string_equal(e.field, "path");
        if (i < 2 || i > 3) /* through a link in the middle, even deleting refuses */
            assert_int_equal(ws_files_delete(f->root, through[i], &e), -ERR_INVALID);
    }
    assert_null(ws_files_list(f->root, "mid_abs", 10, &e));
    assert_int_equal(e.code, ERR_INVALID);
    /* Nothing was written outside; the secret is whole. */
    assert_int_equal(stat(f->secret, &st), 0);
    assert_int_equal(st.st_size, 6);
    assert_int_equal(lstat(fx_path(f, "../outside/new.txt"), &st), -1);
    /* Deleting a link at the end removes the link, not its target. */
    assert_int_equal(ws_files_delete(f->root, "end_abs", &e), 0);
    assert_int_equal(lstat(fx_path(f, "end_abs"), &st), -1);
    assert_int_equal(stat(f->secret, &st), 0);
}

static void test_open_root(void **state)
{
    struct fx *f = *state;
    char link[128], via[160], file[160];
    struct err e = {0};
    int fd = -1;
    pid_t pid;

    /* /proc/self/root is "/": the workspace's host path is its path in our "session". */
    assert_int_equal(ws_files_open_root(getpid(), f->ws, getuid(), &fd, &e), 0);
    assert_int_equal(ws_files_put(fd, "via-proc", "ok", 2, 0, 0, 0, &e), 0);
    close(fd);
    assert_int_equal(access(fx_path(f, "via-proc"), F_OK), 0);
    /* A symlink anywhere in the workdir is refused, relative or absolute. */
    snprintf(link, sizeof(link), "%s/link", f->top);
    assert_int_equal(symlink("ws", link), 0);
    assert_int_equal(ws_files_open_root(getpid(), link, getuid(), &fd, &e), -ERR_INVALID);
    assert_int_equal(fd, -1);
    snprintf(via, sizeof(via), "%s/ws", link);
    assert_int_equal(mkdir(fx_path(f, "ws"), 0755), 0);
    assert_int_equal(ws_files_open_root(getpid(), via, getuid(), &fd, &e), -ERR_INVALID);
    assert_int_equal(ws_files_open_dir(link, getuid(), &fd, &e), -ERR_INVALID);
    snprintf(link, sizeof(link), "%s/abslink", f->top);
    assert_int_equal(symlink(f->ws, link), 0);
    assert_int_equal(ws_files_open_root(getpid(), link, getuid(), &fd, &e), -ERR_INVALID);
    /* Another owner, a file, nothing, a relative workdir, a process that is gone. */
    assert_int_equal(ws_files_open_root(getpid(), f->ws, getuid() + 1, &fd, &e), -ERR_CONFLICT);
    snprintf(file, sizeof(file), "%s/secret", f->top);
    assert_int_equal(ws_files_open_root(getpid(), f->secret, getuid(), &fd, &e), -ERR_NOT_FOUND);
    assert_int_equal(ws_files_open_root(getpid(), file, getuid(), &fd, &e), -ERR_NOT_FOUND);
    assert_int_equal(ws_files_open_root(getpid(), "tmp", getuid(), &fd, &e), -ERR_INVALID);
    assert_int_equal(ws_files_open_dir("tmp", getuid(), &fd, &e), -ERR_INVALID);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(ws_files_open_root(pid, f->ws, getuid(), &fd, &e), -ERR_NOT_FOUND);
    assert_int_equal(fd, -1);
}

/* A FIFO must not block the agent (nobody writes it), a socket is no file either. */
static void test_special_files_refused(void **state)
{
    struct fx *f = *state;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct err e = {0};
    struct stat st;
    int fd = -1, s;

    assert_int_equal(mkfifo(fx_path(f, "fifo"), 0666), 0);
    alarm(30); /* a blocking open would hang the test: let SIGALRM fail it instead */
    assert_int_equal(ws_files_get(f->root, "fifo", &fd, &st, &e), -ERR_INVALID);
    alarm(0);
    assert_int_equal(fd, -1);
    assert_string_equal(e.field, "path");
    assert_int_equal(ws_files_put(f->root, "fifo", "x", 1, 0, 0, 0, &e), -ERR_INVALID);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    assert_true(strlen(fx_path(f, "sock")) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, fx_path(f, "sock"), strlen(fx_path(f, "sock")) + 1);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(ws_files_get(f->root, "sock", &fd, &st, &e), -ERR_INVALID);
    close(s);
    /* Both are listed as "other" and can be deleted. */
    json_t *l = ws_files_list(f->root, "", 10, &e);
    assert_non_null(l);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(l, "entries"), 0), "type")),
                        "other");
    json_decref(l);
    assert_int_equal(ws_files_delete(f->root, "fifo", &e), 0);
    assert_int_equal(ws_files_delete(f->root, "sock", &e), 0);
}

static void test_hard_link_and_foreign_file_refused(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    struct stat st;
    size_t len;
    int fd = -1;
    char *got;

    assert_int_equal(link(f->secret, fx_path(f, "hard")), 0);
    assert_int_equal(ws_files_get(f->root, "hard", &fd, &st, &e), -ERR_INVALID);
    assert_non_null(strstr(e.msg, "hard links"));
    assert_int_equal(fd, -1);
    /* PUT replaces the name: it never writes through the planted inode. */
    assert_int_equal(ws_files_put(f->root, "hard", "mine", 4, 0, 0, 0, &e), 0);
    got = fx_get(f, "hard", &len);
    assert_memory_equal(got, "mine", 4);
    free(got);
    assert_int_equal(stat(f->secret, &st), 0);
    assert_int_equal(st.st_size, 6);
    if (geteuid() != 0)
        return; /* chown below needs root, as the agent has */
    /* A file of another uid that the workspace's owner could not read: moved in, refused. */
    fx_write(f, "foreign", "theirs");
    assert_int_equal(chown(fx_path(f, "foreign"), 7777, 7777), 0);
    assert_int_equal(chmod(fx_path(f, "foreign"), 0600), 0);
    assert_int_equal(ws_files_get(f->root, "foreign", &fd, &st, &e), -ERR_INVALID);
    assert_int_equal(chmod(fx_path(f, "foreign"), 0644), 0);
    got = fx_get(f, "foreign", &len);
    free(got);
}

/* A mount below the workspace is not the workspace (EXDEV): in a child's own mount namespace. */
static void test_mount_crossing_refused(void **state)
{
    struct fx *f = *state;
    int status;
    pid_t pid;

    if (geteuid() != 0)
        skip();
    assert_int_equal(mkdir(fx_path(f, "mnt"), 0755), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct err e = {0};
        struct stat st;
        int fd = -1;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", fx_path(f, "mnt"), "tmpfs", 0, "size=64k") < 0)
            _exit(3);
        /* The fd opened before unshare sees the old namespace's mounts: open it anew. */
        close(f->root);
        if (ws_files_open_dir(f->ws, getuid(), &f->root, &e) < 0)
            _exit(9);
        fx_write(f, "mnt/f", "x");
        if (ws_files_get(f->root, "mnt/f", &fd, &st, &e) != -ERR_INVALID ||
            !strstr(e.msg, "leaves the workspace"))
            _exit(10);
        if (ws_files_put(f->root, "mnt/g", "x", 1, 0, 0, 0, &e) != -ERR_INVALID)
            _exit(11);
        if (ws_files_delete(f->root, "mnt", &e) != -ERR_CONFLICT)
            _exit(12);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
        skip(); /* no mount namespace here (a container without CAP_SYS_ADMIN) */
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0); /* 10: get, 11: put, 12: delete not refused */
}

/* A racing "session" swaps a directory of the workspace with a symlink out, over and over, while
 * we read and write through it: nothing outside is ever read or written. */
static void test_race_swap_with_symlink(void **state)
{
    struct fx *f = *state;
    char out_dir[128], d[512], save[512], path[160];
    struct err e = {0};
    struct stat st;
    int fd, reads = 0;

    snprintf(out_dir, sizeof(out_dir), "%s/outside", f->top);
    snprintf(d, sizeof(d), "%s", fx_path(f, "d"));
    snprintf(save, sizeof(save), "%s", fx_path(f, "dsave"));
    assert_int_equal(mkdir(d, 0755), 0);
    fx_write(f, "d/f", "good");
    assert_int_equal(symlink(out_dir, save), 0);
    f->racer = fork();
    assert_true(f->racer >= 0);
    if (f->racer == 0) {
        for (;;) /* d is a directory, then a symlink out, then a directory... never missing */
            (void)!renameat2(AT_FDCWD, d, AT_FDCWD, save, RENAME_EXCHANGE);
    }
    for (int i = 0; i < 1000; i++) {
        fd = -1;
        if (ws_files_get(f->root, "d/secret", &fd, &st, &e) == 0)
            fail_msg("read the outside's secret through a swapped symlink");
        if (ws_files_get(f->root, "d/f", &fd, &st, &e) == 0) {
            reads++;
            close(fd);
        }
        snprintf(path, sizeof(path), "d/new%d", i % 10);
        (void)ws_files_put(f->root, path, "x", 1, 0, 0, 0, &e);
        (void)ws_files_delete(f->root, "d/secret", &e);
    }
    assert_int_equal(kill(f->racer, SIGKILL), 0);
    assert_int_equal(waitpid(f->racer, NULL, 0), f->racer);
    f->racer = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(path, sizeof(path), "%s/new%d", out_dir, i);
        assert_int_equal(access(path, F_OK), -1);
    }
    assert_int_equal(stat(f->secret, &st), 0);
    assert_int_equal(st.st_size, 6);
    (void)reads; /* how many won the race depends on the scheduler: not asserted */
}

static void test_kind_in_the_way(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    struct stat st;
    int fd = -1;

    assert_int_equal(mkdir(fx_path(f, "d"), 0755), 0);
    fx_write(f, "file", "x");
    assert_int_equal(ws_files_put(f->root, "d", "x", 1, 0, 0, 0, &e), -ERR_CONFLICT);
    assert_string_equal(e.field, "path");
    assert_int_equal(ws_files_put(f->root, "file/x", "x", 1, 0, 0, 0, &e), -ERR_CONFLICT);
    assert_int_equal(ws_files_get(f->root, "d", &fd, &st, &e), -ERR_INVALID);
    assert_int_equal(ws_files_get(f->root, "file/x", &fd, &st, &e), -ERR_NOT_FOUND);
    assert_int_equal(ws_files_get(f->root, "nope", &fd, &st, &e), -ERR_NOT_FOUND);
    assert_string_equal(e.field, "path");
    assert_null(ws_files_list(f->root, "file", 10, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_null(ws_files_list(f->root, "nope", 10, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
}

static void test_size_limit(void **state)
{
    struct fx *f = *state;
    char big[100] = {0};
    struct err e = {0};
    long long used = -1;

    assert_int_equal(ws_files_put(f->root, "a", big, 60, 0, 0, 100, &e), 0);
    assert_int_equal(ws_files_put(f->root, "sub/b", big, 60, 0, 0, 100, &e), -ERR_TOO_LARGE);
    assert_string_equal(e.field, "body");
    assert_int_equal(access(fx_path(f, "sub"), F_OK), -1); /* refused before creating parents */
    assert_int_equal(ws_files_put(f->root, "x", big, 101, 0, 0, 100, &e), -ERR_TOO_LARGE);
    /* Replacing a's 60 bytes by 100 fits: the old bytes go. */
    assert_int_equal(ws_files_put(f->root, "a", big, 100, 0, 0, 100, &e), 0);
    assert_int_equal(ws_files_put(f->root, "sub/b", big, 1, 0, 0, 100, &e), -ERR_TOO_LARGE);
    assert_int_equal(ws_files_put(f->root, "sub/b", big, 1, 0, 0, 0, &e), 0); /* no limit */
    assert_int_equal(ws_files_usage(f->root, &used, &e), 0);
    assert_int_equal(used, 101);
}

/* A tree deeper than the walk descends cannot be measured: refused rather than guessed. */
static void test_size_walk_bounded(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    long long used;
    char p[512] = "";

    for (int i = 0; i <= WS_FILES_WALK_DEPTH; i++) {
        strcat(p, i ? "/d" : "d");
        assert_int_equal(mkdir(fx_path(f, p), 0755), 0);
    }
    fx_write(f, "d/f", "x");
    assert_int_equal(ws_files_usage(f->root, &used, &e), -ERR_TOO_LARGE);
    assert_int_equal(ws_files_put(f->root, "g", "x", 1, 0, 0, 1000, &e), -ERR_TOO_LARGE);
    assert_int_equal(ws_files_put(f->root, "g", "x", 1, 0, 0, 0, &e), 0);
}

static void test_list_order_and_truncation(void **state)
{
    struct fx *f = *state;
    const char *names[] = {"delta", "b", "a", "Z", "c.csv"};
    struct err e = {0};
    json_t *l, *ents, *x;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        fx_write(f, names[i], "12345");
    assert_int_equal(mkdir(fx_path(f, "dir"), 0755), 0);
    assert_int_equal(symlink("/etc/passwd", fx_path(f, "link")), 0);
    l = ws_files_list(f->root, ".", 3, &e);
    assert_non_null(l);
    ents = json_object_get(l, "entries");
    assert_int_equal(json_array_size(ents), 3);
    assert_true(json_is_true(json_object_get(l, "truncated")));
    assert_string_equal(json_string_value(json_object_get(l, "path")), ".");
    /* Byte order: upper case first. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(ents, 0), "name")), "Z");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ents, 1), "name")), "a");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ents, 2), "name")), "b");
    x = json_array_get(ents, 0);
    assert_string_equal(json_string_value(json_object_get(x, "type")), "file");
    assert_int_equal(json_integer_value(json_object_get(x, "size")), 5);
    assert_true(json_real_value(json_object_get(x, "mtime")) > 1e9);
    json_decref(l);
    l = ws_files_list(f->root, "", 100, &e);
    assert_non_null(l);
    ents = json_object_get(l, "entries");
    assert_int_equal(json_array_size(ents), 7);
    assert_true(json_is_false(json_object_get(l, "truncated")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(ents, 4), "name")),
                        "delta");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ents, 5), "type")), "dir");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ents, 6), "type")),
                        "symlink");
    json_decref(l);
}

/* A session may name files with bytes that are not UTF-8 or that JSON must escape. */
static void test_list_hostile_names(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    json_t *l, *ents;
    char *dump;

    fx_write(f, "bad\xff", "x");
    fx_write(f, "quote\"back\\slash\nnl", "x");
    l = ws_files_list(f->root, "", 100, &e);
    assert_non_null(l);
    ents = json_object_get(l, "entries");
    assert_int_equal(json_array_size(ents), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ents, 0), "name")),
                        "bad\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ents, 1), "name")),
                        "quote\"back\\slash\nnl");
    dump = json_dumps(l, JSON_COMPACT);
    assert_non_null(dump);
    assert_non_null(strstr(dump, "quote\\\"back\\\\slash\\nnl"));
    free(dump);
    json_decref(l);
}

static void test_delete(void **state)
{
    struct fx *f = *state;
    struct err e = {0};

    assert_int_equal(ws_files_put(f->root, "d/sub/f.txt", "x", 1, 0, 0, 0, &e), 0);
    assert_int_equal(ws_files_delete(f->root, "d/sub", &e), -ERR_CONFLICT);
    assert_non_null(strstr(e.msg, "not empty"));
    assert_int_equal(ws_files_delete(f->root, "d/sub/f.txt", &e), 0);
    assert_int_equal(access(fx_path(f, "d/sub/f.txt"), F_OK), -1);
    assert_int_equal(ws_files_delete(f->root, "d/sub/f.txt", &e), -ERR_NOT_FOUND);
    assert_int_equal(ws_files_delete(f->root, "d/sub", &e), 0);
    assert_int_equal(ws_files_delete(f->root, "d", &e), 0);
    assert_int_equal(access(fx_path(f, "d"), F_OK), -1);
    assert_int_equal(ws_files_delete(f->root, "", &e), -ERR_INVALID);
    assert_int_equal(ws_files_delete(f->root, "../outside/secret", &e), -ERR_INVALID);
    assert_int_equal(ws_files_delete(f->root, "nodir/x", &e), -ERR_NOT_FOUND);
    assert_int_equal(access(f->secret, F_OK), 0);
}

static void test_mime(void **state)
{
    (void)state;
    assert_string_equal(ws_files_mime("a/b.csv"), "text/csv; charset=utf-8");
    assert_string_equal(ws_files_mime("x.PNG"), "image/png");
    assert_string_equal(ws_files_mime("x.tar.gz"), "application/gzip");
    assert_string_equal(ws_files_mime("t.parquet"), "application/vnd.apache.parquet");
    assert_string_equal(ws_files_mime("a.json"), "application/json");
    assert_string_equal(ws_files_mime("a.py"), "text/x-python; charset=utf-8");
    assert_string_equal(ws_files_mime(".bashrc"), "application/octet-stream");
    assert_string_equal(ws_files_mime("dir.txt/noext"), "application/octet-stream");
    assert_string_equal(ws_files_mime("a."), "application/octet-stream");
    assert_string_equal(ws_files_mime(NULL), "application/octet-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_path_table),
        cmocka_unit_test_setup_teardown(test_put_get_round_trip_binary, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_root, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_special_files_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hard_link_and_foreign_file_refused, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_mount_crossing_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_race_swap_with_symlink, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kind_in_the_way, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_size_limit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_size_walk_bounded, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_list_order_and_truncation, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_list_hostile_names, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete, fx_setup, fx_teardown),
        cmocka_unit_test(test_mime),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
