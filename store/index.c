#include "store/index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <lmdb.h>

#include "util/codec.h"
#include "util/fsutil.h"

/* Value of a chunk record: pack id, offset, stored length, raw length
 * (u32le each) and flags. */
enum { LOC_LEN = PACK_ID_LEN + 13, PACKREC_LEN = 8, MAPSIZE_GIB = 64 };
/* release_map: smaller indexes stay mapped; it looks after every pack
 * indexed and every RELEASE_EVERY lookups or puts, and lets the map go once
 * this process's mapped file pages have grown by RELEASE_BUDGET since the
 * last time.  Each lookup touches a leaf page or two, and the kernel maps
 * the cached pages around a fault with it (fault-around, 64 KiB), so the
 * map grows fast; but every page let go is a fault when it is read next,
 * and on virtual machines a fault costs tens of microseconds: letting go
 * every 64 lookups, whatever was mapped, cost a 20 GB backup 19 s of its
 * 80 (docs/BENCHMARKS.md "Session 16"). */
enum { RELEASE_MIN = 16 << 20, RELEASE_EVERY = 64, RELEASE_BUDGET = 32 << 20 };
/* index_add_pack: chunks per transaction.  LMDB copies every page a
 * transaction writes into memory it keeps for the next one, and random IDs
 * put each chunk on a page of its own: one transaction for a pack of small
 * files (15,000 chunks in a 500,000-file backup) held 35 MB of copies. */
enum { TXN_ENTRIES = 2048 };

struct chunk_index {
    MDB_env *env;
    MDB_dbi chunks;
    MDB_dbi packs;
    MDB_dbi meta;
    void *map; /* where LMDB mapped data.mdb (NULL: not found, never released) */
    size_t map_len;
    int fd;               /* data.mdb */
    atomic_ulong lookups; /* release_map every RELEASE_EVERY */
    atomic_long mapped;   /* file pages resident after the last release (statm), or -1 */
    char dir[4096];
};

static cairn_err lmdb_err(const chunk_index *ix, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        return err_set(CAIRN_ENOSPC, "%s: index is full (%s)", ix->dir, what);
    if (rc == ENOSPC)
        return err_set(CAIRN_ENOSPC, "%s: disk full (%s)", ix->dir, what);
    if (rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_PAGE_NOTFOUND ||
        rc == MDB_VERSION_MISMATCH || rc == MDB_BAD_TXN)
        return err_set(CAIRN_ECORRUPT, "%s: index is damaged (%s: %s); run 'cairn index rebuild'",
                       ix->dir, what, mdb_strerror(rc));
    return err_set(CAIRN_EIO, "%s: %s: %s", ix->dir, what, mdb_strerror(rc));
}

/* LMDB does not say where it mapped the file (MDB_envinfo's address is
 * only set for a fixed map): the mapping of data.mdb's inode at offset 0
 * in /proc/self/maps.  Not found (no /proc): release_map does nothing. */
static void find_map(chunk_index *ix)
{
    mdb_filehandle_t fd;
    struct stat st;
    char *line = NULL;
    size_t cap = 0;
    if (mdb_env_get_fd(ix->env, &fd) != 0 || fstat(fd, &st) != 0)
        return;
    ix->fd = fd;
    FILE *const f = fopen("/proc/self/maps", "re");
    if (!f)
        return;
    while (getline(&line, &cap, f) > 0) {
        unsigned long lo, hi, off, ino;
        unsigned maj, min;
        if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off, &maj, &min, &ino) == 6 &&
            off == 0 && ino == (unsigned long)st.st_ino && makedev(maj, min) == st.st_dev) {
            ix->map = (void *)lo;
            ix->map_len = hi - lo;
            break;
        }
    }
    free(line);
    fclose(f);
}

/* This process's resident pages of mapped files (statm's third field:
 * the index's map, and code), or -1 if /proc does not say. */
static long mapped_file_pages(void)
{
    char buf[128];
    long pages = -1;
    const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    if (sscanf(buf, "%*s %*s %ld", &pages) != 1)
        return -1;
    return pages;
}

