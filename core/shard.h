/* A shard: one thread, one io_uring ring, one SO_REUSEPORT listener and the
 * connections it accepted (architecture.md). Everything in struct shard is
 * owned by the shard's thread except: `sleeping` and `zombies` (atomics other
 * threads write), and the counters (owner stores, others load relaxed). */
#ifndef GANNET_SHARD_H
#define GANNET_SHARD_H
#include <liburing.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"
#include "events.h"
#include "mailbox.h"
#include "query.h"
#include "server.h"
#include "sublist.h"
#include "topz.h"
#include "uring.h"

/* user_data: | gen:32 | slot:24 | op:8 | */
enum ud_op { UD_ACCEPT = 1, UD_RECV, UD_SEND, UD_DOORBELL, UD_CANCEL, UD_IGNORE, UD_QUERY_WAKE, UD_CONNECT };
#define UD(op, slot, gen) (((uint64_t)(gen) << 32) | ((uint64_t)(slot) << 8) | (uint64_t)(op))

/* A command from another thread (the control thread) to a shard, carried
 * out at the start of the shard's next turn, in the order posted. */
enum shard_cmd_type {
    SC_LAME_DUCK,              /* stop accepting; tell clients (INFO "ldm":true) */
    SC_CLOSE_CLIENTS,          /* lame duck pacing: close n of its clients */
    SC_DIAL,                   /* open an outbound connection (struct dial_spec) */
    SC_ADOPT,                  /* take over a connection another shard handed over (shard_handover) */
    SC_AUTH_DONE,              /* an auth worker checked a connection's bcrypt password (authw.h) */
    SC_SYS_PUB,                /* publish a message of the server's (events.h struct sys_msg) */
    SC_ROUTE_NOTES,            /* shard 0: another shard's interest notes (buf, buf_len; cluster/route.h) */
    SC_CLIENT_INFO,            /* the cluster's client URLs changed: INFO to the clients */
    SC_ROUTE_CTL,              /* to a route's shard, from shard 0: write, close (route, cid, op, buf) */
    SC_ROUTE_UP,               /* to shard 0, from a route's shard: its INFO, its end (route, cid, op, buf) */
};

/* An outbound connection to make: where, as what kind, how hard to try.
 * The address is resolved by the poster (a shard never blocks on DNS). */
struct dial_spec {
    struct sockaddr_storage addr;
    socklen_t alen;
    enum conn_kind kind;
    int64_t timeout_ms;        /* each attempt's connect timeout */
    int64_t backoff_ms, backoff_max_ms; /* delay before the 2nd attempt, doubling up to the max */
    int max_attempts;          /* 0: until it connects or the server stops */
    int64_t first_delay_ms;    /* before the first attempt */
    int32_t tag;               /* the connection's dial_tag (what it is for, to its kind's module) */
};

struct shard_cmd {
    struct shard_cmd *next;
    enum shard_cmd_type type;
    int32_t n;                 /* SC_CLOSE_CLIENTS */
    struct dial_spec dial;     /* SC_DIAL */
    struct conn *conn;         /* SC_ADOPT: a malloc'ed copy of the connection, fd and all */
    struct {
        uint32_t slot, gen;    /* the connection */
        bool ok;
        char *hash;            /* the hash it was checked against (the shard frees it) */
    } auth;                    /* SC_AUTH_DONE */
    struct sys_msg *sys;       /* SC_SYS_PUB (the shard frees it) */
    char *buf;                 /* SC_ROUTE_NOTES, SC_ROUTE_CTL, SC_ROUTE_UP (the shard frees it) */
    uint32_t buf_len;
    struct {
        uint64_t cid;          /* the route connection */
        int32_t op;            /* what to do (cluster/route.c's enum rcmd) */
        int32_t arg;           /* a close reason; flags */
    } route;                   /* SC_ROUTE_CTL, SC_ROUTE_UP */
};

/* An outbound connection being made: not a struct conn until it connects. */
struct dialer {
    struct dial_spec spec;
    uint32_t gen;              /* user_data identity, as a connection's */
    int fd;                    /* -1 between attempts */
    int attempts;
    int64_t delay_ms;          /* before the next attempt */
    int64_t next_ms;           /* when the next attempt starts (in flight: INT64_MAX) */
    struct __kernel_timespec ts; /* the attempt's link timeout (must live while it is in flight) */
    char where[64];            /* host:port, for the log */
};

/* What delivering one message ran into: a consumer above half its
 * max_pending (its producer waits for it), links over their budget, or an
 * allocation failure. Reset before each message, read after it. */
struct stall_note {
    struct conn *consumer;     /* stalled consumer of this shard (the fullest one hit) */
    uint64_t links;            /* bit d: the link to shard d is over budget */
    bool oom;                  /* something could not be allocated: close the producer */
};

/* Where processing one source shard's link stands (receiver side). */
struct xin {
    struct park park;          /* PARK_XIN: parked on a stalled consumer */
    struct xbatch *cur;        /* batch being processed (the link's head), NULL between batches */
    uint32_t off;              /* next record in cur */
    uint64_t done_batches;     /* batches fully processed */
};

