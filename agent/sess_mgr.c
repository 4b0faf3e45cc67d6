/* sess_mgr.c - the agent's session table (sess_mgr.h). The zygote does the work
 * (sandbox/zygote_sess.c); this keeps what clients see: ids, state, reasons, counts, limits. */
#include "sess_mgr.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Ended sessions stay known (410 with their reason) up to this many. */
#define SESS_TOMBSTONES 256

enum sess_state { SESS_STARTING, SESS_IDLE, SESS_BUSY, SESS_DEAD };

static const char *const sess_state_names[] = {"starting", "idle", "busy", "dead"};

struct sess {
    char id[SESS_ID_MAX];
    uint64_t no; /* the zygote's number */
    enum sess_state state;
    char reason[200];          /* why it is dead (or why it is being killed) */
    double created, last_used; /* unix seconds */
    int64_t last_used_ns;      /* monotonic: idle reaping */
    int64_t dead_ns;           /* monotonic: when it ended (tombstone order) */
    long executions;
    char parent[SESS_ID_MAX]; /* "" when created, not forked */
    bool checkpoint;
    const char *policy; /* static */
    long memory_mb, pids, idle_timeout_s;
    json_t *env; /* owned, or NULL */
    pid_t pid;   /* its process once up, in our PID namespace */
    uid_t uid;
    unsigned reseeded; /* PYRT_RESEEDED_* bits, for a fork */
    struct exec_waiter *waiters;
    bool wait_dead;    /* some waiter waits for the end, not for the start */
    uint64_t cell_job; /* BUSY: the running cell's job number, 0 until it was handed over */
    bool int_wanted;   /* BUSY: an interrupt came before the cell was handed over */
};

struct sess_mgr {
    const struct agent_cfg *cfg;
    struct zyg_client *zc;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* wakes the reaper to stop */
    struct sess **s;
    size_t n, cap;
    uint64_t next_no;
    unsigned boot; /* this agent's start, in every id: an id of another start is 410 */
    pthread_t reaper;
    bool reaper_running, stop;
    bool draining; /* SIGTERM: no new sessions (sess_mgr_drain) */
    unsigned long created, ended;
};

static void sess_free(struct sess *s)
{
    exec_waiters_clear(&s->waiters, false);
    json_decref(s->env);
    free(s);
}

static struct sess *sess_find(struct sess_mgr *sm, const char *id)
{
    for (size_t i = 0; i < sm->n; i++) {
        if (!strcmp(sm->s[i]->id, id))
            return sm->s[i];
    }
    return NULL;
}

static struct sess *sess_find_no(struct sess_mgr *sm, uint64_t no)
{
    for (size_t i = 0; i < sm->n; i++) {
        if (sm->s[i]->no == no)
            return sm->s[i];
    }
    return NULL;
}

static size_t sess_live(const struct sess_mgr *sm)
{
    size_t n = 0;

    for (size_t i = 0; i < sm->n; i++)
        n += sm->s[i]->state != SESS_DEAD;
    return n;
}

/* Looks id up for an operation: the session, or NULL with e set (404, or 410 for an id of an
 * earlier start of this agent or one that ended). Lock held. */
static struct sess *sess_lookup(struct sess_mgr *sm, const char *id, bool dead_ok, struct err *e)
{
    struct sess *s = sess_find(sm, id);
    unsigned boot;

    if (!s) {
        if (sscanf(id, "s-%8x-", &boot) == 1 && strlen(id) == 23 && boot != sm->boot) {
            err_set(e, ERR_GONE, "session_id",
                    "session %s is gone: the agent holding it restarted, and sessions live in "
                    "memory",
                    id);
            return NULL;
        }
        err_set(e, ERR_NOT_FOUND, "session_id", "no session %s on this agent", id);
        return NULL;
    }
    if (s->state == SESS_DEAD && !dead_ok) {
        err_set(e, ERR_GONE, "session_id", "session %s is gone: %s", id, s->reason);
        return NULL;
    }
    return s;
}

