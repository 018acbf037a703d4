/* Server start-up and shut-down, run by the control thread (main). */
#include "server.h"
#include "authw.h"
#include "nkey.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "failpoint.h"
#include "log.h"
#include "monitor.h"
#include "../monitor/sysreq.h"
#include "shard.h"
#include "../cluster/route.h"
#include "topz.h"

struct ldm {
    int phase;           /* 0 off, 1 grace period, 2 closing clients */
    int64_t next_ms;     /* next step */
    int64_t interval_ms; /* between closes */
    int batch;           /* clients per step when they outnumber milliseconds */
};

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void json_escape(char *dst, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)ch;
        } else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') {
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", ch);
        } else {
            dst[o++] = (char)ch;
        }
    }
    dst[o] = 0;
}

/* A published configuration: the options and the client INFO prefix they imply. */
static struct srvconf *conf_new(struct server *s, struct opts *o)
{
    struct srvconf *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    char name[512], host[300], buf[2048];
    json_escape(name, sizeof name, o->server_name ? o->server_name : s->server_id);
    json_escape(host, sizeof host, o->host);
    int n = snprintf(buf, sizeof buf,
                     "INFO {\"server_id\":\"%s\",\"server_name\":\"%s\",\"version\":\"%s\",\"proto\":1,"
                     "\"go\":\"gannet%s\",\"host\":\"%s\",\"port\":%d,\"headers\":true,%s%s%s%s\"max_payload\":%" PRId64 ",",
                     s->server_id, name, NATS_COMPAT_VERSION, GANNET_VERSION, host, s->port,
                     opts_auth_configured(o) && !o->no_auth_user ? "\"auth_required\":true," : "",
                     /* nats-server's Info: tls_required, tls_verify, tls_available, in that order */
                     o->tls.ctx && !o->allow_non_tls ? "\"tls_required\":true," : "",
                     o->tls.ctx && o->tls.verify ? "\"tls_verify\":true," : "",
                     o->tls.ctx && o->allow_non_tls ? "\"tls_available\":true," : "", o->max_payload);
    c->o = o;
    c->info_head = strndup(buf, (size_t)n);
    c->info_head_len = (size_t)n;
    if (!c->info_head) {
        free(c);
        return NULL;
    }
    return c;
}

static void conf_free(struct server *s, struct srvconf *c)
{
    if (!c)
        return;
    if (c->o != s->opts) { /* the first options belong to main() */
        opts_free(c->o);
        free(c->o);
    }
    free(c->info_head);
    free(c);
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static bool auth_differs(const struct opts *a, const struct opts *b)
{
    if (str_differs(a->user, b->user) || str_differs(a->pass, b->pass) || str_differs(a->token, b->token) ||
        str_differs(a->no_auth_user, b->no_auth_user) || a->nusers != b->nusers)
        return true;
    for (int i = 0; i < a->nusers; i++) {
        const struct user_opt *x = &a->users[i], *y = &b->users[i];
        if (str_differs(x->name, y->name) || str_differs(x->pass, y->pass) || str_differs(x->nkey, y->nkey) ||
            str_differs(x->account, y->account) || x->conn_types != y->conn_types ||
            !opts_perms_equal(x->perms, y->perms))
            return true;
    }
    return false;
}

/* An unsigned number from the environment, or def when unset or bad. */
static long env_knob(const char *name, long def, long max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || errno || n > (unsigned long)max || *v == '-') {
        log_warn("%s=%s is not a number from 0 to %ld: using %ld", name, v, max, def);
        return def;
    }
    return (long)n;
}

bool server_tls_rate_allow(struct server *s, int64_t limit)
{
    int64_t now = now_ns();
    pthread_mutex_lock(&s->tls_rate_mu);
    if (now > s->tls_rate_end_ns) { /* a new one-second window: this connection is its first */
        s->tls_rate_count = 0;
        s->tls_rate_end_ns = now + 1000000000;
    } else {
        s->tls_rate_count++;
    }
    bool allow = s->tls_rate_count < limit;
    pthread_mutex_unlock(&s->tls_rate_mu);
    return allow;
}

