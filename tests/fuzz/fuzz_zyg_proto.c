/* fuzz_zyg_proto.c - libFuzzer target for every zygote-protocol decoder. */
#include <stdint.h>

#include "../../sandbox/zyg_proto.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *body;
    size_t blen;
    struct zyg_job job;
    struct zyg_status st;
    struct zyg_sess_cmd cmd;
    struct zyg_sess_event ev;
    uint64_t id;
    int t = zyg_proto_decode_hdr(data, size, &body, &blen);

    if (t == ZYG_MSG_JOB)
        (void)zyg_proto_decode_job(body, blen, &job);
    else if (t == ZYG_MSG_CANCEL)
        (void)zyg_proto_decode_cancel(body, blen, &id);
    else if (t == ZYG_MSG_SESS && zyg_proto_decode_sess_cmd(body, blen, &cmd) == 0 &&
             strnlen(cmd.name, sizeof(cmd.name)) == sizeof(cmd.name))
        __builtin_trap(); /* a decoded name is always terminated */
    else if (t == ZYG_MSG_SESS_EVENT)
        (void)zyg_proto_decode_sess_event(body, blen, &ev);
    (void)zyg_proto_decode_status(data, size, &st);
    return 0;
}
