/* bench.h — what every part of natsbench shares: the parameters of one run,
 * the result it reports, and the timed window around the measured part.
 *
 * natsbench runs one scenario against one server and prints one JSON object
 * on stdout. The harness (bench/harness.py) runs the same binary with the
 * same arguments against gannet and nats-server, so nothing here may depend
 * on which server it talks to.
 *
 * Threads: main() fills struct params and struct result; the scenario code
 * may start worker threads, which only touch the result through the
 * functions documented here (window_end() is safe from any one thread).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "hist.h"
#include "sysstat.h"

enum scenario { SC_PUB, SC_PUBSUB, SC_FANOUT, SC_QUEUE, SC_REQREP, SC_ONEWAY, SC_CONNS };
enum mode { MODE_RAW, MODE_NATS };

#define PFX_LEN 16 /* payload prefix: publisher index, sequence, send time */
/* Publisher index of an interest probe (cluster runs, see --sub-port): sent
 * on the scenario's own subject before the warm-up until every subscriber
 * has one, and left out of every count and check. */
#define PROBE_PUB 0xFFFFFFFFu
#define MAX_CONNS_PER_SIDE 64

struct params {
    const char *host;
    int port;
    enum mode mode;
    enum scenario scen;
    size_t size;        /* payload bytes, >= PFX_LEN */
    int pubs;           /* publisher connections */
    int subs;           /* subscriber connections (fan-out width, queue members) */
    int threads;        /* event-loop threads in raw throughput mode */
    double duration;    /* seconds of publishing in the timed window */
    double warmup;      /* seconds of untimed traffic first, same connections */
    double timeout;     /* the whole run's cap: past it the run fails */
    uint64_t max_msgs;  /* cap on published messages per publisher (0: none) */
    uint64_t window;    /* in-flight messages per subscriber (0: from size) */
    uint64_t count;     /* req/reply: requests; one-way: messages */
    double rate;        /* one-way: messages per second */
    int conns;          /* many-connections scenario: idle clients */
    double idle;        /* conns: seconds of server CPU measured with only idle clients */
    int per_src;        /* conns: clients per loopback source address (0: from the port range) */
    int stalled;        /* fanout: extra subscribers that stop reading (not accounted) */
    double churn;       /* SUB+UNSUB pairs per second on unique inboxes, beside the traffic */
    int svc_import;     /* reqrep: requester in account APP, responder in SVC, through a service import */
    double storm;       /* reqrep: CONNECTs per second as user "storm" (a bcrypt password) meanwhile */
    pid_t server_pid;   /* whose RSS to measure (the first of server_pids) */
    pid_t server_pids[MAX_SERVERS]; /* whose CPU to measure, summed (a cluster's nodes) */
    int nservers;
    /* Cluster runs: subscriber i (the responder, in reqrep) dials
     * sub_ports[i % nsub_ports] while publishers and the requester dial
     * port; an interest barrier (probes, PROBE_PUB) runs before the warm-up,
     * since a subscription on one node reaches the others asynchronously. */
    int sub_ports[MAX_SERVERS];
    int nsub_ports;
    /* Accounts (raw throughput): publisher i and subscriber i log in as
     * user u<i % acct_users>, password "bench" (0: no credentials). */
    int acct_users;
    int payload_json;   /* payload bodies after the prefix: JSON-like text (json_fill), not filler */
    int wire_port;      /* count TCP bytes of the sockets with this local port over the window (0: no) */
    /* libnats mode: TLS on every connection, the server verified against
     * this CA as "localhost" (NULL: plain TCP); optional client cert/key */
    const char *tls_ca, *tls_cert, *tls_key;
};

/* The port subscriber (or responder) i dials. */
static inline int sub_port(const struct params *p, int i)
{
    return p->nsub_ports ? p->sub_ports[i % p->nsub_ports] : p->port;
}