int server_init(struct server *s, const struct opts *o)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->query_mu, NULL);
    pthread_mutex_init(&s->tls_rate_mu, NULL);
    for (int i = 0; i < MAX_SHARDS; i++)
        s->listen_ctl[i] = -1;
    s->opts = o;
    atomic_init(&s->ldm_start_ms, 0);
    s->start_ms = now_ms();
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    s->start_unix_ns = (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec;
    atomic_init(&s->next_cid, 1);
    nkey_server_id(s->server_id);
    /* tuning knobs for benchmarks, not options (README "Performance") */
    s->topz_one_in = (uint32_t)env_knob("GANNET_TOPZ_SAMPLE", TOPZ_DEFAULT_ONE_IN, 1000000);
    s->spin_ns = env_knob("GANNET_SPIN_US", SPIN_DEFAULT_US, 1000) * 1000;
    s->spin_pct = env_knob("GANNET_SPIN_PCT", SPIN_DEFAULT_PCT, 100000);
    /* a test knob: every client is handed over to the next shard after its
     * first CONNECT (tests/stress/test_handover.py) */
    s->handover_test = env_knob("GANNET_HANDOVER_TEST", 0, 1) == 1;
    if (s->handover_test)
        log_warn("GANNET_HANDOVER_TEST=1: clients change shards after CONNECT (a test knob)");
    char fperr[256];
    if (failpoints_init(getenv("GANNET_FAILPOINTS"), fperr, sizeof fperr) < 0) {
        log_fatal("%s", fperr);
        return -EINVAL;
    }
    if (failpoints.any)
        log_warn("GANNET_FAILPOINTS=%s: allocation failures are being injected (a test knob)",
                 getenv("GANNET_FAILPOINTS"));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s->nshards = o->shards > 0 ? o->shards : (int)(ncpu > 0 ? ncpu : 1);
    if (s->nshards > MAX_SHARDS)
        s->nshards = MAX_SHARDS;
    int rc;
    char aerr[256];
    if ((rc = accounts_build(o, &s->acc, &s->naccounts, &s->sacc, aerr, sizeof aerr)) < 0) {
        log_fatal("%s", aerr);
        return rc;
    }
    s->gacc = &s->acc[0];
    if ((rc = resp_table_init(&s->resp)) < 0)
        return rc;
    s->mbox = calloc((size_t)(s->nshards * s->nshards), sizeof *s->mbox);
    s->shards = calloc((size_t)s->nshards, sizeof *s->shards);
    if (!s->mbox || !s->shards)
        return -ENOMEM;
    for (int i = 0; i < s->nshards * s->nshards; i++)
        if ((rc = xlink_init(&s->mbox[i])) < 0)
            return rc;
    int fd = listener_open(o->host, o->port, &s->port);
    if (fd < 0) {
        log_fatal("Error listening on port: %s:%d, \"%s\"", o->host, o->port, strerror(-fd));
        return fd;
    }
    for (int i = 0; i < s->nshards; i++) {
        if ((rc = shard_create(s, i, &s->shards[i])) < 0) {
            log_fatal("io_uring setup failed: %s", strerror(-rc));
            close(fd);
            return rc;
        }
        if (i == 0) {
            s->shards[i]->listen_fd = fd;
        } else if ((s->shards[i]->listen_fd = listener_open(o->host, s->port, NULL)) < 0) {
            rc = s->shards[i]->listen_fd;
            log_fatal("Error listening on port: %s:%d, \"%s\"", o->host, s->port, strerror(-rc));
            return rc;
        }
        /* the control thread's own handle on the socket, for lame duck:
         * the shard may close its fd at any time, and a reused fd number
         * must never be shut down by mistake */
        s->listen_ctl[i] = fcntl(s->shards[i]->listen_fd, F_DUPFD_CLOEXEC, 0);
    }
    if (route_init(s, o) < 0)
        return -EINVAL;
    struct srvconf *c = conf_new(s, (struct opts *)o);
    if (!c)
        return -ENOMEM;
    atomic_store(&s->conf, c);
    ports_file_write(o, s->port);
    return 0;
}

static void write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        log_error("Could not write pidfile: %s", strerror(errno));
        return;
    }
    fprintf(f, "%d", (int)getpid());
    fclose(f);
}

/* ---- reload (SIGHUP) ---- */

static void reload(struct server *s)
{
    struct srvconf *old = atomic_load(&s->conf);
    const struct opts *oo = old->o;
    if (!oo->config_file) {
        log_error("can only reload config when a file is provided using -c or --config");
        return;
    }
    char err[2048];
    struct opts *n = calloc(1, sizeof *n);
    if (!n)
        return;
    if (opts_load_quiet(n, oo->argc, oo->argv, err, sizeof err) < 0 || opts_reload_check(oo, n, err, sizeof err) < 0) {
        log_error("Failed to reload server configuration: %s", err);
        opts_free(n);
        free(n);
        return;
    }
    struct srvconf *c = conf_new(s, n);
    if (!c) {
        opts_free(n);
        free(n);
        return;
    }
    c->gen = old->gen + 1;
    c->auth_changed = auth_differs(oo, n);
    struct log_config lc;
    opts_log_config(n, &lc);
    if (log_reconfigure(&lc) < 0)
        log_error("Failed to reload logging, keeping the current destination: %s", log_error_text());
    atomic_store_explicit(&s->conf, c, memory_order_release);
    /* every shard loads the pointer at the start of a turn and passes a
     * quiescent state at its end: after this, none holds the old one */
    synchronize_rcu();
    TSAN_GRACE_ACQUIRE();
    conf_free(s, old);
    log_info("Reloaded server configuration");
}

