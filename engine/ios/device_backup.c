#include "engine/ios/device_backup.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/core/backup.h"
#include "engine/core/chains.h"
#include "engine/core/snapshot_edit.h"
#include "util/fsutil.h"
#include "engine/ios/content_diff.h"
#include "engine/ios/device_steps.h"
#include "engine/ios/encrypted_folder.h"
#include "engine/ios/received_backup.h"

static const char NO_PASSWORD_HOW[] = "--backup-password-file or CAIRN_BACKUP_PASSWORD";

/* ---- the deletion alarm ---- */

static void deletion_alarm(store *s, int percent, const device_callbacks *cb,
                           device_backup_result *r)
{
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL, *parent = NULL;
    char hex[2 * ID_LEN + 1], id[9], pid[9], reason[200], line[400];
    int fired = 0, added = 0;
    if (percent < 0 || !r->is_device || !r->has_parent)
        return;
    cairn_err rc = snaplist_load(s, &l);
    if (!rc) {
        fs_hex(r->id, ID_LEN, hex);
        rc = snaplist_find(&l, hex, &sn);
    }
    if (!rc) {
        fs_hex(r->parent, ID_LEN, hex);
        rc = snaplist_find(&l, hex, &parent);
    }
    if (!rc)
        rc = content_alarm_check(s, parent, sn,
                                 percent ? (unsigned)percent : DEVICE_PHOTO_ALARM_DEFAULT, &fired,
                                 reason, sizeof reason);
    if (!rc && fired) {
        snaplist_short_id(sn->id, id);
        snaplist_short_id(parent->id, pid);
        snprintf(line, sizeof line, "deletion alarm: snapshot %s %s", id, reason);
        rc = chains_pin(s, parent->chain, parent->id, line, &added);
    }
    if (!rc && fired) {
        snprintf(r->alarm, sizeof r->alarm, "%s", reason);
        if (cb->warning) {
            snprintf(line, sizeof line,
                     "deletion alarm: this backup %s; snapshot %s, before the loss, is pinned: "
                     "forget keeps it until 'cairn unpin %s'",
                     reason, pid, pid);
            cb->warning(cb->ctx, NULL, line);
        }
    }
    /* not a device backup cairn can read (ciphertext): no alarm to raise */
    if (rc && rc != CAIRN_EINVAL && cb->warning) {
        snprintf(line, sizeof line, "deletion alarm not checked: %s", err_msg());
        cb->warning(cb->ctx, NULL, line);
    }
    snaplist_free(&l);
}

/* ---- a folder ---- */

/* Asks for the backup password and, given one, unlocks the backup and
 * reads its catalog (*crypt stays NULL when the backup is to be stored as
 * the device wrote it). */
static cairn_err open_encrypted(const char *dir, device_info *dev, const device_callbacks *cb,
                                devcrypt **crypt)
{
    device_secret pw;
    char prompt[256];
    const char *const name = device_info_meta(dev, SNAP_META_DEVICE_NAME);
    *crypt = NULL;
    snprintf(prompt, sizeof prompt,
             "Backup password of %s (empty: store the backup encrypted as it is): ",
             name ? name : dev->udid);
    cairn_err rc = device_ask(cb, DEVICE_PASSWORD_BACKUP, prompt, 1, &pw);
    if (rc)
        return rc;
    if (!pw.text) {
        device_note(cb,
                    "  encrypted, no backup password given (%s):\n"
                    "  stored as the device wrote it; ls, extract and diff need the password",
                    NO_PASSWORD_HOW);
        return device_add_meta(dev, SNAP_META_CONTENTS, SNAP_CONTENTS_ENCRYPTED);
    }
    rc = devcrypt_open(dir, pw.text, pw.len, crypt);
    device_secret_wipe(&pw);
    /* its catalog is read once the store is open (folder_contents): the
     * parent's catalog spares decoding the rows it knows */
    if (!rc)
        rc = device_add_meta(dev, SNAP_META_CONTENTS, SNAP_CONTENTS_DECRYPTED);
    if (rc) {
        devcrypt_close(*crypt);
        *crypt = NULL;
        return rc;
    }
    device_note(cb, "  encrypted: unlocked; files are stored decrypted and restored re-encrypted");
    return CAIRN_OK;
}

