/* runtime.c - the runtime table and its resolution against the host (see runtime.h). */
#include "runtime.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <patchlevel.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lang.h"
#include "log.h"

extern char **environ;

#define RT_MAX_ARGS      16
#define RT_SYSTEM_PATH   "/usr/local/bin:/usr/bin:/bin"
#define RT_VERSION_MAX_S 15

enum runtime_flag {
    RT_EMBEDDED = 1u << 0, /* the zygote's own interpreter */
    RT_BIG_VM = 1u << 1,   /* reserves far more address space than it uses (JVM, V8, Go,
                              Mono): no RLIMIT_AS when the memory cgroup bounds it instead */
};

/* One row per language, keyed by its canonical name in the language table (common/lang.c,
 * where its aliases are). Words of the commands are argv entries; the first word is a tool
 * found on the search path. In words: {src} the source file, {main} its stem (the class for
 * Java), {dir} the working directory, {types} the type declarations' root of Node (@types,
 * Debian's /usr/share/nodejs/@types first: runtime_types_dir). */
struct runtime_def {
    const char *name; /* canonical (common/lang.c), which also holds its aliases */
    const char *file;
    const char *compile[RT_MAX_ARGS];
    unsigned compile_s; /* the compile phase's own limit */
    const char *run[RT_MAX_ARGS];
    const char *version[RT_MAX_ARGS];
    const char *env[4]; /* extra "NAME=value" entries */
    unsigned flags;
};

static const struct runtime_def runtime_table[] = {
    {.name = "python", .file = "main.py", .flags = RT_EMBEDDED},
    {.name = "javascript",
     .file = "main.js",
     .run = {"node", "{src}"},
     .version = {"node", "--version"},
     .flags = RT_BIG_VM},
    {.name = "typescript",
     .file = "main.ts",
     .compile = {"tsc", "--pretty", "false", "--noEmitOnError", "--target", "es2020", "--module",
                 "commonjs", "--skipLibCheck", "--types", "node", "--typeRoots", "{types}",
                 "{src}"},
     .compile_s = 60,
     .run = {"node", "{main}.js"},
     .version = {"tsc", "--version"},
     .flags = RT_BIG_VM},
    {.name = "bash", .file = "main.sh", .run = {"bash", "{src}"}, .version = {"bash", "--version"}},
    {.name = "sh",
     .file = "main.sh",
     .run = {"sh", "{src}"},
     .version = {"dpkg-query", "-W", "-f=dash ${Version}\\n", "dash"}},
    {.name = "c",
     .file = "main.c",
     .compile = {"gcc", "-std=gnu17", "-O2", "-pipe", "-o", "{main}", "{src}", "-lm"},
     .compile_s = 30,
     .run = {"./{main}"},
     .version = {"gcc", "--version"}},
    {.name = "cpp",
     .file = "main.cpp",
     .compile = {"g++", "-std=gnu++17", "-O2", "-pipe", "-o", "{main}", "{src}"},
     .compile_s = 60,
     .run = {"./{main}"},
     .version = {"g++", "--version"}},
    {.name = "java",
     .file = "{main}.java",
     .compile = {"javac", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-J-XX:-UsePerfData",
                 "-J-Xss8m", "-encoding", "UTF-8", "-d", ".", "{src}"},
     .compile_s = 60,
     .run = {"java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
             "-Xshare:auto", "-cp", ".", "{main}"},
     .version = {"java", "-version"},
     .flags = RT_BIG_VM},
    {.name = "go",
     .file = "main.go",
     .compile = {"go", "build", "-o", "{main}", "{src}"},
     .compile_s = 60,
     .run = {"./{main}"},
     .version = {"go", "version"},
     .env = {"GOCACHE={dir}/.cache/go-build", "GOPATH={dir}/go", "GO111MODULE=off",
             "CGO_ENABLED=0"},
     .flags = RT_BIG_VM},
    {.name = "rust",
     .file = "main.rs",
     .compile = {"rustc", "--edition", "2021", "-C", "debuginfo=0", "-o", "{main}", "{src}"},
     .compile_s = 60,
     .run = {"./{main}"},
     .version = {"rustc", "--version"}},
    {.name = "ruby", .file = "main.rb", .run = {"ruby", "{src}"}, .version = {"ruby", "--version"}},
    {.name = "php", .file = "main.php", .run = {"php", "{src}"}, .version = {"php", "--version"}},
    {.name = "perl",
     .file = "main.pl",
     .run = {"perl", "{src}"},
     .version = {"perl", "-e", "print qq(perl $^V\\n)"}},
    {.name = "lua", .file = "main.lua", .run = {"lua5.4", "{src}"}, .version = {"lua5.4", "-v"}},
    {.name = "sql",
     .file = "main.sql",
     .run = {"sqlite3", "-bail", "-batch", ":memory:", ".read {src}"},
     .version = {"sqlite3", "--version"}},
    {.name = "csharp",
     .file = "main.cs",
     .compile = {"mcs", "-out:{main}.exe", "{src}"},
     .compile_s = 60,
     .run = {"mono", "{main}.exe"},
     .version = {"mcs", "--version"},
     .flags = RT_BIG_VM},
    {.name = "r",
     .file = "main.R",
     .run = {"Rscript", "--vanilla", "{src}"},
     .version = {"Rscript", "--version"}},
};

