/* clock.h - monotonic and wall-clock helpers. */
#ifndef SANDPIT_CLOCK_H
#define SANDPIT_CLOCK_H

#include <stdint.h>
#include <stddef.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t clock_mono_ns(void);
/* CLOCK_REALTIME in nanoseconds since the epoch. */
int64_t clock_real_ns(void);
/* Formats a CLOCK_REALTIME ns value as ISO 8601 UTC with microseconds into out (>= 32 bytes). */
void clock_iso(int64_t real_ns, char *out, size_t size);

#endif
