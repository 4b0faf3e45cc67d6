/* kernel_chan.c - a kernel's WebSockets and cells (see kernel_mgr.h, docs/kernels.md): Jupyter
 * messages in, the cell run as its session's, its result out as iopub and shell messages, and
 * the cell's side channel for input() and its error record.
 *
 * The side channel is the cell's stdin: one end of a socketpair (the other end watched by the
 * hub). The cell sends records, kind (1 byte) + big-endian length (4) + JSON: 'I' {"prompt",
 * "password"} asks for a line, 'E' {"ename", "evalue", "traceback"} is its uncaught exception.
 * We answer an 'I' with the length (4) and the line, or 0xffffffff when the request had
 * allow_stdin false. Nothing the cell sends is trusted beyond "show this prompt" and "show
 * this error": each record is bounded (KERNEL_REC_MAX), checked, and a malformed one ends the
 * channel (the cell's next read sees EOF). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fdio.h"
#include "kernel_int.h"
#include "kernel_route.h"

/* What ws_hub_attach carries to on_open. */
struct kopen {
    struct kernel_mgr *km;
    char id[IDS_UUID_LEN + 1];
};

static int kernel_send_text(struct kconn *kc, json_t *msg)
{
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    int r = text ? ws_conn_send_text(kc->c, text, strlen(text)) : -ENOMEM;

    free(text);
    return r;
}

void kernel_send(struct kernel *k, struct kconn *kc, json_t *msg)
{
    if (kc) {
        (void)kernel_send_text(kc, msg);
    } else {
        char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;

        for (kc = k->conns; kc && text; kc = kc->next)
            (void)ws_conn_send_text(kc->c, text, strlen(text));
        free(text);
    }
    json_decref(msg);
}

void kernel_iopub(struct kernel *k, const char *type, json_t *parent, json_t *content)
{
    kernel_send(k, NULL, kmsg_new(type, "iopub", parent, content, k->session));
}

/* A reply on the request's own channel, to the connection that sent it. */
static void kernel_reply(struct kernel *k, struct kconn *kc, const struct kmsg_in *m,
                         const char *type, json_t *content)
{
    json_t *msg = kmsg_new(type, m->channel, m->header, content, k->session);

    if (kc)
        kernel_send(k, kc, msg);
    else
        json_decref(msg);
}

static void kernel_queued_free(struct kqueued *q)
{
    if (q) {
        kmsg_in_done(&q->m);
        free(q);
    }
}

void kernel_abort_queue(struct kernel *k)
{
    struct kqueued **pp = &k->queue;

    while (*pp) {
        struct kqueued *q = *pp;

        if (strcmp(q->m.type, "execute_request") != 0) {
            pp = &q->next;
            continue;
        }
        *pp = q->next;
        kernel_reply(k, q->origin, &q->m, "execute_reply", kmsg_aborted(k->count));
        kernel_queued_free(q);
        k->queued--;
    }
    for (k->tail = k->queue; k->tail && k->tail->next;)
        k->tail = k->tail->next;
}

/* ---------------------------------------------------------------- the side channel */

/* Ends the side channel (ours; the cell's copy goes with the cell). */
static void kernel_side_close(struct kernel *k)
{
    if (k->sock >= 0) {
        ws_hub_unwatch(k->km->hub, k->sock);
        close(k->sock);
        k->sock = -1;
    }
    k->input_wait = false;
    buf_done(&k->rec);
    buf_init(&k->rec, KERNEL_REC_MAX + 5);
}

/* Answers the cell's input request: the line, or refused (line NULL). */
static void kernel_side_answer(struct kernel *k, const char *line, size_t len)
{
    uint32_t head = htonl(line ? (uint32_t)len : 0xffffffffu);
    char *out = malloc(4 + len);

    k->input_wait = false;
    if (!out || k->sock < 0) {
        free(out);
        return;
    }
    memcpy(out, &head, 4);
    if (line)
        memcpy(out + 4, line, len);
    /* The socket's buffer is empty (the cell waits for this): a short write means a cell that
     * does not play by the rules, which loses its channel. */
    if (send(k->sock, out, 4 + len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)(4 + len))
        kernel_side_close(k);
    free(out);
}

