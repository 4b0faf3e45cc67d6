/* cfg.c - table-driven option parsing. */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* SANDPIT_ + upper-cased name with '-' as '_'. */
static void cfg_env_name(const char *name, char *out, size_t size)
{
    size_t i = 0, j;

    j = (size_t)snprintf(out, size, "SANDPIT_");
    for (; name[i] && j + 1 < size; i++, j++)
        out[j] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    out[j] = '\0';
}

static int cfg_set(const struct cfg_opt *o, void *cfg, const char *val, int from_env, struct err *e)
{
    char *end;
    void *field = (char *)cfg + o->offset;

    switch (o->type) {
    case CFG_INT: {
        long v;

        errno = 0;
        v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < o->min || v > o->max)
            return err_set(e, ERR_INVALID, o->name, "--%s: '%s' is not an integer in [%.0f, %.0f]",
                           o->name, val, o->min, o->max);
        *(long *)field = v;
        return 0;
    }
    case CFG_DOUBLE: {
        double v;

        errno = 0;
        v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v) || v < o->min || v > o->max)
            return err_set(e, ERR_INVALID, o->name, "--%s: '%s' is not a number in [%g, %g]",
                           o->name, val, o->min, o->max);
        *(double *)field = v;
        return 0;
    }
    case CFG_STR:
        *(const char **)field = val;
        return 0;
    case CFG_BOOL:
        if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "on"))
            *(int *)field = 1;
        else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no") ||
                 !strcmp(val, "off"))
            *(int *)field = 0;
        else
            return err_set(e, ERR_INVALID, o->name, "--%s: '%s' is not a boolean", o->name, val);
        return 0;
    case CFG_LIST: {
        struct cfg_list *l = field;

        if (from_env) {
            char *save = NULL, *tok;

            cfg_list_done(l);
            l->env_copy = strdup(val);
            if (!l->env_copy)
                return err_set(e, ERR_INVALID, o->name, "out of memory");
            for (tok = strtok_r(l->env_copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (l->n == CFG_LIST_MAX)
                    return err_set(e, ERR_INVALID, o->name, "--%s: more than %d values", o->name,
                                   CFG_LIST_MAX);
                l->items[l->n++] = tok;
            }
            return 0;
        }
        if (l->n == CFG_LIST_MAX)
            return err_set(e, ERR_INVALID, o->name, "--%s: more than %d values", o->name,
                           CFG_LIST_MAX);
        l->items[l->n++] = val;
        return 0;
    }
    }
    return err_set(e, ERR_INVALID, o->name, "bad option type");
}

void cfg_list_done(struct cfg_list *l)
{
    free(l->env_copy);
    l->env_copy = NULL;
    l->n = 0;
}

void cfg_usage(const struct cfg_opt *opts, size_t n_opts, const char *usage, FILE *f)
{
    char env[64];

    fprintf(f, "%s\n\nOptions (each also read from the environment variable shown):\n", usage);
    for (size_t i = 0; i < n_opts; i++) {
        const struct cfg_opt *o = &opts[i];
        char flag[64];

        cfg_env_name(o->name, env, sizeof(env));
        snprintf(flag, sizeof(flag), "--%s%s", o->name,
                 o->type == CFG_BOOL                         ? ""
                 : o->type == CFG_STR || o->type == CFG_LIST ? " TEXT"
                                                             : " N");
        fprintf(f, "  %-28s %s", flag, o->help);
        if (o->def)
            fprintf(f, " (default: %s)", *o->def ? o->def : "\"\"");
        if (o->type == CFG_INT || o->type == CFG_DOUBLE)
            fprintf(f, " [%g..%g]", o->min, o->max);
        fprintf(f, "\n  %-28s $%s\n", "", env);
    }
    fprintf(f, "  %-28s show this help\n", "--help");
}

int cfg_parse(const struct cfg_opt *opts, size_t n_opts, void *cfg, int argc, char **argv,
              const char *usage, struct err *e)
{
    char env[64], argv_list_seen[128] = {0};
    int r;

    if (n_opts > sizeof(argv_list_seen))
        return err_set(e, ERR_INVALID, "", "option table too large");
    for (size_t i = 0; i < n_opts; i++) {
        if (opts[i].type == CFG_LIST) {
            memset((char *)cfg + opts[i].offset, 0, sizeof(struct cfg_list));
        } else if (opts[i].def) {
            if ((r = cfg_set(&opts[i], cfg, opts[i].def, 0, e)) < 0)
                return r;
        }
    }
    for (size_t i = 0; i < n_opts; i++) {
        const char *v;

        cfg_env_name(opts[i].name, env, sizeof(env));
        v = secure_getenv(env);
        if (v && (r = cfg_set(&opts[i], cfg, v, 1, e)) < 0)
            return r;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a], *eq, *val = NULL;
        const struct cfg_opt *o = NULL;
        size_t nlen;

        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            cfg_usage(opts, n_opts, usage, stdout);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0)
            return err_set(e, ERR_INVALID, arg, "unexpected argument '%s' (see --help)", arg);
        arg += 2;
        eq = strchr(arg, '=');
        nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        for (size_t i = 0; i < n_opts; i++) {
            if (strlen(opts[i].name) == nlen && !strncmp(opts[i].name, arg, nlen))
                o = &opts[i];
        }
        if (!o)
            return err_set(e, ERR_INVALID, arg, "unknown option '--%.*s' (see --help)", (int)nlen,
                           arg);
        if (eq) {
            val = eq + 1;
        } else if (o->type == CFG_BOOL) {
            val = "1";
        } else {
            if (a + 1 >= argc)
                return err_set(e, ERR_INVALID, o->name, "--%s needs a value", o->name);
            val = argv[++a];
        }
        /* argv replaces, not extends, a list that came from the environment. */
        if (o->type == CFG_LIST && !argv_list_seen[o - opts]) {
            argv_list_seen[o - opts] = 1;
            cfg_list_done((struct cfg_list *)((char *)cfg + o->offset));
        }
        if ((r = cfg_set(o, cfg, val, 0, e)) < 0)
            return r;
    }
    return 0;
}

void cfg_describe(const struct cfg_opt *opts, size_t n_opts, const void *cfg, char *out,
                  size_t size)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n_opts && len < size; i++) {
        const void *f = (const char *)cfg + opts[i].offset;
        int n = 0;

        switch (opts[i].type) {
        case CFG_INT:
            n = snprintf(out + len, size - len, "%s=%ld ", opts[i].name, *(const long *)f);
            break;
        case CFG_DOUBLE:
            n = snprintf(out + len, size - len, "%s=%g ", opts[i].name, *(const double *)f);
            break;
        case CFG_STR:
            n = snprintf(out + len, size - len, "%s=%s ", opts[i].name,
                         *(const char *const *)f ? *(const char *const *)f : "(unset)");
            break;
        case CFG_BOOL:
            n = snprintf(out + len, size - len, "%s=%s ", opts[i].name,
                         *(const int *)f ? "true" : "false");
            break;
        case CFG_LIST: {
            const struct cfg_list *l = f;

            n = snprintf(out + len, size - len, "%s=", opts[i].name);
            for (int k = 0; k < l->n && n >= 0 && len + (size_t)n < size; k++)
                n += snprintf(out + len + n, size - len - (size_t)n, "%s%s", k ? "," : "",
                              l->items[k]);
            if (n >= 0 && len + (size_t)n < size)
                n += snprintf(out + len + n, size - len - (size_t)n, " ");
            break;
        }
        }
        if (n < 0)
            break;
        len += (size_t)n;
    }
    if (len >= size)
        out[size - 1] = '\0';
}
