#include "engine/core/repair.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "store/backend/backend.h"
#include "util/fsutil.h"
#include "util/grow.h"
#include "util/idset.h"
#include "store/keys.h"
#include "engine/core/catalog.h"
#include "engine/core/chains.h"
#include "engine/core/check.h"
#include "engine/core/chunker.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree.h"
#include "engine/core/tree_store.h"
#include "engine/core/tree_walk.h"

/* A repaired snapshot names what it lost in its metadata; past this many
 * bytes the list ends with a count (a snapshot string holds 64 KiB). */
enum { LOST_LIST_MAX = 60000, HEX_ID = 2 * ID_LEN };

/* A pack that failed verification. */
typedef struct rp_pack {
    uint8_t id[PACK_ID_LEN];
    pack_entry *entries; /* NULL: its trailer does not open */
    size_t count;
    size_t nbad;
    idset bad; /* its damaged chunks */
    int healed;
} rp_pack;

/* A pack the target has and the store does not. */
typedef struct rp_cand {
    uint8_t id[PACK_ID_LEN];
    int tried;
    int installed;
    uint8_t (*ids)[ID_LEN]; /* its chunks, once fetched and verified */
    size_t nids;
} rp_cand;

typedef struct rp_object {
    uint8_t id[ID_LEN];
    int healed;
} rp_object;

typedef struct rp_key {
    char id[KEYS_ID_HEX + 1];
    int healed;
} rp_key;

/* A snapshot to be replaced by its repaired version. */
typedef struct rp_repl {
    snapshot nw; /* the repaired snapshot; its id once written */
    uint8_t old[ID_LEN];
    uint64_t files, folders;
    int catalog_lost;
} rp_repl;

typedef struct rp_ctx {
    store *s;
    const repair_opts *o;
    repair_result *r;
    store_worker *w;
    chunker ck;
    backend *src;
    char keys_dir[PATH_MAX];
    idset local_packs;
    idset good;       /* chunks whole in some pack */
    idset bad_chunks; /* chunks found damaged (for the reason given) */
    rp_pack *packs;
    size_t npacks, cappacks;
    rp_object *objects;
    size_t nobjects, capobjects;
    rp_key *keys;
    size_t nkeys, capkeys;
    rp_cand *cands;
    size_t ncands, capcands;
    uint8_t (*chains)[ID_LEN]; /* damaged chain records */
    size_t nchains, capchains;
    /* one walk over every snapshot */
    int final;        /* lost = not indexed (after salvage), and trees are rewritten */
    int loud;         /* report and count what snapshots lose */
    idset missing;    /* chunks snapshots need that are lost */
    idset salvage_ok; /* whole where the index places them, in packs whose trailer is damaged */
    uint8_t (*salvage)[ID_LEN];
    size_t nsalvage, capsalvage;
    rp_repl *repl;
    size_t nrepl, caprepl;
    const snaplist *snaps; /* the snapshots of the walk under way */
    /* it skips the subtrees it saw without loss */
    tree_walk *walker;
    struct rp_snap *cur; /* the snapshot it walks */
    cairn_err fatal;
} rp_ctx;

/* What one snapshot loses. */
typedef struct rp_snap {
    const snapshot *sn;
    char name[9];
    catalog cat;
    int cat_state; /* 0 not loaded yet, 1 loaded, -1 unavailable */
    uint64_t files, folders;
    cbuf lost; /* the lost paths, one per line */
    uint64_t nlost, lost_over;
} rp_snap;

__attribute__((format(printf, 3, 0))) static void vemit(repair_report_fn fn, void *ctx,
                                                        const char *fmt, va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    if (fn)
        fn(ctx, line);
}

static void emit(repair_report_fn fn, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emit(repair_report_fn fn, void *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(fn, ctx, fmt, ap);
    va_end(ap);
}

static void say(const rp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const rp_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(c->o->report, c->o->report_ctx, fmt, ap);
    va_end(ap);
}

static void add_id(rp_ctx *c, idset *set, const uint8_t id[ID_LEN])
{
    int added;
    if (idset_add(set, id, &added) != CAIRN_OK && !c->fatal)
        c->fatal = err_set(CAIRN_ENOMEM, "out of memory during repair");
}

static void pack_hex(const uint8_t id[PACK_ID_LEN], char hex[HEX_ID + 1])
{
    fs_hex(id, PACK_ID_LEN, hex);
}

/* Fetch failures that concern one object (the target lacks it, or its copy
 * is damaged too) are reported and the repair goes on; anything else (the
 * target unreachable, the disk full) stops it. */
static int soft_failure(cairn_err rc)
{
    return rc == CAIRN_ENOTFOUND || rc == CAIRN_ECORRUPT || rc == CAIRN_EKEYFILE ||
           rc == CAIRN_EVERSION;
}

/* Downloads name from the source into path (removed on failure). */
static cairn_err fetch(backend *b, const char *name, const char *path)
{
    const cairn_err rc = backend_get_file(b, name, path);
    if (rc)
        unlink(path);
    return rc;
}

/* Opens the source and makes sure it is a copy of this very store: its
 * config must be ours byte for byte (same store id, same keys). */
static cairn_err open_source(const char *url, const char *store_dir, const char *tmp, backend **out)
{
    char mine[PATH_MAX + 8];
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    backend *src = NULL;
    cairn_err rc = backend_open(url, &src);
    if (!rc) {
        rc = fetch(src, STORE_NAME_CONFIG, tmp);
        if (rc == CAIRN_ENOTFOUND)
            rc = err_set(CAIRN_ENOSTORE, "%s: holds no copy of a store (no config)", url);
    }
    if (!rc) {
        rc = store_object_path(store_dir, STORE_NAME_CONFIG, mine, sizeof mine);
        if (!rc)
            rc = fs_read_file(tmp, 4096, &a, &alen);
        if (!rc)
            rc = fs_read_file(mine, 4096, &b, &blen);
        if (!rc && (alen != blen || memcmp(a, b, alen) != 0))
            rc = err_set(CAIRN_EEXIST, "%s: holds another store (its config differs)", url);
    }
    unlink(tmp);
    free(a);
    free(b);
    if (rc) {
        backend_close(src);
        return rc;
    }
    *out = src;
    return CAIRN_OK;
}

/* Replaces one damaged key file by the target's copy (verified first). */
static cairn_err heal_key(backend *b, const char *url, const char *keys_dir, const char *id,
                          const char *tmp, int dry_run, repair_report_fn report, void *ctx,
                          int *healed)
{
    char name[STORE_NAME_MAX];
    cairn_err rc = store_name_key(id, name);
    if (!rc)
        rc = fetch(b, name, tmp);
    if (!rc)
        rc = dry_run ? keys_verify_file(tmp) : keys_import(keys_dir, id, tmp);
    unlink(tmp);
    if (!rc) {
        *healed = 1;
        emit(report, ctx, "%s key file %s from %s", dry_run ? "would heal" : "healed", id, url);
        return CAIRN_OK;
    }
    if (!soft_failure(rc))
        return rc;
    emit(report, ctx, "cannot heal key file %s from %s: %s", id, url, err_msg());
    return CAIRN_OK;
}

cairn_err repair_keys(const char *store_dir, const char *url, int dry_run, repair_report_fn report,
                      void *ctx, unsigned *healed)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 32];
    keys_info *k = NULL;
    size_t n = 0;
    backend *b = NULL;
    *healed = 0;
    cairn_err rc = store_object_path(store_dir, STORE_DIR_KEYS, dir, sizeof dir);
    /* hidden names: key file readers skip them */
    snprintf(tmp, sizeof tmp, "%s/.fetch-repair", dir);
    if (!rc)
        rc = keys_list(dir, &k, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        int ok = 0;
        if (!k[i].damaged)
            continue;
        if (!b)
            rc = open_source(url, store_dir, tmp, &b);
        if (!rc)
            rc = heal_key(b, url, dir, k[i].id, tmp, dry_run, report, ctx, &ok);
        *healed += (unsigned)ok;
    }
    backend_close(b);
    free(k);
    return rc;
}

