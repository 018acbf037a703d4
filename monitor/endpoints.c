/* The monitoring endpoints that need no shard snapshots, field for field as
 * nats-server 2.9.10 writes them (server/monitor.go): /varz, /routez,
 * /gatewayz, /leafz, /accountz, /accstatz, /jsz, /healthz, /stacksz,
 * /ipqueuesz and the index page; and the query-string decoders all the
 * endpoints share (Go's decodeBool, decodeInt, decodeUint64, decodeSubs,
 * with their error texts).
 *
 * gannet has one account, $G, no system account, no routes, gateways, leaf
 * nodes or JetStream yet: those endpoints give the answers nats-server
 * gives when none is configured. Monitor thread only (mon.h). */
#include <dirent.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "index_html.h"
#include "mon.h"
#include "opts.h"
#include "query.h"
#include "../cluster/route.h"

int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ replies */

void reply_json(struct reply *r, struct jw *w)
{
    r->status = 200;
    r->kind = R_JSON;
    if (w->oom) {
        jw_free(w);
        reply_error(r, "out of memory");
        return;
    }
    r->body = w->buf ? w->buf : strdup("");
    r->len = w->len;
    w->buf = NULL;
}

void reply_error(struct reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    free(r->body);
    r->status = 400;
    r->kind = R_ERROR;
    r->body = n < 0 ? NULL : s;
    r->len = n < 0 ? 0 : (size_t)n;
}

void reply_error_val(struct reply *r, const char *pre, const char *v, size_t vn, const char *post)
{
    size_t a = strlen(pre), c = strlen(post);
    char *s = malloc(a + vn + c + 1);
    free(r->body);
    r->status = 400;
    r->kind = R_ERROR;
    r->body = s;
    r->len = s ? a + vn + c : 0;
    if (s) {
        memcpy(s, pre, a);
        memcpy(s + a, v, vn);
        memcpy(s + a + vn, post, c + 1);
    }
}

/* ------------------------------------------------------------ query decoding */

char *q_get(const struct mreq *q, const char *key, size_t *len)
{
    size_t n = 0;
    char *v = q->query ? http_query_get(q->query, q->qlen, key, &n) : NULL;
    if (len)
        *len = v ? n : 0;
    return v;
}

/* strconv.Quote, for the error texts ("parsing \"x\": invalid syntax") */
static char *go_quote(const char *s, size_t n)
{
    char *out = malloc(n * 6 + 3), *o = out;
    if (!out)
        return NULL;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        static const char esc[] = "\a\b\f\n\r\t\v", let[] = "abfnrtv";
        const char *e = c ? strchr(esc, c) : NULL;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (e) {
            *o++ = '\\';
            *o++ = let[e - esc];
        } else if (c < 0x20 || c == 0x7f) {
            o += sprintf(o, "\\x%02x", c);
        } else if (c < 0x80) {
            *o++ = (char)c;
        } else {
            /* a valid UTF-8 sequence stays (C1 controls are \u00XX), a stray byte is \xNN */
            size_t k = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
            bool ok = k && i + k <= n;
            for (size_t j = 1; ok && j < k; j++)
                ok = ((unsigned char)s[i + j] & 0xc0) == 0x80;
            if (ok && k == 2 && c == 0xc2 && (unsigned char)s[i + 1] < 0xa0) {
                o += sprintf(o, "\\u%04x", (unsigned char)s[i + 1]);
                i++;
            } else if (ok) {
                memcpy(o, s + i, k);
                o += k;
                i += k - 1;
            } else {
                o += sprintf(o, "\\x%02x", c);
            }
        }
    }
    *o++ = '"';
    *o = 0;
    return out;
}

static void decode_error(struct reply *r, const char *type, const char *key, const char *fn, const char *v, size_t vn,
                         const char *why)
{
    char *qv = go_quote(v, vn);
    reply_error(r, "Error decoding %s for '%s': strconv.%s: parsing %s: %s", type, key, fn, qv ? qv : "\"\"", why);
    free(qv);
}

