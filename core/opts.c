/* Options: defaults, the config file and the command line (nats-compat.md
 * §7), the reload check and the ports file. See opts.h for the threads.
 *
 *   argv ──parse_flags──> flag list ──(-v, -h, positional, refusals, --signal)
 *                              │
 *   defaults ──config file──> opts ──flags applied over it──> validate ──> -t / run
 *                 │
 *                 └─ every top-level key: implemented → field; not yet
 *                    implemented → "not supported yet" error; a seed-document
 *                    extension → warning, then the capability's refusal;
 *                    anything else → `unknown field "x"` (nats-server's words).
 *
 * Errors are collected rather than stopping at the first, as nats-server
 * does, and reported one per line; warnings are printed (or, on reload,
 * logged) once the file is read. The flag grammar is Go's flag package:
 * -f and --f alike, -f=v, -f v for non-boolean flags, parsing stops at the
 * first non-flag argument or "--". */
#include "opts.h"
#include "nkey.h"
#include "subject.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "goquote.h"
#include "log.h"

#define PROG "gannet"
#define EBUF 768 /* one error or warning line */
#define MS(x) ((int64_t)(x) * 1000)

static const char readme_ref[] = "see README, \"Not yet supported\"";

static void set_defaults(struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = strdup("0.0.0.0");
    o->port = 4222;
    o->max_payload = 1024 * 1024;
    o->max_pending = 64 * 1024 * 1024;
    o->xshard_max_pending = 4 * 1024 * 1024;
    o->max_control_line = 4096;
    o->max_connections = 64 * 1024;
    o->ping_interval_ms = MS(120);
    o->ping_max = 2;
    o->write_deadline_ms = MS(10);
    o->auth_timeout_ms = MS(2);
    o->logtime = true;
    o->lame_duck_duration_ms = MS(120);
    o->lame_duck_grace_ms = MS(10);
    o->cluster.host = strdup("0.0.0.0");
    o->cluster.connect_timeout_ms = MS(1);
    o->connect_error_reports = 3600;
    o->reconnect_error_reports = 1;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

static void perm_list_free(struct perm_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void perm_free(struct perm_opt *p)
{
    if (!p)
        return;
    perm_list_free(&p->pub_allow);
    perm_list_free(&p->pub_deny);
    perm_list_free(&p->sub_allow);
    perm_list_free(&p->sub_deny);
    free(p);
}

static void user_free(struct user_opt *u)
{
    free(u->name);
    free(u->nkey);
    free(u->pass);
    free(u->account);
    if (u->own_perms)
        perm_free(u->perms);
}

static void maps_free(struct mapping_opt *m, int n)
{
    for (int i = 0; i < n; i++) {
        free(m[i].src);
        for (int k = 0; k < m[i].nd; k++)
            free(m[i].d[k].dest);
        free(m[i].d);
    }
    free(m);
}

static void account_opt_free(struct account_opt *a)
{
    free(a->name);
    maps_free(a->maps, a->nmaps);
    perm_free(a->default_perms);
    for (int i = 0; i < a->nexports; i++) {
        free(a->exports[i].subject);
        for (int k = 0; k < a->exports[i].naccounts; k++)
            free(a->exports[i].accounts[k]);
        free(a->exports[i].accounts);
    }
    free(a->exports);
    for (int i = 0; i < a->nimports; i++) {
        free(a->imports[i].account);
        free(a->imports[i].subject);
        free(a->imports[i].to);
        free(a->imports[i].prefix);
    }
    free(a->imports);
}

void opts_free(struct opts *o)
{
    free(o->cluster.name);
    free(o->cluster.host);
    for (int i = 0; i < o->cluster.nroutes; i++)
        free(o->cluster.routes[i]);
    free(o->cluster.routes);
    free(o->cluster.advertise);
    free(o->cluster.user);
    free(o->cluster.pass);
    for (int i = 0; i < o->cluster.naccounts; i++)
        free(o->cluster.accounts[i]);
    free(o->cluster.accounts);
    tls_opt_free(&o->cluster.tls);
    tls_opt_free(&o->tls);
    free(o->client_advertise);
    free(o->host);
    free(o->server_name);
    free(o->config_file);
    free(o->user);
    free(o->pass);
    free(o->token);
    free(o->log_file);
    free(o->pid_file);
    free(o->remote_syslog);
    free(o->ports_file_dir);
    free(o->signal_cmd);
    free(o->http_host);
    free(o->tls_flags.cert);
    free(o->tls_flags.key);
    free(o->tls_flags.ca);
    free(o->http_base_path);
    for (int i = 0; i < o->nusers; i++)
        user_free(&o->users[i]);
    free(o->users);
    perm_free(o->default_perms);
    free(o->no_auth_user);
    for (int i = 0; i < o->naccounts; i++)
        account_opt_free(&o->accounts[i]);
    free(o->accounts);
    maps_free(o->maps, o->nmaps);
    free(o->system_account);
    memset(o, 0, sizeof *o); /* a second opts_free is harmless */
}

bool opts_has_nkeys(const struct opts *o)
{
    for (int i = 0; i < o->nusers; i++)
        if (o->users[i].nkey)
            return true;
    return false;
}

static bool perm_list_equal(const struct perm_list *a, const struct perm_list *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

bool opts_perms_equal(const struct perm_opt *a, const struct perm_opt *b)
{
    if (!a || !b)
        return a == b;
    return a->pub_allow_set == b->pub_allow_set && a->sub_allow_set == b->sub_allow_set && a->resp == b->resp &&
           a->resp_max == b->resp_max && a->resp_expires_ms == b->resp_expires_ms &&
           perm_list_equal(&a->pub_allow, &b->pub_allow) && perm_list_equal(&a->pub_deny, &b->pub_deny) &&
           perm_list_equal(&a->sub_allow, &b->sub_allow) && perm_list_equal(&a->sub_deny, &b->sub_deny);
}

bool opts_auth_configured(const struct opts *o)
{
    return o->user || o->token || o->nusers > 0;
}

void opts_duration_str(int64_t ms, char *buf, size_t cap)
{
    /* Go prints h, m and s down from the largest non-zero unit ("1h0m0s"),
     * a fraction of a second without trailing zeros, and "ms" below 1s. */
    const char *sign = ms < 0 ? "-" : "";
    uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (v == 0) {
        snprintf(buf, cap, "0s");
        return;
    }
    if (v < 1000) {
        snprintf(buf, cap, "%s%llums", sign, (unsigned long long)v);
        return;
    }
    unsigned long long h = v / 3600000, m = v / 60000 % 60, s = v / 1000 % 60, f = v % 1000;
    char frac[8] = "";
    if (f) {
        snprintf(frac, sizeof frac, ".%03llu", f);
        for (size_t n = strlen(frac); frac[n - 1] == '0'; n--)
            frac[n - 1] = 0;
    }
    if (h)
        snprintf(buf, cap, "%s%lluh%llum%llu%ss", sign, h, m, s, frac);
    else if (m)
        snprintf(buf, cap, "%s%llum%llu%ss", sign, m, s, frac);
    else
        snprintf(buf, cap, "%s%llu%ss", sign, s, frac);
}

/* ------------------------------------------------------------ the loader */

struct warning {
    char *msg;
    bool strict; /* one of nats-server's own warnings: under -t it fails, as there */
};

struct loader {
    struct opts *o;
    const struct conf_node *root; /* the file being applied */
    bool quiet;                   /* reload: nothing printed, warnings logged */
    char *err;                    /* errors, one per line */
    size_t errlen, used;
    int nerr;
    struct warning *warns;
    int nwarn;
};

/* Record an error line; returns -1 so that handlers can `return add_err(...)`. */
static int add_err(struct loader *L, const char *msg)
{
    L->nerr++;
    if (!L->err || L->errlen == 0 || L->used + 1 >= L->errlen)
        return -1;
    int n = snprintf(L->err + L->used, L->errlen - L->used, "%s%s", L->used ? "\n" : "", msg);
    if (n > 0)
        L->used += (size_t)n < L->errlen - L->used ? (size_t)n : L->errlen - L->used - 1;
    return -1;
}

static int errf(struct loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int errf(struct loader *L, const char *fmt, ...)
{
    char e[EBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e, sizeof e, fmt, ap);
    va_end(ap);
    return add_err(L, e);
}

/* An error positioned at a node's value (at_key: at its key). */
static int node_err(struct loader *L, const struct conf_node *n, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int node_err(struct loader *L, const struct conf_node *n, bool at_key, const char *fmt, ...)
{
    char msg[EBUF], e[EBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at_key)
        conf_key_errorf(n, e, sizeof e, "%s", msg);
    else
        conf_errorf(n, e, sizeof e, "%s", msg);
    return add_err(L, e);
}

static void add_warning(struct loader *L, const char *msg, bool strict)
{
    struct warning *w = realloc(L->warns, (size_t)(L->nwarn + 1) * sizeof *w);
    if (!w)
        return;
    L->warns = w;
    w[L->nwarn].msg = strdup(msg);
    w[L->nwarn].strict = strict;
    if (w[L->nwarn].msg)
        L->nwarn++;
}

static void free_warnings(struct loader *L)
{
    for (int i = 0; i < L->nwarn; i++)
        free(L->warns[i].msg);
    free(L->warns);
    L->warns = NULL;
    L->nwarn = 0;
}

/* A config form nats-server 2.9.10 rejects, accepted by gannet: one line. */
static void ext_warning(struct loader *L, const struct conf_node *n, const char *where, const char *newer,
                        const char *meaning)
{
    char e[EBUF], what[160];
    if (newer)
        snprintf(what, sizeof what, " (a nats-server %s option)", newer);
    else
        what[0] = 0;
    conf_key_errorf(n, e, sizeof e,
                    "%s\"%s\" is a gannet extension%s: nats-server " NATS_COMPAT_VERSION
                    " rejects it (unknown field \"%s\"); read as %s",
                    where, n->key, what, n->key, meaning);
    add_warning(L, e, false);
}

/* ------------------------------------------------------------ typed readers */

static int rd_str(struct loader *L, const struct conf_node *n, char **dst)
{
    char e[EBUF];
    const char *v;
    if (conf_string(n, &v, e, sizeof e) < 0)
        return add_err(L, e);
    set_str(dst, v);
    return 0;
}

static int rd_bool(struct loader *L, const struct conf_node *n, bool *dst)
{
    char e[EBUF];
    int v;
    if (conf_bool(n, &v, e, sizeof e) < 0)
        return add_err(L, e);
    *dst = v != 0;
    return 0;
}

static int rd_i64(struct loader *L, const struct conf_node *n, int64_t *dst)
{
    char e[EBUF];
    long long v;
    if (conf_int(n, &v, e, sizeof e) < 0)
        return add_err(L, e);
    *dst = v;
    return 0;
}

static int rd_int_range(struct loader *L, const struct conf_node *n, long long lo, long long hi, long long *v)
{
    char e[EBUF];
    if (conf_int(n, v, e, sizeof e) < 0)
        return add_err(L, e);
    if (*v < lo || *v > hi)
        return node_err(L, n, false, "value for \"%s\" out of range", n->key);
    return 0;
}

static int rd_i32(struct loader *L, const struct conf_node *n, int32_t *dst)
{
    long long v;
    if (rd_int_range(L, n, INT32_MIN, INT32_MAX, &v) < 0)
        return -1;
    *dst = (int32_t)v;
    return 0;
}

static int rd_int(struct loader *L, const struct conf_node *n, int *dst)
{
    long long v;
    if (rd_int_range(L, n, INT32_MIN, INT32_MAX, &v) < 0)
        return -1;
    *dst = (int)v;
    return 0;
}

/* A Go duration string, or (with nats-server's warning) a number of seconds. */
static int rd_ms(struct loader *L, const struct conf_node *n, int64_t *dst)
{
    char e[EBUF];
    long long ns;
    int warned = 0;
    if (conf_duration_ns(n, &ns, &warned, e, sizeof e) < 0)
        return add_err(L, e);
    if (warned)
        add_warning(L, e, true);
    *dst = ns / 1000000;
    return 0;
}

/* lame_duck_*: nats-server takes only a duration string here (no seconds). */
static int rd_ms_strict(struct loader *L, const struct conf_node *n, int64_t *dst)
{
    if (n->kind != CONF_STRING)
        return node_err(L, n, false, "error parsing %s: expected a duration string, got %s", n->key,
                        conf_kind_name(n->kind));
    return rd_ms(L, n, dst);
}

/* ------------------------------------------------------------ authorization */

/* ------------------------------------------------------------ permissions */

static int perm_add(struct loader *L, struct perm_list *l, const struct conf_node *n)
{
    if (n->kind != CONF_STRING)
        return node_err(L, n, false, "Expected subject permissions to be a subject, or array of subjects, got %s",
                        conf_kind_name(n->kind));
    char **v = realloc(l->v, ((size_t)l->n + 1) * sizeof *v);
    if (!v)
        return errf(L, "out of memory");
    l->v = v;
    if (!(l->v[l->n] = strdup(n->str)))
        return errf(L, "out of memory");
    /* "subject" or "subject queue": the subject part must be valid */
    const char *sp = strchr(n->str, ' ');
    size_t slen = sp ? (size_t)(sp - n->str) : strlen(n->str);
    l->n++;
    if (!subject_valid(n->str, slen))
        return node_err(L, n, false, "subject \"%s\" is not a valid subject", n->str);
    return 0;
}

static int perm_strings(struct loader *L, struct perm_list *l, const struct conf_node *n)
{
    if (n->kind == CONF_ARRAY) {
        for (size_t i = 0; i < n->n; i++)
            if (perm_add(L, l, n->items[i]) < 0)
                return -1;
        return 0;
    }
    return perm_add(L, l, n);
}

/* publish / subscribe: a subject, a list (an allow list), or {allow, deny}. */
static int perm_subjects(struct loader *L, const struct conf_node *n, struct perm_list *allow, bool *allow_set,
                         struct perm_list *deny)
{
    if (n->kind != CONF_MAP) {
        *allow_set = true;
        return perm_strings(L, allow, n);
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct conf_node *e = n->items[i];
        int rc;
        if (!strcasecmp(e->key, "allow")) {
            *allow_set = true;
            rc = perm_strings(L, allow, e);
        } else if (!strcasecmp(e->key, "deny")) {
            rc = perm_strings(L, deny, e);
        } else if (e->used_as_var) {
            rc = 0;
        } else {
            rc = node_err(L, e, true, "Unknown field name \"%s\" parsing subject permissions, only 'allow' or "
                          "'deny' are permitted", e->key);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int parse_perms(struct loader *L, const struct conf_node *m, struct perm_opt **out)
{
    if (m->kind != CONF_MAP)
        return node_err(L, m, false, "Expected permissions to be a map/struct, got %s", conf_kind_name(m->kind));
    struct perm_opt *p = calloc(1, sizeof *p);
    if (!p)
        return errf(L, "out of memory");
    *out = p;
    bool pub_given = false;
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc = 0;
        if (!strcasecmp(k, "pub") || !strcasecmp(k, "publish") || !strcasecmp(k, "import")) {
            pub_given = true;
            rc = perm_subjects(L, n, &p->pub_allow, &p->pub_allow_set, &p->pub_deny);
        } else if (!strcasecmp(k, "sub") || !strcasecmp(k, "subscribe") || !strcasecmp(k, "export")) {
            rc = perm_subjects(L, n, &p->sub_allow, &p->sub_allow_set, &p->sub_deny);
        } else if (!strcasecmp(k, "allow_responses") || !strcasecmp(k, "allow_response")) {
            p->resp_max = 1;
            p->resp_expires_ms = 120000; /* nats-server's DEFAULT_ALLOW_RESPONSE_EXPIRATION */
            if (n->kind == CONF_BOOL) {
                p->resp = n->i != 0;
            } else if (n->kind == CONF_MAP) {
                p->resp = true;
                for (size_t j = 0; j < n->n && rc == 0; j++) {
                    const struct conf_node *e = n->items[j];
                    if (!strcasecmp(e->key, "max") || !strcasecmp(e->key, "max_msgs") ||
                        !strcasecmp(e->key, "max_messages") || !strcasecmp(e->key, "max_responses"))
                        rc = rd_i32(L, e, &p->resp_max);
                    else if (!strcasecmp(e->key, "expires") || !strcasecmp(e->key, "expiration") ||
                             !strcasecmp(e->key, "ttl"))
                        rc = rd_ms(L, e, &p->resp_expires_ms);
                    else if (!e->used_as_var)
                        rc = node_err(L, e, true, "Unknown field \"%s\" parsing allow_responses", e->key);
                }
            } else {
                rc = node_err(L, n, false, "Expected allow_responses to be a boolean or a map, got %s",
                              conf_kind_name(n->kind));
            }
        } else if (!n->used_as_var) {
            rc = node_err(L, n, true, "Unknown field \"%s\" parsing permissions", k);
        }
        if (rc < 0)
            return -1;
    }
    if (p->resp && !pub_given) /* as nats-server: responses only, nothing else may be published */
        p->pub_allow_set = true;
    return 0;
}

/* The Go type nats-server names in its "unsupported type" errors. */
static const char *go_type_name(enum conf_kind k)
{
    switch (k) {
    case CONF_STRING: return "string";
    case CONF_INT: return "int64";
    case CONF_FLOAT: return "float64";
    case CONF_BOOL: return "bool";
    case CONF_DATETIME: return "time.Time";
    case CONF_MAP: return "map[string]interface {}";
    case CONF_ARRAY: return "[]interface {}";
    }
    return "?";
}

/* allowed_connection_types (also connection_types, clients): a string or an
 * array of strings, nats-server's type names in any case. As there, a bad
 * element is reported and the others still read, and the unknown names are
 * listed together, upper-cased, in one error at the key. */
static int parse_conn_types(struct loader *L, const struct conf_node *n, uint8_t *out)
{
    static const char *const names[] = {"STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS"};
    static const char what[] = "error parsing allowed connection types";
    if (n->kind != CONF_STRING && n->kind != CONF_ARRAY)
        return node_err(L, n, true, "%s: unsupported type %s", what, go_type_name(n->kind));
    const struct conf_node *const *v = n->kind == CONF_ARRAY ? (const struct conf_node *const *)n->items : &n;
    size_t nv = n->kind == CONF_ARRAY ? n->n : 1;
    char unknown[EBUF];
    size_t ul = 0;
    int rc = 0;
    *out = 0;
    for (size_t i = 0; i < nv; i++) {
        if (v[i]->kind != CONF_STRING) {
            rc = node_err(L, v[i], false, "%s: unsupported type in array %s", what, go_type_name(v[i]->kind));
            continue;
        }
        char up[128];
        size_t len = v[i]->len < sizeof up ? v[i]->len : sizeof up - 1;
        for (size_t k = 0; k < len; k++)
            up[k] = (char)toupper((unsigned char)v[i]->str[k]);
        up[len] = 0;
        size_t t = 0;
        while (t < sizeof names / sizeof *names && (strlen(names[t]) != v[i]->len || strcmp(names[t], up) != 0))
            t++;
        if (t < sizeof names / sizeof *names) {
            *out |= (uint8_t)(1u << t); /* CT_* follow names[] */
            continue;
        }
        /* Go's %q of a []string: ["A" "B"] */
        char q[GO_QUOTE_MAX(sizeof up)];
        go_quote(q, sizeof q, up, len);
        int w = snprintf(unknown + ul, sizeof unknown - ul, "%s%s", ul ? " " : "", q);
        if (w > 0 && (size_t)w < sizeof unknown - ul)
            ul += (size_t)w;
    }
    if (ul)
        rc = node_err(L, n, true, "invalid connection types [%s]", unknown);
    return rc;
}

static int parse_user(struct loader *L, struct user_opt *u, const struct conf_node *m)
{
    if (m->kind != CONF_MAP)
        return node_err(L, m, false, "Expected user entry to be a map/struct, got %s", conf_kind_name(m->kind));
    int bad = 0; /* as nats-server: every field is read and each error reported */
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc;
        if (!strcasecmp(k, "user") || !strcasecmp(k, "username"))
            rc = rd_str(L, n, &u->name);
        else if (!strcasecmp(k, "pass") || !strcasecmp(k, "password"))
            rc = rd_str(L, n, &u->pass);
        else if (!strcasecmp(k, "permission") || !strcasecmp(k, "permissions")) {
            if (u->own_perms)
                perm_free(u->perms), u->perms = NULL;
            u->own_perms = true;
            rc = parse_perms(L, n, &u->perms);
        } else if (!strcasecmp(k, "nkey")) {
            uint8_t key[32];
            if ((rc = rd_str(L, n, &u->nkey)) == 0 && !nkey_decode_public(u->nkey, NKEY_PREFIX_USER, key))
                rc = node_err(L, n, false, "Not a valid public nkey for a user");
        } else if (!strcasecmp(k, "allowed_connection_types") || !strcasecmp(k, "connection_types") ||
                   !strcasecmp(k, "clients"))
            rc = parse_conn_types(L, n, &u->conn_types);
        else if (n->used_as_var)
            rc = 0;
        else /* `account` included: nats-server 2.9.10 binds users to accounts only inside accounts {} */
            rc = node_err(L, n, true, "unknown field \"%s\"", k);
        if (rc < 0)
            bad = -1;
    }
    if (!u->name && !u->nkey) { /* nats-server gives up on the whole list here */
        node_err(L, m, false, "User entry requires a user");
        return -2;
    }
    return bad;
}

/* A users array: into o->users, bound to `account` (NULL: the global one).
 * The authorization block's users replace its earlier ones (a repeated key:
 * the last wins); users are unique across it and every account. */
static int parse_users(struct loader *L, const struct conf_node *a, const char *account)
{
    struct opts *o = L->o;
    if (a->kind != CONF_ARRAY)
        return node_err(L, a, false, "Expected users field to be an array, got %s", conf_kind_name(a->kind));
    if (!account) {
        int k = 0;
        for (int i = 0; i < o->nusers; i++) {
            if (o->users[i].account) {
                o->users[k++] = o->users[i];
                continue;
            }
            user_free(&o->users[i]);
        }
        o->nusers = k;
    }
    struct user_opt *v = realloc(o->users, ((size_t)o->nusers + a->n + 1) * sizeof *v);
    if (!v)
        return errf(L, "out of memory");
    o->users = v;
    int bad = 0;
    for (size_t i = 0; i < a->n; i++) {
        struct user_opt *u = &o->users[o->nusers];
        memset(u, 0, sizeof *u);
        o->nusers++;
        if (account && !(u->account = strdup(account)))
            return errf(L, "out of memory");
        int rc = parse_user(L, u, a->items[i]);
        if (rc == -2)
            return -1;
        if (rc < 0) { /* the next users' errors are reported too */
            bad = -1;
            continue;
        }
        for (int k = 0; k + 1 < o->nusers; k++) {
            const struct user_opt *x = &o->users[k];
            if (u->name && x->name && strcmp(x->name, u->name) == 0)
                return node_err(L, a->items[i], false, "Duplicate user \"%s\" detected", u->name);
            if (u->nkey && x->nkey && strcmp(x->nkey, u->nkey) == 0)
                return node_err(L, a->items[i], false, "Duplicate nkey \"%s\" detected", u->nkey);
        }
    }
    return bad;
}

static int key_authorization(struct loader *L, const struct conf_node *m)
{
    struct opts *o = L->o;
    if (m->kind != CONF_MAP)
        return node_err(L, m, false, "Expected authorization to be a map/struct, got %s", conf_kind_name(m->kind));
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc;
        if (!strcasecmp(k, "user") || !strcasecmp(k, "username"))
            rc = rd_str(L, n, &o->user);
        else if (!strcasecmp(k, "pass") || !strcasecmp(k, "password"))
            rc = rd_str(L, n, &o->pass);
        else if (!strcasecmp(k, "token"))
            rc = rd_str(L, n, &o->token);
        else if (!strcasecmp(k, "timeout")) {
            /* seconds as an int or a float (nats-server), or a duration */
            if (n->kind == CONF_INT)
                o->auth_timeout_ms = n->i * 1000, rc = 0;
            else if (n->kind == CONF_FLOAT)
                o->auth_timeout_ms = (int64_t)(n->f * 1000), rc = 0;
            else
                rc = rd_ms(L, n, &o->auth_timeout_ms);
            o->auth_timeout_set = true;
        } else if (!strcasecmp(k, "users"))
            rc = parse_users(L, n, NULL);
        else if (!strcasecmp(k, "default_permission") || !strcasecmp(k, "default_permissions")) {
            perm_free(o->default_perms);
            o->default_perms = NULL;
            rc = parse_perms(L, n, &o->default_perms);
        } else if (!strcasecmp(k, "nkeys") || !strcasecmp(k, "permissions") || !strcasecmp(k, "auth_callout"))
            rc = node_err(L, n, true,
                          "authorization \"%s\" is not supported yet by gannet (accounts and permissions; %s)", k,
                          readme_ref);
        else if (n->used_as_var)
            rc = 0;
        else
            rc = node_err(L, n, true, "unknown field \"%s\"", k);
        if (rc < 0)
            return -1;
    }
    if (o->token && (o->user || o->pass))
        return node_err(L, m, false, "Cannot have a user/pass and token");
    if (o->nusers && o->user)
        return node_err(L, m, false, "Can not have a single user/pass and a users array");
    if (o->nusers && o->token)
        return node_err(L, m, false, "Can not have a token and a users array");
    return 0;
}

/* ------------------------------------------------------------ subject mappings */

/* A destination's tokens: literals, "$n" or "{{wildcard(n)}}" (n: the n-th
 * '*' of the source), and a last '>' when the source ends with one. Other
 * nats-server mapping functions are refused by name. */
static int check_dest(struct loader *L, const struct conf_node *n, const char *src, const char *dest)
{
    int nwild = 0;
    bool src_fwc = false;
    for (const char *p = src; *p;) {
        const char *e = strchr(p, '.');
        size_t tl = e ? (size_t)(e - p) : strlen(p);
        if (tl == 1 && *p == '*')
            nwild++;
        if (tl == 1 && *p == '>')
            src_fwc = true;
        p += tl + (e ? 1 : 0);
        if (!e)
            break;
    }
    for (const char *p = dest; *p;) {
        const char *e = strchr(p, '.');
        size_t tl = e ? (size_t)(e - p) : strlen(p);
        long idx = -1;
        if (tl >= 2 && p[0] == '$') {
            idx = strtol(p + 1, NULL, 10);
        } else if (tl > 4 && !strncmp(p, "{{", 2)) {
            const char *q = p + 2;
            while (*q == ' ')
                q++;
            if (strncasecmp(q, "wildcard(", 9) != 0) {
                const char *paren = memchr(q, '(', tl - (size_t)(q - p));
                return node_err(L, n, false, "mapping function \"%.*s\" is not supported yet by gannet (subject "
                                "mappings; %s)", (int)(paren ? paren - q : 1), q, readme_ref);
            }
            idx = strtol(q + 9, NULL, 10);
        } else if (tl == 1 && *p == '>' && !src_fwc) {
            return node_err(L, n, false, "Error adding mapping for \"%s\" to \"%s\" : invalid mapping destination",
                            src, dest);
        } else if (tl == 1 && *p == '*') {
            return node_err(L, n, false, "Error adding mapping for \"%s\" to \"%s\" : invalid mapping destination",
                            src, dest);
        }
        if (idx != -1 && (idx < 1 || idx > nwild))
            return node_err(L, n, false, "Error adding mapping for \"%s\" to \"%s\" : invalid mapping destination: "
                            "wildcard index out of range", src, dest);
        p += tl + (e ? 1 : 0);
        if (!e)
            break;
    }
    return 0;
}

static int parse_map_dest(struct loader *L, struct mapping_opt *m, const struct conf_node *n)
{
    if (n->kind != CONF_MAP)
        return node_err(L, n, false, "Expected an entry for the mapping destination");
    struct map_dest *d = &m->d[m->nd];
    memset(d, 0, sizeof *d);
    bool seen_weight = false;
    for (size_t i = 0; i < n->n; i++) {
        const struct conf_node *e = n->items[i];
        int rc = 0;
        if (!strcasecmp(e->key, "dest") || !strcasecmp(e->key, "destination")) {
            rc = rd_str(L, e, &d->dest);
        } else if (!strcasecmp(e->key, "weight")) {
            long long w = -1;
            if (e->kind == CONF_INT) {
                w = e->i;
            } else if (e->kind == CONF_STRING) {
                char *end;
                w = strtoll(e->str, &end, 10);
                if (end == e->str || (*end && strcmp(end, "%") != 0))
                    return node_err(L, e, false, "Invalid weight \"%s\" for mapping destination", e->str);
            } else {
                return node_err(L, e, false, "Unknown entry type for weight of %s", conf_kind_name(e->kind));
            }
            if (w < 0 || w > 100)
                return node_err(L, e, false, "Invalid weight %lld for mapping destination", w);
            d->weight = (int)w;
            seen_weight = true;
        } else if (!strcasecmp(e->key, "cluster")) {
            rc = node_err(L, e, true, "mapping \"cluster\" is not supported yet by gannet (subject mappings; %s)",
                          readme_ref);
        } else {
            rc = node_err(L, e, false, "Unknown field \"%s\" for mapping destination", e->key);
        }
        if (rc < 0)
            return -1;
    }
    if (!seen_weight)
        return node_err(L, n, false, "Missing weight for mapping destination \"%s\"", d->dest ? d->dest : "");
    m->nd++;
    return d->dest ? check_dest(L, n, m->src, d->dest) : node_err(L, n, false, "Missing mapping destination");
}

static int parse_mappings(struct loader *L, const struct conf_node *m, struct mapping_opt **out, int *nout)
{
    if (m->kind != CONF_MAP)
        return node_err(L, m, false, "Expected mappings to be a map/struct, got %s", conf_kind_name(m->kind));
    maps_free(*out, *nout);
    *out = calloc(m->n + 1, sizeof **out);
    *nout = 0;
    if (!*out)
        return errf(L, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        if (n->used_as_var)
            continue;
        if (!subject_valid(n->key, strlen(n->key))) {
            rc = node_err(L, n, true, "Subject \"%s\" is not a valid subject", n->key);
            continue;
        }
        struct mapping_opt *mp = &(*out)[(*nout)++];
        if (!(mp->src = strdup(n->key)) || !(mp->d = calloc(n->kind == CONF_ARRAY ? n->n + 1 : 1, sizeof *mp->d)))
            return errf(L, "out of memory");
        if (n->kind == CONF_STRING) {
            mp->d[0].weight = 100;
            if (!(mp->d[0].dest = strdup(n->str)))
                return errf(L, "out of memory");
            mp->nd = 1;
            if (check_dest(L, n, mp->src, n->str) < 0)
                rc = -1;
        } else if (n->kind == CONF_ARRAY || n->kind == CONF_MAP) {
            size_t k = n->kind == CONF_ARRAY ? n->n : 1;
            int total = 0;
            for (size_t j = 0; j < k; j++) {
                if (parse_map_dest(L, mp, n->kind == CONF_ARRAY ? n->items[j] : n) < 0) {
                    rc = -1;
                    break;
                }
                total += mp->d[mp->nd - 1].weight;
            }
            if (rc == 0 && total > 100)
                rc = node_err(L, n, false, "Error adding mapping for \"%s\" : total weight exceeds 100%%", mp->src);
        } else {
            rc = node_err(L, n, false, "Unknown type %s for mapping destination", conf_kind_name(n->kind));
        }
    }
    return rc;
}

static int key_mappings(struct loader *L, const struct conf_node *m)
{
    return parse_mappings(L, m, &L->o->maps, &L->o->nmaps);
}

/* ------------------------------------------------------------ accounts */

/* A string-valued field of an export or import entry. */
static int rd_entry_str(struct loader *L, const struct conf_node *n, char **dst, const char *what)
{
    if (n->kind != CONF_STRING)
        return node_err(L, n, false, "Expected %s to be string, got %s", what, conf_kind_name(n->kind));
    return rd_str(L, n, dst);
}

static int parse_export(struct loader *L, struct export_opt *e, const struct conf_node *m)
{
    if (m->kind != CONF_MAP)
        return node_err(L, m, false, "Export Items should be a map with type entry, got %s",
                        conf_kind_name(m->kind));
    bool stream = false, rt_seen = false, thr_seen = false;
    const struct conf_node *rt_node = NULL;
    e->threshold_ms = RESP_THRESHOLD_DEFAULT_MS;
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc = 0;
        if (!strcasecmp(k, "stream") || !strcasecmp(k, "service")) {
            bool svc = !strcasecmp(k, "service");
            if (e->subject && e->service != svc)
                rc = node_err(L, n, false, "Detected %s %s but already saw a %s", k,
                              n->kind == CONF_STRING ? n->str : "?", svc ? "stream" : "service");
            else if ((rc = rd_entry_str(L, n, &e->subject, svc ? "service name" : "stream name")) == 0) {
                e->service = svc;
                stream = !svc;
            }
        } else if (!strcasecmp(k, "response") || !strcasecmp(k, "response_type")) {
            const char *v = n->kind == CONF_STRING ? n->str : NULL;
            if (rt_seen)
                rc = node_err(L, n, false, "Duplicate response type definition");
            else if (!v)
                rc = node_err(L, n, false, "Expected response type to be string, got %s", conf_kind_name(n->kind));
            else if (!strcasecmp(v, "single") || !strcasecmp(v, "singleton"))
                e->resp_type = RESP_SINGLETON;
            else if (!strcasecmp(v, "stream"))
                e->resp_type = RESP_STREAM;
            else if (!strcasecmp(v, "chunk") || !strcasecmp(v, "chunked"))
                e->resp_type = RESP_CHUNKED;
            else
                rc = node_err(L, n, false, "Unknown response type: \"%s\"", v);
            rt_seen = true;
            rt_node = n;
        } else if (!strcasecmp(k, "threshold") || !strcasecmp(k, "response_threshold") ||
                   !strcasecmp(k, "response_max_time") || !strcasecmp(k, "response_time")) {
            if (thr_seen)
                rc = node_err(L, n, false, "Duplicate response threshold detected");
            else if (n->kind != CONF_STRING)
                rc = node_err(L, n, false,
                              "Expected response threshold to be a parseable time duration, got %s",
                              conf_kind_name(n->kind));
            else
                rc = rd_ms(L, n, &e->threshold_ms);
            thr_seen = true;
            rt_node = rt_node ? rt_node : n;
        } else if (!strcasecmp(k, "accounts")) {
            if (n->kind != CONF_ARRAY) {
                rc = node_err(L, n, false, "Expected accounts to be an array, got %s", conf_kind_name(n->kind));
            } else {
                e->accounts = calloc(n->n + 1, sizeof *e->accounts);
                if (!e->accounts)
                    return errf(L, "out of memory");
                for (size_t j = 0; j < n->n && rc == 0; j++)
                    if ((rc = rd_entry_str(L, n->items[j], &e->accounts[e->naccounts], "account name")) == 0)
                        e->naccounts++;
            }
        } else if (!strcasecmp(k, "latency") || !strcasecmp(k, "account_token_position")) {
            rc = node_err(L, n, true, "export \"%s\" is not supported yet by gannet (accounts; %s)", k, readme_ref);
        } else if (!n->used_as_var) {
            rc = node_err(L, n, true, "unknown field \"%s\"", k);
        }
        if (rc < 0)
            return -1;
    }
    if (stream && rt_node)
        return node_err(L, rt_node, false, "Detected response directive on non-service");
    if (!e->subject)
        return node_err(L, m, false, "Export Items should be a map with type entry");
    return 0;
}

static int parse_import(struct loader *L, struct import_opt *im, const struct conf_node *m)
{
    if (m->kind != CONF_MAP)
        return node_err(L, m, false, "Import Items should be a map with type entry, got %s",
                        conf_kind_name(m->kind));
    bool seen = false;
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc = 0;
        if (!strcasecmp(k, "stream") || !strcasecmp(k, "service")) {
            bool svc = !strcasecmp(k, "service");
            if (seen && im->service != svc) {
                rc = node_err(L, n, false, "Detected %s but already saw a %s", k, svc ? "stream" : "service");
            } else if (n->kind != CONF_MAP) {
                rc = node_err(L, n, false, "%s entry should be an account map, got %s", svc ? "Service" : "Stream",
                              conf_kind_name(n->kind));
            } else {
                seen = true;
                im->service = svc;
                for (size_t j = 0; j < n->n && rc == 0; j++) {
                    const struct conf_node *f = n->items[j];
                    if (!strcasecmp(f->key, "account"))
                        rc = rd_entry_str(L, f, &im->account, "account");
                    else if (!strcasecmp(f->key, "subject"))
                        rc = rd_entry_str(L, f, &im->subject, "subject");
                    else if (!f->used_as_var)
                        rc = node_err(L, f, true, "unknown field \"%s\"", f->key);
                }
                if (rc == 0 && (!im->account || !*im->account || !im->subject || !*im->subject))
                    rc = node_err(L, n, false, "Expect an account name and a subject");
            }
        } else if (!strcasecmp(k, "prefix")) {
            rc = rd_entry_str(L, n, &im->prefix, "prefix");
        } else if (!strcasecmp(k, "to")) {
            rc = rd_entry_str(L, n, &im->to, "to");
        } else if (!strcasecmp(k, "share")) {
            rc = node_err(L, n, true, "import \"share\" is not supported yet by gannet (service latency; %s)",
                          readme_ref);
        } else if (!n->used_as_var) {
            rc = node_err(L, n, true, "unknown field \"%s\"", k);
        }
        if (rc < 0)
            return -1;
    }
    if (!seen)
        return node_err(L, m, false, "Import Items should be a map with type entry");
    if (!im->service && im->to && im->prefix)
        return node_err(L, m, false, "Stream import can not have a 'prefix' and a 'to' property");
    return 0;
}

static int parse_account(struct loader *L, struct account_opt *a, const struct conf_node *m)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc = 0;
        if (!strcasecmp(k, "users")) {
            rc = parse_users(L, n, a->name);
        } else if (!strcasecmp(k, "exports") || !strcasecmp(k, "imports")) {
            bool ex = !strcasecmp(k, "exports");
            if (n->kind != CONF_ARRAY)
                return node_err(L, n, false, "%s should be an array, got %s", ex ? "Exports" : "Imports",
                                conf_kind_name(n->kind));
            if (ex) {
                a->exports = calloc(n->n + 1, sizeof *a->exports);
                if (!a->exports)
                    return errf(L, "out of memory");
                for (size_t j = 0; j < n->n; j++)
                    if (parse_export(L, &a->exports[a->nexports++], n->items[j]) < 0)
                        rc = -1;
            } else {
                a->imports = calloc(n->n + 1, sizeof *a->imports);
                if (!a->imports)
                    return errf(L, "out of memory");
                for (size_t j = 0; j < n->n; j++)
                    if (parse_import(L, &a->imports[a->nimports++], n->items[j]) < 0)
                        rc = -1;
            }
        } else if (!strcasecmp(k, "default_permissions")) {
            perm_free(a->default_perms);
            a->default_perms = NULL;
            rc = parse_perms(L, n, &a->default_perms);
        } else if (!strcasecmp(k, "mappings") || !strcasecmp(k, "maps")) {
            rc = parse_mappings(L, n, &a->maps, &a->nmaps);
        } else if (!strcasecmp(k, "nkey") || !strcasecmp(k, "jetstream") || !strcasecmp(k, "limits")) {
            rc = node_err(L, n, true, "account \"%s\" is not supported yet by gannet (accounts; %s)", k, readme_ref);
        } else if (!n->used_as_var) {
            rc = node_err(L, n, true, "unknown field \"%s\"", k);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}


static struct account_opt *account_opt_find(struct opts *o, const char *name)
{
    for (int i = 0; i < o->naccounts; i++)
        if (strcmp(o->accounts[i].name, name) == 0)
            return &o->accounts[i];
    return NULL;
}

/* The subject an import delivers on in the importer's space. */
static void import_local(const struct import_opt *im, char *buf, size_t cap)
{
    if (im->service)
        snprintf(buf, cap, "%s", im->to ? im->to : im->subject);
    else if (im->prefix)
        snprintf(buf, cap, "%s.%s", im->prefix, im->subject);
    else
        snprintf(buf, cap, "%s", im->to ? im->to : im->subject);
}

/* Would following the imports already added from account `from`, for
 * subjects overlapping `subj`, lead back to `target`? (nats-server's
 * check*ImportsForCycles; depth-bounded) */
static bool import_cycle(struct opts *o, const struct account_opt *from, const char *subj, bool service,
                         const struct account_opt *target, int depth)
{
    if (depth > 32)
        return true;
    for (int i = 0; i < from->nimports; i++) {
        const struct import_opt *im = &from->imports[i];
        if (im->service != service || !im->added)
            continue;
        char local[1024];
        import_local(im, local, sizeof local);
        if (!subject_overlap(local, strlen(local), subj, strlen(subj)))
            continue;
        const struct account_opt *src = account_opt_find(o, im->account);
        if (!src)
            continue;
        if (src == target || import_cycle(o, src, im->subject, service, target, depth + 1))
            return true;
    }
    return false;
}

/* Exports and imports, once every account of the block is known: the
 * checks nats-server's parseAccounts makes, in its order (exports, stream
 * imports, service imports), each reported at the accounts key. */
static int check_imports(struct loader *L, const struct conf_node *m)
{
    struct opts *o = L->o;
    int rc = 0;
    for (int a = 0; a < o->naccounts; a++)
        for (int e = 0; e < o->accounts[a].nexports; e++) {
            const struct export_opt *ex = &o->accounts[a].exports[e];
            for (int k = 0; k < ex->naccounts; k++)
                if (!account_opt_find(o, ex->accounts[k]))
                    rc = node_err(L, m, true, "\"%s\" account not defined for %s export", ex->accounts[k],
                                  ex->service ? "service" : "stream");
            if (!subject_valid(ex->subject, strlen(ex->subject)))
                rc = node_err(L, m, true, "Error adding %s export \"%s\": subject is not valid",
                              ex->service ? "service" : "stream", ex->subject);
        }
    for (int pass = 0; pass < 2; pass++) { /* streams, then services */
        for (int a = 0; a < o->naccounts; a++) {
            struct account_opt *imp = &o->accounts[a];
            for (int i = 0; i < imp->nimports; i++) {
                struct import_opt *im = &imp->imports[i];
                if (im->service != (pass == 1))
                    continue;
                const char *kind = im->service ? "service" : "stream";
                const struct account_opt *src = account_opt_find(o, im->account);
                if (!src) {
                    rc = node_err(L, m, true, "\"%s\" account not defined for %s import", im->account, kind);
                    continue;
                }
                bool ok = false;
                for (int e = 0; e < src->nexports && !ok; e++) {
                    const struct export_opt *ex = &src->exports[e];
                    if (ex->service != im->service ||
                        !subject_subset(im->subject, strlen(im->subject), ex->subject, strlen(ex->subject)))
                        continue;
                    ok = ex->naccounts == 0;
                    for (int k = 0; k < ex->naccounts && !ok; k++)
                        ok = strcmp(ex->accounts[k], imp->name) == 0;
                }
                if (!ok) {
                    rc = node_err(L, m, true, "Error adding %s import \"%s\": %s import not authorized", kind,
                                  im->subject, kind);
                    continue;
                }
                if (im->prefix && (strchr(im->prefix, '*') || strchr(im->prefix, '>'))) {
                    rc = node_err(L, m, true,
                                  "Error adding stream import \"%s\": stream import prefix can not contain "
                                  "wildcard tokens", im->subject);
                    continue;
                }
                if (import_cycle(o, src, im->subject, im->service, imp, 0)) {
                    rc = node_err(L, m, true, "Error adding %s import \"%s\": import forms a cycle", kind,
                                  im->subject);
                    continue;
                }
                im->added = true;
            }
        }
    }
    return rc;
}

static int key_accounts(struct loader *L, const struct conf_node *m)
{
    struct opts *o = L->o;
    if (m->kind != CONF_MAP && m->kind != CONF_ARRAY)
        return node_err(L, m, false, "Expected map entries for accounts");
    struct account_opt *v = realloc(o->accounts, ((size_t)o->naccounts + m->n + 1) * sizeof *v);
    if (!v)
        return errf(L, "out of memory");
    o->accounts = v;
    int rc = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *name;
        if (m->kind == CONF_ARRAY) { /* a simple list of names */
            if (n->kind != CONF_STRING) {
                rc = node_err(L, n, false, "Expected account name to be string, got %s", conf_kind_name(n->kind));
                continue;
            }
            name = n->str;
        } else {
            if (n->used_as_var)
                continue;
            if (n->kind != CONF_MAP) {
                rc = node_err(L, n, false, "Expected map entries for accounts");
                continue;
            }
            name = n->key;
        }
        if (!strcmp(name, "$G")) {
            rc = node_err(L, n, m->kind == CONF_MAP, "\"%s\" is a Reserved Account", name);
            continue;
        }
        bool dup = false;
        for (int k = 0; k < o->naccounts; k++)
            dup |= strcmp(o->accounts[k].name, name) == 0;
        if (dup) {
            rc = node_err(L, n, m->kind == CONF_MAP, "Duplicate Account Entry: %s", name);
            continue;
        }
        struct account_opt *a = &o->accounts[o->naccounts++];
        memset(a, 0, sizeof *a);
        if (!(a->name = strdup(name)))
            return errf(L, "out of memory");
        if (m->kind == CONF_MAP && parse_account(L, a, n) < 0)
            rc = -1;
    }
    if (rc == 0 && L->nerr == 0) /* as nats-server: imports only once the accounts parsed cleanly */
        rc = check_imports(L, m);
    return rc;
}

/* ------------------------------------------------------------ blocks of later capabilities */

/* Keys gannet does not implement yet, by capability (README's table). The
 * blocks below (cluster, gateway, top-level routes) are checked first so that
 * their seed-document extensions are recognised, then refused the same way. */
static const struct unsupported {
    const char *what;
    const char *const keys[24];
} unsupported[] = {
    {"superclusters", {"gateway"}},
    {"leaf nodes", {"leafnodes", "leaf"}},
    {"nkeys, JWT", {"operator", "operators", "roots", "root", "root_operators",
                              "root_operator", "resolver", "account_resolver", "accounts_resolver", "resolver_tls",
                              "resolver_preload", "resolver_pinned_accounts", "trusted", "trusted_keys"}},
    {"OCSP stapling", {"ocsp"}},
    {"profiling", {"prof_port"}},
    {"JetStream", {"jetstream", "store_dir", "storedir", "default_js_domain"}},
    {"WebSocket", {"websocket", "ws"}},
    {"MQTT", {"mqtt"}},
    {"server tags", {"server_tags"}},
    {"header-less clients", {"no_header_support"}},
    {"subject index tuning", {"disable_sublist_cache", "no_sublist_cache", "max_sub_tokens",
                              "max_subscription_tokens"}},
    {"trace truncation", {"max_traced_msg_len"}},
    {"options of later nats-server releases", {"log_max_num", "logfile_max_num", "max_closed_clients"}},
};

static const char *unsupported_what(const char *k)
{
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        for (const char *const *p = unsupported[i].keys; *p; p++)
            if (strcasecmp(*p, k) == 0)
                return unsupported[i].what;
    return NULL;
}

static int refuse(struct loader *L, const struct conf_node *n)
{
    return node_err(L, n, true, "\"%s\" is not supported yet by gannet (%s; %s)", n->key, unsupported_what(n->key),
                    readme_ref);
}

struct ext {
    const char *key;
    const char *newer;   /* the nats-server release that has it, NULL: none does */
    const char *meaning; /* what gannet reads it as */
};

static const struct ext *find_ext(const struct ext *e, const char *k)
{
    for (; e && e->key; e++)
        if (strcasecmp(e->key, k) == 0)
            return e;
    return NULL;
}

static bool in_list(const char *const *l, const char *k)
{
    for (; *l; l++)
        if (strcasecmp(*l, k) == 0)
            return true;
    return false;
}

/* Checks a map's keys: nats-server's own are fine, extensions warn, the rest
 * are `unknown field` errors. Returns the number of errors. */
static int check_map(struct loader *L, const struct conf_node *m, const char *where, const char *const *known,
                     const struct ext *exts)
{
    int bad = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const struct ext *e;
        if (in_list(known, n->key) || n->used_as_var)
            continue;
        if ((e = find_ext(exts, n->key)))
            ext_warning(L, n, where, e->newer, e->meaning);
        else
            bad += node_err(L, n, true, "unknown field \"%s\"", n->key) < 0;
    }
    return bad;
}

static int expect_map(struct loader *L, const struct conf_node *n, const char *what)
{
    if (n->kind == CONF_MAP)
        return 0;
    return node_err(L, n, false, "Expected map to define %s, got %s", what, conf_kind_name(n->kind));
}

/* An array of strings (route URLs); a lone string is taken as a one-URL list. */
static int check_urls(struct loader *L, const struct conf_node *n)
{
    if (n->kind == CONF_STRING)
        return 0;
    if (n->kind != CONF_ARRAY)
        return node_err(L, n, false, "error parsing %s: expected an array of URLs, got %s", n->key,
                        conf_kind_name(n->kind));
    for (size_t i = 0; i < n->n; i++)
        if (n->items[i]->kind != CONF_STRING)
            return node_err(L, n->items[i], false, "error parsing %s: expected a URL string, got %s", n->key,
                            conf_kind_name(n->items[i]->kind));
    return 0;
}

static const char *const cluster_keys[] = {"name", "listen", "port", "host", "net", "authorization", "routes",
                                           "tls", "cluster_advertise", "advertise", "no_advertise",
                                           "connect_retries", "permissions", NULL};
static const struct ext cluster_exts[] = {
    {"connect_timeout", NULL, "the timeout for dialling a route"},
    {"ping_interval", "2.11", "the ping interval of routes"},
    {"ping_max", "2.11", "the unanswered pings after which a route is closed"},
    {"pool_size", "2.10", "the route connections per server pair"},
    {"accounts", "2.10", "the accounts with a route connection of their own"},
    {"compression", "2.10", "S2 compression of routes"},
    {NULL, NULL, NULL},
};

/* The routes of a list (or a lone string), appended to cluster.routes. */
static int add_routes(struct loader *L, const struct conf_node *n)
{
    struct cluster_opt *c = &L->o->cluster;
    size_t k = n->kind == CONF_ARRAY ? n->n : 1;
    char **nv = realloc(c->routes, (c->nroutes + k) * sizeof *nv);
    if (!nv)
        return errf(L, "out of memory");
    c->routes = nv;
    for (size_t i = 0; i < k; i++) {
        const struct conf_node *u = n->kind == CONF_ARRAY ? n->items[i] : n;
        if (!(c->routes[c->nroutes] = strdup(u->str)))
            return errf(L, "out of memory");
        c->nroutes++;
    }
    return 0;
}

static int parse_listen(struct loader *L, const struct conf_node *n, char **host, int *port);

/* cluster { accounts: [A, B] }: names, each once. */
static int cluster_accounts(struct loader *L, const struct conf_node *n)
{
    struct cluster_opt *c = &L->o->cluster;
    if (n->kind != CONF_ARRAY)
        return node_err(L, n, false, "Expected cluster accounts to be an array, got %s", conf_kind_name(n->kind));
    for (size_t i = 0; i < n->n; i++) {
        const struct conf_node *a = n->items[i];
        if (a->kind != CONF_STRING)
            return node_err(L, a, false, "Expected cluster account to be a string, got %s", conf_kind_name(a->kind));
        bool dup = false;
        for (int k = 0; k < c->naccounts; k++)
            dup |= !strcmp(c->accounts[k], a->str);
        if (dup)
            continue;
        char **nv = realloc(c->accounts, (size_t)(c->naccounts + 1) * sizeof *nv);
        if (!nv)
            return errf(L, "out of memory");
        c->accounts = nv;
        if (!(c->accounts[c->naccounts] = strdup(a->str)))
            return errf(L, "out of memory");
        c->naccounts++;
    }
    return 0;
}

const char *const route_comp_names[] = {"", "not supported", "off", "accept", "s2_auto",
                                        "s2_uncompressed", "s2_fast", "s2_better", "s2_best"};

/* A compression mode's name, as validateAndNormalizeCompressionOption
 * (server.go) takes them; "on" is s2_fast for routes. COMP_UNSET: unknown. */
static int comp_mode(const char *m)
{
    static const struct { const char *name; int mode; } t[] = {
        {"not supported", COMP_NOT_SUPPORTED}, {"not_supported", COMP_NOT_SUPPORTED}, {"disabled", COMP_OFF},
        {"off", COMP_OFF}, {"false", COMP_OFF}, {"accept", COMP_ACCEPT}, {"auto", COMP_S2_AUTO},
        {"s2_auto", COMP_S2_AUTO}, {"s2_uncompressed", COMP_S2_UNCOMPRESSED}, {"fast", COMP_S2_FAST},
        {"s2_fast", COMP_S2_FAST}, {"better", COMP_S2_BETTER}, {"s2_better", COMP_S2_BETTER},
        {"best", COMP_S2_BEST}, {"s2_best", COMP_S2_BEST}, {"on", COMP_S2_FAST}, {"enabled", COMP_S2_FAST},
        {"true", COMP_S2_FAST},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcasecmp(m, t[i].name))
            return t[i].mode;
    return COMP_UNSET;
}

/* cluster { compression: <mode> | <bool> | { mode, rtt_thresholds } }, as
 * nats-server 2.10's parseCompression and validateAndNormalizeCompressionOption. */
static int cluster_compression(struct loader *L, const struct conf_node *n)
{
    struct cluster_opt *c = &L->o->cluster;
    const struct conf_node *mode = n, *rtts = NULL;
    if (n->kind == CONF_MAP) {
        mode = conf_get(n, "mode");
        rtts = conf_get(n, "rtt_thresholds");
        for (size_t i = 0; i < n->n; i++)
            if (strcasecmp(n->items[i]->key, "mode") && strcasecmp(n->items[i]->key, "rtt_thresholds") &&
                !n->items[i]->used_as_var)
                return node_err(L, n->items[i], true, "unknown field \"%s\"", n->items[i]->key);
        if (!mode)
            return node_err(L, n, false, "compression: expected a mode");
    }
    int m;
    if (mode->kind == CONF_BOOL)
        m = mode->i ? COMP_S2_FAST : COMP_OFF;
    else if (mode->kind == CONF_STRING)
        m = comp_mode(mode->str);
    else
        return node_err(L, mode, false, "field %s should be a boolean or a structure, got %s", "compression",
                        conf_kind_name(mode->kind));
    if (m == COMP_UNSET)
        return node_err(L, mode, false, "unsupported compression mode \"%s\"", mode->str);
    c->compression = m;
    if (!rtts)
        return 0;
    if (rtts->kind != CONF_ARRAY)
        return node_err(L, rtts, false, "rtt_thresholds: expected an array, got %s", conf_kind_name(rtts->kind));
    int64_t v[8];
    int nv = 0;
    for (size_t i = 0; i < rtts->n; i++) {
        int64_t ms;
        if (rd_ms(L, rtts->items[i], &ms) < 0)
            return -1;
        if (ms < 0)
            ms = 0;
        for (int k = 0; ms && k < nv; k++)
            if (ms < v[k])
                return node_err(L, rtts, false, "RTT threshold values should be in ascending order");
        if (nv == 8)
            return node_err(L, rtts, false, "compression mode \"s2_auto\" should have no more than 4 RTT thresholds");
        v[nv++] = ms;
    }
    while (nv && !v[nv - 1]) /* trailing zeros mean nothing */
        nv--;
    if (nv > 4)
        return node_err(L, rtts, false, "compression mode \"s2_auto\" should have no more than 4 RTT thresholds");
    if (!nv)
        return node_err(L, rtts, false, "compression mode \"s2_auto\" requires at least one RTT threshold");
    memcpy(c->rtt_ms, v, (size_t)nv * sizeof *v);
    c->nrtt = nv;
    return 0;
}

static int cluster_auth(struct loader *L, const struct conf_node *m)
{
    struct cluster_opt *c = &L->o->cluster;
    if (m->kind != CONF_MAP)
        return node_err(L, m, false, "Expected authorization to be a map/struct, got %s", conf_kind_name(m->kind));
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc;
        if (!strcasecmp(k, "user") || !strcasecmp(k, "username"))
            rc = rd_str(L, n, &c->user);
        else if (!strcasecmp(k, "pass") || !strcasecmp(k, "password")) {
            rc = rd_str(L, n, &c->pass);
        } else if (!strcasecmp(k, "timeout")) {
            if (n->kind == CONF_INT)
                c->auth_timeout_ms = n->i * 1000, rc = 0;
            else if (n->kind == CONF_FLOAT)
                c->auth_timeout_ms = (int64_t)(n->f * 1000), rc = 0;
            else
                rc = rd_ms(L, n, &c->auth_timeout_ms);
        } else if (!strcasecmp(k, "token") || !strcasecmp(k, "users") || !strcasecmp(k, "nkeys"))
            rc = node_err(L, n, false, "Cluster authorization does not allow multiple users");
        else if (n->used_as_var)
            rc = 0;
        else
            rc = node_err(L, n, true, "unknown field \"%s\"", k);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ tls {} */

/* nats-server 2.9.10's parseTLS (opts.go) and GenTLSConfig: the keys, their
 * types and error texts; the context is built here, so that a certificate
 * that does not load is a configuration error naming the file and line of
 * the block, as nats-server's configErr does. server: the side that
 * accepts (clients, routes, HTTPS); routes build a dialling context too. */
/* nats-server positions a quoted array element at its first character,
 * inside the quote (its lexer's item position). */
static struct conf_node entry_pos(const struct conf_node *e)
{
    struct conf_node c = *e;
    if (c.kind == CONF_STRING && c.quoted)
        c.col++;
    return c;
}

static int tls_list(struct loader *L, const struct conf_node *n, int **out, int *nout, const char *what,
                    int (*lookup)(const char *))
{
    if (n->kind != CONF_ARRAY)
        return node_err(L, n, false, "error parsing tls config, expected '%s' to be an array", n->key);
    if (n->n == 0)
        return node_err(L, n, false, "error parsing tls config, '%s' cannot be empty", n->key);
    int *v = calloc(n->n, sizeof *v);
    if (!v)
        return errf(L, "out of memory");
    free(*out);
    *out = v;
    *nout = 0;
    for (size_t i = 0; i < n->n; i++) {
        const struct conf_node *e = n->items[i];
        const char *name;
        char err[EBUF];
        if (conf_string(e, &name, err, sizeof err) < 0)
            return add_err(L, err);
        int idx = lookup(name);
        struct conf_node at = entry_pos(e);
        if (idx == -1)
            return node_err(L, &at, false, "unrecognized %s %s", what, name);
        if (idx == -2)
            return node_err(L, &at, false, "%s %s is not supported by gannet: the wolfSSL it is built with has no such "
                            "suite (%s)", what, name, readme_ref);
        v[(*nout)++] = idx;
    }
    return 0;
}

static bool is_hex64(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return i == 64;
}

static int tls_pinned(struct loader *L, const struct conf_node *n, struct tls_opt *t)
{
    if (n->kind != CONF_ARRAY)
        return node_err(L, n, false, "error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded "
                        "sha256 of DER encoded SubjectPublicKeyInfo");
    for (size_t i = 0; i < n->n; i++) {
        const char *v;
        char err[EBUF];
        if (conf_string(n->items[i], &v, err, sizeof err) < 0)
            return add_err(L, err);
        char *low = strdup(v);
        if (!low)
            return errf(L, "out of memory");
        for (char *p = low; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (!is_hex64(low)) {
            struct conf_node at = entry_pos(n->items[i]);
            int rc = node_err(L, &at, false, "error parsing tls config, 'pinned_certs' key %s does not look "
                              "like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo", low);
            free(low);
            return rc;
        }
        char **np = realloc(t->pinned, (size_t)(t->npinned + 1) * sizeof *np);
        if (!np) {
            free(low);
            return errf(L, "out of memory");
        }
        t->pinned = np;
        t->pinned[t->npinned++] = low;
    }
    return 0;
}

static int tls_bool(struct loader *L, const struct conf_node *n, bool *dst)
{
    if (n->kind != CONF_BOOL)
        return node_err(L, n, true, "error parsing tls config, expected '%s' to be a boolean", n->key);
    *dst = n->i != 0;
    return 0;
}

static int tls_file(struct loader *L, const struct conf_node *n, char **dst)
{
    if (n->kind != CONF_STRING)
        return node_err(L, n, true, "error parsing tls config, expected '%s' to be filename", n->key);
    set_str(dst, n->str);
    return 0;
}

/* Go's os.Open error for a file that cannot be read, as GenTLSConfig reports it. */
static bool readable(const char *path, char *why, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f) {
        fclose(f);
        return true;
    }
    char e[128];
    snprintf(e, sizeof e, "%s", strerror(errno));
    e[0] = (char)tolower((unsigned char)e[0]); /* Go's syscall texts are lower case */
    snprintf(why, cap, "open %s: %s", path, e);
    return false;
}

static int parse_tls(struct loader *L, const struct conf_node *m, struct tls_opt *t, bool dial)
{
    if (m->kind != CONF_MAP)
        return node_err(L, m, false, "error parsing tls config, expected a map, got %s", conf_kind_name(m->kind));
    tls_opt_free(t);
    t->configured = true;
    t->timeout_ms = TLS_DEFAULT_TIMEOUT_MS;
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc = 0;
        if (!strcasecmp(k, "cert_file"))
            rc = tls_file(L, n, &t->cert_file);
        else if (!strcasecmp(k, "key_file"))
            rc = tls_file(L, n, &t->key_file);
        else if (!strcasecmp(k, "ca_file"))
            rc = tls_file(L, n, &t->ca_file);
        else if (!strcasecmp(k, "insecure"))
            rc = tls_bool(L, n, &t->insecure);
        else if (!strcasecmp(k, "verify"))
            rc = tls_bool(L, n, &t->verify);
        else if (!strcasecmp(k, "verify_and_map")) {
            rc = tls_bool(L, n, &t->verify_and_map);
            if (rc == 0 && t->verify_and_map && dial)
                rc = node_err(L, n, true, "tls \"verify_and_map\" inside cluster {} is not supported yet by gannet "
                              "(route certificate authentication; %s)", readme_ref);
            if (rc == 0 && t->verify_and_map)
                t->verify = true;
        } else if (!strcasecmp(k, "verify_cert_and_check_known_urls")) {
            rc = tls_bool(L, n, &t->verify_known_urls);
            if (rc == 0 && t->verify_known_urls && !dial)
                rc = node_err(L, n, true, "verify_cert_and_check_known_urls not supported in this context");
            else if (rc == 0 && t->verify_known_urls)
                rc = node_err(L, n, true, "tls \"verify_cert_and_check_known_urls\" inside cluster {} is not "
                              "supported yet by gannet (route certificate authentication; %s)", readme_ref);
        } else if (!strcasecmp(k, "cipher_suites"))
            rc = tls_list(L, n, &t->ciphers, &t->nciphers, "cipher", tls_cipher_index);
        else if (!strcasecmp(k, "curve_preferences")) {
            /* checked as nats-server checks it, then refused: wolfSSL orders its curves by the list but
             * still serves a client that offers none of them (nats-server refuses it) */
            rc = tls_list(L, n, &t->curves, &t->ncurves, "curve preference", tls_curve_index);
            if (rc == 0)
                rc = node_err(L, n, true, "tls \"curve_preferences\" is not supported yet by gannet (it could order "
                              "the curves but not refuse a client that offers none of them; %s)", readme_ref);
        }
        else if (!strcasecmp(k, "timeout")) { /* seconds (int or float) or a Go duration */
            char e[EBUF];
            long long ns;
            int warned = 0;
            if (n->kind == CONF_INT)
                t->timeout_ms = n->i * 1000;
            else if (n->kind == CONF_FLOAT)
                t->timeout_ms = (int64_t)(n->f * 1000.0);
            else if (n->kind != CONF_STRING)
                rc = node_err(L, n, true, "error parsing tls config, 'timeout' wrong type");
            else if (conf_duration_ns(n, &ns, &warned, e, sizeof e) < 0)
                rc = node_err(L, n, true, "error parsing tls config, 'timeout' time: invalid duration \"%s\"", n->str);
            else
                t->timeout_ms = ns / 1000000;
            if (rc == 0 && t->timeout_ms <= 0)
                t->timeout_ms = TLS_DEFAULT_TIMEOUT_MS; /* 0: nats-server's default */
        } else if (!strcasecmp(k, "connection_rate_limit")) { /* TLS connections accepted per second */
            if (n->kind != CONF_INT)
                rc = node_err(L, n, true, "error parsing tls config, 'connection_rate_limit' wrong type");
            else
                t->rate_limit = n->i;
        }
        else if (!strcasecmp(k, "pinned_certs"))
            rc = tls_pinned(L, n, t);
        else if (n->used_as_var)
            rc = 0;
        else
            rc = node_err(L, n, true, "error parsing tls config, unknown field [\"%s\"]", k);
        if (rc < 0)
            return -1;
    }
    if (dial) /* nats-server's getTLSConfig: routes always verify each other (mutual TLS) */
        t->verify = true;
    /* GenTLSConfig */
    char why[EBUF];
    if (t->cert_file && !t->key_file)
        return node_err(L, m, true, "missing 'key_file' in TLS configuration");
    if (!t->cert_file && t->key_file)
        return node_err(L, m, true, "missing 'cert_file' in TLS configuration");
    if (t->cert_file && !readable(t->cert_file, why, sizeof why))
        return node_err(L, m, true, "error parsing X509 certificate/key pair: %s", why);
    if (t->key_file && !readable(t->key_file, why, sizeof why))
        return node_err(L, m, true, "error parsing X509 certificate/key pair: %s", why);
    if (t->ca_file && !readable(t->ca_file, why, sizeof why))
        return node_err(L, m, true, "%s", why);
    if (tls_opt_build(t, TLS_SERVER, why, sizeof why) < 0 || (dial && tls_opt_build(t, TLS_CLIENT, why, sizeof why) < 0) ||
        (!dial && t->verify && tls_opt_build(t, TLS_MONITOR, why, sizeof why) < 0))
        return node_err(L, m, true, "%s", why);
    return 0;
}

static int key_tls(struct loader *L, const struct conf_node *n) { return parse_tls(L, n, &L->o->tls, false); }

static int key_cluster(struct loader *L, const struct conf_node *m)
{
    if (expect_map(L, m, "cluster") < 0)
        return -1;
    if (check_map(L, m, "cluster ", cluster_keys, cluster_exts))
        return -1;
    struct cluster_opt *c = &L->o->cluster;
    c->configured = true;
    if (c->port == 0)
        c->port = 6222; /* nats-server's DEFAULT_ROUTE_PORT when the block names none */
    for (size_t i = 0; i < m->n; i++) {
        const struct conf_node *n = m->items[i];
        const char *k = n->key;
        int rc = 0;
        if (!strcasecmp(k, "name")) {
            rc = rd_str(L, n, &c->name);
            if (rc == 0 && strpbrk(c->name, " \n"))
                rc = node_err(L, n, false, "cluster name cannot contain spaces or new lines");
        } else if (!strcasecmp(k, "listen"))
            rc = parse_listen(L, n, &c->host, &c->port);
        else if (!strcasecmp(k, "port"))
            rc = rd_int(L, n, &c->port);
        else if (!strcasecmp(k, "host") || !strcasecmp(k, "net"))
            rc = rd_str(L, n, &c->host);
        else if (!strcasecmp(k, "authorization"))
            rc = cluster_auth(L, n);
        else if (!strcasecmp(k, "routes"))
            rc = check_urls(L, n) < 0 ? -1 : add_routes(L, n);
        else if (!strcasecmp(k, "cluster_advertise") || !strcasecmp(k, "advertise"))
            rc = rd_str(L, n, &c->advertise);
        else if (!strcasecmp(k, "no_advertise"))
            rc = rd_bool(L, n, &c->no_advertise);
        else if (!strcasecmp(k, "connect_retries"))
            rc = rd_i32(L, n, &c->connect_retries);
        else if (!strcasecmp(k, "ping_interval")) /* the extensions take plain numbers as seconds, as the seeds write them */
            rc = n->kind == CONF_INT ? (c->ping_interval_ms = n->i * 1000, 0) : rd_ms(L, n, &c->ping_interval_ms);
        else if (!strcasecmp(k, "ping_max"))
            rc = rd_i32(L, n, &c->ping_max);
        else if (!strcasecmp(k, "connect_timeout"))
            rc = n->kind == CONF_INT ? (c->connect_timeout_ms = n->i * 1000, 0) : rd_ms(L, n, &c->connect_timeout_ms);
        else if (!strcasecmp(k, "pool_size"))
            rc = rd_i32(L, n, &c->pool_size);
        else if (!strcasecmp(k, "accounts"))
            rc = cluster_accounts(L, n);
        else if (!strcasecmp(k, "compression")) {
            rc = cluster_compression(L, n);        } else if (!strcasecmp(k, "tls"))
            rc = parse_tls(L, n, &c->tls, true);
        else if (!strcasecmp(k, "permissions"))
            rc = node_err(L, n, true, "cluster \"permissions\" is not supported yet by gannet (route permissions; %s)",
                          readme_ref);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Seed documents write `routes` at the top level (nats-server wants it in
 * cluster {}), sometimes with no cluster block at all: that reads as a
 * cluster on nats-server's default route port. */
static int key_routes(struct loader *L, const struct conf_node *n)
{
    if (check_urls(L, n) < 0)
        return -1;
    bool block = conf_get(L->root, "cluster") != NULL;
    ext_warning(L, n, "top-level ", NULL,
                block ? "cluster { routes }" : "cluster { listen: 0.0.0.0:6222, routes } (there is no cluster block)");
    struct cluster_opt *c = &L->o->cluster;
    if (!block) {
        c->configured = true;
        if (c->port == 0)
            c->port = 6222;
    }
    return add_routes(L, n);
}

static const char *const gateway_keys[] = {"name", "listen", "port", "host", "net", "authorization", "tls",
                                           "advertise", "connect_retries", "gateways", "reject_unknown",
                                           "reject_unknown_cluster", NULL};
static const struct ext gateway_exts[] = {
    {"exports", NULL, "the subjects this cluster sends to the other clusters"},
    {"imports", NULL, "the subjects this cluster accepts from the named cluster"},
    {NULL, NULL, NULL},
};
static const char *const remote_gw_keys[] = {"name", "url", "urls", "tls", NULL};
static const struct ext remote_gw_exts[] = {
    {"host", NULL, "the host of the gateway url (nats://host:port)"},
    {"port", NULL, "the port of the gateway url (nats://host:port)"},
    {NULL, NULL, NULL},
};
static const char *const export_keys[] = {"subject", "stream", "service", NULL};
static const char *const import_keys[] = {"subject", "from", "cluster", "to", NULL};

/* A list of maps whose keys are checked; `strings_ok`: plain strings too. */
static int check_map_list(struct loader *L, const struct conf_node *a, const char *where, const char *const *known,
                          const struct ext *exts, bool strings_ok)
{
    if (a->kind != CONF_ARRAY)
        return node_err(L, a, false, "Expected %s to be an array, got %s", a->key, conf_kind_name(a->kind));
    int bad = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct conf_node *e = a->items[i];
        if (e->kind == CONF_STRING && strings_ok)
            continue;
        if (e->kind != CONF_MAP)
            bad += node_err(L, e, false, "Expected %s entry to be a map/struct, got %s", a->key,
                            conf_kind_name(e->kind)) < 0;
        else
            bad += check_map(L, e, where, known, exts);
    }
    return bad ? -1 : 0;
}

static int key_gateway(struct loader *L, const struct conf_node *m)
{
    if (expect_map(L, m, "gateway") < 0)
        return -1;
    int bad = check_map(L, m, "gateway ", gateway_keys, gateway_exts);
    const struct conf_node *n;
    if ((n = conf_get(m, "gateways")))
        bad += check_map_list(L, n, "gateways entry ", remote_gw_keys, remote_gw_exts, false) < 0;
    if ((n = conf_get(m, "exports")))
        bad += check_map_list(L, n, "gateway exports entry ", export_keys, NULL, true) < 0;
    if ((n = conf_get(m, "imports")))
        bad += check_map_list(L, n, "gateway imports entry ", import_keys, NULL, true) < 0;
    return bad ? -1 : refuse(L, m);
}

/* ------------------------------------------------------------ top-level keys */

/* `port` or `"host:port"` (nats-server's parseListen), for `listen` and `http`:
 * sets *port, and *host when one is given. */
static int parse_listen(struct loader *L, const struct conf_node *n, char **host, int *port)
{
    if (n->kind == CONF_INT) {
        if (n->i < INT32_MIN || n->i > INT32_MAX)
            return node_err(L, n, false, "value for \"%s\" out of range", n->key);
        *port = (int)n->i;
        return 0;
    }
    if (n->kind != CONF_STRING)
        return node_err(L, n, false, "expected port or host:port, got %s", conf_kind_name(n->kind));
    const char *v = n->str, *colon = strrchr(v, ':');
    if (!colon)
        return node_err(L, n, false, "could not parse address string \"%s\"", v);
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == 0 || *end || p < INT32_MIN || p > INT32_MAX)
        return node_err(L, n, false, "could not parse port \"%s\"", colon + 1);
    char *h = strndup(v, (size_t)(colon - v));
    if (!h)
        return errf(L, "out of memory");
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        memmove(h, h + 1, hl - 2);
        h[hl - 2] = 0;
    }
    free(*host);
    *host = h;
    *port = (int)p;
    return 0;
}

