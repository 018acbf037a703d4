/*
 * stress — many concurrent libnats connections against one NATS server, with
 * exact delivery accounting.
 *
 *   stress [options] URL
 *     -s N   subscriber connections            (default 200)
 *     -p N   publisher connections/threads     (default 20)
 *     -n N   messages per publisher            (default 1000)
 *     -g N   queue groups                      (default 2)
 *     -b N   largest payload, >= 16 bytes       (default 300; sizes vary 16..N)
 *     -t SEC bound on the wait for delivery    (default 60)
 *     -w N   libnats delivery threads          (default 8)
 *     -c N   churn threads                     (default 4)
 *   env STRESS_SCALE=F multiplies -n (e.g. 0.1 for sanitizer builds).
 *
 * Subscriber connection i has one role, i % 4:
 *   0 FULL   "sx.>"                         every message of every publisher
 *   1 STAR   "sx.d.*"                       every message of every publisher
 *   2 EXACT  "sx.d.0" ... "sx.d.<p-1>"      one subscription per publisher
 *   3 QUEUE  "sx.d.*" in queue group "qg<(i/4) % g>"
 * While the publishers run, each churn thread repeatedly connects, subscribes
 * to "sx.>", receives for a few milliseconds, unsubscribes and disconnects:
 * interest changes race with delivery on the server. Churn subscriptions are
 * not counted (they join and leave mid-stream) but must see every
 * publisher's messages in increasing order and intact.
 * Publisher k publishes n messages with sequence numbers 0..n-1 on "sx.d.<k>",
 * then an END message (same subject, so per-publisher order puts it last).
 *
 * Checks (exact, no timing criteria):
 *   - each FULL/STAR/EXACT subscription gets every sequence number of every
 *     publisher it matches, in increasing order, no gaps, no duplicates, then
 *     that publisher's END (END proves nothing of that publisher is missing);
 *   - each queue group gets every (publisher, seq) exactly once across its
 *     members, and each member sees each publisher's messages in increasing
 *     order; each group gets each publisher's END exactly once;
 *   - churn subscriptions see increasing sequence numbers, intact payloads;
 *   - payloads are intact; no async error (slow consumer, -ERR), no
 *     disconnect; the client never drops (pending limits unlimited).
 * All subscriptions are registered (PING/PONG flush on every subscriber
 * connection) before any publisher starts; publishers start together from a
 * barrier, one thread each.
 *
 * Prints PASS/FAIL lines and INFO lines; exit 0 only if everything passed.
 */
#include <nats/nats.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { ROLE_FULL, ROLE_STAR, ROLE_EXACT, ROLE_QUEUE, NROLES };
static const char *role_name[NROLES] = {"full(sx.>)", "star(sx.d.*)", "exact(sx.d.N)", "queue"};

#define MAGIC 0x5354524eu /* "STRN" */
#define END_SEQ 0xffffffffu

static int n_subs = 200, n_pubs = 20, n_msgs = 1000, n_groups = 2, payload = 300, wait_s = 60, n_workers = 8, n_churn = 4;
static const char *url;

/* per subscription */
typedef struct {
    int role;
    int group;                /* queue only */
    int only_pub;             /* EXACT: the one publisher it matches; else -1 */
    uint32_t *next;           /* next expected seq per publisher (callback only) */
    atomic_long received;     /* data messages */
    atomic_long ends;         /* END messages */
    atomic_long order_errors; /* gap, reorder or duplicate */
    atomic_long missing_at_end;
    atomic_long bad;          /* unexpected publisher, corrupt payload */
} sub_state;

typedef struct {
    atomic_long count;
    atomic_long dups;
    atomic_long ends;
    atomic_uchar *seen; /* n_pubs * n_msgs */
} group_state;

static group_state *groups;
static atomic_long remaining_ends; /* ENDs the non-queue subscriptions still wait for */
static atomic_long async_errors, disconnects, publish_errors;
static atomic_int progress_gen;
static pthread_mutex_t progress_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t progress_cv = PTHREAD_COND_INITIALIZER;

static int fails, passes;

