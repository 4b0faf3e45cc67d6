/* api_files.h - GET /execution/{id}/files/{path}: a file an execution collected, from the
 * agent's file store (exec_files.h), while its result is kept. */
#ifndef SANDPIT_API_FILES_H
#define SANDPIT_API_FILES_H

#include <stdbool.h>

#include "exec_mgr.h"
#include "http_srv.h"

#define API_FILES_ENDPOINT "GET /execution/{id}/files/{path}" /* for GET / */

/* Answers r when its URL is a file download (returns true with *res set); false when it is not
 * one (the caller routes it). */
bool api_files_route(struct exec_mgr *mgr, struct http_req *r, enum MHD_Result *res);

#endif
