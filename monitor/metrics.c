/* gannet's own monitoring endpoints, beyond nats-server's (README
 * "Monitoring"):
 *
 *   /metrics    Prometheus text exposition format 0.0.4: the /varz
 *               counters, per-shard loop and mailbox figures, and the
 *               standard process_* metrics;
 *   /shardz     the per-shard figures as JSON (the dashboard's shard load);
 *   /topz       the busiest subjects of the last 10-20 s, merged from the
 *               shards' sampled tables (core/topz.h);
 *   /dashboard  one self-contained page polling the above (dashboard.html,
 *               compiled in with .incbin so the binary is all one needs).
 *
 * Counters come from the shards' relaxed atomics (no query); /topz asks
 * the shards (server_query), which blocks the monitor thread briefly, as
 * /connz does. Monitor thread only. */
#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mon.h"
#include "../cluster/route.h"
#include "opts.h"
#include "query.h"
#include "shard.h"
#include "topz.h"

/* ------------------------------------------------------------ the dashboard */

__asm__(".section .rodata\n"
        ".global gannet_dashboard_html\n"
        ".type gannet_dashboard_html, @object\n"
        ".balign 16\n"
        "gannet_dashboard_html:\n"
        ".incbin \"monitor/dashboard.html\"\n"
        ".global gannet_dashboard_html_end\n"
        "gannet_dashboard_html_end:\n"
        ".byte 0\n"
        ".previous\n");
extern const char gannet_dashboard_html[], gannet_dashboard_html_end[];

static void count(struct monitor *m, enum mon_path p) { m->ext_stats[p - MP_FIRST_EXT]++; }

void ep_dashboard(struct monitor *m, const struct mreq *q, struct reply *r)
{
    count(m, MP_DASHBOARD);
    r->kind = R_TYPED;
    r->ctype = "text/html; charset=utf-8";
    r->body = (char *)gannet_dashboard_html;
    r->len = (size_t)(gannet_dashboard_html_end - gannet_dashboard_html);
    r->static_body = true;
}

/* ------------------------------------------------------------ /shardz */

struct shard_figs {
    int64_t connections, subscriptions, routes;
    uint64_t in_msgs, out_msgs, in_bytes, out_bytes, slow_consumers, stalls;
    uint64_t loop_turns, sleeps, completions, mbox_sent, mbox_received, doorbells, idle_ns;
};

static void shard_figs(const struct shard *sh, struct shard_figs *f)
{
#define LD(x) atomic_load_explicit(&sh->x, memory_order_relaxed)
    f->connections = LD(nclients);
    f->routes = LD(nroutes);
    f->subscriptions = LD(nsubs);
    f->in_msgs = LD(in_msgs);
    f->out_msgs = LD(out_msgs);
    f->in_bytes = LD(in_bytes);
    f->out_bytes = LD(out_bytes);
    f->slow_consumers = LD(slow_consumers);
    f->stalls = LD(stalls);
    f->loop_turns = LD(loop_turns);
    f->sleeps = LD(sleeps);
    f->completions = LD(completions);
    f->mbox_sent = LD(mbox_sent);
    f->mbox_received = LD(mbox_received);
    f->doorbells = LD(doorbells);
    f->idle_ns = LD(idle_ns);
#undef LD
    if (f->connections < 0) /* a close on one shard may be counted before the open it follows */
        f->connections = 0;
    if (f->subscriptions < 0)
        f->subscriptions = 0;
}

void ep_shardz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    count(m, MP_SHARDZ);
    struct server *s = m->srv;
    int64_t uptime_ns = (now_ms() - s->start_ms) * 1000000;
    struct jw w;
    jw_init(&w, !m->compact);
    jw_obj_begin(&w, NULL);
    jw_str(&w, "server_id", s->server_id);
    jw_time(&w, "now", wall_ns());
    jw_arr_begin(&w, "shards");
    for (int i = 0; i < s->nshards; i++) {
        struct shard_figs f;
        shard_figs(s->shards[i], &f);
        jw_obj_begin(&w, NULL);
        jw_int(&w, "id", i);
        jw_int(&w, "connections", f.connections);
        jw_int(&w, "routes", f.routes);
        jw_int(&w, "subscriptions", f.subscriptions);
        jw_uint(&w, "in_msgs", f.in_msgs);
        jw_uint(&w, "out_msgs", f.out_msgs);
        jw_uint(&w, "in_bytes", f.in_bytes);
        jw_uint(&w, "out_bytes", f.out_bytes);
        jw_uint(&w, "slow_consumers", f.slow_consumers);
        jw_uint(&w, "stalls", f.stalls);
        jw_uint(&w, "loop_turns", f.loop_turns);
        jw_uint(&w, "sleeps", f.sleeps);
        jw_uint(&w, "completions", f.completions);
        jw_uint(&w, "mailbox_sent", f.mbox_sent);
        jw_uint(&w, "mailbox_received", f.mbox_received);
        jw_uint(&w, "doorbells", f.doorbells);
        /* a shard's idle time can run a turn ahead of the uptime read above */
        jw_uint(&w, "idle_ns", f.idle_ns < (uint64_t)uptime_ns ? f.idle_ns : (uint64_t)uptime_ns);
        jw_int(&w, "uptime_ns", uptime_ns);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    reply_json(r, &w);
}