static void result(bool ok, const char *name, const char *fmt, ...)
{
    va_list ap;
    printf("%s %s: ", ok ? "PASS" : "FAIL", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (ok)
        passes++;
    else
        fails++;
}

static void die(const char *what, natsStatus s)
{
    printf("FAIL %s: %s\n", what, natsStatus_GetText(s));
    fflush(stdout);
    exit(1);
}

#define MUST(what, call)        \
    do {                        \
        natsStatus s_ = (call); \
        if (s_ != NATS_OK)      \
            die((what), s_);    \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void poke(void)
{
    pthread_mutex_lock(&progress_mu);
    atomic_fetch_add(&progress_gen, 1);
    pthread_cond_broadcast(&progress_cv);
    pthread_mutex_unlock(&progress_mu);
}

/* ------------------------------------------------------------------ */
/* payload: magic, publisher, seq, checksum of the padding; then padding.
 * Sizes vary with (publisher, seq) between 16 and `payload` bytes so that
 * messages straddle the server's and client's buffer boundaries. */

static int msg_len(uint32_t pub, uint32_t seq)
{
    return 16 + (int)((pub * 7u + seq * 13u) % (uint32_t)(payload - 16 + 1));
}

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static int fill(unsigned char *buf, uint32_t pub, uint32_t seq)
{
    uint32_t sum = 0;
    int len = msg_len(pub, seq);
    for (int i = 16; i < len; i++) {
        buf[i] = (unsigned char)(pub * 31u + seq * 7u + (uint32_t)i);
        sum = sum * 33u + buf[i];
    }
    put32(buf, MAGIC);
    put32(buf + 4, pub);
    put32(buf + 8, seq);
    put32(buf + 12, sum);
    return len;
}

/* false if corrupt */
static bool parse(natsMsg *m, uint32_t *pub, uint32_t *seq)
{
    const unsigned char *d = (const unsigned char *)natsMsg_GetData(m);
    uint32_t sum = 0;
    int len = natsMsg_GetDataLength(m);
    if (len < 16 || get32(d) != MAGIC)
        return false;
    *pub = get32(d + 4);
    *seq = get32(d + 8);
    if (*pub >= (uint32_t)n_pubs || (*seq >= (uint32_t)n_msgs && *seq != END_SEQ) || len != msg_len(*pub, *seq))
        return false;
    for (int i = 16; i < len; i++)
        sum = sum * 33u + d[i];
    if (sum != get32(d + 12))
        return false;
    char subj[32];
    snprintf(subj, sizeof(subj), "sx.d.%u", *pub);
    return strcmp(subj, natsMsg_GetSubject(m)) == 0;
}

/* ------------------------------------------------------------------ */
/* subscriber callbacks */

static void on_plain(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    sub_state *st = closure;
    uint32_t pub, seq;
    if (!parse(m, &pub, &seq) || (st->only_pub >= 0 && pub != (uint32_t)st->only_pub)) {
        atomic_fetch_add(&st->bad, 1);
    } else if (seq == END_SEQ) {
        if (st->next[pub] != (uint32_t)n_msgs)
            atomic_fetch_add(&st->missing_at_end, (long)n_msgs - (long)st->next[pub]);
        atomic_fetch_add(&st->ends, 1);
        if (atomic_fetch_sub(&remaining_ends, 1) == 1)
            poke();
    } else {
        if (seq != st->next[pub])
            atomic_fetch_add(&st->order_errors, 1);
        if (seq >= st->next[pub])
            st->next[pub] = seq + 1;
        atomic_fetch_add(&st->received, 1);
    }
    natsMsg_Destroy(m);
}

static void on_queue(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    sub_state *st = closure;
    group_state *g = &groups[st->group];
    uint32_t pub, seq;
    if (!parse(m, &pub, &seq)) {
        atomic_fetch_add(&st->bad, 1);
    } else if (seq == END_SEQ) {
        atomic_fetch_add(&st->ends, 1);
        atomic_fetch_add(&g->ends, 1);
    } else {
        /* a member sees a subsequence of each publisher's stream: increasing */
        if (seq + 1 <= st->next[pub])
            atomic_fetch_add(&st->order_errors, 1);
        else
            st->next[pub] = seq + 1;
        if (atomic_fetch_add(&g->seen[(size_t)pub * n_msgs + seq], 1) != 0)
            atomic_fetch_add(&g->dups, 1);
        atomic_fetch_add(&st->received, 1);
        if (atomic_fetch_add(&g->count, 1) + 1 == (long)n_pubs * n_msgs)
            poke();
    }
    natsMsg_Destroy(m);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    if (atomic_fetch_add(&async_errors, 1) < 5) {
        printf("INFO async error: %s\n", natsStatus_GetText(err));
        fflush(stdout);
    }
    poke();
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    atomic_fetch_add(&disconnects, 1);
    poke();
}

static natsConnection *connect_one(const char *name, bool global_delivery, bool watch_disconnect)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    natsStatus s;
    MUST("options", natsOptions_Create(&o));
    MUST("options", natsOptions_SetURL(o, url));
    MUST("options", natsOptions_SetName(o, name));
    MUST("options", natsOptions_SetTimeout(o, 10000));
    MUST("options", natsOptions_SetAllowReconnect(o, false));
    MUST("options", natsOptions_SetMaxPendingMsgs(o, 10000000));
    MUST("options", natsOptions_SetErrorHandler(o, on_error, NULL));
    if (watch_disconnect)
        MUST("options", natsOptions_SetDisconnectedCB(o, on_disconnected, NULL));
    MUST("options", natsOptions_UseGlobalMessageDelivery(o, global_delivery));
    /* no PING timeouts under load on slow (sanitizer) servers */
    MUST("options", natsOptions_SetPingInterval(o, 600000));
    for (int attempt = 0;; attempt++) {
        s = natsConnection_Connect(&nc, o);
        /* a burst of connects can briefly overflow the server's accept backlog */
        if (s == NATS_OK || attempt >= 20)
            break;
        usleep(50000);
    }
    natsOptions_Destroy(o);
    if (s != NATS_OK)
        die(name, s);
    return nc;
}

static natsSubscription *subscribe(natsConnection *nc, const char *subj, const char *queue, natsMsgHandler cb,
                                   sub_state *st)
{
    natsSubscription *sub = NULL;
    if (queue != NULL)
        MUST("queue subscribe", natsConnection_QueueSubscribe(&sub, nc, subj, queue, cb, st));
    else
        MUST("subscribe", natsConnection_Subscribe(&sub, nc, subj, cb, st));
    /* the client must never drop: unlimited pending */
    MUST("pending limits", natsSubscription_SetPendingLimits(sub, -1, -1));
    return sub;
}

/* ------------------------------------------------------------------ */
/* publishers */

typedef struct {
    int id;
    natsConnection *nc;
    pthread_barrier_t *start;
    natsStatus status;
} pub_arg;

static void *publisher(void *arg)
{
    pub_arg *a = arg;
    unsigned char *buf = malloc((size_t)payload);
    char subj[32];
    natsStatus s = NATS_OK;
    snprintf(subj, sizeof(subj), "sx.d.%d", a->id);
    pthread_barrier_wait(a->start);
    for (int i = 0; i < n_msgs && s == NATS_OK; i++) {
        int len = fill(buf, (uint32_t)a->id, (uint32_t)i);
        s = natsConnection_Publish(a->nc, subj, buf, len);
    }
    if (s == NATS_OK) {
        int len = fill(buf, (uint32_t)a->id, END_SEQ);
        s = natsConnection_Publish(a->nc, subj, buf, len);
    }
    if (s == NATS_OK)
        s = natsConnection_FlushTimeout(a->nc, (int64_t)wait_s * 1000);
    a->status = s;
    if (s != NATS_OK)
        atomic_fetch_add(&publish_errors, 1);
    free(buf);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* churn */

static atomic_int publishing_done;
static atomic_long churn_cycles, churn_received, churn_order_errors, churn_bad;

static void on_churn(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    uint32_t *next = closure, pub, seq;
    if (!parse(m, &pub, &seq)) {
        atomic_fetch_add(&churn_bad, 1);
    } else if (seq != END_SEQ) {
        if (seq + 1 <= next[pub]) /* joined mid-stream: gaps at the start are fine, going back is not */
            atomic_fetch_add(&churn_order_errors, 1);
        else
            next[pub] = seq + 1;
        atomic_fetch_add(&churn_received, 1);
    }
    natsMsg_Destroy(m);
}

typedef struct {
    int id;
    uint32_t **states; /* kept until exit: callbacks may outlive Destroy */
    int nstates, cap;
} churn_arg;

static void *churner(void *arg)
{
    churn_arg *a = arg;
    unsigned seed = (unsigned)a->id * 7919u + 1u;
    char name[64];
    snprintf(name, sizeof(name), "stress-churn-%d", a->id);
    while (!atomic_load(&publishing_done)) {
        natsConnection *nc = connect_one(name, true, false);
        natsSubscription *sub = NULL;
        if (a->nstates == a->cap) {
            a->cap = a->cap ? a->cap * 2 : 64;
            a->states = realloc(a->states, (size_t)a->cap * sizeof(*a->states));
        }
        uint32_t *next = calloc((size_t)n_pubs, sizeof(uint32_t));
        a->states[a->nstates++] = next;
        if (natsConnection_Subscribe(&sub, nc, "sx.>", on_churn, next) == NATS_OK) {
            natsSubscription_SetPendingLimits(sub, -1, -1);
            natsConnection_FlushTimeout(nc, 10000);
            usleep(2000 + rand_r(&seed) % 15000);
            natsSubscription_Unsubscribe(sub);
            natsSubscription_Destroy(sub);
        }
        natsConnection_Destroy(nc);
        atomic_fetch_add(&churn_cycles, 1);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */

static bool delivery_done(long *ends_left)
{
    *ends_left = atomic_load(&remaining_ends);
    if (*ends_left > 0)
        return false;
    for (int g = 0; g < n_groups; g++)
        if (atomic_load(&groups[g].count) < (long)n_pubs * n_msgs)
            return false;
    return true;
}

static int intarg(const char *s, int min)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min || v > 100000000) {
        fprintf(stderr, "bad number '%s' (min %d)\n", s, min);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "s:p:n:g:b:t:w:c:")) != -1) {
        switch (opt) {
        case 's': n_subs = intarg(optarg, 4); break;
        case 'p': n_pubs = intarg(optarg, 1); break;
        case 'n': n_msgs = intarg(optarg, 1); break;
        case 'g': n_groups = intarg(optarg, 1); break;
        case 'b': payload = intarg(optarg, 16); break;
        case 't': wait_s = intarg(optarg, 1); break;
        case 'w': n_workers = intarg(optarg, 1); break;
        case 'c': n_churn = intarg(optarg, 0); break;
        default:
            fprintf(stderr, "usage: %s [-s subs] [-p pubs] [-n msgs] [-g groups] [-b bytes] [-t secs] [-w workers] [-c churn] URL\n",
                    argv[0]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: %s [options] URL\n", argv[0]);
        return 2;
    }
    url = argv[optind];
    const char *scale = getenv("STRESS_SCALE");
    if (scale != NULL && *scale != '\0') {
        double f = strtod(scale, NULL);
        if (f <= 0) {
            fprintf(stderr, "bad STRESS_SCALE '%s'\n", scale);
            return 2;
        }
        n_msgs = (int)(n_msgs * f);
        if (n_msgs < 10)
            n_msgs = 10;
    }
    int n_queue_subs = 0;
    for (int i = 0; i < n_subs; i++)
        n_queue_subs += i % NROLES == ROLE_QUEUE;
    if (n_groups > n_queue_subs)
        n_groups = n_queue_subs;

    printf("INFO %d subscriber connections, %d publishers x %d messages of 16..%d bytes, %d queue groups, url %s\n",
           n_subs, n_pubs, n_msgs, payload, n_groups, url);
    fflush(stdout);

    MUST("nats_Open", nats_Open(-1));
    MUST("delivery pool", nats_SetMessageDeliveryPoolSize(n_workers));

    groups = calloc((size_t)n_groups, sizeof(*groups));
    for (int g = 0; g < n_groups; g++) {
        groups[g].seen = calloc((size_t)n_pubs * n_msgs, sizeof(atomic_uchar));
        if (groups[g].seen == NULL) {
            printf("FAIL setup: out of memory\n");
            return 1;
        }
    }

    /* subscriber side */
    double t0 = now_s();
    natsConnection **sconn = calloc((size_t)n_subs, sizeof(*sconn));
    int n_states = 0;
    for (int i = 0; i < n_subs; i++)
        n_states += i % NROLES == ROLE_EXACT ? n_pubs : 1;
    sub_state *states = calloc((size_t)n_states, sizeof(*states));
    natsSubscription **subs = calloc((size_t)n_states, sizeof(*subs));
    long expect_ends = 0;
    int k = 0;
    for (int i = 0; i < n_subs; i++) {
        char name[64];
        int role = i % NROLES;
        snprintf(name, sizeof(name), "stress-sub-%d-%s", i, role_name[role]);
        sconn[i] = connect_one(name, true, true);
        int nsub = role == ROLE_EXACT ? n_pubs : 1;
        for (int j = 0; j < nsub; j++, k++) {
            sub_state *st = &states[k];
            st->role = role;
            st->only_pub = role == ROLE_EXACT ? j : -1;
            st->group = role == ROLE_QUEUE ? (i / NROLES) % n_groups : -1;
            st->next = calloc((size_t)n_pubs, sizeof(uint32_t));
            if (role == ROLE_FULL) {
                subs[k] = subscribe(sconn[i], "sx.>", NULL, on_plain, st);
                expect_ends += n_pubs;
            } else if (role == ROLE_STAR) {
                subs[k] = subscribe(sconn[i], "sx.d.*", NULL, on_plain, st);
                expect_ends += n_pubs;
            } else if (role == ROLE_EXACT) {
                char subj[32];
                snprintf(subj, sizeof(subj), "sx.d.%d", j);
                subs[k] = subscribe(sconn[i], subj, NULL, on_plain, st);
                expect_ends += 1;
            } else {
                char q[32];
                snprintf(q, sizeof(q), "qg%d", st->group);
                subs[k] = subscribe(sconn[i], "sx.d.*", q, on_queue, st);
            }
        }
    }
    atomic_store(&remaining_ends, expect_ends);
    /* PING/PONG on every subscriber connection: every SUB is registered */
    for (int i = 0; i < n_subs; i++)
        MUST("subscriber flush", natsConnection_FlushTimeout(sconn[i], (int64_t)wait_s * 1000));

    /* publisher side */
    natsConnection **pconn = calloc((size_t)n_pubs, sizeof(*pconn));
    for (int p = 0; p < n_pubs; p++) {
        char name[64];
        snprintf(name, sizeof(name), "stress-pub-%d", p);
        pconn[p] = connect_one(name, false, true);
    }
    double t1 = now_s();
    printf("INFO %d connections and %d subscriptions set up in %.2fs\n", n_subs + n_pubs, n_states, t1 - t0);
    fflush(stdout);

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n_pubs + 1);
    pthread_t *thr = calloc((size_t)n_pubs, sizeof(*thr));
    pub_arg *pa = calloc((size_t)n_pubs, sizeof(*pa));
    for (int p = 0; p < n_pubs; p++) {
        pa[p] = (pub_arg){.id = p, .nc = pconn[p], .start = &start, .status = NATS_OK};
        if (pthread_create(&thr[p], NULL, publisher, &pa[p]) != 0) {
            printf("FAIL setup: pthread_create: %s\n", strerror(errno));
            return 1;
        }
    }
    pthread_t *cthr = calloc((size_t)n_churn + 1, sizeof(*cthr));
    churn_arg *ca = calloc((size_t)n_churn + 1, sizeof(*ca));
    for (int c = 0; c < n_churn; c++) {
        ca[c].id = c;
        if (pthread_create(&cthr[c], NULL, churner, &ca[c]) != 0) {
            printf("FAIL setup: pthread_create: %s\n", strerror(errno));
            return 1;
        }
    }
    double t2 = now_s();
    pthread_barrier_wait(&start);
    for (int p = 0; p < n_pubs; p++)
        pthread_join(thr[p], NULL);
    double t3 = now_s();
    atomic_store(&publishing_done, 1);
    for (int c = 0; c < n_churn; c++)
        pthread_join(cthr[c], NULL);
    int pub_bad = 0;
    for (int p = 0; p < n_pubs; p++)
        if (pa[p].status != NATS_OK) {
            if (pub_bad++ < 3)
                printf("INFO publisher %d: %s\n", p, natsStatus_GetText(pa[p].status));
        }
    result(pub_bad == 0, "stress.publish", "%d publishers sent %d messages each + END and flushed (%d failed)",
           n_pubs, n_msgs, pub_bad);

    /* wait (bounded) until every END and every queue message has arrived, or
     * something went wrong that makes it impossible */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += wait_s;
    long ends_left = 0;
    bool done = false;
    pthread_mutex_lock(&progress_mu);
    for (;;) {
        done = delivery_done(&ends_left);
        if (done || atomic_load(&disconnects) > 0 || atomic_load(&async_errors) > 0)
            break;
        int gen = atomic_load(&progress_gen);
        struct timespec tick;
        clock_gettime(CLOCK_REALTIME, &tick);
        tick.tv_nsec += 200 * 1000000L;
        if (tick.tv_nsec >= 1000000000L) {
            tick.tv_sec++;
            tick.tv_nsec -= 1000000000L;
        }
        if (tick.tv_sec > dl.tv_sec || (tick.tv_sec == dl.tv_sec && tick.tv_nsec > dl.tv_nsec))
            tick = dl;
        int rc = 0;
        while (gen == atomic_load(&progress_gen) && rc == 0)
            rc = pthread_cond_timedwait(&progress_cv, &progress_mu, &tick);
        struct timespec nowts;
        clock_gettime(CLOCK_REALTIME, &nowts);
        if (nowts.tv_sec > dl.tv_sec || (nowts.tv_sec == dl.tv_sec && nowts.tv_nsec >= dl.tv_nsec)) {
            done = delivery_done(&ends_left);
            break;
        }
    }
    pthread_mutex_unlock(&progress_mu);
    double t4 = now_s();
    result(done, "stress.complete", "all END markers and queue messages arrived within the %ds bound%s", wait_s,
           done ? "" : " (see counts below)");
    if (!done)
        printf("INFO still missing: %ld END markers; queue groups at", ends_left);
    for (int g = 0; !done && g < n_groups; g++)
        printf(" %ld/%ld", atomic_load(&groups[g].count), (long)n_pubs * n_msgs);
    if (!done)
        printf("\n");

    /* Settle: a PING/PONG on every queue-member connection, then let the
     * library hand over what it queued, so that late duplicates show up. */
    for (int i = 0; i < n_subs; i++)
        if (i % NROLES == ROLE_QUEUE)
            natsConnection_FlushTimeout(sconn[i], 5000);
    double settle_end = now_s() + 10;
    for (int idx = 0; idx < n_states; idx++) {
        int pm = 0;
        while (natsSubscription_GetPending(subs[idx], &pm, NULL) == NATS_OK && pm > 0 && now_s() < settle_end)
            usleep(10000);
    }

    /* per-role verdicts */
    for (int role = 0; role < NROLES; role++) {
        if (role == ROLE_QUEUE)
            continue;
        int nsubs = 0, bad_subs = 0;
        long got = 0, want = 0, ord = 0, miss = 0, badp = 0, ends = 0, want_ends = 0;
        for (int idx = 0; idx < n_states; idx++) {
            sub_state *st = &states[idx];
            if (st->role != role)
                continue;
            long w = st->only_pub >= 0 ? n_msgs : (long)n_pubs * n_msgs;
            long we = st->only_pub >= 0 ? 1 : n_pubs;
            long r = atomic_load(&st->received), e = atomic_load(&st->ends), o = atomic_load(&st->order_errors),
                 m = atomic_load(&st->missing_at_end), b = atomic_load(&st->bad);
            nsubs++;
            got += r;
            want += w;
            ends += e;
            want_ends += we;
            ord += o;
            miss += m;
            badp += b;
            if (r != w || e != we || o || m || b) {
                if (bad_subs++ < 3)
                    printf("INFO %s subscription #%d: %ld/%ld messages, %ld/%ld END, %ld order errors, %ld missing, "
                           "%ld bad\n",
                           role_name[role], idx, r, w, e, we, o, m, b);
            }
        }
        if (nsubs == 0)
            continue;
        char name[64];
        snprintf(name, sizeof(name), "stress.%s", role_name[role]);
        result(bad_subs == 0, name,
               "%d subscriptions: %ld/%ld messages, %ld/%ld END, %ld order errors, %ld missing, %ld bad payloads; "
               "%d subscriptions wrong",
               nsubs, got, want, ends, want_ends, ord, miss, badp, bad_subs);
    }
    for (int g = 0; g < n_groups; g++) {
        long members = 0, ord = 0, badp = 0, missing = 0;
        long min_got = -1, max_got = 0;
        for (int idx = 0; idx < n_states; idx++) {
            sub_state *st = &states[idx];
            if (st->role != ROLE_QUEUE || st->group != g)
                continue;
            long r = atomic_load(&st->received);
            members++;
            ord += atomic_load(&st->order_errors);
            badp += atomic_load(&st->bad);
            if (min_got < 0 || r < min_got)
                min_got = r;
            if (r > max_got)
                max_got = r;
        }
        for (size_t i = 0; i < (size_t)n_pubs * n_msgs; i++)
            missing += atomic_load(&groups[g].seen[i]) == 0;
        long cnt = atomic_load(&groups[g].count), dups = atomic_load(&groups[g].dups),
             ends = atomic_load(&groups[g].ends);
        char name[64];
        snprintf(name, sizeof(name), "stress.queue[qg%d]", g);
        result(cnt == (long)n_pubs * n_msgs && dups == 0 && missing == 0 && ord == 0 && badp == 0 && ends == n_pubs,
               name,
               "%ld members: %ld/%ld deliveries, %ld duplicates, %ld missing, %ld order errors, %ld bad payloads, "
               "END %ld/%d (per member %ld..%ld)",
               members, cnt, (long)n_pubs * n_msgs, dups, missing, ord, badp, ends, n_pubs, min_got, max_got);
    }
    if (n_churn > 0) {
        long cc = atomic_load(&churn_cycles), co = atomic_load(&churn_order_errors), cb = atomic_load(&churn_bad);
        result(co == 0 && cb == 0, "stress.churn",
               "%ld subscribe/unsubscribe/disconnect cycles during publishing, %ld messages received, %ld order "
               "errors, %ld bad payloads",
               cc, atomic_load(&churn_received), co, cb);
    }
    long ae = atomic_load(&async_errors), dc = atomic_load(&disconnects);
    result(ae == 0 && dc == 0, "stress.connections", "%ld async errors (slow consumer, -ERR), %ld disconnects", ae, dc);

    long total = 0;
    for (int idx = 0; idx < n_states; idx++)
        total += atomic_load(&states[idx].received) + atomic_load(&states[idx].ends);
    printf("INFO setup %.2fs, publish %.2fs, delivery complete %.2fs after start, %ld deliveries (%.0f/s)\n", t1 - t0,
           t3 - t2, t4 - t2, total, total / (t4 - t2 > 0 ? t4 - t2 : 1));

    for (int idx = 0; idx < n_states; idx++)
        natsSubscription_Destroy(subs[idx]);
    for (int i = 0; i < n_subs; i++)
        natsConnection_Destroy(sconn[i]);
    for (int p = 0; p < n_pubs; p++)
        natsConnection_Destroy(pconn[p]);
    nats_CloseAndWait(10000);
    for (int idx = 0; idx < n_states; idx++)
        free(states[idx].next);
    for (int g = 0; g < n_groups; g++)
        free(groups[g].seen);
    free(groups);
    free(states);
    free(subs);
    free(sconn);
    free(pconn);
    free(thr);
    free(pa);
    for (int c = 0; c < n_churn; c++) {
        for (int j = 0; j < ca[c].nstates; j++)
            free(ca[c].states[j]);
        free(ca[c].states);
    }
    free(ca);
    free(cthr);
    pthread_barrier_destroy(&start);
    printf("SUMMARY %d passed, %d failed\n", passes, fails);
    return fails ? 1 : 0;
}
