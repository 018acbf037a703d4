/* The shard loop: one thread, one io_uring ring (architecture.md).
 *
 * One turn of the loop:
 *
 *   wait for completions (offline for RCU while blocked)
 *     → handle every CQE: accept, recv (parse + deliver), send done, doorbell
 *     → take the zombie list, drain the mailboxes from other shards, free
 *       the zombies (see shard_retire_sub for why in that order)
 *     → push this turn's cross-shard batches, ring doorbells of idle shards
 *     → flush every connection with pending output (one send each)
 *     → timers (every 100 ms)
 *     → RCU quiescent state
 *
 * Nothing here blocks except io_uring_submit_and_wait_timeout(). */
#include "shard.h"
#include "encode.h"
#include "resp.h"
#include "subject.h"
#include "tsan.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "failpoint.h"
#include "../cluster/route.h"
#include "log.h"

#define RING_ENTRIES 4096
/* Provided receive buffers: 64 KiB each, so one completion carries ~450
 * 128-byte PUBs and a 16 KiB message rarely straddles two buffers.
 * Against 1024 x 16 KiB, bench measured publish-only 128 B 8.7-9.7 ->
 * 11-14 M msgs/s and 1:1 1 KiB 1.4-1.6 -> 1.8-2.0 M msgs/s (bench/NOTES.md);
 * memory per idle connection did not change
 * (pages are touched only as data arrives). */
#define NBUFS 512
#define BUFSZ (64 * 1024)
#define TICK_MS 100 /* periodic work; connection timers have their own wheel */
#define RESP_SWEEP_BUDGET 4096 /* response entries looked at per tick */
#define BATCH_MIN (64 * 1024)
#define CONN_POOL_MAX 4096
#define STALL_MIN_MS 100 /* nats-server 2.9.10's stallClientMinDuration */
#define STALL_MAX_MS 1000 /* and stallClientMaxDuration */
#define OBLOCK_POOL_MAX 512

static inline struct io_uring_sqe *get_sqe(struct shard *sh) { return uring_sqe(&sh->u); }

uint64_t shard_rand(struct shard *sh)
{
    /* xorshift64*: the queue-member pick needs speed, not quality */
    uint64_t x = sh->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    sh->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int shard_create(struct server *srv, int id, struct shard **out)
{
    struct shard *sh = calloc(1, sizeof *sh);
    if (!sh)
        return -ENOMEM;
    sh->id = id;
    sh->srv = srv;
    sh->listen_fd = -1;
    sh->query_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    sem_init(&sh->started, 0, 0);
    sh->rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)now_ms() << 16) ^ (uint64_t)id;
    topz_init(&sh->topz, srv->topz_one_in, now_ms(), sh->rng * 31 + 7);
    int n = srv->nshards;
    sh->open = calloc((size_t)n, sizeof *sh->open);
    sh->tgt = calloc((size_t)n, sizeof *sh->tgt);
    sh->xin = calloc((size_t)n, sizeof *sh->xin);
    sh->zheld_tail = &sh->zheld;
    for (int i = 0; sh->xin && i < n; i++)
        sh->xin[i].park.kind = PARK_XIN;
    if (!sh->open || !sh->tgt || !sh->xin || sh->query_fd < 0) {
        shard_destroy(sh);
        return -ENOMEM;
    }
    sh->cache = calloc((size_t)srv->naccounts, sizeof *sh->cache);
    sh->astats = calloc((size_t)srv->naccounts, sizeof *sh->astats);
    sh->sys_out_tail = &sh->sys_out;
    if (!sh->cache || !sh->astats) {
        shard_destroy(sh);
        return -ENOMEM;
    }
    for (int a = 0; a < srv->naccounts; a++) /* told of its account's index changes (selective invalidation) */
        sublist_register_cache(&srv->acc[a].sl, &sh->cache[a]);
    int rc = uring_init(&sh->u, RING_ENTRIES, NBUFS, BUFSZ);
    if (rc == 0 && !sh->u.defer_taskrun && id == 0)
        log_warn("io_uring: SINGLE_ISSUER|DEFER_TASKRUN unavailable, using default task work");
    if (rc < 0) {
        shard_destroy(sh);
        return rc;
    }
    *out = sh;
    return 0;
}

/* ---- connections by slot ---- */


static struct conn *conn_alloc(struct shard *sh)
{
    if (sh->nfree == 0) {
        uint32_t nn = sh->nslots ? sh->nslots * 2 : 256;
        if (nn > (1u << 24))
            return NULL;
        struct conn **ns = realloc(sh->slots, nn * sizeof *ns);
        uint32_t *nf = realloc(sh->free_slots, nn * sizeof *nf);
        if (!ns || !nf) {
            if (ns)
                sh->slots = ns;
            if (nf)
                sh->free_slots = nf;
            return NULL;
        }
        sh->slots = ns;
        sh->free_slots = nf;
        for (uint32_t i = nn; i > sh->nslots; i--) {
            sh->slots[i - 1] = NULL;
            sh->free_slots[sh->nfree++] = i - 1;
        }
        sh->nslots = nn;
    }
    if (failpoint(FP_CONN))
        return NULL;
    struct conn *c = sh->conn_pool;
    if (c) {
        sh->conn_pool = c->next;
        sh->conn_pool_n--;
        memset(c, 0, sizeof *c);
    } else if (!(c = calloc(1, sizeof *c))) {
        return NULL;
    }
    c->slot = sh->free_slots[--sh->nfree];
    c->gen = (uint32_t)shard_rand(sh);
    c->sh = sh;
    c->park.kind = PARK_CONN;
    c->tp.ops = &transport_plain;
    tnode_init(&c->timer);
    sh->slots[c->slot] = c;
    c->next = sh->conns;
    if (sh->conns)
        sh->conns->prev = c;
    sh->conns = c;
    return c;
}

static void conn_free_slot(struct shard *sh, struct conn *c)
{
    twheel_cancel(&sh->wheel, &c->timer);
    sh->slots[c->slot] = NULL;
    sh->free_slots[sh->nfree++] = c->slot;
    if (c->prev)
        c->prev->next = c->next;
    else
        sh->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (sh->conn_pool_n < CONN_POOL_MAX) {
        c->next = sh->conn_pool;
        sh->conn_pool = c;
        sh->conn_pool_n++;
    } else {
        free(c);
    }
}

struct oblock *shard_oblock_get(struct shard *sh, size_t need)
{
    struct oblock *b;
    if (failpoint(FP_OBLOCK))
        return NULL;
    if (need <= OBLOCK_SIZE && (b = sh->oblock_pool)) {
        sh->oblock_pool = b->next;
        sh->oblock_pool_n--;
    } else {
        size_t cap = need > OBLOCK_SIZE ? need : OBLOCK_SIZE;
        if (!(b = malloc(sizeof *b + cap)))
            return NULL;
        b->cap = (uint32_t)cap;
    }
    b->next = NULL;
    b->len = 0;
    return b;
}

void shard_oblock_put(struct shard *sh, struct oblock *b)
{
    if (b->cap == OBLOCK_SIZE && sh->oblock_pool_n < OBLOCK_POOL_MAX) {
        b->next = sh->oblock_pool;
        sh->oblock_pool = b;
        sh->oblock_pool_n++;
    } else {
        free(b);
    }
}

static struct conn *conn_lookup(struct shard *sh, uint64_t ud)
{
    uint32_t slot = (uint32_t)(ud >> 8) & 0xffffff, gen = (uint32_t)(ud >> 32);
    if (slot >= sh->nslots)
        return NULL;
    struct conn *c = sh->slots[slot];
    return c && c->gen == gen ? c : NULL;
}

/* ---- io ---- */

/* A read on query_fd: its completion wakes the shard for a monitor query. */
static void arm_query_wake(struct shard *sh)
{
    struct io_uring_sqe *sqe = get_sqe(sh);
    sh->retry_query = !sqe;
    if (!sqe)
        return;
    io_uring_prep_read(sqe, sh->query_fd, &sh->query_buf, sizeof sh->query_buf, 0);
    io_uring_sqe_set_data64(sqe, UD(UD_QUERY_WAKE, 0, 0));
}

void shard_wake_for_query(struct shard *sh)
{
    uint64_t one = 1;
    /* always written (queries are rare): no race with the shard going to sleep */
    if (write(sh->query_fd, &one, sizeof one) < 0) {
        /* EAGAIN only if the counter is full, which means a wake is pending anyway */
    }
}

/* The accept of the client listener, or (shard 0) of the route listener;
 * the kind of the connections it makes is in the user_data's slot. */
static void arm_accept_kind(struct shard *sh, enum conn_kind k)
{
    struct io_uring_sqe *sqe = get_sqe(sh);
    if (!sqe)
        return; /* accept_armed stays false: the loop tries again next turn */
    io_uring_prep_multishot_accept(sqe, k == CK_ROUTE ? route_listen_fd(sh->srv) : sh->listen_fd, NULL, NULL,
                                   SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, UD(UD_ACCEPT, k, 0));
    if (k == CK_ROUTE)
        sh->raccept_armed = true;
    else
        sh->accept_armed = true;
}
static void arm_accept(struct shard *sh) { arm_accept_kind(sh, CK_CLIENT); }

/* Connections whose recv or cancel could not be submitted go on a list
 * that the loop retries each turn. */
static void retry_later(struct shard *sh, struct conn *c)
{
    if (c->retry_recv)
        return;
    c->retry_recv = true;
    c->retry_next = sh->retry_recv;
    sh->retry_recv = c;
}

static void arm_recv(struct shard *sh, struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(sh);
    if (!sqe) {
        retry_later(sh, c);
        return;
    }
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = URING_BGID;
    io_uring_sqe_set_data64(sqe, UD(UD_RECV, c->slot, c->gen));
    c->recv_armed = true;
}

void shard_cancel_recv(struct shard *sh, struct conn *c)
{
    if (!c->recv_armed)
        return;
    struct io_uring_sqe *sqe = get_sqe(sh);
    if (!sqe) {
        retry_later(sh, c);
        return;
    }
    io_uring_prep_cancel64(sqe, UD(UD_RECV, c->slot, c->gen), 0);
    io_uring_sqe_set_data64(sqe, UD(UD_IGNORE, 0, 0));
}

