/* copy_targets.h - the copy targets of a store (3-2-1: an external drive, a NAS,
 * a bucket) and what is known of each: the last good copy, the last failed
 * one, the last check, and the snapshots the target held after its last
 * good copy.
 *
 * They live in the file "targets" of the store folder (docs/FORMAT.md): a
 * small text file, local to this machine, written atomically (0600) and
 * never copied to a target.  Changes go through targets_update(), which
 * holds lock.targets around read-modify-write so that a copy finishing and
 * a "target add" at the same moment both land. */
#ifndef CAIRN_TARGETS_H
#define CAIRN_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "store/seal.h"

enum { TARGET_NAME_MAX = 64 };

typedef struct target {
    char *name;
    char *url;
    char media[8]; /* "disk", "nas" or "cloud" */
    int offsite;
    int append_only; /* copy never deletes or overwrites anything there */
    int64_t added;
    /* last successful copy (copy_time 0: never) */
    int64_t copy_time;
    uint64_t copy_objects;
    uint64_t copy_bytes;
    /* last failed copy, kept only while it is newer than the last good one */
    int64_t fail_time;
    char *fail_msg;
    /* last check: "ok", "damaged" or "failed" (check_time 0: never) */
    int64_t check_time;
    char check_result[12];
    /* snapshots the target held after its last successful copy */
    uint8_t (*held)[ID_LEN];
    size_t nheld;
} target;

typedef struct target_list {
    target *items;
    size_t count;
} target_list;

/* Target names: [A-Za-z0-9_.-]+, at most TARGET_NAME_MAX bytes. */
int targets_valid_name(const char *name);

/* The media kind a URL suggests: a folder is a disk, sftp a nas, s3 the
 * cloud. */
const char *targets_default_media(const char *url);

/* CAIRN_EINVAL unless media is disk, nas or cloud. */
cairn_err targets_check_media(const char *media);

/* Loads the list (empty when the file does not exist); CAIRN_ECORRUPT
 * naming the line for a malformed file. */
cairn_err targets_load(const char *store_dir, target_list *out);
void targets_free(target_list *l);

target *targets_find(const target_list *l, const char *name);

/* Read-modify-write under lock.targets: loads, calls fn, saves when fn
 * returns CAIRN_OK. */
typedef cairn_err (*targets_edit_fn)(void *ctx, target_list *l);
cairn_err targets_update(const char *store_dir, targets_edit_fn fn, void *ctx);

/* Edits for targets_update's callbacks. */
cairn_err targets_add(target_list *l, const char *name, const char *url, const char *media,
                      int offsite);
cairn_err targets_remove(target_list *l, const char *name);
/* Records a successful copy: time, counts, and the snapshots now held. */
cairn_err targets_set_copied(target *t, int64_t when, uint64_t objects, uint64_t bytes,
                             const uint8_t (*held)[ID_LEN], size_t nheld);
cairn_err targets_set_failed(target *t, int64_t when, const char *msg);
void targets_set_checked(target *t, int64_t when, const char *result);

/* The 3-2-1 rule over the store and its targets. */
typedef struct target_state {
    const target *t;
    int current; /* holds every snapshot the store has now */
    int counts;  /* current, and its last check did not find damage */
    size_t nmissing;
    uint8_t (*missing)[ID_LEN]; /* snapshots of the store the target lacks */
} target_state;

typedef struct rule321 {
    target_state *targets; /* one per target, in list order */
    size_t count;
    unsigned copies;      /* the store itself plus every target that counts */
    unsigned media_kinds; /* distinct kinds among the store (disk) and those targets */
    int media[3];         /* disk, nas, cloud present */
    unsigned offsite;     /* counting targets marked offsite */
    int met;
} rule321;

/* The store's snapshots are snaps[0..nsnaps). */
cairn_err targets_rule321(const target_list *l, const uint8_t (*snaps)[ID_LEN], size_t nsnaps,
                          rule321 *out);
void targets_rule321_free(rule321 *r);

/* What the rule lacks, as text ("need 1 more copy, a second kind of
 * media"), or "" when it is met. */
void targets_rule321_needs(const rule321 *r, char *out, size_t cap);

#endif
