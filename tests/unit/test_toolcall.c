/* test_toolcall.c - the NVIDIA /execute contract: request parsing, the agent body and the
 * reply mapping, table-driven (STYLE §13: includes the .c files under test). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/scenario.c"
#include "../../common/ws_name.c"
#include "../../orchestrator/reqfields.c"
#include "../../orchestrator/toolcall.c"

struct parse_case {
    const char *body;
    int rc;
    const char *field;   /* expected e.field on error */
    const char *msg_has; /* substring of e.msg on error */
    const char *code;    /* expected code on success */
    const char *lang;    /* expected canonical language on success */
    double timeout;      /* expected timeout on success */
    long long max_chars; /* expected max_chars on success */
    int scenario;        /* 1 when a scenario is expected to be passed on */
};

#define OK(b, code, lang, t, mc, sc)                                                               \
    {                                                                                              \
        b, 0, NULL, NULL, code, lang, t, mc, sc                                                    \
    }
#define BAD(b, field, has)                                                                         \
    {                                                                                              \
        b, -ERR_INVALID, field, has, NULL, NULL, 0, 0, 0                                           \
    }

static const struct parse_case parse_cases[] = {
    OK("{\"timeout\":1,\"generated_code\":\"print(1)\"}", "print(1)", "python", 1, -1, 0),
    OK("{\"timeout\":1,\"code\":\"x=1\"}", "x=1", "python", 1, -1, 0),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"code\":\"b\"}", "a", "python", 1, -1, 0),
    /* One precedence in every dialect: generated_code wins, wherever it stands. */
    OK("{\"timeout\":1,\"code\":\"b\",\"generated_code\":\"a\"}", "a", "python", 1, -1, 0),
    OK("{\"timeout\":1,\"code\":\"s\",\"generated_code\":\"s\"}", "s", "python", 1, -1, 0),
    OK("{\"timeout\":1,\"generated_code\":null,\"code\":\"b\"}", "b", "python", 1, -1, 0),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"code\":5}", "a", "python", 1, -1, 0),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"env\":{\"A_1\":\"v\"},\"stdin\":null}", "a",
       "python", 1, -1, 0),
    OK("{\"generated_code\":\"\",\"timeout\":5}", "", "python", 5, -1, 0),
    OK("{\"generated_code\":\"a\",\"timeout\":0.5,\"language\":\"PY\"}", "a", "python", 0.5, -1, 0),
    OK("{\"generated_code\":\"a\",\"timeout\":300}", "a", "python", 300, -1, 0),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"language\":\"python3\"}", "a", "python", 1, -1,
       0),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"language\":\"c++\"}", "a", "cpp", 1, -1, 0),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"language\":\"cobol\"}", "a", "cobol", 1, -1, 0),
    OK("{\"generated_code\":\"a\",\"language\":null,\"timeout\":2}", "a", "python", 2, -1, 0),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"max_output_characters\":0}", "a", "python", 1, 0,
       0),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"max_output_characters\":100}", "a", "python", 1,
       100, 0),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"extra\":[1,2],\"stdin\":\"x\"}", "a", "python", 1,
       -1, 0),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"scenario\":{}}", "a", "python", 1, -1, 1),
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"scenario\":{\"jitterMs\":5,\"simulateCrash\":"
       "false}}",
       "a", "python", 1, -1, 1),
    /* The agent's execution fields are checked here and passed on (issue 13 item 4). */
    OK("{\"timeout\":1,\"generated_code\":\"a\",\"policy\":\"restricted\",\"debug_mode\":true,"
       "\"trace\":false,\"trace_limit\":5,\"repr_limit\":20,\"max_output_bytes\":9,"
       "\"input_data\":{\"k\":1},\"processor_id\":\"p1\"}",
       "a", "python", 1, -1, 0),
    /* The reference server requires a timeout (the toolkit's tests pin it). */
    BAD("{\"generated_code\":\"a\"}", "timeout", "missing field 'timeout'"),
    BAD("{\"generated_code\":\"a\",\"timeout\":null}", "timeout", "missing field 'timeout'"),
    BAD("{\"timeout\":1,\"generated_code\":\"a\",\"policy\":\"strict\"}", "policy",
        "\"standard\" or \"restricted\""),
    BAD("{\"timeout\":1,\"generated_code\":\"a\",\"debug_mode\":\"yes\"}", "debug_mode", "boolean"),
    BAD("{\"timeout\":1,\"generated_code\":\"a\",\"repr_limit\":1}", "repr_limit", "between"),
    BAD("{\"timeout\":1,\"generated_code\":\"a\",\"processor_id\":5}", "processor_id",
        "must be a string"),
    BAD("", "body", "empty"),
    BAD("hello", "body", "not valid JSON"),
    BAD("{", "body", "not valid JSON"),
    BAD("{\"generated_code\":\"a\",}", "body", "not valid JSON"),
    BAD("[]", "body", "must be a JSON object"),
    BAD("\"print(1)\"", "body", "must be a JSON object"),
    BAD("{\"generated_code\":\"a\",\"generated_code\":\"b\"}", "body", "duplicate"),
    BAD("{}", "generated_code", "missing field 'generated_code'"),
    BAD("{\"timeout\":5,\"language\":\"python\"}", "generated_code", "missing"),
    BAD("{\"generated_code\":null}", "generated_code", "missing"),
    BAD("{\"generated_code\":5}", "generated_code", "must be a string"),
    BAD("{\"generated_code\":[\"a\"]}", "generated_code", "must be a string"),
    BAD("{\"code\":\"b\",\"generated_code\":5}", "generated_code", "must be a string"),
    BAD("{\"generated_code\":null,\"code\":5}", "code", "must be a string"),
    /* stdin and env as the agent reads them (reqbody_env): refused before any agent is asked. */
    BAD("{\"generated_code\":\"a\",\"stdin\":5}", "stdin", "must be a string"),
    BAD("{\"generated_code\":\"a\",\"env\":[]}", "env", "must be an object"),
    BAD("{\"generated_code\":\"a\",\"env\":{\"A\":1}}", "env", "'A' must be a string"),
    BAD("{\"generated_code\":\"a\",\"env\":{\"A=B\":\"1\"}}", "env", "must match"),
    BAD("{\"code\":{}}", "code", "must be a string"),
    BAD("{\"generated_code\":\"a\",\"timeout\":\"5\"}", "timeout", "must be a number"),
    BAD("{\"generated_code\":\"a\",\"timeout\":0}", "timeout", "> 0"),
    BAD("{\"generated_code\":\"a\",\"timeout\":-1}", "timeout", "> 0"),
    BAD("{\"generated_code\":\"a\",\"timeout\":300.5}", "timeout", "<= 300"),
    BAD("{\"generated_code\":\"a\",\"timeout\":true}", "timeout", "must be a number"),
    BAD("{\"generated_code\":\"a\",\"language\":5}", "language", "must be a string"),
    BAD("{\"generated_code\":\"a\",\"language\":\"\"}", "language", "must not be empty"),
    BAD("{\"generated_code\":\"a\",\"language\":\"py thon\"}", "language", "character"),
    BAD("{\"generated_code\":\"a\",\"language\":\"abcdefghijklmnopqrstuvwxyzabcdefg\"}", "language",
        "longer"),
    BAD("{\"generated_code\":\"a\",\"max_output_characters\":-1}", "max_output_characters",
        "between"),
    BAD("{\"generated_code\":\"a\",\"max_output_characters\":1.5}", "max_output_characters",
        "integer"),
    BAD("{\"generated_code\":\"a\",\"max_output_characters\":\"9\"}", "max_output_characters",
        "integer"),
    BAD("{\"generated_code\":\"a\",\"scenario\":[]}", "scenario", "must be an object"),
    BAD("{\"generated_code\":\"a\",\"timeout\":1,\"workspace\":\"../x\"}", "workspace", "match"),
    BAD("{\"generated_code\":\"a\",\"timeout\":1,\"workspace\":7}", "workspace", "string"),
    BAD("{\"generated_code\":\"a\",\"scenario\":{\"latency\":1}}", "scenario.latency",
        "unknown scenario key 'latency'"),
    BAD("{\"generated_code\":\"a\",\"scenario\":{\"jitterMs\":-1}}", "scenario.jitterMs", ">= 0"),
};

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *t = &parse_cases[i];
        struct toolcall_req req;
        struct err e = {0};
        int rc = toolcall_parse(t->body, strlen(t->body), 300, &req, &e);

        if (rc != t->rc)
            fail_msg("case %zu %s: rc %d (%s: %s)", i, t->body, rc, e.field, e.msg);
        if (rc < 0) {
            if (strcmp(e.field, t->field) != 0 || !strstr(e.msg, t->msg_has))
                fail_msg("case %zu %s: field '%s' msg '%s'", i, t->body, e.field, e.msg);
            continue;
        }
        if (req.code_len != strlen(t->code) || memcmp(req.code, t->code, req.code_len) != 0 ||
            strcmp(req.language, t->lang) != 0 || req.timeout != t->timeout ||
            req.max_chars != t->max_chars || (req.scenario != NULL) != t->scenario)
            fail_msg("case %zu %s: code '%.*s' lang %s timeout %g max %lld", i, t->body,
                     (int)req.code_len, req.code, req.language, req.timeout, req.max_chars);
        toolcall_req_done(&req);
    }
}

