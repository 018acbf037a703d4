/* sysw: see sysreq.h.
 *
 * What each request gets is nats-server 2.9.10's (events.go: the
 * ServerAPIResponse {"server","data","error"} and the zReq handlers;
 * tests/proto/test_proto_system.py pins them):
 *   $SYS.REQ.SERVER.PING            {"server",..."statsz":{...}}
 *   $SYS.REQ.SERVER.PING.<X>        X = STATSZ VARZ CONNZ SUBSZ HEALTHZ ACCOUNTZ JSZ ROUTEZ GATEWAYZ LEAFZ
 *   $SYS.REQ.SERVER.<id>.<X>        the same, this server only
 *   $SYS.REQ.ACCOUNT.<a>.<X>        X = CONNZ SUBSZ INFO STATZ CONNS LEAFZ JSZ
 *   $SYS.REQ.ACCOUNT.PING.STATZ     every account with connections
 *   $SYS.DEBUG.SUBSCRIBERS          how many subscribers a subject has
 * The request's payload, when there is one, is the endpoint's options as
 * JSON (nats-server's ConnzOptions, SubszOptions, ... and the event filter
 * {"server_name","cluster","host","tags","domain"}: a server the filter
 * does not name stays silent). The options become the HTTP endpoint's
 * query string, so both paths share one decoder. */
#include "sysreq.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/events.h"
#include "../core/log.h"
#include "../core/shard.h"
#include "mon.h"

#define SYSW_QUEUE_MAX 4096          /* requests waiting; beyond, they are dropped (and logged) */
#define STATSZ_FIRST_MS 250          /* nats-server's statsz heartbeat: 250 ms, doubling... */
#define STATSZ_MAX_MS 30000          /* ...up to every 30 s */

struct sysreq {
    struct sysreq *next;
    char *subj, *reply;
    char *msg;                       /* headers (hdr bytes) then the body */
    uint32_t size;
    int32_t hdr;
};

struct sysw {
    struct server *srv;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sysreq *head, **tail;     /* under mu */
    uint32_t n;
    bool stop;
    int64_t dropped_warned_ms;
    struct monitor m;                /* the endpoints' context: compact JSON, its own counters */
    int64_t next_statsz_ms, statsz_iv_ms;
};

static void req_free(struct sysreq *r)
{
    free(r->subj);
    free(r->reply);
    free(r->msg);
    free(r);
}

