/* Shard queries and server-wide counters: see query.h. */
#include "query.h"
#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cluster/route.h"
#include "shard.h"


int64_t server_unix_ns(const struct server *s, int64_t mono_ms)
{
    return s->start_unix_ns + (mono_ms - s->start_ms) * 1000000;
}

void account_totals(struct server *s, const struct account *a, struct acc_totals *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < s->nshards; i++) {
        const struct acc_stats *st = &s->shards[i]->astats[a->id];
        t->in_msgs += atomic_load_explicit(&st->in_msgs, memory_order_relaxed);
        t->in_bytes += atomic_load_explicit(&st->in_bytes, memory_order_relaxed);
        t->out_msgs += atomic_load_explicit(&st->out_msgs, memory_order_relaxed);
        t->out_bytes += atomic_load_explicit(&st->out_bytes, memory_order_relaxed);
        t->slow_consumers += atomic_load_explicit(&st->slow_consumers, memory_order_relaxed);
    }
}

static int query_locked(struct server *s, struct query *q, int timeout_ms);

/* One question at a time: each shard has one slot for it. */
static void dedupe_routes(struct query *q);

int server_query(struct server *s, struct query *q, int timeout_ms)
{
    pthread_mutex_lock(&s->query_mu);
    int rc = query_locked(s, q, timeout_ms);
    pthread_mutex_unlock(&s->query_mu);
    if (q->kind == Q_ROUTES)
        dedupe_routes(q);
    return rc;
}

/* A route handed over between shards is answered for by shard 0 (its
 * stand-in, until the new owner says it landed) and by the new owner from
 * the moment it landed: both answers can be in one query. The owner's
 * (the later shard's) counts; shard 0's copy goes. */
static void dedupe_routes(struct query *q)
{
    for (uint32_t k = 0; q->snaps[0] && k < q->count[0];) {
        bool dup = false;
        for (int i = 1; i < MAX_SHARDS && !dup; i++)
            for (uint32_t j = 0; q->snaps[i] && j < q->count[i] && !dup; j++)
                dup = q->snaps[i][j].cid == q->snaps[0][k].cid;
        if (!dup) {
            k++;
            continue;
        }
        conn_snap_free(&q->snaps[0][k]);
        q->snaps[0][k] = q->snaps[0][--q->count[0]];
    }
}

static int query_locked(struct server *s, struct query *q, int timeout_ms)
{
    atomic_store(&q->pending, s->nshards);
    for (int i = 0; i < s->nshards; i++) {
        atomic_store_explicit(&s->shards[i]->query, q, memory_order_release);
        shard_wake_for_query(s->shards[i]);
    }
    /* The wake-up makes a sleeping shard answer within microseconds (and
     * shards wake every 100 ms anyway); poll gently until all answered. A
     * query must not outlive the wait (shards write into it), so after the
     * timeout keep waiting for stragglers that already took it. */
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
    int64_t deadline = now_ms() + timeout_ms;
    while (atomic_load_explicit(&q->pending, memory_order_acquire) > 0) {
        if (now_ms() > deadline) {
            for (int i = 0; i < s->nshards; i++) {
                struct query *expect = q;
                if (atomic_compare_exchange_strong(&s->shards[i]->query, &expect, NULL))
                    atomic_fetch_sub(&q->pending, 1); /* never taken: withdraw it */
            }
            if (atomic_load(&q->pending) == 0)
                return -ETIMEDOUT;
        }
        nanosleep(&ts, NULL);
    }
    return 0;
}

void conn_snap_free(struct conn_snap *c)
{
    free(c->remote_id);
    free(c->route_account);
    free(c->name);
    free(c->lang);
    free(c->version);
    free(c->user);
    for (uint32_t i = 0; i < c->nsubs_list; i++) {
        free(c->subs[i].subject);
        free(c->subs[i].queue);
        free(c->subs[i].sid);
    }
    free(c->subs);
    memset(c, 0, sizeof *c);
}

