/* isolate.c - namespaces, mounts, cgroups, credentials and seccomp for one execution.
 *
 * Order in the child (each step needs the privileges the next one drops):
 *   join the slot's cgroups (writes "0" to cgroup.procs: this process, before it can fork)
 *   unshare mount, IPC, UTS and network namespaces
 *   mounts: everything private; tmpfs on /tmp (the working directory is created inside it,
 *           so no other execution's files are visible and nothing outlives the namespace);
 *           tmpfs on the work root when it is not under /tmp; empty tmpfs over the state dir;
 *           fresh /dev/shm; /proc of the execution's own PID namespace; / read-only
 *   loopback up, hostname "sandpit"
 *   drop to the sandbox uid/gid with no supplementary groups and no capabilities
 * and, after no_new_privs, the seccomp filter, compiled to BPF once in the zygote. */
#include "isolate.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"

#define ISOLATE_CG_ROOT   "/sys/fs/cgroup"
#define ISOLATE_CG_PARENT "sandpit"
#define ISO_MAX_HIDE      4

/* The new mount API (Linux 5.2); glibc 2.36 has no wrappers for these two. */
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

enum isolate_layer {
    ISO_MOUNT_NS,
    ISO_IPC_UTS_NS,
    ISO_NET_NS,
    ISO_LOOPBACK,
    ISO_CGROUP_MEMORY,
    ISO_CGROUP_PIDS,
    ISO_CGROUP_CPU,
    ISO_UID_DROP,
    ISO_SECCOMP,
    ISO_NLAYERS
};
static const char *const isolate_names[ISO_NLAYERS] = {
    "mount_namespace",  "ipc_uts_namespaces", "network_namespace",
    "network_loopback", "cgroup_memory",      "cgroup_pids",
    "cgroup_cpu",       "uid_drop",           "seccomp"};

struct isolate {
    const struct agent_cfg *cfg;
    bool on[ISO_NLAYERS];
    char reason[ISO_NLAYERS][256];
    char hide[ISO_MAX_HIDE][PATH_MAX]; /* our directories, covered inside executions */
    int n_hide;
    char inst[24]; /* this zygote's cgroup instance, "z<pid>" */
    uid_t uid;     /* sandbox user when dropping */
    gid_t gid;
    bool drop_uid;          /* root with a sandbox user: executions drop, or fail if they cannot */
    struct sock_fprog prog; /* the seccomp filter as BPF (filter owned) */
    unsigned char *slot_used; /* max_concurrent entries */
    long (*slot_lim)[3];      /* per slot: memory MiB, pids, CPU millis as last written */
    int n_slots;
    char tmp_size[32];     /* tmpfs size= option for /tmp */
    char expose[PATH_MAX]; /* our tools under /tmp, kept visible in the private /tmp, or "" */
};

/* Switches layer l off with the reason "<what>: <strerror(err)>". */
static void isolate_off(struct isolate *iso, enum isolate_layer l, const char *what, int err)
{
    char eb[64];

    iso->on[l] = false;
    snprintf(iso->reason[l], sizeof(iso->reason[l]), "%.180s: %s", what,
             strerror_r(err, eb, sizeof(eb)));
}

/* Writes s to path; 0 or -errno. */
static int isolate_write(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

    if (fd < 0)
        return -errno;
    if (fdio_write_all(fd, s, strlen(s)) < 0)
        r = -errno;
    close(fd);
    return r;
}

/* <root>/<ctrl>/sandpit/<instance>[/slotN][/file]. slot -1 names the instance's directory.
 * Each zygote has its own instance ("z<pid>"): two agents on one host must never share a
 * slot's limits, counters or OOM count. */
static void isolate_cg_path(const struct isolate *iso, char *out, size_t size, const char *ctrl,
                            int slot, const char *file)
{
    int n = snprintf(out, size, ISOLATE_CG_ROOT "/%s/" ISOLATE_CG_PARENT "/%s", ctrl, iso->inst);

    if (n > 0 && slot >= 0 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, "/slot%d", slot);
    if (n > 0 && file && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, "/%s", file);
}

