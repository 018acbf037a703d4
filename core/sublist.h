/* The shared subject index (nats-compat.md §2), one per account.
 *
 * Threads: any shard reads (sublist_match) without taking a lock and without
 * writing shared memory; writers (sublist_insert/remove) are serialized by
 * sl->wlock. Every caller must be a registered liburcu-QSBR reader thread
 * and online. Removed nodes and arrays are freed with call_rcu() once every
 * shard has passed a quiescent state.
 *
 * Shape: a trie whose literal edges live in one RCU lock-free hash table
 * (liburcu's cds_lfht) keyed by (parent node, token); the '*' and '>'
 * children hang off each node directly. A node's plain subscribers and its
 * queue groups are immutable arrays replaced copy-on-write. Each change bumps
 * sl->gen; shards keep a match cache (struct match_cache) whose entries are
 * valid only for the generation they were built in. */
#ifndef GANNET_SUBLIST_H
#define GANNET_SUBLIST_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define _LGPL_SOURCE
#include <urcu-qsbr.h>

#include "tsan.h"

/* A reader's quiescent state and going offline, with the happens-before
 * ThreadSanitizer needs to see (tsan.h); callbacks run after a grace period
 * start with TSAN_GRACE_ACQUIRE(). */
static inline void gannet_quiescent(void)
{
    TSAN_GRACE_RELEASE();
    rcu_quiescent_state();
}
static inline void gannet_offline(void)
{
    TSAN_GRACE_RELEASE();
    rcu_thread_offline();
}

struct account;
struct conn;
struct shard;

/* A subscription. Fields above `owner-only` are immutable once inserted and
 * may be read by any shard under RCU; the rest belong to the owning shard. */
struct sub {
    struct conn *conn;   /* owner; dereferenced only by the owner shard */
    struct shard *owner; /* owner shard: where deliveries go */
    struct account *acc; /* whose index it is in */
    uint16_t shard;      /* owner shard id */
    bool route;          /* a route's interest (RS+): not local, never sent on to routes */
    _Atomic int32_t weight; /* a route's queue interest: its members there (RS+ ... <weight>) */
    uint32_t qlen;       /* queue name length, 0 = plain subscription */
    uint32_t sid_len;
    uint32_t subj_len;
    const char *subject; /* the strings live in `str` */
    const char *queue;
    const char *sid;
    /* owner-only */
    uint64_t delivered;  /* messages delivered (UNSUB max) */
    uint64_t max;        /* auto-unsubscribe after this many, 0 = none */
    bool removed;        /* unsubscribed: drop deliveries still in flight */
    struct sub *zombie_next;
    struct rcu_head rcu;
    char str[];          /* subject\0queue\0sid\0 */
};

struct snode;
struct match_cache;
#define SUBLIST_MAX_CACHES 64      /* match caches told of changes: one per shard (MAX_SHARDS) */

struct sublist {
    struct snode *root;
    struct cds_lfht *edges;
    pthread_mutex_t wlock;       /* serializes writers */
    _Atomic uint64_t gen;        /* bumped after every insert/remove */
    _Atomic uint64_t count;      /* subscriptions in the index */
    _Atomic uint64_t inserts, removes;
    struct match_cache *caches[SUBLIST_MAX_CACHES]; /* told of every change (writers, under wlock) */
    uint32_t ncaches;
};

struct match_group {
    const char *name;
    uint32_t nlen, n, cap;
    uint32_t nroute;     /* members that are routes' queue interest (weighted picks) */
    struct sub **members;
};

/* What a publish subject matched: every plain subscriber, and each queue
 * group (merged by name across patterns) with all of its members. */
struct match_result {
    uint32_t npsubs, pcap, ngroups, gcap;
    struct sub **psubs;
    struct match_group *groups;
};

