/* TLS with wolfSSL through memory I/O: see tls.h. */
#include "tls.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/sha256.h>

/* ------------------------------------------------------------ names */

/* nats-server's cipherMap (server/ciphersuites.go): the Go constant names
 * it accepts in cipher_suites, with the suite's wolfSSL name (NULL: this
 * wolfSSL build has no such suite: RSA key exchange, which Debian's
 * wolfSSL leaves out). The name shown in /connz is the Go one. */
static const struct cipher {
    const char *go, *wolf;
    bool tls13;
} ciphers[] = {
    {"TLS_RSA_WITH_RC4_128_SHA", NULL, false},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", NULL, false},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", NULL, false},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", NULL, false},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", NULL, false},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", NULL, false},
    {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", false},
    {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA", false},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", false},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", false},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", false},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", false},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305", false},
    {"TLS_AES_128_GCM_SHA256", "TLS13-AES128-GCM-SHA256", true},
    {"TLS_AES_256_GCM_SHA384", "TLS13-AES256-GCM-SHA384", true},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS13-CHACHA20-POLY1305-SHA256", true},
};
#define NCIPHERS (int)(sizeof ciphers / sizeof ciphers[0])

/* nats-server's defaultCipherSuites (TLS 1.2; Go always offers all three
 * TLS 1.3 suites, whatever cipher_suites says, and so does gannet). */
static const char *const default_ciphers[] = {
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
};

/* nats-server's curvePreferenceMap, and its defaultCurvePreferences order. */
static const struct curve {
    const char *go, *wolf; /* wolf: its name for wolfSSL_CTX_set1_curves_list (TLS 1.2's ECDHE) */
    int group;             /* TLS 1.3's key-share group */
} curves[] = {
    {"X25519", "X25519", WOLFSSL_ECC_X25519},
    {"CurveP256", "prime256v1", WOLFSSL_ECC_SECP256R1},
    {"CurveP384", "secp384r1", WOLFSSL_ECC_SECP384R1},
    {"CurveP521", "secp521r1", WOLFSSL_ECC_SECP521R1},
};
#define NCURVES (int)(sizeof curves / sizeof curves[0])

int tls_cipher_index(const char *go_name)
{
    for (int i = 0; i < NCIPHERS; i++)
        if (strcmp(ciphers[i].go, go_name) == 0)
            return ciphers[i].wolf ? i : -2;
    return -1;
}

int tls_curve_index(const char *go_name)
{
    for (int i = 0; i < NCURVES; i++)
        if (strcmp(curves[i].go, go_name) == 0)
            return i;
    return -1;
}

void tls_thread_exit(void)
{
    /* wolfSSL's ECC fixed-point cache (FP_ECC) is per thread, filled by the
     * handshakes this thread ran: it goes with the thread */
    wc_ecc_fp_free();
}

const char *tls_cipher_name(int i) { return i >= 0 && i < NCIPHERS ? ciphers[i].go : NULL; }
const char *tls_curve_name(int i) { return i >= 0 && i < NCURVES ? curves[i].go : NULL; }

/* ------------------------------------------------------------ contexts */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void lib_init(void) { wolfSSL_Init(); }

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx);
static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx);

static int fail(char *err, size_t cap, const char *fmt, const char *arg)
{
    snprintf(err, cap, fmt, arg);
    return -1;
}