static bool parse_bool(const char *s, size_t n, bool *v)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (int i = 0; i < 6; i++) {
        if (strlen(t[i]) == n && !memcmp(s, t[i], n))
            return *v = true, true;
        if (strlen(f[i]) == n && !memcmp(s, f[i], n))
            return *v = false, true;
    }
    return false;
}

int q_bool(const struct mreq *q, const char *key, bool *v, struct reply *r)
{
    size_t n;
    char *s = q_get(q, key, &n);
    int rc = 0;
    if (s && n && !parse_bool(s, n, v)) {
        decode_error(r, "boolean", key, "ParseBool", s, n, "invalid syntax");
        rc = -1;
    }
    free(s);
    return rc;
}

/* strconv.ParseUint(s, 10, 64) digits: 0 ok, -1 syntax, -2 range */
static int parse_u64(const char *s, size_t n, uint64_t *v)
{
    if (!n)
        return -1;
    uint64_t x = 0;
    bool range = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            range = true;
        else
            x = x * 10 + d;
    }
    if (range)
        return -2;
    *v = x;
    return 0;
}

int q_int(const struct mreq *q, const char *key, int64_t *v, struct reply *r)
{
    size_t n;
    char *s = q_get(q, key, &n);
    int rc = 0;
    if (s && n) { /* strconv.Atoi: an optional sign, decimal digits, int64 range */
        bool neg = s[0] == '-';
        size_t off = (s[0] == '-' || s[0] == '+') ? 1 : 0;
        uint64_t u = 0;
        int e = parse_u64(s + off, n - off, &u);
        if (e == 0 && u > (uint64_t)INT64_MAX + (neg ? 1 : 0))
            e = -2;
        if (e < 0) {
            decode_error(r, "int", key, "Atoi", s, n, e == -1 ? "invalid syntax" : "value out of range");
            rc = -1;
        } else {
            *v = neg ? (int64_t)(0 - u) : (int64_t)u;
        }
    }
    free(s);
    return rc;
}

int q_uint64(const struct mreq *q, const char *key, uint64_t *v, struct reply *r)
{
    size_t n;
    char *s = q_get(q, key, &n);
    int rc = 0;
    if (s && n) {
        int e = parse_u64(s, n, v);
        if (e < 0) {
            decode_error(r, "uint64", key, "ParseUint", s, n, e == -1 ? "invalid syntax" : "value out of range");
            rc = -1;
        }
    }
    free(s);
    return rc;
}

int q_subs(const struct mreq *q, bool *subs, bool *detail, struct reply *r)
{
    size_t n;
    char *s = q_get(q, "subs", &n);
    *detail = s && n == 6 && !strncasecmp(s, "detail", 6);
    free(s);
    if (*detail)
        return 0;
    return q_bool(q, "subs", subs, r);
}

/* ------------------------------------------------------------ process usage */

/* nats-server's pse: %cpu over the last sampling interval, in tenths */
void sample_cpu(struct monitor *m)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return;
    char buf[1024];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    char *p = strrchr(buf, ')'); /* comm may hold spaces: fields count from after it */
    if (!p)
        return;
    unsigned long long utime = 0, stime = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return;
    uint64_t ticks = utime + stime;
    int64_t now = now_ms();
    long hz = sysconf(_SC_CLK_TCK);
    if (m->cpu_sample_ms && now > m->cpu_sample_ms && hz > 0) {
        /* (ticks*1000/hz)/seconds in integer permille, then /10 as Go does */
        int64_t permille = (int64_t)((ticks - m->cpu_ticks) * 1000 / (uint64_t)hz) * 1000 / (now - m->cpu_sample_ms);
        m->cpu = (double)permille / 10.0;
    }
    m->cpu_sample_ms = now;
    m->cpu_ticks = ticks;
}

void watch_config(struct monitor *m)
{
    struct srvconf *c = atomic_load_explicit(&m->srv->conf, memory_order_acquire);
    if (c->gen != m->conf_gen) { /* a reload published new options */
        m->conf_gen = c->gen;
        m->config_load_ns = wall_ns();
    }
}

int64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lld %lld", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

/* ------------------------------------------------------------ shared pieces */