/* Drops the oldest ended sessions beyond SESS_TOMBSTONES. Lock held. */
static void sess_trim(struct sess_mgr *sm)
{
    size_t dead = 0;

    for (size_t i = 0; i < sm->n; i++)
        dead += sm->s[i]->state == SESS_DEAD;
    while (dead > SESS_TOMBSTONES) {
        size_t oldest = SIZE_MAX;

        for (size_t i = 0; i < sm->n; i++) {
            if (sm->s[i]->state == SESS_DEAD && !sm->s[i]->waiters &&
                (oldest == SIZE_MAX || sm->s[i]->dead_ns < sm->s[oldest]->dead_ns))
                oldest = i;
        }
        if (oldest == SIZE_MAX)
            return;
        sess_free(sm->s[oldest]);
        sm->s[oldest] = sm->s[--sm->n];
        dead--;
    }
}

static void sess_set_dead(struct sess_mgr *sm, struct sess *s, const char *why)
{
    if (s->state == SESS_DEAD)
        return;
    if (!s->reason[0])
        snprintf(s->reason, sizeof(s->reason), "%s", why);
    s->state = SESS_DEAD;
    s->dead_ns = clock_mono_ns();
    sm->ended++;
    exec_waiters_clear(&s->waiters, true);
}

/* Why the zygote says a session ended, in words a client can act on. */
static void sess_dead_reason(const struct sess *s, const struct zyg_sess_event *ev, char *out,
                             size_t size)
{
    if (ev->flags & ZYG_ST_SPAWN_FAILED)
        snprintf(out, size, "it could not start: %s", strerror(ev->err ? ev->err : EIO));
    else if (ev->flags & ZYG_ST_OOM)
        snprintf(out, size,
                 "out of memory: the memory cgroup killed it (memory_mb %ld); its state is gone",
                 s->memory_mb);
    else if (ev->flags & ZYG_ST_TIMED_OUT)
        snprintf(out, size,
                 "a cell ran past its timeout and did not return to Python within the grace: "
                 "killed, its state is gone");
    else if (ev->flags & ZYG_ST_PROTOCOL)
        snprintf(out, size,
                 "it said its cell had ended while still holding the cell's streams (code "
                 "writing on the session's control socket): killed, its state is gone");
    else if (ev->flags & ZYG_ST_CANCELLED)
        snprintf(out, size, "deleted");
    else if (ev->flags & ZYG_ST_SETUP_FAILED)
        snprintf(out, size, "its process failed to set itself up");
    else if (WIFSIGNALED(ev->wait_status))
        snprintf(out, size, "its process was killed by signal %d; its state is gone",
                 WTERMSIG(ev->wait_status));
    else
        snprintf(out, size, "its process exited with code %d; its state is gone",
                 WEXITSTATUS(ev->wait_status));
}

/* The zygote's events (monitor thread). */
static void sess_on_event(void *arg, const struct zyg_sess_event *ev)
{
    struct sess_mgr *sm = arg;
    struct sess *s;
    char why[200];

    pthread_mutex_lock(&sm->lock);
    if (ev->sess_no == 0) {
        for (size_t i = 0; i < sm->n; i++)
            sess_set_dead(sm, sm->s[i],
                          "the zygote holding it died and was restarted: its state is gone");
    } else if ((s = sess_find_no(sm, ev->sess_no))) {
        if (ev->kind == ZYG_SEV_UP && s->state == SESS_STARTING) {
            s->state = SESS_IDLE;
            s->pid = ev->pid;
            s->uid = ev->uid;
            s->reseeded = ev->flags;
            s->last_used = (double)clock_real_ns() / 1e9;
            s->last_used_ns = clock_mono_ns();
            if (!s->wait_dead)
                exec_waiters_clear(&s->waiters, true);
        } else if (ev->kind == ZYG_SEV_HEAD) {
            s->pid = ev->pid;
        } else if (ev->kind == ZYG_SEV_DEAD) {
            sess_dead_reason(s, ev, why, sizeof(why));
            sess_set_dead(sm, s, why);
        }
    }
    sess_trim(sm);
    pthread_mutex_unlock(&sm->lock);
}

