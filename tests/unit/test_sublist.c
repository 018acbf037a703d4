/* Unit tests for core/sublist.c (nats-compat.md §2).
 *
 * The .c is included (style.md "unit tests that include the .c under test")
 * so that pruning can be checked on the trie itself. Build it without
 * core/sublist.c on the command line; the Makefile's link against
 * libgannet.a is fine, since this file defines every symbol sublist.o would.
 *
 * RCU: main() registers the thread and stays online while tests run; every
 * helper thread registers itself. The main thread goes offline whenever it
 * blocks (pthread_join, rcu_barrier), else grace periods would wait for it. */
#include "sublist.c"

#include "subject.h"
#include "unit.h"

#include <stdio.h>

/* ThreadSanitizer: tests/tsan.supp covers liburcu's pointer publication; the
 * grace-period wake-up inlined from <urcu/static/urcu-qsbr.h> into our
 * threads' rcu_quiescent_state() is the same kind of unmodelled access. */
#ifdef __has_feature
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifdef __SANITIZE_THREAD__
#define UNDER_TSAN 1
#endif
#ifdef UNDER_TSAN
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) { return "race:urcu_qsbr_wake_up_gp\n"; }
#endif

static struct sub *mk(const char *subj, const char *queue)
{
    static unsigned sidn;
    char sid[16];
    int n = snprintf(sid, sizeof sid, "%u", ++sidn);
    struct sub *s = sub_new(subj, strlen(subj), queue, queue ? strlen(queue) : 0, sid, (size_t)n);
    if (!s)
        abort();
    return s;
}

static void match(struct sublist *sl, const char *subj, struct match_result *r)
{
    sublist_match(sl, subj, strlen(subj), r);
}

static uint32_t total(const struct match_result *r)
{
    uint32_t n = r->npsubs;
    for (uint32_t i = 0; i < r->ngroups; i++)
        n += r->groups[i].n;
    return n;
}

static int has_psub(const struct match_result *r, const struct sub *s)
{
    for (uint32_t i = 0; i < r->npsubs; i++)
        if (r->psubs[i] == s)
            return 1;
    return 0;
}

static const struct match_group *group(const struct match_result *r, const char *name)
{
    for (uint32_t i = 0; i < r->ngroups; i++)
        if (r->groups[i].nlen == strlen(name) && memcmp(r->groups[i].name, name, r->groups[i].nlen) == 0)
            return &r->groups[i];
    return NULL;
}

static int in_group(const struct match_group *g, const struct sub *s)
{
    for (uint32_t i = 0; g && i < g->n; i++)
        if (g->members[i] == s)
            return 1;
    return 0;
}

static uint64_t gen(struct sublist *sl) { return atomic_load(&sl->gen); }

/* Nothing left in the trie: no subscriptions, no child nodes, no edges. */
static int trie_empty(struct sublist *sl)
{
    long before, after;
    unsigned long count;
    cds_lfht_count_nodes(sl->edges, &before, &count, &after);
    const struct snode *r = sl->root;
    return !r->psubs && !r->qsubs && !r->pwc && !r->fwc && r->nchildren == 0 && count == 0 &&
           atomic_load(&sl->count) == 0;
}

/* Remove (checking gen and count move) and free after a grace period. */
static void rm(struct sublist *sl, struct sub *s)
{
    uint64_t g = gen(sl), c = atomic_load(&sl->count);
    CHECK_EQ_INT(sublist_remove(sl, s), 0);
    CHECK(gen(sl) > g);
    CHECK_EQ_INT(atomic_load(&sl->count), c - 1);
}

static void ins(struct sublist *sl, struct sub *s)
{
    uint64_t g = gen(sl), c = atomic_load(&sl->count);
    CHECK_EQ_INT(sublist_insert(sl, s), 0);
    CHECK(gen(sl) > g);
    CHECK_EQ_INT(atomic_load(&sl->count), c + 1);
}

static void free_subs(struct sub **v, size_t n)
{
    TSAN_GRACE_RELEASE(); /* this thread's uses happened before the grace period */
    synchronize_rcu(); /* no reader still holds them */
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

TEST(sublist_literal)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_result r = {0};
    struct sub *a = mk("foo.bar", NULL), *b = mk("foo.bar", NULL), *c = mk("foo", NULL);
    ins(&sl, a);
    match(&sl, "foo.bar", &r);
    CHECK_EQ_INT(r.npsubs, 1);
    CHECK(has_psub(&r, a));
    CHECK_EQ_INT(r.ngroups, 0);
    ins(&sl, b);
    ins(&sl, c);
    match(&sl, "foo.bar", &r);
    CHECK_EQ_INT(r.npsubs, 2);
    CHECK(has_psub(&r, a) && has_psub(&r, b));
    match(&sl, "foo", &r);
    CHECK_EQ_INT(r.npsubs, 1);
    CHECK(has_psub(&r, c));
    match(&sl, "foo.baz", &r);
    CHECK_EQ_INT(total(&r), 0);
    match(&sl, "foo.bar.baz", &r);
    CHECK_EQ_INT(total(&r), 0);
    match(&sl, "bar", &r);
    CHECK_EQ_INT(total(&r), 0);
    match(&sl, "FOO", &r);
    CHECK_EQ_INT(total(&r), 0);
    rm(&sl, a);
    match(&sl, "foo.bar", &r);
    CHECK_EQ_INT(r.npsubs, 1);
    CHECK(has_psub(&r, b));
    rm(&sl, b);
    match(&sl, "foo.bar", &r);
    CHECK_EQ_INT(total(&r), 0);
    match(&sl, "foo", &r);
    CHECK_EQ_INT(r.npsubs, 1);
    rm(&sl, c);
    CHECK(trie_empty(&sl));
    match_result_free(&r);
    sublist_destroy(&sl);
    struct sub *v[] = {a, b, c};
    free_subs(v, 3);
}

