/*
 * natsc_test — checks a NATS server with the real C client (libnats).
 *
 *   natsc_test URL            run the protocol checks (connect, wildcards,
 *                             queue groups, request/reply, headers,
 *                             no-responders, auto-unsubscribe, drain)
 *   natsc_test URL reconnect  reconnect check: prints "READY" once connected,
 *                             then waits (bounded) for the server to go away
 *                             and come back on the same URL; the caller
 *                             restarts the server after reading READY.
 *   natsc_test URL tls CA [CERT KEY]
 *                             TLS checks (natsOptions_SetSecure, CA trusted,
 *                             expected hostname "localhost", client cert
 *                             chain if given): connect, pub/sub in order,
 *                             a large message, request/reply, headers
 *   natsc_test URL tls-reject CA [CERT KEY]
 *                             the same TLS options; the connect must fail
 *
 * One line per check on stdout ("PASS name: ..." or "FAIL name: ...").
 * Exit status 0 when every check passed, 1 otherwise, 2 on usage errors.
 * Every wait is bounded; nothing is judged by how long it took.
 *
 * Ordering used to know "everything has arrived" without timing: a server
 * delivers messages from one publisher connection to one subscriber
 * connection in publish order, so once a sentinel message published last has
 * arrived on a connection, every earlier message for that connection is
 * already in the client's queues.
 */
#include <nats/nats.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 5000 /* bound for one expected message / reply */

static const char *g_url;
static int g_fail;
static int g_pass;

