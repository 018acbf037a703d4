/* Message encoders, one per connection kind (nats-compat.md §1, §3.2, §5.2):
 * the control line a message is delivered with, written into a buffer the
 * caller sized with msgline_max().
 *
 *   client   MSG  <subj> <sid> [reply] <size>
 *            HMSG <subj> <sid> [reply] <hdr> <size>
 *   route    RMSG <acc> <subj> [reply] <size>           (acc omitted on a
 *            RMSG <acc> <subj> + <reply> <q>... <size>   connection pinned
 *            RMSG <acc> <subj> | <q>... <size>           to one account)
 *            HMSG <acc> <subj> [same middle] <hdr> <size>
 *   leaf     LMSG <subj> [same middle] <size>
 *            HMSG <subj> [same middle] <hdr> <size>
 *
 * A route or leaf line names every queue group of the receiver the message
 * is for ("+ reply q..." when it has a reply, "| q..." when not); the
 * receiver delivers to one member of each. Pure functions, any thread. */
#ifndef GANNET_ENCODE_H
#define GANNET_ENCODE_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kind.h"

struct strv {
    const char *p;
    uint32_t n;
};

struct msgline {
    struct strv subj, reply;
    struct strv sid;           /* client */
    struct strv acc;           /* route: the account; n == 0 on a pinned connection */
    const struct strv *queues; /* route, leaf: queue groups the message is for */
    uint32_t nqueues;
    int64_t hdr;               /* header bytes, < 0: no headers (MSG/RMSG/LMSG) */
    uint32_t size;             /* headers and payload */
    struct strv hdrtok, sztok; /* optional: hdr and size as the publisher wrote them (n == 0: format) */
};

/* v in decimal at p; the digits written (at most 20). */
static inline uint32_t msgline_udec(char *p, uint64_t v)
{
    char t[20];
    uint32_t n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    for (uint32_t i = 0; i < n; i++)
        p[i] = t[n - 1 - i];
    return n;
}

/* Bytes the line of m may take, CRLF included. */
static inline size_t msgline_max(enum conn_kind k, const struct msgline *m)
{
    size_t n = 5 + (size_t)m->subj.n + 1 + m->reply.n + 1 + 2 * 11 + m->hdrtok.n + m->sztok.n + 2;
    if (k == CK_CLIENT)
        return n + m->sid.n + 1;
    n += (size_t)m->acc.n + 1 + 2;
    for (uint32_t i = 0; i < m->nqueues; i++)
        n += (size_t)m->queues[i].n + 1;
    return n;
}

static inline char *msgline_put(char *p, struct strv v)
{
    memcpy(p, v.p, v.n);
    p[v.n] = ' ';
    return p + v.n + 1;
}

/* Write m's control line for a connection of kind k; its length. */
static inline size_t msgline_encode(enum conn_kind k, char *out, const struct msgline *m)
{
    char *p = out;
    if (m->hdr >= 0)
        memcpy(p, "HMSG ", 5), p += 5;
    else if (k == CK_CLIENT)
        memcpy(p, "MSG ", 4), p += 4;
    else
        memcpy(p, k == CK_LEAF ? "LMSG " : "RMSG ", 5), p += 5;
    if (k == CK_ROUTE && m->acc.n)
        p = msgline_put(p, m->acc);
    p = msgline_put(p, m->subj);
    if (k == CK_CLIENT) {
        p = msgline_put(p, m->sid);
        if (m->reply.n)
            p = msgline_put(p, m->reply);
    } else if (m->nqueues) {
        if (m->reply.n) {
            *p++ = '+', *p++ = ' ';
            p = msgline_put(p, m->reply);
        } else {
            *p++ = '|', *p++ = ' ';
        }
        for (uint32_t i = 0; i < m->nqueues; i++)
            p = msgline_put(p, m->queues[i]);
    } else if (m->reply.n) {
        p = msgline_put(p, m->reply);
    }
    if (m->hdr >= 0) {
        if (m->hdrtok.n)
            p = msgline_put(p, m->hdrtok);
        else
            p += msgline_udec(p, (uint32_t)m->hdr), *p++ = ' ';
    }
    if (m->sztok.n)
        memcpy(p, m->sztok.p, m->sztok.n), p += m->sztok.n;
    else
        p += msgline_udec(p, m->size);
    *p++ = '\r', *p++ = '\n';
    return (size_t)(p - out);
}
#endif
