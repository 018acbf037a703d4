/* S2 codec: block encode/decode, the stream format, CRC-32C. See s2.h.
 *
 * Facts about the format are taken from klauspost/compress 1.15.12 (Debian
 * golang-github-klauspost-compress-dev, /usr/share/gocode/src/github.com/
 * klauspost/compress/s2); each is cited as file:function next to its use.
 * The code is gannet's own: the match finders follow the same ideas (hash
 * tables of recent positions, 8-byte compares, repeat offsets) but are
 * not translations.
 *
 * Little-endian hosts only (x86-64, aarch64): loads are memcpy into
 * native integers. */
#include "s2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "s2.c assumes a little-endian host"
#endif

static inline uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline void store64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put24(uint8_t *p, uint32_t v) { put16(p, v); p[2] = (uint8_t)(v >> 16); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* ------------------------------------------------------------------ CRC */

/* CRC-32C, reflected polynomial 0x82f63b78 (s2.go: crcTable is
 * crc32.MakeTable(crc32.Castagnoli)). Debian has no small C library for
 * just this, and the instruction does the work: SSE4.2 crc32 on x86-64,
 * chosen at run time, and a byte table elsewhere. The table is const data,
 * written out rather than built at start-up, so that there is no global
 * state to initialise. */
static const uint32_t crc_tab[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
    0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
    0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
    0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
    0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
    0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
    0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
    0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
    0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
    0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
    0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
    0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
    0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
    0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
    0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
    0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
    0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
    0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
    0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
    0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
    0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
    0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
    0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
    0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
    0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
    0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
    0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
    0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
    0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
    0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
    0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
    0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
    0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n)
{
    while (n--)
        c = crc_tab[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

/* a*b mod P over GF(2), bit-reflected (x^0 is the top bit). */
static uint32_t gf_mul(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ 0x82f63b78u : b >> 1;
    }
    return p;
}

#if defined(__x86_64__)
/* One crc32 instruction has a latency of 3 cycles and a throughput of 1,
 * so three independent streams over consecutive stripes run three times
 * as fast; their registers are then merged by shifting each one over the
 * stripes after it (multiplying by x^(8*len) mod P). The two constants are
 * x^(8*4096) and x^(8*8192) mod P; test_s2 checks this path against the
 * byte table on many lengths. */
#define CRC_STRIPE 4096
#define CRC_K1 0x35d73a62u
#define CRC_K2 0x28461564u
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c0 = c;
    while (n >= 3 * CRC_STRIPE) {
        uint64_t c1 = 0, c2 = 0;
        const uint8_t *q = p;
        for (size_t i = 0; i < CRC_STRIPE; i += 8, q += 8) {
            c0 = _mm_crc32_u64(c0, load64(q));
            c1 = _mm_crc32_u64(c1, load64(q + CRC_STRIPE));
            c2 = _mm_crc32_u64(c2, load64(q + 2 * CRC_STRIPE));
        }
        c0 = gf_mul(CRC_K2, (uint32_t)c0) ^ gf_mul(CRC_K1, (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * CRC_STRIPE;
        n -= 3 * CRC_STRIPE;
    }
    for (; n >= 8; n -= 8, p += 8)
        c0 = _mm_crc32_u64(c0, load64(p));
    uint32_t c32 = (uint32_t)c0;
    for (; n; n--)
        c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}
#endif

uint32_t s2_crc32c(uint32_t crc, const void *p, size_t n)
{
    crc = ~crc;
#if defined(__x86_64__)
    /* A read of the cpu model libgcc/compiler-rt fill in before main. */
    if (__builtin_cpu_supports("sse4.2"))
        return ~crc_hw(crc, p, n);
#endif
    return ~crc_sw(crc, p, n);
}

/* Exposed to test_s2 (which includes this file) to compare the paths. */
__attribute__((unused)) static inline uint32_t s2_crc32c_table(uint32_t crc, const void *p, size_t n) { return ~crc_sw(~crc, p, n); }
__attribute__((unused)) static inline uint32_t s2_gf_mul(uint32_t a, uint32_t b) { return gf_mul(a, b); }

/* --------------------------------------------------------------- errors */

const char *s2_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
    case S2_ECORRUPT: return "s2: corrupt input";
    case S2_ECRC: return "s2: chunk checksum mismatch";
    case S2_ETOOLARGE: return "s2: block or chunk too large";
    case S2_EUNSUPPORTED: return "s2: unsupported unskippable chunk type";
    case S2_ENOIDENT: return "s2: stream does not start with a stream identifier";
    case S2_EBADIDENT: return "s2: bad stream identifier";
    case S2_EDSTSMALL: return "s2: output buffer too small";
    case S2_EINVAL: return "s2: invalid argument";
    default: return err < 0 ? strerror(-err) : "s2: unknown error";
    }
}

/* --------------------------------------------------------- block decode */

int s2_decoded_len(const void *src, size_t n, size_t *len)
{
    /* decode.go:decodedLen: a uvarint of at most 5 bytes, <= 0xffffffff. */
    const uint8_t *p = src;
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (p[i] < 0x80) {
            if (v > 0xffffffffu || i >= 5)
                return S2_ECORRUPT;
            *len = (size_t)v;
            return (int)i + 1;
        }
    }
    return S2_ECORRUPT;
}

