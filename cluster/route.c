/* Cluster routes: see route.h. Facts about the wire are nats-server
 * 2.9.10's (server/route.go), as nats-compat.md §3 records them and
 * tests/cluster checks them against both servers. */
#include "route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <xxhash.h>

#include "account.h"
#include "authw.h"
#include "conn.h"
#include "encode.h"
#include "log.h"
#include "nkey.h"
#include "opts.h"
#include "query.h"
#include "rproto.h"
#include "s2t.h"
#include "tls.h"
#include "server.h"
#include "shard.h"
#include "subject.h"
#include "sublist.h"
#include "../monitor/json.h"

#define ROUTE_RECONNECT_MS 1000   /* nats-server's DEFAULT_ROUTE_RECONNECT */
#define ROUTE_DIAL_MS 1000        /* nats-server's DEFAULT_ROUTE_DIAL */
#define ROUTE_FIRST_PING_MS 1000  /* nats-server's firstPingInterval */
#define ROUTE_RETRY_MAX_MS 30000  /* the longest wait after refused attempts */
#define ROUTE_POOL_DEFAULT 3      /* nats-server 2.10's DEFAULT_ROUTE_POOL_SIZE */
#define ROUTE_EXTRA_TAG 0x40000000 /* a dial for one more connection of a pool (or a pinned account) */

/* A route URL we dial: configured (explicit) or learned from gossip (implicit). */
struct rtarget {
    char url[320];             /* nats-route://host:port, for logs and /varz */
    char hostport[300];        /* host:port (/varz cluster.urls) */
    char host[256];            /* the URL's host (a TLS route's certificate name) */
    char *user, *pass;         /* its userinfo, for our CONNECT */
    struct sockaddr_storage addr;
    socklen_t alen;
    bool explicit_;            /* configured: redialled forever */
    bool dialling;             /* a dialer or an unregistered connection of ours is working on it */
    bool dead;                 /* an implicit target given up: its slot is free */
    struct conn *conn;         /* the registered route serving it (ours, or the peer's that took it over) */
    char id[64];               /* the server it leads to, once known */
    uint64_t refused_pins;     /* pinned accounts (bits of cl->pins) the server said it has no route for */
    int extra_inflight;        /* dials for more connections to the same server (pool, pinned), and
                                * their connections until they register */
    int64_t retry_ms;          /* before the next dial after a connection that never registered
                                * (refused: bad credentials, wrong cluster): doubles up to
                                * ROUTE_RETRY_MAX_MS, so that a refusal is no tight loop
                                * (nats-server's issue #7194); back to ROUTE_RECONNECT_MS on success */
};

/* A route connection's own state (c->route). */
struct route {
    int target;                /* index in cl->targets; -1: accepted and not serving a target */
    bool solicited, configured;
    bool got_connect, registered, ldm, dynamic;
    bool registered_once;      /* it registered at some point (a refused one did not) */
    bool gannet;               /* the peer is a gannet (its INFO's "go"): duplicates are settled by server id */
    bool extra;                /* dialled as one more connection to a server we have (ROUTE_EXTRA_TAG) */
    bool extra_counted;        /* still in its target's extra_inflight */
    bool noredial;             /* closed as a connection too many: nothing to dial again */
    bool info_sent;            /* our INFO (we dial: held back until the peer's, route.go's delayInfo) */
    bool nopool;               /* one connection with every account: the peer has no pool (2.9), or we have none */
    int slot;                  /* its index in the peer's pool (route_pool_idx); 0 on a no-pool route */
    int pin;                   /* the pinned account it is dedicated to (cl->pins), -1: pooled accounts */
    bool negotiated;           /* compression settled with the peer (from its first INFO) */
    bool moved;                /* handed over to another shard after registering (the owner's copy) */
    bool ghost;                /* shard 0's stand-in for a moved route: no socket, its owner is shard `at` */
    bool refused_pin;          /* the peer said it has no route for its pinned account (the owner's copy) */
    int at;                    /* a ghost: the shard that owns the connection */
    bool in_transit;           /* a ghost whose connection has not landed yet: /routez shows the ghost */
    int comp;                  /* that compression (enum route_comp; an s2_auto route: its current level) */
    char id[64], name[256], cluster[256];
    char host[256];            /* its INFO's host and port: where it listens for routes */
    int rport;
    char **curls;              /* its INFO's connect_urls */
    int ncurls;
    char version[32];
    int proto;
};

struct ient {                  /* one advertised (account, subject, queue) */
    struct ient *next;
    uint64_t h;
    uint32_t acc, slen, qlen;
    int32_t count;
    char k[];                  /* subject, then queue */
};

struct urlstr {
    struct rcu_head rcu;
    char s[];
};

struct cluster {
    int listen_fd, port;
    char host[256];            /* what our route INFO says: the advertise host, or the listen host */
    int adv_port;
    char **own_urls;           /* our client URLs, as told to peers and clients */
    int nown;
    _Atomic(struct urlstr *) client_info; /* `,"cluster":..,"connect_urls":[..]` for client INFO */
    _Atomic(struct urlstr *) client_info_ldm; /* the same without our own URLs (we are in lame duck mode) */
    pthread_mutex_t mu;        /* the monitor's copies below */
    char mon_name[256];
    char *mon_urls;            /* JSON array of connect_urls, or NULL */
    _Atomic int nregistered;
    char **cfg_urls;           /* the explicit routes' host:port (/varz cluster.urls): immutable after init */
    int ncfg;
    int pool;                  /* connections per peer for the pooled accounts; -1: no pooling (as 2.9) */
    struct account **pins;     /* the accounts with a connection of their own (cluster.accounts, $SYS) */
    int npins;                 /* immutable after init, like pool */
    int comp;                  /* configured compression (enum route_comp), immutable */
    int64_t rtt_ms[4];         /* s2_auto's thresholds */
    int nrtt;
    /* shard 0 only */
    char name[256];
    bool dynamic;
    struct rtarget *targets;
    int ntargets, nexplicit;
    struct conn **routes;
    uint32_t nroutes, rcap;
    struct itab {              /* advertised interest: one table per shard, for the routes it owns */
        struct ient **tab;
        uint32_t mask, n;
    } *itab;                   /* [nshards], each its shard's only */
    struct conn **ghosts;      /* stand-ins of the routes handed over, registered or not, until they end */
    uint32_t nghosts, gcap;
};

static struct cluster *CL(const struct server *s) { return s->cluster; }

/* ---------------------------------------------------------------- helpers */

static char *jdup(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static void jcpy(json_t *o, const char *k, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, k);
    snprintf(dst, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static void json_esc(char *dst, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            dst[o++] = '\\', dst[o++] = (char)ch;
        else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&')
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", ch);
        else
            dst[o++] = (char)ch;
    }
    dst[o] = 0;
}

/* A growable string. */
struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np, b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_fmt(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
static void sb_jstr(struct sbuf *b, const char *s)
{
    char e[1024];
    json_esc(e, sizeof e, s);
    sb_str(b, "\"");
    sb_str(b, e);
    sb_str(b, "\"");
}
static void sb_urls(struct sbuf *b, char *const *v, int n)
{
    sb_str(b, "[");
    for (int i = 0; i < n; i++) {
        if (i)
            sb_str(b, ",");
        sb_jstr(b, v[i]);
    }
    sb_str(b, "]");
}

/* host:port of a URL such as nats-route://user:pass@host:port/ into host, *port;
 * its userinfo into user and pass (malloc'ed, NULL when absent). 0 or -1. */
static int split_url(const char *url, char *host, size_t hcap, int *port, char **user, char **pass)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *end = p + strcspn(p, "/?");
    const char *at = memrchr(p, '@', (size_t)(end - p));
    if (user)
        *user = *pass = NULL;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (user) {
            *user = strndup(p, (size_t)((colon ? colon : at) - p));
            *pass = colon ? strndup(colon + 1, (size_t)(at - colon - 1)) : NULL;
        }
        p = at + 1;
    }
    const char *colon;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return -1;
        snprintf(host, hcap, "%.*s", (int)(rb - p - 1), p + 1);
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memrchr(p, ':', (size_t)(end - p));
        snprintf(host, hcap, "%.*s", (int)((colon ? colon : end) - p), p);
    }
    *port = colon ? atoi(colon + 1) : 6222;
    return *port > 0 && *port < 65536 && *host ? 0 : -1;
}

static int resolve(const char *host, int port, bool numeric_only, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = numeric_only ? AI_NUMERICHOST : 0}, *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
        return -1;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static void fmt_hostport(char *out, size_t cap, const char *host, int port)
{
    snprintf(out, cap, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

static int route_begin(struct conn *c);
static int start_tls(struct conn *c);

static bool any_addr(const char *h) { return !*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !strcmp(h, "[::]"); }

/* Our client URLs, as nats-server's getClientConnectURLs: the client
 * advertise address, else the listen address, else (0.0.0.0) every
 * non-loopback interface address. */
static void own_urls(struct cluster *cl, const struct opts *o, int port)
{
    char hp[300];
    if (o->client_advertise) {
        char h[256];
        int p = port;
        if (split_url(o->client_advertise, h, sizeof h, &p, NULL, NULL) < 0 || !strchr(o->client_advertise, ':'))
            p = port;
        fmt_hostport(hp, sizeof hp, h, p);
        cl->own_urls = calloc(1, sizeof(char *));
        if (cl->own_urls && (cl->own_urls[0] = strdup(hp)))
            cl->nown = 1;
        return;
    }
    if (!any_addr(o->host)) {
        fmt_hostport(hp, sizeof hp, o->host, port);
        cl->own_urls = calloc(1, sizeof(char *));
        if (cl->own_urls && (cl->own_urls[0] = strdup(hp)))
            cl->nown = 1;
        return;
    }
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) < 0)
        return;
    int n = 0;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
        n++;
    cl->own_urls = calloc((size_t)n + 1, sizeof(char *));
    for (struct ifaddrs *i = ifa; i && cl->own_urls; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
            continue;
        char ip[64];
        int fam = i->ifa_addr->sa_family;
        if (fam == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, sizeof ip);
        else if (fam == AF_INET6 && !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, ip, sizeof ip);
        else
            continue;
        if (fam == AF_INET6 && strchr(o->host, '.')) /* 0.0.0.0 listens on IPv4 only */
            continue;
        fmt_hostport(hp, sizeof hp, ip, port);
        bool dup = false;
        for (int k = 0; k < cl->nown; k++)
            dup |= !strcmp(cl->own_urls[k], hp);
        if (!dup && (cl->own_urls[cl->nown] = strdup(hp)))
            cl->nown++;
    }
    freeifaddrs(ifa);
}

