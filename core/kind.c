/* The connection-kind table: see kind.h. */
#include "kind.h"

#include "parser.h"

/* Server links may carry long lines: an RMSG names every queue group a
 * message is for, a CONNECT or INFO carries URLs and permissions. nats-server
 * 2.9.10 does not bound them at all; its development branch bounds them at
 * 16 times max_control_line, which keeps memory bounded and is used here. */
const struct kind_def conn_kinds[CK__COUNT] = {
    [CK_CLIENT] = {"Client", OPS_CLIENT, 1, PROTO_MAX_ARGS, true},
    [CK_ROUTE] = {"Router", OPS_ROUTE, 16, 65536, true},
    [CK_GATEWAY] = {"Gateway", OPS_GATEWAY, 16, 65536, false},
    [CK_LEAF] = {"Leafnode", OPS_LEAF, 16, 65536, false},
};