#define RT_COUNT (sizeof(runtime_table) / sizeof(runtime_table[0]))

struct rt_entry {
    const struct runtime_def *def;
    char compile_tool[PATH_MAX]; /* resolved first word of compile, or "" */
    char run_tool[PATH_MAX];     /* resolved first word of run ("./x" stays relative) */
    char version_tool[PATH_MAX];
    char *version; /* under lock; NULL until probed */
};

struct runtimes {
    char tools_dir[PATH_MAX];
    char types_dir[PATH_MAX]; /* Node's @types for tsc, or "" */
    struct rt_entry e[RT_COUNT];
    size_t n;
    pthread_mutex_t lock;
    pthread_t prober;
    bool prober_started;
    volatile int stop; /* read by the prober between commands */
};

/* True when every directory on the way to path lets others through and path itself lets them
 * do what (R_OK, X_OK): what the sandbox user may reach (it has no group of ours). Always true
 * when the agent is not root (executions keep its uid). E.g. a checkout under /root (0700 on
 * Debian) is not reachable. */
static bool runtime_reachable(const char *path, int what)
{
    char p[PATH_MAX];
    struct stat sb;

    if (geteuid() != 0)
        return true;
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = p + 1;; s++) {
        char c = *s;

        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (stat(p, &sb) < 0)
            return false;
        if (c == '\0')
            return (sb.st_mode & (what == R_OK ? S_IROTH : S_IXOTH)) != 0;
        if (!(sb.st_mode & S_IXOTH))
            return false;
        *s = c;
    }
}

/* Finds tool on the system path, then in the tools dir (Debian's packages first: a copy in the
 * checkout may lie where the sandbox user cannot reach, and is skipped then, logged); "./x"
 * names a program built in the working directory and is kept as is. Returns 0 with out
 * filled, or -ENOENT. */
static int runtime_which(const char *tools_dir, const char *tool, char *out, size_t size)
{
    char path[sizeof(RT_SYSTEM_PATH) + PATH_MAX + 1];
    char *save = NULL;

    if (!strncmp(tool, "./", 2)) {
        snprintf(out, size, "%s", tool);
        return 0;
    }
    snprintf(path, sizeof(path), RT_SYSTEM_PATH "%s%s", *tools_dir ? ":" : "", tools_dir);
    for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if ((size_t)snprintf(out, size, "%s/%s", d, tool) >= size || access(out, X_OK) != 0)
            continue;
        if (runtime_reachable(out, X_OK))
            return 0;
        log_warn("runtime tool %s: the sandbox user cannot reach it (a directory on the way "
                 "is closed to others), skipped",
                 out);
    }
    out[0] = '\0';
    return -ENOENT;
}

