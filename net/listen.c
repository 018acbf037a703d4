/* Listening sockets. Every shard binds its own SO_REUSEPORT socket to the
 * client port so that the kernel spreads new connections over the shards
 * and no accept ever crosses threads. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shard.h"

int listener_open(const char *host, int port, int *bound_port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port < 0 ? 0 : port);
    const char *h = host && *host && strcmp(host, "0.0.0.0") != 0 ? host : NULL;
    if (h && strcmp(h, "::") == 0)
        h = NULL;
    if (!h)
        hints.ai_family = (host && strcmp(host, "::") == 0) ? AF_INET6 : AF_INET;
    int rc = getaddrinfo(h, ps, &hints, &res);
    if (rc != 0)
        return -EADDRNOTAVAIL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        freeaddrinfo(res);
        return rc;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bound_port && port > 0) {
        /* The first listener of a server: SO_REUSEPORT would let it join a
         * port that another process (say, a second gannet) already listens
         * on, and the kernel would split clients between two servers. Bind
         * plainly first to find out, as nats-server would fail here. */
        if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
            rc = -errno;
            close(fd);
            freeaddrinfo(res);
            return rc;
        }
        close(fd);
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            freeaddrinfo(res);
            return rc;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        rc = -errno;
        close(fd);
        freeaddrinfo(res);
        return rc;
    }
    freeaddrinfo(res);
    if (bound_port) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}