/* Removes an instance directory and its (empty) slots; cgroup dirs go with rmdir, not unlink. */
static void isolate_cg_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];

    if (d) {
        while ((de = readdir(d))) {
            if (strncmp(de->d_name, "slot", 4) != 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            (void)rmdir(path);
        }
        closedir(d);
    }
    (void)rmdir(dir);
}

/* Drops the instances of zygotes that no longer exist (a crashed agent leaves them behind). */
static void isolate_cg_sweep(const char *parent)
{
    DIR *d = opendir(parent);
    struct dirent *de;
    char path[512];

    if (!d)
        return;
    while ((de = readdir(d))) {
        long pid;

        if (!strncmp(de->d_name, "slot", 4)) {
            /* Slots of the earlier, shared layout: rmdir succeeds only when empty. */
            snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);
            (void)rmdir(path);
            continue;
        }
        if (de->d_name[0] != 'z' || (pid = strtol(de->d_name + 1, NULL, 10)) <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);
        isolate_cg_remove(path);
    }
    closedir(d);
}

/* Creates <ctrl>/sandpit/<instance>, sweeping dead instances, and checks we can write there. */
static void isolate_probe_cgroup(struct isolate *iso, enum isolate_layer l, const char *ctrl)
{
    char parent[256], path[256];

    iso->on[l] = true;
    if (geteuid() != 0) {
        iso->on[l] = false;
        snprintf(iso->reason[l], sizeof(iso->reason[l]), "not running as root");
        return;
    }
    snprintf(parent, sizeof(parent), ISOLATE_CG_ROOT "/%s/" ISOLATE_CG_PARENT, ctrl);
    if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
        isolate_off(iso, l, parent, errno);
        return;
    }
    isolate_cg_sweep(parent);
    isolate_cg_path(iso, path, sizeof(path), ctrl, -1, NULL);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        isolate_off(iso, l, path, errno);
    else if (access(path, W_OK) < 0)
        isolate_off(iso, l, path, errno);
}

/* Sets the limits of one slot (created on first use, then reused). */
static int isolate_slot_prepare(struct isolate *iso, int slot)
{
    char path[256], val[64];
    int r;

    if (iso->on[ISO_CGROUP_MEMORY]) {
        isolate_cg_path(iso, path, sizeof(path), "memory", slot, NULL);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -errno;
        isolate_cg_path(iso, path, sizeof(path), "memory", slot, "memory.limit_in_bytes");
        snprintf(val, sizeof(val), "%ld", iso->cfg->memory_mb << 20);
        if ((r = isolate_write(path, val)) < 0)
            return r;
        /* Swap would let a memory bomb crawl instead of being stopped. */
        isolate_cg_path(iso, path, sizeof(path), "memory", slot, "memory.swappiness");
        (void)isolate_write(path, "0");
    }
    if (iso->on[ISO_CGROUP_PIDS]) {
        isolate_cg_path(iso, path, sizeof(path), "pids", slot, NULL);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -errno;
        isolate_cg_path(iso, path, sizeof(path), "pids", slot, "pids.max");
        snprintf(val, sizeof(val), "%ld", iso->cfg->pids_limit);
        if ((r = isolate_write(path, val)) < 0)
            return r;
    }
    if (iso->on[ISO_CGROUP_CPU]) {
        isolate_cg_path(iso, path, sizeof(path), "cpu", slot, NULL);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -errno;
        isolate_cg_path(iso, path, sizeof(path), "cpu", slot, "cpu.cfs_period_us");
        (void)isolate_write(path, "100000");
        isolate_cg_path(iso, path, sizeof(path), "cpu", slot, "cpu.cfs_quota_us");
        (void)isolate_write(path, "-1");
    }
    iso->slot_lim[slot][0] = iso->cfg->memory_mb;
    iso->slot_lim[slot][1] = iso->cfg->pids_limit;
    iso->slot_lim[slot][2] = 0;
    return 0;
}

