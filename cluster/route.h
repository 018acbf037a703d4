/* Cluster routes (nats-compat.md §3; docs/design.md §22): the route
 * listener, explicit and implicit (gossiped) routes, the INFO/CONNECT
 * handshake, interest (RS+/RS-) both ways and messages (RMSG/HMSG) both
 * ways, one hop.
 *
 * Where things live:
 *   - Every route connection is owned by shard 0 (it accepts on the route
 *     port and dials), and so is everything about the cluster that changes:
 *     the registered routes, what each was told (its advertised interest),
 *     the cluster name once adopted. Pooling over shards is issue 12's.
 *   - A route's interest is subscriptions in the accounts' indexes owned by
 *     the route connection (sub->route), so a publish on any shard matches
 *     them like any subscriber and the mailbox carries them to shard 0,
 *     which writes one RMSG per route connection and message.
 *   - Local interest changes reach shard 0 as notes (account, subject,
 *     queue) posted once per turn by the shard that changed the index;
 *     shard 0 re-derives the count from the index and tells each route what
 *     differs from what it told it before. The notes carry no +/- and may
 *     arrive in any order: the index is the truth, so RS+/RS- converge.
 *
 * Threads: route_init/route_free on the control thread; the rest on shard
 * 0, except route_note (any shard, its own turn), route_client_urls (any
 * shard, RCU) and the monitor's reads of published figures. */
#ifndef GANNET_ROUTE_H
#define GANNET_ROUTE_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct server;
struct shard;
struct conn;
struct sub;
struct msgview;
struct proto_msg;
struct opts;
struct jw;

/* An explicit route of the configuration, parsed. */
struct route_url {
    char *url;                 /* as configured */
    char *user, *pass;         /* its userinfo, for our CONNECT */
    char host[256];
    int port;
};

struct cluster {
    struct route_url *urls;
    int nurls;
    int listen_fd;             /* the route listener (shard 0 accepts on it); -1: none */
    int port;                  /* the route port as bound */
    char *host;                /* the route listen address */
    _Atomic int nregistered;   /* routes that completed the handshake (any thread reads) */
    _Atomic(char *) client_urls; /* `,"connect_urls":[...]` for client INFO (RCU: old ones freed after a grace period) */
    /* shard 0 only */
    char name[256];            /* the cluster name (a dynamic one may be replaced by a peer's) */
    bool dynamic;
    struct conn **routes;      /* registered routes */
    uint32_t nroutes, cap;
    struct rnote *pending, **pending_tail; /* interest notes not processed yet (a budget per turn) */
};

/* The control thread, before the shards start: parse routes, open the
 * listener. 0, or -errno (logged as nats-server logs it). */
int route_init(struct server *s, const struct opts *o);
void route_free(struct server *s);
/* Shard 0, at its start: arm nothing (the shard arms the accept), dial the explicit routes. */
void route_shard_start(struct shard *sh);

/* Connection hooks (conn.c), on the route's shard */
void route_start(struct conn *c);         /* accepted or dialled: INFO (and CONNECT when we dialled) */
int route_dispatch(struct conn *c, const struct proto_msg *m); /* a route's op; as conn.c's dispatch */
void route_closed(struct conn *c);        /* at conn_close: deregister, take its interest out, redial */
void route_release(struct conn *c);       /* at the final release */

/* The message path (shard.c) */
void route_collect(struct shard *sh, struct sub *s); /* a delivery to a route's subscription: gathered */
void route_flush_msg(struct shard *sh, const struct msgview *m); /* one RMSG per route for the gathered ones */
/* Is queue group q among those the routed message being processed names? */
bool route_queue_listed(const struct shard *sh, const char *q, uint32_t qlen);

/* Interest notes: a local subscription entered or left the index. */
void route_note(struct shard *sh, const struct sub *s);
void route_notes_flush(struct shard *sh); /* end of a turn: post this turn's notes to shard 0 */
void route_tick(struct shard *sh);        /* shard 0, each turn: process notes within a budget */
void route_sync_shard(struct shard *sh);  /* SC_ROUTE_SYNC: note every local subscription this shard holds */

/* The client INFO's connect_urls member ("" when none); RCU reader. */
const char *route_client_urls(struct server *s);

/* Monitoring */
void route_varz(struct server *s, struct jw *w);   /* the /varz "cluster" object */
#endif