const struct opts *cur_opts(struct monitor *m)
{
    return atomic_load_explicit(&m->srv->conf, memory_order_acquire)->o;
}

void write_head(struct monitor *m, struct jw *w, int64_t now)
{
    jw_str(w, "server_id", m->srv->server_id);
    jw_time(w, "now", now);
}

static int cmp_cache_hash(const void *a, const void *b)
{
    uint64_t x = ((const struct cache_snap *)a)->hash, y = ((const struct cache_snap *)b)->hash;
    return x < y ? -1 : x > y;
}

/* nats-server's cache figures: entries, their largest and mean fan-out.
 * Each shard has its own match cache; a subject cached on two shards is
 * one subject, so the entries are merged by subject hash. */
static void cache_figures(struct monitor *m, uint64_t *num, uint64_t *maxf, double *avg)
{
    struct query q = {.kind = Q_CACHE};
    server_query(m->srv, &q, 1000);
    size_t n = 0;
    for (int i = 0; i < MAX_SHARDS; i++)
        n += q.cache[i] ? q.count[i] : 0;
    struct cache_snap *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; all && i < MAX_SHARDS; i++)
        for (uint32_t j = 0; q.cache[i] && j < q.count[i]; j++)
            all[k++] = q.cache[i][j];
    query_free(&q);
    *num = *maxf = 0;
    *avg = 0;
    if (!all)
        return;
    qsort(all, k, sizeof *all, cmp_cache_hash);
    uint64_t tot = 0;
    for (size_t i = 0; i < k; i++) {
        if (i && all[i].hash == all[i - 1].hash)
            continue;
        (*num)++;
        tot += all[i].fanout;
        if (all[i].fanout > *maxf)
            *maxf = all[i].fanout;
    }
    if (tot)
        *avg = (double)tot / (double)*num;
    free(all);
}

void write_sublist_stats(struct monitor *m, struct jw *w, bool zero)
{
    struct server_stats st;
    server_stats(m->srv, &st);
    uint64_t num_cache = 0, max_fanout = 0;
    double avg_fanout = 0;
    if (zero)
        memset(&st, 0, sizeof st);
    else
        cache_figures(m, &num_cache, &max_fanout, &avg_fanout);
    jw_uint(w, "num_subscriptions", st.subscriptions);
    jw_uint(w, "num_cache", num_cache);
    jw_uint(w, "num_inserts", st.sl_inserts);
    jw_uint(w, "num_removes", st.sl_removes);
    jw_uint(w, "num_matches", st.sl_matches);
    jw_double(w, "cache_hit_rate", st.sl_matches ? (double)st.sl_cache_hits / (double)st.sl_matches : 0);
    jw_uint(w, "max_fanout", max_fanout);
    jw_double(w, "avg_fanout", avg_fanout);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const struct path_count *)a)->path, ((const struct path_count *)b)->path);
}

size_t http_req_counts(const struct monitor *m, struct path_count *out)
{
    static const char *const keys[ST_COUNT] = {
        [ST_ROOT] = "/", [ST_ACCOUNTZ] = "/accountz", [ST_ACCSTATZ] = "/accstatz", [ST_CONNZ] = "/connz",
        [ST_GATEWAYZ] = "/gatewayz", [ST_HEALTHZ] = "/healthz", [ST_JSZ] = "/jsz", [ST_LEAFZ] = "/leafz",
        [ST_ROUTEZ] = "/routez", [ST_SUBSZ] = "/subsz", [ST_VARZ] = "/varz",
    };
    static const char *const ext[MP_COUNT - MP_FIRST_EXT] = {
        [MP_METRICS - MP_FIRST_EXT] = "/metrics", [MP_SHARDZ - MP_FIRST_EXT] = "/shardz",
        [MP_TOPZ - MP_FIRST_EXT] = "/topz", [MP_DASHBOARD - MP_FIRST_EXT] = "/dashboard",
    };
    size_t n = 0;
    for (int i = 0; i < ST_COUNT; i++)
        if (m->stats[i])
            out[n++] = (struct path_count){keys[i], m->stats[i]};
    for (int i = 0; i < MP_COUNT - MP_FIRST_EXT; i++)
        if (m->ext_stats[i])
            out[n++] = (struct path_count){ext[i], m->ext_stats[i]};
    qsort(out, n, sizeof *out, cmp_path); /* Go prints a map's keys sorted */
    return n;
}

