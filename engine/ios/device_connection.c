/* device_connection.c - device_connection.h behind the module cairn-device.so
 * (device_module_private.h): every call into libimobiledevice but the event
 * subscription (device_events.c). */
#include "engine/ios/device_module_private.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libimobiledevice/afc.h>
#include <libimobiledevice/installation_proxy.h>
#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <libimobiledevice/notification_proxy.h>
#include <libimobiledevice/sbservices.h>
#include <plist/plist.h>
#include <sodium.h>

enum {
    /* idevicebackup2's patience for another host's sync lock: 10 s */
    LOCK_ATTEMPTS = 50,
    LOCK_WAIT_US = 200000,
    AFC_FILE_MAX = 16 << 20,
    MAC_EPOCH = 978307200, /* plist dates count from 2001-01-01 */
};

static const char LABEL[] = "cairn";
static const char LOCK_FILE[] = "/com.apple.itunes.lock_sync";
/* what a device shows while it waits for its passcode before a backup */
static const char NP_PASSCODE_SHOWN[] = "com.apple.LocalAuthentication.ui.presented";

struct idev {
    idevice_t device;
    char *udid;
    np_client_t np; /* observing */
    pthread_t np_closer;
    int np_closing;
    afc_client_t afc;
    uint64_t lockfile;
    idev_note_fn note;
    void *note_ctx;
    atomic_int cancelled;
};

static void conn_close(idev *d);
static void conn_sync_end(idev *d);

static cairn_err lockdown_fail(const char *udid, lockdownd_error_t e)
{
    switch (e) {
    case LOCKDOWN_E_PASSWORD_PROTECTED:
        return err_set(CAIRN_ESOURCE,
                       "device %s is locked with its passcode: unlock it (and tap 'Trust' if "
                       "it asks), then try again",
                       udid);
    case LOCKDOWN_E_PAIRING_DIALOG_RESPONSE_PENDING:
        return err_set(CAIRN_ESOURCE,
                       "device %s is waiting for you to tap 'Trust' on it; then try again", udid);
    case LOCKDOWN_E_USER_DENIED_PAIRING:
        return err_set(CAIRN_ESOURCE, "device %s refused to trust this computer", udid);
    case LOCKDOWN_E_INVALID_HOST_ID:
    case LOCKDOWN_E_PAIRING_FAILED:
    case LOCKDOWN_E_MISSING_PAIR_RECORD:
    case LOCKDOWN_E_INVALID_PAIR_RECORD:
        return err_set(CAIRN_ESOURCE,
                       "device %s is not paired with this computer: pair the iPhone again: "
                       "unlock it and tap 'Trust'",
                       udid);
    default:
        return err_set(CAIRN_ESOURCE, "device %s: lockdown: %s (%d)", udid, lockdownd_strerror(e),
                       (int)e);
    }
}

/* A trusted lockdown session; the caller frees it. */
static cairn_err session(idev *d, lockdownd_client_t *ld)
{
    const lockdownd_error_t e = lockdownd_client_new_with_handshake(d->device, ld, LABEL);
    return e == LOCKDOWN_E_SUCCESS ? CAIRN_OK : lockdown_fail(d->udid, e);
}

static cairn_err start_service(idev *d, const char *name, int escrow,
                               lockdownd_service_descriptor_t *svc)
{
    lockdownd_client_t ld = NULL;
    cairn_err rc = session(d, &ld);
    if (rc)
        return rc;
    const lockdownd_error_t e = escrow ? lockdownd_start_service_with_escrow_bag(ld, name, svc)
                                       : lockdownd_start_service(ld, name, svc);
    lockdownd_client_free(ld);
    if (e != LOCKDOWN_E_SUCCESS || !*svc || !(*svc)->port) {
        if (*svc)
            lockdownd_service_descriptor_free(*svc);
        *svc = NULL;
        return err_set(CAIRN_ESOURCE, "device %s: cannot start %s: %s", d->udid, name,
                       lockdownd_strerror(e));
    }
    return CAIRN_OK;
}

/* NULL unless a string; also for one holding a NUL, on which
 * plist_get_string_val (libplist 2.2) aborts on an assert */
static char *string_of(plist_t node)
{
    uint64_t len = 0;
    const char *const p = plist_get_string_ptr(node, &len);
    return p && !memchr(p, '\0', (size_t)len) ? strndup(p, (size_t)len) : NULL;
}

