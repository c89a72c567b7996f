/* cmd_unlock.c - cairn unlock [--for DURATION] [--keyring user|session]
 * [--status]: asks for the store password once and keeps the master key in
 * the kernel keyring for a while, so that the commands after it derive no
 * key (store_session_unlock). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { UNLOCK_DEFAULT_SECONDS = 15 * 60 };

static int print_status(cli *c)
{
    int64_t until = 0;
    char when[32];
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (!rc)
        rc = store_session_status(c->store_path, &until);
    if (rc)
        return cli_fail(rc);
    if (!until) {
        printf("locked\n");
        return EXIT_OK;
    }
    cli_time(until, when, sizeof when, 0);
    printf("unlocked until %s\n", when);
    return EXIT_OK;
}

int cmd_unlock(cli *c)
{
    unsigned seconds = UNLOCK_DEFAULT_SECONDS;
    session_keyring where = SESSION_KEYRING_USER;
    int64_t until;
    char when[32];
    store *s = NULL;
    if (c->nargs)
        return cli_usage_error(&cli_cmd_unlock);
    if (c->unlock_status)
        return print_status(c);
    if (c->unlock_for) {
        const cairn_err rc = cli_parse_duration("--for", c->unlock_for, &seconds);
        if (rc)
            return cli_fail(rc);
        if (seconds == 0 || seconds > SESSION_KEY_MAX_SECONDS) {
            fprintf(stderr, "cairn: --for %s: an unlocked session lasts from 1s to 24h\n",
                    c->unlock_for);
            return EXIT_USAGE;
        }
    }
    if (c->keyring && strcmp(c->keyring, "session") == 0) {
        where = SESSION_KEYRING_SESSION;
    } else if (c->keyring && strcmp(c->keyring, "user") != 0) {
        fprintf(stderr, "cairn: --keyring %s: say user or session\n", c->keyring);
        return EXIT_USAGE;
    }
    /* the password is always asked: an unlocked session is never extended
     * without it */
    cairn_err rc = cli_open_store(c, STORE_NO_SESSION, &s);
    if (!rc)
        rc = store_session_unlock(s, where, seconds, &until);
    store_close(s);
    if (rc)
        return cli_fail(rc);
    cli_time(until, when, sizeof when, 0);
    printf("unlocked until %s\n", when);
    return EXIT_OK;
}

static const cli_option unlock_options[] = {
    {"for", 0, OPT_STRING, offsetof(struct cli, unlock_for), 0, 0, "DURATION",
     "how long the store stays unlocked (90s, 15m, 2h; default 15m, at most 24h)", 0},
    {"keyring", 0, OPT_STRING, offsetof(struct cli, keyring), 0, 0, "user|session",
     "the user keyring (default: every process of the user) or this login session's", 0},
    CLI_OPT_FLAG("status", unlock_status, "say whether the store is unlocked, and until when"),
    CLI_OPT_END,
};

static const char *const unlock_synopsis[] = {
    "[--for DURATION] [--keyring user|session]",
    "--status",
    NULL,
};

const cli_command cli_cmd_unlock = {
    .name = "unlock",
    .summary = "keep the store's key in the kernel keyring for a while: no password, no key "
               "derivation",
    .synopsis = unlock_synopsis,
    .options = unlock_options,
    .run = cmd_unlock,
};
