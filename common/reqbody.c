/* reqbody.c - the execution request fields both daemons share (see reqbody.h). */
#include "reqbody.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "json_util.h"

int reqbody_code(json_t *root, const char **code, size_t *len, struct err *e)
{
    int r = json_util_get_str(root, "generated_code", code, len, e);

    if (r == 1)
        r = json_util_get_str(root, "code", code, len, e);
    return r;
}

int reqbody_timeout(json_t *root, double max_timeout, double *timeout, struct err *e)
{
    double t;
    int r = json_util_get_number(root, "timeout", &t, e);

    if (r != 0)
        return r;
    if (!isfinite(t) || t <= 0 || t > max_timeout)
        return err_set(e, ERR_INVALID, "timeout",
                       "field 'timeout' must be a number of seconds > 0 and <= %g, got %g",
                       max_timeout, t);
    *timeout = t;
    return 0;
}

static bool reqbody_env_name_ok(const char *k)
{
    size_t n = strlen(k);

    if (n == 0 || n > REQBODY_MAX_ENV_NAME || (k[0] >= '0' && k[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

int reqbody_env(json_t *env, struct err *e)
{
    size_t total = 0;
    const char *k;
    json_t *v;

    if (json_object_size(env) > REQBODY_MAX_ENV)
        return err_set(e, ERR_INVALID, "env", "env has more than %d entries", REQBODY_MAX_ENV);
    json_object_foreach(env, k, v)
    {
        if (!reqbody_env_name_ok(k))
            return err_set(e, ERR_INVALID, "env",
                           "env name '%.40s' must match [A-Za-z_][A-Za-z0-9_]* (at most %d)", k,
                           REQBODY_MAX_ENV_NAME);
        if (!json_is_string(v))
            return err_set(e, ERR_INVALID, "env", "env value of '%.40s' must be a string", k);
        if (memchr(json_string_value(v), '\0', json_string_length(v)))
            return err_set(e, ERR_INVALID, "env", "env value of '%.40s' contains a NUL byte", k);
        total += strlen(k) + json_string_length(v) + 2;
        if (total > REQBODY_MAX_ENV_BYTES)
            return err_set(e, ERR_INVALID, "env", "env is larger than %d bytes",
                           REQBODY_MAX_ENV_BYTES);
    }
    return 0;
}
