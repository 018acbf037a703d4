/* libFuzzer target for core/parser.c.
 *
 * Input: byte 0 = configuration (bit 0 headers_ok, bits 1-2 max_control_line,
 * bits 3-4 max_payload), bytes 1-4 = seed for the chunk sizes, the rest = the
 * byte stream a peer sends. Each stream is parsed with OPS_CLIENT and with
 * every op allowed, each of them whole, in chunks whose sizes come from the
 * seed, and (for short streams) one byte at a time. Every chunk is its own
 * exact-size heap block freed once consumed, so ASan sees any view that
 * outlives its read or any read past a chunk's end.
 *
 * Checked: every view lies inside the current chunk or the parser's scratch;
 * a payload is exactly `size` bytes followed by the CRLF the parser checked;
 * size/header tokens parse to size/hdr; max_payload holds; the op is in the
 * mask; NEED_MORE consumes everything; all chunkings of a stream give the
 * same ops and the same final result; the ops of the client-only run are a
 * prefix of those of the all-ops run.
 */
#include "parser.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL_OPS (((1u << OP__COUNT) - 1) & ~OPBIT(OP_NONE))

struct cfg {
    uint32_t ops, mcl;
    int64_t maxpl;
    int headers_ok;
};

struct out {
    char *p;
    size_t n, cap;
};

