/* io_uring plumbing for one shard (docs/design.md §13): the ring, created
 * disabled so that the shard thread that enables it becomes its single
 * issuer; the provided-buffer ring multishot receives fill; submission
 * entries. Nothing here knows about connections: the shard's loop
 * (core/shard.c) owns the operations and their user_data.
 *
 * Threads: uring_init/uring_destroy on the control thread before the shard
 * starts and after it stopped; everything else on the shard's thread only. */
#ifndef GANNET_URING_H
#define GANNET_URING_H
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct uring {
    struct io_uring ring;
    struct io_uring_buf_ring *br; /* provided receive buffers, group URING_BGID */
    char *bufs;
    uint32_t nbufs, bufsz;
    bool defer_taskrun;           /* SINGLE_ISSUER|DEFER_TASKRUN took (kernel >= 6.1) */
};

#define URING_BGID 1

/* 0 or a negative errno. `entries` SQEs; nbufs receive buffers of bufsz bytes. */
int uring_init(struct uring *u, unsigned entries, uint32_t nbufs, uint32_t bufsz);
int uring_enable(struct uring *u);        /* on the shard thread, first: 0 or -errno */
void uring_destroy(struct uring *u);
/* A submission entry, or NULL when the ring has none even after a submit
 * (the kernel refused it, e.g. -EBUSY with completions overflowing); every
 * caller has a way to try again later. GANNET_FAILPOINTS site "sqe". */
struct io_uring_sqe *uring_sqe(struct uring *u);
/* The provided buffer a receive completion filled, and giving it back. */
static inline char *uring_buf(struct uring *u, const struct io_uring_cqe *cqe)
{
    return u->bufs + (size_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) * u->bufsz;
}
void uring_buf_return(struct uring *u, const struct io_uring_cqe *cqe); /* no-op without F_BUFFER */
#endif
