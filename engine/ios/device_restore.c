#include "engine/ios/device_restore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/restore.h"
#include "engine/core/snapshot_edit.h"
#include "engine/core/snapshot_list.h"
#include "engine/ios/device_steps.h"
#include "engine/ios/encrypted_folder.h"

enum { INFO_PLIST_MAX = 64 << 20 };

struct device_keys {
    iosenc_keys *keys;
    file_encrypter encrypter;
    device_secret new_password; /* reencrypt only */
};

void device_keys_free(device_keys *k)
{
    if (!k)
        return;
    iosenc_keys_free(k->keys);
    device_secret_wipe(&k->new_password);
    free(k);
}

const file_encrypter *device_keys_encrypter(const device_keys *k)
{
    return k ? &k->encrypter : NULL;
}

cairn_err device_restore_keys(store *s, const snapshot *sn, int reencrypt,
                              const device_callbacks *cb, device_keys **out)
{
    device_secret pw = {NULL, 0};
    char id[9];
    *out = NULL;
    snaplist_short_id(sn->id, id);
    if (!snapshot_is_decrypted(sn) && !reencrypt)
        return CAIRN_OK; /* restored as stored */
    if (!snapshot_is_encrypted_backup(sn))
        return err_set(CAIRN_EINVAL,
                       "snapshot %s is not an encrypted device backup: "
                       "--reencrypt has nothing to re-key",
                       id);
    device_keys *const k = calloc(1, sizeof *k);
    if (!k)
        return err_set(CAIRN_ENOMEM, "out of memory");
    cairn_err rc =
        device_ask(cb, DEVICE_PASSWORD_BACKUP, "Backup password of the snapshot: ", 0, &pw);
    if (!rc && reencrypt)
        rc = device_ask(cb, DEVICE_PASSWORD_NEW_BACKUP, "New backup password: ", 0,
                        &k->new_password);
    if (!rc)
        rc = device_snapshot_keys(s, sn, &pw, &k->keys);
    device_secret_wipe(&pw);
    if (rc) {
        device_keys_free(k);
        return rc;
    }
    k->encrypter = iosenc_file_encrypter(k->keys);
    *out = k;
    return CAIRN_OK;
}

static void forward_warning(void *ctx, const char *path, const char *msg)
{
    const device_callbacks *const cb = ctx;
    if (cb->warning)
        cb->warning(cb->ctx, path, msg);
}

cairn_err device_restore_to_folder(store *s, const snapshot *sn,
                                   const device_restore_folder_opts *o, const device_callbacks *cb,
                                   device_restore_result *r)
{
    device_keys *keys = NULL;
    restore_result rr;
    memset(r, 0, sizeof *r);
    cairn_err rc = device_restore_keys(s, sn, o->reencrypt, cb, &keys);
    if (rc)
        return rc;
    const restore_opts opts = {.target = o->target,
                               .overwrite = o->overwrite,
                               .threads = o->threads,
                               .encrypter = device_keys_encrypter(keys),
                               .warn = forward_warning,
                               .warn_ctx = (void *)cb,
                               .hooks = o->hooks};
    rc = restore_run(s, sn, &opts, &rr);
    /* counted also when stopped: the caller says how much is there */
    r->files = rr.files;
    r->dirs = rr.dirs;
    r->bytes = rr.bytes;
    r->failed = rr.failed;
    if (!rc || rc == CAIRN_EPARTIAL) {
        r->restored = 1;
        r->partial = rc == CAIRN_EPARTIAL;
    }
    if (!rc && o->reencrypt) {
        char *const path = malloc(strlen(o->target) + sizeof "/Manifest.plist");
        if (!path) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
        } else {
            sprintf(path, "%s/Manifest.plist", o->target);
            rc = devcrypt_rekey_manifest(path, keys->keys, keys->new_password.text,
                                         keys->new_password.len);
            free(path);
        }
        r->reencrypted = rc == CAIRN_OK;
    }
    device_keys_free(keys);
    return rc;
}

cairn_err device_restore_to_device(store *s, const snapshot *sn,
                                   const device_restore_device_opts *o, const device_callbacks *cb,
                                   device_restore_result *r)
{
    idev *d = NULL;
    stream *view = NULL;
    device_secret pw = {NULL, 0};
    iosenc_keys *keys = NULL;
    file_encrypter fe;
    cbuf info;
    mb2host_result mr;
    char id[9];
    memset(r, 0, sizeof *r);
    memset(&mr, 0, sizeof mr);
    cbuf_init(&info);
    const mb2host_events ev = device_events(cb);
    snaplist_short_id(sn->id, id);
    const char *const udid = snapshot_udid(sn);
    cairn_err rc = CAIRN_OK;
    if (!udid)
        rc = err_set(CAIRN_EINVAL, "snapshot %s is not a device backup", id);
    else if (!snapshot_device_finished(sn) || (sn->flags & SNAP_INCOMPLETE))
        rc = err_set(CAIRN_EINVAL, "snapshot %s is an incomplete backup: a device refuses it", id);
    if (!rc && snapshot_is_encrypted_backup(sn))
        rc = device_ask(cb, DEVICE_PASSWORD_BACKUP, "Backup password of the snapshot: ", 0, &pw);
    if (!rc) {
        const stream_opts so = {.base = sn, .read_only = 1};
        rc = stream_begin(s, &so, &view);
    }
    if (!rc) {
        rc = stream_read_all(view, "Info.plist", INFO_PLIST_MAX, &info);
        if (rc == CAIRN_ENOTFOUND)
            rc = CAIRN_OK; /* no apps to reinstall */
    }
    /* a snapshot stored decrypted goes to the device as the device wrote it */
    if (!rc && snapshot_is_decrypted(sn)) {
        rc = device_snapshot_keys(s, sn, &pw, &keys);
        if (!rc) {
            fe = iosenc_file_encrypter(keys);
            stream_set_encrypter(view, &fe);
        }
    }
    if (!rc)
        rc = idev_open(o->device, &d);
    if (!rc) {
        device_announce(d, cb);
        snprintf(r->device_udid, sizeof r->device_udid, "%s", idev_udid(d));
        const mb2host_restore_opts mo = {.source_udid = udid,
                                         .system = o->system,
                                         .settings = o->settings,
                                         .no_reboot = o->no_reboot,
                                         .remove = o->remove,
                                         .password = pw.text,
                                         .info_plist = info.len ? info.data : NULL,
                                         .info_plist_len = info.len};
        rc = mb2host_restore(d, view, &mo, &ev, &mr);
        if (!rc || rc == CAIRN_EPARTIAL) {
            r->restored = 1;
            r->files_sent = mr.done.files_sent;
            r->bytes_sent = mr.done.bytes_sent;
            r->refused = mr.refused;
            r->partial = rc == CAIRN_EPARTIAL || mr.refused != 0;
        }
    }
    device_secret_wipe(&pw);
    idev_close(d);
    stream_free(view);
    iosenc_keys_free(keys);
    cbuf_free(&info);
    return rc;
}
