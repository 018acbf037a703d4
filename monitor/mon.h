/* Internals of the monitoring server shared by its files: monitor.c (the
 * thread, its io_uring ring, HTTP connections and responses), endpoints.c
 * (/varz, /healthz, /accountz, ... and the query-string decoders) and
 * connz.c (/connz and /subsz, which ask the shards for snapshots).
 *
 * Threads: everything here belongs to the monitor thread; the only shared
 * state it reads is the server's atomics (server_stats), the published
 * configuration (an RCU-style pointer, immutable once published) and the
 * shards' answers to server_query(). */
#ifndef GANNET_MON_H
#define GANNET_MON_H
#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "json.h"
#include "server.h"

/* http_req_stats keys, in the order Go prints a map (sorted) */
enum stat_key {
    ST_ROOT, ST_ACCOUNTZ, ST_ACCSTATZ, ST_CONNZ, ST_GATEWAYZ, ST_HEALTHZ,
    ST_JSZ, ST_LEAFZ, ST_ROUTEZ, ST_SUBSZ, ST_VARZ, ST_COUNT
};

/* The endpoints, by path (nats-server's startMonitoring registers these). */
enum mon_path {
    MP_ROOT, MP_VARZ, MP_CONNZ, MP_ROUTEZ, MP_GATEWAYZ, MP_LEAFZ, MP_SUBSZ, MP_SUBSCRIPTIONSZ,
    MP_STACKSZ, MP_ACCOUNTZ, MP_ACCSTATZ, MP_JSZ, MP_HEALTHZ, MP_IPQUEUESZ,
    /* gannet's own (README "Monitoring"): not in nats-server's http_req_stats */
    MP_METRICS, MP_SHARDZ, MP_TOPZ, MP_DASHBOARD, MP_COUNT
};
#define MP_FIRST_EXT MP_METRICS

struct mconn;

struct monitor {
    struct server *srv;
    pthread_t thread;
    bool thread_started;       /* monitor_stop must join it */
    struct io_uring ring;      /* a plain ring: created here, submitted to by the thread */
    bool ring_ready;
    int listen_fd;
    bool https;                /* TLS with the client tls {} block (https, https_port, -ms) */
    int wake_fd;               /* eventfd: monitor_stop() writes, the thread wakes */
    uint64_t wake_buf;
    struct __kernel_timespec tick; /* the periodic timeout (cpu, config, drains) */
    char bound_addr[INET6_ADDRSTRLEN]; /* the listener's address as bound */
    int bound_port;
    bool stopping;             /* the wake read completed: leave the loop */

    char *base;                /* normalized http_base_path ("/" or "/x") */
    char *pattern[MP_COUNT];   /* each endpoint's full path: path.Join(base, "/varz") */
    int cores;                 /* CPUs this process may run on (Go's runtime.NumCPU) */

    bool compact;              /* json.Marshal, not MarshalIndent: sysw's context (monitor/sysreq.c) */
    uint64_t stats[ST_COUNT];  /* http_req_stats */
    uint64_t ext_stats[MP_COUNT - MP_FIRST_EXT]; /* requests of gannet's own endpoints */

    /* cpu: sampled every second from /proc/self/stat, as nats-server's pse */
    int64_t cpu_sample_ms;
    uint64_t cpu_ticks;
    double cpu;

    /* config_load_time: start, then whenever a reload publishes a new conf */
    uint64_t conf_gen;
    int64_t config_load_ns;

    struct mconn **conns;      /* by slot (MON_SLOTS in monitor.c) */
    uint32_t next_gen;         /* generation of the next connection (user_data) */
};

/* A request as the endpoints see it: the raw query string. */
struct mreq {
    const char *query;
    size_t qlen;
};

enum reply_kind {
    R_JSON,                    /* through nats-server's ResponseHandler: ?callback= applies */
    R_ERROR,                   /* a handler's 400: plain text, content type sniffed */
    R_HTML,                    /* the index page */
    R_TYPED,                   /* gannet's own pages (/metrics, /dashboard): ctype given */
};

struct reply {
    int status;
    enum reply_kind kind;
    char *body;                /* malloc'd, unless static_body */
    size_t len;
    const char *ctype;         /* R_TYPED: the Content-Type */
    bool static_body;          /* body points at constant data: not freed */
};

/* ---- endpoints.c ---- */
typedef void (*handler_fn)(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_root(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_varz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_routez(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_gatewayz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_leafz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_stacksz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_accountz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_accstatz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_jsz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_healthz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_ipqueuesz(struct monitor *m, const struct mreq *q, struct reply *r);
/* ---- metrics.c ---- */
void ep_metrics(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_shardz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_topz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_dashboard(struct monitor *m, const struct mreq *q, struct reply *r);
/* ---- connz.c ---- */
void ep_connz(struct monitor *m, const struct mreq *q, struct reply *r);
void ep_subsz(struct monitor *m, const struct mreq *q, struct reply *r);
struct account;
void write_sys_subsz(struct monitor *m, struct jw *w, const struct account *acc, bool subs, const char *test,
                     int64_t offset, int64_t limit);

/* Helpers for the endpoints (endpoints.c). */
void reply_json(struct reply *r, struct jw *w);  /* takes w's buffer */
void reply_error(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* pre + v[0..vn) + post: for a text that quotes a parameter's raw bytes */
void reply_error_val(struct reply *r, const char *pre, const char *v, size_t vn, const char *post);
/* The decoded value (NUL-terminated, *len its length, which counts any
 * NUL a %00 put inside) or NULL when absent; free() it. */
char *q_get(const struct mreq *q, const char *key, size_t *len);
/* Go's decodeBool/decodeInt/decodeUint64: an absent or empty parameter
 * leaves *v at its default; a bad one sets r (400) and returns -1. */
int q_bool(const struct mreq *q, const char *key, bool *v, struct reply *r);
int q_int(const struct mreq *q, const char *key, int64_t *v, struct reply *r);
int q_uint64(const struct mreq *q, const char *key, uint64_t *v, struct reply *r);
/* decodeSubs: subs=detail, or a boolean */
int q_subs(const struct mreq *q, bool *subs, bool *detail, struct reply *r);
void write_head(struct monitor *m, struct jw *w, int64_t now); /* server_id and now, as every endpoint starts */
/* The accounts (endpoints.c; also sysw's $SYS.REQ.ACCOUNT answers) */
struct account;
struct account *account_by_name(struct server *srv, const char *name, size_t n);
void write_account_detail(struct monitor *m, struct jw *w, const char *key, const struct account *acc);
void write_account_statz(struct monitor *m, struct jw *w, const struct account *a);
/* The /accstatz object: accounts named in only[] (all when nonly is 0),
 * those without connections too when unused; returns the entries written. */
int write_accstatz(struct monitor *m, struct jw *w, const char *const *only, int nonly, bool unused);
int64_t wall_ns(void);
int mon_count_cpus(void);                        /* Go's runtime.NumCPU */
int64_t rss_bytes(void);
/* http_req_stats: the endpoints requested so far (nats-server's and
 * gannet's own), by path in Go's sorted map order; out has room for
 * ST_COUNT + MP_COUNT. */
struct path_count {
    const char *path;
    uint64_t count;
};
size_t http_req_counts(const struct monitor *m, struct path_count *out);
const struct opts *cur_opts(struct monitor *m);
/* nats-server's SublistStats of the global account, in its field order */
void write_sublist_stats(struct monitor *m, struct jw *w, bool zero);
/* Called every second by the monitor thread: cpu and config_load_time. */
void sample_cpu(struct monitor *m);
void watch_config(struct monitor *m);
#endif