TEST(sublist_wildcards)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_result r = {0};
    struct sub *pwc = mk("foo.*", NULL), *fwc = mk("foo.>", NULL), *mid = mk("foo.*.baz", NULL),
               *lead = mk("*.bar", NULL), *all = mk(">", NULL), *one = mk("*", NULL);
    ins(&sl, pwc);
    ins(&sl, fwc);
    ins(&sl, mid);
    ins(&sl, lead);
    match(&sl, "foo.bar", &r);
    CHECK_EQ_INT(r.npsubs, 3);
    CHECK(has_psub(&r, pwc) && has_psub(&r, fwc) && has_psub(&r, lead));
    match(&sl, "foo", &r); /* foo.> needs one more token */
    CHECK_EQ_INT(total(&r), 0);
    match(&sl, "foo.bar.baz", &r);
    CHECK_EQ_INT(r.npsubs, 2);
    CHECK(has_psub(&r, fwc) && has_psub(&r, mid));
    match(&sl, "foo.x.y.z", &r);
    CHECK_EQ_INT(r.npsubs, 1);
    CHECK(has_psub(&r, fwc));
    match(&sl, "x.bar", &r);
    CHECK_EQ_INT(r.npsubs, 1);
    CHECK(has_psub(&r, lead));
    ins(&sl, all);
    ins(&sl, one);
    match(&sl, "foo", &r);
    CHECK_EQ_INT(r.npsubs, 2);
    CHECK(has_psub(&r, all) && has_psub(&r, one));
    match(&sl, "a.b.c.d.e.f.g", &r);
    CHECK_EQ_INT(r.npsubs, 1);
    CHECK(has_psub(&r, all));
    struct sub *v[] = {pwc, fwc, mid, lead, all, one};
    for (size_t i = 0; i < 6; i++)
        rm(&sl, v[i]);
    CHECK(trie_empty(&sl));
    match(&sl, "foo.bar", &r);
    CHECK_EQ_INT(total(&r), 0);
    match_result_free(&r);
    sublist_destroy(&sl);
    free_subs(v, 6);
}

/* §2: overlapping wildcards each get a copy. */
TEST(sublist_overlapping)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_result r = {0};
    struct sub *v[] = {mk("foo.*", NULL), mk("foo.>", NULL), mk(">", NULL), mk("foo.bar", NULL)};
    for (size_t i = 0; i < 4; i++)
        ins(&sl, v[i]);
    match(&sl, "foo.bar", &r);
    CHECK_EQ_INT(r.npsubs, 4);
    CHECK_EQ_INT(r.ngroups, 0);
    for (size_t i = 0; i < 4; i++)
        CHECK(has_psub(&r, v[i]));
    match(&sl, "foo", &r);
    CHECK_EQ_INT(r.npsubs, 1);
    CHECK(has_psub(&r, v[2]));
    match(&sl, "foo.baz", &r);
    CHECK_EQ_INT(r.npsubs, 3);
    CHECK(!has_psub(&r, v[3]));
    match(&sl, "foo.bar.baz", &r);
    CHECK_EQ_INT(r.npsubs, 2);
    CHECK(has_psub(&r, v[1]) && has_psub(&r, v[2]));
    for (size_t i = 0; i < 4; i++)
        rm(&sl, v[i]);
    CHECK(trie_empty(&sl));
    match_result_free(&r);
    sublist_destroy(&sl);
    free_subs(v, 4);
}

/* §2: queue groups are merged by name across patterns; queue and plain
 * subscribers on one subject both fire. */
