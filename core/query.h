/* Questions other threads (the monitor) ask the shards about what only the
 * shards may read: their connections and subscriptions (architecture.md
 * rule 1). The asker posts one struct query to every shard and waits; each
 * shard answers at the start of its next loop turn with snapshots it
 * allocates, which the asker owns and frees. Counters that are plain atomics
 * (messages, bytes, connections) need no query: see server_stats().
 *
 * Threads: server_query() and server_stats() from any thread that is not a
 * shard; shard_answer_query() and shard_record_closed() on the owner shard. */
#ifndef GANNET_QUERY_H
#define GANNET_QUERY_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "server.h"

struct sub_snap {
    char *subject, *queue, *sid; /* queue NULL for plain subscriptions */
    uint64_t msgs, max;
};

struct conn_snap {
    uint64_t cid;
    char ip[46];
    uint16_t port;
    int64_t start_ns, last_activity_ns, stop_ns; /* Unix time, ns (stop: closed only) */
    int64_t rtt_ns;                              /* -1 until measured */
    uint64_t pending, in_msgs, out_msgs, in_bytes, out_bytes;
    uint32_t nsubs;
    char *name, *lang, *version, *user;          /* NULL when not given */
    const char *tls_version, *tls_cipher;        /* static strings; NULL: not TLS (or no handshake yet) */
    const char *account;                         /* its account's name, NULL for $G (accounts live as long as the server) */
    char reason[48];                             /* closed only */
    struct sub_snap *subs;                       /* when asked for (want_subs) */
    char *remote_id;                             /* Q_ROUTES: the peer's server id */
    bool did_solicit, is_configured;
    int pool_idx;                                /* Q_ROUTES: its slot in a pool (2.10's pool_idx); -1: none */
    char *route_account;                         /* Q_ROUTES: the account it is pinned to (NULL: none) */
    const char *route_comp;                      /* Q_ROUTES: its compression (static string; NULL: none) */
    uint32_t nsubs_list;
};

/* A valid match-cache entry (/subsz num_cache, max_fanout, avg_fanout):
 * nats-server counts plain subscriptions plus queue groups. */
struct cache_snap {
    uint64_t hash;             /* of the subject: the same subject on two shards counts once */
    uint32_t fanout;
};

/* A subject of the sampled traffic (/topz), as the shard's two windows hold it. */
struct top_snap {
    uint64_t hash;
    char *subject;             /* malloc'd; the first TOPZ_SUBJ_MAX bytes when truncated */
    bool truncated;
    uint64_t msgs, bytes, deliveries;
};

enum query_kind {
    Q_OPEN_CONNS,              /* snaps: open clients (asks for an RTT as nats-server's getRTT does) */
    Q_CLOSED_CONNS,            /* snaps: the ring of closed clients */
    Q_CACHE,                   /* cache: the valid match-cache entries */
    Q_TOP,                     /* top, top_since_ms: the sampled subjects of both windows */
    Q_ROUTES,                  /* snaps: registered routes (shard 0), with route fields */
};

#define MAX_CLOSED_CLIENTS 10000 /* nats-server's default ring of closed connections, over all shards */

struct query {
    enum query_kind kind;
    bool want_subs;
    _Atomic int pending;                  /* shards that have not answered yet */
    /* answers per shard, allocated by the shard; count[] entries in the one asked for */
    struct conn_snap *snaps[MAX_SHARDS];
    struct cache_snap *cache[MAX_SHARDS];
    struct top_snap *top[MAX_SHARDS];
    int64_t top_since_ms[MAX_SHARDS];     /* start of the older window (monotonic ms) */
    uint32_t count[MAX_SHARDS];
};

struct server_stats {
    uint64_t in_msgs, out_msgs, in_bytes, out_bytes, slow_consumers;
    uint64_t connections, total_connections, subscriptions;
    uint64_t sl_inserts, sl_removes, sl_matches, sl_cache_hits;
};

/* Ask every shard; wait at most timeout_ms. 0, or -ETIMEDOUT (answers that
 * arrive later are freed by the shard... never: the asker must keep q alive
 * until pending reaches 0, which server_query does by waiting it out). */
int server_query(struct server *s, struct query *q, int timeout_ms);
void query_free(struct query *q);
void conn_snap_free(struct conn_snap *c);
void server_stats(struct server *s, struct server_stats *st);
/* One account's traffic, summed over the shards (acc_stats in shard.h). */
struct acc_totals {
    uint64_t in_msgs, in_bytes, out_msgs, out_bytes, slow_consumers;
};
struct account;
void account_totals(struct server *s, const struct account *a, struct acc_totals *t);
int64_t server_unix_ns(const struct server *s, int64_t mono_ms); /* shard ms clock to Unix ns */

struct shard;
void shard_answer_query(struct shard *sh);                 /* at the start of a turn */
struct conn;
void shard_record_closed(struct shard *sh, struct conn *c); /* at the final close of a client */
void shard_closed_free(struct shard *sh);
#endif
