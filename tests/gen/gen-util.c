/* gen-util.c - errors, PRNG, text and file helpers for cairn-gen. */
#define _XOPEN_SOURCE 700

#include "gen.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/evp.h>

/* Big writes: the 2 GiB case must stay disk-bound, not syscall-bound. */
enum { WRITE_CHUNK = 4 * GEN_MIB };

int gen_err(const char *where, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cairn-gen: %s: ", where);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

int gen_errno(const char *where, const char *what)
{
    return gen_err(where, "%s: %s", what, strerror(errno));
}

/* ---- PRNG ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_init(gen_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t gen_hash_str(const char *s)
{
    /* FNV-1a: only used to derive stream numbers, not for security. */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return h;
}

void rng_init_str(gen_rng *r, uint64_t seed, const char *key)
{
    rng_init(r, seed, gen_hash_str(key));
}

static uint64_t rotl(const uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(gen_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(gen_rng *r, uint64_t n)
{
    return n ? rng_next(r) % n : 0;
}

uint64_t rng_range(gen_rng *r, uint64_t lo, uint64_t hi)
{
    return hi <= lo ? lo : lo + rng_below(r, hi - lo + 1);
}

int rng_chance(gen_rng *r, unsigned num, unsigned den)
{
    return rng_below(r, den) < num;
}

void rng_fill(gen_rng *r, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len >= 8) {
        const uint64_t v = rng_next(r);
        memcpy(p, &v, 8);
        p += 8;
        len -= 8;
    }
    if (len) {
        const uint64_t v = rng_next(r);
        memcpy(p, &v, len);
    }
}

/* ---- buffers and text ---- */

int buf_reserve(gen_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *const p = realloc(b->data, cap);
    if (!p)
        return gen_err("memory", "cannot allocate %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_put(gen_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n))
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_printf(gen_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return gen_err("format", "vsnprintf failed");
    if (buf_reserve(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_free(gen_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* A fixed vocabulary keeps text rows and logs compressible the way real
 * messages and notes are (a small alphabet of frequent words). */
static const char *const words[] = {
    "the",      "be",          "to",       "of",        "and",       "a",        "in",
    "that",     "have",        "it",       "for",       "not",       "on",       "with",
    "he",       "as",          "you",      "do",        "at",        "this",     "but",
    "his",      "by",          "from",     "they",      "we",        "say",      "her",
    "she",      "or",          "an",       "will",      "my",        "one",      "all",
    "would",    "there",       "their",    "what",      "so",        "up",       "out",
    "if",       "about",       "who",      "get",       "which",     "go",       "me",
    "when",     "make",        "can",      "like",      "time",      "no",       "just",
    "him",      "know",        "take",     "people",    "into",      "year",     "your",
    "good",     "some",        "could",    "them",      "see",       "other",    "than",
    "then",     "now",         "look",     "only",      "come",      "its",      "over",
    "think",    "also",        "back",     "after",     "use",       "two",      "how",
    "our",      "work",        "first",    "well",      "way",       "even",     "new",
    "want",     "because",     "any",      "these",     "give",      "day",      "most",
    "us",       "dinner",      "tomorrow", "meeting",   "photo",     "train",    "coffee",
    "weekend",  "call",        "later",    "thanks",    "great",     "sounds",   "office",
    "school",   "pickup",      "running",  "late",      "minutes",   "home",     "soon",
    "birthday", "party",       "flight",   "hotel",     "booking",   "receipt",  "invoice",
    "project",  "draft",       "review",   "garden",    "recipe",    "grocery",  "list",
    "milk",     "bread",       "apples",   "battery",   "charger",   "update",   "password",
    "account",  "weather",     "rain",     "sunny",     "beach",     "mountain", "museum",
    "ticket",   "concert",     "movie",    "book",      "chapter",   "library",  "doctor",
    "dentist",  "appointment", "Monday",   "Tuesday",   "Wednesday", "Thursday", "Friday",
    "Saturday", "Sunday",      "morning",  "evening",   "night",     "lunch",    "breakfast",
    "kitchen",  "window",      "door",     "car",       "bike",      "bus",      "station",
    "street",   "city",        "river",    "park",      "dog",       "cat",      "family",
    "friend",   "mother",      "father",   "sister",    "brother",   "team",     "game",
    "score",    "match",       "practice", "lesson",    "music",     "song",     "playlist",
    "camera",   "video",       "message",  "email",     "address",   "phone",    "number",
    "note",     "idea",        "plan",     "budget",    "payment",   "transfer", "bank",
    "order",    "delivery",    "package",  "shipping",  "return",    "refund",   "store",
    "price",    "sale",        "cheap",    "expensive", "quick",     "slow",     "early",
    "blue",     "green",       "red",      "yellow",    "small",     "large",    "happy",
};

const char *gen_word(gen_rng *r)
{
    return words[rng_below(r, sizeof words / sizeof words[0])];
}

int gen_sentence(gen_rng *r, gen_buf *b, unsigned nwords)
{
    for (unsigned i = 0; i < nwords; i++) {
        const char *const w = gen_word(r);
        if (i == 0) {
            const char first = (char)(w[0] >= 'a' && w[0] <= 'z' ? w[0] - 32 : w[0]);
            if (buf_put(b, &first, 1) || buf_put(b, w + 1, strlen(w + 1)))
                return -1;
        } else if (buf_put(b, " ", 1) || buf_put(b, w, strlen(w))) {
            return -1;
        }
    }
    return buf_put(b, ".", 1);
}

int gen_text(gen_rng *r, gen_buf *b, size_t len)
{
    const size_t start = b->len;
    while (b->len - start < len) {
        if (b->len > start && buf_put(b, " ", 1))
            return -1;
        if (gen_sentence(r, b, (unsigned)rng_range(r, 3, 16)))
            return -1;
    }
    return 0;
}

void gen_hex(gen_rng *r, char *out, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++)
        out[i] = digits[rng_below(r, 16)];
    out[n] = '\0';
}

void gen_uuid(gen_rng *r, char out[37])
{
    gen_hex(r, out, 36);
    out[8] = out[13] = out[18] = out[23] = '-';
    out[14] = '4';
    out[19] = "89AB"[rng_below(r, 4)];
}

/* ---- files ---- */

int gen_sha1_hex(const void *data, size_t len, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(data, len, md, &md_len, EVP_sha1(), NULL) != 1 || md_len != 20)
        return gen_err("sha1", "EVP_Digest failed");
    for (unsigned i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int gen_file_id(const char *domain, const char *path, char out[41])
{
    gen_buf b = {0};
    int rc = -1;
    if (buf_printf(&b, "%s-%s", domain, path))
        goto fail;
    rc = gen_sha1_hex(b.data, b.len, out);
fail:
    buf_free(&b);
    return rc;
}

char *gen_strdup(const char *s)
{
    const size_t n = strlen(s) + 1;
    char *const p = malloc(n);
    if (!p) {
        gen_err("memory", "cannot allocate %zu bytes", n);
        return NULL;
    }
    return memcpy(p, s, n);
}

char *gen_strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        gen_err("format", "vsnprintf failed");
        return NULL;
    }
    char *const p = malloc((size_t)n + 1);
    if (!p) {
        gen_err("memory", "cannot allocate %d bytes", n + 1);
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int gen_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int gen_mkdir_p(const char *path, unsigned mode)
{
    char *const p = gen_strdup(path);
    if (!p)
        return -1;
    int rc = -1;
    for (char *s = p + 1;; s++) {
        const char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            gen_errno(p, "cannot create directory");
            goto fail;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    rc = 0;
fail:
    free(p);
    return rc;
}

int gen_make_fresh_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            return gen_errno(dir, "cannot open directory");
        return gen_mkdir_p(dir, 0755);
    }
    int rc = 0;
    errno = 0;
    for (const struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            rc = gen_err(dir, "directory exists and is not empty");
            break;
        }
    }
    if (rc == 0 && errno)
        rc = gen_errno(dir, "cannot read directory");
    if (closedir(d) != 0 && rc == 0)
        rc = gen_errno(dir, "cannot close directory");
    return rc;
}

static int write_all(int fd, const char *path, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        const ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return gen_errno(path, "write failed");
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int open_for_write(const char *path)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        gen_errno(path, "cannot create file");
    return fd;
}

static int close_checked(int fd, const char *path)
{
    if (close(fd) != 0)
        return gen_errno(path, "close failed");
    return 0;
}

int gen_write_file(const char *path, const void *data, size_t len)
{
    const int fd = open_for_write(path);
    if (fd < 0)
        return -1;
    int rc = write_all(fd, path, data, len);
    if (close_checked(fd, path))
        rc = -1;
    return rc;
}

int gen_write_random_file(const char *path, const void *head, size_t head_len, const void *tail,
                          size_t tail_len, uint64_t len, gen_rng *r)
{
    const size_t chunk = len < WRITE_CHUNK ? (size_t)len : WRITE_CHUNK;
    char *const buf = malloc(chunk ? chunk : 1);
    if (!buf)
        return gen_err(path, "cannot allocate %zu bytes", chunk);
    int rc = -1;
    const int fd = open_for_write(path);
    if (fd < 0)
        goto fail;
    uint64_t done = 0;
    while (done < len) {
        const size_t n = len - done < chunk ? (size_t)(len - done) : chunk;
        rng_fill(r, buf, n);
        if (done == 0)
            memcpy(buf, head, head_len < n ? head_len : n);
        /* The trailer is cosmetic (readers only sniff headers), so a last
         * chunk too short to hold it simply goes without. */
        if (done + n == len && tail_len && tail_len <= n)
            memcpy(buf + n - tail_len, tail, tail_len);
        if (write_all(fd, path, buf, n))
            goto close;
        done += n;
    }
    rc = 0;
close:
    if (close_checked(fd, path))
        rc = -1;
fail:
    free(buf);
    return rc;
}

int gen_read_file(const char *path, char **out, size_t *len)
{
    char *data = NULL;
    const int fd = open(path, O_RDONLY);
    if (fd < 0)
        return gen_errno(path, "cannot open");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        gen_errno(path, "cannot stat");
        goto fail;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        gen_err(path, "cannot allocate %lld bytes", (long long)st.st_size);
        goto fail;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        const ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            gen_errno(path, n == 0 ? "file shrank while reading" : "read failed");
            goto fail;
        }
        got += (size_t)n;
    }
    data[got] = '\0';
    if (close_checked(fd, path)) {
        free(data);
        return -1;
    }
    *out = data;
    *len = got;
    return 0;
fail:
    free(data);
    close(fd);
    return -1;
}

int gen_set_meta(const char *path, unsigned mode, int64_t mtime)
{
    if (chmod(path, mode) != 0)
        return gen_errno(path, "chmod failed");
    const struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0)
        return gen_errno(path, "cannot set mtime");
    return 0;
}

int gen_set_link_time(const char *path, int64_t mtime)
{
    const struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0)
        return gen_errno(path, "cannot set mtime");
    return 0;
}

int gen_file_size(const char *path, uint64_t *size)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return gen_errno(path, "cannot stat");
    *size = (uint64_t)st.st_size;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *e)
{
    return strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
}

static int walk_children(const char *dir, gen_walk_fn fn, void *ctx)
{
    struct dirent **list = NULL;
    const int n = scandir(dir, &list, skip_dots, by_name);
    if (n < 0)
        return gen_errno(dir, "cannot list directory");
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char *const child = gen_strf("%s/%s", dir, list[i]->d_name);
        rc = child ? gen_walk(child, fn, ctx) : -1;
        free(child);
    }
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return rc;
}

int gen_walk(const char *root, gen_walk_fn fn, void *ctx)
{
    struct stat st;
    if (lstat(root, &st) != 0)
        return gen_errno(root, "cannot stat");
    if (S_ISDIR(st.st_mode)) {
        const int rc = walk_children(root, fn, ctx);
        if (rc)
            return rc;
    }
    return fn(ctx, root, &st);
}

static int fix_dir(void *ctx, const char *path, const struct stat *st)
{
    if (!S_ISDIR(st->st_mode))
        return 0;
    return gen_set_meta(path, 0755, *(const int64_t *)ctx);
}

int gen_fix_dir_times(const char *root, int64_t mtime)
{
    return gen_walk(root, fix_dir, &mtime);
}