/* Node's type declarations for tsc (--types node): Debian's nodejs ships them in
 * /usr/share/nodejs/@types; for another nodejs scripts/deps.sh installs the pinned copy into
 * RT_SYSTEM_NODE_MODULES (outside the checkout, so a 0700 home or mktemp dir above it does not
 * matter); else the @types beside the tools dir (runtimes/node_modules), when the sandbox user
 * can read them. "" when none has node/index.d.ts. */
#define RT_SYSTEM_NODE_MODULES "/usr/local/lib/sandpit/runtimes/node_modules"
static void runtime_types_dir(const char *tools_dir, char *out, size_t size)
{
    const char *base[3] = {"/usr/share/nodejs", RT_SYSTEM_NODE_MODULES,
                           *tools_dir ? tools_dir : NULL};
    const char *rel[3] = {"/@types", "/@types", "/../@types"};
    char f[PATH_MAX];

    for (int i = 0; i < 3 && base[i]; i++) {
        if ((size_t)snprintf(f, sizeof(f), "%s%s/node/index.d.ts", base[i], rel[i]) >= sizeof(f) ||
            access(f, R_OK) != 0 || !runtime_reachable(f, R_OK))
            continue;
        snprintf(out, size, "%s%s", base[i], rel[i]);
        return;
    }
    out[0] = '\0';
}

/* True when the comma-separated list names the runtime d (by its canonical name or an alias). */
static bool runtime_in_list(const char *list, const struct runtime_def *d)
{
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ", ");
        const char *canon = lang_lookup(p, k);

        if (canon && !strcmp(canon, d->name))
            return true;
        p += k;
        p += strspn(p, ", ");
    }
    return false;
}

/* The row of the runtime called name (canonical or alias, any case), or NULL. */
static const struct runtime_def *runtime_table_find(const char *name)
{
    const char *canon = lang_lookup(name, strlen(name));

    for (size_t i = 0; canon && i < RT_COUNT; i++) {
        if (!strcmp(runtime_table[i].name, canon))
            return &runtime_table[i];
    }
    return NULL;
}

/* True when a command of d names {types} (TypeScript's compiler). */
static bool runtime_uses_types(const struct runtime_def *d)
{
    for (int i = 0; i < RT_MAX_ARGS && d->compile[i]; i++) {
        if (strstr(d->compile[i], "{types}"))
            return true;
    }
    return false;
}

struct runtimes *runtimes_new(const char *tools_dir, const char *only, struct err *e)
{
    struct runtimes *rts;

    /* Every name in the list must be one we know (a typo must not silently drop a language). */
    for (const char *p = only ? only : ""; *p;) {
        size_t k = strcspn(p, ", ");
        char name[RUNTIME_NAME_MAX];

        snprintf(name, sizeof(name), "%.*s", (int)(k < sizeof(name) ? k : sizeof(name) - 1), p);
        if (k && !runtime_table_find(name)) {
            err_set(e, ERR_INVALID, "languages", "--languages names an unknown runtime '%s'", name);
            return NULL;
        }
        p += k;
        p += strspn(p, ", ");
    }
    rts = calloc(1, sizeof(*rts));
    if (!rts) {
        err_set(e, ENOMEM, NULL, "out of memory");
        return NULL;
    }
    snprintf(rts->tools_dir, sizeof(rts->tools_dir), "%s", tools_dir ? tools_dir : "");
    runtime_types_dir(rts->tools_dir, rts->types_dir, sizeof(rts->types_dir));
    pthread_mutex_init(&rts->lock, NULL);
    for (size_t i = 0; i < RT_COUNT; i++) {
        const struct runtime_def *d = &runtime_table[i];
        struct rt_entry *en = &rts->e[rts->n];
        const char *miss = NULL;

        if (only && *only && !runtime_in_list(only, d))
            continue;
        memset(en, 0, sizeof(*en));
        en->def = d;
        if (d->flags & RT_EMBEDDED) {
            en->version = strdup("Python " PY_VERSION);
            rts->n++;
            continue;
        }
        if (d->compile[0] && runtime_which(rts->tools_dir, d->compile[0], en->compile_tool,
                                           sizeof(en->compile_tool)) < 0)
            miss = d->compile[0];
        else if (runtime_which(rts->tools_dir, d->run[0], en->run_tool, sizeof(en->run_tool)) < 0)
            miss = d->run[0];
        else if (runtime_uses_types(d) && !rts->types_dir[0])
            miss = "@types/node";
        /* No version tool is no reason to drop a runtime: its path is reported instead. */
        if (d->version[0])
            (void)runtime_which(rts->tools_dir, d->version[0], en->version_tool,
                                sizeof(en->version_tool));
        if (miss) {
            log_info("runtime %s: '%s' is not installed, language not offered", d->name, miss);
            continue;
        }
        rts->n++;
    }
    return rts;
}

