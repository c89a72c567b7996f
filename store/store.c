#include "store/store.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "store/blob.h"
#include "util/fsutil.h"
#include "util/grow.h"
#include "util/idset.h"
#include "store/index.h"
#include "store/seal.h"
#include "store/session_key.h"

/* config: "CAIRNCFG", u32le format version, then a sealed body (AD = the
 * first 12 bytes) holding store id and parameters. */
static const uint8_t config_magic[8] = {'C', 'A', 'I', 'R', 'N', 'C', 'F', 'G'};
static const uint8_t snapshot_ad[8] = {'C', 'A', 'I', 'R', 'N', 'S', 'N', 1};
static const uint8_t chain_ad[8] = {'C', 'A', 'I', 'R', 'N', 'C', 'H', 1};
/* The body is CONFIG_BODY_V1 bytes in a store without content-aware
 * chunking (every store made before it, and any made with it off, so that
 * such a store reads exactly as before) and CONFIG_BODY with it. */
enum {
    CONFIG_HEAD = 12,
    CONFIG_BODY_V1 = 16 + 4 * 5 + 8,
    CONFIG_BODY = CONFIG_BODY_V1 + 4 * 3,
    STORE_ID_LEN = 16,
    PACK_FD_CACHE = 8,
    /* store_prefetch reads over a gap this small between two chunks of one
     * pack (another file's chunks, most likely wanted soon) in one advice */
    PREFETCH_GAP = 256 << 10,
    /* store_get_chunk_of reads up to this many chunks, this many bytes,
     * of a list in one pread when they lie one after another in a pack */
    RUN_CHUNKS = 64,
    RUN_BYTES = 1 << 20
};

struct store {
    char path[PATH_MAX];
    char packs[PATH_MAX];
    char snapshots[PATH_MAX];
    char chains[PATH_MAX];
    char tmp[PATH_MAX];
    keyring *keys;
    store_params params;
    uint8_t store_id[STORE_ID_LEN];
    chunk_index *ix;
    int lock_fd;
    int read_only;                /* on a read-only file system: no locks, index cached elsewhere */
    int readers_fd;               /* shared by readers, exclusive while prune deletes */
    int index_rebuilt;            /* the index was damaged and read back from packs */
    char key_id[KEYS_ID_HEX + 1]; /* the key file that opened the store */
    const store_pack_source *src; /* packs read on demand (store_open_remote), or NULL */
    pthread_mutex_t src_mu;       /* one call of src at a time */

    pthread_mutex_t seen_mu; /* guards seen */
    idset seen;              /* chunks put in this session and not yet in the index (the
                              * packs still open or finishing): the index answers for the
                              * rest, so the set stays a few packs small however many
                              * chunks a backup has */

    pthread_mutex_t pack_mu; /* guards idle, finishing and the finisher's fields */
    pthread_cond_t pack_cv;
    /* open packs nobody is appending to, the last used first: [0] file
     * data, [1] trees (which every ls, diff and restore reads first, so they
     * stay together and apart from the bulk of the bytes, as restic keeps
     * them) */
    struct open_pack *idle[2];
    int finishing; /* packs closed but not yet durable and indexed */

    /* One pack at a time is made durable and indexed by a background thread,
     * so the worker that closed it goes back to hashing and sealing while the
     * fsync waits on the disk; a second closed pack waits for the slot, which
     * bounds the memory and the data not yet durable. */
    pthread_t finisher;
    int finisher_started, finisher_stop;
    struct open_pack *finisher_pack; /* handed over, being finished (pack_mu) */
    cairn_err finisher_failed;       /* first failure, reported once by a put or flush */
    char finisher_msg[512];
};

/* A pack being filled.  One put at a time appends to it, outside pack_mu:
 * it takes the pack off the idle list and puts it back, so two workers
 * fill two packs and never wait on each other's writes. */
typedef struct open_pack {
    pack_writer *pw;
    struct open_pack *next; /* on the idle list */
    cairn_err failed;
    char failed_msg[512];
} open_pack;

struct store_worker {
    store *s;
    blob_ctx *bc;
    cbuf blob;
    struct {
        uint8_t pack[PACK_ID_LEN];
        int fd;
    } fds[PACK_FD_CACHE];
    unsigned next_fd;
    /* store_get_chunk_of: the stored bytes of adjacent chunks read at once
     * (from run_off in one pack), their entries, the next one expected */
    cbuf run;
    char run_path[PATH_MAX];
    uint64_t run_off;
    pack_entry run_e[RUN_CHUNKS];
    uint32_t run_n, run_next;
};

cairn_err store_default_path(const char *explicit_path, char *out, size_t cap)
{
    const char *const env = getenv("CAIRN_STORE");
    const char *const xdg = getenv("XDG_DATA_HOME");
    const char *const home = getenv("HOME");
    int n;
    if (explicit_path && *explicit_path)
        n = snprintf(out, cap, "%s", explicit_path);
    else if (env && *env)
        n = snprintf(out, cap, "%s", env);
    else if (xdg && *xdg)
        n = snprintf(out, cap, "%s/cairn/store", xdg);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.local/share/cairn/store", home);
    else
        return err_set(CAIRN_EINVAL, "no store given: use --store, CAIRN_STORE or set HOME");
    if (n < 0 || (size_t)n >= cap)
        return err_set(CAIRN_EINVAL, "store path too long");
    return CAIRN_OK;
}

static cairn_err set_paths(store *s, const char *path)
{
    if (snprintf(s->path, sizeof s->path, "%s", path) >= (int)sizeof s->path ||
        snprintf(s->packs, sizeof s->packs, "%s/" STORE_DIR_PACKS, path) >= (int)sizeof s->packs ||
        snprintf(s->snapshots, sizeof s->snapshots, "%s/" STORE_DIR_SNAPSHOTS, path) >=
            (int)sizeof s->snapshots ||
        snprintf(s->tmp, sizeof s->tmp, "%s/" STORE_DIR_TMP, path) >= (int)sizeof s->tmp ||
        snprintf(s->chains, sizeof s->chains, "%s/" STORE_DIR_CHAINS, path) >=
            (int)sizeof s->chains)
        return err_set(CAIRN_EINVAL, "%s: path too long", path);
    return CAIRN_OK;
}

/* The length of the config body for these parameters. */
static size_t config_body_len(const store_params *p)
{
    return p->sqlite_chunk || p->media_chunk || p->chunk_flags ? CONFIG_BODY : CONFIG_BODY_V1;
}

/* A fixed chunk size of the content-aware chunking is 0 (off) or a power of
 * two from 512 bytes (the smallest SQLite page) up to chunk_max, which bounds
 * every chunk buffer. */
static int fixed_chunk_ok(uint32_t n, uint32_t chunk_max)
{
    return n == 0 || (n >= 512 && n <= chunk_max && (n & (n - 1)) == 0);
}

static void encode_config_body(const store *s, uint8_t body[CONFIG_BODY])
{
    memcpy(body, s->store_id, STORE_ID_LEN);
    put_u32le(body + 16, s->params.chunk_min);
    put_u32le(body + 20, s->params.chunk_avg);
    put_u32le(body + 24, s->params.chunk_max);
    put_u32le(body + 28, s->params.pack_target);
    put_u32le(body + 32, (uint32_t)s->params.zstd_level);
    put_u64le(body + 36, (uint64_t)time(NULL));
    put_u32le(body + 44, s->params.sqlite_chunk);
    put_u32le(body + 48, s->params.media_chunk);
    put_u32le(body + 52, s->params.chunk_flags);
}

