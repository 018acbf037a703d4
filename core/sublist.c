/* Subject index: see sublist.h for the threading rules and the shape. */
#include "sublist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/rculfhash.h>
#include <xxhash.h>

#include "failpoint.h"
#include "subject.h"

/* Publication of RCU-protected pointers: release stores and acquire loads
 * (free on x86, and visible to ThreadSanitizer, which does not model
 * liburcu's own barrier macros). Reclamation is still liburcu's call_rcu. */
#define PUBLISH(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define READ_PUBLISHED(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)

struct subarr {
    uint32_t n;
    struct rcu_head rcu;
    struct sub *v[];
};

struct qgroup {
    const char *name; /* points into a member's sub->queue: lives as long as the group */
    uint32_t nlen;
    struct subarr *members;
};

struct qarr {
    uint32_t n;
    struct rcu_head rcu;
    struct qgroup g[];
};

struct snode {
    struct cds_lfht_node edge; /* in sl->edges, keyed (parent, token) */
    struct snode *parent;
    struct snode *pwc, *fwc;   /* '*' and '>' children (RCU pointers) */
    struct subarr *psubs;      /* RCU pointer, NULL when empty */
    struct qarr *qsubs;        /* RCU pointer, NULL when empty */
    uint32_t nchildren;        /* literal children; writer-only */
    uint32_t tlen;
    struct rcu_head rcu;
    char token[];
};

struct sub *sub_new(const char *subj, size_t slen, const char *queue, size_t qlen, const char *sid, size_t sidlen)
{
    struct sub *s = calloc(1, sizeof *s + slen + qlen + sidlen + 3);
    if (!s)
        return NULL;
    char *p = s->str;
    memcpy(p, subj, slen);
    s->subject = p;
    s->subj_len = (uint32_t)slen;
    p += slen + 1;
    memcpy(p, queue ? queue : "", qlen);
    s->queue = qlen ? p : NULL;
    s->qlen = (uint32_t)qlen;
    p += qlen + 1;
    memcpy(p, sid, sidlen);
    s->sid = p;
    s->sid_len = (uint32_t)sidlen;
    return s;
}

static inline uint64_t edge_hash(const struct snode *parent, const char *tok, size_t n)
{
    return XXH3_64bits_withSeed(tok, n, (uint64_t)(uintptr_t)parent);
}

struct edge_key {
    const struct snode *parent;
    const char *tok;
    size_t n;
};

static int edge_match(struct cds_lfht_node *node, const void *key)
{
    const struct snode *sn = caa_container_of(node, struct snode, edge);
    TSAN_CONSUME(sn); /* published by cds_lfht_add, which TSan does not see */
    const struct edge_key *k = key;
    return sn->parent == k->parent && sn->tlen == k->n && memcmp(sn->token, k->tok, k->n) == 0;
}