/* ---- finding the damage ---- */

typedef struct scan_cur {
    rp_ctx *c;
    rp_pack *p;
    const char *path;
} scan_cur;

static void on_bad_chunk(void *ctx, const pack_entry *e, const char *msg)
{
    scan_cur *const b = ctx;
    char hex[HEX_ID + 1];
    fs_hex(e->id, ID_LEN, hex);
    add_id(b->c, &b->p->bad, e->id);
    add_id(b->c, &b->c->bad_chunks, e->id);
    b->p->nbad++;
    b->c->r->chunks_damaged++;
    say(b->c, "damaged: pack %s: chunk %.16s at offset %u: %s", b->path, hex, e->offset, msg);
}

static cairn_err scan_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    rp_ctx *const c = ctx;
    rp_pack p;
    pack_entry *e = NULL;
    size_t n = 0;
    memset(&p, 0, sizeof p);
    memcpy(p.id, pack, PACK_ID_LEN);
    idset_init(&p.bad);
    scan_cur cur = {c, &p, path};
    c->r->packs++;
    add_id(c, &c->local_packs, pack);
    const cairn_err rc = store_verify_pack(c->s, c->w, path, &e, &n, on_bad_chunk, &cur);
    if (rc == CAIRN_ENOMEM) {
        free(e);
        idset_free(&p.bad);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        if (!idset_has(&p.bad, e[i].id))
            add_id(c, &c->good, e[i].id);
    if (rc == CAIRN_OK) {
        free(e);
        idset_free(&p.bad);
        return c->fatal;
    }
    /* damaged blobs were reported one by one; a trailer that does not open
     * (or a pack that cannot be read) is reported here */
    if (n == 0)
        say(c, "damaged: %s", err_msg());
    c->r->packs_damaged++;
    if (util_grow(&c->packs, &c->cappacks, c->npacks + 1, sizeof *c->packs) != CAIRN_OK) {
        free(e);
        idset_free(&p.bad);
        return CAIRN_ENOMEM;
    }
    p.entries = n ? e : NULL;
    p.count = n;
    if (!n)
        free(e);
    c->packs[c->npacks++] = p;
    return c->fatal;
}

/* A snapshot object that does not open: damage is recorded (to heal or set
 * aside), a read error stops the scan. */
static cairn_err note_damaged(void *ctx, const uint8_t id[SNAPSHOT_ID_LEN], cairn_err why)
{
    rp_ctx *const c = ctx;
    if (why != CAIRN_ECORRUPT)
        return why;
    say(c, "damaged: %s", err_msg());
    c->r->snapshot_objects++;
    const cairn_err rc =
        util_grow(&c->objects, &c->capobjects, c->nobjects + 1, sizeof *c->objects);
    if (rc)
        return rc;
    rp_object *const v = c->objects;
    memcpy(v[c->nobjects].id, id, ID_LEN);
    v[c->nobjects++].healed = 0;
    return CAIRN_OK;
}

static cairn_err scan_snapshot_objects(rp_ctx *c)
{
    return snaplist_each_damaged(c->s, note_damaged, c);
}

static cairn_err scan_keys(rp_ctx *c)
{
    char path[PATH_MAX + 32];
    keys_info *k = NULL;
    size_t n = 0;
    cairn_err rc = keys_list(c->keys_dir, &k, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!k[i].damaged)
            continue;
        snprintf(path, sizeof path, "%s/%s", c->keys_dir, k[i].id);
        if (keys_verify_file(path) == CAIRN_ENOMEM) {
            rc = CAIRN_ENOMEM;
            break;
        }
        say(c, "damaged: %s", err_msg());
        c->r->key_files++;
        rc = util_grow(&c->keys, &c->capkeys, c->nkeys + 1, sizeof *c->keys);
        if (rc)
            break;
        rp_key *const v = c->keys;
        memcpy(v[c->nkeys].id, k[i].id, sizeof v->id);
        v[c->nkeys++].healed = 0;
    }
    free(k);
    return rc;
}

/* ---- the config ---- */

cairn_err repair_config(const char *store_dir, const char *url, const char *password,
                        size_t password_len, int dry_run, repair_report_fn report, void *ctx,
                        int *healed)
{
    char tmp[PATH_MAX];
    backend *b = NULL;
    *healed = 0;
    if (snprintf(tmp, sizeof tmp, "%s/" STORE_DIR_TMP "/repair-config", store_dir) >=
        (int)sizeof tmp)
        return err_set(CAIRN_EINVAL, "%s: path too long", store_dir);
    *strrchr(tmp, '/') = '\0';
    cairn_err rc = fs_mkdirs(tmp, 0700);
    tmp[strlen(tmp)] = '/';
    if (!rc)
        rc = backend_open(url, &b);
    if (!rc) {
        rc = fetch(b, STORE_NAME_CONFIG, tmp);
        if (rc == CAIRN_ENOTFOUND)
            rc = err_set(CAIRN_ENOSTORE, "%s: holds no copy of a store (no config)", url);
    }
    if (!rc) {
        rc = store_verify_config(store_dir, password, password_len, tmp);
        if (rc == CAIRN_ECORRUPT)
            rc = err_set(CAIRN_EEXIST,
                         "%s: holds another store (its config does not open with "
                         "this store's keys)",
                         url);
    }
    if (!rc && !dry_run)
        rc = store_replace_config(store_dir, tmp);
    if (!rc) {
        *healed = 1;
        emit(report, ctx, "%s the config from %s%s", dry_run ? "would heal" : "healed", url,
             dry_run ? "" : " (the damaged one is in damaged/config)");
    }
    unlink(tmp);
    backend_close(b);
    return rc;
}

