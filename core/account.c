/* Accounts: see account.h. */
#include "account.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    if (rc < 0) {
        for (int i = 0; i < k; i++)
            account_destroy(&v[i]);
        free(v);
        snprintf(err, cap, "out of memory");
        return rc;
    }
    *out = v;
    *n = k;
    *sys = no_sys ? NULL : account_find(v, k, sysname);
    return 0;
}
