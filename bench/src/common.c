/* common.c — failure recording, clock, timed window, payload prefix. */
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
    snap_take(&r->w0, p->server_pid);
}

void window_end(const struct params *p, struct result *r)
{
    snap_take(&r->w1, p->server_pid);
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

/* Little-endian by hand: the prefix is read back by this same binary, but
 * byte order should not depend on where it was built. */
static void put_le(unsigned char *d, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        d[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *s, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)s[i] << (8 * i);
    return v;
}

void pfx_put(unsigned char *dst, uint32_t pub, uint32_t seq, uint64_t t_ns)
{
    put_le(dst, pub, 4);
    put_le(dst + 4, seq, 4);
    put_le(dst + 8, t_ns, 8);
}

void pfx_get(const unsigned char *src, uint32_t *pub, uint32_t *seq, uint64_t *t_ns)
{
    *pub = (uint32_t)get_le(src, 4);
    *seq = (uint32_t)get_le(src + 4, 4);
    *t_ns = get_le(src + 8, 8);
}