static void result(bool ok, const char *name, const char *fmt, ...)
{
    va_list ap;
    printf("%s %s: ", ok ? "PASS" : "FAIL", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (ok)
        g_pass++;
    else
        g_fail++;
}

static void die(const char *what, natsStatus s)
{
    printf("FAIL %s: %s (%s)\n", what, natsStatus_GetText(s), nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
    fflush(stdout);
    exit(1);
}

#define MUST(what, call)                 \
    do {                                 \
        natsStatus s_ = (call);          \
        if (s_ != NATS_OK)               \
            die((what), s_);             \
    } while (0)

/* snprintf at *len, never past the end (output is cut instead) */
__attribute__((format(printf, 4, 5))) static void appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    if (*len >= size)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size ? *len + (size_t)n : size;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_ts(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* ------------------------------------------------------------------ */
/* connections */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int disconnected;
    int reconnected;
    int closed;
} conn_events;

static void ev_init(conn_events *ev)
{
    memset(ev, 0, sizeof(*ev));
    pthread_mutex_init(&ev->mu, NULL);
    pthread_cond_init(&ev->cv, NULL);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    conn_events *ev = closure;
    pthread_mutex_lock(&ev->mu);
    ev->disconnected++;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    conn_events *ev = closure;
    pthread_mutex_lock(&ev->mu);
    ev->reconnected++;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

static void on_closed(natsConnection *nc, void *closure)
{
    conn_events *ev = closure;
    pthread_mutex_lock(&ev->mu);
    ev->closed++;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

/* Wait until *field >= want; false on timeout. */
static bool ev_wait(conn_events *ev, int *field, int want, int64_t ms)
{
    struct timespec ts;
    bool ok;
    deadline_ts(&ts, ms);
    pthread_mutex_lock(&ev->mu);
    while (*field < want) {
        if (pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) != 0)
            break;
    }
    ok = *field >= want;
    pthread_mutex_unlock(&ev->mu);
    return ok;
}

/* ev may be NULL. reconnect: allow (bounded) reconnection with short waits. */
static natsStatus connect_ex(natsConnection **nc, const char *name, conn_events *ev, bool reconnect)
{
    natsOptions *o = NULL;
    natsStatus s;
    MUST("options", natsOptions_Create(&o));
    MUST("options", natsOptions_SetURL(o, g_url));
    MUST("options", natsOptions_SetName(o, name));
    MUST("options", natsOptions_SetTimeout(o, WAIT_MS));
    /* The client must never drop messages itself: checks count exactly. */
    MUST("options", natsOptions_SetMaxPendingMsgs(o, 1000000));
    if (reconnect) {
        MUST("options", natsOptions_SetAllowReconnect(o, true));
        MUST("options", natsOptions_SetMaxReconnect(o, 400));
        MUST("options", natsOptions_SetReconnectWait(o, 100));
        MUST("options", natsOptions_SetReconnectJitter(o, 20, 20));
    } else {
        MUST("options", natsOptions_SetAllowReconnect(o, false));
    }
    if (ev != NULL) {
        MUST("options", natsOptions_SetDisconnectedCB(o, on_disconnected, ev));
        MUST("options", natsOptions_SetReconnectedCB(o, on_reconnected, ev));
        MUST("options", natsOptions_SetClosedCB(o, on_closed, ev));
    }
    s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    return s;
}

static natsConnection *conn(const char *name)
{
    natsConnection *nc = NULL;
    MUST(name, connect_ex(&nc, name, NULL, false));
    return nc;
}

static void unlimited(natsSubscription *sub)
{
    MUST("pending limits", natsSubscription_SetPendingLimits(sub, -1, -1));
}

static natsSubscription *sub_sync(natsConnection *nc, const char *subj)
{
    natsSubscription *sub = NULL;
    MUST(subj, natsConnection_SubscribeSync(&sub, nc, subj));
    unlimited(sub);
    return sub;
}

static void flush(natsConnection *nc)
{
    MUST("flush", natsConnection_FlushTimeout(nc, WAIT_MS));
}

/* Next message's payload as a string (into buf); false on timeout. */
static bool next_str(natsSubscription *sub, int64_t ms, char *buf, size_t len, char *subj, size_t slen)
{
    natsMsg *m = NULL;
    if (natsSubscription_NextMsg(&m, sub, ms) != NATS_OK)
        return false;
    snprintf(buf, len, "%.*s", natsMsg_GetDataLength(m), natsMsg_GetData(m));
    if (subj != NULL)
        snprintf(subj, slen, "%s", natsMsg_GetSubject(m));
    natsMsg_Destroy(m);
    return true;
}

static uint64_t in_msgs(natsConnection *nc)
{
    natsStatistics *st = NULL;
    uint64_t in = 0;
    MUST("stats", natsStatistics_Create(&st));
    MUST("stats", natsConnection_GetStats(nc, st));
    MUST("stats", natsStatistics_GetCounts(st, &in, NULL, NULL, NULL, NULL));
    natsStatistics_Destroy(st);
    return in;
}

/* ------------------------------------------------------------------ */
/* connect */

static void check_connect(void)
{
    natsConnection *nc = NULL;
    natsStatus s = connect_ex(&nc, "natsc-connect", NULL, false);
    char id[256] = "";
    int64_t rtt = 0;

    result(s == NATS_OK, "connect", "natsConnection_Connect(%s) -> %s", g_url, natsStatus_GetText(s));
    if (s != NATS_OK)
        exit(1);
    result(natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED, "connect.status", "status %d",
           (int)natsConnection_Status(nc));
    s = natsConnection_GetConnectedServerId(nc, id, sizeof(id));
    result(s == NATS_OK && id[0] != '\0', "connect.server_id", "INFO server_id '%s'", id);
    result(natsConnection_GetMaxPayload(nc) > 0, "connect.max_payload", "INFO max_payload %lld",
           (long long)natsConnection_GetMaxPayload(nc));
    s = natsConnection_HasHeaderSupport(nc);
    result(s == NATS_OK, "connect.headers_supported", "INFO headers -> %s", natsStatus_GetText(s));
    s = natsConnection_FlushTimeout(nc, WAIT_MS);
    result(s == NATS_OK, "connect.ping_pong", "flush -> %s", natsStatus_GetText(s));
    s = natsConnection_GetRTT(nc, &rtt);
    result(s == NATS_OK, "connect.rtt", "GetRTT -> %s", natsStatus_GetText(s));
    natsConnection_Destroy(nc);
}

/* ------------------------------------------------------------------ */
/* pub/sub with wildcards */

static void check_wildcards(void)
{
    static const char *subjects[] = {"w.*.x", "w.>", "w.a.x", "*.a.>"};
    enum { NSUB = 4 };
    /* subject published, and which subscriptions (bit i = subjects[i]) match */
    static const struct {
        const char *subj;
        unsigned match;
    } pubs[] = {
        {"w.a.x", 0xF},  {"w.b.x", 0x3}, {"w.a.y", 0x2 | 0x8}, {"w.a.y.z", 0x2 | 0x8},
        {"w", 0x0},      {"w.a", 0x2},   {"w.b.x.y", 0x2},     {"v.a.x", 0x8},
        {"w.ab.x", 0x3}, {"x.b.x", 0x0}, {"wa.a.x", 0x8},      {"w.a.x.y.z", 0x2 | 0x8},
    };
    enum { NPUB = sizeof(pubs) / sizeof(pubs[0]) };
    natsConnection *s_nc = conn("natsc-wild-sub"), *p_nc = conn("natsc-wild-pub");
    natsSubscription *subs[NSUB];

    for (int i = 0; i < NSUB; i++)
        subs[i] = sub_sync(s_nc, subjects[i]);
    flush(s_nc);
    for (int j = 0; j < NPUB; j++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "m%d", j);
        MUST("publish", natsConnection_PublishString(p_nc, pubs[j].subj, payload));
    }
    /* sentinel, matches every subscription */
    MUST("publish", natsConnection_PublishString(p_nc, "w.a.x", "END"));
    flush(p_nc);

    for (int i = 0; i < NSUB; i++) {
        char want[512] = "", got[512] = "";
        size_t wl = 0, gl = 0;
        for (int j = 0; j < NPUB; j++)
            if (pubs[j].match & (1u << i))
                appendf(want, sizeof(want), &wl, "%s=m%d ", pubs[j].subj, j);
        appendf(want, sizeof(want), &wl, "w.a.x=END");
        for (int k = 0; k <= NPUB; k++) {
            char data[64], subj[64];
            if (!next_str(subs[i], WAIT_MS, data, sizeof(data), subj, sizeof(subj))) {
                appendf(got, sizeof(got), &gl, "<timeout>");
                break;
            }
            appendf(got, sizeof(got), &gl, "%s%s=%s", k ? " " : "", subj, data);
            if (strcmp(data, "END") == 0)
                break;
        }
        char name[64];
        snprintf(name, sizeof(name), "pubsub.wildcard[%s]", subjects[i]);
        result(strcmp(want, got) == 0, name, "want [%s] got [%s]", want, got);
        natsSubscription_Destroy(subs[i]);
    }
    natsConnection_Destroy(s_nc);
    natsConnection_Destroy(p_nc);
}

/* ------------------------------------------------------------------ */
/* queue groups */

static void check_queue(void)
{
    enum { N = 1000, NM = 3 };
    /* two members on two connections, a third member on the first connection */
    natsConnection *c1 = conn("natsc-q1"), *c2 = conn("natsc-q2"), *cw = conn("natsc-q-watch"),
                   *p = conn("natsc-q-pub");
    natsConnection *mconn[NM] = {c1, c2, c1};
    natsSubscription *members[NM], *end1, *end2, *endw, *watch;
    static int seen[N];
    int per[NM] = {0}, dup = 0, bad = 0, watch_n = 0, watch_order = 1;
    char buf[64];

    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < NM; i++) {
        MUST("qsub", natsConnection_QueueSubscribeSync(&members[i], mconn[i], "q.work", "workers"));
        unlimited(members[i]);
    }
    watch = sub_sync(cw, "q.work"); /* plain subscriber: gets every message */
    end1 = sub_sync(c1, "q.end");
    end2 = sub_sync(c2, "q.end");
    endw = sub_sync(cw, "q.end");
    flush(c1);
    flush(c2);
    flush(cw);
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof(buf), "%d", i);
        MUST("publish", natsConnection_PublishString(p, "q.work", buf));
    }
    MUST("publish", natsConnection_PublishString(p, "q.end", "END"));
    flush(p);

    bool ends = next_str(end1, WAIT_MS, buf, sizeof(buf), NULL, 0) &&
                next_str(end2, WAIT_MS, buf, sizeof(buf), NULL, 0) &&
                next_str(endw, WAIT_MS, buf, sizeof(buf), NULL, 0);
    result(ends, "queue.sentinel", "end marker reached all three connections");
    /* Everything published before the sentinel is now queued in the client. */
    for (int i = 0; i < NM; i++) {
        while (next_str(members[i], 0, buf, sizeof(buf), NULL, 0)) {
            int v = atoi(buf);
            if (v < 0 || v >= N) {
                bad++;
                continue;
            }
            if (seen[v]++)
                dup++;
            per[i]++;
        }
    }
    int missing = 0;
    for (int i = 0; i < N; i++)
        missing += seen[i] == 0;
    result(missing == 0 && dup == 0 && bad == 0 && per[0] + per[1] + per[2] == N, "queue.exactly_once",
           "%d messages: members got %d+%d+%d, missing %d, duplicates %d, garbage %d", N, per[0], per[1],
           per[2], missing, dup, bad);
    result(per[0] > 0 && per[1] > 0 && per[2] > 0, "queue.spread", "every member got some (%d/%d/%d)", per[0],
           per[1], per[2]);
    while (next_str(watch, 0, buf, sizeof(buf), NULL, 0)) {
        if (atoi(buf) != watch_n)
            watch_order = 0;
        watch_n++;
    }
    result(watch_n == N && watch_order, "queue.plain_sub_alongside", "plain subscriber got %d/%d, in order: %s",
           watch_n, N, watch_order ? "yes" : "no");

    for (int i = 0; i < NM; i++)
        natsSubscription_Destroy(members[i]);
    natsSubscription_Destroy(watch);
    natsSubscription_Destroy(end1);
    natsSubscription_Destroy(end2);
    natsSubscription_Destroy(endw);
    natsConnection_Destroy(c1);
    natsConnection_Destroy(c2);
    natsConnection_Destroy(cw);
    natsConnection_Destroy(p);
}