static cairn_err get_string(const char *udid, lockdownd_client_t ld, const char *domain,
                            const char *key, char **out)
{
    plist_t v = NULL;
    *out = NULL;
    const lockdownd_error_t e = lockdownd_get_value(ld, domain, key, &v);
    if (e == LOCKDOWN_E_SUCCESS) {
        *out = string_of(v);
        plist_free(v);
        return CAIRN_OK;
    }
    plist_free(v);
    if (e == LOCKDOWN_E_MISSING_VALUE || e == LOCKDOWN_E_MISSING_KEY)
        return CAIRN_OK;
    return lockdown_fail(udid, e);
}

static int get_bool(lockdownd_client_t ld, const char *domain, const char *key, int *out)
{
    plist_t v = NULL;
    uint8_t b = 0;
    const lockdownd_error_t e = lockdownd_get_value(ld, domain, key, &v);
    const int ok = e == LOCKDOWN_E_SUCCESS && v && plist_get_node_type(v) == PLIST_BOOLEAN;
    if (ok)
        plist_get_bool_val(v, &b);
    plist_free(v);
    *out = b;
    return ok;
}

/* ---- listing ---- */

static cairn_err summarize(const char *udid, enum idevice_connection_type type, device_summary *s)
{
    idevice_t dev = NULL;
    lockdownd_client_t ld = NULL;
    s->udid = strdup(udid);
    s->network = type == CONNECTION_NETWORK;
    s->encrypt = -1;
    if (!s->udid)
        return err_set(CAIRN_ENOMEM, "out of memory");
    const enum idevice_options how = s->network ? IDEVICE_LOOKUP_NETWORK : IDEVICE_LOOKUP_USBMUX;
    if (idevice_new_with_options(&dev, udid, how) != IDEVICE_E_SUCCESS) {
        snprintf(s->problem, sizeof s->problem, "went away while listed");
        return CAIRN_OK;
    }
    const lockdownd_error_t e = lockdownd_client_new_with_handshake(dev, &ld, LABEL);
    s->paired = e == LOCKDOWN_E_SUCCESS;
    if (!s->paired) {
        lockdown_fail(udid, e);
        snprintf(s->problem, sizeof s->problem, "%s", err_msg());
        /* an untrusted device still says what it is */
        if (lockdownd_client_new(dev, &ld, LABEL) != LOCKDOWN_E_SUCCESS)
            ld = NULL;
    }
    if (ld) {
        /* values a device keeps to itself are just left out */
        get_string(udid, ld, NULL, "DeviceName", &s->name);
        get_string(udid, ld, NULL, "ProductType", &s->product_type);
        get_string(udid, ld, NULL, "ProductVersion", &s->product_version);
        int on;
        if (s->paired && get_bool(ld, "com.apple.mobile.backup", "WillEncrypt", &on))
            s->encrypt = on;
        lockdownd_client_free(ld);
    }
    idevice_free(dev);
    return CAIRN_OK;
}

static cairn_err conn_list(device_summary **out, size_t *count)
{
    idevice_info_t *infos = NULL;
    int n = 0;
    cairn_err rc = CAIRN_OK;
    *out = NULL;
    *count = 0;
    if (idevice_get_device_list_extended(&infos, &n) != IDEVICE_E_SUCCESS || n <= 0) {
        if (infos)
            idevice_device_list_extended_free(infos);
        return CAIRN_OK; /* no usbmuxd or no device: nothing connected */
    }
    device_summary *const list = calloc((size_t)n, sizeof *list);
    if (!list) {
        idevice_device_list_extended_free(infos);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    size_t m = 0;
    for (int i = 0; i < n && !rc; i++) {
        int seen = 0;
        for (int k = 0; k < i; k++)
            seen |= strcmp(infos[k]->udid, infos[i]->udid) == 0;
        /* a device on USB and Wi-Fi at once is listed once, by USB */
        if (!seen)
            rc = summarize(infos[i]->udid, infos[i]->conn_type, &list[m++]);
        else if (infos[i]->conn_type == CONNECTION_USBMUXD)
            for (size_t k = 0; k < m; k++)
                if (strcmp(list[k].udid, infos[i]->udid) == 0)
                    list[k].network = 0;
    }
    idevice_device_list_extended_free(infos);
    if (rc) {
        idev_list_free(list, m);
        return rc;
    }
    *out = list;
    *count = m;
    return CAIRN_OK;
}

/* ---- one device ---- */

/* The UDID of the only device connected. */
static cairn_err only_device(char **udid)
{
    char **ids = NULL;
    int n = 0;
    *udid = NULL;
    if (idevice_get_device_list(&ids, &n) != IDEVICE_E_SUCCESS)
        n = 0;
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int k = 0; k < i; k++)
            seen |= strcmp(ids[k], ids[i]) == 0;
        distinct += !seen;
    }
    cairn_err rc = CAIRN_OK;
    if (distinct == 0)
        rc = err_set(CAIRN_ESOURCE, "no device is connected (USB or Wi-Fi): plug it in and "
                                    "unlock it");
    else if (distinct > 1)
        rc = err_set(CAIRN_ESOURCE,
                     "%d devices are connected: name one by its UDID (see "
                     "'cairn devices')",
                     distinct);
    else if (!(*udid = strdup(ids[0])))
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    if (ids)
        idevice_device_list_free(ids);
    return rc;
}

