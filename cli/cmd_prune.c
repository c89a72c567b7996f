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

int cmd_prune(cli *c)
{
    store *s = NULL;
    prune_result r;
    char unused[32], freed[32], rewritten[32];
    if (c->nargs != 0)
        return cli_usage_error(&cli_cmd_prune);
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
    CLI_OPT_WAIT(0),
    CLI_OPT_END,
};

static const char *const prune_synopsis[] = {
    "[--max-unused PERCENT] [--dry-run]",
    NULL,
};

const cli_command cli_cmd_prune = {
    .name = "prune",
    .summary = "free the data no snapshot uses",
    .synopsis = prune_synopsis,
    .options = prune_options,
    .run = cmd_prune,
};
