/* Client connections: the protocol of nats-compat.md §1 on top of the parser,
 * output queues, subscriptions and timers. Owner shard only (see conn.h). */
#include "conn.h"
#include "tls.h"

#include <crypt.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <xxhash.h>

#include "failpoint.h"
#include "../cluster/route.h"
#include "goquote.h"
#include "log.h"
#include "authw.h"
#include "encode.h"
#include "nkey.h"
#include "perm.h"
#include "shard.h"
#include "subject.h"

#define FIRST_PING_MS 2000

const char *close_reason_str(enum close_reason r)
{
    static const char *const s[] = {
        [CR_NONE] = "",
        [CR_CLIENT_CLOSED] = "Client Closed",
        [CR_AUTH_TIMEOUT] = "Authentication Timeout",
        [CR_AUTH_VIOLATION] = "Authentication Failure",
        [CR_SLOW_CONSUMER_PENDING] = "Slow Consumer (Pending Bytes)",
        [CR_SLOW_CONSUMER_DEADLINE] = "Slow Consumer (Write Deadline)",
        [CR_STALE] = "Stale Connection",
        [CR_PROTOCOL_VIOLATION] = "Protocol Violation",
        [CR_TLS_HANDSHAKE_ERROR] = "TLS Handshake Failure",
        [CR_MAX_PAYLOAD] = "Maximum Message Payload Exceeded",
        [CR_MAX_CONTROL_LINE] = "Maximum Control Line Exceeded",
        [CR_MAX_CONNECTIONS] = "Maximum Connections Exceeded",
        [CR_WRITE_ERROR] = "Write Error",
        [CR_READ_ERROR] = "Read Error",
        [CR_PARSE_ERROR] = "Parse Error",
        [CR_SERVER_SHUTDOWN] = "Server Shutdown",
        [CR_RESOURCES] = "Insufficient Resources",
        [CR_BAD_PROTOCOL] = "Bad Client Protocol Version",
        [CR_NO_RESPONDERS_HEADERS] = "No Responders Requires Headers",
        [CR_WRONG_PORT] = "Incorrect Port",
        [CR_DUPLICATE_ROUTE] = "Duplicate Route",
        [CR_ROUTE_REMOVED] = "Route Removed",
        [CR_DUPLICATE_SERVER_NAME] = "Duplicate Server Name",
        [CR_CLUSTER_NAME_CONFLICT] = "Cluster Name Conflict",
        [CR_WRONG_GATEWAY] = "Wrong Gateway",
        [CR_MISSING_ACCOUNT] = "Missing Account",
        [CR_DUPLICATE_LEAF] = "Duplicate Remote LeafNode Connection",
    };
    return r < sizeof s / sizeof s[0] ? s[r] : "Unknown";
}

/* ---- sid map ---- */

static uint64_t sid_hash(const char *p, size_t n) { return XXH3_64bits(p, n); }
#define TOMB SIDMAP_TOMB

static struct sub **sid_find(struct sidmap *m, const char *sid, size_t n)
{
    if (!m->cap)
        return NULL;
    uint32_t mask = m->cap - 1, i = (uint32_t)sid_hash(sid, n) & mask;
    for (;; i = (i + 1) & mask) {
        struct sub *s = m->slots[i];
        if (!s)
            return NULL;
        if (s != TOMB && s->sid_len == n && memcmp(s->sid, sid, n) == 0)
            return &m->slots[i];
    }
}

static int sid_put(struct sidmap *m, struct sub *s)
{
    if ((m->n + m->tomb + 1) * 2 > m->cap) {
        uint32_t ncap = m->cap ? m->cap : 8;
        while ((m->n + 1) * 2 > ncap)
            ncap *= 2;
        if (ncap == m->cap && m->tomb == 0)
            ncap *= 2;
        struct sub **ns = failpoint(FP_SID) ? NULL : calloc(ncap, sizeof *ns);
        if (!ns)
            return -ENOMEM;
        for (uint32_t i = 0; i < m->cap; i++) {
            struct sub *o = m->slots[i];
            if (!o || o == TOMB)
                continue;
            uint32_t j = (uint32_t)sid_hash(o->sid, o->sid_len) & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = o;
        }
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
        m->tomb = 0;
    }
    uint32_t mask = m->cap - 1, i = (uint32_t)sid_hash(s->sid, s->sid_len) & mask;
    while (m->slots[i] && m->slots[i] != TOMB)
        i = (i + 1) & mask;
    if (m->slots[i] == TOMB)
        m->tomb--;
    m->slots[i] = s;
    m->n++;
    return 0;
}

/* ---- output ---- */

void conn_mark_flush(struct conn *c)
{
    if (c->in_flush_list)
        return;
    c->in_flush_list = true;
    c->flush_next = c->sh->flush_head;
    c->sh->flush_head = c;
}

/* Reserve n contiguous bytes at the tail of the output queue. */
static char *out_reserve(struct conn *c, size_t n);
char *conn_out_reserve(struct conn *c, size_t n) { return out_reserve(c, n); }
void conn_out_unreserve(struct conn *c, size_t unused)
{
    c->otail->len -= (uint32_t)unused;
    c->pending -= unused;
}
static char *out_reserve(struct conn *c, size_t n)
{
    struct oblock *t = c->otail;
    if (!t || t->cap - t->len < n) {
        struct oblock *b = shard_oblock_get(c->sh, n);
        if (!b)
            return NULL;
        if (t)
            t->next = b;
        else
            c->ohead = b;
        c->otail = t = b;
    }
    char *p = t->data + t->len;
    t->len += (uint32_t)n;
    c->pending += n;
    return p;
}

int conn_write(struct conn *c, const void *p, size_t n)
{
    char *d = out_reserve(c, n);
    if (!d)
        return -ENOMEM;
    memcpy(d, p, n);
    conn_mark_flush(c);
    return 0;
}


void conn_sent(struct conn *c, uint32_t n, bool wrote_all)
{
    c->pending -= n;
    c->sent_total += n;
    if (n > 0)
        c->no_drain = false; /* it reads again: its producers may wait for it again */
    /* as nats-server releases its stalled producers: everything attempted
     * was written, or less than half of max_pending is left */
    if (c->stalled && (wrote_all || c->pending < (uint64_t)c->sh->conf->o->max_pending / 2)) {
        c->stalled = false;
        shard_unstalled(c->sh);
    }
    while (n > 0 && c->ohead) {
        struct oblock *b = c->ohead;
        uint32_t avail = b->len - c->ohead_off;
        if (n < avail) {
            c->ohead_off += n;
            return;
        }
        n -= avail;
        c->ohead_off = 0;
        if (b == c->otail) {
            b->len = 0; /* keep the last block for the next appends */
            return;
        }
        c->ohead = b->next;
        shard_oblock_put(c->sh, b);
    }
    if (c->ohead && c->ohead == c->otail && c->ohead_off == c->ohead->len) {
        c->ohead->len = 0;
        c->ohead_off = 0;
    }
}

static void send_err(struct conn *c, const char *msg)
{
    conn_write(c, "-ERR '", 6);
    conn_write(c, msg, strlen(msg));
    conn_write(c, "'\r\n", 3);
}

/* -ERR '<pre><a><mid><b><post>' with a and b (b may be NULL) in Go's %q
 * form, as nats-server formats its Permissions Violation errors; any
 * length (a subject may be 64 KiB and more). */
static void send_err_q(struct conn *c, const char *pre, const char *a, size_t an, const char *mid, const char *b,
                       size_t bn, const char *post)
{
    size_t cap = GO_QUOTE_MAX(an) + (b ? GO_QUOTE_MAX(bn) : 0);
    char stackbuf[512], *buf = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!buf) {
        conn_close(c, CR_RESOURCES, false); /* the client would miss an error it waits for */
        return;
    }
    conn_write(c, "-ERR '", 6);
    conn_write(c, pre, strlen(pre));
    conn_write(c, buf, go_quote(buf, cap, a, an));
    if (b) {
        conn_write(c, mid, strlen(mid));
        conn_write(c, buf, go_quote(buf, cap, b, bn));
    }
    conn_write(c, post, strlen(post));
    conn_write(c, "'\r\n", 3);
    if (buf != stackbuf)
        free(buf);
}

