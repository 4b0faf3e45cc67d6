/* kernel_msg.c - Jupyter messages: parsing, building, ExecutionResult mapping (see .h). */
#include "kernel_msg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "ids.h"
#include "json_util.h"

int kmsg_parse(const char *data, size_t len, struct kmsg_in *out, struct err *e)
{
    json_t *root = json_util_parse_object(data, len, e), *header, *content;
    const char *type, *channel;

    memset(out, 0, sizeof(*out));
    if (!root)
        return -ERR_INVALID;
    header = json_object_get(root, "header");
    content = json_object_get(root, "content");
    type = json_string_value(json_object_get(header, "msg_type"));
    channel = json_string_value(json_object_get(root, "channel"));
    if (!json_is_object(header) || !type) {
        json_decref(root);
        return err_set(e, ERR_INVALID, "header", "a message needs a header with its msg_type");
    }
    if (content && !json_is_object(content)) {
        json_decref(root);
        return err_set(e, ERR_INVALID, "content", "a message's content is an object");
    }
    if (channel && strcmp(channel, "shell") && strcmp(channel, "control") &&
        strcmp(channel, "stdin")) {
        json_decref(root);
        return err_set(e, ERR_INVALID, "channel",
                       "channel must be shell, control or stdin (iopub is the kernel's)");
    }
    if (!content) {
        content = json_object();
        if (!content || json_object_set_new(root, "content", content) < 0) {
            json_decref(root);
            return err_set(e, ERR_BUSY, NULL, "out of memory");
        }
    }
    *out = (struct kmsg_in){.root = root,
                            .type = type,
                            .channel = channel ? channel : "shell",
                            .header = header,
                            .content = content};
    return 0;
}

void kmsg_in_done(struct kmsg_in *m)
{
    json_decref(m->root);
    memset(m, 0, sizeof(*m));
}

/* A boolean field: def when absent, -1 when of another type. */
static int kmsg_bool(const json_t *o, const char *key, bool def)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return def;
    return json_is_boolean(v) ? json_is_true(v) : -1;
}

int kmsg_execute_fields(const struct kmsg_in *m, struct kmsg_exec *out, struct err *e)
{
    static const char *const keys[] = {"silent", "store_history", "allow_stdin", "stop_on_error"};
    const bool defs[] = {false, true, true, true};
    bool *dst[] = {&out->silent, &out->store_history, &out->allow_stdin, &out->stop_on_error};

    out->code = json_string_value(json_object_get(m->content, "code"));
    if (!out->code)
        return err_set(e, ERR_INVALID, "code", "execute_request's content needs code (a string)");
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        int v = kmsg_bool(m->content, keys[i], defs[i]);

        if (v < 0)
            return err_set(e, ERR_INVALID, keys[i], "%s must be true or false", keys[i]);
        *dst[i] = v;
    }
    if (out->silent) /* as IPython: a silent cell is not counted */
        out->store_history = false;
    return 0;
}

/* ISO 8601 UTC with microseconds, as jupyter_client writes dates. */
static void kmsg_date(char *out, size_t size)
{
    struct timeval tv;
    struct tm tm;
    char base[32];

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%06ldZ", base, (long)tv.tv_usec);
}

json_t *kmsg_new(const char *type, const char *channel, json_t *parent, json_t *content,
                 const char *session)
{
    char id[IDS_UUID_LEN + 1], date[48];
    json_t *header, *msg;

    if (ids_uuid4(id) < 0)
        snprintf(id, sizeof(id), "00000000-0000-4000-8000-000000000000");
    kmsg_date(date, sizeof(date));
    header =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "msg_id", id, "session", session, "username",
                  "sandpit", "date", date, "msg_type", type, "version", KMSG_PROTOCOL_VERSION);
    msg = json_pack("{s:o?, s:s, s:s, s:o, s:o, s:o, s:s, s:[]}", "header", header, "msg_id", id,
                    "msg_type", type, "parent_header", parent ? json_incref(parent) : json_object(),
                    "metadata", json_object(), "content", content ? content : json_object(),
                    "channel", channel, "buffers");
    return msg;
}

json_t *kmsg_kernel_info(const char *python_version)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:i}}, "
                     "s:s, s:[]}",
                     "status", "ok", "protocol_version", KMSG_PROTOCOL_VERSION, "implementation",
                     "sandpit", "implementation_version", "0.1.0", "language_info", "name",
                     "python", "version", python_version, "mimetype", "text/x-python",
                     "file_extension", ".py", "pygments_lexer", "ipython3", "nbconvert_exporter",
                     "python", "codemirror_mode", "name", "ipython", "version", 3, "banner",
                     "sandpit: a sandboxed Python session", "help_links");
}

json_t *kmsg_status(const char *state)
{
    return json_pack("{s:s}", "execution_state", state);
}

