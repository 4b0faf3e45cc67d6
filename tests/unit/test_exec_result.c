/* test_exec_result.c - the ExecutionResult builder: one row per outcome (every exit_reason,
 * isolation set-up failure, lost zygote, missing, garbled and forged harness frames), checking
 * the fields the e2e tests (tests/e2e/test_agent_*.py) assert. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "../../agent/exec_result.c"

#define EXITED(code) ((code) << 8) /* a wait status */
#define KILLED(sig)  (sig)

#define SETUP_MSG                                                                                  \
    "AgentError: the execution's isolation set-up failed on this host before any code ran "        \
    "(the agent log says which layer)"

struct row {
    const char *name;
    bool has_status;       /* false: no record came */
    uint32_t flags;        /* enum zyg_status_flag */
    int wait_status;       /* raw */
    bool cancel_requested; /* a client cancelled it */
    const char *frame;     /* the harness frame, or NULL */
    bool out_cut, err_cut; /* streams cut at the cap */
    /* expected */
    const char *status;     /* ExecutionResult status */
    const char *reason;     /* exit_reason */
    int exit_code;          /* -1 = null */
    int sig;                /* 0 = null */
    const char *error;      /* exact, NULL = null */
    const char *error_type; /* NULL = null */
    bool lost;              /* lost_zygote */
};

