#include "engine/core/worker_pool.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct pool_thread {
    pool *p;
    store_worker *w;
    pthread_t thread;
    int started;
} pool_thread;

struct pool {
    pool_fn fn;
    void *ctx;
    int count;
    pool_thread threads[];
};

static void *thread_main(void *arg)
{
    pool_thread *const t = arg;
    t->p->fn(t->p->ctx, t->w);
    return NULL;
}

static int cpu_count(void)
{
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

cairn_err pool_start(store *s, int threads, pool_fn fn, void *ctx, pool **out)
{
    const int n = threads > 0 ? threads : cpu_count();
    cairn_err rc = CAIRN_OK;
    assert(fn && n >= 1);
    pool *const p = calloc(1, sizeof *p + (size_t)n * sizeof p->threads[0]);
    if (!p)
        return err_set(CAIRN_ENOMEM, "out of memory");
    p->fn = fn;
    p->ctx = ctx;
    p->count = n;
    for (int i = 0; i < n && !rc; i++) {
        pool_thread *const t = &p->threads[i];
        t->p = p;
        rc = store_worker_new(s, &t->w);
        if (!rc && pthread_create(&t->thread, NULL, thread_main, t) != 0)
            rc = err_set(CAIRN_ENOMEM, "cannot start a worker thread");
        t->started = rc == CAIRN_OK;
    }
    if (rc) {
        pool_join(p);
        return rc;
    }
    *out = p;
    return CAIRN_OK;
}

int pool_size(const pool *p)
{
    assert(p->count >= 1); /* a pool that started has every worker running */
    return p->count;
}

void pool_join(pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->count; i++) {
        /* threads start in order and the first failure stops the rest */
        assert(i == 0 || p->threads[i - 1].started || !p->threads[i].started);
        if (p->threads[i].started)
            pthread_join(p->threads[i].thread, NULL);
        store_worker_free(p->threads[i].w);
    }
    free(p);
}
