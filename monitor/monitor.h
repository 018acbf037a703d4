/* The monitoring HTTP server (nats-compat.md §8): one thread with its own
 * io_uring ring, started by the control thread when an http port is set.
 * It never touches a shard's connections: it reads the server's atomics
 * (server_stats) and asks the shards through server_query (core/query.h). */
#ifndef GANNET_MONITOR_H
#define GANNET_MONITOR_H

struct server;

int monitor_start(struct server *s); /* 0 (also when no http port is configured) or -errno */
void monitor_stop(struct server *s); /* joins the thread; safe when not started */
#endif
