/* The monitoring HTTP server (nats-compat.md §8): one thread, its own
 * io_uring ring, HTTP/1.x connections answered the way nats-server 2.9.10's
 * Go http.Server answers them (status lines, header order, Content-Length
 * up to 2048 bytes and chunked beyond, keep-alive rules, error texts).
 *
 * A monitoring connection:
 *
 *   accept ─> READING ──(head complete: http_parse)──> route ─> handler ─> response queued
 *               ^   │                                                            │
 *               │   └─ body bytes skipped (Content-Length / chunked)             v
 *               └────────────────(keep-alive, all sent)─────────────────────  SENDING
 *                                                                                │
 *   bad request, Connection: close, HTTP/1.0 ──(all sent)──> DRAINING: write side shut,
 *   input dropped until EOF or 500 ms (so the client reads the answer, not a reset) ─> CLOSED
 *
 * One recv and at most one send in flight per connection; user_data holds
 * op | slot | generation, so a completion for a reused slot is ignored.
 * Requests are answered in order, synchronously: /connz and /subsz block the
 * thread in server_query() while the shards answer (bounded; acceptable for
 * monitoring). The thread never touches a shard's connections.
 *
 * Threads: monitor_start/monitor_stop on the control thread; everything
 * else on the monitor thread, which owns struct monitor and every mconn. It
 * is a liburcu-QSBR reader (the configuration it reads is freed after a
 * grace period on reload), offline while it waits on its ring. */
#include "monitor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mon.h"
#include "opts.h"
#include "tls.h"

#define MON_RING_ENTRIES 256
#define MON_MAX_CONNS 256          /* open at once; beyond, the longest-idle one is dropped */
#define MON_SLOTS (2 * MON_MAX_CONNS) /* room for dropped ones whose ops are still completing */
#define IN_INIT 4096
#define IN_MAX (HTTP_MAX_HEAD + 4096)
#define OUT_HIGH (1 << 20)         /* stop reading pipelined requests above this much unsent output */
#define BODY_DISCARD_MAX (256 * 1024) /* Go's maxPostHandlerReadBytes */
#define CHUNK_LIMIT 2048           /* Go's bufferBeforeChunkingSize: longer bodies go chunked */
#define DRAIN_MS 500               /* Go's rstAvoidanceDelay */
#define TICK_MS 250

enum mop { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_WAKE, OP_TICK };
#define UD(op, slot, gen) (((uint64_t)(gen) << 32) | ((uint64_t)(slot) << 8) | (uint64_t)(op))

struct mconn {
    int fd;
    uint32_t slot, gen;
    char *in;                  /* received, not yet parsed */
    size_t in_len, in_cap;
    struct http_scan scan;     /* end-of-head search of the request at in[0] */
    char *out;                 /* responses not yet sent: out[out_off..out_len) */
    size_t out_len, out_off, out_cap;
    uint64_t skip_left;        /* Content-Length body bytes still to drop */
    struct http_chunked ck;    /* a chunked body being dropped */
    bool chunked;
    bool recv_armed, send_armed;
    bool close_after;          /* close once the queued output is out */
    bool draining;             /* write side shut: dropping input until EOF or drain_deadline */
    bool closing;              /* shut down: freed when no op is in flight */
    bool oom;
    int64_t last_ms, drain_deadline;
    struct tls_sess *tls;      /* HTTPS: the session between the socket and in/out */
    char *win;                 /* HTTPS: wire bytes received */
};

#define TLS_WIN 16384

/* ------------------------------------------------------------ ring helpers */

static struct io_uring_sqe *get_sqe(struct monitor *m)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&m->ring);
    if (!sqe) {
        io_uring_submit(&m->ring);
        sqe = io_uring_get_sqe(&m->ring);
    }
    return sqe; /* never NULL after a submit: the SQ ring is empty then */
}

static void arm_accept(struct monitor *m)
{
    struct io_uring_sqe *sqe = get_sqe(m);
    io_uring_prep_accept(sqe, m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, 0, 0));
}

static void arm_wake(struct monitor *m)
{
    struct io_uring_sqe *sqe = get_sqe(m);
    io_uring_prep_read(sqe, m->wake_fd, &m->wake_buf, sizeof m->wake_buf, 0);
    io_uring_sqe_set_data64(sqe, UD(OP_WAKE, 0, 0));
}

