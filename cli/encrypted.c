/* encrypted.c - encrypted device backups on the command line: the backup
 * password for backup and restore, and restore --reencrypt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/snapshot_list.h"
#include "engine/core/tree_store.h"
#include "cli.h"
#include "password.h"

static const char *const ENV_PASSWORD = "CAIRN_BACKUP_PASSWORD";

cairn_err cli_enc_open(cli *c, device_info *dev, devcrypt **crypt)
{
    password pw = {NULL, 0};
    int have = 0;
    char prompt[256];
    const char *const name = device_info_meta(dev, SNAP_META_DEVICE_NAME);
    *crypt = NULL;
    snprintf(prompt, sizeof prompt,
             "Backup password of %s (empty: store the backup encrypted as it is): ",
             name ? name : dev->udid);
    cairn_err rc = password_get_optional(c->backup_password_file, ENV_PASSWORD, prompt, &pw, &have);
    if (rc)
        return rc;
    if (!have) {
        printf("  encrypted, no backup password given (--backup-password-file or %s):\n"
               "  stored as the device wrote it; ls, extract and diff need the password\n",
               ENV_PASSWORD);
        return device_add_meta(dev, SNAP_META_CONTENTS, SNAP_CONTENTS_ENCRYPTED);
    }
    rc = devcrypt_open(c->args[0], pw.text, pw.len, crypt);
    password_free(&pw);
    if (!rc)
        rc = device_read_contents(c->args[0], devcrypt_db_path(*crypt), dev);
    if (!rc)
        rc = device_add_meta(dev, SNAP_META_CONTENTS, SNAP_CONTENTS_DECRYPTED);
    if (rc) {
        devcrypt_close(*crypt);
        *crypt = NULL;
        return rc;
    }
    printf("  encrypted: unlocked; files are stored decrypted and restored re-encrypted\n");
    return CAIRN_OK;
}

int cli_enc_is_decrypted(const snapshot *sn)
{
    return snapshot_is_decrypted(sn);
}

static int is_encrypted(const snapshot *sn)
{
    return snapshot_is_encrypted_backup(sn);
}

cairn_err cli_enc_restore_keys(cli *c, store *s, const snapshot *sn, iosenc_keys **keys,
                               password *new_pw)
{
    store_worker *w = NULL;
    tree_node n;
    cbuf plist;
    password pw = {NULL, 0};
    char id[9];
    *keys = NULL;
    memset(&n, 0, sizeof n);
    cbuf_init(&plist);
    snaplist_short_id(sn->id, id);
    if (!cli_enc_is_decrypted(sn) && !c->reencrypt)
        return CAIRN_OK; /* restored as stored */
    if (!is_encrypted(sn))
        return err_set(CAIRN_EINVAL,
                       "snapshot %s is not an encrypted device backup: "
                       "--reencrypt has nothing to re-key",
                       id);
    cairn_err rc = password_get(c->backup_password_file, ENV_PASSWORD,
                                "Backup password of the snapshot: ", 0, &pw);
    if (!rc && c->reencrypt)
        rc = password_get(c->new_backup_password_file, "CAIRN_NEW_BACKUP_PASSWORD",
                          "New backup password: ", 1, new_pw);
    if (!rc)
        rc = store_worker_new(s, &w);
    if (!rc)
        rc = treestore_lookup(s, w, (const uint8_t(*)[ID_LEN])sn->tree, sn->ntree, "Manifest.plist",
                              &n);
    if (!rc)
        rc = treestore_load_bytes(s, w, (const uint8_t(*)[ID_LEN])n.chunks, n.nchunks, &plist);
    if (!rc)
        rc = devcrypt_unlock_plist(plist.data, plist.len, pw.text, pw.len, keys);
    password_free(&pw);
    tree_node_free(&n);
    cbuf_free(&plist);
    store_worker_free(w);
    if (rc) {
        password_free(new_pw);
        iosenc_keys_free(*keys);
        *keys = NULL;
    }
    return rc;
}

cairn_err cli_enc_reencrypt(const char *dir, const iosenc_keys *keys, const password *new_pw)
{
    char *const path = malloc(strlen(dir) + sizeof "/Manifest.plist");
    if (!path)
        return err_set(CAIRN_ENOMEM, "out of memory");
    sprintf(path, "%s/Manifest.plist", dir);
    const cairn_err rc = devcrypt_rekey_manifest(path, keys, new_pw->text, new_pw->len);
    free(path);
    if (!rc)
        printf("re-encrypted: the new backup password opens %s\n", dir);
    return rc;
}