static int key_listen(struct loader *L, const struct conf_node *n)
{
    return parse_listen(L, n, &L->o->host, &L->o->port);
}

/* `http: port` or `http: "host:port"`, as `listen`. */
static int key_http(struct loader *L, const struct conf_node *n)
{
    return parse_listen(L, n, &L->o->http_host, &L->o->http_port);
}

static int key_https(struct loader *L, const struct conf_node *n)
{
    return parse_listen(L, n, &L->o->http_host, &L->o->https_port);
}

static int key_server_name(struct loader *L, const struct conf_node *n)
{
    if (rd_str(L, n, &L->o->server_name) < 0)
        return -1;
    if (strpbrk(L->o->server_name, " \t\r\n"))
        return node_err(L, n, false, "server name \"%s\" can not contain spaces", L->o->server_name);
    return 0;
}

static int key_limit31(struct loader *L, const struct conf_node *n, int64_t *dst)
{
    int64_t v = 0;
    if (rd_i64(L, n, &v) < 0)
        return -1;
    if (v > INT32_MAX)
        return node_err(L, n, false, "%s value is too big", n->key);
    *dst = v;
    return 0;
}

static int key_max_payload(struct loader *L, const struct conf_node *n)
{
    return key_limit31(L, n, &L->o->max_payload);
}