static void send_ok(struct conn *c)
{
    if (c->verbose)
        conn_write(c, "+OK\r\n", 5);
}

/* ---- lifecycle ---- */

static void unsubscribe(struct conn *c, struct sub *s);

void conn_close(struct conn *c, enum close_reason r, bool flush)
{
    if (c->closing)
        return;
    c->closing = true;
    c->reason = r;
    if (tlst_session(&c->tp) && r != CR_WRITE_ERROR && r != CR_READ_ERROR && r != CR_CLIENT_CLOSED) {
        tlst_close(&c->tp); /* a close_notify (or the alert of a failed handshake) goes out last */
        flush = true;
    }
    c->flush_on_close = flush && (c->pending > 0 || (c->tp.ops->want_write && c->tp.ops->want_write(&c->tp)));
    if (c->park.on_list)
        shard_unpark(c->sh, &c->park); /* its unread input goes with it */
    if (c->stalled) { /* producers waiting for it go on */
        c->stalled = false;
        shard_unstalled(c->sh);
    }
    struct server *srv = c->sh->srv;
    if (c->kind == CK_CLIENT) {
        atomic_fetch_sub_explicit(&srv->nclients, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&c->sh->nclients, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&c->acc->nconns, 1, memory_order_relaxed);
        shard_record_closed(c->sh, c); /* for /connz?state=closed, with its subscriptions */
    } else if (c->kind == CK_ROUTE) {
        route_closed(c);
    }
    for (uint32_t i = 0; i < c->subs.cap; i++) {
        struct sub *s = c->subs.slots[i];
        if (s && s != TOMB)
            unsubscribe(c, s);
    }
    if (c->connected && c->sh->sysc && c->kind == CK_CLIENT) {
        sys_event_account_conns(c->sh, c->acc);
        sys_event_close(c);
    }
    if (r == CR_SLOW_CONSUMER_PENDING || r == CR_SLOW_CONSUMER_DEADLINE) {
        atomic_fetch_add_explicit(&c->sh->slow_consumers, 1, memory_order_relaxed);
        STAT_ADD(&c->sh->astats[c->acc->id], slow_consumers, 1);
        const struct opts *o = c->sh->conf->o;
        if (r == CR_SLOW_CONSUMER_PENDING) {
            log_info("%s:%u - cid:%" PRIu64 " - Slow Consumer Detected: MaxPending of %" PRId64 " Exceeded", c->ip,
                     c->port, c->cid, o->max_pending);
        } else { /* nats-server's words: the queued chunks, the bytes of the write that timed out */
            char d[32];
            unsigned chunks = 0;
            for (const struct oblock *b = c->ohead; b; b = b->next)
                chunks++;
            opts_duration_str(o->write_deadline_ms, d, sizeof d);
            log_info("%s:%u - cid:%" PRIu64 " - Slow Consumer Detected: WriteDeadline of %s exceeded with %u chunks "
                     "of %u total bytes.", c->ip, c->port, c->cid, d, chunks, c->inflight_bytes);
        }
    } else {
        log_debug("%s:%u - cid:%" PRIu64 " - %s connection closed: %s", c->ip, c->port, c->cid,
                  conn_kinds[c->kind].name, close_reason_str(r));
    }
    if (c->flush_on_close) {
        shard_cancel_recv(c->sh, c); /* stop reading; the queued -ERR still goes out */
    } else {
        shutdown(c->fd, SHUT_RDWR); /* ends the outstanding recv and send at once */
    }
    conn_mark_flush(c); /* the flush pass releases it once nothing is in flight */
}

void conn_send_err_close(struct conn *c, const char *err, enum close_reason r)
{
    send_err(c, err);
    conn_close(c, r, true);
}

void conn_release(struct conn *c)
{
    route_release(c);
    if (c->tp.ops->free)
        c->tp.ops->free(&c->tp);
    c->tp = (struct transport){.ops = &transport_plain};
    parser_free(&c->parser);
    perm_state_free(c->pstate);
    c->pstate = NULL;
    free(c->inq);
    c->inq = NULL;
    free(c->subs.slots);
    c->subs.slots = NULL;
    for (struct oblock *b = c->ohead, *n; b; b = n) {
        n = b->next;
        shard_oblock_put(c->sh, b);
    }
    c->ohead = c->otail = NULL;
    free(c->name);
    free(c->lang);
    free(c->version);
    free(c->cred_user);
    free(c->cred_pass);
    free(c->cred_token);
    free(c->cred_nkey);
    free(c->cred_sig);
    free(c->verified_secret);
}

void conn_adopt(struct conn *dst, struct conn *src)
{
    /* the new slot's identity and list links stay; everything else comes over */
    uint32_t slot = dst->slot, gen = dst->gen;
    struct shard *sh = dst->sh;
    struct conn *next = dst->next, *prev = dst->prev;
    struct tnode timer = dst->timer;
    struct park park = dst->park;
    *dst = *src;
    parser_move(&dst->parser, &src->parser);
    dst->slot = slot, dst->gen = gen, dst->sh = sh;
    dst->next = next, dst->prev = prev;
    dst->timer = timer;
    dst->park = park;
    dst->recv_armed = dst->send_inflight = dst->in_flush_list = dst->retry_recv = false;
    dst->flush_next = dst->retry_next = NULL;
    dst->moving = false;
    dst->match_hint = NULL; /* an entry of the old shard's cache */
    dst->stalled = false;
}

/* The client INFO: the published prefix, this connection's fields, `extra`
 * (a JSON member list starting with a comma, or ""). */
static int send_info(struct conn *c, const char *extra)
{
    const struct srvconf *cf = c->sh->conf;
    const char *cluster = route_client_info(c->sh->srv);
    size_t cap = cf->info_head_len + strlen(extra) + strlen(cluster) + sizeof c->ip + 96;
    char stackbuf[1024], *info = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!info)
        return -ENOMEM;
    char nonce[32] = "";
    if (c->nonce[0])
        snprintf(nonce, sizeof nonce, ",\"nonce\":\"%s\"", c->nonce);
    int n = snprintf(info, cap, "%.*s\"client_id\":%" PRIu64 ",\"client_ip\":\"%s\"%s%s%s} \r\n",
                     (int)cf->info_head_len, cf->info_head, c->cid, c->ip, nonce, cluster, extra);
    int rc = n > 0 && (size_t)n < cap ? conn_write(c, info, (size_t)n) : -EOVERFLOW;
    if (info != stackbuf)
        free(info);
    return rc;
}

/* Must the first op be an authenticating CONNECT? */
static bool auth_required(const struct opts *o) { return opts_auth_configured(o) && !o->no_auth_user; }

static bool creds_ok(const struct opts *o, const struct conn *c, const struct user_opt **who);
static struct account *user_account(const struct server *srv, const struct user_opt *u);

