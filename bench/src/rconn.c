/* rconn.c — see rconn.h for the parser's states. */
#include "rconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Names the client in the server's connz; no verbose +OK so that the only
 * traffic is the benchmark's own. */
static const char connect_line[] =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,"
    "\"name\":\"natsbench\",\"lang\":\"c\",\"version\":\"1.0\",\"protocol\":1,"
    "\"echo\":true,\"headers\":false,\"no_responders\":false}\r\n";

static void cfail(struct rconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cfail(struct rconn *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
}

int rconn_dial(struct rconn *c, const char *host, int port, size_t rcap)
{
    return rconn_dial_ex(c, host, port, rcap, NULL);
}

int rconn_dial_ex(struct rconn *c, const char *host, int port, size_t rcap, const struct dial_opts *o)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->rcap = rcap;
    c->rbuf = malloc(rcap);
    if (!c->rbuf) {
        cfail(c, "out of memory");
        return -ENOMEM;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        cfail(c, "bad address %s", host);
        return -EINVAL;
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        int e = errno;
        cfail(c, "socket: %s", strerror(e));
        return -e;
    }
    if (o && o->rcvbuf && setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof o->rcvbuf) < 0) {
        int e = errno;
        cfail(c, "SO_RCVBUF: %s", strerror(e));
        return -e;
    }
    if (o && o->src) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        int one = 1;
        if (inet_pton(AF_INET, o->src, &sa.sin_addr) != 1) {
            cfail(c, "bad source address %s", o->src);
            return -EINVAL;
        }
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            int e = errno;
            cfail(c, "bind %s: %s", o->src, strerror(e));
            return -e;
        }
    }
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        cfail(c, "connect %s:%d: %s", host, port, strerror(e));
        return -e;
    }
    /* Publishers write in large blocks already; small latency probes must not
     * wait for Nagle. */
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* CONNECT may go before INFO arrives: the server reads it after sending
     * INFO, and the parser skips INFO when it comes. */
    if (o && o->user) { /* the same CONNECT with credentials (accounts scenarios) */
        char line[sizeof connect_line + 256];
        int n = snprintf(line, sizeof line, "%.*s,\"user\":\"%s\",\"pass\":\"%s\"}\r\n",
                         (int)(sizeof connect_line - 4), connect_line, o->user, o->pass ? o->pass : "");
        if (n < 0 || (size_t)n >= sizeof line) {
            cfail(c, "credentials too long");
            return -EINVAL;
        }
        return rconn_write_all(c, line, (size_t)n, 5000);
    }
    return rconn_write_all(c, connect_line, sizeof connect_line - 1, 5000);
}

int rconn_set_nonblock(struct rconn *c)
{
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

void rconn_close(struct rconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->rbuf);
    c->rbuf = NULL;
}

int rconn_write_all(struct rconn *c, const void *buf, size_t len, int timeout_ms)
{
    const char *p = buf;
    while (len) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
            int n = poll(&pf, 1, timeout_ms);
            if (n == 0) {
                cfail(c, "write timed out after %d ms", timeout_ms);
                return -ETIMEDOUT;
            }
            continue;
        }
        int e = w < 0 ? errno : EPIPE;
        cfail(c, "write: %s", strerror(e));
        return -e;
    }
    return 0;
}

static uint64_t parse_u(const char *s, size_t n, int *bad)
{
    uint64_t v = 0;
    if (!n || n > 19)
        *bad = 1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            *bad = 1;
            return 0;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v;
}

/* General form of the MSG arguments: any run of spaces or tabs separates. */
static int split_args(const char *s, size_t n, const char **tok, size_t *tl)
{
    int nt = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= n)
            break;
        if (nt == 4)
            return -1;
        tok[nt] = s + i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        tl[nt] = (size_t)(s + i - tok[nt]);
        nt++;
    }
    return nt;
}

/* "MSG subj sid [reply] size" [s, s+n): sets up the payload skip. */
static int parse_msg(struct rconn *c, const char *s, size_t n)
{
    c->pfx_have = 0;
    c->reply_len = 0;
    if (!c->want_reply) {
        /* Fast path, most of the client's own CPU at 16 B payloads: only the
         * size is needed, and it is the digits that end the line. */
        const char *p = s + n;
        uint64_t v = 0, mul = 1;
        int k = 0;
        while (p > s + 4 && p[-1] >= '0' && p[-1] <= '9' && k < 18) {
            v += (uint64_t)(p[-1] - '0') * mul;
            mul *= 10;
            p--;
            k++;
        }
        if (k && (p[-1] == ' ' || p[-1] == '\t')) {
            c->plen = v;
            c->skip = v + 2;
            return 0;
        }
    }
    const char *tok[4];
    size_t tl[4];
    int nt = split_args(s + 4, n - 4, tok, tl);
    if (nt < 3)
        return -1;
    int bad = 0;
    c->plen = parse_u(tok[nt - 1], tl[nt - 1], &bad);
    c->sid = (uint32_t)parse_u(tok[1], tl[1], &bad);
    if (nt == 4) {
        if (tl[2] >= sizeof c->reply)
            return -1;
        memcpy(c->reply, tok[2], tl[2]);
        c->reply_len = tl[2];
        c->reply[tl[2]] = 0;
    }
    if (bad)
        return -1;
    c->skip = c->plen + 2;
    return 0;
}

