/* prom.h - Prometheus text exposition (format 0.0.4) for both daemons' /metrics: every family
 * written with its HELP and TYPE lines once, label values escaped, and histograms kept per
 * label set (execution time by language and outcome, ...).
 *
 * Threads: the writers are pure (the caller's buffer); a histogram vector has its own lock, so
 * any thread may observe while another writes the exposition. */
#ifndef SANDPIT_PROM_H
#define SANDPIT_PROM_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PROM_MAX_LABELS 3   /* labels of one histogram vector */
#define PROM_MAX_SERIES 128 /* label sets of one vector; later ones are counted as "other" */
#define PROM_MAX_BOUNDS 16  /* buckets of a histogram (+Inf not counted) */

/* Writes "# HELP name help" and "# TYPE name type" (type: "counter", "gauge", "histogram").
 * 0 or -ENOMEM. */
int prom_family(struct buf *b, const char *name, const char *type, const char *help);
/* Writes one sample: name{l0="v0",...} value, with n labels (0: none) and their values
 * escaped. 0 or -ENOMEM. */
int prom_sample(struct buf *b, const char *name, size_t n, const char *const *labels,
                const char *const *values, double value);
/* prom_family then one sample without labels: a whole single-series family. */
int prom_single(struct buf *b, const char *name, const char *type, const char *help, double value);

/* A single-series family whose value is an integer field of a JSON object (a /health part). */
struct prom_field {
    const char *field; /* key in the object */
    const char *name, *type, *help;
};
/* prom_single for each of n fields of o (borrowed; a missing field is 0). 0 or -ENOMEM. */
int prom_fields(struct buf *b, json_t *o, const struct prom_field *fields, size_t n);

/* A family with one series per key of o (borrowed): name{label="key"} o[key] for each of the n
 * keys (a missing one is 0). 0 or -ENOMEM. */
int prom_by_key(struct buf *b, const char *name, const char *type, const char *help,
                const char *label, json_t *o, const char *const *keys, size_t n);

/* Histograms of one family, one per label set. */
struct prom_hist_vec {
    pthread_mutex_t lock;
    size_t n_labels;                 /* labels of each series */
    const char *const *labels;       /* their names (static) */
    size_t n_bounds;                 /* upper bounds but +Inf */
    double bounds[PROM_MAX_BOUNDS];  /* ascending */
    struct prom_hist_series *series; /* n_series of them, in first-seen order */
    size_t n_series, cap_series;
};

/* An empty vector of histograms with these label names (static) and ascending bucket bounds
 * (at most PROM_MAX_BOUNDS; copied). Free with prom_hist_vec_done. */
void prom_hist_vec_init(struct prom_hist_vec *v, size_t n_labels, const char *const *labels,
                        size_t n_bounds, const double *bounds);
void prom_hist_vec_done(struct prom_hist_vec *v);
/* Counts value in the series of these label values (copied; cut to 63 bytes). Beyond
 * PROM_MAX_SERIES label sets every value is "other". 0 or -ENOMEM (not counted). */
int prom_hist_vec_observe(struct prom_hist_vec *v, const char *const *values, double value);
/* Writes the family: HELP, TYPE histogram, and for each series its cumulative _bucket lines
 * (le="+Inf" last), _sum and _count. 0 or -ENOMEM. */
int prom_hist_vec_write(struct prom_hist_vec *v, struct buf *b, const char *name, const char *help);
/* The total count of the series whose first label is value0 (all when NULL). */
uint64_t prom_hist_vec_count(struct prom_hist_vec *v, const char *value0);

#endif