int tls_opt_build(struct tls_opt *o, enum tls_side side, char *err, size_t cap)
{
    bool server = side != TLS_CLIENT;
    pthread_once(&init_once, lib_init);
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(server ? wolfSSLv23_server_method() : wolfSSLv23_client_method());
    if (!ctx)
        return fail(err, cap, "%s", "TLS: out of memory");
    /* nats-server's GenTLSConfig: MinVersion TLS 1.2 */
    wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
    wolfSSL_CTX_SetIORecv(ctx, io_recv);
    wolfSSL_CTX_SetIOSend(ctx, io_send);
    if (o->cert_file && wolfSSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != WOLFSSL_SUCCESS)
        goto bad_cert;
    if (o->key_file && wolfSSL_CTX_use_PrivateKey_file(ctx, o->key_file, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
        goto bad_cert;
    if (o->cert_file && o->key_file && wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS)
        goto bad_cert;
    if (o->ca_file && wolfSSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != WOLFSSL_SUCCESS) {
        wolfSSL_CTX_free(ctx);
        return fail(err, cap, "failed to parse root ca certificate: %s", o->ca_file);
    }
    if (server)
        wolfSSL_CTX_set_verify(ctx, o->verify && side == TLS_SERVER
                                        ? WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                        : WOLFSSL_VERIFY_NONE, NULL);
    else if (o->insecure)
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    else {
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
        if (!o->ca_file)
            wolfSSL_CTX_load_system_CA_certs(ctx);
    }
    /* the suites: TLS 1.3's three always (Go's), then the TLS 1.2 ones */
    char list[1024] = "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256";
    size_t len = strlen(list);
    int n = o->nciphers ? o->nciphers : (int)(sizeof default_ciphers / sizeof default_ciphers[0]);
    for (int i = 0; i < n; i++) {
        const struct cipher *c = &ciphers[o->nciphers ? o->ciphers[i] : tls_cipher_index(default_ciphers[i])];
        if (c->tls13)
            continue;
        len += (size_t)snprintf(list + len, sizeof list - len, ":%s", c->wolf);
    }
    if (len >= sizeof list || wolfSSL_CTX_set_cipher_list(ctx, list) != WOLFSSL_SUCCESS) {
        wolfSSL_CTX_free(ctx);
        return fail(err, cap, "TLS: the cipher suites were refused by wolfSSL (%s)", list);
    }
    int groups[NCURVES], ng = 0;
    char names[128] = "";
    for (int i = 0; i < (o->ncurves ? o->ncurves : NCURVES); i++) {
        const struct curve *cv = &curves[o->ncurves ? o->curves[i] : i];
        groups[ng++] = cv->group;
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ":" : "", cv->wolf);
    }
    bool curves_ok = wolfSSL_CTX_set_groups(ctx, groups, ng) == WOLFSSL_SUCCESS &&
                     wolfSSL_CTX_set1_curves_list(ctx, names) == WOLFSSL_SUCCESS;
    if (!curves_ok) {
        wolfSSL_CTX_free(ctx);
        return fail(err, cap, "%s", "TLS: the curve preferences were refused by wolfSSL");
    }
    void **slot = side == TLS_SERVER ? &o->ctx : side == TLS_CLIENT ? &o->client_ctx : &o->mon_ctx;
    if (*slot)
        wolfSSL_CTX_free(*slot);
    *slot = ctx;
    return 0;
bad_cert:
    wolfSSL_CTX_free(ctx);
    /* nats-server: "error parsing X509 certificate/key pair: <Go's error>" */
    return fail(err, cap, "error parsing X509 certificate/key pair: %s",
                o->cert_file && o->key_file ? "the certificate or its key could not be loaded, or they do not match"
                                            : "a certificate and its key are both needed");
}

void tls_opt_free(struct tls_opt *o)
{
    if (o->ctx)
        wolfSSL_CTX_free(o->ctx);
    if (o->client_ctx)
        wolfSSL_CTX_free(o->client_ctx);
    if (o->mon_ctx)
        wolfSSL_CTX_free(o->mon_ctx);
    free(o->cert_file);
    free(o->key_file);
    free(o->ca_file);
    free(o->ciphers);
    free(o->curves);
    for (int i = 0; i < o->npinned; i++)
        free(o->pinned[i]);
    free(o->pinned);
    memset(o, 0, sizeof *o);
}

/* ------------------------------------------------------------ sessions */

struct tls_sess {
    WOLFSSL *ssl;
    bool server, done, failed;
    const char *in; /* the wire bytes of the input being processed */
    size_t in_len;
    char *out;      /* records waiting to be written */
    size_t out_len, out_cap, out_off;
    bool busy;      /* out+out_off.. is being written: it must not move */
    unsigned char hdr[5]; /* server side: the first record header, checked as Go checks it */
    uint8_t nhdr;
    bool hdr_ok;
    char *stale;    /* the buffer being written, when out had to grow meanwhile */
    char err[160];
};

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    (void)ssl;
    struct tls_sess *s = ctx;
    if (s->in_len == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = (size_t)sz < s->in_len ? (size_t)sz : s->in_len;
    memcpy(buf, s->in, n);
    s->in += n;
    s->in_len -= n;
    return (int)n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    (void)ssl;
    struct tls_sess *s = ctx;
    if (s->out_off && s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
    if (s->out_len + (size_t)sz > s->out_cap) {
        size_t cap = s->out_cap ? s->out_cap : 16384;
        while (cap < s->out_len + (size_t)sz)
            cap *= 2;
        char *n = malloc(cap);
        if (!n)
            return WOLFSSL_CBIO_ERR_GENERAL;
        if (s->out_len)
            memcpy(n, s->out, s->out_len);
        if (s->busy && !s->stale)
            s->stale = s->out; /* the kernel may be reading it: freed once written */
        else
            free(s->out);
        s->out = n;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, buf, (size_t)sz);
    s->out_len += (size_t)sz;
    return sz;
}

struct tls_sess *tls_sess_new(void *ctx, bool server, const char *server_name)
{
    struct tls_sess *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ssl = wolfSSL_new(ctx);
    if (!s->ssl) {
        free(s);
        return NULL;
    }
    s->server = server;
    wolfSSL_SetIOReadCtx(s->ssl, s);
    wolfSSL_SetIOWriteCtx(s->ssl, s);
    if (!server && server_name && *server_name) {
        wolfSSL_UseSNI(s->ssl, WOLFSSL_SNI_HOST_NAME, server_name, (unsigned short)strlen(server_name));
        wolfSSL_check_domain_name(s->ssl, server_name);
    }
    return s;
}

void tls_sess_free(struct tls_sess *s)
{
    if (!s)
        return;
    wolfSSL_free(s->ssl);
    free(s->out);
    free(s->stale);
    free(s);
}

/* A failed handshake ends with one alert, as Go's does: whatever wolfSSL
 * queued after its first plaintext alert record is dropped; where it queued
 * none before TLS 1.3's encryption (a TLS 1.2 client that sent no
 * certificate), Go's alert is added: bad_certificate for a certificate
 * refused, handshake_failure otherwise. */
static void one_alert(struct tls_sess *s, int e)
{
    if (s->out_len == s->out_off && wolfSSL_version(s->ssl) != TLS1_3_VERSION) {
        bool cert = e == NO_PEER_CERT || e == ASN_NO_SIGNER_E || wolfSSL_get_verify_result(s->ssl) != 0;
        io_send(s->ssl, (char *)(cert ? "\x15\x03\x03\x00\x02\x02\x2a" : "\x15\x03\x03\x00\x02\x02\x28"), 7, s);
        return;
    }
    for (size_t i = s->out_off; i + 5 <= s->out_len;) {
        size_t len = (size_t)((unsigned char)s->out[i + 3]) << 8 | (unsigned char)s->out[i + 4];
        if (i + 5 + len > s->out_len)
            return;
        if (s->out[i] == 0x15) {
            s->out_len = i + 5 + len;
            return;
        }
        i += 5 + len;
    }
}

static void set_error(struct tls_sess *s, int rc)
{
    int e = wolfSSL_get_error(s->ssl, rc);
    char buf[WOLFSSL_MAX_ERROR_SZ];
    wolfSSL_ERR_error_string_n((unsigned long)e, buf, sizeof buf);
    /* Go's texts where the two libraries mean the same (logs are compared with nats-server's) */
    long v = wolfSSL_get_verify_result(s->ssl);
    if (e == NO_PEER_CERT)
        snprintf(s->err, sizeof s->err, "tls: client didn't provide a certificate");
    else if (v == ASN_NO_SIGNER_E || e == ASN_NO_SIGNER_E)
        snprintf(s->err, sizeof s->err, "%sx509: certificate signed by unknown authority",
                 s->server ? "tls: failed to verify client certificate: " : "");
    else if (e == DOMAIN_NAME_MISMATCH || e == IPADDR_MISMATCH)
        snprintf(s->err, sizeof s->err, "x509: certificate is not valid for the name asked for");
    else
        snprintf(s->err, sizeof s->err, "%s", buf);
    s->failed = true;
}

/* Go's crypto/tls reads the first record header before anything else and
 * refuses what cannot be a TLS client (conn.go readRecordOrCCS): an SSLv2
 * hello (alert protocol_version), a first record that is neither a
 * handshake nor an alert, or claims a version >= 16.0 (no alert: "first
 * record does not look like a TLS handshake"), an oversized record (alert
 * record_overflow). wolfSSL words these otherwise; the peer sees Go's. */
static int first_header(struct tls_sess *s)
{
    const unsigned char *h = s->hdr;
    unsigned vers = (unsigned)h[1] << 8 | h[2], len = (unsigned)h[3] << 8 | h[4];
    if (h[0] == 0x80) {
        io_send(s->ssl, (char *)"\x15\x03\x01\x00\x02\x02\x46", 7, s);
        snprintf(s->err, sizeof s->err, "tls: unsupported SSLv2 handshake received");
    } else if ((h[0] != 0x15 && h[0] != 0x16) || vers >= 0x1000) {
        snprintf(s->err, sizeof s->err, "tls: first record does not look like a TLS handshake");
    } else if (len > 16384 + 2048) {
        io_send(s->ssl, (char *)"\x15\x03\x01\x00\x02\x02\x16", 7, s);
        snprintf(s->err, sizeof s->err, "tls: oversized record received with length %u", len);
    } else {
        s->hdr_ok = true;
        return 0;
    }
    s->failed = true;
    return -1;
}

int tls_sess_input(struct tls_sess *s, const char *in, size_t n, int (*deliver)(void *, const char *, size_t),
                   void *arg)
{
    if (s->failed)
        return -1;
    if (!s->hdr_ok && (s->server || n)) { /* hold the first bytes back until the header can be judged */
        while (n && s->nhdr < 5) {
            s->hdr[s->nhdr++] = (unsigned char)*in++;
            n--;
        }
        if (s->nhdr < 5)
            return 0;
        if (first_header(s) < 0)
            return -1;
        s->in = (const char *)s->hdr; /* the header first, then the rest of this input */
        s->in_len = 5;
        int r = s->server ? wolfSSL_accept(s->ssl) : wolfSSL_connect(s->ssl);
        if (r != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(s->ssl, r);
            if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) {
                set_error(s, r);
                s->in = NULL;
                s->in_len = 0;
                return -1;
            }
        }
    }
    s->in = in;
    s->in_len = n;
    int rc = 0;
    if (!s->done) {
        int r = s->server ? wolfSSL_accept(s->ssl) : wolfSSL_connect(s->ssl);
        if (r != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(s->ssl, r);
            if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) {
                set_error(s, r);
                one_alert(s, wolfSSL_get_error(s->ssl, r));
                rc = -1;
            }
            goto out;
        }
        s->done = true;
        rc = deliver(arg, NULL, 0); /* the handshake is done: the owner's checks */
        if (rc < 0)
            goto out;
    }
    char buf[16384];
    for (;;) {
        int r = wolfSSL_read(s->ssl, buf, sizeof buf);
        if (r > 0) {
            rc = deliver(arg, buf, (size_t)r);
            if (rc < 0)
                goto out;
            continue;
        }
        int e = wolfSSL_get_error(s->ssl, r);
        if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
            break;
        if (e == WOLFSSL_ERROR_ZERO_RETURN) {
            rc = -2;
            goto out;
        }
        set_error(s, r);
        rc = -1;
        goto out;
    }
out:
    s->in = NULL;
    s->in_len = 0;
    return rc;
}

