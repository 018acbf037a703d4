/* libFuzzer target for core/subject.c, cross-checked against core/sublist.c.
 *
 * Input: '\n'-separated lines. The whole input and every line go through
 * subject_valid / subject_valid_literal, compared with a straightforward
 * reference implementation of nats-compat.md §1.9. Every line is also
 * matched against every other with subject_matches and the reference
 * matcher. Then lines 0..n-2 that are valid patterns become subscriptions
 * (some in queue groups) in a sublist, the last line is published, and the
 * index's answer (sublist_match and match_cached) must be exactly the set of
 * subscriptions the reference matcher picks; queue groups merged by name.
 * Finally everything is removed again and nothing may match.
 */
#include "subject.h"
#include "sublist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                                     \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fprintf(stderr, "fuzz_subject: %s violated (%s:%d)\n", #c, __FILE__, __LINE__); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

#define MAX_LINES 48
#define SUBLIST_MAX_TOKENS 256

/* ---- reference implementation ---- */

struct toks {
    size_t n;
    const char *p[512];
    size_t len[512];
    int overflow;
};

static void split(const char *s, size_t len, struct toks *t)
{
    t->n = 0;
    t->overflow = 0;
    size_t st = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (t->n == 512) {
                t->overflow = 1;
                return;
            }
            t->p[t->n] = s + st;
            t->len[t->n++] = i - st;
            st = i + 1;
        }
    }
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

static int tok_is(const struct toks *t, size_t i, char c) { return t->len[i] == 1 && t->p[i][0] == c; }

static int ref_valid(const char *s, size_t len, int literal)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (is_space(s[i]))
            return 0;
    struct toks t;
    split(s, len, &t);
    if (t.overflow) { /* only possible for > 511 dots; decide without the array */
        if (s[0] == '.' || s[len - 1] == '.')
            return 0;
        for (size_t i = 0; i + 1 < len; i++)
            if (s[i] == '.' && s[i + 1] == '.')
                return 0;
        for (size_t i = 0; i < len; i++) {
            int whole = (i == 0 || s[i - 1] == '.') && (i + 1 == len || s[i + 1] == '.');
            if (whole && (s[i] == '*' || s[i] == '>') && (literal || (s[i] == '>' && i + 1 != len)))
                return 0;
        }
        return 1;
    }
    for (size_t i = 0; i < t.n; i++) {
        if (t.len[i] == 0)
            return 0;
        if (tok_is(&t, i, '*') || tok_is(&t, i, '>')) {
            if (literal)
                return 0;
            if (tok_is(&t, i, '>') && i + 1 != t.n)
                return 0;
        }
    }
    return 1;
}

/* Does publish subject l match pattern p? l's '*' / '>' tokens are plain. */
static int ref_match(const struct toks *p, const struct toks *l)
{
    for (size_t i = 0; i < p->n; i++) {
        if (tok_is(p, i, '>'))
            return l->n > i;
        if (i >= l->n)
            return 0;
        if (tok_is(p, i, '*'))
            continue;
        if (p->len[i] != l->len[i] || memcmp(p->p[i], l->p[i], p->len[i]) != 0)
            return 0;
    }
    return p->n == l->n;
}

/* ---- checks ---- */

static void check_validity(const char *s, size_t len)
{
    int v = subject_valid(s, len), lit = subject_valid_literal(s, len);
    REQUIRE(v == ref_valid(s, len, 0));
    REQUIRE(lit == ref_valid(s, len, 1));
    REQUIRE(!lit || v);
}

static void check_self(const char *s, size_t len)
{
    if (!subject_valid_literal(s, len))
        return;
    REQUIRE(subject_matches(s, len, s, len));
    REQUIRE(subject_matches(">", 1, s, len));
    /* first token + ".>" matches iff there is more than one token */
    const char *dot = memchr(s, '.', len);
    size_t first = dot ? (size_t)(dot - s) : len;
    char *fwc = malloc(first + 2);
    memcpy(fwc, s, first);
    memcpy(fwc + first, ".>", 2);
    REQUIRE(subject_valid(fwc, first + 2));
    REQUIRE(subject_matches(fwc, first + 2, s, len) == (dot != NULL));
    /* every token replaced by '*' */
    char *pwc = malloc(2 * len + 1);
    size_t pn = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            pwc[pn++] = '*';
            if (i < len)
                pwc[pn++] = '.';
        }
    }
    REQUIRE(subject_valid(pwc, pn) && !subject_valid_literal(pwc, pn));
    REQUIRE(subject_matches(pwc, pn, s, len));
    /* one token too many or too few never matches */
    if (pn > 2)
        REQUIRE(!subject_matches(pwc, pn - 2, s, len));
    free(fwc);
    free(pwc);
}

struct line {
    const char *p;
    size_t n;
    struct toks *t;
    int valid, literal;
};

static struct sublist g_sl;
static struct match_cache *g_cache;