json_t *kmsg_error_of(const json_t *result)
{
    const char *error = json_string_value(json_object_get(result, "error"));
    const char *etype = json_string_value(json_object_get(result, "error_type"));
    const char *status = json_string_value(json_object_get(result, "status"));
    const char *value = "";
    char ename[128];

    if (!error)
        error = status ? status : "the cell failed";
    snprintf(ename, sizeof(ename), "%s", etype ? etype : status ? status : "Error");
    if (etype && !strncmp(error, etype, strlen(etype)) && error[strlen(etype)] == ':')
        value = error + strlen(etype) + 1 + (error[strlen(etype) + 1] == ' ');
    else
        value = error;
    return json_pack("{s:s, s:s, s:[s]}", "ename", ename, "evalue", value, "traceback", error);
}

/* True when the cell failed. */
static bool kmsg_failed(const json_t *result)
{
    const char *status = json_string_value(json_object_get(result, "status"));

    return !status || strcmp(status, "completed") != 0 ||
           json_is_string(json_object_get(result, "error"));
}

/* Appends [type, content (taken)] to arr. 0 or -ENOMEM. */
static int kmsg_push(json_t *arr, const char *type, json_t *content)
{
    if (!content || json_array_append_new(arr, json_pack("[s, o]", type, content)) < 0)
        return -ENOMEM;
    return 0;
}

size_t kmsg_utf8_whole(const char *p, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)p[n - back];
        size_t need;

        if ((c & 0xc0) == 0x80)
            continue; /* a continuation byte: look further back for its lead */
        need = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

json_t *kmsg_stream(const char *name, const char *p, size_t n)
{
    json_t *o = json_pack("{s:s}", "name", name);

    if (o && json_util_set_text(o, "text", p, n) < 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* The stream messages of a finished cell's stdout and stderr. */
static int kmsg_streams(json_t *arr, const json_t *result)
{
    static const char *const names[] = {"stdout", "stderr"};

    for (size_t i = 0; i < 2; i++) {
        const char *text = json_string_value(json_object_get(result, names[i]));

        if (text && *text &&
            kmsg_push(arr, "stream", kmsg_stream(names[i], text, strlen(text))) < 0)
            return -ENOMEM;
    }
    return 0;
}

json_t *kmsg_result_iopub(const json_t *result, long count, const json_t *err, bool streamed)
{
    json_t *arr = json_array(), *outputs = json_object_get(result, "outputs"), *item;
    size_t i;
    int r = arr ? 0 : -ENOMEM;

    if (r == 0 && !streamed)
        r = kmsg_streams(arr, result);
    json_array_foreach(outputs, i, item)
    {
        const char *type = json_string_value(json_object_get(item, "type"));
        json_t *data = json_object_get(item, "data"), *meta = json_object_get(item, "metadata");

        if (r < 0 || !type || !json_is_object(data))
            continue;
        if (!json_is_object(meta))
            meta = NULL;
        if (!strcmp(type, "execute_result"))
            r = kmsg_push(arr, "execute_result",
                          json_pack("{s:I, s:O, s:o}", "execution_count", (json_int_t)count, "data",
                                    data, "metadata", meta ? json_incref(meta) : json_object()));
        else if (!strcmp(type, "display_data"))
            r = kmsg_push(arr, "display_data",
                          json_pack("{s:O, s:o, s:{}}", "data", data, "metadata",
                                    meta ? json_incref(meta) : json_object(), "transient"));
    }
    if (r == 0 && kmsg_failed(result))
        r = kmsg_push(arr, "error", err ? json_deep_copy(err) : kmsg_error_of(result));
    if (r < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *kmsg_execute_reply(const json_t *result, long count, const json_t *err)
{
    json_t *o, *e;

    if (!kmsg_failed(result))
        return json_pack("{s:s, s:I, s:{}, s:[]}", "status", "ok", "execution_count",
                         (json_int_t)count, "user_expressions", "payload");
    e = err ? json_deep_copy(err) : kmsg_error_of(result);
    o = e ? json_pack("{s:s, s:I, s:O?, s:O?, s:O?}", "status", "error", "execution_count",
                      (json_int_t)count, "ename", json_object_get(e, "ename"), "evalue",
                      json_object_get(e, "evalue"), "traceback", json_object_get(e, "traceback"))
          : NULL;
    json_decref(e);
    return o;
}

json_t *kmsg_aborted(long count)
{
    return json_pack("{s:s, s:I}", "status", "aborted", "execution_count", (json_int_t)count);
}

json_t *kmsg_input_request(const char *data, size_t len)
{
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL), *res = NULL;
    const char *prompt = json_string_value(json_object_get(o, "prompt"));
    json_t *pw = json_object_get(o, "password");

    if (json_is_object(o) && prompt && (!pw || json_is_boolean(pw))) {
        res = json_object();
        if (res &&
            (json_util_set_text(res, "prompt", prompt, strnlen(prompt, KMSG_PROMPT_MAX)) < 0 ||
             json_object_set_new(res, "password", json_boolean(json_is_true(pw))) < 0)) {
            json_decref(res);
            res = NULL;
        }
    }
    json_decref(o);
    return res;
}
