/* Permissions at run time: see perm.h. */
#include "perm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "subject.h"

struct perm_reply {
    struct perm_reply *next;
    uint64_t h;
    int32_t left;
    int64_t expires_ms;
    uint32_t len;
    char s[];
};

/* An entry "subject" or "subject queue": its parts. */
static void entry_parts(const char *e, uint32_t *slen, const char **q, uint32_t *qlen)
{
    const char *sp = strchr(e, ' ');
    if (!sp) {
        *slen = (uint32_t)strlen(e);
        *q = NULL;
        *qlen = 0;
        return;
    }
    *slen = (uint32_t)(sp - e);
    while (*sp == ' ')
        sp++;
    *q = sp;
    *qlen = (uint32_t)strlen(sp);
}

static bool list_match(const struct perm_list *l, const char *subj, uint32_t len)
{
    for (int i = 0; i < l->n; i++) {
        uint32_t sl, ql;
        const char *q;
        entry_parts(l->v[i], &sl, &q, &ql);
        if (!q && subject_matches(l->v[i], sl, subj, len))
            return true;
    }
    return false;
}

static bool pub_rules_ok(const struct perm_opt *p, const char *subj, uint32_t len)
{
    bool ok = !p->pub_allow_set || list_match(&p->pub_allow, subj, len);
    return ok && !list_match(&p->pub_deny, subj, len);
}

static struct perm_reply **reply_slot(struct perm_state *ps, const char *s, uint32_t len, uint64_t h)
{
    struct perm_reply **pp = &ps->rb[h & (ps->nrb - 1)];
    while (*pp && ((*pp)->h != h || (*pp)->len != len || memcmp((*pp)->s, s, len) != 0))
        pp = &(*pp)->next;
    return pp;
}

static bool take_reply(struct perm_state *ps, const char *subj, uint32_t len, int64_t now)
{
    if (!ps || !ps->nrb)
        return false;
    struct perm_reply **pp = reply_slot(ps, subj, len, XXH3_64bits(subj, len)), *r = *pp;
    if (!r)
        return false;
    bool ok = r->left > 0 && now <= r->expires_ms;
    if (ok)
        r->left--;
    if (!ok || r->left == 0) {
        *pp = r->next;
        free(r);
        ps->nreplies--;
    }
    return ok;
}

static struct perm_state *state(struct perm_state **ps)
{
    if (!*ps)
        *ps = calloc(1, sizeof **ps);
    return *ps;
}

bool perm_pub_ok(const struct perm_opt *p, struct perm_state **ps, const char *subj, uint32_t len, int64_t now_ms)
{
    if (!p)
        return true;
    bool ok;
    struct perm_state *st = len < PERM_CACHE_SUBJ ? state(ps) : *ps;
    if (st && len < PERM_CACHE_SUBJ) {
        uint64_t h = XXH3_64bits(subj, len);
        __typeof__(st->pub[0]) *e = &st->pub[h & (PERM_CACHE_SLOTS - 1)];
        if (e->len == len + 1 && e->h == h && memcmp(e->s, subj, len) == 0) {
            ok = e->ok;
        } else {
            ok = pub_rules_ok(p, subj, len);
            e->h = h;
            e->len = len + 1;
            e->ok = ok;
            memcpy(e->s, subj, len);
        }
    } else {
        ok = pub_rules_ok(p, subj, len);
    }
    return ok || (p->resp && take_reply(*ps, subj, len, now_ms));
}

/* nats-server's queueMatches: the queue is named, or matched by a wildcard entry. */
static bool queue_hit(const char *q, uint32_t qlen, const char *eq, uint32_t eqlen)
{
    return (eqlen == qlen && memcmp(q, eq, qlen) == 0) || subject_matches(eq, eqlen, q, qlen);
}

/* As nats-server's canSubscribe: plain entries decide, unless queue
 * entries match the subject and the subscription has a queue. */
