/* exec_result.c - status record + harness frame + streams -> ExecutionResult (see
 * exec_result.h). */
#include "exec_result.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "clock.h"
#include "buf.h"
#include "json_out.h"
#include "json_util.h"

/* The outcome before it becomes JSON. */
struct exec_result_class {
    const char *status;     /* static */
    const char *reason;     /* static exit_reason, or NULL */
    char error[256];        /* the agent's own error text, "" = none */
    json_t *frame_error;    /* the program's own error text, borrowed from the frame, or NULL */
    char report_error[320]; /* why the frame could not be read, "" = it could (or none came) */
    int exit_code;          /* -1 = none */
    int sig;                /* 0 = none */
};

static const char *exec_result_signal_name(int sig)
{
    const char *s = sigabbrev_np(sig);

    return s ? s : "?";
}

/* The last line of stderr when it reads "Label: message" (a traceback's last line): the
 * program's own error when its report was lost. Copies it into out (a prefix when long);
 * false when stderr ends otherwise. */
static bool exec_result_stderr_error(const struct exec_result_text *t, char *out, size_t size)
{
    size_t end = t->len, start, n = 0;

    while (end > 0 && (t->data[end - 1] == '\n' || t->data[end - 1] == '\r'))
        end--;
    start = end;
    while (start > 0 && t->data[start - 1] != '\n')
        start--;
    while (start + n < end && n < 128 &&
           (isalpha((unsigned char)t->data[start + n]) || t->data[start + n] == '_' ||
            (n > 0 && (isdigit((unsigned char)t->data[start + n]) || t->data[start + n] == '.'))))
        n++;
    if (n == 0 || start + n >= end || t->data[start + n] != ':')
        return false;
    n = end - start < size - 1 ? end - start : size - 1;
    memcpy(out, t->data + start, n);
    out[n] = '\0';
    return true;
}

/* A normal exit: completed at 0, else failed with the program's own error text when its frame
 * has one (or, when the frame could not be read, when stderr ends with it). The frame may only
 * label the failure as a policy refusal or a failed compile phase (both written before any
 * user code ran). */
static void exec_result_exited(struct exec_result_class *c, int code, json_t *frame,
                               const struct exec_result_text *err)
{
    json_t *fe = json_object_get(frame, "error");
    const char *fr = json_string_value(json_object_get(frame, "exit_reason"));

    c->exit_code = code;
    c->reason = "exited";
    if (code == 0) {
        c->status = "completed";
        return;
    }
    if (json_is_string(fe) && json_string_length(fe) > 0)
        c->frame_error = fe;
    else if (!c->report_error[0] || !exec_result_stderr_error(err, c->error, sizeof(c->error)))
        snprintf(c->error, sizeof(c->error), "ProcessExit: exited with code %d", code);
    if (fr && !strcmp(fr, "policy"))
        c->reason = "policy";
    if (fr && !strcmp(fr, "compile_error"))
        c->reason = "compile_error";
}

/* Classifies the run from the status record (never from anything the program could write:
 * a forged frame cannot change status, exit code, signal or reason). */
static void exec_result_classify(const struct exec_result_in *in, json_t *frame,
                                 struct exec_result_class *c)
{
    const struct zyg_status *st = in->st;

