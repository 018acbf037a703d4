/* Protocol parser: see parser.h for the state machine and view lifetimes. */
#include "parser.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { PS_LINE, PS_PAYLOAD };

enum {
    F_ARGS = 1,    /* op word must be followed by space/tab and arguments */
    F_PREFIX = 2,  /* anything after the op word up to '\n' is ignored (PING, PONG, +OK, -ERR) */
    F_PAYLOAD = 4, /* a payload of <size> bytes + CRLF follows the line */
    F_HDR = 8,     /* second-to-last argument is the header size */
    F_GLUED = 16,  /* arguments may follow the op word without a space (CONNECT, INFO: the
                    * rest of the line is JSON; nats-server fails on it, silently) */
};

struct opdef {
    const char *name;
    uint8_t len;
    uint8_t op;
    uint8_t flags;
};

static const struct opdef ops[] = {
    {"CONNECT", 7, OP_CONNECT, F_ARGS | F_GLUED},
    {"PUB", 3, OP_PUB, F_ARGS | F_PAYLOAD},
    {"HPUB", 4, OP_HPUB, F_ARGS | F_PAYLOAD | F_HDR},
    {"SUB", 3, OP_SUB, F_ARGS},
    {"UNSUB", 5, OP_UNSUB, F_ARGS},
    {"PING", 4, OP_PING, F_PREFIX},
    {"PONG", 4, OP_PONG, F_PREFIX},
    {"INFO", 4, OP_INFO, F_ARGS | F_GLUED},
    {"+OK", 3, OP_OK, F_PREFIX},
    {"-ERR", 4, OP_ERR, F_PREFIX},
    {"MSG", 3, OP_MSG, F_ARGS | F_PAYLOAD},
    {"HMSG", 4, OP_HMSG, F_ARGS | F_PAYLOAD | F_HDR},
    {"RS+", 3, OP_RSPLUS, F_ARGS},
    {"RS-", 3, OP_RSMINUS, F_ARGS},
    {"LS+", 3, OP_LSPLUS, F_ARGS},
    {"LS-", 3, OP_LSMINUS, F_ARGS},
    {"RMSG", 4, OP_RMSG, F_ARGS | F_PAYLOAD},
    {"LMSG", 4, OP_LMSG, F_ARGS | F_PAYLOAD | F_HDR}, /* the header size is always there, maybe 0 */
    {"A+", 2, OP_APLUS, F_ARGS},
    {"A-", 2, OP_AMINUS, F_ARGS},
};
#define NOPS (sizeof ops / sizeof ops[0])

const char *proto_op_name(enum proto_op op)
{
    for (size_t i = 0; i < NOPS; i++)
        if (ops[i].op == op)
            return ops[i].name;
    return "?";
}

static inline char upper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 32) : c; }
static inline bool is_ws(char c) { return c == ' ' || c == '\t'; }

static bool prefix_ieq(const char *s, size_t n, const char *name, size_t len)
{
    if (n > len)
        n = len;
    for (size_t i = 0; i < n; i++)
        if (upper(s[i]) != name[i])
            return false;
    return true;
}

/* Classify the start of a line. Returns the op definition when the op is
 * complete and valid; NULL with *maybe=true when the bytes so far are still a
 * prefix of an allowed op; NULL with *maybe=false when they cannot be. */
static const struct opdef *classify(const struct parser *p, const char *s, size_t n, bool *maybe)
{
    *maybe = false;
    if (n == 0) {
        *maybe = true;
        return NULL;
    }
    char c0 = upper(s[0]);
    for (size_t i = 0; i < NOPS; i++) {
        const struct opdef *d = &ops[i];
        if (d->name[0] != c0 || !(p->ops_allowed & OPBIT(d->op)))
            continue;
        if (!prefix_ieq(s, n, d->name, d->len))
            continue;
        if (n < d->len) {
            *maybe = true;
            continue;
        }
        if (d->flags & (F_PREFIX | F_GLUED))
            return d;
        if (n == d->len) {
            *maybe = true;
            continue;
        }
        if (is_ws(s[d->len]))
            return d;
    }
    return NULL;
}