static inline uint32_t load_le(const uint8_t *p, unsigned nb)
{
    uint32_t x = 0;
    for (unsigned i = 0; i < nb; i++)
        x |= (uint32_t)p[i] << (8 * i);
    return x;
}

/* Decodes the tags in [s, se) into [dst, de); de <= ce, and bytes up to ce
 * may be used as scratch by wide copies. The rules are those of
 * decode_other.go:s2Decode: a literal's length is 1 + (tag>>2) or, for
 * 60..63, 1 + the next 1..4 bytes; copy1 has length 4 + ((tag>>2)&7) and an
 * 11-bit offset, where offset 0 means "repeat the previous offset" and
 * length codes 5, 6, 7 take 1, 2, 3 more bytes (length 8+b, 260+w,
 * 65540+t); copy2/copy4 have length 1 + (tag>>2) and a 16/32-bit offset.
 * An offset of 0 (no previous one) or beyond the output so far, or a
 * length past either end, is corrupt; the output must be filled exactly. */
static int decode_tags(const uint8_t *s, const uint8_t *se, uint8_t *dst, uint8_t *de, uint8_t *ce)
{
    uint8_t *d = dst;
    size_t off = 0;
    while (s < se) {
        uint32_t tag = *s;
        size_t len;
        if ((tag & 3) == 0) {
            uint32_t x = tag >> 2;
            if (x < 60) {
                s++;
                len = (size_t)x + 1;
                /* Up to 60 bytes as 16-byte copies when both sides have
                 * room for the overshoot. */
                if (se - s >= 64 && ce - d >= 64 && (size_t)(de - d) >= len) {
                    memcpy(d, s, 16);
                    if (len > 16) {
                        memcpy(d + 16, s + 16, 16);
                        if (len > 32) {
                            memcpy(d + 32, s + 32, 16);
                            memcpy(d + 48, s + 48, 16);
                        }
                    }
                    d += len;
                    s += len;
                    continue;
                }
            } else {
                unsigned nb = x - 59;
                if ((size_t)(se - s) < 1 + nb)
                    return S2_ECORRUPT;
                len = (size_t)load_le(s + 1, nb) + 1;
                s += 1 + nb;
            }
            if (len > (size_t)(de - d) || len > (size_t)(se - s))
                return S2_ECORRUPT;
            memcpy(d, s, len);
            d += len;
            s += len;
            continue;
        }
        switch (tag & 3) {
        case 1: {
            if (se - s < 2)
                return S2_ECORRUPT;
            size_t toff = ((size_t)(tag & 0xe0) << 3) | s[1];
            len = (tag >> 2) & 7;
            s += 2;
            if (toff != 0) {
                off = toff;
            } else if (len >= 5) {
                unsigned nb = len - 4;
                if ((size_t)(se - s) < nb)
                    return S2_ECORRUPT;
                uint32_t v = load_le(s, nb);
                s += nb;
                len = nb == 1 ? v + 4 : nb == 2 ? v + (1u << 8) : v + (1u << 16);
            }
            len += 4;
            break;
        }
        case 2:
            if (se - s < 3)
                return S2_ECORRUPT;
            len = 1 + (tag >> 2);
            off = (size_t)s[1] | (size_t)s[2] << 8;
            s += 3;
            break;
        default:
            if (se - s < 5)
                return S2_ECORRUPT;
            len = 1 + (tag >> 2);
            off = load32(s + 1);
            s += 5;
            break;
        }
        if (off == 0 || off > (size_t)(d - dst) || len > (size_t)(de - d))
            return S2_ECORRUPT;
        const uint8_t *m = d - off;
        uint8_t *end = d + len;
        if ((size_t)(ce - d) >= len + 16) {
            /* Wide copies, allowed to run up to 15 bytes past the end.
             * Offsets of 16 or more copy 16 bytes at a time; a short one
             * is first widened by copying one period at a time, which
             * doubles the distance until it reaches 8. */
            if (off >= 16) {
                do {
                    memcpy(d, m, 16);
                    d += 16;
                    m += 16;
                } while (d < end);
                d = end;
                continue;
            }
            while (d - m < 8) {
                store64(d, load64(m));
                d += d - m;
            }
            while (d < end) {
                store64(d, load64(m));
                d += 8;
                m += 8;
            }
            d = end;
        } else {
            while (d < end)
                *d++ = *m++;
        }
    }
    return d == de ? 0 : S2_ECORRUPT;
}

ssize_t s2_decode_block(const void *src, size_t n, void *dst, size_t cap)
{
    size_t dlen;
    int h = s2_decoded_len(src, n, &dlen);
    if (h < 0)
        return h;
    if (dlen > cap)
        return S2_EDSTSMALL;
    const uint8_t *s = (const uint8_t *)src + h;
    int rc = decode_tags(s, (const uint8_t *)src + n, dst, (uint8_t *)dst + dlen, (uint8_t *)dst + cap);
    return rc < 0 ? rc : (ssize_t)dlen;
}

/* ---------------------------------------------------------------- emit */

/* encode.go:MaxEncodedLen: varint of n + n + the literal header n needs. */
static size_t go_max_encoded_len(size_t n)
{
    size_t v = 1;
    for (size_t x = n; x >= 0x80; x >>= 7)
        v++;
    size_t lit = n == 0 ? 0 : n < 60 ? 1 : n < (1u << 8) ? 2 : n < (1u << 16) ? 3 : n < (1u << 24) ? 4 : 5;
    return n + v + lit;
}

