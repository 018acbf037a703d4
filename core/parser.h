/* The NATS protocol parser: a pure state machine over bytes, no I/O, no
 * allocation on the common path (nats-compat.md §1.1).
 *
 *        ┌──────────┐  '\n' found, op has no payload      ┌──────────┐
 *  ────► │ PS_LINE  │ ──────────────────────────────────► │  emit op │
 *        │          │  '\n' found, op has a payload       └──────────┘
 *        │          │ ───────────┐                              ▲
 *        └──────────┘            ▼                              │
 *          ▲  no '\n' yet:   ┌────────────┐ size+2 bytes, "\r\n" │
 *          │  copy to scratch│ PS_PAYLOAD │──────────────────────┘
 *          └─────────────────└────────────┘
 *
 * Views handed out (args, payload) point either into the caller's buffer
 * (zero copy: line and payload arrived in one read) or into the parser's
 * scratch buffer (they straddled reads); either way they stay valid until
 * the next parser_next() call. One parser per connection, owned by the
 * connection's shard. The parser knows framing only; what an op means and
 * whether its arguments make sense is the connection's business. */
#ifndef GANNET_PARSER_H
#define GANNET_PARSER_H
#include <stddef.h>
#include <stdint.h>

enum proto_op {
    OP_NONE,
    OP_CONNECT, OP_PUB, OP_HPUB, OP_SUB, OP_UNSUB, OP_PING, OP_PONG, OP_INFO, OP_OK, OP_ERR,
    OP_MSG, OP_HMSG, OP_RSPLUS, OP_RSMINUS, OP_LSPLUS, OP_LSMINUS, OP_RMSG, OP_LMSG, OP_APLUS, OP_AMINUS,
    OP__COUNT
};

/* Which ops a connection kind may send; a bit per op. */
#define OPBIT(op) (1u << (op))
#define OPS_CONTROL (OPBIT(OP_CONNECT) | OPBIT(OP_PING) | OPBIT(OP_PONG) | OPBIT(OP_INFO) | OPBIT(OP_OK) | OPBIT(OP_ERR))
#define OPS_CLIENT (OPS_CONTROL | OPBIT(OP_PUB) | OPBIT(OP_HPUB) | OPBIT(OP_SUB) | OPBIT(OP_UNSUB))
/* servers: nats-compat.md §3 (routes), §4 (gateways), §5 (leaf nodes) */
#define OPS_ROUTE (OPS_CONTROL | OPBIT(OP_RSPLUS) | OPBIT(OP_RSMINUS) | OPBIT(OP_LSPLUS) | OPBIT(OP_LSMINUS) | \
                   OPBIT(OP_RMSG) | OPBIT(OP_HMSG) | OPBIT(OP_LMSG) | OPBIT(OP_APLUS) | OPBIT(OP_AMINUS))
#define OPS_GATEWAY (OPS_CONTROL | OPBIT(OP_RSPLUS) | OPBIT(OP_RSMINUS) | OPBIT(OP_RMSG) | OPBIT(OP_HMSG) | \
                     OPBIT(OP_APLUS) | OPBIT(OP_AMINUS))
#define OPS_LEAF (OPS_CONTROL | OPBIT(OP_LSPLUS) | OPBIT(OP_LSMINUS) | OPBIT(OP_LMSG) | OPBIT(OP_PUB) | \
                  OPBIT(OP_HPUB) | OPBIT(OP_SUB) | OPBIT(OP_UNSUB))

enum parse_err {
    PERR_NEED_MORE = 0,
    PERR_UNKNOWN_OP = -1,  /* -ERR 'Unknown Protocol Operation' + close */
    PERR_CONTROL_LINE = -2, /* -ERR 'maximum control line exceeded' + close */
    PERR_MAX_PAYLOAD = -3, /* -ERR 'Maximum Payload Violation' + close */
    PERR_ARGS = -4,        /* silent close: protocol violation */
};

#define PROTO_MAX_ARGS 32   /* arguments a parser keeps inline; a server kind may allow more (max_args) */

struct pview {
    const char *p;
    uint32_t n;
};

struct proto_msg {
    enum proto_op op;
    int argc;
    struct pview *argv;   /* the parser's argument array (valid as the other views) */
    struct pview rest;    /* the whole argument part of the line, CR/LF stripped (CONNECT/INFO JSON) */
    const char *payload;  /* header + body, without the trailing CRLF */
    uint32_t size;        /* payload length (total) */
    int32_t hdr;          /* header length for HPUB/HMSG, else -1 */
    struct pview size_tok; /* the size token exactly as sent (echoed in MSG) */
    struct pview hdr_tok;
};

struct parser {
    uint8_t state;
    uint8_t reset_scratch; /* scratch was handed out last call; clear on entry */
    uint8_t headers_ok;    /* HPUB allowed (CONNECT said headers:true) */
    uint32_t ops_allowed;  /* OPBIT mask for this connection kind */
    uint32_t max_control_line;
    uint32_t max_args;     /* arguments per line (RMSG lists every queue group) */
    int64_t max_payload;   /* < 0: no limit */
    struct pview *argv;    /* args_inline, or a heap array once a line had more */
    uint32_t argv_cap;
    struct pview args_inline[PROTO_MAX_ARGS];
    char *scratch;
    size_t slen, scap;
    size_t line_len;       /* PS_PAYLOAD: bytes of control line at the start of scratch */
    size_t need;           /* PS_PAYLOAD: payload + CRLF bytes wanted in total */
    struct proto_msg cur;  /* PS_PAYLOAD: op being read, args as offsets into scratch */
};

void parser_init(struct parser *p, uint32_t ops_allowed, uint32_t max_control_line, int64_t max_payload);
void parser_set_max_args(struct parser *p, uint32_t max_args); /* default PROTO_MAX_ARGS */
void parser_free(struct parser *p);
void parser_move(struct parser *dst, struct parser *src); /* dst takes src's state; src is left empty */
/* Consume bytes from *buf (length *len). Returns 1 with *m filled when an op is
 * complete (buf/len advanced past it), PERR_NEED_MORE (0) when all bytes were
 * consumed without completing one, or a negative parse_err. */
int parser_next(struct parser *p, const char **buf, size_t *len, struct proto_msg *m);
const char *proto_op_name(enum proto_op op);
/* Parse a decimal size token as nats-server does: digits only, at most 9. -1 if bad. */
int64_t proto_parse_size(const char *s, size_t n);
#endif