static const struct row rows[] = {
    {"exited 0", true, 0, EXITED(0), false, "{\"result\": 42, \"debug_info\": {\"imports\": []}}",
     false, false, "completed", "exited", 0, 0, NULL, NULL, false},
    {"exited 1, the program's error", true, 0, EXITED(1), false,
     "{\"error\": \"ZeroDivisionError: division by zero\"}", false, false, "failed", "exited", 1, 0,
     "ZeroDivisionError: division by zero", "ZeroDivisionError", false},
    {"sys.exit(3)", true, 0, EXITED(3), false, "{\"error\": \"SystemExit: 3\"}", false, false,
     "failed", "exited", 3, 0, "SystemExit: 3", "SystemExit", false},
    {"exit 4 without a frame", true, 0, EXITED(4), false, NULL, false, false, "failed", "exited", 4,
     0, "ProcessExit: exited with code 4", "ProcessExit", false},
    {"segfault", true, 0, KILLED(SIGSEGV), false, NULL, false, false, "failed", "signaled", -1,
     SIGSEGV, "Signal: killed by signal 11 (SIGSEGV)", "Signal", false},
    {"abort", true, 0, KILLED(SIGABRT), false, "{\"error\": \"ignored\"}", false, false, "failed",
     "signaled", -1, SIGABRT, "Signal: killed by signal 6 (SIGABRT)", "Signal", false},
    {"timeout", true, ZYG_ST_TIMED_OUT, KILLED(SIGKILL), false, NULL, false, false, "timeout",
     "timeout", -1, 0, "TimeoutError: execution exceeded the 0.5 s timeout", "TimeoutError", false},
    {"compile phase timeout", true, ZYG_ST_TIMED_OUT | ZYG_ST_COMPILING, KILLED(SIGKILL), false,
     NULL, false, false, "timeout", "timeout", -1, 0,
     "TimeoutError: compilation exceeded its 10 s limit (the run had not started)", "TimeoutError",
     false},
    {"RLIMIT_CPU is a timeout", true, 0, KILLED(SIGXCPU), false, NULL, false, false, "failed",
     "timeout", -1, SIGXCPU, "Signal: killed by signal 24 (SIGXCPU)", "Signal", false},
    {"oom", true, ZYG_ST_OOM, KILLED(SIGKILL), false, NULL, false, false, "failed", "oom", -1,
     SIGKILL, "MemoryError: the execution ran out of memory (limit 256 MiB) and was killed",
     "MemoryError", false},
    {"oom after an exit", true, ZYG_ST_OOM, EXITED(1), false, NULL, false, false, "failed", "oom",
     1, 0, "MemoryError: the execution ran out of memory (limit 256 MiB) and was killed",
     "MemoryError", false},
    /* output_limit is not produced: output past the cap is cut, the run goes on (e2e
     * test_stdout_flood_is_cut wants completed + truncated). */
    {"output cut at the cap", true, 0, EXITED(0), false, NULL, true, false, "completed", "exited",
     0, 0, NULL, NULL, false},
    {"stderr cut at the cap", true, 0, EXITED(0), false, NULL, false, true, "completed", "exited",
     0, 0, NULL, NULL, false},
    {"compile_error", true, 0, EXITED(1), false,
     "{\"exit_reason\": \"compile_error\", \"error\": \"CompileError: main.c:1: expected ';'\"}",
     false, false, "failed", "compile_error", 1, 0, "CompileError: main.c:1: expected ';'",
     "CompileError", false},
    {"policy", true, 0, EXITED(1), false,
     "{\"exit_reason\": \"policy\", \"error\": \"PolicyViolation: import of 'os' is not allowed "
     "(line 1, col 0)\"}",
     false, false, "failed", "policy", 1, 0,
     "PolicyViolation: import of 'os' is not allowed (line 1, col 0)", "PolicyViolation", false},
    {"cancelled while running", true, ZYG_ST_CANCELLED, KILLED(SIGKILL), true, NULL, false, false,
     "cancelled", "cancelled", -1, 0, "Cancelled: the execution was cancelled", "Cancelled", false},
    {"cancelled before it started", false, 0, 0, true, NULL, false, false, "cancelled", "cancelled",
     -1, 0, NULL, NULL, false},
    {"isolation set-up failed", true, ZYG_ST_SETUP_FAILED, EXITED(127), false, NULL, false, false,
     "failed", "internal", -1, 0, SETUP_MSG, "AgentError", false},
    {"set-up failed but timed out", true, ZYG_ST_SETUP_FAILED | ZYG_ST_TIMED_OUT, KILLED(SIGKILL),
     false, NULL, false, false, "timeout", "timeout", -1, 0,
     "TimeoutError: execution exceeded the 0.5 s timeout", "TimeoutError", false},
    {"spawn failed", true, ZYG_ST_SPAWN_FAILED, 0, false, NULL, false, false, "failed", "internal",
     -1, 0, "AgentError: could not start the execution", "AgentError", false},
    {"lost zygote", false, 0, 0, false, NULL, false, false, "failed", "internal", -1, 0,
     "AgentError: the execution was lost because the zygote died; retry", "AgentError", true},
    /* The frame is the program's: it cannot turn a success into a failure or pick a reason. */
    {"forged frame on exit 0", true, 0, EXITED(0), false,
     "{\"status\": \"failed\", \"exit_reason\": \"policy\", \"error\": \"Forged: x\"}", false,
     false, "completed", "exited", 0, 0, NULL, NULL, false},
    {"forged reason on exit 1", true, 0, EXITED(1), false,
     "{\"exit_reason\": \"oom\", \"error\": \"ValueError: boom\"}", false, false, "failed",
     "exited", 1, 0, "ValueError: boom", "ValueError", false},
    {"garbled frame", true, 0, EXITED(1), false, "{\"error\": \"Zero", false, false, "failed",
     "exited", 1, 0, "ProcessExit: exited with code 1", "ProcessExit", false},
    {"frame not an object", true, 0, EXITED(2), false, "[\"ValueError: x\"]", false, false,
     "failed", "exited", 2, 0, "ProcessExit: exited with code 2", "ProcessExit", false},
    {"empty error in the frame", true, 0, EXITED(1), false, "{\"error\": \"\"}", false, false,
     "failed", "exited", 1, 0, "ProcessExit: exited with code 1", "ProcessExit", false},
    {"error without a label", true, 0, EXITED(1), false, "{\"error\": \"no label here\"}", false,
     false, "failed", "exited", 1, 0, "no label here", NULL, false},
};

static struct zyg_status row_status(const struct row *r)
{
    struct zyg_status st = {.wait_status = r->wait_status,
                            .flags = r->flags,
                            .cpu_us = 250000,
                            .max_rss_kb = 12345,
                            .wall_us = 1500000};

