/* /connz and /subsz: the endpoints built from the shards' connection
 * snapshots (server_query, core/query.h), as nats-server 2.9.10's Connz()
 * and Subsz() build them from its client list, quirks included:
 *
 *   - `total` counts before the user filter; a cid search looks only at
 *     the closed connections when state is closed or all;
 *   - an unknown `acc` answers with an empty server_id and a null list;
 *   - /subsz's `total` is the length of the page, and without a page the
 *     answer is the bare sublist statistics.
 *
 * Monitor thread only; server_query blocks it while the shards answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mon.h"
#include "query.h"

#define DEFAULT_LIST_SIZE 1024 /* DefaultConnListSize, DefaultSubListSize */

/* ------------------------------------------------------------ snapshots */

struct snaps {
    struct query open, closed;
    bool have_open, have_closed;
};

static void ask(struct monitor *m, struct query *q, enum query_kind kind, bool subs)
{
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->want_subs = subs;
    /* a timeout leaves the late shards' lists empty: answer with the rest */
    server_query(m->srv, q, 1000);
}

static uint32_t count_snaps(const struct query *q)
{
    uint32_t n = 0;
    for (int i = 0; i < MAX_SHARDS; i++)
        n += q->snaps[i] ? q->count[i] : 0;
    return n;
}

/* ------------------------------------------------------------ sorting */

enum sort_by { S_CID, S_START, S_SUBS, S_PENDING, S_MSGS_TO, S_MSGS_FROM, S_BYTES_TO, S_BYTES_FROM, S_LAST, S_IDLE,
               S_UPTIME, S_STOP, S_REASON };

/* nats-server 2.9.10's SortOpt values (no "rtt" yet) */
static const char *const sort_names[] = {"cid", "start", "subs", "pending", "msgs_to", "msgs_from", "bytes_to",
                                         "bytes_from", "last", "idle", "uptime", "stop", "reason"};

struct sort_ctx {
    enum sort_by by;
    int64_t now;
};