static cairn_err conn_open(const char *udid, idev **out)
{
    lockdownd_client_t ld = NULL;
    idev *const d = calloc(1, sizeof *d);
    if (!d)
        return err_set(CAIRN_ENOMEM, "out of memory");
    atomic_init(&d->cancelled, 0);
    cairn_err rc = CAIRN_OK;
    if (udid && *udid) {
        d->udid = strdup(udid);
        if (!d->udid)
            rc = err_set(CAIRN_ENOMEM, "out of memory");
    } else {
        rc = only_device(&d->udid);
    }
    if (!rc && idevice_new_with_options(&d->device, d->udid,
                                        IDEVICE_LOOKUP_USBMUX | IDEVICE_LOOKUP_NETWORK) !=
                   IDEVICE_E_SUCCESS)
        rc = err_set(CAIRN_ESOURCE, "device %s is not connected (see 'cairn devices')", d->udid);
    /* a session now tells a locked or untrusted device apart at once */
    if (!rc)
        rc = session(d, &ld);
    if (ld)
        lockdownd_client_free(ld);
    if (rc) {
        conn_close(d);
        return rc;
    }
    *out = d;
    return CAIRN_OK;
}

static void conn_close(idev *d)
{
    if (!d)
        return;
    conn_sync_end(d);
    if (d->np_closing)
        pthread_join(d->np_closer, NULL);
    if (d->np)
        np_client_free(d->np);
    if (d->afc)
        afc_client_free(d->afc);
    if (d->device)
        idevice_free(d->device);
    free(d->udid);
    free(d);
}

static const char *conn_udid(const idev *d)
{
    return d->udid;
}

static cairn_err conn_get_string(idev *d, const char *domain, const char *key, char **out)
{
    lockdownd_client_t ld = NULL;
    *out = NULL;
    cairn_err rc = session(d, &ld);
    if (!rc)
        rc = get_string(d->udid, ld, domain, key, out);
    if (ld)
        lockdownd_client_free(ld);
    return rc;
}

static cairn_err conn_will_encrypt(idev *d, int *on)
{
    lockdownd_client_t ld = NULL;
    cairn_err rc = session(d, &ld);
    if (!rc && !get_bool(ld, "com.apple.mobile.backup", "WillEncrypt", on))
        *on = 0; /* a device that never had a backup password has no such value */
    if (ld)
        lockdownd_client_free(ld);
    return rc;
}

/* ---- notifications ---- */

static void on_notification(const char *name, void *ctx)
{
    idev *const d = ctx;
    if (!name || !*name)
        return;
    if (strcmp(name, NP_SYNC_CANCEL_REQUEST) == 0) {
        atomic_store(&d->cancelled, 1);
        if (d->note)
            d->note(d->note_ctx, "the device asked to cancel");
    } else if (strcmp(name, NP_PASSCODE_SHOWN) == 0 && d->note) {
        d->note(d->note_ctx, "the device asks for its passcode: enter it on the device to go on");
    }
}