cairn_err store_create(const char *path, const char *password, size_t password_len,
                       const keys_kdf *kdf, const store_params *params)
{
    char keys_dir[PATH_MAX + 8], sub[PATH_MAX + 16];
    uint8_t cfg[CONFIG_HEAD + CONFIG_BODY + SEAL_OVERHEAD], body[CONFIG_BODY];
    char key_id[KEYS_ID_HEX + 1];
    struct stat st;
    cairn_err rc;
    store *const s = calloc(1, sizeof *s);
    if (!s)
        return err_set(CAIRN_ENOMEM, "out of memory");
    rc = set_paths(s, path);
    if (rc)
        goto done;
    snprintf(sub, sizeof sub, "%s/" STORE_NAME_CONFIG, path);
    if (stat(sub, &st) == 0) {
        rc = err_set(CAIRN_EEXIST, "%s: a cairn store already exists here", path);
        goto done;
    }
    if (stat(path, &st) == 0) {
        DIR *const d = opendir(path);
        struct dirent *de;
        int entries = 0;
        if (!d) {
            rc = err_errno(errno, path);
            goto done;
        }
        while ((de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                entries++;
        closedir(d);
        if (entries) {
            rc = err_set(CAIRN_EEXIST, "%s: folder is not empty; a store needs its own folder",
                         path);
            goto done;
        }
    }
    if (!fixed_chunk_ok(params->sqlite_chunk, params->chunk_max) ||
        !fixed_chunk_ok(params->media_chunk, params->chunk_max) ||
        (params->chunk_flags & ~(uint32_t)STORE_SQLITE_FIXED)) {
        rc = err_set(CAIRN_EINVAL,
                     "chunk sizes %u and %u must be 0 or a power of two from 512 to %u",
                     (unsigned)params->sqlite_chunk, (unsigned)params->media_chunk,
                     (unsigned)params->chunk_max);
        goto done;
    }
    s->params = *params;
    randombytes_buf(s->store_id, sizeof s->store_id);
    snprintf(keys_dir, sizeof keys_dir, "%s/" STORE_DIR_KEYS, path);
    rc = fs_mkdirs(keys_dir, 0700);
    if (!rc)
        rc = fs_mkdirs(s->packs, 0700);
    if (!rc)
        rc = fs_mkdirs(s->snapshots, 0700);
    if (!rc)
        rc = fs_mkdirs(s->tmp, 0700);
    if (rc)
        goto done;
    for (unsigned i = 0; i < 256 && !rc; i++) {
        snprintf(sub, sizeof sub, "%s/%02x", s->packs, i);
        if (mkdir(sub, 0700) != 0 && errno != EEXIST)
            rc = err_errno(errno, sub);
    }
    if (rc)
        goto done;
    rc = keys_create(keys_dir, password, password_len, kdf, &s->keys, key_id);
    if (rc)
        goto done;
    memcpy(cfg, config_magic, sizeof config_magic);
    put_u32le(cfg + 8, STORE_FORMAT_VERSION);
    encode_config_body(s, body);
    const size_t body_len = config_body_len(&s->params);
    seal_box(keyring_seal_key(s->keys), cfg, CONFIG_HEAD, body, body_len, cfg + CONFIG_HEAD);
    /* the config goes last: until it exists the folder is not a store */
    rc =
        fs_write_atomic(path, STORE_NAME_CONFIG, cfg, CONFIG_HEAD + body_len + SEAL_OVERHEAD, 0600);
    if (!rc)
        rc = fs_fsync_dir(path);
done:
    keyring_free(s->keys);
    free(s);
    return rc;
}

/* A store on a read-only medium (a write-protected drive, a read-only
 * mount): nothing can write there, so readers need no lock and the index
 * cache lives in the user's cache folder. */
static int is_read_only_fs(const char *path)
{
    struct statvfs sv;
    return statvfs(path, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

/* Network filesystems where LMDB's locking and mmap are unsafe. */
static int is_network_fs(const char *path)
{
    struct statfs sf;
    if (statfs(path, &sf) != 0)
        return 0;
    switch ((unsigned long)sf.f_type) {
    case 0x6969UL:     /* NFS */
    case 0x517BUL:     /* SMB */
    case 0xFF534D42UL: /* CIFS */
    case 0xFE534D42UL: /* SMB2 */
    case 0x65735546UL: /* FUSE (sshfs, rclone...) */
    case 0x01021997UL: /* 9P */
    case 0x00C36400UL: /* Ceph */
    case 0x5346414FUL: /* AFS */
        return 1;
    default:
        return 0;
    }
}

static cairn_err index_dir(const store *s, char *out, size_t cap)
{
    char hex[2 * STORE_ID_LEN + 1];
    if (!is_network_fs(s->path) && !s->read_only) {
        snprintf(out, cap, "%s/" STORE_DIR_INDEX, s->path);
        return CAIRN_OK;
    }
    const char *const xdg = getenv("XDG_CACHE_HOME");
    const char *const home = getenv("HOME");
    fs_hex(s->store_id, STORE_ID_LEN, hex);
    if (xdg && *xdg)
        snprintf(out, cap, "%s/cairn/index-%s", xdg, hex);
    else if (home && *home)
        snprintf(out, cap, "%s/.cache/cairn/index-%s", home, hex);
    else
        return err_set(CAIRN_EINVAL,
                       "%s: store is on a network share or a read-only medium and there "
                       "is no local cache folder for its index (set XDG_CACHE_HOME)",
                       s->path);
    return CAIRN_OK;
}

/* The pid the lock's holder wrote into the lock file ("unknown" if none). */
static void lock_holder(int fd, char *out, size_t cap)
{
    const ssize_t n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    if (!*out)
        snprintf(out, cap, "unknown");
}

/* A wait in the units a user wrote it in: 2h, 10m or 45s. */
static void wait_text(unsigned seconds, char *out, size_t cap)
{
    if (seconds >= 3600 && seconds % 3600 == 0)
        snprintf(out, cap, "%uh", seconds / 3600);
    else if (seconds >= 60 && seconds % 60 == 0)
        snprintf(out, cap, "%um", seconds / 60);
    else
        snprintf(out, cap, "%us", seconds);
}

static double now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static cairn_err take_writer_lock(store *s, const store_wait *wait)
{
    char path[PATH_MAX + 8], pidbuf[32];
    const unsigned limit = wait ? wait->seconds : 0;
    snprintf(path, sizeof path, "%s/" STORE_NAME_LOCK, s->path);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return err_errno(errno, path);
    /* flock dies with its process, so a kill -9 never leaves a stale lock.
     * Waiting polls rather than blocking in flock so that the wait has an
     * end, and so that a new holder's pid is the one reported. */
    const double start = now_monotonic();
    int told = 0;
    while (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR)
            return err_errno(errno, path);
        lock_holder(s->lock_fd, pidbuf, sizeof pidbuf);
        if (limit == 0)
            return err_set(CAIRN_ELOCKED,
                           "%s: store is in use by another cairn process (pid %s); try again "
                           "when it has finished",
                           s->path, pidbuf);
        if (now_monotonic() - start >= (double)limit) {
            char waited[16];
            wait_text(limit, waited, sizeof waited);
            return err_set(CAIRN_ELOCKED,
                           "%s: store is still in use by another cairn process (pid %s) after "
                           "waiting %s",
                           s->path, pidbuf, waited);
        }
        if (!told && wait->waiting)
            wait->waiting(wait->ctx, pidbuf);
        told = 1;
        const struct timespec tick = {0, 200 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    const int n = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pidbuf, (size_t)n, 0) != n)
        return err_errno(errno, path);
    return CAIRN_OK;
}

static cairn_err open_readers_lock(store *s)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/" STORE_NAME_LOCK ".readers", s->path);
    s->readers_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->readers_fd < 0 && errno == EACCES)
        s->readers_fd = open(path, O_RDONLY | O_CLOEXEC);
    return s->readers_fd < 0 ? err_errno(errno, path) : CAIRN_OK;
}

/* Readers only wait while a prune is deleting packs: as long as it takes,
 * or with a wait of some seconds that long at most, said once. */
static cairn_err take_reader_lock(store *s, const store_wait *wait)
{
    char path[PATH_MAX + 8], pidbuf[32] = "unknown";
    cairn_err rc = open_readers_lock(s);
    if (rc)
        return rc == CAIRN_ENOTFOUND ? CAIRN_OK : rc; /* read-only copy of a store */
    const double start = now_monotonic();
    int told = 0;
    while (wait && wait->seconds && flock(s->readers_fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR)
            return err_errno(errno, s->path);
        if (now_monotonic() - start >= (double)wait->seconds) {
            char waited[16];
            wait_text(wait->seconds, waited, sizeof waited);
            return err_set(CAIRN_ELOCKED,
                           "%s: a prune (pid %s) is still deleting packs after waiting %s", s->path,
                           pidbuf, waited);
        }
        if (!told) {
            /* the prune holds the writer lock, which names it */
            snprintf(path, sizeof path, "%s/" STORE_NAME_LOCK, s->path);
            const int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                lock_holder(fd, pidbuf, sizeof pidbuf);
                close(fd);
            }
            if (wait->waiting)
                wait->waiting(wait->ctx, pidbuf);
        }
        told = 1;
        const struct timespec tick = {0, 200 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    if (wait && wait->seconds)
        return CAIRN_OK;
    while (flock(s->readers_fd, LOCK_SH) != 0)
        if (errno != EINTR)
            return err_errno(errno, s->path);
    return CAIRN_OK;
}

cairn_err store_exclude_readers(store *s, int wait)
{
    cairn_err rc = s->readers_fd >= 0 ? CAIRN_OK : open_readers_lock(s);
    if (rc)
        return rc;
    if (flock(s->readers_fd, LOCK_EX | LOCK_NB) == 0)
        return CAIRN_OK;
    if (!wait)
        return err_set(CAIRN_ELOCKED, "%s: readers (restore, check) have the store open", s->path);
    while (flock(s->readers_fd, LOCK_EX) != 0)
        if (errno != EINTR)
            return err_errno(errno, s->path);
    return CAIRN_OK;
}

/* Leftovers of a killed writer: packs that never got their final name. */
static void remove_tmp_files(const store *s)
{
    DIR *const d = opendir(s->tmp);
    struct dirent *de;
    char path[PATH_MAX + 300];
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        snprintf(path, sizeof path, "%s/%s", s->tmp, de->d_name);
        unlink(path);
    }
    closedir(d);
}

struct sync_ctx {
    store *s;
    uint8_t (*gone)[PACK_ID_LEN];
    size_t ngone, capgone;
    const idset *listed; /* packs read on demand: the source's, else NULL (the folder's) */
};

/* A pack's trailer entries and size; with data, its whole contents too
 * (malloc'd), for the callers that open every blob. */
static cairn_err read_pack_fd(const store *s, int fd, const char *path, pack_entry **entries,
                              size_t *count, uint64_t *size, uint8_t **data)
{
    cairn_err rc = pack_read_trailer(fd, path, keyring_seal_key(s->keys), entries, count, size);
    if (!rc && data) {
        *data = malloc(*size ? *size : 1);
        if (!*data)
            rc = err_set(CAIRN_ENOMEM, "out of memory");
        else if ((rc = fs_pread_all(fd, *data, *size, 0, path)) != CAIRN_OK)
            free(*data);
        if (rc) {
            *data = NULL;
            free(*entries);
            *entries = NULL;
        }
    }
    return rc;
}

static cairn_err read_pack_file(const store *s, const char *path, pack_entry **entries,
                                size_t *count, uint64_t *size, uint8_t **data)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(errno, path);
    const cairn_err rc = read_pack_fd(s, fd, path, entries, count, size, data);
    close(fd);
    return rc;
}

static cairn_err add_pack_to_index(store *s, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    pack_entry *e = NULL;
    size_t n = 0;
    uint64_t size;
    cairn_err rc = read_pack_file(s, path, &e, &n, &size, NULL);
    if (rc)
        return rc;
    rc = index_add_pack(s->ix, pack, size, e, n);
    free(e);
    return rc;
}

static cairn_err sync_new_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    store *const s = ctx;
    int has;
    cairn_err rc = index_has_pack(s->ix, pack, &has);
    if (rc || has)
        return rc;
    rc = add_pack_to_index(s, pack, path);
    /* a damaged pack must not keep the store from opening; check reports it,
     * and its chunks, unknown to the index, are simply stored again */
    return rc == CAIRN_ECORRUPT ? CAIRN_OK : rc;
}

