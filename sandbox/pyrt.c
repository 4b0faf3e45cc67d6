/* pyrt.c - CPython embedding (STYLE §7): isolated init, preload, fork hooks, job call. */
#include <Python.h>

#include "pyrt.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap_hot.h"

struct pyrt {
    PyObject *runner;  /* harness.runner module, new reference */
    PyObject *run_fn;  /* harness.runner.run, new reference */
    PyObject *session; /* harness.session (imported here: executions cannot read harness/) */
    PyObject *gc;      /* gc module, new reference */
    const struct heap_hot *hot; /* pages a child copies at once (borrowed), NULL = none */
};

/* Formats the pending Python exception into e and clears it. */
static void pyrt_err_from_python(struct err *e, const char *what)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL, *s = NULL;
    const char *msg = "?";

    PyErr_Fetch(&type, &value, &tb);
    if (value)
        s = PyObject_Str(value); /* new */
    if (s)
        msg = PyUnicode_AsUTF8(s);
    err_set(e, ERR_UNAVAILABLE, "", "%s: %s: %s", what,
            type ? ((PyTypeObject *)type)->tp_name : "error", msg ? msg : "?");
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
}

struct pyrt *pyrt_new(const char *harness_root, struct err *e)
{
    struct pyrt *rt = NULL;
    PyStatus status;
    PyConfig config;
    PyObject *path = NULL, *dir = NULL;

    {
        PyPreConfig pre;

        PyPreConfig_InitIsolatedConfig(&pre);
        /* UTF-8 mode, as python3 itself chooses in the C locale (PEP 540) and isolated mode
         * does not: else open() and file names are ASCII, and a UTF-8 file sent in `files`
         * (or a non-ASCII name) cannot be read. */
        pre.utf8_mode = 1;
#ifdef __SANITIZE_ADDRESS__
        /* Isolated mode ignores PYTHONMALLOC: ask for malloc so ASan sees every allocation. */
        pre.allocator = PYMEM_ALLOCATOR_MALLOC;
#endif
        status = Py_PreInitialize(&pre);
        if (PyStatus_Exception(status)) {
            err_set(e, ERR_UNAVAILABLE, "", "Py_PreInitialize: %s",
                    status.err_msg ? status.err_msg : "failed");
            return NULL;
        }
    }
    PyConfig_InitIsolatedConfig(&config);
    /* The program name makes CPython find Debian's stdlib and dist-packages under /usr. */
    status = PyConfig_SetBytesString(&config, &config.program_name, "/usr/bin/python3.11");
    if (PyStatus_Exception(status))
        goto fail_status;
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    /* Children run user code as root or a sandbox user: never let it write .pyc files into
     * system directories or the harness. */
    config.write_bytecode = 0;
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status))
        goto fail_status;
    PyConfig_Clear(&config);

    rt = calloc(1, sizeof(*rt));
    if (!rt) {
        err_set(e, ERR_UNAVAILABLE, "", "out of memory");
        return NULL;
    }
    path = PySys_GetObject("path");                /* borrowed */
    dir = PyUnicode_DecodeFSDefault(harness_root); /* new */
    if (!path || !dir || PyList_Insert(path, 0, dir) < 0) {
        pyrt_err_from_python(e, "sys.path");
        goto fail;
    }
    Py_CLEAR(dir);
    rt->runner = PyImport_ImportModule("harness.runner");
    if (!rt->runner) {
        pyrt_err_from_python(e, "import harness.runner");
        goto fail;
    }
    rt->session = PyImport_ImportModule("harness.session");
    if (!rt->session) {
        pyrt_err_from_python(e, "import harness.session");
        goto fail;
    }
    rt->run_fn = PyObject_GetAttrString(rt->runner, "run");
    rt->gc = PyImport_ImportModule("gc");
    if (!rt->run_fn || !rt->gc) {
        pyrt_err_from_python(e, "harness.runner.run");
        goto fail;
    }
    return rt;