static void random_name(char *out, size_t cap)
{
    static const char a[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char nonce[NKEY_NONCE_LEN + 1];
    nkey_nonce(nonce);
    size_t n = cap - 1 < 22 ? cap - 1 : 22;
    for (size_t i = 0; i < n; i++)
        out[i] = a[(unsigned char)nonce[i % NKEY_NONCE_LEN] * (i + 7) % 62];
    out[n] = 0;
}

/* ---------------------------------------------------------------- init */

static int add_target(struct cluster *cl, const char *url, bool explicit_, bool numeric_only)
{
    char host[256];
    int port;
    char *user = NULL, *pass = NULL;
    if (split_url(url, host, sizeof host, &port, &user, &pass) < 0) {
        log_error("Error parsing route URL %s", url);
        free(user), free(pass);
        return -1;
    }
    struct rtarget t = {.explicit_ = explicit_, .user = user, .pass = pass};
    if (resolve(host, port, numeric_only, &t.addr, &t.alen) < 0) {
        log_error("Error resolving route %s", url);
        free(user), free(pass);
        return -1;
    }
    fmt_hostport(t.hostport, sizeof t.hostport, host, port);
    snprintf(t.host, sizeof t.host, "%s", host);
    snprintf(t.url, sizeof t.url, "nats-route://%s", t.hostport);
    int slot = -1;
    for (int i = cl->nexplicit; i < cl->ntargets; i++)
        if (cl->targets[i].dead) {
            slot = i;
            break;
        }
    if (slot < 0) {
        struct rtarget *nv = realloc(cl->targets, (size_t)(cl->ntargets + 1) * sizeof *nv);
        if (!nv) {
            free(user), free(pass);
            return -1;
        }
        cl->targets = nv;
        slot = cl->ntargets++;
    }
    cl->targets[slot] = t;
    return slot;
}

static void publish_client_info(struct server *s);

int route_init(struct server *s, const struct opts *o)
{
    const struct cluster_opt *co = &o->cluster;
    if (!co->configured)
        return 0;
    struct cluster *cl = calloc(1, sizeof *cl);
    if (!cl)
        return -1;
    s->cluster = cl;
    pthread_mutex_init(&cl->mu, NULL);
    cl->listen_fd = -1;
    if (co->name) {
        snprintf(cl->name, sizeof cl->name, "%s", co->name);
    } else {
        random_name(cl->name, sizeof cl->name);
        cl->dynamic = true;
    }
    snprintf(cl->mon_name, sizeof cl->mon_name, "%s", cl->name);
    if (co->port != 0) {
        int fd = listener_open(co->host, co->port < 0 ? 0 : co->port, &cl->port);
        if (fd < 0) {
            log_fatal("Error listening on router port: %s:%d: %s", co->host, co->port, strerror(-fd));
            return -1;
        }
        cl->listen_fd = fd;
    }
    snprintf(cl->host, sizeof cl->host, "%s", co->host);
    cl->adv_port = cl->port;
    if (co->advertise) {
        int p = cl->port;
        char h[256];
        if (split_url(co->advertise, h, sizeof h, &p, NULL, NULL) == 0 || *h) {
            snprintf(cl->host, sizeof cl->host, "%s", h);
            cl->adv_port = strchr(co->advertise, ':') ? p : cl->port;
        }
    }
    for (int i = 0; i < co->nroutes; i++)
        add_target(cl, co->routes[i], true, false); /* an unresolvable one is logged and skipped */
    cl->nexplicit = cl->ntargets;
    cl->cfg_urls = calloc((size_t)cl->nexplicit + 1, sizeof *cl->cfg_urls);
    for (int i = 0; cl->cfg_urls && i < cl->nexplicit; i++)
        if ((cl->cfg_urls[cl->ncfg] = strdup(cl->targets[i].hostport)))
            cl->ncfg++;
    cl->pool = co->pool_size == 0 ? ROUTE_POOL_DEFAULT : co->pool_size < 0 ? -1 : co->pool_size;
    if (cl->pool < 0 && co->naccounts) {
        log_fatal("cluster accounts need route pooling: pool_size is %d", co->pool_size);
        return -1;
    }
    /* nats-server 2.10's setBaselineOptions: pooling pins the system account too */
    cl->pins = calloc((size_t)co->naccounts + 1, sizeof *cl->pins);
    if (!cl->pins)
        return -1;
    for (int i = 0; i < co->naccounts; i++) {
        struct account *a = account_find(s->acc, s->naccounts, co->accounts[i]);
        if (!a) {
            log_fatal("cluster accounts: account \"%s\" is not defined", co->accounts[i]);
            return -1;
        }
        cl->pins[cl->npins++] = a;
    }
    if (cl->pool > 0 && s->sacc) {
        bool have = false;
        for (int i = 0; i < cl->npins; i++)
            have |= cl->pins[i] == s->sacc;
        if (!have)
            cl->pins[cl->npins++] = s->sacc;
    }
    cl->comp = co->compression ? co->compression : COMP_ACCEPT; /* 2.10's default for routes */
    if (co->tls.ctx && cl->comp != COMP_NOT_SUPPORTED) {
        /* S2 under TLS would need stacked transports, which gannet does not have yet */
        if (co->compression && co->compression != COMP_OFF && co->compression != COMP_ACCEPT)
            log_warn("Route compression \"%s\" is off: gannet does not compress TLS routes yet",
                     route_comp_names[co->compression]);
        cl->comp = COMP_OFF;
    }
    if (co->nrtt) {
        memcpy(cl->rtt_ms, co->rtt_ms, sizeof cl->rtt_ms);
        cl->nrtt = co->nrtt;
    } else { /* defaultCompressionS2AutoRTTThresholds (server.go) */
        cl->rtt_ms[0] = 10, cl->rtt_ms[1] = 50, cl->rtt_ms[2] = 100;
        cl->nrtt = 3;
    }
    if (!(cl->itab = calloc((size_t)s->nshards, sizeof *cl->itab)))
        return -1;
    for (int i = 0; i < s->nshards; i++) {
        cl->itab[i].mask = 255;
        if (!(cl->itab[i].tab = calloc(256, sizeof *cl->itab[i].tab)))
            return -1;
    }
    own_urls(cl, o, s->port);
    if (cl->listen_fd >= 0)
        log_info("Listening for route connections on %s:%d", co->host, cl->port);
    log_info("Cluster name is %s", cl->name);
    if (cl->dynamic)
        log_warn("Cluster name was dynamically generated, consider setting one");
    publish_client_info(s);
    return 0;
}

static void urlstr_free(struct rcu_head *h)
{
    TSAN_GRACE_ACQUIRE(); /* every reader's uses of it happened before (core/tsan.h) */
    free(caa_container_of(h, struct urlstr, rcu));
}

void route_free(struct server *s)
{
    struct cluster *cl = CL(s);
    if (!cl)
        return;
    if (cl->listen_fd >= 0)
        close(cl->listen_fd);
    for (int i = 0; i < cl->ntargets; i++)
        free(cl->targets[i].user), free(cl->targets[i].pass);
    free(cl->targets);
    for (int i = 0; i < cl->ncfg; i++)
        free(cl->cfg_urls[i]);
    free(cl->cfg_urls);
    for (int i = 0; i < cl->nown; i++)
        free(cl->own_urls[i]);
    free(cl->own_urls);
    for (int k = 0; cl->itab && k < s->nshards; k++) {
        struct itab *it = &cl->itab[k];
        for (uint32_t i = 0; it->tab && i <= it->mask; i++)
            for (struct ient *e = it->tab[i], *n; e; e = n) {
                n = e->next;
                free(e);
            }
        free(it->tab);
    }
    free(cl->itab);
    free(cl->routes);
    for (uint32_t i = 0; i < cl->nghosts; i++) { /* stand-ins of routes that were open when the server stopped */
        route_release(cl->ghosts[i]);
        free(cl->ghosts[i]);
    }
    free(cl->ghosts);
    free(cl->pins);
    free(atomic_load(&cl->client_info));
    free(atomic_load(&cl->client_info_ldm));
    free(cl->mon_urls);
    pthread_mutex_destroy(&cl->mu);
    free(cl);
    s->cluster = NULL;
}

int route_listen_fd(const struct server *s) { return CL(s) ? CL(s)->listen_fd : -1; }

int route_count(const struct server *s)
{
    return CL(s) ? atomic_load_explicit(&CL(s)->nregistered, memory_order_relaxed) : 0;
}

static void dial_spec_for(struct shard *sh, int idx, int64_t delay_ms, int attempts, bool extra)
{
    struct cluster *cl = CL(sh->srv);
    struct rtarget *t = &cl->targets[idx];
    const struct opts *o = sh->conf->o;
    struct dial_spec spec = {.alen = t->alen, .kind = CK_ROUTE, .tag = (idx + 1) | (extra ? ROUTE_EXTRA_TAG : 0),
                             .timeout_ms = o->cluster.connect_timeout_ms > 0 ? o->cluster.connect_timeout_ms
                                                                              : ROUTE_DIAL_MS,
                             .backoff_ms = ROUTE_RECONNECT_MS, .backoff_max_ms = ROUTE_RECONNECT_MS,
                             .max_attempts = attempts, .first_delay_ms = delay_ms};
    memcpy(&spec.addr, &t->addr, sizeof spec.addr);
    if (extra)
        t->extra_inflight++;
    else
        t->dialling = true;
    shard_dial(sh, &spec);
}

static void dial_target(struct shard *sh, int idx, int64_t delay_ms, int attempts)
{
    dial_spec_for(sh, idx, delay_ms, attempts, false);
}

/* The registered connections to server id (pooled, pinned, or its one). */
static int conns_to(const struct cluster *cl, const char *id, bool *nopool)
{
    int n = 0;
    for (uint32_t i = 0; i < cl->nroutes; i++) {
        const struct route *r = cl->routes[i]->route;
        if (!strcmp(r->id, id)) {
            n++;
            if (nopool)
                *nopool |= r->nopool;
        }
    }
    return n;
}

/* A server we dialled has fewer connections than a pool and its pinned
 * accounts make: dial the missing ones (route.go dials the next pool
 * connection once one registers, after a random wait under 100 ms). Which
 * slot or account each serves is settled when it registers. */
static void ensure_pool(struct shard *sh, int idx, int64_t delay_ms)
{
    struct cluster *cl = CL(sh->srv);
    struct rtarget *t = &cl->targets[idx];
    bool nopool = false;
    if (cl->pool < 0 || !*t->id || t->dead)
        return;
    int have = conns_to(cl, t->id, &nopool);
    if (!have || nopool)
        return;
    int want = cl->pool + cl->npins - __builtin_popcountll(t->refused_pins) - have - t->extra_inflight -
               (t->dialling ? 1 : 0);
    for (int i = 0; i < want; i++)
        dial_spec_for(sh, idx, delay_ms + (int64_t)(random() % 100), 1, true);
}

void route_shard_start(struct shard *sh)
{
    struct cluster *cl = CL(sh->srv);
    if (!cl || sh->id != 0)
        return;
    for (int i = 0; i < cl->nexplicit; i++)
        dial_target(sh, i, 0, 0);
}

/* ---------------------------------------------------------------- the client INFO and URLs */

static bool has_url(char **v, int n, const char *u)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i], u))
            return true;
    return false;
}

/* Our URLs first (none in lame duck mode: ldm), then each registered peer's that is not in lame duck mode. */
static char **cluster_urls(struct server *s, bool ldm, int *np)
{
    struct cluster *cl = CL(s);
    int cap = cl->nown + 1;
    for (uint32_t i = 0; i < cl->nroutes; i++)
        cap += cl->routes[i]->route->ncurls;
    char **v = calloc((size_t)cap, sizeof *v);
    int n = 0;
    if (!v) {
        *np = 0;
        return NULL;
    }
    if (!ldm)
        for (int i = 0; i < cl->nown; i++)
            v[n++] = cl->own_urls[i];
    for (uint32_t i = 0; i < cl->nroutes; i++) {
        struct route *r = cl->routes[i]->route;
        for (int k = 0; !r->ldm && k < r->ncurls; k++)
            if (!has_url(v, n, r->curls[k]))
                v[n++] = r->curls[k];
    }
    *np = n;
    return v;
}

/* The client INFO members for our URLs (ldm: as a lame duck tells them), malloc'ed. */
static struct urlstr *client_info_str(struct server *s, bool ldm, struct sbuf *mon)
{
    struct cluster *cl = CL(s);
    const struct opts *o = s->opts;
    struct sbuf b = {0};
    int n = 0;
    char **v = cluster_urls(s, ldm, &n);
    sb_str(&b, ",\"cluster\":");
    sb_jstr(&b, cl->name);
    if (cl->dynamic)
        sb_str(&b, ",\"cluster_dynamic\":true");
    /* nats-server lists them only once another server is known */
    bool others = cl->nroutes > 0;
    if (others && !o->cluster.no_advertise && n) {
        sb_str(&b, ",\"connect_urls\":");
        sb_urls(&b, v, n);
    }
    if (mon && others && n)
        sb_urls(mon, v, n);
    free(v);
    struct urlstr *u = b.oom ? NULL : malloc(sizeof *u + b.n + 1);
    if (u)
        memcpy(u->s, b.p ? b.p : "", b.n + 1);
    free(b.p);
    return u;
}

static void publish_client_info(struct server *s)
{
    struct cluster *cl = CL(s);
    struct sbuf m = {0};
    struct urlstr *u = client_info_str(s, false, &m), *ul = client_info_str(s, true, NULL);
    if (!u || !ul || m.oom) {
        free(u), free(ul), free(m.p);
        log_error("cluster: out of memory for the client URLs");
        return;
    }
    struct urlstr *old = atomic_exchange_explicit(&cl->client_info, u, memory_order_release);
    if (old)
        call_rcu(&old->rcu, urlstr_free);
    old = atomic_exchange_explicit(&cl->client_info_ldm, ul, memory_order_release);
    if (old)
        call_rcu(&old->rcu, urlstr_free);
    pthread_mutex_lock(&cl->mu);
    free(cl->mon_urls);
    cl->mon_urls = m.p;
    snprintf(cl->mon_name, sizeof cl->mon_name, "%s", cl->name);
    pthread_mutex_unlock(&cl->mu);
}

const char *route_client_info(struct server *s)
{
    struct cluster *cl = CL(s);
    if (!cl)
        return "";
    bool ldm = atomic_load_explicit(&s->ldm_start_ms, memory_order_relaxed) != 0;
    struct urlstr *u = atomic_load_explicit(ldm ? &cl->client_info_ldm : &cl->client_info, memory_order_acquire);
    return u ? u->s : "";
}

