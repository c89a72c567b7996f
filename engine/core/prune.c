#include "engine/core/prune.h"

#include <limits.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/idset.h"
#include "util/grow.h"
#include "engine/core/tree.h"
#include "engine/core/tree_walk.h"

/* ---- forget ---- */

typedef struct bucket_rule {
    const char *name;
    int count;
    const char *format; /* strftime: equal strings, same bucket */
} bucket_rule;

static int newest_first(const void *a, const void *b)
{
    const forget_item *const x = a, *const y = b;
    const int c = strcmp(x->snap->chain, y->snap->chain);
    if (c)
        return c;
    if (x->snap->time_sec != y->snap->time_sec)
        return x->snap->time_sec > y->snap->time_sec ? -1 : 1;
    return x->snap->time_nsec > y->snap->time_nsec ? -1 : 1;
}

static void add_reason(forget_item *it, const char *why)
{
    const size_t len = strlen(it->reason);
    snprintf(it->reason + len, sizeof it->reason - len, "%s%s", len ? ", " : "", why);
    it->keep = 1;
}

cairn_err forget_plan(const snaplist *l, const char *chain, const forget_policy *p,
                      forget_item **items, size_t *count)
{
    const bucket_rule rules[] = {
        {"hourly", p->hourly, "%Y-%m-%d %H"}, {"daily", p->daily, "%Y-%m-%d"},
        {"weekly", p->weekly, "%G-%V"},       {"monthly", p->monthly, "%Y-%m"},
        {"yearly", p->yearly, "%Y"},
    };
    if (p->last <= 0 && p->hourly <= 0 && p->daily <= 0 && p->weekly <= 0 && p->monthly <= 0 &&
        p->yearly <= 0)
        return err_set(CAIRN_EINVAL, "no policy given: that would forget every snapshot (use "
                                     "--keep-last, --keep-daily, ...)");
    forget_item *const it = calloc(l->count ? l->count : 1, sizeof *it);
    size_t n = 0;
    if (!it)
        return err_set(CAIRN_ENOMEM, "out of memory");
    for (size_t i = 0; i < l->count; i++)
        if (!chain || strcmp(l->items[i].chain, chain) == 0)
            it[n++].snap = &l->items[i];
    qsort(it, n, sizeof *it, newest_first);
    for (size_t start = 0; start < n;) {
        size_t end = start;
        while (end < n && strcmp(it[end].snap->chain, it[start].snap->chain) == 0)
            end++;
        for (size_t i = start; i < end && (int)(i - start) < p->last; i++)
            add_reason(&it[i], "last");
        for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
            char prev[32] = "", cur[32];
            int kept = 0;
            for (size_t i = start; i < end && kept < rules[r].count; i++) {
                struct tm tm;
                const time_t t = (time_t)it[i].snap->time_sec;
                localtime_r(&t, &tm);
/* the format comes from the constant rules table above */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                strftime(cur, sizeof cur, rules[r].format, &tm);
#pragma GCC diagnostic pop
                if (strcmp(cur, prev) == 0)
                    continue; /* the newest of this bucket is already kept */
                memcpy(prev, cur, sizeof prev);
                add_reason(&it[i], rules[r].name);
                kept++;
            }
        }
        start = end;
    }
    *items = it;
    *count = n;
    return CAIRN_OK;
}

void forget_keep_pinned(const chain_list *chains, forget_item *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (chains_pinned(chains, items[i].snap->chain, items[i].snap->id))
            add_reason(&items[i], "pinned");
    }
}

/* ---- prune: mark ---- */

typedef struct mark_ctx {
    store *s;
    store_worker *w;
    idset live;
} mark_ctx;

static cairn_err mark_ids(mark_ctx *m, const uint8_t (*ids)[ID_LEN], uint32_t n)
{
    int added;
    for (uint32_t i = 0; i < n; i++) {
        const cairn_err rc = idset_add(&m->live, ids[i], &added);
        if (rc)
            return rc;
    }
    return CAIRN_OK;
}