bool shard_arm_send(struct shard *sh, struct conn *c)
{
    uint32_t bytes = 0;
    int n = c->tp.ops->prep(&c->tp, c->ohead, c->ohead_off, c->iov, SEND_IOV_MAX, &bytes);
    if (n == 0)
        return false; /* nothing the transport can write now (a TLS handshake not done yet) */
    struct io_uring_sqe *sqe = get_sqe(sh);
    if (!sqe) {
        conn_mark_flush(c); /* the next flush pass tries again */
        return true;
    }
    memset(&c->msg, 0, sizeof c->msg);
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = (size_t)n;
    io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, UD(UD_SEND, c->slot, c->gen));
    c->send_inflight = true;
    c->inflight_bytes = bytes;
    c->send_start_ms = sh->now;
    int64_t wd = sh->conf->o->write_deadline_ms;
    if (wd > 0 && c->timer.due_ms > sh->now + wd + 1) /* only ever earlier: O(1) and rare */
        conn_schedule(c);
    return true;
}

/* Something to write: plaintext queued, or wire bytes of the transport's
 * own (TLS handshake records, alerts). */
static bool has_output(const struct conn *c)
{
    return c->pending > 0 || (c->tp.ops->want_write && c->tp.ops->want_write(&c->tp));
}

/* Free a closing connection once nothing of it is in flight. */
static void move_out(struct shard *sh, struct conn *c);

static void maybe_release(struct shard *sh, struct conn *c)
{
    if (c->moving && !c->closing && !c->recv_armed && !c->send_inflight && !c->in_flush_list && !c->retry_recv &&
        !has_output(c)) { /* a transport's own bytes (TLS records, an S2 stream) go out first too */
        move_out(sh, c);
        return;
    }
    if (!c->closing || c->recv_armed || c->send_inflight || c->in_flush_list || c->retry_recv)
        return; /* a connection on the flush or retry list is released by that pass */
    if (c->flush_on_close && has_output(c) && c->fd >= 0 && shard_arm_send(sh, c))
        return;
    conn_release(c);
    if (c->fd >= 0)
        close(c->fd);
    conn_free_slot(sh, c);
}

static void addr_str(const struct sockaddr_storage *ss, char *ip, size_t cap, uint16_t *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)cap);
        *port = ntohs(a->sin6_port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)cap);
        *port = ntohs(a->sin_port);
    }
}

static void on_accept(struct shard *sh, struct io_uring_cqe *cqe)
{
    enum conn_kind kind = (enum conn_kind)((cqe->user_data >> 8) & 0xffffff);
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        if (kind == CK_ROUTE)
            sh->raccept_armed = false;
        else
            sh->accept_armed = false;
    }
    int fd = cqe->res;
    if (fd < 0) {
        if (fd != -ECANCELED && fd != -EINVAL && fd != -EBADF)
            log_debug("accept: %s", strerror(-fd));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = conn_alloc(sh);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->kind = kind == CK_ROUTE ? CK_ROUTE : CK_CLIENT;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        addr_str(&ss, c->ip, sizeof c->ip, &c->port);
    conn_start(c);
    if (!c->closing)
        arm_recv(sh, c);
    maybe_release(sh, c);
}


/* The transport could not take what came: a TLS peer's close_notify is an
 * orderly close; other failures are a failed handshake (nats-server's "TLS
 * handshake error") or a protocol violation. */
static void transport_failed(struct conn *c, int rc)
{
    struct tls_sess *s = tlst_session(&c->tp);
    if (s && rc == -2) {
        conn_close(c, CR_CLIENT_CLOSED, false);
    } else if (s && !tls_sess_done(s)) {
        log_error("%s:%u - %s:%" PRIu64 " - TLS %shandshake error: %s", c->ip, c->port,
                  c->kind == CK_ROUTE ? "rid" : "cid", c->cid, c->kind == CK_ROUTE ? "route " : "", tls_sess_error(s));
        conn_close(c, CR_TLS_HANDSHAKE_ERROR, true);
    } else {
        if (s)
            log_error("%s:%u - cid:%" PRIu64 " - TLS error: %s", c->ip, c->port, c->cid, tls_sess_error(s));
        conn_close(c, CR_PROTOCOL_VIOLATION, false);
    }
}

static void on_recv(struct shard *sh, struct io_uring_cqe *cqe)
{
    struct conn *c = conn_lookup(sh, cqe->user_data);
    int in_rc = 0;
    /* every byte the parser keeps is copied out: the buffer goes back at
     * once; a transport that cannot decode what came closes the connection */
    if (cqe->res > 0 && c && !c->closing &&
        (in_rc = c->tp.ops->input(&c->tp, uring_buf(&sh->u, cqe), (size_t)cqe->res, conn_input_cb, c)) < 0 &&
        !c->closing)
        transport_failed(c, in_rc);
    if (c && c->tp.ops->want_write && !c->send_inflight && c->tp.ops->want_write(&c->tp))
        conn_mark_flush(c); /* the transport answered on its own (a TLS handshake flight) */
    uring_buf_return(&sh->u, cqe);
    if (!c)
        return;
    if (cqe->flags & IORING_CQE_F_MORE)
        return;
    c->recv_armed = false;
    if (!c->closing) {
        if (c->park.on_list || c->moving || c->auth_pending)
            ; /* cancelled (or ended) while parked, moving or authenticating: re-armed when that ends */
        else if (cqe->res > 0 || cqe->res == -ENOBUFS || cqe->res == -ECANCELED)
            arm_recv(sh, c); /* multishot ended (buffers ran out, or a park's cancel after it resumed): re-arm */
        else if (cqe->res == 0)
            conn_close(c, CR_CLIENT_CLOSED, false);
        else
            conn_close(c, CR_READ_ERROR, false);
    }
    maybe_release(sh, c);
}

static void on_send(struct shard *sh, struct io_uring_cqe *cqe)
{
    struct conn *c = conn_lookup(sh, cqe->user_data);
    if (!c)
        return;
    c->send_inflight = false;
    if (cqe->res < 0) {
        c->flush_on_close = false;
        if (!c->closing)
            conn_close(c, CR_WRITE_ERROR, false);
        else
            shutdown(c->fd, SHUT_RDWR);
    } else {
        conn_sent(c, c->tp.ops->sent(&c->tp, (uint32_t)cqe->res), (uint32_t)cqe->res == c->inflight_bytes);
        if (has_output(c) && (!c->closing || c->flush_on_close))
            conn_mark_flush(c);
    }
    maybe_release(sh, c);
}

/* ---- handing a connection over to another shard ----
 *
 * The old owner stops the connection's input after the op being processed
 * (what it already read waits in c->inq, as for a parked producer),
 * cancels its recv and lets its output drain; once nothing of it is in
 * flight (maybe_release), move_out copies the connection, fd, parser state
 * and unread input included, into a command for the new owner and frees
 * the slot without closing the fd. The new owner (adopt) gives it a slot,
 * parses the unread input and re-arms the recv. Bytes are never reordered:
 * the socket is read by one shard at a time. A connection with
 * subscriptions is not moved (they are owned by this shard's index
 * batches, caches and zombie lists); routes and pool connections are
 * handed over before they have any (docs/design.md §17). */

int shard_handover(struct shard *sh, struct conn *c, int to)
{
    if (to < 0 || to >= sh->srv->nshards || to == sh->id)
        return -EINVAL;
    if (c->closing || c->moving || c->auth_pending || c->park.on_list || c->stalled || c->subs.n > 0)
        return -EBUSY;
    c->moving = true;
    c->move_to = to;
    shard_cancel_recv(sh, c);
    conn_mark_flush(c); /* the flush pass sees it through maybe_release */
    return 0;
}

static void move_out(struct shard *sh, struct conn *c)
{
    struct shard_cmd *cmd = calloc(1, sizeof *cmd);
    struct conn *m = cmd ? malloc(sizeof *m) : NULL;
    if (!m) {
        free(cmd);
        c->moving = false;
        conn_close(c, CR_RESOURCES, false);
        maybe_release(sh, c);
        return;
    }
    if (c->kind == CK_ROUTE && route_moving(c, c->move_to) < 0) { /* shard 0 keeps a stand-in: no memory for it */
        free(m);
        free(cmd);
        c->moving = false;
        conn_close(c, CR_RESOURCES, false);
        maybe_release(sh, c);
        return;
    }
    *m = *c; /* the new owner takes fd, strings, parser, inq and the sid map as they are */
    parser_move(&m->parser, &c->parser);
    if (c->kind == CK_CLIENT)
        atomic_fetch_sub_explicit(&sh->nclients, 1, memory_order_relaxed);
    log_debug("%s:%u - cid:%" PRIu64 " - handed over from shard %d to shard %d", c->ip, c->port, c->cid, sh->id,
              c->move_to);
    memset(&c->parser, 0, sizeof c->parser);
    c->inq = NULL;
    c->subs.slots = NULL;
    c->name = c->lang = c->version = c->cred_user = c->cred_pass = c->cred_token = NULL;
    c->fd = -1;
    cmd->type = SC_ADOPT;
    cmd->conn = m;
    int to = c->move_to;
    conn_free_slot(sh, c);
    shard_post(sh->srv->shards[to], cmd);
}

static void adopt(struct shard *sh, struct conn *m)
{
    struct conn *c = conn_alloc(sh);
    if (!c) { /* it cannot live here: closed as a failed allocation closes a connection */
        log_error("%s:%u - cid:%" PRIu64 " - handover to shard %d failed: out of memory", m->ip, m->port, m->cid,
                  sh->id);
        m->sh = sh;
        if (m->kind == CK_CLIENT) {
            atomic_fetch_sub_explicit(&sh->srv->nclients, 1, memory_order_relaxed);
        } else if (m->kind == CK_ROUTE) { /* shard 0 hears of its end */
            m->reason = CR_RESOURCES;
            route_closed(m);
        }
        conn_release(m);
        close(m->fd);
        free(m);
        return;
    }
    conn_adopt(c, m);
    free(m);
    if (c->kind == CK_CLIENT)
        atomic_fetch_add_explicit(&sh->nclients, 1, memory_order_relaxed);
    else if (c->kind == CK_ROUTE && route_adopted(c) < 0)
        conn_close(c, CR_RESOURCES, false);
    /* A reload while it was in flight: no shard's list held it, so its
     * limits and permissions are still the old configuration's, which may
     * be freed by now (the grace period did not wait for a command in a
     * queue). Catch up before it parses anything; set_perms only compares
     * the old pointer. */
    if (c->conf_gen != sh->conf->gen)
        conn_reconfigure(c, true);
    conn_schedule(c);
    conn_resume(c);
    if (!c->closing && !c->park.on_list && !c->moving && !c->recv_armed)
        arm_recv(sh, c);
    if (c->pending > 0)
        conn_mark_flush(c);
    maybe_release(sh, c);
}

