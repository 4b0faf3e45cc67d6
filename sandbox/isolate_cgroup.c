/* isolate_cgroup.c - memory, pids and cpu cgroup slots (cgroup v1 layout).
 *
 * Each zygote owns <ctrl>/sandpit/z<pid>/slotN for every controller it may write; a slot is
 * reused across executions (a fresh cgroup costs milliseconds) and its limits are rewritten only
 * when a scenario changes them. The child joins its slot first, before it can fork. */
#include "isolate_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"

#define ISOLATE_CG_ROOT   "/sys/fs/cgroup"
#define ISOLATE_CG_PARENT "sandpit"

/* Writes s to path; 0 or -errno. */
static int isolate_cgroup_write(const char *path, const char *s)
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
static void isolate_cgroup_path(const struct isolate *iso, char *out, size_t size, const char *ctrl,
                                int slot, const char *file)
{
    int n = snprintf(out, size, ISOLATE_CG_ROOT "/%s/" ISOLATE_CG_PARENT "/%s", ctrl, iso->inst);

    if (n > 0 && slot >= 0 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, "/slot%d", slot);
    if (n > 0 && file && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, "/%s", file);
}

/* Removes an instance directory and its (empty) slots; cgroup dirs go with rmdir, not unlink. */
static void isolate_cgroup_remove(const char *dir)
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
static void isolate_cgroup_sweep(const char *parent)
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
        isolate_cgroup_remove(path);
    }
    closedir(d);
}

/* The controllers, in the order a child joins them. */
static const struct {
    const char *ctrl; /* the controller's directory */
    enum isolate_layer l;
    const char *limit; /* the file a scenario's limit goes to */
} isolate_cgroup_ctrls[] = {{"memory", ISOLATE_CGROUP_MEMORY, "memory.limit_in_bytes"},
                            {"pids", ISOLATE_CGROUP_PIDS, "pids.max"},
                            {"cpu", ISOLATE_CGROUP_CPU, "cpu.cfs_quota_us"}};
#define ISOLATE_CGROUP_N (sizeof(isolate_cgroup_ctrls) / sizeof(isolate_cgroup_ctrls[0]))

/* Creates <ctrl>/sandpit/<instance>, sweeping dead instances, and checks we can write there. */
static void isolate_cgroup_probe_one(struct isolate *iso, enum isolate_layer l, const char *ctrl)
{
    char parent[256], path[256];

    if (geteuid() != 0) {
        isolate_state_off(&iso->st, l, "not running as root");
        return;
    }
    isolate_state_on(&iso->st, l);
    snprintf(parent, sizeof(parent), ISOLATE_CG_ROOT "/%s/" ISOLATE_CG_PARENT, ctrl);
    if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
        isolate_probed(iso, l, parent, errno);
        return;
    }
    isolate_cgroup_sweep(parent);
    isolate_cgroup_path(iso, path, sizeof(path), ctrl, -1, NULL);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        isolate_probed(iso, l, path, errno);
    else if (access(path, W_OK) < 0)
        isolate_probed(iso, l, path, errno);
}

/* Probes every controller: this zygote's instance directory is created where it can write. */
void isolate_cgroup_probe(struct isolate *iso)
{
    for (size_t i = 0; i < ISOLATE_CGROUP_N; i++)
        isolate_cgroup_probe_one(iso, isolate_cgroup_ctrls[i].l, isolate_cgroup_ctrls[i].ctrl);
}

/* Child step 1: joins the slot's cgroups (writes "0" to cgroup.procs: this process, before it
 * can fork). No-op for slot -1. 0 or -errno with why filled. */
int isolate_cgroup_join(const struct isolate *iso, int slot, char *why, size_t why_len)
{
    char path[256];
    int r;

    for (size_t i = 0; slot >= 0 && i < ISOLATE_CGROUP_N; i++) {
        if (!isolate_state_has(&iso->st, isolate_cgroup_ctrls[i].l))
            continue;
        isolate_cgroup_path(iso, path, sizeof(path), isolate_cgroup_ctrls[i].ctrl, slot,
                            "cgroup.procs");
        if ((r = isolate_cgroup_write(path, "0")) < 0) {
            snprintf(why, why_len, "joining the %s cgroup: %s", isolate_cgroup_ctrls[i].ctrl,
                     strerror(-r));
            return r;
        }
    }
    return 0;
}