void conn_start(struct conn *c)
{
    if (c->kind == CK_ROUTE) {
        route_start(c);
        return;
    }
    struct shard *sh = c->sh;
    struct server *srv = sh->srv;
    const struct opts *o = sh->conf->o;
    c->cid = atomic_fetch_add(&srv->next_cid, 1);
    c->conf_gen = sh->conf->gen;
    c->acc = srv->gacc;
    if (opts_has_nkeys(o)) /* as nats-server: a nonce only when nkey users are configured */
        nkey_nonce(c->nonce);
    if (o->no_auth_user) { /* before any CONNECT its ops already run in that user's account */
        const struct user_opt *who;
        creds_ok(o, c, &who);
        c->acc = user_account(srv, who);
        c->perms = who ? who->perms : NULL;
    }
    atomic_fetch_add_explicit(&c->acc->nconns, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->acc->total_conns, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sh->nclients, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&srv->total_conns, 1, memory_order_relaxed);
    int32_t nc = atomic_fetch_add_explicit(&srv->nclients, 1, memory_order_relaxed) + 1;
    c->verbose = c->pedantic = c->echo = true;
    c->start_ms = c->last_in_ms = sh->now;
    c->start_ns = now_ns();
    struct timespec wt;
    clock_gettime(CLOCK_REALTIME, &wt);
    c->start_unix_ns = (int64_t)wt.tv_sec * 1000000000 + wt.tv_nsec;
    c->last_ping_in_ms = 0;
    c->rtt_ns = -1;
    c->last_activity_ms = sh->now;
    c->next_ping_ms = sh->now + (o->ping_interval_ms < FIRST_PING_MS ? o->ping_interval_ms : FIRST_PING_MS);
    if (auth_required(o) && !o->tls.ctx) /* with TLS, once the handshake is done (nats-server) */
        c->auth_deadline_ms = sh->now + o->auth_timeout_ms;
    const struct kind_def *kd = &conn_kinds[c->kind];
    parser_init(&c->parser, kd->ops, (uint32_t)o->max_control_line * kd->ctl_line_factor, o->max_payload);
    parser_set_max_args(&c->parser, kd->max_args);

    if (send_info(c, "") < 0) {
        conn_close(c, CR_RESOURCES, false);
        return;
    }
    log_debug("%s:%u - cid:%" PRIu64 " - Client connection created", c->ip, c->port, c->cid);
    /* nats-server's createClient: the refusals go out in clear, before any handshake */
    if (o->max_connections >= 0 && nc > o->max_connections) {
        log_error("%s:%u - cid:%" PRIu64 " - maximum connections exceeded", c->ip, c->port, c->cid);
        conn_send_err_close(c, "maximum connections exceeded", CR_MAX_CONNECTIONS);
        return;
    }
    if (o->tls.ctx && !o->allow_non_tls && o->tls.rate_limit > 0 && !server_tls_rate_allow(srv, o->tls.rate_limit)) {
        conn_send_err_close(c, "Connection throttling is active. Please try again later.", CR_MAX_CONNECTIONS);
        return;
    }
    if (o->tls.ctx && conn_tls_start(c, o->tls.ctx, NULL, o->tls.timeout_ms, o->allow_non_tls) < 0)
        return;
    conn_schedule(c);
}

/* The handshake completed (the transport calls this inside its input):
 * nats-server's checks of the peer certificate, then the parser's turn. */
static int tls_handshake_done(void *arg)
{
    struct conn *c = arg;
    struct tls_sess *s = tlst_session(&c->tp);
    const struct opts *o = c->sh->conf->o;
    const struct tls_opt *t = c->kind == CK_ROUTE ? &o->cluster.tls : &o->tls;
    c->tls_deadline_ms = 0;
    if (c->kind == CK_CLIENT && auth_required(o) && !c->auth_ok)
        c->auth_deadline_ms = c->sh->now + o->auth_timeout_ms; /* nats-server starts it after the handshake */
    conn_schedule(c);
    if (!s)
        return 0; /* allow_non_tls, and the client speaks plaintext */
    log_debug("%s:%u - cid:%" PRIu64 " - TLS handshake complete", c->ip, c->port, c->cid);
    log_debug("%s:%u - cid:%" PRIu64 " - TLS version %s, cipher suite %s", c->ip, c->port, c->cid,
              tls_sess_version(s), tls_sess_cipher(s));
    if (t->npinned && !tls_sess_pinned_ok(s, t->pinned, t->npinned)) {
        log_error("%s:%u - cid:%" PRIu64 " - TLS %shandshake error: certificate not pinned", c->ip, c->port, c->cid,
                  c->kind == CK_ROUTE ? "route " : "");
        conn_close(c, CR_TLS_HANDSHAKE_ERROR, false);
        return -1;
    }
    return c->kind == CK_ROUTE ? route_tls_ready(c) : 0;
}

int conn_tls_start(struct conn *c, void *ctx, const char *server_name, int64_t timeout_ms, bool sniff)
{
    if (tlst_install(&c->tp, ctx, !server_name, server_name, c->pending, sniff, tls_handshake_done) < 0) {
        conn_close(c, CR_RESOURCES, false);
        return -1;
    }
    if (c->kind == CK_CLIENT)
        log_debug("%s:%u - cid:%" PRIu64 " - Starting TLS client connection handshake", c->ip, c->port, c->cid);
    c->tls_deadline_ms = c->sh->now + (timeout_ms > 0 ? timeout_ms : TLS_DEFAULT_TIMEOUT_MS);
    return 0;
}

/* Arm the connection's one timer for the earliest of its deadlines: the
 * next keepalive check, the authentication timeout, the write deadline of
 * a send in flight (also while flushing a close). */
void conn_schedule(struct conn *c)
{
    const struct opts *o = c->sh->conf->o;
    int64_t due = c->closing ? INT64_MAX : c->next_ping_ms;
    if (!c->closing && !c->auth_ok && c->auth_deadline_ms && c->auth_deadline_ms < due)
        due = c->auth_deadline_ms;
    if (!c->closing && c->tls_deadline_ms && c->tls_deadline_ms < due)
        due = c->tls_deadline_ms;
    if (c->send_inflight && o->write_deadline_ms > 0 && c->send_start_ms + o->write_deadline_ms + 1 < due)
        due = c->send_start_ms + o->write_deadline_ms + 1;
    if (due == INT64_MAX)
        twheel_cancel(&c->sh->wheel, &c->timer);
    else if (due != c->timer.due_ms)
        twheel_arm(&c->sh->wheel, &c->timer, due);
}

static void conn_timer_check(struct conn *c, int64_t now);

void conn_timer(struct conn *c, int64_t now)
{
    conn_timer_check(c, now);
    conn_schedule(c);
}

static void conn_timer_check(struct conn *c, int64_t now)
{
    const struct opts *o = c->sh->conf->o;
    if (c->closing) {
        /* flushing its last bytes (an -ERR) to a peer that does not read:
         * the write deadline applies here too, then the rest is dropped */
        if (c->send_inflight && o->write_deadline_ms > 0 && now - c->send_start_ms > o->write_deadline_ms) {
            c->flush_on_close = false;
            shutdown(c->fd, SHUT_RDWR); /* the send completes with an error and the slot is released */
        }
        return;
    }
    if (c->send_inflight && o->write_deadline_ms > 0 && now - c->send_start_ms > o->write_deadline_ms) {
        conn_close(c, CR_SLOW_CONSUMER_DEADLINE, false);
        return;
    }
    if (c->tls_deadline_ms && now >= c->tls_deadline_ms && tlst_sniffing(&c->tp)) {
        /* allow_non_tls and nothing came within the TLS timeout: plaintext (nats-server) */
        tlst_to_plain(&c->tp);
        tls_handshake_done(c);
    }
    if (c->tls_deadline_ms && now >= c->tls_deadline_ms) {
        log_error("%s:%u - cid:%" PRIu64 " - TLS handshake timeout", c->ip, c->port, c->cid);
        conn_close(c, CR_TLS_HANDSHAKE_ERROR, false);
        return;
    }
    if (!c->auth_ok && c->auth_deadline_ms && now >= c->auth_deadline_ms) {
        conn_send_err_close(c, "Authentication Timeout", CR_AUTH_TIMEOUT);
        return;
    }
    if (now < c->next_ping_ms)
        return;
    int64_t pi = o->ping_interval_ms;
    int32_t pmax = o->ping_max;
    if (c->kind == CK_ROUTE) { /* the cluster block's own (nats-server 2.11's), else the server's */
        if (o->cluster.ping_interval_ms > 0)
            pi = o->cluster.ping_interval_ms;
        if (o->cluster.ping_max > 0)
            pmax = o->cluster.ping_max;
    }
    /* a route compressing by RTT (s2_auto) pings at least every 30 s, busy
     * or not (route.go's routeMaxPingInterval): its level follows the RTT */
    bool follow = c->kind == CK_ROUTE && route_follows_rtt(c);
    if (follow && pi > ROUTE_MAX_PING_MS)
        pi = ROUTE_MAX_PING_MS;
    c->next_ping_ms = now + pi;
    /* as nats-server: recent client activity (data or its own PING) stands in
     * for a PING, except when an RTT measurement is due (never measured by a
     * PING yet, then hourly) */
    bool need_rtt = follow || c->rtt_ns < 0 || !c->rtt_start_ns || now - c->rtt_start_ns / 1000000 > 3600 * 1000;
    if (!need_rtt &&
        (now - c->last_in_ms < pi || now - c->last_ping_in_ms < pi))
        return;
    if (c->pings_out + 1 > pmax) {
        conn_send_err_close(c, "Stale Connection", CR_STALE);
        return;
    }
    c->pings_out++;
    c->rtt_start_ns = now_ns();
    conn_write(c, "PING\r\n", 6);
}

