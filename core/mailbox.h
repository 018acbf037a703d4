/* Cross-shard mailboxes (architecture.md "Threads and ownership", docs/design.md §2, §11).
 *
 * Each ordered pair of shards (from, to) has one link: an unbounded,
 * intrusive single-producer / single-consumer queue of batches. Only shard
 * `from` pushes, only shard `to` pops. A struct xbatch is a buffer of records
 * (messages for subscriptions of the receiving shard) filled during one turn
 * of the sender and pushed once at its end.
 *
 * The queue itself never refuses a push, so a sender never has to keep a
 * batch across turns (a batch held across a quiescent state would name
 * subscriptions whose grace period may end meanwhile). What bounds memory
 * is the link's byte budget, kept by the shards above this module: the
 * sender counts the capacity it pushed (`pushed`), the receiver the
 * capacity it has finished with (`consumed`), and a producer whose link is
 * more than `xshard_max_pending` behind is parked (shard.c) until the
 * receiver catches up. `want_wake` is how a parked sender asks the receiver
 * to ring its doorbell once it has consumed.
 *
 * Queue shape (Vyukov's intrusive SPSC list): `head` is the consumer's last
 * popped node (at first a stub), `tail` the producer's last pushed one. A
 * node can be freed only once it is no longer the head, i.e. when its
 * successor is popped, since the producer may still write its `next`.
 *
 * Threads: xlink_push, xlink_inflight and the producer fields belong to the
 * sender; xlink_pop, xlink_peek_empty, xlink_consumed and the consumer fields
 * to the receiver. `pushed_batches`, `consumed` and `want_wake` are the only
 * fields both read (C11 atomics, release/acquire). */
#ifndef GANNET_MAILBOX_H
#define GANNET_MAILBOX_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* A batch: a small node that may outlive its records (the queue's head is
 * freed only when its successor is popped), and the records' buffer, which
 * the receiver frees as soon as it is done with them (xlink_consumed), so
 * that a quiet link keeps no buffer. */
struct xbatch {
    _Atomic(struct xbatch *) next; /* the queue's link */
    uint32_t len, cap;
    char *data;                    /* cap bytes, NULL once consumed */
};

struct xbatch *xbatch_new(uint32_t cap);   /* NULL when out of memory */
void xbatch_free(struct xbatch *b);

struct xlink {
    /* producer side */
    _Alignas(64) struct xbatch *tail;
    uint64_t pushed;                  /* capacity pushed so far (sender only) */
    _Atomic uint64_t pushed_batches;  /* batches pushed so far (read by the receiver's zombie groups) */
    /* consumer side */
    _Alignas(64) struct xbatch *head; /* last popped batch, or the stub */
    struct xbatch *stub;
    _Atomic uint64_t consumed;        /* capacity the receiver is done with */
    _Atomic int want_wake;            /* sender has inputs parked on this link's budget */
};

int xlink_init(struct xlink *l);                   /* 0 or -ENOMEM */
void xlink_destroy(struct xlink *l);               /* frees every batch still queued; no thread uses it */
void xlink_push(struct xlink *l, struct xbatch *b); /* sender */
uint64_t xlink_inflight(struct xlink *l);          /* sender: capacity pushed and not yet consumed */
/* Receiver: the next batch, or NULL when empty. Frees the batch popped
 * before it (which is no longer needed once the caller pops again). */
struct xbatch *xlink_pop(struct xlink *l);
bool xlink_empty(struct xlink *l);                 /* receiver: nothing to pop */
void xlink_consumed(struct xlink *l, struct xbatch *b); /* receiver: done with b's records (frees them) */

struct sub;

/* Record types: what the receiving shard is to do with a record. Only
 * XR_MSG exists yet; route-bound messages and interest changes will be
 * records of their own types. */
enum xrec_type { XR_MSG = 1 };

/* XR_MSG, a message for some subscriptions of the receiving shard:
 *   struct xrec | struct sub *subs[nsubs] | subject | reply | size token | header token | payload
 * padded to 8 bytes. Lengths are 32-bit: a subject may be as long as
 * max_control_line allows. */
struct xrec {
    uint32_t total;   /* bytes of this record, padded */
    uint32_t nsubs;
    uint32_t size;    /* payload bytes (header + body) */
    int32_t hdr;      /* header bytes, -1 when the message has none */
    uint32_t subj_len, reply_len;
    uint8_t sztok_len, hdrtok_len; /* the size tokens as the publisher wrote them */
    uint8_t type;     /* enum xrec_type */
    uint8_t pad[5];
};
#endif
