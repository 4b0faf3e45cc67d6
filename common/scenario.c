/* scenario.c - one table row per scenario key: its type, bounds and where it is read to. */
#include "scenario.h"

#include <errno.h>
#include <stddef.h>
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
    SCENARIO_DIR,  /* "downstream" | "upstream" | "both" */
};

/* Which of the agent's limits bounds a number (scenario_check_caps). */
enum scenario_cap {
    SCENARIO_CAP_NONE,   /* not a resource the agent grants (a throttle or a flag) */
    SCENARIO_CAP_TIME,   /* a duration inside the run: <= --max-timeout */
    SCENARIO_CAP_DELAY,  /* holds the slot before the run: delay + timeout <= --max-timeout */
    SCENARIO_CAP_MEMORY, /* MiB: <= --memory-mb */
    SCENARIO_CAP_PIDS,   /* <= --pids-limit */
    SCENARIO_CAP_DISK,   /* MiB: <= --disk-mb */
};

struct scenario_key {
    const char *name;
    enum scenario_type type;
    double max;            /* upper bound for numbers: generous, only there to refuse nonsense */
    size_t offset;         /* of the field in struct scenario */
    enum scenario_cap cap; /* the agent's limit that bounds it */
};

#define SK(n, t, m, f, c)                                                                          \
    {                                                                                              \
        n, t, m, offsetof(struct scenario, f), c                                                   \
    }

#define SCENARIO_DAY_MS 86400000.0

static const struct scenario_key scenario_keys[] = {
    SK("networkLatencyMs", SCENARIO_NUM, SCENARIO_DAY_MS, latency_ms, SCENARIO_CAP_TIME),
    SK("jitterMs", SCENARIO_NUM, SCENARIO_DAY_MS, jitter_ms, SCENARIO_CAP_TIME),
    SK("bandwidthKbps", SCENARIO_POS, 1e9, bandwidth_kbps, SCENARIO_CAP_NONE),
    SK("timeoutMs", SCENARIO_NUM, SCENARIO_DAY_MS, timeout_ms, SCENARIO_CAP_TIME),
    SK("resetAfterMs", SCENARIO_NUM, SCENARIO_DAY_MS, reset_after_ms, SCENARIO_CAP_TIME),
    SK("sliceBytes", SCENARIO_NUM, 1 << 20, slice_bytes, SCENARIO_CAP_NONE),
    SK("sliceDelayMs", SCENARIO_NUM, 60000, slice_delay_ms, SCENARIO_CAP_TIME),
    SK("limitDataBytes", SCENARIO_NUM, 1e12, limit_data_bytes, SCENARIO_CAP_NONE),
    SK("toxicDirection", SCENARIO_DIR, 0, direction, SCENARIO_CAP_NONE),
    SK("upstream", SCENARIO_HOST, 0, upstream, SCENARIO_CAP_NONE),
    SK("allowHosts", SCENARIO_LIST, 0, allow_hosts, SCENARIO_CAP_NONE),
    SK("simulateCrash", SCENARIO_BOOL, 0, crash, SCENARIO_CAP_NONE),
    SK("crashAfterMs", SCENARIO_NUM, SCENARIO_DAY_MS, crash_after_ms, SCENARIO_CAP_TIME),
    SK("simulateHighCpu", SCENARIO_BOOL, 0, high_cpu, SCENARIO_CAP_NONE),
    SK("simulateMemoryLeak", SCENARIO_BOOL, 0, leak, SCENARIO_CAP_NONE),
    SK("leakMbPerSec", SCENARIO_NUM, 1e5, leak_mb_per_sec, SCENARIO_CAP_MEMORY),
    SK("artificialDelayMs", SCENARIO_NUM, 3600000, delay_ms, SCENARIO_CAP_DELAY),
    SK("cpuLimit", SCENARIO_NUM, 4096, cpu_limit, SCENARIO_CAP_NONE),
    SK("memoryLimitMb", SCENARIO_NUM, 1 << 20, memory_limit_mb, SCENARIO_CAP_MEMORY),
    SK("pidsLimit", SCENARIO_NUM, 1 << 22, pids_limit, SCENARIO_CAP_PIDS),
    SK("diskLimitMb", SCENARIO_NUM, 1 << 20, disk_limit_mb, SCENARIO_CAP_DISK),
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
              c == '.' || c == '-' || c == '_' || c == '*' || c == ':' || c == '[' || c == ']'))
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
    return scenario_host_ok(host, hlen) && !memchr(host, '*', hlen) && !memchr(host, ':', hlen);
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
    case SCENARIO_DIR: {
        const char *d = json_string_value(v);

        if (!d || (strcmp(d, "downstream") && strcmp(d, "upstream") && strcmp(d, "both")))
            return err_set(e, ERR_INVALID, field,
                           "scenario.%s must be \"downstream\", \"upstream\" or \"both\"", k->name);
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
                               "scenario.%s[%zu] must be a host or host:port (letters, digits, "
                               "'.', '-', '_', '*', ':', '[', ']')",
                               k->name, i);
        }
        return 0;
    }
    }
    return err_set(e, ERR_INVALID, field, "scenario.%s: unsupported type", k->name);
}

