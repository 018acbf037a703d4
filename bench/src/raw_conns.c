/* raw_conns.c — many connections: N idle clients, each with one
 * subscription, then a 1:1 throughput run beside them.
 *
 * Reports the server's VmRSS before the clients connect and after they all
 * answered a PING (so every one is fully set up), hence RSS per connection;
 * the time to connect them; and whether every idle client is still there and
 * answering after the traffic (none may have been dropped, none may have
 * received a message meant for the benchmark subject).
 *
 * Single-threaded; the throughput part is raw_throughput() as is.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "rconn.h"

#define IDLE_RBUF 2048 /* INFO, PONG: idle clients never see more */
#define BATCH 256      /* connects in flight before waiting for their PONGs */

/* Reads c until it has seen `want` PONGs or the deadline passes. */
static int wait_pongs(struct rconn *c, uint64_t want, uint64_t deadline)
{
    while (c->pongs < want && !c->failed) {
        uint64_t t = now_ns();
        if (t >= deadline)
            return -ETIMEDOUT;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        if (poll(&pf, 1, (int)((deadline - t) / 1000000u) + 1) > 0 && rconn_read(c, NULL) < 0)
            return -EPIPE;
    }
    return c->failed ? -EPROTO : 0;
}

/* Opens conns [from, to): dial, SUB, PING; then waits for their PONGs. */
static int open_batch(const struct params *p, struct result *r, struct rconn *cs, int from, int to)
{
    uint64_t deadline = now_ns() + 10000000000ull;
    for (int i = from; i < to; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "SUB idle.%d 1\r\nPING\r\n", i);
        if (rconn_dial(&cs[i], p->host, p->port, IDLE_RBUF) < 0 ||
            rconn_write_all(&cs[i], line, (size_t)n, 5000) < 0) {
            fail(r, "idle connection %d: %s", i, cs[i].err);
            return -1;
        }
    }
    for (int i = from; i < to; i++)
        if (wait_pongs(&cs[i], 1, deadline) < 0) {
            fail(r, "idle connection %d: no PONG: %s", i, cs[i].err);
            return -1;
        }
    return 0;
}

/* PINGs every idle client and counts those that answer. */
static int check_alive(struct rconn *cs, int n)
{
    uint64_t deadline = now_ns() + 10000000000ull;
    int ok = 0;
    for (int i = 0; i < n; i++)
        if (cs[i].fd >= 0 && !cs[i].failed)
            rconn_write_all(&cs[i], "PING\r\n", 6, 1000);
    for (int i = 0; i < n; i++)
        if (cs[i].fd >= 0 && wait_pongs(&cs[i], 2, deadline) == 0 && cs[i].msgs == 0)
            ok++;
    return ok;
}

void raw_conns(const struct params *p, struct result *r)
{
    int n = p->conns;
    struct rconn *cs = calloc((size_t)n, sizeof *cs);
    if (!cs) {
        fail(r, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++)
        cs[i].fd = -1;
    r->rss_before_kb = proc_rss_kb(p->server_pid);
    uint64_t t0 = now_ns();
    for (int i = 0; i < n && !r->failed; i += BATCH)
        open_batch(p, r, cs, i, i + BATCH < n ? i + BATCH : n);
    r->connect_s = (double)(now_ns() - t0) / 1e9;
    if (!r->failed) {
        /* let the server settle (lazy allocations, GC) before reading RSS */
        struct timespec ts = {0, 500000000};
        nanosleep(&ts, NULL);
        r->rss_after_kb = proc_rss_kb(p->server_pid);
        struct params q = *p;
        q.scen = SC_PUBSUB;
        q.pubs = q.subs = 1;
        raw_throughput(&q, r);
    }
    if (!r->failed) {
        r->conns_ok = check_alive(cs, n);
        if (r->conns_ok != n)
            fail(r, "%d of %d idle connections lost or misbehaving after the traffic",
                 n - r->conns_ok, n);
    }
    for (int i = 0; i < n; i++)
        if (cs[i].fd >= 0 || cs[i].rbuf)
            rconn_close(&cs[i]);
    free(cs);
}