TEST(sublist_queue_groups)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_result r = {0};
    struct sub *q1 = mk("foo.bar", "q"), *q2 = mk("foo.*", "q"), *q3 = mk("foo.>", "q");
    struct sub *o1 = mk("foo.bar", "other"), *o2 = mk("foo.bar", "other"), *p = mk("foo.bar", NULL);
    struct sub *qq = mk("foo.bar", "qq"); /* a name that shares a prefix */
    ins(&sl, q1);
    ins(&sl, q2);
    ins(&sl, q3);
    match(&sl, "foo.bar", &r);
    CHECK_EQ_INT(r.npsubs, 0);
    CHECK_EQ_INT(r.ngroups, 1);
    const struct match_group *g = group(&r, "q");
    CHECK(g != NULL);
    CHECK(g && g->n == 3 && in_group(g, q1) && in_group(g, q2) && in_group(g, q3));
    match(&sl, "foo.baz", &r);
    CHECK_EQ_INT(r.ngroups, 1);
    g = group(&r, "q");
    CHECK(g && g->n == 2 && in_group(g, q2) && in_group(g, q3));

    ins(&sl, o1);
    ins(&sl, o2);
    ins(&sl, p);
    ins(&sl, qq);
    match(&sl, "foo.bar", &r);
    CHECK_EQ_INT(r.npsubs, 1);
    CHECK(has_psub(&r, p));
    CHECK_EQ_INT(r.ngroups, 3);
    g = group(&r, "q");
    CHECK(g && g->n == 3);
    g = group(&r, "other");
    CHECK(g && g->n == 2 && in_group(g, o1) && in_group(g, o2));
    g = group(&r, "qq");
    CHECK(g && g->n == 1 && in_group(g, qq));

    /* removing group members, down to none */
    rm(&sl, q1);
    match(&sl, "foo.bar", &r);
    g = group(&r, "q");
    CHECK(g && g->n == 2 && !in_group(g, q1));
    rm(&sl, o1);
    rm(&sl, o2);
    match(&sl, "foo.bar", &r);
    CHECK(group(&r, "other") == NULL);
    CHECK_EQ_INT(r.ngroups, 2);
    CHECK_EQ_INT(sublist_remove(&sl, o1), -ENOENT);
    struct sub *v[] = {q2, q3, p, qq};
    for (size_t i = 0; i < 4; i++)
        rm(&sl, v[i]);
    CHECK(trie_empty(&sl));
    match_result_free(&r);
    sublist_destroy(&sl);
    struct sub *all[] = {q1, q2, q3, o1, o2, p, qq};
    free_subs(all, 7);
}

/* A group's name points into one member's string; when that member leaves
 * (and is freed) the group must still have a readable name. ASan checks. */
TEST(sublist_queue_name_outlives_member)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_result r = {0};
    struct sub *a = mk("foo", "workers"), *b = mk("foo", "workers"), *c = mk("foo.*", "workers");
    ins(&sl, a);
    ins(&sl, b);
    ins(&sl, c);
    rm(&sl, a);
    free_subs(&a, 1);
    gannet_offline();
    TSAN_GRACE_RELEASE();
    rcu_barrier(); /* old arrays gone too */
    rcu_thread_online();
    match(&sl, "foo", &r);
    CHECK_EQ_INT(r.ngroups, 1);
    const struct match_group *g = group(&r, "workers");
    CHECK(g && g->n == 1 && in_group(g, b));
    struct sub *d = mk("foo", "workers");
    ins(&sl, d);
    match(&sl, "foo", &r);
    g = group(&r, "workers");
    CHECK(g && g->n == 2 && in_group(g, b) && in_group(g, d));
    rm(&sl, b);
    free_subs(&b, 1);
    match(&sl, "foo.x", &r);
    g = group(&r, "workers");
    CHECK(g && g->n == 1 && in_group(g, c));
    match(&sl, "foo", &r);
    g = group(&r, "workers");
    CHECK(g && g->n == 1 && in_group(g, d));
    rm(&sl, c);
    rm(&sl, d);
    CHECK(trie_empty(&sl));
    match_result_free(&r);
    sublist_destroy(&sl);
    struct sub *v[] = {c, d};
    free_subs(v, 2);
}

/* §2: an empty token in a publish subject matches nothing, not even '>'. */
TEST(sublist_empty_token_publish)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_result r = {0};
    struct sub *v[] = {mk(">", NULL), mk("*", NULL), mk("foo.>", NULL), mk("*.*", NULL), mk("foo.*.bar", "q")};
    for (size_t i = 0; i < 5; i++)
        ins(&sl, v[i]);
    static const char *const bad[] = {"", ".", "foo.", ".foo", "foo..bar", "foo.bar.", "..", "foo..", ".foo.bar"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        match(&sl, bad[i], &r);
        if (total(&r))
            fprintf(stderr, "  \"%s\" matched %u\n", bad[i], total(&r));
        CHECK_EQ_INT(total(&r), 0);
    }
    match(&sl, "foo.x.bar", &r); /* sanity: the subs are there */
    CHECK_EQ_INT(total(&r), 3);
    for (size_t i = 0; i < 5; i++)
        rm(&sl, v[i]);
    CHECK(trie_empty(&sl));
    match_result_free(&r);
    sublist_destroy(&sl);
    free_subs(v, 5);
}

/* §2: a non-pedantic PUB to "foo.*" matches pattern subs, never literal ones. */
TEST(sublist_wildcard_token_published)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_result r = {0};
    struct sub *pwc = mk("foo.*", NULL), *fwc = mk("foo.>", NULL), *lit = mk("foo.bar", NULL),
               *star = mk("foo*", NULL), *one = mk("*", NULL), *root = mk("foo", NULL);
    struct sub *v[] = {pwc, fwc, lit, star, one, root};
    for (size_t i = 0; i < 6; i++)
        ins(&sl, v[i]);
    match(&sl, "foo.*", &r);
    CHECK_EQ_INT(r.npsubs, 2);
    CHECK(has_psub(&r, pwc) && has_psub(&r, fwc));
    match(&sl, "foo.>", &r);
    CHECK_EQ_INT(r.npsubs, 2);
    CHECK(has_psub(&r, pwc) && has_psub(&r, fwc));
    match(&sl, "*", &r);
    CHECK_EQ_INT(r.npsubs, 1);
    CHECK(has_psub(&r, one));
    match(&sl, "foo*", &r); /* a literal token */
    CHECK_EQ_INT(r.npsubs, 2);
    CHECK(has_psub(&r, star) && has_psub(&r, one));
    for (size_t i = 0; i < 6; i++)
        rm(&sl, v[i]);
    CHECK(trie_empty(&sl));
    match_result_free(&r);
    sublist_destroy(&sl);
    free_subs(v, 6);
}

