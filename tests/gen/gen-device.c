/* gen-device.c - "cairn-gen device": a MobileSync backup folder of a made-up phone.
 *
 * The folder is planned first (every row: domain, path, kind, target size),
 * sorted by fileID, then written in that order; the plan depends only on the
 * options, so equal options give a bit-identical folder. */
#define _XOPEN_SOURCE 700

#include "gen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    KIB = 1024,
    YEAR = 365 * GEN_DAY,
    MODE_FILE = 0100644,
    MODE_DIR = 040755,
    MODE_LINK = 0120755,
    /* NSFileProtectionCompleteUntilFirstUserAuthentication: the iOS default. */
    PROTECTION_DEFAULT = 3,
};

/* ---- rows shared with "mutate" ---- */

char *gen_content_path(const char *dir, const char *file_id)
{
    return gen_strf("%s/%.2s/%s", dir, file_id, file_id);
}

sqlite3_stmt *gen_manifest_insert_stmt(const char *db_path, sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO Files(fileID, domain, relativePath, flags, file) "
                           "VALUES(?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        gen_err(db_path, "cannot prepare insert: %s", sqlite3_errmsg(db));
        return NULL;
    }
    return st;
}

/* Photos tags each asset file with its library UUID; backups keep such xattrs
 * as a binary plist inside the MBFile. */
static int photo_xattrs(gen_rng *r, char **out, size_t *len)
{
    char uuid[37];
    gen_uuid(r, uuid);
    plist_t const d = plist_new_dict();
    plist_dict_set_item(d, "com.apple.assetsd.UUID", plist_new_data(uuid, 36));
    plist_dict_set_item(d, "com.apple.assetsd.avalanche.type", plist_new_data("\0", 1));
    const int rc = gen_plist_bin(d, "xattrs", out, len);
    plist_free(d);
    return rc;
}

static unsigned row_mode(unsigned flags)
{
    return flags == MB_DIR ? MODE_DIR : flags == MB_LINK ? MODE_LINK : MODE_FILE;
}

static int encode_row(const gen_row *row, uint64_t seed, char **blob, size_t *blob_len)
{
    gen_rng r;
    rng_init_str(&r, seed, row->file_id);
    char *xattr = NULL;
    size_t xattr_len = 0;
    if (row->is_photo && photo_xattrs(&r, &xattr, &xattr_len))
        return -1;
    const gen_mbfile f = {
        .relative_path = row->path,
        .target = row->target,
        .size = row->flags == MB_FILE ? row->size : 0,
        .mode = row_mode(row->flags),
        .mtime = row->mtime,
        .birth = row->birth,
        .ctime = row->mtime,
        .inode = 100000 + rng_below(&r, 90000000),
        .protection_class = row->flags != MB_FILE   ? 0
                            : row->protection_class ? row->protection_class
                                                    : PROTECTION_DEFAULT,
        .xattr_plist = xattr,
        .xattr_len = xattr_len,
        .encryption_key = row->encryption_key,
    };
    const int rc = gen_mbfile_archive(&f, blob, blob_len);
    free(xattr);
    return rc;
}

