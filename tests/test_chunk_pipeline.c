/* test_chunk_pipeline.c - the bounded chunk pipeline: every chunk put is
 * stored and its ID placed where its owner asked (more chunks than there
 * are buffers); a worker's error reaches the producer with its message,
 * later chunks are skipped, and the pipeline stops without deadlock or
 * leak, also when freed with chunks still queued.  Chunks filled on the
 * workers (chunk_pipeline_put_fill): stored, placed with the fill's ID or
 * skipped as the fill says; every fill runs once, also after an error.
 * Tasks (chunk_pipeline_put_task): several run at once, each storing its
 * chunks through its sink, handed to a worker that waits for work or stored
 * in place, never waiting; a lone worker stores each task's chunks in order,
 * before the next task's; every task runs once, also after an error, which
 * its sink then returns. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/core/chunk_pipeline.h"
#include "testutil.h"

static const char PW[] = "pipeline-test-password";

enum { CHUNKS = 64, CHUNK = 8192, THREADS = 2, JOBS = 3 };

typedef struct fixture {
    char dir[64];
    char path[128];
    store *s;
    uint8_t *data; /* CHUNKS chunks of CHUNK random bytes */
} fixture;

typedef struct owner {
    chunk_owner o;
    uint8_t ids[CHUNKS][ID_LEN];
    int placed;
    uintptr_t order[CHUNKS]; /* where, in the order placed */
    pthread_t by[CHUNKS];    /* the thread that placed it */
} owner;

/* Called with the pipeline's lock held. */
static void place(chunk_owner *o, uintptr_t where, const uint8_t id[ID_LEN])
{
    owner *const ow = (owner *)o;
    memcpy(ow->ids[where], id, ID_LEN);
    ow->by[where] = pthread_self();
    ow->order[ow->placed++] = where;
}

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    const keys_kdf kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    const store_params params = {4096, 16384, 65536, 256 * 1024, 3, 0, 0, 0};
    if (!f || sodium_init() < 0)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-pipeline-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/store", f->dir);
    if (store_create(f->path, PW, strlen(PW), &kdf, &params) != CAIRN_OK ||
        store_open(f->path, PW, strlen(PW), STORE_WRITE, &f->s) != CAIRN_OK)
        return -1;
    f->data = malloc((size_t)CHUNKS * CHUNK);
    if (!f->data)
        return -1;
    randombytes_buf(f->data, (size_t)CHUNKS * CHUNK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    store_close(f->s);
    test_rmtree(f->dir);
    free(f->data);
    free(f);
    return 0;
}

/* Packs are written in the store's tmp folder: a file in its place makes
 * every worker's first write fail. */
static void break_tmp(fixture *f)
{
    char tmp[192];
    snprintf(tmp, sizeof tmp, "%s/tmp", f->path);
    assert_int_equal(test_rmtree(tmp), 0);
    FILE *const fp = fopen(tmp, "w");
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
}

static void test_stores_and_places_every_chunk(void **state)
{
    fixture *const f = *state;
    chunk_pipeline *p = NULL;
    chunk_pipeline_stats st;
    owner *const ow = calloc(1, sizeof *ow);
    assert_non_null(ow);
    ow->o.place = place;
    assert_int_equal(chunk_pipeline_start(f->s, THREADS, JOBS, &p), CAIRN_OK);
    for (int i = 0; i < CHUNKS; i++)
        assert_int_equal(
            chunk_pipeline_put(p, &ow->o, (uintptr_t)i, f->data + (size_t)i * CHUNK, CHUNK),
            CAIRN_OK);
    chunk_pipeline_wait(p, &ow->o);
    assert_int_equal(chunk_pipeline_busy(p, &ow->o), 0);
    assert_int_equal(ow->placed, CHUNKS);
    assert_int_equal(chunk_pipeline_error(p), CAIRN_OK);
    chunk_pipeline_get_stats(p, &st);
    assert_int_equal(st.new_chunks, CHUNKS);
    assert_int_equal(st.new_raw, (uint64_t)CHUNKS * CHUNK);
    chunk_pipeline_free(p);
    assert_int_equal(store_flush(f->s), CAIRN_OK);
    for (int i = 0; i < CHUNKS; i++) {
        uint8_t id[ID_LEN];
        int has = 0;
        store_chunk_id(f->s, f->data + (size_t)i * CHUNK, CHUNK, id);
        assert_memory_equal(ow->ids[i], id, ID_LEN);
        assert_int_equal(store_has_chunk(f->s, id, &has), CAIRN_OK);
        assert_int_equal(has, 1);
    }
    free(ow);
}