    c->status = "failed";
    c->exit_code = -1;
    if (!st && in->cancel_requested) {
        c->status = c->reason = "cancelled";
        if (in->shutting_down)
            snprintf(c->error, sizeof(c->error),
                     "Cancelled: the agent shut down before the execution started");
    } else if (!st) {
        c->reason = "internal";
        snprintf(c->error, sizeof(c->error),
                 "AgentError: the execution was lost because the zygote died; retry");
    } else if (st->flags & ZYG_ST_SPAWN_FAILED) {
        c->reason = "internal";
        snprintf(c->error, sizeof(c->error), "AgentError: could not start the execution");
    } else if ((st->flags & ZYG_ST_SETUP_FAILED) &&
               !(st->flags & (ZYG_ST_CANCELLED | ZYG_ST_TIMED_OUT))) {
        c->reason = "internal";
        snprintf(c->error, sizeof(c->error),
                 "AgentError: the execution's isolation set-up failed on this host before any "
                 "code ran (the agent log says which layer)");
    } else if (st->flags & ZYG_ST_CANCELLED) {
        c->status = c->reason = "cancelled";
        snprintf(c->error, sizeof(c->error), "%s",
                 in->shutting_down ? "Cancelled: the agent shut down (SIGTERM) and its drain "
                                     "grace (--drain-s) ran out before the execution finished"
                                   : "Cancelled: the execution was cancelled");
    } else if (st->flags & ZYG_ST_OOM) {
        c->reason = "oom";
        snprintf(c->error, sizeof(c->error),
                 "MemoryError: the execution ran out of memory (limit %ld MiB) and was killed",
                 in->memory_mb);
        if (WIFSIGNALED(st->wait_status))
            c->sig = WTERMSIG(st->wait_status);
        else
            c->exit_code = WEXITSTATUS(st->wait_status);
    } else if (st->flags & ZYG_ST_TIMED_OUT) {
        c->status = c->reason = "timeout";
        if (st->flags & ZYG_ST_COMPILING)
            snprintf(c->error, sizeof(c->error),
                     "TimeoutError: compilation exceeded its %u s limit (the run had not started)",
                     in->compile_ms / 1000);
        else
            snprintf(c->error, sizeof(c->error),
                     "TimeoutError: execution exceeded the %g s timeout", in->timeout_s);
    } else if (st->flags & ZYG_ST_PROTOCOL) {
        c->reason = "signaled";
        c->sig = SIGKILL;
        snprintf(c->error, sizeof(c->error),
                 "Signal: killed by signal 9 (SIGKILL): the program wrote on the sandbox's "
                 "control socket (docs/security.md)");
    } else if (WIFSIGNALED(st->wait_status)) {
        c->sig = WTERMSIG(st->wait_status);
        /* RLIMIT_CPU, the backstop of the deadline, is a timeout too. */
        c->reason = c->sig == SIGXCPU ? "timeout" : "signaled";
        snprintf(c->error, sizeof(c->error), "Signal: killed by signal %d (SIG%s)", c->sig,
                 exec_result_signal_name(c->sig));
    } else {
        exec_result_exited(c, WEXITSTATUS(st->wait_status), frame, &in->err);
    }
}

/* Bytes of p[0..n) without a character the cap cut in two (at most 3 bytes of a valid start),
 * so a cut never reads as invalid output. */
static size_t exec_result_whole_chars(const char *p, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        const unsigned char *u = (const unsigned char *)p + n - back;

        size_t want;

        if ((*u & 0xc0) == 0x80)
            continue;
        /* A lead byte whose sequence is longer than what is left was cut. */
        want = (*u & 0xe0) == 0xc0 ? 2 : (*u & 0xf0) == 0xe0 ? 3 : (*u & 0xf8) == 0xf0 ? 4 : 1;
        return want > back ? n - back : n;
    }
    return n;
}

/* Stores a stream as valid UTF-8 text, "<output cut>" appended when it was cut, and
 * "<key>_replaced" saying whether invalid UTF-8 in it became U+FFFD (the bytes are otherwise
 * kept: NUL travels as \u0000). 0 or -ENOMEM. */
static int exec_result_set_stream(json_t *o, const char *key, const struct exec_result_text *t)
{
    size_t mlen = strlen(EXEC_RESULT_OUTPUT_CUT), keep = t->len;
    char *joined, flag[32];
    int r;

    if (!t->cut) {
        r = json_util_set_text(o, key, t->data ? t->data : "", t->len);
    } else {
        /* The cap bounds what was kept; the marker is extra and always appended. */
        if (!(joined = malloc(t->len + mlen)))
            return -ENOMEM;
        if (t->len)
            memcpy(joined, t->data, t->len);
        keep = exec_result_whole_chars(joined, t->len);
        memcpy(joined + keep, EXEC_RESULT_OUTPUT_CUT, mlen);
        r = json_util_set_text(o, key, joined, keep + mlen);
        free(joined);
    }
    if (r < 0)
        return r;
    snprintf(flag, sizeof(flag), "%s_replaced", key);
    return json_object_set_new(o, flag, json_boolean(r > 0)) < 0 ? -ENOMEM : 0;
}

/* The flags a summary shows without the text. */
static int exec_result_set_cut_flags(json_t *o, bool out_cut, bool err_cut)
{
    if (json_object_set_new(o, "truncated", json_boolean(out_cut || err_cut)) < 0 ||
        json_object_set_new(o, "stdout_truncated", json_boolean(out_cut)) < 0 ||
        json_object_set_new(o, "stderr_truncated", json_boolean(err_cut)) < 0)
        return -ENOMEM;
    return 0;
}

