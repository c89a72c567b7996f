/* cmd_prune.c - cairn prune: frees the data no snapshot uses (garbage
 * collection of packs). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/prune.h"
#include "cli.h"

static void say_waiting(void *ctx)
{
    fprintf(stderr, "cairn: waiting for readers of %s (restore, check) to finish\n",
            (const char *)ctx);
}

static void print_json(const prune_result *r, int dry_run)
{
    printf("{\"type\":\"summary\",\"dry_run\":%s,\"snapshots\":%" PRIu64 ",\"packs\":%" PRIu64
           ",\"chunks_live\":%" PRIu64 ",\"chunks_unused\":%" PRIu64 ",\"bytes_unused\":%" PRIu64
           ",\"packs_deleted\":%" PRIu64 ",\"packs_repacked\":%" PRIu64 ",\"bytes_freed\":%" PRIu64
           ",\"bytes_rewritten\":%" PRIu64 "}\n",
           dry_run ? "true" : "false", r->snapshots, r->packs, r->chunks_live, r->chunks_unused,
           r->bytes_unused, r->packs_deleted, r->packs_repacked, r->bytes_freed,
           r->bytes_rewritten);
}

int cmd_prune(cli *c)
{
    store *s = NULL;
    prune_result r;
    cli_progress prog;
    char unused[32], freed[32], rewritten[32];
    if (c->nargs != 0)
        return cli_usage_error(&cli_cmd_prune);
    memset(&r, 0, sizeof r);
    const work_hooks *const hooks = cli_progress_begin(&prog, c);
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc) {
        const prune_opts opts = {.dry_run = c->dry_run,
                                 .max_unused = c->max_unused,
                                 .waiting = say_waiting,
                                 .waiting_ctx = c->store_path,
                                 .hooks = hooks};
        cli_progress_catch(&prog);
        rc = prune_run(s, &opts, &r);
        cli_progress_end(&prog);
    }
    store_close(s);
    if (rc == CAIRN_EINTERRUPTED && cli_interrupted()) {
        /* a kill at any point loses nothing: what is left is the next prune's */
        if (r.packs_deleted)
            fprintf(stderr,
                    "cairn: interrupted: %" PRIu64 " of %" PRIu64
                    " packs deleted; run prune again to finish\n",
                    r.packs_deleted, r.packs_to_delete);
        else
            fprintf(stderr, "cairn: interrupted: nothing deleted\n");
        return EXIT_INTERRUPTED;
    }
    if (rc)
        return cli_fail(rc);
    if (c->json) {
        print_json(&r, c->dry_run);
        return EXIT_OK;
    }
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

static const cli_option prune_options[] = {
    {.name = "max-unused",
     .kind = OPT_INT,
     .offset = offsetof(cli, max_unused),
     .min = 0,
     .max = 100,
     .arg_name = "PERCENT",
     .help = "repack packs more than PERCENT unused (default 20)"},
    {.name = "dry-run",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, dry_run),
     .help = "show what would be deleted, change nothing"},
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "progress events and a summary as JSON lines"},
    CLI_OPT_WAIT(0),
    CLI_OPT_END,
};

static const char *const prune_synopsis[] = {
    "[--max-unused PERCENT] [--dry-run] [--json]",
    NULL,
};

const cli_command cli_cmd_prune = {
    .name = "prune",
    .summary = "free the data no snapshot uses",
    .synopsis = prune_synopsis,
    .options = prune_options,
    .run = cmd_prune,
};