static void test_worker_error_reaches_producer(void **state)
{
    fixture *const f = *state;
    chunk_pipeline *p = NULL;
    chunk_pipeline_stats st;
    static const uint8_t zero[ID_LEN];
    owner *const ow = calloc(1, sizeof *ow);
    assert_non_null(ow);
    ow->o.place = place;
    break_tmp(f);
    assert_int_equal(chunk_pipeline_start(f->s, THREADS, JOBS, &p), CAIRN_OK);
    /* far more chunks than buffers: puts wait on the failing workers */
    cairn_err rc = CAIRN_OK;
    int i;
    for (i = 0; i < CHUNKS && !rc; i++) {
        rc = chunk_pipeline_put(p, &ow->o, (uintptr_t)i, f->data + (size_t)i * CHUNK, CHUNK);
        assert_int_equal(rc, CAIRN_OK);
        rc = chunk_pipeline_error(p);
    }
    assert_int_not_equal(rc, CAIRN_OK);
    assert_non_null(strstr(err_msg(), "/tmp/pack-"));
    chunk_pipeline_wait(p, NULL);
    assert_int_equal(ow->placed, i);
    /* the error stays, with its message */
    err_set(CAIRN_EINVAL, "something else");
    assert_int_equal(chunk_pipeline_error(p), rc);
    assert_non_null(strstr(err_msg(), "/tmp/pack-"));
    chunk_pipeline_get_stats(p, &st);
    assert_int_equal(st.new_chunks, 0);
    /* chunks queued after the error are skipped: no ID */
    assert_int_equal(chunk_pipeline_put(p, &ow->o, 0, f->data, CHUNK), CAIRN_OK);
    chunk_pipeline_wait(p, &ow->o);
    assert_memory_equal(ow->ids[0], zero, ID_LEN);
    chunk_pipeline_free(p);
    free(ow);
}

static void test_free_with_chunks_queued(void **state)
{
    fixture *const f = *state;
    chunk_pipeline *p = NULL;
    owner *const ow = calloc(1, sizeof *ow);
    assert_non_null(ow);
    ow->o.place = place;
    break_tmp(f);
    assert_int_equal(chunk_pipeline_start(f->s, THREADS, CHUNKS, &p), CAIRN_OK);
    for (int i = 0; i < CHUNKS; i++)
        assert_int_equal(
            chunk_pipeline_put(p, &ow->o, (uintptr_t)i, f->data + (size_t)i * CHUNK, CHUNK),
            CAIRN_OK);
    chunk_pipeline_free(p); /* lets the queue drain: every chunk placed */
    assert_int_equal(ow->placed, CHUNKS);
    assert_int_equal(ow->o.pending, 0);
    free(ow);
}

typedef struct fills {
    const fixture *f;
    pthread_mutex_t mu;
    int calls[CHUNKS];
} fills;

/* Chunk i: its bytes (i % 3 == 0), an ID of bytes i (1) or nothing (2). */
static int fill(void *ctx, uintptr_t i, uint8_t *buf, size_t len, uint8_t id[ID_LEN])
{
    fills *const fl = ctx;
    pthread_mutex_lock(&fl->mu);
    fl->calls[i]++;
    pthread_mutex_unlock(&fl->mu);
    switch (i % 3) {
    case 0:
        memcpy(buf, fl->f->data + i * CHUNK, len);
        return CHUNK_FILL_STORE;
    case 1:
        memset(id, (int)i, ID_LEN);
        return CHUNK_FILL_HAVE;
    default:
        return CHUNK_FILL_NONE;
    }
}