static cairn_err sync_gone_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], uint64_t size)
{
    struct sync_ctx *const c = ctx;
    char path[PATH_MAX];
    struct stat st;
    (void)size;
    cairn_err rc = CAIRN_OK;
    if (c->listed) {
        if (idset_has(c->listed, pack))
            return CAIRN_OK;
    } else {
        rc = pack_path(c->s->packs, pack, path, sizeof path);
        if (rc)
            return rc;
        if (stat(path, &st) == 0 || errno != ENOENT)
            return CAIRN_OK;
    }
    rc = util_grow(&c->gone, &c->capgone, c->ngone + 1, sizeof *c->gone);
    if (rc)
        return rc;
    memcpy(c->gone[c->ngone++], pack, PACK_ID_LEN);
    return CAIRN_OK;
}

/* ---- packs of a copy target, read on demand ---- */

typedef struct remote_sync {
    store *s;
    idset listed;
} remote_sync;

typedef struct range_ctx {
    const store *s;
    const uint8_t *pack;
} range_ctx;

static cairn_err source_read(void *ctx, uint64_t off, size_t len, uint8_t *buf, const char *path)
{
    const range_ctx *const rc = ctx;
    (void)path;
    return rc->s->src->read(rc->s->src->ctx, rc->pack, off, len, buf);
}

/* A pack of the source the index lacks: its trailer, read by range. */
static cairn_err remote_new_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], uint64_t size)
{
    remote_sync *const c = ctx;
    char name[STORE_NAME_MAX];
    pack_entry *e = NULL;
    size_t n = 0;
    uint64_t got;
    int has, added;
    cairn_err rc = idset_add(&c->listed, pack, &added);
    if (!rc)
        rc = index_has_pack(c->s->ix, pack, &has);
    if (rc || has)
        return rc;
    store_name_pack(pack, name);
    range_ctx r = {c->s, pack};
    rc = pack_read_trailer_with(source_read, &r, size, name, keyring_seal_key(c->s->keys), &e, &n,
                                &got);
    if (!rc)
        rc = index_add_pack(c->s->ix, pack, got, e, n);
    free(e);
    /* as for a local pack: a damaged one must not keep the store from opening */
    return rc == CAIRN_ECORRUPT ? CAIRN_OK : rc;
}

/* Brings the index in line with the packs on disk: a writer killed between
 * renaming a pack and indexing it left a pack the index does not know. */
static cairn_err index_sync(store *s)
{
    struct sync_ctx c = {s, NULL, 0, 0, NULL};
    remote_sync rs;
    rs.s = s;
    idset_init(&rs.listed);
    cairn_err rc;
    if (s->src) {
        /* a copy target's packs: listed there, trailers read by range */
        rc = s->src->list(s->src->ctx, remote_new_pack, &rs);
        c.listed = &rs.listed;
    } else {
        rc = store_each_pack_file(s, sync_new_pack, s);
    }
    if (!rc)
        rc = index_each_pack(s->ix, sync_gone_pack, &c);
    for (size_t i = 0; i < c.ngone && !rc; i++)
        rc = index_remove_pack(s->ix, c.gone[i], NULL, 0);
    free(c.gone);
    idset_free(&rs.listed);
    return rc;
}

/* The index is a cache: when it is damaged, it is dropped and read back
 * from the packs rather than failing the command. */
static cairn_err open_index(store *s, const char *dir)
{
    char path[PATH_MAX + 16];
    cairn_err rc = index_open(dir, s->store_id, &s->ix);
    if (!rc)
        rc = index_sync(s);
    if (rc != CAIRN_ECORRUPT)
        return rc;
    index_close(s->ix);
    s->ix = NULL;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    s->index_rebuilt = 1;
    rc = index_open(dir, s->store_id, &s->ix);
    if (!rc)
        rc = index_sync(s);
    return rc;
}

static cairn_err read_config_head(const char *path, uint8_t **cfg, size_t *len)
{
    char cfg_path[PATH_MAX + 8];
    struct stat st;
    snprintf(cfg_path, sizeof cfg_path, "%s/" STORE_NAME_CONFIG, path);
    if (stat(path, &st) != 0)
        return err_set(CAIRN_ENOSTORE, "%s: no store here (run 'cairn init' first)", path);
    /* a file where the store should be is "no store here", not an I/O error */
    if (!S_ISDIR(st.st_mode))
        return err_set(CAIRN_ENOSTORE, "%s: not a cairn store (not a folder)", path);
    cairn_err rc = fs_read_file(cfg_path, 4096, cfg, len);
    if (rc == CAIRN_ENOTFOUND)
        return err_set(CAIRN_ENOSTORE, "%s: not a cairn store (no config file)", path);
    if (rc)
        return rc;
    if (*len < CONFIG_HEAD || memcmp(*cfg, config_magic, sizeof config_magic) != 0) {
        free(*cfg);
        *cfg = NULL;
        return err_set(CAIRN_ENOSTORE, "%s/" STORE_NAME_CONFIG ": not a cairn store config", path);
    }
    const uint32_t version = get_u32le(*cfg + 8);
    if (version != STORE_FORMAT_VERSION) {
        free(*cfg);
        *cfg = NULL;
        return err_set(CAIRN_EVERSION,
                       "%s: store format version %u is not supported (this cairn reads version %u)",
                       path, (unsigned)version, STORE_FORMAT_VERSION);
    }
    return CAIRN_OK;
}

cairn_err store_probe(const char *path)
{
    uint8_t *cfg = NULL;
    size_t len = 0;
    const cairn_err rc = read_config_head(path, &cfg, &len);
    free(cfg);
    return rc;
}

/* Opens the sealed config body with these keys (the check that keys are
 * this store's: only its master key opens it). */
static cairn_err config_open(const keyring *kr, const uint8_t *cfg, size_t cfg_len,
                             uint8_t body[CONFIG_BODY])
{
    if (cfg_len != CONFIG_HEAD + CONFIG_BODY + SEAL_OVERHEAD &&
        cfg_len != CONFIG_HEAD + CONFIG_BODY_V1 + SEAL_OVERHEAD)
        return CAIRN_ECORRUPT;
    return seal_open(keyring_seal_key(kr), cfg, CONFIG_HEAD, cfg + CONFIG_HEAD,
                     cfg_len - CONFIG_HEAD, body);
}

/* A search of the kernel keyring for this store's unlocked session. */
typedef struct session_search {
    const uint8_t *cfg;
    size_t cfg_len;
    keyring *kr;   /* found: the keys (NULL if the search only wants until) */
    int keep_keys; /* hand the keys over rather than freeing them */
    int64_t until;
    char id_hex[SESSION_KEY_ID_HEX + 1]; /* found: the store id */
    int drop;                            /* lock: drop every key naming id_hex */
    int dropped;
} session_search;

/* A key is this store's only if its master key opens the config and the
 * config names the store id its description names: a stale or damaged key,
 * or another store's, is passed over (the password is asked for). */
static int session_try(void *ctx, const session_key_found *k)
{
    session_search *const t = ctx;
    uint8_t body[CONFIG_BODY];
    char hex[SESSION_KEY_ID_HEX + 1];
    keyring *kr;
    if (t->drop) {
        if (strcmp(k->id_hex, t->id_hex) == 0 && session_key_drop(k) == CAIRN_OK)
            t->dropped++;
        return 0;
    }
    if (k->len != SESSION_KEY_LEN || keys_from_master(k->payload, &kr) != CAIRN_OK)
        return 0;
    if (config_open(kr, t->cfg, t->cfg_len, body) == CAIRN_OK) {
        fs_hex(body, STORE_ID_LEN, hex);
        if (strcmp(hex, k->id_hex) == 0) {
            memcpy(t->id_hex, hex, sizeof hex);
            t->until = (int64_t)get_u64le(k->payload + SESSION_KEY_MASTER);
            if (t->keep_keys)
                t->kr = kr;
            else
                keyring_free(kr);
            return 1;
        }
    }
    keyring_free(kr);
    return 0;
}

/* Looks for the store at path's unlocked session (t->id_hex empty if none). */
static cairn_err session_find(const char *path, session_search *t)
{
    uint8_t *cfg = NULL;
    size_t len;
    const cairn_err rc = read_config_head(path, &cfg, &len);
    if (rc)
        return rc;
    t->cfg = cfg;
    t->cfg_len = len;
    session_key_each(session_try, t);
    free(cfg);
    t->cfg = NULL;
    return CAIRN_OK;
}

