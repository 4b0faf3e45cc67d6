/* sha256.h - SHA-256 (FIPS 180-4), streaming; pure. For content digests the client checks, not
 * for secrets. */
#ifndef SANDPIT_SHA256_H
#define SANDPIT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 65 /* 64 hex digits and a NUL */

struct sha256 {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char block[64];
    size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
/* Finishes s into hex (lower case, NUL-terminated). */
void sha256_hex(struct sha256 *s, char hex[SHA256_HEX_LEN]);

#endif
