/* prom.c - Prometheus text exposition (see prom.h). */
#include "prom.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_VALUE_MAX 64 /* bytes of one label value kept by a histogram series */

struct prom_hist_series {
    char values[PROM_MAX_LABELS][PROM_VALUE_MAX];
    uint64_t counts[PROM_MAX_BOUNDS + 1]; /* per bucket, not cumulative; the last is +Inf's */
    uint64_t count;
    double sum;
};

/* A number as Prometheus reads it: integers without a fraction, others shortest-ish. */
static int prom_number(struct buf *b, double v)
{
    if (isinf(v))
        return buf_printf(b, "%s", v > 0 ? "+Inf" : "-Inf");
    if (isnan(v))
        return buf_printf(b, "NaN");
    if (v == floor(v) && fabs(v) < 1e15)
        return buf_printf(b, "%.0f", v);
    return buf_printf(b, "%.9g", v);
}

/* A label value escaped as the format wants: backslash, double quote and newline. */
static int prom_escaped(struct buf *b, const char *s)
{
    for (; *s; s++) {
        int r = *s == '\\'   ? buf_append(b, "\\\\", 2)
                : *s == '"'  ? buf_append(b, "\\\"", 2)
                : *s == '\n' ? buf_append(b, "\\n", 2)
                             : buf_append(b, s, 1);

        if (r < 0)
            return r;
    }
    return 0;
}