/* A MobileSync folder: its device, chain and details, said as a note. */
static cairn_err inspect_folder(const char *dir, device_info *dev, const device_callbacks *cb,
                                devcrypt **crypt)
{
    cairn_err rc = device_inspect(dir, dev);
    if (rc)
        return rc;
    const char *const name = device_info_meta(dev, SNAP_META_DEVICE_NAME);
    const char *const type = device_info_meta(dev, SNAP_META_PRODUCT_TYPE);
    const char *const ios = device_info_meta(dev, SNAP_META_PRODUCT_VERSION);
    device_note(cb, "device backup: %s (%s, iOS %s), UDID %s%s", name ? name : "unnamed",
                type ? type : "unknown model", ios ? ios : "?", dev->udid,
                dev->encrypted ? ", encrypted" : "");
    if (dev->encrypted)
        rc = open_encrypted(dir, dev, cb, crypt);
    return rc;
}

/* The completeness check and catalog of a device backup: the parent's
 * catalog when Manifest.db is unchanged, else the read begun (*reading,
 * ended here either way) with the rows the parent's catalog knows left
 * undecoded once it is loaded; an encrypted one's from its decrypted
 * Manifest.db, or none without its password. */
static cairn_err folder_contents(store *s, const snaplist *l, const char *dir, device_info *dev,
                                 const devcrypt *crypt, device_contents_read **reading,
                                 int allow_incomplete, const device_callbacks *cb)
{
    int reused = 0;
    cairn_err rc = CAIRN_OK;
    const snapshot *const parent = snaplist_latest_in_chain(l, dev->chain);
    if (crypt) {
        rc = device_read_contents(s, parent, dir, devcrypt_db_path(crypt), dev);
    } else if (*reading) {
        rc = device_reuse_contents(s, parent, dir, dev, &reused);
        if (!rc && !reused) {
            rc = device_contents_end(*reading, s, parent, dev);
            *reading = NULL;
        }
    }
    device_contents_cancel(*reading); /* the parent's catalog reused, or an error */
    *reading = NULL;
    return rc ? rc : device_completeness(dev, allow_incomplete, cb);
}

static void forward_warning(void *ctx, const char *path, const char *msg)
{
    const device_callbacks *const cb = ctx;
    if (cb->warning)
        cb->warning(cb->ctx, path, msg);
}

/* One folder into a snapshot: a device backup (is_device) or a plain
 * folder.  *s is opened when first needed (the source checked first) and
 * left open for the caller to close. */
