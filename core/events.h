/* The system account on the shards (nats-compat.md §6.5, docs/design.md §21).
 *
 * Each shard has an internal client, `sh->sysc`: a struct conn with no
 * socket, bound to the system account, through which the shard publishes
 * the server's events (client CONNECT/DISCONNECT, account connection
 * counts, authentication errors) and the answers sysw (monitor/sysreq.h)
 * computed. Shard 0's internal client also holds the subscriptions to the
 * `$SYS.REQ.` subjects the server answers; a message delivered to one of
 * them is not written anywhere but copied to sysw's queue.
 *
 * Events are built when they happen but published at a safe point of the
 * turn (sys_flush): a connection may close in the middle of another
 * message's delivery, and a publish must not start inside another. An
 * event nobody listens to costs one match-cache lookup, no JSON.
 *
 * Threads: everything here runs on the shard that owns the connection,
 * except sys_post (any thread but the shard's). */
#ifndef GANNET_EVENTS_H
#define GANNET_EVENTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;
struct conn;
struct sub;
struct msgview;
struct account;
struct server;

/* A message to publish in an account from inside the server. */
struct sys_msg {
    struct sys_msg *next;
    struct account *acc;       /* the system account, unless an answer goes elsewhere */
    char *subj, *reply;        /* reply NULL: none */
    char *body;
    size_t len;
    bool last;                 /* the SHUTDOWN event: say when it is out (srv->sys_last_sent) */
};

int sys_shard_init(struct shard *sh);   /* the internal client; shard 0: the request subscriptions */
void sys_shard_fini(struct shard *sh);  /* before the shard's last turn ends */
void sys_shard_free(struct shard *sh);  /* shard_destroy */
void sys_flush(struct shard *sh);       /* publish the events of this turn */
void sys_msg_free(struct sys_msg *m);

/* The connection events, as nats-server 2.9.10 sends them. */
void sys_event_connect(struct conn *c);     /* a client's CONNECT was accepted */
void sys_event_close(struct conn *c);       /* it closed (a connected client: DISCONNECT) */
void sys_event_auth_error(struct conn *c);  /* its credentials were refused */
void sys_event_account_conns(struct shard *sh, struct account *a); /* a's connection count changed */

/* A delivery to shard 0's internal client: queue it for sysw. */
void sys_deliver(struct shard *sh, struct sub *s, const struct msgview *m);
/* Any thread: have shard `to` publish m (taken). */
void sys_post(struct server *srv, int to, struct sys_msg *m);
/* The SC_SYS_PUB command on the shard. */
void sys_publish_now(struct shard *sh, struct sys_msg *m);

/* The ServerInfo object every system message carries ("server": {...}),
 * written as a JSON member with key (seq taken from the server's counter). */
struct jw;
void sys_server_info(struct server *srv, struct jw *w, const char *key);
/* An AccountNumConns message about a (sysw answers $SYS.REQ.ACCOUNT.<a>.CONNS with it too). */
void sys_account_conns_json(struct server *srv, struct account *a, struct jw *w, const char *id, int64_t ts);
/* A 22-character event id, as nats-server's nuid. */
void sys_event_id(char out[23]);
#endif