/* The client URLs changed: publish them and push INFO to every shard's clients. */
static void urls_changed(struct shard *sh)
{
    struct server *s = sh->srv;
    char *before = strdup(route_client_info(s));
    publish_client_info(s);
    bool same = before && !strcmp(before, route_client_info(s));
    free(before);
    if (same || s->opts->cluster.no_advertise)
        return;
    for (int i = 0; i < s->nshards; i++) {
        if (s->shards[i] == sh)
            conn_push_info_all(sh);
        else if (shard_post_simple(s->shards[i], SC_CLIENT_INFO, 0) < 0)
            log_error("cluster: out of memory telling shard %d of new client URLs", i);
    }
}

/* ---------------------------------------------------------------- compression
 *
 * nats-server 2.10's negotiation (route.go, processRouteInfo and
 * negotiateRouteCompression; server.go, selectCompressionMode): each side
 * says its mode in INFO; from the peer's first INFO each picks what to
 * use. To compress, the side that dialled sends one more INFO with the
 * chosen mode, plain, and switches; the other switches and answers with
 * an INFO, compressed; the dialler's next INFO (the one that registers,
 * with the pool slot) and everything after go compressed both ways. */

static bool needs_comp(int m) { return m != COMP_UNSET && m != COMP_OFF && m != COMP_NOT_SUPPORTED; }

static int comp_by_name(const char *m)
{
    for (int i = COMP_NOT_SUPPORTED; i <= COMP_S2_BEST; i++)
        if (!strcmp(route_comp_names[i], m))
            return i;
    return COMP_UNSET;
}

/* selectCompressionMode: ours, theirs (as their INFO says it) -> the mode
 * to use, or COMP_UNSET (a mode we do not know: refused). */
static int comp_select(int ours, const char *theirs)
{
    if (!*theirs || !strcmp(theirs, "not supported"))
        return COMP_NOT_SUPPORTED;
    int rcm = comp_by_name(theirs);
    switch (rcm) {
    case COMP_OFF:
        return COMP_OFF;
    case COMP_ACCEPT:
        return ours == COMP_ACCEPT ? COMP_OFF : ours;
    case COMP_S2_AUTO:
    case COMP_S2_UNCOMPRESSED:
    case COMP_S2_FAST:
    case COMP_S2_BETTER:
    case COMP_S2_BEST:
        if (ours == COMP_ACCEPT) /* theirs, but auto against accept is fast */
            return rcm == COMP_S2_AUTO ? COMP_S2_FAST : rcm;
        return ours;
    default:
        return COMP_UNSET;
    }
}

/* selectS2AutoModeBasedOnRTT: the first threshold the RTT is within picks
 * uncompressed, fast, better; beyond them all, best (or the last level
 * there is a threshold for). */
static int comp_by_rtt(const struct cluster *cl, int64_t rtt_ns)
{
    int idx = -1;
    for (int i = 0; i < cl->nrtt && idx < 0; i++)
        if (rtt_ns <= cl->rtt_ms[i] * 1000000)
            idx = i;
    if (idx < 0)
        idx = cl->nrtt >= 3 ? 3 : cl->nrtt - 1;
    static const int lv[] = {COMP_S2_UNCOMPRESSED, COMP_S2_FAST, COMP_S2_BETTER, COMP_S2_BEST};
    return lv[idx];
}

static enum s2_level s2_level_of(int m)
{
    return m == COMP_S2_BEST ? S2_BEST : m == COMP_S2_BETTER ? S2_BETTER : m == COMP_S2_FAST ? S2_FAST : S2_NONE;
}

/* What our INFO says (NULL: nothing, as a 2.9 server): the configured mode
 * until one is negotiated; s2_auto stays s2_auto (compressionModeForInfoProtocol). */
static const char *info_comp(const struct cluster *cl, const struct route *r)
{
    if (cl->comp == COMP_NOT_SUPPORTED)
        return NULL;
    if (cl->comp == COMP_S2_AUTO)
        return "s2_auto";
    return route_comp_names[r && r->comp ? r->comp : cl->comp];
}

/* ---------------------------------------------------------------- routes on other shards
 *
 * A route that registers is handed over to the shard with the fewest
 * routes (spread), so that a pool's connections, and the routes to
 * different servers, run on different cores: their RMSG parsing,
 * delivery and compression, and the writes of the messages they carry.
 * Everything about the cluster stays on shard 0, which keeps a stand-in
 * (a ghost: the route's state, no socket, not in any slot table) where the
 * connection was, in cl->routes and its target. What shard 0 writes to a
 * ghost (RS+/RS-, gossip, lame duck INFO) or closes goes to the owner as
 * SC_ROUTE_CTL, after the SC_ADOPT that carried the connection there (one
 * producer's commands run in the order posted). The owner sends shard 0
 * the route's later INFOs (gossip, its client URLs, lame duck) and its end
 * as SC_ROUTE_UP; shard 0 then runs what it runs for a route of its own
 * (process_info, route_gone) on the ghost and frees it. Before the move
 * completes (the handover drains the output first, docs/design.md §17),
 * shard 0 writes to the connection itself. */

enum rcmd {
    RC_WRITE = 1,              /* to the owner: bytes for the route */
    RC_CLOSE,                  /* to the owner: close it (arg: the reason) */
    RC_CONFIGURED,             /* to the owner: it now serves an explicit target (arg: 0/1) */
    RU_INFO,                   /* to shard 0: an INFO the route received (buf: its JSON) */
    RU_GONE,                   /* to shard 0: it closed (arg: the reason and RU_ flags) */
    RU_ADOPTED,                /* to shard 0: it landed on its new shard */
};
#define RU_NOREDIAL 0x10000    /* closed as one too many (or refused a pinned account): no redial */
#define RU_REFUSED_PIN 0x20000 /* the peer has no route for its pinned account */

static int post_cmd(struct shard *to, enum shard_cmd_type type, uint64_t cid, int op, int arg, const char *p, size_t n)
{
    struct shard_cmd *cmd = calloc(1, sizeof *cmd);
    char *b = n ? malloc(n) : NULL;
    if (!cmd || (n && !b)) {
        free(cmd);
        free(b);
        log_error("cluster: out of memory posting to shard %d for rid:%" PRIu64, to->id, cid);
        return -ENOMEM;
    }
    if (n)
        memcpy(b, p, n);
    cmd->type = type;
    cmd->route.cid = cid;
    cmd->route.op = op;
    cmd->route.arg = arg;
    cmd->buf = b;
    cmd->buf_len = (uint32_t)n;
    shard_post(to, cmd);
    return 0;
}

/* What shard 0 writes to a registered route, its own or a ghost. */
static int rwrite(struct conn *c, const char *p, size_t n)
{
    const struct route *r = c->route;
    if (!r->ghost)
        return conn_write(c, p, n);
    if (c->closing)
        return 0;
    return post_cmd(c->sh->srv->shards[r->at], SC_ROUTE_CTL, c->cid, RC_WRITE, 0, p, n);
}

static void rclose(struct conn *c, enum close_reason why)
{
    if (!c->route->ghost) {
        conn_close(c, why, false);
        return;
    }
    if (c->closing)
        return;
    c->closing = true; /* nothing more is sent to it; it is freed when its end is heard of */
    c->reason = why;
    if (post_cmd(c->sh->srv->shards[c->route->at], SC_ROUTE_CTL, c->cid, RC_CLOSE, (int)why, NULL, 0) < 0)
        c->closing = false; /* try again at the next occasion */
}

/* A route that just registered on shard 0 goes to the shard with the
 * fewest registered routes (the lowest id among equals); it moves once
 * its output, the interest table first, has drained. */
static void spread(struct conn *c)
{
    struct shard *sh = c->sh;
    struct server *s = sh->srv;
    struct cluster *cl = CL(s);
    if (s->nshards < 2 || c->route->moved || c->route->ghost || c->closing)
        return;
    uint32_t counts[256] = {0};
    int n = s->nshards < 256 ? s->nshards : 256;
    for (uint32_t i = 0; i < cl->nroutes; i++) {
        const struct route *o = cl->routes[i]->route;
        const struct conn *k = cl->routes[i];
        int at = o->ghost ? o->at : k->moving ? k->move_to : 0; /* one on its way counts where it goes */
        if (k != c && at < n)
            counts[at]++;
    }
    int to = 0;
    for (int i = 1; i < n; i++)
        if (counts[i] < counts[to])
            to = i;
    if (to != sh->id && shard_handover(sh, c, to) < 0)
        log_debug("%s:%u - rid:%" PRIu64 " - stays on shard %d (busy)", c->ip, c->port, c->cid, sh->id);
}

static void ghost_free(struct conn *g)
{
    route_release(g);
    free(g);
}

int route_moving(struct conn *c, int to)
{
    struct route *r = c->route;
    struct cluster *cl = CL(c->sh->srv);
    if (!r || !cl || !r->registered)
        return 0; /* closed meanwhile: nothing of it is in the registry */
    if (cl->nghosts == cl->gcap) {
        uint32_t nc = cl->gcap ? cl->gcap * 2 : 8;
        struct conn **nv = realloc(cl->ghosts, nc * sizeof *nv);
        if (!nv)
            return -1;
        cl->ghosts = nv, cl->gcap = nc;
    }
    struct conn *g = calloc(1, sizeof *g);
    struct route *gr = g ? malloc(sizeof *gr) : NULL;
    if (!gr) {
        free(g);
        return -1;
    }
    *gr = *r; /* the client URLs go to the stand-in: only shard 0 reads them */
    gr->ghost = true;
    gr->at = to;
    gr->in_transit = true;
    r->curls = NULL;
    r->ncurls = 0;
    r->moved = true;
    g->route = gr;
    g->kind = CK_ROUTE;
    g->sh = c->sh;
    g->cid = c->cid;
    g->fd = -1;
    g->port = c->port;
    g->connected = true;
    g->tp = (struct transport){.ops = &transport_plain};
    memcpy(g->ip, c->ip, sizeof g->ip);
    /* what /routez shows of it while it is on its way */
    g->start_ms = c->start_ms;
    g->last_activity_ms = c->last_activity_ms;
    g->rtt_ns = c->rtt_ns;
    g->in_msgs = c->in_msgs, g->out_msgs = c->out_msgs;
    g->in_bytes = c->in_bytes, g->out_bytes = c->out_bytes;
    for (uint32_t i = 0; i < cl->nroutes; i++)
        if (cl->routes[i] == c)
            cl->routes[i] = g;
    for (int i = 0; i < cl->ntargets; i++)
        if (cl->targets[i].conn == c)
            cl->targets[i].conn = g;
    cl->ghosts[cl->nghosts++] = g;
    return 0;
}

/* A registered route this shard owns: told of interest changes from now on. */
static int own_route(struct conn *c)
{
    struct shard *sh = c->sh;
    if (sh->nrconn == sh->rconn_cap) {
        uint32_t nc = sh->rconn_cap ? sh->rconn_cap * 2 : 8;
        struct conn **nv = realloc(sh->rconn, nc * sizeof *nv);
        if (!nv)
            return -1;
        sh->rconn = nv, sh->rconn_cap = nc;
    }
    sh->rconn[sh->nrconn++] = c;
    atomic_store_explicit(&sh->nroutes, (int32_t)sh->nrconn, memory_order_relaxed);
    return 0;
}

static int send_all_interest(struct conn *c);

int route_adopted(struct conn *c)
{
    if (!c->route || !c->route->moved)
        return 0;
    log_debug("%s:%u - rid:%" PRIu64 " - Route handed over to shard %d", c->ip, c->port, c->cid, c->sh->id);
    post_cmd(c->sh->srv->shards[0], SC_ROUTE_UP, c->cid, RU_ADOPTED, 0, NULL, 0);
    /* what this shard's table holds: the interest it has told its routes,
     * and the changes after it come from the same table */
    return own_route(c) < 0 || send_all_interest(c) < 0 ? -1 : 0;
}

static int process_info(struct conn *c, const struct proto_msg *m);
static int send_route_info(struct conn *c, bool first, bool ldm);
static void route_gone(struct conn *c);

