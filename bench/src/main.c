/* natsbench — one benchmark scenario against one NATS server, one JSON
 * object on stdout. See bench/README.md; bench/harness.py drives it.
 *
 *   natsbench --port 4222 --server-pid PID --scenario pubsub --size 128
 *
 * Exit status: 0 when the run was correct (every message accounted for),
 * 1 when it failed (the JSON says why), 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

static const char *const scen_names[] = {"pub", "pubsub", "fanout", "queue", "reqrep", "oneway", "conns"};

static void usage(void)
{
    fprintf(stderr,
            "usage: natsbench --port P [options]\n"
            "  --host ADDR        server address (127.0.0.1)\n"
            "  --server-pid PID   measure this process's CPU time and RSS; a comma list\n"
            "                     (a cluster's nodes): CPU summed over them, RSS of the first\n"
            "  --sub-port P[,P]   cluster: subscriber i (responder) dials the i-th port (mod n),\n"
            "                     publishers (requester) --port; interest barrier first\n"
            "  --mode raw|nats    raw sockets (default) or libnats\n"
            "  --scenario S       pub pubsub fanout queue reqrep oneway conns\n"
            "  --size N           payload bytes, >= 16 (128)\n"
            "  --pubs N --subs N  publisher / subscriber connections (1 / 4)\n"
            "  --threads N        raw mode event-loop threads (1)\n"
            "  --duration S       seconds of publishing, timed (2)\n"
            "  --warmup S         seconds of untimed traffic first (0.2)\n"
            "  --timeout S        cap for the whole run; past it, the run fails (30)\n"
            "  --max-msgs N       cap on messages per publisher\n"
            "  --window N         in-flight messages per subscriber (from size)\n"
            "  --count N          reqrep: requests, oneway: messages (20000)\n"
            "  --rate R           oneway: messages per second (20000)\n"
            "  --conns N          conns: idle clients (10000)\n"
            "  --idle S           conns: seconds of server CPU measured while all are idle (0)\n"
            "  --per-src N        conns: clients per source address 127.0.0.x (1/3 of the port range)\n"
            "  --stalled N        fanout: N more subscribers that stop reading (0)\n"
            "  --churn R          SUB+UNSUB pairs per second on unique inboxes meanwhile (0)\n"
            "  --svc-import       reqrep through a service import (users req/rsp, password bench)\n"
            "  --storm R          reqrep: R CONNECTs/s as user storm (password bench, bcrypt) meanwhile (0)\n"
            "  --acct-users N     pub, pubsub (raw): publisher i and subscriber i log in as user\n"
            "                     u<i %% N>, password bench (one account per user in the config)\n"
            "  --payload json     raw throughput: JSON-like text after the 16-byte prefix (filler)\n"
            "  --wire-port P      TCP bytes of the sockets with local port P over the window\n"
            "                     (a seed node's cluster port: its routes), from sock_diag\n"
            "  --tls-ca FILE      libnats: TLS on every connection, the server's certificate\n"
            "                     verified against FILE for the name localhost\n"
            "  --tls-cert FILE --tls-key FILE  libnats: a client certificate as well\n");
    exit(2);
}

static int parse_scen(const char *s)
{
    for (int i = 0; i < (int)(sizeof scen_names / sizeof *scen_names); i++)
        if (strcmp(s, scen_names[i]) == 0)
            return i;
    usage();
    return -1;
}

/* "1,2,3" into v (at most MAX_SERVERS, each > 0); returns the count. */
static int parse_list(const char *s, int *v)
{
    int n = 0;
    while (*s) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x <= 0 || n == MAX_SERVERS || (*end && *end != ','))
            usage();
        v[n++] = (int)x;
        s = *end ? end + 1 : end;
    }
    if (!n)
        usage();
    return n;
}

