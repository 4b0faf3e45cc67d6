/* nadoo.c - the Nadoo dialect's requests and replies (see nadoo.h). */
#include "nadoo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "files_map.h"
#include "files_spec.h"
#include "json_util.h"
#include "reqfields.h"
#include "strx.h"

/* Puts prefix in front of e->field (after a parse of one batch entry). */
static int nadoo_prefix(struct err *e, const char *prefix, int r)
{
    char field[sizeof(e->field)];

    if (e && prefix && *prefix) {
        strx_printf(field, sizeof(field), "%s%s", prefix, e->field);
        strx_copy(e->field, sizeof(e->field), field);
    }
    return r;
}

int nadoo_parse_value(json_t *o, const char *prefix, double max_timeout, struct job_req *req,
                      struct err *e)
{
    int r;

    memset(req, 0, sizeof(*req));
    if (!json_is_object(o))
        return nadoo_prefix(
            e, prefix, err_set(e, ERR_INVALID, "", "an execution request must be a JSON object"));
    r = job_req_read(
        o, REQFIELDS_STDIN | REQFIELDS_INPUT | REQFIELDS_ENV | REQFIELDS_EXEC | REQFIELDS_STRICT,
        max_timeout, req, e);
    return r < 0 ? nadoo_prefix(e, prefix, r) : 0;
}

int nadoo_parse(const char *body, size_t len, double max_timeout, struct job_req *req,
                struct err *e)
{
    json_t *o = json_util_parse_object(body, len, e);
    int r;

    memset(req, 0, sizeof(*req));
    if (!o)
        return -ERR_INVALID;
    r = nadoo_parse_value(o, "", max_timeout, req, e);
    json_decref(o);
    return r;
}

int nadoo_batch_parse(const char *body, size_t len, double max_timeout,
                      struct job_req reqs[NADOO_BATCH_MAX], size_t *n, struct err *e)
{
    json_t *o = json_util_parse_object(body, len, e), *list, *v;
    size_t i;
    int r = 0;

    *n = 0;
    if (!o)
        return -ERR_INVALID;
    list = json_object_get(o, "executions");
    if (!json_is_array(list)) {
        r = err_set(e, ERR_INVALID, "executions",
                    "field 'executions' must be an array of execution requests");
        goto out;
    }
    if (json_array_size(list) == 0 || json_array_size(list) > NADOO_BATCH_MAX) {
        r = err_set(e, ERR_INVALID, "executions",
                    "field 'executions' must hold 1 to %d requests, got %zu", NADOO_BATCH_MAX,
                    json_array_size(list));
        goto out;
    }
    json_array_foreach(list, i, v)
    {
        char prefix[40];

        snprintf(prefix, sizeof(prefix), "executions[%zu].", i);
        if ((r = nadoo_parse_value(v, prefix, max_timeout, &reqs[i], e)) < 0) {
            /* "executions[2]." alone when the entry itself is wrong. */
            if (e && e->field[0] && e->field[strlen(e->field) - 1] == '.')
                e->field[strlen(e->field) - 1] = '\0';
            break;
        }
        (*n)++;
    }
    if (r < 0) {
        for (size_t k = 0; k < *n; k++)
            job_req_done(&reqs[k]);
        *n = 0;
    }
out:
    json_decref(o);
    return r;
}

const char *nadoo_status(const char *st)
{
    static const char *const map[][2] = {{"pending", "queued"},  {"queued", "queued"},
                                         {"running", "running"}, {"completed", "success"},
                                         {"timeout", "timeout"}, {"cancelled", "cancelled"},
                                         {"failed", "error"}};

    for (size_t i = 0; st && i < sizeof(map) / sizeof(map[0]); i++) {
        if (!strcmp(st, map[i][0]))
            return map[i][1];
    }
    return "error";
}

/* A string member of src copied to key, or "" / null (when null_empty is false / true). */
static int nadoo_copy_str(json_t *o, const char *key, json_t *src, const char *skey,
                          bool null_when_absent)
{
    json_t *v = json_object_get(src, skey);

    if (json_is_string(v))
        return json_object_set(o, key, v);
    return json_object_set_new(o, key, null_when_absent ? json_null() : json_string(""));
}

/* A member of src copied to key when it is of the type is_ok accepts, else null. */
static int nadoo_copy_or_null(json_t *o, const char *key, json_t *v, int (*is_ok)(const json_t *))
{
    return json_object_set(o, key, v && is_ok(v) ? v : json_null());
}

static int nadoo_is_number(const json_t *v)
{
    return json_is_number(v);
}

static int nadoo_is_integer(const json_t *v)
{
    return json_is_integer(v);
}

static int nadoo_is_string(const json_t *v)
{
    return json_is_string(v);
}

/* Copies the scenario's outcome fields of src that are present, and debug_info when asked for
 * (null otherwise, and then left out). */
