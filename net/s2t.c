/* S2 compression as a transport (transport.h): nats-server 2.10's
 * compressed routes. See s2t.h. */
#include "s2t.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "s2.h"

/* Plaintext encoded per write: a complete stream each time, as
 * nats-server's flushOutbound writes (Reset, Write, Close; client.go). */
#define S2T_BATCH (256u * 1024)

struct s2t {
    struct s2_enc enc;
    struct s2_dec dec;
    enum s2_level level, want; /* the encoder's, and the one asked for (s2_auto moves it) */
    uint64_t plain_left;       /* plaintext still to go out as it is (queued before the switch) */
    char *wire;                /* the stream being written */
    size_t wire_cap, wire_len, wire_off;
    uint32_t wire_plain;       /* plaintext the stream carries */
};

static int s2t_input(struct transport *t, const char *in, size_t n, int (*deliver)(void *, const char *, size_t),
                     void *arg)
{
    struct s2t *z = t->state;
    int rc = s2_dec_feed(&z->dec, in, n, deliver, arg);
    return rc < 0 ? rc : 0;
}


static int s2t_prep(struct transport *t, struct oblock *head, uint32_t off, struct iovec *iov, int max, uint32_t *wire)
{
    struct s2t *z = t->state;
    *wire = 0;
    if (z->plain_left) { /* never in the same write as compressed bytes (nats-server's issue #7964) */
        return oblock_gather(head, off, iov, max, z->plain_left, wire);
    }
    if (z->wire_off == z->wire_len) { /* a new stream from what is queued */
        struct iovec v[SEND_IOV_MAX];
        uint32_t plain = 0;
        int nv = oblock_gather(head, off, v, SEND_IOV_MAX, S2T_BATCH, &plain);
        if (!plain)
            return 0;
        if (z->want != z->level) {
            struct s2_enc e;
            if (s2_enc_init(&e, z->want, 0) == 0) {
                s2_enc_free(&z->enc);
                z->enc = e;
                z->level = z->want;
            }
        }
        size_t need = s2_enc_bound(&z->enc, plain);
        if (need > z->wire_cap) {
            char *nw = realloc(z->wire, need);
            if (!nw)
                return 0; /* tried again at the next flush; the queue keeps it */
            z->wire = nw;
            z->wire_cap = need;
        }
        ssize_t w = s2_enc_stream(&z->enc, v, nv, z->wire, z->wire_cap);
        if (w <= 0)
            return 0;
        z->wire_len = (size_t)w;
        z->wire_off = 0;
        z->wire_plain = plain;
    }
    iov[0].iov_base = z->wire + z->wire_off;
    iov[0].iov_len = z->wire_len - z->wire_off;
    *wire = (uint32_t)iov[0].iov_len;
    return 1;
}

static uint32_t s2t_sent(struct transport *t, uint32_t n)
{
    struct s2t *z = t->state;
    if (z->plain_left) { /* a plain write: ours, or one the transport before prepared */
        uint32_t done = n < z->plain_left ? n : (uint32_t)z->plain_left;
        z->plain_left -= done;
        return done;
    }
    z->wire_off += n;
    if (z->wire_off < z->wire_len)
        return 0; /* the stream's plaintext is done once all of it is written */
    z->wire_off = z->wire_len = 0;
    return z->wire_plain;
}

static void s2t_free(struct transport *t)
{
    struct s2t *z = t->state;
    if (!z)
        return;
    s2_enc_free(&z->enc);
    s2_dec_free(&z->dec);
    free(z->wire);
    free(z);
    t->state = NULL;
}

const struct transport_ops transport_s2 = {
    .name = "s2",
    .input = s2t_input,
    .prep = s2t_prep,
    .sent = s2t_sent,
    .free = s2t_free,
};

int s2t_install(struct transport *t, enum s2_level level, uint64_t plain_left)
{
    struct s2t *z = calloc(1, sizeof *z);
    if (!z)
        return -ENOMEM;
    if (s2_enc_init(&z->enc, level, 0) < 0 || s2_dec_init(&z->dec, 0) < 0) {
        s2_enc_free(&z->enc);
        free(z);
        return -ENOMEM;
    }
    z->level = z->want = level;
    z->plain_left = plain_left;
    t->ops = &transport_s2;
    t->state = z;
    return 0;
}

void s2t_set_level(struct transport *t, enum s2_level level)
{
    if (t->ops == &transport_s2)
        ((struct s2t *)t->state)->want = level;
}

int s2t_level(const struct transport *t)
{
    return t->ops == &transport_s2 ? (int)((const struct s2t *)t->state)->level : -1;
}
