/* Logging: see log.h for the format, the destinations and the thread rules.
 *
 *            log_open / log_reconfigure (control thread, under `slow`)
 *                          │ builds
 *                          ▼
 *   cur ──► struct sink {kind, path, limit, socket, tag}   (immutable, never freed)
 *             │
 *   writers: load cur (acquire) → format → one write(2)/send(2)/syslog(3)
 *             │ file: to file_fd, the one stable descriptor
 *             └─ file_bytes > limit → trylock(slow) → rename to backup,
 *                open a new file, dup2 it onto file_fd, write "Rotated log"
 *
 * Retired sinks stay allocated (a reload is rare; a writer may still hold
 * one). A retired remote-syslog socket is neutralised with dup2(/dev/null)
 * rather than closed, so its descriptor number is never reused under a
 * writer that still holds the old sink. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

enum sink_kind { SINK_STDERR, SINK_FILE, SINK_SYSLOG, SINK_REMOTE };

struct sink {
    enum sink_kind kind;
    char *path;         /* SINK_FILE */
    int64_t limit;      /* SINK_FILE: rotate beyond this many bytes, 0: never */
    int sock;           /* SINK_REMOTE: connected socket */
    char *tag;          /* SINK_SYSLOG, SINK_REMOTE (openlog keeps the pointer) */
    char hostname[256]; /* SINK_REMOTE: for the message header, as Go's log/syslog */
    struct sink *next_retired;
};

static _Atomic(struct sink *) cur;      /* NULL before log_open: stderr, no timestamps */
static _Atomic int level = LOG_INF;
static _Atomic int stamp;               /* STAMP_* bits */
static _Atomic int file_fd = -1;        /* the log file's stable descriptor (dup2 target) */
static _Atomic int64_t file_bytes;      /* size of the current log file */
static pthread_mutex_t slow = PTHREAD_MUTEX_INITIALIZER; /* open, reconfigure, reopen, rotate */
static struct sink *retired;            /* under slow */
static char errtext[1200];              /* control thread */
static _Atomic int self_pid;            /* getpid() is a system call: once, at open */

#define STAMP_ON 1
#define STAMP_UTC 2

static const char *const tags[] = {"[FTL]", "[ERR]", "[WRN]", "[INF]", "[DBG]", "[TRC]"};
/* syslog severities as nats-server's SysLogger: Fatalf=Crit, Noticef and Tracef=Notice */
static const int severity[] = {LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_DEBUG, LOG_NOTICE};

const char *log_error_text(void)
{
    return errtext;
}

bool log_enabled(enum log_level lvl)
{
    return (int)lvl <= atomic_load_explicit(&level, memory_order_relaxed);
}

static void go_errno(int e, char *buf, size_t cap) /* Go prints errno text in lower case */
{
    snprintf(buf, cap, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] - 'A' + 'a');
}

/* "[pid] 2006/01/02 15:04:05.000000 [INF] " + message + "\n"; returns the length. */
static size_t format_line(char *line, size_t cap, enum log_level lvl, const char *fmt, va_list ap)
{
    int pid = atomic_load_explicit(&self_pid, memory_order_relaxed);
    size_t n = (size_t)snprintf(line, cap, "[%d] ", pid ? pid : (int)getpid());
    int st = atomic_load_explicit(&stamp, memory_order_relaxed);
    if (st & STAMP_ON) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (st & STAMP_UTC)
            gmtime_r(&ts.tv_sec, &tm);
        else
            localtime_r(&ts.tv_sec, &tm);
        n += strftime(line + n, cap - n, "%Y/%m/%d %H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, cap - n, ".%06ld ", ts.tv_nsec / 1000);
    }
    n += (size_t)snprintf(line + n, cap - n, "%s ", tags[lvl]);
    int k = vsnprintf(line + n, cap - n, fmt, ap);
    n += k > 0 ? (size_t)k : 0;
    if (n > cap - 2)
        n = cap - 2;
    line[n++] = '\n';
    return n;
}

static size_t format_now(char *line, size_t cap, enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t format_now(char *line, size_t cap, enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = format_line(line, cap, lvl, fmt, ap);
    va_end(ap);
    return n;
}

/* Point the stable descriptor at a freshly opened file (consumes fd). */
static void install_file(int fd)
{
    struct stat st;
    int64_t size = fstat(fd, &st) == 0 ? (int64_t)st.st_size : 0;
    int stable = atomic_load(&file_fd);
    if (stable < 0) {
        atomic_store(&file_fd, fd);
    } else if (fd != stable) {
        dup2(fd, stable);
        close(fd);
    }
    atomic_store(&file_bytes, size);
}

static int open_log_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        char eb[128];
        go_errno(e, eb, sizeof eb);
        snprintf(errtext, sizeof errtext, "error opening file: open %s: %s", path, eb);
        return -e;
    }
    return fd;
}