void route_cmd_in(struct shard *sh, const struct shard_cmd *cmd)
{
    struct cluster *cl = CL(sh->srv);
    uint64_t cid = cmd->route.cid;
    if (!cl) {
        free(cmd->buf);
        return;
    }
    if (cmd->type == SC_ROUTE_CTL) { /* the owner */
        struct conn *c = NULL;
        for (uint32_t i = 0; i < sh->nrconn && !c; i++)
            if (sh->rconn[i]->cid == cid)
                c = sh->rconn[i];
        if (c && !c->closing) {
            if (cmd->route.op == RC_WRITE && conn_write(c, cmd->buf, cmd->buf_len) < 0)
                conn_close(c, CR_RESOURCES, false);
            else if (cmd->route.op == RC_CLOSE)
                conn_close(c, (enum close_reason)cmd->route.arg, false);
            else if (cmd->route.op == RC_CONFIGURED)
                c->route->configured = cmd->route.arg != 0;
        }
        free(cmd->buf);
        return;
    }
    uint32_t gi = 0; /* shard 0: the stand-in */
    while (gi < cl->nghosts && cl->ghosts[gi]->cid != cid)
        gi++;
    if (gi == cl->nghosts) {
        free(cmd->buf);
        return;
    }
    struct conn *g = cl->ghosts[gi];
    struct route *gr = g->route;
    if (cmd->route.op == RU_ADOPTED) {
        gr->in_transit = false;
        return;
    }
    if (cmd->route.op == RU_INFO) {
        if (gr->registered && !g->closing) {
            struct proto_msg m = {.op = OP_INFO, .rest = {cmd->buf, cmd->buf_len}};
            process_info(g, &m);
        }
        free(cmd->buf);
        return;
    }
    int arg = cmd->route.arg;
    g->reason = (enum close_reason)(arg & 0xffff);
    if (arg & RU_NOREDIAL)
        gr->noredial = true;
    if ((arg & RU_REFUSED_PIN) && gr->target >= 0 && gr->pin >= 0 && gr->pin < 64)
        cl->targets[gr->target].refused_pins |= 1ull << gr->pin;
    g->closing = true;
    route_gone(g);
    cl->ghosts[gi] = cl->ghosts[--cl->nghosts];
    ghost_free(g);
    free(cmd->buf);
}

uint32_t route_in_transit(struct shard *sh, struct conn **out, uint32_t max)
{
    struct cluster *cl = CL(sh->srv);
    uint32_t n = 0;
    for (uint32_t i = 0; cl && sh->id == 0 && i < cl->nghosts && n < max; i++) {
        struct conn *g = cl->ghosts[i];
        if (g->route->in_transit && g->route->registered && !g->closing)
            out[n++] = g;
    }
    return n;
}

void route_shard_ldm(struct shard *sh)
{
    struct cluster *cl = CL(sh->srv);
    if (!cl || sh->id != 0)
        return;
    for (uint32_t i = 0; i < cl->nroutes; i++) {
        struct conn *g = cl->routes[i];
        if (g->route->ghost && !g->closing && send_route_info(g, false, true) < 0)
            rclose(g, CR_RESOURCES);
    }
}

/* ---------------------------------------------------------------- the INFO we send */

/* first: the INFO a connection starts with (a nonce, "INFO {...} \r\n");
 * else an update (no nonce, "INFO {...}\r\n", as nats-server's). With
 * pooling, nats-server 2.10's fields come last, as its Info struct orders
 * them: route_pool_size, route_pool_idx (left out when 0), route_account. */
static int send_route_info(struct conn *c, bool first, bool ldm)
{
    const struct route *r = c->route;
    struct server *s = c->sh->srv;
    struct cluster *cl = CL(s);
    const struct opts *o = c->sh->conf->o;
    struct sbuf b = {0};
    sb_str(&b, "INFO {\"server_id\":");
    sb_jstr(&b, s->server_id);
    sb_str(&b, ",\"server_name\":");
    sb_jstr(&b, o->server_name ? o->server_name : s->server_id);
    sb_fmt(&b, ",\"version\":\"%s\",\"proto\":2,\"go\":\"gannet%s\",\"host\":", NATS_COMPAT_VERSION, GANNET_VERSION);
    sb_jstr(&b, cl->host);
    sb_fmt(&b, ",\"port\":%d,\"headers\":true", cl->adv_port);
    if (o->cluster.user)
        sb_str(&b, ",\"auth_required\":true");
    if (o->cluster.tls.ctx) /* nats-server: a TLS route always verifies its peer */
        sb_str(&b, ",\"tls_required\":true,\"tls_verify\":true");
    sb_fmt(&b, ",\"max_payload\":%" PRId64, o->max_payload);
    if (first) {
        char nonce[NKEY_NONCE_LEN + 1];
        nkey_nonce(nonce);
        sb_fmt(&b, ",\"nonce\":\"%s\"", nonce);
    }
    sb_str(&b, ",\"cluster\":");
    sb_jstr(&b, cl->name);
    if (cl->dynamic)
        sb_str(&b, ",\"cluster_dynamic\":true");
    if (cl->nown && !o->cluster.no_advertise) {
        sb_str(&b, ",\"connect_urls\":");
        sb_urls(&b, cl->own_urls, cl->nown);
    }
    if (ldm)
        sb_str(&b, ",\"ldm\":true");
    const char *comp = info_comp(cl, r);
    if (comp) {
        sb_str(&b, ",\"compression\":");
        sb_jstr(&b, comp);
    }
    sb_str(&b, ",\"lnoc\":true");
    if (cl->pool > 0) {
        sb_fmt(&b, ",\"route_pool_size\":%d", cl->pool);
        if (r->slot > 0)
            sb_fmt(&b, ",\"route_pool_idx\":%d", r->slot);
        if (r->pin >= 0) {
            sb_str(&b, ",\"route_account\":");
            sb_jstr(&b, cl->pins[r->pin]->name);
        }
    }
    sb_str(&b, first ? "} \r\n" : "}\r\n");
    int rc = b.oom ? -ENOMEM : rwrite(c, b.p, b.n);
    free(b.p);
    return rc;
}

/* The INFO of a new route's peer, forwarded to the others (gossip): the
 * peer's identity and the address it takes routes on. */
static void send_gossip(struct conn *to, const struct conn *about)
{
    const struct route *r = about->route;
    struct sbuf b = {0};
    char hp[300];
    fmt_hostport(hp, sizeof hp, any_addr(r->host) ? about->ip : r->host, r->rport);
    sb_str(&b, "INFO {\"server_id\":");
    sb_jstr(&b, r->id);
    sb_str(&b, ",\"server_name\":");
    sb_jstr(&b, r->name);
    sb_str(&b, ",\"version\":");
    sb_jstr(&b, r->version);
    sb_fmt(&b, ",\"proto\":%d,\"go\":\"\",\"host\":", r->proto);
    sb_jstr(&b, r->host);
    sb_fmt(&b, ",\"port\":%d,\"headers\":true,\"max_payload\":%" PRId64 ",\"ip\":\"nats-route://%s/\",\"cluster\":",
           r->rport, to->sh->conf->o->max_payload, hp);
    sb_jstr(&b, r->cluster);
    if (r->ncurls) {
        sb_str(&b, ",\"connect_urls\":");
        sb_urls(&b, r->curls, r->ncurls);
    }
    sb_str(&b, ",\"lnoc\":true}\r\n");
    if (!b.oom)
        rwrite(to, b.p, b.n);
    free(b.p);
}

static void send_connect(struct conn *c)
{
    struct server *s = c->sh->srv;
    struct cluster *cl = CL(s);
    const struct rtarget *t = &cl->targets[c->route->target];
    struct sbuf b = {0};
    sb_str(&b, "CONNECT {\"echo\":true,\"verbose\":false,\"pedantic\":false");
    if (t->user) {
        sb_str(&b, ",\"user\":");
        sb_jstr(&b, t->user);
        sb_str(&b, ",\"pass\":");
        sb_jstr(&b, t->pass ? t->pass : "");
    }
    sb_str(&b, c->sh->conf->o->cluster.tls.ctx ? ",\"tls_required\":true" : ",\"tls_required\":false");
    sb_str(&b, ",\"headers\":true,\"name\":");
    sb_jstr(&b, s->server_id);
    sb_str(&b, ",\"cluster\":");
    sb_jstr(&b, cl->name);
    if (cl->dynamic)
        sb_str(&b, ",\"cluster_dynamic\":true");
    sb_str(&b, ",\"lnoc\":true}\r\n");
    if (!b.oom)
        conn_write(c, b.p, b.n);
    free(b.p);
}

/* ---------------------------------------------------------------- connection hooks */

void route_start(struct conn *c)
{
    struct shard *sh = c->sh;
    struct server *s = sh->srv;
    const struct opts *o = sh->conf->o;
    struct route *r = calloc(1, sizeof *r);
    c->route = r;
    if (!r || !CL(s)) {
        conn_close(c, CR_RESOURCES, false);
        return;
    }
    r->target = (c->dial_tag & ~ROUTE_EXTRA_TAG) - 1;
    r->extra = r->extra_counted = (c->dial_tag & ROUTE_EXTRA_TAG) != 0;
    r->slot = r->pin = -1;
    r->solicited = r->target >= 0;
    r->configured = r->solicited && CL(s)->targets[r->target].explicit_;
    c->cid = atomic_fetch_add(&s->next_cid, 1);
    c->conf_gen = sh->conf->gen;
    c->acc = s->gacc;
    c->echo = true;
    c->headers = true;
    c->start_ms = c->last_in_ms = c->last_activity_ms = sh->now;
    c->start_ns = now_ns();
    c->rtt_ns = -1;
    c->next_ping_ms = sh->now + ROUTE_FIRST_PING_MS;
    c->auth_ok = !o->cluster.user || r->solicited;
    if (!c->auth_ok)
        c->auth_deadline_ms =
            sh->now + (o->cluster.auth_timeout_ms > 0 ? o->cluster.auth_timeout_ms : o->auth_timeout_ms);
    const struct kind_def *kd = &conn_kinds[CK_ROUTE];
    parser_init(&c->parser, kd->ops, (uint32_t)o->max_control_line * kd->ctl_line_factor, o->max_payload);
    parser_set_max_args(&c->parser, kd->max_args);
    c->parser.headers_ok = 1;
    log_debug("%s:%u - rid:%" PRIu64 " - Route connection created", c->ip, c->port, c->cid);
    if (o->cluster.tls.ctx) { /* nats-server: TLS first, on both sides, before any INFO */
        if (start_tls(c) < 0)
            return;
        conn_schedule(c);
        return;
    }
    route_begin(c);
}

/* The protocol's first words, once the connection is ready for them (at
 * once, or after the TLS handshake). */
static int route_begin(struct conn *c)
{
    struct route *r = c->route;
    struct server *s = c->sh->srv;
    /* Dialling a pooling server, our INFO waits for the peer's: which slot
     * of the pool (or which pinned account) this connection serves is
     * settled then (route.go's createRoute delays it the same way). */
    if (r->solicited)
        send_connect(c);
    bool now = !r->solicited || (CL(s)->pool < 0 && !needs_comp(CL(s)->comp));
    if (now && send_route_info(c, true, false) < 0) {
        conn_close(c, CR_RESOURCES, false);
        return -1;
    }
    r->info_sent = now;
    conn_schedule(c);
    return 0;
}

int route_tls_ready(struct conn *c) { return c->route ? route_begin(c) : 0; }

/* The name a dialled route's certificate must carry: the URL's host, or
 * for an IP the first host name among the configured routes, as
 * nats-server's saveRouteTLSName (the IP itself when there is none). */
static void route_tls_name(const struct cluster *cl, const struct rtarget *t, char *out, size_t cap)
{
    struct in6_addr a6;
    struct in_addr a4;
    snprintf(out, cap, "%s", t->host);
    if (inet_pton(AF_INET, t->host, &a4) != 1 && inet_pton(AF_INET6, t->host, &a6) != 1)
        return;
    for (int i = 0; i < cl->ntargets; i++) {
        const char *h = cl->targets[i].host;
        if (cl->targets[i].explicit_ && inet_pton(AF_INET, h, &a4) != 1 && inet_pton(AF_INET6, h, &a6) != 1) {
            snprintf(out, cap, "%s", h);
            return;
        }
    }
}

static int start_tls(struct conn *c)
{
    const struct opts *o = c->sh->conf->o;
    struct route *r = c->route;
    char name[300] = "";
    if (r->solicited)
        route_tls_name(CL(c->sh->srv), &CL(c->sh->srv)->targets[r->target], name, sizeof name);
    void *ctx = r->solicited ? o->cluster.tls.client_ctx : o->cluster.tls.ctx;
    if (!ctx || conn_tls_start(c, ctx, r->solicited ? name : NULL, o->cluster.tls.timeout_ms, false) < 0) {
        if (!c->closing)
            conn_close(c, CR_RESOURCES, false);
        return -1;
    }
    log_debug("%s:%u - rid:%" PRIu64 " - Starting TLS route %s handshake", c->ip, c->port, c->cid,
              r->solicited ? "client" : "server");
    if (r->solicited) { /* our ClientHello */
        if (c->tp.ops->input(&c->tp, NULL, 0, conn_input_cb, c) < 0) {
            log_error("%s:%u - rid:%" PRIu64 " - TLS route handshake error: %s", c->ip, c->port, c->cid,
                      tls_sess_error(tlst_session(&c->tp)));
            conn_close(c, CR_TLS_HANDSHAKE_ERROR, false);
            return -1;
        }
        conn_mark_flush(c);
    }
    return 0;
}

