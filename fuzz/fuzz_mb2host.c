/* fuzz_mb2host.c - libFuzzer target for the host side of mobilebackup2: what
 * a device (or anything that answers on its USB or Wi-Fi connection) sends
 * during a backup, a restore or a password change.
 *
 * The target links its own device_module (the seam of device_load.c), whose
 * mobilebackup2 calls read the device's side of the connection from the
 * input, as it comes over the wire: a message is a 32-bit big-endian length
 * and a plist (binary or XML), raw file data is bytes as they are.  A
 * message of length 0 is a receive timeout; the end of the input is the
 * device leaving, after which every send fails too.
 *
 * Input: one byte choosing the session (0 backup, 1 full backup, 2 restore,
 * 3 password change), then the device's bytes.  Each backup starts a stream
 * on a snapshot made once (Manifest.plist, Status.plist, Info.plist, one
 * file), so the device's downloads, listings, moves and copies find files;
 * what it uploads is chunked into a store in a temporary folder and never
 * committed.  Seeds in fuzz/corpus/mb2host come from
 * fuzz/mb2host_seeds.py: sessions in the shape idevicebackup2's peer
 * sends them. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plist/plist.h>
#include <sodium.h>

#include "engine/core/snapshot_edit.h"
#include "engine/core/snapshot_list.h"
#include "engine/ios/device_module_private.h"
#include "engine/ios/mobilebackup2_host.h"
#include "fuzz/fuzz.h"

#define UDID "00008110-000A1B2C3D4E5F60"

/* The device's side of the connection: what is left of the input. */
struct idev {
    const uint8_t *in;
    size_t left;
};

static const uint8_t *take(idev *d, size_t n)
{
    if (d->left < n)
        return NULL;
    const uint8_t *const p = d->in;
    d->in += n;
    d->left -= n;
    return p;
}

static int gone(const idev *d)
{
    return d->left == 0;
}

static cairn_err fake_list(device_summary **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    return CAIRN_OK;
}

static cairn_err fake_open(const char *udid, idev **out)
{
    (void)udid;
    *out = calloc(1, sizeof **out);
    return *out ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
}

static void fake_close(idev *d)
{
    free(d);
}

static const char *fake_udid(const idev *d)
{
    (void)d;
    return UDID;
}

static cairn_err fake_get_string(idev *d, const char *domain, const char *key, char **out)
{
    (void)d;
    (void)domain;
    (void)key;
    *out = strdup("fuzz");
    return *out ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
}

static cairn_err fake_will_encrypt(idev *d, int *on)
{
    (void)d;
    *on = 0;
    return CAIRN_OK;
}

static cairn_err fake_observe(idev *d, idev_note_fn note, void *ctx)
{
    (void)d;
    note(ctx, "observing");
    return CAIRN_OK;
}

static void fake_nothing(idev *d)
{
    (void)d;
}

static int fake_cancelled(idev *d)
{
    (void)d;
    return 0;
}

static cairn_err fake_sync_begin(idev *d)
{
    (void)d;
    return CAIRN_OK;
}

