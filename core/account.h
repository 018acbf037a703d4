/* Accounts: each owns its subject index, so that subjects of one tenant
 * never match another's (nats-compat.md §6). For now there are two, as in a
 * nats-server without an accounts block: the global account "$G", which
 * every client joins, and the system account "$SYS", which exists
 * implicitly (routes exchange its interest) but has no clients yet.
 *
 * Threads: created by the control thread before the shards start and
 * destroyed after they stop; the name and id are immutable, the index is
 * shared as sublist.h says. A shard's match cache is per account (indexed
 * by id), so a cached result is keyed by (account, subject). */
#ifndef GANNET_ACCOUNT_H
#define GANNET_ACCOUNT_H
#include <stdbool.h>
#include <stdint.h>

#include "sublist.h"

#define ACC_GLOBAL "$G"
#define ACC_SYSTEM "$SYS"
#define ACC_MAX 2          /* accounts a server has (ids 0 .. ACC_MAX-1) */

struct account {
    char *name;
    uint32_t id;           /* index of the shards' per-account state */
    bool is_system;
    struct sublist sl;
};

int account_init(struct account *a, const char *name, uint32_t id, bool is_system); /* 0 or -ENOMEM */
void account_destroy(struct account *a); /* no readers left (QSBR thread registered) */
#endif
