/* Logging: see log.h. The file descriptor is swapped atomically on reopen so
 * that shards writing concurrently never see a closed descriptor for long;
 * the old descriptor is closed after the swap (a line racing with it may be
 * lost, the same trade nats-server makes on rotation). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct log_config cfg;
static _Atomic int log_fd = 2;
static _Atomic int level = LOG_INF;

static const char *const tags[] = {"[FTL]", "[ERR]", "[WRN]", "[INF]", "[DBG]", "[TRC]"};

int log_open(const struct log_config *c)
{
    cfg = *c;
    atomic_store_explicit(&level, c->trace ? LOG_TRC : c->debug ? LOG_DBG : LOG_INF, memory_order_relaxed);
    if (!c->file)
        return 0;
    return log_reopen();
}

int log_reopen(void)
{
    if (!cfg.file)
        return 0;
    int fd = open(cfg.file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    int old = atomic_exchange(&log_fd, fd);
    if (old > 2)
        close(old);
    return 0;
}

bool log_enabled(enum log_level lvl)
{
    return (int)lvl <= atomic_load_explicit(&level, memory_order_relaxed);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    char line[2048];
    size_t n = (size_t)snprintf(line, sizeof line, "[%d] ", (int)getpid());
    if (cfg.logtime) {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        if (cfg.logtime_utc)
            gmtime_r(&tv.tv_sec, &tm);
        else
            localtime_r(&tv.tv_sec, &tm);
        n += strftime(line + n, sizeof line - n, "%Y/%m/%d %H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof line - n, ".%06ld ", (long)tv.tv_usec);
    }
    n += (size_t)snprintf(line + n, sizeof line - n, "%s ", tags[lvl]);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (k < 0)
        k = 0;
    n += (size_t)k;
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(atomic_load_explicit(&log_fd, memory_order_relaxed), line, n);
    (void)w;
}