#define ENC_SLACK 32
size_t s2_max_encoded_len(size_t n) { return go_max_encoded_len(n) + ENC_SLACK; }

static size_t put_varint(uint8_t *d, size_t v)
{
    size_t i = 0;
    for (; v >= 0x80; v >>= 7)
        d[i++] = (uint8_t)(v | 0x80);
    d[i++] = (uint8_t)v;
    return i;
}

/* Literal tag (encode_go.go:emitLiteral layout). fast: at least 16 bytes
 * are readable at lit and writable after the tag, so short literals are
 * one 16-byte copy. */
static inline uint8_t *emit_literal(uint8_t *d, const uint8_t *lit, size_t n, bool fast)
{
    size_t m = n - 1;
    if (m < 60) {
        *d++ = (uint8_t)(m << 2);
        if (fast && n <= 16) {
            memcpy(d, lit, 16);
            return d + n;
        }
    } else if (m < (1u << 8)) {
        d[0] = 60 << 2;
        d[1] = (uint8_t)m;
        d += 2;
    } else if (m < (1u << 16)) {
        d[0] = 61 << 2;
        put16(d + 1, (uint32_t)m);
        d += 3;
    } else if (m < (1u << 24)) {
        d[0] = 62 << 2;
        put24(d + 1, (uint32_t)m);
        d += 4;
    } else {
        d[0] = 63 << 2;
        put32(d + 1, (uint32_t)m);
        d += 5;
    }
    memcpy(d, lit, n);
    return d + n;
}

/* A copy with the previous offset, len >= 4, len < 4 MiB + 8 (blocks are
 * at most 4 MiB, so one tag always suffices). Lengths 4..8 are a bare
 * copy1 with offset 0; 9..11 with a small offset are cheaper as a plain
 * copy1; then the 1/2/3 extra length bytes of s2Decode's repeat codes. */
static inline uint8_t *emit_repeat(uint8_t *d, size_t off, size_t len)
{
    len -= 4;
    if (len <= 4) {
        d[0] = (uint8_t)(len << 2 | 1);
        d[1] = 0;
        return d + 2;
    }
    if (len < 8 && off < 2048) {
        d[0] = (uint8_t)((off >> 8) << 5 | len << 2 | 1);
        d[1] = (uint8_t)off;
        return d + 2;
    }
    if (len < (1u << 8) + 4) {
        d[0] = 5 << 2 | 1;
        d[1] = 0;
        d[2] = (uint8_t)(len - 4);
        return d + 3;
    }
    if (len < (1u << 16) + (1u << 8)) {
        d[0] = 6 << 2 | 1;
        d[1] = 0;
        put16(d + 2, (uint32_t)(len - (1u << 8)));
        return d + 4;
    }
    d[0] = 7 << 2 | 1;
    d[1] = 0;
    put24(d + 2, (uint32_t)(len - (1u << 16)));
    return d + 5;
}

/* A copy that sets a new offset, len >= 4. copy1 holds 4..11 bytes within
 * 2 KiB, copy2 1..64 within 64 KiB, copy4 1..64 anywhere; longer matches
 * continue as repeats (encode_go.go:emitCopy does the same split). */
static inline uint8_t *emit_copy(uint8_t *d, size_t off, size_t len)
{
    if (off >= 65536) {
        if (len > 64) {
            d[0] = 63 << 2 | 3;
            put32(d + 1, (uint32_t)off);
            d += 5;
            len -= 64;
            if (len >= 4)
                return emit_repeat(d, off, len);
            if (len == 0)
                return d;
        }
        d[0] = (uint8_t)((len - 1) << 2 | 3);
        put32(d + 1, (uint32_t)off);
        return d + 5;
    }
    if (len > 64) {
        if (off < 2048) {
            d[0] = (uint8_t)((off >> 8) << 5 | (8 - 4) << 2 | 1);
            d[1] = (uint8_t)off;
            d += 2;
            len -= 8;
        } else {
            d[0] = 59 << 2 | 2;
            put16(d + 1, (uint32_t)off);
            d += 3;
            len -= 60;
        }
        return emit_repeat(d, off, len);
    }
    if (len >= 12 || off >= 2048) {
        d[0] = (uint8_t)((len - 1) << 2 | 2);
        put16(d + 1, (uint32_t)off);
        return d + 3;
    }
    d[0] = (uint8_t)((off >> 8) << 5 | (len - 4) << 2 | 1);
    d[1] = (uint8_t)off;
    return d + 2;
}

static inline uint8_t *emit_match(uint8_t *d, size_t off, size_t len, size_t *last_off)
{
    if (off == *last_off)
        return emit_repeat(d, off, len);
    *last_off = off;
    return emit_copy(d, off, len);
}

/* Bytes equal at a and b (b earlier), a running up to end. */
static inline size_t match_len(const uint8_t *a, const uint8_t *b, const uint8_t *end)
{
    const uint8_t *a0 = a;
    while (end - a >= 8) {
        uint64_t x = load64(a) ^ load64(b);
        if (x)
            return (size_t)(a - a0) + ((size_t)__builtin_ctzll(x) >> 3);
        a += 8;
        b += 8;
    }
    while (a < end && *a == *b) {
        a++;
        b++;
    }
    return (size_t)(a - a0);
}

