/* rconn.h — a raw NATS client connection: dial, handshake, and a streaming
 * parser for what the server sends.
 *
 * The parser never copies a payload. It reads large blocks into one buffer
 * and walks it in place: control lines are parsed where they lie (only a line
 * cut by the end of a read is moved to the front of the buffer), payloads are
 * skipped, and only the first PFX_LEN bytes of each payload are kept so that
 * the subscriber can check publisher, sequence and timestamp. A payload that
 * spans reads is skipped across them without being gathered.
 *
 *   ┌──────────── LINE ◄───────────────────────────┐
 *   │  "MSG subj sid [reply] n\r\n" → SKIP(n+2)     │
 *   │  "PING" → pong owed   "PONG" → pongs++        │
 *   │  "+OK" / "INFO ..." → ignored                 │
 *   │  "-ERR ..." → failed                          │
 *   └─► SKIP: consume n+2 bytes, keep the prefix ──►┘ then on_msg()
 *
 * One thread owns a connection. Sockets start blocking (for the handshake)
 * and are switched to non-blocking for the event loops.
 */
#ifndef RCONN_H
#define RCONN_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

struct rconn;
typedef void (*rconn_msg_fn)(struct rconn *c);

struct rconn {
    int fd;
    char *rbuf;             /* read buffer, rcap bytes */
    size_t rcap, rlen, rpos;/* filled up to rlen, parsed up to rpos */
    size_t skip;            /* payload+CRLF bytes of the current MSG still to consume */
    size_t plen;            /* payload length of the current MSG */
    size_t pfx_have;        /* prefix bytes of the current payload kept so far */
    unsigned char pfx[PFX_LEN];
    uint32_t sid;           /* sid of the current MSG (only parsed when want_reply) */
    int want_reply;         /* parse every token (responders); else only the size */
    char reply[128];        /* reply subject of the current MSG, copied: it may be overwritten */
    size_t reply_len;
    uint64_t msgs;          /* MSGs fully received */
    uint64_t pongs;         /* PONGs received */
    int pong_owed;          /* the server sent PING: answer when no write is half done */
    int failed;             /* -ERR, bad framing or EOF seen */
    char err[200];          /* why, when failed */
    rconn_msg_fn on_msg;    /* called after each MSG's payload was consumed */
    void *ctx;              /* owner's state, for on_msg */
    int idx;                /* owner's index (publisher or subscriber number) */
};

/* Connects to host:port, reads INFO, sends CONNECT. rcap: read buffer size.
 * Returns 0 or -errno; on failure c->err says why. */
int rconn_dial(struct rconn *c, const char *host, int port, size_t rcap);

/* Socket options set before connect() (0 / NULL: the kernel's default). */
struct dial_opts {
    const char *user, *pass; /* CONNECT credentials (NULL: none) */
    int rcvbuf;      /* SO_RCVBUF: bounds the receive window (stalled subscriber) */
    const char *src; /* source address, port still picked by connect()
                      * (IP_BIND_ADDRESS_NO_PORT): 100,000 clients on loopback
                      * need more than one source address's ephemeral ports */
};
int rconn_dial_ex(struct rconn *c, const char *host, int port, size_t rcap,
                  const struct dial_opts *o);
/* Writes all of buf, waiting for the socket when needed (blocking or not).
 * Returns 0 or -errno. */
int rconn_write_all(struct rconn *c, const void *buf, size_t len, int timeout_ms);
/* Sends PING and reads (feeding the parser) until the matching PONG, within
 * timeout_ms. MSGs arriving meanwhile are counted as usual. */
int rconn_sync(struct rconn *c, int timeout_ms);
/* One read() into the buffer, then parse. Returns bytes read, 0 when the
 * socket had nothing (EAGAIN), or -errno / -EPIPE on EOF (c->err set).
 * *full is set when the read filled all free space (more may be waiting). */
ssize_t rconn_read(struct rconn *c, int *full);
int rconn_set_nonblock(struct rconn *c);
void rconn_close(struct rconn *c);

#endif
