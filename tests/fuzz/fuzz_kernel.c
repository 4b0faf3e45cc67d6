/* fuzz_kernel.c - libFuzzer target for the kernel protocol's pure parts: the first byte picks
 * the part. 0: the Kernel Gateway router (route_fuzz.h's contract); 1: a client's Jupyter
 * message (kmsg_parse, kmsg_execute_fields) and the replies built for it; 2: a cell's input
 * request record (kmsg_input_request: the prompt stays within KMSG_PROMPT_MAX bytes); 3: an
 * ExecutionResult mapped to iopub messages (every item a [type, object] pair); 4: the
 * WebSocket handshake's key checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route_fuzz.h"

#include "../../agent/kernel_msg.c"
#include "kernel_route.h"
#include "ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_kernel_message(const char *p, size_t n)
{
    struct kmsg_in m;
    struct kmsg_exec ef;
    struct err e = {0};
    json_t *msg;

    if (kmsg_parse(p, n, &m, &e) < 0)
        return;
    if (!m.type || !m.channel || !json_is_object(m.header) || !json_is_object(m.content))
        abort();
    if (!strcmp(m.type, "execute_request") && kmsg_execute_fields(&m, &ef, &e) == 0 && !ef.code)
        abort();
    msg = kmsg_new("status", "iopub", m.header, kmsg_status("idle"), "s");
    if (!msg || json_object_get(msg, "parent_header") != m.header)
        abort();
    json_decref(msg);
    kmsg_in_done(&m);
}

static void fuzz_kernel_result(const char *p, size_t n)
{
    json_t *res = json_loadb(p, n, 0, NULL), *arr, *pair, *reply;
    size_t i;

    if (!res)
        return;
    arr = kmsg_result_iopub(res, 3, NULL, false);
    json_array_foreach(arr, i, pair)
    {
        if (!json_is_string(json_array_get(pair, 0)) || !json_is_object(json_array_get(pair, 1)))
            abort();
    }
    reply = kmsg_execute_reply(res, 3, NULL);
    if (reply && !json_is_string(json_object_get(reply, "status")))
        abort();
    json_decref(reply);
    json_decref(arr);
    json_decref(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy;
    json_t *req;
    const char *why = NULL;

    if (size == 0)
        return 0;
    if (data[0] % 5 == 0) {
        route_fuzz_one(kernel_route_parse, data + 1, size - 1);
        return 0;
    }
    copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    switch (data[0] % 5) {
    case 1:
        fuzz_kernel_message(copy, size - 1);
        break;
    case 2:
        req = kmsg_input_request(copy, size - 1);
        if (req && strlen(json_string_value(json_object_get(req, "prompt"))) > KMSG_PROMPT_MAX)
            abort();
        json_decref(req);
        break;
    case 3:
        fuzz_kernel_result(copy, size - 1);
        break;
    default:
        if (ws_handshake_check("GET", "websocket", "Upgrade", "13", copy, &why) == 0) {
            char accept[WS_HANDSHAKE_ACCEPT_LEN + 1];

            if (ws_handshake_accept(copy, accept, sizeof(accept)) < 0 ||
                strlen(accept) != WS_HANDSHAKE_ACCEPT_LEN)
                abort();
        }
        (void)kmsg_utf8_whole(copy, size - 1);
        break;
    }
    free(copy);
    return 0;
}