static int sess_send(struct sess_mgr *sm, uint32_t op, uint64_t no, struct zyg_sess_cmd *cmd)
{
    cmd->op = op;
    cmd->sess_no = no;
    return zyg_client_send_sess(sm->zc, cmd);
}

/* Ends sessions idle past their timeout. */
static void *sess_reaper(void *arg)
{
    struct sess_mgr *sm = arg;

    pthread_mutex_lock(&sm->lock);
    while (!sm->stop) {
        struct timespec ts;
        uint64_t due[64];
        size_t nd = 0;
        int64_t now = clock_mono_ns();

        for (size_t i = 0; i < sm->n && nd < 64; i++) {
            struct sess *s = sm->s[i];

            if (s->state == SESS_IDLE && !s->reason[0] &&
                now - s->last_used_ns > (int64_t)s->idle_timeout_s * 1000000000) {
                snprintf(s->reason, sizeof(s->reason),
                         "idle for more than %ld s (idle_timeout_s): ended, its state is gone",
                         s->idle_timeout_s);
                due[nd++] = s->no;
            }
        }
        pthread_mutex_unlock(&sm->lock);
        for (size_t i = 0; i < nd; i++) {
            struct zyg_sess_cmd cmd = {0};

            (void)sess_send(sm, ZYG_SESS_KILL, due[i], &cmd);
        }
        pthread_mutex_lock(&sm->lock);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (!sm->stop)
            pthread_cond_timedwait(&sm->cond, &sm->lock, &ts);
    }
    pthread_mutex_unlock(&sm->lock);
    return NULL;
}

struct sess_mgr *sess_mgr_new(const struct agent_cfg *cfg, struct zyg_client *zc)
{
    struct sess_mgr *sm = calloc(1, sizeof(*sm));

    if (!sm)
        return NULL;
    sm->cfg = cfg;
    sm->zc = zc;
    sm->next_no = 1;
    if (getrandom(&sm->boot, sizeof(sm->boot), 0) != sizeof(sm->boot))
        sm->boot = (unsigned)clock_real_ns() ^ (unsigned)getpid();
    pthread_mutex_init(&sm->lock, NULL);
    pthread_cond_init(&sm->cond, NULL);
    zyg_client_on_session(zc, sess_on_event, sm);
    if (pthread_create(&sm->reaper, NULL, sess_reaper, sm) == 0)
        sm->reaper_running = true;
    return sm;
}

void sess_mgr_stop(struct sess_mgr *sm)
{
    if (!sm)
        return;
    pthread_mutex_lock(&sm->lock);
    for (size_t i = 0; i < sm->n; i++)
        sess_set_dead(sm, sm->s[i], "the agent stopped: its state is gone");
    pthread_mutex_unlock(&sm->lock);
}

void sess_mgr_cell_end(void *arg, const char *session)
{
    sess_mgr_end_cell(arg, session);
}

void sess_mgr_free(struct sess_mgr *sm)
{
    if (!sm)
        return;
    pthread_mutex_lock(&sm->lock);
    sm->stop = true;
    pthread_cond_broadcast(&sm->cond);
    pthread_mutex_unlock(&sm->lock);
    if (sm->reaper_running)
        pthread_join(sm->reaper, NULL);
    for (size_t i = 0; i < sm->n; i++)
        sess_free(sm->s[i]);
    free(sm->s);
    pthread_cond_destroy(&sm->cond);
    pthread_mutex_destroy(&sm->lock);
    free(sm);
}

/* A new entry, STARTING, with a fresh id and number. Lock held. NULL with e set. */
static struct sess *sess_add(struct sess_mgr *sm, struct err *e)
{
    struct sess *s;
    uint64_t rnd = 0;

