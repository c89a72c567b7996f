/* progress.h - how a long operation (backup, restore, check, prune, copy)
 * tells its caller how far it is, and how the caller asks it to stop.
 *
 * The engine calls progress as work completes (often: per file, per pack;
 * the caller throttles what it draws), possibly from a worker thread but
 * never from two threads at once.  stop is a flag the caller sets (from a
 * SIGINT handler: it is a sig_atomic_t) and the engine polls between items;
 * once it is set the operation ends soon with CAIRN_EINTERRUPTED, leaving
 * the store as consistent as a kill at that point would (nothing half
 * written is ever referenced). */
#ifndef CAIRN_PROGRESS_H
#define CAIRN_PROGRESS_H
#include <signal.h>
#include <stdint.h>

typedef struct work_progress {
    const char *phase; /* "backup", "restore", "check", "prune", "copy" */
    const char *unit;  /* what files_done counts: NULL "files", or "packs" */
    uint64_t files_done;
    uint64_t files_total; /* 0: not known */
    uint64_t bytes_done;
    uint64_t bytes_total; /* 0: not known */
} work_progress;

typedef struct work_hooks {
    void (*progress)(void *ctx, const work_progress *p); /* may be NULL */
    void *ctx;
    const volatile sig_atomic_t *stop; /* may be NULL */
} work_hooks;

static inline int work_stopped(const work_hooks *h)
{
    return h && h->stop && *h->stop;
}

static inline void work_report(const work_hooks *h, const work_progress *p)
{
    if (h && h->progress)
        h->progress(h->ctx, p);
}
#endif