/* ---- subscriptions ---- */

/* Forget s in the connection's sid map. */
static void sid_drop(struct conn *c, struct sub *s)
{
    struct sub **slot = sid_find(&c->subs, s->sid, s->sid_len);
    if (slot) {
        *slot = TOMB;
        c->subs.n--;
        c->subs.tomb++;
    }
    STAT_ADD(c->sh, nsubs, -1);
}

static void unsubscribe(struct conn *c, struct sub *s)
{
    sid_drop(c, s);
    shard_unsub_later(c->sh, s); /* leaves the index at the end of the turn, batched */
}

struct sub *conn_sub_find(struct conn *c, const char *sid, size_t n)
{
    struct sub **slot = sid_find(&c->subs, sid, n);
    return slot ? *slot : NULL;
}

void conn_unsubscribe(struct conn *c, struct sub *s) { unsubscribe(c, s); }

int conn_sub_add(struct conn *c, struct sub *s)
{
    s->conn = c;
    s->owner = c->sh;
    s->shard = (uint16_t)c->sh->id;
    if (sid_put(&c->subs, s) < 0) {
        free(s); /* nothing else knows it yet */
        conn_close(c, CR_RESOURCES, false);
        return -1;
    }
    if (shard_index_add(c->sh, s) < 0) {
        /* in the sid map but not in the index: take it out again before
         * freeing, so that no pointer to it is left anywhere */
        struct sub **slot = sid_find(&c->subs, s->sid, s->sid_len);
        *slot = TOMB;
        c->subs.n--;
        c->subs.tomb++;
        free(s);
        conn_close(c, CR_RESOURCES, false);
        return -1;
    }
    STAT_ADD(c->sh, nsubs, 1);
    return 0;
}

static int process_sub(struct conn *c, const struct proto_msg *m)
{
    if (m->argc != 2 && m->argc != 3)
        return -1;
    const struct pview *subj = &m->argv[0], *sid = &m->argv[m->argc - 1];
    const struct pview *q = m->argc == 3 ? &m->argv[1] : NULL;
    const struct opts *o = c->sh->conf->o;
    if (c->perms && !perm_sub_ok(c->perms, subj->p, subj->n, q ? q->p : NULL, q ? q->n : 0)) {
        send_err_q(c, "Permissions Violation for Subscription to ", subj->p, subj->n, " using queue ",
                   q ? q->p : NULL, q ? q->n : 0, "");
        return 0;
    }
    if (c->perms && !c->deny_filter && perm_sub_needs_filter(c->perms, subj->p, subj->n))
        c->deny_filter = true; /* it may match denied subjects: deliveries are checked */
    if (o->max_subs > 0 && c->subs.n >= (uint32_t)o->max_subs) {
        send_err(c, "maximum subscriptions exceeded");
        return 0;
    }
    if (sid_find(&c->subs, sid->p, sid->n)) { /* same sid twice: ignored */
        send_ok(c);
        return 0;
    }
    if (!subject_valid(subj->p, subj->n) || (q && !subject_valid_literal(q->p, q->n))) {
        send_err(c, "Invalid Subject");
        return 0;
    }
    struct sub *s = sub_new(subj->p, subj->n, q ? q->p : NULL, q ? q->n : 0, sid->p, sid->n);
    if (!s) {
        conn_close(c, CR_RESOURCES, false);
        return 1;
    }
    s->acc = c->acc;
    if (conn_sub_add(c, s) < 0)
        return 1;
    send_ok(c);
    return 0;
}

static int process_unsub(struct conn *c, const struct proto_msg *m)
{
    if (m->argc != 1 && m->argc != 2)
        return -1;
    long long max = 0;
    if (m->argc == 2) {
        char tmp[24];
        const struct pview *v = &m->argv[1];
        if (v->n == 0 || v->n >= sizeof tmp)
            return -1;
        memcpy(tmp, v->p, v->n);
        tmp[v->n] = 0;
        char *end;
        errno = 0;
        max = strtoll(tmp, &end, 10);
        if (*end || errno)
            max = 0; /* as nats-server: an unparsable max makes a plain UNSUB */
    }
    struct sub **slot = sid_find(&c->subs, m->argv[0].p, m->argv[0].n);
    if (slot) {
        struct sub *s = *slot;
        if (max > 0 && (uint64_t)max > s->delivered)
            s->max = (uint64_t)max;
        else
            unsubscribe(c, s);
    }
    send_ok(c);
    return 0;
}

/* ---- delivery ---- */

void deliver_local(struct shard *sh, struct sub *s, const struct msgview *m)
{
    if (s->removed)
        return;
    struct conn *c = s->conn;
    if (c->closing)
        return;
    if (__builtin_expect(c->perms != NULL || c->internal || s->route, 0)) {
        if (c->internal) { /* a $SYS.REQ subscription of the server's own */
            sys_deliver(sh, s, m);
            return;
        }
        if (s->route) { /* gathered: one RMSG per route once every subscriber had it */
            route_collect(sh, s);
            return;
        }
        if (c->deny_filter && perm_deliver_denied(c->perms, m->subj, m->subj_len))
            return;
        if (c->perms->resp && m->reply_len && perm_note_reply(c->perms, &c->pstate, m->reply, m->reply_len, sh->now) < 0) {
            conn_close(c, CR_RESOURCES, false);
            return;
        }
    }
    bool hmsg = m->hdr >= 0 && c->headers;
    const char *body = m->payload;
    uint32_t size = m->size;
    if (m->hdr >= 0 && !hmsg) { /* non-header subscriber: payload only */
        body += m->hdr;
        size -= (uint32_t)m->hdr;
    }
    struct msgline ml = {
        .subj = {m->subj, m->subj_len},
        .reply = {m->reply, m->reply_len},
        .sid = {s->sid, s->sid_len},
        .hdr = hmsg ? m->hdr : -1,
        .size = size,
    };
    if (hmsg || m->hdr < 0) { /* the publisher's own tokens: no formatting */
        ml.sztok = (struct strv){m->sztok, m->sztok_len};
        if (hmsg)
            ml.hdrtok = (struct strv){m->hdrtok, m->hdrtok_len};
    }
    size_t need = msgline_max(CK_CLIENT, &ml) + size + 2;
    char *p = out_reserve(c, need), *st = p;
    if (!p) { /* it would miss this message: better it knows */
        conn_close(c, CR_RESOURCES, false);
        return;
    }
    p += msgline_encode(CK_CLIENT, p, &ml);
    memcpy(p, body, size), p += size;
    *p++ = '\r', *p++ = '\n';
    /* give back what the worst-case reservation did not use */
    size_t used = (size_t)(p - st);
    c->otail->len -= (uint32_t)(need - used);
    c->pending -= need - used;
    c->out_msgs++;
    c->out_bytes += size;
    c->last_activity_ms = sh->now;
    STAT_ADD(sh, out_msgs, 1);
    STAT_ADD(sh, out_bytes, size);
    struct acc_stats *as = &sh->astats[c->acc->id];
    STAT_ADD(as, out_msgs, 1);
    STAT_ADD(as, out_bytes, size);
    conn_mark_flush(c);
    s->delivered++;
    if (s->max && s->delivered >= s->max) {
        /* auto-unsubscribe: delivery takes no index lock; the removal is
         * done at the end of the turn, and nothing is delivered to it meanwhile */
        sid_drop(c, s);
        shard_unsub_later(sh, s);
    }
    if (c->pending > (uint64_t)sh->conf->o->max_pending)
        conn_close(c, CR_SLOW_CONSUMER_PENDING, false);
    else
        shard_note_delivery(sh, c);
}

