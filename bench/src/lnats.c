/* lnats.c — the same scenarios through libnats (the NATS C client), i.e.
 * what an application gets: natsConnection_Publish, asynchronous
 * subscriptions with callbacks, natsConnection_Request.
 *
 * libnats is the bottleneck here more often than the server; its numbers
 * say what a real client sees, the raw mode's say what the server can do.
 *
 * Threads: publishers run on their own threads; libnats delivers each
 * subscription's messages on a thread of its own, so a callback is the
 * only writer of its subscription's counters and of the latency histogram
 * (one-way), and the main thread reads them once `got` says it is done.
 * Flow control as in raw_tput.c: publishers wait while more than
 * flow_window() messages per subscriber are in flight, so that libnats'
 * own pending limits (slow consumer on the client side) are never hit.
 */
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

struct nsub {
    struct nb *b;
    natsConnection *nc;
    natsSubscription *sub;
    int idx;
    uint32_t next_seq[MAX_CONNS_PER_SIDE]; /* per publisher */
    _Atomic uint64_t got;
};

struct npub {
    struct nb *b;
    natsConnection *nc;
    int idx;
    uint32_t seq;
    uint64_t sent;      /* this phase */
    pthread_t th;
};

struct nb {
    const struct params *p;
    struct result *r;
    int npub, nsub, fan, strict;
    uint64_t limit;
    _Atomic uint64_t sent, delivered;
    uint64_t deadline, max_msgs;
    uint64_t run_deadline;  /* the run's time cap */
    struct npub pub[MAX_CONNS_PER_SIDE];
    struct nsub sub[MAX_CONNS_PER_SIDE];
};

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    (void)nc;
    (void)sub;
    fail(closure, "libnats reported: %s", natsStatus_GetText(err));
}

/* asap: latency scenarios send each message at once; by default libnats
 * leaves small writes to its flusher thread, which sleeps 1 ms to batch
 * them, and the run would measure that sleep instead of the server. */
static natsConnection *nconnect(const struct params *p, struct result *r, bool asap)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    char url[96];
    snprintf(url, sizeof url, "nats://%s:%d", p->host, p->port);
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetURL(o, url);
    /* A reconnect would hide a server that dropped the connection. */
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(o, false);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(o, on_error, r);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, asap);
    /* TLS: the URL stays nats://; libnats upgrades after an INFO with
     * tls_required. The certificate is checked against the CA and the name
     * localhost (the harness's certificate has DNS:localhost, IP:127.0.0.1). */
    if (s == NATS_OK && p->tls_ca) {
        s = natsOptions_SetSecure(o, true);
        if (s == NATS_OK)
            s = natsOptions_LoadCATrustedCertificates(o, p->tls_ca);
        if (s == NATS_OK)
            s = natsOptions_SetExpectedHostname(o, "localhost");
        if (s == NATS_OK && p->tls_cert)
            s = natsOptions_LoadCertificatesChain(o, p->tls_cert, p->tls_key);
    }
    if (s == NATS_OK)
        s = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK) {
        fail(r, "libnats connect %s%s: %s (%s)", url, p->tls_ca ? " (TLS)" : "", natsStatus_GetText(s),
             nats_GetLastError(NULL));
        return NULL;
    }
    return nc;
}

static void sleep_ns(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* ---- throughput ---- */

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    (void)nc;
    (void)sub;
    struct nsub *s = closure;
    struct nb *b = s->b;
    uint32_t pub, seq;
    uint64_t ts;
    if ((size_t)natsMsg_GetDataLength(m) != b->p->size) {
        fail(b->r, "subscriber %d: payload of %d bytes", s->idx, natsMsg_GetDataLength(m));
    } else {
        pfx_get((const unsigned char *)natsMsg_GetData(m), &pub, &seq, &ts);
        if (pub >= (uint32_t)b->npub)
            fail(b->r, "subscriber %d: unknown publisher %u", s->idx, pub);
        else if (b->strict ? seq != s->next_seq[pub] : seq < s->next_seq[pub])
            fail(b->r, "subscriber %d: publisher %u sequence %u after %u", s->idx, pub, seq,
                 s->next_seq[pub] - 1u);
        else
            s->next_seq[pub] = seq + 1;
    }
    natsMsg_Destroy(m);
    atomic_fetch_add_explicit(&s->got, 1, memory_order_release);
    atomic_fetch_add_explicit(&b->delivered, 1, memory_order_relaxed);
}