/* ---- lame duck mode (SIGUSR2) ----
 * As nats-server: stop accepting, tell clients (INFO "ldm":true), wait the
 * grace period, then close the clients one by one spread over the rest of
 * lame_duck_duration (at most 1 s apart, at least half the interval), then
 * shut down. The control thread paces; each shard closes its own clients
 * when told to (SC_CLOSE_CLIENTS). */

static int32_t total_clients(struct server *s)
{
    return atomic_load_explicit(&s->nclients, memory_order_relaxed);
}

static bool ldm_enter(struct server *s, struct ldm *l)
{
    const struct opts *o = atomic_load(&s->conf)->o;
    /* Refuse new connections before saying so. The listening sockets stay
     * the shards' to close; shutdown() just stops them listening, now. */
    for (int i = 0; i < s->nshards; i++)
        if (s->listen_ctl[i] >= 0)
            shutdown(s->listen_ctl[i], SHUT_RDWR);
    log_info("Entering lame duck mode, stop accepting new clients");
    l->phase = 1;
    l->next_ms = now_ms() + o->lame_duck_grace_ms;
    atomic_store(&s->ldm_start_ms, now_ms());
    for (int i = 0; i < s->nshards; i++)
        if (shard_post_simple(s->shards[i], SC_LAME_DUCK, 0) < 0)
            log_error("lame duck: out of memory telling shard %d", i);
    return total_clients(s) == 0;
}

static bool ldm_step(struct server *s, struct ldm *l)
{
    int64_t now = now_ms();
    int32_t left = total_clients(s);
    if (left <= 0)
        return true;
    if (now < l->next_ms)
        return false;
    const struct opts *o = atomic_load(&s->conf)->o;
    if (l->phase == 1) { /* grace period over: pace the closes */
        log_info("Closing existing clients");
        int64_t dur = o->lame_duck_duration_ms - o->lame_duck_grace_ms;
        if (dur <= 0)
            dur = 1000;
        l->interval_ms = dur / left;
        l->batch = 1;
        if (l->interval_ms < 1) {
            l->interval_ms = 1;
            l->batch = (int)(left / dur);
        } else if (l->interval_ms > 1000) {
            l->interval_ms = 1000;
        }
        l->phase = 2;
    }
    /* one client (or a batch) from the shard that has the most; asked[]
     * counts the closes of this step not carried out yet */
    int32_t asked[MAX_SHARDS] = {0};
    for (int k = 0; k < l->batch; k++) {
        struct shard *best = NULL;
        int32_t most = 0;
        int bi = 0;
        for (int i = 0; i < s->nshards; i++) {
            struct shard *sh = s->shards[i];
            int32_t n = atomic_load(&sh->nclients) - asked[i];
            if (n > most)
                most = n, best = sh, bi = i;
        }
        if (best)
            asked[bi]++;
    }
    for (int i = 0; i < s->nshards; i++)
        if (asked[i] && shard_post_simple(s->shards[i], SC_CLOSE_CLIENTS, asked[i]) < 0)
            log_error("lame duck: out of memory telling shard %d", i);
    int64_t v = (int64_t)(rand() % (l->interval_ms > 0 ? l->interval_ms : 1));
    l->next_ms = now + (v < l->interval_ms / 2 ? l->interval_ms / 2 : v);
    return false;
}

/* GANNET_DIAL_TEST="host:port[,timeout_ms[,max_attempts[,backoff_ms]]]": a
 * test knob that makes shard 0 dial out and serve what answers as a client
 * connection, so that tests reach the outbound path (connect timeout,
 * retries with backoff) that routes, gateways and leaf remotes use. */
static void dial_test(struct server *s)
{
    const char *v = getenv("GANNET_DIAL_TEST");
    if (!v || !*v)
        return;
    char host[256];
    int port = 0;
    long long timeout = 2000, attempts = 0, backoff = 100;
    if (sscanf(v, "%255[^:]:%d,%lld,%lld,%lld", host, &port, &timeout, &attempts, &backoff) < 2) {
        log_error("GANNET_DIAL_TEST=%s: want host:port[,timeout_ms[,max_attempts[,backoff_ms]]]", v);
        return;
    }
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    if (getaddrinfo(host, ps, &hints, &res) != 0) {
        log_error("GANNET_DIAL_TEST: cannot resolve %s", host);
        return;
    }
    struct dial_spec d = {.kind = CK_CLIENT, .timeout_ms = timeout, .max_attempts = (int)attempts,
                          .backoff_ms = backoff, .backoff_max_ms = 8 * backoff};
    memcpy(&d.addr, res->ai_addr, res->ai_addrlen);
    d.alen = res->ai_addrlen;
    freeaddrinfo(res);
    log_warn("GANNET_DIAL_TEST: dialing %s:%d (a test knob)", host, port);
    if (shard_post_dial(s->shards[0], &d) < 0)
        log_error("GANNET_DIAL_TEST: out of memory");
}

