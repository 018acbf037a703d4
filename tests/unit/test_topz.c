/* The per-subject traffic sampler (core/topz.c): estimates, eviction, the
 * index's deletions, windows. Links against libgannet.a but includes the
 * .c so the static index helpers can be checked directly. */
#include "../../core/topz.c"

#include <stdio.h>
#include <stdlib.h>

#include "unit.h"

/* Feed n messages of one subject through the hot-path hook. */
static void feed(struct topz *z, const char *subj, int n, uint32_t size, uint32_t deliv)
{
    for (int i = 0; i < n; i++)
        topz_count(z, subj, strlen(subj), size, deliv);
}

static const struct topz_ent *find(const struct topz_window *w, const char *subj)
{
    for (uint32_t i = 0; i < w->n; i++)
        if (w->e[i].len == strlen(subj) && !memcmp(w->e[i].subj, subj, w->e[i].len))
            return &w->e[i];
    return NULL;
}

/* Every entry is reachable through the index, and the index holds nothing else. */
static int index_consistent(const struct topz_window *w)
{
    uint32_t used = 0;
    for (uint32_t i = 0; i < IDX_SLOTS; i++)
        used += w->idx[i] != 0;
    if (used != w->n)
        return 0;
    for (uint32_t i = 0; i < w->n; i++) {
        const struct topz_ent *e = &w->e[i];
        bool found;
        uint32_t s = idx_find(w, e->hash, e->subj, e->truncated ? TOPZ_SUBJ_MAX + 1u : e->len, &found);
        if (!found || w->idx[s] != i + 1)
            return 0;
    }
    return 1;
}

TEST(every_message_when_one_in_one)
{
    struct topz z;
    topz_init(&z, 1, 0, 42);
    feed(&z, "a.b", 100, 10, 3);
    const struct topz_ent *e = find(&z.w[z.cur], "a.b");
    CHECK(e != NULL);
    if (e) {
        CHECK_EQ_INT(e->msgs, 100);
        CHECK_EQ_INT(e->bytes, 1000);
        CHECK_EQ_INT(e->deliveries, 300);
    }
}

TEST(estimates_are_close)
{
    /* 160,000 messages at 1 in 16: about 10,000 samples, so the estimate's
     * standard deviation is ~1% of the total; 10% is > 10 sigma. */
    struct topz z;
    topz_init(&z, 16, 0, 7);
    for (int i = 0; i < 80000; i++) {
        feed(&z, "x", 1, 100, 1);
        feed(&z, "y", 1, 10, 0); /* strictly alternating: a fixed gap would see only one of them */
    }
    const struct topz_ent *x = find(&z.w[z.cur], "x"), *y = find(&z.w[z.cur], "y");
    CHECK(x && y);
    if (x && y) {
        CHECK(x->msgs > 72000 && x->msgs < 88000);
        CHECK(y->msgs > 72000 && y->msgs < 88000);
        CHECK(x->bytes > 7200000 && x->bytes < 8800000);
        CHECK_EQ_INT(y->deliveries, 0);
    }
}

TEST(off_records_nothing)
{
    struct topz z;
    topz_init(&z, 0, 0, 1);
    feed(&z, "a", 100000, 1, 1);
    CHECK_EQ_INT(z.w[0].n + z.w[1].n, 0);
}

TEST(heavy_hitters_survive_churn)
{
    /* one subject in 4 is "hot"; the rest are unique inboxes that fill and
     * churn the table: the hot one must stay, with a sane count */
    struct topz z;
    topz_init(&z, 1, 0, 99);
    char subj[64];
    for (int i = 0; i < 40000; i++) {
        if (i % 4 == 0) {
            feed(&z, "hot", 1, 1, 1);
        } else {
            snprintf(subj, sizeof subj, "_INBOX.%d", i);
            feed(&z, subj, 1, 1, 1);
        }
    }
    const struct topz_window *w = &z.w[z.cur];
    CHECK_EQ_INT(w->n, TOPZ_CAP);
    CHECK(index_consistent(w));
    const struct topz_ent *hot = find(w, "hot");
    CHECK(hot != NULL);
    if (hot)
        CHECK_EQ_INT(hot->msgs, 10000);
}

TEST(index_stays_consistent_under_random_eviction)
{
    struct topz z;
    topz_init(&z, 1, 0, 5);
    char subj[64];
    uint64_t r = 12345;
    for (int i = 0; i < 200000; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        snprintf(subj, sizeof subj, "s.%u", (unsigned)((r >> 33) % 600)); /* 600 subjects, 128 places */
        feed(&z, subj, 1, 1, 0);
        if (i % 5000 == 0)
            CHECK(index_consistent(&z.w[z.cur]));
    }
    CHECK(index_consistent(&z.w[z.cur]));
}

TEST(long_subjects_are_truncated_but_distinct)
{
    struct topz z;
    topz_init(&z, 1, 0, 3);
    char a[400], b[400];
    memset(a, 'a', sizeof a - 1);
    a[sizeof a - 1] = 0;
    memcpy(b, a, sizeof b);
    b[350] = 'b'; /* same first TOPZ_SUBJ_MAX bytes */
    feed(&z, a, 3, 1, 0);
    feed(&z, b, 5, 1, 0);
    const struct topz_window *w = &z.w[z.cur];
    CHECK_EQ_INT(w->n, 2);
    CHECK(w->e[0].truncated && w->e[1].truncated);
    CHECK_EQ_INT(w->e[0].len, TOPZ_SUBJ_MAX);
    CHECK_EQ_INT(w->e[0].msgs, 3);
    CHECK_EQ_INT(w->e[1].msgs, 5);
    CHECK(index_consistent(w));
}

TEST(windows_alternate)
{
    struct topz z;
    topz_init(&z, 1, 1000, 11);
    feed(&z, "old", 5, 1, 0);
    topz_tick(&z, 1000 + TOPZ_WINDOW_MS - 1); /* not yet */
    CHECK(find(&z.w[z.cur], "old") != NULL);
    topz_tick(&z, 1000 + TOPZ_WINDOW_MS);
    CHECK(find(&z.w[z.cur], "old") == NULL);
    CHECK(find(&z.w[z.cur ^ 1], "old") != NULL); /* still counted, in the previous window */
    feed(&z, "new", 2, 1, 0);
    topz_tick(&z, 1000 + 2 * TOPZ_WINDOW_MS);
    CHECK(find(&z.w[z.cur], "new") == NULL);
    CHECK(find(&z.w[z.cur ^ 1], "new") != NULL);
    CHECK(find(&z.w[z.cur ^ 1], "old") == NULL); /* two windows on: gone */
    CHECK(find(&z.w[z.cur], "old") == NULL);
}

int main(void)
{
    RUN(every_message_when_one_in_one);
    RUN(estimates_are_close);
    RUN(off_records_nothing);
    RUN(heavy_hitters_survive_churn);
    RUN(index_stays_consistent_under_random_eviction);
    RUN(long_subjects_are_truncated_but_distinct);
    RUN(windows_alternate);
    return unit_report();
}