fail_status:
    err_set(e, ERR_UNAVAILABLE, "", "Python initialisation failed: %s",
            status.err_msg ? status.err_msg : "unknown");
    PyConfig_Clear(&config);
    return NULL;
fail:
    Py_XDECREF(dir);
    pyrt_free(rt);
    return NULL;
}

char *pyrt_preload(struct pyrt *rt, const char *modules)
{
    PyObject *list = NULL, *report = NULL, *json = NULL, *text = NULL, *r = NULL;
    char *copy = NULL, *save = NULL, *tok, *out = NULL;
    const char *s;

    list = PyList_New(0); /* new */
    copy = strdup(modules ? modules : "");
    if (!list || !copy)
        goto out;
    for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        PyObject *name = PyUnicode_FromString(tok); /* new */
        int rc = name ? PyList_Append(list, name) : -1;

        Py_XDECREF(name);
        if (rc < 0)
            goto out;
    }
    report = PyObject_CallMethod(rt->runner, "preload", "O", list); /* new */
    if (!report)
        goto out;
    json = PyImport_ImportModule("json");                                 /* new */
    text = json ? PyObject_CallMethod(json, "dumps", "O", report) : NULL; /* new */
    s = text ? PyUnicode_AsUTF8(text) : NULL;
    if (!s)
        goto out;
    /* Freeze everything imported so far: children never scan or copy-on-write it in a GC. */
    r = PyObject_CallMethod(rt->gc, "disable", NULL);
    Py_XDECREF(r);
    r = r ? PyObject_CallMethod(rt->gc, "freeze", NULL) : NULL;
    if (!r)
        goto out;
    out = strdup(s);
out:
    if (PyErr_Occurred())
        PyErr_Print();
    Py_XDECREF(r);
    Py_XDECREF(text);
    Py_XDECREF(json);
    Py_XDECREF(report);
    Py_XDECREF(list);
    free(copy);
    return out;
}

/* fork() or, with sibling, a clone whose parent is our parent (the zygote reaps it). */
static int pyrt_fork_as(struct pyrt *rt, bool sibling)
{
    PyObject *r;
    int pid, saved;

    /* Anything buffered here would be written twice, once by each side. */
    r = PyObject_CallMethod(PySys_GetObject("stdout"), "flush", NULL);
    Py_XDECREF(r);
    r = PyObject_CallMethod(PySys_GetObject("stderr"), "flush", NULL);
    Py_XDECREF(r);
    PyErr_Clear();
    fflush(NULL);
    PyOS_BeforeFork();
    pid = sibling ? (int)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0) : fork();
    saved = errno;
    if (pid == 0 && !sibling && rt->hot)
        heap_hot_populate(rt->hot); /* before the fork hooks: their pages are in the set */
    if (pid == 0)
        PyOS_AfterFork_Child();
    else
        PyOS_AfterFork_Parent();
    errno = saved;
    return pid;
}

void pyrt_set_prefault(struct pyrt *rt, const struct heap_hot *hot)
{
    rt->hot = hot;
}

int pyrt_fork(struct pyrt *rt)
{
    return pyrt_fork_as(rt, false);
}

int pyrt_fork_sibling(struct pyrt *rt)
{
    return pyrt_fork_as(rt, true);
}

/* Calls harness.session.<fn>(*args) (format fmt); returns the result (new) or NULL with the
 * Python error printed on our stderr. */
static PyObject *pyrt_session_call(struct pyrt *rt, const char *fn, const char *fmt, ...)
{
    PyObject *f = PyObject_GetAttrString(rt->session, fn), *args = NULL, *r = NULL;
    va_list ap;

    va_start(ap, fmt);
    args = f ? Py_VaBuildValue(fmt, ap) : NULL;
    va_end(ap);
    if (args && !PyTuple_Check(args)) {
        PyObject *t = PyTuple_Pack(1, args);

        Py_DECREF(args);
        args = t;
    }
    if (args)
        r = PyObject_CallObject(f, args);
    if (!r && PyErr_Occurred())
        PyErr_Print();
    Py_XDECREF(args);
    Py_XDECREF(f);
    return r;
}

