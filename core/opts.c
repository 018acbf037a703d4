/* Options: defaults, the config file and the command line (nats-compat.md
 * §7). The control thread builds one struct opts before the shards start.
 *
 * Every nats-server option is recognised. The ones gannet implements take
 * effect; the ones that belong to capabilities not built yet are refused
 * with "not supported yet" (listed in the README), never silently ignored. */
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "log.h"

#define PROG "gannet"

static void set_defaults(struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = strdup("0.0.0.0");
    o->port = 4222;
    o->max_payload = 1024 * 1024;
    o->max_pending = 64 * 1024 * 1024;
    o->max_control_line = 4096;
    o->max_connections = 64 * 1024;
    o->ping_interval_ms = 2 * 60 * 1000;
    o->ping_max = 2;
    o->write_deadline_ms = 10 * 1000;
    o->auth_timeout_ms = 2000;
    o->logtime = true;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

void opts_free(struct opts *o)
{
    free(o->host);
    free(o->server_name);
    free(o->config_file);
    free(o->user);
    free(o->pass);
    free(o->token);
    free(o->log_file);
    free(o->pid_file);
    for (int i = 0; i < o->nusers; i++) {
        free(o->users[i].name);
        free(o->users[i].pass);
    }
    free(o->users);
    free(o->no_auth_user);
}

bool opts_auth_configured(const struct opts *o)
{
    return o->user || o->token || o->nusers > 0;
}

/* ---- config file ---- */

/* nats-server options that gannet recognises but does not implement yet. */
static const char *const unsupported_keys[] = {
    "cluster", "gateway", "leafnodes", "leaf", "accounts", "tls", "allow_non_tls", "jetstream", "store_dir",
    "websocket", "mqtt", "operator", "operators", "resolver", "resolver_preload", "resolver_tls",
    "system_account", "system", "no_system_account", "http", "http_port", "monitor_port",
    "https", "https_port", "http_base_path", "lame_duck_duration", "lame_duck_grace_period", "syslog",
    "remote_syslog", "ports_file_dir", "log_size_limit", "logfile_size_limit", "log_max_num",
    "max_traced_msg_len", "trace_verbose", "mappings", "server_tags", "no_header_support",
    "disable_sublist_cache", "max_closed_clients", "connect_error_reports", "reconnect_error_reports",
    "prof_port", "client_advertise", "max_sub_tokens", "trusted", "trusted_keys", "default_js_domain",
    "jetstream_max_memory", "jetstream_max_store", "ocsp", "ocsp_cache", "routes", NULL};

static bool in_list(const char *const *l, const char *k)
{
    for (; *l; l++)
        if (strcasecmp(*l, k) == 0)
            return true;
    return false;
}

static int err_out(const char *err)
{
    fprintf(stderr, PROG ": %s\n", err);
    return -1;
}

static int parse_listen(struct opts *o, const struct conf_node *n, char *err, size_t el)
{
    if (n->kind == CONF_INT) {
        o->port = (int)n->i;
        return 0;
    }
    const char *v;
    if (conf_string(n, &v, err, el) < 0)
        return -1;
    const char *colon = strrchr(v, ':');
    if (!colon) {
        conf_errorf(n, err, el, "could not parse address string \"%s\"", v);
        return -1;
    }
    char *h = strndup(v, (size_t)(colon - v));
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        memmove(h, h + 1, strlen(h));
        h[strlen(h) - 1] = 0;
    }
    free(o->host);
    o->host = h;
    o->port = atoi(colon + 1);
    return 0;
}

static int get_ms(const struct conf_node *n, int64_t *dst, char *err, size_t el)
{
    long long ns;
    int warned = 0;
    if (conf_duration_ns(n, &ns, &warned, err, el) < 0)
        return -1;
    if (warned)
        log_warn("%s:%d:%d: '%s' should be converted to a duration", n->file, n->line, n->col, n->key);
    *dst = ns / 1000000;
    return 0;
}

static int get_i64(const struct conf_node *n, int64_t *dst, char *err, size_t el)
{
    long long v;
    if (conf_int(n, &v, err, el) < 0)
        return -1;
    *dst = v;
    return 0;
}

