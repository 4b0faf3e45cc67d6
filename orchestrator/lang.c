/* lang.c - language aliases: the one table both the router and the code-format normaliser
 * (fence tags) use, so a name one accepts the other understands. */
#include "lang.h"

#include <string.h>
#include <strings.h>

/* First entry: the canonical name, the one agents report in /health. */
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

int lang_canon(const char *name, size_t len, char out[LANG_NAME_MAX], struct err *e)
{
    char low[LANG_NAME_MAX];

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
    {
        const char *const *group = lang_aliases(low, len);

        if (group) {
            strcpy(out, group[0]);
            return 0;
        }
    }
    memcpy(out, low, len + 1);
    return 0;
}