/* ---- chain records ---- */

static cairn_err note_damaged_chain(void *ctx, const uint8_t id[ID_LEN])
{
    rp_ctx *const c = ctx;
    say(c, "damaged: %s", err_msg());
    c->r->chain_records++;
    const cairn_err rc = util_grow(&c->chains, &c->capchains, c->nchains + 1, sizeof *c->chains);
    if (!rc)
        memcpy(c->chains[c->nchains++], id, ID_LEN);
    return rc;
}

/* The copy target's record, verified (it opens and names this chain). */
static cairn_err heal_chain(rp_ctx *c, const uint8_t id[ID_LEN], int *healed)
{
    char name[STORE_NAME_MAX], tmp[PATH_MAX], hex[HEX_ID + 1];
    uint8_t *plain = NULL;
    size_t len = 0;
    *healed = 0;
    fs_hex(id, ID_LEN, hex);
    store_name_chain(id, name);
    cairn_err rc = store_tmp_path(c->s, "repair-fetch", tmp, sizeof tmp);
    if (rc)
        return rc;
    cairn_err frc = fetch(c->src, name, tmp);
    /* verified before it is installed: a damaged or foreign record changes nothing */
    if (!frc)
        frc = store_import_chain(c->s, id, tmp, 0, &plain, &len);
    if (!frc)
        frc = chains_verify_plain(c->s, id, plain, len, NULL);
    free(plain);
    plain = NULL;
    if (!frc && !c->o->dry_run)
        frc = store_import_chain(c->s, id, tmp, 1, &plain, &len);
    free(plain);
    unlink(tmp);
    if (!frc) {
        *healed = 1;
        c->r->chains_healed++;
        say(c, "%s chain record %.16s from %s", c->o->dry_run ? "would heal" : "healed", hex,
            c->o->source);
    } else if (soft_failure(frc)) {
        say(c, "cannot heal chain record %.16s from %s: %s", hex, c->o->source, err_msg());
    } else {
        rc = frc;
    }
    return rc;
}

/* Without a copy: a record exists only for an archived chain (chains_archive
 * is its one writer), so one that a snapshot's chain name hashes to is
 * rewritten archived; when it was archived, and why, is lost.  A record no
 * snapshot names (an archived chain whose snapshots are all gone) is set
 * aside: nothing depends on it. */
static cairn_err rebuild_chain(rp_ctx *c, const snaplist *l, const uint8_t id[ID_LEN])
{
    char hex[HEX_ID + 1], rel[STORE_NAME_MAX];
    const snapshot *newest = NULL;
    fs_hex(id, ID_LEN, hex);
    for (size_t i = 0; i < l->count; i++) {
        uint8_t cid[ID_LEN];
        store_chain_id(c->s, l->items[i].chain, cid);
        if (memcmp(cid, id, ID_LEN) == 0)
            newest = &l->items[i]; /* oldest first: the last one found is the newest */
    }
    if (!newest) {
        c->r->chains_set_aside++;
        say(c, "chain record %.16s: no snapshot names its chain; %s", hex,
            c->o->dry_run ? "would be set aside" : "set aside (nothing depends on it)");
        store_name_chain(id, rel);
        return c->o->dry_run ? CAIRN_OK : store_set_aside(c->s, rel);
    }
    c->r->chains_rebuilt++;
    say(c,
        "chain record %.16s (chain %s): %s as archived; lost: when it was archived, why, and its "
        "pins "
        "(the newest snapshot's time stands in)",
        hex, newest->chain, c->o->dry_run ? "would be rebuilt" : "rebuilt");
    if (c->o->dry_run)
        return CAIRN_OK;
    const chain_record r = {.name = (char *)newest->chain,
                            .archived = 1,
                            .archived_at = newest->time_sec,
                            .reason = (char *)"rebuilt by cairn repair: the record was damaged"};
    return chains_put(c->s, &r);
}

static cairn_err repair_chains(rp_ctx *c)
{
    snaplist l = {NULL, 0, 0};
    cairn_err rc = c->nchains ? snaplist_load(c->s, &l) : CAIRN_OK;
    for (size_t i = 0; !rc && i < c->nchains; i++) {
        int healed = 0;
        if (c->src)
            rc = heal_chain(c, c->chains[i], &healed);
        if (!rc && !healed)
            rc = rebuild_chain(c, &l, c->chains[i]);
    }
    snaplist_free(&l);
    return rc;
}

/* ---- walking the snapshots: what they lose ---- */

static rp_pack *find_pack(rp_ctx *c, const uint8_t id[PACK_ID_LEN])
{
    for (size_t i = 0; i < c->npacks; i++)
        if (memcmp(c->packs[i].id, id, PACK_ID_LEN) == 0)
            return &c->packs[i];
    return NULL;
}

/* A pack whose trailer is damaged cannot list its blobs, but the index
 * still knows where the chunks it held were: those that read back whole
 * there are salvaged. */
static int salvageable(rp_ctx *c, const uint8_t id[ID_LEN])
{
    uint8_t pack[PACK_ID_LEN];
    pack_entry e;
    cbuf blob;
    if (store_locate(c->s, id, pack, &e) != CAIRN_OK)
        return 0;
    const rp_pack *const p = find_pack(c, pack);
    if (!p || p->entries || p->healed)
        return 0;
    cbuf_init(&blob);
    const cairn_err rc = store_read_sealed(c->s, c->w, id, &e, &blob);
    cbuf_free(&blob);
    if (rc == CAIRN_ENOMEM && !c->fatal)
        c->fatal = rc;
    if (rc)
        return 0;
    add_id(c, &c->salvage_ok, id);
    if (util_grow(&c->salvage, &c->capsalvage, c->nsalvage + 1, sizeof *c->salvage) != CAIRN_OK) {
        c->fatal = CAIRN_ENOMEM;
        return 0;
    }
    memcpy(c->salvage[c->nsalvage++], id, ID_LEN);
    return 1;
}

/* Whether a chunk is lost.  Before salvage: whole in no pack (and not
 * salvageable); after it, the index is the truth.  Lost chunks are noted. */
static int chunk_lost(rp_ctx *c, const uint8_t id[ID_LEN])
{
    int lost;
    if (c->final) {
        int has = 0;
        const cairn_err rc = store_has_chunk(c->s, id, &has);
        if (rc && !c->fatal)
            c->fatal = rc;
        lost = !has;
    } else {
        lost = !idset_has(&c->good, id) && !idset_has(&c->salvage_ok, id) && !salvageable(c, id);
    }
    if (lost)
        add_id(c, &c->missing, id);
    return lost;
}