/* The harness's error record, kept when it has the right shape. */
static void kernel_side_error(struct kernel *k, const char *data, size_t len)
{
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL), *tb, *line;
    size_t i;
    bool ok = json_is_object(o) && json_is_string(json_object_get(o, "ename")) &&
              json_is_string(json_object_get(o, "evalue")) &&
              json_is_array(tb = json_object_get(o, "traceback")) && json_object_size(o) == 3;

    json_array_foreach(ok ? tb : NULL, i, line) ok = ok && json_is_string(line);
    if (!ok) {
        json_decref(o);
        return;
    }
    json_decref(k->err_rec);
    k->err_rec = o;
}

/* The cell asks for a line. */
static void kernel_side_input(struct kernel *k, const char *data, size_t len)
{
    json_t *content = kmsg_input_request(data, len);

    if (!content || !k->cell) {
        json_decref(content);
        kernel_side_close(k);
        return;
    }
    if (!k->ef.allow_stdin || !k->cell->origin) {
        json_decref(content);
        kernel_side_answer(k, NULL, 0);
        return;
    }
    k->input_wait = true;
    kernel_send(k, k->cell->origin,
                kmsg_new("input_request", "stdin", k->cell->m.header, content, k->session));
}

/* Handles the whole records in k->rec. False when the channel was closed. */
static bool kernel_side_records(struct kernel *k)
{
    while (k->rec.len >= 5 && !k->input_wait) {
        uint32_t n;
        char kind = k->rec.data[0];

        memcpy(&n, k->rec.data + 1, 4);
        n = ntohl(n);
        if (n > KERNEL_REC_MAX || (kind != 'I' && kind != 'E')) {
            kernel_side_close(k);
            return false;
        }
        if (k->rec.len < 5 + (size_t)n)
            break;
        if (kind == 'E')
            kernel_side_error(k, k->rec.data + 5, n);
        else
            kernel_side_input(k, k->rec.data + 5, n);
        if (k->sock < 0)
            return false;
        memmove(k->rec.data, k->rec.data + 5 + n, k->rec.len - 5 - n);
        k->rec.len -= 5 + n;
    }
    return true;
}

/* Reads what the cell sent (hub thread: a watch, or the cell's end). */
static void kernel_side_read(void *arg, uint32_t events)
{
    struct kernel *k = arg;
    char chunk[16384];

    (void)events;
    while (k->sock >= 0) {
        ssize_t n = recv(k->sock, chunk, sizeof(chunk), MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0 || buf_append(&k->rec, chunk, (size_t)n) < 0) {
            kernel_side_close(k); /* the cell closed it, or sent more than a record holds */
            return;
        }
        if (!kernel_side_records(k))
            return;
    }
}

/* ---------------------------------------------------------------- cells */

static void kernel_cell_done_task(void *arg);

/* Sends n bytes of a stream as it comes, a cut UTF-8 character kept for the next chunk. */
static void kernel_stream(struct kernel *k, int i, const char *p, size_t n, bool last)
{
    static const char *const names[] = {"stdout", "stderr"};
    size_t have = k->carry_len[i], whole;
    char *all = malloc(have + n + 1);

    if (!all)
        return;
    memcpy(all, k->carry[i], have);
    if (n)
        memcpy(all + have, p, n);
    whole = last ? have + n : kmsg_utf8_whole(all, have + n);
    k->carry_len[i] = have + n - whole;
    memcpy(k->carry[i], all + whole, k->carry_len[i]);
    if (whole)
        kernel_iopub(k, "stream", k->cell ? k->cell->m.header : NULL,
                     kmsg_stream(names[i], all, whole));
    free(all);
}

/* Streams the cell's new output (hub thread); last: the cell is over. */
static void kernel_live_flush(struct kernel *k, bool last)
{
    struct exec_live l = {0};

    if (!k->ex || exec_mgr_live_read(k->km->mgr, k->ex, &k->cursor, &l) < 0)
        return;
    if (l.out_len || (last && k->carry_len[0]))
        kernel_stream(k, 0, l.out, l.out_len, last);
    if (l.err_len || (last && k->carry_len[1]))
        kernel_stream(k, 1, l.err, l.err_len, last);
    exec_live_done(&l);
}

static void kernel_live_task(void *arg)
{
    struct kernel *k = arg;

    atomic_store(&k->live_posted, false);
    if (k->ex)
        kernel_live_flush(k, false);
    else
        kernel_maybe_free(k);
}