/* Waits while the window is full; returns how many may be published. */
static uint64_t room(struct nb *b)
{
    if (!b->fan)
        return UINT64_MAX;
    for (;;) {
        uint64_t inflight = atomic_load_explicit(&b->sent, memory_order_relaxed) * (uint64_t)b->fan -
                            atomic_load_explicit(&b->delivered, memory_order_relaxed);
        if (inflight < b->limit)
            return (b->limit - inflight) / (uint64_t)b->fan + 1;
        if (b->r->failed || now_ns() > b->run_deadline)
            return 0;
        sleep_ns(20000);
    }
}

static void *pub_run(void *arg)
{
    struct npub *pb = arg;
    struct nb *b = pb->b;
    unsigned char *buf = malloc(b->p->size);
    char subj[32];
    snprintf(subj, sizeof subj, "bench.%d", b->p->scen == SC_PUBSUB ? pb->idx : 0);
    memset(buf, 'x', b->p->size);
    pb->sent = 0;
    while (!b->r->failed && now_ns() < b->deadline && (!b->max_msgs || pb->sent < b->max_msgs)) {
        uint64_t k = room(b);
        for (uint64_t i = 0; i < k && i < 256; i++) {
            pfx_put(buf, (uint32_t)pb->idx, pb->seq++, 0);
            natsStatus s = natsConnection_Publish(pb->nc, subj, buf, (int)b->p->size);
            if (s != NATS_OK) {
                fail(b->r, "publish: %s", natsStatus_GetText(s));
                break;
            }
            pb->sent++;
            atomic_fetch_add_explicit(&b->sent, 1, memory_order_relaxed);
        }
    }
    /* The PONG of a flush means the server processed every PUB before it. */
    natsStatus s = natsConnection_FlushTimeout(pb->nc, 10000);
    if (s != NATS_OK)
        fail(b->r, "flush: %s", natsStatus_GetText(s));
    free(buf);
    return NULL;
}

static int nb_setup(struct nb *b)
{
    const struct params *p = b->p;
    for (int i = 0; i < b->nsub; i++) {
        struct nsub *s = &b->sub[i];
        char subj[32];
        snprintf(subj, sizeof subj, "bench.%d", p->scen == SC_PUBSUB ? i : 0);
        s->b = b;
        s->idx = i;
        if (!(s->nc = nconnect(p, b->r, false)))
            return -1;
        natsStatus st = p->scen == SC_QUEUE
                            ? natsConnection_QueueSubscribe(&s->sub, s->nc, subj, "q", on_msg, s)
                            : natsConnection_Subscribe(&s->sub, s->nc, subj, on_msg, s);
        if (st == NATS_OK) /* the window keeps it far below; a margin all the same */
            st = natsSubscription_SetPendingLimits(s->sub, (int)(b->limit * 4 + 65536), 1 << 30);
        if (st == NATS_OK)
            st = natsConnection_FlushTimeout(s->nc, 5000);
        if (st != NATS_OK) {
            fail(b->r, "subscribe: %s", natsStatus_GetText(st));
            return -1;
        }
    }
    for (int i = 0; i < b->npub; i++) {
        b->pub[i] = (struct npub){.b = b, .idx = i};
        if (!(b->pub[i].nc = nconnect(p, b->r, false)))
            return -1;
    }
    return 0;
}