static void unregister(struct conn *c)
{
    struct cluster *cl = CL(c->sh->srv);
    for (uint32_t i = 0; i < cl->nroutes; i++)
        if (cl->routes[i] == c) { /* in order: the client URLs keep theirs (no INFO for a pool's member leaving) */
            memmove(&cl->routes[i], &cl->routes[i + 1], (cl->nroutes - i - 1) * sizeof *cl->routes);
            cl->nroutes--;
            break;
        }
    c->route->registered = false;
    atomic_store_explicit(&cl->nregistered, (int)cl->nroutes, memory_order_relaxed);
}

void route_closed(struct conn *c)
{
    struct route *r = c->route;
    struct shard *sh = c->sh;
    if (!r || !CL(sh->srv))
        return;
    /* nats-server logs every route's end, registered or not */
    log_info("%s:%u - rid:%" PRIu64 " - Router connection closed: %s", c->ip, c->port, c->cid,
             close_reason_str(c->reason));
    for (uint32_t i = 0; i < sh->nrconn; i++)
        if (sh->rconn[i] == c) {
            sh->rconn[i] = sh->rconn[--sh->nrconn];
            atomic_store_explicit(&sh->nroutes, (int32_t)sh->nrconn, memory_order_relaxed);
            break;
        }
    if (!r->moved) {
        route_gone(c);
        return;
    }
    /* shard 0 deregisters and redials through the stand-in; if this cannot
     * be posted, the stand-in stays registered until the server stops */
    int flags = c->reason | (r->noredial ? RU_NOREDIAL : 0) | (r->refused_pin ? RU_REFUSED_PIN : 0);
    if (!atomic_load_explicit(&sh->srv->stopping, memory_order_relaxed))
        post_cmd(sh->srv->shards[0], SC_ROUTE_UP, c->cid, RU_GONE, flags, NULL, 0);
}

/* The end of a route on shard 0 (the connection, or a moved one's stand-in):
 * deregister, redial. */
static void route_gone(struct conn *c)
{
    struct route *r = c->route;
    struct shard *sh = c->sh;
    struct cluster *cl = CL(sh->srv);
    bool stopping = atomic_load_explicit(&sh->srv->stopping, memory_order_relaxed);
    if (r->registered) {
        unregister(c);
        if (!stopping)
            urls_changed(sh);
    }
    if (r->target < 0 || stopping)
        return;
    struct rtarget *t = &cl->targets[r->target];
    if (r->extra_counted) {
        r->extra_counted = false;
        t->extra_inflight--;
    }
    if (r->extra) { /* one of a pool: replaced while the server has others (else the first dial's loop redials) */
        if (!r->noredial)
            ensure_pool(sh, r->target, ROUTE_RECONNECT_MS);
        return;
    }
    if (r->noredial) {
        t->dialling = t->conn ? t->dialling : false;
        if (t->conn == c)
            t->conn = NULL;
        ensure_pool(sh, r->target, ROUTE_RECONNECT_MS);
        return;
    }
    if (t->conn == c)
        t->conn = NULL;
    else if (t->conn || !t->dialling) /* another route serves it, or it was handed to one */
        return;
    t->dialling = false;
    int64_t delay = ROUTE_RECONNECT_MS;
    if (r->registered_once) {
        t->retry_ms = 0;
    } else { /* it connected and was refused, or hung up, before registering */
        t->retry_ms = t->retry_ms ? t->retry_ms * 2 : ROUTE_RECONNECT_MS;
        if (t->retry_ms > ROUTE_RETRY_MAX_MS)
            t->retry_ms = ROUTE_RETRY_MAX_MS;
        delay = t->retry_ms;
        log_debug("%s - route refused before registering; next attempt in %" PRId64 "ms", t->url, delay);
    }
    if (t->explicit_) {
        dial_target(sh, r->target, delay, 0);
    } else if (sh->conf->o->cluster.connect_retries > 0) {
        dial_target(sh, r->target, delay, sh->conf->o->cluster.connect_retries);
    } else {
        t->dead = true;
        free(t->user), free(t->pass);
        t->user = t->pass = NULL;
    }
}

void route_auth_done(struct conn *c, bool ok)
{
    c->auth_pending = false;
    if (c->closing)
        return;
    if (!ok) {
        log_error("%s:%u - rid:%" PRIu64 " - authentication error", c->ip, c->port, c->cid);
        conn_send_err_close(c, "Authorization Violation", CR_AUTH_VIOLATION);
        return;
    }
    c->auth_ok = true;
    c->auth_deadline_ms = 0;
}

void route_dial_failed(struct shard *sh, int32_t tag)
{
    struct cluster *cl = CL(sh->srv);
    if (!cl)
        return;
    bool extra = (tag & ROUTE_EXTRA_TAG) != 0;
    tag &= ~ROUTE_EXTRA_TAG;
    if (tag < 1 || tag > cl->ntargets)
        return;
    struct rtarget *t = &cl->targets[tag - 1];
    if (extra) {
        t->extra_inflight--;
        ensure_pool(sh, tag - 1, ROUTE_RECONNECT_MS);
        return;
    }
    t->dialling = false;
    if (!t->explicit_) {
        t->dead = true;
        free(t->user), free(t->pass);
        t->user = t->pass = NULL;
    }
}

void route_release(struct conn *c)
{
    struct route *r = c->route;
    if (!r)
        return;
    for (int i = 0; i < r->ncurls; i++)
        free(r->curls[i]);
    free(r->curls);
    free(r);
    c->route = NULL;
}

void route_send_ldm(struct conn *c)
{
    /* a moved route is told by shard 0, through its stand-in (route_shard_ldm) */
    if (c->route && c->route->registered && !c->route->moved && !c->closing && send_route_info(c, false, true) < 0)
        rclose(c, CR_RESOURCES);
}

/* ---------------------------------------------------------------- interest we advertise */

static uint64_t ikey(uint32_t acc, const char *subj, uint32_t slen, const char *q, uint32_t qlen)
{
    return XXH3_64bits_withSeed(subj, slen, acc) ^ (qlen ? XXH3_64bits_withSeed(q, qlen, 0x9e37) : 0);
}

static struct ient **ifind(struct itab *it, uint64_t h, uint32_t acc, const char *subj, uint32_t slen,
                           const char *q, uint32_t qlen)
{
    struct ient **pp = &it->tab[h & it->mask];
    for (; *pp; pp = &(*pp)->next) {
        struct ient *e = *pp;
        if (e->h == h && e->acc == acc && e->slen == slen && e->qlen == qlen && !memcmp(e->k, subj, slen) &&
            !memcmp(e->k + slen, q, qlen))
            break;
    }
    return pp;
}

static void igrow(struct itab *it)
{
    uint32_t nm = it->mask * 2 + 1;
    struct ient **nt = calloc((size_t)nm + 1, sizeof *nt);
    if (!nt)
        return; /* longer chains */
    for (uint32_t i = 0; i <= it->mask; i++)
        for (struct ient *e = it->tab[i], *n; e; e = n) {
            n = e->next;
            e->next = nt[e->h & nm];
            nt[e->h & nm] = e;
        }
    free(it->tab);
    it->tab = nt;
    it->mask = nm;
}