static int cmp_u(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }
static int cmp_i(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

static int64_t uptime_of(const struct conn_snap *c, int64_t now)
{
    return (c->stop_ns ? c->stop_ns : now) - c->start_ns;
}

/* The order nats-server sorts in: cid and start ascending, uptime and
 * reason ascending, everything else descending. "idle" compares
 * last_activity - start, as 2.9.10's byIdle does. Ties go by cid, so that
 * pages are stable from one request to the next; for uptime the higher cid
 * first, since the shards' clocks tick in milliseconds and, of two
 * connections started in the same one, the later is the younger. */
static int conn_cmp(const void *pa, const void *pb, void *arg)
{
    const struct conn_snap *a = *(const struct conn_snap *const *)pa, *b = *(const struct conn_snap *const *)pb;
    const struct sort_ctx *s = arg;
    int c = 0;
    switch (s->by) {
    case S_CID:
    case S_START: break;
    case S_SUBS: c = -cmp_u(a->nsubs, b->nsubs); break;
    case S_PENDING: c = -cmp_u(a->pending, b->pending); break;
    case S_MSGS_TO: c = -cmp_u(a->out_msgs, b->out_msgs); break;
    case S_MSGS_FROM: c = -cmp_u(a->in_msgs, b->in_msgs); break;
    case S_BYTES_TO: c = -cmp_u(a->out_bytes, b->out_bytes); break;
    case S_BYTES_FROM: c = -cmp_u(a->in_bytes, b->in_bytes); break;
    case S_LAST: c = -cmp_i(a->last_activity_ns, b->last_activity_ns); break;
    case S_IDLE: c = -cmp_i(a->last_activity_ns - a->start_ns, b->last_activity_ns - b->start_ns); break;
    case S_UPTIME: c = cmp_i(uptime_of(a, s->now), uptime_of(b, s->now)); break;
    case S_STOP: c = -cmp_i(a->stop_ns, b->stop_ns); break;
    case S_REASON: c = strcmp(a->reason, b->reason); break;
    }
    if (c)
        return c;
    return s->by == S_UPTIME ? -cmp_u(a->cid, b->cid) : cmp_u(a->cid, b->cid);
}

/* ------------------------------------------------------------ output */

/* getRTT: below a millisecond truncated to microseconds, then Duration.String() */
static void rtt_str(char *out, size_t cap, int64_t rtt)
{
    if (rtt < 0)
        rtt = 0;
    if (rtt > 1000 && rtt < 1000000)
        rtt -= rtt % 1000;
    fmt_go_duration(out, cap, rtt);
}

static void write_sub_detail(struct jw *w, const struct sub_snap *s, uint64_t cid, const char *account)
{
    jw_obj_begin(w, NULL);
    if (account)
        jw_str(w, "account", account);
    jw_str(w, "subject", s->subject);
    if (s->queue && *s->queue)
        jw_str(w, "qgroup", s->queue);
    jw_str(w, "sid", s->sid);
    jw_uint(w, "msgs", s->msgs);
    if (s->max)
        jw_uint(w, "max", s->max);
    jw_uint(w, "cid", cid);
    jw_obj_end(w);
}

struct connz_opts {
    bool auth, subs, detail;
};

static void write_conn(struct jw *w, const struct conn_snap *c, const struct connz_opts *o, int64_t now)
{
    char b[64];
    int64_t end = c->stop_ns ? c->stop_ns : now; /* a closed connection's times stop at its close */
    jw_obj_begin(w, NULL);
    jw_uint(w, "cid", c->cid);
    jw_str(w, "kind", "Client");
    jw_str(w, "type", "nats");
    jw_str(w, "ip", c->ip);
    jw_int(w, "port", c->port);
    jw_time(w, "start", c->start_ns);
    jw_time(w, "last_activity", c->last_activity_ns);
    if (c->stop_ns) {
        jw_time(w, "stop", c->stop_ns);
        if (c->reason[0])
            jw_str(w, "reason", c->reason);
    }
    rtt_str(b, sizeof b, c->rtt_ns);
    jw_str(w, "rtt", b);
    fmt_uptime(b, sizeof b, end - c->start_ns);
    jw_str(w, "uptime", b);
    fmt_uptime(b, sizeof b, end - c->last_activity_ns);
    jw_str(w, "idle", b);
    jw_uint(w, "pending_bytes", c->pending);
    jw_uint(w, "in_msgs", c->in_msgs);
    jw_uint(w, "out_msgs", c->out_msgs);
    jw_uint(w, "in_bytes", c->in_bytes);
    jw_uint(w, "out_bytes", c->out_bytes);
    jw_uint(w, "subscriptions", c->nsubs);
    if (c->name && *c->name)
        jw_str(w, "name", c->name);
    if (c->lang && *c->lang)
        jw_str(w, "lang", c->lang);
    if (c->version && *c->version)
        jw_str(w, "version", c->version);
    if (c->tls_version) {
        jw_str(w, "tls_version", c->tls_version);
        jw_str(w, "tls_cipher_suite", c->tls_cipher);
    }
    if (o->auth && c->user && *c->user)
        jw_str(w, "authorized_user", c->user);
    if (o->auth && c->account)
        jw_str(w, "account", c->account);
    if (c->nsubs_list && o->detail) {
        jw_arr_begin(w, "subscriptions_list_detail");
        for (uint32_t i = 0; i < c->nsubs_list; i++)
            write_sub_detail(w, &c->subs[i], c->cid, NULL);
        jw_arr_end(w);
    } else if (c->nsubs_list && o->subs) {
        jw_arr_begin(w, "subscriptions_list");
        for (uint32_t i = 0; i < c->nsubs_list; i++)
            jw_str(w, NULL, c->subs[i].subject);
        jw_arr_end(w);
    }
    jw_obj_end(w);
}

/* ------------------------------------------------------------ /connz */

enum conn_state { ST_OPEN, ST_CLOSED, ST_ALL };

static bool str_is(const char *s, const char *v, size_t vn)
{
    return s && strlen(s) == vn && memcmp(s, v, vn) == 0;
}

static int decode_state(const struct mreq *q, enum conn_state *st, struct reply *r)
{
    size_t n;
    char *s = q_get(q, "state", &n);
    *st = ST_OPEN;
    int rc = 0;
    if (s && n) {
        if (n == 4 && !strncasecmp(s, "open", 4))
            *st = ST_OPEN;
        else if (n == 6 && !strncasecmp(s, "closed", 6))
            *st = ST_CLOSED;
        else if (n == 3 && (!strncasecmp(s, "any", 3) || !strncasecmp(s, "all", 3)))
            *st = ST_ALL;
        else {
            reply_error_val(r, "Error decoding state for ", s, n, "");
            rc = -1;
        }
    }
    free(s);
    return rc;
}

struct connz_req {
    struct connz_opts o;
    int64_t offset, limit;
    uint64_t cid;
    enum conn_state state;
    enum sort_by by;
    char *user, *acc;
    size_t usern, accn;
};

/* Every parameter decoded in nats-server's order (HandleConnz), the
 * request counted, then the errors Connz() itself returns. */
static int connz_params(struct monitor *m, const struct mreq *q, struct connz_req *z, struct reply *r)
{
    if (q_bool(q, "auth", &z->o.auth, r) < 0 || q_subs(q, &z->o.subs, &z->o.detail, r) < 0 ||
        q_int(q, "offset", &z->offset, r) < 0 || q_int(q, "limit", &z->limit, r) < 0 ||
        q_uint64(q, "cid", &z->cid, r) < 0 || decode_state(q, &z->state, r) < 0)
        return -1;
    size_t sortn = 0;
    char *sort = q_get(q, "sort", &sortn);
    z->user = q_get(q, "user", &z->usern);
    z->acc = q_get(q, "acc", &z->accn);
    m->stats[ST_CONNZ]++;
    z->by = S_CID;
    if (sort && sortn) {
        size_t i, n = sizeof sort_names / sizeof sort_names[0];
        for (i = 0; i < n && !str_is(sort_names[i], sort, sortn); i++)
            ;
        if (i == n) {
            reply_error_val(r, "invalid sorting option: ", sort, sortn, "");
            free(sort);
            return -1;
        }
        z->by = (enum sort_by)i;
    }
    free(sort);
    if (z->offset < 0)
        z->offset = 0;
    if (z->limit <= 0)
        z->limit = DEFAULT_LIST_SIZE;
    if (z->by == S_STOP && z->state != ST_CLOSED)
        return reply_error(r, "sort by stop only valid on closed connections"), -1;
    if (z->by == S_REASON && z->state != ST_CLOSED)
        return reply_error(r, "sort by reason only valid on closed connections"), -1;
    if (z->cid > 0)
        z->limit = 1;
    return 0;
}

/* The connections to list, into v (room for all): the cid searched for,
 * or those of the user asked for. 2.9.10 looks for a cid among the closed
 * connections only when the state is closed or all. */
static bool in_account(const struct conn_snap *c, const char *acc, size_t an)
{
    return !acc || !an || str_is(c->account ? c->account : "$G", acc, an);
}

/* The connections asked for; *total: those of the account asked for (all
 * without ?acc), before the user filter, as nats-server 2.9.10 counts. */
static uint32_t connz_select(const struct connz_req *z, const struct snaps *sn, const struct conn_snap **v,
                             uint64_t *total)
{
    uint32_t n = 0;
    *total = 0;
    for (int pass = 0; pass < 2; pass++) {
        const struct query *q = pass ? &sn->closed : &sn->open;
        if (!(pass ? sn->have_closed : sn->have_open))
            continue;
        for (int i = 0; i < MAX_SHARDS; i++)
            for (uint32_t k = 0; q->snaps[i] && k < q->count[i]; k++) {
                const struct conn_snap *c = &q->snaps[i][k];
                if (!in_account(c, z->acc, z->accn))
                    continue;
                ++*total;
                if (z->cid > 0) {
                    if (c->cid != z->cid || pass != (z->state != ST_OPEN))
                        continue;
                } else if (z->user && z->usern && !str_is(c->user, z->user, z->usern)) {
                    continue;
                }
                v[n++] = c;
            }
    }
    return n;
}

void ep_connz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    struct connz_req z = {0};
    struct snaps sn = {0};
    const struct conn_snap **v = NULL;
    if (connz_params(m, q, &z, r) < 0)
        goto out;
    int64_t now = wall_ns();
    struct jw w;
    jw_init(&w, !m->compact);
    jw_obj_begin(&w, NULL);
    bool known = !z.acc || !z.accn;
    for (int i = 0; !known && i < m->srv->naccounts; i++)
        known = str_is(m->srv->acc[i].name, z.acc, z.accn);
    if (!known) {
        /* lookupAccount failed: Connz returns before it fills the id */
        jw_str(&w, "server_id", "");
        jw_time(&w, "now", now);
        jw_int(&w, "num_connections", 0);
        jw_int(&w, "total", 0);
        jw_int(&w, "offset", z.offset);
        jw_int(&w, "limit", z.limit);
        jw_null(&w, "connections");
        jw_obj_end(&w);
        reply_json(r, &w);
        goto out;
    }
    bool want_subs = z.o.subs || z.o.detail;
    if ((sn.have_open = z.state != ST_CLOSED))
        ask(m, &sn.open, Q_OPEN_CONNS, want_subs);
    if ((sn.have_closed = z.state != ST_OPEN))
        ask(m, &sn.closed, Q_CLOSED_CONNS, want_subs);
    uint64_t total = (sn.have_open ? count_snaps(&sn.open) : 0) + (sn.have_closed ? count_snaps(&sn.closed) : 0);
    v = calloc((size_t)total + 1, sizeof *v);
    uint32_t n = v ? connz_select(&z, &sn, v, &total) : 0;
    struct sort_ctx sc = {.by = z.by, .now = wall_ns()};
    if (n > 1)
        qsort_r(v, n, sizeof *v, conn_cmp, &sc);
    uint64_t lo = (uint64_t)z.offset < n ? (uint64_t)z.offset : n;
    uint64_t hi = (uint64_t)z.offset + (uint64_t)z.limit < n ? (uint64_t)z.offset + (uint64_t)z.limit : n;
    jw_str(&w, "server_id", m->srv->server_id);
    jw_time(&w, "now", now);
    jw_uint(&w, "num_connections", hi - lo);
    jw_uint(&w, "total", total); /* before the user filter, as 2.9.10 */
    jw_int(&w, "offset", z.offset);
    jw_int(&w, "limit", z.limit);
    jw_arr_begin(&w, "connections");
    for (uint64_t i = lo; i < hi; i++)
        write_conn(&w, v[i], &z.o, now);
    jw_arr_end(&w);
    jw_obj_end(&w);
    reply_json(r, &w);
out:
    free(v);
    if (sn.have_open)
        query_free(&sn.open);
    if (sn.have_closed)
        query_free(&sn.closed);
    free(z.user);
    free(z.acc);
}

