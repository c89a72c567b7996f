/* snapshot.h - what one backup recorded: when, from where, in which chain,
 * its root tree, what it added, and free-form metadata (device details). */
#ifndef CAIRN_SNAPSHOT_H
#define CAIRN_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "util/codec.h"
#include "util/err.h"
#include "store/seal.h"

enum snapshot_flags {
    SNAP_PARTIAL = 1,    /* some source files could not be read */
    SNAP_INCOMPLETE = 2, /* the source itself was incomplete (stored on request) */
    SNAP_REPAIRED = 4,   /* rewritten by repair without data that was lost */
};

typedef struct snapshot_meta {
    char *key;
    char *value;
} snapshot_meta;

typedef struct snapshot {
    uint8_t id[ID_LEN]; /* filled in when stored or loaded, not encoded */
    int64_t time_sec;
    uint32_t time_nsec;
    char *hostname;
    char *source; /* absolute path backed up */
    char *chain;  /* e.g. "path:/abs/source" or "device:<udid>" */
    int has_parent;
    uint8_t parent[ID_LEN];
    uint32_t flags;
    uint32_t ntree;
    uint8_t (*tree)[ID_LEN]; /* chunks of the root tree */
    uint32_t ncatalog;
    uint8_t (*catalog)[ID_LEN]; /* device backups: chunks of the file catalog */
    /* statistics */
    uint64_t files;
    uint64_t dirs;
    uint64_t bytes;      /* logical size of all file contents */
    uint64_t new_chunks; /* chunks this backup added to the store */
    uint64_t new_bytes;  /* bytes those chunks take in packs */
    uint64_t new_raw;    /* their size before compression */
    uint64_t errors;     /* source items that could not be read */
    size_t nmeta;
    snapshot_meta *meta;
} snapshot;

void snapshot_free(snapshot *s);
/* Frees an array of n metadata pairs and their strings. */
void snapshot_meta_free(snapshot_meta *meta, size_t n);

cairn_err snapshot_encode(const snapshot *s, cbuf *out);
cairn_err snapshot_decode(const uint8_t *data, size_t len, snapshot *out);

/* Adds a copy of key=value to the metadata. */
cairn_err snapshot_set_meta(snapshot *s, const char *key, const char *value);
/* The value for key, or NULL. */
const char *snapshot_get_meta(const snapshot *s, const char *key);

#endif