static int key_max_control_line(struct loader *L, const struct conf_node *n)
{
    int64_t v = 0;
    if (key_limit31(L, n, &v) < 0)
        return -1;
    L->o->max_control_line = (int32_t)v;
    return 0;
}

/* trace_verbose also traces the system account, which gannet does not have. */
static int key_trace_verbose(struct loader *L, const struct conf_node *n)
{
    bool v = false;
    if (rd_bool(L, n, &v) < 0)
        return -1;
    L->o->trace = v;
    return 0;
}

static int key_lame_duck_duration(struct loader *L, const struct conf_node *n)
{
    int64_t ms = 0;
    if (rd_ms_strict(L, n, &ms) < 0)
        return -1;
    if (ms < MS(30)) {
        char d[32];
        opts_duration_str(ms, d, sizeof d);
        return node_err(L, n, false, "invalid lame_duck_duration of %s, minimum is 30 seconds", d);
    }
    L->o->lame_duck_duration_ms = ms;
    return 0;
}

static int key_lame_duck_grace(struct loader *L, const struct conf_node *n)
{
    int64_t ms = 0;
    if (rd_ms_strict(L, n, &ms) < 0)
        return -1;
    if (ms < 0)
        return node_err(L, n, false, "invalid lame_duck_grace_period, needs to be positive");
    L->o->lame_duck_grace_ms = ms ? ms : MS(10); /* 0: nats-server's default */
    return 0;
}