static int nadoo_copy_scenario(json_t *o, json_t *src)
{
    /* ... and whether the agent replaced invalid UTF-8 in a stream (issue 13). */
    static const char *const keys[] = {"warnings",           "scenario",        "network",
                                       "artificial_delay_s", "stdout_replaced", "stderr_replaced"};

    if (json_is_object(json_object_get(src, "debug_info")) &&
        json_object_set(o, "debug_info", json_object_get(src, "debug_info")) < 0)
        return -ENOMEM;

    /* The files it collected, downloadable through us (files_map.h). */
    if (files_spec_copy(src, o, FILES_MAP_PREFIX) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(src, keys[i]);

        /* A job's result always holds warnings; without a scenario an empty list is noise
         * here, as in a synchronous reply. */
        if (v && json_is_array(v) && json_array_size(v) == 0 && !json_object_get(src, "scenario"))
            continue;
        if (v && json_object_set(o, keys[i], v) < 0)
            return -ENOMEM;
    }
    return 0;
}

json_t *nadoo_reply(json_t *res)
{
    const char *st = json_string_value(json_object_get(res, "status"));
    const char *ns = nadoo_status(st);
    json_t *o = json_object();
    json_t *err = json_object_get(res, "error");

    if (!o)
        return NULL;
    if (nadoo_copy_str(o, "execution_id", res, "execution_id", true) < 0 ||
        json_object_set_new(o, "status", json_string(ns)) < 0 ||
        nadoo_copy_str(o, "language", res, "language", true) < 0 ||
        nadoo_copy_str(o, "stdout", res, "stdout", false) < 0 ||
        nadoo_copy_str(o, "stderr", res, "stderr", false) < 0 ||
        nadoo_copy_or_null(o, "exit_code", json_object_get(res, "exit_code"), nadoo_is_integer) <
            0 ||
        nadoo_copy_or_null(o, "execution_time", json_object_get(res, "execution_time"),
                           nadoo_is_number) < 0 ||
        nadoo_copy_or_null(o, "exit_reason", json_object_get(res, "exit_reason"), nadoo_is_string) <
            0 ||
        nadoo_copy_scenario(o, res) < 0)
        goto fail;
    /* error is null on success; a failure always says why. */
    if (!strcmp(ns, "success") || !strcmp(ns, "queued") || !strcmp(ns, "running"))
        err = json_null();
    else if (!json_is_string(err))
        err = NULL;
    if (err ? json_object_set(o, "error", err) < 0
            : json_object_set_new(o, "error",
                                  json_string(!strcmp(ns, "timeout")     ? "Timed out"
                                              : !strcmp(ns, "cancelled") ? "Cancelled"
                                                                         : "Execution failed")) < 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

json_t *nadoo_failure(const char *language, const char *msg)
{
    json_t *o = json_pack("{s:n, s:s, s:s?, s:s, s:s, s:n, s:n, s:n}", "execution_id", "status",
                          "error", "language", language, "stdout", "", "stderr", "", "exit_code",
                          "execution_time", "exit_reason");

    if (o && json_util_set_text(o, "error", msg, strlen(msg)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *nadoo_job_view(json_t *job)
{
    const char *st = json_string_value(json_object_get(job, "status"));
    json_t *res = json_object_get(job, "result"), *o = json_object(), *v;
    const char *reason = json_string_value(json_object_get(res, "exitReason"));
    const char *ns;

    if (!o)
        return NULL;
    if (st && !strcmp(st, "completed"))
        ns = "success";
    else if (st && !strcmp(st, "queued"))
        ns = "queued";
    else if (st && !strcmp(st, "running"))
        ns = "running";
    else if (st && !strcmp(st, "cancelled"))
        ns = "cancelled";
    else /* failed (or anything unexpected) */
        ns = reason && !strcmp(reason, "timeout") ? "timeout" : "error";
    v = json_object_get(res, "durationMs");
    if (nadoo_copy_str(o, "execution_id", job, "jobId", true) < 0 ||
        json_object_set_new(o, "status", json_string(ns)) < 0 ||
        nadoo_copy_str(o, "language", job, "language", true) < 0 ||
        nadoo_copy_str(o, "stdout", res, "stdout", false) < 0 ||
        nadoo_copy_str(o, "stderr", res, "stderr", false) < 0 ||
        nadoo_copy_or_null(o, "exit_code", json_object_get(res, "exitCode"), nadoo_is_integer) <
            0 ||
        json_object_set_new(o, "execution_time",
                            json_is_number(v) ? json_real(json_number_value(v) / 1000)
                                              : json_null()) < 0 ||
        nadoo_copy_or_null(o, "exit_reason", json_object_get(res, "exitReason"), nadoo_is_string) <
            0 ||
        nadoo_copy_or_null(o, "error",
                           !strcmp(ns, "success") ? NULL : json_object_get(res, "error"),
                           nadoo_is_string) < 0 ||
        nadoo_copy_scenario(o, res) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
