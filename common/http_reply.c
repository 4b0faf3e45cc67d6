/* http_reply.c - reply helpers over libmicrohttpd. */
#include "http_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum MHD_Result http_reply_bytes_take(struct MHD_Connection *conn, unsigned int status, char *data,
                                      size_t len, const char *content_type)
{
    struct MHD_Response *resp;
    enum MHD_Result r;

    resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

enum MHD_Result http_reply_json(struct MHD_Connection *conn, unsigned int status, json_t *body)
{
    /* 9 significant digits: timings in seconds keep microseconds without float noise. */
    char *s = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9));

    if (!s)
        return MHD_NO;
    return http_reply_bytes_take(conn, status, s, strlen(s), "application/json");
}

enum MHD_Result http_reply_json_take(struct MHD_Connection *conn, unsigned int status, json_t *body)
{
    enum MHD_Result r;

    if (!body)
        return MHD_NO;
    r = http_reply_json(conn, status, body);
    json_decref(body);
    return r;
}

json_t *http_reply_error_body(const char *code, const char *field, const char *req_id,
                              const char *message)
{
    json_t *inner = json_pack("{s:s, s:s}", "code", code, "message", message);

    if (!inner)
        return NULL;
    if (field && *field)
        json_object_set_new(inner, "field", json_string(field));
    if (req_id && *req_id)
        json_object_set_new(inner, "request_id", json_string(req_id));
    return json_pack("{s:o}", "error", inner);
}

enum MHD_Result http_reply_error(struct MHD_Connection *conn, unsigned int status, const char *code,
                                 const char *field, const char *req_id, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return http_reply_json_take(conn, status, http_reply_error_body(code, field, req_id, msg));
}