/* Multiplicative hashes of the low k bytes of v into `bits` bits. */
#define PRIME64 0x9e3779b97f4a7c15ull
static inline uint32_t hash_k(uint64_t v, unsigned k, unsigned bits)
{
    return (uint32_t)(((v << (64 - 8 * k)) * PRIME64) >> (64 - bits));
}
static inline uint32_t hash8(uint64_t v, unsigned bits) { return (uint32_t)((v * PRIME64) >> (64 - bits)); }

static unsigned log2_ceil(size_t n)
{
    unsigned b = 0;
    while (((size_t)1 << b) < n)
        b++;
    return b;
}
static inline unsigned clampu(unsigned v, unsigned lo, unsigned hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Table sizes per level: the largest, allocated by s2_enc_init; each
 * block uses (and clears) only what its length needs, as the Go encoders'
 * size classes do (encode_amd64.go:encodeBlock picks 8..14-bit tables by
 * input length). */
#define FAST_BITS 14
#define BETTER_LBITS 17
#define BETTER_SBITS 14
#define BEST_LBITS 18
#define BEST_SBITS 16
static size_t tab_words(enum s2_level l)
{
    switch (l) {
    case S2_FAST: return (size_t)1 << FAST_BITS;
    case S2_BETTER: return ((size_t)1 << BETTER_LBITS) + ((size_t)1 << BETTER_SBITS);
    case S2_BEST: return ((size_t)2 << BEST_LBITS) + ((size_t)2 << BEST_SBITS);
    default: return 0;
    }
}

/* Each encoder writes the tags for src[0..n) (32 <= n <= 4 MiB) at dst and
 * returns their length, or 0 when the result would not be small enough to
 * be worth it (the Go encoders' dstLimit, which is what makes the stream
 * writer store a chunk uncompressed). Stores may touch up to ENC_SLACK
 * bytes past what go_max_encoded_len allows. */

/* fast: one table of 6-byte hashes; probes s and s+1 (and s+2), checks the
 * previous offset at s+1, skips faster the longer nothing matches; after a
 * match tries the position right after it before searching again. */
static size_t enc_fast(uint8_t *dst, const uint8_t *src, size_t n, uint32_t *tab)
{
    const unsigned bits = n < 512 ? 8 : n < 4096 ? 10 : n < 16384 ? 12 : FAST_BITS;
    memset(tab, 0, sizeof(*tab) << bits);
    const size_t s_limit = n - 8;
    const uint8_t *const d_lim = dst + (n - n / 32 - 5); /* encode_all.go:encodeBlockGo dstLimit */
    const uint8_t *const end = src + n;
    uint8_t *d = dst;
    size_t s = 1, next_emit = 0, last_off = 0;
    uint64_t cv = load64(src + s);
    for (;;) {
        size_t cand;
        for (;;) {
            size_t next = s + ((s - next_emit) >> 6) + 4;
            if (next > s_limit)
                goto tail;
            uint32_t h0 = hash_k(cv, 6, bits), h1 = hash_k(cv >> 8, 6, bits);
            cand = tab[h0];
            size_t cand1 = tab[h1];
            tab[h0] = (uint32_t)s;
            tab[h1] = (uint32_t)(s + 1);
            if (last_off && (uint32_t)(cv >> 8) == load32(src + s + 1 - last_off)) {
                size_t base = s + 1, m = base - last_off;
                while (base > next_emit && m > 0 && src[m - 1] == src[base - 1]) {
                    base--;
                    m--;
                }
                if (d + (base - next_emit) + 5 > d_lim)
                    return 0;
                if (base > next_emit)
                    d = emit_literal(d, src + next_emit, base - next_emit, end - (src + next_emit) >= 16);
                s += 5;
                s += match_len(src + s, src + s - last_off, end);
                d = emit_repeat(d, last_off, s - base);
                next_emit = s;
                if (s >= s_limit)
                    goto tail;
                if (d > d_lim)
                    return 0;
                cv = load64(src + s);
                continue;
            }
            if ((uint32_t)cv == load32(src + cand))
                break;
            uint32_t h2 = hash_k(cv >> 16, 6, bits);
            size_t cand2 = tab[h2];
            tab[h2] = (uint32_t)(s + 2);
            if ((uint32_t)(cv >> 8) == load32(src + cand1)) {
                cand = cand1;
                s++;
                break;
            }
            if ((uint32_t)(cv >> 16) == load32(src + cand2)) {
                cand = cand2;
                s += 2;
                break;
            }
            s = next;
            cv = load64(src + s);
        }
        while (cand > 0 && s > next_emit && src[cand - 1] == src[s - 1]) {
            cand--;
            s--;
        }
        if (d + (s - next_emit) + 5 > d_lim)
            return 0;
        if (s > next_emit)
            d = emit_literal(d, src + next_emit, s - next_emit, end - (src + next_emit) >= 16);
        for (;;) {
            size_t base = s, off = s - cand;
            s += 4 + match_len(src + s + 4, src + cand + 4, end);
            d = emit_match(d, off, s - base, &last_off);
            next_emit = s;
            if (s >= s_limit)
                goto tail;
            if (d > d_lim)
                return 0;
            uint64_t x = load64(src + s - 2);
            uint32_t hm = hash_k(x, 6, bits), hc = hash_k(x >> 16, 6, bits);
            tab[hm] = (uint32_t)(s - 2);
            cand = tab[hc];
            tab[hc] = (uint32_t)s;
            if ((uint32_t)(x >> 16) != load32(src + cand)) {
                s++;
                cv = load64(src + s);
                break;
            }
        }
    }
tail:
    if (next_emit < n) {
        if (d + (n - next_emit) + 5 > d_lim)
            return 0;
        d = emit_literal(d, src + next_emit, n - next_emit, false);
    }
    return (size_t)(d - dst);
}

/* better: a long table (7-byte hashes) and a short one (4-byte hashes);
 * prefers a long candidate, takes a short one only when the long one at
 * s+1 does not match either, skips far-offset matches too short to pay for
 * a copy4, and indexes both ends of every match and every second position
 * in between (the shape of encode_better.go:encodeBlockBetterGo). */
static size_t enc_better(uint8_t *dst, const uint8_t *src, size_t n, uint32_t *ltab)
{
    const unsigned lg = log2_ceil(n);
    const unsigned lbits = clampu(lg, 10, BETTER_LBITS), sbits = clampu(lg - 2, 8, BETTER_SBITS);
    uint32_t *stab = ltab + ((size_t)1 << BETTER_LBITS);
    memset(ltab, 0, sizeof(*ltab) << lbits);
    memset(stab, 0, sizeof(*stab) << sbits);
    const size_t s_limit = n - 8;
    const uint8_t *const d_lim = dst + (n - n / 32 - 6); /* encode_better.go dstLimit */
    const uint8_t *const end = src + n;
    uint8_t *d = dst;
    size_t s = 1, next_emit = 0, last_off = 0;
    uint64_t cv = load64(src + s);
    for (;;) {
        size_t cand, next;
        for (;;) {
            next = s + ((s - next_emit) >> 7) + 1;
            if (next > s_limit)
                goto tail;
            uint32_t hl = hash_k(cv, 7, lbits), hs = hash_k(cv, 4, sbits);
            size_t cl = ltab[hl], cs = stab[hs];
            ltab[hl] = (uint32_t)s;
            stab[hs] = (uint32_t)s;
            uint64_t vl = load64(src + cl), vs = load64(src + cs);
            if (cv == vl || (uint32_t)cv == (uint32_t)vl) {
                cand = cl;
                break;
            }
            if (cv == vs) {
                cand = cs;
                break;
            }
            if ((uint32_t)cv == (uint32_t)vs) {
                uint32_t h1 = hash_k(cv >> 8, 7, lbits);
                size_t c1 = ltab[h1];
                ltab[h1] = (uint32_t)(s + 1);
                if ((uint32_t)(cv >> 8) == load32(src + c1)) {
                    cand = c1;
                    s++;
                } else {
                    cand = cs;
                }
                break;
            }
            s = next;
            cv = load64(src + s);
        }
        while (cand > 0 && s > next_emit && src[cand - 1] == src[s - 1]) {
            cand--;
            s--;
        }
        size_t base = s, off = s - cand;
        size_t len = 4 + match_len(src + s + 4, src + cand + 4, end);
        if (off > 65535 && len <= 5 && off != last_off) {
            s = next + 1;
            if (s >= s_limit)
                goto tail;
            cv = load64(src + s);
            continue;
        }
        if (d + (base - next_emit) + 5 > d_lim)
            return 0;
        if (base > next_emit)
            d = emit_literal(d, src + next_emit, base - next_emit, end - (src + next_emit) >= 16);
        d = emit_match(d, off, len, &last_off);
        s = base + len;
        next_emit = s;
        if (s >= s_limit)
            goto tail;
        if (d > d_lim)
            return 0;
        size_t i0 = base + 1, i1 = s - 2;
        uint64_t c0 = load64(src + i0), c1 = load64(src + i1);
        ltab[hash_k(c0, 7, lbits)] = (uint32_t)i0;
        stab[hash_k(c0 >> 8, 4, sbits)] = (uint32_t)(i0 + 1);
        ltab[hash_k(c1, 7, lbits)] = (uint32_t)i1;
        stab[hash_k(c1 >> 8, 4, sbits)] = (uint32_t)(i1 + 1);
        for (i0++, i1--; i0 < i1; i0 += 2, i1 -= 2) {
            ltab[hash_k(load64(src + i0), 7, lbits)] = (uint32_t)i0;
            ltab[hash_k(load64(src + i1), 7, lbits)] = (uint32_t)i1;
        }
        cv = load64(src + s);
    }
tail:
    if (next_emit < n) {
        if (d + (n - next_emit) + 5 > d_lim)
            return 0;
        d = emit_literal(d, src + next_emit, n - next_emit, false);
    }
    return (size_t)(d - dst);
}

/* Encoded size of a match, for best's choice between candidates. */
static size_t repeat_cost(size_t off, size_t len)
{
    len -= 4;
    if (len <= 4 || (len < 8 && off < 2048))
        return 2;
    return len < (1u << 8) + 4 ? 3 : len < (1u << 16) + (1u << 8) ? 4 : 5;
}
static size_t copy_cost(size_t off, size_t len)
{
    if (off >= 65536)
        return len <= 64 ? 5 : len - 64 < 4 ? 10 : 5 + repeat_cost(off, len - 64);
    if (len > 64)
        return off < 2048 ? 2 + repeat_cost(off, len - 8) : 3 + repeat_cost(off, len - 60);
    return (len >= 12 || off >= 2048) ? 3 : 2;
}

struct best_match {
    size_t len, off;
    long score;                /* bytes saved: length minus encoded size */
};

static inline void best_try(struct best_match *b, const uint8_t *src, const uint8_t *end, size_t s, size_t cand,
                            size_t last_off)
{
    if (cand >= s || load32(src + s) != load32(src + cand))
        return;
    size_t off = s - cand;
    if (b->len && off == b->off)
        return;
    size_t len = 4 + match_len(src + s + 4, src + cand + 4, end);
    long score = (long)len - (long)(off == last_off ? repeat_cost(off, len) : copy_cost(off, len));
    if (score > b->score)
        *b = (struct best_match){len, off, score};
}

struct best_ctx {
    const uint8_t *src, *end;
    uint32_t *lt, *st;         /* two-way buckets: [2h] newest, [2h+1] older */
    unsigned lbits, sbits;
};

static struct best_match best_find(const struct best_ctx *c, size_t s, size_t last_off)
{
    struct best_match b = {0, 0, 0};
    uint64_t cv = load64(c->src + s);
    uint32_t hl = hash8(cv, c->lbits) * 2, hs = hash_k(cv, 4, c->sbits) * 2;
    if (last_off)
        best_try(&b, c->src, c->end, s, s - last_off, last_off);
    best_try(&b, c->src, c->end, s, c->lt[hl], last_off);
    best_try(&b, c->src, c->end, s, c->lt[hl + 1], last_off);
    best_try(&b, c->src, c->end, s, c->st[hs], last_off);
    best_try(&b, c->src, c->end, s, c->st[hs + 1], last_off);
    return b;
}

static inline void best_insert(const struct best_ctx *c, size_t s)
{
    uint64_t cv = load64(c->src + s);
    uint32_t hl = hash8(cv, c->lbits) * 2, hs = hash_k(cv, 4, c->sbits) * 2;
    if (c->lt[hl] != s) {
        c->lt[hl + 1] = c->lt[hl];
        c->lt[hl] = (uint32_t)s;
    }
    if (c->st[hs] != s) {
        c->st[hs + 1] = c->st[hs];
        c->st[hs] = (uint32_t)s;
    }
}

/* best: at each position, the cheapest of five candidates (previous
 * offset, two recent 8-byte-hash positions, two recent 4-byte-hash ones)
 * by bytes saved, one step of lazy matching (a better match at s+1 wins),
 * and every position inside a match indexed. Keeps any saving at all
 * (encode_best.go dstLimit is n - 5). */
static size_t enc_best(uint8_t *dst, const uint8_t *src, size_t n, uint32_t *tabs)
{
    const unsigned lg = log2_ceil(n);
    struct best_ctx c = {src, src + n, tabs, tabs + ((size_t)2 << BEST_LBITS), clampu(lg, 10, BEST_LBITS),
                         clampu(lg, 8, BEST_SBITS)};
    memset(c.lt, 0, sizeof(uint32_t) << (c.lbits + 1));
    memset(c.st, 0, sizeof(uint32_t) << (c.sbits + 1));
    const size_t s_limit = n - 10;
    const uint8_t *const d_lim = dst + (n - 5);
    uint8_t *d = dst;
    size_t s = 1, next_emit = 0, last_off = 0;
    while (s < s_limit) {
        struct best_match m = best_find(&c, s, last_off);
        best_insert(&c, s);
        if (m.score <= 0) {
            s += 1 + ((s - next_emit) >> 8);
            continue;
        }
        struct best_match m1 = best_find(&c, s + 1, last_off);
        if (m1.score > m.score + 1) {
            best_insert(&c, s + 1);
            m = m1;
            s++;
        }
        size_t cand = s - m.off;
        while (cand > 0 && s > next_emit && src[cand - 1] == src[s - 1]) {
            cand--;
            s--;
            m.len++;
        }
        if (d + (s - next_emit) + 5 > d_lim)
            return 0;
        if (s > next_emit)
            d = emit_literal(d, src + next_emit, s - next_emit, c.end - (src + next_emit) >= 16);
        d = emit_match(d, m.off, m.len, &last_off);
        size_t e = s + m.len;
        for (size_t i = s + 1; i < e && i < s_limit; i++)
            best_insert(&c, i);
        s = next_emit = e;
        if (d > d_lim)
            return 0;
    }
    if (next_emit < n) {
        if (d + (n - next_emit) + 5 > d_lim)
            return 0;
        d = emit_literal(d, src + next_emit, n - next_emit, false);
    }
    return (size_t)(d - dst);
}

/* The tags for src by level, or 0 (store it as a literal / uncompressed).
 * Inputs under 32 bytes are not worth a search (encode.go:
 * minNonLiteralBlockSize). */
static size_t enc_body(enum s2_level level, uint32_t *tab, uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n < 32)
        return 0;
    switch (level) {
    case S2_FAST: return enc_fast(dst, src, n, tab);
    case S2_BETTER: return enc_better(dst, src, n, tab);
    case S2_BEST: return enc_best(dst, src, n, tab);
    default: return 0;
    }
}