void sysw_submit(struct sysw *w, const struct msgview *m)
{
    struct sysreq *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->subj = strndup(m->subj, m->subj_len);
    r->reply = strndup(m->reply, m->reply_len);
    r->msg = malloc(m->size + 1);
    if (!r->subj || !r->reply || !r->msg) {
        req_free(r);
        return;
    }
    memcpy(r->msg, m->payload, m->size);
    r->msg[m->size] = 0;
    r->size = m->size;
    r->hdr = m->hdr;
    pthread_mutex_lock(&w->mu);
    bool take = !w->stop && w->n < SYSW_QUEUE_MAX;
    if (take) {
        *w->tail = r;
        w->tail = &r->next;
        w->n++;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (!take) {
        int64_t now = now_ms();
        if (now - w->dropped_warned_ms >= 1000) { /* a benign race on the rate limit: shard 0 alone writes it */
            w->dropped_warned_ms = now;
            log_warn("Internal system request queue is full: dropping %s", r->subj);
        }
        req_free(r);
    }
}

/* ---- building answers ---- */

static void post_msg(struct sysw *w, const char *subj, struct jw *j, bool last)
{
    struct sys_msg *m = calloc(1, sizeof *m);
    if (!m || j->oom || !(m->subj = strdup(subj))) {
        free(m);
        jw_free(j);
        return;
    }
    m->acc = w->srv->sacc;
    m->last = last;
    m->body = j->buf;
    m->len = j->len;
    j->buf = NULL;
    sys_post(w->srv, 0, m);
}

static void post(struct sysw *w, const char *subj, struct jw *j) { post_msg(w, subj, j, false); }

/* {"server":{...},"data":<body>} with body a JSON value (NULL: null). */
static void answer_data(struct sysw *w, const char *reply, const char *body, size_t len)
{
    struct jw j;
    jw_init(&j, false);
    jw_obj_begin(&j, NULL);
    sys_server_info(w->srv, &j, "server");
    /* the body is complete JSON: appended as the value of "data" */
    jw_null(&j, "data");
    if (body && !j.oom) {
        j.len -= 4; /* "null" */
        if (j.len + len + 2 > j.cap) {
            size_t cap = j.len + len + 64;
            char *nb = realloc(j.buf, cap);
            if (!nb) {
                jw_free(&j);
                return;
            }
            j.buf = nb;
            j.cap = cap;
        }
        memcpy(j.buf + j.len, body, len);
        j.len += len;
    }
    jw_obj_end(&j);
    post(w, reply, &j);
}

static void answer_error(struct sysw *w, const char *reply, int code, const char *desc, bool data_null)
{
    struct jw j;
    jw_init(&j, false);
    jw_obj_begin(&j, NULL);
    sys_server_info(w->srv, &j, "server");
    if (data_null)
        jw_null(&j, "data");
    jw_obj_begin(&j, "error");
    jw_int(&j, "code", code);
    jw_str(&j, "description", desc);
    jw_obj_end(&j);
    jw_obj_end(&j);
    post(w, reply, &j);
}

/* Run an endpoint handler with query string qs and answer with its body. */
static void answer_endpoint(struct sysw *w, const char *reply, handler_fn h, const char *qs)
{
    struct mreq q = {.query = qs, .qlen = strlen(qs)};
    struct reply r = {.status = 200};
    h(&w->m, &q, &r);
    if (r.status == 200 && r.body)
        answer_data(w, reply, r.body, r.len);
    else if (r.body) { /* a handler's 400: its text, as nats-server's error */
        char *d = strndup(r.body, r.len);
        if (d) {
            size_t n = strlen(d);
            while (n && (d[n - 1] == '\n' || d[n - 1] == '\r'))
                d[--n] = 0;
            answer_error(w, reply, 500, d, true); /* nats-server's zReq: a handler's error is a 500 */
        }
        free(d);
    }
    if (!r.static_body)
        free(r.body);
}

static void statsz(struct sysw *w, const char *subj)
{
    struct server *srv = w->srv;
    struct server_stats st;
    server_stats(srv, &st);
    sample_cpu(&w->m);
    int active = 0;
    for (int i = 0; i < srv->naccounts; i++)
        if (atomic_load_explicit(&srv->acc[i].nconns, memory_order_relaxed) > 0)
            active++;
    struct jw j;
    jw_init(&j, false);
    jw_obj_begin(&j, NULL);
    sys_server_info(srv, &j, "server");
    jw_obj_begin(&j, "statsz");
    jw_time(&j, "start", srv->start_unix_ns);
    jw_int(&j, "mem", rss_bytes());
    if (!w->m.cores)
        w->m.cores = mon_count_cpus();
    jw_int(&j, "cores", w->m.cores);
    jw_double(&j, "cpu", w->m.cpu);
    jw_uint(&j, "connections", st.connections);
    jw_uint(&j, "total_connections", st.total_connections);
    jw_int(&j, "active_accounts", active);
    jw_uint(&j, "subscriptions", st.subscriptions);
    jw_obj_begin(&j, "sent");
    jw_uint(&j, "msgs", st.out_msgs);
    jw_uint(&j, "bytes", st.out_bytes);
    jw_obj_end(&j);
    jw_obj_begin(&j, "received");
    jw_uint(&j, "msgs", st.in_msgs);
    jw_uint(&j, "bytes", st.in_bytes);
    jw_obj_end(&j);
    jw_uint(&j, "slow_consumers", st.slow_consumers);
    jw_int(&j, "active_servers", 1);
    jw_obj_end(&j);
    jw_obj_end(&j);
    post(w, subj, &j);
}

/* ---- options: JSON to a query string ---- */

struct qs {
    char buf[1024];
    size_t len;
};

static void qs_add(struct qs *q, const char *key, const char *val)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t need = strlen(key) + 3 * strlen(val) + 2;
    if (q->len + need >= sizeof q->buf)
        return;
    if (q->len)
        q->buf[q->len++] = '&';
    q->len += (size_t)sprintf(q->buf + q->len, "%s=", key);
    for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.') {
            q->buf[q->len++] = (char)*p;
        } else {
            q->buf[q->len++] = '%';
            q->buf[q->len++] = hex[*p >> 4];
            q->buf[q->len++] = hex[*p & 15];
        }
    }
    q->buf[q->len] = 0;
}