static void test_parse_nul_in_code(void **state)
{
    static const char body[] = "{\"generated_code\":\"a\\u0000b\",\"timeout\":1}";
    struct toolcall_req req;

    (void)state;
    assert_int_equal(toolcall_parse(body, sizeof(body) - 1, 300, &req, NULL), 0);
    assert_int_equal(req.code_len, 3);
    assert_memory_equal(req.code, "a\0b", 3);
    toolcall_req_done(&req);
}

static void test_agent_body(void **state)
{
    static const char body[] = "{\"generated_code\":\"```\\nx\\n```\",\"timeout\":2,"
                               "\"max_output_characters\":10,\"stdin\":\"in\",\"env\":{\"A\":\"1\"}"
                               ",\"language\":\"py\"}";
    struct toolcall_req req;
    json_t *o;

    (void)state;
    assert_int_equal(toolcall_parse(body, sizeof(body) - 1, 300, &req, NULL), 0);
    o = toolcall_agent_body(&req, "x\n", 2);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "x\n");
    assert_string_equal(json_string_value(json_object_get(o, "language")), "python");
    assert_true(json_is_false(json_object_get(o, "debug_mode")));
    assert_true(json_number_value(json_object_get(o, "timeout")) == 2.0);
    assert_int_equal(json_integer_value(json_object_get(o, "max_output_bytes")), 10 * 4 + 64);
    assert_string_equal(json_string_value(json_object_get(o, "stdin")), "in");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "env"), "A")), "1");
    assert_null(json_object_get(o, "generated_code"));
    json_decref(o);
    toolcall_req_done(&req);

    /* No timeout, no limit: the agent's defaults apply. */
    assert_int_equal(toolcall_parse("{\"code\":\"y\",\"timeout\":1}", 24, 300, &req, NULL), 0);
    o = toolcall_agent_body(&req, "y", 1);
    assert_null(json_object_get(o, "max_output_bytes"));
    assert_null(json_object_get(o, "scenario"));
    json_decref(o);
    toolcall_req_done(&req);
}