static const char *why_lost(const rp_ctx *c, const uint8_t id[ID_LEN])
{
    return idset_has(&c->bad_chunks, id) ? "damaged chunk" : "chunk missing from the store";
}

static void note_lost(rp_snap *sp, const char *path, int folder)
{
    const size_t len = strlen(path);
    sp->nlost++;
    if (sp->lost.len + len + 2 > LOST_LIST_MAX) {
        sp->lost_over++;
        return;
    }
    cbuf_put(&sp->lost, path, len);
    if (folder)
        cbuf_u8(&sp->lost, '/');
    cbuf_u8(&sp->lost, '\n');
}

/* " (domain/path)" for a content file "/xx/<40 hex>" of a device
 * snapshot, from its catalog; "" when there is none. */
static void device_name(rp_ctx *c, rp_snap *sp, const char *path, char *out, size_t cap)
{
    char rel[44];
    out[0] = '\0';
    if (sp->sn->ncatalog == 0 || sp->cat_state < 0 || strlen(path) != 44 || path[0] != '/' ||
        path[3] != '/')
        return;
    if (sp->cat_state == 0) {
        sp->cat_state = -1;
        for (uint32_t i = 0; i < sp->sn->ncatalog; i++)
            if (chunk_lost(c, sp->sn->catalog[i]))
                return;
        const cairn_err rc = catalog_load(c->s, c->w, (const uint8_t(*)[ID_LEN])sp->sn->catalog,
                                          sp->sn->ncatalog, &sp->cat);
        if (rc == CAIRN_ENOMEM && !c->fatal)
            c->fatal = rc;
        if (rc)
            return;
        sp->cat_state = 1;
    }
    for (size_t i = 0; i < sp->cat.count; i++) {
        catalog_content_path(&sp->cat.entries[i], rel);
        if (strcmp(rel, path + 1) == 0) {
            snprintf(out, cap, " (%s/%s)", sp->cat.entries[i].domain, sp->cat.entries[i].path);
            return;
        }
    }
}

static void lost_file(rp_ctx *c, rp_snap *sp, const char *path, const uint8_t *chunk)
{
    char dev[TREE_NAME_MAX + 64];
    sp->files++;
    note_lost(sp, path, 0);
    if (!c->loud)
        return;
    device_name(c, sp, path, dev, sizeof dev);
    say(c, "snapshot %s: file %s%s: lost (%s)", sp->name, path, dev, why_lost(c, chunk));
}

static void lost_folder(rp_ctx *c, rp_snap *sp, const char *path, const char *why)
{
    sp->folders++;
    note_lost(sp, path, 1);
    if (c->loud)
        say(c, "snapshot %s: folder %s: contents lost (%s); kept as an empty folder", sp->name,
            *path ? path : "/", why);
}

/* ---- the walk's callbacks (c->cur: the snapshot walked) ---- */

static cairn_err fix_tree_chunks(void *ctx, const char *path, const uint8_t (*ids)[ID_LEN],
                                 uint32_t n, int *damaged)
{
    rp_ctx *const c = ctx;
    for (uint32_t i = 0; i < n; i++) {
        if (chunk_lost(c, ids[i])) {
            lost_folder(c, c->cur, path, why_lost(c, ids[i]));
            *damaged = 1;
            break;
        }
    }
    return c->fatal;
}

static cairn_err fix_unreadable_tree(void *ctx, const char *path, cairn_err rc, int *damaged)
{
    rp_ctx *const c = ctx;
    char msg[1024];
    if (rc == CAIRN_ENOMEM)
        return rc;
    if (c->o->dry_run && c->src) {
        /* its chunks would come from the target: a dry run cannot read them */
        if (c->loud)
            say(c,
                "snapshot %s: folder %s: its tree would come from %s; what it holds is "
                "checked once it is there",
                c->cur->name, *path ? path : "/", c->o->source);
        return CAIRN_OK;
    }
    snprintf(msg, sizeof msg, "%s", err_msg());
    lost_folder(c, c->cur, path, msg);
    *damaged = 1;
    return CAIRN_OK;
}

static cairn_err fix_file(void *ctx, const char *path, tree_node *nd, int *damaged)
{
    rp_ctx *const c = ctx;
    if (nd->type != NODE_FILE)
        return CAIRN_OK;
    /* every chunk is looked at, so that a target is asked for all */
    const uint8_t *first = NULL;
    for (uint32_t k = 0; k < nd->nchunks; k++)
        if (chunk_lost(c, nd->chunks[k]) && !first)
            first = nd->chunks[k];
    if (first) {
        lost_file(c, c->cur, path, first);
        tree_node_free(nd); /* a NULL name marks it dropped */
        *damaged = 1;
    }
    return c->fatal;
}

/* The folder without what it lost; in the final walk its tree is stored
 * (no chunks: the folder itself is lost and restores empty). */
static cairn_err fix_folder(void *ctx, const char *path, tree *t, uint8_t (**ids)[ID_LEN],
                            uint32_t *n)
{
    rp_ctx *const c = ctx;
    (void)path;
    if (c->fatal)
        return c->fatal;
    size_t k = 0;
    for (size_t i = 0; i < t->count; i++)
        if (t->nodes[i].name)
            t->nodes[k++] = t->nodes[i];
    t->count = k;
    if (!c->final || c->o->dry_run)
        return CAIRN_OK;
    treestore_stats st = {0, 0, 0};
    return treestore_save(c->s, c->w, &c->ck, t, ids, n, &st);
}

static const tree_walk_ops fix_walk = {
    .on_tree_chunks = fix_tree_chunks,
    .on_file = fix_file,
    .on_error = fix_unreadable_tree,
    .on_damaged_folder = fix_folder,
};

/* Copies sn's metadata without the repair keys into nw, then adds them:
 * the snapshot replaced, and every path lost (earlier repairs' too). */