/* Removal prunes exactly the nodes nobody needs any more; every change
 * bumps the generation; failed removals change nothing. */
TEST(sublist_remove_prunes)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_result r = {0};
    static const char *const subj[] = {"a.b.c.d", "a.b", "a.b.c", "a.*.c", "a.>", "a.*.>", "*.b.*", ">",
                                       "x",       "a.b.c.e", "a.b.*", "x.y.z"};
    enum { N = sizeof subj / sizeof subj[0] };
    struct sub *v[N], *q[N];
    for (size_t i = 0; i < N; i++) {
        v[i] = mk(subj[i], NULL);
        q[i] = mk(subj[i], i % 2 ? "g1" : "g2");
    }
    CHECK(trie_empty(&sl));
    uint64_t g0 = gen(&sl);
    for (size_t i = 0; i < N; i++) {
        ins(&sl, v[i]);
        ins(&sl, q[i]);
    }
    CHECK_EQ_INT(gen(&sl) - g0 >= 2 * N, 1);
    CHECK_EQ_INT(atomic_load(&sl.count), 2 * N);

    /* removing what is not there: -ENOENT, no generation change */
    struct sub *ghost = mk("a.b", NULL), *ghost2 = mk("no.such.path", NULL), *ghostq = mk("a.b", "g1");
    uint64_t g = gen(&sl);
    CHECK_EQ_INT(sublist_remove(&sl, ghost), -ENOENT);
    CHECK_EQ_INT(sublist_remove(&sl, ghost2), -ENOENT);
    CHECK_EQ_INT(sublist_remove(&sl, ghostq), -ENOENT);
    CHECK_EQ_INT(gen(&sl), g);
    CHECK_EQ_INT(atomic_load(&sl.count), 2 * N);

    /* deep first, then check the shallower ones still match */
    rm(&sl, v[0]);
    rm(&sl, q[0]);
    CHECK_EQ_INT(sublist_remove(&sl, v[0]), -ENOENT); /* twice */
    match(&sl, "a.b.c.d", &r);
    CHECK(!has_psub(&r, v[0]));
    CHECK(has_psub(&r, v[4]) && has_psub(&r, v[5]) && has_psub(&r, v[7]));
    match(&sl, "a.b", &r);
    CHECK(has_psub(&r, v[1]) && has_psub(&r, v[4]) && has_psub(&r, v[7]));
    CHECK_EQ_INT(r.npsubs, 3);
    /* every subject, against the reference matcher, after each removal */
    static const char *const pubs[] = {"a.b.c.d", "a.b", "a.b.c", "a.x.c", "a", "x", "x.y.z", "q.b.r", "a.b.c.e"};
    for (size_t k = 1; k < N; k++) {
        rm(&sl, v[k]);
        rm(&sl, q[k]);
        for (size_t p = 0; p < sizeof pubs / sizeof pubs[0]; p++) {
            match(&sl, pubs[p], &r);
            uint32_t want_p = 0, want_q = 0;
            for (size_t j = k + 1; j < N; j++)
                if (subject_matches(subj[j], strlen(subj[j]), pubs[p], strlen(pubs[p]))) {
                    want_p++;
                    want_q++;
                    if (!has_psub(&r, v[j]))
                        fprintf(stderr, "  %s should match %s\n", subj[j], pubs[p]);
                }
            CHECK_EQ_INT(r.npsubs, want_p);
            CHECK_EQ_INT(total(&r) - r.npsubs, want_q);
        }
    }
    CHECK(trie_empty(&sl));
    CHECK_EQ_INT(atomic_load(&sl.inserts), 2 * N);
    CHECK_EQ_INT(atomic_load(&sl.removes), 2 * N);

    /* the same subjects can be used again after pruning */
    for (size_t i = 0; i < N; i++)
        ins(&sl, v[i]);
    match(&sl, "a.b.c.d", &r);
    CHECK_EQ_INT(r.npsubs, 4); /* a.b.c.d, a.>, a.*.>, > */
    for (size_t i = N; i-- > 0;)
        rm(&sl, v[i]);
    CHECK(trie_empty(&sl));
    match_result_free(&r);
    sublist_destroy(&sl);
    free_subs(v, N);
    free_subs(q, N);
    struct sub *gh[] = {ghost, ghost2, ghostq};
    free_subs(gh, 3);
}

/* §1.9: '>' matches one or more tokens, however many. nats-server has no
 * token limit on a publish subject; sublist_match silently returns nothing
 * past MAX_TOKENS (256). See report. */
