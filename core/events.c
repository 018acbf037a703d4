/* The system account on the shards: see events.h.
 *
 * The JSON shapes are nats-server 2.9.10's (events.go: ServerInfo,
 * ClientInfo, ConnectEventMsg, DisconnectEventMsg, AccountNumConns), with
 * its field order and its omitempty fields left out when empty, compact as
 * json.Marshal writes them; tests/proto/test_proto_system.py pins them. */
#include "events.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cluster/route.h"
#include "../monitor/json.h"
#include "../monitor/sysreq.h"
#include "conn.h"
#include "encode.h"
#include "log.h"
#include "shard.h"

/* What shard 0's internal client subscribes to: the requests sysw answers. */
static const char *const req_subjects[] = {
    "$SYS.REQ.SERVER.PING",      /* statsz, the old form */
    "$SYS.REQ.SERVER.PING.*",    /* every server answers */
    "$SYS.REQ.SERVER.%s.*",      /* this server (its id) answers */
    "$SYS.REQ.ACCOUNT.*.*",      /* about one account (through the system imports too) */
    "$SYS.DEBUG.SUBSCRIBERS",    /* the subscriber count service the system account exports */
};

static int64_t wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void sys_event_id(char out[23])
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static _Atomic uint64_t ctr;
    uint64_t a = (uint64_t)wall_now() * 0x9E3779B97F4A7C15ULL ^ atomic_fetch_add(&ctr, 1) * 0xD6E8FEB86659FD93ULL;
    uint64_t b = a * 0xBF58476D1CE4E5B9ULL ^ (a >> 29);
    for (int i = 0; i < 22; i++) {
        uint64_t *x = i < 11 ? &a : &b;
        out[i] = digits[*x % 62];
        *x /= 62;
    }
    out[22] = 0;
}

/* A ServerInfo's seq must rise in the order the events reach a peer:
 * nats-server drops "out of order remote server update"s. Events are built
 * on any shard and the monitor's thread, so the number is written when
 * shard 0, which owns the routes, publishes the event: the JSON keeps a
 * slot of 20 characters ("0" and spaces), filled and closed up then. */
#define SEQ_SLOT "0                   "
#define SEQ_KEY "\"seq\":"

static void stamp_seq(struct server *srv, struct sys_msg *m)
{
    const char *pat = SEQ_KEY SEQ_SLOT;
    char *at = m->body ? memmem(m->body, m->len, pat, strlen(pat)) : NULL;
    if (!at)
        return;
    char num[24];
    int n = snprintf(num, sizeof num, "%llu",
                     (unsigned long long)atomic_fetch_add_explicit(&srv->sys_seq, 1, memory_order_relaxed) + 1);
    char *slot = at + strlen(SEQ_KEY), *end = slot + strlen(SEQ_SLOT);
    memcpy(slot, num, (size_t)n); /* at most 20 digits: the slot's width; then compact again */
    memmove(slot + n, end, m->len - (size_t)(end - m->body));
    m->len -= strlen(SEQ_SLOT) - (size_t)n;
}

void sys_server_info(struct server *srv, struct jw *w, const char *key)
{
    const struct opts *o = atomic_load_explicit(&srv->conf, memory_order_acquire)->o;
    jw_obj_begin(w, key);
    jw_str(w, "name", o->server_name ? o->server_name : srv->server_id);
    jw_str(w, "host", o->host);
    jw_str(w, "id", srv->server_id);
    jw_str(w, "ver", NATS_COMPAT_VERSION);
    jw_raw(w, "seq", SEQ_SLOT); /* numbered when shard 0 publishes it (stamp_seq) */
    jw_bool(w, "jetstream", false);
    jw_time(w, "time", wall_now());
    jw_obj_end(w);
}

void sys_msg_free(struct sys_msg *m)
{
    if (!m)
        return;
    free(m->subj);
    free(m->reply);
    free(m->body);
    free(m);
}

/* ---- the internal client and its subscriptions ---- */

int sys_shard_init(struct shard *sh)
{
    struct server *srv = sh->srv;
    if (!srv->sacc)
        return 0;
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->sh = sh;
    c->fd = -1;
    c->internal = true;
    c->kind = CK_CLIENT;
    c->acc = srv->sacc;
    c->echo = c->headers = c->connected = c->auth_ok = true;
    c->rtt_ns = -1;
    sh->sysc = c;
    if (sh->id != 0 || !srv->sysw)
        return 0;
    for (size_t i = 0; i < sizeof req_subjects / sizeof req_subjects[0]; i++) {
        char subj[128], sid[8];
        int n = snprintf(subj, sizeof subj, req_subjects[i], srv->server_id);
        int sn = snprintf(sid, sizeof sid, "%zu", i + 1);
        struct sub *s = sub_new(subj, (size_t)n, NULL, 0, sid, (size_t)sn);
        if (!s)
            return -ENOMEM;
        s->conn = c;
        s->acc = srv->sacc;
        s->owner = sh;
        s->shard = (uint16_t)sh->id;
        /* straight into the index (not batched with clients' SUBs, whose
         * failures close their connection); an allocation that fails is
         * tried again, as a SUB would be */
        int rc = -ENOMEM;
        for (int attempt = 0; attempt < 8 && rc < 0; attempt++)
            rc = sublist_insert(&srv->sacc->sl, s);
        if (rc < 0) {
            free(s);
            return rc;
        }
        sh->sys_subs[sh->nsys_subs++] = s;
        route_note(sh, s); /* advertised to routes, as nats-server's internal subscriptions are */
        STAT_ADD(sh, nsubs, 1); /* the index counts it: so does its shard */
    }
    return 0;
}