static cairn_err repair_meta(const snapshot *sn, rp_snap *sp, snapshot *nw)
{
    char hex[HEX_ID + 1], num[32];
    const char *const old_lost = snapshot_get_meta(sn, SNAP_META_LOST);
    const char *const old_count = snapshot_get_meta(sn, SNAP_META_LOST_COUNT);
    cbuf lost;
    cairn_err rc = CAIRN_OK;
    for (size_t i = 0; !rc && i < sn->nmeta; i++) {
        const char *const k = sn->meta[i].key;
        if (strcmp(k, SNAP_META_REPAIRED_FROM) && strcmp(k, SNAP_META_LOST) &&
            strcmp(k, SNAP_META_LOST_COUNT))
            rc = snapshot_set_meta(nw, k, sn->meta[i].value);
    }
    fs_hex(sn->id, ID_LEN, hex);
    if (!rc)
        rc = snapshot_set_meta(nw, SNAP_META_REPAIRED_FROM, hex);
    snprintf(num, sizeof num, "%llu",
             (unsigned long long)(sp->nlost + (old_count ? strtoull(old_count, NULL, 10) : 0)));
    if (!rc)
        rc = snapshot_set_meta(nw, SNAP_META_LOST_COUNT, num);
    cbuf_init(&lost);
    if (old_lost && *old_lost) {
        cbuf_put(&lost, old_lost, strlen(old_lost));
        cbuf_u8(&lost, '\n');
    }
    cbuf_put(&lost, sp->lost.data, sp->lost.len);
    if (sp->lost_over) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)sp->lost_over);
        cbuf_put(&lost, "... and ", 8);
        cbuf_put(&lost, num, strlen(num));
        cbuf_put(&lost, " more\n", 6);
    }
    if (lost.len && lost.data[lost.len - 1] == '\n')
        lost.len--;
    cbuf_u8(&lost, '\0');
    if (!rc && lost.failed)
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    if (!rc)
        rc = snapshot_set_meta(nw, SNAP_META_LOST, (const char *)lost.data);
    cbuf_free(&lost);
    return rc;
}

/* Builds the repaired snapshot that replaces sn (written by
 * write_repaired once its trees are durable). */
static cairn_err plan_repaired(rp_ctx *c, const snapshot *sn, rp_snap *sp, uint8_t (**root)[ID_LEN],
                               uint32_t nroot, int catalog_lost)
{
    const cairn_err rc = util_grow(&c->repl, &c->caprepl, c->nrepl + 1, sizeof *c->repl);
    if (rc)
        return rc;
    rp_repl *const p = &c->repl[c->nrepl++];
    snapshot *const nw = &p->nw;
    memset(p, 0, sizeof *p);
    memcpy(p->old, sn->id, ID_LEN);
    p->files = sp->files;
    p->folders = sp->folders;
    p->catalog_lost = catalog_lost;
    nw->time_sec = sn->time_sec;
    nw->time_nsec = sn->time_nsec;
    nw->hostname = strdup(sn->hostname);
    nw->source = strdup(sn->source);
    nw->chain = strdup(sn->chain);
    nw->has_parent = sn->has_parent;
    memcpy(nw->parent, sn->parent, ID_LEN);
    if (sn->has_parent) {
        /* a parent an earlier (interrupted) repair replaced is named by the
         * snapshot that replaced it */
        char hex[HEX_ID + 1];
        fs_hex(sn->parent, ID_LEN, hex);
        for (size_t i = 0; i < c->snaps->count; i++) {
            const char *const from =
                snapshot_get_meta(&c->snaps->items[i], SNAP_META_REPAIRED_FROM);
            if (from && strcmp(from, hex) == 0)
                memcpy(nw->parent, c->snaps->items[i].id, ID_LEN);
        }
    }
    nw->flags = sn->flags | SNAP_REPAIRED;
    nw->tree = *root;
    nw->ntree = nroot;
    *root = NULL;
    if (!catalog_lost && sn->ncatalog) {
        nw->catalog = malloc((size_t)sn->ncatalog * ID_LEN);
        if (nw->catalog) {
            memcpy(nw->catalog, sn->catalog, (size_t)sn->ncatalog * ID_LEN);
            nw->ncatalog = sn->ncatalog;
        }
    }
    nw->new_chunks = sn->new_chunks;
    nw->new_bytes = sn->new_bytes;
    nw->new_raw = sn->new_raw;
    nw->errors = sn->errors;
    if (!nw->hostname || !nw->source || !nw->chain ||
        (sn->ncatalog && !catalog_lost && !nw->catalog))
        return err_set(CAIRN_ENOMEM, "out of memory");
    return repair_meta(sn, sp, nw);
}

/* What a repaired tree holds, counted as backup counts it (folders below
 * the root, files, their bytes): a lost folder's contents were unknown. */
static cairn_err count_tree(rp_ctx *c, const uint8_t (*ids)[ID_LEN], uint32_t n, snapshot *nw)
{
    tree t;
    cairn_err rc = treestore_load(c->s, c->w, ids, n, &t);
    for (size_t i = 0; !rc && i < t.count; i++) {
        const tree_node *const nd = &t.nodes[i];
        if (nd->type == NODE_DIR) {
            nw->dirs++;
            rc = count_tree(c, (const uint8_t(*)[ID_LEN])nd->chunks, nd->nchunks, nw);
        } else if (nd->type == NODE_FILE) {
            nw->files++;
            nw->bytes += nd->size;
        }
    }
    tree_free(&t);
    return rc;
}

/* Writes the repaired snapshots, oldest first, each before the one it
 * replaces is removed: a kill in between leaves both, and the next repair
 * writes the same repaired snapshot again (same content, same ID). */
static cairn_err write_repaired(rp_ctx *c)
{
    char before[9], after[9];
    cbuf enc;
    /* the new trees are durable before any snapshot names them */
    cairn_err rc = store_flush(c->s);
    cbuf_init(&enc);
    for (size_t i = 0; !rc && i < c->nrepl; i++) {
        rp_repl *const p = &c->repl[i];
        /* a parent replaced just before is named by its new ID */
        for (size_t j = 0; j < i; j++)
            if (p->nw.has_parent && memcmp(p->nw.parent, c->repl[j].old, ID_LEN) == 0)
                memcpy(p->nw.parent, c->repl[j].nw.id, ID_LEN);
        p->nw.files = p->nw.dirs = p->nw.bytes = 0;
        rc = count_tree(c, (const uint8_t(*)[ID_LEN])p->nw.tree, p->nw.ntree, &p->nw);
        cbuf_reset(&enc);
        if (!rc)
            rc = snapshot_encode(&p->nw, &enc);
        if (!rc)
            rc = store_put_snapshot(c->s, enc.data, enc.len, p->nw.id);
        if (!rc && memcmp(p->nw.id, p->old, ID_LEN) != 0)
            rc = store_delete_snapshot(c->s, p->old);
        if (rc)
            break;
        snaplist_short_id(p->old, before);
        snaplist_short_id(p->nw.id, after);
        say(c,
            "snapshot %s: replaced by repaired snapshot %s (%llu file(s), %llu folder(s)%s lost)",
            before, after, (unsigned long long)p->files, (unsigned long long)p->folders,
            p->catalog_lost ? ", its catalog" : "");
    }
    cbuf_free(&enc);
    return rc;
}

