/* gen-folder.c - "cairn-gen folder" and "cairn-gen edit": a generic directory
 * tree (not a device backup) and a small in-place change to it.
 *
 * Every file's bytes come from a PRNG keyed by (seed, relative path), so the
 * tree does not depend on where it is written or in which order. */
#define _XOPEN_SOURCE 700

#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { KIB = 1024, YEAR = 365 * GEN_DAY, TEXT_CHUNK = 4 * GEN_MIB, PAGE = 4096 };

typedef struct tree {
    const char *dir;
    uint64_t seed;
    int64_t date;
    gen_rng r; /* layout decisions only; contents use per-file streams */
    uint64_t media, db, text;
} tree;

static char *tree_path(const tree *t, const char *rel)
{
    return gen_strf("%s/%s", t->dir, rel);
}

/* Creates rel's parent directories and returns its full path. */
static char *prepare(const tree *t, const char *rel)
{
    char *const path = tree_path(t, rel);
    if (!path)
        return NULL;
    char *const slash = strrchr(path, '/');
    *slash = '\0';
    const int rc = gen_mkdir_p(path, 0755);
    *slash = '/';
    if (rc) {
        free(path);
        return NULL;
    }
    return path;
}

static int finish_file(tree *t, const char *path, uint64_t *counter)
{
    uint64_t size = 0;
    const int64_t mtime = t->date - (int64_t)rng_below(&t->r, YEAR);
    if (gen_file_size(path, &size) || gen_set_meta(path, 0644, mtime))
        return -1;
    *counter += size;
    return 0;
}

/* ---- text ---- */

typedef enum text_kind { T_PROSE, T_LOG, T_CSV } text_kind;

static int text_line(gen_rng *r, gen_buf *b, text_kind kind, int64_t *clock)
{
    static const char *const procs[] = {"kernel",   "sshd",  "cron", "backupd",
                                        "mdworker", "syncd", "httpd"};
    if (kind == T_PROSE)
        return gen_sentence(r, b, (unsigned)rng_range(r, 4, 18)) || buf_put(b, "\n", 1);
    *clock += (int64_t)rng_below(r, 90);
    const int64_t s = *clock;
    const int64_t days = s / GEN_DAY;
    if (kind == T_CSV)
        return buf_printf(b, "%lld,%lld,%llu.%02llu,%s,", (long long)s, (long long)days,
                          (unsigned long long)rng_below(r, 5000),
                          (unsigned long long)rng_below(r, 100), gen_word(r)) ||
               gen_sentence(r, b, (unsigned)rng_range(r, 1, 6)) || buf_put(b, "\n", 1);
    return buf_printf(b, "%lld %02lld:%02lld:%02lld host %s[%llu]: ", (long long)days,
                      (long long)(s / 3600 % 24), (long long)(s / 60 % 60), (long long)(s % 60),
                      procs[rng_below(r, sizeof procs / sizeof procs[0])],
                      (unsigned long long)rng_range(r, 100, 9999)) ||
           gen_sentence(r, b, (unsigned)rng_range(r, 3, 12)) || buf_put(b, "\n", 1);
}

static int write_text(tree *t, const char *rel, text_kind kind, uint64_t size)
{
    char *const path = prepare(t, rel);
    if (!path)
        return -1;
    gen_rng r;
    rng_init_str(&r, t->seed, rel);
    int64_t clock = t->date - YEAR;
    gen_buf b = {0};
    int rc = -1;
    FILE *const f = fopen(path, "wb");
    if (!f) {
        gen_errno(path, "cannot create");
        goto fail;
    }
    if (kind == T_CSV && buf_put(&b, "time,day,amount,category,note\n", 30))
        goto close;
    for (uint64_t done = 0; done < size;) {
        while (b.len < TEXT_CHUNK && done + b.len < size) {
            if (text_line(&r, &b, kind, &clock))
                goto close;
        }
        if (fwrite(b.data, 1, b.len, f) != b.len) {
            gen_errno(path, "write failed");
            goto close;
        }
        done += b.len;
        b.len = 0;
    }
    rc = 0;
close:
    if (f && fclose(f) != 0 && rc == 0)
        rc = gen_errno(path, "write failed");
    if (rc == 0)
        rc = finish_file(t, path, &t->text);
fail:
    buf_free(&b);
    free(path);
    return rc;
}

/* ---- media and databases ---- */

static int write_media(tree *t, const char *rel, gen_media_kind kind, uint64_t size)
{
    char *const path = prepare(t, rel);
    int rc = path ? gen_media_file(path, kind, size, t->seed ^ gen_hash_str(rel)) : -1;
    if (rc == 0)
        rc = finish_file(t, path, &t->media);
    free(path);
    return rc;
}

