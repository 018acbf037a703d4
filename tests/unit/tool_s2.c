/* tool_s2: gannet's S2 codec (net/s2.c) over stdin/stdout, the C side of
 * tests/unit/test_s2_ref.py and of the codec bench (bench/s2.sh).
 *
 *   tool_s2 enc-block none|fast|better|best       < plain  > block
 *   tool_s2 enc-stream LEVEL [FLUSH]               < plain  > stream(s)
 *   tool_s2 dec-block                              < block  > plain
 *   tool_s2 dec-stream [PIECE [MAXBLOCK]]          < stream > plain
 *   tool_s2 bench LEVEL FLUSH FILE [SECONDS]       JSON line, like s2ref
 *   tool_s2 batch                                  framed requests (s2ref diff)
 *
 * dec-stream feeds the decoder PIECE bytes at a time (default: all), or
 * pseudo-random piece sizes when PIECE is "random". Errors go to stderr
 * with s2_strerror's text and exit status 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s2.h"

static void die(const char *what, int rc)
{
    fprintf(stderr, "tool_s2: %s: %s\n", what, s2_strerror(rc));
    exit(1);
}

static unsigned char *read_all(FILE *f, size_t *n)
{
    size_t cap = 1 << 16, len = 0;
    unsigned char *b = malloc(cap);
    size_t k;
    while (b && (k = fread(b + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap)
            b = realloc(b, cap *= 2);
    }
    if (!b)
        die("read", -ENOMEM);
    *n = len;
    return b;
}

static enum s2_level parse_level(const char *s)
{
    static const char *names[] = {"none", "fast", "better", "best"};
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0)
            return (enum s2_level)i;
    fprintf(stderr, "tool_s2: unknown level %s\n", s ? s : "(none)");
    exit(2);
}

struct sink {
    unsigned char *p;
    size_t len, cap;
};
static int sink_reserve(struct sink *s, size_t n)
{
    if (s->len + n > s->cap) {
        size_t c = s->cap ? s->cap : 1 << 16;
        while (c < s->len + n)
            c *= 2;
        unsigned char *q = realloc(s->p, c);
        if (!q)
            return -ENOMEM;
        s->p = q;
        s->cap = c;
    }
    return 0;
}
static int sink_put(void *arg, const char *p, size_t n)
{
    struct sink *s = arg;
    if (sink_reserve(s, n) < 0)
        return -ENOMEM;
    memcpy(s->p + s->len, p, n);
    s->len += n;
    return 0;
}

/* Plaintext as one stream per flush bytes (all at once if 0), appended. */
static int enc_streams(struct s2_enc *e, const unsigned char *in, size_t n, size_t flush, struct sink *out)
{
    if (!flush)
        flush = n;
    for (size_t o = 0; o < n; o += flush) {
        size_t k = n - o < flush ? n - o : flush;
        /* Two iovecs when possible, to run the gather path too. */
        struct iovec iov[2] = {{(void *)(in + o), k / 2}, {(void *)(in + o + k / 2), k - k / 2}};
        if (sink_reserve(out, s2_enc_bound(e, k)) < 0)
            return -ENOMEM;
        ssize_t w = s2_enc_stream(e, iov, 2, out->p + out->len, out->cap - out->len);
        if (w < 0)
            return (int)w;
        out->len += (size_t)w;
    }
    return 0;
}

/* Decodes a stream fed in pieces: piece 0 = all, SIZE_MAX = random. */
static int dec_stream(struct s2_dec *d, const unsigned char *in, size_t n, size_t piece, struct sink *out)
{
    unsigned seed = 12345;
    size_t o = 0;
    while (o < n) {
        size_t k = piece ? piece : n;
        if (piece == SIZE_MAX) {
            seed = seed * 1103515245 + 12345;
            k = (seed >> 8) % 9000 + 1;
        }
        if (k > n - o)
            k = n - o;
        int rc = s2_dec_feed(d, in + o, k, sink_put, out);
        if (rc < 0)
            return rc;
        o += k;
    }
    return s2_dec_idle(d) ? 0 : S2_ECORRUPT; /* a stream cut inside a chunk */
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int nop_deliver(void *arg, const char *p, size_t n)
{
    *(size_t *)arg += n;
    return 0;
}

static void bench(enum s2_level lv, const char *lvname, size_t flush, const char *file, double secs)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        die(file, -errno);
    size_t n;
    unsigned char *src = read_all(f, &n);
    fclose(f);
    struct s2_enc e;
    int rc = s2_enc_init(&e, lv, 0);
    if (rc < 0)
        die("init", rc);
    struct sink wire = {0};
    if ((rc = enc_streams(&e, src, n, flush, &wire)) < 0)
        die("encode", rc);
    struct sink tmp = {0};
    double t0 = now();
    long passes = 0;
    while (now() - t0 < secs || passes == 0) {
        tmp.len = 0;
        if ((rc = enc_streams(&e, src, n, flush, &tmp)) < 0)
            die("encode", rc);
        passes++;
    }
    double enc_mbs = (double)n * passes / (now() - t0) / 1e6;
    struct s2_dec d;
    s2_dec_init(&d, 0);
    t0 = now();
    passes = 0;
    while (now() - t0 < secs || passes == 0) {
        size_t got = 0;
        s2_dec_reset(&d);
        if ((rc = s2_dec_feed(&d, wire.p, wire.len, nop_deliver, &got)) < 0)
            die("decode", rc);
        if (got != n)
            die("decode length", S2_ECORRUPT);
        passes++;
    }
    double dec_mbs = (double)n * passes / (now() - t0) / 1e6;
    printf("{\"impl\":\"gannet\",\"level\":\"%s\",\"flush\":%zu,\"in\":%zu,\"out\":%zu,\"ratio\":%.4f,"
           "\"enc_mbs\":%.1f,\"dec_mbs\":%.1f}\n",
           lvname, flush, n, wire.len, (double)n / (double)wire.len, enc_mbs, dec_mbs);
    s2_dec_free(&d);
    s2_enc_free(&e);
}