int64_t proto_parse_size(const char *s, size_t n)
{
    if (n == 0 || n > 9)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int scratch_reserve(struct parser *p, size_t total)
{
    if (total > p->scap) {
        size_t cap = p->scap ? p->scap : 512;
        while (cap < total)
            cap *= 2;
        char *ns = realloc(p->scratch, cap);
        if (!ns)
            return -1;
        p->scratch = ns;
        p->scap = cap;
    }
    return 0;
}

static int scratch_append(struct parser *p, const char *b, size_t n)
{
    if (scratch_reserve(p, p->slen + n) < 0)
        return -1;
    memcpy(p->scratch + p->slen, b, n);
    p->slen += n;
    return 0;
}

void parser_init(struct parser *p, uint32_t ops_allowed, uint32_t max_control_line, int64_t max_payload)
{
    memset(p, 0, sizeof *p);
    p->ops_allowed = ops_allowed;
    p->max_control_line = max_control_line;
    p->max_payload = max_payload;
    p->max_args = PROTO_MAX_ARGS;
    p->argv = p->args_inline; /* points into the struct: copy a parser with parser_move */
    p->argv_cap = PROTO_MAX_ARGS;
}

void parser_set_max_args(struct parser *p, uint32_t max_args)
{
    p->max_args = max_args > PROTO_MAX_ARGS ? max_args : PROTO_MAX_ARGS;
}

void parser_move(struct parser *dst, struct parser *src)
{
    *dst = *src;
    if (src->argv == src->args_inline)
        dst->argv = dst->args_inline;
    src->argv = src->args_inline; /* src no longer owns the heap parts */
    src->argv_cap = PROTO_MAX_ARGS;
    src->scratch = NULL;
    src->scap = src->slen = 0;
}

void parser_free(struct parser *p)
{
    if (p->argv != p->args_inline)
        free(p->argv);
    p->argv = p->args_inline;
    p->argv_cap = PROTO_MAX_ARGS;
    free(p->scratch);
    p->scratch = NULL;
    p->scap = p->slen = 0;
}

/* Room for one more argument, up to max_args. */
static int grow_args(struct parser *p, struct proto_msg *m)
{
    if (p->argv_cap >= p->max_args)
        return -1;
    uint32_t ncap = p->argv_cap * 2 < p->max_args ? p->argv_cap * 2 : p->max_args;
    struct pview *n = p->argv == p->args_inline ? malloc(ncap * sizeof *n) : realloc(p->argv, ncap * sizeof *n);
    if (!n)
        return -1;
    if (p->argv == p->args_inline)
        memcpy(n, p->args_inline, sizeof p->args_inline);
    p->argv = m->argv = n;
    p->argv_cap = ncap;
    return 0;
}

/* Split a complete control line (without CR/LF) into op and argument views.
 * Returns the op's F_* flags or a negative parse_err. */
static int parse_line(struct parser *p, const char *line, size_t n, struct proto_msg *m)
{
    bool maybe;
    const struct opdef *d = classify(p, line, n, &maybe);
    if (!d)
        return PERR_UNKNOWN_OP;
    m->op = (enum proto_op)d->op;
    m->argc = 0;
    m->argv = p->argv;
    m->payload = NULL;
    m->size = 0;
    m->hdr = -1;
    m->rest.p = line + n;
    m->rest.n = 0;
    if (d->flags & F_PREFIX)
        return (int)d->flags;
    size_t i = d->len;
    while (i < n && is_ws(line[i]))
        i++;
    if (n - i > p->max_control_line)
        return PERR_CONTROL_LINE;
    m->rest.p = line + i;
    m->rest.n = (uint32_t)(n - i);
    if (d->flags & F_GLUED)
        return (int)d->flags; /* CONNECT / INFO: the rest is JSON, not arguments */
    /* The last two tokens are also kept in locals: reading them back from
     * argv[] as 16-byte structs right after storing them field by field
     * stalls on store forwarding (perf: a fifth of parser_next). */
    struct pview last = {NULL, 0}, prev = {NULL, 0};
    int argc = 0;
    while (i < n) {
        size_t st = i;
        while (i < n && !is_ws(line[i]))
            i++;
        if ((uint32_t)argc == p->argv_cap && grow_args(p, m) < 0)
            return PERR_ARGS;
        prev = last;
        last.p = line + st;
        last.n = (uint32_t)(i - st);
        m->argv[argc].p = last.p;
        m->argv[argc].n = last.n;
        argc++;
        while (i < n && is_ws(line[i]))
            i++;
    }
    m->argc = argc;
    if (d->flags & F_PAYLOAD) {
        int min = (d->flags & F_HDR) ? 3 : 2;
        if (argc < min)
            return PERR_ARGS;
        /* client publishes: subject [reply] [hdr] size, checked before the payload is read */
        if ((m->op == OP_PUB || m->op == OP_HPUB) && argc > min + 1)
            return PERR_ARGS;
        int64_t size = proto_parse_size(last.p, last.n);
        if (size < 0)
            return PERR_ARGS;
        if (d->flags & F_HDR) {
            if (m->op == OP_HPUB && !p->headers_ok)
                return PERR_ARGS;
            int64_t hdr = proto_parse_size(prev.p, prev.n);
            if (hdr < 0 || hdr > size)
                return PERR_ARGS;
            m->hdr = (int32_t)hdr;
            m->hdr_tok.p = prev.p;
            m->hdr_tok.n = prev.n;
        }
        if (p->max_payload >= 0 && size > p->max_payload)
            return PERR_MAX_PAYLOAD;
        m->size = (uint32_t)size;
        m->size_tok.p = last.p;
        m->size_tok.n = last.n;
    }
    return (int)d->flags;
}

/* Rebase every view of m from base `from` to base `to`. Integer arithmetic:
 * `from` may be a block that scratch_reserve() has just reallocated. */
#define REBASE(v) ((v) = to + ((uintptr_t)(v) - (uintptr_t)from))
static void rebase(struct proto_msg *m, const char *from, const char *to)
{
    for (int i = 0; i < m->argc; i++)
        REBASE(m->argv[i].p);
    REBASE(m->rest.p);
    REBASE(m->size_tok.p);
    if (m->hdr >= 0)
        REBASE(m->hdr_tok.p);
}
#undef REBASE

static size_t strip_eol(const char *line, size_t n)
{
    n--; /* '\n' */
    if (n > 0 && line[n - 1] == '\r')
        n--;
    return n;
}

/* The bytes after a payload must be exactly "\r\n"; like nats-server, fail
 * on the first wrong byte rather than waiting for two. `t` holds the bytes
 * received so far past the payload (at most 2). */
static bool bad_terminator(const char *t, size_t n)
{
    return (n >= 1 && t[0] != '\r') || (n >= 2 && t[1] != '\n');
}

static int payload_step(struct parser *p, const char **buf, size_t *len, struct proto_msg *m)
{
    size_t have = p->slen - p->line_len;
    size_t take = p->need - have;
    if (take > *len)
        take = *len;
    if (scratch_append(p, *buf, take) < 0)
        return PERR_ARGS;
    *buf += take;
    *len -= take;
    const char *pl = p->scratch + p->line_len;
    size_t got = p->slen - p->line_len, body = p->need - 2;
    if (got > body && bad_terminator(pl + body, got - body))
        return PERR_UNKNOWN_OP;
    if (got < p->need)
        return PERR_NEED_MORE;
    *m = p->cur;
    m->payload = pl;
    p->state = PS_LINE;
    p->reset_scratch = 1;
    return 1;
}

/* A line without its '\n' yet sits in scratch. Refuse now what can never
 * become valid, with the same verdict the complete line would get: an op
 * that cannot be, or arguments already longer than max_control_line. */
static int partial_line(struct parser *p)
{
    bool maybe;
    size_t w = 0;
    while (w < p->slen && !is_ws(p->scratch[w]))
        w++;
    const struct opdef *d = classify(p, p->scratch, w < p->slen ? w + 1 : w, &maybe);
    if (!d)
        return maybe ? PERR_NEED_MORE : PERR_UNKNOWN_OP; /* op word still short: bounded */
    if (d->flags & F_PREFIX) {
        p->slen = d->len; /* the rest of a PING/PONG/+OK/-ERR line is ignored: don't keep it */
        return PERR_NEED_MORE;
    }
    size_t op = d->len, i = op;
    while (i < p->slen && is_ws(p->scratch[i]))
        i++;
    if (i > op + 1) { /* keep one blank of a run before the arguments: memory stays bounded */
        memmove(p->scratch + op + 1, p->scratch + i, p->slen - i);
        p->slen -= i - (op + 1);
        i = op + 1;
    }
    size_t args = p->slen - i;
    if (args && p->scratch[p->slen - 1] == '\r')
        args--; /* the CR of a CRLF split before its LF does not count */
    return args > p->max_control_line ? PERR_CONTROL_LINE : PERR_NEED_MORE;
}

#ifdef __SSE2__
#include <emmintrin.h>

#define FAST_SPAN 64 /* bytes the PUB fast path looks at */

/* The common client line, "PUB <subject> [<reply>] <size>\r\n" within the
 * first 64 bytes, split with bit masks instead of byte loops (perf: the
 * scalar split, memchr and classify were a fifth of a publish-only load).
 * Returns PUB's flags with *m filled and *take the line's length, exactly
 * as parse_line would; 0 for anything else (another op, lower case, tabs
 * after the op, a bad argument count or size, a long line), which the
 * general path then decides, errors included. */
static int pub_fast(const struct parser *p, const char *b, struct proto_msg *m, size_t *take)
{
    if (memcmp(b, "PUB ", 4) != 0 || !(p->ops_allowed & OPBIT(OP_PUB)))
        return 0;
    m->argv = p->argv; /* at least PROTO_MAX_ARGS > 3 */
    /* bit i of nl: b[i] is '\n'; of ws: b[i] is a blank (one 16-byte lane at a time) */
    const __m128i cnl = _mm_set1_epi8('\n'), csp = _mm_set1_epi8(' '), ctab = _mm_set1_epi8('\t');
    uint64_t nl = 0, ws = 0;
#define LANE(k)                                                                                              \
    do {                                                                                                     \
        __m128i v = _mm_loadu_si128((const __m128i *)(b + 16 * (k)));                                        \
        nl |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cnl)) << (16 * (k));                   \
        ws |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, csp), _mm_cmpeq_epi8(v, ctab))) \
              << (16 * (k));                                                                                 \
    } while (0)
    LANE(0);
    LANE(1);
    LANE(2);
    LANE(3);
