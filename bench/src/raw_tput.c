/* raw_tput.c — raw-socket throughput: publish-only, 1:1 pairs, fan-out 1:N,
 * queue group of N.
 *
 * Publishers write pre-built blocks of PUB lines (256 KiB) so that a write()
 * carries thousands of small messages; only the 16-byte prefix of each
 * message (publisher, sequence) is stamped before a block goes out.
 * Subscribers parse with rconn's streaming parser and check every message:
 * size, publisher, and a sequence with no gap, duplicate or reordering.
 *
 * Flow control: publishers stop while more than flow_window() messages per
 * subscriber are in flight (published, not yet received). In 1:1 pairs
 * (pubsub) each pair has a window of its own: with one shared window the
 * publisher that steps first in a turn took all the room, and 3 pairs ran
 * as one pair plus two that trickled (89% / 8% / 1% of the messages). Without it a
 * server that reads faster than it can write would pile messages up until
 * it cut the subscriber off as slow, and the run would measure buffering.
 *
 * Stalled subscribers (--stalled N, fan-out only): N more connections with a
 * small SO_RCVBUF subscribe to the fan-out subject just before the timed
 * phase and never read again. They are outside the accounting: the server
 * is expected to cut them off as slow consumers, and only the fast
 * subscribers' deliveries are counted (each must still get every message).
 * After the run each is drained to learn whether it was cut (EOF) or kept.
 *
 * Inbox churn (--churn R): one more connection, on a thread of its own,
 * sends R SUB+UNSUB pairs a second on unique _INBOX.<random> subjects (each
 * inbox lives CHURN_LIVE pairs, ~16 ms at 1,000/s, as a request's would),
 * beside the traffic, for the warm-up and the timed phase alike; it must
 * receive nothing, and still answer a PING at the end.
 *
 * Cluster runs (--sub-port): subscribers dial other nodes than the
 * publishers, and an interest barrier runs before the warm-up: each
 * publisher sends probes (publisher index PROBE_PUB) on its own subject
 * until every subscriber has had one, since a subscription made on one node
 * reaches the others over the route only some time after that node
 * answered the subscriber's PING. Probes are left out of every count and
 * check, also those that arrive late (they still come before the first
 * real message: same publisher, same subject, same path).
 *
 * Threads: params.threads event loops (epoll, edge-triggered), each owning
 * the connections i with i % threads == its number. Shared: the atomics in
 * struct tput. The loop that sees the last delivery ends the window.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "rconn.h"

#define CHUNK_BYTES (256u << 10)
#define SUB_RBUF (256u << 10)
#define PUB_RBUF (4u << 10)
#define MAX_THREADS 16
#define STALLED_RCVBUF 4096 /* the kernel doubles it: a few KiB of window */
#define STALLED_SID 1000
#define CHURN_LIVE 16       /* inboxes subscribed at once */
#define CHURN_BATCH 64      /* most pairs in one write when the thread was late */

struct pubc {
    struct rconn c;
    const unsigned char *bodies; /* --payload json: nbodies distinct bodies of size - PFX_LEN bytes */
    size_t nbodies;
    char *chunk;        /* per_chunk PUBs, identical but for their prefixes */
    size_t msglen;      /* bytes of one PUB: line, payload, CRLF */
    size_t hdrlen;      /* bytes of the PUB line */
    size_t per_chunk;
    size_t woff, wend;  /* write progress through the current block */
    uint32_t seq;       /* next sequence number to stamp */
    uint64_t sent;      /* messages stamped in this phase */
    uint64_t ping_pongs;/* pongs count that answers this phase's final PING */
    int writable;       /* no EAGAIN since the last EPOLLOUT */
    int finished;       /* stopped publishing, final PING sent */
    int ponged;         /* final PONG received */
};

struct subc {
    struct rconn c;
    uint32_t next_seq[MAX_CONNS_PER_SIDE]; /* per publisher: the sequence expected next */
    uint64_t reported;  /* c.msgs already added to tput.delivered */
    uint64_t base;      /* sub_msgs() when the measured phase began */
    uint64_t probes;    /* interest probes received (not messages of the run) */
    _Atomic uint64_t got; /* sub_msgs() as its loop last reported it: its pair's window (pubsub) */
    struct tput *tp;
};

struct churn {
    struct rconn c;
    const struct params *p;
    struct result *r;
    pthread_t th;
    int started;
    _Atomic int stop;
    _Atomic uint64_t pairs; /* SUB+UNSUB pairs written so far */
    uint64_t subs;          /* SUBs written (sids 1..subs); the thread's own until joined */
    uint64_t rng;
};

