/* A client connection: parser state, CONNECT options, subscriptions, output
 * queue, timers and counters. Owned by exactly one shard for its whole life
 * (architecture.md rule 1): only that shard's thread touches these fields.
 *
 * Lifecycle:
 *
 *   accept ──► OPEN ──(CONNECT ok)──► CONNECTED
 *                │                        │
 *                │ error / EOF / timeout  │ error / EOF / timeout / slow consumer
 *                ▼                        ▼
 *             CLOSING: recv cancelled; pending output flushed if the close
 *                      carries an -ERR (bounded by write_deadline), else dropped
 *                ▼
 *             CLOSED: no op in flight ──► fd closed, slot freed (gen++)
 */
#ifndef GANNET_CONN_H
#define GANNET_CONN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "parser.h"
#include "flow.h"
#include "kind.h"
#include "timer.h"
#include "transport.h"

struct shard;
struct sub;

/* Why a connection closed: shown in logs (and /connz when it exists). */
enum close_reason {
    CR_NONE,
    CR_CLIENT_CLOSED,
    CR_AUTH_TIMEOUT,
    CR_AUTH_VIOLATION,
    CR_SLOW_CONSUMER_PENDING,
    CR_SLOW_CONSUMER_DEADLINE,
    CR_STALE,
    CR_PROTOCOL_VIOLATION,
    CR_MAX_PAYLOAD,
    CR_MAX_CONTROL_LINE,
    CR_MAX_CONNECTIONS,
    CR_WRITE_ERROR,
    CR_READ_ERROR,
    CR_PARSE_ERROR,
    CR_SERVER_SHUTDOWN,
    CR_RESOURCES,              /* an allocation failed: the connection cannot go on correctly */
    CR_BAD_PROTOCOL,
    CR_NO_RESPONDERS_HEADERS,
    /* server links (nats-server's ClosedState names, 2.9.10) */
    CR_WRONG_PORT,             /* a client on a route port or the reverse */
    CR_DUPLICATE_ROUTE,
    CR_ROUTE_REMOVED,
    CR_DUPLICATE_SERVER_NAME,
    CR_CLUSTER_NAME_CONFLICT,
    CR_WRONG_GATEWAY,
    CR_MISSING_ACCOUNT,
    CR_DUPLICATE_LEAF,
    CR_TLS_HANDSHAKE_ERROR,    /* the TLS handshake failed or timed out */
};
const char *close_reason_str(enum close_reason r);


/* sid -> subscription, open addressing; owner-only. SIDMAP_TOMB marks a freed slot. */
#define SIDMAP_TOMB ((struct sub *)1)
struct sidmap {
    struct sub **slots;
    uint32_t cap, n, tomb;
};

struct conn {
    uint32_t slot, gen;        /* user_data identity: late completions for a reused slot are ignored */
    int fd;
    struct shard *sh;
    enum conn_kind kind;       /* what it is and may do (kind.h) */
    bool internal;             /* a shard's system client (core/events.h): no socket; deliveries go to sysw */
    struct account *acc;       /* the account it is bound to ($G for every client yet) */
    uint64_t cid;
    char ip[46];
    uint16_t port;

    /* io state */
    bool recv_armed;           /* a multishot recv is outstanding */
    bool send_inflight;        /* one send at a time */
    bool closing;
    bool flush_on_close;       /* deliver queued bytes (an -ERR) before closing */
    bool in_flush_list;
    struct conn *flush_next;
    struct conn *next, *prev;  /* the shard's list of connections */
    struct tnode timer;        /* its one timer on the shard's wheel (conn_schedule) */

    struct parser parser;

    /* CONNECT */
    bool connected;            /* CONNECT processed */
    bool ops_before_connect;   /* an op came before the first CONNECT */
    bool auth_ok;
    bool verbose, pedantic, echo, headers, no_responders;
    int protocol;
    bool pong_sent;            /* answered a PING: async INFO may be pushed (as nats-server) */
    char *name, *lang, *version;
    char *cred_user, *cred_pass, *cred_token; /* as presented, to re-check on reload */
    char *cred_nkey, *cred_sig; /* presented nkey and its signature of nonce */
    bool cred_other;           /* presented a jwt (JWT mode is not supported: refused) */
    char nonce[16];            /* sent in INFO when nkey users are configured ("": none) */

    struct sidmap subs;

    /* permissions (core/perm.h): the user's rules in the published configuration, and its state */
    const struct perm_opt *perms;
    struct perm_state *pstate;
    bool deny_filter;          /* a wildcard subscription holds a deny entry: deliveries are filtered */
    uint64_t conf_gen;         /* the srvconf (gen) its limits and rules were set from */

    struct transport tp;       /* between the socket and the parser / output blocks (net/transport.h) */
    bool tp_rest;              /* an op switched tp mid-read: the rest of that read goes through the new one */
    int64_t tls_deadline_ms;   /* the TLS handshake must be done by then (0: none pending) */

    /* output */
    struct oblock *ohead, *otail;
    uint32_t ohead_off;        /* bytes of ohead already sent */
    uint64_t pending;          /* bytes queued and not yet sent */
    uint32_t inflight_bytes;
    struct msghdr msg;
    struct iovec iov[SEND_IOV_MAX];

