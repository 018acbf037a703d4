/* Unit tests for net/tls.c: two sessions (server and client, real wolfSSL,
 * certificates made by the openssl CLI in a temporary directory) joined in
 * memory; the handshake with and without client certificates, host name
 * checks, data both ways, the names /connz shows, verify_and_map
 * identities and DN matching, pinned SPKI hashes, and the transport's
 * plaintext accounting (a batch is done only once all of its records are
 * written) and its allow_non_tls sniffing. */
#include "../../net/tls.c"
#include "../../net/transport.c"
#include "unit.h"

#include <unistd.h>

static char dir[64];

static int sh(const char *cmd)
{
    char full[2048];
    snprintf(full, sizeof full, "cd %s && (%s) >/dev/null 2>&1", dir, cmd);
    return system(full);
}

static char *path(const char *f)
{
    static char buf[8][256];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 256, "%s/%s", dir, f);
    return b;
}

static int make_certs(void)
{
    snprintf(dir, sizeof dir, "/tmp/gannet-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    return sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj '/CN=Unit CA' &&"
              "openssl req -newkey rsa:2048 -nodes -keyout srv-key.pem -out srv.csr -subj '/CN=localhost' &&"
              "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' >srv.ext &&"
              "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out srv.pem -days 2 "
              "-extfile srv.ext &&"
              "openssl req -newkey rsa:2048 -nodes -keyout cli-key.pem -out cli.csr -subj '/O=Unit Test/CN=alice' &&"
              "printf 'subjectAltName=email:alice@example.com,DNS:alice.example.com\\nextendedKeyUsage=clientAuth\\n'"
              " >cli.ext &&"
              "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cli.pem -days 2 "
              "-extfile cli.ext &&"
              "openssl x509 -in cli.pem -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -c1-64 "
              ">cli.pin");
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* Received plaintext, per side. */
struct sink {
    char buf[1 << 18];
    size_t n;
    int handshakes;
};

static int into(void *arg, const char *p, size_t n)
{
    struct sink *k = arg;
    if (!p) {
        k->handshakes++;
        return 0;
    }
    if (k->n + n <= sizeof k->buf)
        memcpy(k->buf + k->n, p, n);
    k->n += n;
    return 0;
}

/* Move what a session wrote to the other, until nothing moves; returns the
 * first negative input result, else 0. */
static int pump(struct tls_sess *a, struct sink *ka, struct tls_sess *b, struct sink *kb)
{
    for (int round = 0; round < 50; round++) {
        bool moved = false;
        const char *p;
        size_t n;
        if ((n = tls_sess_output(a, &p)) > 0) {
            char tmp[1 << 16];
            size_t m = n < sizeof tmp ? n : sizeof tmp;
            memcpy(tmp, p, m);
            tls_sess_took(a, m);
            int rc = tls_sess_input(b, tmp, m, into, kb);
            if (rc < 0)
                return rc;
            moved = true;
        }
        if ((n = tls_sess_output(b, &p)) > 0) {
            char tmp[1 << 16];
            size_t m = n < sizeof tmp ? n : sizeof tmp;
            memcpy(tmp, p, m);
            tls_sess_took(b, m);
            int rc = tls_sess_input(a, tmp, m, into, ka);
            if (rc < 0)
                return rc;
            moved = true;
        }
        if (!moved)
            return 0;
    }
    return 0;
}

static struct tls_opt server_opt(bool verify)
{
    struct tls_opt o = {.configured = true, .timeout_ms = 2000, .verify = verify};
    o.cert_file = strdup(path("srv.pem"));
    o.key_file = strdup(path("srv-key.pem"));
    o.ca_file = strdup(path("ca.pem"));
    char err[256];
    CHECK_EQ_INT(tls_opt_build(&o, TLS_SERVER, err, sizeof err), 0);
    return o;
}

static struct tls_opt client_opt(bool with_cert)
{
    struct tls_opt o = {.configured = true, .timeout_ms = 2000};
    if (with_cert) {
        o.cert_file = strdup(path("cli.pem"));
        o.key_file = strdup(path("cli-key.pem"));
    }
    o.ca_file = strdup(path("ca.pem"));
    char err[256];
    CHECK_EQ_INT(tls_opt_build(&o, TLS_CLIENT, err, sizeof err), 0);
    return o;
}

static struct sink ks, kc;

/* A handshake between fresh sessions; returns the pump's result. */
static int connect_pair(struct tls_opt *so, struct tls_opt *co, const char *name, struct tls_sess **s,
                        struct tls_sess **c)
{
    memset(&ks, 0, sizeof ks);
    memset(&kc, 0, sizeof kc);
    *s = tls_sess_new(so->ctx, true, NULL);
    *c = tls_sess_new(co->client_ctx, false, name);
    CHECK(*s && *c);
    int rc = tls_sess_input(*c, NULL, 0, into, &kc); /* the ClientHello */
    CHECK_EQ_INT(rc, 0);
    return pump(*c, &kc, *s, &ks);
}

TEST(handshake_and_data)
{
    struct tls_opt so = server_opt(false), co = client_opt(false);
    struct tls_sess *s, *c;
    CHECK_EQ_INT(connect_pair(&so, &co, "localhost", &s, &c), 0);
    CHECK(tls_sess_done(s) && tls_sess_done(c));
    CHECK_EQ_INT(ks.handshakes, 1);
    CHECK_EQ_INT(kc.handshakes, 1);
    CHECK_EQ_STR(tls_sess_version(s), "1.3");
    CHECK_EQ_STR(tls_sess_cipher(s), "TLS_AES_128_GCM_SHA256");
    CHECK(!tls_sess_has_peer_cert(s)); /* not asked for without verify */
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    CHECK_EQ_INT(tls_sess_write(c, big, sizeof big), 0);
    CHECK_EQ_INT(tls_sess_write(s, "PONG\r\n", 6), 0);
    CHECK_EQ_INT(pump(c, &kc, s, &ks), 0);
    CHECK_EQ_INT(ks.n, sizeof big);
    CHECK(memcmp(ks.buf, big, sizeof big) == 0);
    CHECK_EQ_INT(kc.n, 6);
    CHECK(memcmp(kc.buf, "PONG\r\n", 6) == 0);
    tls_sess_free(s);
    tls_sess_free(c);
    tls_opt_free(&so);
    tls_opt_free(&co);
}

TEST(host_names)
{
    struct tls_opt so = server_opt(false), co = client_opt(false);
    struct tls_sess *s, *c;
    CHECK_EQ_INT(connect_pair(&so, &co, "localhost", &s, &c), 0);
    CHECK(tls_sess_done(c));
    tls_sess_free(s);
    tls_sess_free(c);
    CHECK_EQ_INT(connect_pair(&so, &co, "127.0.0.1", &s, &c), 0); /* the IP SAN */
    CHECK(tls_sess_done(c));
    tls_sess_free(s);
    tls_sess_free(c);
    CHECK(connect_pair(&so, &co, "wrong.example", &s, &c) < 0);
    CHECK(!tls_sess_done(c));
    tls_sess_free(s);
    tls_sess_free(c);
    tls_opt_free(&so);
    tls_opt_free(&co);
}

static bool collect(void *arg, const char *id, bool is_dn)
{
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 1024 - n, "%s%s|", is_dn ? "dn:" : "", id);
    return false;
}