/* ---- outbound connections ----
 *
 * A dialer is an outbound connection being made (SC_DIAL): each attempt is
 * a connect linked to a timeout on the shard's ring; a failed one is
 * retried after a delay that doubles up to a maximum. Once connected it
 * becomes a struct conn of the kind asked for and starts as an accepted
 * one of that kind would. Routes, gateways and leaf remotes dial this way. */

static void dialer_free(struct shard *sh, uint32_t slot)
{
    struct dialer *d = sh->dialers[slot];
    if (d->fd >= 0)
        close(d->fd);
    free(d);
    sh->dialers[slot] = NULL;
}

static void dialer_new(struct shard *sh, const struct dial_spec *spec)
{
    uint32_t slot;
    for (slot = 0; slot < sh->ndialers && sh->dialers[slot]; slot++)
        ;
    if (slot == sh->ndialers) {
        uint32_t n = sh->ndialers ? sh->ndialers * 2 : 4;
        struct dialer **v = realloc(sh->dialers, n * sizeof *v);
        if (!v) {
            log_error("dial: out of memory");
            return;
        }
        for (uint32_t i = sh->ndialers; i < n; i++)
            v[i] = NULL;
        sh->dialers = v;
        sh->ndialers = n;
    }
    struct dialer *d = calloc(1, sizeof *d);
    if (!d) {
        log_error("dial: out of memory");
        return;
    }
    d->spec = *spec;
    d->gen = (uint32_t)shard_rand(sh);
    d->fd = -1;
    d->delay_ms = spec->backoff_ms > 0 ? spec->backoff_ms : 100;
    d->next_ms = sh->now + (spec->first_delay_ms > 0 ? spec->first_delay_ms : 0);
    char ip[46];
    uint16_t port = 0;
    addr_str(&spec->addr, ip, sizeof ip, &port);
    snprintf(d->where, sizeof d->where, spec->addr.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
    sh->dialers[slot] = d;
    sh->have_dialers = true;
}

void shard_dial(struct shard *sh, const struct dial_spec *spec) { dialer_new(sh, spec); }

static void dial_attempt(struct shard *sh, uint32_t slot)
{
    struct dialer *d = sh->dialers[slot];
    d->fd = socket(d->spec.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct io_uring_sqe *c = d->fd >= 0 ? get_sqe(sh) : NULL, *t = c ? get_sqe(sh) : NULL;
    if (!t) { /* no socket or no SQEs: try again shortly (an SQE taken stays a NOP) */
        if (c)
            io_uring_prep_nop(c), io_uring_sqe_set_data64(c, UD(UD_IGNORE, 0, 0));
        if (d->fd >= 0)
            close(d->fd);
        d->fd = -1;
        d->next_ms = sh->now + 10;
        return;
    }
    int one = 1;
    setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    d->attempts++;
    d->next_ms = INT64_MAX;
    io_uring_prep_connect(c, d->fd, (const struct sockaddr *)&d->spec.addr, d->spec.alen);
    io_uring_sqe_set_data64(c, UD(UD_CONNECT, slot, d->gen));
    c->flags |= IOSQE_IO_LINK;
    int64_t to = d->spec.timeout_ms > 0 ? d->spec.timeout_ms : 2000;
    d->ts.tv_sec = to / 1000;
    d->ts.tv_nsec = (to % 1000) * 1000000;
    io_uring_prep_link_timeout(t, &d->ts, 0);
    io_uring_sqe_set_data64(t, UD(UD_IGNORE, 0, 0));
}

static void arm_recv(struct shard *sh, struct conn *c);

static void on_connect(struct shard *sh, struct io_uring_cqe *cqe)
{
    uint32_t slot = (uint32_t)(cqe->user_data >> 8) & 0xffffff, gen = (uint32_t)(cqe->user_data >> 32);
    struct dialer *d = slot < sh->ndialers ? sh->dialers[slot] : NULL;
    if (!d || d->gen != gen)
        return;
    struct conn *c = cqe->res == 0 ? conn_alloc(sh) : NULL;
    if (c) {
        c->kind = d->spec.kind;
        c->dial_tag = d->spec.tag;
        c->fd = d->fd;
        d->fd = -1;
        addr_str(&d->spec.addr, c->ip, sizeof c->ip, &c->port);
        log_debug("%s - connected (attempt %d)", d->where, d->attempts);
        dialer_free(sh, slot);
        conn_start(c);
        if (!c->closing)
            arm_recv(sh, c);
        maybe_release(sh, c);
        return;
    }
    int err = cqe->res == -ECANCELED ? ETIMEDOUT : cqe->res < 0 ? -cqe->res : ENOMEM;
    close(d->fd);
    d->fd = -1;
    if (d->spec.max_attempts > 0 && d->attempts >= d->spec.max_attempts) {
        log_error("%s - connect failed (attempt %d): %s; giving up", d->where, d->attempts, strerror(err));
        enum conn_kind k = d->spec.kind;
        int32_t tag = d->spec.tag;
        dialer_free(sh, slot);
        if (k == CK_ROUTE)
            route_dial_failed(sh, tag);
        return;
    }
    log_debug("%s - connect failed (attempt %d): %s; next attempt in %" PRId64 "ms", d->where, d->attempts,
              strerror(err), d->delay_ms);
    d->next_ms = sh->now + d->delay_ms;
    int64_t max = d->spec.backoff_max_ms > 0 ? d->spec.backoff_max_ms : 5000;
    d->delay_ms = d->delay_ms * 2 > max ? max : d->delay_ms * 2;
}

/* Start the attempts that are due; the earliest next one (INT64_MAX: none). */
static int64_t run_dialers(struct shard *sh)
{
    int64_t next = INT64_MAX;
    bool any = false;
    for (uint32_t i = 0; i < sh->ndialers; i++) {
        struct dialer *d = sh->dialers[i];
        if (!d)
            continue;
        any = true;
        if (d->fd < 0 && d->next_ms <= sh->now)
            dial_attempt(sh, i);
        if (d->next_ms < next)
            next = d->next_ms;
    }
    sh->have_dialers = any;
    return next;
}

int shard_post_dial(struct shard *sh, const struct dial_spec *spec)
{
    struct shard_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->type = SC_DIAL;
    c->dial = *spec;
    shard_post(sh, c);
    return 0;
}

/* ---- cross-shard delivery ----
 *
 * A publish puts its remote targets into one record per destination shard,
 * in that destination's open batch; the batches are pushed on their links
 * at the end of the turn (push_batches), always within the turn that filled
 * them: a link never refuses a push. What bounds memory is each link's
 * budget (xshard_max_pending): a producer whose record made its link's
 * backlog exceed it is parked after that message until the receiver has
 * consumed enough (docs/design.md §11). */

static struct xbatch *batch_new(uint32_t need)
{
    uint32_t cap = need > BATCH_MIN ? need : BATCH_MIN;
    return failpoint(FP_BATCH) ? NULL : xbatch_new(cap);
}

static inline struct xlink *link_to(struct shard *sh, int d) { return &sh->srv->mbox[sh->id * sh->srv->nshards + d]; }
static inline struct xlink *link_from(struct shard *sh, int s) { return &sh->srv->mbox[s * sh->srv->nshards + sh->id]; }

/* Capacity queued for shard d and not consumed yet: pushed, and open. */
static uint64_t link_backlog(struct shard *sh, int d)
{
    return xlink_inflight(link_to(sh, d)) + (sh->open[d] ? sh->open[d]->cap : 0);
}

static void emit_record(struct shard *sh, int d, const struct msgview *m)
{
    struct target_list *t = &sh->tgt[d];
    size_t need = sizeof(struct xrec) + t->n * sizeof(struct sub *) + m->subj_len + m->reply_len + m->sztok_len +
                  m->hdrtok_len + m->size;
    need = (need + 7) & ~(size_t)7;
    struct xbatch *b = sh->open[d];
    if (!b || b->cap - b->len < need) {
        struct xbatch *nb = need > UINT32_MAX ? NULL : batch_new((uint32_t)need);
        if (!nb) { /* these subscribers would miss it: the producer is closed instead (see input_loop) */
            sh->note.oom = true;
            t->n = 0;
            return;
        }
        if (b)
            xlink_push(link_to(sh, d), b); /* full: goes now, within this turn like the others */
        b = sh->open[d] = nb;
    }
    struct xrec *r = (struct xrec *)(b->data + b->len);
    r->total = (uint32_t)need;
    r->type = XR_MSG;
    r->nsubs = t->n;
    r->size = m->size;
    r->hdr = m->hdr;
    r->subj_len = m->subj_len;
    r->reply_len = m->reply_len;
    r->sztok_len = (uint8_t)m->sztok_len;
    r->hdrtok_len = (uint8_t)m->hdrtok_len;
    char *p = (char *)(r + 1);
    memcpy(p, t->v, t->n * sizeof(struct sub *));
    p += t->n * sizeof(struct sub *);
    memcpy(p, m->subj, m->subj_len), p += m->subj_len;
    if (m->reply_len)
        memcpy(p, m->reply, m->reply_len), p += m->reply_len;
    memcpy(p, m->sztok, m->sztok_len), p += m->sztok_len;
    if (m->hdrtok_len)
        memcpy(p, m->hdrtok, m->hdrtok_len), p += m->hdrtok_len;
    memcpy(p, m->payload, m->size);
    b->len += (uint32_t)need;
    t->n = 0;
    STAT_ADD(sh, mbox_sent, 1);
    if (link_backlog(sh, d) > (uint64_t)sh->conf->o->xshard_max_pending)
        sh->note.links |= 1ull << d;
}

static void route_target(struct shard *sh, struct sub *s, const struct msgview *m)
{
    if (s->shard == sh->id) {
        deliver_local(sh, s, m);
        return;
    }
    struct target_list *t = &sh->tgt[s->shard];
    if (t->n == t->cap) {
        uint32_t ncap = t->cap ? t->cap * 2 : 16;
        struct sub **nv = realloc(t->v, ncap * sizeof *nv);
        if (!nv) {
            sh->note.oom = true;
            return;
        }
        t->v = nv;
        t->cap = ncap;
    }
    t->v[t->n++] = s;
    sh->remote_targets++;
}

static void flush_inserts(struct shard *sh);
static void flush_removals(struct shard *sh, bool retries);

/* The message's targets on other shards, one record per shard. */
static void emit_records(struct shard *sh, const struct msgview *m)
{
    if (!sh->remote_targets)
        return;
    for (int d = 0; d < sh->srv->nshards; d++)
        if (sh->tgt[d].n)
            emit_record(sh, d, m);
    sh->remote_targets = 0;
}

/* One member of a queue group that has routes' members, each counting as
 * its weight (the members the group has on that server), as nats-server's
 * sublist expands a remote queue subscription by its weight. */
static struct sub *pick_weighted(struct shard *sh, const struct match_group *mg, const struct conn *skip)
{
    uint64_t total = 0;
    for (uint32_t k = 0; k < mg->n; k++) {
        const struct sub *s = mg->members[k];
        if (s->conn != skip)
            total += s->route ? (uint64_t)atomic_load_explicit(&s->weight, memory_order_relaxed) : 1;
    }
    if (!total)
        return NULL;
    uint64_t x = shard_rand(sh) % total;
    for (uint32_t k = 0; k < mg->n; k++) {
        struct sub *s = mg->members[k];
        if (s->conn == skip)
            continue;
        uint64_t w = s->route ? (uint64_t)atomic_load_explicit(&s->weight, memory_order_relaxed) : 1;
        if (x < w)
            return s;
        x -= w;
    }
    return NULL;
}

/* Deliver m to acc's subscribers (from: the publisher, for echo; NULL for
 * a message that crossed from another account). */
static uint32_t match_deliver(struct shard *sh, struct account *acc, struct conn *from, const struct msgview *m,
                              struct match_cache_entry **hint)
{
    struct match_cache_entry *nohint = NULL;
    const struct match_result *r =
        match_cached_hint(&acc->sl, &sh->cache[acc->id], m->subj, m->subj_len, hint ? hint : &nohint);
    uint32_t n = 0;
    bool noecho = from && !from->echo;
    for (uint32_t i = 0; i < r->npsubs; i++) {
        struct sub *s = r->psubs[i];
        if (noecho && s->conn == from)
            continue;
        route_target(sh, s, m);
        n++;
    }
    for (uint32_t g = 0; g < r->ngroups; g++) {
        const struct match_group *mg = &r->groups[g];
        if (__builtin_expect(mg->nroute != 0, 0)) { /* a route's member stands for its weight in members */
            struct sub *s = pick_weighted(sh, mg, noecho ? from : NULL);
            if (s) {
                route_target(sh, s, m);
                n++;
            }
            continue;
        }
        uint32_t start = (uint32_t)(shard_rand(sh) % mg->n);
        for (uint32_t k = 0; k < mg->n; k++) {
            struct sub *s = mg->members[(start + k) % mg->n];
            if (noecho && s->conn == from)
                continue;
            route_target(sh, s, m);
            n++;
            break;
        }
    }
    emit_records(sh, m);
    if (__builtin_expect(sh->rcol_n != 0, 0))
        route_flush_msg(sh, m);
    return n;
}

/* A message from a route: local plain subscribers, and one local member of
 * each queue group the route named (nats-server's processInboundRoutedMsg:
 * route traffic goes one hop). */
void shard_route_publish(struct shard *sh, struct account *acc, const struct msgview *m, const struct pview *queues,
                         uint32_t nq)
{
    if (sh->idx_nins)
        flush_inserts(sh);
    if (sh->unsub_new)
        flush_removals(sh, false);
    const struct match_result *r = match_cached(&acc->sl, &sh->cache[acc->id], m->subj, m->subj_len);
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->npsubs; i++) {
        struct sub *s = r->psubs[i];
        if (s->route)
            continue;
        route_target(sh, s, m);
        n++;
    }
    for (uint32_t g = 0; nq && g < r->ngroups; g++) {
        const struct match_group *mg = &r->groups[g];
        uint32_t k;
        for (k = 0; k < nq; k++)
            if (queues[k].n == mg->nlen && memcmp(queues[k].p, mg->name, mg->nlen) == 0)
                break;
        uint32_t local = mg->n - mg->nroute;
        if (k == nq || !local)
            continue;
        uint32_t pick = (uint32_t)(shard_rand(sh) % local);
        for (uint32_t j = 0; j < mg->n; j++) {
            struct sub *s = mg->members[j];
            if (s->route || pick--)
                continue;
            route_target(sh, s, m);
            n++;
            break;
        }
    }
    emit_records(sh, m);
    sh->rcol_n = 0; /* never to another route */
    topz_count(&sh->topz, m->subj, m->subj_len, m->size, n);
}

/* ---- accounts: imports and service responses (docs/design.md §18) ---- */

#define XACC_DEPTH 8 /* imports of imports followed at most this deep (cycles are refused at load) */

static uint32_t cross_accounts(struct shard *sh, struct account *acc, struct conn *from, const struct msgview *m,
                               int depth);

static uint32_t deliver_in(struct shard *sh, struct account *acc, const struct msgview *m, int depth)
{
    return match_deliver(sh, acc, NULL, m, NULL) + cross_accounts(sh, acc, NULL, m, depth);
}

/* The request as the exporter sees it: the publisher's headers (or a new
 * header block) with Nats-Request-Info naming the requester's account and
 * RTT, as nats-server adds it; then the payload. */
static char *request_with_info(const struct msgview *m, const struct account *acc, const struct conn *from,
                               struct msgview *v)
{
    const char *body = m->hdr >= 0 ? m->payload + m->hdr : m->payload;
    uint32_t blen = m->hdr >= 0 ? m->size - (uint32_t)m->hdr : m->size;
    uint32_t old = m->hdr >= 2 ? (uint32_t)m->hdr - 2 : 0; /* its header block without the closing CRLF */
    size_t cap = (old ? old : 10) + 64 + acc->name_len + 24 + 2 + blen + 48;
    char *buf = malloc(cap), *p = buf;
    if (!buf)
        return NULL;
    if (old)
        memcpy(p, m->payload, old), p += old;
    else
        memcpy(p, "NATS/1.0\r\n", 10), p += 10;
    int64_t rtt = from && from->rtt_ns > 0 ? from->rtt_ns : 0;
    memcpy(p, "Nats-Request-Info: {\"acc\":\"", 27), p += 27;
    memcpy(p, acc->name, acc->name_len), p += acc->name_len;
    memcpy(p, "\",\"rtt\":", 8), p += 8;
    p += msgline_udec(p, (uint64_t)rtt);
    memcpy(p, "}\r\n\r\n", 5), p += 5;
    uint32_t hdr = (uint32_t)(p - buf);
    memcpy(p, body, blen), p += blen;
    v->payload = buf;
    v->hdr = (int32_t)hdr;
    v->size = hdr + blen;
    char *tok = p; /* the tokens after the message */
    v->hdrtok = tok, v->hdrtok_len = msgline_udec(tok, hdr), tok += v->hdrtok_len;
    v->sztok = tok, v->sztok_len = msgline_udec(tok, v->size);
    return buf;
}

static uint32_t cross_accounts(struct shard *sh, struct account *acc, struct conn *from, const struct msgview *m,
                               int depth)
{
    if (depth >= XACC_DEPTH)
        return 0;
    struct server *srv = sh->srv;
    uint32_t n = 0;
    /* a response to a request that came in through a service import */
    if (acc->service_exports && m->subj_len == RESP_SUBJ_LEN && memcmp(m->subj, acc->rprefix, 11) == 0) {
        struct svc_resp *r = resp_take(&srv->resp, m->subj, m->subj_len, sh->now);
        if (r) {
            struct msgview v = *m;
            v.subj = r->reply;
            v.subj_len = r->reply_len;
            if (v.sztok_len > 1 && v.sztok[0] == ' ') /* an internal answer's empty reply: gone once re-published */
                v.sztok++, v.sztok_len--;
            n += deliver_in(sh, r->to, &v, depth + 1);
        }
    }
    /* streams other accounts import from this one */
    for (uint32_t i = 0; i < acc->nsout; i++) {
        const struct stream_out *so = &acc->sout[i];
        if (!subject_matches(so->subj, so->subj_len, m->subj, m->subj_len))
            continue;
        struct msgview v = *m;
        char *buf = NULL;
        if (so->prefix || so->map) {
            size_t cap = (size_t)so->prefix_len + 1 + m->subj_len + so->map_len + 1;
            if (!(buf = malloc(cap))) {
                sh->note.oom = true;
                continue;
            }
            size_t len;
            if (so->prefix) {
                memcpy(buf, so->prefix, so->prefix_len);
                buf[so->prefix_len] = '.';
                memcpy(buf + so->prefix_len + 1, m->subj, m->subj_len);
                len = (size_t)so->prefix_len + 1 + m->subj_len;
            } else {
                len = subject_transform(so->subj, so->subj_len, so->map, so->map_len, m->subj, m->subj_len, buf,
                                        cap);
            }
            v.subj = buf;
            v.subj_len = (uint32_t)len;
        }
        uint32_t k = deliver_in(sh, so->to, &v, depth + 1);
        if (k) { /* nats-server counts them for the exporter too (its shadow subscriptions are in its index) */
            struct acc_stats *as = &sh->astats[acc->id];
            STAT_ADD(as, out_msgs, k);
            STAT_ADD(as, out_bytes, (uint64_t)k * m->size);
        }
        n += k;
        free(buf);
    }
    /* services this account imports */
    for (uint32_t i = 0; i < acc->nsin; i++) {
        const struct service_in *si = &acc->sin[i];
        if (si->local_wild ? !subject_matches(si->local, si->local_len, m->subj, m->subj_len)
                           : si->local_len != m->subj_len || memcmp(si->local, m->subj, m->subj_len) != 0)
            continue;
        struct msgview v = *m;
        char *sbuf = NULL, *mbuf;
        if (si->local_wild) {
            size_t cap = (size_t)si->remote_len + m->subj_len + 1;
            if (!(sbuf = malloc(cap))) {
                sh->note.oom = true;
                continue;
            }
            v.subj = sbuf;
            v.subj_len =
                (uint32_t)subject_transform(si->local, si->local_len, si->remote, si->remote_len, m->subj, m->subj_len,
                                            sbuf, cap);
        } else {
            v.subj = si->remote;
            v.subj_len = si->remote_len;
        }
        if (m->reply_len) {
            struct svc_resp *r = resp_add(&srv->resp, &sh->resp_list, si->exp->rprefix, shard_rand(sh), acc, m->reply,
                                      m->reply_len, si->resp_type, sh->now + si->threshold_ms);
            if (!r) {
                free(sbuf);
                sh->note.oom = true;
                continue;
            }
            v.reply = r->subj;
            v.reply_len = RESP_SUBJ_LEN;
        }
        if (!(mbuf = request_with_info(m, acc, from, &v))) {
            free(sbuf);
            sh->note.oom = true;
            continue;
        }
        n += 1 + deliver_in(sh, si->exp, &v, depth + 1); /* the import itself counts: no 503 (as nats-server) */
        free(mbuf);
        free(sbuf);
    }
    return n;
}

void shard_publish(struct shard *sh, struct conn *from, const struct msgview *m, uint32_t *ndeliv)
{
    /* this turn's SUBs match from now on, its UNSUBs no longer (a request
     * to a responder that just left gets its 503) */
    if (__builtin_expect(sh->idx_nins != 0, 0))
        flush_inserts(sh);
    if (__builtin_expect(sh->unsub_new != NULL, 0))
        flush_removals(sh, false);
    struct account *acc = from->acc;
    struct msgview mapped;
    if (__builtin_expect(acc->nmaps != 0, 0)) { /* subject mappings: the message goes on under its new subject */
        unsigned pick = (unsigned)(shard_rand(sh) % 100);
        size_t len;
        while ((len = account_map(acc, m->subj, m->subj_len, pick, sh->map_buf, sh->map_cap)) == SIZE_MAX) {
            size_t cap = sh->map_cap ? sh->map_cap * 2 : 1024;
            char *nb = realloc(sh->map_buf, cap);
            if (!nb) {
                sh->note.oom = true;
                *ndeliv = 0;
                return;
            }
            sh->map_buf = nb;
            sh->map_cap = cap;
        }
        if (len) {
            mapped = *m;
            mapped.subj = sh->map_buf;
            mapped.subj_len = (uint32_t)len;
            m = &mapped;
            from->match_hint = NULL; /* the hint is for the subject as published */
        }
    }
    uint32_t n = match_deliver(sh, acc, from, m, &from->match_hint);
    if (__builtin_expect(account_may_cross(acc, m->subj), 0))
        n += cross_accounts(sh, acc, from, m, 0);
    topz_count(&sh->topz, m->subj, m->subj_len, m->size, n);
    *ndeliv = n;
}

static void ring_doorbell(struct shard *sh, int d)
{
    struct shard *t = sh->srv->shards[d];
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_exchange(&t->sleeping, 0))
        return;
    struct io_uring_sqe *sqe = get_sqe(sh);
    if (!sqe) { /* no SQE: say it sleeps again and ring next turn */
        atomic_store(&t->sleeping, 1);
        sh->retry_bells |= 1ull << d;
        return;
    }
    STAT_ADD(sh, doorbells, 1);
    io_uring_prep_msg_ring(sqe, t->u.ring.ring_fd, 0, UD(UD_DOORBELL, 0, 0), 0);
    io_uring_sqe_set_data64(sqe, UD(UD_IGNORE, 0, 0));
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

static void push_batches(struct shard *sh)
{
    uint64_t bells = sh->retry_bells;
    sh->retry_bells = 0;
    for (int d = 0; d < sh->srv->nshards; d++) {
        if (sh->open[d]) {
            xlink_push(link_to(sh, d), sh->open[d]);
            sh->open[d] = NULL;
            bells |= 1ull << d;
        }
    }
    for (int d = 0; bells; d++, bells >>= 1)
        if (bells & 1)
            ring_doorbell(sh, d);
}

/* ---- flow control (docs/design.md §11) ----
 *
 * A consumer whose queued output passes max_pending/2 is `stalled`, as
 * nats-server's stall gate; a producer that delivered to it has its input
 * parked after that message, until the consumer has written everything it
 * attempted or fallen below half (conn_sent), or for nats-server 2.9.10's
 * stall time (100 ms, growing with the backlog to 1 s). Inputs are client
 * connections (their recv is cancelled, bytes already read wait in inq) and
 * links from other shards (their current batch waits at a record boundary;
 * the link's budget then parks the producers over there). A wait that ends
 * by time with no progress of the consumer at all (nothing sent, nothing
 * acknowledged by its peer) marks it `no_drain`: it has stopped reading, so
 * nobody waits for it again until it sends something; it then fills up to
 * max_pending and is cut, without slowing the others any further. */

static struct conn *park_conn_of(struct park *p) { return caa_container_of(p, struct conn, park); }
static struct xin *park_xin_of(struct park *p) { return caa_container_of(p, struct xin, park); }

static int sock_outq(int fd)
{
    int n = -1;
    if (fd < 0 || ioctl(fd, SIOCOUTQ, &n) < 0)
        return -1;
    return n;
}

/* nats-server 2.9.10's stallDuration(): 100 ms, plus 100 ms per tenth of
 * the upper half of max_pending reached, at most 1 s. */
static int64_t stall_ms(uint64_t pending, uint64_t max_pending)
{
    int64_t ttl = STALL_MIN_MS;
    uint64_t half = max_pending / 2;
    if (pending >= max_pending)
        return STALL_MAX_MS;
    if (pending > half && half >= 10)
        ttl += STALL_MIN_MS * (int64_t)((pending - half) / (half / 10));
    return ttl > STALL_MAX_MS ? STALL_MAX_MS : ttl;
}

void shard_note_delivery(struct shard *sh, struct conn *c)
{
    uint64_t mp = (uint64_t)sh->conf->o->max_pending;
    if (c->pending <= mp / 2 || c->no_drain)
        return;
    c->stalled = true;
    if (!sh->note.consumer || c->pending > sh->note.consumer->pending)
        sh->note.consumer = c;
}

void shard_unstalled(struct shard *sh) { sh->park_check = true; }

static void park_add(struct shard *sh, struct park *p)
{
    const struct stall_note *n = &sh->note;
    p->links = n->links;
    p->on_consumer = n->consumer != NULL;
    if (n->consumer) {
        struct conn *k = n->consumer;
        p->slot = k->slot;
        p->gen = k->gen;
        p->start_ms = sh->now;
        p->until_ms = sh->now + stall_ms(k->pending, (uint64_t)sh->conf->o->max_pending);
        p->c_sent = k->sent_total;
        p->c_outq = sock_outq(k->fd);
    }
    if (!p->on_list) {
        p->on_list = true;
        p->next = sh->parked;
        sh->parked = p;
        sh->nparked++;
        STAT_ADD(sh, stalls, 1);
    }
    sh->note = (struct stall_note){0};
}

void shard_unpark(struct shard *sh, struct park *p)
{
    if (!p->on_list)
        return;
    for (struct park **pp = &sh->parked; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    p->on_list = false;
    p->next = NULL;
    sh->nparked--;
}

void shard_park_conn(struct shard *sh, struct conn *c)
{
    park_add(sh, &c->park);
    shard_cancel_recv(sh, c); /* bytes already read wait in c->inq */
}

/* May the parked input p go on? Clears the conditions that no longer hold. */
static bool park_done(struct shard *sh, struct park *p)
{
    if (p->on_consumer) {
        struct conn *k = p->slot < sh->nslots ? sh->slots[p->slot] : NULL;
        if (!k || k->gen != p->gen || k->closing || !k->stalled) {
            p->on_consumer = false;
        } else if (sh->now >= p->until_ms) {
            int outq = sock_outq(k->fd);
            bool progress = k->sent_total != p->c_sent || (outq >= 0 && p->c_outq >= 0 && outq < p->c_outq);
            /* A route is waited for as long as it takes (its peer may be
             * parked on a slow consumer of its own: the backpressure goes
             * end to end); the write deadline and the pings catch a dead one. */
            if (!progress && k->kind != CK_ROUTE) { /* it stopped reading: nobody waits for it again until it sends */
                k->no_drain = true;
                k->stalled = false;
                log_debug("%s:%u - cid:%" PRIu64 " - Timed out of fast producer stall (%" PRId64 "ms), "
                          "consumer not reading", k->ip, k->port, k->cid, p->until_ms - p->start_ms);
            }
            p->on_consumer = false;
        }
    }
    for (uint64_t l = p->links; l; l &= l - 1) {
        int d = __builtin_ctzll(l);
        if (xlink_inflight(link_to(sh, d)) <= (uint64_t)sh->conf->o->xshard_max_pending)
            p->links &= ~(1ull << d);
    }
    return !p->on_consumer && !p->links;
}

static void arm_recv(struct shard *sh, struct conn *c);
static void drain_source(struct shard *sh, int s);

/* Resume the parked inputs that may go on. */
static void resume_parked(struct shard *sh)
{
    if (!sh->parked)
        return;
    sh->park_check = false;
    struct park *ready = NULL;
    for (struct park **pp = &sh->parked; *pp;) {
        struct park *p = *pp;
        if (park_done(sh, p)) {
            *pp = p->next;
            p->on_list = false;
            sh->nparked--;
            p->next = ready;
            ready = p;
        } else {
            pp = &p->next;
        }
    }
    while (ready) { /* resuming may park them again: ready is a private list */
        struct park *p = ready;
        ready = p->next;
        p->next = NULL;
        if (p->kind == PARK_CONN) {
            struct conn *c = park_conn_of(p);
            conn_resume(c);
            if (!c->closing && !c->park.on_list && !c->recv_armed)
                arm_recv(sh, c);
        } else {
            drain_source(sh, (int)(park_xin_of(p) - sh->xin));
        }
    }
}

/* Earliest time a parked input's consumer wait ends (INT64_MAX: none). */
static int64_t park_deadline(struct shard *sh)
{
    int64_t t = INT64_MAX;
    for (struct park *p = sh->parked; p; p = p->next)
        if (p->on_consumer && p->until_ms < t)
            t = p->until_ms;
    return t;
}

/* Before sleeping: ask the receivers of the links our parked inputs wait
 * for to ring us once they consume, then look once more (the receiver
 * stores `consumed` before it reads `want_wake`; see ring_doorbell for the
 * same pattern). True if one may go on now. */
static bool parked_budget_ready(struct shard *sh)
{
    uint64_t want = 0;
    for (struct park *p = sh->parked; p; p = p->next)
        want |= p->links;
    if (!want)
        return false;
    for (uint64_t l = want; l; l &= l - 1)
        atomic_store(&link_to(sh, __builtin_ctzll(l))->want_wake, 1);
    atomic_thread_fence(memory_order_seq_cst);
    for (uint64_t l = want; l; l &= l - 1)
        if (xlink_inflight(link_to(sh, __builtin_ctzll(l))) <= (uint64_t)sh->conf->o->xshard_max_pending)
            return true;
    return false;
}

/* ---- receiving from other shards ---- */

static void process_record(struct shard *sh, struct xrec *r)
{
    struct sub **subs = (struct sub **)(r + 1);
    struct msgview m;
    const char *p = (const char *)(subs + r->nsubs);
    m.subj = p, m.subj_len = r->subj_len, p += r->subj_len;
    m.reply = p, m.reply_len = r->reply_len, p += r->reply_len;
    m.sztok = p, m.sztok_len = r->sztok_len, p += r->sztok_len;
    m.hdrtok = p, m.hdrtok_len = r->hdrtok_len, p += r->hdrtok_len;
    m.payload = p, m.size = r->size, m.hdr = r->hdr;
    for (uint32_t i = 0; i < r->nsubs; i++)
        deliver_local(sh, subs[i], &m);
    if (__builtin_expect(sh->rcol_n != 0, 0))
        route_flush_msg(sh, &m);
    STAT_ADD(sh, mbox_received, 1);
}

/* Process what shard s sent us, until its link is empty or a record ran
 * into a stalled consumer (the link is parked at the next record). */
static void drain_source(struct shard *sh, int s)
{
    struct xin *in = &sh->xin[s];
    struct xlink *l = link_from(sh, s);
    if (in->park.on_list)
        return;
    bool consumed = false;
    for (;;) {
        if (!in->cur) {
            if (!(in->cur = xlink_pop(l)))
                break;
            in->off = 0;
        }
        struct xbatch *b = in->cur;
        bool park = false;
        while (in->off < b->len && !park) {
            struct xrec *r = (struct xrec *)(b->data + in->off);
            sh->note = (struct stall_note){0};
            switch (r->type) {
            case XR_MSG:
                process_record(sh, r);
                break;
            default: /* a record type this build does not know: a bug, not input */
                log_error("shard %d: record of unknown type %u from shard %d", sh->id, r->type, s);
                break;
            }
            in->off += r->total;
            park = sh->note.consumer != NULL;
        }
        if (in->off >= b->len) { /* done with it: it counts against the budget no more */
            xlink_consumed(l, b);
            in->done_batches++;
            in->cur = NULL;
            consumed = true;
        }
        if (park) {
            sh->note.links = 0; /* a link's records never go to other shards */
            park_add(sh, &in->park);
            break;
        }
    }
    sh->note = (struct stall_note){0};
    if (consumed) { /* a sender parked on this link's budget asked to be woken */
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&l->want_wake, memory_order_relaxed) && atomic_exchange(&l->want_wake, 0))
            ring_doorbell(sh, s);
    }
}

