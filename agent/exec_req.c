/* exec_req.c - POST /execute body parser. */
#include "exec_req.h"

#include <math.h>
#include <string.h>

#include "json_util.h"
#include "lang.h"
#include "reqbody.h"
#include "ws_name.h"
#include "zyg_proto.h"

static int exec_req_language(const struct exec_limits *lim, const char *lang, const char **out,
                             struct err *e)
{
    const char *canon;

    if (lim->language) {
        *out = lim->language(lim->language_ctx, lang);
        if (*out)
            return 0;
        return err_set(e, ERR_INVALID, "language",
                       "language '%.40s' is not available here; available: %s", lang,
                       lim->available ? lim->available : "");
    }
    /* No runtime table: only the embedded Python, under any of its names. */
    canon = lang_lookup(lang, strlen(lang));
    if (canon && !strcmp(canon, "python")) {
        *out = canon;
        return 0;
    }
    return err_set(e, ERR_INVALID, "language",
                   "language '%.40s' is not available here; available: python", lang);
}

/* Every scenario value within this agent's limits (scenario.h), checked on what the client
 * sent (the leak's default rate is the agent's own). */
static int exec_req_caps(const struct exec_limits *lim, const struct exec_req *r, struct err *e)
{
    struct scenario_caps caps = {.max_timeout_s = lim->max_timeout,
                                 .timeout_s = r->timeout_s,
                                 .memory_mb = (double)lim->memory_mb,
                                 .pids = (double)lim->pids,
                                 .disk_mb = (double)lim->disk_mb};

    /* A zero limit (a caller that sets none, as the unit tests) bounds nothing. */
    if (!lim->memory_mb)
        caps.memory_mb = INFINITY;
    if (!lim->pids)
        caps.pids = INFINITY;
    if (!lim->disk_mb)
        caps.disk_mb = INFINITY;
    return scenario_check_caps(&r->scenario, &caps, e);
}

/* "workspace": a name, copied into ws (the request's text is shed before the end, when the
 * workspace is given back). 0 or -ERR_INVALID. */
static int exec_req_workspace(json_t *root, char ws[WS_NAME_MAX], struct err *e)
{
    const char *name = NULL;
    size_t len = 0;

    if (json_util_get_str(root, "workspace", &name, &len, e) < 0)
        return -ERR_INVALID;
    if (!name)
        return 0;
    if (len != strlen(name) || !ws_name_ok(name))
        return err_set(e, ERR_INVALID, "workspace",
                       "field 'workspace' must match [a-z0-9][a-z0-9_.-]{0,62}");
    memcpy(ws, name, len + 1);
    return 0;
}

int exec_req_parse(const char *body, size_t len, const struct exec_limits *lim,
                   struct exec_req *out, struct err *e)
{
    struct exec_req r = {0};
    const char *lang = "python";
    long long mob;
    int x;

    r.root = json_util_parse_object(body, len, e);
    if (!r.root)
        return -ERR_INVALID;
    r.debug_mode = true;
    r.trace_limit = r.repr_limit = r.figure_dpi = -1;
    r.timeout_s = lim->default_timeout;
    r.max_output_bytes = lim->max_output_bytes;
    r.policy = lim->policy;
    r.restricted_imports = lim->restricted_imports;