#undef LANE
    if (!nl)
        return 0;
    unsigned e = (unsigned)__builtin_ctzll(nl); /* the '\n' */
    unsigned end = e > 0 && b[e - 1] == '\r' ? e - 1 : e; /* strip_eol */
    uint64_t args = (((uint64_t)1 << end) - 1) & ~(uint64_t)0xf; /* bits [4, end) */
    uint64_t tok = ~ws & args;
    uint64_t starts = tok & ~(tok << 1), ends = tok & ~(tok >> 1);
    if (!starts)
        return 0;
    unsigned first = (unsigned)__builtin_ctzll(starts);
    if (end - first > p->max_control_line)
        return 0;
    struct pview t = {NULL, 0};
    int argc = 0;
    while (starts) {
        if (argc == 3)
            return 0; /* too many arguments */
        unsigned st = (unsigned)__builtin_ctzll(starts), en = (unsigned)__builtin_ctzll(ends);
        starts &= starts - 1;
        ends &= ends - 1;
        t.p = b + st;
        t.n = en - st + 1;
        m->argv[argc].p = t.p;
        m->argv[argc].n = t.n;
        argc++;
    }
    if (argc < 2)
        return 0;
    int64_t size = proto_parse_size(t.p, t.n);
    if (size < 0 || (p->max_payload >= 0 && size > p->max_payload))
        return 0;
    m->op = OP_PUB;
    m->argc = argc;
    m->argv = p->argv;
    m->payload = NULL;
    m->size = (uint32_t)size;
    m->hdr = -1;
    m->rest.p = b + first;
    m->rest.n = end - first;
    m->size_tok.p = t.p;
    m->size_tok.n = t.n;
    *take = e + 1;
    return F_ARGS | F_PAYLOAD;
}
#endif

