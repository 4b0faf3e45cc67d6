/* reqfields.c - the fields every orchestrator dialect shares, read one way (see reqfields.h). */
#include "reqfields.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "files_spec.h"
#include "json_util.h"
#include "reqbody.h"
#include "scenario.h"

/* The program; its "missing" error names the dialect's own field first. */
static int reqfields_code(json_t *root, const char *code_field, struct reqfields *out,
                          struct err *e)
{
    int r = reqbody_code(root, &out->code, &out->code_len, e);

    if (r == 1)
        r = err_set(e, ERR_INVALID, code_field,
                    "missing field '%s' (the program to run; '%s' is accepted too)", code_field,
                    strcmp(code_field, "code") ? "code" : "generated_code");
    return r;
}

static int reqfields_scenario(json_t *root, struct reqfields *out, struct err *e)
{
    struct scenario s;
    json_t *scn = NULL;
    int r = json_util_get_object(root, "scenario", &scn, e);

    if (r != 0)
        return r < 0 ? r : 0;
    if ((r = scenario_parse(scn, &s, e)) < 0)
        return r;
    /* The agent applies it and reports what it could not; nothing is dropped here. */
    out->scenario = scn;
    out->delay_s = s.delay_ms / 1000;
    return 0;
}

/* stdin, or its alias input when the dialect has one. */
static int reqfields_stdin(json_t *root, unsigned opts, struct reqfields *out, struct err *e)
{
    json_t *input = json_object_get(root, "input");
    const char *s;
    size_t n;
    int r = json_util_get_str(root, "stdin", &s, &n, e);

    if (r == 0 && (opts & REQFIELDS_INPUT) && input && !json_is_null(input))
        return err_set(e, ERR_INVALID, "input", "give 'stdin' or 'input', not both");
    if (r == 0)
        out->stdin_text = json_object_get(root, "stdin");
    if (r == 1 && (opts & REQFIELDS_INPUT) &&
        (r = json_util_get_str(root, "input", &s, &n, e)) == 0)
        out->stdin_text = input;
    return r < 0 ? r : 0;
}

static const char *const reqfields_exec_names[] = {REQFIELDS_EXEC_NAMES};

#define REQFIELDS_N_EXEC (sizeof(reqfields_exec_names) / sizeof(reqfields_exec_names[0]))

/* The agent's execution fields, checked as the agent checks them (agent/exec_req.c) but for
 * limits only the agent knows (its max_output_bytes cap, its policy override rule): those it
 * refuses with a 400 that reaches the client. */
static int reqfields_exec(json_t *root, struct err *e)
{
    struct files_spec files;
    const char *s;
    long long n;
    bool b;
    int r;

    if ((r = json_util_get_str(root, "policy", &s, NULL, e)) < 0)
        return r;
    if (r == 0 && strcmp(s, "standard") != 0 && strcmp(s, "restricted") != 0)
        return err_set(e, ERR_INVALID, "policy",
                       "field 'policy' must be \"standard\" or \"restricted\"");
    if ((r = json_util_get_str(root, "processor_id", &s, NULL, e)) < 0)
        return r;
    if (r == 0 && strlen(s) > REQFIELDS_MAX_ID)
        return err_set(e, ERR_INVALID, "processor_id", "field 'processor_id' is longer than %d",
                       REQFIELDS_MAX_ID);
    if ((r = json_util_get_bool(root, "debug_mode", &b, e)) < 0 ||
        (r = json_util_get_bool(root, "trace", &b, e)) < 0 ||
        (r = json_util_get_int(root, "trace_limit", 0, 100000, &n, e)) < 0 ||
        (r = json_util_get_int(root, "repr_limit", 10, 100000, &n, e)) < 0 ||
        (r = json_util_get_int(root, "max_output_bytes", 1, 1LL << 40, &n, e)) < 0)
        return r;
    /* Files in and out: every entry checked as the agent checks it, named when refused. */
    if ((r = files_spec_parse(root, &files, e)) < 0)
        return r;
    files_spec_done(&files);
    return 0;
}