enum ktype { T_STR, T_BOOL, T_INT, T_I32, T_I64, T_MS, T_FN };

static const struct keydef {
    const char *name; /* matched case-insensitively, as nats-server does */
    enum ktype type;
    size_t off; /* field of struct opts (not T_FN) */
    int (*fn)(struct loader *, const struct conf_node *);
} keydefs[] = {
#define F(name, type, field) {name, type, offsetof(struct opts, field), NULL}
#define FN(name, fn) {name, T_FN, 0, fn}
    FN("listen", key_listen),
    F("host", T_STR, host),
    F("net", T_STR, host),
    F("port", T_INT, port),
    FN("server_name", key_server_name),
    FN("max_payload", key_max_payload),
    F("max_pending", T_I64, max_pending),
    FN("max_control_line", key_max_control_line),
    F("max_connections", T_I32, max_connections),
    F("max_conn", T_I32, max_connections),
    F("max_subscriptions", T_I32, max_subs),
    F("max_subs", T_I32, max_subs),
    F("ping_interval", T_MS, ping_interval_ms),
    F("ping_max", T_I32, ping_max),
    F("write_deadline", T_MS, write_deadline_ms),
    FN("authorization", key_authorization),
    FN("accounts", key_accounts),
    FN("mappings", key_mappings),
    FN("maps", key_mappings),
    F("system_account", T_STR, system_account),
    F("system", T_STR, system_account),
    F("no_system_account", T_BOOL, no_system_account),
    F("no_system", T_BOOL, no_system_account),
    F("no_sys_acc", T_BOOL, no_system_account),
    F("no_auth_user", T_STR, no_auth_user),
    F("debug", T_BOOL, debug),
    F("trace", T_BOOL, trace),
    FN("trace_verbose", key_trace_verbose),
    F("logtime", T_BOOL, logtime),
    F("logtime_utc", T_BOOL, logtime_utc), /* nats-server 2.10; gannet takes it already */
    F("log_file", T_STR, log_file),
    F("logfile", T_STR, log_file),
    F("log_size_limit", T_I64, log_size_limit),
    F("logfile_size_limit", T_I64, log_size_limit),
    F("syslog", T_BOOL, syslog),
    F("remote_syslog", T_STR, remote_syslog),
    F("pid_file", T_STR, pid_file),
    F("pidfile", T_STR, pid_file),
    F("ports_file_dir", T_STR, ports_file_dir),
    FN("lame_duck_duration", key_lame_duck_duration),
    FN("lame_duck_grace_period", key_lame_duck_grace),
    FN("http", key_http),
    FN("tls", key_tls),
    FN("https", key_https),
    F("https_port", T_INT, https_port),
    F("allow_non_tls", T_BOOL, allow_non_tls),
    F("http_port", T_INT, http_port),
    F("monitor_port", T_INT, http_port),
    F("http_base_path", T_STR, http_base_path),
    F("shards", T_INT, shards), /* gannet's own: shard threads */
    F("xshard_max_pending", T_I64, xshard_max_pending), /* gannet's own: cross-shard budget per shard pair */
    FN("cluster", key_cluster),
    FN("gateway", key_gateway),
    FN("routes", key_routes),
    F("client_advertise", T_STR, client_advertise),
    F("connect_error_reports", T_I32, connect_error_reports),
    F("reconnect_error_reports", T_I32, reconnect_error_reports),
#undef F
#undef FN
};