static void arm_tick(struct monitor *m)
{
    struct io_uring_sqe *sqe = get_sqe(m);
    m->tick = (struct __kernel_timespec){.tv_sec = 0, .tv_nsec = TICK_MS * 1000000LL};
    io_uring_prep_timeout(sqe, &m->tick, 0, 0);
    io_uring_sqe_set_data64(sqe, UD(OP_TICK, 0, 0));
}

/* ------------------------------------------------------------ connections */

static void conn_free(struct monitor *m, struct mconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    m->conns[c->slot] = NULL;
    free(c->in);
    free(c->out);
    tls_sess_free(c->tls);
    free(c->win);
    free(c);
}

/* Shut the socket (ending the ops in flight); free once none is left. */
static void conn_close(struct monitor *m, struct mconn *c)
{
    if (!c->closing) {
        c->closing = true;
        shutdown(c->fd, SHUT_RDWR);
    }
    if (!c->recv_armed && !c->send_armed)
        conn_free(m, c);
}

static void arm_recv(struct monitor *m, struct mconn *c)
{
    if (c->recv_armed || c->closing)
        return;
    if (c->draining) { /* input is dropped: read over what is there */
        c->in_len = 0;
    } else if (c->in_len == c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap * 2 : IN_INIT;
        if (cap > IN_MAX)
            cap = IN_MAX;
        if (cap == c->in_cap)
            return; /* full: http_parse has answered 431 already */
        char *p = realloc(c->in, cap);
        if (!p) {
            conn_close(m, c);
            return;
        }
        c->in = p;
        c->in_cap = cap;
    }
    struct io_uring_sqe *sqe = get_sqe(m);
    if (c->tls) {
        if (!c->win && !(c->win = malloc(TLS_WIN))) {
            conn_close(m, c);
            return;
        }
        io_uring_prep_recv(sqe, c->fd, c->win, TLS_WIN, 0);
    } else {
        io_uring_prep_recv(sqe, c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    }
    io_uring_sqe_set_data64(sqe, UD(OP_RECV, c->slot, c->gen));
    c->recv_armed = true;
}

static void arm_send(struct monitor *m, struct mconn *c)
{
    if (c->send_armed || c->closing)
        return;
    const char *p = c->out ? c->out + c->out_off : NULL;
    size_t n = c->out_len - c->out_off;
    if (c->tls) { /* the queued answers become records once the last ones are out */
        if (!tls_sess_pending(c->tls) && n && tls_sess_done(c->tls)) {
            if (tls_sess_write(c->tls, p, n) < 0) {
                conn_close(m, c);
                return;
            }
            c->out_off = c->out_len;
        }
        n = tls_sess_output(c->tls, &p);
    }
    if (!n)
        return;
    struct io_uring_sqe *sqe = get_sqe(m);
    io_uring_prep_send(sqe, c->fd, p, n, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, UD(OP_SEND, c->slot, c->gen));
    c->send_armed = true;
}

static void out_put(struct mconn *c, const void *p, size_t n)
{
    if (c->oom || !n)
        return;
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n)
            cap *= 2;
        char *b = realloc(c->out, cap);
        if (!b) {
            c->oom = true;
            return;
        }
        c->out = b;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void out_str(struct mconn *c, const char *s) { out_put(c, s, strlen(s)); }

static void out_fmt(struct mconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(struct mconn *c, const char *fmt, ...)
{
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n > 0)
        out_put(c, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

/* ------------------------------------------------------------ responses */

/* What a handler hands to Go's ResponseWriter. */
struct resp {
    int status;
    const char *hdrs;          /* set by the handler, "Name: value\r\n" each, in Go's (sorted) order */
    bool hdr_conn_close;       /* among them, Connection: close */
    bool hdr_has_cl;           /* among them, Content-Length */
    bool sniff;                /* no Content-Type set: Go detects one from the body */
    const char *body;
    size_t len;
};

/* http.DetectContentType for the bodies the monitor sends without a type:
 * the index page and the handlers' error texts. */
static const char *sniff(const char *p, size_t n)
{
    if (n >= 5 && !strncasecmp(p, "<html", 5))
        return "text/html; charset=utf-8";
    for (size_t i = 0; i < n && i < 512; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x08 || c == 0x0b || (c >= 0x0e && c <= 0x1a) || (c >= 0x1c && c <= 0x1f))
            return "application/octet-stream";
    }
    return "text/plain; charset=utf-8";
}

/* Go's response.WriteHeader/chunkWriter.writeHeader for a handler that
 * wrote its whole body with one Write (all of nats-server's do). */
static void respond(struct mconn *c, const struct http_req *rq, const struct resp *p)
{
    bool is11 = rq->major > 1 || rq->minor >= 1;
    bool head = rq->head;
    /* the body is buffered (and its length known) only up to 2048 bytes */
    bool has_cl = p->hdr_has_cl || (p->len <= CHUNK_LIMIT && (!head || p->len > 0));
    bool close_after = false;
    const char *conn = NULL; /* the Connection header Go adds */
    if (rq->keep_alive10 && (head || has_cl)) {
        if (!p->hdr_conn_close)
            conn = "keep-alive";
    } else if (!is11 || rq->wants_close) {
        close_after = true;
    }
    if (p->hdr_conn_close)
        close_after = true;
    if (rq->expect_continue && is11 && rq->body != HB_NONE)
        close_after = true; /* 100-continue never sent: the body may still be on its way */
    bool too_big = false;
    if (rq->body != HB_NONE && !close_after && rq->body == HB_LENGTH && rq->content_length >= BODY_DISCARD_MAX) {
        too_big = true; /* more than Go reads to keep the connection */
        conn = "close";
        close_after = true;
    }
    bool chunked = false;
    if (!head && !has_cl) {
        if (is11)
            chunked = true;
        else
            close_after = true; /* HTTP/1.0 without a length: the close ends the body */
    }
    if (close_after && !p->hdr_conn_close)
        conn = is11 || too_big ? "close" : NULL;

    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);

    out_fmt(c, "HTTP/1.%d %d %s\r\n", is11 ? 1 : 0, p->status, http_status_text(p->status));
    if (p->hdrs)
        out_str(c, p->hdrs);
    out_fmt(c, "Date: %s\r\n", date);
    if (has_cl && !p->hdr_has_cl)
        out_fmt(c, "Content-Length: %zu\r\n", p->len);
    if (p->sniff && p->len > 0)
        out_fmt(c, "Content-Type: %s\r\n", sniff(p->body, p->len));
    if (conn)
        out_fmt(c, "Connection: %s\r\n", conn);
    if (chunked)
        out_str(c, "Transfer-Encoding: chunked\r\n");
    out_str(c, "\r\n");
    if (!head) {
        if (chunked && p->len)
            out_fmt(c, "%zx\r\n", p->len);
        out_put(c, p->body, p->len);
        if (chunked)
            out_str(c, p->len ? "\r\n0\r\n\r\n" : "0\r\n\r\n");
    }
    if (close_after)
        c->close_after = true;
    else if (rq->body == HB_LENGTH)
        c->skip_left = rq->content_length;
    else if (rq->body == HB_CHUNKED) {
        memset(&c->ck, 0, sizeof c->ck);
        c->chunked = true;
    }
}

static void respond_empty(struct mconn *c, const struct http_req *rq, int status, const char *hdrs)
{
    struct resp p = {.status = status,
                     .hdrs = hdrs,
                     .hdr_conn_close = hdrs && strstr(hdrs, "Connection: close"),
                     .hdr_has_cl = hdrs && strstr(hdrs, "Content-Length:")};
    respond(c, rq, &p);
}

static void respond_not_found(struct mconn *c, const struct http_req *rq)
{
    static const char body[] = "404 page not found\n";
    struct resp p = {.status = 404,
                     .hdrs = "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n",
                     .body = body,
                     .len = sizeof body - 1};
    respond(c, rq, &p);
}

/* http.Redirect(w, r, url, 301) as ServeMux does for an unclean path */
static void respond_redirect(struct mconn *c, const struct http_req *rq, const char *path, size_t plen)
{
    size_t qn = rq->query ? rq->query_len : 0;
    char *url = malloc(3 * plen + qn + 2), *loc = malloc(3 * (3 * plen + qn + 2) + 1);
    char *html = malloc(6 * (3 * plen + qn + 2) + 64), *hdrs = NULL;
    if (!url || !loc || !html) {
        c->oom = true;
        goto out;
    }
    size_t n = http_escape_path(path, plen, url);
    if (qn) {
        url[n++] = '?';
        memcpy(url + n, rq->query, qn);
        n += qn;
    }
    url[n] = 0;
    size_t ln = 0, hn = 0; /* Location: hexEscapeNonASCII(url); the body: htmlEscape(url) */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)url[i];
        ln += ch >= 0x80 ? (size_t)sprintf(loc + ln, "%%%02X", ch) : (loc[ln] = (char)ch, 1);
        const char *e = ch == '&' ? "&amp;" : ch == '\'' ? "&#39;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;"
                      : ch == '"' ? "&#34;" : NULL;
        if (e)
            hn += (size_t)sprintf(html + hn, "%s", e);
        else
            html[hn++] = (char)ch;
    }
    loc[ln] = 0;
    html[hn] = 0;
    bool get = rq->method_len == 3 && !memcmp(rq->method, "GET", 3);
    bool ct = get || rq->head;
    if (asprintf(&hdrs, "%sLocation: %s\r\n", ct ? "Content-Type: text/html; charset=utf-8\r\n" : "", loc) < 0) {
        hdrs = NULL;
        c->oom = true;
        goto out;
    }
    char *body = NULL;
    int bn = get ? asprintf(&body, "<a href=\"%s\">Moved Permanently</a>.\n\n", html) : 0;
    struct resp p = {.status = 301, .hdrs = hdrs, .body = body, .len = bn > 0 ? (size_t)bn : 0};
    respond(c, rq, &p);
    free(body);
