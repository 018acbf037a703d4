/* Accounts: each owns its subject index, so that subjects of one tenant
 * never match another's (nats-compat.md §6.3). Id 0 is the global account
 * "$G" (users outside any account), then the system account ("$SYS",
 * implicit unless system_account names a configured one), then the
 * accounts of the `accounts` block in file order.
 *
 * A message crosses accounts only through an import (docs/design.md §18):
 * the exporter's `sout` list names the accounts that import a stream from
 * it (with their remapping), the importer's `sin` list the services it
 * imports. A request through a service import carries a reply subject of
 * the exporter's (`_R_.<rprefix>.<token>`) that the response table maps
 * back to the requester's account and reply; no index entry is made per
 * request.
 *
 * Threads: created by the control thread before the shards start and
 * destroyed after they stop; the name and id are immutable, the index is
 * shared as sublist.h says. A shard's match cache is per account (indexed
 * by id), so a cached result is keyed by (account, subject). */
#ifndef GANNET_ACCOUNT_H
#define GANNET_ACCOUNT_H
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>

#include "sublist.h"

#define ACC_GLOBAL "$G"
#define ACC_SYSTEM "$SYS"
/* A stream another account imports from this one: a message published
 * here on a subject matching `subj` is published in `to` as well, on
 * prefix.subject, on `map` (remapped), or unchanged. */
struct stream_out {
    struct account *to;
    char *subj, *prefix, *map;
    uint32_t subj_len, prefix_len, map_len;
};

/* A service this account imports: a message published here on a subject
 * matching `local` is published in `exp` on `remote` (remapped), its reply
 * replaced by a response subject of exp's. */
struct service_in {
    struct account *exp;
    char *local, *remote;
    uint32_t local_len, remote_len;
    bool local_wild;
    int resp_type;         /* RESP_* of the export it matched (opts.h) */
    int64_t threshold_ms;  /* how long a response is waited for */
};

/* A subject mapping (opts.h struct mapping_opt), applied to what a client
 * publishes in the account before anything matches it. */
struct subj_map {
    char *src;
    uint32_t src_len;
    bool src_wild;
    struct {
        char *dest;
        uint32_t len;
        int weight;
    } *d;
    uint32_t nd;
};

struct account {
    char *name;
    uint32_t id;           /* index of the shards' per-account state */
    bool is_system;
    struct sublist sl;
    struct stream_out *sout;
    uint32_t nsout;
    struct service_in *sin;
    uint32_t nsin;
    uint32_t nsys_in;      /* the last nsys_in of sin: the system imports every account has (account_sys_imports) */
    struct subj_map *maps;
    uint32_t nmaps;
    bool service_exports;  /* has service exports: `_R_.` subjects published here may be responses */
    char rprefix[12];      /* "_R_.xxxxxx.": this account's response subjects start with it */
    uint32_t name_len;
    _Atomic int32_t nconns;        /* its open client connections (/accountz) */
    _Atomic uint64_t total_conns;
};

int account_init(struct account *a, const char *name, uint32_t id, bool is_system); /* 0 or -ENOMEM */
struct opts;
/* Every account the options name, with their imports resolved (ids as
 * above; o was validated by the loader). 0, or -ENOMEM / -EINVAL with a
 * message in err (an unknown system account: nats-server's words). */
int accounts_build(const struct opts *o, struct account **out, int *n, struct account **sys, char *err, size_t cap);
/* The services every account but the system account imports from it, as
 * nats-server 2.9.10 adds them: local subject, and the exporter's subject
 * with %s for the importing account's name. */
struct sys_import {
    const char *local, *remote;
};
extern const struct sys_import account_sys_imports[3];
/* May a message on subj published in a leave it (imports, exports, responses)? */
static inline bool account_may_cross(const struct account *a, const char *subj)
{
    return a->nsout || a->service_exports || a->nsin > a->nsys_in || (a->nsys_in && subj[0] == '$');
}
struct account *account_find(struct account *v, int n, const char *name);
/* The mapping of subj in a, with the destination picked by rnd (0..99);
 * its length written to out (0: no mapping applies; SIZE_MAX: cap is too
 * small for it). */
size_t account_map(const struct account *a, const char *subj, uint32_t len, unsigned rnd, char *out, size_t cap);
void account_destroy(struct account *a); /* no readers left (QSBR thread registered) */
#endif
