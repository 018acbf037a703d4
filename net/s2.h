/* S2 compression, the codec nats-server 2.10+ speaks on compressed route
 * (and leaf) connections: klauspost/compress's s2 block format and its
 * stream ("framing") format, Snappy's framing with S2 blocks inside.
 *
 *   block:  uvarint(decoded length) then tags: literal, copy1, copy2, copy4;
 *           S2 adds repeat-offset copies (copy1 with offset 0) and long
 *           copy lengths over Snappy. Snappy blocks are valid S2 blocks.
 *   stream: ff 06 00 00 "S2sTwO", then chunks [type][len:3 LE][body]:
 *           0x00 compressed (masked CRC-32C + block), 0x01 uncompressed
 *           (masked CRC-32C + bytes), 0x80..0xfe skipped, 0x02..0x7f fatal.
 *
 * Ownership: an s2_enc or s2_dec belongs to one thread at a time (the shard
 * owning the connection). There is no global mutable state, so any thread
 * may use its own objects and the one-shot functions at any time.
 * Memory: s2_enc allocates its match tables and a staging block at init;
 * s2_dec grows its chunk buffers on demand, never beyond the configured
 * maximum block, and frees them in s2_dec_free.
 *
 * Results: lengths (>= 0) or a negative code: S2_E* below, or -ENOMEM, or
 * whatever negative value a deliver callback returned. s2_strerror() names
 * any of them. */
#ifndef GANNET_S2_H
#define GANNET_S2_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Compression levels. The numbering follows nats-server's route modes
 * (s2_uncompressed, s2_fast, s2_better, s2_best). */
enum s2_level {
    S2_NONE = 0,    /* stream of uncompressed chunks (s2.WriterUncompressed) */
    S2_FAST = 1,    /* s2.Encode / the Writer's default level */
    S2_BETTER = 2,  /* s2.EncodeBetter / s2.WriterBetterCompression */
    S2_BEST = 3,    /* s2.EncodeBest / s2.WriterBestCompression */
};

/* Error codes, kept clear of errno values so that a callback's -errno
 * passes through unchanged. */
enum {
    S2_ECORRUPT = -1001,     /* malformed block: bad tag, offset or length */
    S2_ECRC = -1002,         /* chunk checksum does not match its data */
    S2_ETOOLARGE = -1003,    /* block or chunk larger than the configured max */
    S2_EUNSUPPORTED = -1004, /* reserved unskippable chunk type 0x02..0x7f */
    S2_ENOIDENT = -1005,     /* stream does not start with a stream identifier */
    S2_EBADIDENT = -1006,    /* stream identifier chunk malformed */
    S2_EDSTSMALL = -1007,    /* caller's output buffer too small */
    S2_EINVAL = -1008,       /* bad argument (level, block size) */
};
const char *s2_strerror(int err);

/* Format limits (klauspost s2.go constants). */
#define S2_MAX_BLOCK (4u << 20)      /* maxBlockSize: largest stream chunk */
#define S2_DEFAULT_BLOCK (1u << 20)  /* defaultBlockSize: the Writer's chunk size */
#define S2_MIN_BLOCK (4u << 10)      /* minBlockSize: smallest Writer block size */
#define S2_SNAPPY_MAX_BLOCK (1u << 16) /* maxSnappyBlockSize: in sNaPpY streams */

/* ---- one-shot block format ---- */

/* Bytes s2_encode_block may need for n input bytes: Go's MaxEncodedLen
 * plus 32 bytes of scratch that the encoders' wide stores may touch. The
 * encoded result itself never exceeds Go's bound. */
size_t s2_max_encoded_len(size_t n);
/* Encodes src as one block (S2_NONE is treated as a literal-only block).
 * Returns the encoded length, or S2_EDSTSMALL if cap < s2_max_encoded_len(n),
 * S2_ETOOLARGE if n > 0xffffffff - 64. Better and best allocate their match
 * tables per call (use an s2_enc to avoid that). */
ssize_t s2_encode_block(enum s2_level level, const void *src, size_t n, void *dst, size_t cap);
/* The decoded length a block announces: 0 or S2_ECORRUPT. */
int s2_decoded_len(const void *src, size_t n, size_t *len);
/* Decodes one block into dst: decoded length, S2_ECORRUPT, S2_EDSTSMALL. */
ssize_t s2_decode_block(const void *src, size_t n, void *dst, size_t cap);