static void run_fills(fixture *f, int broken)
{
    chunk_pipeline *p = NULL;
    chunk_pipeline_stats st;
    static const uint8_t zero[ID_LEN];
    owner *const ow = calloc(1, sizeof *ow);
    fills fl;
    memset(&fl, 0, sizeof fl);
    fl.f = f;
    pthread_mutex_init(&fl.mu, NULL);
    assert_non_null(ow);
    ow->o.place = place;
    if (broken)
        break_tmp(f);
    assert_int_equal(chunk_pipeline_start(f->s, THREADS, JOBS, &p), CAIRN_OK);
    for (int i = 0; i < CHUNKS; i++)
        assert_int_equal(
            chunk_pipeline_put_fill(p, &ow->o, (uintptr_t)i, CHUNK, 0, fill, &fl, (uintptr_t)i),
            CAIRN_OK);
    chunk_pipeline_wait(p, &ow->o);
    assert_int_equal(ow->placed, CHUNKS);
    chunk_pipeline_get_stats(p, &st);
    assert_int_equal(chunk_pipeline_error(p) != CAIRN_OK, broken);
    assert_int_equal(st.new_chunks, broken ? 0 : (CHUNKS + 2) / 3);
    for (int i = 0; i < CHUNKS; i++) {
        uint8_t id[ID_LEN];
        assert_int_equal(fl.calls[i], 1);
        if (i % 3 == 0 && !broken)
            store_chunk_id(f->s, f->data + (size_t)i * CHUNK, CHUNK, id);
        else if (i % 3 == 1 && !broken)
            memset(id, i, ID_LEN);
        else
            memcpy(id, zero, ID_LEN);
        /* after the error a chunk is placed with its fill's ID or none */
        if (!broken || i % 3 == 2)
            assert_memory_equal(ow->ids[i], id, ID_LEN);
    }
    chunk_pipeline_free(p);
    pthread_mutex_destroy(&fl.mu);
    free(ow);
}

static void test_fill_on_workers(void **state)
{
    run_fills(*state, 0);
}

static void test_fill_after_error(void **state)
{
    run_fills(*state, 1);
}

enum { TASKS = 8 };

typedef struct tasks {
    const fixture *f;
    owner *ow;
    pthread_mutex_t mu;
    int runs[TASKS];
    cairn_err put_rc[TASKS]; /* the first failed put's */
    int scratch_ok;
    int chunks;       /* each task's */
    unsigned wait_us; /* before a task's first put, and a tenth before each */
    pthread_t ran_on[TASKS];
} tasks;

typedef struct task_arg {
    tasks *t;
    int k;
} task_arg;

/* Task k: stores chunks k * t->chunks on, each through its scratch buffer
 * (as a file's task cuts from its read buffer). */
static cairn_err task(void *ctx, chunk_sink *sink)
{
    const task_arg *const a = ctx;
    tasks *const t = a->t;
    cairn_err rc = CAIRN_OK;
    uint8_t *const buf = chunk_sink_scratch(sink, CHUNK);
    pthread_mutex_lock(&t->mu);
    t->runs[a->k]++;
    t->ran_on[a->k] = pthread_self();
    if (!buf)
        t->scratch_ok = 0;
    pthread_mutex_unlock(&t->mu);
    if (t->wait_us)
        usleep(t->wait_us);
    for (int j = 0; j < t->chunks && buf && !rc; j++) {
        const size_t i = (size_t)a->k * (size_t)t->chunks + (size_t)j;
        if (t->wait_us)
            usleep(t->wait_us / 10);
        memcpy(buf, t->f->data + i * CHUNK, CHUNK);
        rc = chunk_sink_put(sink, &t->ow->o, (uintptr_t)i, buf, CHUNK, 0, j == t->chunks - 1);
        memset(buf, 0, CHUNK); /* the sink copied it or stored it already */
    }
    t->put_rc[a->k] = rc;
    return rc;
}

/* Runs ntasks tasks of CHUNKS / ntasks chunks each; t keeps what they
 * did for the caller, which frees t->ow. */
