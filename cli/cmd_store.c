/* cmd_store.c - cairn backup (a folder, or --device) and cairn restore
 * (--to, --from-target, or --device). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/backup.h"
#include "engine/core/chains.h"
#include "engine/ios/backup_folder.h"
#include "engine/core/restore.h"
#include "engine/core/snapshot_list.h"
#include "cli.h"
#include "password.h"

/* A MobileSync folder becomes a snapshot of its device's chain, with its
 * details (and for encrypted backups given their password, the decrypted
 * catalog). */
static cairn_err inspect_source(cli *c, device_info *dev, int *is_device, devcrypt **crypt)
{
    cairn_err rc = device_detect(c->args[0], is_device);
    if (rc == CAIRN_ENOTFOUND)
        return err_set(CAIRN_ESOURCE, "%s: no such folder", c->args[0]);
    if (rc || !*is_device)
        return rc;
    rc = device_inspect(c->args[0], dev);
    if (rc)
        return rc;
    const char *const name = device_meta_value(dev, "device_name");
    const char *const type = device_meta_value(dev, "product_type");
    const char *const ios = device_meta_value(dev, "product_version");
    printf("device backup: %s (%s, iOS %s), UDID %s%s\n", name ? name : "unnamed",
           type ? type : "unknown model", ios ? ios : "?", dev->udid,
           dev->encrypted ? ", encrypted" : "");
    if (dev->encrypted)
        rc = cli_enc_open(c, dev, crypt);
    return rc;
}

/* The completeness check and catalog of an unencrypted device backup (the
 * parent's catalog when Manifest.db is unchanged); an incomplete backup is
 * refused unless asked. */
static cairn_err device_contents(cli *c, store *s, device_info *dev)
{
    snaplist l = {NULL, 0, 0};
    int reused = 0;
    cairn_err rc = CAIRN_OK;
    if (!dev->encrypted) {
        rc = snaplist_load(s, &l);
        if (!rc)
            rc = device_reuse_contents(s, snaplist_latest_in_chain(&l, dev->chain), c->args[0], dev,
                                       &reused);
        if (!rc && !reused)
            rc = device_read_contents(c->args[0], NULL, dev);
        snaplist_free(&l);
    }
    if (rc || dev->complete)
        return rc;
    if (!c->allow_incomplete)
        return err_set(CAIRN_ESOURCE,
                       "%s; refusing to store it (use --allow-incomplete to keep it anyway, "
                       "marked incomplete)",
                       dev->problem);
    fprintf(stderr, "cairn: warning: %s; storing it marked incomplete\n", dev->problem);
    return CAIRN_OK;
}

/* A new encryption identity for the device archives its current chain. */
static cairn_err rotate_chain(store *s, const device_info *dev)
{
    snaplist l = {NULL, 0, 0};
    chain_list chains = {NULL, 0};
    char *archived = NULL, reason[256];
    cairn_err rc = snaplist_load(s, &l);
    if (!rc)
        rc = chains_load(s, &chains);
    if (!rc)
        rc = chains_rotate(s, &l, &chains, dev->udid, dev->chain, &archived, reason, sizeof reason);
    if (!rc && archived)
        printf("chain %s archived: %s; it stays restorable and is never pruned by policy\n"
               "new chain %s starts with this backup\n",
               archived, reason, dev->chain);
    free(archived);
    chains_free(&chains);
    snaplist_free(&l);
    return rc;
}

cairn_err cli_rotate_chain(store *s, const device_info *dev)
{
    return rotate_chain(s, dev);
}