int isolate_slot_limits(struct isolate *iso, int slot, long memory_mb, long pids, long cpu_millis)
{
    static const char *const ctrl[3] = {"memory", "pids", "cpu"};
    static const char *const file[3] = {"memory.limit_in_bytes", "pids.max", "cpu.cfs_quota_us"};
    static const enum isolate_layer layer[3] = {ISO_CGROUP_MEMORY, ISO_CGROUP_PIDS, ISO_CGROUP_CPU};
    long want[3] = {memory_mb > 0 ? memory_mb : iso->cfg->memory_mb,
                    pids > 0 ? pids : iso->cfg->pids_limit, cpu_millis > 0 ? cpu_millis : 0};
    char path[256], val[64];
    int r = 0;

    if (slot < 0 || slot >= iso->n_slots)
        return -EINVAL;
    /* Written only when they change: most executions keep the defaults. */
    for (int i = 0; i < 3; i++) {
        if (!iso->on[layer[i]] || iso->slot_lim[slot][i] == want[i])
            continue;
        isolate_cg_path(iso, path, sizeof(path), ctrl[i], slot, file[i]);
        if (i == 0)
            snprintf(val, sizeof(val), "%ld", want[i] << 20);
        else if (i == 2)
            snprintf(val, sizeof(val), "%ld", want[i] ? want[i] * 100 : -1L); /* of 100 ms */
        else
            snprintf(val, sizeof(val), "%ld", want[i]);
        if (isolate_write(path, val) < 0) {
            r = -errno;
            continue;
        }
        iso->slot_lim[slot][i] = want[i];
    }
    return r;
}

bool isolate_has_memory_cgroup(const struct isolate *iso)
{
    return iso->on[ISO_CGROUP_MEMORY];
}

int isolate_slot_take(struct isolate *iso)
{
    if (!iso->on[ISO_CGROUP_MEMORY] && !iso->on[ISO_CGROUP_PIDS] && !iso->on[ISO_CGROUP_CPU])
        return -1;
    /* Prefer a slot prepared earlier (state 1) over creating one (state 0). */
    for (int i = 0; i < iso->n_slots; i++) {
        if (iso->slot_used[i] == 1) {
            iso->slot_used[i] = 2;
            return i;
        }
    }
    for (int i = 0; i < iso->n_slots; i++) {
        if (iso->slot_used[i] == 0) {
            if (isolate_slot_prepare(iso, i) < 0)
                return -1;
            iso->slot_used[i] = 2;
            return i;
        }
    }
    return -1;
}

void isolate_slot_give(struct isolate *iso, int slot)
{
    /* 1 = prepared and free: reused before a new one is created. */
    if (slot >= 0 && slot < iso->n_slots)
        iso->slot_used[slot] = 1;
}

bool isolate_has_mount_ns(const struct isolate *iso)
{
    return iso->on[ISO_MOUNT_NS];
}

void isolate_chown_sandbox(const struct isolate *iso, const char *path)
{
    if (iso->drop_uid)
        (void)!chown(path, iso->uid, iso->gid);
}

uint64_t isolate_slot_oom_kills(const struct isolate *iso, int slot)
{
    char path[256], buf[512], *p;
    int fd;
    ssize_t n;

    if (slot < 0 || !iso->on[ISO_CGROUP_MEMORY])
        return 0;
    isolate_cg_path(iso, path, sizeof(path), "memory", slot, "memory.oom_control");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    p = strstr(buf, "oom_kill ");
    return p ? strtoull(p + 9, NULL, 10) : 0;
}

/* Compiles the filter: default allow, the dangerous calls fail with EPERM (code keeps running
 * and can report it), clone3 with ENOSYS (its flags cannot be inspected; libc falls back to
 * clone, whose namespace flags we can refuse), sockets other than AF_UNIX, AF_INET and
 * AF_INET6 refused (netlink, packet, vsock...: kernel surface no program needs; inet sockets
 * only reach the execution's own loopback, or the proxy when it was given network). */