static ssize_t encode_block_with(enum s2_level level, uint32_t *tab, const void *src, size_t n, void *dst, size_t cap)
{
    if (n > S2_MAX_BLOCK)
        return S2_ETOOLARGE;
    if (cap < s2_max_encoded_len(n))
        return S2_EDSTSMALL;
    uint8_t *d = dst;
    size_t h = put_varint(d, n);
    if (n == 0)
        return (ssize_t)h;
    size_t b = enc_body(level, tab, d + h, src, n);
    if (b == 0) /* encode.go:Encode: not compressible, one literal */
        b = (size_t)(emit_literal(d + h, src, n, false) - (d + h));
    return (ssize_t)(h + b);
}

ssize_t s2_encode_block(enum s2_level level, const void *src, size_t n, void *dst, size_t cap)
{
    if ((unsigned)level > S2_BEST)
        return S2_EINVAL;
    if (level == S2_FAST) {
        uint32_t tab[1u << FAST_BITS]; /* 64 KiB: fine on any thread's stack */
        return encode_block_with(level, tab, src, n, dst, cap);
    }
    uint32_t *tab = NULL;
    if (level != S2_NONE && !(tab = malloc(tab_words(level) * sizeof(*tab))))
        return -ENOMEM;
    ssize_t r = encode_block_with(level, tab, src, n, dst, cap);
    free(tab);
    return r;
}