TEST(sublist_many_tokens)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_result r = {0};
    struct sub *all = mk(">", NULL), *a = mk("a.>", NULL);
    ins(&sl, all);
    ins(&sl, a);
    char subj[2 * 300];
    for (int t = 0; t < 300; t++) {
        subj[2 * t] = 'a';
        subj[2 * t + 1] = '.';
    }
    sublist_match(&sl, subj, 2 * 200 - 1, &r); /* 200 tokens */
    CHECK_EQ_INT(r.npsubs, 2);
    sublist_match(&sl, subj, 2 * 256 - 1, &r); /* 256 tokens */
    CHECK_EQ_INT(r.npsubs, 2);
    sublist_match(&sl, subj, 2 * 257 - 1, &r); /* 257 tokens */
    CHECK_EQ_INT(r.npsubs, 2);
    sublist_match(&sl, subj, 2 * 300 - 1, &r); /* 300 tokens */
    CHECK_EQ_INT(r.npsubs, 2);
    rm(&sl, all);
    rm(&sl, a);
    match_result_free(&r);
    sublist_destroy(&sl);
    struct sub *v[] = {all, a};
    free_subs(v, 2);
}

/* match_cached: hits while nothing changes, fresh results after any change. */
TEST(sublist_match_cached)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_cache *c = calloc(1, sizeof *c);
    struct sub *a = mk("foo.bar", NULL), *b = mk("foo.*", NULL), *q = mk("foo.>", "q"), *other = mk("zzz", NULL);
    const struct match_result *r = match_cached(&sl, c, "foo.bar", 7);
    CHECK_EQ_INT(total(r), 0);
    CHECK_EQ_INT(c->misses, 1);
    ins(&sl, a);
    r = match_cached(&sl, c, "foo.bar", 7);
    CHECK_EQ_INT(r->npsubs, 1);
    CHECK(has_psub(r, a));
    uint64_t h = c->hits;
    r = match_cached(&sl, c, "foo.bar", 7);
    CHECK_EQ_INT(c->hits, h + 1);
    CHECK_EQ_INT(r->npsubs, 1);
    ins(&sl, b);
    r = match_cached(&sl, c, "foo.bar", 7);
    CHECK_EQ_INT(r->npsubs, 2);
    CHECK(has_psub(r, a) && has_psub(r, b));
    ins(&sl, q);
    r = match_cached(&sl, c, "foo.bar", 7);
    CHECK_EQ_INT(r->npsubs, 2);
    CHECK_EQ_INT(r->ngroups, 1);
    /* an unrelated change still refreshes (the generation is global) */
    ins(&sl, other);
    rm(&sl, a);
    r = match_cached(&sl, c, "foo.bar", 7);
    CHECK_EQ_INT(r->npsubs, 1);
    CHECK(!has_psub(r, a));
    rm(&sl, b);
    rm(&sl, q);
    r = match_cached(&sl, c, "foo.bar", 7);
    CHECK_EQ_INT(total(r), 0);
    /* a longer subject in the same slot after a shorter one, and back */
    char longer[] = "foo.bar.and.a.much.longer.subject.than.before";
    r = match_cached(&sl, c, longer, strlen(longer));
    CHECK_EQ_INT(total(r), 0);
    r = match_cached(&sl, c, "zzz", 3);
    CHECK_EQ_INT(r->npsubs, 1);
    rm(&sl, other);
    r = match_cached(&sl, c, "zzz", 3);
    CHECK_EQ_INT(r->npsubs, 0);
    match_cache_free(c);
    free(c);
    sublist_destroy(&sl);
    struct sub *v[] = {a, b, q, other};
    free_subs(v, 4);
}

/* s2 = "<prefix>.<n>" for the first n whose match-cache slot is s1's. */
static int colliding_subject(const char *s1, const char *prefix, char *s2, size_t cap)
{
    uint64_t slot = XXH3_64bits(s1, strlen(s1)) & (MATCH_CACHE_SLOTS - 1);
    for (int i = 1; i < 1000000; i++) {
        snprintf(s2, cap, "%s.%d", prefix, i);
        if ((XXH3_64bits(s2, strlen(s2)) & (MATCH_CACHE_SLOTS - 1)) == slot)
            return 1;
    }
    return 0;
}

/* Two subjects in the same direct-mapped slot evict each other but never
 * return each other's results. */
TEST(sublist_match_cached_collision)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_cache *c = calloc(1, sizeof *c);
    char s1[32] = "s.0", s2[32];
    CHECK(colliding_subject(s1, "s", s2, sizeof s2));
    struct sub *a = mk(s1, NULL), *b = mk(s2, NULL), *w = mk("s.*", NULL);
    ins(&sl, a);
    ins(&sl, b);
    ins(&sl, w);
    for (int k = 0; k < 4; k++) {
        const struct match_result *r = match_cached(&sl, c, s1, strlen(s1));
        CHECK(r->npsubs == 2 && has_psub(r, a) && has_psub(r, w));
        r = match_cached(&sl, c, s2, strlen(s2));
        CHECK(r->npsubs == 2 && has_psub(r, b) && has_psub(r, w));
    }
    rm(&sl, a);
    rm(&sl, b);
    rm(&sl, w);
    match_cache_free(c);
    free(c);
    sublist_destroy(&sl);
    struct sub *v[] = {a, b, w};
    free_subs(v, 3);
}

/* A caller's hint (its last entry) is used only while it still holds the
 * same subject in the current generation; a colliding subject that took
 * the slot, or any index change, sends the lookup through the hash again. */
