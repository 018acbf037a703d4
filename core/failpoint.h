/* Allocation-failure injection for tests (GANNET_FAILPOINTS).
 *
 *   GANNET_FAILPOINTS="sub:7,sqe:100"
 *
 * makes every 7th subject-index allocation and every 100th io_uring
 * submission-entry request fail as if memory had run out, so that tests can
 * drive every failure path (docs/design.md §11). Sites:
 *   sub    subject-index nodes and arrays (insert and remove)
 *   sid    a connection's sid map growing
 *   oblock an output block
 *   sqe    an io_uring submission entry
 *   batch  a cross-shard batch
 *   conn   a connection object at accept
 *   inq    the buffer of a parked producer's unread input
 *
 * Process-wide on purpose: a test knob read once at start-up, before the
 * shards exist; the counters are atomics any shard may bump. With the
 * variable unset, failpoint() is one predictable branch on a global that
 * never changes. */
#ifndef GANNET_FAILPOINT_H
#define GANNET_FAILPOINT_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum failsite { FP_SUB, FP_SID, FP_OBLOCK, FP_SQE, FP_BATCH, FP_CONN, FP_INQ, FP__COUNT };

struct failpoints {
    bool any;                         /* some site is armed */
    uint32_t every[FP__COUNT];        /* fail every N-th call (0: never) */
    _Atomic uint64_t calls[FP__COUNT];
};
extern struct failpoints failpoints;

/* Parse a GANNET_FAILPOINTS value; -1 (with a message in err) if malformed. */
int failpoints_init(const char *spec, char *err, size_t errlen);

static inline bool failpoint(enum failsite s)
{
    if (__builtin_expect(!failpoints.any, 1) || !failpoints.every[s])
        return false;
    uint64_t n = atomic_fetch_add_explicit(&failpoints.calls[s], 1, memory_order_relaxed) + 1;
    return n % failpoints.every[s] == 0;
}
#endif