static bool has_prefix(const struct pview *v, const char *p)
{
    size_t n = strlen(p);
    return v->n >= n && memcmp(v->p, p, n) == 0;
}

/* nats-server answers a request nobody listens to with a 503 status message,
 * delivered on the requester's own subscription that matches the reply. */
static void no_responders(struct conn *c, const struct pview *reply)
{
    for (uint32_t i = 0; i < c->subs.cap; i++) {
        struct sub *s = c->subs.slots[i];
        if (!s || s == TOMB || s->qlen || !subject_matches(s->subject, s->subj_len, reply->p, reply->n))
            continue;
        static const char hdr[] = "NATS/1.0 503\r\n\r\n";
        struct msgview m = {.subj = reply->p, .subj_len = reply->n, .payload = hdr, .size = 16,
                            .hdr = 16, .sztok = "16", .sztok_len = 2, .hdrtok = "16", .hdrtok_len = 2};
        deliver_local(c->sh, s, &m);
        return;
    }
}

static int process_pub(struct conn *c, const struct proto_msg *m)
{
    bool h = m->op == OP_HPUB;
    int base = h ? 3 : 2;
    if (m->argc != base && m->argc != base + 1)
        return -1;
    struct pview subj = m->argv[0], reply = {NULL, 0};
    if (m->argc == base + 1)
        reply = m->argv[1];
    struct shard *sh = c->sh;
    c->in_msgs++;
    c->in_bytes += m->size;
    c->last_activity_ms = sh->now;
    STAT_ADD(sh, in_msgs, 1);
    STAT_ADD(sh, in_bytes, m->size);
    struct acc_stats *as = &sh->astats[c->acc->id];
    STAT_ADD(as, in_msgs, 1);
    STAT_ADD(as, in_bytes, m->size);
    if (c->pedantic && !subject_valid_literal(subj.p, subj.n))
        send_err(c, "Invalid Publish Subject");
    if ((c->perms && !perm_pub_ok(c->perms, &c->pstate, subj.p, subj.n, sh->now)) || has_prefix(&subj, "_GR_.")) {
        /* the connection goes on, as nats-server's */
        send_err_q(c, "Permissions Violation for Publish to ", subj.p, subj.n, NULL, NULL, 0, "");
        return 0;
    }
    if (reply.n && (has_prefix(&reply, "_R_.") || has_prefix(&reply, "$JS.ACK.") || has_prefix(&reply, "_GR_."))) {
        send_err_q(c, "Permissions Violation for Publish with Reply of ", reply.p, reply.n, NULL, NULL, 0, "");
        return 0;
    }
    send_ok(c);
    struct msgview mv = {.subj = subj.p, .subj_len = subj.n, .reply = reply.p, .reply_len = reply.n,
                         .payload = m->payload, .size = m->size, .hdr = h && m->hdr > 0 ? m->hdr : -1,
                         .sztok = m->size_tok.p, .sztok_len = m->size_tok.n,
                         .hdrtok = h ? m->hdr_tok.p : NULL, .hdrtok_len = h && m->hdr > 0 ? m->hdr_tok.n : 0};
    uint32_t n = 0;
    shard_publish(sh, c, &mv, &n);
    if (n == 0 && reply.n && c->no_responders && c->headers)
        no_responders(c, &reply);
    return 0;
}

/* ---- CONNECT and auth ---- */

static bool is_bcrypt(const char *s) { return strncmp(s, "$2", 2) == 0 && strlen(s) > 7 && s[3] == '$'; }

static bool plain_eq(const char *secret, const char *given)
{
    size_t a = strlen(secret), b = strlen(given);
    unsigned char d = (unsigned char)(a != b);
    for (size_t i = 0; i < a && i < b; i++)
        d |= (unsigned char)(secret[i] ^ given[i]);
    return d == 0;
}

enum { AUTH_NO, AUTH_YES, AUTH_BCRYPT };

/* Does `given` match the configured secret? A bcrypt hash it was already
 * verified against is taken as verified (a reload does not redo it); a new
 * one is left to an auth worker when defer (*bhash names it), else
 * checked here. */