/* Zombie subscriptions taken while some link was parked: they may be freed
 * once each such link has processed every batch pushed before they were
 * taken (target[s]; UINT64_MAX for links that were not parked). */
struct zgroup {
    struct zgroup *next;
    struct sub *subs;
    uint64_t target[];
};

struct target_list {           /* remote subscriptions of one message, per shard */
    struct sub **v;
    uint32_t n, cap;
};

struct shard {
    int id;
    struct server *srv;
    pthread_t thread;
    sem_t started;             /* posted by the thread once its ring is enabled (or failed: start_rc) */
    int start_rc;
    bool thread_joined;
    struct uring u;            /* its ring and provided receive buffers (net/uring.h) */
    int listen_fd;
    bool accept_armed;


    /* connections by slot; free slots chained through a stack */
    struct conn **slots;
    uint32_t nslots, *free_slots, nfree;
    struct conn *conns;        /* list of live connections */
    struct conn *flush_head;   /* connections with output to send this turn */

    /* per-shard pools (rule 2: no malloc storms on the message path) */
    struct conn *conn_pool;    /* freed connection objects, chained through next */
    uint32_t conn_pool_n;
    struct oblock *oblock_pool; /* free OBLOCK_SIZE output blocks */
    uint32_t oblock_pool_n;

    /* cross-shard delivery */
    struct xbatch **open;      /* per destination: batch being filled this turn */
    struct target_list *tgt;   /* per destination: scratch for one message */
    uint32_t remote_targets;   /* entries in tgt for the message being routed */
    struct xin *xin;           /* per source shard: where its link's processing stands */
    _Atomic int sleeping;      /* set while blocked in io_uring_enter: ring the doorbell */
    _Atomic(struct sub *) zombies; /* unsubscribed subs past their grace period (pushed by call_rcu) */
    struct zgroup *zheld, **zheld_tail; /* zombies a parked link may still name, oldest first */

    /* flow control (docs/design.md §11) */
    struct park *parked;       /* inputs (connections, links) not being consumed */
    uint32_t nparked;
    bool park_check;           /* a consumer drained or a link's budget may have freed: re-check */
    struct stall_note note;    /* what the message being processed ran into */
    struct conn *retry_recv;   /* connections whose recv could not be armed (no SQE), chained by retry_next */
    bool retry_query;          /* the query read could not be armed */
    struct dialer **dialers;   /* outbound connections being made, by slot (NULL: free) */
    uint32_t ndialers;
    bool have_dialers;
    uint64_t retry_bells;      /* doorbells that could not be rung (no SQE) */
    struct sub *unsub_new;     /* unsubscribed this turn: leave the index before the next match or at the turn's end */
    struct sub *unsub_retry;   /* their removal failed (no memory): tried again each turn */
    struct sub **idx_ins;      /* subscribed this turn, not in the index yet (shard_index_add) */
    uint32_t idx_nins, idx_cap;
    struct sub **idx_tmp;      /* scratch for one account's part of a batch */
    int *idx_rc;
    uint32_t idx_tmp_cap;

    struct srvconf *conf;      /* the published configuration, loaded each turn */
    bool ldm_seen;             /* SC_LAME_DUCK done: the listener is closed */
    _Atomic int32_t nclients;  /* its open client connections (lame duck pacing) */
    _Atomic int32_t nroutes;   /* the registered routes it owns (nrconn, for /shardz) */
    _Atomic(struct shard_cmd *) cmds; /* commands posted by other threads, newest first (shard_post) */

    char *map_buf;             /* a mapped subject (account_map) */
    size_t map_cap;
    struct svc_resp *resp_list;    /* service-import response entries it made (resp.h) */
    struct svc_resp **resp_cursor; /* where the next sweep resumes */
    struct match_cache *cache; /* per account id: results keyed by (account, subject) */
    struct acc_stats *astats;  /* per account id: its clients' traffic through this shard */
    /* the system account (core/events.h) */
    struct conn *sysc;         /* internal client (NULL: no system account) */
    struct sub *sys_subs[8];   /* shard 0: the $SYS.REQ subscriptions */
    uint32_t nsys_subs;
    struct sys_msg *sys_out, **sys_out_tail; /* events of this turn, published by sys_flush */
    _Atomic uint64_t cache_lookups, cache_hits; /* published copies of cache.hits/misses for /subsz */
    /* routes (cluster/route.h) */
    bool raccept_armed;        /* shard 0: the route listener's accept */
    char *rn_buf;              /* this turn's interest notes */
    uint32_t rn_len, rn_cap;
    struct sub **rcol;         /* route subscriptions the message being delivered is for */
    uint32_t rcol_n, rcol_cap;
    struct conn **rconn;       /* the registered routes handed over to this shard (SC_ROUTE_CTL finds them) */
    uint32_t nrconn, rconn_cap;

