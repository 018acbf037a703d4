/* Flow-control types shared by connections and shards (docs/design.md §11):
 * a parked input. Owner shard only, like everything it is embedded in. */
#ifndef GANNET_FLOW_H
#define GANNET_FLOW_H
#include <stdbool.h>
#include <stdint.h>

/* An input whose consumption is suspended: a client connection's receive,
 * or one source shard's link. It waits for a consumer of this shard
 * (identified by slot and generation, so that a closed one is noticed) and
 * for links' budgets; the consumer wait also ends at `until_ms`. */
enum park_kind { PARK_CONN, PARK_XIN };
struct park {
    struct park *next;         /* the shard's parked list */
    uint8_t kind;
    bool on_list;
    bool on_consumer;          /* waits for the consumer (slot, gen) */
    uint32_t slot, gen;
    uint64_t links;            /* destinations whose budget it waits for */
    int64_t start_ms, until_ms; /* consumer wait began, ends at the latest */
    uint64_t c_sent;           /* consumer's sent bytes when the wait began (progress) */
    int c_outq;                /* consumer socket's unsent+unacked bytes then (SIOCOUTQ, -1 unknown) */
};

#endif
