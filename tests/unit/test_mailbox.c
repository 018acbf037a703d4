/* Unit tests for core/mailbox.c: the SPSC ring between two shards. */
#include "mailbox.h"
#include "unit.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#define P(x) ((void *)(uintptr_t)(x))

TEST(spsc_fifo)
{
    struct spsc q;
    CHECK_EQ_INT(spsc_init(&q, 16), 0);
    CHECK(spsc_empty(&q));
    CHECK(spsc_pop(&q) == NULL);
    for (uintptr_t i = 1; i <= 10; i++)
        CHECK(spsc_push(&q, P(i)));
    CHECK(!spsc_empty(&q));
    for (uintptr_t i = 1; i <= 10; i++)
        CHECK(spsc_pop(&q) == P(i));
    CHECK(spsc_empty(&q));
    CHECK(spsc_pop(&q) == NULL);
    /* interleaved, across many laps of the ring */
    uintptr_t next_in = 1, next_out = 1;
    for (int round = 0; round < 1000; round++) {
        int pushes = 1 + round % 7, pops = 1 + (round * 5) % 7;
        for (int k = 0; k < pushes; k++)
            if (spsc_push(&q, P(next_in)))
                next_in++;
        for (int k = 0; k < pops; k++) {
            void *v = spsc_pop(&q);
            if (!v) {
                CHECK_EQ_INT(next_out, next_in); /* NULL only when empty */
                break;
            }
            CHECK_EQ_INT((uintptr_t)v, next_out);
            next_out++;
        }
    }
    CHECK(next_in > 16 * 10); /* went round the ring many times */
    spsc_free(&q);
    CHECK(q.slots == NULL);
}

TEST(spsc_full)
{
    struct spsc q;
    CHECK_EQ_INT(spsc_init(&q, 8), 0);
    for (uintptr_t i = 1; i <= 8; i++)
        CHECK(spsc_push(&q, P(i)));
    CHECK(!spsc_push(&q, P(99))); /* full: exactly size entries fit */
    CHECK(!spsc_push(&q, P(99)));
    CHECK(spsc_pop(&q) == P(1));
    CHECK(spsc_push(&q, P(9)));
    CHECK(!spsc_push(&q, P(99)));
    for (uintptr_t i = 2; i <= 9; i++)
        CHECK(spsc_pop(&q) == P(i));
    CHECK(spsc_pop(&q) == NULL);
    CHECK(spsc_empty(&q));
    spsc_free(&q);

    /* the smallest ring */
    CHECK_EQ_INT(spsc_init(&q, 1), 0);
    CHECK(spsc_push(&q, P(7)));
    CHECK(!spsc_push(&q, P(8)));
    CHECK(spsc_pop(&q) == P(7));
    CHECK(spsc_pop(&q) == NULL);
    CHECK(spsc_push(&q, P(8)));
    CHECK(spsc_pop(&q) == P(8));
    spsc_free(&q);
}

/* head/tail are free-running 32-bit counters: the ring must keep working
 * when they wrap. */
TEST(spsc_counter_wrap)
{
    struct spsc q;
    CHECK_EQ_INT(spsc_init(&q, 4), 0);
    uint32_t start = UINT32_MAX - 5;
    atomic_store(&q.head, start);
    atomic_store(&q.tail, start);
    q.head_cache = q.tail_cache = start;
    CHECK(spsc_empty(&q));
    CHECK(spsc_pop(&q) == NULL);
    uintptr_t in = 1, out = 1;
    for (int round = 0; round < 8; round++) {
        while (spsc_push(&q, P(in)))
            in++;
        CHECK_EQ_INT(in - out, 4); /* full at exactly 4, also across the wrap */
        for (int k = 0; k < 3; k++) {
            CHECK_EQ_INT((uintptr_t)spsc_pop(&q), out);
            out++;
        }
    }
    while (out < in) {
        CHECK_EQ_INT((uintptr_t)spsc_pop(&q), out);
        out++;
    }
    CHECK(spsc_pop(&q) == NULL);
    CHECK(atomic_load(&q.tail) < start); /* it did wrap */
    spsc_free(&q);
}

/* ---- two threads ---- */

#define NMSG 1000000u

struct pc {
    struct spsc q;
    _Atomic long full_spins;
    uint32_t got, errors, first_bad, first_bad_want;
};

static void *producer(void *arg)
{
    struct pc *t = arg;
    for (uintptr_t i = 1; i <= NMSG; i++)
        while (!spsc_push(&t->q, P(i))) {
            atomic_fetch_add_explicit(&t->full_spins, 1, memory_order_relaxed);
            sched_yield();
        }
    return NULL;
}

static void *consumer(void *arg)
{
    struct pc *t = arg;
    uintptr_t want = 1;
    while (want <= NMSG) {
        void *v = spsc_pop(&t->q);
        if (!v) {
            sched_yield();
            continue;
        }
        if ((uintptr_t)v != want && t->errors++ == 0) {
            t->first_bad = (uint32_t)(uintptr_t)v;
            t->first_bad_want = (uint32_t)want;
        }
        want++;
        t->got++;
    }
    return NULL;
}

static void run_pc(uint32_t size)
{
    struct pc *t = calloc(1, sizeof *t);
    CHECK_EQ_INT(spsc_init(&t->q, size), 0);
    pthread_t a, b;
    CHECK_EQ_INT(pthread_create(&b, NULL, consumer, t), 0);
    CHECK_EQ_INT(pthread_create(&a, NULL, producer, t), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_EQ_INT(t->got, NMSG);
    CHECK_EQ_INT(t->errors, 0);
    if (t->errors)
        fprintf(stderr, "  ring %u: first out-of-order value %u, expected %u\n", size, t->first_bad,
                t->first_bad_want);
    CHECK(spsc_pop(&t->q) == NULL); /* nothing extra */
    CHECK(spsc_empty(&t->q));
    spsc_free(&t->q);
    free(t);
}

TEST(spsc_two_threads)
{
    run_pc(1024);
    run_pc(2); /* mostly full or empty: the cached-index paths */
}

int main(void)
{
    RUN(spsc_fifo);
    RUN(spsc_full);
    RUN(spsc_counter_wrap);
    RUN(spsc_two_threads);
    return unit_report();
}
