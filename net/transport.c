/* Plain TCP: see transport.h. */
#include "transport.h"

static int plain_input(struct transport *t, const char *in, size_t n, int (*deliver)(void *, const char *, size_t),
                       void *arg)
{
    return deliver(arg, in, n);
}

static int plain_prep(struct transport *t, struct oblock *head, uint32_t off, struct iovec *iov, int max,
                      uint32_t *wire)
{
    int n = 0;
    uint32_t bytes = 0;
    for (struct oblock *b = head; b && n < max; b = b->next, off = 0) {
        if (b->len == off)
            continue;
        iov[n].iov_base = b->data + off;
        iov[n].iov_len = b->len - off;
        bytes += b->len - off;
        n++;
    }
    *wire = bytes;
    return n;
}

static uint32_t plain_sent(struct transport *t, uint32_t n) { return n; }

const struct transport_ops transport_plain = {
    .name = "tcp",
    .input = plain_input,
    .prep = plain_prep,
    .sent = plain_sent,
};

int oblock_gather(struct oblock *head, uint32_t off, struct iovec *iov, int maxv, uint64_t max, uint32_t *bytes)
{
    int n = 0;
    uint64_t got = 0;
    for (struct oblock *b = head; b && n < maxv && got < max; b = b->next, off = 0) {
        if (b->len == off)
            continue;
        uint64_t len = b->len - off;
        if (len > max - got)
            len = max - got;
        iov[n].iov_base = b->data + off;
        iov[n].iov_len = (size_t)len;
        got += len;
        n++;
    }
    *bytes = (uint32_t)got;
    return n;
}