    if (sm->draining) {
        err_set(e, ERR_SHUTTING_DOWN, NULL,
                "the agent is shutting down: it takes no new sessions (retry on another agent)");
        return NULL;
    }
    if (sess_live(sm) >= (size_t)sm->cfg->max_sessions) {
        err_set(e, ERR_BUSY, NULL,
                sm->cfg->max_sessions
                    ? "%ld sessions are live on this agent (--max-sessions): delete one, or "
                      "retry when an idle one has been reaped"
                    : "sessions are off on this agent (--max-sessions %ld)",
                sm->cfg->max_sessions);
        return NULL;
    }
    if (sm->n == sm->cap) {
        size_t cap = sm->cap ? sm->cap * 2 : 32;
        struct sess **p = realloc(sm->s, cap * sizeof(*p));

        if (!p) {
            err_set(e, ERR_BUSY, NULL, "out of memory");
            return NULL;
        }
        sm->s = p;
        sm->cap = cap;
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        err_set(e, ERR_BUSY, NULL, "out of memory");
        return NULL;
    }
    if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
        rnd = (uint64_t)clock_mono_ns() * 2654435761u;
    snprintf(s->id, sizeof(s->id), "s-%08x-%012llx", sm->boot,
             (unsigned long long)(rnd & 0xffffffffffffULL));
    s->no = sm->next_no++;
    s->state = SESS_STARTING;
    s->created = s->last_used = (double)clock_real_ns() / 1e9;
    s->last_used_ns = clock_mono_ns();
    sm->s[sm->n++] = s;
    sm->created++;
    return s;
}

int sess_mgr_create(struct sess_mgr *sm, const struct sess_opts *o, char *id, struct err *e)
{
    struct zyg_sess_cmd cmd = {0};
    struct sess *s;
    uint64_t no;
    int r;

    pthread_mutex_lock(&sm->lock);
    if (!(s = sess_add(sm, e))) {
        pthread_mutex_unlock(&sm->lock);
        return -e->code;
    }
    s->policy = o->policy;
    s->memory_mb = o->memory_mb ? o->memory_mb : sm->cfg->memory_mb;
    s->pids = o->pids ? o->pids : sm->cfg->pids_limit;
    s->idle_timeout_s = o->idle_timeout_s;
    s->checkpoint = o->checkpoint;
    s->env = o->env ? json_deep_copy(o->env) : NULL;
    snprintf(id, SESS_ID_MAX, "%s", s->id);
    snprintf(cmd.name, sizeof(cmd.name), "%s", s->id);
    cmd.memory_mb = (uint32_t)o->memory_mb;
    cmd.pids = (uint32_t)o->pids;
    cmd.flags = o->checkpoint ? ZYG_SESS_CHECKPOINT : 0;
    no = s->no;
    pthread_mutex_unlock(&sm->lock);
    if ((r = sess_send(sm, ZYG_SESS_NEW, no, &cmd)) < 0) {
        pthread_mutex_lock(&sm->lock);
        if ((s = sess_find_no(sm, no)))
            sess_set_dead(sm, s, "it could not start: the zygote is not available");
        pthread_mutex_unlock(&sm->lock);
        return err_set(e, ERR_UNAVAILABLE, NULL,
                       "the Python zygote is not available (starting or restarting): retry");
    }
    return 0;
}