static int isolate_compile_seccomp(struct isolate *iso, char *why, size_t why_len)
{
    static const char *const denied[] = {"ptrace",
                                         "mount",
                                         "umount",
                                         "umount2",
                                         "pivot_root",
                                         "unshare",
                                         "setns",
                                         "kexec_load",
                                         "kexec_file_load",
                                         "init_module",
                                         "finit_module",
                                         "delete_module",
                                         "bpf",
                                         "perf_event_open",
                                         "keyctl",
                                         "add_key",
                                         "request_key",
                                         "userfaultfd",
                                         "io_uring_setup",
                                         "io_uring_enter",
                                         "io_uring_register",
                                         "process_vm_readv",
                                         "process_vm_writev",
                                         "open_by_handle_at",
                                         "name_to_handle_at",
                                         "reboot",
                                         "swapon",
                                         "swapoff",
                                         "clock_settime",
                                         "clock_adjtime",
                                         "settimeofday",
                                         "stime",
                                         "acct",
                                         "quotactl",
                                         "lookup_dcookie",
                                         "vhangup",
                                         "syslog",
                                         "fanotify_init",
                                         "move_mount",
                                         "open_tree",
                                         "fsopen",
                                         "fsconfig",
                                         "fsmount",
                                         "fspick",
                                         "mount_setattr",
                                         "chroot"};
    const uint64_t ns_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                              CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    char *bpf = NULL;
    size_t len = 0;
    int fd = -1, r = -ENOMEM;

    if (!ctx)
        goto out;
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);

        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0)
            goto out;
    }
    if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0 ||
        (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_GT, AF_INET6))) < 0)
        goto out;
    /* One rule per refused family below AF_INET6 (one comparison per argument and rule). */
    for (int fam = 0; fam < AF_INET6; fam++) {
        if (fam == AF_UNIX || fam == AF_INET)
            continue;
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                                  SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fam))) < 0)
            goto out;
    }
    /* clone with any namespace flag: one rule per flag (MASKED_EQ(flag, flag)). */
    for (int b = 0; b < 64; b++) {
        uint64_t bit = 1ULL << b;

        if (!(ns_flags & bit))
            continue;
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit))) < 0)
            goto out;
    }
    fd = memfd_create("seccomp", MFD_CLOEXEC);
    if (fd < 0 || (r = seccomp_export_bpf(ctx, fd)) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
        (r = fdio_read_all(fd, 1 << 20, &bpf, &len)) < 0) {
        r = r < 0 ? r : -errno;
        goto out;
    }
    iso->prog.len = (unsigned short)(len / sizeof(struct sock_filter));
    iso->prog.filter = (struct sock_filter *)bpf;
    bpf = NULL;
    r = 0;
out:
    if (r < 0)
        snprintf(why, why_len, "compiling the filter: %s", strerror(-r));
    free(bpf);
    fdio_close(&fd);
    if (ctx)
        seccomp_release(ctx);
    return r;
}

/* Runs fn(iso, arg) in a throwaway child (the zygote is still small here): 0, or the errno
 * fn failed with. */
static int isolate_probe_child(int (*fn)(const struct isolate *, int), const struct isolate *iso,
                               int arg)
{
    int st = 0;
    pid_t pid = fork();

    if (pid == 0)
        _exit(-fn(iso, arg));
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
}

static int isolate_try_unshare(const struct isolate *iso, int flags)
{
    (void)iso;
    return unshare(flags) < 0 ? -errno : 0;
}

/* Brings up lo in the current network namespace: 0 or -errno (EPERM without NET_ADMIN). */
static int isolate_loopback_up(void)
{
    struct ifreq ifr = {0};
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

    if (s < 0)
        return -errno;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        r = -errno;
    } else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
            r = -errno;
    }
    close(s);
    return r;
}

static int isolate_try_loopback(const struct isolate *iso, int unused)
{
    (void)unused;
    return isolate_try_unshare(iso, CLONE_NEWNET) < 0 ? -errno : isolate_loopback_up();
}

static int isolate_try_uid_drop(const struct isolate *iso, int unused)
{
    (void)unused;
    if (setgroups(0, NULL) < 0 || setresgid(iso->gid, iso->gid, iso->gid) < 0 ||
        setresuid(iso->uid, iso->uid, iso->uid) < 0)
        return -errno;
    return 0;
}