/* 32-bit FNV-1a, the hash route.go's computeRoutePoolIdx takes of an account name. */
static uint32_t fnv1a32(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static int pin_of(const struct cluster *cl, const struct account *a)
{
    for (int i = 0; i < cl->npins; i++)
        if (cl->pins[i] == a)
            return i;
    return -1;
}

/* Does route connection r carry account a's interest and messages? A
 * no-pool route carries every account; a pinned one its account; a pooled
 * one the unpinned accounts of its slot, fnv1a32(name) % pool_size
 * (server.go, computeRoutePoolIdx). A pinned account whose connection to
 * a pooling peer is not up has no traffic with it meanwhile, as in
 * nats-server (updateRouteSubscriptionMap). */
static bool carries(const struct cluster *cl, const struct route *r, const struct account *a)
{
    if (r->nopool)
        return true;
    int p = pin_of(cl, a);
    if (r->pin >= 0 || p >= 0)
        return r->pin == p;
    return (uint32_t)r->slot == (cl->pool <= 1 ? 0 : fnv1a32(a->name, a->name_len) % (uint32_t)cl->pool);
}

/* "RS+ acc subj[ queue weight]\r\n" or "RS- acc subj[ queue]\r\n"; the
 * account left out on a connection pinned to it (with_acc false). */
static void write_rs(struct sbuf *b, const struct account *a, const struct ient *e, bool plus, bool with_acc)
{
    sb_str(b, plus ? "RS+ " : "RS- ");
    if (with_acc) {
        sb_add(b, a->name, a->name_len);
        sb_str(b, " ");
    }
    sb_add(b, e->k, e->slen);
    if (e->qlen) {
        sb_str(b, " ");
        sb_add(b, e->k + e->slen, e->qlen);
        if (plus)
            sb_fmt(b, " %d", e->count);
    }
    sb_str(b, "\r\n");
}

/* RS+/RS- lines for the routes, each with its account: every route is
 * sent those of the accounts it carries. */
struct rsout {
    struct sbuf b;
    struct rsline {
        const struct account *a;
        uint32_t off, len, skip; /* skip: "RS+ acc " less "RS+ " — what a pinned connection leaves out */
    } *v;
    uint32_t n, cap;
    bool oom;
};

static void rs_add(struct rsout *o, const struct account *a, const struct ient *e, bool plus)
{
    if (o->n == o->cap) {
        uint32_t nc = o->cap ? o->cap * 2 : 64;
        struct rsline *nv = realloc(o->v, nc * sizeof *nv);
        if (!nv) {
            o->oom = true;
            return;
        }
        o->v = nv, o->cap = nc;
    }
    uint32_t off = (uint32_t)o->b.n;
    write_rs(&o->b, a, e, plus, true);
    o->v[o->n++] = (struct rsline){a, off, (uint32_t)o->b.n - off, a->name_len + 1};
}

/* To the registered routes this shard owns. */
static void to_routes(struct shard *sh, struct rsout *o)
{
    const struct cluster *cl = CL(sh->srv);
    struct sbuf w = {0};
    for (uint32_t i = 0; i < sh->nrconn && !o->b.oom; i++) {
        struct conn *c = sh->rconn[i];
        const struct route *r = c->route;
        if (c->closing)
            continue;
        w.n = 0;
        for (uint32_t k = 0; k < o->n; k++) {
            const struct rsline *l = &o->v[k];
            if (!carries(cl, r, l->a))
                continue;
            if (r->pin >= 0) { /* "RS+ " then what follows the account */
                sb_add(&w, o->b.p + l->off, 4);
                sb_add(&w, o->b.p + l->off + 4 + l->skip, l->len - 4 - l->skip);
            } else {
                sb_add(&w, o->b.p + l->off, l->len);
            }
        }
        if (w.oom)
            break;
        if (w.n && conn_write(c, w.p, w.n) < 0)
            conn_close(c, CR_RESOURCES, false); /* it would miss interest: better redialled */
    }
    if (w.oom || o->b.oom || o->oom)
        log_error("cluster: out of memory sending interest");
    free(w.p);
    o->b.n = 0;
    o->n = 0;
}

/* One note: what the index holds now for (acc, subj, queue) vs. what we told. */
static void note_apply(struct shard *sh, uint32_t acc, const char *subj, uint32_t slen, const char *q, uint32_t qlen,
                       struct rsout *out)
{
    struct server *s = sh->srv;
    struct cluster *cl = CL(s);
    if (acc >= (uint32_t)s->naccounts)
        return;
    struct account *a = &s->acc[acc];
    uint32_t n = sublist_count_local(&a->sl, subj, slen, qlen ? q : NULL, qlen);
    uint64_t h = ikey(acc, subj, slen, q, qlen);
    struct itab *it = &cl->itab[sh->id];
    struct ient **pp = ifind(it, h, acc, subj, slen, q, qlen), *e = *pp;
    if (!e && !n)
        return;
    if (e && (uint32_t)e->count == n)
        return;
    if (!e) {
        if (!(e = malloc(sizeof *e + slen + qlen))) {
            log_error("cluster: out of memory for interest; routes miss %.*s", (int)slen, subj);
            return;
        }
        *e = (struct ient){.h = h, .acc = acc, .slen = slen, .qlen = qlen, .count = (int32_t)n};
        memcpy(e->k, subj, slen);
        memcpy(e->k + slen, q, qlen);
        *pp = e;
        if (++it->n > it->mask)
            igrow(it);
        rs_add(out, a, e, true);
        return;
    }
    if (n) { /* a queue group's weight changed (a plain subject stays advertised) */
        int32_t was = e->count;
        e->count = (int32_t)n;
        if (qlen || !was)
            rs_add(out, a, e, true);
        return;
    }
    rs_add(out, a, e, false);
    *pp = e->next;
    it->n--;
    free(e);
}

/* Notes are records: u32 account, u32 subject length, u32 queue length, the bytes, padded to 4. */
static void notes_apply(struct shard *sh, const char *buf, uint32_t len)
{
    struct rsout out = {0};
    for (uint32_t off = 0; off + 12 <= len;) {
        uint32_t h[3];
        memcpy(h, buf + off, sizeof h);
        const char *p = buf + off + 12;
        note_apply(sh, h[0], p, h[1], p + h[1], h[2], &out);
        off += (12 + h[1] + h[2] + 3) & ~3u;
        if (out.b.n > 65536)
            to_routes(sh, &out);
    }
    if (out.n)
        to_routes(sh, &out);
    free(out.b.p);
    free(out.v);
}

void route_note(struct shard *sh, const struct sub *s)
{
    if (!sh->srv->cluster || s->route)
        return;
    uint32_t need = (12 + s->subj_len + s->qlen + 3) & ~3u;
    if (sh->rn_len + need > sh->rn_cap) {
        uint32_t nc = sh->rn_cap ? sh->rn_cap : 4096;
        while (nc < sh->rn_len + need)
            nc *= 2;
        char *nb = realloc(sh->rn_buf, nc);
        if (!nb) {
            log_error("cluster: out of memory noting interest in %.*s", (int)s->subj_len, s->subject);
            return;
        }
        sh->rn_buf = nb, sh->rn_cap = nc;
    }
    uint32_t h[3] = {s->acc->id, s->subj_len, s->qlen};
    memcpy(sh->rn_buf + sh->rn_len, h, sizeof h);
    memcpy(sh->rn_buf + sh->rn_len + 12, s->subject, s->subj_len);
    if (s->qlen)
        memcpy(sh->rn_buf + sh->rn_len + 12 + s->subj_len, s->queue, s->qlen);
    sh->rn_len += need;
}

void route_notes_flush(struct shard *sh)
{
    /* Every shard keeps its own advertised table for the routes it owns,
     * so every shard hears every note: the shard that changed the index
     * applies them now, the others at the start of their next turn. They
     * are posted before this turn's message batches are pushed, and a
     * shard runs its commands before it reads its mailboxes, so the RS+ of
     * a SUB goes out on any route before a message its client published
     * after it (a request's reply depends on it). */
    if (!sh->rn_len)
        return;
    struct server *s = sh->srv;
    struct shard_cmd *cmds[MAX_SHARDS] = {0};
    bool oom = false;
    for (int i = 0; i < s->nshards && !oom; i++) {
        if (i == sh->id)
            continue;
        cmds[i] = calloc(1, sizeof *cmds[i]);
        if (!cmds[i] || !(cmds[i]->buf = malloc(sh->rn_len)))
            oom = true;
    }
    if (oom) {
        for (int i = 0; i < s->nshards; i++)
            if (cmds[i])
                free(cmds[i]->buf), free(cmds[i]);
        log_error("cluster: out of memory posting interest notes (kept for the next turn)");
        return;
    }
    notes_apply(sh, sh->rn_buf, sh->rn_len);
    for (int i = 0; i < s->nshards; i++) {
        if (!cmds[i])
            continue;
        cmds[i]->type = SC_ROUTE_NOTES;
        memcpy(cmds[i]->buf, sh->rn_buf, sh->rn_len);
        cmds[i]->buf_len = sh->rn_len;
        shard_post(s->shards[i], cmds[i]);
    }
    sh->rn_len = 0;
}

void route_notes_in(struct shard *sh, char *buf, uint32_t len)
{
    notes_apply(sh, buf, len);
    free(buf);
}

/* Everything we advertise, to a route that just registered. */
static int send_all_interest(struct conn *c)
{
    struct server *s = c->sh->srv;
    struct cluster *cl = CL(s);
    struct sbuf b = {0};
    const struct itab *it = &cl->itab[c->sh->id];
    for (uint32_t i = 0; i <= it->mask; i++)
        for (const struct ient *e = it->tab[i]; e; e = e->next) {
            const struct account *a = &s->acc[e->acc];
            if (!carries(cl, c->route, a))
                continue;
            write_rs(&b, a, e, true, c->route->pin < 0);
            if (b.n > 65536) {
                if (conn_write(c, b.p, b.n) < 0)
                    b.oom = true;
                b.n = 0;
            }
        }
    int rc = b.oom ? -ENOMEM : b.n ? conn_write(c, b.p, b.n) : 0;
    free(b.p);
    return rc;
}

/* ---------------------------------------------------------------- ops from a route */

static struct account *acc_of(struct server *s, const struct pview *v)
{
    char name[256];
    if (v->n >= sizeof name)
        return NULL;
    memcpy(name, v->p, v->n);
    name[v->n] = 0;
    return account_find(s->acc, s->naccounts, name);
}

static int process_connect(struct conn *c, const struct proto_msg *m)
{
    struct route *r = c->route;
    struct cluster *cl = CL(c->sh->srv);
    const struct opts *o = c->sh->conf->o;
    json_error_t jerr;
    json_t *j = json_loadb(m->rest.p, m->rest.n, 0, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return -1;
    }
    int rc = 0;
    char gw[256], cluster[256];
    jcpy(j, "gateway", gw, sizeof gw);
    jcpy(j, "cluster", cluster, sizeof cluster);
    bool dyn = json_is_true(json_object_get(j, "cluster_dynamic"));
    if (json_object_get(j, "lang")) {
        log_error("%s:%u - rid:%" PRIu64 " - Router connection attempted to connect to route port", c->ip, c->port,
                  c->cid);
        conn_send_err_close(c, "attempted to connect to route port", CR_WRONG_PORT);
        rc = 1;
    } else if (*gw) {
        char e[600];
        snprintf(e, sizeof e, "Rejecting connection from gateway \"%s\" on the Route port", gw);
        log_error("%s:%u - rid:%" PRIu64 " - %s", c->ip, c->port, c->cid, e);
        conn_send_err_close(c, e, CR_WRONG_GATEWAY);
        rc = 1;
    } else if (strcmp(cluster, cl->name) != 0 && !(cl->dynamic || dyn)) {
        char e[700];
        snprintf(e, sizeof e, "Rejecting connection, cluster name \"%s\" does not match \"%s\"", cluster, cl->name);
        log_error("%s:%u - rid:%" PRIu64 " - %s", c->ip, c->port, c->cid, e);
        conn_send_err_close(c, e, CR_CLUSTER_NAME_CONFLICT);
        rc = 1;
    } else if (o->cluster.user) {
        const char *u = json_string_value(json_object_get(j, "user"));
        const char *p = json_string_value(json_object_get(j, "pass"));
        const char *want = o->cluster.pass ? o->cluster.pass : "";
        bool bcrypt = strncmp(want, "$2", 2) == 0 && strlen(want) > 7 && want[3] == '$';
        if (u && p && bcrypt && strcmp(u, o->cluster.user) == 0) {
            /* tens of milliseconds: an auth worker checks it; the route's
             * input waits (route_auth_done) */
            if (authw_submit(c->sh->srv->authw, c->sh->id, c->slot, c->gen, want, p) == 0) {
                c->auth_pending = true;
                r->got_connect = true;
                c->connected = true;
                free(c->name);
                c->name = jdup(j, "name");
                json_decref(j);
                return 0;
            }
        }
        if (!u || !p || bcrypt || strcmp(u, o->cluster.user) != 0 || strcmp(p, want) != 0) {
            log_error("%s:%u - rid:%" PRIu64 " - authentication error", c->ip, c->port, c->cid);
            conn_send_err_close(c, "Authorization Violation", CR_AUTH_VIOLATION);
            rc = 1;
        } else {
            c->auth_ok = true;
            c->auth_deadline_ms = 0;
        }
    }
    if (!rc) {
        r->got_connect = true;
        c->connected = true;
        free(c->name);
        c->name = jdup(j, "name");
    }
    json_decref(j);
    return rc;
}

static void set_curls(struct route *r, json_t *j)
{
    json_t *a = json_object_get(j, "connect_urls");
    if (!a)
        return;
    for (int i = 0; i < r->ncurls; i++)
        free(r->curls[i]);
    free(r->curls);
    r->curls = NULL;
    r->ncurls = 0;
    if (!json_is_array(a) || !json_array_size(a))
        return;
    r->curls = calloc(json_array_size(a), sizeof *r->curls);
    for (size_t i = 0; r->curls && i < json_array_size(a); i++) {
        const char *u = json_string_value(json_array_get(a, i));
        if (u && (r->curls[r->ncurls] = strdup(u)))
            r->ncurls++;
    }
}

static struct conn *route_by_id(struct cluster *cl, const char *id)
{
    for (uint32_t i = 0; i < cl->nroutes; i++)
        if (!strcmp(cl->routes[i]->route->id, id))
            return cl->routes[i];
    return NULL;
}

/* Compression, from the peer's first INFO: 0 to go on registering, 1
 * when compression starts (the peer's next INFO registers), -1 when
 * refused or closed. */
static int negotiate(struct conn *c, json_t *j)
{
    struct route *r = c->route;
    struct cluster *cl = CL(c->sh->srv);
    char theirs[64];
    jcpy(j, "compression", theirs, sizeof theirs);
    if (!needs_comp(cl->comp)) {
        if (!r->comp)
            r->comp = !*theirs || cl->comp == COMP_NOT_SUPPORTED ? COMP_NOT_SUPPORTED : COMP_OFF;
        return 0;
    }
    if (r->negotiated)
        return 0;
    r->negotiated = true;
    int cm = comp_select(cl->comp, theirs);
    if (cm == COMP_UNSET) {
        char e[128];
        snprintf(e, sizeof e, "unsupported route compression mode \"%s\"", theirs);
        log_error("%s:%u - rid:%" PRIu64 " - %s", c->ip, c->port, c->cid, e);
        conn_send_err_close(c, e, CR_PROTOCOL_VIOLATION);
        return -1;
    }
    if (cm == COMP_S2_AUTO) /* the first RTT: the connection's age (route.go, computeRTT(c.start)) */
        cm = comp_by_rtt(cl, c->rtt_ns > 0 ? c->rtt_ns : now_ns() - c->start_ns);
    r->comp = cm;
    if (!needs_comp(cm))
        return 0;
    /* the dialler's INFO goes plain, then the switch; the other side
     * switches first and answers compressed */
    if (r->solicited && send_route_info(c, true, false) < 0)
        goto oom;
    if (s2t_install(&c->tp, s2_level_of(cm), c->pending) < 0)
        goto oom;
    conn_transport_switched(c);
    if (!r->solicited && send_route_info(c, true, false) < 0)
        goto oom;
    conn_mark_flush(c);
    log_debug("%s:%u - rid:%" PRIu64 " - Route compression %s", c->ip, c->port, c->cid, route_comp_names[cm]);
    return 1;
oom:
    conn_close(c, CR_RESOURCES, false);
    return -1;
}

bool route_follows_rtt(const struct conn *c)
{
    const struct route *r = c->route;
    return r && CL(c->sh->srv)->comp == COMP_S2_AUTO && needs_comp(r->comp);
}

/* s2_auto: the level follows the route's RTT, measured at every PONG. */
static void comp_follow_rtt(struct conn *c)
{
    struct route *r = c->route;
    struct cluster *cl = CL(c->sh->srv);
    if (cl->comp != COMP_S2_AUTO || !needs_comp(r->comp) || c->rtt_ns <= 0)
        return;
    int m = comp_by_rtt(cl, c->rtt_ns);
    if (m != r->comp) {
        log_debug("%s:%u - rid:%" PRIu64 " - Route compression %s -> %s (RTT %" PRId64 "us)", c->ip, c->port, c->cid,
                  route_comp_names[r->comp], route_comp_names[m], c->rtt_ns / 1000);
        r->comp = m;
        s2t_set_level(&c->tp, s2_level_of(m));
    }
}

/* Is routes[i] the first registered connection to its server? (one gossip INFO per server) */
static bool first_of_server(const struct cluster *cl, uint32_t i)
{
    for (uint32_t k = 0; k < i; k++)
        if (!strcmp(cl->routes[k]->route->id, cl->routes[i]->route->id))
            return false;
    return true;
}

/* A registered connection to server id in the place r takes: the same
 * pinned account, or the same slot of the pool (a no-pool route: any). */
static struct conn *same_place(struct cluster *cl, const char *id, const struct route *r)
{
    for (uint32_t i = 0; i < cl->nroutes; i++) {
        const struct route *o = cl->routes[i]->route;
        if (strcmp(o->id, id))
            continue;
        if (r->nopool || o->nopool || (r->pin >= 0 ? o->pin == r->pin : o->pin < 0 && o->slot == r->slot))
            return cl->routes[i];
    }
    return NULL;
}

/* nats-server 2.10's pooling, from the peer's first INFO (route.go,
 * addRoute): a peer without route_pool_size (2.9, or pool_size -1) has one
 * connection carrying every account; pool sizes must match; a connection
 * we dialled takes the first free slot, else the first pinned account it
 * lacks, else it is one too many; one the peer dialled takes the slot
 * (route_pool_idx) or account (route_account) its INFO names. 0, or -1:
 * refused (with nats-server's -ERR) or closed. */
static int pool_place(struct conn *c, json_t *j, const char *id)
{
    struct route *r = c->route;
    struct server *s = c->sh->srv;
    struct cluster *cl = CL(s);
    json_t *jps = json_object_get(j, "route_pool_size"), *jpi = json_object_get(j, "route_pool_idx");
    int ps = json_is_integer(jps) ? (int)json_integer_value(jps) : 0;
    int pidx = json_is_integer(jpi) ? (int)json_integer_value(jpi) : 0;
    char racc[256], err[400] = "";
    jcpy(j, "route_account", racc, sizeof racc);
    r->nopool = ps <= 0 || cl->pool < 0;
    r->slot = 0;
    if (!r->solicited && *racc) {
        struct account *a = account_find(s->acc, s->naccounts, racc);
        r->pin = a ? pin_of(cl, a) : -1;
        if (r->pin < 0 && !r->nopool)
            snprintf(err, sizeof err, "No route for account \"%s\"", racc);
    }
    if (*err) {
    } else if (r->nopool) {
        if (*racc)
            snprintf(err, sizeof err, "Not possible to have a dedicated route for account \"%s\" between those servers",
                     racc);
        r->pin = -1;
    } else if (ps != cl->pool) {
        snprintf(err, sizeof err, "Mismatch route pool size: %d vs %d", cl->pool, ps);
    } else if (r->solicited && pidx != 0) {
        snprintf(err, sizeof err, "Route pool index should not be set but is set to %d", pidx);
    } else if (!r->solicited && (pidx < 0 || pidx >= cl->pool)) {
        snprintf(err, sizeof err, "Invalid route pool index: %d - pool size is %d", pidx, ps);
    } else if (!r->solicited) {
        r->slot = r->pin >= 0 ? 0 : pidx;
    } else {
        bool used[256] = {0}, pinned[64] = {0};
        for (uint32_t i = 0; i < cl->nroutes; i++) {
            const struct route *o = cl->routes[i]->route;
            if (strcmp(o->id, id))
                continue;
            if (o->pin >= 0 && o->pin < 64)
                pinned[o->pin] = true;
            else if (o->pin < 0 && o->slot >= 0 && o->slot < 256)
                used[o->slot] = true;
        }
        r->slot = -1;
        for (int i = 0; i < cl->pool && i < 256 && r->slot < 0; i++)
            if (!used[i])
                r->slot = i;
        uint64_t refused = r->target >= 0 ? cl->targets[r->target].refused_pins : 0;
        for (int i = 0; r->slot < 0 && i < cl->npins && i < 64; i++)
            if (!pinned[i] && !(refused >> i & 1))
                r->pin = i, r->slot = 0;
        if (r->slot < 0) {
            log_debug("%s:%u - rid:%" PRIu64 " - Route pool size reached, closing extra connection to \"%s\"", c->ip,
                      c->port, c->cid, id);
            r->noredial = true;
            conn_close(c, CR_DUPLICATE_ROUTE, false);
            return -1;
        }
    }
    if (*err) {
        log_error("%s:%u - rid:%" PRIu64 " - %s", c->ip, c->port, c->cid, err);
        if (*racc && r->nopool)
            r->noredial = true;
        conn_send_err_close(c, err, CR_PROTOCOL_VIOLATION);
        return -1;
    }
    return 0;
}

/* Gossip: another server of the cluster, reachable at "ip". */
static void implicit_route(struct shard *sh, json_t *j)
{
    struct server *s = sh->srv;
    struct cluster *cl = CL(s);
    char id[64], ip[320];
    jcpy(j, "server_id", id, sizeof id);
    jcpy(j, "ip", ip, sizeof ip);
    if (!*id || !*ip || !strcmp(id, s->server_id) || route_by_id(cl, id))
        return;
    char host[256];
    int port;
    if (split_url(ip, host, sizeof host, &port, NULL, NULL) < 0)
        return;
    char hp[300];
    fmt_hostport(hp, sizeof hp, host, port);
    for (int i = 0; i < cl->ntargets; i++) {
        const struct rtarget *t = &cl->targets[i];
        if (t->dead)
            continue;
        if (!strcmp(t->hostport, hp) || !strcmp(t->id, id))
            return; /* configured, or already being dialled */
    }
    int idx = add_target(cl, ip, false, true);
    if (idx < 0)
        return;
    snprintf(cl->targets[idx].id, sizeof cl->targets[idx].id, "%s", id);
    int retries = sh->conf->o->cluster.connect_retries;
    dial_target(sh, idx, 0, retries > 0 ? retries + 1 : 1);
}

static int process_info(struct conn *c, const struct proto_msg *m)
{
    struct route *r = c->route;
    struct shard *sh = c->sh;
    struct server *s = sh->srv;
    struct cluster *cl = CL(s);
    const struct opts *o = sh->conf->o;
    json_error_t jerr;
    json_t *j = json_loadb(m->rest.p, m->rest.n, 0, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return -1;
    }
    char id[64];
    jcpy(j, "server_id", id, sizeof id);
    if (r->registered) {
        if (!strcmp(id, r->id)) { /* the peer's own update: its client URLs, lame duck mode */
            bool was = r->ldm;
            set_curls(r, j);
            r->ldm = json_is_true(json_object_get(j, "ldm"));
            if (r->ldm && !was)
                log_info("%s:%u - rid:%" PRIu64 " - Peer %s entered lame duck mode", c->ip, c->port, c->cid, r->id);
            urls_changed(sh);
        } else {
            implicit_route(sh, j);
        }
        json_decref(j);
        return 0;
    }
    if (!c->auth_ok) {
        json_decref(j);
        conn_send_err_close(c, "Authorization Violation", CR_AUTH_VIOLATION);
        return 1;
    }
    char name[256], cluster[256];
    jcpy(j, "server_name", name, sizeof name);
    jcpy(j, "cluster", cluster, sizeof cluster);
    bool dyn = json_is_true(json_object_get(j, "cluster_dynamic"));
    int rc = 0;
    const char *our_name = o->server_name ? o->server_name : s->server_id;
    if (!*id || !strcmp(id, s->server_id)) {
        log_debug("%s:%u - rid:%" PRIu64 " - Detected route to self, ignoring", c->ip, c->port, c->cid);
        conn_close(c, CR_DUPLICATE_ROUTE, false);
        rc = 1;
    } else if (*cluster && strcmp(cluster, cl->name) != 0) {
        if (cl->dynamic && (!dyn || strcmp(cl->name, cluster) < 0)) {
            log_info("Cluster name updated to %s", cluster); /* adopt theirs, as nats-server */
            snprintf(cl->name, sizeof cl->name, "%s", cluster);
            cl->dynamic = dyn;
            publish_client_info(s);
        } else if (!dyn || !cl->dynamic) {
            log_error("%s:%u - rid:%" PRIu64 " - Cluster name conflict: %s vs %s", c->ip, c->port, c->cid, cluster,
                      cl->name);
            conn_close(c, CR_CLUSTER_NAME_CONFLICT, false);
            rc = 1;
        }
    }
    if (!rc && *name && !strcmp(name, our_name)) {
        log_error("%s:%u - rid:%" PRIu64 " - Remote server has a duplicate name: \"%s\"", c->ip, c->port, c->cid,
                  name);
        conn_close(c, CR_DUPLICATE_SERVER_NAME, false);
        rc = 1;
    }
    if (!rc) {
        int n = negotiate(c, j);
        if (n != 0) { /* compressing now, the peer's next INFO registers; or refused */
            json_decref(j);
            return n < 0 ? 1 : 0;
        }
    }
    if (!rc && pool_place(c, j, id) < 0)
        rc = 1;
    struct conn *dup = rc ? NULL : same_place(cl, id, r);
    char go[64];
    jcpy(j, "go", go, sizeof go);
    r->gannet = strncmp(go, "gannet", 6) == 0;
    if (dup && r->gannet && dup->route->solicited != r->solicited) {
        /* Both servers dialled each other. nats-server keeps whichever
         * registered first, which can differ on the two sides and close
         * both; between gannets both keep the one the smaller id dialled. */
        const char *keep = strcmp(s->server_id, id) < 0 ? s->server_id : id;
        const char *dialler = r->solicited ? s->server_id : id;
        if (!strcmp(dialler, keep)) {
            struct route *dr = dup->route;
            if (dr->target >= 0 && (r->target < 0 || !cl->targets[r->target].explicit_)) {
                if (r->target >= 0) /* an implicit target of ours: the kept route serves the explicit one */
                    cl->targets[r->target].dead = !cl->targets[r->target].explicit_;
                r->target = dr->target;
                r->configured = cl->targets[r->target].explicit_;
                dr->target = -1;
            }
            unregister(dup); /* quietly: the peer's URLs stay, the new route brings the same */
            log_debug("%s:%u - rid:%" PRIu64 " - Duplicate route for %s, keeping rid:%" PRIu64, dup->ip, dup->port,
                      dup->cid, id, c->cid);
            rclose(dup, CR_DUPLICATE_ROUTE);
            dup = NULL;
        }
    }
    if (dup) {
        /* the first route stays; an explicit target this one served is handed to it */
        if (r->target >= 0) {
            struct rtarget *t = &cl->targets[r->target];
            snprintf(t->id, sizeof t->id, "%s", id);
            if (dup->route->target < 0 || !cl->targets[dup->route->target].explicit_) {
                dup->route->target = r->target;
                dup->route->configured = t->explicit_;
                if (dup->route->ghost) /* /routez's is_configured comes from the owner's copy */
                    post_cmd(c->sh->srv->shards[dup->route->at], SC_ROUTE_CTL, dup->cid, RC_CONFIGURED, t->explicit_,
                             NULL, 0);
                t->conn = dup;
            }
            t->dialling = false;
            r->target = -1;
        }
        log_debug("%s:%u - rid:%" PRIu64 " - Duplicate route for %s, closing", c->ip, c->port, c->cid, id);
        conn_close(c, CR_DUPLICATE_ROUTE, false);
        rc = 1;
    }
    if (rc) {
        json_decref(j);
        return 1;
    }
    bool first = conns_to(cl, id, NULL) == 0; /* the first connection to this server: news for the others */
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->cluster, sizeof r->cluster, "%s", *cluster ? cluster : cl->name);
    jcpy(j, "host", r->host, sizeof r->host);
    jcpy(j, "version", r->version, sizeof r->version);
    json_t *pv = json_object_get(j, "port"), *pr = json_object_get(j, "proto");
    r->rport = json_is_integer(pv) ? (int)json_integer_value(pv) : 0;
    r->proto = json_is_integer(pr) ? (int)json_integer_value(pr) : 2;
    r->ldm = json_is_true(json_object_get(j, "ldm"));
    set_curls(r, j);
    json_decref(j);
    if (cl->nroutes == cl->rcap) {
        uint32_t nc = cl->rcap ? cl->rcap * 2 : 8;
        struct conn **nv = realloc(cl->routes, nc * sizeof *nv);
        if (!nv) {
            conn_close(c, CR_RESOURCES, false);
            return 1;
        }
        cl->routes = nv, cl->rcap = nc;
    }
    if (!r->info_sent) { /* we dialled: the INFO held back, with the slot or account settled */
        r->info_sent = true;
        if (send_route_info(c, true, false) < 0) {
            conn_close(c, CR_RESOURCES, false);
            return 1;
        }
    }
    cl->routes[cl->nroutes++] = c;
    r->registered = r->registered_once = true;
    c->connected = true;
    atomic_store_explicit(&cl->nregistered, (int)cl->nroutes, memory_order_relaxed);
    if (r->target >= 0) {
        struct rtarget *t = &cl->targets[r->target];
        if (r->extra_counted) {
            r->extra_counted = false;
            t->extra_inflight--;
        }
        if (!r->extra) {
            t->conn = c;
            t->dialling = false;
        }
        snprintf(t->id, sizeof t->id, "%s", id);
    }
    if (r->pin >= 0)
        log_info("%s:%u - rid:%" PRIu64 " - Route connection created for account \"%s\"", c->ip, c->port, c->cid,
                 cl->pins[r->pin]->name);
    else
        log_info("%s:%u - rid:%" PRIu64 " - Route connection created", c->ip, c->port, c->cid);
    spread(c); /* off to another shard, which tells it our interest when it lands */
    if (!c->moving && (own_route(c) < 0 || send_all_interest(c) < 0)) {
        conn_close(c, CR_RESOURCES, false);
        return 1;
    }
    if (first) {
        for (uint32_t i = 0; i < cl->nroutes; i++) /* gossip: each other server learns of it, once */
            if (cl->routes[i] != c && strcmp(cl->routes[i]->route->id, id) && first_of_server(cl, i))
                send_gossip(cl->routes[i], c);
        urls_changed(sh);
    }
    if (r->target >= 0)
        ensure_pool(sh, r->target, 0);
    return 0;
}