TEST(sublist_match_cached_hint)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_cache *c = calloc(1, sizeof *c);
    char s1[32] = "h.0", s2[32];
    CHECK(colliding_subject(s1, "h", s2, sizeof s2));
    struct sub *a = mk(s1, NULL), *b = mk(s2, NULL);
    ins(&sl, a);
    struct match_cache_entry *hint = NULL, *other = NULL;
    const struct match_result *r = match_cached_hint(&sl, c, s1, strlen(s1), &hint);
    CHECK(hint != NULL && r->npsubs == 1 && has_psub(r, a));
    uint64_t hits = c->hits;
    r = match_cached_hint(&sl, c, s1, strlen(s1), &hint);
    CHECK_EQ_INT(c->hits, hits + 1);
    CHECK(r->npsubs == 1 && has_psub(r, a));
    /* another caller puts s2 in the same slot: the first caller's hint now
     * names an entry holding s2 and must not answer for s1 */
    ins(&sl, b);
    r = match_cached_hint(&sl, c, s2, strlen(s2), &other);
    CHECK(other == hint && r->npsubs == 1 && has_psub(r, b));
    r = match_cached_hint(&sl, c, s1, strlen(s1), &hint);
    CHECK(r->npsubs == 1 && has_psub(r, a));
    /* an index change makes the hinted entry stale */
    rm(&sl, a);
    r = match_cached_hint(&sl, c, s1, strlen(s1), &hint);
    CHECK_EQ_INT(total(r), 0);
    /* a different subject of the same length through the hint */
    r = match_cached_hint(&sl, c, "h.x", 3, &hint);
    CHECK_EQ_INT(total(r), 0);
    rm(&sl, b);
    match_cache_free(c);
    free(c);
    sublist_destroy(&sl);
    struct sub *v[] = {a, b};
    free_subs(v, 2);
}

TEST(sublist_sub_new)
{
    struct sub *s = sub_new("foo.bar", 7, "q1", 2, "42", 2);
    CHECK(s != NULL);
    CHECK_EQ_STR(s->subject, "foo.bar");
    CHECK_EQ_INT(s->subj_len, 7);
    CHECK_EQ_STR(s->queue, "q1");
    CHECK_EQ_INT(s->qlen, 2);
    CHECK_EQ_STR(s->sid, "42");
    CHECK_EQ_INT(s->sid_len, 2);
    CHECK_EQ_INT(s->max, 0);
    CHECK(!s->removed);
    free(s);
    /* inputs need not be NUL-terminated; the copies are */
    s = sub_new("foo.barXX", 7, NULL, 0, "1YY", 1);
    CHECK_EQ_STR(s->subject, "foo.bar");
    CHECK(s->queue == NULL);
    CHECK_EQ_INT(s->qlen, 0);
    CHECK_EQ_STR(s->sid, "1");
    free(s);
}

/* ---- concurrency: one writer, two readers ---- */

#define POOL 60
#define WRITER_OPS 60000
static const char *const pool_subj[] = {"a.b", "a.*", "a.>", ">", "*.b", "a.b.c", "*.*", "a.*.c", "b", "*"};
static const char *const pubs[] = {"a.b", "a.b.c", "a.x", "x.b", "a", "b", "a.x.c", "a.b.c.d"};
enum { NSUBJ = sizeof pool_subj / sizeof pool_subj[0], NPUBS = sizeof pubs / sizeof pubs[0] };

struct conc {
    struct sublist sl;
    struct sub *pool[POOL];
    _Atomic int ever_inserted[POOL];
    _Atomic int done;
    _Atomic long errors;
    _Atomic long reads[2];
    _Atomic long seen_nonempty;
    _Atomic long final_nonempty;
};

static int pool_index(struct conc *t, const struct sub *s)
{
    for (int i = 0; i < POOL; i++)
        if (t->pool[i] == s)
            return i;
    return -1;
}

static void bad(struct conc *t, const char *what, const char *pub)
{
    if (atomic_fetch_add(&t->errors, 1) < 10)
        fprintf(stderr, "  reader: %s (publish %s)\n", what, pub);
}

/* Everything a reader sees must be a pool sub that was inserted at some
 * point, must match the subject, and must appear once. */
static void verify(struct conc *t, const struct match_result *r, const char *pub)
{
    int seen[POOL] = {0};
    size_t pl = strlen(pub);
    /* the writer sets ever_inserted before publishing the sub: order our
     * flag loads after the loads that found the sub */
    atomic_thread_fence(memory_order_acquire);
    for (uint32_t i = 0; i < r->npsubs; i++) {
        int k = pool_index(t, r->psubs[i]);
        if (k < 0) {
            bad(t, "unknown plain sub", pub);
            continue;
        }
        if (!atomic_load(&t->ever_inserted[k]))
            bad(t, "never inserted", pub);
        if (seen[k]++)
            bad(t, "duplicate", pub);
        if (t->pool[k]->qlen)
            bad(t, "queue sub in plain list", pub);
        if (!subject_matches(t->pool[k]->subject, t->pool[k]->subj_len, pub, pl))
            bad(t, "does not match", pub);
    }
    for (uint32_t g = 0; g < r->ngroups; g++) {
        const struct match_group *mg = &r->groups[g];
        if (mg->n == 0)
            bad(t, "empty group", pub);
        for (uint32_t h = 0; h < g; h++)
            if (r->groups[h].nlen == mg->nlen && memcmp(r->groups[h].name, mg->name, mg->nlen) == 0)
                bad(t, "group not merged", pub);
        for (uint32_t i = 0; i < mg->n; i++) {
            int k = pool_index(t, mg->members[i]);
            if (k < 0) {
                bad(t, "unknown queue sub", pub);
                continue;
            }
            const struct sub *s = t->pool[k];
            if (!atomic_load(&t->ever_inserted[k]))
                bad(t, "never inserted", pub);
            if (seen[k]++)
                bad(t, "duplicate", pub);
            if (s->qlen != mg->nlen || memcmp(s->queue, mg->name, mg->nlen) != 0)
                bad(t, "member of the wrong group", pub);
            if (!subject_matches(s->subject, s->subj_len, pub, pl))
                bad(t, "does not match", pub);
        }
    }
}

