/* Logging in nats-server's format:
 *   [pid] 2026/11/21 10:00:00.000000 [INF] message
 * to standard error, a file (rotated beyond a size limit, as nats-server:
 * <file>.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn), the local syslog (syslog(3),
 * facility daemon) or a remote syslog (udp/tcp/unix, Go's log/syslog format).
 * Precedence as nats-server: file, then remote syslog, then syslog, then stderr.
 *
 * Threads: any thread may call log_*() at any time; each line is one
 * write(2) (O_APPEND), so lines from different shards never interleave.
 * log_open, log_reconfigure and log_reopen belong to the control thread and
 * may run while shards log: the current destination is an immutable object
 * published with a release store and never freed; a log file is always
 * written through one descriptor number that dup2() points at the new file
 * (reopen, rotation, reload), so a writer never sees a closed or reused
 * descriptor. Level and timestamp flags are relaxed atomics. Rotation is done
 * by whichever writer crosses the limit, under a mutex taken with trylock:
 * writers never block on it. */
#ifndef GANNET_LOG_H
#define GANNET_LOG_H
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_FTL, LOG_ERR, LOG_WRN, LOG_INF, LOG_DBG, LOG_TRC };

struct log_config {
    bool debug, trace, logtime, logtime_utc;
    const char *file;          /* NULL: no file (syslog or stderr) */
    int64_t size_limit;        /* rotate the file once it grows beyond this many bytes; 0: never */
    bool syslog;               /* local syslog when no file and no remote syslog */
    const char *remote_syslog; /* udp://host:port, tcp://host:port or unix:///path; NULL: none */
    const char *tag;           /* syslog tag (nats-server: basename of argv[0]); NULL: "gannet" */
};

/* The strings in cfg are copied. 0, or -errno with log_error_text() set
 * (nats-server's wording, e.g. "error opening file: open x: permission
 * denied"); on error the previous destination stays. */
int log_open(const struct log_config *cfg);        /* at start */
int log_reconfigure(const struct log_config *cfg); /* config reload; shards keep logging */
int log_reopen(void);                              /* SIGUSR1: reopen the log file */
const char *log_error_text(void);                  /* why the last open/reconfigure failed */
bool log_enabled(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_fatal(...) log_msg(LOG_FTL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WRN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INF, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DBG)) log_msg(LOG_DBG, __VA_ARGS__); } while (0)
#define log_trace(...) do { if (log_enabled(LOG_TRC)) log_msg(LOG_TRC, __VA_ARGS__); } while (0)
#endif