static int write_db(tree *t, const char *rel, gen_db_kind kind, uint64_t size)
{
    char *const path = prepare(t, rel);
    int rc = path ? gen_db_create(path, kind, size, t->seed ^ gen_hash_str(rel), t->date) : -1;
    if (rc == 0)
        rc = finish_file(t, path, &t->db);
    free(path);
    return rc;
}

static int media_set(tree *t, uint64_t budget)
{
    const uint64_t cap = budget / 8 > 2 * GEN_MIB ? budget / 8 : 2 * GEN_MIB;
    char rel[256];
    uint64_t left = budget;
    for (unsigned n = 1; left >= 64 * KIB; n++) {
        const uint64_t roll = rng_below(&t->r, 100);
        gen_media_kind kind = MEDIA_JPEG;
        uint64_t size = 0;
        if (roll < 15) {
            kind = MEDIA_MOV;
            size = rng_range(&t->r, 10 * GEN_MIB, 80 * GEN_MIB);
            snprintf(rel, sizeof rel, "videos/%s-%03u.mov", gen_word(&t->r), n);
        } else if (roll < 30) {
            kind = MEDIA_M4A;
            size = rng_range(&t->r, 3 * GEN_MIB, 8 * GEN_MIB);
            snprintf(rel, sizeof rel, "music/%s/%02u %s.m4a", gen_word(&t->r), n % 20,
                     gen_word(&t->r));
        } else {
            size = rng_range(&t->r, 1536 * KIB, 5 * GEN_MIB);
            snprintf(rel, sizeof rel, "photos/%u/IMG_%04u.JPG", 2019 + n % 6, n);
        }
        size = size < cap ? size : cap;
        size = size < left ? size : left;
        if (write_media(t, rel, kind, size))
            return -1;
        left -= size;
    }
    return 0;
}

typedef struct db_file {
    const char *rel;
    gen_db_kind kind;
    unsigned permille;
} db_file;

/* mail.sqlite is the largest (about 92 MB at 1 GiB): the one "edit" changes. */
static const db_file folder_dbs[] = {
    {"db/mail.sqlite", DB_MAIL, 90},
    {"db/messages.db", DB_SMS, 65},
    {"db/contacts.sqlitedb", DB_ADDRESSBOOK, 40},
    {"projects/garden/notes.db", DB_NOTES, 40},
    {"app/cache.db", DB_APP, 35},
    {"projects/budget/events.sqlite", DB_APP, 30},
};

static int db_set(tree *t, uint64_t total)
{
    for (size_t i = 0; i < sizeof folder_dbs / sizeof folder_dbs[0]; i++) {
        const db_file *const f = &folder_dbs[i];
        if (write_db(t, f->rel, f->kind, total / 1000 * f->permille))
            return -1;
    }
    return 0;
}

static int text_set(tree *t, uint64_t total)
{
    char rel[256];
    if (write_text(t, "logs/system.log", T_LOG, total / 25) ||
        write_text(t, "data/ledger.csv", T_CSV, total / 40) ||
        write_text(t, "docs/a/b/c/d/e/readme.md", T_PROSE, 3 * KIB))
        return -1;
    const unsigned days = 20 + (unsigned)rng_below(&t->r, 40);
    for (unsigned i = 0; i < days; i++) {
        snprintf(rel, sizeof rel, "logs/2024/2024-%02u-%02u.log", 1 + i / 28, 1 + i % 28);
        if (write_text(t, rel, T_LOG, total / 25 / days))
            return -1;
    }
    const unsigned docs = 30 + (unsigned)rng_below(&t->r, 30);
    for (unsigned i = 0; i < docs; i++) {
        snprintf(rel, sizeof rel, "docs/%s/%s-%u.txt", gen_word(&t->r), gen_word(&t->r), i);
        if (write_text(t, rel, T_PROSE, total / 25 / docs))
            return -1;
    }
    return 0;
}

static int specials(tree *t)
{
    char *const empty = prepare(t, "docs/empty.txt");
    char *const link = tree_path(t, "latest.log");
    char *const dir = tree_path(t, "cache/empty");
    int rc = -1;
    if (!empty || !link || !dir)
        goto fail;
    if (gen_write_file(empty, "", 0) || gen_set_meta(empty, 0644, t->date - GEN_DAY))
        goto fail;
    if (symlink("logs/system.log", link) != 0) {
        gen_errno(link, "cannot create symlink");
        goto fail;
    }
    if (gen_set_link_time(link, t->date - GEN_DAY) || gen_mkdir_p(dir, 0755))
        goto fail;
    rc = 0;
fail:
    free(empty);
    free(link);
    free(dir);
    return rc;
}

