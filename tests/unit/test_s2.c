/* Unit tests for net/s2.c (included, to reach the CRC paths and the
 * emitters): CRC-32C vectors and the hardware/table agreement, hand-made
 * blocks for every tag form and every corruption the decoder must refuse,
 * encoder round trips at every level, and the stream format: chunking,
 * iovec gathering, incremental feeding, repeated identifiers, skippable /
 * padding / reserved chunks, CRC and size errors. The differential tests
 * against the Go codec are in test_s2_ref.py. */
#include "../../net/s2.c"
#include "unit.h"

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}
/* Text-like data: words from a small set with numbers, compresses ~3-4x. */
static void fill_text(uint8_t *p, size_t n)
{
    static const char *w[] = {"PUB ", "orders.", "eu.", "{\"id\":", "\"name\":\"alice\"", "\r\n", "MSG ", "qty"};
    size_t i = 0;
    while (i < n) {
        char tmp[32];
        int k = snprintf(tmp, sizeof(tmp), "%s%u ", w[rnd() % 8], (unsigned)(rnd() % 1000));
        for (int j = 0; j < k && i < n; j++)
            p[i++] = (uint8_t)tmp[j];
    }
}

TEST(crc_vectors)
{
    CHECK_EQ_INT(s2_crc32c(0, "123456789", 9), 0xe3069283u); /* the CRC-32C check value */
    CHECK_EQ_INT(s2_crc32c_table(0, "123456789", 9), 0xe3069283u);
    CHECK_EQ_INT(s2_crc32c(0, "", 0), 0);
    CHECK_EQ_INT(s2_crc_mask(0), 0xa282ead8u);
    /* Incremental use equals one call. */
    CHECK_EQ_INT(s2_crc32c(s2_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
    /* The stripe constants are x^(8*4096) and x^(8*8192) mod P. */
    uint32_t p = 0x80000000u, sq = 0x00800000u; /* x^0, x^8 */
    for (size_t n = 4096; n; n >>= 1) {
        if (n & 1)
            p = s2_gf_mul(sq, p);
        sq = s2_gf_mul(sq, sq);
    }
    CHECK_EQ_INT(p, 0x35d73a62u);
    CHECK_EQ_INT(s2_gf_mul(p, p), 0x28461564u);
}

TEST(crc_paths_agree)
{
    static uint8_t buf[3 * 4096 * 3 + 64];
    fill_random(buf, sizeof(buf));
    size_t lens[] = {0, 1, 7, 8, 9, 63, 4095, 12287, 12288, 12289, 24576 + 17, sizeof(buf) - 64};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        for (size_t off = 0; off < 9; off += 4)
            CHECK_EQ_INT(s2_crc32c(7, buf + off, lens[i]), s2_crc32c_table(7, buf + off, lens[i]));
}

/* Decodes hand-made block bytes; returns the length or the error. */
static ssize_t dec(const uint8_t *b, size_t n, uint8_t *out, size_t cap) { return s2_decode_block(b, n, out, cap); }

TEST(block_tags)
{
    uint8_t out[256];
    /* literal "abcd", copy1 len 4 off 4, repeat len 4 (code 0) */
    const uint8_t b1[] = {12, 3 << 2, 'a', 'b', 'c', 'd', 0x01, 4, 0x01, 0};
    CHECK_EQ_INT(dec(b1, sizeof(b1), out, sizeof(out)), 12);
    CHECK(memcmp(out, "abcdabcdabcd", 12) == 0);
    /* repeat with one extra length byte (code 5): 8 + 2 = 10 */
    const uint8_t b2[] = {4 + 4 + 10, 3 << 2, 'w', 'x', 'y', 'z', 0x01, 4, 5 << 2 | 1, 0, 2};
    CHECK_EQ_INT(dec(b2, sizeof(b2), out, sizeof(out)), 18);
    CHECK(memcmp(out, "wxyzwxyzwxyzwxyzwx", 18) == 0);
    /* code 6: 260 + w, here w = 0 -> 260 bytes of 'q' (offset 1 via copy2) */
    const uint8_t b3[] = {0x89, 0x02 /* 265 */, 0 << 2, 'q', (4 - 1) << 2 | 2, 1, 0, 6 << 2 | 1, 0, 0, 0};
    static uint8_t big[70000];
    CHECK_EQ_INT(dec(b3, sizeof(b3), big, sizeof(big)), 265);
    int allq = 1;
    for (int i = 0; i < 265; i++)
        allq &= big[i] == 'q';
    CHECK(allq);
    /* code 7: 65540 + t, t = 1 -> 65541, after 1 literal + copy4 len 1 */
    const uint8_t b4[] = {0x87, 0x80, 0x04 /* 65543 */, 0, 'z', 0 << 2 | 3, 1, 0, 0, 0, 7 << 2 | 1, 0, 1, 0, 0};
    CHECK_EQ_INT(dec(b4, sizeof(b4), big, sizeof(big)), 65543);
    CHECK(big[65542] == 'z' && big[1] == 'z');
    /* copy1 with the top offset bits: offset 0x100 */
    uint8_t b5[3 + 256 + 2 + 1];
    size_t k = 0;
    b5[k++] = 0x84; /* 260 */
    b5[k++] = 0x02;
    b5[k++] = 60 << 2;
    b5[k++] = 255;
    for (int i = 0; i < 256; i++)
        b5[k++] = (uint8_t)i;
    b5[k++] = 1 << 5 | 0 << 2 | 1; /* offset 256, len 4 */
    b5[k++] = 0;
    CHECK_EQ_INT(dec(b5, k, out, 4), S2_EDSTSMALL);
    uint8_t o5[300];
    CHECK_EQ_INT(dec(b5, k, o5, sizeof(o5)), 260);
    CHECK(o5[256] == 0 && o5[259] == 3);
    /* A Snappy-only stream of literal-only is fine; empty block too. */
    const uint8_t b6[] = {0};
    CHECK_EQ_INT(dec(b6, 1, out, 0), 0);
}

TEST(block_corrupt)
{
    uint8_t out[64];
    const uint8_t rep_first[] = {4, 0x01, 0}; /* repeat before any offset */
    CHECK_EQ_INT(dec(rep_first, sizeof(rep_first), out, sizeof(out)), S2_ECORRUPT);
    const uint8_t far[] = {5, 0, 'a', 0x01, 2}; /* offset 2 with 1 byte out */
    CHECK_EQ_INT(dec(far, sizeof(far), out, sizeof(out)), S2_ECORRUPT);
    const uint8_t long_lit[] = {2, 2 << 2, 'a', 'b', 'c'}; /* 3 literal bytes into 2 */
    CHECK_EQ_INT(dec(long_lit, sizeof(long_lit), out, sizeof(out)), S2_ECORRUPT);
    const uint8_t short_lit[] = {3, 2 << 2, 'a', 'b'}; /* literal past the input */
    CHECK_EQ_INT(dec(short_lit, sizeof(short_lit), out, sizeof(out)), S2_ECORRUPT);
    const uint8_t short_out[] = {4, 2 << 2, 'a', 'b', 'c'}; /* output not filled */
    CHECK_EQ_INT(dec(short_out, sizeof(short_out), out, sizeof(out)), S2_ECORRUPT);
    const uint8_t trunc_copy2[] = {8, 3 << 2, 'a', 'b', 'c', 'd', 2, 4};
    CHECK_EQ_INT(dec(trunc_copy2, sizeof(trunc_copy2), out, sizeof(out)), S2_ECORRUPT);
    const uint8_t trunc_rep[] = {20, 3 << 2, 'a', 'b', 'c', 'd', 0x01, 4, 5 << 2 | 1, 0};
    CHECK_EQ_INT(dec(trunc_rep, sizeof(trunc_rep), out, sizeof(out)), S2_ECORRUPT);
    const uint8_t zero_off[] = {5, 0, 'a', 2, 0, 0}; /* copy2 offset 0 */
    CHECK_EQ_INT(dec(zero_off, sizeof(zero_off), out, sizeof(out)), S2_ECORRUPT);
    const uint8_t varint6[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    CHECK_EQ_INT(dec(varint6, sizeof(varint6), out, sizeof(out)), S2_ECORRUPT);
    const uint8_t big_len[] = {0x80, 0x80, 0x80, 0x80, 0x10}; /* 2^32 */
    CHECK_EQ_INT(dec(big_len, sizeof(big_len), out, sizeof(out)), S2_ECORRUPT);
    CHECK_EQ_INT(dec(NULL, 0, out, sizeof(out)), S2_ECORRUPT);
    size_t l = 99;
    CHECK_EQ_INT(s2_decoded_len("\xe8\x07", 2, &l), 2);
    CHECK_EQ_INT(l, 1000);
}

/* Every emitted copy length and offset class decodes back. */
TEST(emitters)
{
    static uint8_t src[70000], blk[400000], out[350000];
    fill_random(src, 70000);
    size_t lens[] = {4, 5, 8, 9, 11, 12, 13, 64, 65, 67, 68, 69, 100, 263, 264, 265, 1000, 65791, 65792, 65800, 120000};
    size_t offs[] = {1, 3, 8, 2047, 2048, 65535, 65536, 69999};
    for (size_t a = 0; a < sizeof(offs) / sizeof(offs[0]); a++)
        for (size_t b = 0; b < sizeof(lens) / sizeof(lens[0]); b++)
            for (int rep = 0; rep < 2; rep++) {
                size_t off = offs[a], len = lens[b];
                size_t pre = 70000; /* literal prefix, then a copy (and a repeat) */
                size_t total = pre + len * (1 + rep);
                uint8_t *d = blk + put_varint(blk, total);
                d = emit_literal(d, src, pre, false);
                size_t last = 0;
                d = emit_match(d, off, len, &last);
                if (rep)
                    d = emit_match(d, off, len, &last);
                memcpy(out, src, pre);
                for (size_t i = pre; i < total; i++)
                    out[i] = out[i - off];
                static uint8_t got[350000 + 64];
                ssize_t r = s2_decode_block(blk, (size_t)(d - blk), got, sizeof(got));
                CHECK_EQ_INT(r, (ssize_t)total);
                if (r == (ssize_t)total && memcmp(got, out, total) != 0) {
                    fprintf(stderr, "emitters: off %zu len %zu rep %d differs\n", off, len, rep);
                    CHECK(0);
                }
            }
}

static void roundtrip(enum s2_level lv, const uint8_t *src, size_t n, size_t *enc_len)
{
    size_t cap = s2_max_encoded_len(n);
    uint8_t *b = malloc(cap), *o = malloc(n + 1);
    ssize_t w = s2_encode_block(lv, src, n, b, cap);
    CHECK(w > 0);
    CHECK((size_t)w <= go_max_encoded_len(n));
    ssize_t r = s2_decode_block(b, (size_t)w, o, n + 1);
    CHECK_EQ_INT(r, (ssize_t)n);
    CHECK(n == 0 || memcmp(o, src, n) == 0);
    CHECK_EQ_INT(s2_encode_block(lv, src, n, b, cap - 1), S2_EDSTSMALL);
    *enc_len = (size_t)w;
    free(b);
    free(o);
}

TEST(block_roundtrip)
{
    size_t n = S2_MAX_BLOCK;
    uint8_t *src = malloc(n);
    size_t sizes[] = {0, 1, 31, 32, 33, 100, 4095, 65536, 65537, 1 << 20};
    for (enum s2_level lv = S2_NONE; lv <= S2_BEST; lv++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            size_t e;
            fill_random(src, sizes[i]);
            roundtrip(lv, src, sizes[i], &e);
            CHECK(e <= sizes[i] + 10); /* random stays a literal */
            fill_text(src, sizes[i]);
            roundtrip(lv, src, sizes[i], &e);
            if (lv != S2_NONE && sizes[i] >= 65536)
                if (!(e < sizes[i] / 2)) {
                    fprintf(stderr, "level %d size %zu -> %zu\n", lv, sizes[i], e);
                    CHECK(0);
                }
        }
        size_t e;
        memset(src, 'x', n); /* 4 MiB of one byte: long repeats */
        roundtrip(lv, src, n, &e);
        if (lv != S2_NONE)
            CHECK(e < 1000);
        fill_text(src, n);
        roundtrip(lv, src, n, &e);
    }
    size_t e;
    fill_text(src, 1 << 16);
    roundtrip(S2_FAST, src, 1 << 16, &e);
    size_t fast = e;
    roundtrip(S2_BEST, src, 1 << 16, &e);
    CHECK(e < fast); /* best beats fast on text */
    CHECK_EQ_INT(s2_encode_block(S2_FAST, src, S2_MAX_BLOCK + 1, src, 0), S2_ETOOLARGE);
    CHECK_EQ_INT(s2_encode_block((enum s2_level)7, src, 1, src, 100), S2_EINVAL);
    free(src);
}

struct sink {
    uint8_t *p;
    size_t len, cap;
    int calls, fail_at; /* return -EPIPE on call number fail_at (1-based) */
};
static int sink_put(void *arg, const char *p, size_t n)
{
    struct sink *s = arg;
    if (++s->calls == s->fail_at)
        return -EPIPE;
    if (s->len + n > s->cap)
        return -ENOSPC;
    memcpy(s->p + s->len, p, n);
    s->len += n;
    return 0;
}

/* Feeds a stream in pieces of `piece` bytes (0: random pieces). */
static int feed(struct s2_dec *d, const uint8_t *w, size_t n, size_t piece, struct sink *s)
{
    for (size_t o = 0; o < n;) {
        size_t k = piece ? piece : 1 + rnd() % 5000;
        if (k > n - o)
            k = n - o;
        int rc = s2_dec_feed(d, w + o, k, sink_put, s);
        if (rc)
            return rc;
        o += k;
    }
    return 0;
}

TEST(stream_roundtrip)
{
    size_t n = 3 * 4096 * 5 + 123;
    uint8_t *src = malloc(n), *wire, *out = malloc(n);
    fill_text(src, n / 2);
    fill_random(src + n / 2, n - n / 2);
    for (enum s2_level lv = S2_NONE; lv <= S2_BEST; lv++) {
        struct s2_enc e;
        CHECK_EQ_INT(s2_enc_init(&e, lv, 4096), 0);
        struct iovec iov[4] = {{src, 10}, {src + 10, 5000}, {src + 5010, 1}, {src + 5011, n - 5011}};
        size_t bound = s2_enc_bound(&e, n);
        wire = malloc(bound);
        CHECK_EQ_INT(s2_enc_stream(&e, iov, 4, wire, bound - 1), S2_EDSTSMALL);
        ssize_t w = s2_enc_stream(&e, iov, 4, wire, bound);
        CHECK(w > 0);
        CHECK(memcmp(wire, "\xff\x06\x00\x00S2sTwO", 10) == 0);
        /* Walk the chunks: each <= 4096 plaintext bytes, random half stored. */
        size_t chunks = 0, stored = 0;
        for (size_t o = 10; o < (size_t)w;) {
            uint32_t len = wire[o + 1] | wire[o + 2] << 8 | wire[o + 3] << 16;
            CHECK(wire[o] == 0 || wire[o] == 1);
            stored += wire[o] == 1;
            o += 4 + len;
            chunks++;
        }
        CHECK_EQ_INT(chunks, (n + 4095) / 4096);
        if (lv == S2_NONE)
            CHECK_EQ_INT(stored, chunks);
        else
            CHECK(stored >= chunks / 2 - 1 && stored < chunks);
        size_t pieces[] = {0, 1, 3, 4096, (size_t)w};
        for (size_t i = 0; i < 5; i++) {
            struct s2_dec d;
            CHECK_EQ_INT(s2_dec_init(&d, 0), 0);
            struct sink s = {out, 0, n, 0, 0};
            CHECK_EQ_INT(feed(&d, wire, (size_t)w, pieces[i], &s), 0);
            CHECK(s2_dec_idle(&d));
            CHECK_EQ_INT(s.len, n);
            CHECK(memcmp(out, src, n) == 0);
            s2_dec_free(&d);
        }
        CHECK_EQ_INT(s2_enc_stream(&e, iov, 0, wire, bound), 0); /* nothing to write: nothing */
        free(wire);
        s2_enc_free(&e);
    }
    free(src);
    free(out);
}

/* Builds a chunk [type][len][body]. */
static size_t chunk(uint8_t *d, uint8_t type, const void *body, size_t n)
{
    d[0] = type;
    put24(d + 1, (uint32_t)n);
    memcpy(d + 4, body, n);
    return 4 + n;
}
static size_t data_chunk(uint8_t *d, const char *text)
{
    uint8_t body[256];
    size_t n = strlen(text);
    put32(body, s2_crc_mask(s2_crc32c(0, text, n)));
    memcpy(body + 4, text, n);
    return chunk(d, 0x01, body, 4 + n);
}

static int run(const uint8_t *w, size_t n, uint32_t max, char *out, size_t cap, size_t *got)
{
    struct s2_dec d;
    s2_dec_init(&d, max);
    struct sink s = {(uint8_t *)out, 0, cap, 0, 0};
    int rc = feed(&d, w, n, 1, &s);
    int rc2;
    /* The same bytes in one piece give the same answer. */
    s2_dec_reset(&d);
    struct sink s1 = {malloc(cap ? cap : 1), 0, cap, 0, 0};
    rc2 = s2_dec_feed(&d, w, n, sink_put, &s1);
    CHECK_EQ_INT(rc2, rc);
    CHECK(s1.len == s.len && memcmp(s1.p, out, s.len) == 0);
    free(s1.p);
    s2_dec_free(&d);
    *got = s.len;
    return rc;
}

TEST(stream_chunks)
{
    uint8_t w[4096];
    char out[1024];
    size_t n = 0, got;
    n += chunk(w + n, 0xff, "S2sTwO", 6);
    n += data_chunk(w + n, "hello ");
    n += chunk(w + n, 0xfe, "\0\0\0", 3);     /* padding */
    n += chunk(w + n, 0x99, "index", 5);      /* S2 index: skipped */
    n += chunk(w + n, 0x80, "", 0);           /* empty skippable */
    n += chunk(w + n, 0xff, "sNaPpY", 6);     /* a second stream, Snappy-framed */
    n += data_chunk(w + n, "world");
    n += chunk(w + n, 0xff, "S2sTwO", 6);
    uint8_t blk[128];
    size_t bl = (size_t)s2_encode_block(S2_FAST, "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", 40, blk + 4, 120);
    put32(blk, s2_crc_mask(s2_crc32c(0, "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", 40)));
    n += chunk(w + n, 0x00, blk, 4 + bl);
    CHECK_EQ_INT(run(w, n, 0, out, sizeof(out), &got), 0);
    CHECK_EQ_INT(got, 51);
    CHECK(memcmp(out, "hello world!!!!", 15) == 0);

    /* No identifier first. */
    n = data_chunk(w, "x");
    CHECK_EQ_INT(run(w, n, 0, out, sizeof(out), &got), S2_ENOIDENT);
    /* Bad identifiers. */
    n = chunk(w, 0xff, "S2sTwX", 6);
    CHECK_EQ_INT(run(w, n, 0, out, sizeof(out), &got), S2_EBADIDENT);
    n = chunk(w, 0xff, "S2sTwOO", 7);
    CHECK_EQ_INT(run(w, n, 0, out, sizeof(out), &got), S2_EBADIDENT);
    /* Reserved unskippable. */
    n = chunk(w, 0xff, "S2sTwO", 6);
    n += chunk(w + n, 0x02, "abcd", 4);
    CHECK_EQ_INT(run(w, n, 0, out, sizeof(out), &got), S2_EUNSUPPORTED);
    n = chunk(w, 0xff, "S2sTwO", 6);
    n += chunk(w + n, 0x7f, "", 0);
    CHECK_EQ_INT(run(w, n, 0, out, sizeof(out), &got), S2_EUNSUPPORTED);
    /* Bad CRC: data before it is delivered, the bad chunk is not. */
    n = chunk(w, 0xff, "S2sTwO", 6);
    n += data_chunk(w + n, "good");
    size_t at = n;
    n += data_chunk(w + n, "evil");
    w[at + 4] ^= 1;
    CHECK_EQ_INT(run(w, n, 0, out, sizeof(out), &got), S2_ECRC);
    CHECK_EQ_INT(got, 4);
    /* Chunk shorter than its checksum. */
    n = chunk(w, 0xff, "S2sTwO", 6);
    n += chunk(w + n, 0x01, "abc", 3);
    CHECK_EQ_INT(run(w, n, 0, out, sizeof(out), &got), S2_ECORRUPT);
    /* Too large for the configured maximum: refused at the header. */
    n = chunk(w, 0xff, "S2sTwO", 6);
    w[n] = 0x01;
    put24(w + n + 1, 4 + 5000);
    n += 4;
    CHECK_EQ_INT(run(w, n, 4096, out, sizeof(out), &got), S2_ETOOLARGE);
    w[n - 4] = 0x00;
    CHECK_EQ_INT(run(w, n, 4096, out, sizeof(out), &got), S2_ETOOLARGE);
    /* A compressed chunk announcing more than max_block. */
    n = chunk(w, 0xff, "S2sTwO", 6);
    uint8_t body[16] = {0, 0, 0, 0, 0x80, 0x40 /* 8192 */, 0};
    n += chunk(w + n, 0x00, body, 7);
    CHECK_EQ_INT(run(w, n, 4096, out, sizeof(out), &got), S2_ETOOLARGE);
    /* Snappy framing caps chunks at 64 KiB. */
    n = chunk(w, 0xff, "sNaPpY", 6);
    w[n] = 0x01;
    put24(w + n + 1, 4 + 65537);
    n += 4;
    CHECK_EQ_INT(run(w, n, 0, out, sizeof(out), &got), S2_ETOOLARGE);
    /* A corrupt block inside a good chunk header. */
    n = chunk(w, 0xff, "S2sTwO", 6);
    uint8_t bad[] = {0, 0, 0, 0, 4, 0x01, 0};
    n += chunk(w + n, 0x00, bad, sizeof(bad));
    CHECK_EQ_INT(run(w, n, 0, out, sizeof(out), &got), S2_ECORRUPT);
}

TEST(stream_partial_and_sticky)
{
    uint8_t w[256];
    size_t n = chunk(w, 0xff, "S2sTwO", 6);
    n += data_chunk(w + n, "abc");
    n += data_chunk(w + n, "def");
    struct s2_dec d;
    s2_dec_init(&d, 0);
    char out[16];
    struct sink s = {(uint8_t *)out, 0, sizeof(out), 0, 0};
    CHECK_EQ_INT(s2_dec_feed(&d, w, n - 2, sink_put, &s), 0);
    CHECK(!s2_dec_idle(&d)); /* inside the last chunk */
    CHECK_EQ_INT(s.len, 3);
    CHECK_EQ_INT(s2_dec_feed(&d, w + n - 2, 2, sink_put, &s), 0);
    CHECK(s2_dec_idle(&d));
    CHECK_EQ_INT(s.len, 6);
    /* A callback's error stops the feed, comes back, and sticks. */
    s2_dec_reset(&d);
    struct sink f = {(uint8_t *)out, 0, sizeof(out), 0, 2};
    CHECK_EQ_INT(s2_dec_feed(&d, w, n, sink_put, &f), -EPIPE);
    CHECK_EQ_INT(s2_dec_feed(&d, w, 1, sink_put, &f), -EPIPE);
    CHECK_EQ_INT(f.len, 3);
    s2_dec_free(&d);
    CHECK_EQ_INT(s2_dec_init(&d, S2_MAX_BLOCK + 1), S2_EINVAL);
    struct s2_enc e;
    CHECK_EQ_INT(s2_enc_init(&e, S2_FAST, 100), S2_EINVAL);
    CHECK_EQ_INT(s2_enc_init(&e, S2_FAST, S2_MAX_BLOCK + 1), S2_EINVAL);
}

TEST(strerror_all)
{
    for (int c = -1010; c <= -1000; c++)
        CHECK(s2_strerror(c) != NULL && s2_strerror(c)[0]);
    CHECK_EQ_STR(s2_strerror(S2_ECRC), "s2: chunk checksum mismatch");
    CHECK_EQ_STR(s2_strerror(-ENOMEM), strerror(ENOMEM));
}

int main(void)
{
    RUN(crc_vectors);
    RUN(crc_paths_agree);
    RUN(block_tags);
    RUN(block_corrupt);
    RUN(emitters);
    RUN(block_roundtrip);
    RUN(stream_roundtrip);
    RUN(stream_chunks);
    RUN(stream_partial_and_sticky);
    RUN(strerror_all);
    return unit_report();
}
