/* cfg.h - one option table per daemon (STYLE §6): flags, SANDPIT_* environment fallback,
 * bounds, defaults and --help from the same rows. */
#ifndef SANDPIT_CFG_H
#define SANDPIT_CFG_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

enum cfg_type {
    CFG_INT,    /* long, bounded by min/max */
    CFG_DOUBLE, /* double, bounded by min/max */
    CFG_STR,    /* const char *, borrowed from argv, environ or the default */
    CFG_BOOL,   /* int 0/1; "--flag" alone means 1 */
    CFG_LIST,   /* struct cfg_list; repeatable flag, env value is comma-separated */
};

#define CFG_LIST_MAX 32

struct cfg_list {
    const char *items[CFG_LIST_MAX]; /* borrowed from argv or a copy owned by the list */
    int n;                           /* items in use */
    char *env_copy;                  /* owned copy of the env value split in place, or NULL */
};

struct cfg_opt {
    const char *name;   /* long flag without dashes, e.g. "port" */
    enum cfg_type type; /* how the value is parsed and stored */
    double min, max;    /* bounds for CFG_INT and CFG_DOUBLE */
    const char *def;    /* default as text; NULL = unset (CFG_STR NULL) */
    size_t offset;      /* offsetof the field in the daemon's config struct */
    const char *help;   /* one line for --help */
};

/* One row of an option table for field f of the daemon's config struct st. */
#define CFG_OPT(st, n, t, lo, hi, d, f, h)                                                         \
    {                                                                                              \
        n, t, lo, hi, d, offsetof(st, f), h                                                        \
    }

/* Fills cfg from defaults, then SANDPIT_<NAME> variables, then argv (argv wins).
 * Returns 0, 1 when --help was printed (caller exits 0), or -ERR_INVALID with e naming the
 * option. Strings stay borrowed from argv/environ: keep them alive for the process. */
int cfg_parse(const struct cfg_opt *opts, size_t n_opts, void *cfg, int argc, char **argv,
              const char *usage, struct err *e);
/* Prints the --help text for the table to f. */
void cfg_usage(const struct cfg_opt *opts, size_t n_opts, const char *usage, FILE *f);
/* Writes "name=value ..." for every option into out (one line for the start-up log). */
void cfg_describe(const struct cfg_opt *opts, size_t n_opts, const void *cfg, char *out,
                  size_t size);
/* Frees what a CFG_LIST copied from the environment. */
void cfg_list_done(struct cfg_list *l);

#endif
