/* Cross-shard links (core/mailbox.c): FIFO order, byte accounting, freeing
 * popped batches only once their successor exists, and one producer and one
 * consumer thread racing (run under TSan in the tsan phase). */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "mailbox.c"
#include "unit.h"

static struct xbatch *mk(uint32_t tag, uint32_t cap)
{
    struct xbatch *b = xbatch_new(cap);
    b->len = tag; /* the tests carry a sequence number in len */
    return b;
}

TEST(xlink_fifo)
{
    struct xlink l;
    CHECK_EQ_INT(xlink_init(&l), 0);
    CHECK(xlink_empty(&l));
    CHECK(xlink_pop(&l) == NULL);
    for (uint32_t i = 1; i <= 10; i++)
        xlink_push(&l, mk(i, 100));
    CHECK(!xlink_empty(&l));
    CHECK_EQ_INT(xlink_inflight(&l), 1000);
    for (uint32_t i = 1; i <= 10; i++) {
        struct xbatch *b = xlink_pop(&l);
        CHECK(b != NULL);
        if (!b)
            break;
        CHECK_EQ_INT(b->len, i);
        xlink_consumed(&l, b);
        CHECK_EQ_INT(xlink_inflight(&l), 1000 - 100 * i);
    }
    CHECK(xlink_empty(&l));
    CHECK(xlink_pop(&l) == NULL);
    /* the last popped batch is still the head: a push after it links to it */
    xlink_push(&l, mk(11, 8));
    struct xbatch *b = xlink_pop(&l);
    CHECK(b && b->len == 11);
    xlink_destroy(&l); /* frees the head batch (ASan: no leak) */
}

TEST(xlink_destroy_queued)
{
    struct xlink l;
    CHECK_EQ_INT(xlink_init(&l), 0);
    for (uint32_t i = 0; i < 5; i++)
        xlink_push(&l, mk(i, 64));
    CHECK(xlink_pop(&l) != NULL);
    xlink_destroy(&l); /* the popped one and four queued: no leak, no double free */
}

/* ---- two threads ---- */

#define NBATCH 300000u

struct pc {
    struct xlink l;
    uint32_t got, errors, max_inflight_seen;
    uint64_t budget;
};

static void *producer(void *arg)
{
    struct pc *t = arg;
    for (uint32_t i = 1; i <= NBATCH; i++) {
        while (xlink_inflight(&t->l) >= t->budget) /* what a parked producer waits for */
            sched_yield();
        struct xbatch *b = mk(i, 64);
        b->data[0] = (char)i; /* written before the push: the release must publish it */
        xlink_push(&t->l, b);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct pc *t = arg;
    uint32_t want = 1;
    while (want <= NBATCH) {
        struct xbatch *b = xlink_pop(&t->l);
        if (!b) {
            sched_yield();
            continue;
        }
        if (b->len != want || b->data[0] != (char)want)
            t->errors++;
        xlink_consumed(&t->l, b);
        if (b->data) /* consumed: the records' buffer is gone, the node stays as head */
            t->errors++;
        want++;
        t->got++;
    }
    return NULL;
}

TEST(xlink_two_threads)
{
    struct pc *t = calloc(1, sizeof *t);
    CHECK_EQ_INT(xlink_init(&t->l), 0);
    t->budget = 64 * 16;
    pthread_t a, b;
    CHECK_EQ_INT(pthread_create(&b, NULL, consumer, t), 0);
    CHECK_EQ_INT(pthread_create(&a, NULL, producer, t), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_EQ_INT(t->got, NBATCH);
    CHECK_EQ_INT(t->errors, 0);
    CHECK(xlink_pop(&t->l) == NULL);
    CHECK_EQ_INT(xlink_inflight(&t->l), 0);
    xlink_destroy(&t->l);
    free(t);
}

int main(void)
{
    RUN(xlink_fifo);
    RUN(xlink_destroy_queued);
    RUN(xlink_two_threads);
    return unit_report();
}