/* ------------------------------------------------------------------ */
/* request/reply (responder echoes payload and the X-Req-Id header) */

static void responder(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    const char *reply = natsMsg_GetReply(msg), *rid = NULL;
    char buf[256];
    natsMsg *out = NULL;
    if (reply != NULL && reply[0] != '\0') {
        snprintf(buf, sizeof(buf), "echo:%.*s", natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
        if (natsMsg_Create(&out, reply, NULL, buf, (int)strlen(buf)) == NATS_OK) {
            if (natsMsgHeader_Get(msg, "X-Req-Id", &rid) == NATS_OK)
                natsMsgHeader_Set(out, "X-Req-Id", rid);
            natsConnection_PublishMsg(nc, out);
            natsMsg_Destroy(out);
        }
    }
    natsMsg_Destroy(msg);
}

static void check_request_reply(void)
{
    enum { N = 50 };
    natsConnection *r = conn("natsc-responder"), *c = conn("natsc-requester");
    natsSubscription *svc = NULL;
    int good = 0;
    char want[64], last[512] = "";

    MUST("subscribe", natsConnection_Subscribe(&svc, r, "svc.echo", responder, NULL));
    flush(r);
    for (int i = 0; i < N; i++) {
        natsMsg *rep = NULL;
        snprintf(want, sizeof(want), "hello-%d", i);
        natsStatus s = natsConnection_RequestString(&rep, c, "svc.echo", want, WAIT_MS);
        if (s != NATS_OK) {
            snprintf(last, sizeof(last), "request %d -> %s", i, natsStatus_GetText(s));
            continue;
        }
        char got[128];
        snprintf(got, sizeof(got), "%.*s", natsMsg_GetDataLength(rep), natsMsg_GetData(rep));
        snprintf(want, sizeof(want), "echo:hello-%d", i);
        if (strcmp(got, want) == 0)
            good++;
        else
            snprintf(last, sizeof(last), "request %d: want '%s' got '%s'", i, want, got);
        natsMsg_Destroy(rep);
    }
    result(good == N, "request_reply", "%d/%d correct replies %s", good, N, last);

    /* request with a header; the responder copies it into the reply */
    natsMsg *req = NULL, *rep = NULL;
    const char *v = NULL;
    MUST("msg", natsMsg_Create(&req, "svc.echo", NULL, "hdr", 3));
    MUST("hdr", natsMsgHeader_Set(req, "X-Req-Id", "id-42"));
    natsStatus s = natsConnection_RequestMsg(&rep, c, req, WAIT_MS);
    bool ok = s == NATS_OK && natsMsgHeader_Get(rep, "X-Req-Id", &v) == NATS_OK && strcmp(v, "id-42") == 0 &&
              natsMsg_GetDataLength(rep) == 8 && memcmp(natsMsg_GetData(rep), "echo:hdr", 8) == 0;
    result(ok, "request_reply.headers", "request -> %s, reply X-Req-Id '%s'", natsStatus_GetText(s),
           v ? v : "(none)");
    natsMsg_Destroy(req);
    natsMsg_Destroy(rep);

    natsSubscription_Destroy(svc);
    natsConnection_Destroy(r);
    natsConnection_Destroy(c);
}

/* ------------------------------------------------------------------ */
/* headers */

static void check_headers(void)
{
    natsConnection *s_nc = conn("natsc-hdr-sub"), *p_nc = conn("natsc-hdr-pub");
    natsSubscription *sub = sub_sync(s_nc, "hdr.x");
    natsMsg *m = NULL, *got = NULL;
    const char *v = NULL, **vals = NULL;
    int nvals = 0;
    natsStatus s;

    flush(s_nc);
    MUST("msg", natsMsg_Create(&m, "hdr.x", "reply.to", "payload-1", 9));
    MUST("hdr", natsMsgHeader_Set(m, "X-Test", "v1"));
    MUST("hdr", natsMsgHeader_Add(m, "X-Multi", "a"));
    MUST("hdr", natsMsgHeader_Add(m, "X-Multi", "b c"));
    MUST("publish", natsConnection_PublishMsg(p_nc, m));
    natsMsg_Destroy(m);
    /* headers with an empty body */
    MUST("msg", natsMsg_Create(&m, "hdr.x", NULL, NULL, 0));
    MUST("hdr", natsMsgHeader_Set(m, "X-Only", "yes"));
    MUST("publish", natsConnection_PublishMsg(p_nc, m));
    natsMsg_Destroy(m);
    /* no headers at all */
    MUST("publish", natsConnection_PublishString(p_nc, "hdr.x", "plain"));
    flush(p_nc);

    s = natsSubscription_NextMsg(&got, sub, WAIT_MS);
    if (s != NATS_OK) {
        result(false, "headers.roundtrip", "no message: %s", natsStatus_GetText(s));
    } else {
        bool ok = natsMsgHeader_Get(got, "X-Test", &v) == NATS_OK && strcmp(v, "v1") == 0;
        result(ok, "headers.roundtrip", "X-Test = '%s'", ok ? v : "(missing)");
        ok = natsMsgHeader_Values(got, "X-Multi", &vals, &nvals) == NATS_OK && nvals == 2 &&
             strcmp(vals[0], "a") == 0 && strcmp(vals[1], "b c") == 0;
        result(ok, "headers.multi_value", "X-Multi has %d values (want 2): '%s' '%s'", nvals,
               nvals > 0 ? vals[0] : "", nvals > 1 ? vals[1] : "");
        free((void *)vals);
        ok = natsMsg_GetDataLength(got) == 9 && memcmp(natsMsg_GetData(got), "payload-1", 9) == 0 &&
             natsMsg_GetReply(got) != NULL && strcmp(natsMsg_GetReply(got), "reply.to") == 0;
        result(ok, "headers.payload_and_reply", "payload '%.*s' reply '%s'", natsMsg_GetDataLength(got),
               natsMsg_GetData(got), natsMsg_GetReply(got) ? natsMsg_GetReply(got) : "(none)");
        natsMsg_Destroy(got);
    }
    got = NULL;
    v = NULL;
    s = natsSubscription_NextMsg(&got, sub, WAIT_MS);
    bool ok = s == NATS_OK && natsMsgHeader_Get(got, "X-Only", &v) == NATS_OK && strcmp(v, "yes") == 0 &&
              natsMsg_GetDataLength(got) == 0;
    result(ok, "headers.empty_body", "next -> %s, X-Only '%s', body %d bytes", natsStatus_GetText(s),
           v ? v : "(missing)", s == NATS_OK ? natsMsg_GetDataLength(got) : -1);
    natsMsg_Destroy(got);
    got = NULL;
    s = natsSubscription_NextMsg(&got, sub, WAIT_MS);
    ok = s == NATS_OK && natsMsgHeader_Get(got, "X-Test", &v) == NATS_NOT_FOUND && natsMsg_GetDataLength(got) == 5 &&
         memcmp(natsMsg_GetData(got), "plain", 5) == 0;
    result(ok, "headers.none_on_plain_msg", "next -> %s, plain message carries no headers", natsStatus_GetText(s));
    natsMsg_Destroy(got);

    natsSubscription_Destroy(sub);
    natsConnection_Destroy(s_nc);
    natsConnection_Destroy(p_nc);
}

/* ------------------------------------------------------------------ */
/* no responders */

static void check_no_responders(void)
{
    natsConnection *c = conn("natsc-noresp");
    natsMsg *rep = NULL;
    int64_t t0 = now_ms();
    /* the timeout is long: the check is that the server answers with 503
     * (NATS_NO_RESPONDERS), not that the request times out (NATS_TIMEOUT) */
    natsStatus s = natsConnection_RequestString(&rep, c, "nobody.listens.here", "x", 10000);
    result(s == NATS_NO_RESPONDERS, "no_responders", "request -> %s after %lld ms (want %s)",
           natsStatus_GetText(s), (long long)(now_ms() - t0), natsStatus_GetText(NATS_NO_RESPONDERS));
    natsMsg_Destroy(rep);
    natsConnection_Destroy(c);
}

/* ------------------------------------------------------------------ */
/* auto-unsubscribe */

static void check_auto_unsubscribe(void)
{
    enum { MAX = 5, SENT = 12 };
    natsConnection *s_nc = conn("natsc-au-sub"), *p_nc = conn("natsc-au-pub");
    natsSubscription *sub = sub_sync(s_nc, "au.x"), *end = NULL;
    char buf[64], got[256] = "";
    size_t gl = 0;
    int n = 0, order = 1;

    MUST("autounsub", natsSubscription_AutoUnsubscribe(sub, MAX));
    end = sub_sync(s_nc, "au.end");
    flush(s_nc); /* UNSUB <sid> 5 is at the server before anything is published */
    uint64_t in0 = in_msgs(s_nc);
    for (int i = 0; i < SENT; i++) {
        snprintf(buf, sizeof(buf), "%d", i);
        MUST("publish", natsConnection_PublishString(p_nc, "au.x", buf));
    }
    MUST("publish", natsConnection_PublishString(p_nc, "au.end", "END"));
    flush(p_nc);
    bool end_ok = next_str(end, WAIT_MS, buf, sizeof(buf), NULL, 0);
    while (n <= SENT && next_str(sub, 0, buf, sizeof(buf), NULL, 0)) {
        if (atoi(buf) != n)
            order = 0;
        appendf(got, sizeof(got), &gl, "%s%s", n ? "," : "", buf);
        n++;
    }
    result(end_ok && n == MAX && order, "auto_unsubscribe.client", "max %d, published %d, received [%s]", MAX, SENT,
           got);
    natsMsg *m = NULL;
    natsStatus s = natsSubscription_NextMsg(&m, sub, 0);
    result(s != NATS_OK && !natsSubscription_IsValid(sub), "auto_unsubscribe.closed",
           "subscription closed after max (next -> %s)", natsStatus_GetText(s));
    natsMsg_Destroy(m);
    /* the connection counts every MSG the server sent, even for a sid the
     * client already dropped: the server itself must stop at MAX */
    uint64_t in = in_msgs(s_nc) - in0;
    result(in == MAX + 1, "auto_unsubscribe.server", "server sent %llu messages on the connection (want %d + sentinel)",
           (unsigned long long)in, MAX);

    natsSubscription_Destroy(sub);
    natsSubscription_Destroy(end);
    natsConnection_Destroy(s_nc);
    natsConnection_Destroy(p_nc);
}

/* ------------------------------------------------------------------ */
/* drain */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate_open;
    int count;
    int out_of_order;
} collector;