struct tput {
    const struct params *p;
    struct result *r;
    int npub, nsub, nthr;
    int fan;                /* deliveries per published message */
    int strict;             /* sequences must be consecutive (not queue groups) */
    uint64_t limit;         /* deliveries in flight before publishers wait */
    uint64_t min_batch;     /* do not wake a publisher for fewer messages */
    uint64_t pair_limit, pair_min_batch; /* the same for one pair (pubsub) */
    struct pubc pub[MAX_CONNS_PER_SIDE];
    struct subc sub[MAX_CONNS_PER_SIDE];
    struct rconn stalled[MAX_CONNS_PER_SIDE]; /* subscribe, then never read */
    int nstalled;
    struct churn churn;
    int ep[MAX_THREADS];    /* one epoll per loop thread */
    /* per phase */
    _Atomic uint64_t sent;      /* stamped by all publishers */
    _Atomic uint64_t delivered; /* received by all subscribers */
    _Atomic int pubs_finished, pubs_ponged, done;
    uint64_t sent0, delivered0; /* counters when the phase began */
    uint64_t t_start, deadline, hard_deadline, max_msgs;
    int measured;
    pthread_barrier_t go;
};

/* Messages of the run a subscriber received: all but the probes. */
static inline uint64_t sub_msgs(const struct subc *s)
{
    return s->c.msgs - s->probes;
}

/* epoll data: which connection (publishers first, then subscribers). */
#define REF_SUB 0x10000u

static void sub_msg(struct rconn *c)
{
    struct subc *s = c->ctx;
    struct tput *tp = s->tp;
    uint32_t pub, seq;
    uint64_t ts;
    if (c->plen != tp->p->size) {
        fail(tp->r, "subscriber %d: payload of %zu bytes, expected %zu", c->idx, c->plen,
             tp->p->size);
        return;
    }
    pfx_get(c->pfx, &pub, &seq, &ts);
    if (pub == PROBE_PUB && tp->p->nsub_ports) {
        s->probes++;
        return;
    }
    if (pub >= (uint32_t)tp->npub || (tp->p->scen == SC_PUBSUB && pub != (uint32_t)c->idx)) {
        fail(tp->r, "subscriber %d: message from publisher %u, not one of its own", c->idx, pub);
        return;
    }
    if (tp->strict ? seq != s->next_seq[pub] : seq < s->next_seq[pub]) {
        fail(tp->r, "subscriber %d: publisher %u sequence %u after %u: %s", c->idx, pub, seq,
             s->next_seq[pub] - 1u, seq < s->next_seq[pub] ? "duplicate or reordered" : "lost messages");
        return;
    }
    s->next_seq[pub] = seq + 1;
}

/* --acct-users: connection i (publisher or subscriber) logs in as
 * u<i % N>, so that publisher i and subscriber i share an account. */
static const struct dial_opts *acct_creds(const struct params *p, int i, struct dial_opts *o, char *user)
{
    if (!p->acct_users)
        return NULL;
    snprintf(user, 16, "u%d", i % p->acct_users);
    *o = (struct dial_opts){.user = user, .pass = "bench"};
    return o;
}

/* --payload json: distinct bodies, cycled through by sequence number, so
 * that no body repeats within 1 MiB of one publisher's stream (the S2
 * writer's block: a compressor sees what a real stream of events would
 * give it, not a few bodies over and over). Filled once, before the run. */
#define JSON_STREAM (2u << 20)
static int json_bodies(struct pubc *pc, size_t size, int pub)
{
    size_t blen = size - PFX_LEN;
    pc->nbodies = JSON_STREAM / size < 64 ? 64 : JSON_STREAM / size;
    unsigned char *b = malloc(pc->nbodies * blen);
    if (!b)
        return -1;
    for (size_t k = 0; k < pc->nbodies; k++)
        json_fill(b + k * blen, blen, ((uint64_t)pub << 32) + k);
    pc->bodies = b;
    return 0;
}