static void nb_phase(struct nb *b, double duration, int measured, uint64_t run_deadline)
{
    uint64_t sent0 = atomic_load(&b->sent), dlv0 = atomic_load(&b->delivered);
    uint64_t base[MAX_CONNS_PER_SIDE];
    for (int i = 0; i < b->nsub; i++)
        base[i] = atomic_load(&b->sub[i].got);
    if (measured)
        window_begin(b->p, b->r);
    uint64_t t0 = now_ns();
    b->deadline = t0 + (uint64_t)(duration * 1e9);
    for (int i = 0; i < b->npub; i++)
        pthread_create(&b->pub[i].th, NULL, pub_run, &b->pub[i]);
    for (int i = 0; i < b->npub; i++)
        pthread_join(b->pub[i].th, NULL);
    uint64_t owed = (atomic_load(&b->sent) - sent0) * (uint64_t)b->fan;
    while (!b->r->failed && atomic_load(&b->delivered) - dlv0 < owed) {
        if (now_ns() > run_deadline) {
            fail(b->r, "time cap reached: %llu of %llu deliveries",
                 (unsigned long long)(atomic_load(&b->delivered) - dlv0), (unsigned long long)owed);
            return;
        }
        sleep_ns(50000);
    }
    if (!measured)
        return;
    b->r->elapsed = (double)(now_ns() - t0) / 1e9;
    window_end(b->p, b->r);
    b->r->published = atomic_load(&b->sent) - sent0;
    b->r->delivered = atomic_load(&b->delivered) - dlv0;
    b->r->nmember = b->nsub;
    for (int i = 0; i < b->nsub; i++)
        b->r->member[i] = atomic_load(&b->sub[i].got) - base[i];
}

static void nb_verify(struct nb *b)
{
    uint64_t total = 0, got = 0;
    for (int i = 0; i < b->npub; i++)
        total += b->pub[i].seq;
    for (int i = 0; i < b->nsub && !b->r->failed; i++) {
        struct nsub *s = &b->sub[i];
        int64_t dropped = 0;
        natsConnection_FlushTimeout(s->nc, 5000);
        sleep_ns(20000000); /* the callback thread may still hold the last few */
        natsSubscription_GetDropped(s->sub, &dropped);
        uint64_t want = b->p->scen == SC_PUBSUB ? b->pub[i].seq : total;
        uint64_t n = atomic_load_explicit(&s->got, memory_order_acquire);
        if (dropped)
            fail(b->r, "subscriber %d: libnats dropped %lld messages", i, (long long)dropped);
        else if (b->p->scen != SC_QUEUE && n != want)
            fail(b->r, "subscriber %d received %llu messages, %llu were published to it", i,
                 (unsigned long long)n, (unsigned long long)want);
        got += n;
    }
    if (!b->r->failed && b->p->scen == SC_QUEUE && got != total)
        fail(b->r, "queue group received %llu of %llu messages", (unsigned long long)got,
             (unsigned long long)total);
    uint64_t measured = 0;
    for (int i = 0; i < b->nsub; i++)
        measured += b->r->member[i];
    double fair = (double)measured / (b->nsub ? b->nsub : 1);
    for (int i = 0; b->p->scen == SC_QUEUE && i < b->nsub && measured >= 100u * (uint64_t)b->nsub; i++)
        if ((double)b->r->member[i] < 0.9 * fair || (double)b->r->member[i] > 1.1 * fair)
            fail(b->r, "queue member %d got %llu of %llu: outside %.0f ± 10%%", i,
                 (unsigned long long)b->r->member[i], (unsigned long long)measured, fair);
}

static void nb_teardown(struct nb *b)
{
    for (int i = 0; i < b->nsub; i++) {
        natsSubscription_Destroy(b->sub[i].sub);
        natsConnection_Destroy(b->sub[i].nc);
    }
    for (int i = 0; i < b->npub; i++)
        natsConnection_Destroy(b->pub[i].nc);
}

