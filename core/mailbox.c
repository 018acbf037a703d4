#include "mailbox.h"

#include <errno.h>
#include <stdlib.h>

int spsc_init(struct spsc *q, uint32_t size)
{
    q->slots = calloc(size, sizeof(void *));
    if (!q->slots)
        return -ENOMEM;
    q->mask = size - 1;
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    q->head_cache = q->tail_cache = 0;
    return 0;
}

void spsc_free(struct spsc *q)
{
    free(q->slots);
    q->slots = NULL;
}

bool spsc_push(struct spsc *q, void *p)
{
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (t - q->head_cache > q->mask) {
        q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
        if (t - q->head_cache > q->mask)
            return false;
    }
    q->slots[t & q->mask] = p;
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return true;
}

void *spsc_pop(struct spsc *q)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (h == q->tail_cache) {
        q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (h == q->tail_cache)
            return NULL;
    }
    void *p = q->slots[h & q->mask];
    atomic_store_explicit(&q->head, h + 1, memory_order_release);
    return p;
}

bool spsc_empty(struct spsc *q)
{
    return atomic_load_explicit(&q->head, memory_order_acquire) ==
           atomic_load_explicit(&q->tail, memory_order_acquire);
}