/* The bytes of a stream its text shows: all, or up to the last whole character when cut. */
static size_t exec_result_shown(const struct exec_result_text *t)
{
    return t->cut ? exec_result_whole_chars(t->data, t->len) : t->len;
}

/* Whether the text of t replaces invalid UTF-8 (its "<key>_replaced" flag). */
static bool exec_result_replaces(const struct exec_result_text *t)
{
    const unsigned char *u = (const unsigned char *)t->data;
    size_t n = exec_result_shown(t), l;

    for (size_t i = 0; i < n; i += l ? l : 1) {
        if (!(l = json_util_utf8_len(u + i, n - i)))
            return true;
    }
    return false;
}

/* Streams kept apart: every flag of exec_result_set_streams, no text. */
static int exec_result_set_stream_flags(json_t *o, const struct exec_result_text *out,
                                        const struct exec_result_text *err)
{
    if (json_object_set_new(o, "stdout_replaced", json_boolean(exec_result_replaces(out))) < 0 ||
        json_object_set_new(o, "stderr_replaced", json_boolean(exec_result_replaces(err))) < 0)
        return -ENOMEM;
    return exec_result_set_cut_flags(o, out->cut, err->cut);
}

int exec_result_set_streams(json_t *o, const struct exec_result_text *out,
                            const struct exec_result_text *err)
{
    if (exec_result_set_stream(o, "stdout", out) < 0 ||
        exec_result_set_stream(o, "stderr", err) < 0 ||
        json_object_set(o, "output", json_object_get(o, "stdout")) < 0)
        return -ENOMEM;
    return exec_result_set_cut_flags(o, out->cut, err->cut);
}

/* Sets "error" to the program's own error text, cut to EXEC_RESULT_ERROR_MAX bytes on a
 * character boundary: the text is the exception's message, which may be anything. */
static int exec_result_set_frame_error(json_t *o, const char *text, size_t len)
{
    static const char more[] = " ... (cut)";
    size_t cut = EXEC_RESULT_ERROR_MAX;
    char *buf;
    int r;

    if (len <= EXEC_RESULT_ERROR_MAX)
        return json_util_set_text(o, "error", text, len);
    while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80)
        cut--;
    if (!(buf = malloc(cut + sizeof(more))))
        return -ENOMEM;
    memcpy(buf, text, cut);
    memcpy(buf + cut, more, sizeof(more));
    r = json_util_set_text(o, "error", buf, cut + sizeof(more) - 1);
    free(buf);
    return r;
}

/* Sets "error_type" to the type label that starts "error" ("ValueError" of "ValueError: x",
 * "TimeoutError", "Signal", "CompileError"...), or null: a loop can branch on it without
 * parsing the text. A label is a dotted identifier followed by ':' or the end. */
static void exec_result_set_error_type(json_t *o)
{
    const char *err = json_string_value(json_object_get(o, "error"));
    size_t n = 0;

    while (err && n < 128 &&
           (isalpha((unsigned char)err[n]) || err[n] == '_' ||
            (n > 0 && (isdigit((unsigned char)err[n]) || err[n] == '.'))))
        n++;
    if (err && n > 0 && n < 128 && (err[n] == ':' || err[n] == '\0'))
        json_object_set_new(o, "error_type", json_stringn(err, n));
    else
        json_object_set_new(o, "error_type", json_null());
}

/* The scenario as applied: echoed, with what this host could not do as asked; the artificial
 * delay is not the code's time. */
static void exec_result_set_scenario(json_t *o, const struct exec_result_in *in)
{
    if (!in->scenario)
        return;
    json_object_set(o, "scenario", in->scenario);
    json_object_set_new(o, "warnings", in->warnings ? json_incref(in->warnings) : json_array());
    json_object_set_new(o, "artificial_delay_s", json_real(in->delay_ms / 1e3));
    if (in->st && in->delay_ms > 0)
        json_object_set_new(o, "execution_time",
                            json_real(fmax(0, (double)in->st->wall_us / 1e6 - in->delay_ms / 1e3)));
}

