/* scenario.c - one table row per scenario key: its type and bounds. */
#include "scenario.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum scenario_type {
    SCENARIO_NUM,  /* number in [min, max] */
    SCENARIO_POS,  /* number in (0, max] */
    SCENARIO_BOOL, /* true / false */
    SCENARIO_HOST, /* "host:port" */
    SCENARIO_LIST, /* array of host names */
};

struct scenario_key {
    const char *name;
    enum scenario_type type;
    double max; /* upper bound for numbers: generous, only there to refuse nonsense */
};

#define SCENARIO_DAY_MS 86400000.0

static const struct scenario_key scenario_keys[] = {
    {"networkLatencyMs", SCENARIO_NUM, SCENARIO_DAY_MS},
    {"jitterMs", SCENARIO_NUM, SCENARIO_DAY_MS},
    {"bandwidthKbps", SCENARIO_POS, 1e9},
    {"timeoutMs", SCENARIO_NUM, SCENARIO_DAY_MS},
    {"resetAfterMs", SCENARIO_NUM, SCENARIO_DAY_MS},
    {"upstream", SCENARIO_HOST, 0},
    {"allowHosts", SCENARIO_LIST, 0},
    {"simulateCrash", SCENARIO_BOOL, 0},
    {"crashAfterMs", SCENARIO_NUM, SCENARIO_DAY_MS},
    {"simulateHighCpu", SCENARIO_BOOL, 0},
    {"simulateMemoryLeak", SCENARIO_BOOL, 0},
    {"leakMbPerSec", SCENARIO_NUM, 1e6},
    {"artificialDelayMs", SCENARIO_NUM, SCENARIO_DAY_MS},
    {"cpuLimit", SCENARIO_NUM, 4096},
    {"memoryLimitMb", SCENARIO_NUM, 1e9},
    {"pidsLimit", SCENARIO_NUM, 1e9},
    {"diskLimitMb", SCENARIO_NUM, 1e9},
};

/* A host name or address: 1-253 bytes of letters, digits, '.', '-', '_', ':' (IPv6 inside
 * brackets is accepted by the caller for upstream). */
static bool scenario_host_ok(const char *h, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == '*'))
            return false;
    }
    return true;
}

/* "host:port" or "[v6]:port" with port 1-65535. */
static bool scenario_upstream_ok(const char *s, size_t n)
{
    const char *colon = NULL;
    const char *host = s;
    size_t hlen;
    long port = 0;

    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    }
    if (!colon || colon == s || (size_t)(s + n - colon - 1) == 0 || s + n - colon - 1 > 5)
        return false;
    for (const char *p = colon + 1; p < s + n; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65535)
        return false;
    hlen = (size_t)(colon - s);
    if (host[0] == '[') {
        if (hlen < 3 || host[hlen - 1] != ']')
            return false;
        for (size_t i = 1; i + 1 < hlen; i++) {
            char c = host[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.'))
                return false;
        }
        return true;
    }
    return scenario_host_ok(host, hlen) && !memchr(host, '*', hlen);
}

static int scenario_check(const struct scenario_key *k, json_t *v, struct err *e)
{
    char field[48];

    snprintf(field, sizeof(field), "scenario.%s", k->name);
    switch (k->type) {
    case SCENARIO_NUM:
    case SCENARIO_POS: {
        double x;

        if (!json_is_number(v))
            return err_set(e, ERR_INVALID, field, "scenario.%s must be a number", k->name);
        x = json_number_value(v);
        if (k->type == SCENARIO_POS && !(x > 0))
            return err_set(e, ERR_INVALID, field, "scenario.%s must be a number > 0, got %g",
                           k->name, x);
        if (!isfinite(x) || x < 0 || x > k->max)
            return err_set(e, ERR_INVALID, field,
                           "scenario.%s must be a number >= 0 and <= %g, got %g", k->name, k->max,
                           x);
        return 0;
    }
    case SCENARIO_BOOL:
        if (!json_is_boolean(v))
            return err_set(e, ERR_INVALID, field, "scenario.%s must be a boolean", k->name);
        return 0;
    case SCENARIO_HOST:
        if (!json_is_string(v) ||
            !scenario_upstream_ok(json_string_value(v), json_string_length(v)))
            return err_set(e, ERR_INVALID, field,
                           "scenario.%s must be a string \"host:port\" with a port in 1-65535",
                           k->name);
        return 0;
    case SCENARIO_LIST: {
        size_t i;
        json_t *h;

        if (!json_is_array(v))
            return err_set(e, ERR_INVALID, field, "scenario.%s must be an array of strings",
                           k->name);
        if (json_array_size(v) > SCENARIO_MAX_HOSTS)
            return err_set(e, ERR_INVALID, field, "scenario.%s holds more than %d entries", k->name,
                           SCENARIO_MAX_HOSTS);
        json_array_foreach(v, i, h)
        {
            if (!json_is_string(h) ||
                !scenario_host_ok(json_string_value(h), json_string_length(h)))
                return err_set(e, ERR_INVALID, field,
                               "scenario.%s[%zu] must be a host name (letters, digits, '.', '-', "
                               "'_', '*')",
                               k->name, i);
        }
        return 0;
    }
    }
    return err_set(e, ERR_INVALID, field, "scenario.%s: unsupported type", k->name);
}

int scenario_validate(json_t *scn, json_t **warnings, struct err *e)
{
    const char *key;
    json_t *v, *w = NULL;
    char msg[160];

    if (!json_is_object(scn))
        return err_set(e, ERR_INVALID, "scenario", "field 'scenario' must be an object");
    /* Unknown keys first, so a typo is named even when another key is also wrong. */
    json_object_foreach(scn, key, v)
    {
        size_t i;

        for (i = 0; i < sizeof(scenario_keys) / sizeof(scenario_keys[0]); i++) {
            if (!strcmp(key, scenario_keys[i].name))
                break;
        }
        if (i == sizeof(scenario_keys) / sizeof(scenario_keys[0]))
            return err_set(e, ERR_INVALID, "scenario", "unknown scenario key '%.60s'", key);
    }
    w = json_array();
    if (!w)
        return -ENOMEM;
    /* Table order, so warnings read the same whatever order the client used. */
    for (size_t i = 0; i < sizeof(scenario_keys) / sizeof(scenario_keys[0]); i++) {
        const struct scenario_key *k = &scenario_keys[i];
        int r;

        v = json_object_get(scn, k->name);
        if (!v || json_is_null(v))
            continue;
        if ((r = scenario_check(k, v, e)) < 0) {
            json_decref(w);
            return r;
        }
        snprintf(msg, sizeof(msg), "scenario key '%s' is accepted but not applied yet", k->name);
        if (json_array_append_new(w, json_string(msg)) < 0) {
            json_decref(w);
            return -ENOMEM;
        }
    }
    *warnings = w;
    return 0;
}
