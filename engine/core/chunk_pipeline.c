#include "engine/core/chunk_pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/worker_pool.h"

typedef struct chunk_job {
    chunk_owner *owner;
    uintptr_t where;
    uint8_t *data; /* the chunk at data + STORE_INPLACE_HEAD, sealed in place */
    size_t len;
    unsigned flags;     /* store_chunk_flags */
    chunk_fill_fn fill; /* NULL: data was copied in by the producer */
    void *fill_ctx;
    uintptr_t fill_arg;
    struct chunk_job *next;
} chunk_job;

struct chunk_pipeline {
    store *s;
    pool *workers;
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a job was queued or the workers must stop */
    pthread_cond_t done_cv; /* a job finished */
    chunk_job *queue_head, *queue_tail, *free_jobs;
    int jobs_made, jobs_max, in_flight;
    int stop;
    cairn_err failed;
    char failed_msg[1024];
    chunk_pipeline_stats stats;
};

static void worker_main(void *ctx, store_worker *w)
{
    chunk_pipeline *const p = ctx;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->queue_head && !p->stop)
            pthread_cond_wait(&p->work_cv, &p->mu);
        chunk_job *const job = p->queue_head;
        if (!job) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        p->queue_head = job->next;
        if (!p->queue_head)
            p->queue_tail = NULL;
        const int skip = p->failed != CAIRN_OK;
        pthread_mutex_unlock(&p->mu);

        uint8_t id[ID_LEN];
        cairn_err rc = CAIRN_OK;
        int added = 0;
        uint64_t stored = 0;
        memset(id, 0, sizeof id);
        const int filled = job->fill ? job->fill(job->fill_ctx, job->fill_arg,
                                                 job->data + STORE_INPLACE_HEAD, job->len, id)
                                     : CHUNK_FILL_STORE;
        if (skip || filled == CHUNK_FILL_NONE)
            memset(id, 0, sizeof id);
        else if (filled == CHUNK_FILL_STORE) {
            store_chunk_id(p->s, job->data + STORE_INPLACE_HEAD, job->len, id);
            rc = store_put_chunk_inplace(p->s, w, id, job->data, job->len, job->flags, &added,
                                         &stored);
        }

        pthread_mutex_lock(&p->mu);
        if (rc && !p->failed) {
            p->failed = rc;
            snprintf(p->failed_msg, sizeof p->failed_msg, "%s", err_msg());
        }
        if (added) {
            p->stats.new_chunks++;
            p->stats.new_bytes += stored;
            p->stats.new_raw += job->len;
        }
        job->owner->place(job->owner, job->where, id);
        job->owner->pending--;
        p->in_flight--;
        job->next = p->free_jobs;
        p->free_jobs = job;
        pthread_cond_broadcast(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void free_jobs(chunk_pipeline *p)
{
    while (p->free_jobs) {
        chunk_job *const j = p->free_jobs;
        p->free_jobs = j->next;
        free(j->data);
        free(j);
    }
}

cairn_err chunk_pipeline_start(store *s, int threads, int jobs_max, chunk_pipeline **out)
{
    chunk_pipeline *const p = calloc(1, sizeof *p);
    if (!p)
        return err_set(CAIRN_ENOMEM, "out of memory");
    p->s = s;
    p->jobs_max = jobs_max;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    const cairn_err rc = pool_start(s, threads, worker_main, p, &p->workers);
    if (rc) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work_cv);
        pthread_cond_destroy(&p->done_cv);
        free(p);
        return rc;
    }
    *out = p;
    return CAIRN_OK;
}

void chunk_pipeline_finish(chunk_pipeline *p)
{
    if (!p->workers)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    pool_join(p->workers); /* the workers empty the queue before they return */
    p->workers = NULL;
}

void chunk_pipeline_free(chunk_pipeline *p)
{
    if (!p)
        return;
    chunk_pipeline_finish(p);
    free_jobs(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p);
}