/* -------------------------------------------------------- stream encode */

static const uint8_t magic_s2[10] = {0xff, 0x06, 0x00, 0x00, 'S', '2', 's', 'T', 'w', 'O'};
static const uint8_t magic_snappy_body[6] = {'s', 'N', 'a', 'P', 'p', 'Y'};

int s2_enc_init(struct s2_enc *e, enum s2_level level, uint32_t block_size)
{
    memset(e, 0, sizeof(*e));
    if (block_size == 0)
        block_size = S2_DEFAULT_BLOCK;
    if ((unsigned)level > S2_BEST || block_size < S2_MIN_BLOCK || block_size > S2_MAX_BLOCK)
        return S2_EINVAL; /* encode.go:WriterBlockSize bounds */
    e->level = level;
    e->block_size = block_size;
    size_t w = tab_words(level);
    if ((w && !(e->tab = malloc(w * sizeof(*e->tab)))) || !(e->stage = malloc(block_size))) {
        s2_enc_free(e);
        return -ENOMEM;
    }
    return 0;
}

void s2_enc_free(struct s2_enc *e)
{
    free(e->tab);
    free(e->stage);
    e->tab = NULL;
    e->stage = NULL;
}

ssize_t s2_enc_block(struct s2_enc *e, const void *src, size_t n, void *dst, size_t cap)
{
    return encode_block_with(e->level, e->tab, src, n, dst, cap);
}

