#include "store/pack.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util/codec.h"
#include "util/fsutil.h"
#include "util/grow.h"
#include "store/layout.h"

static const uint8_t pack_magic[PACK_HEADER_LEN] = {'C', 'A', 'I', 'R', 'N', 'P', 'K', 1};
static const uint8_t footer_magic[8] = {'C', 'A', 'I', 'R', 'N', 'E', 'N', 'D'};
static const uint8_t trailer_ad[8] = {'C', 'A', 'I', 'R', 'N', 'T', 'R', 1};

/* Blobs are gathered in memory and written a megabyte at a time: a
 * system call a megabyte instead of one a blob, and the kernel fills its page cache in
 * large folios rather than a few pages at a time (measured in
 * docs/BENCHMARKS.md, session 18). */
enum { PACK_WRITE_BUF = 1 << 20 };

struct pack_writer {
    int fd;
    char tmp_path[PATH_MAX];
    uint64_t size; /* bytes of the pack so far, written or gathered */
    uint8_t *buf;  /* gathered bytes not yet written: the pack's last ones */
    size_t buffered;
    int broken; /* a write failed: what the file holds is unknown */
    pack_entry *entries;
    size_t count;
    size_t cap;
    int finished;
};

cairn_err pack_writer_open(const char *tmp_dir, pack_writer **out)
{
    uint8_t rnd[16];
    char hex[33];
    cairn_err rc;
    pack_writer *const w = calloc(1, sizeof *w);
    if (!w)
        return err_set(CAIRN_ENOMEM, "out of memory");
    randombytes_buf(rnd, sizeof rnd);
    fs_hex(rnd, sizeof rnd, hex);
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s/pack-%s.tmp", tmp_dir, hex);
    w->buf = malloc(PACK_WRITE_BUF);
    if (!w->buf) {
        free(w);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        rc = err_errno(errno, w->tmp_path);
        free(w->buf);
        free(w);
        return rc;
    }
    memcpy(w->buf, pack_magic, sizeof pack_magic);
    w->buffered = w->size = PACK_HEADER_LEN;
    *out = w;
    return CAIRN_OK;
}

/* Writes the gathered bytes at the end of the file. */
static cairn_err write_gathered(pack_writer *w)
{
    if (w->broken)
        return err_set(CAIRN_EIO, "%s: an earlier write failed", w->tmp_path);
    const cairn_err rc = fs_write_all(w->fd, w->buf, w->buffered, w->tmp_path);
    w->broken = rc != CAIRN_OK;
    w->buffered = 0;
    return rc;
}

/* Appends p[0..len) to the pack: gathered, the gathered bytes written first
 * when it does not fit; larger than the buffer, written straight after them. */
static cairn_err gather(pack_writer *w, const uint8_t *p, size_t len)
{
    cairn_err rc = len > PACK_WRITE_BUF - w->buffered ? write_gathered(w) : CAIRN_OK;
    if (rc)
        return rc;
    if (len <= PACK_WRITE_BUF) {
        memcpy(w->buf + w->buffered, p, len);
        w->buffered += len;
        return CAIRN_OK;
    }
    rc = fs_write_all(w->fd, p, len, w->tmp_path);
    w->broken = rc != CAIRN_OK;
    return rc;
}

cairn_err pack_writer_add(pack_writer *w, pack_entry *e, const uint8_t *blob, size_t len)
{
    if (len > PACK_MAX_BLOB || w->count >= PACK_MAX_ENTRIES || w->size + len > UINT32_MAX)
        return err_set(CAIRN_EINVAL, "%s: pack full", w->tmp_path);
    if (w->broken)
        return err_set(CAIRN_EIO, "%s: an earlier write failed", w->tmp_path);
    /* blobs tile the pack from the header on, so each starts where the last ends */
    assert(!w->finished && (w->count ? w->entries[w->count - 1].offset +
                                           (uint64_t)w->entries[w->count - 1].stored_len
                                     : (uint64_t)PACK_HEADER_LEN) == w->size);
    cairn_err rc = util_grow(&w->entries, &w->cap, w->count + 1, sizeof *w->entries);
    if (rc)
        return rc;
    if ((rc = gather(w, blob, len)) != CAIRN_OK)
        return rc;
    e->offset = (uint32_t)w->size;
    e->stored_len = (uint32_t)len;
    w->entries[w->count++] = *e;
    w->size += len;
    return CAIRN_OK;
}

uint64_t pack_writer_size(const pack_writer *w)
{
    return w->size;
}

size_t pack_writer_count(const pack_writer *w)
{
    return w->count;
}