/* The execution manager's watcher (its thread, its lock held): one task at a time queued. */
static void kernel_live_cb(void *arg)
{
    struct kernel *k = arg;

    if (!atomic_exchange(&k->live_posted, true) && ws_hub_post(k->km->hub, kernel_live_task, k) < 0)
        atomic_store(&k->live_posted, false);
}

/* The execution manager's callback (its thread, its lock held): on to the hub. */
static void kernel_exec_cb(void *arg)
{
    struct kernel *k = arg;

    if (ws_hub_post(k->km->hub, kernel_cell_done_task, k) < 0)
        k->pending--;
}

/* A request that could not run: busy, error, its reply, idle. */
static void kernel_cell_refused(struct kernel *k, struct kqueued *q, const char *ename,
                                const char *evalue)
{
    json_t *err =
        json_pack("{s:s, s:s, s:[s]}", "ename", ename, "evalue", evalue, "traceback", evalue);
    json_t *fake = json_pack("{s:s, s:s}", "status", "failed", "error", evalue);

    kernel_iopub(k, "status", q->m.header, kmsg_status("busy"));
    kernel_iopub(k, "error", q->m.header, json_deep_copy(err));
    kernel_reply(k, q->origin, &q->m, "execute_reply", kmsg_execute_reply(fake, k->count, err));
    kernel_iopub(k, "status", q->m.header, kmsg_status("idle"));
    json_decref(err);
    json_decref(fake);
}

/* The cell's request as the session's execute body would be. 0 or -ERR_*. */
static int kernel_cell_req(struct kernel *k, const char *code, struct exec_req *req, struct err *e)
{
    json_t *body = json_pack("{s:s, s:f}", "code", code, "timeout", k->km->lim->max_timeout);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = text ? exec_req_parse(text, strlen(text), k->km->lim, req, e)
                  : err_set(e, ERR_BUSY, NULL, "out of memory");

    free(text);
    json_decref(body);
    return rc;
}

/* Starts q (an execute_request) as the session's next cell. True when q is the cell's now (or
 * queued again behind a fresh session); false when it could not start (answered, q the
 * caller's to free). */
static bool kernel_cell_start(struct kernel *k, struct kqueued *q)
{
    struct exec_req req;
    struct sess_cell c = {0};
    struct err e = {0};
    int sv[2];

    if (kmsg_execute_fields(&q->m, &k->ef, &e) < 0 ||
        kernel_cell_req(k, k->ef.code, &req, &e) < 0) {
        kernel_cell_refused(k, q, "ValueError", e.msg);
        return false;
    }
    if (sess_mgr_begin_cell(k->km->sm, k->sess, &c, &e) < 0) {
        exec_req_done(&req);
        if ((e.code == ERR_GONE || e.code == ERR_NOT_FOUND) && kernel_start_session(k, &e) == 0) {
            /* Its session ended while idle (the reaper, --session-idle-s): a fresh one, as a
             * Kernel Gateway restarts a dead kernel; q runs once it is up. */
            kernel_iopub(k, "status", NULL, kmsg_status("restarting"));
            q->next = k->queue;
            k->queue = q;
            if (!k->tail)
                k->tail = q;
            k->queued++;
            return true;
        }
        kernel_cell_refused(k, q, "KernelError", e.msg);
        return false;
    }
    json_decref(c.env); /* a kernel's session has no environment of its own */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        ws_hub_watch(k->km->hub, sv[0], EPOLLIN, kernel_side_read, k) < 0) {
        exec_req_done(&req);
        sess_mgr_end_cell(k->km->sm, k->sess);
        kernel_cell_refused(k, q, "KernelError", "out of descriptors");
        return false;
    }
    k->sock = sv[0];
    k->child_sock = sv[1];
    req.session_no = c.no;
    snprintf(req.session_id, sizeof(req.session_id), "%s", c.workspace);
    req.execution_count = c.execution_count;
    req.session_memory_mb = c.memory_mb;
    req.policy = c.policy;
    req.kernel_sock = k->child_sock;
    k->count = c.execution_count;
    k->cell = q;
    k->state = KS_BUSY;
    kernel_iopub(k, "status", q->m.header, kmsg_status("busy"));
    kernel_iopub(
        k, "execute_input", q->m.header,
        json_pack("{s:s, s:I}", "code", k->ef.code, "execution_count", (json_int_t)k->count));
    if (exec_mgr_submit_take(k->km->mgr, &req, &k->ex, &e) < 0) {
        sess_mgr_end_cell(k->km->sm, k->sess);
        k->ex = NULL;
        k->cell = NULL;
        k->state = KS_IDLE;
        kernel_side_close(k);
        close(k->child_sock);
        k->child_sock = -1;
        kernel_reply(k, q->origin, &q->m, "execute_reply",
                     json_pack("{s:s, s:I, s:s, s:s, s:[s]}", "status", "error", "execution_count",
                               (json_int_t)k->count, "ename", "KernelError", "evalue", e.msg,
                               "traceback", e.msg));
        kernel_iopub(k, "status", q->m.header, kmsg_status("idle"));
        return false;
    }
    sess_mgr_cell_started(k->km->sm, k->sess, exec_seq(k->ex));
    memset(&k->cursor, 0, sizeof(k->cursor));
    k->carry_len[0] = k->carry_len[1] = 0;
    (void)exec_mgr_watch(k->km->mgr, k->ex, kernel_live_cb, k); /* false: all comes at the end */
    k->pending++;
    if (exec_mgr_set_waiter(k->km->mgr, k->ex, kernel_exec_cb, k, 0)) {
        k->pending--;
        if (ws_hub_post(k->km->hub, kernel_cell_done_task, k) == 0)
            k->pending++;
    }
    return true;
}

