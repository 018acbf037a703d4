#include "subject.h"

#include <string.h>

static bool valid(const char *s, size_t len, bool allow_wc)
{
    if (len == 0)
        return false;
    size_t tok = 0; /* start of the current token */
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            char c = s[i];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f')
                return false;
            continue;
        }
        size_t tlen = i - tok;
        if (tlen == 0)
            return false;
        if (tlen == 1 && (s[tok] == '*' || s[tok] == '>')) {
            if (!allow_wc)
                return false;
            if (s[tok] == '>' && i != len)
                return false;
        }
        tok = i + 1;
    }
    return true;
}

bool subject_valid(const char *s, size_t len) { return valid(s, len, true); }
bool subject_valid_literal(const char *s, size_t len) { return valid(s, len, false); }

bool subject_matches(const char *pat, size_t plen, const char *lit, size_t llen)
{
    size_t p = 0, l = 0;
    for (;;) {
        if (p >= plen || l >= llen)
            return p >= plen && l >= llen;
        const char *pe = memchr(pat + p, '.', plen - p);
        const char *le = memchr(lit + l, '.', llen - l);
        size_t pt = pe ? (size_t)(pe - pat) - p : plen - p;
        size_t lt = le ? (size_t)(le - lit) - l : llen - l;
        if (pt == 1 && pat[p] == '>')
            return true;
        if (!(pt == 1 && pat[p] == '*') && (pt != lt || memcmp(pat + p, lit + l, pt) != 0))
            return false;
        p += pt + 1;
        l += lt + 1;
        if ((p > plen) != (l > llen))
            return false;
    }
}

/* The next token of s from *i (its length; *i moves past it and its dot). */
static size_t next_tok(const char *s, size_t len, size_t *i, const char **t)
{
    const char *e = memchr(s + *i, '.', len - *i);
    size_t n = e ? (size_t)(e - s) - *i : len - *i;
    *t = s + *i;
    *i += n + 1;
    return n;
}

static bool is_tok(const char *t, size_t n, char c) { return n == 1 && t[0] == c; }

bool subject_subset(const char *sub, size_t slen, const char *pat, size_t plen)
{
    size_t i = 0, j = 0;
    while (i <= slen && j <= plen) {
        if (i > slen || j > plen)
            break;
        const char *a, *b;
        size_t an = next_tok(sub, slen, &i, &a), bn = next_tok(pat, plen, &j, &b);
        if (is_tok(b, bn, '>'))
            return true;
        if (is_tok(a, an, '>'))
            return false;
        if (!is_tok(b, bn, '*') && (an != bn || memcmp(a, b, an) != 0))
            return false;
        if ((i > slen) != (j > plen))
            return false;
        if (i > slen)
            return true;
    }
    return false;
}

bool subject_overlap(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0, j = 0;
    for (;;) {
        const char *x, *y;
        size_t xn = next_tok(a, alen, &i, &x), yn = next_tok(b, blen, &j, &y);
        if (is_tok(x, xn, '>') || is_tok(y, yn, '>'))
            return true;
        if (!is_tok(x, xn, '*') && !is_tok(y, yn, '*') && (xn != yn || memcmp(x, y, xn) != 0))
            return false;
        if ((i > alen) != (j > blen))
            return false;
        if (i > alen)
            return true;
    }
}

size_t subject_transform(const char *from, size_t flen, const char *to, size_t tlen, const char *subj, size_t slen,
                         char *out, size_t cap)
{
    /* the tokens of subj under from's wildcards, in order ('>' takes the rest) */
    struct { const char *p; size_t n; } w[64];
    size_t nw = 0, i = 0, j = 0;
    while (i <= flen && j <= slen) {
        const char *f, *s;
        size_t fn = next_tok(from, flen, &i, &f);
        if (is_tok(f, fn, '>')) {
            if (nw < 64)
                w[nw].p = subj + j, w[nw].n = slen - j, nw++;
            break;
        }
        size_t sn = next_tok(subj, slen, &j, &s);
        if (is_tok(f, fn, '*') && nw < 64)
            w[nw].p = s, w[nw].n = sn, nw++;
        if (i > flen)
            break;
    }
    size_t o = 0, k = 0;
    i = 0;
    while (i <= tlen) {
        const char *t;
        size_t tn = next_tok(to, tlen, &i, &t);
        const char *src = t;
        size_t n = tn;
        if ((is_tok(t, tn, '*') || is_tok(t, tn, '>')) && k < nw)
            src = w[k].p, n = w[k].n, k++;
        if (o + n + 1 > cap)
            return 0;
        if (o)
            out[o++] = '.';
        memcpy(out + o, src, n);
        o += n;
    }
    return o;
}
