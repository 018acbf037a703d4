/* hist.c — see hist.h. */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

/* Index of v: exact below 2*HIST_SUB, then HIST_SUB buckets per octave. */
static unsigned idx_of(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS; /* >= 1: v >> shift is in [SUB, 2*SUB) */
    unsigned i = 2 * HIST_SUB + (shift - 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

/* Middle of bucket i, the inverse of idx_of(). */
static uint64_t mid_of(unsigned i)
{
    if (i < 2 * HIST_SUB)
        return i;
    unsigned shift = (i - 2 * HIST_SUB) / HIST_SUB + 1;
    uint64_t top = HIST_SUB + (i - 2 * HIST_SUB) % HIST_SUB;
    return (top << shift) + ((1ull << shift) >> 1);
}

void hist_add(struct hist *h, uint64_t v)
{
    h->b[idx_of(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
    if (v < h->min)
        h->min = v;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (!h->count)
        return 0;
    if (q >= 1.0)
        return h->max;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t m = mid_of(i);
            /* never report above the exact max (the top bucket is wide) */
            return m > h->max ? h->max : m;
        }
    }
    return h->max;
}
