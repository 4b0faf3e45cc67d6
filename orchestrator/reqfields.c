/* reqfields.c - the fields every orchestrator dialect shares, read one way (see reqfields.h). */
#include "reqfields.h"

#include <string.h>

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
    return 0;
}
