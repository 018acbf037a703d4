/* sysstat.h — CPU time and memory of processes, read from /proc.
 *
 * CPU time of a process is the sum of the first field of
 * /proc/PID/task/TID/schedstat (ns on CPU, exact) over its threads, as the
 * harness promises. Threads that exit inside a window would be missed by
 * that sum, so /proc/PID/stat utime+stime (clock ticks, but counting exited
 * threads too) is read as a cross-check.
 *
 * Noise: /proc/stat busy time of all CPUs minus the server, this client and
 * the ksoftirqd threads (which run the loopback's deferred network work the
 * benchmark itself causes) is CPU that something else used in the window.
 *
 * Any thread may call these; they keep no state besides a cached list of
 * ksoftirqd PIDs filled once.
 */
#ifndef SYSSTAT_H
#define SYSSTAT_H

#include <stdint.h>
#include <sys/types.h>

struct cpu_snap {
    uint64_t t_ns;           /* CLOCK_MONOTONIC when taken */
    uint64_t server_ns;      /* server threads' schedstat run time */
    uint64_t server_ticks;   /* server utime+stime from /proc/PID/stat */
    uint64_t self_ns;        /* this process's threads' schedstat run time */
    uint64_t softirqd_ns;    /* all ksoftirqd/N threads */
    uint64_t busy_ticks;     /* /proc/stat cpu: user+nice+system+irq+softirq+steal */
    uint64_t steal_ticks;    /* /proc/stat cpu: steal (the hypervisor took it) */
    uint64_t idle_ticks;     /* /proc/stat cpu: idle+iowait (exact under NO_HZ, unlike busy) */
    int server_threads;      /* live threads of the server when taken */
};

/* Fills s; server may be 0 (not measured). Returns 0 or -errno. */
int snap_take(struct cpu_snap *s, pid_t server);
/* Seconds per /proc/stat tick (USER_HZ). */
double tick_s(void);
/* VmRSS of pid in KiB, or -1. */
long proc_rss_kb(pid_t pid);
/* Cpus_allowed_list of this process into buf (e.g. "1" or "0-1"). */
void self_cpus(char *buf, size_t len);

#endif