static cairn_err conn_observe(idev *d, idev_note_fn note, void *ctx)
{
    static const char *const names[] = {NP_SYNC_CANCEL_REQUEST, NP_SYNC_SUSPEND_REQUEST,
                                        NP_SYNC_RESUME_REQUEST, NP_BACKUP_DOMAIN_CHANGED,
                                        NP_PASSCODE_SHOWN,      NULL};
    lockdownd_service_descriptor_t svc = NULL;
    if (d->np)
        return CAIRN_OK;
    d->note = note;
    d->note_ctx = ctx;
    cairn_err rc = start_service(d, NP_SERVICE_NAME, 0, &svc);
    if (rc)
        return rc;
    if (np_client_new(d->device, svc, &d->np) != NP_E_SUCCESS)
        rc = err_set(CAIRN_ESOURCE, "device %s: cannot observe notifications", d->udid);
    lockdownd_service_descriptor_free(svc);
    if (!rc) {
        /* observing is a courtesy to the user: a device that will not tell
         * still backs up */
        np_set_notify_callback(d->np, on_notification, d);
        np_observe_notifications(d->np, (const char **)names);
    }
    return rc;
}

static void *close_np(void *arg)
{
    np_client_free(arg);
    return NULL;
}

static void conn_observe_end(idev *d)
{
    if (!d->np || d->np_closing)
        return;
    /* libimobiledevice's notification thread polls and sleeps up to 1.5 s
     * between looks: freeing the client waits for it, so that wait runs
     * beside whatever the caller does next */
    if (pthread_create(&d->np_closer, NULL, close_np, d->np) == 0) {
        d->np_closing = 1;
        d->np = NULL;
    }
}

static int conn_cancelled(idev *d)
{
    return atomic_load(&d->cancelled);
}

/* Posts one notification the way idevicebackup2 does: a session of its
 * own (posting ends a notification_proxy connection).  Best effort. */
static void post(idev *d, const char *name)
{
    lockdownd_service_descriptor_t svc = NULL;
    np_client_t np = NULL;
    char kept[ERR_MSG_MAX];
    /* a failure here is no one's business: the message of the failure that
     * came first (the connection was lost) stays the one the user reads,
     * not this later "lockdown: Mux error (-8)" */
    snprintf(kept, sizeof kept, "%s", err_msg());
    if (start_service(d, NP_SERVICE_NAME, 0, &svc) == CAIRN_OK) {
        if (np_client_new(d->device, svc, &np) == NP_E_SUCCESS) {
            np_post_notification(np, name);
            np_client_free(np);
        }
        lockdownd_service_descriptor_free(svc);
    }
    err_set(CAIRN_OK, "%s", kept);
}

static cairn_err afc_open(idev *d)
{
    lockdownd_service_descriptor_t svc = NULL;
    if (d->afc)
        return CAIRN_OK;
    cairn_err rc = start_service(d, AFC_SERVICE_NAME, 0, &svc);
    if (rc)
        return rc;
    if (afc_client_new(d->device, svc, &d->afc) != AFC_E_SUCCESS) {
        d->afc = NULL;
        rc = err_set(CAIRN_ESOURCE, "device %s: cannot open its file service (AFC)", d->udid);
    }
    lockdownd_service_descriptor_free(svc);
    return rc;
}

static cairn_err conn_sync_begin(idev *d)
{
    cairn_err rc = afc_open(d);
    if (rc)
        return rc;
    post(d, NP_SYNC_WILL_START);
    if (afc_file_open(d->afc, LOCK_FILE, AFC_FOPEN_RW, &d->lockfile) != AFC_E_SUCCESS ||
        !d->lockfile) {
        d->lockfile = 0;
        return err_set(CAIRN_ESOURCE, "device %s: cannot open its sync lock", d->udid);
    }
    post(d, NP_SYNC_LOCK_REQUEST);
    for (int i = 0; i < LOCK_ATTEMPTS; i++) {
        const afc_error_t e = afc_file_lock(d->afc, d->lockfile, AFC_LOCK_EX);
        if (e == AFC_E_SUCCESS) {
            post(d, NP_SYNC_DID_START);
            return CAIRN_OK;
        }
        if (e != AFC_E_OP_WOULD_BLOCK)
            break;
        usleep(LOCK_WAIT_US);
    }
    afc_file_close(d->afc, d->lockfile);
    d->lockfile = 0;
    return err_set(CAIRN_ESOURCE, "device %s is busy syncing with another computer; try again",
                   d->udid);
}