    return st;
}

static struct exec_result_in row_in(const struct row *r, const struct zyg_status *st)
{
    struct exec_result_in in = {
        .id = "0b7e4f7a-3c1e-4f0e-9a55-1f2e3d4c5b6a",
        .language = "python",
        .processor_id = "proc-1",
        .st = r->has_status ? st : NULL,
        .cancel_requested = r->cancel_requested,
        .frame = r->frame,
        .frame_len = r->frame ? strlen(r->frame) : 0,
        .out = {"out\n", 4, r->out_cut},
        .err = {"err\n", 4, r->err_cut},
        .timeout_s = 0.5,
        .compile_ms = 10000,
        .memory_mb = 256,
        .created_real_ns = 1700000000000000000LL,
        .start_real_ns = 1700000000100000000LL,
        .end_real_ns = 1700000002100000000LL,
    };

    return in;
}

/* An integer member, or -1 when null; a member of another type fails. */
static int int_or_null(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    assert_non_null(v);
    if (json_is_null(v))
        return -1;
    assert_true(json_is_integer(v));
    return (int)json_integer_value(v);
}

static void check_str_or_null(json_t *o, const char *key, const char *want, const char *row)
{
    json_t *v = json_object_get(o, key);

    assert_non_null(v);
    if (!want) {
        if (!json_is_null(v))
            fail_msg("%s: %s is '%s', want null", row, key, json_string_value(v));
        return;
    }
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
        fail_msg("%s: %s is '%s', want '%s'", row, key, json_string_value(v), want);
}

static void check_row(const struct row *r)
{
    struct zyg_status st = row_status(r);
    struct exec_result_in in = row_in(r, &st);
    struct exec_result_outcome oc = {0};
    json_t *o = exec_result_build(&in, &oc);
    int sig;

    assert_non_null(o);
    assert_string_equal(oc.status, r->status);
    assert_int_equal(oc.lost_zygote, r->lost);
    check_str_or_null(o, "status", r->status, r->name);
    check_str_or_null(o, "exit_reason", r->reason, r->name);
    check_str_or_null(o, "error", r->error, r->name);
    check_str_or_null(o, "error_type", r->error_type, r->name);
    if (int_or_null(o, "exit_code") != r->exit_code)
        fail_msg("%s: exit_code %d, want %d", r->name, int_or_null(o, "exit_code"), r->exit_code);
    sig = int_or_null(o, "signal");
    if (sig != (r->sig ? r->sig : -1))
        fail_msg("%s: signal %d, want %d", r->name, sig, r->sig);
    assert_true(json_is_true(json_object_get(o, "truncated")) == (r->out_cut || r->err_cut));
    assert_true(json_is_true(json_object_get(o, "stdout_truncated")) == r->out_cut);
    assert_true(json_is_true(json_object_get(o, "stderr_truncated")) == r->err_cut);
    check_str_or_null(o, "stdout", r->out_cut ? "out\n\n<output cut>" : "out\n", r->name);
    check_str_or_null(o, "stderr", r->err_cut ? "err\n\n<output cut>" : "err\n", r->name);
    assert_true(json_equal(json_object_get(o, "output"), json_object_get(o, "stdout")));
    check_str_or_null(o, "execution_id", in.id, r->name);
    check_str_or_null(o, "language", "python", r->name);
    check_str_or_null(o, "processor_id", "proc-1", r->name);
    /* Only the frame gives result and debug_info, and only a valid object frame. */
    if (r->frame && !strcmp(r->name, "exited 0")) {
        assert_int_equal(json_integer_value(json_object_get(o, "result")), 42);
        assert_true(json_is_object(json_object_get(o, "debug_info")));
    } else {
        assert_true(json_is_null(json_object_get(o, "result")));
        assert_true(json_is_null(json_object_get(o, "debug_info")));
    }
    assert_null(json_object_get(o, "scenario"));
    /* No outputs in any row's frame: an empty list, nothing dropped. */
    assert_true(json_is_array(json_object_get(o, "outputs")));
    assert_int_equal(json_array_size(json_object_get(o, "outputs")), 0);
    assert_true(json_is_false(json_object_get(o, "outputs_truncated")));
    assert_int_equal(json_integer_value(json_object_get(o, "outputs_dropped")), 0);
    json_decref(o);
}