/* ------------------------------------------------------------ / */


void ep_root(struct monitor *m, const struct mreq *q, struct reply *r)
{
    m->stats[ST_ROOT]++;
    static const struct {
        int path;
        const char *label;
    } links[] = {
        {MP_VARZ, "General"}, {MP_JSZ, "JetStream"}, {MP_CONNZ, "Connections"}, {MP_ACCOUNTZ, "Accounts"},
        {MP_ACCSTATZ, "Account Stats"}, {MP_SUBSZ, "Subscriptions"}, {MP_ROUTEZ, "Routes"},
        {MP_LEAFZ, "LeafNodes"}, {MP_GATEWAYZ, "Gateways"},
    };
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f)
        return reply_error(r, "out of memory");
    fputs(index_head, f);
    fprintf(f, "\n\n\t<a href=https://github.com/nats-io/nats-server class='version'>v%s</a>\n\n\t</div>\n\t<br/>\n",
            NATS_COMPAT_VERSION);
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        fprintf(f, "\t<a href=.%s>%s</a>\n", m->pattern[links[i].path], links[i].label);
    fprintf(f, "\t<a href=.%s class=last>Health Probe</a>\n", m->pattern[MP_HEALTHZ]);
    fputs("    <a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class=\"help\">Help</a>\n"
          "  </body>\n</html>",
          f);
    fclose(f);
    r->status = 200;
    r->kind = R_HTML;
    r->body = out;
    r->len = n;
}

/* ------------------------------------------------------------ /varz */

int mon_count_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void ep_varz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    m->stats[ST_VARZ]++;
    struct server *s = m->srv;
    const struct opts *o = cur_opts(m);
    struct server_stats st;
    server_stats(s, &st);
    if (!m->cores)
        m->cores = mon_count_cpus();
    int64_t now = wall_ns();
    char up[64];
    struct jw w;
    jw_init(&w, !m->compact);
    jw_obj_begin(&w, NULL);
    jw_str(&w, "server_id", s->server_id);
    jw_str(&w, "server_name", o->server_name ? o->server_name : s->server_id);
    jw_str(&w, "version", NATS_COMPAT_VERSION);
    jw_int(&w, "proto", 1);
    jw_str(&w, "go", "gannet" GANNET_VERSION); /* the INFO's "go" */
    jw_str(&w, "host", o->host);
    jw_int(&w, "port", s->port);
    if (opts_auth_configured(o) && !o->no_auth_user)
        jw_bool(&w, "auth_required", true);
    if (o->tls.ctx && !o->allow_non_tls)
        jw_bool(&w, "tls_required", true);
    if (o->tls.ctx && o->tls.verify)
        jw_bool(&w, "tls_verify", true);
    route_varz_urls(s, &w);
    jw_int(&w, "max_connections", o->max_connections);
    if (o->max_subs > 0)
        jw_int(&w, "max_subscriptions", o->max_subs);
    jw_int(&w, "ping_interval", o->ping_interval_ms * 1000000);
    jw_int(&w, "ping_max", o->ping_max);
    jw_str(&w, "http_host", o->http_host);
    jw_int(&w, "http_port", o->http_port);
    jw_str(&w, "http_base_path", o->http_base_path);
    jw_int(&w, "https_port", o->https_port);
    jw_double(&w, "auth_timeout", (double)o->auth_timeout_ms / 1000.0);
    jw_int(&w, "max_control_line", o->max_control_line);
    jw_int(&w, "max_payload", o->max_payload);
    jw_int(&w, "max_pending", o->max_pending);
    route_varz(s, &w);
    static const char *const empty[] = {"gateway", "leaf", "mqtt", "websocket", "jetstream"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        jw_obj_begin(&w, empty[i]);
        jw_obj_end(&w);
    }
    /* nats-server's TLSTimeout: the tls {} block's, its default otherwise */
    jw_double(&w, "tls_timeout", (double)(o->tls.ctx ? o->tls.timeout_ms : TLS_DEFAULT_TIMEOUT_MS) / 1000.0);
    jw_int(&w, "write_deadline", o->write_deadline_ms * 1000000);
    jw_time(&w, "start", s->start_unix_ns);
    jw_time(&w, "now", now);
    fmt_uptime(up, sizeof up, now - s->start_unix_ns);
    jw_str(&w, "uptime", up);
    jw_int(&w, "mem", rss_bytes());
    jw_int(&w, "cores", m->cores);
    jw_int(&w, "gomaxprocs", s->nshards); /* the threads that run clients */
    jw_double(&w, "cpu", m->cpu);
    jw_uint(&w, "connections", st.connections);
    jw_uint(&w, "total_connections", st.total_connections);
    jw_int(&w, "routes", route_count(s));
    jw_int(&w, "remotes", 0);
    jw_int(&w, "leafnodes", 0);
    jw_uint(&w, "in_msgs", st.in_msgs);
    jw_uint(&w, "out_msgs", st.out_msgs);
    jw_uint(&w, "in_bytes", st.in_bytes);
    jw_uint(&w, "out_bytes", st.out_bytes);
    jw_uint(&w, "slow_consumers", st.slow_consumers);
    jw_uint(&w, "subscriptions", st.subscriptions);
    struct path_count pc[ST_COUNT + MP_COUNT];
    size_t npc = http_req_counts(m, pc);
    jw_obj_begin(&w, "http_req_stats");
    for (size_t i = 0; i < npc; i++)
        jw_uint(&w, pc[i].path, pc[i].count);
    jw_obj_end(&w);
    jw_time(&w, "config_load_time", m->config_load_ns);
    if (s->sacc)
        jw_str(&w, "system_account", s->sacc->name);
    jw_obj_end(&w);
    reply_json(r, &w);
}