/* A free job buffer, waiting for one if all are in flight. */
static cairn_err get_job(chunk_pipeline *p, chunk_job **out)
{
    pthread_mutex_lock(&p->mu);
    while (!p->free_jobs && p->jobs_made >= p->jobs_max)
        pthread_cond_wait(&p->done_cv, &p->mu);
    chunk_job *job = p->free_jobs;
    if (job)
        p->free_jobs = job->next;
    else
        p->jobs_made++;
    pthread_mutex_unlock(&p->mu);
    if (!job) {
        job = calloc(1, sizeof *job);
        if (job)
            job->data = malloc(store_get_params(p->s)->chunk_max + (size_t)STORE_INPLACE_ROOM);
        if (!job || !job->data) {
            free(job);
            pthread_mutex_lock(&p->mu);
            p->jobs_made--;
            pthread_mutex_unlock(&p->mu);
            return err_set(CAIRN_ENOMEM, "out of memory for chunk buffers");
        }
    }
    *out = job;
    return CAIRN_OK;
}

cairn_err chunk_pipeline_put(chunk_pipeline *p, chunk_owner *o, uintptr_t where,
                             const uint8_t *data, size_t len)
{
    return chunk_pipeline_put_flags(p, o, where, data, len, 0);
}

/* Queues o's chunk at where: a copy of data, or (data NULL) what fill puts
 * into the buffer on the worker. */
static cairn_err put_job(chunk_pipeline *p, chunk_owner *o, uintptr_t where, const uint8_t *data,
                         size_t len, unsigned flags, chunk_fill_fn fill, void *ctx, uintptr_t arg)
{
    chunk_job *job = NULL;
    const cairn_err rc = get_job(p, &job);
    if (rc)
        return rc;
    if (data)
        memcpy(job->data + STORE_INPLACE_HEAD, data, len);
    job->len = len;
    job->flags = flags;
    job->owner = o;
    job->where = where;
    job->fill = fill;
    job->fill_ctx = ctx;
    job->fill_arg = arg;
    job->next = NULL;
    pthread_mutex_lock(&p->mu);
    o->pending++;
    p->in_flight++;
    if (p->queue_tail)
        p->queue_tail->next = job;
    else
        p->queue_head = job;
    p->queue_tail = job;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    return CAIRN_OK;
}

cairn_err chunk_pipeline_put_flags(chunk_pipeline *p, chunk_owner *o, uintptr_t where,
                                   const uint8_t *data, size_t len, unsigned flags)
{
    return put_job(p, o, where, data, len, flags, NULL, NULL, 0);
}

cairn_err chunk_pipeline_put_fill(chunk_pipeline *p, chunk_owner *o, uintptr_t where, size_t len,
                                  unsigned flags, chunk_fill_fn fill, void *ctx, uintptr_t arg)
{
    return put_job(p, o, where, NULL, len, flags, fill, ctx, arg);
}

int chunk_pipeline_busy(chunk_pipeline *p, const chunk_owner *o)
{
    pthread_mutex_lock(&p->mu);
    const int busy = o->pending > 0;
    pthread_mutex_unlock(&p->mu);
    return busy;
}

void chunk_pipeline_wait(chunk_pipeline *p, const chunk_owner *o)
{
    pthread_mutex_lock(&p->mu);
    while (o ? o->pending > 0 : p->in_flight > 0)
        pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

cairn_err chunk_pipeline_error(chunk_pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    const cairn_err rc = p->failed;
    if (rc)
        err_set(rc, "%s", p->failed_msg);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void chunk_pipeline_get_stats(chunk_pipeline *p, chunk_pipeline_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    pthread_mutex_unlock(&p->mu);
}

void chunk_pipeline_lock(chunk_pipeline *p)
{
    pthread_mutex_lock(&p->mu);
}

void chunk_pipeline_unlock(chunk_pipeline *p)
{
    pthread_mutex_unlock(&p->mu);
}