static void parse_args(int argc, char **argv, struct params *p)
{
    static const struct option opts[] = {
        {"host", 1, 0, 'h'},     {"port", 1, 0, 'p'},    {"server-pid", 1, 0, 'P'},
        {"mode", 1, 0, 'm'},     {"scenario", 1, 0, 's'}, {"size", 1, 0, 'z'},
        {"pubs", 1, 0, 'b'},     {"subs", 1, 0, 'u'},    {"threads", 1, 0, 't'},
        {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'w'},  {"timeout", 1, 0, 'T'},
        {"max-msgs", 1, 0, 'M'}, {"window", 1, 0, 'W'},  {"count", 1, 0, 'n'},
        {"rate", 1, 0, 'r'},     {"conns", 1, 0, 'c'},   {"idle", 1, 0, 'i'},
        {"sub-port", 1, 0, 'B'},
        {"stalled", 1, 0, 'S'},  {"churn", 1, 0, 'C'}, {"svc-import", 0, 0, 'I'}, {"storm", 1, 0, 'X'},   {"per-src", 1, 0, 'A'},
        {"acct-users", 1, 0, 'U'}, {"payload", 1, 0, 'L'}, {"wire-port", 1, 0, 'N'},
        {"tls-ca", 1, 0, 'K'},   {"tls-cert", 1, 0, 'E'}, {"tls-key", 1, 0, 'Y'},
        {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'h': p->host = optarg; break;
        case 'p': p->port = atoi(optarg); break;
        case 'P': {
            int v[MAX_SERVERS];
            p->nservers = parse_list(optarg, v);
            for (int i = 0; i < p->nservers; i++)
                p->server_pids[i] = (pid_t)v[i];
            p->server_pid = p->server_pids[0];
            break;
        }
        case 'B': p->nsub_ports = parse_list(optarg, p->sub_ports); break;
        case 'm': p->mode = strcmp(optarg, "nats") == 0 ? MODE_NATS : MODE_RAW; break;
        case 's': p->scen = (enum scenario)parse_scen(optarg); break;
        case 'z': p->size = strtoul(optarg, NULL, 10); break;
        case 'b': p->pubs = atoi(optarg); break;
        case 'u': p->subs = atoi(optarg); break;
        case 't': p->threads = atoi(optarg); break;
        case 'd': p->duration = atof(optarg); break;
        case 'w': p->warmup = atof(optarg); break;
        case 'T': p->timeout = atof(optarg); break;
        case 'M': p->max_msgs = strtoull(optarg, NULL, 10); break;
        case 'W': p->window = strtoull(optarg, NULL, 10); break;
        case 'n': p->count = strtoull(optarg, NULL, 10); break;
        case 'r': p->rate = atof(optarg); break;
        case 'c': p->conns = atoi(optarg); break;
        case 'i': p->idle = atof(optarg); break;
        case 'A': p->per_src = atoi(optarg); break;
        case 'S': p->stalled = atoi(optarg); break;
        case 'C': p->churn = atof(optarg); break;
        case 'I': p->svc_import = 1; break;
        case 'X': p->storm = atof(optarg); break;
        case 'U': p->acct_users = atoi(optarg); break;
        case 'L':
            if (strcmp(optarg, "json") == 0)
                p->payload_json = 1;
            else if (strcmp(optarg, "filler") != 0)
                usage();
            break;
        case 'N': p->wire_port = atoi(optarg); break;
        case 'K': p->tls_ca = optarg; break;
        case 'E': p->tls_cert = optarg; break;
        case 'Y': p->tls_key = optarg; break;
        default: usage();
        }
    }
    if (!p->port || p->size < PFX_LEN || p->pubs < 1 || p->pubs > MAX_CONNS_PER_SIDE ||
        p->subs < 1 || p->subs > MAX_CONNS_PER_SIDE || p->rate <= 0 || p->count < 1 ||
        p->stalled < 0 || p->stalled > MAX_CONNS_PER_SIDE || p->churn < 0 || p->idle < 0 || p->per_src < 0 ||
        p->acct_users < 0 || p->acct_users > MAX_CONNS_PER_SIDE || p->wire_port < 0 ||
        !p->tls_cert != !p->tls_key || (p->tls_cert && !p->tls_ca))
        usage();
}

