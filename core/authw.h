/* Auth workers: bcrypt off the shards (docs/design.md §19). A CONNECT
 * whose password or token must be checked against a bcrypt hash (tens of
 * milliseconds at cost 10) is handed to a worker thread; its connection's
 * input waits (parked like a moving connection) while the shard serves
 * its other connections, and the verdict comes back as an SC_AUTH_DONE
 * command. Workers start with the server and stop before the shards are
 * freed. Any thread may submit. */
#ifndef GANNET_AUTHW_H
#define GANNET_AUTHW_H
#include <stdbool.h>
#include <stdint.h>

struct server;
struct authw;

int authw_start(struct server *s, int nthreads, struct authw **out); /* 0 or -errno */
void authw_stop(struct authw *w);                                    /* joins; pending jobs are dropped */
/* Check `given` against bcrypt `hash` for connection (slot, gen) of shard
 * `shard`; the shard gets SC_AUTH_DONE. 0 or -ENOMEM. */
int authw_submit(struct authw *w, int shard, uint32_t slot, uint32_t gen, const char *hash, const char *given);
#endif