static int secret_match(const struct conn *c, const char *secret, const char *given, bool defer, const char **bhash)
{
    if (!given)
        return AUTH_NO;
    if (!is_bcrypt(secret))
        return plain_eq(secret, given) ? AUTH_YES : AUTH_NO;
    if (c->verified_secret && strcmp(c->verified_secret, secret) == 0)
        return AUTH_YES;
    if (defer) {
        *bhash = secret;
        return AUTH_BCRYPT;
    }
    struct crypt_data cd;
    memset(&cd, 0, sizeof cd);
    const char *h = crypt_r(given, secret, &cd);
    return h && strcmp(h, secret) == 0 ? AUTH_YES : AUTH_NO;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void jbool(json_t *o, const char *k, bool *dst)
{
    json_t *v = json_object_get(o, k);
    if (json_is_boolean(v))
        *dst = json_is_true(v);
}

static bool has_creds(const struct conn *c)
{
    return (c->cred_user && *c->cred_user) || (c->cred_pass && *c->cred_pass) || (c->cred_token && *c->cred_token) ||
           (c->cred_nkey && *c->cred_nkey) || c->cred_other;
}

/* allowed_connection_types (nats-server's connectionTypeAllowed): none
 * listed allows every type. gannet's clients are STANDARD: it has no
 * WebSocket or MQTT listener. */
static bool conn_type_ok(const struct conn *c, const struct user_opt *u)
{
    if (!u || !u->conn_types)
        return true;
    return (u->conn_types & (c->kind == CK_LEAF ? CT_LEAFNODE : CT_STANDARD)) != 0;
}

/* verify_and_map: the user a certificate identity names (exactly; the
 * subject also as a DN with its attributes in any order). */
struct map_arg {
    const struct opts *o;
    const struct user_opt *who;
};

static bool map_user(void *arg, const char *id, bool is_dn)
{
    struct map_arg *m = arg;
    for (int i = 0; i < m->o->nusers; i++) {
        const char *name = m->o->users[i].name;
        if (name && (strcmp(name, id) == 0 || (is_dn && tls_dn_match(name, id)))) {
            m->who = &m->o->users[i];
            return true;
        }
    }
    return false;
}

/* Check presented credentials against the configuration (nats-compat.md
 * §6.1, in nats-server's order: nkey, users, token or single user,
 * no_auth_user); *who is the user they authenticate as (NULL: none).
 * AUTH_BCRYPT (only when defer): the answer needs bcrypt of the presented
 * password or token against *bhash. */
static int creds_check(const struct opts *o, const struct conn *c, const struct user_opt **who, bool defer,
                       const char **bhash)
{
    *who = NULL;
    if (!opts_auth_configured(o))
        return AUTH_YES;
    const char *u = c->cred_user, *pw = c->cred_pass, *tok = c->cred_token;
    if (!has_creds(c) && o->no_auth_user) { /* nats-server: the no_auth_user stands in only when nothing was presented */
        for (int i = 0; i < o->nusers; i++)
            if (o->users[i].name && strcmp(o->no_auth_user, o->users[i].name) == 0)
                *who = &o->users[i];
        return conn_type_ok(c, *who) ? AUTH_YES : AUTH_NO;
    }
    if (c->cred_nkey && *c->cred_nkey && c->nonce[0]) {
        for (int i = 0; i < o->nusers; i++) {
            const struct user_opt *k = &o->users[i];
            if (!k->nkey || strcmp(k->nkey, c->cred_nkey) != 0)
                continue;
            uint8_t key[32];
            if (!nkey_decode_public(k->nkey, NKEY_PREFIX_USER, key) ||
                !nkey_verify(key, c->nonce, strlen(c->nonce), c->cred_sig))
                return AUTH_NO;
            *who = k;
            return conn_type_ok(c, k) ? AUTH_YES : AUTH_NO;
        }
        return AUTH_NO;
    }
    if (o->tls.verify_and_map && o->nusers > 0 && c->kind == CK_CLIENT) {
        /* nats-server: the user comes from the certificate, whatever CONNECT names */
        const struct tls_sess *ts = tlst_session(&c->tp);
        struct map_arg m = {o, NULL};
        if (!ts || !tls_sess_identities(ts, map_user, &m))
            return AUTH_NO;
        if (defer && u && *u) /* once per CONNECT, not again when a reload re-checks */
            log_warn("User \"%s\" found in connect proto, but user required from cert", u);
        *who = m.who;
        if (!conn_type_ok(c, *who))
            return AUTH_NO;
        return secret_match(c, m.who->pass ? m.who->pass : "", pw ? pw : "", defer, bhash);
    }
    if (o->token)
        return secret_match(c, o->token, tok, defer, bhash);
    if (o->user)
        return u && strcmp(u, o->user) == 0 ? secret_match(c, o->pass ? o->pass : "", pw, defer, bhash) : AUTH_NO;
    for (int i = 0; i < o->nusers && u; i++)
        if (o->users[i].name && strcmp(u, o->users[i].name) == 0) {
            *who = &o->users[i];
            if (!conn_type_ok(c, *who)) /* before the password, as nats-server: no bcrypt for a refusal */
                return AUTH_NO;
            return secret_match(c, o->users[i].pass ? o->users[i].pass : "", pw, defer, bhash);
        }
    return AUTH_NO;
}

static bool creds_ok(const struct opts *o, const struct conn *c, const struct user_opt **who)
{
    const char *unused;
    return creds_check(o, c, who, false, &unused) == AUTH_YES;
}

/* The account a user belongs to ($G for users outside the accounts block). */
static struct account *user_account(const struct server *srv, const struct user_opt *u)
{
    struct account *a = u && u->account ? account_find(srv->acc, srv->naccounts, u->account) : NULL;
    return a ? a : srv->gacc;
}

static void set_perms(struct conn *c, const struct user_opt *who)
{
    const struct perm_opt *p = who ? who->perms : NULL;
    if (p != c->perms)
        perm_state_reset(c->pstate); /* the verdicts were the old rules' */
    c->perms = p;
}

static void bind_account(struct conn *c, struct account *a)
{
    if (c->acc == a)
        return;
    c->match_hint = NULL; /* an entry of the old account's cache */
    atomic_fetch_sub_explicit(&c->acc->nconns, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->nconns, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->total_conns, 1, memory_order_relaxed);
    c->acc = a;
}

static void keep_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

static int authorize(struct conn *c, json_t *j)
{
    const char *acc = jstr(j, "account");
    json_t *na = json_object_get(j, "new_account");
    if ((acc && *acc) || json_is_true(na))
        return AUTH_NO;
    keep_str(&c->cred_user, jstr(j, "user"));
    keep_str(&c->cred_pass, jstr(j, "pass"));
    keep_str(&c->cred_token, jstr(j, "auth_token"));
    keep_str(&c->cred_nkey, jstr(j, "nkey"));
    keep_str(&c->cred_sig, jstr(j, "sig"));
    c->cred_other = jstr(j, "jwt") != NULL;
    const struct opts *o = c->sh->conf->o;
    if (!has_creds(c) && o->no_auth_user && c->ops_before_connect)
        return AUTH_NO; /* nats-server: no_auth_user stands in for a first CONNECT only */
    const struct user_opt *who;
    const char *bhash = NULL;
    int a = creds_check(o, c, &who, true, &bhash);
    if (a == AUTH_BCRYPT) { /* tens of milliseconds: an auth worker does it, the shard goes on */
        const char *given = o->token ? c->cred_token : c->cred_pass;
        if (authw_submit(c->sh->srv->authw, c->sh->id, c->slot, c->gen, bhash, given) < 0)
            return AUTH_NO;
        return AUTH_BCRYPT;
    }
    if (a != AUTH_YES)
        return AUTH_NO;
    if (o->tls.verify_and_map && who && tlst_session(&c->tp))
        keep_str(&c->cred_user, who->name); /* nats-server names the mapped user in its logs and /connz */
    bind_account(c, user_account(c->sh->srv, who));
    set_perms(c, who);
    return AUTH_YES;
}

/* nats-server's getAuthUser, for log lines: `Nkey "U..."` or `User "name"`. */
static void auth_user_str(const struct conn *c, const struct user_opt *who, char *out, size_t cap)
{
    const char *nk = who && who->nkey ? who->nkey : c->cred_nkey;
    const char *u = who && who->name ? who->name : c->cred_user;
    if (nk && *nk)
        snprintf(out, cap, "Nkey \"%s\"", nk);
    else
        snprintf(out, cap, "User \"%s\"", u && *u ? u : "N/A");
}

/* A subscription the reloaded rules no longer allow: the client is told
 * and the log says so, in nats-server's words (its %q quoting). */
static void report_removed_sub(struct conn *c, const struct sub *s, const struct user_opt *who)
{
    send_err_q(c, "Permissions Violation for Subscription to ", s->subject, s->subj_len, " (sid ", s->sid,
               s->sid_len, ")");
    size_t cap = GO_QUOTE_MAX(s->subj_len) + GO_QUOTE_MAX(s->sid_len);
    char stackbuf[512], *buf = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!buf)
        return; /* the removal itself needs no memory */
    char *subj = buf, *sid = buf + GO_QUOTE_MAX(s->subj_len);
    go_quote(subj, GO_QUOTE_MAX(s->subj_len), s->subject, s->subj_len);
    go_quote(sid, GO_QUOTE_MAX(s->sid_len), s->sid, s->sid_len);
    char user[300];
    auth_user_str(c, who, user, sizeof user);
    log_info("Removed sub %s (sid %s) for %s - not authorized", subj, sid, user);
    if (buf != stackbuf)
        free(buf);
}

/* The connection's rules were reloaded (nats-server's
 * processSubsOnConfigReload): each subscription they no longer allow is
 * removed through the normal unsubscribe path, so the index, /subsz and
 * /varz follow at the end of this turn, and reported; the delivery filter
 * is worked out again from the subscriptions kept. Owner shard. */
static void perms_reloaded(struct conn *c, const struct user_opt *who)
{
    const struct perm_opt *p = c->perms;
    bool filter = false;
    for (uint32_t i = 0; p && i < c->subs.cap; i++) {
        struct sub *s = c->subs.slots[i];
        if (!s || s == TOMB)
            continue;
        /* as nats-server: a queue subscription stays when its subject alone
         * or its subject in its queue is allowed (so a new "subj queue"
         * deny entry does not remove it, though it refuses a new SUB) */
        bool ok = perm_sub_ok(p, s->subject, s->subj_len, NULL, 0) ||
                  (s->qlen && perm_sub_ok(p, s->subject, s->subj_len, s->queue, s->qlen));
        if (ok) {
            filter |= perm_sub_needs_filter(p, s->subject, s->subj_len);
            continue;
        }
        report_removed_sub(c, s, who);
        if (c->closing) /* out of memory for the -ERR: conn_close took every subscription */
            return;
        unsubscribe(c, s); /* its slot becomes a tombstone: the walk goes on */
    }
    c->deny_filter = filter;
}