static int pub_init(struct tput *tp, int i)
{
    const struct params *p = tp->p;
    struct pubc *pc = &tp->pub[i];
    struct dial_opts o;
    char user[16];
    if (rconn_dial_ex(&pc->c, p->host, p->port, PUB_RBUF, acct_creds(p, i, &o, user)) < 0 ||
        rconn_sync(&pc->c, 5000) < 0) {
        fail(tp->r, "publisher %d: %s", i, pc->c.err);
        return -1;
    }
    pc->c.idx = i;
    char hdr[64];
    int subj = p->scen == SC_PUBSUB ? i : 0;
    pc->hdrlen = (size_t)snprintf(hdr, sizeof hdr, "PUB bench.%d %zu\r\n", subj, p->size);
    pc->msglen = pc->hdrlen + p->size + 2;
    pc->per_chunk = CHUNK_BYTES / pc->msglen ? CHUNK_BYTES / pc->msglen : 1;
    pc->chunk = malloc(pc->per_chunk * pc->msglen);
    if (!pc->chunk || (p->payload_json && json_bodies(pc, p->size, i) < 0)) {
        fail(tp->r, "out of memory");
        return -1;
    }
    for (size_t m = 0; m < pc->per_chunk; m++) {
        char *d = pc->chunk + m * pc->msglen;
        memcpy(d, hdr, pc->hdrlen);
        memset(d + pc->hdrlen, 'x', p->size);
        if (pc->bodies)
            memcpy(d + pc->hdrlen + PFX_LEN, pc->bodies + (m % pc->nbodies) * (p->size - PFX_LEN),
                   p->size - PFX_LEN);
        memcpy(d + pc->hdrlen + p->size, "\r\n", 2);
    }
    return 0;
}

static int sub_init(struct tput *tp, int i)
{
    const struct params *p = tp->p;
    struct subc *s = &tp->sub[i];
    struct dial_opts o;
    char user[16];
    if (rconn_dial_ex(&s->c, p->host, sub_port(p, i), SUB_RBUF, acct_creds(p, i, &o, user)) < 0) {
        fail(tp->r, "subscriber %d: %s", i, s->c.err);
        return -1;
    }
    s->tp = tp;
    s->c.ctx = s;
    s->c.idx = i;
    s->c.on_msg = sub_msg;
    char line[96];
    int subj = p->scen == SC_PUBSUB ? i : 0;
    int n = p->scen == SC_QUEUE ? snprintf(line, sizeof line, "SUB bench.%d q %d\r\n", subj, i + 1)
                                : snprintf(line, sizeof line, "SUB bench.%d %d\r\n", subj, i + 1);
    /* The PONG proves the SUB was processed: no message can be missed
     * because a subscription was not in place yet. */
    if (rconn_write_all(&s->c, line, (size_t)n, 5000) < 0 || rconn_sync(&s->c, 5000) < 0) {
        fail(tp->r, "subscriber %d: %s", i, s->c.err);
        return -1;
    }
    return 0;
}

/* Starts the next block: how many messages the window and the phase allow. */
static int pub_next_block(struct tput *tp, struct pubc *pc)
{
    uint64_t k = pc->per_chunk;
    if (tp->max_msgs && tp->max_msgs - pc->sent < k)
        k = tp->max_msgs - pc->sent;
    if (tp->fan && tp->p->scen == SC_PUBSUB) { /* this pair's own window */
        uint64_t got = atomic_load_explicit(&tp->sub[pc->c.idx].got, memory_order_relaxed);
        uint64_t inflight = pc->seq - got;
        uint64_t room = inflight >= tp->pair_limit ? 0 : tp->pair_limit - inflight;
        if (room < k && room < tp->pair_min_batch)
            return 0;
        if (room < k)
            k = room;
    } else if (tp->fan) {
        uint64_t sent = atomic_load_explicit(&tp->sent, memory_order_relaxed);
        uint64_t dlv = atomic_load_explicit(&tp->delivered, memory_order_relaxed);
        uint64_t inflight = sent * (uint64_t)tp->fan - dlv;
        uint64_t room = inflight >= tp->limit ? 0 : (tp->limit - inflight) / (uint64_t)tp->fan;
        if (room < k && room < tp->min_batch)
            return 0; /* throttled: wait for subscribers */
        if (room < k)
            k = room;
    }
    size_t blen = tp->p->size - PFX_LEN;
    for (uint64_t m = 0; m < k; m++) {
        unsigned char *d = (unsigned char *)pc->chunk + m * pc->msglen + pc->hdrlen;
        if (pc->bodies) /* the body that goes with this sequence number */
            memcpy(d + PFX_LEN, pc->bodies + (pc->seq % pc->nbodies) * blen, blen);
        pfx_put(d, (uint32_t)pc->c.idx, pc->seq++, 0);
    }
    pc->woff = 0;
    pc->wend = k * pc->msglen;
    pc->sent += k;
    atomic_fetch_add_explicit(&tp->sent, k, memory_order_relaxed);
    return 1;
}