/* ------------------------------------------------------------ /subsz */

/* IsValidLiteralSubject: no empty token, no '*' or '>' token (nothing else
 * is checked: whitespace passes) */
static bool valid_literal(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        size_t len = i - start;
        if (len == 0)
            return false;
        if (len == 1 && (s[start] == '*' || s[start] == '>'))
            return false;
        start = i + 1;
    }
    return true;
}

/* nats-server's matchLiteral: does literal match the subscription subject? */
static bool match_literal(const char *lit, size_t ll, const char *subj, size_t ls)
{
    size_t li = 0;
    for (size_t i = 0; i < ls; i++) {
        if (li >= ll)
            return false;
        if (subj[i] == '*' && (i == 0 || subj[i - 1] == '.')) {
            if (i == ls - 1) { /* the last token: the rest of the literal must be one token */
                for (;; li++) {
                    if (li >= ll)
                        return true;
                    if (lit[li] == '.')
                        return false;
                }
            } else if (subj[i + 1] == '.') {
                for (;; li++) {
                    if (li >= ll)
                        return false;
                    if (lit[li] == '.')
                        break;
                }
                i++;
            }
        } else if (subj[i] == '>' && (i == 0 || subj[i - 1] == '.') && i == ls - 1) {
            return true;
        }
        if (subj[i] != lit[li])
            return false;
        li++;
    }
    return li >= ll;
}

