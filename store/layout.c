#include "store/layout.h"

#include <stdio.h>
#include <string.h>

#include "util/fsutil.h"
#include "store/store.h"

_Static_assert((int)SNAPSHOT_ID_LEN == (int)ID_LEN && (int)PACK_ID_LEN == (int)ID_LEN,
               "object names carry IDs of one length");
_Static_assert(sizeof STORE_DIR_SNAPSHOTS "/" + 2 * ID_LEN <= STORE_NAME_MAX,
               "STORE_NAME_MAX holds every object name");

enum { HEX_ID = 2 * ID_LEN, KEY_ID_LEN = KEYS_ID_HEX / 2 };

static void name_with_id(const char *dir, const uint8_t id[ID_LEN], char out[STORE_NAME_MAX])
{
    char hex[HEX_ID + 1];
    fs_hex(id, ID_LEN, hex);
    snprintf(out, STORE_NAME_MAX, "%s/%s", dir, hex);
}

void store_name_pack(const uint8_t id[PACK_ID_LEN], char out[STORE_NAME_MAX])
{
    char hex[HEX_ID + 1];
    fs_hex(id, PACK_ID_LEN, hex);
    snprintf(out, STORE_NAME_MAX, STORE_DIR_PACKS "/%.2s/%s", hex, hex);
}

void store_name_snapshot(const uint8_t id[ID_LEN], char out[STORE_NAME_MAX])
{
    name_with_id(STORE_DIR_SNAPSHOTS, id, out);
}

void store_name_chain(const uint8_t id[ID_LEN], char out[STORE_NAME_MAX])
{
    name_with_id(STORE_DIR_CHAINS, id, out);
}

/* Exactly n lowercase hex digits and nothing after them: the only form the
 * builders write (fs_hex), so an uppercase twin is a foreign file. */
static int is_hex(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

cairn_err store_name_key(const char *key_id, char out[STORE_NAME_MAX])
{
    if (!is_hex(key_id, KEYS_ID_HEX))
        return err_set(CAIRN_EINVAL, "%.40s: not a key file ID", key_id);
    snprintf(out, STORE_NAME_MAX, STORE_DIR_KEYS "/%s", key_id);
    return CAIRN_OK;
}

/* The part of name after "dir/", or NULL if name is not in dir. */
static const char *in_dir(const char *name, const char *dir)
{
    const size_t n = strlen(dir);
    return strncmp(name, dir, n) == 0 && name[n] == '/' ? name + n + 1 : NULL;
}

store_object_kind store_name_parse(const char *name, uint8_t id[ID_LEN])
{
    uint8_t scratch[ID_LEN];
    uint8_t *const out = id ? id : scratch;
    const char *rest;
    memset(out, 0, ID_LEN);
    if (strcmp(name, STORE_NAME_CONFIG) == 0)
        return STORE_OBJ_CONFIG;
    if ((rest = in_dir(name, STORE_DIR_KEYS)) != NULL) {
        if (!is_hex(rest, KEYS_ID_HEX))
            return STORE_OBJ_UNKNOWN;
        fs_unhex(rest, out, KEY_ID_LEN);
        return STORE_OBJ_KEY;
    }
    store_object_kind kind = STORE_OBJ_UNKNOWN;
    if ((rest = in_dir(name, STORE_DIR_SNAPSHOTS)) != NULL) {
        kind = STORE_OBJ_SNAPSHOT;
    } else if ((rest = in_dir(name, STORE_DIR_CHAINS)) != NULL) {
        kind = STORE_OBJ_CHAIN;
    } else if ((rest = in_dir(name, STORE_DIR_PACKS)) != NULL) {
        /* xx/<id>: a pack is read at the folder its ID names, so one filed
         * elsewhere is not that pack */
        if (strlen(rest) != 3 + HEX_ID || rest[2] != '/' || rest[0] != rest[3] ||
            rest[1] != rest[4])
            return STORE_OBJ_UNKNOWN;
        rest += 3;
        kind = STORE_OBJ_PACK;
    }
    if (kind == STORE_OBJ_UNKNOWN || !is_hex(rest, HEX_ID))
        return STORE_OBJ_UNKNOWN;
    fs_unhex(rest, out, ID_LEN);
    return kind;
}

const char *store_name_prefix(store_object_kind kind)
{
    switch (kind) {
    case STORE_OBJ_CONFIG:
        return STORE_NAME_CONFIG;
    case STORE_OBJ_KEY:
        return STORE_DIR_KEYS "/";
    case STORE_OBJ_PACK:
        return STORE_DIR_PACKS "/";
    case STORE_OBJ_SNAPSHOT:
        return STORE_DIR_SNAPSHOTS "/";
    case STORE_OBJ_CHAIN:
        return STORE_DIR_CHAINS "/";
    case STORE_OBJ_UNKNOWN:
        break;
    }
    return NULL;
}

cairn_err store_object_path(const char *store_dir, const char *name, char *out, size_t cap)
{
    const int n = snprintf(out, cap, "%s/%s", store_dir, name);
    if (n < 0 || (size_t)n >= cap)
        return err_set(CAIRN_EINVAL, "%s/%s: path too long", store_dir, name);
    return CAIRN_OK;
}
