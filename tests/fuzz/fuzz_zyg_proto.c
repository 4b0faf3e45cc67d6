/* fuzz_zyg_proto.c - libFuzzer target for every zygote-protocol decoder. */
#include <stdint.h>

#include "../../sandbox/zyg_proto.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *body;
    size_t blen;
    struct zyg_job job;
    struct zyg_status st;
    uint64_t id;
    int t = zyg_proto_decode_hdr(data, size, &body, &blen);

    if (t == ZYG_MSG_JOB)
        (void)zyg_proto_decode_job(body, blen, &job);
    else if (t == ZYG_MSG_CANCEL)
        (void)zyg_proto_decode_cancel(body, blen, &id);
    (void)zyg_proto_decode_status(data, size, &st);
    return 0;
}
