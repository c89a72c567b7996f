/* layout.h - the names of the objects in a store, built and parsed here only.
 *
 * Every copy of a store (the local folder, a folder target, SFTP, S3) holds
 * the same objects under the same relative names, so the names are the
 * store's format (docs/FORMAT.md):
 *   config            format version (plain) + sealed store parameters
 *   keys/<16 hex>     key files
 *   packs/xx/<64 hex> pack files; xx is the first two digits of the ID
 *   snapshots/<64 hex> sealed snapshot objects
 *   chains/<64 hex>   sealed chain records
 * and, local to one folder and never copied: tmp/, index/, lock*, damaged/
 * and the targets file (engine/core/copy_targets.h).
 *
 * Promises: a built name always parses back to its kind and ID; the parser
 * accepts exactly the names the builders produce (lowercase hex of the exact
 * length, nothing after it, the pack folder matching the pack's ID) and
 * calls everything else STORE_OBJ_UNKNOWN, so a foreign or misplaced file is
 * never taken for an object. */
#ifndef CAIRN_STORE_LAYOUT_H
#define CAIRN_STORE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "store/keys.h"
#include "store/pack.h"
#include "store/seal.h"

/* The folders and plain names of a store, relative to its root. */
#define STORE_NAME_CONFIG "config"
#define STORE_DIR_KEYS "keys"
#define STORE_DIR_PACKS "packs"
#define STORE_DIR_SNAPSHOTS "snapshots"
#define STORE_DIR_CHAINS "chains"
#define STORE_DIR_TMP "tmp"
#define STORE_DIR_INDEX "index"
#define STORE_DIR_DAMAGED "damaged"
/* The writer lock and every other lock file start with this. */
#define STORE_NAME_LOCK "lock"
#define STORE_NAME_TARGETS "targets"

typedef enum store_object_kind {
    STORE_OBJ_UNKNOWN, /* not an object: ignore it */
    STORE_OBJ_CONFIG,
    STORE_OBJ_KEY,
    STORE_OBJ_PACK,
    STORE_OBJ_SNAPSHOT,
    STORE_OBJ_CHAIN,
} store_object_kind;

enum {
    /* room for any object name with its NUL ("snapshots/" + 64 hex) */
    STORE_NAME_MAX = 80,
};

void store_name_pack(const uint8_t id[PACK_ID_LEN], char out[STORE_NAME_MAX]);
void store_name_snapshot(const uint8_t id[ID_LEN], char out[STORE_NAME_MAX]);
void store_name_chain(const uint8_t id[ID_LEN], char out[STORE_NAME_MAX]);
/* key_id is a key file's ID as keys_list reports it (KEYS_ID_HEX lowercase
 * hex digits); CAIRN_EINVAL for anything else. */
cairn_err store_name_key(const char *key_id, char out[STORE_NAME_MAX]);

/* Classifies a relative object name.  For a pack, snapshot or chain, id
 * (may be NULL) receives its ID; for a key file, its KEYS_ID_HEX / 2 bytes
 * followed by zeros. */
store_object_kind store_name_parse(const char *name, uint8_t id[ID_LEN]);

/* What a listing (backend_list) of objects of kind starts with:
 * "packs/", "snapshots/", "chains/", "keys/" or "config"; NULL for
 * STORE_OBJ_UNKNOWN. */
const char *store_name_prefix(store_object_kind kind);

/* store_dir/name, for an object name or one of the folders above
 * (CAIRN_EINVAL if it does not fit in cap). */
cairn_err store_object_path(const char *store_dir, const char *name, char *out, size_t cap);

#endif
