/* sysstat.c — see sysstat.h. */
#include "sysstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOFTIRQD 64

static pid_t softirqd[MAX_SOFTIRQD]; /* filled once: kernel threads never move */
static int nsoftirqd;
static pthread_once_t softirqd_once = PTHREAD_ONCE_INIT;

/* Reads a small /proc file whole; returns bytes or -errno. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, len - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = 0;
    return n;
}

static uint64_t schedstat_ns(const char *path)
{
    char b[128];
    if (slurp(path, b, sizeof b) <= 0)
        return 0; /* the thread exited between readdir and open */
    return strtoull(b, NULL, 10);
}

/* Sum of schedstat run time over the threads of pid; *nthreads counts them. */
static uint64_t proc_cpu_ns(pid_t pid, int *nthreads)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    uint64_t sum = 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char p2[320];
        snprintf(p2, sizeof p2, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
        sum += schedstat_ns(p2);
        n++;
    }
    closedir(d);
    if (nthreads)
        *nthreads = n;
    return sum;
}

struct proc_ent {
    pid_t pid, ppid;
    uint64_t own;   /* utime+stime, exited threads included (ticks) */
    uint64_t ch;    /* cutime+cstime: children that exited and were reaped */
};

/* Reads /proc/PID/stat; returns 0 or -1 if the process is gone. */
static int read_ent(pid_t pid, struct proc_ent *e)
{
    char path[64], b[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (slurp(path, b, sizeof b) <= 0)
        return -1;
    char *p = strrchr(b, ')'); /* comm may hold spaces: count fields after it */
    if (!p)
        return -1;
    int ppid = 0;
    unsigned long long ut = 0, st = 0;
    long long cut = 0, cst = 0;
    /* after ")": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17) */
    if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ppid, &ut,
               &st, &cut, &cst) != 5)
        return -1;
    *e = (struct proc_ent){.pid = pid, .ppid = (pid_t)ppid, .own = ut + st, .ch = (uint64_t)(cut + cst)};
    return 0;
}

static uint64_t proc_stat_ticks(pid_t pid)
{
    struct proc_ent e;
    return read_ent(pid, &e) == 0 ? e.own : 0;
}

static int excluded(pid_t pid, const pid_t *servers, int nservers)
{
    if (pid == getpid())
        return 1;
    for (int i = 0; i < nservers; i++)
        if (pid == servers[i])
            return 1;
    for (int i = 0; i < nsoftirqd; i++)
        if (pid == softirqd[i])
            return 1;
    return 0;
}

static int by_pid(const void *a, const void *b)
{
    pid_t x = ((const struct proc_ent *)a)->pid, y = ((const struct proc_ent *)b)->pid;
    return (x > y) - (x < y);
}

