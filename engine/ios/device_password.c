#include "engine/ios/device_password.h"

#include <stdio.h>
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