/* Rotation, by the writer that crossed the limit (never blocks a writer). */
static void rotate(struct sink *s)
{
    if (pthread_mutex_trylock(&slow) != 0)
        return;
    if (atomic_load(&cur) != s || atomic_load(&file_bytes) <= s->limit) {
        pthread_mutex_unlock(&slow);
        return;
    }
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    size_t cap = strlen(s->path) + 40;
    char *bak = malloc(cap);
    int fd = -1;
    if (bak) {
        snprintf(bak, cap, "%s.%04d.%02d.%02d.%02d.%02d.%02d.%09ld", s->path, tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
        if (rename(s->path, bak) == 0)
            fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    }
    if (fd >= 0) { /* the new file's first line, written before other writers can reach it */
        char line[4096 + 64];
        size_t n = format_now(line, sizeof line, LOG_INF, "Rotated log, backup saved as \"%s\"", bak);
        if (write(fd, line, n) != (ssize_t)n)
            (void)0; /* a full disk: the file goes on without it */
        install_file(fd); /* its size (fstat) counts the line */
    } else {
        atomic_store(&file_bytes, 0); /* could not rotate: try again after another limit's worth */
    }
    free(bak);
    pthread_mutex_unlock(&slow);
}

/* "udp://host:port", "tcp://host:port", "unix:///path" -> a connected socket. */
static int connect_remote(const char *url)
{
    const char *sep = strstr(url, "://");
    char scheme[16] = "", addr[300];
    if (sep && (size_t)(sep - url) < sizeof scheme)
        memcpy(scheme, url, (size_t)(sep - url));
    const char *rest = sep ? sep + 3 : "";
    int udp = !strcmp(scheme, "udp"), tcp = !strcmp(scheme, "tcp"), unx = !strcmp(scheme, "unix");
    if (!udp && !tcp && !unx) {
        snprintf(errtext, sizeof errtext, "error invalid network type: \"%s\"", scheme);
        return -EINVAL;
    }
    snprintf(addr, sizeof addr, "%s", rest);
    char eb[160];
    if (unx) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(addr) >= sizeof sun.sun_path) {
            snprintf(errtext, sizeof errtext, "error connecting to syslog: \"dial unix %s: path too long\"", addr);
            return -ENAMETOOLONG;
        }
        strcpy(sun.sun_path, addr);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
            int e = errno;
            go_errno(e, eb, sizeof eb);
            snprintf(errtext, sizeof errtext, "error connecting to syslog: \"dial unix %s: connect: %s\"", addr, eb);
            if (fd >= 0)
                close(fd);
            return -e;
        }
        return fd;
    }
    char *colon = strrchr(addr, ':'), *host = addr;
    if (!colon || colon[1] == 0) {
        snprintf(errtext, sizeof errtext, "error connecting to syslog: \"dial %s %s: missing port in address\"",
                 scheme, addr);
        return -EINVAL;
    }
    *colon = 0;
    if (host[0] == '[' && colon > host && colon[-1] == ']') {
        host++;
        colon[-1] = 0;
    }
    struct addrinfo hints = {.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(errtext, sizeof errtext, "error connecting to syslog: \"dial %s %s:%s: lookup %s: %s\"", scheme,
                 host, colon + 1, host, gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    int fd = -1, e = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        go_errno(e, eb, sizeof eb);
        snprintf(errtext, sizeof errtext, "error connecting to syslog: \"dial %s %s:%s: connect: %s\"", scheme, host,
                 colon + 1, eb);
        return -e;
    }
    return fd;
}

/* Go's log/syslog fails when /dev/log takes no connection; syslog(3) would
 * drop every line silently, so check first, as nats-server does. */
static int check_local_syslog(void)
{
    static const int types[] = {SOCK_DGRAM, SOCK_STREAM};
    struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
    for (int i = 0; i < 2; i++) {
        int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int ok = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
        close(fd);
        if (ok)
            return 0;
    }
    snprintf(errtext, sizeof errtext, "error connecting to syslog: \"Unix syslog delivery error\"");
    return -ECONNREFUSED;
}

static void free_sink(struct sink *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->tag);
    free(s);
}