static void test_exec_result_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        check_row(&rows[i]);
}

/* Every exit_reason the builder produces has a row (output_limit: see the table). */
static void test_exec_result_table_covers_every_reason(void **state)
{
    static const char *const reasons[] = {"exited",        "signaled",  "timeout", "oom",
                                          "compile_error", "cancelled", "policy",  "internal"};

    (void)state;
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        bool found = false;

        for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++)
            found = found || !strcmp(rows[k].reason, reasons[i]);
        if (!found)
            fail_msg("no row for exit_reason %s", reasons[i]);
    }
}

static void test_exec_result_times_and_resources(void **state)
{
    struct zyg_status st = row_status(&rows[0]);
    struct exec_result_in in = row_in(&rows[0], &st);
    struct exec_result_outcome oc;
    json_t *o, *res;

    (void)state;
    o = exec_result_build(&in, &oc);
    assert_non_null(o);
    /* The zygote's wall time, not the agent's view of it. */
    assert_true(json_real_value(json_object_get(o, "execution_time")) == 1.5);
    check_str_or_null(o, "start_time", "2023-11-14T22:13:20.100000Z", "times");
    res = json_object_get(o, "resources");
    assert_true(json_real_value(json_object_get(res, "cpu_time_s")) == 0.25);
    assert_int_equal(json_integer_value(json_object_get(res, "max_rss_kb")), 12345);
    json_decref(o);
    /* Never started: the start time is the submission's. */
    in.st = NULL;
    in.cancel_requested = true;
    in.start_real_ns = 0;
    o = exec_result_build(&in, &oc);
    check_str_or_null(o, "start_time", "2023-11-14T22:13:20.000000Z", "times");
    assert_true(json_real_value(json_object_get(json_object_get(o, "resources"), "cpu_time_s")) ==
                0);
    /* ... and it took no time (not the seconds since 1970). */
    assert_true(json_real_value(json_object_get(o, "execution_time")) == 0);
    json_decref(o);
}

static void test_exec_result_scenario(void **state)
{
    struct zyg_status st = row_status(&rows[0]);
    struct exec_result_in in = row_in(&rows[0], &st);
    struct exec_result_outcome oc;
    json_t *o;

    (void)state;
    in.scenario = json_pack("{s:i}", "artificialDelayMs", 500);
    in.delay_ms = 500;
    in.warnings = json_pack("[s]", "cpuLimit: no cgroup");
    in.network = json_pack("{s:i}", "bytes_up", 7);
    o = exec_result_build(&in, &oc);
    assert_non_null(o);
    assert_true(json_equal(json_object_get(o, "scenario"), in.scenario));
    assert_true(json_equal(json_object_get(o, "warnings"), in.warnings));
    assert_true(json_equal(json_object_get(o, "network"), in.network));
    assert_true(json_real_value(json_object_get(o, "artificial_delay_s")) == 0.5);
    /* The delay is the scenario's, not the code's. */
    assert_true(json_real_value(json_object_get(o, "execution_time")) == 1.0);
    json_decref(o);
    /* No warnings: an empty list, still present. */
    json_decref(in.warnings);
    in.warnings = NULL;
    o = exec_result_build(&in, &oc);
    assert_int_equal(json_array_size(json_object_get(o, "warnings")), 0);
    json_decref(o);
    json_decref(in.scenario);
    json_decref(in.network);
}