out:
    free(url);
    free(loc);
    free(html);
    free(hdrs);
}

/* ------------------------------------------------------------ routing */

static const struct route {
    const char *path;
    handler_fn fn;
} routes[MP_COUNT] = {
    [MP_ROOT] = {"/", ep_root},
    [MP_VARZ] = {"/varz", ep_varz},
    [MP_CONNZ] = {"/connz", ep_connz},
    [MP_ROUTEZ] = {"/routez", ep_routez},
    [MP_GATEWAYZ] = {"/gatewayz", ep_gatewayz},
    [MP_LEAFZ] = {"/leafz", ep_leafz},
    [MP_SUBSZ] = {"/subsz", ep_subsz},
    [MP_SUBSCRIPTIONSZ] = {"/subscriptionsz", ep_subsz},
    [MP_STACKSZ] = {"/stacksz", ep_stacksz},
    [MP_ACCOUNTZ] = {"/accountz", ep_accountz},
    [MP_ACCSTATZ] = {"/accstatz", ep_accstatz},
    [MP_JSZ] = {"/jsz", ep_jsz},
    [MP_HEALTHZ] = {"/healthz", ep_healthz},
    [MP_IPQUEUESZ] = {"/ipqueuesz", ep_ipqueuesz},
    [MP_METRICS] = {"/metrics", ep_metrics},
    [MP_SHARDZ] = {"/shardz", ep_shardz},
    [MP_TOPZ] = {"/topz", ep_topz},
    [MP_DASHBOARD] = {"/dashboard", ep_dashboard},
};

