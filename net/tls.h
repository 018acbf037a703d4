/* TLS with wolfSSL, driven through memory I/O callbacks so that io_uring
 * keeps owning the socket (docs/design.md §24). Three layers:
 *
 *   tls_opt   a `tls {}` block as nats-server 2.9.10's parseTLS reads it,
 *             and the WOLFSSL_CTX built from it when the configuration is
 *             loaded (so a bad certificate is a configuration error, and a
 *             reload builds a new context: new connections get the new
 *             certificate, existing sessions keep theirs — wolfSSL counts
 *             the sessions that hold a context);
 *   tls_sess  one connection's session: wire bytes in, plaintext delivered;
 *             plaintext in, records out into a buffer of its own. Never
 *             touches a socket, never blocks: a handshake that needs more
 *             input just waits for the next recv;
 *   transport_tls  the session as a connection transport (transport.h):
 *             prep() encrypts queued plaintext into one batch of records and
 *             writes it until it is gone, sent() reports that plaintext done
 *             only then, so pending-byte accounting and flow control stay in
 *             plaintext, as with S2.
 *
 * Ownership: a tls_opt and its context belong to the configuration that
 * holds them (immutable once published; any shard makes sessions from it).
 * A session belongs to the thread owning its connection. */
#ifndef GANNET_TLS_H
#define GANNET_TLS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

#define TLS_DEFAULT_TIMEOUT_MS 2000 /* nats-server's DEFAULT_TLS_TIMEOUT */

struct tls_opt {
    bool configured;
    char *cert_file, *key_file, *ca_file;
    bool verify, verify_and_map, verify_known_urls, insecure;
    int64_t timeout_ms;
    int *ciphers, nciphers; /* indexes in the cipher table; none: nats-server's defaults */
    int *curves, ncurves;   /* indexes in the curve table; none: nats-server's defaults */
    char **pinned;          /* lower-case hex SHA-256 of a certificate's SubjectPublicKeyInfo */
    int npinned;
    int64_t rate_limit;     /* connection_rate_limit: TLS clients accepted per second (0: any) */
    void *ctx;              /* WOLFSSL_CTX for the accepting side, built by tls_opt_build */
    void *client_ctx;       /* ... for the dialling side (routes), when built */
    void *mon_ctx;          /* ... for HTTPS monitoring when ctx asks for client certificates (NULL: ctx) */
};

/* The Go name nats-server takes in cipher_suites / curve_preferences: its
 * index in the table, -1 unknown (nats-server refuses it), -2 known to
 * nats-server but not available in this wolfSSL build. */
int tls_cipher_index(const char *go_name);
int tls_curve_index(const char *go_name);
/* The tables' Go names, for --help_tls: NULL past the end. */
const char *tls_cipher_name(int i);
const char *tls_curve_name(int i);

/* Builds o->ctx (TLS_SERVER: client and route listeners), o->client_ctx
 * (TLS_CLIENT: dialled routes) or o->mon_ctx (TLS_MONITOR: HTTPS, which
 * nats-server serves with the client block but no client certificates).
 * 0, or -1 with a message in err. */
enum tls_side { TLS_SERVER, TLS_CLIENT, TLS_MONITOR };
int tls_opt_build(struct tls_opt *o, enum tls_side side, char *err, size_t cap);
void tls_opt_free(struct tls_opt *o);

/* A thread that ran handshakes ends: its share of wolfSSL's caches goes. */
void tls_thread_exit(void);

struct tls_sess;
struct tls_sess *tls_sess_new(void *ctx, bool server, const char *server_name);
void tls_sess_free(struct tls_sess *s);
/* Wire bytes read: drives the handshake, then decrypts and hands the
 * plaintext to deliver(arg, p, n) (a negative result stops and is
 * returned); deliver(arg, NULL, 0) once, when the handshake completes. 0; -1 on a TLS error (tls_sess_error says which); -2 when
 * the peer sent close_notify. */
int tls_sess_input(struct tls_sess *s, const char *in, size_t n, int (*deliver)(void *, const char *, size_t),
                   void *arg);
bool tls_sess_done(const struct tls_sess *s);     /* handshake complete */
void tls_sess_close_notify(struct tls_sess *s);   /* queue a close_notify alert (after a complete handshake) */
const char *tls_sess_error(const struct tls_sess *s);
/* Encrypts n plaintext bytes into the session's output. 0 or -1. */
int tls_sess_write(struct tls_sess *s, const void *p, size_t n);
/* The output not yet written: *p and its length, which stay valid (even if
 * the session adds output meanwhile) until tls_sess_took(n) drops n. */
size_t tls_sess_output(struct tls_sess *s, const char **p);
void tls_sess_took(struct tls_sess *s, size_t n);
size_t tls_sess_pending(const struct tls_sess *s); /* its length only */
/* After the handshake: "1.2" / "1.3" and the suite's Go name (as /connz). */
const char *tls_sess_version(const struct tls_sess *s);
const char *tls_sess_cipher(const struct tls_sess *s);
/* The peer's certificate checks nats-server does after the handshake:
 * the SPKI SHA-256 is one of the pinned ones (true when none are pinned). */
bool tls_sess_pinned_ok(const struct tls_sess *s, char *const *pinned, int npinned);
/* verify_and_map identities of the peer certificate, in nats-server's
 * order (checkClientTLSCertSubject): each e-mail SAN, each DNS SAN, each
 * URI SAN, then the subject as an RFC 2253 string (is_dn). Calls
 * f(arg, identity, is_dn) until it returns true; returns whether one did. */
bool tls_sess_identities(const struct tls_sess *s, bool (*f)(void *, const char *, bool), void *arg);
/* Two distinguished names in RFC 2253 form hold the same attributes, in
 * any order, attribute types compared without case (nats-server's
 * ldap.DN Equal, then RDNsMatch). */
bool tls_dn_match(const char *a, const char *b);
bool tls_sess_has_peer_cert(const struct tls_sess *s);

/* ---- the transport ---- */
extern const struct transport_ops transport_tls;
/* t becomes a TLS transport on a new session; the first plain_left bytes
 * of the queue (the INFO sent in clear) go out as they are. hs(arg) is
 * called once when the handshake completes (arg is the deliver argument
 * of the input that completed it); a negative result fails the input.
 * sniff (allow_non_tls): a first byte read that does not start a TLS
 * record turns t into plain TCP instead (hs is called then too, with the
 * transport already plain). 0 or -ENOMEM. */
int tlst_install(struct transport *t, void *ctx, bool server, const char *server_name, uint64_t plain_left,
                 bool sniff, int (*hs)(void *));
bool tlst_sniffing(const struct transport *t); /* nothing read yet in sniff mode */
/* The connection closes: a close_notify goes out after the plaintext still
 * queued (Go's tls.Conn.Close sends one once the handshake is complete). */
void tlst_close(struct transport *t);
void tlst_to_plain(struct transport *t);        /* drop the session: plain TCP from now on */
struct tls_sess *tlst_session(const struct transport *t); /* NULL: not TLS */
#endif