static bool want_dn(void *arg, const char *id, bool is_dn) { return is_dn && tls_dn_match(arg, id); }

TEST(client_certificates)
{
    struct tls_opt so = server_opt(true), with = client_opt(true), without = client_opt(false);
    struct tls_sess *s, *c;
    CHECK(connect_pair(&so, &without, "localhost", &s, &c) < 0 || !tls_sess_done(s)); /* no certificate */
    tls_sess_free(s);
    tls_sess_free(c);
    CHECK_EQ_INT(connect_pair(&so, &with, "localhost", &s, &c), 0);
    CHECK(tls_sess_done(s) && tls_sess_has_peer_cert(s));
    char ids[1024] = "";
    CHECK(!tls_sess_identities(s, collect, ids));
    CHECK_EQ_STR(ids, "alice@example.com|alice.example.com|dn:CN=alice,O=Unit Test|");
    CHECK(tls_sess_identities(s, want_dn, "o=Unit Test, cn=alice"));
    char pin[80] = "";
    FILE *f = fopen(path("cli.pin"), "r");
    CHECK(f && fgets(pin, sizeof pin, f));
    if (f)
        fclose(f);
    pin[strcspn(pin, "\n")] = 0;
    char *good[] = {pin}, *bad[] = {"00000000000000000000000000000000000000000000000000000000000000ff"};
    CHECK_EQ_INT(strlen(pin), 64);
    CHECK(tls_sess_pinned_ok(s, good, 1));
    CHECK(!tls_sess_pinned_ok(s, bad, 1));
    CHECK(tls_sess_pinned_ok(s, NULL, 0));
    tls_sess_free(s);
    tls_sess_free(c);
    tls_opt_free(&so);
    tls_opt_free(&with);
    tls_opt_free(&without);
}