/* Removes this instance's cgroups; every process of ours is gone by now (the zygote reaps them
 * first), so the slots are empty. */
void isolate_cgroup_remove_all(const struct isolate *iso)
{
    char path[256];

    for (size_t i = 0; i < ISOLATE_CGROUP_N; i++) {
        if (!isolate_state_has(&iso->st, isolate_cgroup_ctrls[i].l))
            continue;
        isolate_cgroup_path(iso, path, sizeof(path), isolate_cgroup_ctrls[i].ctrl, -1, NULL);
        isolate_cgroup_remove(path);
    }
}

/* Sets the limits of one slot (created on first use, then reused). */
static int isolate_cgroup_prepare(struct isolate *iso, int slot)
{
    char path[256], val[64];
    int r;

    if (isolate_state_has(&iso->st, ISOLATE_CGROUP_MEMORY)) {
        isolate_cgroup_path(iso, path, sizeof(path), "memory", slot, NULL);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -errno;
        isolate_cgroup_path(iso, path, sizeof(path), "memory", slot, "memory.limit_in_bytes");
        snprintf(val, sizeof(val), "%ld", iso->cfg->memory_mb << 20);
        if ((r = isolate_cgroup_write(path, val)) < 0)
            return r;
        /* Swap would let a memory bomb crawl instead of being stopped. */
        isolate_cgroup_path(iso, path, sizeof(path), "memory", slot, "memory.swappiness");
        (void)isolate_cgroup_write(path, "0");
    }
    if (isolate_state_has(&iso->st, ISOLATE_CGROUP_PIDS)) {
        isolate_cgroup_path(iso, path, sizeof(path), "pids", slot, NULL);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -errno;
        isolate_cgroup_path(iso, path, sizeof(path), "pids", slot, "pids.max");
        snprintf(val, sizeof(val), "%ld", iso->cfg->pids_limit);
        if ((r = isolate_cgroup_write(path, val)) < 0)
            return r;
    }
    if (isolate_state_has(&iso->st, ISOLATE_CGROUP_CPU)) {
        isolate_cgroup_path(iso, path, sizeof(path), "cpu", slot, NULL);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -errno;
        isolate_cgroup_path(iso, path, sizeof(path), "cpu", slot, "cpu.cfs_period_us");
        (void)isolate_cgroup_write(path, "100000");
        isolate_cgroup_path(iso, path, sizeof(path), "cpu", slot, "cpu.cfs_quota_us");
        (void)isolate_cgroup_write(path, "-1");
    }
    iso->slot_lim[slot][0] = iso->cfg->memory_mb;
    iso->slot_lim[slot][1] = iso->cfg->pids_limit;
    iso->slot_lim[slot][2] = 0;
    return 0;
}

int isolate_slot_limits(struct isolate *iso, int slot, long memory_mb, long pids, long cpu_millis)
{
    long want[3] = {memory_mb > 0 ? memory_mb : iso->cfg->memory_mb,
                    pids > 0 ? pids : iso->cfg->pids_limit, cpu_millis > 0 ? cpu_millis : 0};
    char path[256], val[64];
    int r = 0;

    if (slot < 0 || slot >= iso->n_slots)
        return -EINVAL;
    /* Written only when they change: most executions keep the defaults (the slot_lim columns
     * follow isolate_cgroup_ctrls). */
    for (int i = 0; i < 3; i++) {
        if (!isolate_state_has(&iso->st, isolate_cgroup_ctrls[i].l) ||
            iso->slot_lim[slot][i] == want[i])
            continue;
        isolate_cgroup_path(iso, path, sizeof(path), isolate_cgroup_ctrls[i].ctrl, slot,
                            isolate_cgroup_ctrls[i].limit);
        if (i == 0)
            snprintf(val, sizeof(val), "%ld", want[i] << 20);
        else if (i == 2)
            snprintf(val, sizeof(val), "%ld", want[i] ? want[i] * 100 : -1L); /* of 100 ms */
        else
            snprintf(val, sizeof(val), "%ld", want[i]);
        if (isolate_cgroup_write(path, val) < 0) {
            r = -errno;
            continue;
        }
        iso->slot_lim[slot][i] = want[i];
    }
    return r;
}