/* ------------------------------------------------------------ /topz */

enum top_sort { T_MSGS, T_BYTES, T_DELIVERIES };

static uint64_t top_key(const struct top_snap *t, enum top_sort by)
{
    return by == T_BYTES ? t->bytes : by == T_DELIVERIES ? t->deliveries : t->msgs;
}

static int cmp_hash(const void *a, const void *b)
{
    uint64_t x = ((const struct top_snap *)a)->hash, y = ((const struct top_snap *)b)->hash;
    return x < y ? -1 : x > y;
}

static enum top_sort sort_by; /* qsort has no context argument; monitor thread only */

static int cmp_key(const void *a, const void *b)
{
    const struct top_snap *x = a, *y = b;
    uint64_t kx = top_key(x, sort_by), ky = top_key(y, sort_by);
    if (kx != ky)
        return kx > ky ? -1 : 1;
    return strcmp(x->subject, y->subject); /* ties: a stable, readable order */
}

/* All shards' entries in one array, the same subject's merged into one. */
static size_t merge_top(struct query *qy, struct top_snap **out)
{
    size_t n = 0;
    for (int i = 0; i < MAX_SHARDS; i++)
        n += qy->top[i] ? qy->count[i] : 0;
    struct top_snap *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return 0;
    size_t k = 0;
    for (int i = 0; i < MAX_SHARDS; i++) {
        for (uint32_t j = 0; qy->top[i] && j < qy->count[i]; j++) {
            all[k++] = qy->top[i][j];
            qy->top[i][j].subject = NULL; /* moved */
        }
    }
    qsort(all, k, sizeof *all, cmp_hash);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u && all[u - 1].hash == all[i].hash) {
            all[u - 1].msgs += all[i].msgs;
            all[u - 1].bytes += all[i].bytes;
            all[u - 1].deliveries += all[i].deliveries;
            free(all[i].subject);
        } else {
            all[u++] = all[i];
        }
    }
    *out = all;
    return u;
}