bool tls_sess_done(const struct tls_sess *s) { return s->done; }

void tls_sess_close_notify(struct tls_sess *s)
{
    if (s->done && !s->failed)
        wolfSSL_shutdown(s->ssl); /* queues the alert; the peer's answer is not waited for */
}
const char *tls_sess_error(const struct tls_sess *s) { return s->err[0] ? s->err : "TLS error"; }

int tls_sess_write(struct tls_sess *s, const void *p, size_t n)
{
    while (n) {
        int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
        int r = wolfSSL_write(s->ssl, p, chunk);
        if (r <= 0) {
            set_error(s, r);
            return -1;
        }
        p = (const char *)p + r;
        n -= (size_t)r;
    }
    return 0;
}

size_t tls_sess_output(struct tls_sess *s, const char **p)
{
    *p = s->out ? s->out + s->out_off : NULL;
    s->busy = s->out_len > s->out_off;
    return s->out_len - s->out_off;
}

size_t tls_sess_pending(const struct tls_sess *s) { return s->out_len - s->out_off; }

void tls_sess_took(struct tls_sess *s, size_t n)
{
    s->busy = false;
    free(s->stale);
    s->stale = NULL;
    s->out_off += n;
    if (s->out_off == s->out_len) {
        s->out_off = s->out_len = 0;
        if (s->out_cap > 1u << 20) { /* a big batch's worth: give it back */
            free(s->out);
            s->out = NULL;
            s->out_cap = 0;
        }
    }
}