struct sub_ref {
    const struct sub_snap *s;
    uint64_t cid;
};

void ep_subsz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    m->stats[ST_SUBSZ]++;
    bool subs = false;
    int64_t offset = 0, limit = 0;
    if (q_bool(q, "subs", &subs, r) < 0 || q_int(q, "offset", &offset, r) < 0 || q_int(q, "limit", &limit, r) < 0)
        return;
    size_t tn = 0, an = 0;
    char *test = q_get(q, "test", &tn), *acc = q_get(q, "acc", &an);
    struct query oq;
    bool asked = false;
    struct sub_ref *list = NULL;
    if (offset < 0)
        offset = 0;
    if (limit <= 0)
        limit = DEFAULT_LIST_SIZE;
    if (test && tn && !valid_literal(test, tn)) {
        reply_error_val(r, "invalid test subject, must be valid publish subject: ", test, tn, "");
        goto out;
    }
    bool other_acc = acc && an && !(an == 2 && !memcmp(acc, "$G", 2));
    uint64_t n = 0, lo = 0, hi = 0;
    if (subs && !other_acc) {
        ask(m, &oq, Q_OPEN_CONNS, true);
        asked = true;
        uint64_t cap = 0;
        for (int i = 0; i < MAX_SHARDS; i++)
            for (uint32_t k = 0; oq.snaps[i] && k < oq.count[i]; k++)
                cap += oq.snaps[i][k].nsubs_list;
        list = calloc((size_t)cap + 1, sizeof *list);
        for (int i = 0; list && i < MAX_SHARDS; i++)
            for (uint32_t k = 0; oq.snaps[i] && k < oq.count[i]; k++) {
                const struct conn_snap *c = &oq.snaps[i][k];
                for (uint32_t j = 0; j < c->nsubs_list; j++) {
                    const struct sub_snap *s = &c->subs[j];
                    if (test && tn && !match_literal(test, tn, s->subject, strlen(s->subject)))
                        continue;
                    list[n++] = (struct sub_ref){s, c->cid};
                }
            }
        lo = (uint64_t)offset < n ? (uint64_t)offset : n;
        hi = (uint64_t)offset + (uint64_t)limit < n ? (uint64_t)offset + (uint64_t)limit : n;
    }
    struct jw w;
    jw_init(&w, !m->compact);
    jw_obj_begin(&w, NULL);
    if (hi > lo) { /* with a page: the whole Subsz; without: its SublistStats alone */
        jw_str(&w, "server_id", m->srv->server_id);
        jw_time(&w, "now", wall_ns());
    }
    write_sublist_stats(m, &w, other_acc);
    if (hi > lo) {
        jw_uint(&w, "total", hi - lo); /* 2.9.10 counts the page, not the matches */
        jw_int(&w, "offset", offset);
        jw_int(&w, "limit", limit);
        jw_arr_begin(&w, "subscriptions_list");
        for (uint64_t i = lo; i < hi; i++)
            write_sub_detail(&w, list[i].s, list[i].cid, "$G");
        jw_arr_end(&w);
    }
    jw_obj_end(&w);
    reply_json(r, &w);
