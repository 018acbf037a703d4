/* common.c — failure recording, clock, timed window, flow window. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* fail() may be called from a libnats callback thread and a worker at once. */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

void fail(struct result *r, const char *fmt, ...)
{
    pthread_mutex_lock(&fail_lock);
    if (!r->failed) {
        r->failed = 1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->error, sizeof r->error, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&fail_lock);
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void window_begin(const struct params *p, struct result *r)
{
    if (p->wire_port)
        r->wire_socks0 = wire_bytes(p->wire_port, &r->wire_tx0, &r->wire_rx0);
    snap_take(&r->w0, p->server_pids, p->nservers, 0);
}

void window_end(const struct params *p, struct result *r)
{
    snap_take(&r->w1, p->server_pids, p->nservers, 1);
    if (p->wire_port)
        r->wire_socks1 = wire_bytes(p->wire_port, &r->wire_tx1, &r->wire_rx1);
}

uint64_t flow_window(const struct params *p)
{
    if (p->window)
        return p->window;
    /* About 4 MiB of messages per subscriber: several ms of traffic at any
     * size, so the pipeline never runs dry, yet far below the 64 MiB
     * max_pending at which nats-server cuts a slow consumer off. */
    uint64_t w = (4u << 20) / (p->size + 48);
    if (w < 256)
        w = 256;
    if (w > 65536)
        w = 65536;
    return w;
}
