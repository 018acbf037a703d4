/* raw_lat.c — raw-socket latency: request/reply with one request
 * outstanding, and one-way latency at a fixed publish rate.
 *
 * Both run on one thread with one epoll: the requester and the responder
 * (or the publisher and the subscriber) are two connections of this
 * process, so the clock that stamps and the clock that reads are the same.
 *
 * One-way sends are scheduled: message k is due at t0 + k/rate, and its
 * latency is counted from when it was due, not from when it went out, so a
 * stall (in the server or here) shows up in the percentiles instead of
 * silently lowering the rate ("coordinated omission").
 *
 * Cluster runs (--sub-port): the responder / subscriber dials another node
 * than the requester / publisher, and before the warm-up the requester
 * (publisher) sends probes (publisher index PROBE_PUB, every 5 ms) until
 * one has come back (been received): in request/reply that proves both
 * the request's interest and the inbox's crossed the route. Probes are
 * never counted, also those that arrive late.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bench.h"
#include "rconn.h"

#define LAT_RBUF (64u << 10)
#define HDR_ROOM 192 /* room for "PUB <reply> <size>\r\n" before a reply's payload */

struct lat {
    const struct params *p;
    struct result *r;
    struct rconn a, b;  /* requester/publisher, responder/subscriber */
    int ep;
    char *out;          /* a's message: PUB line, payload, CRLF */
    size_t outlen, hdrlen;
    char *rsp;          /* b's reply: HDR_ROOM, payload, CRLF */
    uint32_t seq;       /* next sequence to send */
    uint32_t expect;    /* next sequence to receive */
    uint64_t t_sent;    /* req/reply: when the outstanding request went out */
    uint64_t got;       /* replies / messages received this phase */
    int record;         /* add latencies to r->lat */
};

static void rr_responder(struct rconn *c);

/* Credentials of the service-import scenario (bench/harness.py's SVC_CONF). */
static const struct dial_opts svc_requester = {.user = "req", .pass = "bench"};
static const struct dial_opts svc_responder = {.user = "rsp", .pass = "bench"};