int gen_folder(const char *dir, const gen_opts *o)
{
    tree t = {.dir = dir, .seed = o->seed, .date = o->date};
    rng_init(&t.r, o->seed, 0xf01de5);
    const uint64_t total = o->size_mb * GEN_MIB;
    if (gen_make_fresh_dir(dir) || media_set(&t, total / 100 * 55) || db_set(&t, total) ||
        text_set(&t, total) || specials(&t) || gen_fix_dir_times(dir, o->date))
        return -1;
    const uint64_t sum = t.media + t.db + t.text;
    const double pct = sum ? 100.0 / (double)sum : 0;
    printf("%s: %llu bytes: media %llu (%.1f%%), sqlite %llu (%.1f%%), text %llu (%.1f%%)\n", dir,
           (unsigned long long)sum, (unsigned long long)t.media, (double)t.media * pct,
           (unsigned long long)t.db, (double)t.db * pct, (unsigned long long)t.text,
           (double)t.text * pct);
    return 0;
}

/* ---- edit ---- */

typedef struct item {
    char *rel;
    uint64_t size;
    int is_sqlite;
} item;

typedef struct scan {
    const char *root;
    size_t root_len;
    item *files;
    size_t n, cap;
    char **targets; /* symlink targets, relative to root */
    size_t ntargets;
    int64_t newest;
} scan;

static void scan_free(scan *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->files[i].rel);
    free(s->files);
    for (size_t i = 0; i < s->ntargets; i++)
        free(s->targets[i]);
    free(s->targets);
}

static int add_target(scan *s, const char *path, const char *rel)
{
    char buf[4096];
    const ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0)
        return gen_errno(path, "cannot read symlink");
    buf[n] = '\0';
    const char *const slash = strrchr(rel, '/');
    char *const target =
        slash ? gen_strf("%.*s/%s", (int)(slash - rel), rel, buf) : gen_strdup(buf);
    char **const t = realloc(s->targets, (s->ntargets + 1) * sizeof *t);
    if (!target || !t) {
        free(target);
        return gen_err(path, "out of memory");
    }
    s->targets = t;
    s->targets[s->ntargets++] = target;
    return 0;
}

static int add_item(scan *s, const char *path, const char *rel, const struct stat *st)
{
    if (s->n == s->cap) {
        const size_t cap = s->cap ? s->cap * 2 : 256;
        item *const f = realloc(s->files, cap * sizeof *f);
        if (!f)
            return gen_err(path, "out of memory");
        s->files = f;
        s->cap = cap;
    }
    const int is_sqlite = gen_is_sqlite(path);
    char *const copy = gen_strdup(rel);
    if (is_sqlite < 0 || !copy) {
        free(copy);
        return -1;
    }
    s->files[s->n++] = (item){.rel = copy, .size = (uint64_t)st->st_size, .is_sqlite = is_sqlite};
    return 0;
}

static int scan_one(void *ctx, const char *path, const struct stat *st)
{
    scan *const s = ctx;
    if (st->st_mtime > s->newest)
        s->newest = st->st_mtime;
    if (strlen(path) <= s->root_len)
        return 0;
    const char *const rel = path + s->root_len + 1;
    if (S_ISLNK(st->st_mode))
        return add_target(s, path, rel);
    if (S_ISREG(st->st_mode))
        return add_item(s, path, rel, st);
    return 0;
}

static const item *largest_db(const scan *s)
{
    const item *best = NULL;
    for (size_t i = 0; i < s->n; i++) {
        if (s->files[i].is_sqlite && (!best || s->files[i].size > best->size))
            best = &s->files[i];
    }
    return best;
}

static int is_target(const scan *s, const char *rel)
{
    for (size_t i = 0; i < s->ntargets; i++) {
        if (strcmp(s->targets[i], rel) == 0)
            return 1;
    }
    return 0;
}

/* A plain non-empty file nothing points at. */
static const item *pick_victim(const scan *s, gen_rng *r)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += !s->files[i].is_sqlite && s->files[i].size && !is_target(s, s->files[i].rel);
    size_t k = (size_t)rng_below(r, n);
    for (size_t i = 0; i < s->n; i++) {
        if (s->files[i].is_sqlite || !s->files[i].size || is_target(s, s->files[i].rel))
            continue;
        if (k-- == 0)
            return &s->files[i];
    }
    return NULL;
}

/* Appends which 4 KiB pages differ between old and the file now at path. */
static int changed_pages(const char *path, const char *old, size_t old_len, gen_buf *out)
{
    char *now = NULL;
    size_t len = 0;
    if (gen_read_file(path, &now, &len))
        return -1;
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += PAGE) {
        const size_t n = len - off < PAGE ? len - off : PAGE;
        if (off + n > old_len || memcmp(now + off, old + off, n) != 0)
            rc = buf_printf(out, " %zu", off / PAGE);
    }
    if (rc == 0)
        rc = buf_printf(out, " of %zu", (len + PAGE - 1) / PAGE);
    free(now);
    return rc;
}