static void conn_sync_end(idev *d)
{
    if (!d->lockfile)
        return;
    afc_file_lock(d->afc, d->lockfile, AFC_LOCK_UN);
    afc_file_close(d->afc, d->lockfile);
    d->lockfile = 0;
    post(d, NP_SYNC_DID_FINISH);
}

/* ---- files over AFC ---- */

/* A whole small file, or nothing (*data NULL) if absent or empty. */
static void afc_get(idev *d, const char *path, char **data, uint64_t *size)
{
    char **info = NULL;
    uint64_t want = 0, handle = 0;
    *data = NULL;
    *size = 0;
    if (afc_get_file_info(d->afc, path, &info) != AFC_E_SUCCESS || !info)
        return;
    for (int i = 0; info[i] && info[i + 1]; i += 2)
        if (strcmp(info[i], "st_size") == 0)
            want = strtoull(info[i + 1], NULL, 10);
    afc_dictionary_free(info);
    if (want == 0 || want > AFC_FILE_MAX ||
        afc_file_open(d->afc, path, AFC_FOPEN_RDONLY, &handle) != AFC_E_SUCCESS)
        return;
    char *const buf = malloc(want);
    uint64_t done = 0;
    while (buf && done < want) {
        uint32_t got = 0;
        const uint64_t left = want - done;
        if (afc_file_read(d->afc, handle, buf + done, left > 65536 ? 65536 : (uint32_t)left,
                          &got) != AFC_E_SUCCESS ||
            got == 0)
            break;
        done += got;
    }
    afc_file_close(d->afc, handle);
    if (buf && done == want) {
        *data = buf;
        *size = want;
    } else {
        free(buf);
    }
}

static void conn_afc_remove(idev *d, const char *path)
{
    if (d->afc)
        afc_remove_path(d->afc, path);
}

static cairn_err conn_afc_put(idev *d, const char *path, const uint8_t *data, size_t len)
{
    uint64_t handle = 0;
    cairn_err rc = afc_open(d);
    if (rc)
        return rc;
    char *const dir = strdup(path);
    if (!dir)
        return err_set(CAIRN_ENOMEM, "out of memory");
    char *const slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        /* it may exist already; if it cannot be made, the open below says so */
        afc_make_directory(d->afc, dir);
    }
    free(dir);
    if (afc_file_open(d->afc, path, AFC_FOPEN_WRONLY, &handle) != AFC_E_SUCCESS)
        return err_set(CAIRN_ESOURCE, "device %s: %s: cannot write", d->udid, path);
    size_t done = 0;
    while (!rc && done < len) {
        uint32_t put = 0;
        const size_t left = len - done;
        if (afc_file_write(d->afc, handle, (const char *)data + done,
                           left > 65536 ? 65536 : (uint32_t)left, &put) != AFC_E_SUCCESS ||
            put == 0)
            rc = err_set(CAIRN_ESOURCE, "device %s: %s: write failed", d->udid, path);
        done += put;
    }
    afc_file_close(d->afc, handle);
    return rc;
}

/* ---- Info.plist ---- */

static void set_copy(plist_t dict, const char *key, plist_t from, const char *from_key)
{
    plist_t v = plist_dict_get_item(from, from_key);
    if (v)
        plist_dict_set_item(dict, key, plist_copy(v));
}

