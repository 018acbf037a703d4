/* raw_conns.c — many connections: N idle clients, each with one
 * subscription, then a 1:1 throughput run beside them.
 *
 * Reports the server's VmRSS before the clients connect and after they all
 * answered a PING (so every one is fully set up), hence RSS per connection;
 * the time to connect them; and whether every idle client is still there and
 * answering after the traffic (none may have been dropped, none may have
 * received a message meant for the benchmark subject).
 *
 * With --idle S, the server's CPU time is measured over S seconds in which
 * only the idle clients are connected (after the RSS reading).
 *
 * Ephemeral ports: connect() picks a local port per (source address,
 * destination) pair, from net.ipv4.ip_local_port_range (~28,000 ports by
 * default). Past a third of that range the clients are spread over
 * more loopback source addresses (127.0.0.2, 127.0.0.3, ...: all of
 * 127.0.0.0/8 is local), bound with IP_BIND_ADDRESS_NO_PORT so that the
 * port is still chosen by connect(). The server keeps one address and port.
 * They are closed with SO_LINGER 0 (RST, no TIME_WAIT): 100,000 TIME_WAIT
 * sockets per run would overflow net.ipv4.tcp_max_tw_buckets on repeats.
 *
 * Single-threaded; the throughput part is raw_throughput() as is.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* Clients one source address may take: a third of the ephemeral port
 * range. The kernel's search for a free port slows as the range fills: on
 * the 2-core VM 19,000 clients took 7.9 s to connect from one address,
 * 0.9 s from two. */
static int per_source(void)
{
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2)
            lo = 32768, hi = 60999;
        fclose(f);
    }
    int n = (hi - lo + 1) / 3;
    return n > 1000 ? n : 1000;
}

/* Opens conns [from, to): dial, SUB, PING; then waits for their PONGs.
 * Client i uses source address 127.0.0.(1 + i / per_src). */
static int open_batch(const struct params *p, struct result *r, struct rconn *cs, int from, int to,
                      int per_src)
{
    uint64_t deadline = now_ns() + 10000000000ull;
    for (int i = from; i < to; i++) {
        char line[64], src[24];
        int n = snprintf(line, sizeof line, "SUB idle.%d 1\r\nPING\r\n", i);
        struct dial_opts o = {0};
        if (i >= per_src) {
            snprintf(src, sizeof src, "127.0.0.%d", 1 + i / per_src);
            o.src = src;
        }
        if (rconn_dial_ex(&cs[i], p->host, p->port, IDLE_RBUF, &o) < 0 ||
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
    int per_src = p->per_src ? p->per_src : per_source();
    if (n > per_src && strncmp(p->host, "127.", 4) != 0) {
        fail(r, "%d clients need more than one source address: only on loopback (127.x)", n);
        free(cs);
        return;
    }
    if ((n - 1) / per_src + 1 > 254) {
        fail(r, "%d clients: more than 254 source addresses of %d", n, per_src);
        free(cs);
        return;
    }
    r->src_addrs = n ? (n - 1) / per_src + 1 : 0;
    r->rss_before_kb = proc_rss_kb(p->server_pid);
    uint64_t t0 = now_ns();
    for (int i = 0; i < n && !r->failed; i += BATCH)
        open_batch(p, r, cs, i, i + BATCH < n ? i + BATCH : n, per_src);
    r->connect_s = (double)(now_ns() - t0) / 1e9;
    if (!r->failed) {
        /* let the server settle (lazy allocations, GC) before reading RSS */
        struct timespec ts = {0, 500000000};
        nanosleep(&ts, NULL);
        r->rss_after_kb = proc_rss_kb(p->server_pid);
        if (p->idle > 0) {
            /* nothing but the idle clients: what they cost the server at rest */
            struct cpu_snap a = {0}, b = {0};
            snap_take(&a, p->server_pids, p->nservers, 0);
            struct timespec it = {(time_t)p->idle, (long)((p->idle - (double)(time_t)p->idle) * 1e9)};
            nanosleep(&it, NULL);
            snap_take(&b, p->server_pids, p->nservers, 1);
            r->idle_s = (double)(b.t_ns - a.t_ns) / 1e9;
            r->idle_server_cpu_s = (double)(b.server_ns - a.server_ns) / 1e9;
            r->idle_noise_s = (double)others_delta(&a, &b) * tick_s();
            free(a.procs);
            free(b.procs);
        }
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
        if (cs[i].fd >= 0 || cs[i].rbuf) {
            struct linger lg = {1, 0};
            if (cs[i].fd >= 0)
                setsockopt(cs[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            rconn_close(&cs[i]);
        }
    free(cs);
}
