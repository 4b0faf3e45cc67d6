/* reqid.c - ids from libuuid's uuid_generate_random (getrandom-backed, thread-safe). */
#include "reqid.h"

#include <uuid/uuid.h>

void reqid_new(char out[REQID_LEN + 1])
{
    uuid_t u;

    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}