static void coll_init(collector *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void coll_open(collector *c)
{
    pthread_mutex_lock(&c->mu);
    c->gate_open = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int coll_count(collector *c)
{
    pthread_mutex_lock(&c->mu);
    int n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Blocks (bounded) until the gate opens, so that messages pile up in the
 * client while the drain starts; then counts and checks order. */
static void gated_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    collector *c = closure;
    struct timespec ts;
    char buf[32];
    deadline_ts(&ts, 15000);
    snprintf(buf, sizeof(buf), "%.*s", natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
    pthread_mutex_lock(&c->mu);
    while (!c->gate_open)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0)
            break;
    if (atoi(buf) != c->count)
        c->out_of_order++;
    c->count++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    natsMsg_Destroy(msg);
}

static void check_sub_drain(void)
{
    enum { N = 500, LATE = 10 };
    natsConnection *s_nc = conn("natsc-drain-sub"), *p_nc = conn("natsc-drain-pub");
    natsSubscription *sub = NULL, *end = NULL;
    static collector col; /* outlives the subscription's callback thread */
    char buf[32];

    coll_init(&col);
    MUST("subscribe", natsConnection_Subscribe(&sub, s_nc, "dr.s", gated_cb, &col));
    unlimited(sub);
    end = sub_sync(s_nc, "dr.end");
    flush(s_nc);
    uint64_t in0 = in_msgs(s_nc);
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof(buf), "%d", i);
        MUST("publish", natsConnection_PublishString(p_nc, "dr.s", buf));
    }
    flush(p_nc); /* the server has accepted all N before the drain starts */
    natsStatus s = natsSubscription_Drain(sub);
    result(s == NATS_OK, "drain.subscription.start", "Drain -> %s with %d delivered so far", natsStatus_GetText(s),
           coll_count(&col));
    coll_open(&col);
    s = natsSubscription_WaitForDrainCompletion(sub, 15000);
    natsStatus cs = natsSubscription_DrainCompletionStatus(sub);
    pthread_mutex_lock(&col.mu);
    int n = col.count, ooo = col.out_of_order;
    pthread_mutex_unlock(&col.mu);
    result(s == NATS_OK && cs == NATS_OK && n == N && ooo == 0, "drain.subscription",
           "wait -> %s, completion -> %s, callback got %d/%d, out of order %d", natsStatus_GetText(s),
           natsStatus_GetText(cs), n, N, ooo);

    /* after the drain the server must no longer send for that subscription */
    for (int i = 0; i < LATE; i++) {
        snprintf(buf, sizeof(buf), "%d", N + i);
        MUST("publish", natsConnection_PublishString(p_nc, "dr.s", buf));
    }
    MUST("publish", natsConnection_PublishString(p_nc, "dr.end", "END"));
    flush(p_nc);
    bool end_ok = next_str(end, WAIT_MS, buf, sizeof(buf), NULL, 0);
    uint64_t in = in_msgs(s_nc) - in0;
    result(end_ok && in == N + 1 && coll_count(&col) == N, "drain.subscription.unsubscribed",
           "server sent %llu on the connection (want %d + sentinel), callback count %d",
           (unsigned long long)in, N, coll_count(&col));

    natsSubscription_Destroy(sub);
    natsSubscription_Destroy(end);
    natsConnection_Destroy(s_nc);
    natsConnection_Destroy(p_nc);
}

