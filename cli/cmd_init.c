/* cmd_init.c - cairn init: creates a store and its first key file. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/backup.h"
#include "cli.h"
#include "password.h"

/* The largest chunk a new store has (4 MiB, the chunker's maximum). */
enum { CHUNK_KIB_MAX = 4096 };

/* A chunk size given in KiB (0: off), into bytes; NULL keeps the default.
 * The store's own rule (0 or a power of two up to the largest chunk) is
 * checked here too, so that the refusal names the option (docs/CLI.md). */
static cairn_err chunk_kib(const char *opt, const char *arg, int64_t *bytes)
{
    char *end;
    if (!arg)
        return CAIRN_OK;
    errno = 0;
    const unsigned long kib = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || kib > CHUNK_KIB_MAX ||
        (kib & (kib - 1)) != 0)
        return err_set(CAIRN_EINVAL,
                       "--%s %s: not a size in KiB (0, or a power of two from 1 to %d)", opt, arg,
                       CHUNK_KIB_MAX);
    *bytes = (int64_t)kib * 1024;
    return CAIRN_OK;
}

int cmd_init(cli *c)
{
    password pw = {NULL, 0};
    keys_kdf kdf;
    backup_store_choice choice = {c->zstd_level, BACKUP_CHUNK_DEFAULT, BACKUP_CHUNK_DEFAULT,
                                  c->sqlite_fixed};
    /* words left over were once ignored: now they are an error */
    if (c->nargs != 0)
        return cli_usage_error(&cli_cmd_init);
    cairn_err rc = chunk_kib("sqlite-chunk", c->sqlite_chunk, &choice.sqlite_chunk);
    if (!rc)
        rc = chunk_kib("media-chunk", c->media_chunk, &choice.media_chunk);
    if (rc)
        return cli_fail(rc);
    rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
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
    if (!rc && c->kdf && strcmp(c->kdf, "minimum") == 0)
        fprintf(stderr, "cairn: warning: --kdf minimum: anyone with a copy of the store can try "
                        "passwords at full speed (for tests and throwaway stores only)\n");
    if (!rc)
        rc = backup_store_create(c->store_path, pw.text, pw.len, &kdf, &choice);
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
     .help = "key file cost: interactive, moderate (default), sensitive, minimum (tests)"},
    {.name = "sqlite-chunk",
     .kind = OPT_STRING,
     .offset = offsetof(cli, sqlite_chunk),
     .arg_name = "KIB",
     .help = "SQLite databases: chunks of KIB on average (default 16; 0: as other files)"},
    CLI_OPT_FLAG("sqlite-fixed", sqlite_fixed,
                 "SQLite databases: fixed page-aligned chunks of --sqlite-chunk KIB"),
    {.name = "media-chunk",
     .kind = OPT_STRING,
     .offset = offsetof(cli, media_chunk),
     .arg_name = "KIB",
     .help = "photos and videos: fixed chunks, not compressed (default 4096; 0: as other files)"},
    {.name = "zstd-level",
     .kind = OPT_INT,
     .offset = offsetof(cli, zstd_level),
     .min = 1,
     .max = 19,
     .arg_name = "N",
     .help = "compression level of new chunks (default 2)"},
    CLI_OPT_END,
};

static const char *const init_synopsis[] = {
    "[--kdf COST] [--sqlite-chunk KIB] [--sqlite-fixed] [--media-chunk KIB] [--zstd-level N]",
    NULL,
};

const cli_command cli_cmd_init = {
    .name = "init",
    .summary = "create a store (asks for its password twice)",
    .synopsis = init_synopsis,
    .options = init_options,
    .run = cmd_init,
};