int pyrt_session_start(struct pyrt *rt)
{
    PyObject *r = PyObject_CallMethod(rt->gc, "enable", NULL);

    Py_XDECREF(r);
    r = pyrt_session_call(rt, "start", "()");
    Py_XDECREF(r);
    return r ? 0 : -1;
}

unsigned pyrt_session_after_fork(struct pyrt *rt)
{
    PyObject *r = pyrt_session_call(rt, "after_fork", "()");
    unsigned bits = 0;

    (void)rt;
    for (Py_ssize_t i = 0; r && PyList_Check(r) && i < PyList_GET_SIZE(r); i++) {
        const char *name =
            PyUnicode_Check(PyList_GET_ITEM(r, i)) ? PyUnicode_AsUTF8(PyList_GET_ITEM(r, i)) : NULL;

        if (name && !strcmp(name, "random"))
            bits |= PYRT_RESEEDED_RANDOM;
        else if (name && !strcmp(name, "numpy"))
            bits |= PYRT_RESEEDED_NUMPY;
    }
    PyErr_Clear();
    Py_XDECREF(r);
    return bits;
}

int pyrt_run_cell(struct pyrt *rt, const char *spec, size_t len, int result_fd, int ctl_fd)
{
    PyObject *bytes = PyBytes_FromStringAndSize(spec, (Py_ssize_t)len), *r = NULL;
    long code = 70;

    if (bytes)
        r = pyrt_session_call(rt, "run_cell", "(Oii)", bytes, result_fd, ctl_fd);
    else
        PyErr_Clear();
    Py_XDECREF(bytes);
    if (r) {
        code = PyLong_AsLong(r);
        if (code == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            code = 70;
        }
    }
    Py_XDECREF(r);
    return (int)(code & 0xff);
}

int pyrt_run(struct pyrt *rt, const char *spec, size_t len, int result_fd)
{
    PyObject *bytes = NULL, *r = NULL, *gc_on = NULL;
    long code = 70;

    /* Children are short-lived but user code may build cycles: collect young objects again. */
    gc_on = PyObject_CallMethod(rt->gc, "enable", NULL);
    bytes = PyBytes_FromStringAndSize(spec, (Py_ssize_t)len); /* new */
    if (!gc_on || !bytes)
        goto out;
    r = PyObject_CallFunction(rt->run_fn, "Oi", bytes, result_fd); /* new */
    if (!r)
        goto out;
    code = PyLong_AsLong(r);
    if (code == -1 && PyErr_Occurred())
        code = 70;
out:
    if (PyErr_Occurred()) {
        /* The harness promises never to raise; if it did, say so on the execution's stderr. */
        PyErr_Print();
        code = 70;
    }
    Py_XDECREF(r);
    Py_XDECREF(bytes);
    Py_XDECREF(gc_on);
    return (int)(code & 0xff);
}

int pyrt_exec_text(struct pyrt *rt, const char *code)
{
    (void)rt;
    return PyRun_SimpleString(code) == 0 ? 0 : -1;
}

void pyrt_prewarm(struct pyrt *rt)
{
    /* "prewarm": the harness leaves threading and atexit as a real run expects them. */
    static const char spec[] = "{\"code\": \"x = [i for i in range(3)]\\nx\", "
                               "\"debug_mode\": true, \"base_env\": {}, \"prewarm\": true}";
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    (void)pyrt_run(rt, spec, sizeof(spec) - 1, fd);
    close(fd);
}

void pyrt_free(struct pyrt *rt)
{
    if (!rt)
        return;
    Py_XDECREF(rt->run_fn);
    Py_XDECREF(rt->runner);
    Py_XDECREF(rt->session);
    Py_XDECREF(rt->gc);
    free(rt);
}
