/* log.h - one JSON object per line on stderr (DESIGN "Cross-cutting"). */
#ifndef SANDPIT_LOG_H
#define SANDPIT_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the component name and threshold; call once in main before any thread starts. */
void log_init(const char *component, enum log_level level);
/* Parses "debug" | "info" | "warn" | "error"; returns -1 when unknown. */
int log_level_parse(const char *s);
/* Writes one line: {"ts","level","comp","pid","req"?, "msg"}; req may be NULL. */
void log_msg(enum log_level level, const char *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like log_msg at LOG_ERROR with ": strerror(err)" appended; err is a positive errno. */
void log_errno(int err, const char *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True when a message at level would be written (to skip building expensive messages). */
int log_enabled(enum log_level level);

#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)

#endif