static bool mailboxes_empty(struct shard *sh)
{
    for (int s = 0; s < sh->srv->nshards; s++) {
        if (s == sh->id || sh->xin[s].park.on_list)
            continue;
        if (sh->xin[s].cur || !xlink_empty(link_from(sh, s)))
            return false;
    }
    return true;
}

/* ---- retiring subscriptions ----
 *
 * A removed subscription may still be referenced by (a) another shard that
 * matched it before the removal and is still in its read-side section, and
 * (b) records that such a shard pushed onto our links. call_rcu() covers
 * (a): its callback runs after every shard passed a quiescent state, so every
 * record naming the sub has been pushed by then (a sender pushes within the
 * turn that filled a batch). The callback hands the sub back to its owner,
 * which takes its zombie list *before* draining its links and frees it
 * *after*: the drain therefore sees every record that could name it, and
 * deliver_local() skips removed subs. A link that is parked has not been
 * drained, so zombies taken while some link is parked wait in a group until
 * each such link has processed every batch pushed before they were taken. */

static void zombie_cb(struct rcu_head *h)
{
    TSAN_GRACE_ACQUIRE(); /* every reader's uses of s happened before */
    struct sub *s = caa_container_of(h, struct sub, rcu);
    struct shard *sh = s->owner;
    struct sub *head = atomic_load_explicit(&sh->zombies, memory_order_relaxed);
    do {
        s->zombie_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&sh->zombies, &head, s, memory_order_release,
                                                    memory_order_relaxed));
}

