/* fuzz_codefmt.c - libFuzzer target for codefmt_normalise (STYLE §10). A first byte '0'..'7'
 * picks the requested language, anything else means python with the whole input as text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../orchestrator/codefmt.c"
#include "../../orchestrator/codefmt_dict.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const langs[] = {"python", "javascript", "bash",  "c",
                                        "cpp",    "csharp",     "cobol", NULL};
    const char *lang = "python";
    const char *text = (const char *)data;
    char *copy, *out = NULL;
    size_t out_len = 0;
    enum codefmt_kind kind = CODEFMT_RAW;

    if (size > 0 && data[0] >= '0' && data[0] <= '7') {
        lang = langs[data[0] - '0'];
        text++;
        size--;
    }
    /* An exact-size heap copy so ASan sees any read past the end. */
    copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, text, size);
    if (codefmt_normalise(copy, size, lang, &out, &out_len, &kind) == 0) {
        if (out[out_len] != '\0' || out_len > size + 1)
            abort();
        if (kind == CODEFMT_RAW && (out_len != size || memcmp(out, copy, size) != 0))
            abort();
        if (strcmp(codefmt_kind_name(kind), "unknown") == 0)
            abort();
        free(out);
    }
    free(copy);
    return 0;
}
