/* zyg_proto.c - encode/decode of the zygote protocol; pure, no I/O. */
#include "zyg_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Header: magic, type, body length. */
static int zyg_proto_hdr(uint8_t *out, size_t size, uint32_t type, size_t body_len)
{
    if (size < ZYG_HDR_SIZE + body_len || body_len > ZYG_MAX_MSG - ZYG_HDR_SIZE)
        return -ENOBUFS;
    put32(out, ZYG_MAGIC);
    put32(out + 4, type);
    put32(out + 8, (uint32_t)body_len);
    return ZYG_HDR_SIZE;
}

#define ZYG_JOB_NU32 11
#define ZYG_JOB_BODY (8 + 4 * ZYG_JOB_NU32 + ZYG_EXEC_ID_MAX + 8)

/* The job's 32-bit fields in wire order. */
static void zyg_proto_job_fields(struct zyg_job *job, uint32_t *f[ZYG_JOB_NU32])
{
    uint32_t *const all[ZYG_JOB_NU32] = {&job->timeout_ms, &job->flags,          &job->compile_ms,
                                         &job->delay_ms,   &job->crash_after_ms, &job->leak_mb_s,
                                         &job->cpu_millis, &job->memory_mb,      &job->pids,
                                         &job->disk_mb,    &job->ws_uid};

    memcpy(f, all, sizeof(all));
}

int zyg_proto_encode_job(const struct zyg_job *job, uint8_t *out, size_t size)
{
    int h = zyg_proto_hdr(out, size, ZYG_MSG_JOB, ZYG_JOB_BODY);
    uint8_t *p = out + ZYG_HDR_SIZE;
    struct zyg_job copy = *job;
    uint32_t *f[ZYG_JOB_NU32];

    if (h < 0)
        return h;
    zyg_proto_job_fields(&copy, f);
    put64(p, job->job_id);
    for (int i = 0; i < ZYG_JOB_NU32; i++)
        put32(p + 8 + 4 * i, *f[i]);
    p += 8 + 4 * ZYG_JOB_NU32;
    memset(p, 0, ZYG_EXEC_ID_MAX);
    memcpy(p, job->exec_id, strnlen(job->exec_id, ZYG_EXEC_ID_MAX - 1));
    put64(p + ZYG_EXEC_ID_MAX, job->session_no);
    return ZYG_HDR_SIZE + ZYG_JOB_BODY;
}

int zyg_proto_encode_cancel(uint64_t job_id, uint8_t *out, size_t size)
{
    int h = zyg_proto_hdr(out, size, ZYG_MSG_CANCEL, 8);

    if (h < 0)
        return h;
    put64(out + ZYG_HDR_SIZE, job_id);
    return ZYG_HDR_SIZE + 8;
}

int zyg_proto_encode_ready(const char *json, size_t len, uint8_t *out, size_t size)
{
    return zyg_proto_encode_text(ZYG_MSG_READY, json, len, out, size);
}

int zyg_proto_encode_text(int type, const char *json, size_t len, uint8_t *out, size_t size)
{
    int h = zyg_proto_hdr(out, size, (uint32_t)type, len);

    if (h < 0)
        return h;
    memcpy(out + ZYG_HDR_SIZE, json, len);
    return (int)(ZYG_HDR_SIZE + len);
}

int zyg_proto_decode_hdr(const uint8_t *buf, size_t len, const uint8_t **body, size_t *body_len)
{
    uint32_t type, blen;

    if (len < ZYG_HDR_SIZE || get32(buf) != ZYG_MAGIC)
        return -EBADMSG;
    type = get32(buf + 4);
    blen = get32(buf + 8);
    if (blen != len - ZYG_HDR_SIZE)
        return -EBADMSG;
    if (type < ZYG_MSG_JOB || type > ZYG_MSG_SESS_EVENT)
        return -EBADMSG;
    *body = buf + ZYG_HDR_SIZE;
    *body_len = blen;
    return (int)type;
}

/* The length of a NUL-terminated id in a ZYG_EXEC_ID_MAX field, or -EBADMSG. The id names a
 * directory: only [0-9a-zA-Z-] so it can never walk out of the work root. */
static int zyg_proto_id_len(const char *id)
{
    size_t n = strnlen(id, ZYG_EXEC_ID_MAX);

    if (n == 0 || n == ZYG_EXEC_ID_MAX)
        return -EBADMSG;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-'))
            return -EBADMSG;
    }
    return (int)n;
}

int zyg_proto_decode_job(const uint8_t *body, size_t len, struct zyg_job *job)
{
    const char *id = (const char *)body + 8 + 4 * ZYG_JOB_NU32;
    uint32_t *f[ZYG_JOB_NU32];
    int n;

    if (len != ZYG_JOB_BODY || (n = zyg_proto_id_len(id)) < 0)
        return -EBADMSG;
    memset(job, 0, sizeof(*job));
    zyg_proto_job_fields(job, f);
    job->job_id = get64(body);
    for (int i = 0; i < ZYG_JOB_NU32; i++)
        *f[i] = get32(body + 8 + 4 * i);
    memcpy(job->exec_id, id, (size_t)n + 1);
    job->session_no = get64((const uint8_t *)id + ZYG_EXEC_ID_MAX);
    return 0;
}