/* The namespaces, and lo in a new network namespace (needs NET_ADMIN: without it executions
 * have no 127.0.0.1, and network scenarios no way to their proxy). */
static void isolate_probe_namespaces(struct isolate *iso)
{
    static const struct {
        enum isolate_layer l;
        int flags;
    } probes[] = {{ISO_MOUNT_NS, CLONE_NEWNS},
                  {ISO_IPC_UTS_NS, CLONE_NEWIPC | CLONE_NEWUTS},
                  {ISO_NET_NS, CLONE_NEWNET}};
    int err;

    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        err = isolate_probe_child(isolate_try_unshare, iso, probes[i].flags);
        iso->on[probes[i].l] = err == 0;
        if (err)
            isolate_off(iso, probes[i].l, "unshare", err);
    }
    if (!iso->on[ISO_NET_NS]) {
        snprintf(iso->reason[ISO_LOOPBACK], sizeof(iso->reason[0]),
                 "no network namespace: executions share the agent's network");
        return;
    }
    err = isolate_probe_child(isolate_try_loopback, iso, 0);
    iso->on[ISO_LOOPBACK] = err == 0;
    if (err)
        isolate_off(iso, ISO_LOOPBACK,
                    "bringing lo up in an execution's network namespace (127.0.0.1 is unreachable "
                    "there, network scenarios cannot reach their proxy)",
                    err);
}

/* Directories that must stay visible: covering one of them would hide the system. */
static bool isolate_is_system_dir(const char *d)
{
    static const char *const sys[] = {"/",          "/usr", "/usr/lib", "/usr/local", "/usr/bin",
                                      "/usr/share", "/opt", "/lib",     "/bin",       "/etc",
                                      "/tmp",       "/var", "/home",    "/root",      NULL};

    for (int i = 0; sys[i]; i++) {
        if (!strcmp(d, sys[i]))
            return true;
    }
    return !strncmp(d, "/usr/lib/python", 15) || !strncmp(d, "/proc", 5) || !strncmp(d, "/sys", 4);
}

