/* reqfields.c - language, timeout and scenario, read the same way by every dialect. */
#include "reqfields.h"

#include <errno.h>
#include <math.h>

#include "json_util.h"
#include "scenario.h"

int reqfields_parse(json_t *root, double max_timeout, char language[LANG_NAME_MAX], double *timeout,
                    json_t **scenario, double *delay_s, struct err *e)
{
    const char *lang = "python";
    size_t lang_len = 6;
    struct scenario s;
    json_t *scn = NULL;
    double t;
    int r;

    *scenario = NULL;
    *delay_s = 0;
    if ((r = json_util_get_str(root, "language", &lang, &lang_len, e)) < 0 ||
        (r = lang_canon(lang, lang_len, language, e)) < 0)
        return r;
    r = json_util_get_number(root, "timeout", &t, e);
    if (r < 0)
        return r;
    if (r == 0) {
        if (!isfinite(t) || t <= 0 || t > max_timeout)
            return err_set(e, ERR_INVALID, "timeout",
                           "field 'timeout' must be a number of seconds > 0 and <= %g, got %g",
                           max_timeout, t);
        *timeout = t;
    }
    r = json_util_get_object(root, "scenario", &scn, e);
    if (r < 0)
        return r;
    if (r != 0)
        return 0;
    if ((r = scenario_parse(scn, &s, e)) < 0)
        return r;
    /* The agent applies it and reports what it could not; nothing is dropped here. */
    *scenario = scn;
    *delay_s = s.delay_ms / 1000;
    return 0;
}
