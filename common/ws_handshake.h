/* ws_handshake.h - the server side of the WebSocket opening handshake (RFC 6455 section 4.2):
 * checking a client's upgrade request and computing Sec-WebSocket-Accept. Pure (SHA-1 and
 * base64 from nettle); no MHD, so the checks are unit-tested and fuzzed alone. */
#ifndef SANDPIT_WS_HANDSHAKE_H
#define SANDPIT_WS_HANDSHAKE_H

#include <stddef.h>

#define WS_HANDSHAKE_ACCEPT_LEN 28 /* characters of Sec-WebSocket-Accept */

/* Checks an upgrade request's headers (any may be NULL: absent): method GET, Upgrade naming
 * "websocket", Connection naming "upgrade" (case-insensitive tokens of comma lists), version
 * "13", a key that is base64 of 16 bytes. 0, or -EINVAL with *why (static) naming the fault;
 * -EPROTONOSUPPORT for another version (the reply carries Sec-WebSocket-Version: 13). */
int ws_handshake_check(const char *method, const char *upgrade, const char *connection,
                       const char *version, const char *key, const char **why);
/* Sec-WebSocket-Accept for key into out (size > WS_HANDSHAKE_ACCEPT_LEN): 0 or -EINVAL. */
int ws_handshake_accept(const char *key, char *out, size_t size);
/* True when the comma-separated header value list holds token (case-insensitive). */
int ws_handshake_has_token(const char *list, const char *token);

#endif