void shard_retire_sub(struct shard *sh, struct sub *s)
{
    s->removed = true;
    call_rcu(&s->rcu, zombie_cb);
}

void shard_unsub_later(struct shard *sh, struct sub *s)
{
    s->removed = true; /* deliveries skip it already */
    s->zombie_next = sh->unsub_new;
    sh->unsub_new = s;
}

static void unsub_retry_later(struct shard *sh, struct sub *s)
{
    s->zombie_next = sh->unsub_retry;
    sh->unsub_retry = s;
}

/* ---- batched index writes ----
 *
 * SUBs and UNSUBs of a turn reach the index in batches, one acquisition
 * of each account's writers' lock per batch, instead of one per operation:
 * a client resubscribing thousands of subjects, or a closing connection's
 * subscriptions, would otherwise make every other shard's SUBs queue
 * behind the lock thousands of times. A SUB is in the index before this
 * shard matches anything (shard_publish flushes first) and before the
 * turn's output (its +OK, the PONG after it) leaves, so no client can tell.
 * An UNSUB'd subscription is marked removed at once (nothing is delivered
 * to it) and leaves the index at the end of the turn. */

int shard_index_add(struct shard *sh, struct sub *s)
{
    if (sh->idx_nins == sh->idx_cap) {
        uint32_t ncap = sh->idx_cap ? sh->idx_cap * 2 : 64;
        struct sub **nv = realloc(sh->idx_ins, ncap * sizeof *nv);
        if (!nv) /* no room to batch it: insert it alone */
            return sublist_insert(&s->acc->sl, s);
        sh->idx_ins = nv;
        sh->idx_cap = ncap;
    }
    sh->idx_ins[sh->idx_nins++] = s;
    return 0;
}