static cairn_err open_with(const char *path, const char *password, size_t password_len,
                           unsigned flags, const store_wait *wait, const store_pack_source *src,
                           store **out)
{
    char keys_dir[PATH_MAX + 8], ixdir[PATH_MAX + 64];
    uint8_t *cfg = NULL;
    uint8_t body[CONFIG_BODY];
    size_t cfg_len;
    cairn_err rc;
    store *const s = calloc(1, sizeof *s);
    if (!s)
        return err_set(CAIRN_ENOMEM, "out of memory");
    s->lock_fd = -1;
    s->readers_fd = -1;
    pthread_mutex_init(&s->seen_mu, NULL);
    pthread_mutex_init(&s->pack_mu, NULL);
    pthread_mutex_init(&s->src_mu, NULL);
    pthread_cond_init(&s->pack_cv, NULL);
    idset_init(&s->seen);
    s->src = src;
    rc = set_paths(s, path);
    if (rc)
        goto fail;
    rc = read_config_head(path, &cfg, &cfg_len);
    if (rc)
        goto fail;
    if (!(flags & STORE_NO_SESSION)) {
        session_search t = {.cfg = cfg, .cfg_len = cfg_len, .keep_keys = 1};
        session_key_each(session_try, &t);
        s->keys = t.kr;
    }
    if (!s->keys && !password) {
        rc = err_set(CAIRN_EPASSWORD,
                     "%s: the store is locked (no unlocked session) and no password was given",
                     path);
        goto fail;
    }
    snprintf(keys_dir, sizeof keys_dir, "%s/" STORE_DIR_KEYS, path);
    if (!s->keys)
        rc = keys_unlock(keys_dir, password, password_len, &s->keys, s->key_id);
    if (rc)
        goto fail;
    if (config_open(s->keys, cfg, cfg_len, body) != CAIRN_OK) {
        rc = err_set(CAIRN_ECORRUPT, "%s/" STORE_NAME_CONFIG ": store config is damaged", path);
        goto fail;
    }
    memcpy(s->store_id, body, STORE_ID_LEN);
    s->params.chunk_min = get_u32le(body + 16);
    s->params.chunk_avg = get_u32le(body + 20);
    s->params.chunk_max = get_u32le(body + 24);
    s->params.pack_target = get_u32le(body + 28);
    s->params.zstd_level = (int)get_u32le(body + 32);
    if (cfg_len == CONFIG_HEAD + CONFIG_BODY + SEAL_OVERHEAD) {
        s->params.sqlite_chunk = get_u32le(body + 44);
        s->params.media_chunk = get_u32le(body + 48);
        s->params.chunk_flags = get_u32le(body + 52);
        if (!fixed_chunk_ok(s->params.sqlite_chunk, s->params.chunk_max) ||
            !fixed_chunk_ok(s->params.media_chunk, s->params.chunk_max) ||
            (s->params.chunk_flags & ~(uint32_t)STORE_SQLITE_FIXED)) {
            rc = err_set(CAIRN_ECORRUPT,
                         "%s/" STORE_NAME_CONFIG ": bad content-aware chunking parameters", path);
            goto fail;
        }
    }
    s->read_only = is_read_only_fs(path);
    if ((flags & STORE_WRITE) && s->read_only) {
        rc = err_set(CAIRN_EIO,
                     "%s: store is on a read-only file system; it can be listed, browsed, "
                     "restored and checked, not changed",
                     path);
        goto fail;
    }
    if (flags & STORE_WRITE) {
        rc = take_writer_lock(s, wait);
        if (rc)
            goto fail;
        remove_tmp_files(s);
    } else if (!s->read_only) {
        rc = take_reader_lock(s, wait);
        if (rc)
            goto fail;
    }
    rc = index_dir(s, ixdir, sizeof ixdir);
    if (!rc)
        rc = open_index(s, ixdir);
    if (rc)
        goto fail;
    free(cfg);
    *out = s;
    return CAIRN_OK;
fail:
    free(cfg);
    store_close(s);
    return rc;
}

cairn_err store_open(const char *path, const char *password, size_t password_len, unsigned flags,
                     store **out)
{
    return open_with(path, password, password_len, flags, NULL, NULL, out);
}

cairn_err store_open_wait(const char *path, const char *password, size_t password_len,
                          unsigned flags, const store_wait *wait, store **out)
{
    return open_with(path, password, password_len, flags, wait, NULL, out);
}

cairn_err store_open_remote(const char *path, const char *password, size_t password_len,
                            const store_pack_source *src, store **out)
{
    return open_with(path, password, password_len, 0, NULL, src, out);
}

void store_close(store *s)
{
    if (!s)
        return;
    /* a pack handed over is finished before the index closes */
    if (s->finisher_started) {
        pthread_mutex_lock(&s->pack_mu);
        s->finisher_stop = 1;
        pthread_cond_broadcast(&s->pack_cv);
        pthread_mutex_unlock(&s->pack_mu);
        pthread_join(s->finisher, NULL);
    }
    for (int k = 0; k < 2; k++)
        while (s->idle[k]) {
            open_pack *const op = s->idle[k];
            s->idle[k] = op->next;
            pack_writer_free(op->pw);
            free(op);
        }
    index_close(s->ix);
    keyring_free(s->keys);
    idset_free(&s->seen);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    if (s->readers_fd >= 0)
        close(s->readers_fd);
    pthread_mutex_destroy(&s->seen_mu);
    pthread_mutex_destroy(&s->pack_mu);
    pthread_mutex_destroy(&s->src_mu);
    pthread_cond_destroy(&s->pack_cv);
    free(s);
}

const char *store_path(const store *s)
{
    return s->path;
}

const keyring *store_keys(const store *s)
{
    return s->keys;
}

const store_params *store_get_params(const store *s)
{
    return &s->params;
}

cairn_err store_session_unlock(const store *s, session_keyring where, unsigned seconds,
                               int64_t *until)
{
    session_search t = {.drop = 1};
    fs_hex(s->store_id, STORE_ID_LEN, t.id_hex);
    /* an older key of this store goes first: add_key would otherwise try to
     * update it, which its read-only permissions refuse */
    session_key_each(session_try, &t);
    uint8_t *const payload = sodium_malloc(SESSION_KEY_LEN);
    if (!payload)
        return err_set(CAIRN_ENOMEM, "out of memory for keys");
    *until = (int64_t)time(NULL) + seconds;
    memcpy(payload, keyring_master(s->keys), SESSION_KEY_MASTER);
    put_u64le(payload + SESSION_KEY_MASTER, (uint64_t)*until);
    const cairn_err rc = session_key_add(where, t.id_hex, payload, seconds);
    sodium_free(payload);
    return rc;
}

cairn_err store_session_status(const char *path, int64_t *until)
{
    session_search t = {0};
    const cairn_err rc = session_find(path, &t);
    *until = t.id_hex[0] ? t.until : 0;
    return rc;
}

cairn_err store_session_lock(const char *path, int *dropped)
{
    session_search t = {0};
    const cairn_err rc = session_find(path, &t);
    *dropped = 0;
    if (rc || !t.id_hex[0])
        return rc;
    t.drop = 1;
    session_key_each(session_try, &t);
    *dropped = t.dropped;
    return CAIRN_OK;
}

const char *store_key_id(const store *s)
{
    return s->key_id;
}

int store_index_was_rebuilt(const store *s)
{
    return s->index_rebuilt;
}

cairn_err store_worker_new(store *s, store_worker **out)
{
    store_worker *const w = calloc(1, sizeof *w);
    if (!w)
        return err_set(CAIRN_ENOMEM, "out of memory");
    w->s = s;
    for (int i = 0; i < PACK_FD_CACHE; i++)
        w->fds[i].fd = -1;
    cbuf_init(&w->blob);
    cbuf_init(&w->run);
    const cairn_err rc = blob_ctx_new(s->params.zstd_level, &w->bc);
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return CAIRN_OK;
}

void store_worker_free(store_worker *w)
{
    if (!w)
        return;
    for (int i = 0; i < PACK_FD_CACHE; i++)
        if (w->fds[i].fd >= 0)
            close(w->fds[i].fd);
    blob_ctx_free(w->bc);
    cbuf_free(&w->blob);
    cbuf_free(&w->run);
    free(w);
}

void store_chunk_id(const store *s, const uint8_t *data, size_t len, uint8_t id[ID_LEN])
{
    seal_id(keyring_id_key(s->keys), data, len, id);
}

/* Makes a closed pack durable, then indexes it.  Runs outside pack_mu so
 * the other workers keep filling the next pack during the fsync. */
static cairn_err finish_pack(store *s, open_pack *op)
{
    uint8_t pack_id[PACK_ID_LEN];
    cairn_err rc = op->failed;
    if (rc)
        err_set(rc, "%s", op->failed_msg);
    if (!rc)
        rc = pack_writer_finish(op->pw, keyring_seal_key(s->keys), s->packs, pack_id);
    if (!rc)
        rc = index_add_pack(s->ix, pack_id, pack_writer_size(op->pw), pack_writer_entries(op->pw),
                            pack_writer_count(op->pw));
    {
        /* indexed: from now on the index finds them; lost: a later put of
         * one of them in this session must store it again */
        const pack_entry *const e = pack_writer_entries(op->pw);
        pthread_mutex_lock(&s->seen_mu);
        for (size_t i = 0; i < pack_writer_count(op->pw); i++)
            idset_remove(&s->seen, e[i].id);
        pthread_mutex_unlock(&s->seen_mu);
    }
    pack_writer_free(op->pw);
    free(op);
    pthread_mutex_lock(&s->pack_mu);
    s->finishing--;
    pthread_cond_broadcast(&s->pack_cv);
    pthread_mutex_unlock(&s->pack_mu);
    return rc;
}

static void *finisher_main(void *arg)
{
    store *const s = arg;
    pthread_mutex_lock(&s->pack_mu);
    for (;;) {
        while (!s->finisher_pack && !s->finisher_stop)
            pthread_cond_wait(&s->pack_cv, &s->pack_mu);
        open_pack *const op = s->finisher_pack;
        if (!op)
            break;
        pthread_mutex_unlock(&s->pack_mu);
        const cairn_err rc = finish_pack(s, op);
        pthread_mutex_lock(&s->pack_mu);
        if (rc && !s->finisher_failed) {
            s->finisher_failed = rc;
            snprintf(s->finisher_msg, sizeof s->finisher_msg, "%s", err_msg());
        }
        s->finisher_pack = NULL;
        pthread_cond_broadcast(&s->pack_cv);
    }
    pthread_mutex_unlock(&s->pack_mu);
    return NULL;
}

/* Hands a pack nobody appends to any more to the finisher thread, waiting
 * while it still finishes the previous one; without the thread (it could
 * not start) the caller finishes the pack itself. */
static cairn_err hand_off(store *s, open_pack *op)
{
    pthread_mutex_lock(&s->pack_mu);
    s->finishing++;
    if (!s->finisher_started && pthread_create(&s->finisher, NULL, finisher_main, s) == 0)
        s->finisher_started = 1;
    if (!s->finisher_started) {
        pthread_mutex_unlock(&s->pack_mu);
        return finish_pack(s, op);
    }
    while (s->finisher_pack)
        pthread_cond_wait(&s->pack_cv, &s->pack_mu);
    s->finisher_pack = op;
    pthread_cond_broadcast(&s->pack_cv);
    pthread_mutex_unlock(&s->pack_mu);
    return CAIRN_OK;
}