static int process_rs(struct conn *c, const struct proto_msg *m, bool plus)
{
    struct rs_args ra;
    struct route *r = c->route;
    if (rproto_rs(m, plus, r->pin < 0, &ra) < 0)
        return -1;
    if (!r->registered)
        return 0;
    struct account *a = r->pin >= 0 ? CL(c->sh->srv)->pins[r->pin] : acc_of(c->sh->srv, &ra.acc);
    if (!a) {
        log_debug("%s:%u - rid:%" PRIu64 " - %s for unknown account %.*s, ignored", c->ip, c->port, c->cid,
                  plus ? "RS+" : "RS-", (int)ra.acc.n, ra.acc.p);
        return 0;
    }
    struct sub *s = conn_sub_find(c, ra.sid, ra.sidlen);
    if (!plus) {
        if (s)
            conn_unsubscribe(c, s);
        return 0;
    }
    if (s) {
        atomic_store_explicit(&s->weight, ra.weight, memory_order_relaxed);
        return 0;
    }
    if (!subject_valid(ra.subj.p, ra.subj.n))
        return 0;
    s = sub_new(ra.subj.p, ra.subj.n, ra.queue.n ? ra.queue.p : NULL, ra.queue.n, ra.sid, ra.sidlen);
    if (!s) {
        conn_close(c, CR_RESOURCES, false);
        return 1;
    }
    s->route = true;
    atomic_store_explicit(&s->weight, ra.weight ? ra.weight : 1, memory_order_relaxed);
    s->acc = a;
    return conn_sub_add(c, s) < 0 ? 1 : 0;
}

