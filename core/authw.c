/* Auth workers: see authw.h. The queue is a mutex and a condition
 * variable: it is control-plane traffic (one job per bcrypt CONNECT). */
#include "authw.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "shard.h"

#define AUTHW_NICE 10

struct job {
    struct job *next;
    int shard;
    uint32_t slot, gen;
    char *hash, *given;
};

struct authw {
    struct server *srv;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, **tail;
    bool stop;
    int n;
    pthread_t *threads;
};

static void job_free(struct job *j)
{
    free(j->hash);
    if (j->given) {
        memset(j->given, 0, strlen(j->given)); /* a password: do not leave it in freed memory */
        free(j->given);
    }
    free(j);
}

static void *worker(void *arg)
{
    struct authw *w = arg;
    /* below the shards: a CONNECT storm's bcrypt takes the CPU they leave,
     * and a shard that wakes preempts it (Linux: per-thread nice) */
    setpriority(PRIO_PROCESS, (id_t)gettid(), AUTHW_NICE);
    struct crypt_data *cd = calloc(1, sizeof *cd);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        struct job *j = w->head;
        w->head = j->next;
        if (!w->head)
            w->tail = &w->head;
        pthread_mutex_unlock(&w->mu);
        bool ok = false;
        if (cd) {
            memset(cd, 0, sizeof *cd);
            const char *h = crypt_r(j->given, j->hash, cd);
            ok = h && strcmp(h, j->hash) == 0;
        }
        struct shard_cmd *c = calloc(1, sizeof *c);
        if (c) { /* no memory: the connection's auth timeout closes it */
            c->type = SC_AUTH_DONE;
            c->auth.slot = j->slot;
            c->auth.gen = j->gen;
            c->auth.ok = ok;
            c->auth.hash = j->hash;
            j->hash = NULL;
            shard_post(w->srv->shards[j->shard], c);
        }
        job_free(j);
    }
    free(cd);
    return NULL;
}

int authw_start(struct server *s, int nthreads, struct authw **out)
{
    struct authw *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->srv = s;
    w->tail = &w->head;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->threads = calloc((size_t)nthreads, sizeof *w->threads);
    if (!w->threads) {
        free(w);
        return -ENOMEM;
    }
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&w->threads[i], NULL, worker, w) != 0)
            break;
        w->n++;
    }
    if (w->n == 0) {
        free(w->threads);
        free(w);
        return -EAGAIN;
    }
    *out = w;
    return 0;
}

void authw_stop(struct authw *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    for (struct job *j = w->head, *n; j; j = n) {
        n = j->next;
        job_free(j);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->threads);
    free(w);
}

int authw_submit(struct authw *w, int shard, uint32_t slot, uint32_t gen, const char *hash, const char *given)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->shard = shard;
    j->slot = slot;
    j->gen = gen;
    j->hash = strdup(hash);
    j->given = strdup(given ? given : "");
    if (!j->hash || !j->given) {
        job_free(j);
        return -ENOMEM;
    }
    pthread_mutex_lock(&w->mu);
    *w->tail = j;
    w->tail = &j->next;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}