    _Atomic(struct query *) query; /* a question from the monitor, answered at the next turn */
    int query_fd;              /* eventfd other threads write to wake the shard (queries, commands) */
    uint64_t query_buf;
    struct conn_snap *closed;  /* ring of recently closed connections (owner only) */
    uint32_t closed_cap, closed_head, closed_n;
    uint64_t rng;
    int64_t now;               /* ms, refreshed each loop turn */
    bool busy;                 /* the last turn handled completions: spin briefly before sleeping */
    int64_t spin_tokens;       /* ns of spinning earned by work and not yet spent (spin_for_work) */
    int64_t woke_ns;           /* when the current turn began */
    int64_t next_tick;         /* next periodic work (topz windows, the wheel's advance at the latest) */
    struct twheel wheel;       /* connection timers */

    struct topz topz;          /* sampled per-subject traffic (/topz) */

    /* counters (/varz, /shardz, /metrics): owner stores with STAT_ADD */
    _Atomic uint64_t in_msgs, out_msgs, in_bytes, out_bytes, slow_consumers;
    _Atomic uint64_t stalls;   /* inputs parked for flow control (a connection's or a link's) */
    _Atomic int64_t nsubs;     /* subscriptions of its clients */
    _Atomic uint64_t loop_turns, sleeps, completions; /* loop turns; turns that blocked; CQEs handled */
    _Atomic uint64_t mbox_sent, mbox_received, doorbells; /* cross-shard records out/in; MSG_RING wake-ups */
    _Atomic uint64_t idle_ns;  /* time spent spinning or blocked for lack of work */
};

/* One account's traffic through one shard (/accstatz, $SYS events,
 * gannet_account_* metrics): owner stores, others load relaxed. */
struct acc_stats {
    _Atomic uint64_t in_msgs, in_bytes, out_msgs, out_bytes, slow_consumers;
};

/* A counter only its owner shard writes: a plain add, published for
 * relaxed readers (no locked instruction on the hot path). */
#define STAT_ADD(sh, field, v)                                                                              \
    atomic_store_explicit(&(sh)->field, atomic_load_explicit(&(sh)->field, memory_order_relaxed) + (v),     \
                          memory_order_relaxed)

#define SPIN_DEFAULT_US 50     /* longest spin; see spin_for_work() */
#define SPIN_DEFAULT_PCT 300   /* spinning may cost up to this % of the busy time */

int shard_create(struct server *srv, int id, struct shard **out);
int shard_start(struct shard *sh);
void shard_join(struct shard *sh);
void shard_destroy(struct shard *sh);
int listener_open(const char *host, int port, int *bound_port); /* SO_REUSEPORT listener; fd or -errno */
void shard_wake_for_query(struct shard *sh); /* any thread, after posting sh->query */
/* Any thread but the shard's: hand it cmd (malloc'ed; the shard frees it)
 * and wake it. */
void shard_post(struct shard *sh, struct shard_cmd *cmd);
int shard_post_simple(struct shard *sh, enum shard_cmd_type type, int32_t n); /* 0 or -ENOMEM */
int shard_post_dial(struct shard *sh, const struct dial_spec *spec);          /* 0 or -ENOMEM */
void shard_dial(struct shard *sh, const struct dial_spec *spec);             /* the owner shard itself */

/* Message path, called by conn.c on the owner shard */
void shard_publish(struct shard *sh, struct conn *from, const struct msgview *m, uint32_t *ndeliv);
/* A message from a route (shard 0): local subscribers only, queue groups
 * only those named (one local member each). */
struct pview;
void shard_route_publish(struct shard *sh, struct account *acc, const struct msgview *m, const struct pview *queues,
                         uint32_t nq);
void shard_retire_sub(struct shard *sh, struct sub *s); /* after sublist_remove: free once safe */
void shard_unsub_later(struct shard *sh, struct sub *s); /* marked removed; leaves the index at the turn's end */
int shard_index_add(struct shard *sh, struct sub *s);    /* a new sub: into the index before the next match */
void shard_index_flush(struct shard *sh);                /* apply the batched index writes now */
bool shard_arm_send(struct shard *sh, struct conn *c); /* false: the transport had nothing to write */
void shard_cancel_recv(struct shard *sh, struct conn *c);
/* Hand c over to shard `to` (docs/design.md §17): its input stops after
 * the op being processed (the rest waits in c->inq), its output drains,
 * then the connection, fd and unread input included, moves. Only a
 * connection without subscriptions, not closing, parked or stalled:
 * 0, or -EBUSY / -EINVAL (bad shard). */
int shard_handover(struct shard *sh, struct conn *c, int to);
/* Flow control, owner shard only (docs/design.md §11) */
void shard_note_delivery(struct shard *sh, struct conn *c);  /* c just queued output: stalled? */
void shard_unstalled(struct shard *sh);                      /* a consumer drained: re-check parked inputs */
void shard_park_conn(struct shard *sh, struct conn *c);      /* park c per sh->note */
void shard_unpark(struct shard *sh, struct park *p);         /* take p off the parked list */
uint64_t shard_rand(struct shard *sh);
struct oblock *shard_oblock_get(struct shard *sh, size_t need); /* from the pool when need <= OBLOCK_SIZE */
void shard_oblock_put(struct shard *sh, struct oblock *b);
#endif