const pack_entry *pack_writer_entries(const pack_writer *w)
{
    return w->entries;
}

void pack_blob_ad(const pack_entry *e, uint8_t ad[ID_LEN + 1])
{
    memcpy(ad, e->id, ID_LEN);
    ad[ID_LEN] = e->flags;
}

cairn_err pack_path(const char *packs_dir, const uint8_t id[PACK_ID_LEN], char *out, size_t cap)
{
    char name[STORE_NAME_MAX];
    store_name_pack(id, name);
    /* the name is "packs/xx/<id>"; packs_dir stands for its first folder */
    if (snprintf(out, cap, "%s/%s", packs_dir, name + sizeof STORE_DIR_PACKS) >= (int)cap)
        return err_set(CAIRN_EINVAL, "%s: path too long", packs_dir);
    return CAIRN_OK;
}

static void encode_entries(cbuf *b, const pack_entry *e, size_t n)
{
    cbuf_varint(b, n);
    for (size_t i = 0; i < n; i++) {
        cbuf_put(b, e[i].id, ID_LEN);
        cbuf_u8(b, e[i].flags);
        cbuf_varint(b, e[i].offset);
        cbuf_varint(b, e[i].stored_len);
        cbuf_varint(b, e[i].raw_len);
    }
}

cairn_err pack_writer_finish(pack_writer *w, const uint8_t key[SEAL_KEY_LEN], const char *packs_dir,
                             uint8_t pack_id[PACK_ID_LEN])
{
    cbuf plain, sealed;
    char final[PATH_MAX], dir[PATH_MAX];
    cairn_err rc;
    cbuf_init(&plain);
    cbuf_init(&sealed);
    /* the trailer starts right after the last blob (the reader checks this) */
    assert(!w->finished && (w->count ? w->entries[w->count - 1].offset +
                                           (uint64_t)w->entries[w->count - 1].stored_len
                                     : (uint64_t)PACK_HEADER_LEN) == w->size);
    encode_entries(&plain, w->entries, w->count);
    uint8_t *const out = cbuf_reserve(&sealed, plain.len + SEAL_OVERHEAD + PACK_FOOTER_LEN);
    if (plain.failed || !out) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto done;
    }
    seal_box(key, trailer_ad, sizeof trailer_ad, plain.data, plain.len, out);
    const size_t trailer_len = plain.len + SEAL_OVERHEAD;
    put_u32le(out + trailer_len, (uint32_t)trailer_len);
    put_u32le(out + trailer_len + 4, 1);
    memcpy(out + trailer_len + 8, footer_magic, sizeof footer_magic);
    rc = gather(w, out, trailer_len + PACK_FOOTER_LEN);
    if (!rc)
        rc = write_gathered(w);
    if (rc)
        goto done;
    if (fsync(w->fd) != 0) {
        rc = err_errno(errno, w->tmp_path);
        goto done;
    }
    /* A pack is read again only by restore or check: its clean pages leave
     * the cache now rather than push the user's files out, and the next
     * pack reuses them (filling ever new cache pages costs more CPU than
     * the copy itself on virtual machines). */
    posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
    randombytes_buf(pack_id, PACK_ID_LEN);
    rc = pack_path(packs_dir, pack_id, final, sizeof final);
    if (rc)
        goto done;
    snprintf(dir, sizeof dir, "%s", final);
    *strrchr(dir, '/') = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = err_errno(errno, dir);
        goto done;
    }
    if (rename(w->tmp_path, final) != 0) {
        rc = err_errno(errno, final);
        goto done;
    }
    w->finished = 1;
    w->size += trailer_len + PACK_FOOTER_LEN;
    rc = fs_fsync_dir(dir);
done:
    cbuf_free(&plain);
    cbuf_free(&sealed);
    return rc;
}

void pack_writer_free(pack_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (!w->finished)
        unlink(w->tmp_path);
    free(w->buf);
    free(w->entries);
    free(w);
}

