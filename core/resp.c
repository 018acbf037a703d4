/* The response table: see resp.h. */
#include "resp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "opts.h"
#include "tsan.h"

static int resp_match(struct cds_lfht_node *n, const void *key)
{
    const struct svc_resp *r = caa_container_of(n, struct svc_resp, node);
    TSAN_CONSUME(r);
    return memcmp(r->subj, key, RESP_SUBJ_LEN) == 0;
}

int resp_table_init(struct resp_table *t)
{
    t->ht = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, &urcu_qsbr_flavor, NULL);
    return t->ht ? 0 : -ENOMEM;
}

void resp_table_destroy(struct resp_table *t)
{
    if (!t->ht)
        return;
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;
    cds_lfht_for_each(t->ht, &it, n) {
        cds_lfht_del(t->ht, n); /* the entries themselves are freed by their shards' final sweep */
    }
    cds_lfht_destroy(t->ht, NULL);
    t->ht = NULL;
}

struct svc_resp *resp_add(struct resp_table *t, struct svc_resp **list, const char *rprefix, uint64_t rnd,
                      struct account *to, const char *reply, uint32_t reply_len, int type, int64_t expires_ms)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    struct svc_resp *r = malloc(sizeof *r + reply_len + 1);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->to = to;
    r->type = type;
    r->expires_ms = expires_ms;
    r->reply_len = reply_len;
    memcpy(r->reply, reply, reply_len);
    r->reply[reply_len] = 0;
    memcpy(r->subj, rprefix, 11);
    for (int tries = 0;; tries++) {
        for (int i = 0; i < 6; i++, rnd /= 62)
            r->subj[11 + i] = digits[rnd % 62];
        r->subj[RESP_SUBJ_LEN] = 0;
        cds_lfht_node_init(&r->node);
        TSAN_PUBLISH(r);
        uint64_t h = XXH3_64bits(r->subj, RESP_SUBJ_LEN);
        if (cds_lfht_add_unique(t->ht, h, resp_match, r->subj, &r->node) == &r->node)
            break;
        if (tries == 8) { /* 62^6 subjects: only a table full of live entries gets here */
            free(r);
            return NULL;
        }
        rnd = XXH3_64bits_withSeed(r->subj, RESP_SUBJ_LEN, rnd + (uint64_t)tries);
    }
    r->next = *list;
    *list = r;
    return r;
}

struct svc_resp *resp_take(struct resp_table *t, const char *subj, uint32_t len, int64_t now_ms)
{
    if (len != RESP_SUBJ_LEN || !t->ht)
        return NULL;
    struct cds_lfht_iter it;
    cds_lfht_lookup(t->ht, XXH3_64bits(subj, len), resp_match, subj, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (!n)
        return NULL;
    struct svc_resp *r = caa_container_of(n, struct svc_resp, node);
    if (now_ms > r->expires_ms)
        return NULL;
    if (r->type == RESP_SINGLETON && atomic_exchange_explicit(&r->used, 1, memory_order_relaxed))
        return NULL;
    return r;
}

static void resp_free(struct rcu_head *h)
{
    TSAN_GRACE_ACQUIRE();
    free(caa_container_of(h, struct svc_resp, rcu));
}

void resp_sweep(struct resp_table *t, struct svc_resp **list, struct svc_resp ***cursor, int64_t now_ms, uint32_t budget,
                bool all)
{
    struct svc_resp **pp = all || !*cursor ? list : *cursor;
    for (uint32_t k = 0; *pp && (all || k < budget); k++) {
        struct svc_resp *r = *pp;
        bool done = all || now_ms > r->expires_ms ||
                    (r->type == RESP_SINGLETON && atomic_load_explicit(&r->used, memory_order_relaxed));
        if (!done) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        if (t->ht)
            cds_lfht_del(t->ht, &r->node);
        call_rcu(&r->rcu, resp_free);
    }
    *cursor = *pp ? pp : NULL; /* at the end: the next sweep starts over */
}
