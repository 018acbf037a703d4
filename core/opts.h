/* Server options: defaults, the command line and the config file
 * (nats-compat.md §7). Built once by the control thread before the shards
 * start; immutable afterwards (architecture.md rule 4). */
#ifndef GANNET_OPTS_H
#define GANNET_OPTS_H
#include <stdbool.h>
#include <stdint.h>

#define GANNET_VERSION "0.1.0"
#define NATS_COMPAT_VERSION "2.9.10" /* the nats-server whose behaviour gannet implements */

struct opts {
    char *host;              /* client listen address, default 0.0.0.0 */
    int port;                /* 4222; -1 = random */
    char *server_name;       /* default: the server id */
    char *config_file;
    int shards;              /* 0 = number of online CPUs */

    int64_t max_payload;     /* bytes, 1 MiB */
    int64_t max_pending;     /* bytes, 64 MiB */
    int32_t max_control_line;/* 4096 */
    int32_t max_connections; /* 65536 */
    int32_t max_subs;        /* 0 = unlimited */
    int64_t ping_interval_ms;/* 2m */
    int32_t ping_max;        /* 2 */
    int64_t write_deadline_ms; /* 10s */

    /* authorization: a single user, a token, or a users list */
    char *user, *pass, *token;
    struct user_opt {
        char *name, *pass;
    } *users;
    int nusers;
    char *no_auth_user;      /* CONNECT without credentials authenticates as this user */
    int64_t auth_timeout_ms; /* 2s */

    /* logging and files */
    bool debug, trace, logtime, logtime_utc;
    char *log_file, *pid_file;
};

/* Parse argv (and the config file it names) into o. Returns 0 to run, 1 when
 * the process should exit 0 (e.g. --version, -t success), or -1 on error
 * (message already printed). */
/* Any authentication configured: clients must CONNECT first (unless no_auth_user). */
bool opts_auth_configured(const struct opts *o);

int opts_load(struct opts *o, int argc, char **argv);
void opts_free(struct opts *o);
#endif
