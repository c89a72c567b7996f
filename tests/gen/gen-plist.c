/* gen-plist.c - plist files and NSKeyedArchiver MBFile records via libplist. */
#define _XOPEN_SOURCE 700

#include "gen.h"

#include <stdlib.h>
#include <string.h>

int gen_write_plist(const char *path, plist_t p, int binary)
{
    char *data = NULL;
    uint32_t len = 0;
    if (binary)
        plist_to_bin(p, &data, &len);
    else
        plist_to_xml(p, &data, &len);
    if (!data || len == 0)
        return gen_err(path, "cannot encode %s plist", binary ? "binary" : "XML");
    const int rc = gen_write_file(path, data, len);
    if (binary)
        plist_to_bin_free(data);
    else
        plist_to_xml_free(data);
    return rc;
}

int gen_read_plist(const char *path, plist_t *out, int *binary)
{
    char *data = NULL;
    size_t len = 0;
    if (gen_read_file(path, &data, &len))
        return -1;
    int rc = -1;
    if (len > UINT32_MAX) {
        gen_err(path, "plist too large");
        goto fail;
    }
    *out = NULL;
    plist_from_memory(data, (uint32_t)len, out);
    if (!*out) {
        gen_err(path, "not a valid plist");
        goto fail;
    }
    if (binary)
        *binary = plist_is_binary(data, (uint32_t)len);
    rc = 0;
fail:
    free(data);
    return rc;
}

plist_t gen_plist_date(int64_t unix_seconds)
{
    return plist_new_date((int32_t)(unix_seconds - GEN_MAC_EPOCH), 0);
}

/* ---- MBFile archives ---- */

static plist_t mbfile_class(void)
{
    plist_t const cls = plist_new_dict();
    plist_t const classes = plist_new_array();
    plist_array_append_item(classes, plist_new_string("MBFile"));
    plist_array_append_item(classes, plist_new_string("NSObject"));
    plist_dict_set_item(cls, "$classes", classes);
    plist_dict_set_item(cls, "$classname", plist_new_string("MBFile"));
    return cls;
}

/* EncryptionKey is archived as an NSMutableData object: {NS.data, $class}. */
static plist_t nsdata_class(void)
{
    plist_t const cls = plist_new_dict();
    plist_t const classes = plist_new_array();
    plist_array_append_item(classes, plist_new_string("NSMutableData"));
    plist_array_append_item(classes, plist_new_string("NSData"));
    plist_array_append_item(classes, plist_new_string("NSObject"));
    plist_dict_set_item(cls, "$classes", classes);
    plist_dict_set_item(cls, "$classname", plist_new_string("NSMutableData"));
    return cls;
}

/* The MBFile object itself; objects referenced by UID are appended to objs in
 * the order MobileBackup's encodeWithCoder: encodes them. */
static plist_t mbfile_object(const gen_mbfile *f, plist_t objs)
{
    plist_t const d = plist_new_dict();
    /* $objects[0] is "$null" and [1] this dict, so the next object is 2. */
    uint64_t next = 2;
    plist_dict_set_item(d, "RelativePath", plist_new_uid(next++));
    plist_array_append_item(objs, plist_new_string(f->relative_path));
    if (f->target) {
        plist_dict_set_item(d, "Target", plist_new_uid(next++));
        plist_array_append_item(objs, plist_new_string(f->target));
    }
    plist_dict_set_item(d, "Mode", plist_new_uint(f->mode));
    plist_dict_set_item(d, "InodeNumber", plist_new_uint(f->inode));
    plist_dict_set_item(d, "UserID", plist_new_uint(501));
    plist_dict_set_item(d, "GroupID", plist_new_uint(501));
    plist_dict_set_item(d, "LastModified", plist_new_uint((uint64_t)f->mtime));
    plist_dict_set_item(d, "LastStatusChange", plist_new_uint((uint64_t)f->ctime));
    plist_dict_set_item(d, "Birth", plist_new_uint((uint64_t)f->birth));
    plist_dict_set_item(d, "Size", plist_new_uint(f->size));
    plist_dict_set_item(d, "ProtectionClass", plist_new_uint(f->protection_class));
    if (f->xattr_plist) {
        plist_dict_set_item(d, "ExtendedAttributes", plist_new_uid(next++));
        plist_array_append_item(objs, plist_new_data(f->xattr_plist, f->xattr_len));
    }
    if (f->encryption_key) {
        plist_t const key = plist_new_dict();
        plist_dict_set_item(key, "NS.data", plist_new_data((const char *)f->encryption_key, 44));
        plist_dict_set_item(key, "$class", plist_new_uid(next + 1));
        plist_dict_set_item(d, "EncryptionKey", plist_new_uid(next));
        plist_array_append_item(objs, key);
        plist_array_append_item(objs, nsdata_class());
        next += 2;
    }
    plist_dict_set_item(d, "Flags", plist_new_uint(0));
    plist_dict_set_item(d, "$class", plist_new_uid(next));
    return d;
}

