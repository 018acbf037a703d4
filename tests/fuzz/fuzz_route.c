/* libFuzzer target for the route side of the protocol: core/parser.c with
 * a route's op set and argument limit, then cluster/rproto.c's decoding of
 * RS+/RS-/RMSG/HMSG arguments.
 *
 * Input: byte 0 = configuration (bits 0-1 max_control_line, bit 2 a
 * connection pinned to one account: no account token), the rest = the
 * byte stream a route peer sends, parsed in one piece.
 *
 * Checked, for every op: every decoded view lies inside the line's argument
 * views; an RS+ of a queue has a weight >= 1 and its sid span starts at the
 * account and ends at the queue; an RMSG's queue list is inside argv. Then
 * round trip: a decoded RMSG/HMSG is encoded again with msgline_encode
 * (route kind) and its payload, parsed by a fresh parser, and must decode to
 * the same account, subject, reply, queues, header and size.
 */
#include "encode.h"
#include "parser.h"
#include "rproto.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int same(struct pview a, struct pview b) { return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0); }

static void roundtrip(const struct proto_msg *m, const struct rmsg_args *a, bool has_acc)
{
    struct strv *q = calloc(a->nq ? a->nq : 1, sizeof *q);
    if (!q)
        abort();
    for (uint32_t i = 0; i < a->nq; i++)
        q[i] = (struct strv){a->queues[i].p, a->queues[i].n};
    struct msgline ml = {.subj = {a->subj.p, a->subj.n}, .reply = {a->reply.p, a->reply.n},
                         .acc = {a->acc.p, a->acc.n}, .queues = q, .nqueues = a->nq,
                         .hdr = m->op == OP_HMSG ? m->hdr : -1, .size = m->size};
    size_t cap = msgline_max(CK_ROUTE, &ml) + m->size + 2;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    size_t n = msgline_encode(CK_ROUTE, buf, &ml);
    memcpy(buf + n, m->payload, m->size);
    n += m->size;
    buf[n++] = '\r', buf[n++] = '\n';
    if (n > cap)
        abort();
    struct parser p;
    parser_init(&p, OPS_ROUTE, 1u << 30, -1);
    parser_set_max_args(&p, 65536);
    p.headers_ok = 1;
    const char *b = buf;
    size_t len = n;
    struct proto_msg m2;
    int rc = parser_next(&p, &b, &len, &m2);
    /* an encoded line the parser refuses, or that decodes differently, is a bug */
    if (rc != 1 || m2.op != m->op || m2.size != m->size || m2.hdr != (m->op == OP_HMSG ? m->hdr : m2.hdr))
        abort();
    struct rmsg_args a2;
    if (rproto_rmsg(&m2, has_acc, &a2) < 0 || !same(a2.acc, a->acc) || !same(a2.subj, a->subj) || !same(a2.reply, a->reply) ||
        a2.nq != a->nq)
        abort();
    for (uint32_t i = 0; i < a->nq; i++)
        if (!same(a2.queues[i], a->queues[i]))
            abort();
    if (memcmp(m2.payload, m->payload, m->size) != 0)
        abort();
    parser_free(&p);
    free(buf);
    free(q);
}

static int inside(const struct proto_msg *m, struct pview v)
{
    if (!v.n)
        return 1;
    for (int i = 0; i < m->argc; i++)
        if (v.p >= m->argv[i].p && v.p + v.n <= m->argv[i].p + m->argv[i].n)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const uint32_t mcl[] = {4096, 64, 1024, 65536};
    struct parser p;
    parser_init(&p, OPS_ROUTE, mcl[data[0] & 3], 1 << 20);
    parser_set_max_args(&p, 65536);
    p.headers_ok = 1;
    bool has_acc = !(data[0] & 4);
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    for (int guard = 0; guard < 100000; guard++) {
        struct proto_msg m;
        int rc = parser_next(&p, &buf, &len, &m);
        if (rc <= 0)
            break;
        if (m.op == OP_RSPLUS || m.op == OP_RSMINUS) {
            struct rs_args a;
            if (rproto_rs(&m, m.op == OP_RSPLUS, has_acc, &a) == 0) {
                if (!inside(&m, a.acc) || !inside(&m, a.subj) || !inside(&m, a.queue))
                    abort();
                if (a.queue.n && m.op == OP_RSPLUS && a.weight < 1)
                    abort();
                const struct pview *end = a.queue.n ? &a.queue : &a.subj;
                if (a.sid + a.sidlen != end->p + end->n || a.sid != (has_acc ? a.acc.p : a.subj.p))
                    abort();
            }
        } else if (m.op == OP_RMSG || m.op == OP_HMSG) {
            struct rmsg_args a;
            if (rproto_rmsg(&m, has_acc, &a) == 0) {
                if (!inside(&m, a.acc) || !inside(&m, a.subj) || !inside(&m, a.reply))
                    abort();
                if (a.nq && (a.queues < m.argv || a.queues + a.nq > m.argv + m.argc))
                    abort();
                roundtrip(&m, &a, has_acc);
            }
        }
    }
    parser_free(&p);
    return 0;
}
