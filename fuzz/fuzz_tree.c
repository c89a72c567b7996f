/* fuzz_tree.c - libFuzzer target for the tree decoder.
 *
 * Input: an encoded tree (untrusted bytes from a chunk).  Whatever decodes
 * must satisfy the decoder's promises (single path components, strictly
 * sorted, known types, a target exactly on symlinks, fingerprints only on
 * files and adding up to their size), be found by
 * tree_find, and re-encode to a canonical form that decodes to the same
 * encoding again.  Seeds in fuzz/corpus/tree come from tree_encode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/tree.h"
#include "fuzz/fuzz.h"

static void check(const tree *t)
{
    for (size_t i = 0; i < t->count; i++) {
        const tree_node *const n = &t->nodes[i];
        if (!n->name || !n->name[0] || strchr(n->name, '/') || !strcmp(n->name, ".") ||
            !strcmp(n->name, "..") || strlen(n->name) > TREE_NAME_MAX)
            abort();
        if (i > 0 && strcmp(t->nodes[i - 1].name, n->name) >= 0)
            abort();
        if (n->type < NODE_FILE || n->type > NODE_SYMLINK)
            abort();
        if ((n->type == NODE_SYMLINK) != (n->target != NULL))
            abort();
        if (n->mode > 07777 || n->mtime_nsec >= 1000000000)
            abort();
        if (n->nchunks && !n->chunks)
            abort();
        if (n->fprints && !tree_node_has_fprints(n))
            abort();
        if (tree_find(t, n->name) != n)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tree t, t2;
    cbuf b, b2;
    if (tree_decode(data, size, &t) != CAIRN_OK)
        return 0;
    check(&t);
    cbuf_init(&b);
    cbuf_init(&b2);
    if (tree_encode(&t, &b) != CAIRN_OK || b.len > size)
        abort(); /* canonical varints are never longer */
    if (tree_decode(b.data, b.len, &t2) != CAIRN_OK)
        abort();
    if (t2.count != t.count)
        abort();
    for (size_t i = 0; i < t.count; i++)
        if (!tree_same_chunks(&t.nodes[i], &t2.nodes[i]) ||
            tree_node_has_fprints(&t.nodes[i]) != tree_node_has_fprints(&t2.nodes[i]) ||
            (t.nodes[i].fprints &&
             memcmp(t.nodes[i].fprints, t2.nodes[i].fprints,
                    (size_t)t.nodes[i].nchunks * sizeof *t.nodes[i].fprints) != 0))
            abort();
    if (tree_encode(&t2, &b2) != CAIRN_OK || b2.len != b.len || memcmp(b.data, b2.data, b.len))
        abort();
    tree_free(&t2);
    tree_free(&t);
    cbuf_free(&b);
    cbuf_free(&b2);
    return 0;
}
