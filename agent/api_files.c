/* api_files.c - downloads of collected files (api_files.h). */
#include "api_files.h"

#include <errno.h>
#include <string.h>

#include "files_spec.h"
#include "ws_files.h"

bool api_files_route(struct exec_mgr *mgr, struct http_req *r, enum MHD_Result *res)
{
    const char *url = http_req_url(r), *method = http_req_method(r);
    char id[40], path[FILES_SPEC_PATH_MAX + 1];
    struct err e = {0};
    struct stat st;
    struct exec *ex;
    int rc, fd = -1;

    rc = files_spec_route(url, strlen(url), "/execution/", id, path, &e);
    if (rc == -ENOENT)
        return false;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        struct route_match m = {.method_ok = false};

        snprintf(m.allow, sizeof(m.allow), "GET");
        *res = http_req_unrouted(r, -EPERM, &m);
        return true;
    }
    if (rc < 0) {
        *res = http_req_err(r, &e);
        return true;
    }
    if (!(ex = exec_mgr_find(mgr, id))) {
        if (exec_mgr_evicted(mgr, id)) {
            json_t *o = http_req_error_body(
                r, ERR_GONE, "execution_id",
                "the execution's result was evicted from the history, and its files with it");

            if (o)
                json_object_set_new(o, "evicted", json_true());
            *res = http_req_json_take(r, err_http_status(ERR_GONE), o);
        } else {
            *res = http_req_error(r, ERR_NOT_FOUND, "execution_id", "Execution not found");
        }
        return true;
    }
    rc = exec_mgr_file_open(mgr, ex, path, &fd, &st, &e);
    exec_unref(ex);
    if (rc < 0)
        *res = http_req_err(r, &e);
    else
        *res = http_req_fd_take(r, MHD_HTTP_OK, fd, (uint64_t)st.st_size, ws_files_mime(path));
    return true;
}