/* The scenario reaches the agent unchanged (the agent applies it); its delay is known. */
static void test_agent_body_scenario(void **state)
{
    static const char body[] =
        "{\"code\":\"1\",\"timeout\":1,\"scenario\":{\"artificialDelayMs\":300,"
        "\"simulateCrash\":true,\"jitterMs\":null,"
        "\"allowHosts\":[\"*.example.com\",\"a.b:443\"]}}";
    struct toolcall_req req;
    json_t *o, *want;

    (void)state;
    assert_int_equal(toolcall_parse(body, sizeof(body) - 1, 300, &req, NULL), 0);
    assert_true(req.delay_s == 0.3);
    o = toolcall_agent_body(&req, "1", 1);
    want = json_loads(body, 0, NULL);
    assert_non_null(o);
    assert_true(json_equal(json_object_get(o, "scenario"), json_object_get(want, "scenario")));
    json_decref(o);
    json_decref(want);
    toolcall_req_done(&req);
}

struct reply_case {
    const char *result; /* agent ExecutionResult JSON */
    long long max_chars;
    const char *ps;
    const char *out;
    const char *err;
    bool truncated;
};

static const struct reply_case reply_cases[] = {
    {"{\"status\":\"completed\",\"stdout\":\"a\\n\",\"stderr\":\"\",\"error\":null}", -1,
     "completed", "a\n", "", false},
    {"{\"status\":\"failed\",\"stdout\":\"1\\n\",\"stderr\":\"Traceback (most recent call "
     "last):\\n  File \\\"<code>\\\", line 2, in <module>\\nZeroDivisionError: division by "
     "zero\\n\",\"error\":\"ZeroDivisionError: division by zero\"}",
     -1, "error", "1\n",
     "Traceback (most recent call last):\n  File \"<code>\", line 2, in <module>\n"
     "ZeroDivisionError: division by zero\n",
     false},
    {"{\"status\":\"failed\",\"stdout\":\"\",\"stderr\":\"\",\"error\":\"SystemExit: 3\"}", -1,
     "error", "", "SystemExit: 3\n", false},
    {"{\"status\":\"failed\",\"stdout\":\"\",\"stderr\":\"boom\",\"error\":\"Signal: SIGSEGV\"}",
     -1, "error", "", "boom\nSignal: SIGSEGV\n", false},
    {"{\"status\":\"timeout\",\"stdout\":\"5\\n\",\"stderr\":\"\",\"error\":\"TimeoutError: x\"}",
     -1, "timeout", "5\n", "Timed out\n", false},
    {"{\"status\":\"timeout\",\"stdout\":\"\",\"stderr\":\"warn\",\"error\":null}", -1, "timeout",
     "", "warn\nTimed out\n", false},
    {"{\"status\":\"timeout\",\"stdout\":\"abcdef\",\"stderr\":\"uvwxyz\"}", 3, "timeout",
     "abc<output cut>", "uvw<output cut>\nTimed out\n", true},
    {"{\"status\":\"cancelled\",\"stdout\":\"\",\"stderr\":\"\",\"error\":null}", -1, "error", "",
     "Cancelled\n", false},
    {"{\"status\":\"completed\",\"stdout\":\"h\\u00e9llo w\\u00f6rld\",\"stderr\":\"\"}", 3,
     "completed", "h\xc3\xa9l<output cut>", "", true},
    {"{\"status\":\"completed\",\"stdout\":\"abc\",\"stderr\":\"\"}", 0, "completed",
     "<output cut>", "", true},
    {"{\"status\":\"completed\",\"stdout\":\"abc\",\"stderr\":\"\"}", 3, "completed", "abc", "",
     false},
    {"{\"status\":\"completed\",\"stdout\":\"\",\"stderr\":\"\"}", 0, "completed", "", "", false},
    {"{\"status\":\"completed\",\"stdout\":\"\\ud83d\\ude00\\ud83d\\ude00x\",\"stderr\":\"\"}", 1,
     "completed", "\xf0\x9f\x98\x80<output cut>", "", true},
    {"{\"status\":\"completed\",\"stdout\":\"big<output cut>\",\"stderr\":\"\","
     "\"truncated\":true}",
     -1, "completed", "big<output cut>", "", true},
    /* A Python compile error reported as python3.11 -c does gets the traceback header the
     * reference server's traceback.format_exc() always writes; other languages do not. */
    {"{\"status\":\"failed\",\"language\":\"python\",\"stdout\":\"\",\"stderr\":\"  File "
     "\\\"<string>\\\", line 1\\n    print(\\n         ^\\nSyntaxError: '(' was never closed\\n\","
     "\"error\":\"SyntaxError: '(' was never closed (line 1)\"}",
     -1, "error", "",
     "Traceback (most recent call last):\n  File \"<string>\", line 1\n    print(\n         ^\n"
     "SyntaxError: '(' was never closed\n",
     false},
    {"{\"status\":\"failed\",\"language\":\"bash\",\"stdout\":\"\",\"stderr\":\"E: x\\n\","
     "\"error\":\"E: x\"}",
     -1, "error", "", "E: x\n", false},
    {"{\"status\":\"running\"}", -1, "error", "", "", false},
    {"{}", -1, "error", "", "", false},
};