/* The user apps (browse order) and, per app, its SINF, metadata and icon. */
static void add_applications(idev *d, plist_t apps, plist_t installed)
{
    lockdownd_service_descriptor_t svc = NULL;
    instproxy_client_t ip = NULL;
    sbservices_client_t sbs = NULL;
    plist_t list = NULL;
    if (start_service(d, INSTPROXY_SERVICE_NAME, 0, &svc) != CAIRN_OK)
        return;
    const instproxy_error_t e = instproxy_client_new(d->device, svc, &ip);
    lockdownd_service_descriptor_free(svc);
    svc = NULL;
    if (e != INSTPROXY_E_SUCCESS)
        return;
    plist_t opts = instproxy_client_options_new();
    instproxy_client_options_add(opts, "ApplicationType", "User", NULL);
    instproxy_client_options_set_return_attributes(opts, "CFBundleIdentifier", "ApplicationSINF",
                                                   "iTunesMetadata", NULL);
    instproxy_browse(ip, opts, &list);
    instproxy_client_options_free(opts);
    instproxy_client_free(ip);
    if (start_service(d, SBSERVICES_SERVICE_NAME, 0, &svc) == CAIRN_OK) {
        if (sbservices_client_new(d->device, svc, &sbs) != SBSERVICES_E_SUCCESS)
            sbs = NULL;
        lockdownd_service_descriptor_free(svc);
    }
    const uint32_t n =
        list && plist_get_node_type(list) == PLIST_ARRAY ? plist_array_get_size(list) : 0;
    for (uint32_t i = 0; i < n; i++) {
        plist_t app = plist_array_get_item(list, i);
        plist_t id = plist_dict_get_item(app, "CFBundleIdentifier");
        char *const bundle = string_of(id);
        if (!bundle)
            continue;
        plist_array_append_item(installed, plist_copy(id));
        plist_t sinf = plist_dict_get_item(app, "ApplicationSINF");
        plist_t meta = plist_dict_get_item(app, "iTunesMetadata");
        if (sinf && meta) {
            plist_t entry = plist_new_dict();
            plist_dict_set_item(entry, "ApplicationSINF", plist_copy(sinf));
            char *png = NULL;
            uint64_t pngsize = 0;
            if (sbs &&
                sbservices_get_icon_pngdata(sbs, bundle, &png, &pngsize) == SBSERVICES_E_SUCCESS &&
                png)
                plist_dict_set_item(entry, "PlaceholderIcon", plist_new_data(png, pngsize));
            free(png);
            plist_dict_set_item(entry, "iTunesMetadata", plist_copy(meta));
            plist_dict_set_item(apps, bundle, entry);
        }
        free(bundle);
    }
    if (sbs)
        sbservices_client_free(sbs);
    plist_free(list);
}