static int get_i32(const struct conf_node *n, int32_t *dst, char *err, size_t el)
{
    long long v;
    if (conf_int(n, &v, err, el) < 0)
        return -1;
    if (v < -2147483648LL || v > 2147483647LL) {
        conf_errorf(n, err, el, "value for \"%s\" out of range", n->key);
        return -1;
    }
    *dst = (int32_t)v;
    return 0;
}

static int get_strdup(const struct conf_node *n, char **dst, char *err, size_t el)
{
    const char *v;
    if (conf_string(n, &v, err, el) < 0)
        return -1;
    set_str(dst, v);
    return 0;
}

static int get_bool(const struct conf_node *n, bool *dst, char *err, size_t el)
{
    int v;
    if (conf_bool(n, &v, err, el) < 0)
        return -1;
    *dst = v != 0;
    return 0;
}

static int parse_user(struct user_opt *u, const struct conf_node *m, char *err, size_t el)
{
    if (m->kind != CONF_MAP) {
        conf_errorf(m, err, el, "Expected user entry to be a map/struct");
        return -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc;
        if (!strcasecmp(k, "user") || !strcasecmp(k, "username"))
            rc = get_strdup(n, &u->name, err, el);
        else if (!strcasecmp(k, "pass") || !strcasecmp(k, "password"))
            rc = get_strdup(n, &u->pass, err, el);
        else if (!strcasecmp(k, "nkey") || !strcasecmp(k, "permissions") || !strcasecmp(k, "account") ||
                 !strcasecmp(k, "allowed_connection_types")) {
            conf_errorf(n, err, el, "user \"%s\" is not supported yet by gannet", k);
            rc = -1;
        } else {
            conf_errorf(n, err, el, "Unknown field \"%s\" parsing users", k);
            rc = -1;
        }
        if (rc < 0)
            return -1;
    }
    if (!u->name) {
        conf_errorf(m, err, el, "User entry requires a user");
        return -1;
    }
    return 0;
}

static int parse_users(struct opts *o, const struct conf_node *a, char *err, size_t el)
{
    if (a->kind != CONF_ARRAY) {
        conf_errorf(a, err, el, "Expected users field to be an array");
        return -1;
    }
    o->users = calloc(a->n ? a->n : 1, sizeof *o->users);
    if (!o->users)
        return -1;
    for (size_t i = 0; i < a->n; i++) {
        if (parse_user(&o->users[o->nusers++], a->items[i], err, el) < 0)
            return -1;
        for (int k = 0; k + 1 < o->nusers; k++)
            if (strcmp(o->users[k].name, o->users[o->nusers - 1].name) == 0) {
                conf_errorf(a->items[i], err, el, "Duplicate user \"%s\" detected", o->users[k].name);
                return -1;
            }
    }
    return 0;
}

static int parse_authorization(struct opts *o, const struct conf_node *m, char *err, size_t el)
{
    if (m->kind != CONF_MAP) {
        conf_errorf(m, err, el, "Expected authorization to be a map/struct, got %s", "a value");
        return -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc;
        if (!strcasecmp(k, "user") || !strcasecmp(k, "username"))
            rc = get_strdup(n, &o->user, err, el);
        else if (!strcasecmp(k, "pass") || !strcasecmp(k, "password"))
            rc = get_strdup(n, &o->pass, err, el);
        else if (!strcasecmp(k, "token"))
            rc = get_strdup(n, &o->token, err, el);
        else if (!strcasecmp(k, "timeout")) {
            if (n->kind == CONF_INT)
                o->auth_timeout_ms = n->i * 1000, rc = 0;
            else if (n->kind == CONF_FLOAT)
                o->auth_timeout_ms = (int64_t)(n->f * 1000), rc = 0;
            else
                rc = get_ms(n, &o->auth_timeout_ms, err, el);
        } else if (!strcasecmp(k, "users")) {
            rc = parse_users(o, n, err, el);
        } else if (!strcasecmp(k, "nkeys") || !strcasecmp(k, "permissions") ||
                   !strcasecmp(k, "default_permissions") || !strcasecmp(k, "auth_callout")) {
            conf_errorf(n, err, el, "authorization \"%s\" is not supported yet by gannet", k);
            rc = -1;
        } else if (n->used_as_var) {
            rc = 0;
        } else {
            conf_errorf(n, err, el, "unknown field \"%s\"", k);
            rc = -1;
        }
        if (rc < 0)
            return -1;
    }
    if (o->token && (o->user || o->pass)) {
        conf_errorf(m, err, el, "Cannot have a user/pass and token");
        return -1;
    }
    if (o->nusers && (o->user || o->token)) {
        conf_errorf(m, err, el, "Can not have a single user/pass and a users array");
        return -1;
    }
    return 0;
}

