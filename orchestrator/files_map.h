/* files_map.h - which agent holds the collected files of an execution the orchestrator relayed
 * (docs/orchestrator.md "Files in and out"): a bounded table, the oldest entry overwritten, so
 * GET /api/v1/executions/{id}/files/{path} can be proxied to that agent; and the rewriting of
 * the agent's download URLs into that route. The table forgets what the agent may still hold
 * after FILES_MAP_MAX newer executions with files (or a restart of the orchestrator): then the
 * download is a 404 saying so. Threads: any; one lock. */
#ifndef SANDPIT_FILES_MAP_H
#define SANDPIT_FILES_MAP_H

#define FILES_MAP_MAX    8192
#define FILES_MAP_PREFIX "/api/v1/executions/"

struct files_map;

/* New table; NULL on out of memory. */
struct files_map *files_map_new(void);
void files_map_free(struct files_map *m);
/* Notes that agent (index, generation) holds execution id's files, made for owner (the API
 * key's api_owner). */
void files_map_put(struct files_map *m, const char *id, int agent, unsigned gen, int owner);
/* The agent holding id's files when owner made it: 0 with *agent and *gen, or -1 when not
 * known (or another owner's: the same answer, so ids reveal nothing across keys). */
int files_map_get(struct files_map *m, const char *id, int owner, int *agent, unsigned *gen);

#endif
