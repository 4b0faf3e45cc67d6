/* lang.c - language names and aliases: the one table of both daemons (the orchestrator's router
 * and code-format normaliser, the agent's request parser and runtime table), so a name one
 * accepts the others understand. */
#include "lang.h"

#include <string.h>
#include <strings.h>

/* First entry: the canonical name, the one agents report in /health and sandbox/runtime.c keys
 * its rows by; the rest are aliases (tests/unit/test_lang.c checks every runtime has a row). */
static const char *const lang_groups[][6] = {
    {"python", "py", "python3", "py3", NULL},
    {"javascript", "js", "node", "nodejs", NULL},
    {"typescript", "ts", NULL},
    {"bash", "shell", NULL},
    {"sh", "dash", "posix-sh", NULL},
    {"cpp", "c++", "cxx", "g++", NULL},
    {"c", "gcc", NULL},
    {"java", NULL},
    {"go", "golang", NULL},
    {"rust", "rs", NULL},
    {"ruby", "rb", NULL},
    {"csharp", "cs", "c#", NULL},
    {"sql", "sqlite", "sqlite3", NULL},
    {"r", "rscript", NULL},
    {"php", NULL},
    {"perl", "pl", NULL},
    {"lua", "lua5.4", NULL},
};

static int lang_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '#' || c == '.' ||
           c == '_' || c == '-';
}

const char *const *lang_aliases(const char *name, size_t len)
{
    for (size_t g = 0; g < sizeof(lang_groups) / sizeof(lang_groups[0]); g++) {
        for (size_t k = 0; lang_groups[g][k]; k++) {
            if (strlen(lang_groups[g][k]) == len && !strncasecmp(name, lang_groups[g][k], len))
                return lang_groups[g];
        }
    }
    return NULL;
}

const char *lang_lookup(const char *name, size_t len)
{
    const char *const *group = name ? lang_aliases(name, len) : NULL;

    return group ? group[0] : NULL;
}

int lang_canon(const char *name, size_t len, char out[LANG_NAME_MAX], struct err *e)
{
    char low[LANG_NAME_MAX];
    const char *canon;

    if (!name || len == 0)
        return err_set(e, ERR_INVALID, "language", "field 'language' must not be empty");
    if (len >= LANG_NAME_MAX)
        return err_set(e, ERR_INVALID, "language", "field 'language' is longer than %d characters",
                       LANG_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!lang_char_ok(c))
            return err_set(e, ERR_INVALID, "language",
                           "field 'language' holds a character outside [A-Za-z0-9+#._-]");
        low[i] = c;
    }
    low[len] = '\0';
    canon = lang_lookup(low, len);
    if (canon)
        strcpy(out, canon);
    else
        memcpy(out, low, len + 1);
    return 0;
}
