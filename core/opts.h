/* Server options: defaults, the command line and the config file
 * (nats-compat.md §7), and the files an operator uses (the ports file).
 *
 * Threads: the control thread builds a struct opts before the shards start;
 * it is immutable afterwards (architecture.md rule 4). A config reload builds
 * a second one with opts_load_quiet() (also on the control thread), checks it
 * with opts_reload_check() and publishes it as the server sees fit; nothing
 * here touches shared state, so any thread may call any function on opts it
 * owns. ports_file_write/remove belong to the control thread (they log).
 *
 * Precedence: defaults < config file < command-line flags, as nats-server.
 * Every nats-server 2.9.10 option and flag is recognised: the ones gannet
 * implements take effect, the others are refused by name ("... is not
 * supported yet by gannet"), never silently ignored (README, "Not yet
 * supported"). Config forms that nats-server rejects but the seed documents
 * use are accepted as gannet extensions, each with a one-line warning. */
#ifndef GANNET_OPTS_H
#define GANNET_OPTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../net/tls.h"

#define GANNET_VERSION "0.1.0"
#define NATS_COMPAT_VERSION "2.9.10" /* the nats-server whose behaviour gannet implements */

/* User permissions (nats-compat.md §6.2): subject patterns, "subject queue"
 * entries in the subscribe lists being queue-only. */
struct perm_list {
    char **v;
    int n;
};
struct perm_opt {
    struct perm_list pub_allow, pub_deny, sub_allow, sub_deny;
    bool pub_allow_set, sub_allow_set; /* an allow list was given: what it does not name is denied */
    bool resp;                         /* allow_responses */
    int32_t resp_max;                  /* replies per request received (default 1) */
    int64_t resp_expires_ms;           /* within this time (default 2m) */
};

/* A subject mapping (`mappings { src: dest | [ {destination, weight} ] }`):
 * a message published on src goes to one of the destinations, picked by
 * weight (percent; what the weights leave to 100 keeps the subject). */
struct mapping_opt {
    char *src;
    struct map_dest {
        char *dest;
        int weight;
    } *d;
    int nd;
};

struct opts {
    char *host;              /* client listen address, default 0.0.0.0 */
    int port;                /* 4222; -1 = random */
    char *server_name;       /* default: the server id */
    char *config_file;
    int shards;              /* 0 = number of online CPUs */

    int64_t max_payload;     /* bytes, 1 MiB */
    int64_t max_pending;     /* bytes, 64 MiB */
    int64_t xshard_max_pending; /* gannet: bytes in flight per ordered shard pair, 4 MiB */
    int32_t max_control_line;/* 4096 */
    int32_t max_connections; /* 65536 */
    int32_t max_subs;        /* 0 = unlimited */
    int64_t ping_interval_ms;/* 2m */
    int32_t ping_max;        /* 2 */
    int64_t write_deadline_ms; /* 10s */

    /* authorization: a single user, a token, or a users list */
    char *user, *pass, *token;
    struct user_opt {
        char *name, *pass;   /* name NULL: an nkey user */
        char *nkey;          /* public user nkey ("U..."): authenticates by signing the INFO nonce */
        char *account;       /* the account it belongs to (declared in its users); NULL: $G */
        struct perm_opt *perms; /* its own permissions, or its block's default_permissions; NULL: none */
        bool own_perms;      /* perms is its own (else shared with a default) */
        uint8_t conn_types;  /* allowed_connection_types, CT_* bits; 0: every type */
    } *users;
    struct perm_opt *default_perms; /* authorization { default_permissions } */
    int nusers;

    /* accounts { A { users, exports, imports } } (nats-compat.md §6.3) */
    struct account_opt {
        char *name;
        struct perm_opt *default_perms;
        struct mapping_opt *maps;
        int nmaps;
        struct export_opt {
            char *subject;
            bool service;
            int resp_type;             /* service: RESP_SINGLETON, RESP_STREAM, RESP_CHUNKED */
            int64_t threshold_ms;      /* service: how long a response may take (default 2m) */
            char **accounts;           /* private: only these may import it (naccounts 0: public) */
            int naccounts;
        } *exports;
        int nexports;
        struct import_opt {
            bool service;
            char *account, *subject;   /* the exporter and the subject in its space */
            char *to, *prefix;         /* stream: `to` or `prefix` remapping; service: the local subject */
            bool added;                /* passed the checks (the loader's cycle detection follows these) */
        } *imports;
        int nimports;
    } *accounts;
    int naccounts;
    struct mapping_opt *maps; /* top-level mappings: the global account's */
    int nmaps;
    char *system_account;    /* default "$SYS" */
    bool no_system_account;
    char *no_auth_user;      /* CONNECT without credentials authenticates as this user */
    int64_t auth_timeout_ms; /* 2s; with TLS, the TLS timeout + 1s, unless configured */
    bool auth_timeout_set;