/* ------------------------------------------------------------ routes, gateways, leafs */

void ep_gatewayz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    m->stats[ST_GATEWAYZ]++;
    bool accs = false;
    if (q_bool(q, "accs", &accs, r) < 0)
        return;
    struct jw w;
    jw_init(&w, !m->compact);
    jw_obj_begin(&w, NULL);
    write_head(m, &w, wall_ns());
    jw_obj_begin(&w, "outbound_gateways");
    jw_obj_end(&w);
    jw_obj_begin(&w, "inbound_gateways");
    jw_obj_end(&w);
    jw_obj_end(&w);
    reply_json(r, &w);
}

void ep_leafz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    m->stats[ST_LEAFZ]++;
    bool subs = false;
    if (q_bool(q, "subs", &subs, r) < 0)
        return;
    struct jw w;
    jw_init(&w, !m->compact);
    jw_obj_begin(&w, NULL);
    write_head(m, &w, wall_ns());
    jw_int(&w, "leafnodes", 0);
    jw_null(&w, "leafs");
    jw_obj_end(&w);
    reply_json(r, &w);
}

/* ------------------------------------------------------------ accounts */

#define GLOBAL_ACCOUNT "$G"

static bool is_global(const char *a, size_t n)
{
    return n == 2 && !memcmp(a, GLOBAL_ACCOUNT, 2);
}

static const struct account_opt *account_opts(struct monitor *m, const struct account *acc)
{
    const struct opts *o = cur_opts(m);
    for (int i = 0; i < o->naccounts; i++)
        if (strcmp(o->accounts[i].name, acc->name) == 0)
            return &o->accounts[i];
    return NULL;
}

static const char *const resp_type_names[] = {"Singleton", "Streamed", "Chunked"};

/* nats-server's ExtExport: the configured exports, then (for the system
 * account) the services the server exports itself */