static cairn_err fix_snapshot(rp_ctx *c, const snapshot *sn)
{
    rp_snap sp;
    uint8_t(*root)[ID_LEN] = NULL;
    uint32_t nroot = 0;
    int changed = 0, catalog_lost = 0;
    const uint8_t *lost_chunk = NULL;
    memset(&sp, 0, sizeof sp);
    sp.sn = sn;
    snaplist_short_id(sn->id, sp.name);
    catalog_init(&sp.cat);
    cbuf_init(&sp.lost);
    c->cur = &sp;
    cairn_err rc = tree_walk_snapshot(c->walker, sn, &changed, &root, &nroot);
    c->cur = NULL;
    for (uint32_t i = 0; !rc && i < sn->ncatalog; i++)
        if (chunk_lost(c, sn->catalog[i]) && !lost_chunk)
            lost_chunk = sn->catalog[i];
    catalog_lost = lost_chunk != NULL;
    if (!rc)
        rc = c->fatal;
    if (!rc && sp.lost.failed)
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    if (!rc && (changed || catalog_lost) && c->loud) {
        if (catalog_lost)
            say(c,
                "snapshot %s: catalog lost (%s): ls, extract and diff by domain and path no "
                "longer work for it; restore does",
                sp.name, why_lost(c, lost_chunk));
        c->r->files_lost += sp.files;
        c->r->folders_lost += sp.folders;
        c->r->catalogs_lost += (uint64_t)catalog_lost;
        c->r->snapshots_repaired++;
        if (c->final && !c->o->dry_run)
            rc = plan_repaired(c, sn, &sp, &root, nroot, catalog_lost);
        else
            say(c,
                "snapshot %s: would be replaced by a repaired snapshot (%llu file(s), %llu "
                "folder(s)%s lost)",
                sp.name, (unsigned long long)sp.files, (unsigned long long)sp.folders,
                catalog_lost ? ", its catalog" : "");
    }
    free(root);
    catalog_free(&sp.cat);
    cbuf_free(&sp.lost);
    return rc;
}

/* One walk over every snapshot; c->missing gets what they lose. */
static cairn_err walk_all(rp_ctx *c, int final, int loud)
{
    snaplist l = {NULL, 0, 0};
    idset_free(&c->missing);
    idset_init(&c->missing);
    c->final = final;
    c->loud = loud;
    /* a fresh worker: packs replaced since must not be read through old
     * file descriptors */
    store_worker_free(c->w);
    c->w = NULL;
    cairn_err rc = store_worker_new(c->s, &c->w);
    if (!rc)
        rc = snaplist_load(c->s, &l);
    if (!rc)
        rc = tree_walk_new(c->s, c->w, &fix_walk, c, TREE_WALK_REWALK_DAMAGED, &c->walker);
    c->snaps = &l;
    for (size_t i = 0; !rc && i < l.count; i++)
        rc = fix_snapshot(c, &l.items[i]);
    c->snaps = NULL;
    tree_walk_free(c->walker);
    c->walker = NULL;
    if (loud)
        c->r->chunks_missing = c->missing.count;
    snaplist_free(&l);
    return rc;
}

/* ---- healing from the source ---- */

static cairn_err heal_packs(rp_ctx *c)
{
    char hex[HEX_ID + 1], name[STORE_NAME_MAX], tmp[PATH_MAX];
    cairn_err rc = CAIRN_OK;
    for (size_t i = 0; !rc && i < c->npacks; i++) {
        rp_pack *const p = &c->packs[i];
        pack_entry *e = NULL;
        size_t n = 0;
        pack_hex(p->id, hex);
        store_name_pack(p->id, name);
        rc = store_tmp_path(c->s, "repair-fetch", tmp, sizeof tmp);
        if (rc)
            break;
        cairn_err frc = fetch(c->src, name, tmp);
        if (!frc)
            frc = c->o->dry_run ? store_verify_pack(c->s, c->w, tmp, &e, &n, NULL, NULL)
                                : store_import_pack(c->s, c->w, p->id, tmp, &e, &n);
        unlink(tmp);
        if (!frc) {
            for (size_t k = 0; k < n; k++)
                add_id(c, &c->good, e[k].id);
            p->healed = 1;
            c->r->packs_healed++;
            say(c, "%s pack %s from %s", c->o->dry_run ? "would heal" : "healed", hex,
                c->o->source);
        } else if (soft_failure(frc)) {
            say(c, "cannot heal pack %s from %s: %s", hex, c->o->source, err_msg());
        } else {
            rc = frc;
        }
        free(e);
        if (!rc)
            rc = c->fatal;
    }
    return rc;
}

static cairn_err heal_objects(rp_ctx *c)
{
    char hex[HEX_ID + 1], name[STORE_NAME_MAX], tmp[PATH_MAX];
    cairn_err rc = CAIRN_OK;
    for (size_t i = 0; !rc && i < c->nobjects; i++) {
        rp_object *const o = &c->objects[i];
        fs_hex(o->id, ID_LEN, hex);
        store_name_snapshot(o->id, name);
        rc = store_tmp_path(c->s, "repair-fetch", tmp, sizeof tmp);
        if (rc)
            break;
        cairn_err frc = fetch(c->src, name, tmp);
        if (!frc)
            frc = c->o->dry_run ? store_verify_snapshot_file(c->s, o->id, tmp)
                                : store_import_snapshot(c->s, o->id, tmp);
        unlink(tmp);
        if (!frc) {
            o->healed = 1;
            c->r->snapshots_healed++;
            say(c, "%s snapshot object %s from %s", c->o->dry_run ? "would heal" : "healed", hex,
                c->o->source);
        } else if (soft_failure(frc)) {
            say(c, "cannot heal snapshot object %s from %s: %s", hex, c->o->source, err_msg());
        } else {
            rc = frc;
        }
    }
    return rc;
}

static cairn_err heal_keys(rp_ctx *c)
{
    char tmp[PATH_MAX];
    cairn_err rc = CAIRN_OK;
    for (size_t i = 0; !rc && i < c->nkeys; i++) {
        int healed = 0;
        rc = store_tmp_path(c->s, "repair-fetch", tmp, sizeof tmp);
        if (!rc)
            rc = heal_key(c->src, c->o->source, c->keys_dir, c->keys[i].id, tmp, c->o->dry_run,
                          c->o->report, c->o->report_ctx, &healed);
        c->keys[i].healed = healed;
        c->r->keys_healed += (uint64_t)healed;
    }
    return rc;
}