    /* logging and files */
    bool debug, trace, logtime, logtime_utc;
    char *log_file, *pid_file;
    int64_t log_size_limit;  /* bytes; rotate log_file beyond it (0 = never) */
    bool syslog;             /* log to the local syslog (when no log_file) */
    char *remote_syslog;     /* udp://host:port, tcp://host:port or unix:///path (when no log_file) */
    char *ports_file_dir;    /* write <exe>_<pid>.ports here once listening */

    /* lame duck mode (SIGUSR2, --signal ldm) */
    int64_t lame_duck_duration_ms; /* 2m, at least 30s: clients are closed over this span */
    int64_t lame_duck_grace_ms;    /* 10s: wait before closing the first client */

    /* cluster routes (nats-compat.md §3; cluster/route.h) */
    struct cluster_opt {
        bool configured;       /* a cluster block, --cluster or the seed docs' top-level routes */
        char *name;            /* NULL: a dynamic name (nats-server's cluster_dynamic) */
        char *host;            /* route listen address, default 0.0.0.0 */
        int port;              /* route port; -1: random; 0: no listener */
        char **routes;         /* explicit routes: nats-route://[user:pass@]host:port */
        int nroutes;
        char *advertise;       /* host:port told to peers instead of ours */
        bool no_advertise;     /* keep the peers' client URLs out of our clients' INFO */
        int32_t connect_retries; /* implicit routes: attempts after the first (explicit ones retry forever) */
        char *user, *pass;     /* authorization { user, password } the peers' CONNECT must carry */
        int64_t auth_timeout_ms; /* 0: the client auth timeout */
        int64_t ping_interval_ms; /* 0: the server's ping_interval (nats-server 2.11's route override) */
        int32_t ping_max;      /* 0: the server's ping_max */
        int64_t connect_timeout_ms; /* dialling a route (nats-server: fixed 1s; the seed docs' extension) */
        int32_t pool_size;     /* nats-server 2.10's: connections per peer for the pooled accounts;
                                * 0: the default (3), -1: no pooling (one connection, as 2.9) */
        char **accounts;       /* 2.10's pinned accounts: a dedicated connection each ($SYS added when pooling) */
        int naccounts;
        int compression;       /* 2.10's route compression (enum route_comp; 0: unset, i.e. accept) */
        int64_t rtt_ms[4];     /* s2_auto: RTT thresholds of uncompressed, fast, better (best beyond) */
        int nrtt;
        struct tls_opt tls;    /* cluster { tls {} }: both ends of every route */
    } cluster;
    char *client_advertise;    /* host:port our peers' clients are told for us */
    int32_t connect_error_reports;   /* log every Nth failed attempt of a never-connected route (3600) */
    int32_t reconnect_error_reports; /* ...and of a route that was connected before (1) */

    /* client TLS (`tls {}`, --tls...; net/tls.h) and allow_non_tls */
    struct tls_opt tls;
    bool allow_non_tls;
    struct {                 /* --tls, --tlsverify, --tlscert, --tlskey, --tlscacert: override tls {} */
        bool tls, verify;
        bool any, off;       /* one of them was given; --tls=false was */
        char *cert, *key, *ca;
    } tls_flags;

    /* monitoring HTTP (monitor/): `http`, `http_port`/`monitor_port`, -m;
     * HTTPS (`https`, `https_port`, -ms) uses the client tls {} block */
    char *http_host;         /* default: host (set by the loader, as nats-server's baseline) */
    int http_port;           /* 0 = no monitoring; -1 = a random port */
    int https_port;          /* 0 = none; -1 = a random port */
    bool https;              /* the monitor listens with TLS (https/https_port/-ms given) */
    char *http_base_path;    /* as configured ("" / NULL = "/"); the monitor normalizes it */