const char *tls_sess_version(const struct tls_sess *s)
{
    const char *v = wolfSSL_get_version(s->ssl);
    return v && !strncmp(v, "TLSv", 4) ? v + 4 : v ? v : "";
}

const char *tls_sess_cipher(const struct tls_sess *s)
{
    const char *w = wolfSSL_get_cipher_name(s->ssl);
    for (int i = 0; w && i < NCIPHERS; i++)
        if (ciphers[i].wolf && strcmp(ciphers[i].wolf, w) == 0)
            return ciphers[i].go;
    return w ? w : "";
}

bool tls_sess_has_peer_cert(const struct tls_sess *s)
{
    WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(s->ssl);
    wolfSSL_X509_free(x);
    return x != NULL;
}

/* One DER element at p (at most end): its content and where it ends. */
static bool der_next(const unsigned char *p, const unsigned char *end, unsigned char *tag, const unsigned char **body,
                     const unsigned char **next)
{
    if (end - p < 2)
        return false;
    *tag = p[0];
    size_t len = p[1], hdr = 2;
    if (len & 0x80) {
        int k = len & 0x7f;
        if (k == 0 || k > 4 || end - p < 2 + k)
            return false;
        len = 0;
        for (int i = 0; i < k; i++)
            len = len << 8 | p[2 + i];
        hdr += (size_t)k;
    }
    if ((size_t)(end - p) - hdr < len)
        return false;
    *body = p + hdr;
    *next = p + hdr + len;
    return true;
}

