/* Sampled per-subject traffic: see topz.h. */
#include "topz.h"

#include <string.h>

#include <xxhash.h>

#define IDX_SLOTS (2 * TOPZ_CAP)
#define EVICT_CANDIDATES 8

static uint64_t next_rand(struct topz *z)
{
    uint64_t x = z->rng; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    z->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void rearm(struct topz *z)
{
    /* uniform on [1, 2K-1]: mean K; "off" waits the longest the counter can */
    z->skip = z->one_in ? 1 + (uint32_t)(next_rand(z) % (2 * (uint64_t)z->one_in - 1)) : UINT32_MAX;
}

static void window_clear(struct topz_window *w, int64_t now_ms)
{
    memset(w->idx, 0, sizeof w->idx);
    w->n = 0;
    w->start_ms = now_ms;
}

void topz_init(struct topz *z, uint32_t one_in, int64_t now_ms, uint64_t seed)
{
    memset(z, 0, sizeof *z);
    z->one_in = one_in;
    z->rng = seed | 1;
    window_clear(&z->w[0], now_ms);
    window_clear(&z->w[1], now_ms);
    rearm(z);
}

/* The index slot holding entry `ei`, or of `hash`'s first free slot. */
static uint32_t idx_find(const struct topz_window *w, uint64_t hash, const char *subj, size_t len, bool *found)
{
    uint32_t i = (uint32_t)hash & (IDX_SLOTS - 1);
    for (;;) {
        uint16_t v = w->idx[i];
        if (!v) {
            *found = false;
            return i;
        }
        const struct topz_ent *e = &w->e[v - 1];
        size_t cmp = len < TOPZ_SUBJ_MAX ? len : TOPZ_SUBJ_MAX;
        if (e->hash == hash && e->len == cmp && e->truncated == (len > TOPZ_SUBJ_MAX) && !memcmp(e->subj, subj, cmp)) {
            *found = true;
            return i;
        }
        i = (i + 1) & (IDX_SLOTS - 1);
    }
}

/* Remove index slot i, shifting later members of its run back (linear
 * probing without tombstones, Knuth 6.4 algorithm R). */
static void idx_delete(struct topz_window *w, uint32_t i)
{
    uint32_t j = i;
    for (;;) {
        w->idx[i] = 0;
        for (;;) {
            j = (j + 1) & (IDX_SLOTS - 1);
            uint16_t v = w->idx[j];
            if (!v)
                return;
            uint32_t home = (uint32_t)w->e[v - 1].hash & (IDX_SLOTS - 1);
            /* v may move back to i unless its home lies cyclically in (i, j] */
            bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays)
                break;
        }
        w->idx[i] = w->idx[j];
        i = j;
    }
}

/* A free entry: the next unused one, or the smallest of a few random ones. */
static uint32_t take_entry(struct topz *z, struct topz_window *w)
{
    if (w->n < TOPZ_CAP)
        return w->n++;
    uint32_t victim = (uint32_t)(next_rand(z) % TOPZ_CAP);
    for (int k = 1; k < EVICT_CANDIDATES; k++) {
        uint32_t c = (uint32_t)(next_rand(z) % TOPZ_CAP);
        if (w->e[c].msgs < w->e[victim].msgs)
            victim = c;
    }
    bool found;
    const struct topz_ent *v = &w->e[victim];
    uint32_t slot = idx_find(w, v->hash, v->subj, v->truncated ? TOPZ_SUBJ_MAX + 1u : v->len, &found);
    if (found)
        idx_delete(w, slot);
    return victim;
}

void topz_sample(struct topz *z, const char *subj, size_t len, uint32_t size, uint32_t deliveries)
{
    rearm(z);
    if (!z->one_in)
        return;
    struct topz_window *w = &z->w[z->cur];
    uint64_t h = XXH3_64bits(subj, len);
    /* a truncated entry compares on its kept prefix; idx_find treats any
     * len > TOPZ_SUBJ_MAX alike, and the full-subject hash tells them apart */
    bool found;
    uint32_t slot = idx_find(w, h, subj, len, &found);
    struct topz_ent *e;
    if (found) {
        e = &w->e[w->idx[slot] - 1];
    } else {
        uint32_t ei = take_entry(z, w);
        slot = idx_find(w, h, subj, len, &found); /* eviction may have moved the run */
        e = &w->e[ei];
        e->hash = h;
        e->truncated = len > TOPZ_SUBJ_MAX;
        e->len = (uint16_t)(e->truncated ? TOPZ_SUBJ_MAX : len);
        memcpy(e->subj, subj, e->len);
        e->msgs = e->bytes = e->deliveries = 0;
        w->idx[slot] = (uint16_t)(ei + 1);
    }
    uint64_t k = z->one_in;
    e->msgs += k;
    e->bytes += k * size;
    e->deliveries += k * deliveries;
}

void topz_tick(struct topz *z, int64_t now_ms)
{
    if (now_ms - z->w[z->cur].start_ms < TOPZ_WINDOW_MS)
        return;
    z->cur ^= 1;
    window_clear(&z->w[z->cur], now_ms);
}
