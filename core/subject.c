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