int gen_plist_bin(plist_t p, const char *what, char **out, size_t *len)
{
    char *bin = NULL;
    uint32_t n = 0;
    plist_to_bin(p, &bin, &n);
    if (!bin || n == 0)
        return gen_err(what, "cannot encode binary plist");
    *out = malloc(n);
    if (!*out) {
        plist_to_bin_free(bin);
        return gen_err(what, "cannot allocate %u bytes", n);
    }
    memcpy(*out, bin, n);
    *len = n;
    plist_to_bin_free(bin);
    return 0;
}

int gen_mbfile_archive(const gen_mbfile *f, char **out, size_t *len)
{
    plist_t const root = plist_new_dict();
    plist_t const top = plist_new_dict();
    plist_t const objs = plist_new_array();
    plist_dict_set_item(root, "$version", plist_new_uint(100000));
    plist_dict_set_item(root, "$archiver", plist_new_string("NSKeyedArchiver"));
    plist_dict_set_item(top, "root", plist_new_uid(1));
    plist_dict_set_item(root, "$top", top);
    plist_array_append_item(objs, plist_new_string("$null"));
    /* The objects the MBFile references are appended first; the MBFile dict
     * then goes in before them, at the index 1 its UIDs assume. */
    plist_t const obj = mbfile_object(f, objs);
    plist_array_insert_item(objs, obj, 1);
    plist_array_append_item(objs, mbfile_class());
    plist_dict_set_item(root, "$objects", objs);
    const int rc = gen_plist_bin(root, f->relative_path, out, len);
    plist_free(root);
    return rc;
}

/* The MBFile dict named by $top.root, found through UIDs. */
static plist_t archive_root_object(plist_t archive)
{
    plist_t const top = plist_dict_get_item(archive, "$top");
    plist_t const objs = plist_dict_get_item(archive, "$objects");
    if (!top || !objs || plist_get_node_type(objs) != PLIST_ARRAY)
        return NULL;
    plist_t const uid = plist_dict_get_item(top, "root");
    if (!uid || plist_get_node_type(uid) != PLIST_UID)
        return NULL;
    uint64_t idx = 0;
    plist_get_uid_val(uid, &idx);
    if (idx >= plist_array_get_size(objs))
        return NULL;
    plist_t const obj = plist_array_get_item(objs, (uint32_t)idx);
    return plist_get_node_type(obj) == PLIST_DICT ? obj : NULL;
}

int gen_mbfile_update(const void *in, size_t in_len, uint64_t size, int64_t mtime, char **out,
                      size_t *out_len)
{
    plist_t archive = NULL;
    if (in_len > UINT32_MAX)
        return gen_err("Manifest.db", "file record too large");
    plist_from_memory(in, (uint32_t)in_len, &archive);
    if (!archive)
        return gen_err("Manifest.db", "file record is not a plist");
    int rc = -1;
    plist_t const obj = archive_root_object(archive);
    if (!obj) {
        gen_err("Manifest.db", "file record has no MBFile root object");
        goto fail;
    }
    plist_dict_set_item(obj, "Size", plist_new_uint(size));
    plist_dict_set_item(obj, "LastModified", plist_new_uint((uint64_t)mtime));
    plist_dict_set_item(obj, "LastStatusChange", plist_new_uint((uint64_t)mtime));
    rc = gen_plist_bin(archive, "Manifest.db", out, out_len);
fail:
    plist_free(archive);
    return rc;
}