void sys_shard_fini(struct shard *sh)
{
    for (uint32_t i = 0; i < sh->nsys_subs; i++) {
        shard_unsub_later(sh, sh->sys_subs[i]); /* freed with the shard's other leftovers */
        STAT_ADD(sh, nsubs, -1);
    }
    sh->nsys_subs = 0;
    for (struct sys_msg *m = sh->sys_out, *n; m; m = n) {
        n = m->next;
        sys_msg_free(m);
    }
    sh->sys_out = NULL;
    sh->sys_out_tail = &sh->sys_out;
}

void sys_shard_free(struct shard *sh)
{
    if (sh->sysc) {
        parser_free(&sh->sysc->parser);
        free(sh->sysc);
        sh->sysc = NULL;
    }
}

/* ---- publishing ---- */

void sys_publish_now(struct shard *sh, struct sys_msg *m)
{
    if (sh->id != 0 && sh->srv->cluster) { /* through shard 0, numbered in the order they leave (stamp_seq) */
        sys_post(sh->srv, 0, m);
        return;
    }
    stamp_seq(sh->srv, m);
    struct conn *c = sh->sysc;
    if (!c) {
        sys_msg_free(m);
        return;
    }
    struct account *acc = m->acc ? m->acc : sh->srv->sacc;
    if (c->acc != acc) {
        c->acc = acc;
        c->match_hint = NULL;
    }
    /* nats-server's internal client publishes with an empty reply, which
     * its MSG lines show as a second space before the size: the size
     * token carries it ("MSG <subj> <sid>  <size>") */
    char sz[24] = " ";
    uint32_t off = m->reply ? 0 : 1;
    struct msgview v = {
        .subj = m->subj, .subj_len = (uint32_t)strlen(m->subj),
        .reply = m->reply, .reply_len = m->reply ? (uint32_t)strlen(m->reply) : 0,
        .payload = m->body ? m->body : "", .size = (uint32_t)m->len,
        .sztok = sz, .sztok_len = off + msgline_udec(sz + off, m->len),
        .hdr = -1,
    };
    uint32_t n;
    shard_publish(sh, c, &v, &n);
    sh->note = (struct stall_note){0}; /* the server never waits for a consumer */
    if (m->last)
        atomic_store(&sh->srv->sys_last_sent, 1);
    sys_msg_free(m);
}

void sys_flush(struct shard *sh)
{
    while (sh->sys_out) {
        struct sys_msg *m = sh->sys_out;
        sh->sys_out = m->next;
        sys_publish_now(sh, m);
    }
    sh->sys_out_tail = &sh->sys_out;
}

void sys_post(struct server *srv, int to, struct sys_msg *m)
{
    struct shard_cmd *cmd = calloc(1, sizeof *cmd);
    if (!cmd) {
        sys_msg_free(m);
        return;
    }
    cmd->type = SC_SYS_PUB;
    cmd->sys = m;
    shard_post(srv->shards[to], cmd);
}

/* Does anyone in the system account listen on subj? */
static bool interest(struct shard *sh, const char *subj)
{
    struct account *a = sh->srv->sacc;
    if (!a || !sh->sysc)
        return false;
    const struct match_result *r = match_cached(&a->sl, &sh->cache[a->id], subj, strlen(subj));
    return r->npsubs || r->ngroups;
}

/* Queue an event built in w for the end of this turn (w's buffer is taken). */
static void queue_event(struct shard *sh, const char *subj, struct jw *w)
{
    struct sys_msg *m = calloc(1, sizeof *m);
    if (!m || w->oom || !(m->subj = strdup(subj))) {
        free(m);
        jw_free(w);
        return;
    }
    m->body = w->buf;
    m->len = w->len;
    w->buf = NULL;
    *sh->sys_out_tail = m;
    sh->sys_out_tail = &m->next;
}

/* The TypedEvent head: type, id, timestamp (ts; id NULL: a new one), then the ServerInfo. */
static void typed_head(struct server *srv, struct jw *w, const char *type, const char *id, int64_t ts)
{
    char nid[23];
    if (!id)
        sys_event_id(nid), id = nid;
    jw_str(w, "type", type);
    jw_str(w, "id", id);
    jw_time(w, "timestamp", ts);
    sys_server_info(srv, w, "server");
}

static const char *conn_user(const struct conn *c)
{
    return c->cred_user ? c->cred_user : c->cred_nkey;
}

