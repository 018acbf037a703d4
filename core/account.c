/* Accounts: see account.h. */
#include "account.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "opts.h"
#include "subject.h"

int account_init(struct account *a, const char *name, uint32_t id, bool is_system)
{
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    a->id = id;
    a->is_system = is_system;
    if (!a->name)
        return -ENOMEM;
    return sublist_init(&a->sl);
}

void account_destroy(struct account *a)
{
    if (!a->name)
        return;
    sublist_destroy(&a->sl);
    for (uint32_t i = 0; i < a->nsout; i++) {
        free(a->sout[i].subj);
        free(a->sout[i].prefix);
        free(a->sout[i].map);
    }
    free(a->sout);
    for (uint32_t i = 0; i < a->nsin; i++) {
        free(a->sin[i].local);
        free(a->sin[i].remote);
    }
    free(a->sin);
    for (uint32_t i = 0; i < a->nmaps; i++) {
        free(a->maps[i].src);
        for (uint32_t k = 0; k < a->maps[i].nd; k++)
            free(a->maps[i].d[k].dest);
        free(a->maps[i].d);
    }
    free(a->maps);
    free(a->name);
    a->name = NULL;
}

struct account *account_find(struct account *v, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (v[i].name && strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

static char *dupn(const char *s, uint32_t *len)
{
    if (!s) {
        *len = 0;
        return NULL;
    }
    *len = (uint32_t)strlen(s);
    return strdup(s);
}

/* The service export of `exp` that admits subject (its response type and
 * threshold); the loader made sure there is one. */
static const struct export_opt *service_export(const struct account_opt *exp, const char *subject)
{
    for (int e = 0; exp && e < exp->nexports; e++) {
        const struct export_opt *x = &exp->exports[e];
        if (x->service && subject_subset(subject, strlen(subject), x->subject, strlen(x->subject)))
            return x;
    }
    return NULL;
}

static const struct account_opt *account_opt_of(const struct opts *o, const char *name)
{
    for (int i = 0; i < o->naccounts; i++)
        if (strcmp(o->accounts[i].name, name) == 0)
            return &o->accounts[i];
    return NULL;
}

static void response_prefix(struct account *a, uint64_t seed)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t h = XXH3_64bits_withSeed(a->name, strlen(a->name), seed);
    memcpy(a->rprefix, "_R_.", 4);
    for (int i = 0; i < 6; i++, h /= 62)
        a->rprefix[4 + i] = digits[h % 62];
    a->rprefix[10] = '.';
    a->rprefix[11] = 0;
}


static int maps_copy(struct account *a, const struct mapping_opt *m, int n)
{
    if (n == 0)
        return 0;
    if (!(a->maps = calloc((size_t)n, sizeof *a->maps)))
        return -ENOMEM;
    for (int i = 0; i < n; i++, a->nmaps++) {
        struct subj_map *sm = &a->maps[i];
        if (!(sm->src = dupn(m[i].src, &sm->src_len)) || !(sm->d = calloc((size_t)m[i].nd + 1, sizeof *sm->d)))
            return -ENOMEM;
        sm->src_wild = strchr(sm->src, '*') || strchr(sm->src, '>');
        for (int k = 0; k < m[i].nd; k++, sm->nd++) {
            if (!(sm->d[k].dest = dupn(m[i].d[k].dest, &sm->d[k].len)))
                return -ENOMEM;
            sm->d[k].weight = m[i].d[k].weight;
        }
    }
    return 0;
}

/* The index in "$n" or "{{wildcard(n)}}" (0: a literal token). */
static long wildcard_ref(const char *t, size_t n)
{
    if (n >= 2 && t[0] == '$')
        return strtol(t + 1, NULL, 10);
    if (n > 4 && t[0] == '{' && t[1] == '{') {
        const char *q = t + 2;
        while (*q == ' ')
            q++;
        if (strncasecmp(q, "wildcard(", 9) == 0)
            return strtol(q + 9, NULL, 10);
    }
    return 0;
}

size_t account_map(const struct account *a, const char *subj, uint32_t len, unsigned rnd, char *out, size_t cap)
{
    for (uint32_t i = 0; i < a->nmaps; i++) {
        const struct subj_map *m = &a->maps[i];
        if (m->src_wild ? !subject_matches(m->src, m->src_len, subj, len)
                        : m->src_len != len || memcmp(m->src, subj, len) != 0)
            continue;
        int acc = 0;
        const char *dest = NULL;
        uint32_t dlen = 0;
        for (uint32_t k = 0; k < m->nd && !dest; k++) {
            acc += m->d[k].weight;
            if ((int)rnd < acc)
                dest = m->d[k].dest, dlen = m->d[k].len;
        }
        if (!dest)
            return 0; /* the weights left this share to the subject itself */
        /* the subject's tokens under the source's wildcards */
        const char *w[32], *rest = NULL;
        size_t wn[32], nw = 0, restn = 0, si = 0, pi = 0;
        while (pi < m->src_len && si <= len) {
            const char *pe = memchr(m->src + pi, '.', m->src_len - pi);
            size_t pt = pe ? (size_t)(pe - m->src) - pi : m->src_len - pi;
            const char *se = memchr(subj + si, '.', len - si);
            size_t st = se ? (size_t)(se - subj) - si : len - si;
            if (pt == 1 && m->src[pi] == '>') {
                rest = subj + si, restn = len - si;
                break;
            }
            if (pt == 1 && m->src[pi] == '*' && nw < 32)
                w[nw] = subj + si, wn[nw++] = st;
            pi += pt + 1;
            si += st + 1;
        }
        size_t o = 0;
        for (size_t di = 0; di < dlen;) {
            const char *de = memchr(dest + di, '.', dlen - di);
            size_t dt = de ? (size_t)(de - dest) - di : dlen - di;
            const char *src = dest + di;
            size_t n = dt;
            long ref = wildcard_ref(dest + di, dt);
            if (ref >= 1 && (size_t)ref <= nw)
                src = w[ref - 1], n = wn[ref - 1];
            else if (dt == 1 && dest[di] == '>' && rest)
                src = rest, n = restn;
            if (o + n + 1 > cap)
                return SIZE_MAX;
            if (o)
                out[o++] = '.';
            memcpy(out + o, src, n);
            o += n;
            di += dt + 1;
        }
        return o;
    }
    return 0;
}

const struct sys_import account_sys_imports[3] = {
    {"$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.ACCOUNT.%s.CONNZ"},
    {"$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.%s.CONNZ"},
    {"$SYS.REQ.ACCOUNT.PING.STATZ", "$SYS.REQ.ACCOUNT.%s.STATZ"},
};

/* a's system imports: its connz and statz requests answered by the server
 * for a alone (streamed responses, as the system account exports them) */
static int add_sys_imports(struct account *a, struct account *sys)
{
    struct service_in *nv = realloc(a->sin, (a->nsin + 3) * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    a->sin = nv;
    for (int i = 0; i < 3; i++) {
        struct service_in *si = &nv[a->nsin];
        memset(si, 0, sizeof *si);
        si->exp = sys;
        si->local = dupn(account_sys_imports[i].local, &si->local_len);
        size_t cap = strlen(account_sys_imports[i].remote) + a->name_len + 1;
        if (!si->local || !(si->remote = malloc(cap))) {
            free(si->local);
            return -ENOMEM;
        }
        si->remote_len = (uint32_t)snprintf(si->remote, cap, account_sys_imports[i].remote, a->name);
        si->resp_type = RESP_STREAM;
        si->threshold_ms = RESP_THRESHOLD_DEFAULT_MS;
        a->nsin++;
        a->nsys_in++;
    }
    sys->service_exports = true;
    return 0;
}

int accounts_build(const struct opts *o, struct account **out, int *n, struct account **sys, char *err, size_t cap)
{
    const char *sysname = o->system_account && *o->system_account ? o->system_account : ACC_SYSTEM;
    bool sys_configured = account_opt_of(o, sysname) != NULL;
    bool no_sys = o->no_system_account && !(o->system_account && *o->system_account);
    if (!sys_configured && !no_sys && strcmp(sysname, ACC_SYSTEM) != 0) {
        snprintf(err, cap, "error resolving system account: account missing");
        return -EINVAL;
    }
    int total = 1 + (sys_configured || no_sys ? 0 : 1) + o->naccounts;
    struct account *v = calloc((size_t)total, sizeof *v);
    if (!v)
        return -ENOMEM;
    int k = 0, rc = account_init(&v[k], ACC_GLOBAL, (uint32_t)k, false);
    k++;
    if (rc == 0 && !sys_configured && !no_sys) /* implicit, as nats-server's (no_system_account: none) */
        rc = account_init(&v[k], ACC_SYSTEM, (uint32_t)k, true), k++;
    for (int i = 0; rc == 0 && i < o->naccounts; i++, k++)
        rc = account_init(&v[k], o->accounts[i].name, (uint32_t)k, strcmp(o->accounts[i].name, sysname) == 0);
    if (rc == 0)
        rc = maps_copy(&v[0], o->maps, o->nmaps); /* top-level mappings are the global account's */
    for (int i = 0; rc == 0 && i < o->naccounts; i++)
        rc = maps_copy(account_find(v, k, o->accounts[i].name), o->accounts[i].maps, o->accounts[i].nmaps);
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
    for (int i = 0; rc == 0 && i < k; i++) {
        v[i].name_len = (uint32_t)strlen(v[i].name);
        response_prefix(&v[i], seed);
    }
    /* imports: streams into their exporter's sout, services into the importer's sin */
    for (int i = 0; rc == 0 && i < o->naccounts; i++) {
        const struct account_opt *ao = &o->accounts[i];
        struct account *imp = account_find(v, k, ao->name);
        for (int j = 0; rc == 0 && j < ao->nimports; j++) {
            const struct import_opt *im = &ao->imports[j];
            struct account *exp = account_find(v, k, im->account);
            if (!exp)
                continue; /* the loader refused it */
            if (!im->service) {
                struct stream_out *nv = realloc(exp->sout, (exp->nsout + 1) * sizeof *nv);
                if (!nv) {
                    rc = -ENOMEM;
                    break;
                }
                exp->sout = nv;
                struct stream_out *so = &nv[exp->nsout++];
                memset(so, 0, sizeof *so);
                so->to = imp;
                so->subj = dupn(im->subject, &so->subj_len);
                so->prefix = dupn(im->prefix, &so->prefix_len);
                so->map = dupn(im->to, &so->map_len);
                if (!so->subj || (im->prefix && !so->prefix) || (im->to && !so->map))
                    rc = -ENOMEM;
            } else {
                struct service_in *nv = realloc(imp->sin, (imp->nsin + 1) * sizeof *nv);
                if (!nv) {
                    rc = -ENOMEM;
                    break;
                }
                imp->sin = nv;
                struct service_in *si = &nv[imp->nsin++];
                memset(si, 0, sizeof *si);
                si->exp = exp;
                si->local = dupn(im->to ? im->to : im->subject, &si->local_len);
                si->remote = dupn(im->subject, &si->remote_len);
                if (!si->local || !si->remote) {
                    rc = -ENOMEM;
                    break;
                }
                si->local_wild = strchr(si->local, '*') || strchr(si->local, '>');
                const struct export_opt *x = service_export(account_opt_of(o, im->account), im->subject);
                si->resp_type = x ? x->resp_type : RESP_SINGLETON;
                si->threshold_ms = x ? x->threshold_ms : RESP_THRESHOLD_DEFAULT_MS;
                exp->service_exports = true;
            }
        }
    }
    struct account *sa = no_sys ? NULL : account_find(v, k, sysname);
    for (int i = 0; rc == 0 && sa && i < k; i++)
        if (&v[i] != sa)
            rc = add_sys_imports(&v[i], sa);
    if (rc < 0) {
        for (int i = 0; i < k; i++)
            account_destroy(&v[i]);
        free(v);
        snprintf(err, cap, "out of memory");
        return rc;
    }
    *out = v;
    *n = k;
    *sys = sa;
    return 0;
}