static int apply_key(struct loader *L, const struct conf_node *n)
{
    for (size_t i = 0; i < sizeof keydefs / sizeof keydefs[0]; i++) {
        const struct keydef *d = &keydefs[i];
        if (strcasecmp(d->name, n->key) != 0)
            continue;
        void *f = (char *)L->o + d->off;
        switch (d->type) {
        case T_STR: return rd_str(L, n, f);
        case T_BOOL: return rd_bool(L, n, f);
        case T_INT: return rd_int(L, n, f);
        case T_I32: return rd_i32(L, n, f);
        case T_I64: return rd_i64(L, n, f);
        case T_MS: return rd_ms(L, n, f);
        case T_FN: return d->fn(L, n);
        }
    }
    if (unsupported_what(n->key))
        return refuse(L, n);
    if (n->used_as_var)
        return 0;
    return node_err(L, n, true, "unknown field \"%s\"", n->key);
}

static int load_file(struct loader *L, const char *path)
{
    char e[EBUF];
    struct conf_node *root;
    if (conf_parse_file(path, &root, e, sizeof e) < 0)
        return add_err(L, e);
    L->root = root;
    int before = L->nerr;
    for (size_t i = 0; i < root->n; i++)
        apply_key(L, root->items[i]); /* collect every error, as nats-server does */
    L->root = NULL;
    conf_free(root);
    return L->nerr > before ? -1 : 0;
}