/* Stores the validated value v into out's field for k. */
static void scenario_store(const struct scenario_key *k, json_t *v, struct scenario *out)
{
    char *f = (char *)out + k->offset;

    switch (k->type) {
    case SCENARIO_NUM:
    case SCENARIO_POS:
        *(double *)f = json_number_value(v);
        break;
    case SCENARIO_BOOL:
        *(bool *)f = json_is_true(v);
        break;
    case SCENARIO_HOST:
        *(const char **)f = json_string_value(v);
        break;
    case SCENARIO_LIST:
        *(json_t **)f = v;
        break;
    case SCENARIO_DIR: {
        const char *d = json_string_value(v);

        *(enum scenario_dir *)f = !strcmp(d, "upstream") ? SCENARIO_UP
                                  : !strcmp(d, "both")   ? SCENARIO_BOTH
                                                         : SCENARIO_DOWN;
        break;
    }
    }
}

int scenario_parse(json_t *scn, struct scenario *out, struct err *e)
{
    struct scenario tmp = {0};
    const char *key;
    json_t *v;

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
        if (i == sizeof(scenario_keys) / sizeof(scenario_keys[0])) {
            char field[80];

            snprintf(field, sizeof(field), "scenario.%.60s", key);
            return err_set(e, ERR_INVALID, field, "unknown scenario key '%.60s'", key);
        }
    }
    /* Table order, so the first error reads the same whatever order the client used. */
    for (size_t i = 0; i < sizeof(scenario_keys) / sizeof(scenario_keys[0]); i++) {
        const struct scenario_key *k = &scenario_keys[i];
        int r;

        v = json_object_get(scn, k->name);
        if (!v || json_is_null(v))
            continue;
        if ((r = scenario_check(k, v, e)) < 0)
            return r;
        scenario_store(k, v, &tmp);
    }
    if (out)
        *out = tmp;
    return 0;
}

/* The agent's bound for a key of kind cap, its option's name and unit. */
static double scenario_cap_of(enum scenario_cap cap, const struct scenario_caps *c,
                              const char **flag, const char **unit)
{
    *unit = "";
    switch (cap) {
    case SCENARIO_CAP_TIME:
    case SCENARIO_CAP_DELAY:
        *flag = "--max-timeout";
        *unit = " ms";
        return c->max_timeout_s * 1000.0;
    case SCENARIO_CAP_MEMORY:
        *flag = "--memory-mb";
        return c->memory_mb;
    case SCENARIO_CAP_PIDS:
        *flag = "--pids-limit";
        return c->pids;
    case SCENARIO_CAP_DISK:
        *flag = "--disk-mb";
        return c->disk_mb;
    case SCENARIO_CAP_NONE:
        break;
    }
    *flag = "";
    return INFINITY;
}

int scenario_check_caps(const struct scenario *s, const struct scenario_caps *caps, struct err *e)
{
    for (size_t i = 0; i < sizeof(scenario_keys) / sizeof(scenario_keys[0]); i++) {
        const struct scenario_key *k = &scenario_keys[i];
        const char *flag, *unit;
        double v, cap = scenario_cap_of(k->cap, caps, &flag, &unit);
        char field[48];

        if (k->type != SCENARIO_NUM && k->type != SCENARIO_POS)
            continue;
        v = *(const double *)((const char *)s + k->offset);
        snprintf(field, sizeof(field), "scenario.%s", k->name);
        /* The delay holds the slot before the run, and the run then has its whole timeout. */
        if (k->cap == SCENARIO_CAP_DELAY && v > 0 && v + caps->timeout_s * 1000.0 > cap)
            return err_set(e, ERR_INVALID, field,
                           "scenario.%s %g plus the timeout %g s exceeds this agent's %s %g s: "
                           "the execution holds its slot for both (at most %g ms of delay with "
                           "this timeout)",
                           k->name, v, caps->timeout_s, flag, caps->max_timeout_s,
                           fmax(0, cap - caps->timeout_s * 1000.0));
        if (v > cap)
            return err_set(e, ERR_INVALID, field, "scenario.%s %g exceeds this agent's %s %g%s",
                           k->name, v, flag, cap, unit);
    }
    return 0;
}

bool scenario_has_network(const struct scenario *s)
{
    return s->latency_ms > 0 || s->jitter_ms > 0 || s->bandwidth_kbps > 0 || s->timeout_ms > 0 ||
           s->reset_after_ms > 0 || s->slice_bytes > 0 || s->limit_data_bytes > 0 || s->upstream ||
           json_array_size(s->allow_hosts) > 0;
}