static cairn_err list_candidate(void *ctx, const char *name, uint64_t size)
{
    rp_ctx *const c = ctx;
    uint8_t id[PACK_ID_LEN];
    (void)size;
    if (store_name_parse(name, id) != STORE_OBJ_PACK || idset_has(&c->local_packs, id))
        return CAIRN_OK;
    const cairn_err rc = util_grow(&c->cands, &c->capcands, c->ncands + 1, sizeof *c->cands);
    if (rc)
        return rc;
    memset(&c->cands[c->ncands], 0, sizeof *c->cands);
    memcpy(c->cands[c->ncands++].id, id, PACK_ID_LEN);
    return CAIRN_OK;
}

static size_t holds_missing(const rp_ctx *c, const rp_cand *k)
{
    size_t n = 0;
    for (size_t i = 0; i < k->nids; i++)
        n += (size_t)idset_has(&c->missing, k->ids[i]);
    return n;
}

/* Fetches one candidate, keeps its chunk list, and installs it if it holds
 * missing chunks.  *used says it did. */
static cairn_err try_candidate(rp_ctx *c, rp_cand *k, int *used)
{
    char hex[HEX_ID + 1], name[STORE_NAME_MAX], tmp[PATH_MAX];
    pack_entry *e = NULL;
    size_t n = 0, wanted;
    *used = 0;
    pack_hex(k->id, hex);
    store_name_pack(k->id, name);
    cairn_err rc = store_tmp_path(c->s, "repair-fetch", tmp, sizeof tmp);
    if (rc)
        return rc;
    rc = fetch(c->src, name, tmp);
    if (!rc)
        rc = store_verify_pack(c->s, c->w, tmp, &e, &n, NULL, NULL);
    if (rc) {
        free(e);
        unlink(tmp);
        k->tried = 1;
        if (!soft_failure(rc))
            return rc;
        say(c, "cannot use pack %s of %s: %s", hex, c->o->source, err_msg());
        return CAIRN_OK;
    }
    if (!k->tried) {
        k->ids = malloc((n ? n : 1) * ID_LEN);
        if (!k->ids) {
            free(e);
            unlink(tmp);
            return err_set(CAIRN_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            memcpy(k->ids[i], e[i].id, ID_LEN);
        k->nids = n;
        k->tried = 1;
    }
    wanted = holds_missing(c, k);
    if (wanted && !c->o->dry_run)
        rc = store_import_pack(c->s, c->w, k->id, tmp, NULL, NULL);
    unlink(tmp);
    free(e);
    if (rc || !wanted)
        return rc;
    for (size_t i = 0; i < k->nids; i++) {
        add_id(c, &c->good, k->ids[i]);
        idset_remove(&c->missing, k->ids[i]);
    }
    add_id(c, &c->local_packs, k->id);
    k->installed = 1;
    *used = 1;
    c->r->packs_fetched++;
    say(c, "%s pack %s from %s (it holds %zu chunk(s) the store lacks)",
        c->o->dry_run ? "would fetch" : "fetched", hex, c->o->source, wanted);
    return c->fatal;
}

/* Chunks that snapshots need and no local pack holds (a deleted pack, a
 * damaged one the target has under another name): the target's packs the
 * store lacks are fetched and verified, and those holding such chunks
 * installed.  A tree healed this way may reveal more, so this goes in
 * rounds until nothing more is found. */
static cairn_err heal_missing(rp_ctx *c)
{
    cairn_err rc = CAIRN_OK;
    if (c->missing.count == 0)
        return CAIRN_OK;
    rc = backend_list(c->src, store_name_prefix(STORE_OBJ_PACK), list_candidate, c);
    while (!rc && c->missing.count) {
        int progress = 0;
        for (size_t i = 0; !rc && i < c->ncands && c->missing.count; i++) {
            rp_cand *const k = &c->cands[i];
            int used = 0;
            if (k->installed || (k->tried && !holds_missing(c, k)))
                continue;
            rc = try_candidate(c, k, &used);
            progress |= used;
        }
        if (!rc && progress && !c->o->dry_run)
            rc = walk_all(c, 0, 0);
        if (!progress || c->o->dry_run)
            break;
    }
    return rc;
}

/* ---- salvage ---- */

static int keep_whole(void *ctx, const pack_entry *e)
{
    const rp_pack *const p = ctx;
    return !idset_has(&p->bad, e->id);
}

/* Copies what is whole in each damaged pack into new packs, durable before
 * anything is deleted. */
static cairn_err salvage(rp_ctx *c)
{
    char hex[HEX_ID + 1];
    cbuf blob;
    cairn_err rc = CAIRN_OK;
    cbuf_init(&blob);
    for (size_t i = 0; !rc && i < c->npacks; i++) {
        rp_pack *const p = &c->packs[i];
        uint64_t bytes = 0;
        size_t copied = 0;
        if (p->healed)
            continue;
        pack_hex(p->id, hex);
        if (p->entries) {
            copied = p->count - p->nbad;
            if (!c->o->dry_run)
                rc = store_repack(c->s, c->w, p->id, keep_whole, p, &bytes);
            if (!rc)
                say(c, "%s pack %s: %zu of %zu chunk(s) %s into new packs, %zu damaged",
                    c->o->dry_run ? "would salvage" : "salvaged", hex, copied, p->count,
                    c->o->dry_run ? "would be copied" : "copied", p->nbad);
        } else {
            for (size_t k = 0; !rc && k < c->nsalvage; k++) {
                uint8_t where[PACK_ID_LEN];
                pack_entry e;
                if (store_locate(c->s, c->salvage[k], where, &e) != CAIRN_OK ||
                    memcmp(where, p->id, PACK_ID_LEN) != 0 || idset_has(&c->good, c->salvage[k]))
                    continue;
                copied++;
                if (c->o->dry_run)
                    continue;
                rc = store_read_sealed(c->s, c->w, c->salvage[k], &e, &blob);
                if (!rc)
                    rc = store_put_sealed(c->s, &e, blob.data);
            }
            if (!rc)
                say(c,
                    "%s pack %s: its trailer is damaged; %zu chunk(s) that snapshots need "
                    "read whole where the index placed them and %s into new packs",
                    c->o->dry_run ? "would salvage" : "salvaged", hex, copied,
                    c->o->dry_run ? "would be copied" : "were copied");
        }
        c->r->packs_salvaged++;
        c->r->chunks_salvaged += copied;
    }
    cbuf_free(&blob);
    if (!rc && !c->o->dry_run)
        rc = store_flush(c->s);
    return rc;
}

/* With the copies durable: readers out, damaged packs deleted, what cannot
 * be healed moved aside, the index read back from the packs. */
static cairn_err remove_damage(rp_ctx *c)
{
    char hex[HEX_ID + 1], rel[STORE_NAME_MAX];
    const char *const verb = c->o->dry_run ? "would move" : "moved";
    cairn_err rc = CAIRN_OK;
    if (!c->o->dry_run) {
        rc = store_exclude_readers(c->s, 0);
        if (rc == CAIRN_ELOCKED) {
            if (c->o->waiting)
                c->o->waiting(c->o->waiting_ctx);
            rc = store_exclude_readers(c->s, 1);
        }
    }
    for (size_t i = 0; !rc && i < c->npacks; i++) {
        const rp_pack *const p = &c->packs[i];
        if (p->healed)
            continue;
        pack_hex(p->id, hex);
        if (!c->o->dry_run)
            rc = store_delete_pack(c->s, p->id, p->entries, p->count);
        if (!rc)
            say(c, "%s damaged pack %s", c->o->dry_run ? "would delete" : "deleted", hex);
    }
    for (size_t i = 0; !rc && i < c->nobjects; i++) {
        if (c->objects[i].healed)
            continue;
        fs_hex(c->objects[i].id, ID_LEN, hex);
        store_name_snapshot(c->objects[i].id, rel);
        if (!c->o->dry_run)
            rc = store_set_aside(c->s, rel);
        c->r->snapshots_set_aside++;
        if (!rc)
            say(c,
                "%s snapshot object %s to damaged/%s: it cannot be read, so the snapshot "
                "is gone (data only it needed is freed by the next prune)",
                verb, hex, rel);
    }
    for (size_t i = 0; !rc && i < c->nkeys; i++) {
        if (c->keys[i].healed)
            continue;
        rc = store_name_key(c->keys[i].id, rel);
        if (!rc && !c->o->dry_run)
            rc = store_set_aside(c->s, rel);
        c->r->keys_set_aside++;
        if (!rc)
            say(c,
                "%s key file %s to damaged/%s: its password no longer opens the store "
                "(give it one again with 'cairn key add')",
                verb, c->keys[i].id, rel);
    }
    if (!rc && !c->o->dry_run && c->npacks) {
        uint64_t packs, chunks;
        /* a chunk whose only whole copy is in another pack than the one the
         * index named is found again */
        rc = store_index_rebuild(c->s, &packs, &chunks);
    }
    return rc;
}

static void after_check_line(void *ctx, const char *line)
{
    rp_ctx *const c = ctx;
    say(c, "after repair: %s", line);
}

static void free_ctx(rp_ctx *c)
{
    for (size_t i = 0; i < c->npacks; i++) {
        free(c->packs[i].entries);
        idset_free(&c->packs[i].bad);
    }
    free(c->packs);
    for (size_t i = 0; i < c->ncands; i++)
        free(c->cands[i].ids);
    free(c->cands);
    free(c->objects);
    free(c->keys);
    free(c->chains);
    free(c->salvage);
    for (size_t i = 0; i < c->nrepl; i++)
        snapshot_free(&c->repl[i].nw);
    free(c->repl);
    idset_free(&c->local_packs);
    idset_free(&c->good);
    idset_free(&c->bad_chunks);
    idset_free(&c->missing);
    idset_free(&c->salvage_ok);
    store_worker_free(c->w);
    backend_close(c->src);
}

cairn_err repair_run(store *s, const repair_opts *opts, repair_result *result)
{
    rp_ctx c;
    char tmp[PATH_MAX];
    check_result cr;
    const check_opts co = {.read_data = 0, .report = after_check_line, .report_ctx = &c};
    const store_params *const p = store_get_params(s);
    memset(&c, 0, sizeof c);
    memset(result, 0, sizeof *result);
    c.s = s;
    c.o = opts;
    c.r = result;
    idset_init(&c.local_packs);
    idset_init(&c.good);
    idset_init(&c.bad_chunks);
    idset_init(&c.missing);
    idset_init(&c.salvage_ok);
    cairn_err rc = store_object_path(store_path(s), STORE_DIR_KEYS, c.keys_dir, sizeof c.keys_dir);
    if (!rc)
        rc = chunker_init(&c.ck, p->chunk_min, p->chunk_avg, p->chunk_max,
                          keyring_chunker_secret(store_keys(s)));
    if (!rc)
        rc = store_worker_new(s, &c.w);
    /* the source is checked before anything else: a wrong one changes nothing */
    if (!rc && opts->source)
        rc = store_tmp_path(s, "repair-fetch", tmp, sizeof tmp);
    if (!rc && opts->source)
        rc = open_source(opts->source, store_path(s), tmp, &c.src);
    /* 1. find the damage */
    if (!rc)
        rc = store_each_pack_file(s, scan_pack, &c);
    if (!rc)
        rc = scan_snapshot_objects(&c);
    if (!rc)
        rc = scan_keys(&c);
    if (!rc)
        rc = chains_each_damaged(s, note_damaged_chain, &c);
    if (!rc)
        rc = walk_all(&c, 0, 0);
    if (rc)
        goto done;
    if (!c.npacks && !c.missing.count && !c.nobjects && !c.nkeys && !c.nchains) {
        say(&c, "no damage found: %llu packs verified", (unsigned long long)result->packs);
        goto done;
    }
    /* 2. heal what the source holds */
    if (c.src) {
        rc = heal_keys(&c);
        if (!rc)
            rc = heal_objects(&c);
        if (!rc)
            rc = heal_packs(&c);
        if (!rc && !opts->dry_run)
            rc = walk_all(&c, 0, 0); /* healed trees and snapshots may need more */
        if (!rc)
            rc = heal_missing(&c);
        if (rc)
            goto done;
    }
    /* 3. salvage what is still damaged, and set aside what cannot be */
    rc = repair_chains(&c);
    if (!rc)
        rc = salvage(&c);
    if (!rc)
        rc = remove_damage(&c);
    if (rc)
        goto done;
    /* 4. snapshots that still need lost data are replaced by repaired ones */
    rc = walk_all(&c, !opts->dry_run, 1);
    if (!rc && !opts->dry_run)
        rc = write_repaired(&c);
    if (rc)
        goto done;
    if (opts->dry_run) {
        rc = err_set(CAIRN_ECORRUPT, "the store is damaged; nothing was changed (dry run)");
        goto done;
    }
    rc = check_run(s, &co, &cr);
    if (rc == CAIRN_ECORRUPT)
        rc = err_set(CAIRN_ECORRUPT, "the store is still damaged after repair (see above)");
    else if (!rc && (result->files_lost || result->folders_lost || result->catalogs_lost ||
                     result->snapshots_set_aside || result->keys_set_aside ||
                     result->chains_rebuilt || result->chains_set_aside))
        rc = err_set(CAIRN_EPARTIAL, "data was lost (listed above); the store is consistent "
                                     "again");
done:
    free_ctx(&c);
    return rc;
}
