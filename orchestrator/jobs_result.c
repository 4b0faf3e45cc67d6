/* jobs_result.c - a job's result object from the agent's ExecutionResult (see jobs_result.h). */
#include "jobs_result.h"

#include <string.h>

#include "files_map.h"
#include "files_spec.h"
#include "json_util.h"

/* A borrowed string member of o, or "" when absent: new reference. */
static json_t *jobs_result_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_incref(v) : json_string("");
}

/* ExecutionResult fields copied into a job's result when present: the scenario's outcome and
 * whether invalid UTF-8 in a stream was replaced. */
static const char *const jobs_result_copied_keys[] = {"scenario", "network", "artificial_delay_s",
                                                      "stdout_replaced", "stderr_replaced"};

json_t *jobs_result_new(json_t *res, const char *error, const char *exec_id, const char *agent_url,
                        double run_ms)
{
    json_t *code = json_object_get(res, "exit_code"), *t = json_object_get(res, "execution_time");
    const char *reason = json_string_value(json_object_get(res, "exit_reason"));
    double ms = json_is_number(t) ? json_number_value(t) * 1000 : run_ms;
    json_t *o = json_object();

    if (!o)
        return NULL;
    /* error may quote agent text cut mid-character: json_util_set_text keeps it valid. */
    if (json_object_set_new(o, "output", jobs_result_str(res, "stdout")) < 0 ||
        json_object_set_new(o, "stdout", jobs_result_str(res, "stdout")) < 0 ||
        json_object_set_new(o, "stderr", jobs_result_str(res, "stderr")) < 0 ||
        json_object_set_new(o, "exitCode",
                            json_is_integer(code) ? json_incref(code) : json_null()) < 0 ||
        (error ? json_util_set_text(o, "error", error, strlen(error))
               : json_object_set_new(o, "error", json_null())) < 0 ||
        json_object_set_new(o, "durationMs", json_real((double)(long long)(ms * 1000) / 1000)) <
            0 ||
        json_object_set_new(o, "warnings",
                            json_is_array(json_object_get(res, "warnings"))
                                ? json_incref(json_object_get(res, "warnings"))
                                : json_array()) < 0 ||
        json_object_set_new(o, "executionId", *exec_id ? json_string(exec_id) : json_null()) < 0 ||
        json_object_set_new(o, "exitReason", reason ? json_string(reason) : json_null()) < 0 ||
        json_object_set_new(o, "agent", *agent_url ? json_string(agent_url) : json_null()) < 0) {
        json_decref(o);
        return NULL;
    }
    /* The files it collected, downloadable through us (files_map.h). */
    if (files_spec_copy(res, o, FILES_MAP_PREFIX) < 0) {
        json_decref(o);
        return NULL;
    }
    /* What the agent made of the scenario, as it said it. */
    for (size_t i = 0; i < sizeof(jobs_result_copied_keys) / sizeof(jobs_result_copied_keys[0]);
         i++) {
        json_t *v = json_object_get(res, jobs_result_copied_keys[i]);

        if (v && json_object_set(o, jobs_result_copied_keys[i], v) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    /* Asked for with debug_mode or trace (null otherwise, and then left out). */
    if (json_is_object(json_object_get(res, "debug_info")) &&
        json_object_set(o, "debug_info", json_object_get(res, "debug_info")) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