/* The background finisher's failure (pack_mu held), reported once. */
static cairn_err take_finisher_error(store *s)
{
    const cairn_err rc = s->finisher_failed;
    if (rc) {
        err_set(rc, "%s", s->finisher_msg);
        s->finisher_failed = CAIRN_OK;
    }
    return rc;
}

/* Appends one sealed blob to an open pack of its kind (file data or
 * trees): the idle one used last, else a new one.  The pack goes back to
 * the idle list, or, once full or after a failed write, to be finished
 * (which reports the failure again to the flush, for the blobs appended to
 * it before). */
static cairn_err append_blob(store *s, pack_entry *e, const uint8_t *blob)
{
    open_pack **const idle = &s->idle[(e->flags & PACK_TREE) != 0];
    pthread_mutex_lock(&s->pack_mu);
    cairn_err rc = take_finisher_error(s);
    open_pack *op = rc ? NULL : *idle;
    if (op)
        *idle = op->next;
    pthread_mutex_unlock(&s->pack_mu);
    if (rc)
        return rc;
    if (!op) {
        op = calloc(1, sizeof *op);
        if (!op)
            return err_set(CAIRN_ENOMEM, "out of memory");
        rc = pack_writer_open(s->tmp, &op->pw);
        if (rc) {
            free(op);
            return rc;
        }
    }
    rc = pack_writer_add(op->pw, e, blob, e->stored_len);
    if (rc) {
        op->failed = rc;
        snprintf(op->failed_msg, sizeof op->failed_msg, "%s", err_msg());
    }
    if (rc || pack_writer_size(op->pw) >= s->params.pack_target) {
        const cairn_err frc = hand_off(s, op);
        return rc ? rc : frc;
    }
    pthread_mutex_lock(&s->pack_mu);
    op->next = *idle;
    *idle = op;
    pthread_mutex_unlock(&s->pack_mu);
    return CAIRN_OK;
}

/* A put that failed must not make later puts of the same chunk look done. */
static void forget_seen(store *s, const uint8_t id[ID_LEN])
{
    pthread_mutex_lock(&s->seen_mu);
    idset_remove(&s->seen, id);
    pthread_mutex_unlock(&s->seen_mu);
}

/* Claims id for this session's put: *fresh is 0 when the chunk was put or
 * found before (nothing to do), 1 when the caller must store it (through
 * put_claimed, which releases the claim if that fails). */
static cairn_err claim_chunk(store *s, const uint8_t id[ID_LEN], int *fresh)
{
    index_loc loc;
    pthread_mutex_lock(&s->seen_mu);
    cairn_err rc = idset_add(&s->seen, id, fresh);
    pthread_mutex_unlock(&s->seen_mu);
    if (rc || !*fresh)
        return rc;
    rc = index_lookup(s->ix, id, &loc);
    if (rc == CAIRN_ENOTFOUND)
        return CAIRN_OK;
    *fresh = 0;
    forget_seen(s, id); /* stored already (the index keeps saying so), or the lookup failed */
    return rc;
}

/* The encoded blob of a claimed chunk into the open pack. */
static cairn_err put_claimed(store *s, cairn_err rc, pack_entry *e, const uint8_t *blob, int *added,
                             uint64_t *stored_bytes)
{
    if (!rc)
        rc = append_blob(s, e, blob);
    if (rc) {
        forget_seen(s, e->id);
        return rc;
    }
    *added = 1;
    *stored_bytes = e->stored_len;
    return CAIRN_OK;
}

static void entry_for(pack_entry *e, const uint8_t id[ID_LEN], unsigned flags)
{
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, ID_LEN);
    e->flags = (flags & STORE_CHUNK_TREE) ? PACK_TREE : 0;
}

cairn_err store_put_chunk(store *s, store_worker *w, const uint8_t id[ID_LEN], const uint8_t *data,
                          size_t len, unsigned flags, int *added, uint64_t *stored_bytes)
{
    pack_entry e;
    int fresh;
    *added = 0;
    *stored_bytes = 0;
    cairn_err rc = claim_chunk(s, id, &fresh);
    if (rc || !fresh)
        return rc;
    entry_for(&e, id, flags);
    if (flags & STORE_CHUNK_NO_ZSTD)
        rc = blob_encode_raw(keyring_seal_key(s->keys), &e, data, len, &w->blob);
    else if (flags & STORE_CHUNK_ZSTD)
        rc = blob_encode_unprobed(w->bc, keyring_seal_key(s->keys), &e, data, len, &w->blob);
    else
        rc = blob_encode(w->bc, keyring_seal_key(s->keys), &e, data, len, &w->blob);
    e.stored_len = (uint32_t)w->blob.len;
    return put_claimed(s, rc, &e, w->blob.data, added, stored_bytes);
}

cairn_err store_put_chunk_inplace(store *s, store_worker *w, const uint8_t id[ID_LEN], uint8_t *buf,
                                  size_t len, unsigned flags, int *added, uint64_t *stored_bytes)
{
    pack_entry e;
    int fresh;
    const uint8_t *sealed = NULL;
    *added = 0;
    *stored_bytes = 0;
    cairn_err rc = claim_chunk(s, id, &fresh);
    if (rc || !fresh)
        return rc;
    entry_for(&e, id, flags);
    const blob_zstd zstd = (flags & STORE_CHUNK_NO_ZSTD) ? BLOB_RAW
                           : (flags & STORE_CHUNK_ZSTD)  ? BLOB_ZSTD_SURE
                                                         : BLOB_ZSTD_PROBED;
    rc = blob_encode_inplace(w->bc, keyring_seal_key(s->keys), &e, buf, len, zstd, &sealed);
    return put_claimed(s, rc, &e, sealed, added, stored_bytes);
}

cairn_err store_put_sealed(store *s, const pack_entry *e, const uint8_t *blob)
{
    int fresh;
    pack_entry copy = *e;
    pthread_mutex_lock(&s->seen_mu);
    const cairn_err rc = idset_add(&s->seen, e->id, &fresh);
    pthread_mutex_unlock(&s->seen_mu);
    if (rc || !fresh)
        return rc;
    return append_blob(s, &copy, blob);
}

cairn_err store_flush(store *s)
{
    cairn_err rc = CAIRN_OK;
    pthread_mutex_lock(&s->pack_mu);
    open_pack *ops[2] = {s->idle[0], s->idle[1]};
    s->idle[0] = s->idle[1] = NULL;
    for (int k = 0; k < 2; k++)
        for (const open_pack *o = ops[k]; o; o = o->next)
            s->finishing++;
    pthread_mutex_unlock(&s->pack_mu);
    for (int k = 0; k < 2; k++)
        for (open_pack *op = ops[k], *next; op; op = next) {
            next = op->next;
            const cairn_err frc = finish_pack(s, op);
            if (!rc)
                rc = frc;
        }
    pthread_mutex_lock(&s->pack_mu);
    /* finisher_pack is cleared only once its failure is recorded */
    while (s->finishing > 0 || s->finisher_pack)
        pthread_cond_wait(&s->pack_cv, &s->pack_mu);
    const cairn_err frc = take_finisher_error(s);
    pthread_mutex_unlock(&s->pack_mu);
    return rc ? rc : frc;
}