/* Per chunk: 4 header + 4 CRC + 5 varint + the block bound. */
size_t s2_enc_bound(const struct s2_enc *e, size_t n)
{
    if (n == 0)
        return 0;
    size_t chunks = (n + e->block_size - 1) / e->block_size;
    return sizeof(magic_s2) + n + chunks * (8 + 5 + 5 + ENC_SLACK);
}

/* One chunk (encode.go:Writer.writeSync): compressed when the encoder
 * found it worth it, else stored, both with the masked CRC of the
 * plaintext. */
static uint8_t *put_chunk(struct s2_enc *e, uint8_t *d, const uint8_t *p, size_t n)
{
    uint32_t crc = s2_crc_mask(s2_crc32c(0, p, n));
    uint8_t type = 0x00;
    size_t body = 0;
    if (e->level != S2_NONE) {
        size_t v = put_varint(d + 8, n);
        size_t b = enc_body(e->level, e->tab, d + 8 + v, p, n);
        if (b)
            body = 4 + v + b;
    }
    if (!body) {
        type = 0x01;
        memcpy(d + 8, p, n);
        body = 4 + n;
    }
    d[0] = type;
    put24(d + 1, (uint32_t)body);
    put32(d + 4, crc);
    return d + 4 + body;
}

ssize_t s2_enc_stream(struct s2_enc *e, const struct iovec *iov, int iovcnt, void *dst, size_t cap)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total == 0)
        return 0;
    if (cap < s2_enc_bound(e, total))
        return S2_EDSTSMALL;
    uint8_t *d = dst;
    memcpy(d, magic_s2, sizeof(magic_s2));
    d += sizeof(magic_s2);
    int i = 0;
    size_t off = 0; /* into iov[i] */
    while (total) {
        size_t want = total < e->block_size ? total : e->block_size;
        while (off == iov[i].iov_len) {
            i++;
            off = 0;
        }
        const uint8_t *p = (const uint8_t *)iov[i].iov_base + off;
        if (iov[i].iov_len - off >= want) {
            off += want; /* contiguous: encode in place */
        } else {
            size_t got = 0;
            while (got < want) {
                while (off == iov[i].iov_len) {
                    i++;
                    off = 0;
                }
                size_t k = iov[i].iov_len - off;
                if (k > want - got)
                    k = want - got;
                memcpy(e->stage + got, (const uint8_t *)iov[i].iov_base + off, k);
                got += k;
                off += k;
            }
            p = e->stage;
        }
        d = put_chunk(e, d, p, want);
        total -= want;
    }
    return (ssize_t)(d - (uint8_t *)dst);
}

/* -------------------------------------------------------- stream decode */

enum { S2D_HDR = 0, S2D_BODY, S2D_SKIP };

