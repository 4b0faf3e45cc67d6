/* keys.c - API keys kept as digests, with per-key limits (see keys.h). */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "prom.h"
#include "sha256.h"

#define KEYS_FILE_MAX (1 << 20) /* bytes of a keys file */

void keys_init(struct keys *k)
{
    memset(k, 0, sizeof(*k));
    pthread_mutex_init(&k->lock, NULL);
}

void keys_done(struct keys *k)
{
    pthread_mutex_destroy(&k->lock);
}

/* The SHA-256 of len bytes of s, as 32 bytes. */
static void keys_digest(const char *s, size_t len, uint8_t out[32])
{
    char hex[SHA256_HEX_LEN];
    struct sha256 h;

    sha256_init(&h);
    sha256_update(&h, s, len);
    sha256_hex(&h, hex);
    for (int i = 0; i < 32; i++)
        sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

/* 64 hex digits into 32 bytes: 0, or -1. */
static int keys_unhex(const char *hex, size_t len, uint8_t out[32])
{
    if (len != 64 || strspn(hex, "0123456789abcdefABCDEF") < 64)
        return -1;
    for (int i = 0; i < 32; i++)
        sscanf(hex + 2 * i, "%2hhx", &out[i]);
    return 0;
}

/* A new entry (its digest and name still to fill): NULL when full. */
static struct keys_entry *keys_new_entry(struct keys *k, struct err *e, const char *field)
{
    struct keys_entry *x;

    if (k->n == KEYS_MAX) {
        err_set(e, ERR_INVALID, field, "more than %d API keys", KEYS_MAX);
        return NULL;
    }
    x = &k->e[k->n];
    memset(x, 0, sizeof(*x));
    snprintf(x->name, sizeof(x->name), "key%d", k->n + 1);
    return x;
}

/* Makes a key's bucket full and fills the default burst; counts the entry. */
static void keys_commit(struct keys *k, struct keys_entry *x)
{
    /* A bucket holds at least one request, or the key could never send one. */
    if (x->lim.rps > 0 && x->lim.burst <= 0)
        x->lim.burst = x->lim.rps < 1 ? 1 : x->lim.rps;
    else if (x->lim.rps > 0 && x->lim.burst < 1)
        x->lim.burst = 1;
    x->tokens = x->lim.burst;
    k->n++;
}

int keys_add_list(struct keys *k, const char *csv, struct err *e)
{
    const char *p = csv ? csv : "";

    while (*p) {
        const char *end = strchr(p, ',');
        struct keys_entry *x;
        size_t len;

        if (!end)
            end = p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        len = (size_t)(end - p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0) {
            if (len >= KEYS_KEY_MAX)
                return err_set(e, ERR_INVALID, "api-keys", "an API key is longer than %d bytes",
                               KEYS_KEY_MAX - 1);
            if (!(x = keys_new_entry(k, e, "api-keys")))
                return -ERR_INVALID;
            keys_digest(p, len, x->digest);
            keys_commit(k, x);
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* One `name=value` setting of a keys file line into x. 0 or -1 (unknown or bad). */
static int keys_setting(struct keys_entry *x, const char *word)
{
    static const char *const nums[] = {
        "rps=", "burst=", "concurrent=", "max_timeout=", "sessions="};
    char *end;
    double v;

    if (!strncmp(word, "name=", 5)) {
        size_t n = strlen(word + 5);

        if (n == 0 || n >= sizeof(x->name) || strcspn(word + 5, "\"\\") != n)
            return -1;
        memcpy(x->name, word + 5, n + 1);
        return 0;
    }
    for (size_t i = 0; i < sizeof(nums) / sizeof(*nums); i++) {
        size_t n = strlen(nums[i]);

        if (strncmp(word, nums[i], n) != 0)
            continue;
        errno = 0;
        v = strtod(word + n, &end);
        if (errno || end == word + n || *end || v < 0 || v > 1e9)
            return -1;
        if (i == 0)
            x->lim.rps = v;
        else if (i == 1)
            x->lim.burst = v;
        else if (i == 2)
            x->lim.concurrent = (long)v;
        else if (i == 3)
            x->lim.max_timeout = v;
        else
            x->lim.sessions = (long)v;
        return 0;
    }
    return -1;
}

/* One non-empty line of a keys file (NUL-terminated, comment stripped). */
static int keys_add_line(struct keys *k, char *line, int lineno, struct err *e)
{
    char *save = NULL, *word = strtok_r(line, " \t", &save);
    struct keys_entry *x;
    size_t len;

    if (!word)
        return 0;
    if (!(x = keys_new_entry(k, e, "api-keys-file")))
        return -ERR_INVALID;
    len = strlen(word);
    if (!strncmp(word, "sha256:", 7)) {
        if (keys_unhex(word + 7, len - 7, x->digest) < 0)
            return err_set(e, ERR_INVALID, "api-keys-file", "line %d: sha256: needs 64 hex digits",
                           lineno);
    } else if (len >= KEYS_KEY_MAX) {
        return err_set(e, ERR_INVALID, "api-keys-file", "line %d: the key is longer than %d bytes",
                       lineno, KEYS_KEY_MAX - 1);
    } else {
        keys_digest(word, len, x->digest);
    }
    while ((word = strtok_r(NULL, " \t", &save))) {
        if (keys_setting(x, word) < 0)
            return err_set(e, ERR_INVALID, "api-keys-file",
                           "line %d: '%.40s' is not name=..., rps=, burst=, concurrent=, "
                           "max_timeout= or sessions= with a number >= 0",
                           lineno, word);
    }
    keys_commit(k, x);
    return 0;
}

int keys_add_text(struct keys *k, const char *text, struct err *e)
{
    char *copy = strdup(text), *line, *save = NULL;
    int lineno = 0, r = 0;

    if (!copy)
        return err_set(e, ERR_INVALID, "api-keys-file", "out of memory");
    /* strtok_r on "\n" would skip empty lines and so miscount: split by hand. */
    for (line = copy; r == 0 && line; line = save) {
        char *hash;

        save = strchr(line, '\n');
        if (save)
            *save++ = 0;
        lineno++;
        if ((hash = strchr(line, '#')))
            *hash = 0;
        line[strcspn(line, "\r")] = 0;
        r = keys_add_line(k, line, lineno, e);
    }
    free(copy);
    return r;
}

int keys_add_file(struct keys *k, const char *path, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;
    struct stat st;
    size_t len = 0;
    char *text = NULL;

    if (fd < 0)
        return err_set(e, ERR_INVALID, "api-keys-file", "cannot open '%s': %s", path,
                       strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        close(fd);
        return err_set(e, ERR_INVALID, "api-keys-file",
                       "'%s' must be a regular file readable by its owner only (chmod 600)", path);
    }
    r = fdio_read_all(fd, KEYS_FILE_MAX, &text, &len);
    close(fd);
    if (r < 0)
        return err_set(e, ERR_INVALID, "api-keys-file", "cannot read '%s': %s", path, strerror(-r));
    r = keys_add_text(k, text, e);
    free(text);
    return r;
}

int keys_which(const struct keys *k, const char *given)
{
    uint8_t d[32];
    int which = -1;

    if (k->n == 0 || !given)
        return -1;
    keys_digest(given, strnlen(given, KEYS_KEY_MAX), d);
    /* Every digest is compared in full: the time does not depend on where one differs. */
    for (int i = 0; i < k->n; i++) {
        volatile unsigned char diff = 0;

        for (int b = 0; b < 32; b++)
            diff |= (unsigned char)(k->e[i].digest[b] ^ d[b]);
        if (diff == 0)
            which = i;
    }
    return which;
}

int keys_take_token(struct keys *k, int idx, int64_t now_ns, double *retry_after_s)
{
    struct keys_entry *x;
    int r = 0;

    if (idx < 0 || idx >= k->n || k->e[idx].lim.rps <= 0)
        return 0;
    x = &k->e[idx];
    pthread_mutex_lock(&k->lock);
    if (x->refilled_ns) {
        x->tokens += (double)(now_ns - x->refilled_ns) / 1e9 * x->lim.rps;
        if (x->tokens > x->lim.burst)
            x->tokens = x->lim.burst;
    }
    x->refilled_ns = now_ns;
    if (x->tokens >= 1) {
        x->tokens -= 1;
    } else {
        *retry_after_s = (1 - x->tokens) / x->lim.rps;
        x->rejected++;
        r = -ERR_RATE_LIMITED;
    }
    pthread_mutex_unlock(&k->lock);
    return r;
}

int keys_begin(struct keys *k, int idx)
{
    int r = 0;

    if (idx < 0 || idx >= k->n)
        return 0;
    pthread_mutex_lock(&k->lock);
    if (k->e[idx].lim.concurrent > 0 && k->e[idx].in_flight >= k->e[idx].lim.concurrent) {
        k->e[idx].rejected++;
        r = -ERR_RATE_LIMITED;
    } else {
        k->e[idx].in_flight++;
    }
    pthread_mutex_unlock(&k->lock);
    return r;
}

void keys_end(struct keys *k, int idx)
{
    if (idx < 0 || idx >= k->n)
        return;
    pthread_mutex_lock(&k->lock);
    if (k->e[idx].in_flight > 0)
        k->e[idx].in_flight--;
    pthread_mutex_unlock(&k->lock);
}

long keys_room(struct keys *k, int idx)
{
    long room;

    if (idx < 0 || idx >= k->n)
        return 0;
    pthread_mutex_lock(&k->lock);
    room = k->e[idx].lim.concurrent - k->e[idx].in_flight;
    pthread_mutex_unlock(&k->lock);
    return room;
}

void keys_count_rejected(struct keys *k, int idx)
{
    if (idx < 0 || idx >= k->n)
        return;
    pthread_mutex_lock(&k->lock);
    k->e[idx].rejected++;
    pthread_mutex_unlock(&k->lock);
}

int keys_metrics(struct keys *k, struct buf *b)
{
    static const char *const label[] = {"key"};
    int r;

    if (k->n == 0)
        return 0;
    r = prom_family(b, "sandpit_orch_key_rejections_total", "counter",
                    "Requests refused for a key's limits (rate, executions at once, timeout, "
                    "sessions), by the key's name.");
    pthread_mutex_lock(&k->lock);
    for (int i = 0; r == 0 && i < k->n; i++) {
        const char *name = k->e[i].name;

        r = prom_sample(b, "sandpit_orch_key_rejections_total", 1, label, &name,
                        (double)k->e[i].rejected);
    }
    pthread_mutex_unlock(&k->lock);
    return r;
}
