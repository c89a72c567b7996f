#include "engine/core/chunk_pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/worker_pool.h"

/* Tasks queued or running per chunk buffer.  A queued task holds an open
 * file and a few hundred bytes, no buffer; a deep queue, refilled in
 * batches, spares the producer and the workers a wake-up per file when
 * files are small (docs/BENCHMARKS.md, session 18). */
enum { TASKS_PER_JOB = 4 };

typedef struct chunk_job {
    chunk_owner *owner;
    uintptr_t where;
    uint8_t *data; /* the chunk at data + STORE_INPLACE_HEAD, sealed in place */
    size_t len;
    unsigned flags;     /* store_chunk_flags */
    chunk_fill_fn fill; /* NULL: data was copied in by the producer */
    void *fill_ctx;
    uintptr_t fill_arg;
    chunk_task_fn task; /* a task: no data, run whole by one worker */
    struct chunk_job *next;
} chunk_job;

/* What a worker lends the task it runs: itself, to store chunks with when
 * no buffer is free, and buffers that outlive the task. */
struct chunk_sink {
    chunk_pipeline *p;
    store_worker *w;
    uint8_t *scratch; /* chunk_sink_scratch */
    size_t scratch_cap;
    uint8_t *chunk; /* a chunk stored here, with the in-place seal's room */
    size_t chunk_cap;
};

struct chunk_pipeline {
    store *s;
    pool *workers;
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a job was queued or the workers must stop */
    pthread_cond_t done_cv; /* a job finished */
    pthread_cond_t room_cv; /* tasks fell to half of tasks_max */
    chunk_job *queue_head, *queue_tail, *free_jobs;
    int jobs_made, jobs_max, in_flight;
    int tasks; /* queued or running; at most tasks_max */
    int tasks_max;
    int queued; /* jobs in the queue */
    int idle;   /* workers waiting for a job */
    int stop;
    cairn_err failed;
    char failed_msg[1024];
    chunk_pipeline_stats stats;
};

/* Stores the chunk in buf (at buf + STORE_INPLACE_HEAD, sealed in place)
 * unless a fill says otherwise, and places its ID.  Worker error: skipped
 * (an all-zero ID). */
static void store_one(chunk_pipeline *p, store_worker *w, chunk_owner *o, uintptr_t where,
                      uint8_t *buf, size_t len, unsigned flags, int skip, chunk_fill_fn fill,
                      void *fill_ctx, uintptr_t fill_arg)
{
    uint8_t id[ID_LEN];
    cairn_err rc = CAIRN_OK;
    int added = 0;
    uint64_t stored = 0;
    memset(id, 0, sizeof id);
    /* a fill runs even after an error: it owes its file a reference */
    const int filled =
        fill ? fill(fill_ctx, fill_arg, buf + STORE_INPLACE_HEAD, len, id) : CHUNK_FILL_STORE;
    if (skip || filled == CHUNK_FILL_NONE)
        memset(id, 0, sizeof id);
    else if (filled == CHUNK_FILL_STORE) {
        store_chunk_id(p->s, buf + STORE_INPLACE_HEAD, len, id);
        rc = store_put_chunk_inplace(p->s, w, id, buf, len, flags, &added, &stored);
    }

    pthread_mutex_lock(&p->mu);
    if (rc && !p->failed) {
        p->failed = rc;
        snprintf(p->failed_msg, sizeof p->failed_msg, "%s", err_msg());
    }
    if (added) {
        p->stats.new_chunks++;
        p->stats.new_bytes += stored;
        p->stats.new_raw += len;
    }
    o->place(o, where, id);
    pthread_mutex_unlock(&p->mu);
}