/* path.Clean of a rooted path, without ServeMux's kept trailing slash */
static char *clean_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *in = malloc(n + 1), *out = malloc(n + 3);
    if (!in || !out) {
        free(in);
        free(out);
        return NULL;
    }
    snprintf(in, n + 1, "%s/%s", a, b);
    size_t k = http_clean_path(in, strlen(in), out);
    if (k > 1 && out[k - 1] == '/')
        k--;
    out[k] = 0;
    free(in);
    return out;
}

static void run_handler(struct monitor *m, struct mconn *c, const struct http_req *rq, handler_fn fn)
{
    struct mreq q = {.query = rq->query, .qlen = rq->query ? rq->query_len : 0};
    struct reply r = {0};
    fn(m, &q, &r);
    if (!r.body && r.kind != R_ERROR) {
        r.kind = R_ERROR;
        r.status = 400;
    }
    struct resp p = {.status = r.status ? r.status : 200, .body = r.body ? r.body : "", .len = r.len};
    char *wrapped = NULL, ctype[128];
    if (r.kind == R_JSON) { /* nats-server's ResponseHandler: JSONP when ?callback= */
        size_t cn;
        char *cb = q_get(&q, "callback", &cn);
        if (cb && cn) {
            wrapped = malloc(cn + r.len + 3);
            if (wrapped) {
                memcpy(wrapped, cb, cn);
                wrapped[cn] = '(';
                memcpy(wrapped + cn + 1, r.body, r.len);
                wrapped[cn + 1 + r.len] = ')';
                p.body = wrapped;
                p.len = cn + r.len + 2;
            }
            p.hdrs = "Content-Type: application/javascript\r\n";
        } else {
            p.hdrs = "Content-Type: application/json\r\n";
        }
        free(cb);
    } else if (r.kind == R_TYPED) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s\r\n", r.ctype);
        p.hdrs = ctype;
    } else {
        p.sniff = true;
    }
    respond(c, rq, &p);
    free(wrapped);
    if (!r.static_body)
        free(r.body);
}