static void check_conn_drain(void)
{
    enum { N = 300 };
    /* static: libnats may still run callbacks (closed, disconnected) on its
     * own threads after the connection objects are destroyed */
    static conn_events ev;
    static collector ca, cb;
    natsConnection *s_nc = NULL, *p_nc = conn("natsc-cdrain-pub");
    natsSubscription *sa = NULL, *sb = NULL;
    char buf[32];

    ev_init(&ev);
    coll_init(&ca);
    coll_init(&cb);
    MUST("connect", connect_ex(&s_nc, "natsc-cdrain-sub", &ev, false));
    MUST("subscribe", natsConnection_Subscribe(&sa, s_nc, "cd.a", gated_cb, &ca));
    MUST("subscribe", natsConnection_Subscribe(&sb, s_nc, "cd.b", gated_cb, &cb));
    unlimited(sa);
    unlimited(sb);
    flush(s_nc);
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof(buf), "%d", i);
        MUST("publish", natsConnection_PublishString(p_nc, "cd.a", buf));
        MUST("publish", natsConnection_PublishString(p_nc, "cd.b", buf));
    }
    flush(p_nc);
    natsStatus s = natsConnection_DrainTimeout(s_nc, 15000);
    result(s == NATS_OK, "drain.connection.start", "Drain -> %s", natsStatus_GetText(s));
    coll_open(&ca);
    coll_open(&cb);
    bool closed = ev_wait(&ev, &ev.closed, 1, 20000);
    result(closed && natsConnection_IsClosed(s_nc), "drain.connection.closed", "connection closed after drain: %s",
           closed ? "yes" : "no (timed out)");
    pthread_mutex_lock(&ca.mu);
    pthread_mutex_lock(&cb.mu);
    result(ca.count == N && cb.count == N && ca.out_of_order == 0 && cb.out_of_order == 0, "drain.connection",
           "callbacks got %d/%d and %d/%d, out of order %d/%d", ca.count, N, cb.count, N, ca.out_of_order,
           cb.out_of_order);
    pthread_mutex_unlock(&cb.mu);
    pthread_mutex_unlock(&ca.mu);
    s = natsConnection_PublishString(s_nc, "cd.a", "late");
    result(s == NATS_CONNECTION_CLOSED, "drain.connection.no_publish", "publish after drain -> %s",
           natsStatus_GetText(s));

    natsSubscription_Destroy(sa);
    natsSubscription_Destroy(sb);
    natsConnection_Destroy(s_nc);
    natsConnection_Destroy(p_nc);
}