void runtimes_free(struct runtimes *rts)
{
    if (!rts)
        return;
    if (rts->prober_started) {
        rts->stop = 1;
        pthread_join(rts->prober, NULL);
    }
    for (size_t i = 0; i < rts->n; i++)
        free(rts->e[i].version);
    pthread_mutex_destroy(&rts->lock);
    free(rts);
}

/* Runs argv (tool resolved to path) with stdout and stderr into one pipe; returns the first
 * non-empty line (malloc) or NULL. Bounded by RT_VERSION_MAX_S. */
static char *runtime_run_version(const char *path, const char *const *argv_tpl)
{
    char *argv[RT_MAX_ARGS + 1] = {0}, out[4096], *line = NULL;
    posix_spawn_file_actions_t fa;
    size_t len = 0;
    int p[2], n = 0, status;
    pid_t pid;
    struct timespec t0, now;

    for (; n < RT_MAX_ARGS && argv_tpl[n]; n++)
        argv[n] = (char *)argv_tpl[n];
    argv[0] = (char *)path;
    if (pipe2(p, O_CLOEXEC) < 0)
        return NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    if (posix_spawn(&pid, path, &fa, NULL, argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(p[0]);
        close(p[1]);
        return NULL;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        ssize_t r;

        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > RT_VERSION_MAX_S || poll(&pf, 1, 1000) < 0)
            break;
        if (!pf.revents)
            continue;
        r = read(p[0], out + len, sizeof(out) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof(out) - 1)
            break;
    }
    close(p[0]);
    (void)kill(pid, SIGKILL); /* done or overdue: it has said what we read */
    (void)waitpid(pid, &status, 0);
    out[len] = '\0';
    for (char *s = out, *save = NULL, *l; (l = strtok_r(s, "\r\n", &save)); s = NULL) {
        while (isspace((unsigned char)*l))
            l++;
        if (*l) {
            line = strndup(l, 200);
            break;
        }
    }
    return line;
}

static void *runtime_prober(void *arg)
{
    struct runtimes *rts = arg;

    for (size_t i = 0; i < rts->n && !rts->stop; i++) {
        struct rt_entry *en = &rts->e[i];
        char *v;

        if (en->def->flags & RT_EMBEDDED)
            continue;
        v = en->version_tool[0] ? runtime_run_version(en->version_tool, en->def->version) : NULL;
        /* No version command, or it said nothing: the tool's path is what we know. */
        if (!v)
            v = strdup(en->compile_tool[0] ? en->compile_tool : en->run_tool);
        pthread_mutex_lock(&rts->lock);
        en->version = v;
        pthread_mutex_unlock(&rts->lock);
    }
    return NULL;
}

int runtimes_probe_versions(struct runtimes *rts)
{
    int r = pthread_create(&rts->prober, NULL, runtime_prober, rts);

    if (r != 0)
        return -r;
    rts->prober_started = true;
    return 0;
}

const struct runtime_def *runtimes_find(const struct runtimes *rts, const char *name)
{
    const struct runtime_def *d = runtime_table_find(name);

    for (size_t i = 0; d && i < rts->n; i++) {
        if (rts->e[i].def == d)
            return d;
    }
    return NULL;
}

const char *runtime_name(const struct runtime_def *rd)
{
    return rd->name;
}