/* A sink no longer current: kept allocated; its socket number neutralised. */
static void retire(struct sink *old, const struct sink *now)
{
    if (!old)
        return;
    if (old->kind == SINK_REMOTE && old->sock >= 0) {
        int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (nul >= 0) { /* writers holding `old` now write to /dev/null (or fail): harmless */
            dup2(nul, old->sock);
            close(nul);
        } /* else: leave the socket open rather than free its number */
    }
    if (old->kind == SINK_SYSLOG && now->kind != SINK_SYSLOG)
        closelog();
    old->next_retired = retired;
    retired = old;
}

static int configure(const struct log_config *c)
{
    struct sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(errtext, sizeof errtext, "out of memory");
        return -ENOMEM;
    }
    s->sock = -1;
    s->tag = strdup(c->tag ? c->tag : "gannet");
    atomic_store_explicit(&self_pid, (int)getpid(), memory_order_relaxed);
    int rc = 0;
    pthread_mutex_lock(&slow);
    if (c->file) {
        s->kind = SINK_FILE;
        s->path = strdup(c->file);
        s->limit = c->size_limit > 0 ? c->size_limit : 0;
        int fd = open_log_file(c->file);
        if (fd < 0)
            rc = fd;
        else
            install_file(fd);
    } else if (c->remote_syslog) {
        s->kind = SINK_REMOTE;
        if (gethostname(s->hostname, sizeof s->hostname - 1) < 0)
            snprintf(s->hostname, sizeof s->hostname, "localhost");
        if ((s->sock = connect_remote(c->remote_syslog)) < 0)
            rc = s->sock;
    } else if (c->syslog) {
        s->kind = SINK_SYSLOG;
        if ((rc = check_local_syslog()) == 0)
            openlog(s->tag, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    } else {
        s->kind = SINK_STDERR;
    }
    if (rc < 0 || !s->tag || (c->file && !s->path)) {
        pthread_mutex_unlock(&slow);
        free_sink(s);
        return rc < 0 ? rc : -ENOMEM;
    }
    atomic_store_explicit(&level, c->trace ? LOG_TRC : c->debug ? LOG_DBG : LOG_INF, memory_order_relaxed);
    atomic_store_explicit(&stamp, (c->logtime ? STAMP_ON : 0) | (c->logtime_utc ? STAMP_UTC : 0),
                          memory_order_relaxed);
    struct sink *old = atomic_exchange_explicit(&cur, s, memory_order_acq_rel);
    retire(old, s);
    pthread_mutex_unlock(&slow);
    errtext[0] = 0;
    return 0;
}

int log_open(const struct log_config *c)
{
    return configure(c);
}

int log_reconfigure(const struct log_config *c)
{
    return configure(c);
}

int log_reopen(void)
{
    int rc = 0;
    pthread_mutex_lock(&slow);
    struct sink *s = atomic_load(&cur);
    if (s && s->kind == SINK_FILE) {
        int fd = open_log_file(s->path);
        if (fd < 0)
            rc = fd;
        else
            install_file(fd);
    }
    pthread_mutex_unlock(&slow);
    return rc;
}

/* Go's log/syslog over the network: "<pri>RFC3339 host tag[pid]: msg\n",
 * facility 0 (nats-server dials with LOG_DEBUG as the priority). */
static void send_remote(const struct sink *s, enum log_level lvl, const char *msg)
{
    char line[2300], ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    size_t k = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    long off = tm.tm_gmtoff / 60;
    if (off == 0)
        snprintf(ts + k, sizeof ts - k, "Z");
    else
        snprintf(ts + k, sizeof ts - k, "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
    int n = snprintf(line, sizeof line, "<%d>%s %s %s[%d]: %s\n", severity[lvl], ts, s->hostname, s->tag,
                     atomic_load_explicit(&self_pid, memory_order_relaxed), msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = send(s->sock, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w; /* a lost syslog line must not stall a shard */
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    struct sink *s = atomic_load_explicit(&cur, memory_order_acquire);
    va_list ap;
    va_start(ap, fmt);
    if (s && (s->kind == SINK_SYSLOG || s->kind == SINK_REMOTE)) {
        char msg[2048];
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (s->kind == SINK_SYSLOG)
            syslog(severity[lvl], "%s", msg);
        else
            send_remote(s, lvl, msg);
        return;
    }
    char line[2048];
    size_t n = format_line(line, sizeof line, lvl, fmt, ap);
    va_end(ap);
    bool file = s && s->kind == SINK_FILE;
    ssize_t w = write(file ? atomic_load_explicit(&file_fd, memory_order_relaxed) : 2, line, n);
    if (file && s->limit > 0 && w > 0 &&
        atomic_fetch_add_explicit(&file_bytes, (int64_t)w, memory_order_relaxed) + w > s->limit)
        rotate(s);
}