/* A huge error is cut on a character boundary; bad UTF-8 in output stays valid JSON. */
static void test_exec_result_long_error_and_bad_utf8(void **state)
{
    static const char bad[] = {'a', (char)0xff, 'b'};
    struct zyg_status st = {.wait_status = EXITED(1)};
    struct exec_result_in in = row_in(&rows[0], &st);
    struct exec_result_outcome oc;
    json_t *frame = json_object(), *o;
    char *msg = malloc(16 + 2 * 3000), *text;
    const char *err;
    size_t len = 0;

    (void)state;
    assert_non_null(msg);
    len += (size_t)sprintf(msg, "ValueError: ");
    for (int i = 0; i < 3000; i++) {
        memcpy(msg + len, "\xc3\xa9", 2); /* é */
        len += 2;
    }
    json_object_set_new(frame, "error", json_stringn(msg, len));
    text = json_dumps(frame, JSON_COMPACT);
    in.frame = text;
    in.frame_len = strlen(text);
    in.out = (struct exec_result_text){bad, sizeof(bad), false};
    o = exec_result_build(&in, &oc);
    assert_non_null(o);
    err = json_string_value(json_object_get(o, "error"));
    assert_non_null(err);
    assert_true(strlen(err) <= EXEC_RESULT_ERROR_MAX + strlen(" ... (cut)"));
    assert_true(strlen(err) > EXEC_RESULT_ERROR_MAX - 2);
    assert_string_equal(err + strlen(err) - strlen(" ... (cut)"), " ... (cut)");
    assert_memory_equal(err, "ValueError: \xc3\xa9", 14);
    check_str_or_null(o, "error_type", "ValueError", "long error");
    check_str_or_null(o, "stdout",
                      "a\xef\xbf\xbd"
                      "b",
                      "bad utf-8");
    json_decref(o);
    json_decref(frame);
    free(text);
    free(msg);
}

/* NUL and invalid bytes come back (NUL as is, invalid as U+FFFD) and the replacement is
 * flagged per stream; a character the cap cut in two is dropped, not replaced. */
static void test_exec_result_bytes_flagged(void **state)
{
    static const char out[] = {'a', 0, 'b', (char)0xfe};
    static const char err[] = {'x', (char)0xe2, (char)0x82}; /* the first 2 bytes of a euro */
    struct zyg_status st = {.wait_status = EXITED(0)};
    struct exec_result_in in = row_in(&rows[0], &st);
    struct exec_result_outcome oc;
    json_t *o, *v;

    (void)state;
    in.out = (struct exec_result_text){out, sizeof(out), false};
    in.err = (struct exec_result_text){err, sizeof(err), true};
    o = exec_result_build(&in, &oc);
    assert_non_null(o);
    v = json_object_get(o, "stdout");
    assert_int_equal(json_string_length(v), 6);
    assert_memory_equal(json_string_value(v), "a\0b\xef\xbf\xbd", 6);
    assert_true(json_is_true(json_object_get(o, "stdout_replaced")));
    check_str_or_null(o, "stderr", "x" EXEC_RESULT_OUTPUT_CUT, "cut euro");
    assert_true(json_is_false(json_object_get(o, "stderr_replaced")));
    json_decref(o);
}

/* What the agent keeps (streams apart, the frame's parts detached as text) gives back the result
 * built in one go: the encoder's text, member for member; the kept fields (the summary) are the
 * same but for the big ones; debug_info comes back from the kept text. */
