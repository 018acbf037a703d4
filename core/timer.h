/* A hashed timer wheel: one timer per connection, so that an idle server
 * with 100,000 connections does no work per connection per tick
 * (docs/design.md §12). Owner shard only.
 *
 * WHEEL_SLOTS slots of WHEEL_TICK_MS each; a timer lives in the slot of
 * its due tick. One due beyond the wheel's span (51.2 s) waits in its slot
 * and is passed over until a lap brings its time, so a connection's 2-minute
 * ping timer is looked at three times before it fires. Advancing visits
 * only the slots of the ticks that passed, and in them only their timers. */
#ifndef GANNET_TIMER_H
#define GANNET_TIMER_H
#include <stdbool.h>
#include <stdint.h>

#define WHEEL_SLOTS 1024
#define WHEEL_TICK_MS 50

struct tnode {
    struct tnode *next, *prev;
    int64_t due_ms;            /* INT64_MAX: not armed */
    struct tnode *expired_next; /* twheel_expire's result list */
};

struct twheel {
    struct tnode slot[WHEEL_SLOTS]; /* list heads (circular, self-linked when empty) */
    int64_t tick;              /* the last tick processed */
    uint32_t n;                /* timers armed */
};

void twheel_init(struct twheel *w, int64_t now_ms);
void tnode_init(struct tnode *t);
static inline bool tnode_armed(const struct tnode *t) { return t->next != t; }
void twheel_arm(struct twheel *w, struct tnode *t, int64_t due_ms); /* (re)arm */
void twheel_cancel(struct twheel *w, struct tnode *t);
/* Take every timer due at or before now_ms off the wheel, chained through
 * ->expired_next (NULL-terminated; each is unarmed and may be re-armed). */
struct tnode *twheel_expire(struct twheel *w, int64_t now_ms);
#endif