/* True when name is a field the options opts read. */
static bool reqfields_known(const char *name, unsigned opts)
{
    static const char *const base[] = {"generated_code", "code", "language", "timeout", "scenario"};
    static const struct {
        unsigned opt;
        const char *name;
    } extra[] = {{REQFIELDS_STDIN, "stdin"},
                 {REQFIELDS_INPUT, "input"},
                 {REQFIELDS_ENV, "env"},
                 {REQFIELDS_MAX_CHARS, "max_output_characters"}};

    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
        if (!strcmp(name, base[i]))
            return true;
    }
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        if ((opts & extra[i].opt) && !strcmp(name, extra[i].name))
            return true;
    }
    for (size_t i = 0; (opts & REQFIELDS_EXEC) && i < REQFIELDS_N_EXEC; i++) {
        if (!strcmp(name, reqfields_exec_names[i]))
            return true;
    }
    return false;
}

/* Edit distance of a and b (both shorter than 32 bytes), for "did you mean". */
static size_t reqfields_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[33];

    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The known field closest to name (case, a prefix, or at most 2 edits away), or NULL. */
static const char *reqfields_closest(const char *name, unsigned opts)
{
    static const char *const all[] = {"generated_code",
                                      "code",
                                      "language",
                                      "timeout",
                                      "scenario",
                                      "stdin",
                                      "input",
                                      "env",
                                      "max_output_characters",
                                      REQFIELDS_EXEC_NAMES};
    size_t n = strlen(name), best_d = 3;
    const char *best = NULL;

    if (n == 0 || n >= 32)
        return NULL;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        size_t d, la = strlen(all[i]);

        if (!reqfields_known(all[i], opts))
            continue;
        if (!strcasecmp(name, all[i]) || (n >= 3 && !strncasecmp(name, all[i], n < la ? n : la)))
            return all[i];
        if ((d = reqfields_distance(name, all[i])) < best_d) {
            best_d = d;
            best = all[i];
        }
    }
    return best;
}

void reqfields_unknown_msg(const char *name, unsigned opts, bool ignored, char *out, size_t size)
{
    const char *near = reqfields_closest(name, opts);
    int n = 40;

    /* Never cut inside a UTF-8 character: the message must stay valid JSON text. */
    if (strlen(name) > (size_t)n)
        while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
            n--;
    snprintf(out, size, "unknown field '%.*s'%s%s%s%s", n, name, ignored ? " ignored" : "",
             near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
}

/* Lists (or, with REQFIELDS_STRICT, refuses) the members of root that no option reads. */
static int reqfields_unknown(json_t *root, unsigned opts, struct reqfields *out, struct err *e)
{
    const char *k;
    json_t *v;

    json_object_foreach(root, k, v)
    {
        char msg[160];

        if (reqfields_known(k, opts))
            continue;
        if (opts & REQFIELDS_STRICT) {
            reqfields_unknown_msg(k, opts, false, msg, sizeof(msg));
            /* An empty key is a key too: named as its JSON spelling, so the error has a field. */
            return err_set(e, ERR_INVALID, *k ? k : "\"\"", "%s", msg);
        }
        if (out->n_unknown < REQFIELDS_MAX_UNKNOWN)
            out->unknown[out->n_unknown] = k;
        out->n_unknown++;
    }
    return 0;
}

int reqfields_copy_exec(json_t *root, json_t *body)
{
    for (size_t i = 0; i < REQFIELDS_N_EXEC; i++) {
        json_t *v = json_object_get(root, reqfields_exec_names[i]);

        if (v && !json_is_null(v) && json_object_set(body, reqfields_exec_names[i], v) < 0)
            return -ENOMEM;
    }
    return 0;
}

int reqfields_read(json_t *root, const char *code_field, unsigned opts, double max_timeout,
                   struct reqfields *out, struct err *e)
{
    const char *lang = "python";
    size_t lang_len = 6;
    int r;

    memset(out, 0, sizeof(*out));
    if ((r = reqfields_code(root, code_field, out, e)) < 0)
        return r;
    if ((r = json_util_get_str(root, "language", &lang, &lang_len, e)) < 0 ||
        (r = lang_canon(lang, lang_len, out->language, e)) < 0)
        return r;
    if ((r = reqbody_timeout(root, max_timeout, &out->timeout, e)) < 0 ||
        (r = reqfields_scenario(root, out, e)) < 0)
        return r;
    if ((opts & REQFIELDS_STDIN) && (r = reqfields_stdin(root, opts, out, e)) < 0)
        return r;
    if ((opts & REQFIELDS_ENV) && ((r = json_util_get_object(root, "env", &out->env, e)) < 0 ||
                                   (out->env && (r = reqbody_env(out->env, e)) < 0)))
        return r;
    if ((opts & REQFIELDS_EXEC) && (r = reqfields_exec(root, e)) < 0)
        return r;
    return reqfields_unknown(root, opts, out, e);
}