static cairn_err worker_pack_fd(store_worker *w, const uint8_t pack[PACK_ID_LEN], const char *path,
                                int *fd)
{
    for (int i = 0; i < PACK_FD_CACHE; i++) {
        if (w->fds[i].fd >= 0 && memcmp(w->fds[i].pack, pack, PACK_ID_LEN) == 0) {
            *fd = w->fds[i].fd;
            return CAIRN_OK;
        }
    }
    int nfd;
    if (w->s->src) {
        /* fetched if absent, then opened before another fetch can evict it
         * from the cache (an open descriptor outlives the eviction) */
        pthread_mutex_lock(&w->s->src_mu);
        const cairn_err rc = w->s->src->ensure(w->s->src->ctx, pack, path);
        nfd = rc ? -1 : open(path, O_RDONLY | O_CLOEXEC);
        const int e = errno;
        pthread_mutex_unlock(&w->s->src_mu);
        if (rc)
            return rc;
        errno = e;
    } else {
        nfd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (nfd < 0)
        return errno == ENOENT ? err_set(CAIRN_ECORRUPT, "%s: pack is missing", path)
                               : err_errno(errno, path);
    const unsigned slot = w->next_fd++ % PACK_FD_CACHE;
    if (w->fds[slot].fd >= 0)
        close(w->fds[slot].fd);
    w->fds[slot].fd = nfd;
    memcpy(w->fds[slot].pack, pack, PACK_ID_LEN);
    *fd = nfd;
    return CAIRN_OK;
}

static cairn_err locate(store *s, const uint8_t id[ID_LEN], index_loc *loc, char *path, size_t cap,
                        pack_entry *e)
{
    char hex[2 * ID_LEN + 1];
    cairn_err rc = index_lookup(s->ix, id, loc);
    if (rc == CAIRN_ENOTFOUND) {
        fs_hex(id, ID_LEN, hex);
        return err_set(CAIRN_ECORRUPT, "chunk %.16s is missing from the store", hex);
    }
    if (rc)
        return rc;
    rc = pack_path(s->packs, loc->pack, path, cap);
    if (rc)
        return rc;
    memcpy(e->id, id, ID_LEN);
    e->flags = loc->flags;
    e->offset = loc->offset;
    e->stored_len = loc->stored_len;
    e->raw_len = loc->raw_len;
    return CAIRN_OK;
}

cairn_err store_locate(store *s, const uint8_t id[ID_LEN], uint8_t pack[PACK_ID_LEN], pack_entry *e)
{
    index_loc loc;
    char path[PATH_MAX];
    const cairn_err rc = locate(s, id, &loc, path, sizeof path, e);
    if (!rc)
        memcpy(pack, loc.pack, PACK_ID_LEN);
    return rc;
}

cairn_err store_get_chunk(store *s, store_worker *w, const uint8_t id[ID_LEN], cbuf *out)
{
    char path[PATH_MAX];
    pack_entry e;
    index_loc loc;
    int fd = -1;
    cairn_err rc = locate(s, id, &loc, path, sizeof path, &e);
    if (rc)
        return rc;
    rc = worker_pack_fd(w, loc.pack, path, &fd);
    if (rc)
        return rc;
    cbuf_reset(&w->blob);
    if (!cbuf_reserve(&w->blob, e.stored_len))
        return err_set(CAIRN_ENOMEM, "out of memory");
    rc = fs_pread_all(fd, w->blob.data, e.stored_len, e.offset, path);
    if (!rc)
        rc = blob_decode(w->bc, keyring_seal_key(s->keys), NULL, &e, w->blob.data, out);
    if (rc)
        return err_wrap(rc, path);
    return CAIRN_OK;
}

cairn_err store_get_chunk_of(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                             uint32_t i, cbuf *out)
{
    char path[PATH_MAX];
    index_loc loc;
    assert(i < n);
    if (w->run_next < w->run_n && memcmp(w->run_e[w->run_next].id, ids[i], ID_LEN) == 0) {
        const pack_entry *const e = &w->run_e[w->run_next++];
        const cairn_err rc = blob_decode_append(w->bc, keyring_seal_key(s->keys), NULL, e,
                                                w->run.data + (e->offset - w->run_off), out);
        return rc ? err_wrap(rc, w->run_path) : CAIRN_OK;
    }
    w->run_n = w->run_next = 0;
    pack_entry *const first = &w->run_e[0];
    int fd = -1;
    cairn_err rc = locate(s, ids[i], &loc, path, sizeof path, first);
    if (!rc)
        rc = worker_pack_fd(w, loc.pack, path, &fd);
    if (rc)
        return rc;
    /* the chunks right behind it in the same pack come in the same read;
     * one that cannot be located ends the run and is reported when asked for */
    uint64_t end = first->offset + first->stored_len;
    uint32_t k = 1;
    for (uint32_t j = i + 1; j < n && k < RUN_CHUNKS; j++, k++) {
        index_loc next;
        char npath[PATH_MAX];
        if (locate(s, ids[j], &next, npath, sizeof npath, &w->run_e[k]) != CAIRN_OK ||
            memcmp(next.pack, loc.pack, PACK_ID_LEN) != 0 || w->run_e[k].offset != end ||
            end + w->run_e[k].stored_len - first->offset > RUN_BYTES)
            break;
        end += w->run_e[k].stored_len;
    }
    cbuf_reset(&w->run);
    if (!cbuf_reserve(&w->run, (size_t)(end - first->offset)))
        return err_set(CAIRN_ENOMEM, "out of memory");
    rc = fs_pread_all(fd, w->run.data, (size_t)(end - first->offset), first->offset, path);
    if (!rc)
        rc = blob_decode_append(w->bc, keyring_seal_key(s->keys), NULL, first, w->run.data, out);
    if (rc)
        return err_wrap(rc, path);
    memcpy(w->run_path, path, strlen(path) + 1);
    w->run_off = first->offset;
    w->run_n = k;
    w->run_next = 1;
    return CAIRN_OK;
}

uint32_t store_prefetch(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                        uint64_t max_bytes)
{
    char path[PATH_MAX];
    uint8_t pack[PACK_ID_LEN];
    uint64_t start = 0, end = 0, covered = 0;
    int fd = -1;
    uint32_t i = 0;
    if (s->src)
        return n; /* a pack may have to be fetched first: left to the read */
    for (; i < n && (i == 0 || covered < max_bytes); i++) {
        index_loc loc;
        pack_entry e;
        if (locate(s, ids[i], &loc, path, sizeof path, &e) != CAIRN_OK)
            break;
        covered += e.stored_len;
        if (fd >= 0 && memcmp(pack, loc.pack, PACK_ID_LEN) == 0 && e.offset <= end + PREFETCH_GAP &&
            e.offset + e.stored_len >= start) {
            start = e.offset < start ? e.offset : start;
            end = e.offset + e.stored_len > end ? e.offset + e.stored_len : end;
            continue;
        }
        if (fd >= 0)
            posix_fadvise(fd, (off_t)start, (off_t)(end - start), POSIX_FADV_WILLNEED);
        fd = -1;
        if (worker_pack_fd(w, loc.pack, path, &fd) != CAIRN_OK)
            break;
        memcpy(pack, loc.pack, PACK_ID_LEN);
        start = e.offset;
        end = e.offset + e.stored_len;
    }
    if (fd >= 0)
        posix_fadvise(fd, (off_t)start, (off_t)(end - start), POSIX_FADV_WILLNEED);
    return i > 0 ? i : (n > 0);
}

cairn_err store_has_chunk(store *s, const uint8_t id[ID_LEN], int *has)
{
    index_loc loc;
    const cairn_err rc = index_lookup(s->ix, id, &loc);
    *has = rc == CAIRN_OK;
    return rc == CAIRN_ENOTFOUND ? CAIRN_OK : rc;
}

/* Sealed objects in a folder, named by a 32-byte ID in hex: snapshots
 * (ID = keyed hash of the content, checked on read) and chain records (ID =
 * keyed hash of the chain name). */
static cairn_err object_put(store *s, const char *dir, const uint8_t *ad, size_t ad_len,
                            const uint8_t id[ID_LEN], const uint8_t *plain, size_t len)
{
    char hex[2 * ID_LEN + 1];
    uint8_t *const sealed = malloc(len + SEAL_OVERHEAD);
    if (!sealed)
        return err_set(CAIRN_ENOMEM, "out of memory");
    seal_box(keyring_seal_key(s->keys), ad, ad_len, plain, len, sealed);
    fs_hex(id, ID_LEN, hex);
    const cairn_err rc = fs_write_atomic(dir, hex, sealed, len + SEAL_OVERHEAD, 0600);
    free(sealed);
    return rc;
}

static cairn_err object_get(store *s, const char *dir, const uint8_t *ad, size_t ad_len,
                            const uint8_t id[ID_LEN], const char *what, uint8_t **plain,
                            size_t *len)
{
    char hex[2 * ID_LEN + 1];
    uint8_t *sealed = NULL, *out = NULL;
    size_t n;
    fs_hex(id, ID_LEN, hex);
    char *const path = fs_join(dir, hex);
    if (!path)
        return err_set(CAIRN_ENOMEM, "out of memory");
    cairn_err rc = fs_read_file(path, 64 << 20, &sealed, &n);
    if (!rc && n < SEAL_OVERHEAD)
        rc = err_set(CAIRN_ECORRUPT, "%s: %s object is truncated", path, what);
    if (!rc) {
        out = malloc(n - SEAL_OVERHEAD + 1);
        if (!out)
            rc = err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (!rc && seal_open(keyring_seal_key(s->keys), ad, ad_len, sealed, n, out) != CAIRN_OK)
        rc =
            err_set(CAIRN_ECORRUPT, "%s: %s object is damaged (authentication failed)", path, what);
    if (rc) {
        free(out);
    } else {
        *plain = out;
        *len = n - SEAL_OVERHEAD;
    }
    free(sealed);
    free(path);
    return rc;
}

cairn_err store_put_snapshot(store *s, const uint8_t *plain, size_t len,
                             uint8_t id[SNAPSHOT_ID_LEN])
{
    seal_id(keyring_id_key(s->keys), plain, len, id);
    return object_put(s, s->snapshots, snapshot_ad, sizeof snapshot_ad, id, plain, len);
}

cairn_err store_get_snapshot(store *s, const uint8_t id[SNAPSHOT_ID_LEN], uint8_t **plain,
                             size_t *len)
{
    uint8_t check[SNAPSHOT_ID_LEN];
    char hex[2 * SNAPSHOT_ID_LEN + 1];
    cairn_err rc =
        object_get(s, s->snapshots, snapshot_ad, sizeof snapshot_ad, id, "snapshot", plain, len);
    if (rc)
        return rc;
    seal_id(keyring_id_key(s->keys), *plain, *len, check);
    if (memcmp(check, id, SNAPSHOT_ID_LEN) != 0) {
        free(*plain);
        fs_hex(id, SNAPSHOT_ID_LEN, hex);
        return err_set(CAIRN_ECORRUPT, "%s/%s: snapshot object does not match its name",
                       s->snapshots, hex);
    }
    return CAIRN_OK;
}

void store_chain_id(const store *s, const char *chain, uint8_t id[ID_LEN])
{
    seal_id(keyring_id_key(s->keys), (const uint8_t *)chain, strlen(chain), id);
}

cairn_err store_put_chain(store *s, const uint8_t id[ID_LEN], const uint8_t *plain, size_t len)
{
    cairn_err rc = fs_mkdirs(s->chains, 0700);
    return rc ? rc : object_put(s, s->chains, chain_ad, sizeof chain_ad, id, plain, len);
}

cairn_err store_get_chain(store *s, const uint8_t id[ID_LEN], uint8_t **plain, size_t *len)
{
    return object_get(s, s->chains, chain_ad, sizeof chain_ad, id, "chain", plain, len);
}

cairn_err store_delete_chain(store *s, const uint8_t id[ID_LEN])
{
    char hex[2 * ID_LEN + 1], path[PATH_MAX];
    fs_hex(id, ID_LEN, hex);
    snprintf(path, sizeof path, "%s/%s", s->chains, hex);
    if (unlink(path) != 0 && errno != ENOENT)
        return err_errno(errno, path);
    return fs_fsync_dir(s->chains);
}

/* The objects of kind in their folder dir (snapshots or chains). */
static cairn_err object_list(const char *dir, store_object_kind kind, uint8_t (**ids)[ID_LEN],
                             size_t *count)
{
    DIR *const d = opendir(dir);
    struct dirent *de;
    uint8_t(*list)[ID_LEN] = NULL;
    size_t n = 0, cap = 0;
    *ids = NULL;
    *count = 0;
    if (!d)
        return errno == ENOENT ? CAIRN_OK : err_errno(errno, dir);
    while ((de = readdir(d)) != NULL) {
        char name[STORE_NAME_MAX + sizeof de->d_name];
        uint8_t id[ID_LEN];
        snprintf(name, sizeof name, "%s%s", store_name_prefix(kind), de->d_name);
        if (store_name_parse(name, id) != kind)
            continue;
        if (util_grow(&list, &cap, n + 1, sizeof *list) != CAIRN_OK) {
            free(list);
            closedir(d);
            return CAIRN_ENOMEM;
        }
        memcpy(list[n++], id, ID_LEN);
    }
    closedir(d);
    *ids = list;
    *count = n;
    return CAIRN_OK;
}

cairn_err store_list_snapshots(store *s, uint8_t (**ids)[SNAPSHOT_ID_LEN], size_t *count)
{
    /* no folder is no snapshot: a copy target gets its folders with its
     * first object of each kind, and object stores have none */
    return object_list(s->snapshots, STORE_OBJ_SNAPSHOT, ids, count);
}

cairn_err store_list_chains(store *s, uint8_t (**ids)[ID_LEN], size_t *count)
{
    return object_list(s->chains, STORE_OBJ_CHAIN, ids, count);
}

cairn_err store_each_pack_file(store *s, store_pack_fn fn, void *ctx)
{
    char dir[PATH_MAX + 8], path[PATH_MAX + 80];
    uint8_t id[PACK_ID_LEN];
    cairn_err rc = CAIRN_OK;
    for (unsigned i = 0; i < 256 && !rc; i++) {
        snprintf(dir, sizeof dir, "%s/%02x", s->packs, i);
        DIR *const d = opendir(dir);
        struct dirent *de;
        if (!d) {
            if (errno == ENOENT)
                continue;
            return err_errno(errno, dir);
        }
        while (!rc && (de = readdir(d)) != NULL) {
            char name[STORE_NAME_MAX + sizeof de->d_name];
            snprintf(name, sizeof name, "%s%02x/%s", store_name_prefix(STORE_OBJ_PACK), i,
                     de->d_name);
            /* a pack filed under another folder than its ID names is not
             * read there (pack_path), so it is not that pack */
            if (store_name_parse(name, id) != STORE_OBJ_PACK)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            rc = fn(ctx, id, path);
        }
        closedir(d);
    }
    return rc;
}

/* store_verify_pack of the pack open at fd, or at path when fd < 0. */
static cairn_err verify_pack(store *s, store_worker *w, int fd, const char *path,
                             pack_entry **entries, size_t *count, store_bad_chunk_fn bad, void *ctx)
{
    pack_entry *e = NULL;
    size_t n = 0, damaged = 0;
    uint64_t size;
    uint8_t *data = NULL;
    cbuf plain;
    cbuf_init(&plain);
    cairn_err rc = fd >= 0 ? read_pack_fd(s, fd, path, &e, &n, &size, &data)
                           : read_pack_file(s, path, &e, &n, &size, &data);
    if (rc)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const cairn_err brc = blob_decode(w->bc, keyring_seal_key(s->keys), keyring_id_key(s->keys),
                                          &e[i], data + e[i].offset, &plain);
        if (brc == CAIRN_ENOMEM) {
            rc = brc;
            goto done;
        }
        if (brc) {
            damaged++;
            if (bad)
                bad(ctx, &e[i], err_msg());
        }
    }
    if (damaged)
        rc = err_set(CAIRN_ECORRUPT, "%s: %zu of %zu chunks are damaged", path, damaged, n);
done:
    free(data);
    cbuf_free(&plain);
    if (rc == CAIRN_OK || rc == CAIRN_ECORRUPT) {
        if (entries) {
            *entries = e;
            *count = n;
            e = NULL;
        }
    }
    free(e);
    return rc;
}

cairn_err store_verify_pack(store *s, store_worker *w, const char *path, pack_entry **entries,
                            size_t *count, store_bad_chunk_fn bad, void *ctx)
{
    return verify_pack(s, w, -1, path, entries, count, bad, ctx);
}

typedef struct each_pack_ctx {
    store *s;
    store_pack_at_fn fn;
    void *ctx;
} each_pack_ctx;

static cairn_err each_local_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    const each_pack_ctx *const c = ctx;
    struct stat st;
    return c->fn(c->ctx, pack, path, stat(path, &st) == 0 ? (uint64_t)st.st_size : 0);
}