    x = reqbody_code(r.root, &r.code, &r.code_len, e);
    if (x < 0)
        goto fail;
    if (x == 1) {
        err_set(e, ERR_INVALID, "code", "field 'code' (or 'generated_code') is required");
        goto fail;
    }
    if (json_util_get_str(r.root, "language", &lang, NULL, e) < 0 ||
        exec_req_language(lim, lang, &r.language, e) < 0)
        goto fail;
    if (reqbody_timeout(r.root, lim->max_timeout, &r.timeout_s, e) < 0)
        goto fail;
    if (json_util_get_str(r.root, "processor_id", &r.processor_id, NULL, e) < 0)
        goto fail;
    if (r.processor_id && strlen(r.processor_id) > EXEC_REQ_MAX_ID) {
        err_set(e, ERR_INVALID, "processor_id", "field 'processor_id' is longer than %d",
                EXEC_REQ_MAX_ID);
        goto fail;
    }
    r.input_data = json_object_get(r.root, "input_data");
    if (r.input_data && json_is_null(r.input_data))
        r.input_data = NULL;
    if (json_util_get_object(r.root, "env", &r.env, e) < 0 || (r.env && reqbody_env(r.env, e) < 0))
        goto fail;
    if (json_util_get_str(r.root, "stdin", &r.stdin_data, &r.stdin_len, e) < 0 ||
        json_util_get_bool(r.root, "debug_mode", &r.debug_mode, e) < 0 ||
        json_util_get_bool(r.root, "trace", &r.trace, e) < 0 ||
        json_util_get_bool(r.root, "async", &r.async, e) < 0)
        goto fail;
    if ((x = json_util_get_int(r.root, "trace_limit", 0, 100000, &mob, e)) < 0)
        goto fail;
    if (x == 0)
        r.trace_limit = (long)mob;
    if ((x = json_util_get_int(r.root, "repr_limit", 10, 100000, &mob, e)) < 0)
        goto fail;
    if (x == 0)
        r.repr_limit = (long)mob;
    if ((x = json_util_get_int(r.root, "figure_dpi", 10, 1000, &mob, e)) < 0)
        goto fail;
    if (x == 0)
        r.figure_dpi = (long)mob;
    x = json_util_get_int(r.root, "max_output_bytes", 1, lim->max_output_bytes, &mob, e);
    if (x < 0)
        goto fail;
    if (x == 0)
        r.max_output_bytes = (long)mob;
    x = json_util_get_str(r.root, "policy", &r.policy, NULL, e);
    if (x < 0)
        goto fail;
    if (strcmp(r.policy, "standard") != 0 && strcmp(r.policy, "restricted") != 0) {
        err_set(e, ERR_INVALID, "policy", "field 'policy' must be \"standard\" or \"restricted\"");
        goto fail;
    }
    if (!strcmp(r.policy, "standard") && strcmp(lim->policy, "standard") != 0 &&
        !lim->allow_override) {
        err_set(e, ERR_INVALID, "policy",
                "policy \"standard\" is not allowed by this agent (it runs \"%s\")", lim->policy);
        goto fail;
    }
    if (json_util_get_object(r.root, "scenario", &r.scenario_json, e) < 0 ||
        (r.scenario_json && scenario_parse(r.scenario_json, &r.scenario, e) < 0))
        goto fail;
    if (r.scenario_json && exec_req_caps(lim, &r, e) < 0)
        goto fail;
    r.network = r.scenario_json && scenario_has_network(&r.scenario);
    if (exec_req_workspace(r.root, r.workspace, e) < 0 ||
        json_util_get_bool(r.root, "workspace_optional", &r.workspace_optional, e) < 0)
        goto fail;
    if (files_spec_parse(r.root, &r.files, e) < 0)
        goto fail;
    if (r.scenario.leak && r.scenario.leak_mb_per_sec == 0)
        r.scenario.leak_mb_per_sec = 100; /* documented default */
    /* The restricted policy is AST checks on Python: it cannot confine another language, which
     * must not then run as if it had been. */
    if (!strcmp(r.policy, "restricted") && strcmp(r.language, "python") != 0) {
        err_set(e, ERR_INVALID, "policy",
                "policy \"restricted\" applies to Python only; %s runs with policy \"standard\" "
                "(the OS sandbox)%s",
                r.language,
                lim->allow_override || !strcmp(lim->policy, "standard")
                    ? ": send \"policy\": \"standard\""
                    : ", which this agent does not allow");
        goto fail;
    }
    *out = r;
    return 0;
fail:
    files_spec_done(&r.files);
    json_decref(r.root);
    return -ERR_INVALID;
}