static void test_reply_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
        const struct reply_case *t = &reply_cases[i];
        json_t *res = json_loads(t->result, 0, NULL), *o;

        assert_non_null(res);
        o = toolcall_reply(res, t->max_chars);
        assert_non_null(o);
        if (strcmp(json_string_value(json_object_get(o, "process_status")), t->ps) != 0 ||
            strcmp(json_string_value(json_object_get(o, "stdout")), t->out) != 0 ||
            strcmp(json_string_value(json_object_get(o, "stderr")), t->err) != 0 ||
            json_is_true(json_object_get(o, "truncated")) != t->truncated)
            fail_msg("case %zu: ps %s stdout '%s' stderr '%s' truncated %d", i,
                     json_string_value(json_object_get(o, "process_status")),
                     json_string_value(json_object_get(o, "stdout")),
                     json_string_value(json_object_get(o, "stderr")),
                     json_is_true(json_object_get(o, "truncated")));
        json_decref(o);
        json_decref(res);
    }
}

static void test_reply_extra_fields(void **state)
{
    json_t *res = json_loads("{\"status\":\"completed\",\"stdout\":\"\",\"stderr\":\"\","
                             "\"execution_id\":\"e1\",\"exit_code\":0,\"execution_time\":0.01,"
                             "\"language\":\"python\",\"result\":[1,2],\"debug_info\":null}",
                             0, NULL);
    json_t *o = toolcall_reply(res, -1);

    (void)state;
    assert_string_equal(json_string_value(json_object_get(o, "execution_id")), "e1");
    assert_int_equal(json_integer_value(json_object_get(o, "exit_code")), 0);
    assert_int_equal(json_array_size(json_object_get(o, "result")), 2);
    assert_null(json_object_get(o, "debug_info"));
    assert_null(json_object_get(o, "warnings"));
    assert_null(json_object_get(o, "scenario"));
    json_decref(o);
    json_decref(res);
}