/* After a cell: its session still alive? A dead one is replaced (as a Kernel Gateway restarts
 * a kernel that died). */
static void kernel_after_cell(struct kernel *k)
{
    struct err e = {0};
    json_t *o = sess_mgr_get(k->km->sm, k->sess, &e);
    const char *state = json_string_value(json_object_get(o, "state"));

    k->state = KS_IDLE;
    if (!o || (state && !strcmp(state, "dead"))) {
        kernel_iopub(k, "status", NULL, kmsg_status("restarting"));
        if (kernel_start_session(k, &e) < 0)
            k->state = KS_DEAD;
    } else if (state && !strcmp(state, "starting")) {
        k->state = KS_STARTING; /* restarted while the cell ran: its up task pumps */
    }
    json_decref(o);
}

static void kernel_cell_done_task(void *arg)
{
    struct kernel *k = arg;
    struct kqueued *q = k->cell;
    json_t *result = NULL, *msgs, *pair, *parent = q ? q->m.header : NULL;
    size_t len = 0, i;
    char *text;
    bool failed;

    k->pending--;
    if (!k->ex)
        return;
    kernel_side_read(k, EPOLLIN); /* the error record came before the cell's end */
    exec_mgr_unwatch(k->km->mgr, k->ex, k);
    kernel_live_flush(k, true);
    text = exec_result_text(k->km->mgr, k->ex, true, &len);
    if (text)
        result = json_loadb(text, len, JSON_ALLOW_NUL, NULL); /* stdout may hold NUL */
    free(text);
    if (!result)
        result = json_pack("{s:s, s:s}", "status", "failed", "error",
                           "KernelError: the cell's result could not be read");
    msgs = kmsg_result_iopub(result, k->count, k->err_rec, true);
    json_array_foreach(msgs, i, pair) kernel_iopub(k, json_string_value(json_array_get(pair, 0)),
                                                   parent, json_incref(json_array_get(pair, 1)));
    json_decref(msgs);
    failed = strcmp(json_string_value(json_object_get(result, "status")) ?: "", "completed") != 0 ||
             json_is_string(json_object_get(result, "error"));
    if (q)
        kernel_reply(k, q->origin, &q->m, "execute_reply",
                     kmsg_execute_reply(result, k->count, k->err_rec));
    kernel_iopub(k, "status", parent, kmsg_status("idle"));
    json_decref(result);
    json_decref(k->err_rec);
    k->err_rec = NULL;
    kernel_side_close(k);
    if (k->child_sock >= 0)
        close(k->child_sock);
    k->child_sock = -1;
    exec_unref(k->ex);
    k->ex = NULL;
    k->cell = NULL;
    k->last_activity = time(NULL);
    if (k->deleted) {
        kernel_queued_free(q);
        kernel_maybe_free(k);
        return;
    }
    if (failed && k->ef.stop_on_error)
        kernel_abort_queue(k);
    kernel_queued_free(q);
    kernel_after_cell(k);
    kernel_pump(k);
}

/* ---------------------------------------------------------------- requests */