/* ------------------------------------------------------------------ */
/* reconnect: the caller restarts the server on the same port */

static void check_reconnect(void)
{
    static conn_events ea, eb; /* callbacks may fire after Destroy returns */
    natsConnection *a = NULL, *b = NULL;
    natsSubscription *sa = NULL, *sb = NULL;
    char buf[64], id0[256] = "", id1[256] = "";
    natsStatus s;

    ev_init(&ea);
    ev_init(&eb);
    MUST("connect", connect_ex(&a, "natsc-rc-a", &ea, true));
    MUST("connect", connect_ex(&b, "natsc-rc-b", &eb, true));
    sa = sub_sync(a, "rc.x");
    flush(a);
    MUST("publish", natsConnection_PublishString(b, "rc.x", "before"));
    flush(b);
    bool ok = next_str(sa, WAIT_MS, buf, sizeof(buf), NULL, 0) && strcmp(buf, "before") == 0;
    result(ok, "reconnect.before", "pub/sub works before the restart");
    natsConnection_GetConnectedServerId(a, id0, sizeof(id0));

    printf("READY\n");
    fflush(stdout);

    bool da = ev_wait(&ea, &ea.disconnected, 1, 30000);
    bool db = ev_wait(&eb, &eb.disconnected, 1, 30000);
    result(da && db, "reconnect.disconnected", "both connections saw the server go away");
    /* Published while disconnected: libnats buffers it, and on reconnect
     * resends SUBs before the buffer, so the server must deliver it to a's own
     * subscription. (If a reconnected already, it is an ordinary publish.) */
    s = natsConnection_PublishString(a, "rc.x", "buffered");
    result(s == NATS_OK, "reconnect.buffered_publish", "publish while disconnected -> %s", natsStatus_GetText(s));

    bool ra = ev_wait(&ea, &ea.reconnected, 1, 30000);
    bool rb = ev_wait(&eb, &eb.reconnected, 1, 30000);
    result(ra && rb, "reconnect.reconnected", "both connections reconnected (a: %s, b: %s)", ra ? "yes" : "no",
           rb ? "yes" : "no");
    if (!(ra && rb)) {
        natsConnection_Destroy(a);
        natsConnection_Destroy(b);
        return;
    }
    natsConnection_GetConnectedServerId(a, id1, sizeof(id1));
    printf("INFO server_id before %s after %s\n", id0, id1);

    ok = next_str(sa, WAIT_MS, buf, sizeof(buf), NULL, 0) && strcmp(buf, "buffered") == 0;
    result(ok, "reconnect.buffered_delivered", "message published while disconnected delivered after reconnect");

    /* the subscription made before the restart was re-registered */
    flush(a);
    MUST("publish", natsConnection_PublishString(b, "rc.x", "after"));
    flush(b);
    ok = next_str(sa, WAIT_MS, buf, sizeof(buf), NULL, 0) && strcmp(buf, "after") == 0;
    result(ok, "reconnect.resubscribed", "old subscription receives from another connection after reconnect");

    /* a new subscription on the new server, other direction */
    sb = sub_sync(b, "rc.y");
    flush(b);
    MUST("publish", natsConnection_PublishString(a, "rc.y", "new"));
    flush(a);
    ok = next_str(sb, WAIT_MS, buf, sizeof(buf), NULL, 0) && strcmp(buf, "new") == 0;
    result(ok, "reconnect.new_subscription", "new subscription works after reconnect");

    natsMsg *rep = NULL;
    s = natsConnection_RequestString(&rep, a, "rc.nobody", "x", 10000);
    result(s == NATS_NO_RESPONDERS, "reconnect.headers_renegotiated",
           "no-responders still works after reconnect (request -> %s)", natsStatus_GetText(s));
    natsMsg_Destroy(rep);

    natsSubscription_Destroy(sa);
    natsSubscription_Destroy(sb);
    natsConnection_Destroy(a);
    natsConnection_Destroy(b);
}