static void handle(struct monitor *m, struct mconn *c, const struct http_req *rq)
{
    if (rq->expect_other) /* Go: 417 and close */
        return respond_empty(c, rq, 417, "Connection: close\r\n");
    if (rq->star) {
        if (rq->method_len == 7 && !memcmp(rq->method, "OPTIONS", 7))
            return respond_empty(c, rq, 200, "Content-Length: 0\r\n");
        bool is11 = rq->major > 1 || rq->minor >= 1;
        return respond_empty(c, rq, 400, is11 ? "Connection: close\r\n" : NULL);
    }
    char *path = malloc(rq->path_len + 1), *clean = malloc(rq->path_len + 3);
    if (!path || !clean) {
        c->oom = true;
        goto out;
    }
    long pn = http_path_unescape(rq->path, rq->path_len, path);
    if (pn < 0)
        pn = 0; /* cannot happen: http_parse checked the escapes */
    size_t cn = (size_t)pn;
    if (!rq->authority) { /* ServeMux: an unclean path is redirected to the clean one */
        cn = http_clean_path(path, (size_t)pn, clean);
        if (cn != (size_t)pn || memcmp(clean, path, cn) != 0) {
            respond_redirect(c, rq, clean, cn);
            goto out;
        }
    }
    for (int i = 0; i < MP_COUNT; i++) {
        if (m->pattern[i] && strlen(m->pattern[i]) == (size_t)pn && !memcmp(m->pattern[i], path, (size_t)pn)) {
            run_handler(m, c, rq, routes[i].fn);
            goto out;
        }
    }
    respond_not_found(c, rq);
out:
    free(path);
    free(clean);
}

/* ------------------------------------------------------------ input */

/* Parse and answer every complete request in c->in, then keep what is left. */
static void conn_input(struct monitor *m, struct mconn *c)
{
    size_t pos = 0;
    while (pos < c->in_len && !c->close_after && !c->closing && c->out_len - c->out_off < OUT_HIGH) {
        size_t avail = c->in_len - pos;
        if (c->skip_left) {
            size_t k = avail < c->skip_left ? avail : (size_t)c->skip_left;
            pos += k;
            c->skip_left -= k;
            continue;
        }
        if (c->chunked) {
            long k = http_chunked_skip(&c->ck, c->in + pos, avail);
            if (k < 0 || c->ck.total > BODY_DISCARD_MAX) { /* nothing after it can be trusted */
                c->close_after = true;
                pos = c->in_len;
                break;
            }
            pos += (size_t)k;
            if (c->ck.done)
                c->chunked = false;
            continue;
        }
        struct http_req rq;
        long hl = http_parse(c->in + pos, avail, &c->scan, &rq);
        if (hl == 0)
            break;
        if (hl < 0) {
            char b[512];
            out_put(c, b, http_error_response(&rq, b, sizeof b));
            c->close_after = true;
            pos = c->in_len;
            break;
        }
        memset(&c->scan, 0, sizeof c->scan);
        handle(m, c, &rq);
        pos += (size_t)hl;
    }
    if (pos) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    if (c->oom)
        conn_close(m, c);
}

/* After any event: send what is queued, read when there is room for it. */
static void conn_pump(struct monitor *m, struct mconn *c)
{
    if (c->closing)
        return;
    arm_send(m, c);
    if (c->draining || (!c->close_after && c->out_len - c->out_off < OUT_HIGH))
        arm_recv(m, c);
}

/* Everything queued is out: keep going, or start closing. */
static void conn_sent_all(struct monitor *m, struct mconn *c)
{
    c->out_len = c->out_off = 0;
    if (c->close_after && !c->draining) {
        shutdown(c->fd, SHUT_WR);
        c->draining = true;
        c->drain_deadline = now_ms() + DRAIN_MS;
        return;
    }
    conn_input(m, c); /* requests held back while output was high */
}