static struct conc *g_conc;
static struct match_cache *g_cache[2]; /* the readers': registered, so selective invalidation is exercised */

static void *writer(void *arg)
{
    struct conc *t = arg;
    rcu_register_thread();
    int in[POOL] = {0}, n = 0;
    uint64_t seed = 12345, last = gen(&t->sl);
    for (int op = 0; op < WRITER_OPS; op++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int k = (int)((seed >> 33) % POOL);
        int rc;
        if (in[k]) {
            rc = sublist_remove(&t->sl, t->pool[k]);
            n--;
        } else {
            atomic_store(&t->ever_inserted[k], 1);
            rc = sublist_insert(&t->sl, t->pool[k]);
            n++;
        }
        in[k] = !in[k];
        uint64_t g = gen(&t->sl);
        if (rc != 0 || g <= last || atomic_load(&t->sl.count) != (uint64_t)n)
            atomic_fetch_add(&t->errors, 1);
        last = g;
        gannet_quiescent();
    }
    for (int k = 0; k < POOL; k++)
        if (in[k] && sublist_remove(&t->sl, t->pool[k]) != 0)
            atomic_fetch_add(&t->errors, 1);
    atomic_store_explicit(&t->done, 1, memory_order_release);
    rcu_unregister_thread();
    return NULL;
}

static void *reader(void *arg)
{
    struct conc *t = g_conc;
    int id = (int)(intptr_t)arg;
    rcu_register_thread();
    struct match_result r = {0};
    struct match_cache *c = g_cache[id];
    int done;
    do {
        done = atomic_load_explicit(&t->done, memory_order_acquire);
        for (int p = 0; p < NPUBS; p++) {
            sublist_match(&t->sl, pubs[p], strlen(pubs[p]), &r);
            verify(t, &r, pubs[p]);
            if (total(&r))
                atomic_fetch_add(&t->seen_nonempty, 1);
            const struct match_result *cr = match_cached(&t->sl, c, pubs[p], strlen(pubs[p]));
            verify(t, cr, pubs[p]);
            if (done && (total(&r) || total(cr)))
                atomic_fetch_add(&t->final_nonempty, 1);
        }
        atomic_fetch_add(&t->reads[id], 1);
        gannet_quiescent();
    } while (!done);
    match_result_free(&r);
    rcu_unregister_thread();
    return NULL;
}

TEST(sublist_concurrent_readers)
{
    struct conc *t = calloc(1, sizeof *t);
    g_conc = t;
    CHECK_EQ_INT(sublist_init(&t->sl), 0);
    for (int i = 0; i < POOL; i++) {
        int j = i % NSUBJ, q = (i / NSUBJ) % 3;
        t->pool[i] = mk(pool_subj[j], q == 0 ? NULL : q == 1 ? "q1" : "q2");
    }
    for (int i = 0; i < 2; i++) {
        g_cache[i] = calloc(1, sizeof *g_cache[i]);
        CHECK_EQ_INT(sublist_register_cache(&t->sl, g_cache[i]), 0);
    }
    pthread_t w, rd[2];
    gannet_offline(); /* blocked in join: must not hold up grace periods */
    CHECK_EQ_INT(pthread_create(&rd[0], NULL, reader, (void *)(intptr_t)0), 0);
    CHECK_EQ_INT(pthread_create(&rd[1], NULL, reader, (void *)(intptr_t)1), 0);
    CHECK_EQ_INT(pthread_create(&w, NULL, writer, t), 0);
    pthread_join(w, NULL);
    pthread_join(rd[0], NULL);
    pthread_join(rd[1], NULL);
    rcu_thread_online();
    CHECK_EQ_INT(atomic_load(&t->errors), 0);
    CHECK(atomic_load(&t->reads[0]) >= 1 && atomic_load(&t->reads[1]) >= 1);
    CHECK_EQ_INT(atomic_load(&t->final_nonempty), 0); /* after the writer finished: nothing */
    CHECK_EQ_INT(atomic_load(&t->sl.inserts), atomic_load(&t->sl.removes));
    CHECK(trie_empty(&t->sl));
    CHECK(g_cache[0]->dropped + g_cache[1]->dropped > 0); /* selective drops happened */
    for (int i = 0; i < 2; i++) {
        match_cache_free(g_cache[i]);
        free(g_cache[i]);
    }
    fprintf(stderr, "  concurrent: reader passes %ld + %ld, non-empty matches %ld\n", atomic_load(&t->reads[0]),
            atomic_load(&t->reads[1]), atomic_load(&t->seen_nonempty));
    sublist_destroy(&t->sl);
    free_subs(t->pool, POOL);
    free(t);
}