static void check_kept(struct exec_result_in in, const char *name)
{
    static const char *const big[] = {"stdout",      "stderr",     "output", "result",
                                      "result_type", "debug_info", "outputs"};
    struct exec_result_outcome oc;
    json_t *whole = exec_result_build(&in, &oc), *kept, *dbg, *enc;
    char *extras = NULL;
    size_t len = 0;
    struct buf b;

    in.streams_apart = true;
    kept = exec_result_build(&in, &oc);
    assert_non_null(whole);
    assert_non_null(kept);
    assert_null(json_object_get(kept, "stdout"));
    assert_int_equal(exec_result_detach(kept, &extras, &len), 0);
    assert_true(extras != NULL && len > 0); /* result and debug_info, null or not */
    dbg = exec_result_debug_info(kept, extras, len);
    buf_init(&b, 0);
    assert_int_equal(exec_result_encode(kept, extras, len, &in.out, &in.err, &b), 0);
    enc = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL);
    if (json_is_null(json_object_get(whole, "debug_info"))
            ? dbg != NULL
            : !json_equal(dbg, json_object_get(whole, "debug_info")))
        fail_msg("%s: debug_info does not come back", name);
    if (!json_equal(enc, whole))
        fail_msg("%s: the encoded result differs from the one built whole: %.300s", name, b.data);
    for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++) {
        assert_null(json_object_get(kept, big[k]));
        json_object_del(whole, big[k]);
    }
    if (!json_equal(kept, whole))
        fail_msg("%s: the kept fields differ from the result without its big ones", name);
    buf_done(&b);
    free(extras);
    json_decref(whole);
    json_decref(kept);
    json_decref(dbg);
    json_decref(enc);
}

static void test_exec_result_kept_views(void **state)
{
    static const char out[] = {'a', 0, 'b', (char)0xfe, '"', '\\', 1, '\n'};
    static const char err[] = {'x', (char)0xe2, (char)0x82}; /* the first 2 bytes of a euro */
    struct zyg_status st = {.wait_status = EXITED(0)};
    struct exec_result_in in = row_in(&rows[0], &st);

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct zyg_status rs = row_status(&rows[i]);

        check_kept(row_in(&rows[i], &rs), rows[i].name);
    }
    /* NUL, invalid UTF-8, quotes, control bytes; a character the cap cut in two. */
    in.out = (struct exec_result_text){out, sizeof(out), false};
    in.err = (struct exec_result_text){err, sizeof(err), true};
    check_kept(in, "bytes");
    in.out = (struct exec_result_text){NULL, 0, true};
    in.err = (struct exec_result_text){NULL, 0, false};
    check_kept(in, "empty");
    in.frame = "{\"result\": 1, \"outputs\": [{\"type\": \"display_data\", \"data\": "
               "{\"text/html\": \"<b>\\u00e9\\\"</b>\"}}], \"outputs_truncated\": true}";
    in.frame_len = strlen(in.frame);
    check_kept(in, "outputs");
}

/* A frame that cannot be read (a second frame after a forged one, an integer past int64)
 * never hides the program's own error: stderr's last line gives it, and the loss is named. */
static void test_exec_result_unreadable_frame(void **state)
{
    static const char tb[] = "Traceback (most recent call last):\n  File \"<string>\", line 3\n"
                             "ZeroDivisionError: division by zero\n";
    static const char *const frames[] = {
        "{\"result\": 100000000000000000000}",
        "{\"result\": 1}{\"error\": \"ZeroDivisionError: division by zero\"}",
        "[1]",
    };
    struct zyg_status st = {.wait_status = EXITED(1)};
    struct exec_result_in in = row_in(&rows[0], &st);
    struct exec_result_outcome oc;

    (void)state;
    in.err = (struct exec_result_text){tb, strlen(tb), false};
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        json_t *o;

        in.frame = frames[i];
        in.frame_len = strlen(frames[i]);
        o = exec_result_build(&in, &oc);
        assert_non_null(o);
        check_str_or_null(o, "status", "failed", frames[i]);
        check_str_or_null(o, "error", "ZeroDivisionError: division by zero", frames[i]);
        check_str_or_null(o, "error_type", "ZeroDivisionError", frames[i]);
        assert_int_equal(json_integer_value(json_object_get(o, "exit_code")), 1);
        assert_non_null(
            strstr(json_string_value(json_object_get(o, "report_error")), "could not be read"));
        assert_true(json_is_null(json_object_get(o, "result")));
        json_decref(o);
    }
    /* Unreadable and stderr says nothing labelled: the exit code. */
    in.err = (struct exec_result_text){"boom\n", 5, false};
    {
        json_t *o = exec_result_build(&in, &oc);

        check_str_or_null(o, "error", "ProcessExit: exited with code 1", "no label");
        json_decref(o);
    }
    /* A readable frame never gets a report_error. */
    in.frame = "{\"error\": \"ValueError: x\"}";
    in.frame_len = strlen(in.frame);
    {
        json_t *o = exec_result_build(&in, &oc);

        check_str_or_null(o, "error", "ValueError: x", "readable");
        assert_null(json_object_get(o, "report_error"));
        json_decref(o);
    }
}