/* Scratch for one account's part of a batch. */
static bool idx_scratch(struct shard *sh, uint32_t n)
{
    if (n <= sh->idx_tmp_cap)
        return true;
    struct sub **t = realloc(sh->idx_tmp, n * sizeof *t);
    if (t)
        sh->idx_tmp = t;
    int *rc = t ? realloc(sh->idx_rc, n * sizeof *rc) : NULL;
    if (rc)
        sh->idx_rc = rc;
    if (!t || !rc)
        return false;
    sh->idx_tmp_cap = n;
    return true;
}

static void flush_inserts(struct shard *sh)
{
    uint32_t n = sh->idx_nins;
    sh->idx_nins = 0;
    bool batch = idx_scratch(sh, n);
    for (int a = 0; a < sh->srv->naccounts; a++) {
        struct account *acc = &sh->srv->acc[a];
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            struct sub *s = sh->idx_ins[i];
            if (s->acc != acc || s->removed) /* unsubscribed before it got in: on the removal list */
                continue;
            if (batch)
                sh->idx_tmp[k++] = s;
            else if (sublist_insert(&acc->sl, s) < 0)
                conn_close(s->conn, CR_RESOURCES, false);
            else
                route_note(sh, s);
        }
        if (!k)
            continue;
        sublist_insert_many(&acc->sl, sh->idx_tmp, k, sh->idx_rc);
        for (uint32_t j = 0; j < k; j++)
            if (sh->idx_rc[j] < 0) /* its close unsubscribes it (and the rest of its subs) */
                conn_close(sh->idx_tmp[j]->conn, CR_RESOURCES, false);
            else
                route_note(sh, sh->idx_tmp[j]);
    }
}

/* Removals: subscriptions unsubscribed this turn, and at the end of a turn
 * (`retries`) those whose removal failed for lack of memory before (they
 * stay in the index, marked removed, and are tried once a turn). */
static void flush_removals(struct shard *sh, bool retries)
{
    struct sub *list = sh->unsub_new;
    sh->unsub_new = NULL;
    if (retries && sh->unsub_retry) {
        struct sub *t = sh->unsub_retry;
        while (t->zombie_next)
            t = t->zombie_next;
        t->zombie_next = list;
        list = sh->unsub_retry;
        sh->unsub_retry = NULL;
    }
    uint32_t n = 0;
    for (struct sub *s = list; s; s = s->zombie_next)
        n++;
    bool batch = idx_scratch(sh, n);
    for (int a = 0; a < sh->srv->naccounts && list; a++) {
        struct account *acc = &sh->srv->acc[a];
        uint32_t k = 0;
        struct sub **pp = &list;
        while (*pp) {
            struct sub *s = *pp;
            if (s->acc != acc) {
                pp = &s->zombie_next;
                continue;
            }
            *pp = s->zombie_next; /* this account's: off the list */
            if (batch) {
                sh->idx_tmp[k++] = s;
            } else if (sublist_remove(&acc->sl, s) == -ENOMEM) {
                unsub_retry_later(sh, s);
            } else {
                route_note(sh, s);
                shard_retire_sub(sh, s);
            }
        }
        if (!k)
            continue;
        sublist_remove_many(&acc->sl, sh->idx_tmp, k, sh->idx_rc);
        for (uint32_t j = 0; j < k; j++) {
            if (sh->idx_rc[j] == -ENOMEM)
                unsub_retry_later(sh, sh->idx_tmp[j]);
            else { /* removed, or never got in (-ENOENT) */
                route_note(sh, sh->idx_tmp[j]);
                shard_retire_sub(sh, sh->idx_tmp[j]);
            }
        }
    }
}

void shard_index_flush(struct shard *sh)
{
    if (sh->idx_nins)
        flush_inserts(sh);
    if (sh->unsub_new || sh->unsub_retry)
        flush_removals(sh, true);
}

static void free_subs(struct sub *z)
{
    while (z) {
        struct sub *n = z->zombie_next;
        free(z);
        z = n;
    }
}

/* Free the held zombie groups whose links have caught up, oldest first. */
static void free_held_zombies(struct shard *sh)
{
    int ns = sh->srv->nshards;
    while (sh->zheld) {
        struct zgroup *g = sh->zheld;
        for (int s = 0; s < ns; s++)
            if (g->target[s] != UINT64_MAX && sh->xin[s].done_batches < g->target[s])
                return;
        sh->zheld = g->next;
        if (!sh->zheld)
            sh->zheld_tail = &sh->zheld;
        free_subs(g->subs);
        free(g);
    }
}

/* Give zombies back to the atomic list: they are taken again next turn. */
static void zombies_push_back(struct shard *sh, struct sub *z)
{
    struct sub *t = z;
    while (t->zombie_next)
        t = t->zombie_next;
    struct sub *head = atomic_load_explicit(&sh->zombies, memory_order_relaxed);
    do {
        t->zombie_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&sh->zombies, &head, z, memory_order_release,
                                                    memory_order_relaxed));
}

/* Zombies taken while some link is parked: keep them until each parked
 * link has processed every batch pushed before now. */