static cairn_err conn_info_plist(idev *d, cbuf *xml)
{
    static const char *const itunes_files[] = {
        "ApertureAlbumPrefs",   "IC-Info.sidb",      "IC-Info.sidv",      "PhotosFolderAlbums",
        "PhotosFolderName",     "PhotosFolderPrefs", "VoiceMemos.plist",  "iPhotoAlbumPrefs",
        "iTunesApplicationIDs", "iTunesPrefs",       "iTunesPrefs.plist", NULL};
    lockdownd_client_t ld = NULL;
    plist_t values = NULL, settings = NULL;
    char *min_itunes = NULL, *out = NULL;
    uint32_t outlen = 0;
    uint8_t guid[16];
    char hex[33], *upper = NULL;
    cairn_err rc = afc_open(d);
    if (!rc)
        rc = session(d, &ld);
    if (rc)
        return rc;
    if (lockdownd_get_value(ld, NULL, NULL, &values) != LOCKDOWN_E_SUCCESS || !values) {
        lockdownd_client_free(ld);
        plist_free(values);
        return err_set(CAIRN_ESOURCE, "device %s: cannot read its values", d->udid);
    }
    /* both optional: without them idevicebackup2 writes an empty dict and "10.0.1" */
    lockdownd_get_value(ld, "com.apple.iTunes", NULL, &settings);
    get_string(d->udid, ld, "com.apple.mobile.iTunes", "MinITunesVersion", &min_itunes);
    lockdownd_client_free(ld);

    plist_t info = plist_new_dict();
    plist_t apps = plist_new_dict(), installed = plist_new_array();
    add_applications(d, apps, installed);
    plist_dict_set_item(info, "Applications", apps);
    set_copy(info, "Build Version", values, "BuildVersion");
    set_copy(info, "Device Name", values, "DeviceName");
    set_copy(info, "Display Name", values, "DeviceName");
    /* a random identifier per backup, as idevicebackup2 writes */
    randombytes_buf(guid, sizeof guid);
    for (size_t i = 0; i < sizeof guid; i++)
        snprintf(hex + 2 * i, 3, "%02X", guid[i]);
    plist_dict_set_item(info, "GUID", plist_new_string(hex));
    set_copy(info, "ICCID", values, "IntegratedCircuitCardIdentity");
    set_copy(info, "IMEI", values, "InternationalMobileEquipmentIdentity");
    plist_dict_set_item(info, "Installed Applications", installed);
    plist_dict_set_item(info, "Last Backup Date",
                        plist_new_date((int32_t)(time(NULL) - MAC_EPOCH), 0));
    plist_t phone = plist_dict_get_item(values, "PhoneNumber");
    if (phone && plist_get_node_type(phone) == PLIST_STRING)
        plist_dict_set_item(info, "Phone Number", plist_copy(phone));
    set_copy(info, "Product Type", values, "ProductType");
    set_copy(info, "Product Version", values, "ProductVersion");
    set_copy(info, "Serial Number", values, "SerialNumber");
    plist_dict_set_item(info, "Target Identifier", plist_new_string(d->udid));
    plist_dict_set_item(info, "Target Type", plist_new_string("Device"));
    upper = strdup(d->udid);
    for (char *p = upper; p && *p; p++)
        *p = (char)toupper((unsigned char)*p);
    plist_dict_set_item(info, "Unique Identifier", plist_new_string(upper ? upper : d->udid));
    free(upper);
    char *data = NULL;
    uint64_t size = 0;
    afc_get(d, "/Books/iBooksData2.plist", &data, &size);
    if (data)
        plist_dict_set_item(info, "iBooks Data 2", plist_new_data(data, size));
    free(data);
    plist_t files = plist_new_dict();
    for (size_t i = 0; itunes_files[i]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/iTunes_Control/iTunes/%s", itunes_files[i]);
        afc_get(d, path, &data, &size);
        if (data)
            plist_dict_set_item(files, itunes_files[i], plist_new_data(data, size));
        free(data);
    }
    plist_dict_set_item(info, "iTunes Files", files);
    plist_dict_set_item(info, "iTunes Settings", settings ? settings : plist_new_dict());
    plist_dict_set_item(info, "iTunes Version",
                        plist_new_string(min_itunes ? min_itunes : "10.0.1"));
    free(min_itunes);
    plist_to_xml(info, &out, &outlen);
    plist_free(info);
    plist_free(values);
    if (!out)
        return err_set(CAIRN_ENOMEM, "out of memory");
    cbuf_reset(xml);
    cbuf_put(xml, out, outlen);
    plist_to_xml_free(out);
    return xml->failed ? err_set(CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
}

/* ---- mobilebackup2 ---- */

static cairn_err conn_start_backup_service(idev *d, mobilebackup2_client_t *out)
{
    lockdownd_service_descriptor_t svc = NULL;
    cairn_err rc = start_service(d, MOBILEBACKUP2_SERVICE_NAME, 1, &svc);
    if (rc)
        return rc;
    if (mobilebackup2_client_new(d->device, svc, out) != MOBILEBACKUP2_E_SUCCESS) {
        *out = NULL;
        rc = err_set(CAIRN_ESOURCE, "device %s: cannot connect to its backup service", d->udid);
    }
    lockdownd_service_descriptor_free(svc);
    return rc;
}

static const device_module_ops device_ops = {
    .list = conn_list,
    .open = conn_open,
    .close = conn_close,
    .udid = conn_udid,
    .get_string = conn_get_string,
    .will_encrypt = conn_will_encrypt,
    .observe = conn_observe,
    .observe_end = conn_observe_end,
    .cancelled = conn_cancelled,
    .sync_begin = conn_sync_begin,
    .sync_end = conn_sync_end,
    .info_plist = conn_info_plist,
    .afc_put = conn_afc_put,
    .afc_remove = conn_afc_remove,
    .start_backup_service = conn_start_backup_service,
    .mb2_free = mobilebackup2_client_free,
    .mb2_send_message = mobilebackup2_send_message,
    .mb2_receive_message = mobilebackup2_receive_message,
    .mb2_send_raw = mobilebackup2_send_raw,
    .mb2_receive_raw = mobilebackup2_receive_raw,
    .mb2_version_exchange = mobilebackup2_version_exchange,
    .mb2_send_request = mobilebackup2_send_request,
    .mb2_send_status_response = mobilebackup2_send_status_response,
    .events_subscribe = device_events_subscribe,
    .events_unsubscribe = device_events_unsubscribe,
    .events_list = device_events_list,
};
CAIRN_MODULE_DEFINE(device_module, "device", &device_ops);
