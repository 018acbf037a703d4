/* sysstat.h — CPU time and memory of processes, read from /proc.
 *
 * CPU time of a process is the sum of the first field of
 * /proc/PID/task/TID/schedstat (ns on CPU, exact) over its threads, as the
 * harness promises. Threads that exit inside a window would be missed by
 * that sum, so /proc/PID/stat utime+stime (clock ticks, but counting exited
 * threads too) is read as a cross-check.
 *
 * Noise is the CPU time every other process used in the window, counted
 * directly: the sum over /proc/PID/stat of utime+stime+cutime+cstime of
 * all processes but the server, this client and ksoftirqd (which runs the
 * loopback's deferred network work the benchmark itself causes). cutime
 * and cstime hold the time of children that exited and were reaped, so a
 * compiler that ran and ended inside the window is still counted; steal
 * time (the hypervisor running someone else) is added. The /proc/stat
 * totals are kept for reference only: their busy time is sampled at ticks
 * and misses much of a task that sleeps and wakes 20,000 times a second,
 * and their idle time counts as busy the interrupt and VM-exit cost of
 * those wake-ups, which no process owns; both would misjudge latency runs.
 *
 * Any thread may call these; they keep no state besides a cached list of
 * ksoftirqd PIDs filled once.
 */
#ifndef SYSSTAT_H
#define SYSSTAT_H

#include <stdint.h>
#include <sys/types.h>

struct proc_ent;

#define MAX_SERVERS 8 /* a cluster's nodes, measured together */

struct cpu_snap {
    uint64_t t_ns;           /* CLOCK_MONOTONIC when taken */
    uint64_t server_ns;      /* server threads' schedstat run time (all servers) */
    uint64_t server_each_ns[MAX_SERVERS]; /* the same per server */
    uint64_t server_ticks;   /* server utime+stime from /proc/PID/stat (all servers) */
    uint64_t self_ns;        /* this process's threads' schedstat run time */
    uint64_t softirqd_ns;    /* all ksoftirqd/N threads */
    uint64_t busy_ticks;     /* /proc/stat cpu: user+nice+system+irq+softirq+steal */
    uint64_t steal_ticks;    /* /proc/stat cpu: steal (the hypervisor took it) */
    uint64_t idle_ticks;     /* /proc/stat cpu: idle+iowait */
    struct proc_ent *procs;  /* every other process (see others_delta), by PID */
    int nprocs;
    int server_threads;      /* live threads of the servers when taken */
};

/* Fills s for the nservers processes in servers[] (a cluster's nodes are
 * summed; nservers may be 0: none measured); at_end orders the readings for
 * the end of a window. Every server is left out of the noise. Returns 0 or
 * -errno. */
int snap_take(struct cpu_snap *s, const pid_t *servers, int nservers, int at_end);
/* CPU ticks all other processes used between a and b: per process, the
 * growth of utime+stime and of cutime+cstime, less what reaped children
 * had before a (it moved into their parent's cutime). */
uint64_t others_delta(const struct cpu_snap *a, const struct cpu_snap *b);
/* Seconds per /proc/stat tick (USER_HZ). */
double tick_s(void);
/* VmRSS of pid in KiB, or -1. */
long proc_rss_kb(pid_t pid);
/* Cpus_allowed_list of this process into buf (e.g. "1" or "0-1"). */
void self_cpus(char *buf, size_t len);

#endif
