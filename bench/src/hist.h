/* hist.h — latency histogram with HDR-style logarithmic buckets.
 *
 * Values (ns) below 256 are kept exactly; above, each power of two is split
 * into 128 linear sub-buckets, so a reported percentile is within 0.8% of
 * the true value whatever its magnitude, in a fixed 30 KiB table with O(1)
 * recording (no allocation on the measured path). max is kept exactly.
 *
 * Not thread-safe: one writer; merge per-thread histograms afterwards.
 */
#ifndef HIST_H
#define HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (2 * HIST_SUB + 56 * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t max;
    uint64_t min;
    double sum;
    uint32_t b[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
/* Value at quantile q in [0,1]: the middle of the bucket holding the
 * ceil(q*count)-th smallest sample (the exact max for q == 1). */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
