/* timeline.h - where one execution's time goes: timestamps the zygote and the child record at
 * each step (issue 18), written as one JSON line per execution to --timeline FILE.
 *
 * Off unless --timeline is given (a bench and diagnosis aid, `make bench` turns it on). When on,
 * the zygote maps TIMELINE_RECS records shared with every child it forks; each execution's child
 * gets one and writes its own marks there. The zygote only reads integers from it, so a program
 * that scribbles over the records can only falsify the timeline file. Records are reused in a
 * ring: an execution outliving TIMELINE_RECS newer ones shares its record. */
#ifndef SANDPIT_TIMELINE_H
#define SANDPIT_TIMELINE_H

#include <stdint.h>
#include <sys/resource.h>

#define TIMELINE_RECS 4096

/* In order. Z: marked by the zygote; C: by the child. */
enum timeline_mark {
    TL_FORK_START, /* Z: before the namespace's init is spawned */
    TL_INIT,       /* Z: sandpit-init spawned, about to fork */
    TL_FORKED,     /* Z: fork returned in the zygote */
    TL_CHILD,      /* C: first instruction of the child */
    TL_CGROUP,     /* C: joined its cgroup slot */
    TL_NS,         /* C: namespaces unshared */
    TL_MOUNT,      /* C: mount view built */
    TL_CRED,       /* C: uid dropped */
    TL_SECCOMP,    /* C: rlimits, no_new_privs, seccomp loaded */
    TL_PREWARM,    /* C: the pre-warm run done: ready */
    TL_HANDED,     /* Z: the job handed to the child */
    TL_JOB,        /* C: the job received */
    TL_RUN,        /* C: fds wired, workdir, limits: the harness starts */
    TL_RAN,        /* C: the harness returned (its result frame written) */
    TL_EXIT,       /* C: its end message sent (or none), about to _exit */
    TL_ANSWERED,   /* Z: the status record written on that message, before the teardown */
    TL_REAPED,     /* Z: the child reaped (its address space torn down) */
    TL_DONE,       /* Z: init reaped; the status record written unless answered before */
    TL_N
};

struct timeline_rec {
    int64_t wall_ns[TL_N]; /* CLOCK_MONOTONIC */
    int64_t cpu_ns[TL_N];  /* CLOCK_THREAD_CPUTIME_ID of the process that marked it */
    int64_t minflt[TL_N];  /* minor page faults of that process so far (copy-on-write...) */
};

struct timeline {
    struct timeline_rec *recs; /* TIMELINE_RECS, MAP_SHARED; NULL when off */
    unsigned next;
    int fd; /* the --timeline file, -1 when off */
};

/* Opens path for appending and maps the records; path NULL or "" leaves it off. 0 or -errno. */
int timeline_init(struct timeline *tl, const char *path);
void timeline_done(struct timeline *tl);
/* The next record, cleared (borrowed, shared with children); NULL when off. */
struct timeline_rec *timeline_take(struct timeline *tl);
/* Stamps mark m now; r NULL does nothing. Async-signal-safe. */
void timeline_mark(struct timeline_rec *r, enum timeline_mark m);
/* Appends r as a JSON line ("mark": [wall_ns, cpu_ns, minflt]) with the child's rusage (its CPU
 * and minor faults including exit); r NULL does nothing. */
void timeline_write(const struct timeline *tl, const struct timeline_rec *r,
                    const struct rusage *child);

#endif