static cairn_err each_source_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], uint64_t size)
{
    const each_pack_ctx *const c = ctx;
    char path[PATH_MAX];
    const cairn_err rc = pack_path(c->s->packs, pack, path, sizeof path);
    return rc ? rc : c->fn(c->ctx, pack, path, size);
}

cairn_err store_each_pack(store *s, store_pack_at_fn fn, void *ctx)
{
    each_pack_ctx c = {s, fn, ctx};
    return s->src ? s->src->list(s->src->ctx, each_source_pack, &c)
                  : store_each_pack_file(s, each_local_pack, &c);
}

cairn_err store_check_pack(store *s, store_worker *w, const uint8_t pack[PACK_ID_LEN],
                           const char *path, uint64_t size, int data, pack_entry **entries,
                           size_t *count, store_bad_chunk_fn bad, void *ctx)
{
    uint64_t got;
    if (!s->src)
        return data ? verify_pack(s, w, -1, path, entries, count, bad, ctx)
                    : read_pack_file(s, path, entries, count, &got, NULL);
    if (!data) {
        /* the source is one connection: one reader at a time */
        range_ctx r = {s, pack};
        pthread_mutex_lock(&s->src_mu);
        const cairn_err rc = pack_read_trailer_with(
            source_read, &r, size, path, keyring_seal_key(s->keys), entries, count, &got);
        pthread_mutex_unlock(&s->src_mu);
        return rc;
    }
    /* opened before another fetch can evict it from the cache */
    pthread_mutex_lock(&s->src_mu);
    cairn_err rc = s->src->ensure(s->src->ctx, pack, path);
    const int fd = rc ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    const int e = errno;
    pthread_mutex_unlock(&s->src_mu);
    if (rc)
        return rc;
    if (fd < 0)
        return err_errno(e, path);
    rc = verify_pack(s, w, fd, path, entries, count, bad, ctx);
    close(fd);
    return rc;
}

struct rebuild_ctx {
    store *s;
    uint64_t packs;
};

static cairn_err rebuild_one(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    struct rebuild_ctx *const c = ctx;
    const cairn_err rc = add_pack_to_index(c->s, pack, path);
    if (rc == CAIRN_OK)
        c->packs++;
    return rc == CAIRN_ECORRUPT ? CAIRN_OK : rc;
}

cairn_err store_index_rebuild(store *s, uint64_t *packs, uint64_t *chunks)
{
    struct rebuild_ctx c = {s, 0};
    uint64_t np;
    cairn_err rc = index_clear(s->ix);
    if (!rc)
        rc = store_each_pack_file(s, rebuild_one, &c);
    if (!rc)
        rc = index_count(s->ix, chunks, &np);
    *packs = c.packs;
    return rc;
}

cairn_err store_index_count(store *s, uint64_t *chunks, uint64_t *packs)
{
    return index_count(s->ix, chunks, packs);
}

cairn_err store_pack_entries(store *s, const uint8_t pack[PACK_ID_LEN], pack_entry **entries,
                             size_t *count, uint64_t *size)
{
    char path[PATH_MAX];
    const cairn_err rc = pack_path(s->packs, pack, path, sizeof path);
    return rc ? rc : read_pack_file(s, path, entries, count, size, NULL);
}

cairn_err store_repack(store *s, store_worker *w, const uint8_t pack[PACK_ID_LEN],
                       store_keep_fn keep, void *ctx, uint64_t *copied_bytes)
{
    char path[PATH_MAX];
    pack_entry *e = NULL;
    size_t n = 0;
    uint64_t size;
    uint8_t *data = NULL;
    cbuf plain;
    cbuf_init(&plain);
    cairn_err rc = pack_path(s->packs, pack, path, sizeof path);
    if (!rc)
        rc = read_pack_file(s, path, &e, &n, &size, &data);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!keep(ctx, &e[i]))
            continue;
        /* never carry damage forward: a blob that fails here stays where it is */
        rc = blob_decode(w->bc, keyring_seal_key(s->keys), keyring_id_key(s->keys), &e[i],
                         data + e[i].offset, &plain);
        if (rc) {
            rc = err_wrap(rc, path);
            break;
        }
        /* not store_put_sealed: it skips a chunk its session set holds (put
         * earlier in the session and still waiting for the index), and a
         * copy skipped is lost with the pack */
        pack_entry copy = e[i];
        rc = append_blob(s, &copy, data + e[i].offset);
        *copied_bytes += e[i].stored_len;
    }
    free(data);
    free(e);
    cbuf_free(&plain);
    return rc;
}

cairn_err store_delete_pack(store *s, const uint8_t pack[PACK_ID_LEN], const pack_entry *entries,
                            size_t count)
{
    char path[PATH_MAX];
    cairn_err rc = pack_path(s->packs, pack, path, sizeof path);
    if (rc)
        return rc;
    if (unlink(path) != 0 && errno != ENOENT)
        return err_errno(errno, path);
    *strrchr(path, '/') = '\0';
    rc = fs_fsync_dir(path);
    if (!rc)
        rc = index_remove_pack(s->ix, pack, entries, count);
    /* a chunk seen earlier in this session may have been in this pack: a
     * later put must look again (a chunk still in an open pack may then be
     * stored twice, which costs space, never data) */
    pthread_mutex_lock(&s->seen_mu);
    idset_free(&s->seen);
    idset_init(&s->seen);
    pthread_mutex_unlock(&s->seen_mu);
    return rc;
}

