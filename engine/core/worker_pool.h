/* worker_pool.h - a fixed set of worker threads, each with its own store_worker
 * (compression contexts, buffers, open packs), all running one function
 * until it returns.  The work queue belongs to the caller. */
#ifndef CAIRN_POOL_H
#define CAIRN_POOL_H

#include "store/store.h"

typedef struct pool pool;
typedef void (*pool_fn)(void *ctx, store_worker *w);

/* Starts threads workers (0: one per core) running fn(ctx, worker).  On
 * failure the threads already started are joined before returning. */
cairn_err pool_start(store *s, int threads, pool_fn fn, void *ctx, pool **out);

/* How many workers run. */
int pool_size(const pool *p);

/* Waits for every worker's fn to return, then frees the pool. */
void pool_join(pool *p);

#endif
