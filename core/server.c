/* Server start-up and shut-down, run by the control thread (main). */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "shard.h"

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* nkeys encoding of a server public key: base32(prefix 'N' | 32 bytes | crc16 LE). */
void nkey_server_id(char out[57])
{
    uint8_t raw[35];
    raw[0] = 13 << 3; /* nkeys PrefixByteServer: encodes as 'N' */
    if (getrandom(raw + 1, 32, 0) != 32) {
        for (int i = 1; i < 33; i++)
            raw[i] = (uint8_t)rand();
    }
    uint16_t crc = crc16(raw, 33);
    raw[33] = (uint8_t)(crc & 0xff);
    raw[34] = (uint8_t)(crc >> 8);
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    int bits = 0, o = 0;
    uint32_t acc = 0;
    for (int i = 0; i < 35; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = a[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    out[o] = 0; /* 280 bits: exactly 56 characters, no remainder */
}

static void json_escape(char *dst, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)ch;
        } else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') {
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", ch);
        } else {
            dst[o++] = (char)ch;
        }
    }
    dst[o] = 0;
}

static int build_info(struct server *s)
{
    const struct opts *o = s->opts;
    char name[512], host[300], buf[2048];
    json_escape(name, sizeof name, o->server_name ? o->server_name : s->server_id);
    json_escape(host, sizeof host, o->host);
    int n = snprintf(buf, sizeof buf,
                     "INFO {\"server_id\":\"%s\",\"server_name\":\"%s\",\"version\":\"%s\",\"proto\":1,"
                     "\"go\":\"gannet%s\",\"host\":\"%s\",\"port\":%d,\"headers\":true,%s\"max_payload\":%" PRId64 ",",
                     s->server_id, name, NATS_COMPAT_VERSION, GANNET_VERSION, host, s->port,
                     opts_auth_configured(o) && !o->no_auth_user ? "\"auth_required\":true," : "", o->max_payload);
    s->info_head = strndup(buf, (size_t)n);
    s->info_head_len = (size_t)n;
    return s->info_head ? 0 : -ENOMEM;
}

int server_init(struct server *s, const struct opts *o)
{
    memset(s, 0, sizeof *s);
    s->opts = o;
    s->start_ms = now_ms();
    atomic_init(&s->next_cid, 1);
    nkey_server_id(s->server_id);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s->nshards = o->shards > 0 ? o->shards : (int)(ncpu > 0 ? ncpu : 1);
    if (s->nshards > MAX_SHARDS)
        s->nshards = MAX_SHARDS;
    int rc = sublist_init(&s->gsl);
    if (rc < 0)
        return rc;
    s->mbox = calloc((size_t)(s->nshards * s->nshards), sizeof *s->mbox);
    s->shards = calloc((size_t)s->nshards, sizeof *s->shards);
    if (!s->mbox || !s->shards)
        return -ENOMEM;
    for (int i = 0; i < s->nshards * s->nshards; i++)
        if ((rc = spsc_init(&s->mbox[i], 1024)) < 0)
            return rc;
    int fd = listener_open(o->host, o->port, &s->port);
    if (fd < 0) {
        log_fatal("Error listening on port: %s:%d, \"%s\"", o->host, o->port, strerror(-fd));
        return fd;
    }
    for (int i = 0; i < s->nshards; i++) {
        if ((rc = shard_create(s, i, &s->shards[i])) < 0) {
            log_fatal("io_uring setup failed: %s", strerror(-rc));
            close(fd);
            return rc;
        }
        if (i == 0) {
            s->shards[i]->listen_fd = fd;
        } else if ((s->shards[i]->listen_fd = listener_open(o->host, s->port, NULL)) < 0) {
            rc = s->shards[i]->listen_fd;
            log_fatal("Error listening on port: %s:%d, \"%s\"", o->host, s->port, strerror(-rc));
            return rc;
        }
    }
    return build_info(s);
}

static void write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        log_error("Could not write pidfile: %s", strerror(errno));
        return;
    }
    fprintf(f, "%d", (int)getpid());
    fclose(f);
}

int server_run(struct server *s)
{
    const struct opts *o = s->opts;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* shards inherit the mask: only this thread takes signals */

    log_info("Starting gannet");
    log_info("  Version:  %s (nats-server %s protocol)", GANNET_VERSION, NATS_COMPAT_VERSION);
    log_info("  ID:       %s", s->server_id);
    log_info("  Name:     %s", o->server_name ? o->server_name : s->server_id);
    log_info("  Shards:   %d", s->nshards);
    if (o->config_file)
        log_info("Using configuration file: %s", o->config_file);
    if (o->pid_file)
        write_pid_file(o->pid_file);
    for (int i = 0; i < s->nshards; i++) {
        int rc = shard_start(s->shards[i]);
        if (rc < 0) {
            log_fatal("could not start shard %d: %s", i, strerror(-rc));
            atomic_store(&s->stopping, 1);
            for (int k = 0; k < i; k++)
                shard_join(s->shards[k]);
            return rc;
        }
    }
    log_info("Listening for client connections on %s:%d", o->host, s->port);
    log_info("Server is ready");
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGINT || sig == SIGTERM) {
            log_info("Trapped \"%s\" signal", sig == SIGINT ? "interrupt" : "terminated");
            break;
        }
        if (sig == SIGQUIT)
            _exit(2); /* immediate, as an unhandled SIGQUIT is for nats-server */
        if (sig == SIGUSR1) {
            int rc = log_reopen();
            if (rc < 0)
                log_error("reopening log file: %s", strerror(-rc));
            else
                log_info("Reopened log file");
        } else if (sig == SIGHUP) {
            log_error("configuration reload is not supported yet; the running configuration is unchanged");
        } else if (sig == SIGUSR2) {
            log_error("lame duck mode is not supported yet; ignoring SIGUSR2");
        }
    }
    log_info("Initiating Shutdown...");
    atomic_store(&s->stopping, 1);
    for (int i = 0; i < s->nshards; i++)
        shard_join(s->shards[i]);
    log_info("Server Exiting..");
    return 0;
}

void server_free(struct server *s)
{
    /* let pending call_rcu callbacks (sub and node frees) run */
    rcu_barrier_qsbr();
    for (int i = 0; s->shards && i < s->nshards; i++)
        shard_destroy(s->shards[i]);
    free(s->shards);
    for (int i = 0; s->mbox && i < s->nshards * s->nshards; i++) {
        void *p;
        while ((p = spsc_pop(&s->mbox[i])))
            free(p);
        spsc_free(&s->mbox[i]);
    }
    free(s->mbox);
    rcu_register_thread();
    sublist_destroy(&s->gsl);
    rcu_unregister_thread();
    free(s->info_head);
}