TEST(dn_matching)
{
    CHECK(tls_dn_match("CN=alice,O=Acme", "CN=alice,O=Acme"));
    CHECK(tls_dn_match("O=Acme,CN=alice", "CN=alice,O=Acme"));
    CHECK(tls_dn_match("cn=alice, o=Acme", "CN=alice,O=Acme"));
    CHECK(!tls_dn_match("CN=alice", "CN=alice,O=Acme"));
    CHECK(!tls_dn_match("CN=bob,O=Acme", "CN=alice,O=Acme"));
    CHECK(!tls_dn_match("alice", "CN=alice"));
    CHECK(tls_dn_match("CN=a\\,b,O=Acme", "O=Acme,CN=a\\,b"));
}

TEST(names)
{
    CHECK(tls_cipher_index("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") >= 0);
    CHECK_EQ_INT(tls_cipher_index("TLS_FOO"), -1);
    CHECK_EQ_INT(tls_cipher_index("TLS_RSA_WITH_AES_128_CBC_SHA"), -2); /* nats-server's, not in this wolfSSL */
    CHECK(tls_curve_index("CurveP256") >= 0);
    CHECK_EQ_INT(tls_curve_index("P256"), -1);
    int n = 0;
    while (tls_cipher_name(n))
        n++;
    CHECK_EQ_INT(n, 24); /* nats-server 2.9.10's cipherMap */
}