static int apply_key(struct opts *o, const struct conf_node *n, char *err, size_t el)
{
    const char *k = n->key;
#define IS(x) (strcasecmp(k, x) == 0)
    if (IS("listen"))
        return parse_listen(o, n, err, el);
    if (IS("host") || IS("net"))
        return get_strdup(n, &o->host, err, el);
    if (IS("port")) {
        int32_t p;
        if (get_i32(n, &p, err, el) < 0)
            return -1;
        o->port = p;
        return 0;
    }
    if (IS("server_name")) {
        if (get_strdup(n, &o->server_name, err, el) < 0)
            return -1;
        if (strpbrk(o->server_name, " \t\r\n")) {
            conf_errorf(n, err, el, "server name \"%s\" can not contain spaces", o->server_name);
            return -1;
        }
        return 0;
    }
    if (IS("max_payload"))
        return get_i64(n, &o->max_payload, err, el);
    if (IS("max_pending"))
        return get_i64(n, &o->max_pending, err, el);
    if (IS("max_control_line"))
        return get_i32(n, &o->max_control_line, err, el);
    if (IS("max_connections") || IS("max_conn"))
        return get_i32(n, &o->max_connections, err, el);
    if (IS("max_subscriptions") || IS("max_subs"))
        return get_i32(n, &o->max_subs, err, el);
    if (IS("ping_interval"))
        return get_ms(n, &o->ping_interval_ms, err, el);
    if (IS("ping_max"))
        return get_i32(n, &o->ping_max, err, el);
    if (IS("write_deadline"))
        return get_ms(n, &o->write_deadline_ms, err, el);
    if (IS("authorization"))
        return parse_authorization(o, n, err, el);
    if (IS("no_auth_user"))
        return get_strdup(n, &o->no_auth_user, err, el);
    if (IS("debug"))
        return get_bool(n, &o->debug, err, el);
    if (IS("trace"))
        return get_bool(n, &o->trace, err, el);
    if (IS("logtime"))
        return get_bool(n, &o->logtime, err, el);
    if (IS("logtime_utc"))
        return get_bool(n, &o->logtime_utc, err, el);
    if (IS("log_file") || IS("logfile"))
        return get_strdup(n, &o->log_file, err, el);
    if (IS("pid_file") || IS("pidfile"))
        return get_strdup(n, &o->pid_file, err, el);
    if (IS("shards")) { /* gannet extension: shard threads */
        int32_t v;
        if (get_i32(n, &v, err, el) < 0)
            return -1;
        o->shards = v;
        return 0;
    }
#undef IS
    if (in_list(unsupported_keys, k)) {
        conf_errorf(n, err, el, "\"%s\" is not supported yet by gannet (see README, \"Not yet supported\")", k);
        return -1;
    }
    if (n->used_as_var)
        return 0;
    conf_errorf(n, err, el, "unknown field \"%s\"", k);
    return -1;
}

static int load_file(struct opts *o, const char *path)
{
    char err[1024];
    struct conf_node *root;
    if (conf_parse_file(path, &root, err, sizeof err) < 0)
        return err_out(err);
    int rc = 0;
    for (size_t i = 0; i < root->n && rc == 0; i++)
        rc = apply_key(o, root->items[i], err, sizeof err);
    conf_free(root);
    return rc < 0 ? err_out(err) : 0;
}