int zyg_proto_decode_cancel(const uint8_t *body, size_t len, uint64_t *job_id)
{
    if (len != 8)
        return -EBADMSG;
    *job_id = get64(body);
    return 0;
}

int zyg_proto_encode_status(const struct zyg_status *st, uint8_t *out, size_t size)
{
    if (size < ZYG_STATUS_SIZE)
        return -ENOBUFS;
    put32(out, ZYG_MAGIC);
    put32(out + 4, (uint32_t)st->wait_status);
    put32(out + 8, st->flags);
    put32(out + 12, (uint32_t)st->err);
    put64(out + 16, (uint64_t)st->cpu_us);
    put64(out + 24, (uint64_t)st->max_rss_kb);
    put64(out + 32, (uint64_t)st->wall_us);
    return ZYG_STATUS_SIZE;
}

int zyg_proto_decode_status(const uint8_t *buf, size_t len, struct zyg_status *st)
{
    if (len != ZYG_STATUS_SIZE || get32(buf) != ZYG_MAGIC)
        return -EBADMSG;
    st->wait_status = (int32_t)get32(buf + 4);
    st->flags = get32(buf + 8);
    st->err = (int32_t)get32(buf + 12);
    st->cpu_us = (int64_t)get64(buf + 16);
    st->max_rss_kb = (int64_t)get64(buf + 24);
    st->wall_us = (int64_t)get64(buf + 32);
    return 0;
}

#define ZYG_SESS_CMD_BODY (4 * 2 + 8 * 2 + 4 * 3 + ZYG_EXEC_ID_MAX)

int zyg_proto_encode_sess_cmd(const struct zyg_sess_cmd *c, uint8_t *out, size_t size)
{
    int h = zyg_proto_hdr(out, size, ZYG_MSG_SESS, ZYG_SESS_CMD_BODY);
    uint8_t *p = out + ZYG_HDR_SIZE;

    if (h < 0)
        return h;
    put32(p, c->op);
    put32(p + 4, c->flags);
    put64(p + 8, c->sess_no);
    put64(p + 16, c->new_no);
    put32(p + 24, c->memory_mb);
    put32(p + 28, c->pids);
    put32(p + 32, c->disk_mb);
    memset(p + 36, 0, ZYG_EXEC_ID_MAX);
    memcpy(p + 36, c->name, strnlen(c->name, ZYG_EXEC_ID_MAX - 1));
    return ZYG_HDR_SIZE + ZYG_SESS_CMD_BODY;
}

int zyg_proto_decode_sess_cmd(const uint8_t *body, size_t len, struct zyg_sess_cmd *c)
{
    const char *name = (const char *)body + 36;
    int n = 0;

    if (len != ZYG_SESS_CMD_BODY)
        return -EBADMSG;
    memset(c, 0, sizeof(*c));
    c->op = get32(body);
    if (c->op < ZYG_SESS_NEW || c->op > ZYG_SESS_INTERRUPT)
        return -EBADMSG;
    if ((c->op == ZYG_SESS_NEW || c->op == ZYG_SESS_FORK) && (n = zyg_proto_id_len(name)) < 0)
        return -EBADMSG;
    c->flags = get32(body + 4);
    c->sess_no = get64(body + 8);
    c->new_no = get64(body + 16);
    c->memory_mb = get32(body + 24);
    c->pids = get32(body + 28);
    c->disk_mb = get32(body + 32);
    memcpy(c->name, name, (size_t)n);
    return c->sess_no ? 0 : -EBADMSG;
}

#define ZYG_SESS_EVENT_BODY (4 * 2 + 8 + 4 * 4)

int zyg_proto_encode_sess_event(const struct zyg_sess_event *ev, uint8_t *out, size_t size)
{
    int h = zyg_proto_hdr(out, size, ZYG_MSG_SESS_EVENT, ZYG_SESS_EVENT_BODY);
    uint8_t *p = out + ZYG_HDR_SIZE;

    if (h < 0)
        return h;
    put32(p, ev->kind);
    put32(p + 4, ev->flags);
    put64(p + 8, ev->sess_no);
    put32(p + 16, (uint32_t)ev->pid);
    put32(p + 20, ev->uid);
    put32(p + 24, (uint32_t)ev->wait_status);
    put32(p + 28, (uint32_t)ev->err);
    return ZYG_HDR_SIZE + ZYG_SESS_EVENT_BODY;
}

int zyg_proto_decode_sess_event(const uint8_t *body, size_t len, struct zyg_sess_event *ev)
{
    if (len != ZYG_SESS_EVENT_BODY)
        return -EBADMSG;
    ev->kind = get32(body);
    ev->flags = get32(body + 4);
    ev->sess_no = get64(body + 8);
    ev->pid = (int32_t)get32(body + 16);
    ev->uid = get32(body + 20);
    ev->wait_status = (int32_t)get32(body + 24);
    ev->err = (int32_t)get32(body + 28);
    return ev->kind >= ZYG_SEV_UP && ev->kind <= ZYG_SEV_DEAD ? 0 : -EBADMSG;
}

int zyg_proto_workdir(const char *work_dir, const char *exec_id, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", work_dir, exec_id);

    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