static void hold_zombies(struct shard *sh, struct sub *z)
{
    int ns = sh->srv->nshards;
    struct zgroup *g = malloc(sizeof *g + (size_t)ns * sizeof g->target[0]);
    if (!g) { /* try again next turn */
        zombies_push_back(sh, z);
        return;
    }
    g->next = NULL;
    g->subs = z;
    for (int s = 0; s < ns; s++)
        g->target[s] = sh->xin[s].park.on_list
                           ? atomic_load_explicit(&link_from(sh, s)->pushed_batches, memory_order_acquire)
                           : UINT64_MAX;
    *sh->zheld_tail = g;
    sh->zheld_tail = &g->next;
}

static void drain_incoming(struct shard *sh)
{
    struct sub *z = atomic_exchange_explicit(&sh->zombies, NULL, memory_order_acquire);
    int ns = sh->srv->nshards;
    for (int s = 0; s < ns; s++)
        if (s != sh->id)
            drain_source(sh, s);
    if (z) {
        bool parked = false;
        for (int s = 0; s < ns; s++)
            parked |= sh->xin[s].park.on_list;
        if (parked)
            hold_zombies(sh, z);
        else
            free_subs(z);
    }
    if (sh->zheld)
        free_held_zombies(sh);
}

/* ---- the loop ---- */

/* What could not be submitted for lack of an SQE: try again. */
static void retry_io(struct shard *sh)
{
    struct conn *c = sh->retry_recv;
    sh->retry_recv = NULL;
    while (c) {
        struct conn *n = c->retry_next;
        c->retry_recv = false;
        c->retry_next = NULL;
        if (c->closing || c->park.on_list || c->moving || c->auth_pending)
            shard_cancel_recv(sh, c); /* the cancel was what failed */
        else if (!c->recv_armed)
            arm_recv(sh, c);
        maybe_release(sh, c);
        c = n;
    }
    if (sh->retry_query && !atomic_load_explicit(&sh->srv->stopping, memory_order_relaxed))
        arm_query_wake(sh);
}

static void flush_all(struct shard *sh)
{
    struct conn *c = sh->flush_head;
    sh->flush_head = NULL;
    while (c) {
        struct conn *n = c->flush_next;
        c->in_flush_list = false;
        c->flush_next = NULL;
        if (!c->send_inflight && has_output(c) && (!c->closing || c->flush_on_close))
            shard_arm_send(sh, c);
        maybe_release(sh, c);
        c = n;
    }
}

static void run_timers(struct shard *sh)
{
    for (struct tnode *t = twheel_expire(&sh->wheel, sh->now), *n; t; t = n) {
        n = t->expired_next;
        conn_timer(caa_container_of(t, struct conn, timer), sh->now);
    }
}

static void handle_cqe(struct shard *sh, struct io_uring_cqe *cqe)
{
    switch (cqe->user_data & 0xff) {
    case UD_ACCEPT:
        on_accept(sh, cqe);
        break;
    case UD_RECV:
        on_recv(sh, cqe);
        break;
    case UD_SEND:
        on_send(sh, cqe);
        break;
    case UD_CONNECT:
        on_connect(sh, cqe);
        break;
    case UD_QUERY_WAKE: /* the query itself is answered at the start of the next turn */
        if (!atomic_load_explicit(&sh->srv->stopping, memory_order_relaxed))
            arm_query_wake(sh);
        break;
    default: /* doorbells and cancels carry no work of their own */
        break;
    }
}

/* One pass over the first `limit` completions of this batch, handling either
 * the receives or everything else. Returns how many completions it saw. */
static unsigned cqe_pass(struct shard *sh, bool recvs, unsigned limit)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&sh->u.ring, head, cqe)
    {
        if (seen == limit)
            break; /* without DEFER_TASKRUN more may have arrived since the first pass */
        seen++;
        if (((cqe->user_data & 0xff) == UD_RECV) == recvs)
            handle_cqe(sh, cqe);
    }
    return seen;
}

/* Handle a batch of completions in an order that keeps promises to clients:
 *  1. send completions first: bytes a client has already read stop counting
 *     as pending before anything new is queued for it (else a fast reader
 *     could be taken for a slow consumer because of completion order);
 *  2. then the messages other shards pushed before we woke: a client that saw
 *     its publisher's PONG and then sent us an UNSUB must not have that UNSUB
 *     overtake them;
 *  3. then the receives. */
static void process_cqes(struct shard *sh)
{
    unsigned n = cqe_pass(sh, false, UINT_MAX);
    sh->busy = n > 0;
    STAT_ADD(sh, completions, n);
    drain_incoming(sh);
    cqe_pass(sh, true, n);
    io_uring_cq_advance(&sh->u.ring, n);
}

static void shutdown_conns(struct shard *sh)
{
    for (struct conn *c = sh->conns; c; c = c->next)
        if (!c->closing)
            conn_close(c, CR_SERVER_SHUTDOWN, true);
    flush_all(sh);
    /* give pending sends a moment to complete, bounded */
    int64_t deadline = now_ms() + 500;
    while (sh->conns && now_ms() < deadline) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000};
        io_uring_submit_and_wait_timeout(&sh->u.ring, &cqe, 1, &ts, NULL);
        process_cqes(sh);
        sh->now = now_ms();
        flush_all(sh);
    }
    while (sh->conns) {
        struct conn *c = sh->conns;
        conn_release(c);
        if (c->fd >= 0)
            close(c->fd);
        conn_free_slot(sh, c);
    }
}

/* Stop accepting: cancel the multishot accept and shut the listener down,
 * so that the kernel refuses new connections at once. */
static void close_listener(struct shard *sh)
{
    if (sh->listen_fd < 0)
        return;
    struct io_uring_sqe *sqe = get_sqe(sh);
    if (sqe) { /* without one, closing the socket below ends the accept too */
        io_uring_prep_cancel64(sqe, UD(UD_ACCEPT, 0, 0), 0);
        io_uring_sqe_set_data64(sqe, UD(UD_IGNORE, 0, 0));
    }
    shutdown(sh->listen_fd, SHUT_RDWR);
    close(sh->listen_fd);
    sh->listen_fd = -1;
}

/* Pick up a reloaded configuration and lame duck requests. */
static void sync_conf(struct shard *sh)
{
    struct server *srv = sh->srv;
    struct srvconf *c = atomic_load_explicit(&srv->conf, memory_order_acquire);
    if (c != sh->conf) {
        bool recheck = c->auth_changed;
        sh->conf = c;
        for (struct conn *k = sh->conns; k; k = k->next)
            conn_reconfigure(k, recheck);
    }
}

void shard_post(struct shard *sh, struct shard_cmd *cmd)
{
    struct shard_cmd *head = atomic_load_explicit(&sh->cmds, memory_order_relaxed);
    do {
        cmd->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&sh->cmds, &head, cmd, memory_order_release,
                                                    memory_order_relaxed));
    shard_wake_for_query(sh);
}

int shard_post_simple(struct shard *sh, enum shard_cmd_type type, int32_t n)
{
    struct shard_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->type = type;
    c->n = n;
    shard_post(sh, c);
    return 0;
}

static void run_cmd(struct shard *sh, const struct shard_cmd *cmd)
{
    switch (cmd->type) {
    case SC_LAME_DUCK:
        if (sh->ldm_seen)
            return;
        sh->ldm_seen = 1;
        close_listener(sh);
        for (struct conn *k = sh->conns; k; k = k->next)
            conn_send_ldm(k);
        route_shard_ldm(sh); /* shard 0: the routes it handed over */
        return;
    case SC_ROUTE_NOTES:
        route_notes_in(sh, cmd->buf, cmd->buf_len);
        return;
    case SC_ROUTE_CTL:
    case SC_ROUTE_UP:
        route_cmd_in(sh, cmd);
        return;
    case SC_CLIENT_INFO:
        conn_push_info_all(sh);
        return;
    case SC_DIAL:
        dialer_new(sh, &cmd->dial);
        return;
    case SC_ADOPT:
        adopt(sh, cmd->conn);
        return;
    case SC_SYS_PUB:
        sys_publish_now(sh, cmd->sys);
        return;
    case SC_AUTH_DONE: {
        struct conn *c = cmd->auth.slot < sh->nslots ? sh->slots[cmd->auth.slot] : NULL;
        if (!c || c->gen != cmd->auth.gen || !c->auth_pending) { /* closed meanwhile */
            free(cmd->auth.hash);
            return;
        }
        conn_auth_done(c, cmd->auth.ok, cmd->auth.hash);
        conn_resume(c); /* what it sent after the CONNECT */
        if (!c->closing && !c->park.on_list && !c->moving && !c->recv_armed)
            arm_recv(sh, c);
        maybe_release(sh, c);
        return;
    }
    case SC_CLOSE_CLIENTS: {
        int32_t q = cmd->n;
        for (struct conn *k = sh->conns, *n; k && q > 0; k = n) {
            n = k->next;
            if (k->closing || k->kind != CK_CLIENT) /* routes stay up through lame duck mode */
                continue;
            conn_close(k, CR_SERVER_SHUTDOWN, true);
            q--;
        }
        return;
    }
    }
}

/* Carry out the posted commands, oldest first. */
static void run_cmds(struct shard *sh)
{
    struct shard_cmd *c = atomic_exchange_explicit(&sh->cmds, NULL, memory_order_acquire), *fifo = NULL;
    while (c) { /* the list is newest first */
        struct shard_cmd *n = c->next;
        c->next = fifo;
        fifo = c;
        c = n;
    }
    while (fifo) {
        struct shard_cmd *n = fifo->next;
        run_cmd(sh, fifo);
        free(fifo);
        fifo = n;
    }
}

/* After a turn that had work, poll for more for a few microseconds before
 * sleeping: a request/reply exchange usually continues within that time, and
 * being awake saves the wake-up (an IPI, tens of microseconds on a VM). The
 * Go runtime's spinning threads do the same for nats-server.
 *
 * Spins that find nothing are paid from a budget earned by work
 * (docs/design.md §8): each turn's busy time adds spin_pct % of itself to
 * spin_tokens, a fruitless spin spends what it lasted, and a shard without
 * tokens sleeps at once. A spin that finds work costs nothing: it saved a
 * sleep and a wake-up, which cost the CPU about as much. So request/reply
 * traffic, whose spins find the next message, keeps spinning, while a shard
 * under steady low-rate traffic, whose spins mostly find nothing, wastes at
 * most spin_pct % of the CPU the traffic needs. While spinning the shard
 * says it is awake, so other shards do not ring its doorbell. */