TEST(cipher_list_is_applied)
{
    struct tls_opt so = server_opt(false), co = client_opt(false);
    int only = tls_cipher_index("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    so.ciphers = malloc(sizeof(int));
    so.ciphers[0] = only;
    so.nciphers = 1;
    char err[256];
    CHECK_EQ_INT(tls_opt_build(&so, TLS_SERVER, err, sizeof err), 0);
    /* a TLS 1.2 client (where cipher_suites counts) */
    WOLFSSL_CTX *c12 = wolfSSL_CTX_new(wolfTLSv1_2_client_method());
    wolfSSL_CTX_SetIORecv(c12, io_recv);
    wolfSSL_CTX_SetIOSend(c12, io_send);
    CHECK_EQ_INT(wolfSSL_CTX_load_verify_locations(c12, path("ca.pem"), NULL), WOLFSSL_SUCCESS);
    struct tls_sess *s = tls_sess_new(so.ctx, true, NULL), *c = tls_sess_new(c12, false, "localhost");
    wolfSSL_CTX_free(c12); /* the session holds it */
    memset(&ks, 0, sizeof ks);
    memset(&kc, 0, sizeof kc);
    CHECK_EQ_INT(tls_sess_input(c, NULL, 0, into, &kc), 0);
    CHECK_EQ_INT(pump(c, &kc, s, &ks), 0);
    CHECK_EQ_STR(tls_sess_version(s), "1.2");
    CHECK_EQ_STR(tls_sess_cipher(s), "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    tls_sess_free(s);
    tls_sess_free(c);
    tls_opt_free(&so);
    tls_opt_free(&co);
}

/* The transport: the INFO goes out in clear first, then records; the
 * plaintext of a batch is reported done only when all of its wire bytes
 * are written. */
static struct oblock *block(const char *p)
{
    size_t n = strlen(p);
    struct oblock *b = calloc(1, sizeof *b + n);
    memcpy(b->data, p, n);
    b->len = b->cap = (uint32_t)n;
    return b;
}

static int hs_calls;
static int on_hs(void *arg)
{
    hs_calls++;
    return 0;
}

TEST(transport_accounting)
{
    struct tls_opt so = server_opt(false), co = client_opt(false);
    struct transport t = {.ops = &transport_plain};
    hs_calls = 0;
    CHECK_EQ_INT(tlst_install(&t, so.ctx, true, NULL, 5, false, on_hs), 0);
    struct oblock *info = block("INFO\n");
    struct iovec iov[SEND_IOV_MAX];
    uint32_t wire = 0;
    CHECK_EQ_INT(t.ops->prep(&t, info, 0, iov, SEND_IOV_MAX, &wire), 1);
    CHECK_EQ_INT(wire, 5);
    CHECK_EQ_INT(t.ops->sent(&t, 5), 5);
    CHECK(!t.ops->want_write(&t));
    /* a client handshakes through the transport */
    struct tls_sess *c = tls_sess_new(co.client_ctx, false, "localhost");
    memset(&kc, 0, sizeof kc);
    memset(&ks, 0, sizeof ks);
    CHECK_EQ_INT(tls_sess_input(c, NULL, 0, into, &kc), 0);
    for (int round = 0; round < 10 && (!tls_sess_done(c) || tls_sess_pending(c)); round++) {
        const char *p;
        size_t n = tls_sess_output(c, &p);
        char tmp[1 << 16];
        memcpy(tmp, p, n);
        tls_sess_took(c, n);
        CHECK_EQ_INT(t.ops->input(&t, tmp, n, into, &ks), 0);
        if (t.ops->want_write(&t)) {
            int k = t.ops->prep(&t, NULL, 0, iov, SEND_IOV_MAX, &wire);
            CHECK_EQ_INT(k, 1);
            memcpy(tmp, iov[0].iov_base, wire);
            CHECK_EQ_INT(t.ops->sent(&t, wire), 0); /* handshake bytes carry no plaintext */
            CHECK_EQ_INT(tls_sess_input(c, tmp, wire, into, &kc), 0);
        }
    }
    CHECK(tls_sess_done(c));
    CHECK_EQ_INT(hs_calls, 1);
    /* a queued message: done only once all of its record is written */
    struct oblock *msg = block("MSG foo 1 5\r\nhello\r\n");
    CHECK_EQ_INT(t.ops->prep(&t, msg, 0, iov, SEND_IOV_MAX, &wire), 1);
    CHECK(wire > msg->len);
    char rec[4096];
    memcpy(rec, iov[0].iov_base, wire);
    CHECK_EQ_INT(t.ops->sent(&t, 3), 0);
    CHECK_EQ_INT(t.ops->prep(&t, msg, 0, iov, SEND_IOV_MAX, &wire), 1); /* the rest of the same record */
    CHECK_EQ_INT(t.ops->sent(&t, wire), msg->len);
    size_t total = 3 + wire;
    CHECK_EQ_INT(tls_sess_input(c, rec, total, into, &kc), 0);
    CHECK_EQ_INT(kc.n, msg->len);
    CHECK(memcmp(kc.buf, "MSG foo 1 5\r\nhello\r\n", msg->len) == 0);
    t.ops->free(&t);
    tls_sess_free(c);
    free(info);
    free(msg);
    tls_opt_free(&so);
    tls_opt_free(&co);
}

TEST(sniffing)
{
    struct tls_opt so = server_opt(false);
    struct transport t = {.ops = &transport_plain};
    hs_calls = 0;
    CHECK_EQ_INT(tlst_install(&t, so.ctx, true, NULL, 0, true, on_hs), 0);
    CHECK(tlst_sniffing(&t));
    memset(&ks, 0, sizeof ks);
    CHECK_EQ_INT(t.ops->input(&t, "PING\r\n", 6, into, &ks), 0);
    CHECK(t.ops == &transport_plain); /* not a TLS record: plain from now on */
    CHECK_EQ_INT(hs_calls, 1);
    CHECK_EQ_INT(ks.n, 6);
    tls_opt_free(&so);
}

TEST(bad_files)
{
    struct tls_opt o = {.configured = true};
    o.cert_file = strdup(path("srv.pem"));
    o.key_file = strdup(path("cli-key.pem")); /* not its key */
    char err[256] = "";
    CHECK_EQ_INT(tls_opt_build(&o, TLS_SERVER, err, sizeof err), -1);
    CHECK(strstr(err, "error parsing X509 certificate/key pair") != NULL);
    tls_opt_free(&o);
    o = (struct tls_opt){.configured = true};
    o.ca_file = strdup(path("srv.csr")); /* no certificate in it */
    CHECK_EQ_INT(tls_opt_build(&o, TLS_SERVER, err, sizeof err), -1);
    CHECK(strstr(err, "failed to parse root ca certificate") != NULL);
    tls_opt_free(&o);
}

int main(void)
{
    if (make_certs() != 0) {
        fprintf(stderr, "openssl could not make the test certificates in %s\n", dir);
        return 1;
    }
    RUN(handshake_and_data);
    RUN(host_names);
    RUN(client_certificates);
    RUN(dn_matching);
    RUN(names);
    RUN(cipher_list_is_applied);
    RUN(transport_accounting);
    RUN(sniffing);
    RUN(bad_files);
    cleanup();
    return unit_report();
}