/* The many-connections scenario needs one descriptor per client. */
static void raise_nofile(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_max < (rlim_t)need) {
        struct rlimit hi = {(rlim_t)need, (rlim_t)need};
        if (setrlimit(RLIMIT_NOFILE, &hi) == 0) /* works as root */
            return;
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void json_str(const char *key, const char *s)
{
    printf("\"%s\":\"", key);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    printf("\",");
}

static void print_result(const struct params *p, const struct result *r)
{
    /* A run that failed before its window closed has no second snapshot:
     * report zeros rather than differences against nothing. */
    struct cpu_snap none = {0};
    const struct cpu_snap *a = r->w1.t_ns ? &r->w0 : &none, *b = r->w1.t_ns ? &r->w1 : &none;
    double srv = (double)(b->server_ns - a->server_ns) / 1e9;
    double cli = (double)(b->self_ns - a->self_ns) / 1e9;
    double sirq = (double)(b->softirqd_ns - a->softirqd_ns) / 1e9;
    double busy = (double)(b->busy_ticks - a->busy_ticks) * tick_s();
    char cpus[64];
    self_cpus(cpus, sizeof cpus);
    printf("{\"ok\":%s,", r->failed ? "false" : "true");
    json_str("error", r->error);
    json_str("scenario", scen_names[p->scen]);
    json_str("mode", p->mode == MODE_NATS ? "nats" : "raw");
    json_str("client_cpus", cpus);
    printf("\"size\":%zu,\"pubs\":%d,\"subs\":%d,\"threads\":%d,\"window\":%llu,", p->size, p->pubs,
           p->subs, p->threads, (unsigned long long)flow_window(p));
    printf("\"servers\":%d,\"server_cpu_each_s\":[", p->nservers);
    for (int i = 0; i < p->nservers; i++)
        printf("%s%.6f", i ? "," : "", (double)(b->server_each_ns[i] - a->server_each_ns[i]) / 1e9);
    printf("],\"sub_ports\":[");
    for (int i = 0; i < p->nsub_ports; i++)
        printf("%s%d", i ? "," : "", p->sub_ports[i]);
    printf("],\"probes\":%llu,\"barrier_s\":%.4f,", (unsigned long long)r->probes, r->barrier_s);
    printf("\"tls\":%s,", p->tls_ca ? "true" : "false");
    printf("\"acct_users\":%d,\"payload\":\"%s\",", p->acct_users, p->payload_json ? "json" : "filler");
    if (p->wire_port)
        printf("\"wire_port\":%d,\"wire_socks\":[%d,%d],\"wire_tx_bytes\":%llu,\"wire_rx_bytes\":%llu,",
               p->wire_port, r->wire_socks0, r->wire_socks1,
               (unsigned long long)(r->wire_tx1 - r->wire_tx0), (unsigned long long)(r->wire_rx1 - r->wire_rx0));
    printf("\"published\":%llu,\"delivered\":%llu,\"elapsed_s\":%.6f,",
           (unsigned long long)r->published, (unsigned long long)r->delivered, r->elapsed);
    double win = b->t_ns > a->t_ns ? (double)(b->t_ns - a->t_ns) / 1e9 : 0.0;
    double idle = (double)(b->idle_ticks - a->idle_ticks) * tick_s();
    double steal = (double)(b->steal_ticks - a->steal_ticks) * tick_s();
    double others = (double)others_delta(a, b) * tick_s();
    printf("\"window_s\":%.6f,\"server_cpu_s\":%.6f,\"server_cpu_stat_s\":%.4f,", win, srv,
           (double)(b->server_ticks - a->server_ticks) * tick_s());
    printf("\"client_cpu_s\":%.6f,\"softirqd_s\":%.6f,\"others_s\":%.4f,\"steal_s\":%.4f,", cli,
           sirq, others, steal);
    /* noise: what the harness judges a run by (see sysstat.h); the two
     * /proc/stat estimates are kept to compare */
    printf("\"noise_s\":%.4f,\"procstat_busy_s\":%.4f,\"procstat_noise_s\":%.4f,"
           "\"procstat_idle_noise_s\":%.4f,\"others_procs\":%d,\"server_threads\":%d,",
           others + steal, busy, busy - srv - cli - sirq,
           win * (double)sysconf(_SC_NPROCESSORS_ONLN) - idle - srv - cli - sirq, b->nprocs,
           b->server_threads);
    const struct hist *h = &r->lat;
    printf("\"lat_us\":{\"count\":%llu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
           "\"max\":%.3f,\"mean\":%.3f},",
           (unsigned long long)h->count, hist_quantile(h, 0.5) / 1e3, hist_quantile(h, 0.9) / 1e3,
           hist_quantile(h, 0.99) / 1e3, hist_quantile(h, 0.999) / 1e3, h->max / 1e3,
           h->count ? h->sum / (double)h->count / 1e3 : 0.0);
    printf("\"members\":[");
    for (int i = 0; i < r->nmember; i++)
        printf("%s%llu", i ? "," : "", (unsigned long long)r->member[i]);
    printf("],\"conns\":%d,\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"connect_s\":%.4f,"
           "\"conns_ok\":%d,\"src_addrs\":%d,",
           p->scen == SC_CONNS ? p->conns : 0, r->rss_before_kb, r->rss_after_kb, r->connect_s,
           r->conns_ok, r->src_addrs);
    printf("\"idle_s\":%.4f,\"idle_server_cpu_s\":%.6f,\"idle_noise_s\":%.4f,", r->idle_s,
           r->idle_server_cpu_s, r->idle_noise_s);
    printf("\"stalled\":%d,\"stalled_cut\":%d,\"stalled_bytes\":%llu,\"churn\":%.1f,"
           "\"churn_pairs\":%llu,\"storm\":%.1f,\"storm_logins\":%llu,\"storm_refused\":%llu}\n",
           p->stalled, r->stalled_cut, (unsigned long long)r->stalled_bytes, p->churn,
           (unsigned long long)r->churn_pairs, p->storm, (unsigned long long)r->storm_logins, (unsigned long long)r->storm_refused);
}

int main(int argc, char **argv)
{
    struct params p = {
        .host = "127.0.0.1", .mode = MODE_RAW, .scen = SC_PUBSUB, .size = 128, .pubs = 1,
        .subs = 4, .threads = 1, .duration = 2, .warmup = 0.2, .timeout = 30, .count = 20000,
        .rate = 20000, .conns = 10000,
    };
    parse_args(argc, argv, &p);
    if (p.stalled && (p.scen != SC_FANOUT || p.mode != MODE_RAW)) {
        fprintf(stderr, "natsbench: --stalled needs --scenario fanout in raw mode\n");
        return 2;
    }
    if (p.nsub_ports && (p.mode != MODE_RAW || p.stalled || p.churn > 0 || p.storm > 0 || p.svc_import ||
                         !(p.scen == SC_PUBSUB || p.scen == SC_FANOUT || p.scen == SC_REQREP ||
                           p.scen == SC_ONEWAY))) {
        fprintf(stderr, "natsbench: --sub-port needs raw mode and pubsub, fanout, reqrep or oneway\n");
        return 2;
    }
    if (p.acct_users && (p.mode != MODE_RAW || !(p.scen == SC_PUB || p.scen == SC_PUBSUB) || p.stalled ||
                         p.churn > 0)) {
        /* fan-out and queue subscribers share one subject: one account only */
        fprintf(stderr, "natsbench: --acct-users needs raw mode and pub or pubsub\n");
        return 2;
    }
    if (p.payload_json && (p.mode != MODE_RAW || p.scen > SC_QUEUE)) {
        fprintf(stderr, "natsbench: --payload json needs raw mode and pub, pubsub, fanout or queue\n");
        return 2;
    }
    if (p.tls_ca && p.mode != MODE_NATS) {
        fprintf(stderr, "natsbench: --tls-ca needs --mode nats\n");
        return 2;
    }
    if (p.churn > 0 && p.mode != MODE_RAW) {
        fprintf(stderr, "natsbench: --churn needs raw mode\n");
        return 2;
    }
    raise_nofile(p.conns + 256);
    static struct result r; /* large (histogram): not on the stack */
    hist_init(&r.lat);
    switch (p.scen) {
    case SC_PUB:
    case SC_PUBSUB:
    case SC_FANOUT:
    case SC_QUEUE:
        (p.mode == MODE_NATS ? nats_throughput : raw_throughput)(&p, &r);
        break;
    case SC_REQREP:
        (p.mode == MODE_NATS ? nats_reqrep : raw_reqrep)(&p, &r);
        break;
    case SC_ONEWAY:
        (p.mode == MODE_NATS ? nats_oneway : raw_oneway)(&p, &r);
        break;
    case SC_CONNS:
        if (p.mode == MODE_NATS)
            fail(&r, "the conns scenario has no libnats mode");
        else
            raw_conns(&p, &r);
        break;
    }
    print_result(&p, &r);
    return r.failed ? 1 : 0;
}
