/* Message encoders per connection kind (core/encode.h): each form is the
 * line nats-server 2.9.10 was observed to send (nats-compat.md §1, §3.2,
 * §5.2), byte for byte, and never longer than msgline_max() says. */
#include <stdio.h>
#include <stdlib.h>

#include "encode.h"
#include "unit.h"

#define SV(s) ((struct strv){(s), (uint32_t)(sizeof(s) - 1)})

static char out[70000];

static const char *enc(enum conn_kind k, const struct msgline *m)
{
    size_t max = msgline_max(k, m);
    memset(out, '#', sizeof out);
    size_t n = msgline_encode(k, out, m);
    CHECK(n <= max);
    CHECK(n >= 2 && out[n - 2] == '\r' && out[n - 1] == '\n');
    out[n] = 0;
    return out;
}

TEST(client_forms)
{
    struct msgline m = {.subj = SV("foo.bar"), .sid = SV("9"), .hdr = -1, .size = 5};
    CHECK_EQ_STR(enc(CK_CLIENT, &m), "MSG foo.bar 9 5\r\n");
    m.reply = SV("_INBOX.x");
    CHECK_EQ_STR(enc(CK_CLIENT, &m), "MSG foo.bar 9 _INBOX.x 5\r\n");
    m.hdr = 12, m.size = 14;
    CHECK_EQ_STR(enc(CK_CLIENT, &m), "HMSG foo.bar 9 _INBOX.x 12 14\r\n");
    m.reply = (struct strv){0};
    m.hdrtok = SV("12"), m.sztok = SV("14"); /* the publisher's tokens, copied */
    CHECK_EQ_STR(enc(CK_CLIENT, &m), "HMSG foo.bar 9 12 14\r\n");
    m.hdr = -1, m.hdrtok = (struct strv){0}, m.sztok = (struct strv){0}, m.size = 0;
    CHECK_EQ_STR(enc(CK_CLIENT, &m), "MSG foo.bar 9 0\r\n");
}

TEST(route_forms)
{
    struct strv q[] = {SV("q1"), SV("q2")};
    struct msgline m = {.subj = SV("bar"), .acc = SV("$G"), .hdr = -1, .size = 1};
    CHECK_EQ_STR(enc(CK_ROUTE, &m), "RMSG $G bar 1\r\n");
    m.reply = SV("rr");
    CHECK_EQ_STR(enc(CK_ROUTE, &m), "RMSG $G bar rr 1\r\n");
    m.queues = q, m.nqueues = 1;
    CHECK_EQ_STR(enc(CK_ROUTE, &m), "RMSG $G bar + rr q1 1\r\n");
    m.reply = (struct strv){0};
    CHECK_EQ_STR(enc(CK_ROUTE, &m), "RMSG $G bar | q1 1\r\n"); /* [obs] */
    m.nqueues = 2;
    CHECK_EQ_STR(enc(CK_ROUTE, &m), "RMSG $G bar | q1 q2 1\r\n");
    m.nqueues = 0, m.subj = SV("foo"), m.hdr = 12, m.size = 14;
    CHECK_EQ_STR(enc(CK_ROUTE, &m), "HMSG $G foo 12 14\r\n"); /* [obs] */
    m.acc = (struct strv){0}; /* a connection pinned to the account omits it (2.10+) */
    CHECK_EQ_STR(enc(CK_ROUTE, &m), "HMSG foo 12 14\r\n");
    m.hdr = -1, m.size = 3, m.reply = SV("r");
    CHECK_EQ_STR(enc(CK_ROUTE, &m), "RMSG foo r 3\r\n");
}

TEST(leaf_forms)
{
    struct strv q[] = {SV("qq")};
    struct msgline m = {.subj = SV("baz"), .reply = SV("rr"), .queues = q, .nqueues = 1, .hdr = -1, .size = 3};
    CHECK_EQ_STR(enc(CK_LEAF, &m), "LMSG baz + rr qq 3\r\n"); /* [obs] */
    m.subj = SV("bar"), m.reply = (struct strv){0}, m.size = 1;
    m.queues = (struct strv[]){SV("q1")};
    CHECK_EQ_STR(enc(CK_LEAF, &m), "LMSG bar | q1 1\r\n"); /* [obs] */
    m.nqueues = 0;
    CHECK_EQ_STR(enc(CK_LEAF, &m), "LMSG bar 1\r\n");
    m.hdr = 0, m.size = 1;
    CHECK_EQ_STR(enc(CK_LEAF, &m), "HMSG bar 0 1\r\n");
}

TEST(many_queues_and_long_tokens_fit_the_bound)
{
    static struct strv q[300];
    static char names[300][8];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(names[i], sizeof names[i], "g%d", i);
        q[i] = (struct strv){names[i], (uint32_t)n};
    }
    static char subj[65536];
    memset(subj, 'a', sizeof subj);
    struct msgline m = {.subj = {subj, sizeof subj}, .acc = SV("ACCOUNT"), .reply = SV("_INBOX.reply"),
                        .queues = q, .nqueues = 300, .hdr = 4294967295u, .size = 4294967295u};
    const char *s = enc(CK_ROUTE, &m);
    CHECK(strncmp(s, "HMSG ACCOUNT aaaa", 17) == 0);
    CHECK(strstr(s, " + _INBOX.reply g0 g1 ") != NULL);
    CHECK(strstr(s, " g299 4294967295 4294967295\r\n") != NULL);
}

int main(void)
{
    RUN(client_forms);
    RUN(route_forms);
    RUN(leaf_forms);
    RUN(many_queues_and_long_tokens_fit_the_bound);
    return unit_report();
}
