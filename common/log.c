/* log.c - JSON-lines logger. The component and threshold are process-wide by nature (every
 * thread logs to the same stderr); they are written once in main before threads start and only
 * read afterwards, which is why they are file statics rather than threaded through every call. */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_component = "sandpit";
static enum log_level log_threshold = LOG_INFO;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *component, enum log_level level)
{
    log_component = component;
    log_threshold = level;
}

int log_level_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
        if (strcmp(s, log_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

int log_enabled(enum log_level level)
{
    return level >= log_threshold;
}

static void log_vwrite(enum log_level level, const char *req, const char *suffix, const char *fmt,
                       va_list ap)
{
    char msg[1024], ts[40];
    struct timespec now;
    struct tm tm;
    json_t *o;
    char *line;
    int n;

    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n >= 0 && suffix && (size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", suffix);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - (size_t)n, ".%03ldZ", now.tv_nsec / 1000000);

    o = json_pack("{s:s, s:s, s:s, s:i}", "ts", ts, "level", log_names[level], "comp",
                  log_component, "pid", (int)getpid());
    if (!o)
        return;
    if (req)
        json_object_set_new(o, "req", json_string(req));
    json_object_set_new(o, "msg", json_stringn_nocheck(msg, strlen(msg)));
    line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!line)
        return;
    /* One write per line so concurrent threads never interleave within a line. */
    n = (int)strlen(line);
    line[n] = '\n';
    (void)!write(STDERR_FILENO, line, (size_t)n + 1);
    free(line);
}

void log_msg(enum log_level level, const char *req, const char *fmt, ...)
{
    va_list ap;

    if (level < log_threshold)
        return;
    va_start(ap, fmt);
    log_vwrite(level, req, NULL, fmt, ap);
    va_end(ap);
}

void log_errno(int err, const char *req, const char *fmt, ...)
{
    char eb[128];
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOG_ERROR, req, strerror_r(err, eb, sizeof(eb)), fmt, ap);
    va_end(ap);
}
