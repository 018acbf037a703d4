/* A driver for the option and logging code behind what tests/ops checks
 * through a running server: opts_load_quiet, opts_reload_check, the Go
 * duration format, ports_file_write, and log_reconfigure racing with
 * writers. Built by test_probe.py against build/libgannet.a.
 *
 *   probe load ARGS...              opts_load_quiet(argv = probe ARGS...): rc, err, fields
 *   probe reload OLDCONF NEWCONF    load both with -c, then opts_reload_check
 *   probe dur MS                    opts_duration_str
 *   probe ports EXE DIR HOST PORT   ports_file_write as if argv[0] were EXE
 *   probe logstress DIR THREADS N   N lines per thread while the main thread
 *                                   switches DIR/a.log, stderr, DIR/b.log (rotating)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "opts.h"

static void dump(const struct opts *o)
{
#define S(f) printf(#f "=%s\n", o->f ? o->f : "(null)")
#define I(f) printf(#f "=%lld\n", (long long)o->f)
    S(host); I(port); S(server_name); S(config_file); I(shards); I(xshard_max_pending);
    I(max_payload); I(max_pending); I(max_control_line); I(max_connections); I(max_subs);
    I(ping_interval_ms); I(ping_max); I(write_deadline_ms);
    S(user); S(pass); S(token); I(nusers); S(no_auth_user); I(auth_timeout_ms);
    I(debug); I(trace); I(logtime); I(logtime_utc); S(log_file); S(pid_file);
    I(log_size_limit); I(syslog); S(remote_syslog); S(ports_file_dir);
    I(lame_duck_duration_ms); I(lame_duck_grace_ms); I(argc);
    S(http_host); I(http_port); S(http_base_path);
    I(tls.configured); I(tls.verify); I(tls.timeout_ms); I(allow_non_tls); I(https_port);
    I(naccounts); S(system_account); I(no_system_account); I(nmaps);
    I(cluster.configured); S(cluster.name); S(cluster.host); I(cluster.port); I(cluster.nroutes);
    S(cluster.advertise); I(cluster.no_advertise); I(cluster.connect_retries); S(client_advertise);
    I(connect_error_reports); I(reconnect_error_reports);
#undef S
#undef I
    for (int i = 0; i < o->nusers; i++)
        printf("users[%d]=%s\n", i, o->users[i].name ? o->users[i].name : o->users[i].nkey);
}

/* one line: newlines in multi-error texts become " || " */
static void print_err(const char *err)
{
    printf("err=");
    for (const char *p = err; *p; p++)
        p[0] == '\n' ? (void)fputs(" || ", stdout) : (void)putchar(*p);
    putchar('\n');
}

static int do_load(int argc, char **argv)
{
    struct opts o;
    char err[4096];
    int rc = opts_load_quiet(&o, argc, argv, err, sizeof err);
    printf("rc=%d\n", rc);
    print_err(err);
    if (rc == 0)
        dump(&o);
    opts_free(&o);
    return 0;
}

static int do_reload(const char *a, const char *b)
{
    char *av[] = {"gannet", "-c", (char *)a, NULL}, *bv[] = {"gannet", "-c", (char *)b, NULL};
    struct opts o1, o2;
    char err[4096];
    int r1 = opts_load_quiet(&o1, 3, av, err, sizeof err);
    if (r1 < 0)
        printf("load-old: %s\n", err);
    int r2 = opts_load_quiet(&o2, 3, bv, err, sizeof err);
    if (r2 < 0)
        printf("load-new: %s\n", err);
    if (r1 == 0 && r2 == 0) {
        int rc = opts_reload_check(&o1, &o2, err, sizeof err);
        printf("check=%d\n", rc);
        print_err(err);
    }
    opts_free(&o1);
    opts_free(&o2);
    return 0;
}

struct writer {
    int id, lines;
};

static void *writer(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < w->lines; i++)
        log_info("writer %d line %d padding-padding-padding-padding-padding-padding-padding", w->id, i);
    return NULL;
}

static int do_logstress(const char *dir, int nthreads, int lines)
{
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/a.log", dir);
    snprintf(b, sizeof b, "%s/b.log", dir);
    struct log_config ca = {.logtime = true, .file = a, .size_limit = 64 * 1024};
    struct log_config cs = {.logtime = true};
    struct log_config cb = {.logtime = false, .file = b, .size_limit = 0};
    if (log_open(&ca) < 0) {
        fprintf(stderr, "%s\n", log_error_text());
        return 1;
    }
    pthread_t t[64];
    struct writer w[64];
    if (nthreads > 64)
        nthreads = 64;
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct writer){.id = i, .lines = lines};
        pthread_create(&t[i], NULL, writer, &w[i]);
    }
    for (int k = 0; k < 300; k++) {
        const struct log_config *c = k % 3 == 0 ? &cs : k % 3 == 1 ? &cb : &ca;
        if (log_reconfigure(c) < 0) {
            fprintf(stderr, "%s\n", log_error_text());
            return 1;
        }
        if (k % 7 == 0)
            log_reopen();
        usleep(200);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "load"))
        return do_load(argc - 1, argv + 1);
    if (!strcmp(argv[1], "reload") && argc == 4)
        return do_reload(argv[2], argv[3]);
    if (!strcmp(argv[1], "dur") && argc == 3) {
        char b[64];
        opts_duration_str(atoll(argv[2]), b, sizeof b);
        printf("%s\n", b);
        return 0;
    }
    if (!strcmp(argv[1], "ports") && argc == 6) {
        char *av[] = {argv[2], NULL};
        struct opts o = {.argv = av, .argc = 1, .ports_file_dir = argv[3], .host = argv[4]};
        ports_file_write(&o, atoi(argv[5]));
        return 0;
    }
    if (!strcmp(argv[1], "logstress") && argc == 5)
        return do_logstress(argv[2], atoi(argv[3]), atoi(argv[4]));
    return 2;
}