int gen_manifest_put(const char *db_path, sqlite3 *db, sqlite3_stmt *ins, const gen_row *row,
                     uint64_t seed)
{
    char *blob = NULL;
    size_t blob_len = 0;
    if (encode_row(row, seed, &blob, &blob_len))
        return -1;
    int rc = -1;
    if (sqlite3_bind_text(ins, 1, row->file_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(ins, 2, row->domain, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(ins, 3, row->path, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(ins, 4, (int)row->flags) != SQLITE_OK ||
        sqlite3_bind_blob(ins, 5, blob, (int)blob_len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(ins) != SQLITE_DONE) {
        gen_err(db_path, "cannot insert %s-%s: %s", row->domain, row->path, sqlite3_errmsg(db));
        goto fail;
    }
    rc = 0;
fail:
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    free(blob);
    return rc;
}

char *gen_photo_path(unsigned folder, unsigned n, gen_media_kind kind)
{
    static const char *const ext[] = {"HEIC", "JPG", "MOV", "M4A"};
    return gen_strf("Media/DCIM/%uAPPLE/IMG_%04u.%s", folder, n, ext[kind]);
}

gen_media_kind gen_photo_pick(gen_rng *r, uint64_t max, uint64_t *size)
{
    const uint64_t p = rng_below(r, 100);
    const gen_media_kind kind = p < 70 ? MEDIA_HEIC : p < 90 ? MEDIA_JPEG : MEDIA_MOV;
    const uint64_t lo = kind == MEDIA_MOV    ? 6 * GEN_MIB
                        : kind == MEDIA_JPEG ? 1536 * KIB
                                             : 1200 * KIB;
    const uint64_t hi = kind == MEDIA_MOV    ? 40 * GEN_MIB
                        : kind == MEDIA_JPEG ? 5 * GEN_MIB
                                             : 3584 * KIB;
    const uint64_t s = rng_range(r, lo, hi);
    *size = s < max ? s : max;
    return kind;
}

int gen_write_status(const char *dir, int64_t now, gen_rng *r)
{
    char uuid[37];
    gen_uuid(r, uuid);
    char *const path = gen_strf("%s/Status.plist", dir);
    if (!path)
        return -1;
    plist_t const d = plist_new_dict();
    plist_dict_set_item(d, "IsFullBackup", plist_new_bool(0));
    plist_dict_set_item(d, "Version", plist_new_string("3.3"));
    plist_dict_set_item(d, "UUID", plist_new_string(uuid));
    plist_dict_set_item(d, "Date", gen_plist_date(now));
    plist_dict_set_item(d, "BackupState", plist_new_string("new"));
    plist_dict_set_item(d, "SnapshotState", plist_new_string("finished"));
    int rc = gen_write_plist(path, d, 1);
    if (rc == 0)
        rc = gen_set_meta(path, 0644, now);
    plist_free(d);
    free(path);
    return rc;
}

/* ---- the plan ---- */

typedef enum entry_kind { E_DIR, E_LINK, E_MEDIA, E_DB, E_PLIST } entry_kind;

typedef struct entry {
    gen_row row;
    char *domain;
    char *path;
    char *target;
    entry_kind kind;
    int sub; /* media kind, database kind, or "binary plist" */
    size_t order;
    uint8_t key[44]; /* EncryptionKey, encrypted backups only */
} entry;

typedef struct plan {
    entry *e;
    size_t n, cap;
    gen_rng r;
    int64_t now;
    int content;     /* -1, or the state of gen-content.c's rows */
    const char *ios; /* content: which schemas */
} plan;

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].domain);
        free(p->e[i].path);
        free(p->e[i].target);
    }
    free(p->e);
}

static entry *plan_add(plan *p, const char *domain, const char *path, entry_kind kind, int sub,
                       uint64_t size)
{
    if (p->n == p->cap) {
        const size_t cap = p->cap ? p->cap * 2 : 1024;
        entry *const e = realloc(p->e, cap * sizeof *e);
        if (!e) {
            gen_err("plan", "cannot allocate %zu entries", cap);
            return NULL;
        }
        p->e = e;
        p->cap = cap;
    }
    entry *const e = &p->e[p->n];
    memset(e, 0, sizeof *e);
    e->domain = gen_strdup(domain);
    e->path = gen_strdup(path);
    if (!e->domain || !e->path || gen_file_id(domain, path, e->row.file_id)) {
        free(e->domain);
        free(e->path);
        return NULL;
    }
    e->kind = kind;
    e->sub = sub;
    e->order = p->n++;
    e->row.flags = kind == E_DIR ? MB_DIR : kind == E_LINK ? MB_LINK : MB_FILE;
    e->row.size = size;
    /* Databases are in daily use; everything else has aged for up to two years. */
    const int64_t age =
        kind == E_DB ? (int64_t)rng_below(&p->r, 2 * GEN_DAY) : (int64_t)rng_below(&p->r, 2 * YEAR);
    e->row.mtime = p->now - age;
    e->row.birth = e->row.mtime - (int64_t)rng_below(&p->r, 30 * GEN_DAY);
    return e;
}

