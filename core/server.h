/* The server object: options, shards, the account's subject index, identity,
 * and the counters the control thread reads. Created by main (the control
 * thread); shards hold a pointer to it and read only its immutable fields,
 * the subject index and the atomics. */
#ifndef GANNET_SERVER_H
#define GANNET_SERVER_H
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "mailbox.h"
#include "opts.h"
#include "account.h"
#include "resp.h"
#include "sublist.h"

#define MAX_SHARDS 64

struct shard;

/* What the control thread publishes and a reload replaces: immutable once
 * published (architecture.md rule 4). Shards load the pointer at the start
 * of each loop turn; the old one is freed after an RCU grace period. */
struct srvconf {
    struct opts *o;
    char *info_head;           /* client INFO up to and including "max_payload":N, */
    size_t info_head_len;
    uint64_t gen;
    bool auth_changed;         /* vs. the previous one: shards re-check their clients */
};

struct server {
    const struct opts *opts;   /* the options at start (the first srvconf's) */
    pthread_mutex_t tls_rate_mu; /* tls connection_rate_limit: the window and its count (any shard) */
    int64_t tls_rate_end_ns, tls_rate_count;
    _Atomic(struct srvconf *) conf;
    int nshards;
    struct shard **shards;
    struct xlink *mbox;        /* nshards*nshards links: mbox[from*nshards+to] */
    struct account *acc;       /* every account, by id: $G (0), the system account, the configured ones */
    int naccounts;
    struct resp_table resp;    /* service-import responses (resp.h) */
    struct authw *authw;       /* bcrypt checks off the shards (authw.h) */
    struct account *gacc, *sacc;
    char server_id[57];        /* nkey-style public key, 56 chars */
    int port;                  /* the port actually bound */
    int listen_ctl[MAX_SHARDS]; /* the control thread's dup of each shard's listener (lame duck) */
    _Atomic uint64_t next_cid;
    _Atomic int32_t nclients;  /* open client connections (max_connections) */
    _Atomic uint64_t total_conns;
    _Atomic int stopping;
    _Atomic int64_t ldm_start_ms;  /* lame duck mode entered at (0 = no) */
    int64_t start_ms;          /* monotonic ms at start */
    int64_t start_unix_ns;     /* wall clock at start: shard ms clocks convert through it */
    void *monitor;             /* the monitoring server, owned by monitor/monitor.c */
    uint32_t topz_one_in;      /* /topz sampling: one published message in this many (0: off) */
    int64_t spin_ns;           /* longest poll for more work before a shard sleeps (0: never spin) */
    int64_t spin_pct;          /* spin budget: % of the shard's busy time */
    bool handover_test;        /* GANNET_HANDOVER_TEST: clients change shards after CONNECT */
    /* the system account's events and requests (core/events.h, monitor/sysreq.h) */
    _Atomic uint64_t sys_seq;  /* "seq" of the ServerInfo in every system message */
    _Atomic int sys_last_sent; /* shard 0 published the SHUTDOWN event */
    struct sysw *sysw;         /* the thread that answers $SYS.REQ requests (NULL: no system account) */
    pthread_mutex_t query_mu;  /* one server_query at a time (the monitor and sysw both ask) */
    struct cluster *cluster;   /* routes (cluster/route.h); NULL: no cluster configured */
};

int server_init(struct server *s, const struct opts *o);
int server_run(struct server *s);   /* start shards, wait for a stop signal, shut down */
void server_free(struct server *s);
int64_t now_ms(void);               /* CLOCK_MONOTONIC milliseconds */
int64_t now_ns(void);               /* CLOCK_MONOTONIC nanoseconds */
/* nats-server's rateCounter for connection_rate_limit: at most limit TLS
 * connections per second, counted in a window that starts with the first. */
bool server_tls_rate_allow(struct server *s, int64_t limit);
#endif
