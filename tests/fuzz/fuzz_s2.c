/* libFuzzer target for net/s2.c.
 *
 * The first input byte picks what the rest is:
 *   mode 0  a block: s2_decode_block into a buffer of exactly the announced
 *           length (ASan catches any write past it); must not crash.
 *   mode 1  a stream: decoded in one piece and again in pieces split at
 *           points drawn from the input; both runs must agree on the error
 *           and on the plaintext (compared by length and CRC, so that big
 *           outputs need no memory). max_block comes from the second byte,
 *           4 KiB..4 MiB; no decoded chunk may exceed it.
 *   mode 2  plaintext: every level encodes it as a block (into exactly
 *           s2_max_encoded_len bytes) and as a stream (4 KiB chunks, from
 *           two iovecs); both must decode back to it. */
#include "s2.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                                  \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "fuzz_s2: %s violated (%s:%d)\n", #c, __FILE__, __LINE__); \
            abort();                                                                \
        }                                                                           \
    } while (0)

struct digest {
    size_t len;
    uint32_t crc;
    size_t max_piece;
};
static int digest_put(void *arg, const char *p, size_t n)
{
    struct digest *d = arg;
    d->len += n;
    d->crc = s2_crc32c(d->crc, p, n);
    if (n > d->max_piece)
        d->max_piece = n;
    return 0;
}

static void fuzz_block(const uint8_t *p, size_t n)
{
    size_t dl;
    if (s2_decoded_len(p, n, &dl) < 0 || dl > S2_MAX_BLOCK)
        return;
    uint8_t *out = malloc(dl ? dl : 1);
    ssize_t r = s2_decode_block(p, n, out, dl);
    REQUIRE(r < 0 || (size_t)r == dl);
    if (dl) /* one byte short must never succeed */
        REQUIRE(s2_decode_block(p, n, out, dl - 1) == S2_EDSTSMALL);
    free(out);
}

static int stream_run(const uint8_t *p, size_t n, uint32_t max, const uint8_t *splits, size_t nsplits,
                      struct digest *dg)
{
    struct s2_dec d;
    REQUIRE(s2_dec_init(&d, max) == 0);
    int rc = 0;
    size_t o = 0;
    for (size_t i = 0; o < n && !rc; i++) {
        size_t k = nsplits ? (size_t)splits[i % nsplits] * 3 + 1 : n;
        if (k > n - o)
            k = n - o;
        rc = s2_dec_feed(&d, p + o, k, digest_put, dg);
        o += k;
    }
    if (!rc && !s2_dec_idle(&d))
        rc = 1; /* truncated: a distinct answer, compared like the others */
    s2_dec_free(&d);
    return rc;
}

static void fuzz_stream(const uint8_t *p, size_t n)
{
    if (n < 1)
        return;
    uint32_t max = 4096u << (p[0] % 11); /* 4 KiB .. 4 MiB */
    p++, n--;
    struct digest a = {0}, b = {0};
    int ra = stream_run(p, n, max, NULL, 0, &a);
    int rb = stream_run(p, n, max, p, n < 16 ? n : 16, &b);
    REQUIRE(ra == rb);
    REQUIRE(a.len == b.len && a.crc == b.crc);
    REQUIRE(a.max_piece <= max && b.max_piece <= max);
}

static void fuzz_encode(const uint8_t *p, size_t n)
{
    uint8_t *out = malloc(n ? n : 1);
    for (enum s2_level lv = S2_NONE; lv <= S2_BEST; lv++) {
        size_t cap = s2_max_encoded_len(n);
        uint8_t *blk = malloc(cap);
        ssize_t w = s2_encode_block(lv, p, n, blk, cap);
        REQUIRE(w > 0);
        REQUIRE(s2_decode_block(blk, (size_t)w, out, n) == (ssize_t)n);
        REQUIRE(n == 0 || memcmp(out, p, n) == 0);
        free(blk);

        struct s2_enc e;
        REQUIRE(s2_enc_init(&e, lv, S2_MIN_BLOCK) == 0);
        struct iovec iov[2] = {{(void *)p, n / 3}, {(void *)(p + n / 3), n - n / 3}};
        size_t bound = s2_enc_bound(&e, n);
        uint8_t *wire = malloc(bound ? bound : 1);
        w = s2_enc_stream(&e, iov, 2, wire, bound);
        REQUIRE(w >= 0);
        struct digest dg = {0};
        REQUIRE(stream_run(wire, (size_t)w, 0, NULL, 0, &dg) == 0);
        REQUIRE(dg.len == n && dg.crc == s2_crc32c(0, p, n));
        free(wire);
        s2_enc_free(&e);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: fuzz_block(data + 1, size - 1); break;
    case 1: fuzz_stream(data + 1, size - 1); break;
    default: fuzz_encode(data + 1, size - 1); break;
    }
    return 0;
}