static void out_add(struct out *o, const void *s, size_t n)
{
    if (o->n + n > o->cap) {
        size_t cap = o->cap ? o->cap : 1024;
        while (cap < o->n + n)
            cap *= 2;
        o->p = realloc(o->p, cap);
        if (!o->p)
            abort();
        o->cap = cap;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void out_u32(struct out *o, uint32_t v) { out_add(o, &v, sizeof v); }

static void out_view(struct out *o, const char *p, uint32_t n)
{
    out_u32(o, n);
    out_add(o, p, n);
}

static void serialize(struct out *o, const struct proto_msg *m)
{
    out_u32(o, (uint32_t)m->op);
    out_u32(o, (uint32_t)m->argc);
    for (int i = 0; i < m->argc; i++)
        out_view(o, m->argv[i].p, m->argv[i].n);
    out_view(o, m->rest.p, m->rest.n);
    if (m->payload) {
        out_u32(o, (uint32_t)m->hdr);
        out_view(o, m->size_tok.p, m->size_tok.n);
        if (m->hdr >= 0)
            out_view(o, m->hdr_tok.p, m->hdr_tok.n);
        out_view(o, m->payload, m->size);
    }
    out_u32(o, 0xFFFFFFFFu); /* op separator, so that prefixes are op-aligned */
}

static int inside(const char *v, size_t n, const char *base, size_t len)
{
    return base && v >= base && (size_t)(v - base) <= len && n <= len - (size_t)(v - base);
}

#define REQUIRE(c)                                                                    \
    do {                                                                              \
        if (!(c)) {                                                                   \
            fprintf(stderr, "fuzz_parser: %s violated (%s:%d)\n", #c, __FILE__, __LINE__); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static void check_view(const struct parser *p, const char *chunk, size_t clen, const char *v, size_t n)
{
    REQUIRE(inside(v, n, chunk, clen) || inside(v, n, p->scratch, p->scap));
}

static int has_payload(enum proto_op op)
{
    return op == OP_PUB || op == OP_HPUB || op == OP_MSG || op == OP_HMSG || op == OP_RMSG || op == OP_LMSG;
}

static void check_msg(const struct parser *p, const struct cfg *c, const char *chunk, size_t clen,
                      const struct proto_msg *m)
{
    REQUIRE(m->op > OP_NONE && m->op < OP__COUNT);
    REQUIRE(c->ops & OPBIT(m->op));
    REQUIRE(m->argc >= 0 && m->argc <= PROTO_MAX_ARGS);
    for (int i = 0; i < m->argc; i++) {
        REQUIRE(m->argv[i].n > 0);
        check_view(p, chunk, clen, m->argv[i].p, m->argv[i].n);
        for (uint32_t k = 0; k < m->argv[i].n; k++)
            REQUIRE(m->argv[i].p[k] != ' ' && m->argv[i].p[k] != '\t' && m->argv[i].p[k] != '\n');
    }
    if (m->rest.n) {
        check_view(p, chunk, clen, m->rest.p, m->rest.n);
        REQUIRE(memchr(m->rest.p, '\n', m->rest.n) == NULL);
        REQUIRE(m->rest.p[0] != ' ' && m->rest.p[0] != '\t');
        REQUIRE(m->rest.n <= c->mcl);
    }
    if (has_payload(m->op)) {
        REQUIRE(m->payload != NULL);
        check_view(p, chunk, clen, m->payload, (size_t)m->size + 2);
        REQUIRE(m->payload[m->size] == '\r' && m->payload[m->size + 1] == '\n');
        check_view(p, chunk, clen, m->size_tok.p, m->size_tok.n);
        REQUIRE(proto_parse_size(m->size_tok.p, m->size_tok.n) == (int64_t)m->size);
        REQUIRE(m->argc >= 2);
        REQUIRE(m->size_tok.p == m->argv[m->argc - 1].p && m->size_tok.n == m->argv[m->argc - 1].n);
        REQUIRE(c->maxpl < 0 || (int64_t)m->size <= c->maxpl);
        if (m->op == OP_HPUB || m->op == OP_HMSG || m->op == OP_LMSG) {
            REQUIRE(m->op != OP_HPUB || c->headers_ok);
            REQUIRE(m->hdr >= 0 && (uint32_t)m->hdr <= m->size);
            check_view(p, chunk, clen, m->hdr_tok.p, m->hdr_tok.n);
            REQUIRE(proto_parse_size(m->hdr_tok.p, m->hdr_tok.n) == m->hdr);
        } else {
            REQUIRE(m->hdr == -1);
        }
    } else {
        REQUIRE(m->payload == NULL);
        REQUIRE(m->hdr == -1);
    }
}

enum { CHUNK_WHOLE, CHUNK_SEEDED, CHUNK_ONE };

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Parse data with the given chunking; returns the final result. */
static int run(const struct cfg *c, const uint8_t *data, size_t len, int mode, uint32_t seed, struct out *o)
{
    struct parser p;
    parser_init(&p, c->ops, c->mcl, c->maxpl);
    p.headers_ok = (uint8_t)c->headers_ok;
    uint32_t rs = seed ? seed : 0x2545F491u;
    size_t off = 0;
    int term = 0;
    while (term == 0 && (off < len || off == 0)) {
        size_t n = len - off;
        if (mode == CHUNK_ONE && n > 1)
            n = 1;
        else if (mode == CHUNK_SEEDED) {
            /* mostly small chunks, now and then a big one */
            uint32_t r = next_rand(&rs);
            size_t want = (r & 7) == 0 ? (r >> 8) % 4096 : 1 + (r >> 8) % 16;
            if (want < n)
                n = want;
        }
        char *chunk = malloc(n ? n : 1);
        if (!chunk)
            abort();
        if (n)
            memcpy(chunk, data + off, n);
        const char *b = chunk;
        size_t l = n;
        for (;;) {
            struct proto_msg m;
            memset(&m, 0xA5, sizeof m);
            int rc = parser_next(&p, &b, &l, &m);
            REQUIRE(rc == 1 || rc == PERR_NEED_MORE || rc == PERR_UNKNOWN_OP || rc == PERR_CONTROL_LINE ||
                    rc == PERR_MAX_PAYLOAD || rc == PERR_ARGS);
            if (rc == 1) {
                REQUIRE(b >= chunk && b <= chunk + n && l == n - (size_t)(b - chunk));
                check_msg(&p, c, chunk, n, &m);
                serialize(o, &m);
                continue;
            }
            if (rc == PERR_NEED_MORE)
                REQUIRE(l == 0);
            else
                term = rc;
            break;
        }
        free(chunk);
        off += n;
        if (len == 0)
            break;
    }
    /* bounded memory while waiting: a partial control line never grows past
     * the limit (+ slack for the op word), a partial payload never past its
     * announced size (itself bounded by max_payload). State 0 = PS_LINE. */
    if (term == 0 && p.state == 0)
        REQUIRE(p.slen <= (size_t)c->mcl + 16);
    if (term == 0 && p.state != 0)
        REQUIRE(p.slen <= p.line_len + p.need && p.need <= (uint64_t)c->maxpl + 2);
    parser_free(&p);
    return term;
}

static int same(const struct out *a, const struct out *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

static int is_prefix(const struct out *a, const struct out *b)
{
    return a->n <= b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

static void compare(int t_whole, const struct out *whole, int t_other, const struct out *other, const char *what)
{
    if (t_whole == t_other && same(whole, other))
        return;
    fprintf(stderr, "fuzz_parser: %s run differs from whole run: term %d vs %d, %zu vs %zu bytes of ops\n", what,
            t_other, t_whole, other->n, whole->n);
    abort();
}

static const uint32_t mcls[] = {8, 32, 256, 4096};
static const int64_t maxpls[] = {0, 16, 1024, 1 << 20};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    uint8_t conf = data[0];
    uint32_t seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
    data += 5;
    size -= 5;

    struct out res[2] = {{0}};
    int term[2];
    for (int k = 0; k < 2; k++) {
        struct cfg c = {
            .ops = k == 0 ? OPS_CLIENT : ALL_OPS,
            .mcl = mcls[(conf >> 1) & 3],
            .maxpl = maxpls[(conf >> 3) & 3],
            .headers_ok = conf & 1,
        };
        term[k] = run(&c, data, size, CHUNK_WHOLE, 0, &res[k]);

        struct out o = {0};
        int t = run(&c, data, size, CHUNK_SEEDED, seed, &o);
        compare(term[k], &res[k], t, &o, "seeded-chunk");
        free(o.p);

        if (size <= 2048) {
            memset(&o, 0, sizeof o);
            t = run(&c, data, size, CHUNK_ONE, 0, &o);
            compare(term[k], &res[k], t, &o, "one-byte");
            free(o.p);
        }
    }
    /* allowing more ops never changes how the client ops parse */
    REQUIRE(is_prefix(&res[0], &res[1]));
    if (term[0] == 0)
        REQUIRE(term[1] == 0 && same(&res[0], &res[1]));
    free(res[0].p);
    free(res[1].p);
    return 0;
}