static cairn_err fake_info_plist(idev *d, cbuf *xml)
{
    static const char info[] = "<plist><dict><key>Device Name</key><string>fuzz</string></dict>"
                               "</plist>";
    (void)d;
    cbuf_put(xml, info, sizeof info - 1);
    return xml->failed ? err_set(CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
}

static cairn_err fake_afc_put(idev *d, const char *path, const uint8_t *data, size_t len)
{
    (void)d;
    (void)path;
    (void)data;
    (void)len;
    return CAIRN_OK;
}

static void fake_afc_remove(idev *d, const char *path)
{
    (void)d;
    (void)path;
}

/* The client is the device itself: the host only passes it back. */
static cairn_err fake_start_backup_service(idev *d, mobilebackup2_client_t *out)
{
    *out = (mobilebackup2_client_t)d;
    return CAIRN_OK;
}

static idev *dev(mobilebackup2_client_t c)
{
    return (idev *)c;
}

static mobilebackup2_error_t fake_mb2_free(mobilebackup2_client_t c)
{
    (void)c;
    return MOBILEBACKUP2_E_SUCCESS;
}

static mobilebackup2_error_t sent(mobilebackup2_client_t c)
{
    return gone(dev(c)) ? MOBILEBACKUP2_E_MUX_ERROR : MOBILEBACKUP2_E_SUCCESS;
}

static mobilebackup2_error_t fake_mb2_send_message(mobilebackup2_client_t c, const char *message,
                                                   plist_t options)
{
    (void)message;
    (void)options;
    return sent(c);
}

static mobilebackup2_error_t fake_mb2_receive_message(mobilebackup2_client_t c, plist_t *msg,
                                                      char **dlmessage)
{
    idev *const d = dev(c);
    const uint8_t *const h = take(d, 4);
    *msg = NULL;
    *dlmessage = NULL;
    if (!h)
        return MOBILEBACKUP2_E_MUX_ERROR;
    const uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (len == 0)
        return MOBILEBACKUP2_E_RECEIVE_TIMEOUT;
    const uint8_t *const body = take(d, len);
    if (!body)
        return MOBILEBACKUP2_E_MUX_ERROR;
    plist_from_memory((const char *)body, len, msg);
    if (!*msg)
        return MOBILEBACKUP2_E_PLIST_ERROR;
    /* libimobiledevice hands over the array's first string as the message.
     * It reads it with plist_get_string_val, which aborts on a U+0000 inside
     * (libplist 2.2): that is libimobiledevice's, out of cairn's reach, so
     * here such a message is only refused. */
    plist_t first = plist_get_node_type(*msg) == PLIST_ARRAY ? plist_array_get_item(*msg, 0) : NULL;
    uint64_t n = 0;
    const char *const s = plist_get_string_ptr(first, &n);
    if (s && memchr(s, '\0', (size_t)n))
        return MOBILEBACKUP2_E_PLIST_ERROR;
    *dlmessage = s ? strndup(s, (size_t)n) : NULL;
    return MOBILEBACKUP2_E_SUCCESS;
}

static mobilebackup2_error_t fake_mb2_send_raw(mobilebackup2_client_t c, const char *data,
                                               uint32_t len, uint32_t *n)
{
    (void)data;
    *n = gone(dev(c)) ? 0 : len;
    return sent(c);
}

static mobilebackup2_error_t fake_mb2_receive_raw(mobilebackup2_client_t c, char *data,
                                                  uint32_t len, uint32_t *got)
{
    idev *const d = dev(c);
    const uint32_t n = d->left < len ? (uint32_t)d->left : len;
    memcpy(data, take(d, n), n);
    *got = n;
    return n ? MOBILEBACKUP2_E_SUCCESS : MOBILEBACKUP2_E_MUX_ERROR;
}

static mobilebackup2_error_t fake_mb2_version_exchange(mobilebackup2_client_t c, double local[],
                                                       char count, double *remote)
{
    *remote = local[count - 1];
    return sent(c);
}

static mobilebackup2_error_t fake_mb2_send_request(mobilebackup2_client_t c, const char *request,
                                                   const char *target, const char *source,
                                                   plist_t options)
{
    (void)request;
    (void)target;
    (void)source;
    (void)options;
    return sent(c);
}

static mobilebackup2_error_t fake_mb2_send_status_response(mobilebackup2_client_t c, int code,
                                                           const char *status1, plist_t status2)
{
    (void)code;
    (void)status1;
    (void)status2;
    return sent(c);
}

static const device_module_ops fake_ops = {
    fake_list,
    fake_open,
    fake_close,
    fake_udid,
    fake_get_string,
    fake_will_encrypt,
    fake_observe,
    fake_nothing,
    fake_cancelled,
    fake_sync_begin,
    fake_nothing,
    fake_info_plist,
    fake_afc_put,
    fake_afc_remove,
    fake_start_backup_service,
    fake_mb2_free,
    fake_mb2_send_message,
    fake_mb2_receive_message,
    fake_mb2_send_raw,
    fake_mb2_receive_raw,
    fake_mb2_version_exchange,
    fake_mb2_send_request,
    fake_mb2_send_status_response,
    NULL,
    NULL,
    NULL,
};
CAIRN_MODULE_DEFINE(device_module, "device", &fake_ops);

/* ---- the store the sessions write into ---- */

static char g_dir[64];
static store *g_store;
static snaplist g_snaps;
static const snapshot *g_base;

static void cleanup(void)
{
    snaplist_free(&g_snaps);
    store_close(g_store);
    fuzz_remove_tree(g_dir);
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_mb2host: %s: %s\n", what, err_msg());
    exit(1);
}

static void put(stream *st, const char *path, const char *text)
{
    if (stream_put(st, path, (const uint8_t *)text, strlen(text)))
        die(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char pw[] = "fuzz";
    const keys_kdf kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    /* Packs of 1 GiB: none fills in a run, so none is finished on the
     * store's background thread while libFuzzer counts an input's
     * allocations (it took that thread's buffers for leaks). */
    const store_params params = {4096, 16384, 65536, 1u << 30, 1, 0, 0, 0};
    char path[96];
    stream *st = NULL;
    stream_result res;
    (void)argc;
    (void)argv;
    snprintf(g_dir, sizeof g_dir, "/tmp/cairn-fuzz-mb2host-XXXXXX");
    if (sodium_init() < 0 || !mkdtemp(g_dir))
        die("a temporary folder");
    snprintf(path, sizeof path, "%s/store", g_dir);
    if (store_create(path, pw, strlen(pw), &kdf, &params) ||
        store_open(path, pw, strlen(pw), STORE_WRITE, &g_store))
        die(path);
    atexit(cleanup);
    const stream_opts so = {.threads = 1};
    if (stream_begin(g_store, &so, &st))
        die("stream_begin");
    put(st, "Manifest.plist", "<plist><dict><key>IsEncrypted</key><false/></dict></plist>");
    put(st, "Status.plist",
        "<plist><dict><key>SnapshotState</key><string>finished</string>"
        "</dict></plist>");
    put(st, "Info.plist",
        "<plist><dict><key>Applications</key><dict><key>com.example</key>"
        "<dict/></dict></dict></plist>");
    if (stream_mkdir(st, "ab"))
        die("ab");
    put(st, "ab/ab00000000000000000000000000000000000000", "a file of the device");
    const stream_commit_opts co = {.source = "fuzz", .chain = "device:" UDID};
    if (stream_commit(st, &co, &res) || snaplist_load(g_store, &g_snaps))
        die("the base snapshot");
    stream_free(st);
    g_base = snaplist_latest_in_chain(&g_snaps, co.chain);
    if (!g_base)
        die("the base snapshot");
    return 0;
}

/* ---- one session ---- */

/* Reading every string handed out lets ASan catch one that outlived or
 * overran its storage. */
static volatile size_t sink;

static void on_warn(void *ctx, const char *path, const char *message)
{
    (void)ctx;
    sink += strlen(path) + strlen(message);
}

static void on_progress(void *ctx, const mb2host_progress *p)
{
    (void)ctx;
    sink += p->files_received + p->bytes_received;
}

static void on_note(void *ctx, const char *message)
{
    (void)ctx;
    sink += strlen(message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const mb2host_events ev = {on_warn, on_progress, on_note, NULL};
    mb2host_result r;
    idev *d = NULL;
    stream *st = NULL;
    if (size < 1)
        return 0;
    if (idev_open(UDID, &d))
        die("idev_open");
    d->in = data + 1;
    d->left = size - 1;
    const int session = data[0] & 3;
    if (session == 3) {
        (void)mb2host_change_password(d, "old", "new", &ev);
        idev_close(d);
        return 0;
    }
    const stream_opts so = {.base = g_base, .threads = 1, .read_only = session == 2};
    if (stream_begin(g_store, &so, &st))
        die("stream_begin");
    if (session == 2) {
        static const uint8_t info[] = "<plist><dict><key>Applications</key><dict><key>a</key>"
                                      "<dict/></dict></dict></plist>";
        const mb2host_restore_opts ro = {
            .source_udid = UDID, .info_plist = info, .info_plist_len = sizeof info - 1};
        (void)mb2host_restore(d, st, &ro, &ev, &r);
    } else {
        (void)mb2host_backup(d, st, session, g_dir, &ev, &r);
    }
    /* a session cut short leaves a stream that is only freed, never committed */
    stream_free(st);
    idev_close(d);
    return 0;
}