int cmd_backup(cli *c)
{
    store *s = NULL;
    backup_result r;
    device_info dev;
    devcrypt *crypt = NULL;
    int is_device = 0;
    char id[9], parent[9], a[32], b[32], d[32];
    memset(&dev, 0, sizeof dev);
    if (c->device)
        return cli_backup_device(c);
    if (c->nargs != 1) {
        fprintf(stderr,
                "cairn: usage: cairn backup [--store DIR] [--allow-incomplete] SOURCE_DIR\n");
        return EXIT_USAGE;
    }
    cairn_err rc = inspect_source(c, &dev, &is_device, &crypt);
    if (!rc)
        rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc && is_device)
        rc = device_contents(c, s, &dev);
    if (!rc && is_device)
        rc = rotate_chain(s, &dev);
    if (rc) {
        store_close(s);
        devcrypt_close(crypt);
        device_info_free(&dev);
        return cli_fail(rc);
    }
    const backup_opts opts = {.source = c->args[0],
                              .chain = is_device ? dev.chain : NULL,
                              .threads = c->threads,
                              .force_read = c->force,
                              .extra_flags = is_device && !dev.complete ? SNAP_INCOMPLETE : 0,
                              .meta = dev.meta,
                              .nmeta = dev.nmeta,
                              .catalog = is_device && (!dev.encrypted || crypt) ? &dev.cat : NULL,
                              .crypt = crypt,
                              .warn = cli_warn_item};
    rc = backup_run(s, &opts, &r);
    store_close(s);
    devcrypt_close(crypt);
    device_info_free(&dev);
    if (rc && rc != CAIRN_EPARTIAL)
        return cli_fail(rc);
    snaplist_short_id(r.id, id);
    if (r.has_parent)
        snaplist_short_id(r.parent, parent);
    cli_human(r.bytes, a, sizeof a);
    cli_human(r.new_bytes, b, sizeof b);
    cli_human(r.new_raw, d, sizeof d);
    printf("snapshot %s saved%s%s%s\n", id, r.has_parent ? " (parent " : "",
           r.has_parent ? parent : "", r.has_parent ? ")" : "");
    printf("  files: %" PRIu64 " in %" PRIu64 " folders, %s (%" PRIu64 " read, %" PRIu64
           " unchanged)\n",
           r.files, r.dirs, a, r.files_read, r.files - r.files_read);
    printf("  added: %" PRIu64 " new chunks, %s stored (%s before compression)\n", r.new_chunks, b,
           d);
    if (rc == CAIRN_EPARTIAL) {
        fprintf(stderr, "cairn: %s; the snapshot is marked partial\n", err_msg());
        return EXIT_PARTIAL;
    }
    return EXIT_OK;
}

int cmd_restore(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn;
    restore_result r;
    iosenc_keys *keys = NULL;
    password new_pw = {NULL, 0};
    char id[9], size[32];
    if (c->device)
        return cli_restore_device(c);
    if (c->nargs != 1 || !c->to) {
        fprintf(stderr, "cairn: usage: cairn restore [--store DIR] SNAPSHOT --to DIR "
                        "[--overwrite]\n");
        return EXIT_USAGE;
    }
    cairn_err rc = c->from_target ? cli_from_target(c) : CAIRN_OK;
    if (!rc)
        rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find(&l, c->args[0], &sn);
    if (!rc)
        rc = cli_enc_restore_keys(c, s, sn, &keys, &new_pw);
    if (!rc) {
        const restore_opts opts = {.target = c->to,
                                   .overwrite = c->overwrite,
                                   .threads = c->threads,
                                   .keys = keys,
                                   .warn = cli_warn_item};
        rc = restore_run(s, sn, &opts, &r);
        if (!rc || rc == CAIRN_EPARTIAL) {
            snaplist_short_id(sn->id, id);
            cli_human(r.bytes, size, sizeof size);
            printf("restored snapshot %s to %s: %" PRIu64 " files, %" PRIu64 " folders, %s\n", id,
                   c->to, r.files, r.dirs, size);
        }
        if (!rc && c->reencrypt)
            rc = cli_enc_reencrypt(c->to, keys, &new_pw);
    }
    iosenc_keys_free(keys);
    password_free(&new_pw);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

/* ---- options: backup and restore (parse_options.h) ---- */

enum { BACKUP_FOLDER, BACKUP_DEVICE };

static const char *const backup_modes[] = {"backup SOURCE_DIR", "backup --device"};

static int backup_mode(const cli *c)
{
    return c->device ? BACKUP_DEVICE : BACKUP_FOLDER;
}

static const cli_option backup_options[] = {
    {.name = "device",
     .kind = OPT_MAYBE_VALUE,
     .offset = offsetof(cli, device),
     .arg_name = "UDID",
     .help = "from the device (without UDID: the only one connected)",
     .modes = CLI_MODE(BACKUP_DEVICE)},
    {.name = "threads",
     .short_name = 'j',
     .kind = OPT_INT,
     .offset = offsetof(cli, threads),
     .min = 1,
     .max = 64,
     .arg_name = "N",
     .help = "worker threads (default: one per core)"},
    {.name = "force",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, force),
     .help = "read every file, even those that look unchanged",
     .modes = CLI_MODE(BACKUP_FOLDER)},
    {.name = "full",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, full),
     .help = "ask the device for a full backup",
     .modes = CLI_MODE(BACKUP_DEVICE)},
    {.name = "allow-incomplete",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, allow_incomplete),
     .help = "store an incomplete device backup, marked so"},
    {.name = "backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, backup_password_file),
     .arg_name = "FILE",
     .help = "the device backup's password (else $CAIRN_BACKUP_PASSWORD)"},
    CLI_OPT_END,
};