static cairn_err backup_one(const device_backup_folder_opts *o, const char *source, int is_device,
                            const device_callbacks *cb, store **s, device_backup_result *r)
{
    snaplist l = {NULL, 0, 0};
    device_info dev;
    devcrypt *crypt = NULL;
    device_contents_read *reading = NULL;
    backup_result br;
    memset(r, 0, sizeof *r);
    memset(&dev, 0, sizeof dev);
    catalog_init(&dev.cat);
    cairn_err rc = is_device ? inspect_folder(source, &dev, cb, &crypt) : CAIRN_OK;
    /* Manifest.db is read while the store's key is derived: a core each */
    if (!rc && is_device && !dev.encrypted)
        rc = device_contents_begin(source, NULL, &reading);
    if (!rc && !*s)
        rc = o->open_store(o->open_ctx, s);
    if (!rc)
        rc = snaplist_load(*s, &l);
    if (!rc && is_device)
        rc = folder_contents(*s, &l, source, &dev, crypt, &reading, o->allow_incomplete, cb);
    if (!rc && is_device)
        rc = device_rotate_chain(*s, &l, &dev, cb, r->archived_chain, sizeof r->archived_chain);
    if (rc)
        goto done;
    const file_decoder decoder = crypt ? devcrypt_file_decoder(crypt) : (file_decoder){0};
    const backup_opts opts = {.source = source,
                              .chain = is_device ? dev.chain : NULL,
                              .threads = o->threads,
                              .force_read = o->force_read,
                              .extra_flags = is_device && !dev.complete ? SNAP_INCOMPLETE : 0,
                              .meta = dev.meta,
                              .nmeta = dev.nmeta,
                              .catalog = is_device && (!dev.encrypted || crypt) ? &dev.cat : NULL,
                              .catalog_ids = (const void *)dev.catalog_ids,
                              .ncatalog_ids = dev.ncatalog_ids,
                              .decoder = crypt ? &decoder : NULL,
                              .snaps = &l,
                              .warn = forward_warning,
                              .warn_ctx = (void *)cb,
                              .hooks = o->hooks};
    rc = backup_run(*s, &opts, &br);
    catalog_free(&dev.cat); /* stored: not held while the alarm check loads catalogs */
    if (!rc || rc == CAIRN_EPARTIAL) {
        memcpy(r->id, br.id, ID_LEN);
        r->has_parent = br.has_parent;
        memcpy(r->parent, br.parent, ID_LEN);
        r->is_device = is_device;
        r->incomplete = is_device && !dev.complete;
        r->files = br.files;
        r->dirs = br.dirs;
        r->bytes = br.bytes;
        r->files_read = br.files_read;
        r->bytes_read = br.bytes_read;
        r->new_chunks = br.new_chunks;
        r->new_bytes = br.new_bytes;
        r->new_raw = br.new_raw;
        r->reused_chunks = br.reused_chunks;
        r->reused_bytes = br.reused_bytes;
        r->errors = br.errors;
        r->rows_known = dev.rows_known;
        r->partial = rc == CAIRN_EPARTIAL;
        deletion_alarm(*s, o->photo_alarm, cb, r);
    }
done:
    device_contents_cancel(reading);
    snaplist_free(&l);
    devcrypt_close(crypt);
    device_info_free(&dev);
    return rc;
}

static cairn_err refuse_broken(const char *dir, const char *missing)
{
    return err_set(CAIRN_ESOURCE,
                   "%s: looks like a device backup but %s %s missing; nothing stored "
                   "(--as-folder stores it as a plain folder)",
                   dir, missing, strchr(missing, ',') ? "are" : "is");
}

/* MobileSync's Backup/ folder: each device backup inside into its own
 * chain, the store opened once. */
static cairn_err backup_parent(const device_backup_folder_opts *o, char *const *subdirs,
                               size_t nsubdirs, char *const *others, size_t nothers,
                               const device_callbacks *cb, device_backup_result *total)
{
    store *s = NULL;
    device_backup_result r;
    cairn_err first = CAIRN_OK, rc = CAIRN_OK;
    size_t partial = 0;
    memset(total, 0, sizeof *total);
    total->sources = nsubdirs;
    for (size_t i = 0; i < nothers; i++) {
        char *const path = fs_join(o->source, others[i]);
        if (!path)
            return err_set(CAIRN_ENOMEM, "out of memory");
        forward_warning((void *)cb, path, "not a device backup: left out");
        free(path);
    }
    for (size_t i = 0; i < nsubdirs; i++) {
        device_folder_kind kind;
        char missing[128];
        char **sub = NULL, **rest = NULL;
        size_t nsub = 0, nrest = 0;
        char *const path = fs_join(o->source, subdirs[i]);
        if (!path) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
            break;
        }
        memset(&r, 0, sizeof r);
        rc = device_classify(path, &kind, missing, sizeof missing, &sub, &nsub, &rest, &nrest);
        device_names_free(sub, nsub);
        device_names_free(rest, nrest);
        if (!rc && kind == DEVICE_FOLDER_BROKEN)
            rc = refuse_broken(path, missing);
        else if (!rc && kind != DEVICE_FOLDER_BACKUP) /* changed since the scan */
            rc = err_set(CAIRN_ESOURCE, "%s: no longer a device backup; nothing stored", path);
        if (!rc)
            rc = backup_one(o, path, 1, cb, &s, &r);
        if (o->each)
            o->each(o->each_ctx, path, rc, &r);
        free(path);
        if (rc == CAIRN_EPARTIAL) {
            partial++;
            rc = CAIRN_OK;
        }
        if (rc && !first)
            first = rc;
        if (rc)
            total->failed++;
        /* one bad backup does not cost the others theirs; anything else
         * (the store, the disk, an interrupt) ends the run */
        if (rc && rc != CAIRN_ESOURCE)
            break;
        rc = CAIRN_OK;
    }
    store_close(s);
    if (rc)
        return rc;
    if (first)
        return err_set(first, "%zu of %zu device backups in %s were not saved", total->failed,
                       nsubdirs, o->source);
    if (partial)
        return err_set(CAIRN_EPARTIAL, "%zu of %zu device backups in %s are marked partial",
                       partial, nsubdirs, o->source);
    return CAIRN_OK;
}