out:
    free(list);
    if (asked)
        query_free(&oq);
    free(test);
    free(acc);
}

/* The Subsz nats-server's $SYS SUBSZ requests get (sysw): always the whole
 * object, subscriptions of every account (or of acc alone, with its index
 * figures), each named with its account. */
void write_sys_subsz(struct monitor *m, struct jw *w, const struct account *acc, bool subs, const char *test,
                     int64_t offset, int64_t limit)
{
    struct query oq;
    struct sub_ref *list = NULL;
    const char **accs = NULL;
    uint64_t n = 0, lo = 0, hi = 0;
    size_t tn = test ? strlen(test) : 0;
    if (offset < 0)
        offset = 0;
    if (limit <= 0)
        limit = 1024;
    if (subs) {
        ask(m, &oq, Q_OPEN_CONNS, true);
        uint64_t cap = 0;
        for (int i = 0; i < MAX_SHARDS; i++)
            for (uint32_t k = 0; oq.snaps[i] && k < oq.count[i]; k++)
                cap += oq.snaps[i][k].nsubs_list;
        list = calloc((size_t)cap + 1, sizeof *list);
        accs = calloc((size_t)cap + 1, sizeof *accs);
        for (int i = 0; list && accs && i < MAX_SHARDS; i++)
            for (uint32_t k = 0; oq.snaps[i] && k < oq.count[i]; k++) {
                const struct conn_snap *c = &oq.snaps[i][k];
                const char *an = c->account ? c->account : "$G";
                if (acc && strcmp(an, acc->name) != 0)
                    continue;
                for (uint32_t j = 0; j < c->nsubs_list; j++) {
                    const struct sub_snap *s = &c->subs[j];
                    if (test && tn && !match_literal(test, tn, s->subject, strlen(s->subject)))
                        continue;
                    accs[n] = an;
                    list[n++] = (struct sub_ref){s, c->cid};
                }
            }
        lo = (uint64_t)offset < n ? (uint64_t)offset : n;
        hi = (uint64_t)offset + (uint64_t)limit < n ? (uint64_t)offset + (uint64_t)limit : n;
    }
    jw_obj_begin(w, NULL);
    jw_str(w, "server_id", m->srv->server_id);
    jw_time(w, "now", wall_ns());
    if (acc) {
        uint64_t nsubs = atomic_load_explicit(&acc->sl.count, memory_order_relaxed);
        jw_uint(w, "num_subscriptions", nsubs);
        jw_uint(w, "num_cache", 0);
        jw_uint(w, "num_inserts", atomic_load_explicit(&acc->sl.inserts, memory_order_relaxed));
        jw_uint(w, "num_removes", atomic_load_explicit(&acc->sl.removes, memory_order_relaxed));
        jw_uint(w, "num_matches", 0);
        jw_double(w, "cache_hit_rate", 0);
        jw_uint(w, "max_fanout", 0);
        jw_double(w, "avg_fanout", 0);
    } else {
        write_sublist_stats(m, w, false);
    }
    jw_uint(w, "total", hi - lo);
    jw_int(w, "offset", offset);
    jw_int(w, "limit", limit);
    if (hi > lo) {
        jw_arr_begin(w, "subscriptions_list");
        for (uint64_t i = lo; i < hi; i++)
            write_sub_detail(w, list[i].s, list[i].cid, accs[i]);
        jw_arr_end(w);
    }
    jw_obj_end(w);
    free(list);
    free(accs);
    if (subs)
        query_free(&oq);
}