static int validate(struct opts *o)
{
    if (o->no_auth_user) {
        bool found = false;
        for (int i = 0; i < o->nusers; i++)
            found |= strcmp(o->users[i].name, o->no_auth_user) == 0;
        if (!found) {
            fprintf(stderr, PROG ": no_auth_user: \"%s\" not present as user or nkey in authorization block "
                            "or account configuration\n", o->no_auth_user);
            return -1;
        }
    }
    if (o->max_payload > o->max_pending) {
        fprintf(stderr, PROG ": max_payload (%lld) cannot be higher than max_pending (%lld)\n",
                (long long)o->max_payload, (long long)o->max_pending);
        return -1;
    }
    if (o->ping_interval_ms <= 0)
        o->ping_interval_ms = 2 * 60 * 1000;
    if (o->max_control_line <= 0)
        o->max_control_line = 4096;
    if (o->max_connections == 0)
        o->max_connections = 64 * 1024;
    if (o->max_payload > 8 * 1024 * 1024)
        log_warn("Maximum payloads over 8.00 MB are generally discouraged and could lead to poor performance");
    return 0;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fputs("Usage: gannet [options]\n"
          "\n"
          "Server Options:\n"
          "    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)\n"
          "    -p, --port <port>                Use port for clients (default: 4222)\n"
          "    -n, --name, --server_name <name> Server name (default: auto)\n"
          "    -P, --pid <file>                 File to store PID\n"
          "    -c, --config <file>              Configuration file\n"
          "    -t                               Test configuration and exit\n"
          "        --shards <n>                 Shard threads (default: online CPUs)\n"
          "\n"
          "Logging Options:\n"
          "    -l, --log <file>                 File to redirect log output\n"
          "    -T, --logtime                    Timestamp log entries (default: true)\n"
          "        --logtime_utc                Timestamps in UTC\n"
          "    -D, --debug                      Enable debugging output\n"
          "    -V, --trace                      Trace the raw protocol\n"
          "    -DV                              Debug and trace\n"
          "\n"
          "Authorization Options:\n"
          "        --user <user>                User required for connections\n"
          "        --pass <password>            Password required for connections\n"
          "        --auth <token>               Authorization token required for connections\n"
          "\n"
          "Common Options:\n"
          "    -h, --help                       Show this message\n"
          "    -v, --version                    Show version\n",
          f);
}

/* nats-server flags that gannet does not implement yet: refused by name. */
static const char *const unsupported_flags[] = {
    "m", "http_port", "ms", "https_port", "sl", "signal", "client_advertise", "ports_file_dir", "s", "syslog",
    "r", "remote_syslog", "log_size_limit", "max_traced_msg_len", "js", "jetstream", "sd", "store_dir",
    "tls", "tlscert", "tlskey", "tlsverify", "tlscacert", "routes", "cluster", "cluster_listen", "cluster_name",
    "no_advertise", "cluster_advertise", "connect_retries", "profile", "help_tls", NULL};

struct flag_state {
    int argc, i;
    char **argv;
    const char *inline_val; /* value given as -flag=value */
};

static const char *flag_value(struct flag_state *st, const char *name)
{
    if (st->inline_val)
        return st->inline_val;
    if (st->i + 1 >= st->argc) {
        fprintf(stderr, PROG ": flag needs an argument: -%s\n", name);
        return NULL;
    }
    return st->argv[++st->i];
}

static bool flag_bool(struct flag_state *st)
{
    const char *v = st->inline_val;
    return !v || !strcasecmp(v, "true") || !strcmp(v, "1");
}

