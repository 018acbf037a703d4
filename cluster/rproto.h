/* The route ops' arguments (nats-compat.md §3.2), decoded from a parsed
 * line: pure functions, any thread, shared by cluster/route.c and the
 * route fuzz target (tests/fuzz/fuzz_route.c).
 *
 *   RS+ <acc> <subj> [<queue> <weight>]      RS- <acc> <subj> [<queue>]
 *   RMSG <acc> <subj> [<reply>] <size>
 *   RMSG <acc> <subj> + <reply> <queue>... <size>
 *   RMSG <acc> <subj> | <queue>... <size>
 *   HMSG <acc> <subj> [same middle] <hdr> <size>
 *
 * On a connection pinned to one account (nats-server 2.10's
 * `cluster { accounts }`) every form comes without <acc> (route.go,
 * addRouteSubOrUnsubProtoToBuf and processRoutedMsgArgs): has_acc false.
 *
 * nats-server closes the route (silently) on any other shape. */
#ifndef GANNET_RPROTO_H
#define GANNET_RPROTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parser.h"

struct rs_args {
    struct pview acc, subj, queue; /* queue.n == 0: plain interest; acc.n == 0 on a pinned connection */
    int32_t weight;                /* RS+ of a queue: its members there (>= 1) */
    const char *sid;               /* "[acc ]subj [queue]" as one span of the line: the route sub's sid */
    size_t sidlen;
};
int rproto_rs(const struct proto_msg *m, bool plus, bool has_acc, struct rs_args *a); /* 0, or -1: a protocol violation */

struct rmsg_args {
    struct pview acc, subj, reply; /* reply.n == 0: none */
    const struct pview *queues;    /* into m->argv */
    uint32_t nq;
};
int rproto_rmsg(const struct proto_msg *m, bool has_acc, struct rmsg_args *a); /* 0, or -1 */
#endif
