/* cairn forget (retention) and cairn prune (garbage collection). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/chains.h"
#include "engine/core/prune.h"
#include "engine/core/snapshot_list.h"
#include "cli.h"

int cmd_forget(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    forget_item *items = NULL;
    size_t n = 0, removed = 0;
    const forget_policy p = {c->keep[0], c->keep[1], c->keep[2],
                             c->keep[3], c->keep[4], c->keep[5]};
    if (c->nargs != 0) {
        fprintf(stderr, "cairn: usage: cairn forget [--chain C] --keep-last N ... [--dry-run]\n");
        return EXIT_USAGE;
    }
    chain_list chains = {NULL, 0};
    const char *named = NULL;
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = chains_load(s, &chains);
    if (!rc && c->chain)
        rc = chains_resolve(&l, c->chain, &named);
    if (!rc)
        rc = forget_plan(&l, named, &p, &items, &n);
    const char *chain = "";
    for (size_t i = 0; !rc && i < n; i++) {
        char id[9], when[32];
        /* archived chains are history: policy touches them only when named */
        if (!named && chains_is_archived(&chains, items[i].snap->chain))
            continue;
        if (strcmp(chain, items[i].snap->chain) != 0) {
            chain = items[i].snap->chain;
            printf("chain %s\n", chain);
        }
        snaplist_short_id(items[i].snap->id, id);
        cli_time(items[i].snap->time_sec, when, sizeof when, 0);
        if (items[i].keep) {
            printf("  keep    %s  %s  (%s)\n", id, when, items[i].reason);
            continue;
        }
        printf("  %s  %s  %s\n", c->dry_run ? "would remove" : "remove", id, when);
        removed++;
        if (!c->dry_run)
            rc = store_delete_snapshot(s, items[i].snap->id);
    }
    if (!rc)
        printf("%zu snapshot(s) %s; run 'cairn prune' to free their data\n", removed,
               c->dry_run ? "would be removed" : "removed");
    free(items);
    chains_free(&chains);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static void say_waiting(void *ctx)
{
    fprintf(stderr, "cairn: waiting for readers of %s (restore, check) to finish\n",
            (const char *)ctx);
}

int cmd_prune(cli *c)
{
    store *s = NULL;
    prune_result r;
    char unused[32], freed[32], rewritten[32];
    if (c->nargs != 0) {
        fprintf(stderr, "cairn: usage: cairn prune [--max-unused PERCENT] [--dry-run]\n");
        return EXIT_USAGE;
    }
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc) {
        const prune_opts opts = {.dry_run = c->dry_run,
                                 .max_unused = c->max_unused,
                                 .waiting = say_waiting,
                                 .waiting_ctx = c->store_path};
        rc = prune_run(s, &opts, &r);
    }
    store_close(s);
    if (rc)
        return cli_fail(rc);
    cli_human(r.bytes_unused, unused, sizeof unused);
    cli_human(r.bytes_freed, freed, sizeof freed);
    cli_human(r.bytes_rewritten, rewritten, sizeof rewritten);
    printf("%" PRIu64 " snapshots, %" PRIu64 " packs: %" PRIu64 " chunks in use, %" PRIu64
           " unused (%s)\n",
           r.snapshots, r.packs, r.chunks_live, r.chunks_unused, unused);
    printf("%s %" PRIu64 " packs, repacked %" PRIu64 ": %s freed, %s rewritten\n",
           c->dry_run ? "would delete" : "deleted", r.packs_deleted, r.packs_repacked, freed,
           rewritten);
    return EXIT_OK;
}