/* The DER of a certificate's SubjectPublicKeyInfo (what Go's
 * RawSubjectPublicKeyInfo is): the seventh element of tbsCertificate,
 * counting the optional [0] version. */
static bool spki_of(const unsigned char *der, size_t n, const unsigned char **p, size_t *len)
{
    unsigned char tag;
    const unsigned char *body, *next, *end = der + n;
    if (!der_next(der, end, &tag, &body, &next) || tag != 0x30) /* Certificate */
        return false;
    if (!der_next(body, next, &tag, &body, &next) || tag != 0x30) /* tbsCertificate */
        return false;
    const unsigned char *q = body, *tbs_end = next;
    if (q < tbs_end && *q == 0xa0 && (!der_next(q, tbs_end, &tag, &body, &next) || !(q = next)))
        return false; /* [0] version */
    for (int i = 0; i < 5; i++) /* serial, signature, issuer, validity, subject */
        if (!der_next(q, tbs_end, &tag, &body, &next) || !(q = next))
            return false;
    if (!der_next(q, tbs_end, &tag, &body, &next) || tag != 0x30)
        return false;
    *p = q;
    *len = (size_t)(next - q);
    return true;
}

bool tls_sess_pinned_ok(const struct tls_sess *s, char *const *pinned, int npinned)
{
    if (npinned == 0)
        return true;
    WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(s->ssl);
    if (!x)
        return false;
    bool ok = false;
    int dlen = 0;
    const unsigned char *der = wolfSSL_X509_get_der(x, &dlen), *spki;
    size_t slen;
    unsigned char h[WC_SHA256_DIGEST_SIZE];
    if (der && dlen > 0 && spki_of(der, (size_t)dlen, &spki, &slen) && wc_Sha256Hash(spki, (word32)slen, h) == 0) {
        char hex[2 * WC_SHA256_DIGEST_SIZE + 1];
        for (int i = 0; i < WC_SHA256_DIGEST_SIZE; i++)
            snprintf(hex + 2 * i, 3, "%02x", h[i]);
        for (int i = 0; i < npinned && !ok; i++)
            ok = strcasecmp(pinned[i], hex) == 0;
    }
    wolfSSL_X509_free(x);
    return ok;
}