/* The frame's outputs, built from frame text: outputs, outputs_truncated, outputs_dropped. */
static json_t *outputs_of(const char *frame, bool *truncated, json_int_t *dropped)
{
    struct zyg_status st = {.wait_status = EXITED(0)};
    struct exec_result_in in = row_in(&rows[0], &st);
    struct exec_result_outcome oc;
    json_t *o, *list;

    in.frame = frame;
    in.frame_len = strlen(frame);
    o = exec_result_build(&in, &oc);
    assert_non_null(o);
    assert_null(json_object_get(o, "report_error"));
    list = json_incref(json_object_get(o, "outputs"));
    assert_true(json_is_array(list));
    *truncated = json_is_true(json_object_get(o, "outputs_truncated"));
    *dropped = json_integer_value(json_object_get(o, "outputs_dropped"));
    json_decref(o);
    return list;
}

/* Items with a bundle's shape pass, member by member; anything else the program wrote there is
 * dropped and counted, with what the harness dropped itself. */
static void test_exec_result_outputs_shape(void **state)
{
    static const char frame[] =
        "{\"outputs\": ["
        "{\"type\": \"display_data\", \"data\": {\"image/png\": \"iVBO\", \"text/plain\": "
        "\"<Figure>\"}, \"metadata\": {\"image/png\": {\"width\": 640, \"height\": 480, "
        "\"x\": \"y\"}, \"text/plain\": {\"width\": -1}, \"other/x\": {\"width\": 3}}, "
        "\"extra\": \"dropped\"},"
        "{\"type\": \"execute_result\", \"data\": {\"application/vnd.plotly.v1+json\": "
        "\"{}\"}, \"truncated\": true, \"metadata\": [1]},"
        "{\"type\": \"stream\", \"data\": {\"text/plain\": \"x\"}},"
        "{\"type\": \"display_data\", \"data\": {\"text/plain\": 1}},"
        "{\"type\": \"display_data\", \"data\": {\"notamime\": \"x\"}},"
        "{\"type\": \"display_data\", \"data\": {\"a/b/c\": \"x\"}},"
        "{\"type\": \"display_data\", \"data\": {\"text/pl ain\": \"x\"}},"
        "{\"type\": \"display_data\", \"data\": {}},"
        "{\"type\": \"display_data\", \"data\": {\"text/plain\": {\"a\": \"b\"}}},"
        "\"a string\"], \"outputs_dropped\": 2, \"outputs_truncated\": true}";
    static const char want[] =
        "[{\"type\": \"display_data\", \"data\": {\"image/png\": \"iVBO\", \"text/plain\": "
        "\"<Figure>\"}, \"metadata\": {\"image/png\": {\"width\": 640, \"height\": 480}}},"
        "{\"type\": \"execute_result\", \"data\": {\"application/vnd.plotly.v1+json\": "
        "\"{}\"}, \"metadata\": {}, \"truncated\": true}]";
    static const char *const forged[] = {
        "{\"outputs\": {\"type\": \"display_data\"}}",
        "{\"outputs\": \"x\", \"outputs_dropped\": -5}",
        "{\"outputs\": [], \"outputs_dropped\": 1e3, \"outputs_truncated\": 1}",
    };
    json_t *list, *expect = json_loads(want, 0, NULL);
    json_int_t dropped;
    bool truncated;

    (void)state;
    list = outputs_of(frame, &truncated, &dropped);
    if (!json_equal(list, expect)) {
        char *text = json_dumps(list, 0);

        fail_msg("outputs passed on: %s", text);
    }
    assert_true(truncated);
    assert_int_equal(dropped, 2 + 8);
    json_decref(list);
    json_decref(expect);
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        list = outputs_of(forged[i], &truncated, &dropped);
        assert_int_equal(json_array_size(list), 0);
        assert_int_equal(dropped, i < 2 ? 1 : 0);
        assert_true(truncated == (i < 2));
        json_decref(list);
    }
}