/* Every execution field the agent takes reaches it as sent; an unknown one is a warning. */
static void test_agent_body_exec_fields(void **state)
{
    static const char body[] =
        "{\"code\":\"1\",\"timeout\":1,\"policy\":\"restricted\",\"debug_mode\":true,"
        "\"trace\":true,\"trace_limit\":5,\"repr_limit\":20,\"max_output_bytes\":9,"
        "\"max_output_characters\":100,\"input_data\":{\"k\":[1]},\"processor_id\":\"p1\","
        "\"files\":[{\"path\":\"a.txt\",\"content\":\"x\"}],\"collect\":[\"*.csv\"],"
        "\"lang\":\"js\",\"execution_id\":\"x\"}";
    static const char *const pass[] = {REQFIELDS_EXEC_NAMES};
    struct toolcall_req req;
    json_t *o, *want;

    (void)state;
    assert_int_equal(toolcall_parse(body, sizeof(body) - 1, 300, &req, NULL), 0);
    o = toolcall_agent_body(&req, "1", 1);
    want = json_loads(body, 0, NULL);
    assert_non_null(o);
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
        assert_true(json_equal(json_object_get(o, pass[i]), json_object_get(want, pass[i])));
    assert_null(json_object_get(o, "lang"));
    assert_int_equal(json_array_size(req.warnings), 2);
    assert_string_equal(json_string_value(json_array_get(req.warnings, 0)),
                        "unknown field 'lang' ignored (did you mean 'language'?)");
    assert_string_equal(json_string_value(json_array_get(req.warnings, 1)),
                        "unknown field 'execution_id' ignored");
    json_decref(o);
    json_decref(want);
    toolcall_req_done(&req);
}

/* debug_info comes back when the agent sent one (debug_mode or trace asked for it). */
static void test_reply_debug_info(void **state)
{
    json_t *res = json_loads("{\"status\":\"completed\",\"stdout\":\"\",\"stderr\":\"\","
                             "\"debug_info\":{\"variables_after\":{}}}",
                             0, NULL);
    json_t *o = toolcall_reply(res, -1);

    (void)state;
    assert_true(json_equal(json_object_get(o, "debug_info"), json_object_get(res, "debug_info")));
    json_decref(o);
    json_decref(res);
}