static int process_rmsg(struct conn *c, const struct proto_msg *m)
{
    struct rmsg_args ra;
    const struct route *r = c->route;
    if (rproto_rmsg(m, r->pin < 0, &ra) < 0)
        return -1;
    bool h = m->op == OP_HMSG;
    struct shard *sh = c->sh;
    c->in_msgs++;
    c->in_bytes += m->size;
    c->last_activity_ms = sh->now;
    STAT_ADD(sh, in_msgs, 1);
    STAT_ADD(sh, in_bytes, m->size);
    if (!r->registered)
        return 0;
    struct account *a = r->pin >= 0 ? CL(sh->srv)->pins[r->pin] : acc_of(sh->srv, &ra.acc);
    if (!a) {
        log_debug("%s:%u - rid:%" PRIu64 " - message for unknown account %.*s, ignored", c->ip, c->port, c->cid,
                  (int)ra.acc.n, ra.acc.p);
        return 0;
    }
    struct msgview mv = {.subj = ra.subj.p, .subj_len = ra.subj.n, .reply = ra.reply.p, .reply_len = ra.reply.n,
                         .payload = m->payload, .size = m->size, .hdr = h && m->hdr >= 0 ? m->hdr : -1,
                         .sztok = m->size_tok.p, .sztok_len = m->size_tok.n,
                         .hdrtok = h ? m->hdr_tok.p : NULL, .hdrtok_len = h && m->hdr >= 0 ? m->hdr_tok.n : 0};
    shard_route_publish(sh, a, &mv, ra.queues, ra.nq);
    return 0;
}

int route_dispatch(struct conn *c, const struct proto_msg *m)
{
    struct route *r = c->route;
    if (m->op != OP_CONNECT && !c->auth_ok && !r->solicited && m->op != OP_PING && m->op != OP_PONG) {
        conn_send_err_close(c, "Authorization Violation", CR_AUTH_VIOLATION);
        return 1;
    }
    switch (m->op) {
    case OP_CONNECT:
        return r->got_connect || r->solicited ? 0 : process_connect(c, m);
    case OP_INFO:
        if (r->moved) { /* gossip and the peer's updates are shard 0's */
            post_cmd(c->sh->srv->shards[0], SC_ROUTE_UP, c->cid, RU_INFO, 0, m->rest.p, m->rest.n);
            return 0;
        }
        return process_info(c, m);
    case OP_RSPLUS:
        return process_rs(c, m, true);
    case OP_RSMINUS:
        return process_rs(c, m, false);
    case OP_RMSG:
    case OP_HMSG:
        return process_rmsg(c, m);
    case OP_PING:
    case OP_PONG:
        conn_keepalive(c, m->op);
        if (m->op == OP_PONG)
            comp_follow_rtt(c);
        return 0;
    case OP_ERR:
        log_error("%s:%u - rid:%" PRIu64 " - Router Error %.*s", c->ip, c->port, c->cid, (int)m->rest.n, m->rest.p);
        if (r->pin >= 0 && r->target >= 0 && r->pin < 64 &&
            (memmem(m->rest.p, m->rest.n, "No route for account", 20) ||
             memmem(m->rest.p, m->rest.n, "Not possible to have a dedicated route", 38))) {
            if (r->moved) /* its end tells shard 0 */
                r->refused_pin = true;
            else
                CL(c->sh->srv)->targets[r->target].refused_pins |= 1ull << r->pin; /* that server does not pin it */
            r->noredial = true;
        }
        conn_close(c, CR_PARSE_ERROR, false);
        return 1;
    default: /* +OK, LS+/LS-/LMSG (leaf interest: no leaf nodes yet), A+/A- */
        return 0;
    }
}

/* ---------------------------------------------------------------- messages to routes */

void route_collect(struct shard *sh, struct sub *s)
{
    if (sh->rcol_n == sh->rcol_cap) {
        uint32_t nc = sh->rcol_cap ? sh->rcol_cap * 2 : 16;
        struct sub **nv = realloc(sh->rcol, nc * sizeof *nv);
        if (!nv) {
            sh->note.oom = true;
            return;
        }
        sh->rcol = nv, sh->rcol_cap = nc;
    }
    sh->rcol[sh->rcol_n++] = s;
}

static void write_rmsg(struct shard *sh, struct conn *c, const struct account *a, const struct strv *q, uint32_t nq,
                       const struct msgview *m)
{
    struct msgline ml = {
        .subj = {m->subj, m->subj_len},
        .reply = {m->reply, m->reply_len},
        .acc = {a->name, c->route->pin >= 0 ? 0 : a->name_len}, /* a pinned connection leaves it out */
        .queues = q,
        .nqueues = nq,
        .hdr = m->hdr,
        .size = m->size,
        .sztok = {m->sztok, m->sztok_len},
        .hdrtok = {m->hdrtok, m->hdrtok_len},
    };
    if (ml.sztok.n > 1 && ml.sztok.p[0] == ' ') /* an internal message's empty reply: a client's MSG form only */
        ml.sztok.p++, ml.sztok.n--;
    if (m->hdr < 0)
        ml.hdrtok.n = 0;
    size_t need = msgline_max(CK_ROUTE, &ml) + m->size + 2;
    char *p = conn_out_reserve(c, need), *st = p;
    if (!p) {
        conn_close(c, CR_RESOURCES, false);
        return;
    }
    p += msgline_encode(CK_ROUTE, p, &ml);
    memcpy(p, m->payload, m->size), p += m->size;
    *p++ = '\r', *p++ = '\n';
    conn_out_unreserve(c, need - (size_t)(p - st));
    c->out_msgs++;
    c->out_bytes += m->size;
    c->last_activity_ms = sh->now;
    STAT_ADD(sh, out_msgs, 1);
    STAT_ADD(sh, out_bytes, m->size);
    conn_mark_flush(c);
    /* a route is cut as a slow consumer only far beyond max_pending: its
     * producers wait for it from half of it on (docs/design.md §22) */
    if (c->pending > 8 * (uint64_t)sh->conf->o->max_pending)
        conn_close(c, CR_SLOW_CONSUMER_PENDING, false);
    else
        shard_note_delivery(sh, c);
}

void route_flush_msg(struct shard *sh, const struct msgview *m)
{
    uint32_t n = sh->rcol_n;
    sh->rcol_n = 0;
    struct strv qs[64], *qv = qs;
    if (n > 64 && !(qv = malloc(n * sizeof *qv))) {
        sh->note.oom = true;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct sub *s = sh->rcol[i];
        if (!s)
            continue;
        struct conn *c = s->conn;
        const struct account *a = s->acc;
        uint32_t nq = 0;
        for (uint32_t k = i; k < n; k++) { /* this route's subscriptions: one message, its queue groups named */
            struct sub *t = sh->rcol[k];
            if (!t || t->conn != c)
                continue;
            if (t->qlen)
                qv[nq++] = (struct strv){t->queue, t->qlen};
            sh->rcol[k] = NULL;
        }
        if (!c->closing && !s->removed)
            write_rmsg(sh, c, a, qv, nq, m);
    }
    if (qv != qs)
        free(qv);
}

/* ---------------------------------------------------------------- monitoring */

bool route_snap(struct conn *c, struct conn_snap *o)
{
    const struct route *r = c->route;
    if (!r || !r->registered || !o)
        return r && r->registered;
    o->remote_id = strdup(r->id);
    o->did_solicit = r->solicited;
    o->is_configured = r->configured;
    o->pool_idx = r->nopool || r->pin >= 0 ? -1 : r->slot;
    o->route_account = r->pin >= 0 ? strdup(CL(c->sh->srv)->pins[r->pin]->name) : NULL;
    o->route_comp = r->comp ? route_comp_names[r->comp] : NULL;
    return true;
}

void route_varz(struct server *s, struct jw *w)
{
    struct cluster *cl = CL(s);
    jw_obj_begin(w, "cluster");
    if (cl) {
        const struct opts *o = s->opts;
        pthread_mutex_lock(&cl->mu);
        jw_str(w, "name", cl->mon_name);
        pthread_mutex_unlock(&cl->mu);
        jw_str(w, "addr", o->cluster.host);
        jw_int(w, "cluster_port", cl->port);
        int64_t at = o->cluster.auth_timeout_ms > 0 ? o->cluster.auth_timeout_ms : 2000;
        jw_double(w, "auth_timeout", (double)at / 1000.0);
        if (cl->ncfg) {
            jw_arr_begin(w, "urls");
            for (int i = 0; i < cl->ncfg; i++)
                jw_str(w, NULL, cl->cfg_urls[i]);
            jw_arr_end(w);
        }
        jw_double(w, "tls_timeout", (double)(o->cluster.tls.ctx ? o->cluster.tls.timeout_ms : TLS_DEFAULT_TIMEOUT_MS) /
                                        1000.0);
        if (o->cluster.tls.ctx) {
            jw_bool(w, "tls_required", true);
            jw_bool(w, "tls_verify", true);
        }
        jw_int(w, "pool_size", cl->pool);
    }
    jw_obj_end(w);
}

void route_varz_urls(struct server *s, struct jw *w)
{
    struct cluster *cl = CL(s);
    if (!cl)
        return;
    pthread_mutex_lock(&cl->mu);
    json_error_t e;
    json_t *a = cl->mon_urls ? json_loads(cl->mon_urls, 0, &e) : NULL;
    pthread_mutex_unlock(&cl->mu);
    if (!a)
        return;
    jw_arr_begin(w, "connect_urls");
    for (size_t i = 0; i < json_array_size(a); i++)
        jw_str(w, NULL, json_string_value(json_array_get(a, i)));
    jw_arr_end(w);
    json_decref(a);
}
