#include "engine/ios/device_password.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/chains.h"
#include "engine/ios/device_steps.h"

/* The device's newest chain, archived: its snapshots need the old
 * password, the next backup starts a new chain. */
static cairn_err archive_device_chain(store *s, const char *udid, const device_callbacks *cb,
                                      device_password_result *r)
{
    snaplist l = {NULL, 0, 0};
    chain_list chains = {NULL, 0};
    cairn_err rc = snaplist_load(s, &l);
    if (!rc)
        rc = chains_load(s, &chains);
    const snapshot *const last = rc ? NULL : device_newest_snapshot(&l, udid);
    if (last && !chains_is_archived(&chains, last->chain)) {
        rc = chains_archive(s, last->chain, "backup password changed (cairn device changepw)");
        if (!rc) {
            snprintf(r->archived_chain, sizeof r->archived_chain, "%s", last->chain);
            device_note(cb,
                        "chain %s archived: its snapshots need the old backup password; the "
                        "next backup starts a new chain",
                        last->chain);
        }
    }
    chains_free(&chains);
    snaplist_free(&l);
    return rc;
}

cairn_err device_change_password(store *s, const device_password_opts *o,
                                 const device_callbacks *cb, device_password_result *r)
{
    idev *d = NULL;
    device_secret old_pw = {NULL, 0}, new_pw = {NULL, 0};
    int on = 0;
    memset(r, 0, sizeof *r);
    const int changepw = o->action == DEVICE_CHANGE_PASSWORD;
    const int enc = !changepw, want_on = o->action == DEVICE_ENCRYPTION_ON;
    const mb2host_events ev = device_events(cb);
    cairn_err rc = idev_open(o->device, &d);
    if (!rc) {
        device_announce(d, cb);
        snprintf(r->device_udid, sizeof r->device_udid, "%s", idev_udid(d));
        rc = idev_will_encrypt(d, &on);
    }
    if (!rc && enc && want_on == on)
        rc = err_set(CAIRN_EINVAL, "backup encryption is already %s on device %s",
                     on ? "on" : "off", idev_udid(d));
    if (!rc && changepw && !on)
        rc = err_set(CAIRN_EINVAL,
                     "backup encryption is off on device %s: there is no password to change "
                     "(use 'cairn device encryption on')",
                     idev_udid(d));
    if (!rc && (changepw || (enc && !want_on)))
        rc = device_ask(cb, DEVICE_PASSWORD_BACKUP, "Current backup password: ", 0, &old_pw);
    if (!rc && (changepw || want_on))
        rc = device_ask(cb, DEVICE_PASSWORD_NEW_BACKUP, "New backup password: ", 0, &new_pw);
    if (!rc)
        rc = mb2host_change_password(d, old_pw.text, new_pw.text, &ev);
    device_secret_wipe(&old_pw);
    device_secret_wipe(&new_pw);
    if (!rc && enc)
        device_note(cb,
                    "backup encryption is now %s on device %s; the next backup starts a new chain",
                    want_on ? "on" : "off", idev_udid(d));
    if (!rc && changepw) {
        device_note(cb, "backup password changed on device %s", idev_udid(d));
        rc = archive_device_chain(s, idev_udid(d), cb, r);
    }
    idev_close(d);
    return rc;
}

cairn_err device_password_test(store *s, const char *device, const device_callbacks *cb,
                               void (*fn)(void *ctx, const device_pw_chain *c), void *ctx,
                               device_pw_test_result *r)
{
    snaplist l = {NULL, 0, 0};
    chain_list chains = {NULL, 0};
    device_secret pw = {NULL, 0};
    const char *udid = NULL;
    memset(r, 0, sizeof *r);
    cairn_err rc = snaplist_load(s, &l);
    if (!rc)
        rc = chains_load(s, &chains);
    if (!rc)
        rc = snaplist_device(&l, device, &udid);
    if (rc)
        goto done;
    snprintf(r->device_udid, sizeof r->device_udid, "%s", udid);
    int encrypted = 0;
    for (size_t i = 0; i < l.count; i++)
        encrypted |=
            snapshot_udid_is(&l.items[i], udid) && snapshot_is_encrypted_backup(&l.items[i]);
    if (!encrypted) {
        rc = err_set(CAIRN_EINVAL,
                     "device %s has no encrypted backups in this store: no password "
                     "to test",
                     udid);
        goto done;
    }
    rc = device_ask(cb, DEVICE_PASSWORD_BACKUP, "Backup password to test: ", 0, &pw);
    /* each chain once, at its first snapshot in time order: the newest
     * snapshot of the chain holds the keybag a restore would use */
    for (size_t i = 0; !rc && i < l.count; i++) {
        const snapshot *const sn = &l.items[i];
        int seen = 0;
        if (!snapshot_udid_is(sn, udid))
            continue;
        for (size_t k = 0; k < i && !seen; k++)
            seen = snapshot_udid_is(&l.items[k], udid) && strcmp(l.items[k].chain, sn->chain) == 0;
        if (seen)
            continue;
        device_pw_chain c = {.chain = sn->chain,
                             .archived = chains_is_archived(&chains, sn->chain),
                             .newest = snaplist_latest_in_chain(&l, sn->chain)};
        iosenc_keys *keys = NULL;
        char why[512] = "";
        r->chains++;
        if (!snapshot_is_encrypted_backup(c.newest)) {
            c.verdict = DEVICE_PW_UNENCRYPTED;
            r->unencrypted++;
        } else {
            const cairn_err krc = device_snapshot_keys(s, c.newest, &pw, &keys);
            iosenc_keys_free(keys);
            if (krc == CAIRN_ENOMEM) {
                rc = krc;
                break;
            }
            c.verdict = !krc                     ? DEVICE_PW_OK
                        : krc == CAIRN_EPASSWORD ? DEVICE_PW_WRONG
                                                 : DEVICE_PW_UNREADABLE;
            if (c.verdict == DEVICE_PW_UNREADABLE)
                snprintf(why, sizeof why, "%s", err_msg());
            c.detail = why;
            r->ok += c.verdict == DEVICE_PW_OK;
            r->wrong += c.verdict == DEVICE_PW_WRONG;
            r->unreadable += c.verdict == DEVICE_PW_UNREADABLE;
        }
        if (fn)
            fn(ctx, &c);
    }
    if (!rc && r->wrong)
        rc = err_set(CAIRN_EPASSWORD,
                     "the password is wrong for %u of %u encrypted chain(s) of device %s", r->wrong,
                     r->chains - r->unencrypted, udid);
    else if (!rc && r->unreadable)
        rc = err_set(CAIRN_ECORRUPT, "the keybag of %u chain(s) of device %s could not be read",
                     r->unreadable, udid);
done:
    device_secret_wipe(&pw);
    chains_free(&chains);
    snaplist_free(&l);
    return rc;
}