int sublist_init(struct sublist *sl);
void sublist_destroy(struct sublist *sl); /* at exit, no readers left */
int sublist_insert(struct sublist *sl, struct sub *s);
int sublist_remove(struct sublist *sl, struct sub *s); /* -ENOENT if absent */
/* The same for n subscriptions under one acquisition of the writers' lock
 * (a burst of SUBs, a closing connection's subscriptions); rc[i] is each
 * one's result. */
void sublist_insert_many(struct sublist *sl, struct sub *const *v, uint32_t n, int *rc);
void sublist_remove_many(struct sublist *sl, struct sub *const *v, uint32_t n, int *rc);
/* Local (non-route) subscriptions on exactly subj (a pattern, as
 * subscribed), plain ones (queue NULL) or in that queue group: what a
 * route is told (RS+/RS-). Any RCU reader. */
uint32_t sublist_count_local(struct sublist *sl, const char *subj, size_t len, const char *queue, size_t qlen);
/* Fill r (reset first) with the matches of a literal subject. */
void sublist_match(struct sublist *sl, const char *subj, size_t len, struct match_result *r);
void match_result_reset(struct match_result *r);
void match_result_free(struct match_result *r);

/* A per-shard, direct-mapped cache of match results keyed by xxhash of the
 * subject (one cache per shard and account, so keyed by (account, subject)).
 *
 * Invalidation is selective, as nats-server's sublist cache: a cache
 * registered with its sublist (sublist_register_cache, before the shards
 * start) is sent the subject of every subscription inserted or removed, and
 * drops only the cached subjects it matches: a literal one its own entry, a
 * wildcard the entries it matches. A writer sends after changing the index
 * and before bumping sl->gen; the owner applies what it was sent whenever
 * it sees gen move (and each turn), so an entry built before a change is
 * always dropped, and one built after it is right. More than
 * INVAL_PENDING_MAX unapplied changes, or a record that cannot be
 * allocated, make the owner drop everything instead. An unregistered cache
 * (unit tests) drops everything on any change. */
#define MATCH_CACHE_SLOTS 1024
#define INVAL_PENDING_MAX 1024
struct match_cache_entry {
    uint64_t hash, gen;
    char *subj;
    uint32_t len;
    bool valid;
    struct match_result res;
};
struct inval {                       /* one changed subscription's subject */
    struct inval *next;
    uint32_t len;
    bool wild;                       /* contains '*' or '>' */
    char subj[];
};
struct match_cache {
    struct match_cache_entry *e;     /* MATCH_CACHE_SLOTS of them, allocated at the first lookup (an
                                      * account nobody publishes in on this shard costs no entries) */
    uint64_t hits, misses;
    /* selective invalidation: writers push (under the sublist's lock), the owner takes */
    bool registered;
    _Atomic(struct inval *) pending; /* newest first */
    _Atomic uint32_t npending;
    _Atomic int overflow;            /* too many or no memory: drop everything */
    uint64_t applied;                /* sl->gen whose changes are all applied */
    uint64_t dropped;                /* entries invalidated selectively (tests, /subsz) */
};
/* Register c (owned by one shard) to be told of sl's changes. Before the
 * shards start; at most SUBLIST_MAX_CACHES per sublist. */
int sublist_register_cache(struct sublist *sl, struct match_cache *c);
/* The owner: apply the changes sent so far (also done by lookups). */
void match_cache_sync(struct sublist *sl, struct match_cache *c);
/* The result stays valid until the caller's next quiescent state. */
const struct match_result *match_cached(struct sublist *sl, struct match_cache *c, const char *subj, size_t len);
/* The same, trying *hint (the entry this caller used last, or NULL) before
 * hashing; *hint is set to the entry used. Entries live as long as the
 * cache, so a hint never dangles; a stale one just misses. */
const struct match_result *match_cached_hint(struct sublist *sl, struct match_cache *c, const char *subj, size_t len,
                                             struct match_cache_entry **hint);
void match_cache_free(struct match_cache *c);

/* Build a subscription object (subject/queue/sid copied). */
struct sub *sub_new(const char *subj, size_t slen, const char *queue, size_t qlen, const char *sid, size_t sidlen);
#endif