/* ------------------------------------------------------------ /routez */

static int cmp_rid(const void *a, const void *b)
{
    const struct conn_snap *x = a, *y = b;
    return x->cid < y->cid ? -1 : x->cid > y->cid;
}

/* As nats-server 2.9.10's Routez(): every registered route, by rid. */
void ep_routez(struct monitor *m, const struct mreq *q, struct reply *r)
{
    bool subs = false, det = false;
    if (q_subs(q, &subs, &det, r) < 0)
        return;
    m->stats[ST_ROUTEZ]++;
    struct query rq;
    ask(m, &rq, Q_ROUTES, subs || det);
    uint32_t n = count_snaps(&rq), k = 0;
    struct conn_snap *v = calloc(n ? n : 1, sizeof *v);
    for (int i = 0; v && i < MAX_SHARDS; i++)
        for (uint32_t j = 0; rq.snaps[i] && j < rq.count[i]; j++)
            v[k++] = rq.snaps[i][j];
    if (v)
        qsort(v, k, sizeof *v, cmp_rid);
    int64_t now = wall_ns();
    struct jw w;
    jw_init(&w, !m->compact);
    jw_obj_begin(&w, NULL);
    write_head(m, &w, now);
    jw_int(&w, "num_routes", k);
    jw_arr_begin(&w, "routes");
    char b[64];
    for (uint32_t i = 0; i < k; i++) {
        const struct conn_snap *c = &v[i];
        jw_obj_begin(&w, NULL);
        jw_uint(&w, "rid", c->cid);
        jw_str(&w, "remote_id", c->remote_id ? c->remote_id : "");
        jw_bool(&w, "did_solicit", c->did_solicit);
        jw_bool(&w, "is_configured", c->is_configured);
        jw_str(&w, "ip", c->ip);
        jw_int(&w, "port", c->port);
        jw_time(&w, "start", c->start_ns);
        jw_time(&w, "last_activity", c->last_activity_ns);
        rtt_str(b, sizeof b, c->rtt_ns);
        jw_str(&w, "rtt", b);
        fmt_uptime(b, sizeof b, now - c->start_ns);
        jw_str(&w, "uptime", b);
        fmt_uptime(b, sizeof b, now - c->last_activity_ns);
        jw_str(&w, "idle", b);
        jw_uint(&w, "pending_size", c->pending);
        jw_uint(&w, "in_msgs", c->in_msgs);
        jw_uint(&w, "out_msgs", c->out_msgs);
        jw_uint(&w, "in_bytes", c->in_bytes);
        jw_uint(&w, "out_bytes", c->out_bytes);
        jw_uint(&w, "subscriptions", c->nsubs);
        if (c->pool_idx >= 0) /* nats-server 2.10's pooled routes */
            jw_int(&w, "pool_idx", c->pool_idx);
        if (c->route_account)
            jw_str(&w, "account", c->route_account);
        if (c->route_comp)
            jw_str(&w, "compression", c->route_comp);
        if (c->nsubs_list && det) {
            jw_arr_begin(&w, "subscriptions_list_detail");
            for (uint32_t j = 0; j < c->nsubs_list; j++)
                write_sub_detail(&w, &c->subs[j], c->cid, NULL);
            jw_arr_end(&w);
        } else if (c->nsubs_list && subs) {
            jw_arr_begin(&w, "subscriptions_list");
            for (uint32_t j = 0; j < c->nsubs_list; j++)
                jw_str(&w, NULL, c->subs[j].subject);
            jw_arr_end(&w);
        }
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    free(v); /* the snapshots' strings are freed with the query */
    query_free(&rq);
    reply_json(r, &w);
}