static struct snode *edge_lookup(struct sublist *sl, const struct snode *parent, const char *tok, size_t n)
{
    struct edge_key k = {parent, tok, n};
    struct cds_lfht_iter it;
    cds_lfht_lookup(sl->edges, edge_hash(parent, tok, n), edge_match, &k, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    return node ? caa_container_of(node, struct snode, edge) : NULL;
}

static struct snode *node_new(struct snode *parent, const char *tok, size_t n)
{
    struct snode *sn = failpoint(FP_SUB) ? NULL : calloc(1, sizeof *sn + n + 1);
    if (!sn)
        return NULL;
    cds_lfht_node_init(&sn->edge);
    sn->parent = parent;
    sn->tlen = (uint32_t)n;
    memcpy(sn->token, tok, n);
    return sn;
}

int sublist_init(struct sublist *sl)
{
    memset(sl, 0, sizeof *sl);
    sl->root = node_new(NULL, "", 0);
    sl->edges = cds_lfht_new_flavor(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, &urcu_qsbr_flavor, NULL);
    if (!sl->root || !sl->edges)
        return -ENOMEM;
    pthread_mutex_init(&sl->wlock, NULL);
    return 0;
}

#ifdef GANNET_TSAN
char tsan_grace_token;
#endif

static void free_subarr(struct rcu_head *h)
{
    TSAN_GRACE_ACQUIRE();
    free(caa_container_of(h, struct subarr, rcu));
}
static void free_qarr(struct rcu_head *h)
{
    TSAN_GRACE_ACQUIRE();
    free(caa_container_of(h, struct qarr, rcu));
}
static void free_node(struct rcu_head *h)
{
    TSAN_GRACE_ACQUIRE();
    free(caa_container_of(h, struct snode, rcu));
}

/* Copy `old` with `add` appended, or without `del`. */
static struct subarr *subarr_with(const struct subarr *old, struct sub *add, struct sub *del)
{
    uint32_t n = old ? old->n : 0;
    struct subarr *a = failpoint(FP_SUB) ? NULL : malloc(sizeof *a + (n + 1) * sizeof(struct sub *));
    if (!a)
        return NULL;
    a->n = 0;
    for (uint32_t i = 0; i < n; i++)
        if (old->v[i] != del)
            a->v[a->n++] = old->v[i];
    if (add)
        a->v[a->n++] = add;
    return a;
}

static void prune(struct sublist *sl, struct snode *n);

/* Walk to (or create) the node for a subject. Writer only. When a node
 * cannot be allocated, the empty nodes this walk created are unlinked again. */
static struct snode *walk(struct sublist *sl, const char *subj, size_t len, bool create)
{
    struct snode *n = sl->root;
    size_t i = 0;
    while (i <= len) {
        const char *dot = memchr(subj + i, '.', len - i);
        size_t tl = dot ? (size_t)(dot - subj) - i : len - i;
        const char *tok = subj + i;
        struct snode *c;
        if (tl == 1 && (tok[0] == '*' || tok[0] == '>')) {
            struct snode **slot = tok[0] == '*' ? &n->pwc : &n->fwc;
            c = *slot;
            if (!c && create) {
                if (!(c = node_new(n, tok, 1))) {
                    prune(sl, n);
                    return NULL;
                }
                PUBLISH(*slot, c);
            }
        } else {
            c = edge_lookup(sl, n, tok, tl);
            if (!c && create) {
                if (!(c = node_new(n, tok, tl))) {
                    prune(sl, n);
                    return NULL;
                }
                TSAN_PUBLISH(c);
                cds_lfht_add(sl->edges, edge_hash(n, tok, tl), &c->edge);
                n->nchildren++;
            }
        }
        if (!c)
            return NULL;
        n = c;
        if (!dot)
            break;
        i += tl + 1;
    }
    return n;
}

static int add_to_node(struct snode *n, struct sub *s)
{
    if (!s->qlen) {
        struct subarr *old = n->psubs, *a = subarr_with(old, s, NULL);
        if (!a)
            return -ENOMEM;
        PUBLISH(n->psubs, a);
        if (old)
            call_rcu(&old->rcu, free_subarr);
        return 0;
    }
    struct qarr *old = n->qsubs;
    uint32_t gn = old ? old->n : 0, gi;
    for (gi = 0; gi < gn; gi++)
        if (old->g[gi].nlen == s->qlen && memcmp(old->g[gi].name, s->queue, s->qlen) == 0)
            break;
    struct qarr *q = failpoint(FP_SUB) ? NULL : malloc(sizeof *q + (gn + 1) * sizeof(struct qgroup));
    if (!q)
        return -ENOMEM;
    q->n = gn;
    if (gn)
        memcpy(q->g, old->g, gn * sizeof(struct qgroup));
    struct subarr *oldm = gi < gn ? old->g[gi].members : NULL;
    struct subarr *m = subarr_with(oldm, s, NULL);
    if (!m) {
        free(q);
        return -ENOMEM;
    }
    if (gi == gn) {
        q->g[gn].name = s->queue;
        q->g[gn].nlen = s->qlen;
        q->n++;
    }
    q->g[gi].members = m;
    PUBLISH(n->qsubs, q);
    if (old)
        call_rcu(&old->rcu, free_qarr);
    if (oldm)
        call_rcu(&oldm->rcu, free_subarr);
    return 0;
}

static int del_from_node(struct snode *n, struct sub *s)
{
    if (!s->qlen) {
        struct subarr *old = n->psubs;
        uint32_t i;
        for (i = 0; old && i < old->n && old->v[i] != s; i++)
            ;
        if (!old || i == old->n)
            return -ENOENT;
        struct subarr *a = old->n > 1 ? subarr_with(old, NULL, s) : NULL;
        if (old->n > 1 && !a)
            return -ENOMEM;
        PUBLISH(n->psubs, a);
        call_rcu(&old->rcu, free_subarr);
        return 0;
    }
    struct qarr *old = n->qsubs;
    uint32_t gi, i;
    for (gi = 0; old && gi < old->n; gi++)
        if (old->g[gi].nlen == s->qlen && memcmp(old->g[gi].name, s->queue, s->qlen) == 0)
            break;
    if (!old || gi == old->n)
        return -ENOENT;
    struct subarr *oldm = old->g[gi].members;
    for (i = 0; i < oldm->n && oldm->v[i] != s; i++)
        ;
    if (i == oldm->n)
        return -ENOENT;
    struct subarr *m = oldm->n > 1 ? subarr_with(oldm, NULL, s) : NULL;
    uint32_t nn = m ? old->n : old->n - 1;
    struct qarr *q = nn && !failpoint(FP_SUB) ? malloc(sizeof *q + nn * sizeof(struct qgroup)) : NULL;
    if ((oldm->n > 1 && !m) || (nn && !q)) {
        free(m);
        free(q);
        return -ENOMEM;
    }
    if (q) {
        q->n = 0;
        for (uint32_t k = 0; k < old->n; k++) {
            if (k != gi) {
                q->g[q->n++] = old->g[k];
            } else if (m) {
                q->g[q->n] = old->g[k];
                /* the group's name pointed into a member; keep it valid */
                q->g[q->n].name = m->v[0]->queue;
                q->g[q->n++].members = m;
            }
        }
    }
    PUBLISH(n->qsubs, q);
    call_rcu(&old->rcu, free_qarr);
    call_rcu(&oldm->rcu, free_subarr);
    return 0;
}

/* ---- selective cache invalidation (see sublist.h) ---- */

int sublist_register_cache(struct sublist *sl, struct match_cache *c)
{
    if (sl->ncaches == SUBLIST_MAX_CACHES)
        return -ENOSPC;
    c->registered = true;
    c->applied = atomic_load_explicit(&sl->gen, memory_order_relaxed);
    sl->caches[sl->ncaches++] = c;
    return 0;
}

/* Writer, under wlock: send s's subject to every registered cache. */
static void tell_caches(struct sublist *sl, const struct sub *s)
{
    bool wild = false;
    for (uint32_t i = 0; i < s->subj_len && !wild; i++)
        wild = (s->subject[i] == '*' || s->subject[i] == '>') && (i == 0 || s->subject[i - 1] == '.') &&
               (i + 1 == s->subj_len || s->subject[i + 1] == '.');
    for (uint32_t k = 0; k < sl->ncaches; k++) {
        struct match_cache *c = sl->caches[k];
        if (atomic_load_explicit(&c->overflow, memory_order_relaxed))
            continue; /* it drops everything anyway */
        struct inval *v = atomic_load_explicit(&c->npending, memory_order_relaxed) >= INVAL_PENDING_MAX
                              ? NULL
                              : malloc(sizeof *v + s->subj_len);
        if (!v) { /* too many, or no memory: the owner drops everything */
            atomic_store_explicit(&c->overflow, 1, memory_order_release);
            continue;
        }
        v->len = s->subj_len;
        v->wild = wild;
        memcpy(v->subj, s->subject, s->subj_len);
        struct inval *head = atomic_load_explicit(&c->pending, memory_order_relaxed);
        do {
            v->next = head;
        } while (!atomic_compare_exchange_weak_explicit(&c->pending, &head, v, memory_order_release,
                                                        memory_order_relaxed));
        atomic_fetch_add_explicit(&c->npending, 1, memory_order_relaxed);
    }
}

static void drop_all(struct match_cache *c)
{
    for (int i = 0; c->e && i < MATCH_CACHE_SLOTS; i++)
        c->e[i].valid = false;
}

/* Drop the cached subjects one changed subscription could have matched. */
static void drop_matching(struct match_cache *c, const struct inval *v)
{
    if (!c->e)
        return;
    if (!v->wild) {
        uint64_t h = XXH3_64bits(v->subj, v->len);
        struct match_cache_entry *e = &c->e[h & (MATCH_CACHE_SLOTS - 1)];
        if (e->valid && e->hash == h && e->len == v->len && memcmp(e->subj, v->subj, v->len) == 0) {
            e->valid = false;
            c->dropped++;
        }
        return;
    }
    for (int i = 0; i < MATCH_CACHE_SLOTS; i++) {
        struct match_cache_entry *e = &c->e[i];
        if (e->valid && subject_matches(v->subj, v->len, e->subj, e->len)) {
            e->valid = false;
            c->dropped++;
        }
    }
}

static void free_invals(struct inval *v)
{
    while (v) {
        struct inval *n = v->next;
        free(v);
        v = n;
    }
}

/* Owner: apply what writers sent up to generation gen (read before). */
static void cache_apply(struct match_cache *c, uint64_t gen)
{
    struct inval *v = atomic_exchange_explicit(&c->pending, NULL, memory_order_acquire);
    uint32_t n = 0;
    if (atomic_exchange_explicit(&c->overflow, 0, memory_order_acquire)) {
        drop_all(c);
        for (struct inval *t = v; t; t = t->next)
            n++;
    } else {
        for (struct inval *t = v; t; t = t->next, n++)
            drop_matching(c, t);
    }
    free_invals(v);
    atomic_fetch_sub_explicit(&c->npending, n, memory_order_relaxed);
    c->applied = gen;
}

void match_cache_sync(struct sublist *sl, struct match_cache *c)
{
    uint64_t gen = atomic_load_explicit(&sl->gen, memory_order_acquire);
    if (c->registered && gen != c->applied)
        cache_apply(c, gen);
}

static int insert_locked(struct sublist *sl, struct sub *s)
{
    struct snode *n = walk(sl, s->subject, s->subj_len, true);
    int rc = n ? add_to_node(n, s) : -ENOMEM;
    if (rc < 0 && n)
        prune(sl, n); /* a node this insert created stays empty */
    if (rc == 0) {
        atomic_fetch_add_explicit(&sl->count, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&sl->inserts, 1, memory_order_relaxed);
        tell_caches(sl, s); /* after the change, before the generation moves */
        atomic_fetch_add_explicit(&sl->gen, 1, memory_order_release);
    }
    return rc;
}

int sublist_insert(struct sublist *sl, struct sub *s)
{
    pthread_mutex_lock(&sl->wlock);
    int rc = insert_locked(sl, s);
    pthread_mutex_unlock(&sl->wlock);
    return rc;
}

void sublist_insert_many(struct sublist *sl, struct sub *const *v, uint32_t n, int *rc)
{
    pthread_mutex_lock(&sl->wlock);
    for (uint32_t i = 0; i < n; i++)
        rc[i] = insert_locked(sl, v[i]);
    pthread_mutex_unlock(&sl->wlock);
}

static bool node_empty(const struct snode *n)
{
    return !n->psubs && !n->qsubs && !n->pwc && !n->fwc && n->nchildren == 0;
}

/* Unlink empty nodes from the leaf up. Writer only. */
static void prune(struct sublist *sl, struct snode *n)
{
    while (n != sl->root && node_empty(n)) {
        struct snode *p = n->parent;
        if (p->pwc == n)
            PUBLISH(p->pwc, NULL);
        else if (p->fwc == n)
            PUBLISH(p->fwc, NULL);
        else {
            cds_lfht_del(sl->edges, &n->edge);
            p->nchildren--;
        }
        call_rcu(&n->rcu, free_node);
        n = p;
    }
}

static int remove_locked(struct sublist *sl, struct sub *s)
{
    struct snode *n = walk(sl, s->subject, s->subj_len, false);
    int rc = n ? del_from_node(n, s) : -ENOENT;
    if (rc == 0) {
        prune(sl, n);
        atomic_fetch_sub_explicit(&sl->count, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&sl->removes, 1, memory_order_relaxed);
        tell_caches(sl, s);
        atomic_fetch_add_explicit(&sl->gen, 1, memory_order_release);
    }
    return rc;
}

int sublist_remove(struct sublist *sl, struct sub *s)
{
    pthread_mutex_lock(&sl->wlock);
    int rc = remove_locked(sl, s);
    pthread_mutex_unlock(&sl->wlock);
    return rc;
}

void sublist_remove_many(struct sublist *sl, struct sub *const *v, uint32_t n, int *rc)
{
    pthread_mutex_lock(&sl->wlock);
    for (uint32_t i = 0; i < n; i++)
        rc[i] = remove_locked(sl, v[i]);
    pthread_mutex_unlock(&sl->wlock);
}

/* ---- matching (readers) ---- */

static void *grow(void *p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    uint32_t c = *cap ? *cap * 2 : 8;
    while (c < need)
        c *= 2;
    void *np = realloc(p, c * elem);
    if (!np)
        abort(); /* out of memory on the message path: nothing sane to do */
    *cap = c;
    return np;
}

static void collect(struct snode *n, struct match_result *r)
{
    struct subarr *ps = READ_PUBLISHED(n->psubs);
    if (ps) {
        r->psubs = grow(r->psubs, &r->pcap, r->npsubs + ps->n, sizeof *r->psubs);
        memcpy(r->psubs + r->npsubs, ps->v, ps->n * sizeof *r->psubs);
        r->npsubs += ps->n;
    }
    struct qarr *qs = READ_PUBLISHED(n->qsubs);
    if (!qs)
        return;
    for (uint32_t i = 0; i < qs->n; i++) {
        const struct qgroup *g = &qs->g[i];
        struct subarr *m = READ_PUBLISHED(g->members);
        uint32_t k;
        for (k = 0; k < r->ngroups; k++)
            if (r->groups[k].nlen == g->nlen && memcmp(r->groups[k].name, g->name, g->nlen) == 0)
                break;
        if (k == r->ngroups) {
            r->groups = grow(r->groups, &r->gcap, r->ngroups + 1, sizeof *r->groups);
            r->groups[k] = (struct match_group){.name = g->name, .nlen = g->nlen};
            r->ngroups++;
        }
        struct match_group *mg = &r->groups[k];
        mg->members = grow(mg->members, &mg->cap, mg->n + m->n, sizeof *mg->members);
        memcpy(mg->members + mg->n, m->v, m->n * sizeof *mg->members);
        mg->n += m->n;
        for (uint32_t j = 0; j < m->n; j++)
            mg->nroute += m->v[j]->route;
    }
}

#define MAX_TOKENS 256

static void match_level(struct sublist *sl, struct snode *n, const char *const *tok, const uint32_t *tl,
                        int i, int nt, struct match_result *r)
{
    for (;;) {
        if (i == nt) {
            collect(n, r);
            return;
        }
        struct snode *f = READ_PUBLISHED(n->fwc);
        if (f)
            collect(f, r);
        struct snode *w = READ_PUBLISHED(n->pwc);
        if (w)
            match_level(sl, w, tok, tl, i + 1, nt, r);
        n = edge_lookup(sl, n, tok[i], tl[i]);
        if (!n)
            return;
        i++;
    }
}

void match_result_reset(struct match_result *r)
{
    r->npsubs = 0;
    for (uint32_t i = 0; i < r->ngroups; i++)
        free(r->groups[i].members);
    r->ngroups = 0;
}

void match_result_free(struct match_result *r)
{
    match_result_reset(r);
    free(r->psubs);
    free(r->groups);
    memset(r, 0, sizeof *r);
}

void sublist_match(struct sublist *sl, const char *subj, size_t len, struct match_result *r)
{
    match_result_reset(r);
    const char *tok_s[MAX_TOKENS], **tok = tok_s;
    uint32_t tl_s[MAX_TOKENS], *tl = tl_s;
    int nt = 1;
    for (size_t i = 0; i < len; i++)
        nt += subj[i] == '.';
    if (nt > MAX_TOKENS) { /* rare: long subjects take the heap */
        tok = malloc((size_t)nt * sizeof *tok);
        tl = malloc((size_t)nt * sizeof *tl);
        if (!tok || !tl)
            abort();
    }
    nt = 0;
    bool ok = true;
    for (size_t i = 0;;) {
        const char *dot = memchr(subj + i, '.', len - i);
        size_t l = dot ? (size_t)(dot - subj) - i : len - i;
        if (l == 0) {
            ok = false; /* an empty token matches nothing */
            break;
        }
        tok[nt] = subj + i;
        tl[nt++] = (uint32_t)l;
        if (!dot)
            break;
        i += l + 1;
    }
    if (ok)
        match_level(sl, sl->root, tok, tl, 0, nt, r);
    if (tok != tok_s) {
        free(tok);
        free(tl);
    }
}

const struct match_result *match_cached(struct sublist *sl, struct match_cache *c, const char *subj, size_t len)
{
    struct match_cache_entry *none = NULL;
    return match_cached_hint(sl, c, subj, len, &none);
}

const struct match_result *match_cached_hint(struct sublist *sl, struct match_cache *c, const char *subj, size_t len,
                                             struct match_cache_entry **hint)
{
    uint64_t gen = atomic_load_explicit(&sl->gen, memory_order_acquire);
    if (c->registered) { /* selective: entries stay valid until a change drops them */
        if (gen != c->applied)
            cache_apply(c, gen);
        gen = 0;
    }
    /* A publisher usually repeats its subject: try the entry it used last
     * before hashing. The entry may since hold another subject (same
     * slot) or be stale; the checks are those of a hit below. */
    if (__builtin_expect(!c->e, 0) && !(c->e = calloc(MATCH_CACHE_SLOTS, sizeof *c->e)))
        abort(); /* as the entries' own allocations: a shard cannot match without it */
    struct match_cache_entry *last = *hint;
    if (last && last->valid && last->gen == gen && last->len == len && memcmp(last->subj, subj, len) == 0) {
        c->hits++;
        return &last->res;
    }
    uint64_t h = XXH3_64bits(subj, len);
    struct match_cache_entry *e = &c->e[h & (MATCH_CACHE_SLOTS - 1)];
    *hint = e;
    if (e->valid && e->gen == gen && e->hash == h && e->len == len && memcmp(e->subj, subj, len) == 0) {
        c->hits++;
        return &e->res;
    }
    c->misses++;
    if (!e->subj || e->len < len) {
        free(e->subj);
        e->subj = malloc(len ? len : 1);
        if (!e->subj)
            abort();
    }
    memcpy(e->subj, subj, len);
    e->len = (uint32_t)len;
    e->hash = h;
    e->gen = gen;
    e->valid = true;
    sublist_match(sl, subj, len, &e->res);
    return &e->res;
}

void match_cache_free(struct match_cache *c)
{
    free_invals(atomic_exchange(&c->pending, NULL));
    for (int i = 0; c->e && i < MATCH_CACHE_SLOTS; i++) {
        free(c->e[i].subj);
        match_result_free(&c->e[i].res);
    }
    free(c->e);
    memset(c, 0, sizeof *c);
}

static void destroy_node(struct sublist *sl, struct snode *n)
{
    /* children: '*' and '>' directly; literal ones through the edge table */
    if (n->pwc) {
        destroy_node(sl, n->pwc);
        free(n->pwc);
    }
    if (n->fwc) {
        destroy_node(sl, n->fwc);
        free(n->fwc);
    }
    free(n->psubs);
    if (n->qsubs) {
        for (uint32_t i = 0; i < n->qsubs->n; i++)
            free(n->qsubs->g[i].members);
        free(n->qsubs);
    }
}

void sublist_destroy(struct sublist *sl)
{
    struct cds_lfht_iter it;
    struct cds_lfht_node *node;
    destroy_node(sl, sl->root);
    cds_lfht_for_each(sl->edges, &it, node) {
        struct snode *sn = caa_container_of(node, struct snode, edge);
        cds_lfht_del(sl->edges, node);
        destroy_node(sl, sn);
        free(sn);
    }
    cds_lfht_destroy(sl->edges, NULL);
    free(sl->root);
}

uint32_t sublist_count_local(struct sublist *sl, const char *subj, size_t len, const char *queue, size_t qlen)
{
    struct snode *n = READ_PUBLISHED(sl->root);
    for (size_t i = 0; n && i <= len;) {
        const char *dot = memchr(subj + i, '.', len - i);
        size_t tl = dot ? (size_t)(dot - subj) - i : len - i;
        if (tl == 1 && subj[i] == '*')
            n = READ_PUBLISHED(n->pwc);
        else if (tl == 1 && subj[i] == '>')
            n = READ_PUBLISHED(n->fwc);
        else
            n = edge_lookup(sl, n, subj + i, tl);
        i += tl + 1;
    }
    if (!n)
        return 0;
    uint32_t c = 0;
    if (!queue) {
        struct subarr *a = READ_PUBLISHED(n->psubs);
        for (uint32_t k = 0; a && k < a->n; k++)
            c += !a->v[k]->route;
        return c;
    }
    struct qarr *q = READ_PUBLISHED(n->qsubs);
    for (uint32_t g = 0; q && g < q->n; g++) {
        if (q->g[g].nlen != qlen || memcmp(q->g[g].name, queue, qlen) != 0)
            continue;
        struct subarr *a = READ_PUBLISHED(q->g[g].members);
        for (uint32_t k = 0; a && k < a->n; k++)
            c += !a->v[k]->route;
    }
    return c;
}