/* A JSON option as the endpoint's query parameter (strings, integers,
 * booleans as "true"/"false"); absent or null: nothing. */
static void qs_opt(struct qs *q, json_t *o, const char *jkey, const char *qkey)
{
    json_t *v = o ? json_object_get(o, jkey) : NULL;
    char tmp[32];
    if (json_is_string(v))
        qs_add(q, qkey, json_string_value(v));
    else if (json_is_integer(v))
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v)), qs_add(q, qkey, tmp);
    else if (json_is_boolean(v))
        qs_add(q, qkey, json_is_true(v) ? "true" : "false");
}

static const char *const conn_states[] = {"open", "closed", "all"};

static void connz_opts(struct qs *q, json_t *o)
{
    qs_opt(q, o, "sort", "sort");
    qs_opt(q, o, "auth", "auth");
    if (o && json_is_true(json_object_get(o, "subscriptions_detail")))
        qs_add(q, "subs", "detail");
    else
        qs_opt(q, o, "subscriptions", "subs");
    qs_opt(q, o, "offset", "offset");
    qs_opt(q, o, "limit", "limit");
    qs_opt(q, o, "cid", "cid");
    json_t *st = o ? json_object_get(o, "state") : NULL;
    if (json_is_integer(st) && json_integer_value(st) >= 0 && json_integer_value(st) <= 2)
        qs_add(q, "state", conn_states[json_integer_value(st)]);
    qs_opt(q, o, "user", "user");
    qs_opt(q, o, "mqtt_client", "mqtt_client");
}

/* nats-server's EventFilterOptions: true when this server is not asked. */
static bool filtered_out(struct sysw *w, json_t *o)
{
    if (!o)
        return false;
    const struct opts *op = cur_opts(&w->m);
    const char *name = op->server_name ? op->server_name : w->srv->server_id;
    json_t *v;
    if (json_is_string(v = json_object_get(o, "server_name")) && *json_string_value(v) &&
        !strstr(name, json_string_value(v)))
        return true;
    if (json_is_string(v = json_object_get(o, "host")) && *json_string_value(v) && !strstr(op->host, json_string_value(v)))
        return true;
    if (json_is_string(v = json_object_get(o, "cluster")) && *json_string_value(v))
        return true; /* gannet is in no cluster yet */
    if (json_is_array(v = json_object_get(o, "tags")) && json_array_size(v) > 0)
        return true; /* nor has it server tags */
    if (json_is_string(v = json_object_get(o, "domain")) && *json_string_value(v))
        return true; /* nor a JetStream domain */
    return false;
}

/* The options' fields have the types of nats-server's option structs (a
 * mismatch fails its json.Unmarshal: 400). */
static bool options_typed(json_t *o)
{
    static const char *const strs[] = {"server_name", "cluster", "host", "domain", "sort", "user", "acc",
                                       "account", "test", "mqtt_client", NULL};
    static const char *const ints[] = {"offset", "limit", "cid", "state", NULL};
    static const char *const bools[] = {"auth", "subscriptions", "subscriptions_detail", "include_unused", NULL};
    for (int i = 0; strs[i]; i++) {
        json_t *v = json_object_get(o, strs[i]);
        if (v && !json_is_string(v) && !json_is_null(v))
            return false;
    }
    for (int i = 0; ints[i]; i++) {
        json_t *v = json_object_get(o, ints[i]);
        if (v && !json_is_integer(v) && !json_is_null(v))
            return false;
    }
    for (int i = 0; bools[i]; i++) {
        json_t *v = json_object_get(o, bools[i]);
        if (v && !json_is_boolean(v) && !json_is_null(v))
            return false;
    }
    json_t *v = json_object_get(o, "tags");
    return !v || json_is_array(v) || json_is_null(v);
}

/* ---- dispatch ---- */

static int split(char *s, char **tok, int max)
{
    int n = 0;
    for (char *p = s; n < max;) {
        tok[n++] = p;
        char *d = strchr(p, '.');
        if (!d)
            break;
        *d = 0;
        p = d + 1;
    }
    return n;
}