void ep_topz(struct monitor *m, const struct mreq *q, struct reply *r)
{
    count(m, MP_TOPZ);
    int64_t limit = 10;
    if (q_int(q, "limit", &limit, r) < 0)
        return;
    if (limit <= 0)
        limit = 10;
    size_t sn;
    char *sort = q_get(q, "sort", &sn);
    enum top_sort by = T_MSGS;
    if (sort && sn && !strcmp(sort, "bytes"))
        by = T_BYTES;
    else if (sort && sn && !strcmp(sort, "deliveries"))
        by = T_DELIVERIES;
    else if (sort && sn && strcmp(sort, "msgs") != 0) {
        reply_error_val(r, "invalid sorting option: ", sort, sn, ""); /* as /connz says it */
        free(sort);
        return;
    }
    free(sort);

    struct server *s = m->srv;
    struct query qy = {.kind = Q_TOP};
    server_query(s, &qy, 1000);
    int64_t now = now_ms(), since = now;
    for (int i = 0; i < s->nshards; i++)
        if (qy.top[i] && qy.top_since_ms[i] < since)
            since = qy.top_since_ms[i];
    struct top_snap *all = NULL;
    size_t n = merge_top(&qy, &all);
    query_free(&qy);
    sort_by = by;
    if (all)
        qsort(all, n, sizeof *all, cmp_key);
    double window = (double)(now - since) / 1000.0;

    static const char *const sort_names[] = {"msgs", "bytes", "deliveries"};
    struct jw w;
    jw_init(&w, !m->compact);
    jw_obj_begin(&w, NULL);
    jw_str(&w, "server_id", s->server_id);
    jw_time(&w, "now", wall_ns());
    jw_double(&w, "window_seconds", window);
    jw_uint(&w, "sample_one_in", s->topz_one_in);
    jw_str(&w, "sort", sort_names[by]);
    jw_int(&w, "limit", limit);
    jw_arr_begin(&w, "subjects");
    for (size_t i = 0; i < n && i < (size_t)limit; i++) {
        const struct top_snap *t = &all[i];
        jw_obj_begin(&w, NULL);
        jw_str(&w, "subject", t->subject);
        jw_bool(&w, "truncated", t->truncated);
        jw_uint(&w, "msgs", t->msgs);
        jw_uint(&w, "bytes", t->bytes);
        jw_uint(&w, "deliveries", t->deliveries);
        jw_double(&w, "msgs_per_sec", window > 0 ? (double)t->msgs / window : 0);
        jw_double(&w, "bytes_per_sec", window > 0 ? (double)t->bytes / window : 0);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    for (size_t i = 0; i < n; i++)
        free(all[i].subject);
    free(all);
    reply_json(r, &w);
}

/* ------------------------------------------------------------ /metrics */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_u(FILE *f, const char *name, const char *type, const char *help, uint64_t v);

/* gannet_routes, and per registered route (as /routez shows them) its traffic and interest. */
static void route_metrics(FILE *f, struct server *s)
{
    struct query qy = {.kind = Q_ROUTES};
    if (route_count(s))
        server_query(s, &qy, 1000);
    uint32_t n = 0;
    for (int i = 0; i < MAX_SHARDS; i++)
        n += qy.snaps[i] ? qy.count[i] : 0;
    metric_u(f, "gannet_routes", "gauge", "Registered cluster routes (varz routes).", n);
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } series[] = {
        {"gannet_route_messages_received_total", "counter", "Messages received from the route.",
         offsetof(struct conn_snap, in_msgs)},
        {"gannet_route_messages_sent_total", "counter", "Messages sent on the route.", offsetof(struct conn_snap, out_msgs)},
        {"gannet_route_bytes_received_total", "counter", "Payload bytes received from the route.",
         offsetof(struct conn_snap, in_bytes)},
        {"gannet_route_bytes_sent_total", "counter", "Payload bytes sent on the route.",
         offsetof(struct conn_snap, out_bytes)},
        {"gannet_route_pending_bytes", "gauge", "Bytes queued for the route and not sent yet.",
         offsetof(struct conn_snap, pending)},
    };
    for (size_t k = 0; n && k < sizeof series / sizeof series[0]; k++) {
        family(f, series[k].name, series[k].type, series[k].help);
        for (int i = 0; i < MAX_SHARDS; i++)
            for (uint32_t j = 0; qy.snaps[i] && j < qy.count[i]; j++) {
                const struct conn_snap *c = &qy.snaps[i][j];
                fprintf(f, "%s{remote_id=\"%s\",rid=\"%llu\"} %llu\n", series[k].name, c->remote_id ? c->remote_id : "",
                        (unsigned long long)c->cid, (unsigned long long)*(const uint64_t *)((const char *)c + series[k].off));
            }
    }
    if (n) {
        family(f, "gannet_route_subscriptions", "gauge", "The route's interest in this server's indexes (RS+).");
        for (int i = 0; i < MAX_SHARDS; i++)
            for (uint32_t j = 0; qy.snaps[i] && j < qy.count[i]; j++)
                fprintf(f, "gannet_route_subscriptions{remote_id=\"%s\",rid=\"%llu\"} %u\n",
                        qy.snaps[i][j].remote_id ? qy.snaps[i][j].remote_id : "",
                        (unsigned long long)qy.snaps[i][j].cid, qy.snaps[i][j].nsubs);
    }
    query_free(&qy);
}

static void metric_u(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
    family(f, name, type, help);
    fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void metric_d(FILE *f, const char *name, const char *type, const char *help, double v)
{
    family(f, name, type, help);
    fprintf(f, "%s %.17g\n", name, v);
}

/* A label value as the exposition format quotes it: \\, \" and \n escaped. */
static void label_value(FILE *f, const char *v)
{
    fputc('"', f);
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f), fputc(*v, f);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
    fputc('"', f);
}