/* At most EXEC_RESULT_OUTPUTS_MAX items and EXEC_RESULT_OUTPUTS_MAX_BYTES of strings pass. */
static void test_exec_result_outputs_caps(void **state)
{
    static const char item[] = "{\"type\": \"display_data\", \"data\": {\"text/plain\": \"x\"}}";
    size_t big = 9u << 20; /* four of them are over the bytes cap */
    char *image = malloc(big);
    json_int_t dropped;
    bool truncated;
    struct buf b;
    json_t *list;

    (void)state;
    assert_non_null(image);
    memset(image, 'A', big);
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "{\"outputs\": [", 13), 0);
    for (int i = 0; i < EXEC_RESULT_OUTPUTS_MAX + 3; i++)
        assert_int_equal(buf_printf(&b, "%s%s", i ? "," : "", item), 0);
    assert_int_equal(buf_append(&b, "]}", 2), 0);
    list = outputs_of(b.data, &truncated, &dropped);
    assert_int_equal(json_array_size(list), EXEC_RESULT_OUTPUTS_MAX);
    assert_int_equal(dropped, 3);
    assert_true(truncated);
    json_decref(list);
    b.len = 0;
    assert_int_equal(buf_append(&b, "{\"outputs\": [", 13), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(
            buf_printf(&b, "{\"type\": \"display_data\", \"data\": {\"image/png\": \""), 0);
        assert_int_equal(buf_append(&b, image, big), 0);
        assert_int_equal(buf_append(&b, "\"}},", 4), 0);
    }
    assert_int_equal(buf_printf(&b, "%s]}", item), 0); /* a small one after: it fits */
    list = outputs_of(b.data, &truncated, &dropped);
    assert_int_equal(json_array_size(list), 4);
    assert_int_equal(dropped, 1);
    assert_true(truncated);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(list, 3), "data"), "text/plain")),
                        "x");
    json_decref(list);
    buf_done(&b);
    free(image);
}

/* Pending and running executions answer a placeholder with the fields clients poll. */
static void test_exec_result_pending(void **state)
{
    json_t *o;

    (void)state;
    o = exec_result_pending("id-1", "python", NULL, false, 1700000000000000000LL);
    assert_non_null(o);
    check_str_or_null(o, "status", "pending", "pending");
    check_str_or_null(o, "processor_id", NULL, "pending");
    check_str_or_null(o, "start_time", "2023-11-14T22:13:20.000000Z", "pending");
    assert_true(json_is_null(json_object_get(o, "end_time")));
    assert_true(json_is_null(json_object_get(o, "error")));
    assert_true(json_is_null(json_object_get(o, "result")));
    assert_true(json_is_null(json_object_get(o, "exit_code")));
    json_decref(o);
    o = exec_result_pending("id-1", "python", "proc-1", true, 1700000000000000000LL);
    check_str_or_null(o, "status", "running", "running");
    check_str_or_null(o, "processor_id", "proc-1", "running");
    check_str_or_null(o, "execution_id", "id-1", "running");
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_result_table),
        cmocka_unit_test(test_exec_result_table_covers_every_reason),
        cmocka_unit_test(test_exec_result_times_and_resources),
        cmocka_unit_test(test_exec_result_scenario),
        cmocka_unit_test(test_exec_result_long_error_and_bad_utf8),
        cmocka_unit_test(test_exec_result_bytes_flagged),
        cmocka_unit_test(test_exec_result_unreadable_frame),
        cmocka_unit_test(test_exec_result_kept_views),
        cmocka_unit_test(test_exec_result_pending),
        cmocka_unit_test(test_exec_result_outputs_shape),
        cmocka_unit_test(test_exec_result_outputs_caps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