/* Checks across options (nats-server's validateOptions and baseline). */
static int validate(struct loader *L, bool test_only)
{
    struct opts *o = L->o;
    for (int i = 0; i < o->nusers; i++) { /* default_permissions: the block's users without their own */
        struct user_opt *u = &o->users[i];
        if (u->own_perms)
            continue;
        const struct account_opt *a = u->account ? account_opt_find(o, u->account) : NULL;
        u->perms = u->account ? (a ? a->default_perms : NULL) : o->default_perms;
    }
    bool acc_users = false;
    for (int i = 0; i < o->nusers; i++)
        acc_users |= o->users[i].account != NULL;
    if (acc_users && o->user)
        return errf(L, "Can not have a single user/pass and accounts");
    if (acc_users && o->token)
        return errf(L, "Can not have a token and accounts");
    if (o->no_auth_user && !test_only) { /* nats-server checks it when the server starts, not with -t */
        bool found = false;
        for (int i = 0; i < o->nusers; i++)
            found |= o->users[i].name && strcmp(o->users[i].name, o->no_auth_user) == 0;
        if (!found)
            return errf(L, "no_auth_user: \"%s\" not present as user in authorization block or account "
                           "configuration", o->no_auth_user);
    }
    if (o->max_payload > o->max_pending)
        return errf(L, "max_payload (%lld) cannot be higher than max_pending (%lld)", (long long)o->max_payload,
                    (long long)o->max_pending);
    if (o->lame_duck_grace_ms >= o->lame_duck_duration_ms) {
        char g[32], d[32];
        opts_duration_str(o->lame_duck_grace_ms, g, sizeof g);
        opts_duration_str(o->lame_duck_duration_ms, d, sizeof d);
        return errf(L, "lame duck grace period (%s) should be strictly lower than lame duck duration (%s)", g, d);
    }
    /* zero means "the default", as in nats-server's setBaselineOptions */
    if (o->ping_interval_ms <= 0)
        o->ping_interval_ms = MS(120);
    if (o->ping_max == 0)
        o->ping_max = 2;
    if (o->write_deadline_ms <= 0)
        o->write_deadline_ms = MS(10);
    if (o->max_control_line <= 0)
        o->max_control_line = 4096;
    if (o->max_payload <= 0)
        o->max_payload = 1024 * 1024;
    if (o->max_pending <= 0)
        o->max_pending = 64 * 1024 * 1024;
    if (o->xshard_max_pending <= 0)
        o->xshard_max_pending = 4 * 1024 * 1024;
    if (o->max_connections == 0)
        o->max_connections = 64 * 1024;
    if (!o->http_host) /* the monitor binds where clients do unless told otherwise */
        set_str(&o->http_host, o->host);
    return 0;
}

/* ------------------------------------------------------------ command line */

