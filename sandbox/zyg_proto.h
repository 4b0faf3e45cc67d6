/* zyg_proto.h - the wire format between the HTTP process and the zygote.
 *
 * server -> zygote (SOCK_SEQPACKET, one message per datagram):
 *   JOB    header + struct zyg_job, with ZYG_JOB_NFDS fds attached (SCM_RIGHTS)
 *   CANCEL header + job id
 *   SESS   header + struct zyg_sess_cmd (new session, fork, kill, interrupt)
 * zygote -> server:
 *   SESS_EVENT header + struct zyg_sess_event (a session member is up, changed or gone)
 *   READY  header + JSON text describing the interpreter (sent once after preload)
 * zygote -> server, on the job's own status pipe (never visible to user code):
 *   one struct zyg_status record, written after every process of the execution is gone.
 * All integers little-endian on the wire; decode validates everything (the fuzzer calls it). */
#ifndef SANDPIT_ZYG_PROTO_H
#define SANDPIT_ZYG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define ZYG_MAGIC       0x4b545053u /* "SPTK" */
#define ZYG_HDR_SIZE    12
#define ZYG_MAX_MSG     65536
#define ZYG_EXEC_ID_MAX 40

/* With ZYG_JOB_NETWORK, the child listens on these loopback ports inside its own network
 * namespace (no other execution shares it) and hands the sockets to the proxy. */
#define ZYG_PROXY_PORT    3128 /* HTTP forward proxy: HTTP_PROXY / HTTPS_PROXY */
#define ZYG_UPSTREAM_PORT 3129 /* raw TCP forward to the scenario's upstream */

enum zyg_msg_type {
    ZYG_MSG_JOB = 1,
    ZYG_MSG_CANCEL = 2,
    ZYG_MSG_READY = 3,
    ZYG_MSG_STATS = 4,      /* zygote -> server: JSON with the warm pool's state */
    ZYG_MSG_SESS = 5,       /* server -> zygote: struct zyg_sess_cmd */
    ZYG_MSG_SESS_EVENT = 6, /* zygote -> server: struct zyg_sess_event */
};

/* The fds attached to a JOB message, in this order. */
enum zyg_job_fd {
    ZYG_FD_SPEC,   /* memfd with the JSON spec the harness reads */
    ZYG_FD_STDIN,  /* the execution's stdin (memfd or /dev/null) */
    ZYG_FD_STDOUT, /* write end of the stdout pipe */
    ZYG_FD_STDERR, /* write end of the stderr pipe */
    ZYG_FD_RESULT, /* write end of the harness result pipe */
    ZYG_FD_NET,    /* the proxy's channel when ZYG_JOB_NETWORK, else /dev/null */
    ZYG_FD_STATUS, /* write end of the status pipe; only the zygote ever holds it */
    ZYG_FD_WS,     /* with ZYG_JOB_WORKSPACE the workspace's detached tmpfs mount, else /dev/null */
    ZYG_JOB_NFDS
};

enum zyg_job_flag {
    ZYG_JOB_EXEC = 1u << 0,     /* an exec runtime (the spec says which), not the embedded Python */
    ZYG_JOB_NETWORK = 1u << 1,  /* listeners go to the proxy over ZYG_FD_NET */
    ZYG_JOB_CRASH = 1u << 2,    /* SIGSEGV after the code, or at crash_after_ms */
    ZYG_JOB_HIGH_CPU = 1u << 3, /* a busy companion process for the whole run */
    ZYG_JOB_LEAK = 1u << 4,     /* a companion allocator growing at leak_mb_s */
    ZYG_JOB_WORKSPACE = 1u << 5, /* ZYG_FD_WS becomes the working directory (a child of its own) */
};

/* Scenario values are 0 when not asked for (the agent's defaults apply). */
struct zyg_job {
    uint64_t job_id;               /* the server's sequence number, used by CANCEL */
    uint32_t timeout_ms;           /* wall-clock limit of the run */
    uint32_t flags;                /* enum zyg_job_flag */
    uint32_t compile_ms;           /* limit of the compile phase; 0 = nothing to compile */
    uint32_t delay_ms;             /* artificialDelayMs: the start is held back this long */
    uint32_t crash_after_ms;       /* with ZYG_JOB_CRASH: when; 0 = after the code */
    uint32_t leak_mb_s;            /* with ZYG_JOB_LEAK: growth rate, MiB/s */
    uint32_t cpu_millis;           /* cpuLimit in thousandths of a core */
    uint32_t memory_mb;            /* memoryLimitMb */
    uint32_t pids;                 /* pidsLimit */
    uint32_t disk_mb;              /* diskLimitMb: size of the private /tmp */
    uint32_t ws_uid;               /* with ZYG_JOB_WORKSPACE: the workspace's uid index */
    char exec_id[ZYG_EXEC_ID_MAX]; /* NUL-terminated; names the working directory */
    uint64_t session_no;           /* run as a cell of this session; 0 = a fresh child */
};

/* Sessions (docs/sessions.md): long-lived children that run one cell after another. */
enum zyg_sess_op {
    ZYG_SESS_NEW = 1,       /* fork a session from the zygote, isolated like an execution */
    ZYG_SESS_FORK = 2,      /* copy-on-write fork of sess_no's state into new_no */
    ZYG_SESS_KILL = 3,      /* end it (and nothing else of its family) */
    ZYG_SESS_INTERRUPT = 4, /* KeyboardInterrupt in cell new_no (now, or when it arrives) */
};