/* batch: [op][level][len u32 LE][data] -> [status i32 LE][len u32 LE][data].
 * ops: 'B' encode block, 'S' encode stream, 'b' decode block, 's' decode
 * stream (fed in random pieces). */
static void batch(void)
{
    struct s2_enc enc[4];
    for (int i = 0; i < 4; i++)
        if (s2_enc_init(&enc[i], (enum s2_level)i, 0) < 0)
            die("init", -ENOMEM);
    unsigned char h[6];
    while (fread(h, 1, 6, stdin) == 6) {
        uint32_t n;
        memcpy(&n, h + 2, 4);
        unsigned char *in = malloc(n ? n : 1);
        if (!in || fread(in, 1, n, stdin) != n)
            die("batch read", -EIO);
        struct sink out = {0};
        int32_t st = 0;
        int lv = h[1] & 3;
        if (h[0] == 'B') {
            out.cap = s2_max_encoded_len(n);
            out.p = malloc(out.cap);
            ssize_t w = s2_enc_block(&enc[lv], in, n, out.p, out.cap);
            st = w < 0 ? (int32_t)w : 0;
            out.len = w < 0 ? 0 : (size_t)w;
        } else if (h[0] == 'S') {
            st = enc_streams(&enc[lv], in, n, 0, &out);
        } else if (h[0] == 'b') {
            size_t dl;
            if (s2_decoded_len(in, n, &dl) < 0 || dl > (64u << 20)) {
                st = S2_ECORRUPT;
            } else {
                out.cap = dl + 1;
                out.p = malloc(out.cap);
                ssize_t r = s2_decode_block(in, n, out.p, out.cap);
                st = r < 0 ? (int32_t)r : 0;
                out.len = r < 0 ? 0 : (size_t)r;
            }
        } else if (h[0] == 's') {
            struct s2_dec d;
            s2_dec_init(&d, 0);
            st = dec_stream(&d, in, n, SIZE_MAX, &out);
            s2_dec_free(&d);
        } else {
            st = S2_EINVAL;
        }
        if (st < 0)
            out.len = 0;
        uint32_t ol = (uint32_t)out.len;
        fwrite(&st, 4, 1, stdout);
        fwrite(&ol, 4, 1, stdout);
        fwrite(out.p, 1, out.len, stdout);
        fflush(stdout);
        free(out.p);
        free(in);
    }
    for (int i = 0; i < 4; i++)
        s2_enc_free(&enc[i]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tool_s2 enc-block|enc-stream|dec-block|dec-stream|bench|batch ...\n");
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "batch") == 0) {
        batch();
        return 0;
    }
    if (strcmp(mode, "bench") == 0) {
        if (argc < 5)
            return 2;
        bench(parse_level(argv[2]), argv[2], strtoul(argv[3], NULL, 10), argv[4], argc > 5 ? atof(argv[5]) : 1.0);
        return 0;
    }
    size_t n;
    unsigned char *in = read_all(stdin, &n);
    struct sink out = {0};
    int rc = 0;
    if (strcmp(mode, "enc-block") == 0) {
        out.cap = s2_max_encoded_len(n);
        out.p = malloc(out.cap);
        ssize_t w = s2_encode_block(parse_level(argc > 2 ? argv[2] : NULL), in, n, out.p, out.cap);
        if (w < 0)
            die("enc-block", (int)w);
        out.len = (size_t)w;
    } else if (strcmp(mode, "enc-stream") == 0) {
        struct s2_enc e;
        if ((rc = s2_enc_init(&e, parse_level(argc > 2 ? argv[2] : NULL), 0)) < 0)
            die("init", rc);
        if ((rc = enc_streams(&e, in, n, argc > 3 ? strtoul(argv[3], NULL, 10) : 0, &out)) < 0)
            die("enc-stream", rc);
        s2_enc_free(&e);
    } else if (strcmp(mode, "dec-block") == 0) {
        size_t dl;
        if ((rc = s2_decoded_len(in, n, &dl)) < 0)
            die("dec-block", rc);
        out.cap = dl + 1;
        out.p = malloc(out.cap);
        ssize_t r = s2_decode_block(in, n, out.p, out.cap);
        if (r < 0)
            die("dec-block", (int)r);
        out.len = (size_t)r;
    } else if (strcmp(mode, "dec-stream") == 0) {
        size_t piece = 0;
        if (argc > 2)
            piece = strcmp(argv[2], "random") == 0 ? SIZE_MAX : strtoul(argv[2], NULL, 10);
        struct s2_dec d;
        if ((rc = s2_dec_init(&d, argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 0)) < 0)
            die("init", rc);
        if ((rc = dec_stream(&d, in, n, piece, &out)) < 0)
            die("dec-stream", rc);
        s2_dec_free(&d);
    } else {
        fprintf(stderr, "tool_s2: unknown mode %s\n", mode);
        return 2;
    }
    fwrite(out.p, 1, out.len, stdout);
    free(out.p);
    free(in);
    return 0;
}