/* $SYS.DEBUG.SUBSCRIBERS: the body is "subject [queue]"; the answer, how
 * many subscriptions of the requester's account (Nats-Request-Info's
 * "acc", else the system account) match it, as a plain number. */
static void debug_subscribers(struct sysw *w, struct sysreq *r, const char *body)
{
    struct server *srv = w->srv;
    struct account *acc = srv->sacc;
    if (r->hdr > 0) {
        const char *h = strstr(r->msg, "Nats-Request-Info: ");
        if (h && h < r->msg + r->hdr) {
            const char *end = memchr(h, '\n', (size_t)(r->msg + r->hdr - h));
            json_t *info = json_loadb(h + 19, end ? (size_t)(end - h - 19) : 0, 0, NULL);
            const char *an = json_is_object(info) ? json_string_value(json_object_get(info, "acc")) : NULL;
            struct account *a = an ? account_by_name(srv, an, strlen(an)) : NULL;
            if (a)
                acc = a;
            json_decref(info);
        }
    }
    char subj[512] = "", queue[256] = "";
    if (sscanf(body, "%511s %255s", subj, queue) < 1)
        return;
    struct match_result mr = {0};
    sublist_match(&acc->sl, subj, strlen(subj), &mr);
    uint64_t n = 0;
    if (!queue[0])
        n += mr.npsubs;
    for (uint32_t g = 0; g < mr.ngroups; g++) {
        const struct match_group *mg = &mr.groups[g];
        if (!queue[0] || (mg->n && strcmp(mg->members[0]->queue, queue) == 0))
            n += mg->n;
    }
    match_result_free(&mr);
    struct jw j;
    jw_init(&j, false);
    jw_uint(&j, NULL, n);
    post(w, r->reply, &j);
}

static void subsz_request(struct sysw *w, const char *reply, const struct account *a, json_t *o, bool subs)
{
    json_t *v;
    if (o && json_is_boolean(v = json_object_get(o, "subscriptions")))
        subs = json_is_true(v);
    const char *test = o ? json_string_value(json_object_get(o, "test")) : NULL;
    json_t *off = o ? json_object_get(o, "offset") : NULL, *lim = o ? json_object_get(o, "limit") : NULL;
    struct jw j;
    jw_init(&j, false);
    write_sys_subsz(&w->m, &j, a, subs, test, json_is_integer(off) ? json_integer_value(off) : 0,
                    json_is_integer(lim) ? json_integer_value(lim) : 0);
    if (!j.oom)
        answer_data(w, reply, j.buf, j.len);
    jw_free(&j);
}

static void server_request(struct sysw *w, const char *reply, const char *what, json_t *o)
{
    struct qs q = {0};
    if (!strcmp(what, "STATSZ"))
        return statsz(w, reply);
    if (!strcmp(what, "VARZ"))
        return answer_endpoint(w, reply, ep_varz, "");
    if (!strcmp(what, "CONNZ")) {
        connz_opts(&q, o);
        qs_opt(&q, o, "acc", "acc");
        return answer_endpoint(w, reply, ep_connz, q.buf);
    }
    if (!strcmp(what, "SUBSZ")) {
        const char *an = o ? json_string_value(json_object_get(o, "account")) : NULL;
        const struct account *a = an && *an ? account_by_name(w->srv, an, strlen(an)) : NULL;
        if (an && *an && !a)
            return answer_data(w, reply, NULL, 0);
        return subsz_request(w, reply, a, o, false);
    }
    if (!strcmp(what, "HEALTHZ"))
        return answer_endpoint(w, reply, ep_healthz, "");
    if (!strcmp(what, "ACCOUNTZ")) {
        qs_opt(&q, o, "account", "acc");
        return answer_endpoint(w, reply, ep_accountz, q.buf);
    }
    if (!strcmp(what, "JSZ"))
        return answer_endpoint(w, reply, ep_jsz, "");
    if (!strcmp(what, "ROUTEZ"))
        return answer_endpoint(w, reply, ep_routez, "");
    if (!strcmp(what, "GATEWAYZ"))
        return answer_endpoint(w, reply, ep_gatewayz, "");
    if (!strcmp(what, "LEAFZ"))
        return answer_endpoint(w, reply, ep_leafz, "");
    /* anything else: no answer, as nats-server subscribes to these alone */
}