/* Apply one flag; returns 0, 1 (exit 0 now) or -1. */
static int apply_flag(struct opts *o, struct flag_state *st, const char *f, bool *test_only)
{
#define IS(x) (strcmp(f, x) == 0)
    const char *v;
    if (IS("h") || IS("help")) {
        usage(stdout);
        return 1;
    }
    if (IS("v") || IS("version")) {
        printf("nats-server: v%s (gannet %s)\n", NATS_COMPAT_VERSION, GANNET_VERSION);
        return 1;
    }
    if (IS("t")) {
        *test_only = true;
        return 0;
    }
    if (IS("D") || IS("debug"))
        return o->debug = flag_bool(st), 0;
    if (IS("V") || IS("trace"))
        return o->trace = flag_bool(st), 0;
    if (IS("DV") || IS("VV") || IS("DVV"))
        return o->debug = o->trace = true, 0;
    if (IS("T") || IS("logtime"))
        return o->logtime = flag_bool(st), 0;
    if (IS("logtime_utc"))
        return o->logtime_utc = flag_bool(st), 0;
    bool takes = IS("a") || IS("addr") || IS("net") || IS("p") || IS("port") || IS("n") || IS("name") ||
                 IS("server_name") || IS("P") || IS("pid") || IS("c") || IS("config") || IS("l") || IS("log") ||
                 IS("user") || IS("pass") || IS("auth") || IS("shards");
    if (takes) {
        if (!(v = flag_value(st, f)))
            return -1;
        if (IS("a") || IS("addr") || IS("net"))
            set_str(&o->host, v);
        else if (IS("p") || IS("port"))
            o->port = atoi(v);
        else if (IS("n") || IS("name") || IS("server_name"))
            set_str(&o->server_name, v);
        else if (IS("P") || IS("pid"))
            set_str(&o->pid_file, v);
        else if (IS("l") || IS("log"))
            set_str(&o->log_file, v);
        else if (IS("user"))
            set_str(&o->user, v);
        else if (IS("pass"))
            set_str(&o->pass, v);
        else if (IS("auth"))
            set_str(&o->token, v);
        else if (IS("shards"))
            o->shards = atoi(v);
        return 0; /* -c was handled in the first pass */
    }
#undef IS
    if (in_list(unsupported_flags, f)) {
        fprintf(stderr, PROG ": flag -%s is not supported yet by gannet (see README, \"Not yet supported\")\n", f);
        return -1;
    }
    fprintf(stderr, "flag provided but not defined: -%s\n", f);
    usage(stderr);
    return -1;
}

static int split_flag(const char *arg, char *name, size_t cap, const char **inline_val)
{
    const char *f = arg + 1;
    if (*f == '-')
        f++;
    const char *eq = strchr(f, '=');
    size_t n = eq ? (size_t)(eq - f) : strlen(f);
    if (n == 0 || n >= cap)
        return -1;
    memcpy(name, f, n);
    name[n] = 0;
    *inline_val = eq ? eq + 1 : NULL;
    return 0;
}

int opts_load(struct opts *o, int argc, char **argv)
{
    set_defaults(o);
    char name[64];
    /* First pass: the config file, so that flags override it. */
    for (int i = 1; i < argc; i++) {
        const char *iv;
        if (argv[i][0] != '-' || split_flag(argv[i], name, sizeof name, &iv) < 0)
            continue;
        if (!strcmp(name, "c") || !strcmp(name, "config")) {
            const char *v = iv ? iv : (i + 1 < argc ? argv[i + 1] : NULL);
            if (!v) {
                fprintf(stderr, PROG ": flag needs an argument: -%s\n", name);
                return -1;
            }
            set_str(&o->config_file, v);
        }
    }
    if (o->config_file && load_file(o, o->config_file) < 0)
        return -1;
    bool test_only = false;
    struct flag_state st = {.argc = argc, .argv = argv};
    for (st.i = 1; st.i < argc; st.i++) {
        const char *a = argv[st.i];
        if (a[0] != '-' || split_flag(a, name, sizeof name, &st.inline_val) < 0) {
            fprintf(stderr, PROG ": unexpected argument \"%s\"\n", a);
            usage(stderr);
            return -1;
        }
        int rc = apply_flag(o, &st, name, &test_only);
        if (rc != 0)
            return rc;
    }
    if (validate(o) < 0)
        return -1;
    if (test_only) {
        if (!o->config_file) {
            fprintf(stderr, PROG ": must specify [-c, --config] option to check configuration file syntax\n");
            return -1;
        }
        printf(PROG ": configuration file %s is valid\n", o->config_file);
        return 1;
    }
    return 0;
}