int sess_mgr_fork(struct sess_mgr *sm, const char *parent, char *id, struct err *e)
{
    struct zyg_sess_cmd cmd = {0};
    struct sess *p, *s;
    uint64_t pno, no;

    pthread_mutex_lock(&sm->lock);
    if (!(p = sess_lookup(sm, parent, false, e)))
        goto fail;
    if (p->state != SESS_IDLE) {
        err_set(e, ERR_CONFLICT, "session_id",
                "session %s is %s: a fork copies an idle session (wait for its cell, or "
                "interrupt it)",
                parent, sess_state_names[p->state]);
        goto fail;
    }
    if (!(s = sess_add(sm, e)))
        goto fail;
    snprintf(s->parent, sizeof(s->parent), "%s", p->id);
    s->policy = p->policy;
    s->memory_mb = p->memory_mb;
    s->pids = p->pids;
    s->idle_timeout_s = p->idle_timeout_s;
    s->checkpoint = p->checkpoint;
    s->executions = p->executions;
    s->env = p->env ? json_deep_copy(p->env) : NULL;
    snprintf(id, SESS_ID_MAX, "%s", s->id);
    snprintf(cmd.name, sizeof(cmd.name), "%s", s->id);
    cmd.new_no = no = s->no;
    pno = p->no;
    p->last_used = (double)clock_real_ns() / 1e9;
    p->last_used_ns = clock_mono_ns();
    pthread_mutex_unlock(&sm->lock);
    if (sess_send(sm, ZYG_SESS_FORK, pno, &cmd) < 0) {
        pthread_mutex_lock(&sm->lock);
        if ((s = sess_find_no(sm, no)))
            sess_set_dead(sm, s, "it could not start: the zygote is not available");
        pthread_mutex_unlock(&sm->lock);
        return err_set(e, ERR_UNAVAILABLE, NULL, "the Python zygote is not available: retry");
    }
    return 0;
fail:
    pthread_mutex_unlock(&sm->lock);
    return -e->code;
}

bool sess_mgr_wait(struct sess_mgr *sm, const char *id, bool until_dead, exec_done_fn fn, void *arg)
{
    struct sess *s;
    bool done = true;

    pthread_mutex_lock(&sm->lock);
    s = sess_find(sm, id);
    if (s && s->state != SESS_DEAD && (until_dead || s->state == SESS_STARTING) &&
        exec_waiters_add(&s->waiters, fn, arg, 0) == 0) {
        done = false;
        s->wait_dead = s->wait_dead || until_dead;
    }
    pthread_mutex_unlock(&sm->lock);
    return done;
}

void sess_mgr_clear_waiter(struct sess_mgr *sm, const char *id, void *arg)
{
    struct sess *s;

    pthread_mutex_lock(&sm->lock);
    if ((s = sess_find(sm, id)))
        exec_waiters_remove(&s->waiters, arg);
    pthread_mutex_unlock(&sm->lock);
}

/* Resident memory of a process, bytes (its copy-on-write pages shared with the zygote count). */
static long long sess_rss(pid_t pid)
{
    char path[64], buf[4096], *p;
    long long kb = -1;
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n > 0) {
        buf[n] = '\0';
        if ((p = strstr(buf, "VmRSS:")))
            kb = strtoll(p + 6, NULL, 10);
    }
    return kb < 0 ? -1 : kb * 1024;
}

/* The session as clients see it. Lock held. */
static json_t *sess_json(const struct sess *s)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:f, s:f, s:I, s:s?, s:b, s:s, s:I, s:I, s:I}", "session_id",
                  s->id, "state", sess_state_names[s->state], "language", "python", "created",
                  s->created, "last_used", s->last_used, "executions", (json_int_t)s->executions,
                  "parent", s->parent[0] ? s->parent : NULL, "checkpoint", s->checkpoint, "policy",
                  s->policy, "memory_mb", (json_int_t)s->memory_mb, "pids", (json_int_t)s->pids,
                  "idle_timeout_s", (json_int_t)s->idle_timeout_s);

    if (!o)
        return NULL;
    if (!s->parent[0])
        json_object_set_new(o, "parent", json_null());
    if (s->state == SESS_DEAD) {
        json_object_set_new(o, "reason", json_string(s->reason));
    } else if (s->pid > 0) {
        long long rss = sess_rss(s->pid);

        json_object_set_new(o, "memory_bytes", rss >= 0 ? json_integer(rss) : json_null());
    }
    if (s->parent[0]) {
        json_t *re = json_array();

        if (s->reseeded & 1u)
            json_array_append_new(re, json_string("random"));
        if (s->reseeded & 2u)
            json_array_append_new(re, json_string("numpy"));
        json_object_set_new(o, "reseeded", re);
    }
    return o;
}