/* ------------------------------------------------------------ completions */

static void on_accept(struct monitor *m, int res)
{
    if (m->stopping)
        return;
    if (res < 0) {
        if (res != -EMFILE && res != -ENFILE && res != -ENOBUFS && res != -ENOMEM)
            arm_accept(m);
        return; /* out of descriptors or memory: the tick re-arms */
    }
    int fd = res, one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* Go's default */
    uint32_t open = 0, slot = MON_SLOTS;
    struct mconn *old = NULL;
    for (uint32_t i = 0; i < MON_SLOTS; i++) {
        struct mconn *c = m->conns[i];
        if (!c) {
            if (slot == MON_SLOTS)
                slot = i;
        } else if (!c->closing) {
            open++;
            if (!old || c->last_ms < old->last_ms)
                old = c;
        }
    }
    if (open >= MON_MAX_CONNS && old) /* drop the connection idle the longest */
        conn_close(m, old);
    struct mconn *c = slot < MON_SLOTS ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        close(fd);
        arm_accept(m);
        return;
    }
    c->fd = fd;
    c->slot = slot;
    c->gen = ++m->next_gen; /* only its distinctness per slot matters */
    if (m->https) { /* the client tls {} of the configuration in force (reloaded certificates apply) */
        const struct opts *o = atomic_load(&m->srv->conf)->o;
        void *ctx = o->tls.mon_ctx ? o->tls.mon_ctx : o->tls.ctx;
        if (!ctx || !(c->tls = tls_sess_new(ctx, true, NULL))) {
            close(fd);
            free(c);
            arm_accept(m);
            return;
        }
    }
    c->last_ms = now_ms();
    m->conns[slot] = c;
    arm_recv(m, c);
    arm_accept(m);
}

/* HTTPS: decrypted request bytes join the plaintext input. */
static int into_in(void *arg, const char *p, size_t n)
{
    struct mconn *c = arg;
    if (!p)
        return 0; /* the handshake is done */
    if (c->in_len + n > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : IN_INIT;
        while (cap < c->in_len + n)
            cap *= 2;
        if (cap > IN_MAX + TLS_WIN)
            return -1; /* beyond what one request head may take */
        char *b = realloc(c->in, cap);
        if (!b)
            return -1;
        c->in = b;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, p, n);
    c->in_len += n;
    return 0;
}

/* Go's http.Server answers a plain HTTP request on its TLS port so, in
 * clear, and closes (net/http's "Client sent an HTTP request to an HTTPS
 * server"), when the first record header reads as an HTTP method. */
