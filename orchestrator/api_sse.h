/* api_sse.h - a synchronous run streamed as server-sent events (docs/orchestrator.md "Live
 * output"): the agent's event stream passed through, with a bounded queue between the two. */
#ifndef SANDPIT_API_SSE_H
#define SANDPIT_API_SSE_H

#include "api_int.h"
#include "dispatch.h"

/* Runs body (borrowed) on an agent serving lang and streams its events to r; errors before
 * the run starts are JSON. sticky as api_run_take's. key: the API key index whose keys_begin
 * the caller took (or -1); it is given back (keys_end) when the agent's transfer ends. Suspends
 * r; returns what the handler returns. */
enum MHD_Result api_sse_run_take(struct api *a, struct http_req *r, const char *lang, json_t *body,
                                 double timeout, double delay_s, const char *sticky,
                                 long keepalive_ms, int key);

/* GET /api/logs/{id}?follow=1: the job's log lines as "log" events as they are added (looked at
 * every API_FOLLOW_MS on the upstream loop), then at its end "result" (the logs view: status,
 * logs, result with stdout and stderr) and "end". first is the job's logs view now (taken). */
#define API_FOLLOW_MS 100
enum MHD_Result api_follow_take(struct api *a, struct http_req *r, const char *id, json_t *first);

#endif