int prom_family(struct buf *b, const char *name, const char *type, const char *help)
{
    int r = buf_printf(b, "# HELP %s ", name);

    /* HELP text escapes backslash and newline. */
    for (const char *s = help; r == 0 && *s; s++)
        r = *s == '\\'   ? buf_append(b, "\\\\", 2)
            : *s == '\n' ? buf_append(b, "\\n", 2)
                         : buf_append(b, s, 1);
    return r ? r : buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* name{labels...[,extra="extra_value"]} value */
static int prom_line(struct buf *b, const char *name, size_t n, const char *const *labels,
                     const char *const *values, const char *extra, const char *extra_value,
                     double value)
{
    bool any = n > 0 || extra;
    int r = buf_printf(b, "%s%s", name, any ? "{" : "");

    for (size_t i = 0; r == 0 && i < n; i++) {
        r = buf_printf(b, "%s%s=\"", i ? "," : "", labels[i]);
        if (r == 0)
            r = prom_escaped(b, values[i] ? values[i] : "");
        if (r == 0)
            r = buf_append(b, "\"", 1);
    }
    if (r == 0 && extra)
        r = buf_printf(b, "%s%s=\"%s\"", n ? "," : "", extra, extra_value);
    if (r == 0)
        r = buf_printf(b, "%s ", any ? "}" : "");
    if (r == 0)
        r = prom_number(b, value);
    return r ? r : buf_append(b, "\n", 1);
}

int prom_sample(struct buf *b, const char *name, size_t n, const char *const *labels,
                const char *const *values, double value)
{
    return prom_line(b, name, n, labels, values, NULL, NULL, value);
}

int prom_single(struct buf *b, const char *name, const char *type, const char *help, double value)
{
    int r = prom_family(b, name, type, help);

    return r ? r : prom_sample(b, name, 0, NULL, NULL, value);
}

int prom_fields(struct buf *b, json_t *o, const struct prom_field *fields, size_t n)
{
    int r = 0;

    for (size_t i = 0; r == 0 && i < n; i++)
        r = prom_single(b, fields[i].name, fields[i].type, fields[i].help,
                        (double)json_integer_value(json_object_get(o, fields[i].field)));
    return r;
}

int prom_by_key(struct buf *b, const char *name, const char *type, const char *help,
                const char *label, json_t *o, const char *const *keys, size_t n)
{
    int r = prom_family(b, name, type, help);

    for (size_t i = 0; r == 0 && i < n; i++)
        r = prom_sample(b, name, 1, &label, &keys[i],
                        (double)json_integer_value(json_object_get(o, keys[i])));
    return r;
}

void prom_hist_vec_init(struct prom_hist_vec *v, size_t n_labels, const char *const *labels,
                        size_t n_bounds, const double *bounds)
{
    memset(v, 0, sizeof(*v));
    pthread_mutex_init(&v->lock, NULL);
    v->n_labels = n_labels < PROM_MAX_LABELS ? n_labels : PROM_MAX_LABELS;
    v->labels = labels;
    v->n_bounds = n_bounds < PROM_MAX_BOUNDS ? n_bounds : PROM_MAX_BOUNDS;
    memcpy(v->bounds, bounds, v->n_bounds * sizeof(*bounds));
}

void prom_hist_vec_done(struct prom_hist_vec *v)
{
    free(v->series);
    v->series = NULL;
    v->n_series = v->cap_series = 0;
    pthread_mutex_destroy(&v->lock);
}

/* The key of a series: its label values, cut and zero-padded (so memcmp compares). */
static void prom_hist_key(const struct prom_hist_vec *v, const char *const *values, bool other,
                          char key[PROM_MAX_LABELS][PROM_VALUE_MAX])
{
    memset(key, 0, PROM_MAX_LABELS * PROM_VALUE_MAX);
    for (size_t i = 0; i < v->n_labels; i++)
        snprintf(key[i], PROM_VALUE_MAX, "%s", other ? "other" : values[i] ? values[i] : "");
}

/* The series of these values, made when new (lock held); past PROM_MAX_SERIES a new label set
 * goes to the one "other" series. NULL on out of memory. */
static struct prom_hist_series *prom_hist_vec_find(struct prom_hist_vec *v,
                                                   const char *const *values)
{
    char key[PROM_MAX_LABELS][PROM_VALUE_MAX];
    struct prom_hist_series *s;

    for (int pass = 0; pass < 2; pass++) {
        prom_hist_key(v, values, pass == 1, key);
        for (size_t i = 0; i < v->n_series; i++) {
            if (!memcmp(v->series[i].values, key, sizeof(key)))
                return &v->series[i];
        }
        if (v->n_series < PROM_MAX_SERIES)
            break;
    }
    if (v->n_series == v->cap_series) {
        size_t cap = v->cap_series ? v->cap_series * 2 : 8;
        struct prom_hist_series *p = realloc(v->series, cap * sizeof(*p));

        if (!p)
            return NULL;
        v->series = p;
        v->cap_series = cap;
    }
    s = &v->series[v->n_series++];
    memset(s, 0, sizeof(*s));
    memcpy(s->values, key, sizeof(key));
    return s;
}

int prom_hist_vec_observe(struct prom_hist_vec *v, const char *const *values, double value)
{
    struct prom_hist_series *s;
    size_t i;

    pthread_mutex_lock(&v->lock);
    if (!(s = prom_hist_vec_find(v, values))) {
        pthread_mutex_unlock(&v->lock);
        return -ENOMEM;
    }
    for (i = 0; i < v->n_bounds && value > v->bounds[i]; i++)
        ;
    s->counts[i]++;
    s->count++;
    s->sum += value;
    pthread_mutex_unlock(&v->lock);
    return 0;
}

/* One series' lines. */
static int prom_hist_series_write(const struct prom_hist_vec *v, const struct prom_hist_series *s,
                                  struct buf *b, const char *name)
{
    const char *values[PROM_MAX_LABELS];
    char bucket[160], le[32];
    uint64_t cum = 0;
    int r = 0;

    for (size_t i = 0; i < v->n_labels; i++)
        values[i] = s->values[i];
    snprintf(bucket, sizeof(bucket), "%s_bucket", name);
    for (size_t i = 0; r == 0 && i <= v->n_bounds; i++) {
        cum += s->counts[i];
        if (i < v->n_bounds)
            snprintf(le, sizeof(le), "%.9g", v->bounds[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        r = prom_line(b, bucket, v->n_labels, v->labels, values, "le", le, (double)cum);
    }
    if (r == 0) {
        snprintf(bucket, sizeof(bucket), "%s_sum", name);
        r = prom_line(b, bucket, v->n_labels, v->labels, values, NULL, NULL, s->sum);
    }
    if (r == 0) {
        snprintf(bucket, sizeof(bucket), "%s_count", name);
        r = prom_line(b, bucket, v->n_labels, v->labels, values, NULL, NULL, (double)s->count);
    }
    return r;
}

int prom_hist_vec_write(struct prom_hist_vec *v, struct buf *b, const char *name, const char *help)
{
    int r = prom_family(b, name, "histogram", help);

    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; r == 0 && i < v->n_series; i++)
        r = prom_hist_series_write(v, &v->series[i], b, name);
    pthread_mutex_unlock(&v->lock);
    return r;
}

uint64_t prom_hist_vec_count(struct prom_hist_vec *v, const char *value0)
{
    uint64_t n = 0;

    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < v->n_series; i++) {
        if (!value0 || !strcmp(v->series[i].values[0], value0))
            n += v->series[i].count;
    }
    pthread_mutex_unlock(&v->lock);
    return n;
}