    /* timers, in shard milliseconds */
    int64_t start_ns;          /* accepted at (monotonic ns): the first RTT estimate */
    int64_t start_unix_ns;     /* the same on the wall clock (system events' "start") */
    int64_t start_ms, last_in_ms, last_ping_in_ms, auth_deadline_ms, next_ping_ms, send_start_ms;
    struct match_cache_entry *match_hint; /* the shard's cache entry its last PUB used (in acc's cache: reset it if acc changes) */
    int64_t rtt_start_ns, rtt_ns; /* monotonic ns of the PING sent for RTT; measured RTT (-1: not yet) */
    int64_t last_activity_ms;  /* last message in or out (/connz last_activity) */
    int pings_out;

    /* flow control (docs/design.md §11) */
    struct park park;          /* PARK_CONN: its input is parked while a consumer or a link catches up */
    bool stalled;              /* as a consumer: more than max_pending/2 queued; producers wait for it */
    bool no_drain;             /* a wait for it timed out without progress: none until it sends again */
    bool retry_recv;           /* on sh->retry_recv: its recv could not be armed */
    bool moving;               /* being handed over to shard move_to: input stopped, output draining */
    bool auth_pending;         /* its CONNECT's bcrypt check is on an auth worker: input stopped */
    char *verified_secret;     /* the bcrypt hash its password was last verified against (reloads skip it) */
    int move_to;
    struct conn *retry_next;
    char *inq;                 /* input received while parked, not parsed yet */
    uint32_t inq_off, inq_len, inq_cap;
    uint64_t sent_total;       /* bytes the kernel accepted: progress seen by waiting producers */

    /* counters */
    uint64_t in_msgs, out_msgs, in_bytes, out_bytes;
    enum close_reason reason;

    /* server links */
    struct route *route;       /* a route's own state (cluster/route.c) */
    int32_t dial_tag;          /* what the dialer that made it was for (dial_spec.tag); 0: accepted */
};

/* Called by the shard */
void conn_start(struct conn *c);                              /* send INFO, set timers */
int conn_input(struct conn *c, const char *buf, size_t len);  /* parse & process; <0 closed */
int conn_input_cb(void *conn, const char *buf, size_t len);   /* conn_input for a transport's deliver() */
void conn_transport_switched(struct conn *c); /* during an op: c->tp was just replaced (bytes after the op are its) */
/* The connection turns TLS after what is queued now (a client's INFO),
 * with a handshake deadline: the server side, or (server_name given) the
 * client side, checking that name in the peer's certificate; sniff: or
 * plain TCP if the peer's first byte is not TLS's (allow_non_tls). 0, or
 * -1 (closed). */
int conn_tls_start(struct conn *c, void *ctx, const char *server_name, int64_t timeout_ms, bool sniff);
void conn_resume(struct conn *c);                             /* unparked: parse what arrived meanwhile */
void conn_timer(struct conn *c, int64_t now);                 /* its timer fired */
void conn_schedule(struct conn *c);                           /* a deadline changed: re-arm the timer */
void conn_close(struct conn *c, enum close_reason r, bool flush);
void conn_send_err_close(struct conn *c, const char *err, enum close_reason r);
void conn_release(struct conn *c);                            /* free resources at final close */
void conn_reconfigure(struct conn *c, bool recheck_auth);     /* a reloaded configuration was published */
void conn_send_ldm(struct conn *c);                           /* lame duck: INFO with "ldm":true */
void conn_push_info_all(struct shard *sh);
void conn_keepalive(struct conn *c, enum proto_op op);        /* a PING (answered) or a PONG (RTT) from the peer */                    /* the cluster's client URLs changed: INFO to clients */
/* Subscriptions and output for the server-link kinds (cluster/route.c) */
struct sub *conn_sub_find(struct conn *c, const char *sid, size_t n);
int conn_sub_add(struct conn *c, struct sub *s);              /* into its sid map and the index; <0: c closed */
void conn_unsubscribe(struct conn *c, struct sub *s);
char *conn_out_reserve(struct conn *c, size_t n);             /* n bytes at the tail of its output, NULL: no memory */
void conn_out_unreserve(struct conn *c, size_t unused);       /* give back the end of the last reservation */
/* Handover (shard_handover): dst, a fresh slot of the new owner, takes
 * everything of src but the slot's identity and its old shard's lists. */
void conn_adopt(struct conn *dst, struct conn *src);
/* An auth worker's verdict on its CONNECT (SC_AUTH_DONE); hash: what it was checked against (taken). */
void conn_auth_done(struct conn *c, bool ok, char *hash);

/* Output (owner shard only) */
int conn_write(struct conn *c, const void *p, size_t n);
void conn_mark_flush(struct conn *c);
void conn_sent(struct conn *c, uint32_t n, bool wrote_all);   /* a send took n plaintext bytes (all it was given?) */

/* Deliver one message to a subscription owned by this shard. */
struct msgview {
    const char *subj, *reply, *payload, *sztok, *hdrtok;
    uint32_t subj_len, reply_len, size, sztok_len, hdrtok_len;
    int32_t hdr;
};
void deliver_local(struct shard *sh, struct sub *s, const struct msgview *m);
#endif