static int lat_conn(struct lat *L, struct rconn *c, const char *sub, void (*fn)(struct rconn *))
{
    const struct dial_opts *o = !L->p->svc_import ? NULL : c == &L->a ? &svc_requester : &svc_responder;
    int port = c == &L->b ? sub_port(L->p, 0) : L->p->port;
    if (rconn_dial_ex(c, L->p->host, port, LAT_RBUF, o) < 0 ||
        rconn_write_all(c, sub, strlen(sub), 5000) < 0 || rconn_sync(c, 5000) < 0) {
        fail(L->r, "%s", c->err);
        return -1;
    }
    c->ctx = L;
    c->on_msg = fn;
    c->want_reply = fn == rr_responder;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (rconn_set_nonblock(c) < 0 || epoll_ctl(L->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        fail(L->r, "epoll: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int lat_setup(struct lat *L, const char *pub_line, const char *sub_a, const char *sub_b,
                     void (*fa)(struct rconn *), void (*fb)(struct rconn *))
{
    size_t size = L->p->size;
    L->ep = epoll_create1(EPOLL_CLOEXEC);
    L->hdrlen = strlen(pub_line);
    L->outlen = L->hdrlen + size + 2;
    L->out = malloc(L->outlen);
    L->rsp = malloc(HDR_ROOM + size + 2);
    if (L->ep < 0 || !L->out || !L->rsp) {
        fail(L->r, "setup: %s", strerror(errno));
        return -1;
    }
    memcpy(L->out, pub_line, L->hdrlen);
    memset(L->out + L->hdrlen, 'x', size);
    memcpy(L->out + L->hdrlen + size, "\r\n", 2);
    memset(L->rsp + HDR_ROOM, 'y', size);
    memcpy(L->rsp + HDR_ROOM + size, "\r\n", 2);
    if (lat_conn(L, &L->b, sub_b, fb) < 0 || lat_conn(L, &L->a, sub_a, fa) < 0)
        return -1;
    return 0;
}

static void lat_teardown(struct lat *L)
{
    rconn_close(&L->a);
    rconn_close(&L->b);
    if (L->ep >= 0)
        close(L->ep);
    free(L->out);
    free(L->rsp);
}

/* Sends message seq from a, stamped with t (ns). */
static int send_out(struct lat *L, uint64_t t)
{
    pfx_put((unsigned char *)L->out + L->hdrlen, 0, L->seq++, t);
    if (rconn_write_all(&L->a, L->out, L->outlen, 5000) < 0) {
        fail(L->r, "publisher: %s", L->a.err);
        return -1;
    }
    return 0;
}

/* Checks size and order of a message received on c; returns its stamp.
 * 0: a message of the run; 1: a probe (ignore it); -1: failed. */
static int check_in(struct lat *L, struct rconn *c, uint64_t *t)
{
    uint32_t pub, seq;
    if (c->plen != L->p->size) {
        fail(L->r, "received %zu bytes, expected %zu", c->plen, L->p->size);
        return -1;
    }
    pfx_get(c->pfx, &pub, &seq, t);
    if (pub == PROBE_PUB && L->p->nsub_ports) {
        L->r->probes++;
        return 1;
    }
    if (seq != L->expect) {
        fail(L->r, "received sequence %u, expected %u: %s", seq, L->expect,
             seq < L->expect ? "duplicate or reordered" : "lost messages");
        return -1;
    }
    L->expect++;
    return 0;
}

/* Reads whatever is ready until cond_met() or the deadline. */
static void lat_pump(struct lat *L, int timeout_ns, uint64_t deadline)
{
    struct epoll_event ev[4];
    struct timespec ts = {timeout_ns / 1000000000, timeout_ns % 1000000000};
    int n = epoll_pwait2(L->ep, ev, 4, &ts, NULL);
    for (int i = 0; i < n && !L->r->failed; i++) {
        struct rconn *c = ev[i].data.ptr;
        if (rconn_read(c, NULL) < 0 || c->failed)
            fail(L->r, "%s", c->err);
        if (c->pong_owed) {
            c->pong_owed = 0;
            rconn_write_all(c, "PONG\r\n", 6, 5000);
        }
    }
    if (now_ns() > deadline)
        fail(L->r, "time cap reached after %llu of the messages", (unsigned long long)L->got);
}

/* Cluster runs: probes until one came back (see the top of the file). */
static int lat_barrier(struct lat *L, uint64_t deadline)
{
    uint64_t t0 = now_ns(), end = t0 + 10000000000ull;
    uint32_t n = 0;
    while (!L->r->probes && !L->r->failed) {
        if (now_ns() > end) {
            fail(L->r, "interest barrier: no probe came back within 10 s (%u sent): the interest "
                 "never crossed the route", n);
            return -1;
        }
        pfx_put((unsigned char *)L->out + L->hdrlen, PROBE_PUB, n++, 0);
        if (rconn_write_all(&L->a, L->out, L->outlen, 5000) < 0) {
            fail(L->r, "probing: %s", L->a.err);
            return -1;
        }
        uint64_t until = now_ns() + 5000000u;
        for (uint64_t t; !L->r->probes && !L->r->failed && (t = now_ns()) < until;)
            lat_pump(L, (int)(until - t), deadline);
    }
    L->r->barrier_s = (double)(now_ns() - t0) / 1e9;
    return L->r->failed ? -1 : 0;
}

/* ---- request/reply ---- */

static void rr_responder(struct rconn *c)
{
    struct lat *L = c->ctx;
    if (!c->reply_len) {
        fail(L->r, "request without a reply subject");
        return;
    }
    /* The reply is the request's size; only its prefix is copied. */
    char hdr[HDR_ROOM];
    int n = snprintf(hdr, sizeof hdr, "PUB %s %zu\r\n", c->reply, c->plen);
    char *start = L->rsp + HDR_ROOM - n;
    memcpy(start, hdr, (size_t)n);
    memcpy(L->rsp + HDR_ROOM, c->pfx, c->pfx_have);
    if (c->plen != L->p->size || rconn_write_all(c, start, (size_t)n + c->plen + 2, 5000) < 0)
        fail(L->r, "responder: %s", c->failed ? c->err : "request of the wrong size");
}

static void rr_requester(struct rconn *c)
{
    struct lat *L = c->ctx;
    uint64_t t;
    if (check_in(L, c, &t) != 0)
        return;
    uint64_t now = now_ns();
    if (L->record)
        hist_add(&L->r->lat, now - L->t_sent);
    L->got++;
}

static void rr_phase(struct lat *L, uint64_t n, int record, uint64_t deadline)
{
    L->record = record;
    L->got = 0;
    while (L->got < n && !L->r->failed) {
        uint64_t want = L->got + 1;
        L->t_sent = now_ns();
        if (send_out(L, L->t_sent) < 0)
            return;
        while (L->got < want && !L->r->failed)
            lat_pump(L, 100000000, deadline);
    }
}

/* --storm R: STORM_THREADS threads that log in as user "storm" (a bcrypt
 * password in the scenario's configuration) R times a second between them
 * and leave again, while the requests run: what a CONNECT storm costs the
 * other clients. A login the server could not check in time (its CPU is
 * one core: bcrypt at cost 10 takes tens of ms) is counted, not a failure. */
#define STORM_THREADS 4

struct storm {
    const struct params *p;
    struct result *r;
    atomic_int stop, counting;
    atomic_ulong logins, refused;
};

static void *storm_run(void *arg)
{
    struct storm *st = arg;
    static const struct dial_opts creds = {.user = "storm", .pass = "bench"};
    uint64_t period = (uint64_t)(1e9 * STORM_THREADS / st->p->storm), next = now_ns();
    while (!atomic_load(&st->stop)) {
        uint64_t t = now_ns();
        if (t < next) {
            struct timespec ts = {(time_t)((next - t) / 1000000000u), (long)((next - t) % 1000000000u)};
            nanosleep(&ts, NULL);
            continue;
        }
        next += period;
        struct rconn c;
        int ok = rconn_dial_ex(&c, st->p->host, st->p->port, 4096, &creds) == 0 && rconn_sync(&c, 10000) == 0;
        if (atomic_load(&st->counting))
            atomic_fetch_add(ok ? &st->logins : &st->refused, 1);
        rconn_close(&c);
    }
    return NULL;
}

void raw_reqrep(const struct params *p, struct result *r)
{
    struct storm st = {.p = p, .r = r};
    pthread_t storm_t[STORM_THREADS];
    int storming = 0;
    while (p->storm > 0 && storming < STORM_THREADS && pthread_create(&storm_t[storming], NULL, storm_run, &st) == 0)
        storming++;
    uint64_t deadline = now_ns() + (uint64_t)(p->timeout * 1e9);
    struct lat L = {.p = p, .r = r, .ep = -1};
    char line[96];
    snprintf(line, sizeof line, "PUB bench.req _INBOX.bench.1 %zu\r\n", p->size);
    /* through a service import, the responder (account SVC) subscribes to the
     * exported subject; the requester (APP) publishes on its import's */
    const char *rsub = p->svc_import ? "SUB svc.req 1\r\n" : "SUB bench.req 1\r\n";
    if (lat_setup(&L, line, "SUB _INBOX.bench.1 1\r\n", rsub, rr_requester, rr_responder) == 0 &&
        (!p->nsub_ports || lat_barrier(&L, deadline) == 0)) {
        uint64_t warm = p->count / 10 < 100 ? 100 : p->count / 10;
        rr_phase(&L, warm, 0, deadline);
        window_begin(p, r);
        atomic_store(&st.counting, 1);
        uint64_t t0 = now_ns();
        rr_phase(&L, p->count, 1, deadline);
        r->elapsed = (double)(now_ns() - t0) / 1e9;
        atomic_store(&st.counting, 0);
        window_end(p, r);
        r->published = r->delivered = L.got;
    }
    atomic_store(&st.stop, 1);
    for (int i = 0; i < storming; i++)
        pthread_join(storm_t[i], NULL);
    r->storm_logins = atomic_load(&st.logins);
    r->storm_refused = atomic_load(&st.refused);
    lat_teardown(&L);
}

/* ---- one-way at a fixed rate ---- */

static void ow_subscriber(struct rconn *c)
{
    struct lat *L = c->ctx;
    uint64_t t;
    if (check_in(L, c, &t) != 0)
        return;
    uint64_t now = now_ns();
    if (L->record)
        hist_add(&L->r->lat, now > t ? now - t : 0);
    L->got++;
}

static void ow_phase(struct lat *L, uint64_t n, int record, uint64_t deadline)
{
    L->record = record;
    L->got = 0;
    uint64_t interval = (uint64_t)(1e9 / L->p->rate);
    uint64_t t0 = now_ns(), k = 0;
    while (L->got < n && !L->r->failed) {
        uint64_t now = now_ns();
        while (k < n && t0 + k * interval <= now) {
            if (send_out(L, t0 + k * interval) < 0) /* stamped with when it was due */
                return;
            k++;
        }
        uint64_t due = t0 + k * interval;
        int wait = k < n ? (int)(due > now ? due - now : 0) : 10000000;
        lat_pump(L, wait, deadline);
    }
}

void raw_oneway(const struct params *p, struct result *r)
{
    uint64_t deadline = now_ns() + (uint64_t)(p->timeout * 1e9);
    /* Default timer slack (50 µs) would make every send late by up to that. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    struct lat L = {.p = p, .r = r, .ep = -1};
    char line[64];
    snprintf(line, sizeof line, "PUB bench.lat %zu\r\n", p->size);
    if (lat_setup(&L, line, "", "SUB bench.lat 1\r\n", NULL, ow_subscriber) == 0 &&
        (!p->nsub_ports || lat_barrier(&L, deadline) == 0)) {
        uint64_t warm = (uint64_t)(p->rate * p->warmup);
        if (warm)
            ow_phase(&L, warm, 0, deadline);
        window_begin(p, r);
        uint64_t t0 = now_ns();
        ow_phase(&L, p->count, 1, deadline);
        r->elapsed = (double)(now_ns() - t0) / 1e9;
        window_end(p, r);
        r->published = r->delivered = L.got;
    }
    lat_teardown(&L);
}
