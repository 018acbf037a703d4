/* pubsub: a minimal raw-socket 1:1 throughput probe, the seed of bench/.
 * One subscriber connection, one publisher connection, N messages of S bytes
 * published in large writes; prints messages/s seen by the subscriber.
 * Usage: pubsub PORT [N] [SIZE] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static long nmsgs = 1000000, size = 128;

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void wr(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            perror("write");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* read until `pat` has been seen `count` times (pattern may straddle reads) */
static void wait_for(int fd, const char *pat, long count)
{
    char buf[1 << 16];
    size_t pl = strlen(pat), keep = 0;
    long seen = 0;
    while (seen < count) {
        ssize_t r = read(fd, buf + keep, sizeof buf - keep);
        if (r <= 0) {
            fprintf(stderr, "read: closed after %ld\n", seen);
            exit(1);
        }
        size_t n = keep + (size_t)r;
        for (size_t i = 0; i + pl <= n; i++)
            if (buf[i] == pat[0] && memcmp(buf + i, pat, pl) == 0)
                seen++, i += pl - 1;
        keep = pl - 1 < n ? pl - 1 : n;
        memmove(buf, buf + n - keep, keep);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pubsub PORT [N] [SIZE]\n");
        return 2;
    }
    port = atoi(argv[1]);
    if (argc > 2)
        nmsgs = atol(argv[2]);
    if (argc > 3)
        size = atol(argv[3]);
    const char *c0 = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
    int sub = dial(), pub = dial();
    wr(sub, c0, strlen(c0));
    wr(sub, "SUB bench 1\r\nPING\r\n", 19);
    wait_for(sub, "PONG\r\n", 1);
    wr(pub, c0, strlen(c0));
    char hdr[64];
    int hl = snprintf(hdr, sizeof hdr, "PUB bench %ld\r\n", size);
    size_t one = (size_t)hl + (size_t)size + 2, per = (1 << 16) / one + 1;
    char *chunk = malloc(one * per);
    for (size_t i = 0; i < per; i++) {
        memcpy(chunk + i * one, hdr, (size_t)hl);
        memset(chunk + i * one + hl, 'x', (size_t)size);
        memcpy(chunk + i * one + hl + size, "\r\n", 2);
    }
    double t0 = now();
    long left = nmsgs;
    pthread_t th;
    (void)th;
    /* subscriber counts on this thread after the publisher finished writing
     * enough for the kernel buffers; run the publisher in a child process */
    pid_t pid = fork();
    if (pid == 0) {
        while (left > 0) {
            long k = left < (long)per ? left : (long)per;
            wr(pub, chunk, one * (size_t)k);
            left -= k;
        }
        wr(pub, "PING\r\n", 6);
        _exit(0);
    }
    wait_for(sub, "MSG bench", nmsgs);
    double dt = now() - t0;
    printf("%ld msgs x %ld B in %.3f s: %.0f msgs/s, %.1f MB/s\n", nmsgs, size, dt, nmsgs / dt,
           nmsgs * size / dt / 1e6);
    return 0;
}