json_t *sess_mgr_get(struct sess_mgr *sm, const char *id, struct err *e)
{
    json_t *o = NULL;
    struct sess *s;

    pthread_mutex_lock(&sm->lock);
    if ((s = sess_lookup(sm, id, true, e)) && !(o = sess_json(s)))
        err_set(e, ERR_BUSY, NULL, "out of memory");
    pthread_mutex_unlock(&sm->lock);
    return o;
}

void sess_mgr_reason(struct sess_mgr *sm, const char *id, char *out, size_t size)
{
    struct sess *s;

    pthread_mutex_lock(&sm->lock);
    s = sess_find(sm, id);
    snprintf(out, size, "%s",
             s && s->state == SESS_DEAD ? s->reason
             : s                        ? "it is live"
                                        : "the agent holding it restarted: its state is gone");
    pthread_mutex_unlock(&sm->lock);
}

json_t *sess_mgr_list(struct sess_mgr *sm)
{
    json_t *arr = json_array();
    size_t n = 0;

    pthread_mutex_lock(&sm->lock);
    for (size_t i = 0; arr && i < sm->n; i++) {
        if (sm->s[i]->state == SESS_DEAD)
            continue;
        json_array_append_new(arr, sess_json(sm->s[i]));
        n++;
    }
    pthread_mutex_unlock(&sm->lock);
    return arr ? json_pack("{s:o, s:I}", "sessions", arr, "total", (json_int_t)n) : NULL;
}

int sess_mgr_kill(struct sess_mgr *sm, const char *id, struct err *e)
{
    struct zyg_sess_cmd cmd = {0};
    struct sess *s;
    uint64_t no;

    pthread_mutex_lock(&sm->lock);
    if (!(s = sess_lookup(sm, id, true, e))) {
        pthread_mutex_unlock(&sm->lock);
        return -e->code;
    }
    if (s->state == SESS_DEAD) {
        pthread_mutex_unlock(&sm->lock);
        return 1;
    }
    if (!s->reason[0])
        snprintf(s->reason, sizeof(s->reason), "deleted");
    no = s->no;
    pthread_mutex_unlock(&sm->lock);
    if (sess_send(sm, ZYG_SESS_KILL, no, &cmd) < 0) {
        /* No zygote: its processes went with it. */
        pthread_mutex_lock(&sm->lock);
        if ((s = sess_find_no(sm, no)))
            sess_set_dead(sm, s, "deleted");
        pthread_mutex_unlock(&sm->lock);
    }
    return 0;
}

int sess_mgr_interrupt(struct sess_mgr *sm, const char *id, struct err *e)
{
    struct zyg_sess_cmd cmd = {0};
    struct sess *s;
    uint64_t no;
    bool busy;

    pthread_mutex_lock(&sm->lock);
    if (!(s = sess_lookup(sm, id, false, e))) {
        pthread_mutex_unlock(&sm->lock);
        return -e->code;
    }
    busy = s->state == SESS_BUSY;
    no = s->no;
    /* The zygote interrupts that cell only (one that ended meanwhile is not the next one's);
     * before the cell is handed over, the interrupt goes with it (sess_mgr_cell_started). */
    cmd.new_no = s->cell_job;
    if (busy && !s->cell_job)
        s->int_wanted = true;
    pthread_mutex_unlock(&sm->lock);
    if (busy && cmd.new_no)
        (void)sess_send(sm, ZYG_SESS_INTERRUPT, no, &cmd);
    return busy ? 1 : 0;
}

