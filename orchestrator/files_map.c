/* files_map.c - executions' files by agent (files_map.h). */
#include "files_map.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

struct files_map_entry {
    char id[IDS_UUID_LEN + 1];
    int agent;
    unsigned gen;
    int owner;
};

struct files_map {
    pthread_mutex_t lock;
    size_t next; /* the slot the next entry takes */
    struct files_map_entry e[FILES_MAP_MAX];
};

struct files_map *files_map_new(void)
{
    struct files_map *m = calloc(1, sizeof(*m));

    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void files_map_free(struct files_map *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void files_map_put(struct files_map *m, const char *id, int agent, unsigned gen, int owner)
{
    if (!m || !id || strlen(id) != IDS_UUID_LEN)
        return;
    pthread_mutex_lock(&m->lock);
    memcpy(m->e[m->next].id, id, IDS_UUID_LEN + 1);
    m->e[m->next].agent = agent;
    m->e[m->next].gen = gen;
    m->e[m->next].owner = owner;
    m->next = (m->next + 1) % FILES_MAP_MAX;
    pthread_mutex_unlock(&m->lock);
}

int files_map_get(struct files_map *m, const char *id, int owner, int *agent, unsigned *gen)
{
    int r = -1;

    if (!m)
        return -1;
    pthread_mutex_lock(&m->lock);
    /* Newest first: an id is noted once per result, a retry of the same may note it again. */
    for (size_t k = 0; k < FILES_MAP_MAX && r < 0; k++) {
        const struct files_map_entry *en = &m->e[(m->next + FILES_MAP_MAX - 1 - k) % FILES_MAP_MAX];

        if (en->id[0] && !strcmp(en->id, id)) {
            *agent = en->agent;
            *gen = en->gen;
            r = en->owner == owner ? 0 : -2; /* the newest note decides */
        }
    }
    pthread_mutex_unlock(&m->lock);
    return r < 0 ? -1 : 0;
}