struct isolate *isolate_new(const struct agent_cfg *cfg, const char *const hide[],
                            const char *expose)
{
    struct isolate *iso = calloc(1, sizeof(*iso));
    char why[128] = "";

    if (!iso)
        return NULL;
    iso->cfg = cfg;
    /* Warm children hold a slot while they wait. */
    iso->n_slots = (int)(cfg->max_concurrent + cfg->warm_pool);
    iso->slot_used = calloc((size_t)iso->n_slots, 1);
    iso->slot_lim = calloc((size_t)iso->n_slots, sizeof(*iso->slot_lim));
    if (!iso->slot_used || !iso->slot_lim) {
        free(iso->slot_used);
        free(iso->slot_lim);
        free(iso);
        return NULL;
    }
    snprintf(iso->tmp_size, sizeof(iso->tmp_size), "size=%ldm", cfg->disk_mb);
    for (int i = 0; hide && hide[i] && iso->n_hide < ISO_MAX_HIDE; i++) {
        char real[PATH_MAX];

        bool covered = false;

        if (!realpath(hide[i], real) || isolate_is_system_dir(real))
            continue;
        /* Inside a directory already hidden: covered (and no longer a mount point we can
         * reach). A parent of one already listed replaces it. */
        for (int k = 0; k < iso->n_hide; k++) {
            size_t lk = strlen(iso->hide[k]), lr = strlen(real);

            if (!strncmp(real, iso->hide[k], lk) && (real[lk] == '/' || real[lk] == '\0'))
                covered = true;
            else if (!strncmp(iso->hide[k], real, lr) && iso->hide[k][lr] == '/') {
                snprintf(iso->hide[k], sizeof(iso->hide[0]), "%s", real);
                covered = true;
            }
        }
        if (!covered)
            snprintf(iso->hide[iso->n_hide++], sizeof(iso->hide[0]), "%s", real);
    }
    {
        char real[PATH_MAX];

        bool covered = false;

        /* Only a directory under /tmp or under one we hide needs it: elsewhere the read-only
         * root shows it. */
        if (expose && *expose && realpath(expose, real)) {
            covered = !strncmp(real, "/tmp/", 5);
            for (int k = 0; k < iso->n_hide; k++) {
                size_t lk = strlen(iso->hide[k]);

                if (!strncmp(real, iso->hide[k], lk) && real[lk] == '/')
                    covered = true;
            }
        }
        if (covered)
            snprintf(iso->expose, sizeof(iso->expose), "%s", real);
    }
    snprintf(iso->inst, sizeof(iso->inst), "z%d", (int)getpid());
    isolate_probe_namespaces(iso);
    isolate_probe_cgroup(iso, ISO_CGROUP_MEMORY, "memory");
    isolate_probe_cgroup(iso, ISO_CGROUP_PIDS, "pids");
    isolate_probe_cgroup(iso, ISO_CGROUP_CPU, "cpu");

    iso->on[ISO_UID_DROP] = false;
    if (geteuid() != 0) {
        snprintf(iso->reason[ISO_UID_DROP], sizeof(iso->reason[0]),
                 "the agent does not run as root: executions keep its uid %d", (int)geteuid());
    } else {
        struct passwd *pw = getpwnam(cfg->sandbox_user);

        if (!pw) {
            snprintf(iso->reason[ISO_UID_DROP], sizeof(iso->reason[0]), "user '%s' does not exist",
                     cfg->sandbox_user);
        } else if (pw->pw_uid == 0) {
            snprintf(iso->reason[ISO_UID_DROP], sizeof(iso->reason[0]),
                     "--sandbox-user '%s' is root", cfg->sandbox_user);
        } else {
            int err;

            iso->uid = pw->pw_uid;
            iso->gid = pw->pw_gid;
            iso->drop_uid = true;
            /* Root without CAP_SETUID/SETGID (a container started with too few capabilities)
             * cannot drop: executions are refused at their set-up rather than run as root,
             * and /health says why. */
            err = isolate_probe_child(isolate_try_uid_drop, iso, 0);
            iso->on[ISO_UID_DROP] = err == 0;
            if (err) {
                char what[96];

                snprintf(what, sizeof(what), "dropping to uid %d", (int)iso->uid);
                isolate_off(iso, ISO_UID_DROP, what, err);
            }
        }
    }
    iso->on[ISO_SECCOMP] = cfg->seccomp && isolate_compile_seccomp(iso, why, sizeof(why)) == 0;
    if (!iso->on[ISO_SECCOMP])
        snprintf(iso->reason[ISO_SECCOMP], sizeof(iso->reason[0]), "%s",
                 cfg->seccomp ? why : "disabled by --seccomp=false");
    for (int l = 0; l < ISO_NLAYERS; l++) {
        if (!iso->on[l])
            log_warn("isolation layer %s is OFF: %s", isolate_names[l], iso->reason[l]);
    }
    return iso;
}

void isolate_free(struct isolate *iso)
{
    char path[256];

    if (!iso)
        return;
    /* Every process of ours is gone by now (the zygote reaps them first): the slots are empty
     * and can be removed. */
    if (iso->on[ISO_CGROUP_MEMORY]) {
        isolate_cg_path(iso, path, sizeof(path), "memory", -1, NULL);
        isolate_cg_remove(path);
    }
    if (iso->on[ISO_CGROUP_PIDS]) {
        isolate_cg_path(iso, path, sizeof(path), "pids", -1, NULL);
        isolate_cg_remove(path);
    }
    if (iso->on[ISO_CGROUP_CPU]) {
        isolate_cg_path(iso, path, sizeof(path), "cpu", -1, NULL);
        isolate_cg_remove(path);
    }
    free(iso->prog.filter);
    free(iso->slot_used);
    free(iso->slot_lim);
    free(iso);
}