/* One control line [s, s+n) without its CRLF. */
static void parse_line(struct rconn *c, const char *s, size_t n)
{
    if (n >= 4 && memcmp(s, "MSG ", 4) == 0) {
        if (parse_msg(c, s, n) < 0)
            cfail(c, "bad MSG line: %.*s", (int)(n < 100 ? n : 100), s);
    } else if (n >= 4 && memcmp(s, "PING", 4) == 0) {
        c->pong_owed = 1;
    } else if (n >= 4 && memcmp(s, "PONG", 4) == 0) {
        c->pongs++;
    } else if (n >= 3 && memcmp(s, "+OK", 3) == 0) {
        /* verbose is off; tolerated all the same */
    } else if (n >= 4 && memcmp(s, "INFO", 4) == 0) {
        /* first INFO, or an update: nothing to do */
    } else if (n >= 4 && memcmp(s, "-ERR", 4) == 0) {
        cfail(c, "server said: %.*s", (int)(n < 150 ? n : 150), s);
    } else {
        cfail(c, "unexpected from server: %.*s", (int)(n < 100 ? n : 100), s);
    }
}

/* Walks rbuf[rpos, rlen): the state machine drawn in rconn.h. */
static void feed(struct rconn *c)
{
    while (!c->failed) {
        size_t avail = c->rlen - c->rpos;
        if (c->skip) {
            if (!avail)
                break;
            size_t n = avail < c->skip ? avail : c->skip;
            /* The prefix is the payload's first bytes: it is being consumed
             * from its start, so what was kept so far is what was consumed. */
            size_t want = c->plen < PFX_LEN ? c->plen : PFX_LEN;
            if (c->pfx_have < want) {
                size_t k = want - c->pfx_have < n ? want - c->pfx_have : n;
                memcpy(c->pfx + c->pfx_have, c->rbuf + c->rpos, k);
                c->pfx_have += k;
            }
            c->rpos += n;
            c->skip -= n;
            if (!c->skip) {
                c->msgs++;
                if (c->on_msg)
                    c->on_msg(c);
            }
            continue;
        }
        char *s = c->rbuf + c->rpos;
        char *nl = memchr(s, '\n', avail);
        if (!nl) {
            /* A line cut by the end of the read: the only copy the parser makes. */
            if (c->rpos == 0 && c->rlen == c->rcap) {
                cfail(c, "control line longer than %zu bytes", c->rcap);
                return;
            }
            memmove(c->rbuf, s, avail);
            c->rpos = 0;
            c->rlen = avail;
            return;
        }
        size_t n = (size_t)(nl - s);
        c->rpos += n + 1;
        if (n && s[n - 1] == '\r')
            n--;
        parse_line(c, s, n);
    }
    if (c->rpos == c->rlen)
        c->rpos = c->rlen = 0;
}

ssize_t rconn_read(struct rconn *c, int *full)
{
    size_t space = c->rcap - c->rlen;
    ssize_t n;
    do
        n = read(c->fd, c->rbuf + c->rlen, space);
    while (n < 0 && errno == EINTR);
    if (full)
        *full = n > 0 && (size_t)n == space;
    if (n < 0) {
        if (errno == EAGAIN)
            return 0;
        int e = errno;
        cfail(c, "read: %s", strerror(e));
        return -e;
    }
    if (n == 0) {
        cfail(c, "server closed the connection");
        return -EPIPE;
    }
    c->rlen += (size_t)n;
    feed(c);
    return n;
}

int rconn_sync(struct rconn *c, int timeout_ms)
{
    uint64_t want = c->pongs + 1;
    int rc = rconn_write_all(c, "PING\r\n", 6, timeout_ms);
    if (rc < 0)
        return rc;
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (c->pongs < want && !c->failed) {
        uint64_t t = now_ns();
        if (t >= deadline) {
            cfail(c, "no PONG within %d ms", timeout_ms);
            return -ETIMEDOUT;
        }
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        int n = poll(&pf, 1, (int)((deadline - t) / 1000000u) + 1);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0 && rconn_read(c, NULL) < 0)
            return -EPIPE;
        if (c->pong_owed) {
            c->pong_owed = 0;
            if ((rc = rconn_write_all(c, "PONG\r\n", 6, timeout_ms)) < 0)
                return rc;
        }
    }
    return c->failed ? -EPROTO : 0;
}
