#include "engine/ios/device_steps.h"

#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine/core/chains.h"
#include "engine/core/tree_store.h"
#include "engine/ios/encrypted_folder.h"

enum { LINE_MAX_LEN = 2048 };

cairn_err device_list(device_summary **out, size_t *count)
{
    return idev_list(out, count);
}

void device_list_free(device_summary *list, size_t count)
{
    idev_list_free(list, count);
}

cairn_err device_ask(const device_callbacks *cb, device_password_kind kind, const char *prompt,
                     int optional, device_secret *out)
{
    const device_password_request req = {kind, prompt, optional};
    out->text = NULL;
    out->len = 0;
    if (!cb->password)
        return optional ? CAIRN_OK : err_set(CAIRN_EPASSWORD, "no backup password given");
    const cairn_err rc = cb->password(cb->ctx, &req, &out->text, &out->len);
    if (rc) {
        device_secret_wipe(out);
        return rc;
    }
    if (!out->text && !optional)
        return err_set(CAIRN_EPASSWORD, "no backup password given");
    return CAIRN_OK;
}

void device_secret_wipe(device_secret *s)
{
    if (s->text) {
        sodium_memzero(s->text, s->len);
        sodium_free(s->text);
    }
    s->text = NULL;
    s->len = 0;
}

__attribute__((format(printf, 3, 0))) static void say(void (*fn)(void *, const char *), void *ctx,
                                                      const char *fmt, va_list ap)
{
    char line[LINE_MAX_LEN];
    vsnprintf(line, sizeof line, fmt, ap);
    fn(ctx, line);
}

void device_note(const device_callbacks *cb, const char *fmt, ...)
{
    va_list ap;
    if (!cb->note)
        return;
    va_start(ap, fmt);
    say(cb->note, cb->ctx, fmt, ap);
    va_end(ap);
}

void device_event(const device_callbacks *cb, const char *fmt, ...)
{
    va_list ap;
    if (!cb->event)
        return;
    va_start(ap, fmt);
    say(cb->event, cb->ctx, fmt, ap);
    va_end(ap);
}

void device_warn(const device_callbacks *cb, const char *path, const char *fmt, ...)
{
    char line[LINE_MAX_LEN];
    va_list ap;
    if (!cb->warning)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cb->warning(cb->ctx, path, line);
}

static void on_warn(void *ctx, const char *path, const char *msg)
{
    const device_callbacks *const cb = ctx;
    if (cb->warning)
        cb->warning(cb->ctx, path, msg);
}

static void on_note(void *ctx, const char *msg)
{
    const device_callbacks *const cb = ctx;
    if (cb->event)
        cb->event(cb->ctx, msg);
}

static void on_progress(void *ctx, const mb2host_progress *p)
{
    const device_callbacks *const cb = ctx;
    const device_progress d = {p->files_received, p->bytes_received, p->files_sent, p->bytes_sent,
                               p->device_percent};
    if (cb->progress)
        cb->progress(cb->ctx, &d);
}

mb2host_events device_events(const device_callbacks *cb)
{
    const mb2host_events ev = {on_warn, on_progress, on_note, (void *)cb};
    return ev;
}

void device_announce(idev *d, const device_callbacks *cb)
{
    char *name = NULL, *type = NULL, *ios = NULL;
    /* only for show: a value the device keeps to itself is left out */
    idev_get_string(d, NULL, "DeviceName", &name);
    idev_get_string(d, NULL, "ProductType", &type);
    idev_get_string(d, NULL, "ProductVersion", &ios);
    device_note(cb, "device: %s (%s, iOS %s), UDID %s", name ? name : "unnamed",
                type ? type : "unknown model", ios ? ios : "?", idev_udid(d));
    free(name);
    free(type);
    free(ios);
}

const snapshot *device_newest_snapshot(const snaplist *l, const char *udid)
{
    const snapshot *best = NULL;
    for (size_t i = 0; i < l->count; i++)
        if (snapshot_udid_is(&l->items[i], udid))
            best = &l->items[i];
    return best;
}

cairn_err device_rotate_chain(store *s, const snaplist *l, const device_info *dev,
                              const device_callbacks *cb, char *archived, size_t cap)
{
    chain_list chains = {NULL, 0};
    char *name = NULL, reason[256];
    archived[0] = '\0';
    cairn_err rc = chains_load(s, &chains);
    if (!rc)
        rc = chains_rotate(s, l, &chains, dev->udid, dev->chain, &name, reason, sizeof reason);
    if (!rc && name) {
        snprintf(archived, cap, "%s", name);
        device_note(cb,
                    "chain %s archived: %s; it stays restorable and is never pruned by policy\n"
                    "new chain %s starts with this backup",
                    name, reason, dev->chain);
    }
    free(name);
    chains_free(&chains);
    return rc;
}

cairn_err device_snapshot_keys(store *s, const snapshot *sn, const device_secret *pw,
                               iosenc_keys **out)
{
    store_worker *w = NULL;
    tree_node n;
    cbuf plist;
    *out = NULL;
    memset(&n, 0, sizeof n);
    cbuf_init(&plist);
    cairn_err rc = store_worker_new(s, &w);
    if (!rc)
        rc = treestore_lookup(s, w, (const uint8_t(*)[ID_LEN])sn->tree, sn->ntree, "Manifest.plist",
                              &n);
    if (!rc)
        rc = treestore_load_bytes(s, w, (const uint8_t(*)[ID_LEN])n.chunks, n.nchunks, &plist);
    if (!rc)
        rc = devcrypt_unlock_plist(plist.data, plist.len, pw->text, pw->len, out);
    tree_node_free(&n);
    cbuf_free(&plist);
    store_worker_free(w);
    return rc;
}

cairn_err device_completeness(device_info *dev, int allow_incomplete, const device_callbacks *cb)
{
    if (dev->complete)
        return CAIRN_OK;
    if (!allow_incomplete)
        return err_set(CAIRN_ESOURCE,
                       "%s; refusing to store it (use --allow-incomplete to keep it anyway, "
                       "marked incomplete)",
                       dev->problem);
    device_warn(cb, NULL, "%s; storing it marked incomplete", dev->problem);
    if (!dev->missing)
        return CAIRN_OK;
    char count[24];
    snprintf(count, sizeof count, "%" PRIu64, dev->missing);
    return device_add_meta(dev, SNAP_META_MISSING_COUNT, count);
}