bool tls_sess_identities(const struct tls_sess *s, bool (*f)(void *, const char *, bool), void *arg)
{
    WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(s->ssl);
    if (!x)
        return false;
    bool hit = false;
    WOLFSSL_GENERAL_NAMES *names = wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    /* GEN_EMAIL, GEN_DNS, GEN_URI (wolfssl/openssl/x509v3.h) */
    static const int order[] = {1, 2, 6};
    for (int o = 0; names && o < 3 && !hit; o++) {
        for (int i = 0; i < wolfSSL_sk_GENERAL_NAME_num(names) && !hit; i++) {
            WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(names, i);
            if (!g || g->type != order[o])
                continue;
            WOLFSSL_ASN1_STRING *str = g->type == 1 ? g->d.rfc822Name : g->type == 2 ? g->d.dNSName
                                                                                    : g->d.uniformResourceIdentifier;
            const unsigned char *p = wolfSSL_ASN1_STRING_data(str);
            int len = wolfSSL_ASN1_STRING_length(str);
            if (p && len > 0 && len < 1024) {
                char id[1024];
                memcpy(id, p, (size_t)len);
                id[len] = 0;
                hit = f(arg, id, false);
            }
        }
    }
    if (names)
        wolfSSL_GENERAL_NAMES_free(names);
    if (!hit) {
        WOLFSSL_BIO *bio = wolfSSL_BIO_new(wolfSSL_BIO_s_mem());
        if (bio && wolfSSL_X509_NAME_print_ex(bio, wolfSSL_X509_get_subject_name(x), 0, 1 /* XN_FLAG_RFC2253 */) ==
                       WOLFSSL_SUCCESS) {
            char *p = NULL;
            int len = wolfSSL_BIO_get_mem_data(bio, &p);
            if (p && len > 0 && len < 4096) { /* wolfSSL writes ", " between RDNs, Go "," */
                char id[4096];
                size_t o = 0;
                for (int i = 0; i < len; i++) {
                    if (p[i] == '\\' && i + 1 < len) {
                        id[o++] = p[i++];
                        id[o++] = p[i];
                        continue;
                    }
                    id[o++] = p[i];
                    if ((p[i] == ',' || p[i] == '+') && i + 1 < len && p[i + 1] == ' ')
                        i++;
                }
                id[o] = 0;
                hit = f(arg, id, true);
            }
        }
        wolfSSL_BIO_free(bio);
    }
    wolfSSL_X509_free(x);
    return hit;
}

