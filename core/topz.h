/* Per-subject traffic: the busiest subjects of the last 10-20 seconds, an
 * estimate nats-server cannot give (/topz, README "Monitoring").
 *
 * Counting every message per subject would cost a hash-table update on the
 * hot path, so each shard samples instead: after a random gap of 1 to
 * 2K-1 published messages (mean K, "sample_one_in") it records one message,
 * weighted K. Gaps are random so that a periodic publish pattern (a, b, a,
 * b ...) cannot hide a subject. The cost on an unsampled message is one
 * decrement and a branch.
 *
 * Sampled subjects go to a small table per window (TOPZ_CAP subjects,
 * found through an open-addressed index on the subject's XXH3). When a new
 * subject arrives and the table is full, the smallest of 8 random entries
 * is evicted, as Redis' approximated LFU does: a heavy subject holds many
 * samples and is almost never among the 8 smallest, so heavy hitters stay
 * while one-off subjects (inboxes) churn through the rest. Two windows
 * alternate every TOPZ_WINDOW_MS: answers add the previous and the current.
 *
 * Threads: owned by one shard; the monitor reads it only through a shard
 * query (query.h, Q_TOP), answered by the owner. */
#ifndef GANNET_TOPZ_H
#define GANNET_TOPZ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOPZ_CAP 128           /* subjects per window and shard */
#define TOPZ_SUBJ_MAX 192      /* longer subjects are kept truncated (the hash covers all of it) */
#define TOPZ_WINDOW_MS 10000
#define TOPZ_DEFAULT_ONE_IN 16 /* GANNET_TOPZ_SAMPLE overrides; 0 turns sampling off */

struct topz_ent {
    uint64_t hash;
    uint64_t msgs, bytes, deliveries; /* estimates: samples x weight */
    uint16_t len;              /* bytes of subj used */
    bool truncated;            /* subj holds the first TOPZ_SUBJ_MAX bytes only */
    char subj[TOPZ_SUBJ_MAX];
};

struct topz_window {
    struct topz_ent e[TOPZ_CAP];
    uint16_t idx[2 * TOPZ_CAP]; /* linear probing on hash; 0 = empty, else entry index + 1 */
    uint32_t n;
    int64_t start_ms;
};

struct topz {
    struct topz_window w[2];
    int cur;                   /* window being filled; the other is the previous one */
    uint32_t one_in;           /* K; 0 = off */
    uint32_t skip;             /* published messages until the next sample */
    uint64_t rng;
};

void topz_init(struct topz *z, uint32_t one_in, int64_t now_ms, uint64_t seed);
/* Record one message (called when skip reaches 0); rearms skip. */
void topz_sample(struct topz *z, const char *subj, size_t len, uint32_t size, uint32_t deliveries);
/* Start a new window when the current one is TOPZ_WINDOW_MS old. */
void topz_tick(struct topz *z, int64_t now_ms);

/* The hot-path hook: one decrement and a rarely taken branch. */
static inline void topz_count(struct topz *z, const char *subj, size_t len, uint32_t size, uint32_t deliveries)
{
    if (__builtin_expect(--z->skip == 0, 0))
        topz_sample(z, subj, len, size, deliveries);
}
#endif
