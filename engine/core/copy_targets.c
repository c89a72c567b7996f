/* copy_targets.c - the store's list of copy targets, in its text file, and the
 * 3-2-1 rule over them. */
#include "engine/core/copy_targets.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "util/codec.h"
#include "util/fsutil.h"
#include "util/idset.h"
#include "store/layout.h"

enum { TARGETS_FILE_MAX = 64 << 20, MSG_MAX = 400 };

static const char *const media_names[] = {"disk", "nas", "cloud"};

int targets_valid_name(const char *name)
{
    const size_t n = strlen(name);
    return n > 0 && n <= TARGET_NAME_MAX &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

const char *targets_default_media(const char *url)
{
    if (strncmp(url, "sftp://", 7) == 0)
        return "nas";
    if (strncmp(url, "s3://", 5) == 0)
        return "cloud";
    return "disk";
}

static int media_index(const char *media)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(media, media_names[i]) == 0)
            return i;
    return -1;
}

cairn_err targets_check_media(const char *media)
{
    if (media_index(media) < 0)
        return err_set(CAIRN_EINVAL, "media '%s' is not one of disk, nas, cloud", media);
    return CAIRN_OK;
}

/* URLs and names are stored one per line, space-separated from their key:
 * whitespace and control characters would break the format. */
static int plain_token(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    return *s != '\0';
}

static void target_clear(target *t)
{
    free(t->name);
    free(t->url);
    free(t->fail_msg);
    free(t->held);
    memset(t, 0, sizeof *t);
}