static cairn_err mark_tree_chunks(void *ctx, const char *path, const uint8_t (*ids)[ID_LEN],
                                  uint32_t n, int *damaged)
{
    (void)path;
    (void)damaged;
    return mark_ids(ctx, ids, n);
}

static cairn_err mark_file(void *ctx, const char *path, tree_node *node, int *damaged)
{
    (void)path;
    (void)damaged;
    return mark_ids(ctx, (const uint8_t(*)[ID_LEN])node->chunks, node->nchunks);
}

static cairn_err mark_catalog(void *ctx, const snapshot *sn, int *damaged)
{
    (void)damaged;
    return mark_ids(ctx, (const uint8_t(*)[ID_LEN])sn->catalog, sn->ncatalog);
}

/* A tree that does not load stops prune: what it needs is unknown. */
static const tree_walk_ops mark_walk = {
    .on_tree_chunks = mark_tree_chunks,
    .on_file = mark_file,
    .on_catalog = mark_catalog,
};

/* ---- prune: sweep ---- */

typedef struct pack_info {
    uint8_t id[PACK_ID_LEN];
    uint64_t size;
    uint64_t live_bytes;
    uint64_t unused_bytes;
    pack_entry *entries;
    size_t count;
    int action; /* 0 keep, 1 delete, 2 repack then delete */
} pack_info;

typedef struct sweep_ctx {
    store *s;
    mark_ctx *m;
    pack_info *packs;
    size_t n, cap;
    const pack_info *current; /* the pack being repacked (for keep_live) */
} sweep_ctx;

/* Live means: a snapshot needs it, and the index locates it in this pack
 * (a chunk stored twice is live only where the index points). */
static int entry_live(sweep_ctx *c, const pack_info *p, const pack_entry *e)
{
    uint8_t where[PACK_ID_LEN];
    pack_entry loc;
    if (!idset_has(&c->m->live, e->id))
        return 0;
    if (store_locate(c->s, e->id, where, &loc) != CAIRN_OK)
        return 1; /* not indexed: keep it to be safe */
    return memcmp(where, p->id, PACK_ID_LEN) == 0 && loc.offset == e->offset;
}

static int keep_live(void *ctx, const pack_entry *e)
{
    sweep_ctx *const c = ctx;
    return entry_live(c, c->current, e);
}

static cairn_err collect_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    sweep_ctx *const c = ctx;
    (void)path;
    cairn_err rc = util_grow(&c->packs, &c->cap, c->n + 1, sizeof *c->packs);
    if (rc)
        return rc;
    pack_info *const p = &c->packs[c->n];
    memset(p, 0, sizeof *p);
    memcpy(p->id, pack, PACK_ID_LEN);
    rc = store_pack_entries(c->s, pack, &p->entries, &p->count, &p->size);
    if (rc == CAIRN_ECORRUPT)
        return CAIRN_OK; /* damaged packs are left for check and repair */
    if (rc)
        return rc;
    c->n++;
    return CAIRN_OK;
}

