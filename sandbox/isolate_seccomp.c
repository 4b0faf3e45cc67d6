/* isolate_seccomp.c - the seccomp filter: compiled to BPF once in the zygote, loaded by each
 * child as its last step, after no_new_privs. */
#include "isolate_int.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdio.h"

/* Compiles the filter: default allow, the dangerous calls fail with EPERM (code keeps running
 * and can report it), clone3 with ENOSYS (its flags cannot be inspected; libc falls back to
 * clone, whose namespace flags we can refuse), sockets other than AF_UNIX, AF_INET and
 * AF_INET6 refused (netlink, packet, vsock...: kernel surface no program needs; inet sockets
 * only reach the execution's own loopback, or the proxy when it was given network). */
static int isolate_seccomp_compile(struct isolate *iso, char *why, size_t why_len)
{
    /* Every entry is in scripts/seccomp_reviewed.tsv with the reason; scripts/seccomp_audit.py
     * (make test) fails when the two differ. */
    static const char *const denied[] = {
        /* Other processes, mounts, namespaces, the kernel itself. */
        "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount", "umount2",
        "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
        "fspick", "mount_setattr", "unshare", "setns", "kexec_load", "kexec_file_load",
        "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
        "clock_settime", "clock_adjtime", "settimeofday", "stime", "acct", "quotactl",
        "quotactl_fd", "lookup_dcookie", "vhangup", "syslog", "open_by_handle_at",
        "name_to_handle_at", "iopl", "ioperm", "uselib", "nfsservctl",
        /* Kernel surface no program here needs, each a frequent source of exploits. */
        "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
        "io_uring_register",
        /* Resources counted host-wide, not per namespace or cgroup: keys (per uid, host-wide
         * quota), fanotify groups, kernel AIO contexts (fs.aio-max-nr), secret memory (taken
         * out of the kernel's direct map), page migration of other processes. */
        "keyctl", "add_key", "request_key", "fanotify_init", "io_setup", "io_destroy", "io_submit",
        "io_cancel", "io_getevents", "io_pgetevents", "memfd_secret", "migrate_pages",
        "move_pages"};
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

/* The seccomp layer: on once the filter compiled, off when --seccomp=false or it did not. */
void isolate_seccomp_probe(struct isolate *iso)
{
    char why[128] = "";

    if (!iso->cfg->seccomp)
        isolate_state_off(&iso->st, ISOLATE_SECCOMP, "disabled by --seccomp=false");
    else if (isolate_seccomp_compile(iso, why, sizeof(why)) < 0)
        isolate_state_off(&iso->st, ISOLATE_SECCOMP, "%s", why);
    else
        isolate_state_on(&iso->st, ISOLATE_SECCOMP);
}

int isolate_seccomp(const struct isolate *iso)
{
    if (!isolate_state_has(&iso->st, ISOLATE_SECCOMP))
        return 0;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &iso->prog) < 0 ? -errno : 0;
}