/* The replies of requests that need no cell (IPython's, minimal). NULL: not one of them. */
static json_t *kernel_quick_reply(struct kernel *k, const struct kmsg_in *m, const char **type)
{
    const char *t = m->type;

    if (!strcmp(t, "kernel_info_request")) {
        *type = "kernel_info_reply";
        return kmsg_kernel_info(k->km->python);
    }
    if (!strcmp(t, "is_complete_request")) {
        *type = "is_complete_reply";
        return json_pack("{s:s}", "status", "unknown");
    }
    if (!strcmp(t, "complete_request")) {
        json_t *pos = json_object_get(m->content, "cursor_pos");

        *type = "complete_reply";
        return json_pack("{s:s, s:[], s:O?, s:O?, s:{}}", "status", "ok", "matches", "cursor_start",
                         pos, "cursor_end", pos, "metadata");
    }
    if (!strcmp(t, "inspect_request")) {
        *type = "inspect_reply";
        return json_pack("{s:s, s:b, s:{}, s:{}}", "status", "ok", "found", 0, "data", "metadata");
    }
    if (!strcmp(t, "history_request")) {
        *type = "history_reply";
        return json_pack("{s:s, s:[]}", "status", "ok", "history");
    }
    if (!strcmp(t, "comm_info_request")) {
        *type = "comm_info_reply";
        return json_pack("{s:s, s:{}}", "status", "ok", "comms");
    }
    return NULL;
}

/* A shell request that needs no cell: busy, the reply, idle (as IPython publishes them). */
static void kernel_quick(struct kernel *k, struct kqueued *q)
{
    const char *type = NULL;
    json_t *content = kernel_quick_reply(k, &q->m, &type);

    if (!content)
        return; /* unknown to us: IPython ignores it too */
    kernel_iopub(k, "status", q->m.header, kmsg_status("busy"));
    kernel_reply(k, q->origin, &q->m, type, content);
    kernel_iopub(k, "status", q->m.header, kmsg_status("idle"));
}

void kernel_pump(struct kernel *k)
{
    while (k->state == KS_IDLE && !k->ex && k->queue) {
        struct kqueued *q = k->queue;

        k->queue = q->next;
        if (!k->queue)
            k->tail = NULL;
        k->queued--;
        q->next = NULL;
        if (!strcmp(q->m.type, "execute_request") && kernel_cell_start(k, q))
            return; /* q is the cell's now */
        if (strcmp(q->m.type, "execute_request") != 0)
            kernel_quick(k, q);
        kernel_queued_free(q);
    }
}

/* shutdown_request: the reply, then a restart or the end of the session. */
static void kernel_shutdown(struct kernel *k, struct kconn *kc, const struct kmsg_in *m)
{
    bool restart = json_is_true(json_object_get(m->content, "restart"));
    struct err e = {0};

    kernel_reply(k, kc, m, "shutdown_reply",
                 json_pack("{s:s, s:b}", "status", "ok", "restart", restart));
    (void)sess_mgr_kill(k->km->sm, k->sess, NULL);
    kernel_abort_queue(k);
    if (restart) {
        kernel_iopub(k, "status", NULL, kmsg_status("restarting"));
        if (kernel_start_session(k, &e) == 0)
            return;
    }
    k->state = KS_DEAD;
    kernel_iopub(k, "status", NULL, kmsg_status("dead"));
}

/* A message on the control channel: answered at once, even while a cell runs. */
static void kernel_control(struct kernel *k, struct kconn *kc, const struct kmsg_in *m)
{
    const char *type = NULL;
    json_t *content;

    if (!strcmp(m->type, "interrupt_request")) {
        (void)sess_mgr_interrupt(k->km->sm, k->sess, NULL);
        kernel_reply(k, kc, m, "interrupt_reply", json_pack("{s:s}", "status", "ok"));
    } else if (!strcmp(m->type, "shutdown_request")) {
        kernel_shutdown(k, kc, m);
    } else if ((content = kernel_quick_reply(k, m, &type))) {
        kernel_reply(k, kc, m, type, content);
    }
}

/* input_reply: the line for the cell waiting in input(). */
static void kernel_stdin(struct kernel *k, const struct kmsg_in *m)
{
    const char *value = json_string_value(json_object_get(m->content, "value"));
    size_t len = value ? strlen(value) : 0;

    if (strcmp(m->type, "input_reply") != 0 || !k->input_wait)
        return;
    if (len > KERNEL_INPUT_MAX)
        len = KERNEL_INPUT_MAX;
    kernel_side_answer(k, value ? value : "", len);
    (void)kernel_side_records(k); /* a record that came while we waited */
}