/* The RDN attributes of an RFC 2253 string, "TYPE=value" each with the
 * type upper-cased and spaces around it trimmed; escaped separators kept. */
static int dn_split(const char *dn, char out[][256], int max)
{
    int n = 0;
    const char *p = dn;
    while (*p && n < max) {
        char buf[256];
        size_t len = 0;
        for (; *p && *p != ',' && *p != '+'; p++) {
            if (*p == '\\' && p[1]) {
                if (len + 2 < sizeof buf) {
                    buf[len++] = *p;
                    buf[len++] = p[1];
                }
                p++;
                continue;
            }
            if (len + 1 < sizeof buf)
                buf[len++] = *p;
        }
        buf[len] = 0;
        if (*p)
            p++;
        char *b = buf, *e = buf + len;
        while (*b == ' ')
            b++;
        while (e > b && e[-1] == ' ')
            *--e = 0;
        char *eq = strchr(b, '=');
        if (!eq)
            return -1;
        for (char *t = b; t < eq; t++)
            *t = (char)toupper((unsigned char)*t);
        snprintf(out[n++], 256, "%s", b);
    }
    return *p ? -1 : n;
}

bool tls_dn_match(const char *a, const char *b)
{
    char x[16][256], y[16][256];
    int nx = dn_split(a, x, 16), ny = dn_split(b, y, 16);
    if (nx <= 0 || nx != ny)
        return false;
    bool used[16] = {false};
    for (int i = 0; i < nx; i++) {
        int j = 0;
        for (; j < ny; j++)
            if (!used[j] && strcmp(x[i], y[j]) == 0)
                break;
        if (j == ny)
            return false;
        used[j] = true;
    }
    return true;
}

/* ------------------------------------------------------------ the transport */

/* Plaintext encrypted per write: several full records, bounded so one
 * connection's batch stays a small share of the shard's turn. */
#define TLST_BATCH (256u * 1024)

struct tlst {
    struct tls_sess *s;
    uint64_t plain_left; /* plaintext still to go out in clear (the INFO before the switch) */
    uint32_t out_plain;  /* plaintext the records being written carry */
    size_t out_wire;     /* their wire bytes still unsent */
    int (*hs)(void *);
    bool sniff;          /* allow_non_tls: the first byte read decides */
    bool closing, notified; /* a close_notify is due after the queued plaintext / was queued */
};

static struct tlst *Z(const struct transport *t) { return t->state; }

struct hs_arg {
    struct tlst *z;
    int (*deliver)(void *, const char *, size_t);
    void *arg;
};

/* Plaintext from the session, and its handshake-done signal (NULL, 0). */
static int tlst_deliver(void *a, const char *p, size_t n)
{
    struct hs_arg *h = a;
    if (!p)
        return h->z->hs ? h->z->hs(h->arg) : 0;
    return h->deliver(h->arg, p, n);
}

void tlst_to_plain(struct transport *t)
{
    if (t->ops != &transport_tls)
        return;
    tls_sess_free(Z(t)->s);
    free(Z(t));
    t->ops = &transport_plain; /* its sent() counts what is in flight as the INFO's plain bytes did */
    t->state = NULL;
}

void tlst_close(struct transport *t)
{
    if (t->ops == &transport_tls)
        Z(t)->closing = true;
}

bool tlst_sniffing(const struct transport *t) { return t->ops == &transport_tls && Z(t)->sniff; }

