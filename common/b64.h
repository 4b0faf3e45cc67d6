/* b64.h - standard base64 (RFC 4648, '+' '/' and '=' padding) both ways; pure. */
#ifndef SANDPIT_B64_H
#define SANDPIT_B64_H

#include <stddef.h>

/* Bytes b64_encode writes for n input bytes, its NUL included. */
#define B64_ENCODED_LEN(n) (((n) + 2) / 3 * 4 + 1)

/* Writes the encoding of in[0..n) and a NUL into out (room for B64_ENCODED_LEN(n)); returns
 * its length without the NUL. */
size_t b64_encode(const void *in, size_t n, char *out);
/* Decodes text[0..n) into out (room for n / 4 * 3 + 3 bytes): padding may be left out, nothing
 * else (no whitespace, no URL alphabet). Returns the decoded length, or -1 when text is not
 * base64. */
long long b64_decode(const char *text, size_t n, unsigned char *out);

#endif