/* The object a UID names, or the node itself when it is not a UID. */
static plist_t deref(plist_t archive, plist_t node)
{
    if (!node || plist_get_node_type(node) != PLIST_UID)
        return node;
    plist_t const objs = plist_dict_get_item(archive, "$objects");
    uint64_t idx = 0;
    plist_get_uid_val(node, &idx);
    if (!objs || idx >= plist_array_get_size(objs))
        return NULL;
    return plist_array_get_item(objs, (uint32_t)idx);
}

static uint64_t uint_item(plist_t dict, const char *key)
{
    plist_t const v = plist_dict_get_item(dict, key);
    uint64_t n = 0;
    if (v && plist_get_node_type(v) == PLIST_UINT)
        plist_get_uint_val(v, &n);
    return n;
}

void gen_mbfile_info_clear(gen_mbfile_info *info)
{
    free(info->target);
    memset(info, 0, sizeof *info);
}

int gen_mbfile_read(const void *in, size_t in_len, gen_mbfile_info *out)
{
    memset(out, 0, sizeof *out);
    plist_t archive = NULL;
    if (!in || in_len > UINT32_MAX)
        return gen_err("Manifest.db", "missing or oversized file record");
    plist_from_memory(in, (uint32_t)in_len, &archive);
    if (!archive)
        return gen_err("Manifest.db", "file record is not a plist");
    int rc = -1;
    plist_t const obj = archive_root_object(archive);
    if (!obj) {
        gen_err("Manifest.db", "file record has no MBFile root object");
        goto fail;
    }
    out->size = uint_item(obj, "Size");
    out->mtime = (int64_t)uint_item(obj, "LastModified");
    out->protection_class = (unsigned)uint_item(obj, "ProtectionClass");
    plist_t const target = deref(archive, plist_dict_get_item(obj, "Target"));
    if (target && plist_get_node_type(target) == PLIST_STRING)
        plist_get_string_val(target, &out->target);
    plist_t key = deref(archive, plist_dict_get_item(obj, "EncryptionKey"));
    if (key && plist_get_node_type(key) == PLIST_DICT)
        key = plist_dict_get_item(key, "NS.data");
    if (key) {
        char *data = NULL;
        uint64_t n = 0;
        if (plist_get_node_type(key) == PLIST_DATA)
            plist_get_data_val(key, &data, &n);
        if (!data || n != sizeof out->key) {
            free(data);
            gen_err("Manifest.db", "EncryptionKey of %s is not %zu bytes of data",
                    out->target ? out->target : "a file", sizeof out->key);
            goto fail;
        }
        memcpy(out->key, data, sizeof out->key);
        out->has_key = 1;
        free(data);
    }
    rc = 0;
fail:
    if (rc)
        gen_mbfile_info_clear(out);
    plist_free(archive);
    return rc;
}

/* ---- preferences-style plists ---- */

static char *pref_key(gen_rng *r)
{
    static const char *const suffixes[] = {"Enabled",    "Count", "Date", "Version",
                                           "Identifier", "State", "Mode", "Level"};
    gen_buf b = {0};
    const unsigned n = (unsigned)rng_range(r, 1, 3);
    for (unsigned i = 0; i < n; i++) {
        const char *const w = gen_word(r);
        const char c = (char)(w[0] >= 'a' && w[0] <= 'z' ? w[0] - 32 : w[0]);
        if (buf_put(&b, &c, 1) || buf_put(&b, w + 1, strlen(w + 1)))
            goto fail;
    }
    const char *const s = suffixes[rng_below(r, sizeof suffixes / sizeof suffixes[0])];
    if (buf_put(&b, s, strlen(s)))
        goto fail;
    return b.data;
fail:
    buf_free(&b);
    return NULL;
}

static plist_t string_array(gen_rng *r, unsigned n)
{
    plist_t const a = plist_new_array();
    for (unsigned i = 0; i < n; i++)
        plist_array_append_item(a, plist_new_string(gen_word(r)));
    return a;
}