void nats_throughput(const struct params *p, struct result *r)
{
    uint64_t run_deadline = now_ns() + (uint64_t)(p->timeout * 1e9);
    struct nb *b = calloc(1, sizeof *b);
    if (!b) {
        fail(r, "out of memory");
        return;
    }
    b->p = p;
    b->r = r;
    b->npub = p->pubs;
    b->nsub = p->scen == SC_PUB ? 0 : p->scen == SC_PUBSUB ? p->pubs : p->subs;
    b->fan = p->scen == SC_PUB ? 0 : p->scen == SC_FANOUT ? b->nsub : 1;
    b->strict = p->scen != SC_QUEUE;
    b->limit = flow_window(p) * (uint64_t)(b->nsub ? b->nsub : 1);
    b->max_msgs = p->max_msgs;
    b->run_deadline = run_deadline;
    if (nats_Open(-1) != NATS_OK) {
        fail(r, "nats_Open failed");
    } else if (nb_setup(b) == 0) {
        if (p->warmup > 0)
            nb_phase(b, p->warmup, 0, run_deadline);
        if (!r->failed)
            nb_phase(b, p->duration, 1, run_deadline);
        if (!r->failed)
            nb_verify(b);
    }
    nb_teardown(b);
    free(b);
    nats_Close();
}

/* ---- request/reply ---- */

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    (void)sub;
    natsStatus s = natsConnection_Publish(nc, natsMsg_GetReply(m), natsMsg_GetData(m),
                                          natsMsg_GetDataLength(m));
    if (s != NATS_OK)
        fail(closure, "responder: %s", natsStatus_GetText(s));
    natsMsg_Destroy(m);
}

static void rr_loop(natsConnection *nc, const struct params *p, struct result *r,
                    unsigned char *buf, uint32_t *seq, uint64_t n, int record)
{
    for (uint64_t i = 0; i < n && !r->failed; i++) {
        natsMsg *reply = NULL;
        uint32_t want = (*seq)++, pub, got;
        uint64_t ts, t0 = now_ns();
        pfx_put(buf, 0, want, t0);
        natsStatus s = natsConnection_Request(&reply, nc, "bench.req", buf, (int)p->size, 5000);
        uint64_t t1 = now_ns();
        if (s != NATS_OK) {
            fail(r, "request %u: %s", want, natsStatus_GetText(s));
            break;
        }
        pfx_get((const unsigned char *)natsMsg_GetData(reply), &pub, &got, &ts);
        if ((size_t)natsMsg_GetDataLength(reply) != p->size || got != want)
            fail(r, "reply %u does not match request %u", got, want);
        natsMsg_Destroy(reply);
        if (record)
            hist_add(&r->lat, t1 - t0);
    }
}

void nats_reqrep(const struct params *p, struct result *r)
{
    natsConnection *rsp = NULL, *req = NULL;
    natsSubscription *sub = NULL;
    unsigned char *buf = calloc(1, p->size);
    uint32_t seq = 0;
    if (!buf || nats_Open(-1) != NATS_OK) {
        fail(r, "setup failed");
        free(buf);
        return;
    }
    if ((rsp = nconnect(p, r, true)) && (req = nconnect(p, r, true))) {
        natsStatus s = natsConnection_Subscribe(&sub, rsp, "bench.req", on_request, r);
        if (s == NATS_OK)
            s = natsConnection_FlushTimeout(rsp, 5000);
        if (s != NATS_OK)
            fail(r, "subscribe: %s", natsStatus_GetText(s));
        uint64_t warm = p->count / 10 < 100 ? 100 : p->count / 10;
        rr_loop(req, p, r, buf, &seq, warm, 0);
        window_begin(p, r);
        uint64_t t0 = now_ns();
        rr_loop(req, p, r, buf, &seq, p->count, 1);
        r->elapsed = (double)(now_ns() - t0) / 1e9;
        window_end(p, r);
        r->published = r->delivered = r->lat.count;
    }
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(req);
    natsConnection_Destroy(rsp);
    free(buf);
    nats_Close();
}