int server_run(struct server *s)
{
    const struct opts *o = s->opts;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* shards inherit the mask: only this thread takes signals */

    log_info("Starting gannet");
    log_info("  Version:  %s (nats-server %s protocol)", GANNET_VERSION, NATS_COMPAT_VERSION);
    log_info("  ID:       %s", s->server_id);
    log_info("  Name:     %s", o->server_name ? o->server_name : s->server_id);
    log_info("  Shards:   %d", s->nshards);
    if (o->config_file)
        log_info("Using configuration file: %s", o->config_file);
    if (o->pid_file)
        write_pid_file(o->pid_file);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int arc = authw_start(s, ncpu > 1 ? (int)ncpu : 1, &s->authw); /* bcrypt at the machine's pace, off the shards */
    if (arc < 0) {
        log_fatal("could not start the auth workers: %s", strerror(-arc));
        return arc;
    }
    int src = sysw_start(s); /* before the shards: shard 0 subscribes for it as it starts */
    if (src < 0) {
        log_fatal("could not start the system account's thread: %s", strerror(-src));
        return src;
    }
    for (int i = 0; i < s->nshards; i++) {
        int rc = shard_start(s->shards[i]);
        if (rc < 0) {
            log_fatal("could not start shard %d: %s", i, strerror(-rc));
            atomic_store(&s->stopping, 1);
            for (int k = 0; k < i; k++)
                shard_join(s->shards[k]);
            return rc;
        }
    }
    log_info("Listening for client connections on %s:%d", o->host, s->port);
    if (o->tls.ctx && !o->allow_non_tls)
        log_info("TLS required for client connections");
    if (o->cluster.tls.ctx && o->cluster.tls.insecure)
        log_warn("TLS certificate chain and hostname of solicited routes will not be verified. DO NOT USE IN "
                 "PRODUCTION!");
    int mrc = monitor_start(s);
    if (mrc < 0) {
        atomic_store(&s->stopping, 1);
        for (int i = 0; i < s->nshards; i++)
            shard_join(s->shards[i]);
        return mrc;
    }
    log_info("Server is ready");
    dial_test(s);
    struct ldm ldm = {0};
    for (;;) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 50 * 1000000};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig < 0) {
            if (ldm.phase && ldm_step(s, &ldm))
                break; /* lame duck done: every client closed */
            continue;
        }
        if (sig == SIGINT || (sig == SIGTERM && !ldm.phase)) {
            log_info("Trapped \"%s\" signal", sig == SIGINT ? "interrupt" : "terminated");
            break;
        }
        if (sig == SIGQUIT)
            _exit(2); /* immediate, as an unhandled SIGQUIT is for nats-server */
        if (sig == SIGUSR1) {
            int rc = log_reopen();
            if (rc < 0)
                log_error("reopening log file: %s", strerror(-rc));
            else
                log_info("Reopened log file");
        } else if (sig == SIGHUP) {
            reload(s);
        } else if (sig == SIGUSR2 && !ldm.phase) {
            if (ldm_enter(s, &ldm))
                break; /* no clients: shut down at once */
        }
    }
    log_info("Initiating Shutdown...");
    monitor_stop(s);
    sysw_stop(s);
    atomic_store(&s->stopping, 1);
    for (int i = 0; i < s->nshards; i++)
        shard_join(s->shards[i]);
    authw_stop(s->authw);
    s->authw = NULL;
    log_info("Server Exiting..");
    return 0;
}

void server_free(struct server *s)
{
    authw_stop(s->authw); /* when server_run returned early: no shard runs, none can be told */
    s->authw = NULL;
    sysw_stop(s);
    sysw_free(s);
    ports_file_remove(s->opts);
    /* let pending call_rcu callbacks (sub and node frees) run */
    rcu_barrier_qsbr();
    for (int i = 0; s->shards && i < s->nshards; i++)
        shard_destroy(s->shards[i]);
    route_free(s);
    for (int i = 0; i < MAX_SHARDS; i++)
        if (s->listen_ctl[i] >= 0)
            close(s->listen_ctl[i]);
    free(s->shards);
    for (int i = 0; s->mbox && i < s->nshards * s->nshards; i++)
        xlink_destroy(&s->mbox[i]);
    free(s->mbox);
    rcu_register_thread();
    resp_table_destroy(&s->resp);
    for (int i = 0; s->acc && i < s->naccounts; i++)
        account_destroy(&s->acc[i]);
    free(s->acc);
    rcu_unregister_thread();
    conf_free(s, atomic_load(&s->conf));
}