/* The map's pages belong to the page cache: dropping them from this
 * process once they have grown by RELEASE_BUDGET keeps its resident size
 * from growing with the index (chunk IDs are random, so a backup that adds
 * chunks touches every page of it: hundreds of MB for a phone's store), for
 * a minor fault when a page is read next.  The map is read-only (no
 * MDB_WRITEMAP), so a reader in another thread just faults the same bytes
 * back in.  A small index is left alone; without /proc it is let go every
 * time. */
static void release_map(chunk_index *ix)
{
    struct stat st;
    /* the file's size, not mdb_env_info: this runs in readers' threads too */
    if (!ix->map || fstat(ix->fd, &st) != 0)
        return;
    size_t used = (size_t)st.st_size;
    if (used > ix->map_len)
        used = ix->map_len;
    if (used < RELEASE_MIN)
        return;
    const long page = sysconf(_SC_PAGESIZE);
    const long now = mapped_file_pages(), before = atomic_load(&ix->mapped);
    if (now >= 0 && before >= 0 && page > 0 && now - before < RELEASE_BUDGET / page)
        return;
    (void)madvise(ix->map, used, MADV_DONTNEED);
    atomic_store(&ix->mapped, mapped_file_pages());
}

cairn_err index_open(const char *dir, const uint8_t store_id[16], chunk_index **out)
{
    MDB_txn *txn = NULL;
    MDB_val key = {8, "store_id"}, val;
    cairn_err err;
    int rc;
    chunk_index *const ix = calloc(1, sizeof *ix);
    if (!ix)
        return err_set(CAIRN_ENOMEM, "out of memory");
    atomic_init(&ix->lookups, 0);
    atomic_init(&ix->mapped, 0);
    snprintf(ix->dir, sizeof ix->dir, "%s", dir);
    err = fs_mkdirs(dir, 0700);
    if (err)
        goto fail_free;
    rc = mdb_env_create(&ix->env);
    if (rc) {
        err = lmdb_err(ix, rc, "create");
        goto fail_free;
    }
    mdb_env_set_maxdbs(ix->env, 4);
    mdb_env_set_mapsize(ix->env, (size_t)MAPSIZE_GIB << 30);
    /* NOTLS: worker threads each open short read transactions */
    rc = mdb_env_open(ix->env, dir, MDB_NOTLS, 0600);
    if (rc) {
        err = lmdb_err(ix, rc, "open");
        goto fail;
    }
    find_map(ix);
    rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, "chunks", MDB_CREATE, &ix->chunks);
    if (!rc)
        rc = mdb_dbi_open(txn, "packs", MDB_CREATE, &ix->packs);
    if (!rc)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ix->meta);
    if (rc) {
        err = lmdb_err(ix, rc, "open tables");
        goto fail;
    }
    rc = mdb_get(txn, ix->meta, &key, &val);
    if (rc == 0 && (val.mv_size != 16 || memcmp(val.mv_data, store_id, 16) != 0)) {
        /* an index left by another store at this path: start over */
        rc = mdb_drop(txn, ix->chunks, 0);
        if (!rc)
            rc = mdb_drop(txn, ix->packs, 0);
        if (!rc)
            rc = MDB_NOTFOUND;
    }
    if (rc == MDB_NOTFOUND) {
        val.mv_size = 16;
        val.mv_data = (void *)store_id;
        rc = mdb_put(txn, ix->meta, &key, &val, 0);
    }
    if (!rc)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    txn = NULL;
    if (rc) {
        err = lmdb_err(ix, rc, "open");
        goto fail;
    }
    *out = ix;
    return CAIRN_OK;
fail:
    mdb_env_close(ix->env);
fail_free:
    free(ix);
    return err;
}

void index_close(chunk_index *ix)
{
    if (!ix)
        return;
    mdb_env_close(ix->env);
    free(ix);
}