cairn_err pack_decode_entries(const uint8_t *plain, size_t len, pack_entry **entries, size_t *count)
{
    creader r;
    cr_init(&r, plain, len);
    const uint64_t n = cr_varint(&r);
    /* every entry takes at least 36 bytes, so n is bounded by len */
    if (r.failed || n > PACK_MAX_ENTRIES || n > len / 36)
        return err_set(CAIRN_ECORRUPT, "pack trailer: bad entry count");
    pack_entry *const e = calloc(n ? (size_t)n : 1, sizeof *e);
    if (!e)
        return err_set(CAIRN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const uint8_t *const id = cr_bytes(&r, ID_LEN);
        if (id)
            memcpy(e[i].id, id, ID_LEN);
        e[i].flags = cr_u8(&r);
        const uint64_t off = cr_varint(&r), stored = cr_varint(&r), raw = cr_varint(&r);
        if (r.failed || off > UINT32_MAX || stored > PACK_MAX_BLOB || raw > PACK_MAX_BLOB ||
            stored < SEAL_OVERHEAD || (e[i].flags & ~PACK_FLAGS_KNOWN)) {
            free(e);
            return err_set(CAIRN_ECORRUPT, "pack trailer: bad entry %zu", i);
        }
        e[i].offset = (uint32_t)off;
        e[i].stored_len = (uint32_t)stored;
        e[i].raw_len = (uint32_t)raw;
    }
    if (r.left != 0) {
        free(e);
        return err_set(CAIRN_ECORRUPT, "pack trailer: trailing bytes");
    }
    *entries = e;
    *count = (size_t)n;
    return CAIRN_OK;
}

static cairn_err fd_read(void *ctx, uint64_t off, size_t len, uint8_t *buf, const char *path)
{
    return fs_pread_all(*(const int *)ctx, buf, len, off, path);
}

cairn_err pack_read_trailer(int fd, const char *path, const uint8_t key[SEAL_KEY_LEN],
                            pack_entry **entries, size_t *count, uint64_t *file_size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return err_errno(errno, path);
    return pack_read_trailer_with(fd_read, &fd, (uint64_t)st.st_size, path, key, entries, count,
                                  file_size);
}

cairn_err pack_read_trailer_with(pack_read_fn rd, void *ctx, uint64_t size, const char *path,
                                 const uint8_t key[SEAL_KEY_LEN], pack_entry **entries,
                                 size_t *count, uint64_t *file_size)
{
    uint8_t head[PACK_HEADER_LEN], foot[PACK_FOOTER_LEN];
    uint8_t *sealed = NULL, *plain = NULL;
    pack_entry *e = NULL;
    size_t n = 0;
    cairn_err rc;
    if (size < PACK_HEADER_LEN + PACK_FOOTER_LEN + SEAL_OVERHEAD)
        return err_set(CAIRN_ECORRUPT, "%s: pack is truncated (%llu bytes)", path,
                       (unsigned long long)size);
    rc = rd(ctx, 0, sizeof head, head, path);
    if (rc == CAIRN_OK)
        rc = rd(ctx, size - PACK_FOOTER_LEN, sizeof foot, foot, path);
    if (rc)
        return rc;
    if (memcmp(head, pack_magic, sizeof pack_magic) != 0)
        return err_set(CAIRN_ECORRUPT, "%s: not a cairn pack (bad header)", path);
    if (memcmp(foot + 8, footer_magic, sizeof footer_magic) != 0 || get_u32le(foot + 4) != 1)
        return err_set(CAIRN_ECORRUPT, "%s: pack footer is damaged or the pack is truncated", path);
    const uint32_t tlen = get_u32le(foot);
    if (tlen < SEAL_OVERHEAD || tlen > size - PACK_HEADER_LEN - PACK_FOOTER_LEN)
        return err_set(CAIRN_ECORRUPT, "%s: pack trailer length is damaged", path);
    sealed = malloc(tlen);
    plain = malloc(tlen);
    if (!sealed || !plain) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto done;
    }
    const uint64_t toff = size - PACK_FOOTER_LEN - tlen;
    rc = rd(ctx, toff, tlen, sealed, path);
    if (rc)
        goto done;
    rc = seal_open(key, trailer_ad, sizeof trailer_ad, sealed, tlen, plain);
    if (rc) {
        rc = err_set(CAIRN_ECORRUPT, "%s: pack trailer fails authentication (damaged)", path);
        goto done;
    }
    rc = pack_decode_entries(plain, tlen - SEAL_OVERHEAD, &e, &n);
    if (rc) {
        rc = err_wrap(rc, path);
        goto done;
    }
    uint64_t expect = PACK_HEADER_LEN;
    for (size_t i = 0; i < n; i++) {
        if (e[i].offset != expect) {
            rc = err_set(CAIRN_ECORRUPT, "%s: pack entries do not tile the file", path);
            goto done;
        }
        expect += e[i].stored_len;
    }
    if (expect != toff) {
        rc = err_set(CAIRN_ECORRUPT, "%s: pack entries do not tile the file", path);
        goto done;
    }
    *entries = e;
    *count = n;
    *file_size = size;
    e = NULL;
done:
    free(e);
    free(sealed);
    free(plain);
    return rc;
}
