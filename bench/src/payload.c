/* payload.c — JSON-like payload bodies (--payload json) and the route's
 * wire bytes (--wire-port), for the route-compression scenarios.
 *
 * json_fill() writes what an application's events look like on the wire:
 * a stream of records with the same keys over and over, values drawn from
 * small vocabularies (event types, names, countries, statuses), numbers
 * that vary (ids, amounts, counts, timestamps that grow) and one random
 * hex id per record (the part no compressor can shrink). The text is cut
 * at the wanted length, mid-record if need be. Deterministic: the same
 * seed gives the same bytes, whichever server the run is against.
 *
 * wire_bytes() sums, over the established TCP sockets of this network
 * namespace whose local port is the given one (a seed node's cluster port:
 * the route connections other nodes dialled), the kernel's tcpi_bytes_acked
 * (what that node sent and the peer acknowledged) and tcpi_bytes_received,
 * through NETLINK_SOCK_DIAG as `ss -ti` reads them. Counting is what TCP
 * carried: after compression, including every protocol line.
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define PICK(v, rng) (v)[mix(rng) % (sizeof(v) / sizeof *(v))]

void json_fill(unsigned char *dst, size_t n, uint64_t seed)
{
    static const char *const types[] = {"order.created", "order.paid", "order.shipped", "cart.updated",
                                        "user.login", "user.logout", "payment.failed", "inventory.low"};
    static const char *const names[] = {"maria", "jonas", "aiko", "li.wei", "olga", "pedro", "fatima", "sam",
                                        "noah", "emma", "lukas", "zoe", "ivan", "ana", "kofi", "mei"};
    static const char *const countries[] = {"DE", "FR", "US", "JP", "BR", "IN", "NG", "SE", "PL", "CA"};
    static const char *const statuses[] = {"pending", "ok", "retry", "rejected"};
    static const char *const tags[] = {"web", "mobile", "api", "batch", "promo", "vip", "beta"};
    static const char *const currencies[] = {"EUR", "USD", "JPY", "BRL"};
    uint64_t rng = seed * 0x2545f4914f6cdd1dull + 1;
    uint64_t ts = 1733250000000ull + (mix(&rng) % 86400000u);
    char buf[640];
    size_t off = 0;
    if (n && off < n)
        dst[off++] = '[';
    while (off < n) {
        ts += mix(&rng) % 5000;
        uint64_t h1 = mix(&rng), h2 = mix(&rng);
        unsigned ntag = (unsigned)(mix(&rng) % 3);
        char tagbuf[64] = "";
        size_t tl = 0;
        for (unsigned t = 0; t < ntag; t++)
            tl += (size_t)snprintf(tagbuf + tl, sizeof tagbuf - tl, "%s\"%s\"", t ? "," : "", PICK(tags, &rng));
        const char *type = PICK(types, &rng);
        const char *name = PICK(names, &rng);
        const char *country = PICK(countries, &rng);
        const char *status = PICK(statuses, &rng);
        const char *cur = PICK(currencies, &rng);
        unsigned uid = (unsigned)(mix(&rng) % 100000u);
        unsigned cents = (unsigned)(mix(&rng) % 50000u);
        unsigned items = 1 + (unsigned)(mix(&rng) % 9);
        unsigned ms = (unsigned)(mix(&rng) % 900);
        int k = snprintf(buf, sizeof buf,
                         "{\"id\":\"%08x-%04x-%04x-%04x-%012llx\",\"ts\":%llu,\"type\":\"%s\","
                         "\"user\":{\"id\":%u,\"name\":\"%s\",\"country\":\"%s\"},"
                         "\"amount\":%u.%02u,\"currency\":\"%s\",\"items\":%u,\"status\":\"%s\","
                         "\"latency_ms\":%u,\"tags\":[%s]},\n",
                         (unsigned)(h1 >> 32), (unsigned)(h1 >> 16) & 0xffffu, (unsigned)h1 & 0xffffu,
                         (unsigned)(h2 >> 48), (unsigned long long)(h2 & 0xffffffffffffull),
                         (unsigned long long)ts, type, uid, name, country, cents / 100, cents % 100, cur, items,
                         status, ms, tagbuf);
        size_t take = (size_t)k < n - off ? (size_t)k : n - off;
        memcpy(dst + off, buf, take);
        off += take;
    }
}

int wire_bytes(int port, uint64_t *acked, uint64_t *received)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -errno;
    struct {
        struct nlmsghdr nh;
        struct inet_diag_req_v2 r;
    } req = {
        .nh = {.nlmsg_len = sizeof req, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
               .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
        .r = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP,
              .idiag_ext = 1u << (INET_DIAG_INFO - 1), .idiag_states = 1u << 1 /* TCP_ESTABLISHED */},
    };
    struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&nl, sizeof nl) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    static char buf[1 << 16];
    uint64_t a = 0, rcv = 0;
    int socks = 0, done = 0;
    while (!done) {
        ssize_t len = recv(fd, buf, sizeof buf, 0);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (len == 0)
            break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = 1;
                break;
            }
            struct inet_diag_msg *m = NLMSG_DATA(h);
            if (ntohs(m->id.idiag_sport) != port)
                continue;
            int rlen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
            for (struct rtattr *at = (struct rtattr *)(m + 1); RTA_OK(at, rlen); at = RTA_NEXT(at, rlen)) {
                if (at->rta_type != INET_DIAG_INFO)
                    continue;
                struct tcp_info ti;
                memset(&ti, 0, sizeof ti);
                size_t k = RTA_PAYLOAD(at) < sizeof ti ? RTA_PAYLOAD(at) : sizeof ti;
                memcpy(&ti, RTA_DATA(at), k);
                a += ti.tcpi_bytes_acked;
                rcv += ti.tcpi_bytes_received;
                socks++;
            }
        }
    }
    close(fd);
    *acked = a;
    *received = rcv;
    return socks;
}