    /* the command line, kept so that a reload re-applies the same flags; not
     * owned: points at main()'s argv, which lives as long as the process */
    char **argv;
    int argc;
    /* --signal <cmd>[=<pid|pidfile>]: when set, opts_load returned 0 without
     * reading the config file and main() sends the signal instead of serving */
    char *signal_cmd;
};

/* nats-server 2.10's compression modes (server.go); the names are theirs. */
enum route_comp {
    COMP_UNSET,
    COMP_NOT_SUPPORTED, /* "not supported": no compression field in INFO, as a 2.9 server */
    COMP_OFF,
    COMP_ACCEPT,
    COMP_S2_AUTO,
    COMP_S2_UNCOMPRESSED,
    COMP_S2_FAST,
    COMP_S2_BETTER,
    COMP_S2_BEST,
};
extern const char *const route_comp_names[]; /* by enum route_comp ("" for COMP_UNSET) */

/* Parse argv (and the config file it names) into o. Returns 0 to run (or to
 * send o->signal_cmd), 1 when the process should exit 0 (--version, --help,
 * -t success), or -1 on error (message and, for flag errors, usage already
 * printed on stderr). Config warnings go to stderr. opts_free(o) afterwards
 * in every case. */
int opts_load(struct opts *o, int argc, char **argv);

/* The same for a config reload: never prints or exits; errors (one per line,
 * "<file>:<line>:<col>: <message>" where positioned) go into err; warnings
 * are logged (log_warn). -t, -h, -v, --signal in argv are ignored. 0 or -1;
 * opts_free(o) afterwards in both cases. */
int opts_load_quiet(struct opts *o, int argc, char **argv, char *err, size_t errlen);

/* 0 when every difference between old and new can be applied at run time
 * (logging, limits, authorization, lame duck settings); otherwise -1 and
 * err = "config reload not supported for <Name>: old=<v>, new=<v>" for the
 * first one that cannot (nats-server's wording and Go field names). */
int opts_reload_check(const struct opts *old, const struct opts *new, char *err, size_t errlen);

enum { RESP_SINGLETON, RESP_STREAM, RESP_CHUNKED };

/* A user's allowed_connection_types (nats-server's jwt.ConnectionType*
 * names, any case). gannet's clients are all STANDARD: it has no WebSocket
 * or MQTT listener yet. */
enum {
    CT_STANDARD = 1 << 0,
    CT_WEBSOCKET = 1 << 1,
    CT_LEAFNODE = 1 << 2,
    CT_LEAFNODE_WS = 1 << 3,
    CT_MQTT = 1 << 4,
    CT_MQTT_WS = 1 << 5,
};
#define RESP_THRESHOLD_DEFAULT_MS 120000 /* nats-server's DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD */

/* Any authentication configured: clients must CONNECT first (unless no_auth_user). */
bool opts_auth_configured(const struct opts *o);
bool opts_has_nkeys(const struct opts *o); /* some user authenticates with an nkey */
/* The same rules (NULL: none), entries in the same order. */
bool opts_perms_equal(const struct perm_opt *a, const struct perm_opt *b);

void opts_free(struct opts *o);

/* nats-server's ports file: <ports_file_dir>/<basename argv[0]>_<pid>.ports
 * holding {"nats":["nats://host:port",...],"monitoring":["http://host:port",...]}
 * (every interface address when listening on 0.0.0.0 or ::). No-op without
 * ports_file_dir; errors are logged with nats-server's wording. Control
 * thread.
 *
 * ports_file_write() is what the server calls once the client port is bound:
 * with monitoring configured (http_port != 0) it writes nothing, because the
 * monitor's port is not known yet (-1: random) and a reader must never see a
 * file without it; monitor_start() then calls ports_file_write_http() with
 * the monitor listener's bound address and port. */
void ports_file_write(const struct opts *o, int client_port);
void ports_file_write_http(const struct opts *o, int client_port, const char *http_addr, int http_port);
void ports_file_remove(const struct opts *o);

/* The logging settings of o, as log_open/log_reconfigure take them (the
 * syslog tag is the program name, basename of argv[0], as nats-server's).
 * lc's strings point into o: use lc while o lives. */
struct log_config;
void opts_log_config(const struct opts *o, struct log_config *lc);

/* Go's time.Duration.String() of a millisecond count ("2m0s", "1.5s", "500ms"). */
void opts_duration_str(int64_t ms, char *buf, size_t cap);
#endif