static void run_tasks_on(fixture *f, int threads, int jobs, int ntasks, unsigned wait_us,
                         int broken, tasks *out)
{
    chunk_pipeline *p = NULL;
    chunk_pipeline_stats st;
    tasks t;
    task_arg args[TASKS];
    assert_true(ntasks >= 1 && ntasks <= TASKS);
    memset(&t, 0, sizeof t);
    t.f = f;
    t.chunks = CHUNKS / ntasks;
    t.wait_us = wait_us;
    t.ow = calloc(1, sizeof *t.ow);
    t.scratch_ok = 1;
    pthread_mutex_init(&t.mu, NULL);
    assert_non_null(t.ow);
    t.ow->o.place = place;
    if (broken)
        break_tmp(f);
    assert_int_equal(chunk_pipeline_start(f->s, threads, jobs, &p), CAIRN_OK);
    for (int k = 0; k < ntasks; k++) {
        args[k] = (task_arg){&t, k};
        assert_int_equal(chunk_pipeline_put_task(p, &t.ow->o, task, &args[k]), CAIRN_OK);
    }
    chunk_pipeline_wait(p, &t.ow->o);
    assert_int_equal(t.ow->o.pending, 0);
    assert_true(t.scratch_ok);
    for (int k = 0; k < ntasks; k++)
        assert_int_equal(t.runs[k], 1);
    chunk_pipeline_get_stats(p, &st);
    if (!broken) {
        assert_int_equal(chunk_pipeline_error(p), CAIRN_OK);
        assert_int_equal(t.ow->placed, CHUNKS);
        assert_int_equal(st.new_chunks, CHUNKS);
        for (int i = 0; i < CHUNKS; i++) {
            uint8_t id[ID_LEN];
            store_chunk_id(f->s, f->data + (size_t)i * CHUNK, CHUNK, id);
            assert_memory_equal(t.ow->ids[i], id, ID_LEN);
        }
    } else {
        /* the store's error reaches the producer, and every task's put
         * after it fails with it: no task stores all its chunks */
        assert_int_not_equal(chunk_pipeline_error(p), CAIRN_OK);
        assert_non_null(strstr(err_msg(), "/tmp/pack-"));
        assert_int_equal(st.new_chunks, 0);
        for (int k = 0; k < ntasks; k++)
            assert_int_not_equal(t.put_rc[k], CAIRN_OK);
    }
    chunk_pipeline_free(p);
    pthread_mutex_destroy(&t.mu);
    *out = t;
}

static void run_tasks(fixture *f, int jobs, int broken)
{
    tasks t;
    run_tasks_on(f, THREADS, jobs, TASKS, 0, broken, &t);
    free(t.ow);
}

/* Many buffers: every chunk is stored, handed on or not. */
static void test_tasks_many_buffers(void **state)
{
    run_tasks(*state, CHUNKS, 0);
}

/* One buffer for two workers running tasks: most chunks are stored by the
 * task's own worker, and nothing waits for a buffer. */
static void test_tasks_store_in_place(void **state)
{
    run_tasks(*state, 1, 0);
}

static void test_tasks_after_error(void **state)
{
    run_tasks(*state, JOBS, 1);
}

/* One worker and free buffers: nobody waits for work, so each task stores
 * its own chunks, in order and before the next task's.  (Its first chunks
 * were queued behind the next tasks while it stored the rest itself: a
 * file's chunks strewn over the pack.) */
static void test_lone_worker_keeps_order(void **state)
{
    tasks t;
    run_tasks_on(*state, 1, JOBS, TASKS, 0, 0, &t);
    for (int i = 0; i < CHUNKS; i++)
        assert_int_equal(t.ow->order[i], (uintptr_t)i);
    free(t.ow);
}

/* One task, two workers: the other one waits for work (the task gives it
 * time to get there, before its first put and between puts), so it is
 * handed chunks. */
static void test_idle_worker_is_handed_chunks(void **state)
{
    tasks t;
    int handed = 0;
    run_tasks_on(*state, THREADS, CHUNKS, 1, 100 * 1000, 0, &t);
    for (int i = 0; i < CHUNKS; i++)
        handed += !pthread_equal(t.ow->by[i], t.ran_on[0]);
    assert_true(handed > 0);
    /* but not its last one: the task's worker has nothing left to cut */
    assert_true(pthread_equal(t.ow->by[CHUNKS - 1], t.ran_on[0]));
    free(t.ow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stores_and_places_every_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_error_reaches_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_chunks_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_on_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_after_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks_many_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks_store_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks_after_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lone_worker_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_worker_is_handed_chunks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