static int set_parent_time(const char *path, int64_t when)
{
    char *const copy = gen_strdup(path);
    if (!copy)
        return -1;
    char *const slash = strrchr(copy, '/');
    int rc = 0;
    if (slash) {
        *slash = '\0';
        rc = gen_set_meta(copy, 0755, when);
    }
    free(copy);
    return rc;
}

/* Rewrites rows in the middle of the database; reports its new size and the
 * pages that changed. */
static int edit_db(const char *dir, const item *db, gen_rng *r, int64_t when, uint64_t *size,
                   gen_buf *pages)
{
    char *const path = gen_strf("%s/%s", dir, db->rel);
    char *old = NULL;
    size_t old_len = 0;
    int rc = -1;
    if (!path || gen_read_file(path, &old, &old_len) || gen_db_edit_middle(path, r) ||
        gen_file_size(path, size) || gen_set_meta(path, 0644, when) ||
        set_parent_time(path, when) || changed_pages(path, old, old_len, pages))
        goto fail;
    rc = 0;
fail:
    free(old);
    free(path);
    return rc;
}

static int add_note(const char *dir, const scan *s, gen_rng *r, uint64_t seed, int64_t when,
                    char **added, uint64_t *size)
{
    const item *const near = &s->files[rng_below(r, s->n)];
    const char *const slash = strrchr(near->rel, '/');
    const int dlen = slash ? (int)(slash - near->rel + 1) : 0;
    char *rel = NULL;
    char *path = NULL;
    for (unsigned i = 0; !path; i++) {
        free(rel);
        rel = gen_strf("%.*snote-%llu-%u.txt", dlen, near->rel, (unsigned long long)seed, i);
        path = rel ? gen_strf("%s/%s", dir, rel) : NULL;
        if (!path)
            goto fail;
        if (gen_path_exists(path)) {
            free(path);
            path = NULL;
        }
    }
    gen_buf b = {0};
    const int rc = gen_text(r, &b, (size_t)rng_range(r, 2 * KIB, 40 * KIB)) ||
                   buf_put(&b, "\n", 1) || gen_write_file(path, b.data, b.len) ||
                   gen_set_meta(path, 0644, when) || set_parent_time(path, when);
    *size = b.len;
    buf_free(&b);
    free(path);
    if (rc)
        goto fail;
    *added = rel;
    return 0;
fail:
    free(rel);
    return -1;
}

static int remove_file(const char *dir, const item *victim, int64_t when)
{
    char *const path = gen_strf("%s/%s", dir, victim->rel);
    if (!path)
        return -1;
    int rc = 0;
    if (unlink(path) != 0)
        rc = gen_errno(path, "cannot delete");
    else
        rc = set_parent_time(path, when);
    free(path);
    return rc;
}

int gen_edit(const char *dir, const gen_opts *o)
{
    scan s = {.root = dir, .root_len = strlen(dir)};
    gen_rng r;
    rng_init(&r, o->seed, 0xed17);
    char *added = NULL;
    uint64_t added_size = 0;
    uint64_t db_size = 0;
    gen_buf pages = {0};
    int rc = -1;
    char *const manifest = gen_strf("%s/Manifest.db", dir);
    const int is_backup = manifest && gen_path_exists(manifest);
    free(manifest);
    if (is_backup) {
        gen_err(dir, "is a device backup: edit would desynchronise Manifest.db (use mutate)");
        goto fail;
    }
    if (gen_walk(dir, scan_one, &s))
        goto fail;
    const item *const db = largest_db(&s);
    const item *const victim = pick_victim(&s, &r);
    if (!db || !victim) {
        gen_err(dir, "needs a SQLite file and a plain file (make it with \"cairn-gen folder\")");
        goto fail;
    }
    /* After everything already there, so the change shows in mtimes too. */
    const int64_t when = s.newest + GEN_DAY;
    if (edit_db(dir, db, &r, when, &db_size, &pages) || remove_file(dir, victim, when) ||
        add_note(dir, &s, &r, o->seed, when, &added, &added_size))
        goto fail;
    /* One line per kind, so A, D, M is already byte-sorted. */
    if (printf("A\t%s\t%llu\nD\t%s\t0\nM\t%s\t%llu\n# %s: changed 4096-byte pages:%s\n", added,
               (unsigned long long)added_size, victim->rel, db->rel, (unsigned long long)db_size,
               db->rel, pages.data) < 0) {
        gen_errno("stdout", "write failed");
        goto fail;
    }
    rc = 0;
fail:
    buf_free(&pages);
    free(added);
    scan_free(&s);
    return rc;
}
