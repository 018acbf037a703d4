/* Cluster routes (nats-compat.md §3; docs/design.md §22): the route
 * listener, explicit and implicit (gossiped) routes, the INFO/CONNECT
 * handshake, interest (RS+/RS-) both ways and messages (RMSG/HMSG) both
 * ways, one hop.
 *
 * Where things live:
 *   - Shard 0 accepts on the route port and dials, and owns everything
 *     about the cluster that changes: the registered routes, the targets
 *     it dials, the interest it has advertised, the cluster name once
 *     adopted. A route that registers is handed over to the shard with the
 *     fewest routes (shard_handover), so a pool's connections run on
 *     several cores; shard 0 keeps a stand-in for it (a "ghost": its route
 *     state, no socket) in the registry, and what it would write to it or
 *     close goes as SC_ROUTE_CTL to the owner, which tells shard 0 of the
 *     route's later INFOs and of its end with SC_ROUTE_UP.
 *   - A route's interest is subscriptions in the accounts' indexes owned by
 *     the route connection (sub->route, sid "acc subj [queue]" as /routez
 *     shows it), so a publish on any shard matches them like any subscriber
 *     and the mailbox carries them to the route's shard, which writes one
 *     RMSG per route connection and message (route_collect,
 *     route_flush_msg).
 *   - Local interest changes reach every shard as notes (account, subject,
 *     queue) posted once per turn by the shard that changed the index,
 *     before that turn's messages. Each shard re-derives the count from the
 *     index and compares it with what it advertised to the routes it owns
 *     (a table per shard: its routes are told the same), so RS+/RS-
 *     converge whatever order the notes arrive in, and precede the
 *     messages published after the SUB; a route that starts on a shard is
 *     sent that shard's whole table.
 *
 * Threads: route_init/route_free on the control thread; route_note and
 * route_notes_flush on any shard (its own turn); route_client_urls on any
 * shard (RCU); route_varz/route_connect_urls on the monitor (a mutex); the
 * connection hooks and the message path on the route's owner; the rest on
 * shard 0. */
#ifndef GANNET_ROUTE_H
#define GANNET_ROUTE_H
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

/* The control thread, before the shards start: parse the routes, open the
 * listener. 0 (also when no cluster is configured), or -1 (logged). */
int route_init(struct server *s, const struct opts *o);
void route_free(struct server *s);
/* Shard 0, before its loop: dial the explicit routes. */
void route_shard_start(struct shard *sh);
int route_listen_fd(const struct server *s); /* -1: none */

/* Connection hooks (conn.c), on shard 0 */
void route_start(struct conn *c);         /* accepted or dialled: INFO (and CONNECT when we dialled) */
int route_tls_ready(struct conn *c);      /* its TLS handshake is done: what route_start would have sent */
int route_dispatch(struct conn *c, const struct proto_msg *m); /* a route's op; as conn.c's dispatch */
void route_closed(struct conn *c);        /* at conn_close: deregister, redial */
void route_release(struct conn *c);       /* at the final release */
void route_send_ldm(struct conn *c);      /* lame duck: tell the peer ("ldm":true) */
void route_dial_failed(struct shard *sh, int32_t tag); /* a dialer gave up */
void route_auth_done(struct conn *c, bool ok);            /* an auth worker checked its bcrypt password */
/* Handing a registered route over (shard.c): on shard 0 as it leaves (a
 * stand-in takes its place; -1: no memory), on the new owner as it lands. */
int route_moving(struct conn *c, int to);
int route_adopted(struct conn *c);
struct shard_cmd;
void route_cmd_in(struct shard *sh, const struct shard_cmd *cmd); /* SC_ROUTE_CTL, SC_ROUTE_UP (takes buf) */
void route_shard_ldm(struct shard *sh); /* lame duck, shard 0: tell the routes it handed over */
/* Shard 0, answering Q_ROUTES: the stand-ins of routes handed over and not
 * landed yet (at most max), so that /routez does not miss them meanwhile. */
uint32_t route_in_transit(struct shard *sh, struct conn **out, uint32_t max);
#define ROUTE_MAX_PING_MS 30000 /* nats-server 2.10's defaultRouteMaxPingInterval */
bool route_follows_rtt(const struct conn *c); /* compressing with s2_auto: its pings measure the RTT */

/* The message path (shard.c, conn.c) */
void route_collect(struct shard *sh, struct sub *s); /* a delivery to a route's subscription: gathered */
void route_flush_msg(struct shard *sh, const struct msgview *m); /* one RMSG per route for the gathered ones */

/* Interest notes: a local subscription entered or left the index. */
void route_note(struct shard *sh, const struct sub *s);
void route_notes_flush(struct shard *sh); /* end of a turn: this turn's notes to shard 0 */
void route_notes_in(struct shard *sh, char *buf, uint32_t len); /* shard 0: another shard's notes (takes buf) */

/* The client INFO's `,"cluster":...,"connect_urls":[...]` ("" when no cluster); RCU reader. */
const char *route_client_info(struct server *s);

/* Monitoring (any thread) */
void route_varz(struct server *s, struct jw *w);        /* the /varz "cluster" object */
void route_varz_urls(struct server *s, struct jw *w);   /* the /varz "connect_urls" (none: nothing) */
int route_count(const struct server *s);                /* registered routes */
struct conn_snap;
/* Shard 0, answering Q_ROUTES: is c a registered route? If so, fill in o's route fields (o: NULL to ask only). */
bool route_snap(struct conn *c, struct conn_snap *o);
#endif
