/* cmd_index.c - cairn index rebuild: the LMDB index is a cache, rebuilt
 * from the packs. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_index(cli *c)
{
    store *s = NULL;
    uint64_t packs, chunks;
    if (c->nargs != 1 || strcmp(c->args[0], "rebuild") != 0)
        return cli_usage_error(&cli_cmd_index);
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc)
        rc = store_index_rebuild(s, &packs, &chunks);
    store_close(s);
    if (rc)
        return cli_fail(rc);
    printf("index rebuilt from %" PRIu64 " packs: %" PRIu64 " chunks\n", packs, chunks);
    return EXIT_OK;
}

static const cli_option index_options[] = {
    CLI_OPT_WAIT(0),
    CLI_OPT_END,
};

static const char *const index_synopsis[] = {
    "rebuild",
    NULL,
};

const cli_command cli_cmd_index = {
    .name = "index",
    .summary = "rebuild the index (a cache) from the packs",
    .synopsis = index_synopsis,
    .options = index_options,
    .run = cmd_index,
};
