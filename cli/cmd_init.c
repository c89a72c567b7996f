/* cmd_init.c - cairn init: creates a store and its first key file. */
#include <stddef.h>
#include <stdio.h>

#include "engine/core/backup.h"
#include "cli.h"
#include "password.h"

int cmd_init(cli *c)
{
    password pw = {NULL, 0};
    keys_kdf kdf;
    /* words left over were once ignored: now they are an error */
    if (c->nargs != 0)
        return cli_usage_error(&cli_cmd_init);
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (!rc)
        rc = keys_kdf_preset(c->kdf, &kdf);
    if (!rc) {
        password_warn_readable(c->password_file);
        rc = password_get(c->password_file, "CAIRN_PASSWORD", "New store password: ", 1, &pw);
    }
    /* a warning, not a refusal: the user may have reasons (a test store) */
    if (!rc && password_chars(&pw) < PASSWORD_WARN_BELOW)
        fprintf(stderr,
                "cairn: warning: the password has %zu characters; anyone with a copy of the "
                "store can try passwords offline, so use %d or more\n",
                password_chars(&pw), PASSWORD_WARN_BELOW);
    if (!rc)
        rc = backup_store_create(c->store_path, pw.text, pw.len, &kdf);
    password_free(&pw);
    if (rc)
        return cli_fail(rc);
    printf("created cairn store at %s\n", c->store_path);
    printf("keep the password safe: without it the backups cannot be read\n");
    return EXIT_OK;
}

static const cli_option init_options[] = {
    {.name = "kdf",
     .short_name = 'k',
     .kind = OPT_STRING,
     .offset = offsetof(cli, kdf),
     .arg_name = "COST",
     .help = "key file cost: interactive, moderate (default), sensitive"},
    CLI_OPT_END,
};

static const char *const init_synopsis[] = {
    "[--kdf COST]",
    NULL,
};

const cli_command cli_cmd_init = {
    .name = "init",
    .summary = "create a store (asks for its password twice)",
    .synopsis = init_synopsis,
    .options = init_options,
    .run = cmd_init,
};
