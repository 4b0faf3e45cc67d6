/* http_reply.c - reply helpers over libmicrohttpd. */
#include "http_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "log.h"

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

/* MHD's own diagnostics: relayed, not decided here, hence the one log call in common/. */
static void http_reply_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("libmicrohttpd: %s", msg);
}

struct MHD_Daemon *http_reply_daemon_start(const char *host, long port, unsigned threads,
                                           MHD_AccessHandlerCallback handler, void *handler_cls,
                                           MHD_RequestCompletedCallback done, void *done_cls,
                                           uint16_t *port_out, struct err *e)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    const union MHD_DaemonInfo *info;
    struct sockaddr_in bound;
    socklen_t blen = sizeof(bound);
    struct MHD_Daemon *d;

    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        err_set(e, ERR_INVALID, "host", "--host '%s' is not an IPv4 address", host);
        return NULL;
    }
    /* The logger goes first: options before it would log through MHD's default logger.
     * poll(), not epoll: MHD 0.9.75 quiescing an epoll daemon races its own threads removing the
     * listen socket from their epoll sets and aborts the process (MHD_PANIC on ENOENT, seen
     * on SIGTERM in CI); its poll() threads learn of the quiesce through their ITC instead. */
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
                             MHD_USE_ERROR_LOG,
                         (uint16_t)port, NULL, NULL, handler, handler_cls,
                         MHD_OPTION_EXTERNAL_LOGGER, http_reply_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
                         &sa, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED,
                         done, done_cls, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)8192,
                         MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    if (!d) {
        err_set(e, ERR_UNAVAILABLE, "port", "cannot listen on %s:%ld (in use?)", host, port);
        return NULL;
    }
    *port_out = (uint16_t)port;
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
    if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
        *port_out = ntohs(bound.sin_port);
    return d;
}

int http_reply_daemon_quiesce(struct MHD_Daemon *d)
{
    MHD_socket fd;

    if (!d)
        return -1;
    fd = MHD_quiesce_daemon(d);
    if (fd == MHD_INVALID_SOCKET)
        return -1;
    /* New connections are refused from now on (a listening socket shut down stops listening),
     * while the fd number stays taken until MHD is done with it. */
    (void)shutdown(fd, SHUT_RDWR);
    return fd;
}

void http_reply_daemon_stop(struct MHD_Daemon *d, int listen_fd)
{
    if (d)
        MHD_stop_daemon(d);
    if (listen_fd >= 0)
        close(listen_fd);
}
