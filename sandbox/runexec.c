/* runexec.c - source file, compile phase and program of an exec runtime (see runexec.h). */
#include "runexec.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"

/* A NULL-terminated copy of a JSON array of strings, or NULL. */
static char **runexec_argv(json_t *a)
{
    size_t n = json_array_size(a);
    char **v;

    if (!json_is_array(a) || n == 0)
        return NULL;
    v = calloc(n + 1, sizeof(*v));
    for (size_t i = 0; v && i < n; i++) {
        const char *s = json_string_value(json_array_get(a, i));

        if (!s || !(v[i] = strdup(s)))
            return NULL; /* the process exits soon after; nothing to reclaim */
    }
    return v;
}

/* base_env, then the runtime's, then the user's: later entries replace earlier ones. */
static char **runexec_env(json_t *base, json_t *rt_env, json_t *user)
{
    json_t *all = json_object();
    const char *k;
    json_t *v;
    char **envp;
    size_t i = 0;

    if (!all)
        return NULL;
    if (json_is_object(base))
        json_object_update(all, base);
    if (json_is_object(rt_env))
        json_object_update(all, rt_env);
    if (json_is_object(user))
        json_object_update(all, user);
    envp = calloc(json_object_size(all) + 1, sizeof(*envp));
    json_object_foreach(all, k, v)
    {
        if (envp && json_is_string(v) && asprintf(&envp[i], "%s=%s", k, json_string_value(v)) > 0)
            i++;
    }
    json_decref(all);
    return envp;
}

int runexec_prepare(const char *spec, size_t len, struct runexec *rx, char *why, size_t why_len)
{
    json_t *root = json_loadb(spec, len, JSON_ALLOW_NUL, NULL), *rt;
    const char *file, *code;
    size_t code_len;
    int fd, r = 0;

    memset(rx, 0, sizeof(*rx));
    rt = root ? json_object_get(root, "runtime") : NULL;
    file = json_string_value(json_object_get(rt, "file"));
    code = json_string_value(json_object_get(root, "code"));
    code_len = json_string_length(json_object_get(root, "code"));
    if (!rt || !file || !code || strchr(file, '/')) {
        snprintf(why, why_len, "the job's runtime spec is malformed");
        r = -EINVAL;
        goto out;
    }
    rx->run = runexec_argv(json_object_get(rt, "run"));
    rx->compile = runexec_argv(json_object_get(rt, "compile"));
    rx->envp = runexec_env(json_object_get(root, "base_env"), json_object_get(rt, "env"),
                           json_object_get(root, "env"));
    rx->big_vm = json_is_true(json_object_get(rt, "big_vm"));
    if (!rx->run || !rx->envp) {
        snprintf(why, why_len, "out of memory reading the runtime spec");
        r = -ENOMEM;
        goto out;
    }
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || fdio_write_all(fd, code, code_len) < 0) {
        r = -errno;
        snprintf(why, why_len, "writing %s: %s", file, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
out:
    json_decref(root);
    return r;
}

int runexec_compile(const struct runexec *rx, int result_fd)
{
    posix_spawn_file_actions_t fa;
    char frame[512];
    int st, n, code;
    pid_t pid;

    if (!rx->compile)
        return 0;
    posix_spawn_file_actions_init(&fa);
    /* The compiler's diagnostics are the execution's stderr; it reads nothing. */
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    st = posix_spawn(&pid, rx->compile[0], &fa, NULL, rx->compile, rx->envp);
    posix_spawn_file_actions_destroy(&fa);
    if (st != 0) {
        dprintf(2, "sandpit: cannot start the compiler %s: %s\n", rx->compile[0], strerror(st));
        code = 127;
        n = snprintf(frame, sizeof(frame),
                     "{\"exit_reason\":\"compile_error\",\"error\":\"CompileError: cannot start "
                     "the compiler (%s)\"}",
                     strerror(st));
        goto report;
    }
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return 0; /* cannot happen: it is our child */
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st)) {
        code = WEXITSTATUS(st);
        n = snprintf(frame, sizeof(frame),
                     "{\"exit_reason\":\"compile_error\",\"error\":\"CompileError: the compiler "
                     "exited with code %d (its output is in stderr)\"}",
                     code);
    } else {
        code = 128 + WTERMSIG(st);
        n = snprintf(frame, sizeof(frame),
                     "{\"exit_reason\":\"compile_error\",\"error\":\"CompileError: the compiler "
                     "was killed by signal %d\"}",
                     WTERMSIG(st));
    }
report:
    if (n > 0)
        (void)fdio_write_all(result_fd, frame, (size_t)n);
    return code;
}

int runexec_spawn(const struct runexec *rx)
{
    pid_t pid;
    int r = posix_spawn(&pid, rx->run[0], NULL, NULL, rx->run, rx->envp);

    return r ? -r : (int)pid;
}

int runexec_exec(const struct runexec *rx)
{
    execve(rx->run[0], rx->run, rx->envp);
    return -errno;
}

/* arg with each space-separated word naming a file of the build (the cwd) made absolute
 * ("main.sh", "./main", ".read main.sql"): new string, or arg itself when none does. */
static char *runexec_abs_arg(char *arg, const char *build)
{
    char out[4096], word[1024];
    size_t n = 0;
    bool changed = false;

    for (const char *p = arg; *p;) {
        size_t w = strcspn(p, " ");
        int k;

        snprintf(word, sizeof(word), "%.*s", (int)w, p);
        if (word[0] && word[0] != '/' && w < sizeof(word) && access(word, F_OK) == 0) {
            k = snprintf(out + n, sizeof(out) - n, "%s/%s", build, word);
            changed = true;
        } else {
            k = snprintf(out + n, sizeof(out) - n, "%s", word);
        }
        if (k < 0 || (size_t)k >= sizeof(out) - n - 1)
            return arg;
        n += (size_t)k;
        p += w;
        if (*p == ' ')
            out[n++] = *p++;
        out[n] = '\0';
    }
    return changed ? strdup(out) : arg;
}

void runexec_absolute(struct runexec *rx, const char *build)
{
    for (size_t i = 0; rx->run[i]; i++) {
        char *abs = runexec_abs_arg(rx->run[i], build);

        if (abs)
            rx->run[i] = abs; /* the old string stays allocated: the caller execs now */
    }
}