static void usage(FILE *f)
{
    fputs("\n"
          "Usage: gannet [options]\n"
          "\n"
          "Server Options:\n"
          "    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)\n"
          "    -p, --port <port>                Use port for clients (default: 4222)\n"
          "    -n, --name\n"
          "        --server_name <server_name>  Server name (default: auto)\n"
          "    -P, --pid <file>                 File to store PID\n"
          "    -m, --http_port <port>           Use port for http monitoring\n"
          "    -ms,--https_port <port>          Use port for https monitoring\n"
          "    -c, --config <file>              Configuration file\n"
          "    -t                               Test configuration and exit\n"
          "    -sl,--signal <signal>[=<pid>]    Send signal to gannet process (ldm, stop, quit, term, reopen, reload)\n"
          "                                     <pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/gannet.pid)\n"
          "        --client_advertise <string>  Client URL to advertise to other servers\n"
          "        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).\n"
          "        --shards <n>                 Shard threads (default: online CPUs; gannet only)\n"
          "\n"
          "Logging Options:\n"
          "    -l, --log <file>                 File to redirect log output\n"
          "    -T, --logtime                    Timestamp log entries (default: true)\n"
          "        --logtime_utc                Timestamps in UTC (gannet; nats-server 2.10)\n"
          "    -s, --syslog                     Log to syslog\n"
          "    -r, --remote_syslog <addr>       Syslog server addr (udp://localhost:514)\n"
          "    -D, --debug                      Enable debugging output\n"
          "    -V, --trace                      Trace the raw protocol\n"
          "    -VV                              Verbose trace (same as -V: gannet has no system account)\n"
          "    -DV                              Debug and trace\n"
          "    -DVV                             Debug and verbose trace\n"
          "        --log_size_limit <limit>     Logfile size limit (default: none)\n"
          "        --max_traced_msg_len <len>   Maximum printable length for traced messages (*)\n"
          "\n"
          "JetStream Options:\n"
          "    -js, --jetstream                 Enable JetStream functionality (*)\n"
          "    -sd, --store_dir <dir>           Set the storage directory (*)\n"
          "\n"
          "Authorization Options:\n"
          "        --user <user>                User required for connections\n"
          "        --pass <password>            Password required for connections\n"
          "        --auth <token>               Authorization token required for connections\n"
          "\n"
          "TLS Options:\n"
          "        --tls                        Enable TLS, do not verify clients (default: false)\n"
          "        --tlscert <file>             Server certificate file\n"
          "        --tlskey <file>              Private key for server certificate\n"
          "        --tlsverify                  Enable TLS, verify client certificates\n"
          "        --tlscacert <file>           Client certificate CA for verification\n"
          "\n"
          "Cluster Options:\n"
          "        --routes <rurl-1, rurl-2>    Routes to solicit and connect\n"
          "        --cluster <cluster-url>      Cluster URL for solicited routes\n"
          "        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated\n"
          "        --no_advertise <bool>        Do not advertise known cluster information to clients\n"
          "        --cluster_advertise <string> Cluster URL to advertise to other servers\n"
          "        --connect_retries <number>   For implicit routes, number of connect retries\n"
          "        --cluster_listen <url>       Cluster url from which members can solicit routes\n"
          "\n"
          "Profiling Options (*):\n"
          "        --profile <port>             Profiling HTTP port\n"
          "\n"
          "Common Options:\n"
          "    -h, --help                       Show this message\n"
          "    -v, --version                    Show version\n"
          "        --help_tls                   TLS help\n"
          "\n"
          "(*) recognised, but not supported yet by gannet: refused with an error (see README).\n"
          "\n",
          f);
}

enum fkind { FK_BOOL, FK_STR, FK_INT, FK_I64 }; /* Go flag types */
enum fact { A_FIELD, A_HELP, A_HELP_TLS, A_VERSION, A_TEST, A_CONFIG, A_SIGNAL, A_DV, A_VV, A_DVV, A_UNSUP, A_CLUSTER, A_ROUTES };

static const struct flagdef {
    const char *name;
    enum fkind kind;
    enum fact act;
    size_t off;       /* A_FIELD: field of struct opts */
    const char *what; /* A_UNSUP: the capability */
} flagdefs[] = {
#define FL(n, k, field) {n, k, A_FIELD, offsetof(struct opts, field), NULL}
#define FA(n, k, act) {n, k, act, 0, NULL}
#define FU(n, k, what) {n, k, A_UNSUP, 0, what}
    FA("h", FK_BOOL, A_HELP), FA("help", FK_BOOL, A_HELP),
    FL("port", FK_INT, port), FL("p", FK_INT, port),
    FL("n", FK_STR, server_name), FL("name", FK_STR, server_name), FL("server_name", FK_STR, server_name),
    FL("addr", FK_STR, host), FL("a", FK_STR, host), FL("net", FK_STR, host),
    FL("client_advertise", FK_STR, client_advertise),
    FL("D", FK_BOOL, debug), FL("debug", FK_BOOL, debug),
    FL("V", FK_BOOL, trace), FL("trace", FK_BOOL, trace),
    FA("VV", FK_BOOL, A_VV), FA("DV", FK_BOOL, A_DV), FA("DVV", FK_BOOL, A_DVV),
    FL("T", FK_BOOL, logtime), FL("logtime", FK_BOOL, logtime), FL("logtime_utc", FK_BOOL, logtime_utc),
    FL("user", FK_STR, user), FL("pass", FK_STR, pass), FL("auth", FK_STR, token),
    FL("m", FK_INT, http_port), FL("http_port", FK_INT, http_port),
    FL("ms", FK_INT, https_port), FL("https_port", FK_INT, https_port),
    FA("c", FK_STR, A_CONFIG), FA("config", FK_STR, A_CONFIG),
    FA("t", FK_BOOL, A_TEST),
    FA("sl", FK_STR, A_SIGNAL), FA("signal", FK_STR, A_SIGNAL),
    FL("P", FK_STR, pid_file), FL("pid", FK_STR, pid_file),
    FL("ports_file_dir", FK_STR, ports_file_dir),
    FL("l", FK_STR, log_file), FL("log", FK_STR, log_file),
    FL("log_size_limit", FK_I64, log_size_limit),
    FL("s", FK_BOOL, syslog), FL("syslog", FK_BOOL, syslog),
    FL("r", FK_STR, remote_syslog), FL("remote_syslog", FK_STR, remote_syslog),
    FA("version", FK_BOOL, A_VERSION), FA("v", FK_BOOL, A_VERSION),
    FU("profile", FK_INT, "profiling"),
    FA("routes", FK_STR, A_ROUTES), FA("cluster", FK_STR, A_CLUSTER), FA("cluster_listen", FK_STR, A_CLUSTER),
    FL("cluster_advertise", FK_STR, cluster.advertise), FL("no_advertise", FK_BOOL, cluster.no_advertise),
    FL("connect_retries", FK_INT, cluster.connect_retries), FL("cluster_name", FK_STR, cluster.name),
    FA("help_tls", FK_BOOL, A_HELP_TLS), FL("tls", FK_BOOL, tls_flags.tls), FL("tlsverify", FK_BOOL, tls_flags.verify),
    FL("tlscert", FK_STR, tls_flags.cert), FL("tlskey", FK_STR, tls_flags.key), FL("tlscacert", FK_STR, tls_flags.ca),
    FU("max_traced_msg_len", FK_INT, "trace truncation"),
    FU("js", FK_BOOL, "JetStream"), FU("jetstream", FK_BOOL, "JetStream"),
    FU("sd", FK_STR, "JetStream"), FU("store_dir", FK_STR, "JetStream"),
    FL("shards", FK_INT, shards),
#undef FL
#undef FA
#undef FU
};

struct flagval {
    const struct flagdef *def;
    const char *s;  /* FK_STR */
    long long i;    /* FK_INT, FK_I64 */
    bool b;         /* FK_BOOL */
};

static const struct flagdef *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof flagdefs / sizeof flagdefs[0]; i++)
        if (strlen(flagdefs[i].name) == len && memcmp(flagdefs[i].name, name, len) == 0)
            return &flagdefs[i];
    return NULL;
}

/* strconv.ParseBool */
static int parse_bool(const char *s, bool *b)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True", NULL};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False", NULL};
    for (int i = 0; t[i]; i++) {
        if (!strcmp(s, t[i]))
            return *b = true, 0;
        if (!strcmp(s, f[i]))
            return *b = false, 0;
    }
    return -1;
}

/* Go's flag.Parse: fills vals (at most argc entries); *first_arg is the
 * index of the first non-flag argument. 0, or -1 with the error in L. */
static int parse_flags(struct loader *L, int argc, char **argv, struct flagval *vals, int *nvals, int *first_arg)
{
    int i = 1;
    *nvals = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strlen(a) < 2 || a[0] != '-')
            break;
        const char *name = a + 1;
        if (*name == '-') {
            name++;
            if (*name == 0) { /* "--" ends the flags */
                i++;
                break;
            }
        }
        if (*name == '-' || *name == '=')
            return errf(L, "bad flag syntax: %s", a);
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const char *val = eq ? eq + 1 : NULL;
        const struct flagdef *d = find_flag(name, len);
        if (!d)
            return errf(L, "flag provided but not defined: -%.*s", (int)len, name);
        struct flagval *fv = &vals[(*nvals)++];
        memset(fv, 0, sizeof *fv);
        fv->def = d;
        if (d->kind == FK_BOOL) {
            fv->b = true;
            if (val && parse_bool(val, &fv->b) < 0)
                return errf(L, "invalid boolean value \"%s\" for -%s: parse error", val, d->name);
            continue;
        }
        if (!val) {
            if (i + 1 >= argc)
                return errf(L, "flag needs an argument: -%s", d->name);
            val = argv[++i];
        }
        fv->s = val;
        if (d->kind == FK_INT || d->kind == FK_I64) {
            char *end;
            errno = 0;
            fv->i = strtoll(val, &end, 0);
            if (!*val || *end || end == val)
                return errf(L, "invalid value \"%s\" for flag -%s: parse error", val, d->name);
            if (errno == ERANGE || (d->kind == FK_INT && (fv->i < INT32_MIN || fv->i > INT32_MAX)))
                return errf(L, "invalid value \"%s\" for flag -%s: value out of range", val, d->name);
        }
    }
    *first_arg = i;
    return 0;
}

/* --cluster / --cluster_listen nats://host:port: the route listener
 * (validated by check_cluster_flags before it is applied) */
static void cluster_flag(struct opts *o, const char *url)
{
    const char *hp = strstr(url, "://");
    hp = hp ? hp + 3 : url;
    const char *at = strrchr(hp, '@');
    if (at)
        hp = at + 1;
    const char *colon = strrchr(hp, ':');
    o->cluster.configured = true;
    if (!colon)
        return;
    char *h = strndup(hp, (size_t)(colon - hp));
    if (h && *h) {
        free(o->cluster.host);
        o->cluster.host = h;
    } else {
        free(h);
    }
    o->cluster.port = atoi(colon + 1);
}

/* --routes url1,url2: replaces the configured routes, as nats-server's flag */
static void routes_flag(struct opts *o, const char *list)
{
    struct cluster_opt *c = &o->cluster;
    for (int i = 0; i < c->nroutes; i++)
        free(c->routes[i]);
    free(c->routes);
    c->routes = NULL;
    c->nroutes = 0;
    char *dup = strdup(list), *save = NULL;
    for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        char **nv = realloc(c->routes, (c->nroutes + 1) * sizeof *nv);
        if (!nv)
            break;
        c->routes = nv;
        if ((c->routes[c->nroutes] = strdup(t)))
            c->nroutes++;
    }
    free(dup);
}

/* nats-server's --help_tls text (its cipher list is in Go map order, i.e.
 * random; gannet's is its table's order). */
static void tls_usage(FILE *f)
{
    fputs("\nTLS configuration is specified in the tls section of a configuration file:\n\ne.g.\n\n"
          "    tls {\n"
          "        cert_file:      \"./certs/server-cert.pem\"\n"
          "        key_file:       \"./certs/server-key.pem\"\n"
          "        ca_file:        \"./certs/ca.pem\"\n"
          "        verify:         true\n"
          "        verify_and_map: true\n\n"
          "        cipher_suites: [\n"
          "            \"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\",\n"
          "            \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"\n"
          "        ]\n"
          "        curve_preferences: [\n"
          "            \"CurveP256\",\n"
          "            \"CurveP384\",\n"
          "            \"CurveP521\"\n"
          "        ]\n"
          "    }\n\n"
          "Available cipher suites include:\n", f);
    for (int i = 0; tls_cipher_name(i); i++)
        fprintf(f, "    %s\n", tls_cipher_name(i));
    fputs("\nAvailable curve preferences include:\n", f);
    for (int i = 0; tls_curve_name(i); i++)
        fprintf(f, "    %s\n", tls_curve_name(i));
}

/* nats-server's overrideTLS: --tls (or --tlsverify) makes a client TLS
 * configuration of the flags, replacing the file's tls {}. */
static void tls_from_flags(struct loader *L)
{
    struct opts *o = L->o;
    if (!o->tls_flags.any)
        return;
    if (o->tls_flags.off) { /* --tls=false: no TLS, not even the file's */
        tls_opt_free(&o->tls);
        return;
    }
    if (!o->tls_flags.cert || !*o->tls_flags.cert) {
        errf(L, "TLS Server certificate must be present and valid");
        return;
    }
    if (!o->tls_flags.key || !*o->tls_flags.key) {
        errf(L, "TLS Server private key must be present and valid");
        return;
    }
    struct tls_opt *t = &o->tls;
    tls_opt_free(t);
    t->configured = true;
    t->timeout_ms = TLS_DEFAULT_TIMEOUT_MS;
    set_str(&t->cert_file, o->tls_flags.cert);
    set_str(&t->key_file, o->tls_flags.key);
    if (o->tls_flags.ca && *o->tls_flags.ca)
        set_str(&t->ca_file, o->tls_flags.ca);
    t->verify = o->tls_flags.verify;
    char why[EBUF];
    if (!readable(t->cert_file, why, sizeof why) || !readable(t->key_file, why, sizeof why)) {
        errf(L, "error parsing X509 certificate/key pair: %s", why);
        return;
    }
    if (t->ca_file && !readable(t->ca_file, why, sizeof why)) {
        errf(L, "%s", why);
        return;
    }
    if (tls_opt_build(t, TLS_SERVER, why, sizeof why) < 0 || (t->verify && tls_opt_build(t, TLS_MONITOR, why, sizeof why) < 0))
        errf(L, "%s", why);
}

static void apply_flag(struct opts *o, const struct flagval *fv)
{
    const struct flagdef *d = fv->def;
    void *f = (char *)o + d->off;
    switch (d->act) {
    case A_FIELD:
        switch (d->kind) {
        case FK_BOOL: *(bool *)f = fv->b; break;
        case FK_STR: set_str(f, fv->s); break;
        case FK_INT: *(int *)f = (int)fv->i; break;
        case FK_I64: *(int64_t *)f = fv->i; break;
        }
        break;
    case A_CLUSTER: cluster_flag(o, fv->s); break;
    case A_ROUTES: routes_flag(o, fv->s); break;
    case A_DV: o->debug = o->trace = fv->b; break;
    case A_VV: o->trace = fv->b; break; /* verbose = the system account too: gannet has none */
    case A_DVV: o->debug = o->trace = fv->b; break;
    default: break;
    }
}

static void print_version(void)
{
    printf("nats-server: v%s (gannet %s)\n", NATS_COMPAT_VERSION, GANNET_VERSION);
}

/* Print the collected warnings (strict ones as errors under -t). */
static void flush_warnings(struct loader *L, bool test_only)
{
    for (int i = 0; i < L->nwarn; i++) {
        if (L->quiet)
            log_warn("%s", L->warns[i].msg);
        else if (!(test_only && L->warns[i].strict))
            fprintf(stderr, "%s\n", L->warns[i].msg);
    }
}

