/* io_uring plumbing: see uring.h. */
#include "uring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "failpoint.h"

int uring_init(struct uring *u, unsigned entries, uint32_t nbufs, uint32_t bufsz)
{
    memset(u, 0, sizeof *u);
    u->ring.ring_fd = -1;
    struct io_uring_params p = {0};
    /* Created disabled: SINGLE_ISSUER binds the ring to the thread that
     * enables it, which is the shard thread, not this (control) thread. */
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_R_DISABLED;
    int rc = io_uring_queue_init_params(entries, &u->ring, &p);
    u->defer_taskrun = rc == 0;
    if (rc == -EINVAL) { /* kernels before 6.1: no DEFER_TASKRUN; run with plain task work */
        memset(&p, 0, sizeof p);
        rc = io_uring_queue_init_params(entries, &u->ring, &p);
    }
    if (rc < 0) {
        u->ring.ring_fd = -1;
        return rc;
    }
    u->nbufs = nbufs;
    u->bufsz = bufsz;
    size_t rsz = nbufs * sizeof(struct io_uring_buf);
    u->br = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (u->br == MAP_FAILED) {
        u->br = NULL;
        return -errno;
    }
    u->bufs = malloc((size_t)nbufs * bufsz);
    if (!u->bufs)
        return -ENOMEM;
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)u->br, .ring_entries = nbufs, .bgid = URING_BGID};
    rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
    if (rc < 0)
        return rc;
    io_uring_buf_ring_init(u->br);
    for (uint32_t i = 0; i < nbufs; i++)
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * bufsz, bufsz, (unsigned short)i,
                              io_uring_buf_ring_mask(nbufs), (int)i);
    io_uring_buf_ring_advance(u->br, (int)nbufs);
    return 0;
}

int uring_enable(struct uring *u)
{
    if (!(u->ring.flags & IORING_SETUP_R_DISABLED))
        return 0;
    /* liburing 2.3 has no io_uring_enable_rings() */
    if (syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
        return -errno;
    return 0;
}

void uring_destroy(struct uring *u)
{
    if (u->ring.ring_fd >= 0)
        io_uring_queue_exit(&u->ring);
    u->ring.ring_fd = -1;
    if (u->br)
        munmap(u->br, u->nbufs * sizeof(struct io_uring_buf));
    u->br = NULL;
    free(u->bufs);
    u->bufs = NULL;
}

struct io_uring_sqe *uring_sqe(struct uring *u)
{
    if (failpoint(FP_SQE))
        return NULL;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

void uring_buf_return(struct uring *u, const struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_BUFFER))
        return;
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * u->bufsz, u->bufsz, (unsigned short)bid,
                          io_uring_buf_ring_mask(u->nbufs), 0);
    io_uring_buf_ring_advance(u->br, 1);
}