int s2_dec_init(struct s2_dec *d, uint32_t max_block)
{
    memset(d, 0, sizeof(*d));
    if (max_block == 0)
        max_block = S2_MAX_BLOCK;
    if (max_block > S2_MAX_BLOCK)
        return S2_EINVAL; /* decode.go:ReaderMaxBlockSize */
    d->max_block = max_block;
    return 0;
}

void s2_dec_free(struct s2_dec *d)
{
    free(d->buf);
    free(d->out);
    d->buf = d->out = NULL;
    d->buf_cap = d->out_cap = 0;
}

void s2_dec_reset(struct s2_dec *d)
{
    d->state = S2D_HDR;
    d->hdr_have = d->need = d->have = 0;
    d->seen_ident = d->snappy = false;
    d->err = 0;
}

static int grow(uint8_t **p, uint32_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64 * 1024;
    while (c < need)
        c *= 2;
    uint8_t *q = malloc(c); /* old contents are not needed: no realloc copy */
    if (!q)
        return -ENOMEM;
    free(*p);
    *p = q;
    *cap = (uint32_t)c;
    return 0;
}

/* A chunk header: what to do with the body (decode.go:Reader.Read). */
static int chunk_start(struct s2_dec *d, uint8_t type, uint32_t len)
{
    if (!d->seen_ident && type != 0xff)
        return S2_ENOIDENT;
    d->type = type;
    d->need = len;
    d->have = 0;
    d->state = S2D_BODY;
    switch (type) {
    case 0x00: /* checksum + block no longer than MaxEncodedLen(maxBlock) */
        if (len < 4)
            return S2_ECORRUPT;
        if (len > go_max_encoded_len(d->max_block) + 4)
            return S2_ETOOLARGE;
        return 0;
    case 0x01:
        if (len < 4)
            return S2_ECORRUPT;
        if (len - 4 > (d->snappy ? S2_SNAPPY_MAX_BLOCK : d->max_block))
            return S2_ETOOLARGE;
        return 0;
    case 0xff:
        return len == 6 ? 0 : S2_EBADIDENT;
    default:
        if (type < 0x80) /* 0x02..0x7f: reserved unskippable */
            return S2_EUNSUPPORTED;
        d->state = len ? S2D_SKIP : S2D_HDR; /* padding, skippable, index */
        return 0;
    }
}

/* A whole chunk body: verify, decode, deliver. */
static int chunk_end(struct s2_dec *d, const uint8_t *body, uint32_t len, s2_deliver_fn deliver, void *arg)
{
    d->state = S2D_HDR;
    if (d->type == 0xff) {
        if (memcmp(body, magic_s2 + 4, 6) == 0)
            d->snappy = false;
        else if (memcmp(body, magic_snappy_body, 6) == 0)
            d->snappy = true;
        else
            return S2_EBADIDENT;
        d->seen_ident = true;
        return 0;
    }
    uint32_t want = load32(body);
    const uint8_t *p = body + 4;
    size_t n = len - 4;
    if (d->type == 0x00) {
        size_t dlen;
        int h = s2_decoded_len(p, n, &dlen);
        if (h < 0)
            return h;
        if (dlen > (d->snappy ? S2_SNAPPY_MAX_BLOCK : d->max_block))
            return S2_ETOOLARGE;
        int rc = grow(&d->out, &d->out_cap, dlen + 64);
        if (rc < 0)
            return rc;
        rc = decode_tags(p + h, p + n, d->out, d->out + dlen, d->out + d->out_cap);
        if (rc < 0)
            return rc;
        p = d->out;
        n = dlen;
    }
    if (s2_crc_mask(s2_crc32c(0, p, n)) != want)
        return S2_ECRC;
    return n ? deliver(arg, (const char *)p, n) : 0;
}

int s2_dec_feed(struct s2_dec *d, const void *in, size_t n, s2_deliver_fn deliver, void *arg)
{
    const uint8_t *p = in, *pe = p + n;
    int rc = d->err;
    while (!rc && p < pe) {
        size_t avail = (size_t)(pe - p);
        if (d->state == S2D_HDR) {
            if (d->hdr_have == 0 && avail >= 4) {
                rc = chunk_start(d, p[0], load_le(p + 1, 3));
                p += 4;
                /* The whole body is in this feed: use it where it lies. */
                if (!rc && d->state == S2D_BODY && (size_t)(pe - p) >= d->need) {
                    rc = chunk_end(d, p, d->need, deliver, arg);
                    p += d->need;
                }
                continue;
            }
            while (d->hdr_have < 4 && p < pe)
                d->hdr[d->hdr_have++] = *p++;
            if (d->hdr_have == 4) {
                d->hdr_have = 0;
                rc = chunk_start(d, d->hdr[0], load_le(d->hdr + 1, 3));
            }
            continue;
        }
        size_t k = d->need - d->have;
        if (k > avail)
            k = avail;
        if (d->state == S2D_SKIP) {
            d->have += (uint32_t)k;
            p += k;
            if (d->have == d->need)
                d->state = S2D_HDR;
            continue;
        }
        if (d->have == 0 && (rc = grow(&d->buf, &d->buf_cap, d->need)) < 0)
            break;
        memcpy(d->buf + d->have, p, k);
        d->have += (uint32_t)k;
        p += k;
        if (d->have == d->need)
            rc = chunk_end(d, d->buf, d->need, deliver, arg);
    }
    d->err = rc;
    return rc;
}