static bool list_decides(const struct perm_list *l, const char *subj, uint32_t len, const char *q, uint32_t qlen,
                         bool *plain_hit)
{
    bool qentries = false, qhit = false;
    *plain_hit = false;
    for (int i = 0; i < l->n; i++) {
        uint32_t sl, eql;
        const char *eq;
        entry_parts(l->v[i], &sl, &eq, &eql);
        if (!subject_matches(l->v[i], sl, subj, len))
            continue;
        if (!eq) {
            *plain_hit = true;
        } else {
            qentries = true;
            qhit |= qlen && queue_hit(q, qlen, eq, eql);
        }
    }
    return qlen && qentries ? qhit : *plain_hit;
}

bool perm_sub_ok(const struct perm_opt *p, const char *subj, uint32_t len, const char *q, uint32_t qlen)
{
    if (!p)
        return true;
    bool plain;
    bool ok = !p->sub_allow_set || list_decides(&p->sub_allow, subj, len, q, qlen, &plain);
    if (ok && p->sub_deny.n)
        ok = !list_decides(&p->sub_deny, subj, len, q, qlen, &plain);
    return ok;
}

bool perm_sub_needs_filter(const struct perm_opt *p, const char *subj, uint32_t len)
{
    if (!p || !p->sub_deny.n || (!memchr(subj, '*', len) && !memchr(subj, '>', len)))
        return false;
    for (int i = 0; i < p->sub_deny.n; i++) {
        uint32_t sl, ql;
        const char *q;
        entry_parts(p->sub_deny.v[i], &sl, &q, &ql);
        /* nats-server's subjectIsSubsetMatch(deny, subject); the memchr
         * above is coarse ("foo*" is a literal), but a literal holds only
         * itself, which a deny entry covering it has refused already */
        if (!q && subject_subset(p->sub_deny.v[i], sl, subj, len))
            return true;
    }
    return false;
}

bool perm_deliver_denied(const struct perm_opt *p, const char *subj, uint32_t len)
{
    return p && list_match(&p->sub_deny, subj, len);
}

static void prune_replies(struct perm_state *ps, int64_t now)
{
    for (uint32_t b = 0; b < ps->nrb; b++)
        for (struct perm_reply **pp = &ps->rb[b]; *pp;) {
            struct perm_reply *r = *pp;
            if (now > r->expires_ms) {
                *pp = r->next;
                free(r);
                ps->nreplies--;
            } else {
                pp = &r->next;
            }
        }
}

int perm_note_reply(const struct perm_opt *p, struct perm_state **ps, const char *reply, uint32_t len, int64_t now_ms)
{
    struct perm_state *st = state(ps);
    if (!st)
        return -ENOMEM;
    if (st->nreplies >= 4096) /* nats-server's replyPermLimit: drop the expired ones first */
        prune_replies(st, now_ms);
    if (st->nreplies >= st->nrb * 2) {
        uint32_t nb = st->nrb ? st->nrb * 4 : 16;
        struct perm_reply **v = calloc(nb, sizeof *v);
        if (!v)
            return -ENOMEM;
        for (uint32_t b = 0; b < st->nrb; b++)
            for (struct perm_reply *r = st->rb[b], *n; r; r = n) {
                n = r->next;
                r->next = v[r->h & (nb - 1)];
                v[r->h & (nb - 1)] = r;
            }
        free(st->rb);
        st->rb = v;
        st->nrb = nb;
    }
    uint64_t h = XXH3_64bits(reply, len);
    struct perm_reply **pp = reply_slot(st, reply, len, h), *r = *pp;
    if (!r) {
        if (!(r = malloc(sizeof *r + len)))
            return -ENOMEM;
        r->next = NULL;
        r->h = h;
        r->len = len;
        memcpy(r->s, reply, len);
        *pp = r;
        st->nreplies++;
    }
    r->left = p->resp_max > 0 ? p->resp_max : 1;
    r->expires_ms = now_ms + p->resp_expires_ms;
    return 0;
}

void perm_state_reset(struct perm_state *ps)
{
    if (ps)
        memset(ps->pub, 0, sizeof ps->pub);
}

void perm_state_free(struct perm_state *ps)
{
    if (!ps)
        return;
    for (uint32_t b = 0; b < ps->nrb; b++)
        for (struct perm_reply *r = ps->rb[b], *n; r; r = n) {
            n = r->next;
            free(r);
        }
    free(ps->rb);
    free(ps);
}
