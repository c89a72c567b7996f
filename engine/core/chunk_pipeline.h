/* chunk_pipeline.h - chunks stored in parallel: one producer thread queues
 * the chunks it cuts, a pool of workers hashes, compresses, seals and packs
 * them and places each chunk's ID where its owner asked.
 *
 * Promises:
 * - Bounded: at most jobs_max chunk buffers exist (each chunk_max bytes and
 *   the seal's overhead); a put waits for a free one while they are all in
 *   flight.  A chunk is copied once, into its buffer, and sealed there
 *   (store_put_chunk_inplace): a worker holds no chunk-sized buffer of its
 *   own but for compression, unless it runs tasks (below).  A chunk
 *   queued with chunk_pipeline_put_fill is not copied by the producer at
 *   all: the worker that stores it fills the buffer itself (reads it from
 *   the file), so that reading runs on every worker at once instead of on
 *   the producer alone.
 * - Jobs are taken in the order they were queued, and a worker finishes a
 *   job's fill before it takes another, so a fill may wait for the fill of
 *   a job queued before it (never after it) without deadlock.
 * - The first worker error is kept with its message; from then on queued
 *   chunks are skipped (placed with an all-zero ID) and chunk_pipeline_error
 *   returns it, with its message set again, on the producer's thread.
 * - chunk_pipeline_finish (and chunk_pipeline_free) lets the queued chunks
 *   be stored (or skipped after an error) and joins the workers; neither
 *   waits on the producer.
 *
 * - Tasks (chunk_pipeline_put_task) spread whole files over the workers
 *   when cutting them on the producer would leave it the slowest part: a
 *   task reads and cuts on a worker and hands a new chunk to a worker that
 *   waits for work when a buffer is free, else stores it itself, so a lone
 *   worker stores a task's chunks in order.  At most 4 x jobs_max tasks
 *   are queued or running (they hold no buffer).  A worker that runs tasks
 *   keeps, from task to task, the scratch buffer they read into (2 x the
 *   largest chunk they cut, at least 1 MiB) and one for the chunks it
 *   stores itself.
 *
 * Owners (the structures IDs are placed into) embed a chunk_owner; its
 * pending count and every place() call are guarded by the pipeline's lock,
 * so an owner moves the array place() writes into only while holding
 * chunk_pipeline_lock, or while it has nothing pending. */
#ifndef CAIRN_CHUNK_PIPELINE_H
#define CAIRN_CHUNK_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct chunk_owner chunk_owner;

/* Puts the ID of the chunk queued for o at where (what o gave: an index
 * into an array that may move, or the address of a slot that does not).
 * Runs on a worker, under the pipeline's lock. */
typedef void (*chunk_place_fn)(chunk_owner *o, uintptr_t where, const uint8_t id[ID_LEN]);

struct chunk_owner {
    chunk_place_fn place;
    int pending; /* chunks queued and not yet placed (the pipeline's lock) */
};

/* What the workers added to the store (chunks new to it). */
typedef struct chunk_pipeline_stats {
    uint64_t new_chunks;
    uint64_t new_bytes; /* as stored */
    uint64_t new_raw;
} chunk_pipeline_stats;

typedef struct chunk_pipeline chunk_pipeline;

/* Starts threads workers (0: one per core) with jobs_max chunk buffers. */
cairn_err chunk_pipeline_start(store *s, int threads, int jobs_max, chunk_pipeline **out);

/* Waits for every queued chunk and stops the workers; the error and the
 * stats stay readable. */
void chunk_pipeline_finish(chunk_pipeline *p);

/* Finishes p if it is not, and frees it (NULL: nothing). */
void chunk_pipeline_free(chunk_pipeline *p);

/* Queues a copy of data[0..len) (len <= the store's chunk_max) as o's
 * chunk at where. */
cairn_err chunk_pipeline_put(chunk_pipeline *p, chunk_owner *o, uintptr_t where,
                             const uint8_t *data, size_t len);

/* chunk_pipeline_put with store_chunk_flags for store_put_chunk
 * (STORE_CHUNK_NO_ZSTD for media). */
cairn_err chunk_pipeline_put_flags(chunk_pipeline *p, chunk_owner *o, uintptr_t where,
                                   const uint8_t *data, size_t len, unsigned flags);

/* What a fill did (chunk_fill_fn). */
enum {
    CHUNK_FILL_STORE, /* buf holds the chunk's len bytes: store them */
    CHUNK_FILL_HAVE,  /* id is the chunk's (already in the store): place it */
    CHUNK_FILL_NONE,  /* nothing to store (a read failed): an all-zero ID */
};

/* Fills buf (room for len bytes) with the chunk queued with arg, on a
 * worker, outside the pipeline's lock; returns a CHUNK_FILL_*.  Called for
 * every job queued with it, once, also after a worker error (its answer is
 * then ignored). */
typedef int (*chunk_fill_fn)(void *ctx, uintptr_t arg, uint8_t *buf, size_t len,
                             uint8_t id[ID_LEN]);

/* Queues o's chunk at where, of len bytes (<= the store's chunk_max), whose
 * bytes fill(ctx, arg, ...) puts into the buffer on the worker. */
cairn_err chunk_pipeline_put_fill(chunk_pipeline *p, chunk_owner *o, uintptr_t where, size_t len,
                                  unsigned flags, chunk_fill_fn fill, void *ctx, uintptr_t arg);

/* A task: work one worker does whole (a file read and cut), storing the
 * chunks it makes through sink.  Its cairn_err, if any, is the pipeline's
 * error, as a store's would be. */
typedef struct chunk_sink chunk_sink;
typedef cairn_err (*chunk_task_fn)(void *ctx, chunk_sink *sink);

/* Queues task(ctx) as one of o's jobs (o is busy until it returns); when
 * 4 x jobs_max tasks are queued or running, first waits until half of them
 * are done.  A task runs exactly once, also after a worker error
 * (chunk_sink_put then fails), so it may own resources. */
cairn_err chunk_pipeline_put_task(chunk_pipeline *p, chunk_owner *o, chunk_task_fn task, void *ctx);

/* From a task: stores data[0..len) (len <= the store's chunk_max) as o's
 * chunk at where.  Queued when the task has more to cut (last is 0), a
 * worker waits for work and a chunk buffer is free at once, else stored by
 * this worker before it returns (queued behind other tasks it would wait
 * for them; a task's last chunk would only cost a wake-up); never waits
 * for a buffer, since the workers that would free one may all be running
 * tasks.  The pipeline's error once there is one. */
cairn_err chunk_sink_put(chunk_sink *sink, chunk_owner *o, uintptr_t where, const uint8_t *data,
                         size_t len, unsigned flags, int last);

/* A buffer of at least need bytes that the worker keeps from task to task
 * (its contents not kept); NULL when out of memory. */
uint8_t *chunk_sink_scratch(chunk_sink *sink, size_t need);

/* Whether o has chunks in flight. */
int chunk_pipeline_busy(chunk_pipeline *p, const chunk_owner *o);

/* Waits until o (NULL: every owner) has no chunk in flight. */
void chunk_pipeline_wait(chunk_pipeline *p, const chunk_owner *o);

/* The first worker error (its message set again), or CAIRN_OK. */
cairn_err chunk_pipeline_error(chunk_pipeline *p);

void chunk_pipeline_get_stats(chunk_pipeline *p, chunk_pipeline_stats *out);

/* Held while moving an array an owner's place() writes into. */
void chunk_pipeline_lock(chunk_pipeline *p);
void chunk_pipeline_unlock(chunk_pipeline *p);

#endif