/* The loader proper. Returns 0 (run, or send o->signal_cmd), 1 (exit 0) or
 * -1 (errors in L; *show_usage set for command-line syntax errors). */
static int load(struct loader *L, int argc, char **argv, bool *test_only, bool *show_usage)
{
    struct opts *o = L->o;
    set_defaults(o);
    o->argv = argv;
    o->argc = argc;
    *test_only = *show_usage = false;
    struct flagval *vals = calloc((size_t)(argc > 0 ? argc : 1), sizeof *vals);
    if (!vals)
        return errf(L, "out of memory");
    int nvals = 0, first_arg = argc, rc = -1;
    bool help = false, version = false, help_tls = false;
    const char *signal = NULL, *config = NULL;
    if (parse_flags(L, argc, argv, vals, &nvals, &first_arg) < 0) {
        *show_usage = true;
        goto out;
    }
    for (int i = 0; i < nvals; i++) {
        switch (vals[i].def->act) {
        case A_HELP: help |= vals[i].b; break;
        case A_HELP_TLS: help_tls |= vals[i].b; break;
        case A_VERSION: version |= vals[i].b; break;
        case A_TEST: *test_only = vals[i].b; break;
        case A_CONFIG: config = vals[i].s; break;
        case A_SIGNAL: signal = vals[i].s; break;
        default: break;
        }
    }
    if (L->quiet) /* a reload re-reads the file and re-applies the flags, nothing else */
        help = version = help_tls = *test_only = false, signal = NULL;
    if (help_tls && !version && !help) {
        tls_usage(stdout);
        rc = 1;
        goto out;
    }
    if (version || help) {
        version ? print_version() : usage(stdout);
        rc = 1;
        goto out;
    }
    if (first_arg < argc && !L->quiet) { /* nats-server's commands: `version`, `help` */
        if (!strcasecmp(argv[first_arg], "version"))
            print_version();
        else if (!strcasecmp(argv[first_arg], "help"))
            usage(stdout);
        else {
            errf(L, "unrecognized command: \"%s\"", argv[first_arg]);
            goto out;
        }
        rc = 1;
        goto out;
    }
    for (int i = 0; i < nvals; i++)
        if (vals[i].def->act == A_UNSUP)
            errf(L, "flag -%s is not supported yet by gannet (%s; %s)", vals[i].def->name, vals[i].def->what,
                 readme_ref);
    if (L->nerr)
        goto out;
    if (signal) { /* before the config file, as nats-server: a broken file must not stop a signal */
        set_str(&o->signal_cmd, signal);
        rc = 0;
        goto out;
    }
    if (config) {
        set_str(&o->config_file, config);
        load_file(L, config);
    } else if (*test_only) {
        errf(L, "must specify [-c, --config] option to check configuration file syntax");
        goto out;
    }
    for (int i = 0; i < nvals; i++) { /* flags override the file */
        apply_flag(o, &vals[i]);
        if (!strncmp(vals[i].def->name, "tls", 3)) /* nats-server: any --tls* flag makes TLS of the flags */
            o->tls_flags.any = true;
        if (!strcmp(vals[i].def->name, "tls"))
            o->tls_flags.off = !vals[i].b;
    }
    if (L->nerr == 0)
        tls_from_flags(L);
    if (!o->auth_timeout_set && o->tls.ctx) /* nats-server's getDefaultAuthTimeout */
        o->auth_timeout_ms = o->tls.timeout_ms + 1000;
    if (o->cluster.auth_timeout_ms <= 0 && o->cluster.tls.ctx)
        o->cluster.auth_timeout_ms = o->cluster.tls.timeout_ms + 1000;
    if (L->nerr == 0)
        validate(L, *test_only);
    if (*test_only)
        for (int i = 0; i < L->nwarn; i++)
            if (L->warns[i].strict) /* nats-server -t fails on its warnings */
                add_err(L, L->warns[i].msg);
    rc = L->nerr ? -1 : 0;
out:
    free(vals);
    return rc;
}

int opts_load(struct opts *o, int argc, char **argv)
{
    char err[8192] = "";
    struct loader L = {.o = o, .err = err, .errlen = sizeof err};
    bool test_only, show_usage;
    int rc = load(&L, argc, argv, &test_only, &show_usage);
    flush_warnings(&L, test_only);
    free_warnings(&L);
    if (rc < 0) {
        if (show_usage) { /* Go's flag package: the error alone, then the usage */
            fprintf(stderr, "%s\n", err);
            usage(stderr);
        } else {
            fprintf(stderr, PROG ": %s\n", err);
        }
        return -1;
    }
    if (rc == 0 && test_only) {
        fprintf(stderr, PROG ": configuration file %s is valid\n", o->config_file);
        return 1;
    }
    return rc;
}

int opts_load_quiet(struct opts *o, int argc, char **argv, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    struct loader L = {.o = o, .quiet = true, .err = err, .errlen = errlen};
    bool test_only, show_usage;
    int rc = load(&L, argc, argv, &test_only, &show_usage);
    flush_warnings(&L, false);
    free_warnings(&L);
    return rc < 0 ? -1 : 0;
}

void opts_log_config(const struct opts *o, struct log_config *lc)
{
    const char *exe = o->argv && o->argc > 0 && o->argv[0] ? o->argv[0] : PROG;
    const char *base = strrchr(exe, '/');
    *lc = (struct log_config){.debug = o->debug, .trace = o->trace, .logtime = o->logtime,
                              .logtime_utc = o->logtime_utc, .file = o->log_file, .size_limit = o->log_size_limit,
                              .syslog = o->syslog, .remote_syslog = o->remote_syslog,
                              .tag = base ? base + 1 : exe};
}

/* ------------------------------------------------------------ reload */

/* nats-server's options hold "" where gannet's hold NULL: the same value */
static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool strv_eq(char *const *a, int na, char *const *b, int nb)
{
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return false;
    return true;
}

static bool accounts_equal(const struct opts *a, const struct opts *b)
{
    if (a->naccounts != b->naccounts || !str_eq(a->system_account, b->system_account) ||
        a->no_system_account != b->no_system_account)
        return false;
    for (int i = 0; i < a->naccounts; i++) {
        const struct account_opt *x = &a->accounts[i], *y = &b->accounts[i];
        if (!str_eq(x->name, y->name) || x->nexports != y->nexports || x->nimports != y->nimports)
            return false;
        for (int e = 0; e < x->nexports; e++) {
            const struct export_opt *p = &x->exports[e], *q = &y->exports[e];
            if (!str_eq(p->subject, q->subject) || p->service != q->service || p->resp_type != q->resp_type ||
                p->threshold_ms != q->threshold_ms || !strv_eq(p->accounts, p->naccounts, q->accounts, q->naccounts))
                return false;
        }
        for (int k = 0; k < x->nimports; k++) {
            const struct import_opt *p = &x->imports[k], *q = &y->imports[k];
            if (p->service != q->service || !str_eq(p->account, q->account) || !str_eq(p->subject, q->subject) ||
                !str_eq(p->to, q->to) || !str_eq(p->prefix, q->prefix))
                return false;
        }
    }
    return true;
}

int opts_reload_check(const struct opts *old, const struct opts *new, char *err, size_t errlen)
{
    /* What a reload cannot change, in the order of nats-server's Options
     * struct (it reports the first difference it meets). Everything else in
     * struct opts (logging, limits, authorization, lame duck) is applied. */
#define STR(name, f)                                                                                                  \
    if (!str_eq(old->f, new->f)) {                                                                                    \
        snprintf(err, errlen, "config reload not supported for %s: old=%s, new=%s", name, old->f ? old->f : "",       \
                 new->f ? new->f : "");                                                                               \
        return -1;                                                                                                    \
    }
#define INT(name, f)                                                                                                  \
    if (old->f != new->f) {                                                                                           \
        snprintf(err, errlen, "config reload not supported for %s: old=%lld, new=%lld", name, (long long)old->f,      \
                 (long long)new->f);                                                                                  \
        return -1;                                                                                                    \
    }
    STR("ServerName", server_name)
    STR("Host", host)
    INT("Port", port)
    STR("HTTPHost", http_host)
    INT("HTTPPort", http_port)
    STR("HTTPBasePath", http_base_path)
    INT("HTTPSPort", https_port)
    STR("PidFile", pid_file)
    STR("PortsFileDir", ports_file_dir)
#define BOOL(name, f)                                                                                                 \
    if (old->f != new->f) {                                                                                           \
        snprintf(err, errlen, "config reload not supported for %s: old=%s, new=%s", name, old->f ? "true" : "false",  \
                 new->f ? "true" : "false");                                                                          \
        return -1;                                                                                                    \
    }
    BOOL("TLSMap", tls.verify_and_map) /* the certificate, verify, ciphers, timeout and pins do reload */
    INT("TLSRateLimit", tls.rate_limit)
    BOOL("AllowNonTLS", allow_non_tls)
    INT("Shards", shards)
#undef STR
#undef INT
#undef BOOL
    if (!accounts_equal(old, new)) { /* the accounts are built once, at start */
        snprintf(err, errlen, "config reload not supported for Accounts: gannet builds accounts, their exports and "
                              "imports and the system account at start");
        return -1;
    }
    if (err && errlen)
        err[0] = 0;
    return 0;
}

/* ------------------------------------------------------------ ports file */

static int ports_file_path(const struct opts *o, char *buf, size_t cap)
{
    const char *exe = o->argv && o->argc > 0 && o->argv[0] ? o->argv[0] : PROG;
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    int n = snprintf(buf, cap, "%s/%s_%d.ports", o->ports_file_dir, base, (int)getpid());
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* errno text as Go prints it: lower case ("no such file or directory"). */
static const char *go_errno(int e, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

/* Appends "<scheme>://addr:port" for every interface address, interface by
 * interface (IPv4 then IPv6 within one), as Go's net.InterfaceAddrs lists them. */
static size_t append_all_addrs(char *buf, size_t cap, size_t n, const char *scheme, int port)
{
    struct ifaddrs *ifa0, *ifa;
    if (getifaddrs(&ifa0) < 0)
        return n;
    struct if_nameindex *names = if_nameindex();
    int count = 0;
    for (struct if_nameindex *ni = names; ni && ni->if_index; ni++) {
        for (int fam = 0; fam < 2; fam++) {
            for (ifa = ifa0; ifa; ifa = ifa->ifa_next) {
                char a[INET6_ADDRSTRLEN];
                if (!ifa->ifa_addr || strcmp(ifa->ifa_name, ni->if_name) != 0)
                    continue;
                if (fam == 0 && ifa->ifa_addr->sa_family == AF_INET)
                    inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ifa->ifa_addr)->sin_addr, a, sizeof a);
                else if (fam == 1 && ifa->ifa_addr->sa_family == AF_INET6)
                    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)ifa->ifa_addr)->sin6_addr, a, sizeof a);
                else
                    continue;
                int k = snprintf(buf + n, cap - n, fam ? "%s\"%s://[%s]:%d\"" : "%s\"%s://%s:%d\"",
                                 count++ ? "," : "", scheme, a, port);
                if (k > 0 && (size_t)k < cap - n)
                    n += (size_t)k;
            }
        }
    }
    if (names)
        if_freenameindex(names);
    freeifaddrs(ifa0);
    return n;
}

/* `"key":["<scheme>://host:port",...]` for a listener on host (formatURL in nats-server) */
static size_t append_urls(char *buf, size_t cap, size_t n, const char *key, const char *scheme, const char *host,
                          int port)
{
    if (n >= cap)
        return n;
    n += (size_t)snprintf(buf + n, cap - n, "\"%s\":[", key);
    const char *h = host && *host ? host : "0.0.0.0";
    if (n >= cap)
        return n;
    if (!strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !strcmp(h, "[::]")) {
        n = append_all_addrs(buf, cap, n, scheme, port);
    } else {
        bool v6 = strchr(h, ':') != NULL;
        n += (size_t)snprintf(buf + n, cap - n, v6 ? "\"%s://[%s]:%d\"" : "\"%s://%s:%d\"", scheme, h, port);
    }
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "]");
    return n;
}

static void write_ports(const struct opts *o, int client_port, const char *http_addr, int http_port)
{
    char path[4096], json[16384], eb[128];
    if (!o->ports_file_dir || ports_file_path(o, path, sizeof path) < 0)
        return;
    size_t n = (size_t)snprintf(json, sizeof json, "{");
    n = append_urls(json, sizeof json, n, "nats", "nats", o->host, client_port);
    if (http_port > 0 && n < sizeof json) {
        n += (size_t)snprintf(json + n, sizeof json - n, ",");
        n = append_urls(json, sizeof json, n, "monitoring", o->https_port ? "https" : "http", http_addr, http_port);
    }
    if (n < sizeof json)
        n += (size_t)snprintf(json + n, sizeof json - n, "}");
    if (n >= sizeof json)
        n = sizeof json - 1;
    FILE *f = fopen(path, "w");
    if (!f) {
        log_error("Error writing ports file (%s): open %s: %s", path, path, go_errno(errno, eb, sizeof eb));
        return;
    }
    bool ok = fwrite(json, 1, n, f) == n;
    ok &= fclose(f) == 0;
    if (!ok)
        log_error("Error writing ports file (%s): write %s: %s", path, path, go_errno(errno, eb, sizeof eb));
}

void ports_file_write(const struct opts *o, int client_port)
{
    if (o->http_port != 0 || o->https_port != 0)
        return; /* the monitor writes it once its port is bound (opts.h) */
    write_ports(o, client_port, NULL, 0);
}

void ports_file_write_http(const struct opts *o, int client_port, const char *http_addr, int http_port)
{
    write_ports(o, client_port, http_addr, http_port);
}

void ports_file_remove(const struct opts *o)
{
    char path[4096], eb[128];
    if (!o->ports_file_dir || ports_file_path(o, path, sizeof path) < 0)
        return;
    /* with monitoring, the file is written once the monitor listens: a
     * server that failed before that has none to remove */
    if (unlink(path) < 0 && !(errno == ENOENT && (o->http_port != 0 || o->https_port != 0)))
        log_error("Error cleaning up ports file %s: remove %s: %s", path, path, go_errno(errno, eb, sizeof eb));
}