bool isolate_has_memory_cgroup(const struct isolate *iso)
{
    return isolate_state_has(&iso->st, ISOLATE_CGROUP_MEMORY);
}

int isolate_slot_take(struct isolate *iso)
{
    const uint32_t cgroups =
        1u << ISOLATE_CGROUP_MEMORY | 1u << ISOLATE_CGROUP_PIDS | 1u << ISOLATE_CGROUP_CPU;

    /* A slot is also a uid of its own (isolate_cred.c), with or without cgroups. */
    if (!(iso->st.on & cgroups) && !iso->uid_per_slot)
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
            if (isolate_cgroup_prepare(iso, i) < 0)
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

uint64_t isolate_slot_oom_kills(const struct isolate *iso, int slot)
{
    char path[256], buf[512], *p;
    int fd;
    ssize_t n;

    if (slot < 0 || !isolate_state_has(&iso->st, ISOLATE_CGROUP_MEMORY))
        return 0;
    isolate_cgroup_path(iso, path, sizeof(path), "memory", slot, "memory.oom_control");
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

int isolate_slot_move(const struct isolate *iso, int slot, pid_t pid)
{
    char path[256], val[32];
    int r = 0;

    snprintf(val, sizeof(val), "%d", (int)pid);
    for (size_t i = 0; slot >= 0 && slot < iso->n_slots && i < ISOLATE_CGROUP_N; i++) {
        if (!isolate_state_has(&iso->st, isolate_cgroup_ctrls[i].l))
            continue;
        isolate_cgroup_path(iso, path, sizeof(path), isolate_cgroup_ctrls[i].ctrl, slot,
                            "cgroup.procs");
        if (isolate_cgroup_write(path, val) < 0 && r == 0)
            r = -errno;
    }
    return r;
}

/* The controller whose cgroup.procs lists the slot's processes, or NULL. */
static const char *isolate_cgroup_any(const struct isolate *iso)
{
    for (size_t i = 0; i < ISOLATE_CGROUP_N; i++) {
        if (isolate_state_has(&iso->st, isolate_cgroup_ctrls[i].l))
            return isolate_cgroup_ctrls[i].ctrl;
    }
    return NULL;
}

int isolate_slot_kill_others(const struct isolate *iso, int slot, pid_t keep, int sig)
{
    const char *ctrl = isolate_cgroup_any(iso);
    char path[256], buf[4096];
    int killed = 0;

    if (!ctrl || slot < 0 || slot >= iso->n_slots)
        return -ENOTSUP;
    isolate_cgroup_path(iso, path, sizeof(path), ctrl, slot, "cgroup.procs");
    /* A few rounds: a process may fork between our read and its kill (pids.max bounds how
     * many); SIGSTOP-free, so one that keeps forking is still caught within rounds. */
    for (int round = 0; round < 8; round++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;
        ssize_t n;
        char *p, *end;

        if (fd < 0)
            return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            break;
        buf[n] = '\0';
        for (p = buf; *p; p = end) {
            long pid = strtol(p, &end, 10);

            if (end == p)
                break;
            if (pid > 0 && pid != keep) {
                (void)kill((pid_t)pid, sig);
                found++;
            }
        }
        killed += found;
        if (!found || sig != SIGKILL)
            break;
    }
    return killed;
}

void isolate_slot_copy_limits(struct isolate *iso, int from, int to)
{
    if (from >= 0 && from < iso->n_slots)
        (void)isolate_slot_limits(iso, to, iso->slot_lim[from][0], iso->slot_lim[from][1],
                                  iso->slot_lim[from][2]);
}