/* Every process but ours, sorted by PID. */
static int read_procs(const pid_t *servers, int nservers, struct proc_ent **out)
{
    DIR *d = opendir("/proc");
    int n = 0, cap = 0;
    struct proc_ent *v = NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (excluded(pid, servers, nservers))
            continue;
        if (n == cap) {
            struct proc_ent *nv = realloc(v, (size_t)(cap = cap ? 2 * cap : 256) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        if (read_ent(pid, &v[n]) == 0)
            n++;
    }
    if (d)
        closedir(d);
    if (v)
        qsort(v, (size_t)n, sizeof *v, by_pid);
    *out = v;
    return n;
}

static const struct proc_ent *find(const struct proc_ent *v, int n, pid_t pid)
{
    struct proc_ent k = {.pid = pid};
    return n ? bsearch(&k, v, (size_t)n, sizeof *v, by_pid) : NULL;
}

uint64_t others_delta(const struct cpu_snap *a, const struct cpu_snap *b)
{
    int64_t *chd = calloc((size_t)b->nprocs + 1, sizeof *chd);
    uint64_t sum = 0;
    if (!chd)
        return 0;
    for (int i = 0; i < b->nprocs; i++) {
        const struct proc_ent *e = &b->procs[i], *s = find(a->procs, a->nprocs, e->pid);
        sum += s ? (e->own > s->own ? e->own - s->own : 0) : e->own;
        chd[i] = (int64_t)e->ch - (s ? (int64_t)s->ch : 0);
    }
    /* A child that ended in the window and was reaped moved all its time,
     * from before the window too, into its parent's cutime: take back the
     * part its start snapshot already had. */
    for (int i = 0; i < a->nprocs; i++) {
        const struct proc_ent *s = &a->procs[i];
        if (find(b->procs, b->nprocs, s->pid))
            continue;
        const struct proc_ent *p = find(b->procs, b->nprocs, s->ppid);
        if (p)
            chd[p - b->procs] -= (int64_t)(s->own + s->ch);
    }
    for (int i = 0; i < b->nprocs; i++)
        sum += chd[i] > 0 ? (uint64_t)chd[i] : 0;
    free(chd);
    return sum;
}

static void find_softirqd(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && nsoftirqd < MAX_SOFTIRQD) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], comm[64];
        snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
        if (slurp(path, comm, sizeof comm) > 0 && strncmp(comm, "ksoftirqd/", 10) == 0)
            softirqd[nsoftirqd++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
}

static int busy_ticks(uint64_t *busy, uint64_t *steal, uint64_t *idle)
{
    char b[256];
    ssize_t n = slurp("/proc/stat", b, sizeof b);
    if (n < 0)
        return (int)n;
    unsigned long long v[8] = {0};
    if (sscanf(b, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) != 8)
        return -EINVAL;
    /* user nice system idle iowait irq softirq steal: idle and iowait are not busy */
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *steal = v[7];
    *idle = v[3] + v[4];
    return 0;
}

int snap_take(struct cpu_snap *s, const pid_t *servers, int nservers, int at_end)
{
    if (nservers > MAX_SERVERS)
        nservers = MAX_SERVERS;
    pthread_once(&softirqd_once, find_softirqd);
    free(s->procs);
    memset(s, 0, sizeof *s);
    /* The scan of every process takes a few ms: before the window's own
     * readings at its start, after them at its end, so that it stays out. */
    if (!at_end)
        s->nprocs = read_procs(servers, nservers, &s->procs);
    for (int i = 0; i < nservers; i++) {
        if (servers[i] <= 0)
            continue;
        int nt = 0;
        s->server_each_ns[i] = proc_cpu_ns(servers[i], &nt);
        s->server_ns += s->server_each_ns[i];
        s->server_threads += nt;
        s->server_ticks += proc_stat_ticks(servers[i]);
    }
    s->self_ns = proc_cpu_ns(getpid(), NULL);
    for (int i = 0; i < nsoftirqd; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/schedstat", (int)softirqd[i]);
        s->softirqd_ns += schedstat_ns(path);
    }
    int rc = busy_ticks(&s->busy_ticks, &s->steal_ticks, &s->idle_ticks);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->t_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (at_end)
        s->nprocs = read_procs(servers, nservers, &s->procs);
    return rc;
}

double tick_s(void)
{
    long hz = sysconf(_SC_CLK_TCK);
    return 1.0 / (double)(hz > 0 ? hz : 100);
}

long proc_rss_kb(pid_t pid)
{
    char path[64], b[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (slurp(path, b, sizeof b) <= 0)
        return -1;
    char *p = strstr(b, "VmRSS:");
    return p ? atol(p + 6) : -1;
}

void self_cpus(char *buf, size_t len)
{
    char b[4096];
    buf[0] = 0;
    if (slurp("/proc/self/status", b, sizeof b) <= 0)
        return;
    char *p = strstr(b, "Cpus_allowed_list:");
    if (!p)
        return;
    p += strlen("Cpus_allowed_list:");
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strcspn(p, "\n");
    snprintf(buf, len, "%.*s", (int)n, p);
}