cairn_err device_backup_folder(const device_backup_folder_opts *o, const device_callbacks *cb,
                               device_backup_result *r)
{
    store *s = NULL;
    device_folder_kind kind = DEVICE_FOLDER_PLAIN;
    char missing[128];
    char **subdirs = NULL, **others = NULL;
    size_t nsubdirs = 0, nothers = 0;
    memset(r, 0, sizeof *r);
    cairn_err rc = CAIRN_OK;
    if (o->as_folder) {
        struct stat st;
        if (stat(o->source, &st) != 0)
            rc = errno == ENOENT ? CAIRN_ENOTFOUND : err_errno(errno, o->source);
    } else {
        rc = device_classify(o->source, &kind, missing, sizeof missing, &subdirs, &nsubdirs,
                             &others, &nothers);
    }
    if (rc == CAIRN_ENOTFOUND)
        rc = err_set(CAIRN_ESOURCE, "%s: no such folder", o->source);
    if (!rc && kind == DEVICE_FOLDER_BROKEN)
        rc = refuse_broken(o->source, missing);
    if (!rc && kind == DEVICE_FOLDER_PARENT)
        rc = backup_parent(o, subdirs, nsubdirs, others, nothers, cb, r);
    else if (!rc) {
        rc = backup_one(o, o->source, kind == DEVICE_FOLDER_BACKUP, cb, &s, r);
        store_close(s);
    }
    device_names_free(subdirs, nsubdirs);
    device_names_free(others, nothers);
    return rc;
}

/* ---- straight from a device ---- */

/* Manifest.db, with the files' keys, arrives last: with the backup
 * password the files the device sent encrypted are decrypted in the stream
 * before the commit, as a folder backup with the password stores them;
 * without it they are kept as the device sent them. */
static cairn_err decrypt_session(stream *st, const char *tmp, device_info *dev,
                                 const device_callbacks *cb)
{
    device_secret pw;
    cairn_err rc = device_ask(cb, DEVICE_PASSWORD_BACKUP,
                              "Backup password of the device (empty: store the backup encrypted "
                              "as it is): ",
                              1, &pw);
    if (!rc && pw.text) {
        rc = devstream_decrypt(st, tmp, pw.text, pw.len, dev);
        if (!rc)
            device_note(cb, "  encrypted: unlocked; files are stored decrypted and restored "
                            "re-encrypted");
    } else if (!rc) {
        device_note(cb,
                    "  encrypted on the device, no backup password given (%s):\n  stored as the "
                    "device sent it; ls, extract and diff need the password",
                    NO_PASSWORD_HOW);
        rc = device_add_meta(dev, SNAP_META_CONTENTS, SNAP_CONTENTS_ENCRYPTED);
    }
    device_secret_wipe(&pw);
    return rc;
}