static void process_metrics(FILE *f, const struct server *s)
{
    unsigned long long utime = 0, stime = 0, vsize = 0;
    FILE *p = fopen("/proc/self/stat", "r");
    if (p) {
        char buf[1024];
        size_t k = fread(buf, 1, sizeof buf - 1, p);
        fclose(p);
        buf[k] = 0;
        char *e = strrchr(buf, ')'); /* comm may hold spaces */
        /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
         * cutime cstime priority nice num_threads itrealvalue starttime vsize */
        if (!e || sscanf(e + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %*u %llu",
                         &utime, &stime, &vsize) != 3)
            utime = stime = vsize = 0;
    }
    long hz = sysconf(_SC_CLK_TCK);
    metric_d(f, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
             hz > 0 ? (double)(utime + stime) / (double)hz : 0);
    metric_u(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", (uint64_t)rss_bytes());
    metric_u(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsize);
    metric_d(f, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
             (double)s->start_unix_ns / 1e9);
    uint64_t fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            fds += de->d_name[0] != '.';
        closedir(d);
        fds--; /* the directory's own descriptor */
    }
    metric_u(f, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
    struct rlimit rl;
    uint64_t maxfds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 0;
    metric_u(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.", maxfds);
}

/* One family with a value per shard. */
#define SHARD_FAMILY(name, type, help, expr)                                                                 \
    do {                                                                                                     \
        family(f, name, type, help);                                                                         \
        for (int i = 0; i < s->nshards; i++)                                                                 \
            fprintf(f, "%s{shard=\"%d\"} %s\n", name, i, expr);                                              \
    } while (0)

static void shard_metrics(FILE *f, const struct server *s)
{
    struct shard_figs fig[MAX_SHARDS];
    char v[MAX_SHARDS][3 * 24];
    for (int i = 0; i < s->nshards; i++)
        shard_figs(s->shards[i], &fig[i]);
#define U(field) (snprintf(v[i], sizeof v[i], "%llu", (unsigned long long)fig[i].field), v[i])
    SHARD_FAMILY("gannet_shard_connections", "gauge", "Open client connections of the shard.", U(connections));
    SHARD_FAMILY("gannet_shard_subscriptions", "gauge", "Subscriptions of the shard's clients.", U(subscriptions));
    SHARD_FAMILY("gannet_shard_messages_received_total", "counter", "Messages published by the shard's clients.",
                 U(in_msgs));
    SHARD_FAMILY("gannet_shard_messages_sent_total", "counter", "Messages delivered to the shard's clients.",
                 U(out_msgs));
    SHARD_FAMILY("gannet_shard_bytes_received_total", "counter", "Payload bytes published by the shard's clients.",
                 U(in_bytes));
    SHARD_FAMILY("gannet_shard_bytes_sent_total", "counter", "Payload bytes delivered to the shard's clients.",
                 U(out_bytes));
    SHARD_FAMILY("gannet_shard_stalls_total", "counter",
                 "Inputs (client connections, links from other shards) parked for flow control.", U(stalls));
    SHARD_FAMILY("gannet_shard_loop_turns_total", "counter", "Turns of the shard's event loop.", U(loop_turns));
    SHARD_FAMILY("gannet_shard_sleeps_total", "counter", "Loop turns that blocked waiting for completions.",
                 U(sleeps));
    SHARD_FAMILY("gannet_shard_completions_total", "counter", "io_uring completions handled.", U(completions));
    SHARD_FAMILY("gannet_shard_mailbox_records_sent_total", "counter",
                 "Messages handed to other shards (one record per message and destination shard).", U(mbox_sent));
    SHARD_FAMILY("gannet_shard_mailbox_records_received_total", "counter", "Message records taken from other shards.",
                 U(mbox_received));
    SHARD_FAMILY("gannet_shard_doorbells_total", "counter", "Wake-ups rung to sleeping shards.", U(doorbells));
#undef U
#define SEC(field) (snprintf(v[i], sizeof v[i], "%.9f", (double)fig[i].field / 1e9), v[i])
    SHARD_FAMILY("gannet_shard_idle_seconds_total", "counter",
                 "Time the shard spent waiting for work (spinning or blocked).", SEC(idle_ns));
#undef SEC
}

/* Per-account series, labelled account="A": its connections, subscriptions
 * and its clients' traffic (the /accstatz figures, summed over the shards). */
static void account_metrics(FILE *f, struct server *s)
{
    struct acc_totals *t = calloc((size_t)s->naccounts, sizeof *t);
    if (!t)
        return;
    for (int i = 0; i < s->naccounts; i++)
        account_totals(s, &s->acc[i], &t[i]);
    static const struct {
        const char *name, *type, *help;
        int what;
    } fam[] = {
        {"gannet_account_connections", "gauge", "Open client connections of the account.", 0},
        {"gannet_account_subscriptions", "gauge", "Subscriptions in the account's subject index.", 1},
        {"gannet_account_messages_received_total", "counter", "Messages published by the account's clients.", 2},
        {"gannet_account_messages_sent_total", "counter", "Messages delivered to the account's clients.", 3},
        {"gannet_account_bytes_received_total", "counter", "Payload bytes published by the account's clients.", 4},
        {"gannet_account_bytes_sent_total", "counter", "Payload bytes delivered to the account's clients.", 5},
        {"gannet_account_slow_consumers_total", "counter", "The account's clients cut as slow consumers.", 6},
    };
    for (size_t k = 0; k < sizeof fam / sizeof fam[0]; k++) {
        family(f, fam[k].name, fam[k].type, fam[k].help);
        for (int i = 0; i < s->naccounts; i++) {
            const struct account *a = &s->acc[i];
            int32_t nc = atomic_load_explicit(&a->nconns, memory_order_relaxed);
            uint64_t v[] = {nc > 0 ? (uint64_t)nc : 0, atomic_load_explicit(&a->sl.count, memory_order_relaxed),
                            t[i].in_msgs, t[i].out_msgs, t[i].in_bytes, t[i].out_bytes, t[i].slow_consumers};
            fprintf(f, "%s{account=", fam[k].name);
            label_value(f, a->name);
            fprintf(f, "} %llu\n", (unsigned long long)v[fam[k].what]);
        }
    }
    free(t);
}

void ep_metrics(struct monitor *m, const struct mreq *q, struct reply *r)
{
    count(m, MP_METRICS);
    struct server *s = m->srv;
    const struct opts *o = cur_opts(m);
    struct server_stats st;
    server_stats(s, &st);
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f)
        return reply_error(r, "out of memory");

    family(f, "gannet_info", "gauge", "Server identity; the value is always 1.");
    fprintf(f, "gannet_info{version=\"%s\",gannet_version=\"%s\",server_id=\"%s\",server_name=", NATS_COMPAT_VERSION,
            GANNET_VERSION, s->server_id);
    label_value(f, o->server_name ? o->server_name : s->server_id);
    fputs("} 1\n", f);
    metric_d(f, "gannet_start_time_seconds", "gauge", "When the server started, in seconds since the Unix epoch.",
             (double)s->start_unix_ns / 1e9);
    metric_d(f, "gannet_config_load_time_seconds", "gauge",
             "When the configuration was last loaded, in seconds since the Unix epoch.",
             (double)m->config_load_ns / 1e9);

    metric_u(f, "gannet_messages_received_total", "counter", "Messages published by clients (varz in_msgs).",
             st.in_msgs);
    metric_u(f, "gannet_messages_sent_total", "counter", "Messages delivered to clients (varz out_msgs).",
             st.out_msgs);
    metric_u(f, "gannet_bytes_received_total", "counter", "Payload bytes published by clients (varz in_bytes).",
             st.in_bytes);
    metric_u(f, "gannet_bytes_sent_total", "counter", "Payload bytes delivered to clients (varz out_bytes).",
             st.out_bytes);
    metric_u(f, "gannet_connections", "gauge", "Open client connections.", st.connections);
    metric_u(f, "gannet_connections_total", "counter", "Client connections accepted since start.",
             st.total_connections);
    metric_u(f, "gannet_subscriptions", "gauge", "Subscriptions.", st.subscriptions);
    metric_u(f, "gannet_slow_consumers_total", "counter", "Clients closed as slow consumers.", st.slow_consumers);
    route_metrics(f, s);
    metric_u(f, "gannet_gateways", "gauge", "Gateway connections (none: gannet has no gateways yet).", 0);
    metric_u(f, "gannet_leafnodes", "gauge", "Leaf node connections (none: gannet has no leaf nodes yet).", 0);
    metric_u(f, "gannet_subject_index_inserts_total", "counter", "Subscriptions added to the subject index.",
             st.sl_inserts);
    metric_u(f, "gannet_subject_index_removes_total", "counter", "Subscriptions removed from the subject index.",
             st.sl_removes);
    metric_u(f, "gannet_subject_index_matches_total", "counter", "Subject lookups of published messages.",
             st.sl_matches);
    metric_u(f, "gannet_subject_index_cache_hits_total", "counter", "Lookups answered by a shard's match cache.",
             st.sl_cache_hits);

    family(f, "gannet_http_requests_total", "counter", "Monitoring requests by endpoint (varz http_req_stats).");
    struct path_count pc[ST_COUNT + MP_COUNT];
    size_t npc = http_req_counts(m, pc);
    for (size_t i = 0; i < npc; i++)
        fprintf(f, "gannet_http_requests_total{path=\"%s\"} %llu\n", pc[i].path, (unsigned long long)pc[i].count);

    shard_metrics(f, s);
    account_metrics(f, s);
    process_metrics(f, s);
    if (fclose(f) != 0 || !out) {
        free(out);
        return reply_error(r, "out of memory");
    }
    r->kind = R_TYPED;
    r->ctype = "text/plain; version=0.0.4; charset=utf-8";
    r->body = out;
    r->len = n;
}