/* ClientInfo; a closed client's "stop" is at `now` (the event's timestamp, as nats-server's) */
static void client_info(struct conn *c, struct jw *w, bool closed, int64_t now)
{
    jw_obj_begin(w, "client");
    jw_time(w, "start", c->start_unix_ns);
    jw_str(w, "host", c->ip);
    jw_uint(w, "id", c->cid);
    jw_str(w, "acc", c->acc->name);
    if (conn_user(c))
        jw_str(w, "user", conn_user(c));
    if (c->name && *c->name)
        jw_str(w, "name", c->name);
    if (c->lang && *c->lang)
        jw_str(w, "lang", c->lang);
    if (c->version && *c->version)
        jw_str(w, "ver", c->version);
    if (closed) {
        if (c->rtt_ns > 0)
            jw_int(w, "rtt", c->rtt_ns);
        jw_time(w, "stop", now);
    }
    jw_str(w, "kind", "Client");
    jw_str(w, "client_type", "nats");
    jw_obj_end(w);
}

static void data_stats(struct jw *w, const char *key, uint64_t msgs, uint64_t bytes)
{
    jw_obj_begin(w, key);
    jw_uint(w, "msgs", msgs);
    jw_uint(w, "bytes", bytes);
    jw_obj_end(w);
}

void sys_event_connect(struct conn *c)
{
    struct shard *sh = c->sh;
    char subj[300];
    snprintf(subj, sizeof subj, "$SYS.ACCOUNT.%s.CONNECT", c->acc->name);
    if (!interest(sh, subj))
        return;
    struct jw w;
    jw_init(&w, false);
    jw_obj_begin(&w, NULL);
    typed_head(sh->srv, &w, "io.nats.server.advisory.v1.client_connect", NULL, wall_now());
    client_info(c, &w, false, 0);
    jw_obj_end(&w);
    queue_event(sh, subj, &w);
}

static void disconnect_event(struct conn *c, const char *subj, const char *reason)
{
    struct jw w;
    jw_init(&w, false);
    jw_obj_begin(&w, NULL);
    int64_t now = wall_now();
    typed_head(c->sh->srv, &w, "io.nats.server.advisory.v1.client_disconnect", NULL, now);
    client_info(c, &w, true, now);
    /* the client's view, as nats-server's: "sent" is what it published */
    data_stats(&w, "sent", c->in_msgs, c->in_bytes);
    data_stats(&w, "received", c->out_msgs, c->out_bytes);
    jw_str(&w, "reason", reason);
    jw_obj_end(&w);
    queue_event(c->sh, subj, &w);
}

void sys_event_close(struct conn *c)
{
    if (!c->connected || c->internal)
        return;
    char subj[300];
    snprintf(subj, sizeof subj, "$SYS.ACCOUNT.%s.DISCONNECT", c->acc->name);
    if (interest(c->sh, subj))
        disconnect_event(c, subj, close_reason_str(c->reason));
}

void sys_event_auth_error(struct conn *c)
{
    if (!c->sh->sysc)
        return;
    char subj[128];
    snprintf(subj, sizeof subj, "$SYS.SERVER.%s.CLIENT.AUTH.ERR", c->sh->srv->server_id);
    if (interest(c->sh, subj))
        disconnect_event(c, subj, close_reason_str(CR_AUTH_VIOLATION));
}

void sys_account_conns_json(struct server *srv, struct account *a, struct jw *w, const char *id, int64_t ts)
{
    struct acc_totals t;
    account_totals(srv, a, &t);
    int32_t n = atomic_load_explicit(&a->nconns, memory_order_relaxed);
    jw_obj_begin(w, NULL);
    typed_head(srv, w, "io.nats.server.advisory.v1.account_connections", id, ts ? ts : wall_now());
    jw_str(w, "acc", a->name);
    jw_int(w, "conns", n > 0 ? n : 0);
    jw_int(w, "leafnodes", 0);
    jw_int(w, "total_conns", n > 0 ? n : 0);
    data_stats(w, "sent", t.out_msgs, t.out_bytes);
    data_stats(w, "received", t.in_msgs, t.in_bytes);
    jw_uint(w, "slow_consumers", t.slow_consumers);
    jw_obj_end(w);
}

void sys_event_account_conns(struct shard *sh, struct account *a)
{
    if (!sh->sysc)
        return;
    /* the old subject first, then the new, one event (id, timestamp) in two messages */
    static const char *const fmt[2] = {"$SYS.SERVER.ACCOUNT.%s.CONNS", "$SYS.ACCOUNT.%s.SERVER.CONNS"};
    char id[23];
    sys_event_id(id);
    int64_t ts = wall_now();
    for (int i = 0; i < 2; i++) {
        char subj[300];
        snprintf(subj, sizeof subj, fmt[i], a->name);
        if (!interest(sh, subj))
            continue;
        struct jw w;
        jw_init(&w, false);
        sys_account_conns_json(sh->srv, a, &w, id, ts);
        queue_event(sh, subj, &w);
    }
}

/* ---- requests: to sysw ---- */

void sys_deliver(struct shard *sh, struct sub *s, const struct msgview *m)
{
    (void)s;
    if (!m->reply_len || !sh->srv->sysw)
        return; /* nowhere to answer */
    sysw_submit(sh->srv->sysw, m);
}