cairn_err store_delete_snapshot(store *s, const uint8_t id[SNAPSHOT_ID_LEN])
{
    char hex[2 * SNAPSHOT_ID_LEN + 1], path[PATH_MAX];
    fs_hex(id, SNAPSHOT_ID_LEN, hex);
    snprintf(path, sizeof path, "%s/%s", s->snapshots, hex);
    if (unlink(path) != 0)
        return err_errno(errno, path);
    return fs_fsync_dir(s->snapshots);
}

/* ---- repair ---- */

cairn_err store_tmp_path(const store *s, const char *name, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s/%s", s->tmp, name) >= (int)cap)
        return err_set(CAIRN_EINVAL, "%s/%s: path too long", s->tmp, name);
    return CAIRN_OK;
}

static cairn_err fsync_file(const char *path)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(errno, path);
    if (fsync(fd) != 0) {
        const int e = errno;
        close(fd);
        return err_errno(e, path);
    }
    return close(fd) != 0 ? err_errno(errno, path) : CAIRN_OK;
}

cairn_err store_import_pack(store *s, store_worker *w, const uint8_t pack[PACK_ID_LEN],
                            const char *src, pack_entry **entries, size_t *count)
{
    char path[PATH_MAX];
    cairn_err rc = store_verify_pack(s, w, src, NULL, NULL, NULL, NULL);
    if (!rc)
        rc = pack_path(s->packs, pack, path, sizeof path);
    if (!rc)
        rc = fsync_file(src);
    if (rc)
        return rc;
    *strrchr(path, '/') = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return err_errno(errno, path);
    path[strlen(path)] = '/';
    /* the pack is durable under its tmp name: the rename makes it whole or
     * leaves the damaged file, never a mix */
    if (rename(src, path) != 0)
        return err_errno(errno, path);
    *strrchr(path, '/') = '\0';
    rc = fs_fsync_dir(path);
    path[strlen(path)] = '/';
    if (!rc)
        rc = add_pack_to_index(s, pack, path);
    if (!rc && entries) {
        uint64_t size;
        rc = read_pack_file(s, path, entries, count, &size, NULL);
    }
    return rc;
}

/* Reads the file at path and checks it is snapshot object id; *sealed
 * (malloc'd) and *n receive its bytes. */
static cairn_err read_snapshot_file(store *s, const uint8_t id[SNAPSHOT_ID_LEN], const char *path,
                                    uint8_t **sealed, size_t *n)
{
    uint8_t check[SNAPSHOT_ID_LEN];
    uint8_t *plain = NULL;
    cairn_err rc = fs_read_file(path, 64 << 20, sealed, n);
    if (rc)
        return rc;
    if (*n < SEAL_OVERHEAD) {
        rc = err_set(CAIRN_ECORRUPT, "%s: snapshot object is truncated", path);
        goto fail;
    }
    plain = malloc(*n - SEAL_OVERHEAD + 1);
    if (!plain) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto fail;
    }
    if (seal_open(keyring_seal_key(s->keys), snapshot_ad, sizeof snapshot_ad, *sealed, *n, plain) !=
        CAIRN_OK) {
        rc =
            err_set(CAIRN_ECORRUPT, "%s: snapshot object is damaged (authentication failed)", path);
        goto fail;
    }
    seal_id(keyring_id_key(s->keys), plain, *n - SEAL_OVERHEAD, check);
    if (memcmp(check, id, SNAPSHOT_ID_LEN) != 0) {
        rc = err_set(CAIRN_ECORRUPT, "%s: snapshot object does not match its name", path);
        goto fail;
    }
    free(plain);
    return CAIRN_OK;
fail:
    free(plain);
    free(*sealed);
    *sealed = NULL;
    return rc;
}

cairn_err store_verify_snapshot_file(store *s, const uint8_t id[SNAPSHOT_ID_LEN], const char *path)
{
    uint8_t *sealed;
    size_t n;
    const cairn_err rc = read_snapshot_file(s, id, path, &sealed, &n);
    if (!rc)
        free(sealed);
    return rc;
}

cairn_err store_import_snapshot(store *s, const uint8_t id[SNAPSHOT_ID_LEN], const char *src)
{
    char hex[2 * SNAPSHOT_ID_LEN + 1];
    uint8_t *sealed;
    size_t n;
    cairn_err rc = read_snapshot_file(s, id, src, &sealed, &n);
    if (rc)
        return rc;
    fs_hex(id, SNAPSHOT_ID_LEN, hex);
    rc = fs_write_atomic(s->snapshots, hex, sealed, n, 0600);
    free(sealed);
    return rc;
}

cairn_err store_read_sealed(store *s, store_worker *w, const uint8_t id[ID_LEN], pack_entry *e,
                            cbuf *blob)
{
    char path[PATH_MAX];
    index_loc loc;
    int fd = -1;
    cbuf plain;
    cairn_err rc = locate(s, id, &loc, path, sizeof path, e);
    if (!rc)
        rc = worker_pack_fd(w, loc.pack, path, &fd);
    if (rc)
        return rc;
    cbuf_reset(blob);
    if (!cbuf_reserve(blob, e->stored_len))
        return err_set(CAIRN_ENOMEM, "out of memory");
    rc = fs_pread_all(fd, blob->data, e->stored_len, e->offset, path);
    if (rc)
        return rc;
    blob->len = e->stored_len;
    cbuf_init(&plain);
    rc = blob_decode(w->bc, keyring_seal_key(s->keys), keyring_id_key(s->keys), e, blob->data,
                     &plain);
    cbuf_free(&plain);
    return rc ? err_wrap(rc, path) : CAIRN_OK;
}

cairn_err store_set_aside(store *s, const char *rel)
{
    char from[PATH_MAX], to[PATH_MAX];
    if (snprintf(from, sizeof from, "%s/%s", s->path, rel) >= (int)sizeof from ||
        snprintf(to, sizeof to, "%s/" STORE_DIR_DAMAGED "/%s", s->path, rel) >= (int)sizeof to)
        return err_set(CAIRN_EINVAL, "%s/%s: path too long", s->path, rel);
    *strrchr(to, '/') = '\0';
    cairn_err rc = fs_mkdirs(to, 0700);
    if (rc)
        return rc;
    to[strlen(to)] = '/';
    if (rename(from, to) != 0)
        return err_errno(errno, from);
    *strrchr(to, '/') = '\0';
    *strrchr(from, '/') = '\0';
    rc = fs_fsync_dir(to);
    return rc ? rc : fs_fsync_dir(from);
}

cairn_err store_import_chain(store *s, const uint8_t id[ID_LEN], const char *src, int install,
                             uint8_t **plain, size_t *len)
{
    char hex[2 * ID_LEN + 1];
    uint8_t *sealed = NULL, *out = NULL;
    size_t n = 0;
    cairn_err rc = fs_read_file(src, 64 << 20, &sealed, &n);
    if (!rc && n < SEAL_OVERHEAD)
        rc = err_set(CAIRN_ECORRUPT, "%s: chain object is truncated", src);
    if (!rc && !(out = malloc(n - SEAL_OVERHEAD + 1)))
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    if (!rc &&
        seal_open(keyring_seal_key(s->keys), chain_ad, sizeof chain_ad, sealed, n, out) != CAIRN_OK)
        rc = err_set(CAIRN_ECORRUPT, "%s: chain object is damaged (authentication failed)", src);
    if (!rc && install) {
        fs_hex(id, ID_LEN, hex);
        rc = fs_mkdirs(s->chains, 0700);
        if (!rc)
            rc = fs_write_atomic(s->chains, hex, sealed, n, 0600);
    }
    free(sealed);
    if (rc) {
        free(out);
        return rc;
    }
    *plain = out;
    *len = n - SEAL_OVERHEAD;
    return CAIRN_OK;
}

cairn_err store_verify_config(const char *path, const char *password, size_t password_len,
                              const char *cfg)
{
    char keys_dir[PATH_MAX + 8];
    uint8_t *bytes = NULL, body[CONFIG_BODY];
    size_t len = 0;
    keyring *keys = NULL;
    char key_id[KEYS_ID_HEX + 1];
    snprintf(keys_dir, sizeof keys_dir, "%s/" STORE_DIR_KEYS, path);
    cairn_err rc = fs_read_file(cfg, 4096, &bytes, &len);
    if (!rc)
        rc = keys_unlock(keys_dir, password, password_len, &keys, key_id);
    if (!rc && (len != CONFIG_HEAD + CONFIG_BODY + SEAL_OVERHEAD ||
                memcmp(bytes, config_magic, sizeof config_magic) != 0 ||
                seal_open(keyring_seal_key(keys), bytes, CONFIG_HEAD, bytes + CONFIG_HEAD,
                          len - CONFIG_HEAD, body) != CAIRN_OK))
        rc = err_set(CAIRN_ECORRUPT, "%s: not this store's config", cfg);
    sodium_memzero(body, sizeof body);
    keyring_free(keys);
    free(bytes);
    return rc;
}

cairn_err store_replace_config(const char *path, const char *cfg)
{
    char from[PATH_MAX + 16], dir[PATH_MAX + 16], to[PATH_MAX + 32];
    snprintf(from, sizeof from, "%s/" STORE_NAME_CONFIG, path);
    snprintf(dir, sizeof dir, "%s/" STORE_DIR_DAMAGED, path);
    snprintf(to, sizeof to, "%s/" STORE_NAME_CONFIG, dir);
    cairn_err rc = fs_mkdirs(dir, 0700);
    if (!rc && rename(from, to) != 0 && errno != ENOENT)
        rc = err_errno(errno, from);
    if (!rc && rename(cfg, from) != 0)
        rc = err_errno(errno, from);
    if (!rc)
        rc = fs_fsync_dir(dir);
    return rc ? rc : fs_fsync_dir(path);
}
