/* Cross-shard mailboxes (architecture.md "Threads and ownership").
 *
 * Each ordered pair of shards (from, to) has one single-producer /
 * single-consumer ring of pointers: only shard `from` pushes, only shard
 * `to` pops. What travels is a struct xbatch: a buffer of records (messages
 * to deliver to the receiving shard's subscriptions) filled during one
 * completion batch of the sender and pushed once at its end. The receiver
 * frees the batch after processing it. */
#ifndef GANNET_MAILBOX_H
#define GANNET_MAILBOX_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct spsc {
    _Alignas(64) _Atomic uint32_t head; /* next slot to pop (consumer) */
    uint32_t tail_cache;                /* consumer's last view of tail */
    _Alignas(64) _Atomic uint32_t tail; /* next slot to push (producer) */
    uint32_t head_cache;                /* producer's last view of head */
    _Alignas(64) uint32_t mask;
    void **slots;
};

int spsc_init(struct spsc *q, uint32_t size_pow2); /* 0 or -ENOMEM */
void spsc_free(struct spsc *q);
bool spsc_push(struct spsc *q, void *p);  /* producer; false when full */
void *spsc_pop(struct spsc *q);           /* consumer; NULL when empty */
bool spsc_empty(struct spsc *q);          /* any thread; a hint */

struct sub;

/* A message for some subscriptions of the receiving shard:
 *   struct xrec | struct sub *subs[nsubs] | subject | reply | size token | payload
 * padded to 8 bytes. */
struct xrec {
    uint32_t total;   /* bytes of this record, padded */
    uint32_t nsubs;
    uint32_t size;    /* payload bytes (header + body) */
    int32_t hdr;      /* header bytes, -1 when the message has none */
    uint16_t subj_len, reply_len;
    uint8_t sztok_len, hdrtok_len; /* the size tokens as the publisher wrote them */
    uint8_t pad[2];
};

struct xbatch {
    struct xbatch *next; /* sender-side chaining while waiting for ring space */
    uint32_t len, cap;
    char data[];
};
#endif