struct result {
    int failed;         /* correctness failure: the numbers are not reported */
    char error[512];    /* first failure, human-readable */
    uint64_t published; /* messages published in the window */
    uint64_t delivered; /* messages received by subscribers in the window */
    double elapsed;     /* seconds from first publish to last delivery */
    struct cpu_snap w0, w1; /* CPU snapshots around the timed window */
    struct hist lat;    /* latency in ns (latency scenarios only) */
    uint64_t member[MAX_CONNS_PER_SIDE]; /* queue/fan-out: per-subscriber counts */
    int nmember;
    /* many-connections scenario */
    long rss_before_kb, rss_after_kb;
    double connect_s;
    int conns_ok;
    int src_addrs;      /* source addresses the idle clients were spread over */
    double idle_s, idle_server_cpu_s, idle_noise_s; /* the idle window (--idle) */
    /* stalled subscribers: how many the server had cut by the end of the run */
    int stalled_cut;
    uint64_t stalled_bytes; /* what they had been sent that was read afterwards */
    uint64_t churn_pairs;   /* SUB+UNSUB pairs sent in the timed window */
    uint64_t storm_logins;  /* --storm: CONNECTs accepted (PONG received) in the timed window */
    uint64_t storm_refused; /* --storm: logins that failed (not checked in time) in the window */
    uint64_t probes;        /* interest probes received (cluster runs; not counted as messages) */
    double barrier_s;       /* how long the interest barrier took */
    /* --wire-port: wire_bytes() at window_begin and window_end */
    uint64_t wire_tx0, wire_rx0, wire_tx1, wire_rx1;
    int wire_socks0, wire_socks1; /* sockets counted (<0: -errno) */
};

/* Marks the run failed with a printf-style reason; only the first is kept.
 * Thread-safe. */
void fail(struct result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic clock in ns: the one clock every timestamp in natsbench uses. */
uint64_t now_ns(void);

/* Starts / ends the timed window: CPU snapshots of the server, this process,
 * the machine. window_end() may be called from one worker thread. */
void window_begin(const struct params *p, struct result *r);
void window_end(const struct params *p, struct result *r);

/* Messages a subscriber may have outstanding before publishers wait: keeps
 * both servers below their slow-consumer limits so that a run measures the
 * rate the server sustains rather than how much it can buffer. */
uint64_t flow_window(const struct params *p);

/* payload.c: n bytes of JSON-like records from seed (deterministic). */
void json_fill(unsigned char *dst, size_t n, uint64_t seed);
/* payload.c: sums tcpi_bytes_acked and tcpi_bytes_received over the
 * established TCP sockets whose local port is port; returns how many, or
 * -errno. */
int wire_bytes(int port, uint64_t *acked, uint64_t *received);

/* Scenarios (each returns after filling r; failures go through fail()). */
void raw_throughput(const struct params *p, struct result *r);
void raw_reqrep(const struct params *p, struct result *r);
void raw_oneway(const struct params *p, struct result *r);
void raw_conns(const struct params *p, struct result *r);
void nats_throughput(const struct params *p, struct result *r);
void nats_reqrep(const struct params *p, struct result *r);
void nats_oneway(const struct params *p, struct result *r);

/* Payload prefix: every payload starts with publisher, sequence, send time.
 * Native byte order: the same process writes and reads it. Inline: at 16 B
 * the subscriber runs these 15 million times a second. */
static inline void pfx_put(unsigned char *dst, uint32_t pub, uint32_t seq, uint64_t t_ns)
{
    memcpy(dst, &pub, 4);
    memcpy(dst + 4, &seq, 4);
    memcpy(dst + 8, &t_ns, 8);
}

static inline void pfx_get(const unsigned char *src, uint32_t *pub, uint32_t *seq, uint64_t *t_ns)
{
    memcpy(pub, src, 4);
    memcpy(seq, src + 4, 4);
    memcpy(t_ns, src + 8, 8);
}

#endif
