/* gannet: a NATS server. main() is the control thread: options, logging,
 * server start, then signals until shutdown. `gannet --signal <cmd>` sends a
 * signal to a running gannet instead (nats-server's ProcessSignal). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "opts.h"
#include "server.h"

#define PROG "gannet"

static const struct {
    const char *cmd;
    int sig;
} commands[] = {
    {"stop", SIGKILL}, {"quit", SIGINT}, {"term", SIGTERM}, {"reopen", SIGUSR1}, {"reload", SIGHUP}, {"ldm", SIGUSR2},
};

static bool is_gannet_exe(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    /* a binary replaced on disk reads "gannet (deleted)" */
    return strcmp(base, PROG) == 0 || strcmp(base, PROG " (deleted)") == 0;
}

/* Every running gannet but this process, found through /proc/<pid>/exe, so
 * that one started through the nats-server symlink is found too (its exe is
 * gannet). Where exe cannot be read (another user's process), comm is used. */
static int find_gannets(int *pids, int cap)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        int pid = atoi(e->d_name);
        if (pid == (int)getpid())
            continue;
        /* /proc/<pid>/stat: "pid (comm) state ..."; a zombie has exited already */
        char p[64], exe[PATH_MAX], st[512] = "", comm[32] = "", state = 0;
        snprintf(p, sizeof p, "/proc/%d/stat", pid);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        bool got = fgets(st, sizeof st, f) != NULL;
        fclose(f);
        char *open = strchr(st, '('), *close = strrchr(st, ')');
        if (!got || !open || !close || close < open || close[1] != ' ')
            continue;
        snprintf(comm, sizeof comm, "%.*s", (int)(close - open - 1), open + 1);
        state = close[2];
        if (state == 'Z' || state == 'X')
            continue;
        snprintf(p, sizeof p, "/proc/%d/exe", pid);
        ssize_t k = readlink(p, exe, sizeof exe - 1);
        bool match;
        if (k > 0) {
            exe[k] = 0;
            match = is_gannet_exe(exe);
        } else {
            match = strcmp(comm, PROG) == 0;
        }
        if (match && n < cap)
            pids[n++] = pid;
    }
    closedir(d);
    return n;
}

/* `<cmd>[=<pid|pidfile>]`: returns the exit status. */
static int send_signal(const char *arg)
{
    char *cmd = strdup(arg), *target = NULL;
    if (!cmd)
        return 1;
    char *eq = strchr(cmd, '=');
    if (eq) {
        *eq = 0;
        target = eq[1] ? eq + 1 : NULL; /* "reload=": no pid, as nats-server reads it */
        char *more = strchr(eq + 1, '=');
        if (more) { /* Go prints the rest of strings.Split as a slice */
            fprintf(stderr, PROG ": invalid signal parameters: [");
            for (char *p = more + 1, *q; p; p = q) {
                q = strchr(p, '=');
                fprintf(stderr, "%.*s%s", q ? (int)(q - p) : (int)strlen(p), p, q ? " " : "");
                q = q ? q + 1 : NULL;
            }
            fprintf(stderr, "]\n");
            free(cmd);
            return 1;
        }
    }
    int pid = 0, rc = 1;
    if (target) {
        /* a pid file if it can be read, else the pid itself (nats-server's maybeReadPidFile) */
        char buf[64] = "", *end;
        FILE *f = fopen(target, "r");
        const char *s = target;
        if (f) {
            size_t k = fread(buf, 1, sizeof buf - 1, f);
            buf[k] = 0;
            fclose(f);
            while (k > 0 && isspace((unsigned char)buf[k - 1])) /* pid files written by others end in \n */
                buf[--k] = 0;
            s = buf;
        }
        long v = strtol(s, &end, 10);
        if (!*s || *end || v <= 0 || v > INT_MAX) {
            fprintf(stderr, PROG ": invalid pid: %s\n", s);
            goto out;
        }
        pid = (int)v;
    }
    int sig = 0;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].cmd, cmd) == 0)
            sig = commands[i].sig;
    if (!sig) {
        fprintf(stderr, PROG ": unknown signal \"%s\"\n", cmd);
        goto out;
    }
    if (!target) {
        int pids[64];
        int n = find_gannets(pids, 64);
        if (n <= 0) {
            fprintf(stderr, PROG ": %s\n", n == 0 ? "no " PROG " processes running" : "unable to resolve pid, try providing one");
            goto out;
        }
        if (n > 1) {
            fprintf(stderr, PROG ": multiple " PROG " processes running:");
            for (int i = 0; i < n; i++)
                fprintf(stderr, "\n%d", pids[i]);
            fprintf(stderr, "\n");
            goto out;
        }
        pid = pids[0];
    }
    if (kill(pid, sig) < 0) {
        char eb[128];
        snprintf(eb, sizeof eb, "%s", strerror(errno));
        eb[0] = (char)tolower((unsigned char)eb[0]); /* Go's errno text */
        fprintf(stderr, PROG ": %s\n", eb);
        goto out;
    }
    rc = 0;
out:
    free(cmd);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    int rc = opts_load(&o, argc, argv);
    if (rc != 0) {
        opts_free(&o);
        return rc > 0 ? 0 : 1;
    }
    if (o.signal_cmd) {
        rc = send_signal(o.signal_cmd);
        opts_free(&o);
        return rc;
    }
    struct log_config lc;
    opts_log_config(&o, &lc);
    if (log_open(&lc) < 0) {
        fprintf(stderr, PROG ": %s\n", log_error_text());
        opts_free(&o);
        return 1;
    }
    if (o.max_payload > 8 * 1024 * 1024) /* nats-server's start-up warning, in the log */
        log_warn("Maximum payloads over 8.00 MB are generally discouraged and could lead to poor performance");
    /* Block the signals server_run() waits for before the listener opens:
     * a client (or a test) that sees the port open may signal at once, and
     * an unblocked SIGHUP or SIGUSR1 would kill the process with the default
     * action before server_run() gets to sigwait(). Threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct server srv;
    rc = server_init(&srv, &o);
    if (rc == 0)
        rc = server_run(&srv);
    server_free(&srv);
    opts_free(&o);
    return rc == 0 ? 0 : 1;
}