void exec_req_shed(struct exec_req *r)
{
    static const char *const keep[] = {"processor_id", "policy", "scenario"};
    json_t *small;

    if (!r->root || !(small = json_object()))
        return;
    /* The same values move over: every pointer borrowed from them stays valid. */
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(r->root, keep[i]);

        if (v && json_object_set(small, keep[i], v) < 0) {
            json_decref(small);
            return;
        }
    }
    files_spec_done(&r->files); /* it borrows from the old root; written and copied by now */
    json_decref(r->root);
    r->root = small;
    r->code = NULL;
    r->code_len = 0;
    r->input_data = r->env = NULL;
    r->stdin_data = NULL;
    r->stdin_len = 0;
}

void exec_req_done(struct exec_req *r)
{
    files_spec_done(&r->files);
    json_decref(r->root);
    memset(r, 0, sizeof(*r));
}

char *exec_req_spec(const struct exec_req *r, const char *exec_id, const char *workdir,
                    json_t *runtime, size_t *len)
{
    json_t *spec, *base;
    char *text = NULL;

    /* The user's environment starts from this, never from the agent's (secrets stay out). */
    base = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "PATH",
                     "/usr/local/bin:/usr/bin:/bin", "HOME", workdir, "TMPDIR",
                     r->workspace[0] ? "/tmp" : workdir, "LANG", "C.UTF-8", "PYTHONIOENCODING",
                     "utf-8", "OPENBLAS_NUM_THREADS", "1", "MPLBACKEND", "Agg",
                     "PYTHONDONTWRITEBYTECODE", "1");
    spec =
        json_pack("{s:s, s:s%, s:O?, s:O?, s:b, s:s, s:b, s:o?}", "execution_id", exec_id, "code",
                  r->code, r->code_len, "input_data", r->input_data, "env", r->env, "debug_mode",
                  r->debug_mode, "policy", r->policy, "trace", r->trace, "base_env", base);
    if (spec && r->trace_limit >= 0)
        json_object_set_new(spec, "trace_limit", json_integer(r->trace_limit));
    if (spec && r->repr_limit >= 0)
        json_object_set_new(spec, "repr_limit", json_integer(r->repr_limit));
    if (spec && r->figure_dpi >= 0)
        json_object_set_new(spec, "figure_dpi", json_integer(r->figure_dpi));
    if (spec && r->session_no) /* a session's cell: the harness names its code <cell N> */
        json_object_set_new(spec, "execution_count", json_integer(r->execution_count));
    if (spec && r->kernel_sock > 0) /* a kernel's cell: IPython's syntax, input() by request */
        json_object_set_new(spec, "kernel", json_true());
    if (spec && r->network) {
        /* The child listens on these ports of its own loopback (ZYG_PROXY_PORT and
         * ZYG_UPSTREAM_PORT); the proxy behind them applies the scenario. */
        static const char *const proxy_vars[] = {"HTTP_PROXY",  "HTTPS_PROXY", "http_proxy",
                                                 "https_proxy", "ALL_PROXY",   "all_proxy"};
        char url[64], up[64];

        snprintf(url, sizeof(url), "http://127.0.0.1:%d", ZYG_PROXY_PORT);
        snprintf(up, sizeof(up), "127.0.0.1:%d", ZYG_UPSTREAM_PORT);
        for (size_t i = 0; base && i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++)
            json_object_set_new(base, proxy_vars[i], json_string(url));
        json_object_set_new(base, "NO_PROXY", json_string(""));
        json_object_set_new(base, "no_proxy", json_string(""));
        if (r->scenario.upstream)
            json_object_set_new(base, "SANDPIT_UPSTREAM", json_string(up));
    }
    if (spec && runtime)
        json_object_set(spec, "runtime", runtime);
    if (spec && r->restricted_imports && *r->restricted_imports) {
        json_t *list = json_array();
        const char *p = r->restricted_imports;

        while (list && *p) {
            size_t n = strcspn(p, ", ");
            if (n)
                json_array_append_new(list, json_stringn(p, n));
            p += n;
            p += strspn(p, ", ");
        }
        json_object_set_new(spec, "restricted_imports", list);
    }
    if (spec)
        text = json_dumps(spec, JSON_COMPACT);
    if (text && len)
        *len = strlen(text);
    json_decref(spec);
    return text;
}
