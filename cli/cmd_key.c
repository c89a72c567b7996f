/* cairn key list | add | remove ID | passwd: several passwords open one
 * store, each wrapping the same master key; changing one rewrites one small
 * key file and no data. */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "cli.h"
#include "password.h"

static void keys_dir(const cli *c, char *out, size_t cap)
{
    /* store_path fits in PATH_MAX and out has room for the folder name */
    (void)store_object_path(c->store_path, STORE_DIR_KEYS, out, cap);
}

/* The new password: --new-password-file, $CAIRN_NEW_PASSWORD, or asked twice. */
static cairn_err add_key(cli *c, store *s, char id[KEYS_ID_HEX + 1])
{
    char dir[PATH_MAX + 8];
    password pw = {NULL, 0};
    keys_kdf kdf;
    keys_dir(c, dir, sizeof dir);
    cairn_err rc = keys_kdf_preset(c->kdf, &kdf);
    if (!rc)
        rc = password_get(c->new_password_file, "CAIRN_NEW_PASSWORD", "New password: ", 1, &pw);
    if (!rc)
        rc = keys_add(dir, store_keys(s), pw.text, pw.len, &kdf, id);
    password_free(&pw);
    return rc;
}

int cmd_key(cli *c)
{
    store *s = NULL;
    char dir[PATH_MAX + 8], id[KEYS_ID_HEX + 1];
    const char *const sub = c->nargs > 0 ? c->args[0] : "";
    const int list = strcmp(sub, "list") == 0, add = strcmp(sub, "add") == 0,
              remove = strcmp(sub, "remove") == 0, passwd = strcmp(sub, "passwd") == 0;
    if (!(list || add || passwd) == !(remove && c->nargs == 2) || (!remove && c->nargs != 1))
        return cli_usage_error(&cli_cmd_key);
    cairn_err rc = cli_open_store(c, (list ? 0 : STORE_WRITE) | STORE_NO_SESSION, &s);
    if (rc)
        return cli_fail(rc);
    keys_dir(c, dir, sizeof dir);
    if (list) {
        keys_info *keys = NULL;
        size_t n = 0;
        rc = keys_list(dir, &keys, &n);
        for (size_t i = 0; !rc && i < n; i++) {
            char when[32];
            cli_time(keys[i].mtime, when, sizeof when, 0);
            if (keys[i].damaged)
                printf("  %s  %s  damaged\n", keys[i].id, when);
            else
                printf("%s %s  %s  Argon2id ops %llu, mem %zu MiB\n",
                       strcmp(keys[i].id, store_key_id(s)) == 0 ? "*" : " ", keys[i].id, when,
                       keys[i].opslimit, keys[i].memlimit >> 20);
        }
        free(keys);
    } else if (add) {
        rc = add_key(c, s, id);
        if (!rc)
            printf("added key %s\n", id);
    } else if (remove) {
        if (strcmp(c->args[1], store_key_id(s)) == 0)
            rc = err_set(CAIRN_EINVAL,
                         "key %s is the one in use: open the store with another "
                         "password to remove it, or use 'cairn key passwd'",
                         c->args[1]);
        else
            rc = keys_remove(dir, c->args[1]);
        if (!rc)
            printf("removed key %s\n", c->args[1]);
    } else {
        /* the new key is durable before the old one goes */
        rc = add_key(c, s, id);
        if (!rc)
            rc = keys_remove(dir, store_key_id(s));
        if (!rc)
            printf("password changed: key %s replaces %s\n", id, store_key_id(s));
    }
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

enum { KEY_LIST, KEY_ADD, KEY_REMOVE, KEY_PASSWD };

static const char *const key_modes[] = {"key list", "key add", "key remove", "key passwd"};

static int key_mode(const cli *c)
{
    static const char *const subs[] = {"list", "add", "remove", "passwd"};
    for (int i = 0; c->nargs > 0 && i < 4; i++)
        if (strcmp(c->args[0], subs[i]) == 0)
            return i;
    return -1; /* cmd_key says the usage */
}

static const cli_option key_options[] = {
    {.name = "new-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, new_password_file),
     .arg_name = "FILE",
     .help = "the new password (else $CAIRN_NEW_PASSWORD, else a prompt)",
     .modes = CLI_MODE(KEY_ADD) | CLI_MODE(KEY_PASSWD)},
    {.name = "kdf",
     .short_name = 'k',
     .kind = OPT_STRING,
     .offset = offsetof(cli, kdf),
     .arg_name = "COST",
     .help = "key file cost: interactive, moderate (default), sensitive, minimum (tests)",
     .modes = CLI_MODE(KEY_ADD) | CLI_MODE(KEY_PASSWD)},
    CLI_OPT_WAIT(CLI_MODE(KEY_ADD) | CLI_MODE(KEY_REMOVE) | CLI_MODE(KEY_PASSWD)),
    CLI_OPT_END,
};

static const char *const key_synopsis[] = {
    "list",      "add [--new-password-file FILE] [--kdf COST]",
    "remove ID", "passwd [--new-password-file FILE] [--kdf COST]",
    NULL,
};

const cli_command cli_cmd_key = {
    .name = "key",
    .summary = "list, add or remove the passwords (key files) that open the store",
    .synopsis = key_synopsis,
    .options = key_options,
    .mode_names = key_modes,
    .mode_of = key_mode,
    .run = cmd_key,
};