static int tlst_input(struct transport *t, const char *in, size_t n, int (*deliver)(void *, const char *, size_t),
                      void *arg)
{
    if (Z(t)->sniff && n > 0) {
        Z(t)->sniff = false;
        if ((unsigned char)in[0] != 0x16) { /* not a TLS handshake record: plaintext (nats-server's allow_non_tls) */
            int (*hs)(void *) = Z(t)->hs;
            tlst_to_plain(t);
            int rc = hs ? hs(arg) : 0;
            return rc < 0 ? rc : deliver(arg, in, n);
        }
    }
    struct hs_arg h = {Z(t), deliver, arg};
    return tls_sess_input(Z(t)->s, in, n, tlst_deliver, &h);
}


static int tlst_prep(struct transport *t, struct oblock *head, uint32_t off, struct iovec *iov, int max,
                     uint32_t *wire)
{
    struct tlst *z = Z(t);
    *wire = 0;
    if (z->plain_left) /* the INFO, in clear, before any record */
        return oblock_gather(head, off, iov, max, z->plain_left, wire);
    const char *p;
    size_t out = tls_sess_pending(z->s);
    if (out == 0 && tls_sess_done(z->s)) { /* new records from what is queued */
        struct iovec v[SEND_IOV_MAX];
        uint32_t plain = 0;
        int nv = oblock_gather(head, off, v, SEND_IOV_MAX, TLST_BATCH, &plain);
        for (int i = 0; i < nv; i++)
            if (tls_sess_write(z->s, v[i].iov_base, v[i].iov_len) < 0)
                return 0; /* the session failed: nothing more goes out */
        z->out_plain = plain;
        if (!plain && z->closing && !z->notified) {
            z->notified = true;
            tls_sess_close_notify(z->s);
        }
    }
    out = tls_sess_output(z->s, &p);
    if (out == 0)
        return 0;
    z->out_wire = out;
    iov[0].iov_base = (void *)p;
    iov[0].iov_len = out;
    *wire = (uint32_t)out;
    return 1;
}

static uint32_t tlst_sent(struct transport *t, uint32_t n)
{
    struct tlst *z = Z(t);
    if (z->plain_left) {
        uint32_t done = n < z->plain_left ? n : (uint32_t)z->plain_left;
        z->plain_left -= done;
        return done;
    }
    tls_sess_took(z->s, n);
    z->out_wire -= n < z->out_wire ? n : z->out_wire;
    if (z->out_wire || tls_sess_pending(z->s))
        return 0; /* the batch's plaintext is done once all of its records are written */
    uint32_t done = z->out_plain;
    z->out_plain = 0;
    return done;
}

static bool tlst_want_write(const struct transport *t)
{
    const struct tlst *z = Z(t);
    return z->plain_left == 0 &&
           (tls_sess_pending(z->s) > 0 || (z->closing && !z->notified && tls_sess_done(z->s)));
}

static void tlst_free(struct transport *t)
{
    struct tlst *z = Z(t);
    if (!z)
        return;
    tls_sess_free(z->s);
    free(z);
    t->state = NULL;
}

const struct transport_ops transport_tls = {
    .name = "tls",
    .input = tlst_input,
    .prep = tlst_prep,
    .sent = tlst_sent,
    .free = tlst_free,
    .want_write = tlst_want_write,
};

int tlst_install(struct transport *t, void *ctx, bool server, const char *server_name, uint64_t plain_left,
                 bool sniff, int (*hs)(void *))
{
    struct tlst *z = calloc(1, sizeof *z);
    if (!z)
        return -ENOMEM;
    z->s = tls_sess_new(ctx, server, server_name);
    if (!z->s) {
        free(z);
        return -ENOMEM;
    }
    z->plain_left = plain_left;
    z->hs = hs;
    z->sniff = sniff;
    t->ops = &transport_tls;
    t->state = z;
    return 0;
}

struct tls_sess *tlst_session(const struct transport *t)
{
    return t->ops == &transport_tls ? Z(t)->s : NULL;
}
