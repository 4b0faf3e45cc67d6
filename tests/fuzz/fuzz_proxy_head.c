/* fuzz_proxy_head.c - libFuzzer target for the shaping proxy's parsers: the request head (and
 * the rewrite of every head it accepts), the egress reply head, host:port and allow-list
 * entries. Invariants are checked with abort() so the fuzzer reports them as crashes. */
#include <stdint.h>
#include <stdlib.h>

#include "../../netshape/toxics.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data, *why = NULL;
    static char out[TOXICS_REWRITE_MAX];
    char host[TOXICS_HOST_MAX], entry[TOXICS_ENTRY_MAX];
    struct toxics_head h;
    size_t head_len = 0, n;
    int status = 0, port = 0, r;

    r = toxics_head_parse(buf, size, &h, &why);
    if (!why)
        abort();
    if (r == 0) {
        if (h.head_len > size || h.head_len > TOXICS_HEAD_MAX || h.port < 1 || h.port > 65535 ||
            strlen(h.host) == 0)
            abort();
        if (h.kind == TOXICS_HEAD_FORWARD) {
            long w = toxics_head_rewrite(buf, &h, out, sizeof(out));

            /* Every accepted head fits the rewrite buffer the proxy uses, ends its head, and
             * says Connection: close exactly once at the end. */
            if (w < 21 || memcmp(out + w - 21, "Connection: close\r\n\r\n", 21) != 0)
                abort();
        }
    }
    (void)toxics_reply_parse(buf, size, &status, &head_len);
    if (head_len > size)
        abort();
    (void)toxics_hostport_parse(buf, size, host, sizeof(host), &port, -1);

    /* Allow-list: "entry\nhost" */
    n = 0;
    while (n < size && buf[n] != '\n')
        n++;
    if (n < sizeof(entry)) {
        memcpy(entry, buf, n);
        entry[n] = '\0';
        if (n < size &&
            toxics_hostport_parse(buf + n + 1, size - n - 1, host, sizeof(host), &port, 80) == 0)
            (void)toxics_allow_match(entry, host, port);
        (void)toxics_allow_is_valid(entry);
    }
    return 0;
}
