/* zygote_int.h - the zygote's state, shared by its files (zygote.c: jobs, the loop;
 * zygote_sess.c: sessions). Zygote process only, single-threaded. */
#ifndef SANDPIT_ZYGOTE_INT_H
#define SANDPIT_ZYGOTE_INT_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "agent_cfg.h"
#include "heap_hot.h"
#include "isolate.h"
#include "pyrt.h"
#include "zyg_proto.h"
#include "zygote_cpu.h"
#include "zygote_pidns.h"
#include "zygote_warm.h"

struct zygote_sess;

/* At the deadline a Python program is first asked where it is (harness/deadline.py answers on
 * the result pipe and exits); SIGKILL follows this much later whatever it does, so a program
 * stuck in C code is still ended on time. Exec runtimes are killed at once. */
#define ZYGOTE_REPORT_SIGNAL   SIGUSR2
#define ZYGOTE_REPORT_GRACE_NS (500 * 1000000LL)

/* The warm pool's refill waits at most this long for a job that just started to end
 * (zygote.c, zygote_refill_wait_until). */
#define ZYGOTE_REFILL_DEFER_NS (100 * 1000000LL)

/* The pool's and CPU report (STATS, for /health) goes out at most this often: each one wakes
 * the agent's monitor thread, which on this VM costs a request in flight ~0.5 ms. */
#define ZYGOTE_STATS_EVERY_NS (1000 * 1000000LL)

struct zjob {
    uint64_t id;         /* server's job id */
    pid_t pid;           /* user process; 0 once reaped */
    pid_t init_pid;      /* namespace init; 0 when none or reaped */
    int status_fd;       /* write end of the job's status pipe */
    int64_t start_ns;    /* monotonic, at fork */
    int64_t deadline_ns; /* monotonic */
    int64_t crash_ns;    /* simulateCrash at: SIGSEGV to the user process; 0 = none */
    int64_t kill_ns;     /* asked where it is at the deadline: SIGKILL at this time; 0 = none */
    bool python;         /* the embedded Python runs it (not an exec runtime) */
    uint32_t timeout_ms; /* the run's limit, from the end of the compile phase */
    uint32_t crash_ms;   /* crashAfterMs, counted from the start of the run */
    int ctl;             /* the child's control socket while it compiles, is not ready, or
                          * may end early */
    bool ready;          /* the child said "R": its set-up is done */
    bool early_ok;       /* may be answered on its end message (zygote_job_answer) */
    bool answered;       /* it was: status written, killed, waiting to be reaped */
    int64_t cpu0_ns;     /* the child's CPU when the job was handed (its set-up is not the job's) */
    uint32_t flags;      /* enum zyg_status_flag */
    int wait_status;     /* of the user process */
    struct rusage ru;    /* of the user process */
    int64_t wall_us;     /* fork to reap */
    int slot;            /* cgroup slot, -1 = none */
    uint64_t oom_before; /* the slot OOM-kill count at start */
    char workdir[512];   /* removed when the job ends */
    /* Its timestamps (--timeline), NULL when off. */
    struct timeline_rec *tl;
};

struct zygote {
    const struct agent_cfg *cfg; /* borrowed */
    struct pyrt *rt;             /* the interpreter */
    int sock;                    /* to the agent */
    int sigfd;                   /* SIGCHLD, SIGTERM, SIGINT, SIGHUP */
    struct zygote_pidns pidns;   /* a PID namespace and its init per execution, when on */
    struct isolate *iso;         /* the layers, probed at start */
    struct zjob *jobs;           /* running jobs, and answered ones until reaped */
    size_t n_jobs, cap_jobs;
    size_t n_answered; /* of those, answered and not reaped yet */
    struct pollfd *pf; /* poll set: the agent, signals, compiling jobs' ctl */
    size_t cap_pf;
    struct zygote_warm warm;  /* children isolated ahead of need */
    struct zygote_sess *sess; /* sessions (zygote_sess.c), owned */
    int64_t stats_sent_ns;    /* when the last STATS went out */
    long thp_mib;             /* heap collapsed into huge pages at start, MiB */
    struct heap_hot hot;      /* pages every child copies, copied at once (--prefault) */
    bool stats_dirty;         /* the pool changed since */
    struct timeline tl;       /* --timeline: where each execution's time goes */
    struct zygote_cpu cpu;    /* CPU per execution, for /health */
};

