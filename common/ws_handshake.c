/* ws_handshake.c - the WebSocket opening handshake's checks and accept key (see .h). */
#include "ws_handshake.h"

#include <errno.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define WS_HANDSHAKE_GUID    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_HANDSHAKE_KEY_LEN 24 /* base64 of 16 bytes */

int ws_handshake_has_token(const char *list, const char *token)
{
    size_t n = strlen(token);

    while (list && *list) {
        size_t len;

        list += strspn(list, " \t,");
        len = strcspn(list, ",");
        while (len && (list[len - 1] == ' ' || list[len - 1] == '\t'))
            len--;
        if (len == n && !strncasecmp(list, token, n))
            return 1;
        list += strcspn(list, ",");
    }
    return 0;
}

/* True when key is 24 characters of base64 decoding to 16 bytes. */
static int ws_handshake_key_ok(const char *key)
{
    struct base64_decode_ctx ctx;
    uint8_t raw[BASE64_DECODE_LENGTH(WS_HANDSHAKE_KEY_LEN)];
    size_t n = sizeof(raw);

    if (strlen(key) != WS_HANDSHAKE_KEY_LEN)
        return 0;
    base64_decode_init(&ctx);
    if (!base64_decode_update(&ctx, &n, raw, WS_HANDSHAKE_KEY_LEN, key) ||
        !base64_decode_final(&ctx))
        return 0;
    return n == 16;
}

int ws_handshake_check(const char *method, const char *upgrade, const char *connection,
                       const char *version, const char *key, const char **why)
{
    if (!method || strcmp(method, "GET") != 0)
        *why = "a WebSocket upgrade is a GET";
    else if (!ws_handshake_has_token(upgrade, "websocket"))
        *why = "this endpoint is a WebSocket: the request needs 'Upgrade: websocket'";
    else if (!ws_handshake_has_token(connection, "upgrade"))
        *why = "a WebSocket upgrade needs 'Connection: Upgrade'";
    else if (!version || strcmp(version, "13") != 0) {
        *why = "only WebSocket version 13 is spoken (Sec-WebSocket-Version: 13)";
        return -EPROTONOSUPPORT;
    } else if (!key || !ws_handshake_key_ok(key))
        *why = "Sec-WebSocket-Key must be base64 of 16 bytes";
    else
        return 0;
    return -EINVAL;
}

int ws_handshake_accept(const char *key, char *out, size_t size)
{
    struct sha1_ctx sha;
    uint8_t digest[SHA1_DIGEST_SIZE];

    if (!ws_handshake_key_ok(key) || size <= WS_HANDSHAKE_ACCEPT_LEN)
        return -EINVAL;
    sha1_init(&sha);
    sha1_update(&sha, strlen(key), (const uint8_t *)key);
    sha1_update(&sha, sizeof(WS_HANDSHAKE_GUID) - 1, (const uint8_t *)WS_HANDSHAKE_GUID);
    sha1_digest(&sha, sizeof(digest), digest);
    base64_encode_raw(out, sizeof(digest), digest);
    out[WS_HANDSHAKE_ACCEPT_LEN] = '\0';
    return 0;
}
