/* libFuzzer target for net/tls.c: whatever a peer sends into a TLS
 * session that has not finished its handshake (the slowloris and garbage
 * cases of a TLS port), through the connection transport.
 *
 * Input: byte 0 = configuration (bit 0: verify client certificates, bit 1:
 * allow_non_tls sniffing, bit 2: the dialling side of a route, which sends
 * its ClientHello first), byte 1 = where the rest is split into two reads;
 * the rest = the bytes the peer sends. After each read the output the
 * session queued is "written" in full, as the kernel would take it.
 *
 * Checked: plaintext is delivered only once the handshake is done (or the
 * transport turned plain by sniffing); a sent() never reports more
 * plaintext than was queued; nothing leaks (ASan).
 *
 * The certificate and key are made once by the openssl CLI in a temporary
 * directory (LLVMFuzzerInitialize). */
#include "tls.h"
#include "transport.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tls_opt srv[2], cli;
static bool ready;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char dir[] = "/tmp/gannet-fuzz-tls-XXXXXX";
    if (!mkdtemp(dir))
        return 0;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost >/dev/null 2>&1",
             dir);
    if (system(cmd) != 0)
        return 0;
    char c[128], k[128], err[256];
    snprintf(c, sizeof c, "%s/c.pem", dir);
    snprintf(k, sizeof k, "%s/k.pem", dir);
    for (int v = 0; v < 2; v++) {
        srv[v] = (struct tls_opt){.configured = true, .verify = v, .cert_file = strdup(c), .key_file = strdup(k),
                                  .ca_file = strdup(c)};
        if (tls_opt_build(&srv[v], TLS_SERVER, err, sizeof err) < 0)
            return 0;
    }
    cli = (struct tls_opt){.configured = true, .insecure = true, .cert_file = strdup(c), .key_file = strdup(k)};
    if (tls_opt_build(&cli, TLS_CLIENT, err, sizeof err) < 0)
        return 0;
    ready = true;
    return 0;
}

struct state {
    struct transport *t;
    size_t delivered;
};

static int deliver(void *arg, const char *p, size_t n)
{
    struct state *st = arg;
    struct tls_sess *s = tlst_session(st->t);
    if (p && s && !tls_sess_done(s))
        abort(); /* plaintext before the handshake is done */
    if (p)
        st->delivered += n;
    return 0;
}

static int on_hs(void *arg) { return 0; }

/* Write everything the transport has, as a kernel that takes it all. */
static void drain(struct transport *t, struct oblock *q, uint32_t *q_off)
{
    for (int round = 0; round < 64; round++) {
        struct iovec iov[SEND_IOV_MAX];
        uint32_t wire = 0;
        int n = t->ops->prep(t, q, *q_off, iov, SEND_IOV_MAX, &wire);
        if (n <= 0 || wire == 0)
            return;
        uint32_t done = t->ops->sent(t, wire);
        if (done > q->len - *q_off)
            abort(); /* more plaintext done than was queued */
        *q_off += done;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready || size < 2)
        return 0;
    bool verify = data[0] & 1, sniff = data[0] & 2, dial = data[0] & 4;
    size_t split = data[1];
    data += 2;
    size -= 2;
    struct transport t = {.ops = &transport_plain};
    int rc = dial ? tlst_install(&t, cli.client_ctx, false, "localhost", 0, false, on_hs)
                  : tlst_install(&t, srv[verify].ctx, true, NULL, 0, sniff, on_hs);
    if (rc < 0)
        return 0;
    struct state st = {.t = &t};
    struct oblock *q = calloc(1, sizeof *q + 64);
    memcpy(q->data, "PING\r\n", 6);
    q->len = 6;
    q->cap = 64;
    uint32_t q_off = 0;
    if (dial && t.ops->input(&t, NULL, 0, deliver, &st) < 0)
        goto out;
    drain(&t, q, &q_off);
    size_t first = split < size ? split : size;
    if (t.ops->input(&t, (const char *)data, first, deliver, &st) >= 0) {
        drain(&t, q, &q_off);
        if (t.ops->input(&t, (const char *)data + first, size - first, deliver, &st) >= 0)
            drain(&t, q, &q_off);
    }
    drain(&t, q, &q_off); /* a failed session's alert */
out:
    if (t.ops->free)
        t.ops->free(&t);
    free(q);
    return 0;
}