cairn_err prune_run(store *s, const prune_opts *opts, prune_result *r)
{
    snaplist l = {NULL, 0, 0};
    tree_walk *walker = NULL;
    mark_ctx m;
    sweep_ctx c;
    cairn_err rc;
    memset(r, 0, sizeof *r);
    memset(&m, 0, sizeof m);
    memset(&c, 0, sizeof c);
    m.s = s;
    idset_init(&m.live);
    c.s = s;
    c.m = &m;
    rc = store_worker_new(s, &m.w);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc && l.damaged)
        rc = err_set(CAIRN_ECORRUPT,
                     "%zu snapshot object(s) are damaged: prune would not know "
                     "what they need, so nothing was deleted (run 'cairn check')",
                     l.damaged);
    if (!rc)
        rc = tree_walk_new(s, m.w, &mark_walk, &m, 0, &walker);
    work_progress prog = {.phase = "prune", .unit = "snapshots", .files_total = l.count};
    for (size_t i = 0; !rc && i < l.count; i++) {
        int damaged;
        work_report(opts->hooks, &prog);
        if (work_stopped(opts->hooks)) {
            rc = err_set(CAIRN_EINTERRUPTED, "interrupted: nothing deleted");
            break;
        }
        rc = tree_walk_snapshot(walker, &l.items[i], &damaged, NULL, NULL);
        prog.files_done++;
        if (rc && rc != CAIRN_ENOMEM) {
            char id[9];
            snaplist_short_id(l.items[i].id, id);
            rc = err_set(rc, "snapshot %s cannot be read (%s): nothing was deleted", id, err_msg());
        }
    }
    r->snapshots = l.count;
    if (!rc)
        rc = store_each_pack_file(s, collect_pack, &c);
    /* plan */
    work_progress packs = {.phase = "prune", .unit = "packs"};
    for (size_t i = 0; !rc && i < c.n; i++) {
        pack_info *const p = &c.packs[i];
        for (size_t k = 0; k < p->count; k++) {
            if (entry_live(&c, p, &p->entries[k])) {
                p->live_bytes += p->entries[k].stored_len;
                r->chunks_live++;
            } else {
                p->unused_bytes += p->entries[k].stored_len;
                r->chunks_unused++;
            }
        }
        r->packs++;
        r->bytes_unused += p->unused_bytes;
        if (p->live_bytes == 0)
            p->action = 1;
        else if (p->unused_bytes * 100 >
                 (p->live_bytes + p->unused_bytes) * (uint64_t)opts->max_unused)
            p->action = 2;
        /* a pack repacked counts twice: copied, then deleted */
        if (p->action) {
            r->packs_to_delete++;
            packs.files_total++;
            packs.bytes_total += p->size;
        }
        if (p->action == 2) {
            packs.files_total++;
            packs.bytes_total += p->live_bytes;
        }
    }
    prog = packs;
    if (!rc)
        work_report(opts->hooks, &prog);
    /* repack, and make the copies durable before anything is deleted */
    for (size_t i = 0; !rc && i < c.n; i++) {
        pack_info *const p = &c.packs[i];
        if (p->action != 2)
            continue;
        if (work_stopped(opts->hooks)) {
            rc = err_set(CAIRN_EINTERRUPTED, "interrupted: nothing deleted");
            break;
        }
        r->packs_repacked++;
        if (opts->dry_run)
            r->bytes_rewritten += p->live_bytes;
        c.current = p;
        if (!opts->dry_run)
            rc = store_repack(s, m.w, p->id, keep_live, &c, &r->bytes_rewritten);
        prog.files_done++;
        prog.bytes_done += p->live_bytes;
        work_report(opts->hooks, &prog);
    }
    if (!rc && !opts->dry_run)
        rc = store_flush(s);
    if (!rc && !opts->dry_run) {
        rc = store_exclude_readers(s, 0);
        if (rc == CAIRN_ELOCKED) {
            if (opts->waiting)
                opts->waiting(opts->waiting_ctx);
            rc = store_exclude_readers(s, 1);
        }
    }
    for (size_t i = 0; !rc && i < c.n; i++) {
        const pack_info *const p = &c.packs[i];
        if (p->action == 0)
            continue;
        if (work_stopped(opts->hooks)) {
            rc =
                err_set(CAIRN_EINTERRUPTED, "interrupted: %" PRIu64 " of %" PRIu64 " packs deleted",
                        r->packs_deleted, r->packs_to_delete);
            break;
        }
        r->packs_deleted++;
        r->bytes_freed += p->size;
        if (!opts->dry_run)
            rc = store_delete_pack(s, p->id, p->entries, p->count);
        prog.files_done++;
        prog.bytes_done += p->size;
        work_report(opts->hooks, &prog);
    }
    r->bytes_freed = r->bytes_freed > r->bytes_rewritten ? r->bytes_freed - r->bytes_rewritten : 0;
    for (size_t i = 0; i < c.n; i++)
        free(c.packs[i].entries);
    free(c.packs);
    snaplist_free(&l);
    idset_free(&m.live);
    tree_walk_free(walker);
    store_worker_free(m.w);
    return rc;
}
