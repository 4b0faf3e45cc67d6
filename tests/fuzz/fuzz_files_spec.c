/* fuzz_files_spec.c - libFuzzer target for "files" and "collect" (files_spec.c): the input is a
 * request body; what parses is globbed against paths made of its own bytes, and the input is
 * also tried as a download URL, as base64 and as a relative path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "files_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char id[40], path[FILES_SPEC_PATH_MAX + 1], *text;
    unsigned char *dec;
    struct files_spec s;
    struct err e;
    json_t *root;

    text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    (void)files_spec_route(text, size, "/execution/", id, path, &e);
    (void)files_spec_check_path(text, size, "path", &e);
    if ((dec = malloc(size / 4 * 3 + 3))) {
        (void)b64_decode(text, size, dec);
        free(dec);
    }
    root = json_loadb(text, size, JSON_ALLOW_NUL, NULL);
    if (root && files_spec_parse(root, &s, &e) == 0) {
        json_t *dst = json_object();

        for (size_t i = 0; i < s.n_collect; i++) {
            (void)files_spec_glob(s.collect[i], "a/b/c.csv");
            for (size_t k = 0; k < s.n_files; k++)
                (void)files_spec_glob(s.collect[i], s.files[k].path);
        }
        (void)files_spec_copy(root, dst, "/api/v1/executions/");
        json_decref(dst);
        files_spec_done(&s);
    }
    json_decref(root);
    free(text);
    return 0;
}
