/* test_exec_files.c - files in and out on a temp dir (exec_files.c): files written beneath the
 * root fd, the snapshot, collect of created and changed files only, inline against stored, the
 * kept copy opened, symlinks/FIFOs/hard links not read, the store's cap, removal at free. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../agent/exec_files.c"
#include "../../agent/ws_files.c"

struct fx {
    char top[64];
    char ws[96];
    int root;
    struct exec_files_store store;
};

static int fx_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->top, sizeof(f->top), "/tmp/test_exec_files.XXXXXX");
    assert_non_null(mkdtemp(f->top));
    snprintf(f->ws, sizeof(f->ws), "%s/ws", f->top);
    assert_int_equal(mkdir(f->ws, 0700), 0);
    f->root = open(f->ws, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->root >= 0);
    snprintf(f->ws, sizeof(f->ws), "%s/state", f->top);
    assert_int_equal(exec_files_store_init(&f->store, f->ws, 64 << 20), 0);
    snprintf(f->ws, sizeof(f->ws), "%s/ws", f->top);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    close(f->root);
    nftw(f->top, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void put(struct fx *f, const char *rel, const char *data, size_t n)
{
    char p[256];
    int fd;

    snprintf(p, sizeof(p), "%s/%s", f->ws, rel);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static json_t *find(json_t *list, const char *path)
{
    size_t i;
    json_t *v;

    json_array_foreach(list, i, v)
    {
        if (!strcmp(json_string_value(json_object_get(v, "path")), path))
            return v;
    }
    return NULL;
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    json_error_t je;
    json_t *req = json_loads("{\"files\": [{\"path\": \"in/a.txt\", \"content\": \"hi\"},"
                             "{\"path\": \"same.csv\", \"content\": \"s\"},"
                             "{\"path\": \"chg.csv\", \"content\": \"c\"}],"
                             "\"collect\": [\"*.csv\", \"out/**\"]}",
                             0, &je);
    struct files_spec spec;
    struct err e = {0};
    struct exec_files *ef;
    json_t *res, *files, *v;
    char *big, p[256];
    struct stat st;
    int fd;

    assert_int_equal(files_spec_parse(req, &spec, &e), 0);
    assert_int_equal(exec_files_write(&spec, f->root, getuid(), getgid(), &e), 0);
    ef = exec_files_new(&f->store, "00000000-0000-4000-8000-000000000001", &spec);
    assert_non_null(ef);
    files_spec_done(&spec);
    json_decref(req);
    assert_int_equal(exec_files_snapshot(ef, f->root), 0);
    assert_int_equal(ef->n_snap, 2);

    /* The "run". */
    snprintf(p, sizeof(p), "%s/in/a.txt", f->ws);
    assert_true(stat(p, &st) == 0 && st.st_size == 2);
    usleep(10000);
    put(f, "chg.csv", "changed", 7);
    put(f, "new.csv", "n", 1);
    snprintf(p, sizeof(p), "%s/out", f->ws);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/out/deep", f->ws);
    assert_int_equal(mkdir(p, 0755), 0);
    big = malloc(3 << 20);
    assert_non_null(big);
    memset(big, 'b', 3 << 20);
    put(f, "out/deep/big.bin", big, 3 << 20);
    free(big);
    snprintf(p, sizeof(p), "%s/link.csv", f->ws);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    snprintf(p, sizeof(p), "%s/fifo.csv", f->ws);
    assert_int_equal(mkfifo(p, 0644), 0);

    res = exec_files_collect(ef, f->root);
    assert_non_null(res);
    files = json_object_get(res, "files");
    assert_int_equal(json_array_size(files), 3);
    assert_null(find(files, "same.csv"));
    assert_null(find(files, "fifo.csv"));
    v = find(files, "chg.csv");
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "content")), "Y2hhbmdlZA==");
    v = find(files, "out/deep/big.bin");
    assert_non_null(v);
    assert_true(json_is_null(json_object_get(v, "content")));
    assert_true(json_is_true(json_object_get(v, "truncated")));
    assert_int_equal(json_integer_value(json_object_get(v, "size")), 3 << 20);
    assert_string_equal(json_string_value(json_object_get(v, "url")),
                        "/execution/00000000-0000-4000-8000-000000000001/files/out/deep/big.bin");
    v = json_array_get(json_object_get(res, "files_skipped"), 0);
    assert_string_equal(json_string_value(json_object_get(v, "path")), "link.csv");

    /* The kept copy; a path not collected. */
    assert_int_equal(exec_files_open(ef, "out/deep/big.bin", &fd, &st, &e), 0);
    assert_int_equal(st.st_size, 3 << 20);
    close(fd);
    assert_int_equal(exec_files_open(ef, "same.csv", &fd, &st, &e), -ERR_NOT_FOUND);
    assert_int_equal(atomic_load(&f->store.used), (3 << 20) + 7 + 1);
    json_decref(res);
    exec_files_free(ef);
    assert_int_equal(atomic_load(&f->store.used), 0);
    snprintf(p, sizeof(p), "%s/state/files/00000000-0000-4000-8000-000000000001", f->top);
    assert_int_equal(access(p, F_OK), -1);
}

static void test_write_refused_names_entry(void **state)
{
    struct fx *f = *state;
    json_t *req = json_loads("{\"files\": [{\"path\": \"a\", \"content\": \"1\"},"
                             "{\"path\": \"a/b\", \"content\": \"2\"}]}",
                             0, NULL);
    struct files_spec spec;
    struct err e = {0};

    assert_int_equal(files_spec_parse(req, &spec, &e), 0);
    assert_true(exec_files_write(&spec, f->root, getuid(), getgid(), &e) < 0);
    assert_string_equal(e.field, "files[1].path");
    files_spec_done(&spec);
    json_decref(req);
}

static void test_store_full(void **state)
{
    struct fx *f = *state;
    json_t *req = json_loads("{\"collect\": [\"**\"]}", 0, NULL), *res, *v;
    struct files_spec spec;
    struct err e = {0};
    struct exec_files *ef;
    char *big = malloc(2 << 20);

    assert_non_null(big);
    memset(big, 'x', 2 << 20);
    f->store.cap = 1 << 20;
    assert_int_equal(files_spec_parse(req, &spec, &e), 0);
    ef = exec_files_new(&f->store, "00000000-0000-4000-8000-000000000002", &spec);
    files_spec_done(&spec);
    json_decref(req);
    assert_int_equal(exec_files_snapshot(ef, f->root), 0);
    put(f, "big", big, 2 << 20);
    put(f, "small", "s", 1);
    res = exec_files_collect(ef, f->root);
    v = find(json_object_get(res, "files"), "big");
    assert_true(json_is_null(json_object_get(v, "url")));
    assert_non_null(json_object_get(v, "reason"));
    assert_string_equal(json_string_value(json_object_get(v, "sha256")),
                        "6932fd31e5daf4739b9fa78ff777b2831b0995cc1d0b0093cac80601902013bc");
    v = find(json_object_get(res, "files"), "small");
    assert_string_equal(json_string_value(json_object_get(v, "content")), "cw==");
    json_decref(res);
    exec_files_free(ef);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_refused_names_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_full, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