static bool looks_like_http(const char *p, size_t n)
{
    static const char *const m[] = {"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (n >= 5 && memcmp(p, m[i], 5) == 0)
            return true;
    return false;
}

static int tls_input(struct monitor *m, struct mconn *c, size_t n)
{
    if (!tls_sess_done(c->tls) && !c->in_len && looks_like_http(c->win, n)) {
        tls_sess_free(c->tls);
        c->tls = NULL;
        out_str(c, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
        c->close_after = true;
        return 1; /* what it sent is not parsed */
    }
    return tls_sess_input(c->tls, c->win, n, into_in, c) < 0 ? -1 : 0;
}

static void on_recv(struct monitor *m, struct mconn *c, int res)
{
    c->recv_armed = false;
    if (c->closing) {
        conn_close(m, c);
        return;
    }
    if (res == -EINTR || res == -EAGAIN) {
        conn_pump(m, c);
        return;
    }
    if (res <= 0) { /* EOF or error: answers already queued still go out */
        if (c->out_off < c->out_len && !c->draining && res == 0) {
            c->close_after = true;
            return;
        }
        conn_close(m, c);
        return;
    }
    c->last_ms = now_ms();
    int tr = c->tls && !c->draining ? tls_input(m, c, (size_t)res) : 0;
    if (tr < 0) {
        conn_close(m, c);
        return;
    }
    if (!c->draining && tr == 0) {
        if (!c->tls)
            c->in_len += (size_t)res;
        conn_input(m, c);
        if (c->closing)
            return;
    }
    conn_pump(m, c);
}

static void on_send(struct monitor *m, struct mconn *c, int res)
{
    c->send_armed = false;
    if (c->closing || res <= 0) {
        if (res == -EINTR || res == -EAGAIN) {
            conn_pump(m, c);
            return;
        }
        conn_close(m, c);
        return;
    }
    c->last_ms = now_ms();
    if (c->tls)
        tls_sess_took(c->tls, (size_t)res);
    else
        c->out_off += (size_t)res;
    if (c->out_off == c->out_len && (!c->tls || !tls_sess_pending(c->tls))) {
        conn_sent_all(m, c);
        if (c->closing)
            return;
    }
    conn_pump(m, c);
}

static void on_tick(struct monitor *m)
{
    int64_t now = now_ms();
    if (now - m->cpu_sample_ms >= 1000) {
        sample_cpu(m);
        watch_config(m);
    }
    for (uint32_t i = 0; i < MON_SLOTS; i++) {
        struct mconn *c = m->conns[i];
        if (c && c->draining && !c->closing && now >= c->drain_deadline)
            conn_close(m, c);
    }
    arm_tick(m);
}

static void on_cqe(struct monitor *m, struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    enum mop op = (enum mop)(ud & 0xff);
    uint32_t slot = (uint32_t)(ud >> 8) & 0xffffff, gen = (uint32_t)(ud >> 32);
    switch (op) {
    case OP_ACCEPT:
        on_accept(m, cqe->res);
        return;
    case OP_WAKE:
        m->stopping = true;
        return;
    case OP_TICK:
        if (!m->stopping)
            on_tick(m);
        return;
    case OP_RECV:
    case OP_SEND: {
        struct mconn *c = slot < MON_SLOTS ? m->conns[slot] : NULL;
        if (!c || c->gen != gen)
            return; /* a late completion for a freed slot */
        if (op == OP_RECV)
            on_recv(m, c, cqe->res);
        else
            on_send(m, c, cqe->res);
        return;
    }
    }
}

static void *mon_main(void *arg)
{
    struct monitor *m = arg;
    /* The endpoints read the published configuration, which a reload frees
     * after an RCU grace period: the thread is a QSBR reader, offline while
     * it waits for completions (its quiescent state), as the shards are. */
    rcu_register_thread();
    arm_wake(m);
    arm_tick(m);
    arm_accept(m);
    while (!m->stopping) {
        gannet_offline();
        int rc = io_uring_submit_and_wait(&m->ring, 1);
        rcu_thread_online();
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
            log_error("monitoring: io_uring: %s", strerror(-rc));
            break;
        }
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&m->ring, head, cqe)
        {
            on_cqe(m, cqe);
            n++;
        }
        io_uring_cq_advance(&m->ring, n);
    }
    tls_thread_exit();
    rcu_unregister_thread();
    return NULL;
}

/* ------------------------------------------------------------ start / stop */

/* normalizeBasePath: "" is "/", a leading '/' added, then path.Clean */
static char *normalize_base(const char *p)
{
    return clean_join("/", p && *p ? p : "/");
}