bool runtime_is_embedded(const struct runtime_def *rd)
{
    return rd->flags & RT_EMBEDDED;
}

unsigned runtime_compile_ms(const struct runtime_def *rd)
{
    return rd->compile[0] ? rd->compile_s * 1000u : 0;
}

void runtimes_list(const struct runtimes *rts, char *out, size_t size)
{
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0; i < rts->n && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%s", i ? ", " : "", rts->e[i].def->name);
}

static const struct rt_entry *runtimes_entry(const struct runtimes *rts,
                                             const struct runtime_def *rd)
{
    for (size_t i = 0; i < rts->n; i++) {
        if (rts->e[i].def == rd)
            return &rts->e[i];
    }
    return NULL;
}

/* Expands {src} {main} {dir} {types} in word; new string or NULL. */
static char *runtime_expand(const char *word, const char *src, const char *main_name,
                            const char *dir, const char *types)
{
    char out[PATH_MAX * 2];
    size_t n = 0;

    for (const char *p = word; *p && n + 1 < sizeof(out);) {
        const char *val = NULL;
        size_t skip = 0;

        if (!strncmp(p, "{src}", 5))
            val = src, skip = 5;
        else if (!strncmp(p, "{main}", 6))
            val = main_name, skip = 6;
        else if (!strncmp(p, "{dir}", 5))
            val = dir, skip = 5;
        else if (!strncmp(p, "{types}", 7))
            val = types, skip = 7;
        if (val) {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", val);
            if (n >= sizeof(out))
                return NULL;
            p += skip;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return strdup(out);
}

static json_t *runtime_argv(const char *const *tpl, const char *tool, const char *src,
                            const char *main_name, const char *dir, const char *types)
{
    json_t *a = json_array();

    for (int i = 0; a && i < RT_MAX_ARGS && tpl[i]; i++) {
        char *w = runtime_expand(i == 0 ? tool : tpl[i], src, main_name, dir, types);

        if (!w || json_array_append_new(a, json_string(w)) < 0) {
            free(w);
            json_decref(a);
            return NULL;
        }
        free(w);
    }
    return a;
}

json_t *runtimes_spec(const struct runtimes *rts, const struct runtime_def *rd, const char *code,
                      size_t code_len, const char *workdir)
{
    const struct rt_entry *en = runtimes_entry(rts, rd);
    char main_name[128] = "main", *src = NULL;
    json_t *o = NULL, *env;

    if (!en)
        return NULL;
    if (strstr(rd->file, "{main}"))
        runtime_java_class(code, code_len, main_name, sizeof(main_name));
    src = runtime_expand(rd->file, "", main_name, workdir, rts->types_dir);
    if (!src)
        return NULL;
    /* The run tool stays as typed when it is "./x" (relative to the working directory). */
    o = json_pack("{s:s, s:o, s:b}", "file", src, "run",
                  runtime_argv(rd->run, en->run_tool, src, main_name, workdir, rts->types_dir),
                  "big_vm", (rd->flags & RT_BIG_VM) != 0);
    if (o && rd->compile[0])
        json_object_set_new(
            o, "compile",
            runtime_argv(rd->compile, en->compile_tool, src, main_name, workdir, rts->types_dir));
    env = o ? json_object() : NULL;
    for (int i = 0; env && i < 4 && rd->env[i]; i++) {
        char *kv = runtime_expand(rd->env[i], src, main_name, workdir, rts->types_dir);
        char *eq = kv ? strchr(kv, '=') : NULL;

        if (eq) {
            *eq = '\0';
            json_object_set_new(env, kv, json_string(eq + 1));
        }
        free(kv);
    }
    if (o && env)
        json_object_set_new(o, "env", env);
    free(src);
    return o;
}

json_t *runtimes_describe(struct runtimes *rts)
{
    json_t *list = json_array();

    pthread_mutex_lock(&rts->lock);
    for (size_t i = 0; list && i < rts->n; i++) {
        const struct runtime_def *d = rts->e[i].def;
        const char *const *group = lang_aliases(d->name, strlen(d->name));
        json_t *al = json_array();

        /* The group's first name is the canonical one, d->name itself. */
        for (size_t k = 1; al && group && group[k]; k++)
            json_array_append_new(al, json_string(group[k]));
        json_array_append_new(
            list, json_pack("{s:s, s:o, s:s?, s:b, s:b, s:s}", "name", d->name, "aliases", al,
                            "version", rts->e[i].version, "compiled", d->compile[0] != NULL,
                            "embedded", (d->flags & RT_EMBEDDED) != 0, "file",
                            strstr(d->file, "{main}") ? "<public class>.java" : d->file));
    }
    pthread_mutex_unlock(&rts->lock);
    return json_pack("{s:o}", "languages", list);
}

json_t *runtimes_versions(struct runtimes *rts)
{
    json_t *o = json_object();

    pthread_mutex_lock(&rts->lock);
    for (size_t i = 0; o && i < rts->n; i++)
        json_object_set_new(o, rts->e[i].def->name,
                            rts->e[i].version ? json_string(rts->e[i].version) : json_null());
    pthread_mutex_unlock(&rts->lock);
    return o;
}

static bool runtime_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/* Skips a // or block comment or a string/char literal starting at p; returns the next index. */
static size_t runtime_java_skip(const char *s, size_t len, size_t i)
{
    if (s[i] == '/' && i + 1 < len && s[i + 1] == '/') {
        while (i < len && s[i] != '\n')
            i++;
        return i;
    }
    if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
        i += 2;
        while (i + 1 < len && !(s[i] == '*' && s[i + 1] == '/'))
            i++;
        return i + 2 < len ? i + 2 : len;
    }
    if (s[i] == '"' || s[i] == '\'') {
        char q = s[i++];

        while (i < len && s[i] != q && s[i] != '\n')
            i += s[i] == '\\' ? 2 : 1;
        return i < len ? i + 1 : len;
    }
    return i;
}

/* Modifiers that may stand between "public" and "class". */
static bool runtime_java_modifier(const char *w, size_t n)
{
    static const char *const mods[] = {"final", "abstract", "static", "sealed", "strictfp"};

    for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
        if (strlen(mods[i]) == n && !strncmp(w, mods[i], n))
            return true;
    }
    return false;
}

