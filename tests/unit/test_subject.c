/* Unit tests for core/subject.c (nats-compat.md §1.9). */
#include "subject.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static int valid(const char *s) { return subject_valid(s, strlen(s)); }
static int literal(const char *s) { return subject_valid_literal(s, strlen(s)); }
static int matches(const char *pat, const char *lit) { return subject_matches(pat, strlen(pat), lit, strlen(lit)); }

/* Report which table entry failed, not just the line of the loop. */
#define CHECK_CASE(cond, what)                                                         \
    do {                                                                               \
        if (!(cond))                                                                   \
            fprintf(stderr, "  case: %s\n", what);                                     \
        CHECK(cond);                                                                   \
    } while (0)

TEST(subject_valid_patterns)
{
    static const char *const ok[] = {
        "foo", "foo.bar", "foo.bar.baz", "*", ">", "foo.*", "foo.>", "*.bar", "*.*.>", "foo.*.bar",
        "foo*", "*foo", "foo>", ">foo", "foo.>bar", "foo.**", "foo.>>", "a.b.c.d.e.f.g.h.i.j",
        "$SYS.ACCOUNT.x", "_INBOX.abc123", "ünïcödé.ß", "Foo.BAR", "x-y_z.1:2", "\"q\".'x'",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CHECK_CASE(valid(ok[i]), ok[i]);

    static const char *const bad[] = {
        "", ".", "..", ".foo", "foo.", "foo..bar", "foo.bar.", ".foo.bar", ">.foo", "foo.>.bar", "foo.>.>",
        ">.>", ">.*", "foo bar", "foo\tbar", "foo\rbar", "foo\nbar", " foo", "foo ", "foo. bar", "*.>.x",
        "foo.\t", "\t",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_CASE(!valid(bad[i]), bad[i]);
}

TEST(subject_valid_uses_len)
{
    /* only len bytes are looked at; no NUL needed, bytes past len ignored */
    CHECK(subject_valid("foo.bar baz", 7));
    CHECK(!subject_valid("foo.bar baz", 8));
    CHECK(subject_valid("foo..", 3));
    CHECK(!subject_valid("foo..", 4));
    CHECK(!subject_valid("foo", 0));
    CHECK(subject_valid(">.x", 1));
    char heap[3] = {'a', '.', 'b'}; /* not NUL-terminated */
    CHECK(subject_valid(heap, 3));
    CHECK(subject_valid_literal(heap, 3));
    /* an embedded NUL is just a byte */
    CHECK(subject_valid("a\0b", 3));
}

TEST(subject_literal)
{
    static const char *const lit[] = {"foo", "foo.bar", "foo*", "foo.>bar", "*foo.bar>", "a.b.c", "$SYS.x"};
    for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++) {
        CHECK_CASE(literal(lit[i]), lit[i]);
        CHECK_CASE(valid(lit[i]), lit[i]);
    }
    static const char *const notlit[] = {"*", ">", "foo.*", "foo.>", "*.foo", "foo.*.bar", "", "foo..bar",
                                         ".", "foo.", "foo bar", ">.foo"};
    for (size_t i = 0; i < sizeof notlit / sizeof notlit[0]; i++)
        CHECK_CASE(!literal(notlit[i]), notlit[i]);
}

/* nats-server's subject check also rejects a form feed ("\t\n\f\r "); §1.9
 * says subjects have no whitespace. See report. */
TEST(subject_formfeed_invalid)
{
    CHECK(!valid("foo\fbar"));
    CHECK(!valid("foo.\f"));
    CHECK(!literal("foo\fbar"));
}

struct mcase {
    const char *pat, *lit;
    int want;
};

TEST(subject_matching)
{
    static const struct mcase cases[] = {
        {"foo", "foo", 1},
        {"foo", "bar", 0},
        {"foo", "fo", 0},
        {"fo", "foo", 0},
        {"foo", "foo.bar", 0},
        {"foo.bar", "foo", 0},
        {"foo.bar", "foo.bar", 1},
        {"foo.bar", "foo.baz", 0},
        {"Foo", "foo", 0}, /* case-sensitive */
        {"*", "foo", 1},
        {"*", "foo.bar", 0},
        {"foo.*", "foo.bar", 1},
        {"foo.*", "foo", 0},
        {"foo.*", "foo.bar.baz", 0},
        {"*.bar", "foo.bar", 1},
        {"*.bar", "foo.baz", 0},
        {"foo.*.baz", "foo.bar.baz", 1},
        {"foo.*.baz", "foo.bar.bax", 0},
        {"*.*", "a.b", 1},
        {"*.*", "a", 0},
        {"*.*", "a.b.c", 0},
        {">", "foo", 1},
        {">", "foo.bar.baz", 1},
        {"foo.>", "foo", 0}, /* '>' needs at least one token */
        {"foo.>", "foo.bar", 1},
        {"foo.>", "foo.bar.baz", 1},
        {"foo.>", "foox.bar", 0},
        {"foo.>", "bar.foo", 0},
        {"*.>", "foo", 0},
        {"*.>", "foo.bar", 1},
        {"foo.*.>", "foo.bar", 0},
        {"foo.*.>", "foo.bar.baz.qux", 1},
        {"foo*", "foo*", 1},  /* a literal, not a wildcard */
        {"foo*", "foobar", 0},
        {"foo>", "foo.bar", 0},
        {"foo.bar", "foo.*", 0}, /* a published '*' token is a plain token to literal patterns */
        {"foo.*", "foo.*", 1},
        {"foo.>", "foo.*", 1},
        {"a.b.c.d.e.f", "a.b.c.d.e.f", 1},
        {"a.b.c.d.e.f", "a.b.c.d.e.g", 0},
        {"a.b.c.d.e.f", "a.b.c.d.e", 0},
        {"a.b.c.d.e", "a.b.c.d.e.f", 0},
        {"ab.c", "a.bc", 0},
        {"a.bc", "ab.c", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[128];
        snprintf(what, sizeof what, "%s vs %s, want %d", cases[i].pat, cases[i].lit, cases[i].want);
        CHECK_CASE(matches(cases[i].pat, cases[i].lit) == cases[i].want, what);
    }
}

TEST(subject_matching_uses_len)
{
    /* no NUL terminators: exact-size heap copies, ASan catches over-reads */
    static const struct mcase cases[] = {
        {"foo.>", "foo.bar", 1}, {"foo.*", "foo.b", 1}, {"foo", "foo.x", 0}, {"foo.x", "foo", 0}, {"*", "x", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t pl = strlen(cases[i].pat), ll = strlen(cases[i].lit);
        char *p = malloc(pl), *l = malloc(ll);
        memcpy(p, cases[i].pat, pl);
        memcpy(l, cases[i].lit, ll);
        CHECK_CASE(subject_matches(p, pl, l, ll) == cases[i].want, cases[i].pat);
        free(p);
        free(l);
    }
    CHECK(subject_matches("foo.bar", 3, "foo.baz", 3));
    CHECK(!subject_matches("foo.bar", 7, "foo.baz", 7));
}

/* Every valid literal matches itself and '>'; a pattern built by replacing
 * any one token with '*', or any suffix with '>', matches too. */
TEST(subject_matching_generated)
{
    static const char *const lits[] = {"a", "a.b", "foo.bar.baz", "x.y.z.w.v", "$SYS.REQ.SERVER.PING", "α.β"};
    for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
        const char *l = lits[i];
        size_t n = strlen(l);
        CHECK_CASE(literal(l), l);
        CHECK_CASE(matches(l, l), l);
        CHECK_CASE(matches(">", l), l);
        size_t starts[16], ns = 0;
        starts[ns++] = 0;
        for (size_t k = 0; k < n; k++)
            if (l[k] == '.')
                starts[ns++] = k + 1;
        for (size_t t = 0; t < ns; t++) {
            size_t end = t + 1 < ns ? starts[t + 1] - 1 : n;
            char pat[64], fwc[64];
            /* token t -> '*' */
            int pn = snprintf(pat, sizeof pat, "%.*s*%s", (int)starts[t], l, l + end);
            CHECK_CASE(subject_valid(pat, (size_t)pn) && !subject_valid_literal(pat, (size_t)pn), pat);
            CHECK_CASE(subject_matches(pat, (size_t)pn, l, n), pat);
            /* tokens t.. -> '>' */
            int fn = snprintf(fwc, sizeof fwc, "%.*s>", (int)starts[t], l);
            CHECK_CASE(subject_valid(fwc, (size_t)fn), fwc);
            CHECK_CASE(subject_matches(fwc, (size_t)fn, l, n), fwc);
            /* ...but not the prefix before token t */
            if (t > 0)
                CHECK_CASE(!subject_matches(fwc, (size_t)fn, l, starts[t] - 1), fwc);
        }
    }
}


#define SS(a, b) subject_subset(a, strlen(a), b, strlen(b))
#define OV(a, b) subject_overlap(a, strlen(a), b, strlen(b))

/* An import must lie within an export (accounts): every subject the first
 * matches, the second matches too. */
TEST(subject_subsets)
{
    CHECK(SS("foo.bar", "foo.bar"));
    CHECK(SS("foo.bar", "foo.*"));
    CHECK(SS("foo.bar", "foo.>"));
    CHECK(SS("foo.*", "foo.*"));
    CHECK(SS("foo.*", "foo.>"));
    CHECK(SS("foo.>", "foo.>"));
    CHECK(SS("foo.bar.baz", ">"));
    CHECK(SS("foo.*.baz", "foo.*.*"));
    CHECK(!SS("foo.*", "foo.bar"));
    CHECK(!SS("foo.>", "foo.*"));
    CHECK(!SS("foo.>", "foo.bar"));
    CHECK(!SS("foo", "foo.bar"));
    CHECK(!SS("foo.bar", "foo"));
    CHECK(!SS("foo.bar.baz", "foo.*"));
    CHECK(!SS("foo", "foo.>")); /* '>' needs one token at least */
    CHECK(!SS("events.>", "lit.one"));
}

TEST(subject_overlaps)
{
    CHECK(OV("ev.>", "ev.>"));
    CHECK(OV("ev.a", "ev.*"));
    CHECK(OV("ev.*.c", "ev.b.*"));
    CHECK(OV(">", "x.y"));
    CHECK(OV("a.>", "a.b.c"));
    CHECK(!OV("ev.a", "ev.b"));
    CHECK(!OV("ev.*", "ev.a.b"));
    CHECK(!OV("a", "a.b"));
    CHECK(!OV("a.b", "a"));
}

static const char *tx(const char *from, const char *to, const char *subj)
{
    static char out[256];
    size_t n = subject_transform(from, strlen(from), to, strlen(to), subj, strlen(subj), out, sizeof out - 1);
    out[n] = 0;
    return out;
}

TEST(subject_transforms)
{
    CHECK_EQ_STR(tx("mapped.*", "svc.m.*", "mapped.k"), "svc.m.k");
    CHECK_EQ_STR(tx("a.*.b.*", "x.*.*", "a.1.b.2"), "x.1.2");
    CHECK_EQ_STR(tx("lit.one", "renamed.one", "lit.one"), "renamed.one");
    CHECK_EQ_STR(tx("ev.>", "in.>", "ev.a.b.c"), "in.a.b.c");
    CHECK_EQ_STR(tx("ev.*.>", "in.*.x.>", "ev.a.b.c"), "in.a.x.b.c");
    char small[4];
    CHECK(subject_transform("a.*", 3, "bbbb.*", 6, "a.xyz", 5, small, sizeof small) == 0); /* does not fit */
}

int main(void)
{
    RUN(subject_valid_patterns);
    RUN(subject_valid_uses_len);
    RUN(subject_literal);
    RUN(subject_formfeed_invalid);
    RUN(subject_matching);
    RUN(subject_matching_uses_len);
    RUN(subject_matching_generated);
    RUN(subject_subsets);
    RUN(subject_overlaps);
    RUN(subject_transforms);
    return unit_report();
}