/* Whether k can be a bundle's key: type/subtype of RFC 6838 name characters. */
static bool exec_result_mime_ok(const char *k)
{
    size_t n = strlen(k), slash = strcspn(k, "/");

    if (n == 0 || n > EXEC_RESULT_MIME_MAX || slash == 0 || slash >= n - 1 ||
        strchr(k + slash + 1, '/'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (i != slash && !isalnum((unsigned char)k[i]) && !strchr("!#$&^_.+-", k[i]))
            return false;
    }
    return true;
}

/* Sets mime's entry of o to the width and height of sizes that are integers in range, when
 * there are any. 0 or -ENOMEM. */
static int exec_result_output_sizes(json_t *o, const char *mime, json_t *sizes)
{
    static const char *const dims[] = {"width", "height"};
    json_t *kept = json_object();

    if (!kept)
        return -ENOMEM;
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(sizes, dims[i]);

        if (json_is_integer(v) && json_integer_value(v) >= 0 &&
            json_integer_value(v) <= EXEC_RESULT_DIMENSION_MAX &&
            json_object_set(kept, dims[i], v) < 0) {
            json_decref(kept);
            return -ENOMEM;
        }
    }
    if (json_object_size(kept) == 0) {
        json_decref(kept);
        return 0;
    }
    return json_object_set_new(o, mime, kept) < 0 ? -ENOMEM : 0;
}

/* An item's metadata as passed on: for each of data's mime types, its sizes
 * (exec_result_output_sizes). New reference, NULL on out of memory. */