void targets_free(target_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        target_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

target *targets_find(const target_list *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

static target *append(target_list *l)
{
    target *const p = realloc(l->items, (l->count + 1) * sizeof *p);
    if (!p)
        return NULL;
    l->items = p;
    memset(&p[l->count], 0, sizeof *p);
    return &p[l->count++];
}

/* ---- the file ---- */

typedef struct parser {
    const char *path;
    unsigned line;
} parser;

static cairn_err bad_line(const parser *p, const char *what)
{
    return err_set(CAIRN_ECORRUPT, "%s: line %u: %s", p->path, p->line, what);
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    const long long v = strtoll(s, &end, 10);
    if (errno || end == s || (*end && *end != ' '))
        return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out, const char **rest)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    const unsigned long long v = strtoull(s, &end, 10);
    if (errno || (*end && *end != ' '))
        return -1;
    *out = v;
    *rest = *end ? end + 1 : end;
    return 0;
}

static cairn_err add_held(target *t, const uint8_t id[ID_LEN])
{
    uint8_t(*const p)[ID_LEN] = realloc(t->held, (t->nheld + 1) * ID_LEN);
    if (!p)
        return err_set(CAIRN_ENOMEM, "out of memory");
    t->held = p;
    memcpy(t->held[t->nheld++], id, ID_LEN);
    return CAIRN_OK;
}

/* One "key value" line inside a target block. */
static cairn_err parse_field(const parser *p, target *t, const char *key, const char *val)
{
    uint64_t a;
    const char *rest;
    if (strcmp(key, "url") == 0) {
        if (t->url || !plain_token(val))
            return bad_line(p, "bad url");
        t->url = strdup(val);
        return t->url ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (strcmp(key, "media") == 0) {
        if (media_index(val) < 0)
            return bad_line(p, "bad media");
        snprintf(t->media, sizeof t->media, "%s", val);
        return CAIRN_OK;
    }
    if (strcmp(key, "offsite") == 0) {
        if (strcmp(val, "yes") && strcmp(val, "no"))
            return bad_line(p, "offsite must be yes or no");
        t->offsite = strcmp(val, "yes") == 0;
        return CAIRN_OK;
    }
    if (strcmp(key, "append_only") == 0) {
        if (strcmp(val, "yes") && strcmp(val, "no"))
            return bad_line(p, "append_only must be yes or no");
        t->append_only = strcmp(val, "yes") == 0;
        return CAIRN_OK;
    }
    if (strcmp(key, "added") == 0)
        return parse_i64(val, &t->added) ? bad_line(p, "bad time") : CAIRN_OK;
    if (strcmp(key, "copied") == 0) {
        if (parse_u64(val, &a, &rest) || parse_u64(rest, &t->copy_objects, &rest) ||
            parse_u64(rest, &t->copy_bytes, &rest) || *rest || a > INT64_MAX)
            return bad_line(p, "copied takes: time objects bytes");
        t->copy_time = (int64_t)a;
        return CAIRN_OK;
    }
    if (strcmp(key, "failed") == 0) {
        if (parse_u64(val, &a, &rest) || a > INT64_MAX || t->fail_msg)
            return bad_line(p, "failed takes: time message");
        t->fail_time = (int64_t)a;
        t->fail_msg = strdup(rest);
        return t->fail_msg ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (strcmp(key, "checked") == 0) {
        if (parse_u64(val, &a, &rest) || a > INT64_MAX ||
            (strcmp(rest, "ok") && strcmp(rest, "damaged") && strcmp(rest, "failed")))
            return bad_line(p, "checked takes: time ok|damaged|failed");
        t->check_time = (int64_t)a;
        snprintf(t->check_result, sizeof t->check_result, "%s", rest);
        return CAIRN_OK;
    }
    if (strcmp(key, "snapshot") == 0) {
        uint8_t id[ID_LEN];
        if (fs_unhex(val, id, ID_LEN) != 0)
            return bad_line(p, "bad snapshot id");
        return add_held(t, id);
    }
    return CAIRN_OK; /* a later version's field: ignored, so old cairns still read the file */
}

static cairn_err parse(const char *path, char *text, target_list *l)
{
    parser p = {path, 0};
    target *t = NULL;
    char *save = NULL;
    int header = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        p.line++;
        if (!*line || *line == '#')
            continue;
        char *const sp = strchr(line, ' ');
        const char *const val = sp ? sp + 1 : "";
        if (sp)
            *sp = '\0';
        cairn_err rc = CAIRN_OK;
        if (!header) {
            if (strcmp(line, "cairn-targets") || strcmp(val, "1"))
                return bad_line(&p, "not a cairn targets file of version 1");
            header = 1;
        } else if (strcmp(line, "target") == 0) {
            if (t)
                return bad_line(&p, "target inside a target (missing 'end')");
            if (!targets_valid_name(val) || targets_find(l, val))
                return bad_line(&p, "bad or repeated target name");
            t = append(l);
            if (!t || !(t->name = strdup(val)))
                return err_set(CAIRN_ENOMEM, "out of memory");
        } else if (strcmp(line, "end") == 0) {
            if (!t || !t->url || !t->media[0])
                return bad_line(&p, "a target needs a name, url and media");
            t = NULL;
        } else if (!t) {
            return bad_line(&p, "field outside a target");
        } else {
            rc = parse_field(&p, t, line, val);
        }
        if (rc)
            return rc;
    }
    if (!header)
        return err_set(CAIRN_ECORRUPT, "%s: empty targets file", path);
    if (t)
        return err_set(CAIRN_ECORRUPT, "%s: last target has no 'end'", path);
    return CAIRN_OK;
}

cairn_err targets_load(const char *store_dir, target_list *out)
{
    uint8_t *data = NULL;
    size_t len;
    target_list l = {NULL, 0};
    char *const path = fs_join(store_dir, STORE_NAME_TARGETS);
    if (!path)
        return err_set(CAIRN_ENOMEM, "out of memory");
    cairn_err rc = fs_read_file(path, TARGETS_FILE_MAX, &data, &len);
    if (rc == CAIRN_ENOTFOUND) {
        rc = CAIRN_OK;
    } else if (!rc) {
        char *const text = malloc(len + 1);
        if (!text) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
        } else {
            memcpy(text, data, len);
            text[len] = '\0';
            rc = strlen(text) != len ? err_set(CAIRN_ECORRUPT, "%s: holds a NUL byte", path)
                                     : parse(path, text, &l);
            free(text);
        }
    }
    free(data);
    free(path);
    if (rc) {
        targets_free(&l);
        return rc;
    }
    *out = l;
    return CAIRN_OK;
}

static cairn_err serialize(const target_list *l, cbuf *out)
{
    char line[2 * TARGET_NAME_MAX + PATH_MAX + MSG_MAX + 64], hex[2 * ID_LEN + 1];
#define EMIT(...)                                                                                  \
    do {                                                                                           \
        const int n_ = snprintf(line, sizeof line, __VA_ARGS__);                                   \
        cbuf_put(out, line, n_ < (int)sizeof line ? (size_t)n_ : sizeof line - 1);                 \
    } while (0)
    EMIT("cairn-targets 1\n");
    for (size_t i = 0; i < l->count; i++) {
        const target *const t = &l->items[i];
        EMIT("target %s\nurl %s\nmedia %s\noffsite %s\nadded %" PRId64 "\n", t->name, t->url,
             t->media, t->offsite ? "yes" : "no", t->added);
        if (t->append_only)
            EMIT("append_only yes\n");
        if (t->copy_time)
            EMIT("copied %" PRId64 " %" PRIu64 " %" PRIu64 "\n", t->copy_time, t->copy_objects,
                 t->copy_bytes);
        if (t->fail_time)
            EMIT("failed %" PRId64 " %s\n", t->fail_time, t->fail_msg ? t->fail_msg : "");
        if (t->check_time)
            EMIT("checked %" PRId64 " %s\n", t->check_time, t->check_result);
        for (size_t k = 0; k < t->nheld; k++) {
            fs_hex(t->held[k], ID_LEN, hex);
            EMIT("snapshot %s\n", hex);
        }
        EMIT("end\n");
    }
#undef EMIT
    return out->failed ? err_set(CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
}

cairn_err targets_update(const char *store_dir, targets_edit_fn fn, void *ctx)
{
    target_list l = {NULL, 0};
    cbuf text;
    cbuf_init(&text);
    char *const lock = fs_join(store_dir, STORE_NAME_LOCK ".targets");
    if (!lock)
        return err_set(CAIRN_ENOMEM, "out of memory");
    const int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cairn_err rc = fd < 0 ? err_errno(errno, lock) : CAIRN_OK;
    while (!rc && flock(fd, LOCK_EX) != 0)
        if (errno != EINTR)
            rc = err_errno(errno, lock);
    if (!rc)
        rc = targets_load(store_dir, &l);
    if (!rc)
        rc = fn(ctx, &l);
    if (!rc)
        rc = serialize(&l, &text);
    if (!rc)
        rc = fs_write_atomic(store_dir, STORE_NAME_TARGETS, text.data, text.len, 0600);
    if (fd >= 0)
        close(fd); /* releases the lock */
    targets_free(&l);
    cbuf_free(&text);
    free(lock);
    return rc;
}

/* ---- edits ---- */

cairn_err targets_add(target_list *l, const char *name, const char *url, const char *media,
                      int offsite)
{
    if (!targets_valid_name(name))
        return err_set(CAIRN_EINVAL,
                       "'%s' is not a valid target name (letters, digits, '_', '.', '-'; at most "
                       "%d)",
                       name, TARGET_NAME_MAX);
    if (!plain_token(url) || strlen(url) >= PATH_MAX)
        return err_set(CAIRN_EINVAL, "target URL '%s' is empty, too long or holds spaces", url);
    cairn_err rc = targets_check_media(media);
    if (rc)
        return rc;
    if (targets_find(l, name))
        return err_set(CAIRN_EEXIST, "a target named '%s' exists already", name);
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].url, url) == 0)
            return err_set(CAIRN_EEXIST, "%s is target '%s' already", url, l->items[i].name);
    target *const t = append(l);
    if (!t)
        return err_set(CAIRN_ENOMEM, "out of memory");
    t->name = strdup(name);
    t->url = strdup(url);
    if (!t->name || !t->url) {
        target_clear(t);
        l->count--;
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    snprintf(t->media, sizeof t->media, "%s", media);
    t->offsite = offsite;
    t->added = (int64_t)time(NULL);
    return CAIRN_OK;
}

