/* sysw: the thread that answers the system account's requests
 * (`$SYS.REQ.SERVER.PING[.X]`, `$SYS.REQ.SERVER.<id>.X`,
 * `$SYS.REQ.ACCOUNT.<acc>.X`, `$SYS.DEBUG.SUBSCRIBERS`) and sends the
 * periodic `$SYS.SERVER.<id>.STATSZ` and the SHUTDOWN event
 * (nats-compat.md §6.5, docs/design.md §21).
 *
 * Shard 0 delivers each request to it (core/events.h sys_deliver); it
 * builds the answer with the monitoring endpoints' own writers (a monitor
 * context of its own, compact JSON), which may ask the shards
 * (server_query) and so must not run on one, and hands the answer back to
 * shard 0 to publish (sys_post).
 *
 * Threads: sysw_start/stop/free on the control thread; sysw_submit on
 * shard 0; the rest on sysw's thread, a liburcu-QSBR reader. */
#ifndef GANNET_SYSREQ_H
#define GANNET_SYSREQ_H

struct server;
struct sysw;
struct msgview;

int sysw_start(struct server *s);  /* 0 (also with no system account: nothing to do) or -errno */
void sysw_stop(struct server *s);  /* send SHUTDOWN, join the thread; shards still running */
void sysw_free(struct server *s);  /* after the shards are joined */
void sysw_submit(struct sysw *w, const struct msgview *m); /* copy a request into the queue */
#endif
