/* The connection timer wheel (core/timer.c): a timer fires at the first
 * advance at or after its due time, never before, whatever its distance
 * (within a lap, several laps ahead, after a long sleep); cancel and re-arm
 * take it off its old slot. */
#include <stdlib.h>

#include "timer.c"
#include "unit.h"

static int count(const struct tnode *t)
{
    int n = 0;
    for (; t; t = t->expired_next)
        n++;
    return n;
}

TEST(timer_fires_not_before_due)
{
    struct twheel w;
    struct tnode a;
    twheel_init(&w, 1000);
    tnode_init(&a);
    twheel_arm(&w, &a, 1234);
    CHECK(tnode_armed(&a));
    for (int64_t now = 1000; now < 1234; now += 7)
        CHECK(twheel_expire(&w, now) == NULL);
    struct tnode *e = twheel_expire(&w, 1250);
    CHECK(e == &a);
    CHECK(!tnode_armed(&a));
    CHECK_EQ_INT(w.n, 0);
}

TEST(timer_beyond_one_lap)
{
    struct twheel w;
    struct tnode a;
    twheel_init(&w, 0);
    tnode_init(&a);
    int64_t due = 3 * WHEEL_SLOTS * WHEEL_TICK_MS + 77; /* three laps ahead */
    twheel_arm(&w, &a, due);
    int fired = 0;
    int64_t at = -1;
    for (int64_t now = 0; now <= due + 100; now += 30) {
        if (twheel_expire(&w, now)) {
            fired++;
            at = now;
        }
    }
    CHECK_EQ_INT(fired, 1);
    CHECK(at >= due && at < due + 30 + WHEEL_TICK_MS);
}

TEST(timer_cancel_and_rearm)
{
    struct twheel w;
    struct tnode a, b;
    twheel_init(&w, 0);
    tnode_init(&a);
    tnode_init(&b);
    twheel_arm(&w, &a, 100);
    twheel_arm(&w, &b, 100);
    twheel_cancel(&w, &a);
    twheel_arm(&w, &b, 500); /* moved later */
    CHECK_EQ_INT(w.n, 1);
    CHECK(twheel_expire(&w, 200) == NULL);
    CHECK(twheel_expire(&w, 499) == NULL);
    CHECK(twheel_expire(&w, 500) == &b);
    twheel_arm(&w, &a, 10); /* already due: the next advance takes it */
    CHECK(twheel_expire(&w, 550) == &a);
}

TEST(timer_long_sleep_and_many)
{
    struct twheel w;
    twheel_init(&w, 0);
    enum { N = 5000 };
    struct tnode *t = calloc(N, sizeof *t);
    for (int i = 0; i < N; i++) {
        tnode_init(&t[i]);
        twheel_arm(&w, &t[i], (int64_t)i * 37 % 200000);
    }
    CHECK_EQ_INT(w.n, N);
    /* one advance after sleeping for more than a lap still finds every due timer, and no other */
    int want = 0;
    for (int i = 0; i < N; i++)
        want += (int64_t)i * 37 % 200000 <= 100000;
    struct tnode *e = twheel_expire(&w, 100000);
    CHECK_EQ_INT(count(e), want);
    for (; e; e = e->expired_next)
        CHECK(e->due_ms == INT64_MAX && !tnode_armed(e));
    int left = (int)w.n;
    CHECK_EQ_INT(left, N - want);
    int fired = count(twheel_expire(&w, 300000));
    CHECK_EQ_INT(fired, left);
    CHECK_EQ_INT(w.n, 0);
    free(t);
}

int main(void)
{
    RUN(timer_fires_not_before_due);
    RUN(timer_beyond_one_lap);
    RUN(timer_cancel_and_rearm);
    RUN(timer_long_sleep_and_many);
    return unit_report();
}