/* CRC-32C (Castagnoli) of p, and the masked form the stream stores. */
uint32_t s2_crc32c(uint32_t crc, const void *p, size_t n);
static inline uint32_t s2_crc_mask(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xa282ead8u; }

/* ---- stream encoder ---- */

struct s2_enc {
    enum s2_level level;
    uint32_t block_size;       /* plaintext bytes per chunk */
    uint32_t *tab;             /* match tables (fast: one, better/best: two) */
    uint8_t *stage;            /* block_size bytes: a chunk that spans iovecs */
};
/* block_size 0 means S2_DEFAULT_BLOCK, as nats-server's writers use;
 * otherwise S2_MIN_BLOCK..S2_MAX_BLOCK. 0, S2_EINVAL or -ENOMEM. */
int s2_enc_init(struct s2_enc *e, enum s2_level level, uint32_t block_size);
void s2_enc_free(struct s2_enc *e);
/* Worst-case wire bytes for a stream of n plaintext bytes. */
size_t s2_enc_bound(const struct s2_enc *e, size_t n);
/* Writes one complete stream (identifier, then chunks of block_size bytes
 * of the concatenated iovecs) into dst, as nats-server's writer does on
 * every flush (Reset, Write..., Close). n == 0 writes nothing, like Go.
 * Returns the wire length or S2_EDSTSMALL (cap < s2_enc_bound). */
ssize_t s2_enc_stream(struct s2_enc *e, const struct iovec *iov, int iovcnt, void *dst, size_t cap);
/* The block encoder with e's tables: s2_encode_block without allocation. */
ssize_t s2_enc_block(struct s2_enc *e, const void *src, size_t n, void *dst, size_t cap);

/* ---- incremental stream decoder ----
 *
 *   HDR ──4 bytes──► type 0x00/0x01/0xff: BODY ──len bytes──► check, deliver ─┐
 *    ▲               type 0x80..0xfe:     SKIP ──len bytes────────────────────┤
 *    │               type 0x02..0x7f:     error (sticky)                      │
 *    └────────────────────────────────────────────────────────────────────────┘
 */
struct s2_dec {
    uint32_t max_block;        /* largest decoded chunk accepted */
    uint8_t state;             /* S2D_HDR, S2D_BODY, S2D_SKIP */
    uint8_t type;              /* chunk type being read */
    bool seen_ident;           /* a stream identifier came first */
    bool snappy;               /* last identifier was sNaPpY: 64 KiB chunks */
    uint8_t hdr[4];            /* partial chunk header */
    uint32_t hdr_have;         /* bytes of hdr filled */
    uint32_t need;             /* body bytes of the current chunk */
    uint32_t have;             /* body bytes buffered (or skipped) so far */
    uint8_t *buf;              /* body of a chunk that straddles feeds */
    uint32_t buf_cap;
    uint8_t *out;              /* decoded block */
    uint32_t out_cap;
    int err;                   /* sticky error, 0 while healthy */
};
typedef int (*s2_deliver_fn)(void *arg, const char *p, size_t n);
/* max_block 0 means S2_MAX_BLOCK (what the Go reader accepts); buffers
 * start small and grow to what the peer's chunks need. 0 or S2_EINVAL. */
int s2_dec_init(struct s2_dec *d, uint32_t max_block);
void s2_dec_free(struct s2_dec *d);
/* Back to "expect a stream identifier", keeping the buffers. */
void s2_dec_reset(struct s2_dec *d);
/* Consumes all n bytes: every chunk completed is verified and its
 * plaintext handed to deliver (which may be called several times; a
 * negative result stops and is returned). A partial chunk stays buffered.
 * Returns 0 or a negative code; errors are sticky. */
int s2_dec_feed(struct s2_dec *d, const void *in, size_t n, s2_deliver_fn deliver, void *arg);
/* True when no partial chunk is buffered (the stream may end here). */
static inline bool s2_dec_idle(const struct s2_dec *d) { return d->state == 0 && d->hdr_have == 0; }
#endif
