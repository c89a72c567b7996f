/* chains.h - the state of snapshot chains.  A chain is the line of
 * snapshots of one source: a folder path, or a device and its backup
 * encryption identity.  When a device's backup password changes (or
 * encryption is turned on or off) its current chain is archived: kept
 * read-only, never pruned by policy, still listable, diffable and
 * restorable; a new chain starts.
 *
 * A chain's record also holds its pins: snapshots that forget keeps,
 * whatever the policy, until they are unpinned (cairn pin / unpin; the
 * deletion alarm pins the snapshot before a loss).  Keeping them in the
 * chain record, which copy re-sends when its bytes change, takes them to
 * every copy target with the snapshots. */
#ifndef CAIRN_CHAINS_H
#define CAIRN_CHAINS_H

#include "store/store.h"
#include "engine/core/snapshot_list.h"

typedef struct chain_pin {
    uint8_t snapshot[ID_LEN];
    int64_t at; /* Unix seconds */
    char *reason;
} chain_pin;

typedef struct chain_record {
    char *name;
    int archived;
    int64_t archived_at;
    char *reason;
    size_t npins;
    chain_pin *pins;
} chain_record;

typedef struct chain_list {
    chain_record *items;
    size_t count;
} chain_list;

cairn_err chains_load(store *s, chain_list *out);
void chains_free(chain_list *l);
int chains_is_archived(const chain_list *l, const char *name);

/* Marks a chain archived, with the reason shown in 'cairn chains'. */
cairn_err chains_archive(store *s, const char *name, const char *reason);
/* Drops a chain's record (after its snapshots were deleted). */
cairn_err chains_drop(store *s, const char *name);

/* Before a device backup: if the device's newest snapshot belongs to
 * another, still active chain, that chain is archived, *archived receives
 * its name (malloc'd; NULL when nothing changed) and reason why. */
cairn_err chains_rotate(store *s, const snaplist *snaps, const chain_list *chains, const char *udid,
                        const char *new_chain, char **archived, char *reason, size_t cap);

/* Pins snapshot id of chain (a pin already there keeps its reason);
 * *added says whether it was new. */
cairn_err chains_pin(store *s, const char *chain, const uint8_t id[ID_LEN], const char *reason,
                     int *added);
/* Removes the pin; CAIRN_ENOTFOUND when the snapshot is not pinned. */
cairn_err chains_unpin(store *s, const char *chain, const uint8_t id[ID_LEN]);
/* Why snapshot id of chain is pinned, or NULL when it is not. */
const char *chains_pinned(const chain_list *l, const char *chain, const uint8_t id[ID_LEN]);
void chain_record_free(chain_record *r);

/* Resolves a user's chain argument: a full name or a unique prefix. */
cairn_err chains_resolve(const snaplist *snaps, const char *arg, const char **name);

/* Whether the record chains/<id> opens, decodes and names a chain whose
 * ID is id: CAIRN_ECORRUPT naming the record if not.  With out, the record
 * is returned (chain_record_free it). */
cairn_err chains_verify(store *s, const uint8_t id[ID_LEN], chain_record *out);
/* The same for a record's plaintext (one fetched from a copy target). */
cairn_err chains_verify_plain(store *s, const uint8_t id[ID_LEN], const uint8_t *plain, size_t len,
                              chain_record *out);
/* Calls fn for each chain record chains_verify rejects, with err_msg()
 * saying why; running out of memory, or fn's error, ends the walk. */
cairn_err chains_each_damaged(store *s, cairn_err (*fn)(void *ctx, const uint8_t id[ID_LEN]),
                              void *ctx);
/* Rewrites a chain record (repair: one rebuilt from the snapshots). */
cairn_err chains_put(store *s, const chain_record *r);

cairn_err chain_record_encode(const chain_record *r, cbuf *out);
cairn_err chain_record_decode(const uint8_t *data, size_t len, chain_record *out);

#endif