json_t *isolate_report(const struct isolate *iso)
{
    json_t *o = json_object();

    for (int l = 0; o && l < ISO_NLAYERS; l++) {
        json_t *v = json_pack("{s:b}", "on", iso->on[l]);

        if (v && !iso->on[l])
            json_object_set_new(v, "reason", json_string(iso->reason[l]));
        /* Root that cannot drop to the sandbox user refuses every execution (never runs it as
         * root): the agent is not usable, and says so. */
        if (v && l == ISO_UID_DROP && iso->drop_uid && !iso->on[l])
            json_object_set_new(v, "refuses_executions", json_true());
        json_object_set_new(o, isolate_names[l], v);
    }
    return o;
}

/* The mounts of the private view. Runs inside the new mount namespace. */
static int isolate_mounts(const struct isolate *iso, long disk_mb, char *why, size_t why_len)
{
    const char *work_root = iso->cfg->work_dir, *state = iso->cfg->state_dir;
    const unsigned long nsd = MS_NOSUID | MS_NODEV;
    char opts[64];
    int tools = -1, r;
    bool hidden[ISO_MAX_HIDE] = {false};

#define ISO_TRY(call, what)                                                                        \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            int e_ = errno;                                                                        \
            snprintf(why, why_len, "%s: %s", what, strerror(e_));                                  \
            return -e_;                                                                            \
        }                                                                                          \
    } while (0)

    ISO_TRY(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "making mounts private");
    /* A detached copy of our tools directory, taken before /tmp is covered, attached again at
     * the same path inside the private /tmp below. */
    if (iso->expose[0])
        ISO_TRY(tools = (int)syscall(SYS_open_tree, AT_FDCWD, iso->expose,
                                     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE),
                "copying the tools directory");
    if (disk_mb > 0)
        snprintf(opts, sizeof(opts), "size=%ldm,mode=1777", disk_mb);
    else
        snprintf(opts, sizeof(opts), "%s,mode=1777", iso->tmp_size);
    ISO_TRY(mount("tmpfs", "/tmp", "tmpfs", nsd, opts), "tmpfs on /tmp");
    if (strncmp(work_root, "/tmp/", 5) != 0)
        ISO_TRY(mount("tmpfs", work_root, "tmpfs", nsd, opts), "tmpfs on the work root");
    if (state && *state && strncmp(state, "/tmp/", 5) != 0 && access(state, F_OK) == 0)
        ISO_TRY(mount("tmpfs", state, "tmpfs", nsd | MS_RDONLY, "size=4k,mode=0"),
                "hiding the state dir");
    /* The work root inside the fresh tmpfs, owned by the sandbox user, who creates the
     * working directory in it once the job is known: nothing of other executions is visible,
     * and it all disappears with the namespace. */
    {
        char path[512];

        snprintf(path, sizeof(path), "%s/", work_root);
        for (char *p = path + 1; *p; p++) {
            if (*p == '/') {
                *p = '\0';
                (void)mkdir(path, 0755);
                *p = '/';
            }
        }
        if (iso->drop_uid)
            ISO_TRY(chown(work_root, iso->uid, iso->gid), "chown of the work root");
    }
    /* Nothing of the agent's own files: the harness (already imported by the zygote) and the
     * binaries disappear under empty read-only tmpfs mounts. */
    for (int i = 0; i < iso->n_hide; i++) {
        /* Gone already (e.g. under /tmp, which is a fresh tmpfs now): nothing to cover. */
        if (access(iso->hide[i], F_OK) != 0)
            continue;
        ISO_TRY(mount("tmpfs", iso->hide[i], "tmpfs", nsd, "size=4k,mode=0555"),
                "hiding the agent's files");
        hidden[i] = true;
    }
    /* Our tools, back at their own path inside whatever covered them. */
    if (tools >= 0) {
        char path[PATH_MAX + 1];

        snprintf(path, sizeof(path), "%s/", iso->expose);
        for (char *p = path + 1; *p; p++) {
            if (*p == '/') {
                *p = '\0';
                (void)mkdir(path, 0755);
                *p = '/';
            }
        }
        r = (int)syscall(SYS_move_mount, tools, "", AT_FDCWD, iso->expose, MOVE_MOUNT_F_EMPTY_PATH);
        close(tools);
        ISO_TRY(r, "attaching the tools directory");
        ISO_TRY(mount(NULL, iso->expose, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | nsd, NULL),
                "making the tools directory read-only");
    }
    for (int i = 0; i < iso->n_hide; i++) {
        if (hidden[i])
            ISO_TRY(mount(NULL, iso->hide[i], NULL, MS_REMOUNT | MS_RDONLY | nsd, NULL),
                    "making the hidden directories read-only");
    }
    if (access("/dev/shm", F_OK) == 0)
        ISO_TRY(mount("tmpfs", "/dev/shm", "tmpfs", nsd, "size=64m,mode=1777"), "/dev/shm");
    /* /proc of our own PID namespace (we are pid 2 there): no other process is visible. */
    ISO_TRY(mount("proc", "/proc", "proc", nsd | MS_NOEXEC, NULL), "/proc");
    /* System directories read-only: a remount of the root bind in this namespace only. */
    ISO_TRY(mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | nsd, NULL), "read-only root");