cairn_err index_lookup(chunk_index *ix, const uint8_t id[ID_LEN], index_loc *loc)
{
    MDB_txn *txn;
    MDB_val key = {ID_LEN, (void *)id}, val;
    int rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return lmdb_err(ix, rc, "read");
    rc = mdb_get(txn, ix->chunks, &key, &val);
    if (rc == 0 && val.mv_size == LOC_LEN) {
        const uint8_t *const v = val.mv_data;
        memcpy(loc->pack, v, PACK_ID_LEN);
        loc->offset = get_u32le(v + PACK_ID_LEN);
        loc->stored_len = get_u32le(v + PACK_ID_LEN + 4);
        loc->raw_len = get_u32le(v + PACK_ID_LEN + 8);
        loc->flags = v[PACK_ID_LEN + 12];
    }
    mdb_txn_abort(txn);
    if (atomic_fetch_add(&ix->lookups, 1) % RELEASE_EVERY == RELEASE_EVERY - 1)
        release_map(ix);
    if (rc == MDB_NOTFOUND)
        return CAIRN_ENOTFOUND;
    if (rc)
        return lmdb_err(ix, rc, "read");
    if (val.mv_size != LOC_LEN)
        return err_set(CAIRN_ECORRUPT, "%s: index record is damaged; run 'cairn index rebuild'",
                       ix->dir);
    return CAIRN_OK;
}

/* Puts entries[0..count) and, with pack_rec set, the pack's record, in one
 * transaction.  One without the record skips the meta page's flush
 * (MDB_NOMETASYNC: the database stays whole; a crash may undo it, which
 * leaves the pack unrecorded, as a crash before it would). */
static cairn_err put_entries(chunk_index *ix, const uint8_t pack_id[PACK_ID_LEN],
                             const uint8_t *pack_rec, const pack_entry *entries, size_t count)
{
    MDB_txn *txn;
    uint8_t v[LOC_LEN];
    MDB_val key, val;
    int rc = mdb_txn_begin(ix->env, NULL, pack_rec ? 0 : MDB_NOMETASYNC, &txn);
    if (rc)
        return lmdb_err(ix, rc, "write");
    memcpy(v, pack_id, PACK_ID_LEN);
    for (size_t i = 0; i < count && !rc; i++) {
        put_u32le(v + PACK_ID_LEN, entries[i].offset);
        put_u32le(v + PACK_ID_LEN + 4, entries[i].stored_len);
        put_u32le(v + PACK_ID_LEN + 8, entries[i].raw_len);
        v[PACK_ID_LEN + 12] = entries[i].flags;
        key.mv_size = ID_LEN;
        key.mv_data = (void *)entries[i].id;
        val.mv_size = LOC_LEN;
        val.mv_data = v;
        rc = mdb_put(txn, ix->chunks, &key, &val, 0);
        /* a pack of small files holds tens of thousands of chunks, each
         * put touching its own page of the map */
        if (i % RELEASE_EVERY == RELEASE_EVERY - 1)
            release_map(ix);
    }
    if (!rc && pack_rec) {
        key.mv_size = PACK_ID_LEN;
        key.mv_data = (void *)pack_id;
        val.mv_size = PACKREC_LEN;
        val.mv_data = (void *)pack_rec;
        rc = mdb_put(txn, ix->packs, &key, &val, 0);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return lmdb_err(ix, rc, "write");
    }
    rc = mdb_txn_commit(txn);
    if (rc)
        return lmdb_err(ix, rc, "commit");
    release_map(ix);
    return CAIRN_OK;
}

cairn_err index_add_pack(chunk_index *ix, const uint8_t pack[PACK_ID_LEN], uint64_t size,
                         const pack_entry *entries, size_t count)
{
    uint8_t pr[PACKREC_LEN];
    put_u64le(pr, size);
    /* the pack's record goes in last: a crash before it leaves the pack
     * unrecorded, and the open-time sync adds it again from its trailer */
    for (;;) {
        const size_t n = count > TXN_ENTRIES ? TXN_ENTRIES : count;
        const cairn_err rc = put_entries(ix, pack, n == count ? pr : NULL, entries, n);
        if (rc || n == count)
            return rc;
        entries += n;
        count -= n;
    }
}