void runtime_java_class(const char *code, size_t len, char *out, size_t size)
{
    char first[128] = "";
    int depth = 0;
    bool pub = false;

    snprintf(out, size, "Main");
    for (size_t i = 0; i < len;) {
        size_t j = runtime_java_skip(code, len, i), k;

        if (j != i) {
            i = j;
            continue;
        }
        if (code[i] == '{' || code[i] == '}') {
            depth += code[i] == '{' ? 1 : -1;
            i++;
            continue;
        }
        if (!runtime_ident_char(code[i]) || (i > 0 && runtime_ident_char(code[i - 1]))) {
            i++;
            continue;
        }
        for (k = i; k < len && runtime_ident_char(code[k]); k++)
            ;
        if (depth == 0 && k - i == 6 && !strncmp(code + i, "public", 6)) {
            pub = true;
        } else if (depth == 0 && ((k - i == 5 && !strncmp(code + i, "class", 5)) ||
                                  (k - i == 9 && !strncmp(code + i, "interface", 9)) ||
                                  (k - i == 4 && !strncmp(code + i, "enum", 4)) ||
                                  (k - i == 6 && !strncmp(code + i, "record", 6)))) {
            size_t a = k, b;

            while (a < len && isspace((unsigned char)code[a]))
                a++;
            for (b = a; b < len && runtime_ident_char(code[b]); b++)
                ;
            if (b > a && b - a < 120) {
                if (pub) {
                    snprintf(out, size, "%.*s", (int)(b - a), code + a);
                    return;
                }
                if (!first[0])
                    snprintf(first, sizeof(first), "%.*s", (int)(b - a), code + a);
            }
            pub = false;
        } else if (depth == 0 && !runtime_java_modifier(code + i, k - i)) {
            pub = false;
        }
        i = k;
    }
    if (first[0])
        snprintf(out, size, "%s", first);
}