static const char *const backup_synopsis[] = {
    "[--threads N] [--force] [--allow-incomplete] [--backup-password-file FILE] SOURCE_DIR",
    "--device [UDID] [--full] [--allow-incomplete] [--threads N] [--backup-password-file FILE]",
    NULL,
};

const cli_command cli_cmd_backup = {
    .name = "backup",
    .summary = "store a snapshot of a folder, a MobileSync backup folder or a device",
    .synopsis = backup_synopsis,
    .options = backup_options,
    .mode_names = backup_modes,
    .mode_of = backup_mode,
    .run = cmd_backup,
};

enum { RESTORE_TO, RESTORE_FROM_TARGET, RESTORE_DEVICE };

static const char *const restore_modes[] = {"restore --to", "restore --from-target",
                                            "restore --device"};

static int restore_mode(const cli *c)
{
    if (c->device)
        return RESTORE_DEVICE;
    return c->from_target ? RESTORE_FROM_TARGET : RESTORE_TO;
}

static const cli_option restore_options[] = {
    {.name = "to",
     .short_name = 't',
     .kind = OPT_STRING,
     .offset = offsetof(cli, to),
     .arg_name = "DIR",
     .help = "the folder to restore into",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "overwrite",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, overwrite),
     .help = "restore into a non-empty folder, replacing files",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "threads",
     .short_name = 'j',
     .kind = OPT_INT,
     .offset = offsetof(cli, threads),
     .min = 1,
     .max = 64,
     .arg_name = "N",
     .help = "worker threads (default: one per core)",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "from-target",
     .kind = OPT_STRING,
     .offset = offsetof(cli, from_target),
     .arg_name = "NAME|URL",
     .help = "restore from a copy target instead of the store",
     .modes = CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, backup_password_file),
     .arg_name = "FILE",
     .help = "the device backup's password (else $CAIRN_BACKUP_PASSWORD)"},
    {.name = "reencrypt",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, reencrypt),
     .help = "re-key the restored device backup for a new password",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "new-backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, new_backup_password_file),
     .arg_name = "FILE",
     .help = "the new backup password (else $CAIRN_NEW_BACKUP_PASSWORD)",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "device",
     .kind = OPT_MAYBE_VALUE,
     .offset = offsetof(cli, device),
     .arg_name = "UDID",
     .help = "restore to the device over USB or Wi-Fi",
     .modes = CLI_MODE(RESTORE_DEVICE)},
    {.name = "system",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, restore_system),
     .help = "restore system files too (device)",
     .modes = CLI_MODE(RESTORE_DEVICE)},
    {.name = "settings",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, restore_settings),
     .help = "restore the device's settings",
     .modes = CLI_MODE(RESTORE_DEVICE)},
    {.name = "no-reboot",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, no_reboot),
     .help = "leave the device running after the restore",
     .modes = CLI_MODE(RESTORE_DEVICE)},
    {.name = "remove",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, restore_remove),
     .help = "remove from the device what the backup lacks",
     .modes = CLI_MODE(RESTORE_DEVICE)},
    CLI_OPT_END,
};

static const char *const restore_synopsis[] = {
    "SNAPSHOT --to DIR [--overwrite] [--threads N] [--backup-password-file FILE] [--reencrypt "
    "[--new-backup-password-file FILE]]",
    "--from-target NAME|URL SNAPSHOT --to DIR [--overwrite] [--threads N]",
    "SNAPSHOT --device [UDID] [--system] [--settings] [--no-reboot] [--remove] "
    "[--backup-password-file FILE]",
    NULL,
};

const cli_command cli_cmd_restore = {
    .name = "restore",
    .summary = "restore a snapshot into a folder, or to a device",
    .synopsis = restore_synopsis,
    .options = restore_options,
    .mode_names = restore_modes,
    .mode_of = restore_mode,
    .run = cmd_restore,
};