static void check_sublist(struct line *lines, size_t nl)
{
    const struct line *pub = &lines[nl - 1];
    if (!pub->valid || pub->t->overflow)
        return;
    struct sub *subs[MAX_LINES] = {0};
    int want[MAX_LINES] = {0};
    uint32_t want_plain = 0, ninserted = 0;
    uint64_t gen0 = atomic_load(&g_sl.gen);
    for (size_t i = 0; i + 1 < nl; i++) {
        if (!lines[i].valid || lines[i].t->overflow)
            continue;
        /* queue name from the line's length: a few groups, merged across patterns */
        static const char *const qn[] = {NULL, NULL, "q1", "q2", "q1"};
        const char *q = qn[lines[i].n % 5];
        subs[i] = sub_new(lines[i].p, lines[i].n, q, q ? 2 : 0, "1", 1);
        REQUIRE(subs[i] != NULL);
        REQUIRE(sublist_insert(&g_sl, subs[i]) == 0);
        ninserted++;
        want[i] = ref_match(lines[i].t, pub->t);
        if (want[i] && !q)
            want_plain++;
    }
    REQUIRE(atomic_load(&g_sl.count) == ninserted);
    REQUIRE(atomic_load(&g_sl.gen) >= gen0 + ninserted);

    struct match_result r = {0};
    sublist_match(&g_sl, pub->p, pub->n, &r);
    for (int pass = 0; pass < 2; pass++) {
        const struct match_result *m = pass == 0 ? &r : match_cached(&g_sl, g_cache, pub->p, pub->n);
        REQUIRE(m->npsubs == want_plain);
        int seen[MAX_LINES] = {0};
        for (uint32_t k = 0; k < m->npsubs; k++) {
            size_t i;
            for (i = 0; i + 1 < nl && subs[i] != m->psubs[k]; i++)
                ;
            REQUIRE(i + 1 < nl && want[i] && subs[i]->qlen == 0 && !seen[i]++);
        }
        uint32_t members = 0;
        for (uint32_t g = 0; g < m->ngroups; g++) {
            const struct match_group *mg = &m->groups[g];
            REQUIRE(mg->n > 0);
            for (uint32_t h = 0; h < g; h++)
                REQUIRE(m->groups[h].nlen != mg->nlen || memcmp(m->groups[h].name, mg->name, mg->nlen) != 0);
            for (uint32_t k = 0; k < mg->n; k++) {
                size_t i;
                for (i = 0; i + 1 < nl && subs[i] != mg->members[k]; i++)
                    ;
                REQUIRE(i + 1 < nl && want[i] && subs[i]->qlen == mg->nlen && !seen[i]++);
                REQUIRE(memcmp(subs[i]->queue, mg->name, mg->nlen) == 0);
                members++;
            }
        }
        for (size_t i = 0; i + 1 < nl; i++)
            REQUIRE(!want[i] || seen[i]);
        (void)members;
    }

    uint64_t gen1 = atomic_load(&g_sl.gen);
    for (size_t i = 0; i + 1 < nl; i++)
        if (subs[i])
            REQUIRE(sublist_remove(&g_sl, subs[i]) == 0);
    REQUIRE(atomic_load(&g_sl.count) == 0);
    REQUIRE(atomic_load(&g_sl.gen) >= gen1 + ninserted);
    sublist_match(&g_sl, pub->p, pub->n, &r);
    REQUIRE(r.npsubs == 0 && r.ngroups == 0);
    const struct match_result *m = match_cached(&g_sl, g_cache, pub->p, pub->n);
    REQUIRE(m->npsubs == 0 && m->ngroups == 0);
    match_result_free(&r);
    /* only this thread reads the index, and it is not inside a match: the
     * subs can go now; the index's own garbage waits for call_rcu */
    for (size_t i = 0; i + 1 < nl; i++)
        free(subs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        rcu_register_thread();
        if (sublist_init(&g_sl) != 0)
            abort();
        g_cache = calloc(1, sizeof *g_cache);
        ready = 1;
    }
    const char *s = (const char *)data;
    check_validity(s, size);
    check_self(s, size);

    struct line lines[MAX_LINES];
    size_t nl = 0, st = 0;
    for (size_t i = 0; i <= size && nl < MAX_LINES; i++) {
        if (i == size || s[i] == '\n') {
            struct line *l = &lines[nl++];
            l->p = s + st;
            l->n = i - st;
            l->t = malloc(sizeof *l->t);
            split(l->p, l->n, l->t);
            check_validity(l->p, l->n);
            check_self(l->p, l->n);
            l->valid = subject_valid(l->p, l->n);
            l->literal = subject_valid_literal(l->p, l->n);
            st = i + 1;
        }
    }
    /* every valid pattern against every valid subject */
    for (size_t a = 0; a < nl; a++)
        for (size_t b = 0; b < nl; b++)
            if (lines[a].valid && lines[b].valid && !lines[a].t->overflow && !lines[b].t->overflow)
                REQUIRE(subject_matches(lines[a].p, lines[a].n, lines[b].p, lines[b].n) ==
                        ref_match(lines[a].t, lines[b].t));
    if (nl >= 1)
        check_sublist(lines, nl);
    for (size_t i = 0; i < nl; i++)
        free(lines[i].t);
    rcu_quiescent_state(); /* let call_rcu free what the index dropped */
    return 0;
}