/* ------------------------------------------------------------------ */
/* TLS: natsc_test URL tls|tls-reject CA [CERT KEY] */

static const char *g_tls_ca, *g_tls_cert, *g_tls_key;

static natsStatus tls_connect(natsConnection **nc, const char *name)
{
    natsOptions *o = NULL;
    natsStatus s;
    MUST("options", natsOptions_Create(&o));
    MUST("options", natsOptions_SetURL(o, g_url));
    MUST("options", natsOptions_SetName(o, name));
    MUST("options", natsOptions_SetTimeout(o, WAIT_MS));
    MUST("options", natsOptions_SetMaxPendingMsgs(o, 1000000));
    MUST("options", natsOptions_SetAllowReconnect(o, false));
    MUST("tls secure", natsOptions_SetSecure(o, true));
    MUST("tls ca", natsOptions_LoadCATrustedCertificates(o, g_tls_ca));
    MUST("tls hostname", natsOptions_SetExpectedHostname(o, "localhost"));
    if (g_tls_cert != NULL)
        MUST("tls cert", natsOptions_LoadCertificatesChain(o, g_tls_cert, g_tls_key));
    s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    return s;
}

static natsConnection *tls_conn(const char *name)
{
    natsConnection *nc = NULL;
    MUST(name, tls_connect(&nc, name));
    return nc;
}