void conn_reconfigure(struct conn *c, bool recheck_auth)
{
    c->conf_gen = c->sh->conf->gen;
    if (c->closing)
        return;
    const struct opts *o = c->sh->conf->o;
    c->parser.max_payload = o->max_payload;
    c->parser.max_control_line = (uint32_t)o->max_control_line * conn_kinds[c->kind].ctl_line_factor;
    const struct user_opt *who = NULL;
    bool ok = true;
    if (c->perms || opts_auth_configured(o)) { /* the rules live in the published options: point at the new ones */
        ok = creds_ok(o, c, &who);
        if (ok)
            set_perms(c, who);
        else
            c->perms = NULL; /* refused below when its credentials are re-checked */
    }
    if (recheck_auth && c->connected && (!ok || user_account(c->sh->srv, who) != c->acc)) {
        /* as nats-server on an authorization reload: clients no longer allowed go */
        conn_send_err_close(c, "Authorization Violation", CR_AUTH_VIOLATION);
        return;
    }
    if (recheck_auth && !c->connected && auth_required(o) && !c->auth_deadline_ms)
        c->auth_deadline_ms = c->sh->now + o->auth_timeout_ms; /* the new rules apply to its CONNECT */
    if (recheck_auth) /* users or their rules changed (auth_differs) */
        perms_reloaded(c, who);
    conn_schedule(c); /* the write deadline or the authentication timeout may have changed */
}

void conn_send_ldm(struct conn *c)
{
    if (c->kind == CK_ROUTE) {
        route_send_ldm(c);
        return;
    }
    if (c->kind != CK_CLIENT || c->internal || c->closing || c->protocol < 1 || !c->pong_sent)
        return;
    if (send_info(c, ",\"ldm\":true") < 0)
        conn_close(c, CR_RESOURCES, false);
}

void conn_push_info_all(struct shard *sh)
{
    bool ldm = sh->ldm_seen;
    for (struct conn *c = sh->conns; c; c = c->next) {
        if (c->kind != CK_CLIENT || c->internal || c->closing || c->protocol < 1 || !c->pong_sent)
            continue;
        if (send_info(c, ldm ? ",\"ldm\":true" : "") < 0)
            conn_close(c, CR_RESOURCES, false);
    }
}

/* CONNECT fields must have the types nats-server's JSON decoder expects: a
 * mismatch is a decode error there, so a silent close here. */
static bool connect_types_ok(json_t *j)
{
    static const char *const bools[] = {"verbose", "pedantic", "tls_required", "echo", "headers", "no_responders",
                                        NULL};
    static const char *const strs[] = {"auth_token", "user", "pass", "name", "lang", "version", "sig", "jwt",
                                       "nkey", "account", NULL};
    for (int i = 0; bools[i]; i++) {
        json_t *v = json_object_get(j, bools[i]);
        if (v && !json_is_boolean(v) && !json_is_null(v))
            return false;
    }
    for (int i = 0; strs[i]; i++) {
        json_t *v = json_object_get(j, strs[i]);
        if (v && !json_is_string(v) && !json_is_null(v))
            return false;
    }
    json_t *v = json_object_get(j, "protocol");
    return !v || json_is_integer(v) || json_is_null(v);
}

static int finish_connect(struct conn *c);

static int process_connect(struct conn *c, const struct proto_msg *m)
{
    /* as nats-server: a first estimate of the RTT is the time from accept
     * to CONNECT (never 0); the first keepalive PING measures it */
    int64_t since = now_ns() - c->start_ns;
    c->rtt_ns = since > 0 ? since : 1;
    json_error_t jerr;
    json_t *j = json_loadb(m->rest.p, m->rest.n, JSON_DECODE_ANY, &jerr);
    if (!j || !json_is_object(j) || !connect_types_ok(j)) {
        json_decref(j);
        return -1;
    }
    jbool(j, "verbose", &c->verbose);
    jbool(j, "pedantic", &c->pedantic);
    jbool(j, "echo", &c->echo);
    /* applied on top of the connection's current options, as nats-server
     * decodes a second CONNECT into the same struct */
    jbool(j, "headers", &c->headers);
    jbool(j, "no_responders", &c->no_responders);
    c->parser.headers_ok = c->headers;
    json_t *pv = json_object_get(j, "protocol");
    c->protocol = json_is_integer(pv) ? (int)json_integer_value(pv) : 0;
    const char *s;
    if ((s = jstr(j, "name")))
        free(c->name), c->name = strdup(s);
    if ((s = jstr(j, "lang")))
        free(c->lang), c->lang = strdup(s);
    if ((s = jstr(j, "version")))
        free(c->version), c->version = strdup(s);
    int a = authorize(c, j);
    json_decref(j);
    if (a == AUTH_BCRYPT) { /* finished by conn_auth_done; its input waits */
        c->auth_pending = true;
        shard_cancel_recv(c->sh, c);
        return 0;
    }
    if (a != AUTH_YES) {
        log_error("%s:%u - cid:%" PRIu64 " - authentication error", c->ip, c->port, c->cid);
        sys_event_auth_error(c);
        conn_send_err_close(c, "Authorization Violation", CR_AUTH_VIOLATION);
        return 1;
    }
    return finish_connect(c);
}

/* The rest of a CONNECT once its credentials are accepted. */
static int finish_connect(struct conn *c)
{
    bool first = !c->connected;
    c->auth_ok = true;
    c->connected = true;
    if (first && c->sh->sysc) {
        sys_event_account_conns(c->sh, c->acc);
        sys_event_connect(c);
    }
    if (c->protocol < 0 || c->protocol > 1) {
        conn_send_err_close(c, "invalid client protocol", CR_BAD_PROTOCOL);
        return 1;
    }
    if (c->no_responders && !c->headers) {
        conn_send_err_close(c, "no responders requires headers support", CR_NO_RESPONDERS_HEADERS);
        return 1;
    }
    send_ok(c);
    struct server *srv = c->sh->srv;
    if (srv->handover_test && srv->nshards > 1 && c->subs.n == 0)
        shard_handover(c->sh, c, (c->sh->id + 1) % srv->nshards);
    return 0;
}

void conn_auth_done(struct conn *c, bool ok, char *hash)
{
    if (c->kind == CK_ROUTE) {
        free(hash);
        route_auth_done(c, ok);
        return;
    }
    c->auth_pending = false;
    if (c->closing) {
        free(hash);
        return;
    }
    const struct user_opt *who = NULL;
    if (ok) {
        free(c->verified_secret);
        c->verified_secret = hash;
        /* against the configuration in force now (a reload may have come meanwhile) */
        ok = creds_ok(c->sh->conf->o, c, &who);
    } else {
        free(hash);
    }
    if (!ok) {
        log_error("%s:%u - cid:%" PRIu64 " - authentication error", c->ip, c->port, c->cid);
        sys_event_auth_error(c);
        conn_send_err_close(c, "Authorization Violation", CR_AUTH_VIOLATION);
        return;
    }
    bind_account(c, user_account(c->sh->srv, who));
    set_perms(c, who);
    finish_connect(c);
}

/* ---- input ---- */

void conn_keepalive(struct conn *c, enum proto_op op)
{
    if (op == OP_PING) {
        c->last_ping_in_ms = c->sh->now;
        c->pong_sent = true;
        conn_write(c, "PONG\r\n", 6);
        return;
    }
    c->pings_out = 0;
    if (c->rtt_start_ns)
        c->rtt_ns = now_ns() - c->rtt_start_ns;
}

