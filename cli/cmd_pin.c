/* cmd_pin.c - cairn pin SNAPSHOT [REASON] and cairn unpin SNAPSHOT: keep a
 * snapshot through forget until it is unpinned (engine/core/chains.h). */
#include <stddef.h>
#include <stdio.h>

#include "engine/core/chains.h"
#include "engine/core/snapshot_list.h"
#include "cli.h"

static int pin_or_unpin(cli *c, int pin)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    char id[9];
    int added = 0;
    if (c->nargs < 1 || c->nargs > (pin ? 2 : 1))
        return cli_usage_error(pin ? &cli_cmd_pin : &cli_cmd_unpin);
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find_for(&l, c->args[0], c->device, 0, &sn);
    if (!rc) {
        snaplist_short_id(sn->id, id);
        rc = pin ? chains_pin(s, sn->chain, sn->id, c->nargs == 2 ? c->args[1] : "pinned by hand",
                              &added)
                 : chains_unpin(s, sn->chain, sn->id);
        if (rc == CAIRN_ENOTFOUND)
            rc = err_set(CAIRN_ENOTFOUND, "snapshot %s is not pinned", id);
    }
    if (!rc && pin)
        printf(added ? "pinned %s: forget keeps it until 'cairn unpin %s'\n"
                     : "%s was pinned already ('cairn unpin %s' to unpin it)\n",
               id, id);
    else if (!rc)
        printf("unpinned %s: forget applies its policy to it again\n", id);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

int cmd_pin(cli *c)
{
    return pin_or_unpin(c, 1);
}

int cmd_unpin(cli *c)
{
    return pin_or_unpin(c, 0);
}

static const cli_option pin_options[] = {
    CLI_OPT_DEVICE_SCOPE(0),
    CLI_OPT_WAIT(0),
    CLI_OPT_END,
};

static const char *const pin_synopsis[] = {
    "[--device NAME|UDID] SNAPSHOT [REASON]",
    NULL,
};

static const char *const unpin_synopsis[] = {
    "[--device NAME|UDID] SNAPSHOT",
    NULL,
};

const cli_command cli_cmd_pin = {
    .name = "pin",
    .summary = "keep a snapshot through forget until it is unpinned",
    .synopsis = pin_synopsis,
    .options = pin_options,
    .run = cmd_pin,
};

const cli_command cli_cmd_unpin = {
    .name = "unpin",
    .summary = "let forget's policy decide about a pinned snapshot again",
    .synopsis = unpin_synopsis,
    .options = pin_options,
    .run = cmd_unpin,
};