/* ---- one-way at a fixed rate ---- */

struct ow {
    struct result *r;
    const struct params *p;
    uint32_t expect;
    uint64_t record_from; /* sequence from which latencies count (after warm-up) */
    _Atomic uint64_t got;
};

static void on_oneway(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    (void)nc;
    (void)sub;
    struct ow *o = closure;
    uint64_t now = now_ns(), ts;
    uint32_t pub, seq;
    pfx_get((const unsigned char *)natsMsg_GetData(m), &pub, &seq, &ts);
    if ((size_t)natsMsg_GetDataLength(m) != o->p->size || seq != o->expect)
        fail(o->r, "one-way: sequence %u, expected %u", seq, o->expect);
    o->expect = seq + 1;
    if (seq >= o->record_from)
        hist_add(&o->r->lat, now > ts ? now - ts : 0);
    natsMsg_Destroy(m);
    atomic_fetch_add_explicit(&o->got, 1, memory_order_release);
}

/* Publishes n messages, message k due at t0 + k/rate and stamped so. */
static void ow_publish(natsConnection *nc, struct ow *o, unsigned char *buf, uint32_t *seq,
                       uint64_t n)
{
    uint64_t interval = (uint64_t)(1e9 / o->p->rate), t0 = now_ns();
    for (uint64_t k = 0; k < n && !o->r->failed; k++) {
        uint64_t due = t0 + k * interval;
        struct timespec ts = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        pfx_put(buf, 0, (*seq)++, due);
        natsStatus s = natsConnection_Publish(nc, "bench.lat", buf, (int)o->p->size);
        if (s != NATS_OK)
            fail(o->r, "publish: %s", natsStatus_GetText(s));
    }
}

void nats_oneway(const struct params *p, struct result *r)
{
    uint64_t run_deadline = now_ns() + (uint64_t)(p->timeout * 1e9);
    struct ow o = {.r = r, .p = p};
    natsConnection *pub = NULL, *subc = NULL;
    natsSubscription *sub = NULL;
    unsigned char *buf = calloc(1, p->size);
    uint32_t seq = 0;
    uint64_t warm = (uint64_t)(p->rate * p->warmup);
    o.record_from = warm;
    if (!buf || nats_Open(-1) != NATS_OK) {
        fail(r, "setup failed");
        free(buf);
        return;
    }
    if ((subc = nconnect(p, r, true)) && (pub = nconnect(p, r, true))) {
        natsStatus s = natsConnection_Subscribe(&sub, subc, "bench.lat", on_oneway, &o);
        if (s == NATS_OK)
            s = natsConnection_FlushTimeout(subc, 5000);
        if (s != NATS_OK)
            fail(r, "subscribe: %s", natsStatus_GetText(s));
        ow_publish(pub, &o, buf, &seq, warm);
        while (!r->failed && atomic_load(&o.got) < warm && now_ns() < run_deadline)
            sleep_ns(100000);
        window_begin(p, r);
        uint64_t t0 = now_ns();
        ow_publish(pub, &o, buf, &seq, p->count);
        while (!r->failed && atomic_load_explicit(&o.got, memory_order_acquire) < warm + p->count) {
            if (now_ns() > run_deadline) {
                fail(r, "time cap reached: %llu of %llu received",
                     (unsigned long long)(atomic_load(&o.got) - warm), (unsigned long long)p->count);
                break;
            }
            sleep_ns(50000);
        }
        r->elapsed = (double)(now_ns() - t0) / 1e9;
        window_end(p, r);
        r->published = r->delivered = atomic_load(&o.got) - warm;
    }
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(pub);
    natsConnection_Destroy(subc);
    free(buf);
    nats_Close();
}