/* Forks one child that isolates itself and waits on its control socket (child.c); with
 * session, a session's process (sess_child.c) named session, with memory_mb. 0 or -errno. */
int zygote_spawn_child(struct zygote *z, struct zygote_warm_child *w, long disk_mb,
                       const char *session, long memory_mb);
/* A child for one job alone (zygote_job_start): its disk size or workspace is fixed when it
 * isolates itself. 0 or -errno. */
int zygote_spawn_for(struct zygote *z, struct zygote_warm_child *w, const struct zyg_job *job,
                     const int fds[ZYG_JOB_NFDS]);

/* Jobs (zygote_job.c). */
/* Hands a JOB to a warm child (or one forked now); its fds are the caller's to close after. */
void zygote_job_start(struct zygote *z, const struct zyg_job *job, int fds[ZYG_JOB_NFDS]);
/* Job j's control socket is readable (or j was reaped): "R", "C", its end message, EOF. */
void zygote_job_on_ctl(struct zygote *z, struct zjob *j);
/* Kills every process of job j, with why among its flags. */
void zygote_job_kill(struct zygote *z, struct zjob *j, uint32_t why);
/* A reaped process: true when it was a job's child or init (its record goes out once both
 * are). */
bool zygote_job_reaped(struct zygote *z, pid_t pid, int status, const struct rusage *ru);
/* The earliest deadline, report or crash time of a running job (monotonic ns), or -1. */
int64_t zygote_job_next_deadline(const struct zygote *z);
/* Deadlines, the report grace and simulated crashes of running jobs at now. */
void zygote_job_check(struct zygote *z, int64_t now);

/* Writes the status record of a cell or job (and closes status_fd). */
void zygote_write_status(int status_fd, const struct zyg_status *st, uint64_t job_id);

/* Sessions (zygote_sess.c). */
struct zygote_sess *zygote_sess_new(void);
void zygote_sess_free(struct zygote_sess *s);
/* A SESS command from the agent. */
void zygote_sess_command(struct zygote *z, const struct zyg_sess_cmd *cmd, int fd);
/* A JOB with session_no: the cell goes to that session (fds taken: closed or kept). */
void zygote_sess_cell(struct zygote *z, const struct zyg_job *job, int fds[ZYG_JOB_NFDS]);
/* CANCEL for job_id: true when it was a session's cell (interrupted, then killed). */
bool zygote_sess_cancel(struct zygote *z, uint64_t job_id);
/* Adds the sessions' control sockets to the poll set (from *n, at most cap). */
void zygote_sess_pollfds(struct zygote *z, struct pollfd *pf, size_t *n, size_t cap);
/* How many control sockets sessions have (to size the poll set). */
size_t zygote_sess_nfds(const struct zygote *z);
/* fd is readable: true when it was a session's control socket (handled). */
bool zygote_sess_on_fd(struct zygote *z, int fd);
/* A reaped process: true when it was a session's (or a family's init). */
bool zygote_sess_reaped(struct zygote *z, pid_t pid, int status, const struct rusage *ru);
/* The earliest session deadline after now (monotonic ns), or -1. */
int64_t zygote_sess_next_deadline(const struct zygote *z);
/* Deadlines and grace periods of running cells. */
void zygote_sess_check(struct zygote *z, int64_t now);
/* The zygote is stopping: kills every session process and init. */
void zygote_sess_kill_all(struct zygote *z);
/* How many sessions are up (for STATS). */
size_t zygote_sess_count(const struct zygote *z);

#endif