enum zyg_sess_flag {
    ZYG_SESS_CHECKPOINT = 1u << 0, /* NEW: each cell runs in a fork, kept if it completes */
    ZYG_SESS_SHARE_WS = 1u << 1,   /* FORK: the copy works in the same workspace (checkpoint) */
};

struct zyg_sess_cmd {
    uint32_t op;                /* enum zyg_sess_op */
    uint32_t flags;             /* enum zyg_sess_flag (NEW) */
    uint64_t sess_no;           /* the server's number for the session */
    uint64_t new_no;            /* FORK: the copy's number; INTERRUPT: the cell's job id */
    uint32_t memory_mb, pids;   /* NEW: cgroup limits, 0 = the agent's */
    uint32_t disk_mb;           /* NEW: size of the family's private /tmp, 0 = the agent's */
    char name[ZYG_EXEC_ID_MAX]; /* NEW, FORK: names the workspace directory */
};

enum zyg_sess_kind {
    ZYG_SEV_UP = 1,   /* the session's process runs (pid, uid) */
    ZYG_SEV_HEAD = 2, /* a checkpoint cell completed: its fork is now the session (pid) */
    ZYG_SEV_DEAD = 3, /* gone: flags (enum zyg_status_flag) and wait_status say why */
};

struct zyg_sess_event {
    uint32_t kind;       /* enum zyg_sess_kind */
    uint32_t flags;      /* DEAD: enum zyg_status_flag bits */
    uint64_t sess_no;    /* which session */
    int32_t pid;         /* its process, in the agent's PID namespace */
    uint32_t uid;        /* the uid it runs as (its workspace's owner) */
    int32_t wait_status; /* DEAD: of the session's process, when known */
    int32_t err;         /* DEAD before UP: errno of the failed start */
};

enum zyg_status_flag {
    ZYG_ST_TIMED_OUT = 1u << 0,    /* killed at the deadline */
    ZYG_ST_CANCELLED = 1u << 1,    /* killed on request */
    ZYG_ST_SPAWN_FAILED = 1u << 2, /* never ran; err holds the errno */
    ZYG_ST_OOM = 1u << 3,          /* the memory cgroup killed a process of the execution */
    ZYG_ST_COMPILING = 1u << 4,    /* with TIMED_OUT: the compile phase overran its limit */
    ZYG_ST_SETUP_FAILED = 1u << 5, /* the child died isolating itself: no user code ran */
    ZYG_ST_PROTOCOL = 1u << 6,     /* a session claimed its cell's end yet held its streams, or a
                                    * program wrote on its control socket something else than
                                    * its end */
    ZYG_ST_EARLY = 1u << 7,        /* answered on the child's end message ("E" + its exit code)
                                    * and killed then, before its teardown: the exit status is
                                    * the one it claimed (docs/performance.md) */
};

struct zyg_status {
    int32_t wait_status; /* raw wait status of the user process */
    uint32_t flags;      /* enum zyg_status_flag bits */
    int32_t err;         /* errno when ZYG_ST_SPAWN_FAILED */
    int64_t cpu_us;      /* user + system CPU of the execution's main process */
    int64_t max_rss_kb;  /* peak RSS of that process */
    int64_t wall_us;     /* job handed to reap, or to the early answer */
};

#define ZYG_STATUS_SIZE 40

/* Encoders write into out (size >= needed) and return the bytes written, or -ENOBUFS. */
int zyg_proto_encode_job(const struct zyg_job *job, uint8_t *out, size_t size);
int zyg_proto_encode_cancel(uint64_t job_id, uint8_t *out, size_t size);
int zyg_proto_encode_ready(const char *json, size_t len, uint8_t *out, size_t size);
/* A message of type READY or STATS carrying JSON text. */
int zyg_proto_encode_text(int type, const char *json, size_t len, uint8_t *out, size_t size);
int zyg_proto_encode_status(const struct zyg_status *st, uint8_t *out, size_t size);

/* Decodes a message header; returns the type, or -EBADMSG. body and body_len borrow buf. */
int zyg_proto_decode_hdr(const uint8_t *buf, size_t len, const uint8_t **body, size_t *body_len);
/* Decode bodies; 0 or -EBADMSG (wrong size, unterminated exec id, bad characters). */
int zyg_proto_decode_job(const uint8_t *body, size_t len, struct zyg_job *job);
int zyg_proto_decode_cancel(const uint8_t *body, size_t len, uint64_t *job_id);
int zyg_proto_decode_status(const uint8_t *buf, size_t len, struct zyg_status *st);
/* Sessions: encoders like the others; decoders 0 or -EBADMSG (a NEW or FORK name checked as an
 * exec id is). */
int zyg_proto_encode_sess_cmd(const struct zyg_sess_cmd *c, uint8_t *out, size_t size);
int zyg_proto_decode_sess_cmd(const uint8_t *body, size_t len, struct zyg_sess_cmd *c);
int zyg_proto_encode_sess_event(const struct zyg_sess_event *ev, uint8_t *out, size_t size);
int zyg_proto_decode_sess_event(const uint8_t *body, size_t len, struct zyg_sess_event *ev);

/* The execution's working directory, <work_dir>/<exec_id>, into out (the agent names it in the
 * spec; the zygote or the child creates it; one definition for the three processes). 0, or
 * -ENAMETOOLONG when it does not fit (out then holds it cut). */
int zyg_proto_workdir(const char *work_dir, const char *exec_id, char *out, size_t size);

#endif