#undef ISO_TRY
    return 0;
}

int isolate_enter(const struct isolate *iso, int slot, long disk_mb, char *why, size_t why_len)
{
    int flags = 0, r;
    char path[256];

    if (slot >= 0) {
        if (iso->on[ISO_CGROUP_MEMORY]) {
            isolate_cg_path(iso, path, sizeof(path), "memory", slot, "cgroup.procs");
            if ((r = isolate_write(path, "0")) < 0) {
                snprintf(why, why_len, "joining the memory cgroup: %s", strerror(-r));
                return r;
            }
        }
        if (iso->on[ISO_CGROUP_PIDS]) {
            isolate_cg_path(iso, path, sizeof(path), "pids", slot, "cgroup.procs");
            if ((r = isolate_write(path, "0")) < 0) {
                snprintf(why, why_len, "joining the pids cgroup: %s", strerror(-r));
                return r;
            }
        }
        if (iso->on[ISO_CGROUP_CPU]) {
            isolate_cg_path(iso, path, sizeof(path), "cpu", slot, "cgroup.procs");
            if ((r = isolate_write(path, "0")) < 0) {
                snprintf(why, why_len, "joining the cpu cgroup: %s", strerror(-r));
                return r;
            }
        }
    }
    if (iso->on[ISO_MOUNT_NS])
        flags |= CLONE_NEWNS;
    if (iso->on[ISO_IPC_UTS_NS])
        flags |= CLONE_NEWIPC | CLONE_NEWUTS;
    if (iso->on[ISO_NET_NS])
        flags |= CLONE_NEWNET;
    if (flags && unshare(flags) < 0) {
        r = -errno;
        snprintf(why, why_len, "unshare: %s", strerror(errno));
        return r;
    }
    if (iso->on[ISO_MOUNT_NS] && (r = isolate_mounts(iso, disk_mb, why, why_len)) < 0)
        return r;
    if (iso->on[ISO_NET_NS])
        (void)isolate_loopback_up(); /* the probe reports it; a failure here is the same */
    if (iso->on[ISO_IPC_UTS_NS])
        (void)!sethostname("sandpit", 7);
    if (iso->drop_uid) {
        /* Empty the bounding set while we may, then change ids: setuid from root to a
         * non-root uid clears the permitted and effective capability sets. */
        for (int cap = 0; cap <= 63; cap++)
            (void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
        if (setgroups(0, NULL) < 0 || setresgid(iso->gid, iso->gid, iso->gid) < 0 ||
            setresuid(iso->uid, iso->uid, iso->uid) < 0) {
            r = -errno;
            snprintf(why, why_len, "dropping to uid %d: %s", (int)iso->uid, strerror(errno));
            return r;
        }
    }
    return 0;
}

int isolate_seccomp(const struct isolate *iso)
{
    if (!iso->on[ISO_SECCOMP])
        return 0;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &iso->prog) < 0 ? -errno : 0;
}