static json_t *exec_result_output_metadata(json_t *meta, json_t *data)
{
    json_t *o = json_object(), *sizes;
    const char *mime;

    if (!o || json_object_size(meta) > EXEC_RESULT_BUNDLE_MAX)
        return o;
    json_object_foreach(meta, mime, sizes)
    {
        if (json_object_get(data, mime) && json_is_object(sizes) &&
            exec_result_output_sizes(o, mime, sizes) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* A copy of one of the frame's output items with only what a mime bundle has: type
 * (display_data or execute_result), data ({mime: string}, not empty), metadata (sizes) and
 * truncated (true). *bytes grows by its strings' bytes. NULL when the item has another shape
 * or on out of memory (*oom then set). */
static json_t *exec_result_output_item(json_t *item, size_t *bytes, bool *oom)
{
    const char *type = json_string_value(json_object_get(item, "type")), *mime;
    json_t *src = json_object_get(item, "data"), *o = NULL, *data = NULL, *meta = NULL, *v;
    size_t n = 0;

    if (!type || (strcmp(type, "display_data") && strcmp(type, "execute_result")) ||
        !json_is_object(src) || json_object_size(src) == 0 ||
        json_object_size(src) > EXEC_RESULT_BUNDLE_MAX)
        return NULL;
    json_object_foreach(src, mime, v)
    {
        if (!exec_result_mime_ok(mime) || !json_is_string(v))
            return NULL;
        n += json_string_length(v);
    }
    /* The strings are shared with the frame, not copied. */
    if (!(data = json_copy(src)) ||
        !(meta = exec_result_output_metadata(json_object_get(item, "metadata"), data)) ||
        !(o = json_pack("{s:s, s:O, s:O}", "type", type, "data", data, "metadata", meta)) ||
        (json_is_true(json_object_get(item, "truncated")) &&
         json_object_set_new(o, "truncated", json_true()) < 0)) {
        json_decref(o);
        o = NULL;
        *oom = true;
    }
    json_decref(data);
    json_decref(meta);
    if (o)
        *bytes += n;
    return o;
}

/* outputs, outputs_truncated and outputs_dropped from the frame: its items that have the shape
 * (exec_result_output_item) within the caps, the others counted with what the harness itself
 * dropped. 0 or -ENOMEM. */
static int exec_result_set_outputs(json_t *o, json_t *frame)
{
    json_t *src = json_object_get(frame, "outputs"), *list = json_array(), *item, *v;
    json_int_t dropped = 0;
    size_t bytes = 0, i;
    bool oom = false;

    v = json_object_get(frame, "outputs_dropped");
    if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= INT32_MAX)
        dropped = json_integer_value(v);
    if (src && !json_is_array(src))
        dropped++;
    json_array_foreach(src, i, item)
    {
        size_t was = bytes;
        json_t *copy = json_array_size(list) < EXEC_RESULT_OUTPUTS_MAX
                           ? exec_result_output_item(item, &bytes, &oom)
                           : NULL;

        if (copy && bytes > EXEC_RESULT_OUTPUTS_MAX_BYTES) {
            json_decref(copy);
            copy = NULL;
            bytes = was;
        }
        if (!copy || json_array_append_new(list, copy) < 0)
            dropped++;
    }
    if (!list || oom) {
        json_decref(list);
        return -ENOMEM;
    }
    if (json_object_set_new(o, "outputs", list) < 0 ||
        json_object_set_new(o, "outputs_truncated",
                            json_boolean(dropped > 0 || json_is_true(json_object_get(
                                                            frame, "outputs_truncated")))) < 0 ||
        json_object_set_new(o, "outputs_dropped", json_integer(dropped)) < 0)
        return -ENOMEM;
    return 0;
}

/* Every field the classification and the frame give. */
static int exec_result_set_fields(json_t *o, const struct exec_result_in *in, json_t *frame,
                                  const struct exec_result_class *c)
{
    struct zyg_status none = {0};
    const struct zyg_status *st = in->st ? in->st : &none;
    json_t *v;

    if (in->streams_apart ? exec_result_set_stream_flags(o, &in->out, &in->err) < 0
                          : exec_result_set_streams(o, &in->out, &in->err) < 0)
        return -ENOMEM;
    if (c->frame_error) {
        if (exec_result_set_frame_error(o, json_string_value(c->frame_error),
                                        json_string_length(c->frame_error)) < 0)
            return -ENOMEM;
    } else {
        if (c->error[0] ? json_util_set_text(o, "error", c->error, strlen(c->error)) < 0
                        : json_object_set_new(o, "error", json_null()) < 0)
            return -ENOMEM;
    }
    /* Status, exit code and streams stand; only the report's extras were lost. */
    if (c->report_error[0] &&
        json_util_set_text(o, "report_error", c->report_error, strlen(c->report_error)) < 0)
        return -ENOMEM;
    exec_result_set_error_type(o);
    json_object_set_new(o, "exit_code",
                        c->exit_code >= 0 ? json_integer(c->exit_code) : json_null());
    json_object_set_new(o, "signal", c->sig ? json_integer(c->sig) : json_null());
    json_object_set_new(o, "exit_reason", c->reason ? json_string(c->reason) : json_null());
    json_object_set_new(o, "processor_id",
                        in->processor_id ? json_string(in->processor_id) : json_null());
    v = json_object_get(frame, "result");
    json_object_set(o, "result", v ? v : json_null());
    v = json_object_get(frame, "result_type");
    if (v && !json_is_null(v))
        json_object_set(o, "result_type", v);
    v = json_object_get(frame, "debug_info");
    json_object_set(o, "debug_info", v ? v : json_null());
    if (exec_result_set_outputs(o, frame) < 0)
        return -ENOMEM;
    json_object_set_new(o, "resources",
                        json_pack("{s:f, s:I}", "cpu_time_s", (double)st->cpu_us / 1e6,
                                  "max_rss_kb", (json_int_t)st->max_rss_kb));
    exec_result_set_scenario(o, in);
    if (in->network)
        json_object_set(o, "network", in->network);
    return 0;
}

json_t *exec_result_build(const struct exec_result_in *in, struct exec_result_outcome *oc)
{
    struct exec_result_class c = {0};
    json_t *frame = NULL, *o = NULL;
    char start[40], end[40];
    json_error_t je;
    double secs;

    /* The frame is the program process's: anything may be there (a forged or a second frame, an
     * integer past int64). It never decides the outcome; unreadable, it is only named. */
    if (in->frame_len) {
        frame = json_loadb(in->frame, in->frame_len, JSON_ALLOW_NUL, &je);
        if (!json_is_object(frame))
            snprintf(c.report_error, sizeof(c.report_error),
                     "the harness's report could not be read (%s); result and debug_info are "
                     "lost, status, exit_code and the streams are the program's own",
                     frame ? "not an object" : je.text);
    }
    if (frame && !json_is_object(frame)) {
        json_decref(frame);
        frame = NULL;
    }
    exec_result_classify(in, frame, &c);
    oc->status = c.status;
    oc->lost_zygote = !in->st && !in->cancel_requested;
    clock_iso(in->start_real_ns ? in->start_real_ns : in->created_real_ns, start, sizeof(start));
    clock_iso(in->end_real_ns, end, sizeof(end));
    /* Cancelled before it started: it never ran, so it took no time (not "since 1970"). */
    secs = in->st              ? (double)in->st->wall_us / 1e6
           : in->start_real_ns ? (double)(in->end_real_ns - in->start_real_ns) / 1e9
                               : 0.0;
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "execution_id", in->id, "status", c.status,
                  "language", in->language, "start_time", start, "end_time", end, "execution_time",
                  secs);
    if (o && exec_result_set_fields(o, in, frame, &c) < 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(frame);
    return o;
}

/* The frame's parts: what exec_result_detach moves out and exec_result_view puts back. */
static const char *const exec_result_extra_keys[] = {"result", "result_type", "debug_info",
                                                     "outputs"};

#define EXEC_RESULT_NEXTRA (sizeof(exec_result_extra_keys) / sizeof(exec_result_extra_keys[0]))

int exec_result_detach(json_t *res, char **extras, size_t *len)
{
    json_t *x = json_object();
    int r = -ENOMEM;

    *extras = NULL;
    *len = 0;
    if (!x)
        return r;
    for (size_t i = 0; i < EXEC_RESULT_NEXTRA; i++) {
        json_t *v = json_object_get(res, exec_result_extra_keys[i]);

        if (v && json_object_set(x, exec_result_extra_keys[i], v) < 0)
            goto out;
    }
    if (json_object_size(x) > 0 && !(*extras = json_out_dumps(x, 0, len)))
        goto out;
    for (size_t i = 0; i < EXEC_RESULT_NEXTRA; i++)
        json_object_del(res, exec_result_extra_keys[i]);
    r = 0;
out:
    json_decref(x);
    return r;
}

json_t *exec_result_debug_info(json_t *kept, const char *extras, size_t extras_len)
{
    json_t *x, *d;

    /* Without extras (out of memory at the detach) the frame's parts stayed in kept. */
    x = extras_len ? json_loadb(extras, extras_len, JSON_ALLOW_NUL, NULL) : json_incref(kept);
    d = json_object_get(x, "debug_info");
    d = d && !json_is_null(d) ? json_incref(d) : NULL;
    json_decref(x);
    return d;
}

/* Appends ,"key":"<text>" for stream t: its bytes escaped now, the marker when cut. */
static int exec_result_encode_stream(struct buf *b, const char *key,
                                     const struct exec_result_text *t)
{
    size_t n = exec_result_shown(t);
    int r = buf_printf(b, ",\"%s\":\"", key);

    if (r == 0 && n)
        r = json_out_append_chars(b, t->data, n);
    if (r == 0 && t->cut)
        r = json_out_append_chars(b, EXEC_RESULT_OUTPUT_CUT, strlen(EXEC_RESULT_OUTPUT_CUT));
    return r == 0 ? buf_append(b, "\"", 1) : r;
}

int exec_result_encode(json_t *kept, const char *extras, size_t extras_len,
                       const struct exec_result_text *out, const struct exec_result_text *err,
                       struct buf *b)
{
    size_t open = b->len;
    int r = json_out_append(b, kept, 0);

    /* kept's fields, then the frame's as kept (an object's text: its members spliced in),
     * then the streams; kept has fields, so every splice follows a comma. */
    if (r < 0 || b->len < open + 2 || b->data[b->len - 1] != '}')
        return r < 0 ? r : -EINVAL;
    b->len--;
    if (extras_len > 2 && extras[0] == '{' && extras[extras_len - 1] == '}') {
        r = buf_append(b, ",", 1);
        if (r == 0)
            r = buf_append(b, extras + 1, extras_len - 2);
    }
    if (r == 0)
        r = exec_result_encode_stream(b, "stdout", out);
    if (r == 0)
        r = exec_result_encode_stream(b, "stderr", err);
    if (r == 0)
        r = exec_result_encode_stream(b, "output", out);
    return r == 0 ? buf_append(b, "}", 1) : r;
}

json_t *exec_result_pending(const char *id, const char *language, const char *processor_id,
                            bool running, int64_t since_real_ns)
{
    char since[40];

    clock_iso(since_real_ns, since, sizeof(since));
    return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:n, s:n, s:n, s:n}", "execution_id", id, "status",
                     running ? "running" : "pending", "language", language, "processor_id",
                     processor_id, "start_time", since, "end_time", "error", "result", "exit_code");
}