int sess_mgr_begin_cell(struct sess_mgr *sm, const char *id, struct sess_cell *c, struct err *e)
{
    struct sess *s;
    int r = 0;

    pthread_mutex_lock(&sm->lock);
    if (!(s = sess_lookup(sm, id, false, e))) {
        r = -e->code;
    } else if (s->state != SESS_IDLE) {
        r = err_set(e, ERR_CONFLICT, "session_id",
                    "session %s is %s: its cells run one at a time (this one was not run; "
                    "retry when it is idle)",
                    id, sess_state_names[s->state]);
    } else {
        s->state = SESS_BUSY;
        s->cell_job = 0;
        s->int_wanted = false;
        s->executions++;
        c->no = s->no;
        snprintf(c->workspace, sizeof(c->workspace), "%s", s->id);
        c->policy = s->policy;
        c->env = json_incref(s->env);
        c->execution_count = s->executions;
        c->memory_mb = s->memory_mb;
    }
    pthread_mutex_unlock(&sm->lock);
    return r;
}

void sess_mgr_cell_started(struct sess_mgr *sm, const char *id, uint64_t job)
{
    struct zyg_sess_cmd cmd = {.new_no = job};
    struct sess *s;
    uint64_t no = 0;

    pthread_mutex_lock(&sm->lock);
    if ((s = sess_find(sm, id)) && s->state == SESS_BUSY) {
        s->cell_job = job;
        if (s->int_wanted)
            no = s->no;
        s->int_wanted = false;
    }
    pthread_mutex_unlock(&sm->lock);
    if (no)
        (void)sess_send(sm, ZYG_SESS_INTERRUPT, no, &cmd);
}

void sess_mgr_end_cell(struct sess_mgr *sm, const char *id)
{
    struct sess *s;

    pthread_mutex_lock(&sm->lock);
    if ((s = sess_find(sm, id)) && s->state == SESS_BUSY) {
        s->state = SESS_IDLE;
        s->cell_job = 0;
        s->last_used = (double)clock_real_ns() / 1e9;
        s->last_used_ns = clock_mono_ns();
    }
    pthread_mutex_unlock(&sm->lock);
}

int sess_mgr_workspace(struct sess_mgr *sm, const char *id, pid_t *pid, char *ws, uid_t *uid,
                       struct err *e)
{
    struct sess *s;
    int r = 0;

    pthread_mutex_lock(&sm->lock);
    if (!(s = sess_lookup(sm, id, false, e))) {
        r = -e->code;
    } else if (s->state == SESS_STARTING || s->pid <= 0) {
        r = err_set(e, ERR_CONFLICT, "session_id", "session %s is still starting", id);
    } else {
        *pid = s->pid;
        *uid = s->uid;
        snprintf(ws, SESS_ID_MAX, "%s", s->id);
        s->last_used = (double)clock_real_ns() / 1e9;
        s->last_used_ns = clock_mono_ns();
    }
    pthread_mutex_unlock(&sm->lock);
    return r;
}

size_t sess_mgr_drain(struct sess_mgr *sm)
{
    size_t busy = 0;

    pthread_mutex_lock(&sm->lock);
    sm->draining = true;
    for (size_t i = 0; i < sm->n; i++)
        busy += sm->s[i]->state == SESS_BUSY;
    pthread_mutex_unlock(&sm->lock);
    return busy;
}

json_t *sess_mgr_health(struct sess_mgr *sm)
{
    size_t busy = 0, live;
    long long mem = 0;
    json_t *o;

    pthread_mutex_lock(&sm->lock);
    live = sess_live(sm);
    for (size_t i = 0; i < sm->n; i++) {
        const struct sess *s = sm->s[i];

        busy += s->state == SESS_BUSY;
        if (s->state != SESS_DEAD && s->pid > 0) {
            long long rss = sess_rss(s->pid);

            mem += rss > 0 ? rss : 0;
        }
    }
    o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "live", (json_int_t)live, "max",
                  (json_int_t)sm->cfg->max_sessions, "busy", (json_int_t)busy, "created",
                  (json_int_t)sm->created, "ended", (json_int_t)sm->ended, "memory_bytes",
                  (json_int_t)mem);
    pthread_mutex_unlock(&sm->lock);
    return o;
}
