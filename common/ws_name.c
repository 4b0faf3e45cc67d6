/* ws_name.c - workspace names. */
#include "ws_name.h"

#include <string.h>

static bool ws_name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (!first && (c == '_' || c == '.' || c == '-'));
}

bool ws_name_ok(const char *name)
{
    size_t n = strnlen(name, WS_NAME_MAX);

    if (n == 0 || n == WS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!ws_name_char(name[i], i == 0))
            return false;
    }
    return true;
}