/* One value; *cost estimates its encoded size so files land near a target. */
static plist_t pref_value(gen_rng *r, int64_t now, size_t *cost)
{
    unsigned char blob[64];
    gen_buf b = {0};
    plist_t v = NULL;
    switch (rng_below(r, 8)) {
    case 0:
        *cost = 2;
        return plist_new_bool(rng_chance(r, 1, 2) ? 1 : 0);
    case 1:
        *cost = 4;
        return plist_new_uint(rng_below(r, 100000));
    case 2:
        *cost = 9;
        return plist_new_real((double)rng_below(r, 1000) / 8.0);
    case 3:
        *cost = 9;
        return gen_plist_date(now - (int64_t)rng_below(r, 400 * GEN_DAY));
    case 4: {
        const size_t n = 16 + (size_t)rng_below(r, sizeof blob - 16);
        rng_fill(r, blob, n);
        *cost = n + 2;
        return plist_new_data((const char *)blob, n);
    }
    case 5: {
        const unsigned n = (unsigned)rng_range(r, 2, 8);
        *cost = 8u * n;
        return string_array(r, n);
    }
    default:
        if (gen_sentence(r, &b, (unsigned)rng_range(r, 2, 12)))
            return NULL;
        *cost = b.len + 2;
        v = plist_new_string(b.data);
        buf_free(&b);
        return v;
    }
}

int gen_prefs_plist(const char *path, gen_rng *r, size_t approx, int binary, int64_t now)
{
    plist_t const root = plist_new_dict();
    int rc = -1;
    size_t size = 40;
    while (size < approx) {
        char *const key = pref_key(r);
        size_t cost = 0;
        plist_t const v = key ? pref_value(r, now, &cost) : NULL;
        if (!v) {
            free(key);
            gen_err(path, "cannot build plist value");
            goto fail;
        }
        size += strlen(key) + cost + 4;
        plist_dict_set_item(root, key, v);
        free(key);
    }
    rc = gen_write_plist(path, root, binary);
fail:
    plist_free(root);
    return rc;
}

/* Alters one value the way an app updating its settings would. */
static void touch_value(plist_t v, gen_rng *r)
{
    uint8_t bval = 0;
    uint64_t uval = 0;
    double dval = 0;
    switch (plist_get_node_type(v)) {
    case PLIST_BOOLEAN:
        plist_get_bool_val(v, &bval);
        plist_set_bool_val(v, !bval);
        break;
    case PLIST_UINT:
        plist_get_uint_val(v, &uval);
        plist_set_uint_val(v, uval + 1 + rng_below(r, 50));
        break;
    case PLIST_REAL:
        plist_get_real_val(v, &dval);
        plist_set_real_val(v, dval + 0.5);
        break;
    case PLIST_STRING:
        plist_set_string_val(v, gen_word(r));
        break;
    default:
        break;
    }
}

static int encode_like(plist_t p, int binary, char **data, uint32_t *len)
{
    *data = NULL;
    *len = 0;
    if (binary)
        plist_to_bin(p, data, len);
    else
        plist_to_xml(p, data, len);
    return *data && *len ? 0 : -1;
}

static void free_encoded(char *data, int binary)
{
    if (binary)
        plist_to_bin_free(data);
    else
        plist_to_xml_free(data);
}

int gen_prefs_touch(const char *path, gen_rng *r, int64_t now, int *changed)
{
    char *old = NULL;
    size_t old_len = 0;
    char *enc = NULL;
    uint32_t enc_len = 0;
    plist_t root = NULL;
    int binary = 0;
    int rc = -1;
    *changed = 0;
    if (gen_read_file(path, &old, &old_len) || gen_read_plist(path, &root, &binary))
        goto fail;
    if (plist_get_node_type(root) != PLIST_DICT) {
        gen_err(path, "plist root is not a dictionary");
        goto fail;
    }
    const uint32_t n = plist_dict_get_size(root);
    plist_dict_iter it = NULL;
    plist_dict_new_iter(root, &it);
    for (uint32_t i = 0; it && i < n; i++) {
        char *key = NULL;
        plist_t v = NULL;
        plist_dict_next_item(root, it, &key, &v);
        if (v && rng_chance(r, 1, 4))
            touch_value(v, r);
        free(key);
    }
    free(it);
    plist_dict_set_item(root, "LastUpdate", gen_plist_date(now));
    if (encode_like(root, binary, &enc, &enc_len)) {
        gen_err(path, "cannot encode plist");
        goto fail;
    }
    *changed = enc_len != old_len || memcmp(enc, old, old_len) != 0;
    rc = *changed ? gen_write_file(path, enc, enc_len) : 0;
fail:
    if (enc)
        free_encoded(enc, binary);
    plist_free(root);
    free(old);
    return rc;
}