void query_free(struct query *q)
{
    for (int i = 0; i < MAX_SHARDS; i++) {
        for (uint32_t k = 0; q->snaps[i] && k < q->count[i]; k++)
            conn_snap_free(&q->snaps[i][k]);
        for (uint32_t k = 0; q->top[i] && k < q->count[i]; k++)
            free(q->top[i][k].subject);
        free(q->snaps[i]);
        free(q->cache[i]);
        free(q->top[i]);
        q->snaps[i] = NULL;
        q->cache[i] = NULL;
        q->top[i] = NULL;
        q->count[i] = 0;
    }
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void snap_subs(struct conn *c, struct conn_snap *o)
{
    o->subs = calloc(c->subs.n ? c->subs.n : 1, sizeof *o->subs);
    if (!o->subs)
        return;
    for (uint32_t i = 0; i < c->subs.cap; i++) {
        struct sub *s = c->subs.slots[i];
        if (!s || s == SIDMAP_TOMB || o->nsubs_list == c->subs.n)
            continue;
        struct sub_snap *d = &o->subs[o->nsubs_list++];
        d->subject = strndup(s->subject, s->subj_len);
        d->queue = s->qlen ? strndup(s->queue, s->qlen) : NULL;
        d->sid = strndup(s->sid, s->sid_len);
        d->msgs = s->delivered;
        d->max = s->max;
    }
}

static void snap_conn(struct shard *sh, struct conn *c, struct conn_snap *o, bool subs)
{
    struct server *srv = sh->srv;
    memset(o, 0, sizeof *o);
    o->cid = c->cid;
    memcpy(o->ip, c->ip, sizeof o->ip);
    o->port = c->port;
    o->start_ns = server_unix_ns(srv, c->start_ms);
    o->last_activity_ns = server_unix_ns(srv, c->last_activity_ms);
    o->rtt_ns = c->rtt_ns;
    o->pending = c->pending;
    o->in_msgs = c->in_msgs;
    o->out_msgs = c->out_msgs;
    o->in_bytes = c->in_bytes;
    o->out_bytes = c->out_bytes;
    o->nsubs = c->subs.n;
    o->account = c->acc && c->acc != sh->srv->gacc ? c->acc->name : NULL;
    o->name = dup_or_null(c->name);
    o->lang = dup_or_null(c->lang);
    o->version = dup_or_null(c->version);
    const struct tls_sess *ts = tlst_session(&c->tp);
    if (ts && tls_sess_done(ts)) {
        o->tls_version = tls_sess_version(ts);
        o->tls_cipher = tls_sess_cipher(ts);
    }
    if (opts_auth_configured(sh->conf->o))
        o->user = dup_or_null(c->cred_user);
    if (subs)
        snap_subs(c, o);
}

static void answer_cache(struct shard *sh, struct query *q)
{
    int i = sh->id;
    struct account *acc = sh->srv->gacc; /* /subsz: $G's */
    struct match_cache *c = &sh->cache[acc->id];
    match_cache_sync(&acc->sl, c); /* entries valid now, as nats-server's cache */
    uint64_t gen = c->registered ? 0 : atomic_load_explicit(&acc->sl.gen, memory_order_acquire);
    q->cache[i] = calloc(MATCH_CACHE_SLOTS, sizeof *q->cache[i]);
    for (int k = 0; q->cache[i] && c->e && k < MATCH_CACHE_SLOTS; k++) {
        const struct match_cache_entry *e = &c->e[k];
        if (e->valid && e->gen == gen)
            q->cache[i][q->count[i]++] = (struct cache_snap){e->hash, e->res.npsubs + e->res.ngroups};
    }
}

static void answer_top(struct shard *sh, struct query *q)
{
    int i = sh->id;
    const struct topz *z = &sh->topz;
    q->top[i] = calloc(2 * TOPZ_CAP, sizeof *q->top[i]);
    q->top_since_ms[i] = z->w[z->cur ^ 1].start_ms;
    for (int w = 0; q->top[i] && w < 2; w++) {
        for (uint32_t k = 0; k < z->w[w].n; k++) {
            const struct topz_ent *e = &z->w[w].e[k];
            char *subj = strndup(e->subj, e->len);
            if (!subj)
                continue;
            q->top[i][q->count[i]++] =
                (struct top_snap){e->hash, subj, e->truncated, e->msgs, e->bytes, e->deliveries};
        }
    }
}

void shard_answer_query(struct shard *sh)
{
    struct query *q = atomic_exchange_explicit(&sh->query, NULL, memory_order_acquire);
    if (!q)
        return;
    int i = sh->id;
    if (q->kind == Q_CACHE) {
        answer_cache(sh, q);
    } else if (q->kind == Q_TOP) {
        answer_top(sh, q);
    } else if (q->kind == Q_OPEN_CONNS || q->kind == Q_ROUTES) {
        enum conn_kind k = q->kind == Q_ROUTES ? CK_ROUTE : CK_CLIENT;
        uint32_t n = 0;
        for (struct conn *c = sh->conns; c; c = c->next)
            n += !c->closing && c->kind == k;
        struct conn *transit[64];  /* shard 0: routes on their way to another shard */
        uint32_t nt = k == CK_ROUTE ? route_in_transit(sh, transit, 64) : 0;
        n += nt;
        q->snaps[i] = calloc(n ? n : 1, sizeof(struct conn_snap));
        for (uint32_t t = 0; q->snaps[i] && t < nt; t++) {
            snap_conn(sh, transit[t], &q->snaps[i][q->count[i]], false);
            route_snap(transit[t], &q->snaps[i][q->count[i]]);
            q->count[i]++;
        }
        for (struct conn *c = sh->conns; q->snaps[i] && c; c = c->next) {
            if (c->closing || c->kind != k || (k == CK_ROUTE && !route_snap(c, NULL)))
                continue;
            snap_conn(sh, c, &q->snaps[i][q->count[i]], q->want_subs);
            if (k == CK_ROUTE)
                route_snap(c, &q->snaps[i][q->count[i]]);
            q->count[i]++;
        }
    } else {
        q->snaps[i] = calloc(sh->closed_n ? sh->closed_n : 1, sizeof(struct conn_snap));
        for (uint32_t k = 0; q->snaps[i] && k < sh->closed_n; k++) {
            /* oldest first */
            const struct conn_snap *src = &sh->closed[(sh->closed_head + sh->closed_cap - sh->closed_n + k) %
                                                      sh->closed_cap];
            struct conn_snap *d = &q->snaps[i][q->count[i]++];
            *d = *src;
            d->name = dup_or_null(src->name);
            d->lang = dup_or_null(src->lang);
            d->version = dup_or_null(src->version);
            d->user = dup_or_null(src->user);
            d->subs = NULL;
            d->nsubs_list = 0;
            if (q->want_subs && src->nsubs_list) {
                d->subs = calloc(src->nsubs_list, sizeof *d->subs);
                for (uint32_t j = 0; d->subs && j < src->nsubs_list; j++) {
                    d->subs[j] = src->subs[j];
                    d->subs[j].subject = dup_or_null(src->subs[j].subject);
                    d->subs[j].queue = dup_or_null(src->subs[j].queue);
                    d->subs[j].sid = dup_or_null(src->subs[j].sid);
                    d->nsubs_list++;
                }
            }
        }
    }
    atomic_fetch_sub_explicit(&q->pending, 1, memory_order_release);
}

void shard_record_closed(struct shard *sh, struct conn *c)
{
    if (!sh->closed_cap) {
        int64_t total = MAX_CLOSED_CLIENTS;
        sh->closed_cap = (uint32_t)((total + sh->srv->nshards - 1) / sh->srv->nshards);
        sh->closed = calloc(sh->closed_cap, sizeof *sh->closed);
        if (!sh->closed) {
            sh->closed_cap = 0;
            return;
        }
    }
    struct conn_snap *o = &sh->closed[sh->closed_head];
    conn_snap_free(o);
    snap_conn(sh, c, o, true); /* nats-server keeps the subscriptions of closed clients */
    o->nsubs = o->nsubs_list;
    o->stop_ns = server_unix_ns(sh->srv, sh->now);
    strncpy(o->reason, close_reason_str(c->reason), sizeof o->reason - 1);
    sh->closed_head = (sh->closed_head + 1) % sh->closed_cap;
    if (sh->closed_n < sh->closed_cap)
        sh->closed_n++;
}

void shard_closed_free(struct shard *sh)
{
    for (uint32_t i = 0; i < sh->closed_cap; i++)
        conn_snap_free(&sh->closed[i]);
    free(sh->closed);
    sh->closed = NULL;
    sh->closed_cap = sh->closed_n = 0;
}

void server_stats(struct server *s, struct server_stats *st)
{
    memset(st, 0, sizeof *st);
    for (int i = 0; i < s->nshards; i++) {
        struct shard *sh = s->shards[i];
        st->in_msgs += atomic_load_explicit(&sh->in_msgs, memory_order_relaxed);
        st->out_msgs += atomic_load_explicit(&sh->out_msgs, memory_order_relaxed);
        st->in_bytes += atomic_load_explicit(&sh->in_bytes, memory_order_relaxed);
        st->out_bytes += atomic_load_explicit(&sh->out_bytes, memory_order_relaxed);
        st->slow_consumers += atomic_load_explicit(&sh->slow_consumers, memory_order_relaxed);
        st->sl_matches += atomic_load_explicit(&sh->cache_lookups, memory_order_relaxed);
        st->sl_cache_hits += atomic_load_explicit(&sh->cache_hits, memory_order_relaxed);
    }
    int32_t nc = atomic_load_explicit(&s->nclients, memory_order_relaxed);
    st->connections = nc > 0 ? (uint64_t)nc : 0;
    st->total_connections = atomic_load_explicit(&s->total_conns, memory_order_relaxed);
    for (int a = 0; a < s->naccounts; a++) { /* nats-server's /varz sums every account's index */
        const struct sublist *sl = &s->acc[a].sl;
        st->subscriptions += atomic_load_explicit(&sl->count, memory_order_relaxed);
        st->sl_inserts += atomic_load_explicit(&sl->inserts, memory_order_relaxed);
        st->sl_removes += atomic_load_explicit(&sl->removes, memory_order_relaxed);
    }
}