static bool spin_for_work(struct shard *sh, int64_t limit_ns, int64_t *spent)
{
    int64_t t0 = now_ns(), t;
    bool found = false;
    atomic_store(&sh->sleeping, 0);
    io_uring_submit_and_get_events(&sh->u.ring);
    for (;;) {
        if (io_uring_cq_ready(&sh->u.ring) || !mailboxes_empty(sh)) {
            found = true;
            t = now_ns();
            break;
        }
        t = now_ns();
        if (t - t0 > limit_ns)
            break;
        io_uring_get_events(&sh->u.ring); /* DEFER_TASKRUN: completions appear only when asked */
        sched_yield(); /* a thread waiting for this core (a client, another shard) goes first */
    }
    *spent = t - t0;
    if (!found) { /* going to sleep: say so, then look once more (see doorbell()) */
        atomic_store(&sh->sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        found = !mailboxes_empty(sh);
    }
    return found;
}

/* Earn spin budget for the work done since the last wake-up. */
static void earn_spin(struct shard *sh, int64_t t)
{
    int64_t worked = t - sh->woke_ns;
    if (worked <= 0 || !sh->woke_ns)
        return;
    sh->spin_tokens += worked * sh->srv->spin_pct / 100;
    int64_t cap = 4 * sh->srv->spin_ns;
    if (sh->spin_tokens > cap)
        sh->spin_tokens = cap;
}

#define SPIN_MIN_NS 2000 /* a budget shorter than this is not worth a spin */

/* Match-cache figures for /subsz and /varz, published once per turn. */
static void publish_cache_figures(struct shard *sh)
{
    uint64_t hits = 0, lookups = 0;
    for (int a = 0; a < sh->srv->naccounts; a++) {
        hits += sh->cache[a].hits;
        lookups += sh->cache[a].hits + sh->cache[a].misses;
    }
    atomic_store_explicit(&sh->cache_lookups, lookups, memory_order_relaxed);
    atomic_store_explicit(&sh->cache_hits, hits, memory_order_relaxed);
}

static void *shard_main(void *arg)
{
    struct shard *sh = arg;
    struct server *srv = sh->srv;
    if ((sh->start_rc = uring_enable(&sh->u)) < 0) {
        sem_post(&sh->started);
        return NULL;
    }
    sem_post(&sh->started); /* shard_start() returns: the ring works */
    rcu_register_thread();
    sh->now = now_ms();
    sh->next_tick = sh->now + TICK_MS;
    twheel_init(&sh->wheel, sh->now);
    sh->conf = atomic_load_explicit(&srv->conf, memory_order_acquire);
    if (sys_shard_init(sh) < 0)
        log_error("shard %d: no memory for the system account's internal client", sh->id);
    arm_accept(sh);
    if (sh->id == 0 && route_listen_fd(srv) >= 0)
        arm_accept_kind(sh, CK_ROUTE);
    route_shard_start(sh);
    arm_query_wake(sh);
    while (!atomic_load_explicit(&srv->stopping, memory_order_relaxed)) {
        struct io_uring_cqe *cqe;
        int64_t wake_at = sh->next_tick, pd = sh->parked ? park_deadline(sh) : INT64_MAX;
        if (pd < wake_at)
            wake_at = pd;
        if (sh->have_dialers) {
            int64_t dn = run_dialers(sh);
            if (dn < wake_at)
                wake_at = dn;
        }
        int64_t wait = wake_at - sh->now;
        if (wait < 1)
            wait = 1;
        struct __kernel_timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000};
        atomic_store(&sh->sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        bool idle = mailboxes_empty(sh) && !atomic_load_explicit(&sh->zombies, memory_order_relaxed) &&
                    !sh->park_check && !(sh->parked && parked_budget_ready(sh));
        gannet_offline();
        int64_t t_idle = now_ns(), idle_from = idle ? t_idle : 0;
        earn_spin(sh, t_idle);
        if (idle && sh->busy && sh->srv->spin_ns > 0 && sh->spin_tokens >= SPIN_MIN_NS) {
            int64_t spent;
            idle = !spin_for_work(sh, sh->spin_tokens < sh->srv->spin_ns ? sh->spin_tokens : sh->srv->spin_ns,
                                  &spent);
            if (idle) /* a spin that found work saved a wake-up, which costs about as much: only misses are paid */
                sh->spin_tokens -= spent;
        }
        if (idle) {
            io_uring_submit_and_wait_timeout(&sh->u.ring, &cqe, 1, &ts, NULL);
            STAT_ADD(sh, sleeps, 1);
        } else {
            io_uring_submit(&sh->u.ring);
        }
        rcu_thread_online();
        atomic_store(&sh->sleeping, 0);
        int64_t t = now_ns();
        sh->woke_ns = t;
        if (idle_from)
            STAT_ADD(sh, idle_ns, (uint64_t)(t - idle_from));
        STAT_ADD(sh, loop_turns, 1);
        sh->now = t / 1000000;
        sync_conf(sh);
        if (atomic_load_explicit(&sh->cmds, memory_order_relaxed))
            run_cmds(sh);
        shard_answer_query(sh);
        process_cqes(sh);
        drain_incoming(sh);
        if (sh->parked)
            resume_parked(sh);
        sh->park_check = false;
        if (sh->idx_nins || sh->unsub_new || sh->unsub_retry)
            shard_index_flush(sh);
        if (sh->rn_len)
            route_notes_flush(sh); /* after the index holds them: shard 0 counts from it */
        if (sh->retry_recv || sh->retry_query)
            retry_io(sh);
        push_batches(sh);
        /* apply index changes to the match caches even without publishing
         * (their queues stay short), and publish the figures for /subsz */
        for (int a = 0; a < srv->naccounts; a++)
            match_cache_sync(&srv->acc[a].sl, &sh->cache[a]);
        publish_cache_figures(sh);
        flush_all(sh);
        if (!sh->accept_armed && sh->listen_fd >= 0 && !sh->ldm_seen)
            arm_accept(sh);
        if (sh->id == 0 && !sh->raccept_armed && route_listen_fd(srv) >= 0)
            arm_accept_kind(sh, CK_ROUTE);
        if (sh->now / WHEEL_TICK_MS > sh->wheel.tick) {
            run_timers(sh);
            flush_all(sh);
        }
        if (sh->now >= sh->next_tick) {
            topz_tick(&sh->topz, sh->now);
            if (sh->resp_list)
                resp_sweep(&sh->srv->resp, &sh->resp_list, &sh->resp_cursor, sh->now, RESP_SWEEP_BUDGET, false);
            sh->next_tick = sh->now + TICK_MS;
        }
        if (sh->sys_out) { /* the events of this turn: published now, between messages */
            sys_flush(sh);
            push_batches(sh);
            flush_all(sh);
        }
        gannet_quiescent();
    }
    close_listener(sh);
    if (sh->id == 0 && route_listen_fd(srv) >= 0) {
        struct io_uring_sqe *sqe = get_sqe(sh);
        if (sqe) {
            io_uring_prep_cancel64(sqe, UD(UD_ACCEPT, CK_ROUTE, 0), 0);
            io_uring_sqe_set_data64(sqe, UD(UD_IGNORE, 0, 0));
        }
        shutdown(route_listen_fd(srv), SHUT_RDWR);
    }
    shutdown_conns(sh);
    drain_incoming(sh);
    sys_shard_fini(sh);
    resp_sweep(&sh->srv->resp, &sh->resp_list, &sh->resp_cursor, sh->now, 0, true);
    TSAN_GRACE_RELEASE(); /* what it read before leaving precedes the callbacks of its last call_rcu */
    tls_thread_exit();
    rcu_unregister_thread();
    return NULL;
}

/* Start the shard's thread and wait until it has enabled its ring. */
int shard_start(struct shard *sh)
{
    int rc = -pthread_create(&sh->thread, NULL, shard_main, sh);
    if (rc < 0)
        return rc;
    while (sem_wait(&sh->started) < 0 && errno == EINTR)
        ;
    if (sh->start_rc < 0) {
        pthread_join(sh->thread, NULL);
        sh->thread_joined = true;
        return sh->start_rc;
    }
    return 0;
}

void shard_join(struct shard *sh)
{
    if (!sh->thread_joined)
        pthread_join(sh->thread, NULL);
    sh->thread_joined = true;
}

void shard_destroy(struct shard *sh)
{
    if (!sh)
        return;
    if (sh->query_fd >= 0)
        close(sh->query_fd);
    uring_destroy(&sh->u);
    for (int d = 0; sh->open && d < sh->srv->nshards; d++) {
        xbatch_free(sh->open[d]);
        if (sh->tgt)
            free(sh->tgt[d].v);
    }
    /* batches a parked link still held are the link's (xlink_destroy frees them) */
    for (struct zgroup *g = sh->zheld, *n; g; g = n) {
        n = g->next;
        free_subs(g->subs);
        free(g);
    }
    free_subs(sh->unsub_retry); /* their grace periods are long over: the index is destroyed after */
    free_subs(sh->unsub_new);
    free(sh->idx_ins);
    free(sh->rn_buf); /* notes of a last turn shard 0 will never read */
    free(sh->rcol);
    free(sh->rconn);
    free(sh->idx_tmp);
    free(sh->idx_rc);
    /* subscriptions retired in the last turns: their grace periods ended in
     * server_free()'s rcu_barrier(), which handed them back here */
    for (struct sub *z = atomic_exchange(&sh->zombies, NULL), *n; z; z = n) {
        n = z->zombie_next;
        free(z);
    }
    free(sh->open);
    free(sh->tgt);
    free(sh->xin);
    sem_destroy(&sh->started);
    for (uint32_t i = 0; i < sh->ndialers; i++)
        if (sh->dialers[i])
            dialer_free(sh, i);
    free(sh->dialers);
    for (struct shard_cmd *c = atomic_exchange(&sh->cmds, NULL), *n; c; c = n) {
        n = c->next;
        if (c->type == SC_AUTH_DONE)
            free(c->auth.hash);
        if (c->type == SC_ROUTE_NOTES || c->type == SC_ROUTE_CTL || c->type == SC_ROUTE_UP)
            free(c->buf);
        if (c->type == SC_SYS_PUB)
            sys_msg_free(c->sys);
        if (c->type == SC_ADOPT) { /* handed over as the server stopped */
            c->conn->sh = sh;
            conn_release(c->conn);
            close(c->conn->fd);
            free(c->conn);
        }
        free(c);
    }
    free(sh->slots);
    free(sh->free_slots);
    for (struct conn *c = sh->conn_pool, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    for (struct oblock *b = sh->oblock_pool, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    for (int a = 0; sh->cache && a < sh->srv->naccounts; a++)
        match_cache_free(&sh->cache[a]);
    free(sh->cache);
    free(sh->astats);
    sys_shard_free(sh);
    free(sh->map_buf);
    shard_closed_free(sh);
    free(sh);
}
