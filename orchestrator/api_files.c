/* api_files.c - files in and out through the orchestrator (docs/orchestrator.md "Files in and
 * out"): a relayed result's files list gets download URLs of ours, and
 * GET /api/v1/executions/{id}/files/{path} is proxied to the agent that ran the execution
 * (files_map.h remembers which). Files in need nothing here: "files" and "collect" are agent
 * execution fields every dialect checks and passes on (reqfields.h). */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "fdio.h"
#include "files_map.h"
#include "files_spec.h"
#include "log.h"
#include "strx.h"

#define API_FILES_CALL_MS 300000 /* a download of up to the upstream's cap (256 MiB) */

/* One download in flight (the request's data). */
struct api_files_dl {
    struct api *a;
    struct http_req *r;
    struct dcall *dc; /* answered call, or NULL */
};

void api_files_note(struct api *a, const struct dcall *dc, json_t *res, json_t *reply)
{
    const char *id = json_string_value(json_object_get(res, "execution_id"));
    int r;

    if (!res || !reply || (!json_object_get(res, "files") && !json_object_get(res, "files_error")))
        return;
    r = files_spec_copy(res, reply, FILES_MAP_PREFIX);
    if (r < 0)
        log_msg(LOG_WARN, dc->req_id, "out of memory: the result's files list is left out");
    if (r == 1 && id)
        files_map_put(a->files, id, dc->answered_by, dc->answered_gen, dc->owner);
}

static void api_files_dl_free(struct http_req *r, void *data)
{
    struct api_files_dl *dl = data;

    (void)r;
    dcall_free(dl->dc);
    free(dl);
}

static void api_files_done(struct dcall *dc)
{
    struct api_files_dl *dl = dc->arg;

    dl->dc = dc;
    http_req_wake(dl->r);
}

/* A file's bytes (taken) as the agent serves them: through a memfd, so the reply carries the
 * same nosniff and attachment headers as the agent's (http_req_fd_take). */
static enum MHD_Result api_files_bytes(struct http_req *r, char *bytes, size_t len,
                                       const char *type)
{
    int fd = memfd_create("sandpit-dl", MFD_CLOEXEC);

    if (fd >= 0 && (fdio_write_all(fd, bytes, len) < 0 || lseek(fd, 0, SEEK_SET) < 0))
        fdio_close(&fd);
    free(bytes);
    if (fd < 0)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    return http_req_fd_take(r, MHD_HTTP_OK, fd, len, type[0] ? type : "application/octet-stream");
}

/* The agent's answer as it is: the file's bytes, or its JSON error (404, 410). */
static enum MHD_Result api_files_resume(struct http_req *r)
{
    struct api_files_dl *dl = http_req_data(r);
    struct dcall *dc = dl->dc;
    char *bytes;
    size_t len;

    if (dc->outcome == DCALL_AGENT_GONE)
        return http_req_error(r, ERR_GONE, "execution_id",
                              "the agent that ran this execution was restarted or stopped: its "
                              "files are gone");
    if (dc->outcome != DCALL_OK)
        return http_req_error(r, ERR_AGENT_FAILED, "", "the download from agent %s failed: %s",
                              dc->agent_url, dc->err);
    bytes = dc->resp ? dc->resp : strdup("");
    len = dc->resp ? dc->resp_len : 0;
    dc->resp = NULL;
    if (!bytes)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    if (dc->status == 200)
        return api_files_bytes(r, bytes, len, dc->resp_type);
    return http_req_bytes_take(r, (unsigned)dc->status, bytes, len,
                               dc->resp_type[0] ? dc->resp_type : "application/json");
}

bool api_files_route(struct api *a, struct http_req *r, enum MHD_Result *res)
{
    const char *url = http_req_url(r), *method = http_req_method(r);
    char id[40], path[FILES_SPEC_PATH_MAX + 1];
    struct api_files_dl *dl;
    struct err e = {0};
    struct dcall *dc;
    unsigned gen;
    int agent, rc;

    rc = files_spec_route(url, strlen(url), FILES_MAP_PREFIX, id, path, &e);
    if (rc == -ENOENT)
        return false;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        struct route_match m = {.method_ok = false};

        strx_copy(m.allow, sizeof(m.allow), "GET");
        *res = http_req_unrouted(r, -EPERM, &m);
        return true;
    }
    if (rc < 0) {
        *res = http_req_err(r, &e);
        return true;
    }
    if (files_map_get(a->files, id, api_owner(a, r), &agent, &gen) < 0) {
        *res = http_req_error(r, ERR_NOT_FOUND, "execution_id",
                              "no collected files of execution '%s' are known here (only the "
                              "last %d executions with files are remembered)",
                              id, FILES_MAP_MAX);
        return true;
    }
    dl = calloc(1, sizeof(*dl));
    dc = dl ? dcall_new() : NULL;
    if (!dc) {
        free(dl);
        *res = http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
        return true;
    }
    dl->a = a;
    dl->r = r;
    http_req_set_data(r, dl, api_files_dl_free);
    dc->agent = agent;
    dc->agent_gen = gen;
    dc->method = "GET";
    dc->timeout_ms = API_FILES_CALL_MS;
    files_spec_url("/execution/", id, path, dc->path, sizeof(dc->path));
    strx_copy(dc->req_id, sizeof(dc->req_id), http_req_id(r));
    dc->done = api_files_done;
    dc->arg = dl;
    if (dispatch_submit(a->d, dc) < 0) {
        dcall_free(dc);
        *res = http_req_error(r, ERR_SHUTTING_DOWN, NULL, "the orchestrator is shutting down");
        return true;
    }
    *res = http_req_suspend(r, api_files_resume);
    return true;
}