cairn_err device_backup_from_device(store *s, const device_backup_device_opts *o,
                                    const device_callbacks *cb, device_backup_result *r)
{
    snaplist l = {NULL, 0, 0};
    idev *d = NULL;
    stream *st = NULL;
    device_info dev;
    mb2host_result mr;
    stream_result res;
    char tmp[PATH_MAX], source[256];
    memset(r, 0, sizeof *r);
    memset(&dev, 0, sizeof dev);
    catalog_init(&dev.cat);
    memset(&mr, 0, sizeof mr);
    const mb2host_events ev = device_events(cb);
    cairn_err rc = idev_open(o->device, &d);
    if (!rc) {
        device_announce(d, cb);
        rc = snaplist_load(s, &l);
    }
    const snapshot *const base = rc ? NULL : device_newest_snapshot(&l, idev_udid(d));
    if (!rc) {
        char bid[9];
        if (base)
            snaplist_short_id(base->id, bid);
        device_note(cb, "  the device sees snapshot %s as its last backup", base ? bid : "(none)");
        const stream_opts so = {.base = base, .threads = o->threads};
        rc = stream_begin(s, &so, &st);
    }
    if (!rc)
        rc = mb2host_backup(d, st, o->full, store_path(s), &ev, &mr);
    r->files_received = mr.done.files_received;
    r->bytes_received = mr.done.bytes_received;
    if (rc) {
        if (st)
            device_event(cb,
                         "no snapshot was saved (%" PRIu64 " files received); earlier "
                         "snapshots are untouched",
                         mr.done.files_received);
        goto done;
    }
    rc = store_tmp_path(s, "device-Manifest.db", tmp, sizeof tmp);
    if (!rc)
        rc = devstream_inspect(st, idev_udid(d), tmp, &dev);
    if (!rc)
        rc = device_completeness(&dev, o->allow_incomplete, cb);
    if (!rc && dev.encrypted)
        rc = decrypt_session(st, tmp, &dev, cb);
    if (!rc)
        rc = device_rotate_chain(s, &l, &dev, cb, r->archived_chain, sizeof r->archived_chain);
    if (!rc) {
        snprintf(source, sizeof source, "mobilebackup2://%s", idev_udid(d));
        const snapshot *const parent = snaplist_latest_in_chain(&l, dev.chain);
        const stream_commit_opts co = {.source = source,
                                       .chain = dev.chain,
                                       .parent = parent,
                                       .flags = dev.complete ? 0 : SNAP_INCOMPLETE,
                                       .errors = mr.failed + mr.refused,
                                       .meta = dev.meta,
                                       .nmeta = dev.nmeta,
                                       .catalog = dev.cat.count ? &dev.cat : NULL};
        rc = stream_commit(st, &co, &res);
        if (!rc) {
            memcpy(r->id, res.id, ID_LEN);
            r->has_parent = parent != NULL;
            if (parent)
                memcpy(r->parent, parent->id, ID_LEN);
            r->is_device = 1;
            r->incomplete = !dev.complete;
            r->files = res.files;
            r->dirs = res.dirs;
            r->bytes = res.bytes;
            r->new_chunks = res.stats.new_chunks;
            r->new_bytes = res.stats.new_bytes;
            r->new_raw = res.stats.new_raw;
            r->reused_chunks = res.stats.reused_chunks;
            r->reused_bytes = res.stats.reused_bytes;
            r->errors = mr.failed + mr.refused;
            r->partial = r->errors != 0;
            deletion_alarm(s, o->photo_alarm, cb, r);
        }
    }
    if (rc)
        device_event(cb, "no snapshot was saved; earlier snapshots are untouched");
done:
    stream_free(st);
    idev_close(d);
    device_info_free(&dev);
    snaplist_free(&l);
    return rc;
}
