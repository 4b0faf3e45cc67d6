/* reqid.h - request and job identifiers (STYLE §5: the orchestrator mints X-Request-Id). */
#ifndef SANDPIT_REQID_H
#define SANDPIT_REQID_H

#define REQID_LEN 36 /* characters of an id; buffers take REQID_LEN + 1 */

/* Writes a new random (version 4) UUID, lower case, NUL-terminated, into out. Any thread. */
void reqid_new(char out[REQID_LEN + 1]);

#endif