static void write_exports(struct monitor *m, struct jw *w, const struct account *acc)
{
    const struct account_opt *ao = account_opts(m, acc);
    bool sys = acc == m->srv->sacc;
    if (!sys && (!ao || ao->nexports == 0))
        return;
    jw_arr_begin(w, "exports");
    for (int pass = 0; ao && pass < 2; pass++) /* services first, as nats-server lists them */
        for (int i = 0; i < ao->nexports; i++) {
            const struct export_opt *x = &ao->exports[i];
            if (x->service != (pass == 0))
                continue;
            jw_obj_begin(w, NULL);
            jw_str(w, "subject", x->subject);
            jw_str(w, "type", x->service ? "service" : "stream");
            if (x->service)
                jw_str(w, "response_type", resp_type_names[x->resp_type]);
            if (x->naccounts) {
                jw_arr_begin(w, "approved_accounts");
                for (int k = 0; k < x->naccounts; k++)
                    jw_str(w, NULL, x->accounts[k]);
                jw_arr_end(w);
            }
            jw_obj_end(w);
        }
    if (sys) {
        static const char *const subj[] = {"$SYS.REQ.ACCOUNT.*.CONNZ", "$SYS.REQ.ACCOUNT.*.STATZ",
                                           "$SYS.DEBUG.SUBSCRIBERS"};
        for (int i = 0; i < 3; i++) {
            jw_obj_begin(w, NULL);
            jw_str(w, "subject", subj[i]);
            jw_str(w, "type", "service");
            jw_str(w, "response_type", i < 2 ? "Streamed" : "Singleton");
            jw_obj_end(w);
        }
    }
    jw_arr_end(w);
}

static void import_flags(struct jw *w)
{
    jw_bool(w, "invalid", false);
    jw_bool(w, "share", false);
    jw_bool(w, "tracking", false);
}