static void pub_finish(struct tput *tp, struct pubc *pc)
{
    pc->finished = 1;
    pc->ping_pongs = pc->c.pongs + 1;
    /* The PONG comes after every PUB before it was processed. */
    if (rconn_write_all(&pc->c, "PING\r\n", 6, 5000) < 0)
        fail(tp->r, "publisher %d: %s", pc->c.idx, pc->c.err);
    atomic_fetch_add(&tp->pubs_finished, 1);
}

/* Writes as much as the socket, the window and the phase allow. Returns 1
 * when throttled by the window. */
static int pub_step(struct tput *tp, struct pubc *pc)
{
    while (!pc->finished && pc->writable) {
        if (pc->woff == pc->wend) {
            if (pc->c.pong_owed) {
                pc->c.pong_owed = 0;
                rconn_write_all(&pc->c, "PONG\r\n", 6, 5000);
            }
            if (now_ns() >= tp->deadline || (tp->max_msgs && pc->sent >= tp->max_msgs)) {
                pub_finish(tp, pc);
                break;
            }
            if (!pub_next_block(tp, pc))
                return 1;
        }
        ssize_t w = send(pc->c.fd, pc->chunk + pc->woff, pc->wend - pc->woff, MSG_NOSIGNAL);
        if (w > 0) {
            pc->woff += (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            pc->writable = 0;
        } else if (!(w < 0 && errno == EINTR)) {
            int e = w < 0 ? errno : EPIPE;
            /* The server may have said why before it closed: read it. */
            rconn_read(&pc->c, NULL);
            if (pc->c.failed && strncmp(pc->c.err, "server said", 11) == 0)
                fail(tp->r, "publisher %d: %s", pc->c.idx, pc->c.err);
            fail(tp->r, "publisher %d: write: %s", pc->c.idx, strerror(e));
            atomic_store(&tp->done, 1);
            return 0;
        }
    }
    return 0;
}

/* Reads one block from connection ref; returns 1 when more may be waiting. */
static int conn_read(struct tput *tp, uint32_t ref)
{
    int full = 0;
    if (ref & REF_SUB) {
        struct subc *s = &tp->sub[ref & 0xffff];
        if (rconn_read(&s->c, &full) < 0 || s->c.failed)
            fail(tp->r, "subscriber %d: %s", s->c.idx, s->c.err);
        uint64_t n = sub_msgs(s) - s->reported;
        s->reported = sub_msgs(s);
        if (n) {
            atomic_fetch_add_explicit(&tp->delivered, n, memory_order_relaxed);
            atomic_store_explicit(&s->got, s->reported, memory_order_relaxed);
        }
        if (s->c.pong_owed) {
            s->c.pong_owed = 0;
            rconn_write_all(&s->c, "PONG\r\n", 6, 5000);
        }
    } else {
        struct pubc *pc = &tp->pub[ref];
        if (rconn_read(&pc->c, &full) < 0 || pc->c.failed)
            fail(tp->r, "publisher %d: %s", pc->c.idx, pc->c.err);
        if (pc->finished && !pc->ponged && pc->c.pongs >= pc->ping_pongs) {
            pc->ponged = 1;
            atomic_fetch_add(&tp->pubs_ponged, 1);
        }
    }
    return full;
}

/* The phase is over when every publisher stopped and was answered, and
 * every delivery owed for what they published has arrived. */
static void check_done(struct tput *tp)
{
    if (tp->r->failed) {
        atomic_store(&tp->done, 1);
        return;
    }
    if (atomic_load(&tp->pubs_ponged) == tp->npub) {
        uint64_t owed = (atomic_load(&tp->sent) - tp->sent0) * (uint64_t)tp->fan;
        if (atomic_load(&tp->delivered) - tp->delivered0 >= owed) {
            int zero = 0;
            if (atomic_compare_exchange_strong(&tp->done, &zero, 1) && tp->measured) {
                tp->r->elapsed = (double)(now_ns() - tp->t_start) / 1e9;
                window_end(tp->p, tp->r);
            }
            return;
        }
    }
    if (now_ns() > tp->hard_deadline) {
        fail(tp->r, "time cap reached: %llu of %llu deliveries after publishing %llu",
             (unsigned long long)(atomic_load(&tp->delivered) - tp->delivered0),
             (unsigned long long)((atomic_load(&tp->sent) - tp->sent0) * (uint64_t)tp->fan),
             (unsigned long long)(atomic_load(&tp->sent) - tp->sent0));
        atomic_store(&tp->done, 1);
    }
}

struct loop {
    struct tput *tp;
    int t;
    pthread_t th;
};

static void *loop_run(void *arg)
{
    struct loop *L = arg;
    struct tput *tp = L->tp;
    struct epoll_event ev[64];
    uint32_t again[2 * MAX_CONNS_PER_SIDE];
    int nagain = 0, throttled = 0;
    uint64_t mark[2 * MAX_CONNS_PER_SIDE] = {0}, turn = 0;
    pthread_barrier_wait(&tp->go);
    while (!atomic_load_explicit(&tp->done, memory_order_relaxed)) {
        /* Across threads nothing wakes a throttled publisher: poll for the
         * subscribers' progress at 100 µs. */
        long wait_ns = nagain ? 0 : throttled && tp->nthr > 1 ? 100000 : 2000000;
        struct timespec ts = {0, wait_ns};
        int n = epoll_pwait2(tp->ep[L->t], ev, 64, &ts, NULL);
        uint32_t ready[64 + 2 * MAX_CONNS_PER_SIDE];
        int nready = 0;
        for (int i = 0; i < nagain; i++)
            ready[nready++] = again[i];
        for (int i = 0; i < n; i++) {
            uint32_t ref = (uint32_t)ev[i].data.u32;
            if (!(ref & REF_SUB) && (ev[i].events & (EPOLLOUT | EPOLLERR)))
                tp->pub[ref].writable = 1;
            if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                ready[nready++] = ref;
        }
        /* One read per connection per turn, so that one busy socket cannot
         * starve the others; a full read goes on the again list. */
        turn++;
        nagain = 0;
        for (int i = 0; i < nready; i++) {
            unsigned slot = (ready[i] & REF_SUB) ? MAX_CONNS_PER_SIDE + (ready[i] & 0xffff) : ready[i];
            if (mark[slot] == turn)
                continue;
            mark[slot] = turn;
            if (conn_read(tp, ready[i]))
                again[nagain++] = ready[i];
        }
        throttled = 0;
        for (int i = L->t; i < tp->npub; i += tp->nthr)
            throttled |= pub_step(tp, &tp->pub[i]);
        check_done(tp);
    }
    return NULL;
}

/* One phase: publish for `duration` seconds, then wait for every delivery. */
static void run_phase(struct tput *tp, double duration, int measured, uint64_t run_deadline)
{
    tp->sent0 = atomic_load(&tp->sent);
    tp->delivered0 = atomic_load(&tp->delivered);
    atomic_store(&tp->pubs_finished, 0);
    atomic_store(&tp->pubs_ponged, 0);
    atomic_store(&tp->done, 0);
    tp->measured = measured;
    for (int i = 0; i < tp->npub; i++) {
        struct pubc *pc = &tp->pub[i];
        pc->sent = 0;
        pc->finished = pc->ponged = 0;
        pc->writable = 1;
        pc->woff = pc->wend = 0;
    }
    for (int i = 0; i < tp->nsub; i++)
        tp->sub[i].base = sub_msgs(&tp->sub[i]);
    struct loop L[MAX_THREADS];
    pthread_barrier_init(&tp->go, NULL, (unsigned)tp->nthr + 1);
    for (int t = 0; t < tp->nthr; t++) {
        L[t] = (struct loop){.tp = tp, .t = t};
        pthread_create(&L[t].th, NULL, loop_run, &L[t]);
    }
    if (measured)
        window_begin(tp->p, tp->r);
    tp->t_start = now_ns();
    tp->deadline = tp->t_start + (uint64_t)(duration * 1e9);
    tp->hard_deadline = run_deadline;
    pthread_barrier_wait(&tp->go);
    for (int t = 0; t < tp->nthr; t++)
        pthread_join(L[t].th, NULL);
    pthread_barrier_destroy(&tp->go);
    if (measured) {
        tp->r->published = atomic_load(&tp->sent) - tp->sent0;
        tp->r->delivered = atomic_load(&tp->delivered) - tp->delivered0;
    }
}

static int setup(struct tput *tp)
{
    for (int i = 0; i < tp->nsub; i++)
        if (sub_init(tp, i) < 0)
            return -1;
    for (int i = 0; i < tp->npub; i++)
        if (pub_init(tp, i) < 0)
            return -1;
    for (int t = 0; t < tp->nthr; t++)
        if ((tp->ep[t] = epoll_create1(EPOLL_CLOEXEC)) < 0)
            return fail(tp->r, "epoll_create1: %s", strerror(errno)), -1;
    for (int i = 0; i < tp->npub + tp->nsub; i++) {
        int is_sub = i >= tp->npub, k = is_sub ? i - tp->npub : i;
        struct rconn *c = is_sub ? &tp->sub[k].c : &tp->pub[k].c;
        struct epoll_event ev = {
            .events = EPOLLIN | EPOLLET | (is_sub ? 0u : (uint32_t)EPOLLOUT),
            .data.u32 = is_sub ? REF_SUB | (uint32_t)k : (uint32_t)k,
        };
        if (rconn_set_nonblock(c) < 0 || epoll_ctl(tp->ep[k % tp->nthr], EPOLL_CTL_ADD, c->fd, &ev) < 0)
            return fail(tp->r, "epoll_ctl: %s", strerror(errno)), -1;
    }
    return 0;
}

/* After the window: a PING round trip on every subscriber flushes out any
 * message still on its way, then every count must be exact. */
static void verify(struct tput *tp)
{
    uint64_t total = 0;
    for (int i = 0; i < tp->npub; i++)
        total += tp->pub[i].seq;
    uint64_t got = 0, measured = 0;
    for (int i = 0; i < tp->nsub && !tp->r->failed; i++) {
        struct subc *s = &tp->sub[i];
        if (rconn_sync(&s->c, 5000) < 0 || s->c.failed) {
            fail(tp->r, "subscriber %d after the run: %s", i, s->c.err);
            return;
        }
        uint64_t want = tp->p->scen == SC_PUBSUB ? tp->pub[i].seq : total;
        if (tp->p->scen != SC_QUEUE && sub_msgs(s) != want)
            fail(tp->r, "subscriber %d received %llu messages, %llu were published to it", i,
                 (unsigned long long)sub_msgs(s), (unsigned long long)want);
        got += sub_msgs(s);
        tp->r->member[i] = sub_msgs(s) - s->base;
        measured += tp->r->member[i];
    }
    tp->r->nmember = tp->nsub;
    if (tp->r->failed || tp->p->scen != SC_QUEUE)
        return;
    if (got != total) {
        fail(tp->r, "queue group received %llu messages, %llu were published",
             (unsigned long long)got, (unsigned long long)total);
        return;
    }
    /* Each member should get 1/N of the messages, ±10%. */
    double fair = (double)measured / tp->nsub;
    for (int i = 0; i < tp->nsub && measured >= 100u * (uint64_t)tp->nsub; i++)
        if ((double)tp->r->member[i] < 0.9 * fair || (double)tp->r->member[i] > 1.1 * fair)
            fail(tp->r, "queue member %d got %llu of %llu messages: outside %.0f ± 10%%", i,
                 (unsigned long long)tp->r->member[i], (unsigned long long)measured, fair);
}

/* Cluster runs: probes from every publisher, every 5 ms, until every
 * subscriber has had one (see the top of the file). Bounded by 10 s. */
static int interest_barrier(struct tput *tp)
{
    uint64_t t0 = now_ns(), deadline = t0 + 10000000000ull;
    uint32_t n = 0;
    struct pollfd pf[MAX_CONNS_PER_SIDE];
    for (;;) {
        int missing = 0;
        for (int i = 0; i < tp->nsub; i++)
            missing += !tp->sub[i].probes;
        if (!missing)
            break;
        if (now_ns() > deadline) {
            fail(tp->r, "interest barrier: %d of %d subscribers had no probe within 10 s (%u probes sent "
                 "by each publisher): the publishers' node never learnt their interest", missing, tp->nsub, n);
            return -1;
        }
        for (int i = 0; i < tp->npub; i++) {
            struct pubc *pc = &tp->pub[i];
            pfx_put((unsigned char *)pc->chunk + pc->hdrlen, PROBE_PUB, n, 0);
            if (rconn_write_all(&pc->c, pc->chunk, pc->msglen, 5000) < 0) {
                fail(tp->r, "publisher %d, probing: %s", i, pc->c.err);
                return -1;
            }
        }
        n++;
        uint64_t until = now_ns() + 5000000u;
        for (uint64_t t; (t = now_ns()) < until;) {
            for (int i = 0; i < tp->nsub; i++)
                pf[i] = (struct pollfd){.fd = tp->sub[i].c.fd, .events = POLLIN};
            if (poll(pf, (nfds_t)tp->nsub, (int)((until - t) / 1000000u) + 1) <= 0)
                continue;
            for (int i = 0; i < tp->nsub; i++) {
                struct subc *s = &tp->sub[i];
                if (!pf[i].revents)
                    continue;
                while (rconn_read(&s->c, NULL) > 0 && !s->c.failed)
                    ;
                if (s->c.failed || tp->r->failed) {
                    fail(tp->r, "subscriber %d, probing: %s", i, s->c.failed ? s->c.err : tp->r->error);
                    return -1;
                }
                if (s->c.pong_owed) {
                    s->c.pong_owed = 0;
                    rconn_write_all(&s->c, "PONG\r\n", 6, 5000);
                }
            }
        }
    }
    tp->r->barrier_s = (double)(now_ns() - t0) / 1e9;
    return 0;
}

/* Just before the timed phase: subscribers that are answered once (the
 * PONG proves the SUB is in place) and then never read again. */
static int stalled_open(struct tput *tp)
{
    const struct params *p = tp->p;
    const struct dial_opts o = {.rcvbuf = STALLED_RCVBUF};
    for (int i = 0; i < p->stalled; i++) {
        struct rconn *c = &tp->stalled[i];
        char line[64];
        int n = snprintf(line, sizeof line, "SUB bench.0 %d\r\n", STALLED_SID + i);
        tp->nstalled = i + 1;
        if (rconn_dial_ex(c, p->host, p->port, 64u << 10, &o) < 0 ||
            rconn_write_all(c, line, (size_t)n, 5000) < 0 || rconn_sync(c, 5000) < 0) {
            fail(tp->r, "stalled subscriber %d: %s", i, c->err);
            return -1;
        }
    }
    return 0;
}

/* After the run: reads what a stalled subscriber was sent. EOF or a reset
 * means the server cut it off; silence once its backlog is read means it
 * is still connected. Returns 1 when cut. */
static int stalled_drain(struct tput *tp, struct rconn *c)
{
    static char sink[64u << 10];
    uint64_t end = now_ns() + 5000000000ull;
    while (now_ns() < end) {
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        int n = poll(&pf, 1, 500);
        if (n == 0)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        ssize_t k = n < 0 ? -1 : read(c->fd, sink, sizeof sink);
        if (k > 0)
            tp->r->stalled_bytes += (uint64_t)k;
        else if (!(k < 0 && errno == EINTR))
            return 1;
    }
    return 0;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* _INBOX. and 22 random base-62 characters, as a NUID-named inbox. */
static void inbox_name(struct churn *ch, char *dst)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    memcpy(dst, "_INBOX.", 7);
    uint64_t a = splitmix(&ch->rng), b = splitmix(&ch->rng);
    for (int i = 0; i < 22; i++) {
        uint64_t *w = i < 11 ? &a : &b;
        dst[7 + i] = b62[*w % 62];
        *w /= 62;
    }
    dst[29] = 0;
}

/* The churn connection's thread: pairs on a fixed schedule (late pairs go
 * out together, up to CHURN_BATCH a write), reading whatever comes back. */
static void *churn_run(void *arg)
{
    struct churn *ch = arg;
    uint64_t period = (uint64_t)(1e9 / ch->p->churn), t0 = now_ns(), sent = 0;
    char buf[CHURN_BATCH * 96], subj[32];
    while (!atomic_load(&ch->stop) && !ch->r->failed) {
        uint64_t due = (now_ns() - t0) / period + 1;
        size_t len = 0;
        for (; sent < due && len + 96 <= sizeof buf; sent++) {
            uint32_t sid = (uint32_t)sent + 1;
            if (sent >= CHURN_LIVE)
                len += (size_t)snprintf(buf + len, sizeof buf - len, "UNSUB %u\r\n", sid - CHURN_LIVE);
            inbox_name(ch, subj);
            len += (size_t)snprintf(buf + len, sizeof buf - len, "SUB %s %u\r\n", subj, sid);
        }
        if (len && rconn_write_all(&ch->c, buf, len, 5000) < 0) {
            fail(ch->r, "churn connection: %s", ch->c.err);
            break;
        }
        ch->subs = sent;
        atomic_store(&ch->pairs, sent > CHURN_LIVE ? sent - CHURN_LIVE : 0);
        if (rconn_read(&ch->c, NULL) < 0 || ch->c.failed || ch->c.msgs) {
            fail(ch->r, "churn connection: %s", ch->c.msgs ? "received a message" : ch->c.err);
            break;
        }
        if (ch->c.pong_owed) {
            ch->c.pong_owed = 0;
            rconn_write_all(&ch->c, "PONG\r\n", 6, 5000);
        }
        uint64_t next = t0 + sent * period;
        struct timespec ts = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
        if (next > now_ns())
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    return NULL;
}

static int churn_start(struct tput *tp)
{
    struct churn *ch = &tp->churn;
    ch->p = tp->p;
    ch->r = tp->r;
    ch->rng = now_ns() ^ ((uint64_t)getpid() << 32);
    if (rconn_dial(&ch->c, tp->p->host, tp->p->port, 16u << 10) < 0 || rconn_sync(&ch->c, 5000) < 0 ||
        rconn_set_nonblock(&ch->c) < 0) {
        fail(tp->r, "churn connection: %s", ch->c.err);
        return -1;
    }
    if (pthread_create(&ch->th, NULL, churn_run, ch) != 0) {
        fail(tp->r, "churn thread: %s", strerror(errno));
        return -1;
    }
    ch->started = 1;
    return 0;
}

/* Stops the churn, unsubscribes what is left, and checks the connection
 * still answers. */
static void churn_stop(struct tput *tp)
{
    struct churn *ch = &tp->churn;
    if (!ch->started)
        return;
    atomic_store(&ch->stop, 1);
    pthread_join(ch->th, NULL);
    ch->started = 0;
    if (tp->r->failed)
        return;
    uint64_t n = ch->subs, first = n > CHURN_LIVE ? n - CHURN_LIVE : 0;
    char line[32];
    for (uint64_t sid = first + 1; sid <= n && !tp->r->failed; sid++) {
        int k = snprintf(line, sizeof line, "UNSUB %llu\r\n", (unsigned long long)sid);
        if (rconn_write_all(&ch->c, line, (size_t)k, 5000) < 0)
            fail(tp->r, "churn connection: %s", ch->c.err);
    }
    if (!tp->r->failed && (rconn_sync(&ch->c, 5000) < 0 || ch->c.msgs))
        fail(tp->r, "churn connection after the run: %s",
             ch->c.msgs ? "received a message" : ch->c.err);
}

static void teardown(struct tput *tp)
{
    for (int i = 0; i < tp->npub; i++) {
        rconn_close(&tp->pub[i].c);
        free(tp->pub[i].chunk);
        free((void *)tp->pub[i].bodies);
    }
    for (int i = 0; i < tp->nsub; i++)
        rconn_close(&tp->sub[i].c);
    for (int i = 0; i < tp->nstalled; i++)
        rconn_close(&tp->stalled[i]);
    if (tp->churn.c.rbuf)
        rconn_close(&tp->churn.c);
    for (int t = 0; t < tp->nthr; t++)
        if (tp->ep[t] > 0)
            close(tp->ep[t]);
}

void raw_throughput(const struct params *p, struct result *r)
{
    uint64_t run_deadline = now_ns() + (uint64_t)(p->timeout * 1e9);
    struct tput *tp = calloc(1, sizeof *tp);
    if (!tp) {
        fail(r, "out of memory");
        return;
    }
    tp->p = p;
    tp->r = r;
    tp->npub = p->pubs;
    tp->nsub = p->scen == SC_PUB ? 0 : p->scen == SC_PUBSUB ? p->pubs : p->subs;
    tp->nthr = p->threads < 1 ? 1 : p->threads > MAX_THREADS ? MAX_THREADS : p->threads;
    tp->fan = p->scen == SC_PUB ? 0 : p->scen == SC_FANOUT ? tp->nsub : 1;
    tp->strict = p->scen != SC_QUEUE;
    uint64_t w = flow_window(p);
    tp->limit = w * (uint64_t)(tp->nsub ? tp->nsub : 1);
    tp->min_batch = w / 4 ? w / 4 : 1;
    tp->pair_limit = w;
    tp->pair_min_batch = tp->min_batch;
    tp->max_msgs = p->max_msgs;
    if (setup(tp) == 0 && (!p->nsub_ports || interest_barrier(tp) == 0) &&
        (p->churn <= 0 || churn_start(tp) == 0)) {
        if (p->warmup > 0)
            run_phase(tp, p->warmup, 0, run_deadline);
        if (!r->failed && p->stalled)
            stalled_open(tp);
        uint64_t pairs0 = atomic_load(&tp->churn.pairs);
        if (!r->failed)
            run_phase(tp, p->duration, 1, run_deadline);
        r->churn_pairs = atomic_load(&tp->churn.pairs) - pairs0;
        if (!r->failed)
            verify(tp);
        churn_stop(tp);
        for (int i = 0; i < tp->nstalled && !r->failed; i++)
            r->stalled_cut += stalled_drain(tp, &tp->stalled[i]);
    }
    churn_stop(tp);
    for (int i = 0; i < tp->nsub; i++)
        r->probes += tp->sub[i].probes;
    teardown(tp);
    free(tp);
}
