/* tree.h - one directory of a snapshot: its entries, sorted by name, each
 * with metadata and the chunk IDs of its content (files) or of its own
 * encoded tree (subdirectories).  A tree is itself stored as chunks, so an
 * unchanged directory has the same IDs in every snapshot and diff, check
 * and prune skip it by comparing IDs. */
#ifndef CAIRN_TREE_H
#define CAIRN_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "util/codec.h"
#include "util/err.h"
#include "store/seal.h"

enum node_type { NODE_FILE = 1, NODE_DIR = 2, NODE_SYMLINK = 3 };

enum { TREE_NAME_MAX = 4096, TREE_DIGEST_LEN = 16, TREE_CIPHER_KEY_LEN = 44 };

/* How the source stored a file that cairn keeps as plaintext: AES-256-CBC
 * under the key that cipher_key wraps (an iOS EncryptionKey or ManifestKey),
 * with PKCS#7 padding when TREE_CIPHER_PADDED is set (see engine/ios/backup_encryption.h). */
enum { TREE_CIPHER_CBC = 1, TREE_CIPHER_PADDED = 2 };

/* What a file's chunk was when it was stored: its plaintext length and a
 * keyed XXH3-128 of its bytes (the store's file secret, like digest).  The
 * next backup gives a chunk cut at the same offset with the same length and
 * fingerprint the same ID without hashing or storing it again.  Kept only
 * inside sealed trees, never in the local index. */
typedef struct tree_fprint {
    uint32_t len;
    uint8_t hash[TREE_DIGEST_LEN];
} tree_fprint;

typedef struct tree_node {
    char *name;
    uint8_t type;
    uint32_t mode; /* permission bits (07777) */
    int64_t mtime_sec;
    uint32_t mtime_nsec;
    uint64_t size;  /* content bytes (files) */
    uint64_t inode; /* for change detection only */
    uint32_t uid;
    uint32_t gid;
    char *target; /* symlinks */
    int has_digest;
    uint8_t digest[TREE_DIGEST_LEN]; /* keyed XXH3-128 of the content */
    uint8_t cipher;                  /* TREE_CIPHER_* flags, 0: stored as it was */
    uint8_t cipher_key[TREE_CIPHER_KEY_LEN];
    uint32_t nchunks;
    uint32_t cap_chunks;
    uint8_t (*chunks)[ID_LEN];
    /* files: NULL, or one per chunk (room for cap_chunks); stored only
     * when they add up to size (tree_node_has_fprints) */
    tree_fprint *fprints;
} tree_node;

typedef struct tree {
    tree_node *nodes;
    size_t count;
    size_t cap;
} tree;

void tree_init(tree *t);
void tree_free(tree *t);
void tree_node_free(tree_node *n);

/* Appends a zeroed node and returns it (NULL on ENOMEM). */
tree_node *tree_add(tree *t);

/* Sorts by name (bytewise), the order the encoding requires. */
void tree_sort(tree *t);

/* Whether the names are strictly increasing (bytewise): sorted and none
 * twice, as tree_decode demands (for asserts on trees about to be stored). */
int tree_sorted(const tree *t);

/* A deep copy of src's chunk list and fingerprints into out (whose own
 * pointers are overwritten, not freed): nchunks and cap_chunks are set. */
cairn_err tree_node_copy_chunks(tree_node *out, const tree_node *src);

/* Whether n is a file whose fingerprints describe all its chunks (their
 * lengths add up to size). */
int tree_node_has_fprints(const tree_node *n);

/* A walk along a file node's fingerprints in offset order (n NULL: no
 * node, nothing matches).  tree_fprint_match gives the ID of n's chunk that
 * starts at off with fp's length and hash, or NULL; off must not decrease
 * from one call to the next. */
typedef struct tree_fprint_cursor {
    const tree_node *n;
    uint32_t k;  /* n's first chunk not before the last off */
    uint64_t at; /* where chunk k starts */
} tree_fprint_cursor;
const uint8_t *tree_fprint_match(tree_fprint_cursor *c, uint64_t off, const tree_fprint *fp);
/* The length of n's chunk that starts at off when a content-defined cut of
 * the same bytes would end where it ends, so that matching its fingerprint
 * can stand in for the chunker's scan; else 0.  That is any chunk but n's
 * last (it ended where its content or the maximum size said: the same
 * bytes say the same), and the last only when the bytes at hand end exactly
 * where it ends (avail bytes from off, eof: no more follow), as the file
 * did then.  The same cursor rule as tree_fprint_match. */
uint32_t tree_fprint_expect(tree_fprint_cursor *c, uint64_t off, size_t avail, int eof);

/* Version 1, or 2 when a node carries fingerprints (docs/FORMAT.md). */
cairn_err tree_encode(const tree *t, cbuf *out);

/* Strict decoder for untrusted bytes (versions 1 and 2): names must be
 * valid single path components in strictly increasing order; fingerprints
 * belong to files and add up to their size. */
cairn_err tree_decode(const uint8_t *data, size_t len, tree *out);

/* Binary search by name; NULL if absent. */
const tree_node *tree_find(const tree *t, const char *name);

/* The size of a file node as the source had it: the ciphertext size for
 * files the source stored encrypted, else size. */
uint64_t tree_source_size(const tree_node *n);

/* Whether two chunk lists are equal (same subtree or same content); the
 * IDs only, never the fingerprints. */
int tree_same_chunks(const tree_node *a, const tree_node *b);

#endif
