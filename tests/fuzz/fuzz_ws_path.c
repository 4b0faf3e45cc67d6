/* fuzz_ws_path.c - libFuzzer target for the workspace path checker, ws_files_check_path, with the
 * invariants every accepted path must hold re-checked independently, and the split and the
 * Content-Type lookup on it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/ws_files.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless p (n bytes, accepted) is a plain relative path of plain components. */
static void ws_path_verify(const char *p, size_t n)
{
    size_t start = 0, depth = 0;

    if (n == 0 || n > WS_FILES_PATH_MAX || p[0] == '/')
        abort();
    for (size_t i = 0; i <= n; i++) {
        if (i < n && ((unsigned char)p[i] < 0x20 || p[i] == 0x7f))
            abort();
        if (i < n && p[i] != '/')
            continue;
        if (i == start || i - start > WS_FILES_NAME_MAX || ++depth > WS_FILES_DEPTH_MAX)
            abort();
        if ((i - start == 1 && p[start] == '.') ||
            (i - start == 2 && p[start] == '.' && p[start + 1] == '.'))
            abort();
        start = i + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[WS_FILES_PATH_MAX + 1], *parent, *name, *copy;
    struct err e = {0};
    const char *p = (const char *)data;

    if (ws_files_check_path(p, size, size % 2, &e) < 0) {
        if (e.code != ERR_INVALID || strcmp(e.field, "path") || !e.msg[0])
            abort();
        return 0;
    }
    if (size == 0 || (size == 1 && p[0] == '.'))
        return 0; /* the workspace itself, for listings */
    ws_path_verify(p, size);
    copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    if (ws_split(copy, buf, &parent, &name, &e) < 0 || !*name ||
        strlen(name) + (parent ? strlen(parent) + 1 : 0) != size)
        abort();
    (void)ws_files_mime(copy);
    free(copy);
    return 0;
}