static void statz_request(struct sysw *w, const char *reply, const struct account *only, json_t *o)
{
    bool unused = o && json_is_true(json_object_get(o, "include_unused"));
    const char *names[64];
    int nn = 0;
    json_t *list = o ? json_object_get(o, "accounts") : NULL;
    if (only) {
        names[nn++] = only->name;
    } else if (json_is_array(list)) {
        for (size_t i = 0; i < json_array_size(list) && nn < 64; i++)
            if (json_is_string(json_array_get(list, i)))
                names[nn++] = json_string_value(json_array_get(list, i));
    }
    struct jw j;
    jw_init(&j, false);
    int n = write_accstatz(&w->m, &j, names, nn, unused);
    if (n > 0 && !j.oom) /* nothing to tell: no answer (nats-server's statzReq) */
        answer_data(w, reply, j.buf, j.len);
    jw_free(&j);
}

static void account_request(struct sysw *w, const char *reply, const char *name, const char *what, json_t *o)
{
    struct server *srv = w->srv;
    if (!strcmp(name, "PING")) { /* asked of every account at once */
        if (!strcmp(what, "STATZ"))
            statz_request(w, reply, NULL, o);
        return;
    }
    struct account *a = account_by_name(srv, name, strlen(name));
    static const char *const known[] = {"CONNZ", "SUBSZ", "INFO", "STATZ", "CONNS", "LEAFZ", "JSZ", NULL};
    bool ok = false;
    for (int i = 0; known[i] && !ok; i++)
        ok = !strcmp(known[i], what);
    if (!ok)
        return;
    if (!a) {
        if (!strcmp(what, "STATZ") || !strcmp(what, "CONNS"))
            return; /* nothing to tell about an account this server does not have */
        char d[300];
        snprintf(d, sizeof d, "Account %s does not exist", name);
        return answer_error(w, reply, 500, d, true);
    }
    struct qs q = {0};
    if (!strcmp(what, "CONNZ")) {
        connz_opts(&q, o);
        qs_add(&q, "acc", a->name);
        return answer_endpoint(w, reply, ep_connz, q.buf);
    }
    if (!strcmp(what, "SUBSZ"))
        return subsz_request(w, reply, a, o, true);
    if (!strcmp(what, "LEAFZ"))
        return answer_endpoint(w, reply, ep_leafz, "");
    if (!strcmp(what, "JSZ"))
        return answer_error(w, reply, 500, "jetstream not enabled", true);
    if (!strcmp(what, "STATZ"))
        return statz_request(w, reply, a, o);
    if (!strcmp(what, "CONNS")) {
        if (atomic_load_explicit(&a->nconns, memory_order_relaxed) <= 0)
            return; /* nats-server answers only for an account with connections */
        struct jw j;
        jw_init(&j, false);
        sys_account_conns_json(srv, a, &j, NULL, 0);
        return post(w, reply, &j);
    }
    /* INFO */
    struct jw j;
    jw_init(&j, false);
    write_account_detail(&w->m, &j, NULL, a);
    if (!j.oom)
        answer_data(w, reply, j.buf, j.len);
    jw_free(&j);
}

/* Go's json.Unmarshal error for the texts nats-server's clients see most. */
static void json_error_text(const json_error_t *e, const char *body, char *out, size_t cap)
{
    if (e->position >= (int)strlen(body))
        snprintf(out, cap, "unexpected end of JSON input");
    else
        snprintf(out, cap, "invalid character '%c' looking for beginning of value", body[e->position]);
}