static int dispatch(struct conn *c, const struct proto_msg *m)
{
    if (c->kind == CK_ROUTE)
        return route_dispatch(c, m);
    const struct opts *o = c->sh->conf->o;
    if (m->op != OP_CONNECT && !c->auth_ok && auth_required(o)) {
        sys_event_auth_error(c);
        conn_send_err_close(c, "Authorization Violation", CR_AUTH_VIOLATION);
        return 1;
    }
    if (m->op != OP_CONNECT && !c->connected)
        c->ops_before_connect = true;
    switch (m->op) {
    case OP_CONNECT:
        return process_connect(c, m);
    case OP_PUB:
    case OP_HPUB:
        return process_pub(c, m);
    case OP_SUB:
        return process_sub(c, m);
    case OP_UNSUB:
        return process_unsub(c, m);
    case OP_PING:
    case OP_PONG:
        conn_keepalive(c, m->op);
        return 0;
    case OP_ERR: /* as nats-server's processErr */
        conn_close(c, CR_PARSE_ERROR, false);
        return 1;
    case OP_INFO: { /* ignored, but nats-server decodes it: bad JSON closes silently */
        json_error_t jerr;
        json_t *j = json_loadb(m->rest.p, m->rest.n, 0, &jerr);
        bool ok = j && json_is_object(j);
        json_decref(j);
        return ok ? 0 : -1;
    }
    default: /* +OK from a client is ignored */
        return 0;
    }
}

/* Keep input that arrives, or is left, while the connection is parked. */
static int inq_append(struct conn *c, const char *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (c->inq_off && c->inq_off == c->inq_len)
        c->inq_off = c->inq_len = 0;
    if ((size_t)c->inq_len + len > c->inq_cap) {
        if (c->inq_off) { /* slide the unread part to the front first */
            memmove(c->inq, c->inq + c->inq_off, c->inq_len - c->inq_off);
            c->inq_len -= c->inq_off;
            c->inq_off = 0;
        }
        size_t ncap = c->inq_cap ? c->inq_cap : 16384;
        while (ncap < (size_t)c->inq_len + len)
            ncap *= 2;
        char *n = ncap > UINT32_MAX || failpoint(FP_INQ) ? NULL : realloc(c->inq, ncap);
        if (!n)
            return -ENOMEM;
        c->inq = n;
        c->inq_cap = (uint32_t)ncap;
    }
    memcpy(c->inq + c->inq_len, buf, len);
    c->inq_len += (uint32_t)len;
    return 0;
}

/* Parse and process ops from *buf until it is used up, the connection
 * closes (-1) or delivering an op parks it (1: *buf, *len are what is left). */
static int input_loop(struct conn *c, const char **buf, size_t *len)
{
    struct shard *sh = c->sh;
    while (!c->closing) {
        struct proto_msg m;
        const char *start = *buf;
        size_t start_len = *len;
        int rc = parser_next(&c->parser, buf, len, &m);
        if (rc == PERR_NEED_MORE)
            return 0;
        if (rc < 0) {
            if (rc == PERR_UNKNOWN_OP && c->kind == CK_ROUTE) { /* nats-server's words (client.go parse) */
                char q[160];
                go_quote(q, sizeof q, start, start_len < 32 ? start_len : 32);
                log_error("%s:%u - rid:%" PRIu64 " - Router parser ERROR, state=0, i=0: proto='%s...'", c->ip,
                          c->port, c->cid, q);
            }
            switch (rc) {
            case PERR_UNKNOWN_OP:
                if (!c->auth_ok && auth_required(sh->conf->o)) {
                    sys_event_auth_error(c);
                    conn_send_err_close(c, "Authorization Violation", CR_AUTH_VIOLATION);
                }
                else /* nats-server closes every parse error as a protocol violation */
                    conn_send_err_close(c, "Unknown Protocol Operation", CR_PROTOCOL_VIOLATION);
                break;
            case PERR_CONTROL_LINE:
                conn_send_err_close(c, "maximum control line exceeded", CR_MAX_CONTROL_LINE);
                break;
            case PERR_MAX_PAYLOAD:
                conn_send_err_close(c, "Maximum Payload Violation", CR_MAX_PAYLOAD);
                break;
            default:
                conn_close(c, CR_PROTOCOL_VIOLATION, true);
            }
            return -1;
        }
        sh->note = (struct stall_note){0};
        if (dispatch(c, &m) < 0) {
            conn_close(c, CR_PROTOCOL_VIOLATION, true);
            return -1;
        }
        if (__builtin_expect(c->moving || c->auth_pending, 0) && !c->closing)
            return 1; /* being handed over, or its CONNECT being checked: the rest waits in inq */
        if (__builtin_expect(c->tp_rest, 0) && !c->closing)
            return 2; /* the op switched transports: the rest is the new one's to decode */
        if (!conn_kinds[c->kind].stalls)
            sh->note.consumer = NULL; /* it never waits for a consumer; link budgets still hold */
        if (__builtin_expect(sh->note.consumer || sh->note.links || sh->note.oom, 0) && !c->closing) {
            if (sh->note.oom) {
                conn_close(c, CR_RESOURCES, false);
                return -1;
            }
            /* as nats-server stalls a fast producer: this one's input waits
             * (the op just processed was delivered) */
            shard_park_conn(sh, c);
            return 1;
        }
    }
    return -1;
}

int conn_input(struct conn *c, const char *buf, size_t len)
{
    c->last_in_ms = c->sh->now;
    if (c->park.on_list || c->moving || c->auth_pending) { /* arrived after the recv was cancelled */
        if (inq_append(c, buf, len) < 0) {
            conn_close(c, CR_RESOURCES, false);
            return -1;
        }
        return 0;
    }
    int rc = input_loop(c, &buf, &len);
    if (rc == 2) {
        c->tp_rest = false;
        return len ? c->tp.ops->input(&c->tp, buf, len, conn_input_cb, c) : 0;
    }
    if (rc == 1 && inq_append(c, buf, len) < 0) {
        conn_close(c, CR_RESOURCES, false);
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

void conn_transport_switched(struct conn *c) { c->tp_rest = true; }

int conn_input_cb(void *conn, const char *buf, size_t len) { return conn_input(conn, buf, len); }

void conn_resume(struct conn *c)
{
    while (!c->closing && !c->park.on_list && !c->moving && !c->auth_pending && c->inq_off < c->inq_len) {
        const char *buf = c->inq + c->inq_off;
        size_t len = c->inq_len - c->inq_off;
        int rc = input_loop(c, &buf, &len);
        c->inq_off = c->inq_len - (uint32_t)len; /* what it left stays queued, in order */
        if (rc == 2) { /* read before the switch, still encoded: through the new transport */
            c->tp_rest = false;
            size_t n = c->inq_len - c->inq_off;
            char *rest = n ? malloc(n) : NULL;
            if (n && !rest) {
                conn_close(c, CR_RESOURCES, false);
                return;
            }
            if (n)
                memcpy(rest, c->inq + c->inq_off, n);
            c->inq_off = c->inq_len = 0;
            int r2 = n ? c->tp.ops->input(&c->tp, rest, n, conn_input_cb, c) : 0;
            free(rest);
            if (r2 < 0) {
                if (!c->closing)
                    conn_close(c, CR_PROTOCOL_VIOLATION, false);
                return;
            }
            continue;
        }
        if (rc < 0)
            return;
    }
    if (c->inq_off == c->inq_len) {
        c->inq_off = c->inq_len = 0;
        if (c->inq_cap > 65536) { /* a burst's worth: give it back */
            free(c->inq);
            c->inq = NULL;
            c->inq_cap = 0;
        }
    }
}