static void check_tls(void)
{
    natsConnection *nc = NULL;
    natsStatus s = tls_connect(&nc, "natsc-tls-connect");
    char id[256] = "";

    result(s == NATS_OK, "tls.connect", "natsConnection_Connect(%s) over TLS -> %s (%s)", g_url,
           natsStatus_GetText(s), s == NATS_OK ? "" : nats_GetLastError(NULL));
    if (s != NATS_OK)
        return;
    s = natsConnection_GetConnectedServerId(nc, id, sizeof(id));
    result(s == NATS_OK && id[0] != '\0', "tls.server_id", "INFO server_id '%s'", id);
    s = natsConnection_FlushTimeout(nc, WAIT_MS);
    result(s == NATS_OK, "tls.ping_pong", "flush -> %s", natsStatus_GetText(s));
    natsConnection_Destroy(nc);

    /* pub/sub: N messages then a sentinel, all in order */
    enum { N = 200 };
    natsConnection *sc = tls_conn("natsc-tls-sub"), *pc = tls_conn("natsc-tls-pub");
    natsSubscription *sub = sub_sync(sc, "tls.ps");
    flush(sc);
    for (int i = 0; i < N; i++) {
        char p[32];
        snprintf(p, sizeof(p), "m%d", i);
        MUST("publish", natsConnection_PublishString(pc, "tls.ps", p));
    }
    MUST("publish", natsConnection_PublishString(pc, "tls.ps", "END"));
    flush(pc);
    int good = 0;
    char buf[64], want[32];
    for (int i = 0; i <= N; i++) {
        if (!next_str(sub, WAIT_MS, buf, sizeof(buf), NULL, 0))
            break;
        if (i == N)
            snprintf(want, sizeof(want), "END");
        else
            snprintf(want, sizeof(want), "m%d", i);
        if (strcmp(buf, want) != 0)
            break;
        good++;
    }
    result(good == N + 1, "tls.pubsub", "%d/%d messages in order over TLS", good, N + 1);

    /* one large message: many TLS records */
    enum { BIG = 400000 };
    char *big = malloc(BIG);
    for (int i = 0; i < BIG; i++)
        big[i] = (char)('a' + i % 26);
    MUST("publish", natsConnection_Publish(pc, "tls.ps", big, BIG));
    flush(pc);
    natsMsg *m = NULL;
    s = natsSubscription_NextMsg(&m, sub, WAIT_MS);
    bool ok = s == NATS_OK && natsMsg_GetDataLength(m) == BIG && memcmp(natsMsg_GetData(m), big, BIG) == 0;
    result(ok, "tls.large_message", "%d-byte message -> %s, %d bytes", BIG, natsStatus_GetText(s),
           m ? natsMsg_GetDataLength(m) : -1);
    natsMsg_Destroy(m);
    free(big);

    /* headers */
    natsMsg *hm = NULL, *got = NULL;
    const char *v = NULL;
    MUST("msg", natsMsg_Create(&hm, "tls.ps", NULL, "h", 1));
    MUST("hdr", natsMsgHeader_Set(hm, "X-Tls", "yes"));
    MUST("publish", natsConnection_PublishMsg(pc, hm));
    flush(pc);
    s = natsSubscription_NextMsg(&got, sub, WAIT_MS);
    ok = s == NATS_OK && natsMsgHeader_Get(got, "X-Tls", &v) == NATS_OK && strcmp(v, "yes") == 0;
    result(ok, "tls.headers", "header message -> %s, X-Tls '%s'", natsStatus_GetText(s), v ? v : "(none)");
    natsMsg_Destroy(hm);
    natsMsg_Destroy(got);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(sc);
    natsConnection_Destroy(pc);

    /* request/reply */
    enum { R = 20 };
    natsConnection *r = tls_conn("natsc-tls-responder"), *c = tls_conn("natsc-tls-requester");
    natsSubscription *svc = NULL;
    char last[256] = "";
    good = 0;
    MUST("subscribe", natsConnection_Subscribe(&svc, r, "tls.echo", responder, NULL));
    flush(r);
    for (int i = 0; i < R; i++) {
        natsMsg *rep = NULL;
        char req[32], exp[48], gotr[64];
        snprintf(req, sizeof(req), "q%d", i);
        s = natsConnection_RequestString(&rep, c, "tls.echo", req, WAIT_MS);
        if (s != NATS_OK) {
            snprintf(last, sizeof(last), "request %d -> %s", i, natsStatus_GetText(s));
            continue;
        }
        snprintf(exp, sizeof(exp), "echo:q%d", i);
        snprintf(gotr, sizeof(gotr), "%.*s", natsMsg_GetDataLength(rep), natsMsg_GetData(rep));
        if (strcmp(exp, gotr) == 0)
            good++;
        else
            snprintf(last, sizeof(last), "request %d: want '%s' got '%s'", i, exp, gotr);
        natsMsg_Destroy(rep);
    }
    result(good == R, "tls.request_reply", "%d/%d correct replies over TLS %s", good, R, last);
    natsSubscription_Destroy(svc);
    natsConnection_Destroy(r);
    natsConnection_Destroy(c);
}

static void check_tls_reject(void)
{
    natsConnection *nc = NULL;
    natsStatus s = tls_connect(&nc, "natsc-tls-reject");
    const char *err = nats_GetLastError(NULL);
    result(s != NATS_OK, "tls.rejected", "natsConnection_Connect -> %s (%s)", natsStatus_GetText(s),
           err ? err : "");
    if (nc != NULL)
        natsConnection_Destroy(nc);
}

int main(int argc, char **argv)
{
    bool tls = argc >= 4 && (strcmp(argv[2], "tls") == 0 || strcmp(argv[2], "tls-reject") == 0);
    if (tls) {
        if (argc != 4 && argc != 6) {
            fprintf(stderr, "usage: %s URL tls|tls-reject CA [CERT KEY]\n", argv[0]);
            return 2;
        }
        g_tls_ca = argv[3];
        if (argc == 6) {
            g_tls_cert = argv[4];
            g_tls_key = argv[5];
        }
    } else if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "reconnect") != 0)) {
        fprintf(stderr, "usage: %s URL [reconnect]\n", argv[0]);
        return 2;
    }
    g_url = argv[1];
    MUST("nats_Open", nats_Open(-1));
    if (tls) {
        if (strcmp(argv[2], "tls") == 0)
            check_tls();
        else
            check_tls_reject();
    } else if (argc == 3) {
        check_reconnect();
    } else {
        check_connect();
        check_wildcards();
        check_queue();
        check_request_reply();
        check_headers();
        check_no_responders();
        check_auto_unsubscribe();
        check_sub_drain();
        check_conn_drain();
    }
    printf("SUMMARY %d passed, %d failed\n", g_pass, g_fail);
    fflush(stdout);
    nats_CloseAndWait(5000);
    return g_fail ? 1 : 0;
}