/* A registered cache drops only what a change could have matched (as
 * nats-server's sublist cache): an unrelated SUB/UNSUB leaves its entries
 * (hits), a related literal or wildcard one drops them (fresh results), and
 * too many unapplied changes drop everything. */
TEST(sublist_cache_selective)
{
    struct sublist sl;
    CHECK_EQ_INT(sublist_init(&sl), 0);
    struct match_cache *c = calloc(1, sizeof *c);
    CHECK_EQ_INT(sublist_register_cache(&sl, c), 0);
    struct sub *a = mk("foo.bar", NULL), *in = mk("_INBOX.x1", NULL), *w = mk("foo.*", NULL),
               *other = mk("baz.>", "q"), *any = mk(">", NULL);
    ins(&sl, a);
    CHECK_EQ_INT(match_cached(&sl, c, "foo.bar", 7)->npsubs, 1);
    CHECK_EQ_INT(match_cached(&sl, c, "zip.zap", 7)->npsubs, 0);
    uint64_t h = c->hits;
    /* unrelated: an inbox comes and goes, a queue on another subtree */
    ins(&sl, in);
    rm(&sl, in);
    ins(&sl, other);
    const struct match_result *r = match_cached(&sl, c, "foo.bar", 7);
    CHECK_EQ_INT(c->hits, h + 1); /* still cached */
    CHECK_EQ_INT(r->npsubs, 1);
    CHECK_EQ_INT(match_cached(&sl, c, "zip.zap", 7)->npsubs, 0);
    CHECK_EQ_INT(c->hits, h + 2);
    /* related literal: the removal drops foo.bar only */
    rm(&sl, a);
    h = c->hits;
    CHECK_EQ_INT(total(match_cached(&sl, c, "foo.bar", 7)), 0);
    CHECK_EQ_INT(c->hits, h);
    CHECK_EQ_INT(match_cached(&sl, c, "zip.zap", 7)->npsubs, 0);
    CHECK_EQ_INT(c->hits, h + 1);
    /* related wildcard: foo.* drops foo.bar, not zip.zap */
    ins(&sl, w);
    h = c->hits;
    r = match_cached(&sl, c, "foo.bar", 7);
    CHECK(has_psub(r, w) && r->npsubs == 1);
    CHECK_EQ_INT(c->hits, h);
    CHECK_EQ_INT(match_cached(&sl, c, "zip.zap", 7)->npsubs, 0);
    CHECK_EQ_INT(c->hits, h + 1);
    /* '>' matches everything cached */
    ins(&sl, any);
    CHECK_EQ_INT(match_cached(&sl, c, "zip.zap", 7)->npsubs, 1);
    CHECK_EQ_INT(match_cached(&sl, c, "foo.bar", 7)->npsubs, 2);
    CHECK(c->dropped >= 4);
    /* more unapplied changes than the queue holds: everything goes, results stay right */
    struct sub *many[INVAL_PENDING_MAX + 10];
    for (int i = 0; i < INVAL_PENDING_MAX + 10; i++) {
        char sj[32];
        snprintf(sj, sizeof sj, "m.%d", i);
        many[i] = mk(sj, NULL);
        ins(&sl, many[i]);
    }
    CHECK(atomic_load(&c->overflow) == 1);
    h = c->hits;
    CHECK_EQ_INT(match_cached(&sl, c, "zip.zap", 7)->npsubs, 1);
    CHECK_EQ_INT(c->hits, h); /* dropped with the rest */
    CHECK_EQ_INT(match_cached(&sl, c, "m.3", 3)->npsubs, 2);
    CHECK(atomic_load(&c->overflow) == 0 && atomic_load(&c->pending) == NULL);
    for (int i = 0; i < INVAL_PENDING_MAX + 10; i++)
        rm(&sl, many[i]);
    rm(&sl, w);
    rm(&sl, other);
    rm(&sl, any);
    CHECK_EQ_INT(total(match_cached(&sl, c, "foo.bar", 7)), 0);
    match_cache_free(c);
    free(c);
    sublist_destroy(&sl);
    struct sub *v[] = {a, in, w, other, any};
    free_subs(v, 5);
    free_subs(many, INVAL_PENDING_MAX + 10);
}

int main(void)
{
    rcu_register_thread();
    RUN(sublist_literal);
    RUN(sublist_wildcards);
    RUN(sublist_overlapping);
    RUN(sublist_queue_groups);
    RUN(sublist_queue_name_outlives_member);
    RUN(sublist_empty_token_publish);
    RUN(sublist_wildcard_token_published);
    RUN(sublist_remove_prunes);
    RUN(sublist_many_tokens);
    RUN(sublist_match_cached);
    RUN(sublist_cache_selective);
    RUN(sublist_match_cached_collision);
    RUN(sublist_match_cached_hint);
    RUN(sublist_sub_new);
    RUN(sublist_concurrent_readers);
    gannet_offline();
    TSAN_GRACE_RELEASE();
    rcu_barrier(); /* run every pending call_rcu free before exit (LSan) */
    rcu_thread_online();
    rcu_unregister_thread();
    return unit_report();
}