static int plan_addf(plan *p, const char *domain, entry_kind kind, int sub, uint64_t size,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int plan_addf(plan *p, const char *domain, entry_kind kind, int sub, uint64_t size,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    const int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        return gen_err(domain, "relative path too long");
    return plan_add(p, domain, buf, kind, sub, size) ? 0 : -1;
}

/* ---- device identity ---- */

typedef struct product_info {
    const char *type;
    const char *name;
    unsigned chip; /* 0: legacy 40-hex UDID */
} product_info;

static const product_info products[] = {
    {"iPhone15,2", "iPhone 14 Pro", 0x8120}, {"iPhone15,3", "iPhone 14 Pro Max", 0x8120},
    {"iPhone16,1", "iPhone 15 Pro", 0x8130}, {"iPhone14,5", "iPhone 13", 0x8110},
    {"iPhone12,1", "iPhone 11", 0x8030},     {"iPad13,1", "iPad Air", 0x8101},
    {"iPhone10,3", "iPhone X", 0},
};

typedef struct ios_build {
    const char *version;
    const char *build;
} ios_build;

static const ios_build builds[] = {
    {"17.5", "21F79"}, {"17.4", "21E219"},  {"17.0", "21A329"},
    {"16.6", "20G75"}, {"18.0", "22A3354"}, {"15.7", "19H12"},
};

static const char *const app_names[] = {
    "notes",  "chat",     "fitness", "recipes", "banking",  "weather", "maps",      "music",
    "reader", "travel",   "tasks",   "budget",  "podcasts", "camera",  "games",     "social",
    "video",  "news",     "shop",    "mail",    "calendar", "scanner", "translate", "wallet",
    "sleep",  "meditate", "learn",   "drive",   "ride",     "photos",
};

enum { MAX_APPS = sizeof app_names / sizeof app_names[0] };

typedef struct device {
    char udid[48];
    char serial[16];
    char imei[16];
    char iccid[24];
    char guid[40];
    char phone[24];
    const char *name;
    const product_info *product;
    const char *ios;
    const char *build;
    char *bundles[MAX_APPS];
    size_t napps;
} device;

static void luhn_digits(gen_rng *r, char *out, const char *prefix, size_t n)
{
    const size_t plen = strlen(prefix);
    memcpy(out, prefix, plen);
    for (size_t i = plen; i + 1 < n; i++)
        out[i] = (char)('0' + rng_below(r, 10));
    /* Luhn check digit, as on real IMEIs and ICCIDs. */
    unsigned sum = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned d = (unsigned)(out[n - 2 - i] - '0');
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    out[n - 1] = (char)('0' + (10 - sum % 10) % 10);
    out[n] = '\0';
}

static unsigned isqrt(uint64_t v)
{
    uint64_t x = 0;
    while ((x + 1) * (x + 1) <= v)
        x++;
    return (unsigned)x;
}

static void device_free(device *d)
{
    for (size_t i = 0; i < d->napps; i++)
        free(d->bundles[i]);
}

static int device_init(device *d, const gen_opts *o)
{
    gen_rng r;
    rng_init(&r, o->seed, 0xde71ce);
    memset(d, 0, sizeof *d);
    static const product_info other = {NULL, "iPhone", 0};
    d->product = &other;
    for (size_t i = 0; i < sizeof products / sizeof products[0]; i++) {
        if (strcmp(products[i].type, o->product) == 0)
            d->product = &products[i];
    }
    d->ios = o->ios;
    d->build = "21F79";
    for (size_t i = 0; i < sizeof builds / sizeof builds[0]; i++) {
        if (strcmp(builds[i].version, o->ios) == 0)
            d->build = builds[i].build;
    }
    d->name = o->name;
    char hex[41];
    gen_hex(&r, hex, 40);
    if (o->udid)
        snprintf(d->udid, sizeof d->udid, "%s", o->udid);
    else if (d->product->chip)
        snprintf(d->udid, sizeof d->udid, "0000%04X-%.16s", d->product->chip, hex);
    else
        for (size_t i = 0; i <= 40; i++)
            d->udid[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
    static const char serial_chars[] = "0123456789CDFGHJKLMNPQRTVWXY";
    for (size_t i = 0; i < 10; i++)
        d->serial[i] = serial_chars[rng_below(&r, sizeof serial_chars - 1)];
    luhn_digits(&r, d->imei, "35", 15);
    luhn_digits(&r, d->iccid, "8901", 20);
    gen_hex(&r, d->guid, 32);
    snprintf(d->phone, sizeof d->phone, "+1 (555) 01%u-%04u", (unsigned)rng_below(&r, 10),
             (unsigned)rng_below(&r, 10000));
    d->napps = 8 + isqrt(o->size_mb / 4);
    if (d->napps > MAX_APPS)
        d->napps = MAX_APPS;
    for (size_t i = 0; i < d->napps; i++) {
        d->bundles[i] = gen_strf("com.example.%s", app_names[i]);
        if (!d->bundles[i])
            return -1;
    }
    return 0;
}

/* ---- planning ---- */

typedef struct budget {
    uint64_t media;
    uint64_t db;
    unsigned small_files;
} budget;

static budget budget_for(uint64_t size_mb)
{
    const uint64_t total = size_mb * GEN_MIB;
    budget b;
    /* Thousands of small files at 64 MiB, growing with the square root of
     * size: phones with more photos do not have proportionally more settings. */
    b.small_files = 250 * isqrt(size_mb);
    if (b.small_files < 40)
        b.small_files = 40;
    /* Media is a fixed share; databases get what the small files leave
     * (they come out a little over their goal, hence 29% rather than 31%). */
    b.media = total / 100 * 69;
    const uint64_t small_bytes = (uint64_t)b.small_files * 2100;
    const uint64_t rest = total / 100 * 29;
    b.db = rest > small_bytes + total / 10 ? rest - small_bytes : total / 10;
    return b;
}

static int plan_media(plan *p, uint64_t bytes)
{
    /* Long videos would swallow a small budget whole. */
    const uint64_t cap = bytes / 6 > GEN_MIB ? bytes / 6 : GEN_MIB;
    unsigned n = 1;
    uint64_t left = bytes;
    while (left >= 64 * KIB) {
        const uint64_t roll = rng_below(&p->r, 100);
        uint64_t size = 0;
        if (roll < 7) {
            char uuid[37];
            gen_uuid(&p->r, uuid);
            size = rng_range(&p->r, 80 * KIB, 900 * KIB);
            size = size < left ? size : left;
            if (plan_addf(p, "MediaDomain", E_MEDIA, MEDIA_JPEG, size,
                          "Library/SMS/Attachments/%02x/%02u/%s/IMG_%04u.jpeg",
                          (unsigned)rng_below(&p->r, 256), (unsigned)rng_below(&p->r, 16), uuid,
                          (unsigned)rng_range(&p->r, 1, 9999)))
                return -1;
        } else if (roll < 10) {
            size = rng_range(&p->r, 200 * KIB, 4 * GEN_MIB);
            size = size < left ? size : left;
            if (plan_addf(p, "MediaDomain", E_MEDIA, MEDIA_M4A, size,
                          "Media/Recordings/2024%02u%02u %06u.m4a",
                          (unsigned)rng_range(&p->r, 1, 12), (unsigned)rng_range(&p->r, 1, 28),
                          (unsigned)rng_below(&p->r, 240000)))
                return -1;
        } else {
            const gen_media_kind kind = gen_photo_pick(&p->r, left < cap ? left : cap, &size);
            /* The camera starts a new DCIM folder every thousand shots. */
            char *const path = gen_photo_path(100 + (n - 1) / 1000, n, kind);
            n++;
            entry *const e =
                path ? plan_add(p, "CameraRollDomain", path, E_MEDIA, kind, size) : NULL;
            free(path);
            if (!e)
                return -1;
            e->row.is_photo = 1;
        }
        left -= size;
    }
    return 0;
}

typedef struct db_place {
    const char *domain;
    const char *path;
    gen_db_kind kind;
    unsigned percent;
} db_place;

static const db_place system_dbs[] = {
    {"HomeDomain", "Library/SMS/sms.db", DB_SMS, 30},
    {"HomeDomain", "Library/AddressBook/AddressBook.sqlitedb", DB_ADDRESSBOOK, 8},
    {"HomeDomain", "Library/Notes/NotesV7.storedata", DB_NOTES, 10},
    {"HomeDomain", "Library/CallHistoryDB/CallHistory.storedata", DB_CALLS, 4},
    {"CameraRollDomain", "Media/PhotoData/Photos.sqlite", DB_PHOTOS, 10},
    {"WirelessDomain", "Library/Databases/CellularUsage.db", DB_CELLULAR, 2},
};
enum { APP_DB_PERCENT = 36 };

static int plan_dbs(plan *p, const device *d, uint64_t bytes)
{
    for (size_t i = 0; i < sizeof system_dbs / sizeof system_dbs[0]; i++) {
        const db_place *const s = &system_dbs[i];
        if (!plan_add(p, s->domain, s->path, E_DB, s->kind, bytes / 100 * s->percent))
            return -1;
    }
    const uint64_t app_bytes = bytes / 100 * APP_DB_PERCENT;
    for (size_t i = 0; i < d->napps; i++) {
        /* Uneven shares: a chat or photo app dwarfs a flashlight. */
        const uint64_t share = app_bytes / d->napps * rng_range(&p->r, 20, 180) / 100;
        const char *const app = app_names[i];
        char *const domain = gen_strf("AppDomain-%s", d->bundles[i]);
        if (!domain ||
            plan_addf(p, domain, E_DB, DB_APP, share * 3 / 4, "Documents/%s.sqlite", app)) {
            free(domain);
            return -1;
        }
        free(domain);
        char *const group = gen_strf("AppDomainGroup-group.%s", d->bundles[i]);
        const int rc = group ? plan_addf(p, group, E_DB, DB_APP, share / 4,
                                         "Library/Shared/%s-shared.sqlite", app)
                             : -1;
        free(group);
        if (rc)
            return -1;
    }
    return 0;
}

static const char *const home_prefs[] = {
    "com.apple.springboard",     "com.apple.mobilesafari",
    "com.apple.MobileSMS",       "com.apple.Preferences",
    "com.apple.camera",          "com.apple.mobilephone",
    "com.apple.weather",         "com.apple.stocks",
    "com.apple.mobilenotes",     "com.apple.Maps",
    "com.apple.mobileslideshow", "com.apple.purplebuddy",
    "com.apple.keyboard",        "com.apple.assistant.support",
    "com.apple.locationd",       "com.apple.mobilecal",
    "com.apple.mobilemail",      "com.apple.Music",
};

static const char *const system_prefs[] = {
    "SystemConfiguration/preferences.plist",        "SystemConfiguration/com.apple.wifi.plist",
    "SystemConfiguration/NetworkInterfaces.plist",  "SystemConfiguration/com.apple.radios.plist",
    "SystemConfiguration/com.apple.AutoWake.plist",
};

static const char *const wireless_prefs[] = {
    "Library/Preferences/com.apple.commcenter.plist",
    "Library/Preferences/com.apple.commcenter.callservices.plist",
    "Library/Preferences/com.apple.AppleBasebandManager.plist",
};

/* Settings files are mostly tiny, with a tail of larger ones. */
static uint64_t small_size(gen_rng *r)
{
    const uint64_t roll = rng_below(r, 100);
    if (roll < 70)
        return rng_range(r, 150, 1200);
    if (roll < 95)
        return rng_range(r, 1200, 4096);
    return rng_range(r, 4096, 16384);
}

static int plan_plist(plan *p, const char *domain, const char *path)
{
    /* Most settings are binary plists; some apps still write XML. */
    const int binary = rng_chance(&p->r, 85, 100);
    return plan_add(p, domain, path, E_PLIST, binary, small_size(&p->r)) ? 0 : -1;
}

static int plan_fixed_plists(plan *p, const device *d)
{
    for (size_t i = 0; i < sizeof system_prefs / sizeof system_prefs[0]; i++) {
        if (plan_plist(p, "SystemPreferencesDomain", system_prefs[i]))
            return -1;
    }
    for (size_t i = 0; i < sizeof wireless_prefs / sizeof wireless_prefs[0]; i++) {
        if (plan_plist(p, "WirelessDomain", wireless_prefs[i]))
            return -1;
    }
    char path[256];
    for (size_t i = 0; i < sizeof home_prefs / sizeof home_prefs[0]; i++) {
        snprintf(path, sizeof path, "Library/Preferences/%s.plist", home_prefs[i]);
        if (plan_plist(p, "HomeDomain", path))
            return -1;
    }
    for (size_t i = 0; i < d->napps; i++) {
        char domain[128];
        snprintf(domain, sizeof domain, "AppDomain-%s", d->bundles[i]);
        snprintf(path, sizeof path, "Library/Preferences/%s.plist", d->bundles[i]);
        if (plan_plist(p, domain, path))
            return -1;
        snprintf(domain, sizeof domain, "AppDomainGroup-group.%s", d->bundles[i]);
        snprintf(path, sizeof path, "Library/Preferences/group.%s.plist", d->bundles[i]);
        if (plan_plist(p, domain, path))
            return -1;
    }
    return 0;
}

/* One more small plist somewhere plausible; n keeps names unique. */
static int plan_random_plist(plan *p, const device *d, unsigned n)
{
    char domain[128];
    char path[512];
    const char *const w1 = gen_word(&p->r);
    const char *const w2 = gen_word(&p->r);
    const uint64_t roll = rng_below(&p->r, 100);
    const char *const bundle = d->bundles[rng_below(&p->r, d->napps)];
    if (roll < 15) {
        snprintf(domain, sizeof domain, "HomeDomain");
        snprintf(path, sizeof path, "Library/Preferences/com.apple.%s.%s-%u.plist", w1, w2, n);
    } else if (roll < 45) {
        snprintf(domain, sizeof domain, "AppDomain-%s", bundle);
        snprintf(path, sizeof path, "Documents/%s/%s-%u.plist", w1, w2, n);
    } else if (roll < 75) {
        snprintf(domain, sizeof domain, "AppDomain-%s", bundle);
        snprintf(path, sizeof path, "Library/Application Support/%s/item-%u.plist", w1, n);
    } else if (roll < 85) {
        snprintf(domain, sizeof domain, "AppDomain-%s", bundle);
        snprintf(path, sizeof path, "Library/Preferences/%s.%s-%u.plist", bundle, w1, n);
    } else {
        snprintf(domain, sizeof domain, "AppDomainGroup-group.%s", bundle);
        snprintf(path, sizeof path, "Library/Shared/%s/%s-%u.plist", w1, w2, n);
    }
    return plan_plist(p, domain, path);
}

static int plan_links(plan *p, const device *d)
{
    static const char *const links[][3] = {
        {"HomeDomain", "Library/Preferences/com.apple.carrier.plist",
         "/var/mobile/Library/Carrier Bundles/Overlay/carrier.plist"},
        {"HomeDomain", "Library/Preferences/com.apple.operator.plist",
         "/var/mobile/Library/Carrier Bundles/Overlay/operator.plist"},
        {"MediaDomain", "Media/Recordings/Latest", "Media/Recordings"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        entry *const e = plan_add(p, links[i][0], links[i][1], E_LINK, 0, 0);
        if (!e || !(e->target = gen_strdup(links[i][2])))
            return -1;
    }
    char domain[128];
    snprintf(domain, sizeof domain, "AppDomain-%s", d->bundles[0]);
    entry *const e = plan_add(p, domain, "Library/Caches/Current", E_LINK, 0, 0);
    return e && (e->target = gen_strdup("Snapshots/2024")) ? 0 : -1;
}

/* Every ancestor of every file gets a directory row, the domain root ("")
 * included, as in real manifests. */
static int plan_dirs(plan *p)
{
    const size_t files = p->n;
    for (size_t i = 0; i < files; i++) {
        char *const path = gen_strdup(p->e[i].path);
        if (!path)
            return -1;
        char *const domain = gen_strdup(p->e[i].domain);
        int rc = domain ? 0 : -1;
        for (char *slash = strrchr(path, '/'); rc == 0 && slash; slash = strrchr(path, '/')) {
            *slash = '\0';
            rc = plan_add(p, domain, path, E_DIR, 0, 0) ? 0 : -1;
        }
        if (rc == 0)
            rc = plan_add(p, domain, "", E_DIR, 0, 0) ? 0 : -1;
        free(domain);
        free(path);
        if (rc)
            return -1;
    }
    return 0;
}

static int by_file_id(const void *a, const void *b)
{
    const entry *const x = a;
    const entry *const y = b;
    const int c = strcmp(x->row.file_id, y->row.file_id);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Sorts by fileID and keeps the first of any duplicates. */
static void plan_sort_unique(plan *p)
{
    qsort(p->e, p->n, sizeof p->e[0], by_file_id);
    size_t out = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (out && strcmp(p->e[out - 1].row.file_id, p->e[i].row.file_id) == 0) {
            free(p->e[i].domain);
            free(p->e[i].path);
            free(p->e[i].target);
            continue;
        }
        p->e[out++] = p->e[i];
    }
    p->n = out;
    for (size_t i = 0; i < p->n; i++) {
        p->e[i].row.domain = p->e[i].domain;
        p->e[i].row.path = p->e[i].path;
        p->e[i].row.target = p->e[i].target;
    }
}

static int plan_content_file(void *ctx, const char *domain, const char *path, gen_media_kind kind,
                             uint64_t size, int is_photo)
{
    entry *const e = plan_add(ctx, domain, path, E_MEDIA, kind, size);
    if (!e)
        return -1;
    e->row.is_photo = is_photo;
    return 0;
}

static int make_plan(plan *p, const device *d, const gen_opts *o)
{
    budget b = budget_for(o->size_mb);
    /* a content backup is about its three databases: keep the rest small */
    if (p->content >= 0)
        b.small_files = 40;
    if ((p->content >= 0 ? gen_content_files((unsigned)p->content, plan_content_file, p)
                         : plan_media(p, b.media)) ||
        plan_dbs(p, d, b.db) || plan_fixed_plists(p, d) || plan_links(p, d))
        return -1;
    const size_t fixed = p->n;
    /* --files asks for a file count (a scale test), not a size: the rows
     * beyond the media, databases and fixed settings are small settings files */
    if (o->files)
        b.small_files = o->files > fixed ? (unsigned)(o->files - fixed) : 0;
    for (unsigned i = 0; p->n - fixed < b.small_files; i++) {
        if (plan_random_plist(p, d, i))
            return -1;
    }
    if (plan_dirs(p))
        return -1;
    plan_sort_unique(p);
    return 0;
}

/* ---- writing ---- */

typedef struct tally {
    uint64_t media, db, plist;
    size_t files, dirs, links;
} tally;

static int write_content(const char *path, entry *e, const plan *p, uint64_t seed, int64_t now)
{
    const uint64_t fseed = seed ^ gen_hash_str(e->row.file_id);
    int rc = 0;
    if (e->kind == E_DB && p->content >= 0 &&
        (e->sub == DB_SMS || e->sub == DB_PHOTOS || e->sub == DB_ADDRESSBOOK)) {
        rc = gen_content_db(path, (gen_db_kind)e->sub, p->ios, (unsigned)p->content);
    } else if (e->kind == E_MEDIA) {
        rc = gen_media_file(path, (gen_media_kind)e->sub, e->row.size, fseed);
    } else if (e->kind == E_DB) {
        rc = gen_db_create(path, (gen_db_kind)e->sub, e->row.size, fseed, now);
    } else {
        gen_rng r;
        rng_init(&r, fseed, 0x706c);
        rc = gen_prefs_plist(path, &r, (size_t)e->row.size, e->sub, now);
    }
    if (rc || gen_file_size(path, &e->row.size))
        return -1;
    return gen_set_meta(path, 0644, e->row.mtime);
}

/* Encrypts a written content file in place; the row keeps its plaintext size. */
static int seal_entry(const char *path, entry *e, uint64_t seed, gen_crypt *crypt)
{
    const unsigned cls = gen_crypt_class(e->row.file_id);
    if (gen_crypt_seal_new(crypt, path, e->row.file_id, seed, cls, e->key))
        return -1;
    e->row.protection_class = cls;
    e->row.encryption_key = e->key;
    return gen_set_meta(path, 0644, e->row.mtime);
}

static int write_entry(const char *dir, entry *e, const plan *p, uint64_t seed, int64_t now,
                       tally *t, gen_crypt *crypt)
{
    if (e->kind == E_DIR || e->kind == E_LINK) {
        t->dirs += e->kind == E_DIR;
        t->links += e->kind == E_LINK;
        return 0;
    }
    char *const sub = gen_strf("%s/%.2s", dir, e->row.file_id);
    char *const path = gen_content_path(dir, e->row.file_id);
    int rc = -1;
    if (!sub || !path || gen_mkdir_p(sub, 0755) || write_content(path, e, p, seed, now))
        goto fail;
    if (crypt && seal_entry(path, e, seed, crypt))
        goto fail;
    t->files++;
    if (e->kind == E_MEDIA)
        t->media += e->row.size;
    else if (e->kind == E_DB)
        t->db += e->row.size;
    else
        t->plist += e->row.size;
    rc = 0;
fail:
    free(sub);
    free(path);
    return rc;
}

static const char manifest_schema[] =
    "PRAGMA page_size=4096; PRAGMA auto_vacuum=NONE; PRAGMA journal_mode=DELETE;"
    "PRAGMA synchronous=OFF;"
    "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, "
    "file BLOB);"
    "CREATE INDEX FilesDomainIdx ON Files(domain);"
    "CREATE INDEX FilesRelativePathIdx ON Files(relativePath);"
    "CREATE INDEX FilesFlagsIdx ON Files(flags);"
    "CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);";

int gen_sql_exec(const char *path, sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        gen_err(path, "SQL failed: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int write_rows(const char *dir, plan *p, uint64_t seed, int64_t now, tally *t,
                      gen_crypt *crypt)
{
    char *const db_path = gen_strf("%s/Manifest.db", dir);
    if (!db_path)
        return -1;
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    int rc = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        gen_err(db_path, "cannot create database: %s", db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    if (gen_sql_exec(db_path, db, manifest_schema) || gen_sql_exec(db_path, db, "BEGIN"))
        goto fail;
    if (!(ins = gen_manifest_insert_stmt(db_path, db)))
        goto fail;
    for (size_t i = 0; i < p->n; i++) {
        if (write_entry(dir, &p->e[i], p, seed, now, t, crypt) ||
            gen_manifest_put(db_path, db, ins, &p->e[i].row, seed))
            goto fail;
    }
    if (gen_sql_exec(db_path, db, "COMMIT"))
        goto fail;
    rc = 0;
fail:
    sqlite3_finalize(ins);
    if (db && sqlite3_close(db) != SQLITE_OK) {
        gen_err(db_path, "cannot close database: %s", sqlite3_errmsg(db));
        rc = -1;
    }
    if (rc == 0 && crypt)
        rc = gen_crypt_seal_manifest(crypt, db_path, db_path);
    if (rc == 0)
        rc = gen_set_meta(db_path, 0644, now);
    free(db_path);
    return rc;
}

/* ---- the three plists ---- */

static plist_t installed_apps(const device *d)
{
    plist_t const a = plist_new_array();
    for (size_t i = 0; i < d->napps; i++)
        plist_array_append_item(a, plist_new_string(d->bundles[i]));
    return a;
}

static int write_info(const char *dir, const device *d, int64_t now)
{
    char udid_upper[48];
    snprintf(udid_upper, sizeof udid_upper, "%s", d->udid);
    for (char *c = udid_upper; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
    plist_t const p = plist_new_dict();
    plist_dict_set_item(p, "Build Version", plist_new_string(d->build));
    plist_dict_set_item(p, "Device Name", plist_new_string(d->name));
    plist_dict_set_item(p, "Display Name", plist_new_string(d->name));
    plist_dict_set_item(p, "GUID", plist_new_string(d->guid));
    plist_dict_set_item(p, "ICCID", plist_new_string(d->iccid));
    plist_dict_set_item(p, "IMEI", plist_new_string(d->imei));
    plist_dict_set_item(p, "Installed Applications", installed_apps(d));
    plist_dict_set_item(p, "Last Backup Date", gen_plist_date(now));
    plist_dict_set_item(p, "Phone Number", plist_new_string(d->phone));
    plist_dict_set_item(p, "Product Name", plist_new_string(d->product->name));
    plist_dict_set_item(p, "Product Type",
                        plist_new_string(d->product->type ? d->product->type : ""));
    plist_dict_set_item(p, "Product Version", plist_new_string(d->ios));
    plist_dict_set_item(p, "Serial Number", plist_new_string(d->serial));
    plist_dict_set_item(p, "Target Identifier", plist_new_string(d->udid));
    plist_dict_set_item(p, "Target Type", plist_new_string("Device"));
    plist_dict_set_item(p, "Unique Identifier", plist_new_string(udid_upper));
    plist_dict_set_item(p, "iTunes Files", plist_new_dict());
    plist_dict_set_item(p, "iTunes Settings", plist_new_dict());
    plist_dict_set_item(p, "iTunes Version", plist_new_string("12.13.2.3"));
    char *const path = gen_strf("%s/Info.plist", dir);
    int rc = path ? gen_write_plist(path, p, 0) : -1;
    if (rc == 0)
        rc = gen_set_meta(path, 0644, now);
    plist_free(p);
    free(path);
    return rc;
}

static plist_t applications(const device *d, gen_rng *r)
{
    plist_t const apps = plist_new_dict();
    for (size_t i = 0; i < d->napps; i++) {
        char uuid[37];
        gen_uuid(r, uuid);
        char path[160];
        snprintf(path, sizeof path, "/private/var/containers/Bundle/Application/%s/%s.app", uuid,
                 app_names[i]);
        plist_t const a = plist_new_dict();
        plist_dict_set_item(a, "CFBundleIdentifier", plist_new_string(d->bundles[i]));
        plist_dict_set_item(a, "CFBundleVersion", plist_new_string("1.0"));
        plist_dict_set_item(a, "ContainerContentClass", plist_new_string("Data/Application"));
        plist_dict_set_item(a, "Path", plist_new_string(path));
        plist_dict_set_item(apps, d->bundles[i], a);
    }
    return apps;
}

static plist_t lockdown(const device *d)
{
    plist_t const l = plist_new_dict();
    plist_dict_set_item(l, "ProductVersion", plist_new_string(d->ios));
    plist_dict_set_item(l, "ProductType",
                        plist_new_string(d->product->type ? d->product->type : ""));
    plist_dict_set_item(l, "BuildVersion", plist_new_string(d->build));
    plist_dict_set_item(l, "UniqueDeviceID", plist_new_string(d->udid));
    plist_dict_set_item(l, "SerialNumber", plist_new_string(d->serial));
    plist_dict_set_item(l, "DeviceName", plist_new_string(d->name));
    return l;
}

static int write_manifest_plist(const char *dir, const device *d, int64_t now, gen_rng *r,
                                const gen_crypt *crypt)
{
    plist_t const p = plist_new_dict();
    plist_dict_set_item(p, "IsEncrypted", plist_new_bool(0));
    if (crypt)
        gen_crypt_manifest_items(crypt, p);
    plist_dict_set_item(p, "Version", plist_new_string("10.0"));
    plist_dict_set_item(p, "Date", gen_plist_date(now));
    plist_dict_set_item(p, "SystemDomainsVersion", plist_new_string("24.0"));
    plist_dict_set_item(p, "WasPasscodeSet", plist_new_bool(1));
    plist_dict_set_item(p, "Lockdown", lockdown(d));
    plist_dict_set_item(p, "Applications", applications(d, r));
    char *const path = gen_strf("%s/Manifest.plist", dir);
    int rc = path ? gen_write_plist(path, p, 1) : -1;
    if (rc == 0)
        rc = gen_set_meta(path, 0644, now);
    plist_free(p);
    free(path);
    return rc;
}

static void print_tally(const char *dir, const tally *t)
{
    const uint64_t total = t->media + t->db + t->plist;
    const double pct = total ? 100.0 / (double)total : 0;
    printf("%s: %zu files, %zu directories, %zu symlinks; %llu bytes: media %llu (%.1f%%), "
           "sqlite %llu (%.1f%%), plist %llu (%.1f%%)\n",
           dir, t->files, t->dirs, t->links, (unsigned long long)total,
           (unsigned long long)t->media, (double)t->media * pct, (unsigned long long)t->db,
           (double)t->db * pct, (unsigned long long)t->plist, (double)t->plist * pct);
}

int gen_device(const char *dir, const gen_opts *o)
{
    device d;
    plan p = {.now = o->date, .content = o->content, .ios = o->ios};
    tally t = {0};
    gen_crypt *crypt = NULL;
    int rc = -1;
    rng_init(&p.r, o->seed, 0x91a7);
    if (device_init(&d, o))
        goto fail;
    /* keys come from a stream of their own: the plan, and so the plaintext,
     * is the same with and without encryption */
    if (o->encrypt &&
        gen_crypt_create(o->encrypt, (uint32_t)o->kdf_iter, (uint32_t)o->kdf_dpic, o->seed, &crypt))
        goto fail;
    if (gen_make_fresh_dir(dir) || make_plan(&p, &d, o))
        goto fail;
    gen_rng meta;
    rng_init(&meta, o->seed, 0x3e7a);
    if (write_rows(dir, &p, o->seed, o->date, &t, crypt) || write_info(dir, &d, o->date) ||
        write_manifest_plist(dir, &d, o->date, &meta, crypt) ||
        gen_write_status(dir, o->date, &meta) || gen_fix_dir_times(dir, o->date))
        goto fail;
    print_tally(dir, &t);
    rc = 0;
fail:
    gen_crypt_free(crypt);
    plan_free(&p);
    device_free(&d);
    return rc;
}