cairn_err targets_remove(target_list *l, const char *name)
{
    target *const t = targets_find(l, name);
    if (!t)
        return err_set(CAIRN_ENOTFOUND, "no target named '%s' (see 'cairn target list')", name);
    target_clear(t);
    const size_t i = (size_t)(t - l->items);
    memmove(&l->items[i], &l->items[i + 1], (l->count - i - 1) * sizeof *t);
    l->count--;
    return CAIRN_OK;
}

cairn_err targets_set_copied(target *t, int64_t when, uint64_t objects, uint64_t bytes,
                             const uint8_t (*held)[ID_LEN], size_t nheld)
{
    uint8_t(*const copy)[ID_LEN] = malloc(nheld ? nheld * ID_LEN : 1);
    if (!copy)
        return err_set(CAIRN_ENOMEM, "out of memory");
    if (nheld)
        memcpy(copy, held, nheld * ID_LEN);
    free(t->held);
    t->held = copy;
    t->nheld = nheld;
    t->copy_time = when;
    t->copy_objects = objects;
    t->copy_bytes = bytes;
    free(t->fail_msg);
    t->fail_msg = NULL;
    t->fail_time = 0;
    return CAIRN_OK;
}

cairn_err targets_set_failed(target *t, int64_t when, const char *msg)
{
    char *const m = strndup(msg, MSG_MAX);
    if (!m)
        return err_set(CAIRN_ENOMEM, "out of memory");
    for (char *p = m; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = ' ';
    free(t->fail_msg);
    t->fail_msg = m;
    t->fail_time = when;
    return CAIRN_OK;
}

void targets_set_checked(target *t, int64_t when, const char *result)
{
    t->check_time = when;
    snprintf(t->check_result, sizeof t->check_result, "%s", result);
}

/* ---- 3-2-1 ---- */

static cairn_err state_of(const target *t, const uint8_t (*snaps)[ID_LEN], size_t nsnaps,
                          target_state *st)
{
    idset held;
    int added;
    cairn_err rc = CAIRN_OK;
    idset_init(&held);
    st->t = t;
    st->missing = malloc(nsnaps ? nsnaps * ID_LEN : 1);
    if (!st->missing)
        return err_set(CAIRN_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < t->nheld; i++)
        rc = idset_add(&held, t->held[i], &added);
    for (size_t i = 0; !rc && i < nsnaps; i++)
        if (!idset_has(&held, snaps[i]))
            memcpy(st->missing[st->nmissing++], snaps[i], ID_LEN);
    idset_free(&held);
    /* never copied: it lacks the config and keys even when the store is empty */
    st->current = !rc && t->copy_time != 0 && st->nmissing == 0;
    st->counts = st->current && strcmp(t->check_result, "damaged") != 0;
    return rc;
}

cairn_err targets_rule321(const target_list *l, const uint8_t (*snaps)[ID_LEN], size_t nsnaps,
                          rule321 *out)
{
    memset(out, 0, sizeof *out);
    out->targets = calloc(l->count ? l->count : 1, sizeof *out->targets);
    if (!out->targets)
        return err_set(CAIRN_ENOMEM, "out of memory");
    out->count = l->count;
    out->copies = 1; /* the store itself, on this machine's disk */
    out->media[0] = 1;
    for (size_t i = 0; i < l->count; i++) {
        target_state *const st = &out->targets[i];
        const cairn_err rc = state_of(&l->items[i], snaps, nsnaps, st);
        if (rc) {
            targets_rule321_free(out);
            return rc;
        }
        if (!st->counts)
            continue;
        out->copies++;
        out->media[media_index(st->t->media)] = 1;
        out->offsite += st->t->offsite != 0;
    }
    for (int m = 0; m < 3; m++)
        out->media_kinds += out->media[m] != 0;
    out->met = out->copies >= 3 && out->media_kinds >= 2 && out->offsite >= 1;
    return CAIRN_OK;
}

void targets_rule321_free(rule321 *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->targets[i].missing);
    free(r->targets);
    memset(r, 0, sizeof *r);
}

void targets_rule321_needs(const rule321 *r, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    if (r->copies < 3)
        len += (size_t)snprintf(out + len, cap - len, "%u more current cop%s", 3 - r->copies,
                                3 - r->copies == 1 ? "y" : "ies");
    if (r->media_kinds < 2 && len < cap)
        len += (size_t)snprintf(out + len, cap - len, "%sa copy on a second kind of media",
                                len ? ", " : "");
    if (r->offsite < 1 && len < cap)
        snprintf(out + len, cap - len, "%san offsite copy", len ? ", " : "");
}
