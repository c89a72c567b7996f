/* cmd_lock.c - cairn lock: ends the store's unlocked session (cairn unlock)
 * at once; no password.  Exit 0 also when it had none. */
#include <stdio.h>

#include "cli.h"

int cmd_lock(cli *c)
{
    int dropped = 0;
    if (c->nargs)
        return cli_usage_error(&cli_cmd_lock);
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (!rc)
        rc = store_session_lock(c->store_path, &dropped);
    if (rc)
        return cli_fail(rc);
    printf(dropped ? "locked\n" : "locked (it was not unlocked)\n");
    return EXIT_OK;
}

static const char *const lock_synopsis[] = {"", NULL};

const cli_command cli_cmd_lock = {
    .name = "lock",
    .summary = "end the store's unlocked session (cairn unlock) now",
    .synopsis = lock_synopsis,
    .run = cmd_lock,
};
