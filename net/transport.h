/* The transport between a connection's queued output and its socket, and
 * between what the socket delivers and the parser (docs/design.md §13).
 *
 *   parser ◄── input() ◄── recv bytes            output blocks ──► prep() ──► sendmsg
 *                                                     ▲                 │
 *                                                     └──── sent() ◄────┘
 *
 * Plain TCP passes bytes through and sends straight from the output blocks
 * (zero copy). TLS (wolfSSL driven through memory I/O callbacks, never
 * owning the socket) and S2 compression are transports too: their prep()
 * encodes queued plaintext into wire bytes of their own and sent() maps the
 * wire bytes the kernel took back to plaintext done, so that pending-byte
 * accounting, slow-consumer limits and flow control stay in plaintext.
 * Owner shard only, like the connection it belongs to. */
#ifndef GANNET_TRANSPORT_H
#define GANNET_TRANSPORT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Output queue: a chain of blocks; appends go to the tail, the head is sent. */
struct oblock {
    struct oblock *next;
    uint32_t len, cap;
    char data[];
};

#define OBLOCK_SIZE (32 * 1024)
#define SEND_IOV_MAX 64

struct transport;
struct transport_ops {
    const char *name;
    /* Bytes read from the socket: hand the plaintext they carry to
     * deliver(arg, p, n), whose negative result stops and is returned. */
    int (*input)(struct transport *t, const char *in, size_t n, int (*deliver)(void *, const char *, size_t),
                 void *arg);
    /* What to write next, from the plaintext queue starting at head+off:
     * fills iov (at most max), returns its count and *wire its bytes. */
    int (*prep)(struct transport *t, struct oblock *head, uint32_t off, struct iovec *iov, int max, uint32_t *wire);
    /* The kernel took n of the wire bytes last prepared: returns how many
     * plaintext bytes of the queue are now done. */
    uint32_t (*sent)(struct transport *t, uint32_t n);
    /* The connection is released: free the state (NULL: none). */
    void (*free)(struct transport *t);
    /* Wire bytes wait with no plaintext behind them (TLS handshake records,
     * alerts): the connection must flush with nothing queued (NULL: never). */
    bool (*want_write)(const struct transport *t);
};

struct transport {
    const struct transport_ops *ops;
    void *state;               /* the TLS session or compressor; NULL for plain TCP */
};

extern const struct transport_ops transport_plain;
/* The queue's plaintext from head+off, at most max bytes, as at most maxv
 * iovecs; *bytes their length. Returns the iovec count. */
int oblock_gather(struct oblock *head, uint32_t off, struct iovec *iov, int maxv, uint64_t max, uint32_t *bytes);
#endif