/* nats-server's ExtImport: streams, services, then the system imports */
static void write_imports(struct monitor *m, struct jw *w, const struct account *acc)
{
    const struct account_opt *ao = account_opts(m, acc);
    bool sys = acc->nsys_in > 0;
    if (!sys && (!ao || ao->nimports == 0))
        return;
    jw_arr_begin(w, "imports");
    for (int pass = 0; ao && pass < 2; pass++)
        for (int i = 0; i < ao->nimports; i++) {
            const struct import_opt *im = &ao->imports[i];
            if (im->service != (pass == 1))
                continue;
            jw_obj_begin(w, NULL);
            if (!im->service) {
                jw_str(w, "subject", im->subject);
                jw_str(w, "account", im->account);
                if (im->prefix) {
                    size_t n = strlen(im->prefix) + strlen(im->subject) + 2;
                    char *ls = malloc(n);
                    if (ls) {
                        snprintf(ls, n, "%s.%s", im->prefix, im->subject);
                        jw_str(w, "local_subject", ls);
                        free(ls);
                    }
                } else {
                    jw_str(w, "local_subject", im->to ? im->to : im->subject);
                }
                jw_str(w, "type", "stream");
            } else {
                jw_str(w, "subject", im->to ? im->to : im->subject);
                jw_str(w, "account", im->account);
                jw_str(w, "to", im->subject);
                jw_str(w, "type", "service");
            }
            import_flags(w);
            jw_obj_end(w);
        }
    for (uint32_t i = acc->nsin - acc->nsys_in; i < acc->nsin; i++) {
        const struct service_in *si = &acc->sin[i];
        jw_obj_begin(w, NULL);
        jw_str(w, "subject", si->local);
        jw_str(w, "account", si->exp->name);
        jw_str(w, "to", si->remote);
        jw_str(w, "type", "service");
        import_flags(w);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

void write_account_detail(struct monitor *m, struct jw *w, const char *key, const struct account *acc)
{
    struct server *srv = m->srv;
    /* $G alone with $SYS: its index is the server's, figures and caches included */
    bool whole = is_global(acc->name, acc->name_len) && srv->naccounts <= 2;
    uint64_t nsubs = atomic_load_explicit(&acc->sl.count, memory_order_relaxed);
    jw_obj_begin(w, key);
    jw_str(w, "account_name", acc->name);
    jw_time(w, "update_time", srv->start_unix_ns);
    if (acc->is_system)
        jw_bool(w, "is_system", true);
    jw_bool(w, "expired", false);
    jw_bool(w, "complete", true);
    jw_bool(w, "jetstream_enabled", false);
    jw_int(w, "leafnode_connections", 0);
    int32_t nc = atomic_load_explicit(&acc->nconns, memory_order_relaxed);
    jw_int(w, "client_connections", nc > 0 ? nc : 0);
    jw_uint(w, "subscriptions", nsubs);
    write_exports(m, w, acc);
    write_imports(m, w, acc);
    jw_obj_begin(w, "sublist_stats");
    if (whole) {
        write_sublist_stats(m, w, false);
    } else {
        jw_uint(w, "num_subscriptions", nsubs);
        jw_uint(w, "num_cache", 0);
        jw_uint(w, "num_inserts", atomic_load_explicit(&acc->sl.inserts, memory_order_relaxed));
        jw_uint(w, "num_removes", atomic_load_explicit(&acc->sl.removes, memory_order_relaxed));
        jw_uint(w, "num_matches", 0);
        jw_double(w, "cache_hit_rate", 0);
        jw_uint(w, "max_fanout", 0);
        jw_double(w, "avg_fanout", 0);
    }
    jw_obj_end(w);
    jw_obj_end(w);
}

struct account *account_by_name(struct server *srv, const char *name, size_t n)
{
    for (int i = 0; name && i < srv->naccounts; i++)
        if (srv->acc[i].name_len == n && !memcmp(srv->acc[i].name, name, n))
            return &srv->acc[i];
    return NULL;
}

void ep_accountz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    m->stats[ST_ACCOUNTZ]++;
    size_t an;
    char *name = q_get(q, "acc", &an);
    struct server *srv = m->srv;
    struct account *acc = name && an ? account_by_name(srv, name, an) : NULL;
    if (name && an && !acc) {
        reply_error_val(r, "Account ", name, an, " does not exist");
        free(name);
        return;
    }
    struct jw w;
    jw_init(&w, !m->compact);
    jw_obj_begin(&w, NULL);
    write_head(m, &w, wall_ns());
    if (srv->sacc)
        jw_str(&w, "system_account", srv->sacc->name);
    if (!acc) {
        jw_arr_begin(&w, "accounts");
        for (int i = 0; i < srv->naccounts; i++)
            jw_str(&w, NULL, srv->acc[i].name);
        jw_arr_end(&w);
    } else {
        write_account_detail(m, &w, "account_detail", acc);
    }
    jw_obj_end(&w);
    free(name);
    reply_json(r, &w);
}

void write_account_statz(struct monitor *m, struct jw *w, const struct account *a)
{
    struct acc_totals t;
    account_totals(m->srv, a, &t);
    int32_t nc = atomic_load_explicit(&a->nconns, memory_order_relaxed);
    jw_obj_begin(w, NULL);
    jw_str(w, "acc", a->name);
    jw_int(w, "conns", nc > 0 ? nc : 0);
    jw_int(w, "leafnodes", 0);
    jw_int(w, "total_conns", nc > 0 ? nc : 0);
    jw_obj_begin(w, "sent"); /* to its clients */
    jw_uint(w, "msgs", t.out_msgs);
    jw_uint(w, "bytes", t.out_bytes);
    jw_obj_end(w);
    jw_obj_begin(w, "received"); /* from its clients */
    jw_uint(w, "msgs", t.in_msgs);
    jw_uint(w, "bytes", t.in_bytes);
    jw_obj_end(w);
    jw_uint(w, "slow_consumers", t.slow_consumers);
    jw_obj_end(w);
}

int write_accstatz(struct monitor *m, struct jw *w, const char *const *only, int nonly, bool unused)
{
    struct server *srv = m->srv;
    int n = 0;
    jw_obj_begin(w, NULL);
    write_head(m, w, wall_ns());
    jw_arr_begin(w, "account_statz");
    for (int i = 0; i < srv->naccounts; i++) {
        const struct account *a = &srv->acc[i];
        bool listed = nonly == 0;
        for (int k = 0; k < nonly && !listed; k++)
            listed = strcmp(only[k], a->name) == 0;
        if (!listed || (!unused && atomic_load_explicit(&a->nconns, memory_order_relaxed) <= 0))
            continue;
        write_account_statz(m, w, a);
        n++;
    }
    jw_arr_end(w);
    jw_obj_end(w);
    return n;
}

void ep_accstatz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    m->stats[ST_ACCSTATZ]++;
    bool unused = false;
    if (q_bool(q, "unused", &unused, r) < 0)
        return;
    struct jw w;
    jw_init(&w, !m->compact);
    write_accstatz(m, &w, NULL, 0, unused);
    reply_json(r, &w);
}

