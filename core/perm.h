/* User permissions at run time (nats-compat.md §6.2): what a connection
 * may publish and subscribe to, the delivery filter that a wildcard
 * subscription wider than a deny entry gets, and allow_responses. The
 * rules are the configuration's (struct perm_opt, immutable while the
 * configuration is published); the state is the connection's (owner shard
 * only): a small cache of publish verdicts and the reply subjects it may
 * answer. */
#ifndef GANNET_PERM_H
#define GANNET_PERM_H
#include <stdbool.h>
#include <stdint.h>

#include "opts.h"

#define PERM_CACHE_SLOTS 64
#define PERM_CACHE_SUBJ 112   /* longer subjects are checked every time */

struct perm_reply;

struct perm_state {
    struct {
        uint64_t h;
        uint32_t len;         /* 0: empty */
        bool ok;
        char s[PERM_CACHE_SUBJ];
    } pub[PERM_CACHE_SLOTS];
    struct perm_reply **rb;   /* allow_responses: reply subjects received, chained by hash */
    uint32_t nrb, nreplies;
};

/* May it publish on subj? (consumes one allowed response if that is what permits it) */
bool perm_pub_ok(const struct perm_opt *p, struct perm_state **ps, const char *subj, uint32_t len, int64_t now_ms);
/* May it subscribe to subj (in queue q, qlen 0: none)? */
bool perm_sub_ok(const struct perm_opt *p, const char *subj, uint32_t len, const char *q, uint32_t qlen);
/* Does a plain subscribe deny entry cover this delivered subject? */
bool perm_deliver_denied(const struct perm_opt *p, const char *subj, uint32_t len);
/* Does this allowed subscription turn on the delivery filter? As nats-server:
 * when it is a wildcard and some plain subscribe deny entry lies within it
 * (the filter, once on, then applies to all the connection's deliveries). */
bool perm_sub_needs_filter(const struct perm_opt *p, const char *subj, uint32_t len);
/* allow_responses: it received a message with this reply subject. 0 or -ENOMEM. */
int perm_note_reply(const struct perm_opt *p, struct perm_state **ps, const char *reply, uint32_t len, int64_t now_ms);
/* The rules changed (reload): cached verdicts go. */
void perm_state_reset(struct perm_state *ps);
void perm_state_free(struct perm_state *ps);
#endif