static void kernel_on_message(struct ws_conn *c, const char *data, size_t len, bool binary)
{
    struct kconn *kc = ws_conn_data(c);
    struct kqueued *q;
    struct err e = {0};
    struct kernel *k;

    if (!kc)
        return;
    if (binary) {
        ws_conn_close(c, 1003, "only the JSON text form of Jupyter messages is spoken here");
        return;
    }
    k = kc->k;
    q = calloc(1, sizeof(*q));
    if (!q || kmsg_parse(data, len, &q->m, &e) < 0) {
        free(q);
        return; /* not a Jupyter message: ignored, as a kernel ignores what it cannot read */
    }
    k->last_activity = time(NULL);
    q->origin = kc;
    if (!strcmp(q->m.channel, "control") || !strcmp(q->m.channel, "stdin")) {
        if (!strcmp(q->m.channel, "control"))
            kernel_control(k, kc, &q->m);
        else
            kernel_stdin(k, &q->m);
        kernel_queued_free(q);
        return;
    }
    if (k->queued >= KERNEL_QUEUE_MAX || k->state == KS_DEAD) {
        if (!strcmp(q->m.type, "execute_request"))
            kernel_reply(k, kc, &q->m, "execute_reply", kmsg_aborted(k->count));
        kernel_queued_free(q);
        return;
    }
    if (k->tail)
        k->tail->next = q;
    else
        k->queue = q;
    k->tail = q;
    k->queued++;
    kernel_pump(k);
}

static void kernel_on_open(void *arg, struct ws_conn *c)
{
    struct kopen *o = arg;
    struct kernel *k = c ? kernel_find(o->km, o->id) : NULL;
    struct kconn *kc = k && k->state != KS_DEAD ? calloc(1, sizeof(*kc)) : NULL;

    if (c && !kc)
        ws_conn_close(c, 1011, k ? "out of memory" : "the kernel is gone");
    if (kc) {
        kc->c = c;
        kc->k = k;
        kc->next = k->conns;
        k->conns = kc;
        k->nconns++;
        ws_conn_set_data(c, kc);
    }
    free(o);
}

/* Drops every pointer to kc, then kc. */
static void kernel_conn_unlink(struct kconn *kc)
{
    struct kernel *k = kc->k;

    for (struct kconn **pp = &k->conns; *pp; pp = &(*pp)->next) {
        if (*pp == kc) {
            *pp = kc->next;
            k->nconns--;
            break;
        }
    }
    for (struct kqueued *q = k->queue; q; q = q->next) {
        if (q->origin == kc)
            q->origin = NULL;
    }
    if (k->cell && k->cell->origin == kc)
        k->cell->origin = NULL;
    ws_conn_set_data(kc->c, NULL);
    free(kc);
}

static void kernel_on_close(struct ws_conn *c, uint16_t code)
{
    struct kconn *kc = ws_conn_data(c);

    (void)code;
    if (kc)
        kernel_conn_unlink(kc);
}

const struct ws_conn_ops kernel_chan_ops = {
    .on_open = kernel_on_open,
    .on_message = kernel_on_message,
    .on_close = kernel_on_close,
};

void *kernel_open_arg(struct kernel_mgr *km, const char *id)
{
    struct kopen *o = calloc(1, sizeof(*o));

    if (o) {
        o->km = km;
        snprintf(o->id, sizeof(o->id), "%s", id);
    }
    return o;
}

void kernel_close_conns(struct kernel *k, const char *why)
{
    while (k->conns) {
        struct ws_conn *c = k->conns->c;

        kernel_conn_unlink(k->conns);
        ws_conn_close(c, 1000, why);
    }
}

void kernel_chan_done(struct kernel *k)
{
    kernel_close_conns(k, "the kernel is gone");
    while (k->queue) {
        struct kqueued *q = k->queue;

        k->queue = q->next;
        kernel_queued_free(q);
    }
    k->tail = NULL;
    k->queued = 0;
    kernel_side_close(k);
    buf_done(&k->rec);
    if (k->child_sock >= 0)
        close(k->child_sock);
    k->child_sock = -1;
    kernel_queued_free(k->cell);
    k->cell = NULL;
    json_decref(k->err_rec);
    k->err_rec = NULL;
}