/* The agent's word on the scenario is passed on as it is. */
static void test_reply_scenario_fields(void **state)
{
    json_t *res = json_loads("{\"status\":\"failed\",\"stdout\":\"\",\"stderr\":\"\","
                             "\"error\":\"Signal: SIGSEGV\",\"scenario\":{\"simulateCrash\":true},"
                             "\"warnings\":[\"cpuLimit not applied\"],\"artificial_delay_s\":0.3,"
                             "\"network\":{\"bytes_up\":1,\"bytes_down\":2,\"connections\":1,"
                             "\"denied\":0,\"failed\":0}}",
                             0, NULL);
    json_t *o = toolcall_reply(res, -1);

    (void)state;
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "process_status")), "error");
    assert_true(json_equal(json_object_get(o, "scenario"), json_object_get(res, "scenario")));
    assert_true(json_equal(json_object_get(o, "warnings"), json_object_get(res, "warnings")));
    assert_true(json_equal(json_object_get(o, "network"), json_object_get(res, "network")));
    assert_true(json_number_value(json_object_get(o, "artificial_delay_s")) == 0.3);
    json_decref(o);
    json_decref(res);
}

static void test_char_prefix(void **state)
{
    (void)state;
    assert_int_equal(toolcall_char_prefix("abc", 3, -1), 3);
    assert_int_equal(toolcall_char_prefix("abc", 3, 0), 0);
    assert_int_equal(toolcall_char_prefix("abc", 3, 2), 2);
    assert_int_equal(toolcall_char_prefix("abc", 3, 5), 3);
    assert_int_equal(toolcall_char_prefix("\xc3\xa9\xc3\xa9", 4, 1), 2);
    assert_int_equal(toolcall_char_prefix("\xe2\x82\xac"
                                          "a",
                                          4, 1),
                     3);
    assert_int_equal(toolcall_char_prefix("\xf0\x9f\x98\x80"
                                          "a",
                                          5, 1),
                     4);
    /* A stray continuation byte at the start sticks to nothing and is kept with the first. */
    assert_int_equal(toolcall_char_prefix("\x80"
                                          "ab",
                                          3, 1),
                     2);
    assert_int_equal(toolcall_char_prefix("", 0, 3), 0);
}

static void test_process_status(void **state)
{
    (void)state;
    assert_string_equal(toolcall_process_status("completed"), "completed");
    assert_string_equal(toolcall_process_status("failed"), "error");
    assert_string_equal(toolcall_process_status("timeout"), "timeout");
    assert_string_equal(toolcall_process_status("cancelled"), "error");
    assert_string_equal(toolcall_process_status(NULL), "error");
}

/* The request's workspace wins over the default; "none" is none; only the default is optional
 * (an agent without workspaces runs the call anyway); the field is not an unknown one. */
static void test_workspace(void **state)
{
    static const char *const bodies[] = {"{\"code\":\"y\",\"timeout\":1}",
                                         "{\"code\":\"y\",\"timeout\":1,\"workspace\":\"mine\"}",
                                         "{\"code\":\"y\",\"timeout\":1,\"workspace\":\"none\"}"};
    static const struct {
        int body;
        const char *deflt, *want;
        bool optional;
    } cases[] = {{0, "toolcall", "toolcall", true},
                 {0, "none", NULL, false},
                 {0, NULL, NULL, false},
                 {1, "toolcall", "mine", false},
                 {1, "none", "mine", false},
                 {2, "toolcall", NULL, false}};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *b = bodies[cases[i].body], *name = "x";
        struct toolcall_req req;
        json_t *o;

        assert_int_equal(toolcall_parse(b, strlen(b), 300, &req, NULL), 0);
        assert_int_equal(json_array_size(req.warnings), 0);
        o = toolcall_agent_body(&req, "y", 1);
        assert_int_equal(toolcall_set_workspace(&req, cases[i].deflt, o, &name), 0);
        if (!cases[i].want) {
            assert_null(name);
            assert_null(json_object_get(o, "workspace"));
        } else {
            assert_string_equal(name, cases[i].want);
            assert_string_equal(json_string_value(json_object_get(o, "workspace")), cases[i].want);
        }
        assert_int_equal(json_is_true(json_object_get(o, "workspace_optional")), cases[i].optional);
        json_decref(o);
        toolcall_req_done(&req);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_nul_in_code),
        cmocka_unit_test(test_agent_body),
        cmocka_unit_test(test_reply_table),
        cmocka_unit_test(test_reply_extra_fields),
        cmocka_unit_test(test_agent_body_exec_fields),
        cmocka_unit_test(test_reply_debug_info),
        cmocka_unit_test(test_char_prefix),
        cmocka_unit_test(test_process_status),
        cmocka_unit_test(test_agent_body_scenario),
        cmocka_unit_test(test_reply_scenario_fields),
        cmocka_unit_test(test_workspace),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