cairn_err index_has_pack(chunk_index *ix, const uint8_t pack[PACK_ID_LEN], int *has)
{
    MDB_txn *txn;
    MDB_val key = {PACK_ID_LEN, (void *)pack}, val;
    int rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return lmdb_err(ix, rc, "read");
    rc = mdb_get(txn, ix->packs, &key, &val);
    mdb_txn_abort(txn);
    if (rc && rc != MDB_NOTFOUND)
        return lmdb_err(ix, rc, "read");
    *has = rc == 0;
    return CAIRN_OK;
}

cairn_err index_remove_pack(chunk_index *ix, const uint8_t pack[PACK_ID_LEN],
                            const pack_entry *entries, size_t count)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val key = {PACK_ID_LEN, (void *)pack}, k, v;
    int rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
    if (rc)
        return lmdb_err(ix, rc, "write");
    if (entries) {
        /* only records still pointing here: a chunk repacked elsewhere stays */
        for (size_t i = 0; i < count && !rc; i++) {
            k.mv_size = ID_LEN;
            k.mv_data = (void *)entries[i].id;
            rc = mdb_get(txn, ix->chunks, &k, &v);
            if (rc == 0 && v.mv_size >= PACK_ID_LEN && memcmp(v.mv_data, pack, PACK_ID_LEN) == 0)
                rc = mdb_del(txn, ix->chunks, &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    } else {
        rc = mdb_cursor_open(txn, ix->chunks, &cur);
        if (!rc) {
            int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
            while (r == 0) {
                if (v.mv_size >= PACK_ID_LEN && memcmp(v.mv_data, pack, PACK_ID_LEN) == 0) {
                    r = mdb_cursor_del(cur, 0);
                    if (r)
                        break;
                }
                r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            }
            mdb_cursor_close(cur);
            rc = r == MDB_NOTFOUND ? 0 : r;
        }
    }
    if (!rc) {
        rc = mdb_del(txn, ix->packs, &key, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc) {
        mdb_txn_abort(txn);
        return lmdb_err(ix, rc, "remove pack");
    }
    rc = mdb_txn_commit(txn);
    return rc ? lmdb_err(ix, rc, "commit") : CAIRN_OK;
}

cairn_err index_each_pack(chunk_index *ix, index_pack_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    cairn_err err = CAIRN_OK;
    int rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return lmdb_err(ix, rc, "read");
    rc = mdb_cursor_open(txn, ix->packs, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return lmdb_err(ix, rc, "read");
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && err == CAIRN_OK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != PACK_ID_LEN || v.mv_size != PACKREC_LEN) {
            err = err_set(CAIRN_ECORRUPT, "%s: pack record damaged; run 'cairn index rebuild'",
                          ix->dir);
            break;
        }
        err = fn(ctx, k.mv_data, get_u64le(v.mv_data));
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (err == CAIRN_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = lmdb_err(ix, rc, "read");
    return err;
}

cairn_err index_count(chunk_index *ix, uint64_t *chunks, uint64_t *packs)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return lmdb_err(ix, rc, "read");
    rc = mdb_stat(txn, ix->chunks, &st);
    if (!rc) {
        *chunks = st.ms_entries;
        rc = mdb_stat(txn, ix->packs, &st);
        *packs = st.ms_entries;
    }
    mdb_txn_abort(txn);
    return rc ? lmdb_err(ix, rc, "stat") : CAIRN_OK;
}

cairn_err index_clear(chunk_index *ix)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
    if (rc)
        return lmdb_err(ix, rc, "write");
    rc = mdb_drop(txn, ix->chunks, 0);
    if (!rc)
        rc = mdb_drop(txn, ix->packs, 0);
    if (rc) {
        mdb_txn_abort(txn);
        return lmdb_err(ix, rc, "clear");
    }
    rc = mdb_txn_commit(txn);
    return rc ? lmdb_err(ix, rc, "commit") : CAIRN_OK;
}
