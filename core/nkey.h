/* nkeys (nats-compat.md §6.1): ed25519 public keys written as
 * base32(prefix byte | 32-byte key | crc16 LE), 56 characters; a client
 * proves it holds the private key by signing the nonce of the server's
 * INFO. Pure functions, any thread (signature checks use wolfSSL). */
#ifndef GANNET_NKEY_H
#define GANNET_NKEY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NKEY_PREFIX_SERVER (13 << 3) /* 'N' */
#define NKEY_PREFIX_USER (20 << 3)   /* 'U' */
#define NKEY_NONCE_LEN 15            /* 11 random bytes, base64url without padding (nats-server's) */

void nkey_server_id(char out[57]);   /* a random server id in nkey public-key form */
/* Is s a valid public nkey with this prefix? Its 32 key bytes in key. */
bool nkey_decode_public(const char *s, uint8_t prefix, uint8_t key[32]);
/* A fresh random nonce (NKEY_NONCE_LEN characters and a NUL). */
void nkey_nonce(char out[NKEY_NONCE_LEN + 1]);
/* Is sig (base64url or standard base64, padding optional) key's ed25519
 * signature of msg? */
bool nkey_verify(const uint8_t key[32], const char *msg, size_t len, const char *sig);
#endif
