/* Connection kinds (nats-server's CLIENT, ROUTER, GATEWAY, LEAF): what each
 * may send, its limits and its policies, in one table so that the one
 * parser and the one connection state machine serve all of them.
 * Immutable; any thread may read it.
 *
 * Each kind's message line is written by msgline_encode (encode.h: MSG,
 * RMSG, LMSG and their HMSG forms) and its close reasons are in conn.h's
 * close_reason (the server-link ones under "server links"). Only clients
 * exist yet; routes (cluster/), gateways and leaf nodes add their
 * handshakes and their ops' handlers on top of this. */
#ifndef GANNET_KIND_H
#define GANNET_KIND_H
#include <stdbool.h>
#include <stdint.h>

enum conn_kind { CK_CLIENT, CK_ROUTE, CK_GATEWAY, CK_LEAF, CK__COUNT };

struct kind_def {
    const char *name;          /* in log lines, as nats-server's kindString(): "Client", "Router", ... */
    uint32_t ops;              /* OPBIT mask of the ops it may send */
    uint32_t ctl_line_factor;  /* max_control_line times this bounds its control lines (servers: 16) */
    uint32_t max_args;         /* arguments per control line (RMSG lists every queue group) */
    bool stalls;               /* a producer of this kind waits for stalled consumers: clients, and routes
                                * (so that a slow subscriber on the far side of a route slows the publisher
                                * down end to end instead of being cut; bounded by the stall wait, after
                                * which the consumer gets no more waits until it drains: design §22) */
};

extern const struct kind_def conn_kinds[CK__COUNT];
#endif