static void answer(struct sysw *w, struct sysreq *r)
{
    const char *body = r->hdr > 0 ? r->msg + r->hdr : r->msg;
    if (!strcmp(r->subj, "$SYS.DEBUG.SUBSCRIBERS"))
        return debug_subscribers(w, r, body);
    char subj[256];
    snprintf(subj, sizeof subj, "%s", r->subj);
    char *t[8];
    int n = split(subj, t, 8);
    if (n < 4 || strcmp(t[0], "$SYS") || strcmp(t[1], "REQ"))
        return;
    json_t *o = NULL;
    if (*body) { /* as json.Unmarshal: blanks alone are an error, null is no options */
        json_error_t e;
        o = json_loads(body, JSON_DECODE_ANY, &e);
        const char *bad = NULL;
        char d[200];
        if (!o) {
            json_error_text(&e, body, d, sizeof d);
            bad = d;
        } else if (json_is_null(o)) {
            json_decref(o);
            o = NULL;
        } else if (!json_is_object(o)) {
            bad = "json: cannot unmarshal array into Go value of type server.EventFilterOptions";
        } else if (!options_typed(o)) {
            bad = "json: cannot unmarshal into Go struct field of the wrong type";
        }
        if (bad) {
            json_decref(o);
            return answer_error(w, r->reply, 400, bad, false);
        }
    }
    if (!filtered_out(w, o)) {
        if (!strcmp(t[2], "SERVER") && n == 4 && !strcmp(t[3], "PING"))
            statsz(w, r->reply);
        else if (!strcmp(t[2], "SERVER") && n == 5 && (!strcmp(t[3], "PING") || !strcmp(t[3], w->srv->server_id)))
            server_request(w, r->reply, t[4], o);
        else if (!strcmp(t[2], "ACCOUNT") && n == 5)
            account_request(w, r->reply, t[3], t[4], o);
    }
    json_decref(o);
}

/* ---- the thread ---- */

static void heartbeat(struct sysw *w, int64_t now)
{
    if (now < w->next_statsz_ms)
        return;
    char subj[128];
    snprintf(subj, sizeof subj, "$SYS.SERVER.%s.STATSZ", w->srv->server_id);
    statsz(w, subj);
    w->statsz_iv_ms = w->statsz_iv_ms * 2 > STATSZ_MAX_MS ? STATSZ_MAX_MS : w->statsz_iv_ms * 2;
    w->next_statsz_ms = now + w->statsz_iv_ms;
}

static void *sysw_main(void *arg)
{
    struct sysw *w = arg;
    rcu_register_thread();
    w->statsz_iv_ms = STATSZ_FIRST_MS;
    w->next_statsz_ms = now_ms() + STATSZ_FIRST_MS;
    for (;;) {
        gannet_offline();
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->stop) {
            int64_t due = w->next_statsz_ms;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
            if (now >= due)
                break;
            int64_t until = due - now;
            ts.tv_sec += until / 1000;
            ts.tv_nsec += (until % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000)
                ts.tv_sec++, ts.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        }
        struct sysreq *list = w->head;
        w->head = NULL;
        w->tail = &w->head;
        w->n = 0;
        bool stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        rcu_thread_online();
        for (struct sysreq *r = list, *nx; r; r = nx) {
            nx = r->next;
            if (!stop)
                answer(w, r);
            req_free(r);
        }
        if (stop)
            break;
        watch_config(&w->m);
        heartbeat(w, now_ms());
        gannet_quiescent();
    }
    rcu_unregister_thread();
    return NULL;
}

int sysw_start(struct server *s)
{
    if (!s->sacc)
        return 0;
    struct sysw *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->srv = s;
    w->tail = &w->head;
    w->m.srv = s;
    w->m.compact = true;
    w->m.conf_gen = atomic_load(&s->conf)->gen;
    w->m.config_load_ns = s->start_unix_ns;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    sample_cpu(&w->m);
    int rc = -pthread_create(&w->thread, NULL, sysw_main, w);
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->started = true;
    s->sysw = w;
    return 0;
}

void sysw_stop(struct server *s)
{
    struct sysw *w = s->sysw;
    if (!w || !w->started)
        return;
    /* the SHUTDOWN event ($SYS.SERVER.<id>.SHUTDOWN, a ServerInfo), sent before the shards stop */
    struct jw j;
    jw_init(&j, false);
    sys_server_info(s, &j, NULL);
    char subj[128];
    snprintf(subj, sizeof subj, "$SYS.SERVER.%s.SHUTDOWN", s->server_id);
    post_msg(w, subj, &j, true);
    for (int i = 0; i < 100 && !atomic_load(&s->stopping) && !atomic_load(&s->sys_last_sent); i++)
        nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL); /* out before the shards stop (bounded) */
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->started = false;
}

void sysw_free(struct server *s)
{
    struct sysw *w = s->sysw;
    if (!w)
        return;
    for (struct sysreq *r = w->head, *n; r; r = n) {
        n = r->next;
        req_free(r);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->m.base);
    for (int i = 0; i < MP_COUNT; i++)
        free(w->m.pattern[i]);
    free(w);
    s->sysw = NULL;
}