int parser_next(struct parser *p, const char **buf, size_t *len, struct proto_msg *m)
{
    if (p->reset_scratch) {
        p->slen = 0;
        p->reset_scratch = 0;
    }
    if (p->state == PS_PAYLOAD)
        return payload_step(p, buf, len, m);
    if (*len == 0)
        return PERR_NEED_MORE;

    const char *b = *buf;
    const char *line;
    size_t n, take;
    bool in_scratch = false;
    int flags;
#ifdef __SSE2__
    if (p->slen == 0 && *len >= FAST_SPAN && (flags = pub_fast(p, b, m, &take)) > 0) {
        line = b;
        n = take;
        *buf += take;
        *len -= take;
        goto parsed;
    }
#endif
    const char *nl = memchr(b, '\n', *len);
    if (!nl) {
        /* Partial line: keep it, but fail early on what can never be valid. */
        if (scratch_append(p, b, *len) < 0)
            return PERR_ARGS;
        *buf += *len;
        *len = 0;
        return partial_line(p);
    }
    take = (size_t)(nl - b) + 1;
    in_scratch = p->slen > 0;
    if (in_scratch) {
        if (scratch_append(p, b, take) < 0)
            return PERR_ARGS;
        line = p->scratch;
        n = p->slen;
    } else {
        line = b;
        n = take;
    }
    *buf += take;
    *len -= take;
    flags = parse_line(p, line, strip_eol(line, n), m);
    if (flags < 0)
        return flags;
#ifdef __SSE2__
parsed:
#endif
    if (!(flags & F_PAYLOAD)) {
        if (in_scratch)
            p->reset_scratch = 1;
        return 1;
    }
    size_t need = (size_t)m->size + 2;
    if (*len > need - 2 && bad_terminator(*buf + need - 2, *len - (need - 2) < 2 ? *len - (need - 2) : 2))
        return PERR_UNKNOWN_OP;
    if (!in_scratch && *len >= need) { /* zero copy: line and payload in this buffer */
        const char *pl = *buf;
        m->payload = pl;
        *buf += need;
        *len -= need;
        return 1;
    }
    /* Payload straddles reads: keep the line in scratch, with room for the
     * whole payload reserved now so that the views never move. */
    if (scratch_reserve(p, n + need) < 0)
        return PERR_ARGS;
    if (!in_scratch) {
        memcpy(p->scratch, line, n);
        p->slen = n;
    }
    p->cur = *m;
    rebase(&p->cur, line, p->scratch);
    p->line_len = n;
    p->need = need;
    p->state = PS_PAYLOAD;
    return payload_step(p, buf, len, m);
}
