/* S2 compression as a transport (transport.h, docs/design.md §23): what
 * nats-server 2.10 puts on a compressed route, klauspost/compress's S2
 * stream format (net/s2.h).
 *
 *   queued plaintext ──prep──► one complete stream per write (identifier,
 *                              chunks) ──sendmsg──►
 *   recv bytes ──input──► incremental stream decoder ──► parser
 *
 * A route switches to it in the middle of its handshake (cluster/route.c):
 * whatever was queued before the switch (the plain INFO of the side that
 * dialled) still goes out as it is, in writes of its own, never sharing
 * one with compressed bytes (nats-server's issue #7964); the bytes read
 * after the op that switched are decoded (conn.c's tp_rest).
 *
 * prep() encodes at most S2T_BATCH bytes of plaintext into a stream and
 * writes it until all of it is gone; sent() reports that plaintext done
 * only then, so pending-byte accounting and flow control stay in
 * plaintext. Owner shard only, like its connection. */
#ifndef GANNET_S2T_H
#define GANNET_S2T_H
#include "s2.h"
#include "transport.h"

extern const struct transport_ops transport_s2;
/* t becomes an S2 transport at level; the first plain_left bytes of the
 * queue (queued or in flight now) go out uncompressed. 0 or -ENOMEM. */
int s2t_install(struct transport *t, enum s2_level level, uint64_t plain_left);
/* s2_auto: the level for the streams from the next write on. */
void s2t_set_level(struct transport *t, enum s2_level level);
int s2t_level(const struct transport *t); /* -1: not S2 */
#endif
