/* Cross-shard links: see mailbox.h. */
#include "mailbox.h"

#include <errno.h>
#include <stdlib.h>

struct xbatch *xbatch_new(uint32_t cap)
{
    struct xbatch *b = malloc(sizeof *b);
    char *d = b ? malloc(cap) : NULL;
    if (!d) {
        free(b);
        return NULL;
    }
    atomic_init(&b->next, NULL);
    b->len = 0;
    b->cap = cap;
    b->data = d;
    return b;
}

void xbatch_free(struct xbatch *b)
{
    if (!b)
        return;
    free(b->data);
    free(b);
}

int xlink_init(struct xlink *l)
{
    l->stub = calloc(1, sizeof *l->stub);
    if (!l->stub)
        return -ENOMEM;
    atomic_init(&l->stub->next, NULL);
    l->head = l->tail = l->stub;
    l->pushed = 0;
    atomic_init(&l->pushed_batches, 0);
    atomic_init(&l->consumed, 0);
    atomic_init(&l->want_wake, 0);
    return 0;
}

void xlink_destroy(struct xlink *l)
{
    if (!l->stub)
        return;
    struct xbatch *b = l->head;
    while (b) {
        struct xbatch *n = atomic_load_explicit(&b->next, memory_order_relaxed);
        if (b != l->stub)
            xbatch_free(b);
        b = n;
    }
    free(l->stub);
    l->stub = l->head = l->tail = NULL;
}

void xlink_push(struct xlink *l, struct xbatch *b)
{
    atomic_store_explicit(&b->next, NULL, memory_order_relaxed);
    l->pushed += b->cap;
    /* the release publishes b's records along with the link */
    atomic_store_explicit(&l->tail->next, b, memory_order_release);
    l->tail = b;
    atomic_store_explicit(&l->pushed_batches, atomic_load_explicit(&l->pushed_batches, memory_order_relaxed) + 1,
                          memory_order_release);
}

uint64_t xlink_inflight(struct xlink *l)
{
    return l->pushed - atomic_load_explicit(&l->consumed, memory_order_acquire);
}

struct xbatch *xlink_pop(struct xlink *l)
{
    struct xbatch *h = l->head, *n = atomic_load_explicit(&h->next, memory_order_acquire);
    if (!n)
        return NULL;
    l->head = n;
    if (h != l->stub)
        xbatch_free(h); /* its successor exists: the sender no longer touches it */
    return n;
}

bool xlink_empty(struct xlink *l)
{
    return atomic_load_explicit(&l->head->next, memory_order_acquire) == NULL;
}

void xlink_consumed(struct xlink *l, struct xbatch *b)
{
    free(b->data);
    b->data = NULL;
    atomic_store_explicit(&l->consumed, atomic_load_explicit(&l->consumed, memory_order_relaxed) + b->cap,
                          memory_order_release);
}