static void worker_main(void *ctx, store_worker *w)
{
    chunk_pipeline *const p = ctx;
    chunk_sink sink = {p, w, NULL, 0, NULL, 0};
    for (;;) {
        pthread_mutex_lock(&p->mu);
        p->idle++;
        while (!p->queue_head && !p->stop)
            pthread_cond_wait(&p->work_cv, &p->mu);
        p->idle--;
        chunk_job *const job = p->queue_head;
        if (!job) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        p->queue_head = job->next;
        p->queued--;
        if (!p->queue_head)
            p->queue_tail = NULL;
        const int skip = p->failed != CAIRN_OK;
        pthread_mutex_unlock(&p->mu);

        if (job->task) {
            /* run after an error too: a task owns its file */
            const cairn_err rc = job->task(job->fill_ctx, &sink);
            pthread_mutex_lock(&p->mu);
            if (rc && !p->failed) {
                p->failed = rc;
                snprintf(p->failed_msg, sizeof p->failed_msg, "%s", err_msg());
            }
            job->owner->pending--;
            p->in_flight--;
            if (--p->tasks == p->tasks_max / 2)
                pthread_cond_broadcast(&p->room_cv);
            pthread_cond_broadcast(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
            free(job);
            continue;
        }
        store_one(p, w, job->owner, job->where, job->data, job->len, job->flags, skip, job->fill,
                  job->fill_ctx, job->fill_arg);
        pthread_mutex_lock(&p->mu);
        job->owner->pending--;
        p->in_flight--;
        job->next = p->free_jobs;
        p->free_jobs = job;
        pthread_cond_broadcast(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
    free(sink.scratch);
    free(sink.chunk);
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
    p->tasks_max = jobs_max * TASKS_PER_JOB;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    pthread_cond_init(&p->room_cv, NULL);
    const cairn_err rc = pool_start(s, threads, worker_main, p, &p->workers);
    if (rc) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work_cv);
        pthread_cond_destroy(&p->done_cv);
        pthread_cond_destroy(&p->room_cv);
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
    pthread_cond_destroy(&p->room_cv);
    free(p);
}

/* A free job buffer (NULL when none can be had), with the lock held. */
static chunk_job *take_job_locked(chunk_pipeline *p)
{
    chunk_job *job = p->free_jobs;
    if (job) {
        p->free_jobs = job->next;
        return job;
    }
    if (p->jobs_made >= p->jobs_max)
        return NULL;
    job = calloc(1, sizeof *job);
    if (job)
        job->data = malloc(store_get_params(p->s)->chunk_max + (size_t)STORE_INPLACE_ROOM);
    if (!job || !job->data) {
        free(job);
        return NULL;
    }
    p->jobs_made++;
    return job;
}

/* A free job buffer, waiting for one if all are in flight. */
static cairn_err get_job(chunk_pipeline *p, chunk_job **out)
{
    pthread_mutex_lock(&p->mu);
    while (!p->free_jobs && p->jobs_made >= p->jobs_max)
        pthread_cond_wait(&p->done_cv, &p->mu);
    chunk_job *const job = take_job_locked(p);
    pthread_mutex_unlock(&p->mu);
    if (!job)
        return err_set(CAIRN_ENOMEM, "out of memory for chunk buffers");
    *out = job;
    return CAIRN_OK;
}

/* Queues job (its fields set) as one of o's, with the lock held. */
static void enqueue_locked(chunk_pipeline *p, chunk_owner *o, chunk_job *job)
{
    job->owner = o;
    job->next = NULL;
    o->pending++;
    p->in_flight++;
    p->queued++;
    if (p->queue_tail)
        p->queue_tail->next = job;
    else
        p->queue_head = job;
    p->queue_tail = job;
    pthread_cond_signal(&p->work_cv);
}

/* Queues o's chunk at where in job's buffer: a copy of data, or (data NULL)
 * what fill puts into it on the worker. */
static void queue_chunk(chunk_pipeline *p, chunk_owner *o, chunk_job *job, uintptr_t where,
                        const uint8_t *data, size_t len, unsigned flags, chunk_fill_fn fill,
                        void *ctx, uintptr_t arg)
{
    if (data)
        memcpy(job->data + STORE_INPLACE_HEAD, data, len);
    job->len = len;
    job->flags = flags;
    job->where = where;
    job->fill = fill;
    job->fill_ctx = ctx;
    job->fill_arg = arg;
    job->task = NULL;
    pthread_mutex_lock(&p->mu);
    enqueue_locked(p, o, job);
    pthread_mutex_unlock(&p->mu);
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
    if (!rc)
        queue_chunk(p, o, job, where, data, len, flags, fill, ctx, arg);
    return rc;
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

cairn_err chunk_pipeline_put_task(chunk_pipeline *p, chunk_owner *o, chunk_task_fn task, void *ctx)
{
    chunk_job *const job = calloc(1, sizeof *job);
    if (!job)
        return err_set(CAIRN_ENOMEM, "out of memory");
    job->task = task;
    job->fill_ctx = ctx;
    pthread_mutex_lock(&p->mu);
    if (p->tasks >= p->tasks_max) /* then refilled from half on, in one go */
        while (p->tasks > p->tasks_max / 2)
            pthread_cond_wait(&p->room_cv, &p->mu);
    p->tasks++;
    enqueue_locked(p, o, job);
    pthread_mutex_unlock(&p->mu);
    return CAIRN_OK;
}

/* Grows *buf to at least need bytes (its contents not kept). */
static uint8_t *sink_buffer(uint8_t **buf, size_t *cap, size_t need)
{
    if (*cap < need) {
        free(*buf);
        *cap = 0;
        *buf = malloc(need);
        if (!*buf)
            return NULL;
        *cap = need;
    }
    return *buf;
}

uint8_t *chunk_sink_scratch(chunk_sink *k, size_t need)
{
    return sink_buffer(&k->scratch, &k->scratch_cap, need);
}

cairn_err chunk_sink_put(chunk_sink *k, chunk_owner *o, uintptr_t where, const uint8_t *data,
                         size_t len, unsigned flags, int last)
{
    chunk_pipeline *const p = k->p;
    pthread_mutex_lock(&p->mu);
    cairn_err rc = p->failed;
    if (rc)
        err_set(rc, "%s", p->failed_msg);
    /* only to a worker that waits for work: queued behind tasks, the chunk
     * would wait for them (and leave its file's bytes strewn over the pack) */
    chunk_job *const job = rc || last || p->idle <= p->queued ? NULL : take_job_locked(p);
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    if (job) {
        /* another worker stores it while this one cuts on */
        queue_chunk(p, o, job, where, data, len, flags, NULL, NULL, 0);
        return CAIRN_OK;
    }
    /* no worker waits, or every buffer is in use: store it here rather than
     * wait, as the workers that would free one may all be running tasks */
    uint8_t *const buf = sink_buffer(&k->chunk, &k->chunk_cap, len + (size_t)STORE_INPLACE_ROOM);
    if (!buf)
        return err_set(CAIRN_ENOMEM, "out of memory");
    memcpy(buf + STORE_INPLACE_HEAD, data, len);
    store_one(p, k->w, o, where, buf, len, flags, 0, NULL, NULL, 0);
    return chunk_pipeline_error(p);
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
