/* The response table of service imports (docs/design.md §18): a request
 * that crosses into the exporting account gets a reply subject of that
 * account's, "_R_.<6 chars fixed per account>.<6 random chars>", and an
 * entry here maps it back to the requester's account and reply subject.
 * A response published on it in the exporter is delivered there instead.
 *
 * No subject-index write per request: entries live in one lock-free hash
 * table (liburcu's cds_lfht; every shard is a QSBR reader). The shard that
 * made an entry owns it: it unlinks and frees it (after a grace period)
 * once it is used up (a singleton answered) or past its threshold, in a
 * bounded sweep per tick. Other shards only look entries up and mark a
 * singleton used (one atomic exchange decides which response wins). */
#ifndef GANNET_RESP_H
#define GANNET_RESP_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

struct account;

#define RESP_SUBJ_LEN 17 /* "_R_." + 6 + "." + 6 */

struct svc_resp {
    struct cds_lfht_node node;
    struct rcu_head rcu;
    struct svc_resp *next;         /* its owner shard's list */
    struct account *to;        /* the requester's account */
    int type;                  /* RESP_* */
    int64_t expires_ms;
    _Atomic int used;          /* singleton: answered */
    uint32_t reply_len;
    char subj[RESP_SUBJ_LEN + 1];
    char reply[];              /* the requester's reply subject */
};

struct resp_table {
    struct cds_lfht *ht;
};

int resp_table_init(struct resp_table *t);    /* 0 or -ENOMEM */
void resp_table_destroy(struct resp_table *t); /* no readers left */

/* A new entry owned by the calling shard (pushed on *list): its subject
 * starts with rprefix (the exporter's "_R_.xxxxxx."), rnd picks the rest.
 * NULL if out of memory. */
struct svc_resp *resp_add(struct resp_table *t, struct svc_resp **list, const char *rprefix, uint64_t rnd,
                      struct account *to, const char *reply, uint32_t reply_len, int type, int64_t expires_ms);
/* The live entry for a published subject, or NULL. A singleton is taken:
 * only the first caller gets it. */
struct svc_resp *resp_take(struct resp_table *t, const char *subj, uint32_t len, int64_t now_ms);
/* The owner: unlink and free (after a grace period) up to budget entries
 * of *list that are done, resuming at *cursor; every entry when all. */
void resp_sweep(struct resp_table *t, struct svc_resp **list, struct svc_resp ***cursor, int64_t now_ms, uint32_t budget,
                bool all);
#endif
