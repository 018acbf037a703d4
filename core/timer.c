/* Timer wheel: see timer.h. */
#include "timer.h"

#include <stddef.h>

void tnode_init(struct tnode *t)
{
    t->next = t->prev = t;
    t->due_ms = INT64_MAX;
}

void twheel_init(struct twheel *w, int64_t now_ms)
{
    for (int i = 0; i < WHEEL_SLOTS; i++)
        tnode_init(&w->slot[i]);
    w->tick = now_ms / WHEEL_TICK_MS;
    w->n = 0;
}

void twheel_cancel(struct twheel *w, struct tnode *t)
{
    if (!tnode_armed(t))
        return;
    t->prev->next = t->next;
    t->next->prev = t->prev;
    t->next = t->prev = t;
    t->due_ms = INT64_MAX;
    w->n--;
}

void twheel_arm(struct twheel *w, struct tnode *t, int64_t due_ms)
{
    twheel_cancel(w, t);
    /* the first tick at or after due: when the wheel reaches it, now >= due */
    int64_t tick = (due_ms + WHEEL_TICK_MS - 1) / WHEEL_TICK_MS;
    if (tick <= w->tick) /* due already: the next advance takes it */
        tick = w->tick + 1;
    struct tnode *h = &w->slot[tick & (WHEEL_SLOTS - 1)];
    t->due_ms = due_ms;
    t->next = h->next;
    t->prev = h;
    h->next->prev = t;
    h->next = t;
    w->n++;
}

struct tnode *twheel_expire(struct twheel *w, int64_t now_ms)
{
    struct tnode *out = NULL;
    int64_t to = now_ms / WHEEL_TICK_MS;
    if (to - w->tick > WHEEL_SLOTS) /* asleep for more than a lap: every slot once */
        w->tick = to - WHEEL_SLOTS;
    while (w->tick < to) {
        w->tick++;
        struct tnode *h = &w->slot[w->tick & (WHEEL_SLOTS - 1)];
        for (struct tnode *t = h->next, *n; t != h; t = n) {
            n = t->next;
            if (t->due_ms > now_ms)
                continue; /* a later lap's */
            twheel_cancel(w, t);
            t->expired_next = out;
            out = t;
        }
    }
    return out;
}