/* ------------------------------------------------------------ JetStream, health */

void ep_jsz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    m->stats[ST_JSZ]++;
    bool b = false, leader = false;
    int64_t i = 0;
    if (q_bool(q, "accounts", &b, r) < 0 || q_bool(q, "streams", &b, r) < 0 || q_bool(q, "consumers", &b, r) < 0 ||
        q_bool(q, "config", &b, r) < 0 || q_int(q, "offset", &i, r) < 0 || q_int(q, "limit", &i, r) < 0 ||
        q_bool(q, "leader-only", &leader, r) < 0)
        return;
    if (leader)
        return reply_error(r, "filtered response: not leader");
    struct jw w;
    jw_init(&w, !m->compact);
    jw_obj_begin(&w, NULL);
    write_head(m, &w, wall_ns());
    jw_bool(&w, "disabled", true);
    jw_obj_begin(&w, "config");
    jw_int(&w, "max_memory", 0);
    jw_int(&w, "max_storage", 0);
    jw_obj_end(&w);
    static const char *const zeros[] = {"memory", "storage", "reserved_memory", "reserved_storage", "accounts",
                                        "ha_assets"};
    for (size_t k = 0; k < sizeof zeros / sizeof zeros[0]; k++)
        jw_int(&w, zeros[k], 0);
    jw_obj_begin(&w, "api");
    jw_int(&w, "total", 0);
    jw_int(&w, "errors", 0);
    jw_obj_end(&w);
    jw_int(&w, "streams", 0);
    jw_int(&w, "consumers", 0);
    jw_int(&w, "messages", 0);
    jw_int(&w, "bytes", 0);
    jw_obj_end(&w);
    reply_json(r, &w);
}

void ep_healthz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    m->stats[ST_HEALTHZ]++;
    bool b = false;
    if (q_bool(q, "js-enabled", &b, r) < 0 || q_bool(q, "js-enabled-only", &b, r) < 0 ||
        q_bool(q, "js-server-only", &b, r) < 0)
        return;
    struct jw w;
    jw_init(&w, false); /* json.Marshal, not MarshalIndent */
    jw_obj_begin(&w, NULL);
    jw_str(&w, "status", "ok");
    jw_obj_end(&w);
    reply_json(r, &w);
}

/* ------------------------------------------------------------ debugging */

/* nats-server dumps its goroutines; gannet lists its threads (from
 * /proc/self/task), with nats-server's content type. Not counted. */
void ep_stacksz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f)
        return reply_error(r, "out of memory");
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char p[300], st[512] = "";
        snprintf(p, sizeof p, "/proc/self/task/%s/stat", e->d_name);
        FILE *t = fopen(p, "r");
        if (!t)
            continue;
        size_t k = fread(st, 1, sizeof st - 1, t);
        fclose(t);
        st[k] = 0;
        char *open = strchr(st, '('), *close = strrchr(st, ')');
        if (!open || !close || close < open || !close[1])
            continue;
        fprintf(f, "thread %s [%c]: %.*s\n\n", e->d_name, close[2], (int)(close - open - 1), open + 1);
    }
    if (d)
        closedir(d);
    fclose(f);
    r->status = 200;
    r->kind = R_JSON;
    r->body = out;
    r->len = n;
}

/* nats-server's internal queues; gannet has none to show. Not counted. */
void ep_ipqueuesz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    bool all = false;
    if (q_bool(q, "all", &all, r) < 0)
        return;
    r->status = 200;
    r->kind = R_JSON;
    r->body = strdup("{}");
    r->len = r->body ? 2 : 0;
}