/* net.Listen("tcp", host:port) as Go reports its errors */
static int mon_listen(struct monitor *m, const char *host, int port, char *err, size_t errlen)
{
    char hp[300];
    bool v6 = strchr(host, ':') != NULL;
    snprintf(hp, sizeof hp, v6 ? "[%s]:%d" : "%s:%d", host, port == -1 ? 0 : port);
    if (port < -1 || port > 65535) {
        snprintf(err, errlen, "listen tcp: address %d: invalid port", port);
        return -EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port == -1 ? 0 : port);
    const char *h = *host ? host : NULL;
    int rc = getaddrinfo(h, ps, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "listen tcp: lookup %s: no such host", host);
        return -EADDRNOTAVAIL;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    const char *what = "socket";
    if (fd >= 0) {
        /* SO_REUSEADDR as Go sets it; no SO_REUSEPORT: a second server on
         * the same monitor port must fail, as nats-server does */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        what = "bind";
        if (bind(fd, res->ai_addr, res->ai_addrlen) == 0) {
            what = "listen";
            if (listen(fd, 1024) == 0) {
                freeaddrinfo(res);
                struct sockaddr_storage ss;
                socklen_t sl = sizeof ss;
                getsockname(fd, (struct sockaddr *)&ss, &sl);
                if (ss.ss_family == AF_INET6) {
                    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                    inet_ntop(AF_INET6, &a->sin6_addr, m->bound_addr, sizeof m->bound_addr);
                    m->bound_port = ntohs(a->sin6_port);
                } else {
                    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                    inet_ntop(AF_INET, &a->sin_addr, m->bound_addr, sizeof m->bound_addr);
                    m->bound_port = ntohs(a->sin_port);
                }
                return fd;
            }
        }
    }
    rc = -errno;
    char eb[128];
    snprintf(eb, sizeof eb, "%s", strerror(-rc));
    if (eb[0] >= 'A' && eb[0] <= 'Z' && !(eb[1] >= 'A' && eb[1] <= 'Z'))
        eb[0] = (char)(eb[0] - 'A' + 'a'); /* Go's errno text */
    snprintf(err, errlen, "listen tcp %s: %s: %s", hp, what, eb);
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

static void mon_free(struct monitor *m)
{
    if (m->ring_ready)
        io_uring_queue_exit(&m->ring); /* cancels whatever is still in flight */
    for (uint32_t i = 0; m->conns && i < MON_SLOTS; i++)
        if (m->conns[i])
            conn_free(m, m->conns[i]);
    free(m->conns);
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    if (m->wake_fd >= 0)
        close(m->wake_fd);
    for (int i = 0; i < MP_COUNT; i++)
        free(m->pattern[i]);
    free(m->base);
    free(m);
}

int monitor_start(struct server *s)
{
    const struct opts *o = atomic_load(&s->conf)->o;
    if (o->http_port == 0 && o->https_port == 0)
        return 0;
    if (o->http_port != 0 && o->https_port != 0) {
        log_fatal("Can't start monitoring: can't specify both HTTP (%d) and HTTPs (%d) ports", o->http_port,
                  o->https_port);
        return -EINVAL;
    }
    if (o->https_port != 0 && !o->tls.ctx) {
        log_fatal("Can't start monitoring: TLS cert and key required for HTTPS");
        return -EINVAL;
    }
    struct monitor *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->srv = s;
    m->listen_fd = m->wake_fd = -1;
    m->conf_gen = atomic_load(&s->conf)->gen;
    m->config_load_ns = s->start_unix_ns;
    m->conns = calloc(MON_SLOTS, sizeof *m->conns);
    m->base = normalize_base(o->http_base_path);
    int rc = -ENOMEM;
    if (!m->conns || !m->base)
        goto fail;
    for (int i = 0; i < MP_COUNT; i++)
        if (!(m->pattern[i] = clean_join(m->base, routes[i].path)))
            goto fail;
    const char *host = o->http_host ? o->http_host : o->host;
    char err[512];
    m->https = o->https_port != 0;
    m->listen_fd = mon_listen(m, host, m->https ? o->https_port : o->http_port, err, sizeof err);
    if (m->listen_fd < 0) {
        rc = m->listen_fd;
        log_fatal("Can't start monitoring: can't listen to the monitor port: %s", err);
        goto fail;
    }
    log_info("Starting %s monitor on %s%s%s:%d", m->https ? "https" : "http", strchr(host, ':') ? "[" : "", host,
             strchr(host, ':') ? "]" : "", m->bound_port);
    m->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (m->wake_fd < 0) {
        rc = -errno;
        goto fail;
    }
    /* A plain ring: monitoring is not on the message path, and the control
     * thread creates it while the monitor thread submits to it. */
    if ((rc = io_uring_queue_init(MON_RING_ENTRIES, &m->ring, 0)) < 0) {
        log_fatal("Can't start monitoring: io_uring: %s", strerror(-rc));
        goto fail;
    }
    m->ring_ready = true;
    sample_cpu(m);
    if ((rc = -pthread_create(&m->thread, NULL, mon_main, m)) < 0)
        goto fail;
    m->thread_started = true;
    s->monitor = m;
    ports_file_write_http(o, s->port, m->bound_addr, m->bound_port);
    return 0;
fail:
    mon_free(m);
    return rc;
}

void monitor_stop(struct server *s)
{
    struct monitor *m = s->monitor;
    if (!m)
        return;
    uint64_t one = 1;
    if (write(m->wake_fd, &one, sizeof one) < 0)
        log_error("monitoring: cannot wake the monitor thread: %s", strerror(errno));
    if (m->thread_started)
        pthread_join(m->thread, NULL);
    mon_free(m);
    s->monitor = NULL;
}
