/* sess_opts.c - what POST /sessions may ask for, validated (pure: no I/O, no locks). */
#include "sess_opts.h"

#include <string.h>

static int sess_opts_long(json_t *body, const char *key, long lo, long hi, long def, long *out,
                          struct err *e)
{
    json_t *v = json_object_get(body, key);

    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return err_set(e, ERR_INVALID, key, "'%s' must be an integer in [%ld, %ld]", key, lo, hi);
    *out = (long)json_integer_value(v);
    return 0;
}

int sess_opts_parse(const struct agent_cfg *cfg, json_t *body, struct sess_opts *o, struct err *e)
{
    static const char *const known[] = {"language", "idle_timeout_s", "memory_mb",  "pids",
                                        "env",      "policy",         "checkpoint", NULL};
    json_t *v;
    const char *k;

    memset(o, 0, sizeof(*o));
    o->policy = cfg->policy && !strcmp(cfg->policy, "restricted") ? "restricted" : "standard";
    json_object_foreach(body, k, v)
    {
        size_t i = 0;

        while (known[i] && strcmp(known[i], k) != 0)
            i++;
        if (!known[i])
            return err_set(e, ERR_INVALID, k,
                           "unknown field '%.40s' (a session takes language, idle_timeout_s, "
                           "memory_mb, pids, env, policy, checkpoint)",
                           k);
    }
    v = json_object_get(body, "language");
    if (v && !json_is_null(v) &&
        (!json_is_string(v) || (strcmp(json_string_value(v), "python") != 0 &&
                                strcmp(json_string_value(v), "python3") != 0)))
        return err_set(e, ERR_INVALID, "language",
                       "a session's language is python (its cells may name another language)");
    if (sess_opts_long(body, "idle_timeout_s", 1, 86400, cfg->session_idle_s, &o->idle_timeout_s,
                       e) < 0 ||
        sess_opts_long(body, "memory_mb", 16, cfg->memory_mb, 0, &o->memory_mb, e) < 0 ||
        sess_opts_long(body, "pids", 4, cfg->pids_limit, 0, &o->pids, e) < 0)
        return -ERR_INVALID;
    v = json_object_get(body, "checkpoint");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return err_set(e, ERR_INVALID, "checkpoint", "'checkpoint' must be true or false");
    o->checkpoint = json_is_true(v);
    v = json_object_get(body, "policy");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || (strcmp(json_string_value(v), "standard") != 0 &&
                                   strcmp(json_string_value(v), "restricted") != 0))
            return err_set(e, ERR_INVALID, "policy", "'policy' must be standard or restricted");
        if (!strcmp(json_string_value(v), "standard") && !strcmp(o->policy, "restricted") &&
            !cfg->allow_override)
            return err_set(e, ERR_INVALID, "policy",
                           "this agent runs code restricted (--policy restricted without "
                           "--allow-policy-override)");
        o->policy = !strcmp(json_string_value(v), "standard") ? "standard" : "restricted";
    }
    v = json_object_get(body, "env");
    if (v && !json_is_null(v)) {
        json_t *x;

        if (!json_is_object(v))
            return err_set(e, ERR_INVALID, "env", "'env' must be an object of strings");
        json_object_foreach(v, k, x)
        {
            if (!json_is_string(x) || !k[0] || strchr(k, '='))
                return err_set(e, ERR_INVALID, "env",
                               "'env' must map names (no '=') to strings; '%.40s' does not", k);
        }
        o->env = v;
    }
    return 0;
}
