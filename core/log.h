/* Logging in nats-server's format:
 *   [pid] 2026/11/21 10:00:00.000000 [INF] message
 * Any thread may call log_*(); each line is written with one write(2) so that
 * lines from different shards never interleave. Level flags are set once at
 * start (and on reload by the control thread) and read relaxed. */
#ifndef GANNET_LOG_H
#define GANNET_LOG_H
#include <stdbool.h>

enum log_level { LOG_FTL, LOG_ERR, LOG_WRN, LOG_INF, LOG_DBG, LOG_TRC };

struct log_config {
    bool debug, trace, logtime, logtime_utc;
    const char *file; /* NULL: stderr */
};

int log_open(const struct log_config *cfg); /* 0 or -errno */
int log_reopen(void);                       /* SIGUSR1: reopen the log file */
bool log_enabled(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_fatal(...) log_msg(LOG_FTL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WRN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INF, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DBG)) log_msg(LOG_DBG, __VA_ARGS__); } while (0)
#define log_trace(...) do { if (log_enabled(LOG_TRC)) log_msg(LOG_TRC, __VA_ARGS__); } while (0)
#endif
